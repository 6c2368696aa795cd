"""tc-canonicalize: constant folding and algebraic identities on tc ops.

Preconditions: the module verifies. tc ops may sit in any function.

Postconditions: the module verifies, and every value keeps its exact type.
- An op whose operands are all `tc.constant` is replaced by a `tc.constant` holding
  the reference interpreter's result. This happens when the result type is static
  and has at most `MAX_FOLDED_ELEMENTS` elements, or when the result is a splat of
  splat operands (elementwise, broadcast, reshape, transpose). A result whose
  elements are all equal is stored as a splat. Ops whose evaluation fails (e.g. a
  gather index out of range) are left alone, so the error surfaces at run time.
- The identities of `PATTERNS` hold no more (`x * 1`, `x + 0`, `neg(neg(x))`, ...).
  A splat constant counts as a constant also when seen through `tc.broadcast`.
- Dead pure ops are erased (the greedy driver's dead-code elimination).

The float identities `x + 0 -> x` and `x - 0 -> x` ignore the sign of zero (as
Theano's and LLVM's `nsz`): for x = -0.0 they keep -0.0 where IEEE gives +0.0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    ModuleOp,
    TensorType,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)

from tensorc.dialects import tc
from tensorc.dialects.tc import DYNAMIC, array_from_dense, dense_from_array
from tensorc.errors import ShapeError
from tensorc.runtime.interp import REFERENCE, interpret_op

MAX_FOLDED_ELEMENTS = 1024
"""Largest non-splat result that constant folding materializes."""

_SPLAT_PRESERVING: tuple[type[Operation], ...] = (
    *tc.ELEMENTWISE_OPS, tc.BroadcastOp, tc.ReshapeOp, tc.TransposeOp,
)
"""Ops whose result is a splat when all their operands are splats, and whose static
types alone guarantee that they succeed (the verifier checks their shapes; not so
for tc.slice, whose static result type may disagree with its bounds)."""


def _all_equal(raw: bytes, count: int) -> bool:
    """Whether the `count` (> 0) equally sized elements in `raw` are bytewise equal
    (bytes, not values: -0.0 is not 0.0, and a nan equals the same nan)."""
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(count, -1)
    return bool((rows == rows[0]).all())


def splat_element(attr: DenseIntOrFPElementsAttr) -> np.ndarray | None:
    """The common element of `attr` as a 0-d array, or None if it is not a splat."""
    count = len(attr)
    if count == 0 or not _all_equal(attr.data.data, count):
        return None
    size = len(attr.data.data) // count
    scalar_type = TensorType(attr.get_element_type(), [])
    first = BytesAttr(attr.data.data[:size])
    return array_from_dense(DenseIntOrFPElementsAttr(scalar_type, first))


def splat_value(value: SSAValue) -> np.ndarray | None:
    """The element of a splat `tc.constant` defining `value`, looking through
    `tc.broadcast` (which keeps a splat a splat); None otherwise."""
    owner = value.owner
    while isinstance(owner, tc.BroadcastOp):
        owner = owner.input.owner
    if isinstance(owner, tc.ConstantOp):
        return splat_element(owner.value)
    return None


def constant_like(value: np.ndarray, t: Attribute, origin: Operation) -> tc.ConstantOp:
    """A `tc.constant` of type `t` holding `value` (a splat if all elements are
    equal), located where `origin` was so errors still name the user's line."""
    assert isinstance(t, TensorType)
    flat = np.ascontiguousarray(value).reshape(-1)
    if flat.size > 1 and _all_equal(flat.tobytes(), flat.size):
        value = flat[:1]
    constant = tc.ConstantOp(dense_from_array(value, t))
    constant.location = origin.location
    return constant


def _fold(op: Operation, constants: list[tc.ConstantOp]) -> np.ndarray | None:
    """The value of `op` on constant operands, or None if it should not fold."""
    splats = [splat_element(c.value) for c in constants]
    if isinstance(op, _SPLAT_PRESERVING) and all(s is not None for s in splats):
        if not isinstance(op, tc.ELEMENTWISE_OPS):
            return splats[0]  # a shape op moves elements around: same splat
        with np.errstate(all="ignore"):
            return REFERENCE[type(op)](op, splats)[0]  # type: ignore[arg-type]
    result_type = op.results[0].type
    assert isinstance(result_type, TensorType)
    if math.prod(result_type.get_shape()) > MAX_FOLDED_ELEMENTS:
        return None
    try:
        return interpret_op(op, [array_from_dense(c.value) for c in constants])[0]
    except ShapeError:
        return None


