"""Block-level tree reductions for tc-outline-gpu-kernels.

A `Reduction` says how to fold the elements of one reduced index space: the
accumulators' start values, one `step` per element, the associative `combine` of
two partial results and the `finish` thread 0 runs with the block's total. The
kernels built here share one shape:

    acc = start; for j = first to extent step stride: acc = step(acc, element j)
    partial[tid] = acc; barrier
    for s = B/2 .. 1: if tid < s: partial[tid] = combine(partial[tid], partial[tid+s])
                      barrier
    total = partial[0]; if tid == 0: finish(total); barrier

`partial` is a block-scoped buffer (`tc-promote-shared` places it, normally in
shared memory). A row kernel gives each block a row (grid-stride over the rows)
and can run several stages per row: elementwise stages (threads stride over the
row) and reductions, with a barrier after each stage (softmax stays one kernel).
A full reduction takes two kernels: blocks reduce grid-strided chunks into one
partial result each (in global memory), then one block reduces the partials.

`Combiner` recognizes the fold of a bufferized reduction loop: `acc op x` with an
associative op (the thread starts at the op's identity and thread 0 folds the
loop's initial value in at the end), or the (value, index) pair of argmax/argmin
(ties go to the smaller index, so the first extremum wins as on the CPU).
"""

from __future__ import annotations

import math as pymath
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.dialects import arith, memref, scf
from xdsl.dialects.builtin import (
    Float16Type,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
)
from xdsl.ir import Attribute, Block, BlockArgument, Operation, SSAValue

from tensorc.lowering.gpu.kernel_builder import KernelBuilder
from tensorc.lowering.gpu.loops import combiner_of

Values = list[SSAValue]


# ---------------------------------------------------------------------------------
# How partial results fold
# ---------------------------------------------------------------------------------


def _int_limits(t: Attribute) -> tuple[int, int]:
    assert isinstance(t, IntegerType | IndexType)
    bits = 64 if isinstance(t, IndexType) else t.width.data
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def identity(kb: KernelBuilder, op: type[Operation], t: Attribute) -> SSAValue:
    """The identity element of `op` on type `t` (x op identity == x)."""
    if isinstance(t, IntegerType | IndexType):
        low, high = _int_limits(t)
        ones = 1 if isinstance(t, IntegerType) and t.width.data == 1 else -1
        value = {
            arith.AddiOp: 0,
            arith.MuliOp: 1,
            arith.OrIOp: 0,
            arith.XOrIOp: 0,
            arith.AndIOp: ones,
            arith.MaxSIOp: low,
            arith.MinSIOp: high,
            arith.MaxUIOp: 0,
            arith.MinUIOp: ones,
        }[op]
        if isinstance(t, IntegerType) and t.width.data == 1:
            value = value & 1
        attr: Attribute = IntegerAttr(value, t)
    else:
        value_f = {
            arith.AddfOp: -0.0,
            arith.MulfOp: 1.0,
            arith.MaximumfOp: float("-inf"),
            arith.MinimumfOp: float("inf"),
            arith.MaxnumfOp: float("nan"),
            arith.MinnumfOp: float("nan"),
        }[op]
        attr = FloatAttr(value_f, t)  # type: ignore[arg-type]
    constant = arith.ConstantOp(attr)  # type: ignore[arg-type]
    kb.builder.insert(constant)
    return constant.result


