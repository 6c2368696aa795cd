"""CEmitter: C source from bufferized IR, and the `c` target of tensorc-opt.

Precondition (/work/notes/abi.md): the module holds only builtin, func, scf
(for/if/yield), memref (alloc/dealloc/load/store/dim/global/get_global, also
cast/copy and the reshaping views collapse_shape/expand_shape of row-major
storage), arith, math and cf.assert; memrefs have the identity layout;
`memref.alloc` appears only in the top-level block of a function; returned memrefs
are fresh allocations or, after tc-place-buffers, an argument updated in place
(its `tc.aliasing_output` names that result); `func.call` targets the declared
`tensorc_gemm_f32/f64` or a private function of the module with a body (a scan's
step), whose results the caller deallocates.

Postcondition: one C11 translation unit. Each public `func.func @f` becomes
    int tensorc_entry_f(void *const *in_data, const int64_t *in_shapes,
                        void **out_data, int64_t *out_shapes,
                        char *err, int64_t err_len);
returning 0 with the outputs' data pointers and concatenated dims stored, 1 after a
failed `cf.assert` (message in `err`), 2 when an allocation fails; every
allocation not returned is freed on every path (workspace slots are kept for the
next call). An output updated in place is the input's own pointer (`out_data[j]
== in_data[i]`), unless another input overlaps that input: then the entry first
copies it and updates the copy, a fresh malloc'ed output. `tensorc_free` frees
outputs; `tensorc_set_threads(0)` turns threads off. A module with workspace slots
also exports `tensorc_workspace_release()` (frees the calling thread's slots) and
`tensorc_workspace_growths()` (how often they were allocated). Anything else
raises LoweringError; the emitter never prints code it does not understand.

A private function of the module is a `static int tensorc_function_<sym>` with
the entry ABI; a call packs its memrefs' pointers and dims, returns the callee's
status on failure (its message already in `err`) and takes ownership of the
buffers it returns (declared at the top like allocations, freed on every exit).

Each top-level loop nest of an entry is printed as a `TC_NEST` function of its
own (`tensorc_nest_N`, hidden, never inlined) that takes the data pointers, dims
and scalars it reads, pointers to the nest's results, and `err` when an assert
inside can fail (it then returns STATUS_ASSERT and the entry jumps to its exit).
A module of many nests comes in parts (`#if TC_PART(k)`, see PART_COST): the
source still compiles as one unit, and the runtime may compile groups of parts in
parallel (`-DTENSORC_PARTS=<mask>`) and link them.

How the C reads: c_values (scalar values, names), c_memrefs (memrefs,
allocations, exits), c_control (loops with OpenMP pragmas planned by c_loops,
branches, asserts) and this file (module, entry functions, returns, calls).
Entries are `TC_ENTRY`: compiled per x86-64 vector level, picked at load time.

Subclassing (the CUDA emitter): override the small hooks (`entry_signature`,
`emit_prelude`, `emit_assert_failure`, `emit_alloc_failure`, `memref_type`,
`memref_declaration`, `scalar_type`) and extend the dispatch with a new
`@singledispatchmethod emit_op` whose fallback calls `super().emit_op(op)`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import singledispatchmethod
from io import StringIO
from typing import IO, ClassVar

from xdsl.context import Context
from xdsl.dialects import builtin, cf, func, memref, scf
from xdsl.dialects.builtin import DYNAMIC_INDEX, MemRefType, ModuleOp
from xdsl.ir import BlockArgument, Operation, SSAValue
from xdsl.utils.target import Target

from tensorc.errors import LoweringError
from tensorc.lowering.buffer_facts import memref_root
from tensorc.lowering.cpu import c_prelude
from tensorc.lowering.cpu.c_control import ControlEmitter
from tensorc.lowering.cpu.c_expr import C_EXPR
from tensorc.lowering.cpu.c_loops import plan_loops
from tensorc.lowering.cpu.c_memrefs import (
    STATUS_ASSERT,
    STATUS_OUT_OF_MEMORY,
    MemrefEmitter,
    calls_function,
    slot_of,
)
from tensorc.lowering.cpu.c_values import MemrefView, where
from tensorc.passes.place_buffers import ALIAS_ATTR, aliasing_output

__all__ = [
    "ENTRY_PARAMETERS",
    "ENTRY_PREFIX",
    "STATUS_ASSERT",
    "STATUS_OUT_OF_MEMORY",
    "CEmitter",
    "CTarget",
    "emit_c",
    "emit_c_with_info",
]

ENTRY_PREFIX = "tensorc_entry_"
NEST_PREFIX = "tensorc_nest_"
FUNCTION_PREFIX = "tensorc_function_"
"""Private functions of the module (a scan's step): static, with the entry ABI."""
PART_COST = 250
"""A module whose C costs n * PART_COST (lines of the entries, plus twice the
lines of the outlined loop nests, which GCC takes about twice as long over) comes
in n parts, at most MAX_PARTS. The runtime compiles groups of parts in parallel,
one per core: GCC's time grows with the code it optimizes, so two halves on two
cores take about half as long (1.0 s -> 0.6 s for an MLP training step). Parts
are small so that any number of cores gets balanced groups."""
MAX_PARTS = 8
NEST_COST = 2
_IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b", re.ASCII)
ENTRY_PARAMETERS = (
    "void *const *in_data, const int64_t *in_shapes, void **out_data, "
    "int64_t *out_shapes, char *err, int64_t err_len"
)


@dataclass(eq=False, repr=False)
class CEmitter(MemrefEmitter, ControlEmitter):
    """Prints one module as C; see the module docstring for the contract."""

    uses_gemm: bool = field(default=False, init=False)
    """Whether the module calls BLAS (the runtime links it only then)."""
    slot_count: int = field(default=0, init=False)
    """Workspace slots the module uses (tc-place-buffers' `tc.slot`)."""
    _functions: dict[str, str] = field(default_factory=dict, init=False)
    """Private functions of the module (a scan's step) -> their C signature."""
    nests: list[OutlinedNest] = field(default_factory=list, init=False)
    part_costs: tuple[int, ...] = field(default=(), init=False)
    """The compile cost of each part (`TC_PART`, see PART_COST)."""

    RESERVED_NAMES: ClassVar[frozenset[str]] = MemrefEmitter.RESERVED_NAMES

    # region module level

    def emit_module(self, module: ModuleOp) -> None:
        """Print the whole translation unit for `module`."""
        self.uses_gemm = any(
            isinstance(op, func.FuncOp) and op.is_declaration for op in module.ops
        )
        slots = [
            slot
            for op in module.walk()
            if isinstance(op, memref.AllocOp) and (slot := slot_of(op)) is not None
        ]
        self.slot_count = max(slots, default=-1) + 1
        self._plans = plan_loops(module)
        self.emit_prelude()
        self._emit_declared_reductions()
        for op in module.ops:
            if isinstance(op, memref.GlobalOp):
                self.emit_op(op)
        self._functions = {
            op.sym_name.data: f"static int {FUNCTION_PREFIX}{op.sym_name.data}"
            f"({ENTRY_PARAMETERS})"
            for op in module.ops
            if isinstance(op, func.FuncOp)
            and not op.is_declaration
            and op.sym_visibility is not None
            and op.sym_visibility.data == "private"
        }
        with self._captured() as entries:
            for signature in self._functions.values():
                self._line(f"{signature};")
            for op in module.ops:
                if not isinstance(op, memref.GlobalOp):
                    self.emit_op(op)
            self.print_string(c_prelude.EXPORTS)
        self._emit_parts(entries.getvalue())

    def emit_prelude(self) -> None:
        self.print_string("/* Generated by tensorc from bufferized MLIR. */\n")
        self.print_string(c_prelude.INCLUDES)
        self.print_string(c_prelude.PARALLEL_MACROS)
        self.print_string(c_prelude.VECTOR_MATH)
        self.print_string(c_prelude.SCALAR_HELPERS)
        self.print_string(c_prelude.RUNTIME_HELPERS)
        if self.slot_count:
            self.print_string(f"\n#define TENSORC_SLOTS {self.slot_count}\n")
            self.print_string(c_prelude.WORKSPACE_HELPERS)
        if self.uses_gemm:
            self.print_string(c_prelude.GEMM_HELPERS)

    def _emit_declared_reductions(self) -> None:
        declarations = sorted(
            {
                reduction.declaration
                for plan in self._plans.values()
                for reduction in plan.reductions
                if reduction.declaration is not None and plan.simd
            }
        )
        for declaration in declarations:
            self._line(f"TC_OMP({declaration})")

    # endregion
    # region dispatch

    @singledispatchmethod
    def emit_op(self, op: Operation) -> None:
        """Print `op`; scalar ops go through C_EXPR, the rest have a handler."""
        if type(op) in C_EXPR:
            self._emit_scalar(op)
            return
        raise LoweringError(f"the C emitter cannot lower '{op.name}'{where(op)}")

    @emit_op.register
    def _(self, op: memref.GlobalOp) -> None:
        self._emit_global(op)

    @emit_op.register
    def _(self, op: memref.GetGlobalOp) -> None:
        self._emit_get_global(op)

    @emit_op.register
    def _(self, op: memref.AllocOp) -> None:
        self._emit_alloc(op)

    @emit_op.register
    def _(self, op: memref.DeallocOp) -> None:
        self._emit_dealloc(op)

    @emit_op.register
    def _(self, op: memref.LoadOp) -> None:
        self._emit_load(op)

    @emit_op.register
    def _(self, op: memref.StoreOp) -> None:
        self._emit_store(op)

    @emit_op.register
    def _(self, op: memref.DimOp) -> None:
        self._emit_dim(op)

    @emit_op.register
    def _(self, op: memref.CastOp) -> None:
        self._emit_cast(op)

    @emit_op.register
    def _(self, op: memref.CollapseShapeOp) -> None:
        self._emit_reshaped_view(op)

    @emit_op.register
    def _(self, op: memref.ExpandShapeOp) -> None:
        self._emit_reshaped_view(op)

    @emit_op.register
    def _(self, op: memref.CopyOp) -> None:
        self._emit_copy(op)

    @emit_op.register
    def _(self, op: scf.ForOp) -> None:
        self._emit_for(op)

    @emit_op.register
    def _(self, op: scf.IfOp) -> None:
        self._emit_if(op)

    @emit_op.register
    def _(self, op: scf.YieldOp) -> None:
        self._emit_yield(op)

    @emit_op.register
    def _(self, op: cf.AssertOp) -> None:
        self._emit_assert(op)

    @emit_op.register
    def _(self, op: func.FuncOp) -> None:
        if op.is_declaration:
            self._check_external(op)
        else:
            self._emit_entry(op)

    @emit_op.register
    def _(self, op: func.ReturnOp) -> None:
        self._emit_return(op)

    @emit_op.register
    def _(self, op: func.CallOp) -> None:
        callee = op.callee.string_value()
        if callee in self._functions:
            self._emit_call(op)
            return
        if callee not in c_prelude.GEMM_FUNCTIONS or op.results:
            raise LoweringError(
                f"func.call @{callee}: not a private function of the module nor a "
                "tensorc runtime function"
            )
        args = [
            self._view(arg).data
            if isinstance(arg.type, MemRefType)
            else self._expr(arg)
            for arg in op.arguments
        ]
        self._line(f"{callee}({', '.join(args)});")

    def _check_external(self, op: func.FuncOp) -> None:
        name = op.sym_name.data
        if name not in c_prelude.GEMM_FUNCTIONS:
            raise LoweringError(
                f"func.func @{name}: unknown external function; the C runtime "
                f"provides only {', '.join(c_prelude.GEMM_FUNCTIONS)}"
            )
        inputs = op.function_type.inputs.data
        element = builtin.f32 if name.endswith("f32") else builtin.f64
        memrefs = [t for t in inputs[:3] if isinstance(t, MemRefType)]
        indices = [t for t in inputs[3:] if isinstance(t, builtin.IndexType)]
        if (
            len(inputs) != 8
            or len(memrefs) != 3
            or len(indices) != 5
            or any(t.element_type != element for t in memrefs)
            or op.function_type.outputs.data
        ):
            raise LoweringError(f"@{name} declared with a wrong signature: {op}")

    # endregion
    # region entry functions

    def entry_signature(self, symbol: str) -> str:
        return f"TC_ENTRY int {ENTRY_PREFIX}{symbol}({ENTRY_PARAMETERS})"

    def _emit_entry(self, op: func.FuncOp) -> None:
        symbol = op.sym_name.data
        if not re.fullmatch(r"[A-Za-z_]\w*", symbol, re.ASCII):
            raise LoweringError(f"@{symbol} is not a C identifier")
        self._begin_function()
        self._line("")
        signature = self._functions.get(symbol) or self.entry_signature(symbol)
        self._line(signature + " {")
        with self.indented():
            declarations = self._bind_inputs(op.body.block.args)
            with self._captured() as body:
                copies = self._declare_copies(op)
                needs_exit = self._declare_allocs(op)
                for arg, copy in copies:
                    self._emit_overlap_guard(op, arg, copy)
                for nested in op.body.block.ops:
                    if isinstance(nested, scf.ForOp) and not _calls(nested):
                        self._emit_outlined(nested)
                    else:
                        self.emit_op(nested)
            # unpack only the inputs and dims the body reads (no unused variables)
            for name, line in declarations:
                if re.search(rf"\b{name}\b", body.getvalue()):
                    self._line(line)
            self.print_string(body.getvalue(), indent=0)
        if needs_exit:
            self._emit_failure_exit()
        self._line("}\n")

    def _begin_function(self) -> None:
        self._exprs.clear()
        self._memrefs.clear()
        self._allocs.clear()
        self._owned.clear()
        self._names = set(self._module_names) | self.RESERVED_NAMES
        self._counter = 0

    def _bind_inputs(self, args: Sequence[SSAValue]) -> list[tuple[str, str]]:
        """Check static input dims now (they are not trusted) and return the
        (name, declaration) pairs that unpack `in_data`/`in_shapes`."""
        declarations: list[tuple[str, str]] = []
        offset = 0
        for index, arg in enumerate(args):
            if not isinstance(arg.type, MemRefType):
                raise LoweringError(
                    f"entry argument {index} is {arg.type}, not a memref"
                )
            t = self.memref_type(arg.type)
            element = self.scalar_type(t.element_type)
            name = self._fresh(arg.name_hint or f"in{index}")
            dims: list[str] = []
            for axis, size in enumerate(t.get_shape()):
                source = f"in_shapes[{offset + axis}]"
                if size == DYNAMIC_INDEX:
                    dims.append(self._fresh_derived(f"{name}_d{axis}"))
                    declarations.append(
                        (dims[-1], f"const int64_t {dims[-1]} = {source};")
                    )
                    continue
                dims.append(str(size))
                self._emit_input_check(index, axis, source, size)
            offset += t.get_num_dims()
            declaration = self.memref_declaration(t, name)
            line = f"{declaration} = ({element.storage} *)in_data[{index}];"
            declarations.append((name, line))
            self._memrefs[arg] = MemrefView(name, tuple(dims), element, restrict=True)
        return declarations

    def _emit_input_check(self, index: int, axis: int, source: str, size: int) -> None:
        self._line(f"if ({source} != {size}) {{")
        with self.indented():
            self._line(
                f"tensorc_fail_input(err, err_len, {index}, {axis}, "
                f"(long long){source}, {size});"
            )
            self._line(f"return {STATUS_ASSERT};")
        self._line("}")

    def _emit_call(self, op: func.CallOp) -> None:
        """A call of a private function through the entry ABI: its status ends
        this function too (the message is already in `err`); the buffers it
        returns are this function's to free."""
        views = [self._view(arg) for arg in op.arguments]
        results = [self._memrefs[r] for r in op.results]
        names = {n: self._fresh(f"call_{n}") for n in ("in", "dims", "out", "shapes")}
        data = ", ".join(f"(void *){view.data}" for view in views) or "NULL"
        dims = ", ".join(d for view in views for d in view.dims) or "0"
        rank = sum(len(view.dims) for view in results)
        self._line("{")
        with self.indented():
            self._line(f"void *const {names['in']}[] = {{{data}}};")
            self._line(f"const int64_t {names['dims']}[] = {{{dims}}};")
            self._line(f"void *{names['out']}[{max(len(results), 1)}];")
            self._line(f"int64_t {names['shapes']}[{max(rank, 1)}];")
            status = self._fresh("call_status")
            self._line(
                f"const int {status} = {FUNCTION_PREFIX}{op.callee.string_value()}("
                f"{names['in']}, {names['dims']}, {names['out']}, {names['shapes']}, "
                "err, err_len);"
            )
            self._line(f"if ({status} != 0) {{")
            with self.indented():
                self._line(f"status = {status};")
                self._line("goto fail;")
            self._line("}")
            offset = 0
            for k, view in enumerate(results):
                storage = view.element.storage
                self._line(f"{view.data} = ({storage} *){names['out']}[{k}];")
                for dim in view.dims:
                    if not dim.isdigit():
                        self._line(f"{dim} = {names['shapes']}[{offset}];")
                    offset += 1
        self._line("}")

    # endregion
    # region outlined loop nests and parts

    def _emit_outlined(self, op: scf.ForOp) -> None:
        """Print top-level loop nest `op` as a call of a function of its own (a
        TC_NEST taking the pointers, dims and scalars it reads, pointers to its
        results, and `err` if it can fail), or inline when its C uses anything
        else of the entry."""
        outer = self._names - self._module_names
        failing = any(isinstance(nested, cf.AssertOp) for nested in op.walk())
        self._failure_exit = f"return {STATUS_ASSERT};"
        try:
            with self._captured() as captured:
                self.emit_op(op)
        finally:
            self._failure_exit = "goto fail;"
        body = captured.getvalue()
        parameters = self._nest_parameters(op)
        if failing:
            parameters.update(err="char *err", err_len="int64_t err_len")
        used = outer & set(_IDENTIFIER.findall(body))
        if "goto" in _IDENTIFIER.findall(body) or not used <= parameters.keys():
            self.emit_op(op)  # again, leaving through the entry's exit
            return
        arguments = [name for name in parameters if name in used]
        declarations = [parameters[name] for name in arguments]
        for result in op.results:
            name = self._exprs[result]
            ctype = self.scalar_type(result.type).value
            pointer = self._fresh(f"{name}_out")
            self._line(f"{ctype} {name};")
            declarations.append(f"{ctype} *{pointer}")
            arguments.append(f"&{name}")
            body += f"\n    *{pointer} = {name};"
        nest = OutlinedNest(
            self._module_name(f"{NEST_PREFIX}{len(self.nests)}"),
            tuple(declarations),
            body + ("\n    return 0;" if failing else ""),
            failing,
        )
        self._names.add(nest.name)
        self.nests.append(nest)
        call = f"{nest.name}({', '.join(arguments)})"
        self._line(f"if ({call}) goto fail;" if failing else f"{call};")

    def _nest_parameters(self, op: scf.ForOp) -> dict[str, str]:
        """C name -> parameter declaration, for every value `op` reads from
        outside: data pointers (restrict as declared), their dims, scalars."""
        inside: set[SSAValue] = set()
        for nested in op.walk():
            inside.update(nested.results)
            for region in nested.regions:
                for block in region.blocks:
                    inside.update(block.args)
        parameters: dict[str, str] = {}
        for value in (v for nested in op.walk() for v in nested.operands):
            if value in inside:
                continue
            if not isinstance(value.type, MemRefType):
                name = self._exprs.get(value, "")
                if _IDENTIFIER.fullmatch(name):  # not a literal
                    ctype = self.scalar_type(value.type).value
                    parameters.setdefault(name, f"const {ctype} {name}")
                continue
            view = self._view(value)
            if view.readonly:  # a constant global, at file scope
                continue
            restrict = "restrict " if view.restrict else ""
            pointer = f"{view.element.storage} *{restrict}{view.data}"
            parameters.setdefault(view.data, pointer)
            for dim in view.dims:
                parameters.setdefault(dim, f"const int64_t {dim}")
        return parameters

    def _emit_parts(self, entries: str) -> None:
        """The outlined nests grouped into parts (module docstring), then the
        entries and exports, which are part 0."""
        assignment, self.part_costs = assign_parts(
            entries.count("\n"), [NEST_COST * nest.lines for nest in self.nests]
        )
        parted = len(self.part_costs) > 1
        if parted:
            self.print_string("\n/* Loop nests outlined from the entries. */\n")
            for nest in self.nests:
                self.print_string(f"{nest.prototype};\n")
        for part in range(len(self.part_costs)):
            if parted:
                self.print_string(f"\n#if TC_PART({part})\n")
            for nest, home in zip(self.nests, assignment, strict=True):
                if home == part:
                    self.print_string(f"\n{nest.prototype} {{{nest.body}\n}}\n")
            if part == 0:
                self.print_string(entries)
            if parted:
                self.print_string(f"\n#endif /* TC_PART({part}) */\n")

    # endregion
    # region in-place updates and returns

    def _declare_copies(self, op: func.FuncOp) -> list[tuple[BlockArgument, str]]:
        """A NULL pointer per input the function returns (updated in place), for
        the copy made when another input overlaps it; freed on failure."""
        copies: list[tuple[BlockArgument, str]] = []
        for value in map(memref_root, _returned(op)):
            if isinstance(value, BlockArgument) and value not in dict(copies):
                view = self._memrefs[value]
                name = self._fresh(f"{view.data}_copy")
                self._line(f"{view.element.storage} *{name} = NULL;")
                self._owned.append(name)
                copies.append((value, name))
        return copies

    def _emit_overlap_guard(
        self, op: func.FuncOp, arg: BlockArgument, copy: str
    ) -> None:
        """Update a copy instead of the input when another input shares memory
        with it (the same array passed twice, or views of one buffer)."""
        view = self._memrefs[arg]
        others = [
            self._memrefs[other]
            for other in op.body.block.args
            if other is not arg and isinstance(other.type, MemRefType)
        ]
        if not others:
            return
        checks = " || ".join(
            f"tensorc_overlap({view.data}, {self._bytes(view)}, {other.data}, "
            f"{self._bytes(other)})"
            for other in others
        )
        self._line(f"if ({checks}) {{")
        with self.indented():
            dims = ", ".join(view.dims)
            storage = view.element.storage
            self._line(
                f"{copy} = ({storage} *)tensorc_alloc(sizeof({storage}), "
                f"{len(view.dims)}, (const int64_t[]){{{dims or 0}}});"
            )
            self._line(f"if (!{copy}) {{")
            with self.indented():
                message = f"out of memory copying input {arg.index}"
                self._line(f'tensorc_fail(err, err_len, "{message}");')
                self._line(f"status = {STATUS_OUT_OF_MEMORY};")
                self._line("goto fail;")
            self._line("}")
            count = f"{self._element_count(view)} * sizeof({storage})"
            self._line(f"memcpy({copy}, {view.data}, {count});")
            self._line(f"{view.data} = {copy};")
        self._line("}")

    def _bytes(self, view: MemrefView) -> str:
        return f"(uint64_t){self._element_count(view)} * sizeof({view.element.storage})"

    def _emit_return(self, op: func.ReturnOp) -> None:
        function = op.parent_op()
        assert isinstance(function, func.FuncOp)
        returned: set[SSAValue] = set()
        offset = 0
        for index, view_value in enumerate(op.arguments):
            value = memref_root(view_value)
            in_place = (
                isinstance(value, BlockArgument)
                and value.owner is function.body.block
                and aliasing_output(function, value.index) == index
            )
            if value in returned or (value not in self._allocs and not in_place):
                raise LoweringError(
                    f"func.return operand {index} must be a distinct memref.alloc of "
                    "the function or an argument updated in place (whose "
                    f"{ALIAS_ATTR} is {index}); bufferize copies the others"
                )
            returned.add(value)
            view = self._memrefs[value]
            self._line(f"out_data[{index}] = {view.data};")
            for dim in view.dims:
                self._line(f"out_shapes[{offset}] = {dim};")
                offset += 1
        for value in self._allocs:
            if value not in returned:
                self._line(f"free({self._memrefs[value].data});")
        self._line("return 0;")

    # endregion


@dataclass(frozen=True)
class OutlinedNest:
    """A top-level loop nest of an entry, printed as a function of its own."""

    name: str
    parameters: tuple[str, ...]
    body: str
    """The statements, indented one level, each line starting with a newline."""
    failing: bool = False
    """Returns STATUS_ASSERT after a failed assert (message in `err`), else 0."""

    @property
    def lines(self) -> int:
        return self.body.count("\n")

    @property
    def prototype(self) -> str:
        result = "int" if self.failing else "void"
        return f"TC_NEST {result} {self.name}({', '.join(self.parameters) or 'void'})"


def assign_parts(
    entry_cost: int, nest_costs: Sequence[int]
) -> tuple[list[int], tuple[int, ...]]:
    """(part of each nest, cost of each part): about PART_COST per part, at most
    MAX_PARTS, the entries in part 0; each nest, costliest first, goes to the
    cheapest part so far (deterministic)."""
    count = (entry_cost + sum(nest_costs)) // PART_COST
    costs = [entry_cost] + [0] * (max(1, min(MAX_PARTS, count, len(nest_costs) + 1)) - 1)
    assignment = [0] * len(nest_costs)
    for index in sorted(range(len(nest_costs)), key=lambda i: -nest_costs[i]):
        part = min(range(len(costs)), key=costs.__getitem__)
        assignment[index] = part
        costs[part] += nest_costs[index]
    return assignment, tuple(costs)


def _calls(op: Operation) -> bool:
    """Whether `op` calls a function of the module (its exit is the caller's)."""
    return any(calls_function(nested) for nested in op.walk())


def _returned(op: func.FuncOp) -> list[SSAValue]:
    last = op.body.block.last_op
    return list(last.operands) if isinstance(last, func.ReturnOp) else []


def emit_c(module: ModuleOp) -> str:
    """C source of `module` (see the module docstring); LoweringError if an op
    cannot be lowered."""
    return emit_c_with_info(module)[0]


def emit_c_with_info(module: ModuleOp) -> tuple[str, CEmitter]:
    """C source plus the emitter (its `uses_gemm` tells the runtime to link BLAS)."""
    stream = StringIO()
    emitter = CEmitter(stream)
    emitter.emit_module(module)
    return stream.getvalue(), emitter


@dataclass(frozen=True)
class CTarget(Target):
    """`tensorc-opt -t c`: print the module as C."""

    name: ClassVar[str] = "c"

    def emit(self, ctx: Context, module: ModuleOp, output: IO[str]) -> None:
        # render completely before writing so a LoweringError leaves no half file
        output.write(emit_c(module))
