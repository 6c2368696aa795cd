"""Eager evaluation of recorded graph nodes with the reference interpreter.

The define-by-run API builds ordinary frontend nodes (`tensorc.frontend.variable`)
and computes each new node's value at once. Values never come from hand-written
numpy: each node becomes its tc op (`trace.build_op` on placeholder SSA operands of
the operand types) and runs through `interp.interpret_op`, the executable
definition of tc semantics; matrix products of float matrices run on the BLAS
the compiled backward passes use (tensorc.runtime.blas: one thread pool). Built ops are cached by the node's structure and source
line, so a training loop that records the same nodes again reuses them.

Leaves of eager graphs are `LeafNode`s: symbolic inputs that carry the array they
stood for when they were recorded, and a weak reference to the eager variable that
receives their gradient.

This is the only define-by-run module that imports xDSL, and it does so at the first
evaluation, not at import: `import tensorc` does not load xDSL.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tensorc.frontend.variable import TensorType
from tensorc.frontend.variable import Variable as Node

if TYPE_CHECKING:
    from xdsl.ir import Operation

_OP_CACHE_LIMIT = 4096


def leaf_type(array: np.ndarray) -> TensorType:
    """The symbolic type of an eager leaf: its dtype, with dims of size 1 static
    (they broadcast, as in numpy) and all other dims dynamic, so compiled code is
    shared by every batch size (Theano's broadcastable pattern)."""
    shape = tuple(1 if d == 1 else None for d in array.shape)
    return TensorType(array.dtype, shape=shape)


class LeafNode(Node):
    """A symbolic input standing for one eager array (`op == "input"`)."""

    __slots__ = ("array", "_owner")

    def __init__(
        self, array: np.ndarray, owner: object | None, name: str | None = None
    ):
        super().__init__("input", (), leaf_type(array), name=name)
        self.array = array
        self._owner = None if owner is None else weakref.ref(owner)

    @property
    def owner_variable(self) -> Any:
        """The eager variable whose gradient this leaf accumulates (None if gone)."""
        return None if self._owner is None else self._owner()

    def __reduce__(self) -> tuple[Any, ...]:
        # A weak reference does not pickle: a copy (pickle, copy.deepcopy of a
        # model) refers to the copy of its owner, so gradients reach the copy.
        return (LeafNode, (self.array, self.owner_variable, self.name))


def attrs_key(attrs: Mapping[str, Any]) -> Hashable:
    """A hashable form of node attributes (constant values by dtype, shape, bytes)."""
    if not attrs:  # most nodes: nothing to sort
        return ()
    # Sorting the names alone gives the same order (names are unique).
    return tuple([(name, _value_key(attrs[name])) for name in sorted(attrs)])


def _value_key(value: Any) -> Hashable:
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, list | tuple):
        return tuple(_value_key(v) for v in value)
    return value


def type_key(node: Node) -> tuple[str, tuple[int | None, ...]]:
    return (node.type.dtype, node.type.shape)


_OPS: dict[Hashable, Operation] = {}


def _op_for(node: Node) -> Operation:
    """The tc op of `node` on placeholder operands (cached by structure and line)."""
    loc, result = node.loc, node.type
    key = (
        node.op, attrs_key(node.attrs), result.dtype, result.shape, loc.filename,
        loc.line, *[(i.type.dtype, i.type.shape) for i in node.inputs],
    )
    op = _OPS.get(key)
    if op is None:
        op = _OPS[key] = _build_op(node)
    return op


def _build_op(node: Node) -> Operation:
    from xdsl.utils.test_value import create_ssa_value

    from tensorc.dialects import tc
    from tensorc.frontend.trace import build_op

    if len(_OPS) >= _OP_CACHE_LIMIT:
        _OPS.clear()
    operands = [
        create_ssa_value(tc.tensor_type(i.dtype, i.type.shape)) for i in node.inputs
    ]
    return build_op(node, operands)


def pending(outputs: Iterable[Node], known: Mapping[int, np.ndarray]) -> list[Node]:
    """Nodes `outputs` need whose values are not `known` (by id), operands first.
    The walk stops at known nodes and leaves, so recording one step costs the size
    of that step, not of the whole history."""
    from tensorc.frontend.trace import topological

    return topological(outputs, known)


def evaluate(outputs: Sequence[Node], known: dict[int, np.ndarray]) -> list[np.ndarray]:
    """Values of `outputs`, given the values of some nodes in `known` (by id; new
    values are added to it)."""
    from tensorc.runtime import blas, interp

    for node in pending(outputs, known):
        if isinstance(node, LeafNode):
            known[id(node)] = node.array
            continue
        if node.op in ("input", "shared"):
            raise TypeError(
                f"symbolic variable {node!r} ({node.type}, created at {node.loc}) has "
                "no value: eager functions take tensorc.Variable or numpy arrays"
            )
        operands = [known[id(i)] for i in node.inputs]
        product = blas.matmul(*operands) if node.op == "matmul" else None
        if product is not None:  # the compiled kernels' BLAS (tensorc/runtime/blas.py)
            known[id(node)] = product
            continue
        known[id(node)] = interp.interpret_op(_op_for(node), operands)[0]
    return [known[id(o)] for o in outputs]
