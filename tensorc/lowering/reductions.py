"""tc-bufferize lowerings of reductions (sum, prod, max, min, argmax, argmin) and
of matmul, a sum of products.

Reductions loop over the kept dims outside and carry the accumulator through the
loops over the reduced dims (`scf.for` iter_args). Empty sums and products give
the identity; max/min/argmax/argmin of an empty set of elements fail a run-time
check unless the result is empty too (the reference interpreter's rule). NaN
propagates through max/min (`arith.maximumf`); argmax/argmin return the first NaN.

float32/float64 matmuls call the runtime's BLAS wrapper (`@tensorc_gemm_f32/f64`,
declared private in the module) on `memref<?x?xT>` operands; other dtypes use loops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.dialects import arith, func, memref
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    Float16Type,
    IndexType,
    MemRefType,
    TensorType,
    f32,
    f64,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.traits import SymbolTable

from tensorc.dialects import tc
from tensorc.lowering.buffers import (
    FunctionLowering,
    linearize,
    static_index,
    store,
    tensor_type_of,
)
from tensorc.lowering.elementwise import (
    cmpf,
    cmpi,
    constant,
    element_kind,
    emit,
    max_int,
    min_int,
    select,
)


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
    "sum": Combiner(
        {"f": lambda t: 0, "i": lambda t: 0, "b": lambda t: 0},
        {"f": arith.AddfOp, "i": arith.AddiOp, "b": arith.OrIOp},
    ),
    "prod": Combiner(
        {"f": lambda t: 1, "i": lambda t: 1, "b": lambda t: 1},
        {"f": arith.MulfOp, "i": arith.MuliOp, "b": arith.AndIOp},
    ),
    "max": Combiner(
        {"f": _min_of, "i": _min_of, "b": lambda t: 0},
        {"f": arith.MaximumfOp, "i": arith.MaxSIOp, "b": arith.OrIOp},
    ),
    "min": Combiner(
        {"f": _max_of, "i": _max_of, "b": lambda t: 1},
        {"f": arith.MinimumfOp, "i": arith.MinSIOp, "b": arith.AndIOp},
    ),
}
"""Reduction name -> (identity or start value, combining op) per element kind."""


@dataclass
class ReductionPlan:
    """Loops of a reduction: outer loops over the kept dims, inner over the reduced."""

    out: SSAValue
    outer: list[SSAValue]
    inner: list[SSAValue]
    axes: tuple[int, ...]
    keepdims: bool

    def input_index(
        self, outer_ivs: list[SSAValue], inner_ivs: list[SSAValue]
    ) -> list[SSAValue]:
        kept, reduced = iter(outer_ivs), iter(inner_ivs)
        rank = len(self.outer) + len(self.inner)
        return [next(reduced) if a in self.axes else next(kept) for a in range(rank)]

    def output_index(
        self, fl: FunctionLowering, outer_ivs: list[SSAValue]
    ) -> list[SSAValue]:
        if not self.keepdims:
            return outer_ivs
        kept = iter(outer_ivs)
        rank = len(self.outer) + len(self.inner)
        return [fl.index(0) if a in self.axes else next(kept) for a in range(rank)]


def _plan_reduction(
    fl: FunctionLowering, op: tc.ReductionOp, needs_elements: bool
) -> ReductionPlan:
    axes = op.reduced_axes()
    keep = op.keepdims is not None
    in_dims = fl.dims(op.input)
    inner = [in_dims[a] for a in axes]
    outer = [d for a, d in enumerate(in_dims) if a not in axes]
    out_dims = (
        [fl.index(1) if a in axes else d for a, d in enumerate(in_dims)]
        if keep
        else outer
    )
    if needs_elements:
        _check_not_empty(fl, op, inner, outer)
    out = fl.alloc(tensor_type_of(op.result), fl.result_dims(op, out_dims))
    return ReductionPlan(out, outer, inner, axes, keep)


def _check_not_empty(
    fl: FunctionLowering, op: Operation, inner: list[SSAValue], outer: list[SSAValue]
) -> None:
    """max/min/argmax/argmin have no identity: reducing an empty set of elements is
    an error, unless the result is empty too (then no element is reduced)."""
    reduced, kept = fl.product(inner), fl.product(outer)
    if (static_index(reduced) or 0) > 0 or static_index(kept) == 0:
        return
    b = fl.builder
    zero = fl.index(0)
    has_elements = cmpi(b, "ne", reduced, zero)
    if static_index(kept) is None:
        has_elements = emit(b, arith.OrIOp(has_elements, cmpi(b, "eq", kept, zero)))
    fl.check(has_elements, op, "cannot reduce an empty set of elements (no identity)")


def lower_reduction(fl: FunctionLowering, op: tc.ReductionOp) -> SSAValue:
    name = op.name.removeprefix("tc.")
    element = tensor_type_of(op.input).get_element_type()
    plan = _plan_reduction(fl, op, needs_elements=name in ("max", "min"))
    rank = len(plan.outer) + len(plan.inner)
    trailing = plan.axes == tuple(range(rank - len(plan.axes), rank))
    # numpy accumulates float16 sums and products in float32
    wide = isinstance(element, Float16Type) and name in ("sum", "prod")
    if trailing or wide:
        _reduce_in_registers(fl, op, plan, f32 if wide else element)
    else:
        _reduce_in_place(fl, op, plan)
    return plan.out


def _reduce_in_registers(
    fl: FunctionLowering, op: tc.ReductionOp, plan: ReductionPlan, acc_type: Attribute
) -> None:
    """Per result element, a loop nest over the reduced dims carrying the
    accumulator: contiguous reads when the reduced dims are the trailing ones."""
    combiner = COMBINERS[op.name.removeprefix("tc.")]
    element = tensor_type_of(op.input).get_element_type()
    kind = element_kind(element)

    def outer_body(
        b: Builder, ivs: list[SSAValue], _: list[SSAValue]
    ) -> list[SSAValue]:
        start = constant(b, combiner.start[kind](element), acc_type)

        def inner_body(
            ib: Builder, jvs: list[SSAValue], acc: list[SSAValue]
        ) -> list[SSAValue]:
            x = fl.element(ib, op.input, plan.input_index(ivs, jvs))
            if acc_type != element:
                x = emit(ib, arith.ExtFOp(x, acc_type))
            return [emit(ib, combiner.step[kind](acc[0], x))]

        (total,) = fl.loops(plan.inner, inner_body, [start], builder=b)
        if acc_type != element:
            total = emit(b, arith.TruncFOp(total, element))
        store(b, total, plan.out, plan.output_index(fl, ivs))
        return []

    fl.loops(plan.outer, outer_body)


def _reduce_in_place(
    fl: FunctionLowering, op: tc.ReductionOp, plan: ReductionPlan
) -> None:
    """The result starts at the identity; the input is then read once in row-major
    order and each element combined into its result element (the innermost loop
    runs over independent result elements when a leading dim is reduced)."""
    combiner = COMBINERS[op.name.removeprefix("tc.")]
    element = tensor_type_of(op.input).get_element_type()
    kind = element_kind(element)
    out_dims = fl.dims(plan.out)

    def fill(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        store(b, constant(b, combiner.start[kind](element), element), plan.out, ivs)
        return []

    fl.loops(out_dims, fill)

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        kept = [iv for axis, iv in enumerate(ivs) if axis not in plan.axes]
        target = plan.output_index(fl, kept)
        acc = emit(b, memref.LoadOp.get(plan.out, target))
        x = fl.element(b, op.input, ivs)
        store(b, emit(b, combiner.step[kind](acc, x)), plan.out, target)
        return []

    fl.loops(fl.dims(op.input), body)


def _is_better(b: Builder, argmax: bool, x: SSAValue, best: SSAValue) -> SSAValue:
    """x replaces the best so far: strictly greater (less), or the first NaN."""
    if tc.is_float(x.type):
        beyond = cmpf(b, "ugt" if argmax else "ult", x, best)
        return emit(b, arith.AndIOp(beyond, cmpf(b, "ord", best, best)))
    if tc.is_bool(x.type):
        return cmpi(b, "ugt" if argmax else "ult", x, best)
    return cmpi(b, "sgt" if argmax else "slt", x, best)


def lower_arg_reduction(fl: FunctionLowering, op: tc.ReductionOp) -> SSAValue:
    argmax = op.name == "tc.argmax"
    element = tensor_type_of(op.input).get_element_type()
    plan = _plan_reduction(fl, op, needs_elements=True)
    strides = fl.strides(plan.inner)
    worst = (
        (_min_of if argmax else _max_of)
        if not tc.is_bool(element)
        else (lambda t: 0 if argmax else 1)
    )

    def outer_body(
        b: Builder, ivs: list[SSAValue], _: list[SSAValue]
    ) -> list[SSAValue]:
        start = [constant(b, worst(element), element), fl.index(0)]

        def inner_body(
            ib: Builder, jvs: list[SSAValue], acc: list[SSAValue]
        ) -> list[SSAValue]:
            best, best_index = acc
            x = fl.element(ib, op.input, plan.input_index(ivs, jvs))
            better = _is_better(ib, argmax, x, best)
            flat = linearize(ib, jvs, strides) if jvs else fl.index(0)
            return [select(ib, better, x, best), select(ib, better, flat, best_index)]

        _, found = fl.loops(plan.inner, inner_body, start, builder=b)
        store(
            b,
            emit(b, arith.IndexCastOp(found, i64)),
            plan.out,
            plan.output_index(fl, ivs),
        )
        return []

    fl.loops(plan.outer, outer_body)
    return plan.out


# ---------------------------------------------------------------------------------
# Matmul (numpy.dot): BLAS for float32/float64, loops otherwise
# ---------------------------------------------------------------------------------

GEMM_FUNCTIONS: dict[Attribute, str] = {
    f32: "tensorc_gemm_f32",
    f64: "tensorc_gemm_f64",
}
"""Element type -> external `C = op(A) @ op(B)` runtime function (see abi.md)."""


def transposed_gemm_operand(value: SSAValue) -> bool:
    """`value` is a 2-D `tc.transpose` read only as a gemm operand: the gemm reads
    the transpose's input with its trans flag instead of a transposed copy."""
    owner = value.owner
    if not isinstance(owner, tc.TransposeOp) or tuple(owner.perm.get_values()) != (1, 0):
        return False
    element = tensor_type_of(value).get_element_type()
    return element in GEMM_FUNCTIONS and all(
        isinstance(use.operation, tc.MatmulOp) for use in value.uses
    )


