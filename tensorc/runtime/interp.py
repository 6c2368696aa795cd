"""numpy reference interpreter of the tc dialect: the executable definition of its
semantics. Every backend is compared against it; tc-canonicalize folds constants
with it.

`REFERENCE` maps each tc op class (all but `tc.grad`, which tc-autodiff expands) to
`(op, operand values) -> result values`. Values are numpy arrays of exactly the
dtype of their tensor type: 0-d tensors are 0-d arrays, runtime dims are 0-d int64
arrays. Results never alias operands. `interpret_op` runs one op and checks operands
and results against the op's types; `run_function` runs a `func.func` of tc ops.

Run-time checks raise `ShapeError` with a message that starts with the op and the
user line that created it, e.g.
`tc.add (created at model.py:12): rhs dim 0 is 3 but lhs dim 0 is 4`.

Choices numpy leaves open, which every backend must reproduce:
- integer `x // 0` and `x % 0` are 0 (numpy's result; its warnings are silenced);
- integer `x ** y` with `y < 0` is `trunc(1 / x**-y)`: 1 for x == 1, +-1 for
  x == -1, else 0 (also for x == 0); numpy raises there;
- `tc.broadcast` stretches only dims that are statically 1 (Theano's broadcastable
  pattern): a dynamic input dim must equal its target dim at run time, even when 1;
- max/min/argmax/argmin over an empty set of elements raise ShapeError (unless
  the result itself is empty);
- `erf` is `math.erf` in float64, rounded to the dtype (numpy has no erf).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, SymbolRefAttr, TensorType
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.irdl import IRDLOperation
from xdsl.traits import SymbolTable

from tensorc.dialects import tc
from tensorc.dialects.tc import DYNAMIC, array_from_dense, dtype_of, location_text
from tensorc.errors import DTypeError, LoweringError, ShapeError
from tensorc.runtime import scalar

Values = list[np.ndarray]
Reference = Callable[[Operation, Values], Values]

# ---------------------------------------------------------------------------------
# Errors and shared checks
# ---------------------------------------------------------------------------------


def _where(op: Operation) -> str:
    """`tc.add (created at model.py:12)`, or just the op name without a location."""
    where = location_text(op)
    return f"{op.name} (created at {where})" if where else op.name


def _shape_error(op: Operation, message: str) -> ShapeError:
    return ShapeError(f"{_where(op)}: {message}")


def _operand_labels(op: Operation) -> list[str]:
    """Operand names from the op definition: 'lhs', 'dims #1', ..."""
    if not isinstance(op, IRDLOperation):
        return [f"operand #{i}" for i in range(len(op.operands))]
    labels: list[str] = []
    for name, _ in op.get_irdl_definition().operands:
        group = getattr(op, name)
        if isinstance(group, SSAValue):
            labels.append(name)
        else:
            labels.extend(f"{name} #{i}" for i in range(len(group)))
    return labels


def _result_labels(op: Operation) -> list[str]:
    if len(op.results) == 1:
        return ["result"]
    return [f"result #{i}" for i in range(len(op.results))]


def _check_conforms(where: str, label: str, t: Attribute, value: np.ndarray) -> None:
    """Raise unless `value` has the dtype, rank and static dims of tensor type `t`."""
    assert isinstance(t, TensorType)
    want = np.dtype(dtype_of(t))
    if value.dtype != want:
        raise DTypeError(f"{where}: {label} has dtype {value.dtype}, its type {t} "
                         f"needs {want}")
    shape = t.get_shape()
    if value.ndim != len(shape):
        raise ShapeError(f"{where}: {label} has shape {value.shape}, its type {t} "
                         f"has rank {len(shape)}")
    for axis, (static, size) in enumerate(zip(shape, value.shape)):
        if static != DYNAMIC and static != size:
            raise ShapeError(f"{where}: {label} dim {axis} is {size}, "
                             f"but its type {t} says {static}")


_Conformance = tuple[np.dtype, int, tuple[tuple[int, int], ...]]
_CONFORMANCE: dict[int, tuple[Attribute, _Conformance | None]] = {}
"""id(tensor type) -> (the type, (dtype, rank, (axis, static size) pairs)), None
for other types. Keyed by id, not by value: hashing an xDSL type walks all of its
parameters. Each entry keeps its type alive, so an id cannot be reused meanwhile."""
_CONFORMANCE_LIMIT = 8192


def _conformance(t: Attribute) -> _Conformance | None:
    entry = _CONFORMANCE.get(id(t))
    if entry is not None:
        return entry[1]
    spec = None
    if isinstance(t, TensorType):
        shape = t.get_shape()
        static = tuple((a, n) for a, n in enumerate(shape) if n != DYNAMIC)
        spec = (np.dtype(dtype_of(t)), len(shape), static)
    if len(_CONFORMANCE) >= _CONFORMANCE_LIMIT:
        _CONFORMANCE.clear()
    _CONFORMANCE[id(t)] = (t, spec)
    return spec


def _all_conform(values: Sequence[SSAValue], arrays: Sequence[object]) -> bool:
    """Whether every array conforms to the type of its value (`_check_conforms`
    would pass), decided from the static parts of the types cached per type. False
    also when unsure (not an ndarray, not a tensor type, counts differ): the caller
    then runs the full checks, which raise the exact error."""
    if len(values) != len(arrays):
        return False
    for value, array in zip(values, arrays):
        t = value.type
        entry = _CONFORMANCE.get(id(t))
        spec = entry[1] if entry is not None else _conformance(t)
        if spec is None or type(array) is not np.ndarray:
            return False
        dtype, rank, static = spec
        if array.dtype != dtype or array.ndim != rank:
            return False
        shape = array.shape
        for axis, size in static:
            if shape[axis] != size:
                return False
    return True


def _check_same_shapes(op: Operation, values: Values) -> None:
    """Elementwise operands (same type) must also agree in their dynamic dims."""
    first_shape = values[0].shape
    for value in values:
        if value.shape != first_shape:
            break
    else:
        return  # the common case: no operand labels to build
    labels = _operand_labels(op)
    first = values[0]
    for label, value in zip(labels[1:], values[1:]):
        for axis, (want, size) in enumerate(zip(first.shape, value.shape)):
            if size != want:
                raise _shape_error(op, f"{label} dim {axis} is {size} but "
                                       f"{labels[0]} dim {axis} is {want}")


def _result_shape(op: Operation, dims: Values) -> list[int]:
    """Result shape: static dims of the result type, dynamic ones from `dims`."""
    t = op.results[0].type
    assert isinstance(t, TensorType)
    given = iter(enumerate(dims))
    shape: list[int] = []
    for static in t.get_shape():
        if static != DYNAMIC:
            shape.append(static)
            continue
        index, value = next(given)
        if int(value) < 0:
            raise _shape_error(op, f"dims #{index} is {int(value)}, a dim cannot be "
                                   "negative")
        shape.append(int(value))
    return shape


def _result_dtype(op: Operation) -> np.dtype:
    return np.dtype(dtype_of(op.results[0].type))


# ---------------------------------------------------------------------------------
# Elementwise ops
# ---------------------------------------------------------------------------------


def _elementwise(fn: Callable[..., np.ndarray]) -> Reference:
    """Reference of an elementwise op computing `fn(*operands)`."""

    def run(op: Operation, values: Values) -> Values:
        _check_same_shapes(op, values)
        with np.errstate(all="ignore"):
            return [np.asarray(fn(*values))]

    return run


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp(-|x|) is in (0, 1], so neither branch can overflow for any x.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(x: np.ndarray) -> np.ndarray:
    # log(1 + e**x) = log1p(e**-|x|) + max(x, 0): no overflow, exact for x << 0.
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


_MATH_ERF = np.frompyfunc(math.erf, 1, 1)


def _erf(x: np.ndarray) -> np.ndarray:
    return np.asarray(_MATH_ERF(x.astype(np.float64)), dtype=np.float64).astype(x.dtype)


def _power(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind != "i":
        return np.power(x, y)
    negative = y < 0
    result = np.power(x, np.where(negative, 0, y).astype(y.dtype))
    # x ** -n truncated toward zero: only |x| == 1 gives a nonzero value.
    odd = (y & 1).astype(bool)
    reciprocal = np.where(x == 1, 1, np.where(x == -1, np.where(odd, -1, 1), 0))
    return np.where(negative, reciprocal, result).astype(x.dtype)


def _cast(op: Operation, values: Values) -> Values:
    with np.errstate(all="ignore"):
        return [values[0].astype(_result_dtype(op))]


_SPLITMIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
_MANTISSA_BITS = {"float16": 11, "float32": 24, "float64": 53}


def _hash_uniform(op: Operation, values: Values) -> Values:
    """splitmix64 of each counter; the top mantissa-many bits scaled into [0, 1)."""
    dtype = _result_dtype(op)
    bits = _MANTISSA_BITS[dtype.name]
    z = values[0].astype(np.uint64) + np.uint64(_SPLITMIX[0])
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_SPLITMIX[1])
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_SPLITMIX[2])
    z = z ^ (z >> np.uint64(31))
    top = (z >> np.uint64(64 - bits)).astype(np.int64)
    return [(top.astype(dtype) * dtype.type(2.0**-bits)).astype(dtype)]


_UNARY: dict[type[Operation], Callable[[np.ndarray], np.ndarray]] = {
    tc.NegOp: np.negative,
    tc.AbsOp: np.abs,
    tc.SignOp: np.sign,
    tc.NotOp: np.invert,  # logical not on bool, bitwise not on ints
}

_FLOAT_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "log": np.log,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "erf": _erf,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.round,  # half to even
}

_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "floordiv": np.floor_divide,
    "mod": np.remainder,
    "pow": _power,
    "maximum": np.maximum,  # both propagate nan
    "minimum": np.minimum,
    "and": np.bitwise_and,
    "or": np.bitwise_or,
    "xor": np.bitwise_xor,
}

_COMPARE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}

# ---------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------


def _reduction_args(op: Operation) -> tuple[tuple[int, ...], bool]:
    assert isinstance(op, tc.ReductionOp)
    return op.reduced_axes(), op.keepdims is not None


def _reduced_shape(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> list[int]:
    if keep:
        return [1 if a in axes else d for a, d in enumerate(x.shape)]
    return [d for a, d in enumerate(x.shape) if a not in axes]


def _check_not_empty(op: Operation, x: np.ndarray, axes: tuple[int, ...]) -> None:
    if math.prod(x.shape[a] for a in axes) == 0:
        raise _shape_error(op, f"cannot reduce an empty set: input shape {x.shape}, "
                               f"axes {list(axes)}")


def _sum_like(fn: Callable[..., np.ndarray]) -> Reference:
    """sum/prod: reductions with an identity, accumulated in the input dtype."""

    def run(op: Operation, values: Values) -> Values:
        (x,), (axes, keep) = values, _reduction_args(op)
        with np.errstate(all="ignore"):
            return [np.asarray(fn(x, axis=axes, keepdims=keep, dtype=x.dtype))]

    return run


def _extremum(fn: Callable[..., np.ndarray]) -> Reference:
    """max/min: no identity, so an empty reduction is an error (nan propagates)."""

    def run(op: Operation, values: Values) -> Values:
        (x,), (axes, keep) = values, _reduction_args(op)
        out_shape = _reduced_shape(x, axes, keep)
        if math.prod(out_shape) == 0:
            return [np.empty(out_shape, dtype=x.dtype)]
        _check_not_empty(op, x, axes)
        return [np.asarray(fn(x, axis=axes, keepdims=keep))]

    return run


def _arg_extremum(fn: Callable[..., np.ndarray]) -> Reference:
    """argmax/argmin: first extremum's index within the flattened reduced axes."""

    def run(op: Operation, values: Values) -> Values:
        (x,), (axes, keep) = values, _reduction_args(op)
        out_shape = _reduced_shape(x, axes, keep)
        if math.prod(out_shape) == 0:
            return [np.empty(out_shape, dtype=np.int64)]
        _check_not_empty(op, x, axes)
        kept = [a for a in range(x.ndim) if a not in axes]
        moved = np.transpose(x, kept + list(axes))
        flat = moved.reshape([x.shape[a] for a in kept] + [-1])
        return [np.asarray(fn(flat, axis=-1), dtype=np.int64).reshape(out_shape)]

    return run