@dataclass
class Combiner:
    """Folds partial accumulators of one reduction loop (module docstring)."""

    ops: list[type[Operation]] | None
    """One associative op per carried value, or None for an argmax/argmin pair."""
    better: SSAValue | None = None
    """argmax/argmin: the condition `x replaces best` in the loop body."""
    value: BlockArgument | None = None
    element: SSAValue | None = None

    def start(
        self, kb: KernelBuilder, types: Sequence[Attribute], inits: Values
    ) -> Values:
        if self.ops is None:
            return list(inits)
        return [identity(kb, op, t) for op, t in zip(self.ops, types, strict=True)]

    def combine(self, kb: KernelBuilder, a: Values, b: Values) -> Values:
        if self.ops is not None:
            return [
                _emit(kb, op(x, y)) for op, x, y in zip(self.ops, a, b, strict=True)
            ]
        (va, ia), (vb, ib) = a, b
        b_better = self._better(kb, vb, va)
        a_better = self._better(kb, va, vb)
        not_a = _emit(kb, arith.XOrIOp(a_better, _true(kb)))
        earlier = _emit(kb, arith.CmpiOp(ib, ia, "ult"))
        take_b = _emit(
            kb, arith.OrIOp(b_better, _emit(kb, arith.AndIOp(not_a, earlier)))
        )
        return [
            _emit(kb, arith.SelectOp(take_b, vb, va)),
            _emit(kb, arith.SelectOp(take_b, ib, ia)),
        ]

    def final(self, kb: KernelBuilder, inits: Values, totals: Values) -> Values:
        """The loop's result: the initial values folded with the block's total."""
        return totals if self.ops is None else self.combine(kb, inits, totals)

    def _better(self, kb: KernelBuilder, x: SSAValue, best: SSAValue) -> SSAValue:
        assert self.better is not None and self.value is not None
        assert self.element is not None
        mapper: dict[SSAValue, SSAValue] = {self.element: x, self.value: best}
        _clone_slice(kb, self.better, mapper)
        return mapper[self.better]


def _emit(kb: KernelBuilder, op: Operation) -> SSAValue:
    kb.builder.insert(op)
    return op.results[0]


def _true(kb: KernelBuilder) -> SSAValue:
    return _emit(kb, arith.ConstantOp(IntegerAttr(1, IntegerType(1))))


def _slice(
    value: SSAValue, block: Block, stop: set[SSAValue]
) -> list[Operation] | None:
    """Ops of `block` computing `value` from the `stop` values and constants, in
    block order; None if it needs anything else (memory, an iv, outer values)."""
    ops: set[Operation] = set()
    pending = [value]
    while pending:
        v = pending.pop()
        owner = v.owner
        if v in stop or isinstance(owner, arith.ConstantOp):
            continue
        if not isinstance(owner, Operation) or owner.parent_block() is not block:
            return None
        if owner.dialect_name() not in ("arith", "math"):
            return None
        if owner not in ops:
            ops.add(owner)
            pending.extend(owner.operands)
    return [op for op in block.ops if op in ops]


def _clone_slice(
    kb: KernelBuilder, value: SSAValue, mapper: dict[SSAValue, SSAValue]
) -> None:
    block = value.owner.parent_block()  # type: ignore[union-attr]
    assert block is not None
    ops = _slice(value, block, set(mapper))
    assert ops is not None
    kb.clone_ops(ops, mapper)


def recognize_combiner(chain: Sequence[scf.ForOp]) -> Combiner | None:
    """How the carried values of a reduction chain fold, or None if unknown."""
    inner = chain[-1].body.block
    carried = list(inner.args[1:])
    yielded = list(inner.last_op.operands)  # type: ignore[union-attr]
    ops = [combiner_of(y, c) for y, c in zip(yielded, carried, strict=True)]
    if all(op is not None for op in ops):
        return Combiner(ops)  # type: ignore[arg-type]
    return _recognize_arg_extremum(inner, carried, yielded)


def _recognize_arg_extremum(
    block: Block, carried: list[BlockArgument], yielded: list[SSAValue]
) -> Combiner | None:
    """best, index = select(c, x, best), select(c, flat, index) with `c` computed
    from x and best alone (argmax/argmin's `x replaces best`)."""
    if len(carried) != 2:
        return None
    first, second = (y.owner for y in yielded)
    if not (isinstance(first, arith.SelectOp) and isinstance(second, arith.SelectOp)):
        return None
    if first.cond is not second.cond or first.rhs is not carried[0]:
        return None
    if second.rhs is not carried[1]:
        return None
    element = first.lhs
    if isinstance(element.type, Float16Type):
        return None
    ops = _slice(first.cond, block, {element, carried[0]})
    if ops is None or not isinstance(carried[1].type, IndexType | IntegerType):
        return None
    return Combiner(None, first.cond, carried[0], element)


