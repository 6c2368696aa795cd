"""CEmitter: C source from bufferized IR, and the `c` target of tensorc-opt.

Precondition (/work/notes/abi.md): the module holds only builtin, func, scf
(for/if/yield), memref (alloc/dealloc/load/store/dim/global/get_global, also
cast/copy), arith, math and cf.assert; memrefs have the identity layout;
`memref.alloc` appears only in the top-level block of a function; returned memrefs
are fresh allocations; `func.call` targets only the declared `tensorc_gemm_f32/f64`.

Postcondition: one C11 translation unit. Each public `func.func @f` becomes
    int tensorc_entry_f(void *const *in_data, const int64_t *in_shapes,
                        void **out_data, int64_t *out_shapes,
                        char *err, int64_t err_len);
returning 0 with the outputs' data pointers and concatenated dims stored, 1 after a
failed `cf.assert` (message in `err`), 2 when an allocation fails; every
allocation not returned is freed on every path. `tensorc_free` frees outputs.
Anything else raises LoweringError; the emitter never prints code it does not
understand.

How the C reads: a memref is a data pointer plus one int64 per dim (a literal for
static dims), row-major. Every scalar op goes through the C_EXPR table; a
single-use pure value is inlined into its user in the same block, other values
become `const` temporaries, constants are always inlined.

Subclassing (the CUDA emitter): override the small hooks (`entry_signature`,
`emit_prelude`, `emit_assert_failure`, `emit_alloc_failure`, `memref_type`,
`memref_declaration`, `scalar_type`) and extend the dispatch with a new
`@singledispatchmethod emit_op` whose fallback calls `super().emit_op(op)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import singledispatchmethod
from io import StringIO
from typing import IO, ClassVar

from xdsl.context import Context
from xdsl.dialects import arith, builtin, cf, func, memref, scf
from xdsl.dialects.builtin import DYNAMIC_INDEX, MemRefType, ModuleOp, NoneAttr
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.utils.base_printer import BasePrinter
from xdsl.utils.target import Target

from tensorc.dialects.tc import array_from_dense, location_text
from tensorc.errors import LoweringError
from tensorc.lowering.cpu import c_prelude
from tensorc.lowering.cpu.c_expr import (
    C_EXPR,
    CScalarType,
    c_expression,
    c_scalar_type,
    float_literal,
    int_literal,
)

ENTRY_PREFIX = "tensorc_entry_"
ENTRY_PARAMETERS = (
    "void *const *in_data, const int64_t *in_shapes, void **out_data, "
    "int64_t *out_shapes, char *err, int64_t err_len"
)
STATUS_ASSERT = 1
STATUS_OUT_OF_MEMORY = 2

_ATOMIC = re.compile(r"[A-Za-z_]\w*|\d+(\.\d*)?(e[+-]?\d+)?f?", re.ASCII)
"""C expressions that never need parentheses: names and unsigned literals."""
_CALL = re.compile(r"[A-Za-z_]\w*\(", re.ASCII)


def _is_primary(expr: str) -> bool:
    """A name, an unsigned literal or a call `f(...)`: safe as an operand."""
    if _ATOMIC.fullmatch(expr):
        return True
    if not _CALL.match(expr) or not expr.endswith(")"):
        return False
    depth = 0
    for position, char in enumerate(expr):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char == ")":
            return position == len(expr) - 1
    return False


@dataclass(frozen=True)
class MemrefView:
    """A memref in C: its data pointer and one C expression per dim."""

    data: str
    dims: tuple[str, ...]
    element: CScalarType
    readonly: bool = False


def _where(op: Operation) -> str:
    location = location_text(op)
    return f" (created at {location})" if location else ""


def c_string(text: str) -> str:
    """A C string literal of `text` (UTF-8; octal escapes; no trigraphs)."""
    parts: list[str] = []
    for byte in text.encode():
        char = chr(byte)
        if char in '"\\' or (char == "?" and parts[-1:] == ["?"]):  # no trigraphs
            parts.append("\\" + char)
        elif 32 <= byte < 127:
            parts.append(char)
        else:
            parts.append(f"\\{byte:03o}")
    return '"' + "".join(parts) + '"'


@dataclass(eq=False, repr=False)
class CEmitter(BasePrinter):
    """Prints one module as C; see the module docstring for the contract."""

    indent_num_spaces: int = field(default=4, kw_only=True)
    uses_gemm: bool = field(default=False, init=False)
    """Whether the module calls BLAS (the runtime links it only then)."""
    _exprs: dict[SSAValue, str] = field(default_factory=dict, init=False)
    _memrefs: dict[SSAValue, MemrefView] = field(default_factory=dict, init=False)
    _globals: dict[str, MemrefView] = field(default_factory=dict, init=False)
    _module_names: set[str] = field(default_factory=set, init=False)
    _names: set[str] = field(default_factory=set, init=False)
    _counter: int = field(default=0, init=False)
    _allocs: list[SSAValue] = field(default_factory=list, init=False)

    RESERVED_NAMES: ClassVar[frozenset[str]] = frozenset(
        ("in_data", "in_shapes", "out_data", "out_shapes", "err", "err_len", "status")
    )

    # region module level

    def emit_module(self, module: ModuleOp) -> None:
        """Print the whole translation unit for `module`."""
        self.uses_gemm = any(
            isinstance(op, func.FuncOp) and op.is_declaration for op in module.ops
        )
        self.emit_prelude()
        for op in module.ops:
            if isinstance(op, memref.GlobalOp):
                self.emit_op(op)
        for op in module.ops:
            if not isinstance(op, memref.GlobalOp):
                self.emit_op(op)
        self.print_string(c_prelude.EXPORTS)

    def emit_prelude(self) -> None:
        self.print_string("/* Generated by tensorc from bufferized MLIR. */\n")
        self.print_string(c_prelude.INCLUDES)
        self.print_string(c_prelude.SCALAR_HELPERS)
        self.print_string(c_prelude.RUNTIME_HELPERS)
        if self.uses_gemm:
            self.print_string(c_prelude.GEMM_HELPERS)

    @singledispatchmethod
    def emit_op(self, op: Operation) -> None:
        """Print `op`; scalar ops go through C_EXPR, the rest have a handler."""
        if type(op) in C_EXPR:
            self._emit_scalar(op)
            return
        raise LoweringError(f"the C emitter cannot lower '{op.name}'{_where(op)}")

    @emit_op.register
    def _(self, op: memref.GlobalOp) -> None:
        t = self.memref_type(op.type, op)
        if op.constant is None or not isinstance(
            op.initial_value, builtin.DenseIntOrFPElementsAttr
        ):
            raise LoweringError(f"memref.global @{op.sym_name.data} must be constant")
        element = self.scalar_type(t.element_type)
        values = array_from_dense(op.initial_value).reshape(-1)
        name = self._module_name("tc_global_" + op.sym_name.data)
        literal = float_literal if element.is_float else int_literal
        items = [literal(element, v.item()) for v in values] or ["0"]
        rows = ",\n    ".join(
            ", ".join(items[i : i + 8]) for i in range(0, len(items), 8)
        )
        self.print_string(
            f"\nstatic const {element.storage} {name}[{len(items)}] = {{\n"
            f"    {rows}\n}};\n"
        )
        dims = tuple(str(d) for d in t.get_shape())
        self._globals[op.sym_name.data] = MemrefView(name, dims, element, True)

    @emit_op.register
    def _(self, op: func.FuncOp) -> None:
        if op.is_declaration:
            self._check_external(op)
        elif op.sym_visibility is not None and op.sym_visibility.data != "public":
            raise LoweringError(
                f"private function @{op.sym_name.data} with a body: the C emitter "
                "only exports public entry functions (inline callees first)"
            )
        else:
            self._emit_entry(op)

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
        return f"int {ENTRY_PREFIX}{symbol}({ENTRY_PARAMETERS})"

    def _emit_entry(self, op: func.FuncOp) -> None:
        symbol = op.sym_name.data
        if not re.fullmatch(r"[A-Za-z_]\w*", symbol, re.ASCII):
            raise LoweringError(f"@{symbol} is not a C identifier")
        self._begin_function()
        self._line("")
        self._line(self.entry_signature(symbol) + " {")
        with self.indented():
            declarations = self._bind_inputs(op.body.block.args)
            with self._captured() as body:
                needs_exit = self._declare_allocs(op)
                self._emit_block(op.body.block)
            # unpack only the inputs and dims the body reads (no unused variables)
            for name, line in declarations:
                if re.search(rf"\b{name}\b", body.getvalue()):
                    self._line(line)
            self.print_string(body.getvalue(), indent=0)
        if needs_exit:
            self._emit_failure_exit()
        self._line("}\n")

    @contextmanager
    def _captured(self) -> Iterator[StringIO]:
        """Print into a buffer instead of the stream for the duration."""
        saved, self.stream = self.stream, StringIO()
        try:
            yield self.stream
        finally:
            self.stream = saved

    def _begin_function(self) -> None:
        self._exprs.clear()
        self._memrefs.clear()
        self._allocs.clear()
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
            self._memrefs[arg] = MemrefView(name, tuple(dims), element)
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

    def memref_declaration(self, t: MemRefType, name: str) -> str:
        """Declarator of the data pointer of a memref of type `t` (the CUDA emitter
        spells memory spaces here)."""
        return f"{self.scalar_type(t.element_type).storage} *restrict {name}"

    def _declare_allocs(self, op: func.FuncOp) -> bool:
        """Hoist every allocation's pointer and dims to the top (NULL until
        allocated) so the failure exit can free them; True if the function needs
        that exit."""
        block = op.body.block
        needs_exit = False
        for nested in op.walk():
            if isinstance(nested, memref.AllocOp) and nested.parent_block() is block:
                self._declare_alloc(nested)
                needs_exit = True
            elif isinstance(nested, memref.AllocOp):
                raise LoweringError(
                    f"memref.alloc inside a loop or branch{_where(nested)}: "
                    "allocations must be in the function's top-level block"
                )
            needs_exit = needs_exit or isinstance(nested, cf.AssertOp)
        if needs_exit:
            self._line(f"int status = {STATUS_ASSERT};")
        return needs_exit

    def _declare_alloc(self, op: memref.AllocOp) -> None:
        t = self.memref_type(op.memref.type, op)
        element = self.scalar_type(t.element_type)
        name = self._fresh(op.memref.name_hint)
        dims: list[str] = []
        for axis, size in enumerate(t.get_shape()):
            if size != DYNAMIC_INDEX:
                dims.append(str(size))
                continue
            dims.append(self._fresh_derived(f"{name}_d{axis}"))
            self._line(f"int64_t {dims[-1]} = 0;")
        self._line(f"{self.memref_declaration(t, name)} = NULL;")
        self._memrefs[op.memref] = MemrefView(name, tuple(dims), element)
        self._allocs.append(op.memref)

    def _emit_failure_exit(self) -> None:
        self._line("fail:")
        with self.indented():
            for value in self._allocs:
                self._line(f"free({self._memrefs[value].data});")
            self._line("return status;")

    @emit_op.register
    def _(self, op: func.ReturnOp) -> None:
        returned: set[SSAValue] = set()
        offset = 0
        for index, value in enumerate(op.arguments):
            if value not in self._allocs or value in returned:
                raise LoweringError(
                    f"func.return operand {index} must be a distinct memref.alloc of "
                    "the function (bufferize copies arguments and globals)"
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
    # region memrefs

    def memref_type(self, t: Attribute, op: Operation | None = None) -> MemRefType:
        """`t` if this target can represent it (CUDA also takes memory spaces)."""
        if (
            not isinstance(t, MemRefType)
            or not isinstance(t.layout, NoneAttr)
            or not isinstance(t.memory_space, NoneAttr)
        ):
            where = _where(op) if op is not None else ""
            raise LoweringError(
                f"{t}{where}: the C emitter handles memrefs with the identity layout "
                "and no memory space only"
            )
        return t

    @emit_op.register
    def _(self, op: memref.AllocOp) -> None:
        view = self._memrefs[op.memref]
        sizes = iter(op.dynamic_sizes)
        for dim, size in zip(view.dims, op.memref.type.get_shape(), strict=True):
            if size == DYNAMIC_INDEX:
                self._line(f"{dim} = {self._expr(next(sizes))};")
        dims = f"(const int64_t[]){{{', '.join(view.dims)}}}" if view.dims else "NULL"
        storage = view.element.storage
        self._line(
            f"{view.data} = ({storage} *)tensorc_alloc(sizeof({storage}), "
            f"{len(view.dims)}, {dims});"
        )
        self._line(f"if (!{view.data}) {{")
        with self.indented():
            self.emit_alloc_failure(op)
        self._line("}")

    def emit_alloc_failure(self, op: memref.AllocOp) -> None:
        message = c_string(f"out of memory allocating {op.memref.type}{_where(op)}")
        self._line(f"tensorc_fail(err, err_len, {message});")
        self._line(f"status = {STATUS_OUT_OF_MEMORY};")
        self._line("goto fail;")

    @emit_op.register
    def _(self, op: memref.DeallocOp) -> None:
        if op.memref not in self._allocs:
            raise LoweringError(
                f"memref.dealloc of a value not allocated here{_where(op)}"
            )
        name = self._memrefs[op.memref].data
        self._line(f"free({name});")
        self._line(f"{name} = NULL;")

    @emit_op.register
    def _(self, op: memref.GetGlobalOp) -> None:
        symbol = op.name_.string_value()
        if symbol not in self._globals:
            raise LoweringError(f"memref.get_global of unknown @{symbol}")
        self._memrefs[op.memref] = self._globals[symbol]

    @emit_op.register
    def _(self, op: memref.LoadOp) -> None:
        if not op.res.uses:
            return
        view = self._view(op.memref)
        element = f"{view.data}[{self._linear_index(view, op.indices)}]"
        name = self._fresh(op.res.name_hint)
        self._line(f"const {view.element.value} {name} = {element};")
        self._exprs[op.res] = name

    @emit_op.register
    def _(self, op: memref.StoreOp) -> None:
        view = self._view(op.memref)
        if view.readonly:
            raise LoweringError(f"memref.store into a constant global{_where(op)}")
        index = self._linear_index(view, op.indices)
        self._line(f"{view.data}[{index}] = {self._expr(op.value)};")

    @emit_op.register
    def _(self, op: memref.DimOp) -> None:
        view = self._view(op.source)
        index = op.index.owner
        if isinstance(index, arith.ConstantOp) and isinstance(
            index.value, builtin.IntegerAttr
        ):
            axis = index.value.value.data
            if not 0 <= axis < len(view.dims):
                raise LoweringError(f"memref.dim {axis} out of range{_where(op)}")
            self._exprs[op.result] = view.dims[axis]
        else:
            dims = f"(const int64_t[]){{{', '.join(view.dims)}}}"
            self._define(op.result, f"{dims}[{self._expr(op.index)}]")

    @emit_op.register
    def _(self, op: memref.CastOp) -> None:
        """Same buffer, other static/dynamic dims: the source's dims stay true."""
        source = self._view(op.source)
        t = self.memref_type(op.dest.type, op)
        if t.get_num_dims() != len(source.dims):
            raise LoweringError(f"memref.cast changes the rank{_where(op)}")
        self._memrefs[op.dest] = source

    @emit_op.register
    def _(self, op: memref.CopyOp) -> None:
        source, target = self._view(op.source), self._view(op.destination)
        if target.readonly or len(source.dims) != len(target.dims):
            raise LoweringError(
                f"memref.copy into a constant or another rank{_where(op)}"
            )
        count = " * ".join(f"(size_t){dim}" for dim in source.dims) or "1"
        element = f"sizeof({source.element.storage})"
        self._line(f"memcpy({target.data}, {source.data}, {count} * {element});")

    def _view(self, value: SSAValue) -> MemrefView:
        view = self._memrefs.get(value)
        if view is None:
            raise LoweringError(f"memref {value.name_hint or value} has no C binding")
        return view

    def _linear_index(self, view: MemrefView, indices: Sequence[SSAValue]) -> str:
        """Row-major offset in Horner form: (i0 * d1 + i1) * d2 + i2."""
        if len(indices) != len(view.dims):
            raise LoweringError(
                f"{len(indices)} indices into a rank-{len(view.dims)} memref"
            )
        if not indices:
            return "0"
        offset = self._operand(indices[0])
        for step, (dim, index) in enumerate(
            zip(view.dims[1:], indices[1:], strict=True)
        ):
            outer = f"({offset})" if step else offset
            offset = f"{outer} * {dim} + {self._operand(index)}"
        return offset

    # endregion
    # region control flow

    def _emit_block(self, block: Block) -> None:
        for op in block.ops:
            self.emit_op(op)

    @emit_op.register
    def _(self, op: scf.ForOp) -> None:
        block = op.body.block
        induction, *carried = block.args
        for arg, init, result in zip(carried, op.iter_args, op.results, strict=True):
            name = self._fresh(arg.name_hint or result.name_hint)
            ctype = self.scalar_type(arg.type).value
            self._line(f"{ctype} {name} = {self._expr(init)};")
            self._exprs[arg] = self._exprs[result] = name
        index = self._fresh(induction.name_hint or "i")
        self._exprs[induction] = index
        ctype = self.scalar_type(induction.type).value
        lower, upper, step = (self._expr(v) for v in (op.lb, op.ub, op.step))
        self._line(
            f"for ({ctype} {index} = {lower}; {index} < {upper}; {index} += {step}) {{"
        )
        with self.indented():
            self._emit_block(block)
        self._line("}")

    @emit_op.register
    def _(self, op: scf.IfOp) -> None:
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

    @emit_op.register
    def _(self, op: scf.YieldOp) -> None:
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

    @emit_op.register
    def _(self, op: cf.AssertOp) -> None:
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
        self._line("goto fail;")

    @emit_op.register
    def _(self, op: func.CallOp) -> None:
        callee = op.callee.string_value()
        if callee not in c_prelude.GEMM_FUNCTIONS or op.results:
            raise LoweringError(f"func.call @{callee}: not a tensorc runtime function")
        args = [
            self._view(arg).data
            if isinstance(arg.type, MemRefType)
            else self._expr(arg)
            for arg in op.arguments
        ]
        self._line(f"{callee}({', '.join(args)});")

    # endregion
    # region scalar values

    def scalar_type(self, t: Attribute) -> CScalarType:
        return c_scalar_type(t)

    def _emit_scalar(self, op: Operation) -> None:
        result = op.results[0]
        if not result.uses:
            return  # every C_EXPR op is pure
        args = [self._operand(v) for v in op.operands]
        self._define(result, c_expression(op, args))

    def _define(self, value: SSAValue, expr: str) -> None:
        """Bind `value` to `expr` inline, or to a new `const` temporary."""
        if _ATOMIC.fullmatch(expr) or self._inlinable(value):
            self._exprs[value] = expr
            return
        name = self._fresh(value.name_hint)
        self._line(f"const {self.scalar_type(value.type).value} {name} = {expr};")
        self._exprs[value] = name

    @staticmethod
    def _inlinable(value: SSAValue) -> bool:
        """Constants always; otherwise a single use in the same block that is
        not a loop bound (inlined there it would be re-evaluated per iteration)."""
        owner = value.owner
        if isinstance(owner, arith.ConstantOp):
            return True
        uses = list(value.uses)
        if len(uses) != 1 or not isinstance(owner, Operation):
            return False
        user = uses[0].operation
        return user.parent_block() is owner.parent_block() and not isinstance(
            user, scf.ForOp
        )

    def _expr(self, value: SSAValue) -> str:
        """The C expression of a scalar value, for a full-expression context."""
        expr = self._exprs.get(value)
        if expr is None:
            raise LoweringError(
                f"value {value.name_hint or value} of type {value.type} has no C "
                "scalar binding (a memref used as a scalar?)"
            )
        return expr

    def _operand(self, value: SSAValue) -> str:
        """The C expression of a scalar value, safe inside a larger expression."""
        expr = self._expr(value)
        return expr if _is_primary(expr) else f"({expr})"

    # endregion
    # region names and lines

    def _fresh(self, hint: str | None) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", hint) if hint else "v"
        if not base[0].isalpha():
            base = "v" + base
        while True:
            self._counter += 1
            separator = "" if base == "v" else "_"
            name = f"{base}{separator}{self._counter}"
            if name not in self._names:
                self._names.add(name)
                return name

    def _fresh_derived(self, name: str) -> str:
        """A name derived from a fresh one (`x_3_d0`), numbered if already taken."""
        if name in self._names:
            return self._fresh(name)
        self._names.add(name)
        return name

    def _module_name(self, wanted: str) -> str:
        name = re.sub(r"[^A-Za-z0-9_]", "_", wanted)
        while name in self._module_names:
            name += "_"
        self._module_names.add(name)
        return name

    def _line(self, text: str) -> None:
        self.print_string("\n" + text if text else "\n")

    # endregion


def _is_trivial(block: Block) -> bool:
    """A block holding only an operand-less yield."""
    ops = list(block.ops)
    return len(ops) == 1 and isinstance(ops[0], scf.YieldOp) and not ops[0].operands


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
