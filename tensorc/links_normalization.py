"""Chainer's `L.BatchNormalization` (re-exported by `tensorc.links`).

    bn = L.BatchNormalization(32)         # 32 channels: (N, 32) or (N, 32, H, W)
    y = bn(x)                             # training: batch statistics
    with tensorc.using_config("train", False):
        y = bn(x)                         # inference: the running averages

The running averages `avg_mean`, `avg_var` and the fine-tuning count `N` are
persistent values: saved and loaded with the parameters (`serializers`), copied
by `copyparams`, never updated by optimizers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorc.define_by_run.config import training
from tensorc.define_by_run.variable import Variable
from tensorc.functions_normalization import (
    batch_normalization,
    fixed_batch_normalization,
)
from tensorc.initializers import Constant, as_initializer, generate_array
from tensorc.links import Link, Parameter

__all__ = ["BatchNormalization"]


def _typed_initializer(value: Any, default: float, dtype: Any) -> Any:
    """`value` as an initializer (None: the constant `default`) producing
    `dtype` (None: the `tensorc.config.dtype` run flag)."""
    initializer = as_initializer(default if value is None else value)
    if dtype is not None:
        if isinstance(initializer, Constant) and value is None:
            initializer = Constant(default, dtype)
        else:
            initializer.dtype = np.dtype(dtype)  # type: ignore[attr-defined]
    return initializer


class BatchNormalization(Link):
    """Batch normalization of the outputs of linear or convolution layers
    (Chainer's): in training (`tensorc.config.train`), x is normalized with
    the statistics of the batch and the running averages move towards them
    (`decay`); otherwise the running averages normalize it.

    `size` is the number (or shape) of channels, the axes after the batch axis;
    or `size=None` and `axis` (the statistics axes), and the channel shape comes
    from the first input. gamma starts at `initial_gamma` (1), beta at
    `initial_beta` (0); `use_gamma=False`/`use_beta=False` fix them at 1/0.
    avg_mean starts at 0 and avg_var at 1 (Chainer 5).
    """

    def __init__(self, size: int | Sequence[int] | None = None, decay: float = 0.9,
                 eps: float = 2e-5, dtype: Any = None, use_gamma: bool = True,
                 use_beta: bool = True, initial_gamma: Any = None,
                 initial_beta: Any = None, axis: int | Sequence[int] | None = None,
                 initial_avg_mean: Any = None, initial_avg_var: Any = None):
        super().__init__()
        if size is None and axis is None:
            raise ValueError("BatchNormalization: give size or axis")
        self.decay, self.eps = decay, eps
        self.axis = (axis,) if isinstance(axis, int) else axis
        self._dtype = dtype
        self._averages_from = (_typed_initializer(initial_avg_mean, 0, dtype),
                               _typed_initializer(initial_avg_var, 1, dtype))
        self.avg_mean: np.ndarray | None = None
        self.avg_var: np.ndarray | None = None
        self.add_persistent("N", 0)
        with self.init_scope():
            self.gamma = Parameter(_typed_initializer(initial_gamma, 1, dtype)) \
                if use_gamma else None
            self.beta = Parameter(_typed_initializer(initial_beta, 0, dtype)) \
                if use_beta else None
        if size is not None:
            self._initialize_params((size,) if isinstance(size, int) else tuple(size))

    def _initialize_params(self, shape: tuple[int, ...]) -> None:
        """Parameters and running averages of the channel shape `shape`."""
        self.avg_mean = generate_array(self._averages_from[0], shape)
        self.avg_var = generate_array(self._averages_from[1], shape)
        self.register_persistent("avg_mean")
        self.register_persistent("avg_var")
        for param in (self.gamma, self.beta):
            if param is not None:
                param.initialize(shape)

    def forward(self, x: Any, finetune: bool = False) -> Variable:
        """Normalize x. In training with `finetune`, the running averages become
        the mean of the statistics of all batches since `start_finetuning()`."""
        data = x.data if isinstance(x, Variable) else np.asarray(x)
        if self.avg_mean is None:
            axes = self.axis or ()  # size=None comes with axis
            self._initialize_params(tuple(d for a, d in enumerate(data.shape)
                                          if a not in axes))
        shape = self.avg_mean.shape  # type: ignore[union-attr]
        gamma = self.gamma if self.gamma is not None else np.ones(shape, data.dtype)
        beta = self.beta if self.beta is not None else np.zeros(shape, data.dtype)
        if not training():
            return fixed_batch_normalization(x, gamma, beta, self.avg_mean,
                                             self.avg_var, self.eps, axis=self.axis)
        decay = self.decay
        if finetune:
            self.N += 1
            decay = 1.0 - 1.0 / self.N
        return batch_normalization(x, gamma, beta, eps=self.eps,
                                   running_mean=self.avg_mean,
                                   running_var=self.avg_var, decay=decay,
                                   axis=self.axis)

    def start_finetuning(self) -> None:
        """Start collecting population statistics anew (fine-tuning mode)."""
        self.N = 0
