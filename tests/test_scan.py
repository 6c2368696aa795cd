"""Theano's scan on every backend: the tutorial's loops, recurrent networks and
their gradients (against numpy loops and central differences), the argument
forms (sequences, states, outputs without initial value, non-sequences, n_steps,
go_backwards), gradients inside the step (Jacobians) and clear errors."""

import io

import numpy as np
import pytest

import tensorc
import tensorc.tensor as T
from tensorc.errors import ScanError, TensorcError

RNG = np.random.default_rng(7)


# -- the Theano tutorial's loops ------------------------------------------------------


def test_polynomial_from_coefficients(mode: str) -> None:
    coefficients = T.dvector("coefficients")
    x = T.dscalar("x")
    components, updates = tensorc.scan(
        fn=lambda coefficient, power, free_variable: coefficient
        * (free_variable**power),
        outputs_info=None,
        sequences=[coefficients, T.arange(10000)],
        non_sequences=x,
    )
    assert not updates
    f = tensorc.function([coefficients, x], components.sum(), mode=mode)
    assert f(np.array([1.0, 0.0, 2.0]), 3.0) == pytest.approx(19.0)
    values = RNG.standard_normal(7)
    assert f(values, 0.5) == pytest.approx(np.polynomial.polynomial.polyval(0.5, values))


def test_power_by_repeated_multiplication(mode: str) -> None:
    k, a = T.iscalar("k"), T.dvector("A")
    result, updates = tensorc.scan(
        fn=lambda prior_result, a: prior_result * a,
        outputs_info=T.ones_like(a),
        non_sequences=a,
        n_steps=k,
    )
    power = tensorc.function([a, k], result[-1], updates=updates, mode=mode)
    np.testing.assert_allclose(power(np.arange(10.0), 2), np.arange(10.0) ** 2)
    every = tensorc.function([a, k], result, mode=mode)
    np.testing.assert_allclose(every(np.arange(4.0), 3),
                               [np.arange(4.0) ** p for p in (1, 2, 3)])


def test_cumulative_sum_forward_and_backward(mode: str) -> None:
    x = T.dvector("x")
    forward, _ = tensorc.scan(lambda v, acc: acc + v, sequences=x,
                              outputs_info=T.constant(0.0))
    backward, _ = tensorc.scan(lambda v, acc: acc + v, sequences=x,
                               outputs_info=T.constant(0.0), go_backwards=True)
    f = tensorc.function([x], [forward, backward], mode=mode)
    values = RNG.standard_normal(6)
    got_forward, got_backward = f(values)
    np.testing.assert_allclose(got_forward, np.cumsum(values))
    np.testing.assert_allclose(got_backward, np.cumsum(values[::-1]))


def test_map_reduce_and_folds(mode: str) -> None:
    x = T.dvector("x")
    squares, _ = tensorc.map(lambda v: v * v, x)
    total, _ = tensorc.reduce(lambda v, acc: acc + v, x, T.constant(0.0))
    left, _ = tensorc.foldl(lambda v, acc: acc * 2 + v, x, T.constant(0.0))
    right, _ = tensorc.foldr(lambda v, acc: acc * 2 + v, x, T.constant(0.0))
    f = tensorc.function([x], [squares, total, left, right], mode=mode)
    values = np.array([1.0, 2.0, 3.0])
    got = f(values)
    np.testing.assert_allclose(got[0], values**2)
    assert got[1] == pytest.approx(6.0)
    assert got[2] == pytest.approx(((1 * 2) + 2) * 2 + 3)
    assert got[3] == pytest.approx(((3 * 2) + 2) * 2 + 1)


# -- recurrent networks and their gradients ---------------------------------------


def rnn_reference(x, h0, w, u, b):
    h, hs, total = h0, [], 0.0
    for x_t in x:
        h = np.tanh(h @ w + x_t @ u + b)
        hs.append(h)
        total += h.sum() + 0.5 * (h**2).sum()
    return np.array(hs), total


def rnn_graph():
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    w, u, b = T.dmatrix("w"), T.dmatrix("u"), T.dvector("b")

    def step(x_t, h_prev, w, u, b):
        h = T.tanh(T.dot(h_prev, w) + T.dot(x_t, u) + b)
        return h, (h**2).sum()

    (hs, squares), _ = tensorc.scan(step, sequences=x, outputs_info=[h0, None],
                                    non_sequences=[w, u, b])
    return [x, h0, w, u, b], hs, hs.sum() + 0.5 * squares.sum()


