"""Symbolic differentiation for users (Theano's `theano.gradient`): `grad`,
`jacobian`, `hessian`, the stop-gradient helpers `disconnected_grad`/`zero_grad`,
and numerical checks (`numerical_gradient`, `verify_grad`).

`grad` only validates the request and records it: each result is a `grad` node (a
`tc.grad` placeholder once traced) that the tc-autodiff pass expands when the
function is compiled. No derivative math happens here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorc.errors import DisconnectedInputError, DTypeError, ShapeError, TensorcError
from tensorc.frontend.elemwise import as_variable, broadcast_to, cast, node
from tensorc.frontend.function import rebuild
from tensorc.frontend.graph_key import walk
from tensorc.frontend.variable import Variable, user_location

FLOAT_DTYPES = ("float16", "float32", "float64")

__all__ = [
    "GradCheck", "GradientError", "disconnected_grad", "grad", "grad_clip", "hessian",
    "jacobian",
    "numerical_gradient", "stop_gradient", "verify_grad", "zero_grad",
]


class GradientError(TensorcError, AssertionError):
    """verify_grad found an analytic gradient that disagrees with finite differences."""


def _shape_text(var: Variable) -> str:
    dims = ", ".join("?" if d is None else str(d) for d in var.type.shape)
    return f"({dims}{',' if var.ndim == 1 else ''})"


# ---------------------------------------------------------------------------------
# Stop-gradient
# ---------------------------------------------------------------------------------


def disconnected_grad(x: Any) -> Variable:
    """`x`, but no gradient flows back through it; an input that reaches the cost
    only through it is disconnected (Theano's disconnected_grad)."""
    x = as_variable(x)
    return node("stop_gradient", [x], x.dtype, x.type.shape)


def zero_grad(x: Any) -> Variable:
    """`x`, but its gradient is zero; inputs behind it stay connected (zeros, no
    DisconnectedInputError) (Theano's zero_grad)."""
    x = as_variable(x)
    return node("stop_gradient", [x], x.dtype, x.type.shape, {"connected": True})


stop_gradient = disconnected_grad


def grad_clip(x: Any, lower_bound: Any, upper_bound: Any) -> Variable:
    """Theano's grad_clip (identity forward, clipped gradient backward) is not
    available: clipping the cotangent is not linear in it, so no composition of
    tc ops has that gradient. Raises NotImplementedInTensorc."""
    from tensorc.tensor.unimplemented import unimplemented

    return unimplemented("theano.gradient.grad_clip")(x, lower_bound, upper_bound)


# ---------------------------------------------------------------------------------
# grad
# ---------------------------------------------------------------------------------


def _check_cost(cost: Variable) -> None:
    if cost.ndim != 0:
        raise ShapeError(
            f"grad: the cost must be a scalar (0-d), got {cost!r} of shape "
            f"{_shape_text(cost)} (created at {cost.loc}); reduce it first, e.g. "
            "cost.sum(), or use tensorc.gradient.jacobian"
        )
    if cost.dtype not in FLOAT_DTYPES:
        raise DTypeError(
            f"grad: the cost must be a float scalar, got {cost!r} of dtype "
            f"{cost.dtype} (created at {cost.loc})"
        )


def _wrt_list(wrt: Any) -> list[Variable]:
    values = [wrt] if isinstance(wrt, Variable) else wrt
    if not isinstance(values, list | tuple) or not values:
        raise TypeError(f"grad: wrt must be a variable or a non-empty list of them, "
                        f"got {wrt!r}")
    for w in values:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt entries must be symbolic variables, got {w!r}")
        if w.dtype not in FLOAT_DTYPES:
            raise DTypeError(
                f"grad: cannot differentiate with respect to {w!r} of dtype {w.dtype} "
                f"(created at {w.loc}): integer and boolean values carry no gradient"
            )
    return list(values)


def _with_constants(cost: Variable, consider_constant: Sequence[Any]) -> Variable:
    """`cost` with every variable of `consider_constant` behind a stop-gradient."""
    if not isinstance(consider_constant, list | tuple):
        raise TypeError("grad: consider_constant must be a list of variables")
    for c in consider_constant:
        if not isinstance(c, Variable):
            raise TypeError(f"grad: consider_constant entries must be variables, "
                            f"got {c!r}")
    replace = {id(c): disconnected_grad(c) for c in consider_constant}
    return rebuild([cost], replace)[0]


def connected_variables(cost: Variable) -> set[int]:
    """ids of the variables `cost` depends on through float values, not passing a
    disconnected stop-gradient."""
    seen: set[int] = set()
    stack = [cost]
    while stack:
        var = stack.pop()
        if id(var) in seen or var.dtype not in FLOAT_DTYPES:
            continue
        seen.add(id(var))
        if var.op == "stop_gradient" and not var.attrs.get("connected"):
            continue
        stack.extend(var.inputs)
    return seen


def _disconnected(cost: Variable, w: Variable, policy: str, zeros: bool) -> Any:
    message = (
        f"grad: the cost {cost!r} (created at {cost.loc}) does not depend on {w!r} "
        f"({w.type}, created at {w.loc}) through differentiable operations; pass "
        "disconnected_inputs='ignore' or 'warn' to get a zero gradient"
    )
    if policy == "raise":
        raise DisconnectedInputError(message)
    if policy == "warn":
        warnings.warn(message, stacklevel=4)
    if not zeros:
        return None
    from tensorc.frontend.shape_ops import zeros_like

    return zeros_like(w)


def grad(
    cost: Any,
    wrt: Any,
    consider_constant: Sequence[Any] | None = None,
    disconnected_inputs: str = "raise",
    add_names: bool = True,
    known_grads: Any = None,
    return_disconnected: str = "zero",
) -> Any:
    """Symbolic d(cost)/d(wrt) (Theano's T.grad): `wrt` is a variable (returns one
    gradient) or a list of variables (returns a list). The cost must be a float
    scalar; `consider_constant` variables are treated as constants. A wrt that the
    cost does not depend on raises DisconnectedInputError, warns (`"warn"`) or is
    silently zero (`"ignore"`); with return_disconnected="None" it gives None.

    `known_grads` maps variables to their (known) gradients, as in Theano: the
    gradient of such a variable is the given one, whatever else depends on it,
    and it is propagated back to `wrt` with the cost's (`cost` may then be None).
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"grad: disconnected_inputs must be 'raise', 'warn' or "
                         f"'ignore', got {disconnected_inputs!r}")
    if return_disconnected not in ("zero", "None"):
        raise ValueError(f"grad: return_disconnected must be 'zero' or 'None', got "
                         f"{return_disconnected!r}")
    values = _wrt_list(wrt)
    known = _known_pairs(known_grads)
    if cost is None and not known:
        raise TypeError("grad: cost is None and no known_grads are given: there is "
                        f"nothing to differentiate (at {user_location()})")
    if cost is not None:
        cost = as_variable(cost)
        _check_cost(cost)
    objectives = _Objectives(cost, known, consider_constant or [])
    grads = []
    for w in values:
        given = next((g for v, g in known if v is w), None)
        if given is not None:  # Theano: a known gradient is the gradient
            grads.append(broadcast_to(given, w.type.shape, [w]))
            continue
        objective = objectives.for_wrt(w)
        if id(w) not in connected_variables(objective):
            grads.append(_disconnected(objective, w, disconnected_inputs,
                                       return_disconnected == "zero"))
            continue
        g = node("grad", [objective, w], w.dtype, w.type.shape)
        if add_names and objective.name and w.name:
            g.name = f"(d{objective.name}/d{w.name})"
        grads.append(g)
    return grads[0] if isinstance(wrt, Variable) else grads


def _known_pairs(known_grads: Any) -> list[tuple[Variable, Variable]]:
    """known_grads as (variable, gradient) pairs, each gradient a float tensor
    of the variable's dtype (when it is a float) that fits its shape."""
    if known_grads is None:
        return []
    items = known_grads.items() if isinstance(known_grads, dict) else known_grads
    pairs = []
    for entry in items:
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise TypeError("grad: known_grads must be a dict {variable: gradient} "
                            f"(at {user_location()})")
        var, g = entry
        if not isinstance(var, Variable):
            raise TypeError(f"grad: known_grads keys must be symbolic variables, got "
                            f"{var!r} (at {user_location()})")
        g = as_variable(g)
        if g.dtype not in FLOAT_DTYPES:
            raise DTypeError(f"grad: known_grads[{var!r}] must be a float tensor, got "
                             f"dtype {g.dtype} (at {user_location()})")
        if var.dtype in FLOAT_DTYPES:
            g = cast(g, var.dtype)
        padded = (1,) * (var.ndim - g.ndim) + g.type.shape
        fits = g.ndim <= var.ndim and all(
            d_g == 1 or d_g == d_v for d_g, d_v in zip(padded, var.type.shape))
        if not fits:
            raise ShapeError(
                f"grad: known_grads[{var!r}] has shape {_shape_text(g)}, which does "
                f"not fit {var!r} of shape {_shape_text(var)} (created at {var.loc}); "
                f"dims must be equal or 1 (at {user_location()})")
        pairs.append((var, g))
    return pairs


class _Objectives:
    """Scalar costs whose gradient with respect to a wrt is Theano's gradient of
    `cost` with `known` gradients: cost + sum(v * stop_gradient(g)) over the known
    pairs, where in each term the other known variables sit behind stop-gradients
    (their gradients are given, not computed from what uses them)."""

    def __init__(self, cost: Variable | None, known: list[tuple[Variable, Variable]],
                 consider_constant: Sequence[Any]):
        self.cost, self.known, self.consider_constant = cost, known, consider_constant
        self.cut = {id(v): disconnected_grad(v) for v, _ in known}
        self.shared: Variable | None = None

    def for_wrt(self, w: Variable) -> Variable:
        """The objective for `w`; one for all wrt that no known variable feeds
        (rebuilding the terms copies nodes below the cuts, so a wrt there needs
        an objective that keeps it as is)."""
        if any(id(v) in self.cut for v in walk([w]) if v is not w):
            return self._build(w)
        if self.shared is None:
            self.shared = self._build(None)
        return self.shared

    def _build(self, keep: Variable | None) -> Variable:
        from tensorc.frontend.reduce import sum as tensor_sum

        kept = {} if keep is None else {id(keep): keep}
        terms = []
        if self.cost is not None:
            terms.append(rebuild([self.cost], {**self.cut, **kept})[0])
        for v, g in self.known:
            others = {k: c for k, c in self.cut.items() if k != id(v)}
            term = rebuild([v], {**others, **kept})[0] * disconnected_grad(g)
            terms.append(tensor_sum(term))
        objective = terms[0]
        for term in terms[1:]:
            objective = objective + term
        if self.consider_constant:
            objective = _with_constants(objective, self.consider_constant)
        return objective


# ---------------------------------------------------------------------------------
# Jacobian and Hessian (a gradient per element: unrolled, or a scan)
# ---------------------------------------------------------------------------------


UNROLLED_JACOBIAN_ROWS = 16
"""A Jacobian of at most this many rows (a static count) is one gradient per row
in the graph; larger or dynamic ones are a scan over the rows, as in Theano."""


def _jacobian_one(expression: Variable, w: Variable, consider_constant: Any,
                  disconnected_inputs: str) -> Variable:
    from tensorc.frontend.scan import scan
    from tensorc.frontend.shape_ops import arange, reshape, stack

    flat = expression if expression.ndim == 1 else reshape(expression, [-1])
    n = flat.type.shape[0]
    if n == 0:
        raise ShapeError(f"jacobian of the empty expression {expression!r}")
    if n is not None and n <= UNROLLED_JACOBIAN_ROWS:
        jac = stack([grad(flat[i], w, consider_constant, disconnected_inputs,
                          add_names=False) for i in range(n)])
    else:
        jac, _ = scan(lambda i, flat, w: grad(flat[i], w, consider_constant,
                                              disconnected_inputs, add_names=False),
                      sequences=arange(flat.shape[0]), non_sequences=[flat, w])
    if expression.ndim == 1:
        return jac
    dims = [*(expression.shape[a] for a in range(expression.ndim)),
            *(jac.shape[1 + a] for a in range(w.ndim))]
    return reshape(jac, dims)


def jacobian(expression: Any, wrt: Any, consider_constant: Sequence[Any] | None = None,
             disconnected_inputs: str = "raise") -> Any:
    """d(expression)/d(wrt) with shape expression.shape + wrt.shape (one gradient per
    element of `expression`). A list `wrt` gives a list."""
    expression = as_variable(expression)
    values = _wrt_list(wrt)
    if expression.ndim == 0:
        return grad(expression, wrt, consider_constant, disconnected_inputs)
    jacs = [_jacobian_one(expression, w, consider_constant, disconnected_inputs)
            for w in values]
    return jacs[0] if isinstance(wrt, Variable) else jacs


def hessian(cost: Any, wrt: Any, consider_constant: Sequence[Any] | None = None,
            disconnected_inputs: str = "raise") -> Any:
    """Second derivatives of a scalar cost: for each wrt, shape wrt.shape * 2. A
    list `wrt` gives a list."""
    values = _wrt_list(wrt)
    hessians = []
    for w in values:
        g = grad(cost, w, consider_constant, disconnected_inputs)
        hessians.append(jacobian(g, w, consider_constant, disconnected_inputs))
    return hessians[0] if isinstance(wrt, Variable) else hessians


# ---------------------------------------------------------------------------------
# Numerical checks
# ---------------------------------------------------------------------------------


def _scalar_value(value: Any) -> float:
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind not in "biuf":
        raise ValueError(f"numerical_gradient: f must return a real scalar, got "
                         f"{type(value).__name__} of shape {array.shape}")
    return float(array.reshape(()))


def _as_point(x: Any) -> np.ndarray:
    """A float array to perturb: `x` itself (perturbed in place, then restored) when
    it is a writable float array, else a float64 copy."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.flags.writeable:
        return x
    array = np.array(x, dtype=np.float64)
    if array.dtype.kind != "f":
        raise TypeError(f"numerical_gradient: points must be real numbers, got {x!r}")
    return array


def _central_differences(f: Callable[[], float], x: np.ndarray, eps: float
                         ) -> np.ndarray:
    grad_x = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        saved = x[index]
        try:
            x[index] = saved + eps
            high, step_high = f(), float(x[index])
            x[index] = saved - eps
            low, step_low = f(), float(x[index])
        finally:
            x[index] = saved
        # divide by the step actually taken, after rounding to x's dtype
        grad_x[index] = (high - low) / (step_high - step_low)
    return grad_x


def numerical_gradient(f: Callable[..., Any], x: Any, eps: float = 1e-4) -> Any:
    """Central differences (f(x + eps) - f(x - eps)) / 2eps for each element of `x`.

    `f(x)` returns a scalar; with a list of arrays, `f(*xs)` and a list of
    gradients is returned. Float arrays are perturbed in place and restored, so a
    closure reading the array (as in "Deep Learning from Scratch") works too.
    """
    if not callable(f):
        raise TypeError(f"numerical_gradient: f must be callable, got {f!r}")
    if not (isinstance(eps, int | float) and np.isfinite(eps) and eps > 0):
        raise ValueError(f"numerical_gradient: eps must be a positive number, "
                         f"got {eps!r}")
    several = isinstance(x, list | tuple)
    points = [_as_point(p) for p in (x if several else [x])]

    def evaluate() -> float:
        return _scalar_value(f(*points))

    grads = [_central_differences(evaluate, p, eps) for p in points]
    return grads if several else grads[0]


@dataclass(frozen=True)
class GradCheck:
    """What verify_grad measured: the largest errors over all inputs and tests."""

    max_abs_error: float
    max_rel_error: float


_TOLERANCES = {
    "float16": (1e-1, 5e-2), "float32": (1e-3, 1e-2), "float64": (1e-5, 1e-6),
}
"""dtype -> (default eps, default abs/rel tolerance) of verify_grad."""


def _check_points(points: Any) -> list[np.ndarray]:
    if not isinstance(points, list | tuple) or not points:
        raise TypeError("verify_grad: points must be a non-empty list of numpy arrays")
    arrays = []
    for i, p in enumerate(points):
        array = np.asarray(p)
        if array.dtype.name not in FLOAT_DTYPES:
            raise DTypeError(f"verify_grad: point #{i} has dtype {array.dtype}; "
                             "gradients are checked for float inputs only")
        arrays.append(np.array(array, order="C"))
    return arrays


def _symbolic_inputs(arrays: list[np.ndarray]) -> list[Variable]:
    from tensorc.frontend.variable import TensorType

    inputs = []
    for i, a in enumerate(arrays):
        # dims of 1 are static (broadcastable), as in Theano's verify_grad
        shape = tuple(1 if d == 1 else None for d in a.shape)
        inputs.append(TensorType(a.dtype.name, shape=shape)(f"input{i}"))
    return inputs


def _mismatch(i: int, analytic: np.ndarray, numeric: np.ndarray, abs_tol: float,
              rel_tol: float) -> tuple[float, float, str | None]:
    """(max abs error, max rel error, message about the worst failing element)."""
    abs_err = np.abs(analytic - numeric)
    rel_err = abs_err / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-300)
    if abs_err.size == 0:
        return 0.0, 0.0, None
    badness = np.minimum(abs_err / abs_tol, rel_err / rel_tol)
    worst = np.unravel_index(int(np.nanargmax(np.where(np.isnan(badness), np.inf,
                                                       badness))), abs_err.shape)
    failed = not (badness[worst] <= 1)
    message = None
    if failed:
        position = tuple(int(p) for p in worst)
        message = (
            f"verify_grad: the gradient of input #{i} (shape {analytic.shape}) "
            f"disagrees with finite differences at position {position}: analytic "
            f"{float(analytic[worst])!r}, numeric {float(numeric[worst])!r} (abs error "
            f"{abs_err[worst]:.3g} > {abs_tol:g} and rel error {rel_err[worst]:.3g} > "
            f"{rel_tol:g})")
    return float(np.max(abs_err)), float(np.max(rel_err)), message


def _compile_check(inputs: list[Variable], projection: Variable, output: Variable,
                   grads: Callable[[Variable], list[Variable]], mode: str | None
                   ) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(cost function, gradient function) of verify_grad. With a compiling backend
    both are one function (one compile; the gradients cost little at run time)."""
    from tensorc.config import config
    from tensorc.frontend.function import function
    from tensorc.frontend.reduce import sum as tensor_sum

    cost = tensor_sum(output * projection)
    args = [*inputs, projection]
    if (mode or config.mode) == "REFERENCE":
        f_cost = function(args, cost, mode=mode, on_unused_input="ignore")
        return f_cost, function(args, grads(cost), mode=mode, on_unused_input="ignore")
    both = function(args, [cost, *grads(cost)], mode=mode, on_unused_input="ignore")
    return (lambda *values: both(*values)[0]), (lambda *values: both(*values)[1:])


def verify_grad(fun: Callable[..., Any], points: Sequence[Any], rng: Any = None,
                eps: float | None = None, abs_tol: float | None = None,
                rel_tol: float | None = None, n_tests: int = 2,
                mode: str | None = None) -> GradCheck:
    """Check `grad` against central differences (Theano's verify_grad).

    `fun(*inputs)` builds a symbolic float output from symbolic inputs shaped like
    `points`; the check compiles `sum(fun(*inputs) * projection)` for `n_tests`
    random projections and compares its gradient with finite differences at
    `points`. Raises GradientError naming the worst element (position, analytic
    and numeric values); returns the largest errors seen otherwise.
    """
    from tensorc.frontend.function import function
    from tensorc.frontend.variable import TensorType

    if not callable(fun):
        raise TypeError(f"verify_grad: fun must be callable, got {fun!r}")
    if not isinstance(n_tests, int) or n_tests < 1:
        raise ValueError(f"verify_grad: n_tests must be a positive int, "
                         f"got {n_tests!r}")
    arrays = _check_points(points)
    inputs = _symbolic_inputs(arrays)
    output = fun(*inputs)
    if not isinstance(output, Variable) or output.dtype not in FLOAT_DTYPES:
        raise TypeError(f"verify_grad: fun must return a float symbolic variable, got "
                        f"{output!r}")
    dtypes = [a.dtype.name for a in arrays] + [output.dtype]
    default_eps, default_tol = _TOLERANCES[min(dtypes, key=lambda d: np.finfo(d).bits)]
    eps = default_eps if eps is None else eps
    abs_tol = default_tol if abs_tol is None else abs_tol
    rel_tol = default_tol if rel_tol is None else rel_tol
    projection = TensorType(output.dtype, shape=(None,) * output.ndim)("projection")
    f_cost, f_grad = _compile_check(
        inputs, projection, output,
        lambda cost: grad(cost, inputs, disconnected_inputs="ignore"), mode)
    # the output's shape, from the reference interpreter (no compile needed)
    out_shape = np.shape(function(inputs, output, mode="REFERENCE",
                                  on_unused_input="ignore")(*arrays))
    if not isinstance(rng, np.random.Generator | np.random.RandomState):
        rng = np.random.default_rng(rng)
    worst_abs = worst_rel = 0.0
    for _ in range(n_tests):
        proj = rng.uniform(0.5, 1.5, out_shape).astype(output.dtype)
        analytic = f_grad(*arrays, proj)
        numeric = numerical_gradient(lambda *xs, p=proj: f_cost(*xs, p), list(arrays),
                                     eps)
        for i, (a, n) in enumerate(zip(analytic, numeric)):
            abs_err, rel_err, message = _mismatch(i, np.asarray(a, np.float64), n,
                                                  abs_tol, rel_tol)
            if message is not None:
                raise GradientError(message)
            worst_abs, worst_rel = max(worst_abs, abs_err), max(worst_rel, rel_err)
    return GradCheck(worst_abs, worst_rel)
