"""`ProgressBar`: every `update_interval` iterations, a line with the progress of
the whole training (when the stop trigger has a length) and of the current epoch,
and the speed (Chainer's `chainer.training.extensions.ProgressBar`, as plain
lines: no cursor movement, so logs and pipes stay readable)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tensorc.training.extension import Extension

__all__ = ["ProgressBar"]


def _bar(fraction: float, width: int) -> str:
    filled = int(min(max(fraction, 0.0), 1.0) * width)
    return "#" * filled + "." * (width - filled)


class ProgressBar(Extension):
    """`training_length` is `(length, unit)`; default: the stop trigger's
    `get_training_length()`, if it has one."""

    priority = 0  # after the writers and readers: it only prints

    def __init__(self, training_length: tuple[float, str] | None = None,
                 update_interval: int = 100, bar_length: int = 50,
                 out: TextIO | None = None):
        self._training_length = training_length
        self._update_interval = update_interval
        self._bar_length = bar_length
        self._out = out
        self._started: tuple[float, int] | None = None

    def __call__(self, trainer: Any) -> None:
        updater = trainer.updater
        if self._started is None:
            self._started = (time.perf_counter(), updater.iteration - 1)
        if updater.iteration % self._update_interval:
            return
        out = sys.stdout if self._out is None else self._out
        out.write(self._line(trainer) + "\n")
        out.flush()

    def _line(self, trainer: Any) -> str:
        updater = trainer.updater
        parts = []
        length = self._training_length or getattr(
            trainer.stop_trigger, "get_training_length", lambda: None)()
        if length is not None:
            total, unit = length
            done = updater.iteration if unit == "iteration" else updater.epoch_detail
            parts.append(f"total [{_bar(done / total, self._bar_length)}] "
                         f"{100 * done / total:6.2f}%")
        epoch_fraction = updater.epoch_detail - updater.epoch
        parts.append(f"this epoch [{_bar(epoch_fraction, self._bar_length)}] "
                     f"{100 * epoch_fraction:6.2f}%")
        start, first = self._started or (time.perf_counter(), 0)
        seconds = time.perf_counter() - start
        speed = (updater.iteration - first) / seconds if seconds > 0 else 0.0
        parts.append(f"{updater.iteration} iter, {updater.epoch} epoch, "
                     f"{speed:.5g} iters/sec")
        return "  ".join(parts)
