"""Theano idioms built from frontend ops: In/Out hints, grad's known_grads,
tensordot/batched_dot/N-d dot, the T.basic and T.extra_ops additions, the
functions that change static types, and the clear errors for what is missing.
Values against numpy on both backends, gradients against central differences."""

import numpy as np
import pytest

import tensorc as theano
import tensorc.tensor as T
from tensorc.errors import DTypeError, ShapeError
from tensorc.gradient import verify_grad
from tensorc.tensor import extra_ops
from tensorc.tensor.unimplemented import NotImplementedInTensorc

HERE = "test_theano_api.py"
rng = np.random.default_rng(1234)


def static(*shape: int) -> theano.Variable:
    return T.tensor(dtype="float64", shape=shape)


def check_all(outputs: list, expected: list) -> None:
    for i, (got, want) in enumerate(zip(outputs, expected)):
        want = np.asarray(want)
        assert got.shape == want.shape, (i, got.shape, want.shape)
        assert got.dtype == want.dtype, (i, got.dtype, want.dtype)
        # float32 running sums associate differently from numpy's sequential ones
        tolerance = 1e-6 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(
            got, want, rtol=tolerance, atol=tolerance, err_msg=str(i)
        )


# -- In / Out ------------------------------------------------------------------------


def test_in_and_out_accept_theanos_hints(mode):
    x, y = T.dmatrix("x"), T.fvector("y")
    f = theano.function(
        [theano.In(x, borrow=True, mutable=False)],
        theano.Out(x * 2, borrow=True),
        mode=mode,
    )
    np.testing.assert_array_equal(f(np.ones((2, 2))), np.full((2, 2), 2.0))
    g = theano.function(
        [theano.In(y, allow_downcast=True), theano.In(x, "m", strict=True)],
        [theano.Out(y * 2), x],
        mode=mode,
    )
    got = g(np.ones(2), m=np.ones((1, 1)))  # float64 -> float32 allowed for y only
    assert got[0].dtype == np.float32 and got[1].shape == (1, 1)
    with pytest.raises(DTypeError, match="'x'.*strict.*float32"):
        g(np.ones(2), np.ones((1, 1), dtype=np.float32))
    with pytest.raises(DTypeError, match="strict.*list"):
        g(np.ones(2), [[1.0]])
    with pytest.raises(DTypeError, match="allow_input_downcast"):
        theano.function([x], x, mode=mode)(np.ones((1, 1), dtype=np.complex128))


def test_in_refuses_stateful_inputs():
    with pytest.raises(TypeError, match="update=.*shared variable"):
        theano.In(T.dscalar("s"), value=0.0, update=T.dscalar("s") + 1)
    assert "Out" in theano.__all__


# -- grad(known_grads=...) -----------------------------------------------------------


def test_known_grads_agree_with_explicit_gradients(mode):
    x, w = T.dvector("x"), T.dvector("w")
    h = T.tanh(x * w)
    cost = (h**2).sum()
    y = h * 3
    outputs = [
        *T.grad(None, [x, w], known_grads={h: T.grad(cost, h)}),
        *T.grad(cost, [x, w]),
        # a known gradient overrides what flows into its variable from the cost
        T.grad(cost, x, known_grads={h: T.ones_like(h)}),
        T.grad(h.sum(), x),
        # a wrt below the known variable, and the known variable itself
        *T.grad((y**2).sum() + x.sum(), [y, x], known_grads={h: T.ones_like(h)}),
        T.grad(None, h, known_grads={h: 2 * x}),
    ]
    f = theano.function([x, w], outputs, mode=mode)
    X, W = np.array([0.1, -0.5, 2.0]), np.array([1.5, 0.3, -0.7])
    r = f(X, W)
    np.testing.assert_allclose(r[0], r[2])
    np.testing.assert_allclose(r[1], r[3])
    np.testing.assert_allclose(r[4], r[5])
    t = np.tanh(X * W)
    np.testing.assert_allclose(r[6], 6 * t)
    np.testing.assert_allclose(r[7], 1 + (1 - t**2) * W)
    np.testing.assert_allclose(r[8], 2 * X)


def test_known_grads_errors():
    x = T.dmatrix("x")
    with pytest.raises(TypeError, match="cost is None and no known_grads"):
        T.grad(None, x)
    with pytest.raises(DTypeError, match="must be a float tensor"):
        T.grad(None, x, known_grads={x * 2: T.lmatrix("g")})
    with pytest.raises(ShapeError, match=f"does not fit.*{HERE}"):
        T.grad(None, x, known_grads={static(2, 3) * x: static(3, 3)})


def test_grad_clip_is_a_clear_error():
    with pytest.raises(NotImplementedInTensorc, match="grad_clip"):
        theano.gradient.grad_clip(T.dvector(), -1, 1)


