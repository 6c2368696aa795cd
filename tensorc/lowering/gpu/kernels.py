"""Kernel bodies of tc-outline-gpu-kernels other than reductions (see reduce.py):
grid-stride loops for elementwise nests and the shared-memory tiled matrix product.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Gemm:
    """The gemm runtime call's operands inside a kernel, and its tiling."""

    a: SSAValue
    b: SSAValue
    c: SSAValue
    m: SSAValue
    n: SSAValue
    k: SSAValue
    trans_a: SSAValue
    trans_b: SSAValue
    element: Attribute
    tile: int


def tiled_matmul(
    kb: KernelBuilder, operands: Sequence[SSAValue], element: Attribute, tile: int
) -> None:
    """C[M,N] = op(A)[M,K] @ op(B)[K,N] (the gemm runtime call's operands: A, B,
    C, M, N, K, transA, transB). Blocks stride over the tiles of C; thread (ty, tx)
    of a tile x tile block computes one element, folding K a tile at a time."""
    gemm = Gemm(*(kb.capture(v) for v in operands), element, tile)  # type: ignore
    tiles = MemRefType(element, [tile, tile])
    staged = (kb.block_scoped(tiles, "a_tile"), kb.block_scoped(tiles, "b_tile"))
    rows, in_rows = kb.for_loop(
        kb.block_id("y"), kb.ceildiv(gemm.m, tile), kb.grid_dim("y"), block_uniform=True
    )
    with kb.at(in_rows):
        cols, in_cols = kb.for_loop(
            kb.block_id("x"),
            kb.ceildiv(gemm.n, tile),
            kb.grid_dim("x"),
            block_uniform=True,
        )
        with kb.at(in_cols):
            row = kb.add(
                kb.mul(rows.body.block.args[0], kb.index(tile)), kb.thread_id("y")
            )
            col = kb.add(
                kb.mul(cols.body.block.args[0], kb.index(tile)), kb.thread_id("x")
            )
            steps, body = kb.for_loop(
                kb.index(0),
                kb.ceildiv(gemm.k, tile),
                kb.index(1),
                [_zero(kb, element)],
                block_uniform=True,
            )
            with kb.at(body):
                body.insert(scf.YieldOp(_tile_step(kb, gemm, staged, row, col, steps)))
            inside = _both(kb, _below(kb, row, gemm.m), _below(kb, col, gemm.n))
            with kb.at(kb.if_then(inside)):
                kb.builder.insert(
                    memref.StoreOp.get(steps.results[0], gemm.c, [row, col])
                )
            in_cols.insert(scf.YieldOp())
        in_rows.insert(scf.YieldOp())


def _tile_step(
    kb: KernelBuilder,
    gemm: Gemm,
    staged: tuple[SSAValue, SSAValue],
    row: SSAValue,
    col: SSAValue,
    steps: scf.ForOp,
) -> SSAValue:
    """One step of K: stage a tile of A and of B (zeros outside the matrices),
    barrier, fold the tile product into the accumulator, barrier."""
    step, acc = steps.body.block.args
    tx, ty, tile = kb.thread_id("x"), kb.thread_id("y"), gemm.tile
    offset = kb.mul(step, kb.index(tile))
    ka, kb_row = kb.add(offset, tx), kb.add(offset, ty)
    in_a = _both(kb, _below(kb, row, gemm.m), _below(kb, ka, gemm.k))
    in_b = _both(kb, _below(kb, kb_row, gemm.k), _below(kb, col, gemm.n))
    index_a = _operand_index(kb, gemm.trans_a, row, ka)
    index_b = _operand_index(kb, gemm.trans_b, kb_row, col)
    value_a = _guarded_load(kb, in_a, gemm.a, index_a, gemm.element)
    value_b = _guarded_load(kb, in_b, gemm.b, index_b, gemm.element)
    a_tile, b_tile = staged
    kb.builder.insert(memref.StoreOp.get(value_a, a_tile, [ty, tx]))
    kb.builder.insert(memref.StoreOp.get(value_b, b_tile, [ty, tx]))
    kb.barrier()
    inner, inner_body = kb.for_loop(kb.index(0), kb.index(tile), kb.index(1), [acc])
    with kb.at(inner_body):
        kk, partial = inner.body.block.args
        x = _emit(kb, memref.LoadOp.get(a_tile, [ty, kk]))
        y = _emit(kb, memref.LoadOp.get(b_tile, [kk, tx]))
        product = _emit(kb, _multiply(gemm.element)(x, y))
        inner_body.insert(scf.YieldOp(_emit(kb, _add(gemm.element)(partial, product))))
    kb.barrier()
    return inner.results[0]


def _multiply(t: Attribute) -> type[arith.MulfOp | arith.MuliOp]:
    return arith.MulfOp if tc.is_float(t) else arith.MuliOp


def _add(t: Attribute) -> type[arith.AddfOp | arith.AddiOp]:
    return arith.AddfOp if tc.is_float(t) else arith.AddiOp
