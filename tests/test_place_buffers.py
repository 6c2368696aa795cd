"""tc-place-buffers: updates of shared variables written in place (and only where
that is safe), intermediates reused in place or kept in workspace slots between
calls, and the pass contract on bufferized IR."""

from __future__ import annotations

import ctypes
import threading

import numpy as np
import pytest
from xdsl.dialects import memref
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

import tensorc
import tensorc.tensor as T
from tensorc.errors import ShapeError
from tensorc.passes.place_buffers import ALIAS_ATTR, SLOT_ATTR, PlaceBuffersPass
from tensorc.pipeline import make_context
from tensorc.runtime.cpu import compile_module


def parse(text: str) -> ModuleOp:
    module = Parser(make_context(), text).parse_module()
    module.verify()
    return module


def placed(text: str) -> ModuleOp:
    module = parse(text)
    PlaceBuffersPass().apply(make_context(), module)
    module.verify()
    return module


def workspace_growths(f: tensorc.function) -> int:
    """How often the calling thread's workspace slots of `f` were allocated."""
    kernel = f._compiled.kernel
    growths = ctypes.CDLL(str(kernel.library_path)).tensorc_workspace_growths
    growths.restype = ctypes.c_int64
    return growths()


# region updates of shared variables


def test_update_is_written_into_the_shared_value() -> None:
    rng = np.random.default_rng(0)
    x = tensorc.shared(rng.standard_normal(1000), name="x")
    c = T.dvector("c")
    cost = T.sum((x - c) ** 2)
    step = tensorc.function([c], cost, updates={x: x - 0.1 * T.grad(cost, x)})
    c_value = rng.standard_normal(1000)
    for _ in range(3):
        old = x.get_value()
        storage = x.get_value(borrow=True)
        got = step(c_value)
        np.testing.assert_allclose(got, np.sum((old - c_value) ** 2), rtol=1e-12)
        np.testing.assert_allclose(x.get_value(), old - 0.2 * (old - c_value))
        assert x.get_value(borrow=True) is storage  # written in place


@pytest.mark.parametrize("outputs_first", [True, False])
def test_a_read_after_the_update_sees_the_old_value(outputs_first: bool) -> None:
    """Within one call every read of a shared variable sees its value before the
    call, wherever the read sits relative to the update."""
    x = tensorc.shared(np.arange(6.0), name="x")
    y = T.dvector("y")
    new = x + y
    later = T.exp(x) * 2.0 + new  # reads the old x and the new value
    outputs = [later, x * 3.0] if outputs_first else [x * 3.0, later]
    f = tensorc.function([y], outputs, updates={x: new})
    old, y_value = np.arange(6.0), np.full(6, 0.5)
    got = f(y_value)
    if not outputs_first:
        got = got[::-1]
    np.testing.assert_allclose(got[0], np.exp(old) * 2.0 + old + y_value)
    np.testing.assert_allclose(got[1], old * 3.0)
    np.testing.assert_allclose(x.get_value(), old + y_value)
    got = f(y_value)  # the second call starts from the updated value
    np.testing.assert_allclose(x.get_value(), old + 2 * y_value)


def test_swapped_updates_read_the_values_before_the_call() -> None:
    a = tensorc.shared(np.array([1.0, 2.0]), name="a")
    b = tensorc.shared(np.array([3.0, 4.0]), name="b")
    f = tensorc.function([], [], updates=[(a, b * 1.0), (b, a * 1.0)])
    f()
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])


def test_a_failed_call_leaves_the_shared_value_untouched() -> None:
    """An update is written in place only after every check that can fail (the
    gather's index check here runs first)."""
    w = tensorc.shared(np.ones(4), name="w")
    v, i = T.dvector("v"), T.lvector("i")
    f = tensorc.function([v, i], (w + 1.0)[i].sum(), updates={w: w * v})
    storage = w.get_value(borrow=True)
    assert f(np.full(4, 2.0), np.array([0, 3])) == 4.0
    assert w.get_value(borrow=True) is storage
    np.testing.assert_array_equal(w.get_value(), np.full(4, 2.0))
    with pytest.raises(ShapeError):
        f(np.full(4, 3.0), np.array([0, 9]))  # index out of range
    np.testing.assert_array_equal(w.get_value(), np.full(4, 2.0))
    with pytest.raises(ShapeError):
        f(np.full(5, 3.0), np.array([0]))  # v too long
    np.testing.assert_array_equal(w.get_value(), np.full(4, 2.0))


def test_an_input_sharing_memory_with_the_shared_value_is_not_overwritten() -> None:
    """Passing the shared value itself as an input: the update goes to a copy."""
    w = tensorc.shared(np.arange(5.0), name="w")
    v = T.dvector("v")
    f = tensorc.function([v], (w * v).sum(), updates={w: w + v[::-1]})
    storage = w.get_value(borrow=True)
    assert f(storage) == np.sum(np.arange(5.0) ** 2)
    np.testing.assert_array_equal(storage, np.arange(5.0))  # the input is intact
    np.testing.assert_array_equal(w.get_value(), np.arange(5.0) + np.arange(5.0)[::-1])
    big = np.arange(10.0)
    w.set_value(big[:5], borrow=True)
    v_value = big[3:8]  # overlaps w's buffer without being it
    assert f(v_value) == np.sum(np.arange(5.0) * np.arange(3.0, 8.0))
    np.testing.assert_array_equal(big, np.arange(10.0))
    np.testing.assert_array_equal(w.get_value(), np.arange(5.0) + np.arange(7.0, 2, -1))


