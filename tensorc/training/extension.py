"""`Extension`: something the trainer calls between iterations when its trigger
fires (Chainer's `chainer.training.Extension`), and `make_extension`, which turns
a function `f(trainer)` into one.

Extensions run in decreasing `priority`: writers (which add to the observation,
e.g. the Evaluator) before editors before readers (which consume it, e.g.
LogReport).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "PRIORITY_EDITOR", "PRIORITY_READER", "PRIORITY_WRITER", "Extension",
    "make_extension",
]

PRIORITY_WRITER = 300
PRIORITY_EDITOR = 200
PRIORITY_READER = 100


class Extension:
    """Subclasses define `__call__(trainer)`; `initialize(trainer)` runs once
    before training, `finalize()` once after it, `serialize` saves and restores
    state in snapshots."""

    trigger: Any = (1, "iteration")
    priority: int = PRIORITY_READER
    name: str | None = None

    @property
    def default_name(self) -> str:
        """The name `Trainer.extend` gives the extension without one."""
        return type(self).__name__

    def __call__(self, trainer: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def initialize(self, trainer: Any) -> None:
        """Called by `Trainer.run` before the first iteration."""

    def finalize(self) -> None:
        """Called by `Trainer.run` when training ends (also by an error)."""

    def on_error(self, trainer: Any, exception: BaseException, traceback: Any) -> None:
        """Called by `Trainer.run` when an iteration raises."""

    def serialize(self, serializer: Any) -> None:
        """Save or restore state in snapshots (nothing by default)."""


def make_extension(trigger: Any = None, default_name: str | None = None,
                   priority: int | None = None,
                   finalizer: Callable[[], None] | None = None,
                   initializer: Callable[[Any], None] | None = None,
                   on_error: Callable[..., None] | None = None,
                   **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: give a function `f(trainer)` an extension's attributes."""
    if kwargs:
        raise TypeError(f"make_extension: unexpected arguments {sorted(kwargs)}")

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        attributes = {
            "trigger": (1, "iteration") if trigger is None else trigger,
            "default_name": default_name or function.__name__,
            "priority": PRIORITY_READER if priority is None else priority,
            "finalize": finalizer, "initialize": initializer, "on_error": on_error,
        }
        for name, value in attributes.items():
            if value is not None:
                setattr(function, name, value)
        return function

    return decorator
