"""Define-by-run API (Chainer style): eager Variables, backward() through compiled
code cached by graph structure, tensorc.functions, optimizers, gradient_check,
float16 end to end, and agreement with the symbolic API."""

import numpy as np
import pytest

import tensorc
import tensorc.functions as F
import tensorc.tensor as T
from tensorc import gradient_check, optimizers
from tensorc.config import config
from tensorc.define_by_run import BACKWARD_CACHE
from tensorc.errors import DTypeError, ShapeError

RNG = np.random.default_rng(0)


@pytest.fixture
def reference(monkeypatch):
    """Compile backward graphs for the reference interpreter (no C compiler run):
    keeps the per-function gradient checks fast."""
    monkeypatch.setattr(config, "mode", "REFERENCE")


def compilations() -> int:
    return BACKWARD_CACHE.compilations


# -- the Chainer blog example and basics ----------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_chainer_blog_example(dtype):
    x = tensorc.Variable(np.array([5.0], dtype=dtype))
    y = x**2 - 2 * x + 1
    assert y.data.dtype == dtype and y.data.tolist() == [16.0]
    y.backward()
    assert x.grad.dtype == dtype and x.grad.tolist() == [8.0]
    assert y.grad.tolist() == [1.0]


def test_sum_of_sin_has_gradient_cos():
    data = RNG.uniform(-3, 3, size=(3, 4))
    x = tensorc.Variable(data)
    F.sum(F.sin(x)).backward()
    np.testing.assert_allclose(x.grad, np.cos(data), rtol=1e-12)


def test_gradients_accumulate_until_cleargrad(reference):
    x = tensorc.Variable(np.array([1.0, 2.0]))
    F.sum(x * x).backward()
    F.sum(3 * x).backward()
    np.testing.assert_array_equal(x.grad, [2 + 3, 4 + 3])
    x.cleargrad()
    assert x.grad is None
    F.sum(x * x).backward()
    np.testing.assert_array_equal(x.grad, [2, 4])


def test_non_scalar_output_is_seeded_by_its_grad(reference):
    x = tensorc.Variable(np.array([1.0, 2.0, 3.0]))
    y = x * x
    with pytest.raises(ShapeError, match="needs its .grad set first"):
        y.backward()
    y.grad = np.array([1.0, 10.0, 100.0])
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 40.0, 600.0])
    with pytest.raises(ShapeError, match="shape"):
        y.grad = np.ones(2)
    with pytest.raises(DTypeError, match="dtype"):
        y.grad = np.ones(3, dtype=np.float32)


def test_python_numbers_lists_and_numpy_operands():
    x = tensorc.Variable([1.0, 2.0])
    assert x.dtype == np.float64 and x.shape == (2,) and len(x) == 2
    y = np.array([10.0, 20.0]) + x  # numpy defers to Variable.__radd__
    assert isinstance(y, tensorc.Variable)
    np.testing.assert_array_equal(y.data, [11.0, 22.0])
    z = (x * np.ones((3, 1))).sum()  # numpy broadcasting of a (3, 1) array
    assert z.data == 9.0
    assert tensorc.Variable(np.arange(3)).dtype == np.int64
    assert repr(tensorc.Variable(np.array([16.0]))) == "variable([16.])"


def test_comparisons_are_values_without_gradients(reference):
    x = tensorc.Variable(np.array([1.0, 5.0]))
    mask = x > 2
    assert mask.dtype == np.bool_ and mask.data.tolist() == [False, True]
    assert (x == 5.0).data.tolist() == [False, True]
    with pytest.raises(DTypeError, match="floating-point output"):
        mask.backward()
    masked = F.sum(x * mask)  # the bool factor is a constant of the gradient
    masked.backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0])


def test_integer_and_non_grad_leaves_get_no_gradient(reference):
    x = tensorc.Variable(np.array([1.0, 2.0]))
    c = tensorc.Variable(np.array([3.0, 4.0]), requires_grad=False)
    k = tensorc.Variable(np.array([2, 3]))
    F.sum(x * c * k).backward()
    np.testing.assert_array_equal(x.grad, [6.0, 12.0])
    assert c.grad is None and k.grad is None


def test_recorded_graph_keeps_the_arrays_it_used(reference):
    x = tensorc.Variable(np.array([2.0]))
    y = x * x
    x.data = np.array([100.0])  # a new leaf array: y's history still has [2.]
    y.backward()
    assert x.grad.tolist() == [4.0]
    assert (x * x).data.tolist() == [10000.0]