# -- products ------------------------------------------------------------------------


def test_tensordot_batched_dot_and_nd_dot(mode):
    a, b, c = T.tensor3("a"), T.dmatrix("b"), T.tensor3("c")
    A, B, C = (
        rng.normal(size=(2, 3, 4)),
        rng.normal(size=(4, 5)),
        rng.normal(size=(2, 4, 5)),
    )
    outputs = [
        T.tensordot(a, b, 1),
        T.tensordot(a, c, [[0, 2], [0, 1]]),
        T.tensordot(a, b, 0),
        T.tensordot(a, c, axes=(-1, 1)),
        T.dot(a, b),
        T.dot(b.T, c),
        a.dot(b),
        T.batched_dot(a, c),
        T.batched_dot(a[:, 0], c),
        T.batched_dot(b[:2], b[:2]),
        T.batched_dot(T.specify_shape(a, (2, 3, 4)), T.specify_shape(c, (2, 4, 5))),
        T.batched_tensordot(a, c, [[2], [1]]),
    ]
    f = theano.function([a, b, c], outputs, mode=mode, on_unused_input="ignore")
    r = f(A, B, C)
    bd = np.einsum("bij,bjk->bik", A, C)
    check_all(
        r,
        [
            np.tensordot(A, B, 1),
            np.tensordot(A, C, [[0, 2], [0, 1]]),
            np.tensordot(A, B, 0),
            np.tensordot(A, C, (-1, 1)),
            np.dot(A, B),
            np.dot(B.T, C),
            np.dot(A, B),
            bd,
            np.einsum("bi,bij->bj", A[:, 0], C),
            np.sum(B[:2] * B[:2], axis=1),
            bd,
            bd,
        ],
    )


def test_product_gradients(mode):
    verify_grad(
        lambda a, b: T.tensordot(a, b, [[0, 2], [1, 0]]),
        [rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 2))],
        mode=mode,
    )
    # a small static batch (elementwise product + sum) and a dynamic one (scan)
    verify_grad(
        lambda a, b: (
            T.batched_dot(T.specify_shape(a, (2, 3, 4)), b) + T.batched_dot(a, b)
        ),
        [rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 2))],
        mode=mode,
    )


def test_product_errors_name_the_argument_and_line():
    a = T.tensor3("a")
    with pytest.raises(ShapeError, match=f"tensordot: axis 3 .*{HERE}"):
        T.tensordot(a, a, [[3], [0]])
    with pytest.raises(ShapeError, match=f"tensordot: axes.*2 axes of a but 1.*{HERE}"):
        T.tensordot(a, a, [[0, 1], [0]])
    with pytest.raises(ShapeError, match=f"shape-mismatch.*{HERE}"):
        T.tensordot(static(2, 3), static(2, 3), [[1], [0]])
    with pytest.raises(ShapeError, match="axes=4"):
        T.tensordot(a, a, 4)
    with pytest.raises(ShapeError, match="batched_dot: a must have a batch axis"):
        T.batched_dot(T.dscalar(), a)
    with pytest.raises(ShapeError, match="may not include the batch axis"):
        T.batched_tensordot(a, a, [[0], [0]])


# -- construction, extrema, padding -------------------------------------------------


def test_basic_functions_against_numpy(mode):
    x, v, n = T.dmatrix("x"), T.dvector("v"), T.lscalar("n")
    X, V = np.arange(12.0).reshape(3, 4), np.array([1.0, -2.0, np.inf])
    outputs = [
        T.eye(3),
        T.eye(n, 4, k=1),
        T.eye(2, dtype="int32"),
        T.identity_like(x),
        T.diag(v),
        T.diag(v, 1),
        T.diag(v, -2),
        T.diag(x),
        T.diag(x, 1),
        T.diag(x, -1),
        T.diag(x, 5),
        T.nlinalg.trace(x),
        T.tile(v, 2),
        T.tile(x, (2, 1, 3)),
        T.any(v > 0),
        T.all(x, axis=0),
        T.any(x - x, axis=1, keepdims=True),
        T.largest(x, 3.0),
        T.smallest(x, 5, x * 2),
        T.shape_padleft(v, 2),
        T.shape_padright(v),
        T.shape_padaxis(x, 1),
        T.shape_padaxis(x, -1),
        T.abs_(v),
    ]
    r = theano.function([x, v, n], outputs, mode=mode)(X, V, 2)
    check_all(
        r,
        [
            np.eye(3),
            np.eye(2, 4, 1),
            np.eye(2, dtype="int32"),
            np.eye(3, 4),
            np.diag(V),
            np.diag(V, 1),
            np.diag(V, -2),
            np.diag(X),
            np.diag(X, 1),
            np.diag(X, -1),
            np.diag(X, 5),
            np.trace(X),
            np.tile(V, 2),
            np.tile(X, (2, 1, 3)),
            np.any(V > 0),
            np.all(X, axis=0),
            np.any(X - X, axis=1, keepdims=True),
            np.maximum(X, 3),
            np.minimum(np.minimum(X, 5), 2 * X),
            V[None, None],
            V[:, None],
            X[:, None],
            X[:, :, None],
            np.abs(V),
        ],
    )
    assert T.eye(3).type.shape == (3, 3) and T.diag(static(3, 5)).type.shape == (3,)
    assert T.tile(static(2, 3), (2, 2)).type.shape == (4, 6)


