"""`PrintReport`: the LogReport's entries as a table, one row per entry (Chainer's
`chainer.training.extensions.PrintReport`).

    epoch       main/loss   validation/main/loss  main/accuracy  elapsed_time
    1           0.412       0.201                 0.889          0.84
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from tensorc.training.extension import Extension
from tensorc.training.extensions.log_report import LogReport

__all__ = ["PrintReport"]


class PrintReport(Extension):
    """Prints the header once, then the new entries of `log_report` (the trainer's
    extension of that name, or a LogReport object, which this calls itself)
    restricted to `entries`, each in a column at least 10 wide."""

    def __init__(self, entries: Sequence[str],
                 log_report: str | LogReport = "LogReport",
                 out: TextIO | None = None):
        self._entries = list(entries)
        self._log_report = log_report
        self._out = out
        self._printed = 0
        self._widths = [max(10, len(entry)) for entry in self._entries]
        self._header_done = False

    @property
    def out(self) -> TextIO:
        return sys.stdout if self._out is None else self._out  # stdout at call time

    def __call__(self, trainer: Any) -> None:
        log_report = self._log_report
        if isinstance(log_report, str):
            log_report = trainer.get_extension(log_report)
        elif isinstance(log_report, LogReport):
            log_report(trainer)
        else:
            raise TypeError(f"PrintReport: log_report must be an extension name or a "
                            f"LogReport, got {log_report!r}")
        if not self._header_done:
            self.out.write("  ".join(e.ljust(w) for e, w in zip(
                self._entries, self._widths, strict=True)).rstrip() + "\n")
            self._header_done = True
        for entry in log_report.log[self._printed:]:
            self._print(entry)
        self._printed = len(log_report.log)

    def _print(self, entry: dict[str, Any]) -> None:
        cells = [(f"{entry[name]:g}" if name in entry else "").ljust(width)
                 for name, width in zip(self._entries, self._widths, strict=True)]
        self.out.write("  ".join(cells).rstrip() + "\n")
        self.out.flush()

    def serialize(self, serializer: Any) -> None:
        if isinstance(self._log_report, LogReport):
            self._log_report.serialize(serializer["_log_report"])
