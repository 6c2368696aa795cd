"""Declared legality: after a lowering, no op of the lowered dialect may survive.

A pass calls `check_lowered(module, "tc", pass_name)` at its end; it raises
`LoweringError` naming the first surviving op and the user line that created it,
so a pass never silently leaves an op it did not understand.
"""

from __future__ import annotations

from xdsl.ir import Operation

from tensorc.dialects.tc import location_text
from tensorc.errors import LoweringError


def describe(op: Operation) -> str:
    """`tc.add (created at model.py:12)`, or just the op name without a location."""
    where = location_text(op)
    return f"{op.name} (created at {where})" if where else op.name


def illegal_ops(root: Operation, dialect: str) -> list[Operation]:
    """All ops nested in `root` whose name is in `dialect` ("tc" -> "tc.*")."""
    prefix = f"{dialect}."
    return [op for op in root.walk() if op.name.startswith(prefix)]


def check_lowered(root: Operation, dialect: str, pass_name: str) -> None:
    """Raise LoweringError if any op of `dialect` is left inside `root`."""
    left = illegal_ops(root, dialect)
    if left:
        names = ", ".join(describe(op) for op in left[:3])
        more = f" and {len(left) - 3} more" if len(left) > 3 else ""
        raise LoweringError(
            f"{pass_name}: {len(left)} op(s) of dialect '{dialect}' were not lowered: "
            f"{names}{more}"
        )
