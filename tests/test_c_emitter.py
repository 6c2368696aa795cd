"""CEmitter and the C_EXPR table: the C text (inlining, temporaries, literals,
errors) and every scalar op compiled and compared with numpy, for f16/f32/f64,
i8..i64 and i1, including NaN/Inf and integer division by zero."""

from __future__ import annotations

import io
import math as pymath
import re
from collections.abc import Callable, Sequence
from functools import singledispatchmethod

import numpy as np
import pytest
from xdsl.dialects import arith, math, scf
from xdsl.dialects.builtin import MemRefType, ModuleOp
from xdsl.ir import Operation
from xdsl.parser import Parser

from tensorc.errors import LoweringError
from tensorc.lowering.cpu.c_emitter import CEmitter, CTarget, emit_c
from tensorc.lowering.cpu.c_expr import C_EXPR
from tensorc.pipeline import make_context
from tensorc.runtime.cpu import compile_module

MLIR = {
    "float16": "f16",
    "float32": "f32",
    "float64": "f64",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "bool": "i1",
}
FLOATS = ["float16", "float32", "float64"]
INTS = ["int8", "int16", "int32", "int64"]

Op = tuple[str, str]
"""(op text with {0}, {1}, ... for the loaded inputs, result type)."""


def parse(text: str) -> ModuleOp:
    module = Parser(make_context(), text).parse_module()
    module.verify()
    return module


def elementwise_module(input_types: Sequence[str], ops: Sequence[Op]) -> str:
    """`@main` loads element i of every input and stores each op's result at i of
    its own output (all inputs have the same length)."""
    args = ", ".join(f"%in{k}: memref<?x{t}>" for k, t in enumerate(input_types))
    results = ", ".join(f"memref<?x{t}>" for _, t in ops)
    lines = [
        f"func.func @main({args}) -> ({results}) {{",
        "  %c0 = arith.constant 0 : index",
        "  %c1 = arith.constant 1 : index",
        f"  %n = memref.dim %in0, %c0 : memref<?x{input_types[0]}>",
    ]
    lines += [
        f"  %out{j} = memref.alloc(%n) : memref<?x{t}>" for j, (_, t) in enumerate(ops)
    ]
    lines.append("  scf.for %i = %c0 to %n step %c1 {")
    loaded = [f"%x{k}" for k in range(len(input_types))]
    lines += [
        f"    %x{k} = memref.load %in{k}[%i] : memref<?x{t}>"
        for k, t in enumerate(input_types)
    ]
    for j, (text, t) in enumerate(ops):
        lines.append(f"    %r{j} = {text.format(*loaded)}")
        lines.append(f"    memref.store %r{j}, %out{j}[%i] : memref<?x{t}>")
    lines.append("  }")
    names = ", ".join(f"%out{j}" for j in range(len(ops)))
    lines.append(f"  func.return {names} : {results}")
    lines.append("}")
    return "\n".join(lines)


def run_elementwise(
    input_types: Sequence[str], ops: Sequence[Op], inputs: Sequence[np.ndarray]
) -> list[np.ndarray]:
    module = parse(elementwise_module(input_types, ops))
    check_operands_used_once(module)
    return compile_module(module)([np.ascontiguousarray(x) for x in inputs])


def check_operands_used_once(module: ModuleOp) -> None:
    """Each C_EXPR builder spells each operand exactly once, so inlining an
    operand's expression never evaluates it twice."""
    for op in module.walk():
        builder = C_EXPR.get(type(op))
        if builder is None or isinstance(op, arith.ConstantOp):
            continue
        names = [f"OPERAND{k}X" for k in range(len(op.operands))]
        expr = builder(op, names)
        if expr in ("true", "false"):  # cmpf's constant predicates
            continue
        assert [expr.count(name) for name in names] == [1] * len(names), (op.name, expr)