def central_differences(f, values, index, eps=1e-6):
    grad = np.zeros_like(values[index])
    for position in np.ndindex(grad.shape):
        shifted = [v.copy() for v in values]
        shifted[index][position] += eps
        up = f(*shifted)
        shifted[index][position] -= 2 * eps
        grad[position] = (up - f(*shifted)) / (2 * eps)
    return grad


def test_rnn_states_and_gradients_match_numpy(mode: str) -> None:
    inputs, hs, loss = rnn_graph()
    f = tensorc.function(inputs, [hs, loss, *T.grad(loss, inputs)], mode=mode)
    values = [RNG.standard_normal((5, 3)), RNG.standard_normal(4),
              RNG.standard_normal((4, 4)) * 0.5, RNG.standard_normal((3, 4)) * 0.5,
              RNG.standard_normal(4) * 0.1]
    got = f(*values)
    want_hs, want_loss = rnn_reference(*values)
    np.testing.assert_allclose(got[0], want_hs, rtol=1e-12)
    assert got[1] == pytest.approx(want_loss, rel=1e-12)
    for index, gradient in enumerate(got[2:]):
        numeric = central_differences(lambda *v: rnn_reference(*v)[1], values, index)
        np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-7)


def test_steps_beyond_n_steps_get_zero_gradient(mode: str) -> None:
    x, k = T.dvector("x"), T.lscalar("k")
    out, _ = tensorc.scan(lambda v, acc: acc * v, sequences=x,
                          outputs_info=T.constant(1.0), n_steps=k)
    f = tensorc.function([x, k], [out[-1], T.grad(out[-1], x)], mode=mode)
    values = np.array([2.0, 3.0, 5.0, 7.0])
    product, gradient = f(values, 3)
    assert product == pytest.approx(30.0)
    np.testing.assert_allclose(gradient, [15.0, 10.0, 6.0, 0.0])


def test_training_an_rnn_with_shared_weights_lowers_the_loss(mode: str) -> None:
    """Shared variables read inside the step are captured; SGD updates them."""
    x, target = T.dmatrix("x"), T.dvector("target")
    w = tensorc.shared(RNG.standard_normal((3, 3)) * 0.3, name="w")
    u = tensorc.shared(RNG.standard_normal((2, 3)) * 0.3, name="u")
    hs, _ = tensorc.scan(lambda x_t, h: T.tanh(T.dot(h, w) + T.dot(x_t, u)),
                         sequences=x, outputs_info=T.zeros((3,), "float64"))
    loss = ((hs[-1] - target) ** 2).sum()
    gw, gu = T.grad(loss, [w, u])
    train = tensorc.function([x, target], loss, mode=mode,
                             updates=[(w, w - 0.2 * gw), (u, u - 0.2 * gu)])
    data, goal = RNG.standard_normal((6, 2)), np.array([0.5, -0.3, 0.1])
    losses = [float(train(data, goal)) for _ in range(60)]
    assert losses[-1] < 0.1 * losses[0]


def test_several_states_and_outputs_keep_outputs_info_order(mode: str) -> None:
    x = T.dvector("x")

    def step(v, total, count):
        return v * 2, total + v, count + 1, v > 0

    (doubled, totals, counts, positive), _ = tensorc.scan(
        step, sequences=x,
        outputs_info=[None, T.constant(0.0), T.constant(np.int64(0)), None])
    f = tensorc.function([x], [doubled, totals, counts, positive], mode=mode)
    values = np.array([1.0, -2.0, 3.0])
    got = f(values)
    np.testing.assert_allclose(got[0], values * 2)
    np.testing.assert_allclose(got[1], np.cumsum(values))
    np.testing.assert_array_equal(got[2], [1, 2, 3])
    np.testing.assert_array_equal(got[3], values > 0)


def test_scan_inside_scan(mode: str) -> None:
    m = T.dmatrix("m")

    def row_sum(row):
        sums, _ = tensorc.scan(lambda v, acc: acc + v, sequences=row,
                               outputs_info=T.constant(0.0))
        return sums[-1]

    totals, _ = tensorc.scan(row_sum, sequences=m)
    f = tensorc.function([m], [totals, T.grad(totals.sum() ** 2, m)], mode=mode)
    values = RNG.standard_normal((3, 4))
    got, gradient = f(values)
    np.testing.assert_allclose(got, values.sum(axis=1))
    np.testing.assert_allclose(gradient, np.full((3, 4), 2 * values.sum()))


def test_jacobian_row_by_row_with_a_gradient_inside_the_step(mode: str) -> None:
    """The tutorial's Jacobian: T.grad inside the step sees through y = f(x)."""
    x = T.dvector("x")
    y = x**2
    jacobian, _ = tensorc.scan(lambda i, y, x: T.grad(y[i], x),
                               sequences=T.arange(y.shape[0]), non_sequences=[y, x])
    f = tensorc.function([x], jacobian, mode=mode)
    np.testing.assert_allclose(f(np.array([4.0, 4.0])), [[8.0, 0.0], [0.0, 8.0]])
    np.testing.assert_allclose(f(np.array([1.0, 2.0, 3.0])), np.diag([2.0, 4.0, 6.0]))


