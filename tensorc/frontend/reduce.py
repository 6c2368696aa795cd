"""Reductions (sum, prod, max, min, argmax, argmin, mean, var, std) and products
(dot, outer, tensordot, batched_dot), with numpy's dtype rules (integer sums
accumulate in int64)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorc.errors import DTypeError, ShapeError
from tensorc.frontend.elemwise import (
    as_variable,
    cast,
    constant,
    dim,
    mul,
    node,
    result_dtype,
    sqrt,
    sub,
    true_div,
)
from tensorc.frontend.shape_ops import dimshuffle, reshape, transpose
from tensorc.frontend.variable import Variable, normalize_dtype, user_location

_FLOATS = ("float16", "float32", "float64")


def normalize_axes(x: Variable, axis: int | Sequence[int] | None) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(x.ndim))
    axes = [axis] if isinstance(axis, int) else list(axis)
    normalized = []
    for a in axes:
        if not -x.ndim <= a < builtins.max(x.ndim, 1):
            raise ShapeError(
                f"axis {a} is out of range for a {x.ndim}-d tensor (at {user_location()})"
            )
        normalized.append(a + x.ndim if a < 0 else a)
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"repeated axis in {tuple(axes)}")
    return tuple(sorted(normalized))


def _reduce(op: str, x: Variable, axes: tuple[int, ...], keepdims: bool, dtype: str) -> Variable:
    shape = tuple(
        (1 if keepdims else None) if a in axes else d for a, d in enumerate(x.type.shape)
    )
    shape = tuple(d for a, d in enumerate(shape) if keepdims or a not in axes)
    return node(op, [x], dtype, shape, {"axes": axes, "keepdims": keepdims})


def _accumulator_dtype(x: Variable, dtype: Any) -> str:
    if dtype is not None:
        return normalize_dtype(dtype)
    return x.dtype if x.dtype in _FLOATS else "int64"


def sum(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Variable:  # noqa: A001
    x = as_variable(x)
    return _reduce("sum", cast(x, _accumulator_dtype(x, dtype)), normalize_axes(x, axis),
                   keepdims, _accumulator_dtype(x, dtype))


def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Variable:
    x = as_variable(x)
    acc = _accumulator_dtype(x, dtype)
    return _reduce("prod", cast(x, acc), normalize_axes(x, axis), keepdims, acc)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:  # noqa: A001
    x = as_variable(x)
    return _reduce("max", x, normalize_axes(x, axis), keepdims, x.dtype)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:  # noqa: A001
    x = as_variable(x)
    return _reduce("min", x, normalize_axes(x, axis), keepdims, x.dtype)


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    x = as_variable(x)
    return _reduce("argmax", x, normalize_axes(x, axis), keepdims, "int64")


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    x = as_variable(x)
    return _reduce("argmin", x, normalize_axes(x, axis), keepdims, "int64")


def _count(x: Variable, axes: tuple[int, ...], dtype: str) -> Variable:
    """Number of reduced elements as a 0-d `dtype` value (constant when static)."""
    sizes = [x.type.shape[a] for a in axes]
    if None not in sizes:
        total = 1
        for s in sizes:
            total *= s  # type: ignore[operator]
        return constant(total, dtype)
    count = dim(x, axes[0])
    for a in axes[1:]:
        count = mul(count, dim(x, a))
    return cast(count, dtype)


def mean(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Variable:
    x = as_variable(x)
    out = normalize_dtype(dtype) if dtype is not None else (
        x.dtype if x.dtype in _FLOATS else "float64"
    )
    axes = normalize_axes(x, axis)
    total = sum(x, axis=axes, keepdims=keepdims, dtype=out)
    return true_div(total, _count(x, axes, out))


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Variable:
    x = as_variable(x)
    axes = normalize_axes(x, axis)
    centered = sub(x, mean(x, axis=axes, keepdims=True))
    squares = sum(mul(centered, centered), axis=axes, keepdims=keepdims)
    count = _count(x, axes, squares.dtype)
    return true_div(squares, count - ddof if ddof else count)


def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Variable:
    return sqrt(var(x, axis=axis, keepdims=keepdims, ddof=ddof))


def dot(a: Any, b: Any) -> Variable:
    """numpy.dot: matrix/vector products; N-d operands contract the last axis of `a`
    with the second-to-last of `b` (the last when `b` is a vector)."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.ndim > 2 or b.ndim > 2:
        return tensordot(a, b, [[a.ndim - 1], [builtins.max(0, b.ndim - 2)]])
    a, b = _product_operands(a, b, "dot")
    k_a, k_b = a.type.shape[-1], b.type.shape[0]
    if k_a is not None and k_b is not None and k_a != k_b:
        raise ShapeError(
            f"dot: shapes {a.type.shape} and {b.type.shape} not aligned: "
            f"{k_a} (dim {a.ndim - 1}) != {k_b} (dim 0) (at {user_location()})"
        )
    out = a.type.shape[:-1] + b.type.shape[1:]
    return node("matmul", [a, b], a.dtype, out)


