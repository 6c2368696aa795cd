"""The user-facing gradient API (tensorc.gradient / T.grad): Theano's tutorial
examples, printed simplified gradients, numerical stability, errors, Jacobians and
Hessians, and the numerical checkers."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import tensorc
import tensorc.tensor as T
from tensorc.autodiff.vjp_rules import VJP_RULES
from tensorc.dialects import tc
from tensorc.errors import DisconnectedInputError, DTypeError, ShapeError
from tensorc.gradient import (
    GradientError,
    disconnected_grad,
    hessian,
    jacobian,
    numerical_gradient,
    verify_grad,
    zero_grad,
)


def _pp_grad(cost, wrt, inputs, mode="REFERENCE"):
    f = tensorc.function(inputs, T.grad(cost, wrt), mode=mode)
    return f, tensorc.pp(f.maker.fgraph.outputs[0])


# ---------------------------------------------------------------------------------
# Theano tutorial
# ---------------------------------------------------------------------------------


def test_derivative_of_square(mode: str) -> None:
    x = T.dscalar("x")
    f, text = _pp_grad(x ** 2, x, [x], mode)
    assert text == "(2.0 * x)"
    assert float(f(4)) == 8.0
    assert float(f(94.2)) == pytest.approx(188.4, rel=1e-15)


def test_derivative_of_sin(mode: str) -> None:
    x = T.dscalar("x")
    f, text = _pp_grad(T.sin(x), x, [x], mode)
    assert text == "cos(x)"
    assert float(f(0.5)) == np.cos(0.5)


def test_derivative_of_cubic(mode: str) -> None:
    x = T.dscalar("x")
    f, text = _pp_grad((x - 4) * (x ** 2 + 6), x, [x], mode)
    # one fused kernel (tc-fuse-elemwise); its inner expression is the derivative
    assert text == "Composite{(((i0 - 4.0) * (2.0 * i0)) + ((i0 * i0) + 6.0))}(x)"
    for value in (-2.0, 0.0, 3.5):
        assert float(f(value)) == pytest.approx(3 * value**2 - 8 * value + 6, rel=1e-14)


def test_partial_derivatives() -> None:
    x, y = T.dscalars("x", "y")
    cost = (x + 2 * y) ** 2
    gx, gy = T.grad(cost, [x, y])
    f = tensorc.function([x, y], [gx, gy], mode="REFERENCE")
    assert [float(v) for v in f(1.0, 2.0)] == [10.0, 20.0]
    assert tensorc.pp(f.maker.fgraph.outputs) == (  # one kernel, two outputs
        "Composite{(2.0 * (i0 + (2.0 * i1)))}.0(x, y)\n"
        "Composite{(4.0 * (i0 + (2.0 * i1)))}.1(x, y)")


def test_logistic_derivative(mode: str) -> None:
    x = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-x)))
    dlogistic = tensorc.function([x], T.grad(s, x), mode=mode)
    want = [[0.25, 0.19661193], [0.19661193, 0.10499359]]
    np.testing.assert_allclose(dlogistic([[0, 1], [-1, -2]]), want, rtol=1e-7)


def test_gradients_print_simplified() -> None:
    x, y = T.dvector("x"), T.dscalar("y")
    cases = [
        ((x ** 2).sum(), x, "(2.0 * x)"),
        ((x ** 3).sum(), x, "Composite{(3.0 * (i0 * i0))}(x)"),
        (T.sin(x).sum(), x, "cos(x)"),
        ((T.neg(-x) * x * 1.0).sum(), x, "(x + x)"),
        ((x * (T.constant(2.0) ** 3 + 1.0)).sum(), x, "9.0"),
        ((T.exp(-(x ** 1)) * y).sum(), y, "sum(Composite{exp((-i0))}(x), axes=[0])"),
    ]
    for cost, wrt, want in cases:
        _, text = _pp_grad(cost, wrt, [x, y] if wrt is y else [x])
        assert text == want
        assert not re.search(r"\*\* [12]\.0|1\.0 \*|\* 1\.0|\(-\(-", text)


# ---------------------------------------------------------------------------------
# Numerical stability (values and gradients) for |x| up to 700
# ---------------------------------------------------------------------------------

EXTREME = np.array([-700.0, -40.0, -1.0, 0.0, 2.0, 40.0, 700.0])


def _value_and_grad(build, mode):
    x = T.dvector("x")
    out = build(x)
    f = tensorc.function([x], [out, T.grad(out.sum(), x)], mode=mode)
    return f(EXTREME)


def test_log_sigmoid_stays_finite(mode: str) -> None:
    value, grad = _value_and_grad(lambda x: T.log(T.nnet.sigmoid(x)), mode)
    np.testing.assert_allclose(value, -np.logaddexp(0, -EXTREME), rtol=1e-14)
    np.testing.assert_allclose(grad, 1 / (1 + np.exp(EXTREME)), rtol=1e-14)
    value, grad = _value_and_grad(lambda x: T.log(1 - T.nnet.sigmoid(x)), mode)
    np.testing.assert_allclose(value, -np.logaddexp(0, EXTREME), rtol=1e-14)
    np.testing.assert_allclose(grad, -1 / (1 + np.exp(-EXTREME)), rtol=1e-14)


def test_tutorial_cross_entropy_stays_finite(mode: str) -> None:
    x, y = T.dvector("x"), T.dvector("y")
    p_1 = 1 / (1 + T.exp(-x))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    f = tensorc.function([x, y], [xent, T.grad(xent.sum(), x)], mode=mode)
    labels = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    value, grad = f(EXTREME, labels)
    want = labels * np.logaddexp(0, -EXTREME) + (1 - labels) * np.logaddexp(0, EXTREME)
    np.testing.assert_allclose(value, want, rtol=1e-14)
    np.testing.assert_allclose(grad, 1 / (1 + np.exp(-EXTREME)) - labels, atol=1e-15)


def test_softmax_family_stays_finite(mode: str) -> None:
    x = T.dmatrix("x")
    rows = np.stack([EXTREME, EXTREME[::-1] * 0.5])
    builders = [T.nnet.softmax(x), T.nnet.log_softmax(x), T.nnet.logsumexp(x, axis=1),
                T.log(T.nnet.softmax(x))]
    outputs = [o for b in builders for o in (b, T.grad((b * b).sum() * 0.5, x))]
    results = tensorc.function([x], outputs, mode=mode)(rows)
    for r in results:
        assert np.isfinite(r).all()
    shifted = rows - rows.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(results[2], log_softmax, rtol=1e-14)
    np.testing.assert_allclose(results[6], log_softmax, rtol=1e-14)


def test_softmax_cross_entropy_stays_finite(mode: str) -> None:
    x, y = T.dmatrix("x"), T.lvector("y")
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(x), y)
    f = tensorc.function([x, y], [loss, T.grad(loss.sum(), x)], mode=mode)
    rows = np.array([[-700.0, 0.0, 700.0], [3.0, 2.0, 1.0]])
    labels = np.array([0, 1])
    value, grad = f(rows, labels)
    shifted = rows - rows.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(value, -log_p[[0, 1], labels], rtol=1e-14)
    np.testing.assert_allclose(grad, np.exp(log_p) - np.eye(3)[labels], atol=1e-15)


# ---------------------------------------------------------------------------------
# Requests: wrt forms, constants, disconnected inputs, errors
# ---------------------------------------------------------------------------------


def test_wrt_list_shared_and_intermediate(mode: str) -> None:
    w = tensorc.shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    h = x * w
    cost = (h ** 2).sum()
    gw, gh = T.grad(cost, [w, h])
    single = T.grad(cost, w)
    f = tensorc.function([x], [gw, gh, single], mode=mode)
    got_w, got_h, got_single = f(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(got_w, 2 * np.array([3.0, 8.0]) * [3.0, 4.0])
    np.testing.assert_array_equal(got_h, [6.0, 16.0])
    np.testing.assert_array_equal(got_single, got_w)


def test_consider_constant_and_stop_gradients() -> None:
    x = T.dscalar("x")
    y = x * 2
    outputs = [T.grad(x * y, x), T.grad(x * y, x, consider_constant=[y]),
               T.grad(zero_grad(x) * 3.0, x)]
    f = tensorc.function([x], outputs, mode="REFERENCE")
    assert [float(v) for v in f(5.0)] == [20.0, 10.0, 0.0]
    with pytest.raises(DisconnectedInputError, match="does not depend on x"):
        T.grad(disconnected_grad(x) * 3.0, x)
    with pytest.raises(DisconnectedInputError):
        T.grad(y * 3.0, x, consider_constant=[y])


def test_disconnected_inputs() -> None:
    x, v = T.dscalars("x", "v")
    cost = x * 2.0
    where = r"does not depend on v .*test_gradient\.py"
    with pytest.raises(DisconnectedInputError, match=where):
        T.grad(cost, v)
    with pytest.warns(UserWarning, match="does not depend on v"):
        warned = T.grad(cost, v, disconnected_inputs="warn")
    ignored = T.grad(cost, [x, v], disconnected_inputs="ignore")
    none = T.grad(cost, v, disconnected_inputs="ignore", return_disconnected="None")
    assert none is None
    f = tensorc.function([x, v], [warned, *ignored], mode="REFERENCE",
                         on_unused_input="ignore")
    assert [float(r) for r in f(1.0, 2.0)] == [0.0, 2.0, 0.0]
    comparison = T.switch(x > 0, 1.0, 0.0)  # comparisons stop the flow
    with pytest.raises(DisconnectedInputError):
        T.grad(comparison, x)
    with pytest.raises(ValueError, match="disconnected_inputs"):
        T.grad(cost, x, disconnected_inputs="maybe")


def test_bad_requests_give_typed_errors() -> None:
    x = T.dvector("x")
    i = T.lscalar("i")
    where = r"scalar.*shape \(\?,\).*test_gradient\.py:\d+"
    with pytest.raises(ShapeError, match=where):
        T.grad(x * 2.0, x)
    with pytest.raises(DTypeError, match="float scalar"):
        T.grad(T.sum(T.cast(x, "int64")), x)
    with pytest.raises(DTypeError, match="with respect to i of dtype int64"):
        T.grad(T.sum(x) * i, i)
    with pytest.raises(TypeError):
        T.grad(x.sum(), [x, 3.0])


# ---------------------------------------------------------------------------------
# Jacobian and Hessian
# ---------------------------------------------------------------------------------


def test_jacobian_and_hessian(mode: str) -> None:
    x = T.tensor("float64", shape=(2,), name="x")
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    quadratic = T.dot(x, T.dot(T.constant(a), x))
    outputs = [jacobian(x ** 2, x), hessian((x ** 2).sum(), x), hessian(quadratic, x),
               jacobian(T.outer(x, x), x)]
    f = tensorc.function([x], outputs, mode=mode)
    jac, hess, hess_a, jac_outer = f(np.array([4.0, 5.0]))
    np.testing.assert_array_equal(jac, [[8.0, 0.0], [0.0, 10.0]])
    np.testing.assert_array_equal(hess, 2 * np.eye(2))
    np.testing.assert_array_equal(hess_a, a + a.T)
    assert jac_outer.shape == (2, 2, 2)
    np.testing.assert_array_equal(jac_outer[0, 1], [5.0, 4.0])


def test_jacobian_and_hessian_of_dynamic_shapes_scan_over_the_rows(mode: str) -> None:
    """Theano's way: one gradient per row inside a scan (any length)."""
    x, m = T.dvector("x"), T.dmatrix("m")
    cost = (T.exp(x) * T.dot(m, x)).sum()
    f = tensorc.function([x, m], [jacobian(T.tanh(x) * x.sum(), x), hessian(cost, x),
                                  jacobian(T.dot(m, x), m)], mode=mode)
    value, matrix = np.array([0.3, -1.2, 0.7, 2.0]), np.arange(16.0).reshape(4, 4) / 7
    jac, hess, jac_m = f(value, matrix)
    t = np.tanh(value)
    want = np.diag((1 - t**2) * value.sum()) + t[:, None]
    np.testing.assert_allclose(jac, want, rtol=1e-12)
    e = np.exp(value)
    want_hess = np.diag(e * (matrix @ value)) + e[:, None] * matrix + (e[:, None] * matrix).T
    np.testing.assert_allclose(hess, want_hess, rtol=1e-12)
    assert jac_m.shape == (4, 4, 4)
    np.testing.assert_allclose(jac_m[1, 1], value)
    np.testing.assert_allclose(jac_m[1, 2], 0.0)


