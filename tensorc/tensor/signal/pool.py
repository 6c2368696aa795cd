"""Pooling over the last two dims: Theano's `pool_2d`, and the windowed reduction
that Chainer's `F.max_pooling_2d` / `F.average_pooling_2d` share.

Built from frontend ops only: padding is an insert into a filled tensor,
non-overlapping windows (stride == window) are a crop, a reshape and one
reduction, other windows a chain of elementwise maxima or sums of strided slices.
Window sizes and strides are static; the pooled dims may be dynamic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorc.errors import ShapeError
from tensorc.frontend.elemwise import (
    as_variable,
    cast,
    eq,
    maximum,
    minimum,
    switch,
    true_div,
)
from tensorc.frontend.reduce import max as reduce_max
from tensorc.frontend.reduce import sum as reduce_sum
from tensorc.frontend.shape_ops import (
    alloc,
    arange,
    dimshuffle,
    getitem,
    reshape,
    set_subtensor,
    zeros_like,
)
from tensorc.frontend.variable import Variable, user_location
from tensorc.tensor.conv import (
    DimLike,
    Pair,
    output_size,
    pad,
    pair,
    size_of,
    window_slices,
)

__all__ = ["max_pool_2d_same_size", "pool_2d"]

MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def lowest(dtype: str) -> float:
    """What max-pooling pads with: -inf, or an integer dtype's minimum."""
    if np.issubdtype(np.dtype(dtype), np.integer):
        return float(np.iinfo(dtype).min)
    return -np.inf


def pool_windows(x: Variable, window: Pair, stride: Pair,
                 out: tuple[DimLike, DimLike], reduction: str) -> Variable:
    """The `reduction` ('max' or 'sum') of x[..., r * sh + i, c * sw + j] over the
    window offsets (i, j), for the `out` positions (r, c) of the last two dims
    (x must hold every window whole: pad it first)."""
    axes = (x.ndim - 2, x.ndim - 1)
    if window == stride:  # tiles: crop, split each axis into (out, window), reduce
        crop = getitem(x, (Ellipsis, slice(0, out[0] * window[0]),
                           slice(0, out[1] * window[1])))
        lead = [size_of(x, a) for a in range(x.ndim - 2)]
        tiles = reshape(crop, [*lead, out[0], window[0], out[1], window[1]])
        reduce = reduce_max if reduction == "max" else reduce_sum
        return reduce(tiles, axis=(x.ndim - 1, x.ndim + 1))
    slices = window_slices(x, axes, window, stride, (1, 1), out)
    total = slices[0]
    for piece in slices[1:]:
        total = maximum(total, piece) if reduction == "max" else total + piece
    return total


def window_counts(out: DimLike, window: int, stride: int, first: int, end: DimLike
                  ) -> Variable:
    """For each of the `out` windows along one axis (starting at multiples of
    `stride` in padded coordinates), how many of its `window` positions lie in
    [first, end)."""
    starts = arange(out) * stride
    stops = minimum(starts + window, end)
    return stops - maximum(starts, first)


def _at_least_zero(count: DimLike) -> DimLike:
    return max(count, 0) if isinstance(count, int) else maximum(count, 0)


def _theano_out(size: DimLike, window: int, stride: int, ignore_border: bool
                ) -> DimLike:
    """Theano's pooled size of `size` elements (padding included); without
    ignore_border, a partial window at the end counts."""
    if not ignore_border and stride >= window:
        return output_size(size, 0, 1, stride)
    extent = window if ignore_border else window + 1
    count = _at_least_zero(output_size(size, 0, extent, stride))
    return count if ignore_border else count + 1


def _average(total: Variable, counts: tuple[Variable, Variable]) -> Variable:
    """total / (counts[0][r] * counts[1][c]) over the last two dims."""
    per_window = dimshuffle(counts[0], (0, "x")) * dimshuffle(counts[1], ("x", 0))
    return true_div(total, cast(per_window, total.dtype))


