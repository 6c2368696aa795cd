"""Schedules of an optimizer attribute (Chainer's `ExponentialShift` and
`LinearShift`): each time the extension's trigger fires (every iteration by
default; usually `trigger=(n, 'epoch')`), it sets the next value."""

from __future__ import annotations

from typing import Any

from tensorc.training.extension import Extension

__all__ = ["ExponentialShift", "LinearShift"]


class _Shift(Extension):
    """Common parts: the optimizer ("main" of the updater unless given), setting
    the value, the step count `_t` and the last value in snapshots."""

    def __init__(self, attr: str, optimizer: Any = None):
        self._attr = attr
        self._optimizer = optimizer
        self._t = 0
        self._last_value: float | None = None

    def _get_optimizer(self, trainer: Any) -> Any:
        return self._optimizer or trainer.updater.get_optimizer("main")

    def _set(self, trainer: Any, value: float) -> None:
        setattr(self._get_optimizer(trainer), self._attr, value)
        self._last_value = value

    def serialize(self, serializer: Any) -> None:
        self._t = int(serializer("_t", self._t))
        last = serializer("_last_value", self._last_value)
        self._last_value = None if last is None else float(last)


class ExponentialShift(_Shift):
    """value = init * rate**t after the t-th call, stopping at `target` (the
    optimizer's value at the start if `init` is None)."""

    def __init__(self, attr: str, rate: float, init: float | None = None,
                 target: float | None = None, optimizer: Any = None):
        if rate < 0:
            raise ValueError(f"ExponentialShift: rate must be non-negative, got {rate}")
        super().__init__(attr, optimizer)
        self._rate = rate
        self._init = init
        self._target = target

    def initialize(self, trainer: Any) -> None:
        if self._init is None:
            self._init = getattr(self._get_optimizer(trainer), self._attr)
        self._set(trainer, self._init if self._last_value is None else self._last_value)

    def __call__(self, trainer: Any) -> None:
        self._t += 1
        value = self._init * self._rate**self._t
        if self._target is not None:
            growing = self._rate > 1
            if growing and value > self._target or not growing and value < self._target:
                value = self._target
        self._set(trainer, value)


class LinearShift(_Shift):
    """value goes linearly from `value_range[0]` at call `time_range[0]` to
    `value_range[1]` at call `time_range[1]`, constant outside."""

    def __init__(self, attr: str, value_range: tuple[float, float],
                 time_range: tuple[int, int], optimizer: Any = None):
        super().__init__(attr, optimizer)
        self._value_range = value_range
        self._time_range = time_range

    def initialize(self, trainer: Any) -> None:
        self._set(trainer, self._value(self._t) if self._last_value is None
                  else self._last_value)

    def __call__(self, trainer: Any) -> None:
        self._t += 1
        self._set(trainer, self._value(self._t))

    def _value(self, t: int) -> float:
        (t1, t2), (v1, v2) = self._time_range, self._value_range
        if t <= t1:
            return v1
        if t >= t2:
            return v2
        return v1 + (v2 - v1) * (t - t1) / (t2 - t1)
