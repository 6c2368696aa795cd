"""`Evaluator`: the model's mean reported values over a validation set (Chainer's
`chainer.training.extensions.Evaluator`).

By default it runs once per epoch, with `config.train` False (dropout off) and
without recording graphs, and reports each mean under its own name: the
Classifier's "loss" becomes "validation/main/loss".
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tensorc.dataset.convert import concat_examples
from tensorc.define_by_run.config import no_backprop_mode, using_config
from tensorc.links import Link
from tensorc.reporter import DictSummary, Reporter, report, report_scope
from tensorc.training.extension import PRIORITY_WRITER, Extension
from tensorc.training.updaters import call_with_arrays, check_device

__all__ = ["Evaluator"]


class Evaluator(Extension):
    """Runs `eval_func` (default: the target link) on every batch of `iterator`
    ("main" if a dict), converted by `converter(batch, device)`, and reports the
    means of what the target reported, prefixed with the extension's name."""

    trigger = (1, "epoch")
    default_name = "validation"  # type: ignore[assignment]
    priority = PRIORITY_WRITER

    def __init__(self, iterator: Any, target: Any,
                 converter: Callable[..., Any] = concat_examples, device: Any = None,
                 eval_hook: Callable[[Evaluator], None] | None = None,
                 eval_func: Callable[..., Any] | None = None):
        self._iterators = iterator if isinstance(iterator, dict) else {"main": iterator}
        self._targets = {"main": target} if isinstance(target, Link) else dict(target)
        self.converter = converter
        self.device = check_device(device)
        self.eval_hook = eval_hook
        self.eval_func = eval_func

    def get_iterator(self, name: str) -> Any:
        return self._iterators[name]

    def get_target(self, name: str) -> Any:
        return self._targets[name]

    def __call__(self, trainer: Any = None) -> dict[str, Any]:
        """Evaluate, report the means to the trainer's observation (when a
        reporter is active) and return them."""
        reporter = Reporter()
        prefix = "" if self.name is None else self.name + "/"
        for name, target in self._targets.items():
            reporter.add_observer(prefix + name, target)
            reporter.add_observers(prefix + name, target.namedlinks(skipself=True))
        with reporter, using_config("train", False):
            result = self.evaluate()
        report(result)
        return result

    def evaluate(self) -> dict[str, Any]:
        """The mean of each value reported per batch, over one pass of the
        iterator (reset first, or a copy if it cannot be reset)."""
        iterator = self._iterators["main"]
        eval_func = self.eval_func or self._targets["main"]
        if self.eval_hook is not None:
            self.eval_hook(self)
        if hasattr(iterator, "reset"):
            iterator.reset()
        else:
            iterator = copy.copy(iterator)
        summary = DictSummary()
        for batch in iterator:
            observation: dict[str, Any] = {}
            with report_scope(observation):
                arrays = self.converter(batch, self.device)
                with no_backprop_mode():
                    call_with_arrays(eval_func, arrays)
            summary.add(observation)
        return summary.compute_mean()
