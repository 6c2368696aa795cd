"""Reductions (sum, prod, max, min, argmax, argmin, mean, var, std) and products
(dot, outer), with numpy's dtype rules (integer sums accumulate in int64)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

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
from tensorc.frontend.shape_ops import dimshuffle, reshape
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
    """numpy.dot: matrix/vector products; N-d `a` contracts its last axis with `b`."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    dtype = result_dtype(a, b)
    if dtype == "bool":
        raise DTypeError(f"dot of boolean tensors is not supported (at {user_location()})")
    a, b = cast(a, dtype), cast(b, dtype)
    if b.ndim > 2:
        raise ShapeError(f"dot: right operand of rank {b.ndim} is not supported")
    if a.ndim > 2:
        lead = [dim(a, i) for i in range(a.ndim - 1)]
        flat = dot(reshape(a, [-1, dim(a, a.ndim - 1)]), b)
        return reshape(flat, lead + ([dim(b, 1)] if b.ndim == 2 else []))
    k_a, k_b = a.type.shape[-1], b.type.shape[0]
    if k_a is not None and k_b is not None and k_a != k_b:
        raise ShapeError(
            f"dot: shapes {a.type.shape} and {b.type.shape} not aligned: "
            f"{k_a} (dim {a.ndim - 1}) != {k_b} (dim 0) (at {user_location()})"
        )
    out = a.type.shape[:-1] + b.type.shape[1:]
    return node("matmul", [a, b], dtype, out)


def outer(a: Any, b: Any) -> Variable:
    a, b = as_variable(a), as_variable(b)
    return mul(dimshuffle(a, (0, "x")), dimshuffle(b, ("x", 0)))
