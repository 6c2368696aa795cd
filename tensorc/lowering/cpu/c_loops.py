"""How the C emitter prints each `scf.for`: vectorized, threaded, or plain.

`plan_loops(function)` looks at every loop of a bufferized function once and
returns a `LoopPlan` per loop:

- independent: no iteration reads or writes an element another iteration writes,
  and every loop-carried value is a reduction (`acc = acc + x`, also through a
  nested loop that reduces with the same op). The body only loads, stores and
  computes (no call, copy, allocation or `cf.assert`, whose `goto` may not leave
  an OpenMP loop). A memref written in the loop is accessed, in the whole loop,
  only at index tuples holding the induction variable at one fixed position, so
  iterations touch disjoint elements. (Distinct memrefs never overlap: casts are
  followed to their source, workspace slots are shared only by buffers that are
  never live together, and the entry copies an input updated in place if another
  input overlaps it.)
- simd: independent and innermost -> `omp simd` (with `reduction` clauses); the
  vectorizer then also calls libmvec's vector variants of exp, sin, ...
- threads: independent and not inside a threaded loop -> a parallel region with
  `omp for`, taken at run time only when `work_estimate` reaches
  TENSORC_PARALLEL_WORK and the other cores were not found busy (c_prelude's
  `tensorc_parallel`). Threaded reductions are cut into a fixed number of chunks,
  so their result does not depend on the number of threads.
- nest: a perfect nest whose induction variables only form the whole index tuple
  of its loads and stores runs as one flat loop (the contiguous fast path), with a
  run-time check of the inner dims the planner cannot prove equal to the trip
  counts (`nest_checks`) and the nest itself as the strided general path.

A reduction's combining op is spelled through C_EXPR like any other op: built-in
OpenMP operators where C's operator is the op (`+`, `*`, `&`, ...), otherwise a
declared reduction (`omp declare reduction`) whose combiner is the op's C_EXPR
(NaN-propagating maximum, unsigned minimum, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from xdsl.dialects import arith, func, math, memref, scf
from xdsl.dialects.builtin import Float16Type, IntegerType
from xdsl.ir import Attribute, Operation, SSAValue

from tensorc.lowering.buffer_facts import (
    DimEquality,
    index_constant,
    memref_root,
    storage_root,
)
from tensorc.lowering.cpu.c_expr import c_expression, c_scalar_type


@dataclass(frozen=True)
class Reduction:
    """How one loop-carried value is reduced."""

    combiner: Operation
    """The op folding one element into the carried value (its C_EXPR combines
    partial results too)."""
    clause: str
    """OpenMP reduction identifier: an operator or a declared reduction's name."""
    identity: str
    """C expression of the identity element, in the value's type."""
    declaration: str | None
    """`omp declare reduction(...)` text when `clause` is a declared one."""


@dataclass(frozen=True)
class LoopPlan:
    independent: bool = False
    simd: bool = False
    threads: bool = False
    reductions: tuple[Reduction, ...] = ()
    nest: tuple[scf.ForOp, ...] = ()
    """A perfect nest starting here that may run as one flat loop (`flat_nest`)."""
    nest_checks: tuple[tuple[SSAValue, int], ...] = ()
    """(memref, axis) whose dim must equal the nest's trip count there for the flat
    loop to be right, where that is not known at compile time."""


SERIAL = LoopPlan()

# region reductions

_OPERATOR_REDUCTIONS: dict[type[Operation], tuple[str, str]] = {
    arith.AddfOp: ("+", "0"),
    arith.MulfOp: ("*", "1"),
    arith.AddiOp: ("+", "0"),
    arith.MuliOp: ("*", "1"),
    arith.AndIOp: ("&", "-1"),
    arith.OrIOp: ("|", "0"),
    arith.XOrIOp: ("^", "0"),
    arith.MaxSIOp: ("max", "{min}"),
    arith.MinSIOp: ("min", "{max}"),
}
"""op -> (OpenMP operator, identity); {min}/{max} are the type's limits."""

_DECLARED_REDUCTIONS: dict[type[Operation], str] = {
    arith.MaximumfOp: "-INFINITY",
    arith.MinimumfOp: "INFINITY",
    arith.MaxnumfOp: "NAN",
    arith.MinnumfOp: "NAN",
    arith.MaxUIOp: "0",
    arith.MinUIOp: "-1",
}
"""op -> identity, for ops C has no reduction operator for."""


