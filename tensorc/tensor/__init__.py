"""`tensorc.tensor`, usually imported as `T`: Theano's `theano.tensor` namespace.

Constructors follow Theano's prefixes: b=int8, w=int16, i=int32, l=int64, f=float32,
d=float64, and no prefix = config.floatX (`T.matrix`). `T.tensor(dtype, shape=...)`
takes static dims (`None` = unknown).
"""

from __future__ import annotations

from typing import Any

from tensorc.frontend.elemwise import (  # noqa: F401
    abs, add, and_, as_variable, cast, ceil, clip, constant, cos, eq, erf, exp, expm1,
    floor, ge, gt, identity, int_div, invert, isinf, isnan, le, log, log1p, lt, maximum,
    minimum, mod, mul, neg, neq, or_, pow, reciprocal, round, sgn, sigmoid, sin, softplus,
    sqr, sqrt, sub, switch, tan, tanh, true_div, xor,
)
from tensorc.frontend.reduce import (  # noqa: F401
    argmax, argmin, batched_dot, batched_tensordot, dot, max, mean, min, outer, prod,
    std, sum, tensordot, var,
)
from tensorc.frontend.shape_ops import (  # noqa: F401
    alloc, arange, concatenate, dimshuffle, fill, flatten, inc_subtensor, ones, ones_like,
    reshape, set_subtensor, shape, stack, transpose, zeros, zeros_like,
)
from tensorc.frontend.variable import TensorType, Variable
from tensorc.tensor import extra_ops, nlinalg, nnet  # noqa: F401
from tensorc.tensor.basic import (  # noqa: F401
    addbroadcast, all, any, diag, eye, identity_like, largest, patternbroadcast,
    shape_padaxis, shape_padleft, shape_padright, smallest, specify_shape, tile,
    unbroadcast,
)
from tensorc.tensor.extra_ops import cumprod, cumsum, repeat  # noqa: F401
from tensorc.tensor.unimplemented import unimplemented

TensorVariable = Variable
where = switch
as_tensor_variable = as_variable
as_tensor = as_variable
sign = sgn
inv = reciprocal
power = pow
abs_ = abs
sort = unimplemented("T.sort")
argsort = unimplemented("T.argsort")
gammaln = unimplemented("T.gammaln")
psi = unimplemented("T.psi")

_PREFIX_DTYPES = {
    "b": "int8", "w": "int16", "i": "int32", "l": "int64",
    "f": "float32", "d": "float64", "": "floatX",
}
_KINDS: dict[str, tuple[bool, ...]] = {
    "scalar": (), "vector": (False,), "matrix": (False, False),
    "row": (True, False), "col": (False, True),
    "tensor3": (False,) * 3, "tensor4": (False,) * 4, "tensor5": (False,) * 5,
}


def tensor(dtype: Any = "floatX", shape: Any = None, name: str | None = None,
           broadcastable: Any = None) -> Variable:
    """A symbolic input of the given dtype and static shape (`None` = unknown dim)."""
    if isinstance(shape, str) and name is None:
        name, shape = shape, None
    if shape is None and broadcastable is None:
        raise TypeError("T.tensor needs shape=(...) (or broadcastable=(...))")
    return TensorType(dtype, broadcastable=broadcastable, shape=shape)(name)


def _constructor(dtype: str, broadcastable: tuple[bool, ...]) -> Any:
    def make(name: str | None = None, dtype_override: Any = None, **kwargs: Any) -> Variable:
        chosen = kwargs.pop("dtype", dtype_override) or dtype
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        return TensorType(chosen, broadcastable=broadcastable)(name)

    return make


def _plural(single: Any) -> Any:
    def make(*names: Any, dtype: Any = None) -> list[Variable]:
        if len(names) == 1 and isinstance(names[0], int):
            return [single(dtype=dtype) for _ in range(names[0])]
        return [single(n, dtype=dtype) for n in names]

    return make


for _prefix, _dtype in _PREFIX_DTYPES.items():
    for _kind, _bcast in _KINDS.items():
        _fn = _constructor(_dtype, _bcast)
        _fn.__name__ = _prefix + _kind
        globals()[_prefix + _kind] = _fn
        _plural_name = "matrices" if _kind == "matrix" else _kind + "s"
        globals()[_prefix + _plural_name] = _plural(_fn)


def grad(cost: Any, wrt: Any, **kwargs: Any) -> Any:
    """Symbolic gradient d(cost)/d(wrt) (see tensorc.gradient.grad)."""
    from tensorc.gradient import grad as _grad

    return _grad(cost, wrt, **kwargs)


def __getattr__(name: str) -> Any:
    """`T.shared_randomstreams`, imported at first use (as Theano exposes it)."""
    if name == "shared_randomstreams":
        import importlib

        return importlib.import_module("tensorc.tensor.shared_randomstreams")
    raise AttributeError(f"module 'tensorc.tensor' has no attribute {name!r}")
