"""Symbolic variables: immutable DAG nodes (op, inputs, type) of the user's graph.

A `Variable` is one value: the result of a tc op (`op` is the short tc op name, e.g.
"add"), a symbolic input (`op == "input"`), a shared variable (`op == "shared"`) or a
constant (`op == "constant"`, value in `attrs["value"]`). Every node records the user
source line that created it. Dunder methods delegate to `tensorc.frontend.ops`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "bool")
_DTYPE_NAMES = frozenset(DTYPES)
_NAME_OF_DTYPE = {np.dtype(name): name for name in DTYPES}
"""numpy dtype -> its name (np.dtype.name is slow; eager code asks often)."""

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class SourceLoc:
    """Where the user created a node (the first stack frame outside tensorc)."""

    filename: str
    line: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}"


_UNKNOWN = SourceLoc("<unknown>", 0)

_COMPARISONS = frozenset(("lt", "le", "gt", "ge", "eq", "ne"))
"""Ops whose result has no truth value at graph construction (Theano's rule)."""


_PACKAGE_PREFIX = _PACKAGE_DIR + os.sep
_LOCATIONS: dict[tuple[str, int], SourceLoc] = {}
"""Interned user locations: every node records one, and a frozen SourceLoc is
slower to construct than to look up (a program has few distinct lines)."""


def user_location() -> SourceLoc:
    """The first stack frame outside the tensorc package (every node records it)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_PREFIX):
            key = (filename, frame.f_lineno)
            loc = _LOCATIONS.get(key)
            if loc is None:
                if len(_LOCATIONS) >= 4096:
                    _LOCATIONS.clear()
                loc = _LOCATIONS[key] = SourceLoc(*key)
            return loc
        frame = frame.f_back  # type: ignore[assignment]
    return _UNKNOWN


def normalize_dtype(dtype: object) -> str:
    """'float64', np.float64, np.dtype('f8'), 'floatX' -> a tensorc dtype name."""
    if isinstance(dtype, str) and dtype in _DTYPE_NAMES:  # the common cases, fast
        return dtype
    if isinstance(dtype, np.dtype) and dtype in _NAME_OF_DTYPE:
        return _NAME_OF_DTYPE[dtype]
    if dtype == "floatX":
        from tensorc.config import config

        return config.floatX
    from tensorc.errors import DTypeError

    try:
        name = np.dtype(dtype).name  # type: ignore[arg-type]
    except TypeError as exc:
        raise DTypeError(f"unknown dtype {dtype!r}") from exc
    if name not in DTYPES:
        raise DTypeError(f"dtype {name} is not supported (supported: {', '.join(DTYPES)})")
    return name


class TensorType:
    """dtype + static shape (`int | None` per dim). Theano's `broadcastable` is derived
    (`dim == 1`). Calling a type makes a symbolic input: `TensorType('float64', (None,))('x')`.
    """

    __slots__ = ("dtype", "shape")

    def __init__(
        self,
        dtype: object,
        broadcastable: tuple[bool, ...] | None = None,
        shape: tuple[int | None, ...] | None = None,
    ):
        self.dtype = normalize_dtype(dtype)
        if shape is None:
            shape = tuple(1 if b else None for b in (broadcastable or ()))
        self.shape: tuple[int | None, ...] = tuple(
            None if d is None else int(d) for d in shape
        )

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(d == 1 for d in self.shape)

    def __call__(self, name: str | None = None) -> Variable:
        return Variable("input", (), self, name=name)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TensorType)
            and self.dtype == other.dtype
            and self.shape == other.shape
        )

    def __hash__(self) -> int:
        return hash((self.dtype, self.shape))

    def __repr__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"TensorType({self.dtype}, shape=({dims}{',' if self.ndim == 1 else ''}))"

    def __str__(self) -> str:
        return repr(self)


class Variable:
    """One value of a symbolic graph. Immutable except for its `name`."""

    __slots__ = ("op", "inputs", "type", "attrs", "name", "loc", "__weakref__")

    def __init__(
        self,
        op: str,
        inputs: tuple[Variable, ...],
        type: TensorType,
        attrs: Mapping[str, Any] | None = None,
        name: str | None = None,
        loc: SourceLoc | None = None,
    ):
        self.op = op
        self.inputs = tuple(inputs)
        self.type = type
        self.attrs: Mapping[str, Any] = dict(attrs or {})
        self.name = name
        self.loc = loc if loc is not None else user_location()

    # -- type queries ------------------------------------------------------------
    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    @property
    def shape(self) -> Any:
        return _ops().Shape(self)

    @property
    def T(self) -> Variable:
        return _ops().transpose(self)

    @property
    def owner(self) -> Variable | None:
        """Theano compatibility: the node that computes this value (itself, or None
        for inputs, shared variables and constants)."""
        return None if self.op in ("input", "shared", "constant") else self

    def __repr__(self) -> str:
        if self.name:
            return self.name
        return f"{self.op}.0"

    def __str__(self) -> str:
        return self.__repr__()

    def __bool__(self) -> bool:
        """True, as in Theano (`if input:` tests that a variable was given), except
        for comparisons, whose truth is only known at run time (`a < b < c`)."""
        if self.op in _COMPARISONS:
            raise TypeError(
                f"the truth value of the comparison {self!r} (created at {self.loc}) "
                "is unknown at graph construction; use T.switch / T.where for "
                "conditionals"
            )
        return True

    def __iter__(self) -> Any:
        raise TypeError(f"symbolic variable {self!r} is not iterable")

    def __len__(self) -> int:
        raise TypeError(f"len() of symbolic variable {self!r} is unknown; use x.shape[0]")

    # -- operators (numpy semantics, delegated to ops) --------------------------
    def __add__(self, other: Any) -> Variable:
        return _ops().add(self, other)

    def __radd__(self, other: Any) -> Variable:
        return _ops().add(other, self)

    def __sub__(self, other: Any) -> Variable:
        return _ops().sub(self, other)

    def __rsub__(self, other: Any) -> Variable:
        return _ops().sub(other, self)

    def __mul__(self, other: Any) -> Variable:
        return _ops().mul(self, other)

    def __rmul__(self, other: Any) -> Variable:
        return _ops().mul(other, self)

    def __truediv__(self, other: Any) -> Variable:
        return _ops().true_div(self, other)

    def __rtruediv__(self, other: Any) -> Variable:
        return _ops().true_div(other, self)

    def __floordiv__(self, other: Any) -> Variable:
        return _ops().int_div(self, other)

    def __rfloordiv__(self, other: Any) -> Variable:
        return _ops().int_div(other, self)

    def __mod__(self, other: Any) -> Variable:
        return _ops().mod(self, other)

    def __rmod__(self, other: Any) -> Variable:
        return _ops().mod(other, self)

    def __pow__(self, other: Any) -> Variable:
        return _ops().pow(self, other)

    def __rpow__(self, other: Any) -> Variable:
        return _ops().pow(other, self)

    def __matmul__(self, other: Any) -> Variable:
        return _ops().dot(self, other)

    def __rmatmul__(self, other: Any) -> Variable:
        return _ops().dot(other, self)

    def __neg__(self) -> Variable:
        return _ops().neg(self)

    def __pos__(self) -> Variable:
        return self

    def __abs__(self) -> Variable:
        return _ops().abs(self)

    def __invert__(self) -> Variable:
        return _ops().invert(self)

    def __and__(self, other: Any) -> Variable:
        return _ops().and_(self, other)

    def __rand__(self, other: Any) -> Variable:
        return _ops().and_(other, self)

    def __or__(self, other: Any) -> Variable:
        return _ops().or_(self, other)

    def __ror__(self, other: Any) -> Variable:
        return _ops().or_(other, self)

    def __xor__(self, other: Any) -> Variable:
        return _ops().xor(self, other)

    def __rxor__(self, other: Any) -> Variable:
        return _ops().xor(other, self)

    def __lt__(self, other: Any) -> Variable:
        return _ops().lt(self, other)

    def __le__(self, other: Any) -> Variable:
        return _ops().le(self, other)

    def __gt__(self, other: Any) -> Variable:
        return _ops().gt(self, other)

    def __ge__(self, other: Any) -> Variable:
        return _ops().ge(self, other)

    # `==` keeps Python identity semantics (variables are dict keys, e.g. in updates);
    # use T.eq / T.neq for elementwise comparison, as in Theano.
    __hash__ = object.__hash__

    def __getitem__(self, key: Any) -> Variable:
        return _ops().getitem(self, key)

    # -- methods ------------------------------------------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Variable:
        return _ops().sum(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def prod(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Variable:
        return _ops().prod(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def mean(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Variable:
        return _ops().mean(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def max(self, axis: Any = None, keepdims: bool = False) -> Variable:
        return _ops().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Variable:
        return _ops().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> Variable:
        return _ops().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> Variable:
        return _ops().argmin(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Variable:
        return _ops().var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Variable:
        return _ops().std(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def reshape(self, *shape: Any, ndim: int | None = None) -> Variable:
        if len(shape) == 1 and not isinstance(shape[0], int | Variable):
            shape = shape[0]
        return _ops().reshape(self, shape, ndim=ndim)

    def flatten(self, ndim: int = 1) -> Variable:
        return _ops().flatten(self, ndim)

    def dimshuffle(self, *pattern: Any) -> Variable:
        if len(pattern) == 1 and isinstance(pattern[0], list | tuple):
            pattern = tuple(pattern[0])
        return _ops().dimshuffle(self, pattern)

    def transpose(self, *axes: Any) -> Variable:
        if len(axes) == 1 and isinstance(axes[0], list | tuple):
            axes = tuple(axes[0])
        return _ops().transpose(self, axes or None)

    def astype(self, dtype: Any) -> Variable:
        return _ops().cast(self, dtype)

    def clip(self, a_min: Any, a_max: Any) -> Variable:
        return _ops().clip(self, a_min, a_max)

    def dot(self, other: Any) -> Variable:
        return _ops().dot(self, other)

    def nonzero(self) -> Variable:
        raise NotImplementedError("nonzero has a data-dependent shape; not supported")

    def copy(self, name: str | None = None) -> Variable:
        """A distinct node with the same value (Theano's tensor_copy)."""
        return _ops().identity(self, name=name)


def _ops() -> Any:
    from tensorc.frontend import ops

    return ops
