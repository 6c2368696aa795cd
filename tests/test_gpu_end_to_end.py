"""The graphs of the CPU end-to-end suite (the Theano tutorial basics,
elementwise math, reductions over each axis, softmax, dot, indexing and shape
ops, gradient descent, logistic regression and MLP training steps with updates)
on device='cuda-emu': the generated CUDA runs in the emulator, in forward and in
reverse thread order, and must match the reference interpreter. Shapes are small
(the emulator runs every CUDA thread as a coroutine)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tensorc
import tensorc.tensor as T
from tensorc.errors import ShapeError

ORDERS = ("forward", "reverse")

Program = tuple[list[Any], Any, dict[str, Any], list[tuple[Any, ...]], list[Any]]
"""(inputs, outputs, function keywords, the calls' arguments, shared variables to
compare after each call)."""

CASES: dict[str, Callable[[], Program]] = {}


def case(build: Callable[[], Program]) -> Callable[[], Program]:
    CASES[build.__name__] = build
    return build


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# region the Theano tutorial basics


@case
def square() -> Program:
    x, v, m = T.dscalar("x"), T.dvector("v"), T.dmatrix("m")
    calls = [(4.0, [1.0, 2.0, 3.0], [[1.0, 2.0], [3.0, 4.0]])]
    return [x, v, m], [x**2, v**2, m**2], {}, calls, []


@case
def logistic() -> Program:
    x = T.dmatrix("x")
    outputs = [1 / (1 + T.exp(-x)), (1 + T.tanh(x / 2)) / 2]
    return [x], outputs, {}, [([[0, 1], [-1, -2]],)], []


@case
def multiple_outputs_and_defaults() -> Program:
    a, b = T.dmatrices("a", "b")
    s, w = T.dscalars("s", "w")
    diff = a - b
    inputs = [a, b, s, tensorc.In(w, value=2.0, name="w")]
    outputs = [diff, abs(diff), diff**2, (s + 1) * w]
    calls = [([[1, 1], [1, 1]], [[0, 1], [2, 3]], 3.0), ([[2.0]], [[5.0]], 1.0, 0.5)]
    return inputs, outputs, {}, calls, []


@case
def accumulator() -> Program:
    state = tensorc.shared(0, name="state")
    inc = T.iscalar("inc")
    kw = {"updates": [(state, state + inc)]}
    return [inc], [state, state * 2 + inc], kw, [(1,), (300,), (-7,)], [state]


@case
def givens_skip_shared() -> Program:
    state = tensorc.shared(0, name="state")
    inc = T.iscalar("inc")
    foo = T.scalar(dtype=state.dtype)
    kw = {"givens": [(state, foo)]}
    return [inc, foo], state * 2 + inc, kw, [(1, 3), (2, -5)], [state]


@case
def shared_weights_dot() -> Program:
    r = rng(1)
    w = tensorc.shared(r.standard_normal((3, 4)), name="W")
    b = tensorc.shared(r.standard_normal(3), name="b")
    x, y = T.dvector("x"), T.dmatrix("y")
    outputs = [T.dot(w, x) + b, T.dot(y, w.T) + b]
    return [x, y], outputs, {}, [(r.standard_normal(4), r.standard_normal((5, 4)))], []


# endregion
# region elementwise


@case
def float_math() -> Program:
    x, y = T.dmatrices("x", "y")
    outputs = [
        T.exp(x),
        T.log(abs(x) + 1),
        T.sqrt(abs(x)),
        T.tanh(x),
        T.sin(x) * T.cos(y),
        T.nnet.sigmoid(x * 300),
        T.nnet.softplus(x * 300),
        x**3,
        x / (y + 3),
        T.maximum(x, y),
        T.minimum(x, y),
        T.switch(x > y, x, y * 2),
        T.clip(x, -0.5, 0.5),
        T.floor(x * 3),
        T.round(x * 3),
        T.sgn(x),
        x // 0.3,
        x % 0.3,
    ]
    r = rng(2)
    return (
        [x, y],
        outputs,
        {},
        [(r.standard_normal((3, 5)), r.standard_normal((3, 5)))],
        [],
    )


@case
def float32_broadcasting() -> Program:
    m, row, col = T.fmatrix("m"), T.fvector("row"), T.fcol("col")
    outputs = [m + row, m * col, (m - row) / (col + 4), T.exp(m) + 1, m > row]
    r = rng(3)
    values = (
        r.standard_normal((4, 70)),
        r.standard_normal(70),
        r.standard_normal((4, 1)),
    )
    return [m, row, col], outputs, {}, [tuple(v.astype(np.float32) for v in values)], []


@case
def integers() -> Program:
    i, j = T.lvectors("i", "j")
    k = T.ivector("k")
    outputs = [
        i + j * 3,
        i // j,
        i % j,
        -i,
        abs(i),
        T.maximum(i, j),
        i > j,
        k * 2,
        (k + 1).astype("float64"),
        T.eq(i, j),
    ]
    calls = [([7, -7, 5, 0, 9], [2, 2, 0, -3, 9], np.array([1, -2, 3, 4, 5], np.int32))]
    return [i, j, k], outputs, {}, calls, []


@case
def nan_and_infinities() -> Program:
    x = T.dvector("x")
    outputs = [T.maximum(x, 0), x.max(), x.min(), T.exp(x), T.log(x), x * 0]
    return [x], outputs, {}, [([1.0, np.nan, -np.inf, np.inf, 0.0, -2.0],)], []


# endregion
# region reductions


@case
def reductions_3d() -> Program:
    x = T.dtensor3("x")
    outputs = [
        x.sum(),
        x.sum(axis=0),
        x.sum(axis=1),
        x.sum(axis=2),
        x.mean(axis=(0, 2)),
        x.max(axis=-1, keepdims=True),
        x.min(axis=0),
        x.prod(axis=2),
        x.argmax(axis=1),
        x.argmin(axis=2),
        x.var(axis=1),
        x.std(),
    ]
    return [x], outputs, {}, [(rng(4).standard_normal((3, 4, 5)),)], []


@case
def reductions_long_rows() -> Program:
    x = T.dmatrix("x")
    f = T.fmatrix("f")
    i = T.lmatrix("i")
    outputs = [
        x.sum(axis=1),
        x.sum(axis=0),
        x.max(),
        x.argmax(),
        f.sum(axis=1),
        f.mean(),
        i.sum(axis=0),
        i.max(axis=1),
    ]
    r = rng(5)
    calls = [
        (
            r.standard_normal((3, 1000)),
            r.standard_normal((5, 700)).astype(np.float32),
            r.integers(-100, 100, (300, 3)),
        )
    ]
    return [x, f, i], outputs, {}, calls, []


@case
def empty_tensors() -> Program:
    x = T.dmatrix("x")
    outputs = [x + 1, x.sum(axis=0), x.sum(axis=1), x.sum(), x.prod()]
    return [x], outputs, {}, [(np.zeros((0, 3)),), (np.zeros((2, 0)),)], []


# endregion
# region softmax, dot, indexing and shapes


@case
def softmax_and_nll() -> Program:
    x, y = T.dmatrix("x"), T.lvector("y")
    p = T.nnet.softmax(x)
    nll = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    calls = [
        (rng(6).standard_normal((4, 3)) * 300, [0, 2, 1, 1]),
        (rng(7).standard_normal((5, 300)), [0, 299, 1, 5, 7]),
    ]
    return [x, y], [p, nll], {}, calls, []


@case
def dot_products() -> Program:
    a, b = T.dmatrices("a", "b")
    v = T.dvector("v")
    fa, fb = T.fmatrices("fa", "fb")
    outputs = [
        T.dot(a, b),
        T.dot(a.T, a),
        T.dot(a, v),
        T.dot(v, b),
        T.dot(v, v),
        T.dot(fa, fb.T),
    ]
    r = rng(8)
    calls = [
        (
            r.standard_normal((5, 37)),
            r.standard_normal((37, 6)),
            r.standard_normal(37),
            r.standard_normal((19, 33)).astype(np.float32),
            r.standard_normal((21, 33)).astype(np.float32),
        )
    ]
    return [a, b, v, fa, fb], outputs, {"on_unused_input": "ignore"}, calls, []


@case
def indexing() -> Program:
    x, i, labels = T.dmatrix("x"), T.lscalar("i"), T.lvector("labels")
    outputs = [
        x[1],
        x[-1],
        x[:, 2],
        x[1:4, ::-2],
        x[::-1],
        x[i],
        x[i:],
        x[:, [0, 3]],
        x[T.arange(5), labels],
        x[labels],
    ]
    calls = [(rng(9).standard_normal((5, 4)), -2, [0, 1, 2, 3, 0])]
    return [x, i, labels], outputs, {"on_unused_input": "ignore"}, calls, []


@case
def shape_ops() -> Program:
    x = T.dtensor3("x")
    outputs = [
        x.reshape((6, 4)),
        x.reshape((x.shape[0], -1)),
        x.transpose(2, 0, 1),
        x.flatten(2),
        T.concatenate([x, x * 2], axis=1),
        T.stack([x[0], x[1]]),
        T.zeros_like(x),
        T.ones((2, x.shape[1])),
        T.arange(x.shape[2]),
        T.set_subtensor(x[:, 1], 0.0),
        T.inc_subtensor(x[0, :, ::2], 10.0),
    ]
    return [x], outputs, {}, [(np.arange(24.0).reshape(2, 3, 4),)], []


# endregion
# region training steps with gradients and updates


@case
def gradient_descent_to_the_mean() -> Program:
    c = T.dvector("c")
    x = tensorc.shared(0.0, name="x")
    cost = T.sum((x - c) ** 2)
    kw = {"updates": [(x, x - 0.004 * T.grad(cost, x))]}
    data = rng(10).normal(3.0, 2.0, 50)
    return [c], cost, kw, [(data,)] * 4, [x]


@case
def logistic_regression() -> Program:
    r = rng(11)
    n, feats = 40, 16
    data = (r.standard_normal((n, feats)), r.integers(0, 2, n).astype(np.float64))
    x, y = T.dmatrix("x"), T.dvector("y")
    w = tensorc.shared(r.standard_normal(feats), name="w")
    b = tensorc.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w**2).sum()
    gw, gb = T.grad(cost, [w, b])
    kw = {"updates": ((w, w - 0.1 * gw), (b, b - 0.1 * gb))}
    return [x, y], [p_1 > 0.5, xent], kw, [data] * 3, [w, b]


@case
def mlp_float32() -> Program:
    r = rng(12)
    n, n_in, n_hidden, n_out = 24, 10, 16, 3
    floats = lambda a: np.asarray(a, np.float32)
    params = [
        tensorc.shared(floats(r.uniform(-0.5, 0.5, (n_in, n_hidden))), name="w1"),
        tensorc.shared(floats(np.zeros(n_hidden)), name="b1"),
        tensorc.shared(floats(r.uniform(-0.5, 0.5, (n_hidden, n_out))), name="w2"),
        tensorc.shared(floats(np.zeros(n_out)), name="b2"),
    ]
    w1, b1, w2, b2 = params
    x, y = T.fmatrix("x"), T.lvector("y")
    hidden = T.tanh(T.dot(x, w1) + b1)
    p_y = T.nnet.softmax(T.dot(hidden, w2) + b2)
    nll = -T.mean(T.log(p_y)[T.arange(y.shape[0]), y])
    cost = nll + np.float32(1e-3) * ((w1**2).sum() + (w2**2).sum())
    grads = T.grad(cost, params)
    kw = {"updates": [(p, p - np.float32(0.5) * g) for p, g in zip(params, grads)]}
    data = (floats(r.standard_normal((n, n_in))), r.integers(0, n_out, n))
    return [x, y], cost, kw, [data] * 3, params


# endregion


def _compile(build: Callable[[], Program], **options: Any) -> Callable[[], Any]:
    """Compile the program once; the result runs its calls from the initial
    shared values each time: [(outputs, shared values)...] per call."""
    inputs, outputs, keywords, calls, shared = build()
    f = tensorc.function(inputs, outputs, **keywords, **options)
    initial = [s.get_value() for s in shared]

    def run() -> tuple[Any, list[Any]]:
        for variable, value in zip(shared, initial):
            variable.set_value(value)
        history = [(f(*args), [s.get_value() for s in shared]) for args in calls]
        return f, history

    return run


def _assert_close(got: Any, want: Any) -> None:
    want = np.asarray(want)
    got = np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape
    if want.dtype.kind == "f":
        rtol, atol = (1e-10, 1e-12) if want.dtype == np.float64 else (2e-5, 1e-6)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_the_reference_in_both_thread_orders(name, monkeypatch):
    _, want = _compile(CASES[name], mode="REFERENCE")()
    run = _compile(CASES[name], device="cuda-emu")
    for order in ORDERS:
        monkeypatch.setenv("TENSORC_CUDA_EMU_ORDER", order)
        f, got = run()
        for (outputs, shared), (want_outputs, want_shared) in zip(
            got, want, strict=True
        ):
            if isinstance(want_outputs, list):
                assert isinstance(outputs, list) and len(outputs) == len(want_outputs)
            else:
                outputs, want_outputs = [outputs], [want_outputs]
            for g, w in zip([*outputs, *shared], [*want_outputs, *want_shared]):
                _assert_close(g, w)
    assert "__global__" in f.source and f.maker.device == "cuda-emu"


def test_run_time_shape_errors_match_the_cpu():
    x, y = T.dvector("x"), T.dvector("y")
    messages = []
    for device in ("cpu", "cuda-emu"):
        f = tensorc.function([x, y], x + y, device=device)
        with pytest.raises(ShapeError) as caught:
            f(np.ones(3), np.ones(4))
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


PROGRAM = """
import numpy as np
import tensorc as theano
import tensorc.tensor as T

