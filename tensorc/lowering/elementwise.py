"""ELEMENTWISE: every elementwise tc op -> a builder of its scalar arith/math code.

A builder takes a `Builder`, the scalar operand values (builtin f16/f32/f64,
i8..i64 or i1 values, one per tc operand, in operand order) and the tc op itself
(read only for its result type), inserts upstream `arith`/`math` ops at the
builder's insertion point and returns the scalar result. Builders never create
loops, memrefs or run-time checks, so loop lowering (tc-bufferize) and fusion
(composite bodies) share them.

Semantics follow numpy (the reference interpreter):
- integer `floordiv`/`mod` by 0 give 0 and `MIN // -1` wraps to MIN; the divisor
  of the emitted `divsi`/`remsi` is guarded with selects so that it is never 0 and
  never -1 when the dividend is MIN (no trap in C);
- `floordiv`/`mod` round toward -inf and take the sign of the divisor, for floats
  with numpy's `divmod` algorithm (exact fmod, quotient snapped to an integer);
- integer `x ** y` with y < 0 is trunc(1 / x**-y) (0 unless |x| == 1), as the
  reference interpreter defines it; `ipowi` only gets exponents >= 0;
- `round` is half-to-even, `sign(nan)` is nan, maximum/minimum propagate NaN;
- `sigmoid` and `softplus` are written so that `exp` only sees `-|x|`;
- float comparisons are ordered except `ne` (nan != nan is true); i1 compares
  as unsigned (True > False);
- `cast` follows `astype`: float->int truncates, anything->bool is `x != 0`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, math
from xdsl.dialects.builtin import (
    Float16Type,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    TensorType,
    f32,
    f64,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue

from tensorc.dialects import tc

ScalarBuilder = Callable[[Builder, Sequence[SSAValue], Operation], SSAValue]


# ---------------------------------------------------------------------------------
# Small scalar helpers (also used by tc-bufferize for identities and index math)
# ---------------------------------------------------------------------------------


def emit(b: Builder, op: Operation) -> SSAValue:
    """Insert `op` and return its single result."""
    return b.insert(op).results[0]


def constant(b: Builder, value: float | int | bool, t: Attribute) -> SSAValue:
    """A scalar `arith.constant` of float, integer, i1 or index type `t`."""
    if tc.is_float(t):
        return emit(b, arith.ConstantOp(FloatAttr(float(value), t)))  # type: ignore[arg-type]
    assert isinstance(t, IntegerType | IndexType)
    if isinstance(t, IntegerType) and t.width.data == 1:
        value = int(bool(value))
    return emit(b, arith.ConstantOp(IntegerAttr(int(value), t)))


def min_int(t: IntegerType) -> int:
    return -(2 ** (t.width.data - 1))


def max_int(t: IntegerType) -> int:
    return 2 ** (t.width.data - 1) - 1


def select(b: Builder, cond: SSAValue, a: SSAValue, c: SSAValue) -> SSAValue:
    return emit(b, arith.SelectOp(cond, a, c))


def cmpf(b: Builder, pred: str, x: SSAValue, y: SSAValue) -> SSAValue:
    return emit(b, arith.CmpfOp(x, y, pred))


def cmpi(b: Builder, pred: str, x: SSAValue, y: SSAValue) -> SSAValue:
    return emit(b, arith.CmpiOp(x, y, pred))


def _element(t: Attribute) -> Attribute:
    return t.get_element_type() if isinstance(t, TensorType) else t


def _op(cls: type[Operation]) -> ScalarBuilder:
    """The upstream op `cls` applied to the operands as they are."""
    return lambda b, args, op: emit(b, cls(*args))


def _by_kind(
    on_float: ScalarBuilder, on_int: ScalarBuilder, on_bool: ScalarBuilder | None = None
) -> ScalarBuilder:
    """Dispatch on the element kind of the first operand (bools default to ints)."""

    def build(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
        t = args[0].type
        if tc.is_float(t):
            return on_float(b, args, op)
        if tc.is_bool(t) and on_bool is not None:
            return on_bool(b, args, op)
        return on_int(b, args, op)

    return build


# ---------------------------------------------------------------------------------
# Unary
# ---------------------------------------------------------------------------------


def _neg_int(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    return emit(b, arith.SubiOp(constant(b, 0, args[0].type), args[0]))


def _sign_float(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    """+1/-1 by sign, +0 for zeros, and nan stays nan (the last select)."""
    (x,) = args
    t = x.type
    zero = constant(b, 0.0, t)
    rest = select(b, cmpf(b, "oeq", x, zero), zero, x)
    rest = select(b, cmpf(b, "olt", x, zero), constant(b, -1.0, t), rest)
    return select(b, cmpf(b, "ogt", x, zero), constant(b, 1.0, t), rest)


def _sign_int(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    (x,) = args
    zero = constant(b, 0, x.type)
    rest = select(b, cmpi(b, "slt", x, zero), constant(b, -1, x.type), zero)
    return select(b, cmpi(b, "sgt", x, zero), constant(b, 1, x.type), rest)


def _not(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    """xor with all ones: logical not on i1, bitwise not on wider ints."""
    (x,) = args
    return emit(b, arith.XOrIOp(x, constant(b, -1, x.type)))


def _sigmoid(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    """e = exp(-|x|) <= 1: 1/(1+e) for x >= 0, e/(1+e) below (no overflow)."""
    (x,) = args
    t = x.type
    e = emit(b, math.ExpOp(emit(b, arith.NegfOp(emit(b, math.AbsFOp(x))))))
    denominator = emit(b, arith.AddfOp(constant(b, 1.0, t), e))
    positive = emit(b, arith.DivfOp(constant(b, 1.0, t), denominator))
    negative = emit(b, arith.DivfOp(e, denominator))
    return select(b, cmpf(b, "oge", x, constant(b, 0.0, t)), positive, negative)


def _softplus(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    """max(x, 0) + log1p(exp(-|x|)): exp never overflows, nan propagates."""
    (x,) = args
    relu = emit(b, arith.MaximumfOp(x, constant(b, 0.0, x.type)))
    e = emit(b, math.ExpOp(emit(b, arith.NegfOp(emit(b, math.AbsFOp(x))))))
    return emit(b, arith.AddfOp(relu, emit(b, math.Log1pOp(e))))


_FLOAT_UNARY: dict[str, ScalarBuilder] = {
    "exp": _op(math.ExpOp),
    "log": _op(math.LogOp),
    "log1p": _op(math.Log1pOp),
    "expm1": _op(math.ExpM1Op),
    "sqrt": _op(math.SqrtOp),
    "sin": _op(math.SinOp),
    "cos": _op(math.CosOp),
    "tan": _op(math.TanOp),
    "tanh": _op(math.TanhOp),
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "erf": _op(math.ErfOp),
    "floor": _op(math.FloorOp),
    "ceil": _op(math.CeilOp),
    "round": _op(math.RoundEvenOp),
}


# ---------------------------------------------------------------------------------
# Integer division: guarded so that the emitted divsi/remsi never traps
# ---------------------------------------------------------------------------------


def _safe_divisor(b: Builder, x: SSAValue, y: SSAValue) -> tuple[SSAValue, SSAValue]:
    """(divisor, y == 0): the divisor is 1 where y is 0 or where x is MIN and y is
    -1; x / 1 then gives MIN, which is the wrapped MIN / -1 numpy returns."""
    t = x.type
    assert isinstance(t, IntegerType)
    y_zero = cmpi(b, "eq", y, constant(b, 0, t))
    overflow = emit(
        b,
        arith.AndIOp(
            cmpi(b, "eq", x, constant(b, min_int(t), t)),
            cmpi(b, "eq", y, constant(b, -1, t)),
        ),
    )
    unsafe = emit(b, arith.OrIOp(y_zero, overflow))
    return select(b, unsafe, constant(b, 1, t), y), y_zero


def _remainder_needs_shift(b: Builder, r: SSAValue, y: SSAValue) -> SSAValue:
    """r != 0 and sign(r) != sign(y): truncated division went the wrong way."""
    zero = constant(b, 0, r.type)
    signs_differ = emit(
        b, arith.XOrIOp(cmpi(b, "slt", r, zero), cmpi(b, "slt", y, zero))
    )
    return emit(b, arith.AndIOp(cmpi(b, "ne", r, zero), signs_differ))


def _floordiv_int(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    x, y = args
    divisor, y_zero = _safe_divisor(b, x, y)
    q = emit(b, arith.DivSIOp(x, divisor))
    r = emit(b, arith.RemSIOp(x, divisor))
    shifted = emit(b, arith.SubiOp(q, constant(b, 1, x.type)))
    q = select(b, _remainder_needs_shift(b, r, y), shifted, q)
    return select(b, y_zero, constant(b, 0, x.type), q)


def _mod_int(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    """Where y == 0 the divisor is 1, so r == 0 already: numpy's x % 0 == 0."""
    x, y = args
    divisor, _ = _safe_divisor(b, x, y)
    r = emit(b, arith.RemSIOp(x, divisor))
    return select(b, _remainder_needs_shift(b, r, y), emit(b, arith.AddiOp(r, y)), r)


