"""tensorc against NumPy, PyTensor (C backend `mode="CVM"` and its default mode) and
`jax.jit`, measured side by side in one run on this machine.

    python bench/run.py [--quick] [--only W1,W5] [--out bench/results.md]

Each number is the median over repeats of the mean time of a batch of calls. Ratios are
tensorc's time divided by the other's (below 1.0: tensorc is faster). Competitors that
are not installed are reported as missing, not skipped silently.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


@dataclass
class Row:
    workload: str
    times: dict[str, float] = field(default_factory=dict)  # seconds per call
    notes: str = ""


def measure(fn: Callable[[], object], min_time: float = 0.02, repeats: int = 7) -> float:
    """Median over `repeats` of the mean per-call time of a batch lasting >= min_time."""
    fn()
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            break
        batch *= 2 if elapsed == 0 else max(2, int(min_time / elapsed * 1.2))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - start) / batch)
    return statistics.median(samples)


# -- competitors -------------------------------------------------------------------


def _pytensor():
    try:
        import pytensor
        import pytensor.tensor as pt
    except ImportError:
        return None
    return pytensor, pt


def _jax():
    try:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except ImportError:
        return None
    return jax, jnp


def _block(value):
    return value.block_until_ready() if hasattr(value, "block_until_ready") else value


# -- workloads ---------------------------------------------------------------------


def w1_expression(n: int, dtype: str) -> Row:
    """exp(-x**2)*sin(3*x) + 0.5*tanh(x)."""
    import tensorc
    import tensorc.tensor as T

    x_value = np.random.default_rng(0).standard_normal(n).astype(dtype)
    row = Row(f"W1 expr n={n:.0e} {dtype}")
    x = T.tensor(dtype, shape=(None,), name="x")
    f = tensorc.function([x], T.exp(-x**2) * T.sin(3 * x) + 0.5 * T.tanh(x))
    row.times["tensorc"] = measure(lambda: f(x_value))
    row.times["numpy"] = measure(
        lambda: np.exp(-x_value**2) * np.sin(3 * x_value) + 0.5 * np.tanh(x_value)
    )
    out = np.empty_like(x_value)
    row.times["copy floor"] = measure(lambda: np.copyto(out, x_value))
    _pytensor_and_jax(row, lambda pt, v: pt.exp(-v**2) * pt.sin(3 * v) + 0.5 * pt.tanh(v),
                      [x_value], dtype)
    return row


def _pytensor_and_jax(row: Row, expr, values: list[np.ndarray], dtype: str) -> None:
    found = _pytensor()
    if found:
        pytensor, pt = found
        xs = [pt.tensor(dtype=v.dtype, shape=(None,) * v.ndim) for v in values]
        for mode in ("CVM", None):
            f = pytensor.function(xs, expr(pt, *xs), mode=mode)
            row.times[f"pytensor {mode or 'default'}"] = measure(lambda: f(*values))
    found_jax = _jax()
    if found_jax:
        jax, jnp = found_jax
        g = jax.jit(lambda *vs: expr(jnp, *vs))
        row.times["jax.jit"] = measure(lambda: _block(g(*values)))


def w2_grad_update(n: int) -> Row:
    """Gradient and update step of sum((x - c)**2) on a shared x."""
    import tensorc
    import tensorc.tensor as T

    rng = np.random.default_rng(1)
    row = Row(f"W2 grad+update n={n:.0e}")
    x = tensorc.shared(rng.standard_normal(n), name="x")
    c = T.dvector("c")
    cost = T.sum((x - c) ** 2)
    step = tensorc.function([c], cost, updates={x: x - 0.1 * T.grad(cost, x)})
    c_value = rng.standard_normal(n)
    row.times["tensorc"] = measure(lambda: step(c_value))
    x_np = rng.standard_normal(n)

    def numpy_step():
        nonlocal x_np
        d = x_np - c_value
        cost_value = np.dot(d, d)
        x_np = x_np - 0.2 * d
        return cost_value

    row.times["numpy"] = measure(numpy_step)
    out = np.empty(n)
    row.times["copy floor"] = measure(lambda: (np.copyto(out, c_value), np.copyto(out, x_np)))
    found = _pytensor()
    if found:
        pytensor, pt = found
        xs = pytensor.shared(rng.standard_normal(n))
        cs = pt.dvector()
        pcost = pt.sum((xs - cs) ** 2)
        for mode in ("CVM", None):
            f = pytensor.function([cs], pcost, updates={xs: xs - 0.1 * pytensor.grad(pcost, xs)},
                                  mode=mode)
            row.times[f"pytensor {mode or 'default'}"] = measure(lambda: f(c_value))
    found_jax = _jax()
    if found_jax:
        jax, jnp = found_jax

        @jax.jit
        def jstep(xv, cv):
            value, g = jax.value_and_grad(lambda v: jnp.sum((v - cv) ** 2))(xv)
            return value, xv - 0.1 * g

        state = [jnp.asarray(rng.standard_normal(n))]

        def jax_step():
            value, state[0] = jstep(state[0], c_value)
            return _block(value)

        row.times["jax.jit"] = measure(jax_step)
    return row


def _logreg_numpy_data(n: int, feats: int):
    rng = np.random.default_rng(2)
    return rng.standard_normal((n, feats)), (rng.random(n) > 0.5).astype(np.float64)


def w3_logistic_regression(n: int, feats: int = 784) -> Row:
    import tensorc
    import tensorc.tensor as T

    row = Row(f"W3 logreg step {n}x{feats}")
    data, labels = _logreg_numpy_data(n, feats)
    x, y = T.dmatrix("x"), T.dvector("y")
    w = tensorc.shared(np.zeros(feats), name="w")
    b = tensorc.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w**2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = tensorc.function([x, y], [p_1 > 0.5, xent.mean()],
                             updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    row.times["tensorc"] = measure(lambda: train(data, labels))
    found = _pytensor()
    if found:
        pytensor, pt = found
        px, py = pt.dmatrix(), pt.dvector()
        pw = pytensor.shared(np.zeros(feats))
        pb = pytensor.shared(0.0)
        pp1 = 1 / (1 + pt.exp(-pt.dot(px, pw) - pb))
        pxent = -py * pt.log(pp1) - (1 - py) * pt.log(1 - pp1)
        pcost = pxent.mean() + 0.01 * (pw**2).sum()
        pgw, pgb = pytensor.grad(pcost, [pw, pb])
        for mode in ("CVM", None):
            f = pytensor.function([px, py], [pp1 > 0.5, pxent.mean()],
                                  updates=((pw, pw - 0.1 * pgw), (pb, pb - 0.1 * pgb)), mode=mode)
            row.times[f"pytensor {mode or 'default'}"] = measure(lambda: f(data, labels))
    found_jax = _jax()
    if found_jax:
        jax, jnp = found_jax

        def loss(params, xv, yv):
            wv, bv = params
            p = 1 / (1 + jnp.exp(-xv @ wv - bv))
            xe = -yv * jnp.log(p) - (1 - yv) * jnp.log(1 - p)
            return xe.mean() + 0.01 * (wv**2).sum(), (p > 0.5, xe.mean())

        @jax.jit
        def jstep(params, xv, yv):
            (_, aux), grads = jax.value_and_grad(loss, has_aux=True)(params, xv, yv)
            return aux, tuple(p - 0.1 * g for p, g in zip(params, grads))

        state = [(jnp.zeros(feats), jnp.asarray(0.0))]

        def jax_step():
            aux, state[0] = jstep(state[0], data, labels)
            return _block(aux[1])

        row.times["jax.jit"] = measure(jax_step)
    return row


def w4_mlp(batch: int = 128, sizes: tuple[int, int, int] = (784, 256, 10)) -> Row:
    import tensorc
    import tensorc.tensor as T

    row = Row(f"W4 MLP {sizes[0]}-{sizes[1]}-{sizes[2]} SGD batch {batch}")
    rng = np.random.default_rng(3)
    data = rng.standard_normal((batch, sizes[0]))
    labels = rng.integers(0, sizes[2], batch)
    init = [rng.standard_normal((sizes[0], sizes[1])) * 0.05, np.zeros(sizes[1]),
            rng.standard_normal((sizes[1], sizes[2])) * 0.05, np.zeros(sizes[2])]
    x, y = T.dmatrix("x"), T.lvector("y")
    params = [tensorc.shared(v.copy()) for v in init]
    w1, b1, w2, b2 = params
    probs = T.nnet.softmax(T.dot(T.tanh(T.dot(x, w1) + b1), w2) + b2)
    loss = -T.mean(T.log(probs)[T.arange(y.shape[0]), y])
    grads = T.grad(loss, params)
    step = tensorc.function([x, y], loss,
                            updates=[(p, p - 0.01 * g) for p, g in zip(params, grads)])
    row.times["tensorc"] = measure(lambda: step(data, labels))
    found = _pytensor()
    if found:
        pytensor, pt = found
        px, py = pt.dmatrix(), pt.lvector()
        pparams = [pytensor.shared(v.copy()) for v in init]
        q1, c1, q2, c2 = pparams
        pprobs = pt.special.softmax(pt.dot(pt.tanh(pt.dot(px, q1) + c1), q2) + c2, axis=-1)
        ploss = -pt.mean(pt.log(pprobs)[pt.arange(py.shape[0]), py])
        pgrads = pytensor.grad(ploss, pparams)
        for mode in ("CVM", None):
            f = pytensor.function([px, py], ploss, mode=mode,
                                  updates=[(p, p - 0.01 * g) for p, g in zip(pparams, pgrads)])
            row.times[f"pytensor {mode or 'default'}"] = measure(lambda: f(data, labels))
    found_jax = _jax()
    if found_jax:
        jax, jnp = found_jax

        def jloss(ps, xv, yv):
            a1, d1, a2, d2 = ps
            logits = jnp.tanh(xv @ a1 + d1) @ a2 + d2
            logp = jax.nn.log_softmax(logits, axis=-1)
            return -jnp.mean(logp[jnp.arange(yv.shape[0]), yv])

        @jax.jit
        def jstep(ps, xv, yv):
            value, gs = jax.value_and_grad(jloss)(ps, xv, yv)
            return value, [p - 0.01 * g for p, g in zip(ps, gs)]

        state = [[jnp.asarray(v) for v in init]]

        def jax_step():
            value, state[0] = jstep(state[0], data, labels)
            return _block(value)

        row.times["jax.jit"] = measure(jax_step)
    return row


def w7_rnn_scan(steps: int = 100, batch: int = 32, sizes: tuple[int, int] = (64, 128)
                ) -> Row:
    """A tanh RNN over `steps` steps (scan), last-state squared error, SGD step."""
    import tensorc
    import tensorc.tensor as T

    inputs, hidden = sizes
    row = Row(f"W7 RNN scan {steps} steps, batch {batch}, {inputs}-{hidden} SGD step")
    rng = np.random.default_rng(5)
    init = [rng.standard_normal((inputs, hidden)) * 0.1,
            rng.standard_normal((hidden, hidden)) * 0.1]
    data = rng.standard_normal((steps, batch, inputs))
    target = rng.standard_normal((batch, hidden))

    def build(lib, tensor, scan, grad, shared, function, **mode):
        x, y = tensor.tensor3(), tensor.dmatrix()
        wx, wh = (shared(v.copy()) for v in init)
        hs, _ = scan(lambda x_t, h: tensor.tanh(tensor.dot(x_t, wx) + tensor.dot(h, wh)),
                     sequences=x, outputs_info=tensor.zeros((batch, hidden)))
        loss = ((hs[-1] - y) ** 2).mean()
        gx, gh = grad(loss, [wx, wh])
        return function([x, y], loss, updates=[(wx, wx - 0.1 * gx), (wh, wh - 0.1 * gh)],
                        **mode)

    step = build(tensorc, T, tensorc.scan, T.grad, tensorc.shared, tensorc.function)
    row.times["tensorc"] = measure(lambda: step(data, target))
    found = _pytensor()
    if found:
        pytensor, pt = found
        pstep = build(pytensor, pt, pytensor.scan, pytensor.grad, pytensor.shared,
                      pytensor.function, mode="CVM")
        row.times["pytensor CVM"] = measure(lambda: pstep(data, target))
    found_jax = _jax()
    if found_jax:
        jax, jnp = found_jax

        def jloss(ps, xs, y):
            def body(h, x_t):
                h = jnp.tanh(x_t @ ps[0] + h @ ps[1])
                return h, None

            h, _ = jax.lax.scan(body, jnp.zeros((batch, hidden)), xs)
            return ((h - y) ** 2).mean()

        @jax.jit
        def jstep(ps, xs, y):
            value, gs = jax.value_and_grad(jloss)(ps, xs, y)
            return value, [p - 0.1 * g for p, g in zip(ps, gs)]

        state = [[jnp.asarray(v) for v in init]]

        def jax_step():
            value, state[0] = jstep(state[0], data, target)
            return _block(value)

        row.times["jax.jit"] = measure(jax_step)
    return row

def w5_call_overhead(n: int) -> Row:
    import tensorc
    import tensorc.tensor as T

    row = Row(f"W5 call overhead x*2, {'scalar' if n == 0 else f'{n}-vector'}")
    x = T.dscalar("x") if n == 0 else T.dvector("x")
    value = np.float64(1.5) if n == 0 else np.ones(n)
    array = np.asarray(value)
    f = tensorc.function([x], x * 2)
    row.times["tensorc"] = measure(lambda: f(array))
    fast = tensorc.function([x], x * 2, trust_input=True)
    row.times["tensorc trust_input"] = measure(lambda: fast(array))
    row.times["numpy"] = measure(lambda: array * 2)
    found = _pytensor()
    if found:
        pytensor, pt = found
        px = pt.dscalar() if n == 0 else pt.dvector()
        for mode in ("CVM", None):
            g = pytensor.function([px], px * 2, mode=mode)
            row.times[f"pytensor {mode or 'default'}"] = measure(lambda: g(array))
    found_jax = _jax()
    if found_jax:
        jax, _ = found_jax
        h = jax.jit(lambda v: v * 2)
        row.times["jax.jit"] = measure(lambda: _block(h(array)))
    return row


_COMPILE_SNIPPETS = {
    "W1": """
        x = T.dvector('x')
        f = tensorc.function([x], T.exp(-x**2) * T.sin(3 * x) + 0.5 * T.tanh(x))
    """,
    "W4": """
        x, y = T.dmatrix('x'), T.lvector('y')
        rng = np.random.default_rng(3)
        params = [tensorc.shared(rng.standard_normal(s)) for s in [(784, 256), 256, (256, 10), 10]]
        w1, b1, w2, b2 = params
        probs = T.nnet.softmax(T.dot(T.tanh(T.dot(x, w1) + b1), w2) + b2)
        loss = -T.mean(T.log(probs)[T.arange(y.shape[0]), y])
        grads = T.grad(loss, params)
        f = tensorc.function([x, y], loss, updates=[(p, p - 0.01 * g) for p, g in zip(params, grads)])
    """,
}


def _fresh_process_seconds(snippet: str, library: str, env: dict[str, str]) -> float:
    prelude = {
        "tensorc": "import tensorc, tensorc.tensor as T",
        "pytensor": "import pytensor as tensorc, pytensor.tensor as T\n"
                    "T.nnet = __import__('types').SimpleNamespace("
                    "softmax=lambda v: T.special.softmax(v, axis=-1))",
    }[library]
    mode_fix = "" if library == "tensorc" else (
        "_orig = tensorc.function\n"
        "tensorc.function = lambda *a, **k: _orig(*a, mode='CVM', **k)\n"
    )
    code = (
        "import time, numpy as np\n" + prelude + "\n" + mode_fix
        + "t0 = time.perf_counter()\n" + textwrap.dedent(snippet)
        + "\nprint(time.perf_counter() - t0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def w6_compile_time(name: str) -> Row:
    row = Row(f"W6 compile {name} (fresh process)")
    snippet = _COMPILE_SNIPPETS[name]
    with tempfile.TemporaryDirectory() as cache:
        env = {"TENSORC_CACHE_DIR": cache}
        row.times["tensorc cold"] = _fresh_process_seconds(snippet, "tensorc", env)
        row.times["tensorc warm"] = statistics.median(
            _fresh_process_seconds(snippet, "tensorc", env) for _ in range(3)
        )
    if _pytensor():
        with tempfile.TemporaryDirectory() as cache:
            env = {"PYTENSOR_FLAGS": f"compiledir={cache}"}
            row.times["pytensor CVM cold"] = _fresh_process_seconds(snippet, "pytensor", env)
            row.times["pytensor CVM warm"] = _fresh_process_seconds(snippet, "pytensor", env)
    row.notes = "seconds for building the function, imports excluded"
    return row


# -- report ------------------------------------------------------------------------


def _format_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} µs"


def report(rows: list[Row]) -> str:
    lines = [
        f"# tensorc benchmarks ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')})",
        "",
        "Median times; `ratio` = tensorc / other (below 1: tensorc faster).",
        "",
        "| workload | system | time | tensorc ratio |",
        "|---|---|---|---|",
    ]
    for row in rows:
        for system, seconds in row.times.items():
            # compile rows compare like with like: cold with cold, warm with warm
            phase = next((p for p in ("cold", "warm") if system.endswith(p)), "")
            ours = row.times.get(f"tensorc {phase}" if phase else "tensorc")
            ratio = "" if system.startswith("tensorc") or not ours else f"{ours / seconds:.2f}"
            lines.append(f"| {row.workload} | {system} | {_format_time(seconds)} | {ratio} |")
        if row.notes:
            lines.append(f"| {row.workload} | _note_ | {row.notes} | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W5")
    parser.add_argument("--out", default=str(HERE / "results.md"))
    args = parser.parse_args()
    big = 10**5 if args.quick else 10**7
    plan: dict[str, list[Callable[[], Row]]] = {
        "W1": [lambda: w1_expression(10**6, "float64"), lambda: w1_expression(10**6, "float32"),
               lambda: w1_expression(big, "float64"), lambda: w1_expression(big, "float32")],
        "W2": [lambda: w2_grad_update(10**6)],
        "W3": [lambda: w3_logistic_regression(400), lambda: w3_logistic_regression(4000)],
        "W4": [lambda: w4_mlp()],
        "W5": [lambda: w5_call_overhead(0), lambda: w5_call_overhead(10)],
        "W6": [lambda: w6_compile_time("W1"), lambda: w6_compile_time("W4")],
        "W7": [lambda: w7_rnn_scan(20 if args.quick else 100)],
    }
    chosen = [w.strip() for w in args.only.split(",") if w.strip()] or list(plan)
    rows = []
    for name in chosen:
        for make in plan[name]:
            row = make()
            rows.append(row)
            print(report([row]).split("\n", 5)[-1], end="", flush=True)
    text = report(rows)
    Path(args.out).write_text(text)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
