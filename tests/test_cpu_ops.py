"""Every tc op through tc-bufferize and the C backend, compared with the reference
interpreter (and numpy directly where it says the same thing): several dtypes,
empty and size-1 dims, NaN/Inf/signed-zero/extreme inputs, and the run-time shape
errors with their messages.

Each program has dynamic dims, so one compiled kernel runs on every shape; programs
are built once per module (`functools.cache`) to keep the compile count low.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from xdsl.builder import Builder
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    FileLineColLoc,
    IntAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.ir import SSAValue
from xdsl.rewriter import InsertPoint

from tensorc.dialects import tc
from tensorc.dialects.tc import tensor_type
from tensorc.errors import ShapeError
from tensorc.passes.bufferize import BufferizePass
from tensorc.pipeline import make_context
from tensorc.runtime.cpu import CpuKernel, compile_module
from tensorc.runtime.interp import run_function

FLOATS = ("float16", "float32", "float64")
INTS = ("int8", "int16", "int32", "int64")
DTYPES = (*FLOATS, *INTS, "bool")
FILE = "test_cpu_ops.py"
FLAGS = ("-O1",)
"""Programs compile at -O1 to keep this file fast (-O1 after the runtime's -O3 wins);
the float programs use the runtime's own flags, so -O3 code is covered too."""

# ---------------------------------------------------------------------------------
# Programs: a tc function, its reference and its compiled kernel
# ---------------------------------------------------------------------------------


@dataclass
class Program:
    module: ModuleOp
    kernel: CpuKernel

    def reference(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        return run_function(self.module, list(args))


Body = Callable[["Ops", list[SSAValue]], list[SSAValue]]


class Ops:
    """Builds tc ops at the end of a function; every op gets a fake user location
    whose line is the op's position, so messages can be checked."""

    def __init__(self, builder: Builder):
        self.builder = builder
        self.line = 0

    def __call__(
        self,
        name: str,
        *operands: SSAValue,
        result: TensorType | None = None,
        **attrs: object,
    ) -> SSAValue:
        if result is None:  # the type of the (first) value operand
            result = operands[1 if name == "select" else 0].type  # type: ignore[assignment]
        op = tc.OPS_BY_NAME[name].make(list(operands), [result], attrs)
        self.line += 1
        op.location = FileLineColLoc(StringAttr(FILE), IntAttr(self.line), IntAttr(1))
        self.builder.insert(op)
        return op.results[0]


def program(
    arg_types: Sequence[TensorType], body: Body, flags: Sequence[str] = FLAGS
) -> Program:
    fn = func.FuncOp("main", (list(arg_types), []))
    builder = Builder(InsertPoint.at_end(fn.body.block))
    results = body(Ops(builder), list(fn.body.block.args))
    builder.insert(func.ReturnOp(*results))
    fn.update_function_type()
    module = ModuleOp([fn])
    module.verify()
    lowered = module.clone()
    BufferizePass().apply(make_context(), lowered)
    lowered.verify()
    return Program(module, compile_module(lowered, extra_flags=tuple(flags)))


def t(dtype: str, shape: Sequence[int | None]) -> TensorType:
    return tensor_type(dtype, shape)


def bool_like(value: SSAValue) -> TensorType:
    vt = value.type
    assert isinstance(vt, TensorType)
    return TensorType(tc.ELEMENT_TYPES["bool"], vt.get_shape())


TOLERANCE = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-13}


def assert_same(
    got: np.ndarray, want: np.ndarray, what: str, rtol: float | None = None
) -> None:
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if want.dtype.kind == "f":
        tol = TOLERANCE[want.dtype.name] if rtol is None else rtol
        np.testing.assert_allclose(
            got.astype(np.float64),
            want.astype(np.float64),
            rtol=tol,
            atol=tol,
            equal_nan=True,
            err_msg=what,
        )
        # infinities and NaNs exactly where the reference has them
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
        np.testing.assert_array_equal(
            np.isinf(got) & (got > 0), np.isinf(want) & (want > 0), err_msg=what
        )
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def check(
    prog: Program,
    args: Sequence[np.ndarray],
    names: Sequence[str] = (),
    rtol: float | None = None,
) -> list[np.ndarray]:
    """Run both; results must agree (names label the outputs in failures)."""
    args = [np.array(a, order="C") for a in args]
    want = prog.reference(args)
    got = prog.kernel(args)
    assert len(got) == len(want)
    shapes = [a.shape for a in args]
    for i, (g, w) in enumerate(zip(got, want)):
        label = names[i] if i < len(names) else f"result #{i}"
        assert_same(g, w, f"{label} on input shapes {shapes}", rtol)
    return got


def check_error(
    prog: Program, args: Sequence[np.ndarray], op_name: str, line: int, pattern: str
) -> None:
    """Both the reference and the kernel raise ShapeError; the kernel's message
    names the op, its user line and what is wrong."""
    args = [np.array(a, order="C") for a in args]
    with pytest.raises(ShapeError):
        prog.reference(args)
    with pytest.raises(ShapeError) as raised:
        prog.kernel(args)
    message = str(raised.value)
    assert message.startswith(f"{op_name} (created at {FILE}:{line}): "), message
    assert pattern in message, message


# ---------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------

RNG = np.random.default_rng(20261122)
SHAPES_2D = [(0, 3), (3, 0), (1, 1), (1, 5), (4, 7)]


def sample(
    dtype: str,
    shape: Sequence[int],
    special: bool = True,
    low: int = -20,
    high: int = 20,
) -> np.ndarray:
    """Random values of `dtype` with special values sprinkled in: NaN, +-Inf, +-0,
    halves (round), large magnitudes; MIN/MAX/0/-1 for integers."""
    size = int(np.prod(shape))
    if dtype == "bool":
        return RNG.random(shape) < 0.5
    if dtype in INTS:
        values = RNG.integers(low, high, size=size).astype(dtype)
        info = np.iinfo(dtype)
        specials = [info.min, info.max, 0, -1, 1]
    else:
        values = (RNG.normal(size=size) * 3).astype(dtype)
        big = {"float16": 10.0, "float32": 80.0, "float64": 700.0}[dtype]
        specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, 2.5, -2.5, big, -big]
    if special and size:
        where = RNG.random(size) < 0.35
        picks = RNG.integers(0, len(specials), size=size)
        chosen = np.array(specials, dtype=np.float64 if dtype in FLOATS else dtype)[
            picks
        ]
        values = np.where(where, chosen.astype(dtype), values)
    return np.asarray(values, dtype=dtype).reshape(shape)


