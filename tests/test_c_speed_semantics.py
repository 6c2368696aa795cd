"""The fast C code keeps numpy's semantics: math vectorized through glibc's libmvec
stays within a few ulp of numpy, with NaN, Inf and signed zeros as numpy has
them; vectorized and threaded reductions agree with numpy (NaN-propagating
max/min included); and results do not depend on whether loops run on threads."""

from __future__ import annotations

import ctypes
import math
import platform
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from xdsl.parser import Parser

import tensorc
import tensorc.tensor as T
from tensorc.pipeline import make_context
from tensorc.runtime.cpu import CpuKernel, compile_module

MAX_ULP = 4
"""libmvec's documented bound; numpy's own functions are within 1-2 ulp."""

_erf = np.vectorize(math.erf, otypes=[np.float64])

UNARY: dict[str, tuple[Callable[[np.ndarray], np.ndarray], tuple[float, float]]] = {
    "exp": (np.exp, (-700.0, 700.0)),
    "exp2": (np.exp2, (-1000.0, 1000.0)),
    "expm1": (np.expm1, (-50.0, 700.0)),
    "log": (np.log, (1e-300, 1e300)),
    "log2": (np.log2, (1e-300, 1e300)),
    "log10": (np.log10, (1e-300, 1e300)),
    "log1p": (np.log1p, (-0.999, 1e300)),
    "sin": (np.sin, (-1e4, 1e4)),
    "cos": (np.cos, (-1e4, 1e4)),
    "tan": (np.tan, (-1e4, 1e4)),
    "asin": (np.arcsin, (-1.0, 1.0)),
    "acos": (np.arccos, (-1.0, 1.0)),
    "atan": (np.arctan, (-1e6, 1e6)),
    "sinh": (np.sinh, (-700.0, 700.0)),
    "cosh": (np.cosh, (-700.0, 700.0)),
    "tanh": (np.tanh, (-30.0, 30.0)),
    "asinh": (np.arcsinh, (-1e6, 1e6)),
    "acosh": (np.arccosh, (1.0, 1e6)),
    "atanh": (np.arctanh, (-1.0, 1.0)),
    "erf": (_erf, (-6.0, 6.0)),
    "cbrt": (np.cbrt, (-1e300, 1e300)),
}
"""math op -> (numpy twin, float64 domain of the random inputs)."""

BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "powf": np.power,
    "atan2": np.arctan2,
}
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 1e-310, 1.0, -1.0, 1e308]
MLIR = {"float32": "f32", "float64": "f64"}
N = 4099  # vector bodies and a scalar tail


def parse(text: str):
    module = Parser(make_context(), text).parse_module()
    module.verify()
    return module


def math_module(names: list[str], arities: list[int], t: str) -> str:
    """One loop computing every op on its own inputs into its own output."""
    inputs = [(name, k) for name, arity in zip(names, arities) for k in range(arity)]
    args = ", ".join(f"%in_{n}_{k}: memref<?x{t}>" for n, k in inputs)
    results = ", ".join(f"memref<?x{t}>" for _ in names)
    lines = [
        f"func.func @main({args}) -> ({results}) {{",
        "  %c0 = arith.constant 0 : index",
        "  %c1 = arith.constant 1 : index",
        f"  %n = memref.dim %in_{names[0]}_0, %c0 : memref<?x{t}>",
        *(f"  %out_{n} = memref.alloc(%n) : memref<?x{t}>" for n in names),
        "  scf.for %i = %c0 to %n step %c1 {",
    ]
    for name, arity in zip(names, arities):
        loaded = [f"%x_{name}_{k}" for k in range(arity)]
        lines += [
            f"    {v} = memref.load %in_{name}_{k}[%i] : memref<?x{t}>"
            for k, v in enumerate(loaded)
        ]
        lines.append(f"    %y_{name} = math.{name} {', '.join(loaded)} : {t}")
        lines.append(f"    memref.store %y_{name}, %out_{name}[%i] : memref<?x{t}>")
    lines.append("  }")
    lines.append(f"  func.return {', '.join(f'%out_{n}' for n in names)} : {results}")
    lines.append("}")
    return "\n".join(lines)


