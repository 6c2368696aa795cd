"""tc-bufferize: lower every tc op to `scf.for` loops over memrefs.

Preconditions:
- the module verifies; tc ops sit in the top-level block of `func.func` bodies;
- `tc.grad` has been expanded (tc-autodiff runs first).

Postconditions (the bufferized-IR contract of /work/notes/abi.md):
- no op of the tc dialect survives (declared legality; LoweringError otherwise), only
  builtin, func, scf, memref, arith, math and `cf.assert` remain;
- signatures take and return memrefs with the identity layout, in tensor order;
- every returned memref is a fresh `memref.alloc` of its function: a result that
  would be an argument, a constant global or returned twice is copied first;
- `memref.alloc` only appears in a function's top-level block;
- run-time shape and index checks are `cf.assert`s whose message names the op, what
  is wrong and the user's line;
- float32/float64 matmuls call the private `@tensorc_gemm_f32/f64` declarations;
- non-splat constants are `memref.global` constants read with `memref.get_global`;
  splat constants become scalar `arith.constant`s in the loops that read them.

Each op family has one small lowering function; `LOWERINGS` maps op classes to them.
A lowering returns the memref of the op's result (or a `Splat`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import arith, func, math, memref
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    Float16Type,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
    ModuleOp,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    UnitAttr,
    f32,
    f64,
    i64,
)
from xdsl.ir import Attribute, BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.traits import SymbolTable

from tensorc.dialects import tc
from tensorc.errors import LoweringError
from tensorc.lowering.buffers import (
    FunctionLowering,
    Splat,
    memref_type,
    non_negative,
    static_index,
)
from tensorc.lowering.elementwise import (
    ELEMENTWISE,
    cmpf,
    cmpi,
    constant,
    emit,
    max_int,
    min_int,
    select,
)
from tensorc.lowering.legality import check_lowered, describe

Lowering = Callable[[FunctionLowering, Operation], SSAValue | Splat]
IndexMap = Callable[[Builder, list[SSAValue]], list[SSAValue]]


def _tensor_type(value: SSAValue) -> TensorType:
    t = value.type
    assert isinstance(t, TensorType)
    return t


def _result(op: Operation) -> SSAValue:
    return op.results[0]


def _store(b: Builder, value: SSAValue, out: SSAValue, indices: Sequence[SSAValue]) -> None:
    b.insert(memref.StoreOp.get(value, out, list(indices)))


def _copy_mapped(
    fl: FunctionLowering, op: Operation, source: SSAValue, dims: list[SSAValue],
    index_map: IndexMap, keep_splat: bool = True,
) -> SSAValue | Splat:
    """out[ivs] = source[index_map(ivs)] over `dims`; a splat source stays a splat."""
    if keep_splat and source in fl.splats:
        return Splat(fl.splats[source].value, dims)
    out = fl.alloc(_tensor_type(_result(op)), dims)

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        _store(b, fl.element(b, source, index_map(b, ivs)), out, ivs)
        return []

    fl.loops(dims, body)
    return out


# ---------------------------------------------------------------------------------
# Index arithmetic at the top level, folded when the operands are constants
# ---------------------------------------------------------------------------------


def _index_op(
    fl: FunctionLowering, cls: type[Operation], fold: Callable[[int, int], int],
    x: SSAValue, y: SSAValue,
) -> SSAValue:
    sx, sy = static_index(x), static_index(y)
    if sx is not None and sy is not None:
        return fl.index(fold(sx, sy))
    return fl.arith(cls(x, y))


def _add(fl: FunctionLowering, x: SSAValue, y: SSAValue) -> SSAValue:
    if static_index(x) == 0 or static_index(y) == 0:
        return y if static_index(x) == 0 else x
    return _index_op(fl, arith.AddiOp, lambda a, c: a + c, x, y)


def _mul(fl: FunctionLowering, x: SSAValue, y: SSAValue) -> SSAValue:
    if static_index(x) == 1 or static_index(y) == 1:
        return y if static_index(x) == 1 else x
    return _index_op(fl, arith.MuliOp, lambda a, c: a * c, x, y)


def _product(fl: FunctionLowering, values: Sequence[SSAValue]) -> SSAValue:
    total = fl.index(1)
    for value in values:
        total = _mul(fl, total, value)
    return total


def _strides(fl: FunctionLowering, dims: Sequence[SSAValue]) -> list[SSAValue]:
    """Row-major strides (in elements) of a tensor with these dims."""
    strides = [fl.index(1)]
    for d in reversed(dims[1:]):
        strides.insert(0, _mul(fl, strides[0], d))
    return strides


def _linearize(b: Builder, ivs: Sequence[SSAValue], strides: Sequence[SSAValue]) -> SSAValue:
    linear: SSAValue | None = None
    for iv, stride in zip(ivs, strides, strict=True):
        term = iv if static_index(stride) == 1 else emit(b, arith.MuliOp(iv, stride))
        linear = term if linear is None else emit(b, arith.AddiOp(linear, term))
    assert linear is not None
    return linear


def _delinearize(
    b: Builder, linear: SSAValue, strides: Sequence[SSAValue], dims: Sequence[SSAValue]
) -> list[SSAValue]:
    """Row-major coordinates of a linear index (< the product of dims)."""
    coords = []
    for axis, (stride, dim) in enumerate(zip(strides, dims, strict=True)):
        c = linear if static_index(stride) == 1 else emit(b, arith.DivSIOp(linear, stride))
        if axis > 0:
            c = emit(b, arith.RemSIOp(c, dim))
        coords.append(c)
    return coords


def _target_dims(fl: FunctionLowering, op: Operation, operands: Sequence[SSAValue]) -> list[SSAValue]:
    """Dims of op's result type: static ones as constants, dynamic ones read from
    the 0-d `dims` operands in order (checked to be non-negative)."""
    it = iter(operands)
    dims = []
    for axis, d in enumerate(_tensor_type(_result(op)).get_shape()):
        if d != DYNAMIC_INDEX:
            dims.append(fl.index(d))
            continue
        value = fl.index_of(next(it))
        if not non_negative(value):
            fl.check(cmpi(fl.builder, "sge", value, fl.index(0)), op,
                     f"requested size of result dim {axis} is negative")
        dims.append(value)
    return dims


def _operand_names(op: Operation) -> list[str]:
    return [name for name, _ in type(op).get_irdl_definition().operands]


def _same_dims(
    fl: FunctionLowering, op: Operation, values: Sequence[SSAValue], names: Sequence[str]
) -> list[SSAValue]:
    """Dims of values of one tensor type, asserting their dynamic dims agree."""
    first = fl.dims(values[0])
    for value, name in zip(values[1:], names[1:]):
        if value is values[0]:
            continue
        for axis, (d0, d) in enumerate(zip(first, fl.dims(value), strict=True)):
            fl.check_equal(d0, d, op, f"{names[0]} dim {axis} differs from {name} dim {axis}")
    return first


# ---------------------------------------------------------------------------------
# Elementwise ops and constants
# ---------------------------------------------------------------------------------


def _lower_elementwise(fl: FunctionLowering, op: Operation) -> SSAValue | Splat:
    operands = list(op.operands)
    dims = _same_dims(fl, op, operands, _operand_names(op))
    build = ELEMENTWISE[type(op)]
    if all(v in fl.splats for v in operands):  # computed once, at the top level
        scalars = [fl.splats[v].scalar(fl.builder) for v in operands]
        return Splat(build(fl.builder, scalars, op), dims)
    out = fl.alloc(_tensor_type(_result(op)), dims)

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        scalars = [fl.element(b, v, ivs) for v in operands]
        _store(b, build(b, scalars, op), out, ivs)
        return []

    fl.loops(dims, body)
    return out


def _scalar_attr(value: object, element: Attribute) -> IntegerAttr | FloatAttr:
    if tc.is_float(element):
        return FloatAttr(float(value), element)  # type: ignore[arg-type]
    assert isinstance(element, IntegerType)
    return IntegerAttr(int(value), element)  # type: ignore[call-overload]


def _lower_constant(fl: FunctionLowering, op: tc.ConstantOp) -> SSAValue | Splat:
    t = _tensor_type(op.result)
    dims = [fl.index(d) for d in t.get_shape()]
    if len(op.value) == 1:
        value = tc.array_from_dense(op.value).reshape(-1)[0]
        return Splat(_scalar_attr(value, t.get_element_type()), dims)
    if len(op.value) == 0:
        return fl.alloc(t, dims)
    name = _fresh_symbol(fl.module, "tc_constant")
    glob = memref.GlobalOp.get(
        StringAttr(name), memref_type(t), op.value, constant=UnitAttr()
    )
    Rewriter.insert_op(glob, InsertPoint.before(_function_of(fl)))
    return fl.arith(memref.GetGlobalOp(name, memref_type(t)))


def _function_of(fl: FunctionLowering) -> Operation:
    fn = fl.block.parent_op()
    assert fn is not None
    return fn


def _fresh_symbol(module: ModuleOp, stem: str) -> str:
    n = 0
    while SymbolTable.lookup_symbol(module, f"{stem}_{n}") is not None:
        n += 1
    return f"{stem}_{n}"


# ---------------------------------------------------------------------------------
# Data movement: broadcast, transpose, reshape, slice, gather, concatenate
# ---------------------------------------------------------------------------------


def _lower_broadcast(fl: FunctionLowering, op: tc.BroadcastOp) -> SSAValue | Splat:
    target = _target_dims(fl, op, op.dims)
    in_shape = _tensor_type(op.input).get_shape()
    offset = len(target) - len(in_shape)
    in_dims = fl.dims(op.input)
    for axis, d in enumerate(in_shape):
        if d != 1:
            fl.check_equal(in_dims[axis], target[axis + offset], op,
                           f"input dim {axis} is not 1 and differs from target dim "
                           f"{axis + offset}")

    def source(b: Builder, ivs: list[SSAValue]) -> list[SSAValue]:
        return [fl.index(0) if d == 1 else ivs[axis + offset] for axis, d in enumerate(in_shape)]

    return _copy_mapped(fl, op, op.input, target, source)


def _lower_transpose(fl: FunctionLowering, op: tc.TransposeOp) -> SSAValue | Splat:
    perm = list(op.perm.get_values())
    in_dims = fl.dims(op.input)
    dims = fl.result_dims(op, [in_dims[p] for p in perm])

    def source(b: Builder, ivs: list[SSAValue]) -> list[SSAValue]:
        coords = [ivs[0]] * len(perm)
        for i, p in enumerate(perm):
            coords[p] = ivs[i]
        return coords

    return _copy_mapped(fl, op, op.input, dims, source)


def _lower_reshape(fl: FunctionLowering, op: tc.ReshapeOp) -> SSAValue | Splat:
    dims = _target_dims(fl, op, op.dims)
    in_dims = fl.dims(op.input)
    fl.check_equal(_product(fl, in_dims), _product(fl, dims), op,
                   "input and result element counts differ")
    out_strides, in_strides = _strides(fl, dims), _strides(fl, in_dims)

    def source(b: Builder, ivs: list[SSAValue]) -> list[SSAValue]:
        if not in_dims:
            return []
        if not ivs:
            return [fl.index(0)] * len(in_dims)
        return _delinearize(b, _linearize(b, ivs, out_strides), in_strides, in_dims)

    return _copy_mapped(fl, op, op.input, dims, source)


def _clamp(
    fl: FunctionLowering, value: int | SSAValue, n: SSAValue, step: int
) -> SSAValue:
    """Python's slice clamping of a start/stop into [0, n] (step > 0) or
    [-1, n - 1] (step < 0), after adding n to negative values."""
    lower = fl.index(0 if step > 0 else -1)
    upper = n if step > 0 else _add(fl, n, fl.index(-1))
    if isinstance(value, int):
        if value >= 0:
            return fl.arith(arith.MinSIOp(fl.index(value), upper))
        return fl.arith(arith.MaxSIOp(_add(fl, fl.index(value), n), lower))
    wrapped = fl.arith(arith.MaxSIOp(fl.arith(arith.AddiOp(value, n)), lower))
    kept = fl.arith(arith.MinSIOp(value, upper))
    return select(fl.builder, cmpi(fl.builder, "slt", value, fl.index(0)), wrapped, kept)


def _slice_axis(
    fl: FunctionLowering, n: SSAValue, start: int | SSAValue, stop: int | SSAValue, step: int
) -> tuple[SSAValue, SSAValue]:
    """(first index, length) of `slice(start, stop, step)` on a dim of size n."""
    static_n = static_index(n)
    if static_n is not None and isinstance(start, int) and isinstance(stop, int):
        first, _, _ = slice(start, stop, step).indices(static_n)
        return fl.index(first), fl.index(len(range(static_n)[start:stop:step]))
    first, last = _clamp(fl, start, n, step), _clamp(fl, stop, n, step)
    span = fl.arith(arith.SubiOp(last, first) if step > 0 else arith.SubiOp(first, last))
    span = fl.arith(arith.MaxSIOp(span, fl.index(0)))
    stride = fl.index(abs(step))
    rounded_up = fl.arith(arith.AddiOp(span, fl.index(abs(step) - 1)))
    return first, fl.arith(arith.DivSIOp(rounded_up, stride))


def _lower_slice(fl: FunctionLowering, op: tc.SliceOp) -> SSAValue | Splat:
    bounds = iter(op.bounds)

    def read(values: Sequence[int]) -> list[int | SSAValue]:
        return [fl.index_of(next(bounds)) if v == DYNAMIC_INDEX else v for v in values]

    starts, stops = read(op.starts.get_values()), read(op.stops.get_values())
    steps = list(op.steps.get_values())
    in_dims = fl.dims(op.input)
    axes = [_slice_axis(fl, *args) for args in zip(in_dims, starts, stops, steps)]
    dims = fl.result_dims(op, [length for _, length in axes])

    def source(b: Builder, ivs: list[SSAValue]) -> list[SSAValue]:
        coords = []
        for iv, (first, _), step in zip(ivs, axes, steps):
            offset = emit(b, arith.MuliOp(iv, fl.index(step))) if step != 1 else iv
            coords.append(emit(b, arith.AddiOp(first, offset)))
        return coords

    return _copy_mapped(fl, op, op.input, dims, source)


def _lower_gather(fl: FunctionLowering, op: tc.GatherOp) -> SSAValue | Splat:
    indices = list(op.indices)
    names = [f"index #{i}" for i in range(len(indices))]
    index_dims = _same_dims(fl, op, indices, names)
    in_dims = fl.dims(op.input)
    dims = fl.result_dims(op, index_dims + in_dims[len(indices):])
    rank = len(index_dims)

    def source(b: Builder, ivs: list[SSAValue]) -> list[SSAValue]:
        coords = []
        for axis, index in enumerate(indices):
            raw = emit(b, arith.IndexCastOp(fl.element(b, index, ivs[:rank]), IndexType()))
            wrapped = emit(b, arith.AddiOp(raw, in_dims[axis]))
            negative = cmpi(b, "slt", raw, fl.index(0))
            value = select(b, negative, wrapped, raw)
            fl.check(cmpi(b, "ult", value, in_dims[axis]), op,
                     f"index #{axis} out of range for input dim {axis} "
                     "(index after wrapping negatives, dim size)", b)
            coords.append(value)
        return coords + ivs[rank:]

    return _copy_mapped(fl, op, op.input, dims, source, keep_splat=False)


def _lower_concatenate(fl: FunctionLowering, op: tc.ConcatenateOp) -> SSAValue:
    axis = op.axis.value.data
    inputs = list(op.inputs)
    first = fl.dims(inputs[0])
    total = first[axis]
    for i, value in enumerate(inputs[1:], 1):
        dims_i = fl.dims(value)
        for a, (d0, d) in enumerate(zip(first, dims_i, strict=True)):
            if a != axis:
                fl.check_equal(d0, d, op, f"input #{i} dim {a} differs from input #0 dim {a}")
        total = _add(fl, total, dims_i[axis])
    dims = fl.result_dims(op, [total if a == axis else d for a, d in enumerate(first)])
    out = fl.alloc(_tensor_type(op.result), dims)
    offset = fl.index(0)
    for value in inputs:
        fl.loops(fl.dims(value), _shifted_copy(fl, value, out, axis, offset))
        offset = _add(fl, offset, fl.dims(value)[axis])
    return out


def _shifted_copy(
    fl: FunctionLowering, value: SSAValue, out: SSAValue, axis: int, offset: SSAValue
) -> Callable[[Builder, list[SSAValue], list[SSAValue]], list[SSAValue]]:
    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        target = list(ivs)
        if static_index(offset) != 0:
            target[axis] = emit(b, arith.AddiOp(ivs[axis], offset))
        _store(b, fl.element(b, value, ivs), out, target)
        return []

    return body


def _slice_axes(
    fl: FunctionLowering, op: tc.InsertSliceOp, dims: Sequence[SSAValue]
) -> list[tuple[SSAValue, SSAValue]]:
    """(first index, length) per dim of a slicing op's slices of a tensor with `dims`;
    dynamic starts come first in `bounds`, then stops."""
    bounds = iter(op.bounds)

    def read(values: Sequence[int]) -> list[int | SSAValue]:
        return [fl.index_of(next(bounds)) if v == DYNAMIC_INDEX else v for v in values]

    starts, stops = read(op.starts.get_values()), read(op.stops.get_values())
    steps = op.steps.get_values()
    return [_slice_axis(fl, *args) for args in zip(dims, starts, stops, steps)]


def _lower_insert_slice(fl: FunctionLowering, op: tc.InsertSliceOp) -> SSAValue:
    """A copy of dest, then source stored into the slice."""
    axes = _slice_axes(fl, op, fl.dims(op.dest))
    source_dims = fl.dims(op.source)
    for axis, ((_, length), size) in enumerate(zip(axes, source_dims, strict=True)):
        fl.check_equal(length, size, op, f"source dim {axis} differs from the slice length")
    out = fl.copy(op.dest)
    steps = op.steps.get_values()

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        target = []
        for iv, (first, _), step in zip(ivs, axes, steps):
            offset = emit(b, arith.MuliOp(iv, fl.index(step))) if step != 1 else iv
            target.append(emit(b, arith.AddiOp(first, offset)))
        _store(b, fl.element(b, op.source, ivs), out, target)
        return []

    fl.loops(source_dims, body)
    return out


def _scatter_target(
    fl: FunctionLowering, op: tc.ScatterAddOp, b: Builder, ivs: list[SSAValue],
    dest_dims: list[SSAValue], rank: int,
) -> list[SSAValue]:
    """The dest coordinates that update element `ivs` adds to (negatives wrap)."""
    coords = []
    for axis, index in enumerate(op.indices):
        raw = emit(b, arith.IndexCastOp(fl.element(b, index, ivs[:rank]), IndexType()))
        wrapped = emit(b, arith.AddiOp(raw, dest_dims[axis]))
        value = select(b, cmpi(b, "slt", raw, fl.index(0)), wrapped, raw)
        fl.check(cmpi(b, "ult", value, dest_dims[axis]), op,
                 f"index #{axis} out of range for dest dim {axis} "
                 "(index after wrapping negatives, dim size)", b)
        coords.append(value)
    return coords + ivs[rank:]


def _lower_scatter_add(fl: FunctionLowering, op: tc.ScatterAddOp) -> SSAValue:
    """A copy of dest, then each update added at its indexed position in order
    (repeated indices accumulate)."""
    indices = list(op.indices)
    index_dims = _same_dims(fl, op, indices, [f"index #{i}" for i in range(len(indices))])
    dest_dims, update_dims = fl.dims(op.dest), fl.dims(op.updates)
    expected = index_dims + dest_dims[len(indices):]
    for axis, (want, size) in enumerate(zip(expected, update_dims, strict=True)):
        fl.check_equal(want, size, op, f"updates dim {axis} differs from the indexed shape")
    out = fl.copy(op.dest)
    element = _tensor_type(op.dest).get_element_type()
    add = (arith.AddfOp if tc.is_float(element) else
           arith.OrIOp if tc.is_bool(element) else arith.AddiOp)

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        target = _scatter_target(fl, op, b, ivs, dest_dims, len(index_dims))
        old = emit(b, memref.LoadOp.get(out, target))
        _store(b, emit(b, add(old, fl.element(b, op.updates, ivs))), out, target)
        return []

    fl.loops(update_dims, body)
    return out


# ---------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Combiner:
    """How one reduction starts and accumulates, per element kind (f, i, b)."""

    start: dict[str, Callable[[Attribute], float | int]]
    step: dict[str, type[Operation]]


def _min_of(t: Attribute) -> float | int:
    return float("-inf") if tc.is_float(t) else min_int(t)  # type: ignore[arg-type]


def _max_of(t: Attribute) -> float | int:
    return float("inf") if tc.is_float(t) else max_int(t)  # type: ignore[arg-type]


# On i1, numpy's sum/max are logical or and prod/min are logical and.
COMBINERS: dict[str, Combiner] = {
    "sum": Combiner({"f": lambda t: 0, "i": lambda t: 0, "b": lambda t: 0},
                    {"f": arith.AddfOp, "i": arith.AddiOp, "b": arith.OrIOp}),
    "prod": Combiner({"f": lambda t: 1, "i": lambda t: 1, "b": lambda t: 1},
                     {"f": arith.MulfOp, "i": arith.MuliOp, "b": arith.AndIOp}),
    "max": Combiner({"f": _min_of, "i": _min_of, "b": lambda t: 0},
                    {"f": arith.MaximumfOp, "i": arith.MaxSIOp, "b": arith.OrIOp}),
    "min": Combiner({"f": _max_of, "i": _max_of, "b": lambda t: 1},
                    {"f": arith.MinimumfOp, "i": arith.MinSIOp, "b": arith.AndIOp}),
}
"""Reduction name -> (identity or start value, combining op) per element kind."""


def _kind(t: Attribute) -> str:
    return "f" if tc.is_float(t) else "b" if tc.is_bool(t) else "i"


@dataclass
class ReductionPlan:
    """Loops of a reduction: outer loops over the kept dims, inner over the reduced."""

    out: SSAValue
    outer: list[SSAValue]
    inner: list[SSAValue]
    axes: tuple[int, ...]
    keepdims: bool

    def input_index(self, outer_ivs: list[SSAValue], inner_ivs: list[SSAValue]) -> list[SSAValue]:
        kept, reduced = iter(outer_ivs), iter(inner_ivs)
        rank = len(self.outer) + len(self.inner)
        return [next(reduced) if a in self.axes else next(kept) for a in range(rank)]

    def output_index(self, fl: FunctionLowering, outer_ivs: list[SSAValue]) -> list[SSAValue]:
        if not self.keepdims:
            return outer_ivs
        kept = iter(outer_ivs)
        rank = len(self.outer) + len(self.inner)
        return [fl.index(0) if a in self.axes else next(kept) for a in range(rank)]


def _plan_reduction(fl: FunctionLowering, op: tc.ReductionOp, needs_elements: bool) -> ReductionPlan:
    axes = op.reduced_axes()
    keep = op.keepdims is not None
    in_dims = fl.dims(op.input)
    inner = [in_dims[a] for a in axes]
    outer = [d for a, d in enumerate(in_dims) if a not in axes]
    out_dims = [fl.index(1) if a in axes else d for a, d in enumerate(in_dims)] if keep else outer
    if needs_elements:
        _check_not_empty(fl, op, inner, outer)
    out = fl.alloc(_tensor_type(op.result), fl.result_dims(op, out_dims))
    return ReductionPlan(out, outer, inner, axes, keep)


def _check_not_empty(fl: FunctionLowering, op: Operation, inner: list[SSAValue],
                     outer: list[SSAValue]) -> None:
    """max/min/argmax/argmin have no identity: reducing an empty set of elements is
    an error, unless the result is empty too (then no element is reduced)."""
    reduced, kept = _product(fl, inner), _product(fl, outer)
    if (static_index(reduced) or 0) > 0 or static_index(kept) == 0:
        return
    b = fl.builder
    zero = fl.index(0)
    has_elements = cmpi(b, "ne", reduced, zero)
    if static_index(kept) is None:
        has_elements = emit(b, arith.OrIOp(has_elements, cmpi(b, "eq", kept, zero)))
    fl.check(has_elements, op, "cannot reduce an empty set of elements (no identity)")


def _lower_reduction(fl: FunctionLowering, op: tc.ReductionOp) -> SSAValue:
    name = op.name.removeprefix("tc.")
    combiner = COMBINERS[name]
    element = _tensor_type(op.input).get_element_type()
    kind = _kind(element)
    # numpy accumulates float16 sums and products in float32
    wide = isinstance(element, Float16Type) and name in ("sum", "prod")
    acc_type = f32 if wide else element
    plan = _plan_reduction(fl, op, needs_elements=name in ("max", "min"))

    def outer_body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        start = constant(b, combiner.start[kind](element), acc_type)

        def inner_body(ib: Builder, jvs: list[SSAValue], acc: list[SSAValue]) -> list[SSAValue]:
            x = fl.element(ib, op.input, plan.input_index(ivs, jvs))
            if wide:
                x = emit(ib, arith.ExtFOp(x, f32))
            return [emit(ib, combiner.step[kind](acc[0], x))]

        (total,) = fl.loops(plan.inner, inner_body, [start], builder=b)
        if wide:
            total = emit(b, arith.TruncFOp(total, element))
        _store(b, total, plan.out, plan.output_index(fl, ivs))
        return []

    fl.loops(plan.outer, outer_body)
    return plan.out


def _is_better(b: Builder, argmax: bool, x: SSAValue, best: SSAValue) -> SSAValue:
    """x replaces the best so far: strictly greater (less), or the first NaN."""
    if tc.is_float(x.type):
        beyond = cmpf(b, "ugt" if argmax else "ult", x, best)
        return emit(b, arith.AndIOp(beyond, cmpf(b, "ord", best, best)))
    if tc.is_bool(x.type):
        return cmpi(b, "ugt" if argmax else "ult", x, best)
    return cmpi(b, "sgt" if argmax else "slt", x, best)


def _lower_arg_reduction(fl: FunctionLowering, op: tc.ReductionOp) -> SSAValue:
    argmax = op.name == "tc.argmax"
    element = _tensor_type(op.input).get_element_type()
    plan = _plan_reduction(fl, op, needs_elements=True)
    strides = _strides(fl, plan.inner)
    worst = (_min_of if argmax else _max_of) if not tc.is_bool(element) else (
        lambda t: 0 if argmax else 1)

    def outer_body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        start = [constant(b, worst(element), element), fl.index(0)]

        def inner_body(ib: Builder, jvs: list[SSAValue], acc: list[SSAValue]) -> list[SSAValue]:
            best, best_index = acc
            x = fl.element(ib, op.input, plan.input_index(ivs, jvs))
            better = _is_better(ib, argmax, x, best)
            flat = _linearize(ib, jvs, strides) if jvs else fl.index(0)
            return [select(ib, better, x, best), select(ib, better, flat, best_index)]

        _, found = fl.loops(plan.inner, inner_body, start, builder=b)
        _store(b, emit(b, arith.IndexCastOp(found, i64)), plan.out, plan.output_index(fl, ivs))
        return []

    fl.loops(plan.outer, outer_body)
    return plan.out


# ---------------------------------------------------------------------------------
# Matmul: BLAS for f32/f64, loops otherwise
# ---------------------------------------------------------------------------------

GEMM_FUNCTIONS: dict[Attribute, str] = {f32: "tensorc_gemm_f32", f64: "tensorc_gemm_f64"}
"""Element type -> external `C = op(A) @ op(B)` runtime function (see abi.md)."""


def _lower_matmul(fl: FunctionLowering, op: tc.MatmulOp) -> SSAValue:
    lhs_rank, rhs_rank = len(fl.dims(op.lhs)), len(fl.dims(op.rhs))
    lhs_dims, rhs_dims = fl.dims(op.lhs), fl.dims(op.rhs)
    fl.check_equal(lhs_dims[-1], rhs_dims[0], op,
                   f"lhs dim {lhs_rank - 1} differs from rhs dim 0")
    computed = lhs_dims[:-1] + rhs_dims[1:]
    out = fl.alloc(_tensor_type(op.result), fl.result_dims(op, computed))
    element = _tensor_type(op.result).get_element_type()
    if element in GEMM_FUNCTIONS:
        _gemm(fl, op, out)
    else:
        _matmul_loops(fl, op, out)
    return out


def _matrix_index(ivs: list[SSAValue], lhs_rank: int, rhs_rank: int, zero: SSAValue) -> list[SSAValue]:
    """Index into the M x N product of an output index of numpy.dot's result."""
    rows = ivs[:1] if lhs_rank == 2 else [zero]
    cols = ivs[-1:] if rhs_rank == 2 else [zero]
    return rows + cols