def check(
    name: str, got: np.ndarray, want: np.ndarray, rtol: float = 0.0, atol: float = 0.0
) -> str | None:
    """None if `got` matches `want` (NaN where NaN), else a failure line."""
    want = np.asarray(want)
    if got.dtype != want.dtype:
        want = want.astype(got.dtype)
    if rtol or atol:
        wide_got, wide_want = got.astype(np.float64), want.astype(np.float64)
        ok = np.isclose(wide_got, wide_want, rtol=rtol, atol=atol, equal_nan=True)
        ok |= wide_got == wide_want  # infinities
    else:
        ok = (got == want) | (
            np.isnan(got) & np.isnan(want) if got.dtype.kind == "f" else False
        )
    if np.all(ok):
        return None
    bad = np.flatnonzero(~ok)[:4]
    return (
        f"{name}: at {bad.tolist()} got {got[bad].tolist()} want {want[bad].tolist()}"
    )


def assert_all(failures: Sequence[str | None]) -> None:
    problems = [f for f in failures if f]
    assert not problems, "\n".join(problems)


# region text of the emitted C

LOOP = """
func.func @main(%a: memref<?xf64>) -> (memref<?xf64>, memref<f64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f64
  %n = memref.dim %a, %c0 : memref<?xf64>
  %o = memref.alloc(%n) : memref<?xf64>
  %s = memref.alloc() : memref<f64>
  %total = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f64) {
    %x = memref.load %a[%i] : memref<?xf64>
    %e = math.exp %x : f64
    %y = arith.mulf %e, %x : f64
    %z = arith.addf %y, %e : f64
    memref.store %z, %o[%i] : memref<?xf64>
    %next = arith.addf %acc, %z : f64
    scf.yield %next : f64
  }
  memref.store %total, %s[] : memref<f64>
  func.return %o, %s : memref<?xf64>, memref<f64>
}
"""


def test_shared_values_are_temporaries_single_uses_inline() -> None:
    source = emit_c(parse(LOOP))
    # %e has two uses: one const temporary; %y has one: inlined into %z
    assert re.search(r"const double e_\d+ = exp\(x_\d+\);", source)
    assert re.search(r"const double z_\d+ = \(e_\d+ \* x_\d+\) \+ e_\d+;", source)
    assert not re.search(r"\by_\d", source)
    assert re.search(r"double acc_\d+ = 0\.0;", source)
    assert re.search(r"acc_\d+ = acc_\d+ \+ z_\d+;", source)
    assert (
        "int tensorc_entry_main(void *const *in_data, const int64_t *in_shapes"
        in source
    )
    assert "void tensorc_free(void *p)" in source
    assert "scipy_cblas" not in source  # BLAS only when the module calls gemm


def test_c_target_prints_the_same_source() -> None:
    module = parse(LOOP)
    output = io.StringIO()
    CTarget().emit(make_context(), module, output)
    assert output.getvalue() == emit_c(module)


@pytest.mark.parametrize(
    ("constant", "spelling"),
    [
        ("0.1 : f64", "0.1"),
        ("0.1 : f32", "0.1f"),
        ("1.0e+20 : f32", "1e+20f"),
        ("0.5 : f16", "(_Float16)0.5f"),
        ("0x7FF8000000000000 : f64", "(double)NAN"),
        ("0xFF800000 : f32", "-INFINITY"),
        ("-9223372036854775808 : i64", "INT64_MIN"),
        ("5000000000 : i64", "INT64_C(5000000000)"),
        ("-7 : i8", "-7"),
        ("true", "true"),
    ],
)
def test_constants_are_exact_literals(constant: str, spelling: str) -> None:
    t = "i1" if constant == "true" else constant.rsplit(" ", 1)[1]
    text = f"""
    func.func @main() -> memref<{t}> {{
      %v = arith.constant {constant}
      %o = memref.alloc() : memref<{t}>
      memref.store %v, %o[] : memref<{t}>
      func.return %o : memref<{t}>
    }}"""
    assert f"[0] = {spelling};" in emit_c(parse(text))


def test_every_arith_and_math_op_has_a_c_expression() -> None:
    multi_result = {arith.AddUIExtendedOp, arith.MulSIExtendedOp, arith.MulUIExtendedOp}
    ops = set(arith.Arith.operations) | set(math.Math.operations)
    missing = {op.name for op in ops - multi_result - set(C_EXPR)}
    assert not missing


# endregion
# region errors


def lowering_error(text: str) -> str:
    with pytest.raises(LoweringError) as info:
        emit_c(parse(text))
    return str(info.value)