class FoldConstantOp(RewritePattern):
    """op(constant, ...) -> constant"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if type(op) not in REFERENCE or isinstance(op, tc.ConstantOp):
            return
        constants = [v.owner for v in op.operands]
        if not constants or not all(isinstance(c, tc.ConstantOp) for c in constants):
            return
        result_type = op.results[0].type
        if len(op.results) != 1 or not isinstance(result_type, TensorType):
            return
        if not result_type.has_static_shape():
            return  # a constant's type is static: folding would change the type
        value = _fold(op, constants)  # type: ignore[arg-type]
        if value is not None:
            rewriter.replace(op, constant_like(value, result_type, op))


class ForwardOperand(RewritePattern):
    """OP(x, c) -> x when operand 1 - KEPT is a splat constant equal to NEUTRAL."""

    OP: ClassVar[type[Operation]]
    KEPT: ClassVar[int]
    NEUTRAL: ClassVar[int]

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if type(op) is not self.OP:
            return
        kept = op.operands[self.KEPT]
        neutral = splat_value(op.operands[1 - self.KEPT])
        if neutral is None or neutral != self.NEUTRAL:
            return
        if kept.type == op.results[0].type:
            rewriter.replace(op, [], [kept])


class SimplifyMulByOne(ForwardOperand):
    """x * 1 -> x"""

    OP, KEPT, NEUTRAL = tc.MulOp, 0, 1


class SimplifyOneMul(ForwardOperand):
    """1 * x -> x"""

    OP, KEPT, NEUTRAL = tc.MulOp, 1, 1


class SimplifyAddZero(ForwardOperand):
    """x + 0 -> x"""

    OP, KEPT, NEUTRAL = tc.AddOp, 0, 0


class SimplifyZeroAdd(ForwardOperand):
    """0 + x -> x"""

    OP, KEPT, NEUTRAL = tc.AddOp, 1, 0


class SimplifySubZero(ForwardOperand):
    """x - 0 -> x"""

    OP, KEPT, NEUTRAL = tc.SubOp, 0, 0


class SimplifyDivByOne(ForwardOperand):
    """x / 1 -> x"""

    OP, KEPT, NEUTRAL = tc.DivOp, 0, 1


class SimplifyPowOne(ForwardOperand):
    """x ** 1 -> x"""

    OP, KEPT, NEUTRAL = tc.PowOp, 0, 1


class SimplifyDoubleNeg(RewritePattern):
    """neg(neg(x)) -> x"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, tc.NegOp) and isinstance(op.input.owner, tc.NegOp):
            rewriter.replace(op, [], [op.input.owner.input])


class RemoveIdentityCast(RewritePattern):
    """cast(x : T) to T -> x"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, tc.CastOp) and op.input.type == op.result.type:
            rewriter.replace(op, [], [op.input])


class RemoveIdentityBroadcast(RewritePattern):
    """broadcast(x : T) -> T -> x (no dim is stretched or added)"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        # Only statically-1 dims stretch, so equal types mean equal shapes at run
        # time too (a dynamic dim must already equal its target).
        if isinstance(op, tc.BroadcastOp) and op.input.type == op.result.type:
            rewriter.replace(op, [], [op.input])


class FoldStaticDim(RewritePattern):
    """dim(x)[axis] -> constant when x's type has that dim static"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, tc.DimOp):
            return
        input_type = op.input.type
        assert isinstance(input_type, TensorType)
        size = input_type.get_shape()[op.axis.value.data]
        if size != DYNAMIC:
            value = np.array(size, dtype=np.int64)
            rewriter.replace(op, constant_like(value, op.result.type, op))


def splat_like(value: np.ndarray, like: SSAValue, origin: Operation
               ) -> list[Operation]:
    """Ops making a splat of `value` with `like`'s type, `like` being a splat
    constant possibly seen through `tc.broadcast` (whose dims are reused)."""
    t = like.type
    assert isinstance(t, TensorType)
    if t.has_static_shape():
        return [constant_like(value, t, origin)]
    shaped = like.owner
    assert isinstance(shaped, tc.BroadcastOp)
    scalar = constant_like(value, TensorType(t.get_element_type(), []), origin)
    spread = tc.BroadcastOp.build(operands=[scalar.result, list(shaped.dims)],
                                  result_types=[t])
    spread.location = origin.location
    return [scalar, spread]


class FoldSplatElementwise(RewritePattern):
    """op(splat a, splat b) -> splat op(a, b) (dynamic shapes: a broadcast constant)"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, tc.ELEMENTWISE_OPS) or not op.operands:
            return
        result_type = op.results[0].type
        if not isinstance(result_type, TensorType) or result_type.has_static_shape():
            return  # static results are FoldConstantOp's
        splats = [splat_value(v) for v in op.operands]
        if any(s is None for s in splats) or op.operands[0].type.has_static_shape():
            return
        with np.errstate(all="ignore"):
            value = REFERENCE[type(op)](op, splats)[0]  # type: ignore[arg-type]
        shaped = op.operands[0].owner
        assert isinstance(shaped, tc.BroadcastOp)
        scalar_type = TensorType(result_type.get_element_type(), [])
        scalar = constant_like(value, scalar_type, op)
        spread = tc.BroadcastOp.build(operands=[scalar.result, list(shaped.dims)],
                                      result_types=[result_type])
        spread.location = op.location
        rewriter.replace(op, [scalar, spread])


