"""Global configuration, Theano style: `tensorc.config.floatX`, set from the
environment variable TENSORC_FLAGS (e.g. `TENSORC_FLAGS=floatX=float32,device=cpu`)
or by assignment (`tensorc.config.floatX = "float32"`)."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field, fields

from tensorc.errors import ConfigError

_CHOICES: dict[str, tuple[str, ...]] = {
    "floatX": ("float64", "float32", "float16"),
    "device": ("cpu", "cuda", "cuda-emu"),
    "mode": ("FAST_RUN", "REFERENCE"),
}


@dataclass
class Config:
    """The flags users may set; `cc` names the C compiler ('' = $CC, then cc/gcc)."""

    floatX: str = "float64"
    device: str = "cpu"
    mode: str = "FAST_RUN"
    cc: str = ""
    _frozen: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self._frozen = True

    def __setattr__(self, key: str, value: object) -> None:
        if getattr(self, "_frozen", False):
            _check_flag(key, value)
        object.__setattr__(self, key, value)


def _flag_names() -> list[str]:
    return [f.name for f in fields(Config) if not f.name.startswith("_")]


def _check_flag(key: str, value: object) -> None:
    names = _flag_names()
    if key not in names:
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.0)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown tensorc flag '{key}'{hint} (valid: {', '.join(names)})")
    choices = _CHOICES.get(key)
    if choices is not None and value not in choices:
        raise ConfigError(f"invalid value {value!r} for flag '{key}': expected one of {choices}")


def parse_flags(text: str, config: Config) -> None:
    """Apply 'k=v,k2=v2' flags (the TENSORC_FLAGS syntax) to `config`."""
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"TENSORC_FLAGS entry {item!r} must look like name=value")
        setattr(config, key.strip(), value.strip())


config = Config()
parse_flags(os.environ.get("TENSORC_FLAGS", ""), config)
