"""Every BLAS path of tc.matmul on the C backend (gemm, gemv for one row or one
column, transposed operands read with the trans flags instead of copied) matches
numpy and the reference interpreter."""

import itertools

import numpy as np
import pytest

import tensorc.tensor as T
from tensorc import function


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matmul_operand_layouts(dtype):
    rng = np.random.default_rng(0)
    a, b = T.tensor(dtype, shape=(None, None), name="a"), T.tensor(dtype, shape=(None, None), name="b")
    v = T.tensor(dtype, shape=(None,), name="v")
    values = {a: rng.standard_normal((5, 5)).astype(dtype),
              b: rng.standard_normal((5, 5)).astype(dtype),
              v: rng.standard_normal(5).astype(dtype)}
    operands = [a, a.T, b, b.T, v]
    pairs = [(x, y) for x, y in itertools.product(operands, operands)]
    outs = [T.dot(x, y) for x, y in pairs] + [T.dot(a.T, b) + a.T]  # a.T also read elementwise
    got = function([a, b, v], outs)(values[a], values[b], values[v])
    want = function([a, b, v], outs, mode="REFERENCE")(values[a], values[b], values[v])
    tol = 1e-5 if dtype == "float32" else 1e-12
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def test_one_row_and_one_column_products():
    rng = np.random.default_rng(1)
    x, y = T.dmatrix("x"), T.dmatrix("y")
    plain = function([x, y], T.dot(x, y))
    transposed = function([x, y], T.dot(x.T, y.T))
    for m, k, n in [(1, 7, 4), (4, 7, 1), (1, 7, 1), (3, 1, 2)]:
        xv, yv = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        np.testing.assert_allclose(plain(xv, yv), xv @ yv, rtol=1e-12)
        got = transposed(xv.T.copy(), yv.T.copy())
        np.testing.assert_allclose(got, xv @ yv, rtol=1e-12)