def _product_operands(a: Variable, b: Variable, what: str) -> tuple[Variable, Variable]:
    """Both operands cast to their numpy result dtype (booleans are refused)."""
    dtype = result_dtype(a, b)
    if dtype == "bool":
        raise DTypeError(f"{what} of boolean tensors is not supported "
                         f"(at {user_location()})")
    return cast(a, dtype), cast(b, dtype)


def outer(a: Any, b: Any) -> Variable:
    a, b = as_variable(a), as_variable(b)
    return mul(dimshuffle(a, (0, "x")), dimshuffle(b, ("x", 0)))


def _axis_list(x: Variable, axes: Any, what: str) -> list[int]:
    """One side of tensordot's `axes`: an int or a sequence of ints, normalized."""
    values = [axes] if isinstance(axes, int | np.integer) else list(axes)
    normalized = []
    for a in values:
        if not isinstance(a, int | np.integer) or not -x.ndim <= a < x.ndim:
            raise ShapeError(f"{what}: axis {a!r} is out of range for a {x.ndim}-d "
                             f"operand (at {user_location()})")
        normalized.append(int(a) + x.ndim if a < 0 else int(a))
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"{what}: repeated axis in {values} (at {user_location()})")
    return normalized


def _tensordot_axes(a: Variable, b: Variable, axes: Any, what: str
                    ) -> tuple[list[int], list[int]]:
    """numpy's `axes` argument: n (last n of a with first n of b) or a pair."""
    if isinstance(axes, int | np.integer):
        if not 0 <= axes <= builtins.min(a.ndim, b.ndim):
            raise ShapeError(f"{what}: axes={axes} needs 0 <= axes <= the rank of both "
                             f"operands ({a.ndim}, {b.ndim}) (at {user_location()})")
        return list(range(a.ndim - int(axes), a.ndim)), list(range(int(axes)))
    if not isinstance(axes, Sequence | np.ndarray) or len(axes) != 2:
        raise ShapeError(f"{what}: axes must be an int or a pair of axis lists, got "
                         f"{axes!r} (at {user_location()})")
    axes_a, axes_b = _axis_list(a, axes[0], what), _axis_list(b, axes[1], what)
    if len(axes_a) != len(axes_b):
        raise ShapeError(f"{what}: axes {axes!r} name {len(axes_a)} axes of a but "
                         f"{len(axes_b)} of b (at {user_location()})")
    for i, j in zip(axes_a, axes_b):
        d_a, d_b = a.type.shape[i], b.type.shape[j]
        if d_a is not None and d_b is not None and d_a != d_b:
            raise ShapeError(f"{what}: shape-mismatch for sum: dim {i} of a is {d_a}, "
                             f"dim {j} of b is {d_b} (at {user_location()})")
    return axes_a, axes_b


def _size(x: Variable, axes: Sequence[int]) -> Variable:
    """Number of elements of `x` along `axes` (1 for none), a 0-d int64 value."""
    total = constant(np.int64(1))
    for a in axes:
        total = mul(total, dim(x, a))
    return total


