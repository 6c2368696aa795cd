"""The CUDA emulator (tensorc/runtime/cuda_emu.h + cuda_emu.py) on hand-written
kernels: indexing, per-block shared memory, barriers, atomics, warp operations,
both thread orders (a missing barrier changes the result), and the errors a GPU
would not report (divergent barriers, stuck warp operations, bad launches)."""

from __future__ import annotations

import numpy as np
import pytest

from tensorc.errors import CompileError, GpuKernelError
from tensorc.runtime import cuda_emu
from tensorc.runtime.cuda_emu import CudaEmuAdapter, EmuModule

BLOCK_SUM = r"""
// Tree reduction of blockDim.x (a power of two <= 256) values per block.
extern "C" __global__ void block_sum(const float* __restrict__ x, int64_t n,
                                     float* out) {
    __shared__ float partial[256];
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    partial[threadIdx.x] = i < n ? x[i] : 0.0f;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

// The same reduction with the barrier inside the loop forgotten: a race.
extern "C" __global__ void racy_sum(const float* x, float* out) {
    __shared__ float partial[256];
    partial[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    }
    __syncthreads();
    if (threadIdx.x == 0) out[0] = partial[0];
}
"""

INDEXING = r"""
extern "C" __global__ void ids(int64_t* out) {
    int64_t block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    int64_t thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    int64_t per_block = (int64_t)blockDim.x * blockDim.y * blockDim.z;
    out[block * per_block + thread] = 1000000 * (int64_t)blockIdx.z
        + 100000 * blockIdx.y + 10000 * blockIdx.x + 100 * threadIdx.z
        + 10 * threadIdx.y + threadIdx.x;
}

// Every block sees only its own shared memory.
extern "C" __global__ void own_shared(int* out) {
    __shared__ int mine;
    if (threadIdx.x == 0) mine = blockIdx.x;
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = mine;
}

extern "C" __global__ void dynamic_reverse(float* out) {
    extern __shared__ float tile[];
    tile[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = tile[blockDim.x - 1 - threadIdx.x];
}

extern "C" __global__ void read_unwritten(float* out) {
    extern __shared__ __align__(16) float scratch[];
    out[threadIdx.x] = scratch[threadIdx.x];
}

extern "C" __global__ void scalars(double* out, bool flag, signed char a, short b,
                                   int c, unsigned int d, long long e, float f,
                                   double g) {
    out[0] = flag ? 1.0 : 0.0;
    out[1] = a; out[2] = b; out[3] = c; out[4] = d; out[5] = (double)e;
    out[6] = f; out[7] = g;
    out[8] = min(3, 5u) + max(2.5f, 1) + min(-1.0, 2.0) + __expf(0.0f) + rsqrtf(4.0f)
           + __int_as_float(0x3f800000) + __popc(0xffu);
}
"""

ATOMICS = r"""
extern "C" __global__ void atomics(int* counter, float* total, int* biggest,
                                   unsigned long long* wide, unsigned int* ring,
                                   int* claimed, double* dtotal) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(counter, 1);
    atomicAdd(total, 0.5f);
    atomicAdd(dtotal, 0.25);
    atomicMax(biggest, (i * 7919) % 1000);
    atomicAdd(wide, 1ull << 33);
    atomicInc(ring, 9u);
    atomicCAS(claimed, -1, i);
}

extern "C" __global__ void barrier_votes(int* out) {
    int count = __syncthreads_count(threadIdx.x % 3 == 0);
    int all = __syncthreads_and(threadIdx.x < 1000);
    int any = __syncthreads_or(threadIdx.x == 17);
    if (threadIdx.x == 0) { out[0] = count; out[1] = all; out[2] = any; }
}
"""