# ---------------------------------------------------------------------------------
# Structural ops
# ---------------------------------------------------------------------------------


_DECODED: dict[int, tuple[Attribute, np.ndarray]] = {}
"""id(small dense attribute) -> (the attribute, its array): eager programs run the
same constants again and again. Each entry keeps its attribute alive (no id reuse);
attributes are immutable, so the array stays their value."""
_DECODED_LIMIT = 4096
_DECODED_MAX_BYTES = 1024


def _constant(op: Operation, values: Values) -> Values:
    assert isinstance(op, tc.ConstantOp)
    attr = op.value
    entry = _DECODED.get(id(attr))
    if entry is None:
        array = array_from_dense(attr)
        if array.nbytes > _DECODED_MAX_BYTES:
            return [array]
        if len(_DECODED) >= _DECODED_LIMIT:
            _DECODED.clear()
        entry = _DECODED[id(attr)] = (attr, array)
    return [entry[1].copy()]  # results never alias: the cached array stays intact


def _broadcast(op: Operation, values: Values) -> Values:
    assert isinstance(op, tc.BroadcastOp)
    x, target = values[0], _result_shape(op, values[1:])
    offset = len(target) - x.ndim
    static_shape = op.input.type.get_shape()  # type: ignore[union-attr]
    for axis, (static, size) in enumerate(zip(static_shape, x.shape)):
        want = target[offset + axis]
        if static != 1 and size != want:
            raise _shape_error(
                op, f"input dim {axis} is {size} but the target dim {offset + axis} "
                    f"is {want} (only dims that are statically 1 broadcast)")
    if x.ndim > len(target):  # invalid IR: keep numpy's own error
        return [np.broadcast_to(x, target).copy()]
    result = np.empty(target, dtype=x.dtype)
    np.copyto(result, x)  # = broadcast_to(x, target).copy(), without a view
    return [result]