def scalar(value: object, dtype: str = "int64") -> np.ndarray:
    return np.array(value, dtype=dtype)


# ---------------------------------------------------------------------------------
# Elementwise ops
# ---------------------------------------------------------------------------------

FLOAT_UNARY = ("neg", "abs", "sign", *tc.FLOAT_UNARY_OPS)
FLOAT_BINARY = (
    "add",
    "sub",
    "mul",
    "div",
    "floordiv",
    "mod",
    "pow",
    "maximum",
    "minimum",
)
INT_UNARY = ("neg", "abs", "sign", "not")
INT_BINARY = (
    "add",
    "sub",
    "mul",
    "floordiv",
    "mod",
    "pow",
    "maximum",
    "minimum",
    "and",
    "or",
    "xor",
)
BOOL_BINARY = ("and", "or", "xor")
COMPARES = tuple(tc.COMPARE_OPS)


@functools.cache
def float_elementwise(dtype: str) -> Program:
    x_t = t(dtype, (None, None))

    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        x, y = args
        out = [ops(name, x) for name in FLOAT_UNARY]
        out += [ops(name, x, y) for name in FLOAT_BINARY]
        masks = [ops(name, x, y, result=bool_like(x)) for name in COMPARES]
        return out + masks + [ops("select", masks[2], x, y)]

    return program([x_t, x_t], body, flags=())


FLOAT_NAMES = [*FLOAT_UNARY, *FLOAT_BINARY, *COMPARES, "select"]


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_elementwise(dtype: str) -> None:
    prog = float_elementwise(dtype)
    for shape in SHAPES_2D:
        check(prog, [sample(dtype, shape), sample(dtype, shape)], FLOAT_NAMES)
    # every pair of special values, as x and as y
    specials = np.array(
        [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -3.5, 0.3, 7.0],
        dtype=dtype,
    )
    xs, ys = np.meshgrid(specials, specials)
    check(prog, [xs, ys], FLOAT_NAMES)


def test_float_stability_and_exact_ops() -> None:
    """sigmoid/softplus for |x| up to 700 and floordiv/mod agree exactly (f64)."""
    prog = float_elementwise("float64")
    x = np.array([[-745.0, -700.0, -40.0, -1e-300, 0.0, 1e-300, 40.0, 700.0, 745.0]])
    got = check(prog, [x, np.full_like(x, 3.0)], FLOAT_NAMES)
    sigmoid, softplus = (got[FLOAT_NAMES.index(n)] for n in ("sigmoid", "softplus"))
    assert np.all(np.isfinite(sigmoid)) and np.all((sigmoid >= 0) & (sigmoid <= 1))
    assert np.all(np.isfinite(softplus))
    a = RNG.normal(size=(50, 40)) * 100
    b = RNG.normal(size=(50, 40))
    got = prog.kernel([a, b])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got[FLOAT_NAMES.index("floordiv")], a // b)
        np.testing.assert_array_equal(got[FLOAT_NAMES.index("mod")], np.mod(a, b))
        np.testing.assert_array_equal(got[FLOAT_NAMES.index("round")], np.round(a))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_float_mod_is_exact_for_large_quotients(dtype: str) -> None:
    """fmod-based floordiv/mod agree exactly with numpy for |x / y| up to 1e60
    (the loop-free fmod's limit is 2**204), subnormal divisors included."""
    prog = float_elementwise(dtype)
    tiny = np.finfo(dtype).smallest_subnormal
    top = {"float64": 300, "float32": 37}[dtype]
    x = RNG.choice([-1, 1], 400) * 10.0 ** RNG.uniform(-top, top, 400)
    y = RNG.choice([-1, 1], 400) * 10.0 ** RNG.uniform(-top, top, 400)
    x, y = x.astype(dtype), y.astype(dtype)
    y[:20] = tiny * RNG.integers(1, 1000, 20)
    with np.errstate(over="ignore"):
        keep = np.abs(x.astype(np.float64) / y.astype(np.float64)) < 1e60
    x, y = x[keep].reshape(1, -1), y[keep].reshape(1, -1)
    got = prog.kernel([x, y])
    with np.errstate(all="ignore"):  # quotients overflow for huge x / tiny y
        want_mod, want_floordiv = np.mod(x, y), x // y
    np.testing.assert_array_equal(got[FLOAT_NAMES.index("mod")], want_mod)
    np.testing.assert_array_equal(got[FLOAT_NAMES.index("floordiv")], want_floordiv)