def test_a_read_only_borrowed_value_is_copied_not_written() -> None:
    frozen = np.arange(3.0)
    frozen.flags.writeable = False
    w = tensorc.shared(frozen, name="w", borrow=True)
    f = tensorc.function([], [], updates={w: w * 2.0})
    f()
    np.testing.assert_array_equal(frozen, np.arange(3.0))
    np.testing.assert_array_equal(w.get_value(), 2.0 * np.arange(3.0))


def test_outputs_are_not_allocated_before_the_checks_of_their_sizes() -> None:
    x, n = T.dvector("x"), T.lscalar("n")
    f = tensorc.function([x, n], x.reshape((n, 2)) * 2.0)
    np.testing.assert_array_equal(f(np.arange(4.0), 2), [[0.0, 2.0], [4.0, 6.0]])
    with pytest.raises(ShapeError, match="requested size of result dim 0 is negative"):
        f(np.arange(4.0), -2)


# endregion
# region workspace


def test_intermediates_allocate_only_when_shapes_grow() -> None:
    x, w = T.dmatrix("x"), T.dmatrix("w")
    hidden = T.tanh(T.dot(x, w))
    f = tensorc.function([x, w], [T.dot(hidden, w.T).sum(), hidden.max()])
    assert "tensorc_slot_acquire" in f.source
    rng = np.random.default_rng(1)

    def check(rows: int) -> None:
        xv, wv = rng.standard_normal((rows, 5)), rng.standard_normal((5, 3))
        h = np.tanh(xv @ wv)
        total, peak = f(xv, wv)
        np.testing.assert_allclose(total, (h @ wv.T).sum(), rtol=1e-10)
        np.testing.assert_allclose(peak, h.max(), rtol=1e-15)

    check(8)
    grown = workspace_growths(f)
    assert grown > 0
    for rows in (8, 4, 8, 1):
        check(rows)
    assert workspace_growths(f) == grown  # no allocation for what fits
    check(64)
    assert workspace_growths(f) > grown


def test_threads_have_their_own_workspace() -> None:
    x = T.dmatrix("x")
    f = tensorc.function([x], T.dot(T.exp(T.dot(x, x.T)), x).sum())
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((n, 3)) * 0.1 for n in (7, 20, 33, 4)]
    want = [np.sum(np.exp(v @ v.T) @ v) for v in inputs]
    failures: list[str] = []

    def work(k: int) -> None:
        for _ in range(30):
            got = f(inputs[k])
            if not np.isclose(got, want[k], rtol=1e-10):
                failures.append(f"thread {k}: {got} != {want[k]}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


# endregion
# region the pass on bufferized IR

STEP = """
func.func @main(%c: memref<?xf64>, %x: memref<?xf64> {tc.aliasing_output = 1 : i64})
    -> (memref<f64>, memref<?xf64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f64
  %n = memref.dim %x, %c0 : memref<?xf64>
  %m = memref.dim %c, %c0 : memref<?xf64>
  %same = arith.cmpi eq, %n, %m : index
  cf.assert %same, "tc.sub: lhs dim 0 differs from rhs dim 0"
  %d = memref.alloc(%m) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %a = memref.load %x[%i] : memref<?xf64>
    %b = memref.load %c[%i] : memref<?xf64>
    %s = arith.subf %a, %b : f64
    memref.store %s, %d[%i] : memref<?xf64>
  }
  %cost = memref.alloc() : memref<f64>
  %total = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f64) {
    %a = memref.load %d[%i] : memref<?xf64>
    %p = arith.mulf %a, %a : f64
    %s = arith.addf %acc, %p : f64
    scf.yield %s : f64
  }
  memref.store %total, %cost[] : memref<f64>
  %new = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %a = memref.load %x[%i] : memref<?xf64>
    %b = memref.load %d[%i] : memref<?xf64>
    %s = arith.subf %a, %b : f64
    memref.store %s, %new[%i] : memref<?xf64>
  }
  memref.dealloc %d : memref<?xf64>
  func.return %cost, %new : memref<f64>, memref<?xf64>
}
"""


def test_the_pass_places_every_buffer() -> None:
    """dims asserted equal count as equal; the update returns %x; the rest is in
    a slot; no dealloc is left."""
    module = placed(STEP)
    ops = list(module.walk())
    allocs = [op for op in ops if isinstance(op, memref.AllocOp)]
    assert [SLOT_ATTR in op.attributes for op in allocs] == [False, True]
    assert not any(isinstance(op, memref.DeallocOp) for op in ops)
    function = next(iter(module.ops))
    returned = list(function.body.block.last_op.operands)
    assert returned[1] is function.body.block.args[1]
    assert ALIAS_ATTR in function.arg_attrs.data[1].data


def test_the_placed_function_runs() -> None:
    kernel = compile_module(placed(STEP))
    c, x = np.arange(4.0), np.arange(4.0) * 3.0
    storage = x
    cost, new = kernel([c, x])
    assert cost == np.sum((3.0 * np.arange(4.0) - np.arange(4.0)) ** 2)
    assert new is storage
    np.testing.assert_array_equal(new, 3.0 * np.arange(4.0) - 2.0 * np.arange(4.0))
    same = np.arange(4.0)
    cost, new = kernel([same, same])  # %c overlaps %x: %x's update is a copy
    assert cost == 0.0 and new is not same
    np.testing.assert_array_equal(same, np.arange(4.0))


def test_the_pass_is_idempotent() -> None:
    once = placed(STEP)
    twice = once.clone()
    PlaceBuffersPass().apply(make_context(), twice)
    assert str(twice) == str(once)


# endregion
