"""`tensorc.iterators`: batches of examples from a dataset, epoch after epoch
(Chainer's `chainer.iterators`).

    train_iter = iterators.SerialIterator(train, batch_size=100)
    test_iter = iterators.SerialIterator(test, 100, repeat=False, shuffle=False)

An epoch is one pass over the dataset. With `repeat`, a batch that reaches the end
of an epoch is filled up from the start of the next one (in the next epoch's
order), so every batch has `batch_size` examples; without it, the last batch is
shorter and the iterator stops after one epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tensorc.dataset.iterator import Iterator

__all__ = ["OrderSampler", "SerialIterator", "ShuffleOrderSampler"]

OrderSampler = Callable[[np.ndarray, int], np.ndarray]
"""`sampler(current_order, current_position) -> the next epoch's order`."""


class ShuffleOrderSampler:
    """A new random permutation each epoch, from `random_state` (default: numpy's
    global RandomState, so `numpy.random.seed` makes runs repeatable)."""

    def __init__(self, random_state: np.random.RandomState | None = None):
        self._random = random_state

    def __call__(self, current_order: np.ndarray, current_position: int) -> np.ndarray:
        random = np.random if self._random is None else self._random
        return random.permutation(len(current_order))


class SerialIterator(Iterator):
    """Batches of `batch_size` examples of `dataset`, in order or shuffled.

    Attributes as in Chainer: `epoch` (completed epochs), `is_new_epoch` (the last
    batch completed an epoch), `epoch_detail` (epochs as a float, e.g. 1.25),
    `previous_epoch_detail` (before the last batch; None before the first),
    `current_position` (where the next batch starts in the epoch's order);
    `iteration` counts the batches given.
    """

    def __init__(self, dataset: Any, batch_size: int, repeat: bool = True,
                 shuffle: bool | None = None,
                 order_sampler: OrderSampler | None = None):
        if batch_size <= 0:
            raise ValueError(f"SerialIterator: batch_size must be positive, got "
                             f"{batch_size}")
        if shuffle is not None and order_sampler is not None:
            raise ValueError("SerialIterator: give shuffle or order_sampler, not both")
        self.dataset = dataset
        self.batch_size = batch_size
        self._repeat = repeat
        if order_sampler is None and shuffle in (None, True):
            order_sampler = ShuffleOrderSampler()
        self.order_sampler = order_sampler
        self.reset()

    def reset(self) -> None:
        """Start again at the first epoch (with a new order if shuffling)."""
        self.current_position = 0
        self.epoch = 0
        self.iteration = 0
        self.is_new_epoch = False
        self._previous_epoch_detail = -1.0
        self._order: np.ndarray | None = None
        if self.order_sampler is not None:
            self._order = self.order_sampler(np.arange(len(self.dataset)), 0)

    @property
    def repeat(self) -> bool:
        return self._repeat

    @property
    def epoch_size(self) -> int:
        return len(self.dataset) if self._order is None else len(self._order)

    @property
    def epoch_detail(self) -> float:
        return self.epoch + self.current_position / self.epoch_size

    @property
    def previous_epoch_detail(self) -> float | None:
        return None if self._previous_epoch_detail < 0 else self._previous_epoch_detail

    def __next__(self) -> list[Any]:
        if not self._repeat and self.epoch > 0:
            raise StopIteration
        self._previous_epoch_detail = self.epoch_detail
        start, size = self.current_position, self.epoch_size
        end = start + self.batch_size
        batch = self._examples(start, min(end, size))
        self.is_new_epoch = end >= size
        if not self.is_new_epoch:
            self.current_position = end
        elif self._repeat:
            rest = end - size
            self._next_order(start)
            # The tail of the batch comes from the next epoch, in its order.
            batch += self._examples(0, rest)
            self.current_position = rest
        else:
            self.current_position = 0
        self.epoch += int(self.is_new_epoch)
        self.iteration += 1
        return batch

    next = __next__

    def _examples(self, start: int, stop: int) -> list[Any]:
        if self._order is None:
            return [self.dataset[i] for i in range(start, stop)]
        return [self.dataset[i] for i in self._order[start:stop]]

    def _next_order(self, position: int) -> None:
        if self._order is None:
            return
        order = self.order_sampler(self._order, position)
        if len(order) != len(self._order):
            raise ValueError(f"the order sampler gave {len(order)} indices for a "
                             f"dataset of {len(self._order)} examples")
        self._order = order

    def serialize(self, serializer: Any) -> None:
        self.current_position = int(serializer("current_position",
                                               self.current_position))
        self.epoch = int(serializer("epoch", self.epoch))
        self.is_new_epoch = bool(serializer("is_new_epoch", self.is_new_epoch))
        self.iteration = int(serializer("iteration", self.iteration))
        self._previous_epoch_detail = float(serializer(
            "previous_epoch_detail", self._previous_epoch_detail))
        if self._order is not None:
            self._order = np.array(serializer("order", self._order))