@functools.cache
def int_elementwise() -> Program:
    types = [t(d, (None, None)) for d in INTS for _ in range(2)] + [
        t("bool", (None,))
    ] * 2

    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        out: list[SSAValue] = []
        for x, y in zip(args[0:8:2], args[1:8:2]):
            out += [ops(name, x) for name in INT_UNARY]
            out += [ops(name, x, y) for name in INT_BINARY]
            masks = [ops(name, x, y, result=bool_like(x)) for name in COMPARES]
            out += masks + [ops("select", masks[0], x, y)]
        p, q = args[8:]
        out += [ops("not", p)] + [ops(name, p, q) for name in BOOL_BINARY]
        out += [ops(name, p, q, result=p.type) for name in COMPARES]
        out += [ops("select", p, q, ops("not", q))]
        return out

    return program(types, body)


def test_int_and_bool_elementwise() -> None:
    prog = int_elementwise()
    per_dtype = [*INT_UNARY, *INT_BINARY, *COMPARES, "select"]
    names = [f"{d}.{n}" for d in INTS for n in per_dtype]
    names += [f"bool.{n}" for n in ("not", *BOOL_BINARY, *COMPARES, "select")]
    for shape in SHAPES_2D:
        ints = [sample(d, shape) for d in INTS for _ in range(2)]
        flat = (shape[0] * shape[1],)
        check(prog, ints + [sample("bool", flat), sample("bool", flat)], names)


def test_int_division_edge_cases_do_not_trap() -> None:
    """x // 0 == x % 0 == 0, MIN // -1 wraps, signs follow Python, x ** -n."""
    prog = int_elementwise()
    values = []
    for d in INTS:
        info = np.iinfo(d)
        grid = np.array([info.min, info.min + 1, -7, -1, 0, 1, 2, 7, info.max], dtype=d)
        xs, ys = np.meshgrid(grid, grid)
        values += [xs, ys]
    flags = np.array([True, False, True, False])
    check(prog, values + [flags, flags[::-1].copy()])
    got = prog.kernel(values + [flags, flags[::-1].copy()])
    offset = INT_UNARY.__len__() + INT_BINARY.index("floordiv")
    xs, ys = values[6], values[7]  # int64
    base = 3 * (len(INT_UNARY) + len(INT_BINARY) + len(COMPARES) + 1)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got[base + offset], np.floor_divide(xs, ys))
        np.testing.assert_array_equal(got[base + offset + 1], np.mod(xs, ys))


@functools.cache
def casts() -> Program:
    """Every dtype to every dtype: `safe` inputs (in range, finite) feed the casts to
    integers, `wild` ones (NaN/Inf, extremes) the casts to floats and bools."""
    types = [t(d, (None,)) for d in DTYPES for _ in range(2)]

    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        out = []
        for index, _ in enumerate(DTYPES):
            safe, wild = args[2 * index], args[2 * index + 1]
            for target in DTYPES:
                source = safe if target in INTS else wild
                vt = source.type
                assert isinstance(vt, TensorType)
                out.append(ops("cast", source, result=t(target, vt.get_shape())))
        return out

    return program(types, body)


def test_every_cast() -> None:
    prog = casts()
    names = [f"{a}->{b}" for a in DTYPES for b in DTYPES]
    for n in (0, 1, 33):
        args = []
        for d in DTYPES:
            args.append(
                sample(d, (n,), special=False, low=-100, high=100)
                if d != "bool"
                else sample(d, (n,))
            )
            if d in FLOATS:
                args[-1] = (args[-1] * 10).astype(d)  # fractions to truncate
                args[-1] = np.clip(args[-1], -127, 127).astype(d)
            args.append(sample(d, (n,)))
        check(prog, args, names)


# ---------------------------------------------------------------------------------
# Constants and results
# ---------------------------------------------------------------------------------