def test_largest_follows_theanos_switch_on_ties_and_nan(mode):
    a, b = T.dvector("a"), T.dvector("b")
    f = theano.function([a, b], [T.largest(a, b), T.smallest(a, b)], mode=mode)
    big, small = f(np.array([np.nan, 1.0]), np.array([0.0, 2.0]))
    np.testing.assert_array_equal(big, [0.0, 2.0])  # NaN in a: b, as Theano
    np.testing.assert_array_equal(small, [0.0, 1.0])


def test_basic_gradients(mode):
    verify_grad(
        lambda v, x: (
            T.diag(v, 1).sum() * T.diag(x, -1)
            + T.tile(v, (2, 2))[:, :3].sum(axis=1)[:2]
            + T.largest(x[0], x[1], 0.3)[:2] * T.shape_padleft(v)[0, :2]
        ),
        [rng.normal(size=3), rng.normal(size=(3, 3))],
        mode=mode,
    )


def test_basic_errors_name_the_argument_and_line():
    x = T.dmatrix("x")
    with pytest.raises(
        ShapeError, match=f"diag: v must be a vector or a matrix.*{HERE}"
    ):
        T.diag(T.tensor3())
    with pytest.raises(ShapeError, match=f"identity_like: x must be a matrix.*{HERE}"):
        T.identity_like(T.dvector())
    with pytest.raises(ShapeError, match=f"tile: reps.*{HERE}"):
        T.tile(x, (2, -1))
    with pytest.raises(ShapeError, match=f"shape_padaxis: axis 3 .*{HERE}"):
        T.shape_padaxis(x, 3)
    with pytest.raises(ShapeError, match="shape_padleft: n_ones"):
        T.shape_padleft(x, -1)
    with pytest.raises(ShapeError, match="eye: k"):
        T.eye(3, k=0.5)


# -- static types: addbroadcast, unbroadcast, patternbroadcast, specify_shape --------


def test_static_type_changes_and_their_run_time_checks(mode):
    x, r, n = T.dmatrix("x"), T.row("r"), T.lscalar("n")
    added, released = T.addbroadcast(x, 0), T.unbroadcast(r, 0)
    assert added.broadcastable == (True, False)
    assert released.broadcastable == (False, False)
    assert T.patternbroadcast(x, (True, False)).broadcastable == (True, False)
    assert T.patternbroadcast(r, [False, False]).broadcastable == (False, False)
    fixed, partial = T.specify_shape(x, (2, 3)), T.specify_shape(x, (2, n))
    assert fixed.type.shape == (2, 3) and partial.type.shape == (2, None)
    f2 = theano.function([x, n], [fixed, partial], mode=mode)
    np.testing.assert_array_equal(
        theano.function([x], added * 2, mode=mode)(np.ones((1, 3))),
        np.full((1, 3), 2.0),
    )
    with pytest.raises(ShapeError, match=HERE):
        theano.function([x], added * 2, mode=mode)(np.ones((2, 3)))
    check_all(f2(np.ones((2, 3)), 3), [np.ones((2, 3))] * 2)
    for bad, size in [(np.ones((2, 4)), 3), (np.ones((3, 3)), 3), (np.ones((2, 3)), 4)]:
        with pytest.raises(ShapeError, match=HERE):
            f2(bad, size)
    # an unbroadcast row no longer stretches; specify_shape of a static 1 is checked
    y = T.dmatrix("y")
    with pytest.raises(ShapeError, match=HERE):
        theano.function([r, y], released + y, mode=mode)(
            np.ones((1, 3)), np.ones((2, 3))
        )
    g = theano.function([r, n], T.specify_shape(r, (n, 3)), mode=mode)
    assert g(np.ones((1, 3)), 1).shape == (1, 3)
    with pytest.raises(ShapeError):
        g(np.ones((1, 3)), 2)