def test_backward_of_a_leaf_sets_its_grad():
    x = tensorc.Variable(np.array([3.0]))
    x.backward()
    assert x.grad.tolist() == [1.0]


# -- errors -------------------------------------------------------------------------


def test_errors_are_clear():
    x = tensorc.Variable(np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"test_define_by_run.py:\d+"):
        x + tensorc.Variable(np.ones((4, 3, 5)))  # the error names this line
    with pytest.raises(TypeError, match="symbolic variable"):
        x + T.dmatrix("m")
    with pytest.raises(TypeError, match="not a Variable"):
        tensorc.Variable(x)
    with pytest.raises(DTypeError):
        tensorc.Variable(["a", "b"])
    with pytest.raises(TypeError, match="computed Variable"):
        (x * 2).data = np.zeros((2, 3))
    with pytest.raises(ShapeError, match="tc.add"):  # the interpreter checks dims
        x + tensorc.Variable(np.ones((4, 3)))
    with pytest.raises(TypeError, match="integer labels"):
        F.softmax_cross_entropy(x, np.array([0.5, 1.0]))


# -- compile cache -------------------------------------------------------------------


def test_backward_compiles_once_per_graph_structure():
    W = tensorc.Variable(RNG.normal(size=(3, 2)))

    def loss(x):
        return F.sum(F.tanh(F.matmul(x, W)))

    before = compilations()
    for batch in (4, 4, 7, 1 + 4):  # values and batch sizes change, structure not
        W.cleargrad()
        x = RNG.normal(size=(batch, 3))
        loss(x).backward()
        expected = x.T @ (1 - np.tanh(x @ W.data) ** 2)
        np.testing.assert_allclose(W.grad, expected, rtol=1e-12)
    assert compilations() - before == 1
    loss(RNG.normal(size=(1, 3))).backward()  # a static 1 dim: another signature
    F.sum(F.sin(F.matmul(RNG.normal(size=(4, 3)), W))).backward()  # another op
    F.sum(F.tanh(F.matmul(RNG.normal(size=(4, 3)), W)) * 2).backward()  # a constant
    assert compilations() - before == 4


# -- every function against central differences ------------------------------------


