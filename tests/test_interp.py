"""The reference interpreter against direct numpy: each op family on several dtypes
and shapes (empty and size-1 dims included), the semantic choices numpy leaves
open, and run-time errors that name the op, the operand or dim and the user line."""

import math
from collections.abc import Callable

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

from tensorc.dialects import tc
from tensorc.errors import DTypeError, LoweringError, ShapeError
from tensorc.pipeline import make_context
from tensorc.runtime.interp import REFERENCE, interpret_op, run_function

CTX = make_context()
RNG = np.random.default_rng(1234)
ELEMENT = {"float16": "f16", "float32": "f32", "float64": "f64", "int8": "i8",
           "int16": "i16", "int32": "i32", "int64": "i64", "bool": "i1"}
FLOATS = ["float16", "float32", "float64"]
INTS = ["int8", "int32", "int64"]
SHAPES = [(), (0,), (1,), (5,), (3, 1), (2, 0, 3), (2, 3, 4)]
LOC = 'loc("model.py":7:1)'


def parse(text: str) -> ModuleOp:
    module = Parser(CTX, text).parse_module()
    module.verify()
    return module


def tensor(dtype: str, shape: tuple[int, ...], dynamic: bool = True) -> str:
    dims = "".join(f"{'?' if dynamic else d}x" for d in shape)
    return f"tensor<{dims}{ELEMENT[dtype]}>"


def type_of(a: np.ndarray, dynamic: bool = True) -> str:
    return tensor(a.dtype.name, a.shape, dynamic)


def run_op(line: str, result: str, *args: np.ndarray, types: list[str] | None = None,
           ) -> np.ndarray:
    """Run `%r = <line>` in @main(%a0, %a1, ...); argument types default to the
    arrays' dtypes with dynamic dims."""
    types = types or [type_of(a) for a in args]
    signature = ", ".join(f"%a{i}: {t}" for i, t in enumerate(types))
    text = (f"func.func @main({signature}) -> {result} {{\n  %r = {line}\n"
            f"  func.return %r : {result}\n}}")
    return run_function(parse(text), list(args))[0]


def located(args: str, result: str, line: str) -> ModuleOp:
    """@main(args) -> result returning `%r = line`, created at model.py:7."""
    return parse(f"func.func @main({args}) -> {result} {{\n  %r = {line} {LOC}\n"
                 f"  func.return %r : {result}\n}}")


def sample(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == "bool":
        return RNG.random(shape) < 0.5
    if dtype in FLOATS:
        return (RNG.standard_normal(shape) * 3).astype(dtype)
    return RNG.integers(-20, 20, shape).astype(dtype)


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    """Same dtype, same shape, same values (nan == nan)."""
    expected = np.asarray(expected)
    assert isinstance(actual, np.ndarray)
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)


# ---------------------------------------------------------------------------------
# Elementwise
# ---------------------------------------------------------------------------------