def pool_2d(input: Any, ws: Any = None, ignore_border: bool = True,
            stride: Any = None, pad: Any = (0, 0), mode: str = "max", ds: Any = None,
            st: Any = None, padding: Any = None) -> Variable:
    """Theano's pooling of the last two dims of `input` (any rank >= 2) over
    windows `ws` (rows, columns) moved by `stride` (default: `ws`).

    mode: 'max', 'sum', 'average_inc_pad' (padding counts as zeros in the mean),
    'average_exc_pad' (the mean of the input elements only). `pad` adds that many
    rows/columns on each side (ignore_border=True only; max ignores them).
    ignore_border=False keeps the partial windows at the bottom and right edges.
    `ds`, `st` and `padding` are the old names of ws, stride and pad.
    """
    x = as_variable(input)
    if x.ndim < 2:
        raise ShapeError(f"pool_2d: input must have 2 or more dims, got a {x.ndim}-d "
                         f"{x.type} (at {user_location()})")
    if mode not in MODES:
        raise ValueError(f"pool_2d: mode must be one of {', '.join(MODES)}, got "
                         f"{mode!r} (at {user_location()})")
    if ws is None and ds is None:
        raise ValueError(f"pool_2d: give the window size ws (at {user_location()})")
    window = pair(ws if ws is not None else ds, "ws", "pool_2d", 1)
    strides = stride if stride is not None else st
    steps = window if strides is None else pair(strides, "stride", "pool_2d", 1)
    pads = pair(padding if padding is not None else pad, "pad", "pool_2d", 0)
    if pads != (0, 0) and not ignore_border:
        raise NotImplementedError(f"pool_2d: padding works only with "
                                  f"ignore_border=True (at {user_location()})")
    if pads[0] >= window[0] or pads[1] >= window[1]:
        raise NotImplementedError(f"pool_2d: pad {pads} must be smaller than the "
                                  f"window {window} (at {user_location()})")
    return _theano_pool(x, window, steps, pads, ignore_border, mode)


def _theano_pool(x: Variable, window: Pair, stride: Pair, pads: Pair,
                 ignore_border: bool, mode: str) -> Variable:
    axes = (x.ndim - 2, x.ndim - 1)
    sizes = [size_of(x, a) for a in axes]
    out = (_theano_out(sizes[0] + 2 * pads[0], window[0], stride[0], ignore_border),
           _theano_out(sizes[1] + 2 * pads[1], window[1], stride[1], ignore_border))
    # Without ignore_border the last window may stick out by up to window - 1.
    after = pads if ignore_border else (window[0] - 1, window[1] - 1)
    fill = lowest(x.dtype) if mode == "max" else 0
    padded = pad(x, axes, ((pads[0], after[0]), (pads[1], after[1])), fill)
    reduction = "max" if mode == "max" else "sum"
    total = pool_windows(padded, window, stride, out, reduction)
    if mode in ("max", "sum"):
        return total
    if ignore_border and (mode == "average_inc_pad" or pads == (0, 0)):
        return true_div(total, window[0] * window[1])  # every window is whole
    # Windows of different sizes: count the elements of each (padding included
    # or not) along each axis.
    inc = mode == "average_inc_pad"
    counts = tuple(
        window_counts(out[k], window[k], stride[k], 0 if inc else pads[k],
                      sizes[k] + (2 * pads[k] if inc else pads[k]))
        for k in range(2)
    )
    return _average(total, counts)  # type: ignore[arg-type]


def max_pool_2d_same_size(input: Any, patch_size: Any) -> Variable:
    """`input` with every element that is not the maximum of its non-overlapping
    `patch_size` patch set to zero (Theano's; rows and columns past the last whole
    patch become zero)."""
    x = as_variable(input)
    window = pair(patch_size, "patch_size", "max_pool_2d_same_size", 1)
    pooled = pool_2d(x, window, ignore_border=True)
    lead = [size_of(x, a) for a in range(x.ndim - 2)]
    out = [size_of(pooled, a) for a in (x.ndim - 2, x.ndim - 1)]
    spread = alloc(reshape(pooled, [*lead, out[0], 1, out[1], 1]),
                   *lead, out[0], window[0], out[1], window[1])
    covered = [out[0] * window[0], out[1] * window[1]]
    maxima = reshape(spread, [*lead, *covered])
    crop = getitem(x, (Ellipsis, slice(0, covered[0]), slice(0, covered[1])))
    kept = switch(eq(crop, maxima), crop, 0)
    zeros = zeros_like(x)
    return set_subtensor(getitem(zeros, (Ellipsis, slice(0, covered[0]),
                                         slice(0, covered[1]))), kept)