def lower_matmul(fl: FunctionLowering, op: tc.MatmulOp) -> SSAValue:
    lhs_dims, rhs_dims = fl.dims(op.lhs), fl.dims(op.rhs)
    inner = len(lhs_dims) - 1
    fl.check_equal(
        lhs_dims[-1], rhs_dims[0], op, f"lhs dim {inner} differs from rhs dim 0"
    )
    computed = lhs_dims[:-1] + rhs_dims[1:]
    out = fl.alloc(tensor_type_of(op.result), fl.result_dims(op, computed))
    element = tensor_type_of(op.result).get_element_type()
    if element in GEMM_FUNCTIONS:
        _gemm(fl, op, out)
    else:
        _matmul_loops(fl, op, out)
    return out


def _matrix_index(
    ivs: list[SSAValue], lhs_rank: int, rhs_rank: int, zero: SSAValue
) -> list[SSAValue]:
    """Index into the M x N product of an output index of numpy.dot's result."""
    rows = ivs[:1] if lhs_rank == 2 else [zero]
    cols = ivs[-1:] if rhs_rank == 2 else [zero]
    return rows + cols


def _as_matrix(
    fl: FunctionLowering, tensor: SSAValue, dims: list[SSAValue], row: bool
) -> SSAValue:
    """`tensor` as the memref<?x?xT> the gemm declaration takes: a matrix as it is
    (`memref.cast` forgets static dims), a vector copied into a 1 x K row (`row`)
    or a K x 1 column (the declaration's rank-2 type needs a rank-2 buffer)."""
    t = tensor_type_of(tensor)
    matrix = TensorType(t.get_element_type(), [DYNAMIC_INDEX, DYNAMIC_INDEX])
    if t.get_num_dims() == 2:
        return _as_dynamic(fl, fl.buffer(tensor))
    out = fl.alloc(matrix, dims)
    zero = fl.index(0)

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        target = ivs if len(ivs) == 2 else ([zero, *ivs] if row else [*ivs, zero])
        store(b, fl.element(b, tensor, ivs), out, target)
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
    element = tensor_type_of(op.result).get_element_type()
    matrix = TensorType(element, [DYNAMIC_INDEX, DYNAMIC_INDEX])
    is_matrix = len(lhs_dims) == len(rhs_dims) == 2
    c = _as_dynamic(fl, out) if is_matrix else fl.alloc(matrix, [m, n])
    callee = _declare_gemm(fl, element)
    trans_a = one if transposed_gemm_operand(op.lhs) else zero
    trans_b = one if transposed_gemm_operand(op.rhs) else zero
    fl.builder.insert(func.CallOp(callee, [a, b, c, m, n, k, trans_a, trans_b], []))
    if is_matrix:
        return
    ranks = (len(lhs_dims), len(rhs_dims))

    def body(bb: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        value = emit(bb, memref.LoadOp.get(c, _matrix_index(ivs, *ranks, zero)))
        store(bb, value, out, ivs)
        return []

    fl.loops(fl.dims(out), body)


def _as_dynamic(fl: FunctionLowering, buffer: SSAValue) -> SSAValue:
    """A rank-2 memref as memref<?x?xT> (the same buffer)."""
    t = buffer.type
    assert isinstance(t, MemRefType)
    matrix = MemRefType(t.element_type, [DYNAMIC_INDEX, DYNAMIC_INDEX])
    if t == matrix:
        return buffer
    return fl.arith(memref.CastOp.get(buffer, matrix))


def _declare_gemm(fl: FunctionLowering, element: Attribute) -> str:
    name = GEMM_FUNCTIONS[element]
    if SymbolTable.lookup_symbol(fl.module, name) is None:
        matrix = MemRefType(element, [DYNAMIC_INDEX, DYNAMIC_INDEX])
        inputs = [matrix] * 3 + [IndexType()] * 5
        Rewriter.insert_op(
            func.FuncOp.external(name, inputs, []),
            InsertPoint.at_start(fl.module.body.block),
        )
    return name


def _matmul_loops(fl: FunctionLowering, op: tc.MatmulOp, out: SSAValue) -> None:
    """Integer, bool and float16 products; float16 accumulates in float32 as numpy."""
    lhs_rank, rhs_rank = len(fl.dims(op.lhs)), len(fl.dims(op.rhs))
    element = tensor_type_of(op.result).get_element_type()
    kind = element_kind(element)
    acc_type = f32 if isinstance(element, Float16Type) else element
    add, mul = COMBINERS["sum"].step[kind], COMBINERS["prod"].step[kind]
    k = fl.dims(op.lhs)[-1]

    def outer_body(
        b: Builder, ivs: list[SSAValue], _: list[SSAValue]
    ) -> list[SSAValue]:
        rows, cols = (
            (ivs[:1] if lhs_rank == 2 else []),
            (ivs[-1:] if rhs_rank == 2 else []),
        )

        def inner_body(
            ib: Builder, kv: list[SSAValue], acc: list[SSAValue]
        ) -> list[SSAValue]:
            x = fl.element(ib, op.lhs, rows + kv)
            y = fl.element(ib, op.rhs, kv + cols)
            if acc_type != element:
                x, y = (
                    emit(ib, arith.ExtFOp(x, acc_type)),
                    emit(ib, arith.ExtFOp(y, acc_type)),
                )
            return [emit(ib, add(acc[0], emit(ib, mul(x, y))))]

        (total,) = fl.loops([k], inner_body, [constant(b, 0, acc_type)], builder=b)
        if acc_type != element:
            total = emit(b, arith.TruncFOp(total, element))
        store(b, total, out, ivs)
        return []

    fl.loops(fl.dims(out), outer_body)
