"""Which consecutive top-level items of a host function share one kernel.

An `Item` is a top-level op that becomes kernel code: a loop nest with its plan
(plans.py), a gemm call, a scalar statement (a top-level store) or a copy. A
`Group` of items is emitted as one launch (or one two-kernel reduction):

- a row kernel: a reduction over rows (plans with leading row loops), then every
  following nest over the same rows, as long as the nests exchange data only
  within a row (every buffer two of them touch, one writing, is indexed by the
  row's loop variables first) and read no device scalar a member wrote;
- one grid-stride kernel for consecutive elementwise nests over the same index
  space whose shared buffers are accessed at the loops' own indices: a thread
  handles the same elements in every nest, so no barrier is needed;
- a full reduction and the scalar statements right after it (they run at the end
  of its second kernel, in thread 0);
- consecutive scalar statements (one thread);
- anything else on its own.

Host ops between the items of a group stay where they are (the launch goes where
the last item was), so none of them may read what the group writes or be a launch;
deallocations among them move after the launch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from xdsl.dialects import gpu, memref, scf
from xdsl.ir import Operation, SSAValue

from tensorc.lowering.gpu.loops import accesses, base_buffer, external_operands
from tensorc.lowering.gpu.plans import (
    MapPlan,
    MemoryReducePlan,
    Plan,
    ReducePlan,
    ivs_of,
    ubs_of,
)


@dataclass
class Item:
    """A top-level op that becomes (part of) a kernel."""

    op: Operation
    plan: Plan | str
    """A nest's plan, or "gemm", "scalar", "copy"."""


@dataclass
class Group:
    """Items emitted as one launch (or one two-kernel reduction)."""

    items: list[Item]
    moved: list[Operation] = field(default_factory=list)
    """Deallocations between the items, to move after the launch."""
    written: set[SSAValue] = field(default_factory=set)

    @property
    def first(self) -> Plan | str:
        return self.items[0].plan

    @property
    def last(self) -> Operation:
        return self.items[-1].op

    def add(self, item: Item, between: list[Operation]) -> None:
        self.items.append(item)
        self.moved += [op for op in between if isinstance(op, memref.DeallocOp)]
        self.written |= written_by(item.op)


def written_by(op: Operation) -> set[SSAValue]:
    return {a.buffer for a in accesses(op) if a.writes}


def rows_of(plan: Plan) -> list[scf.ForOp]:
    """The loops a row kernel gives each block one iteration of."""
    if isinstance(plan, MemoryReducePlan):
        return plan.rows
    assert isinstance(plan, ReducePlan | MapPlan)
    return plan.loops


def leading_rows(plan: Plan | str) -> list[scf.ForOp] | None:
    """The rows of a plan that can share a row kernel: its leading loops."""
    if isinstance(plan, ReducePlan | MapPlan):
        return plan.loops or None
    if isinstance(plan, MemoryReducePlan) and plan.rows == plan.loops[: len(plan.rows)]:
        return plan.rows or None
    return None


def start(item: Item) -> Group:
    return Group([item], written=written_by(item.op))


def joins(
    group: Group,
    item: Item,
    between: list[Operation],
    is_device: Callable[[SSAValue], bool],
) -> bool:
    """Whether `item` can join `group` (module docstring)."""
    for op in between:
        if isinstance(op, gpu.LaunchFuncOp):
            return False
        if isinstance(op, memref.LoadOp) and base_buffer(op.memref) in group.written:
            return False
    first = group.first
    if item.plan == "scalar":
        if isinstance(first, ReducePlan) and not first.loops:
            # the tail of a full reduction: nothing in between may use its results
            results = set(group.items[0].op.results)
            return not any(v in results for op in between for v in op.operands)
        return first == "scalar"
    if any(_reads(v, group.written, is_device) for v in external_operands(item.op)):
        return False
    if isinstance(first, MapPlan):
        return _same_elements(first, item) and _row_local(group, item)
    if not isinstance(first, ReducePlan | MemoryReducePlan) or not leading_rows(first):
        return False
    return _same_rows(group, item) and _row_local(group, item)


def _same_elements(first: MapPlan, item: Item) -> bool:
    """Both nests run the same index space on the same threads."""
    plan = item.plan
    return isinstance(plan, MapPlan) and ubs_of(plan.loops) == ubs_of(first.loops)


def _same_rows(group: Group, item: Item) -> bool:
    rows = leading_rows(group.first)
    plan = item.plan
    if rows is None or not isinstance(plan, MapPlan | ReducePlan | MemoryReducePlan):
        return False
    own = leading_rows(plan)
    if not own or len(plan.loops) < len(rows):
        return False
    if not isinstance(plan, MapPlan) and len(own) != len(rows):
        return False  # a reduction stage folds exactly one row's elements
    return ubs_of(plan.loops[: len(rows)]) == ubs_of(rows)


def _row_local(group: Group, item: Item) -> bool:
    """Every buffer two members touch, one of them writing, is accessed at the
    member's row first (for elementwise nests: at the thread's own index)."""
    first = group.first
    rank = len(first.loops if isinstance(first, MapPlan) else leading_rows(first) or [])
    touched: dict[SSAValue, list[tuple[int, bool, bool]]] = {}
    for member in [*group.items, item]:
        plan = member.plan
        assert isinstance(plan, MapPlan | ReducePlan | MemoryReducePlan)
        row = tuple(ivs_of(plan.loops[:rank]))
        for access in accesses(member.op):
            entry = (id(member), access.writes, access.indices[:rank] == row)
            touched.setdefault(access.buffer, []).append(entry)
    for entries in touched.values():
        shared = len({member for member, _, _ in entries}) > 1
        if shared and any(w for _, w, _ in entries) and not all(r for *_, r in entries):
            return False
    return True


def _reads(
    value: SSAValue, written: set[SSAValue], is_device: Callable[[SSAValue], bool]
) -> bool:
    """Whether device scalar `value` (recomputed when a kernel starts) reads one of
    the `written` buffers."""
    pending, seen = [value], set()
    while pending:
        v = pending.pop()
        owner = v.owner
        if v in seen or not is_device(v) or not isinstance(owner, Operation):
            continue
        seen.add(v)
        if isinstance(owner, memref.LoadOp) and base_buffer(owner.memref) in written:
            return True
        pending.extend(owner.operands)
    return False
