"""`tensorc.optimizers`: gradient-descent rules that update eager Variables in place
from their `.grad` (Chainer's `chainer.optimizers`).

    optimizer = optimizers.Adam(alpha=0.01).setup([W, b])
    for x, t in batches:
        optimizer.update(lambda: F.softmax_cross_entropy(F.linear(x, W, b), t))

`update(lossfun)` clears the gradients, computes the loss, runs `backward()` and
applies the rule; `update()` alone applies the rule to the gradients already there.

float16 parameters are updated through a float32 master copy, with float32
optimizer state: a small step (lr * grad) vanishes when added to a float16 value,
and Adam's squared gradients underflow in float16.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tensorc.define_by_run.variable import Variable


class Optimizer:
    """Updates a list of Variables; subclasses define `update_one`."""

    def __init__(self) -> None:
        self.params: list[Variable] = []
        self.t = 0
        self._state: dict[int, dict[str, np.ndarray]] = {}

    def setup(self, params: Iterable[Variable]) -> Optimizer:
        """Optimize `params` (leaf Variables with floating-point data)."""
        params = list(params)
        for p in params:
            if not isinstance(p, Variable) or not p.is_leaf or p.dtype.kind != "f":
                raise TypeError(f"optimizers update floating-point leaf Variables; "
                                f"got {p!r}")
        self.params = params
        self._state = {}
        return self

    def update(self, lossfun: Callable[..., Variable] | None = None, *args: Any,
               **kwargs: Any) -> Variable | None:
        """One step. With `lossfun`, first clear gradients, compute
        `loss = lossfun(*args, **kwargs)` and `loss.backward()`; returns the loss."""
        loss = None
        if lossfun is not None:
            for p in self.params:
                p.cleargrad()
            loss = lossfun(*args, **kwargs)
            loss.backward()
        self.t += 1
        for p in self.params:
            if p.grad is not None:
                self._step(p)
        return loss

    def _step(self, param: Variable) -> None:
        state = self._state.setdefault(id(param), {})
        master = state.get("master")
        wide = param.dtype == np.float16
        if wide and (master is None or not np.array_equal(
                master.astype(np.float16), param.data)):
            master = state["master"] = param.data.astype(np.float32)
        value = master if wide else param.data
        grad = param.grad.astype(np.float32) if wide else param.grad
        self.update_one(value, grad, state)
        if wide:
            param.data[...] = value.astype(np.float16)

    def update_one(self, value: np.ndarray, grad: np.ndarray,
                   state: dict[str, np.ndarray]) -> None:
        """Update `value` in place from `grad`; `state` persists per parameter."""
        raise NotImplementedError


class SGD(Optimizer):
    """value -= lr * grad."""

    def __init__(self, lr: float = 0.01):
        super().__init__()
        self.lr = lr

    def update_one(self, value: np.ndarray, grad: np.ndarray,
                   state: dict[str, np.ndarray]) -> None:
        value -= self.lr * grad


class MomentumSGD(Optimizer):
    """v = momentum * v - lr * grad; value += v."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__()
        self.lr = lr
        self.momentum = momentum

    def update_one(self, value: np.ndarray, grad: np.ndarray,
                   state: dict[str, np.ndarray]) -> None:
        v = state.setdefault("v", np.zeros_like(value))
        v *= self.momentum
        v -= self.lr * grad
        value += v


class Adam(Optimizer):
    """Adam (Kingma & Ba) with Chainer's parameter names: step size `alpha`, decay
    rates `beta1`/`beta2`, and `eps` added to the root of the second moment."""

    def __init__(self, alpha: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        super().__init__()
        self.alpha = alpha
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps

    @property
    def lr(self) -> float:
        """The bias-corrected step size of the current step."""
        t = max(self.t, 1)  # before the first step: the first step's size
        correction = np.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        return float(self.alpha * correction)

    def update_one(self, value: np.ndarray, grad: np.ndarray,
                   state: dict[str, np.ndarray]) -> None:
        m = state.setdefault("m", np.zeros_like(value))
        v = state.setdefault("v", np.zeros_like(value))
        m += (1 - self.beta1) * (grad - m)
        v += (1 - self.beta2) * (grad * grad - v)
        value -= (self.lr * m / (np.sqrt(v) + self.eps)).astype(value.dtype)
