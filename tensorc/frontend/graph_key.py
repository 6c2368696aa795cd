"""The content key of a graph about to be traced, computed without xDSL.

A compiled function is cached under this key (plus the compiler settings; see
tensorc.compiler), so a warm compile finds its kernel without tracing, running
passes or importing xDSL at all. The key is a canonical encoding of everything
`trace(args, results)` reads: per node its op, its operands (by position in a
deterministic walk), dtype, static shape, attributes, name (the SSA name hint)
and source line (which run-time error messages quote); which nodes are the
arguments, in order; and which are the results, in order. Two graphs with one key
trace to the same module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np

from tensorc.frontend.variable import Variable

_PLAIN_TYPES = (bool, int, float, str, type(None), np.generic)


class UnkeyableAttribute(Exception):
    """An attribute value has no canonical text (the graph is compiled uncached)."""


def graph_key(args: Sequence[Variable], results: Sequence[Variable]) -> str | None:
    """sha256 hex digest of the graph `args -> results`, or None if some attribute
    value has no canonical text."""
    digest = hashlib.sha256()
    index: dict[int, int] = {}
    for var in args:
        index[id(var)] = len(index)
        _update(digest, ("arg", var.op, var.dtype, var.type.shape, var.name))
    try:
        for var in walk(results, index):
            record = (
                var.op,
                tuple(index[id(i)] for i in var.inputs),
                var.dtype,
                var.type.shape,
                _attributes_text(var.attrs),
                var.name,
                var.loc.filename,
                var.loc.line,
            )
            index[id(var)] = len(index)
            _update(digest, record)
    except UnkeyableAttribute:
        return None
    _update(digest, ("results", tuple(index[id(r)] for r in results)))
    return digest.hexdigest()


def _update(digest: Any, record: tuple[Any, ...]) -> None:
    data = repr(record).encode()
    digest.update(len(data).to_bytes(8, "little"))
    digest.update(data)


def walk(outputs: Iterable[Variable], known: Collection[int] = ()) -> list[Variable]:
    """The nodes `outputs` depend on, operands before users, except those whose id
    is in `known` (iterative: graphs may be deeper than Python's recursion limit).
    The same order as trace.topological, without importing xDSL."""
    order: list[Variable] = []
    seen = set(known)
    stack: list[tuple[Variable, bool]] = [(v, False) for v in reversed(list(outputs))]
    while stack:
        var, expanded = stack.pop()
        if expanded:
            order.append(var)
        elif id(var) not in seen:
            seen.add(id(var))
            stack.append((var, True))
            stack.extend((i, False) for i in reversed(var.inputs) if id(i) not in seen)
    return order


def _attributes_text(attrs: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, _value_text(value)) for name, value in attrs.items()))


def _value_text(value: Any) -> str:
    """Canonical text of an attribute value: the type is part of it (1 != 1.0),
    arrays go by dtype, shape and a hash of their bytes."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise UnkeyableAttribute("object array")
        data = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return f"array({value.dtype.str}, {value.shape}, {data})"
    if isinstance(value, list | tuple):
        items = ", ".join(_value_text(v) for v in value)
        return f"{type(value).__name__}({items})"
    if isinstance(value, _PLAIN_TYPES):
        return f"{type(value).__name__}({value!r})"
    if hasattr(value, "key_text"):  # a graph held as an attribute (a scan's body)
        return str(value.key_text())
    raise UnkeyableAttribute(type(value).__name__)