def _matmul(op: Operation, values: Values) -> Values:
    a, b = values
    if a.shape[-1] != b.shape[0]:
        raise _shape_error(op, f"lhs dim {a.ndim - 1} is {a.shape[-1]} but rhs dim 0 "
                               f"is {b.shape[0]} (inner dims of {a.shape} @ {b.shape})")
    with np.errstate(all="ignore"):
        return [np.asarray(np.dot(a, b))]


_TRANSPOSE_BLOCK_ROWS = 64
_TRANSPOSE_BLOCKED_SIZE = 1 << 18


def _transpose(op: Operation, values: Values) -> Values:
    assert isinstance(op, tc.TransposeOp)
    x, perm = values[0], op.perm.get_values()
    if tuple(perm) != (1, 0) or x.size < _TRANSPOSE_BLOCKED_SIZE:
        return [np.transpose(x, perm).copy()]
    # A large matrix (an eager weight in `x @ W.T`): copying blocks of rows keeps
    # the reads in cache (~1.5x faster than one strided copy; the same array).
    result = np.empty(x.shape[::-1], dtype=x.dtype)
    for row in range(0, x.shape[0], _TRANSPOSE_BLOCK_ROWS):
        result[:, row:row + _TRANSPOSE_BLOCK_ROWS] = x[row:row + _TRANSPOSE_BLOCK_ROWS].T
    return [result]