# ---------------------------------------------------------------------------------
# One reduced index space, and the kernels that reduce it
# ---------------------------------------------------------------------------------

StepFn = Callable[[KernelBuilder, Values, Values, Values], Values]
"""(kernel, row coordinates, reduced coordinates, accumulators) -> accumulators."""
FinishFn = Callable[[KernelBuilder, Values, Values], None]
"""(kernel, row coordinates, block totals): runs in thread 0."""


@dataclass
class Reduction:
    types: list[Attribute]
    extent: list[SSAValue]
    """Host dims of the reduced index space (outermost first)."""
    combiner: Combiner
    inits: Callable[[KernelBuilder], Values]
    """The loop's initial values, built in the kernel."""
    step: StepFn
    finish: FinishFn


def thread_fold(
    kb: KernelBuilder,
    red: Reduction,
    rows: Values,
    first: SSAValue,
    stride: SSAValue,
    extent: Sequence[SSAValue],
) -> Values:
    """Each thread folds the elements first, first + stride, ... of the reduced
    space (delinearized over `extent`, kernel values)."""
    start = red.combiner.start(kb, red.types, red.inits(kb))
    total = kb.product(extent)
    loop, body = kb.for_loop(first, total, stride, start)
    with kb.at(body):
        coords = kb.delinearize(loop.body.block.args[0], extent)
        new = red.step(kb, rows, coords, list(loop.body.block.args[1:]))
        body.insert(scf.YieldOp(*new))
    return list(loop.results)