# ---------------------------------------------------------------------------------
# numerical_gradient and verify_grad
# ---------------------------------------------------------------------------------


def test_numerical_gradient() -> None:
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v ** 2), x), 2 * x,
                               rtol=1e-9)
    weights = np.array([0.3, -0.7])
    # the "Deep Learning from Scratch" idiom: f ignores its argument and reads the
    # array that numerical_gradient perturbs in place (and restores)
    grad = numerical_gradient(lambda _: float(np.sum(weights ** 3)), weights)
    np.testing.assert_allclose(grad, 3 * weights ** 2, rtol=1e-7)
    np.testing.assert_array_equal(weights, [0.3, -0.7])
    gx, gy = numerical_gradient(lambda a, b: a @ b, [np.array([1.0, 2.0]),
                                                     np.array([3.0, 4.0])])
    np.testing.assert_allclose(gx, [3.0, 4.0])
    np.testing.assert_allclose(gy, [1.0, 2.0])
    integers = np.array([1, 2])  # not perturbable in place: a float64 copy is
    np.testing.assert_allclose(numerical_gradient(np.sum, integers), [1.0, 1.0])


def test_numerical_gradient_validates_its_inputs() -> None:
    with pytest.raises(TypeError):
        numerical_gradient(3.0, np.ones(2))
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(np.sum, np.ones(2), eps=0)
    with pytest.raises(ValueError, match="real scalar"):
        numerical_gradient(lambda v: v * 2, np.ones(2))


