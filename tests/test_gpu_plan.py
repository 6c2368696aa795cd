"""Launch planning (tensorc/runtime/gpu_plan.py) on a hand-written GPU-lowered
module (the form of /work/notes/gpu.md) and hand-written CUDA kernels, run on the
emulator: index arithmetic, shape checks before any launch, dynamic shared
memory, scalar arguments, device scalar reads, constants, empty tensors, and no
leaked buffers on any path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from xdsl.parser import Parser

from tensorc import pipeline
from tensorc.errors import DTypeError, LoweringError, ShapeError
from tensorc.runtime import gpu_plan
from tensorc.runtime.cuda_emu import CudaEmuAdapter
from tensorc.runtime.gpu_plan import plan_host
from tensorc.runtime.gpu_runner import GpuRunner

SEGMENTS = "operandSegmentSizes = array<i32: 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, {}, 0>"


def launch(kernel: str, sizes: str, operands: list[tuple[str, str]]) -> str:
    """A gpu.launch_func in generic form (grid x3, block x3, shared bytes, args)."""
    names = ", ".join(name for name, _ in operands)
    types = ", ".join(t for _, t in operands)
    return (
        f'"gpu.launch_func"({sizes}, {names}) <{{kernel = @kernels::@{kernel}, '
        f"{SEGMENTS.format(len(operands))}}}> : (index, index, index, index, index, "
        f"index, i32, {types}) -> ()"
    )


X, B, OUT = "memref<?x?xf64>", "memref<?xf64>", "memref<?x?xf64>"
HOST = f"""
builtin.module attributes {{gpu.container_module}} {{
  "gpu.module"() <{{sym_name = "kernels"}}> ({{
    "gpu.func"() <{{function_type = ({X}, {B}, {OUT}) -> (), kernel}}> ({{
    ^bb0(%x: {X}, %b: {B}, %out: {OUT}):
      "gpu.return"() : () -> ()
    }}) {{sym_name = "add_rows"}} : () -> ()
  }}) : () -> ()
  "memref.global"() <{{sym_name = "weights", sym_visibility = "private",
    type = memref<3xf64>, initial_value = dense<[0.5, -1.0, 2.0]> : tensor<3xf64>,
    constant}}> : () -> ()
  func.func @main(%x: {X}, %b: {B}) -> ({OUT}, {B}, memref<i64>, memref<3xf64>) {{
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %c256 = arith.constant 256 : index
    %rows = memref.dim %x, %c0 : {X}
    %cols = memref.dim %x, %c1 : {X}
    %bn = memref.dim %b, %c0 : {B}
    %ok = arith.cmpi eq, %cols, %bn : index
    cf.assert %ok, "tc.add (created at model.py:3): lhs dim 1 differs from rhs dim 0"
    %out = memref.alloc(%rows, %cols) : {OUT}
    %n = arith.muli %rows, %cols : index
    %g = arith.ceildivui %n, %c256 : index
    %none = arith.constant 0 : i32
    {
    launch(
        "add_rows",
        "%g, %c1, %c1, %c256, %c1, %c1, %none",
        [("%x", X), ("%b", B), ("%out", OUT)],
    )
}
    %sums = memref.alloc(%rows) : {B}
    %eight = arith.constant 8 : i32
    %c128i = arith.index_cast %c128 : index to i32
    %smem = arith.muli %c128i, %eight : i32
    %out_rows = memref.dim %out, %c0 : {OUT}
    {
    launch(
        "row_sum",
        "%out_rows, %c1, %c1, %c128, %c1, %c1, %smem",
        [("%out", OUT), ("%sums", B)],
    )
}
    %scratch = memref.alloc(%n) : {B}
    memref.dealloc %scratch : {B}
    %count = memref.alloc() : memref<i64>
    %half = arith.constant 0.5 : f64
    %n32 = arith.index_cast %rows : index to i32
    {
    launch(
        "count_above",
        "%c1, %c1, %c1, %c1, %c1, %c1, %none",
        [("%sums", B), ("%half", "f64"), ("%n32", "i32"), ("%count", "memref<i64>")],
    )
}
    %positive = memref.load %count[] : memref<i64>
    %rows64 = arith.index_cast %rows : index to i64
    %one = arith.constant 1 : i64
    %at_least_one = arith.maxsi %rows64, %one : i64
    %some = arith.cmpi slt, %positive, %at_least_one : i64
    cf.assert %some, "every row sums to more than 0.5"
    %w = memref.get_global @weights : memref<3xf64>
    %wc = "memref.cast"(%w) : (memref<3xf64>) -> memref<?xf64>
    %scaled = memref.alloc() : memref<3xf64>
    %c3 = arith.constant 3 : index
    {
    launch(
        "scale",
        "%c1, %c1, %c1, %c3, %c1, %c1, %none",
        [("%wc", B), ("%half", "f64"), ("%scaled", "memref<3xf64>")],
    )
}
    func.return %out, %sums, %count, %scaled : {OUT}, {B}, memref<i64>, memref<3xf64>
  }}
}}
"""

KERNELS = r"""
extern "C" __global__ void add_rows(const double* x, int64_t x_d0, int64_t x_d1,
                                    const double* b, int64_t b_d0, double* out,
                                    int64_t out_d0, int64_t out_d1) {
    int64_t n = x_d0 * x_d1;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        out[i] = x[i] + b[i % x_d1];
}

