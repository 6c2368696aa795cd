"""The cuda adapter: CUDA source -> pycuda SourceModule -> launches on a GPU.

Thin on purpose: launch planning is gpu_plan's, the kernels are the CUDA
emitter's. `CudaAdapter` implements gpu_plan's adapter interface with pycuda:
`compile` (SourceModule; the source declares its kernels extern "C"), `alloc`/
`free` (device allocations), `to_device`/`to_host`/`read_scalar` (copies) and
`launch` (get_function + a call with grid, block and dynamic shared bytes).

pycuda is imported only here and only when device 'cuda' is used; `import
tensorc` never touches CUDA. `cuda_status()` tells, without raising, whether
pycuda, libcuda and a GPU are there; `CudaAdapter()` raises one
DeviceUnavailableError naming the missing piece and how to get it. tensorc
never falls back to the CPU silently.
"""

from __future__ import annotations

import atexit
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from tensorc.errors import CompileError, DeviceUnavailableError, GpuKernelError

ALTERNATIVES = (
    "device='cuda-emu' runs the same CUDA kernels on the CPU; device='cpu' runs C"
)
FIXES = {
    "pycuda": (
        "install it with `pip install 'tensorc[cuda]'` (pycuda has no wheels: the "
        "build needs nvcc, the CUDA headers and libcuda)"
    ),
    "libcuda": (
        "install the NVIDIA driver (a pycuda built against CUDA 13 headers needs "
        "driver R580 or newer) or put libcuda.so.1 on LD_LIBRARY_PATH"
    ),
    "device": (
        "run on a machine with an NVIDIA GPU; check `nvidia-smi` and "
        "CUDA_VISIBLE_DEVICES"
    ),
}


@dataclass(frozen=True)
class CudaStatus:
    """What `cuda_status()` found: `missing` is None, 'pycuda', 'libcuda' or
    'device'; `reason` is the underlying error; `devices` describe the GPUs."""

    missing: str | None
    reason: str = ""
    pycuda_version: str = ""
    driver_version: str = ""
    devices: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.missing is None

    def error(self) -> DeviceUnavailableError:
        """The error device='cuda' raises in this state."""
        what = {
            "pycuda": "pycuda is not installed",
            "libcuda": "pycuda is installed but the CUDA driver library libcuda "
            "cannot be loaded",
            "device": "pycuda and the CUDA driver are installed but there is no "
            "usable CUDA GPU",
        }[self.missing or "device"]
        missing = self.missing or "device"
        return DeviceUnavailableError(
            f"device='cuda' is not available: {what} ({self.reason}). To fix: "
            f"{FIXES[missing]}. Alternatives: {ALTERNATIVES}.",
            missing=missing,
        )


def _import_driver() -> tuple[ModuleType | None, CudaStatus | None]:
    """pycuda.driver, or the status saying why it cannot be imported."""
    try:
        import pycuda
    except ImportError as exc:
        return None, CudaStatus("pycuda", str(exc))
    version = getattr(pycuda, "VERSION_TEXT", "")
    try:
        from pycuda import driver
    except (ImportError, OSError) as exc:  # _driver links against libcuda.so.1
        missing = "libcuda" if "libcuda" in str(exc) else "pycuda"
        return None, CudaStatus(missing, str(exc), version)
    return driver, None


def cuda_status() -> CudaStatus:
    """Whether device 'cuda' can run here; never raises."""
    driver, status = _import_driver()
    if driver is None:
        assert status is not None
        return status
    import pycuda

    version = getattr(pycuda, "VERSION_TEXT", "")
    try:
        driver.init()
        count = driver.Device.count()
        devices = tuple(_describe(driver.Device(k)) for k in range(count))
        driver_version = str(driver.get_driver_version())
    except driver.Error as exc:  # not a builtin RuntimeError: pycuda's own base
        return CudaStatus("device", str(exc), version)
    if count == 0:
        return CudaStatus(
            "device", "the driver reports 0 devices", version, driver_version
        )
    return CudaStatus(None, "", version, driver_version, devices)


def _describe(device: Any) -> str:
    major, minor = device.compute_capability()
    memory = device.total_memory() / 2**30
    return f"{device.name()} (sm_{major}{minor}, {memory:.1f} GiB)"


class CudaAdapter:
    """gpu_plan's adapter over pycuda, on GPU 0 (its primary context)."""

    name = "cuda"
    host_memory_is_device_memory = False

    def __init__(self) -> None:
        status = cuda_status()
        if not status.ok:
            raise status.error()
        from pycuda import driver

        self.driver = driver
        self.context = driver.Device(0).retain_primary_context()
        self.context.push()
        atexit.register(self._close)

    def _close(self) -> None:
        try:
            self.context.pop()
        except self.driver.Error:
            pass

    def _current(self) -> None:
        """Make the context current in this thread (CUDA contexts are per thread)."""
        if self.driver.Context.get_current() is None:
            self.context.push()

    def compile(self, source: str) -> Any:
        from pycuda.compiler import SourceModule

        self._current()
        try:
            return SourceModule(source, no_extern_c=True)
        except self.driver.CompileError as exc:
            raise CompileError(
                f"nvcc failed on the generated CUDA source: {exc}"
            ) from exc
        except self.driver.Error as exc:
            raise GpuKernelError(
                f"cuda: loading the compiled kernels failed: {exc}"
            ) from exc

    def alloc(self, nbytes: int) -> Any:
        self._current()
        return self.driver.mem_alloc(max(nbytes, 1))

    def free(self, buffer: Any) -> None:
        try:
            buffer.free()
        except self.driver.Error:  # the context is gone (interpreter exit)
            pass

    def to_device(self, array: np.ndarray) -> Any:
        array = np.asarray(array, order="C")
        buffer = self.alloc(array.nbytes)
        if array.nbytes:
            self.driver.memcpy_htod(buffer, array)
        return buffer

    def to_host(
        self, buffer: Any, shape: tuple[int, ...], dtype: np.dtype
    ) -> np.ndarray:
        host = np.empty(shape, dtype)
        if host.nbytes:
            self._current()
            self.driver.memcpy_dtoh(host, buffer)
        return host

    def read_scalar(self, buffer: Any, dtype: np.dtype) -> Any:
        return self.to_host(buffer, (), dtype)[()]

    def launch(
        self,
        module: Any,
        name: str,
        grid: Sequence[int],
        block: Sequence[int],
        shared_bytes: int,
        args: Sequence[Any],
    ) -> None:
        # pycuda packs numpy numbers by dtype; np.bool_ is not one (a C++ bool is
        # one byte, like uint8)
        args = [np.uint8(a) if isinstance(a, np.bool_) else a for a in args]
        self._current()
        try:
            module.get_function(name)(
                *args, grid=tuple(grid), block=tuple(block), shared=int(shared_bytes)
            )
        except self.driver.Error as exc:
            raise GpuKernelError(
                f"cuda: launch of kernel {name!r} with grid {tuple(grid)}, block "
                f"{tuple(block)}, {shared_bytes} bytes of shared memory failed: {exc}"
            ) from exc
