"""Which loops of bufferized IR may run in parallel, and as what.

tc-bufferize builds every loop nest with `FunctionLowering.loops`: canonical
`scf.for %i = 0 to %n step 1` loops whose bounds are computed in the function's
top-level block. This module reads such a nest back:

- `perfect_prefix`: the outer loops without loop-carried values, perfectly nested;
- `reduction_chain`: loops that carry accumulators through every level;
- `independent_ivs`: the induction variables whose iterations touch disjoint
  memory. A memref written in the nest must be accessed (loaded and stored) at
  one index tuple only, and an iv is independent if some entry of that tuple is
  `iv * c + e` (c a non-zero constant, e loop-invariant): two iterations that
  differ in it write different elements. Loads of read-only memrefs never matter;
- `combiner_of`: the associative op that folds a carried value (`acc + x`);
- `memory_reduction` / `atomic_update`: `M[S] = M[S] op v` read-modify-writes.

Nothing here changes IR.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from xdsl.dialects import arith, memref, scf
from xdsl.dialects.builtin import IntegerAttr
from xdsl.ir import Block, BlockArgument, Operation, SSAValue

ASSOCIATIVE_OPS: tuple[type[Operation], ...] = (
    arith.AddfOp,
    arith.MulfOp,
    arith.MaximumfOp,
    arith.MinimumfOp,
    arith.MaxnumfOp,
    arith.MinnumfOp,
    arith.AddiOp,
    arith.MuliOp,
    arith.AndIOp,
    arith.OrIOp,
    arith.XOrIOp,
    arith.MaxSIOp,
    arith.MinSIOp,
    arith.MaxUIOp,
    arith.MinUIOp,
)
"""Binary ops that may fold partial results in any grouping (floats: up to rounding,
the usual parallel-reduction trade)."""

_KNOWN_OPS = (memref.LoadOp, memref.StoreOp, memref.AtomicRMWOp, memref.DimOp)
_CONTROL_OPS = (scf.ForOp, scf.IfOp, scf.YieldOp)


def constant_int(value: SSAValue) -> int | None:
    owner = value.owner
    if isinstance(owner, arith.ConstantOp) and isinstance(owner.value, IntegerAttr):
        return owner.value.value.data
    return None


def is_inside(value: SSAValue, op: Operation) -> bool:
    """Whether `value` is defined inside `op` (by a nested op or block argument)."""
    owner = value.owner
    block = owner if isinstance(owner, Block) else owner.parent_block()
    while block is not None:
        parent = block.parent_op()
        if parent is op:
            return True
        if parent is None:
            return False
        block = parent.parent_block()
    return False


def external_operands(op: Operation) -> list[SSAValue]:
    """Operands of `op` and its nested ops that are defined outside `op`, in order
    of first use (each once)."""
    seen: dict[SSAValue, None] = {}
    for nested in op.walk():
        for value in nested.operands:
            if value not in seen and not is_inside(value, op):
                seen[value] = None
    return list(seen)


def body_ops(loop: scf.ForOp) -> list[Operation]:
    """The ops of a loop body without its terminator."""
    return [op for op in loop.body.block.ops if not isinstance(op, scf.YieldOp)]


def is_canonical(loop: scf.ForOp, root: Operation) -> bool:
    """`for %i = 0 to %n step 1` with %n defined outside the nest rooted at `root`."""
    return (
        constant_int(loop.lb) == 0
        and constant_int(loop.step) == 1
        and (loop is root or not is_inside(loop.ub, root))
        and not is_inside(loop.ub, loop)
    )


def perfect_prefix(root: scf.ForOp) -> list[scf.ForOp]:
    """The perfectly nested canonical loops from `root` inward that carry nothing."""
    loops: list[scf.ForOp] = []
    loop = root
    while not loop.iter_args and is_canonical(loop, root):
        loops.append(loop)
        ops = body_ops(loop)
        if len(ops) != 1 or not isinstance(ops[0], scf.ForOp):
            break
        loop = ops[0]
    return loops


def reduction_chain(loop: scf.ForOp, root: Operation) -> list[scf.ForOp] | None:
    """Canonical loops from `loop` inward carrying the same values through every
    level (what `FunctionLowering.loops` builds with `inits`), or None."""
    if not loop.iter_args or not is_canonical(loop, root):
        return None
    chain = [loop]
    while True:
        ops = body_ops(chain[-1])
        inner = ops[0] if len(ops) == 1 else None
        if not isinstance(inner, scf.ForOp) or not inner.iter_args:
            return chain
        carried = list(chain[-1].body.block.args[1:])
        yielded = list(chain[-1].body.block.last_op.operands)  # type: ignore[union-attr]
        if (
            list(inner.iter_args) != carried
            or yielded != list(inner.results)
            or not is_canonical(inner, root)
        ):
            return None
        chain.append(inner)


# ---------------------------------------------------------------------------------
# Memory accesses
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    op: Operation
    buffer: SSAValue
    indices: tuple[SSAValue, ...]
    writes: bool


def base_buffer(value: SSAValue) -> SSAValue:
    """A memref seen through `memref.cast` views."""
    while isinstance(value.owner, memref.CastOp):
        value = value.owner.source
    return value


def accesses(region_root: Operation | Block) -> Iterator[Access]:
    ops = region_root.walk()
    for op in ops:
        if isinstance(op, memref.LoadOp):
            yield Access(op, base_buffer(op.memref), tuple(op.indices), False)
        elif isinstance(op, memref.StoreOp | memref.AtomicRMWOp):
            yield Access(op, base_buffer(op.memref), tuple(op.indices), True)


def accesses_by_buffer(region_root: Operation | Block) -> dict[SSAValue, list[Access]]:
    by_buffer: dict[SSAValue, list[Access]] = {}
    for access in accesses(region_root):
        by_buffer.setdefault(access.buffer, []).append(access)
    return by_buffer


def has_unknown_effects(block: Block) -> bool:
    """Ops other than scalar arith/math, memref accesses and structured control flow
    (a call, an assert, an allocation): the nest cannot be reasoned about."""
    for op in block.walk():
        name = op.dialect_name()
        if name in ("arith", "math") or isinstance(op, _KNOWN_OPS + _CONTROL_OPS):
            continue
        return True
    return False


def affine_iv(
    index: SSAValue, ivs: Sequence[SSAValue], root: Operation
) -> SSAValue | None:
    """The iv if `index` is `iv * c + e` (c a non-zero constant, e invariant in the
    nest rooted at `root`, any of the parts optional), else None."""
    if index in ivs:
        return index
    op = index.owner
    if isinstance(op, arith.AddiOp | arith.SubiOp):
        pairs = [(op.lhs, op.rhs), (op.rhs, op.lhs)]
        for term, offset in pairs:
            if not is_inside(offset, root):
                found = affine_iv(term, ivs, root)
                if found is not None:
                    return found
    if isinstance(op, arith.MuliOp):
        for term, factor in [(op.lhs, op.rhs), (op.rhs, op.lhs)]:
            if constant_int(factor) not in (None, 0):
                found = affine_iv(term, ivs, root)
                if found is not None:
                    return found
    return None


def independent_ivs(
    ivs: Sequence[SSAValue],
    block: Block,
    root: Operation,
    commuting: ReadModifyWrite | None = None,
) -> list[SSAValue]:
    """The ivs (in order) whose iterations write disjoint memory (module docstring);
    none if the block has effects this analysis does not model. The buffer of a
    `commuting` update (about to become an atomic) does not count."""
    if has_unknown_effects(block):
        return []
    independent = set(ivs)
    skipped = base_buffer(commuting.store.memref) if commuting else None
    for buffer, buffer_accesses in accesses_by_buffer(block).items():
        if buffer is skipped or not any(a.writes for a in buffer_accesses):
            continue
        tuples = {a.indices for a in buffer_accesses}
        if len(tuples) != 1:
            return []
        (indices,) = tuples
        independent &= {affine_iv(i, ivs, root) for i in indices}
    return [iv for iv in ivs if iv in independent]


# ---------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------


def combiner_of(yielded: SSAValue, carried: BlockArgument) -> type[Operation] | None:
    """The associative op class if `yielded` is `carried op x` (either order) and the
    carried value has no other use."""
    op = yielded.owner
    if not isinstance(op, ASSOCIATIVE_OPS) or len(op.operands) != 2:
        return None
    if carried not in op.operands or op.operands[0] is op.operands[1]:
        return None
    if len(list(carried.uses)) != 1:
        return None
    return type(op)


def other_operand(op: Operation, value: SSAValue) -> SSAValue:
    lhs, rhs = op.operands
    return rhs if lhs is value else lhs


@dataclass(frozen=True)
class ReadModifyWrite:
    """`M[S] = M[S] op v`: the load, the combining op and the store."""

    load: memref.LoadOp
    combine: Operation
    store: memref.StoreOp

    @property
    def update(self) -> SSAValue:
        """The value combined into M[S] (v)."""
        return other_operand(self.combine, self.load.res)


def read_modify_write(block: Block) -> ReadModifyWrite | None:
    """The single read-modify-write of the only memref the block writes."""
    written = [
        (buffer, group)
        for buffer, group in accesses_by_buffer(block).items()
        if any(a.writes for a in group)
    ]
    if len(written) != 1:
        return None
    _, group = written[0]
    loads = [a.op for a in group if not a.writes]
    stores = [a.op for a in group if a.writes]
    if len(loads) != 1 or len(stores) != 1 or group[0].indices != group[1].indices:
        return None
    load, store = loads[0], stores[0]
    assert isinstance(load, memref.LoadOp) and isinstance(store, memref.StoreOp)
    combine = store.value.owner
    uses = list(load.res.uses)
    if (
        not isinstance(combine, ASSOCIATIVE_OPS)
        or len(uses) != 1
        or uses[0].operation is not combine
        or len(list(store.value.uses)) != 1
        or combine.operands[0] is combine.operands[1]
    ):
        return None
    return ReadModifyWrite(load, combine, store)


ATOMIC_KINDS: dict[type[Operation], int] = {arith.AddfOp: 0, arith.AddiOp: 1}
"""Combining op -> MLIR AtomicRMWKind (addf = 0, addi = 1) the CUDA emitter maps to
atomicAdd; other kinds have no atomic on every element type."""
