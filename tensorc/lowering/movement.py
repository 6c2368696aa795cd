"""tc-bufferize lowerings of the data-movement ops: broadcast, transpose, reshape,
slice, gather, concatenate, and the gradient ops insert_slice and scatter_add.

Each returns the memref of the op's result, or a `Splat` when its source is a splat
and the op has nothing to check per element. Shape rules are checked at run time
with `cf.assert` (messages name the op, the problem and the user's line):
broadcast dims that are not statically 1 must equal the target, reshape keeps the
element count, gather/scatter indices (negatives wrap) must be in range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, memref
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    ArrayAttr,
    DenseArrayBase,
    IndexType,
    IntegerAttr,
    MemRefType,
    i64,
)
from xdsl.ir import Operation, SSAValue

from tensorc.dialects import tc
from tensorc.lowering.buffers import (
    FunctionLowering,
    Splat,
    delinearize,
    linearize,
    memref_type,
    result_of,
    static_index,
    store,
    tensor_type_of,
)
from tensorc.lowering.elementwise import cmpi, element_kind, emit, select
from tensorc.lowering.reductions import COMBINERS, transposed_gemm_operand

SliceAxis = tuple[SSAValue, SSAValue]
"""(index of the first element, number of elements) of a slice along one dim."""


def lower_broadcast(fl: FunctionLowering, op: tc.BroadcastOp) -> SSAValue | Splat:
    target = fl.target_dims(op, op.dims)
    in_shape = tensor_type_of(op.input).get_shape()
    offset = len(target) - len(in_shape)
    in_dims = fl.dims(op.input)
    for axis, d in enumerate(in_shape):
        if d != 1:  # only static 1s stretch (Theano's broadcastable pattern)
            what = (
                f"input dim {axis} is not 1 and differs from target dim {axis + offset}"
            )
            fl.check_equal(in_dims[axis], target[axis + offset], op, what)

    def source(b: Builder, ivs: list[SSAValue]) -> list[SSAValue]:
        return [
            fl.index(0) if d == 1 else ivs[axis + offset]
            for axis, d in enumerate(in_shape)
        ]

    return fl.copy_mapped(op, op.input, target, source)


def lower_transpose(fl: FunctionLowering, op: tc.TransposeOp) -> SSAValue | Splat:
    perm = list(op.perm.get_values())
    in_dims = fl.dims(op.input)
    dims = fl.result_dims(op, [in_dims[p] for p in perm])
    if transposed_gemm_operand(op.result):
        return fl.view(op.result, fl.buffer(op.input), dims)

    def source(b: Builder, ivs: list[SSAValue]) -> list[SSAValue]:
        coords = list(ivs)
        for i, p in enumerate(perm):
            coords[p] = ivs[i]
        return coords

    return fl.copy_mapped(op, op.input, dims, source)


def lower_reshape(fl: FunctionLowering, op: tc.ReshapeOp) -> SSAValue | Splat:
    dims = fl.target_dims(op, op.dims)
    in_dims = fl.dims(op.input)
    fl.check_equal(
        fl.product(in_dims),
        fl.product(dims),
        op,
        "input and result element counts differ",
    )
    stored = op.input in fl.buffers or (
        op.input not in fl.splats and op.input not in fl.computed
    )
    if fl.views and stored and in_dims and dims:
        return _reshaped_view(fl, op, fl.buffer(op.input), dims)
    out_strides, in_strides = fl.strides(dims), fl.strides(in_dims)

    def source(b: Builder, ivs: list[SSAValue]) -> list[SSAValue]:
        if not in_dims:
            return []
        if not ivs:
            return [fl.index(0)] * len(in_dims)
        return delinearize(b, linearize(b, ivs, out_strides), in_strides, in_dims)

    return fl.copy_mapped(op, op.input, dims, source)



def _reshaped_view(
    fl: FunctionLowering, op: tc.ReshapeOp, source: SSAValue, dims: list[SSAValue]
) -> SSAValue:
    """The row-major reshape of `source` as a view of its storage: collapsed to
    one dim, then expanded to `dims` (no copy)."""
    element = tensor_type_of(op.input).get_element_type()
    flat = source
    rank = len(fl.dims(op.input))
    if rank > 1:
        static = tensor_type_of(op.input).get_shape()
        size = math.prod(static) if DYNAMIC_INDEX not in static else DYNAMIC_INDEX
        flat = fl.arith(memref.CollapseShapeOp.build(
            operands=[source], result_types=[MemRefType(element, [size])],
            properties={"reassociation": _reassociation([rank])},
        ))
    target = memref_type(tensor_type_of(result_of(op)))
    if len(dims) == 1:
        view = flat if flat.type == target else fl.arith(memref.CastOp.get(flat, target))
    else:
        shape = target.get_shape()
        dynamic = [d for d, s in zip(dims, shape, strict=True) if s == DYNAMIC_INDEX]
        view = fl.arith(memref.ExpandShapeOp.build(
            operands=[flat, dynamic], result_types=[target],
            properties={
                "reassociation": _reassociation([len(dims)]),
                "static_output_shape": DenseArrayBase.from_list(i64, list(shape)),
            },
        ))
    return fl.view(result_of(op), view, dims)


def _reassociation(group_sizes: list[int]) -> ArrayAttr[ArrayAttr[IntegerAttr]]:
    groups, start = [], 0
    for size in group_sizes:
        groups.append(ArrayAttr([IntegerAttr(i, i64) for i in range(start, start + size)]))
        start += size
    return ArrayAttr(groups)

# ---------------------------------------------------------------------------------
# Slicing: Python's clamping rules computed on index values
# ---------------------------------------------------------------------------------


def _clamp(
    fl: FunctionLowering, value: int | SSAValue, n: SSAValue, step: int
) -> SSAValue:
    """Python's clamping of a start/stop into [0, n] (step > 0) or [-1, n - 1]
    (step < 0), after adding n to negative values."""
    lower = fl.index(0 if step > 0 else -1)
    upper = n if step > 0 else fl.add(n, fl.index(-1))
    if isinstance(value, int):
        if value >= 0:
            return fl.arith(arith.MinSIOp(fl.index(value), upper))
        return fl.arith(arith.MaxSIOp(fl.add(fl.index(value), n), lower))
    wrapped = fl.arith(arith.MaxSIOp(fl.arith(arith.AddiOp(value, n)), lower))
    kept = fl.arith(arith.MinSIOp(value, upper))
    return select(
        fl.builder, cmpi(fl.builder, "slt", value, fl.index(0)), wrapped, kept
    )


def _slice_axis(
    fl: FunctionLowering,
    n: SSAValue,
    start: int | SSAValue,
    stop: int | SSAValue,
    step: int,
) -> SliceAxis:
    """`slice(start, stop, step)` on a dim of size n (folded when all are static)."""
    static_n = static_index(n)
    if static_n is not None and isinstance(start, int) and isinstance(stop, int):
        first, _, _ = slice(start, stop, step).indices(static_n)
        return fl.index(first), fl.index(len(range(static_n)[start:stop:step]))
    first, last = _clamp(fl, start, n, step), _clamp(fl, stop, n, step)
    span = fl.arith(
        arith.SubiOp(last, first) if step > 0 else arith.SubiOp(first, last)
    )
    span = fl.arith(arith.MaxSIOp(span, fl.index(0)))
    rounded_up = fl.arith(arith.AddiOp(span, fl.index(abs(step) - 1)))
    return first, fl.arith(arith.DivSIOp(rounded_up, fl.index(abs(step))))


def _slice_axes(
    fl: FunctionLowering, op: tc.SliceOp | tc.InsertSliceOp, dims: Sequence[SSAValue]
) -> list[SliceAxis]:
    """The slice of each dim of a tensor with `dims`; a DYNAMIC start or stop takes
    the next `bounds` operand (dynamic starts first, then stops)."""
    bounds = iter(op.bounds)

    def read(values: Sequence[int]) -> list[int | SSAValue]:
        return [fl.index_of(next(bounds)) if v == DYNAMIC_INDEX else v for v in values]

    starts, stops = read(op.starts.get_values()), read(op.stops.get_values())
    steps = op.steps.get_values()
    return [_slice_axis(fl, *args) for args in zip(dims, starts, stops, steps)]


def _strided(
    fl: FunctionLowering,
    b: Builder,
    ivs: list[SSAValue],
    axes: list[SliceAxis],
    steps: Sequence[int],
) -> list[SSAValue]:
    """Coordinates first + iv * step of the sliced tensor's element `ivs`."""
    coords = []
    for iv, (first, _), step in zip(ivs, axes, steps, strict=True):
        offset = emit(b, arith.MuliOp(iv, fl.index(step))) if step != 1 else iv
        coords.append(emit(b, arith.AddiOp(first, offset)))
    return coords


