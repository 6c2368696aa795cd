"""tc-bufferize: lower every tc op to `scf.for` loops over memrefs.

Preconditions:
- the module verifies; tc ops sit in the top-level block of `func.func` bodies;
- `tc.grad` is expanded and `tc.stop_gradient` erased (tc-autodiff runs first).

Postconditions (the bufferized-IR contract of /work/notes/abi.md):
- no op of the tc dialect survives (declared legality: LoweringError otherwise);
  only builtin, func, scf, memref, arith, math and `cf.assert` remain;
- signatures take and return memrefs with the identity layout, in tensor order;
- every returned memref is a fresh `memref.alloc` of its function: a result that
  would be an argument, a constant global or returned twice is copied first;
- `memref.alloc` only appears in a function's top-level block;
- with `views`, a reshape of a stored tensor is `memref.collapse_shape` to one
  dim then `memref.expand_shape` to the result dims: the same storage, no copy
  (a returned view is copied);
- a `tc.scan` is a loop calling its step function (bufferized like any other
  function of the module) with `func.call`; the caller deallocates what each call
  returns (tensorc/lowering/scan.py);
- run-time shape and index checks are `cf.assert`s whose message names the op, what
  is wrong and the user's line; static contradictions raise ShapeError now;
- float32/float64 matmuls call the private `@tensorc_gemm_f32/f64` declarations
  (matrices passed through `memref.cast` to `memref<?x?xT>`, vectors copied into
  1 x K / K x 1 buffers);
- non-splat constants are `memref.global` constants read with `memref.get_global`;
  splat constants become scalar `arith.constant`s in the loops that read them.

`LOWERINGS` maps each tc op class to one small lowering function (this file:
elementwise ops, constants, dim, arange; `tensorc.lowering.movement`,
`tensorc.lowering.reductions`, `tensorc.lowering.conv` (im2col, col2im),
`tensorc.lowering.composite` and `tensorc.lowering.scan`: the rest). A
lowering returns the memref of the op's result, or a `Splat` (a scalar standing
for a tensor of equal elements); a multi-result op returns a list of those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import arith, func, math, memref
from xdsl.dialects.builtin import (
    Float16Type,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
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
from tensorc.lowering import composite, conv, movement, reductions, scan
from tensorc.lowering.buffers import (
    FunctionLowering,
    Splat,
    memref_type,
    operand_names,
    result_of,
    static_index,
    store,
    tensor_type_of,
)
from tensorc.lowering.elementwise import ELEMENTWISE, cmpf, cmpi, constant, emit, select
from tensorc.lowering.buffer_facts import storage_root
from tensorc.lowering.legality import check_lowered, describe

Lowering = Callable[
    [FunctionLowering, Operation], SSAValue | Splat | list[SSAValue | Splat | None]
]


# ---------------------------------------------------------------------------------
# Elementwise ops and constants
# ---------------------------------------------------------------------------------


def _lower_elementwise(fl: FunctionLowering, op: Operation) -> SSAValue | Splat:
    operands = list(op.operands)
    dims = fl.same_dims(op, operands, operand_names(op))
    build = ELEMENTWISE[type(op)]
    if all(v in fl.splats for v in operands):  # computed once, at the top level
        scalars = [fl.splats[v].scalar(fl.builder) for v in operands]
        return Splat(build(fl.builder, scalars, op), dims)
    out = fl.alloc(tensor_type_of(result_of(op)), dims)

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        scalars = [fl.element(b, v, ivs) for v in operands]
        store(b, build(b, scalars, op), out, ivs)
        return []

    fl.loops(dims, body)
    return out


def _scalar_attr(value: object, element: Attribute) -> IntegerAttr | FloatAttr:
    if tc.is_float(element):
        return FloatAttr(float(value), element)  # type: ignore[arg-type]
    assert isinstance(element, IntegerType)
    return IntegerAttr(int(value), element)  # type: ignore[call-overload]


def _lower_constant(fl: FunctionLowering, op: tc.ConstantOp) -> SSAValue | Splat:
    t = tensor_type_of(op.result)
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
# dim, arange
# ---------------------------------------------------------------------------------


def _lower_dim(fl: FunctionLowering, op: tc.DimOp) -> SSAValue | Splat:
    size = fl.dims(op.input)[op.axis.value.data]
    if (static := static_index(size)) is not None:
        return Splat(IntegerAttr(static, i64), [])
    return Splat(fl.arith(arith.IndexCastOp(size, i64)), [])


def _arange_length(
    fl: FunctionLowering,
    op: tc.ArangeOp,
    start: SSAValue,
    stop: SSAValue,
    step: SSAValue,
) -> SSAValue:
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
    fl.check(
        cmpf(fl.builder, "olt", magnitude, constant(fl.builder, 2.0**62, f64)),
        op,
        "cannot compute the length (a bound is not finite)",
    )
    count = fl.arith(arith.FPToSIOp(count, i64))
    count = fl.arith(arith.MaxSIOp(count, constant(fl.builder, 0, i64)))
    return fl.arith(arith.IndexCastOp(count, IndexType()))


def _arange_value(
    fl: FunctionLowering, start: SSAValue, step: SSAValue
) -> Callable[[Builder, SSAValue], SSAValue]:
    """Element i of arange: start + i * step for integers (wrapping, as numpy)."""
    element = start.type
    if tc.is_float(element):
        return _arange_float_value(fl, start, step)

    def value(b: Builder, i: SSAValue) -> SSAValue:
        i_times_step = emit(
            b, arith.MuliOp(emit(b, arith.IndexCastOp(i, element)), step)
        )
        return emit(b, arith.AddiOp(start, i_times_step))

    return value


def _arange_float_value(
    fl: FunctionLowering, start: SSAValue, step: SSAValue
) -> Callable[[Builder, SSAValue], SSAValue]:
    """numpy fills start, start + step, then start + i * ((start + step) - start);
    float16 in float32 arithmetic, rounded once."""
    element = start.type
    second = fl.arith(arith.AddfOp(start, step))
    wide = f32 if isinstance(element, Float16Type) else element
    first, next_ = start, second
    if wide != element:
        first, next_ = (
            fl.arith(arith.ExtFOp(start, wide)),
            fl.arith(arith.ExtFOp(second, wide)),
        )
    delta = fl.arith(arith.SubfOp(next_, first))

    def value(b: Builder, i: SSAValue) -> SSAValue:
        x = emit(b, arith.SIToFPOp(emit(b, arith.IndexCastOp(i, i64)), wide))
        v = emit(b, arith.AddfOp(first, emit(b, arith.MulfOp(x, delta))))
        if wide != element:
            v = emit(b, arith.TruncFOp(v, element))
        v = select(b, cmpi(b, "eq", i, fl.index(1)), second, v)
        return select(b, cmpi(b, "eq", i, fl.index(0)), start, v)

    return value


def _lower_arange(fl: FunctionLowering, op: tc.ArangeOp) -> SSAValue:
    element = tensor_type_of(op.start).get_element_type()
    if tc.is_bool(element):
        raise LoweringError(f"{describe(op)}: arange of bool is not supported")
    start, stop, step = (fl.scalar(v) for v in (op.start, op.stop, op.step))
    b = fl.builder
    zero = constant(b, 0, element)
    nonzero = (
        cmpf(b, "une", step, zero)
        if tc.is_float(element)
        else cmpi(b, "ne", step, zero)
    )
    fl.check(nonzero, op, "step must not be zero")
    dims = fl.result_dims(op, [_arange_length(fl, op, start, stop, step)])
    out = fl.alloc(tensor_type_of(op.result), dims)
    value = _arange_value(fl, start, step)

    def body(ib: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        store(ib, value(ib, ivs[0]), out, ivs)
        return []

    fl.loops(dims, body)
    return out


# ---------------------------------------------------------------------------------
# The table and the pass
# ---------------------------------------------------------------------------------

LOWERINGS: dict[type[Operation], Lowering] = {
    **{cls: _lower_elementwise for cls in tc.ELEMENTWISE_OPS},
    tc.ConstantOp: _lower_constant,
    tc.DimOp: _lower_dim,
    tc.ArangeOp: _lower_arange,
    tc.BroadcastOp: movement.lower_broadcast,
    tc.TransposeOp: movement.lower_transpose,
    tc.ReshapeOp: movement.lower_reshape,
    tc.SliceOp: movement.lower_slice,
    tc.InsertSliceOp: movement.lower_insert_slice,
    tc.GatherOp: movement.lower_gather,
    tc.ScatterAddOp: movement.lower_scatter_add,
    tc.ConcatenateOp: movement.lower_concatenate,
    tc.Im2colOp: conv.lower_im2col,
    tc.Col2imOp: conv.lower_col2im,
    **{
        tc.REDUCTION_OPS[n]: reductions.lower_reduction
        for n in ("sum", "prod", "max", "min")
    },
    **{
        tc.REDUCTION_OPS[n]: reductions.lower_arg_reduction
        for n in ("argmax", "argmin")
    },
    tc.MatmulOp: reductions.lower_matmul,
    tc.CompositeOp: composite.lower_composite,
    tc.ScanOp: scan.lower_scan,
}  # type: ignore[dict-item]
"""tc op class -> lowering(state, op) -> memref (or Splat) of the op's result, or
a list with one per result (None: computed where read, see FunctionLowering)."""

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
    for result, value in zip(op.results, _per_result(lowered), strict=True):
        if isinstance(value, Splat):
            fl.splats[result] = value
        elif value is not None:  # None: computed where read (fl.computed)
            fl.buffers[result] = value


def _per_result(
    lowered: SSAValue | Splat | list[SSAValue | Splat | None],
) -> list[SSAValue | Splat | None]:
    return lowered if isinstance(lowered, list) else [lowered]


def _lower_return(fl: FunctionLowering, ret: func.ReturnOp) -> None:
    """Return fresh allocations only: copy arguments, globals and repeats."""
    returned: set[SSAValue] = set()
    values = []
    for value in ret.arguments:
        if isinstance(value.type, TensorType):
            buffer = fl.buffer(value)
            storage = storage_root(buffer)
            aliased = (
                isinstance(storage, BlockArgument)
                or isinstance(storage.owner, memref.GetGlobalOp)
                or storage is not buffer  # a view: its storage has other dims
            )
            if aliased or buffer in returned:
                buffer = fl.copy(value)
            returned.add(buffer)
            value = buffer
        values.append(value)
    ret.operands = values


def _uses_tensors(op: Operation) -> bool:
    types = [*op.operand_types, *op.result_types]
    return any(isinstance(t, TensorType) for t in types)


def _lower_function(module: ModuleOp, fn: func.FuncOp, views: bool) -> None:
    block = fn.body.block
    fl = FunctionLowering(block, module, views)
    tensor_args = [a for a in block.args if isinstance(a.type, TensorType)]
    for arg in tensor_args:
        new = block.insert_arg(memref_type(tensor_type_of(arg)), arg.index + 1)
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
            raise LoweringError(
                f"tc-bufferize cannot lower {describe(op)}: it uses tensors"
            )
    for op in reversed(lowered):
        Rewriter.erase_op(op)
    for arg in tensor_args:
        block.erase_arg(arg)
    fn.update_function_type()


@dataclass(frozen=True)
class BufferizePass(ModulePass):
    """Lower tc ops on tensors to scf loops over memrefs (see the module docstring)."""

    name = "tc-bufferize"

    views: bool = False
    """Reshape a stored tensor as a view of its storage (memref.collapse_shape /
    expand_shape) instead of a copy; the C emitter prints views, the GPU
    planner does not take them."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in list(op.ops):
            if isinstance(fn, func.FuncOp) and not fn.is_declaration:
                _lower_function(op, fn, self.views)
        check_lowered(op, "tc", self.name)