def random_inputs(
    rng: np.random.Generator, domain: tuple[float, float], dtype: str
) -> np.ndarray:
    """Log-uniform over wide domains, uniform over narrow ones, plus specials."""
    info = np.finfo(dtype)
    low, high = (
        max(domain[0], -float(info.max) / 2),
        min(domain[1], float(info.max) / 2),
    )
    count = N - len(SPECIALS)
    if low > 0 and high / low > 1e6:
        logs = rng.uniform(np.log(max(low, float(info.tiny))), np.log(high), count)
        values = np.exp(logs)
    elif high - low > 1e5:
        magnitude = np.exp(rng.uniform(-5.0, np.log(high), count))
        values = magnitude * rng.choice([-1.0, 1.0], count)
    else:
        values = rng.uniform(low, high, count)
    with np.errstate(over="ignore"):
        mixed = np.concatenate([values, np.array(SPECIALS)]).astype(dtype)
    return mixed[rng.permutation(N)]


def compare(name: str, got: np.ndarray, want: np.ndarray) -> list[str]:
    """NaN where numpy has NaN, the same infinities, zeros of the same sign, and
    finite values within MAX_ULP."""
    problems: list[str] = []
    nan_got, nan_want = np.isnan(got), np.isnan(want)
    if not np.array_equal(nan_got, nan_want):
        at = np.flatnonzero(nan_got != nan_want)[:3]
        problems.append(f"{name}: NaN at {at}: got {got[at]}, numpy {want[at]}")
    inf = np.isinf(want) | np.isinf(got)
    if not np.array_equal(got[inf], want[inf]):
        problems.append(f"{name}: infinities {got[inf][:4]} vs numpy {want[inf][:4]}")
    zero = want == 0
    if not np.array_equal(np.signbit(got[zero]), np.signbit(want[zero])):
        problems.append(f"{name}: signs of zeros differ")
    finite = np.isfinite(want) & np.isfinite(got)
    wide_got, wide_want = (
        got[finite].astype(np.float64),
        want[finite].astype(np.float64),
    )
    spacing = np.spacing(np.abs(want[finite])).astype(np.float64)
    ulp = np.abs(wide_got - wide_want) / spacing
    if ulp.size and ulp.max() > MAX_ULP:
        worst = int(np.argmax(ulp))
        problems.append(
            f"{name}: {ulp.max():.1f} ulp at {want[finite][worst]!r} "
            f"(got {got[finite][worst]!r})"
        )
    return problems


def libmvec_available() -> bool:
    libc, version = platform.libc_ver()
    if platform.machine() != "x86_64" or libc != "glibc":
        return False
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) >= (2, 35)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vectorized_math_agrees_with_numpy(dtype: str) -> None:
    rng = np.random.default_rng(7)
    cases = [
        (name, twin, [random_inputs(rng, domain, dtype)])
        for name, (twin, domain) in UNARY.items()
    ]
    bases = np.abs(random_inputs(rng, (1e-3, 1e3), dtype))
    cases.append(
        ("powf", BINARY["powf"], [bases, random_inputs(rng, (-30, 30), dtype)])
    )
    points = [random_inputs(rng, (-1e3, 1e3), dtype) for _ in range(2)]
    cases.append(("atan2", BINARY["atan2"], points))
    names = [name for name, _, _ in cases]
    arities = [len(inputs) for _, _, inputs in cases]
    kernel = compile_module(parse(math_module(names, arities, MLIR[dtype])))
    outputs = kernel([x for _, _, inputs in cases for x in inputs])
    problems: list[str] = []
    with np.errstate(all="ignore"):
        for (name, twin, inputs), got in zip(cases, outputs, strict=True):
            want = np.asarray(twin(*inputs)).astype(dtype)  # numpy's own loops
            problems += compare(f"{dtype} {name}", got, want)
    assert not problems, "\n".join(problems)
    if libmvec_available():
        symbols = set(
            re.findall(rb"_ZGV[bcde]N\d+vv?_(\w+?)\x00", kernel_bytes(kernel))
        )
        suffix = b"f" if dtype == "float32" else b""
        for name in (b"exp", b"sin", b"tanh", b"log1p", b"pow", b"atan2"):
            assert name + suffix in symbols, f"{name!r} not vectorized: {symbols}"


