"""`tensorc.gradient_check`: compare `backward()` with central differences
(Chainer's `chainer.gradient_check`).

    gradient_check.check_backward(F.tanh, x_data, gy_data)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tensorc.define_by_run.variable import Variable


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _differentiable(array: np.ndarray) -> bool:
    return array.dtype.kind == "f"


def numerical_grad(f: Callable[[], float], arrays: Sequence[np.ndarray],
                   eps: float) -> list[np.ndarray]:
    """d f / d array by central differences, perturbing each element of each array
    in place (and restoring it); float64 results."""
    grads = []
    for array in arrays:
        grad = np.zeros(array.shape, dtype=np.float64)
        flat = array.reshape(-1)  # a view: the arrays are contiguous copies
        for i in range(flat.size):
            original = flat[i].copy()
            flat[i] = original + eps
            plus = f()
            flat[i] = original - eps
            minus = f()
            flat[i] = original
            # Divide by the step actually taken (eps rounds in low precisions).
            step = float(flat.dtype.type(original + eps)) - float(
                flat.dtype.type(original - eps))
            grad.reshape(-1)[i] = (plus - minus) / step
        grads.append(grad)
    return grads


def _with_grads(outputs: tuple[Variable, ...], grad_outputs: list[Any] | None
                ) -> list[tuple[Variable, Any]]:
    """(output, its seed) pairs; no seeds means None (ones) for every output."""
    if grad_outputs is None:
        return [(y, None) for y in outputs]
    if len(outputs) != len(grad_outputs):
        raise ValueError(f"check_backward: {len(outputs)} outputs but "
                         f"{len(grad_outputs)} output gradients")
    return list(zip(outputs, grad_outputs))


def _weighted_output(func: Callable[..., Any], inputs: Sequence[Variable],
                     grad_outputs: list[Any] | None) -> float:
    """sum_i <y_i, gy_i> in float64: the scalar whose gradient backward computes."""
    total = 0.0
    for y, gy in _with_grads(_as_tuple(func(*inputs)), grad_outputs):
        weight = np.ones(y.shape) if gy is None else np.asarray(gy, dtype=np.float64)
        total += float(np.sum(y.data.astype(np.float64) * weight))
    return total


def check_backward(
    func: Callable[..., Any],
    x_data: Any,
    y_grad: Any = None,
    params: Sequence[Variable] = (),
    eps: float = 1e-3,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    no_grads: Sequence[bool] | None = None,
    dtype: Any = None,
) -> None:
    """Raise AssertionError unless `backward()` of `func(*Variables(x_data))`, seeded
    with `y_grad` (one array per output; None for one-element outputs), matches
    central differences for every floating-point input and every Variable in
    `params` (which `func` uses).

    `no_grads[i]` skips input i; integer inputs are always skipped. `dtype` (e.g.
    np.float64) is the precision of the numerical differences: the inputs and
    params are cast to it for them.
    """
    arrays = [np.array(x) for x in _as_tuple(x_data)]
    grad_outputs = None if y_grad is None else list(_as_tuple(y_grad))
    checked = [
        _differentiable(a) and not (no_grads is not None and no_grads[i])
        for i, a in enumerate(arrays)
    ]
    inputs = [Variable(a, requires_grad=c) for a, c in zip(arrays, checked)]
    analytic = _backward_grads(func, inputs, params, grad_outputs)
    numeric = _numerical_grads(func, arrays, checked, params, grad_outputs, eps, dtype)
    names = [f"input #{i}" for i, c in enumerate(checked) if c]
    names += [f"param {p.name or f'#{i}'}" for i, p in enumerate(params)]
    for name, got, want in zip(names, analytic, numeric, strict=True):
        if got is None:
            raise AssertionError(f"check_backward: {name} got no gradient")
        np.testing.assert_allclose(
            got.astype(np.float64), want, atol=atol, rtol=rtol,
            err_msg=f"check_backward: backward() and central differences (eps={eps}) "
                    f"disagree for {name}",
        )


def _backward_grads(func: Callable[..., Any], inputs: list[Variable],
                    params: Sequence[Variable], grad_outputs: list[Any] | None
                    ) -> list[np.ndarray | None]:
    for p in params:
        p.cleargrad()
    for y, gy in _with_grads(_as_tuple(func(*inputs)), grad_outputs):
        y.grad = gy
        y.backward()  # the gradients of several outputs accumulate
    grads = [x.grad for x in inputs if x.requires_grad] + [p.grad for p in params]
    owners = [x for x in inputs if x.requires_grad] + list(params)
    for owner, grad in zip(owners, grads):
        if grad is not None and (grad.dtype, grad.shape) != (owner.dtype, owner.shape):
            raise AssertionError(
                f"check_backward: a gradient of dtype {grad.dtype} and shape "
                f"{grad.shape} for a Variable of dtype {owner.dtype} and shape "
                f"{owner.shape}")
    return grads


def _numerical_grads(func: Callable[..., Any], arrays: list[np.ndarray],
                     checked: list[bool], params: Sequence[Variable],
                     grad_outputs: list[Any] | None, eps: float, dtype: Any
                     ) -> list[np.ndarray]:
    def cast(a: np.ndarray) -> np.ndarray:
        return np.array(a, dtype=dtype if dtype is not None and _differentiable(a)
                        else a.dtype)

    saved = [p.data for p in params]
    work = [cast(a) for a in arrays]
    try:
        for p in params:
            p.data = cast(p.data)
        variables = [Variable(a, requires_grad=False) for a in work]

        def f() -> float:
            return _weighted_output(func, variables, grad_outputs)

        perturbed = [a for a, c in zip(work, checked) if c] + [p.data for p in params]
        return numerical_grad(f, perturbed, eps)
    finally:
        for p, data in zip(params, saved):
            p.data = data