def lower_slice(fl: FunctionLowering, op: tc.SliceOp) -> SSAValue | Splat:
    axes = _slice_axes(fl, op, fl.dims(op.input))
    dims = fl.result_dims(op, [length for _, length in axes])
    steps = op.steps.get_values()

    def source(b: Builder, ivs: list[SSAValue]) -> list[SSAValue]:
        return _strided(fl, b, ivs, axes, steps)

    return fl.copy_mapped(op, op.input, dims, source)


def lower_insert_slice(fl: FunctionLowering, op: tc.InsertSliceOp) -> SSAValue:
    """A copy of dest, then source stored into the slice."""
    axes = _slice_axes(fl, op, fl.dims(op.dest))
    source_dims = fl.dims(op.source)
    for axis, ((_, length), size) in enumerate(zip(axes, source_dims, strict=True)):
        fl.check_equal(
            length, size, op, f"source dim {axis} differs from the slice length"
        )
    out = fl.copy(op.dest)
    steps = op.steps.get_values()

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        store(b, fl.element(b, op.source, ivs), out, _strided(fl, b, ivs, axes, steps))
        return []

    fl.loops(source_dims, body)
    return out


# ---------------------------------------------------------------------------------
# Integer-array indexing
# ---------------------------------------------------------------------------------