UNARY: dict[str, tuple[Callable[[np.ndarray], np.ndarray], list[str]]] = {
    "neg": (np.negative, FLOATS + INTS),
    "abs": (np.absolute, FLOATS + INTS),
    "sign": (np.sign, FLOATS + INTS),
    "not": (np.logical_not, ["bool"]),
    "exp": (np.exp, FLOATS),
    "log": (np.log, FLOATS),
    "log1p": (np.log1p, FLOATS),
    "expm1": (np.expm1, FLOATS),
    "sqrt": (np.sqrt, FLOATS),
    "sin": (np.sin, FLOATS),
    "cos": (np.cos, FLOATS),
    "tan": (np.tan, FLOATS),
    "tanh": (np.tanh, FLOATS),
    "floor": (np.floor, FLOATS),
    "ceil": (np.ceil, FLOATS),
    "round": (np.rint, FLOATS),
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_unary_matches_numpy(name: str, shape: tuple[int, ...]) -> None:
    fn, dtypes = UNARY[name]
    for dtype in dtypes:
        x = sample(dtype, shape)
        t = type_of(x)
        with np.errstate(all="ignore"):
            expected = fn(x)
        assert_same(run_op(f"tc.{name} %a0 : {t}", t, x), expected)


def test_not_is_bitwise_on_integers() -> None:
    x = np.array([0, 1, -1, 127, -128], np.int8)
    assert_same(run_op("tc.not %a0 : tensor<5xi8>", "tensor<5xi8>", x,
                       types=["tensor<5xi8>"]), ~x)


def test_sign_keeps_nan_and_round_is_half_to_even() -> None:
    x = np.array([np.nan, -0.0, -2.5, 0.5, 1.5, 2.5, -np.inf])
    t = type_of(x)
    sign = run_op(f"tc.sign %a0 : {t}", t, x)
    assert np.isnan(sign[0]) and list(sign[1:]) == [0, -1, 1, 1, 1, -1]
    assert list(run_op(f"tc.round %a0 : {t}", t, x)[2:6]) == [-2, 0, 2, 2]


@pytest.mark.parametrize("dtype", FLOATS)
def test_erf_matches_math_erf(dtype: str) -> None:
    x = np.array([-np.inf, -3, -0.5, 0, 1e-3, 0.5, 2, np.inf, np.nan], dtype)
    t = type_of(x)
    expected = np.array([math.erf(v) for v in x.astype(np.float64)]).astype(dtype)
    assert_same(run_op(f"tc.erf %a0 : {t}", t, x), expected)


@pytest.mark.parametrize("dtype,limit", [("float16", 20), ("float32", 100),
                                         ("float64", 710)])
def test_sigmoid_and_softplus_are_stable(dtype: str, limit: float) -> None:
    """No overflow at |x| = limit (where e**|x| overflows the dtype); values match
    float64 formulas where those are representable."""
    x = np.array([-limit, -700 if dtype == "float64" else -limit / 2, -1.5, 0,
                  2.0, limit], dtype)
    t = type_of(x)
    sig = run_op(f"tc.sigmoid %a0 : {t}", t, x)
    soft = run_op(f"tc.softplus %a0 : {t}", t, x)
    wide = x.astype(np.float64)
    want_sig = [1 / (1 + math.exp(-v)) if v > -700 else math.exp(v) for v in wide]
    want_soft = [v + math.log1p(math.exp(-v)) if v > 0 else math.log1p(math.exp(v))
                 for v in wide]
    tolerance = {"float16": 2e-3, "float32": 1e-6, "float64": 1e-14}[dtype]
    assert sig.dtype == soft.dtype == np.dtype(dtype)
    for actual, want in [(sig, want_sig), (soft, want_soft)]:
        rounded = np.array(want).astype(dtype).astype(np.float64)  # may underflow
        np.testing.assert_allclose(actual.astype(np.float64), rounded, rtol=tolerance)
    assert sig[-1] == 1 and soft[-1] == x[-1] and 0 < soft[1]


BINARY: dict[str, tuple[Callable[..., np.ndarray], list[str]]] = {
    "add": (np.add, FLOATS + INTS),
    "sub": (np.subtract, FLOATS + INTS),
    "mul": (np.multiply, FLOATS + INTS),
    "div": (np.true_divide, FLOATS),
    "floordiv": (np.floor_divide, FLOATS + INTS),
    "mod": (np.remainder, FLOATS + INTS),
    "pow": (np.power, FLOATS),
    "maximum": (np.maximum, FLOATS + INTS),
    "minimum": (np.minimum, FLOATS + INTS),
    "and": (np.logical_and, ["bool"]),
    "or": (np.logical_or, ["bool"]),
    "xor": (np.logical_xor, ["bool"]),
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_binary_matches_numpy(name: str, shape: tuple[int, ...]) -> None:
    fn, dtypes = BINARY[name]
    for dtype in dtypes:
        x, y = sample(dtype, shape), sample(dtype, shape)
        t = type_of(x)
        with np.errstate(all="ignore"):
            expected = fn(x, y)
        assert_same(run_op(f"tc.{name} %a0, %a1 : {t}", t, x, y), expected)


@pytest.mark.parametrize("name", ["and", "or", "xor"])
def test_bitwise_ops_on_integers(name: str) -> None:
    x, y = np.array([12, -1, 0], np.int16), np.array([10, 5, -1], np.int16)
    fn = {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}[name]
    t = type_of(x)
    assert_same(run_op(f"tc.{name} %a0, %a1 : {t}", t, x, y), fn(x, y))


@pytest.mark.parametrize("dtype", INTS)
def test_integer_division_by_zero_and_overflow_give_numpy_results(dtype: str) -> None:
    low = np.iinfo(dtype).min
    x = np.array([7, -7, 0, low, low, 5], dtype)
    y = np.array([0, 0, 0, -1, 0, -3], dtype)
    t = type_of(x)
    assert_same(run_op(f"tc.floordiv %a0, %a1 : {t}", t, x, y),
                np.array([0, 0, 0, low, 0, -2], dtype))
    assert_same(run_op(f"tc.mod %a0, %a1 : {t}", t, x, y),
                np.array([0, 0, 0, 0, 0, -1], dtype))
    assert_same(run_op(f"tc.add %a0, %a1 : {t}", t, x, y),
                np.array([7, -7, 0, np.iinfo(dtype).max, low, 2], dtype))


def test_integer_power_with_negative_exponents_truncates() -> None:
    x = np.array([2, 1, -1, -1, 0, 3, -2, 5], np.int32)
    y = np.array([-1, -5, -3, -2, -1, 2, 3, 0], np.int32)
    t = type_of(x)
    assert_same(run_op(f"tc.pow %a0, %a1 : {t}", t, x, y),
                np.array([0, 1, -1, 1, 0, 9, -8, 1], np.int32))


def test_maximum_and_minimum_propagate_nan() -> None:
    x, y = np.array([np.nan, 1.0, 2.0]), np.array([0.0, np.nan, 1.0])
    t = type_of(x)
    assert_same(run_op(f"tc.maximum %a0, %a1 : {t}", t, x, y), [np.nan, np.nan, 2.0])
    assert_same(run_op(f"tc.minimum %a0, %a1 : {t}", t, x, y), [np.nan, np.nan, 1.0])


COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
           "gt": np.greater, "ge": np.greater_equal}


@pytest.mark.parametrize("name", COMPARE)
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_compare_matches_numpy(name: str, dtype: str) -> None:
    for shape in [(), (0,), (4, 1)]:
        x, y = sample(dtype, shape), sample(dtype, shape)
        x.reshape(-1)[:1] = y.reshape(-1)[:1]  # some equal elements
        t = type_of(x)
        result = run_op(f"tc.{name} %a0, %a1 : {t} -> {tensor('bool', shape)}",
                        tensor("bool", shape), x, y)
        assert_same(result, COMPARE[name](x, y))


@pytest.mark.parametrize("shape", [(), (0, 2), (3, 1)], ids=str)
def test_select(shape: tuple[int, ...]) -> None:
    m, x, y = sample("bool", shape), sample("int8", shape), sample("int8", shape)
    t = type_of(x)
    result = run_op(f"tc.select %a0, %a1, %a2 : {type_of(m)}, {t}", t, m, x, y)
    assert_same(result, np.where(m, x, y))


@pytest.mark.parametrize("source", ["float64", "float16", "int32", "bool"])
@pytest.mark.parametrize("target", ["float32", "int8", "int64", "bool"])
def test_cast_matches_astype(source: str, target: str) -> None:
    x = np.array([0, 1, -2, 3]).astype(source)
    if source.startswith("float"):
        x = np.array([-2.7, -0.5, 0.0, 0.5, 2.7, 100.9], source)
    t = type_of(x)
    result = run_op(f"tc.cast %a0 : {t} to {tensor(target, x.shape)}",
                    tensor(target, x.shape), x)
    assert_same(result, x.astype(target))


def test_cast_of_nan_to_integer_leaks_no_warning() -> None:
    x = np.array([np.nan, np.inf, 1.5])
    result = run_op("tc.cast %a0 : tensor<?xf64> to tensor<?xi32>", "tensor<?xi32>", x)
    assert result.dtype == np.int32 and result[2] == 1


def test_elementwise_dims_must_agree_at_run_time() -> None:
    module = located("%x: tensor<?x2xf64>, %y: tensor<?x2xf64>", "tensor<?x2xf64>",
                     "tc.add %x, %y : tensor<?x2xf64>")
    with pytest.raises(ShapeError) as error:
        run_function(module, [np.zeros((4, 2)), np.zeros((3, 2))])
    assert str(error.value) == ("tc.add (created at model.py:7): rhs dim 0 is 3 but "
                                "lhs dim 0 is 4")


# ---------------------------------------------------------------------------------
# Constants, broadcast, reductions
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("literal,dtype,expected", [
    ("dense<[[1, 2], [3, 4]]> : tensor<2x2xi16>", "int16", [[1, 2], [3, 4]]),
    ("dense<2.5> : tensor<2x3xf32>", "float32", np.full((2, 3), 2.5)),
    ("dense<[true, false]> : tensor<2xi1>", "bool", [True, False]),
    ("dense<true> : tensor<i1>", "bool", True),
    ("dense<> : tensor<0x2xf64>", "float64", np.zeros((0, 2))),
])
def test_constant(literal: str, dtype: str, expected: object) -> None:
    t = literal.rsplit(" : ", 1)[1]
    result = run_op(f"tc.constant {literal}", t, types=[])
    assert_same(result, np.asarray(expected, dtype))
    assert result.flags.writeable and result.flags.c_contiguous


@pytest.mark.parametrize("in_shape,in_type,target,result_type", [
    ((4,), "tensor<4xf64>", (3, 4), "tensor<?x4xf64>"),
    ((1, 4), "tensor<1x?xf64>", (3, 4), "tensor<?x?xf64>"),
    ((2, 1), "tensor<?x1xf64>", (2, 0), "tensor<?x?xf64>"),
    ((), "tensor<f64>", (2, 1, 3), "tensor<2x?x3xf64>"),
    ((3,), "tensor<?xf64>", (3,), "tensor<?xf64>"),
])
def test_broadcast(in_shape: tuple, in_type: str, target: tuple,
                   result_type: str) -> None:
    x = sample("float64", in_shape)
    dynamic = [d for d, s in zip(target, result_type[7:].split("x")) if s == "?"]
    dims = [np.array(d, np.int64) for d in dynamic]
    operands = ", ".join(f"%a{i + 1}" for i in range(len(dims)))
    dims_types = ", ".join(["tensor<i64>"] * len(dims))
    result = run_op(f"tc.broadcast %a0({operands}) : {in_type}, {dims_types} -> "
                    f"{result_type}", result_type, x, *dims,
                    types=[in_type] + ["tensor<i64>"] * len(dims))
    assert_same(result, np.broadcast_to(x, target))


@pytest.mark.parametrize("x_shape,target,message", [
    ((3,), 5, "input dim 0 is 3 but the target dim 1 is 5"),
    ((1,), 5, "input dim 0 is 1 but the target dim 1 is 5 (only dims that are "
              "statically 1 broadcast)"),
    ((2,), -1, "dims #0 is -1, a dim cannot be negative"),
])
def test_broadcast_errors(x_shape: tuple, target: int, message: str) -> None:
    module = located("%x: tensor<?xf64>, %n: tensor<i64>", "tensor<2x?xf64>",
                     "tc.broadcast %x(%n) : tensor<?xf64>, tensor<i64> -> "
                     "tensor<2x?xf64>")
    with pytest.raises(ShapeError) as error:
        run_function(module, [np.zeros(x_shape), np.array(target)])
    assert str(error.value).startswith("tc.broadcast (created at model.py:7): ")
    assert message in str(error.value)


def reduced_type(dtype: str, shape: tuple, axes: tuple, keep: bool) -> str:
    """Result type of a reduction of a dynamic-shaped input (kept dims are 1)."""
    dims = ["1" if a in axes else "?" for a in range(len(shape))] if keep else [
        "?" for a in range(len(shape)) if a not in axes]
    return f"tensor<{''.join(d + 'x' for d in dims)}{ELEMENT[dtype]}>"


REDUCTIONS = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}
AXES_CASES = [((2, 3, 4), (1,)), ((2, 3, 4), (0, 2)), ((2, 3, 4), ()),
              ((2, 3, 4), (0, 1, 2)), ((5,), (0,)), ((), ()), ((3, 1), (1,)),
              ((2, 0), (0,))]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("shape,axes", AXES_CASES, ids=str)
