"""Kernel bodies of tc-outline-gpu-kernels other than reductions (see reduce.py):
grid-stride loops for elementwise nests and the shared-memory tiled matrix product.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, memref, scf
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, MemRefType
from xdsl.ir import Attribute, Block, Region, SSAValue
from xdsl.rewriter import InsertPoint

from tensorc.dialects import tc
from tensorc.lowering.gpu.kernel_builder import KernelBuilder
from tensorc.lowering.gpu.loops import constant_int

Values = list[SSAValue]


def grid_stride(
    kb: KernelBuilder,
    extent: Sequence[SSAValue],
    body: Callable[[KernelBuilder, Values], None],
    block: int,
) -> None:
    """Every thread of the grid takes the elements tid, tid + grid size, ... of the
    index space with host dims `extent` (row-major) and runs `body` on each."""
    dims = [kb.capture(d) for d in extent]
    first = kb.add(kb.mul(kb.block_id(), kb.index(block)), kb.thread_id())
    stride = kb.mul(kb.grid_dim(), kb.index(block))
    loop, inner = kb.for_loop(first, kb.product(dims), stride)
    with kb.at(inner):
        body(kb, kb.delinearize(loop.body.block.args[0], dims))
        inner.insert(scf.YieldOp())


def _emit(kb: KernelBuilder, op: arith.ConstantOp | object) -> SSAValue:
    kb.builder.insert(op)  # type: ignore[arg-type]
    return op.results[0]  # type: ignore[attr-defined]


def _zero(kb: KernelBuilder, t: Attribute) -> SSAValue:
    attr = FloatAttr(0.0, t) if tc.is_float(t) else IntegerAttr(0, t)  # type: ignore[arg-type]
    return _emit(kb, arith.ConstantOp(attr))  # type: ignore[arg-type]


def _both(kb: KernelBuilder, x: SSAValue, y: SSAValue) -> SSAValue:
    return _emit(kb, arith.AndIOp(x, y))


def _below(kb: KernelBuilder, x: SSAValue, bound: SSAValue) -> SSAValue:
    return _emit(kb, arith.CmpiOp(x, bound, "ult"))


def _guarded_load(
    kb: KernelBuilder, valid: SSAValue, buffer: SSAValue, indices: Values, t: Attribute
) -> SSAValue:
    """buffer[indices] where `valid`, else 0 (never reads out of bounds)."""
    then, otherwise = Block(), Block()
    load = memref.LoadOp.get(buffer, indices)
    then.add_ops([load, scf.YieldOp(load.res)])
    op = scf.IfOp(valid, [t], Region(then), Region(otherwise))
    kb.builder.insert(op)
    with kb.at(Builder(InsertPoint.at_end(otherwise))):
        otherwise.add_op(scf.YieldOp(_zero(kb, t)))
    return op.results[0]


def _operand_index(
    kb: KernelBuilder, transposed: SSAValue, outer: SSAValue, inner: SSAValue
) -> Values:
    """[outer, inner] of a row-major operand, or [inner, outer] when transposed
    (decided now when the flag is a constant)."""
    flag = constant_int(transposed)
    if flag is not None:
        return [inner, outer] if flag else [outer, inner]
    is_set = _emit(kb, arith.CmpiOp(transposed, kb.index(0), "ne"))
    first = _emit(kb, arith.SelectOp(is_set, inner, outer))
    second = _emit(kb, arith.SelectOp(is_set, outer, inner))
    return [first, second]


def tiled_matmul(
    kb: KernelBuilder,
    operands: Sequence[SSAValue],
    element: Attribute,
    tile: int,
) -> None:
    """C[M,N] = op(A)[M,K] @ op(B)[K,N] (the gemm runtime call's operands: A, B,
    C, M, N, K, transA, transB). Thread (ty, tx) of a tile x tile block computes
    one element of C; per step of K the block stages a tile of A and of B in two
    block-scoped buffers, with a barrier before and after using them."""
    a, b, c, m, n, k, trans_a, trans_b = (kb.capture(v) for v in operands)
    tiles = MemRefType(element, [tile, tile])
    a_tile, b_tile = kb.block_scoped(tiles), kb.block_scoped(tiles)
    tx, ty = kb.thread_id("x"), kb.thread_id("y")
    size = kb.index(tile)
    rows, _ = kb.for_loop(kb.block_id("y"), kb.ceildiv(m, tile), kb.grid_dim("y"), block_uniform=True)
    with kb.at(Builder(InsertPoint.at_end(rows.body.block))):
        cols, _ = kb.for_loop(kb.block_id("x"), kb.ceildiv(n, tile), kb.grid_dim("x"), block_uniform=True)
        with kb.at(Builder(InsertPoint.at_end(cols.body.block))):
            row = kb.add(kb.mul(rows.body.block.args[0], size), ty)
            col = kb.add(kb.mul(cols.body.block.args[0], size), tx)
            steps, body = kb.for_loop(
                kb.index(0), kb.ceildiv(k, tile), kb.index(1), [_zero(kb, element)],
                block_uniform=True,
            )
            with kb.at(body):
                step, acc = steps.body.block.args
                offset = kb.mul(step, size)
                ka, kb_row = kb.add(offset, tx), kb.add(offset, ty)
                in_a = _both(kb, _below(kb, row, m), _below(kb, ka, k))
                in_b = _both(kb, _below(kb, kb_row, k), _below(kb, col, n))
                value_a = _guarded_load(kb, in_a, a, _operand_index(kb, trans_a, row, ka), element)
                value_b = _guarded_load(kb, in_b, b, _operand_index(kb, trans_b, kb_row, col)[::-1][::-1], element)
                kb.builder.insert(memref.StoreOp.get(value_a, a_tile, [ty, tx]))
                kb.builder.insert(memref.StoreOp.get(value_b, b_tile, [ty, tx]))
                kb.barrier()
                inner, inner_body = kb.for_loop(kb.index(0), size, kb.index(1), [acc])
                with kb.at(inner_body):
                    kk, partial = inner.body.block.args
                    x = _emit(kb, memref.LoadOp.get(a_tile, [ty, kk]))
                    y = _emit(kb, memref.LoadOp.get(b_tile, [kk, tx]))
                    product = _emit(kb, _multiply(element)(x, y))
                    inner_body.insert(scf.YieldOp(_emit(kb, _add(element)(partial, product))))
                kb.barrier()
                body.insert(scf.YieldOp(inner.results[0]))
            inside = _both(kb, _below(kb, row, m), _below(kb, col, n))
            with kb.at(kb.if_then(inside)):
                kb.builder.insert(memref.StoreOp.get(steps.results[0], c, [row, col]))
            cols.body.block.add_op(scf.YieldOp())
        rows.body.block.add_op(scf.YieldOp())


def _multiply(t: Attribute) -> type[arith.MulfOp] | type[arith.MuliOp]:
    return arith.MulfOp if tc.is_float(t) else arith.MuliOp


def _add(t: Attribute) -> type[arith.AddfOp] | type[arith.AddiOp]:
    return arith.AddfOp if tc.is_float(t) else arith.AddiOp
