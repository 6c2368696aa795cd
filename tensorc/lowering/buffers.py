"""Buffer bookkeeping for tc-bufferize: the state of lowering one function.

`FunctionLowering` maps each tensor SSA value of a tc function to the memref that
holds it, knows every tensor's dims as `index` values, and builds the pieces every
op lowering needs: allocations (always in the function's top-level block),
`scf.for` nests, element loads, copies, index arithmetic and run-time `cf.assert`
checks whose messages name the op and the user's line.

Splat tensors (a splat `tc.constant`, a broadcast of one, a dim read by `tc.dim`,
scalar arithmetic on those) are kept as a scalar plus dims: loops read the scalar
directly, and a buffer is only filled when some consumer needs memory.
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
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint

from tensorc.errors import ShapeError
from tensorc.lowering.elementwise import cmpi, emit
from tensorc.lowering.legality import describe

LoopBody = Callable[[Builder, list[SSAValue], list[SSAValue]], Sequence[SSAValue]]
"""(builder in the innermost loop, induction variables, loop-carried values) ->
the next loop-carried values."""

IndexMap = Callable[[Builder, list[SSAValue]], list[SSAValue]]
"""(builder in the innermost loop, result indices) -> source indices."""

ElementFunction = Callable[[Builder, list[SSAValue]], SSAValue]
"""(builder where the element is read, its indices) -> the element, computed."""


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


def tensor_type_of(value: SSAValue) -> TensorType:
    t = value.type
    assert isinstance(t, TensorType)
    return t


def result_of(op: Operation) -> SSAValue:
    """The single result of a tc op."""
    return op.results[0]


def store(
    b: Builder, value: SSAValue, out: SSAValue, indices: Sequence[SSAValue]
) -> None:
    b.insert(memref.StoreOp.get(value, out, list(indices)))


def operand_names(op: Operation) -> list[str]:
    """Operand names of the op definition ('lhs', 'rhs', ...), for messages."""
    return [name for name, _ in type(op).get_irdl_definition().operands]


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


def linearize(
    b: Builder, ivs: Sequence[SSAValue], strides: Sequence[SSAValue]
) -> SSAValue:
    """sum(iv * stride), inserted by `b` (inside a loop)."""
    linear: SSAValue | None = None
    for iv, stride in zip(ivs, strides, strict=True):
        term = iv if static_index(stride) == 1 else emit(b, arith.MuliOp(iv, stride))
        linear = term if linear is None else emit(b, arith.AddiOp(linear, term))
    assert linear is not None
    return linear


def delinearize(
    b: Builder, linear: SSAValue, strides: Sequence[SSAValue], dims: Sequence[SSAValue]
) -> list[SSAValue]:
    """Row-major coordinates of a linear index (< the product of dims)."""
    coords = []
    for axis, (stride, dim) in enumerate(zip(strides, dims, strict=True)):
        c = linear
        if static_index(stride) != 1:
            c = emit(b, arith.DivSIOp(linear, stride))
        if axis > 0:  # the linear index is in range, so dim 0 needs no remainder
            c = emit(b, arith.RemSIOp(c, dim))
        coords.append(c)
    return coords


@dataclass
class FunctionLowering:
    """Lowering state of one function; `builder` inserts before the current tc op."""

    block: Block
    module: ModuleOp
    views: bool = False
    """Whether a reshape of a buffer may view its storage (memref.collapse_shape
    and expand_shape) instead of copying it."""
    builder: Builder = field(init=False)
    buffers: dict[SSAValue, SSAValue] = field(default_factory=dict)
    splats: dict[SSAValue, Splat] = field(default_factory=dict)
    computed: dict[SSAValue, ElementFunction] = field(default_factory=dict)
    """Tensors never stored: each read computes its element (a tc.composite fused
    into the reduction that consumes it)."""
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
        if isinstance(owner, arith.IndexCastOp) and isinstance(
            owner.input.type, IndexType
        ):
            return owner.input  # a dim read back: use the index it came from
        if (static := _static_int(value)) is not None:
            return self.index(static)
        return self.arith(arith.IndexCastOp(value, IndexType()))

    # ---- index arithmetic at the top level, folded for constants ------------

    def _fold(
        self,
        cls: type[Operation],
        fold: Callable[[int, int], int],
        x: SSAValue,
        y: SSAValue,
    ) -> SSAValue:
        sx, sy = static_index(x), static_index(y)
        if sx is not None and sy is not None:
            return self.index(fold(sx, sy))
        return self.arith(cls(x, y))

    def add(self, x: SSAValue, y: SSAValue) -> SSAValue:
        if static_index(x) == 0 or static_index(y) == 0:
            return y if static_index(x) == 0 else x
        return self._fold(arith.AddiOp, lambda a, c: a + c, x, y)

    def mul(self, x: SSAValue, y: SSAValue) -> SSAValue:
        if static_index(x) == 1 or static_index(y) == 1:
            return y if static_index(x) == 1 else x
        return self._fold(arith.MuliOp, lambda a, c: a * c, x, y)

    def product(self, values: Sequence[SSAValue]) -> SSAValue:
        total = self.index(1)
        for value in values:
            total = self.mul(total, value)
        return total

    def strides(self, dims: Sequence[SSAValue]) -> list[SSAValue]:
        """Row-major strides (in elements) of a tensor with these dims."""
        strides = [self.index(1)]
        for d in reversed(dims[1:]):
            strides.insert(0, self.mul(strides[0], d))
        return strides

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

    def view(self, tensor: SSAValue, buffer: SSAValue, dims: list[SSAValue]) -> SSAValue:
        """`tensor` is `buffer` read another way (a gemm operand read with its trans
        flag): it has its own `dims`, and no copy is made."""
        self._dims[tensor] = list(dims)
        return buffer

    def buffer(self, tensor: SSAValue) -> SSAValue:
        """The memref holding `tensor`; a splat or computed tensor gets an
        allocation filled here."""
        if tensor not in self.buffers:
            dims = self.dims(tensor)
            out = self.alloc(tensor_type_of(tensor), dims)

            def fill(
                b: Builder, ivs: list[SSAValue], _: list[SSAValue]
            ) -> list[SSAValue]:
                store(b, self.element(b, tensor, ivs), out, ivs)
                return []

            self.loops(dims, fill)
            self.buffers[tensor] = out
        return self.buffers[tensor]

    def compute_lazily(
        self, tensor: SSAValue, dims: list[SSAValue], element: ElementFunction
    ) -> None:
        """Let reads of `tensor` compute its elements with `element` instead of
        loading them (it is never stored unless some consumer needs memory)."""
        self.computed[tensor] = element
        self._dims[tensor] = dims

    def element(
        self, b: Builder, tensor: SSAValue, indices: Sequence[SSAValue]
    ) -> SSAValue:
        """tensor[indices] as a scalar inserted by `b` (no load for splats and
        computed tensors)."""
        if tensor in self.splats:
            return self.splats[tensor].scalar(b)
        if tensor in self.computed and tensor not in self.buffers:
            return self.computed[tensor](b, list(indices))
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
        dims = self.dims(tensor)
        out = self.alloc(tensor_type_of(tensor), dims)

        def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
            store(b, self.element(b, tensor, ivs), out, ivs)
            return []

        self.loops(dims, body)
        return out

    def copy_mapped(
        self,
        op: Operation,
        source: SSAValue,
        dims: list[SSAValue],
        index_map: IndexMap,
        keep_splat: bool = True,
    ) -> SSAValue | Splat:
        """op's result with `dims`: out[ivs] = source[index_map(ivs)]; a splat source
        gives a splat (when `keep_splat`: the index map has no checks to run)."""
        if keep_splat and source in self.splats:
            return Splat(self.splats[source].value, dims)
        out = self.alloc(tensor_type_of(result_of(op)), dims)

        def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
            store(b, self.element(b, source, index_map(b, ivs)), out, ivs)
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

    # ---- shapes and run-time checks ------------------------------------------

    def check(
        self, cond: SSAValue, op: Operation, what: str, b: Builder | None = None
    ) -> None:
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

    def result_dims(
        self, op: Operation, computed: Sequence[SSAValue]
    ) -> list[SSAValue]:
        """Dims of op's result: a static dim of the result type wins, after checking
        that the computed dim agrees with it."""
        shape = tensor_type_of(result_of(op)).get_shape()
        dims: list[SSAValue] = []
        for axis, (static, value) in enumerate(zip(shape, computed, strict=True)):
            if static == DYNAMIC_INDEX:
                dims.append(value)
                continue
            what = f"result dim {axis} differs from its type"
            self.check_equal(value, self.index(static), op, what)
            dims.append(self.index(static))
        return dims

    def target_dims(
        self, op: Operation, operands: Sequence[SSAValue], first: int = 0
    ) -> list[SSAValue]:
        """Dims of op's result type from axis `first` on: static ones as constants,
        dynamic ones read from the 0-d `dims` operands in order (checked to be
        non-negative)."""
        given = iter(operands)
        dims = []
        shape = tensor_type_of(result_of(op)).get_shape()
        for axis, d in enumerate(shape[first:], start=first):
            if d != DYNAMIC_INDEX:
                dims.append(self.index(d))
                continue
            value = self.index_of(next(given))
            if not non_negative(value):
                is_size = cmpi(self.builder, "sge", value, self.index(0))
                self.check(
                    is_size, op, f"requested size of result dim {axis} is negative"
                )
            dims.append(value)
        return dims

    def same_dims(
        self, op: Operation, values: Sequence[SSAValue], names: Sequence[str]
    ) -> list[SSAValue]:
        """Dims of values of one tensor type, asserting their dynamic dims agree."""
        first = self.dims(values[0])
        for value, name in zip(values[1:], names[1:]):
            if value is values[0]:
                continue
            for axis, (d0, d) in enumerate(zip(first, self.dims(value), strict=True)):
                what = f"{names[0]} dim {axis} differs from {name} dim {axis}"
                self.check_equal(d0, d, op, what)
        return first
