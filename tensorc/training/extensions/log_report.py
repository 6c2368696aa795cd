"""`LogReport`: the means of the observations over each interval, appended to a
list and written as JSON to `<out>/log` (Chainer's
`chainer.training.extensions.LogReport`)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from tensorc.reporter import DictSummary
from tensorc.training.extension import Extension
from tensorc.training.triggers import get_trigger

__all__ = ["LogReport", "write_atomically"]


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """`write(temporary_path)`, then rename the file to `path`: readers never see
    a half-written file, and an interrupted run leaves the old one."""
    directory = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(prefix=os.path.basename(path) + ".",
                                         dir=directory)
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


class LogReport(Extension):
    """Every iteration it accumulates the observation (only `keys`, if given);
    when `trigger` fires it appends the means, with "epoch", "iteration" and
    "elapsed_time", to `log` (after `postprocess(entry)`, if given), writes the
    whole log to `<out>/<log_name>` (None: no file) and starts over."""

    def __init__(self, keys: Sequence[str] | None = None, trigger: Any = (1, "epoch"),
                 postprocess: Callable[[dict[str, Any]], None] | None = None,
                 filename: str | None = None, log_name: str | None = "log"):
        self._keys = keys
        self._trigger = get_trigger(trigger)
        self._postprocess = postprocess
        self._log_name = log_name if filename is None else filename
        self._log: list[dict[str, Any]] = []
        self._summary = DictSummary()

    @property
    def log(self) -> list[dict[str, Any]]:
        """The entries so far, oldest first."""
        return self._log

    def __call__(self, trainer: Any) -> None:
        observation = trainer.observation
        if self._keys is not None:
            observation = {k: observation[k] for k in self._keys if k in observation}
        self._summary.add(observation)
        if not self._trigger(trainer):
            return
        entry: dict[str, Any] = {name: float(value) for name, value
                                 in self._summary.compute_mean().items()
                                 if getattr(value, "size", 1) == 1}
        entry["epoch"] = trainer.updater.epoch
        entry["iteration"] = trainer.updater.iteration
        entry["elapsed_time"] = trainer.elapsed_time
        if self._postprocess is not None:
            self._postprocess(entry)
        self._log.append(entry)
        if self._log_name is not None:
            path = os.path.join(trainer.out, self._log_name.format(**entry))
            write_atomically(path, self._write)
        self._summary = DictSummary()

    def _write(self, path: str) -> None:
        with open(path, "w") as file:
            json.dump(self._log, file, indent=4)

    def serialize(self, serializer: Any) -> None:
        serialize_trigger = getattr(self._trigger, "serialize", None)
        if serialize_trigger is not None:
            serialize_trigger(serializer["_trigger"])
        self._summary.serialize(serializer["_summary"])
        self._log = json.loads(str(serializer("_log", json.dumps(self._log))))
