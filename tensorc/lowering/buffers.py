"""Buffer bookkeeping for tc-bufferize: the state of lowering one function.

`FunctionLowering` maps each tensor SSA value of a tc function to the memref that
holds it, knows every tensor's dims as `index` values, and builds the pieces every
op lowering needs: allocations (always in the function's top-level block),
`scf.for` nests, element loads, run-time `cf.assert` checks and copies.

Splat tensors (a splat `tc.constant`, or a broadcast of one) are kept as a scalar
plus dims: elementwise consumers read the `arith.constant` inside their loop body,
and a buffer is only filled when some consumer needs memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xdsl.builder import Builder
from xdsl.dialects import arith, cf, memref, scf
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    FloatAttr,
    IndexType,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    TensorType,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint

from tensorc.errors import ShapeError
from tensorc.lowering.elementwise import cmpi, emit
from tensorc.lowering.legality import describe

LoopBody = Callable[[Builder, list[SSAValue], list[SSAValue]], Sequence[SSAValue]]
"""(builder in the innermost loop, induction variables, loop-carried values) ->
the next loop-carried values."""


@dataclass
class Splat:
    """A tensor whose elements all equal `value`, with these dims: a constant, or a
    scalar computed once in the function's top-level block (e.g. a dynamic dim)."""

    value: IntegerAttr | FloatAttr | SSAValue
    dims: list[SSAValue]

    def scalar(self, b: Builder) -> SSAValue:
        if isinstance(self.value, SSAValue):
            return self.value
        return emit(b, arith.ConstantOp(self.value))  # type: ignore[arg-type]


def memref_type(t: TensorType) -> MemRefType:
    """tensor<?x4xf64> -> memref<?x4xf64> (identity layout, no memory space)."""
    return MemRefType(t.get_element_type(), t.get_shape())


def _static_int(value: SSAValue) -> int | None:
    owner = value.owner
    if isinstance(owner, arith.ConstantOp) and isinstance(owner.value, IntegerAttr):
        return owner.value.value.data
    return None


def static_index(value: SSAValue) -> int | None:
    """The integer of an index `arith.constant`, None for any other value."""
    return _static_int(value) if isinstance(value.type, IndexType) else None


def non_negative(value: SSAValue) -> bool:
    """Whether an index value is known to be >= 0 (a constant or a memref dim)."""
    static = static_index(value)
    return static >= 0 if static is not None else isinstance(value.owner, memref.DimOp)


def message(op: Operation, what: str) -> str:
    """Run-time check text: `tc.add (created at model.py:12): <what>`."""
    return f"{describe(op)}: {what}"


