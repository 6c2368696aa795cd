"""From a frontend graph to something that runs: trace, the optimization pipeline,
then the backend chosen by `mode` and `device` (the reference interpreter or C).

C functions are cached whole. The key is the graph's content (`graph_key`, no
xDSL needed) + tensorc's source fingerprint (passes, pipelines, emitter) + numpy's
version + the C compiler's identity + the compile flags and the machine's x86-64
level + the donated (in-place) updates. A hit (a warm compile) loads the stored
kernel and skips tracing, the passes, the C emission and the C compiler, without
importing xDSL; the optimized tc module
(`f.maker`) and the C source (`f.source`) are read from the cache when asked for.
Next to each compiled library, `<cache>/function/<key>.json` holds the entry
signature and `<key>.mlir` the optimized module. Whatever else a compile comes to
depend on (an environment variable read by a pass, a flag) must join the key in
`_function_key`, or a warm compile would miss its change.

`TENSORC_PROFILE_COMPILE=1` prints the time of each stage to stderr: graph key,
importing the compiler (xDSL), trace, each pass, codegen, C compile, load, store.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tensorc.errors import ConfigError, LoweringError
from tensorc.frontend.graph_key import graph_key
from tensorc.frontend.variable import Variable
from tensorc.runtime import cache

if TYPE_CHECKING:
    from xdsl.context import Context
    from xdsl.dialects.builtin import ModuleOp

    from tensorc.runtime.cpu import CpuKernel

MODES = ("FAST_RUN", "REFERENCE")
ENTRY = "main"
CACHE_FORMAT = "1"
"""Bumped when the layout of a cached function's metadata changes."""


class CompiledGraph:
    """A compiled graph: `run(arrays) -> outputs` (explicit inputs then shared
    values, in order), the CPU `kernel` if any, and the optimized tc module and
    C source, produced lazily when they come from the cache."""

    def __init__(
        self,
        run: Callable[[list[np.ndarray]], list[np.ndarray]],
        *,
        kernel: CpuKernel | None = None,
        optimized: ModuleOp | None = None,
        optimized_path: Path | None = None,
        source: str | None = None,
        device_values: str | None = None,
    ) -> None:
        self.run = run
        self.kernel = kernel
        self._optimized = optimized
        self._optimized_path = optimized_path
        self._source = source
        self.device_values = device_values
        """The GPU device whose memory `run` takes and returns values in (then
        they are gpu_runner.DeviceArray), None for host arrays."""

    @property
    def optimized(self) -> ModuleOp:
        if self._optimized is None:
            from xdsl.parser import Parser

            from tensorc import pipeline

            assert self._optimized_path is not None
            text = self._optimized_path.read_text()
            self._optimized = Parser(pipeline.make_context(), text).parse_module()
        return self._optimized

    @property
    def source(self) -> str | None:
        """The generated C, or CUDA on a GPU device."""
        return self._source if self.kernel is None else self.kernel.source


class _Profile:
    """Per-stage timings printed when TENSORC_PROFILE_COMPILE=1."""

    def __init__(self) -> None:
        self.enabled = os.environ.get("TENSORC_PROFILE_COMPILE") == "1"
        self.start = time.perf_counter()
        self.stages: list[tuple[str, float]] = []

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages.append((stage, now - self.start))
        self.start = now

    def report(self) -> None:
        if not self.enabled:
            return
        total = sum(t for _, t in self.stages)
        lines = [f"  {name:<28} {t * 1e3:8.1f} ms" for name, t in self.stages]
        lines.append(f"  {'total':<28} {total * 1e3:8.1f} ms")
        print("tensorc compile profile:\n" + "\n".join(lines), file=sys.stderr)


def compile_graph(
    args: Sequence[Variable],
    results: Sequence[Variable],
    device: str,
    mode: str,
    donated: Mapping[int, int] | None = None,
) -> CompiledGraph:
    """Compile the graph `args -> results` for `device` in `mode`. `donated` maps
    a result to the argument the caller replaces by it after a successful call
    (a shared variable's update): the CPU code may write that result into the
    argument's buffer (tc-place-buffers) and return the argument."""
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}: expected 'FAST_RUN' or 'REFERENCE'")
    profile = _Profile()
    try:
        if mode == "REFERENCE":
            return _compile_reference(args, results, profile)
        if device != "cpu":
            return _compile_gpu(args, results, device, profile)
        return _compile_cpu(args, results, profile, donated or {})
    finally:
        profile.report()


def _compile_reference(
    args: Sequence[Variable], results: Sequence[Variable], profile: _Profile
) -> CompiledGraph:
    from tensorc import pipeline
    from tensorc.frontend.trace import trace
    from tensorc.runtime import interp

    module = trace(args, results, ENTRY)
    profile.mark("trace")
    _run_passes("tc", pipeline.make_context(), module, profile)
    return CompiledGraph(
        lambda arrays: _copy_aliases(interp.run_function(module, arrays), arrays),
        optimized=module,
    )


def _compile_cpu(
    args: Sequence[Variable],
    results: Sequence[Variable],
    profile: _Profile,
    donated: Mapping[int, int],
) -> CompiledGraph:
    key = _function_key(args, results, donated)
    profile.mark("graph key")
    if key is not None:
        cached = _load_cached(key)
        if cached is not None:
            profile.mark("load (cache hit)")
            return cached
    from tensorc import pipeline
    from tensorc.frontend.trace import trace
    from tensorc.lowering.cpu.c_emitter import emit_c_with_info
    from tensorc.passes.place_buffers import mark_donated
    from tensorc.runtime import cpu

    profile.mark("import the compiler")
    module = trace(args, results, ENTRY)
    profile.mark("trace")
    ctx = pipeline.make_context()
    _run_passes("tc", ctx, module, profile)
    lowered = module.clone()
    mark_donated(lowered, donated, ENTRY)
    _run_passes("cpu", ctx, lowered, profile)
    source, emitter = emit_c_with_info(lowered)
    profile.mark("codegen")
    library = cpu.build_library(
        source, uses_blas=emitter.uses_gemm, part_costs=emitter.part_costs
    )
    profile.mark("C compile" if library.built else "C compile (cached)")
    inputs, outputs = cpu.entry_signature(cpu.entry_function(lowered, ENTRY))
    kernel = cpu.CpuKernel(library.path, source, ENTRY, inputs, outputs)
    profile.mark("load")
    if key is not None:
        _store(key, kernel, module)
        profile.mark("store")
    return CompiledGraph(kernel, kernel=kernel, optimized=module)


