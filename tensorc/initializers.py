"""`tensorc.initializers`: how parameters get their first values (Chainer's
`chainer.initializers`).

    L.Linear(784, 100, initialW=initializers.HeNormal())

An initializer is a callable that fills an array in place; its `dtype` (None: the
`tensorc.config.dtype` run flag, float32 by default) is the parameter's dtype.
Random initializers draw from numpy's global generator, as Chainer does, so
`np.random.seed(...)` makes a model's initial values reproducible.

The fans of a weight of shape (out, in, *kernel) are in * prod(kernel) and
out * prod(kernel).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform",
    "Initializer", "LeCunNormal", "LeCunUniform", "NaN", "Normal", "One", "Uniform",
    "Zero", "generate_array", "get_fans",
]


class Initializer:
    """Fills arrays: `initializer(array)` writes its values into `array`."""

    def __init__(self, dtype: Any = None):
        self.dtype = None if dtype is None else np.dtype(dtype)

    def __call__(self, array: np.ndarray) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if v is not None)
        return f"{type(self).__name__}({fields})"


def get_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    if len(shape) < 2:
        raise ValueError(f"fans need a weight of at least two dims, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


class Constant(Initializer):
    """Every element (or the broadcast array) `fill_value`."""

    def __init__(self, fill_value: Any, dtype: Any = None):
        super().__init__(dtype)
        self.fill_value = fill_value

    def __call__(self, array: np.ndarray) -> None:
        array[...] = self.fill_value


class Zero(Constant):
    def __init__(self, dtype: Any = None):
        super().__init__(0.0, dtype)


class One(Constant):
    def __init__(self, dtype: Any = None):
        super().__init__(1.0, dtype)


class NaN(Constant):
    """NaN everywhere: a parameter without an initializer shows it was never set."""

    def __init__(self, dtype: Any = None):
        super().__init__(np.nan, dtype)


class Normal(Initializer):
    """N(0, scale^2) samples."""

    def __init__(self, scale: float = 0.05, dtype: Any = None):
        super().__init__(dtype)
        self.scale = scale

    def __call__(self, array: np.ndarray) -> None:
        array[...] = np.random.normal(0.0, self.scale, size=array.shape)


class Uniform(Initializer):
    """Uniform samples in [-scale, scale)."""

    def __init__(self, scale: float = 0.05, dtype: Any = None):
        super().__init__(dtype)
        self.scale = scale

    def __call__(self, array: np.ndarray) -> None:
        array[...] = np.random.uniform(-self.scale, self.scale, size=array.shape)


class _FanScaled(Initializer):
    """A Normal/Uniform whose scale is `scale * sqrt(factor / fan)`, the fan chosen
    by `_fan` from the array's shape."""

    factor = 1.0
    distribution: type[Normal | Uniform] = Normal

    def __init__(self, scale: float = 1.0, dtype: Any = None):
        super().__init__(dtype)
        self.scale = scale

    def _fan(self, fan_in: int, fan_out: int) -> float:
        return fan_in

    def __call__(self, array: np.ndarray) -> None:
        fan = self._fan(*get_fans(array.shape))
        self.distribution(self.scale * math.sqrt(self.factor / fan))(array)


class LeCunNormal(_FanScaled):
    """N(0, scale^2 / fan_in): Chainer's default for weights."""


class LeCunUniform(_FanScaled):
    factor, distribution = 3.0, Uniform


class HeNormal(_FanScaled):
    factor = 2.0


class HeUniform(_FanScaled):
    factor, distribution = 6.0, Uniform


class GlorotNormal(_FanScaled):
    factor = 2.0

    def _fan(self, fan_in: int, fan_out: int) -> float:
        return fan_in + fan_out


class GlorotUniform(GlorotNormal):
    factor, distribution = 6.0, Uniform


def as_initializer(value: Any) -> Callable[[np.ndarray], None]:
    """What a link's `initialW=`/`initial_bias=` argument means: None is
    LeCunNormal, a number or an array is a Constant, a callable fills arrays."""
    if value is None:
        return LeCunNormal()
    if np.isscalar(value) or isinstance(value, np.ndarray):
        return Constant(value)
    if callable(value):
        return value
    raise TypeError(f"an initializer must be None, a number, an array or a callable; "
                    f"got {value!r}")


def generate_array(initializer: Callable[[np.ndarray], None],
                   shape: tuple[int, ...]) -> np.ndarray:
    """A new array of `shape` filled by `initializer`, of its dtype (or of the
    `tensorc.config.dtype` run flag)."""
    from tensorc.define_by_run.config import config

    dtype = getattr(initializer, "dtype", None)
    array = np.empty(shape, dtype=np.dtype(dtype if dtype is not None else config.dtype))
    initializer(array)
    return array