def _indexed(
    fl: FunctionLowering,
    op: Operation,
    b: Builder,
    ivs: list[SSAValue],
    indices: Sequence[SSAValue],
    dims: list[SSAValue],
    what: str,
) -> list[SSAValue]:
    """Coordinates (i0[ivs], i1[ivs], ..., rest of ivs) of the indexed tensor with
    `dims`: negative indices wrap, out-of-range ones fail a check."""
    rank = len(ivs) - (len(dims) - len(indices))  # rank of the index tensors
    coords = []
    for axis, index in enumerate(indices):
        raw = emit(b, arith.IndexCastOp(fl.element(b, index, ivs[:rank]), IndexType()))
        wrapped = emit(b, arith.AddiOp(raw, dims[axis]))
        value = select(b, cmpi(b, "slt", raw, fl.index(0)), wrapped, raw)
        # unsigned: a still-negative index is huge, so one compare covers both ends
        fl.check(
            cmpi(b, "ult", value, dims[axis]),
            op,
            f"index #{axis} out of range for {what} dim {axis} "
            "(index after wrapping negatives, dim size)",
            b,
        )
        coords.append(value)
    return coords + ivs[rank:]


def _index_dims(
    fl: FunctionLowering, op: Operation, indices: list[SSAValue]
) -> list[SSAValue]:
    return fl.same_dims(op, indices, [f"index #{i}" for i in range(len(indices))])


def lower_gather(fl: FunctionLowering, op: tc.GatherOp) -> SSAValue | Splat:
    indices = list(op.indices)
    in_dims = fl.dims(op.input)
    dims = fl.result_dims(op, _index_dims(fl, op, indices) + in_dims[len(indices) :])

    def source(b: Builder, ivs: list[SSAValue]) -> list[SSAValue]:
        return _indexed(fl, op, b, ivs, indices, in_dims, "input")

    return fl.copy_mapped(op, op.input, dims, source, keep_splat=False)


def lower_scatter_add(fl: FunctionLowering, op: tc.ScatterAddOp) -> SSAValue:
    """A copy of dest, then each update added at its indexed position in order
    (repeated indices accumulate; bools accumulate with `or`, as numpy)."""
    indices = list(op.indices)
    dest_dims, update_dims = fl.dims(op.dest), fl.dims(op.updates)
    expected = _index_dims(fl, op, indices) + dest_dims[len(indices) :]
    for axis, (want, size) in enumerate(zip(expected, update_dims, strict=True)):
        fl.check_equal(
            want, size, op, f"updates dim {axis} differs from the indexed shape"
        )
    out = fl.copy(op.dest)
    element = tensor_type_of(op.dest).get_element_type()
    add = COMBINERS["sum"].step[element_kind(element)]

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        target = _indexed(fl, op, b, ivs, indices, dest_dims, "dest")
        old = emit(b, memref.LoadOp.get(out, target))
        store(b, emit(b, add(old, fl.element(b, op.updates, ivs))), out, target)
        return []

    fl.loops(update_dims, body)
    return out


# ---------------------------------------------------------------------------------
# Concatenation
# ---------------------------------------------------------------------------------


def lower_concatenate(fl: FunctionLowering, op: tc.ConcatenateOp) -> SSAValue:
    axis = op.axis.value.data
    inputs = list(op.inputs)
    first = fl.dims(inputs[0])
    total = first[axis]
    for i, value in enumerate(inputs[1:], 1):
        dims_i = fl.dims(value)
        for a, (d0, d) in enumerate(zip(first, dims_i, strict=True)):
            if a != axis:
                fl.check_equal(
                    d0, d, op, f"input #{i} dim {a} differs from input #0 dim {a}"
                )
        total = fl.add(total, dims_i[axis])
    dims = fl.result_dims(op, [total if a == axis else d for a, d in enumerate(first)])
    out = fl.alloc(tensor_type_of(op.result), dims)
    offset = fl.index(0)
    for value in inputs:
        _copy_shifted(fl, value, out, axis, offset)
        offset = fl.add(offset, fl.dims(value)[axis])
    return out


def _copy_shifted(
    fl: FunctionLowering, value: SSAValue, out: SSAValue, axis: int, offset: SSAValue
) -> None:
    """out[..., i + offset, ...] = value[..., i, ...] (i along `axis`)."""

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        target = list(ivs)
        if static_index(offset) != 0:
            target[axis] = emit(b, arith.AddiOp(ivs[axis], offset))
        store(b, fl.element(b, value, ivs), out, target)
        return []

    fl.loops(fl.dims(value), body)
