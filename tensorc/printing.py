"""Readable graphs, as in the Theano tutorials: `pp(var)` prints an infix expression,
`debugprint(obj)` an indented tree with `[id A]` tags."""

from __future__ import annotations

import sys
from typing import Any, TextIO

import numpy as np

from tensorc.frontend.variable import Variable
from tensorc.tensor.unimplemented import unimplemented

INFIX = {
    "add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%",
    "pow": "**", "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
    "and": "&", "or": "|", "xor": "^",
}
TRANSPARENT = ("broadcast",)
"""Ops that only change the shape of a value; pp shows their input."""


def _constant_text(value: np.ndarray) -> str:
    if value.size == 1:
        item = value.reshape(()).item()
        return repr(item) if not isinstance(item, bool) else str(item)
    return f"TensorConstant{{{np.array2string(value, threshold=8, separator=', ')}}}"


def _attrs_text(var: Variable) -> str:
    parts = []
    for key, value in var.attrs.items():
        if key == "keepdims" and not value:
            continue
        shown = list(value) if isinstance(value, tuple) else value
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def _pp(var: Variable, memo: dict[int, str]) -> str:
    if id(var) in memo:
        return memo[id(var)]
    if var.op in ("input", "shared"):
        text = var.name or f"<{var.type}>"
    elif var.op == "constant":
        text = _constant_text(var.attrs["value"])
    elif var.op in TRANSPARENT:
        text = _pp(var.inputs[0], memo)
    elif var.op in INFIX:
        a, b = (_pp(i, memo) for i in var.inputs)
        text = f"({a} {INFIX[var.op]} {b})"
    elif var.op == "neg":
        text = f"(-{_pp(var.inputs[0], memo)})"
    elif var.op == "dim":
        text = f"{_pp(var.inputs[0], memo)}.shape[{var.attrs['axis']}]"
    elif var.op == "cast":
        text = f"cast{{{var.dtype}}}({_pp(var.inputs[0], memo)})"
    elif var.op == "composite":
        text = composite_text(var, memo)
    else:
        args = [_pp(i, memo) for i in var.inputs]
        extra = _attrs_text(var) if var.op != "constant" else ""
        text = f"{var.op}({', '.join(args + ([extra] if extra else []))})"
    memo[id(var)] = text
    return text


def composite_text(var: Variable, memo: dict[int, str]) -> str:
    """`Composite{(i0 * i1)}(x, y)`: the inner expression over the inputs i0, i1..."""
    args = ", ".join(_pp(i, memo) for i in var.inputs)
    return f"{_composite_label(var)}({args})"


def _composite_label(var: Variable) -> str:
    """`Composite{(i0 * exp(i1))}`; `.k` marks output k of a multi-output one."""
    inner = var.attrs.get("inner")
    if inner is None:
        return "Composite{?}"
    index = var.attrs["output"]
    suffix = f".{index}" if len(inner) > 1 else ""
    return f"Composite{{{_pp(inner[index], {})}}}{suffix}"


def pp(var: Any) -> str:
    """The expression computing `var`, e.g. `((x ** 2.0) * 3.0)`."""
    if isinstance(var, list | tuple):
        return "\n".join(pp(v) for v in var)
    return _pp(var, {})


def _tag(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def _outputs_of(obj: Any) -> list[Variable]:
    maker = getattr(obj, "maker", None)
    if maker is not None:
        return list(maker.fgraph.outputs)
    if isinstance(obj, list | tuple):
        return list(obj)
    return [obj]


def debugprint(
    obj: Any, file: TextIO | None = None, print_type: bool = False, depth: int = -1
) -> str:
    """Print the graph of a variable, list of variables or compiled function as an
    indented tree; repeated nodes show their `[id X]` only. Composites are followed
    by an "Inner graphs:" section showing their scalar graphs with the op names
    users wrote (`add`, `exp`), over inputs i0, i1, ... Returns the text."""
    printer = _TreePrinter(print_type, depth)
    for out in _outputs_of(obj):
        printer.visit(out, "", 0)
    printer.inner_graphs()
    text = "\n".join(printer.lines)
    print(text, file=file or sys.stdout)
    return text


class _TreePrinter:
    def __init__(self, print_type: bool, depth: int) -> None:
        self.print_type = print_type
        self.depth = depth
        self.tags: dict[int, str] = {}
        self.lines: list[str] = []
        self.composites: dict[int, Variable] = {}

    def visit(self, var: Variable, indent: str, level: int) -> None:
        seen = id(var) in self.tags
        if not seen:
            self.tags[id(var)] = _tag(len(self.tags))
        if var.op == "composite" and var.attrs.get("inner") is not None:
            self.composites.setdefault(id(var), var)
        type_text = f" <{var.type}>" if self.print_type else ""
        self.lines.append(f"{indent}{_debug_label(var)} [id {self.tags[id(var)]}]"
                          f"{type_text}")
        if seen or level == self.depth:
            return
        for child in var.inputs:
            self.visit(child, indent.replace("|", " ") + " |", level + 1)

    def inner_graphs(self) -> None:
        if not self.composites:
            return
        self.lines += ["", "Inner graphs:"]
        for var in self.composites.values():
            self.lines += ["", f"{_debug_label(var)} [id {self.tags[id(var)]}]"]
            self.visit(var.attrs["inner"][var.attrs["output"]], " >", 0)


def _debug_label(var: Variable) -> str:
    if var.op in ("input", "shared"):
        return var.name or f"<{var.type}>"
    if var.op == "constant":
        return f"TensorConstant{{{_constant_text(var.attrs['value'])}}}"
    if var.op == "composite":
        return _composite_label(var)
    extra = _attrs_text(var)
    return f"{var.op}{{{extra}}}" if extra else var.op


pydotprint = unimplemented("theano.printing.pydotprint")
