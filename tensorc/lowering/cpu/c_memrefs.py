"""Memrefs in C: allocations (malloc'ed or workspace slots), globals, element
access and the exit paths that free what a function allocated.

A memref is a data pointer plus one int64 per dim (a literal for static dims),
row-major. Every allocation's pointer and dims are declared at the top of the
function (NULL until allocated) so the failure exit can free them. An allocation
with a `tc.slot` attribute (tc-place-buffers) lives in the module's per-thread
workspace: it is neither freed nor returned, and its pointer is not `restrict`
(slots are reused by buffers that are never live together).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from xdsl.dialects import arith, builtin, cf, func, memref
from xdsl.dialects.builtin import DYNAMIC_INDEX, IntegerAttr, MemRefType
from xdsl.ir import Operation, SSAValue

from tensorc.dialects.tc import array_from_dense
from tensorc.errors import LoweringError
from tensorc.lowering.cpu.c_expr import float_literal, int_literal
from tensorc.lowering.cpu.c_prelude import GEMM_FUNCTIONS
from tensorc.lowering.cpu.c_values import EmitterBase, MemrefView, c_string, where
from tensorc.passes.place_buffers import SLOT_ATTR

STATUS_ASSERT = 1
STATUS_OUT_OF_MEMORY = 2
_NAME = re.compile(r"[A-Za-z_]\w*", re.ASCII)


def calls_function(op: Operation) -> bool:
    """A `func.call` of a function of the module (not a runtime helper)."""
    return isinstance(op, func.CallOp) and op.callee.string_value() not in GEMM_FUNCTIONS


def slot_of(op: memref.AllocOp) -> int | None:
    """The workspace slot tc-place-buffers gave `op`, if any."""
    attr = op.attributes.get(SLOT_ATTR)
    return attr.value.data if isinstance(attr, IntegerAttr) else None


@dataclass(eq=False, repr=False)
class MemrefEmitter(EmitterBase):
    """Memref handlers of the C emitter (see the module docstring)."""

    _globals: dict[str, MemrefView] = field(default_factory=dict, init=False)
    _allocs: list[SSAValue] = field(default_factory=list, init=False)
    """malloc'ed allocations of the current function, in order."""
    _owned: list[str] = field(default_factory=list, init=False)
    """Other pointers the failure exit frees (copies of inputs updated in place)."""

    # region allocations

    def _declare_allocs(self, op: func.FuncOp) -> bool:
        """Hoist every allocation's pointer and dims to the top (NULL until
        allocated) so the failure exit can free them; True if the function needs
        that exit."""
        block = op.body.block
        needs_exit = bool(self._owned)
        for nested in op.walk():
            if isinstance(nested, memref.AllocOp) and nested.parent_block() is block:
                self._declare_alloc(nested)
                needs_exit = True
            elif calls_function(nested):
                for result in nested.results:
                    self._declare_call_result(result)
                needs_exit = True
            elif isinstance(nested, memref.AllocOp):
                raise LoweringError(
                    f"memref.alloc inside a loop or branch{where(nested)}: "
                    "allocations must be in the function's top-level block"
                )
            needs_exit = needs_exit or isinstance(nested, cf.AssertOp)
        if needs_exit:
            self._line(f"int status = {STATUS_ASSERT};")
        return needs_exit

    def _declare_alloc(self, op: memref.AllocOp) -> None:
        t = self.memref_type(op.memref.type, op)
        name = self._fresh(op.memref.name_hint)
        dims = self._declare_dims(t, name)
        restrict = slot_of(op) is None
        if restrict:
            self._line(f"{self.memref_declaration(t, name)} = NULL;")
            self._allocs.append(op.memref)
        else:
            self._line(f"{self.scalar_type(t.element_type).storage} *{name} = NULL;")
        self._memrefs[op.memref] = MemrefView(
            name, dims, self.scalar_type(t.element_type), restrict=restrict
        )

    def _declare_call_result(self, result: SSAValue) -> None:
        """A buffer a called function returns (freed like an allocation)."""
        t = self.memref_type(result.type)
        element = self.scalar_type(t.element_type)
        name = self._fresh(result.name_hint or "returned")
        dims = self._declare_dims(t, name)
        self._line(f"{element.storage} *{name} = NULL;")
        self._allocs.append(result)
        self._memrefs[result] = MemrefView(name, dims, element)

    def _declare_dims(self, t: MemRefType, name: str) -> tuple[str, ...]:
        """The C spelling of each dim of a buffer `name` of type `t`: literals for
        static dims, a zeroed `int64_t <name>_d<axis>` declared for dynamic ones."""
        dims: list[str] = []
        for axis, size in enumerate(t.get_shape()):
            if size != DYNAMIC_INDEX:
                dims.append(str(size))
                continue
            dims.append(self._fresh_derived(f"{name}_d{axis}"))
            self._line(f"int64_t {dims[-1]} = 0;")
        return tuple(dims)

    def _emit_failure_exit(self) -> None:
        self._line("fail:")
        with self.indented():
            for value in self._allocs:
                self._line(f"free({self._memrefs[value].data});")
            for name in self._owned:
                self._line(f"free({name});")
            self._line("return status;")

    def _emit_alloc(self, op: memref.AllocOp) -> None:
        view = self._memrefs[op.memref]
        sizes = iter(op.dynamic_sizes)
        for dim, size in zip(view.dims, op.memref.type.get_shape(), strict=True):
            if size == DYNAMIC_INDEX:
                self._line(f"{dim} = {self._expr(next(sizes))};")
        dims = f"(const int64_t[]){{{', '.join(view.dims)}}}" if view.dims else "NULL"
        storage = view.element.storage
        slot = slot_of(op)
        source = (
            f"tensorc_alloc(sizeof({storage}), "
            if slot is None
            else f"tensorc_slot_acquire({slot}, sizeof({storage}), "
        )
        self._line(f"{view.data} = ({storage} *){source}{len(view.dims)}, {dims});")
        self._line(f"if (!{view.data}) {{")
        with self.indented():
            self.emit_alloc_failure(op)
        self._line("}")

    def emit_alloc_failure(self, op: memref.AllocOp) -> None:
        message = c_string(f"out of memory allocating {op.memref.type}{where(op)}")
        self._line(f"tensorc_fail(err, err_len, {message});")
        self._line(f"status = {STATUS_OUT_OF_MEMORY};")
        self._line("goto fail;")

    def _emit_dealloc(self, op: memref.DeallocOp) -> None:
        owner = op.memref.owner
        if isinstance(owner, memref.AllocOp) and slot_of(owner) is not None:
            return  # the slot keeps its storage for the next call
        if op.memref not in self._allocs:
            raise LoweringError(
                f"memref.dealloc of a value not allocated here{where(op)}"
            )
        name = self._memrefs[op.memref].data
        self._line(f"free({name});")
        self._line(f"{name} = NULL;")

    # endregion
    # region globals

    def _emit_global(self, op: memref.GlobalOp) -> None:
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

    def _emit_get_global(self, op: memref.GetGlobalOp) -> None:
        symbol = op.name_.string_value()
        if symbol not in self._globals:
            raise LoweringError(f"memref.get_global of unknown @{symbol}")
        self._memrefs[op.memref] = self._globals[symbol]

    # endregion
    # region element access

    def _emit_load(self, op: memref.LoadOp) -> None:
        if not op.res.uses:
            return
        view = self._view(op.memref)
        element = f"{view.data}[{self._linear_index(view, op.indices)}]"
        name = self._fresh(op.res.name_hint)
        self._line(f"const {view.element.value} {name} = {element};")
        self._exprs[op.res] = name

    def _emit_store(self, op: memref.StoreOp) -> None:
        view = self._view(op.memref)
        if view.readonly:
            raise LoweringError(f"memref.store into a constant global{where(op)}")
        index = self._linear_index(view, op.indices)
        self._line(f"{view.data}[{index}] = {self._expr(op.value)};")

    def _emit_dim(self, op: memref.DimOp) -> None:
        view = self._view(op.source)
        index = op.index.owner
        if isinstance(index, arith.ConstantOp) and isinstance(index.value, IntegerAttr):
            axis = index.value.value.data
            if not 0 <= axis < len(view.dims):
                raise LoweringError(f"memref.dim {axis} out of range{where(op)}")
            self._exprs[op.result] = view.dims[axis]
        else:
            dims = f"(const int64_t[]){{{', '.join(view.dims)}}}"
            self._define(op.result, f"{dims}[{self._expr(op.index)}]")

    def _emit_reshaped_view(
        self, op: memref.CollapseShapeOp | memref.ExpandShapeOp
    ) -> None:
        """The same data pointer with the view's dims (row-major storage): the
        product of the source's dims, or the expand's output sizes."""
        source = self._view(op.operands[0])
        t = self.memref_type(op.result.type, op)
        if isinstance(op, memref.CollapseShapeOp):
            total = " * ".join(f"(int64_t){d}" for d in source.dims) or "1"
            dims = [self._dim_variable(total) if DYNAMIC_INDEX in t.get_shape()
                    else str(t.get_shape()[0])]
        else:
            sizes = iter(op.output_shape)
            dims = [
                str(size) if size != DYNAMIC_INDEX
                else self._dim_variable(self._expr(next(sizes)))
                for size in t.get_shape()
            ]
        self._memrefs[op.result] = MemrefView(
            source.data, tuple(dims), source.element, source.readonly, source.restrict
        )

    def _dim_variable(self, expr: str) -> str:
        """`expr` as a name (a new `const int64_t` unless it is one already)."""
        if _NAME.fullmatch(expr) or expr.isdigit():
            return expr
        name = self._fresh("view_d")
        self._line(f"const int64_t {name} = {expr};")
        self._line(f"(void){name};  /* a collapsed view's size may go unread */")
        return name

    def _emit_cast(self, op: memref.CastOp) -> None:
        """Same buffer, other static/dynamic dims: the source's dims stay true."""
        source = self._view(op.source)
        t = self.memref_type(op.dest.type, op)
        if t.get_num_dims() != len(source.dims):
            raise LoweringError(f"memref.cast changes the rank{where(op)}")
        self._memrefs[op.dest] = source

    def _emit_copy(self, op: memref.CopyOp) -> None:
        source, target = self._view(op.source), self._view(op.destination)
        if target.readonly or len(source.dims) != len(target.dims):
            raise LoweringError(
                f"memref.copy into a constant or another rank{where(op)}"
            )
        count = self._element_count(source)
        element = f"sizeof({source.element.storage})"
        self._line(f"memcpy({target.data}, {source.data}, {count} * {element});")

    @staticmethod
    def _element_count(view: MemrefView) -> str:
        return " * ".join(f"(size_t){dim}" for dim in view.dims) or "1"

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
        flat = self._flat_indices.get(tuple(indices))
        if flat is not None:
            return flat
        offset = self._operand(indices[0])
        for step, (dim, index) in enumerate(
            zip(view.dims[1:], indices[1:], strict=True)
        ):
            outer = f"({offset})" if step else offset
            offset = f"{outer} * {dim} + {self._operand(index)}"
        return offset

    # endregion
