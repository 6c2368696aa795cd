"""tc-bufferize lowering of `tc.composite`: one loop nest whose body is the
composite's scalar region, cloned, reading each input through its broadcasting
index map and storing every output.

Shape rules (`CompositeOp.dim_checks`) become `cf.assert`s before the loops, each
message naming the absorbed tc op and user line where the unfused program made
the same check. Three special cases:
- a composite whose single output is read only by a reduction is not stored: the
  reduction computes each element where it reads it (`FunctionLowering.
  compute_lazily`), so e.g. `sum(x * y)` is one loop nest;
- inputs that are all splats give splat outputs, computed once;
- inputs the body never reads are only checked, never loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.builder import Builder
from xdsl.dialects import cf
from xdsl.dialects.builtin import DYNAMIC_INDEX
from xdsl.ir import Operation, SSAValue

from tensorc.dialects import tc
from tensorc.errors import ShapeError
from tensorc.lowering.buffers import (
    FunctionLowering,
    Splat,
    static_index,
    store,
    tensor_type_of,
)
from tensorc.lowering.elementwise import cmpi

FUSIBLE_CONSUMERS: tuple[type[Operation], ...] = tuple(tc.REDUCTION_OPS.values())
"""Consumers that read each input element once through `FunctionLowering.element`,
so a composite feeding only them can be computed inside their loops."""


def iteration_dims(fl: FunctionLowering, op: tc.CompositeOp) -> list[SSAValue]:
    """The outputs' dims after asserting the composite's shape rules."""
    b = fl.builder

    def input_dim(index: int, axis: int) -> SSAValue:
        return fl.dims(op.inputs[index])[op.input_dim(index, axis)]

    static = op.result_type().get_shape()
    for check in op.dim_checks():
        rhs = input_dim(check.rhs, check.axis)
        lhs = (
            fl.index(static[check.axis])
            if check.lhs is None
            else input_dim(check.lhs, check.axis)
        )
        text = op.check_message(check)
        if lhs is rhs:
            continue
        known = static_index(lhs), static_index(rhs)
        if None not in known:
            if known[0] != known[1]:
                raise ShapeError(f"{text} ({known[1]} != {known[0]})")
            continue
        b.insert(cf.AssertOp(cmpi(b, "eq", rhs, lhs), text))
    dims = []
    for axis, d in enumerate(static):
        if d != DYNAMIC_INDEX:
            dims.append(fl.index(d))
            continue
        index = next(i for i in range(len(op.inputs)) if axis in op.dim_sources(i))
        dims.append(input_dim(index, axis))
    return dims


def _read_inputs(
    fl: FunctionLowering, op: tc.CompositeOp, b: Builder, ivs: Sequence[SSAValue]
) -> dict[SSAValue, SSAValue]:
    """Block argument -> the input element at `ivs` (stretched dims read index 0),
    for the arguments the body uses."""
    mapping: dict[SSAValue, SSAValue] = {}
    for index, (arg, value) in enumerate(zip(op.block.args, op.inputs)):
        if not arg.uses:
            continue
        shape = op.input_shape(index)
        indices = [
            fl.index(0) if d == 1 else iv for d, iv in zip(shape, ivs) if d is not None
        ]
        mapping[arg] = fl.element(b, value, indices)
    return mapping


def inline_body(
    op: tc.CompositeOp, b: Builder, mapping: dict[SSAValue, SSAValue]
) -> list[SSAValue]:
    """Clone the body's ops at `b` with block arguments mapped; the yielded
    scalars."""
    for body_op in op.block.ops:
        if isinstance(body_op, tc.YieldOp):
            return [mapping.get(v, v) for v in body_op.values]
        b.insert(body_op.clone(value_mapper=mapping))
    raise AssertionError("a verified composite ends in tc.yield")


def _fused_into_consumer(op: tc.CompositeOp) -> bool:
    if len(op.outputs) != 1 or not op.outputs[0].has_one_use():
        return False
    user = op.outputs[0].get_user_of_unique_use()
    return isinstance(user, FUSIBLE_CONSUMERS) and user.parent is op.parent


def lower_composite(
    fl: FunctionLowering, op: tc.CompositeOp
) -> list[SSAValue | Splat | None]:
    """Memref or Splat per output; None for an output left to its consumer."""
    dims = iteration_dims(fl, op)
    if all(v in fl.splats for v in op.inputs):  # computed once, at the top level
        scalars = {
            arg: fl.splats[v].scalar(fl.builder)
            for arg, v in zip(op.block.args, op.inputs)
        }
        return [Splat(s, dims) for s in inline_body(op, fl.builder, scalars)]
    if _fused_into_consumer(op):
        output = op.outputs[0]

        def element(b: Builder, ivs: list[SSAValue]) -> SSAValue:
            return inline_body(op, b, _read_inputs(fl, op, b, ivs))[0]

        fl.compute_lazily(output, dims, element)
        return [None]
    outs = [fl.alloc(tensor_type_of(r), dims) for r in op.outputs]

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        values = inline_body(op, b, _read_inputs(fl, op, b, ivs))
        for value, out in zip(values, outs, strict=True):
            store(b, value, out, ivs)
        return []

    fl.loops(dims, body)
    return list(outs)