def _as_matrix(fl: FunctionLowering, tensor: SSAValue, dims: list[SSAValue], row: bool) -> SSAValue:
    """`tensor` as a memref<?x?xT> (copied when its type differs: static dims or a
    vector, which is a 1 x K row when `row` else a K x 1 column)."""
    t = _tensor_type(tensor)
    matrix = TensorType(t.get_element_type(), [DYNAMIC_INDEX, DYNAMIC_INDEX])
    if tensor not in fl.splats and fl.buffer(tensor).type == memref_type(matrix):
        return fl.buffer(tensor)
    out = fl.alloc(matrix, dims)
    zero = fl.index(0)

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        target = ivs if len(ivs) == 2 else ([zero, *ivs] if row else [*ivs, zero])
        _store(b, fl.element(b, tensor, ivs), out, target)
        return []

    fl.loops(fl.dims(tensor), body)
    return out


def _gemm(fl: FunctionLowering, op: tc.MatmulOp, out: SSAValue) -> None:
    lhs_dims, rhs_dims = fl.dims(op.lhs), fl.dims(op.rhs)
    one, zero = fl.index(1), fl.index(0)
    m = lhs_dims[0] if len(lhs_dims) == 2 else one
    n = rhs_dims[1] if len(rhs_dims) == 2 else one
    k = lhs_dims[-1]
    a = _as_matrix(fl, op.lhs, [m, k], row=True)
    b = _as_matrix(fl, op.rhs, [k, n], row=False)
    element = _tensor_type(op.result).get_element_type()
    matrix = TensorType(element, [DYNAMIC_INDEX, DYNAMIC_INDEX])
    c = out if out.type == memref_type(matrix) else fl.alloc(matrix, [m, n])
    callee = _declare_gemm(fl, element)
    fl.builder.insert(func.CallOp(callee, [a, b, c, m, n, k, zero, zero], []))
    if c is out:
        return
    ranks = (len(lhs_dims), len(rhs_dims))

    def body(bb: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        value = emit(bb, memref.LoadOp.get(c, _matrix_index(ivs, *ranks, zero)))
        _store(bb, value, out, ivs)
        return []

    fl.loops(fl.dims(out), body)


def _declare_gemm(fl: FunctionLowering, element: Attribute) -> str:
    name = GEMM_FUNCTIONS[element]
    if SymbolTable.lookup_symbol(fl.module, name) is None:
        matrix = MemRefType(element, [DYNAMIC_INDEX, DYNAMIC_INDEX])
        inputs = [matrix] * 3 + [IndexType()] * 5
        Rewriter.insert_op(func.FuncOp.external(name, inputs, []),
                           InsertPoint.at_start(fl.module.body.block))
    return name


def _matmul_loops(fl: FunctionLowering, op: tc.MatmulOp, out: SSAValue) -> None:
    """Integer, bool and float16 products; float16 accumulates in float32 as numpy."""
    lhs_rank, rhs_rank = len(fl.dims(op.lhs)), len(fl.dims(op.rhs))
    element = _tensor_type(op.result).get_element_type()
    kind = _kind(element)
    acc_type = f32 if isinstance(element, Float16Type) else element
    add, mul = COMBINERS["sum"].step[kind], COMBINERS["prod"].step[kind]
    k = fl.dims(op.lhs)[-1]

    def outer_body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        rows, cols = (ivs[:1] if lhs_rank == 2 else []), (ivs[-1:] if rhs_rank == 2 else [])

        def inner_body(ib: Builder, kv: list[SSAValue], acc: list[SSAValue]) -> list[SSAValue]:
            x = fl.element(ib, op.lhs, rows + kv)
            y = fl.element(ib, op.rhs, kv + cols)
            if acc_type != element:
                x, y = emit(ib, arith.ExtFOp(x, acc_type)), emit(ib, arith.ExtFOp(y, acc_type))
            return [emit(ib, add(acc[0], emit(ib, mul(x, y))))]

        (total,) = fl.loops([k], inner_body, [constant(b, 0, acc_type)], builder=b)
        if acc_type != element:
            total = emit(b, arith.TruncFOp(total, element))
        _store(b, total, out, ivs)
        return []

    fl.loops(fl.dims(out), outer_body)


# ---------------------------------------------------------------------------------
# dim, arange
# ---------------------------------------------------------------------------------


def _lower_dim(fl: FunctionLowering, op: tc.DimOp) -> SSAValue | Splat:
    size = fl.dims(op.input)[op.axis.value.data]
    if (static := static_index(size)) is not None:
        return Splat(IntegerAttr(static, i64), [])
    return Splat(fl.arith(arith.IndexCastOp(size, i64)), [])


def _arange_length(fl: FunctionLowering, op: tc.ArangeOp, start: SSAValue,
                   stop: SSAValue, step: SSAValue) -> SSAValue:
    """numpy's length ceil((stop - start) / step): the difference in the dtype (ints
    wrap), the quotient in the dtype for floats and in float64 for ints."""
    if tc.is_float(start.type):
        quotient = fl.arith(arith.DivfOp(fl.arith(arith.SubfOp(stop, start)), step))
        if quotient.type != f64:
            quotient = fl.arith(arith.ExtFOp(quotient, f64))
    else:
        span = fl.arith(arith.SIToFPOp(fl.arith(arith.SubiOp(stop, start)), f64))
        quotient = fl.arith(arith.DivfOp(span, fl.arith(arith.SIToFPOp(step, f64))))
    count = fl.arith(math.CeilOp(quotient))
    magnitude = fl.arith(math.AbsFOp(count))
    fl.check(cmpf(fl.builder, "olt", magnitude, constant(fl.builder, 2.0**62, f64)), op,
             "cannot compute the length (a bound is not finite)")
    count = fl.arith(arith.FPToSIOp(count, i64))
    count = fl.arith(arith.MaxSIOp(count, constant(fl.builder, 0, i64)))
    return fl.arith(arith.IndexCastOp(count, IndexType()))


def _arange_value(fl: FunctionLowering, start: SSAValue, step: SSAValue) -> Callable[
        [Builder, SSAValue], SSAValue]:
    """numpy fills start, start + step, then start + i * ((start + step) - start);
    float16 in float32 arithmetic, rounded once."""
    element = start.type
    second = fl.arith(arith.AddfOp(start, step) if tc.is_float(element)
                      else arith.AddiOp(start, step))
    if not tc.is_float(element):
        return lambda b, i: emit(b, arith.AddiOp(
            start, emit(b, arith.MuliOp(emit(b, arith.IndexCastOp(i, element)), step))))
    wide = f32 if isinstance(element, Float16Type) else element
    first = start if wide == element else fl.arith(arith.ExtFOp(start, wide))
    next_ = second if wide == element else fl.arith(arith.ExtFOp(second, wide))
    delta = fl.arith(arith.SubfOp(next_, first))

    def value(b: Builder, i: SSAValue) -> SSAValue:
        x = emit(b, arith.SIToFPOp(emit(b, arith.IndexCastOp(i, i64)), wide))
        v = emit(b, arith.AddfOp(first, emit(b, arith.MulfOp(x, delta))))
        v = v if wide == element else emit(b, arith.TruncFOp(v, element))
        v = select(b, cmpi(b, "eq", i, fl.index(1)), second, v)
        return select(b, cmpi(b, "eq", i, fl.index(0)), start, v)

    return value


def _lower_arange(fl: FunctionLowering, op: tc.ArangeOp) -> SSAValue:
    element = _tensor_type(op.start).get_element_type()
    if tc.is_bool(element):
        raise LoweringError(f"{describe(op)}: arange of bool is not supported")
    start, stop, step = (fl.scalar(v) for v in (op.start, op.stop, op.step))
    b = fl.builder
    zero = constant(b, 0, element)
    nonzero = cmpf(b, "une", step, zero) if tc.is_float(element) else cmpi(b, "ne", step, zero)
    fl.check(nonzero, op, "step must not be zero")
    dims = fl.result_dims(op, [_arange_length(fl, op, start, stop, step)])
    out = fl.alloc(_tensor_type(op.result), dims)
    value = _arange_value(fl, start, step)

    def body(ib: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        _store(ib, value(ib, ivs[0]), out, ivs)
        return []

    fl.loops(dims, body)
    return out


# ---------------------------------------------------------------------------------
# The table and the pass
# ---------------------------------------------------------------------------------

LOWERINGS: dict[type[Operation], Lowering] = {
    **{cls: _lower_elementwise for cls in tc.ELEMENTWISE_OPS},
    tc.ConstantOp: _lower_constant,
    tc.BroadcastOp: _lower_broadcast,
    **{tc.REDUCTION_OPS[n]: _lower_reduction for n in ("sum", "prod", "max", "min")},
    **{tc.REDUCTION_OPS[n]: _lower_arg_reduction for n in ("argmax", "argmin")},
    tc.MatmulOp: _lower_matmul,
    tc.TransposeOp: _lower_transpose,
    tc.ReshapeOp: _lower_reshape,
    tc.SliceOp: _lower_slice,
    tc.GatherOp: _lower_gather,
    tc.ConcatenateOp: _lower_concatenate,
    tc.DimOp: _lower_dim,
    tc.ArangeOp: _lower_arange,
    tc.InsertSliceOp: _lower_insert_slice,
    tc.ScatterAddOp: _lower_scatter_add,
}  # type: ignore[dict-item]
"""tc op class -> lowering(state, op) -> memref (or Splat) of the op's result."""

_HINTS: dict[str, str] = {
    "tc.grad": "; run tc-autodiff before tc-bufferize",
    "tc.stop_gradient": "; run tc-autodiff before tc-bufferize",
}


def _lower_tc_op(fl: FunctionLowering, op: Operation) -> None:
    lowering = LOWERINGS.get(type(op))
    if lowering is None:
        hint = _HINTS.get(op.name, "")
        raise LoweringError(f"tc-bufferize cannot lower {describe(op)}{hint}")
    lowered = lowering(fl, op)
    if isinstance(lowered, Splat):
        fl.splats[_result(op)] = lowered
    else:
        fl.buffers[_result(op)] = lowered


def _lower_return(fl: FunctionLowering, ret: func.ReturnOp) -> None:
    """Return fresh allocations only: copy arguments, globals and repeats."""
    returned: set[SSAValue] = set()
    values = []
    for value in ret.arguments:
        if isinstance(value.type, TensorType):
            buffer = fl.buffer(value)
            aliased = isinstance(buffer, BlockArgument) or isinstance(
                buffer.owner, memref.GetGlobalOp)
            if aliased or buffer in returned:
                buffer = fl.copy(value)
            returned.add(buffer)
            value = buffer
        values.append(value)
    ret.operands = values


def _uses_tensors(op: Operation) -> bool:
    types = [*op.operand_types, *op.result_types]
    return any(isinstance(t, TensorType) for t in types)


def _lower_function(module: ModuleOp, fn: func.FuncOp) -> None:
    block = fn.body.block
    fl = FunctionLowering(block, module)
    tensor_args = [a for a in block.args if isinstance(a.type, TensorType)]
    for arg in tensor_args:
        new = block.insert_arg(memref_type(_tensor_type(arg)), arg.index + 1)
        new.name_hint = arg.name_hint
        fl.buffers[arg] = new
    lowered: list[Operation] = []
    for op in list(block.ops):
        fl.builder = Builder(InsertPoint.before(op))
        if isinstance(op, func.ReturnOp):
            _lower_return(fl, op)
        elif op.dialect_name() == "tc":
            _lower_tc_op(fl, op)
            lowered.append(op)
        elif _uses_tensors(op):
            raise LoweringError(f"tc-bufferize cannot lower {describe(op)}: it uses tensors")
    for op in reversed(lowered):
        Rewriter.erase_op(op)
    for arg in tensor_args:
        block.erase_arg(arg)
    fn.update_function_type()


@dataclass(frozen=True)
class BufferizePass(ModulePass):
    """Lower tc ops on tensors to scf loops over memrefs (see the module docstring)."""

    name = "tc-bufferize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in list(op.ops):
            if isinstance(fn, func.FuncOp) and not fn.is_declaration:
                _lower_function(op, fn)
        check_lowered(op, "tc", self.name)