rng = np.random.default_rng(0)
x, y = T.dmatrix("x"), T.dvector("y")
w = theano.shared(rng.standard_normal(5), name="w")
b = theano.shared(0.0, name="b")
p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
cost = xent.mean() + 0.01 * (w ** 2).sum()
gw, gb = T.grad(cost, [w, b])
train = theano.function([x, y], [p_1 > 0.5, xent],
                        updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
data = rng.standard_normal((20, 5)), rng.integers(0, 2, 20).astype(float)
for step in range(3):
    prediction, loss = train(*data)
    print(step, prediction.sum(), f"{loss.mean():.8f}")
print(np.array2string(w.get_value(), precision=8), f"{b.get_value():.8f}")
print(train.maker.device)
"""


def test_theano_programs_run_unchanged_with_tensorc_flags(tmp_path):
    """`TENSORC_FLAGS=device=cuda-emu` moves an unchanged program to the GPU path;
    it prints the same numbers as on the CPU."""
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent(PROGRAM))
    printed = {}
    for device in ("cpu", "cuda-emu"):
        env = {**os.environ, "TENSORC_FLAGS": f"device={device}"}
        result = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        printed[device] = result.stdout.splitlines()
    assert printed["cpu"][-1] == "cpu" and printed["cuda-emu"][-1] == "cuda-emu"
    assert printed["cpu"][:-1] == printed["cuda-emu"][:-1]
