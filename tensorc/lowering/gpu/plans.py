"""What each top-level loop nest of a host function becomes on the GPU.

`plan_nest` classifies one nest (loops.py does the analysis):

- `MapPlan`: the leading `loops` are independent; their body runs once per index
  (inner loops stay sequential in the thread). Elementwise ops, copies,
  broadcasts, and scatter-adds whose update became an atomic.
- `ReducePlan`: independent `loops` (maybe none) around a reduction chain that
  carries accumulators; a block folds each row (a grid-wide two-pass fold when
  there are no rows).
- `MemoryReducePlan`: `M[S] = M[S] op v` over all loops, where only the `rows`
  loops appear in S: the other loops are reduced (sums over leading axes).
- `SerialPlan`: anything else runs in one thread, in order.

`stage` and the plans' `reduction` methods turn a plan into the code builders of
reduce.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from xdsl.dialects import memref, scf
from xdsl.dialects.builtin import (
    Float32Type,
    Float64Type,
    IntegerAttr,
    IntegerType,
    i64,
)
from xdsl.ir import Block, BlockArgument, Operation, SSAValue

from tensorc.lowering.gpu import reduce
from tensorc.lowering.gpu.kernel_builder import KernelBuilder
from tensorc.lowering.gpu.loops import (
    ATOMIC_KINDS,
    ReadModifyWrite,
    affine_iv,
    body_ops,
    independent_ivs,
    is_inside,
    perfect_prefix,
    read_modify_write,
    reduction_chain,
)
from tensorc.lowering.gpu.reduce import Combiner, Reduction, Values, recognize_combiner

Mapper = dict[SSAValue, SSAValue]


def ivs_of(loops: Sequence[scf.ForOp]) -> list[BlockArgument]:
    return [loop.body.block.args[0] for loop in loops]


def ubs_of(loops: Sequence[scf.ForOp]) -> list[SSAValue]:
    return [loop.ub for loop in loops]


@dataclass
class MapPlan:
    root: scf.ForOp
    loops: list[scf.ForOp]

    @property
    def body(self) -> Block:
        return self.loops[-1].body.block

    def emit_body(self, kb: KernelBuilder, mapper: Mapper, coords: Values) -> None:
        """The body at the index whose trailing coordinates are `coords`."""
        inner = ivs_of(self.loops)[len(self.loops) - len(coords) :]
        local = {**mapper, **dict(zip(inner, coords, strict=True))}
        kb.clone_ops(body_ops(self.loops[-1]), local)


@dataclass
class ReducePlan:
    root: scf.ForOp
    loops: list[scf.ForOp]
    chain: list[scf.ForOp]
    combiner: Combiner

    @property
    def pre(self) -> list[Operation]:
        """Ops of the row body before the chain (their values feed the chain)."""
        if not self.loops:
            return []
        ops = body_ops(self.loops[-1])
        return ops[: ops.index(self.chain[0])]

    @property
    def post(self) -> list[Operation]:
        if not self.loops:
            return []
        ops = body_ops(self.loops[-1])
        return ops[ops.index(self.chain[0]) + 1 :]

    def reduction(self, mapper: Mapper, results: dict[SSAValue, SSAValue]) -> Reduction:
        """The fold of the chain; `finish` maps the chain's results to the folded
        values, clones the row's remaining ops and records the results."""
        chain, combiner = self.chain, self.combiner
        inner = chain[-1].body.block
        init_values = list(chain[0].iter_args)

        def inits(kb: KernelBuilder) -> Values:
            return [mapper[v] if v in mapper else kb.capture(v) for v in init_values]

        def step(
            kb: KernelBuilder, rows: Values, coords: Values, accs: Values
        ) -> Values:
            local = {**mapper, **dict(zip(ivs_of(chain), coords, strict=True))}
            local.update(zip(inner.args[1:], accs, strict=True))
            kb.clone_ops(body_ops(chain[-1]), local)
            return [local[v] for v in inner.last_op.operands]  # type: ignore[union-attr]

        def finish(kb: KernelBuilder, rows: Values, totals: Values) -> None:
            final = combiner.final(kb, inits(kb), totals)
            local = {**mapper, **dict(zip(chain[0].results, final, strict=True))}
            results.update(zip(chain[0].results, final, strict=True))
            kb.clone_ops(self.post, local)

        types = [v.type for v in init_values]
        return Reduction(types, ubs_of(chain), combiner, inits, step, finish)


