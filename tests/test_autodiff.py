"""tc-autodiff and VJP_RULES: every rule against central differences in float64 (at
several random points and shapes, with broadcasting), second derivatives, the
registry, and the pass's contract (no tc.grad left, clear errors).

The per-rule checks run on the reference interpreter; one combined function of all
float64 cases checks the C backend against finite differences with a single compile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

import tensorc
import tensorc.tensor as T
from tensorc import pipeline
from tensorc.autodiff.vjp_rules import VJP_RULES, NonDifferentiable
from tensorc.dialects import tc
from tensorc.errors import LoweringError
from tensorc.frontend.elemwise import node
from tensorc.frontend.variable import Variable
from tensorc.gradient import disconnected_grad, grad, verify_grad, zero_grad

Sampler = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def real(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-1.5, 1.5, shape)


def positive(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def nonzero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def between(low: float, high: float) -> Sampler:
    return lambda rng, shape: rng.uniform(low, high, shape)


@dataclass(frozen=True)
class Case:
    """`fun` of symbolic inputs; one shape per input in each of `shapes`."""

    fun: Callable[..., Variable]
    shapes: tuple[tuple[tuple[int, ...], ...], ...]
    samplers: tuple[Sampler, ...] = (real,)

    def points(self, shapes: tuple[tuple[int, ...], ...], rng: np.random.Generator
               ) -> list[np.ndarray]:
        samplers = self.samplers
        if len(samplers) == 1:
            samplers = samplers * len(shapes)
        return [sample(rng, s) for sample, s in zip(samplers, shapes)]


UNARY_SHAPES = (((3, 4),), ((),))
BINARY_SHAPES = (((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (3,)))


def _slice_node(x: Variable, starts: tuple[int, ...], stops: tuple[int, ...],
                steps: tuple[int, ...], source: Variable) -> Variable:
    attrs = {"starts": starts, "stops": stops, "steps": steps}
    return node("insert_slice", [source, x], x.dtype, x.type.shape, attrs)


CASES: dict[str, Case] = {
    "neg": Case(lambda x: -x, UNARY_SHAPES),
    "abs": Case(lambda x: abs(x), UNARY_SHAPES, (nonzero,)),
    "exp": Case(T.exp, UNARY_SHAPES),
    "log": Case(T.log, UNARY_SHAPES, (positive,)),
    "log1p": Case(T.log1p, UNARY_SHAPES, (positive,)),
    "expm1": Case(T.expm1, UNARY_SHAPES),
    "sqrt": Case(T.sqrt, UNARY_SHAPES, (positive,)),
    "sin": Case(T.sin, UNARY_SHAPES),
    "cos": Case(T.cos, UNARY_SHAPES),
    "tan": Case(T.tan, UNARY_SHAPES, (between(-1.2, 1.2),)),
    "tanh": Case(T.tanh, UNARY_SHAPES),
    "sigmoid": Case(T.sigmoid, UNARY_SHAPES),
    "softplus": Case(T.softplus, UNARY_SHAPES),
    "erf": Case(T.erf, UNARY_SHAPES),
    "piecewise constant": Case(
        lambda x: T.floor(x) + T.ceil(x) + T.round(x) + T.sgn(x) + x // 0.5,
        UNARY_SHAPES, (between(0.55, 0.95),)),
    "add": Case(lambda x, y: x + y, BINARY_SHAPES),
    "sub": Case(lambda x, y: x - y, BINARY_SHAPES),
    "mul": Case(lambda x, y: x * y, BINARY_SHAPES),
    "div": Case(lambda x, y: x / y, BINARY_SHAPES, (real, nonzero)),
    "pow": Case(lambda x, y: x ** y, BINARY_SHAPES, (positive, real)),
    "pow constant": Case(lambda x: x ** 3 + abs(x) ** 0.5, UNARY_SHAPES, (nonzero,)),
    # floor(x / y) stays 1 near these points
    "mod": Case(lambda x, y: x % y, BINARY_SHAPES,
                (between(1.3, 1.9), between(1.0, 1.2))),
    "maximum": Case(T.maximum, BINARY_SHAPES),
    "minimum": Case(T.minimum, BINARY_SHAPES),
    "clip": Case(lambda x: T.clip(x, -0.5, 0.7), UNARY_SHAPES),
    "select": Case(lambda x, y: T.switch(x > y, x * y, x - y), BINARY_SHAPES[:2]),
    "sum": Case(lambda x: x.sum(axis=1) + x.sum(axis=0, keepdims=True).sum(),
                (((3, 4),), ((2, 1),))),
    "sum axes": Case(lambda x: x.sum(axis=(0, 2)) * x.sum(), (((2, 3, 4),),)),
    "mean var std": Case(lambda x: x.mean(axis=0) + x.var(axis=1).sum() + x.std(),
                         (((3, 4),),)),
    "prod": Case(lambda x: x.prod(axis=1) + x.prod(axis=0, keepdims=True).sum(),
                 (((3, 4),), ((5, 2),)), (nonzero,)),
    "max": Case(lambda x: x.max(axis=1) + x.max(), (((3, 4),), ((1, 5),))),
    "max axes": Case(lambda x: x.max(axis=(0, 2), keepdims=True) * 2.0,
                     (((2, 3, 4),),)),
    "min": Case(lambda x: x.min(axis=0) - x.min(), (((3, 4),),)),
    "matmul mm": Case(T.dot, (((3, 4), (4, 2)),)),
    "matmul mv": Case(T.dot, (((3, 4), (4,)),)),
    "matmul vm": Case(T.dot, (((4,), (4, 2)),)),
    "matmul vv": Case(T.dot, (((4,), (4,)),)),
    "dot 3-d": Case(T.dot, (((2, 3, 4), (4, 2)),)),
    "transpose": Case(lambda x: x.transpose(2, 0, 1) * 2.0, (((2, 3, 4),),)),
    "dimshuffle": Case(lambda x, y: x.dimshuffle(0, "x", 1) * y, (((3, 4), (2, 1)),)),
    "reshape": Case(lambda x: x.reshape((2, 6)) * x.flatten().sum(), (((3, 4),),)),
    "slice": Case(lambda x: x[1:, ::2] * 2.0, (((3, 4),), ((4, 5),))),
    "slice negative step": Case(lambda x: x[::-2, 3:0:-1], (((5, 4),),)),
    "slice dynamic bound": Case(lambda x: x[x.shape[0] - 2:], (((4, 3),),)),
    "int index": Case(lambda x: x[1] + x[-1, 2], (((3, 4),),)),
    "gather repeated": Case(lambda x: x[[0, 2, 0, -1]], (((3, 4),),)),
    "gather two indices": Case(lambda x: x[[0, 2, 0], [1, 3, 1]], (((3, 4),),)),
    "gather inner axis": Case(lambda x: x[:, [1, 1, 3]], (((3, 4),),)),
    "concatenate": Case(lambda x, y: T.concatenate([x, y, x], axis=0),
                        (((2, 3), (4, 3)),)),
    "concatenate axis 1": Case(lambda x, y: T.concatenate([x, y], axis=1),
                               (((2, 3), (2, 1)),)),
    "stack": Case(lambda x, y: T.stack([x, y * 2.0]), (((3,), (3,)),)),
    "insert_slice": Case(
        lambda x, s: _slice_node(x, (1, 0), (2**62, 2**62), (2, 1), s) * x,
        (((5, 3), (2, 3)),)),
    "scatter_add": Case(
        lambda x, u: node("scatter_add", [u, x, T.constant(np.array([0, 2, 0]))],
                          x.dtype, x.type.shape) * x,
        (((3, 4), (3, 4)),)),
    "shape value": Case(lambda x: x * T.cast(x.shape[0], "float64"), (((3, 4),),)),
    "fan-out": Case(lambda x: x * x * T.sin(x) + x, UNARY_SHAPES),
    "softmax": Case(lambda x: T.nnet.softmax(x), (((3, 4),),)),
    "log_softmax": Case(lambda x: T.nnet.log_softmax(x), (((3, 4),),)),
    "logsumexp": Case(lambda x: T.nnet.logsumexp(x, axis=1), (((3, 4),),)),
    "layer": Case(lambda x, w, b: T.tanh(T.dot(x, w) + b), (((5, 3), (3, 2), (2,)),)),
}

SECOND_ORDER: dict[str, Case] = {
    "pow": Case(lambda x: grad((x ** 3).sum(), x), UNARY_SHAPES),
    "sin mul": Case(lambda x: grad((T.sin(x) * x).sum(), x), UNARY_SHAPES),
    "sigmoid softplus tanh": Case(
        lambda x: grad((T.sigmoid(x) + T.softplus(x) * T.tanh(x)).sum(), x),
        UNARY_SHAPES),
    "gather": Case(lambda x: grad((x[[0, 2, 0]] ** 2).sum(), x), (((3, 4),),)),
    "slice": Case(lambda x: grad((x[1:, ::2] ** 3).sum(), x), (((3, 4),),)),
    "matmul": Case(lambda x: grad((T.dot(x, x.T) ** 2).sum(), x), (((3, 2),),)),
    "max": Case(lambda x: grad(x.max(axis=1).sum() * x.sum(), x), (((3, 4),),)),
    "prod": Case(lambda x: grad(x.prod(axis=0).sum(), x), (((3, 2),),), (nonzero,)),
    "softmax": Case(lambda x: grad(T.nnet.softmax(x)[:, 0].sum(), x), (((2, 3),),)),
    "div broadcast": Case(lambda x, y: grad((x / y).sum(), y), (((3, 4), (4,)),),
                          (real, nonzero)),
}


def _case_ids(cases: dict[str, Case]) -> list[tuple[str, int]]:
    return [(name, i) for name, case in cases.items() for i in range(len(case.shapes))]


@pytest.mark.parametrize("name,shape_set", _case_ids(CASES))
def test_vjp_matches_finite_differences(name: str, shape_set: int) -> None:
    case = CASES[name]
    rng = np.random.default_rng(abs(hash((name, shape_set))) % 2**32)
    for _ in range(2):  # two random points
        points = case.points(case.shapes[shape_set], rng)
        check = verify_grad(case.fun, points, rng=rng, n_tests=1, mode="REFERENCE",
                            abs_tol=1e-6, rel_tol=1e-6)
        assert check.max_rel_error < 1e-6


@pytest.mark.parametrize("name,shape_set", _case_ids(SECOND_ORDER))
def test_second_derivatives_match_finite_differences(name: str, shape_set: int) -> None:
    case = SECOND_ORDER[name]
    rng = np.random.default_rng(7)
    points = case.points(case.shapes[shape_set], rng)
    verify_grad(case.fun, points, rng=rng, n_tests=1, mode="REFERENCE")


CHUNK = 4
"""Cases per compiled function: C compile time grows faster than linearly."""


@pytest.mark.parametrize("chunk", range(0, len(CASES), CHUNK))
def test_compiled_gradients_match_finite_differences(chunk: int) -> None:
    """The C backend on a few cases at a time, one compile per check."""
    names = list(CASES)[chunk:chunk + CHUNK]
    rng = np.random.default_rng(11)
    points, arity = [], []
    for name in names:
        case = CASES[name]
        case_points = case.points(case.shapes[-1], rng)
        points += case_points
        arity.append(len(case_points))

    def combined(*inputs: Variable) -> Variable:
        pieces, start = [], 0
        for name, n in zip(names, arity):
            out = CASES[name].fun(*inputs[start:start + n])
            pieces.append(T.flatten(out) if out.ndim != 1 else out)
            start += n
        return T.concatenate(pieces)

    verify_grad(combined, points, rng=rng, n_tests=1, mode="FAST_RUN")


def test_cast_between_float_widths(mode: str) -> None:
    def fun(x: Variable) -> Variable:
        return T.cast(x, "float64") ** 2 * 3.0

    points = [np.random.default_rng(1).uniform(-1, 1, (3, 4)).astype(np.float32)]
    verify_grad(fun, points, mode=mode)
    x = T.fmatrix("x")
    g = grad(T.cast(x, "float64").sum(), x)
    assert g.dtype == "float32"
    np.testing.assert_array_equal(tensorc.function([x], g, mode=mode)(points[0]),
                                  np.ones((3, 4), np.float32))


def test_zero_gradient_ops_give_exact_zeros(mode: str) -> None:
    x = T.dvector("x")
    cost = (T.floor(x) + T.round(x) + T.sgn(x) + x // 2.0 + zero_grad(x)).sum()
    f = tensorc.function([x], grad(cost, x), mode=mode)
    np.testing.assert_array_equal(f(np.array([0.3, -1.7, 2.5])), np.zeros(3))


def test_max_sends_the_gradient_to_the_first_extremum(mode: str) -> None:
    x = T.dmatrix("x")
    outputs = [grad(x.max(axis=1).sum(), x), grad(x.min(), x)]
    f = tensorc.function([x], outputs, mode=mode)
    value = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    gmax, gmin = f(value)
    np.testing.assert_array_equal(gmax, [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(gmin, [[0, 0, 0], [0, 0, 1]])


def test_prod_gradient_with_zeros(mode: str) -> None:
    x = T.dmatrix("x")
    f = tensorc.function([x], grad(x.prod(axis=1).sum(), x), mode=mode)
    value = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 4.0]])
    np.testing.assert_array_equal(f(value), [[0, 6, 0], [0, 0, 0], [8, 4, 2]])


def test_stop_gradient(mode: str) -> None:
    x, y = T.dvectors("x", "y")
    cost = (disconnected_grad(x * y) * x + y).sum()
    gx, gy = grad(cost, [x, y])
    f = tensorc.function([x, y], [gx, gy], mode=mode)
    a, b = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    got_x, got_y = f(a, b)
    np.testing.assert_array_equal(got_x, a * b)
    np.testing.assert_array_equal(got_y, np.ones(2))
    ops = {op.name for op in f.maker.module.walk()}
    assert "tc.stop_gradient" not in ops and "tc.grad" not in ops


# ---------------------------------------------------------------------------------
# The registry and the pass contract
# ---------------------------------------------------------------------------------


def test_every_tc_op_has_a_rule_or_is_declared_non_differentiable() -> None:
    missing = sorted(op.name for op in tc.ALL_OPS if op not in VJP_RULES)
    assert not missing, f"VJP_RULES lacks {missing}"
    extra = [key for key in VJP_RULES if key not in tc.ALL_OPS]
    assert not extra
    declared = {op.name for op, rule in VJP_RULES.items()
                if isinstance(rule, NonDifferentiable)}
    assert {"tc.eq", "tc.argmax", "tc.dim", "tc.floor", "tc.stop_gradient"} <= declared
    assert "tc.exp" not in declared and "tc.gather" not in declared


def _expand(text: str) -> ModuleOp:
    ctx = pipeline.make_context()
    module = Parser(ctx, text).parse_module()
    pipeline.build("tc-autodiff").apply(ctx, module)
    module.verify()
    return module


GRAD_IR = """
func.func @main(%x: tensor<?xf64>, %y: tensor<?xf64>)
    -> (tensor<?xf64>, tensor<?xf64>) {
  %m = tc.mul %x, %x : tensor<?xf64>
  %e = tc.exp %m : tensor<?xf64>
  %c = tc.sum %e axes = array<i64: 0> : tensor<?xf64> -> tensor<f64>
  %gx = tc.grad %c wrt %x : tensor<f64>, tensor<?xf64> -> tensor<?xf64>
  %gy = tc.grad %c wrt %y : tensor<f64>, tensor<?xf64> -> tensor<?xf64>
  func.return %gx, %gy : tensor<?xf64>, tensor<?xf64>
}
"""


def test_pass_expands_every_grad_and_zeros_disconnected_wrt() -> None:
    from tensorc.runtime.interp import run_function

    module = _expand(GRAD_IR)
    names = [op.name for op in module.walk()]
    assert "tc.grad" not in names
    x, y = np.array([0.5, -1.0]), np.array([1.0, 2.0, 3.0])
    gx, gy = run_function(module, [x, y])
    np.testing.assert_allclose(gx, 2 * x * np.exp(x * x), rtol=1e-15)
    np.testing.assert_array_equal(gy, np.zeros(3))


def test_missing_rule_names_op_and_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(VJP_RULES, tc.ExpOp)
    x = T.dvector("x")
    exp = T.exp(x)
    where = rf"tc\.exp \(created at .*test_autodiff\.py:{exp.loc.line}\)"
    with pytest.raises(LoweringError, match=where):
        tensorc.function([x], grad(exp.sum(), x), mode="REFERENCE")


def test_gradient_of_gradient() -> None:
    x = T.dscalar("x")
    g = grad(x ** 3, x)
    h = grad(g, x)
    f = tensorc.function([x], [g, h], mode="REFERENCE")
    assert [float(v) for v in f(2.0)] == [12.0, 12.0]
