"""The Theano tutorial basics, with only the import line changed, print what Theano
prints (on the C backend and on the reference interpreter)."""

import numpy as np
import pytest

import tensorc as theano
import tensorc.tensor as T
from tensorc import function, shared


def test_square_scalar_vector_matrix(mode):
    for make, value, want in [
        (T.dscalar, 4.0, 16.0),
        (T.dvector, [1.0, 2.0, 3.0], [1.0, 4.0, 9.0]),
        (T.dmatrix, [[1.0, 2.0], [3.0, 4.0]], [[1.0, 4.0], [9.0, 16.0]]),
    ]:
        x = make("x")
        f = function([x], x**2, mode=mode)
        out = f(value)
        assert isinstance(out, np.ndarray) and out.dtype == np.float64
        np.testing.assert_array_equal(out, want)


def test_add_two_scalars(mode):
    x, y = T.dscalars("x", "y")
    f = function([x, y], x + y, mode=mode)
    assert f(2, 3) == 5.0
    assert np.allclose(f(16.3, 12.1), 28.4)


def test_logistic(mode):
    x = T.dmatrix("x")
    s = 1 / (1 + T.exp(-x))
    logistic = function([x], s, mode=mode)
    got = logistic([[0, 1], [-1, -2]])
    want = 1 / (1 + np.exp(-np.array([[0, 1], [-1, -2]], dtype=float)))
    np.testing.assert_allclose(got, want, rtol=1e-15)
    s2 = (1 + T.tanh(x / 2)) / 2
    np.testing.assert_allclose(function([x], s2, mode=mode)([[0, 1], [-1, -2]]), want, rtol=1e-14)


def test_multiple_outputs(mode):
    a, b = T.dmatrices("a", "b")
    diff = a - b
    f = function([a, b], [diff, abs(diff), diff**2], mode=mode)
    d, ad, d2 = f([[1, 1], [1, 1]], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(d, [[1.0, 0.0], [-1.0, -2.0]])
    np.testing.assert_array_equal(ad, [[1.0, 0.0], [1.0, 2.0]])
    np.testing.assert_array_equal(d2, [[1.0, 0.0], [1.0, 4.0]])


def test_default_value_with_in(mode):
    x, y = T.dscalars("x", "y")
    f = function([x, theano.In(y, value=1)], x + y, mode=mode)
    assert f(33) == 34.0
    assert f(33, 2) == 35.0
    w = T.dscalar("w")
    g = function([x, theano.In(y, value=1), theano.In(w, value=2, name="w_by_name")],
                 (x + y) * w, mode=mode)
    assert g(33) == 68.0
    assert g(33, w_by_name=1) == 34.0


def test_accumulator_with_updates(mode):
    state = shared(0)
    inc = T.iscalar("inc")
    accumulator = function([inc], state, updates=[(state, state + inc)], mode=mode)
    assert state.get_value() == 0
    assert accumulator(1) == 0
    assert state.get_value() == 1
    accumulator(300)
    assert state.get_value() == 301
    state.set_value(-1)
    accumulator(3)
    assert state.get_value() == 2
    decrementor = function([inc], state, updates=[(state, state - inc)], mode=mode)
    decrementor(2)
    assert state.get_value() == 0


def test_givens_skip_shared(mode):
    state = shared(0)
    inc = T.iscalar("inc")
    fn_of_state = state * 2 + inc
    foo = T.scalar(dtype=state.dtype)
    skip_shared = function([inc, foo], fn_of_state, givens=[(state, foo)], mode=mode)
    assert skip_shared(1, 3) == 7
    assert state.get_value() == 0


def test_givens_constants(mode):
    x, y = T.dscalars("x", "y")
    c = T.dscalar("c")
    f = function([c], x * y, givens=[(x, c * 10), (y, 5)], mode=mode)
    assert f(0.9) == pytest.approx(45.0)


def test_counter_prints_0_1_2(mode, capsys):
    c = shared(0)
    f = function([], c, updates={c: c + 1}, mode=mode)
    for _ in range(3):
        print(f())
    assert capsys.readouterr().out.split() == ["0", "1", "2"]


def test_lscalar_doubling(mode):
    z = T.lscalar("z")
    f = function([z], z * 2, mode=mode)
    out = f(21)
    assert out == 42 and out.dtype == np.int64


def test_shared_b_times_x_before_and_after_set_value(mode):
    b = shared(np.array([1, 2, 3]), name="b")
    x = T.lvector("x")
    f = function([x], b * x, mode=mode)
    np.testing.assert_array_equal(f([1, 1, 1]), [1, 2, 3])
    b.set_value([10, 11, 12])
    np.testing.assert_array_equal(f([1, 1, 1]), [10, 11, 12])
    np.testing.assert_array_equal(b.get_value(), [10, 11, 12])


def test_dot_with_shared_weights(mode):
    rng = np.random.default_rng(0)
    W = shared(rng.standard_normal((3, 4)), name="W")
    b = shared(rng.standard_normal(3), name="b")
    x = T.dvector("x")
    f = function([x], T.dot(W, x) + b, mode=mode)
    v = rng.standard_normal(4)
    np.testing.assert_allclose(f(v), W.get_value() @ v + b.get_value(), rtol=1e-13)
    y = T.dmatrix("y")
    g = function([y], T.dot(y, W.T) + b, mode=mode)
    m = rng.standard_normal((5, 4))
    np.testing.assert_allclose(g(m), m @ W.get_value().T + b.get_value(), rtol=1e-13)


def test_pp_of_compiled_output(mode):
    x = T.dscalar("x")
    f = function([x], x * 2.0, mode=mode)
    assert theano.pp(f.maker.fgraph.outputs[0]) == "(x * 2.0)"
