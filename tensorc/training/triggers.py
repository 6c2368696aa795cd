"""Triggers: `trigger(trainer) -> bool`, whether an extension runs now (or
training stops). Chainer's `chainer.training.triggers`; a `(period, unit)` tuple
such as `(1, 'epoch')` or `(100, 'iteration')` stands for an `IntervalTrigger`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tensorc.reporter import DictSummary

__all__ = [
    "BestValueTrigger", "IntervalTrigger", "ManualScheduleTrigger", "MaxValueTrigger",
    "MinValueTrigger", "get_trigger",
]

UNITS = ("epoch", "iteration")


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"trigger unit must be 'epoch' or 'iteration', got {unit!r}")


class IntervalTrigger:
    """Fires every `period` epochs (when the epoch count, as a float, crosses a
    multiple of `period`) or iterations."""

    def __init__(self, period: float, unit: str):
        _check_unit(unit)
        self.period = period
        self.unit = unit
        self._previous_iteration = 0
        self._previous_epoch_detail = 0.0

    def __call__(self, trainer: Any) -> bool:
        updater = trainer.updater
        if self.unit == "epoch":
            now, before = updater.epoch_detail, self._previous_epoch_detail
        else:
            now, before = updater.iteration, self._previous_iteration
        fire = before // self.period != now // self.period
        self._previous_iteration = updater.iteration
        self._previous_epoch_detail = updater.epoch_detail
        return bool(fire)

    def get_training_length(self) -> tuple[float, str]:
        return self.period, self.unit

    def serialize(self, serializer: Any) -> None:
        self._previous_iteration = int(serializer("previous_iteration",
                                                  self._previous_iteration))
        self._previous_epoch_detail = float(serializer("previous_epoch_detail",
                                                       self._previous_epoch_detail))

    def __repr__(self) -> str:
        return f"IntervalTrigger({self.period}, {self.unit!r})"


class ManualScheduleTrigger:
    """Fires when the epoch count or iteration reaches one of `points`."""

    def __init__(self, points: float | Sequence[float], unit: str):
        _check_unit(unit)
        self.points = [points] if isinstance(points, int | float) else list(points)
        self.unit = unit
        self.finished = False
        self._previous = 0.0

    def __call__(self, trainer: Any) -> bool:
        updater = trainer.updater
        now = updater.epoch_detail if self.unit == "epoch" else updater.iteration
        fire = any(self._previous < point <= now for point in self.points)
        self._previous = now
        self.finished = now >= max(self.points)
        return fire

    def serialize(self, serializer: Any) -> None:
        self._previous = float(serializer("previous", self._previous))
        self.finished = bool(serializer("finished", self.finished))


class BestValueTrigger:
    """Fires when the mean of observation `key` over each `trigger` interval is
    better (`compare(best, new)`) than every earlier interval's."""

    def __init__(self, key: str, compare: Callable[[float, float], bool],
                 trigger: Any = (1, "epoch")):
        self._key = key
        self._compare = compare
        self._interval_trigger = get_trigger(trigger)
        self._best_value: float | None = None
        self._summary = DictSummary()

    def __call__(self, trainer: Any) -> bool:
        if self._key in trainer.observation:
            self._summary.add({self._key: trainer.observation[self._key]})
        if not self._interval_trigger(trainer):
            return False
        stats = self._summary.compute_mean()
        if self._key not in stats:
            raise KeyError(f"{self._key!r} was not observed (observed: "
                           f"{sorted(stats)})")
        value = float(stats[self._key])
        self._summary = DictSummary()
        if self._best_value is None or self._compare(self._best_value, value):
            self._best_value = value
            return True
        return False

    def serialize(self, serializer: Any) -> None:
        serialize = getattr(self._interval_trigger, "serialize", None)
        if serialize is not None:
            serialize(serializer["interval_trigger"])
        self._summary.serialize(serializer["summary"])
        best = serializer("best_value", self._best_value)
        self._best_value = None if best is None else float(best)


class MaxValueTrigger(BestValueTrigger):
    """Fires when observation `key` reaches a new maximum (checked per `trigger`)."""

    def __init__(self, key: str, trigger: Any = (1, "epoch")):
        super().__init__(key, lambda best, new: new > best, trigger)


class MinValueTrigger(BestValueTrigger):
    """Fires when observation `key` reaches a new minimum (checked per `trigger`)."""

    def __init__(self, key: str, trigger: Any = (1, "epoch")):
        super().__init__(key, lambda best, new: new < best, trigger)


def get_trigger(trigger: Any) -> Callable[[Any], bool]:
    """A trigger from a `(period, unit)` tuple; a callable as it is; None: never."""
    if callable(trigger):
        return trigger
    if trigger is None:
        return _never
    period, unit = trigger
    return IntervalTrigger(period, unit)


def _never(trainer: Any) -> bool:
    return False
