"""tc-outline-gpu-kernels: move the loops of bufferized IR into `gpu.func` kernels.

Preconditions: the bufferized-IR contract (/work/notes/abi.md): public functions
whose top-level blocks hold index arithmetic, allocations, `cf.assert`s, `scf.for`
nests from tc-bufferize, `func.call`s of `@tensorc_gemm_f32/f64`, top-level
stores of 0-d results and scalar arithmetic.

Postconditions (/work/notes/gpu.md):
- the module has `gpu.container_module` and a `gpu.module @kernels` holding every
  kernel (`gpu.func ... kernel`, attribute `tck.kind`) and the constant globals;
- each host function's top-level block holds only index/integer `arith` ops,
  `memref.dim`/`alloc`/`dealloc`, `memref.load` of 0-d integer memrefs (a device
  read), `cf.assert`, `gpu.launch_func` and `func.return` (declared legality:
  LoweringError otherwise); gemm declarations are gone;
- kernels keep per-block scratch (reduction partials, matmul tiles) in
  `memref.alloc`s of `#tck.memspace<global>` in their entry block, placed later by
  tc-promote-shared; threads of a block exchange data only across `gpu.barrier`.

What runs how (tensorc/lowering/gpu/plans.py decides per nest):
- independent loops (elementwise ops, copies, atomic scatter-adds) -> grid-stride
  kernels over the flattened index space;
- reductions -> one block per row (tree reduction), or two kernels for a full
  reduction (per-block partials, then one block); consecutive nests over the same
  rows that start with a reduction and exchange data only within a row (softmax)
  become one kernel with a stage per nest;
- matrix products -> shared-memory tiled kernels (no BLAS on the GPU);
- `cf.assert`s inside loops -> a check (an `and` reduction) before the loop, read
  by the host, so a failing check stops before the loop's kernel runs;
- top-level scalar statements -> one-thread kernels (or the tail of the preceding
  full reduction); float scalars are recomputed inside the kernels that use them;
- anything else runs in a single thread, with a remark on the `tensorc.gpu` logger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

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
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from tensorc.errors import LoweringError
from tensorc.lowering.gpu import kernels, reduce
from tensorc.lowering.gpu.kernel_builder import HostIndex, KernelBuilder
from tensorc.lowering.gpu.loops import accesses, base_buffer, external_operands
from tensorc.lowering.gpu.plans import (
    MapPlan,
    MemoryReducePlan,
    Plan,
    ReducePlan,
    SerialPlan,
    ivs_of,
    perfect_prefix,
    plan_nest,
    ubs_of,
)
from tensorc.lowering.gpu.target import DEFAULT_TARGET, GpuTarget
from tensorc.lowering.legality import describe

REMARKS = logging.getLogger("tensorc.gpu")
KERNEL_MODULE = "kernels"


def is_integer(t: Attribute) -> bool:
    return isinstance(t, IntegerType | IndexType)


def storage_type(t: Attribute) -> Attribute:
    """Element type of a device buffer holding values of type `t` (index -> i64)."""
    return i64 if isinstance(t, IndexType) else t


@dataclass
class Item:
    """A top-level op that becomes (part of) a kernel."""

    op: Operation
    plan: Plan | str
    """A nest's plan, or "gemm", "scalar", "copy"."""


@dataclass
class Group:
    """Items emitted as one launch (or one two-kernel reduction)."""

    items: list[Item]
    moved: list[Operation] = field(default_factory=list)
    written: set[SSAValue] = field(default_factory=set)

    @property
    def first(self) -> Plan | str:
        return self.items[0].plan

    @property
    def last(self) -> Operation:
        return self.items[-1].op


