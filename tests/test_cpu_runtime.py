"""CPU runtime on hand-written bufferized modules: loops and reductions, scf.if,
asserts (message, values, no leak), gemm vs numpy, output ownership, the compile
cache (reuse across processes, concurrent builds) and compiler errors."""

from __future__ import annotations

import ctypes
import gc
import os
import shlex
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

from tensorc.errors import CompileError, CompilerNotFoundError, ShapeError
from tensorc.pipeline import make_context
from tensorc.runtime import cpu
from tensorc.runtime.cpu import CpuKernel, compile_module, find_c_compiler


def parse(text: str) -> ModuleOp:
    module = Parser(make_context(), text).parse_module()
    module.verify()
    return module


# Counts live allocations of a kernel: compiled in front of the module with
# `-include`, it routes the prelude's aligned_alloc/free through counters.
COUNTING_HEADER = """
#include <stdlib.h>
static long long tc_test_live;
static void *tc_test_aligned_alloc(size_t alignment, size_t size) {
    void *p = aligned_alloc(alignment, size);
    if (p) ++tc_test_live;
    return p;
}
static void tc_test_free(void *p) {
    if (p) --tc_test_live;
    free(p);
}
long long tensorc_test_live(void) { return tc_test_live; }
#define aligned_alloc tc_test_aligned_alloc
#define free tc_test_free
"""