def _reduction_for(op: Operation) -> Reduction | None:
    """The Reduction of combining op `op` (its result type decides the spelling),
    None for ops that are not associative reductions tensorc vectorizes."""
    t = op.results[0].type
    if isinstance(t, Float16Type) or _is_bool(t) and not _is_bitwise(op):
        return None  # no OpenMP reductions on _Float16; i1 max/min are signed
    ctype = c_scalar_type(t)
    if type(op) in _OPERATOR_REDUCTIONS:
        clause, identity = _OPERATOR_REDUCTIONS[type(op)]
        bits = ctype.bits
        limits = {"min": f"INT{bits}_MIN", "max": f"INT{bits}_MAX"}
        return Reduction(
            op, clause, f"({ctype.value})({identity.format(**limits)})", None
        )
    if type(op) in _DECLARED_REDUCTIONS:
        identity = f"({ctype.value})({_DECLARED_REDUCTIONS[type(op)]})"
        name = f"tc_reduce_{op.name.split('.')[1]}_{ctype.suffix}"
        combine = c_expression(op, ["omp_out", "omp_in"])
        declaration = (
            f"omp declare reduction({name} : {ctype.value} : omp_out = {combine}) "
            f"initializer(omp_priv = {identity})"
        )
        return Reduction(op, name, identity, declaration)
    return None


def _is_bool(t: Attribute) -> bool:
    return isinstance(t, IntegerType) and t.width.data == 1


def _is_bitwise(op: Operation) -> bool:
    return isinstance(op, arith.AndIOp | arith.OrIOp | arith.XOrIOp)


def carried_reduction(loop: scf.ForOp, index: int) -> Reduction | None:
    """The reduction carried value `index` of `loop` performs, if any: its only
    use is a combining op (or the init of a nested loop reducing with the same
    op) whose result, used only there, is what the loop yields."""
    block = loop.body.block
    arg = block.args[1 + index]
    yielded = _terminator(loop).operands[index]
    uses = list(arg.uses)
    if len(uses) != 1 or len(list(yielded.uses)) != 1:
        return None
    user = uses[0].operation
    if isinstance(user, scf.ForOp):
        inits = list(user.iter_args)
        if arg not in inits:
            return None
        position = inits.index(arg)
        if user.results[position] is not yielded:
            return None
        return carried_reduction(user, position)
    if yielded.owner is not user or user.parent_block() is not block:
        return None
    return _reduction_for(user)


def _terminator(loop: scf.ForOp) -> Operation:
    last = loop.body.block.last_op
    assert isinstance(last, scf.YieldOp)
    return last


# endregion
# region independence

_PURE_DIALECTS = frozenset(("arith", "math"))
_STRUCTURE = (scf.ForOp, scf.IfOp, scf.YieldOp, memref.DimOp)


def _independent_memory(loop: scf.ForOp) -> bool:
    """No two iterations touch one element that either writes (module docstring)."""
    iv = loop.body.block.args[0]
    accesses: dict[SSAValue, list[tuple[SSAValue, ...]]] = {}
    written: set[SSAValue] = set()
    for op in loop.body.walk():
        if isinstance(op, memref.LoadOp | memref.StoreOp):
            root = storage_root(op.memref)
            accesses.setdefault(root, []).append(tuple(op.indices))
            if isinstance(op, memref.StoreOp):
                written.add(root)
        elif not isinstance(op, _STRUCTURE) and op.dialect_name() not in _PURE_DIALECTS:
            return False
    for root in written:
        tuples = accesses[root]
        positions = [
            {k for k, index in enumerate(indices) if index is iv} for indices in tuples
        ]
        if not set.intersection(*positions):
            return False
    return True


def _reductions(loop: scf.ForOp) -> tuple[Reduction, ...] | None:
    found = [carried_reduction(loop, k) for k in range(len(loop.iter_args))]
    if any(r is None for r in found):
        return None
    return tuple(r for r in found if r is not None)


# endregion
# region plans


def _child_loops(op: Operation) -> Iterator[scf.ForOp]:
    """The loops directly nested in op's regions (through scf.if, not loops)."""
    for region in op.regions:
        for block in region.blocks:
            for nested in block.ops:
                if isinstance(nested, scf.ForOp):
                    yield nested
                elif nested.regions:
                    yield from _child_loops(nested)


PARALLEL_WORK = 131072.0
"""c_prelude's TENSORC_PARALLEL_WORK: loops of less work run on one thread."""


def plan_loops(root: Operation) -> dict[scf.ForOp, LoopPlan]:
    """A LoopPlan for every scf.for in the functions under `root`."""
    plans: dict[scf.ForOp, LoopPlan] = {}
    for function in root.walk():
        if isinstance(function, func.FuncOp) and not function.is_declaration:
            block = function.body.block
            dims = DimEquality.of(block)
            for op in block.ops:  # asserts tell about the loops after them
                dims.assume(op)
                for loop in [op] if isinstance(op, scf.ForOp) else _child_loops(op):
                    _plan(loop, False, plans, dims)
    return plans


def _plan(
    loop: scf.ForOp,
    threaded_above: bool,
    plans: dict[scf.ForOp, LoopPlan],
    dims: DimEquality,
) -> None:
    children = list(_child_loops(loop))
    reductions = _reductions(loop)
    independent = reductions is not None and _independent_memory(loop)
    small = (work := static_work(loop)) is not None and work < PARALLEL_WORK
    threads = independent and not threaded_above and not small
    for child in children:
        _plan(child, threaded_above or threads, plans, dims)
    nest = flat_nest(loop, plans) if independent else ()
    plans[loop] = LoopPlan(
        independent=independent,
        simd=independent and not children,
        threads=threads,
        reductions=reductions or (),
        nest=nest,
        nest_checks=_nest_checks(nest, dims),
    )


