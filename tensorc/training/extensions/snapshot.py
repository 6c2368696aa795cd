"""`snapshot` and `snapshot_object`: save the trainer (or any object) to
`<out>/<filename>` as .npz, once per epoch by default (Chainer's extensions of
those names).

    trainer.extend(extensions.snapshot(), trigger=(1, 'epoch'))
    trainer.extend(extensions.snapshot_object(model, 'model_epoch_{.updater.epoch}'))

`filename` is formatted with the trainer (`'snapshot_iter_{.updater.iteration}'`).
A trainer snapshot restores the whole training state into a trainer built the same
way: `tensorc.training.serialization.load_npz(path, trainer)`, or `autoload=True`
to resume from the newest snapshot in `out` when the run starts.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable
from typing import Any

from tensorc.training.extension import Extension
from tensorc.training.extensions.log_report import write_atomically
from tensorc.training.serialization import load_npz, save_npz

__all__ = ["Snapshot", "snapshot", "snapshot_object"]


class Snapshot(Extension):
    """Writes `savefun(path, target)` (the trainer if `target` is None); keeps
    the newest `n_retains` files of this filename pattern (all if negative)."""

    trigger = (1, "epoch")
    priority = -100  # after every other extension of the iteration

    def __init__(self, target: Any = None,
                 filename: str = "snapshot_iter_{.updater.iteration}",
                 savefun: Callable[[str, Any], None] | None = None,
                 condition: Callable[[], bool] | None = None, n_retains: int = -1,
                 autoload: bool = False):
        self._target = target
        self.filename = filename
        self._savefun = savefun or save_npz
        self._condition = condition
        self.n_retains = n_retains
        self.autoload = autoload

    def initialize(self, trainer: Any) -> str | None:
        """With `autoload`: load the newest snapshot in `out`, if any; return its
        path."""
        if not self.autoload:
            return None
        existing = self._existing(trainer.out)
        if not existing:
            return None
        load_npz(existing[-1], trainer if self._target is None else self._target)
        return existing[-1]

    def __call__(self, trainer: Any) -> None:
        if self._condition is not None and not self._condition():
            return
        target = trainer if self._target is None else self._target
        path = os.path.join(trainer.out, self.filename.format(trainer))
        # np.savez appends ".npz" to names without it: save through an open file.
        write_atomically(path, lambda temporary: self._save(temporary, target))
        if self.n_retains >= 0:
            for old in self._existing(trainer.out)[:-self.n_retains or None]:
                os.remove(old)

    def _save(self, path: str, target: Any) -> None:
        with open(path, "wb") as file:
            self._savefun(file, target)  # type: ignore[arg-type]

    def _existing(self, out: str) -> list[str]:
        """The files of this filename pattern in `out`, oldest first."""
        pattern = re.sub(r"\{[^}]*\}", "*", self.filename)
        paths = [p for p in glob.glob(os.path.join(glob.escape(out), pattern))
                 if os.path.isfile(p)]
        return sorted(paths, key=os.path.getmtime)


def snapshot(savefun: Callable[[Any, Any], None] | None = None,
             filename: str = "snapshot_iter_{.updater.iteration}", *,
             target: Any = None, condition: Callable[[], bool] | None = None,
             n_retains: int = -1, autoload: bool = False) -> Snapshot:
    """An extension saving the trainer (or `target`) every epoch."""
    return Snapshot(target, filename, savefun, condition, n_retains, autoload)


def snapshot_object(target: Any, filename: str,
                    savefun: Callable[[Any, Any], None] | None = None,
                    **kwargs: Any) -> Snapshot:
    """An extension saving `target` (e.g. the model: the file loads with
    `tensorc.serializers.load_npz`) every epoch."""
    return Snapshot(target, filename, savefun, **kwargs)
