"""Shared variables: values that live between calls of compiled functions (Theano's
`shared`). Functions read them implicitly and change them through `updates`."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorc.errors import DTypeError, ShapeError
from tensorc.frontend.variable import TensorType, Variable, normalize_dtype


class SharedVariable(Variable):
    """A symbolic variable bound to a numpy value. Its dtype and rank are fixed; its
    shape may change with `set_value`."""

    __slots__ = ("_value", "default_update")

    def __init__(self, value: np.ndarray, name: str | None, type: TensorType):
        super().__init__("shared", (), type, name=name)
        self._value = value
        self.default_update: Variable | None = None
        """An update `function` applies when the caller gives none (Theano's
        `default_update`; random streams advance their counter with it)."""

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> np.ndarray:
        value = self._value
        if not isinstance(value, np.ndarray):  # in GPU memory: copy it back
            return value if return_internal_type else value.get()
        return value if borrow else value.copy()

    def set_value(self, value: Any, borrow: bool = False) -> None:
        self._value = _coerce(value, self.type, self.name, copy=not borrow)

    @property
    def value(self) -> np.ndarray:
        """The host value (a copy when it lives in GPU memory)."""
        value = self._value
        return value if isinstance(value, np.ndarray) else value.get()

    def _on_device(self, device: str) -> Any:
        """The value in the memory of GPU `device`: moved there on first use and
        kept there (updates by functions on that device stay there too)."""
        value = self._value
        if getattr(value, "device", None) != device:
            from tensorc.runtime.gpu_runner import upload

            self._value = value = upload(device, self.value)
        return value

    def _assign(self, value: np.ndarray) -> None:
        """Store a value a compiled function produced (already of the right type)."""
        self._value = value

    def __repr__(self) -> str:
        return self.name or "<shared>"


def _coerce(value: Any, type: TensorType, name: str | None, copy: bool) -> np.ndarray:
    who = f"shared variable {name!r}" if name else "shared variable"
    if isinstance(value, np.ndarray):
        if value.dtype != np.dtype(type.dtype):
            raise DTypeError(
                f"{who} has dtype {type.dtype}; got a value of dtype {value.dtype} "
                f"(convert it with .astype('{type.dtype}') first)"
            )
        array = np.array(value, copy=True) if copy else value
    else:
        array = np.asarray(value)
        converted = array.astype(type.dtype)
        exact = array.dtype.kind == "f" and type.dtype.startswith("float")
        if not exact and not np.array_equal(converted, array):
            raise DTypeError(f"{who} has dtype {type.dtype}; value {value!r} does not fit")
        array = converted
    if array.ndim != type.ndim:
        raise ShapeError(
            f"{who} has {type.ndim} dims; got a value of shape {array.shape}"
        )
    return _storable(array)


def _storable(array: np.ndarray) -> np.ndarray:
    """`array` as a shared value: C-contiguous, aligned and writable, because
    compiled updates may write the new value into the old one's buffer (a
    read-only or misaligned array given with borrow=True is copied)."""
    array = np.asarray(array, order="C")
    flags = array.flags
    return array if flags.writeable and flags.aligned else array.copy()


def shared(
    value: Any,
    name: str | None = None,
    borrow: bool = False,
    strict: bool = False,
    allow_downcast: bool | None = None,
    dtype: Any = None,
) -> SharedVariable:
    """A shared variable holding `value` (copied unless `borrow=True`)."""
    if isinstance(value, np.ndarray):
        array = value if borrow else value.copy()
    else:
        array = np.asarray(value)
    if dtype is not None:
        array = array.astype(normalize_dtype(dtype))
    dtype_name = normalize_dtype(array.dtype)
    type_ = TensorType(dtype_name, shape=(None,) * array.ndim)
    return SharedVariable(_storable(array), name, type_)
