"""The `expression` attribute of `tc.composite`: the tc-level recipe a composite was
fused from, kept for printers (`Composite{(i0 * exp(i1))}`); no lowering reads it.

Text form: steps separated by `; `, then ` -> ` and one reference per output:

    mul(i0, i0); neg(%0); exp(%1); cast{float32}(%2) -> %3, %1

A step is a short tc op name, `{dtype}` for casts, and its arguments: `iN` (input
N), `%N` (step N) or a literal (an absorbed splat constant: `2.0`, `-3`, `True`,
`nan`, `inf`). Pure Python: the frontend printer parses it without xDSL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Argument = str | int | float | bool
"""`iN`/`%N` references stay strings; literals are Python scalars."""


@dataclass(frozen=True)
class Step:
    op: str
    """Short tc op name, e.g. "add"."""
    args: tuple[Argument, ...]
    dtype: str | None = None
    """Result dtype of a cast."""

    def text(self) -> str:
        attrs = f"{{{self.dtype}}}" if self.dtype else ""
        return f"{self.op}{attrs}({', '.join(literal_text(a) for a in self.args)})"


@dataclass(frozen=True)
class Recipe:
    steps: tuple[Step, ...]
    outputs: tuple[str, ...]
    """`%N` or `iN` per composite output."""

    def text(self) -> str:
        body = "; ".join(step.text() for step in self.steps)
        return f"{body} -> {', '.join(self.outputs)}"


def literal_text(arg: Argument) -> str:
    if isinstance(arg, str):
        return arg
    return repr(arg)


_STEP = re.compile(r"^(?P<op>\w+)(?:\{(?P<dtype>\w+)\})?\((?P<args>.*)\)$")
_WORDS = {
    "True": True,
    "False": False,
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
}


def _argument(token: str) -> Argument:
    if re.fullmatch(r"[i%]\d+", token):
        return token
    if token in _WORDS:
        return _WORDS[token]
    try:
        return int(token)
    except ValueError:
        return float(token)


def parse(text: str) -> Recipe:
    """The Recipe of an `expression` attribute (ValueError if malformed)."""
    body, arrow, outputs = text.rpartition(" -> ")
    if not arrow:
        raise ValueError(f"composite expression without ' -> ': {text!r}")
    steps = []
    for part in body.split("; ") if body else []:
        match = _STEP.match(part)
        if match is None:
            raise ValueError(f"malformed composite expression step {part!r}")
        args = match["args"]
        steps.append(
            Step(
                match["op"],
                tuple(_argument(a) for a in args.split(", ")) if args else (),
                match["dtype"],
            )
        )
    return Recipe(tuple(steps), tuple(outputs.split(", ")))
