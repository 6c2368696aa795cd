"""The `tc` dialect: tensorc's high-level tensor operations.

Every op works on builtin `tensor<...>` values with static or dynamic (`?`) dims and
element types f16/f32/f64, i8/i16/i32/i64 (signed) and i1 (bool). Elementwise ops
require identical operand types; broadcasting is the explicit `tc.broadcast`.
Runtime shape values ("dims") are 0-d `tensor<i64>` values, e.g. from `tc.dim`.

The op families share base classes (elementwise unary/binary/compare, reductions);
`OPS_BY_NAME` maps the short op name ("add") to its class for the frontend tracer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import StringIO
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    I64,
    BytesAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FileLineColLoc,
    Float16Type,
    Float32Type,
    Float64Type,
    FusedLoc,
    IntegerAttr,
    IntegerType,
    NameLoc,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    UnitAttr,
    f16,
    f32,
    f64,
    i1,
    i8,
    i16,
    i32,
    i64,
)
from xdsl.ir import Attribute, Block, Dialect, Operation, Region, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    SameVariadicOperandSize,
    VarConstraint,
    VarOperandDef,
    VarResultDef,
    base,
    irdl_op_definition,
    operand_def,
    opt_attr_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import HasParent, IsolatedFromAbove, IsTerminator, Pure
from xdsl.utils.exceptions import VerifyException

# ---------------------------------------------------------------------------------
# dtypes: the one table that maps numpy dtype names to xDSL element types
# ---------------------------------------------------------------------------------

ELEMENT_TYPES: dict[str, Attribute] = {
    "float16": f16,
    "float32": f32,
    "float64": f64,
    "int8": i8,
    "int16": i16,
    "int32": i32,
    "int64": i64,
    "bool": i1,
}
DTYPE_OF_ELEMENT: dict[Attribute, str] = {v: k for k, v in ELEMENT_TYPES.items()}

DYNAMIC = DYNAMIC_INDEX
"""Marker of a dynamic dim in `TensorType` shapes (printed `?`)."""


def tensor_type(dtype: str, shape: Sequence[int | None]) -> TensorType:
    """`tensor_type("float64", (None, 3))` -> `tensor<?x3xf64>`."""
    dims = [DYNAMIC if d is None else d for d in shape]
    return TensorType(ELEMENT_TYPES[dtype], dims)


def dtype_of(t: Attribute) -> str:
    """numpy dtype name of a tensor type or element type."""
    elt = t.get_element_type() if isinstance(t, TensorType) else t
    return DTYPE_OF_ELEMENT[elt]


def shape_of(t: TensorType) -> tuple[int | None, ...]:
    """Static shape of a tensor type, `None` for dynamic dims."""
    return tuple(None if d == DYNAMIC else d for d in t.get_shape())


def is_float(t: Attribute) -> bool:
    elt = t.get_element_type() if isinstance(t, TensorType) else t
    return isinstance(elt, Float16Type | Float32Type | Float64Type)


def is_bool(t: Attribute) -> bool:
    elt = t.get_element_type() if isinstance(t, TensorType) else t
    return elt == i1


def is_int(t: Attribute) -> bool:
    elt = t.get_element_type() if isinstance(t, TensorType) else t
    return isinstance(elt, IntegerType) and elt != i1


MAX_LOCATIONS_SHOWN = 8
"""A fused op names at most this many distinct user lines in messages."""


def _location_lines(loc: Attribute) -> list[str]:
    """The distinct `file:line`s of a location, in order (fused ones flattened)."""
    if isinstance(loc, FileLineColLoc):
        return [f"{loc.filename.data}:{loc.line.data}"]
    if isinstance(loc, NameLoc):
        return _location_lines(loc.location)
    if isinstance(loc, FusedLoc):
        lines = [line for inner in loc.locations for line in _location_lines(inner)]
        return list(dict.fromkeys(lines))
    return []


def location_text(op: Operation) -> str:
    """`file:line` of the user code that created `op`, or '' if unknown. A fused op
    (tc.composite) lists the distinct lines of the ops it absorbed."""
    lines = _location_lines(op.location)
    if len(lines) > MAX_LOCATIONS_SHOWN:
        more = len(lines) - MAX_LOCATIONS_SHOWN
        lines = [*lines[:MAX_LOCATIONS_SHOWN], f"and {more} more"]
    return ", ".join(lines)


def origin_text(op: Operation) -> str:
    """`tc.mul (created at model.py:12)` for a tc op, or for an op of a composite
    body: its `NameLoc` names the tc op it was built from (see CompositeOp)."""
    loc = op.location
    name = loc.desc.data if isinstance(loc, NameLoc) else op.name
    where = location_text(op)
    return f"{name} (created at {where})" if where else name


def dense_from_array(value: np.ndarray, t: TensorType) -> DenseIntOrFPElementsAttr:
    """Dense attribute holding `value` (already of t's dtype); 1 value is a splat."""
    data = np.ascontiguousarray(value, dtype=np.dtype(dtype_of(t)))
    return DenseIntOrFPElementsAttr(t, BytesAttr(data.tobytes()))


def array_from_dense(attr: DenseIntOrFPElementsAttr) -> np.ndarray:
    """numpy value of a dense attribute, broadcast to its type's shape if a splat."""
    dtype = np.dtype(dtype_of(attr.type))
    flat = np.frombuffer(attr.data.data, dtype=dtype)
    if dtype == np.bool_:
        # xDSL's parser stores i1 `true` as byte 0xFF; numpy bools must be 0/1 bytes
        # (else e.g. xor(true, true) would be true).
        flat = np.frombuffer(attr.data.data, dtype=np.uint8) != 0
    shape = attr.type.get_shape()
    if flat.size == 1 and int(np.prod(shape)) != 1:
        return np.full(shape, flat[0], dtype=dtype)
    return flat.reshape(shape).copy()


def _dense_text(attr: DenseIntOrFPElementsAttr) -> str:
    """`attr` as xDSL prints it, unless that text would not parse back exactly.

    xDSL prints nan/inf and some large integral floats inside dense literals as hex
    integers, which its parser then reads as integer *values*; the hex-blob form
    `dense<"0x...">` round-trips bit-exactly (and MLIR accepts it too).
    """
    text, type_text = StringIO(), StringIO()
    Printer(stream=text).print_attribute(attr)
    Printer(stream=type_text).print_attribute(attr.type)
    literal = text.getvalue().removesuffix(type_text.getvalue())
    if is_float(attr.type) and "0x" in literal:
        return f'dense<"0x{attr.data.data.hex().upper()}"> : {type_text.getvalue()}'
    return text.getvalue()


def _fail(op: Operation, message: str) -> None:
    where = location_text(op)
    suffix = f" (created at {where})" if where else ""
    raise VerifyException(f"'{op.name}': {message}{suffix}")


def _check_kind(op: Operation, value: SSAValue, what: str, kinds: str) -> None:
    """kinds is a subset of 'f' (float), 'i' (int), 'b' (bool)."""
    t = value.type
    kind = "f" if is_float(t) else "b" if is_bool(t) else "i"
    if kind not in kinds:
        names = {"f": "float", "i": "integer", "b": "bool"}
        wanted = " or ".join(names[k] for k in kinds)
        _fail(op, f"{what} must have {wanted} elements, got {t}")


def _check_dims_operand(op: Operation, value: SSAValue, what: str) -> None:
    t = value.type
    if not (isinstance(t, TensorType) and t.get_shape() == () and is_int(t)):
        _fail(op, f"{what} must be a 0-d integer tensor, got {t}")


def _rank(value: SSAValue) -> int:
    t = value.type
    assert isinstance(t, TensorType)
    return t.get_num_dims()


def _dims_compatible(a: int, b: int) -> bool:
    return a == DYNAMIC or b == DYNAMIC or a == b


def _i64_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, list(values))


def _bool_tensor(t: TensorType) -> TensorType:
    return TensorType(i1, t.get_shape())


# ---------------------------------------------------------------------------------
# Base: uniform construction from python attributes (used by the frontend tracer)
# ---------------------------------------------------------------------------------