@functools.cache
def constants() -> Program:
    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        (x,) = args
        table = ops(
            "constant",
            result=t("float64", (2, 3)),
            value=np.array([[1.5, -2, np.nan], [np.inf, 0, 7]]),
        )
        splat = ops("constant", result=t("float64", (2, 3)), value=np.array(2.5))
        mask = ops(
            "constant",
            result=t("bool", (4,)),
            value=np.array([True, False, False, True]),
        )
        half = ops("constant", result=t("float16", (2,)), value=np.array([0.5, -1.25]))
        empty = ops(
            "constant", result=t("int8", (0, 3)), value=np.zeros((0, 3), np.int8)
        )
        ints = ops("constant", result=t("int32", (3,)), value=np.array([1, -2, 3]))
        summed = ops("add", table, splat)
        n = ops("dim", x, axis=0, result=t("int64", ()))
        b = ops(
            "broadcast",
            ops("constant", result=t("float64", ()), value=np.array(-1.0)),
            n,
            result=t("float64", (None,)),
        )
        return [
            table,
            splat,
            mask,
            half,
            empty,
            ints,
            summed,
            ops("mul", x, b),
            x,
            x,
            n,
        ]

    return program([t("float64", (None,))], body)


def test_constants_and_returned_values() -> None:
    prog = constants()
    for n in (0, 1, 4):
        x = sample("float64", (n,))
        got = check(prog, [x])
        np.testing.assert_array_equal(got[-3], x)
        # an argument returned twice comes back as two fresh buffers
        assert got[-3].ctypes.data != got[-2].ctypes.data != x.ctypes.data


@functools.cache
def splats_and_static_shapes() -> Program:
    """Splat values flowing through every kind of consumer, scalar arithmetic on
    dims, and static shapes (constant-folded slice bounds, static matmul)."""
    types = [
        t("float64", (3, 4)),
        t("float64", (4,)),
        t("int64", (None,)),
        t("float32", ()),
    ]

    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        a, v, r, s = args
        two = ops("constant", result=t("float64", ()), value=np.array(2.0))
        twos = ops("broadcast", two, result=t("float64", (4, 3)))
        n = ops("dim", r, axis=0, result=t("int64", ()))
        one = ops("constant", result=t("int64", ()), value=np.array(1))
        n1 = ops("sub", n, one)  # scalar arithmetic on a dim: computed once
        seven = ops("constant", result=t("int32", (2, 3)), value=np.array(7))
        return [
            ops("matmul", a, twos, result=t("float64", (3, 3))),  # splat operand
            ops("matmul", a, v, result=t("float64", (3,))),
            ops("matmul", v, v, result=t("float64", ())),
            ops("transpose", twos, perm=(1, 0), result=t("float64", (3, 4))),
            ops("reshape", seven, result=t("int32", (3, 2))),
            ops(
                "slice",
                a,
                starts=(1, -1),
                stops=(BIG, -BIG),
                steps=(1, -2),
                result=t("float64", (2, 2)),
            ),
            ops(
                "slice",
                r,
                n1,
                starts=(tc.DYNAMIC,),
                stops=(BIG,),
                steps=(1,),
                result=t("int64", (None,)),
            ),
            ops("sum", twos, axes=(0,), result=t("float64", (3,))),
            ops("argmax", seven, axes=(0, 1), result=t("int64", ())),
            ops("gather", seven, r, result=t("int32", (None, 3))),
            ops("concatenate", seven, seven, axis=0, result=t("int32", (4, 3))),
            ops("add", s, s),
            n1,
            two,
            seven,
            ops("broadcast", s, n1, result=t("float32", (None, 2))),
            ops("arange", one, n, one, result=t("int64", (None,))),
        ]

    return program(types, body)


def test_splats_and_static_shapes() -> None:
    prog = splats_and_static_shapes()
    a, v = sample("float64", (3, 4)), sample("float64", (4,))
    for r in ([0, 1], [1], [-2, 1, 0, -1]):
        check(prog, [a, v, np.array(r, np.int64), scalar(1.5, "float32")])
    check_error(
        prog,
        [a, v, np.array([], np.int64), scalar(1.5, "float32")],
        "tc.broadcast",
        19,
        "negative",
    )


# ---------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------

AXES = [(), (0,), (1,), (2,), (0, 2), (1, 2), (0, 1, 2)]


def reduced(dtype: str, axes: tuple[int, ...], keep: bool, name: str) -> TensorType:
    dt = "int64" if name.startswith("arg") else dtype
    shape = (
        [1 if a in axes else None for a in range(3)]
        if keep
        else [None for a in range(3) if a not in axes]
    )
    return t(dt, shape)


@functools.cache
def reductions(names: tuple[str, ...], dtypes: tuple[str, ...]) -> Program:
    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        out = []
        for x, dtype in zip(args, dtypes):
            for name in names:
                for i, axes in enumerate(AXES):
                    keep = i % 2 == 1
                    out.append(
                        ops(
                            name,
                            x,
                            axes=axes,
                            keepdims=keep,
                            result=reduced(dtype, axes, keep, name),
                        )
                    )
        return out

    return program([t(d, (None, None, None)) for d in dtypes], body)


REDUCTION_DTYPES = ("float64", "float32", "float16", "int32", "int8", "bool")


def _labels(names: Sequence[str], dtypes: Sequence[str]) -> list[str]:
    return [f"{d}.{n}{a}" for d in dtypes for n in names for a in AXES]