def _reshape(op: Operation, values: Values) -> Values:
    x, shape = values[0], _result_shape(op, values[1:])
    if math.prod(shape) != x.size:
        raise _shape_error(op, f"cannot reshape {x.shape} ({x.size} elements) to "
                               f"{tuple(shape)} ({math.prod(shape)} elements)")
    return [x.reshape(shape).copy()]


def _slice_index(
    op: tc.SliceOp | tc.InsertSliceOp, bounds: Values
) -> tuple[slice, ...]:
    """The Python slices of a slicing op; dynamic starts come first, then stops."""
    given = iter(int(v) for v in bounds)
    starts = [next(given) if s == DYNAMIC else s for s in op.starts.get_values()]
    stops = [next(given) if s == DYNAMIC else s for s in op.stops.get_values()]
    return tuple(map(slice, starts, stops, op.steps.get_values()))


def _slice(op: Operation, values: Values) -> Values:
    assert isinstance(op, tc.SliceOp)
    return [values[0][_slice_index(op, values[1:])].copy()]


def _check_indices(op: Operation, shape: tuple[int, ...], indices: Values) -> None:
    """Index tensors of gather/scatter: one shape, each within its leading dim of
    `shape` (negative indices wrap)."""
    for axis, index in enumerate(indices):
        if index.shape != indices[0].shape:
            raise _shape_error(op, f"indices #{axis} has shape {index.shape} but "
                                   f"indices #0 has shape {indices[0].shape}")
        size = shape[axis]
        wide = index.astype(np.int64)
        bad = wide[(wide < -size) | (wide >= size)]
        if bad.size:
            raise _shape_error(op, f"index {bad[0]} is out of bounds for axis {axis} "
                                   f"with size {size} (indices #{axis})")


