"""The whole-function compile cache (tensorc.compiler): graph keys, warm compiles
in fresh processes that skip tracing, passes and the C compiler, what a cached
function still offers (f.maker, f.source), invalidation, the compiler identity
kept on disk, and the TENSORC_PROFILE_COMPILE breakdown."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tensorc
import tensorc.tensor as T
from tensorc import compiler, pipeline
from tensorc.frontend.graph_key import graph_key
from tensorc.frontend.variable import TensorType, Variable
from tensorc.runtime import cpu


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("TENSORC_CACHE_DIR", str(directory))
    return directory


def logging_compiler(directory: Path) -> Path:
    """A `cc` that logs its arguments to cc.log, then runs the real one."""
    wrapper = directory / "logging-cc"
    wrapper.write_text(
        f'#!/bin/sh\necho "$*" >> "{directory / "cc.log"}"\nexec cc "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return wrapper


def compiler_runs(directory: Path) -> list[str]:
    log = directory / "cc.log"
    return log.read_text().splitlines() if log.exists() else []


# region graph keys


def affine(scale: float = 2.0, dtype: str = "float64", name: str = "x"):
    x = T.tensor(dtype, shape=(None, 3), name=name)
    return [x], [(x * scale).sum(axis=1)]


def test_graph_key_is_stable_and_sees_every_difference() -> None:
    key = graph_key(*affine())
    assert key == graph_key(*affine())  # a rebuilt graph (same lines)
    different = {
        "constant": graph_key(*affine(scale=3.0)),
        "dtype": graph_key(*affine(dtype="float32")),
        "name": graph_key(*affine(name="y")),
    }
    assert key not in different.values() and len(set(different.values())) == 3
    args, results = affine()
    copied = [Variable(r.op, r.inputs, r.type, r.attrs, r.name, r.loc) for r in results]
    assert graph_key(args, copied) == key
    moved = [Variable(r.op, r.inputs, r.type, r.attrs, r.name) for r in results]
    assert graph_key(args, moved) != key  # created on this line: messages quote it
    x = args[0]
    assert graph_key([x], [x.sum(axis=0)]) != graph_key([x], [x.sum(axis=1)])
    both = [x.sum(axis=0), x.sum(axis=1)]
    assert graph_key([x], both) != graph_key([x], both[::-1])
    wider = T.tensor("float64", shape=(None, 4), name="x")
    assert graph_key([wider], [wider.sum(axis=1)]) != graph_key([x], [x.sum(axis=1)])


def test_graph_key_of_attribute_values() -> None:
    """Values keep their type (1, 1.0 and True differ); arrays go by content;
    values without a canonical text make the graph unkeyable."""
    x = T.dvector("x")
    vector = TensorType("float64", shape=(None,))

    def key(value: object) -> str | None:
        return graph_key([x], [Variable("neg", (x,), vector, {"k": value}, loc=x.loc)])

    keys = [key(v) for v in (1, 1.0, True, (1,), [1], np.int64(1), np.ones(1))]
    assert len(set(keys)) == len(keys)
    assert key(np.ones(2)) == key(np.ones(3)[:2].copy()) != key(np.zeros(2))
    odd = Variable("neg", (x,), TensorType("float64", shape=(None,)), {"k": object()})
    assert graph_key([x], [odd]) is None
    array = Variable(
        "neg", (x,), TensorType("float64", shape=(None,)), {"k": np.array([object()])}
    )
    assert graph_key([x], [array]) is None


# endregion
# region warm compiles in fresh processes

CHILD = """
import sys
import numpy as np
import tensorc, tensorc.tensor as T
w = tensorc.shared(np.array([1.0, 2.0, 3.0]), name="w")
x = T.dvector("x")
cost = ((w * x - 1.0) ** 2).sum()
f = tensorc.function([x], cost, updates=[(w, w - 0.1 * T.grad(cost, w))])
print(repr(float(f(np.array([1.0, 0.5, 2.0])))), w.get_value().tolist())
print("lowered:", "tensorc.lowering.cpu.c_emitter" in sys.modules,
      "tensorc.pipeline" in sys.modules, "xdsl" in sys.modules)
