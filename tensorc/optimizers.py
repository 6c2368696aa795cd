"""`tensorc.optimizers`: gradient-descent rules that update eager Variables in place
from their `.grad` (Chainer's `chainer.optimizers`).

    optimizer = optimizers.Adam(alpha=0.01).setup([W, b])
    for x, t in batches:
        optimizer.update(lambda: F.softmax_cross_entropy(F.linear(x, W, b), t))

    optimizer = optimizers.Adam().setup(model)   # a tensorc.Link
    optimizer.update(model, x, t)                # loss = model(x, t)

`update(lossfun)` clears the gradients, computes the loss, runs `backward()` and
applies the rule; `update()` alone applies the rule to the gradients already there.

float16 parameters are updated through a float32 master copy, with float32
optimizer state: a small step (lr * grad) vanishes when added to a float16 value,
and Adam's squared gradients underflow in float16.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tensorc.define_by_run.variable import Variable


def _zeros_state(state: dict[str, np.ndarray], name: str,
                 value: np.ndarray) -> np.ndarray:
    """`state[name]`, created as zeros like `value` at the first step (not
    `setdefault`: that would allocate and fill the zeros at every step)."""
    array = state.get(name)
    if array is None:
        array = state[name] = np.zeros_like(value)
    return array


class Optimizer:
    """Updates the parameters of a Link, or a list of Variables; subclasses define
    `update_one`. Hooks (`add_hook`, see `tensorc.optimizer_hooks`) adjust the
    gradients before the rule ("pre") or the parameters after it ("post")."""

    def __init__(self) -> None:
        self.target: Any = None
        self._params: list[Variable] = []
        self.t = 0
        self.epoch = 0
        self._state: dict[int, dict[str, np.ndarray]] = {}
        self._hooks: dict[str, tuple[Any, str]] = {}

    def setup(self, link: Any) -> Optimizer:
        """Optimize the parameters of `link` (a `tensorc.Link`: its parameters as
        they are at each update, so lazily initialized ones are included) or the
        Variables of a list (leaf Variables with floating-point data)."""
        from tensorc.links import Link

        self.target = link
        self._state = {}
        if isinstance(link, Link):
            self._params = []
            return self
        params = list(link)
        for p in params:
            if not isinstance(p, Variable) or not p.is_leaf or p.dtype.kind != "f":
                raise TypeError(f"optimizers update floating-point leaf Variables; "
                                f"got {p!r}")
        self._params = params
        return self

    @property
    def params(self) -> list[Variable]:
        """The Variables the next update may change."""
        from tensorc.links import Link

        if isinstance(self.target, Link):
            return [p for p in self.target.params(include_uninit=False)
                    if p.update_enabled]
        return self._params

    def add_hook(self, hook: Callable[..., Any], name: str | None = None,
                 timing: str = "auto") -> None:
        """Call `hook` at every update: `hook(optimizer, param)` for each parameter
        with a gradient if it has `call_for_each_param = True`, else
        `hook(optimizer)`; "pre" hooks run before the rule, "post" hooks after
        ("auto": the hook's `timing` attribute, else "pre")."""
        name = name or getattr(hook, "name", None) or getattr(hook, "__name__", None)
        if not name:
            raise ValueError(f"hook {hook!r} needs a name")
        if name in self._hooks:
            raise KeyError(f"the optimizer already has a hook named {name!r}")
        if timing == "auto":
            timing = getattr(hook, "timing", "pre")
        if timing not in ("pre", "post"):
            raise ValueError(f"hook timing must be 'pre', 'post' or 'auto', got "
                             f"{timing!r}")
        self._hooks[name] = (hook, timing)

    def remove_hook(self, name: str) -> None:
        del self._hooks[name]

    def call_hooks(self, timing: str = "pre") -> None:
        for hook, when in list(self._hooks.values()):
            if when != timing:
                continue
            if getattr(hook, "call_for_each_param", False):
                for param in self.params:
                    if param.grad is not None:
                        hook(self, param)
            else:
                hook(self)

    def _cleargrads(self) -> None:
        from tensorc.links import Link

        if isinstance(self.target, Link):
            self.target.cleargrads()  # frozen parameters too: no piling up
        else:
            for p in self._params:
                p.cleargrad()

    def new_epoch(self) -> None:
        self.epoch += 1

    def update(self, lossfun: Callable[..., Variable] | None = None, *args: Any,
               **kwargs: Any) -> Variable | None:
        """One step. With `lossfun` (e.g. the model itself), first clear gradients,
        compute `loss = lossfun(*args, **kwargs)` and `loss.backward()`; returns
        the loss."""
        loss = None
        if lossfun is not None:
            self._cleargrads()
            loss = lossfun(*args, **kwargs)
            loss.backward()
        self.t += 1
        self.call_hooks("pre")
        for p in self.params:
            if p.grad is not None:
                self._step(p)
        self.call_hooks("post")
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
        v = _zeros_state(state, "v", value)
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
        m = _zeros_state(state, "m", value)
        v = _zeros_state(state, "v", value)
        arrays = (grad, m, v)
        if any(a.dtype != value.dtype or a.shape != value.shape for a in arrays):
            # Mixed dtypes or shapes (not from `update`): numpy's promotion rules.
            m += (1 - self.beta1) * (grad - m)
            v += (1 - self.beta2) * (grad * grad - v)
            value -= (self.lr * m / (np.sqrt(v) + self.eps)).astype(value.dtype)
            return
        # In-place ufuncs on two scratch arrays: the same operations in the same
        # order as above (same values, all in value's dtype), without a temporary
        # per operation.
        scratch = np.subtract(grad, m, out=np.empty_like(m))
        scratch *= 1 - self.beta1
        m += scratch
        np.multiply(grad, grad, out=scratch)
        scratch -= v
        scratch *= 1 - self.beta2
        v += scratch
        root = np.sqrt(v, out=scratch)
        root += self.eps
        step = np.multiply(m, self.lr, out=np.empty_like(m))
        step /= root
        value -= step


class AdaGrad(Optimizer):
    """h += grad^2; value -= lr * grad / (sqrt(h) + eps)."""

    def __init__(self, lr: float = 0.001, eps: float = 1e-8):
        super().__init__()
        self.lr = lr
        self.eps = eps

    def update_one(self, value: np.ndarray, grad: np.ndarray,
                   state: dict[str, np.ndarray]) -> None:
        h = _zeros_state(state, "h", value)
        h += grad * grad
        value -= (self.lr * grad / (np.sqrt(h) + self.eps)).astype(value.dtype)


class RMSprop(Optimizer):
    """ms = alpha * ms + (1 - alpha) * grad^2; value -= lr * grad / (sqrt(ms) + eps)."""

    def __init__(self, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8):
        super().__init__()
        self.lr = lr
        self.alpha = alpha
        self.eps = eps

    def update_one(self, value: np.ndarray, grad: np.ndarray,
                   state: dict[str, np.ndarray]) -> None:
        ms = _zeros_state(state, "ms", value)
        ms *= self.alpha
        ms += (1 - self.alpha) * grad * grad
        value -= (self.lr * grad / (np.sqrt(ms) + self.eps)).astype(value.dtype)
