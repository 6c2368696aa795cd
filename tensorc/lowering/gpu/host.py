"""The host side of GPU-lowered functions: what may stay there, and small edits.

After tc-outline-gpu-kernels a host function's top-level block holds only what the
launch planner (tensorc/runtime/gpu_plan.py) runs: scalar integer `arith`,
`memref.dim/alloc/dealloc/get_global/cast`, `memref.load` of a 0-d integer memref
(a read of device memory), `cf.assert`, `gpu.launch_func` and `func.return`.
"""

from __future__ import annotations

from xdsl.dialects import cf, func, gpu, memref
from xdsl.dialects.builtin import IndexType, IntegerType, i64
from xdsl.ir import Attribute, Block, Operation, SSAValue

from tensorc.errors import LoweringError
from tensorc.lowering.cpu import c_prelude
from tensorc.lowering.legality import describe

HOST_OPS: tuple[type[Operation], ...] = (
    memref.DimOp,
    memref.AllocOp,
    memref.DeallocOp,
    memref.CastOp,
    memref.GetGlobalOp,
    cf.AssertOp,
    gpu.LaunchFuncOp,
    func.ReturnOp,
)
"""Host ops besides integer arith and 0-d integer loads."""


def is_integer(t: Attribute) -> bool:
    return isinstance(t, IntegerType | IndexType)


def storage_type(t: Attribute) -> Attribute:
    """Element type of a device buffer holding values of type `t` (index -> i64)."""
    return i64 if isinstance(t, IndexType) else t


def is_host_op(op: Operation) -> bool:
    if isinstance(op, HOST_OPS):
        return True
    if op.dialect_name() == "arith":
        return all(is_integer(v.type) for v in (*op.operands, *op.results))
    return (
        isinstance(op, memref.LoadOp)
        and op.memref.type.get_num_dims() == 0  # type: ignore[union-attr]
        and is_integer(op.res.type)
    )


def check_host_block(block: Block, where: str) -> None:
    """Declared legality of a host function after outlining."""
    for op in block.ops:
        if not is_host_op(op):
            raise LoweringError(
                f"tc-outline-gpu-kernels: {describe(op)} cannot stay in {where}"
            )


def top(op: Operation) -> Operation:
    """The top-level op (of its function) that holds `op`."""
    while not isinstance(op.parent_op(), func.FuncOp):
        parent = op.parent_op()
        assert parent is not None
        op = parent
    return op


def ops_from(op: Operation) -> set[Operation]:
    """`op` and the ops after it in its block."""
    found: set[Operation] = set()
    current: Operation | None = op
    while current is not None:
        found.add(current)
        current = current.next_op
    return found


def used_beyond(value: SSAValue, local: set[Operation]) -> bool:
    """Whether `value` reaches an op outside `local` through ops inside it."""
    for use in value.uses:
        user = use.operation
        if user not in local:
            return True
        if any(used_beyond(result, local) for result in user.results):
            return True
    return False


def is_gemm(call: func.CallOp) -> bool:
    return call.callee.string_value() in c_prelude.GEMM_FUNCTIONS


def set_operand(op: Operation, index: int, value: SSAValue) -> None:
    operands = list(op.operands)
    operands[index] = value
    op.operands = operands