print("pp:", tensorc.pp(f.maker.fgraph.outputs[0]))
print("source:", len(f.source), "tensorc_entry_main" in f.source)
"""


def run_child(env: dict[str, str]) -> tuple[list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        check=False,
        env={
            **os.environ,
            **env,
            "TENSORC_PROFILE_COMPILE": "1",
            "TENSORC_PYENTRY": "1",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines(), done.stderr


def test_warm_compile_in_a_fresh_process_skips_every_stage(tmp_path: Path) -> None:
    wrapper = logging_compiler(tmp_path)
    env = {"TENSORC_CACHE_DIR": str(tmp_path / "cache"), "TENSORC_CC": str(wrapper)}
    cold, cold_profile = run_child(env)
    compiled = compiler_runs(tmp_path)
    assert "--version" in compiled and len(compiled) == 3  # kernel and extension
    for stage in ("trace", "tc-autodiff", "tc-bufferize", "codegen", "C compile"):
        assert f"  {stage} " in cold_profile
    assert cold[1] == "lowered: True True True"
    warm, warm_profile = run_child(env)
    assert warm == [cold[0], "lowered: False False False", *cold[2:]]
    assert "load (cache hit)" in warm_profile and "trace" not in warm_profile
    assert compiler_runs(tmp_path) == compiled  # not even --version ran again


def test_concurrent_cold_compiles(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TENSORC_CACHE_DIR": str(tmp_path / "cache"),
        "TENSORC_PYENTRY": "1",
    }
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=120)[0] for child in children]
    assert all(child.returncode == 0 for child in children)
    assert outputs[0] == outputs[1]
    for kind in ("c", "function", "ext"):
        names = [p.name for p in (tmp_path / "cache" / kind).iterdir()]
        assert not [n for n in names if n.startswith(".")]  # no temporary files


# endregion
# region in-process behaviour


def test_cached_function_offers_maker_and_source(cache_dir: Path) -> None:
    def build() -> tensorc.Function:
        x = T.dmatrix("x")
        return tensorc.function([x], T.exp(x).sum(axis=0) * 2)

    first = build()
    second = build()
    assert second._compiled._optimized is None  # loaded from the cache
    assert second.source == first.source
    assert tensorc.pp(second.maker.fgraph.outputs[0]) == tensorc.pp(
        first.maker.fgraph.outputs[0]
    )
    assert {op.name for op in second.maker.module.walk()} == {
        op.name for op in first.maker.module.walk()
    }
    value = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(second(value), np.exp(value).sum(axis=0) * 2)
    (meta,) = (cache_dir / "function").glob("*.json")
    assert json.loads(meta.read_text())["inputs"] == [["float64", [None, None]]]


def test_missing_library_or_new_flags_compile_again(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENSORC_CC", str(logging_compiler(tmp_path)))

    def build() -> tensorc.Function:
        v = T.dvector("v")
        return tensorc.function([v], v - 1)

    def kernel_compiles() -> int:
        return sum(
            " -o " in run and "module.c" in run for run in compiler_runs(tmp_path)
        )

    build()
    build()
    assert kernel_compiles() == 1
    for library in (cache_dir / "c").glob("*.so"):
        library.unlink()
    np.testing.assert_array_equal(build()(np.ones(2)), [0.0, 0.0])
    assert kernel_compiles() == 2
    monkeypatch.setattr(cpu, "COMPILE_FLAGS", (*cpu.COMPILE_FLAGS, "-DTENSORC_TEST"))
    build()
    assert kernel_compiles() == 3


def test_graph_without_key_is_compiled_uncached(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compiler, "graph_key", lambda args, results: None)
    x = T.dvector("x")
    f = tensorc.function([x], x * 4)
    np.testing.assert_array_equal(f(np.ones(2)), [4.0, 4.0])
    assert not (cache_dir / "function").exists()


def test_reference_mode_is_not_cached(cache_dir: Path) -> None:
    x = T.dvector("x")
    f = tensorc.function([x], x + 2, mode="REFERENCE")
    assert f.source is None and f._compiled.kernel is None
    np.testing.assert_array_equal(f(np.ones(2)), [3.0, 3.0])
    assert not (cache_dir / "function").exists()


def test_profile_names_every_stage(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TENSORC_PROFILE_COMPILE", "1")

    def build() -> tensorc.Function:
        x = T.dvector("x")
        return tensorc.function([x], T.tanh(x) * 3)

    build()
    report = capsys.readouterr().err
    passes = [p.name for p in pipeline.passes(pipeline.PIPELINES["tc"])]
    passes += [p.name for p in pipeline.passes(pipeline.PIPELINES["cpu"])]
    stages = ["graph key", "import the compiler", "trace", *passes, "codegen"]
    stages += ["C compile", "load", "store", "total"]
    names = [line.rsplit(maxsplit=2)[0].strip() for line in report.splitlines()[1:]]
    assert names == stages
    build()
    warm = capsys.readouterr().err
    assert "load (cache hit)" in warm and "codegen" not in warm


def test_compiler_identity_is_kept_on_disk(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapper = logging_compiler(tmp_path)
    command = (str(wrapper),)
    first = cpu.compiler_identity.__wrapped__(command)
    assert compiler_runs(tmp_path) == ["--version"]
    assert cpu.compiler_identity.__wrapped__(command) == first
    assert compiler_runs(tmp_path) == ["--version"]
    wrapper.write_text(wrapper.read_text() + "\n# changed\n")  # a new binary
    cpu.compiler_identity.__wrapped__(command)
    assert compiler_runs(tmp_path) == ["--version", "--version"]


def test_target_flags_pick_one_x86_64_level() -> None:
    v3 = set(cpu.X86_64_LEVELS["x86-64-v3"])
    assert cpu.x86_64_level(v3 | {"sse4_2"}) == "x86-64-v3"
    assert cpu.x86_64_level(set(cpu.X86_64_LEVELS["x86-64-v4"])) == "x86-64-v4"
    assert cpu.x86_64_level(v3 - {"fma"}) is None
    assert cpu.target_flags("clang version 16.0.6") == ()
    old_gcc = "gcc (GCC) 10.2.1 20210110\nCopyright (C) Free Software Foundation"
    assert cpu.target_flags(old_gcc) == ()
    identity = cpu.compiler_identity(cpu.find_c_compiler())
    flags = cpu.target_flags(identity)
    assert flags == () or (
        flags[0] == "-DTENSORC_NO_CLONES" and flags[1][7:] in cpu.X86_64_LEVELS
    )


# endregion
# region compile time


def mlp_step() -> tensorc.Function:
    """The W4 training step: 784-256-10 tanh/softmax MLP with gradients."""
    rng = np.random.default_rng(3)
    x, y = T.dmatrix("x"), T.lvector("y")
    shapes = [(784, 256), 256, (256, 10), 10]
    params = [tensorc.shared(rng.standard_normal(s)) for s in shapes]
    w1, b1, w2, b2 = params
    probs = T.nnet.softmax(T.dot(T.tanh(T.dot(x, w1) + b1), w2) + b2)
    loss = -T.mean(T.log(probs)[T.arange(y.shape[0]), y])
    grads = T.grad(loss, params)
    updates = [(p, p - 0.01 * g) for p, g in zip(params, grads)]
    return tensorc.function([x, y], loss, updates=updates)


def test_warm_compile_of_the_mlp_step_is_fast(cache_dir: Path) -> None:
    """bench/run.py (W6) measures cold and warm compiles in fresh processes; here
    a warm compile of the same graph in-process must stay far below 0.3 s."""
    mlp_step()
    start = time.perf_counter()
    step = mlp_step()
    elapsed = time.perf_counter() - start
    assert step._compiled._optimized is None
    assert elapsed < 0.3, f"warm compile took {elapsed:.3f} s"


# endregion
