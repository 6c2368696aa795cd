"""Pass pipelines as data: one spec string per stage and target.

`tensorc.function` and `tensorc-opt -p <spec>` build pipelines from the same strings.
"""

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline

from tensorc.passes import PASSES

PIPELINES: dict[str, str] = {
    # tensor-level optimization; the result is what f.maker.fgraph shows.
    # tc-stabilize before tc-autodiff: gradients derive from the stable forms.
    # tc-autodiff before the simplifications: they clean up gradient code too.
    # tc-autodiff before tc-fuse-elemwise: a composite has no VJP rule.
    # tc-canonicalize, cse, dce before tc-fuse-elemwise: fusion sees the final
    # graph (folded splats, shared values, no dead ops), and nothing after it
    # looks inside composites.
    "tc": "tc-stabilize,tc-autodiff,tc-canonicalize,cse,dce,tc-fuse-elemwise",
    # tensors -> memrefs and loops; the C emitter consumes the result.
    # tc-fuse-loops right after tc-bufferize: merging loops interleaves buffer
    # lifetimes, so it precedes any liveness-based buffer reuse.
    # tc-place-buffers last: it places the buffers of the final loops.
    "cpu": "tc-bufferize{views=true},tc-fuse-loops,tc-place-buffers",
    # devices "cuda"/"cuda-emu": the same loops, outlined into kernels; placement
    # into shared memory needs the kernels' final shape, so it runs last.
    # No tc-fuse-loops: the outliner wants one nest per op and merges the nests of
    # a row into one kernel itself (with barriers between them).
    "cuda": "tc-bufferize,tc-outline-gpu-kernels,tc-promote-shared",
}


def build(spec: str) -> PassPipeline:
    """Pipeline for a spec like 'tc-canonicalize,cse'."""
    return PassPipeline.parse_spec(PASSES, spec)


def passes(spec: str) -> tuple[ModulePass, ...]:
    return build(spec).passes


def run(stage: str, ctx: Context, module: ModuleOp) -> None:
    """Run the named pipeline stage of PIPELINES on `module` in place."""
    build(PIPELINES[stage]).apply(ctx, module)


def make_context() -> Context:
    """A context with the tc dialect and the upstream dialects tensorc lowers to."""
    from xdsl.dialects import get_all_dialects

    from tensorc.dialects.tc import TC
    from tensorc.dialects.tck import TCK

    ctx = Context()
    for name, factory in get_all_dialects().items():
        if name not in ("tc", "tck"):
            ctx.register_dialect(name, factory)
    ctx.load_dialect(TC)
    ctx.load_dialect(TCK)
    return ctx
