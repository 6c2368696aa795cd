"""`GradBuilder`: typed construction of the tc ops that VJP rules emit.

Rules think in values ("g * cos(x)"); the builder infers every result type, reads
dynamic dims with `tc.dim`, puts each new op at one insertion point (before the
`tc.grad` being expanded) and gives it the location of the op being differentiated,
so that run-time errors in gradient code still name the user's line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects.builtin import (
    DenseArrayBase,
    IntegerAttr,
    LocationAttr,
    TensorType,
    UnitAttr,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.rewriter import InsertPoint

from tensorc.dialects import tc
from tensorc.dialects.tc import DYNAMIC

BIG = 2**62
"""A slice bound standing for Python's `None` (slice clamping makes it exact)."""


def tensor_of(value: SSAValue) -> TensorType:
    t = value.type
    assert isinstance(t, TensorType), f"expected a tensor value, got {t}"
    return t


def shape(value: SSAValue) -> tuple[int, ...]:
    """Static shape with DYNAMIC entries (as in the type)."""
    return tuple(tensor_of(value).get_shape())


def element(value: SSAValue) -> Attribute:
    return tensor_of(value).get_element_type()


def _i64_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


class GradBuilder:
    """Inserts tc ops at one point; every helper returns the new op's result."""

    def __init__(self, point: InsertPoint) -> None:
        self._builder = Builder(point)
        self.location: LocationAttr | None = None
        """Location given to new ops: the op whose VJP is being emitted."""
        self.created: list[Operation] = []

    def emit(self, op: Operation) -> SSAValue:
        if self.location is not None:
            op.location = self.location
        self._builder.insert(op)
        self.created.append(op)
        return op.results[0]

    # -- constants and shapes ------------------------------------------------------

    def constant(self, value: float, t: TensorType) -> SSAValue:
        """A splat `tc.constant` of static type `t`."""
        return self.emit(tc.ConstantOp(tc.dense_from_array(np.array(value), t)))

    def scalar(self, value: float, like: SSAValue) -> SSAValue:
        """A 0-d constant of `like`'s element type."""
        return self.constant(value, TensorType(element(like), []))

    def dim(self, value: SSAValue, axis: int) -> SSAValue:
        """`value.shape[axis]` as a 0-d i64 value (a constant when static)."""
        size = shape(value)[axis]
        if size != DYNAMIC:
            return self.constant(size, TensorType(i64, []))
        return self.emit(tc.DimOp.build(
            operands=[value], result_types=[TensorType(i64, [])],
            properties={"axis": IntegerAttr(axis, i64)},
        ))

    def dynamic_dims(self, value: SSAValue, axes: Sequence[int] | None = None
                     ) -> list[SSAValue]:
        """`tc.dim` of each dynamic dim of `value` (among `axes`, default all)."""
        dims = shape(value)
        chosen = range(len(dims)) if axes is None else axes
        return [self.dim(value, a) for a in chosen if dims[a] == DYNAMIC]

    def full_like(self, fill: float, like: SSAValue,
                  elt: Attribute | None = None) -> SSAValue:
        """`fill` in `like`'s shape (and element type unless `elt` is given)."""
        t = TensorType(elt or element(like), shape(like))
        if t.has_static_shape():
            return self.constant(fill, t)
        return self.broadcast(self.constant(fill, TensorType(t.get_element_type(), [])),
                              t, self.dynamic_dims(like))

    def zeros_like(self, like: SSAValue) -> SSAValue:
        return self.full_like(0, like)

    def broadcast(self, x: SSAValue, t: TensorType, dims: Sequence[SSAValue]
                  ) -> SSAValue:
        if x.type == t:
            return x
        broadcast = tc.BroadcastOp.build(operands=[x, list(dims)], result_types=[t])
        return self.emit(broadcast)

    def broadcast_like(self, x: SSAValue, like: SSAValue) -> SSAValue:
        """`x` (keeping its element type) broadcast to `like`'s shape."""
        t = TensorType(element(x), shape(like))
        return self.broadcast(x, t, self.dynamic_dims(like))

    def reshape(self, x: SSAValue, t: TensorType, dims: Sequence[SSAValue]) -> SSAValue:
        if x.type == t:
            return x
        return self.emit(tc.ReshapeOp.build(operands=[x, list(dims)], result_types=[t]))

    def conform(self, x: SSAValue, like: SSAValue) -> SSAValue:
        """`x` with exactly `like`'s type when both have the same elements and
        shape at run time but differ in which dims are static."""
        t = TensorType(element(x), shape(like))
        return self.reshape(x, t, self.dynamic_dims(like))

    def keepdims_type(self, x: SSAValue, axes: Sequence[int],
                      elt: Attribute | None = None) -> TensorType:
        dims = [1 if a in axes else d for a, d in enumerate(shape(x))]
        return TensorType(elt or element(x), dims)

    def expand_reduced(self, g: SSAValue, x: SSAValue, axes: Sequence[int]) -> SSAValue:
        """A reduction's cotangent `g` with the reduced `axes` of `x` back as 1s."""
        t = self.keepdims_type(x, axes, element(g))
        kept = [a for a in range(len(shape(x))) if a not in axes]
        return self.reshape(g, t, self.dynamic_dims(x, kept))

    # -- elementwise ----------------------------------------------------------------

    def unary(self, cls: type[Operation], x: SSAValue) -> SSAValue:
        return self.emit(cls(x))

    def binary(self, cls: type[Operation], lhs: SSAValue, rhs: SSAValue) -> SSAValue:
        return self.emit(cls(lhs, rhs))

    def add(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.binary(tc.AddOp, a, b)

    def sub(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.binary(tc.SubOp, a, b)

    def mul(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.binary(tc.MulOp, a, b)

    def div(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.binary(tc.DivOp, a, b)

    def neg(self, x: SSAValue) -> SSAValue:
        return self.unary(tc.NegOp, x)

    def compare(self, name: str, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(tc.COMPARE_OPS[name](a, b))

    def select(self, condition: SSAValue, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(tc.SelectOp(condition, a, b))

    def cast(self, x: SSAValue, elt: Attribute) -> SSAValue:
        if element(x) == elt:
            return x
        t = TensorType(elt, shape(x))
        return self.emit(tc.CastOp.build(operands=[x], result_types=[t]))

    # -- structural ----------------------------------------------------------------

    def reduce(self, name: str, x: SSAValue, axes: Sequence[int], keepdims: bool
               ) -> SSAValue:
        cls = tc.REDUCTION_OPS[name]
        elt = cls.RESULT_ELEMENT or element(x)
        dims = shape(x)
        out = [1 if a in axes else d for a, d in enumerate(dims)] if keepdims else [
            d for a, d in enumerate(dims) if a not in axes]
        props: dict[str, Attribute] = {"axes": _i64_array(axes)}
        if keepdims:
            props["keepdims"] = UnitAttr()
        return self.emit(cls.build(operands=[x], result_types=[TensorType(elt, out)],
                                   properties=props))

    def transpose(self, x: SSAValue, perm: Sequence[int]) -> SSAValue:
        if list(perm) == list(range(len(perm))):
            return x
        t = TensorType(element(x), [shape(x)[p] for p in perm])
        return self.emit(tc.TransposeOp.build(
            operands=[x], result_types=[t], properties={"perm": _i64_array(perm)}))

    def matmul(self, a: SSAValue, b: SSAValue) -> SSAValue:
        t = TensorType(element(a), [*shape(a)[:-1], *shape(b)[1:]])
        return self.emit(tc.MatmulOp.build(operands=[a, b], result_types=[t]))

    def outer(self, u: SSAValue, v: SSAValue) -> SSAValue:
        """`u[:, None] * v[None, :]` of two 1-D values."""
        m, n = shape(u)[0], shape(v)[0]
        column = self.reshape(u, TensorType(element(u), [m, 1]), self.dynamic_dims(u))
        row = self.reshape(v, TensorType(element(v), [1, n]), self.dynamic_dims(v))
        t = TensorType(element(u), [m, n])
        dims = [*self.dynamic_dims(u), *self.dynamic_dims(v)]
        return self.mul(self.broadcast(column, t, dims), self.broadcast(row, t, dims))

    def slice(self, x: SSAValue, t: TensorType, bounds: Sequence[SSAValue],
              starts: Sequence[int], stops: Sequence[int], steps: Sequence[int]
              ) -> SSAValue:
        return self.emit(tc.SliceOp.build(
            operands=[x, list(bounds)], result_types=[t],
            properties={"starts": _i64_array(starts), "stops": _i64_array(stops),
                        "steps": _i64_array(steps)},
        ))

    def arange(self, n: SSAValue, length: int) -> SSAValue:
        """`arange(n)` (i64) of static `length` or DYNAMIC."""
        zero, one = self.scalar(0, n), self.scalar(1, n)
        t = TensorType(i64, [length])
        return self.emit(tc.ArangeOp.build(operands=[zero, n, one], result_types=[t]))

    # -- the generic unbroadcast ---------------------------------------------------

    def unbroadcast(self, g: SSAValue, like: SSAValue) -> SSAValue:
        """Sum `g` over the axes along which `like` was broadcast (numpy rules: added
        leading axes and statically-1 dims), giving `g` exactly `like`'s type."""
        g_dims, dims = shape(g), shape(like)
        lead = len(g_dims) - len(dims)
        stretched = [lead + a for a, d in enumerate(dims)
                     if d == 1 and g_dims[lead + a] != 1]
        axes = [*range(lead), *stretched]
        if axes:
            g = self.reduce("sum", g, axes, keepdims=False)
        return self.conform(g, like)