@dataclass
class MemoryReducePlan:
    root: scf.ForOp
    loops: list[scf.ForOp]
    rows: list[scf.ForOp]
    update: ReadModifyWrite

    @property
    def reduced(self) -> list[scf.ForOp]:
        return [loop for loop in self.loops if loop not in self.rows]

    def reduction(self, mapper: Mapper) -> Reduction:
        rmw = self.update
        combiner = Combiner([type(rmw.combine)])
        element = rmw.load.res.type
        skipped = {rmw.load, rmw.combine, rmw.store}
        body = [op for op in body_ops(self.loops[-1]) if op not in skipped]
        reduced_ivs = ivs_of(self.reduced)

        def step(
            kb: KernelBuilder, rows: Values, coords: Values, accs: Values
        ) -> Values:
            local = {**mapper, **dict(zip(reduced_ivs, coords, strict=True))}
            kb.clone_ops(body, local)
            return combiner.combine(kb, accs, [local[rmw.update]])

        def finish(kb: KernelBuilder, rows: Values, totals: Values) -> None:
            local = dict(mapper)
            needed = _index_slice(rmw.store, self.loops[-1].body.block)
            kb.clone_ops(needed, local)
            old = kb.clone(rmw.load, local, None).results[0]
            new = combiner.combine(kb, [old], totals)[0]
            indices = [local.get(i, i) for i in rmw.store.indices]
            target = local.get(rmw.store.memref) or kb.capture(rmw.store.memref)
            kb.builder.insert(memref.StoreOp.get(new, target, indices))

        return Reduction(
            [element], ubs_of(self.reduced), combiner, lambda kb: [], step, finish
        )


def _index_slice(store: memref.StoreOp, block: Block) -> list[Operation]:
    """Ops of `block` the store's indices are computed with, in block order."""
    needed: set[Operation] = set()
    pending = list(store.indices)
    while pending:
        owner = pending.pop().owner
        inside = isinstance(owner, Operation) and owner.parent_block() is block
        if inside and owner not in needed:
            needed.add(owner)  # type: ignore[arg-type]
            pending.extend(owner.operands)  # type: ignore[union-attr]
    return [op for op in block.ops if op in needed]


@dataclass
class SerialPlan:
    root: scf.ForOp
    reason: str = field(default="")


Plan = MapPlan | ReducePlan | MemoryReducePlan | SerialPlan


def stage(plan: Plan, rank: int, block: int) -> reduce.Stage:
    """The code of a plan as a stage of a row kernel whose rows are the plan's
    first `rank` loops (a memory reduction's `rows`)."""
    if isinstance(plan, MapPlan):
        leading = ivs_of(plan.loops[:rank])

        def body(kb: KernelBuilder, rows: Values, coords: Values) -> None:
            plan.emit_body(kb, dict(zip(leading, rows, strict=True)), coords)

        return reduce.map_stage(ubs_of(plan.loops[rank:]), body, block)
    if isinstance(plan, MemoryReducePlan):
        row_ivs = ivs_of(plan.rows)

        def memory_stage(kb: KernelBuilder, rows: Values) -> None:
            red = plan.reduction(dict(zip(row_ivs, rows, strict=True)))
            reduce.block_reduce(kb, red, rows, block)

        return memory_stage
    assert isinstance(plan, ReducePlan)
    leading = ivs_of(plan.loops)

    def register_stage(kb: KernelBuilder, rows: Values) -> None:
        mapper: Mapper = dict(zip(leading, rows, strict=True))
        kb.clone_ops(plan.pre, mapper)
        reduce.block_reduce(kb, plan.reduction(mapper, {}), rows, block)

    return register_stage


