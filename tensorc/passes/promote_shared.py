"""tc-promote-shared: place the buffers a thread block owns in shared memory.

Preconditions: tc-outline-gpu-kernels ran. Kernels may hold block-scoped scratch
buffers (reduction partials, matmul tiles): statically shaped `memref.alloc`s of
`#tck.memspace<global>` in their entry block, placement pending.

Postconditions:
- intermediates a block produces and consumes are block-scoped too: a host
  allocation passed to exactly one launch and otherwise only deallocated, whose
  every access in the kernel sits in one block loop (`tck.block_loop`) at the same
  block-uniform leading indices with static trailing dims (a row's max in softmax),
  becomes a buffer of those trailing dims; the host allocation and the kernel
  argument disappear, and the block loop ends with a `gpu.barrier` (the next row
  writes the buffer again only after every thread is done reading it);
- every block-scoped buffer is in `#tck.memspace<shared>` while the kernel's
  buffers fit in the target's shared memory per block (`target.shared_layout`,
  first come first placed); a scratch buffer that does not fit falls back to
  global memory: the host allocates one copy per block (`memref<G x ...>`, G the
  grid size), passes it as a new argument and the kernel indexes it with its
  linear block id; an intermediate that does not fit stays where it was. Each
  fallback is a remark (a warning on the `tensorc.gpu` logger);
- each kernel has `tck.shared_bytes`: the static shared memory its buffers take.

Barriers where threads exchange data inside a stage (tree reductions, tiles) are
the outliner's: they are needed whatever memory the buffers end up in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, gpu, memref, scf
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    FunctionType,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    i64,
)
from xdsl.ir import Block, BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from tensorc.dialects import tck
from tensorc.errors import LoweringError
from tensorc.lowering.gpu.target import (
    DEFAULT_TARGET,
    GpuTarget,
    buffer_bytes,
    shared_layout,
)

REMARKS = logging.getLogger("tensorc.gpu")


@dataclass
class Intermediate:
    """A kernel argument that can become a block-scoped buffer."""

    arg: BlockArgument
    alloc: memref.AllocOp
    loop: scf.ForOp
    leading: int
    """How many leading indices select the block's part (they are dropped)."""

    @property
    def local_type(self) -> MemRefType:
        t = self.arg.type
        assert isinstance(t, MemRefType)
        return MemRefType(
            t.element_type, t.get_shape()[self.leading :], memory_space=tck.SHARED
        )


def _launches(module: ModuleOp) -> dict[str, list[gpu.LaunchFuncOp]]:
    found: dict[str, list[gpu.LaunchFuncOp]] = {}
    for op in module.walk():
        if isinstance(op, gpu.LaunchFuncOp):
            name = op.kernel.nested_references.data[-1].data
            found.setdefault(name, []).append(op)
    return found


def _accesses(arg: SSAValue) -> list[memref.LoadOp | memref.StoreOp] | None:
    users = [use.operation for use in arg.uses]
    for user in users:
        if isinstance(user, memref.LoadOp) and user.memref is arg:
            continue
        if isinstance(user, memref.StoreOp) and user.memref is arg:
            continue
        return None
    return users  # type: ignore[return-value]


def _block_loop(op: Operation) -> scf.ForOp | None:
    parent = op.parent_op()
    while parent is not None and not isinstance(parent, gpu.FuncOp):
        if isinstance(parent, scf.ForOp) and tck.BLOCK_LOOP in parent.attributes:
            return parent
        parent = parent.parent_op()
    return None


def _thread_varying(value: SSAValue) -> bool:
    """Whether `value` may differ between the threads of a block."""
    pending, seen = [value], set()
    while pending:
        v = pending.pop()
        owner = v.owner
        if v in seen:
            continue
        seen.add(v)
        if isinstance(owner, gpu.ThreadIdOp | gpu.LaneIdOp | memref.LoadOp):
            return True
        if isinstance(owner, Block):
            parent = owner.parent_op()
            if (
                isinstance(parent, scf.ForOp)
                and tck.BLOCK_LOOP not in parent.attributes
            ):
                return True
            continue
        pending.extend(owner.operands)
    return False


def _intermediate(
    arg: BlockArgument, launch: gpu.LaunchFuncOp, index: int
) -> Intermediate | None:
    t = arg.type
    if not isinstance(t, MemRefType) or tck.memory_space(t) is not None:
        return None
    source = launch.kernelOperands[index]
    alloc = source.owner
    if not isinstance(alloc, memref.AllocOp):
        return None
    host_users = [use.operation for use in source.uses]
    if sum(1 for u in host_users if u is launch) != 1 or any(
        u is not launch and not isinstance(u, memref.DeallocOp) for u in host_users
    ):
        return None
    if list(launch.kernelOperands).count(source) != 1:
        return None
    users = _accesses(arg)
    if not users:
        return None
    loops = {_block_loop(user) for user in users}
    if len(loops) != 1 or None in loops:
        return None
    (loop,) = loops
    shape = t.get_shape()
    leading = max(
        (axis + 1 for axis, size in enumerate(shape) if size == DYNAMIC_INDEX),
        default=0,
    )
    prefixes = {tuple(user.indices[:leading]) for user in users}
    if len(prefixes) != 1:
        return None
    (prefix,) = prefixes
    body = loop.body.block  # type: ignore[union-attr]
    for value in prefix:
        owner = value.owner
        defined_here = (owner is body) or (
            isinstance(owner, Operation) and owner.parent_block() is body
        )
        if not defined_here or _thread_varying(value):
            return None
    return Intermediate(arg, alloc, loop, leading)  # type: ignore[arg-type]


