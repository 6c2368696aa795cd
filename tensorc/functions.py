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

from collections.abc import Callable, Sequence
from typing import Any

from tensorc.define_by_run.variable import Variable, record
from tensorc.frontend import elemwise, reduce, shape_ops
from tensorc.frontend.variable import Variable as Node
from tensorc.tensor import nnet

__all__ = [
    "absolute", "broadcast_to", "cos", "exp", "leaky_relu", "linear", "log",
    "log_softmax", "logsumexp", "matmul", "mean", "mean_squared_error", "relu",
    "reshape", "sigmoid", "sin", "softmax", "softmax_cross_entropy", "softplus",
    "sqrt", "square", "sum", "tanh", "transpose",
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


def _matmul(a: Node, b: Node, transa: bool, transb: bool) -> Node:
    a = shape_ops.transpose(a) if transa else a
    b = shape_ops.transpose(b) if transb else b
    return reduce.dot(a, b)


def matmul(a: Any, b: Any, transa: bool = False, transb: bool = False) -> Variable:
    """Matrix (or matrix-vector, vector-vector) product of 1-D/2-D operands,
    optionally transposing them first."""
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