WARPS = r"""
// 64-thread blocks (two warps), or fewer for a partial last warp.
extern "C" __global__ void shuffles(const int* x, int* out, int lanes) {
    int t = threadIdx.x;
    int v = x[t];
    int sum = v;
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, o);
    int all = v;
    for (int o = 8; o > 0; o >>= 1) all += __shfl_xor_sync(0xffffffffu, all, o, 16);
    int up = __shfl_up_sync(0xffffffffu, v, 1);
    int bcast = __shfl_sync(0xffffffffu, v, 3);
    unsigned ballot = __ballot_sync(0xffffffffu, v % 2 == 0);
    int any = __any_sync(0xffffffffu, v == 5);
    int every = __all_sync(0xffffffffu, v >= 0);
    __syncwarp();
    out[t * 7 + 0] = sum;
    out[t * 7 + 1] = all;
    out[t * 7 + 2] = up;
    out[t * 7 + 3] = bcast;
    out[t * 7 + 4] = (int)ballot;
    out[t * 7 + 5] = any;
    out[t * 7 + 6] = every;
    (void)lanes;
}

extern "C" __global__ void block_max(const double* x, double* out) {
    __shared__ double warp_max[32];
    double v = x[blockIdx.x * blockDim.x + threadIdx.x];
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
    if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x < 32) {
        v = threadIdx.x < blockDim.x / 32 ? warp_max[threadIdx.x] : -INFINITY;
        for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
        if (threadIdx.x == 0) out[blockIdx.x] = v;
    }
}
"""

BROKEN = r"""
extern "C" __global__ void early_exit(float* out) {
    if (threadIdx.x >= 16) return;
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}

extern "C" __global__ void two_barriers(float* out) {
    if (threadIdx.x % 2) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1.0f;
}

extern "C" __global__ void lost_lane(float* out) {
    float v = threadIdx.x;
    if (threadIdx.x == 5) return;
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}

extern "C" __global__ void trapping(float* out) {
    if (blockIdx.x == 1 && threadIdx.x == 3) __trap();
    out[threadIdx.x] = 1.0f;
}
"""


@pytest.fixture(scope="module")
def adapter() -> CudaEmuAdapter:
    return CudaEmuAdapter()


@pytest.fixture(scope="module")
def modules(adapter: CudaEmuAdapter) -> dict[str, EmuModule]:
    sources = {
        "sum": BLOCK_SUM,
        "indexing": INDEXING,
        "atomics": ATOMICS,
        "warps": WARPS,
        "broken": BROKEN,
    }
    return {name: adapter.compile(source) for name, source in sources.items()}


def run(
    adapter: CudaEmuAdapter,
    module: EmuModule,
    name: str,
    grid,
    block,
    args,
    shared: int = 0,
    order: str = "forward",
) -> None:
    CudaEmuAdapter(order).launch(module, name, grid, block, shared, args)


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_block_tree_reduction(adapter, modules, order):
    x = np.random.default_rng(0).random(1000).astype(np.float32)
    out = np.zeros(8, np.float32)
    run(
        adapter,
        modules["sum"],
        "block_sum",
        (8, 1, 1),
        (128, 1, 1),
        [x, np.int64(1000), out],
        order=order,
    )
    want = np.pad(x, (0, 24)).reshape(8, 128).sum(axis=1, dtype=np.float64)
    np.testing.assert_allclose(out, want, rtol=1e-5)


def test_reverse_order_exposes_a_missing_barrier(adapter, modules):
    x = np.ones(256, np.float32)
    results = {}
    for order in ("forward", "reverse"):
        out = np.zeros(1, np.float32)
        run(
            adapter,
            modules["sum"],
            "racy_sum",
            (1, 1, 1),
            (256, 1, 1),
            [x, out],
            order=order,
        )
        results[order] = out[0]
    # Forward order reads partial sums before they are complete; reverse order
    # happens to produce the right total: the two orders disagree.
    assert results["reverse"] == 256.0
    assert results["forward"] != results["reverse"]
    correct = {}
    for order in ("forward", "reverse"):
        out = np.zeros(1, np.float32)
        run(
            adapter,
            modules["sum"],
            "block_sum",
            (1, 1, 1),
            (256, 1, 1),
            [x, np.int64(256), out],
            order=order,
        )
        correct[order] = out[0]
    assert correct == {"forward": 256.0, "reverse": 256.0}


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_three_dimensional_grid_and_block(adapter, modules, order):
    grid, block = (3, 2, 2), (4, 3, 2)
    out = np.full(int(np.prod(grid) * np.prod(block)), -1, np.int64)
    run(adapter, modules["indexing"], "ids", grid, block, [out], order=order)
    bz, by, bx, tz, ty, tx = np.meshgrid(
        *(np.arange(n) for n in (*grid[::-1], *block[::-1])), indexing="ij"
    )
    want = 1000000 * bz + 100000 * by + 10000 * bx + 100 * tz + 10 * ty + tx
    np.testing.assert_array_equal(out, want.reshape(-1))