@pytest.mark.parametrize("keep", [False, True])
def test_reductions_match_numpy(name: str, shape: tuple, axes: tuple,
                                keep: bool) -> None:
    for dtype in ["float32", "int8", "float64"]:
        x = sample(dtype, shape)
        keyword = " keepdims" if keep else ""
        axes_text = f"array<i64{': ' if axes else ''}{', '.join(map(str, axes))}>"
        out = reduced_type(dtype, shape, axes, keep)
        line = f"tc.{name} %a0 axes = {axes_text}{keyword} : {type_of(x)} -> {out}"
        kwargs = {"dtype": x.dtype} if name in ("sum", "prod") else {}
        with np.errstate(all="ignore"):
            expected = REDUCTIONS[name](x, axis=axes, keepdims=keep, **kwargs)
        assert_same(run_op(line, out, x), expected)


@pytest.mark.parametrize("name,fn", [("argmax", np.argmax), ("argmin", np.argmin)])
@pytest.mark.parametrize("shape,axes", AXES_CASES[:7], ids=str)
@pytest.mark.parametrize("keep", [False, True])
def test_arg_reductions_index_the_flattened_axes(name: str, fn: Callable, shape: tuple,
                                                 axes: tuple, keep: bool) -> None:
    x = RNG.integers(0, 3, shape).astype(np.float64)  # ties: the first one wins
    axes_text = f"array<i64{': ' if axes else ''}{', '.join(map(str, axes))}>"
    out = reduced_type("int64", shape, axes, keep)
    keyword = " keepdims" if keep else ""
    line = f"tc.{name} %a0 axes = {axes_text}{keyword} : {type_of(x)} -> {out}"
    result = run_op(line, out, x)
    kept = [a for a in range(x.ndim) if a not in axes]
    flat = np.transpose(x, kept + list(axes)).reshape(
        [x.shape[a] for a in kept] + [math.prod(x.shape[a] for a in axes)])
    expected = fn(flat, axis=-1).reshape(
        [1 if a in axes else d for a, d in enumerate(x.shape)] if keep else
        [x.shape[a] for a in kept])
    assert_same(result, expected.astype(np.int64))