def test_verify_grad_accepts_correct_and_reports_wrong_gradients(
        monkeypatch: pytest.MonkeyPatch) -> None:
    point = [np.array([[0.1, 0.2], [0.3, 0.4]])]
    check = verify_grad(lambda x: T.exp(x) * 2.0, point, rng=0, mode="REFERENCE")
    assert check.max_rel_error < 1e-8
    wrong = VJP_RULES[tc.ExpOp]
    def off_by_one_percent(b, op, g):
        return [b.mul(b.full_like(1.01, g), *wrong(b, op, g))]

    monkeypatch.setitem(VJP_RULES, tc.ExpOp, off_by_one_percent)
    with pytest.raises(GradientError, match=r"input #0.*position \(\d, \d\): analytic "
                                            r".*numeric .*abs error"):
        verify_grad(lambda x: T.exp(x) * 2.0, point, rng=0, mode="REFERENCE")


def test_verify_grad_validates_its_inputs() -> None:
    fun = T.exp
    with pytest.raises(TypeError, match="non-empty list"):
        verify_grad(fun, [])
    with pytest.raises(DTypeError, match="int64"):
        verify_grad(fun, [np.array([1, 2])])
    with pytest.raises(TypeError, match="float symbolic variable"):
        verify_grad(lambda x: 3.0, [np.ones(2)])
    with pytest.raises(ValueError, match="n_tests"):
        verify_grad(fun, [np.ones(2)], n_tests=0)


def test_grad_is_exported() -> None:
    assert tensorc.grad is tensorc.gradient.grad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = T.dscalar("x")
        assert T.grad(x * x, x).op == "grad"
