"""Every tc op is in every per-op registry (adding an op is a checklist that this
test enforces). A new registry adds one row to REGISTRIES."""

from collections.abc import Callable, Mapping
from importlib import import_module
from pathlib import Path

import pytest

from tensorc.dialects import tc


def _registry(module: str, name: str) -> Callable[[], Mapping[type, object]]:
    return lambda: getattr(import_module(module), name)


REGISTRIES: dict[str, tuple[Callable[[], Mapping[type, object]], frozenset[type]]] = {
    # name: (lazy registry, the tc ops that must be its keys: no more, no fewer)
    "REFERENCE": (_registry("tensorc.runtime.interp", "REFERENCE"),
                  frozenset(tc.ALL_OPS) - {tc.GradOp}),  # tc-autodiff expands tc.grad
}


@pytest.mark.parametrize("name", REGISTRIES)
def test_every_tc_op_is_registered(name: str) -> None:
    load, required = REGISTRIES[name]
    registry = load()
    missing = sorted(op.name for op in required if op not in registry)
    assert not missing, f"{name} lacks {missing}"
    extra = [getattr(key, "name", key) for key in registry if key not in required]
    assert not extra, f"{name} has entries for ops it should not cover: {extra}"


def test_every_tc_op_has_a_round_trip_test() -> None:
    text = (Path(__file__).parent / "lit" / "dialect" / "roundtrip.mlir").read_text()
    missing = [op.name for op in tc.ALL_OPS if f" = {op.name} " not in text]
    assert not missing, f"tests/lit/dialect/roundtrip.mlir lacks {missing}"