def _gather(op: Operation, values: Values) -> Values:
    x, indices = values[0], values[1:]
    _check_indices(op, x.shape, indices)
    return [np.array(x[tuple(indices)])]


def _concatenate(op: Operation, values: Values) -> Values:
    assert isinstance(op, tc.ConcatenateOp)
    axis, first = op.axis.value.data, values[0]
    for i, value in enumerate(values[1:], start=1):
        for a, (want, size) in enumerate(zip(first.shape, value.shape)):
            if a != axis and size != want:
                raise _shape_error(op, f"inputs #{i} dim {a} is {size} but inputs #0 "
                                       f"dim {a} is {want}")
    return [np.concatenate(values, axis=axis)]


def _dim(op: Operation, values: Values) -> Values:
    assert isinstance(op, tc.DimOp)
    return [np.array(values[0].shape[op.axis.value.data], dtype=np.int64)]


def _arange(op: Operation, values: Values) -> Values:
    start, stop, step = (v[()] for v in values)
    if step == 0:
        raise _shape_error(op, "step is 0")
    try:
        with np.errstate(all="ignore"):
            return [np.arange(start, stop, step, dtype=values[0].dtype)]
    except ValueError as error:  # a nan or infinite bound: no finite length
        raise _shape_error(op, f"arange({start}, {stop}, {step}): {error}") from None


def _stop_gradient(op: Operation, values: Values) -> Values:
    return [values[0].copy()]


def _insert_slice(op: Operation, values: Values) -> Values:
    assert isinstance(op, tc.InsertSliceOp)
    source, dest = values[0], values[1]
    out = dest.copy()
    index = _slice_index(op, values[2:])
    if out[index].shape != source.shape:
        raise _shape_error(op, f"source has shape {source.shape} but the slice of "
                               f"dest {dest.shape} has shape {out[index].shape}")
    out[index] = source
    return [out]


def _scatter_add(op: Operation, values: Values) -> Values:
    updates, dest, indices = values[0], values[1], values[2:]
    _check_indices(op, dest.shape, indices)
    want = indices[0].shape + dest.shape[len(indices):]
    if updates.shape != want:
        raise _shape_error(op, f"updates has shape {updates.shape}, indexing dest "
                               f"{dest.shape} gives {want}")
    out = dest.copy()
    with np.errstate(all="ignore"):
        np.add.at(out, tuple(indices), updates)
    return [out]


