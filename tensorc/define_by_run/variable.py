"""`tensorc.Variable`: an eager (define-by-run, Chainer style) value that records the
graph it is computed by.

    x = tensorc.Variable(np.array([5.0]))
    y = x**2 - 2*x + 1        # y.data == [16.]
    y.backward()              # x.grad == [8.]

Every operation builds the same frontend nodes a symbolic program would (so it has
exactly the symbolic semantics: dtype promotion, broadcasting, errors) and computes
their values at once with the reference interpreter (`evaluate`). `backward()`
differentiates the recorded graph with `tensorc.gradient.grad` and runs compiled
code (`backward.py`), cached by the graph's structure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tensorc.define_by_run.config import backprop_enabled
from tensorc.define_by_run.evaluate import LeafNode, evaluate
from tensorc.errors import DTypeError, ShapeError
from tensorc.frontend import ops
from tensorc.frontend.variable import Variable as Node


def as_array(data: Any) -> np.ndarray:
    """`data` as a numpy array: arrays keep their dtype; Python numbers and lists
    become float64 (as Chainer expects float data), booleans stay bool."""
    if isinstance(data, Variable):
        raise TypeError("Variable(data) takes an array, not a Variable; use v.data")
    if isinstance(data, np.ndarray | np.generic):
        array = np.asarray(data)
    else:
        raw = np.asarray(data)
        if raw.dtype == object or raw.dtype.kind not in "biuf":
            raise DTypeError(f"Variable data must be numbers, got {data!r}")
        array = raw if raw.dtype.kind == "b" else raw.astype(np.float64)
    if array.dtype.kind == "u" and array.dtype != np.uint8:
        raise DTypeError(f"unsigned dtype {array.dtype} is not supported")
    if array.dtype == np.uint8:
        array = array.astype(np.int64)
    return array


def _operators(build: Callable[[Any, Any], Node]) -> tuple[Any, Any]:
    """The operator method `build(self, other)` and its reflection."""

    def method(self: Variable, other: Any) -> Variable:
        return record(build, self, other)

    def reflected(self: Variable, other: Any) -> Variable:
        return record(build, other, self)

    return method, reflected


class Variable:
    """An array with a recorded history (Chainer's `chainer.Variable`).

    A variable made by the user is a *leaf*: `backward()` of any result computed
    from it accumulates d(result)/d(leaf) into its `.grad` (floating-point leaves
    with `requires_grad` only). Results of operations are not leaves; their `.grad`
    is the seed of `backward()`.
    """

    # numpy must call our reflected operators (`array + v`) instead of iterating.
    __array_ufunc__ = None

    def __init__(
        self, data: Any = None, name: str | None = None, requires_grad: bool = True
    ):
        if data is None:
            raise TypeError("Variable needs data (a numpy array or Python numbers)")
        array = as_array(data)
        self.name = name
        self._requires_grad = requires_grad
        self._data = array
        self._node: Node = LeafNode(array, self, name)
        self._grad: np.ndarray | None = None

    @classmethod
    def _computed(cls, node: Node, data: np.ndarray) -> Variable:
        """A non-leaf variable: the value of a recorded node."""
        variable = cls.__new__(cls)
        variable.name = None
        variable._requires_grad = False
        variable._data = data
        variable._node = node
        variable._grad = None
        return variable

    # -- data and gradient --------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if not self.is_leaf:
            raise TypeError(
                "the data of a computed Variable cannot be replaced (it would no "
                "longer match its recorded history); make a new Variable(data) instead"
            )
        self._set_leaf_data(value)

    array = data

    def _set_leaf_data(self, value: Any) -> None:
        """Hold `value` as this leaf's data; a new array gets a new leaf node, so
        graphs recorded earlier keep the array they used."""
        array = as_array(value)
        if array is not self._data:
            self._node = LeafNode(array, self, self.name)
        self._data = array

    @property
    def grad(self) -> np.ndarray | None:
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        self._grad = None if value is None else self._checked_grad(value)

    def _checked_grad(self, value: Any) -> np.ndarray:
        grad = np.asarray(value)
        if not isinstance(value, np.ndarray):
            grad = grad.astype(self._data.dtype)
        if grad.shape != self._data.shape:
            raise ShapeError(
                f"the gradient of {self!r} must have its shape {self._data.shape}; "
                f"got shape {grad.shape}"
            )
        if grad.dtype != self._data.dtype:
            raise DTypeError(
                f"the gradient of {self!r} must have its dtype {self._data.dtype}; "
                f"got {grad.dtype}"
            )
        return grad

    def cleargrad(self) -> None:
        """Forget the accumulated gradient (`.grad` becomes None)."""
        self._grad = None

    def _accumulate_grad(self, grad: np.ndarray) -> None:
        self._grad = grad if self._grad is None else self._grad + grad

    def zerograd(self) -> None:
        """Set `.grad` to zeros (Chainer's older alternative to `cleargrad`)."""
        self._grad = np.zeros_like(self._data)

    def unchain(self) -> None:
        """Forget how this value was computed: it becomes a leaf that receives no
        gradient, and `backward()` stops here (e.g. an RNN state between
        truncated backpropagation windows)."""
        if not self.is_leaf:
            self._node = LeafNode(self._data, self, self.name)
            self._requires_grad = False

    def item(self) -> Any:
        """The one element as a Python number."""
        return self._data.item()

    @property
    def xp(self) -> Any:
        """The array module of `.data` (numpy: eager values live on the host)."""
        return np

    def to_cpu(self) -> None:
        """Values are host arrays already (kept for Chainer programs)."""

    @property
    def requires_grad(self) -> bool:
        """Whether backward() computes this leaf's gradient (floating leaves only)."""
        return self._requires_grad and self.is_leaf and self._data.dtype.kind in "f"

    @property
    def is_leaf(self) -> bool:
        return isinstance(self._node, LeafNode) and self._node.owner_variable is self

    @property
    def node(self) -> Node:
        """The symbolic node this value was recorded as."""
        return self._node

    def backward(self) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires it.

        A one-element output starts from ones (and `.grad` is set to them); a larger
        output needs its `.grad` set first: it is the seed (the vector of the
        vector-Jacobian product).
        """
        from tensorc.define_by_run.backward import backward

        backward(self)

    # -- array-like queries -------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d Variable")
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __repr__(self) -> str:
        body = repr(self._data).removeprefix("array(")[:-1]
        name = f", name={self.name!r}" if self.name else ""
        return f"variable({body}{name})"

    __hash__ = object.__hash__

    # -- operators (the frontend's graph builders, evaluated at once) -------------
    __add__, __radd__ = _operators(ops.add)
    __sub__, __rsub__ = _operators(ops.sub)
    __mul__, __rmul__ = _operators(ops.mul)
    __truediv__, __rtruediv__ = _operators(ops.true_div)
    __floordiv__, __rfloordiv__ = _operators(ops.int_div)
    __mod__, __rmod__ = _operators(ops.mod)
    __pow__, __rpow__ = _operators(ops.pow)
    # Comparisons give bool Variables: values without gradients.
    __lt__, _ = _operators(ops.lt)
    __le__, _ = _operators(ops.le)
    __gt__, _ = _operators(ops.gt)
    __ge__, _ = _operators(ops.ge)
    __eq__, _ = _operators(ops.eq)  # type: ignore[assignment]
    __ne__, _ = _operators(ops.neq)  # type: ignore[assignment]
    del _

    def __neg__(self) -> Variable:
        return record(ops.neg, self)

    def __pos__(self) -> Variable:
        return self

    def __abs__(self) -> Variable:
        return record(ops.abs, self)

    def __matmul__(self, other: Any) -> Variable:
        from tensorc import functions

        return functions.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Variable:
        from tensorc import functions

        return functions.matmul(other, self)

    def __getitem__(self, key: Any) -> Variable:
        return record(ops.getitem, self, key)

    # -- methods ----------------------------------------------------------------
    @property
    def T(self) -> Variable:
        return record(ops.transpose, self)

    def transpose(self, *axes: Any) -> Variable:
        if len(axes) == 1 and isinstance(axes[0], list | tuple):
            axes = tuple(axes[0])
        return record(ops.transpose, self, axes or None)

    def reshape(self, *shape: Any) -> Variable:
        if len(shape) == 1 and isinstance(shape[0], list | tuple):
            shape = tuple(shape[0])
        return record(ops.reshape, self, shape)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Variable:
        from tensorc import functions

        return functions.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Variable:
        from tensorc import functions

        return functions.mean(self, axis=axis, keepdims=keepdims)

    def astype(self, dtype: Any) -> Variable:
        return record(ops.cast, self, dtype)


def as_variable(value: Any) -> Variable:
    """`value` if it is a Variable, else a Variable of it without gradient."""
    return value if isinstance(value, Variable) else Variable(value, requires_grad=False)


def _symbolic(value: Any, known: dict[int, np.ndarray]) -> Any:
    """`value` for a graph builder: Variables become their nodes (values into
    `known`), numpy arrays become constant leaves; containers are mapped."""
    if isinstance(value, Variable):
        if value._data is None:
            raise ValueError(f"{value!r} has no data yet: initialize it first (a "
                             "link's parameters are initialized at its first call)")
        known[id(value._node)] = value._data
        return value._node
    if isinstance(value, np.ndarray):
        array = as_array(value)
        leaf = LeafNode(array, None)
        known[id(leaf)] = array
        return leaf
    if isinstance(value, list | tuple) and any(
        isinstance(v, Variable | np.ndarray) for v in value
    ):
        return type(value)(_symbolic(v, known) for v in value)
    if isinstance(value, Node):
        raise TypeError(
            f"symbolic variable {value!r} cannot be mixed with eager Variables; "
            "use tensorc.function for symbolic graphs"
        )
    return value


def _static_ones(node: Node, value: np.ndarray, known: dict[int, np.ndarray]) -> Node:
    """`node`, reshaped so that its dims of size 1 are static when its type left
    them dynamic (e.g. `x[0:1]`): eager values then broadcast like numpy arrays,
    as leaves do (`leaf_type`)."""
    if all(not (d is None and n == 1) for d, n in zip(node.type.shape, value.shape)):
        return node
    dims = [1 if n == 1 else ops.dim(node, a) for a, n in enumerate(value.shape)]
    static = ops.reshape(node, dims)
    evaluate([static], known)
    return static


def record(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run the graph builder `build` on the nodes of `args` and evaluate the new
    nodes: a Variable per result node (a tuple if `build` returns several). A
    result that is an operand's own node returns that operand."""
    known: dict[int, np.ndarray] = {}
    operands: dict[int, Variable] = {}
    for value in (*args, *kwargs.values()):
        for v in value if isinstance(value, list | tuple) else (value,):
            if isinstance(v, Variable):
                operands[id(v._node)] = v
    result = build(*(_symbolic(a, known) for a in args),
                   **{k: _symbolic(v, known) for k, v in kwargs.items()})
    nodes = list(result) if isinstance(result, list | tuple) else [result]
    values = evaluate(nodes, known)
    if backprop_enabled():
        nodes = [_static_ones(n, v, known) for n, v in zip(nodes, values)]
        wrapped = tuple(
            operands[id(n)] if id(n) in operands else Variable._computed(n, v)
            for n, v in zip(nodes, values)
        )
    else:  # no_backprop_mode: values without history (nothing to differentiate)
        wrapped = tuple(
            operands[id(n)] if id(n) in operands else Variable(v, requires_grad=False)
            for n, v in zip(nodes, values)
        )
    return wrapped if isinstance(result, list | tuple) else wrapped[0]
