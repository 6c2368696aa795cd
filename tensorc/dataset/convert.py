"""`concat_examples`: a list of examples -> batch arrays (Chainer's
`chainer.dataset.concat_examples`, the default converter of updaters and
evaluators).

Examples may be arrays, tuples of arrays (one batch array per position) or dicts of
arrays (one per key). Arrays of different shapes are padded with `padding` to the
largest size of each axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["concat_examples", "to_device"]


def to_device(device: Any, x: Any) -> Any:
    """`x` on `device`. Define-by-run values live on the host, so the only
    devices are the host's: None, a negative GPU id (Chainer's -1), "@numpy" or
    "cpu"; `x` is returned as it is."""
    if not is_host_device(device):
        raise ValueError(f"device {device!r}: define-by-run arrays are host numpy "
                         "arrays; use None, -1, '@numpy' or 'cpu'")
    return x


def is_host_device(device: Any) -> bool:
    if device is None or isinstance(device, str) and device in ("@numpy", "cpu"):
        return True
    return isinstance(device, int | np.integer) and device < 0


def concat_examples(batch: Sequence[Any], device: Any = None, padding: Any = None
                    ) -> Any:
    """Stack the examples of `batch` into arrays with a leading batch axis.

    `batch` holds arrays (-> one array), tuples (-> a tuple of arrays, position by
    position) or dicts (-> a dict of arrays, key by key). `padding` (a value, or a
    tuple/dict of values matching the examples) pads arrays of different shapes
    up to the largest; without it, shapes must agree.
    """
    if len(batch) == 0:
        raise ValueError("concat_examples: the batch is empty")
    first = batch[0]
    if isinstance(first, tuple):
        pads = padding if isinstance(padding, tuple) else (padding,) * len(first)
        return tuple(to_device(device, _concat([example[i] for example in batch],
                                               pads[i]))
                     for i in range(len(first)))
    if isinstance(first, dict):
        pads = padding if isinstance(padding, dict) else dict.fromkeys(first, padding)
        return {key: to_device(device, _concat([example[key] for example in batch],
                                               pads[key]))
                for key in first}
    return to_device(device, _concat(batch, padding))


def _concat(arrays: Sequence[Any], padding: Any) -> np.ndarray:
    arrays = [np.asarray(a) for a in arrays]  # numbers (numpy's or Python's) too
    if padding is None:
        return np.stack(arrays)
    return _concat_padded(arrays, padding)


def _concat_padded(arrays: Sequence[np.ndarray], padding: Any) -> np.ndarray:
    """Stack arrays of one rank but different sizes, each at the origin of a
    `padding`-filled slot as large as the largest of every axis."""
    if any(a.ndim != arrays[0].ndim for a in arrays):
        raise ValueError("concat_examples: padded arrays must have the same number "
                         f"of dims, got shapes {[a.shape for a in arrays]}")
    shape = np.max([a.shape for a in arrays], axis=0) if arrays[0].ndim else ()
    result = np.full((len(arrays), *shape), padding, dtype=arrays[0].dtype)
    for i, array in enumerate(arrays):
        result[(i, *(slice(n) for n in array.shape))] = array
    return result