# ---------------------------------------------------------------------------------
# Float floordiv / mod: numpy's npy_divmod
# ---------------------------------------------------------------------------------


FMOD_STEPS = 4
"""Reduction steps of the loop-free fmod. Each removes up to 51 bits of the exponent
gap between x and y, so fmod is exact for |x / y| < 2**204 (about 1e61); numpy's
libm fmod is exact everywhere, beyond that the remainder may differ."""


def _exponent(b: Builder, v: SSAValue) -> SSAValue:
    """The biased exponent field of a float64 as i64 (0 for zero and subnormals)."""
    bits = emit(b, arith.BitcastOp(v, i64))
    shifted = emit(b, arith.ShRUIOp(bits, constant(b, 52, i64)))
    return emit(b, arith.AndIOp(shifted, constant(b, 2047, i64)))


def _power_of_two(b: Builder, k: SSAValue) -> SSAValue:
    """2.0**k as float64 for an i64 0 <= k <= 1023, built from its bits (exact)."""
    biased = emit(b, arith.AddiOp(k, constant(b, 1023, i64)))
    return emit(
        b, arith.BitcastOp(emit(b, arith.ShLIOp(biased, constant(b, 52, i64))), f64)
    )


def _fmod_step(b: Builder, r: SSAValue, ay: SSAValue, ey: SSAValue) -> SSAValue:
    """r mod (ay * 2**k) for r >= 0, k >= 0 chosen so that the quotient is below
    2**52: then r - q * big is the exact remainder, and a multiple of ay was
    removed. A quotient rounded up to the next integer leaves r < 0: add big back."""
    gap = emit(
        b,
        arith.SubiOp(emit(b, arith.SubiOp(_exponent(b, r), ey)), constant(b, 51, i64)),
    )
    k = emit(b, arith.MaxSIOp(gap, constant(b, 0, i64)))
    half = emit(b, arith.ShRUIOp(k, constant(b, 1, i64)))
    big = emit(b, arith.MulfOp(ay, _power_of_two(b, half)))
    big = emit(b, arith.MulfOp(big, _power_of_two(b, emit(b, arith.SubiOp(k, half)))))
    q = emit(b, math.TruncOp(emit(b, arith.DivfOp(r, big))))
    rem = emit(b, math.FmaOp(emit(b, arith.NegfOp(q)), big, r))
    negative = cmpf(b, "olt", rem, constant(b, 0.0, f64))
    return select(b, negative, emit(b, arith.AddfOp(rem, big)), rem)


