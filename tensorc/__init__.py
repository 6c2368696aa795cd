"""tensorc: a Theano-style tensor compiler built on xDSL.

    import tensorc as theano
    import tensorc.tensor as T
    x = T.dmatrix('x')
    f = theano.function([x], T.exp(x).sum())

and, define-by-run, a Chainer program with only its imports changed:

    import tensorc as chainer
    import tensorc.functions as F
    import tensorc.links as L
    from tensorc import Chain, optimizers
"""

from tensorc import gradient, tensor  # noqa: F401
from tensorc.frontend.function import Function, In, Out, function
from tensorc.frontend.shared import SharedVariable, shared
from tensorc.gradient import grad
from tensorc.printing import pp
from tensorc.frontend.scan import foldl, foldr, map, reduce, scan  # noqa: A004
from tensorc.define_by_run import Variable, as_variable
from tensorc import functions, gradient_check, optimizers  # noqa: E402

# Chainer programs: `import tensorc as chainer`. `config` gains Chainer's run flags
# (`config.train`, thread-local); the compiler's flags read and set as before.
from tensorc.define_by_run.config import (  # noqa: E402
    config, force_backprop_mode, global_config, no_backprop_mode, using_config,
)

__version__ = "0.1.0"

_LAZY = {
    "links": ("tensorc.links", None),
    "initializers": ("tensorc.initializers", None),
    "optimizer_hooks": ("tensorc.optimizer_hooks", None),
    "serializers": ("tensorc.serializers", None),
    "Sequential": ("tensorc.links", "Sequential"),
    "Link": ("tensorc.links", "Link"),
    "Chain": ("tensorc.links", "Chain"),
    "ChainList": ("tensorc.links", "ChainList"),
    "Parameter": ("tensorc.links", "Parameter"),
    # Chainer's training loop and data pipeline (`chainer.training`, ...).
    "dataset": ("tensorc.dataset", None),
    "datasets": ("tensorc.datasets", None),
    "iterators": ("tensorc.iterators", None),
    "training": ("tensorc.training", None),
    "convert": ("tensorc.dataset.convert", None),
    "reporter": ("tensorc.reporter", None),
    "report": ("tensorc.reporter", "report"),
    "report_scope": ("tensorc.reporter", "report_scope"),
    "Reporter": ("tensorc.reporter", "Reporter"),
    "get_current_reporter": ("tensorc.reporter", "get_current_reporter"),
    "DictSummary": ("tensorc.reporter", "DictSummary"),
    "Summary": ("tensorc.reporter", "Summary"),
}
"""Names imported at first use (links, initializers and hooks cost nothing to
programs that never touch them)."""


def __getattr__(name: str) -> object:
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'tensorc' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


__all__ = [
    "Function", "In", "Out", "SharedVariable", "config", "function", "grad", "gradient",
    "pp", "shared", "tensor", "scan", "foldl", "foldr",
    "Variable", "functions", "gradient_check", "optimizers",
    "Chain", "ChainList", "Link", "Parameter", "as_variable", "force_backprop_mode",
    "global_config", "initializers", "links", "no_backprop_mode", "optimizer_hooks",
    "Sequential", "serializers", "using_config",
    "DictSummary", "Reporter", "Summary", "convert", "dataset", "datasets",
    "get_current_reporter", "iterators", "report", "report_scope", "reporter",
    "training",
]