def _check_gpu_support(module: Any, device: str) -> None:
    """LoweringError naming the user's line for what the GPU path lacks."""
    from tensorc.dialects import tc
    from tensorc.lowering.legality import describe

    for op in module.walk():
        if isinstance(op, tc.ScanOp):
            raise LoweringError(
                f"{describe(op)}: scan runs on the CPU only so far; compile this "
                f"function with device='cpu' instead of {device!r}"
            )


def _compile_gpu(
    args: Sequence[Variable],
    results: Sequence[Variable],
    device: str,
    profile: _Profile,
) -> CompiledGraph:
    """Device 'cuda' or 'cuda-emu': the "cuda" pipeline, the CUDA emitter, and a
    launch plan of the host function run through the device's adapter
    (tensorc/runtime/gpu_plan.py, gpu_runner.py). A missing GPU is reported before
    any work."""
    from tensorc.runtime import gpu_plan, gpu_runner

    adapter = gpu_runner.adapter_for(device)
    from tensorc import pipeline
    from tensorc.frontend.trace import trace
    from tensorc.lowering.gpu.cuda_emitter import emit_cuda

    module = trace(args, results, ENTRY)
    profile.mark("trace")
    _check_gpu_support(module, device)
    ctx = pipeline.make_context()
    _run_passes("tc", ctx, module, profile)
    lowered = module.clone()
    _run_passes("cuda", ctx, lowered, profile)
    source = emit_cuda(lowered)
    profile.mark("CUDA codegen")
    runner = gpu_runner.GpuRunner(gpu_plan.plan_host(lowered, ENTRY), adapter, source)
    profile.mark("CUDA compile + load")
    return CompiledGraph(
        runner, optimized=module, source=source, device_values=runner.device_values
    )


def _run_passes(stage: str, ctx: Context, module: ModuleOp, profile: _Profile) -> None:
    """Run pipeline stage `stage` pass by pass (so each one is timed)."""
    from tensorc import pipeline

    for compiler_pass in pipeline.passes(pipeline.PIPELINES[stage]):
        compiler_pass.apply(ctx, module)
        profile.mark(compiler_pass.name)


# region function cache


def _function_key(
    args: Sequence[Variable], results: Sequence[Variable], donated: Mapping[int, int]
) -> str | None:
    """The cache key of compiling `args -> results` for the CPU; None if the
    graph has no key (then it is compiled every time; its C still hits the C
    cache)."""
    from tensorc.runtime import cpu

    graph = graph_key(args, results)
    if graph is None:
        return None
    identity = cpu.compiler_identity(cpu.find_c_compiler())
    return cache.cache_key(
        CACHE_FORMAT,
        graph,
        cpu.tensorc_fingerprint(),
        np.__version__,
        identity,
        *cpu.COMPILE_FLAGS,
        *cpu.target_flags(identity),
        repr(sorted(donated.items())),
    )


def _function_dir() -> Path:
    return cache.cache_dir() / "function"


def _store(key: str, kernel: CpuKernel, optimized: ModuleOp) -> None:
    """Publish what a warm compile needs: the library, the entry signature and
    the optimized module (the C source is already next to the library)."""
    from io import StringIO

    from xdsl.printer import Printer

    text = StringIO()
    Printer(stream=text, print_debuginfo=True).print_op(optimized)
    cache.publish(_function_dir() / f"{key}.mlir", text.getvalue())
    meta = {
        "library": kernel.library_path.name,
        "entry": kernel.entry,
        "inputs": [
            [dtype.name, list(shape)]
            for (dtype, _), shape in zip(kernel.input_types, kernel.input_shapes)
        ],
        "outputs": [[dtype.name, rank] for dtype, rank in kernel.output_types],
    }
    cache.publish(_function_dir() / f"{key}.json", json.dumps(meta))


def _load_cached(key: str) -> CompiledGraph | None:
    """The cached function `key`, or None if any part of it is missing."""
    from tensorc.runtime import cpu

    directory = _function_dir()
    try:
        meta: dict[str, Any] = json.loads((directory / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    library = cache.cache_dir() / "c" / meta["library"]
    optimized = directory / f"{key}.mlir"
    if not (library.is_file() and optimized.is_file()):
        return None
    kernel = cpu.CpuKernel(
        library,
        None,
        meta["entry"],
        [(np.dtype(dtype), tuple(shape)) for dtype, shape in meta["inputs"]],
        [(np.dtype(dtype), rank) for dtype, rank in meta["outputs"]],
    )
    return CompiledGraph(kernel, kernel=kernel, optimized_path=optimized)


# endregion


def _copy_aliases(
    results: list[np.ndarray], args: list[np.ndarray]
) -> list[np.ndarray]:
    """Outputs never alias inputs or each other (as with the C backend)."""
    seen = {id(a) for a in args}
    out: list[Any] = []
    for r in results:
        r = np.asarray(r)
        if id(r) in seen:
            r = r.copy()
        seen.add(id(r))
        out.append(r)
    return out
