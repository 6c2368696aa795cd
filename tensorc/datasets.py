"""`tensorc.datasets`: datasets made of arrays, and views of datasets (Chainer's
`chainer.datasets`).

    train = datasets.TupleDataset(images, labels)   # train[i] == (images[i], labels[i])
    train, valid = datasets.split_dataset_random(train, 800, seed=0)

A dataset is anything with `__len__` and `__getitem__`; integer indexing gives one
example, slices and index lists give lists of examples. There are no downloaders
(`get_mnist` and friends): build the arrays with numpy and wrap them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tensorc.dataset.dataset_mixin import DatasetMixin

__all__ = [
    "ConcatenatedDataset", "DictDataset", "SubDataset", "TransformDataset",
    "TupleDataset", "split_dataset", "split_dataset_random",
]


def _is_batch_index(index: Any) -> bool:
    return isinstance(index, slice | list | np.ndarray)


def _common_length(datasets: Sequence[Any], kind: str) -> int:
    if not datasets:
        raise ValueError(f"{kind} needs at least one dataset")
    lengths = {len(d) for d in datasets}
    if len(lengths) != 1:
        raise ValueError(f"{kind}: the datasets have different lengths "
                         f"{[len(d) for d in datasets]}")
    return lengths.pop()


class TupleDataset:
    """Examples are tuples: `TupleDataset(x, t)[i] == (x[i], t[i])`."""

    def __init__(self, *datasets: Any):
        self._length = _common_length(datasets, "TupleDataset")
        self._datasets = datasets

    def __getitem__(self, index: Any) -> Any:
        columns = [dataset[index] for dataset in self._datasets]
        if _is_batch_index(index):
            return list(zip(*columns, strict=True))
        return tuple(columns)

    def __len__(self) -> int:
        return self._length


class DictDataset:
    """Examples are dicts: `DictDataset(x=x, t=t)[i] == {'x': x[i], 't': t[i]}`."""

    def __init__(self, **datasets: Any):
        self._length = _common_length(list(datasets.values()), "DictDataset")
        self._datasets = datasets

    def __getitem__(self, index: Any) -> Any:
        columns = {key: dataset[index] for key, dataset in self._datasets.items()}
        if _is_batch_index(index):
            return [dict(zip(columns, row, strict=True))
                    for row in zip(*columns.values(), strict=True)]
        return columns

    def __len__(self) -> int:
        return self._length


class SubDataset(DatasetMixin):
    """Examples `start` .. `finish` - 1 of `dataset`, or of its permutation
    `order` (`order[i]` is the base index of the permuted dataset's example i)."""

    def __init__(self, dataset: Any, start: int, finish: int,
                 order: Sequence[int] | None = None):
        if start < 0 or finish > len(dataset) or start > finish:
            raise ValueError(f"SubDataset [{start}, {finish}) overruns the base "
                             f"dataset of {len(dataset)} examples")
        if order is not None and len(order) != len(dataset):
            raise ValueError(f"SubDataset: order has {len(order)} entries but the "
                             f"dataset has {len(dataset)} examples")
        self._dataset = dataset
        self._start = start
        self._finish = finish
        self._order = order

    def __len__(self) -> int:
        return self._finish - self._start

    def get_example(self, i: int) -> Any:
        size = len(self)
        if not -size <= i < size:
            raise IndexError(f"SubDataset index {i} out of range for {size} examples")
        index = self._start + i % size
        return self._dataset[index if self._order is None else self._order[index]]


def split_dataset(dataset: Any, first_size: int, order: Sequence[int] | None = None
                  ) -> tuple[SubDataset, SubDataset]:
    """The first `first_size` examples and the rest (of `order`'s permutation of
    `dataset`, if given)."""
    if not isinstance(first_size, int | np.integer):
        raise TypeError(f"first_size must be an int, got {first_size!r}")
    if not 0 <= first_size <= len(dataset):
        raise ValueError(f"first_size {first_size} is not within the dataset's "
                         f"{len(dataset)} examples")
    return (SubDataset(dataset, 0, int(first_size), order),
            SubDataset(dataset, int(first_size), len(dataset), order))


def split_dataset_random(dataset: Any, first_size: int, seed: int | None = None
                         ) -> tuple[SubDataset, SubDataset]:
    """`split_dataset` of a random permutation: `numpy.random.RandomState(seed)`,
    as Chainer draws it, so a seed gives Chainer's split."""
    order = np.random.RandomState(seed).permutation(len(dataset))
    return split_dataset(dataset, first_size, order)


class TransformDataset(DatasetMixin):
    """`transform(dataset[i])` for each example, computed when indexed."""

    def __init__(self, dataset: Any, transform: Callable[[Any], Any]):
        self._dataset = dataset
        self._transform = transform

    def __len__(self) -> int:
        return len(self._dataset)

    def get_example(self, i: int) -> Any:
        return self._transform(self._dataset[i])


class ConcatenatedDataset(DatasetMixin):
    """The examples of each dataset in turn."""

    def __init__(self, *datasets: Any):
        self._datasets = datasets
        self._ends = np.cumsum([len(d) for d in datasets])

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def get_example(self, i: int) -> Any:
        size = len(self)
        if not -size <= i < size:
            raise IndexError(f"ConcatenatedDataset index {i} out of range for "
                             f"{size} examples")
        i %= size
        which = int(np.searchsorted(self._ends, i, side="right"))
        start = int(self._ends[which - 1]) if which else 0
        return self._datasets[which][i - start]
