"""Elementwise graph construction: numpy dtype promotion, Theano broadcasting, and the
elementwise math of `tensorc.tensor`.

Promotion follows numpy exactly by asking numpy's own ufunc type resolution
(`ufunc.resolve_dtypes`, NEP 50: Python scalars are weak). Broadcasting follows Theano:
ranks are aligned on the right, and only dims statically equal to 1 stretch; other
dims must agree (statically here, at run time through an explicit `broadcast` node).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorc.errors import DTypeError, ShapeError
from tensorc.frontend.variable import TensorType, Variable, normalize_dtype, user_location

Scalar = bool | int | float


def node(
    op: str,
    inputs: Sequence[Variable],
    dtype: str,
    shape: Sequence[int | None],
    attrs: dict[str, Any] | None = None,
) -> Variable:
    """A new graph node for tc op `op` (short name) with the given result type."""
    return Variable(op, tuple(inputs), TensorType(dtype, shape=tuple(shape)), attrs)


def constant(value: Any, dtype: Any = None, name: str | None = None) -> Variable:
    """A constant node (Theano's `T.constant`)."""
    if isinstance(value, Variable):
        return value if dtype is None else cast(value, dtype)
    try:
        array = np.asarray(value, dtype=None if dtype is None else normalize_dtype(dtype))
    except OverflowError as exc:
        raise DTypeError(f"constant {value!r} does not fit in dtype {dtype}") from exc
    if array.dtype == np.dtype("uint8") and dtype is None:
        array = array.astype(np.int64)
    dtype_name = normalize_dtype(array.dtype)
    return Variable(
        "constant", (), TensorType(dtype_name, shape=array.shape),
        {"value": array.astype(dtype_name)}, name=name,
    )


def as_variable(value: Any, dtype: Any = None) -> Variable:
    """Variables pass through; shapes, numpy arrays and Python values become nodes."""
    if isinstance(value, Variable):
        return value
    materialize = getattr(value, "as_variable", None)
    if materialize is not None:
        return materialize()
    return constant(value, dtype)


def _dtype_token(value: Any) -> Any:
    """What numpy's type resolution should see: a dtype, or a weak Python type."""
    if isinstance(value, Variable):
        return np.dtype(value.dtype)
    if isinstance(value, builtins.bool | np.bool_):
        return np.dtype(bool)
    if isinstance(value, builtins.int | builtins.float) and not isinstance(value, np.generic):
        return type(value)
    return np.dtype(as_variable(value).dtype)


def resolve(ufunc: np.ufunc, args: Sequence[Any], opname: str) -> tuple[str, ...]:
    """numpy's (loop input dtypes..., output dtype) for `ufunc` on `args`."""
    tokens = tuple(_dtype_token(a) for a in args)
    try:
        dtypes = ufunc.resolve_dtypes((*tokens, None))
    except (TypeError, np.exceptions.DTypePromotionError) as exc:
        shown = ", ".join(str(getattr(t, "__name__", t)) for t in tokens)
        raise DTypeError(
            f"{opname} is not defined for dtypes ({shown}) (at {user_location()})"
        ) from exc
    return tuple(normalize_dtype(d) for d in dtypes)


def result_dtype(*args: Any) -> str:
    """numpy.result_type with Python scalars weak (NEP 50)."""
    tokens = [
        np.dtype(a.dtype) if isinstance(a, Variable) else a
        if isinstance(a, builtins.bool | builtins.int | builtins.float)
        else np.asarray(a).dtype
        for a in args
    ]
    return normalize_dtype(np.result_type(*tokens))


def _to_dtype(value: Any, dtype: str) -> Variable:
    if isinstance(value, Variable):
        return cast(value, dtype)
    return constant(value, dtype)


def broadcast_shape(values: Sequence[Variable], opname: str) -> tuple[int | None, ...]:
    """Result shape of an elementwise op (Theano rules); raises at graph construction
    when static dims disagree."""
    ndim = builtins.max(v.ndim for v in values)
    padded = [(1,) * (ndim - v.ndim) + v.type.shape for v in values]
    shape: list[int | None] = []
    for axis in range(ndim):
        column = [p[axis] for p in padded]
        fixed = {d for d in column if d is not None and d != 1}
        if len(fixed) > 1:
            shapes = " and ".join(str(v.type.shape) for v in values)
            raise ShapeError(
                f"{opname}: shapes {shapes} cannot be broadcast (dim {axis}: "
                f"{sorted(fixed)}) at {user_location()}"
            )
        if fixed:
            shape.append(fixed.pop())
        elif all(d == 1 for d in column):
            shape.append(1)
        else:
            shape.append(None)
    return tuple(shape)


def dim(value: Variable, axis: int) -> Variable:
    """`value.shape[axis]` as a 0-d int64 node (a constant when static)."""
    size = value.type.shape[axis]
    if size is not None:
        return constant(np.int64(size))
    return node("dim", [value], "int64", (), {"axis": axis})


def broadcast_to(
    value: Variable, shape: tuple[int | None, ...], sources: Sequence[Variable]
) -> Variable:
    """Broadcast `value` to `shape`; dynamic target dims are read off `sources`."""
    if value.type.shape == shape:
        return value
    dims: list[Variable] = []
    for axis, size in enumerate(shape):
        if size is None:
            dims.append(_dynamic_dim_source(sources, axis, len(shape)))
    return node("broadcast", [value, *dims], value.dtype, shape)


def _dynamic_dim_source(sources: Sequence[Variable], axis: int, ndim: int) -> Variable:
    for src in sources:
        src_axis = axis - (ndim - src.ndim)
        if src_axis >= 0 and src.type.shape[src_axis] is None:
            return dim(src, src_axis)
    raise AssertionError("a dynamic result dim always has a dynamic source")


def broadcast_all(values: Sequence[Variable], opname: str) -> list[Variable]:
    shape = broadcast_shape(values, opname)
    return [broadcast_to(v, shape, values) for v in values]


def apply(op: str, args: Sequence[Any], dtypes: Sequence[str], out_dtype: str) -> Variable:
    """Cast args to the loop dtypes, broadcast them, and build the node."""
    values = [_to_dtype(a, d) for a, d in zip(args, dtypes)]
    values = broadcast_all(values, op)
    return node(op, values, out_dtype, values[0].type.shape)


# -- unary ------------------------------------------------------------------------

_FLOAT_UFUNC = {
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1,
    "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh,
    "sigmoid": np.exp, "softplus": np.exp, "erf": np.exp,
}


def _float_unary(op: str, x: Any) -> Variable:
    (in_dtype, out_dtype) = resolve(_FLOAT_UFUNC[op], [x], op)
    return apply(op, [x], [in_dtype], out_dtype)


def exp(x: Any) -> Variable: return _float_unary("exp", x)
def log(x: Any) -> Variable: return _float_unary("log", x)
def log1p(x: Any) -> Variable: return _float_unary("log1p", x)
def expm1(x: Any) -> Variable: return _float_unary("expm1", x)
def sqrt(x: Any) -> Variable: return _float_unary("sqrt", x)
def sin(x: Any) -> Variable: return _float_unary("sin", x)
def cos(x: Any) -> Variable: return _float_unary("cos", x)
def tan(x: Any) -> Variable: return _float_unary("tan", x)
def tanh(x: Any) -> Variable: return _float_unary("tanh", x)
def sigmoid(x: Any) -> Variable: return _float_unary("sigmoid", x)
def softplus(x: Any) -> Variable: return _float_unary("softplus", x)
def erf(x: Any) -> Variable: return _float_unary("erf", x)


def _rounding(op: str, x: Any) -> Variable:
    (in_dtype, out_dtype) = resolve(np.floor, [x], op)
    if out_dtype not in ("float16", "float32", "float64"):
        return as_variable(x)  # numpy: rounding an integer is the identity
    return apply(op, [x], [in_dtype], out_dtype)


def floor(x: Any) -> Variable: return _rounding("floor", x)
def ceil(x: Any) -> Variable: return _rounding("ceil", x)


def round(x: Any, mode: str = "half_to_even") -> Variable:
    """Round half to even (numpy.round); Theano's 'half_away_from_zero' mode too."""
    if mode == "half_away_from_zero":
        x = as_variable(x)
        return sgn(x) * floor(abs(x) + 0.5)
    if mode != "half_to_even":
        raise ValueError(f"round: unknown mode {mode!r} (half_to_even, half_away_from_zero)")
    return _rounding("round", x)


def neg(x: Any) -> Variable:
    (in_dtype, out_dtype) = resolve(np.negative, [x], "neg")
    return apply("neg", [x], [in_dtype], out_dtype)


def abs(x: Any) -> Variable:  # noqa: A001  (Theano's name)
    x = as_variable(x)
    if x.dtype == "bool":
        return x
    return apply("abs", [x], [x.dtype], x.dtype)


def sgn(x: Any) -> Variable:
    (in_dtype, out_dtype) = resolve(np.sign, [x], "sign")
    return apply("sign", [x], [in_dtype], out_dtype)


def invert(x: Any) -> Variable:
    (in_dtype, out_dtype) = resolve(np.invert, [x], "invert")
    return apply("not", [x], [in_dtype], out_dtype)


def sqr(x: Any) -> Variable:
    return mul(x, x)


def reciprocal(x: Any) -> Variable:
    return true_div(1, x)


def cast(x: Any, dtype: Any) -> Variable:
    """Convert to `dtype` (numpy astype); a no-op when the dtype already matches."""
    x = as_variable(x)
    dtype = normalize_dtype(dtype)
    if x.dtype == dtype:
        return x
    if x.op == "constant":
        return constant(x.attrs["value"].astype(dtype))
    return node("cast", [x], dtype, x.type.shape)


# -- binary -----------------------------------------------------------------------

_BOOL_EQUIVALENT = {"add": "or", "mul": "and", "maximum": "or", "minimum": "and"}


def _binary(op: str, ufunc: np.ufunc, x: Any, y: Any) -> Variable:
    (dx, dy, out) = resolve(ufunc, [x, y], op)
    if out == "bool" and op in _BOOL_EQUIVALENT:
        op = _BOOL_EQUIVALENT[op]
    return apply(op, [x, y], [dx, dy], out)


def add(x: Any, y: Any) -> Variable: return _binary("add", np.add, x, y)
def sub(x: Any, y: Any) -> Variable: return _binary("sub", np.subtract, x, y)
def mul(x: Any, y: Any) -> Variable: return _binary("mul", np.multiply, x, y)
def true_div(x: Any, y: Any) -> Variable: return _binary("div", np.true_divide, x, y)
def int_div(x: Any, y: Any) -> Variable: return _binary("floordiv", np.floor_divide, x, y)
def mod(x: Any, y: Any) -> Variable: return _binary("mod", np.remainder, x, y)
def pow(x: Any, y: Any) -> Variable: return _binary("pow", np.power, x, y)  # noqa: A001
def maximum(x: Any, y: Any) -> Variable: return _binary("maximum", np.maximum, x, y)
def minimum(x: Any, y: Any) -> Variable: return _binary("minimum", np.minimum, x, y)
def and_(x: Any, y: Any) -> Variable: return _binary("and", np.bitwise_and, x, y)
def or_(x: Any, y: Any) -> Variable: return _binary("or", np.bitwise_or, x, y)
def xor(x: Any, y: Any) -> Variable: return _binary("xor", np.bitwise_xor, x, y)


def _compare(op: str, ufunc: np.ufunc, x: Any, y: Any) -> Variable:
    (dx, dy, _) = resolve(ufunc, [x, y], op)
    return apply(op, [x, y], [dx, dy], "bool")


def eq(x: Any, y: Any) -> Variable: return _compare("eq", np.equal, x, y)
def neq(x: Any, y: Any) -> Variable: return _compare("ne", np.not_equal, x, y)
def lt(x: Any, y: Any) -> Variable: return _compare("lt", np.less, x, y)
def le(x: Any, y: Any) -> Variable: return _compare("le", np.less_equal, x, y)
def gt(x: Any, y: Any) -> Variable: return _compare("gt", np.greater, x, y)
def ge(x: Any, y: Any) -> Variable: return _compare("ge", np.greater_equal, x, y)


def isnan(x: Any) -> Variable:
    x = as_variable(x)
    return neq(x, x)


def isinf(x: Any) -> Variable:
    return eq(abs(x), np.inf)


def switch(condition: Any, if_true: Any, if_false: Any) -> Variable:
    """Elementwise `if_true if condition else if_false` (Theano's switch)."""
    condition = as_variable(condition)
    if condition.dtype != "bool":
        condition = neq(condition, 0)
    dtype = result_dtype(if_true, if_false)
    values = broadcast_all(
        [condition, _to_dtype(if_true, dtype), _to_dtype(if_false, dtype)], "switch"
    )
    return node("select", values, dtype, values[0].type.shape)


def clip(x: Any, a_min: Any, a_max: Any) -> Variable:
    return minimum(maximum(x, a_min), a_max)


def identity(x: Any, name: str | None = None) -> Variable:
    x = as_variable(x)
    copy = node("cast", [x], x.dtype, x.type.shape)
    copy.name = name
    return copy
