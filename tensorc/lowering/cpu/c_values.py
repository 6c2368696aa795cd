"""The base of the C emitter: per-function state, C names, lines and scalar values.

`EmitterBase` holds what every part of the emitter shares: the C spelling of each
scalar SSA value (`_exprs`), the C view of each memref (`_memrefs`), fresh names
and the printing helpers. A single-use pure value is inlined into its user in the
same block, other values become `const` temporaries, constants are always inlined.
The memref handlers (c_memrefs), the control flow (c_control) and the module and
entry functions (c_emitter) build on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import StringIO
from typing import ClassVar

from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import MemRefType, NoneAttr
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.utils.base_printer import BasePrinter

from tensorc.dialects.tc import location_text
from tensorc.errors import LoweringError
from tensorc.lowering.cpu.c_expr import CScalarType, c_expression, c_scalar_type

_ATOMIC = re.compile(r"[A-Za-z_]\w*|\d+(\.\d*)?(e[+-]?\d+)?f?", re.ASCII)
"""C expressions that never need parentheses: names and unsigned literals."""
_CALL = re.compile(r"[A-Za-z_]\w*\(", re.ASCII)


def is_primary(expr: str) -> bool:
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


def where(op: Operation) -> str:
    """` (created at file.py:12)` for messages, empty without a location."""
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


@dataclass(frozen=True)
class MemrefView:
    """A memref in C: its data pointer and one C expression per dim."""

    data: str
    dims: tuple[str, ...]
    element: CScalarType
    readonly: bool = False
    restrict: bool = False
    """Whether `data` is declared `restrict` (no other pointer reaches its
    elements while it is used)."""


@dataclass(eq=False, repr=False)
class EmitterBase(BasePrinter):
    """Shared state and helpers of the C emitter (see the module docstring)."""

    indent_num_spaces: int = field(default=4, kw_only=True)
    _exprs: dict[SSAValue, str] = field(default_factory=dict, init=False)
    _memrefs: dict[SSAValue, MemrefView] = field(default_factory=dict, init=False)
    _module_names: set[str] = field(default_factory=set, init=False)
    _names: set[str] = field(default_factory=set, init=False)
    _counter: int = field(default=0, init=False)
    _flat_indices: dict[tuple[SSAValue, ...], str] = field(
        default_factory=dict, init=False
    )
    """Index tuples of a flattened loop nest -> the C name of its flat index."""

    RESERVED_NAMES: ClassVar[frozenset[str]] = frozenset(
        ("in_data", "in_shapes", "out_data", "out_shapes", "err", "err_len", "status")
    )

    # region hooks

    def emit_op(self, op: Operation) -> None:
        """Print `op` (CEmitter dispatches on the op class)."""
        raise NotImplementedError

    def scalar_type(self, t: Attribute) -> CScalarType:
        return c_scalar_type(t)

    def memref_type(self, t: Attribute, op: Operation | None = None) -> MemRefType:
        """`t` if this target can represent it (CUDA also takes memory spaces)."""
        if (
            not isinstance(t, MemRefType)
            or not isinstance(t.layout, NoneAttr)
            or not isinstance(t.memory_space, NoneAttr)
        ):
            place = where(op) if op is not None else ""
            raise LoweringError(
                f"{t}{place}: the C emitter handles memrefs with the identity layout "
                "and no memory space only"
            )
        return t

    def memref_declaration(self, t: MemRefType, name: str) -> str:
        """Declarator of the data pointer of a memref of type `t` (the CUDA emitter
        spells memory spaces here)."""
        return f"{self.scalar_type(t.element_type).storage} *restrict {name}"

    # endregion
    # region scalar values

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
        return expr if is_primary(expr) else f"({expr})"

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

    @contextmanager
    def _captured(self) -> Iterator[StringIO]:
        """Print into a buffer instead of the stream for the duration."""
        saved, self.stream = self.stream, StringIO()
        try:
            yield self.stream
        finally:
            self.stream = saved

    # endregion
