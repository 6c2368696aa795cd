"""Facts about the buffers of bufferized IR, shared by tc-place-buffers and the C
emitter's loop planning: which buffer a memref value views, which ops use a
buffer's data, and which dims are known equal."""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.dialects import arith, cf, memref
from xdsl.dialects.builtin import DYNAMIC_INDEX, IndexType, IntegerAttr, MemRefType
from xdsl.ir import Block, Operation, SSAValue

DimKey = SSAValue | tuple[SSAValue, int] | int
"""A dim: an index value, (argument, axis) for an argument's dynamic dim, or a
static size."""


RESHAPING_VIEWS = (memref.CollapseShapeOp, memref.ExpandShapeOp)
"""Views of a buffer's storage with other dims (a reshape without a copy)."""
VIEWS = (memref.CastOp, *RESHAPING_VIEWS)


def memref_root(value: SSAValue) -> SSAValue:
    """The buffer `value` views with the same dims (through memref.cast)."""
    while isinstance(value.owner, memref.CastOp):
        value = value.owner.source
    return value


def storage_root(value: SSAValue) -> SSAValue:
    """The buffer whose storage `value` reads or writes (through casts and
    reshaping views): what aliasing and lifetimes are about."""
    while isinstance(value.owner, VIEWS):
        value = value.owner.operands[0]
    return value


def data_uses(buffer: SSAValue) -> list[Operation]:
    """Ops reading or writing the buffer's data, through views (not memref.dim)."""
    found: list[Operation] = []
    pending = [buffer]
    while pending:
        for use in pending.pop().uses:
            op = use.operation
            if isinstance(op, VIEWS):
                pending.append(op.results[0])
            elif not isinstance(op, memref.DimOp):
                found.append(op)
    return found


@dataclass
class DimEquality:
    """Which dims are equal: union-find over index values, arguments' dynamic dims
    and static sizes. `of` knows the facts true everywhere (constants,
    `memref.dim`s); `assume` adds what a `cf.assert` checked, for code that runs
    after it."""

    parent: dict[DimKey, DimKey] = field(default_factory=dict)

    @classmethod
    def of(cls, block: Block) -> DimEquality:
        dims = cls()
        for op in block.walk():
            if isinstance(op, arith.ConstantOp) and isinstance(
                op.result.type, IndexType
            ):
                assert isinstance(op.value, IntegerAttr)
                dims.union(op.result, op.value.value.data)
            elif isinstance(op, memref.DimOp):
                axis = index_constant(op.index)
                keys = dims.keys(memref_root(op.source))
                if axis is not None and 0 <= axis < len(keys):
                    dims.union(op.result, keys[axis])
        return dims

    def assume(self, op: Operation) -> None:
        """Add the equality `op` asserts, if it is `cf.assert (cmpi eq a, b)`."""
        if isinstance(op, cf.AssertOp):
            compare = op.arg.owner
            if isinstance(compare, arith.CmpiOp) and compare.predicate.value.data == 0:
                self.union(compare.lhs, compare.rhs)

    def copy(self) -> DimEquality:
        return DimEquality(dict(self.parent))

    def find(self, key: DimKey) -> DimKey:
        while key in self.parent:
            key = self.parent[key]
        return key

    def union(self, a: DimKey, b: DimKey) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb

    @staticmethod
    def keys(buffer: SSAValue) -> list[DimKey]:
        t = buffer.type
        assert isinstance(t, MemRefType)
        owner = buffer.owner
        sizes = iter(owner.dynamic_sizes if isinstance(owner, memref.AllocOp) else ())
        keys: list[DimKey] = []
        for axis, size in enumerate(t.get_shape()):
            if size != DYNAMIC_INDEX:
                keys.append(size)
            elif isinstance(owner, memref.AllocOp):
                keys.append(next(sizes))
            else:
                keys.append((buffer, axis))
        return keys

    def same(self, a: SSAValue, b: SSAValue) -> bool:
        ka, kb = self.keys(a), self.keys(b)
        return len(ka) == len(kb) and all(
            self.find(x) == self.find(y) for x, y in zip(ka, kb)
        )


def index_constant(value: SSAValue) -> int | None:
    """The integer of an `arith.constant`, None for any other value."""
    owner = value.owner
    if isinstance(owner, arith.ConstantOp) and isinstance(owner.value, IntegerAttr):
        return owner.value.value.data
    return None