def test_sum_and_prod_with_empty_dims() -> None:
    prog = reductions(("sum", "prod"), REDUCTION_DTYPES)
    labels = _labels(("sum", "prod"), REDUCTION_DTYPES)
    for shape in [(2, 3, 4), (0, 3, 2), (2, 0, 3), (1, 1, 1), (3, 1, 0)]:
        args = [
            sample(d, shape, special=False, low=-3, high=4) for d in REDUCTION_DTYPES
        ]
        args[0] = args[0].astype(np.float64)
        check(prog, args, labels, rtol=None)


EXTREMA = ("max", "min", "argmax", "argmin")
EXTREMA_DTYPES = ("float64", "float16", "int8", "bool")


def test_extrema_propagate_nan() -> None:
    prog = reductions(EXTREMA, EXTREMA_DTYPES)
    labels = _labels(EXTREMA, EXTREMA_DTYPES)
    for shape in [(2, 3, 4), (1, 1, 1), (3, 1, 5), (2, 5, 1)]:
        check(prog, [sample(d, shape) for d in EXTREMA_DTYPES], labels)
    # all-NaN and all -inf rows: the first NaN / the first element win
    x = np.array([[[np.nan, 1.0, np.nan]], [[-np.inf, -np.inf, -np.inf]]])
    args = [x] + [sample(d, x.shape) for d in EXTREMA_DTYPES[1:]]
    check(prog, args, labels)


@functools.cache
def max_of_rows() -> Program:
    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        (x,) = args
        return [
            ops("max", x, axes=(1,), result=t("float32", (None,))),
            ops("argmin", x, axes=(0, 1), result=t("int64", ())),
        ]

    return program([t("float32", (None, None))], body)


def test_empty_max_is_an_error_unless_the_result_is_empty() -> None:
    prog = max_of_rows()
    check_error(prog, [np.zeros((3, 0), np.float32)], "tc.max", 1, "empty")
    check_error(prog, [np.zeros((0, 3), np.float32)], "tc.argmin", 2, "empty")
    check_error(prog, [np.zeros((0, 0), np.float32)], "tc.argmin", 2, "empty")
    check(prog, [np.ones((2, 3), np.float32)])


# ---------------------------------------------------------------------------------
# Matmul
# ---------------------------------------------------------------------------------

MATMUL_DTYPES = ("float64", "float32", "float16", "int32", "int8", "bool")


@functools.cache
def matmuls() -> Program:
    types = []
    for d in MATMUL_DTYPES:
        types += [t(d, (None, None)), t(d, (None, None)), t(d, (None,)), t(d, (None,))]

    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        out = []
        for index, d in enumerate(MATMUL_DTYPES):
            a, b, u, v = args[
                4 * index : 4 * index + 4
            ]  # a: m x k, b: k x n, u: k, v: m
            out += [
                ops("matmul", a, b, result=t(d, (None, None))),
                ops("matmul", a, u, result=t(d, (None,))),
                ops("matmul", v, a, result=t(d, (None,))),
                ops("matmul", u, u, result=t(d, ())),
            ]
        return out

    return program(types, body)


def test_matmul_all_forms() -> None:
    prog = matmuls()
    labels = [f"{d}.{form}" for d in MATMUL_DTYPES for form in ("mm", "mv", "vm", "vv")]
    for m, k, n in [(3, 4, 5), (1, 1, 1), (0, 4, 5), (3, 0, 5), (3, 4, 0), (2, 7, 1)]:
        args = []
        for d in MATMUL_DTYPES:
            args += [
                sample(d, (m, k), special=False, low=-5, high=5),
                sample(d, (k, n), special=False, low=-5, high=5),
                sample(d, (k,), special=False, low=-5, high=5),
                sample(d, (m,), special=False, low=-5, high=5),
            ]
        got = check(prog, args, labels, rtol=None)
        np.testing.assert_allclose(got[0], args[0] @ args[1], rtol=1e-12)


def test_matmul_inner_dim_mismatch() -> None:
    prog = matmuls()
    args = []
    for d in MATMUL_DTYPES:
        args += [sample(d, (2, 3)), sample(d, (4, 2)), sample(d, (3,)), sample(d, (2,))]
    check_error(prog, args, "tc.matmul", 1, "lhs dim 1 differs from rhs dim 0")


def test_float_matmul_nan_and_inf() -> None:
    prog = matmuls()
    args = []
    for d in MATMUL_DTYPES:
        special = d in FLOATS
        args += [
            sample(d, (3, 4), special),
            sample(d, (4, 2), special),
            sample(d, (4,), special),
            sample(d, (3,), special),
        ]
    check(prog, args)


# ---------------------------------------------------------------------------------
# Data movement
# ---------------------------------------------------------------------------------


@functools.cache
def movement() -> Program:
    """broadcast, transpose, reshape and dim on a dynamic input."""
    types = [
        t("float64", (None, None, None)),
        t("int32", (None, 1)),
        t("int64", ()),
        t("int64", ()),
        t("bool", (None,)),
    ]

    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        x, col, n, m, flags = args
        d = [
            ops("dim", x, axis=a, result=t("int64", ())) for a in range(3)
        ]  # lines 1-3
        return [
            ops("transpose", x, perm=(2, 0, 1), result=t("float64", (None,) * 3)),
            ops("transpose", x, perm=(1, 0, 2), result=t("float64", (None,) * 3)),
            ops("broadcast", col, d[0], n, result=t("int32", (None, None))),  # line 6
            ops("broadcast", col, m, d[0], n, result=t("int32", (None, None, None))),
            ops("broadcast", flags, m, d[2], result=t("bool", (None, None))),  # line 8
            ops("reshape", x, n, m, result=t("float64", (None, None))),  # line 9
            ops("reshape", x, n, m, result=t("float64", (None, 1, None))),
            *d,
        ]

    return program(types, body)


