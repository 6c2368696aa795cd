"""From a traced tc module to something that runs: the optimization pipeline, then
the backend chosen by `mode` and `device` (the reference interpreter or C)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from tensorc import pipeline
from tensorc.errors import ConfigError, TensorcError


class DeviceUnavailableError(TensorcError, RuntimeError):
    """The requested device cannot run here (no silent fallback to the CPU)."""


@dataclass
class CompiledGraph:
    optimized: ModuleOp
    run: Callable[[list[np.ndarray]], list[np.ndarray]]
    source: str | None


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
        if self.enabled:
            total = sum(t for _, t in self.stages)
            lines = [f"  {name:<24} {t * 1e3:8.1f} ms" for name, t in self.stages]
            print("tensorc compile profile:\n" + "\n".join(lines)
                  + f"\n  {'total':<24} {total * 1e3:8.1f} ms", file=sys.stderr)


def compile_graph(module: ModuleOp, device: str, mode: str) -> CompiledGraph:
    """Optimize `module` (in place) and build the runner for `device`/`mode`."""
    if mode not in ("FAST_RUN", "REFERENCE"):
        raise ConfigError(f"unknown mode {mode!r}: expected 'FAST_RUN' or 'REFERENCE'")
    profile = _Profile()
    ctx = pipeline.make_context()
    pipeline.run("tc", ctx, module)
    profile.mark("tc passes")
    if mode == "REFERENCE":
        from tensorc.runtime import interp

        profile.report()
        return CompiledGraph(module, lambda args: _copy_aliases(
            interp.run_function(module, args), args), None)
    if device != "cpu":
        raise DeviceUnavailableError(
            f"device {device!r} is not available: the GPU backend is not built yet; "
            "use device='cpu'"
        )
    from tensorc.runtime import cpu

    lowered = module.clone()
    pipeline.run("cpu", ctx, lowered)
    profile.mark("tc-bufferize")
    kernel = cpu.compile_module(lowered)
    profile.mark("codegen + cc + load")
    profile.report()
    return CompiledGraph(module, kernel, kernel.source)


def _copy_aliases(results: list[np.ndarray], args: list[np.ndarray]) -> list[np.ndarray]:
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
