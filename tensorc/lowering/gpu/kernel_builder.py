"""Building blocks of the GPU outliner: host index arithmetic and `KernelBuilder`.

`KernelBuilder` assembles one `gpu.func` from pieces of a host function. Ops are
cloned into the kernel with `clone`; every value they use from the host function
is *captured*: constants are re-created in the kernel, device scalars (float
arithmetic, loads of device memory) are recomputed in the kernel from their own
captured operands, and every other host value (memrefs, index and integer
scalars) becomes a kernel argument, passed by the launch in the order of `args`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from xdsl.builder import Builder
from xdsl.dialects import arith, gpu, memref, scf
from xdsl.dialects.builtin import (
    FunctionType,
    IndexType,
    IntegerAttr,
    StringAttr,
    UnitAttr,
)
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint

from tensorc.dialects import tck
from tensorc.errors import LoweringError
from tensorc.lowering.gpu.loops import constant_int, external_operands

_DIMS = {
    "x": gpu.DimensionAttr(gpu.DimensionEnum.X),
    "y": gpu.DimensionAttr(gpu.DimensionEnum.Y),
    "z": gpu.DimensionAttr(gpu.DimensionEnum.Z),
}


def index_constant(value: int) -> arith.ConstantOp:
    return arith.ConstantOp(IntegerAttr(value, IndexType()))


class IndexMath:
    """Folding index arithmetic inserted by `builder`, constants made by `constant`."""

    def __init__(self, builder: Builder, constant: Callable[[int], SSAValue]):
        self.builder = builder
        self.index = constant

    def emit(self, op: Operation) -> SSAValue:
        self.builder.insert(op)
        return op.results[0]

    def add(self, x: SSAValue, y: SSAValue) -> SSAValue:
        cx, cy = constant_int(x), constant_int(y)
        if cx is not None and cy is not None:
            return self.index(cx + cy)
        if cx == 0 or cy == 0:
            return y if cx == 0 else x
        return self.emit(arith.AddiOp(x, y))

    def mul(self, x: SSAValue, y: SSAValue) -> SSAValue:
        cx, cy = constant_int(x), constant_int(y)
        if cx is not None and cy is not None:
            return self.index(cx * cy)
        if cx == 1 or cy == 1:
            return y if cx == 1 else x
        return self.emit(arith.MuliOp(x, y))

    def product(self, values: Sequence[SSAValue]) -> SSAValue:
        total = self.index(1)
        for value in values:
            total = self.mul(total, value)
        return total

    def ceildiv(self, x: SSAValue, divisor: int) -> SSAValue:
        cx = constant_int(x)
        if cx is not None:
            return self.index(-(-cx // divisor))
        if divisor == 1:
            return x
        return self.emit(arith.CeilDivUIOp(x, self.index(divisor)))

    def clamp(self, x: SSAValue, low: int, high: int) -> SSAValue:
        cx = constant_int(x)
        if cx is not None:
            return self.index(min(max(cx, low), high))
        return self.emit(
            arith.MinUIOp(
                self.emit(arith.MaxUIOp(x, self.index(low))), self.index(high)
            )
        )

    def delinearize(self, linear: SSAValue, dims: Sequence[SSAValue]) -> list[SSAValue]:
        """Row-major coordinates of `linear` (< the product of dims)."""
        coords: list[SSAValue] = []
        rest = linear
        for axis in range(len(dims) - 1, 0, -1):
            size = dims[axis]
            if constant_int(size) == 1:
                coords.append(self.index(0))
                continue
            coords.append(self.emit(arith.RemUIOp(rest, size)))
            rest = self.emit(arith.DivUIOp(rest, size))
        if dims:
            coords.append(rest)
        return coords[::-1]


class HostIndex(IndexMath):
    """Index arithmetic in a host function's top-level block; constants are made
    once, at the top of the block."""

    def __init__(self, block: Block):
        self.block = block
        self._constants: dict[int, SSAValue] = {}
        for op in block.ops:
            if isinstance(op, arith.ConstantOp) and isinstance(
                op.result.type, IndexType
            ):
                value = constant_int(op.result)
                if value is not None:
                    self._constants.setdefault(value, op.result)
        super().__init__(Builder(InsertPoint.at_start(block)), self._constant)

    def _constant(self, value: int) -> SSAValue:
        if value not in self._constants:
            op = index_constant(value)
            Builder(InsertPoint.at_start(self.block)).insert(op)
            self._constants[value] = op.result
        return self._constants[value]

    def before(self, op: Operation) -> HostIndex:
        """Insert following ops right before `op`."""
        self.builder = Builder(InsertPoint.before(op))
        return self


class KernelBuilder(IndexMath):
    """One `gpu.func` under construction; `builder` inserts into its body."""

    def __init__(
        self,
        name: str,
        kind: str,
        block_size: tuple[int, int, int],
        host_block: Block,
        is_device: Callable[[SSAValue], bool],
    ):
        self.name = name
        self.host_block = host_block
        self.kind = kind
        self.block_size = block_size
        self.is_device = is_device
        self.args: list[SSAValue] = []
        self.captured: dict[SSAValue, SSAValue] = {}
        self.entry = Block()
        self._anchor = index_constant(0)  # prologue ops go before it
        self._ret = gpu.ReturnOp([])
        self.entry.add_ops([self._anchor, self._ret])
        self._constants: dict[int, SSAValue] = {0: self._anchor.result}
        self._ids: dict[tuple[str, str], SSAValue] = {}
        super().__init__(Builder(InsertPoint.before(self._ret)), self._constant)

    # ---- values from the host function ----------------------------------------

    def _prologue(self, op: Operation) -> Operation:
        self.entry.insert_op_before(op, self._anchor)
        return op

    def _constant(self, value: int) -> SSAValue:
        if value not in self._constants:
            self._constants[value] = self._prologue(index_constant(value)).results[0]
        return self._constants[value]

    def capture(self, value: SSAValue) -> SSAValue:
        """The kernel's stand-in for host value `value` (see the module docstring)."""
        if value in self.captured:
            return self.captured[value]
        owner = value.owner
        if isinstance(owner, memref.CastOp):
            found = self.capture(owner.source)  # a view: the same buffer
        elif isinstance(owner, arith.ConstantOp) or (
            isinstance(owner, Operation) and self.is_device(value)
        ):
            if owner.regions:
                raise LoweringError(
                    f"kernel @{self.name} uses a result of {owner.name} before the "
                    "loop itself was moved to the GPU"
                )
            mapper = {v: self.capture(v) for v in external_operands(owner)}
            clone = self._prologue(owner.clone(value_mapper=mapper))
            found = clone.results[list(owner.results).index(value)]
        else:
            self._check_host_value(value)
            found = self.entry.insert_arg(value.type, len(self.entry.args))
            found.name_hint = value.name_hint
            self.args.append(value)
        self.captured[value] = found
        return found

    def _check_host_value(self, value: SSAValue) -> None:
        owner = value.owner
        block = owner if isinstance(owner, Block) else owner.parent_block()
        if block is not self.host_block:
            raise LoweringError(
                f"kernel @{self.name} would capture {value.name_hint or value}, "
                "which is not defined in the host function's top-level block"
            )

    def clone(
        self, op: Operation, mapper: dict[SSAValue, SSAValue], builder: Builder | None
    ) -> Operation:
        """Insert a copy of `op`; operands not in `mapper` are captured."""
        for value in external_operands(op):
            if value not in mapper:
                mapper[value] = self.capture(value)
        new = op.clone(value_mapper=mapper)
        (builder or self.builder).insert(new)
        return new

    def clone_inline(
        self, op: Operation, mapper: dict[SSAValue, SSAValue] | None = None
    ) -> Operation:
        """Insert a copy of top-level `op` here, recomputing the device scalars it
        uses here too (not at kernel start: they may read what the kernel wrote)."""
        local = dict(mapper or {})
        for value in external_operands(op):
            self._inline(value, local)
        return self.clone(op, local, None)

    def _inline(self, value: SSAValue, mapper: dict[SSAValue, SSAValue]) -> None:
        owner = value.owner
        if value in mapper:
            return
        if not isinstance(owner, Operation) or not self.is_device(value):
            mapper[value] = self.capture(value)
            return
        if isinstance(owner, arith.ConstantOp | memref.CastOp):
            mapper[value] = self.capture(value)
            return
        if owner.regions:
            raise LoweringError(
                f"kernel @{self.name} uses a result of {owner.name} before the loop "
                "itself was moved to the GPU"
            )
        for operand in owner.operands:
            self._inline(operand, mapper)
        self.builder.insert(owner.clone(value_mapper=mapper))

    def clone_ops(
        self,
        ops: Sequence[Operation],
        mapper: dict[SSAValue, SSAValue],
        builder: Builder | None = None,
    ) -> None:
        for op in ops:
            self.clone(op, mapper, builder)

    # ---- thread geometry ---------------------------------------------------------

    def _id(self, cls: type[gpu.ThreadIdOp], dim: str) -> SSAValue:
        key = (cls.name, dim)
        if key not in self._ids:
            self._ids[key] = self._prologue(cls(_DIMS[dim])).results[0]
        return self._ids[key]

    def thread_id(self, dim: str = "x") -> SSAValue:
        return self._id(gpu.ThreadIdOp, dim)

    def block_id(self, dim: str = "x") -> SSAValue:
        return self._id(gpu.BlockIdOp, dim)  # type: ignore[arg-type]

    def grid_dim(self, dim: str = "x") -> SSAValue:
        return self._id(gpu.GridDimOp, dim)  # type: ignore[arg-type]

    def barrier(self) -> None:
        self.builder.insert(gpu.BarrierOp())

    def block_scoped(self, t: memref.MemRefType, name: str) -> SSAValue:
        """A scratch buffer each thread block owns (placement: tc-promote-shared)."""
        alloc = memref.AllocOp([], [], tck.in_space(t, tck.GLOBAL))
        alloc.memref.name_hint = name
        return self._prologue(alloc).results[0]

    # ---- loops ---------------------------------------------------------------------

    def for_loop(
        self,
        lower: SSAValue,
        upper: SSAValue,
        step: SSAValue,
        inits: Sequence[SSAValue] = (),
        block_uniform: bool = False,
    ) -> tuple[scf.ForOp, Builder]:
        """An empty `scf.for` inserted here and a builder for its body (the caller
        inserts the `scf.yield`)."""
        body = Block(arg_types=[IndexType(), *(v.type for v in inits)])
        loop = scf.ForOp(lower, upper, step, list(inits), Region(body))
        if block_uniform:
            loop.attributes[tck.BLOCK_LOOP] = UnitAttr()
        self.builder.insert(loop)
        return loop, Builder(InsertPoint.at_end(body))

    def if_then(self, condition: SSAValue) -> Builder:
        """An `scf.if` without results inserted here; a builder for its then-block."""
        block = Block([scf.YieldOp()])
        self.builder.insert(scf.IfOp(condition, [], Region(block), Region()))
        return Builder(InsertPoint.before(block.last_op))  # type: ignore[arg-type]

    @contextmanager
    def at(self, builder: Builder) -> Iterator[None]:
        """Insert at `builder` (e.g. inside a loop body) for the duration."""
        saved, self.builder = self.builder, builder
        try:
            yield
        finally:
            self.builder = saved

    def finish(self) -> gpu.FuncOp:
        types = [arg.type for arg in self.entry.args]
        kernel = gpu.FuncOp(
            self.name,
            FunctionType.from_lists(types, []),
            Region(self.entry),
            kernel=True,
            known_block_size=list(self.block_size),
        )
        kernel.attributes[tck.KIND] = StringAttr(self.kind)
        return kernel
