"""tc-outline-gpu-kernels: move the loops of bufferized IR into `gpu.func` kernels.

Preconditions: the bufferized-IR contract (/work/notes/abi.md): public functions
whose top-level blocks hold index arithmetic, allocations, `cf.assert`s, `scf.for`
nests from tc-bufferize, `func.call`s of `@tensorc_gemm_f32/f64`, top-level
stores of 0-d results and scalar arithmetic.

Postconditions (/work/notes/gpu.md):
- the module has `gpu.container_module` and a `gpu.module @kernels` holding every
  kernel (`gpu.func ... kernel`, attributes `tck.kind`, `gpu.known_block_size`);
- each host function's top-level block holds only index/integer `arith` ops,
  `memref.dim/alloc/dealloc/get_global/cast`, `memref.load` of 0-d integer
  memrefs (a device read), `cf.assert`, `gpu.launch_func` and `func.return`
  (declared legality: LoweringError otherwise); gemm declarations are gone;
  constant globals stay in the module and reach kernels as arguments;
- kernels keep per-block scratch (reduction partials, matmul tiles) in
  `memref.alloc`s of `#tck.memspace<global>` in their entry block, placed later by
  tc-promote-shared; threads of a block exchange data only across `gpu.barrier`.

What runs how (tensorc/lowering/gpu/plans.py decides per nest, grouping.py which
nests share a kernel):
- independent loops (elementwise ops, copies, atomic scatter-adds) -> grid-stride
  kernels over the flattened index space, one for consecutive nests over the
  same index space that exchange data only element by element;
- reductions -> one block per row (tree reduction), or two kernels for a full
  reduction (per-block partials, then one block); consecutive nests over the same
  rows that start with a reduction and exchange data only within a row (softmax)
  become one kernel with a stage per nest;
- matrix products -> shared-memory tiled kernels (no BLAS on the GPU);
- `cf.assert`s inside loops -> a check (an `and` reduction) before the loop, read
  by the host, so a failing check stops before the loop's kernel runs;
- top-level scalar statements -> one-thread kernels (or the tail of the preceding
  full reduction); float scalars are recomputed inside the kernels that use them,
  integers the host needs are read back (a one-thread kernel and a 0-d read);
- anything else runs in a single thread, with a remark on the `tensorc.gpu` logger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, cf, func, gpu, memref, scf
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
    ModuleOp,
    StringAttr,
    SymbolRefAttr,
    UnitAttr,
    i32,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from tensorc.errors import LoweringError
from tensorc.lowering.gpu import grouping, kernels, reduce
from tensorc.lowering.gpu.checks import check_reduction
from tensorc.lowering.gpu.grouping import Group, Item
from tensorc.lowering.gpu.host import (
    check_host_block,
    is_gemm,
    is_integer,
    ops_from,
    set_operand,
    storage_type,
    top,
    used_beyond,
)
from tensorc.lowering.gpu.kernel_builder import HostIndex, KernelBuilder
from tensorc.lowering.gpu.loops import base_buffer
from tensorc.lowering.gpu.plans import (
    MapPlan,
    ReducePlan,
    SerialPlan,
    plan_nest,
    stage,
    ubs_of,
)
from tensorc.lowering.gpu.target import DEFAULT_TARGET, GpuTarget
from tensorc.lowering.legality import check_lowered

REMARKS = logging.getLogger("tensorc.gpu")
KERNEL_MODULE = "kernels"


class FunctionOutliner:
    """Outlines the kernels of one host function (module docstring)."""

    def __init__(
        self, fn: func.FuncOp, kernels_module: gpu.ModuleOp, target: GpuTarget
    ):
        self.block = fn.body.block
        self.symbol = fn.sym_name.data
        self.kernels = kernels_module
        self.target = target
        self.host = HostIndex(self.block)
        self.device: set[SSAValue] = set()
        self.readbacks: dict[SSAValue, SSAValue] = {}
        self.count = 0
        zero = arith.ConstantOp(IntegerAttr(0, i32))
        Rewriter.insert_op(zero, InsertPoint.at_start(self.block))
        self.no_dynamic_shared = zero.result

    def run(self) -> None:
        groups: list[Group] = []
        between: list[Operation] = []
        for item in self._items():
            if isinstance(item, Operation):
                between.append(item)
            elif groups and grouping.joins(groups[-1], item, between, self.is_device):
                groups[-1].add(item, between)
                between = []
            else:
                groups.append(grouping.start(item))
                between = []
        for group in groups:
            self._emit(group)
        self._erase_device_ops()

    # ---- which values live on the device -------------------------------------

    def _classify(self, op: Operation) -> None:
        """Mark `op`'s results that live on the device: float scalars, loads of
        device memory (the host reads only 0-d integer memrefs) and anything
        computed from them."""
        device_operand = any(v in self.device for v in op.operands)
        if isinstance(op, memref.LoadOp):
            rank = op.memref.type.get_num_dims()  # type: ignore[union-attr]
            if device_operand or rank or not is_integer(op.res.type):
                self.device.add(op.res)
        elif op.dialect_name() in ("arith", "math"):
            if device_operand or not all(is_integer(r.type) for r in op.results):
                self.device.update(op.results)
        elif isinstance(op, scf.ForOp):
            self.device.update(r for r in op.results if not is_integer(r.type))

    def is_device(self, value: SSAValue) -> bool:
        return value in self.device

    # ---- items -----------------------------------------------------------------

    def _items(self) -> list[Item | Operation]:
        """Kernel items and host ops in order. Readbacks and checks are launched on
        the way, right before the op that needs them; those launches are listed
        too, so that no group spans them."""
        items: list[Item | Operation] = []
        for op in list(self.block.ops):
            self._classify(op)
            previous = op.prev_op
            item = self._item(op)
            inserted = previous.next_op if previous is not None else self.block.first_op
            while inserted is not None and inserted is not op:
                items.append(inserted)
                inserted = inserted.next_op
            if isinstance(item, Item) or not any(r in self.device for r in op.results):
                items.append(item)  # device scalars are recomputed where used
        return items

    def _item(self, op: Operation) -> Item | Operation:
        """What `op` is (reading its device operands back where the host needs
        them, lifting the checks out of a nest)."""
        if isinstance(op, scf.ForOp):
            for loop in [op, *(o for o in op.walk() if isinstance(o, scf.ForOp))]:
                if loop.ub in self.device:
                    set_operand(loop, 1, self._readback(loop.ub, op))
            self._hoist_checks(op)
            return Item(op, plan_nest(op))
        if isinstance(op, func.CallOp) and is_gemm(op):
            for index, value in enumerate(op.operands):
                if value in self.device and is_integer(value.type):
                    set_operand(op, index, self._readback(value, op))
            return Item(op, "gemm")
        if isinstance(op, memref.StoreOp | scf.IfOp):
            return Item(op, "scalar")
        if isinstance(op, memref.CopyOp):
            return Item(op, "copy")
        if not any(r in self.device for r in op.results):
            for index, value in enumerate(op.operands):
                if value in self.device and not isinstance(op, memref.CastOp):
                    set_operand(op, index, self._readback(value, op))
        return op

    # ---- emission ------------------------------------------------------------------

    def _kernel(self, kind: str, block: tuple[int, int, int]) -> KernelBuilder:
        name = f"{self.symbol}_{kind}_{self.count}"
        self.count += 1
        return KernelBuilder(name, kind, block, self.block, self.is_device)

    def _launch(
        self, kb: KernelBuilder, grid: list[SSAValue], before: Operation
    ) -> None:
        self.kernels.body.block.add_op(kb.finish())
        block = [self.host.index(size) for size in kb.block_size]
        while len(grid) < 3:
            grid.append(self.host.index(1))
        launch = gpu.LaunchFuncOp(
            SymbolRefAttr(KERNEL_MODULE, [kb.name]),
            grid,
            block,
            kernelOperands=kb.args,
            dynamicSharedMemorySize=self.no_dynamic_shared,
        )
        Rewriter.insert_op(launch, InsertPoint.before(before))

    def _grid(
        self, count: SSAValue, per_block: int, cap: int, before: Operation
    ) -> SSAValue:
        host = self.host.before(before)
        return host.clamp(host.ceildiv(count, per_block), 1, cap)

    def _emit(self, group: Group) -> None:
        plan, before = group.first, group.last
        if plan == "scalar":
            self._emit_scalars([item.op for item in group.items], before)
        elif plan == "gemm":
            self._emit_gemm(before)  # type: ignore[arg-type]
        elif plan == "copy":
            self._emit_copy(before)  # type: ignore[arg-type]
        elif isinstance(plan, SerialPlan):
            self._emit_serial(plan)
        elif isinstance(plan, MapPlan):
            self._emit_map([item.plan for item in group.items], before)  # type: ignore
        elif isinstance(plan, ReducePlan) and not plan.loops:
            self._emit_full_reduction(plan, [item.op for item in group.items[1:]])
        else:
            self._emit_rows(group)
        for op in group.moved:
            op.detach()
            Rewriter.insert_op(op, InsertPoint.after(before))
        for item in reversed(group.items):
            Rewriter.erase_op(item.op, safe_erase=False)

    def _emit_map(self, plans: list[MapPlan], before: Operation) -> None:
        """One grid-stride kernel running each nest's body per index, in order."""
        block = self.target.block_size
        kb = self._kernel("elementwise", (block, 1, 1))
        extent = ubs_of(plans[0].loops)

        def body(k: KernelBuilder, coords: reduce.Values) -> None:
            for plan in plans:
                plan.emit_body(k, {}, coords)

        kernels.grid_stride(kb, extent, body, block)
        count = self.host.before(before).product(extent)
        grid = self._grid(count, block, self.target.max_grid_blocks, before)
        self._launch(kb, [grid], before)

    def _emit_serial(self, plan: SerialPlan) -> None:
        REMARKS.warning(
            "tc-outline-gpu-kernels: a loop nest of @%s runs in one GPU thread: %s",
            self.symbol,
            plan.reason,
        )
        kb = self._kernel("serial", (1, 1, 1))
        kb.clone(plan.root, {}, None)
        self._launch(kb, [], plan.root)

    def _emit_scalars(self, ops: list[Operation], before: Operation) -> None:
        kb = self._kernel("scalar", (1, 1, 1))
        for op in ops:
            kb.clone_inline(op)
        self._launch(kb, [], before)

    def _emit_rows(self, group: Group) -> None:
        rows = grouping.rows_of(group.first)  # type: ignore[arg-type]
        block = self.target.block_size
        stages = [stage(item.plan, len(rows), block) for item in group.items]  # type: ignore
        kb = self._kernel("reduce_rows", (block, 1, 1))
        reduce.row_kernel(kb, ubs_of(rows), stages)
        count = self.host.before(group.last).product(ubs_of(rows))
        grid = self.host.clamp(count, 1, self.target.max_grid_blocks)
        self._launch(kb, [grid], group.last)

    def _emit_full_reduction(self, plan: ReducePlan, tail: list[Operation]) -> None:
        """Two kernels; the scalar statements that follow the loop run at the end
        of the second one, later uses read the results from 0-d device buffers."""
        root = plan.root
        last = tail[-1] if tail else root
        dependent = self._dependent_device_ops(root, last)
        local = set(tail) | set(dependent)
        spilled = [r for r in root.results if used_beyond(r, local)]
        spills = [self._alloc(storage_type(r.type), [], root) for r in spilled]
        results: dict[SSAValue, SSAValue] = {}
        red = plan.reduction({}, results)
        fold = red.finish

        def finish(
            kb: KernelBuilder, rows: reduce.Values, totals: reduce.Values
        ) -> None:
            fold(kb, rows, totals)
            for result, spill in zip(spilled, spills, strict=True):
                value = reduce.to_storage(kb, results[result])
                kb.builder.insert(memref.StoreOp.get(value, kb.capture(spill), []))
            for op in tail:
                kb.clone_inline(op, results)

        red.finish = finish
        self._two_pass(red, "reduce_all", last)
        for result, spill in zip(spilled, spills, strict=True):
            result.replace_all_uses_with(self._host_load(spill, result.type, last))
        for op in dependent:  # device scalars of the results: after the reads
            op.detach()
            Rewriter.insert_op(op, InsertPoint.before(last))

    def _dependent_device_ops(
        self, root: Operation, last: Operation
    ) -> list[Operation]:
        """Device scalar ops between `root` and `last` computed from root's results
        (grouping keeps host ops that use them out of that range)."""
        found: list[Operation] = []
        tainted = set(root.results)
        op = root.next_op if last is not root else None
        while op is not None and op is not last:
            if any(v in tainted for v in op.operands):
                assert all(r in self.device for r in op.results), op
                tainted.update(op.results)
                found.append(op)
            op = op.next_op
        return found

    def _two_pass(self, red: reduce.Reduction, kind: str, before: Operation) -> None:
        """Launch a full reduction before `before`: block partials, then one block."""
        block = self.target.block_size
        count = self.host.before(before).product(red.extent)
        blocks = self._grid(count, block, self.target.max_partial_blocks, before)
        partials = [self._alloc(storage_type(t), [blocks], before) for t in red.types]
        first = self._kernel(kind + "_partial", (block, 1, 1))
        reduce.partial_pass(first, red, partials, block)
        self._launch(first, [blocks], before)
        second = self._kernel(kind + "_final", (block, 1, 1))
        reduce.final_pass(second, red, partials, blocks, block)
        self._launch(second, [], before)
        for partial in partials:
            Rewriter.insert_op(
                memref.DeallocOp.get(partial), InsertPoint.before(before)
            )

    def _hoist_checks(self, root: scf.ForOp) -> None:
        """The nest's `cf.assert`s become one `and` reduction run before it, each
        asserted by the host (tensorc/lowering/gpu/checks.py)."""
        checks = [op for op in root.walk() if isinstance(op, cf.AssertOp)]
        if not checks:
            return
        flags = [self._alloc(IntegerType(1), [], root) for _ in checks]
        self._two_pass(check_reduction(root, checks, flags), "check", root)
        for check, flag in zip(checks, flags, strict=True):
            ok = self._host_load(flag, IntegerType(1), root)
            Rewriter.insert_op(
                cf.AssertOp(ok, check.msg.data), InsertPoint.before(root)
            )
            Rewriter.erase_op(check)

    def _emit_gemm(self, call: func.CallOp) -> None:
        tile = self.target.tile
        kb = self._kernel("matmul", (tile, tile, 1))
        element = base_buffer(call.arguments[2]).type.element_type  # type: ignore
        kernels.tiled_matmul(kb, list(call.arguments), element, tile)
        m, n = call.arguments[3], call.arguments[4]
        cap = self.target.max_grid_blocks
        self._launch(
            kb, [self._grid(n, tile, cap, call), self._grid(m, tile, cap, call)], call
        )

    def _emit_copy(self, copy: memref.CopyOp) -> None:
        rank = copy.source.type.get_num_dims()  # type: ignore[union-attr]
        host = self.host.before(copy)
        dims = [
            host.emit(memref.DimOp(copy.source, host.index(a))) for a in range(rank)
        ]
        block = self.target.block_size
        kb = self._kernel("copy", (block, 1, 1))

        def body(k: KernelBuilder, coords: reduce.Values) -> None:
            value = k.builder.insert(
                memref.LoadOp.get(k.capture(copy.source), coords)
            ).res
            k.builder.insert(
                memref.StoreOp.get(value, k.capture(copy.destination), coords)
            )

        kernels.grid_stride(kb, dims, body, block)
        count = host.product(dims)
        self._launch(
            kb, [self._grid(count, block, self.target.max_grid_blocks, copy)], copy
        )

    # ---- host values -------------------------------------------------------------

    def _alloc(
        self, element: Attribute, sizes: list[SSAValue], before: Operation
    ) -> SSAValue:
        shape = [DYNAMIC_INDEX] * len(sizes)
        alloc = memref.AllocOp(sizes, [], MemRefType(element, shape))
        Rewriter.insert_op(alloc, InsertPoint.before(before))
        return alloc.memref

    def _host_load(self, buffer: SSAValue, t: Attribute, before: Operation) -> SSAValue:
        load = memref.LoadOp.get(buffer, [])
        Rewriter.insert_op(load, InsertPoint.before(before))
        value: SSAValue = load.res
        if isinstance(t, IndexType):
            cast = arith.IndexCastOp(value, IndexType())
            Rewriter.insert_op(cast, InsertPoint.before(before))
            value = cast.result
        elif not is_integer(t):
            self.device.add(value)
        return value

    def _readback(self, value: SSAValue, before: Operation) -> SSAValue:
        """A device scalar the host needs: computed by a one-thread kernel into a 0-d
        buffer and read by the host, which then uses that copy from here on (what
        it computes from it stays on the host)."""
        if value not in self.readbacks:
            if not is_integer(value.type):
                raise LoweringError(f"the host cannot use the float scalar {value}")
            buffer = self._alloc(storage_type(value.type), [], before)
            kb = self._kernel("readback", (1, 1, 1))
            stored = reduce.to_storage(kb, kb.capture(value))
            kb.builder.insert(memref.StoreOp.get(stored, kb.capture(buffer), []))
            self._launch(kb, [], before)
            host_copy = self._host_load(buffer, value.type, before)
            later = ops_from(before)
            value.replace_uses_with_if(
                host_copy, lambda use: top(use.operation) in later
            )
            self.readbacks[value] = host_copy
        return self.readbacks[value]

    def _erase_device_ops(self) -> None:
        for op in reversed(list(self.block.ops)):
            removable = isinstance(op, memref.CastOp | memref.GetGlobalOp) or any(
                r in self.device for r in op.results
            )
            if removable and all(not r.uses for r in op.results):
                Rewriter.erase_op(op)
        check_host_block(self.block, f"host function @{self.symbol}")