def test_broadcast_transpose_reshape_dim() -> None:
    prog = movement()
    for shape in [(2, 3, 4), (1, 1, 1), (0, 2, 3), (2, 0, 5), (3, 2, 0)]:
        x = sample("float64", shape)
        size = int(np.prod(shape))
        for n, m in [(size, 1), (1, size)] if size else [(0, 5), (3, 0)]:
            col, flags = sample("int32", (shape[0], 1)), sample("bool", (shape[2],))
            got = check(prog, [x, col, scalar(n), scalar(m), flags])
            np.testing.assert_array_equal(got[0], np.transpose(x, (2, 0, 1)))
            np.testing.assert_array_equal(got[2], np.broadcast_to(col, (shape[0], n)))


def test_broadcast_dynamic_dim_must_equal_target() -> None:
    prog = movement()
    x, col = sample("float64", (2, 3, 4)), sample("int32", (2, 1))
    # flags has 1 element but is dynamic: it does not stretch to 4 (Theano rule)
    check_error(
        prog,
        [x, col, scalar(24), scalar(1), sample("bool", (1,))],
        "tc.broadcast",
        8,
        "input dim 0 is not 1 and differs from target dim 1",
    )
    check_error(
        prog,
        [x, sample("int32", (3, 1)), scalar(24), scalar(1), sample("bool", (4,))],
        "tc.broadcast",
        6,
        "input dim 0 is not 1 and differs from target dim 0",
    )


def test_reshape_errors() -> None:
    prog = movement()
    x = sample("float64", (2, 3, 4))
    col, flags = sample("int32", (2, 1)), sample("bool", (4,))
    check_error(
        prog,
        [x, col, scalar(5), scalar(5), flags],
        "tc.reshape",
        9,
        "element counts differ",
    )
    check_error(
        prog, [x, col, scalar(-24), scalar(-1), flags], "tc.broadcast", 6, "negative"
    )


SLICES: list[tuple[int | None, int | None, int]] = [
    (None, None, 1),
    (None, None, -1),
    (1, -1, 2),
    (-100, 100, 3),
    (5, 1, -2),
    (-1, None, -3),
    (2, 2, 1),
    (None, -2, 1),
    (100, -100, -1),
    (3, None, 1),
]
BIG = 2**62


def encode(value: int | None, start: bool, step: int) -> int:
    """Python's None as the huge bound that clamps to the same place."""
    if value is not None:
        return value
    return -BIG if (start == (step > 0)) else BIG


@functools.cache
def slices() -> Program:
    """Every SLICES entry on dim 0 (static bounds) and dim 1 (dynamic bounds)."""
    types = [t("float32", (None, None)), t("int64", ()), t("int64", ())]

    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        x, lo, hi = args
        out = []
        for start, stop, step in SLICES:
            out.append(
                ops(
                    "slice",
                    x,
                    lo,
                    hi,
                    starts=(encode(start, True, step), tc.DYNAMIC),
                    stops=(encode(stop, False, step), tc.DYNAMIC),
                    steps=(step, -step),
                    result=t("float32", (None, None)),
                )
            )
        return out

    return program(types, body)


def test_slices_match_python_slicing() -> None:
    prog = slices()
    for shape in [(0, 0), (1, 1), (6, 5), (11, 3)]:
        x = sample("float32", shape)
        for lo, hi in [(0, 5), (-1, -BIG), (BIG, 1), (-3, 2), (2, -BIG)]:
            got = check(prog, [x, scalar(lo), scalar(hi)])
            for (start, stop, step), result in zip(SLICES, got):
                want = x[start:stop:step, lo:hi:-step]
                np.testing.assert_array_equal(result, want)


@functools.cache
def gathers() -> Program:
    types = [
        t("float64", (None, None)),
        t("int64", (None,)),
        t("int32", (None,)),
        t("int16", (None, None)),
    ]

    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        x, rows, cols, grid = args
        return [
            ops("gather", x, rows, result=t("float64", (None, None))),
            ops("gather", x, cols, result=t("float64", (None, None))),
            ops(
                "gather",
                x,
                rows,
                ops("cast", cols, result=t("int64", (None,))),
                result=t("float64", (None,)),
            ),
            ops("gather", x, grid, result=t("float64", (None, None, None))),
        ]

    return program(types, body)


def test_gather_with_negative_indices() -> None:
    prog = gathers()
    x = sample("float64", (3, 4))
    rows = np.array([0, -1, 2, -3, 1], np.int64)
    cols = np.array([2, -3, 0, 1, -1], np.int32)
    grid = np.array([[0, -1], [2, 2]], np.int16)
    got = check(prog, [x, rows, cols, grid])
    np.testing.assert_array_equal(got[2], x[rows, cols])
    check(prog, [x, rows[:0], cols[:0], grid[:0]])


