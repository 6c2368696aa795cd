"""Running GPU functions: `GpuRunner` executes a HostProgram (gpu_plan) through a
device adapter; `DeviceArray` is a tensor in GPU memory; `adapter_for(device)`
gives the process-wide adapter of 'cuda' (pycuda) or 'cuda-emu' (the emulator).

Per call the runner
- takes numpy arrays (uploaded for the call, freed after it) or DeviceArrays of
  its own device (used in place), checking dtype, rank and static dims like the
  C backend;
- runs the program's steps, freeing everything the call allocated if one fails;
- returns numpy arrays when host memory is device memory (cuda-emu: no copies),
  else DeviceArrays that stay on the GPU until copied (`get()`, `np.asarray`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorc.errors import ConfigError, DTypeError, ShapeError
from tensorc.runtime.gpu_plan import (
    DEVICES,
    Buffer,
    Frame,
    GpuAdapter,
    HostProgram,
)


class DeviceArray:
    """A tensor in GPU memory, owned: freed when the object dies. Functions on
    device 'cuda' return these for the shared variables they update and take
    them without a copy; `get()` or `np.asarray(d)` copies it to the host."""

    __slots__ = ("__weakref__", "adapter", "dtype", "handle", "shape")

    def __init__(
        self, adapter: GpuAdapter, handle: Any, shape: tuple[int, ...], dtype: np.dtype
    ) -> None:
        self.adapter = adapter
        self.handle = handle
        self.shape = shape
        self.dtype = dtype

    @property
    def device(self) -> str:
        return self.adapter.name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def get(self) -> np.ndarray:
        """A fresh host copy."""
        return self.adapter.to_host(self.handle, self.shape, self.dtype)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        host = self.get()
        return host if dtype is None else host.astype(dtype)

    def __del__(self) -> None:
        self.adapter.free(self.handle)

    def __repr__(self) -> str:
        return f"DeviceArray({self.device}, shape={self.shape}, dtype={self.dtype})"


_ADAPTERS: dict[str, GpuAdapter] = {}


def adapter_for(device: str) -> GpuAdapter:
    """The process-wide adapter of `device` ('cuda' or 'cuda-emu'); for 'cuda' a
    DeviceUnavailableError if pycuda, libcuda or a GPU is missing."""
    adapter = _ADAPTERS.get(device)
    if adapter is None:
        if device == "cuda-emu":
            from tensorc.runtime.cuda_emu import CudaEmuAdapter

            adapter = CudaEmuAdapter()
        elif device == "cuda":
            from tensorc.runtime.cuda import CudaAdapter

            adapter = CudaAdapter()
        else:
            raise ConfigError(
                f"unknown GPU device {device!r}: expected one of {DEVICES}"
            )
        _ADAPTERS[device] = adapter
    return adapter


def upload(device: str, array: np.ndarray) -> DeviceArray:
    """`array` copied into the memory of `device` (for values that stay there)."""
    adapter = adapter_for(device)
    array = np.asarray(array, order="C")
    return DeviceArray(adapter, adapter.to_device(array), array.shape, array.dtype)


class GpuRunner:
    """`runner(inputs) -> outputs` for one compiled GPU function."""

    def __init__(self, program: HostProgram, adapter: GpuAdapter, source: str) -> None:
        self.program = program
        self.adapter = adapter
        self.source = source
        self.device = adapter.name
        self.device_values = (
            None if adapter.host_memory_is_device_memory else self.device
        )
        """The device whose memory outputs stay in (as DeviceArray), if any."""
        self.module = adapter.compile(source)
        self._globals: dict[str, Buffer] = {}

    def global_buffer(self, name: str) -> Buffer:
        """The device copy of constant `name`, uploaded on first use."""
        buffer = self._globals.get(name)
        if buffer is None:
            array = self.program.globals[name]
            handle = self.adapter.to_device(array)
            buffer = self._globals[name] = Buffer(handle, array.shape, array.dtype)
        return buffer

    def __call__(self, inputs: Sequence[Any]) -> list[Any]:
        program = self.program
        if len(inputs) != len(program.inputs):
            raise TypeError(f"takes {len(program.inputs)} inputs, got {len(inputs)}")
        frame = Frame(list(program.initial), self.adapter, self.module, self)
        uploaded: list[Any] = []
        try:
            for index, (value, slot) in enumerate(zip(inputs, program.input_slots)):
                frame.registers[slot] = self._input(index, value, uploaded)
            for step in program.steps:
                step(frame)
            return self._outputs(frame)
        except BaseException:
            for buffer in frame.owned:
                if not buffer.freed:
                    self.adapter.free(buffer.handle)
            raise
        finally:
            for handle in uploaded:
                self.adapter.free(handle)

    def _input(self, index: int, value: Any, uploaded: list[Any]) -> Buffer:
        spec = self.program.inputs[index]
        if isinstance(value, DeviceArray):
            if value.adapter is not self.adapter:
                raise ValueError(
                    f"input {index} lives on device {value.device!r}, this function "
                    f"runs on {self.device!r}"
                )
            handle = value.handle
        else:
            value = np.asarray(value, order="C")
            handle = self.adapter.to_device(value)
            uploaded.append(handle)
        if value.dtype != spec.dtype:
            raise DTypeError(
                f"input {index} has dtype {value.dtype}, expected {spec.dtype}"
            )
        if len(value.shape) != len(spec.shape):
            raise ShapeError(
                f"input {index} has {len(value.shape)} dims, expected {len(spec.shape)}"
            )
        for axis, (got, want) in enumerate(zip(value.shape, spec.shape)):
            if want is not None and got != want:
                raise ShapeError(
                    f"input {index} has dim {axis} = {got}, expected {want}"
                )
        return Buffer(handle, tuple(value.shape), value.dtype)

    def _outputs(self, frame: Frame) -> list[Any]:
        """The returned buffers as host arrays (cuda-emu) or DeviceArrays; frees
        every other buffer the call allocated."""
        returned: list[Buffer] = [frame.registers[s] for s in self.program.results]
        adapter = self.adapter
        outputs: list[Any] = []
        for buffer in returned:
            if not buffer.owned or buffer.freed:  # an input, a constant, returned twice
                host = adapter.to_host(buffer.handle, buffer.shape, buffer.dtype).copy()
                buffer = Buffer(adapter.to_device(host), buffer.shape, buffer.dtype)
            buffer.freed = True  # ownership moves to the output
            if adapter.host_memory_is_device_memory:
                outputs.append(
                    adapter.to_host(buffer.handle, buffer.shape, buffer.dtype)
                )
            else:
                outputs.append(
                    DeviceArray(adapter, buffer.handle, buffer.shape, buffer.dtype)
                )
        for buffer in frame.owned:
            if not buffer.freed:
                adapter.free(buffer.handle)
                buffer.freed = True
        return outputs

    def __del__(self) -> None:
        for buffer in getattr(self, "_globals", {}).values():
            self.adapter.free(buffer.handle)