def test_shared_memory_is_per_block_with_parallel_workers(modules):
    out = np.full(64 * 32, -1, np.int32)
    CudaEmuAdapter(workers=4).launch(
        modules["indexing"], "own_shared", (64, 1, 1), (32, 1, 1), 0, [out]
    )
    np.testing.assert_array_equal(out, np.repeat(np.arange(64), 32))


def test_dynamic_shared_memory(adapter, modules):
    out = np.zeros(96, np.float32)
    run(
        adapter,
        modules["indexing"],
        "dynamic_reverse",
        (1, 1, 1),
        (96, 1, 1),
        [out],
        shared=96 * 4,
    )
    np.testing.assert_array_equal(out, np.arange(95, -1, -1))
    # Nobody wrote it: the emulator's fill (all bits set) shows through as NaN.
    run(
        adapter,
        modules["indexing"],
        "read_unwritten",
        (1, 1, 1),
        (32, 1, 1),
        [out],
        shared=32 * 4,
    )
    assert np.isnan(out[:32]).all()


def test_scalar_parameters_and_device_math(adapter, modules):
    out = np.zeros(9)
    args = [
        out,
        np.bool_(True),
        np.int8(-3),
        np.int16(300),
        np.int32(-70000),
        np.uint32(4000000000),
        np.int64(-(2**40)),
        np.float32(1.5),
        np.float64(2.25),
    ]
    run(adapter, modules["indexing"], "scalars", (1, 1, 1), (1, 1, 1), args)
    np.testing.assert_array_equal(
        out[:8], [1, -3, 300, -70000, 4000000000, -(2**40), 1.5, 2.25]
    )
    assert out[8] == 3 + 2.5 - 1 + 1 + 0.5 + 1 + 8


def test_atomics_across_parallel_blocks(modules):
    counter, total, biggest = (
        np.zeros(1, np.int32),
        np.zeros(1, np.float32),
        np.full(1, -1, np.int32),
    )
    wide, ring = np.zeros(1, np.uint64), np.zeros(1, np.uint32)
    claimed, dtotal = np.full(1, -1, np.int32), np.zeros(1)
    grid, block = 16, 64
    CudaEmuAdapter(workers=2).launch(
        modules["atomics"],
        "atomics",
        (grid, 1, 1),
        (block, 1, 1),
        0,
        [counter, total, biggest, wide, ring, claimed, dtotal],
    )
    n = grid * block
    assert counter[0] == n and total[0] == n / 2 and dtotal[0] == n / 4
    assert biggest[0] == max(i * 7919 % 1000 for i in range(n))
    assert wide[0] == n << 33
    assert ring[0] == n % 10  # atomicInc wraps to 0 after 9
    assert 0 <= claimed[0] < n  # exactly one thread won the compare-and-swap


def test_barrier_with_votes(adapter, modules):
    out = np.zeros(3, np.int32)
    run(adapter, modules["atomics"], "barrier_votes", (1, 1, 1), (100, 1, 1), [out])
    np.testing.assert_array_equal(out, [34, 1, 1])


