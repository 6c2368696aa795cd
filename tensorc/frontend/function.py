"""`tensorc.function`: trace a graph once, optimize it, compile it, and return a
callable that checks its inputs, runs the kernel and applies updates atomically.

A call costs one foreign call. With the CPython extension of
tensorc.runtime.pyentry, `Function.__call__` hands its arguments to a C
`FunctionCall` that checks them in one pass over precomputed (dtype, rank, static
dims) constraints, reads the shared values, runs the kernel and assigns the
updates; anything unusual (keywords, defaults, Python numbers, other dtypes,
strided arrays, wrong shapes) comes back to `_call_slow`, which converts the
inputs or raises the user-facing error. Without the extension, `_call_python`
does the same in Python around a ctypes call. `trust_input=True` skips the
dtype/layout/static-dim checks of explicit inputs that are numpy arrays of the
right rank (as in Theano, an array of the wrong dtype or shape then gives wrong
results or worse); anything else is still converted.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorc.config import config
from tensorc.errors import ConfigError, DTypeError, ShapeError, TensorcError
from tensorc.frontend.elemwise import as_variable, constant
from tensorc.frontend.graph_key import walk as topological
from tensorc.frontend.shared import SharedVariable
from tensorc.frontend.variable import Variable, user_location


class MissingInputError(TensorcError, ValueError):
    """An output depends on a symbolic input that was not passed to `function`."""


class UnusedInputError(TensorcError, ValueError):
    """An input of `function` does not influence any output or update."""


@dataclass
class In:
    """An input with a default value and/or a keyword name (Theano's `In`).

    `borrow` and `mutable` are hints Theano uses to reuse the caller's buffer;
    tensorc never writes into an input, so they are accepted and change nothing.
    `strict=True` refuses values that need a conversion; `allow_downcast`
    overrides the function's `allow_input_downcast` for this input.
    """

    variable: Variable
    name: str | None = None
    value: Any = None
    update: Any = None
    mutable: bool | None = None
    strict: bool = False
    allow_downcast: bool | None = None
    autoname: bool = True
    implicit: bool | None = None
    borrow: bool | None = None
    shared: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.variable, Variable):
            raise TypeError(f"In: variable must be a symbolic input, got "
                            f"{self.variable!r} (at {user_location()})")
        if self.update is not None or self.implicit or self.shared:
            raise TypeError(
                "In: update=, implicit= and shared= (Theano's stateful inputs) are not "
                "supported; use a shared variable with updates= instead (at "
                f"{user_location()})")
        if self.name is None and self.autoname:
            self.name = self.variable.name


@dataclass
class Out:
    """An output with Theano's `borrow` hint (Theano's `Out`): tensorc always
    returns arrays the caller owns, so `borrow` changes nothing."""

    variable: Variable
    borrow: bool = False


class FunctionGraph:
    """The optimized graph of a compiled function (Theano's `f.maker.fgraph`)."""

    def __init__(self, inputs: list[Variable], outputs: list[Variable]):
        self.inputs = inputs
        self.outputs = outputs

    def toposort(self) -> list[Variable]:
        return [v for v in topological(self.outputs) if v.owner is not None]

    @property
    def apply_nodes(self) -> list[Variable]:
        return self.toposort()


class FunctionMaker:
    """Theano's `f.maker`: the optimized graph (`fgraph`) and tc `module`, built on
    first access (a cached function loads without them)."""

    def __init__(self, function: Function, compiled: Any, mode: str, device: str):
        self._function = function
        self._compiled = compiled
        self._fgraph: FunctionGraph | None = None
        self.mode = mode
        self.device = device

    @property
    def module(self) -> Any:
        return self._compiled.optimized

    @property
    def fgraph(self) -> FunctionGraph:
        if self._fgraph is None:
            from tensorc.frontend.trace import untrace

            f = self._function
            outputs = untrace(self.module, f.input_variables + f.shared_args)
            self._fgraph = FunctionGraph(f.input_variables, outputs[: f.n_outputs])
        return self._fgraph


def _pairs(mapping: Any, what: str) -> list[tuple[Any, Any]]:
    if mapping is None:
        return []
    if isinstance(mapping, dict):
        return list(mapping.items())
    pairs = list(mapping)
    if any(not isinstance(p, list | tuple) or len(p) != 2 for p in pairs):
        raise TypeError(f"{what} must be a dict or a list of (variable, value) pairs")
    return [tuple(p) for p in pairs]  # type: ignore[misc]


def _replacement(var: Variable, value: Any) -> Variable:
    """A `givens` replacement for `var`: constants are cast to var's type (Theano)."""
    if not isinstance(value, Variable):
        value = constant(np.asarray(value, dtype=var.dtype))
    if value.ndim != var.ndim or value.dtype != var.dtype:
        raise DTypeError(
            f"givens: replacement for {var!r} ({var.type}) has type {value.type}"
        )
    return value


def rebuild(
    outputs: Sequence[Variable], replace: dict[int, Variable]
) -> list[Variable]:
    """Copies of `outputs` with the nodes in `replace` (by id) substituted."""
    if not replace:
        return list(outputs)
    new: dict[int, Variable] = dict(replace)
    for var in topological(outputs):
        if id(var) in new:
            continue
        inputs = tuple(new.get(id(i), i) for i in var.inputs)
        if all(a is b for a, b in zip(inputs, var.inputs)):
            new[id(var)] = var
        else:
            new[id(var)] = Variable(
                var.op, inputs, var.type, var.attrs, var.name, var.loc
            )
    return [new[id(o)] for o in outputs]


def _check_update(shared_var: Any, value: Any) -> Variable:
    if not isinstance(shared_var, SharedVariable):
        raise TypeError(f"updates: {shared_var!r} is not a shared variable")
    value = as_variable(value)
    if value.dtype != shared_var.dtype or value.ndim != shared_var.ndim:
        raise DTypeError(
            f"an update must have the type of its shared variable: {shared_var!r} is "
            f"{shared_var.type}, the update {value!r} (created at {value.loc}) is "
            f"{value.type}"
        )
    return value


def _leaves(outputs: Iterable[Variable]) -> list[Variable]:
    return [v for v in topological(outputs) if v.op in ("input", "shared")]


def function(
    inputs: Sequence[Any],
    outputs: Any = None,
    updates: Any = None,
    givens: Any = None,
    device: str | None = None,
    mode: str | None = None,
    name: str | None = None,
    on_unused_input: str | None = None,
    allow_input_downcast: bool | None = None,
    trust_input: bool = False,
    no_default_updates: bool | Sequence[SharedVariable] = False,
    profile: Any = None,
) -> Function:
    """Compile `inputs -> outputs` (and `updates` of shared variables) into a callable."""
    specs = [i if isinstance(i, In) else In(as_input(i)) for i in inputs]
    single = outputs is not None and not isinstance(outputs, list | tuple)
    outs = (
        []
        if outputs is None
        else [_output(outputs)]
        if single
        else [_output(o) for o in outputs]
    )
    update_pairs = [(k, _check_update(k, v)) for k, v in _pairs(updates, "updates")]
    update_pairs += _default_updates(outs, update_pairs, no_default_updates)
    replace = {id(k): _replacement(k, v) for k, v in _pairs(givens, "givens")}
    computed = rebuild(outs + [v for _, v in update_pairs], replace)
    explicit = [s.variable for s in specs]
    _check_inputs(explicit, computed, on_unused_input or "raise")
    shared_args = [v for v in _leaves(computed) if isinstance(v, SharedVariable)]
    return Function(
        specs,
        single,
        len(outs),
        [k for k, _ in update_pairs],
        shared_args,
        computed,
        device or config.device,
        mode or config.mode,
        name,
        allow_input_downcast,
        trust_input,
    )


def _default_updates(
    outs: list[Variable],
    explicit: list[tuple[Any, Variable]],
    disabled: bool | Sequence[SharedVariable],
) -> list[tuple[SharedVariable, Variable]]:
    """Updates from the `default_update` of shared variables the graph reads, unless
    the caller updates them explicitly or disables them (`no_default_updates`)."""
    if disabled is True:
        return []
    skip = {id(k) for k, _ in explicit} | {id(v) for v in disabled or ()}
    pairs = []
    for leaf in _leaves(outs + [v for _, v in explicit]):
        update = getattr(leaf, "default_update", None)
        if update is not None and id(leaf) not in skip:
            pairs.append((leaf, _check_update(leaf, update)))
            skip.add(id(leaf))
    return pairs


def _output(value: Any) -> Variable:
    return as_variable(value.variable if isinstance(value, Out) else value)


def as_input(value: Any) -> Variable:
    if isinstance(value, SharedVariable):
        raise TypeError(
            f"shared variable {value!r} cannot be an explicit input of a function: it is "
            "used implicitly; use givens or updates instead"
        )
    if not isinstance(value, Variable) or value.op != "input":
        raise TypeError(f"function inputs must be symbolic inputs, got {value!r}")
    return value


def _check_inputs(
    explicit: list[Variable], computed: list[Variable], policy: str
) -> None:
    if policy not in ("raise", "warn", "ignore"):
        raise ConfigError(
            f"on_unused_input must be 'raise', 'warn' or 'ignore', got {policy!r}"
        )
    if len({id(v) for v in explicit}) != len(explicit):
        raise ValueError("the same variable is given twice as an input")
    given = {id(v) for v in explicit}
    used = {id(v) for v in _leaves(computed)}
    for leaf in _leaves(computed):
        if leaf.op == "input" and id(leaf) not in given:
            raise MissingInputError(
                f"input {leaf!r} ({leaf.type}, created at {leaf.loc}) is needed to "
                "compute the outputs but was not given to function()"
            )
    for var in explicit:
        if id(var) not in used and policy != "ignore":
            message = (
                f"input {var!r} (created at {var.loc}) is not used to compute any "
                "output; pass on_unused_input='ignore' to allow it"
            )
            if policy == "raise":
                raise UnusedInputError(message)
            import warnings

            warnings.warn(message, stacklevel=3)


def _convert(
    value: Any, var: Variable, position: str, downcast: bool | None
) -> np.ndarray:
    """A C-contiguous array of var's dtype and rank, or a clear error."""
    dtype = np.dtype(var.dtype)
    if isinstance(value, np.ndarray) and value.dtype == dtype:
        array = value
    elif isinstance(value, np.ndarray | np.generic):
        if not (downcast or np.can_cast(value.dtype, dtype, "safe")):
            raise DTypeError(
                f"{position} expects {var.dtype}; got an array of dtype {value.dtype}, "
                "which cannot be converted safely (pass allow_input_downcast=True or "
                f"convert with .astype('{var.dtype}'))"
            )
        array = np.asarray(value).astype(dtype)
    else:
        array = _convert_python(value, dtype, position, downcast)
    if array.ndim != var.ndim:
        raise ShapeError(
            f"{position} expects {var.ndim} dims; got {array.ndim} dims (shape {array.shape})"
        )
    for axis, (want, got) in enumerate(zip(var.type.shape, array.shape)):
        if want is not None and want != got:
            raise ShapeError(
                f"{position} expects dim {axis} to be {want} (shape {var.type.shape}); "
                f"got shape {array.shape}"
            )
    return _contiguous(array)


def _contiguous(array: np.ndarray) -> np.ndarray:
    """C-contiguous, aligned and in native byte order: what a kernel reads. An
    array that already is comes back as itself (an in-place update of a shared
    value must land in that very array)."""
    dtype = array.dtype if array.dtype.isnative else array.dtype.newbyteorder("=")
    return np.require(array, dtype, ["C_CONTIGUOUS", "ALIGNED"])


def _convert_python(
    value: Any, dtype: np.dtype, position: str, downcast: bool | None
) -> np.ndarray:
    """Python scalars and lists convert when no information is lost (or float -> float)."""
    try:
        raw = np.asarray(value)
    except ValueError as exc:
        raise ShapeError(
            f"{position}: cannot make an array from {value!r}: {exc}"
        ) from exc
    if raw.dtype == object or raw.dtype.kind not in "biuf":
        raise DTypeError(f"{position} expects {dtype.name} numbers; got {value!r}")
    converted = raw.astype(dtype)
    float_to_float = raw.dtype.kind == "f" and dtype.kind == "f"
    if not (downcast or float_to_float or np.can_cast(raw.dtype, dtype, "safe")):
        with np.errstate(invalid="ignore", over="ignore"):
            lossless = np.array_equal(converted.astype(raw.dtype), raw)
        if not lossless:
            raise DTypeError(
                f"{position} expects {dtype.name}; {value!r} cannot be converted "
                "without loss (pass allow_input_downcast=True to force it)"
            )
    return converted


class Function:
    """A compiled function. Call with positional or keyword (input name) arguments."""

    def __init__(
        self,
        specs: list[In],
        single: bool,
        n_outputs: int,
        update_targets: list[SharedVariable],
        shared_args: list[SharedVariable],
        computed: list[Variable],
        device: str,
        mode: str,
        name: str | None,
        allow_input_downcast: bool | None,
        trust_input: bool,
    ):
        from tensorc.compiler import compile_graph

        self.specs = specs
        self.single = single
        self.n_outputs = n_outputs
        self.update_targets = update_targets
        self.shared_args = shared_args
        self.name = name
        self.allow_input_downcast = allow_input_downcast
        self.trust_input = trust_input
        # per input: the In's own allow_downcast wins over the function's
        self._downcast = [
            allow_input_downcast if s.allow_downcast is None else s.allow_downcast
            for s in specs
        ]
        explicit = [s.variable for s in specs]
        self.input_variables = explicit
        # each update replaces its shared variable's value: the kernel may write
        # it into that value's buffer (the array then changes in place)
        args = explicit + shared_args
        donated = {
            n_outputs + k: position
            for k, target in enumerate(update_targets)
            for position, arg in enumerate(args)
            if arg is target
        }
        self._compiled = compiled = compile_graph(args, computed, device, mode, donated)
        self.maker = FunctionMaker(self, compiled, mode, device)
        self._names = {s.name: i for i, s in enumerate(specs) if s.name}
        self._where = user_location()
        self._constraints = [_constraint(var) for var in explicit]
        self._run: Callable[[list[np.ndarray]], list[np.ndarray]] = compiled.run
        self._call: Callable[..., Any] = self._call_python
        if compiled.kernel is not None:
            # never waits for the extension's first build: ctypes until it is done
            native = compiled.kernel.native(wait=False)
            if native is not None:
                self._use_extension(native)
            else:
                from tensorc.runtime import pyentry

                pyentry.when_loaded(_switch_to_extension(weakref.ref(self)))

    def _use_extension(self, native: Any) -> None:
        self._run = native
        self._call = _function_call(self, native)

    @property
    def source(self) -> str | None:
        """The generated C (None for the reference interpreter)."""
        return self._compiled.source

    def _position(self, i: int) -> str:
        var = self.input_variables[i]
        label = f"'{var.name}'" if var.name else f"#{i}"
        fname = f"function {self.name!r}" if self.name else "function"
        return f"{fname} input {label} ({var.type}, created at {var.loc})"

    def _arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        if len(args) > len(self.specs):
            raise TypeError(f"function takes {len(self.specs)} inputs, got {len(args)}")
        values: list[Any] = list(args) + [None] * (len(self.specs) - len(args))
        filled = [True] * len(args) + [False] * (len(self.specs) - len(args))
        for key, value in kwargs.items():
            if key not in self._names:
                raise TypeError(
                    f"unknown input name {key!r} (inputs: {sorted(self._names)})"
                )
            values[self._names[key]] = value
            filled[self._names[key]] = True
        for i, spec in enumerate(self.specs):
            if not filled[i]:
                if spec.value is None:
                    raise TypeError(f"missing value for {self._position(i)}")
                values[i] = spec.value
        return values

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    def _call_python(self, *args: Any, **kwargs: Any) -> Any:
        """The call without the extension: checks in one pass, then ctypes."""
        values = (
            args
            if not kwargs and len(args) == len(self.specs)
            else (self._arguments(args, kwargs))
        )
        trust = self.trust_input
        arrays = [
            value
            if (trust and _trusted(value, constraint)) or _conforms(value, constraint)
            else self._converted(i, value)
            for i, (value, constraint) in enumerate(zip(values, self._constraints))
        ]
        return self._finish(arrays)

    def _call_slow(self, *args: Any, **kwargs: Any) -> Any:
        """Everything the extension's fast path hands back: fills in keyword and
        default arguments, converts the inputs (or raises why not) and runs."""
        values = self._arguments(args, kwargs)
        arrays = [self._converted(i, value) for i, value in enumerate(values)]
        return self._finish(arrays)

    def _converted(self, i: int, value: Any) -> np.ndarray:
        """Input #i as the kernel's array; an `In(..., strict=True)` takes only
        arrays of its exact dtype."""
        var = self.input_variables[i]
        if self.specs[i].strict and not (
            isinstance(value, np.ndarray) and value.dtype == np.dtype(var.dtype)
        ):
            got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise DTypeError(f"{self._position(i)} is strict: it takes only "
                             f"{var.dtype} arrays, got {got}")
        return _convert(value, var, self._position(i), self._downcast[i])

    def _finish(self, arrays: list[np.ndarray]) -> Any:
        device = self._compiled.device_values
        if device is None:
            shared = [_contiguous(s.value) for s in self.shared_args]
        else:  # shared values stay in GPU memory between calls
            shared = [s._on_device(device) for s in self.shared_args]
        results = self._run(arrays + shared)
        outputs = results[: self.n_outputs]
        if device is not None:  # outputs come back to the host
            outputs = [np.asarray(r) for r in outputs]
        # Every result exists before any shared variable changes: a failed call
        # leaves all shared variables as they were.
        for target, value in zip(self.update_targets, results[self.n_outputs :]):
            target._assign(value)
        if self.single:
            return outputs[0]
        return outputs

    def copy(self) -> Function:
        return self


Constraint = tuple[np.dtype, int, tuple[tuple[int, int], ...]]
"""What an input array must be, besides C-contiguous: dtype, rank and the static
dims as (axis, size) pairs."""


def _constraint(var: Variable) -> Constraint:
    static = tuple((axis, d) for axis, d in enumerate(var.type.shape) if d is not None)
    return np.dtype(var.dtype), var.ndim, static


def _trusted(value: Any, constraint: Constraint) -> bool:
    """What trust_input still checks: an array of the right rank."""
    return type(value) is np.ndarray and value.ndim == constraint[1]


def _conforms(value: Any, constraint: Constraint) -> bool:
    dtype, ndim, static = constraint
    if type(value) is not np.ndarray or value.dtype != dtype or value.ndim != ndim:
        return False
    flags = value.flags
    if not (flags.c_contiguous and flags.aligned):
        return False
    shape = value.shape
    return all(shape[axis] == size for axis, size in static)


def _switch_to_extension(function: weakref.ref[Function]) -> Callable[[Any], None]:
    """A pyentry.when_loaded callback: the (still living) function calls through
    the extension from now on."""

    def switch(module: Any) -> None:
        f = function()
        kernel = None if f is None else f._compiled.kernel
        native = None if kernel is None else kernel.native()
        if f is not None and native is not None:
            f._use_extension(native)

    return switch


def _function_call(function: Function, native: Any) -> Callable[..., Any]:
    """The extension's FunctionCall for `function` (see tensorc.runtime.pyentry)."""
    from tensorc.runtime import pyentry

    module = pyentry.load()
    assert module is not None
    return module.FunctionCall(
        native,
        len(function.specs),
        tuple(function.shared_args),
        tuple(function.update_targets),
        function.n_outputs,
        function.single,
        function.trust_input,
        function._call_slow,
    )