def _kernel_module(module: ModuleOp) -> gpu.ModuleOp:
    """The module's `gpu.module @kernels` (created if missing)."""
    module.attributes["gpu.container_module"] = UnitAttr()
    for op in module.ops:
        if isinstance(op, gpu.ModuleOp) and op.sym_name.data == KERNEL_MODULE:
            return op
    kernels_module = gpu.ModuleOp(StringAttr(KERNEL_MODULE), Region(Block()))  # type: ignore
    module.body.block.add_op(kernels_module)
    return kernels_module


@dataclass(frozen=True)
class OutlineGpuKernelsPass(ModulePass):
    """Bufferized host functions -> kernels + launches (module docstring)."""

    name = "tc-outline-gpu-kernels"

    block_size: int = DEFAULT_TARGET.block_size
    """Threads per block of 1-D kernels (a power of 2)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = GpuTarget(block_size=self.block_size)
        kernels_module = _kernel_module(op)
        for fn in list(op.ops):
            if isinstance(fn, func.FuncOp) and not fn.is_declaration:
                FunctionOutliner(fn, kernels_module, target).run()
                for dialect in ("scf", "math"):  # no loops or float math on the host
                    check_lowered(fn, dialect, self.name)
        for fn in list(op.ops):
            if isinstance(fn, func.FuncOp) and fn.is_declaration:
                Rewriter.erase_op(fn)