def kernel_bytes(kernel: CpuKernel) -> bytes:
    return kernel.library_path.read_bytes()


# region reductions


def big(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reductions_agree_with_numpy(dtype: str) -> None:
    x = T.tensor(dtype, shape=(None, None), name="x")
    v = T.tensor(dtype, shape=(None,), name="v")
    f = tensorc.function(
        [x, v],
        [
            x.sum(),
            x.sum(axis=0),
            x.sum(axis=1),
            x.max(),
            x.min(axis=0),
            v.max(),
            v.min(),
            (v * v).sum(),
            v.prod(),
        ],
    )
    rng = np.random.default_rng(3)
    tolerance = 1e-12 if dtype == "float64" else 1e-5
    for rows, cols in ((3, 5), (1000, 300), (2, 200_000)):
        xv, vv = big(rng, dtype, (rows, cols)), big(rng, dtype, (rows * cols,))
        vv[:50] = 1.0 + vv[:50] / 100  # a finite product
        vv[50:] = vv[50:] / np.abs(vv[50:]) if rows == 3 else vv[50:]
        got = f(xv, vv)
        scale = np.abs(xv).sum()
        np.testing.assert_allclose(got[0], xv.sum(), atol=tolerance * scale)
        np.testing.assert_allclose(got[1], xv.sum(axis=0), atol=tolerance * scale)
        np.testing.assert_allclose(got[2], xv.sum(axis=1), atol=tolerance * scale)
        assert got[3] == xv.max()
        np.testing.assert_array_equal(got[4], xv.min(axis=0))
        assert got[5] == vv.max() and got[6] == vv.min()
        np.testing.assert_allclose(got[7], (vv * vv).sum(), rtol=tolerance * 10)
        np.testing.assert_allclose(got[8], vv.prod(), rtol=tolerance * 100)


def test_max_and_min_propagate_nan_and_order_signed_zeros() -> None:
    v = T.dvector("v")
    f = tensorc.function([v], [v.max(), v.min(), v.sum()])
    rng = np.random.default_rng(4)
    for size in (7, 100_003):
        for where in (0, size // 2, size - 1):
            values = rng.standard_normal(size)
            values[where] = np.nan
            assert all(np.isnan(r) for r in f(values))
        zeros = np.where(np.arange(size) % 2 == 0, -0.0, 0.0)
        top, bottom, _ = f(zeros)
        assert top == 0 and not np.signbit(top)
        assert bottom == 0 and np.signbit(bottom)
        values = rng.standard_normal(size)
        values[size // 3] = np.inf
        values[size // 5] = -np.inf
        top, bottom, total = f(values)
        assert (top, bottom) == (np.inf, -np.inf) and np.isnan(total)


# endregion
# region threads


@contextmanager
def threads(kernel: CpuKernel, enabled: bool) -> Iterator[None]:
    switch = ctypes.CDLL(str(kernel.library_path)).tensorc_set_threads
    switch.argtypes = (ctypes.c_int,)
    switch(int(enabled))
    try:
        yield
    finally:
        switch(1)


def test_threads_on_and_off_give_identical_results() -> None:
    """Elementwise loops split by rows; reductions cut into a fixed number of
    chunks whatever the thread count: bitwise the same results."""
    x = T.dmatrix("x")
    y = T.exp(-(x**2)) * T.sin(3 * x) + 0.5 * T.tanh(x)
    f = tensorc.function(
        [x], [y, y.sum(), y.sum(axis=0), y.max(axis=1), (x * x).sum(), x.min()]
    )
    kernel = f._compiled.kernel
    assert kernel is not None
    rng = np.random.default_rng(5)
    for shape in ((1000, 1000), (3, 400_000), (400_000, 3), (17, 19)):
        value = rng.standard_normal(shape)
        value[1, 2] = np.nan if shape == (17, 19) else value[1, 2]
        with threads(kernel, True):
            on = f(value)
            again = f(value)
        with threads(kernel, False):
            off = f(value)
        for a, b, c in zip(on, again, off, strict=True):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)
        want = np.exp(-(value**2)) * np.sin(3 * value) + 0.5 * np.tanh(value)
        np.testing.assert_allclose(on[0], want, rtol=1e-14, atol=1e-300)


def test_expression_is_one_threaded_vector_loop() -> None:
    x = T.dvector("x")
    f = tensorc.function([x], T.exp(-(x**2)) * T.sin(3 * x) + 0.5 * T.tanh(x))
    source = f.source
    assert source is not None
    body = source[source.index("\nTC_NEST ") :]  # the outlined loop nests, the entry
    # one loop nest, printed twice: threaded, and a serial copy for small calls
    assert body.count("for (") == 2
    assert body.count("TC_OMP(omp for simd schedule(static) nowait)") == 1
    assert body.count("TC_OMP(omp simd)") == 1


# endregion


# region contiguous fast path

SUBBLOCK = """
func.func @main(%a: memref<?x?xf64>, %b: memref<?x?xf64>) -> memref<?x?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %a, %c0 : memref<?x?xf64>
  %m = memref.dim %a, %c1 : memref<?x?xf64>
  %out = memref.alloc(%n, %m) : memref<?x?xf64>
  scf.for %i = %c0 to %n step %c1 {
    scf.for %j = %c0 to %m step %c1 {
      %x = memref.load %a[%i, %j] : memref<?x?xf64>
      %y = memref.load %b[%i, %j] : memref<?x?xf64>
      %s = arith.addf %x, %y : f64
      memref.store %s, %out[%i, %j] : memref<?x?xf64>
    }
  }
  func.return %out : memref<?x?xf64>
}
"""


def test_a_nest_over_contiguous_buffers_is_one_loop() -> None:
    """Dims known equal (asserted by the elementwise op): one flat loop only
    (printed twice: threaded, and a serial copy for small calls)."""
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = tensorc.function([x, y], T.tanh(x) * y + 1.0)
    source = f.source
    assert source is not None
    body = source[source.index("\nTC_NEST ") :]
    assert body.count("for (") == 2 and re.search(r"x_\d+\[k_\d+\]", body)
    rng = np.random.default_rng(6)
    for shape in ((5, 3), (100_000, 2), (2, 100_000), (0, 4), (4, 0)):
        xv, yv = rng.standard_normal(shape), rng.standard_normal(shape)
        np.testing.assert_allclose(f(xv, yv), np.tanh(xv) * yv + 1.0, rtol=1e-15)


def test_the_flat_loop_runs_only_when_the_inner_dims_match() -> None:
    """%b's dims are not known to equal the loop's: a run-time check picks the
    flat loop or the nest (which reads %b's top-left block)."""
    kernel = compile_module(parse(SUBBLOCK))
    source = kernel.source[kernel.source.index("\nTC_NEST ") :]
    assert re.search(r"if \(b_\d+_d1 == a_\d+_d1\) \{", source)
    a = np.arange(12.0).reshape(3, 4)
    for b in (np.ones((3, 4)), np.arange(35.0).reshape(5, 7)):
        (got,) = kernel([a, b])
        np.testing.assert_array_equal(got, a + b[:3, :4])


# endregion


def test_loops_of_small_static_work_have_no_threaded_copy() -> None:
    """Trip counts known at compile time and less work than the threading
    threshold: one plain loop, no OpenMP region (less C to compile)."""
    from tensorc.lowering.cpu import c_loops, c_prelude

    assert f"#define TENSORC_PARALLEL_WORK {c_loops.PARALLEL_WORK}" in (
        c_prelude.PARALLEL_MACROS
    )
    small = T.TensorType("float64", shape=(4, 8))("small")
    f = tensorc.function([small], T.exp(small) * 2)
    source = f.source
    assert source is not None
    body = source[source.index("\nTC_NEST ") :]
    assert "omp parallel" not in body and body.count("for (") == 1
    value = np.arange(32.0).reshape(4, 8) / 10
    np.testing.assert_allclose(f(value), np.exp(value) * 2, rtol=1e-15)
