"""The cuda-emu adapter: CUDA source -> g++ with cuda_emu.h -> shared library
(cached) -> ctypes launches. Host memory is device memory here.

`CudaEmuAdapter` implements the adapter interface of tensorc/runtime/gpu_plan.py
(see /work/notes/gpu.md): `compile(source)`, `alloc(nbytes)`, `free(buffer)`,
`to_device(array)`, `to_host(buffer, shape, dtype)`, `read_scalar(buffer, dtype)`,
`launch(module, name, grid, block, shared_bytes, args)`. A buffer is a numpy
array (so copies to and from the "device" are free); kernel arguments are buffers
and numpy scalars, checked against the kernel's C++ parameter types.

The source is compiled unchanged, except that `extern __shared__ T name[];`
(dynamic shared memory, which no macro can express) becomes
`TC_EMU_DYNAMIC_SHARED(T, name)`. Each kernel `k` found in the source (`__global__
void k(`) is exported as `tc_emu_launch_k` with its parameter type codes in
`tc_emu_signature_k`.

Environment (read at every launch, so tests can change it):
- TENSORC_CUDA_EMU_ORDER=forward|reverse: the order in which a block's threads
  run between two barriers (an adapter's `order` overrides it);
- TENSORC_CUDA_EMU_THREADS=n: OS threads that run blocks (default: one per core,
  fewer for small launches);
- TENSORC_CUDA_EMU_STACK_KB=n: stack of each CUDA thread (default 64);
and TENSORC_CXX (then CXX, then g++/c++/clang++ on PATH) names the C++ compiler.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tensorc.errors import CompileError, CompilerNotFoundError, GpuKernelError
from tensorc.runtime import cache

HEADER = Path(__file__).with_name("cuda_emu.h")
CXX_FLAGS: tuple[str, ...] = (
    "-std=c++17",
    "-O1",
    "-fPIC",
    "-shared",
    "-pthread",
    "-fwrapv",
    "-ffp-contract=off",
    "-fvisibility=hidden",
)
"""-O1: test kernels are small and compile time dominates. -fwrapv and no FMA
contraction: the same integer and float results as the C backend."""
ORDERS = ("forward", "reverse")
DEFAULT_STACK_KB = 64
ERROR_BYTES = 512
STDERR_LINES = 20

_KERNEL = re.compile(
    r"__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?([A-Za-z_]\w*)\s*\("
)
_DYNAMIC_SHARED = re.compile(
    r"extern\s+__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s+)?"
    r"([A-Za-z_][\w\s]*?\**)\s*([A-Za-z_]\w*)\s*\[\s*\]\s*;"
)
_TYPE_CODES: dict[str, str] = {
    "bool": "?",
    "int8": "b",
    "uint8": "B",
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "uint64": "Q",
    "float16": "e",
    "float32": "f",
    "float64": "d",
}
"""numpy dtype -> the parameter type code cuda_emu.h's TypeCode gives it."""


# region compiling


def find_cxx_compiler() -> tuple[str, ...]:
    """The C++ compiler command: $TENSORC_CXX, else $CXX, else g++, c++ or
    clang++ on PATH. CompilerNotFoundError names what was tried."""
    configured = [
        (source, os.environ.get(source))
        for source in ("TENSORC_CXX", "CXX")
        if os.environ.get(source)
    ]
    # an explicitly configured compiler is used or reported, never skipped
    candidates = [(f"${s}", c) for s, c in configured][:1] or [
        ("PATH", name) for name in ("g++", "c++", "clang++")
    ]
    for _, command in candidates:
        words = tuple(shlex.split(command or ""))
        if words and shutil.which(words[0]):
            return words
    tried = ", ".join(f"{command!r} (from {source})" for source, command in candidates)
    raise CompilerNotFoundError(
        f"device 'cuda-emu' compiles kernels with a C++17 compiler; none found: "
        f"tried {tried}. Install one (e.g. `apt install g++`) or set TENSORC_CXX."
    )


@functools.cache
def _identity(compiler: tuple[str, ...]) -> str:
    path = shutil.which(compiler[0]) or compiler[0]
    result = subprocess.run(
        [*compiler, "--version"], capture_output=True, text=True, check=False
    )
    return "\n".join((os.path.realpath(path), *compiler[1:], result.stdout))