@dataclass
class FunctionLowering:
    """Lowering state of one function; `builder` inserts before the current tc op."""

    block: Block
    module: ModuleOp
    builder: Builder = field(init=False)
    buffers: dict[SSAValue, SSAValue] = field(default_factory=dict)
    splats: dict[SSAValue, Splat] = field(default_factory=dict)
    _dims: dict[SSAValue, list[SSAValue]] = field(default_factory=dict)
    _indices: dict[int, SSAValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.builder = Builder(InsertPoint.at_start(self.block))

    # ---- scalars -------------------------------------------------------------

    def index(self, value: int) -> SSAValue:
        """An index constant, created once at the top of the function."""
        if value not in self._indices:
            at_top = Builder(InsertPoint.at_start(self.block))
            self._indices[value] = emit(
                at_top, arith.ConstantOp(IntegerAttr(value, IndexType()))
            )
        return self._indices[value]

    def arith(self, op: Operation) -> SSAValue:
        """Insert a scalar op at the top level (before the current tc op)."""
        return emit(self.builder, op)

    def scalar(self, tensor: SSAValue) -> SSAValue:
        """The element of a 0-d tensor, read at the top level."""
        return self.element(self.builder, tensor, [])

    def index_of(self, tensor: SSAValue) -> SSAValue:
        """A 0-d integer tensor (a dim or bound) as an `index` value."""
        value = self.scalar(tensor)
        owner = value.owner
        if isinstance(owner, arith.IndexCastOp) and isinstance(owner.input.type, IndexType):
            return owner.input  # a dim read back: use the index it came from
        if (static := _static_int(value)) is not None:
            return self.index(static)
        return self.arith(arith.IndexCastOp(value, IndexType()))

    # ---- tensors ---------------------------------------------------------------

    def dims(self, tensor: SSAValue) -> list[SSAValue]:
        """Every dim of a tensor (or memref) as an index value."""
        if tensor in self._dims:
            return self._dims[tensor]
        if tensor in self.splats:
            return self.splats[tensor].dims
        buffer = self.buffers.get(tensor, tensor)
        if buffer in self._dims:
            return self._dims[buffer]
        t = buffer.type
        assert isinstance(t, MemRefType)
        dims = [
            self.index(d) if d != DYNAMIC_INDEX else self._memref_dim(buffer, axis)
            for axis, d in enumerate(t.get_shape())
        ]
        self._dims[tensor] = dims
        return dims

    def _memref_dim(self, buffer: SSAValue, axis: int) -> SSAValue:
        return self.arith(memref.DimOp(buffer, self.index(axis)))

    def buffer(self, tensor: SSAValue) -> SSAValue:
        """The memref holding `tensor`; a splat gets an allocation filled here."""
        if tensor not in self.buffers:
            splat = self.splats[tensor]
            t = tensor.type
            assert isinstance(t, TensorType)
            out = self.alloc(t, splat.dims)
            self.loops(splat.dims, self._fill_body(out, splat))
            self.buffers[tensor] = out
        return self.buffers[tensor]

    def _fill_body(self, out: SSAValue, splat: Splat) -> LoopBody:
        def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
            b.insert(memref.StoreOp.get(splat.scalar(b), out, ivs))
            return []

        return body

    def element(self, b: Builder, tensor: SSAValue, indices: Sequence[SSAValue]) -> SSAValue:
        """tensor[indices] as a scalar inserted by `b` (a constant for splats)."""
        if tensor in self.splats:
            return self.splats[tensor].scalar(b)
        return emit(b, memref.LoadOp.get(self.buffer(tensor), list(indices)))

    def alloc(self, t: TensorType, dims: Sequence[SSAValue]) -> SSAValue:
        """A fresh top-level `memref.alloc` for a tensor of type t with these dims."""
        shape = t.get_shape()
        sizes = [d for d, s in zip(dims, shape, strict=True) if s == DYNAMIC_INDEX]
        out = self.arith(memref.AllocOp(sizes, [], memref_type(t)))
        self._dims[out] = list(dims)
        return out

    def copy(self, tensor: SSAValue) -> SSAValue:
        """A fresh allocation holding a copy of `tensor`."""
        t = tensor.type
        assert isinstance(t, TensorType)
        dims = self.dims(tensor)
        out = self.alloc(t, dims)

        def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
            b.insert(memref.StoreOp.get(self.element(b, tensor, ivs), out, ivs))
            return []

        self.loops(dims, body)
        return out

    # ---- loops -------------------------------------------------------------------

    def loops(
        self,
        uppers: Sequence[SSAValue],
        body: LoopBody,
        inits: Sequence[SSAValue] = (),
        builder: Builder | None = None,
    ) -> list[SSAValue]:
        """A nest of `scf.for %i = 0 to upper step 1`, outermost first, carrying
        `inits` through every level; returns the final carried values. With no
        uppers the body runs once, straight-line, at the builder."""
        b = self.builder if builder is None else builder
        if not uppers:
            return list(body(b, [], list(inits)))
        return self._nest(b, list(uppers), list(inits), body, [])

    def _nest(
        self,
        b: Builder,
        uppers: list[SSAValue],
        carried: list[SSAValue],
        body: LoopBody,
        ivs: list[SSAValue],
    ) -> list[SSAValue]:
        if not uppers:
            return list(body(b, ivs, carried))
        block = Block(arg_types=[IndexType(), *(v.type for v in carried)])
        inner = Builder(InsertPoint.at_end(block))
        iv, *inner_carried = block.args
        results = self._nest(inner, uppers[1:], list(inner_carried), body, [*ivs, iv])
        inner.insert(scf.YieldOp(*results))
        zero, one = self.index(0), self.index(1)
        loop = b.insert(scf.ForOp(zero, uppers[0], one, carried, Region(block)))
        return list(loop.results)

    # ---- run-time checks ---------------------------------------------------------

    def check(self, cond: SSAValue, op: Operation, what: str, b: Builder | None = None) -> None:
        """`cf.assert cond, "<op> (created at file:line): <what>"`."""
        (self.builder if b is None else b).insert(cf.AssertOp(cond, message(op, what)))

    def check_equal(self, x: SSAValue, y: SSAValue, op: Operation, what: str) -> None:
        """Assert x == y (index values) at run time; decided now when both are
        constants (a static mismatch is a ShapeError at compile time)."""
        if x is y:
            return
        sx, sy = static_index(x), static_index(y)
        if sx is not None and sy is not None:
            if sx != sy:
                raise ShapeError(f"{message(op, what)} ({sx} != {sy})")
            return
        self.check(cmpi(self.builder, "eq", x, y), op, what)

    def result_dims(self, op: Operation, computed: Sequence[SSAValue]) -> list[SSAValue]:
        """Dims of op's result: a static dim of the result type wins, after checking
        that the computed dim agrees with it."""
        t = op.results[0].type
        assert isinstance(t, TensorType)
        dims: list[SSAValue] = []
        for axis, (static, value) in enumerate(zip(t.get_shape(), computed, strict=True)):
            if static == DYNAMIC_INDEX:
                dims.append(value)
                continue
            self.check_equal(value, self.index(static), op, f"result dim {axis} differs from its type")
            dims.append(self.index(static))
        return dims