@pytest.fixture(scope="module")
def counting(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    header = tmp_path_factory.mktemp("counting") / "counting.h"
    header.write_text(COUNTING_HEADER)
    return ("-include", str(header))


def live_allocations(kernel: CpuKernel) -> int:
    live = ctypes.CDLL(str(kernel.library_path)).tensorc_test_live
    live.restype = ctypes.c_longlong
    return live()


# region loops, reductions, scf.if

REDUCTIONS = """
func.func @main(%a: memref<?x?xf64>) -> (memref<?xf64>, memref<f64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f64
  %m = memref.dim %a, %c0 : memref<?x?xf64>
  %n = memref.dim %a, %c1 : memref<?x?xf64>
  %rows = memref.alloc(%m) : memref<?xf64>
  %total = memref.alloc() : memref<f64>
  memref.store %zero, %total[] : memref<f64>
  scf.for %i = %c0 to %m step %c1 {
    %s = scf.for %j = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f64) {
      %x = memref.load %a[%i, %j] : memref<?x?xf64>
      %t = memref.load %total[] : memref<f64>
      %t2 = arith.addf %t, %x : f64
      memref.store %t2, %total[] : memref<f64>
      %acc2 = arith.addf %acc, %x : f64
      scf.yield %acc2 : f64
    }
    memref.store %s, %rows[%i] : memref<?xf64>
  }
  func.return %rows, %total : memref<?xf64>, memref<f64>
}
"""


@pytest.fixture(scope="module")
def reductions() -> CpuKernel:
    return compile_module(parse(REDUCTIONS))


@pytest.mark.parametrize("shape", [(3, 4), (1, 1), (0, 5), (5, 0), (64, 33)])
def test_reductions_with_iter_args_and_memref_accumulator(
    reductions: CpuKernel, shape: tuple[int, int]
) -> None:
    a = np.random.default_rng(0).standard_normal(shape)
    rows, total = reductions([a])
    np.testing.assert_allclose(rows, a.sum(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(total, a.sum(), rtol=1e-12, atol=1e-12)
    assert rows.shape == (shape[0],) and total.shape == ()
    assert rows.dtype == np.float64 and rows.flags.c_contiguous and rows.flags.writeable


def test_carried_values_update_simultaneously() -> None:
    """(a, b) -> (b, a + b) and a plain swap: assigning one by one would be wrong."""
    text = """
    func.func @main(%steps: memref<index>) -> (memref<i64>, memref<i64>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %zero = arith.constant 0 : i64
      %one = arith.constant 1 : i64
      %seven = arith.constant 7 : i64
      %n = memref.load %steps[] : memref<index>
      %fa, %fb = scf.for %i = %c0 to %n step %c1
          iter_args(%a = %zero, %b = %one) -> (i64, i64) {
        %s = arith.addi %a, %b : i64
        scf.yield %b, %s : i64, i64
      }
      %sa, %sb = scf.for %i = %c0 to %n step %c1
          iter_args(%x = %seven, %y = %fa) -> (i64, i64) {
        scf.yield %y, %x : i64, i64
      }
      %o1 = memref.alloc() : memref<i64>
      %o2 = memref.alloc() : memref<i64>
      memref.store %fa, %o1[] : memref<i64>
      memref.store %sa, %o2[] : memref<i64>
      func.return %o1, %o2 : memref<i64>, memref<i64>
    }"""
    kernel = compile_module(parse(text))
    fib, swapped = kernel([np.array(10, np.int64)])
    assert fib == 55 and swapped == 7  # an even number of swaps
    fib, swapped = kernel([np.array(11, np.int64)])
    assert fib == 89 and swapped == 89


def test_scf_if_with_results_and_without_else() -> None:
    text = """
    func.func @main(%a: memref<?xf32>) -> (memref<?xf32>, memref<?xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %zero = arith.constant 0.0 : f32
      %n = memref.dim %a, %c0 : memref<?xf32>
      %relu = memref.alloc(%n) : memref<?xf32>
      %neg = memref.alloc(%n) : memref<?xf32>
      scf.for %i = %c0 to %n step %c1 {
        %x = memref.load %a[%i] : memref<?xf32>
        %positive = arith.cmpf ogt, %x, %zero : f32
        %y = scf.if %positive -> (f32) {
          scf.yield %x : f32
        } else {
          scf.yield %zero : f32
        }
        memref.store %y, %relu[%i] : memref<?xf32>
        memref.store %zero, %neg[%i] : memref<?xf32>
        %negative = arith.cmpf olt, %x, %zero : f32
        scf.if %negative {
          memref.store %x, %neg[%i] : memref<?xf32>
        }
      }
      func.return %relu, %neg : memref<?xf32>, memref<?xf32>
    }"""
    a = np.array([-2.0, -0.0, 0.0, 3.5, np.nan, np.inf, -np.inf], np.float32)
    relu, neg = compile_module(parse(text))([a])
    np.testing.assert_array_equal(relu, np.where(a > 0, a, 0))
    np.testing.assert_array_equal(neg, np.where(a < 0, a, 0))


# endregion
# region asserts, leaks, ownership

MISMATCH = """
func.func @main(%a: memref<?xf64>, %b: memref<?xf64>) -> memref<?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %a, %c0 : memref<?xf64>
  %m = memref.dim %b, %c0 : memref<?xf64>
  %early = memref.alloc(%n) : memref<?xf64>
  %same = arith.cmpi eq, %n, %m : index
  cf.assert %same, "tc.add (created at model.py:12): lhs dim 0 differs from rhs dim 0"
  %out = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %x = memref.load %a[%i] : memref<?xf64>
    %y = memref.load %b[%i] : memref<?xf64>
    %s = arith.addf %x, %y : f64
    memref.store %s, %early[%i] : memref<?xf64>
    %t = memref.load %early[%i] : memref<?xf64>
    %u = arith.mulf %t, %t : f64
    memref.store %u, %out[%i] : memref<?xf64>
  }
  func.return %out : memref<?xf64>
}
"""


def test_failed_assert_raises_with_message_and_values_and_frees(
    counting: tuple[str, ...],
) -> None:
    kernel = compile_module(parse(MISMATCH), extra_flags=counting)
    with pytest.raises(ShapeError) as info:
        kernel([np.zeros(3), np.zeros(4)])
    assert str(info.value) == (
        "tc.add (created at model.py:12): lhs dim 0 differs from rhs dim 0"
        " (got 3 and 4)"
    )
    assert live_allocations(kernel) == 0
    (out,) = kernel([np.arange(3.0), np.ones(3)])
    np.testing.assert_array_equal(out, (np.arange(3.0) + 1) ** 2)
    assert live_allocations(kernel) == 1  # the output; the temporary is freed
    del out
    gc.collect()
    assert live_allocations(kernel) == 0


def test_assert_in_nested_loop_frees_everything(counting: tuple[str, ...]) -> None:
    """A gather-like bounds check deep in a loop nest, on a non-cmpi condition."""
    text = """
    func.func @main(%x: memref<?xf32>, %idx: memref<?x?xi64>) -> memref<?x?xf32> {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %zero = arith.constant 0 : i64
      %n = memref.dim %x, %c0 : memref<?xf32>
      %r = memref.dim %idx, %c0 : memref<?x?xi64>
      %c = memref.dim %idx, %c1 : memref<?x?xi64>
      %limit = arith.index_cast %n : index to i64
      %scratch = memref.alloc(%r) : memref<?xf32>
      %out = memref.alloc(%r, %c) : memref<?x?xf32>
      scf.for %i = %c0 to %r step %c1 {
        scf.for %j = %c0 to %c step %c1 {
          %k = memref.load %idx[%i, %j] : memref<?x?xi64>
          %low = arith.cmpi sge, %k, %zero : i64
          %high = arith.cmpi slt, %k, %limit : i64
          %ok = arith.andi %low, %high : i1
          cf.assert %ok, "tc.gather (created at model.py:20): index out of range"
          %kk = arith.index_cast %k : i64 to index
          %v = memref.load %x[%kk] : memref<?xf32>
          memref.store %v, %out[%i, %j] : memref<?x?xf32>
        }
      }
      memref.dealloc %scratch : memref<?xf32>
      func.return %out : memref<?x?xf32>
    }"""
    kernel = compile_module(parse(text), extra_flags=counting)
    x = np.arange(5, dtype=np.float32)
    index = np.array([[0, 4, 2], [1, 1, 3]], np.int64)
    (out,) = kernel([x, index])
    np.testing.assert_array_equal(out, x[index])
    del out
    index[1, 2] = 5
    with pytest.raises(
        ShapeError, match=r"^tc.gather \(created at model.py:20\): index out of range$"
    ):
        kernel([x, index])
    assert live_allocations(kernel) == 0


def test_long_messages_are_truncated_and_terminated() -> None:
    message = "tc.reshape: " + "x" * 3000
    text = MISMATCH.replace(
        "tc.add (created at model.py:12): lhs dim 0 differs from rhs dim 0", message
    )
    with pytest.raises(ShapeError) as info:
        compile_module(parse(text))([np.zeros(1), np.zeros(2)])
    assert str(info.value) == message[: cpu.ERROR_BUFFER_BYTES - 1]


def test_static_input_dims_are_checked() -> None:
    text = """
    func.func @main(%a: memref<?x4xf64>) -> memref<?x4xf64> {
      %c0 = arith.constant 0 : index
      %n = memref.dim %a, %c0 : memref<?x4xf64>
      %o = memref.alloc(%n) : memref<?x4xf64>
      func.return %o : memref<?x4xf64>
    }"""
    kernel = compile_module(parse(text))
    with pytest.raises(ShapeError, match="input 0 has dim 1 = 5, expected 4"):
        kernel([np.zeros((2, 5))])
    assert kernel([np.zeros((2, 4))])[0].shape == (2, 4)


def test_failed_allocation_raises_memory_error(counting: tuple[str, ...]) -> None:
    text = """
    func.func @main(%a: memref<?xf64>) -> (memref<?xf64>, memref<?x?xf64>) {
      %c0 = arith.constant 0 : index
      %huge = arith.constant 4611686018427387904 : index
      %n = memref.dim %a, %c0 : memref<?xf64>
      %small = memref.alloc(%n) : memref<?xf64>
      %big = memref.alloc(%huge, %n) : memref<?x?xf64>
      func.return %small, %big : memref<?xf64>, memref<?x?xf64>
    }"""
    kernel = compile_module(parse(text), extra_flags=counting)
    with pytest.raises(
        MemoryError, match=r"out of memory allocating memref<\?x\?xf64>"
    ):
        kernel([np.zeros(2)])
    assert live_allocations(kernel) == 0


def test_dtypes_zero_size_and_0d_round_trip(counting: tuple[str, ...]) -> None:
    text = """
    func.func @main(%h: memref<?xf16>, %b: memref<?xi1>, %s: memref<i8>)
        -> (memref<?xf16>, memref<?xi1>, memref<i8>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %two = arith.constant 2.0 : f16
      %true = arith.constant true
      %one = arith.constant 1 : i8
      %n = memref.dim %h, %c0 : memref<?xf16>
      %m = memref.dim %b, %c0 : memref<?xi1>
      %oh = memref.alloc(%n) : memref<?xf16>
      %ob = memref.alloc(%m) : memref<?xi1>
      %os = memref.alloc() : memref<i8>
      scf.for %i = %c0 to %n step %c1 {
        %x = memref.load %h[%i] : memref<?xf16>
        %y = arith.mulf %x, %two : f16
        memref.store %y, %oh[%i] : memref<?xf16>
      }
      scf.for %i = %c0 to %m step %c1 {
        %x = memref.load %b[%i] : memref<?xi1>
        %y = arith.xori %x, %true : i1
        memref.store %y, %ob[%i] : memref<?xi1>
      }
      %v = memref.load %s[] : memref<i8>
      %w = arith.addi %v, %one : i8
      memref.store %w, %os[] : memref<i8>
      func.return %oh, %ob, %os : memref<?xf16>, memref<?xi1>, memref<i8>
    }"""
    kernel = compile_module(parse(text), extra_flags=counting)
    assert kernel.input_types == (
        (np.dtype(np.float16), 1),
        (np.dtype(np.bool_), 1),
        (np.dtype(np.int8), 0),
    )
    assert kernel.output_types == kernel.input_types
    h = np.array([1.5, -3.0, 40000.0], np.float16)
    b = np.array([True, False, True, True])
    oh, ob, os_ = kernel([h, b, np.array(127, np.int8)])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(oh, h * np.float16(2))
    np.testing.assert_array_equal(ob, ~b)
    assert os_.shape == () and os_ == -128
    assert [o.dtype for o in (oh, ob, os_)] == [np.float16, np.bool_, np.int8]
    empty_h, empty_b, zero = kernel([h[:0], b[:0], np.array(0, np.int8)])
    assert empty_h.shape == (0,) and empty_b.shape == (0,)
    assert empty_h.__array_interface__["data"][0] != 0  # a real (non-NULL) buffer
    assert zero == 1
    del oh, ob, os_, empty_h, empty_b, zero
    gc.collect()
    assert live_allocations(kernel) == 0


def test_constant_globals() -> None:
    text = """
    "memref.global"() <{sym_name = "weights", sym_visibility = "private",
        type = memref<2x3xf32>,
        initial_value = dense<[[1.0, 2.5, -3.0], [0.1, 5.0, 6.25]]>
        : tensor<2x3xf32>, constant}> : () -> ()
    func.func @main(%x: memref<f32>) -> memref<2x3xf32> {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c2 = arith.constant 2 : index
      %c3 = arith.constant 3 : index
      %w = memref.get_global @weights : memref<2x3xf32>
      %s = memref.load %x[] : memref<f32>
      %o = memref.alloc() : memref<2x3xf32>
      scf.for %i = %c0 to %c2 step %c1 {
        scf.for %j = %c0 to %c3 step %c1 {
          %v = memref.load %w[%i, %j] : memref<2x3xf32>
          %y = arith.mulf %v, %s : f32
          memref.store %y, %o[%i, %j] : memref<2x3xf32>
        }
      }
      func.return %o : memref<2x3xf32>
    }"""
    kernel = compile_module(parse(text))
    (out,) = kernel([np.array(2.0, np.float32)])
    weights = np.array([[1.0, 2.5, -3.0], [0.1, 5.0, 6.25]], np.float32)
    np.testing.assert_array_equal(out, weights * np.float32(2))
    assert "static const float tc_global_weights[6]" in kernel.source


def test_concurrent_calls_from_threads(reductions: CpuKernel) -> None:
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((i + 1, 7)) for i in range(8)]
    failures: list[str] = []

    def worker(a: np.ndarray) -> None:
        for _ in range(200):
            rows, _ = reductions([a])
            if not np.allclose(rows, a.sum(axis=1)):
                failures.append(f"{a.shape}")

    threads = [threading.Thread(target=worker, args=(a,)) for a in arrays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_kernel_exposes_source_types_and_library(reductions: CpuKernel) -> None:
    assert "int tensorc_entry_main(" in reductions.source
    assert reductions.input_types == ((np.dtype(np.float64), 2),)
    assert reductions.output_types == (
        (np.dtype(np.float64), 1),
        (np.dtype(np.float64), 0),
    )
    assert reductions.library_path.is_file()
    assert reductions.library_path.suffix == ".so"
    rows, _ = reductions([np.ones((2, 2))])
    assert type(rows.base).__name__ == "_OwnedBuffer"


# endregion
# region gemm


def gemm_module(dtype: str, trans_a: int, trans_b: int) -> str:
    t = {"float32": "f32", "float64": "f64"}[dtype]
    m, k = ("%a1", "%a0") if trans_a else ("%a0", "%a1")
    n = "%b0" if trans_b else "%b1"
    matrix = f"memref<?x?x{t}>"
    return f"""
    func.func private @tensorc_gemm_{t}({matrix}, {matrix}, {matrix},
        index, index, index, index, index)
    func.func @main(%a: {matrix}, %b: {matrix}) -> {matrix} {{
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %ta = arith.constant {trans_a} : index
      %tb = arith.constant {trans_b} : index
      %a0 = memref.dim %a, %c0 : {matrix}
      %a1 = memref.dim %a, %c1 : {matrix}
      %b0 = memref.dim %b, %c0 : {matrix}
      %b1 = memref.dim %b, %c1 : {matrix}
      %c = memref.alloc({m}, {n}) : {matrix}
      func.call @tensorc_gemm_{t}(%a, %b, %c, {m}, {n}, {k}, %ta, %tb)
          : ({matrix}, {matrix}, {matrix}, index, index, index, index, index) -> ()
      func.return %c : {matrix}
    }}"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_matches_numpy(dtype: str, trans_a: int, trans_b: int) -> None:
    kernel = compile_module(parse(gemm_module(dtype, trans_a, trans_b)))
    assert "scipy_cblas_" in kernel.source
    rng = np.random.default_rng(2)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for m, n, k in [
        (3, 4, 5),
        (1, 1, 1),
        (64, 48, 80),
        (2, 3, 0),
        (0, 3, 2),
        (3, 0, 2),
    ]:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        stored_a = np.ascontiguousarray(a.T) if trans_a else a
        stored_b = np.ascontiguousarray(b.T) if trans_b else b
        (c,) = kernel([stored_a, stored_b])
        assert c.shape == (m, n) and c.dtype == dtype
        np.testing.assert_allclose(c, a @ b, rtol=rtol, atol=rtol)


def test_gemm_fallback_past_blas_int_range() -> None:
    """Sizes a 32-bit blasint cannot hold take the plain loop; pretend the limit
    is 2 so small matrices exercise it."""
    kernel = compile_module(
        parse(gemm_module("float64", 1, 0)), extra_flags=("-DTENSORC_BLAS_MAX=2",)
    )
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    (c,) = kernel([a, b])
    np.testing.assert_allclose(c, a.T @ b, rtol=1e-12)


# endregion
# region cache and compiler


def write_compiler_wrapper(directory: Path, body: str) -> Path:
    """A fake `cc` that logs its arguments to `cc.log`, then runs `body`."""
    wrapper = directory / "logging-cc"
    log = directory / "cc.log"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n{body}\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return wrapper


def compiles(directory: Path) -> list[str]:
    log = directory / "cc.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if line != "--version"]


CHILD = """
import sys
import numpy as np
from xdsl.parser import Parser
from tensorc.pipeline import make_context
from tensorc.runtime.cpu import compile_module
kernel = compile_module(Parser(make_context(), open(sys.argv[1]).read()).parse_module())
rows, total = kernel([np.ones((2, 3))])
print(rows.tolist(), float(total))
"""


def run_children(count: int, module_file: Path, env: dict[str, str]) -> list[str]:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(module_file)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outputs.append(out.strip())
    return outputs


def test_cache_reuse_in_process_and_across_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENSORC_CACHE_DIR", str(tmp_path / "cache"))
    wrapper = write_compiler_wrapper(tmp_path, 'exec cc "$@"')
    first = compile_module(parse(REDUCTIONS), cc=str(wrapper))
    assert len(compiles(tmp_path)) == 1
    assert first.library_path.parent == tmp_path / "cache" / "c"
    assert (first.library_path.with_suffix(".c")).read_text() == first.source
    second = compile_module(parse(REDUCTIONS), cc=str(wrapper))
    assert second.library_path == first.library_path
    assert len(compiles(tmp_path)) == 1
    module_file = tmp_path / "reductions.mlir"
    module_file.write_text(REDUCTIONS)
    env = {**os.environ, "TENSORC_CC": str(wrapper)}
    assert run_children(1, module_file, env) == ["[3.0, 3.0] 6.0"]
    assert len(compiles(tmp_path)) == 1  # the other process only ran --version


def test_concurrent_processes_build_once(tmp_path: Path) -> None:
    # the slow compiler widens the window in which both processes want the build
    wrapper = write_compiler_wrapper(
        tmp_path, 'case "$1" in --version) ;; *) sleep 1 ;; esac\nexec cc "$@"'
    )
    module_file = tmp_path / "reductions.mlir"
    module_file.write_text(REDUCTIONS)
    env = {
        **os.environ,
        "TENSORC_CC": str(wrapper),
        "TENSORC_CACHE_DIR": str(tmp_path / "cache"),
    }
    assert run_children(2, module_file, env) == ["[3.0, 3.0] 6.0"] * 2
    assert len(compiles(tmp_path)) == 1
    leftovers = [p.name for p in (tmp_path / "cache" / "c").iterdir()]
    assert not [name for name in leftovers if name.startswith(".")]  # no temp dirs


def test_missing_compiler_names_what_was_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENSORC_CC", "/nonexistent/tensorc-cc")
    with pytest.raises(
        CompilerNotFoundError, match=r"'/nonexistent/tensorc-cc' \(from \$TENSORC_CC\)"
    ):
        compile_module(parse(REDUCTIONS))
    monkeypatch.delenv("TENSORC_CC")
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CompilerNotFoundError) as info:
        find_c_compiler()
    message = str(info.value)
    assert "'cc' (from PATH)" in message and "'gcc' (from PATH)" in message
    assert "TENSORC_CC" in message


def test_compile_error_shows_command_and_first_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENSORC_CACHE_DIR", str(tmp_path / "cache"))
    wrapper = write_compiler_wrapper(
        tmp_path,
        'case "$1" in --version) echo fake 1.0; exit 0 ;; esac\n'
        'for i in $(seq 1 30); do echo "error line $i" >&2; done\nexit 1',
    )
    with pytest.raises(CompileError) as info:
        compile_module(parse(REDUCTIONS), cc=str(wrapper))
    message = str(info.value)
    assert f"{wrapper} {shlex.join(cpu.COMPILE_FLAGS)} -o" in message
    assert "error line 20\n" in message and "error line 21" not in message
    assert "[... 10 more lines of compiler output]" in message
    assert "tensorc_entry_main" not in message  # the C itself is not dumped
    kept = Path(message.rsplit("kept at ", 1)[1].rstrip(")"))
    assert "tensorc_entry_main" in kept.read_text()


def test_real_compiler_failure_is_a_compile_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENSORC_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(CompileError, match=r"no-such-header\.h"):
        compile_module(parse(REDUCTIONS), extra_flags=("-include", "no-such-header.h"))
    assert not list((tmp_path / "cache" / "c").glob("*.so"))


# endregion