def test_reductions_propagate_nan_and_sum_keeps_the_dtype() -> None:
    x = np.array([[1.0, np.nan], [2.0, 3.0]])
    line = "tc.max %a0 axes = array<i64: 1> : tensor<?x?xf64> -> tensor<?xf64>"
    result = run_op(line, "tensor<?xf64>", x)
    assert np.isnan(result[0]) and result[1] == 3
    big = np.full(4, 100, np.int8)
    result = run_op("tc.sum %a0 axes = array<i64: 0> : tensor<?xi8> -> tensor<i8>",
                    "tensor<i8>", big)
    assert_same(result, np.int8(400 - 512))


def test_max_of_an_empty_set_is_a_shape_error() -> None:
    module = located("%x: tensor<?x?xf64>", "tensor<?xf64>",
                     "tc.max %x axes = array<i64: 1> : tensor<?x?xf64> -> "
                     "tensor<?xf64>")
    assert_same(run_function(module, [np.zeros((0, 0))])[0], np.zeros(0))
    with pytest.raises(ShapeError, match=r"^tc.max \(created at model.py:7\): cannot "
                                         r"reduce an empty set"):
        run_function(module, [np.zeros((2, 0))])


# ---------------------------------------------------------------------------------
# Linear algebra and data movement
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("a_shape,b_shape", [((3, 4), (4, 2)), ((3, 4), (4,)),
                                             ((4,), (4, 2)), ((4,), (4,)),
                                             ((3, 0), (0, 2)), ((1, 1), (1, 5))])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
