"""`T.extra_ops` (Theano's theano.tensor.extra_ops): cumsum, cumprod, diff and
repeat, as compositions of frontend ops.

Cumulative sums and products of a static length n are a doubling scan
(Hillis-Steele): ceil(log2 n) steps of y += y shifted by 1, 2, 4, ... along the
axis, each a slice, a concatenation and an elementwise op, so the C backend
fuses and vectorizes them and the gradient needs no special rule. A dynamic
length is a `scan` over the axis (one step per element).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tensorc.errors import ShapeError
from tensorc.frontend.elemwise import add, as_variable, cast, constant, dim, mul, sub
from tensorc.frontend.shape_ops import (
    alloc,
    concatenate,
    dimshuffle,
    reshape,
    transpose,
)
from tensorc.frontend.variable import Variable, normalize_dtype, user_location

__all__ = ["cumprod", "cumsum", "diff", "repeat"]

_FLOATS = ("float16", "float32", "float64")


def _axis(x: Variable, axis: Any, what: str) -> int:
    if not isinstance(axis, int | np.integer) or not -x.ndim <= axis < x.ndim:
        raise ShapeError(f"{what}: axis {axis!r} is out of range for the {x.ndim}-d "
                         f"{x!r} (at {user_location()})")
    return int(axis) + x.ndim if axis < 0 else int(axis)


def _flat_or_axis(x: Variable, axis: Any, what: str) -> tuple[Variable, int]:
    """(x, normalized axis), or (flattened x, 0) for axis=None as in numpy."""
    if axis is None:
        static = None not in x.type.shape
        return reshape(x, [int(np.prod(x.type.shape)) if static else -1]), 0
    return x, _axis(x, axis, what)


def _accumulated(x: Variable, dtype: Any) -> Variable:
    """x in numpy's accumulation dtype (integers and bools accumulate in int64)."""
    if dtype is not None:
        return cast(x, normalize_dtype(dtype))
    return cast(x, x.dtype if x.dtype in _FLOATS else "int64")


def _shifted(y: Variable, axis: int, by: int, fill: Variable) -> Variable:
    """y moved `by` places forward along `axis`, `fill` in the places vacated."""
    index: list[Any] = [slice(None)] * y.ndim
    index[axis] = slice(0, y.type.shape[axis] - by)  # type: ignore[operator]
    sizes = [by if a == axis else dim(y, a) for a in range(y.ndim)]
    return concatenate([alloc(fill, *sizes), y[tuple(index)]], axis=axis)


def _doubling(y: Variable, axis: int, combine: Callable[[Any, Any], Variable],
              neutral: int) -> Variable:
    """Inclusive scan of `combine` along a static-length axis in ceil(log2 n)
    steps (Hillis-Steele)."""
    n = y.type.shape[axis]
    fill = constant(neutral, y.dtype)
    step = 1
    while step < n:  # type: ignore[operator]
        y = combine(y, _shifted(y, axis, step, fill))
        step *= 2
    return y


def _sequential(y: Variable, axis: int, combine: Callable[[Any, Any], Variable],
                neutral: int) -> Variable:
    """Inclusive scan along a dynamic-length axis: a `scan` over its elements."""
    from tensorc.frontend.scan import scan

    order = [axis] + [a for a in range(y.ndim) if a != axis]
    leading = transpose(y, order)
    start = alloc(constant(neutral, y.dtype), *[dim(y, a) for a in order[1:]])
    steps, _ = scan(lambda element, total: combine(total, element),
                    sequences=leading, outputs_info=start)
    return transpose(steps, [order.index(a) for a in range(y.ndim)])


def _cumulative(x: Any, axis: Any, dtype: Any, combine: Callable[[Any, Any], Variable],
                neutral: int, what: str) -> Variable:
    x = as_variable(x)
    y, axis = _flat_or_axis(_accumulated(x, dtype), axis, what)
    if y.type.shape[axis] is not None:
        return _doubling(y, axis, combine, neutral)
    return _sequential(y, axis, combine, neutral)