def kernel_names(source: str) -> list[str]:
    """Names of the `__global__` functions of CUDA `source`, in order."""
    return list(dict.fromkeys(_KERNEL.findall(source)))


def translation_unit(source: str) -> str:
    """The C++ text g++ compiles: the header, the (lightly rewritten) CUDA source
    with its own line numbers, one export per kernel."""
    body = _DYNAMIC_SHARED.sub(
        lambda m: f"TC_EMU_DYNAMIC_SHARED({m.group(1).strip()}, {m.group(2)});", source
    )
    exports = "".join(f"TC_EMU_EXPORT({name})\n" for name in kernel_names(source))
    return f'#include "cuda_emu.h"\n#line 1 "kernels.cu"\n{body}\n{exports}'


def build_library(source: str, extra_flags: Sequence[str] = ()) -> cache.CacheEntry:
    """The cached shared library of CUDA `source` for the emulator."""
    compiler = find_cxx_compiler()
    unit = translation_unit(source)
    flags = (*CXX_FLAGS, *extra_flags)
    key = cache.cache_key(
        unit, HEADER.read_text(), _identity(compiler), *flags, _tensorc_version()
    )
    directory = cache.cache_dir() / "cuda-emu"

    def compile_into(library: Path) -> None:
        unit_path = library.parent / "kernels.cpp"
        unit_path.write_text(unit)
        command = [
            *compiler,
            *flags,
            f"-I{HEADER.parent}",
            "-o",
            str(library),
            str(unit_path),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not library.exists():
            kept = directory / f"{key}.failed.cu"
            cache.publish(kept, source)
            raise CompileError(_failure(command, result, kept))
        cache.publish(directory / f"{key}.cu", source)  # for debugging

    return cache.get_or_build(key, ".so", compile_into, kind="cuda-emu")


@functools.cache
def _tensorc_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tensorc")
    except PackageNotFoundError:
        return "unknown"


def _failure(
    command: list[str], result: subprocess.CompletedProcess[str], kept: Path
) -> str:
    lines = result.stderr.splitlines()
    more = len(lines) - STDERR_LINES
    return (
        f"C++ compiler failed on the CUDA source (cuda-emu), exit status "
        f"{result.returncode}:\n  {shlex.join(command)}\n"
        + "\n".join(lines[:STDERR_LINES])
        + (f"\n[... {more} more lines of compiler output]" if more > 0 else "")
        + f"\n(CUDA source kept at {kept})"
    )


# endregion
# region modules and launches


class EmuKernel:
    """One exported kernel: its launcher and parameter type codes."""

    __slots__ = ("launcher", "name", "signature")

    def __init__(self, library: ctypes.CDLL, name: str) -> None:
        self.name = name
        signature = getattr(library, f"tc_emu_signature_{name}")
        signature.restype = ctypes.c_char_p
        signature.argtypes = ()
        self.signature: str = signature().decode()
        self.launcher = getattr(library, f"tc_emu_launch_{name}")
        self.launcher.restype = ctypes.c_int
        self.launcher.argtypes = (
            ctypes.POINTER(ctypes.c_int64),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_char_p,
            ctypes.c_int64,
        )


class EmuModule:
    """A compiled CUDA source: `kernels[name]`."""

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.source = source
        self._library = ctypes.CDLL(str(path))
        self.kernels = {
            name: EmuKernel(self._library, name) for name in kernel_names(source)
        }

    def __repr__(self) -> str:
        return f"<EmuModule {sorted(self.kernels)} from {self.path}>"


def _code_of(argument: Any) -> str:
    if isinstance(argument, np.ndarray):
        return "p"
    if isinstance(argument, np.generic):
        code = _TYPE_CODES.get(argument.dtype.name)
        if code is not None:
            return code
    raise GpuKernelError(
        f"cuda-emu: kernel arguments are buffers and numpy scalars, got {argument!r}"
    )


def _three(dims: Sequence[int]) -> tuple[int, ...]:
    """Grid or block dims as (x, y, z); pycuda-style shorter tuples pad with 1."""
    if not 1 <= len(dims) <= 3:
        raise GpuKernelError(f"grid and block dims are 1 to 3 numbers, got {dims}")
    return (*dims, *(1,) * (3 - len(dims)))


def _environment_int(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    try:
        return int(text) if text else default
    except ValueError:
        raise GpuKernelError(f"{name}={text!r} is not an integer") from None


class CudaEmuAdapter:
    """Runs CUDA source on the CPU through cuda_emu.h (see the module docstring).

    `order` is 'forward' or 'reverse' (None: $TENSORC_CUDA_EMU_ORDER, default
    forward); `workers` is the number of OS threads running blocks (None:
    $TENSORC_CUDA_EMU_THREADS, default one per core).
    """

    name = "cuda-emu"
    host_memory_is_device_memory = True

    def __init__(self, order: str | None = None, workers: int | None = None) -> None:
        if order is not None and order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        self.order = order
        self.workers = workers

    def compile(self, source: str) -> EmuModule:
        return EmuModule(build_library(source).path, source)

    def alloc(self, nbytes: int) -> np.ndarray:
        return np.empty(max(nbytes, 1), dtype=np.uint8)

    def free(self, buffer: np.ndarray) -> None:
        """Nothing to do: numpy frees the memory when the last view dies."""

    def to_device(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array, order="C")

    def to_host(
        self, buffer: np.ndarray, shape: tuple[int, ...], dtype: np.dtype
    ) -> np.ndarray:
        count = int(np.prod(shape, dtype=np.int64))
        if buffer.dtype == dtype and buffer.size == count:
            return buffer.reshape(shape)
        flat = buffer.reshape(-1).view(np.uint8)
        return flat[: count * dtype.itemsize].view(dtype).reshape(shape)

    def read_scalar(self, buffer: np.ndarray, dtype: np.dtype) -> Any:
        return buffer.reshape(-1).view(np.uint8)[: dtype.itemsize].view(dtype)[0]

    def launch(
        self,
        module: EmuModule,
        name: str,
        grid: Sequence[int],
        block: Sequence[int],
        shared_bytes: int,
        args: Sequence[Any],
    ) -> None:
        """Run kernel `name` on `grid` x `block`; GpuKernelError if the launch is
        invalid, the arguments do not match the kernel's parameters, or the
        emulator detects an error (see cuda_emu.h)."""
        kernel = module.kernels.get(name)
        if kernel is None:
            raise GpuKernelError(
                f"cuda-emu: the module has no kernel {name!r} "
                f"(kernels: {', '.join(module.kernels) or 'none'})"
            )
        codes = "".join(_code_of(a) for a in args)
        # a bool parameter takes a uint8 0/1 (same byte; pycuda passes bools so)
        if codes.replace("?", "B") != kernel.signature.replace("?", "B"):
            raise GpuKernelError(
                f"cuda-emu: kernel {name!r} takes parameters ({kernel.signature}), "
                f"got arguments ({codes}) (type codes: p pointer, q int64, i int32, "
                "f float, d double)"
            )
        # Each argument's value lives in an array; params points at those values.
        values = [
            np.array([a.ctypes.data], dtype=np.uintp)
            if isinstance(a, np.ndarray)
            else np.array(a)
            for a in args
        ]
        params = (ctypes.c_void_p * max(len(values), 1))(
            *(v.ctypes.data for v in values)
        )
        config = (ctypes.c_int64 * 10)(
            *_three(grid),
            *_three(block),
            shared_bytes,
            self._reverse(),
            self._workers(),
            _environment_int("TENSORC_CUDA_EMU_STACK_KB", DEFAULT_STACK_KB),
        )
        error = ctypes.create_string_buffer(ERROR_BYTES)
        if kernel.launcher(config, params, error, ERROR_BYTES) != 0:
            raise GpuKernelError(error.value.decode("utf-8", errors="replace"))

    def _reverse(self) -> int:
        order = self.order or os.environ.get("TENSORC_CUDA_EMU_ORDER") or "forward"
        if order not in ORDERS:
            raise GpuKernelError(
                f"TENSORC_CUDA_EMU_ORDER={order!r}: expected one of {ORDERS}"
            )
        return int(order == "reverse")

    def _workers(self) -> int:
        if self.workers is not None:
            return self.workers
        return _environment_int("TENSORC_CUDA_EMU_THREADS", 0)


# endregion
