"""`observe_value` and `observe_lr`: put a value of the trainer's into the
observation, once per epoch by default (Chainer's extensions of those names), so
that LogReport logs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensorc.reporter import report
from tensorc.training.extension import PRIORITY_WRITER, Extension

__all__ = ["observe_lr", "observe_value"]


class ObserveValue(Extension):
    """Reports `{observation_key: target_func(trainer)}`."""

    trigger = (1, "epoch")
    priority = PRIORITY_WRITER

    def __init__(self, observation_key: str, target_func: Callable[[Any], Any]):
        self._key = observation_key
        self._target_func = target_func

    @property
    def default_name(self) -> str:
        return f"observe_{self._key}"

    def __call__(self, trainer: Any) -> None:
        report({self._key: self._target_func(trainer)})


def observe_value(observation_key: str, target_func: Callable[[Any], Any],
                  trigger: Any = (1, "epoch")) -> ObserveValue:
    """An extension that reports `target_func(trainer)` as `observation_key`."""
    extension = ObserveValue(observation_key, target_func)
    extension.trigger = trigger
    return extension


def observe_lr(optimizer_name: str = "main", observation_key: str = "lr",
               trigger: Any = (1, "epoch")) -> ObserveValue:
    """Reports the learning rate (`lr`; for Adam, its bias-corrected step size)
    of the updater's optimizer `optimizer_name`."""
    return observe_value(
        observation_key,
        lambda trainer: trainer.updater.get_optimizer(optimizer_name).lr, trigger)
