"""VJP_RULES: every tc op -> its vector-Jacobian product, or why it has none.

A rule `rule(b, op, g)` gets a `GradBuilder`, the forward op and the cotangent `g`
of its (single) result, emits tc ops and returns one cotangent per operand (None
for operands that carry no gradient: integer/bool operands, dims, indices). A
returned cotangent may have the shape of the op's *result* where the operand was
broadcast to it: tc-autodiff sums it back with its one generic `unbroadcast`. Rules
compute every float operand's cotangent; the pass drops those nobody needs.

Stable forms are chosen here, not recovered later by rewrites: sigmoid' is
`sigmoid(x) * sigmoid(-x)` (no `1 - y` cancellation), softplus' is `sigmoid(x)`,
the quotient rule reuses the quotient (no `y * y` overflow), and `d(x**y)/dy` is 0
where x == 0. max/min send the gradient to the first extremum (the one argmax
picks), prod handles zeros exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import TensorType, i64
from xdsl.ir import Operation, SSAValue

from tensorc.autodiff.builder import BIG, GradBuilder, element, shape, tensor_of
from tensorc.autodiff.scan import scan_vjp
from tensorc.dialects import tc
from tensorc.dialects.tc import DYNAMIC

Cotangents = Sequence[SSAValue | None]
Rule = Callable[[GradBuilder, Operation, SSAValue], Cotangents]


@dataclass(frozen=True)
class MultiResultRule:
    """The VJP rule of an op with several results: `rule(b, op, gs, active)` gets
    one cotangent per result (None where no gradient flows back into it) and, per
    operand, whether its cotangent is wanted (it depends on some wrt)."""

    rule: Callable[
        [GradBuilder, Operation, list[SSAValue | None], list[bool]], Cotangents
    ]


@dataclass(frozen=True)
class NonDifferentiable:
    """Declares that no gradient flows through an op (the reason says why)."""

    reason: str


# ---------------------------------------------------------------------------------
# Elementwise
# ---------------------------------------------------------------------------------

Derivative = Callable[[GradBuilder, SSAValue, SSAValue, SSAValue], SSAValue]
"""(b, x, y, g) -> cotangent of x, for y = f(x) with cotangent g."""

_UNARY: dict[str, Derivative] = {
    "neg": lambda b, x, y, g: b.neg(g),
    "abs": lambda b, x, y, g: b.mul(g, b.unary(tc.SignOp, x)),
    "exp": lambda b, x, y, g: b.mul(g, y),
    "log": lambda b, x, y, g: b.div(g, x),
    "log1p": lambda b, x, y, g: b.div(g, b.add(b.full_like(1, x), x)),
    "expm1": lambda b, x, y, g: b.mul(g, b.add(y, b.full_like(1, y))),
    "sqrt": lambda b, x, y, g: b.div(g, b.mul(b.full_like(2, y), y)),
    "sin": lambda b, x, y, g: b.mul(g, b.unary(tc.FLOAT_UNARY_OPS["cos"], x)),
    "cos": lambda b, x, y, g: b.mul(g, b.neg(b.unary(tc.FLOAT_UNARY_OPS["sin"], x))),
    "tan": lambda b, x, y, g: b.mul(g, b.add(b.full_like(1, y), b.mul(y, y))),
    "tanh": lambda b, x, y, g: b.mul(g, b.sub(b.full_like(1, y), b.mul(y, y))),
    "sigmoid": lambda b, x, y, g: b.mul(
        g, b.mul(y, b.unary(tc.SigmoidOp, b.neg(x)))),
    "softplus": lambda b, x, y, g: b.mul(g, b.unary(tc.SigmoidOp, x)),
    "erf": lambda b, x, y, g: b.mul(g, b.mul(
        b.full_like(2 / math.sqrt(math.pi), x), b.unary(tc.ExpOp, b.neg(b.mul(x, x))))),
}


def _unary_rule(derivative: Derivative) -> Rule:
    def rule(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
        return [derivative(b, op.operands[0], op.results[0], g)]

    return rule


BinaryDerivative = Callable[
    [GradBuilder, SSAValue, SSAValue, SSAValue, SSAValue], Cotangents]
"""(b, x, y, z, g) -> cotangents of x and y, for z = f(x, y) with cotangent g."""


def _pow(b: GradBuilder, x: SSAValue, y: SSAValue, z: SSAValue, g: SSAValue
         ) -> Cotangents:
    """d(x**y) = y * x**(y-1) dx + x**y * log(x) dy (0 where x == 0)."""
    dx = b.mul(g, b.mul(y, b.binary(tc.PowOp, x, b.sub(y, b.full_like(1, y)))))
    zero = b.zeros_like(x)
    log_x = b.select(b.compare("eq", x, zero), zero, b.unary(tc.LogOp, x))
    return [dx, b.mul(g, b.mul(z, log_x))]


def _extremum_pair(comparison: str) -> BinaryDerivative:
    """maximum/minimum: the gradient goes to the chosen operand (x on ties)."""

    def derivative(b: GradBuilder, x: SSAValue, y: SSAValue, z: SSAValue, g: SSAValue
                   ) -> Cotangents:
        x_chosen, zero = b.compare(comparison, x, y), b.zeros_like(g)
        return [b.select(x_chosen, g, zero), b.select(x_chosen, zero, g)]

    return derivative


def _div(b: GradBuilder, x: SSAValue, y: SSAValue, z: SSAValue, g: SSAValue
         ) -> Cotangents:
    """d(x/y) = dx / y - (x/y) / y dy."""
    gx = b.div(g, y)
    return [gx, b.neg(b.mul(gx, z))]


_BINARY: dict[str, BinaryDerivative] = {
    "add": lambda b, x, y, z, g: [g, g],
    "sub": lambda b, x, y, z, g: [g, b.neg(g)],
    "mul": lambda b, x, y, z, g: [b.mul(g, y), b.mul(g, x)],
    "div": _div,
    # x % y == x - floor(x / y) * y, and floor(x / y) is piecewise constant.
    "mod": lambda b, x, y, z, g: [
        g, b.neg(b.mul(g, b.binary(tc.BINARY_OPS["floordiv"], x, y)))],
    "pow": _pow,
    "maximum": _extremum_pair("ge"),
    "minimum": _extremum_pair("le"),
}


def _binary_rule(derivative: BinaryDerivative) -> Rule:
    def rule(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
        x, y = op.operands
        return derivative(b, x, y, op.results[0], g)

    return rule


def _select(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    assert isinstance(op, tc.SelectOp)
    zero = b.zeros_like(g)
    return [None, b.select(op.condition, g, zero), b.select(op.condition, zero, g)]


def _cast(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    x = op.operands[0]
    return [b.cast(g, element(x)) if tc.is_float(x.type) else None]


# ---------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------


def _reduction_parts(b: GradBuilder, op: Operation, g: SSAValue
                     ) -> tuple[SSAValue, tuple[int, ...], SSAValue]:
    """(x, axes, g broadcast back to x's shape)."""
    assert isinstance(op, tc.ReductionOp)
    x, axes = op.input, op.reduced_axes()
    leading = axes == tuple(range(len(axes)))  # broadcasting re-adds leading axes
    kept = g if op.keepdims is not None or leading else b.expand_reduced(g, x, axes)
    return x, axes, b.broadcast_like(kept, x)


def _sum(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    return [_reduction_parts(b, op, g)[2]]


def _prod(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    """d prod / dx_i = product of the others: p / x_i without zeros; with one zero
    only that element gets the product of the rest; with more, all get 0."""
    x, axes, gx = _reduction_parts(b, op, g)
    zero, one = b.zeros_like(x), b.full_like(1, x)
    is_zero = b.compare("eq", x, zero)
    nonzero_prod = b.broadcast_like(
        b.reduce("prod", b.select(is_zero, one, x), axes, keepdims=True), x)
    zeros = b.broadcast_like(
        b.reduce("sum", b.cast(is_zero, element(x)), axes, keepdims=True), x)
    at_zero = b.select(b.compare("eq", zeros, one), nonzero_prod, zero)
    elsewhere = b.select(b.compare("eq", zeros, zero), b.div(nonzero_prod, x), zero)
    return [b.mul(gx, b.select(is_zero, at_zero, elsewhere))]


def _flat_reduced_index(b: GradBuilder, x: SSAValue, axes: Sequence[int]) -> SSAValue:
    """For each element of x, its row-major index within the reduced `axes` (what
    argmax/argmin return), as an i64 tensor of x's shape."""
    rank, dims = len(shape(x)), shape(x)
    index: SSAValue | None = None
    stride: SSAValue | None = None
    for axis in reversed(axes):
        n = b.dim(x, axis)
        iota = b.arange(n, dims[axis])
        column_t = TensorType(element(iota), [dims[axis] if a == axis else 1
                                               for a in range(rank)])
        term = b.broadcast_like(b.reshape(iota, column_t, b.dynamic_dims(iota)), x)
        if stride is not None:
            term = b.mul(term, b.broadcast_like(stride, x))
        index = term if index is None else b.add(index, term)
        stride = n if stride is None else b.mul(stride, n)
    assert index is not None
    return index


def _extremum(arg_name: str) -> Rule:
    """max/min: the whole gradient goes to the first extremum (argmax/argmin)."""

    def rule(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
        x, axes, gx = _reduction_parts(b, op, g)
        chosen = b.broadcast_like(b.reduce(arg_name, x, axes, keepdims=True), x)
        mask = b.compare("eq", _flat_reduced_index(b, x, axes), chosen)
        return [b.select(mask, gx, b.zeros_like(x))]

    return rule


# ---------------------------------------------------------------------------------
# Linear algebra and shape ops
# ---------------------------------------------------------------------------------


def _matmul(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    """numpy.dot in its four 1-D/2-D combinations."""
    x, y = op.operands
    rank_x, rank_y = len(shape(x)), len(shape(y))
    if rank_x == 2 and rank_y == 2:
        return [b.matmul(g, b.transpose(y, (1, 0))),
                b.matmul(b.transpose(x, (1, 0)), g)]
    if rank_x == 2:  # (m,k) . (k) -> (m)
        return [b.outer(g, y), b.matmul(b.transpose(x, (1, 0)), g)]
    if rank_y == 2:  # (k) . (k,n) -> (n)
        return [b.matmul(y, g), b.outer(x, g)]
    return [b.mul(b.broadcast_like(g, x), b.conform(y, x)),
            b.mul(b.broadcast_like(g, y), b.conform(x, y))]


def _transpose(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    assert isinstance(op, tc.TransposeOp)
    perm = list(op.perm.get_values())
    return [b.transpose(g, [perm.index(a) for a in range(len(perm))])]


def _reshape(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    assert isinstance(op, tc.ReshapeOp)
    return [b.conform(g, op.input), *[None] * len(op.dims)]


def _broadcast(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    assert isinstance(op, tc.BroadcastOp)
    return [g, *[None] * len(op.dims)]  # tc-autodiff unbroadcasts g


def _slice_spec(op: tc.SliceOp | tc.InsertSliceOp
                ) -> tuple[list[int], list[int], list[int]]:
    return (list(op.starts.get_values()), list(op.stops.get_values()),
            list(op.steps.get_values()))


def _slice(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    assert isinstance(op, tc.SliceOp)
    bounds = list(op.bounds)
    zeros = b.zeros_like(op.input)
    spread = b.emit(tc.InsertSliceOp(g, zeros, bounds, *_slice_spec(op)))
    return [spread, *[None] * len(bounds)]


def _insert_slice(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    assert isinstance(op, tc.InsertSliceOp)
    bounds, spec = list(op.bounds), _slice_spec(op)
    source_t = op.source.type
    assert isinstance(source_t, TensorType)
    d_source = b.slice(g, source_t, bounds, *spec)
    d_dest = b.emit(tc.InsertSliceOp(b.zeros_like(op.source), g, bounds, *spec))
    return [d_source, d_dest, *[None] * len(bounds)]


def _gather(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    assert isinstance(op, tc.GatherOp)
    indices = list(op.indices)
    scattered = b.emit(tc.ScatterAddOp(g, b.zeros_like(op.input), indices))
    return [scattered, *[None] * len(indices)]


def _scatter_add(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    assert isinstance(op, tc.ScatterAddOp)
    indices = list(op.indices)
    gathered = b.emit(tc.GatherOp.build(operands=[g, indices],
                                        result_types=[op.updates.type]))
    return [gathered, g, *[None] * len(indices)]


def _concatenate(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    """Each input gets its slice of g along the axis."""
    assert isinstance(op, tc.ConcatenateOp)
    axis, rank = op.axis.value.data, len(shape(g))
    offset: int | SSAValue = 0
    cotangents: list[SSAValue | None] = []
    for value in op.inputs:
        size = shape(value)[axis]
        end: int | SSAValue
        if isinstance(offset, int) and size != DYNAMIC:
            end = offset + size
        else:
            start = offset if isinstance(offset, SSAValue) else b.constant(
                offset, TensorType(i64, []))
            end = b.add(start, b.dim(value, axis))
        starts, stops = [0] * rank, [BIG] * rank
        bounds: list[SSAValue] = []
        for spec, bound in ((starts, offset), (stops, end)):
            if isinstance(bound, int):
                spec[axis] = bound
            else:
                spec[axis] = DYNAMIC
                bounds.append(bound)
        t = value.type
        assert isinstance(t, TensorType)
        cotangents.append(b.slice(g, t, bounds, starts, stops, [1] * rank))
        offset = end
    return cotangents


def _im2col(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    """Each image element gets the sum of the patch cotangents that read it."""
    assert isinstance(op, tc.Im2colOp)
    x = op.input
    sizes = b.dynamic_dims(x, (2, 3))
    return [b.emit(tc.Col2imOp(g, tensor_of(x), sizes, *op.window()))]


def _col2im(b: GradBuilder, op: Operation, g: SSAValue) -> Cotangents:
    """Each patch element gets the cotangent of the image element it was added to."""
    assert isinstance(op, tc.Col2imOp)
    patches = b.emit(tc.Im2colOp(g, *op.window()))
    return [b.conform(patches, op.input), *[None] * len(op.dims)]


# ---------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------

_PIECEWISE_CONSTANT = NonDifferentiable("piecewise constant: zero gradient")
_DISCRETE = NonDifferentiable("integer or boolean result")

VJP_RULES: dict[type[Operation], Rule | NonDifferentiable] = {
    tc.NegOp: _unary_rule(_UNARY["neg"]),
    tc.AbsOp: _unary_rule(_UNARY["abs"]),
    **{tc.FLOAT_UNARY_OPS[n]: _unary_rule(d) for n, d in _UNARY.items()
       if n in tc.FLOAT_UNARY_OPS},
    **{tc.FLOAT_UNARY_OPS[n]: _PIECEWISE_CONSTANT for n in ("floor", "ceil", "round")},
    tc.SignOp: _PIECEWISE_CONSTANT,
    tc.NotOp: _DISCRETE,
    **{tc.BINARY_OPS[n]: _binary_rule(d) for n, d in _BINARY.items()},
    tc.BINARY_OPS["floordiv"]: _PIECEWISE_CONSTANT,
    **{tc.BINARY_OPS[n]: _DISCRETE for n in ("and", "or", "xor")},
    **{cls: _DISCRETE for cls in tc.COMPARE_OPS.values()},
    tc.SelectOp: _select,
    tc.CastOp: _cast,
    tc.ConstantOp: NonDifferentiable("no operands"),
    tc.BroadcastOp: _broadcast,
    tc.REDUCTION_OPS["sum"]: _sum,
    tc.REDUCTION_OPS["prod"]: _prod,
    tc.REDUCTION_OPS["max"]: _extremum("argmax"),
    tc.REDUCTION_OPS["min"]: _extremum("argmin"),
    tc.REDUCTION_OPS["argmax"]: _DISCRETE,
    tc.REDUCTION_OPS["argmin"]: _DISCRETE,
    tc.MatmulOp: _matmul,
    tc.TransposeOp: _transpose,
    tc.ReshapeOp: _reshape,
    tc.SliceOp: _slice,
    tc.GatherOp: _gather,
    tc.ConcatenateOp: _concatenate,
    tc.DimOp: _DISCRETE,
    tc.HashUniformOp: NonDifferentiable("random numbers do not depend on their counters"),
    tc.ArangeOp: NonDifferentiable("its values are piecewise constant in its bounds"),
    tc.GradOp: NonDifferentiable("tc-autodiff expands it before any sweep reaches it"),
    tc.StopGradientOp: NonDifferentiable("it exists to stop gradients"),
    tc.InsertSliceOp: _insert_slice,
    tc.ScatterAddOp: _scatter_add,
    tc.Im2colOp: _im2col,
    tc.Col2imOp: _col2im,
    tc.CompositeOp: NonDifferentiable(
        "tc-fuse-elemwise builds composites after tc-autodiff has run"),
    tc.ScanOp: MultiResultRule(scan_vjp),
}
"""tc op class -> VJP rule, or a NonDifferentiable declaration (gradient stops)."""