class ExpandSquare(RewritePattern):
    """x ** 2 -> x * x"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, tc.PowOp):
            return
        two = splat_value(op.rhs)
        if two is not None and two == 2:
            square = tc.MulOp(op.lhs, op.lhs)
            square.location = op.location
            rewriter.replace(op, [square])


class CancelNegations(RewritePattern):
    """(-a) * (-b) -> a * b, (-a) / (-b) -> a / b"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if type(op) not in (tc.MulOp, tc.DivOp):
            return
        lhs, rhs = (v.owner for v in op.operands)
        if isinstance(lhs, tc.NegOp) and isinstance(rhs, tc.NegOp):
            new = type(op)(lhs.input, rhs.input)
            new.location = op.location
            rewriter.replace(op, [new])


class SimplifyMulByMinusOne(RewritePattern):
    """x * -1 -> -x, -1 * x -> -x"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if type(op) is not tc.MulOp or not tc.is_float(op.results[0].type):
            return
        for factor, x in ((op.rhs, op.lhs), (op.lhs, op.rhs)):
            minus_one = splat_value(factor)
            if minus_one is not None and minus_one == -1 and splat_value(x) is None:
                negated = tc.NegOp(x)
                negated.location = op.location
                rewriter.replace(op, [negated])
                return


class AbsorbNegation(RewritePattern):
    """-(a * (-b)) -> a * b, -((-a) * b) -> a * b"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        product = op.operands[0].owner if isinstance(op, tc.NegOp) else None
        if type(product) is not tc.MulOp:
            return
        lhs, rhs = product.lhs, product.rhs
        if isinstance(rhs.owner, tc.NegOp):
            new = tc.MulOp(lhs, rhs.owner.input)
        elif isinstance(lhs.owner, tc.NegOp):
            new = tc.MulOp(lhs.owner.input, rhs)
        else:
            return
        new.location = op.location
        rewriter.replace(op, [new])


class DimOfElementwise(RewritePattern):
    """dim(f(x, ...))[axis] -> dim(x)[axis] for elementwise f (x keeps f's shape)"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, tc.DimOp):
            return
        source = op.input.owner
        if isinstance(source, tc.ELEMENTWISE_OPS) and source.operands:
            dim = tc.DimOp.build(operands=[source.operands[0]],
                                 result_types=[op.result.type],
                                 properties={"axis": op.axis})
            dim.location = op.location
            rewriter.replace(op, [dim])


class CombineScaleFactors(RewritePattern):
    """c1 * (c2 * x) -> (c1 * c2) * x, for splat constants c1, c2 (either side)"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if type(op) is not tc.MulOp:
            return
        for outer, inner_value in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            inner = inner_value.owner
            c1 = splat_value(outer)
            if c1 is None or type(inner) is not tc.MulOp:
                continue
            if splat_value(inner_value) is not None:
                continue  # all constant: FoldConstantOp's
            for factor, x in ((inner.lhs, inner.rhs), (inner.rhs, inner.lhs)):
                c2 = splat_value(factor)
                if c2 is not None and splat_value(x) is None:
                    with np.errstate(all="ignore"):
                        value = np.asarray(c1 * c2, dtype=c1.dtype)
                    scale = splat_like(value, outer, op)
                    product = tc.MulOp(scale[-1].results[0], x)
                    product.location = op.location
                    rewriter.replace(op, [*scale, product])
                    return


PATTERNS: tuple[RewritePattern, ...] = (
    FoldConstantOp(),
    SimplifyMulByOne(),
    SimplifyOneMul(),
    SimplifyAddZero(),
    SimplifyZeroAdd(),
    SimplifySubZero(),
    SimplifyDivByOne(),
    SimplifyPowOne(),
    SimplifyDoubleNeg(),
    RemoveIdentityCast(),
    RemoveIdentityBroadcast(),
    FoldStaticDim(),
    FoldSplatElementwise(),
    ExpandSquare(),
    CancelNegations(),
    SimplifyMulByMinusOne(),
    AbsorbNegation(),
    DimOfElementwise(),
    CombineScaleFactors(),
)
"""The patterns, tried in this order on each op (folding first)."""


@dataclass(frozen=True)
class CanonicalizePass(ModulePass):
    """Fold constants and apply tc's algebraic identities until nothing changes."""

    name = "tc-canonicalize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        applier = GreedyRewritePatternApplier(list(PATTERNS))
        PatternRewriteWalker(applier).rewrite_module(op)