def test_gather_errors() -> None:
    prog = gathers()
    x = sample("float64", (3, 4))
    grid = np.zeros((1, 1), np.int16)
    ok_rows, ok_cols = np.array([0, 1], np.int64), np.array([0, 1], np.int32)
    check_error(
        prog,
        [x, np.array([0, 3], np.int64), ok_cols, grid],
        "tc.gather",
        1,
        "index #0 out of range",
    )
    check_error(
        prog,
        [x, np.array([-4], np.int64), ok_cols[:1], grid],
        "tc.gather",
        1,
        "index #0 out of range",
    )
    # rows fits dim 0, but not dim 1 of x: only caught by the third gather
    check_error(
        prog,
        [x, ok_rows, np.array([0, 4], np.int32), grid],
        "tc.gather",
        2,
        "index #0 out of range",
    )
    check_error(
        prog,
        [x, ok_rows, ok_cols[:1], grid],
        "tc.gather",
        4,
        "index #0 dim 0 differs from index #1 dim 0",
    )


@functools.cache
def gradient_ops() -> Program:
    """insert_slice (slice gradients) and scatter_add (gather gradients)."""
    types = [
        t("float32", (None, None)),
        t("float32", (None, None)),
        t("int64", ()),
        t("float64", (None, 3)),
        t("float64", (None, 3)),
        t("int32", (None,)),
        t("bool", (None,)),
        t("bool", (None,)),
        t("int64", (None,)),
    ]

    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        source, dest, lo, updates, base, rows, flags, mask, at = args
        return [
            ops(
                "insert_slice",
                source,
                dest,
                lo,
                result=dest.type,
                starts=(tc.DYNAMIC, BIG),
                stops=(BIG, -BIG),
                steps=(2, -1),
            ),  # line 1
            ops("scatter_add", updates, base, rows, result=base.type),  # line 2
            ops("scatter_add", flags, mask, at, result=mask.type),
        ]

    return program(types, body)


def test_insert_slice_and_scatter_add() -> None:
    prog = gradient_ops()
    for rows, cols, lo in [(5, 3, 1), (4, 2, -3), (0, 3, 0), (3, 0, 7)]:
        dest = sample("float32", (rows, cols))
        source = sample("float32", (len(range(rows)[lo::2]), cols))
        base, index = sample("float64", (4, 3)), np.array([0, -1, 3, 0, 0], np.int32)
        got = check(
            prog,
            [
                source,
                dest,
                scalar(lo),
                sample("float64", (5, 3)),
                base,
                index,
                sample("bool", (3,)),
                sample("bool", (6,)),
                np.array([1, 1, -6], np.int64),
            ],
        )
        want = dest.copy()
        want[lo::2, ::-1] = source
        np.testing.assert_array_equal(got[0], want)


def test_insert_slice_and_scatter_add_errors() -> None:
    prog = gradient_ops()
    good = [
        sample("float32", (2, 3)),
        sample("float32", (4, 3)),
        scalar(0),
        sample("float64", (2, 3)),
        sample("float64", (4, 3)),
        np.array([0, 1], np.int32),
        sample("bool", (1,)),
        sample("bool", (2,)),
        np.array([1], np.int64),
    ]
    wrong_source = list(good)
    wrong_source[0] = sample("float32", (3, 3))
    check_error(prog, wrong_source, "tc.insert_slice", 1, "source dim 0 differs")
    out_of_range = list(good)
    out_of_range[5] = np.array([0, 4], np.int32)
    check_error(prog, out_of_range, "tc.scatter_add", 2, "index #0 out of range")
    wrong_updates = list(good)
    wrong_updates[3] = sample("float64", (3, 3))
    check_error(prog, wrong_updates, "tc.scatter_add", 2, "updates dim 0 differs")


@functools.cache
def concatenations() -> Program:
    types = [t("int16", (None, None)), t("int16", (None, 3)), t("int16", (2, None))]

    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        a, b, c = args
        return [
            ops("concatenate", a, b, a, axis=0, result=t("int16", (None, 3))),
            ops("concatenate", a, c, axis=1, result=t("int16", (2, None))),
        ]

    return program(types, body)


def test_concatenate() -> None:
    prog = concatenations()
    for rows_a, rows_b, cols_c in [(2, 4, 5), (2, 0, 0), (2, 1, 1)]:
        a = sample("int16", (rows_a, 3))
        got = check(
            prog, [a, sample("int16", (rows_b, 3)), sample("int16", (2, cols_c))]
        )
        assert got[0].shape == (2 * rows_a + rows_b, 3)
    check_error(
        prog,
        [sample("int16", (2, 4)), sample("int16", (1, 3)), sample("int16", (2, 1))],
        "tc.concatenate",
        1,
        "input #1 dim 1 differs from input #0 dim 1",
    )
    check_error(
        prog,
        [sample("int16", (3, 3)), sample("int16", (1, 3)), sample("int16", (2, 1))],
        "tc.concatenate",
        2,
        "input #1 dim 0 differs from input #0 dim 0",
    )