def _nest_checks(
    nest: tuple[scf.ForOp, ...], dims: DimEquality
) -> tuple[tuple[SSAValue, int], ...]:
    """The inner dims of the nest's buffers not known to equal its trip counts."""
    if not nest:
        return ()
    checks: dict[tuple[SSAValue, int], None] = {}
    ivs = tuple(loop.body.block.args[0] for loop in nest)
    for access in nest[-1].body.walk():
        if (
            isinstance(access, memref.LoadOp | memref.StoreOp)
            and tuple(access.indices) == ivs
        ):
            keys = dims.keys(memref_root(access.memref))
            for axis in range(1, len(nest)):
                if dims.find(keys[axis]) != dims.find(nest[axis].ub):
                    checks[(access.memref, axis)] = None
    return tuple(checks)


def flat_nest(
    loop: scf.ForOp, plans: dict[scf.ForOp, LoopPlan]
) -> tuple[scf.ForOp, ...]:
    """The loops of the perfect nest starting at `loop` when it may run as one
    loop over the product of the trip counts (the contiguous fast path): every
    loop is independent, from 0 by 1, carries nothing, and holds only the next
    one; the induction variables serve only as the complete index tuple
    (outermost first) of loads and stores. Empty if not."""
    nest = [loop]
    while True:
        ops = list(nest[-1].body.block.ops)
        if len(ops) != 2 or not isinstance(ops[0], scf.ForOp):
            break
        nest.append(ops[0])
    if len(nest) < 2:
        return ()
    for member in nest[1:]:
        plan = plans.get(member)
        if plan is None or not plan.independent:
            return ()
    for member in nest:
        if member.iter_args:
            return ()
        if index_constant(member.lb) != 0 or index_constant(member.step) != 1:
            return ()
    ivs = tuple(member.body.block.args[0] for member in nest)
    for iv in ivs:
        for use in iv.uses:
            access = use.operation
            if not isinstance(access, memref.LoadOp | memref.StoreOp):
                return ()
            if tuple(access.indices) != ivs:
                return ()
    return tuple(nest)


# endregion
# region work estimate

_EXPENSIVE = (math.FPowIOp, arith.DivfOp, math.SqrtOp, math.RsqrtOp)
_CHEAP_MATH = (
    math.AbsFOp,
    math.CopySignOp,
    math.FloorOp,
    math.CeilOp,
    math.TruncOp,
    math.RoundOp,
    math.RoundEvenOp,
    math.FmaOp,
    math.AbsIOp,
    math.CountLeadingZerosOp,
    math.CountTrailingZerosOp,
    math.CtPopOp,
)
TRANSCENDENTAL_COST = 16.0
DIVISION_COST = 4.0


def op_cost(op: Operation) -> float:
    """Rough cost of one execution of `op`, in simple arithmetic ops."""
    if isinstance(op, arith.ConstantOp | scf.YieldOp | memref.DimOp):
        return 0.0
    if isinstance(op, _EXPENSIVE):
        return DIVISION_COST
    if op.dialect_name() == "math" and not isinstance(op, _CHEAP_MATH):
        return TRANSCENDENTAL_COST
    return 1.0


def _body_cost(op: Operation) -> float:
    total = 0.0
    for region in op.regions:
        for block in region.blocks:
            for nested in block.ops:
                if not isinstance(nested, scf.ForOp):
                    total += op_cost(nested) + _body_cost(nested)
    return total


def static_work(loop: scf.ForOp) -> float | None:
    """The work of a loop nest whose trip counts are all constants (None when
    some is not): a nest this small never runs on threads, and needs no threaded
    copy in the C."""
    lower, upper = index_constant(loop.lb), index_constant(loop.ub)
    if lower is None or upper is None:
        return None
    inner = [static_work(child) for child in _child_loops(loop)]
    if any(w is None for w in inner):
        return None
    body = _body_cost(loop) + sum(w for w in inner if w is not None)
    return max(upper - lower, 0) * (body or 1.0)


def work_estimate(loop: scf.ForOp, spell: Callable[[SSAValue], str | None]) -> str:
    """C expression (a double) of the work of the whole loop nest: trip counts
    times body costs. `spell` gives the C text of a value defined before the loop
    (None if it is not: such a nested trip count counts as 1)."""
    cost = _body_cost(loop)
    terms = [f"{cost:g}"] if cost else []
    terms += [work_estimate(child, spell) for child in _child_loops(loop)]
    lower, upper = spell(loop.lb), spell(loop.ub)
    body = " + ".join(terms) or "1"
    if lower is None or upper is None:
        return f"({body})"
    trip = f"(double){upper}" if lower == "0" else f"((double){upper} - {lower})"
    return f"{trip} * ({body})"


# endregion