extern "C" __global__ void row_sum(const double* m, int64_t m_d0, int64_t m_d1,
                                   double* sums, int64_t sums_d0) {
    extern __shared__ double partial[];
    double acc = 0.0;
    for (int64_t j = threadIdx.x; j < m_d1; j += blockDim.x) acc += m[blockIdx.x * m_d1 + j];
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) sums[blockIdx.x] = partial[0];
}

extern "C" __global__ void count_above(const double* v, int64_t v_d0, double limit,
                                       int n, int64_t* count) {
    int64_t c = 0;
    for (int i = 0; i < n; ++i) c += v[i] > limit;
    *count = c;
}

extern "C" __global__ void scale(const double* w, int64_t w_d0, double by, double* out,
                                 int64_t out_d0) {
    out[threadIdx.x] = by * w[threadIdx.x];
}
"""


class RecordingAdapter(CudaEmuAdapter):
    """The emulator adapter, recording allocations, frees and launches."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, int] = {}
        self.launches: list[str] = []

    def alloc(self, nbytes: int) -> np.ndarray:
        buffer = super().alloc(nbytes)
        self.live[id(buffer)] = nbytes
        return buffer

    def free(self, buffer: Any) -> None:
        self.live.pop(id(buffer), None)

    def launch(self, module, name, grid, block, shared_bytes, args) -> None:
        self.launches.append(name)
        super().launch(module, name, grid, block, shared_bytes, args)


@pytest.fixture(scope="module")
def program() -> gpu_plan.HostProgram:
    module = Parser(pipeline.make_context(), HOST).parse_module()
    module.verify()
    return plan_host(module)


@pytest.fixture
def runner(program) -> GpuRunner:
    return GpuRunner(program, RecordingAdapter(), KERNELS)


def test_plan_structure(program):
    assert program.kernels == ("add_rows", "row_sum", "count_above", "scale")
    assert [s.shape for s in program.inputs] == [(None, None), (None,)]
    np.testing.assert_array_equal(program.globals["weights"], [0.5, -1.0, 2.0])


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_runs_the_host_function(runner, order, monkeypatch):
    monkeypatch.setenv("TENSORC_CUDA_EMU_ORDER", order)
    rng = np.random.default_rng(0)
    x, b = rng.standard_normal((5, 300)), rng.standard_normal(300)
    out, sums, count, scaled = runner([x, b])
    np.testing.assert_array_equal(out, x + b)
    np.testing.assert_allclose(sums, (x + b).sum(axis=1), rtol=1e-12)
    assert count.shape == () and count == np.sum((x + b).sum(axis=1) > 0.5)
    np.testing.assert_array_equal(scaled, [0.25, -0.5, 1.0])
    assert runner.adapter.launches == ["add_rows", "row_sum", "count_above", "scale"]
    # Every buffer the call allocated and did not return was freed.
    assert sorted(runner.adapter.live.values()) == sorted(
        [out.nbytes, sums.nbytes, 8, 24]
    )