class KernelPlacement:
    """Places the block-scoped buffers of one kernel (module docstring)."""

    def __init__(
        self,
        kernel: gpu.FuncOp,
        launches: list[gpu.LaunchFuncOp],
        budget: int,
        target: GpuTarget,
    ):
        self.kernel = kernel
        self.launches = launches
        self.budget = budget
        self.target = target
        self.name = kernel.sym_name.data
        self.placed: list[MemRefType] = []

    def run(self) -> None:
        entry = self.kernel.body.block
        for alloc in [op for op in entry.ops if isinstance(op, memref.AllocOp)]:
            space = tck.memory_space(alloc.memref.type)
            if space is tck.MemorySpace.SHARED:
                self.placed.append(alloc.memref.type)  # type: ignore[arg-type]
            elif space is tck.MemorySpace.GLOBAL:
                self._place_scratch(alloc)
        if len(self.launches) == 1:
            self._promote_intermediates()
        _, total = shared_layout(self._shared_types(), self.target)
        self.kernel.attributes[tck.SHARED_BYTES] = IntegerAttr(total, i64)

    def _shared_types(self) -> list[MemRefType]:
        return [
            op.memref.type  # type: ignore[misc]
            for op in self.kernel.body.block.ops
            if isinstance(op, memref.AllocOp)
            and tck.memory_space(op.memref.type) is tck.MemorySpace.SHARED
        ]

    def _fits(self, t: MemRefType) -> bool:
        _, total = shared_layout([*self.placed, t], self.target)
        return total <= self.budget

    def _place_scratch(self, alloc: memref.AllocOp) -> None:
        t = alloc.memref.type
        assert isinstance(t, MemRefType)
        if self._fits(t):
            shared = tck.in_space(t, tck.SHARED)
            Rewriter.replace_op(alloc, memref.AllocOp([], [], shared))
            self.placed.append(shared)
            return
        self._remark(t, "a scratch buffer")
        self._to_global_copies(alloc)

    def _remark(self, t: MemRefType, what: str) -> None:
        _, used = shared_layout(self.placed, self.target)
        REMARKS.warning(
            "tc-promote-shared: kernel @%s: %s of type %s (%d bytes) does not fit in "
            "the %d bytes of shared memory per block (%d used); it stays in global "
            "memory",
            self.name,
            what,
            MemRefType(t.element_type, t.get_shape()),
            buffer_bytes(t),
            self.budget,
            used,
        )

    def _to_global_copies(self, alloc: memref.AllocOp) -> None:
        """One copy per block, allocated by the host, indexed by the block id."""
        t = alloc.memref.type
        assert isinstance(t, MemRefType)
        entry = self.kernel.body.block
        per_block = MemRefType(t.element_type, [DYNAMIC_INDEX, *t.get_shape()])
        arg = entry.insert_arg(per_block, len(entry.args))
        block_id = _linear_block_id(entry, alloc)
        for use in list(alloc.memref.uses):
            user = use.operation
            assert isinstance(user, memref.LoadOp | memref.StoreOp)
            indices = [block_id, *user.indices]
            if isinstance(user, memref.LoadOp):
                _replace(user, memref.LoadOp.get(arg, indices))
            else:
                _replace(user, memref.StoreOp.get(user.value, arg, indices))
        Rewriter.erase_op(alloc)
        _update_signature(self.kernel)
        self.launches = [
            _add_global_copy(launch, per_block) for launch in self.launches
        ]

    def _promote_intermediates(self) -> None:
        index = 0
        while index < len(self.kernel.body.block.args):
            arg = self.kernel.body.block.args[index]
            candidate = _intermediate(arg, self.launches[0], index)
            index += 1
            if candidate is None:
                continue
            local = candidate.local_type
            if not self._fits(local):
                self._remark(local, f"the block's part of argument {arg.index}")
                continue
            self.placed.append(local)
            self._promote(candidate, self.launches[0])
            index -= 1  # the argument is gone

    def _promote(self, candidate: Intermediate, launch: gpu.LaunchFuncOp) -> None:
        entry = self.kernel.body.block
        alloc = memref.AllocOp([], [], candidate.local_type)
        alloc.memref.name_hint = candidate.arg.name_hint
        shared = [op for op in entry.ops if isinstance(op, memref.AllocOp)]
        anchor = shared[-1].next_op if shared else entry.first_op
        assert anchor is not None
        entry.insert_op_before(alloc, anchor)
        for use in list(candidate.arg.uses):
            user = use.operation
            indices = list(user.indices[candidate.leading :])  # type: ignore[union-attr]
            if isinstance(user, memref.LoadOp):
                _replace(user, memref.LoadOp.get(alloc.memref, indices))
            else:
                assert isinstance(user, memref.StoreOp)
                _replace(user, memref.StoreOp.get(user.value, alloc.memref, indices))
        position = candidate.arg.index
        entry.erase_arg(candidate.arg)
        _update_signature(self.kernel)
        operands = list(launch.kernelOperands)
        host_buffer = operands.pop(position)
        self.launches = [_relaunch(launch, operands)]
        for use in list(host_buffer.uses):
            Rewriter.erase_op(use.operation)
        Rewriter.erase_op(candidate.alloc)
        _end_with_barrier(candidate.loop)


