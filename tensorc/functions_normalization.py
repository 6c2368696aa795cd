"""Chainer's normalization functions on eager Variables (re-exported by
`tensorc.functions`): `batch_normalization`, `fixed_batch_normalization`,
`local_response_normalization`.

    y = F.batch_normalization(x, gamma, beta, running_mean=avg_mean,
                              running_var=avg_var)

As every function of `tensorc.functions`, each builds frontend nodes and records
them (`record`): `backward()` differentiates the recorded graph, there is no
derivative math here. The running statistics of `batch_normalization` are plain
arrays updated in place (as in Chainer), outside the differentiated graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorc.define_by_run.variable import Variable, record
from tensorc.errors import ShapeError
from tensorc.frontend import elemwise, reduce, shape_ops
from tensorc.frontend.variable import Variable as Node

__all__ = [
    "batch_normalization", "fixed_batch_normalization", "local_response_normalization",
]


def _value(x: Any) -> Any:
    return x.data if isinstance(x, Variable) else x


def _statistics_axes(x_ndim: int, gamma_ndim: int,
                     axis: int | Sequence[int] | None) -> tuple[int, ...]:
    """The axes the statistics run over (Chainer's rule): all axes but the
    `gamma_ndim` channel axes that follow the batch axis, unless `axis` says."""
    if axis is None:
        return (0, *range(gamma_ndim + 1, x_ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if list(axes) != sorted(set(axes)) or not all(0 <= a < x_ndim for a in axes):
        raise ValueError(f"batch normalization: axis must be sorted distinct axes "
                         f"of a {x_ndim}-d input, got {axis}")
    return axes


def _channel_axes(x_shape: tuple[int, ...], gamma_shape: tuple[int, ...],
                  axis: Any, who: str) -> tuple[int, ...]:
    """The statistics axes, after checking that gamma's shape is x's shape
    without them."""
    axes = _statistics_axes(len(x_shape), len(gamma_shape), axis)
    kept = tuple(d for a, d in enumerate(x_shape) if a not in axes)
    if kept != tuple(gamma_shape):
        raise ShapeError(f"{who}: gamma/beta of shape {tuple(gamma_shape)} do not "
                         f"match the shape {kept} of x {tuple(x_shape)} without the "
                         f"axes {axes}")
    return axes


def _expand(v: Node, ndim: int, axes: tuple[int, ...]) -> Node:
    """A per-channel value with length-1 axes inserted at `axes` (broadcasts
    against x)."""
    channels = iter(range(v.ndim))
    return shape_ops.dimshuffle(v, ["x" if a in axes else next(channels)
                                    for a in range(ndim)])


def _normalize(x: Node, gamma: Node, beta: Node, mean: Node, var: Node,
               eps: float, axes: tuple[int, ...]) -> Node:
    """gamma (x - mean) / sqrt(var + eps) + beta, the per-channel values
    expanded to x's rank."""
    inv_std = elemwise.reciprocal(elemwise.sqrt(elemwise.add(var, eps)))
    scale = elemwise.mul(_expand(gamma, x.ndim, axes), _expand(inv_std, x.ndim, axes))
    centered = elemwise.sub(x, _expand(mean, x.ndim, axes))
    return elemwise.add(elemwise.mul(centered, scale), _expand(beta, x.ndim, axes))


def _batch_normalization(x: Node, gamma: Node, beta: Node, eps: float,
                         axes: tuple[int, ...]) -> list[Node]:
    mean = reduce.mean(x, axis=axes)
    centered = elemwise.sub(x, _expand(mean, x.ndim, axes))
    var = reduce.mean(elemwise.mul(centered, centered), axis=axes)  # biased
    return [_normalize(x, gamma, beta, mean, var, eps, axes), mean, var]


def batch_normalization(x: Any, gamma: Any, beta: Any, eps: float = 2e-5,
                        running_mean: np.ndarray | None = None,
                        running_var: np.ndarray | None = None, decay: float = 0.9,
                        axis: int | Sequence[int] | None = None) -> Variable:
    """Batch normalization with the statistics of this batch (Chainer's):
    gamma (x - mean) / sqrt(var + eps) + beta, mean and (biased) var over `axis`
    (default: every axis but the channel axes 1..gamma.ndim).

    Given, `running_mean` and `running_var` (arrays of gamma's shape) are
    updated in place: r = decay r + (1 - decay) s, with the unbiased variance
    var m / (m - 1) (m = x.size / gamma.size) for running_var. Gradients flow
    to x, gamma and beta through the batch statistics.
    """
    shape, gamma_shape = np.shape(_value(x)), np.shape(_value(gamma))
    axes = _channel_axes(shape, gamma_shape, axis, "batch_normalization")
    if np.shape(_value(beta)) != gamma_shape:
        raise ShapeError(f"batch_normalization: beta has shape "
                         f"{np.shape(_value(beta))}, gamma {gamma_shape}")
    y, mean, var = record(_batch_normalization, x, gamma, beta, eps=eps, axes=axes)
    m = int(np.prod([shape[a] for a in axes]))
    if running_mean is not None:
        running_mean *= decay
        running_mean += (1 - decay) * mean.data
    if running_var is not None:
        running_var *= decay
        running_var += (1 - decay) * (m / max(m - 1.0, 1.0)) * var.data
    return y


def fixed_batch_normalization(x: Any, gamma: Any, beta: Any, mean: Any, var: Any,
                              eps: float = 2e-5,
                              axis: int | Sequence[int] | None = None) -> Variable:
    """Batch normalization with given statistics (Chainer's, for inference):
    gamma (x - mean) / sqrt(var + eps) + beta; differentiable in all five."""
    axes = _channel_axes(np.shape(_value(x)), np.shape(_value(gamma)), axis,
                         "fixed_batch_normalization")
    return record(_normalize, x, gamma, beta, mean, var, eps=eps, axes=axes)


def _local_response_normalization(x: Node, n: int, k: float, alpha: float,
                                  beta: float, channels: int) -> Node:
    squares = elemwise.sqr(x)
    # Each channel sums the squares of the n // 2 channels on either side (those
    # that exist): n shifted copies of the squares, zero-padded along axis 1.
    half = n // 2
    rest = [slice(None)] * (x.ndim - 2)
    padding = shape_ops.zeros_like(
        shape_ops.getitem(squares, (slice(None), slice(0, 1), *rest)))
    padded = shape_ops.concatenate([padding] * half + [squares] + [padding] * half,
                                   axis=1)
    total = squares
    for shift in range(-half, half + 1):
        if shift:
            window = slice(half + shift, half + shift + channels)
            neighbors = shape_ops.getitem(padded, (slice(None), window))
            total = elemwise.add(total, neighbors)
    scale = elemwise.add(elemwise.mul(total, alpha), k)
    return elemwise.mul(x, elemwise.pow(scale, -beta))


def local_response_normalization(x: Any, n: int = 5, k: float = 2.0,
                                 alpha: float = 1e-4, beta: float = 0.75
                                 ) -> Variable:
    """Chainer's local response normalization across channels (axis 1):
    x / (k + alpha sum of x^2 over the n // 2 channels on either side and
    itself) ^ beta."""
    shape = np.shape(_value(x))
    if len(shape) < 2:
        raise ShapeError(f"local_response_normalization: x must have a channel "
                         f"axis (2 or more dims), got shape {shape}")
    return record(_local_response_normalization, x, n=n, k=k, alpha=alpha, beta=beta,
                  channels=shape[1])