def test_matmul_is_numpy_dot(a_shape: tuple, b_shape: tuple, dtype: str) -> None:
    a, b = sample(dtype, a_shape), sample(dtype, b_shape)
    out = tensor(dtype, a_shape[:-1] + b_shape[1:])
    line = f"tc.matmul %a0, %a1 : {type_of(a)}, {type_of(b)} -> {out}"
    result = run_op(line, out, a, b)
    assert_same(result, np.dot(a, b))


def test_matmul_inner_dims_must_agree() -> None:
    module = located("%a: tensor<?x?xf64>, %b: tensor<?xf64>", "tensor<?xf64>",
                     "tc.matmul %a, %b : tensor<?x?xf64>, tensor<?xf64> -> "
                     "tensor<?xf64>")
    with pytest.raises(ShapeError) as error:
        run_function(module, [np.zeros((2, 3)), np.zeros(4)])
    assert str(error.value) == ("tc.matmul (created at model.py:7): lhs dim 1 is 3 but "
                                "rhs dim 0 is 4 (inner dims of (2, 3) @ (4,))")


@pytest.mark.parametrize("perm", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
def test_transpose(perm: tuple) -> None:
    x = sample("int16", (2, 0, 3)) if perm == (1, 2, 0) else sample("int16", (2, 3, 4))
    out = tensor("int16", tuple(x.shape[p] for p in perm))
    perm_text = ", ".join(map(str, perm))
    line = f"tc.transpose %a0 perm = array<i64: {perm_text}> : {type_of(x)} -> {out}"
    result = run_op(line, out, x)
    assert_same(result, np.transpose(x, perm))
    assert result.flags.c_contiguous


def test_reshape_and_its_size_check() -> None:
    x = sample("float32", (3, 4))
    line = "tc.reshape %a0(%a1) : tensor<?x?xf32>, tensor<i64> -> tensor<?x2x1xf32>"
    types = ["tensor<?x?xf32>", "tensor<i64>"]
    result = run_op(line, "tensor<?x2x1xf32>", x, np.array(6), types=types)
    assert_same(result, x.reshape(6, 2, 1))
    with pytest.raises(ShapeError, match=r"tc.reshape: cannot reshape \(3, 4\) \(12 "
                                         r"elements\) to \(5, 2, 1\) \(10 elements\)"):
        run_op(line, "tensor<?x2x1xf32>", x, np.array(5), types=types)


NONE_LOW, NONE_HIGH = -(2**62), 2**62


@pytest.mark.parametrize("start,stop,step", [
    (0, NONE_HIGH, 1), (NONE_HIGH, NONE_LOW, -1), (1, -1, 2), (-2, 0, -1),
    (7, 100, 1), (-100, 3, 3), (5, 2, 1), (NONE_LOW, NONE_HIGH, -2),
])
def test_slice_follows_python_rules(start: int, stop: int, step: int) -> None:
    x = np.arange(10.0)
    expected = np.array(x.tolist()[start:stop:step])  # Python's list semantics
    line = (f"tc.slice %a0[] starts = array<i64: {start}> stops = array<i64: {stop}> "
            f"steps = array<i64: {step}> : tensor<?xf64>, -> tensor<?xf64>")
    assert_same(run_op(line, "tensor<?xf64>", x), expected)


def test_slice_with_dynamic_bounds_takes_starts_then_stops() -> None:
    x = sample("int64", (6, 5))
    dyn = tc.DYNAMIC
    line = (f"tc.slice %a0[%a1, %a2, %a3] starts = array<i64: {dyn}, {dyn}> "
            f"stops = array<i64: {dyn}, 4> steps = array<i64: 2, 1> : "
            "tensor<?x?xi64>, tensor<i64>, tensor<i64>, tensor<i64> -> tensor<?x?xi64>")
    result = run_op(line, "tensor<?x?xi64>", x, np.array(1), np.array(-3), np.array(-1),
                    types=["tensor<?x?xi64>"] + ["tensor<i64>"] * 3)
    assert_same(result, x[1:-1:2, -3:4])


@pytest.mark.parametrize("n_indices", [1, 2])
def test_gather_is_integer_array_indexing(n_indices: int) -> None:
    x = sample("float64", (4, 3, 2))
    rows = np.array([[0, -1], [3, 2]], np.int32)
    cols = np.array([[2, 0], [-3, 1]], np.int32)
    indices = [rows, cols][:n_indices]
    out = tensor("float64", rows.shape + x.shape[n_indices:])
    operands = ", ".join(f"%a{i + 1}" for i in range(n_indices))
    types = ", ".join([type_of(rows)] * n_indices)
    result = run_op(f"tc.gather %a0[{operands}] : {type_of(x)}, {types} -> {out}", out,
                    x, *indices)
    assert_same(result, x[tuple(indices)])


def test_gather_out_of_range_names_index_axis_and_size() -> None:
    module = located("%x: tensor<?x?xf64>, %i: tensor<?xi64>", "tensor<?x?xf64>",
                     "tc.gather %x[%i] : tensor<?x?xf64>, tensor<?xi64> -> "
                     "tensor<?x?xf64>")
    with pytest.raises(ShapeError) as error:
        run_function(module, [np.zeros((3, 2)), np.array([0, -4, 3])])
    assert str(error.value) == ("tc.gather (created at model.py:7): index -4 is out of "
                                "bounds for axis 0 with size 3 (indices #0)")
    assert_same(run_function(module, [np.zeros((0, 2)), np.zeros(0, np.int64)])[0],
                np.zeros((0, 2)))


def test_concatenate_and_its_dim_check() -> None:
    a, b = sample("int8", (2, 3)), sample("int8", (2, 0))
    line = ("tc.concatenate %a0, %a1, %a0 axis(1) : tensor<?x?xi8>, tensor<?x?xi8>, "
            "tensor<?x?xi8> -> tensor<?x?xi8>")
    assert_same(run_op(line, "tensor<?x?xi8>", a, b), np.concatenate([a, b, a], axis=1))
    with pytest.raises(ShapeError, match="tc.concatenate: inputs #1 dim 0 is 3 but "
                                         "inputs #0 dim 0 is 2"):
        run_op(line, "tensor<?x?xi8>", a, sample("int8", (3, 1)))


def test_dim_and_arange() -> None:
    x = sample("float32", (4, 0))
    for axis, size in [(0, 4), (1, 0)]:
        result = run_op(f"tc.dim %a0[{axis}] : tensor<?x?xf32>", "tensor<i64>", x)
        assert_same(result, np.int64(size))
    for dtype, args in [("int64", (2, 11, 3)), ("int8", (5, -5, -2)),
                        ("int32", (3, 3, 1)), ("float64", (0.5, 2.0, 0.25)),
                        ("float32", (1.0, 0.0, -0.3))]:
        values = [np.array(v, dtype) for v in args]
        t = tensor(dtype, ())
        result = run_op(f"tc.arange %a0, %a1, %a2 : {t} -> {tensor(dtype, (0,))}",
                        tensor(dtype, (0,)), *values, types=[t] * 3)
        assert_same(result, np.arange(*[v[()] for v in values], dtype=dtype))


@pytest.mark.parametrize("args,message", [
    ((0, 5, 0), "step is 0"), ((0.0, np.inf, 1.0), "arange(0.0, inf, 1.0)"),
])
def test_arange_errors(args: tuple, message: str) -> None:
    values = [np.array(v, np.float64) for v in args]
    with pytest.raises(ShapeError) as error:
        run_op("tc.arange %a0, %a1, %a2 : tensor<f64> -> tensor<?xf64>",
               "tensor<?xf64>", *values, types=["tensor<f64>"] * 3)
    assert str(error.value).startswith(f"tc.arange: {message}")


# ---------------------------------------------------------------------------------
# Types, functions and the op-level API
# ---------------------------------------------------------------------------------


def test_static_dims_of_types_are_checked_at_run_time() -> None:
    module = located("%x: tensor<?x2xf64>, %v: tensor<?xf64>", "tensor<3xf64>",
                     "tc.matmul %x, %v : tensor<?x2xf64>, tensor<?xf64> -> "
                     "tensor<3xf64>")
    with pytest.raises(ShapeError, match=r"^@main: argument #0 dim 1 is 3, but its "
                                         r"type tensor<\?x2xf64> says 2$"):
        run_function(module, [np.zeros((4, 3)), np.zeros(3)])
    with pytest.raises(ShapeError, match=r"^tc.matmul \(created at model.py:7\): "
                                         r"result dim 0 is 4, but its type "
                                         r"tensor<3xf64> says 3$"):
        run_function(module, [np.zeros((4, 2)), np.zeros(2)])
    with pytest.raises(ShapeError, match="argument #1 has shape \\(2, 2\\), its type "
                                         "tensor<\\?xf64> has rank 1"):
        run_function(module, [np.zeros((3, 2)), np.zeros((2, 2))])


def test_arguments_must_have_the_parameter_dtype() -> None:
    module = parse("func.func @main(%x: tensor<?xf32>) -> tensor<?xf32> {\n"
                   "  func.return %x : tensor<?xf32>\n}")
    with pytest.raises(DTypeError, match="argument #0 has dtype float64, its type "
                                         "tensor<\\?xf32> needs float32"):
        run_function(module, [np.zeros(2)])
    assert_same(run_function(module, [[1.5, 2]])[0], np.array([1.5, 2], np.float32))
    with pytest.raises(TypeError, match="@main takes 1 arguments, got 2"):
        run_function(module, [np.zeros(2, np.float32)] * 2)


def test_functions_call_functions_and_results_are_fresh() -> None:
    module = parse("""
func.func @twice(%x: tensor<?xf64>) -> (tensor<?xf64>, tensor<?xf64>) {
  %y = tc.add %x, %x : tensor<?xf64>
  func.return %y, %x : tensor<?xf64>, tensor<?xf64>
}
func.func @main(%x: tensor<?xf64>) -> (tensor<?xf64>, tensor<?xf64>, tensor<?xf64>) {
  %a, %b = func.call @twice(%x) : (tensor<?xf64>) -> (tensor<?xf64>, tensor<?xf64>)
  %c, %d = func.call @twice(%a) : (tensor<?xf64>) -> (tensor<?xf64>, tensor<?xf64>)
  func.return %c, %b, %b : tensor<?xf64>, tensor<?xf64>, tensor<?xf64>
}""")
    x = np.array([1.0, -2.0])
    c, b1, b2 = run_function(module, [x])
    assert_same(c, 4 * x)
    assert_same(b1, x)
    assert not np.shares_memory(b1, x) and not np.shares_memory(b1, b2)
    assert_same(run_function(module, [x], entry="twice")[0], 2 * x)
    with pytest.raises(LoweringError, match="no func.func @missing"):
        run_function(module, [x], entry="missing")


def test_grad_must_be_expanded_first() -> None:
    module = parse("""
func.func @main(%x: tensor<?xf64>) -> tensor<?xf64> {
  %c = tc.sum %x axes = array<i64: 0> : tensor<?xf64> -> tensor<f64>
  %g = tc.grad %c wrt %x : tensor<f64>, tensor<?xf64> -> tensor<?xf64>
  func.return %g : tensor<?xf64>
}""")
    with pytest.raises(LoweringError, match="tc.grad .*tc-autodiff"):
        run_function(module, [np.zeros(2)])


def test_interpret_op_runs_one_op_and_checks_operands() -> None:
    module = parse("""
func.func @main(%x: tensor<2x?xi32>) -> tensor<2x?xi32> {
  %y = tc.neg %x : tensor<2x?xi32>
  func.return %y : tensor<2x?xi32>
}""")
    neg = next(op for op in module.walk() if isinstance(op, tc.NegOp))
    x = np.array([[1], [2]], np.int32)
    assert_same(interpret_op(neg, [x])[0], -x)
    with pytest.raises(ShapeError, match="tc.neg: input dim 0 is 3, but its type"):
        interpret_op(neg, [np.zeros((3, 1), np.int32)])
    with pytest.raises(DTypeError, match="tc.neg: input has dtype int64"):
        interpret_op(neg, [x.astype(np.int64)])


def test_reference_entries_are_callables_of_op_and_values() -> None:
    for op_type, reference in REFERENCE.items():
        assert op_type in tc.ALL_OPS and callable(reference), op_type


def test_gradient_helper_ops() -> None:
    x = sample("float64", (5, 4))
    line = "tc.stop_gradient %a0 connected : tensor<?x?xf64>"
    stop = run_op(line, "tensor<?x?xf64>", x)
    assert_same(stop, x)
    assert not np.shares_memory(stop, x)
    source = sample("float64", (2, 2))
    line = ("tc.insert_slice %a1 into %a0[] starts = array<i64: 1, 3> stops = "
            "array<i64: 5, -5> steps = array<i64: 2, -2> : tensor<?x?xf64>, "
            "tensor<?x?xf64>, ")
    expected = x.copy()
    expected[1:5:2, 3:-5:-2] = source
    assert_same(run_op(line, "tensor<?x?xf64>", x, source), expected)
    with pytest.raises(ShapeError, match=r"tc.insert_slice: source has shape \(3, 2\)"):
        run_op(line, "tensor<?x?xf64>", x, sample("float64", (3, 2)))
    rows = np.array([4, -1, 0], np.int8)  # 4 and -1 are the same row: they add up
    updates = sample("float64", (3, 4))
    line = ("tc.scatter_add %a1 into %a0[%a2] : tensor<?x?xf64>, tensor<?x?xf64>, "
            "tensor<?xi8>")
    expected = x.copy()
    np.add.at(expected, (rows,), updates)
    assert_same(run_op(line, "tensor<?x?xf64>", x, updates, rows), expected)
    with pytest.raises(ShapeError, match="index 5 is out of bounds for axis 0 with "
                                         "size 5"):
        run_op(line, "tensor<?x?xf64>", x, updates, np.array([5, 0, 0], np.int8))