def test_unknown_op_raises_instead_of_emitting() -> None:
    message = lowering_error("""
    func.func @main(%a: memref<2xi32>) -> memref<2xi32> {
      %c0 = arith.constant 0 : index
      %x = memref.load %a[%c0] : memref<2xi32>
      %s, %o = arith.addui_extended %x, %x : i32, i1
      %r = memref.alloc() : memref<2xi32>
      memref.store %s, %r[%c0] : memref<2xi32>
      func.return %r : memref<2xi32>
    }""")
    assert "arith.addui_extended" in message


def test_contract_violations_raise() -> None:
    returns_argument = """
    func.func @main(%a: memref<2xf32>) -> memref<2xf32> {
      func.return %a : memref<2xf32>
    }"""
    assert "memref.alloc" in lowering_error(returns_argument)
    alloc_in_loop = """
    func.func @main(%n: memref<index>) -> () {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      scf.for %i = %c0 to %c1 step %c1 {
        %t = memref.alloc() : memref<f32>
      }
      func.return
    }"""
    assert "top-level block" in lowering_error(alloc_in_loop)
    unknown_external = """
    func.func private @sgemm(memref<?x?xf32>) -> ()
    func.func @main() -> () {
      func.return
    }"""
    assert "unknown external function" in lowering_error(unknown_external)
    public_callee = """
    func.func @other() -> () {
      func.return
    }
    func.func @main() -> () {
      func.call @other() : () -> ()
      func.return
    }"""
    assert "func.call @other: not a private function" in lowering_error(public_callee)
    strided = """
    func.func @main(%a: memref<2xf32, strided<[2]>>) -> () {
      func.return
    }"""
    assert "identity layout" in lowering_error(strided)


# endregion
# region float ops vs numpy

SPECIALS = [
    np.nan,
    np.inf,
    -np.inf,
    0.0,
    -0.0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    1.0,
    -1.0,
    0.9,
    -0.9,
    3.0,
    1e-3,
    100.0,
    -100.0,
    2.0e4,
    -0.30000001,
]


def float_inputs(dtype: str, count: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = np.array(SPECIALS + list(rng.standard_normal(40) * 3), dtype=dtype)
    return [np.roll(base, 7 * k) for k in range(count)]


def _round_half_away(x: np.ndarray) -> np.ndarray:
    whole = np.trunc(x)
    return np.where(np.abs(x - whole) >= 0.5, whole + np.sign(x), whole)


UNARY_EXACT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "math.sqrt": np.sqrt,
    "math.floor": np.floor,
    "math.ceil": np.ceil,
    "math.trunc": np.trunc,
    "math.round": _round_half_away,
    "math.roundeven": np.round,
    "math.absf": np.abs,
    "arith.negf": np.negative,
}
UNARY_APPROX: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "math.exp": np.exp,
    "math.exp2": np.exp2,
    "math.expm1": np.expm1,
    "math.log": np.log,
    "math.log2": np.log2,
    "math.log10": np.log10,
    "math.log1p": np.log1p,
    "math.rsqrt": lambda x: 1 / np.sqrt(x),
    "math.cbrt": np.cbrt,
    "math.sin": np.sin,
    "math.cos": np.cos,
    "math.tan": np.tan,
    "math.asin": np.arcsin,
    "math.acos": np.arccos,
    "math.atan": np.arctan,
    "math.sinh": np.sinh,
    "math.cosh": np.cosh,
    "math.tanh": np.tanh,
    "math.asinh": np.arcsinh,
    "math.acosh": np.arccosh,
    "math.atanh": np.arctanh,
    "math.erf": np.vectorize(pymath.erf, otypes=[np.float64]),
}
BINARY_EXACT: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "arith.addf": np.add,
    "arith.subf": np.subtract,
    "arith.mulf": np.multiply,
    "arith.divf": np.divide,
    "arith.maximumf": np.maximum,
    "arith.minimumf": np.minimum,
    "arith.maxnumf": np.fmax,
    "arith.minnumf": np.fmin,
    "math.copysign": np.copysign,
}
BINARY_APPROX: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "math.powf": np.power,
    "math.atan2": np.arctan2,
}
APPROX_RTOL = {"float16": 2e-3, "float32": 4e-6, "float64": 1e-13}


