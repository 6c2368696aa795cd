"""Snapshots of training state as .npz files: Chainer's serializer protocol
(`obj.serialize(serializer)`) for the trainer, updaters, iterators, triggers and
extensions, plus adapters for links and optimizers (which do not implement it).

    save_npz("snapshot_iter_600", trainer)
    load_npz("snapshot_iter_600", trainer)   # a new trainer built the same way

A serializer is called as `value = serializer(key, value)`: saving records
`value` and returns it; loading returns the saved value (copied into `value` in
place if that is an array); `serializer.loading` tells which. `serializer[name]`
is the serializer of a child, its keys prefixed "name/". Keys follow Chainer's
layout ("updater/model:main/predictor/l1/W",
"updater/optimizer:main/predictor/l1/W/m", ...).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorc.serializers
from tensorc.links import Link
from tensorc.optimizers import Optimizer

__all__ = ["DictionarySerializer", "NpzDeserializer", "load_npz", "save_npz",
           "serialize"]


class DictionarySerializer:
    """Saving: `target` gains one numpy array per key (None values are skipped)."""

    loading = False

    def __init__(self, target: dict[str, np.ndarray] | None = None, path: str = ""):
        self.target: dict[str, np.ndarray] = {} if target is None else target
        self.path = path

    def __getitem__(self, name: str) -> DictionarySerializer:
        return DictionarySerializer(self.target, f"{self.path}{name}/")

    def __call__(self, key: str, value: Any) -> Any:
        if value is not None:
            self.target[self.path + key] = np.array(value)
        return value


class NpzDeserializer:
    """Loading from a mapping of arrays (an opened .npz file). With `strict`, a
    key missing from the file is an error (unless the value in memory is None);
    otherwise the value in memory is kept."""

    loading = True

    def __init__(self, npz: Any, path: str = "", strict: bool = True):
        self.npz = npz
        self.path = path
        self.strict = strict

    def __getitem__(self, name: str) -> NpzDeserializer:
        return NpzDeserializer(self.npz, f"{self.path}{name}/", self.strict)

    def saved_keys(self) -> list[str]:
        """The keys directly under this path (not those of children)."""
        return [key[len(self.path):] for key in self.npz
                if key.startswith(self.path) and "/" not in key[len(self.path):]]

    def __call__(self, key: str, value: Any) -> Any:
        name = self.path + key
        if name not in self.npz:
            if self.strict and value is not None:
                raise KeyError(f"load_npz: {name!r} is not in the snapshot")
            return value
        saved = self.npz[name]
        if isinstance(value, np.ndarray):
            if value.shape != saved.shape:
                raise ValueError(f"load_npz: {name!r} has shape {saved.shape} in the "
                                 f"snapshot but {value.shape} in memory")
            np.copyto(value, saved)
            return value
        if isinstance(value, bool | int | float | str) and saved.ndim == 0:
            return type(value)(saved.item())
        return saved


Serializer = DictionarySerializer | NpzDeserializer


def serialize(obj: Any, serializer: Serializer) -> None:
    """Save or load `obj`: its own `serialize` method, or the adapter of its type."""
    if isinstance(obj, Link):
        _serialize_link(obj, serializer)
    elif isinstance(obj, Optimizer):
        _serialize_optimizer(obj, serializer)
    elif hasattr(obj, "serialize"):
        obj.serialize(serializer)
    else:
        raise TypeError(f"cannot serialize {type(obj).__name__}: it has no serialize "
                        "method")


def _serialize_link(link: Link, serializer: Serializer) -> None:
    """Parameters and persistent values under their `namedparams` paths (the
    keys of `tensorc.serializers.save_npz`); an uninitialized parameter takes the
    saved array's shape."""
    for path, sublink in link.namedlinks():
        target = serializer
        for part in filter(None, path.split("/")):
            target = target[part]
        for name in sublink._params:
            param = sublink.__dict__[name]
            saved = target(name, param.data)
            if param.data is None and saved is not None:
                param.initialize(saved.shape)
                np.copyto(param.data, saved)
        for name in sublink._persistent:
            object.__setattr__(sublink, name, target(name, getattr(sublink, name)))


def _named_optimizer_params(optimizer: Optimizer) -> list[tuple[str, Any]]:
    if isinstance(optimizer.target, Link):
        return [(path.lstrip("/"), param)
                for path, param in optimizer.target.namedparams(include_uninit=False)]
    return [(str(index), param) for index, param in enumerate(optimizer._params)]


def _serialize_optimizer(optimizer: Optimizer, serializer: Serializer) -> None:
    """The step and epoch counters, and each parameter's state arrays (Adam's m
    and v, ...) under the parameter's path. The optimizer keeps its state by
    parameter identity (`Optimizer._state`), so the link's parameters must be
    loaded (initialized) first."""
    optimizer.t = int(serializer("t", optimizer.t))
    optimizer.epoch = int(serializer("epoch", optimizer.epoch))
    for name, param in _named_optimizer_params(optimizer):
        target = serializer
        for part in name.split("/"):
            target = target[part]
        state = optimizer._state.get(id(param), {})
        if target.loading:
            state = {key: np.array(target(key, None)) for key in target.saved_keys()}
            optimizer._state[id(param)] = state
        else:
            for key, value in state.items():
                target(key, value)


def save_npz(file: Any, obj: Any, compression: bool = True) -> None:
    """Write `obj`'s state to `file` (a path or binary file). A Link is written
    by `tensorc.serializers.save_npz` (the same keys); anything else through its
    serializer protocol."""
    if isinstance(obj, Link):
        tensorc.serializers.save_npz(file, obj, compression)
        return
    serializer = DictionarySerializer()
    serialize(obj, serializer)
    (np.savez_compressed if compression else np.savez)(file, **serializer.target)


def load_npz(file: Any, obj: Any, path: str = "", strict: bool = True) -> None:
    """Restore `obj` in place from `file` (written by `save_npz`), reading the keys
    under `path` (e.g. "updater/model:main/" to take a model out of a trainer's
    snapshot)."""
    if isinstance(obj, Link) and not path:
        tensorc.serializers.load_npz(file, obj, strict=strict)
        return
    with np.load(file, allow_pickle=False) as npz:
        serialize(obj, NpzDeserializer(npz, path, strict))
