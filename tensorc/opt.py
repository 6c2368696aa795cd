"""`tensorc-opt`: xDSL's opt driver with tensorc's dialect, passes and targets.

    tensorc-opt model.mlir -p tc-canonicalize,cse -t c

Every upstream dialect, pass and target stays available; tensorc's own passes (named
`tc-...`, from `tensorc.passes.PASSES`) are listed first in `--help`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import version

from xdsl.ir import Dialect
from xdsl.utils.target import Target
from xdsl.xdsl_opt_main import xDSLOptMain

from tensorc.passes import PASSES

TARGETS: dict[str, Callable[[], type[Target]]] = {
    "c": lambda: importlib.import_module("tensorc.lowering.cpu.c_emitter").CTarget,
    "cuda": lambda: importlib.import_module(
        "tensorc.lowering.gpu.cuda_emitter"
    ).CudaTarget,
}
"""Target name -> lazy factory of the Target class (imported only when chosen)."""


def _load_tc_dialect() -> Dialect:
    return importlib.import_module("tensorc.dialects.tc").TC


def _load_tck_dialect() -> Dialect:
    return importlib.import_module("tensorc.dialects.tck").TCK


class TensorcOptMain(xDSLOptMain):
    """xdsl-opt plus the tc dialect, tensorc's passes and the tensorc targets."""

    version_format = f"tensorc-opt {version('tensorc')} (xdsl {{xdsl_version}})"

    def register_all_dialects(self) -> None:
        super().register_all_dialects()
        self.ctx.register_dialect("tc", _load_tc_dialect)
        self.ctx.register_dialect("tck", _load_tck_dialect)

    def register_all_passes(self) -> None:
        super().register_all_passes()
        upstream = {n: f for n, f in self.available_passes.items() if n not in PASSES}
        # tensorc's passes come first in --help and win where names coincide (cse).
        self.available_passes = {**PASSES, **upstream}

    def register_all_targets(self) -> None:
        self.available_targets.update(TARGETS)  # first in --help; upstream keeps out
        super().register_all_targets()


def main() -> None:
    description = (
        "tensorc modular optimizer driver. tensorc passes: "
        f"{', '.join(n for n in PASSES if n.startswith('tc-'))}; "
        f"tensorc targets: {', '.join(TARGETS)}."
    )
    TensorcOptMain(description=description).run()


if __name__ == "__main__":
    main()
