"""Readable graphs, as in the Theano tutorials: `pp(var)` prints an infix expression,
`debugprint(obj)` an indented tree with `[id A]` tags."""

from __future__ import annotations

import sys
from typing import Any, TextIO

import numpy as np

from tensorc.frontend.variable import Variable

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
    """`Composite{(i0 * i1)}(x, y)`; the inner expression comes from the op's attrs."""
    inner = var.attrs.get("expression", "?")
    args = ", ".join(_pp(i, memo) for i in var.inputs)
    return f"Composite{{{inner}}}({args})"


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
    indented tree; repeated nodes show their `[id X]` only. Returns the text."""
    tags: dict[int, str] = {}
    lines: list[str] = []

    def visit(var: Variable, indent: str, level: int) -> None:
        seen = id(var) in tags
        if not seen:
            tags[id(var)] = _tag(len(tags))
        label = _debug_label(var)
        type_text = f" <{var.type}>" if print_type else ""
        lines.append(f"{indent}{label} [id {tags[id(var)]}]{type_text}")
        if seen or level == depth:
            return
        for child in var.inputs:
            visit(child, indent.replace("|", " ") + " |", level + 1)

    for out in _outputs_of(obj):
        visit(out, "", 0)
    text = "\n".join(lines)
    print(text, file=file or sys.stdout)
    return text


def _debug_label(var: Variable) -> str:
    if var.op in ("input", "shared"):
        return var.name or f"<{var.type}>"
    if var.op == "constant":
        return f"TensorConstant{{{_constant_text(var.attrs['value'])}}}"
    if var.op == "composite":
        return f"Composite{{{var.attrs.get('expression', '?')}}}"
    extra = _attrs_text(var)
    return f"{var.op}{{{extra}}}" if extra else var.op
