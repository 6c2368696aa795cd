"""Shape manipulation and indexing: x.shape, reshape, dimshuffle, transpose, flatten,
concatenate, stack, indexing (basic slicing and numpy integer-array indexing),
arange, and the alloc family (zeros, ones, fill, zeros_like...)."""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorc.errors import DTypeError, ShapeError
from tensorc.frontend.elemwise import (
    as_variable,
    broadcast_all,
    cast,
    constant,
    dim,
    int_div,
    mul,
    node,
    result_dtype,
)
from tensorc.frontend.variable import Variable, normalize_dtype, user_location

BIG = 2**62
"""Stands for Python's `None` in slice bounds; slice clamping makes it exact."""
DYNAMIC = -(2**63)
"""Marks a slice bound given by an operand (tc's DYNAMIC)."""

DimLike = int | Variable


class Shape:
    """`x.shape`: indexable like a tuple of 0-d int64 variables, usable as a value."""

    def __init__(self, value: Variable):
        self.value = value

    def __len__(self) -> int:
        return self.value.ndim

    def __getitem__(self, index: int | slice) -> Any:
        dims = [dim(self.value, axis) for axis in range(self.value.ndim)]
        return dims[index]

    def __iter__(self) -> Any:
        return iter(self[:])

    def as_variable(self) -> Variable:
        if self.value.ndim == 0:
            return constant(np.zeros(0, dtype=np.int64))
        return stack(list(self))

    def __repr__(self) -> str:
        return f"Shape({self.value!r})"


def shape(x: Any) -> Shape:
    return Shape(as_variable(x))


def _dim_value(entry: Any) -> DimLike:
    """An int, or a 0-d int64 variable (constants become ints)."""
    if isinstance(entry, Variable):
        if entry.ndim != 0 or entry.dtype in ("float16", "float32", "float64", "bool"):
            raise DTypeError(f"shape entries must be integer scalars, got {entry.type}")
        if entry.op == "constant":
            return int(entry.attrs["value"])
        return cast(entry, "int64")
    if isinstance(entry, builtins.int | np.integer):
        return int(entry)
    raise DTypeError(f"shape entries must be ints or integer scalars, got {entry!r}")


def _shape_entries(spec: Any) -> list[DimLike]:
    if isinstance(spec, Shape):
        return [_dim_value(d) for d in spec]
    if isinstance(spec, Variable):
        if spec.ndim == 0:
            return [_dim_value(spec)]
        length = spec.type.shape[0]
        if spec.ndim != 1 or length is None:
            raise ShapeError(f"a shape vector needs a static length, got {spec.type}")
        return [_dim_value(getitem(spec, i)) for i in range(length)]
    if isinstance(spec, builtins.int | np.integer):
        return [int(spec)]
    return [_dim_value(d) for d in spec]


def shape_entries(spec: Any) -> list[DimLike]:
    """A shape argument (ints, integer scalars, `x.shape`, a shape vector of
    static length) as ints and 0-d int64 variables."""
    return _shape_entries(spec)


def _product(values: Sequence[DimLike]) -> DimLike:
    total: DimLike = 1
    for v in values:
        if isinstance(total, int) and isinstance(v, int):
            total *= v
        else:
            total = mul(total, v)
    return total


def _with_dims(op: str, value: Variable, dims: Sequence[DimLike], dtype: str) -> Variable:
    """A reshape/broadcast node whose dynamic result dims are the variable entries."""
    static = tuple(d if isinstance(d, int) else None for d in dims)
    operands = [d for d in dims if not isinstance(d, int)]
    return node(op, [value, *operands], dtype, static)


def reshape(x: Any, new_shape: Any, ndim: int | None = None) -> Variable:
    """Row-major reshape; one entry may be -1 (inferred)."""
    x = as_variable(x)
    entries = _shape_entries(new_shape)
    if ndim is not None and ndim != len(entries):
        raise ShapeError(f"reshape: ndim={ndim} but the new shape has {len(entries)} entries")
    holes = [i for i, d in enumerate(entries) if isinstance(d, int) and d == -1]
    if len(holes) > 1:
        raise ShapeError(f"reshape: at most one -1 allowed, got {new_shape!r}")
    if holes:
        others = [d for i, d in enumerate(entries) if i != holes[0]]
        entries[holes[0]] = int_div_dims(_product([dim(x, a) for a in range(x.ndim)]),
                                         _product(others))
    static_in = None not in x.type.shape
    if static_in and all(isinstance(d, int) for d in entries):
        if int(np.prod(x.type.shape)) != int(np.prod(entries)):
            raise ShapeError(
                f"cannot reshape {x.type.shape} into {tuple(entries)} at {user_location()}"
            )
        if tuple(entries) == x.type.shape:
            return x
    return _with_dims("reshape", x, entries, x.dtype)