def _fmod(b: Builder, x: SSAValue, y: SSAValue) -> SSAValue:
    """C fmod(x, y) of float64 values without a libm call (see FMOD_STEPS):
    |x| reduced step by step modulo |y| scaled by powers of two, x's sign kept.
    NaN and infinite x, NaN y and y == 0 give NaN; fmod(finite, +-inf) is x."""
    ax, ay = emit(b, math.AbsFOp(x)), emit(b, math.AbsFOp(y))
    # exponent of |y|, also for subnormals (scaled by 2**52 first)
    field = _exponent(b, ay)
    scaled = emit(b, arith.MulfOp(ay, constant(b, 2.0**52, f64)))
    normalized = emit(b, arith.SubiOp(_exponent(b, scaled), constant(b, 52, i64)))
    ey = select(b, cmpi(b, "eq", field, constant(b, 0, i64)), normalized, field)
    r = ax
    for _ in range(FMOD_STEPS):
        r = _fmod_step(b, r, ay, ey)
    inf = constant(b, float("inf"), f64)
    keep_x = emit(b, arith.AndIOp(cmpf(b, "oeq", ay, inf), cmpf(b, "olt", ax, inf)))
    return select(b, keep_x, x, emit(b, math.CopySignOp(r, x)))


def _exact_fmod(b: Builder, x: SSAValue, y: SSAValue) -> SSAValue:
    """fmod computed in float64 (exact for float32 operands too, then rounded
    back exactly: a remainder of float32 values is a float32 value)."""
    if x.type == f64:
        return _fmod(b, x, y)
    wide = _fmod(b, emit(b, arith.ExtFOp(x, f64)), emit(b, arith.ExtFOp(y, f64)))
    return emit(b, arith.TruncFOp(wide, x.type))


