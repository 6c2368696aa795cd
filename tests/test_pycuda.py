"""The pycuda adapter (tensorc/runtime/cuda.py).

- Real pycuda: tests skipped when pycuda cannot be imported (no machine here has
  it); with a GPU they run kernels, without one they check the reported state.
- The error path always runs: missing pycuda, missing libcuda, no device each
  raise one DeviceUnavailableError naming the piece and the fix (simulated with
  stand-in `pycuda` packages, the way pycuda itself fails; see
  /work/shared/reference/cuda-without-gpu.md §1.5).
- The adapter's own code always runs too, against a stand-in pycuda whose
  "device memory" is separate host memory and whose SourceModule runs the
  kernels on the emulator: copies, launches, DeviceArray outputs.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tensorc.errors import DeviceUnavailableError, GpuKernelError
from tensorc.runtime import gpu_plan, gpu_runner
from tensorc.runtime.cuda import cuda_status

FAKE_INIT = 'VERSION_TEXT = "0.0-standin"\n'

FAKE_DRIVER = '''
"""Stand-in for pycuda.driver: device memory is separate host memory."""
import numpy as np

STATE = {"init_error": None, "devices": 1, "htod": 0, "dtoh": 0, "live": 0}


class Error(Exception):
    """Like pycuda._driver.Error: not a builtin RuntimeError."""


class CompileError(Error):
    pass


def init():
    if STATE["init_error"]:
        raise Error(STATE["init_error"])


def get_driver_version():
    return 13000


class Context:
    current = None

    def push(self):
        Context.current = self

    def pop(self):
        Context.current = None

    @staticmethod
    def get_current():
        return Context.current


class Device:
    def __init__(self, ordinal):
        self.ordinal = ordinal

    @staticmethod
    def count():
        return STATE["devices"]

    def name(self):
        return "Stand-in GPU"

    def compute_capability(self):
        return (8, 0)

    def total_memory(self):
        return 16 * 2**30

    def retain_primary_context(self):
        return Context()


class DeviceAllocation:
    def __init__(self, nbytes):
        self.memory = np.zeros(nbytes, np.uint8)
        self.freed = False
        STATE["live"] += 1

    def free(self):
        if not self.freed:
            self.freed = True
            STATE["live"] -= 1


def mem_alloc(nbytes):
    if nbytes <= 0:
        raise Error("cuMemAlloc failed: invalid argument")
    return DeviceAllocation(nbytes)


def memcpy_htod(dest, src):
    STATE["htod"] += 1
    dest.memory[: src.nbytes] = np.frombuffer(src.tobytes(), np.uint8)


def memcpy_dtoh(dest, src):
    STATE["dtoh"] += 1
    dest.reshape(-1).view(np.uint8)[:] = src.memory[: dest.nbytes]
'''

FAKE_COMPILER = '''
"""Stand-in for pycuda.compiler: SourceModule runs kernels on the emulator."""
from pycuda import driver
from tensorc.runtime.cuda_emu import CudaEmuAdapter


class SourceModule:
    def __init__(self, source, no_extern_c=False, **options):
        if not no_extern_c:
            raise driver.CompileError("tensorc sources declare extern C themselves")
        if "#error" in source:
            raise driver.CompileError("nvcc compilation of kernel.cu failed")
        self.emulator = CudaEmuAdapter()
        self.module = self.emulator.compile(source)

    def get_function(self, name):
        def launch(*args, grid, block, shared=0):
            memory = [a.memory if isinstance(a, driver.DeviceAllocation) else a
                      for a in args]
            try:
                self.emulator.launch(self.module, name, grid, block, shared, memory)
            except Exception as exc:
                raise driver.Error(f"cuLaunchKernel failed: {exc}") from exc
        return launch
'''

NO_LIBCUDA_DRIVER = (
    'raise ImportError("libcuda.so.1: cannot open shared object file: '
    'No such file or directory")\n'
)


def _pycuda_importable() -> bool:
    try:
        return importlib.util.find_spec("pycuda") is not None
    except ValueError:
        return False


REAL_PYCUDA = _pycuda_importable()


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path for a stand-in `pycuda` package; afterwards every
    pycuda module imported from it is forgotten and the adapters are reset."""
    if REAL_PYCUDA:
        pytest.skip("a real pycuda is installed; the stand-ins would shadow it")
    package = tmp_path / "pycuda"
    package.mkdir()
    (package / "__init__.py").write_text(FAKE_INIT)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(gpu_runner, "_ADAPTERS", {})
    yield package
    for name in [m for m in sys.modules if m == "pycuda" or m.startswith("pycuda.")]:
        del sys.modules[name]