def int_div_dims(a: DimLike, b: DimLike) -> DimLike:
    if isinstance(a, Variable) and a.op == "constant":
        a = int(a.attrs["value"])
    if isinstance(a, int) and isinstance(b, int):
        return a // b if b else 0
    return int_div(a, b)


def flatten(x: Any, ndim: int = 1) -> Variable:
    x = as_variable(x)
    if not 1 <= ndim <= builtins.max(x.ndim, 1):
        raise ShapeError(f"flatten: ndim={ndim} out of range for {x.ndim}-d input")
    return reshape(x, [dim(x, a) for a in range(ndim - 1)] + [-1])


def transpose(x: Any, axes: Sequence[int] | None = None) -> Variable:
    x = as_variable(x)
    perm = tuple(reversed(range(x.ndim))) if axes is None else tuple(
        a + x.ndim if a < 0 else a for a in axes
    )
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"transpose: {tuple(axes or ())} is not a permutation of {x.ndim} dims")
    if perm == tuple(range(x.ndim)):
        return x
    out_shape = tuple(x.type.shape[p] for p in perm)
    return node("transpose", [x], x.dtype, out_shape, {"perm": perm})


def dimshuffle(x: Any, pattern: Sequence[int | str]) -> Variable:
    """Theano's dimshuffle: reorder dims, 'x' inserts a broadcastable dim, and dims
    left out must be broadcastable (static 1)."""
    x = as_variable(x)
    kept = [p for p in pattern if p != "x"]
    if any(not isinstance(p, builtins.int) or not 0 <= p < x.ndim for p in kept) or len(
        set(kept)
    ) != len(kept):
        raise ShapeError(f"dimshuffle: invalid pattern {tuple(pattern)} for {x.ndim}-d input")
    dropped = [a for a in range(x.ndim) if a not in kept]
    for a in dropped:
        if x.type.shape[a] != 1:
            raise ShapeError(
                f"dimshuffle{tuple(pattern)}: cannot drop dim {a} of shape "
                f"{x.type.shape}: it is not broadcastable (at {user_location()})"
            )
    moved = transpose(x, kept + dropped)  # type: ignore[operator]
    if not dropped and len(kept) == len(pattern):
        return moved
    dims = [1 if p == "x" else dim(x, p) for p in pattern]  # type: ignore[arg-type]
    return reshape(moved, dims)


def _common_dim(values: Sequence[int | None], what: str) -> int | None:
    fixed = {v for v in values if v is not None}
    if len(fixed) > 1:
        raise ShapeError(f"{what}: dims {sorted(fixed)} differ (at {user_location()})")
    return fixed.pop() if fixed else None


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Variable:
    values = [as_variable(t) for t in tensors]
    if not values:
        raise ValueError("concatenate needs at least one tensor")
    dtype = result_dtype(*values)
    values = [cast(v, dtype) for v in values]
    ndim = values[0].ndim
    if any(v.ndim != ndim for v in values) or ndim == 0:
        raise ShapeError(
            f"concatenate: all inputs need one rank >= 1, got {[v.ndim for v in values]}"
        )
    axis = axis + ndim if axis < 0 else axis
    out: list[int | None] = []
    for a in range(ndim):
        column = [v.type.shape[a] for v in values]
        if a == axis:
            out.append(None if None in column else builtins.sum(column))  # type: ignore[arg-type]
        else:
            out.append(_common_dim(column, f"concatenate dim {a}"))
    if len(values) == 1:
        return values[0]
    return node("concatenate", values, dtype, out, {"axis": axis})


