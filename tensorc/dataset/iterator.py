"""`Iterator`: the base class of dataset iterators (Chainer's
`chainer.dataset.Iterator`); updaters and evaluators accept one iterator or a
dict of them by this type."""

from __future__ import annotations

from typing import Any, Self

__all__ = ["Iterator"]


class Iterator:
    """Yields batches (lists of examples); tracks epochs."""

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> list[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __next__")

    def next(self) -> list[Any]:
        return self.__next__()

    def finalize(self) -> None:
        """Release what the iterator holds (nothing, for serial iterators)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.finalize()

    def serialize(self, serializer: Any) -> None:
        """Save or restore the iteration state (`tensorc.training.serialization`)."""