def _shuffle_reference(x: np.ndarray) -> np.ndarray:
    """What `shuffles` computes, per thread. A lane that would read a lane past
    the end of a partial warp gets its own value."""
    out = np.zeros((len(x), 7), np.int64)
    for start in range(0, len(x), 32):
        warp = x[start : start + 32].astype(np.int64)
        n = len(warp)
        sums = warp.copy()
        for o in (16, 8, 4, 2, 1):
            sums = np.array(
                [
                    sums[i] + (sums[i + o] if i + o < 32 and i + o < n else sums[i])
                    for i in range(n)
                ]
            )
        alls = warp.copy()
        for o in (8, 4, 2, 1):
            alls = np.array(
                [alls[i] + (alls[i ^ o] if (i ^ o) < n else alls[i]) for i in range(n)]
            )
        for i in range(n):
            out[start + i] = [
                sums[i],
                alls[i],
                warp[i - 1] if i % 32 >= 1 else warp[i],
                warp[3] if n > 3 else warp[i],
                np.int32(
                    np.uint32(sum(1 << k for k in range(n) if warp[k] % 2 == 0)).view(
                        np.int32
                    )
                ),
                int((warp == 5).any()),
                int((warp >= 0).all()),
            ]
    return out


@pytest.mark.parametrize("threads", [64, 40])
@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_warp_shuffles_and_votes(adapter, modules, threads, order):
    x = np.random.default_rng(threads).integers(0, 50, threads).astype(np.int32)
    out = np.zeros(threads * 7, np.int32)
    run(
        adapter,
        modules["warps"],
        "shuffles",
        (1, 1, 1),
        (threads, 1, 1),
        [x, out, np.int32(threads)],
        order=order,
    )
    np.testing.assert_array_equal(out.reshape(threads, 7), _shuffle_reference(x))


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_shuffle_and_shared_memory_block_reduction(adapter, modules, order):
    x = np.random.default_rng(2).standard_normal(4 * 256)
    out = np.zeros(4)
    run(
        adapter,
        modules["warps"],
        "block_max",
        (4, 1, 1),
        (256, 1, 1),
        [x, out],
        order=order,
    )
    np.testing.assert_array_equal(out, x.reshape(4, 256).max(axis=1))


@pytest.mark.parametrize(
    ("kernel", "message"),
    [
        (
            "early_exit",
            (
                r"__syncthreads\(\) on line \d+ is not reached by every thread: "
                "16 threads exited while 16 wait at it"
            ),
        ),
        (
            "two_barriers",
            r"threads wait at different __syncthreads\(\) \(lines \d+ and \d+\)",
        ),
        ("lost_lane", r"__shfl_xor_sync on line \d+ can never complete in warp 0"),
        ("trapping", r"block \(1,0,0\): __trap\(\) on line \d+ in thread \(3,0,0\)"),
    ],
)
def test_errors_a_gpu_would_not_report(adapter, modules, kernel, message):
    out = np.zeros(32, np.float32)
    with pytest.raises(GpuKernelError, match=f"kernel '{kernel}', .*{message}"):
        run(adapter, modules["broken"], kernel, (2, 1, 1), (32, 1, 1), [out])


@pytest.mark.parametrize(
    ("grid", "block", "shared", "message"),
    [
        ((1, 1, 1), (1025, 1, 1), 0, "block dimension x = 1025 is outside"),
        ((1, 1, 1), (32, 32, 2), 0, "a block of 2048 threads exceeds the maximum"),
        ((1, 1, 1), (1, 1, 65), 0, "block dimension z = 65"),
        ((0, 1, 1), (32, 1, 1), 0, "grid dimension x = 0 is outside"),
        ((1, 65536, 1), (32, 1, 1), 0, "grid dimension y = 65536"),
        ((1, 1, 1), (32, 1, 1), 49153, "49153 bytes of dynamic shared memory"),
    ],
)
def test_invalid_launch_configurations(adapter, modules, grid, block, shared, message):
    out = np.zeros(4096, np.float32)
    with pytest.raises(
        GpuKernelError, match=f"invalid launch of kernel 'dynamic_reverse'.*{message}"
    ):
        run(
            adapter,
            modules["indexing"],
            "dynamic_reverse",
            grid,
            block,
            [out],
            shared=shared,
        )


