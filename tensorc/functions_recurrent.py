"""Chainer's recurrent-unit functions on eager Variables (re-exported by
`tensorc.functions`): `lstm`.

    c, h = F.lstm(c, upward(x) + lateral(h))

Built from frontend nodes and recorded (`record`), so `backward()` differentiates
the recorded graph; there is no derivative math here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorc.define_by_run.variable import Variable, record
from tensorc.errors import ShapeError
from tensorc.frontend import elemwise, shape_ops
from tensorc.frontend.variable import Variable as Node

__all__ = ["lstm"]


def _value(x: Any) -> Any:
    return x.data if isinstance(x, Variable) else x


def _sources(x: Node, units: int) -> list[Node]:
    """The sources a, i, f, o of x (N, 4 units, ...) in Chainer's interleaved
    layout: x viewed as (N, units, 4, ...), source k is [:, :, k] (column
    4 u + k of unit u)."""
    rest = [elemwise.dim(x, a) for a in range(2, x.ndim)]
    grouped = shape_ops.reshape(x, [-1, units, 4, *rest])
    return [shape_ops.getitem(grouped, (slice(None), slice(None), k)) for k in range(4)]


def _lstm(c_prev: Node, x: Node, units: int, batch: int | None) -> list[Node]:
    a, i, f, o = _sources(x, units)
    # Fewer rows in x than in c_prev (shorter sequences last): only the first
    # rows of the state advance, the others pass through unchanged.
    head = c_prev if batch is None else shape_ops.getitem(c_prev, slice(0, batch))
    c_new = elemwise.add(elemwise.mul(elemwise.tanh(a), elemwise.sigmoid(i)),
                         elemwise.mul(elemwise.sigmoid(f), head))
    h = elemwise.mul(elemwise.sigmoid(o), elemwise.tanh(c_new))
    if batch is not None:
        c_new = shape_ops.concatenate(
            [c_new, shape_ops.getitem(c_prev, slice(batch, None))], axis=0)
    return [c_new, h]


def lstm(c_prev: Any, x: Any) -> tuple[Variable, Variable]:
    """Chainer's LSTM unit with forget gate: x (N, 4 units, ...) holds the
    sources a, i, f, o (interleaved: column 4 u + k is source k of unit u);
    c = tanh(a) sigmoid(i) + sigmoid(f) c_prev, h = sigmoid(o) tanh(c).
    Returns (c, h). x may have fewer rows than c_prev: the remaining rows of c
    are c_prev's, and h has x's rows."""
    c_shape, x_shape = np.shape(_value(c_prev)), np.shape(_value(x))
    if (len(c_shape) < 2 or len(x_shape) != len(c_shape) or x_shape[0] > c_shape[0]
            or x_shape[1] != 4 * c_shape[1] or x_shape[2:] != c_shape[2:]):
        raise ShapeError(f"lstm: x must be (N, 4 units, ...) for a cell state "
                         f"c_prev (M >= N, units, ...); got x {x_shape} and c_prev "
                         f"{c_shape}")
    batch = None if x_shape[0] == c_shape[0] else x_shape[0]
    c, h = record(_lstm, c_prev, x, units=c_shape[1], batch=batch)
    return c, h
