"""`PlotReport`: the means of some observations per interval, plotted against the
epoch or iteration into `<out>/<filename>` (Chainer's
`chainer.training.extensions.PlotReport`). Plotting needs matplotlib;
`PlotReport.available()` says whether it is installed (Chainer's examples extend
the trainer with a PlotReport only then). Without it, the points are still
collected (`data`) but no file is written."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import Any

from tensorc.reporter import DictSummary
from tensorc.training.extension import Extension
from tensorc.training.extensions.log_report import write_atomically
from tensorc.training.triggers import get_trigger

__all__ = ["PlotReport"]


class PlotReport(Extension):
    """Every iteration it accumulates `y_keys`; when `trigger` fires it adds each
    key's mean as a point at `x_key` ('epoch' or 'iteration') and redraws."""

    def __init__(self, y_keys: str | Sequence[str], x_key: str = "iteration",
                 trigger: Any = (1, "epoch"), postprocess: Any = None,
                 filename: str | None = None, marker: str = "x", grid: bool = True,
                 file_name: str = "plot.png"):
        self._y_keys = [y_keys] if isinstance(y_keys, str) else list(y_keys)
        self._x_key = x_key
        self._trigger = get_trigger(trigger)
        self._postprocess = postprocess
        self._filename = filename or file_name
        self._marker = marker
        self._grid = grid
        self._summary = DictSummary()
        self.data: dict[str, list[tuple[float, float]]] = {k: [] for k in self._y_keys}

    @staticmethod
    def available() -> bool:
        """Whether matplotlib can be imported (plots can be drawn)."""
        return importlib.util.find_spec("matplotlib") is not None

    def __call__(self, trainer: Any) -> None:
        observation = trainer.observation
        self._summary.add({k: observation[k] for k in self._y_keys if k in observation})
        if not self._trigger(trainer):
            return
        x = getattr(trainer.updater, self._x_key)
        for key, value in self._summary.compute_mean().items():
            self.data[key].append((x, float(value)))
        self._summary = DictSummary()
        if self.available():
            path = os.path.join(trainer.out, self._filename)
            write_atomically(path, lambda temporary: self._draw(temporary, trainer))

    def _draw(self, path: str, trainer: Any) -> None:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots()
        for key, points in self.data.items():
            if points:
                xs, ys = zip(*points, strict=True)
                axes.plot(xs, ys, marker=self._marker, label=key)
        axes.set_xlabel(self._x_key)
        axes.grid(self._grid)
        axes.legend()
        if self._postprocess is not None:
            self._postprocess(figure, axes, trainer.observation)
        with open(path, "wb") as file:
            figure.savefig(file, format=os.path.splitext(self._filename)[1][1:] or "png")
        plt.close(figure)

    def serialize(self, serializer: Any) -> None:
        import json

        serialize_trigger = getattr(self._trigger, "serialize", None)
        if serialize_trigger is not None:
            serialize_trigger(serializer["_trigger"])
        self._summary.serialize(serializer["_summary"])
        saved = json.loads(str(serializer("_plot", json.dumps(self.data))))
        self.data = {key: [tuple(point) for point in points]
                     for key, points in saved.items()}