@functools.cache
def aranges() -> Program:
    dtypes = ("int64", "int8", "float64", "float32", "float16")

    def body(ops: Ops, args: list[SSAValue]) -> list[SSAValue]:
        return [
            ops("arange", *args[3 * i : 3 * i + 3], result=t(d, (None,)))
            for i, d in enumerate(dtypes)
        ]

    return program([t(d, ()) for d in dtypes for _ in range(3)], body)


def test_arange() -> None:
    prog = aranges()
    int_cases = [
        (0, 10, 3),
        (10, 0, -3),
        (5, 5, 1),
        (5, 0, 1),
        (-100, 100, 1),
        (3, -7, -1),
    ]
    float_cases = [
        (0, 1, 0.1),
        (1, 0, -0.25),
        (0.5, 0.5, 1),
        (-3.3, 7.1, 1.7),
        (0, 1e3, 37.5),
        (2, 1, 1),
    ]
    for (i0, i1, i2), (f0, f1, f2) in zip(int_cases, float_cases):
        args = [
            scalar(i0),
            scalar(i1),
            scalar(i2),
            scalar(i0, "int8"),
            scalar(i1, "int8"),
            scalar(i2, "int8"),
        ]
        for d in ("float64", "float32", "float16"):
            args += [scalar(f0, d), scalar(f1, d), scalar(f2, d)]
        check(prog, args, ["int64", "int8", "float64", "float32", "float16"])


def test_arange_errors() -> None:
    prog = aranges()
    ones = [
        scalar(0),
        scalar(3),
        scalar(1),
        scalar(0, "int8"),
        scalar(3, "int8"),
        scalar(1, "int8"),
    ] + [scalar(v, d) for d in ("float64", "float32", "float16") for v in (0, 3, 1)]
    zero_step = list(ones)
    zero_step[5] = scalar(0, "int8")
    check_error(prog, zero_step, "tc.arange", 2, "step must not be zero")
    not_finite = list(ones)
    not_finite[7] = scalar(np.inf, "float64")
    check_error(prog, not_finite, "tc.arange", 3, "cannot compute the length")
    not_finite[7] = scalar(np.nan, "float64")
    check_error(prog, not_finite, "tc.arange", 3, "cannot compute the length")


# ---------------------------------------------------------------------------------
# Run-time shape checks of elementwise ops
# ---------------------------------------------------------------------------------


def test_elementwise_shape_mismatch() -> None:
    prog = float_elementwise("float64")
    check_error(
        prog,
        [np.zeros((2, 3)), np.zeros((2, 4))],
        "tc.add",
        FLOAT_NAMES.index("add") + 1,
        "lhs dim 1 differs from rhs dim 1",
    )
    check_error(
        prog,
        [np.zeros((0, 3)), np.zeros((1, 3))],
        "tc.add",
        FLOAT_NAMES.index("add") + 1,
        "lhs dim 0 differs from rhs dim 0 (got 0 and 1)",
    )


def test_all_ops_are_covered() -> None:
    """Every tc op the C backend runs appears in some program of this file."""
    built = [
        float_elementwise("float64"),
        int_elementwise(),
        casts(),
        constants(),
        reductions(("sum", "prod"), REDUCTION_DTYPES),
        max_of_rows(),
        matmuls(),
        movement(),
        slices(),
        gathers(),
        gradient_ops(),
        concatenations(),
        aranges(),
        splats_and_static_shapes(),
    ]
    seen = {op.name for p in built for op in p.module.walk()}
    from tensorc.passes.bufferize import LOWERINGS

    missing = {cls.name for cls in LOWERINGS} - seen
    missing -= {"tc.argmax", "tc.argmin", "tc.max", "tc.min"}  # in reductions(...)
    missing -= {"tc.composite"}  # tests/test_fuse_elemwise.py
    missing -= {"tc.hash_uniform"}  # tests/test_random.py: C and reference bits agree
    missing -= {"tc.scan"}  # tests/test_scan.py: C against numpy and the reference
    missing -= {"tc.im2col", "tc.col2im"}  # tests/test_conv_ops.py: C vs numpy loops
    assert not missing, missing
    assert {"tc.argmax", "tc.argmin", "tc.max", "tc.min"} <= {
        op.name for op in reductions(EXTREMA, EXTREMA_DTYPES).module.walk()
    }


@pytest.mark.parametrize("axes", [(0,), (1, 2), (0, 2), (0, 1, 2)])
def test_reduction_axes_pairs_match_numpy(axes: tuple[int, int]) -> None:
    prog = reductions(("sum", "prod"), REDUCTION_DTYPES)
    x = RNG.normal(size=(3, 4, 5))
    args = [x] + [
        sample(d, x.shape, special=False, low=-2, high=3) for d in REDUCTION_DTYPES[1:]
    ]
    got = prog.kernel(args)
    index = AXES.index(axes)
    keep = index % 2 == 1
    np.testing.assert_allclose(
        got[index], x.sum(axis=axes, keepdims=keep), rtol=1e-12, atol=1e-12
    )
