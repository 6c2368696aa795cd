"""CPU runtime: bufferized module -> C -> shared library (cached) -> one call.

`compile_module(module)` emits C with the CEmitter, compiles it with the system C
compiler (portable flags, no -ffast-math; BLAS linked with an rpath when the
module calls gemm), caches the library by content (tensorc.runtime.cache) and
returns a `CpuKernel`. A kernel call is one foreign call: inputs are passed by
data pointer and dims, outputs come back as malloc'ed buffers that numpy arrays
wrap without copying and free through `tensorc_free` when they die.

`CpuKernel.__call__` goes through ctypes; `CpuKernel.native()` is the same entry
behind the CPython extension of tensorc.runtime.pyentry (under a microsecond per
call), or None where that extension cannot be built. Loading a kernel
(`CpuKernel(library, ...)`) needs no xDSL: a cached function loads without it.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import re
import shlex
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tensorc.errors import (
    CompileError,
    CompilerNotFoundError,
    LoweringError,
    ShapeError,
)
from tensorc.runtime import cache

if TYPE_CHECKING:  # xDSL is imported only to compile, never to load a cached kernel
    import subprocess

    from xdsl.dialects.builtin import ModuleOp
    from xdsl.dialects.func import FuncOp

# Idle libgomp threads spin by default and take the cores OpenBLAS's own threads
# need: a 784-256-10 MLP step took 30 ms instead of 2 ms on 2 cores. libgomp reads
# this once, when the first kernel library loads it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

COMPILE_FLAGS: tuple[str, ...] = (
    "-O3",
    "-fPIC",
    "-shared",
    "-fwrapv",
    "-std=c11",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fopenmp",
    "-pthread",
)
"""Portable: no -march=native (the cache may be shared between machines; the C
marks entries for run-time dispatch between x86-64 vector levels instead) and no
-ffast-math (results must match numpy's IEEE semantics, NaN included). Rounding
stays per operation like numpy's (no fused multiply-adds), libm need not set errno
(so its calls are pure and vectorize into glibc's libmvec), and OpenMP provides
`omp simd` and threads (libgomp, which ships with GCC)."""
_X86_64_V3 = frozenset(
    {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
)
X86_64_LEVELS: dict[str, frozenset[str]] = {
    "x86-64-v4": _X86_64_V3
    | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"},
    "x86-64-v3": _X86_64_V3,
}
"""The psABI x86-64 levels worth compiling for (best first), by the /proc/cpuinfo
flags each needs (v2's are implied)."""
STDERR_LINES = 20
ERROR_BUFFER_BYTES = 1024
ENTRY_PREFIX = "tensorc_entry_"
STATUS_ASSERT = 1
STATUS_OUT_OF_MEMORY = 2
"""The C ABI of an entry (notes/abi.md), as c_emitter writes it; repeated here so
that loading a kernel does not import the emitter (a test checks they agree)."""

TensorType = tuple[np.dtype, int]
"""(dtype, rank) of a kernel input or output."""
StaticShape = tuple[int | None, ...]
"""The static dims of a kernel input (None where dynamic)."""


# region compiler


def find_c_compiler(cc: str | None = None) -> tuple[str, ...]:
    """The C compiler command (argv prefix): `cc` if given, else `$TENSORC_CC`,
    else the `cc` flag (`TENSORC_FLAGS=cc=...`), else `$CC`, else `cc` or `gcc` on
    PATH. The value may carry arguments (`ccache gcc`). CompilerNotFoundError if
    the chosen command is not on PATH."""
    from tensorc.config import config

    configured = [
        (source, command)
        for source, command in (
            ("the cc argument", cc),
            ("$TENSORC_CC", os.environ.get("TENSORC_CC")),
            ("TENSORC_FLAGS cc=", config.cc),
            ("$CC", os.environ.get("CC")),
        )
        if command
    ]
    # an explicitly configured compiler is used or reported, never skipped
    candidates = configured[:1] or [("PATH", "cc"), ("PATH", "gcc")]
    for _, command in candidates:
        words = tuple(shlex.split(command))
        if words and shutil.which(words[0]):
            return words
    tried = ", ".join(f"{command!r} (from {source})" for source, command in candidates)
    raise CompilerNotFoundError(
        f"no C compiler found: tried {tried}. Install one (e.g. `apt install gcc`) "
        "or set TENSORC_CC (or TENSORC_FLAGS=cc=..., or CC) to the compiler's path."
    )


@functools.cache
def compiler_identity(compiler: tuple[str, ...]) -> str:
    """Resolved path and `--version` output (part of every cache key).

    `--version` runs once per compiler binary, not per process: its output is
    kept in the cache under the binary's path, size, inode and modification time,
    so replacing or upgrading the compiler runs it again. (A wrapper script is
    identified by the script itself.)"""
    path = os.path.realpath(shutil.which(compiler[0]) or compiler[0])
    try:
        status = os.stat(path)
        stamp = f"{status.st_size}:{status.st_ino}:{status.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    key = cache.cache_key(*compiler, path, stamp)
    stored = cache.cache_dir() / "cc" / f"{key}.txt"
    try:
        return stored.read_text()
    except OSError:
        pass
    import subprocess

    result = subprocess.run(
        [*compiler, "--version"], capture_output=True, text=True, check=False
    )
    identity = "\n".join((path, *compiler[1:], result.stdout, result.stderr))
    if result.returncode == 0:
        cache.publish(stored, identity)
    return identity


@functools.cache
def target_flags(identity: str) -> tuple[str, ...]:
    """Compile for this machine's x86-64 level (e.g. `-march=x86-64-v4` where the
    CPU has AVX-512) instead of the prelude's three target_clones of every entry:
    one variant compiles in a third of the time and uses the vector level the
    clones' dispatcher would pick (the best the CPU has). The
    flags are part of every cache key, so a cache shared with other machines
    stays correct. Empty (the clones stay) for compilers other than GCC >= 11
    (`identity` is compiler_identity's text) or an unknown CPU."""
    major = re.search(r"\) (\d+)\.\d+", identity)
    gcc = "Free Software Foundation" in identity
    if not (gcc and major and int(major.group(1)) >= 11):
        return ()
    if platform.machine() != "x86_64":
        return ()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    line = next((x for x in cpuinfo.splitlines() if x.startswith("flags")), ":")
    level = x86_64_level(set(line.split(":", 1)[1].split()))
    return () if level is None else ("-DTENSORC_NO_CLONES", f"-march={level}")


def x86_64_level(cpu_flags: set[str]) -> str | None:
    """The best level of X86_64_LEVELS a CPU with `cpu_flags` runs, if any."""
    return next((n for n, needs in X86_64_LEVELS.items() if needs <= cpu_flags), None)


def blas_link_flags() -> tuple[str, ...]:
    """Link scipy-openblas32 with an rpath so the library finds it at load time."""
    import scipy_openblas32

    directory = scipy_openblas32.get_lib_dir()
    return (
        f"-L{directory}",
        f"-l{scipy_openblas32.get_library()}",
        f"-Wl,-rpath,{directory}",
    )


@functools.cache
def tensorc_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tensorc")
    except PackageNotFoundError:
        return "unknown"


SOURCE_SUFFIXES = (".py", ".h", ".c")


@functools.cache
def tensorc_fingerprint() -> str:
    """sha256 of tensorc's own sources (Python, and C headers it may include): a
    compiled artifact that skips the passes and the emitter must change whenever
    any of them does (the package version alone does not change during
    development)."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for directory, subdirectories, files in os.walk(package):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(SOURCE_SUFFIXES)):
            path = Path(directory, name)
            digest.update(str(path.relative_to(package)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def build_library(
    source: str,
    *,
    uses_blas: bool = False,
    cc: str | None = None,
    extra_flags: Sequence[str] = (),
    part_costs: Sequence[int] = (),
) -> cache.CacheEntry:
    """The cached shared library of C `source`, compiled if not cached yet. A
    source in parts (`part_costs`, the emitter's TC_PART costs) is compiled by one
    compiler process per core, each on a balanced group of parts, then linked."""
    compiler = find_c_compiler(cc)
    identity = compiler_identity(compiler)
    flags = (*COMPILE_FLAGS, *extra_flags)
    # after the source: `cc <COMPILE_FLAGS> -o <library>` reads as before
    machine = target_flags(identity)
    link = (*(blas_link_flags() if uses_blas else ()), "-lm")
    key = cache.cache_key(
        source, tensorc_version(), identity, *flags, "|", *machine, "|", *link
    )
    # target_clones calls clones of the callee by name: one unit, or no clones
    groups = part_groups(part_costs, usable_cores()) if machine else []

    directory = cache.cache_dir() / "c"

    def compile_into(library: Path) -> None:
        source_path = library.parent / "module.c"
        source_path.write_text(source)
        linked = [*compiler, *flags, "-o", str(library)]
        if len(groups) < 2:
            steps = [[[*linked, str(source_path), *machine, *link]]]
        else:
            objects = [str(library.parent / f"part{k}.o") for k in range(len(groups))]
            parts = [
                [*compiler, *flags, "-c", f"-DTENSORC_PARTS={mask}", "-o", obj]
                + [str(source_path), *machine]
                for mask, obj in zip(groups, objects, strict=True)
            ]
            steps = [parts, [[*linked, *objects, *machine, *link]]]
        for commands in steps:
            failure = run_at_once(commands)
            if failure is not None:
                failed = directory / f"{key}.failed.c"
                cache.publish(failed, source)
                raise CompileError(compile_failure(failure, failed))
        # before the library appears: whoever loads it may read its source
        cache.publish(directory / f"{key}.c", source)  # for f.source and debugging

    return cache.get_or_build(key, ".so", compile_into, kind="c")


def run_at_once(commands: list[list[str]]) -> subprocess.CompletedProcess[str] | None:
    """Run the commands in parallel; the first that failed, if any (a command
    whose last argument after `-o` was not written failed too)."""
    import subprocess

    running = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    outputs = [process.communicate() for process in running]
    results = [
        subprocess.CompletedProcess(c, p.returncode, out, errors)
        for c, p, (out, errors) in zip(commands, running, outputs, strict=True)
    ]
    for result in results:
        output = Path(result.args[result.args.index("-o") + 1])
        if result.returncode != 0 or not output.exists():
            return result
    return None


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def part_groups(costs: Sequence[int], cores: int) -> list[int]:
    """TENSORC_PARTS bit masks, one per compiler process: the parts, costliest
    first, each added to the cheapest group so far; at most `cores` groups."""
    count = min(len(costs), cores)
    if count < 2:
        return []
    masks, totals = [0] * count, [0] * count
    for part in sorted(range(len(costs)), key=lambda k: -costs[k]):
        group = min(range(count), key=totals.__getitem__)
        masks[group] |= 1 << part
        totals[group] += costs[part]
    return masks


def compile_failure(
    result: subprocess.CompletedProcess[str], source: Path
) -> str:
    """The CompileError message: the command, the first lines of its errors and
    where the source was kept."""
    lines = result.stderr.splitlines()
    shown = "\n".join(lines[:STDERR_LINES])
    more = len(lines) - STDERR_LINES
    return (
        f"C compiler failed with exit status {result.returncode}:\n"
        f"  {shlex.join(result.args)}\n"
        f"{shown}\n"
        + (f"[... {more} more lines of compiler output]\n" if more > 0 else "")
        + f"(generated source kept at {source})"
    )


# endregion
# region kernels


def compile_module(
    module: ModuleOp,
    entry: str = "main",
    *,
    cc: str | None = None,
    extra_flags: Sequence[str] = (),
) -> CpuKernel:
    """Compile bufferized `module` (see c_emitter) and load its entry `@entry`."""
    from tensorc.lowering.cpu.c_emitter import emit_c_with_info

    function = entry_function(module, entry)
    source, emitter = emit_c_with_info(module)
    library = build_library(
        source,
        uses_blas=emitter.uses_gemm,
        cc=cc,
        extra_flags=extra_flags,
        part_costs=emitter.part_costs,
    )
    inputs, outputs = entry_signature(function)
    return CpuKernel(library.path, source, entry, inputs, outputs)


def entry_function(module: ModuleOp, entry: str = "main") -> FuncOp:
    """The public function `@entry` of bufferized `module`; LoweringError if none."""
    from xdsl.dialects import func

    for op in module.ops:
        if (
            isinstance(op, func.FuncOp)
            and op.sym_name.data == entry
            and not op.is_declaration
        ):
            return op
    raise LoweringError(f"the module has no function @{entry} to compile")


def entry_signature(
    function: FuncOp,
) -> tuple[tuple[tuple[np.dtype, StaticShape], ...], tuple[TensorType, ...]]:
    """((dtype, static dims) per input, (dtype, rank) per output) of an entry."""
    from xdsl.dialects.builtin import DYNAMIC_INDEX, MemRefType

    from tensorc.lowering.cpu.c_expr import c_scalar_type

    def dtype_and_shape(t: object) -> tuple[np.dtype, StaticShape]:
        if not isinstance(t, MemRefType):
            raise LoweringError(f"entry functions take and return memrefs, not {t}")
        dtype = np.dtype(c_scalar_type(t.element_type).numpy_dtype)
        shape = tuple(None if d == DYNAMIC_INDEX else d for d in t.get_shape())
        return dtype, shape

    signature = function.function_type
    inputs = tuple(dtype_and_shape(t) for t in signature.inputs.data)
    outputs = tuple(dtype_and_shape(t) for t in signature.outputs.data)
    return inputs, tuple((dtype, len(shape)) for dtype, shape in outputs)


class _OwnedBuffer:
    """The base of an output array: exposes the malloc'ed buffer to numpy and
    frees it with the library's own allocator when the array dies."""

    __slots__ = ("__array_interface__", "_free", "_pointer")

    def __init__(
        self,
        pointer: int,
        shape: tuple[int, ...],
        typestr: str,
        free: Callable[[int], None],
    ) -> None:
        self.__array_interface__ = {
            "data": (pointer, False),
            "shape": shape,
            "typestr": typestr,
            "version": 3,
        }
        self._pointer = pointer
        self._free = free

    def __del__(self) -> None:
        self._free(self._pointer)


class _CallBuffers:
    """Argument arrays of one thread's calls (ctypes releases the GIL, so two
    threads may be inside the same kernel at once)."""

    def __init__(self, inputs: int, input_dims: int, outputs: int, output_dims: int):
        self.in_data = (ctypes.c_void_p * max(inputs, 1))()
        self.in_shapes = (ctypes.c_int64 * max(input_dims, 1))()
        self.out_data = (ctypes.c_void_p * max(outputs, 1))()
        self.out_shapes = (ctypes.c_int64 * max(output_dims, 1))()
        self.err = ctypes.create_string_buffer(ERROR_BUFFER_BYTES)
        self.arguments = (
            self.in_data,
            self.in_shapes,
            self.out_data,
            self.out_shapes,
            self.err,
            ctypes.c_int64(ERROR_BUFFER_BYTES),
        )


class CpuKernel:
    """A loaded entry function: `kernel(inputs) -> outputs`.

    `inputs` must be C-contiguous arrays of `input_types` (dtype, rank) with the
    static dims of `input_shapes`; the caller checks that. A failed run-time check
    raises ShapeError with the message the bufferized IR gave its `cf.assert`.
    `source` is the C source (read from the cache when not given). An output the
    kernel wrote into an input's buffer (in place) is returned as that input.
    """

    def __init__(
        self,
        library_path: Path,
        source: str | None,
        entry: str,
        inputs: Sequence[tuple[np.dtype, StaticShape | int]],
        output_types: Sequence[TensorType],
    ) -> None:
        self.library_path = library_path
        self._source = source
        self.entry = entry
        self.input_shapes: tuple[StaticShape, ...] = tuple(
            (None,) * s if isinstance(s, int) else tuple(s) for _, s in inputs
        )
        self.input_types: tuple[TensorType, ...] = tuple(
            (np.dtype(d), len(s)) for (d, _), s in zip(inputs, self.input_shapes)
        )
        self.output_types = tuple((np.dtype(d), r) for d, r in output_types)
        library = ctypes.CDLL(str(library_path))
        _disable_threads_after_fork(library_path, library)
        self._function = getattr(library, ENTRY_PREFIX + entry)
        self._function.restype = ctypes.c_int
        self._free = library.tensorc_free
        self._free.argtypes = (ctypes.c_void_p,)
        self._free.restype = None
        self._library = library
        self._input_slices = _dim_slices(self.input_types)
        self._output_layout = [
            (index, slice_, dtype.str)
            for index, ((dtype, _), slice_) in enumerate(
                zip(self.output_types, _dim_slices(self.output_types), strict=True)
            )
        ]
        self._local = threading.local()
        self._native: Any = None

    @property
    def source(self) -> str:
        if self._source is None:
            self._source = self.library_path.with_suffix(".c").read_text()
        return self._source

    def native(self, wait: bool = True) -> Any:
        """This entry as a `pyentry` Kernel (one C call from Python, no ctypes),
        or None where the extension cannot be built (or, with `wait=False`, is
        still being built)."""
        if self._native is None:
            from tensorc.runtime import pyentry

            module = pyentry.load(wait)
            if module is None:
                return None
            address = ctypes.cast(self._function, ctypes.c_void_p).value
            free = ctypes.cast(self._free, ctypes.c_void_p).value
            self._native = module.Kernel(
                address,
                free,
                self._library,
                ShapeError,
                [
                    (
                        pyentry.type_number(dtype.name),
                        [-1 if d is None else d for d in s],
                    )
                    for (dtype, _), s in zip(self.input_types, self.input_shapes)
                ],
                [(pyentry.type_number(d.name), rank) for d, rank in self.output_types],
                pyentry.RELEASE_GIL_BYTES,
            )
        return self._native

    def _buffers(self) -> _CallBuffers:
        try:
            return self._local.buffers
        except AttributeError:
            dims_in = sum(rank for _, rank in self.input_types)
            dims_out = sum(rank for _, rank in self.output_types)
            buffers = _CallBuffers(
                len(self.input_types), dims_in, len(self.output_types), dims_out
            )
            self._local.buffers = buffers
            return buffers

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(inputs) != len(self.input_types):
            raise TypeError(
                f"{self.entry} takes {len(self.input_types)} inputs, got {len(inputs)}"
            )
        buffers = self._buffers()
        in_data, in_shapes = buffers.in_data, buffers.in_shapes
        for index, (array, dims) in enumerate(
            zip(inputs, self._input_slices, strict=True)
        ):
            in_data[index] = _data_pointer(array)
            in_shapes[dims] = array.shape
        status = self._function(*buffers.arguments)
        if status:
            raise _run_failure(status, buffers.err.value)
        out_data, out_shapes = buffers.out_data, buffers.out_shapes
        pointers = list(in_data)[: len(inputs)]
        return [
            self._output(
                out_data[i], tuple(out_shapes[dims]), typestr, inputs, pointers
            )
            for i, dims, typestr in self._output_layout
        ]

    def _output(
        self,
        pointer: int,
        shape: tuple[int, ...],
        typestr: str,
        inputs: Sequence[np.ndarray],
        pointers: list[int],
    ) -> np.ndarray:
        if pointer in pointers:  # written in place into an input's buffer
            base = inputs[pointers.index(pointer)]
            if base.shape == shape and base.dtype.str == typestr:
                return base
            view = {"data": (pointer, False), "shape": shape, "typestr": typestr}
            return np.asarray(_View({**view, "version": 3}, base))
        return np.asarray(_OwnedBuffer(pointer, shape, typestr, self._free))

    def __repr__(self) -> str:
        return f"<CpuKernel @{self.entry} from {self.library_path}>"


class _View:
    """The base of an output that reinterprets an input's buffer (keeps it alive)."""

    __slots__ = ("__array_interface__", "_owner")

    def __init__(self, interface: dict[str, Any], owner: np.ndarray) -> None:
        self.__array_interface__ = interface
        self._owner = owner


_THREAD_SWITCHES: dict[Path, Any] = {}
"""`tensorc_set_threads` of every loaded library, by path."""
_forked_child = False


def _disable_threads_after_fork(path: Path, library: ctypes.CDLL) -> None:
    """libgomp's thread pool does not survive fork(): a forked child that enters
    a parallel region hangs. Kernels in a forked child run on one thread (the
    prelude's `tensorc_set_threads(0)`), including ones loaded after the fork."""
    switch = getattr(library, "tensorc_set_threads", None)
    if switch is None:  # a library without threads
        return
    switch.argtypes = (ctypes.c_int,)
    switch.restype = None
    _THREAD_SWITCHES[path] = switch
    if _forked_child:
        switch(0)


def _after_fork_in_child() -> None:
    global _forked_child
    _forked_child = True
    for switch in _THREAD_SWITCHES.values():
        switch(0)


os.register_at_fork(after_in_child=_after_fork_in_child)


def _dim_slices(types: Sequence[TensorType]) -> list[slice]:
    """Where each tensor's dims sit in the concatenated shape array."""
    slices: list[slice] = []
    offset = 0
    for _, rank in types:
        slices.append(slice(offset, offset + rank))
        offset += rank
    return slices


_addressof = ctypes.addressof
_char_view = ctypes.c_char.from_buffer


def _data_pointer(array: np.ndarray) -> int:
    try:  # the fast path (~0.4 us); needs a writable, non-empty buffer
        return _addressof(_char_view(array))
    except (TypeError, ValueError, BufferError):
        return array.ctypes.data


def _run_failure(status: int, message: bytes) -> Exception:
    text = message.decode("utf-8", errors="replace")
    if status == STATUS_ASSERT:
        return ShapeError(text)
    if status == STATUS_OUT_OF_MEMORY:
        return MemoryError(text)
    return RuntimeError(f"tensorc kernel returned unknown status {status}: {text}")


# endregion
