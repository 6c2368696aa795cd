"""tc-autodiff: reverse-mode automatic differentiation; expands every `tc.grad`.

Preconditions: the module verifies. Every op on a float path from a `wrt` value to
its `cost` has an entry in VJP_RULES (tensorc/autodiff/vjp_rules.py); a missing
one fails the pass with a LoweringError naming the op and its source line.

Postconditions: the module verifies and holds no `tc.grad` and no
`tc.stop_gradient` (its input replaces it). Each `tc.grad` result is replaced by
d(cost)/d(wrt) with exactly wrt's type: zeros when the cost does not depend on wrt
(the frontend's `grad` already raised DisconnectedInputError if the user asked it
to). Forward ops are left as they were.

How: the `tc.grad` ops of one cost are expanded together, in block order, so a
gradient of a gradient differentiates the already-expanded inner one. A forward
sweep marks the float values that depend on some wrt through differentiable ops;
a reverse sweep from the cost (seeded with 1) calls each marked op's VJP rule,
sums fan-out, and unbroadcasts every contribution to its operand's type (the one
generic "sum over broadcast axes"). New ops go right before the first `tc.grad`
of the group; the ones the sweep made but nobody uses are erased again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from tensorc.autodiff.builder import GradBuilder
from tensorc.autodiff.vjp_rules import VJP_RULES, MultiResultRule, NonDifferentiable
from tensorc.dialects import tc
from tensorc.errors import LoweringError


def _differentiable(op: Operation) -> bool:
    """Whether gradients may flow through `op` (a missing rule counts as yes, so
    that the sweep reaches the op and reports it)."""
    return not isinstance(VJP_RULES.get(type(op)), NonDifferentiable)


def active_values(block: Block, wrt: Sequence[SSAValue], last: Operation | None
                  ) -> set[SSAValue]:
    """The float values of `block`, up to op `last`, that depend on some `wrt`."""
    active = {v for v in wrt if tc.is_float(v.type)}
    if last is None:
        return active
    for op in block.ops:
        if _differentiable(op) and any(v in active for v in op.operands):
            active.update(r for r in op.results if tc.is_float(r.type))
        if op is last:
            break
    return active


def _missing_rule(op: Operation) -> LoweringError:
    where = tc.location_text(op)
    suffix = f" (created at {where})" if where else ""
    return LoweringError(
        f"tc-autodiff: no VJP rule for {op.name}{suffix}: it lies between a tc.grad "
        "cost and its wrt; add a rule to VJP_RULES or declare it NonDifferentiable"
    )


class ReverseSweep:
    """Cotangents of every active value of one block, from one cost backwards."""

    def __init__(self, b: GradBuilder, active: set[SSAValue]) -> None:
        self.b = b
        self.active = active
        self.cotangents: dict[SSAValue, SSAValue] = {}

    def accumulate(self, value: SSAValue, contribution: SSAValue) -> None:
        contribution = self.b.unbroadcast(contribution, value)
        previous = self.cotangents.get(value)
        self.cotangents[value] = (
            contribution if previous is None else self.b.add(previous, contribution))

    def run(self, block: Block, cost: SSAValue) -> None:
        self.cotangents[cost] = self.b.full_like(1, cost)
        last = cost.owner if isinstance(cost.owner, Operation) else None
        self.back_from(last)

    def back_from(self, last: Operation | None) -> None:
        """Visit `last` and every op before it, last first (a rule may replace the
        op it visits: the walk goes on from the op before it)."""
        op = last
        while op is not None:
            before = op.prev_op
            self.visit(op)
            op = before

    def visit(self, op: Operation) -> None:
        cotangents = [self.cotangents.get(r) for r in op.results]
        if all(c is None for c in cotangents) or not any(
            v in self.active for v in op.operands
        ):
            return
        rule = VJP_RULES.get(type(op))
        if isinstance(rule, NonDifferentiable):
            return
        self.b.location = op.location
        if isinstance(rule, MultiResultRule):
            active = [v in self.active for v in op.operands]
            contributions = rule.rule(self.b, op, cotangents, active)
        elif rule is None or len(op.results) != 1:
            raise _missing_rule(op)
        else:
            contributions = rule(self.b, op, cotangents[0])  # type: ignore[arg-type]
        for operand, contribution in zip(op.operands, contributions, strict=True):
            if contribution is not None and operand in self.active:
                self.accumulate(operand, contribution)


def gradient(b: GradBuilder, sweep: ReverseSweep, wrt: SSAValue) -> SSAValue:
    """The cotangent the sweep found for `wrt`, with wrt's type (zeros if none)."""
    cotangent = sweep.cotangents.get(wrt)
    return b.zeros_like(wrt) if cotangent is None else b.conform(cotangent, wrt)


def _group(grad: tc.GradOp) -> list[tc.GradOp]:
    """`grad` and the later tc.grad ops of its block with the same cost."""
    group: list[tc.GradOp] = []
    op: Operation | None = grad
    while op is not None:
        if isinstance(op, tc.GradOp) and op.cost == grad.cost:
            group.append(op)
        op = op.next_op
    return group


def expand(group: list[tc.GradOp]) -> None:
    """Replace the tc.grad ops of `group` (one cost, one block) by their sweep."""
    first = group[0]
    block = first.parent_block()
    assert block is not None
    cost = first.cost
    wrt = list(dict.fromkeys(v for g in group for v in g.wrt))
    last = cost.owner if isinstance(cost.owner, Operation) else None
    b = GradBuilder(InsertPoint.before(first))
    sweep = ReverseSweep(b, active_values(block, wrt, last))
    sweep.run(block, cost)
    replacements = []
    for grad in group:  # all new ops go before `first`: replace only afterwards
        b.location = grad.location
        replacements.append([gradient(b, sweep, v) for v in grad.wrt])
    for grad, results in zip(group, replacements):
        Rewriter.replace_op(grad, [], results)
    for op in reversed(b.created):
        if not any(r.uses for r in op.results):
            Rewriter.erase_op(op)


@dataclass(frozen=True)
class AutodiffPass(ModulePass):
    """Expand every tc.grad with a reverse sweep over VJP_RULES."""

    name = "tc-autodiff"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expanded: set[int] = set()
        for grad in [o for o in op.walk() if isinstance(o, tc.GradOp)]:
            if id(grad) not in expanded:
                group = _group(grad)
                expanded.update(id(g) for g in group)
                expand(group)
        for stop in [o for o in op.walk() if isinstance(o, tc.StopGradientOp)]:
            Rewriter.replace_op(stop, [], [stop.input])
        _erase_unused_functions(op)


def _erase_unused_functions(module: ModuleOp) -> None:
    """Private functions nothing calls any more (a scan's backward step whose
    results all went unused)."""
    while True:
        called = {
            o.body.string_value() if isinstance(o, tc.ScanOp) else o.callee.string_value()
            for o in module.walk()
            if isinstance(o, tc.ScanOp | func.CallOp)
        }
        unused = [
            f for f in module.ops
            if isinstance(f, func.FuncOp) and f.sym_visibility is not None
            and f.sym_visibility.data == "private" and f.sym_name.data not in called
        ]
        if not unused:
            return
        for f in unused:
            Rewriter.erase_op(f)