def stack(*tensors: Any, axis: int = 0) -> Variable:
    """Join along a new axis; `stack([a, b])` or `stack(a, b)`."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    values = [as_variable(t) for t in tensors]
    dtype = result_dtype(*values)
    values = broadcast_all([cast(v, dtype) for v in values], "stack")
    ndim = values[0].ndim + 1
    axis = axis + ndim if axis < 0 else axis
    expanded = []
    for v in values:
        pattern: list[int | str] = list(range(v.ndim))
        pattern.insert(axis, "x")
        expanded.append(dimshuffle(v, pattern))
    return concatenate(expanded, axis=axis)


# -- indexing ---------------------------------------------------------------------


def _is_advanced(entry: Any) -> bool:
    if isinstance(entry, Variable):
        return True
    return isinstance(entry, list | tuple | np.ndarray)


def _index_ndim(entry: Any) -> int:
    return entry.ndim if isinstance(entry, Variable) else int(np.ndim(entry))


def _expand_key(x: Variable, key: Any) -> list[Any]:
    key = list(key) if isinstance(key, tuple) else [key]
    real = [k for k in key if k is not None and k is not Ellipsis]
    if len(real) > x.ndim:
        raise IndexError(
            f"too many indices for a {x.ndim}-d tensor: {len(real)} (at {user_location()})"
        )
    # by identity: `==` on a numpy-array index would compare elementwise
    ellipses = [i for i, k in enumerate(key) if k is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    fill = [slice(None)] * (x.ndim - len(real))
    if ellipses:
        at = ellipses[0]
        return key[:at] + fill + key[at + 1:]
    return key + fill


_SUBTENSORS: weakref.WeakKeyDictionary[Variable, tuple[Variable, Any]] = (
    weakref.WeakKeyDictionary()
)
"""x[key] results -> (x, key), so set_subtensor/inc_subtensor can find what was indexed."""


def getitem(x: Any, key: Any) -> Variable:
    """numpy indexing: ints, slices (static or symbolic bounds), None, Ellipsis, and
    integer arrays / symbolic integer indices (numpy's advanced indexing)."""
    x = as_variable(x)
    result = _getitem(x, key)
    if result is x:  # x[:] is still a distinct subtensor (set_subtensor(x[:], v) works)
        from tensorc.frontend.elemwise import identity

        result = identity(x)
    _SUBTENSORS[result] = (x, key)
    return result


def _getitem(x: Variable, key: Any) -> Variable:
    entries = _expand_key(x, key)
    has_array = any(_is_advanced(e) and _index_ndim(e) > 0 for e in entries)
    for e in entries:
        if isinstance(e, Variable) and e.dtype == "bool" or (
            isinstance(e, np.ndarray) and e.dtype == np.bool_
        ):
            raise IndexError("boolean mask indexing has a data-dependent shape; "
                             "use T.switch instead")
    real = [e for e in entries if e is not None]
    advanced = {}
    for axis, e in enumerate(real):
        if _is_advanced(e) or (
            isinstance(e, builtins.int | np.integer)
            and (has_array or x.type.shape[axis] is None)
        ):
            advanced[axis] = e
    if advanced and builtins.any(e is None for e in entries):
        raise IndexError("combining np.newaxis with integer-array indexing is not supported")
    sliced, drop = _basic_slice(x, real, advanced)
    if not advanced:
        pattern: list[int | str] = []
        axis = 0
        for e in entries:
            if e is None:
                pattern.append("x")
                continue
            if axis not in drop:
                pattern.append(axis)
            axis += 1
        return dimshuffle(sliced, pattern) if pattern != list(range(sliced.ndim)) else sliced
    return _advanced_index(sliced, advanced)


def _basic_slice(
    x: Variable, real: Sequence[Any], advanced: dict[int, Any]
) -> tuple[Variable, set[int]]:
    """Apply slices and static int indices; advanced axes stay whole."""
    starts: list[int] = []
    stops: list[int] = []
    steps: list[int] = []
    bounds_start: list[Variable] = []
    bounds_stop: list[Variable] = []
    out_shape: list[int | None] = []
    drop: set[int] = set()
    for axis, e in enumerate(real):
        size = x.type.shape[axis]
        if axis in advanced:
            e = slice(None)
        elif isinstance(e, builtins.int | np.integer):
            i = int(e)
            if not -size <= i < size:  # type: ignore[operator]
                raise IndexError(
                    f"index {i} is out of bounds for axis {axis} with size {size} "
                    f"(at {user_location()})"
                )
            i = i + size if i < 0 else i  # type: ignore[operator]
            e = slice(i, i + 1, 1)
            drop.add(axis)
        elif not isinstance(e, slice):
            raise IndexError(f"unsupported index {e!r}")
        step = 1 if e.step is None else e.step
        if isinstance(step, Variable) or step == 0:
            raise IndexError("slice steps must be nonzero Python ints")
        start = e.start if e.start is not None else (0 if step > 0 else BIG)
        stop = e.stop if e.stop is not None else (BIG if step > 0 else -BIG)
        for bound, static, dyn in ((start, starts, bounds_start), (stop, stops, bounds_stop)):
            value = _dim_value(bound)
            if isinstance(value, int):
                static.append(value)
            else:
                static.append(DYNAMIC)
                dyn.append(value)
        steps.append(int(step))
        known = isinstance(starts[-1], int) and DYNAMIC not in (starts[-1], stops[-1])
        if size is not None and known:
            out_shape.append(len(range(*slice(starts[-1], stops[-1], step).indices(size))))
        elif (starts[-1], stops[-1], step) == (0, BIG, 1):
            out_shape.append(size)
        else:
            out_shape.append(None)
    trivial = all((s, t, p) == (0, BIG, 1) for s, t, p in zip(starts, stops, steps))
    if trivial:
        return x, drop
    sliced = node(
        "slice", [x, *bounds_start, *bounds_stop], x.dtype, out_shape,
        {"starts": tuple(starts), "stops": tuple(stops), "steps": tuple(steps)},
    )
    return sliced, drop


def _advanced_index(x: Variable, advanced: dict[int, Any]) -> Variable:
    axes = sorted(advanced)
    indices = []
    for a in axes:
        index = as_variable(advanced[a])
        if index.dtype not in ("int8", "int16", "int32", "int64"):
            raise IndexError(f"array indices must be integers, got {index.dtype}")
        indices.append(cast(index, "int64"))
    indices = broadcast_all(indices, "indexing")
    rest = [a for a in range(x.ndim) if a not in advanced]
    moved = transpose(x, axes + rest)
    index_shape = indices[0].type.shape
    out_shape = index_shape + tuple(x.type.shape[a] for a in rest)
    gathered = node("gather", [moved, *indices], x.dtype, out_shape)
    adjacent = axes == list(range(axes[0], axes[-1] + 1))
    if adjacent and axes[0] > 0 and index_shape:
        k = len(index_shape)
        first = list(range(k, k + axes[0]))
        perm = first + list(range(k)) + list(range(k + axes[0], gathered.ndim))
        return transpose(gathered, perm)
    return gathered


# -- construction -----------------------------------------------------------------


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Variable:
    if stop is None:
        start, stop = 0, start
    dtype = normalize_dtype(dtype) if dtype is not None else result_dtype(start, stop, step)
    if dtype == "bool":
        raise DTypeError("arange of bools is not supported")
    values = [constant(v, dtype) if not isinstance(v, Variable) else cast(v, dtype)
              for v in (start, stop, step)]
    if any(v.ndim != 0 for v in values):
        raise ShapeError("arange: start, stop and step must be scalars")
    length: int | None = None
    if all(v.op == "constant" for v in values):
        a, b, c = (v.attrs["value"].item() for v in values)
        if c == 0:
            raise ValueError("arange: step must not be zero")
        length = len(np.arange(a, b, c))
    return node("arange", values, dtype, (length,))


def alloc(value: Any, *shape: Any) -> Variable:
    """`value` broadcast to `shape` (Theano's T.alloc)."""
    value = as_variable(value)
    if len(shape) == 1 and not isinstance(shape[0], builtins.int | Variable):
        shape = tuple(_shape_entries(shape[0]))
    dims = [_dim_value(d) for d in shape]
    if value.ndim > len(dims):
        raise ShapeError(f"alloc: value of rank {value.ndim} exceeds target rank {len(dims)}")
    if value.type.shape == tuple(dims):
        return value
    return _with_dims("broadcast", value, dims, value.dtype)


def zeros(shape: Any, dtype: Any = "floatX") -> Variable:
    return alloc(constant(0, normalize_dtype(dtype)), *_shape_entries(shape))


def ones(shape: Any, dtype: Any = "floatX") -> Variable:
    return alloc(constant(1, normalize_dtype(dtype)), *_shape_entries(shape))


def fill(model: Any, value: Any) -> Variable:
    """`value` broadcast to the shape of `model` (Theano's fill)."""
    model = as_variable(model)
    value = as_variable(value)
    return alloc(value, *[dim(model, a) for a in range(model.ndim)])


def zeros_like(x: Any, dtype: Any = None) -> Variable:
    x = as_variable(x)
    return fill(x, constant(0, x.dtype if dtype is None else dtype))


def ones_like(x: Any, dtype: Any = None) -> Variable:
    x = as_variable(x)
    return fill(x, constant(1, x.dtype if dtype is None else dtype))


# -- writing into subtensors (Theano's set_subtensor / inc_subtensor) --------------


def set_subtensor(subtensor: Variable, value: Any) -> Variable:
    """A copy of `x` with `x[key]` replaced by `value` (broadcast), for `subtensor`
    = `x[key]`; basic indexing (ints, slices) only."""
    return _write_subtensor(subtensor, value, increment=False)


def inc_subtensor(subtensor: Variable, value: Any) -> Variable:
    """A copy of `x` with `value` added to `x[key]`; integer-array indices accumulate
    repeated entries (numpy's `np.add.at`)."""
    return _write_subtensor(subtensor, value, increment=True)


def _write_subtensor(subtensor: Variable, value: Any, increment: bool) -> Variable:
    from tensorc.frontend.elemwise import add, broadcast_shape, broadcast_to

    found = _SUBTENSORS.get(subtensor)
    if found is None:
        raise TypeError(
            "set_subtensor/inc_subtensor expect an indexed variable such as x[1:3] "
            f"(at {user_location()})"
        )
    x, key = found
    update = cast(as_variable(value), x.dtype)
    if update.ndim > subtensor.ndim:
        raise ShapeError(
            f"cannot write a {update.ndim}-d value into a {subtensor.ndim}-d subtensor "
            f"(at {user_location()})"
        )
    broadcast_shape([subtensor, update], "set_subtensor")
    update = broadcast_to(update, subtensor.type.shape, [subtensor])
    entries = _expand_key(x, key)
    if builtins.any(e is None for e in entries):
        raise IndexError("set_subtensor/inc_subtensor do not support np.newaxis")
    if any(_is_advanced(e) and _index_ndim(e) > 0 for e in entries):
        return _write_advanced(x, entries, update, increment)
    drop = {a for a, e in enumerate(entries) if not isinstance(e, slice)}
    sliced, _ = _basic_slice(x, [_as_slice(e) for e in entries], {})
    if drop:
        update = reshape(update, [1 if a in drop else dim(sliced, a) for a in range(x.ndim)])
    if increment:
        update = add(sliced, update)
    if sliced is x:
        return update
    return node("insert_slice", [update, x, *sliced.inputs[1:]], x.dtype, x.type.shape,
                dict(sliced.attrs))


def _as_slice(entry: Any) -> slice:
    """An integer index as the one-element slice it writes (a wrong index gives an
    empty slice, which the insert's run-time shape check reports)."""
    if isinstance(entry, slice):
        return entry
    if isinstance(entry, builtins.int | np.integer):
        return slice(int(entry), int(entry) + 1 if entry != -1 else None)
    return slice(entry, entry + 1)


def _write_advanced(x: Variable, entries: list[Any], update: Variable, increment: bool
                    ) -> Variable:
    k = builtins.sum(1 for e in entries if _is_advanced(e))
    leading = all(_is_advanced(e) for e in entries[:k]) and all(
        isinstance(e, slice) and e == slice(None) for e in entries[k:]
    )
    if not increment or not leading:
        raise NotImplementedError(
            "set_subtensor with integer-array indices, or integer-array indices after a "
            "slice, are not supported; use inc_subtensor on x[i0, i1, ...]"
        )
    indices = broadcast_all([cast(as_variable(e), "int64") for e in entries[:k]], "indexing")
    return node("scatter_add", [update, x, *indices], x.dtype, x.type.shape)