def reference(
    dtype: str, function: Callable[..., np.ndarray], *args: np.ndarray
) -> np.ndarray:
    """numpy's result for `dtype`; f16 and the erf helper computed in float64 and
    rounded once where numpy has no float16 loop of its own."""
    with np.errstate(all="ignore"):
        return np.asarray(function(*args)).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_unary_ops_match_numpy(dtype: str) -> None:
    t = MLIR[dtype]
    table = {**UNARY_EXACT, **UNARY_APPROX}
    ops = [(f"{name} {{0}} : {t}", t) for name in table]
    (x,) = float_inputs(dtype, 1)
    outputs = run_elementwise([t], ops, [x])
    assert_all(
        [
            check(
                f"{name} {dtype}",
                got,
                reference(dtype, table[name], x),
                rtol=0.0 if name in UNARY_EXACT else APPROX_RTOL[dtype],
                atol=0.0 if name in UNARY_EXACT else APPROX_RTOL[dtype] * 1e-3,
            )
            for name, got in zip(table, outputs, strict=True)
        ]
    )


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_binary_ops_match_numpy(dtype: str) -> None:
    t = MLIR[dtype]
    table = {**BINARY_EXACT, **BINARY_APPROX}
    ops = [(f"{name} {{0}}, {{1}} : {t}", t) for name in table]
    ops.append((f"math.fma {{0}}, {{1}}, {{2}} : {t}", t))
    ops.append((f"math.fpowi {{0}}, {{3}} : {t}, i32", t))
    x, y, z = float_inputs(dtype)
    power = np.arange(-4, 56, dtype=np.int32)[: x.size]
    outputs = run_elementwise([t, t, t, "i32"], ops, [x, y, z, power])
    wide = [v.astype(np.float64) for v in (x, y, z)]
    want = [reference(dtype, f, x, y) for f in table.values()]
    want.append(reference(dtype, lambda: wide[0] * wide[1] + wide[2]))
    want.append(reference(dtype, lambda: np.power(wide[0], power.astype(np.float64))))
    names = [*table, "math.fma", "math.fpowi"]
    rtol = APPROX_RTOL[dtype]
    assert_all(
        [
            check(f"{name} {dtype}", got, w, rtol=0.0 if name in BINARY_EXACT else rtol)
            for name, got, w in zip(names, outputs, want, strict=True)
        ]
    )


def test_maximumf_propagates_nan_and_orders_signed_zeros() -> None:
    nan, inf = np.nan, np.inf
    x = np.array([nan, 1.0, nan, -0.0, 0.0, -inf], np.float64)
    y = np.array([1.0, nan, nan, 0.0, -0.0, inf], np.float64)
    ops = [
        ("arith.maximumf {0}, {1} : f64", "f64"),
        ("arith.minimumf {0}, {1} : f64", "f64"),
    ]
    high, low = run_elementwise(["f64", "f64"], ops, [x, y])
    np.testing.assert_array_equal(high, [nan, nan, nan, 0.0, 0.0, inf])
    np.testing.assert_array_equal(np.signbit(high[3:5]), [False, False])
    np.testing.assert_array_equal(low, [nan, nan, nan, -0.0, -0.0, -inf])
    np.testing.assert_array_equal(np.signbit(low[3:5]), [True, True])


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_comparisons_all_predicates(dtype: str) -> None:
    t = MLIR[dtype]
    x, y, _ = float_inputs(dtype)
    y[:8] = x[:8]  # equal pairs, NaN with NaN included
    unordered = np.isnan(x) | np.isnan(y)
    with np.errstate(all="ignore"):
        table = {
            "false": np.zeros_like(unordered),
            "oeq": x == y,
            "ogt": x > y,
            "oge": x >= y,
            "olt": x < y,
            "ole": x <= y,
            "one": (x < y) | (x > y),
            "ord": ~unordered,
            "ueq": (x == y) | unordered,
            "ugt": ~(x <= y),
            "uge": ~(x < y),
            "ult": ~(x >= y),
            "ule": ~(x > y),
            "une": x != y,
            "uno": unordered,
            "true": np.ones_like(unordered),
        }
    ops = [(f"arith.cmpf {p}, {{0}}, {{1}} : {t}", "i1") for p in table]
    outputs = run_elementwise([t, t], ops, [x, y])
    assert_all(
        [
            check(f"cmpf {p}", got, want)
            for (p, want), got in zip(table.items(), outputs, strict=True)
        ]
    )


