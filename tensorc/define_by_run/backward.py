"""`Variable.backward()`: differentiate the recorded graph with compiled code.

The graph behind an output is the frontend graph the eager operations recorded;
its leaves are `LeafNode`s carrying their arrays. `backward` builds
`tensorc.gradient.grad` of `sum(output * seed)` with respect to the leaves that
require gradients, compiles it with `tensorc.function` (the configured backend, C
by default) and runs it on the leaf arrays and the seed.

Compiled functions are cached by the graph's *structure*: every node's op,
attributes, dtype and static shape, the wiring between nodes, which leaves get
gradients, and the mode and device, but not the leaf values nor object identities.
A training loop that records the same computation each step compiles once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tensorc.config import config
from tensorc.define_by_run.evaluate import LeafNode, attrs_key, type_key
from tensorc.errors import DTypeError, ShapeError
from tensorc.frontend.variable import Variable as Node


@dataclass
class GraphStructure:
    """A recorded graph in canonical form: `key` identifies its structure, `leaves`
    are its LeafNodes in canonical order, `wrt` the positions of those that
    receive gradients."""

    key: Hashable
    leaves: list[LeafNode]
    wrt: list[int]


def _requires_grad(leaf: LeafNode) -> bool:
    owner = leaf.owner_variable
    return owner is not None and owner.requires_grad


def structure(output: Node) -> GraphStructure:
    """The canonical form of the graph computing `output` (nodes in topological
    order; each refers to its operands by position)."""
    from tensorc.frontend.trace import topological  # xDSL: not at import time

    position: dict[int, int] = {}
    entries: list[Hashable] = []
    leaves: list[LeafNode] = []
    wrt: list[int] = []
    for index, node in enumerate(topological([output])):
        position[id(node)] = index
        if isinstance(node, LeafNode):
            if _requires_grad(node):
                wrt.append(len(leaves))
            entries.append(("leaf", type_key(node), _requires_grad(node)))
            leaves.append(node)
            continue
        if node.op in ("input", "shared"):
            raise TypeError(f"symbolic variable {node!r} inside an eager graph")
        operands = tuple(position[id(i)] for i in node.inputs)
        entries.append((node.op, attrs_key(node.attrs), type_key(node), operands))
    key = (tuple(entries), config.mode, config.device)
    return GraphStructure(key, leaves, wrt)


@dataclass
class BackwardCache:
    """Compiled backward functions by graph structure, the `capacity` most recently
    used ones; `compilations` counts the functions compiled since `clear()`."""

    capacity: int = 256
    functions: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    compilations: int = 0

    def clear(self) -> None:
        self.functions.clear()
        self.compilations = 0

    def get(self, graph: GraphStructure, output: Node) -> Any:
        function = self.functions.get(graph.key)
        if function is not None:
            self.functions.move_to_end(graph.key)
            return function
        function = self.functions[graph.key] = _compile(graph, output)
        self.compilations += 1
        while len(self.functions) > self.capacity:
            self.functions.popitem(last=False)
        return function


BACKWARD_CACHE = BackwardCache()


def _compile(graph: GraphStructure, output: Node) -> Any:
    """`(leaf arrays..., seed) -> gradients of the wrt leaves`, compiled."""
    from tensorc.frontend.elemwise import mul
    from tensorc.frontend.function import function
    from tensorc.frontend.reduce import sum as total
    from tensorc.gradient import grad

    seed = output.type("seed")
    cost = total(mul(output, seed))
    wrt = [graph.leaves[i] for i in graph.wrt]
    grads = grad(cost, wrt, disconnected_inputs="ignore")
    return function([*graph.leaves, seed], list(grads), on_unused_input="ignore")


def _seed(variable: Any) -> np.ndarray:
    """The output's `.grad`, or ones for a one-element output (then stored)."""
    if variable.grad is not None:
        return variable.grad
    if variable.size != 1:
        raise ShapeError(
            f"backward() of an output with {variable.size} elements (shape "
            f"{variable.shape}) needs its .grad set first: the gradient of some scalar "
            "loss with respect to it (e.g. y.grad = np.ones_like(y.data)), or reduce "
            "it to one element (F.sum, F.mean)"
        )
    variable.grad = np.ones_like(variable.data)
    return variable.grad


def backward(variable: Any) -> None:
    """Accumulate d(variable)/d(leaf), seeded by `variable.grad`, into `.grad` of
    every leaf of its graph that requires a gradient."""
    if variable.dtype.kind != "f":
        raise DTypeError(
            f"backward() needs a floating-point output; {variable!r} has dtype "
            f"{variable.dtype} (comparisons and integer results have no gradient)"
        )
    seed = _seed(variable)
    if variable.is_leaf:
        return  # d(x)/d(x) is the seed itself, already in x.grad
    graph = structure(variable.node)
    if not graph.wrt:
        return
    function = BACKWARD_CACHE.get(graph, variable.node)
    grads = function(*[leaf.array for leaf in graph.leaves], seed)
    for index, value in zip(graph.wrt, grads):
        owner = graph.leaves[index].owner_variable
        if owner is not None:
            owner._accumulate_grad(value)