def _replace(old: Operation, new: Operation) -> None:
    block = old.parent_block()
    assert block is not None
    block.insert_op_before(new, old)
    for result, replacement in zip(old.results, new.results, strict=True):
        result.replace_all_uses_with(replacement)
    block.erase_op(old)


def _end_with_barrier(loop: scf.ForOp) -> None:
    """The block loop's next iteration starts after every thread finished this one."""
    body = loop.body.block
    terminator = body.last_op
    assert terminator is not None
    if not isinstance(terminator.prev_op, gpu.BarrierOp):
        body.insert_op_before(gpu.BarrierOp(), terminator)


def _update_signature(kernel: gpu.FuncOp) -> None:
    types = [arg.type for arg in kernel.body.block.args]
    kernel.function_type = FunctionType.from_lists(types, [])


def _linear_block_id(entry: Block, before: Operation) -> SSAValue:
    """bid.x + gdim.x * (bid.y + gdim.y * bid.z), computed at the kernel's start."""
    dims = {
        "x": gpu.DimensionEnum.X,
        "y": gpu.DimensionEnum.Y,
        "z": gpu.DimensionEnum.Z,
    }
    ops: list[Operation] = []
    ids = [gpu.BlockIdOp(gpu.DimensionAttr(dims[d])) for d in "xyz"]
    sizes = [gpu.GridDimOp(gpu.DimensionAttr(dims[d])) for d in "xy"]
    ops += ids + sizes
    inner = arith.MuliOp(sizes[1], ids[2])
    middle = arith.AddiOp(ids[1], inner)
    outer = arith.MuliOp(sizes[0], middle)
    linear = arith.AddiOp(ids[0], outer)
    ops += [inner, middle, outer, linear]
    first = entry.first_op
    assert first is not None
    for op in ops:
        entry.insert_op_before(op, first)
    return linear.result


def _add_global_copy(
    launch: gpu.LaunchFuncOp, per_block: MemRefType
) -> gpu.LaunchFuncOp:
    """Host side of a fallback: one copy per block, allocated around the launch."""
    block = launch.parent_block()
    assert block is not None
    count_xy = arith.MuliOp(launch.gridSizeX, launch.gridSizeY)
    count = arith.MuliOp(count_xy, launch.gridSizeZ)
    alloc = memref.AllocOp([count.result], [], per_block)
    for op in (count_xy, count, alloc):
        block.insert_op_before(op, launch)
    new = _relaunch(launch, [*launch.kernelOperands, alloc.memref])
    block.insert_op_after(memref.DeallocOp.get(alloc.memref), new)
    return new


def _relaunch(launch: gpu.LaunchFuncOp, operands: list[SSAValue]) -> gpu.LaunchFuncOp:
    """The same launch with other kernel operands."""
    new = gpu.LaunchFuncOp(
        launch.kernel,
        [launch.gridSizeX, launch.gridSizeY, launch.gridSizeZ],
        [launch.blockSizeX, launch.blockSizeY, launch.blockSizeZ],
        kernelOperands=operands,
        dynamicSharedMemorySize=launch.dynamicSharedMemorySize,
    )
    Rewriter.replace_op(launch, new, [])
    return new


@dataclass(frozen=True)
class PromoteSharedPass(ModulePass):
    """Place block-scoped buffers in shared memory (module docstring)."""

    name = "tc-promote-shared"

    shared_bytes: int = DEFAULT_TARGET.shared_bytes_per_block
    """Shared-memory budget per block (bytes); smaller values exercise fallbacks."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        launches = _launches(op)
        for kernel in op.walk():
            if isinstance(kernel, gpu.FuncOp) and kernel.kernel is not None:
                name = kernel.sym_name.data
                KernelPlacement(
                    kernel, launches.get(name, []), self.shared_bytes, DEFAULT_TARGET
                ).run()
                _check_placed(kernel)


def _check_placed(kernel: gpu.FuncOp) -> None:
    """Declared legality: no block-scoped buffer is left with its placement open."""
    for op in kernel.walk():
        allocates = isinstance(op, memref.AllocOp | memref.AllocaOp)
        if (
            allocates
            and tck.memory_space(op.results[0].type) is not tck.MemorySpace.SHARED
        ):
            raise LoweringError(
                f"tc-promote-shared: kernel @{kernel.sym_name.data} still "
                f"allocates {op.memref.type} (only entry-block allocations of "
                "#tck.memspace<global> can be placed)"
            )
