"""tc-stabilize: rewrite numerically fragile float expressions into stable tc ops.

Preconditions: the module verifies.

Postconditions: the module verifies, every value keeps its type, and none of the
identities of `PATTERNS` matches any more; each one replaces an expression that
overflows, underflows or cancels for large |x| by an equal one built from the
stable `tc.sigmoid` / `tc.softplus` (finite for |x| up to 700 in float64 and far
beyond), e.g. the logistic regression of the Theano tutorial,
`-y * log(1 / (1 + exp(-z))) - (1 - y) * log(1 - 1 / (1 + exp(-z)))`, becomes
`y * softplus(-z) + (1 - y) * softplus(z)`. Constants `1` are recognized also
through `tc.broadcast`. Dead ops are erased.

It runs before tc-autodiff (see tensorc/pipeline.py), so gradients are derived from
the stable forms with stable VJP rules and stay finite whichever simplifications
run afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)

from tensorc.dialects import tc
from tensorc.passes.canonicalize import splat_value

SoftplusOp = tc.FLOAT_UNARY_OPS["softplus"]
Log1pOp = tc.FLOAT_UNARY_OPS["log1p"]


def _is_one(value: SSAValue) -> bool:
    splat = splat_value(value)
    return splat is not None and splat == 1


def _owner(value: SSAValue, cls: type[Operation]) -> Operation | None:
    owner = value.owner
    return owner if isinstance(owner, cls) else None


class _Rewrite:
    """New ops replacing one op, all placed where that op was created."""

    def __init__(self, origin: Operation) -> None:
        self.origin = origin
        self.ops: list[Operation] = []

    def add(self, op: Operation) -> SSAValue:
        op.location = self.origin.location
        self.ops.append(op)
        return op.results[0]

    def neg(self, value: SSAValue) -> SSAValue:
        """-value, without stacking a second negation."""
        inner = _owner(value, tc.NegOp)
        return inner.operands[0] if inner is not None else self.add(tc.NegOp(value))

    def apply(self, rewriter: PatternRewriter, result: SSAValue) -> None:
        rewriter.replace(self.origin, self.ops, [result])


def _exp_argument(value: SSAValue) -> SSAValue | None:
    exp = _owner(value, tc.ExpOp)
    return None if exp is None else exp.operands[0]


def _one_plus_exp(value: SSAValue) -> SSAValue | None:
    """u when value is `1 + exp(u)` or `exp(u) + 1`."""
    add = _owner(value, tc.AddOp)
    if add is None:
        return None
    lhs, rhs = add.operands
    if _is_one(lhs):
        return _exp_argument(rhs)
    if _is_one(rhs):
        return _exp_argument(lhs)
    return None


class SigmoidFromLogistic(RewritePattern):
    """1 / (1 + exp(u)) -> sigmoid(-u)"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, tc.DivOp) or not _is_one(op.lhs):
            return
        u = _one_plus_exp(op.rhs)
        if u is not None:
            new = _Rewrite(op)
            new.apply(rewriter, new.add(tc.SigmoidOp(new.neg(u))))


class SigmoidComplement(RewritePattern):
    """1 - sigmoid(z) -> sigmoid(-z)"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, tc.SubOp) or not _is_one(op.lhs):
            return
        sigmoid = _owner(op.rhs, tc.SigmoidOp)
        if sigmoid is not None:
            new = _Rewrite(op)
            new.apply(rewriter, new.add(tc.SigmoidOp(new.neg(sigmoid.operands[0]))))


class LogSigmoid(RewritePattern):
    """log(sigmoid(z)) -> -softplus(-z)"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, tc.LogOp):
            return
        sigmoid = _owner(op.input, tc.SigmoidOp)
        if sigmoid is not None:
            new = _Rewrite(op)
            softplus = new.add(SoftplusOp(new.neg(sigmoid.operands[0])))
            new.apply(rewriter, new.add(tc.NegOp(softplus)))


class SoftplusFromLog(RewritePattern):
    """log(1 + exp(z)) -> softplus(z), log1p(exp(z)) -> softplus(z)"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, tc.LogOp):
            z = _one_plus_exp(op.input)
        elif isinstance(op, Log1pOp):
            z = _exp_argument(op.operands[0])
        else:
            return
        if z is not None:
            new = _Rewrite(op)
            new.apply(rewriter, new.add(SoftplusOp(z)))


class LogOfExp(RewritePattern):
    """log(exp(u)) -> u"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, tc.LogOp) and (u := _exp_argument(op.input)) is not None:
            rewriter.replace(op, [], [u])


class LogOfExpRatio(RewritePattern):
    """log(exp(u) / s) -> u - log(s) (log of a softmax)"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, tc.LogOp):
            return
        div = _owner(op.input, tc.DivOp)
        if div is None or (u := _exp_argument(div.operands[0])) is None:
            return
        new = _Rewrite(op)
        new.apply(rewriter, new.add(tc.SubOp(u, new.add(tc.LogOp(div.operands[1])))))


class LogOfGatheredExpRatio(RewritePattern):
    """log(gather(exp(u) / s, i)) -> gather(u - log(s), i) (softmax cross-entropy)"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, tc.LogOp):
            return
        gather = _owner(op.input, tc.GatherOp)
        div = None if gather is None else _owner(gather.operands[0], tc.DivOp)
        if div is None or (u := _exp_argument(div.operands[0])) is None:
            return
        assert isinstance(gather, tc.GatherOp)
        new = _Rewrite(op)
        log_ratio = new.add(tc.SubOp(u, new.add(tc.LogOp(div.operands[1]))))
        gathered = tc.GatherOp.build(operands=[log_ratio, list(gather.indices)],
                                     result_types=[op.results[0].type])
        new.apply(rewriter, new.add(gathered))


PATTERNS: tuple[RewritePattern, ...] = (
    SigmoidFromLogistic(),
    SigmoidComplement(),
    LogSigmoid(),
    SoftplusFromLog(),
    LogOfExp(),
    LogOfExpRatio(),
    LogOfGatheredExpRatio(),
)
"""The stabilizing rewrites, tried in this order on each op."""


@dataclass(frozen=True)
class StabilizePass(ModulePass):
    """Replace fragile float expressions by stable sigmoid/softplus forms."""

    name = "tc-stabilize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        applier = GreedyRewritePatternApplier(list(PATTERNS))
        PatternRewriteWalker(applier).rewrite_module(op)