# -- errors -----------------------------------------------------------------------------


def test_a_state_of_another_dtype_is_a_clear_error() -> None:
    x = T.dvector("x")
    with pytest.raises(ScanError, match=r"test_scan\.py:\d+: output #0 .*float64.*float32"):
        tensorc.scan(lambda v, acc: acc + v, sequences=x,
                     outputs_info=T.constant(np.float32(0)))


def test_invalid_taps_are_named() -> None:
    x = T.dvector("x")
    with pytest.raises(ScanError, match=r"negative \(past values\), got \[-1, 1\]"):
        tensorc.scan(lambda a, b: a + b, outputs_info=dict(initial=x, taps=[-1, 1]),
                     n_steps=3)
    with pytest.raises(ScanError, match=r"increasing, got \[1, 0\]"):
        tensorc.scan(lambda a, b: a + b, sequences=dict(input=x, taps=[1, 0]))
    with pytest.raises(ScanError, match="sequences or n_steps"):
        tensorc.scan(lambda h: h, outputs_info=x)


# -- taps ---------------------------------------------------------------------------


def test_fibonacci_with_two_output_taps(mode: str) -> None:
    x0, n = T.dvector("x0"), T.iscalar("n")
    fib, _ = tensorc.scan(lambda a, b: a + b, n_steps=n,
                          outputs_info=dict(initial=x0, taps=[-2, -1]))
    f = tensorc.function([x0, n], fib, mode=mode)
    np.testing.assert_allclose(f(np.array([0.0, 1.0]), 8), [1, 2, 3, 5, 8, 13, 21, 34])
    np.testing.assert_allclose(f(np.array([9.0, 0.0, 1.0]), 2), [1, 2])  # the last two


def test_sequence_and_output_taps_together_with_gradients(mode: str) -> None:
    """Theano's documented example: u[t-4] + u[t] + u[t+2] and x[t-2], x[t-1]."""
    u, x_init, w = T.dmatrix("u"), T.dmatrix("x_init"), T.dmatrix("w")

    def step(u_tm4, u_t, u_tp2, x_tm2, x_tm1, w):
        return T.dot(u_tm4 + u_t + u_tp2, w) + x_tm2 + x_tm1

    out, _ = tensorc.scan(step, sequences=dict(input=u, taps=[-4, 0, 2]),
                          outputs_info=dict(initial=x_init, taps=[-2, -1]),
                          non_sequences=w)
    f = tensorc.function([u, x_init, w], [out, *T.grad(out.sum(), [u, x_init, w])],
                         mode=mode)

    def reference(uv, xi, wv):
        xs = [xi[0], xi[1]]
        for t in range(4, len(uv) - 2):
            xs.append((uv[t - 4] + uv[t] + uv[t + 2]) @ wv + xs[-2] + xs[-1])
        return np.array(xs[2:])

    values = [RNG.standard_normal((10, 3)), RNG.standard_normal((2, 3)),
              RNG.standard_normal((3, 3)) * 0.5]
    got = f(*values)
    np.testing.assert_allclose(got[0], reference(*values), rtol=1e-12)
    for index, gradient in enumerate(got[1:]):
        numeric = central_differences(lambda *v: reference(*v).sum(), values, index)
        np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-6)


def test_too_few_steps_and_shape_changes_fail_at_run_time(mode: str) -> None:
    x, k = T.dvector("x"), T.lscalar("k")
    out, _ = tensorc.scan(lambda v: v * 2, sequences=x, n_steps=k)
    f = tensorc.function([x, k], out, mode=mode)
    with pytest.raises(TensorcError, match=r"tc\.scan \(created at .*test_scan\.py:\d+\)"):
        f(np.ones(3), 5)
    with pytest.raises(TensorcError, match="at least 1"):
        f(np.ones(3), 0)
    np.testing.assert_allclose(f(np.ones(3), 2), [2.0, 2.0])


def test_a_scan_graph_has_a_cache_key() -> None:
    from tensorc.frontend.graph_key import graph_key

    inputs, hs, loss = rnn_graph()
    assert graph_key(inputs, [loss]) is not None
    assert graph_key(inputs, [loss]) == graph_key(inputs, [loss])