def test_shape_checks_run_before_any_allocation_or_launch(runner):
    with pytest.raises(
        ShapeError,
        match=r"^tc\.add \(created at model\.py:3\): lhs dim 1 "
        r"differs from rhs dim 0 \(got 4 and 3\)$",
    ):
        runner([np.zeros((2, 4)), np.zeros(3)])
    assert runner.adapter.launches == [] and runner.adapter.live == {}


def test_device_value_checks_free_everything(runner):
    x = np.ones((3, 4))
    with pytest.raises(
        ShapeError,
        match=r"^every row sums to more than 0\.5 "
        r"\(got 3 and 3\)$",
    ):
        runner([x, np.zeros(4)])
    assert runner.adapter.launches == ["add_rows", "row_sum", "count_above"]
    assert runner.adapter.live == {}


def test_empty_tensors_skip_launches(runner):
    out, sums, count, _ = runner([np.zeros((0, 7)), np.zeros(7)])
    assert out.shape == (0, 7) and sums.shape == (0,) and count == 0
    assert runner.adapter.launches == ["count_above", "scale"]


def test_inputs_are_checked(runner):
    with pytest.raises(DTypeError, match="input 0 has dtype float32, expected float64"):
        runner([np.zeros((2, 2), np.float32), np.zeros(2)])
    with pytest.raises(ShapeError, match="input 1 has 2 dims, expected 1"):
        runner([np.zeros((2, 2)), np.zeros((2, 2))])
    with pytest.raises(TypeError, match="takes 2 inputs, got 1"):
        runner([np.zeros((2, 2))])
    # A non-contiguous input is made contiguous first.
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(runner([x.T, np.full(3, -9.0)])[0], x.T - 9)


STATIC = """
builtin.module {
  func.func @main(%x: memref<?x4xf32>, %y: memref<f32>) -> memref<?x4xf32> {
    %c0 = arith.constant 0 : index
    %n = memref.dim %x, %c0 : memref<?x4xf32>
    %out = memref.alloc(%n) : memref<?x4xf32>
    %m = memref.dim %out, %c0 : memref<?x4xf32>
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %z = arith.constant 0 : i32
    %minus = arith.constant -7 : i64
    %shift = arith.constant 65 : i64
    %wrapped = arith.shli %minus, %shift : i64
    %c4i = arith.constant 4 : i64
    %floor = arith.floordivsi %minus, %c4i : i64
    "gpu.launch_func"(%m, %c1, %c1, %c4, %c1, %c1, %z, %x, %y, %out, %floor, %wrapped) <{kernel = @kernels::@copy, operandSegmentSizes = array<i32: 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 5, 0>}> : (index, index, index, index, index, index, i32, memref<?x4xf32>, memref<f32>, memref<?x4xf32>, i64, i64) -> ()
    func.return %out : memref<?x4xf32>
  }
}
"""


def test_static_dims_scalars_and_zero_dim_inputs():
    module = Parser(pipeline.make_context(), STATIC).parse_module()
    source = r"""
    extern "C" __global__ void copy(const float* x, int64_t x_d0, int64_t x_d1,
                                    const float* y, float* out, int64_t o_d0,
                                    int64_t o_d1, int64_t floor, int64_t wrapped) {
        int64_t i = blockIdx.x * x_d1 + threadIdx.x;
        out[i] = x[i] * *y + (float)floor + (float)wrapped;
    }
    """
    runner = GpuRunner(plan_host(module), CudaEmuAdapter(), source)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    # -7 // 4 = -2 (floor); a shift by 65 >= 64 bits gives 0
    np.testing.assert_array_equal(runner([x, np.float32(3)]), [x * 3 - 2])
    with pytest.raises(ShapeError, match="input 0 has dim 1 = 5, expected 4"):
        runner([np.zeros((2, 5), np.float32), np.float32(1)])


