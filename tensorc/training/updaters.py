"""Updaters: one training iteration each (Chainer's `chainer.training.updaters`).

`StandardUpdater` takes the next batch from the iterator, converts it to arrays
(`concat_examples`) and calls `optimizer.update(loss_func, *arrays)`, which runs
the model (or `loss_func`), `backward()` and the optimizer's rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensorc.dataset.convert import concat_examples, is_host_device
from tensorc.links import Link
from tensorc.training.serialization import serialize

__all__ = ["StandardUpdater", "Updater", "call_with_arrays"]


class Updater:
    """The interface the trainer drives: `update()`, the epoch and iteration
    counters, `connect_trainer`, `finalize`, `serialize`, and the optimizers
    (whose targets the trainer registers as observers)."""

    iteration = 0

    def connect_trainer(self, trainer: Any) -> None:
        """Called by the Trainer that drives this updater."""

    def finalize(self) -> None:
        """Called when training ends."""

    def get_optimizer(self, name: str) -> Any:
        raise NotImplementedError

    def get_all_optimizers(self) -> dict[str, Any]:
        raise NotImplementedError

    def update(self) -> None:
        raise NotImplementedError

    def serialize(self, serializer: Any) -> None:
        raise NotImplementedError


def call_with_arrays(function: Callable[..., Any], arrays: Any) -> Any:
    """`function(*arrays)` for a tuple, `function(**arrays)` for a dict, else
    `function(arrays)` (how converted batches are passed to models)."""
    if isinstance(arrays, tuple):
        return function(*arrays)
    if isinstance(arrays, dict):
        return function(**arrays)
    return function(arrays)


def check_device(device: Any) -> Any:
    if not is_host_device(device):
        raise ValueError(f"device {device!r}: define-by-run training runs on the "
                         "host; use None, -1, '@numpy' or 'cpu'")
    return device


class StandardUpdater(Updater):
    """One batch of iterator "main" through optimizer "main" per iteration.

    `iterator` and `optimizer` are one object or a dict of them (the first named
    "main"); `converter(batch, device)` makes the model's arguments; the loss is
    `loss_func(*arrays)`, by default the optimizer's target (the model).
    """

    def __init__(self, iterator: Any, optimizer: Any,
                 converter: Callable[..., Any] = concat_examples, device: Any = None,
                 loss_func: Callable[..., Any] | None = None,
                 auto_new_epoch: bool = True):
        self._iterators = iterator if isinstance(iterator, dict) else {"main": iterator}
        self._optimizers = optimizer if isinstance(optimizer, dict) else {
            "main": optimizer}
        self.converter = converter
        self.device = check_device(device)
        self.loss_func = loss_func
        self.auto_new_epoch = auto_new_epoch
        self.iteration = 0

    @property
    def epoch(self) -> int:
        return self._iterators["main"].epoch

    @property
    def epoch_detail(self) -> float:
        return self._iterators["main"].epoch_detail

    @property
    def previous_epoch_detail(self) -> float | None:
        return self._iterators["main"].previous_epoch_detail

    @property
    def is_new_epoch(self) -> bool:
        return self._iterators["main"].is_new_epoch

    def get_iterator(self, name: str) -> Any:
        return self._iterators[name]

    def get_optimizer(self, name: str) -> Any:
        return self._optimizers[name]

    def get_all_optimizers(self) -> dict[str, Any]:
        return dict(self._optimizers)

    def finalize(self) -> None:
        for iterator in self._iterators.values():
            iterator.finalize()

    def update(self) -> None:
        self.update_core()
        self.iteration += 1

    def update_core(self) -> None:
        iterator = self._iterators["main"]
        optimizer = self._optimizers["main"]
        arrays = self.converter(iterator.next(), self.device)
        loss_func = self.loss_func or optimizer.target
        call_with_arrays(lambda *a, **k: optimizer.update(loss_func, *a, **k), arrays)
        if self.auto_new_epoch and iterator.is_new_epoch:
            optimizer.new_epoch()

    def serialize(self, serializer: Any) -> None:
        """Iterators, then each model before its optimizer (whose state is keyed
        by the model's parameters, which a fresh model initializes on loading)."""
        for name, iterator in self._iterators.items():
            iterator.serialize(serializer["iterator:" + name])
        for name, optimizer in self._optimizers.items():
            if isinstance(optimizer.target, Link):  # not a list of Variables
                serialize(optimizer.target, serializer["model:" + name])
            serialize(optimizer, serializer["optimizer:" + name])
        self.iteration = int(serializer("iteration", self.iteration))