def _install(package: Path, driver: str, compiler: str = FAKE_COMPILER) -> ModuleType:
    (package / "driver.py").write_text(textwrap.dedent(driver))
    (package / "compiler.py").write_text(textwrap.dedent(compiler))
    if driver is NO_LIBCUDA_DRIVER:
        return ModuleType("unused")
    import pycuda.driver

    return pycuda.driver


# region the error path


def test_missing_pycuda(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycuda", None)  # `import pycuda` fails
    monkeypatch.setattr(gpu_runner, "_ADAPTERS", {})
    status = cuda_status()
    assert status.missing == "pycuda" and not status.ok
    with pytest.raises(DeviceUnavailableError) as caught:
        gpu_runner.adapter_for("cuda")
    assert caught.value.missing == "pycuda"
    message = str(caught.value)
    assert "pycuda is not installed" in message
    assert "pip install 'tensorc[cuda]'" in message
    assert "device='cuda-emu'" in message


def test_missing_libcuda(standin):
    _install(standin, NO_LIBCUDA_DRIVER)
    with pytest.raises(DeviceUnavailableError) as caught:
        gpu_runner.adapter_for("cuda")
    assert caught.value.missing == "libcuda"
    message = str(caught.value)
    assert "libcuda cannot be loaded" in message
    assert "libcuda.so.1: cannot open shared object file" in message
    assert "NVIDIA driver" in message


def test_no_device(standin):
    driver = _install(standin, FAKE_DRIVER)
    driver.STATE["init_error"] = "cuInit failed: no CUDA-capable device is detected"
    with pytest.raises(DeviceUnavailableError) as caught:
        gpu_runner.adapter_for("cuda")
    assert caught.value.missing == "device"
    assert "no CUDA-capable device is detected" in str(caught.value)
    assert "nvidia-smi" in str(caught.value)
    driver.STATE.update(init_error=None, devices=0)
    status = cuda_status()
    assert status.missing == "device" and "0 devices" in status.reason


# endregion
# region the adapter against the stand-in driver

HOST = """
builtin.module {
  func.func @main(%x: memref<?xf32>, %s: memref<f32>) -> (memref<?xf32>, memref<f32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %n = memref.dim %x, %c0 : memref<?xf32>
    %out = memref.alloc(%n) : memref<?xf32>
    %total = memref.alloc() : memref<f32>
    %g = arith.ceildivui %n, %c64 : index
    %z = arith.constant 0 : i32
    "gpu.launch_func"(%g, %c1, %c1, %c64, %c1, %c1, %z, %x, %s, %out, %total) <{kernel = @kernels::@scale, operandSegmentSizes = array<i32: 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 4, 0>}> : (index, index, index, index, index, index, i32, memref<?xf32>, memref<f32>, memref<?xf32>, memref<f32>) -> ()
    func.return %out, %total : memref<?xf32>, memref<f32>
  }
}
"""

KERNELS = r"""
extern "C" __global__ void scale(const float* x, int64_t n, const float* s, float* out,
                                 int64_t out_n, float* total) {
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i == 0) *total = 0.0f;
    if (i < n) out[i] = x[i] * *s;
    if (i == 0) for (int64_t k = 0; k < n; ++k) *total += x[k] * *s;
}
"""


@pytest.fixture
def adapter(standin):
    driver = _install(standin, FAKE_DRIVER)
    adapter = gpu_runner.adapter_for("cuda")
    assert adapter.name == "cuda" and not adapter.host_memory_is_device_memory
    return adapter, driver


def test_buffers_copies_and_scalars(adapter):
    cuda, driver = adapter
    array = np.arange(6, dtype=np.float64).reshape(2, 3)
    buffer = cuda.to_device(array)
    back = cuda.to_host(buffer, (2, 3), np.dtype(np.float64))
    np.testing.assert_array_equal(back, array)
    assert back is not array and cuda.read_scalar(buffer, np.dtype(np.float64)) == 0.0
    empty = cuda.to_device(np.zeros((0, 4), np.float32))  # a valid 1-byte allocation
    assert cuda.to_host(empty, (0, 4), np.dtype(np.float32)).shape == (0, 4)
    live = driver.STATE["live"]
    cuda.free(buffer)
    cuda.free(empty)
    assert driver.STATE["live"] == live - 2


def test_runner_keeps_results_on_the_device(adapter):
    from xdsl.parser import Parser

    from tensorc import pipeline

    cuda, driver = adapter
    program = gpu_plan.plan_host(Parser(pipeline.make_context(), HOST).parse_module())
    runner = gpu_runner.GpuRunner(program, cuda, KERNELS)
    x = np.arange(100, dtype=np.float32)
    out, total = runner([x, np.float32(2)])
    assert isinstance(out, gpu_runner.DeviceArray) and out.device == "cuda"
    assert out.shape == (100,) and out.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(out), 2 * x)
    assert total.get() == 2 * x.sum()
    # A device result is the next call's input without a copy to or from the host.
    uploads = driver.STATE["htod"]
    again, _ = runner([out, np.float32(0.5)])
    assert driver.STATE["htod"] == uploads + 1  # only the host scalar
    np.testing.assert_array_equal(again.get(), x)
    # Device memory lives as long as the arrays: inputs uploaded for a call and
    # everything the call did not return are freed.
    live = driver.STATE["live"]
    del out, total
    assert driver.STATE["live"] == live - 2


