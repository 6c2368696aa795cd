"""`tensorc.functions`, usually imported as `F`: differentiable functions on eager
`tensorc.Variable`s (Chainer's `chainer.functions`).

    import tensorc.functions as F
    loss = F.softmax_cross_entropy(F.linear(x, W, b), t)
    loss.backward()

Each function builds the symbolic frontend graph of its math (the same builders
`tensorc.tensor` uses) and evaluates it at once; there is no derivative math here:
`backward()` differentiates the recorded graph. Arguments may be Variables or numpy
arrays (arrays become constant inputs without gradients).

float16: values and gradients stay float16, but reductions that would lose the
result in float16 (sums, means, matrix products, softmax normalizers, losses) are
computed in float32 and the result is cast back.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tensorc.define_by_run.variable import Variable, record
from tensorc.errors import ShapeError
from tensorc.frontend import elemwise, reduce, shape_ops
from tensorc.frontend.variable import Variable as Node
from tensorc.tensor import conv, nnet
from tensorc.tensor.signal import pool

CHAINER_FUNCTIONS = [
    "accuracy", "argmax", "argmin", "batch_matmul", "cast", "clip", "concat",
    "dropout", "elu", "embed_id", "expand_dims", "flatten", "get_item", "hstack",
    "identity", "max", "maximum", "min", "minimum", "sigmoid_cross_entropy",
    "split_axis", "squeeze", "stack", "swapaxes", "vstack", "where",
    "convolution_2d", "max_pooling_2d", "average_pooling_2d",
    "batch_normalization", "fixed_batch_normalization", "lstm", "average",
    "local_response_normalization",
]
"""Functions added for Chainer programs (checked by tests/test_chainer_compat.py)."""

__all__ = [
    "absolute", "accuracy", "argmax", "argmin", "batch_matmul", "broadcast_to", "cast",
    "clip", "concat", "cos", "dropout", "elu", "embed_id", "exp", "expand_dims",
    "flatten", "get_item", "hstack", "identity", "leaky_relu", "linear", "log",
    "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean",
    "mean_squared_error", "min", "minimum", "relu", "reshape", "sigmoid",
    "sigmoid_cross_entropy", "sin", "softmax", "softmax_cross_entropy", "softplus",
    "split_axis", "sqrt", "square", "squeeze", "stack", "sum", "swapaxes", "tanh",
    "transpose", "vstack", "where", "convolution_2d", "max_pooling_2d",
    "average_pooling_2d", "batch_normalization", "fixed_batch_normalization", "lstm",
    "average", "local_response_normalization",
]

# -- float16: compute in float32, return float16 ---------------------------------


def _widened(build: Callable[..., Node]) -> Callable[..., Node]:
    """`build` on float32 copies of float16 operands, its result cast back to
    float16 (for computations whose accumulation would lose the result)."""

    def run(*operands: Any, **options: Any) -> Node:
        narrow = any(isinstance(o, Node) and o.dtype == "float16" for o in operands)
        if not narrow:
            return build(*operands, **options)
        wide = [elemwise.cast(o, "float32") if isinstance(o, Node) and o.dtype ==
                "float16" else o for o in operands]
        return elemwise.cast(build(*wide, **options), "float16")

    return run


# -- elementwise --------------------------------------------------------------------


def sin(x: Any) -> Variable: return record(elemwise.sin, x)
def cos(x: Any) -> Variable: return record(elemwise.cos, x)
def exp(x: Any) -> Variable: return record(elemwise.exp, x)
def log(x: Any) -> Variable: return record(elemwise.log, x)
def sqrt(x: Any) -> Variable: return record(elemwise.sqrt, x)
def square(x: Any) -> Variable: return record(elemwise.sqr, x)
def absolute(x: Any) -> Variable: return record(elemwise.abs, x)
def tanh(x: Any) -> Variable: return record(elemwise.tanh, x)
def sigmoid(x: Any) -> Variable: return record(elemwise.sigmoid, x)
def softplus(x: Any) -> Variable: return record(elemwise.softplus, x)
def relu(x: Any) -> Variable: return record(nnet.relu, x)


def leaky_relu(x: Any, slope: float = 0.2) -> Variable:
    """x for x >= 0, slope * x otherwise."""
    return record(lambda v: elemwise.switch(elemwise.ge(v, 0), v, v * slope), x)


# -- reductions ---------------------------------------------------------------------


def sum(x: Any, axis: int | Sequence[int] | None = None,  # noqa: A001
        keepdims: bool = False) -> Variable:
    """Sum over `axis` (all axes by default); float16 accumulates in float32."""
    return record(_widened(reduce.sum), x, axis=axis, keepdims=keepdims)


def mean(x: Any, axis: int | Sequence[int] | None = None,
         keepdims: bool = False) -> Variable:
    """Mean over `axis` (all axes by default); float16 accumulates in float32."""
    return record(_widened(reduce.mean), x, axis=axis, keepdims=keepdims)


def logsumexp(x: Any, axis: int | Sequence[int] | None = None) -> Variable:
    """log(sum(exp(x), axis)) without overflow."""
    return record(_widened(nnet.logsumexp), x, axis=axis)


# -- products and shapes -------------------------------------------------------------


def _swap_last(x: Node) -> Node:
    return shape_ops.transpose(x, [*range(x.ndim - 2), x.ndim - 1, x.ndim - 2])


def _matmul(a: Node, b: Node, transa: bool, transb: bool) -> Node:
    a = _swap_last(a) if transa and a.ndim > 1 else a
    b = _swap_last(b) if transb and b.ndim > 1 else b
    if builtins.max(a.ndim, b.ndim) > 2:
        return _batched_matmul(a, b)
    return reduce.dot(a, b)


def matmul(a: Any, b: Any, transa: bool = False, transb: bool = False) -> Variable:
    """Matrix (or matrix-vector, vector-vector) product of 1-D/2-D operands,
    optionally transposing them first; operands of 3 or more dims are stacks of
    matrices (the last two axes; the batch axes broadcast)."""
    return record(_widened(_matmul), a, b, transa=transa, transb=transb)


def _linear(x: Node, weight: Node, bias: Node | None, n_batch_axes: int) -> Node:
    batched = x.ndim != 2 or n_batch_axes != 1
    features = elemwise.dim(weight, 1)
    flat = shape_ops.reshape(x, [-1, features]) if batched else x
    y = reduce.dot(flat, shape_ops.transpose(weight))
    y = y if bias is None else elemwise.add(y, bias)
    if not batched:
        return y
    batch = [elemwise.dim(x, a) for a in range(n_batch_axes)]
    return shape_ops.reshape(y, [*batch, elemwise.dim(weight, 0)])


def linear(x: Any, W: Any, b: Any = None,  # noqa: N803  (Chainer's names)
           n_batch_axes: int = 1) -> Variable:
    """x W^T + b, with W of shape (out, in) (Chainer's convention); the axes of `x`
    after the first `n_batch_axes` are flattened into one."""
    return record(_widened(_linear), x, W, b, n_batch_axes=n_batch_axes)


def reshape(x: Any, shape: Sequence[int]) -> Variable:
    return record(shape_ops.reshape, x, tuple(shape))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Variable:
    return record(shape_ops.transpose, x, None if axes is None else tuple(axes))


def broadcast_to(x: Any, shape: Sequence[int]) -> Variable:
    """`x` broadcast to `shape` (numpy rules)."""
    return record(lambda v: shape_ops.alloc(v, *shape), x)


# -- softmax and losses --------------------------------------------------------------


def softmax(x: Any, axis: int = 1) -> Variable:
    """exp(x) / sum(exp(x)) along `axis` (stable: the max is subtracted)."""
    return record(_widened(nnet.softmax), x, axis=axis)


def log_softmax(x: Any, axis: int = 1) -> Variable:
    """log(softmax(x)) along `axis`, computed stably as x - logsumexp(x)."""
    return record(_widened(nnet.log_softmax), x, axis=axis)


def _softmax_cross_entropy(x: Node, t: Node, normalize: bool, ignore_label: int,
                           reduction: str) -> Node:
    if x.ndim != 2 or t.ndim != 1 or t.dtype not in ("int8", "int16", "int32", "int64"):
        raise TypeError(
            "softmax_cross_entropy takes scores of shape (N, classes) and integer "
            f"labels of shape (N,); got {x.type} and {t.type}"
        )
    log_p = nnet.log_softmax(x, axis=1)
    classes = shape_ops.arange(elemwise.dim(x, 1))
    one_hot = elemwise.eq(shape_ops.dimshuffle(t, (0, "x")),
                          shape_ops.dimshuffle(classes, ("x", 0)))
    # A label equal to ignore_label (negative) matches no class: its loss is 0.
    losses = elemwise.neg(reduce.sum(elemwise.switch(one_hot, log_p, 0), axis=1))
    if reduction == "no":
        return losses
    if normalize:
        valid = reduce.sum(elemwise.cast(elemwise.neq(t, ignore_label), x.dtype))
        count = elemwise.maximum(valid, 1)
    else:
        count = elemwise.cast(elemwise.dim(x, 0), x.dtype)
    return elemwise.true_div(reduce.sum(losses), count)


def softmax_cross_entropy(x: Any, t: Any, normalize: bool = True,
                          ignore_label: int = -1, reduce: str = "mean") -> Variable:
    """Cross entropy of softmax(x) against integer labels `t` (Chainer's).

    `reduce="mean"` averages over the samples whose label is not `ignore_label`
    (over all samples with `normalize=False`); `reduce="no"` gives the loss per
    sample. float16 scores are processed in float32.
    """
    if reduce not in ("mean", "no"):
        raise ValueError(f"softmax_cross_entropy: reduce must be 'mean' or 'no', got "
                         f"{reduce!r}")
    if ignore_label >= 0:
        raise ValueError("softmax_cross_entropy: ignore_label must be negative")
    build = _widened(_softmax_cross_entropy)
    return record(build, x, t, normalize=normalize, ignore_label=ignore_label,
                  reduction=reduce)


def _mean_squared_error(x0: Node, x1: Node) -> Node:
    diff = elemwise.sub(x0, x1)
    return reduce.mean(elemwise.mul(diff, diff))


def mean_squared_error(x0: Any, x1: Any) -> Variable:
    """mean((x0 - x1) ** 2) over all elements (float16 accumulates in float32)."""
    return record(_widened(_mean_squared_error), x0, x1)


# -- more of Chainer's functions (what typical training programs call) --------------
# Each builds its math from frontend nodes; the ones without gradients (accuracy,
# argmax) record values only in effect, since their outputs are integers or come
# from comparisons.


def identity(*xs: Any) -> Any:
    """New Variables equal to the inputs (one input: one Variable, else a tuple)."""
    outputs = record(lambda *v: [elemwise.identity(n) for n in v], *xs)
    return outputs[0] if len(xs) == 1 else outputs


def cast(x: Any, dtype: Any) -> Variable:
    return record(elemwise.cast, x, np.dtype(dtype).name)


def maximum(x1: Any, x2: Any) -> Variable:
    """Elementwise maximum; the gradient goes to the larger input (x1 on ties)."""
    return record(elemwise.maximum, x1, x2)


def minimum(x1: Any, x2: Any) -> Variable:
    """Elementwise minimum; the gradient goes to the smaller input (x1 on ties)."""
    return record(elemwise.minimum, x1, x2)


def clip(x: Any, x_min: float, x_max: float) -> Variable:
    """x limited to [x_min, x_max]; no gradient where it is limited."""
    if not x_min < x_max:
        raise ValueError(f"clip: x_min ({x_min}) must be less than x_max ({x_max})")
    return record(elemwise.clip, x, x_min, x_max)


def where(condition: Any, x: Any, y: Any) -> Variable:
    """x where the boolean `condition` holds, y elsewhere (broadcast)."""
    return record(elemwise.switch, condition, x, y)


def elu(x: Any, alpha: float = 1.0) -> Variable:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def build(v: Node) -> Node:
        # expm1 of min(x, 0): the branch not taken must not overflow, or its zero
        # gradient times inf would be NaN.
        negative = elemwise.expm1(elemwise.minimum(v, 0)) * alpha
        return elemwise.switch(elemwise.gt(v, 0), v, negative)

    return record(build, x)


def dropout(x: Any, ratio: float = 0.5) -> Variable:
    """In training (`tensorc.config.train`), zero each element with probability
    `ratio` and scale the others by 1 / (1 - ratio); otherwise return x.

    The mask is drawn with numpy's global generator and enters the graph as a
    constant input, so every step records (and compiles) the same structure.
    """
    from tensorc.define_by_run.config import training

    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"dropout: ratio must be in [0, 1), got {ratio}")
    if not training():
        return x if isinstance(x, Variable) else Variable(x, requires_grad=False)
    dtype = x.dtype if isinstance(x, Variable) else np.asarray(x).dtype
    keep = np.random.rand(*np.shape(x.data if isinstance(x, Variable) else x)) >= ratio
    mask = keep.astype(dtype) * dtype.type(1.0 / (1.0 - ratio))
    return record(elemwise.mul, x, mask)


# -- reductions and indices ----------------------------------------------------------


def max(x: Any, axis: int | Sequence[int] | None = None,
        keepdims: bool = False) -> Variable:
    """Maximum over `axis`; the gradient goes to the first maximal element."""
    return record(reduce.max, x, axis=axis, keepdims=keepdims)


def min(x: Any, axis: int | Sequence[int] | None = None,
        keepdims: bool = False) -> Variable:
    """Minimum over `axis`; the gradient goes to the first minimal element."""
    return record(reduce.min, x, axis=axis, keepdims=keepdims)


def argmax(x: Any, axis: int | None = None) -> Variable:
    """Index of the first maximum (int32, as in Chainer)."""
    return record(lambda v: elemwise.cast(reduce.argmax(v, axis=axis), "int32"), x)


def argmin(x: Any, axis: int | None = None) -> Variable:
    """Index of the first minimum (int32, as in Chainer)."""
    return record(lambda v: elemwise.cast(reduce.argmin(v, axis=axis), "int32"), x)


def _accuracy(y: Node, t: Node, ignore_label: int | None) -> Node:
    if t.dtype not in ("int8", "int16", "int32", "int64") or y.ndim != t.ndim + 1:
        raise TypeError(f"accuracy takes scores (N, classes, ...) and integer labels "
                        f"(N, ...); got {y.type} and {t.type}")
    wide = "float32" if y.dtype == "float16" else y.dtype  # counts above 2048
    hits = elemwise.cast(elemwise.eq(reduce.argmax(y, axis=1), t), wide)
    if ignore_label is None:
        return elemwise.cast(reduce.mean(hits), y.dtype)
    valid = elemwise.cast(elemwise.neq(t, ignore_label), wide)
    count = elemwise.maximum(reduce.sum(valid), 1)  # no valid label: accuracy 0
    return elemwise.cast(elemwise.true_div(reduce.sum(hits * valid), count), y.dtype)


def accuracy(y: Any, t: Any, ignore_label: int | None = None) -> Variable:
    """The fraction of samples whose highest score (along axis 1) is the label,
    among those whose label is not `ignore_label`; y's dtype, no gradient."""
    return record(_accuracy, y, t, ignore_label=ignore_label)


# -- shapes ----------------------------------------------------------------------------


def _axis(axis: int, ndim: int, what: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}: axis {axis} out of range for {ndim} dims")
    return axis % ndim


def concat(xs: Sequence[Any], axis: int = 1) -> Variable:
    """Join along an existing `axis` (Chainer's default: 1)."""
    return record(lambda vs: shape_ops.concatenate(vs, axis=axis), list(xs))


def stack(xs: Sequence[Any], axis: int = 0) -> Variable:
    """Join along a new `axis`."""
    return record(lambda vs: shape_ops.stack(list(vs), axis=axis), list(xs))


def hstack(xs: Sequence[Any]) -> Variable:
    """numpy.hstack: along axis 1 (axis 0 for vectors)."""
    return concat(xs, axis=0 if np.ndim(_value(xs[0])) == 1 else 1)


def vstack(xs: Sequence[Any]) -> Variable:
    """numpy.vstack: vectors become rows, then join along axis 0."""
    rows = [expand_dims(x, 0) if np.ndim(_value(x)) == 1 else x for x in xs]
    return concat(rows, axis=0)


def _value(x: Any) -> Any:
    return x.data if isinstance(x, Variable) else x


def split_axis(x: Any, indices_or_sections: int | Sequence[int], axis: int,
               force_tuple: bool = True) -> Any:
    """Split into `indices_or_sections` equal parts, or at the given indices (as
    numpy.split); a tuple of Variables (one Variable if it is the only part and
    not `force_tuple`)."""
    shape = np.shape(_value(x))
    axis = _axis(axis, len(shape), "split_axis")
    if isinstance(indices_or_sections, int):
        if shape[axis] % indices_or_sections:
            raise ValueError(f"split_axis: {shape[axis]} elements along axis {axis} "
                             f"do not split into {indices_or_sections} equal parts")
        step = shape[axis] // indices_or_sections
        cuts = [step * i for i in range(1, indices_or_sections)]
    else:
        cuts = list(indices_or_sections)
    bounds = list(zip([0, *cuts], [*cuts, shape[axis]]))
    lead = (slice(None),) * axis

    def build(v: Node) -> list[Node]:
        return [shape_ops.getitem(v, (*lead, slice(a, b))) for a, b in bounds]

    parts = record(build, x)
    return parts if force_tuple or len(parts) > 1 else parts[0]


def expand_dims(x: Any, axis: int) -> Variable:
    """A new axis of length 1 at `axis` (negative counts from the end)."""

    def build(v: Node) -> Node:
        pattern: list[int | str] = list(range(v.ndim))
        pattern.insert(_axis(axis, v.ndim + 1, "expand_dims"), "x")
        return shape_ops.dimshuffle(v, pattern)

    return record(build, x)


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> Variable:
    """Drop axes of length 1 (all of them, or those in `axis`)."""

    def build(v: Node) -> Node:
        ones = [a for a, d in enumerate(v.type.shape) if d == 1]
        if axis is None:
            dropped = ones
        else:
            dropped = [_axis(a, v.ndim, "squeeze") for a in
                       (axis if isinstance(axis, list | tuple) else [axis])]
        if any(a not in ones for a in dropped):
            raise ValueError(f"squeeze: axes {dropped} of a value of shape "
                             f"{np.shape(_value(x))} do not all have length 1")
        return shape_ops.dimshuffle(v, [a for a in range(v.ndim) if a not in dropped])

    return record(build, x)


def swapaxes(x: Any, axis1: int, axis2: int) -> Variable:
    def build(v: Node) -> Node:
        perm = list(range(v.ndim))
        a, b = _axis(axis1, v.ndim, "swapaxes"), _axis(axis2, v.ndim, "swapaxes")
        perm[a], perm[b] = perm[b], perm[a]
        return shape_ops.transpose(v, perm)

    return record(build, x)


def flatten(x: Any) -> Variable:
    """All elements as one axis (row-major)."""
    return record(lambda v: shape_ops.flatten(v, 1), x)


def get_item(x: Any, slices: Any) -> Variable:
    """numpy basic and integer-array indexing (`x[slices]`)."""
    return record(shape_ops.getitem, x, slices)


# -- products, embeddings and losses ---------------------------------------------------


def _batched_matmul(a: Node, b: Node) -> Node:
    """matmul over the last two axes, batches broadcast: sum_k a[..., i, k, .] *
    b[..., ., k, j] (a product the matmul op, which is 1-D/2-D, does not cover)."""
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError(f"matmul of stacked matrices needs 2 or more dims in both "
                         f"operands; got {a.type} and {b.type}")
    rank = builtins.max(a.ndim, b.ndim)
    a = shape_ops.dimshuffle(a, [*["x"] * (rank - a.ndim), *range(a.ndim), "x"])
    b = shape_ops.dimshuffle(b, [*["x"] * (rank - b.ndim), *range(b.ndim - 2), "x",
                                 b.ndim - 2, b.ndim - 1])
    return reduce.sum(elemwise.mul(a, b), axis=rank - 1)


def batch_matmul(a: Any, b: Any, transa: bool = False, transb: bool = False
                 ) -> Variable:
    """Matrix products of the matrices a[i] and b[i] of two (batch, m, n) arrays."""
    return matmul(a, b, transa=transa, transb=transb)


def _embed_id(x: Node, W: Node, ignore_label: int | None) -> Node:
    if x.dtype not in ("int8", "int16", "int32", "int64"):
        raise TypeError(f"embed_id takes integer ids, got {x.type}")
    if ignore_label is None:
        return shape_ops.getitem(W, x)
    valid = elemwise.neq(x, ignore_label)
    rows = shape_ops.getitem(W, elemwise.switch(valid, x, 0))
    keep = shape_ops.dimshuffle(valid, [*range(x.ndim), "x"])
    return elemwise.mul(rows, elemwise.cast(keep, W.dtype))


def embed_id(x: Any, W: Any, ignore_label: int | None = None) -> Variable:
    """Rows of W for the integer ids x (shape x.shape + (W.shape[1],)); ids equal
    to `ignore_label` give zero rows."""
    return record(_embed_id, x, W, ignore_label=ignore_label)


def _sigmoid_cross_entropy(x: Node, t: Node, normalize: bool, reduction: str) -> Node:
    if t.dtype not in ("int8", "int16", "int32", "int64"):
        raise TypeError(f"sigmoid_cross_entropy takes integer labels, got {t.type}")
    valid = elemwise.cast(elemwise.neq(t, -1), x.dtype)
    # -(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) = softplus(x) - t x, stable.
    losses = elemwise.mul(elemwise.sub(elemwise.softplus(x),
                                       elemwise.mul(x, elemwise.cast(t, x.dtype))), valid)
    if reduction == "no":
        return losses
    count = reduce.sum(valid) if normalize else elemwise.cast(elemwise.dim(x, 0), x.dtype)
    return elemwise.true_div(reduce.sum(losses), elemwise.maximum(count, 1))


def sigmoid_cross_entropy(x: Any, t: Any, normalize: bool = True,
                          reduce: str = "mean") -> Variable:
    """Cross entropy of sigmoid(x) against binary labels t (0 or 1, -1 ignored).

    `reduce="mean"` sums the losses and divides by the number of labels that are
    not -1 (by the batch size with `normalize=False`); `reduce="no"` gives the loss
    per element (0 where ignored).
    """
    if reduce not in ("mean", "no"):
        raise ValueError(f"sigmoid_cross_entropy: reduce must be 'mean' or 'no', got "
                         f"{reduce!r}")
    return record(_widened(_sigmoid_cross_entropy), x, t, normalize=normalize,
                  reduction=reduce)


# -- convolution and pooling (Chainer's NCHW layout) -----------------------------------


def _convolution_2d(x: Node, W: Node, b: Node | None,
                    shapes: tuple[tuple[int, ...], tuple[int, ...]], stride: Any,
                    pad: Any, cover_all: bool, dilate: Any, groups: int) -> Node:
    # The parameters' shapes (and the channel count) are known from the data:
    # static, they give static kernel offsets and matrix sizes; batch and image
    # sizes stay dynamic, so other batch sizes reuse the compiled code.
    x = conv.pin_dims(x, (None, shapes[0][1], None, None), "x", "convolution_2d")
    W = conv.pin_dims(W, shapes[1], "W", "convolution_2d")
    steps = conv.pair(stride, "stride", "convolution_2d", 1)
    pads = conv.pair(pad, "pad", "convolution_2d", 0)
    dilation = conv.pair(dilate, "dilate", "convolution_2d", 1)
    # cover_all: a last window that only partly overlaps the input counts too.
    after = [p + s - 1 if cover_all else p for p, s in zip(pads, steps)]
    spec = ((pads[0], after[0]), (pads[1], after[1]))
    outputs = [conv.correlate(x_part, W_part, steps, spec, dilation)
               for x_part, W_part in zip(*_groups(x, W, groups))]
    y = shape_ops.concatenate(outputs, axis=1)
    if b is None:
        return y
    return elemwise.add(y, shape_ops.dimshuffle(b, ("x", 0, "x", "x")))


def _groups(x: Node, W: Node, groups: int) -> tuple[list[Node], list[Node]]:
    """The channel groups of x and the filters of each (static channel counts)."""
    if groups == 1:
        return [x], [W]
    size, rows = x.type.shape[1] // groups, W.type.shape[0] // groups  # type: ignore[operator]
    return ([shape_ops.getitem(x, (slice(None), slice(g * size, (g + 1) * size)))
             for g in range(groups)],
            [shape_ops.getitem(W, slice(g * rows, (g + 1) * rows)) for g in range(groups)])


def convolution_2d(x: Any, W: Any, b: Any = None, stride: Any = 1,
                   pad: Any = 0, cover_all: bool = False, dilate: Any = 1,
                   groups: int = 1) -> Variable:
    """Chainer's 2-d convolution, a cross-correlation (the kernel is not flipped):
    x (batch, C, rows, columns), W (out channels, C / groups, kh, kw), b (out
    channels,) -> (batch, out channels, out rows, out columns). `stride`, `pad`
    (zeros on each side) and `dilate` are ints or (rows, columns) pairs;
    cover_all adds the windows that stick out at the bottom/right edges; groups
    splits the channels (and the filters) into that many independent parts."""
    shapes = (np.shape(_value(x)), np.shape(_value(W)))
    if len(shapes[0]) != 4 or len(shapes[1]) != 4:
        raise ShapeError(f"convolution_2d: x and W must be 4-d (batch, channels, rows, "
                         f"columns) and (out, in, kh, kw); got shapes {shapes[0]} and "
                         f"{shapes[1]}")
    if shapes[0][1] != shapes[1][1] * groups or shapes[1][0] % groups:
        raise ShapeError(f"convolution_2d: x has {shapes[0][1]} channels and W "
                         f"{shapes[1][0]} filters of {shapes[1][1]}: they do not "
                         f"split into groups={groups}")
    return record(_widened(_convolution_2d), x, W, b, shapes=shapes, stride=stride,
                  pad=pad, cover_all=cover_all, dilate=dilate, groups=groups)


def _pooling_2d(x: Node, ksize: Any, stride: Any, pad: Any, cover_all: bool,
                reduction: str, who: str) -> Node:
    conv.check_rank(x, 4, "x", who, "(batch, channels, rows, columns)")
    window = conv.pair(ksize, "ksize", who, 1)
    steps = window if stride is None else conv.pair(stride, "stride", who, 1)
    pads = conv.pair(pad, "pad", who, 0)
    after = [p + s - 1 if cover_all else p for p, s in zip(pads, steps)]
    out = [conv.output_size(conv.size_of(x, 2 + k), pads[k] + after[k], window[k],
                            steps[k]) for k in range(2)]
    fill = pool.lowest(x.dtype) if reduction == "max" else 0
    padded = conv.pad(x, (2, 3), ((pads[0], after[0]), (pads[1], after[1])), fill)
    pooled = pool.pool_windows(padded, window, steps, (out[0], out[1]), reduction)
    if reduction == "max":
        return pooled
    return elemwise.true_div(pooled, window[0] * window[1])


def max_pooling_2d(x: Any, ksize: Any, stride: Any = None, pad: Any = 0,
                   cover_all: bool = True) -> Variable:
    """The maximum over ksize windows of the last two dims of x (batch, channels,
    rows, columns), moved by `stride` (default: ksize); padding never wins;
    cover_all (default) keeps the windows that stick out at the bottom/right."""
    return record(_pooling_2d, x, ksize, stride, pad, cover_all, "max",
                  "max_pooling_2d")


def average_pooling_2d(x: Any, ksize: Any, stride: Any = None, pad: Any = 0
                       ) -> Variable:
    """The mean over ksize windows of the last two dims of x (batch, channels,
    rows, columns), moved by `stride` (default: ksize); zero padding counts in
    the mean, as in Chainer. float16 sums in float32."""
    return record(_widened(_pooling_2d), x, ksize, stride, pad, False, "sum",
                  "average_pooling_2d")


def _average(x: Node, weights: Node | None, axis: int | None, keepdims: bool
             ) -> Node:
    if weights is None:
        return reduce.mean(x, axis=axis, keepdims=keepdims)
    if axis is not None and x.ndim > 1:  # weights along one axis
        weights = shape_ops.dimshuffle(weights, [0 if a == axis else "x"
                                                 for a in range(x.ndim)])
    total = reduce.sum(elemwise.mul(x, weights), axis=axis, keepdims=keepdims)
    return elemwise.true_div(total, reduce.sum(weights))


def average(x: Any, axis: int | None = None, weights: Any = None,
            keepdims: bool = False) -> Variable:
    """The mean of x over `axis` (all axes by default), weighted by `weights`
    (Chainer's): sum(x w) / sum(w), the weights of x's shape without an axis,
    one per element along `axis` with one."""
    shape = np.shape(_value(x))
    if axis is not None:
        axis = _axis(axis, len(shape), "average")
    if weights is not None:
        expected = shape if axis is None else (shape[axis],)
        if np.shape(_value(weights)) != expected:
            raise ShapeError(f"average: weights of shape {np.shape(_value(weights))} "
                             f"for x of shape {shape} and axis={axis}; expected "
                             f"shape {expected}")
    return record(_widened(_average), x, weights, axis=axis, keepdims=keepdims)


# Chainer's normalization and recurrent units, defined in modules of their own.
from tensorc.functions_normalization import (
    batch_normalization,
    fixed_batch_normalization,
    local_response_normalization,
)
from tensorc.functions_recurrent import lstm
