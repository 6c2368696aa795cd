"""`tensorc.reporter`: named values that code reports during a step, collected by
whoever asked for them (Chainer's `chainer.reporter`, `chainer.report`).

    reporter = Reporter()
    reporter.add_observer("main", model)
    observation = {}
    with reporter.scope(observation):
        model(x, t)                 # Classifier: report({"loss": loss}, self)
    observation["main/loss"]        # the loss, a Variable without history

`report(values, observer)` names each value after the observer's registered name
("main/loss"); with no observer the names are kept. With no reporter active,
`report` does nothing, so models that report run anywhere. `DictSummary`
accumulates observations into means (and standard deviations).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any, Self

import numpy as np

from tensorc.define_by_run.config import config
from tensorc.define_by_run.variable import Variable

__all__ = [
    "DictSummary", "Reporter", "Summary", "get_current_reporter", "report",
    "report_scope",
]

_STACK = threading.local()


def _reporters() -> list[Reporter]:
    stack = getattr(_STACK, "reporters", None)
    if stack is None:
        stack = _STACK.reporters = []
    return stack


class Reporter:
    """Maps observers (links) to names and holds the current observation dict."""

    def __init__(self) -> None:
        self._observer_names: dict[int, str] = {}
        self.observation: dict[str, Any] = {}

    def __enter__(self) -> Self:
        """Make this the current reporter (the one `report` writes to)."""
        _reporters().append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _reporters().pop()

    @contextlib.contextmanager
    def scope(self, observation: dict[str, Any]) -> Iterator[None]:
        """Inside the block, this reporter is current and reports go to
        `observation`."""
        old = self.observation
        self.observation = observation
        self.__enter__()
        try:
            yield
        finally:
            self.__exit__(None, None, None)
            self.observation = old

    def add_observer(self, name: str, observer: Any) -> None:
        self._observer_names[id(observer)] = name

    def add_observers(self, prefix: str, observers: Iterable[tuple[str, Any]]) -> None:
        """Register (name, observer) pairs as prefix + name (a link's
        `namedlinks(skipself=True)`)."""
        for name, observer in observers:
            self._observer_names[id(observer)] = prefix + name

    def report(self, values: dict[str, Any], observer: Any = None) -> None:
        """Add `values` to the current observation, named `<observer's name>/key`
        (just `key` without an observer). Variables are stored without their
        history unless `config.keep_graph_on_report`."""
        if not config.keep_graph_on_report:
            values = {key: _detached(value) for key, value in values.items()}
        if observer is None:
            self.observation.update(values)
            return
        name = self._observer_names.get(id(observer))
        if name is None:
            raise KeyError(f"report: the observer {type(observer).__name__} is not "
                           "registered with the reporter")
        for key, value in values.items():
            self.observation[f"{name}/{key}"] = value


def _detached(value: Any) -> Any:
    if isinstance(value, Variable):
        return Variable(value.data, name=value.name, requires_grad=False)
    return value


def get_current_reporter() -> Reporter:
    """The reporter of the innermost active scope."""
    stack = _reporters()
    if not stack:
        raise RuntimeError("no reporter is active")
    return stack[-1]


def report(values: dict[str, Any], observer: Any = None) -> None:
    """Report `values` to the current reporter, if any (see `Reporter.report`)."""
    stack = _reporters()
    if stack:
        stack[-1].report(values, observer)


@contextlib.contextmanager
def report_scope(observation: dict[str, Any]) -> Iterator[None]:
    """Inside the block, reports to the current reporter go to `observation`."""
    with get_current_reporter().scope(observation):
        yield


def _as_number(value: Any) -> np.ndarray:
    if isinstance(value, Variable):
        value = value.data
    return np.asarray(value, dtype=np.float64)


class Summary:
    """The running mean and standard deviation of reported values (scalars or
    arrays, taken elementwise); `weight` counts a value as that many."""

    def __init__(self) -> None:
        self._x: Any = 0.0
        self._x2: Any = 0.0
        self._n: Any = 0.0

    def add(self, value: Any, weight: Any = 1) -> None:
        x = _as_number(value)
        w = _as_number(weight)
        self._x = self._x + w * x
        self._x2 = self._x2 + w * x * x
        self._n = self._n + w

    def compute_mean(self) -> Any:
        return self._x / self._n

    def make_statistics(self) -> tuple[Any, Any]:
        """(mean, standard deviation)."""
        mean = self._x / self._n
        variance = np.maximum(self._x2 / self._n - mean * mean, 0.0)
        return mean, np.sqrt(variance)

    def serialize(self, serializer: Any) -> None:
        self._x = serializer("_x", self._x)
        self._x2 = serializer("_x2", self._x2)
        self._n = serializer("_n", self._n)


class DictSummary:
    """A `Summary` per key of the observations added; values that are not numbers
    (strings, arrays of several elements are fine) are skipped."""

    def __init__(self) -> None:
        self._summaries: dict[str, Summary] = {}

    def add(self, d: dict[str, Any]) -> None:
        for key, value in d.items():
            weight = 1
            if isinstance(value, tuple) and len(value) == 2:  # (value, weight)
                value, weight = value
            if isinstance(value, Variable):
                value = value.data
            if not np.isscalar(value) and not isinstance(value, np.ndarray):
                continue
            if np.asarray(value).dtype.kind not in "biuf":
                continue
            self._summaries.setdefault(key, Summary()).add(value, weight)

    def compute_mean(self) -> dict[str, Any]:
        return {key: s.compute_mean() for key, s in self._summaries.items()}

    def make_statistics(self) -> dict[str, Any]:
        """`key` -> mean and `key.std` -> standard deviation."""
        stats: dict[str, Any] = {}
        for key, summary in self._summaries.items():
            mean, std = summary.make_statistics()
            stats[key] = mean
            stats[key + ".std"] = std
        return stats

    def serialize(self, serializer: Any) -> None:
        """Saving writes the keys (as JSON) and each summary; loading replaces the
        summaries by the saved ones (the same calls serve both directions)."""
        names = json.loads(str(serializer("_names", json.dumps(list(self._summaries)))))
        self._summaries = {name: self._summaries.get(name, Summary()) for name in names}
        for index, name in enumerate(names):
            self._summaries[name].serialize(serializer["_summaries"][str(index)])