def plan_nest(root: scf.ForOp) -> Plan:
    """How the nest rooted at top-level loop `root` runs (module docstring)."""
    if root.iter_args:
        return _plan_full_reduction(root)
    loops = perfect_prefix(root)
    if not loops:
        return SerialPlan(root, "its loops are not canonical")
    body = loops[-1].body.block
    ivs = ivs_of(loops)
    reduce = _plan_row_reduction(root, loops)
    if reduce is not None:
        return reduce
    free = independent_ivs(ivs, body, root)
    if free == ivs:
        return MapPlan(root, loops)
    if not any(isinstance(op, scf.ForOp) for op in body.ops):
        rmw = read_modify_write(body)
        if rmw is not None:
            plan = _plan_read_modify_write(root, loops, free, rmw)
            if plan is not None:
                return plan
    leading = 0
    while leading < len(ivs) and ivs[leading] in free:
        leading += 1
    if leading:
        return MapPlan(root, loops[:leading])
    return SerialPlan(root, "its iterations depend on each other")


def _plan_full_reduction(root: scf.ForOp) -> Plan:
    chain = reduction_chain(root, root)
    combiner = recognize_combiner(chain) if chain else None
    if chain is None or combiner is None or _writes_memory(chain[0]):
        return SerialPlan(root, "its loop-carried values are not a known reduction")
    return ReducePlan(root, [], chain, combiner)


def _plan_row_reduction(root: scf.ForOp, loops: list[scf.ForOp]) -> ReducePlan | None:
    inner = [op for op in body_ops(loops[-1]) if isinstance(op, scf.ForOp)]
    if len(inner) != 1 or not inner[0].iter_args:
        return None
    chain = reduction_chain(inner[0], root)
    combiner = recognize_combiner(chain) if chain else None
    if chain is None or combiner is None or _writes_memory(chain[0]):
        return None
    plan = ReducePlan(root, loops, chain, combiner)
    if any(_writes_memory(op) for op in plan.pre):
        return None
    body = loops[-1].body.block
    if independent_ivs(ivs_of(loops), body, root) != ivs_of(loops):
        return None
    return plan


def _writes_memory(op: Operation) -> bool:
    """Whether `op` or a nested op does more than compute and read memory."""
    for nested in op.walk():
        if isinstance(nested, memref.LoadOp | scf.ForOp | scf.IfOp | scf.YieldOp):
            continue
        if nested.dialect_name() not in ("arith", "math"):
            return True
    return False


def _plan_read_modify_write(
    root: scf.ForOp,
    loops: list[scf.ForOp],
    free: list[BlockArgument],
    rmw: ReadModifyWrite,
) -> Plan | None:
    """A reduction into memory when the update's indices are the row loops'
    variables (or loop-invariant), else an atomic update if the element type has
    one and nothing else ties the iterations together."""
    ivs = ivs_of(loops)
    if all(
        affine_iv(i, free, root) is not None or not is_inside(i, root)
        for i in rmw.store.indices
    ):
        rows = [loop for loop in loops if loop.body.block.args[0] in free]
        return MemoryReducePlan(root, loops, rows, rmw)
    kind = ATOMIC_KINDS.get(type(rmw.combine))
    element = rmw.load.res.type
    has_atomic = isinstance(element, Float32Type | Float64Type) or (
        isinstance(element, IntegerType) and element.width.data in (32, 64)
    )
    if kind is None or not has_atomic:
        return None
    body = loops[-1].body.block
    if independent_ivs(ivs, body, root, commuting=rmw) != ivs:
        return None
    _make_atomic(rmw, kind)
    return MapPlan(root, loops)


def _make_atomic(rmw: ReadModifyWrite, kind: int) -> None:
    """Replace M[S] = M[S] + v by an atomic add of v (additions commute)."""
    store = rmw.store
    atomic = memref.AtomicRMWOp.build(
        operands=[rmw.update, store.memref, list(store.indices)],
        result_types=[rmw.load.res.type],
        properties={"kind": IntegerAttr(kind, i64)},
    )
    block = store.parent_block()
    assert block is not None
    block.insert_op_before(atomic, store)
    for op in (store, rmw.combine, rmw.load):
        block.erase_op(op)
