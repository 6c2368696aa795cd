"""The GPU compiler: tc-outline-gpu-kernels, tc-promote-shared and the CUDA emitter.

- IR structure: which kernels canonical graphs become (elementwise grid-stride
  loops, row reductions, two-pass full reductions, one softmax kernel, a tiled
  matmul, hoisted index checks, atomics), and the host function's legality (no
  loops, only the ops the launch planner runs);
- shared memory: what tc-promote-shared places and plans, its fallback to global
  memory with a remark, run through the emulator (cuda-emu) against numpy;
- nvcc: the CUDA of the canonical graphs compiles for sm_75, sm_80 and sm_90;
  ptxas reports no spills, no local memory and exactly the shared-memory bytes
  tc-promote-shared planned (skipped without nvcc).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from xdsl.dialects import cf, func, gpu, memref, scf
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr
from xdsl.parser import Parser

import tensorc
import tensorc.tensor as T
from tensorc import pipeline
from tensorc.dialects import tck
from tensorc.errors import LoweringError
from tensorc.lowering.gpu.cuda_emitter import emit_cuda
from tensorc.lowering.gpu.target import DEFAULT_TARGET
from tensorc.passes.outline_gpu_kernels import OutlineGpuKernelsPass
from tensorc.passes.promote_shared import PromoteSharedPass

B = DEFAULT_TARGET.block_size
TILE = DEFAULT_TARGET.tile


def lower(inputs: list[Any], outputs: Any, **keywords: Any) -> ModuleOp:
    """The traced, optimized module of a tensorc function after the cuda pipeline."""
    f = tensorc.function(inputs, outputs, mode="REFERENCE", **keywords)
    module = f.maker.module.clone()
    pipeline.run("cuda", pipeline.make_context(), module)
    module.verify()
    return module


def kernels(module: ModuleOp) -> list[gpu.FuncOp]:
    return [op for op in module.walk() if isinstance(op, gpu.FuncOp)]


def kinds(module: ModuleOp) -> Counter[str]:
    return Counter(_kind(k) for k in kernels(module))


def _kind(kernel: gpu.FuncOp) -> str:
    attr = kernel.attributes[tck.KIND]
    assert isinstance(attr, StringAttr)
    return attr.data


def host(module: ModuleOp) -> func.FuncOp:
    return next(op for op in module.ops if isinstance(op, func.FuncOp))


def shared_bytes(kernel: gpu.FuncOp) -> int:
    attr = kernel.attributes[tck.SHARED_BYTES]
    assert isinstance(attr, IntegerAttr)
    return attr.value.data


def shared_buffers(kernel: gpu.FuncOp) -> list[memref.AllocOp]:
    return [
        op
        for op in kernel.body.block.ops
        if isinstance(op, memref.AllocOp)
        and tck.memory_space(op.memref.type) is tck.MemorySpace.SHARED
    ]


HOST_OPS = (
    "arith.",
    "memref.dim",
    "memref.alloc",
    "memref.dealloc",
    "memref.load",
    "memref.get_global",
    "memref.cast",
    "cf.assert",
    "gpu.launch_func",
    "func.return",
)


def assert_host_legal(module: ModuleOp) -> None:
    """Only scalar integer arithmetic, buffers, 0-d reads, checks and launches."""
    body = host(module).body.block
    for op in body.ops:
        assert op.name.startswith(HOST_OPS), op.name
        assert not op.regions, op.name
        if op.name.startswith("arith."):
            types = [v.type for v in (*op.operands, *op.results)]
            assert all("i" in str(t) and "f" not in str(t) for t in types), op
    assert not any(isinstance(op, scf.ForOp) for op in host(module).walk())


# ---------------------------------------------------------------------------------
# IR structure
# ---------------------------------------------------------------------------------


def test_elementwise_graph_is_one_grid_stride_kernel() -> None:
    x = T.dmatrix("x")
    module = lower([x], T.exp(x) * 2 + abs(x))
    assert kinds(module) == Counter({"elementwise": 1})
    (kernel,) = kernels(module)
    loops = [op for op in kernel.walk() if isinstance(op, scf.ForOp)]
    assert len(loops) == 1  # the grid-stride loop over rows x columns
    geometry = {op.name for op in kernel.walk() if op.name.startswith("gpu.")}
    assert {"gpu.thread_id", "gpu.block_id", "gpu.grid_dim"} <= geometry
    assert shared_bytes(kernel) == 0
    assert_host_legal(module)


def test_softmax_is_one_row_kernel_with_shared_partials_and_row_values() -> None:
    x = T.fmatrix("x")
    module = lower([x], T.nnet.softmax(x))
    assert kinds(module) == Counter({"reduce_rows": 1})
    (kernel,) = kernels(module)
    buffers = [op.memref.type for op in shared_buffers(kernel)]
    # two tree-reduction partials, and the row's max and sum (promoted from
    # global row buffers)
    assert sorted(b.get_shape() for b in buffers) == [(1,), (1,), (B,), (B,)]  # type: ignore
    assert shared_bytes(kernel) == 2 * B * 4 + 8 + 8
    barriers = [op for op in kernel.walk() if isinstance(op, gpu.BarrierOp)]
    assert len(barriers) >= 4  # after each stage, in each tree
    assert_host_legal(module)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_reductions(axis: int | None) -> None:
    x = T.dmatrix("x")
    module = lower([x], x.sum(axis=axis))
    expected = {
        None: {"reduce_all_partial": 1, "reduce_all_final": 1},
        0: {"elementwise": 1, "reduce_rows": 1},  # the identity fill, then per column
        1: {"reduce_rows": 1},
    }[axis]
    assert kinds(module) == Counter(expected)
    for kernel in kernels(module):
        if _kind(kernel) != "elementwise":
            assert shared_bytes(kernel) == B * 8
    assert_host_legal(module)


def test_max_and_argmax_of_the_same_rows_share_a_kernel() -> None:
    x = T.dmatrix("x")
    module = lower([x], [x.max(axis=1), T.argmax(x, axis=1)])
    assert kinds(module) == Counter({"reduce_rows": 1})
    (kernel,) = kernels(module)
    # max: one f64 partial buffer; argmax: an f64 and an index buffer
    assert shared_bytes(kernel) == 3 * B * 8


def test_matmul_is_a_tiled_kernel_with_two_shared_tiles() -> None:
    a, b = T.fmatrix("a"), T.fmatrix("b")
    module = lower([a, b], T.dot(a, b))
    assert kinds(module) == Counter({"matmul": 1})
    (kernel,) = kernels(module)
    assert [op.memref.type.get_shape() for op in shared_buffers(kernel)] == [  # type: ignore
        (TILE, TILE),
        (TILE, TILE),
    ]
    assert shared_bytes(kernel) == 2 * TILE * TILE * 4
    assert not any(op.name == "func.call" for op in module.walk())  # no BLAS
    launch = next(op for op in module.walk() if isinstance(op, gpu.LaunchFuncOp))
    assert [_constant(v) for v in (launch.blockSizeX, launch.blockSizeY)] == [TILE] * 2


def _constant(value: Any) -> int | None:
    owner = value.owner
    attr = getattr(owner, "value", None)
    return attr.value.data if isinstance(attr, IntegerAttr) else None


def test_index_checks_run_before_the_gather_kernel() -> None:
    x, i = T.dmatrix("x"), T.lvector("i")
    module = lower([x, i], x[i])
    body = list(host(module).body.block.ops)
    messages = [
        (position, op)
        for position, op in enumerate(body)
        if isinstance(op, cf.AssertOp) and "out of range" in op.msg.data
    ]
    assert len(messages) == 1
    position, _ = messages[0]
    launched = [_launched(op) for op in body if isinstance(op, gpu.LaunchFuncOp)]
    assert launched[-1].startswith("main_elementwise")  # the gather, after the check
    before = [
        _launched(op) for op in body[:position] if isinstance(op, gpu.LaunchFuncOp)
    ]
    assert any("check_final" in name for name in before)
    for kernel in kernels(module):
        assert not any(isinstance(op, cf.AssertOp) for op in kernel.walk())


def test_checks_of_computed_indices_run_after_the_kernels_computing_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, labels = T.dmatrix("x"), T.lvector("labels")
    values = [np.arange(20.0).reshape(5, 4), np.array([0, 1, 2, 3, 0])]
    _matches_reference([x, labels], [x[T.arange(5), labels] * 2], values, monkeypatch)


def _launched(op: gpu.LaunchFuncOp) -> str:
    return op.kernel.nested_references.data[-1].data


def test_repeated_scatter_indices_add_atomically() -> None:
    x, i, v = T.dvector("x"), T.lvector("i"), T.dvector("v")
    module = lower([x, i, v], T.inc_subtensor(x[i], v))
    atomics = [op for op in module.walk() if isinstance(op, memref.AtomicRMWOp)]
    assert len(atomics) == 1
    assert "serial" not in kinds(module)


def test_dependent_iterations_run_in_one_thread_with_a_remark(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = """
    func.func @main(%x: memref<?xf64>) -> memref<?xf64> {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %n = memref.dim %x, %c0 : memref<?xf64>
      %out = memref.alloc(%n) : memref<?xf64>
      scf.for %i = %c1 to %n step %c1 {
        %p = arith.subi %i, %c1 : index
        %a = memref.load %out[%p] : memref<?xf64>
        %b = memref.load %x[%i] : memref<?xf64>
        %s = arith.addf %a, %b : f64
        memref.store %s, %out[%i] : memref<?xf64>
      }
      func.return %out : memref<?xf64>
    }
    """
    module = Parser(pipeline.make_context(), source).parse_module()
    with caplog.at_level(logging.WARNING, logger="tensorc.gpu"):
        OutlineGpuKernelsPass().apply(pipeline.make_context(), module)
    assert kinds(module) == Counter({"serial": 1})
    assert "runs in one GPU thread" in caplog.text
    assert_host_legal(module)


def test_float_scalars_are_recomputed_in_kernels_and_host_reads_integers() -> None:
    x = T.dvector("x")
    module = lower([x], [x / x.shape[0], T.arange(x.shape[0] // 2)])
    assert_host_legal(module)  # no float arithmetic left on the host


def test_unknown_host_op_is_a_lowering_error() -> None:
    source = """
    func.func private @unknown(index) -> ()
    func.func @main(%x: memref<?xf64>) -> memref<?xf64> {
      %c0 = arith.constant 0 : index
      %n = memref.dim %x, %c0 : memref<?xf64>
      func.call @unknown(%n) : (index) -> ()
      %out = memref.alloc(%n) : memref<?xf64>
      func.return %out : memref<?xf64>
    }
    """
    module = Parser(pipeline.make_context(), source).parse_module()
    with pytest.raises(LoweringError):
        OutlineGpuKernelsPass().apply(pipeline.make_context(), module)


def test_copies_and_scalar_statements_run_on_the_gpu() -> None:
    source = """
    func.func @main(%x: memref<?x3xf32>, %s: memref<f32>) -> (memref<?x3xf32>, memref<f32>) {
      %c0 = arith.constant 0 : index
      %n = memref.dim %x, %c0 : memref<?x3xf32>
      %y = memref.alloc(%n) : memref<?x3xf32>
      "memref.copy"(%x, %y) : (memref<?x3xf32>, memref<?x3xf32>) -> ()
      %t = memref.alloc() : memref<f32>
      %a = memref.load %s[] : memref<f32>
      %b = arith.mulf %a, %a : f32
      memref.store %b, %t[] : memref<f32>
      func.return %y, %t : memref<?x3xf32>, memref<f32>
    }
    """
    ctx = pipeline.make_context()
    module = Parser(ctx, source).parse_module()
    OutlineGpuKernelsPass().apply(ctx, module)
    PromoteSharedPass().apply(ctx, module)
    assert kinds(module) == Counter({"copy": 1, "scalar": 1})
    assert_host_legal(module)
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    copied, squared = _emulate(module, [x, np.array(3.0, np.float32)])
    np.testing.assert_array_equal(copied, x)
    assert squared == 9.0


# ---------------------------------------------------------------------------------
# Shared-memory placement and its fallback (run through the emulator)
# ---------------------------------------------------------------------------------


def _emulate(module: ModuleOp, arrays: list[np.ndarray]) -> list[np.ndarray]:
    from tensorc.runtime import gpu_plan

    runner = gpu_plan.build_runner(module, emit_cuda(module), "cuda-emu")
    return [np.asarray(r) for r in runner(arrays)]


def test_over_budget_buffers_fall_back_to_global_memory_with_a_remark(
    caplog: pytest.LogCaptureFixture,
) -> None:
    x, w = T.dmatrix("x"), T.dmatrix("w")
    f = tensorc.function([x, w], [T.nnet.softmax(x), T.dot(x, w)], mode="REFERENCE")
    module = f.maker.module.clone()
    ctx = pipeline.make_context()
    pipeline.run("cpu", ctx, module)
    OutlineGpuKernelsPass().apply(ctx, module)
    budget = B * 8 + 8  # one partial buffer and one row value fit, no more
    with caplog.at_level(logging.WARNING, logger="tensorc.gpu"):
        PromoteSharedPass(shared_bytes=budget).apply(ctx, module)
    assert "does not fit" in caplog.text
    for kernel in kernels(module):
        assert shared_bytes(kernel) <= budget
        scratch = [op for op in kernel.walk() if isinstance(op, memref.AllocOp)]
        assert all(
            tck.memory_space(op.memref.type) is tck.MemorySpace.SHARED for op in scratch
        )
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 300)), rng.standard_normal((300, 7))
    softmax, product = _emulate(module, [a, b])
    e = np.exp(a - a.max(axis=1, keepdims=True))
    np.testing.assert_allclose(softmax, e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(product, a @ b, rtol=1e-12)


def test_promotion_keeps_results_in_both_thread_orders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = T.fmatrix("x")
    module = lower([x], [T.nnet.softmax(x), x.sum(axis=0), x.sum()])
    a = np.random.default_rng(1).standard_normal((9, 700)).astype(np.float32)
    results = []
    for order in ("forward", "reverse"):
        monkeypatch.setenv("TENSORC_CUDA_EMU_ORDER", order)
        results.append(_emulate(module, [a]))
    for forward, reverse in zip(*results, strict=True):
        np.testing.assert_array_equal(forward, reverse)
    softmax, columns, total = results[0]
    e = np.exp(a - a.max(axis=1, keepdims=True))
    np.testing.assert_allclose(softmax, e / e.sum(axis=1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(columns, a.sum(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(total, a.sum(), rtol=1e-5)


def _matches_reference(
    inputs: list[Any],
    outputs: list[Any],
    values: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = tensorc.function(inputs, outputs, mode="REFERENCE")(*values)
    f = tensorc.function(inputs, outputs, device="cuda-emu")
    for order in ("forward", "reverse"):
        monkeypatch.setenv("TENSORC_CUDA_EMU_ORDER", order)
        for want, got in zip(expected, f(*values), strict=True):
            want, got = np.asarray(want), np.asarray(got)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_allclose(
                got.astype(np.float64),
                want.astype(np.float64),
                rtol=1e-5,
                atol=1e-6,
                equal_nan=True,
            )


def test_reductions_over_any_axes_ties_and_nans_match_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = T.tensor3("x")
    a = np.random.default_rng(3).standard_normal((4, 5, 300))
    a[1, 2, 7] = np.nan
    a[2, :, 3] = a[2, :, 9] = 9.0  # ties: the first index wins
    outputs = [
        x.sum(axis=(0, 2)),
        x.max(axis=0),
        T.argmax(x, axis=0),
        x.prod(axis=2),
        x.min(axis=(1, 2)),
        T.argmax(x),
        T.argmin(x, axis=2),
        x.sum(axis=1, keepdims=True),
    ]
    _matches_reference([x], outputs, [a], monkeypatch)


def test_integer_and_float16_graphs_match_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    i, h = T.lmatrix("i"), T.matrix("h", dtype="float16")
    rng = np.random.default_rng(4)
    ints = rng.integers(-5, 5, (7, 333))
    halves = rng.standard_normal((6, 40)).astype(np.float16)
    outputs = [
        i.sum(axis=0),
        i.max(axis=1),
        T.argmin(i, axis=1),
        (i > 0).sum(),
        T.nnet.softmax(h),
        h.max(),
        T.dot(h, h.T),
        T.exp(h) * 2,
    ]
    _matches_reference([i, h], outputs, [ints, halves], monkeypatch)


# ---------------------------------------------------------------------------------
# nvcc and ptxas
# ---------------------------------------------------------------------------------

NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not installed")

_ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(\w+)'")
_STACK = re.compile(
    r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads"
)
_USED = re.compile(r"\bUsed (\d+) registers")
_KEY_VALUES = re.compile(r"(\d+) (bytes smem|bytes cumulative stack size|barriers)")


@dataclass
class Resources:
    registers: int = 0
    stack: int = 0
    spill_stores: int = 0
    spill_loads: int = 0
    smem: int = 0
    cumulative_stack: int = 0


def ptxas_report(source: str, tmp: Path) -> dict[tuple[str, str], Resources]:
    """Compile for every target architecture in one nvcc run; the resources ptxas
    reports per (kernel, arch)."""
    path = tmp / "kernels.cu"
    path.write_text(source)
    codes = [f"-gencode=arch=compute_{a[3:]},code={a}" for a in DEFAULT_TARGET.archs]
    command = [
        NVCC,
        "-fatbin",
        *codes,
        "-Xptxas",
        "-v",
        "-o",
        str(tmp / "k.fatbin"),
        str(path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    report: dict[tuple[str, str], Resources] = {}
    current: Resources | None = None
    for line in result.stderr.splitlines():
        if entry := _ENTRY.search(line):
            current = report.setdefault((entry[1], entry[2]), Resources())
        elif current is not None and (stack := _STACK.search(line)):
            current.stack, current.spill_stores, current.spill_loads = map(
                int, stack.groups()
            )
        elif current is not None and (used := _USED.search(line)):
            current.registers = int(used[1])
            for value, key in _KEY_VALUES.findall(line):
                if key == "bytes smem":
                    current.smem = int(value)
                elif key == "bytes cumulative stack size":
                    current.cumulative_stack = int(value)
    return report


def test_ptxas_report_parser_reads_key_value_pairs() -> None:
    line = (
        "ptxas info    : Used 12 registers, used 1 barriers, 256 bytes cumulative "
        "stack size, 1024 bytes smem, 372 bytes cmem[0]"
    )
    pairs = {key: int(value) for value, key in _KEY_VALUES.findall(line)}
    assert pairs == {
        "barriers": 1,
        "bytes cumulative stack size": 256,
        "bytes smem": 1024,
    }


def _canonical(dtype: str) -> ModuleOp:
    x, w = T.matrix("x", dtype=dtype), T.matrix("w", dtype=dtype)
    outputs = [
        T.nnet.softmax(x),
        x.sum(),
        x.sum(axis=0),
        x.max(axis=1),
        T.argmax(x, axis=1),
        T.dot(x, w),
        T.tanh(x) * 2 + T.exp(-abs(x)),
    ]
    return lower([x, w], outputs)


@needs_nvcc
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernels_compile_without_spills_and_use_the_planned_shared_memory(
    dtype: str, tmp_path: Path
) -> None:
    module = _canonical(dtype)
    planned = {k.sym_name.data: (shared_bytes(k), _kind(k)) for k in kernels(module)}
    report = ptxas_report(emit_cuda(module), tmp_path)
    assert {kernel for kernel, _ in report} == set(planned)
    assert {arch for _, arch in report} == set(DEFAULT_TARGET.archs)
    kinds_seen = {kind for _, kind in planned.values()}
    assert {"reduce_rows", "reduce_all_partial", "matmul", "elementwise"} <= kinds_seen
    for (kernel, arch), resources in report.items():
        where = f"{kernel} on {arch}: {resources}"
        assert resources.spill_stores == resources.spill_loads == 0, where
        assert resources.stack == resources.cumulative_stack == 0, where
        assert resources.smem == planned[kernel][0], where
        assert resources.registers <= 64, where
    for kernel, (planned_bytes, kind) in planned.items():
        uses_shared = kind in ("reduce_rows", "reduce_all_partial", "matmul")
        assert (planned_bytes > 0) == uses_shared or kind.endswith("final"), kernel


@needs_nvcc
def test_float16_kernels_compile(tmp_path: Path) -> None:
    """nvcc has no device _Float16; the prelude's 2-byte stand-in converts with
    PTX instructions."""
    module = _canonical("float16")
    planned = {k.sym_name.data: shared_bytes(k) for k in kernels(module)}
    report = ptxas_report(emit_cuda(module), tmp_path)
    assert {kernel for kernel, _ in report} == set(planned)
    for (kernel, arch), resources in report.items():
        assert resources.spill_stores == resources.stack == 0, (kernel, arch)
        assert resources.smem == planned[kernel], (kernel, arch, resources)


@needs_nvcc
def test_training_step_kernels_compile_for_every_architecture(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    w = tensorc.shared(rng.standard_normal((5, 3)).astype(np.float32), name="w")
    x, y = T.fmatrix("x"), T.lvector("y")
    p = T.nnet.softmax(T.dot(x, w))
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    module = lower([x, y], cost, updates=[(w, w - np.float32(0.1) * T.grad(cost, w))])
    report = ptxas_report(emit_cuda(module), tmp_path)
    assert len(report) == len(kernels(module)) * len(DEFAULT_TARGET.archs)
    for (kernel, arch), resources in report.items():
        assert resources.spill_stores == resources.stack == 0, (kernel, arch, resources)


def test_generated_source_is_self_contained() -> None:
    source = emit_cuda(_canonical("float32"))
    assert "#include" not in source
    assert re.search(
        r'extern "C" __global__ void __launch_bounds__\(\d+, \d+\) main_', source
    )
    assert "__syncthreads();" in source and "__shared__" in source
