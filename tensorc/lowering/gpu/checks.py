"""Run-time checks inside loops (`cf.assert` on gathered indices) on the GPU.

A kernel cannot stop the host function, so tc-outline-gpu-kernels lifts each
check out of its nest: an `and` reduction over the nest's index space computes
whether the condition holds everywhere, the host reads it and asserts it with the
same message before the nest's own kernel is launched (which then runs without the
check). The condition must be computed in the innermost body of the nest's
independent loops, from scalar ops and loads.
"""

from __future__ import annotations

from xdsl.dialects import arith, cf, memref, scf
from xdsl.dialects.builtin import IntegerType
from xdsl.ir import Block, Operation, SSAValue

from tensorc.errors import LoweringError
from tensorc.lowering.gpu.kernel_builder import KernelBuilder
from tensorc.lowering.gpu.loops import perfect_prefix
from tensorc.lowering.gpu.plans import ivs_of, ubs_of
from tensorc.lowering.gpu.reduce import Combiner, Reduction, Values


def condition_slice(cond: SSAValue, block: Block) -> list[Operation] | None:
    """Ops of `block` computing `cond` (scalar ops and loads), in block order."""
    needed: set[Operation] = set()
    pending = [cond]
    while pending:
        owner = pending.pop().owner
        if not isinstance(owner, Operation) or owner.parent_block() is not block:
            continue
        scalar = owner.dialect_name() in ("arith", "math")
        if not scalar and not isinstance(owner, memref.LoadOp):
            return None
        if owner not in needed:
            needed.add(owner)
            pending.extend(owner.operands)
    return [op for op in block.ops if op in needed]


def check_reduction(
    root: scf.ForOp, checks: list[cf.AssertOp], flags: list[SSAValue]
) -> Reduction:
    """The `and` over the nest of each check's condition, stored into its 0-d
    flag (one reduction for all checks of the nest)."""
    loops = perfect_prefix(root)
    body = loops[-1].body.block if loops else None
    slices = [_slice_of(check, body) for check in checks]
    needed = [op for op in body.ops if any(op in s for s in slices)]  # type: ignore
    combiner = Combiner([arith.AndIOp] * len(checks))
    ivs = ivs_of(loops)

    def step(kb: KernelBuilder, rows: Values, coords: Values, accs: Values) -> Values:
        mapper: dict[SSAValue, SSAValue] = dict(zip(ivs, coords, strict=True))
        kb.clone_ops(needed, mapper)
        conditions = [mapper.get(c.arg) or kb.capture(c.arg) for c in checks]
        return combiner.combine(kb, accs, conditions)

    def finish(kb: KernelBuilder, rows: Values, totals: Values) -> None:
        for total, flag in zip(totals, flags, strict=True):
            kb.builder.insert(memref.StoreOp.get(total, kb.capture(flag), []))

    def no_inits(kb: KernelBuilder) -> Values:
        return []

    types = [IntegerType(1)] * len(checks)
    return Reduction(types, ubs_of(loops), combiner, no_inits, step, finish)


def _slice_of(check: cf.AssertOp, body: Block | None) -> list[Operation]:
    needed = condition_slice(check.arg, body) if body is check.parent_block() else None
    if body is None or needed is None:
        raise LoweringError(
            f"tc-outline-gpu-kernels: cannot check '{check.msg.data}' on the GPU "
            "(the condition is not computed in the innermost loop of its nest)"
        )
    return needed