# endregion
# region integer and bool ops vs numpy / exact integer references


def int_inputs(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    info = np.iinfo(dtype)
    edges = [0, 1, -1, 2, -2, 3, 7, -7, info.max, info.min, info.min + 1, info.max - 1]
    rng = np.random.default_rng(1)
    random = list(rng.integers(info.min, info.max, 24, dtype=dtype, endpoint=True))
    small = list(rng.integers(-9, 10, 24))
    x = np.array(edges + random + small, dtype=dtype)
    divisors = [0, -1, 1, 0, -1, 2, -3, 0, -1, -1, 2, 0]
    shifts = list(rng.integers(0, info.bits, 24)) + [info.bits, info.bits + 1, -1] * 8
    y = np.array(divisors + shifts, dtype=dtype)[: x.size]
    return x, y


def _wrap(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def _trunc_div(a: int, b: int) -> int:
    if b == 0:
        return 0
    quotient = abs(a) // abs(b)
    return quotient if (a < 0) == (b < 0) else -quotient


def _ipow(a: int, b: int, bits: int) -> int:
    if b < 0:
        return 1 if a == 1 else (-1 if b % 2 else 1) if a == -1 else 0
    return pow(a, b, 1 << bits)


def int_references(bits: int) -> dict[str, Callable[[int, int], int]]:
    """Exact semantics of the integer ops (matching numpy where numpy has them:
    floor division and remainder by zero give 0, arithmetic wraps)."""
    mask = (1 << bits) - 1
    return {
        "addi": lambda a, b: a + b,
        "subi": lambda a, b: a - b,
        "muli": lambda a, b: a * b,
        "divsi": _trunc_div,
        "remsi": lambda a, b: a - b * _trunc_div(a, b) if b else 0,
        "floordivsi": lambda a, b: a // b if b else 0,
        "ceildivsi": lambda a, b: -(-a // b) if b else 0,
        "divui": lambda a, b: (a & mask) // (b & mask) if b else 0,
        "remui": lambda a, b: (a & mask) % (b & mask) if b else 0,
        "ceildivui": lambda a, b: -(-(a & mask) // (b & mask)) if b else 0,
        "maxsi": max,
        "minsi": min,
        "maxui": lambda a, b: a if (a & mask) > (b & mask) else b,
        "minui": lambda a, b: a if (a & mask) < (b & mask) else b,
        "andi": lambda a, b: a & b,
        "ori": lambda a, b: a | b,
        "xori": lambda a, b: a ^ b,
        "shli": lambda a, b: a << (b & mask) if (b & mask) < bits else 0,
        "shrsi": lambda a, b: a >> min(b & mask, bits),
        "shrui": lambda a, b: (a & mask) >> (b & mask) if (b & mask) < bits else 0,
        "ipowi": lambda a, b: _ipow(a, b, bits),
    }


@pytest.mark.parametrize("dtype", INTS)
def test_integer_binary_ops_exact(dtype: str) -> None:
    t, bits = MLIR[dtype], np.iinfo(dtype).bits
    table = int_references(bits)
    ops = [
        (f"{'math' if n == 'ipowi' else 'arith'}.{n} {{0}}, {{1}} : {t}", t)
        for n in table
    ]
    x, y = int_inputs(dtype)
    outputs = run_elementwise([t, t], ops, [x, y])
    pairs = list(zip(x.tolist(), y.tolist(), strict=True))
    assert_all(
        [
            check(name, got, np.array([_wrap(f(a, b), bits) for a, b in pairs], dtype))
            for (name, f), got in zip(table.items(), outputs, strict=True)
        ]
    )


@pytest.mark.parametrize("dtype", INTS)
def test_integer_ops_agree_with_numpy(dtype: str) -> None:
    """numpy's own integer kernels give the same answers (division by zero and
    MIN // -1 included)."""
    t = MLIR[dtype]
    x, y = int_inputs(dtype)
    ops = [
        (f"arith.{n} {{0}}, {{1}} : {t}", t)
        for n in ("addi", "subi", "muli", "floordivsi", "maxsi", "minsi", "xori")
    ]
    ops.append((f"math.absi {{0}} : {t}", t))
    ops.append((f"arith.remsi {{0}}, {{1}} : {t}", t))
    with np.errstate(all="ignore"):
        want = [
            x + y,
            x - y,
            x * y,
            np.floor_divide(x, y),
            np.maximum(x, y),
            np.minimum(x, y),
            x ^ y,
            np.abs(x),
            np.fmod(x, y),
        ]
    outputs = run_elementwise([t, t], ops, [x, y])
    assert_all(
        [
            check(text, got, w)
            for (text, _), got, w in zip(ops, outputs, want, strict=True)
        ]
    )


@pytest.mark.parametrize("dtype", INTS)
def test_integer_unary_ops_and_comparisons(dtype: str) -> None:
    t, bits = MLIR[dtype], np.iinfo(dtype).bits
    x, y = int_inputs(dtype)
    unsigned = f"uint{bits}"
    ux, uy = x.view(unsigned), y.view(unsigned)
    table = {
        "math.ctlz": [bits - int(v).bit_length() for v in ux.tolist()],
        "math.cttz": [
            (int(v) & -int(v)).bit_length() - 1 if v else bits for v in ux.tolist()
        ],
        "math.ctpop": [int(v).bit_count() for v in ux.tolist()],
    }
    ops = [(f"{n} {{0}} : {t}", t) for n in table]
    compares = {
        "eq": x == y,
        "ne": x != y,
        "slt": x < y,
        "sle": x <= y,
        "sgt": x > y,
        "sge": x >= y,
        "ult": ux < uy,
        "ule": ux <= uy,
        "ugt": ux > uy,
        "uge": ux >= uy,
    }
    ops += [(f"arith.cmpi {p}, {{0}}, {{1}} : {t}", "i1") for p in compares]
    outputs = run_elementwise([t, t], ops, [x, y])
    wants = [np.array(v, dtype) for v in table.values()] + list(compares.values())
    assert_all(
        [
            check(text, got, w)
            for (text, _), got, w in zip(ops, outputs, wants, strict=True)
        ]
    )


def test_division_guarded_like_bufferize_gives_numpy_results() -> None:
    """The IR guards a zero divisor with select (numpy: x // 0 == 0, x % 0 == 0)."""
    text = """
    func.func @main(%a: memref<?xi32>, %b: memref<?xi32>)
        -> (memref<?xi32>, memref<?xi32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %zero = arith.constant 0 : i32
      %one = arith.constant 1 : i32
      %n = memref.dim %a, %c0 : memref<?xi32>
      %q = memref.alloc(%n) : memref<?xi32>
      %r = memref.alloc(%n) : memref<?xi32>
      scf.for %i = %c0 to %n step %c1 {
        %x = memref.load %a[%i] : memref<?xi32>
        %y = memref.load %b[%i] : memref<?xi32>
        %is0 = arith.cmpi eq, %y, %zero : i32
        %safe = arith.select %is0, %one, %y : i32
        %fq = arith.floordivsi %x, %safe : i32
        %rq = arith.select %is0, %zero, %fq : i32
        %t = arith.muli %fq, %safe : i32
        %m = arith.subi %x, %t : i32
        %rm = arith.select %is0, %zero, %m : i32
        memref.store %rq, %q[%i] : memref<?xi32>
        memref.store %rm, %r[%i] : memref<?xi32>
      }
      func.return %q, %r : memref<?xi32>, memref<?xi32>
    }"""
    x = np.array([7, -7, 7, -7, 5, np.iinfo(np.int32).min, 3], np.int32)
    y = np.array([2, 2, -2, 0, 0, -1, 1], np.int32)
    q, r = compile_module(parse(text))([x, y])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(q, np.floor_divide(x, y))
        np.testing.assert_array_equal(r, np.remainder(x, y))


def test_bool_ops() -> None:
    x = np.array([False, False, True, True])
    y = np.array([False, True, False, True])
    ops = [
        ("arith.andi {0}, {1} : i1", "i1"),
        ("arith.ori {0}, {1} : i1", "i1"),
        ("arith.xori {0}, {1} : i1", "i1"),
        ("arith.addi {0}, {1} : i1", "i1"),
        ("arith.muli {0}, {1} : i1", "i1"),
        ("arith.select {0}, {1}, {0} : i1", "i1"),
        ("arith.cmpi ult, {0}, {1} : i1", "i1"),
        ("arith.cmpi slt, {0}, {1} : i1", "i1"),
        ("arith.maxsi {0}, {1} : i1", "i1"),
        ("arith.extui {0} : i1 to i8", "i8"),
        ("arith.extsi {0} : i1 to i8", "i8"),
        ("arith.uitofp {0} : i1 to f32", "f32"),
        ("arith.sitofp {0} : i1 to f64", "f64"),
    ]
    outputs = run_elementwise(["i1", "i1"], ops, [x, y])
    wants = [
        x & y,
        x | y,
        x ^ y,
        x ^ y,
        x & y,
        np.where(x, y, x),
        ~x & y,
        x & ~y,  # signed i1: true is -1 < 0
        x & y,
        x.astype(np.int8),
        -x.astype(np.int8),
        x.astype(np.float32),
        -x.astype(np.float64),
    ]
    assert_all(
        [
            check(text, got, w)
            for (text, _), got, w in zip(ops, outputs, wants, strict=True)
        ]
    )
    assert all(o.dtype == np.bool_ for o in outputs[:9])


# endregion
# region conversions


def test_float_conversions_round_like_numpy() -> None:
    x64 = float_inputs("float64", 1)[0] * 3.7
    x64[-5:] = [65519.0, 65520.0, 1e-8, 3.4e38 * 2, 1.0000001]
    ops = [
        ("arith.truncf {0} : f64 to f32", "f32"),
        ("arith.truncf {0} : f64 to f16", "f16"),
        ("arith.extf {1} : f16 to f32", "f32"),
        ("arith.extf {1} : f16 to f64", "f64"),
        ("arith.truncf {2} : f32 to f16", "f16"),
    ]
    with np.errstate(all="ignore"):
        x16, x32 = x64.astype(np.float16), x64.astype(np.float32)
        outputs = run_elementwise(["f64", "f16", "f32"], ops, [x64, x16, x32])
        wants = [
            x64.astype(np.float32),
            x64.astype(np.float16),
            x16.astype(np.float32),
            x16.astype(np.float64),
            x32.astype(np.float16),
        ]
    assert_all(
        [
            check(text, got, w)
            for (text, _), got, w in zip(ops, outputs, wants, strict=True)
        ]
    )


@pytest.mark.parametrize("source", FLOATS)
def test_float_to_int_matches_numpy_casts(source: str) -> None:
    t = MLIR[source]
    x = np.array(
        [
            np.nan,
            np.inf,
            -np.inf,
            1e10,
            -1e10,
            40000.5,
            -3.7,
            3.7,
            127.9,
            -128.9,
            255.0,
            2.0e9,
            -2.2e9,
            9.3e18,
            -9.3e18,
            0.0,
        ],
        np.float64,
    )
    with np.errstate(all="ignore"):
        x = x.astype(source)
    ops = [(f"arith.fptosi {{0}} : {t} to {MLIR[d]}", MLIR[d]) for d in INTS]
    outputs = run_elementwise([t], ops, [x])
    with np.errstate(all="ignore"):
        wants = [x.astype(d) for d in INTS]
    assert_all(
        [
            check(text, got, w)
            for (text, _), got, w in zip(ops, outputs, wants, strict=True)
        ]
    )


def test_int_conversions() -> None:
    x8, x32, x64 = (int_inputs(d)[0] for d in ("int8", "int32", "int64"))
    ops = [
        ("arith.extsi {0} : i8 to i32", "i32"),
        ("arith.extui {0} : i8 to i32", "i32"),
        ("arith.trunci {1} : i32 to i8", "i8"),
        ("arith.trunci {2} : i64 to i16", "i16"),
        ("arith.index_cast {1} : i32 to index", "index"),
        ("arith.sitofp {2} : i64 to f64", "f64"),
        ("arith.sitofp {1} : i32 to f16", "f16"),
        ("arith.uitofp {0} : i8 to f32", "f32"),
        ("arith.fptoui {3} : f64 to i32", "i32"),
        ("arith.bitcast {2} : i64 to f64", "f64"),
        ("arith.bitcast {4} : f32 to i32", "i32"),
        ("arith.bitcast {5} : f16 to i16", "i16"),
        ("arith.bitcast {6} : i16 to f16", "f16"),
    ]
    positive = np.abs(x64.astype(np.float64)) % 4e9
    f32 = x32.astype(np.float32)
    with np.errstate(over="ignore"):  # the ends overflow to +-inf on purpose
        f16 = np.linspace(-70000, 70000, x8.size).astype(np.float16)
    x16 = int_inputs("int16")[0]
    outputs = run_elementwise(
        ["i8", "i32", "i64", "f64", "f32", "f16", "i16"],
        ops,
        [x8, x32, x64, positive, f32, f16, x16],
    )
    with np.errstate(all="ignore"):
        wants = [
            x8.astype(np.int32),
            x8.view(np.uint8).astype(np.int32),
            x32.astype(np.int8),
            x64.astype(np.int16),
            x32.astype(np.int64),
            x64.astype(np.float64),
            x32.astype(np.float16),
            x8.view(np.uint8).astype(np.float32),
            positive.astype(np.uint32).view(np.int32),
            x64.view(np.float64),
            f32.view(np.int32),
            f16.view(np.int16),
            x16.view(np.float16),
        ]
    assert_all(
        [
            check(text, got, w)
            for (text, _), got, w in zip(ops, outputs, wants, strict=True)
        ]
    )


def test_f16_arithmetic_rounds_after_every_op() -> None:
    """(a * b) * c in f16 rounds twice, like numpy's float16 loops (a float
    intermediate would differ)."""
    rng = np.random.default_rng(3)
    a, b, c = (rng.uniform(-300, 300, 200).astype(np.float16) for _ in range(3))
    module_text = """
    func.func @main(%a: memref<?xf16>, %b: memref<?xf16>, %c: memref<?xf16>)
        -> memref<?xf16> {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %n = memref.dim %a, %c0 : memref<?xf16>
      %o = memref.alloc(%n) : memref<?xf16>
      scf.for %i = %c0 to %n step %c1 {
        %x = memref.load %a[%i] : memref<?xf16>
        %y = memref.load %b[%i] : memref<?xf16>
        %z = memref.load %c[%i] : memref<?xf16>
        %p = arith.mulf %x, %y : f16
        %q = arith.mulf %p, %z : f16
        %s = arith.addf %q, %x : f16
        memref.store %s, %o[%i] : memref<?xf16>
      }
      func.return %o : memref<?xf16>
    }"""
    (got,) = compile_module(parse(module_text))([a, b, c])
    with np.errstate(all="ignore"):
        want = a * b * c + a
    np.testing.assert_array_equal(got, want)
    assert np.isinf(want).any()  # f16 overflow to inf is part of the check


# endregion


def test_subclasses_override_hooks_and_extend_the_dispatch() -> None:
    """How the CUDA emitter builds on CEmitter: small hooks plus its own dispatch
    that falls back to the C one."""

    class Tagged(CEmitter):
        def memref_declaration(self, t: MemRefType, name: str) -> str:
            return f"TAGGED {self.scalar_type(t.element_type).storage} *{name}"

        @singledispatchmethod
        def emit_op(self, op: Operation) -> None:
            super().emit_op(op)

        @emit_op.register
        def _(self, op: scf.ForOp) -> None:
            self.print_string("\n/* loop */")
            super().emit_op(op)

    stream = io.StringIO()
    Tagged(stream).emit_module(parse(LOOP))
    source = stream.getvalue()
    assert re.search(r"TAGGED double \*a_\d+ = \(double \*\)in_data\[0\];", source)
    assert "/* loop */\n    double acc" in source
    assert source.count("exp(") == 1  # scalar ops still reach the C_EXPR path
