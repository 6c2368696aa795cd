"""`T.nnet`: neural-network helpers built from stable tc ops."""

from __future__ import annotations

from typing import Any

from tensorc.frontend.elemwise import (
    as_variable, exp, log, maximum, neg, sigmoid, softplus, sub, true_div,
)
from tensorc.frontend.reduce import max, sum
from tensorc.frontend.shape_ops import arange
from tensorc.frontend.variable import Variable
from tensorc.tensor import conv  # noqa: F401  (Theano's old path: nnet.conv.conv2d)
from tensorc.tensor.conv import conv2d

__all__ = [
    "sigmoid", "softplus", "relu", "softmax", "log_softmax", "logsumexp",
    "categorical_crossentropy", "binary_crossentropy", "ultra_fast_sigmoid",
    "hard_sigmoid", "conv2d",
]

ultra_fast_sigmoid = sigmoid


def hard_sigmoid(x: Any) -> Variable:
    from tensorc.frontend.elemwise import clip

    return clip(as_variable(x) * 0.2 + 0.5, 0.0, 1.0)


def relu(x: Any, alpha: float = 0.0) -> Variable:
    x = as_variable(x)
    if alpha == 0.0:
        return maximum(x, 0)
    return maximum(x, 0) + alpha * (x - maximum(x, 0))


def softmax(x: Any, axis: int = -1) -> Variable:
    """exp(x - max) / sum(exp(x - max)) along `axis`: never overflows."""
    x = as_variable(x)
    e = exp(sub(x, max(x, axis=axis, keepdims=True)))
    return true_div(e, sum(e, axis=axis, keepdims=True))


def logsumexp(x: Any, axis: int | None = None, keepdims: bool = False) -> Variable:
    x = as_variable(x)
    m = max(x, axis=axis, keepdims=True)
    out = m + log(sum(exp(sub(x, m)), axis=axis, keepdims=True))
    if keepdims:
        return out
    from tensorc.frontend.reduce import normalize_axes
    from tensorc.frontend.shape_ops import dimshuffle

    axes = normalize_axes(x, axis)
    return dimshuffle(out, [a for a in range(x.ndim) if a not in axes])


def log_softmax(x: Any, axis: int = -1) -> Variable:
    x = as_variable(x)
    return sub(x, logsumexp(x, axis=axis, keepdims=True))


def categorical_crossentropy(coding_dist: Any, true_dist: Any) -> Variable:
    """-sum(true * log(coding), axis=-1); integer `true_dist` holds class indices."""
    coding_dist, true_dist = as_variable(coding_dist), as_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return neg(sum(true_dist * log(coding_dist), axis=-1))
    rows = arange(coding_dist.shape[0])
    return neg(log(coding_dist[rows, true_dist]))


def binary_crossentropy(output: Any, target: Any) -> Variable:
    output, target = as_variable(output), as_variable(target)
    return neg(target * log(output) + (1.0 - target) * log(1.0 - output))


def sigmoid_binary_crossentropy(logits: Any, target: Any) -> Variable:
    """Binary cross-entropy from logits: stable for any |logit|."""
    logits, target = as_variable(logits), as_variable(target)
    return softplus(logits) - target * logits
