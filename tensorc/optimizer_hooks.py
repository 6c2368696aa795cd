"""`tensorc.optimizer_hooks`: gradient adjustments run by an optimizer at each
update (Chainer's `chainer.optimizer_hooks`).

    optimizer.add_hook(optimizer_hooks.WeightDecay(1e-4))

A hook with `call_for_each_param = True` is called as `hook(optimizer, param)` for
every parameter that has a gradient; the others as `hook(optimizer)`. All hooks
here run before the update rule (`timing = "pre"`) and replace `param.grad` with a
new array of the same dtype (gradients may be shared with the arrays a backward
pass returned).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorc.define_by_run.variable import Variable

__all__ = ["GradientClipping", "GradientHardClipping", "Lasso", "WeightDecay"]


class WeightDecay:
    """L2 regularization: grad += rate * param."""

    name = "WeightDecay"
    call_for_each_param = True
    timing = "pre"

    def __init__(self, rate: float):
        self.rate = rate

    def __call__(self, optimizer: Any, param: Variable) -> None:
        param.grad = param.grad + param.data * param.dtype.type(self.rate)


class Lasso:
    """L1 regularization: grad += rate * sign(param)."""

    name = "Lasso"
    call_for_each_param = True
    timing = "pre"

    def __init__(self, rate: float):
        self.rate = rate

    def __call__(self, optimizer: Any, param: Variable) -> None:
        param.grad = param.grad + np.sign(param.data) * param.dtype.type(self.rate)


class GradientHardClipping:
    """Each gradient element limited to [lower_bound, upper_bound]."""

    name = "GradientHardClipping"
    call_for_each_param = True
    timing = "pre"

    def __init__(self, lower_bound: float, upper_bound: float):
        if not lower_bound < upper_bound:
            raise ValueError(f"GradientHardClipping: lower bound {lower_bound} must be "
                             f"less than upper bound {upper_bound}")
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def __call__(self, optimizer: Any, param: Variable) -> None:
        param.grad = np.clip(param.grad, self.lower_bound, self.upper_bound).astype(
            param.dtype)


class GradientClipping:
    """All gradients scaled down together so that their joint L2 norm is at most
    `threshold` (unchanged when it already is)."""

    name = "GradientClipping"
    call_for_each_param = False
    timing = "pre"

    def __init__(self, threshold: float):
        self.threshold = threshold

    def __call__(self, optimizer: Any) -> None:
        params = [p for p in optimizer.params if p.grad is not None]
        norm = float(np.sqrt(sum(
            float(np.sum(np.square(p.grad, dtype=np.float64))) for p in params)))
        if norm <= self.threshold:
            return
        rate = self.threshold / norm
        for param in params:
            param.grad = (param.grad * rate).astype(param.dtype)
