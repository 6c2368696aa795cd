"""`Trainer`: the training loop (Chainer's `chainer.training.Trainer`).

    trainer = training.Trainer(updater, (20, 'epoch'), out='result')
    trainer.extend(extensions.Evaluator(test_iter, model))
    trainer.extend(extensions.LogReport())
    trainer.run()

Each iteration: a fresh `observation` dict becomes the reporter's target, the
updater runs one step (the model reports "main/loss", ...), then every extension
whose trigger fires runs, in decreasing priority, until the stop trigger fires.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from tensorc.reporter import Reporter
from tensorc.training.extension import PRIORITY_READER
from tensorc.training.triggers import get_trigger

__all__ = ["Trainer"]


@dataclass
class ExtensionEntry:
    extension: Any
    priority: int
    trigger: Any
    call_before_training: bool = False


def _extension_name(extension: Any) -> str:
    for attribute in ("name", "default_name", "__name__"):
        name = getattr(extension, attribute, None)
        if name:
            return name
    raise TypeError(f"the extension {extension!r} has no name: pass name=...")


class Trainer:
    """Runs `updater.update()` until `stop_trigger` (e.g. `(10, 'epoch')`;
    None: forever) fires, calling the extensions; output files go to `out`."""

    def __init__(self, updater: Any, stop_trigger: Any = None, out: str = "result",
                 extensions: list[Any] | None = None):
        self.updater = updater
        self.stop_trigger = get_trigger(stop_trigger)
        self.out = out
        self.observation: dict[str, Any] = {}
        self.reporter = Reporter()
        for name, optimizer in updater.get_all_optimizers().items():
            self.reporter.add_observer(name, optimizer.target)
            if hasattr(optimizer.target, "namedlinks"):
                self.reporter.add_observers(
                    name, optimizer.target.namedlinks(skipself=True))
        self._extensions: dict[str, ExtensionEntry] = {}
        self._start_at: float | None = None
        self._snapshot_elapsed_time = 0.0
        self._final_elapsed_time: float | None = None
        self._done = False
        updater.connect_trainer(self)
        for extension in extensions or []:
            self.extend(extension)

    @property
    def elapsed_time(self) -> float:
        """Seconds of training so far (including the runs before a resume)."""
        if self._final_elapsed_time is not None:
            return self._final_elapsed_time
        if self._start_at is None:
            raise RuntimeError("training has not started yet")
        return time.perf_counter() - self._start_at + self._snapshot_elapsed_time

    def extend(self, extension: Any, name: str | None = None, trigger: Any = None,
               priority: int | None = None, *, call_before_training: bool = False
               ) -> None:
        """Register `extension` (a callable `f(trainer)`, usually an Extension)
        under `name` (default: its name; a repeated name gets "_1", "_2", ...),
        called when `trigger` (default: its `trigger`) fires, before extensions
        of lower `priority`; with `call_before_training`, once before the first
        iteration too."""
        name = name or _extension_name(extension)
        if name == "training":
            raise ValueError("'training' is reserved and cannot name an extension")
        trigger = get_trigger(getattr(extension, "trigger", (1, "iteration"))
                              if trigger is None else trigger)
        if priority is None:
            priority = getattr(extension, "priority", PRIORITY_READER)
        unique, ordinal = name, 0
        while unique in self._extensions:
            ordinal += 1
            unique = f"{name}_{ordinal}"
        extension.name = unique
        self._extensions[unique] = ExtensionEntry(extension, priority, trigger,
                                                  call_before_training)

    def get_extension(self, name: str) -> Any:
        if name not in self._extensions:
            raise ValueError(f"no extension named {name!r} (have: "
                             f"{list(self._extensions)})")
        return self._extensions[name].extension

    def run(self, show_loop_exception_msg: bool = True) -> None:
        """Train until the stop trigger fires (once per trainer)."""
        if self._done:
            raise RuntimeError("a trainer runs its training loop only once")
        os.makedirs(self.out, exist_ok=True)
        entries = sorted(self._extensions.items(), key=lambda item: -item[1].priority)
        self._start_at = time.perf_counter()
        self._initialize(entries)
        try:
            while not self.stop_trigger(self):
                self.observation = {}
                with self.reporter.scope(self.observation):
                    self.updater.update()
                    for _, entry in entries:
                        if entry.trigger(self):
                            entry.extension(self)
        except Exception as error:
            if show_loop_exception_msg:
                print(f"Exception in the training loop: {error}\nWill finalize "
                      "the trainer extensions and the updater before reraising.")
            for _, entry in entries:
                on_error = getattr(entry.extension, "on_error", None)
                if on_error is not None:
                    on_error(self, error, error.__traceback__)
            raise
        finally:
            self._final_elapsed_time = self.elapsed_time
            for _, entry in entries:
                finalize = getattr(entry.extension, "finalize", None)
                if finalize is not None:
                    finalize()
            self.updater.finalize()
        self._done = True

    def _initialize(self, entries: list[tuple[str, ExtensionEntry]]) -> None:
        for _, entry in entries:
            initialize = getattr(entry.extension, "initialize", None)
            if initialize is not None and not getattr(entry.trigger, "finished", False):
                initialize(self)
        for _, entry in entries:
            if entry.call_before_training:
                with self.reporter.scope(self.observation):
                    entry.extension(self)

    def serialize(self, serializer: Any) -> None:
        """The updater (iterators, models, optimizers), the stop trigger, each
        extension and its trigger, and the elapsed time."""
        self.updater.serialize(serializer["updater"])
        if hasattr(self.stop_trigger, "serialize"):
            self.stop_trigger.serialize(serializer["stop_trigger"])
        for name, entry in self._extensions.items():
            if hasattr(entry.extension, "serialize"):
                entry.extension.serialize(serializer["extensions"][name])
            if hasattr(entry.trigger, "serialize"):
                entry.trigger.serialize(serializer["extension_triggers"][name])
        if serializer.loading:
            self._snapshot_elapsed_time = float(serializer("_snapshot_elapsed_time",
                                                           0.0))
        else:
            elapsed = self.elapsed_time if self._start_at is not None else 0.0
            serializer("_snapshot_elapsed_time", elapsed)