class FunctionOutliner:
    """Outlines the kernels of one host function (module docstring)."""

    def __init__(self, fn: func.FuncOp, kernels_module: gpu.ModuleOp, target: GpuTarget):
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
        self._mark_device_values()
        groups: list[Group] = []
        between: list[Operation] = []
        for item in self._items():
            if isinstance(item, Operation):
                between.append(item)
                continue
            if groups and self._accepts(groups[-1], item, between):
                groups[-1].items.append(item)
                groups[-1].moved += [op for op in between if isinstance(op, memref.DeallocOp)]
            else:
                groups.append(Group([item]))
            groups[-1].written |= _written(item.op)
            between = []
        for group in groups:
            self._emit(group)
        self._erase_device_ops()

    # ---- which values live on the device -------------------------------------

    def _mark_device_values(self) -> None:
        for op in self.block.ops:
            device_operand = any(v in self.device for v in op.operands)
            if isinstance(op, memref.LoadOp):
                readable = op.memref.type.get_num_dims() == 0 and is_integer(op.res.type)
                if device_operand or not readable:
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
        """Kernel items and host ops in order; readbacks and checks are emitted on
        the way (they are host ops and launches themselves)."""
        items: list[Item | Operation] = []
        for op in list(self.block.ops):
            if isinstance(op, scf.ForOp):
                for loop in [op, *(o for o in op.walk() if isinstance(o, scf.ForOp))]:
                    if loop.ub in self.device:
                        _set_operand(loop, 1, self._readback(loop.ub, op))
                self._hoist_checks(op)
                items.append(Item(op, plan_nest(op)))
            elif isinstance(op, func.CallOp):
                for index, value in enumerate(op.operands):
                    if value in self.device and is_integer(value.type):
                        _set_operand(op, index, self._readback(value, op))
                items.append(Item(op, "gemm"))
            elif isinstance(op, memref.StoreOp | scf.IfOp):
                items.append(Item(op, "scalar"))
            elif isinstance(op, memref.CopyOp):
                items.append(Item(op, "copy"))
            elif not any(r in self.device for r in op.results):
                for index, value in enumerate(op.operands):
                    if value in self.device and not isinstance(op, memref.CastOp):
                        _set_operand(op, index, self._readback(value, op))
                items.append(op)
        return items

    def _accepts(self, group: Group, item: Item, between: list[Operation]) -> bool:
        for op in between:
            if isinstance(op, gpu.LaunchFuncOp):
                return False
            if isinstance(op, memref.LoadOp) and base_buffer(op.memref) in group.written:
                return False
        first = group.first
        if item.plan == "scalar":
            if isinstance(first, ReducePlan) and not first.loops:
                # the tail of a full reduction: nothing in between may use its results
                results = set(group.items[0].op.results)
                return not any(v in results for op in between for v in op.operands)
            return first == "scalar"
        if not isinstance(first, ReducePlan | MemoryReducePlan):
            return False
        return bool(_leading_rows(first)) and self._joins_rows(group, item)

    def _joins_rows(self, group: Group, item: Item) -> bool:
        """Same rows, leading loops, every shared buffer accessed within the row."""
        plan = item.plan
        rows = _leading_rows(group.first)  # type: ignore[arg-type]
        assert rows
        if not isinstance(plan, MapPlan | ReducePlan | MemoryReducePlan):
            return False
        if not _leading_rows(plan) or len(plan.loops) < len(rows):
            return False
        if ubs_of(plan.loops[: len(rows)]) != ubs_of(rows):
            return False
        if any(_reads_device(self, v, group.written) for v in external_operands(item.op)):
            return False
        members = [*group.items, item]
        touched: dict[SSAValue, list[tuple[object, ...]]] = {}
        for member in members:
            leading = tuple(ivs_of(member.plan.loops[: len(rows)]))  # type: ignore
            for access in accesses(member.op):
                row_local = access.indices[: len(leading)] == leading
                touched.setdefault(access.buffer, []).append((id(member), access.writes, row_local))
        for entries in touched.values():
            if len({e[0] for e in entries}) > 1 and any(e[1] for e in entries):
                if not all(e[2] for e in entries):
                    return False
        return True

    # ---- emission ------------------------------------------------------------------

    def _kernel(self, kind: str, block: tuple[int, int, int]) -> KernelBuilder:
        name = f"{self.symbol}_{kind}_{self.count}"
        self.count += 1
        return KernelBuilder(name, kind, block, self.block, self.is_device)

    def _launch(self, kb: KernelBuilder, grid: list[SSAValue], before: Operation) -> None:
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

    def _grid(self, count: SSAValue, per_block: int, cap: int, before: Operation) -> SSAValue:
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
            self._emit_map(plan)
        elif isinstance(plan, ReducePlan) and not plan.loops:
            self._emit_full_reduction(plan, [item.op for item in group.items[1:]])
        else:
            self._emit_rows(group)
        for op in group.moved:
            op.detach()
            Rewriter.insert_op(op, InsertPoint.after(before))
        for item in reversed(group.items):
            Rewriter.erase_op(item.op, safe_erase=False)

    def _emit_map(self, plan: MapPlan) -> None:
        block = self.target.block_size
        kb = self._kernel("elementwise", (block, 1, 1))
        kernels.grid_stride(kb, ubs_of(plan.loops), lambda k, c: plan.emit_body(k, {}, c), block)
        count = self.host.before(plan.root).product(ubs_of(plan.loops))
        self._launch(kb, [self._grid(count, block, self.target.max_grid_blocks, plan.root)], plan.root)

    def _emit_serial(self, plan: SerialPlan) -> None:
        REMARKS.warning(
            "tc-outline-gpu-kernels: a loop nest of @%s runs in one GPU thread: %s",
            self.symbol, plan.reason,
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
        rows = _rows(group.first)  # type: ignore[arg-type]
        assert rows is not None
        block = self.target.block_size
        stages = [self._stage(item.plan, len(rows)) for item in group.items]  # type: ignore
        kb = self._kernel("reduce_rows", (block, 1, 1))
        reduce.row_kernel(kb, ubs_of(rows), stages)
        count = self.host.before(group.last).product(ubs_of(rows))
        grid = self.host.clamp(count, 1, self.target.max_grid_blocks)
        self._launch(kb, [grid], group.last)

    def _stage(self, plan: Plan, rank: int) -> reduce.Stage:
        block = self.target.block_size
        if isinstance(plan, MapPlan):
            leading = ivs_of(plan.loops[:rank])

            def body(kb: KernelBuilder, rows: reduce.Values, coords: reduce.Values) -> None:
                plan.emit_body(kb, dict(zip(leading, rows, strict=True)), coords)

            return reduce.map_stage(ubs_of(plan.loops[rank:]), body, block)
        if isinstance(plan, MemoryReducePlan):
            row_ivs = ivs_of(plan.rows)

            def memory_stage(kb: KernelBuilder, rows: reduce.Values) -> None:
                red = plan.reduction(dict(zip(row_ivs, rows, strict=True)))
                reduce.block_reduce(kb, red, rows, block)

            return memory_stage
        assert isinstance(plan, ReducePlan)
        leading = ivs_of(plan.loops)

        def register_stage(kb: KernelBuilder, rows: reduce.Values) -> None:
            mapper = dict(zip(leading, rows, strict=True))
            kb.clone_ops(plan.pre, mapper)
            reduce.block_reduce(kb, plan.reduction(mapper, {}), rows, block)

        return register_stage

    def _emit_full_reduction(self, plan: ReducePlan, tail: list[Operation]) -> None:
        """Two kernels; the scalar statements that follow the loop run at the end
        of the second one, later uses read the results from 0-d device buffers."""
        root = plan.root
        results: dict[SSAValue, SSAValue] = {}
        red = plan.reduction({}, results)
        spills = [self._alloc(storage_type(r.type), [], root) for r in root.results]
        fold = red.finish

        def finish(kb: KernelBuilder, rows: reduce.Values, totals: reduce.Values) -> None:
            fold(kb, rows, totals)
            for result, spill in zip(root.results, spills, strict=True):
                value = reduce.to_storage(kb, results[result])
                kb.builder.insert(memref.StoreOp.get(value, kb.capture(spill), []))
            for op in tail:
                kb.clone_inline(op, results)

        red.finish = finish
        last = tail[-1] if tail else root
        self._two_pass(red, "reduce_all", last)
        for result, spill in zip(root.results, spills, strict=True):
            result.replace_all_uses_with(self._host_load(spill, result.type, last))

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
            Rewriter.insert_op(memref.DeallocOp.get(partial), InsertPoint.before(before))

    def _hoist_checks(self, root: scf.ForOp) -> None:
        """Each `cf.assert` in the nest becomes an `and` reduction over the nest run
        before it; the host asserts the result (module docstring)."""
        for check in [op for op in root.walk() if isinstance(op, cf.AssertOp)]:
            red, flag = self._check_reduction(root, check)
            self._two_pass(red, "check", root)
            ok = self._host_load(flag, IntegerType(1), root)
            Rewriter.insert_op(cf.AssertOp(ok, check.msg.data), InsertPoint.before(root))
            Rewriter.erase_op(check)

    def _check_reduction(self, root: scf.ForOp, check: cf.AssertOp) -> tuple[reduce.Reduction, SSAValue]:
        loops = perfect_prefix(root)
        body = loops[-1].body.block if loops else None
        needed = _check_slice(check.arg, body) if body is check.parent_block() else None
        if needed is None:
            raise LoweringError(
                f"tc-outline-gpu-kernels: cannot check '{check.msg.data}' on the GPU "
                "(the condition is not computed in the innermost loop of its nest)"
            )
        flag = self._alloc(IntegerType(1), [], root)
        combiner = reduce.Combiner([arith.AndIOp])
        ivs = ivs_of(loops)

        def step(kb: KernelBuilder, rows: reduce.Values, coords: reduce.Values, accs: reduce.Values) -> reduce.Values:
            mapper = dict(zip(ivs, coords, strict=True))
            kb.clone_ops(needed, mapper)
            cond = mapper.get(check.arg) or kb.capture(check.arg)
            return combiner.combine(kb, accs, [cond])

        def finish(kb: KernelBuilder, rows: reduce.Values, totals: reduce.Values) -> None:
            kb.builder.insert(memref.StoreOp.get(totals[0], kb.capture(flag), []))

        red = reduce.Reduction([IntegerType(1)], ubs_of(loops), combiner, lambda kb: [], step, finish)
        return red, flag

    def _emit_gemm(self, call: func.CallOp) -> None:
        tile = self.target.tile
        kb = self._kernel("matmul", (tile, tile, 1))
        element = base_buffer(call.arguments[2]).type.element_type  # type: ignore
        kernels.tiled_matmul(kb, list(call.arguments), element, tile)
        m, n = call.arguments[3], call.arguments[4]
        cap = self.target.max_grid_blocks
        self._launch(kb, [self._grid(n, tile, cap, call), self._grid(m, tile, cap, call)], call)

    def _emit_copy(self, copy: memref.CopyOp) -> None:
        rank = copy.source.type.get_num_dims()  # type: ignore[union-attr]
        host = self.host.before(copy)
        dims = [host.emit(memref.DimOp.from_source_and_index(copy.source, host.index(a))) for a in range(rank)]
        block = self.target.block_size
        kb = self._kernel("copy", (block, 1, 1))

        def body(k: KernelBuilder, coords: reduce.Values) -> None:
            value = k.builder.insert(memref.LoadOp.get(k.capture(copy.source), coords)).res
            k.builder.insert(memref.StoreOp.get(value, k.capture(copy.destination), coords))

        kernels.grid_stride(kb, dims, body, block)
        count = host.product(dims)
        self._launch(kb, [self._grid(count, block, self.target.max_grid_blocks, copy)], copy)

    # ---- host values -------------------------------------------------------------

    def _alloc(self, element: Attribute, sizes: list[SSAValue], before: Operation) -> SSAValue:
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
        buffer, then read by the host."""
        if value not in self.readbacks:
            if not is_integer(value.type):
                raise LoweringError(f"the host cannot use the float scalar {value}")
            buffer = self._alloc(storage_type(value.type), [], before)
            kb = self._kernel("readback", (1, 1, 1))
            stored = reduce.to_storage(kb, kb.capture(value))
            kb.builder.insert(memref.StoreOp.get(stored, kb.capture(buffer), []))
            self._launch(kb, [], before)
            self.readbacks[value] = self._host_load(buffer, value.type, before)
        return self.readbacks[value]

    def _erase_device_ops(self) -> None:
        for op in reversed(list(self.block.ops)):
            removable = isinstance(op, memref.CastOp | memref.GetGlobalOp) or any(
                r in self.device for r in op.results
            )
            if removable and all(not r.uses for r in op.results):
                Rewriter.erase_op(op)
        legal = (
            memref.DimOp,
            memref.AllocOp,
            memref.DeallocOp,
            memref.CastOp,
            memref.GetGlobalOp,
            cf.AssertOp,
            gpu.LaunchFuncOp,
            func.ReturnOp,
        )
        for op in self.block.ops:
            if isinstance(op, legal) or _host_arith(op) or _host_load(op):
                continue
            raise LoweringError(
                f"tc-outline-gpu-kernels: {describe(op)} cannot stay in host function "
                f"@{self.symbol}"
            )


def _set_operand(op: Operation, index: int, value: SSAValue) -> None:
    operands = list(op.operands)
    operands[index] = value
    op.operands = operands


def _host_arith(op: Operation) -> bool:
    return op.dialect_name() == "arith" and all(
        is_integer(v.type) for v in (*op.operands, *op.results)
    )


def _host_load(op: Operation) -> bool:
    return (
        isinstance(op, memref.LoadOp)
        and op.memref.type.get_num_dims() == 0  # type: ignore[union-attr]
        and is_integer(op.res.type)
    )


def _rows(plan: Plan) -> list[scf.ForOp]:
    """The loops a row kernel gives each block one iteration of."""
    if isinstance(plan, MemoryReducePlan):
        return plan.rows
    assert isinstance(plan, ReducePlan | MapPlan)
    return plan.loops


def _leading_rows(plan: Plan | str) -> list[scf.ForOp] | None:
    """The rows of a plan that can share a row kernel: its leading loops."""
    if isinstance(plan, ReducePlan | MapPlan):
        return plan.loops or None
    if isinstance(plan, MemoryReducePlan) and plan.rows == plan.loops[: len(plan.rows)]:
        return plan.rows or None
    return None


def _written(op: Operation) -> set[SSAValue]:
    return {a.buffer for a in accesses(op) if a.writes}


def _reads_device(outliner: FunctionOutliner, value: SSAValue, written: set[SSAValue]) -> bool:
    """Whether the device scalar `value` (recomputed at kernel start) reads one of
    the `written` buffers."""
    pending, seen = [value], set()
    while pending:
        v = pending.pop()
        if v in seen or not outliner.is_device(v) or not isinstance(v.owner, Operation):
            continue
        seen.add(v)
        if isinstance(v.owner, memref.LoadOp) and base_buffer(v.owner.memref) in written:
            return True
        pending.extend(v.owner.operands)
    return False


def _check_slice(cond: SSAValue, block: Block) -> list[Operation] | None:
    """Ops of `block` computing `cond` (scalar ops and loads), in block order."""
    needed: set[Operation] = set()
    pending = [cond]
    while pending:
        owner = pending.pop().owner
        if not isinstance(owner, Operation) or owner.parent_block() is not block:
            continue
        if owner.dialect_name() not in ("arith", "math") and not isinstance(owner, memref.LoadOp):
            return None
        if owner not in needed:
            needed.add(owner)
            pending.extend(owner.operands)
    return [op for op in block.ops if op in needed]


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
        for fn in list(op.ops):
            if isinstance(fn, func.FuncOp) and fn.is_declaration:
                Rewriter.erase_op(fn)