def tensordot(a: Any, b: Any, axes: Any = 2) -> Variable:
    """numpy.tensordot: sum over `axes` (n, or a pair of axis lists) of a and b;
    the result has a's free axes, then b's. One matrix product of the operands
    transposed and flattened to (free, summed) and (summed, free)."""
    a, b = as_variable(a), as_variable(b)
    axes_a, axes_b = _tensordot_axes(a, b, axes, "tensordot")
    a, b = _product_operands(a, b, "tensordot")
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    left = reshape(transpose(a, free_a + axes_a), [_size(a, free_a), _size(a, axes_a)])
    right = reshape(transpose(b, axes_b + free_b), [_size(b, axes_b), _size(b, free_b)])
    product = node("matmul", [left, right], a.dtype,
                   (left.type.shape[0], right.type.shape[1]))
    return reshape(product, [dim(a, i) for i in free_a] + [dim(b, j) for j in free_b])


def batched_tensordot(a: Any, b: Any, axes: Any) -> Variable:
    """Theano's batched_tensordot: tensordot of a[i] and b[i] for each i of the
    leading (batch) axis; `axes` count the batch axis (an int n sums the last n
    axes of a with axes 1..n of b)."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim < 1 or b.ndim < 1:
        raise ShapeError(f"batched_tensordot: both operands need a batch axis, got "
                         f"ranks {a.ndim} and {b.ndim} (at {user_location()})")
    if isinstance(axes, int | np.integer):
        axes = [list(range(a.ndim - int(axes), a.ndim)), list(range(1, int(axes) + 1))]
    axes_a, axes_b = _tensordot_axes(a, b, axes, "batched_tensordot")
    if 0 in axes_a or 0 in axes_b:
        raise ShapeError(f"batched_tensordot: axes {axes!r} may not include the batch "
                         f"axis 0 (at {user_location()})")
    return _batched_contraction(a, b, axes_a, axes_b)


SMALL_BATCHED_PRODUCT = 4096
"""A batched contraction with at most this many products per batch item (a static
count) is one elementwise product and a sum; larger or dynamic ones are a scan of
matrix products over the batch (measured on 32 x 64x64 @ 64x64: 3.5 ms against
0.9 ms, and no batch x n x m x p temporary)."""


def _batched_contraction(a: Variable, b: Variable, axes_a: list[int],
                         axes_b: list[int]) -> Variable:
    """tensordot(a[i], b[i]) for each batch index i, stacked."""
    a, b = _product_operands(a, b, "batched_dot")
    free_a = [i for i in range(1, a.ndim) if i not in axes_a]
    free_b = [j for j in range(1, b.ndim) if j not in axes_b]
    sizes = [a.type.shape[i] for i in free_a + axes_a] + [
        b.type.shape[j] for j in free_b]
    if None in sizes or int(np.prod(sizes)) > SMALL_BATCHED_PRODUCT:
        from tensorc.frontend.scan import scan

        inner = [[i - 1 for i in axes_a], [j - 1 for j in axes_b]]
        stacked, _ = scan(lambda x, y: tensordot(x, y, inner), sequences=[a, b])
        return stacked
    n_a, n_s, n_b = len(free_a), len(axes_a), len(free_b)
    # (batch, free a, summed, free b), with broadcast dims for the other's axes
    left = dimshuffle(a, [0, *free_a, *axes_a] + ["x"] * n_b)
    right = dimshuffle(b, [0] + ["x"] * n_a + [*axes_b, *free_b])
    summed = list(range(1 + n_a, 1 + n_a + n_s))
    products = mul(left, right)
    return sum(products, axis=summed) if summed else products


def batched_dot(a: Any, b: Any) -> Variable:
    """Theano's batched_dot: dot(a[i], b[i]) for each i of the leading axis; a
    vector operand scales the other's rows."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        which = "a" if a.ndim == 0 else "b"
        raise ShapeError(f"batched_dot: {which} must have a batch axis, got a 0-d "
                         f"operand (at {user_location()})")
    if a.ndim == 1:
        return mul(dimshuffle(a, [0] + ["x"] * (b.ndim - 1)), b)
    if b.ndim == 1:
        return mul(a, dimshuffle(b, [0] + ["x"] * (a.ndim - 1)))
    return batched_tensordot(a, b, [[a.ndim - 1], [builtins.max(1, b.ndim - 2)]])
