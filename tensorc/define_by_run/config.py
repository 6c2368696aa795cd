"""Chainer's configuration for the define-by-run API: `tensorc.config.train`,
`tensorc.using_config`, `tensorc.no_backprop_mode`.

    with tensorc.using_config("train", False), tensorc.no_backprop_mode():
        accuracy = model(x_test, t_test)

`tensorc.config` is one object with two kinds of flags:

* the compiler's flags (`tensorc.config.Config`: floatX, device, mode, cc), global,
  checked and set exactly as before;
* Chainer's run flags (`RUN_FLAGS`: train, enable_backprop, dtype, ...), and any
  flag whose name starts with `user_` (Chainer's convention for user flags).
  As in Chainer, assigning one (`tensorc.config.train = False`) or `using_config`
  sets it for the current thread; `tensorc.global_config.train = False` sets the
  default of every thread.

Any other name goes to the compiler's flags, so a misspelt flag still raises
ConfigError with a suggestion.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from tensorc.config import Config
from tensorc.config import config as compiler_config

RUN_FLAGS: dict[str, Any] = {
    "train": True,  # training mode: dropout active
    "enable_backprop": True,  # record graphs (False: values only, no gradients)
    "dtype": np.dtype(np.float32),  # default dtype of initialized parameters
    "debug": False,
    "type_check": True,
    "keep_graph_on_report": False,
    "use_cudnn": "never",  # accepted for Chainer programs; no effect on the CPU
    "cudnn_deterministic": False,
    "autotune": False,
    "use_ideep": "never",
    "lazy_grad_sum": False,
}
"""Chainer's flags and their defaults (those without a comment are accepted so that
Chainer programs that set them run; tensorc does not read them)."""


def is_run_flag(name: str) -> bool:
    return name in RUN_FLAGS or name.startswith("user_")


class _RunFlags:
    """Defaults (`values`) plus per-thread overrides (`local`)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = dict(RUN_FLAGS)
        self.local = threading.local()

    def overrides(self) -> dict[str, Any]:
        table = getattr(self.local, "values", None)
        if table is None:
            table = self.local.values = {}
        return table


_RUN = _RunFlags()
_MISSING = object()


class Configuration:
    """`tensorc.config` (thread-local run flags) or `tensorc.global_config`
    (their defaults); compiler flags are global in both."""

    __slots__ = ("_thread_local",)

    def __init__(self, thread_local: bool):
        object.__setattr__(self, "_thread_local", thread_local)

    def __getattr__(self, name: str) -> Any:
        if not is_run_flag(name):
            return getattr(compiler_config, name)
        value = _RUN.overrides().get(name, _MISSING) if self._thread_local else _MISSING
        if value is _MISSING:
            value = _RUN.values.get(name, _MISSING)
        if value is _MISSING:
            raise AttributeError(f"tensorc.config has no flag {name!r}")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if not is_run_flag(name):
            setattr(compiler_config, name, value)
        elif self._thread_local:
            _RUN.overrides()[name] = value
        else:
            _RUN.values[name] = value

    def __delattr__(self, name: str) -> None:
        table = _RUN.overrides() if self._thread_local else _RUN.values
        if name not in table:
            raise AttributeError(f"tensorc.config has no flag {name!r} to delete")
        del table[name]

    def _run_flags(self) -> dict[str, Any]:
        flags = dict(_RUN.values)
        if self._thread_local:
            flags.update(_RUN.overrides())
        return flags

    def show(self) -> None:
        """Print every flag (Chainer's `chainer.config.show()`)."""
        print(self)

    def __repr__(self) -> str:
        compiler = {name: getattr(compiler_config, name)
                    for name in Config.__dataclass_fields__ if not name.startswith("_")}
        lines = [f"{k:<22}{v!r}" for k, v in {**compiler, **self._run_flags()}.items()]
        return "\n".join(lines)


config = Configuration(thread_local=True)
global_config = Configuration(thread_local=False)


@contextlib.contextmanager
def using_config(name: str, value: Any, config: Configuration = config
                 ) -> Iterator[None]:
    """Set flag `name` to `value` inside the block (for this thread if it is a run
    flag; compiler flags are global) and restore it afterwards."""
    if not is_run_flag(name):
        old = getattr(compiler_config, name)
        setattr(compiler_config, name, value)
        try:
            yield
        finally:
            setattr(compiler_config, name, old)
        return
    table = _RUN.overrides() if config._thread_local else _RUN.values
    old = table.get(name, _MISSING)
    table[name] = value
    try:
        yield
    finally:
        if old is _MISSING:
            table.pop(name, None)
        else:
            table[name] = old


def no_backprop_mode() -> contextlib.AbstractContextManager[None]:
    """Operations inside record no graph: results are values without history, and
    `backward()` from them reaches nothing."""
    return using_config("enable_backprop", False)


def force_backprop_mode() -> contextlib.AbstractContextManager[None]:
    """Record graphs inside the block even within `no_backprop_mode`."""
    return using_config("enable_backprop", True)


def backprop_enabled() -> bool:
    return bool(config.enable_backprop)


def training() -> bool:
    return bool(config.train)