class TcOp(IRDLOperation):
    """Base of all tc ops: `make` builds an op from operands, result types and
    plain python attribute values (ints, int tuples, bools, numpy arrays)."""

    @classmethod
    def make(
        cls,
        operands: Sequence[SSAValue],
        result_types: Sequence[Attribute],
        attrs: Mapping[str, object],
    ) -> TcOp:
        props = {
            key: _to_attribute(value, result_types)
            for key, value in attrs.items()
            if value is not False and value is not None
        }
        groups: list[SSAValue | list[SSAValue]] = []
        remaining = list(operands)
        for size in cls._operand_group_sizes(len(remaining)):
            if size is None:
                groups.append(remaining.pop(0))
            else:
                groups.append(remaining[:size])
                remaining = remaining[size:]
        return cls.build(
            operands=groups,
            result_types=_result_groups(cls, result_types),
            properties=props,
        )

    @classmethod
    def _operand_group_sizes(cls, n: int) -> list[int | None]:
        """Per operand group: None for a single operand, else the variadic size."""
        defs = [d for _, d in cls.get_irdl_definition().operands]
        n_single = sum(not isinstance(d, VarOperandDef) for d in defs)
        n_var = len(defs) - n_single
        sizes: list[int | None] = []
        for d in defs:
            if isinstance(d, VarOperandDef):
                sizes.append((n - n_single) // max(n_var, 1))
            else:
                sizes.append(None)
        return sizes

    def python_attrs(self) -> dict[str, object]:
        """Inverse of `make`'s attribute conversion (for printing and the tracer)."""
        return {k: _from_attribute(v) for k, v in self.properties.items()}


def _result_groups(cls: type[TcOp], result_types: Sequence[Attribute]) -> list:
    defs = [d for _, d in cls.get_irdl_definition().results]
    if len(defs) == 1 and isinstance(defs[0], VarResultDef):
        return [list(result_types)]
    return list(result_types)


def _to_attribute(value: object, result_types: Sequence[Attribute]) -> Attribute:
    if value is True:
        return UnitAttr()
    if isinstance(value, Attribute):
        return value
    if isinstance(value, np.ndarray):
        t = result_types[0]
        assert isinstance(t, TensorType)
        return dense_from_array(value, t)
    if isinstance(value, int | np.integer):
        return IntegerAttr(int(value), i64)
    if isinstance(value, tuple | list):
        return _i64_array([int(v) for v in value])
    raise TypeError(f"cannot convert attribute value {value!r}")


def _from_attribute(attr: Attribute) -> object:
    if isinstance(attr, UnitAttr):
        return True
    if isinstance(attr, IntegerAttr):
        return attr.value.data
    if isinstance(attr, DenseArrayBase):
        return tuple(attr.get_values())
    if isinstance(attr, DenseIntOrFPElementsAttr):
        return array_from_dense(attr)
    return attr


# ---------------------------------------------------------------------------------
# Elementwise families
# ---------------------------------------------------------------------------------


class ElementwiseUnaryOp(TcOp):
    """Base of elementwise unary ops: result type == operand type."""

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($result)"
    KINDS: ClassVar[str] = "fi"

    def __init__(self, input: SSAValue | Operation):
        super().__init__(operands=[input], result_types=[SSAValue.get(input).type])

    def verify_(self) -> None:
        _check_kind(self, self.input, "operand", self.KINDS)


class FloatUnaryOp(ElementwiseUnaryOp):
    KINDS: ClassVar[str] = "f"


class ElementwiseBinaryOp(TcOp):
    """Base of elementwise binary ops: both operands and the result share one type."""

    T: ClassVar = VarConstraint("T", base(TensorType))
    lhs = operand_def(T)
    rhs = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($result)"
    KINDS: ClassVar[str] = "fi"

    def __init__(self, lhs: SSAValue | Operation, rhs: SSAValue | Operation):
        super().__init__(operands=[lhs, rhs], result_types=[SSAValue.get(lhs).type])

    def verify_(self) -> None:
        _check_kind(self, self.lhs, "lhs", self.KINDS)


class CompareOp(TcOp):
    """Base of elementwise comparisons: two operands of one type -> i1 tensor."""

    T: ClassVar = VarConstraint("T", base(TensorType))
    lhs = operand_def(T)
    rhs = operand_def(T)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($lhs) `->` type($result)"

    def __init__(self, lhs: SSAValue | Operation, rhs: SSAValue | Operation):
        t = SSAValue.get(lhs).type
        assert isinstance(t, TensorType)
        super().__init__(operands=[lhs, rhs], result_types=[_bool_tensor(t)])

    def verify_(self) -> None:
        lhs_t = self.lhs.type
        assert isinstance(lhs_t, TensorType)
        if self.result.type != _bool_tensor(lhs_t):
            _fail(self, f"result must be {_bool_tensor(lhs_t)}, got {self.result.type}")


def _unary(name: str, base_cls: type, doc: str, kinds: str | None = None) -> type:
    attrs: dict[str, object] = {"name": f"tc.{name}", "__doc__": doc}
    if kinds is not None:
        attrs["KINDS"] = kinds
        attrs["__annotations__"] = {"KINDS": ClassVar[str]}
    return irdl_op_definition(type(f"{name.title().replace('_', '')}Op", (base_cls,), attrs))


def _doc(summary: str, example: str) -> str:
    return f"{summary}\n\nExample:\n\n    {example}\n"


NegOp = _unary("neg", ElementwiseUnaryOp, _doc("-x", "%y = tc.neg %x : tensor<?xf64>"))
AbsOp = _unary("abs", ElementwiseUnaryOp, _doc("|x|", "%y = tc.abs %x : tensor<?xi32>"))
SignOp = _unary("sign", ElementwiseUnaryOp, _doc("sign(x) in {-1, 0, 1} (nan stays nan)",
                                                 "%y = tc.sign %x : tensor<?xf64>"))
NotOp = _unary("not", ElementwiseUnaryOp, _doc("logical not on i1, bitwise not on ints",
                                               "%y = tc.not %m : tensor<?xi1>"), kinds="ib")
_FLOAT_UNARY = {
    "exp": "e**x",
    "log": "natural logarithm",
    "log1p": "log(1 + x), accurate near 0",
    "expm1": "e**x - 1, accurate near 0",
    "sqrt": "square root",
    "sin": "sine",
    "cos": "cosine",
    "tan": "tangent",
    "tanh": "hyperbolic tangent",
    "sigmoid": "1 / (1 + e**-x)",
    "softplus": "log(1 + e**x), stable for large |x|",
    "erf": "error function",
    "floor": "round toward -inf",
    "ceil": "round toward +inf",
    "round": "round half to even (as numpy.round)",
}
FLOAT_UNARY_OPS: dict[str, type] = {
    name: _unary(name, FloatUnaryOp, _doc(summary, f"%y = tc.{name} %x : tensor<?xf32>"))
    for name, summary in _FLOAT_UNARY.items()
}
ExpOp = FLOAT_UNARY_OPS["exp"]
LogOp = FLOAT_UNARY_OPS["log"]
TanhOp = FLOAT_UNARY_OPS["tanh"]
SigmoidOp = FLOAT_UNARY_OPS["sigmoid"]

_BINARY = {
    "add": ("x + y", "fi"),
    "sub": ("x - y", "fi"),
    "mul": ("x * y", "fi"),
    "div": ("true division x / y", "f"),
    "floordiv": ("floor division (numpy //), x // 0 == 0 for integers", "fi"),
    "mod": ("remainder with the sign of y (numpy %), x % 0 == 0 for integers", "fi"),
    "pow": ("x ** y", "fi"),
    "maximum": ("elementwise max, nan propagates", "fi"),
    "minimum": ("elementwise min, nan propagates", "fi"),
    "and": ("logical and on i1, bitwise on ints", "ib"),
    "or": ("logical or on i1, bitwise on ints", "ib"),
    "xor": ("logical xor on i1, bitwise on ints", "ib"),
}
BINARY_OPS: dict[str, type] = {
    name: irdl_op_definition(
        type(
            f"{name.title()}Op",
            (ElementwiseBinaryOp,),
            {
                "name": f"tc.{name}",
                "KINDS": kinds,
                "__annotations__": {"KINDS": ClassVar[str]},
                "__doc__": _doc(summary, f"%z = tc.{name} %x, %y : tensor<?x4xf64>"),
            },
        )
    )
    for name, (summary, kinds) in _BINARY.items()
}
AddOp = BINARY_OPS["add"]
SubOp = BINARY_OPS["sub"]
MulOp = BINARY_OPS["mul"]
DivOp = BINARY_OPS["div"]
PowOp = BINARY_OPS["pow"]

_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
COMPARE_OPS: dict[str, type] = {
    name: irdl_op_definition(
        type(
            f"{name.title()}Op",
            (CompareOp,),
            {
                "name": f"tc.{name}",
                "__doc__": _doc(
                    f"x {sym} y, elementwise, as i1",
                    f"%m = tc.{name} %x, %y : tensor<?xf64> -> tensor<?xi1>",
                ),
            },
        )
    )
    for name, sym in _COMPARE.items()
}


@irdl_op_definition
class SelectOp(TcOp):
    """cond ? a : b, elementwise (Theano's switch).

    Example:

        %z = tc.select %m, %x, %y : tensor<?xi1>, tensor<?xf64>
    """

    name = "tc.select"
    T: ClassVar = VarConstraint("T", base(TensorType))
    condition = operand_def(TensorType)
    true_value = operand_def(T)
    false_value = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = (
        "$condition `,` $true_value `,` $false_value attr-dict "
        "`:` type($condition) `,` type($result)"
    )

    def __init__(self, condition: SSAValue, true_value: SSAValue, false_value: SSAValue):
        super().__init__(
            operands=[condition, true_value, false_value],
            result_types=[SSAValue.get(true_value).type],
        )

    def verify_(self) -> None:
        value_t = self.true_value.type
        assert isinstance(value_t, TensorType)
        if self.condition.type != _bool_tensor(value_t):
            _fail(self, f"condition must be {_bool_tensor(value_t)}, "
                        f"got {self.condition.type}")


class ConversionOp(TcOp):
    """Base of elementwise ops that change the element type and keep the shape."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `to` type($result)"

    def verify_(self) -> None:
        in_t, out_t = self.input.type, self.result.type
        assert isinstance(in_t, TensorType) and isinstance(out_t, TensorType)
        if in_t.get_shape() != out_t.get_shape():
            _fail(self, f"{self.name.removeprefix('tc.')} must keep the shape: "
                        f"{in_t} to {out_t}")
        self.verify_elements(in_t, out_t)

    def verify_elements(self, in_t: TensorType, out_t: TensorType) -> None:
        """Element-type rules of the subclass (any conversion by default)."""


@irdl_op_definition
class CastOp(ConversionOp):
    """Convert the element type (numpy astype semantics; float->int truncates).

    Example:

        %y = tc.cast %x : tensor<?xf64> to tensor<?xi32>
    """

    name = "tc.cast"


@irdl_op_definition
class HashUniformOp(ConversionOp):
    """Counter-based random numbers in [0, 1): each i64 element goes through the
    splitmix64 finalizer (wrapping arithmetic, logical shifts) and its top 53 (f64),
    24 (f32) or 11 (f16) bits become the float `bits * 2**-k`, exactly. Equal
    counters give equal numbers on every backend; `RandomStreams` builds on it.

    Example:

        %u = tc.hash_uniform %counters : tensor<?x3xi64> to tensor<?x3xf32>
    """

    name = "tc.hash_uniform"

    def verify_elements(self, in_t: TensorType, out_t: TensorType) -> None:
        if in_t.get_element_type() != i64 or not is_float(out_t):
            _fail(self, f"expects i64 counters and float results, got {in_t} to {out_t}")


@irdl_op_definition
class ConstantOp(TcOp):
    """A constant tensor; a dense attribute with one value is a splat.

    Example:

        %c = tc.constant dense<2.0> : tensor<f64>
        %w = tc.constant dense<[1, 2, 3]> : tensor<3xi64>
    """

    name = "tc.constant"
    value = prop_def(DenseIntOrFPElementsAttr)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    def __init__(self, value: DenseIntOrFPElementsAttr):
        super().__init__(properties={"value": value}, result_types=[value.type])

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_string(_dense_text(self.value))
        printer.print_op_attributes(self.attributes)

    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        value = parser.parse_attribute()
        if not isinstance(value, DenseIntOrFPElementsAttr):
            parser.raise_error(f"expected a dense elements attribute, got {value}")
        op = cls(value)
        op.attributes.update(parser.parse_optional_attr_dict())
        return op

    @classmethod
    def make(cls, operands, result_types, attrs):  # type: ignore[override]
        t = result_types[0]
        assert isinstance(t, TensorType)
        return cls(dense_from_array(np.asarray(attrs["value"]), t))

    def verify_(self) -> None:
        t = self.result.type
        assert isinstance(t, TensorType)
        if DYNAMIC in t.get_shape():
            _fail(self, f"constant type must be static, got {t}")
        n = len(self.value)
        size = int(np.prod(t.get_shape()))
        if n not in (1, size):
            _fail(self, f"constant holds {n} values but {t} has {size}")


@irdl_op_definition
class BroadcastOp(TcOp):
    """Broadcast to a larger shape (numpy rules: right-aligned; a dim of 1 stretches;
    any other dim must equal the target dim, checked at run time if dynamic).
    One `dims` operand (0-d i64) per dynamic dim of the result, in order.

    Example:

        %y = tc.broadcast %b (%n) : tensor<1x4xf64> -> tensor<?x4xf64>
    """

    name = "tc.broadcast"
    input = operand_def(TensorType)
    dims = var_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input `(` $dims `)` attr-dict `:` type($input) `,` type($dims) `->` type($result)"

    def verify_(self) -> None:
        in_t, out_t = self.input.type, self.result.type
        assert isinstance(in_t, TensorType) and isinstance(out_t, TensorType)
        if in_t.get_element_type() != out_t.get_element_type():
            _fail(self, f"element types differ: {in_t} vs {out_t}")
        in_shape, out_shape = in_t.get_shape(), out_t.get_shape()
        if len(in_shape) > len(out_shape):
            _fail(self, f"cannot broadcast {in_t} to lower rank {out_t}")
        for axis, d in enumerate(in_shape):
            target = out_shape[len(out_shape) - len(in_shape) + axis]
            if d != 1 and not _dims_compatible(d, target):
                _fail(self, f"input dim {axis} ({d}) cannot broadcast to {target}")
        n_dynamic = sum(d == DYNAMIC for d in out_shape)
        if len(self.dims) != n_dynamic:
            _fail(self, f"expected {n_dynamic} dims operands, got {len(self.dims)}")
        for i, d in enumerate(self.dims):
            _check_dims_operand(self, d, f"dims #{i}")


class ReductionOp(TcOp):
    """Base of reductions over a set of axes, optionally keeping reduced dims as 1."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    axes = prop_def(DenseArrayBase)
    keepdims = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    assembly_format = (
        "$input `axes` `=` qualified($axes) (`keepdims` $keepdims^)? attr-dict "
        "`:` type($input) `->` type($result)"
    )
    RESULT_ELEMENT: ClassVar[Attribute | None] = None

    def reduced_axes(self) -> tuple[int, ...]:
        return tuple(self.axes.get_values())  # type: ignore[arg-type]

    def verify_(self) -> None:
        in_t, out_t = self.input.type, self.result.type
        assert isinstance(in_t, TensorType) and isinstance(out_t, TensorType)
        axes = self.reduced_axes()
        rank = in_t.get_num_dims()
        if sorted(set(axes)) != list(axes) or any(not 0 <= a < rank for a in axes):
            _fail(self, f"axes {list(axes)} must be sorted, unique and in [0, {rank})")
        shape = in_t.get_shape()
        keep = self.keepdims is not None
        expected = [1 if a in axes else d for a, d in enumerate(shape)] if keep else [
            d for a, d in enumerate(shape) if a not in axes
        ]
        elt = self.RESULT_ELEMENT or in_t.get_element_type()
        want = TensorType(elt, expected)
        if out_t != want:
            _fail(self, f"result type must be {want}, got {out_t}")


def _reduction(name: str, summary: str, result_element: Attribute | None = None) -> type:
    return irdl_op_definition(
        type(
            f"{name.title()}Op",
            (ReductionOp,),
            {
                "name": f"tc.{name}",
                "RESULT_ELEMENT": result_element,
                "__annotations__": {"RESULT_ELEMENT": ClassVar[Attribute | None]},
                "__doc__": _doc(
                    summary,
                    f"%s = tc.{name} %x axes = array<i64: 1> : tensor<?x?xf64> -> "
                    + ("tensor<?xi64>" if result_element else "tensor<?xf64>"),
                ),
            },
        )
    )


REDUCTION_OPS: dict[str, type] = {
    "sum": _reduction("sum", "Sum over axes (empty -> 0)."),
    "prod": _reduction("prod", "Product over axes (empty -> 1)."),
    "max": _reduction("max", "Maximum over axes (nan propagates)."),
    "min": _reduction("min", "Minimum over axes (nan propagates)."),
    "argmax": _reduction(
        "argmax", "Index of the first maximum within the reduced axes (flattened).", i64),
    "argmin": _reduction(
        "argmin", "Index of the first minimum within the reduced axes (flattened).", i64),
}
SumOp = REDUCTION_OPS["sum"]


@irdl_op_definition
class MatmulOp(TcOp):
    """Matrix product with numpy.dot semantics for 1-D and 2-D operands:
    (m,k)x(k,n)->(m,n), (m,k)x(k)->(m), (k)x(k,n)->(n), (k)x(k)->().

    Example:

        %c = tc.matmul %a, %b : tensor<?x?xf64>, tensor<?xf64> -> tensor<?xf64>
    """

    name = "tc.matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)"

    def verify_(self) -> None:
        a, b, c = self.lhs.type, self.rhs.type, self.result.type
        assert isinstance(a, TensorType) and isinstance(b, TensorType)
        assert isinstance(c, TensorType)
        if not (a.get_element_type() == b.get_element_type() == c.get_element_type()):
            _fail(self, f"element types must match: {a}, {b} -> {c}")
        ra, rb = a.get_num_dims(), b.get_num_dims()
        if ra not in (1, 2) or rb not in (1, 2):
            _fail(self, f"operands must be 1-D or 2-D, got {a} and {b}")
        k_a, k_b = a.get_shape()[-1], b.get_shape()[0]
        if not _dims_compatible(k_a, k_b):
            _fail(self, f"inner dims differ: lhs {a} rhs {b}")
        expected = list(a.get_shape()[:-1]) + list(b.get_shape()[1:])
        if len(c.get_shape()) != len(expected) or not all(
            _dims_compatible(x, y) for x, y in zip(c.get_shape(), expected)
        ):
            _fail(self, f"result must be {TensorType(c.get_element_type(), expected)}, "
                        f"got {c}")


@irdl_op_definition
class TransposeOp(TcOp):
    """Permute dims: result dim i is input dim perm[i].

    Example:

        %t = tc.transpose %x perm = array<i64: 1, 0> : tensor<?x3xf64> -> tensor<3x?xf64>
    """

    name = "tc.transpose"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    perm = prop_def(DenseArrayBase)
    traits = traits_def(Pure())
    assembly_format = "$input `perm` `=` qualified($perm) attr-dict `:` type($input) `->` type($result)"

    def verify_(self) -> None:
        in_t, out_t = self.input.type, self.result.type
        assert isinstance(in_t, TensorType) and isinstance(out_t, TensorType)
        perm = tuple(self.perm.get_values())
        if sorted(perm) != list(range(in_t.get_num_dims())):
            _fail(self, f"perm {list(perm)} is not a permutation of {in_t.get_num_dims()} dims")
        want = TensorType(in_t.get_element_type(), [in_t.get_shape()[p] for p in perm])
        if out_t != want:
            _fail(self, f"result type must be {want}, got {out_t}")


@irdl_op_definition
class ReshapeOp(TcOp):
    """Reshape (row-major) to the result type; one `dims` operand per dynamic result dim.
    The element count must match (checked at run time when dynamic).

    Example:

        %y = tc.reshape %x (%n) : tensor<?x4xf64>, tensor<i64> -> tensor<?xf64>
    """

    name = "tc.reshape"
    input = operand_def(TensorType)
    dims = var_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input `(` $dims `)` attr-dict `:` type($input) `,` type($dims) `->` type($result)"

    def verify_(self) -> None:
        in_t, out_t = self.input.type, self.result.type
        assert isinstance(in_t, TensorType) and isinstance(out_t, TensorType)
        if in_t.get_element_type() != out_t.get_element_type():
            _fail(self, f"element types differ: {in_t} vs {out_t}")
        n_dynamic = sum(d == DYNAMIC for d in out_t.get_shape())
        if len(self.dims) != n_dynamic:
            _fail(self, f"expected {n_dynamic} dims operands, got {len(self.dims)}")
        for i, d in enumerate(self.dims):
            _check_dims_operand(self, d, f"dims #{i}")
        if in_t.has_static_shape() and out_t.has_static_shape():
            if int(np.prod(in_t.get_shape())) != int(np.prod(out_t.get_shape())):
                _fail(self, f"cannot reshape {in_t} to {out_t}")


@irdl_op_definition
class SliceOp(TcOp):
    """Python/numpy basic slicing `x[start:stop:step, ...]` per dim, with Python's
    clamping rules. `starts`/`stops` entries equal to DYNAMIC take the next operand of
    `bounds` (0-d integer tensors; starts first, then stops). Steps are static, nonzero.

    Example:

        %y = tc.slice %x [%i] starts = array<i64: -9223372036854775808>
               stops = array<i64: 9223372036854775807> steps = array<i64: 2>
               : tensor<?xf64>, tensor<i64> -> tensor<?xf64>
    """

    name = "tc.slice"
    input = operand_def(TensorType)
    bounds = var_operand_def(TensorType)
    result = result_def(TensorType)
    starts = prop_def(DenseArrayBase)
    stops = prop_def(DenseArrayBase)
    steps = prop_def(DenseArrayBase)
    traits = traits_def(Pure())
    assembly_format = (
        "$input `[` $bounds `]` `starts` `=` qualified($starts) `stops` `=` qualified($stops) `steps` `=` qualified($steps) "
        "attr-dict `:` type($input) `,` type($bounds) `->` type($result)"
    )

    def verify_(self) -> None:
        in_t, out_t = self.input.type, self.result.type
        assert isinstance(in_t, TensorType) and isinstance(out_t, TensorType)
        rank = in_t.get_num_dims()
        starts, stops = self.starts.get_values(), self.stops.get_values()
        steps = self.steps.get_values()
        if not len(starts) == len(stops) == len(steps) == rank:
            _fail(self, f"starts/stops/steps must each have {rank} entries")
        if any(s == 0 for s in steps):
            _fail(self, "slice step cannot be zero")
        n_dynamic = sum(v == DYNAMIC for v in (*starts, *stops))
        if len(self.bounds) != n_dynamic:
            _fail(self, f"expected {n_dynamic} bounds operands, got {len(self.bounds)}")
        for i, b in enumerate(self.bounds):
            _check_dims_operand(self, b, f"bounds #{i}")
        if out_t.get_element_type() != in_t.get_element_type() or out_t.get_num_dims() != rank:
            _fail(self, f"result must be a rank-{rank} tensor of {in_t.get_element_type()}")


def _check_indexing(
    op: Operation,
    indexed: TensorType,
    indices: Sequence[SSAValue],
    data: TensorType,
    what: str,
) -> None:
    """Integer-array indexing rules shared by gather (`data` = its result) and
    scatter_add (`data` = its updates): 1 to rank index tensors of one integer type
    of shape S, and `data` of shape S + indexed.shape[len(indices):]."""
    if not 1 <= len(indices) <= indexed.get_num_dims():
        _fail(op, f"needs 1 to {indexed.get_num_dims()} index tensors, got {len(indices)}")
    index_t = indices[0].type
    for i, idx in enumerate(indices):
        _check_kind(op, idx, f"index #{i}", "i")
        if idx.type != index_t:
            _fail(op, f"index tensors must share one type: {index_t} vs {idx.type}")
    assert isinstance(index_t, TensorType)
    want = list(index_t.get_shape()) + list(indexed.get_shape()[len(indices):])
    if (data.get_element_type() != indexed.get_element_type()
            or len(want) != data.get_num_dims()
            or not all(map(_dims_compatible, want, data.get_shape()))):
        _fail(op, f"{what} must be {TensorType(indexed.get_element_type(), want)}, "
                  f"got {data}")


@irdl_op_definition
class GatherOp(TcOp):
    """Integer-array indexing of the leading dims: `x[i0, i1, ...]` with index tensors
    of one shape S; result shape is S + x.shape[len(indices):]. Negative indices wrap;
    out-of-range indices are a run-time error.

    Example:

        %p = tc.gather %x [%rows, %labels] : tensor<?x?xf64>, tensor<?xi64>,
               tensor<?xi64> -> tensor<?xf64>
    """

    name = "tc.gather"
    input = operand_def(TensorType)
    indices = var_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input `[` $indices `]` attr-dict `:` type($input) `,` type($indices) `->` type($result)"

    def verify_(self) -> None:
        in_t, out_t = self.input.type, self.result.type
        assert isinstance(in_t, TensorType) and isinstance(out_t, TensorType)
        _check_indexing(self, in_t, self.indices, out_t, "result")


@irdl_op_definition
class ConcatenateOp(TcOp):
    """Join tensors of one rank and dtype along `axis`.

    Example:

        %z = tc.concatenate %x, %y axis = 0 : tensor<?xf64>, tensor<3xf64> -> tensor<?xf64>
    """

    name = "tc.concatenate"
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$inputs `axis` `(` $axis `)` attr-dict `:` type($inputs) `->` type($result)"

    def verify_(self) -> None:
        out_t = self.result.type
        assert isinstance(out_t, TensorType)
        axis = self.axis.value.data
        if not self.inputs:
            _fail(self, "needs at least one input")
        for i, v in enumerate(self.inputs):
            t = v.type
            assert isinstance(t, TensorType)
            if t.get_element_type() != out_t.get_element_type() or t.get_num_dims() != out_t.get_num_dims():
                _fail(self, f"input #{i} {t} does not match result {out_t}")
            for a, (d, o) in enumerate(zip(t.get_shape(), out_t.get_shape())):
                if a != axis and not _dims_compatible(d, o):
                    _fail(self, f"input #{i} dim {a} is {d}, result has {o}")
        if not 0 <= axis < out_t.get_num_dims():
            _fail(self, f"axis {axis} out of range for {out_t}")


@irdl_op_definition
class DimOp(TcOp):
    """The size of one dim as a 0-d i64 tensor (`x.shape[axis]`).

    Example:

        %n = tc.dim %x [0] : tensor<?x3xf64>
    """

    name = "tc.dim"
    input = operand_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    result = result_def(TensorType(i64, []))
    traits = traits_def(Pure())
    assembly_format = "$input `[` $axis `]` attr-dict `:` type($input)"

    def verify_(self) -> None:
        if not 0 <= self.axis.value.data < _rank(self.input):
            _fail(self, f"axis {self.axis.value.data} out of range for {self.input.type}")


@irdl_op_definition
class ArangeOp(TcOp):
    """numpy.arange(start, stop, step) from 0-d operands of the result's dtype.

    Example:

        %r = tc.arange %zero, %n, %one : tensor<i64> -> tensor<?xi64>
    """

    name = "tc.arange"
    T: ClassVar = VarConstraint("T", base(TensorType))
    start = operand_def(T)
    stop = operand_def(T)
    step = operand_def(T)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$start `,` $stop `,` $step attr-dict `:` type($start) `->` type($result)"

    def verify_(self) -> None:
        t, out_t = self.start.type, self.result.type
        assert isinstance(t, TensorType) and isinstance(out_t, TensorType)
        if t.get_shape() != () or out_t.get_num_dims() != 1:
            _fail(self, f"expects 0-d operands and a 1-D result, got {t} -> {out_t}")
        if out_t.get_element_type() != t.get_element_type():
            _fail(self, f"result element type must be {t.get_element_type()}")


@irdl_op_definition
class GradOp(TcOp):
    """Placeholder for d(cost)/d(wrt...), expanded by the tc-autodiff pass.
    The cost is a 0-d float tensor; each result has the type of its `wrt` operand.

    Example:

        %gx = tc.grad %cost wrt %x : tensor<f64>, tensor<?xf64> -> tensor<?xf64>
    """

    name = "tc.grad"
    cost = operand_def(TensorType)
    wrt = var_operand_def(TensorType)
    results_ = var_result_def(TensorType)
    traits = traits_def()
    irdl_options = (SameVariadicOperandSize(),)
    assembly_format = "$cost `wrt` $wrt attr-dict `:` type($cost) `,` type($wrt) `->` type($results_)"

    def verify_(self) -> None:
        cost_t = self.cost.type
        assert isinstance(cost_t, TensorType)
        if cost_t.get_shape() != () or not is_float(cost_t):
            _fail(self, f"cost must be a 0-d float tensor, got {cost_t}")
        if [v.type for v in self.wrt] != [r.type for r in self.results_]:
            _fail(self, "each result must have the type of its wrt operand")
        for i, v in enumerate(self.wrt):
            _check_kind(self, v, f"wrt #{i}", "f")


@irdl_op_definition
class StopGradientOp(TcOp):
    """The identity on values; tc-autodiff sends no gradient through it (Theano's
    `disconnected_grad`, or `zero_grad` with `connected`: `grad` then treats inputs
    reached only through it as connected, with a zero gradient, instead of raising
    DisconnectedInputError). tc-autodiff erases it after expanding every tc.grad.

    Example:

        %c = tc.stop_gradient %x : tensor<?xf64>
    """

    name = "tc.stop_gradient"
    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    connected = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    assembly_format = "$input (`connected` $connected^)? attr-dict `:` type($result)"

    def __init__(self, input: SSAValue | Operation, connected: bool = False):
        props = {"connected": UnitAttr()} if connected else {}
        super().__init__(operands=[input], result_types=[SSAValue.get(input).type],
                         properties=props)


def _verify_slice_spec(op: Operation, rank: int, n_bounds: int, starts: Sequence[int],
                       stops: Sequence[int], steps: Sequence[int]) -> None:
    """starts/stops/steps of a slicing op: one entry per dim, nonzero steps, one
    bounds operand per DYNAMIC start/stop."""
    if not len(starts) == len(stops) == len(steps) == rank:
        _fail(op, f"starts/stops/steps must each have {rank} entries")
    if any(s == 0 for s in steps):
        _fail(op, "slice step cannot be zero")
    n_dynamic = sum(v == DYNAMIC for v in (*starts, *stops))
    if n_bounds != n_dynamic:
        _fail(op, f"expected {n_dynamic} bounds operands, got {n_bounds}")


@irdl_op_definition
class InsertSliceOp(TcOp):
    """`dest` with the slice `dest[start:stop:step, ...]` replaced by `source`
    (numpy `out = dest.copy(); out[slices] = source`). Slices are given as in
    `tc.slice`; `source` must have the slice's shape (checked at run time). The
    gradient of `tc.slice` inserts into zeros.

    Example:

        %y = tc.insert_slice %s into %x [%i] starts = array<i64: -9223372036854775808>
               stops = array<i64: 4611686018427387904> steps = array<i64: 2>
               : tensor<?xf64>, tensor<?xf64>, tensor<i64>
    """

    name = "tc.insert_slice"
    T: ClassVar = VarConstraint("T", base(TensorType))
    source = operand_def(TensorType)
    dest = operand_def(T)
    bounds = var_operand_def(TensorType)
    result = result_def(T)
    starts = prop_def(DenseArrayBase)
    stops = prop_def(DenseArrayBase)
    steps = prop_def(DenseArrayBase)
    traits = traits_def(Pure())
    assembly_format = (
        "$source `into` $dest `[` $bounds `]` `starts` `=` qualified($starts) "
        "`stops` `=` qualified($stops) `steps` `=` qualified($steps) attr-dict "
        "`:` type($source) `,` type($dest) `,` type($bounds)"
    )

    def __init__(self, source: SSAValue, dest: SSAValue, bounds: Sequence[SSAValue],
                 starts: Sequence[int], stops: Sequence[int], steps: Sequence[int]):
        super().__init__(
            operands=[source, dest, list(bounds)], result_types=[dest.type],
            properties={"starts": _i64_array(starts), "stops": _i64_array(stops),
                        "steps": _i64_array(steps)},
        )

    def verify_(self) -> None:
        src_t, dest_t = self.source.type, self.dest.type
        assert isinstance(src_t, TensorType) and isinstance(dest_t, TensorType)
        _verify_slice_spec(self, dest_t.get_num_dims(), len(self.bounds),
                           self.starts.get_values(), self.stops.get_values(),
                           self.steps.get_values())
        for i, b in enumerate(self.bounds):
            _check_dims_operand(self, b, f"bounds #{i}")
        if (src_t.get_element_type() != dest_t.get_element_type()
                or src_t.get_num_dims() != dest_t.get_num_dims()):
            _fail(self, f"source {src_t} must be a rank-{dest_t.get_num_dims()} tensor "
                        f"of {dest_t.get_element_type()}")


@irdl_op_definition
class ScatterAddOp(TcOp):
    """`dest` plus `updates` added at integer-array indices of its leading dims
    (numpy `out = dest.copy(); np.add.at(out, (i0, i1, ...), updates)`): repeated
    indices accumulate. Indices are as in `tc.gather` (one shape S, negative wrap,
    out of range is a run-time error); `updates` has shape S + dest.shape[k:]. The
    gradient of `tc.gather`.

    Example:

        %y = tc.scatter_add %u into %x [%rows] : tensor<?x4xf64>, tensor<?x4xf64>,
               tensor<?xi64>
    """

    name = "tc.scatter_add"
    T: ClassVar = VarConstraint("T", base(TensorType))
    updates = operand_def(TensorType)
    dest = operand_def(T)
    indices = var_operand_def(TensorType)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = (
        "$updates `into` $dest `[` $indices `]` attr-dict "
        "`:` type($updates) `,` type($dest) `,` type($indices)"
    )

    def __init__(self, updates: SSAValue, dest: SSAValue, indices: Sequence[SSAValue]):
        super().__init__(operands=[updates, dest, list(indices)], result_types=[dest.type])

    def verify_(self) -> None:
        upd_t, dest_t = self.updates.type, self.dest.type
        assert isinstance(upd_t, TensorType) and isinstance(dest_t, TensorType)
        _check_indexing(self, dest_t, self.indices, upd_t, "updates")


# ---------------------------------------------------------------------------------
# Patch extraction for convolutions: im2col and its adjoint col2im
# ---------------------------------------------------------------------------------


def window_count(size: int, kernel: int, stride: int, dilation: int, pad_before: int,
                 pad_after: int) -> int:
    """How many windows of `kernel` taps `dilation` apart, moved by `stride`, fit in
    `size` elements padded with `pad_before` and `pad_after` (< 1: none fits)."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


class WindowOp(TcOp):
    """Base of im2col/col2im: an image (N, C, H, W) and its patches (N, OH, OW, C,
    KH, KW) with static `kernel` (KH, KW), `strides` (SH, SW), `dilations` (DH, DW)
    and zero `pads` (top, left, bottom, right); OH = window_count(H, KH, SH, DH,
    top, bottom), OW likewise."""

    kernel = prop_def(DenseArrayBase)
    strides = prop_def(DenseArrayBase)
    dilations = prop_def(DenseArrayBase)
    pads = prop_def(DenseArrayBase)

    def window(self) -> tuple[tuple[int, ...], ...]:
        """(kernel, strides, dilations, pads) as tuples of ints."""
        return tuple(
            tuple(p.get_values())  # type: ignore[misc]
            for p in (self.kernel, self.strides, self.dilations, self.pads)
        )

    def _verify_window(self, image: TensorType, patches: TensorType) -> None:
        kernel, strides, dilations, pads = self.window()
        for what, values, size, least in (("kernel", kernel, 2, 1),
                                          ("strides", strides, 2, 1),
                                          ("dilations", dilations, 2, 1),
                                          ("pads", pads, 4, 0)):
            if len(values) != size or any(v < least for v in values):
                _fail(self, f"{what} must have {size} entries >= {least}, got "
                            f"{list(values)}")
        if image.get_element_type() != patches.get_element_type():
            _fail(self, f"element types differ: {image} vs {patches}")
        if image.get_num_dims() != 4 or patches.get_num_dims() != 6:
            _fail(self, f"needs a 4-d image (N, C, H, W) and 6-d patches (N, OH, OW, "
                        f"C, KH, KW), got {image} and {patches}")
        n, c, *sizes = image.get_shape()
        counts = patches.get_shape()[1:3]
        want = [n, *counts, c, *kernel]
        if not all(map(_dims_compatible, want, patches.get_shape())):
            _fail(self, f"patches {patches} do not match image {image} and kernel "
                        f"{list(kernel)}")
        for axis, size in enumerate(sizes):
            if size == DYNAMIC:
                continue
            count = window_count(size, kernel[axis], strides[axis], dilations[axis],
                                 pads[axis], pads[axis + 2])
            if count < 1:
                _fail(self, f"the kernel (dim {axis}: {kernel[axis]} taps, dilation "
                            f"{dilations[axis]}) is larger than the padded image {image}")
            if not _dims_compatible(count, counts[axis]):
                _fail(self, f"patches dim {axis + 1} must be {count}, got {counts[axis]}")


def _window_properties(kernel: Sequence[int], strides: Sequence[int],
                       dilations: Sequence[int], pads: Sequence[int]
                       ) -> dict[str, Attribute]:
    return {"kernel": _i64_array(kernel), "strides": _i64_array(strides),
            "dilations": _i64_array(dilations), "pads": _i64_array(pads)}


@irdl_op_definition
class Im2colOp(WindowOp):
    """The patches of an image: result[n, oh, ow, c, kh, kw] =
    input[n, c, oh * SH + kh * DH - pad_top, ow * SW + kw * DW - pad_left], zero
    where that position is outside the input (in the padding). A convolution is
    these patches, reshaped to (N * OH * OW, C * KH * KW), times the filters.
    The kernel must fit in the padded input (OH, OW >= 1; checked at run time when
    H or W is dynamic).

    Example:

        %p = tc.im2col %x kernel = array<i64: 5, 5> strides = array<i64: 1, 1>
               dilations = array<i64: 1, 1> pads = array<i64: 2, 2, 2, 2>
               : tensor<?x1x28x28xf64> -> tensor<?x28x28x1x5x5xf64>
    """

    name = "tc.im2col"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = (
        "$input `kernel` `=` qualified($kernel) `strides` `=` qualified($strides) "
        "`dilations` `=` qualified($dilations) `pads` `=` qualified($pads) attr-dict "
        "`:` type($input) `->` type($result)"
    )

    def __init__(self, input: SSAValue, kernel: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int], pads: Sequence[int]):
        t = input.type
        assert isinstance(t, TensorType)
        n, c, *sizes = t.get_shape()
        counts = [
            DYNAMIC if size == DYNAMIC else window_count(
                size, kernel[a], strides[a], dilations[a], pads[a], pads[a + 2])
            for a, size in enumerate(sizes)
        ]
        result = TensorType(t.get_element_type(), [n, *counts, c, *kernel])
        super().__init__(operands=[input], result_types=[result],
                         properties=_window_properties(kernel, strides, dilations, pads))

    def verify_(self) -> None:
        in_t, out_t = self.input.type, self.result.type
        assert isinstance(in_t, TensorType) and isinstance(out_t, TensorType)
        self._verify_window(in_t, out_t)


@irdl_op_definition
class Col2imOp(WindowOp):
    """The adjoint of `tc.im2col`: every patch element summed into the image
    position it was read from (elements read from the padding are dropped):
    result[n, c, h, w] = sum of input[n, oh, ow, c, kh, kw] over the (oh, kh, ow,
    kw) with oh * SH + kh * DH - pad_top == h and ow * SW + kw * DW - pad_left == w.
    The image's H and W are static in the result type or given by the `dims`
    operands (0-d integers, one per dynamic one, H first); OH and OW of the input
    must be the counts im2col gives for them (checked at run time). The gradient
    of `tc.im2col`, and im2col the gradient of this op.

    Example:

        %x = tc.col2im %p(%h) kernel = array<i64: 3, 3> strides = array<i64: 2, 2>
               dilations = array<i64: 1, 1> pads = array<i64: 1, 1, 1, 1>
               : tensor<?x?x4x8x3x3xf64>, tensor<i64> -> tensor<?x8x?x8xf64>
    """

    name = "tc.col2im"
    input = operand_def(TensorType)
    dims = var_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = (
        "$input `(` $dims `)` `kernel` `=` qualified($kernel) `strides` `=` "
        "qualified($strides) `dilations` `=` qualified($dilations) `pads` `=` "
        "qualified($pads) attr-dict `:` type($input) `,` type($dims) `->` "
        "type($result)"
    )

    def __init__(self, input: SSAValue, result_type: TensorType,
                 dims: Sequence[SSAValue], kernel: Sequence[int],
                 strides: Sequence[int], dilations: Sequence[int],
                 pads: Sequence[int]):
        super().__init__(operands=[input, list(dims)], result_types=[result_type],
                         properties=_window_properties(kernel, strides, dilations, pads))

    def verify_(self) -> None:
        in_t, out_t = self.input.type, self.result.type
        assert isinstance(in_t, TensorType) and isinstance(out_t, TensorType)
        self._verify_window(out_t, in_t)
        n_dynamic = sum(d == DYNAMIC for d in out_t.get_shape()[2:])
        if len(self.dims) != n_dynamic:
            _fail(self, f"expected {n_dynamic} dims operands (one per dynamic H, W of "
                        f"the result), got {len(self.dims)}")
        for i, d in enumerate(self.dims):
            _check_dims_operand(self, d, f"dims #{i}")


# ---------------------------------------------------------------------------------
# Fused elementwise kernels (built by tc-fuse-elemwise after tc-autodiff)
# ---------------------------------------------------------------------------------

BODY_DIALECTS = ("arith", "math")
"""Dialects whose (scalar) ops may appear in a tc.composite body."""


def aligned_shape(t: TensorType, rank: int) -> list[int | None]:
    """`t`'s dims right-aligned to `rank` dims; None where `t` has no dim."""
    shape = list(t.get_shape())
    return [None] * (rank - len(shape)) + shape


@dataclass(frozen=True)
class DimCheck:
    """A run-time shape rule of a composite: along result `axis`, input `lhs` (or
    the static result dim when None) and input `rhs` have the same size, each read
    at its right-aligned dim. `origin` is the body op where the unfused program
    compared them (its NameLoc names the tc op and the user line), or the
    composite itself for rules that no single absorbed op stated."""

    axis: int
    lhs: int | None
    rhs: int
    origin: Operation


@irdl_op_definition
class CompositeOp(TcOp):
    """A fused elementwise kernel (Theano's `Elemwise{Composite}`): every result
    element is the scalar `body` applied to the input elements at the same index.

    Structure (what every backend may rely on):
    - `inputs`: tensors of any element types. Each input broadcasts to the result
      shape numpy-style, as `tc.broadcast` would: right-aligned, a dim statically
      equal to 1 stretches, any other dim equals the result dim (checked at run
      time). Every dynamic result dim is set by at least one input whose aligned
      dim is not a static 1.
    - `outputs`: one or more tensors, all of one shape (their element types may
      differ).
    - `body`: one block whose arguments are the inputs' element types (f16/f32/f64,
      i8..i64, i1), holding only `arith`/`math` ops and ending in `tc.yield` of one
      value per output, of the output's element type. Isolated from above. Each
      body op's location is `NameLoc("tc.<op>", loc)`: the tc op it came from.
    - `location`: a `FusedLoc` of the absorbed ops' locations, so messages name
      all the user lines.
    - `expression` (optional, informational, ignored by every lowering): the
      tc-level recipe for printers, `name(arg, ...)` steps separated by `; `, then
      `-> ` and the step (or input) of each output. Arguments are inputs `iN`,
      earlier steps `%N` or scalar literals (absorbed splat constants); `cast`
      steps name their result dtype: `cast{float32}(i0)`.

    Example:

        %y, %m = tc.composite %x, %b : (tensor<?x4xf64>, tensor<4xf64>)
                   -> (tensor<?x4xf64>, tensor<?x4xi1>)
                   attributes {expression = "add(i0, i1); gt(%0, 0.0) -> %0, %1"} {
        ^bb0(%xi: f64, %bi: f64):
          %s = arith.addf %xi, %bi : f64
          %zero = arith.constant 0.0 : f64
          %p = arith.cmpf ogt, %s, %zero : f64
          tc.yield %s, %p : f64, i1
        }
    """

    name = "tc.composite"
    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    body = region_def("single_block")
    expression = opt_attr_def(StringAttr)
    traits = traits_def(Pure(), IsolatedFromAbove())
    assembly_format = (
        "$inputs `:` functional-type($inputs, $outputs) "
        "attr-dict-with-keyword $body"
    )

    def __init__(
        self,
        inputs: Sequence[SSAValue],
        output_types: Sequence[Attribute],
        body: Region,
        expression: str | None = None,
    ):
        attributes = {}
        if expression is not None:
            attributes["expression"] = StringAttr(expression)
        super().__init__(
            operands=[list(inputs)],
            result_types=[list(output_types)],
            regions=[body],
            attributes=attributes,
        )

    @property
    def block(self) -> Block:
        return self.body.block

    @property
    def yield_op(self) -> YieldOp:
        last = self.block.last_op
        assert isinstance(last, YieldOp)
        return last

    def result_type(self) -> TensorType:
        t = self.outputs[0].type
        assert isinstance(t, TensorType)
        return t

    def input_shape(self, index: int) -> list[int | None]:
        """Input `index`'s dims right-aligned to the result rank."""
        t = self.inputs[index].type
        assert isinstance(t, TensorType)
        return aligned_shape(t, self.result_type().get_num_dims())

    def dim_sources(self, index: int) -> dict[int, int]:
        """Result axis -> aligned dim of input `index`, where it does not stretch."""
        shape = self.input_shape(index)
        return {axis: d for axis, d in enumerate(shape) if d not in (None, 1)}

    def dim_checks(self) -> list[DimCheck]:
        """The run-time shape rules, at most one per input and axis: input pairs
        are compared where the body first combines them (the absorbed op that
        compared them unfused), then the static result dims. After these checks
        every non-stretching input dim equals the result dim."""
        return _dim_checks(self)

    def input_dim(self, index: int, axis: int) -> int:
        """Which dim of input `index` is aligned with result `axis`."""
        t = self.inputs[index].type
        assert isinstance(t, TensorType)
        return axis - (self.result_type().get_num_dims() - t.get_num_dims())

    def check_message(self, check: DimCheck) -> str:
        """`tc.mul (created at model.py:4), fused: dim 0 of input #2 differs from
        dim 0 of input #0` (the C emitter appends the two sizes)."""
        rhs = self._input_dim_text(check.rhs, check.axis)
        if check.lhs is None:
            lhs = f"the static output dim {check.axis}"
        else:
            lhs = self._input_dim_text(check.lhs, check.axis)
        return f"{origin_text(check.origin)}, fused: {rhs} differs from {lhs}"

    def _input_dim_text(self, index: int, axis: int) -> str:
        """`dim 0 of input #1 (y)`: the name when the value has one."""
        hint = self.inputs[index].name_hint
        name = f"input #{index} ({hint})" if hint else f"input #{index}"
        return f"dim {self.input_dim(index, axis)} of {name}"

    def verify_(self) -> None:
        _verify_composite_types(self)
        _verify_composite_body(self)


def _dim_checks(op: CompositeOp) -> list[DimCheck]:
    """Union-find over the inputs, joined in body order; each component keeps one
    representative input per axis, compared with the representatives it meets."""
    n = len(op.inputs)
    parent = list(range(n))
    representative = [{axis: i for axis in op.dim_sources(i)} for i in range(n)]
    checks: list[DimCheck] = []

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def merge(roots: list[int], origin: Operation) -> int:
        base = roots[0]
        for other in roots[1:]:
            for axis, index in representative[other].items():
                if axis in representative[base]:
                    lhs = representative[base][axis]
                    checks.append(DimCheck(axis, lhs, index, origin))
                else:
                    representative[base][axis] = index
            parent[other] = base
        return base

    component: dict[SSAValue, int] = {arg: i for i, arg in enumerate(op.block.args)}
    for body_op in op.block.ops:
        roots = list(dict.fromkeys(
            root(component[v]) for v in body_op.operands if v in component
        ))
        if roots:
            base = merge(roots, body_op)
            component.update((r, base) for r in body_op.results)
    roots = list(dict.fromkeys(root(i) for i in range(n)))
    if not roots:
        return checks
    base = merge(roots, op)
    for axis, static in enumerate(op.result_type().get_shape()):
        index = representative[base].get(axis)
        dynamic = index is not None and op.input_shape(index)[axis] == DYNAMIC
        if static != DYNAMIC and dynamic:
            checks.append(DimCheck(axis, None, index, op))  # type: ignore[arg-type]
    return checks


def _verify_composite_types(op: CompositeOp) -> None:
    if not op.outputs:
        _fail(op, "needs at least one output")
    out_t = op.result_type()
    for i, result in enumerate(op.outputs):
        t = result.type
        assert isinstance(t, TensorType)
        if t.get_shape() != out_t.get_shape():
            _fail(op, f"outputs must share one shape: output #{i} is {t}, "
                      f"output #0 is {out_t}")
    rank = out_t.get_num_dims()
    determined = set()
    for i, value in enumerate(op.inputs):
        t = value.type
        assert isinstance(t, TensorType)
        if t.get_num_dims() > rank:
            _fail(op, f"input #{i} {t} has a higher rank than the outputs {out_t}")
        for axis, (d, r) in enumerate(zip(op.input_shape(i), out_t.get_shape())):
            if d not in (None, 1) and not _dims_compatible(d, r):
                _fail(op, f"input #{i} {t} does not broadcast to {out_t} (dim {axis})")
        determined.update(op.dim_sources(i))
    for axis, d in enumerate(out_t.get_shape()):
        if d == DYNAMIC and axis not in determined:
            _fail(op, f"dynamic output dim {axis} is not set by any input "
                      "(every input stretches there)")


def _verify_composite_body(op: CompositeOp) -> None:
    block = op.block
    arg_types = [a.type for a in block.args]
    want = [_element(v.type) for v in op.inputs]
    if arg_types != want:
        _fail(op, f"body arguments must be the input element types "
                  f"{_types_text(want)}, got {_types_text(arg_types)}")
    last = block.last_op
    if not isinstance(last, YieldOp):
        _fail(op, "body must end in tc.yield")
    assert isinstance(last, YieldOp)
    got = [v.type for v in last.values]
    want = [_element(r.type) for r in op.outputs]
    if got != want:
        _fail(op, f"tc.yield types {_types_text(got)} must be the output element "
                  f"types {_types_text(want)}")
    for body_op in block.ops:
        if body_op is not last and body_op.dialect_name() not in BODY_DIALECTS:
            _fail(op, f"body may hold only arith/math ops, found {body_op.name}")


def _types_text(types: Sequence[Attribute]) -> str:
    return f"({', '.join(str(t) for t in types)})"


def _element(t: Attribute) -> Attribute:
    assert isinstance(t, TensorType)
    return t.get_element_type()


@irdl_op_definition
class YieldOp(IRDLOperation):
    """The terminator of a tc.composite body: one scalar per composite output.

    Example:

        tc.yield %s, %p : f64, i1
    """

    name = "tc.yield"
    values = var_operand_def()
    traits = traits_def(IsTerminator(), Pure(), HasParent(CompositeOp))
    assembly_format = "$values attr-dict `:` type($values)"

    def __init__(self, *values: SSAValue):
        super().__init__(operands=[list(values)])



@irdl_op_definition
class ScanOp(TcOp):
    """A loop over steps (Theano's `scan`): `n_steps` calls of the function `@body`,
    stacking every result along a new leading axis.

    Operands: `n_steps` (0-d i64, at least 1), then `sequences` (each with a leading
    axis of at least `n_steps`; step t reads element t), `inits` (the initial
    states) and `params` (passed unchanged to every step). `@body` takes (one element
    of each sequence, each state, each param) and returns (each new state, with the
    type of its init; then the other per-step outputs). Result k is result k of
    every step stacked: result k at index t is what step t returned, so a state's
    stacked result starts with the state *after* step 0. Every step's output k
    must have the same shape. With `reverse`, steps run from t = n_steps - 1 down
    to 0 (results still stored at index t). With `final_states`, the state results
    are not stacked: each is the state after the last step, with its init's type
    (a backward scan keeps only its final sums).

    Example:

        %hs, %ys = tc.scan @step(%n) sequences(%x : tensor<?x3xf64>)
                     inits(%h0 : tensor<3xf64>) params(%w : tensor<3x3xf64>)
                     -> tensor<?x3xf64>, tensor<?xf64>
    """

    name = "tc.scan"
    n_steps = operand_def(TensorType(i64, []))
    sequences = var_operand_def(TensorType)
    inits = var_operand_def(TensorType)
    params = var_operand_def(TensorType)
    results_ = var_result_def(TensorType)
    body = prop_def(SymbolRefAttr)
    reverse = opt_prop_def(UnitAttr)
    final_states = opt_prop_def(UnitAttr)
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    assembly_format = (
        "$body `(` $n_steps `)` "
        "(`sequences` `(` $sequences^ `:` type($sequences) `)`)? "
        "(`inits` `(` $inits^ `:` type($inits) `)`)? "
        "(`params` `(` $params^ `:` type($params) `)`)? "
        "(`reverse` $reverse^)? (`final_states` $final_states^)? "
        "attr-dict `->` type($results_)"
    )

    @property
    def callee(self) -> str:
        return self.body.string_value()

    def verify_(self) -> None:
        if len(self.results_) < len(self.inits):
            _fail(self, "every state needs a result")
        for i, seq in enumerate(self.sequences):
            if _tensor(seq).get_num_dims() == 0:
                _fail(self, f"sequence #{i} must have a leading axis to iterate over")
        for k, (init, result) in enumerate(zip(self.inits, self.results_)):
            if self.final_states is not None:
                if result.type != init.type:
                    _fail(self, f"result #{k} must be a final state of type {init.type}")
                continue
            stacked = _tensor(result)
            if list(stacked.get_shape()[1:]) != list(_tensor(init).get_shape()) or (
                stacked.get_element_type() != _tensor(init).get_element_type()
            ):
                _fail(self, f"result #{k} must stack states of type {init.type}")
        for k, result in enumerate(self.stacked_results()):
            if _tensor(result).get_num_dims() == 0:
                _fail(self, f"result #{k} must have the leading step axis")
        self._verify_body()

    def _verify_body(self) -> None:
        from xdsl.dialects.func import FuncOp
        from xdsl.traits import SymbolTable

        body = SymbolTable.lookup_symbol(self, self.body)
        if not isinstance(body, FuncOp) or body.is_declaration:
            _fail(self, f"{self.body} is not a func.func with a body")
            return
        inputs, outputs = body.function_type.inputs.data, body.function_type.outputs.data
        if list(inputs) != self.body_argument_types():
            _fail(self, f"{self.body} must take ({_types(self.body_argument_types())})")
        if list(outputs) != self.body_result_types():
            _fail(self, f"{self.body} must return ({_types(self.body_result_types())})")

    def body_argument_types(self) -> list[TensorType]:
        """The types `@body` takes: an element of each sequence, then the states
        and the params."""
        elements = [
            TensorType(_tensor(s).get_element_type(), _tensor(s).get_shape()[1:])
            for s in self.sequences
        ]
        return [*elements, *(_tensor(v) for v in (*self.inits, *self.params))]

    def stacked_results(self) -> list[SSAValue]:
        """The results stacked over the steps (all but final states)."""
        final = len(self.inits) if self.final_states is not None else 0
        return list(self.results_[final:])

    def body_result_types(self) -> list[TensorType]:
        """The types `@body` returns: each result without its step axis."""
        final = len(self.inits) if self.final_states is not None else 0
        return [
            *(_tensor(r) for r in self.results_[:final]),
            *(
                TensorType(_tensor(r).get_element_type(), _tensor(r).get_shape()[1:])
                for r in self.results_[final:]
            ),
        ]


def _types(types: Sequence[Attribute]) -> str:
    return ", ".join(map(str, types))


def _tensor(value: SSAValue) -> TensorType:
    t = value.type
    assert isinstance(t, TensorType)
    return t


ELEMENTWISE_OPS: tuple[type, ...] = (
    NegOp, AbsOp, SignOp, NotOp, *FLOAT_UNARY_OPS.values(), *BINARY_OPS.values(),
    *COMPARE_OPS.values(), SelectOp, CastOp, HashUniformOp,
)
"""Ops computed independently per element (fusion and loop lowering use this)."""

ALL_OPS: tuple[type, ...] = (
    *ELEMENTWISE_OPS, ConstantOp, BroadcastOp, *REDUCTION_OPS.values(), MatmulOp,
    TransposeOp, ReshapeOp, SliceOp, GatherOp, ConcatenateOp, DimOp, ArangeOp, GradOp,
    StopGradientOp, InsertSliceOp, ScatterAddOp, Im2colOp, Col2imOp, CompositeOp,
    ScanOp,
)

OPS_BY_NAME: dict[str, type] = {op.name.removeprefix("tc."): op for op in ALL_OPS}

TC = Dialect("tc", [*ALL_OPS, YieldOp], [])
"""The dialect: every op of ALL_OPS (the ops on tensors) plus tc.yield, the
terminator of composite bodies."""
