"""Training with T.grad and `updates`, step for step against hand-written numpy
twins (forward pass and hand-derived backward pass): gradient descent to a mean,
the Theano tutorial's logistic regression, and a two-layer tanh/softmax MLP."""

from __future__ import annotations

import numpy as np

import tensorc
import tensorc.tensor as T

STEPS = 10


def assert_close(got: object, want: object) -> None:
    """Equal within 1e-10 relative (and 1e-13 absolute, for entries near 0)."""
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def stable_sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def test_gradient_descent_converges_to_the_mean(mode: str) -> None:
    data = np.random.default_rng(0).normal(3.0, 2.0, 50)
    c = T.dvector("c")
    x = tensorc.shared(0.0, name="x")
    cost = T.sum((x - c) ** 2)
    rate = 0.004
    step = tensorc.function([c], cost, updates=[(x, x - rate * T.grad(cost, x))],
                            mode=mode)
    twin = 0.0
    for _ in range(STEPS):
        assert_close(step(data), np.sum((twin - data) ** 2))
        twin -= rate * 2 * np.sum(twin - data)
        assert_close(x.get_value(), twin)
    for _ in range(60):
        step(data)
    assert abs(x.get_value() - data.mean()) < 1e-12 * abs(data.mean())


def _logistic_twin_step(data: tuple[np.ndarray, np.ndarray], w: np.ndarray, b: float
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One step of the tutorial's model: (prediction, xent, new w, new b)."""
    x, y = data
    z = x @ w + b
    xent = y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)
    residual = stable_sigmoid(z) - y
    gw = x.T @ residual / len(y) + 0.02 * w
    gb = residual.mean()
    return z > 0, xent, w - 0.1 * gw, b - 0.1 * gb


def test_theano_tutorial_logistic_regression(mode: str) -> None:
    rng = np.random.default_rng(1234)
    n, feats = 400, 784
    data = (rng.standard_normal((n, feats)), rng.integers(0, 2, n).astype(np.float64))
    x, y = T.dmatrix("x"), T.dvector("y")
    w = tensorc.shared(rng.standard_normal(feats), name="w")
    b = tensorc.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))  # probability that target = 1
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)  # cross-entropy loss
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = tensorc.function([x, y], [prediction, xent],
                             updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)), mode=mode)
    twin_w, twin_b = w.get_value(), 0.0
    for _ in range(STEPS):
        got_prediction, got_xent = train(*data)
        want_prediction, want_xent, twin_w, twin_b = _logistic_twin_step(
            data, twin_w, twin_b)
        np.testing.assert_array_equal(got_prediction, want_prediction)
        assert np.isfinite(got_xent).all()
        assert_close(got_xent, want_xent)
        assert_close(w.get_value(), twin_w)
        assert_close(b.get_value(), twin_b)


def _mlp_twin_step(x: np.ndarray, labels: np.ndarray, params: list[np.ndarray],
                   rate: float) -> tuple[float, list[np.ndarray]]:
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    cost = -np.mean(np.log(p)[rows, labels]) + 1e-3 * ((w1**2).sum() + (w2**2).sum())
    d_logits = p.copy()
    d_logits[rows, labels] -= 1
    d_logits /= len(labels)
    d_pre = d_logits @ w2.T * (1 - h * h)
    grads = [x.T @ d_pre + 2e-3 * w1, d_pre.sum(axis=0),
             h.T @ d_logits + 2e-3 * w2, d_logits.sum(axis=0)]
    return cost, [p_ - rate * g for p_, g in zip(params, grads)]


def test_two_layer_mlp_with_sgd(mode: str) -> None:
    rng = np.random.default_rng(7)
    n, n_in, n_hidden, n_out = 64, 10, 16, 3
    data = rng.standard_normal((n, n_in))
    labels = rng.integers(0, n_out, n)
    initial = [rng.uniform(-0.5, 0.5, (n_in, n_hidden)), np.zeros(n_hidden),
               rng.uniform(-0.5, 0.5, (n_hidden, n_out)), np.zeros(n_out)]
    names = ["w1", "b1", "w2", "b2"]
    params = [tensorc.shared(v, name=n) for v, n in zip(initial, names, strict=True)]
    w1, b1, w2, b2 = params
    x, y = T.dmatrix("x"), T.lvector("y")
    hidden = T.tanh(T.dot(x, w1) + b1)
    p_y_given_x = T.nnet.softmax(T.dot(hidden, w2) + b2)
    nll = -T.mean(T.log(p_y_given_x)[T.arange(y.shape[0]), y])
    cost = nll + 1e-3 * ((w1 ** 2).sum() + (w2 ** 2).sum())
    rate = 0.5
    grads = T.grad(cost, params)
    train = tensorc.function([x, y], cost, mode=mode,
                             updates=[(p, p - rate * g) for p, g in zip(params, grads)])
    twin = [v.copy() for v in initial]
    first_cost = None
    for _ in range(STEPS):
        got = train(data, labels)
        want, twin = _mlp_twin_step(data, labels, twin, rate)
        assert_close(got, want)
        first_cost = want if first_cost is None else first_cost
        for p, t in zip(params, twin):
            assert_close(p.get_value(), t)
    assert want < 0.9 * first_cost  # it learns
