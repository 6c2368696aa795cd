"""Control flow in C: `scf.for` (plain, `omp simd`, threaded, chunked reductions),
`scf.if`, `scf.yield` and `cf.assert`.

Which loops vectorize or run on threads is decided by c_loops.plan_loops; this
module only prints. A loop-carried value is a C variable declared before its loop
and assigned by the yield. A threaded reduction is printed as

    acc = init;
    { n = trip count; chunks = work >= TENSORC_PARALLEL_WORK ? CHUNKS : 1;
      omp parallel for: for each chunk { private = identity;
                                          omp simd: for i in chunk { body } ;
                                          part[chunk] = private; }
      for each chunk in order: acc = combine(acc, part[chunk]); }

so its result depends on the trip count only, not on the number of threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from xdsl.dialects import arith, cf, scf
from xdsl.ir import Block, SSAValue

from tensorc.errors import LoweringError
from tensorc.lowering.cpu.c_expr import c_expression
from tensorc.lowering.cpu.c_loops import SERIAL, LoopPlan, work_estimate
from tensorc.lowering.cpu.c_values import EmitterBase, c_string


SERIAL_COPY_OPS = 24
"""A threaded flat loop whose body has at most this many ops also gets a serial
copy (small bodies: the copy costs little C compile time)."""


def _op_count(block: Block) -> int:
    return sum(1 for _ in block.walk())


@dataclass(eq=False, repr=False)
class ControlEmitter(EmitterBase):
    """Control-flow handlers of the C emitter (see the module docstring)."""

    _plans: dict[scf.ForOp, LoopPlan] = field(default_factory=dict, init=False)
    _failure_exit: str = field(default="goto fail;", init=False)
    """How a failed assert leaves (an outlined loop nest returns instead)."""

    def _emit_block(self, block: Block) -> None:
        for op in block.ops:
            self.emit_op(op)

    # region loops

    def _emit_for(self, op: scf.ForOp, flatten: bool = True) -> None:
        plan = self._plans.get(op, SERIAL)
        if flatten and plan.nest:
            self._emit_flattened(op, plan)
            return
        carried = self._declare_carried(op)
        if plan.threads and plan.reductions:
            self._emit_chunked_reduction(op, plan, carried)
            return
        if plan.threads:
            simd = " simd" if plan.simd else ""

            def serial() -> None:
                if plan.simd:
                    self._line("TC_OMP(omp simd)")
                self._emit_loop(op, self._expr(op.lb), self._expr(op.ub))

            small = _op_count(op.body.block) <= SERIAL_COPY_OPS
            with self._threaded(self._work(op), f"omp for{simd}", serial if small else None):
                self._emit_loop(op, self._expr(op.lb), self._expr(op.ub))
            return
        if plan.simd:
            self._line(f"TC_OMP(omp simd{_reduction_clauses(plan, carried)})")
        self._emit_loop(op, self._expr(op.lb), self._expr(op.ub))

    @contextmanager
    def _threaded(
        self, work: str, directive: str, serial: Callable[[], None] | None = None
    ) -> Iterator[None]:
        """A parallel region around the loop printed inside, taken when
        `tensorc_parallel` allows it; `directive` (`omp for ...`) shares the loop
        out. Each thread stamps when it is done (the prelude's contention check).
        With `serial`, a one-thread call runs the loop `serial` prints instead of
        entering the region (entering costs about 0.5 µs, noticeable on small
        calls); without it the region is entered with `if(false)`."""
        region, threaded = self._fresh("region"), self._fresh("threaded")
        self._line("{")
        with self.indented():
            self._line(f"tensorc_region {region};")
            self._line(f"const bool {threaded} = tensorc_parallel({work}, &{region});")
            if serial is not None:
                self._line(f"if (!{threaded}) {{")
                with self.indented():
                    serial()
                self._line("} else {")
            self._line(f"TC_OMP(omp parallel if({threaded}))")
            self._line("{")
            with self.indented():
                self._line(f"TC_OMP({directive} schedule(static) nowait)")
                yield
                self._line(f"if ({threaded}) tensorc_region_done(&{region});")
            self._line("}")
            if serial is not None:
                self._line("}")
            self._line(f"if ({threaded}) tensorc_region_end(&{region});")
        self._line("}")

    def _emit_flattened(self, op: scf.ForOp, plan: LoopPlan) -> None:
        """A perfect nest over contiguous buffers as one loop over the product
        of its trip counts, when every buffer's inner dims are the inner trip
        counts (checked at run time unless they are the same C expressions);
        otherwise the nest as it is."""
        uppers = [self._expr(loop.ub) for loop in plan.nest]
        checks = sorted(
            {
                f"{self._view(buffer).dims[axis]} == {uppers[axis]}"
                for buffer, axis in plan.nest_checks
            }
        )
        if not checks:
            self._emit_flat(op, plan)
            return
        self._line(f"if ({' && '.join(checks)}) {{")
        with self.indented():
            self._emit_flat(op, plan)
        self._line("} else {")
        with self.indented():
            self._emit_for(op, flatten=False)
        self._line("}")

    def _emit_flat(self, op: scf.ForOp, plan: LoopPlan) -> None:
        uppers = [self._expr(loop.ub) for loop in plan.nest]
        total, flat = self._fresh("total"), self._fresh("k")
        self._line(f"const int64_t {total} = {' * '.join(uppers)};")
        ivs = tuple(loop.body.block.args[0] for loop in plan.nest)
        self._flat_indices[ivs] = flat
        if plan.threads:
            def serial() -> None:
                self._line("TC_OMP(omp simd)")
                self._emit_flat_loop(plan.nest[-1], flat, total)

            small = _op_count(plan.nest[-1].body.block) <= SERIAL_COPY_OPS
            with self._threaded(self._work(op), "omp for simd", serial if small else None):
                self._emit_flat_loop(plan.nest[-1], flat, total)
        else:
            self._line("TC_OMP(omp simd)")
            self._emit_flat_loop(plan.nest[-1], flat, total)
        del self._flat_indices[ivs]

    def _emit_flat_loop(self, innermost: scf.ForOp, flat: str, total: str) -> None:
        self._line(f"for (int64_t {flat} = 0; {flat} < {total}; {flat} += 1) {{")
        with self.indented():
            self._emit_block(innermost.body.block)
        self._line("}")

    def _declare_carried(self, op: scf.ForOp) -> list[str]:
        """Declare one C variable per carried value, set to its init."""
        _, *carried = op.body.block.args
        names: list[str] = []
        for arg, init, result in zip(carried, op.iter_args, op.results, strict=True):
            name = self._fresh(arg.name_hint or result.name_hint)
            ctype = self.scalar_type(arg.type).value
            self._line(f"{ctype} {name} = {self._expr(init)};")
            self._exprs[arg] = self._exprs[result] = name
            names.append(name)
        return names

    def _emit_loop(self, op: scf.ForOp, lower: str, upper: str) -> None:
        induction = op.body.block.args[0]
        index = self._fresh(induction.name_hint or "i")
        self._exprs[induction] = index
        ctype = self.scalar_type(induction.type).value
        step = self._expr(op.step)
        self._line(
            f"for ({ctype} {index} = {lower}; {index} < {upper}; {index} += {step}) {{"
        )
        with self.indented():
            self._emit_block(op.body.block)
        self._line("}")

    def _work(self, op: scf.ForOp) -> str:
        return work_estimate(op, self._exprs.get)

    def _emit_chunked_reduction(
        self, op: scf.ForOp, plan: LoopPlan, carried: list[str]
    ) -> None:
        """A threaded reduction (see the module docstring)."""
        lower, upper, step = (self._expr(v) for v in (op.lb, op.ub, op.step))
        count, chunks, chunk = (self._fresh(n) for n in ("n", "chunks", "chunk"))
        trip = (
            f"{upper} - {lower}"
            if step == "1"
            else (f"({upper} - {lower} + {step} - 1) / {step}")
        )
        types = [self.scalar_type(a.type).value for a in op.body.block.args[1:]]
        parts = [self._fresh(f"{name}_part") for name in carried]
        self._line("{")
        with self.indented():
            self._line(f"const int64_t {count} = {upper} > {lower} ? {trip} : 0;")
            work = self._fresh("work")
            self._line(f"const double {work} = {self._work(op)};")
            self._line(
                f"const int64_t {chunks} = {work} >= TENSORC_PARALLEL_WORK"
                " ? TENSORC_REDUCE_CHUNKS : 1;"
            )
            for ctype, part in zip(types, parts, strict=True):
                self._line(f"{ctype} {part}[TENSORC_REDUCE_CHUNKS];")
            with self._threaded(f"({chunks} > 1 ? {work} : 0.0)", "omp for"):
                self._line(
                    f"for (int64_t {chunk} = 0; {chunk} < {chunks}; ++{chunk}) {{"
                )
                with self.indented():
                    self._emit_chunk(op, plan, (count, chunks, chunk), parts, types)
                self._line("}")
            self._emit_combine(op, plan, carried, parts, chunks)
        self._line("}")

    def _emit_chunk(
        self,
        op: scf.ForOp,
        plan: LoopPlan,
        counters: tuple[str, str, str],
        parts: list[str],
        types: list[str],
    ) -> None:
        """One chunk: its bounds, private accumulators, the loop, the partials."""
        count, chunks, chunk = counters
        lower, step = self._expr(op.lb), self._expr(op.step)
        low, high = self._fresh("low"), self._fresh("high")
        rest = f"{count} % {chunks}"
        first = f"{count} / {chunks} * {chunk} + ({chunk} < {rest} ? {chunk} : {rest})"
        self._line(f"const int64_t {low} = {lower} + {step} * ({first});")
        size = f"{count} / {chunks} + ({chunk} < {rest})"
        self._line(f"const int64_t {high} = {low} + {step} * ({size});")
        privates: list[str] = []
        block_args = op.body.block.args[1:]
        for arg, result, reduction, ctype in zip(
            block_args, op.results, plan.reductions, types, strict=True
        ):
            name = self._fresh(arg.name_hint or "acc")
            self._line(f"{ctype} {name} = {reduction.identity};")
            self._exprs[arg] = self._exprs[result] = name
            privates.append(name)
        if plan.simd:
            self._line(f"TC_OMP(omp simd{_reduction_clauses(plan, privates)})")
        self._emit_loop(op, low, high)
        for part, name in zip(parts, privates, strict=True):
            self._line(f"{part}[{chunk}] = {name};")

    def _emit_combine(
        self,
        op: scf.ForOp,
        plan: LoopPlan,
        carried: list[str],
        parts: list[str],
        chunks: str,
    ) -> None:
        """Fold the partial results into the carried variables, in chunk order."""
        index = self._fresh("chunk")
        self._line(f"for (int64_t {index} = 0; {index} < {chunks}; ++{index}) {{")
        with self.indented():
            for name, part, reduction in zip(
                carried, parts, plan.reductions, strict=True
            ):
                combined = c_expression(reduction.combiner, [name, f"{part}[{index}]"])
                self._line(f"{name} = {combined};")
        self._line("}")
        for result, name in zip(op.results, carried, strict=True):
            self._exprs[result] = name

    # endregion
    # region branches, yields, asserts

    def _emit_if(self, op: scf.IfOp) -> None:
        for result in op.results:
            name = self._fresh(result.name_hint)
            self._line(f"{self.scalar_type(result.type).value} {name};")
            self._exprs[result] = name
        self._line(f"if ({self._expr(op.cond)}) {{")
        with self.indented():
            self._emit_block(op.true_region.block)
        else_region = op.false_region
        if else_region.blocks and not _is_trivial(else_region.block):
            self._line("} else {")
            with self.indented():
                self._emit_block(else_region.block)
        self._line("}")

    def _emit_yield(self, op: scf.YieldOp) -> None:
        parent = op.parent_op()
        if not isinstance(parent, scf.ForOp | scf.IfOp):
            raise LoweringError(f"scf.yield inside '{parent and parent.name}'")
        moves = [
            (self._exprs[result], value)
            for result, value in zip(parent.results, op.operands, strict=True)
            if self._exprs[result] != self._exprs.get(value)
        ]
        if isinstance(parent, scf.ForOp) and len(moves) > 1:
            # yielded expressions may read carried variables that an earlier
            # assignment would already have overwritten: stage them first
            staged = [(target, self._stage(value)) for target, value in moves]
            for target, name in staged:
                self._line(f"{target} = {name};")
            return
        for target, value in moves:
            self._line(f"{target} = {self._expr(value)};")

    def _stage(self, value: SSAValue) -> str:
        name = self._fresh(None)
        ctype = self.scalar_type(value.type).value
        self._line(f"const {ctype} {name} = {self._expr(value)};")
        return name

    def _emit_assert(self, op: cf.AssertOp) -> None:
        self._line(f"if (!{self._operand(op.arg)}) {{")
        with self.indented():
            self.emit_assert_failure(op)
        self._line("}")

    def emit_assert_failure(self, op: cf.AssertOp) -> None:
        """Write the message (with both compared values for a cmpi) and exit."""
        message = c_string(op.msg.data)
        compare = op.arg.owner
        if isinstance(compare, arith.CmpiOp):
            lhs, rhs = (self._operand(v) for v in compare.operands)
            self._line(
                f"tensorc_fail_got(err, err_len, {message}, "
                f"(long long){lhs}, (long long){rhs});"
            )
        else:
            self._line(f"tensorc_fail(err, err_len, {message});")
        self._line(self._failure_exit)

    # endregion


def _reduction_clauses(plan: LoopPlan, names: list[str]) -> str:
    """` reduction(+:acc)` per carried variable of an independent loop."""
    if not plan.independent:
        return ""
    return "".join(
        f" reduction({r.clause}:{name})"
        for r, name in zip(plan.reductions, names, strict=True)
    )


def _is_trivial(block: Block) -> bool:
    """A block holding only an operand-less yield."""
    ops = list(block.ops)
    return len(ops) == 1 and isinstance(ops[0], scf.YieldOp) and not ops[0].operands
