"""Registry of tensorc's passes (plus the upstream xDSL passes pipelines use).

`PASSES` maps a pass name to a factory returning the pass class, imported lazily so
that `import tensorc` stays cheap. `tensorc-opt` and `tensorc.pipeline` both use it.
"""

from collections.abc import Callable
from importlib import import_module

from xdsl.passes import ModulePass


def _lazy(module: str, cls: str) -> Callable[[], type[ModulePass]]:
    return lambda: getattr(import_module(module), cls)


PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "tc-autodiff": _lazy("tensorc.passes.autodiff", "AutodiffPass"),
    "tc-canonicalize": _lazy("tensorc.passes.canonicalize", "CanonicalizePass"),
    "tc-stabilize": _lazy("tensorc.passes.stabilize", "StabilizePass"),
    "tc-fuse-elemwise": _lazy("tensorc.passes.fuse_elemwise", "FuseElemwisePass"),
    "tc-bufferize": _lazy("tensorc.passes.bufferize", "BufferizePass"),
    "tc-fuse-loops": _lazy("tensorc.passes.fuse_loops", "FuseLoopsPass"),
    "tc-place-buffers": _lazy("tensorc.passes.place_buffers", "PlaceBuffersPass"),
    "tc-outline-gpu-kernels": _lazy(
        "tensorc.passes.outline_gpu_kernels", "OutlineGpuKernelsPass"
    ),
    "tc-promote-shared": _lazy("tensorc.passes.promote_shared", "PromoteSharedPass"),
    "cse": _lazy("xdsl.transforms.common_subexpression_elimination", "CommonSubexpressionElimination"),
    "dce": _lazy("xdsl.transforms.dead_code_elimination", "DeadCodeElimination"),
}
"""Pass name -> pass class factory. New passes add one line here."""
