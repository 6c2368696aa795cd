"""Theano's `theano.tensor.basic` functions missing from the frontend, each a
composition of frontend ops (no new tc ops): eye, identity_like, diag, tile, any,
all, largest, smallest, the shape_pad* family, and the functions that change a
variable's static type (addbroadcast, unbroadcast, patternbroadcast,
specify_shape), which check at run time what the type now promises.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorc.errors import ShapeError
from tensorc.frontend.elemwise import (
    as_variable,
    cast,
    constant,
    dim,
    eq,
    maximum,
    minimum,
    neq,
    node,
    switch,
)
from tensorc.frontend.reduce import max as tensor_max
from tensorc.frontend.reduce import min as tensor_min
from tensorc.frontend.shape_ops import (
    alloc,
    arange,
    concatenate,
    dimshuffle,
    reshape,
    shape_entries,
    stack,
    zeros,
)
from tensorc.frontend.variable import Variable, normalize_dtype, user_location

__all__ = [
    "addbroadcast", "all", "any", "diag", "eye", "identity_like", "largest",
    "patternbroadcast", "shape_padaxis", "shape_padleft", "shape_padright",
    "smallest", "specify_shape", "tile", "unbroadcast",
]


def _axis(x: Variable, axis: int, what: str, extra: int = 0) -> int:
    """`axis` normalized for a tensor of rank x.ndim + extra (ShapeError naming
    `what` and the user's line when out of range)."""
    ndim = x.ndim + extra
    if not isinstance(axis, int | np.integer) or not -ndim <= axis < ndim:
        raise ShapeError(f"{what}: axis {axis!r} is out of range for a {ndim}-d "
                         f"result of a {x.ndim}-d input (at {user_location()})")
    return int(axis) + ndim if axis < 0 else int(axis)


# -- construction -----------------------------------------------------------------


def eye(n: Any, m: Any = None, k: int = 0, dtype: Any = "floatX") -> Variable:
    """An n x m matrix with ones on diagonal k (numpy.eye); n and m may be
    symbolic integer scalars."""
    if not isinstance(k, int | np.integer):
        raise ShapeError(f"eye: k must be a Python int, got {k!r} "
                         f"(at {user_location()})")
    rows = arange(n, dtype="int64")
    columns = rows if m is None else arange(m, dtype="int64")
    mask = eq(dimshuffle(rows, (0, "x")) + int(k), dimshuffle(columns, ("x", 0)))
    return cast(mask, normalize_dtype(dtype))


def identity_like(x: Any) -> Variable:
    """eye(rows, columns) of matrix `x`, in x's dtype."""
    x = as_variable(x)
    if x.ndim != 2:
        raise ShapeError(f"identity_like: x must be a matrix, got a {x.ndim}-d "
                         f"{x!r} (at {user_location()})")
    return eye(dim(x, 0), dim(x, 1), dtype=x.dtype)


def diag(v: Any, k: int = 0) -> Variable:
    """numpy.diag: a vector becomes the matrix with it on diagonal k, a matrix
    gives its diagonal k."""
    v = as_variable(v)
    if not isinstance(k, int | np.integer):
        raise ShapeError(f"diag: k must be a Python int, got {k!r} "
                         f"(at {user_location()})")
    if v.ndim == 1:
        return _diagonal_matrix(v, int(k))
    if v.ndim == 2:
        return _diagonal_of(v, int(k))
    raise ShapeError(f"diag: v must be a vector or a matrix, got a {v.ndim}-d {v!r} "
                     f"(at {user_location()})")


def _diagonal_matrix(v: Variable, k: int) -> Variable:
    """(n+|k|) x (n+|k|) zeros with v on diagonal k: entry (i, j) of the
    diagonal holds v[i] (k >= 0) or v[j] (k < 0), so v padded with |k| zeros
    broadcast along rows or columns fills it."""
    padded = concatenate([v, zeros([builtins.abs(k)], v.dtype)]) if k else v
    mask = eye(dim(padded, 0), k=k, dtype="bool")
    values = dimshuffle(padded, (0, "x") if k >= 0 else ("x", 0))
    return switch(mask, values, constant(0, v.dtype))


def _diagonal_of(x: Variable, k: int) -> Variable:
    """x[i, i + k] for every i where both indices are in range."""
    rows, columns = x.type.shape
    if rows is not None and columns is not None:  # a static length
        length: Any = builtins.max(builtins.min(rows - builtins.max(0, -k),
                                                columns - builtins.max(0, k)), 0)
    else:
        length = maximum(minimum(dim(x, 0) - builtins.max(0, -k),
                                 dim(x, 1) - builtins.max(0, k)), 0)
    index = arange(length, dtype="int64")
    return x[index + builtins.max(0, -k), index + builtins.max(0, k)]


def tile(x: Any, reps: Any, ndim: int | None = None) -> Variable:
    """numpy.tile with static reps: x repeated reps[i] times along axis i (reps
    and x are padded on the left with ones to a common rank)."""
    x = as_variable(x)
    values = [reps] if isinstance(reps, int | np.integer) else list(reps)
    if builtins.any(not isinstance(r, int | np.integer) or r < 0 for r in values):
        raise ShapeError(f"tile: reps must be non-negative Python ints, got {reps!r} "
                         f"(at {user_location()})")
    rank = builtins.max(x.ndim, len(values))
    if ndim is not None and ndim != rank:
        raise ShapeError(f"tile: ndim={ndim} but the result has rank {rank} "
                         f"(at {user_location()})")
    values = [1] * (rank - len(values)) + [int(r) for r in values]
    x = shape_padleft(x, rank - x.ndim)
    if builtins.all(r == 1 for r in values):
        return x
    # (r0, d0, r1, d1, ...): each dim of x after a broadcast dim of its repeats
    spread = dimshuffle(x, [p for a in range(rank) for p in ("x", a)])
    sizes = [s for a in range(rank) for s in (values[a], dim(x, a))]
    tiled = alloc(spread, *sizes)
    sizes_out: list[Any] = [
        values[a] * size if size is not None else values[a] * dim(x, a)
        for a, size in enumerate(x.type.shape)
    ]
    return reshape(tiled, sizes_out)


# -- reductions and extrema -------------------------------------------------------


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Whether any element along `axis` is nonzero (numpy.any, bool result)."""
    x = as_variable(x)
    return tensor_max(x if x.dtype == "bool" else neq(x, 0), axis=axis,
                      keepdims=keepdims)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Whether all elements along `axis` are nonzero (numpy.all, bool result)."""
    x = as_variable(x)
    return tensor_min(x if x.dtype == "bool" else neq(x, 0), axis=axis,
                      keepdims=keepdims)


def largest(*args: Any) -> Variable:
    """Elementwise maximum of the arguments (Theano's largest: a switch for two,
    so ties and NaN in `a` choose `b`; the max of their stack otherwise)."""
    if not args:
        raise TypeError(f"largest needs at least one argument (at {user_location()})")
    if len(args) == 2:
        a, b = (as_variable(v) for v in args)
        return switch(a > b, a, b)
    return tensor_max(stack(list(args)), axis=0)


def smallest(*args: Any) -> Variable:
    """Elementwise minimum of the arguments (Theano's smallest: a switch for two,
    so ties and NaN in `a` choose `b`; the min of their stack otherwise)."""
    if not args:
        raise TypeError(f"smallest needs at least one argument (at {user_location()})")
    if len(args) == 2:
        a, b = (as_variable(v) for v in args)
        return switch(a < b, a, b)
    return tensor_min(stack(list(args)), axis=0)


# -- broadcastable dims -----------------------------------------------------------


def shape_padleft(x: Any, n_ones: int = 1) -> Variable:
    """x with `n_ones` broadcastable dims in front."""
    x = as_variable(x)
    return dimshuffle(x, ["x"] * _count(n_ones, "shape_padleft") + list(range(x.ndim)))


def shape_padright(x: Any, n_ones: int = 1) -> Variable:
    """x with `n_ones` broadcastable dims at the end."""
    x = as_variable(x)
    return dimshuffle(x, list(range(x.ndim)) + ["x"] * _count(n_ones, "shape_padright"))


def shape_padaxis(x: Any, axis: int) -> Variable:
    """x with a broadcastable dim inserted at `axis` (numpy.expand_dims)."""
    x = as_variable(x)
    axis = _axis(x, axis, "shape_padaxis", extra=1)
    pattern: list[int | str] = list(range(x.ndim))
    pattern.insert(axis, "x")
    return dimshuffle(x, pattern)


def _count(n: Any, what: str) -> int:
    if not isinstance(n, int | np.integer) or n < 0:
        raise ShapeError(f"{what}: n_ones must be a non-negative int, got {n!r} "
                         f"(at {user_location()})")
    return int(n)


def addbroadcast(x: Any, *axes: int) -> Variable:
    """x with dims `axes` broadcastable (static 1); a run-time check that they are
    1 (Theano's Rebroadcast)."""
    x = as_variable(x)
    chosen = {_axis(x, a, "addbroadcast") for a in axes}
    for a in chosen:
        if x.type.shape[a] not in (None, 1):
            raise ShapeError(f"addbroadcast: dim {a} of {x!r} is {x.type.shape[a]}, "
                             f"not 1 (at {user_location()})")
    if builtins.all(x.type.shape[a] == 1 for a in chosen):
        return x
    dims = [1 if a in chosen else x.type.shape[a] for a in range(x.ndim)]
    operands = [dim(x, a) for a in range(x.ndim) if dims[a] is None]
    # a broadcast to a static 1 checks the dim at run time
    return node("broadcast", [x, *operands], x.dtype, dims)


def unbroadcast(x: Any, *axes: int) -> Variable:
    """x with dims `axes` no longer broadcastable (a static 1 becomes unknown)."""
    x = as_variable(x)
    chosen = {_axis(x, a, "unbroadcast") for a in axes}
    released = [a for a in sorted(chosen) if x.type.shape[a] == 1]
    if not released:
        return x
    dims = [None if a in released else x.type.shape[a] for a in range(x.ndim)]
    operands = [
        constant(np.int64(1)) if a in released else dim(x, a)
        for a in range(x.ndim) if dims[a] is None
    ]
    return node("reshape", [x, *operands], x.dtype, dims)


def patternbroadcast(x: Any, broadcastable: Sequence[bool]) -> Variable:
    """x with exactly the broadcastable pattern given (one bool per dim)."""
    x = as_variable(x)
    pattern = list(broadcastable)
    if len(pattern) != x.ndim:
        raise ShapeError(f"patternbroadcast: pattern {tuple(pattern)} has "
                         f"{len(pattern)} entries for the {x.ndim}-d {x!r} "
                         f"(at {user_location()})")
    x = addbroadcast(x, *[a for a, b in enumerate(pattern) if b])
    return unbroadcast(x, *[a for a, b in enumerate(pattern) if not b])


def specify_shape(x: Any, shape: Any) -> Variable:
    """x, with the static shape `shape` (ints, or integer scalars for dims known
    only at run time); checked at run time, as Theano's SpecifyShape."""
    x = as_variable(x)
    entries = shape_entries(shape)
    if len(entries) != x.ndim:
        raise ShapeError(f"specify_shape: shape has {len(entries)} entries for the "
                         f"{x.ndim}-d {x!r} (at {user_location()})")
    for a, (want, have) in enumerate(zip(entries, x.type.shape)):
        if isinstance(want, int) and have is not None and want != have:
            raise ShapeError(f"specify_shape: dim {a} of {x!r} is {have}, not {want} "
                             f"(at {user_location()})")
    if builtins.all(isinstance(e, int) for e in entries) and (
            tuple(entries) == x.type.shape):
        return x
    # broadcast to (1, *shape) checks each dim x does not know statically; a
    # static 1 of x would stretch there, so it stays 1 and the final reshape
    # (which checks the element count) catches a symbolic entry other than 1
    target = [1 if x.type.shape[a] == 1 else e for a, e in enumerate(entries)]
    checked = node("broadcast", [x, *[e for e in target if not isinstance(e, int)]],
                   x.dtype, (1, *[e if isinstance(e, int) else None for e in target]))
    return reshape(checked, entries)
