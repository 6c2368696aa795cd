"""Large modules in parts: loop nests outlined into functions, grouped into
TC_PARTs that the runtime compiles on several cores and links (c_emitter's
PART_COST, cpu.part_groups). A module built in parts must behave exactly as the
same source built as one unit: same results, same errors, one shared state."""

from pathlib import Path

import numpy as np
import pytest
from conftest import run_forked

import tensorc
import tensorc.tensor as T
from tensorc.errors import TensorcError
from tensorc.lowering.cpu.c_emitter import MAX_PARTS, assign_parts
from tensorc.runtime import cpu


def test_nests_go_to_the_cheapest_part_and_the_entries_stay_in_part_0() -> None:
    assignment, costs = assign_parts(400, [300, 100, 250, 200, 150])
    assert len(costs) == (400 + 1000) // 250
    assert sum(costs) == 1400 and costs[0] >= 400
    assert max(costs) - min(costs) <= 300  # at most one nest apart
    assert assign_parts(400, [300, 100, 250, 200, 150]) == (assignment, costs)
    assert assign_parts(40, [30, 20]) == ([0, 0], (90,))  # small: one unit
    assert len(assign_parts(10, [1000] * 20)[1]) == MAX_PARTS


def test_groups_cover_every_part_once_and_balance_the_cores() -> None:
    costs = [500, 200, 220, 210, 230, 190, 205]
    masks = cpu.part_groups(costs, 2)
    assert len(masks) == 2 and masks[0] & masks[1] == 0
    assert masks[0] | masks[1] == (1 << len(costs)) - 1
    totals = [sum(c for k, c in enumerate(costs) if mask >> k & 1) for mask in masks]
    assert abs(totals[0] - totals[1]) <= max(costs)
    assert cpu.part_groups(costs, 1) == [] and cpu.part_groups([300], 4) == []
    assert len(cpu.part_groups(costs, 16)) == len(costs)


def mlp_step(
    batch: int, mode: str = "FAST_RUN"
) -> tuple[tensorc.Function, list[np.ndarray], list[tensorc.SharedVariable]]:
    """A 784-256-10 SGD step (a gather with bounds checks included): big enough to
    come in parts. Returns the step, a batch and the parameters."""
    x, y = T.dmatrix("x"), T.lvector("y")
    rng = np.random.default_rng(3)
    shapes = [(784, 256), (256,), (256, 10), (10,)]
    params = [tensorc.shared(rng.standard_normal(s) * 0.05) for s in shapes]
    w1, b1, w2, b2 = params
    probs = T.nnet.softmax(T.dot(T.tanh(T.dot(x, w1) + b1), w2) + b2)
    loss = -T.mean(T.log(probs)[T.arange(y.shape[0]), y])
    grads = T.grad(loss, params)
    updates = [(p, p - 0.1 * g) for p, g in zip(params, grads, strict=True)]
    step = tensorc.function([x, y], [loss, *grads], updates=updates, mode=mode)
    data = [rng.standard_normal((batch, 784)), rng.integers(0, 10, batch)]
    return step, data, params


def build(
    monkeypatch: pytest.MonkeyPatch, cache: Path, cores: int
) -> tuple[tensorc.Function, list[np.ndarray], list[list[str]]]:
    """The MLP step compiled into an empty cache on `cores` cores; the compiler
    commands that ran."""
    commands: list[list[str]] = []
    run = cpu.run_at_once

    def recording(batch: list[list[str]]):  # noqa: ANN202
        commands.extend(batch)
        return run(batch)

    monkeypatch.setenv("TENSORC_CACHE_DIR", str(cache))
    monkeypatch.setattr(cpu, "usable_cores", lambda: cores)
    monkeypatch.setattr(cpu, "run_at_once", recording)
    step, data, _ = mlp_step(64)
    return step, data, commands


def parted(commands: list[list[str]]) -> list[str]:
    return [a for c in commands for a in c if a.startswith("-DTENSORC_PARTS=")]


@pytest.fixture
def machine_level() -> None:
    compiler = cpu.find_c_compiler()
    if not cpu.target_flags(cpu.compiler_identity(compiler)):
        pytest.skip("parts need GCC >= 11 on a known x86-64 level (no clones)")


@pytest.mark.usefixtures("machine_level")
def test_parts_compile_in_parallel_and_match_one_unit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    whole, data, commands = build(monkeypatch, tmp_path / "whole", cores=1)
    assert not parted(commands) and len(commands) == 1
    assert whole.source is not None and "#if TC_PART(1)" in whole.source
    in_parts, _, commands = build(monkeypatch, tmp_path / "parts", cores=2)
    assert len(parted(commands)) == 2  # two compilers at once, then the link
    assert in_parts.source == whole.source
    reference, _, _ = mlp_step(64, mode="REFERENCE")
    for _ in range(3):  # the updates too
        expected = reference(*data)
        for a, b, c in zip(whole(*data), in_parts(*data), expected, strict=True):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(b, c, rtol=1e-9, atol=1e-12)


@pytest.mark.usefixtures("machine_level")
def test_a_failing_nest_in_a_part_reports_the_users_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TENSORC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    step, data, params = mlp_step(64)
    before = [p.get_value() for p in params]
    bad = data[1].copy()
    bad[5] = 10  # one class too many
    with pytest.raises(TensorcError, match=r"test_c_parts\.py:\d+\): index #1 out of range"):
        step(data[0], bad)
    for p, old in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.get_value(), old)
    assert np.isfinite(step(*data)[0])  # the entry freed what it held and goes on


@pytest.mark.usefixtures("machine_level")
def test_threads_off_reach_every_part_in_a_forked_child(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The runtime turns threads off in a forked child (libgomp's pool does not
    survive fork()); the switch is one variable shared by all parts."""
    step, _, commands = build(monkeypatch, tmp_path, cores=2)
    assert parted(commands)
    rng = np.random.default_rng(0)
    big = [rng.standard_normal((2048, 784)), rng.integers(0, 10, 2048)]
    step(*big)  # threaded loops in the parent
    saved = tmp_path / "child.npy"
    assert run_forked(lambda: np.save(saved, step(*big)[0]) is None,
                      "the forked child hung in a threaded loop of another part")
    # the child's updates stayed in the child: the parent's next step is the same
    np.testing.assert_array_equal(np.load(saved), step(*big)[0])