def test_scan_on_the_gpu_is_reported_with_the_users_line() -> None:
    x = T.dvector("x")
    out, _ = tensorc.scan(lambda v: v * 2, sequences=x)
    with pytest.raises(TensorcError, match=r"test_scan\.py:\d+\): scan runs on the CPU"):
        tensorc.function([x], out, device="cuda-emu")


def test_printing_a_scan() -> None:
    x = T.dvector("x")
    out, _ = tensorc.scan(lambda v, acc: acc + v, sequences=x,
                          outputs_info=T.constant(0.0))
    assert "scan(" in tensorc.pp(out) and "step(x[t], state[t-1])" in tensorc.pp(out)
    f = tensorc.function([x], out)
    from tensorc.printing import debugprint

    assert "scan{body=@scan_body_0" in debugprint(f, file=io.StringIO())
    (total, doubled), _ = tensorc.scan(lambda v, acc: (acc + v, v * 2), sequences=x,
                                       outputs_info=[T.constant(0.0), None])
    g = tensorc.function([x], doubled)
    (shown,) = g.maker.fgraph.outputs  # the second result of a multi-result op
    assert shown.op == "scan" and shown.attrs["output"] == 1


# -- updates and random numbers inside the step --------------------------------------


def test_shared_updates_returned_by_the_step_accumulate(mode: str) -> None:
    """The scan tutorial's accumulator: the step's updates become states and scan
    returns their last values as updates."""
    k = tensorc.shared(np.int64(0))
    n = T.iscalar("n")
    _, updates = tensorc.scan(lambda: {k: k + 1}, n_steps=n)
    accumulator = tensorc.function([n], [], updates=updates, mode=mode)
    accumulator(5)
    assert k.get_value() == 5
    total = tensorc.shared(0.0)
    x = T.dvector("x")
    seen, updates = tensorc.scan(lambda v: (total * 1.0, {total: total + v}), sequences=x)
    f = tensorc.function([x], seen, updates=updates, mode=mode)
    np.testing.assert_allclose(f(np.array([1.0, 2.0, 3.0])), [0.0, 1.0, 3.0])
    assert total.get_value() == pytest.approx(6.0)
    np.testing.assert_allclose(f(np.array([1.0])), [6.0])


def test_random_numbers_drawn_in_the_step_differ_per_step_and_per_call(mode: str) -> None:
    from tensorc.tensor.shared_randomstreams import RandomStreams

    def draws(seed: int):
        srng = RandomStreams(seed)
        out, _ = tensorc.scan(lambda i: srng.uniform((3,)), sequences=T.arange(4))
        return tensorc.function([], out, mode=mode)

    f = draws(7)
    first, second = f(), f()
    assert first.shape == (4, 3) and len({tuple(row) for row in first}) == 4
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(draws(7)(), first)  # the same seed: the same numbers


def test_a_gibbs_chain_samples_in_every_step(mode: str) -> None:
    """The RBM tutorial's shape: binomial samples of a state, k steps."""
    from tensorc.tensor.shared_randomstreams import RandomStreams

    srng = RandomStreams(3)
    w = tensorc.shared(RNG.standard_normal((6, 6)) * 0.1)
    v0 = T.dvector("v0")

    def gibbs(v):
        p = T.nnet.sigmoid(T.dot(v, w))
        return T.cast(srng.binomial(size=p.shape, p=p), "float64")

    chain, _ = tensorc.scan(gibbs, outputs_info=v0, n_steps=50)
    samples = tensorc.function([v0], chain, mode=mode)(np.zeros(6))
    assert set(np.unique(samples)) <= {0.0, 1.0}
    assert 0.3 < samples.mean() < 0.7 and len({tuple(s) for s in samples}) > 10


def test_a_step_failing_late_leaves_shared_variables_untouched(mode: str) -> None:
    w = tensorc.shared(np.ones(4))
    idx = T.lvector("idx")
    out, _ = tensorc.scan(lambda i, acc: acc + w[i], sequences=idx,
                          outputs_info=T.constant(0.0))
    f = tensorc.function([idx], out[-1], updates=[(w, w * 2)], mode=mode)
    assert f(np.array([0, 1])) == pytest.approx(2.0)
    with pytest.raises(TensorcError, match=r"test_scan\.py:\d+\): index"):
        f(np.array([0, 1, 9]))  # the third step fails
    np.testing.assert_array_equal(w.get_value(), np.full(4, 2.0))


def test_until_is_importable_and_refused_clearly() -> None:
    from tensorc.scan_module import until

    x = T.dvector("x")
    with pytest.raises(ScanError, match=r"scan at .*test_scan\.py:\d+: `until`"):
        tensorc.scan(lambda v, acc: (acc + v, until(acc > 10)), sequences=x,
                     outputs_info=T.constant(0.0))
