"""tc-place-buffers: where each buffer of bufferized IR lives.

Preconditions: the bufferized-IR contract of tc-bufferize (/work/notes/abi.md).
An entry argument may carry `tc.aliasing_output = j`: the caller gives up that
argument's old value after a successful call and replaces it by result j (a
shared variable and its update); its storage may then hold result j.

Postconditions (still the bufferized-IR contract, with two additions):
- `memref.dealloc` is gone (the placement below decides lifetimes), and
  `memref.dim` of an allocation reads the allocation's size operand instead;
- in place: an allocation that only begins to be written in the top-level op that
  reads a dying buffer for the last time, element by element at the same index
  (an elementwise loop nest reading `t[i, j]` before writing `r[i, j]`), is
  replaced by that buffer when both have the same element type and provably equal
  dims (same size values, `memref.dim`s of them, or values a `cf.assert` compared
  equal). The dying buffer is an intermediate, or an argument with
  `tc.aliasing_output` equal to the returned result's index: the function then
  returns that argument. Writing into an argument is atomic for the caller: no op
  that can fail (a `cf.assert` anywhere, an allocation) runs from the first write
  on; returned allocations are hoisted as early as their sizes allow to make room,
  and otherwise the update is not done in place. A value read after its update is
  therefore never updated in place (the read keeps the old value);
- reuse: every other allocation that is not returned carries `tc.slot = k`, a
  workspace slot the runtime keeps between calls (the C emitter's per-thread
  slots); allocations whose live ranges (allocation to last use, in top-level
  ops) overlap get different slots, and each function of the module has slots
  of its own (a called function, such as a scan's step, never takes its
  caller's). Allocations are sunk to just before their first use to keep live
  ranges short; unused ones are erased. The results of calls keep their
  `memref.dealloc`s (the callee allocated them).

Both targets consume the result: an argument returned in place is the caller's
buffer, and a slot is storage that need not be freed per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import cf, func, memref, scf
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    MemRefType,
    ModuleOp,
)
from xdsl.ir import Block, BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass

from tensorc.lowering.buffer_facts import (
    DimEquality,
    VIEWS,
    data_uses,
    index_constant,
    memref_root,
    storage_root,
)

SLOT_ATTR = "tc.slot"
"""`memref.alloc` attribute: the workspace slot the buffer lives in."""
ALIAS_ATTR = "tc.aliasing_output"
"""Entry argument attribute: the result index the argument may be updated into."""


def aliasing_output(function: func.FuncOp, index: int) -> int | None:
    """The result argument `index` of `function` may be updated into, if any."""
    if function.arg_attrs is None:
        return None
    attr = function.arg_attrs.data[index].data.get(ALIAS_ATTR)
    return attr.value.data if isinstance(attr, IntegerAttr) else None


def mark_donated(
    module: ModuleOp, donated: Mapping[int, int], entry: str = "main"
) -> None:
    """Put `tc.aliasing_output = result` on the arguments of `@entry` that the
    caller replaces by a result after each call (`donated`: result -> argument,
    the updates of shared variables), so tc-place-buffers may update them in
    place."""
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == entry and donated:
            args = op.body.block.args
            attrs = [
                dict(old.data)
                for old in (
                    op.arg_attrs.data
                    if op.arg_attrs
                    else [DictionaryAttr({})] * len(args)
                )
            ]
            for result, argument in donated.items():
                attrs[argument][ALIAS_ATTR] = IntegerAttr(result, 64)
            op.arg_attrs = ArrayAttr([DictionaryAttr(a) for a in attrs])


# region facts about one function


@dataclass
class _DimsBefore:
    """DimEquality where a top-level op runs: the facts true everywhere plus the
    equalities asserted by the top-level asserts before it (an assert after an op
    proves nothing about the op's own run)."""

    block: Block
    base: DimEquality = field(init=False)
    cached: dict[Operation, DimEquality] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.base = DimEquality.of(self.block)

    def at(self, op: Operation) -> DimEquality:
        if op not in self.cached:
            dims = self.base.copy()
            for earlier in self.block.ops:
                if earlier is op:
                    break
                dims.assume(earlier)
            self.cached[op] = dims
        return self.cached[op]


@dataclass
class _Block:
    """Top-level positions of one function body (recomputed after changes)."""

    block: Block
    ops: list[Operation] = field(init=False)
    position: dict[Operation, int] = field(init=False)

    def __post_init__(self) -> None:
        self.ops = list(self.block.ops)
        self.position = {op: k for k, op in enumerate(self.ops)}

    def top(self, op: Operation) -> int:
        """Position of the top-level op holding `op`."""
        while op.parent_block() is not self.block:
            parent = op.parent_op()
            assert parent is not None
            op = parent
        return self.position[op]

    def span(self, buffer: SSAValue) -> tuple[int, int] | None:
        """(first, last) top-level positions using the buffer's data."""
        positions = [self.top(op) for op in data_uses(buffer)]
        return (min(positions), max(positions)) if positions else None


def _returned(block: Block) -> list[SSAValue]:
    last = block.last_op
    assert isinstance(last, func.ReturnOp)
    return [storage_root(v) for v in last.operands]


def _allocs(block: Block) -> list[SSAValue]:
    return [op.memref for op in block.ops if isinstance(op, memref.AllocOp)]


def _can_fail(op: Operation) -> bool:
    """Whether running `op` may end the call with an error (a call of a function
    with a body, such as a scan's step, may)."""
    return any(
        isinstance(o, cf.AssertOp | memref.AllocOp)
        or (isinstance(o, func.CallOp) and not o.callee.string_value().startswith(
            "tensorc_gemm_"))
        for o in op.walk()
    )


# endregion
# region normalization: deallocs, dims, allocation points


def _normalize(block: Block) -> None:
    """Erase deallocs, read alloc sizes directly, hoist returned allocations and
    sink the others to just before their first use (unused ones are erased)."""
    for op in list(block.walk()):
        if isinstance(op, memref.DeallocOp) and isinstance(
            storage_root(op.memref).owner, memref.AllocOp
        ):  # a call's result keeps its dealloc: the callee allocated it
            op.detach()
            op.erase()
        elif isinstance(op, memref.DimOp):
            size = _alloc_size(op)
            if size is not None:
                op.result.replace_all_uses_with(size)
                op.detach()
                op.erase()
    returned = set(_returned(block))
    for buffer in _allocs(block):
        alloc = buffer.owner
        assert isinstance(alloc, memref.AllocOp)
        if buffer in returned:
            _hoist(block, alloc)
        else:
            _sink(block, alloc)


def _alloc_size(op: memref.DimOp) -> SSAValue | None:
    """The size operand a `memref.dim` of an allocation's dynamic dim reads."""
    alloc = memref_root(op.source).owner
    axis = index_constant(op.index)
    if not isinstance(alloc, memref.AllocOp) or axis is None:
        return None
    shape = alloc.memref.type.get_shape()
    if not 0 <= axis < len(shape) or shape[axis] != DYNAMIC_INDEX:
        return None
    return alloc.dynamic_sizes[shape[:axis].count(DYNAMIC_INDEX)]


def _hoist(block: Block, alloc: memref.AllocOp) -> None:
    """Move `alloc` up to right after the last definition of its sizes, but not
    above a check (a size the check rejects must fail there, not as an
    allocation)."""
    anchor: Operation | None = None
    for op in block.ops:
        if op is alloc:
            break
        if isinstance(op, cf.AssertOp) or op in _definitions(alloc):
            anchor = op
    alloc.detach()
    if anchor is None:
        first = block.first_op
        assert first is not None
        block.insert_op_before(alloc, first)
    else:
        block.insert_op_after(alloc, anchor)


def _definitions(alloc: memref.AllocOp) -> set[Operation]:
    return {v.owner for v in alloc.dynamic_sizes if isinstance(v.owner, Operation)}


def _sink(block: Block, alloc: memref.AllocOp) -> None:
    """Move `alloc` right before the first top-level op using it; erase it if
    nothing uses it."""
    users = [use.operation for use in alloc.memref.uses]
    if not users:
        alloc.detach()
        alloc.erase()
        return
    positions = _Block(block)
    target = positions.ops[min(positions.top(op) for op in users)]
    alloc.detach()
    block.insert_op_before(alloc, target)


# endregion
# region in place


def _enclosing_ivs(op: Operation, top: Operation) -> set[SSAValue]:
    """Induction variables of the loops around `op`, up to and including `top`."""
    ivs: set[SSAValue] = set()
    parent = op.parent_op()
    while parent is not None:
        if isinstance(parent, scf.ForOp):
            ivs.add(parent.body.block.args[0])
        if parent is top:
            break
        parent = parent.parent_op()
    return ivs


def _elementwise(top: Operation, dying: SSAValue, fresh: SSAValue) -> bool:
    """In `top`, every access to `dying` or `fresh` is a load or store at one
    index tuple naming every loop around it, `dying` is only read, and no read of
    `dying` follows a write of `fresh`: each element is read, then written, by one
    iteration."""
    tuples: set[tuple[SSAValue, ...]] = set()
    written = False
    for op in top.walk():
        roots = {storage_root(v) for v in op.operands}
        if not roots & {dying, fresh}:
            continue
        if not isinstance(op, memref.LoadOp | memref.StoreOp):
            return False
        target = storage_root(op.memref)
        if isinstance(op, memref.StoreOp):
            if target is dying:
                return False
            written = True
        elif target is dying and written:
            return False
        if not _enclosing_ivs(op, top) <= set(op.indices):
            return False
        tuples.add(tuple(op.indices))
    return len(tuples) <= 1


def _mergeable(
    positions: _Block, dims: _DimsBefore, fresh: SSAValue, dying: SSAValue
) -> bool:
    """Whether allocation `fresh` may take over `dying`'s storage: `dying` is last
    used where `fresh` is first used, elementwise (module docstring)."""
    fresh_type, dying_type = fresh.type, dying.type
    assert isinstance(fresh_type, MemRefType) and isinstance(dying_type, MemRefType)
    if fresh_type.element_type != dying_type.element_type:
        return False
    fresh_span, dying_span = positions.span(fresh), positions.span(dying)
    if fresh_span is None or dying_span is None or dying_span[1] != fresh_span[0]:
        return False
    if not dims.at(positions.ops[fresh_span[0]]).same(fresh, dying):
        return False
    if isinstance(dying.owner, Operation):
        defined = positions.position[dying.owner]
        if any(positions.top(use.operation) <= defined for use in fresh.uses):
            return False
    return _elementwise(positions.ops[fresh_span[0]], dying, fresh)


def _merge(block: Block, fresh: SSAValue, dying: SSAValue) -> None:
    """Replace allocation `fresh` by `dying` everywhere."""
    alloc = fresh.owner
    assert isinstance(alloc, memref.AllocOp)
    replacement = dying
    if dying.type != fresh.type:
        positions = _Block(block)
        first = min(positions.top(use.operation) for use in fresh.uses)
        cast = memref.CastOp.get(dying, fresh.type)
        block.insert_op_before(cast, positions.ops[first])
        replacement = cast.dest
    fresh.replace_all_uses_with(replacement)
    alloc.detach()
    alloc.erase()


def _merge_intermediates(block: Block, dims: _DimsBefore, keep: set[SSAValue]) -> None:
    """Let each allocation take over an intermediate dying where it is first
    written; allocations in `keep` are left for the updates of arguments."""
    returned = set(_returned(block))
    positions = _Block(block)
    spans = {buffer: positions.span(buffer) for buffer in _allocs(block)}
    for fresh in list(spans):
        span = spans[fresh]
        if fresh in keep or span is None:
            continue
        dying_here = [
            dying
            for dying, other in spans.items()
            if other is not None
            and other[1] == span[0]
            and dying is not fresh
            and dying not in returned
        ]
        for dying in dying_here:
            if _mergeable(positions, dims, fresh, dying):
                _merge(block, fresh, dying)
                positions = _Block(block)  # positions after the erased alloc moved
                del spans[fresh]
                spans = {buffer: positions.span(buffer) for buffer in spans}
                break


def _donated(function: func.FuncOp) -> dict[int, BlockArgument]:
    """Result index -> the argument that may be updated into it."""
    return {
        result: arg
        for arg in function.body.block.args
        if (result := aliasing_output(function, arg.index)) is not None
    }


def _update_arguments(function: func.FuncOp, dims: _DimsBefore) -> None:
    """Write updates into their arguments where legal (module docstring)."""
    block = function.body.block
    for result, arg in sorted(_donated(function).items()):
        returned = _returned(block)
        if result >= len(returned) or not isinstance(
            returned[result].owner, memref.AllocOp
        ):
            continue
        fresh = returned[result]
        if returned.count(fresh) != 1:
            continue
        _sink_writer(block, fresh)
        positions = _Block(block)
        span = positions.span(fresh)
        if span is None or not _mergeable(positions, dims, fresh, arg):
            continue
        if not any(_can_fail(op) for op in positions.ops[span[0] :]):
            _merge(block, fresh, arg)


# endregion
# region moving an update after the ops that do not depend on it


def _effects(op: Operation) -> tuple[set[SSAValue], set[SSAValue]]:
    """(buffers read, buffers written) by `op`, conservatively."""
    reads: set[SSAValue] = set()
    writes: set[SSAValue] = set()
    for nested in op.walk():
        if isinstance(nested, memref.LoadOp):
            reads.add(storage_root(nested.memref))
        elif isinstance(nested, memref.StoreOp):
            writes.add(storage_root(nested.memref))
        elif isinstance(nested, memref.CopyOp):
            reads.add(storage_root(nested.source))
            writes.add(storage_root(nested.destination))
        else:
            buffers = {
                storage_root(v)
                for v in nested.operands
                if isinstance(v.type, MemRefType)
                and not isinstance(nested, (memref.DimOp, *VIEWS))
            }
            reads |= buffers
            if not isinstance(nested, func.ReturnOp):
                writes |= buffers
    return reads, writes


def _sink_writer(block: Block, fresh: SSAValue) -> None:
    """Move the one top-level op computing `fresh` down past the ops that neither
    use its results nor touch what it reads or writes, so that ops that may fail
    run before an update is written in place."""
    positions = _Block(block)
    users = sorted({positions.top(op) for op in data_uses(fresh)})
    if len(users) != 2 or not isinstance(positions.ops[users[1]], func.ReturnOp):
        return
    writer = positions.ops[users[0]]
    if any(result.uses for result in writer.results):
        return
    reads, writes = _effects(writer)
    stop = positions.ops[users[1]]
    for later in positions.ops[users[0] + 1 : users[1]]:
        later_reads, later_writes = _effects(later)
        if reads & later_writes or writes & (later_reads | later_writes):
            stop = later
            break
    if stop is not writer.next_op:
        writer.detach()
        block.insert_op_before(writer, stop)


# endregion
# region slots


def _assign_slots(block: Block, dims: DimEquality, first: int = 0) -> int:
    """A `tc.slot` (from `first` on) for every allocation that is not returned
    (module docstring); returns the next free slot."""
    positions = _Block(block)
    returned = set(_returned(block))
    ends: list[int] = []  # slot -> last position used by its current buffer
    classes: list[tuple[object, ...]] = []
    for buffer in _allocs(block):
        if buffer in returned:
            continue
        alloc = buffer.owner
        assert isinstance(alloc, memref.AllocOp)
        span = positions.span(buffer)
        if span is None:
            continue
        start = positions.position[alloc]
        size_class = _size_class(dims, buffer)
        free = [k for k, end in enumerate(ends) if end < start]
        same = [k for k in free if classes[k] == size_class]
        slot = (same or free or [len(ends)])[0]
        if slot == len(ends):
            ends.append(span[1])
            classes.append(size_class)
        else:
            ends[slot], classes[slot] = span[1], size_class
        alloc.attributes[SLOT_ATTR] = IntegerAttr(first + slot, 64)
    return first + len(ends)


def _size_class(dims: DimEquality, buffer: SSAValue) -> tuple[object, ...]:
    """Buffers of one class need the same bytes: a slot they share never grows."""
    t = buffer.type
    assert isinstance(t, MemRefType)
    return (str(t.element_type), *(dims.find(k) for k in dims.keys(buffer)))


# endregion


@dataclass(frozen=True)
class PlaceBuffersPass(ModulePass):
    """Buffer reuse, in-place updates and workspace slots (module docstring)."""

    name = "tc-place-buffers"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        slots = 0  # numbered across the module: a called function has its own
        for function in op.ops:
            if isinstance(function, func.FuncOp) and not function.is_declaration:
                slots = self._place(function, slots)

    @staticmethod
    def _place(function: func.FuncOp, first_slot: int) -> int:
        """Place the buffers of `function`; its slots start at `first_slot`.
        Returns the next free slot."""
        block = function.body.block
        _normalize(block)
        dims = _DimsBefore(block)
        donated = _donated(function)
        keep = {v for k, v in enumerate(_returned(block)) if k in donated}
        _merge_intermediates(block, dims, keep)
        _update_arguments(function, dims)
        return _assign_slots(block, dims.base, first_slot)