def _window_counts(op: tc.WindowOp, image_shape: Sequence[int]) -> tuple[int, int]:
    """(OH, OW) of an image of `image_shape` (N, C, H, W); ShapeError when the
    kernel does not fit in the padded image."""
    kernel, strides, dilations, pads = op.window()
    counts = []
    for axis in range(2):
        size = image_shape[2 + axis]
        count = tc.window_count(size, kernel[axis], strides[axis], dilations[axis],
                                pads[axis], pads[axis + 2])
        if count < 1:
            extent = dilations[axis] * (kernel[axis] - 1) + 1
            padded = size + pads[axis] + pads[axis + 2]
            raise _shape_error(op, f"the kernel spans {extent} elements along image "
                                   f"dim {2 + axis}, more than the {padded} of the "
                                   f"padded image")
        counts.append(count)
    return counts[0], counts[1]


def _window_slice(offset: int, stride: int, count: int) -> slice:
    """The `count` positions offset, offset + stride, ... of one kernel tap."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


def _im2col(op: Operation, values: Values) -> Values:
    """One strided slice of the zero-padded image per kernel offset (i, j)."""
    assert isinstance(op, tc.Im2colOp)
    x = values[0]
    (kh, kw), (sh, sw), (dh, dw), (top, left, bottom, right) = op.window()
    oh, ow = _window_counts(op, x.shape)
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    out = np.empty((x.shape[0], oh, ow, x.shape[1], kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            taps = padded[:, :, _window_slice(i * dh, sh, oh),
                          _window_slice(j * dw, sw, ow)]
            out[..., i, j] = taps.transpose(0, 2, 3, 1)
    return [out]


def _col2im(op: Operation, values: Values) -> Values:
    """Each kernel offset's patch elements added into a zero-padded image, in
    offset order (row-major (i, j)), then the padding cropped away."""
    assert isinstance(op, tc.Col2imOp)
    cols, dims = values[0], iter(values[1:])
    (kh, kw), (sh, sw), (dh, dw), (top, left, bottom, right) = op.window()
    t = op.result.type
    assert isinstance(t, TensorType)
    n, oh, ow, c = cols.shape[:4]
    h, w = (int(next(dims)) if d == DYNAMIC else d for d in t.get_shape()[2:])
    if h < 0 or w < 0:
        raise _shape_error(op, f"image dims ({h}, {w}) cannot be negative")
    if _window_counts(op, (n, c, h, w)) != (oh, ow):
        raise _shape_error(op, f"input has {oh} x {ow} windows, but an image of "
                               f"{h} x {w} has {_window_counts(op, (n, c, h, w))}")
    padded = np.zeros((n, c, h + top + bottom, w + left + right), dtype=cols.dtype)
    with np.errstate(all="ignore"):  # integers wrap, as in the compiled code
        for i in range(kh):
            for j in range(kw):
                padded[:, :, _window_slice(i * dh, sh, oh),
                       _window_slice(j * dw, sw, ow)] += cols[..., i, j].transpose(
                           0, 3, 1, 2)
    return [np.ascontiguousarray(padded[:, :, top:top + h, left:left + w])]


def _composite(op: Operation, values: Values) -> Values:
    """The body run once on whole arrays (tensorc.runtime.scalar), after the
    composite's shape rules; inputs broadcast to the output shape."""
    assert isinstance(op, tc.CompositeOp)
    shape = _composite_shape(op, values)
    inputs = [
        np.broadcast_to(v.reshape((1,) * (len(shape) - v.ndim) + v.shape), shape)
        for v in values
    ]
    outputs = scalar.run_block(op.block, inputs)
    return [
        np.array(np.broadcast_to(value, shape), dtype=dtype_of(r.type), order="C")
        for value, r in zip(outputs, op.outputs, strict=True)
    ]


