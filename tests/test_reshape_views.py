"""Reshapes without copies: on the CPU, tc-bufferize{views=true} reshapes a stored
tensor as a view of its storage (memref.collapse_shape, then expand_shape), the C
emitter prints a view as the same pointer with other dims, and buffer placement
treats a view as its storage (lifetimes, in-place updates)."""

import numpy as np
import pytest

import tensorc
import tensorc.tensor as T
from tensorc import pipeline
from tensorc.frontend.trace import trace

RNG = np.random.default_rng(11)


def bufferized(args, results):
    module = trace(args, results)
    ctx = pipeline.make_context()
    pipeline.build(PIPELINE_TC).apply(ctx, module)
    pipeline.build(pipeline.PIPELINES["cpu"]).apply(ctx, module)
    return str(module)


PIPELINE_TC = pipeline.PIPELINES["tc"]


def test_a_reshape_of_an_intermediate_is_a_view(mode: str) -> None:
    x = T.dmatrix("x")
    y = T.exp(x).reshape((x.shape[0] * 2, -1)).sum(axis=1)
    f = tensorc.function([x], y, mode=mode)
    value = RNG.standard_normal((4, 6))
    np.testing.assert_allclose(f(value), np.exp(value).reshape(8, -1).sum(1), rtol=1e-14)
    text = bufferized([x], [y])
    assert "memref.collapse_shape" in text and "memref.expand_shape" in text


def test_a_returned_view_is_a_fresh_buffer(mode: str) -> None:
    x = T.dmatrix("x")
    f = tensorc.function([x], [x.reshape((-1,)), (x * 2).reshape((3, -1))], mode=mode)
    value = np.arange(6.0).reshape(2, 3)
    flat, other = f(value)
    np.testing.assert_array_equal(flat, value.ravel())
    np.testing.assert_array_equal(other, (value * 2).reshape(3, 2))
    flat[0] = 99.0
    assert value[0, 0] == 0.0 and not np.shares_memory(flat, value)


def test_an_in_place_update_waits_for_the_reads_through_a_view(mode: str) -> None:
    """w's update may write into w's storage, but only after everything that
    reads w (here through a reshaped view) has read the old value."""
    w = tensorc.shared(np.arange(6.0).reshape(2, 3))
    x = T.dvector("x")
    seen = T.dot(w.reshape((3, 2)).T.reshape((6,)), x)
    f = tensorc.function([x], seen, updates=[(w, w * 10 + 1)], mode=mode)
    old = w.get_value()
    ones = np.ones(6)
    assert f(ones) == pytest.approx(old.reshape(3, 2).T.reshape(6) @ ones)
    np.testing.assert_array_equal(w.get_value(), old * 10 + 1)


def test_views_of_views_and_of_constants(mode: str) -> None:
    x = T.dtensor3("x")
    table = T.constant(np.arange(12.0))
    y = (x.reshape((-1,)).reshape((2, -1)) + table.reshape((2, 6))).max(axis=0)
    f = tensorc.function([x], y, mode=mode)
    value = RNG.standard_normal((2, 2, 3))
    want = (value.reshape(2, -1) + np.arange(12.0).reshape(2, 6)).max(axis=0)
    np.testing.assert_allclose(f(value), want, rtol=1e-14)


def test_the_gpu_pipeline_copies() -> None:
    assert "views" not in pipeline.PIPELINES["cuda"]