def _python_mod(
    b: Builder, x: SSAValue, y: SSAValue
) -> tuple[SSAValue, SSAValue, SSAValue]:
    """(fmod, mod with y's sign, whether fmod's result had to be shifted by y)."""
    zero = constant(b, 0.0, x.type)
    fmod = _exact_fmod(b, x, y)
    nonzero = cmpf(b, "une", fmod, zero)  # nan counts as nonzero, as C's `if (mod)`
    signs_differ = emit(
        b, arith.XOrIOp(cmpf(b, "olt", y, zero), cmpf(b, "olt", fmod, zero))
    )
    shift = emit(b, arith.AndIOp(nonzero, signs_differ))
    unshifted = select(b, nonzero, fmod, emit(b, math.CopySignOp(zero, y)))
    mod = select(b, shift, emit(b, arith.AddfOp(fmod, y)), unshifted)
    return fmod, mod, shift


def _floordiv_float_native(b: Builder, x: SSAValue, y: SSAValue) -> SSAValue:
    t = x.type
    zero, one = constant(b, 0.0, t), constant(b, 1.0, t)
    fmod, _, shift = _python_mod(b, x, y)
    quotient = emit(b, arith.DivfOp(x, y))
    div = emit(b, arith.DivfOp(emit(b, arith.SubfOp(x, fmod)), y))
    div = select(b, shift, emit(b, arith.SubfOp(div, one)), div)
    # snap the nearly-integral quotient to the nearest integer
    floor = emit(b, math.FloorOp(div))
    above_half = cmpf(b, "ogt", emit(b, arith.SubfOp(div, floor)), constant(b, 0.5, t))
    snapped = select(b, above_half, emit(b, arith.AddfOp(floor, one)), floor)
    signed_zero = emit(b, math.CopySignOp(zero, quotient))
    result = select(b, cmpf(b, "une", div, zero), snapped, signed_zero)
    return select(b, cmpf(b, "oeq", y, zero), quotient, result)


