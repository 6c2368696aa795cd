"""tc-fuse-loops: merge consecutive top-level `scf.for` nests that walk the same rows.

Bufferized code has one loop nest per tc op (or composite). When two consecutive
nests loop over the same outer range and every buffer they share is accessed
row by row, their outer loops merge: iteration i runs the first body, then the
second. A softmax (max, exp, sum, divide) becomes one nest whose rows stay in
cache, instead of four passes over memory.

Preconditions: the bufferized-IR contract (tc-bufferize's postconditions); run
before any pass that reuses or frees buffers by liveness (tc-place-buffers), since
merging loops interleaves the buffers' lifetimes.

Postconditions: the same results; each function's top-level block holds fewer
or equally many `scf.for` ops; ops between two merged loops moved above the
first one; in a merged loop, a load of a row element stored earlier in the same
iteration (same buffer and indices, no store to the buffer in between) reads the
stored value instead (`forward_row_values`).

Legality of merging loop A with the next top-level loop B (no iter_args, the same
lower bound, upper bound and step SSA values):
- every op between A and B can move above A: it is a scalar `arith` op, a
  `memref.alloc`, `memref.dim` or `cf.assert`, or a load from a buffer A does not
  write (a call, a copy or a dealloc stops merging);
- every buffer (memref, seen through `memref.cast`) that A or B writes and both
  access is only loaded and stored, always with first index = the loop's own
  induction variable: iteration i touches row i only, so running B's iteration i
  right after A's keeps every read's value. Other buffers are unconstrained.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import cf, func, memref, scf
from xdsl.dialects.builtin import MemRefType, ModuleOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from tensorc.lowering.buffer_facts import memref_root, storage_root

MOVABLE: tuple[type[Operation], ...] = (memref.AllocOp, memref.DimOp, cf.AssertOp)
"""Top-level ops (besides scalar arith) that may move above a loop: no memory
effect on buffer contents."""


def _root(value: SSAValue) -> SSAValue:
    """The buffer behind a memref value (casts and reshapes are views of it)."""
    return storage_root(value)


def _same_rows(value: SSAValue) -> bool:
    """Whether index 0 of `value` picks the rows of its buffer (not a reshaped
    view, whose rows are other elements of the storage)."""
    return memref_root(value) is storage_root(value)


@dataclass(frozen=True)
class Access:
    """A load or store inside a loop nest: its buffer and whether it stays in the
    row of the nest's outer induction variable."""

    buffer: SSAValue
    writes: bool
    row_local: bool


def _accesses(loop: scf.ForOp) -> Iterator[Access]:
    """Every buffer use inside `loop`; a use other than load/store (e.g. passed to
    a call) counts as a write that is not row-local."""
    iv = loop.body.block.args[0]
    for op in loop.body.walk():
        if isinstance(op, memref.LoadOp | memref.StoreOp):
            indices = list(op.indices)
            local = bool(indices) and indices[0] is iv and _same_rows(op.memref)
            yield Access(_root(op.memref), isinstance(op, memref.StoreOp), local)
            continue
        for value in op.operands:
            if isinstance(value.type, MemRefType):
                yield Access(_root(value), True, False)


def _rows_independent(first: scf.ForOp, second: scf.ForOp) -> bool:
    accesses = [*_accesses(first), *_accesses(second)]
    in_first = {a.buffer for a in _accesses(first)}
    in_second = {a.buffer for a in _accesses(second)}
    written = {a.buffer for a in accesses if a.writes}
    shared = in_first & in_second & written
    return all(a.row_local for a in accesses if a.buffer in shared)


def _same_range(first: scf.ForOp, second: scf.ForOp) -> bool:
    return (
        first.lb is second.lb
        and first.ub is second.ub
        and first.step is second.step
        and not first.iter_args
        and not second.iter_args
    )


def _movable(op: Operation, written: set[SSAValue]) -> bool:
    if isinstance(op, memref.LoadOp):
        return _root(op.memref) not in written
    return isinstance(op, MOVABLE) or (op.dialect_name() == "arith" and not op.regions)


def _between(first: scf.ForOp, second: scf.ForOp) -> list[Operation]:
    ops = []
    op = first.next_op
    while op is not None and op is not second:
        ops.append(op)
        op = op.next_op
    return ops


def try_merge(first: scf.ForOp, second: scf.ForOp) -> bool:
    """Merge `second` into `first` if legal (see the module docstring)."""
    if not _same_range(first, second) or not _rows_independent(first, second):
        return False
    written = {a.buffer for a in _accesses(first) if a.writes}
    between = _between(first, second)
    if not all(_movable(op, written) for op in between):
        return False
    for op in between:
        op.detach()
        Rewriter.insert_op(op, InsertPoint.before(first))
    body = first.body.block
    terminator = body.last_op
    assert isinstance(terminator, scf.YieldOp)
    source = second.body.block
    source_yield = source.last_op
    assert source_yield is not None
    Rewriter.inline_block(source, InsertPoint.before(terminator), [body.args[0]])
    Rewriter.erase_op(source_yield)
    Rewriter.erase_op(second)
    return True


def forward_row_values(loop: scf.ForOp) -> int:
    """Replace loads of a row element that this iteration stored earlier, with
    the same indices and no store to that buffer in between, by the stored value
    (e.g. a row's max, read by every element of the next inner loop): the inner
    loops then read a loop-invariant scalar, which C compilers vectorize.
    Returns the number of loads replaced."""
    known: dict[tuple[SSAValue, tuple[SSAValue, ...]], SSAValue] = {}
    body = loop.body.block
    forwarded = 0
    for op in list(loop.body.walk()):
        if isinstance(op, memref.StoreOp):
            buffer = _root(op.memref)
            for key in [k for k in known if k[0] is buffer]:
                del known[key]
            if op.parent is body and _same_rows(op.memref):
                known[(buffer, tuple(op.indices))] = op.value
        elif isinstance(op, memref.LoadOp) and _same_rows(op.memref):
            value = known.get((_root(op.memref), tuple(op.indices)))
            if value is not None and value.type == op.res.type:
                op.res.replace_all_uses_with(value)
                Rewriter.erase_op(op)
                forwarded += 1
        elif not isinstance(op, scf.ForOp | scf.YieldOp) and any(
            isinstance(v.type, MemRefType) for v in op.operands
        ):
            known.clear()  # some other use of a buffer: forget everything
    return forwarded


def fuse_loops(block: Block) -> int:
    """Merge the mergeable consecutive top-level loops of `block` (then forward
    stored row values within each merged loop); returns the number of merges."""
    merges = 0
    current: scf.ForOp | None = None
    merged: list[scf.ForOp] = []
    op = block.first_op
    while op is not None:
        following = op.next_op
        if isinstance(op, scf.ForOp):
            if current is not None and try_merge(current, op):
                merges += 1
                merged.append(current)
            else:
                current = op
        elif not _movable(op, set()):
            current = None  # a call, copy or return: nothing merges across it
        op = following
    for loop in dict.fromkeys(merged):
        forward_row_values(loop)
    return merges


@dataclass(frozen=True)
class FuseLoopsPass(ModulePass):
    """Merge consecutive top-level loop nests over the same rows (see the module
    docstring)."""

    name = "tc-fuse-loops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in op.ops:
            if isinstance(fn, func.FuncOp) and not fn.is_declaration:
                fuse_loops(fn.body.block)
