"""`DatasetMixin`: a dataset from `__len__` and `get_example(i)` (Chainer's
`chainer.dataset.DatasetMixin`); indexing by slices and index lists gives lists of
examples."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DatasetMixin"]


class DatasetMixin:
    """Subclasses define `__len__` and `get_example(i)` (for 0 <= i < len)."""

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self.get_example(i) for i in range(*index.indices(len(self)))]
        if isinstance(index, list | np.ndarray):
            return [self.get_example(i) for i in index]
        return self.get_example(index)

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def get_example(self, i: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define get_example")