def _composite_shape(op: tc.CompositeOp, values: Values) -> tuple[int, ...]:
    static = op.result_type().get_shape()

    def size(index: int, axis: int) -> int:
        return values[index].shape[op.input_dim(index, axis)]

    for check in op.dim_checks():
        rhs = size(check.rhs, check.axis)
        lhs = static[check.axis] if check.lhs is None else size(check.lhs, check.axis)
        if lhs != rhs:
            raise ShapeError(f"{op.check_message(check)} (got {rhs} and {lhs})")
    shape = list(static)
    for axis, d in enumerate(static):
        if d == DYNAMIC:
            index = next(i for i in range(len(values)) if axis in op.dim_sources(i))
            shape[axis] = size(index, axis)
    return tuple(shape)



def _scan(op: Operation, values: Values) -> Values:
    """`n_steps` calls of the body function, each result stacked at its step."""
    assert isinstance(op, tc.ScanOp)
    n = int(values[0])
    sequences = values[1 : 1 + len(op.sequences)]
    states = values[1 + len(op.sequences) : 1 + len(op.sequences) + len(op.inits)]
    params = values[1 + len(op.sequences) + len(op.inits) :]
    if n < 1:
        raise _shape_error(op, f"n_steps must be at least 1, got {n}")
    for i, sequence in enumerate(sequences):
        if sequence.shape[0] < n:
            raise _shape_error(op, f"sequence #{i} has {sequence.shape[0]} steps, "
                                   f"fewer than n_steps = {n}")
    body = _lookup_function(op, op.body)
    stacked: list[np.ndarray] = []
    for t in range(n - 1, -1, -1) if op.reverse else range(n):
        args = [np.array(s[t]) for s in sequences]
        outputs = _call(body, [*args, *states, *params])
        if not stacked:
            stacked = [np.empty((n, *o.shape), o.dtype) for o in outputs]
        for k, (output, into) in enumerate(zip(outputs, stacked, strict=True)):
            if output.shape != into.shape[1:]:
                raise _shape_error(op, f"output #{k} has shape {output.shape} at step "
                                       f"{t}, but {into.shape[1:]} at the first step")
            into[t] = output
        for k, (new, old) in enumerate(zip(outputs, states)):
            if new.shape != old.shape:
                raise _shape_error(op, f"state #{k} changes shape from {old.shape} to "
                                       f"{new.shape} at step {t}")
        states = outputs[: len(states)]
    if op.final_states is not None:
        return [*states, *stacked[len(states) :]]
    return stacked

REFERENCE: dict[type[Operation], Reference] = {
    **{cls: _elementwise(fn) for cls, fn in _UNARY.items()},
    **{tc.FLOAT_UNARY_OPS[n]: _elementwise(fn) for n, fn in _FLOAT_UNARY.items()},
    **{tc.BINARY_OPS[n]: _elementwise(fn) for n, fn in _BINARY.items()},
    **{tc.COMPARE_OPS[n]: _elementwise(fn) for n, fn in _COMPARE.items()},
    tc.SelectOp: _elementwise(np.where),
    tc.CastOp: _cast,
    tc.HashUniformOp: _hash_uniform,
    tc.ConstantOp: _constant,
    tc.BroadcastOp: _broadcast,
    tc.REDUCTION_OPS["sum"]: _sum_like(np.sum),
    tc.REDUCTION_OPS["prod"]: _sum_like(np.prod),
    tc.REDUCTION_OPS["max"]: _extremum(np.max),
    tc.REDUCTION_OPS["min"]: _extremum(np.min),
    tc.REDUCTION_OPS["argmax"]: _arg_extremum(np.argmax),
    tc.REDUCTION_OPS["argmin"]: _arg_extremum(np.argmin),
    tc.MatmulOp: _matmul,
    tc.TransposeOp: _transpose,
    tc.ReshapeOp: _reshape,
    tc.SliceOp: _slice,
    tc.GatherOp: _gather,
    tc.ConcatenateOp: _concatenate,
    tc.DimOp: _dim,
    tc.ArangeOp: _arange,
    tc.StopGradientOp: _stop_gradient,
    tc.InsertSliceOp: _insert_slice,
    tc.ScatterAddOp: _scatter_add,
    tc.Im2colOp: _im2col,
    tc.Col2imOp: _col2im,
    tc.CompositeOp: _composite,
    tc.ScanOp: _scan,
}
"""tc op class -> numpy implementation (every tc op except tc.grad)."""