def test_arguments_are_checked_against_the_kernel(adapter, modules):
    out = np.zeros(32, np.float32)
    with pytest.raises(
        GpuKernelError,
        match=r"takes parameters \(pqp\), got "
        r"arguments \(pip\)",
    ):
        run(
            adapter,
            modules["sum"],
            "block_sum",
            (1, 1, 1),
            (32, 1, 1),
            [out, np.int32(3), out],
        )
    with pytest.raises(GpuKernelError, match="no kernel 'missing'"):
        run(adapter, modules["sum"], "missing", (1, 1, 1), (32, 1, 1), [])
    with pytest.raises(GpuKernelError, match="buffers and numpy scalars"):
        run(adapter, modules["sum"], "block_sum", (1, 1, 1), (32, 1, 1), [out, 3, out])


def test_thread_order_from_the_environment(monkeypatch, modules):
    x, out = np.ones(256, np.float32), np.zeros(1, np.float32)
    monkeypatch.setenv("TENSORC_CUDA_EMU_ORDER", "reverse")
    CudaEmuAdapter().launch(
        modules["sum"], "racy_sum", (1, 1, 1), (256, 1, 1), 0, [x, out]
    )
    assert out[0] == 256.0
    monkeypatch.setenv("TENSORC_CUDA_EMU_ORDER", "sideways")
    with pytest.raises(GpuKernelError, match="TENSORC_CUDA_EMU_ORDER='sideways'"):
        CudaEmuAdapter().launch(
            modules["sum"], "racy_sum", (1, 1, 1), (256, 1, 1), 0, [x, out]
        )


def test_ucontext_fallback_runs_the_same_kernels():
    source = BLOCK_SUM + WARPS
    library = cuda_emu.build_library(source, ["-DTC_EMU_USE_UCONTEXT"])
    module = EmuModule(library.path, source)
    x = np.random.default_rng(3).standard_normal(2 * 128)
    out = np.zeros(2)
    for order in ("forward", "reverse"):
        CudaEmuAdapter(order).launch(
            module, "block_max", (2, 1, 1), (128, 1, 1), 0, [x, out]
        )
        np.testing.assert_array_equal(out, x.reshape(2, 128).max(axis=1))


def test_buffers_are_host_arrays(adapter):
    buffer = adapter.alloc(24)
    adapter.to_host(buffer, (3,), np.dtype(np.float64))[:] = [1.5, 2.5, 3.5]
    assert adapter.read_scalar(buffer, np.dtype(np.float64)) == 1.5
    array = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert adapter.to_device(array) is array  # already contiguous: no copy
    assert adapter.to_host(adapter.alloc(0), (0, 3), np.dtype(np.float32)).shape == (
        0,
        3,
    )


def test_source_rewriting_and_kernel_names():
    source = (
        'extern "C" __global__ void __launch_bounds__(256) first(float* a) {\n'
        "    extern __shared__ __align__(16) unsigned char raw[];\n"
        "}\n"
        'extern "C" __global__ void second(const double* __restrict__ b) {}\n'
    )
    assert cuda_emu.kernel_names(source) == ["first", "second"]
    unit = cuda_emu.translation_unit(source)
    assert "TC_EMU_DYNAMIC_SHARED(unsigned char, raw);" in unit
    assert unit.endswith("TC_EMU_EXPORT(first)\nTC_EMU_EXPORT(second)\n")


def test_compile_errors_show_the_compiler_output(adapter):
    with pytest.raises(
        CompileError,
        match=r"(?s)kernels\.cu:2.*undeclared_name.*"
        r"CUDA source kept at",
    ):
        adapter.compile(
            'extern "C" __global__ void k(float* a) {\n    a[0] = undeclared_name;\n}\n'
        )


def test_pycuda_style_dims(adapter, modules):
    out = np.zeros(32 * 2, np.int32)
    run(adapter, modules["indexing"], "own_shared", (2,), (32, 1), [out])
    np.testing.assert_array_equal(out, np.repeat([0, 1], 32))
    with pytest.raises(GpuKernelError, match="1 to 3 numbers"):
        run(adapter, modules["indexing"], "own_shared", (1, 1, 1, 1), (32,), [out])
