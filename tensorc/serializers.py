"""`tensorc.serializers`: save and load a link's parameters and persistent values
as a numpy .npz file (Chainer's `chainer.serializers.save_npz`/`load_npz`).

    serializers.save_npz("model.npz", model)
    serializers.load_npz("model.npz", model)

Keys are the paths of `Link.namedparams()` without the leading slash
("predictor/l1/W"), as Chainer writes them, so the files of the two are
interchangeable for the links tensorc has. Uninitialized parameters are not saved;
loading initializes them from the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tensorc.links import Link

__all__ = ["load_npz", "save_npz"]


def _persistent_values(link: Link) -> Iterator[tuple[str, Any]]:
    for path, sublink in link.namedlinks():
        prefix = path.lstrip("/") + "/" if path != "/" else ""
        for name in sublink._persistent:
            yield prefix + name, getattr(sublink, name)


def save_npz(file: Any, obj: Any, compression: bool = True) -> None:
    """Write `obj`'s initialized parameters and persistent values to `file` (a
    path or a binary file object). Anything but a link (a trainer, an optimizer)
    is written through its `serialize` method (tensorc.training.serialization)."""
    if not isinstance(obj, Link):
        from tensorc.training import serialization

        serialization.save_npz(file, obj, compression)
        return
    arrays = {path.lstrip("/"): param.data
              for path, param in obj.namedparams(include_uninit=False)}
    arrays.update((key, np.asarray(value)) for key, value in _persistent_values(obj))
    (np.savez_compressed if compression else np.savez)(file, **arrays)


def load_npz(file: Any, obj: Any, path: str = "", strict: bool = True) -> None:
    """Copy the values saved in `file` (under the key prefix `path`) into `obj`'s
    parameters and persistent values, in place. With `strict`, a value missing
    from the file is an error; otherwise it is left as it is. Anything but a link
    (a trainer resumed from a snapshot) is read through its `serialize` method."""
    if not isinstance(obj, Link):
        from tensorc.training import serialization

        serialization.load_npz(file, obj, path, strict)
        return
    with np.load(file, allow_pickle=False) as saved:
        for name, param in obj.namedparams():
            key = path + name.lstrip("/")
            if key not in saved:
                if strict:
                    raise KeyError(f"load_npz: {key!r} is not in the file")
                continue
            value = saved[key]
            if param.data is None:
                param.initialize(value.shape)
            if param.data.shape != value.shape:
                raise ValueError(f"load_npz: {key!r} has shape {value.shape} in the "
                                 f"file but {param.data.shape} in the link")
            np.copyto(param.data, value)
        for link_path, sublink in obj.namedlinks():
            prefix = link_path.lstrip("/") + "/" if link_path != "/" else ""
            for name in sublink._persistent:
                key = path + prefix + name
                if key in saved:
                    _restore(sublink, name, saved[key])
                elif strict:
                    raise KeyError(f"load_npz: {key!r} is not in the file")


def _restore(link: Link, name: str, value: np.ndarray) -> None:
    current = getattr(link, name)
    if isinstance(current, np.ndarray):
        np.copyto(current, value)
    else:  # a Python number or a 0-d value
        object.__setattr__(link, name, value.item() if value.ndim == 0 else value)