def test_adapter_errors(adapter):
    cuda, _ = adapter
    from tensorc.errors import CompileError

    with pytest.raises(CompileError, match="nvcc failed on the generated CUDA source"):
        cuda.compile("#error broken\n")
    module = cuda.compile(KERNELS)
    with pytest.raises(
        GpuKernelError,
        match=r"launch of kernel 'scale' with grid "
        r"\(1, 1, 1\), block \(2048, 1, 1\)",
    ):
        cuda.launch(module, "scale", (1, 1, 1), (2048, 1, 1), 0, [])


def test_bool_arguments_go_as_bytes(adapter):
    cuda, _ = adapter
    module = cuda.compile(
        'extern "C" __global__ void flag(double* out, bool on) { *out = on ? 2 : 3; }'
    )
    out = cuda.alloc(8)
    for on, want in ((True, 2.0), (False, 3.0)):
        cuda.launch(module, "flag", (1,), (1,), 0, [out, np.bool_(on)])
        assert cuda.read_scalar(out, np.dtype(np.float64)) == want


def test_upload_for_shared_values(adapter):
    cuda, _ = adapter
    value = gpu_runner.upload("cuda", np.arange(4.0))
    assert value.adapter is cuda and value.ndim == 1
    np.testing.assert_array_equal(value.get(), np.arange(4.0))
    assert repr(value) == "DeviceArray(cuda, shape=(4,), dtype=float64)"


def test_shared_variables_live_on_the_device(adapter):
    import tensorc
    import tensorc.tensor as T

    _, driver = adapter
    w = tensorc.shared(np.zeros(3), name="w")
    x = T.dvector("x")
    step = tensorc.function([x], (w * x).sum(), updates={w: w + x}, device="cuda")
    assert step.maker.device == "cuda" and "__global__" in step.source
    uploads, downloads = driver.STATE["htod"], driver.STATE["dtoh"]
    for k in range(3):
        out = step(np.ones(3))
        assert type(out) is np.ndarray and out == 3.0 * k
    assert isinstance(w.get_value(return_internal_type=True), gpu_runner.DeviceArray)
    # w went to the device once; each call uploads x and downloads the output
    assert driver.STATE["htod"] - uploads == 1 + 3
    assert driver.STATE["dtoh"] - downloads == 3
    np.testing.assert_array_equal(w.get_value(), [3.0, 3.0, 3.0])
    w.set_value(np.full(3, 10.0))
    assert step(np.ones(3)) == 30.0
    # A CPU function reads the value the GPU function left on the device.
    double = tensorc.function([], w * 2)
    np.testing.assert_array_equal(double(), [22.0, 22.0, 22.0])


def test_function_on_missing_gpu_raises_one_clear_error(monkeypatch):
    import tensorc
    import tensorc.tensor as T

    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setattr(gpu_runner, "_ADAPTERS", {})
    x = T.dvector("x")
    with pytest.raises(DeviceUnavailableError, match="pycuda is not installed"):
        tensorc.function([x], x + 1, device="cuda")


# endregion
# region real pycuda (skipped here: no machine has it)


@pytest.mark.skipif(not REAL_PYCUDA, reason="pycuda cannot be imported")
def test_real_pycuda_reports_its_state():
    status = cuda_status()
    if status.ok:
        assert status.devices and all("sm_" in d for d in status.devices)
    else:
        assert status.missing in ("libcuda", "device") and status.reason
        with pytest.raises(DeviceUnavailableError):
            gpu_runner.adapter_for("cuda")


@pytest.mark.skipif(
    not REAL_PYCUDA or not cuda_status().ok, reason="needs pycuda and a CUDA GPU"
)
def test_real_gpu_runs_the_kernels():
    from xdsl.parser import Parser

    from tensorc import pipeline

    program = gpu_plan.plan_host(Parser(pipeline.make_context(), HOST).parse_module())
    runner = gpu_runner.GpuRunner(program, gpu_runner.adapter_for("cuda"), KERNELS)
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    out, total = runner([x, np.float32(3)])
    np.testing.assert_allclose(out.get(), 3 * x, rtol=1e-6)
    np.testing.assert_allclose(total.get(), 3 * x.sum(), rtol=1e-4)


# endregion
