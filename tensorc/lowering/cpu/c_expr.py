"""C_EXPR: scalar `arith`/`math` op class -> C expression builder.

A builder gets the op and the C spellings of its operands (already parenthesized
where needed) and returns one C expression; it never declares anything. Both the C
emitter and the CUDA emitter use this one table. Every operand appears exactly once
in the returned expression, so inlining operand expressions never duplicates work;
ops that need an operand twice call a helper from `c_prelude.SCALAR_HELPERS`.

Type rules (numpy semantics, checked against numpy in tests/test_c_emitter.py):
- f16 values are `_Float16`; every f16 op computes in `float` and rounds back to
  `_Float16` right away, so each op rounds like numpy's float16 loops.
- f32 uses the `f`-suffixed libm functions, f64 the plain ones.
- integers are the signless `intN_t`; `index` is `int64_t`; i1 values are `bool`.
  Wrapping ops cast back to the result type (-fwrapv makes the `int` arithmetic
  wrap); unsigned ops reinterpret through `uintN_t`. An i1 seen as signed is 0/-1
  (MLIR semantics), so signed i1 ops run through the i8 helpers on 0/-1 and keep
  the low bit.
- division and remainder by zero give 0 and `MIN / -1` wraps: never a trap.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects import arith, math
from xdsl.dialects.builtin import (
    Float16Type,
    Float32Type,
    Float64Type,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
)
from xdsl.ir import Attribute, Operation

from tensorc.errors import LoweringError

ExprBuilder = Callable[[Operation, Sequence[str]], str]
"""(op, C spellings of its operands) -> C expression of its result."""


@dataclass(frozen=True)
class CScalarType:
    """How one MLIR scalar type is spelled in C."""

    value: str
    """C type of a value of this type in an expression or a temporary."""
    storage: str
    """C element type of a memref of this type (i1 is a 0/1 byte, like numpy)."""
    suffix: str
    """Suffix of the prelude helpers for this type (`tc_divsi_i32`)."""
    bits: int
    is_float: bool
    numpy_dtype: str
    """numpy dtype name of a memref element of this type."""


_F16 = CScalarType("_Float16", "_Float16", "f16", 16, True, "float16")
_F32 = CScalarType("float", "float", "f32", 32, True, "float32")
_F64 = CScalarType("double", "double", "f64", 64, True, "float64")
_I1 = CScalarType("bool", "uint8_t", "i1", 1, False, "bool")
_I64 = CScalarType("int64_t", "int64_t", "i64", 64, False, "int64")
_INT_BY_WIDTH = {
    1: _I1,
    8: CScalarType("int8_t", "int8_t", "i8", 8, False, "int8"),
    16: CScalarType("int16_t", "int16_t", "i16", 16, False, "int16"),
    32: CScalarType("int32_t", "int32_t", "i32", 32, False, "int32"),
    64: _I64,
}


def c_scalar_type(t: Attribute) -> CScalarType:
    """The C spelling of scalar type `t`; LoweringError for anything else."""
    if isinstance(t, Float16Type):
        return _F16
    if isinstance(t, Float32Type):
        return _F32
    if isinstance(t, Float64Type):
        return _F64
    if isinstance(t, IndexType):
        return _I64
    if isinstance(t, IntegerType) and t.width.data in _INT_BY_WIDTH:
        return _INT_BY_WIDTH[t.width.data]
    raise LoweringError(f"the C emitter has no C type for {t}")


# region type-aware spelling helpers


def _result_type(op: Operation) -> CScalarType:
    return c_scalar_type(op.results[0].type)


def _operand_type(op: Operation, index: int = 0) -> CScalarType:
    return c_scalar_type(op.operands[index].type)


def _promote(t: CScalarType, x: str) -> str:
    """An f16 operand as the float it is computed in."""
    return f"(float){x}" if t is _F16 else x


def _round(t: CScalarType, expr: str) -> str:
    """An f16 result rounded back from float right away (numpy's per-op rounding)."""
    return f"(_Float16)({expr})" if t is _F16 else expr


def _libm(name: str, t: CScalarType) -> str:
    """`exp` -> `expf` when computing in float (f16, f32)."""
    return name if t is _F64 else name + "f"


def _wrap(t: CScalarType, expr: str) -> str:
    """An integer result reduced modulo 2**bits of its type."""
    if t.bits == 1:
        return f"(bool)(({expr}) & 1)"
    return f"({t.value})({expr})"


def _signed(t: CScalarType, x: str) -> str:
    """An integer operand read as signed: i1 true is -1."""
    return f"(int8_t)-{x}" if t.bits == 1 else x


def _unsigned(t: CScalarType, x: str) -> str:
    return f"(uint{max(t.bits, 8)}_t){x}"


def _bare(x: str) -> str:
    """An operand without its outer parentheses, for a call argument slot."""
    if not (x.startswith("(") and x.endswith(")")):
        return x
    depth = 0
    for position, char in enumerate(x):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return x[1:-1] if position == len(x) - 1 else x
    return x


def _call(function: str, args: Sequence[str]) -> str:
    return f"{function}({', '.join(_bare(a) for a in args)})"


def _helper_suffix(t: CScalarType) -> str:
    return "i8" if t.bits == 1 else t.suffix


# endregion
# region builder factories


def _float_infix(template: str) -> ExprBuilder:
    """Float arithmetic like '{0} + {1}' in the compute type."""

    def build(op: Operation, args: Sequence[str]) -> str:
        t = _result_type(op)
        return _round(t, template.format(*(_promote(t, a) for a in args)))

    return build


def _float_call(name: str) -> ExprBuilder:
    """A libm function of the operands, e.g. exp -> exp / expf."""

    def build(op: Operation, args: Sequence[str]) -> str:
        t = _result_type(op)
        return _round(t, _call(_libm(name, t), args))

    return build


def _float_helper(name: str) -> ExprBuilder:
    """A prelude helper `tc_<name>_f32/_f64`; f16 uses the f32 one."""

    def build(op: Operation, args: Sequence[str]) -> str:
        t = _result_type(op)
        suffix = "f64" if t is _F64 else "f32"
        return _round(t, _call(f"tc_{name}_{suffix}", args))

    return build


def _rsqrt(op: Operation, args: Sequence[str]) -> str:
    t = _result_type(op)
    one = "1.0" if t is _F64 else "1.0f"
    return _round(t, f"{one} / {_call(_libm('sqrt', t), args)}")


def _fpowi(op: Operation, args: Sequence[str]) -> str:
    # f16/f32 powers are taken in double and rounded once; an i32 exponent
    # converts to double exactly (a float could lose its parity).
    t = _result_type(op)
    base, power = args
    expr = f"pow((double){base}, (double){power})"
    return expr if t is _F64 else f"({t.value}){expr}"


def _int_infix(template: str) -> ExprBuilder:
    """Integer arithmetic that wraps modulo 2**bits, like '{0} + {1}'."""

    def build(op: Operation, args: Sequence[str]) -> str:
        t = _result_type(op)
        expr = template.format(*args)
        return expr if t.bits in (32, 64) else _wrap(t, expr)

    return build


def _bitwise(template: str) -> ExprBuilder:
    """and/or/xor: the result stays in range, no wrap needed."""

    def build(op: Operation, args: Sequence[str]) -> str:
        return template.format(*args)

    return build


def _int_helper(name: str, signed: bool) -> ExprBuilder:
    """A prelude helper `tc_<name>_iN` on signed or unsigned operands."""

    def build(op: Operation, args: Sequence[str]) -> str:
        t = _result_type(op)
        views = [_signed(t, a) for a in args] if signed else list(args)
        call = _call(f"tc_{name}_{_helper_suffix(t)}", views)
        return _wrap(t, call) if t.bits == 1 else call

    return build


_I1_COUNTS = {"ctlz": "!{0}", "cttz": "!{0}", "ctpop": "{0}"}


def _count(name: str) -> ExprBuilder:
    """ctlz/cttz/ctpop; an i1 has a single bit, so these are tiny there."""
    helper = _int_helper(name, signed=False)

    def build(op: Operation, args: Sequence[str]) -> str:
        if _result_type(op).bits == 1:
            return _I1_COUNTS[name].format(*args)
        return helper(op, args)

    return build


# endregion
# region constants


def _constant(op: Operation, args: Sequence[str]) -> str:
    assert isinstance(op, arith.ConstantOp)
    t = _result_type(op)
    value = op.value
    if isinstance(value, FloatAttr):
        return float_literal(t, value.value.data)
    if isinstance(value, IntegerAttr):
        return int_literal(t, value.value.data)
    raise LoweringError(f"arith.constant: the C emitter needs a scalar, got {value}")


def float_literal(t: CScalarType, value: float) -> str:
    """An exact C literal of `value` rounded to float type `t`.

    Python's repr is the shortest decimal that reads back as the same double and C
    compilers round decimal literals correctly; numpy's float32 str does the same
    for float. An f16 value is an exact float, cast to `_Float16` afterwards.
    """
    typed = np.dtype(t.numpy_dtype).type(value)
    if np.isnan(typed):
        text = "NAN"
    elif np.isinf(typed):
        text = "INFINITY" if typed > 0 else "-INFINITY"
    elif t is _F64:
        text = repr(float(typed))
    else:
        text = str(np.float32(typed))  # numpy's shortest float32 round-trip
        text += ("" if "." in text or "e" in text else ".0") + "f"
    if t is _F64 and text[-1].isalpha():
        return f"(double){text}"
    return f"(_Float16){text}" if t is _F16 else text


def int_literal(t: CScalarType, value: int) -> str:
    """A C literal of `value` wrapped into integer type `t`."""
    if t.bits == 1:
        return "true" if value & 1 else "false"
    value &= (1 << t.bits) - 1
    if value >= 1 << (t.bits - 1):
        value -= 1 << t.bits
    if t.bits == 64 and value == -(1 << 63):
        return "INT64_MIN"
    if t.bits == 64 and not -(1 << 31) <= value < 1 << 31:
        return f"INT64_C({value})"
    return str(value)


# endregion
# region comparisons and select

_CMPI: dict[int, tuple[str, bool | None]] = {
    0: ("==", None),
    1: ("!=", None),
    2: ("<", True),
    3: ("<=", True),
    4: (">", True),
    5: (">=", True),
    6: ("<", False),
    7: ("<=", False),
    8: (">", False),
    9: (">=", False),
}
"""cmpi predicate -> (C operator, signed view? None: either)."""


def _cmpi(op: Operation, args: Sequence[str]) -> str:
    assert isinstance(op, arith.CmpiOp)
    c_op, signed = _CMPI[op.predicate.value.data]
    t = _operand_type(op)
    lhs, rhs = args
    if signed is True and t.bits == 1:
        lhs, rhs = _signed(t, lhs), _signed(t, rhs)
    elif signed is False:
        lhs, rhs = _unsigned(t, lhs), _unsigned(t, rhs)
    return f"{lhs} {c_op} {rhs}"


_CMPF: dict[int, str] = {
    0: "false",
    1: "{0} == {1}",
    2: "{0} > {1}",
    3: "{0} >= {1}",
    4: "{0} < {1}",
    5: "{0} <= {1}",
    6: "islessgreater({0}, {1})",
    7: "!isunordered({0}, {1})",
    8: "!islessgreater({0}, {1})",
    9: "!({0} <= {1})",
    10: "!({0} < {1})",
    11: "!({0} >= {1})",
    12: "!({0} > {1})",
    13: "{0} != {1}",
    14: "isunordered({0}, {1})",
    15: "true",
}
"""cmpf predicate -> C; the u* forms are true on NaN, the o* forms false."""


def _cmpf(op: Operation, args: Sequence[str]) -> str:
    assert isinstance(op, arith.CmpfOp)
    t = _operand_type(op)
    return _CMPF[op.predicate.value.data].format(*(_promote(t, a) for a in args))


def _select(op: Operation, args: Sequence[str]) -> str:
    _result_type(op)  # scalars only: raises LoweringError for e.g. memrefs
    condition, if_true, if_false = args
    return f"{condition} ? {if_true} : {if_false}"


# endregion
# region conversions


def _convert(op: Operation, args: Sequence[str]) -> str:
    """extf/truncf/sitofp and int<->int casts whose C conversion is exact."""
    t = _result_type(op)
    return f"({t.value}){args[0]}"


def _truncate_int(op: Operation, args: Sequence[str]) -> str:
    """trunci / narrowing index_cast: keep the low bits."""
    return _wrap(_result_type(op), args[0])


def _extend_signed(op: Operation, args: Sequence[str]) -> str:
    """extsi / widening index_cast: sign-extend (an i1 true becomes -1)."""
    source = _operand_type(op)
    return f"({_result_type(op).value}){_signed(source, args[0])}"


def _extend_unsigned(op: Operation, args: Sequence[str]) -> str:
    source = _operand_type(op)
    return f"({_result_type(op).value}){_unsigned(source, args[0])}"


def _index_cast(op: Operation, args: Sequence[str]) -> str:
    source, target = _operand_type(op), _result_type(op)
    if target.bits < source.bits:
        return _truncate_int(op, args)
    return _extend_signed(op, args)


def _int_to_float(signed: bool) -> ExprBuilder:
    def build(op: Operation, args: Sequence[str]) -> str:
        source = _operand_type(op)
        view = _signed(source, args[0]) if signed else _unsigned(source, args[0])
        return f"({_result_type(op).value}){view}"

    return build


def _float_to_int(signed: bool) -> ExprBuilder:
    """fptosi/fptoui via range-checked prelude helpers: NaN and out-of-range
    values give INT_MIN (then truncated for i8/i16), as numpy does on x86."""

    def build(op: Operation, args: Sequence[str]) -> str:
        t = _result_type(op)
        x = f"(double){args[0]}"
        if t.bits == 64:
            return f"tc_{'fptosi' if signed else 'fptoui'}_i64({x})"
        helper = "tc_fptosi_i32" if signed and t.bits <= 32 else "tc_fptosi_i64"
        if t.bits == 32 and signed:
            return f"{helper}({x})"
        return _wrap(t, f"{helper}({x})")

    return build


def _bitcast(op: Operation, args: Sequence[str]) -> str:
    source, target = _operand_type(op), _result_type(op)
    if source.bits != target.bits:
        raise LoweringError(f"arith.bitcast between widths: {op}")
    if source.is_float == target.is_float:
        return args[0]
    return _call(f"tc_bitcast_{source.suffix}_{target.suffix}", args)


# endregion

C_EXPR: dict[type[Operation], ExprBuilder] = {
    arith.ConstantOp: _constant,
    # float arithmetic
    arith.AddfOp: _float_infix("{0} + {1}"),
    arith.SubfOp: _float_infix("{0} - {1}"),
    arith.MulfOp: _float_infix("{0} * {1}"),
    arith.DivfOp: _float_infix("{0} / {1}"),
    arith.NegfOp: _float_infix("-{0}"),
    arith.MaximumfOp: _float_helper("maximumf"),
    arith.MinimumfOp: _float_helper("minimumf"),
    arith.MaxnumfOp: _float_call("fmax"),
    arith.MinnumfOp: _float_call("fmin"),
    # integer arithmetic
    arith.AddiOp: _int_infix("{0} + {1}"),
    arith.SubiOp: _int_infix("{0} - {1}"),
    arith.MuliOp: _int_infix("{0} * {1}"),
    arith.DivSIOp: _int_helper("divsi", signed=True),
    arith.DivUIOp: _int_helper("divui", signed=False),
    arith.RemSIOp: _int_helper("remsi", signed=True),
    arith.RemUIOp: _int_helper("remui", signed=False),
    arith.FloorDivSIOp: _int_helper("floordivsi", signed=True),
    arith.CeilDivSIOp: _int_helper("ceildivsi", signed=True),
    arith.CeilDivUIOp: _int_helper("ceildivui", signed=False),
    arith.MaxSIOp: _int_helper("maxsi", signed=True),
    arith.MinSIOp: _int_helper("minsi", signed=True),
    arith.MaxUIOp: _int_helper("maxui", signed=False),
    arith.MinUIOp: _int_helper("minui", signed=False),
    arith.AndIOp: _bitwise("{0} & {1}"),
    arith.OrIOp: _bitwise("{0} | {1}"),
    arith.XOrIOp: _bitwise("{0} ^ {1}"),
    arith.ShLIOp: _int_helper("shli", signed=False),
    arith.ShRSIOp: _int_helper("shrsi", signed=True),
    arith.ShRUIOp: _int_helper("shrui", signed=False),
    # comparisons and select
    arith.CmpiOp: _cmpi,
    arith.CmpfOp: _cmpf,
    arith.SelectOp: _select,
    # conversions
    arith.ExtFOp: _convert,
    arith.TruncFOp: _convert,
    arith.ExtSIOp: _extend_signed,
    arith.ExtUIOp: _extend_unsigned,
    arith.TruncIOp: _truncate_int,
    arith.SIToFPOp: _int_to_float(signed=True),
    arith.UIToFPOp: _int_to_float(signed=False),
    arith.FPToSIOp: _float_to_int(signed=True),
    arith.FPToUIOp: _float_to_int(signed=False),
    arith.IndexCastOp: _index_cast,
    arith.BitcastOp: _bitcast,
    # float math
    math.ExpOp: _float_call("exp"),
    math.Exp2Op: _float_call("exp2"),
    math.ExpM1Op: _float_call("expm1"),
    math.LogOp: _float_call("log"),
    math.Log2Op: _float_call("log2"),
    math.Log10Op: _float_call("log10"),
    math.Log1pOp: _float_call("log1p"),
    math.SqrtOp: _float_call("sqrt"),
    math.RsqrtOp: _rsqrt,
    math.CbrtOp: _float_call("cbrt"),
    math.SinOp: _float_call("sin"),
    math.CosOp: _float_call("cos"),
    math.TanOp: _float_call("tan"),
    math.AsinOp: _float_call("asin"),
    math.AcosOp: _float_call("acos"),
    math.AtanOp: _float_call("atan"),
    math.Atan2Op: _float_call("atan2"),
    math.SinhOp: _float_call("sinh"),
    math.CoshOp: _float_call("cosh"),
    math.TanhOp: _float_call("tanh"),
    math.AsinhOp: _float_call("asinh"),
    math.AcoshOp: _float_call("acosh"),
    math.AtanhOp: _float_call("atanh"),
    math.ErfOp: _float_call("erf"),
    math.FloorOp: _float_call("floor"),
    math.CeilOp: _float_call("ceil"),
    math.RoundOp: _float_call("round"),
    # nearbyint rounds ties to even in the default rounding mode
    math.RoundEvenOp: _float_call("nearbyint"),
    math.TruncOp: _float_call("trunc"),
    math.AbsFOp: _float_call("fabs"),
    math.CopySignOp: _float_call("copysign"),
    math.PowFOp: _float_call("pow"),
    math.FPowIOp: _fpowi,
    math.FmaOp: _float_call("fma"),
    # integer math
    math.AbsIOp: _int_helper("absi", signed=True),
    math.IPowIOp: _int_helper("ipowi", signed=True),
    math.CountLeadingZerosOp: _count("ctlz"),
    math.CountTrailingZerosOp: _count("cttz"),
    math.CtPopOp: _count("ctpop"),
}
"""Scalar op class -> C expression builder. Ops not listed are not scalar C."""


def c_expression(op: Operation, args: Sequence[str]) -> str:
    """C expression of scalar `op` given its operands' C spellings."""
    builder = C_EXPR.get(type(op))
    if builder is None:
        raise LoweringError(f"no C expression for '{op.name}'")
    return builder(op, args)
