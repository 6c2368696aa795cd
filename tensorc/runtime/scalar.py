"""SCALAR_NUMPY: scalar `arith`/`math` op class -> the same function on numpy arrays.

The reference interpreter runs a `tc.composite` body with it, vectorised: each
scalar op is applied to whole arrays at once. The semantics are the C emitter's
(tensorc/lowering/cpu/c_expr.py and its prelude), so the reference and the compiled
kernel agree bit for bit wherever libm and numpy do:
- values are numpy arrays of the op's MLIR type: f16/f32/f64, int8..int64 for
  i8..i64, bool for i1 and int64 for `index`;
- f16 arithmetic and math run in float32 and round once (numpy's and C's rule);
- integer arithmetic wraps; division and remainder by 0 give 0 and MIN / -1 wraps;
- shifts by the bit width or more give 0 (or the sign for arithmetic right shifts);
- signed ops see an i1 `true` as -1 (MLIR), unsigned ones as 1;
- float -> int conversions of NaN or out-of-range values give INT_MIN (x86);
- maximumf/minimumf propagate NaN and order -0 below +0;
- `erf` is libm's, evaluated in float64 and rounded.
Every function takes the op (for its types and predicates) and the operand arrays.
"""

from __future__ import annotations

import math as pymath
from collections.abc import Callable, Sequence

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
from xdsl.ir import Attribute, Block, Operation, SSAValue

from tensorc.errors import LoweringError

ScalarFunction = Callable[..., np.ndarray]
"""(op, operand arrays...) -> result array."""


def numpy_dtype(t: Attribute) -> np.dtype:
    """The numpy dtype holding values of scalar type `t`."""
    if isinstance(t, Float16Type):
        return np.dtype(np.float16)
    if isinstance(t, Float32Type):
        return np.dtype(np.float32)
    if isinstance(t, Float64Type):
        return np.dtype(np.float64)
    if isinstance(t, IndexType):
        return np.dtype(np.int64)
    if isinstance(t, IntegerType):
        width = t.width.data
        return np.dtype(np.bool_) if width == 1 else np.dtype(f"int{width}")
    raise LoweringError(f"no numpy dtype for scalar type {t}")


def _bits(t: Attribute) -> int:
    """Bit width of an integer type; i1 computes as i8 (as the C helpers do)."""
    dtype = numpy_dtype(t)
    return 8 if dtype == np.bool_ else dtype.itemsize * 8


def _signed(x: np.ndarray) -> np.ndarray:
    """Signed view: i1 true is -1."""
    return -x.astype(np.int8) if x.dtype == np.bool_ else x


