"""`ifelse(condition, then_branch, else_branch)` (Theano's `theano.ifelse.ifelse`).

tensorc evaluates both branches and selects one (Theano evaluates lazily); the result
is the same, only the work differs. The condition must be a scalar.
"""

from __future__ import annotations

from typing import Any

from tensorc.errors import ShapeError
from tensorc.frontend.elemwise import as_variable, switch
from tensorc.frontend.variable import Variable, user_location


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None) -> Any:
    """`then_branch` if the scalar `condition` is true, else `else_branch`; lists of
    branches give a list of results."""
    condition = as_variable(condition)
    if condition.ndim != 0:
        raise ShapeError(
            f"ifelse: the condition must be a scalar, got shape {condition.type.shape} "
            f"(at {user_location()})"
        )
    if isinstance(then_branch, list | tuple):
        if not isinstance(else_branch, list | tuple) or len(else_branch) != len(then_branch):
            raise ValueError("ifelse: both branches need the same number of outputs")
        return [_choose(condition, a, b) for a, b in zip(then_branch, else_branch)]
    result = _choose(condition, then_branch, else_branch)
    result.name = name or result.name
    return result


def _choose(condition: Variable, a: Any, b: Any) -> Variable:
    a, b = as_variable(a), as_variable(b)
    if a.ndim != b.ndim:
        raise ShapeError(
            f"ifelse: branches have {a.ndim} and {b.ndim} dims (at {user_location()})"
        )
    return switch(condition, a, b)