def tree(kb: KernelBuilder, combiner: Combiner, accs: Values, block: int) -> Values:
    """The block's fold of every thread's `accs`, read back by every thread."""
    tid = kb.thread_id()
    partials = [kb.block_scoped(MemRefType(a.type, [block]), "partial") for a in accs]
    for acc, partial in zip(accs, partials, strict=True):
        kb.builder.insert(memref.StoreOp.get(acc, partial, [tid]))
    kb.barrier()
    levels = kb.index(int(pymath.log2(block)))
    loop, body = kb.for_loop(kb.index(0), levels, kb.index(1))
    with kb.at(body):
        half = _emit(kb, arith.ShRUIOp(kb.index(block // 2), loop.body.block.args[0]))
        active = kb.if_then(_emit(kb, arith.CmpiOp(tid, half, "ult")))
        with kb.at(active):
            other = kb.add(tid, half)
            mine = [_load(kb, p, tid) for p in partials]
            theirs = [_load(kb, p, other) for p in partials]
            for value, partial in zip(
                combiner.combine(kb, mine, theirs), partials, strict=True
            ):
                kb.builder.insert(memref.StoreOp.get(value, partial, [tid]))
        kb.barrier()
        body.insert(scf.YieldOp())
    return [_load(kb, p, kb.index(0)) for p in partials]


def _load(kb: KernelBuilder, buffer: SSAValue, index: SSAValue) -> SSAValue:
    return _emit(kb, memref.LoadOp.get(buffer, [index]))


def block_reduce(kb: KernelBuilder, red: Reduction, rows: Values, block: int) -> None:
    """One reduction stage of a row kernel: the block folds the row's elements."""
    extent = [kb.capture(d) for d in red.extent]
    accs = thread_fold(kb, red, rows, kb.thread_id(), kb.index(block), extent)
    totals = tree(kb, red.combiner, accs, block)
    with kb.at(kb.if_then(_is_first_thread(kb))):
        red.finish(kb, rows, totals)


def _is_first_thread(kb: KernelBuilder) -> SSAValue:
    return _emit(kb, arith.CmpiOp(kb.thread_id(), kb.index(0), "eq"))


Stage = Callable[[KernelBuilder, Values], None]
"""One stage of a row kernel: (kernel, row coordinates) -> inserts its code."""


def row_kernel(
    kb: KernelBuilder, rows: Sequence[SSAValue], stages: Sequence[Stage]
) -> None:
    """Blocks stride over the rows (host dims `rows`); per row, every stage runs,
    each followed by a barrier (the next stage or row may read what it wrote)."""
    dims = [kb.capture(d) for d in rows]
    count = kb.product(dims)
    loop, body = kb.for_loop(kb.block_id(), count, kb.grid_dim(), block_uniform=True)
    with kb.at(body):
        coords = kb.delinearize(loop.body.block.args[0], dims)
        for stage in stages:
            stage(kb, coords)
            kb.barrier()
        body.insert(scf.YieldOp())


def map_stage(
    extent: Sequence[SSAValue],
    body: Callable[[KernelBuilder, Values, Values], None],
    block: int,
) -> Stage:
    """Threads stride over the row's elements (host dims `extent`); with no extent
    the body runs once, in thread 0."""

    def emit(kb: KernelBuilder, rows: Values) -> None:
        if not extent:
            with kb.at(kb.if_then(_is_first_thread(kb))):
                body(kb, rows, [])
            return
        dims = [kb.capture(d) for d in extent]
        loop, inner = kb.for_loop(kb.thread_id(), kb.product(dims), kb.index(block))
        with kb.at(inner):
            body(kb, rows, kb.delinearize(loop.body.block.args[0], dims))
            inner.insert(scf.YieldOp())

    return emit


def reduce_stage(red: Reduction, block: int) -> Stage:
    def emit(kb: KernelBuilder, rows: Values) -> None:
        block_reduce(kb, red, rows, block)

    return emit


def to_storage(kb: KernelBuilder, value: SSAValue) -> SSAValue:
    """An index value as the i64 a device buffer holds."""
    if not isinstance(value.type, IndexType):
        return value
    return _emit(kb, arith.IndexCastOp(value, IntegerType(64)))


def from_storage(kb: KernelBuilder, value: SSAValue, t: Attribute) -> SSAValue:
    return _emit(kb, arith.IndexCastOp(value, t)) if isinstance(t, IndexType) else value


def partial_pass(
    kb: KernelBuilder, red: Reduction, partials: Values, block: int
) -> None:
    """First kernel of a full reduction: block b stores its total in partials[b]."""
    extent = [kb.capture(d) for d in red.extent]
    first = kb.add(kb.mul(kb.block_id(), kb.index(block)), kb.thread_id())
    stride = kb.mul(kb.grid_dim(), kb.index(block))
    accs = thread_fold(kb, red, [], first, stride, extent)
    totals = tree(kb, red.combiner, accs, block)
    with kb.at(kb.if_then(_is_first_thread(kb))):
        for total, partial in zip(totals, partials, strict=True):
            stored = to_storage(kb, total)
            kb.builder.insert(
                memref.StoreOp.get(stored, kb.capture(partial), [kb.block_id()])
            )


def final_pass(
    kb: KernelBuilder, red: Reduction, partials: Values, count: SSAValue, block: int
) -> Builder:
    """Second kernel of a full reduction: one block folds the `count` partials and
    thread 0 finishes; returns a builder at the end of thread 0's code (statements
    that use the result may follow there)."""
    buffers = [kb.capture(p) for p in partials]

    def step(kb: KernelBuilder, rows: Values, coords: Values, accs: Values) -> Values:
        loaded = [
            from_storage(kb, _load(kb, b, coords[0]), t)
            for b, t in zip(buffers, red.types, strict=True)
        ]
        return red.combiner.combine(kb, accs, loaded)

    folded = Reduction(red.types, [count], red.combiner, red.inits, step, red.finish)
    accs = thread_fold(
        kb, folded, [], kb.thread_id(), kb.index(block), [kb.capture(count)]
    )
    totals = tree(kb, red.combiner, accs, block)
    then = kb.if_then(_is_first_thread(kb))
    with kb.at(then):
        red.finish(kb, [], totals)
    return then