def _half_in_f32(
    fn: Callable[[Builder, SSAValue, SSAValue], SSAValue],
) -> ScalarBuilder:
    """numpy computes float16 division in float32 and rounds the result once."""

    def build(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
        x, y = args
        if not isinstance(x.type, Float16Type):
            return fn(b, x, y)
        wide = fn(b, emit(b, arith.ExtFOp(x, f32)), emit(b, arith.ExtFOp(y, f32)))
        return emit(b, arith.TruncFOp(wide, x.type))

    return build


_floordiv_float = _half_in_f32(_floordiv_float_native)
_mod_float = _half_in_f32(lambda b, x, y: _python_mod(b, x, y)[1])


def _pow_int(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    """x ** y, and for y < 0 trunc(1 / x**-y): 1 for x == 1, +-1 for x == -1 (by
    y's parity), else 0 (also for x == 0); `ipowi` only sees exponents >= 0."""
    x, y = args
    t = x.type
    zero, one = constant(b, 0, t), constant(b, 1, t)
    negative = cmpi(b, "slt", y, zero)
    power = emit(b, math.IPowIOp(x, select(b, negative, zero, y)))
    odd = cmpi(b, "ne", emit(b, arith.AndIOp(y, one)), zero)
    minus_one = constant(b, -1, t)
    of_minus_one = select(b, odd, minus_one, one)
    reciprocal = select(b, cmpi(b, "eq", x, minus_one), of_minus_one, zero)
    reciprocal = select(b, cmpi(b, "eq", x, one), one, reciprocal)
    return select(b, negative, reciprocal, power)


# ---------------------------------------------------------------------------------
# Binary, compare, select, cast
# ---------------------------------------------------------------------------------

_BINARY: dict[str, ScalarBuilder] = {
    "add": _by_kind(_op(arith.AddfOp), _op(arith.AddiOp)),
    "sub": _by_kind(_op(arith.SubfOp), _op(arith.SubiOp)),
    "mul": _by_kind(_op(arith.MulfOp), _op(arith.MuliOp)),
    "div": _op(arith.DivfOp),
    "floordiv": _by_kind(_floordiv_float, _floordiv_int),
    "mod": _by_kind(_mod_float, _mod_int),
    "pow": _by_kind(_op(math.PowFOp), _pow_int),
    "maximum": _by_kind(_op(arith.MaximumfOp), _op(arith.MaxSIOp)),
    "minimum": _by_kind(_op(arith.MinimumfOp), _op(arith.MinSIOp)),
    "and": _op(arith.AndIOp),
    "or": _op(arith.OrIOp),
    "xor": _op(arith.XOrIOp),
}

_COMPARE_PREDICATES: dict[str, tuple[str, str, str]] = {
    # name: (float, signed int, bool as unsigned)
    "eq": ("oeq", "eq", "eq"),
    "ne": ("une", "ne", "ne"),
    "lt": ("olt", "slt", "ult"),
    "le": ("ole", "sle", "ule"),
    "gt": ("ogt", "sgt", "ugt"),
    "ge": ("oge", "sge", "uge"),
}


def _compare(name: str) -> ScalarBuilder:
    on_float, on_int, on_bool = _COMPARE_PREDICATES[name]
    return _by_kind(
        lambda b, args, op: cmpf(b, on_float, *args),
        lambda b, args, op: cmpi(b, on_int, *args),
        lambda b, args, op: cmpi(b, on_bool, *args),
    )


def _select(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    return select(b, *args)


def _width(t: Attribute) -> int:
    assert isinstance(t, IntegerType) or tc.is_float(t)
    return t.width.data if isinstance(t, IntegerType) else t.bitwidth  # type: ignore[union-attr]


def element_kind(t: Attribute) -> str:
    """'f' for float, 'i' for (signed) integer, 'b' for bool element types."""
    return "f" if tc.is_float(t) else "b" if tc.is_bool(t) else "i"


def cast_scalar(b: Builder, x: SSAValue, target: Attribute) -> SSAValue:
    """numpy `astype` of one scalar to element type `target`."""
    source = x.type
    if source == target:
        return x
    kinds = element_kind(source) + element_kind(target)
    if kinds[1] == "b":  # anything -> bool is x != 0 (nan is true)
        zero = constant(b, 0, source)
        return cmpf(b, "une", x, zero) if kinds[0] == "f" else cmpi(b, "ne", x, zero)
    narrowing = _width(target) < _width(source)
    conversions: dict[str, type[Operation]] = {
        "ff": arith.TruncFOp if narrowing else arith.ExtFOp,
        "fi": arith.FPToSIOp,
        "if": arith.SIToFPOp,
        "ii": arith.TruncIOp if narrowing else arith.ExtSIOp,
        "bf": arith.UIToFPOp,
        "bi": arith.ExtUIOp,
    }
    return emit(b, conversions[kinds](x, target))


def _cast(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    return cast_scalar(b, args[0], _element(op.results[0].type))


_SPLITMIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def _i64(value: int) -> int:
    """An unsigned 64-bit constant as the i64 with the same bits."""
    return value - 2**64 if value >= 2**63 else value


def _hash_uniform(b: Builder, args: Sequence[SSAValue], op: Operation) -> SSAValue:
    """splitmix64 finalizer (wrapping i64 ops, logical shifts), then the top
    mantissa-many bits times 2**-k: exact, so every backend agrees bit for bit."""
    target = _element(op.results[0].type)
    bits = {16: 11, 32: 24, 64: 53}[target.bitwidth]  # type: ignore[attr-defined]

    def mix(z: SSAValue, shift: int, factor: int | None) -> SSAValue:
        z = emit(b, arith.XOrIOp(z, emit(b, arith.ShRUIOp(z, constant(b, shift, i64)))))
        return z if factor is None else emit(b, arith.MuliOp(z, constant(b, _i64(factor), i64)))

    z = emit(b, arith.AddiOp(args[0], constant(b, _i64(_SPLITMIX[0]), i64)))
    z = mix(mix(mix(z, 30, _SPLITMIX[1]), 27, _SPLITMIX[2]), 31, None)
    top = emit(b, arith.ShRUIOp(z, constant(b, 64 - bits, i64)))
    as_float = emit(b, arith.SIToFPOp(top, target))
    return emit(b, arith.MulfOp(as_float, constant(b, 2.0**-bits, target)))


# ---------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------

ELEMENTWISE: dict[type[Operation], ScalarBuilder] = {
    tc.NegOp: _by_kind(_op(arith.NegfOp), _neg_int),
    tc.AbsOp: _by_kind(_op(math.AbsFOp), _op(math.AbsIOp)),
    tc.SignOp: _by_kind(_sign_float, _sign_int),
    tc.NotOp: _not,
    **{tc.FLOAT_UNARY_OPS[name]: build for name, build in _FLOAT_UNARY.items()},
    **{tc.BINARY_OPS[name]: build for name, build in _BINARY.items()},
    **{tc.COMPARE_OPS[name]: _compare(name) for name in _COMPARE_PREDICATES},
    tc.SelectOp: _select,
    tc.CastOp: _cast,
    tc.HashUniformOp: _hash_uniform,
}
"""tc elementwise op class -> builder(builder, scalar operands, op) -> scalar result."""