def test_unsupported_host_ops_are_named():
    module = Parser(
        pipeline.make_context(),
        """
    builtin.module {
      func.func @main(%x: memref<?xf64>) -> memref<?xf64> {
        %c0 = arith.constant 0 : index
        %c1 = arith.constant 1 : index
        %n = memref.dim %x, %c0 : memref<?xf64>
        %out = memref.alloc(%n) : memref<?xf64>
        scf.for %i = %c0 to %n step %c1 {
          %v = memref.load %x[%i] : memref<?xf64>
          memref.store %v, %out[%i] : memref<?xf64>
        }
        func.return %out : memref<?xf64>
      }
    }""",
    ).parse_module()
    with pytest.raises(LoweringError, match="cannot hold scf.for"):
        plan_host(module)


@pytest.mark.parametrize(
    ("op", "a", "b", "want"),
    [
        ("divsi", -7, 2, -3),
        ("remsi", -7, 2, -1),
        ("floordivsi", -7, 2, -4),
        ("ceildivsi", -7, 2, -3),
        ("divui", -1, 2, 2**63 - 1),
        ("divsi", 5, 0, 0),
        ("maxui", -1, 3, -1),
        ("minsi", -1, 3, -1),
        ("shrsi", -8, 1, -4),
        ("shrui", -8, 60, 15),
        ("muli", 2**62, 4, 0),
        ("addi", 2**63 - 1, 1, -(2**63)),
    ],
)
def test_integer_semantics_match_c(op, a, b, want):
    classes = {c.name.split(".")[1]: c for c in gpu_plan.INT_BINARY}
    function = gpu_plan.INT_BINARY[classes[op]]
    assert gpu_plan._wrap(function(a, b, 64), 64) == want


FLOATS = """
builtin.module {
  func.func @main(%x: memref<?xf64>) -> memref<4xf64> {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %z = arith.constant 0 : i32
    %n = memref.dim %x, %c0 : memref<?xf64>
    %n64 = arith.index_cast %n : index to i64
    %nf = arith.sitofp %n64 : i64 to f64
    %one = arith.constant 1.0 : f64
    %inv = arith.divf %one, %nf : f64
    %neg = arith.negf %inv : f64
    %narrow = arith.truncf %neg : f64 to f32
    %wide = arith.extf %narrow : f32 to f64
    %big = arith.constant 1.0e10 : f64
    %clamped = arith.fptosi %big : f64 to i32
    %out = memref.alloc() : memref<4xf64>
    "gpu.launch_func"(%c1, %c1, %c1, %c1, %c1, %c1, %z, %out, %inv, %narrow, %wide, %clamped) <{kernel = @kernels::@store, operandSegmentSizes = array<i32: 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 5, 0>}> : (index, index, index, index, index, index, i32, memref<4xf64>, f64, f32, f64, i32) -> ()
    func.return %out : memref<4xf64>
  }
}
"""


def test_float_scalars_on_the_host():
    source = r"""
    extern "C" __global__ void store(double* out, int64_t n, double inv, float narrow,
                                     double wide, int clamped) {
        out[0] = inv; out[1] = narrow; out[2] = wide; out[3] = clamped;
    }
    """
    module = Parser(pipeline.make_context(), FLOATS).parse_module()
    runner = GpuRunner(plan_host(module), CudaEmuAdapter(), source)
    (out,) = runner([np.zeros(3)])
    third = float(np.float32(-1 / 3))
    np.testing.assert_array_equal(out, [1 / 3, third, third, -(2**31)])