def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> Variable:
    """numpy.cumsum: running sums along `axis` (of the flattened x for None)."""
    return _cumulative(x, axis, dtype, add, 0, "cumsum")


def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> Variable:
    """numpy.cumprod: running products along `axis` (of the flattened x for None)."""
    return _cumulative(x, axis, dtype, mul, 1, "cumprod")


def diff(x: Any, n: int = 1, axis: int = -1) -> Variable:
    """numpy.diff: the n-th differences x[i+1] - x[i] along `axis`."""
    x = as_variable(x)
    if not isinstance(n, int | np.integer) or n < 0:
        raise ShapeError(f"diff: n must be a non-negative int, got {n!r} "
                         f"(at {user_location()})")
    if x.ndim == 0:
        raise ShapeError(f"diff: x must have at least one dim, got the 0-d {x!r} "
                         f"(at {user_location()})")
    axis = _axis(x, axis, "diff")
    for _ in range(int(n)):
        later: list[Any] = [slice(None)] * x.ndim
        earlier: list[Any] = [slice(None)] * x.ndim
        later[axis], earlier[axis] = slice(1, None), slice(None, -1)
        x = sub(x[tuple(later)], x[tuple(earlier)])
    return x


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Variable:
    """numpy.repeat: each element `repeats` times along `axis` (of the flattened
    x for None). `repeats` is an int or integer scalar, or a static list of
    ints, one per element along the axis."""
    x = as_variable(x)
    x, axis = _flat_or_axis(x, axis, "repeat")
    if isinstance(repeats, list | tuple | np.ndarray) or (
            isinstance(repeats, Variable) and repeats.ndim == 1):
        return _repeat_each(x, repeats, axis)
    count = as_variable(repeats)
    if count.ndim != 0 or count.dtype not in ("int8", "int16", "int32", "int64"):
        raise ShapeError(f"repeat: repeats must be an int, an integer scalar or a "
                         f"list of ints, got {repeats!r} (at {user_location()})")
    if isinstance(repeats, int | np.integer) and repeats < 0:
        raise ShapeError(f"repeat: repeats must be non-negative, got {repeats} "
                         f"(at {user_location()})")
    # (..., n, repeats, ...) by broadcasting a new axis, then merged into n * repeats
    spread = dimshuffle(x, [*range(axis + 1), "x", *range(axis + 1, x.ndim)])
    sizes = [dim(x, a) for a in range(axis + 1)] + [repeats] + [
        dim(x, a) for a in range(axis + 1, x.ndim)]
    size = x.type.shape[axis]
    merged = (size * int(repeats)
              if isinstance(repeats, int | np.integer) and size is not None
              else mul(dim(x, axis), cast(count, "int64")))
    return reshape(alloc(spread, *sizes),
                   [dim(x, a) for a in range(axis)] + [merged] +
                   [dim(x, a) for a in range(axis + 1, x.ndim)])


def _repeat_each(x: Variable, repeats: Any, axis: int) -> Variable:
    """Per-element repeat counts (static): one gather with the repeated indices."""
    if isinstance(repeats, Variable):
        raise ShapeError(f"repeat: per-element repeats must be a static list of ints, "
                         f"got the symbolic {repeats!r} (at {user_location()})")
    counts = np.asarray(repeats)
    if counts.ndim != 1 or counts.dtype.kind not in "iu" or (counts < 0).any():
        raise ShapeError(f"repeat: repeats must be non-negative ints, got {repeats!r} "
                         f"(at {user_location()})")
    size = x.type.shape[axis]
    if size is None or size != len(counts):
        raise ShapeError(f"repeat: {len(counts)} repeat counts for axis {axis} of "
                         f"{x!r}, whose length is {'unknown' if size is None else size}"
                         f" (at {user_location()})")
    index: list[Any] = [slice(None)] * x.ndim
    index[axis] = np.repeat(np.arange(size), counts)
    return x[tuple(index)]