def _uniform(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


def _away_from_zero(*shape):
    return RNG.choice([-1.0, 1.0], size=shape) * RNG.uniform(0.3, 2.0, size=shape)


LABELS = np.array([2, 0, -1, 3])
CASES = {
    "sin": (F.sin, [_uniform(2, 3)]),
    "cos": (F.cos, [_uniform(2, 3)]),
    "exp": (F.exp, [_uniform(2, 3)]),
    "log": (F.log, [_uniform(2, 3, low=0.5)]),
    "sqrt": (F.sqrt, [_uniform(2, 3, low=0.5)]),
    "square": (F.square, [_uniform(2, 3)]),
    "absolute": (F.absolute, [_away_from_zero(2, 3)]),
    "tanh": (F.tanh, [_uniform(2, 3)]),
    "sigmoid": (F.sigmoid, [_uniform(2, 3)]),
    "softplus": (F.softplus, [_uniform(2, 3)]),
    "relu": (F.relu, [_away_from_zero(2, 3)]),
    "leaky_relu": (F.leaky_relu, [_away_from_zero(2, 3)]),
    "sum": (F.sum, [_uniform(2, 3)]),
    "sum_axis": (lambda x: F.sum(x, axis=1, keepdims=True), [_uniform(2, 3)]),
    "mean": (lambda x: F.mean(x, axis=0), [_uniform(2, 3)]),
    "logsumexp": (lambda x: F.logsumexp(x, axis=1), [_uniform(2, 3)]),
    "matmul": (F.matmul, [_uniform(2, 3), _uniform(3, 4)]),
    "matmul_trans": (lambda a, b: F.matmul(a, b, transa=True, transb=True),
                     [_uniform(3, 2), _uniform(4, 3)]),
    "matmul_vector": (F.matmul, [_uniform(2, 3), _uniform(3)]),
    "linear": (F.linear, [_uniform(4, 3), _uniform(5, 3), _uniform(5)]),
    "linear_no_bias": (F.linear, [_uniform(4, 3), _uniform(5, 3)]),
    "linear_3d": (lambda x, w, b: F.linear(x, w, b, n_batch_axes=2),
                  [_uniform(2, 3, 4), _uniform(5, 4), _uniform(5)]),
    "reshape": (lambda x: F.reshape(x, (3, 2)), [_uniform(2, 3)]),
    "transpose": (lambda x: F.transpose(x, (1, 2, 0)), [_uniform(2, 3, 4)]),
    "broadcast_to": (lambda x: F.broadcast_to(x, (2, 3)), [_uniform(1, 3)]),
    "softmax": (F.softmax, [_uniform(3, 4)]),
    "log_softmax": (F.log_softmax, [_uniform(3, 4)]),
    "softmax_cross_entropy": (F.softmax_cross_entropy, [_uniform(4, 5), LABELS]),
    "softmax_cross_entropy_no_reduce": (
        lambda x, t: F.softmax_cross_entropy(x, t, reduce="no"),
        [_uniform(4, 5), LABELS]),
    "mean_squared_error": (F.mean_squared_error, [_uniform(2, 3), _uniform(2, 3)]),
    "operators": (lambda x, y: (x**2 - 2 * x + 1) / y - abs(y) ** x + x @ y.T @ x,
                  [_uniform(2, 3), _uniform(2, 3, low=0.5)]),
    "getitem": (lambda x: x[1:, ::2] * x[0, 1] + x[np.array([1, 0, 1]), :2],
                [_uniform(2, 3)]),
}


def _seed_like(output):
    if output.size == 1:
        return None
    return RNG.uniform(0.5, 1.5, size=output.shape).astype(output.dtype)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_backward_of_every_function(name, reference):
    func, inputs = CASES[name]
    y_grad = _seed_like(func(*[tensorc.Variable(x) for x in inputs]))
    gradient_check.check_backward(func, inputs, y_grad, atol=1e-7, rtol=1e-6, eps=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_backward_of_every_function_in_float16(name, reference):
    """float16 values and gradients, checked against float64 differences taken at
    the same (float16) points."""
    func, inputs = CASES[name]
    inputs = [x.astype(np.float16) if x.dtype.kind == "f" else x for x in inputs]
    y_grad = _seed_like(func(*[tensorc.Variable(x) for x in inputs]))
    gradient_check.check_backward(func, inputs, y_grad, atol=3e-2, rtol=3e-2,
                                  eps=1e-4, dtype=np.float64)


def test_every_function_is_checked():
    # F.CHAINER_FUNCTIONS are checked in tests/test_chainer_compat.py.
    assert set(F.__all__) - set(F.CHAINER_FUNCTIONS) <= set(CASES)


def test_check_backward_reports_wrong_gradients(reference):
    def stopped(x):  # a gradient of zero where the value depends on x
        return tensorc.Variable(x.data * 2, requires_grad=False) + x * 0

    with pytest.raises(AssertionError, match="disagree for input #0"):
        gradient_check.check_backward(stopped, [np.ones(3)], np.ones(3))


def test_check_backward_with_params_and_float16(reference):
    W = tensorc.Variable(_uniform(3, 2).astype(np.float16), name="W")
    x = _uniform(4, 3).astype(np.float16)
    gradient_check.check_backward(lambda x: F.tanh(F.matmul(x, W)), [x],
                                  np.ones((4, 2), np.float16), params=[W], eps=1e-2,
                                  atol=2e-2, rtol=2e-2, dtype=np.float64)


# -- training -------------------------------------------------------------------------


def _blobs(n=60, dtype=np.float64):
    """Three separable 2-D clusters and their integer labels."""
    centers = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    labels = np.arange(n) % 3
    points = centers[labels] + RNG.normal(scale=0.5, size=(n, 2))
    return points.astype(dtype), labels.astype(np.int32)


def _mlp(dtype=np.float64):
    params = [RNG.normal(scale=0.5, size=(8, 2)), np.zeros(8),
              RNG.normal(scale=0.5, size=(3, 8)), np.zeros(3)]
    return [tensorc.Variable(p.astype(dtype), name=n)
            for p, n in zip(params, ["W1", "b1", "W2", "b2"])]


def _mlp_loss(params, x, t):
    W1, b1, W2, b2 = params
    return F.softmax_cross_entropy(F.linear(F.relu(F.linear(x, W1, b1)), W2, b2), t)


def _train(optimizer, params, x, t, steps):
    optimizer.setup(params)
    return [float(optimizer.update(_mlp_loss, params, x, t).data) for _ in range(steps)]


def test_mlp_trains_with_sgd_and_adam_compiling_once():
    x, t = _blobs()
    before = compilations()
    for optimizer in (optimizers.SGD(lr=0.3), optimizers.MomentumSGD(lr=0.1),
                      optimizers.Adam(alpha=0.05)):
        losses = _train(optimizer, _mlp(), x, t, 25)
        assert losses[-1] < 0.3 * losses[0], (type(optimizer).__name__, losses)
    assert compilations() - before == 1  # 75 backward() calls, one structure


def test_mlp_trains_in_float16():
    x, t = _blobs(dtype=np.float16)
    params = _mlp(np.float16)
    losses = _train(optimizers.Adam(alpha=0.05), params, x, t, 25)
    assert losses[-1] < 0.3 * losses[0]
    assert all(p.data.dtype == np.float16 and p.grad.dtype == np.float16
               for p in params)


def test_float16_steps_smaller_than_its_spacing_are_kept():
    w = tensorc.Variable(np.ones(2, np.float16))
    optimizer = optimizers.SGD(lr=1e-4).setup([w])
    for _ in range(10):
        w.grad = np.ones(2, np.float16)
        optimizer.update()
    # 1 - 1e-4 rounds back to 1 in float16; the float32 master copy accumulates.
    assert w.data.dtype == np.float16 and np.all(w.data == np.float16(0.999))


def test_optimizer_rejects_non_parameters():
    with pytest.raises(TypeError, match="leaf Variables"):
        optimizers.SGD().setup([tensorc.Variable([1.0]) * 2])


# -- float16 --------------------------------------------------------------------------


def test_float16_reductions_accumulate_in_float32(reference):
    ones = tensorc.Variable(np.ones(3000, np.float16))
    total = F.sum(ones)
    assert total.dtype == np.float16 and total.data == 3000
    assert total.node.inputs[0].op == "sum" and total.node.inputs[0].dtype == "float32"
    big = tensorc.Variable(np.full(4, 60000, np.float16))
    assert F.mean(big).data == 60000  # a float16 sum would overflow to inf
    F.mean(big).backward()
    assert big.grad.dtype == np.float16 and np.all(big.grad == np.float16(0.25))
    scores = tensorc.Variable(np.array([[300.0, 0.0], [0.0, 300.0]], np.float16))
    loss = F.softmax_cross_entropy(scores, np.array([1, 1]))
    assert loss.dtype == np.float16 and loss.data == 150
    loss.backward()
    np.testing.assert_array_equal(scores.grad, [[0.5, -0.5], [0, 0]])


# -- the symbolic API gives the same gradients ----------------------------------------


def test_symbolic_and_eager_gradients_agree():
    x, t = _blobs(12)
    params = _mlp()
    _mlp_loss(params, x, t).backward()

    sx, st = T.dmatrix("x"), T.ivector("t")
    W1, W2 = T.dmatrix("W1"), T.dmatrix("W2")
    b1, b2 = T.dvector("b1"), T.dvector("b2")
    hidden = T.nnet.relu(T.dot(sx, W1.T) + b1)
    probs = T.nnet.softmax(T.dot(hidden, W2.T) + b2)
    cost = T.nnet.categorical_crossentropy(probs, st).mean()
    symbolic = tensorc.function([sx, st, W1, b1, W2, b2],
                                T.grad(cost, [W1, b1, W2, b2]), mode="REFERENCE")
    for eager, want in zip(params, symbolic(x, t, *[p.data for p in params])):
        np.testing.assert_allclose(eager.grad, want, rtol=1e-10, atol=1e-12)


def test_backward_cache_keeps_the_most_recently_used(reference, monkeypatch):
    monkeypatch.setattr(BACKWARD_CACHE, "capacity", 2)
    x = tensorc.Variable(np.array([0.5, 1.0]))
    graphs = [F.sin, F.cos, F.exp]
    before = compilations()
    for build in graphs + graphs[-2:]:  # sin, cos, exp (evicts sin), cos, exp
        F.sum(build(x)).backward()
    assert compilations() - before == 3
    F.sum(F.sin(x)).backward()
    assert compilations() - before == 4
    assert len(BACKWARD_CACHE.functions) <= 2
