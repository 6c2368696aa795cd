"""Theano's older pooling module: `max_pool_2d` (now `pool.pool_2d`)."""

from __future__ import annotations

from typing import Any

from tensorc.frontend.variable import Variable
from tensorc.tensor.signal.pool import max_pool_2d_same_size, pool_2d

__all__ = ["max_pool_2d", "max_pool_2d_same_size"]


def max_pool_2d(input: Any, ds: Any, ignore_border: bool | None = None,
                st: Any = None, padding: Any = (0, 0), mode: str = "max") -> Variable:
    """`pool_2d(input, ws=ds, ignore_border, stride=st, pad=padding, mode)`;
    ignore_border defaults to False here, as in Theano's old function."""
    return pool_2d(input, ws=ds, ignore_border=bool(ignore_border), stride=st,
                   pad=padding, mode=mode)