def _unsigned(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.bool_:
        return x.astype(np.uint8)
    return x.view(f"uint{x.dtype.itemsize * 8}")


def _wrap(t: Attribute, x: np.ndarray) -> np.ndarray:
    """An integer result reduced modulo 2**bits of type `t` (the low bit for i1)."""
    dtype = numpy_dtype(t)
    if dtype == np.bool_:
        return (np.asarray(x).astype(np.int64) & 1).astype(np.bool_)
    return np.asarray(x).astype(dtype)


def _result(op: Operation) -> Attribute:
    return op.results[0].type


# ---------------------------------------------------------------------------------
# Floats
# ---------------------------------------------------------------------------------


def _float(fn: Callable[..., np.ndarray]) -> ScalarFunction:
    """fn on the operands in their compute type (float32 for f16), rounded back."""

    def run(op: Operation, *args: np.ndarray) -> np.ndarray:
        dtype = numpy_dtype(_result(op))
        wide = [a.astype(np.float32) if a.dtype == np.float16 else a for a in args]
        return np.asarray(fn(*wide)).astype(dtype)

    return run


def _maximumf(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    tie = np.where(np.signbit(a), b, a)
    ordered = np.where(a > b, a, np.where(b > a, b, tie))
    return np.where(np.isnan(a), a, np.where(np.isnan(b), b, ordered))


def _minimumf(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    tie = np.where(np.signbit(a), a, b)
    ordered = np.where(a < b, a, np.where(b < a, b, tie))
    return np.where(np.isnan(a), a, np.where(np.isnan(b), b, ordered))


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """C `round`: halves away from zero."""
    whole = np.trunc(x)
    return whole + np.where(np.abs(x - whole) >= 0.5, np.sign(x), 0).astype(x.dtype)


_LIBM_ERF = np.frompyfunc(pymath.erf, 1, 1)


def _erf(x: np.ndarray) -> np.ndarray:
    return np.asarray(_LIBM_ERF(x.astype(np.float64)), dtype=np.float64).astype(x.dtype)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """s + t == a + b exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a == hi + lo with 26-bit halves (Veltkamp)."""
    c = a * 134217729.0  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


def _fma(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """a * b + c rounded once: the product split exactly (Dekker), then summed with
    compensation; exact whenever the result is representable (fmod's use). Huge
    operands, where the split would overflow, fall back to a * b + c."""
    if a.dtype != np.float64:
        return (a.astype(np.float64) * b + c).astype(a.dtype)
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    s, t = _two_sum(p, c)
    fused = s + (t + e)
    safe = np.isfinite(fused) & (np.abs(a) < 1e290) & (np.abs(b) < 1e290)
    return np.where(safe, fused, p + c)


def _fpowi(op: Operation, base: np.ndarray, power: np.ndarray) -> np.ndarray:
    """Taken in float64 and rounded once."""
    dtype = numpy_dtype(_result(op))
    return np.power(base.astype(np.float64), power.astype(np.float64)).astype(dtype)


# ---------------------------------------------------------------------------------
# Integers
# ---------------------------------------------------------------------------------


def _int(fn: Callable[..., np.ndarray], signed: bool = True) -> ScalarFunction:
    """fn on the signed (or unsigned) views of the operands, wrapped to the type."""

    def run(op: Operation, *args: np.ndarray) -> np.ndarray:
        views = [_signed(a) if signed else _unsigned(a) for a in args]
        return _wrap(_result(op), fn(*views))

    return run


def _divsi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    unsafe = (b == 0) | (b == -1)
    divisor = np.where(unsafe, 1, b).astype(b.dtype)
    quotient = (a - np.fmod(a, divisor)) // divisor
    negated = (np.zeros_like(a) - a).astype(a.dtype)
    return np.where(b == 0, 0, np.where(b == -1, negated, quotient))


def _remsi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    unsafe = (b == 0) | (b == -1)
    return np.where(unsafe, 0, np.fmod(a, np.where(unsafe, 1, b).astype(b.dtype)))


def _floordivsi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    q, r = _divsi(a, b), _remsi(a, b)
    return np.where((r != 0) & ((r < 0) != (b < 0)), q - 1, q)


def _ceildivsi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    q, r = _divsi(a, b), _remsi(a, b)
    return np.where((r != 0) & ((r < 0) == (b < 0)), q + 1, q)


def _divui(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(b == 0, 0, a // np.where(b == 0, 1, b).astype(b.dtype))


def _remui(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(b == 0, 0, a % np.where(b == 0, 1, b).astype(b.dtype))


def _ceildivui(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _divui(a, b) + (_remui(a, b) != 0).astype(a.dtype)


def _shift(kind: str) -> ScalarFunction:
    """shli / shrsi / shrui: amounts are unsigned; >= the width saturates."""

    def run(op: Operation, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        bits = _bits(_result(op))
        amount = _unsigned(b).astype(np.uint64)
        over = amount >= bits
        safe = np.where(over, 0, amount).astype(np.uint64)
        if kind == "shrsi":
            x = _signed(a).astype(np.int64)
            out = np.where(over, np.where(x < 0, -1, 0), x >> safe.astype(np.int64))
        else:
            x = _unsigned(a).astype(np.uint64)
            shifted = (x << safe) if kind == "shli" else (x >> safe)
            out = np.where(over, 0, shifted).view(np.int64)
        return _wrap(_result(op), out)

    return run


def _ipowi(op: Operation, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Square-and-multiply in uint64 (wrapping); negative exponents: 1 for 1,
    +-1 for -1 by parity, else 0."""
    x, y = _signed(a).astype(np.int64), _signed(b).astype(np.int64)
    base, exponent = x.view(np.uint64).copy(), np.where(y < 0, 0, y).astype(np.uint64)
    result = np.ones(np.broadcast(base, exponent).shape, dtype=np.uint64)
    base = np.broadcast_to(base, result.shape).copy()
    exponent = np.broadcast_to(exponent, result.shape).copy()
    while np.any(exponent):
        odd = (exponent & np.uint64(1)).astype(bool)
        result = np.where(odd, result * base, result)
        base = base * base
        exponent >>= np.uint64(1)
    negative = np.where(x == 1, 1, np.where(x == -1, np.where(y & 1, -1, 1), 0))
    return _wrap(_result(op), np.where(y < 0, negative, result.view(np.int64)))


def _absi(op: Operation, a: np.ndarray) -> np.ndarray:
    x = _signed(a)
    return _wrap(
        _result(op), np.where(x < 0, (np.zeros_like(x) - x).astype(x.dtype), x)
    )


def _count(kind: str) -> ScalarFunction:
    """ctlz / cttz / ctpop, bit by bit."""

    def run(op: Operation, a: np.ndarray) -> np.ndarray:
        t = _result(op)
        bits = 1 if numpy_dtype(t) == np.bool_ else _bits(t)
        x = _unsigned(a).astype(np.uint64)
        set_bits = [
            ((x >> np.uint64(k)) & np.uint64(1)).astype(bool) for k in range(bits)
        ]
        if kind == "ctpop":
            return _wrap(t, sum(s.astype(np.int64) for s in set_bits))
        order = set_bits[::-1] if kind == "ctlz" else set_bits
        count = np.full(x.shape, bits, dtype=np.int64)
        for k in reversed(range(bits)):
            count = np.where(order[k], k, count)
        return _wrap(t, count)

    return run


# ---------------------------------------------------------------------------------
# Comparisons, select, conversions
# ---------------------------------------------------------------------------------

_CMPI: dict[int, tuple[Callable[..., np.ndarray], bool | None]] = {
    0: (np.equal, None),
    1: (np.not_equal, None),
    2: (np.less, True),
    3: (np.less_equal, True),
    4: (np.greater, True),
    5: (np.greater_equal, True),
    6: (np.less, False),
    7: (np.less_equal, False),
    8: (np.greater, False),
    9: (np.greater_equal, False),
}
"""cmpi predicate -> (comparison, signed view? None: either)."""


def _cmpi(op: Operation, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert isinstance(op, arith.CmpiOp)
    compare, signed = _CMPI[op.predicate.value.data]
    if signed is True:
        a, b = _signed(a), _signed(b)
    elif signed is False:
        a, b = _unsigned(a), _unsigned(b)
    return np.asarray(compare(a, b))


def _unordered(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.isnan(a) | np.isnan(b)


_CMPF: dict[int, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    0: lambda a, b: np.zeros(np.broadcast(a, b).shape, dtype=bool),
    1: np.equal,
    2: np.greater,
    3: np.greater_equal,
    4: np.less,
    5: np.less_equal,
    6: lambda a, b: (a < b) | (a > b),
    7: lambda a, b: ~_unordered(a, b),
    8: lambda a, b: ~((a < b) | (a > b)),
    9: lambda a, b: ~(a <= b),
    10: lambda a, b: ~(a < b),
    11: lambda a, b: ~(a >= b),
    12: lambda a, b: ~(a > b),
    13: np.not_equal,
    14: _unordered,
    15: lambda a, b: np.ones(np.broadcast(a, b).shape, dtype=bool),
}
"""cmpf predicate -> comparison: o* forms are false on NaN, u* forms true."""


def _cmpf(op: Operation, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert isinstance(op, arith.CmpfOp)
    return np.asarray(_CMPF[op.predicate.value.data](a, b))


def _select(op: Operation, c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(c, a, b).astype(numpy_dtype(_result(op)))


def _convert(view: Callable[[np.ndarray], np.ndarray] | None) -> ScalarFunction:
    """A value conversion (astype) of the operand, optionally through a view."""

    def run(op: Operation, a: np.ndarray) -> np.ndarray:
        source = a if view is None else view(a)
        dtype = numpy_dtype(_result(op))
        if dtype.kind in "iub":
            return _wrap(_result(op), source)
        return source.astype(dtype)

    return run


def _fptosi_i32(x: np.ndarray) -> np.ndarray:
    inside = (x > -(2.0**31) - 1.0) & (x < 2.0**31)
    return np.where(inside, np.trunc(np.where(inside, x, 0)), -(2**31)).astype(np.int64)


def _fptosi_i64(x: np.ndarray) -> np.ndarray:
    inside = (x >= -(2.0**63)) & (x < 2.0**63)
    return np.where(
        inside, np.where(inside, x, 0).astype(np.int64), np.iinfo(np.int64).min
    )


def _float_to_int(signed: bool) -> ScalarFunction:
    """Through float64 and the prelude's range-checked helpers (see module doc)."""

    def run(op: Operation, a: np.ndarray) -> np.ndarray:
        t = _result(op)
        x = a.astype(np.float64)
        bits = 1 if numpy_dtype(t) == np.bool_ else _bits(t)
        if bits == 64 and not signed:
            above = (x >= 2.0**63) & (x < 2.0**64)
            big = np.where(above, x, 0).astype(np.uint64).view(np.int64)
            return np.where(above, big, _fptosi_i64(x))
        if bits == 64 or not signed:
            return _wrap(t, _fptosi_i64(x))
        return _wrap(t, _fptosi_i32(x))

    return run


def _index_cast(op: Operation, a: np.ndarray) -> np.ndarray:
    return _wrap(_result(op), _signed(a).astype(np.int64))


def _bitcast(op: Operation, a: np.ndarray) -> np.ndarray:
    return np.array(a, order="C").view(numpy_dtype(_result(op)))


# ---------------------------------------------------------------------------------
# The registry and the body evaluator
# ---------------------------------------------------------------------------------

SCALAR_NUMPY: dict[type[Operation], ScalarFunction] = {
    arith.AddfOp: _float(np.add),
    arith.SubfOp: _float(np.subtract),
    arith.MulfOp: _float(np.multiply),
    arith.DivfOp: _float(np.true_divide),
    arith.NegfOp: _float(np.negative),
    arith.MaximumfOp: _float(_maximumf),
    arith.MinimumfOp: _float(_minimumf),
    arith.MaxnumfOp: _float(np.fmax),
    arith.MinnumfOp: _float(np.fmin),
    arith.AddiOp: _int(np.add),
    arith.SubiOp: _int(np.subtract),
    arith.MuliOp: _int(np.multiply),
    arith.DivSIOp: _int(_divsi),
    arith.RemSIOp: _int(_remsi),
    arith.FloorDivSIOp: _int(_floordivsi),
    arith.CeilDivSIOp: _int(_ceildivsi),
    arith.DivUIOp: _int(_divui, signed=False),
    arith.RemUIOp: _int(_remui, signed=False),
    arith.CeilDivUIOp: _int(_ceildivui, signed=False),
    arith.MaxSIOp: _int(np.maximum),
    arith.MinSIOp: _int(np.minimum),
    arith.MaxUIOp: _int(np.maximum, signed=False),
    arith.MinUIOp: _int(np.minimum, signed=False),
    arith.AndIOp: _int(np.bitwise_and, signed=False),
    arith.OrIOp: _int(np.bitwise_or, signed=False),
    arith.XOrIOp: _int(np.bitwise_xor, signed=False),
    arith.ShLIOp: _shift("shli"),
    arith.ShRSIOp: _shift("shrsi"),
    arith.ShRUIOp: _shift("shrui"),
    arith.CmpiOp: _cmpi,
    arith.CmpfOp: _cmpf,
    arith.SelectOp: _select,
    arith.ExtFOp: _convert(None),
    arith.TruncFOp: _convert(None),
    arith.ExtSIOp: _convert(_signed),
    arith.ExtUIOp: _convert(_unsigned),
    arith.TruncIOp: _convert(None),
    arith.SIToFPOp: _convert(_signed),
    arith.UIToFPOp: _convert(_unsigned),
    arith.FPToSIOp: _float_to_int(signed=True),
    arith.FPToUIOp: _float_to_int(signed=False),
    arith.IndexCastOp: _index_cast,
    arith.BitcastOp: _bitcast,
    math.ExpOp: _float(np.exp),
    math.Exp2Op: _float(np.exp2),
    math.ExpM1Op: _float(np.expm1),
    math.LogOp: _float(np.log),
    math.Log2Op: _float(np.log2),
    math.Log10Op: _float(np.log10),
    math.Log1pOp: _float(np.log1p),
    math.SqrtOp: _float(np.sqrt),
    math.RsqrtOp: _float(lambda x: 1 / np.sqrt(x)),
    math.CbrtOp: _float(np.cbrt),
    math.SinOp: _float(np.sin),
    math.CosOp: _float(np.cos),
    math.TanOp: _float(np.tan),
    math.AsinOp: _float(np.arcsin),
    math.AcosOp: _float(np.arccos),
    math.AtanOp: _float(np.arctan),
    math.Atan2Op: _float(np.arctan2),
    math.SinhOp: _float(np.sinh),
    math.CoshOp: _float(np.cosh),
    math.TanhOp: _float(np.tanh),
    math.AsinhOp: _float(np.arcsinh),
    math.AcoshOp: _float(np.arccosh),
    math.AtanhOp: _float(np.arctanh),
    math.ErfOp: _float(_erf),
    math.FloorOp: _float(np.floor),
    math.CeilOp: _float(np.ceil),
    math.RoundOp: _float(_round_half_away),
    math.RoundEvenOp: _float(np.rint),
    math.TruncOp: _float(np.trunc),
    math.AbsFOp: _float(np.abs),
    math.CopySignOp: _float(np.copysign),
    math.PowFOp: _float(np.power),
    math.FPowIOp: _fpowi,
    math.FmaOp: _float(_fma),
    math.AbsIOp: _absi,
    math.IPowIOp: _ipowi,
    math.CountLeadingZerosOp: _count("ctlz"),
    math.CountTrailingZerosOp: _count("cttz"),
    math.CtPopOp: _count("ctpop"),
}
"""Scalar arith/math op class -> numpy function with the C emitter's semantics."""


def constant_value(op: arith.ConstantOp) -> np.ndarray:
    """The 0-d array of a scalar `arith.constant`."""
    value = op.value
    dtype = numpy_dtype(op.result.type)
    if isinstance(value, FloatAttr):
        return np.asarray(value.value.data, dtype=dtype)
    if isinstance(value, IntegerAttr):
        raw = np.asarray(value.value.data, dtype=np.int64)
        return _wrap(op.result.type, raw)
    raise LoweringError(f"arith.constant: expected a scalar, got {value}")


def run_block(block: Block, args: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run a block of scalar arith/math ops on arrays (elementwise, broadcasting);
    returns the operands of its terminator."""
    env: dict[SSAValue, np.ndarray] = dict(zip(block.args, args, strict=True))
    last = block.last_op
    assert last is not None
    with np.errstate(all="ignore"):
        for op in block.ops:
            if op is last:
                break
            if isinstance(op, arith.ConstantOp):
                env[op.result] = constant_value(op)
                continue
            function = SCALAR_NUMPY.get(type(op))
            if function is None:
                raise LoweringError(f"the reference interpreter cannot run {op.name}")
            env[op.results[0]] = np.asarray(
                function(op, *(env[v] for v in op.operands))
            )
    return [env[v] for v in last.operands]
