"""`theano.scan_module`: `scan` and `until`, for programs importing them from here.

`until(condition)` stops a Theano scan early; tensorc's scan runs a fixed number
of steps, so a step function that returns one makes `scan` raise a ScanError
naming the user's line (rather than running steps Theano would not have run).
"""

from __future__ import annotations

from typing import Any

from tensorc.frontend.scan import scan

__all__ = ["scan", "until"]


class until:  # noqa: N801  (Theano's name)
    """Theano's early-stop condition of a scan step (see the module docstring)."""

    def __init__(self, condition: Any) -> None:
        self.condition = condition
