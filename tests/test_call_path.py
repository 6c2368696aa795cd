"""The call path of compiled functions, through the CPython extension
(tensorc.runtime.pyentry) and through ctypes (TENSORC_PYENTRY=0): argument
conversion and errors, trust_input, shared variables and updates, run-time check
failures, output ownership, in-place outputs, threads, and the cost of a call."""

from __future__ import annotations

import ctypes
import gc
import threading
import time
import weakref
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import run_forked

import tensorc
import tensorc.tensor as T
from tensorc.errors import DTypeError, ShapeError
from tensorc.frontend.function import In
from tensorc.runtime import cpu, pyentry


@pytest.fixture(params=["native", "ctypes"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Functions compiled in a test use the extension or the ctypes path."""
    if request.param == "ctypes":
        monkeypatch.setenv("TENSORC_PYENTRY", "0")
    else:
        monkeypatch.delenv("TENSORC_PYENTRY", raising=False)
        assert pyentry.load() is not None, "the extension builds on this machine"
    return request.param


@pytest.fixture
def extension(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The extension module, whatever TENSORC_PYENTRY says outside the test."""
    monkeypatch.delenv("TENSORC_PYENTRY", raising=False)
    module = pyentry.load()
    assert module is not None, "the extension builds on this machine"
    return module


def uses_extension(f: tensorc.Function) -> bool:
    return type(f._call).__name__ == "FunctionCall"


# region conversions and errors


def test_scalar_and_vector_results(path: str) -> None:
    x, v = T.dscalar("x"), T.dvector("v")
    f, g = tensorc.function([x], x * 2), tensorc.function([v], v * 2)
    assert uses_extension(f) == (path == "native")
    out = f(np.asarray(1.5))
    assert type(out) is np.ndarray and out.shape == () and out.dtype == np.float64
    assert out == 3.0
    np.testing.assert_array_equal(g(np.arange(10.0)), np.arange(10.0) * 2)
    assert g(np.zeros(0)).shape == (0,)
    result = g(np.ones(3))
    assert (
        result.flags.c_contiguous
        and result.flags.writeable
        and result.flags.owndata is False
    )


def test_values_that_need_conversion(path: str) -> None:
    v = T.dvector("v")
    f = tensorc.function([v], v + 1)
    base = np.arange(8.0)
    big_endian = base.astype(">f8")
    misaligned = np.frombuffer(b"\0" + base.tobytes(), dtype=np.float64, offset=1)
    assert not misaligned.flags.aligned
    for value in (base[::2], big_endian, misaligned, [0.0, 2.0], base.astype(np.int32)):
        np.testing.assert_array_equal(f(value), np.asarray(value, np.float64) + 1)
    assert f(3.0 * np.ones(1))[0] == 4.0
    s = T.dscalar("s")
    assert tensorc.function([s], s * 2)(1.25) == 2.5


def test_errors_name_the_input(path: str) -> None:
    x = T.matrix("x", dtype="float32")
    f = tensorc.function([x], x * 2)
    with pytest.raises(DTypeError, match="input 'x'.*float32.*float64"):
        f(np.ones((2, 2)))
    np.testing.assert_array_equal(
        tensorc.function([x], x * 2, allow_input_downcast=True)(np.ones((2, 2))),
        np.full((2, 2), 2, np.float32),
    )
    with pytest.raises(ShapeError, match="input 'x'.*2 dims; got 1"):
        f(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="takes 1 inputs, got 2"):
        f(np.ones((1, 1), np.float32), np.ones((1, 1), np.float32))
    with pytest.raises(TypeError, match="missing value"):
        f()


def test_static_dims_are_checked(path: str) -> None:
    x = T.tensor("float64", shape=(None, 3), name="x")
    f = tensorc.function([x], x.sum(axis=1))
    np.testing.assert_array_equal(f(np.ones((2, 3))), [3.0, 3.0])
    with pytest.raises(ShapeError, match="input 'x'.*dim 1 to be 3"):
        f(np.ones((2, 4)))


def test_keywords_and_defaults(path: str) -> None:
    x, y = T.dscalars("x", "y")
    f = tensorc.function([x, In(y, value=10.0)], x - y)
    assert f(1.0) == -9.0
    assert f(np.asarray(1.0), y=np.asarray(2.0)) == -1.0
    assert f(y=3.0, x=5.0) == 2.0
    with pytest.raises(TypeError, match="unknown input name 'z'"):
        f(1.0, z=2.0)


def test_run_time_check_raises_shape_error(path: str) -> None:
    a, b = T.dvector("a"), T.dvector("b")
    f = tensorc.function([a, b], a + b)
    with pytest.raises(ShapeError, match=r"test_call_path\.py:\d+.* \(got 3 and 4\)"):
        f(np.ones(3), np.ones(4))


def test_trust_input_skips_checks_but_never_crashes(path: str) -> None:
    x = T.dvector("x")
    f = tensorc.function([x], x * 2, trust_input=True)
    assert f.trust_input
    np.testing.assert_array_equal(f(np.ones(4)), np.full(4, 2.0))
    # not an ndarray, or one of another rank: converted, or the usual error
    np.testing.assert_array_equal(f([1.0, 2.0]), [2.0, 4.0])
    with pytest.raises(ShapeError, match="1 dims; got 0"):
        f(np.asarray(1.0))
    np.testing.assert_array_equal(f(np.float64(3.0) * np.ones(1)), [6.0])


# endregion
# region shared variables and updates


def test_updates_apply_after_all_outputs(path: str) -> None:
    w = tensorc.shared(np.array([1.0, 2.0]), name="w")
    count = tensorc.shared(np.int64(0), name="count")
    x = T.dvector("x")
    f = tensorc.function(
        [x], [(w * x).sum(), w * 1.0], updates=[(w, w - 0.5 * x), (count, count + 1)]
    )
    total, old = f(np.array([2.0, 2.0]))
    assert total == 6.0
    np.testing.assert_array_equal(old, [1.0, 2.0])  # outputs see the old value
    np.testing.assert_array_equal(w.get_value(), [0.0, 1.0])
    assert count.get_value() == 1
    with pytest.raises(ShapeError):
        f(np.ones(3))  # fails inside the kernel: nothing is updated
    np.testing.assert_array_equal(w.get_value(), [0.0, 1.0])
    assert count.get_value() == 1
    w.set_value(np.arange(5.0)[::2])  # strided values are stored contiguous
    f(np.zeros(3))
    np.testing.assert_array_equal(w.get_value(), [0.0, 2.0, 4.0])
    assert count.get_value() == 2
    f(x=np.zeros(3))  # keywords take the slow path
    assert count.get_value() == 3


def test_shared_values_stay_plain_arrays(path: str) -> None:
    """Calls through every path leave the shared value an array over its own
    buffer (never a view of a view of ...), updated in place or replaced."""
    w = tensorc.shared(np.zeros(3), name="w")
    x = T.dvector("x")
    f = tensorc.function([x], [], updates={w: w + x})
    for value in (np.ones(3), [1.0, 1.0, 1.0], np.ones(6)[::2]):
        f(value)
        f(x=value)
        assert not isinstance(w.get_value(borrow=True).base, np.ndarray)
    np.testing.assert_array_equal(w.get_value(), [6.0, 6.0, 6.0])


def test_function_without_outputs(path: str) -> None:
    acc = tensorc.shared(np.zeros(2), name="acc")
    x = T.dvector("x")
    f = tensorc.function([x], updates={acc: acc + x})
    assert f(np.ones(2)) == []
    assert f(np.ones(2)) == []
    np.testing.assert_array_equal(acc.get_value(), [2.0, 2.0])


# endregion
# region ownership, in-place outputs, threads

ALIASING_ENTRY = r"""
#include <stdint.h>
#include <stdlib.h>
static long long live;
/* out0 = a + b (fresh), out1 = b updated in place (b += 1), out2 = b's buffer
   seen as a 1-element prefix */
int tensorc_entry_main(void *const *in_data, const int64_t *in_shapes,
                       void **out_data, int64_t *out_shapes, char *err,
                       int64_t err_len) {
    const double *a = in_data[0];
    double *b = in_data[1];
    int64_t n = in_shapes[0];
    double *sum = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!sum) return 2;
    ++live;
    for (int64_t i = 0; i < n; ++i) { sum[i] = a[i] + b[i]; b[i] += 1; }
    out_data[0] = sum; out_shapes[0] = n;
    out_data[1] = b; out_shapes[1] = n;
    out_data[2] = b; out_shapes[2] = n ? 1 : 0;
    return 0;
}
void tensorc_free(void *p) { --live; free(p); }
long long tensorc_test_live(void) { return live; }
"""


@pytest.fixture(scope="module")
def aliasing_kernel() -> cpu.CpuKernel:
    library = cpu.build_library(ALIASING_ENTRY)
    f64 = np.dtype(np.float64)
    return cpu.CpuKernel(
        library.path, None, "main", [(f64, (None,)), (f64, (None,))], [(f64, 1)] * 3
    )


def live_buffers(kernel: cpu.CpuKernel) -> int:
    live = ctypes.CDLL(str(kernel.library_path)).tensorc_test_live
    live.restype = ctypes.c_longlong
    return live()


@pytest.mark.parametrize("native", [True, False])
def test_outputs_are_freed_and_in_place_outputs_are_the_input(
    aliasing_kernel: cpu.CpuKernel, native: bool, extension: ModuleType
) -> None:
    call = aliasing_kernel.native() if native else aliasing_kernel
    a, b = np.arange(3.0), np.zeros(3)
    before = live_buffers(aliasing_kernel)
    total, updated, prefix = call([a, b])
    assert live_buffers(aliasing_kernel) == before + 1
    assert updated is b and prefix.base is not None
    np.testing.assert_array_equal(total, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(b, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(prefix, [1.0])
    del total, updated, prefix
    gc.collect()
    assert live_buffers(aliasing_kernel) == before  # freed once, b never


def test_kernel_rejects_non_conforming_arrays(
    aliasing_kernel: cpu.CpuKernel, extension: ModuleType
) -> None:
    kernel = aliasing_kernel.native()
    with pytest.raises(TypeError, match="takes 2 inputs, got 1"):
        kernel([np.zeros(2)])
    with pytest.raises(TypeError, match="kernel input 1 must be"):
        kernel([np.zeros(2), np.zeros(4)[::2]])
    with pytest.raises(TypeError, match="kernel input 0 must be"):
        kernel([np.zeros(2, np.float32), np.zeros(2)])


def test_abi_constants_agree_with_the_emitter() -> None:
    from tensorc.lowering.cpu import c_emitter

    assert cpu.ENTRY_PREFIX == c_emitter.ENTRY_PREFIX
    assert cpu.STATUS_ASSERT == pyentry.STATUS_ASSERT == c_emitter.STATUS_ASSERT
    assert (
        cpu.STATUS_OUT_OF_MEMORY
        == pyentry.STATUS_OUT_OF_MEMORY
        == c_emitter.STATUS_OUT_OF_MEMORY
    )


def test_concurrent_calls_release_the_gil_for_large_inputs(path: str) -> None:
    x = T.dvector("x")
    f = tensorc.function([x], (x * x).sum())
    arrays = [np.full(1 << 15, float(i)) for i in range(4)]  # 256 KiB each
    failures: list[float] = []

    def worker(a: np.ndarray) -> None:
        for _ in range(50):
            value = float(f(a))
            if value != a[0] * a[0] * a.size:
                failures.append(value)

    threads = [threading.Thread(target=worker, args=(a,)) for a in arrays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_threaded_kernels_run_in_a_forked_child(path: str) -> None:
    """libgomp's pool does not survive fork(): without the runtime turning threads
    off in the child, its first parallel region hangs."""
    x = T.dvector("x")
    f = tensorc.function([x], (T.exp(x) * 2).sum())
    big = np.ones(1 << 20)  # far past the prelude's threading threshold
    expected = float(f(big))
    assert run_forked(lambda: float(f(big)) == expected,
                      "the forked child hung in a threaded kernel")


def test_functions_are_garbage_collected(path: str) -> None:
    x = T.dvector("x")
    f = tensorc.function([x], x + 1)
    f(np.ones(2))
    alive = weakref.ref(f)
    del f
    gc.collect()
    assert alive() is None


# endregion
# region cost of a call


def best_call_seconds(call: object, argument: np.ndarray, calls: int = 2000) -> float:
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(calls):
            call(argument)  # type: ignore[operator]
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def test_call_overhead_is_a_few_hundred_nanoseconds(extension: ModuleType) -> None:
    """W5's target is under 1 us with trust_input (bench/run.py measures it); the
    bound here leaves room for a loaded machine but not for a ctypes call
    (several microseconds)."""
    x = T.dvector("x")
    f = tensorc.function([x], x * 2, trust_input=True)
    assert uses_extension(f)
    assert best_call_seconds(f, np.ones(10)) < 2.5e-6


def test_extension_falls_back_to_ctypes_without_headers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TENSORC_CACHE_DIR", str(tmp_path))  # nothing built yet
    monkeypatch.setattr(pyentry, "_module", None)
    monkeypatch.setattr(pyentry, "_failed", False)
    monkeypatch.setattr(pyentry, "headers", lambda: None)
    x = T.dvector("x")
    f = tensorc.function([x], x * 3)
    assert not uses_extension(f) and pyentry.load() is None
    np.testing.assert_array_equal(f(np.ones(2)), [3.0, 3.0])


def test_a_function_switches_to_the_extension_once_it_is_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first compile on a machine does not wait for the extension's C
    compile: the function calls through ctypes, then through the extension."""
    monkeypatch.setenv("TENSORC_CACHE_DIR", str(tmp_path))  # nothing built yet
    monkeypatch.delenv("TENSORC_PYENTRY", raising=False)
    for name, value in [("_module", None), ("_failed", False), ("_builder", None)]:
        monkeypatch.setattr(pyentry, name, value)
    monkeypatch.setattr(pyentry, "_waiting", [])
    release = threading.Event()
    build = pyentry._build_and_import

    def slow_build() -> ModuleType | None:
        release.wait(60)
        return build()

    monkeypatch.setattr(pyentry, "_build_and_import", slow_build)
    x = T.dvector("x")
    f = tensorc.function([x], x * 5)
    assert not uses_extension(f)
    np.testing.assert_array_equal(f(np.ones(2)), [5.0, 5.0])
    release.set()
    pyentry.wait(60)
    assert uses_extension(f)
    np.testing.assert_array_equal(f(np.ones(2)), [5.0, 5.0])
    np.testing.assert_array_equal(f(x=[1.0]), [5.0])  # the slow path too


def test_extension_is_loaded_from_the_cache(extension: ModuleType) -> None:
    assert Path(extension.__file__).parent.name == "ext"
    assert {"Kernel", "FunctionCall"} <= set(dir(extension))


# endregion