def test_static_type_errors():
    x = T.dmatrix("x")
    with pytest.raises(ShapeError, match=f"addbroadcast: dim 0 .* is 2, not 1.*{HERE}"):
        T.addbroadcast(static(2, 3), 0)
    with pytest.raises(ShapeError, match=f"unbroadcast: axis 2 .*{HERE}"):
        T.unbroadcast(x, 2)
    with pytest.raises(ShapeError, match=f"patternbroadcast: pattern.*{HERE}"):
        T.patternbroadcast(x, (True,))
    with pytest.raises(ShapeError, match=f"specify_shape: shape has 3 entries.*{HERE}"):
        T.specify_shape(x, (1, 2, 3))
    with pytest.raises(
        ShapeError, match=f"specify_shape: dim 1 .* is 3, not 4.*{HERE}"
    ):
        T.specify_shape(static(2, 3), (2, 4))


# -- extra_ops -----------------------------------------------------------------------


def test_extra_ops_against_numpy(mode):
    x, v, s, iv = T.dmatrix("x"), T.dvector("v"), static(3, 5), T.ivector("iv")
    X, V = rng.normal(size=(3, 5)), np.arange(1.0, 8.0)
    IV = np.array([1, 2, 3], np.int32)
    outputs = [
        T.cumsum(x),
        T.cumsum(x, 0),
        T.cumsum(s, 1),
        T.cumsum(s),
        T.cumprod(s, 0),
        T.cumprod(v),
        T.cumsum(iv),
        T.cumsum(iv > 1),
        extra_ops.cumsum(s, axis=-1, dtype="float32"),
        extra_ops.diff(x),
        extra_ops.diff(s, 2, axis=0),
        T.repeat(v, 2),
        T.repeat(x, 3, axis=1),
        T.repeat(s, [1, 0, 2], axis=0),
        extra_ops.repeat(s, 2),
        T.repeat(iv, iv[0] + 1),
    ]
    r = theano.function([x, v, s, iv], outputs, mode=mode)(X, V, X, IV)
    check_all(
        r,
        [
            np.cumsum(X),
            np.cumsum(X, 0),
            np.cumsum(X, 1),
            np.cumsum(X),
            np.cumprod(X, 0),
            np.cumprod(V),
            np.cumsum(IV),
            np.cumsum(IV > 1),
            np.cumsum(X, -1, dtype=np.float32),
            np.diff(X),
            np.diff(X, 2, axis=0),
            np.repeat(V, 2),
            np.repeat(X, 3, axis=1),
            np.repeat(X, [1, 0, 2], axis=0),
            np.repeat(X, 2),
            np.repeat(IV, 2),
        ],
    )
    assert T.cumsum(s).type.shape == (15,) and T.repeat(s, 2, axis=1).type.shape == (
        3,
        10,
    )


def test_extra_ops_gradients(mode):
    # static lengths (doubling scan) and a dynamic one (scan over the axis)
    verify_grad(
        lambda s, v: (
            T.cumsum(T.specify_shape(s, (3, 5)), 1)[:, :3]
            * T.cumprod(T.specify_shape(v, (3,)))
            + T.cumprod(s, axis=0)[:, 1:4]
            + extra_ops.diff(s)[:, 1:]
            + T.repeat(v, 2)[None, 1:4]
        ),
        [rng.uniform(0.5, 1.5, size=(3, 5)), rng.uniform(0.5, 1.5, size=3)],
        mode=mode,
    )


def test_extra_ops_errors():
    x = T.dmatrix("x")
    with pytest.raises(ShapeError, match=f"cumsum: axis 2 .*{HERE}"):
        T.cumsum(x, 2)
    with pytest.raises(ShapeError, match=f"repeat: 2 repeat counts for axis 0.*{HERE}"):
        T.repeat(static(3, 2), [1, 2], axis=0)
    with pytest.raises(ShapeError, match="repeat: repeats must be an int"):
        T.repeat(x, 1.5)
    with pytest.raises(ShapeError, match="repeat: repeats must be non-negative"):
        T.repeat(x, -1)
    with pytest.raises(ShapeError, match="diff: n must be"):
        extra_ops.diff(x, -1)


# -- what is missing says so ---------------------------------------------------------


@pytest.mark.parametrize("name", ["sort", "argsort", "gammaln", "psi"])
def test_missing_tensor_functions_name_themselves(name):
    with pytest.raises(
        NotImplementedInTensorc, match=f"does not implement T.{name} yet"
    ):
        getattr(T, name)(T.dvector())


@pytest.mark.parametrize("name", ["matrix_inverse", "det"])
def test_missing_nlinalg_functions_name_themselves(name):
    with pytest.raises(NotImplementedError, match=f"T.nlinalg.{name}"):
        getattr(T.nlinalg, name)(T.dmatrix())


def test_shared_randomstreams_is_an_attribute_of_tensor():
    stream = T.shared_randomstreams.RandomStreams(1)
    assert stream.normal((2,)).type.shape == (2,)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        T.nonexistent  # noqa: B018