# ---------------------------------------------------------------------------------
# Running ops and functions
# ---------------------------------------------------------------------------------


def interpret_op(op: Operation, values: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Results of `op` on operand `values`; both are checked against the op's types."""
    reference = REFERENCE.get(type(op))
    if reference is None:
        hint = " (tc-autodiff expands it)" if isinstance(op, tc.GradOp) else ""
        raise LoweringError(f"{_where(op)}: the reference interpreter cannot execute "
                            f"{op.name}{hint}")
    if not _all_conform(op.operands, values):  # labels only for the slow path
        where = _where(op)
        labels = _operand_labels(op)
        for label, operand, value in zip(labels, op.operands, values, strict=True):
            _check_conforms(where, label, operand.type, value)
    results = reference(op, list(values))
    if not _all_conform(op.results, results):
        where = _where(op)
        for label, result, value in zip(_result_labels(op), op.results, results,
                                        strict=True):
            _check_conforms(where, label, result.type, value)
    return results


def run_function(
    module: ModuleOp, args: Sequence[np.ndarray], entry: str = "main"
) -> list[np.ndarray]:
    """Run `func.func @entry` of `module` (tc ops, func.call, func.return) on `args`.

    Arguments must have their parameter's dtype (non-arrays are converted to it) and
    static dims; the results are fresh arrays owned by the caller.
    """
    function = _lookup_function(module, entry)
    arrays = [_argument(function, i, t, a)
              for i, (t, a) in enumerate(_arguments(function, args))]
    return [result.copy() for result in _call(function, arrays)]


def _lookup_function(scope: Operation, name: str | SymbolRefAttr) -> func.FuncOp:
    symbol = SymbolRefAttr(name) if isinstance(name, str) else name
    function = SymbolTable.lookup_symbol(scope, symbol)
    if not isinstance(function, func.FuncOp) or function.is_declaration:
        raise LoweringError(f"no func.func {symbol} with a body to run")
    return function


def _arguments(
    function: func.FuncOp, args: Sequence[object]
) -> list[tuple[Attribute, object]]:
    inputs = function.function_type.inputs.data
    if len(args) != len(inputs):
        raise TypeError(f"@{function.sym_name.data} takes {len(inputs)} arguments, "
                        f"got {len(args)}")
    return list(zip(inputs, args))


def _argument(
    function: func.FuncOp, index: int, t: Attribute, arg: object
) -> np.ndarray:
    want = np.dtype(dtype_of(t))
    if isinstance(arg, np.ndarray) and arg.dtype != want:
        raise DTypeError(f"@{function.sym_name.data}: argument #{index} has dtype "
                         f"{arg.dtype}, its type {t} needs {want}")
    value = np.array(arg, dtype=want)  # a copy: results never alias the inputs
    _check_conforms(f"@{function.sym_name.data}", f"argument #{index}", t, value)
    return value


def _call(function: func.FuncOp, args: Values) -> Values:
    if len(function.body.blocks) != 1:
        raise LoweringError(f"@{function.sym_name.data}: the reference interpreter "
                            "runs single-block functions only")
    block = function.body.block
    env: dict[SSAValue, np.ndarray] = dict(zip(block.args, args))
    for op in block.ops:
        values = [env[v] for v in op.operands]
        if isinstance(op, func.ReturnOp):
            return values
        if isinstance(op, func.CallOp):
            results = _call(_lookup_function(op, op.callee), values)
        else:
            results = interpret_op(op, values)
        env.update(zip(op.results, results))
    raise LoweringError(f"@{function.sym_name.data} has no func.return")
