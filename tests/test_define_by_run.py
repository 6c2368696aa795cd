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
