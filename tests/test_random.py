"""RandomStreams: counter-based random numbers, identical bits on every backend."""

import numpy as np
import pytest

import tensorc.tensor as T
from tensorc import function
from tensorc.errors import ShapeError
from tensorc.sandbox.rng_mrg import MRG_RandomStreams
from tensorc.tensor.shared_randomstreams import RandomStreams


def test_theano_tutorial_random_numbers(mode):
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = function([], rv_u, mode=mode)
    g = function([], rv_n, no_default_updates=True, mode=mode)
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u, mode=mode)
    f_val0, f_val1 = f(), f()
    assert f_val0.shape == (2, 2) and not np.array_equal(f_val0, f_val1)
    assert ((0 <= f_val0) & (f_val0 < 1)).all()
    np.testing.assert_array_equal(g(), g())
    np.testing.assert_allclose(nearly_zeros(), np.zeros((2, 2)), atol=1e-15)


def test_backends_give_identical_bits():
    draws = []
    for mode in ("FAST_RUN", "REFERENCE"):
        srng = RandomStreams(seed=7)
        x = T.dmatrix("x")
        outs = [srng.uniform(x.shape, dtype=d) for d in ("float16", "float32", "float64")]
        outs.append(srng.binomial((5,), p=0.3))
        f = function([x], outs, mode=mode)
        draws.append([f(np.zeros((3, 4))), f(np.zeros((2, 2)))])
    for a, b in zip(draws[0], draws[1]):
        for u, v in zip(a, b):
            assert u.dtype == v.dtype
            np.testing.assert_array_equal(u, v)


def test_distributions_have_the_right_moments(mode):
    srng = MRG_RandomStreams(seed=1)
    n = T.lscalar("n")
    f = function([n], [srng.uniform((n,), low=2.0, high=4.0, dtype="float64"),
                       srng.normal((n,), avg=1.0, std=3.0, dtype="float64"),
                       srng.binomial((n,), n=4, p=0.25),
                       srng.random_integers((n,), low=-2, high=2)], mode=mode)
    u, z, b, r = f(20000)
    assert 2 <= u.min() and u.max() < 4 and abs(u.mean() - 3) < 0.03
    assert abs(z.mean() - 1) < 0.1 and abs(z.std() - 3) < 0.1
    assert b.dtype == np.int64 and set(np.unique(b)) <= {0, 1, 2, 3, 4}
    assert abs(b.mean() - 1.0) < 0.05
    assert set(np.unique(r)) == {-2, -1, 0, 1, 2}


def test_seed_restarts_the_stream(mode):
    srng = RandomStreams(seed=3)
    f = function([], srng.uniform((4,), dtype="float64"), mode=mode)
    first = f()
    f()
    srng.seed(3)
    np.testing.assert_array_equal(f(), first)
    srng.seed(4)
    assert not np.array_equal(f(), first)


def test_dropout_mask_with_symbolic_shape(mode):
    srng = RandomStreams(seed=5)
    x = T.dmatrix("x")
    dropped = x * srng.binomial(x.shape, p=0.5, dtype="float64")
    out = function([x], dropped, mode=mode)(np.ones((50, 40)))
    assert set(np.unique(out)) == {0.0, 1.0}
    assert 0.4 < out.mean() < 0.6
    with pytest.raises(ShapeError, match="static length"):
        srng.uniform(x)  # a matrix is not a size
