"""Theano's `scan`: loops whose steps are a symbolic function.

`scan(fn, sequences, outputs_info, non_sequences, n_steps)` calls `fn` once, on
placeholders (one element of each sequence, the previous value of each state),
and records the step graph it returns as a `ScanBody`. The loop itself is one
multi-output node per result ("scan", attrs `body` and `output`), traced to
`tc.scan` with the body as a private function (tensorc.frontend.trace).

What the body reads from outside: values that do not depend on the placeholders
(the non-sequences, shared variables, anything else `fn` closed over) become
arguments of the body, computed once outside the loop. A step that takes a
gradient (`T.grad` inside `fn`, e.g. a Jacobian row by row) keeps the whole
outside computation inside the body instead, so the gradient can see through it;
only the leaves (inputs, shared variables) are passed in then.

Supported: sequences with any increasing taps (`dict(input=x, taps=[-1, 0, 1])`),
states with negative taps (`dict(initial=x0, taps=[-2, -1])`: a window of past
values is carried), outputs with no initial value
(`None`), `n_steps`, `go_backwards`, updates of shared variables returned by the
step (they become states; scan returns their last values as updates), random
numbers drawn inside the step (RandomStreams mixes in the step index, so every
step draws anew). Not supported (a clear error): `until` conditions.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tensorc.errors import ScanError, ShapeError
from tensorc.frontend.elemwise import as_variable, cast, dim, minimum, node
from tensorc.frontend.graph_key import UnkeyableAttribute, graph_key, walk
from tensorc.frontend.variable import SourceLoc, TensorType, Variable, user_location

__all__ = ["ScanBody", "foldl", "foldr", "map", "reduce", "scan"]


@dataclass(frozen=True, eq=False)
class ScanBody:
    """One step of a scan as a graph: `arguments` (the placeholders of the sequence
    elements and states, then the outside values the step reads) -> `outputs`
    (the new states, then the other per-step outputs)."""

    arguments: tuple[Variable, ...]
    outputs: tuple[Variable, ...]
    sequences: int
    states: int
    loc: SourceLoc

    def __repr__(self) -> str:  # how printers show a scan's `body` attribute
        args = ", ".join(repr(a) for a in self.arguments)  # (`map` is Theano's here)
        return f"step({args}) -> ({', '.join(repr(o) for o in self.outputs)})"

    @property
    def captured(self) -> tuple[Variable, ...]:
        """The outside values the body takes after the placeholders."""
        return self.arguments[self.sequences + self.states :]

    def key_text(self) -> str:
        """Canonical text for the compile cache key (graph_key)."""
        key = graph_key(self.arguments, self.outputs)
        if key is None:
            raise UnkeyableAttribute("scan body")
        return f"ScanBody({self.sequences}, {self.states}, {key})"


def scan(
    fn: Callable[..., Any],
    sequences: Any = None,
    outputs_info: Any = None,
    non_sequences: Any = None,
    n_steps: Any = None,
    truncate_gradient: int = -1,
    go_backwards: bool = False,
    mode: Any = None,
    name: str | None = None,
    profile: bool = False,
    allow_gc: Any = None,
    strict: bool = False,
    return_list: bool = False,
) -> tuple[Any, OrderedDict[Any, Any]]:
    """Theano's scan: (outputs, updates). `outputs` stacks each step's results
    along a new leading axis (a list when there are several, or with
    `return_list`); `updates` maps each shared variable the step updates to its
    value after the last step (pass it to `function(updates=...)`)."""
    loc = user_location()
    if truncate_gradient != -1:
        raise ScanError(f"scan at {loc}: truncate_gradient is not supported")
    seqs = [t for s in _listed(sequences) for t in _sequence(s, go_backwards, loc)]
    infos = [_initial(o, loc) for o in _listed(outputs_info)]
    extra = [as_variable(v) for v in _listed(non_sequences)]
    steps = _steps(seqs, n_steps, loc)
    seq_args = [_placeholder(s.type.shape[1:], s.dtype, f"{s.name or 'seq'}[t]", loc)
                for s in seqs]
    inits = [info.window for info in infos if info is not None]
    state_args = [_placeholder(v.type.shape, v.dtype, f"{v.name or 'state'}[t-1]", loc)
                  for v in inits]
    taps = [info.taps for info in infos if info is not None]
    tapped = [a for arg, t in zip(state_args, taps) for a in _tapped(arg, t)]
    index = _StepIndex(loc)
    returned, updates = _call_step(fn, [*seq_args, *tapped, *extra], index, loc)
    if outputs_info is None:
        infos = [None] * len(returned)
    if len(returned) != len(infos):
        raise ScanError(f"scan at {loc}: the step returns {len(returned)} outputs but "
                        f"outputs_info has {len(infos)} entries")
    updated = [target for target, _ in updates]
    shared_args = [_placeholder(v.type.shape, v.dtype, f"{v.name or 'shared'}[t-1]", loc)
                   for v in updated]
    returned = _reading_states(returned, updates, shared_args)
    new_shared = returned[len(returned) - len(updates):]
    returned = returned[: len(returned) - len(updates)]
    windows = iter(state_args)
    states = [_as_state(_shifted(next(windows), o, v.taps), v.window, f"output #{k}", loc)
              for k, (o, v) in enumerate(zip(returned, infos)) if v is not None]
    states += [_as_state(o, v, f"the update of {v}", loc)
               for o, v in zip(new_shared, updated)]
    others = [o for o, v in zip(returned, infos) if v is None]
    if index.placeholder is not None:  # random numbers in the step: step t mixes in t
        seqs.append(_arange(steps))
        seq_args.append(index.placeholder)
    body = _body([*seq_args, *state_args, *shared_args], [*states, *others], len(seqs),
                 loc)
    inputs = (steps, *seqs, *inits, *updated, *body.captured)
    length = steps.attrs["value"].item() if steps.op == "constant" else None
    results = [
        Variable("scan", inputs, TensorType(o.dtype, shape=(length, *o.type.shape)),
                 {"body": body, "output": k}, name=name, loc=loc)
        for k, o in enumerate(body.outputs)
    ]
    ordered, new_values = _user_outputs(results, infos, updated)
    outputs = ordered if len(ordered) != 1 or return_list else ordered[0]
    return outputs, new_values


def _call_step(fn: Callable[..., Any], args: list[Variable], index: _StepIndex,
               loc: SourceLoc) -> tuple[list[Variable], list[tuple[Variable, Variable]]]:
    """`fn` on the placeholders: its outputs and shared-variable updates. While it
    runs, `index` is the step index random numbers mix in (step_indices)."""
    _BUILDING.steps.append(index)
    try:
        return _outputs(fn(*args), loc)
    finally:
        _BUILDING.steps.pop()


def _user_outputs(results: list[Variable], infos: list[_Initial | None],
                  updated: list[Variable]
                  ) -> tuple[list[Variable], OrderedDict[Variable, Variable]]:
    """The scan's results in `outputs_info` order (a windowed state gives each
    step's newest value), and the updates: each shared variable's last value.
    `results` holds the states, then the updates, then the other outputs."""
    n_states = sum(info is not None for info in infos)
    carried = n_states + len(updated)
    windows = [info.taps for info in infos if info is not None]
    states = iter(
        stacked if taps == [-1] else stacked[:, -1]
        for stacked, taps in zip(results[:n_states], windows)
    )
    others = iter(results[carried:])
    ordered = [next(others if info is None else states) for info in infos]
    updates = OrderedDict(
        (target, stacked[-1]) for target, stacked in zip(updated, results[n_states:carried])
    )
    return ordered, updates


def map(fn: Callable[..., Any], sequences: Any, non_sequences: Any = None,
        go_backwards: bool = False, mode: Any = None, name: str | None = None
        ) -> tuple[Any, OrderedDict[Any, Any]]:  # noqa: A001  (Theano's name)
    """`fn` applied to each element of the sequences."""
    return scan(fn, sequences, None, non_sequences, go_backwards=go_backwards,
                name=name)


def reduce(fn: Callable[..., Any], sequences: Any, outputs_info: Any,
           non_sequences: Any = None, go_backwards: bool = False, mode: Any = None,
           name: str | None = None) -> tuple[Any, OrderedDict[Any, Any]]:  # noqa: A001
    """Like scan, but only the last step's outputs."""
    outputs, updates = scan(fn, sequences, outputs_info, non_sequences,
                            go_backwards=go_backwards, name=name, return_list=True)
    last = [o[-1] for o in outputs]
    return (last[0] if len(last) == 1 else last), updates


def foldl(fn: Callable[..., Any], sequences: Any, outputs_info: Any,
          non_sequences: Any = None, mode: Any = None, name: str | None = None
          ) -> tuple[Any, OrderedDict[Any, Any]]:
    return reduce(fn, sequences, outputs_info, non_sequences, name=name)


def foldr(fn: Callable[..., Any], sequences: Any, outputs_info: Any,
          non_sequences: Any = None, mode: Any = None, name: str | None = None
          ) -> tuple[Any, OrderedDict[Any, Any]]:
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True,
                  name=name)


# -- arguments ----------------------------------------------------------------------


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _sequence(entry: Any, backwards: bool, loc: SourceLoc) -> list[Variable]:
    """The sequences the step reads for one `sequences` entry: one per tap, the
    one for tap k starting at element k - min(taps) (Theano: at step t the step
    reads x[t + k] with t counted from -min(taps))."""
    taps = [0]
    if isinstance(entry, dict):
        taps = [int(t) for t in entry.get("taps", [0])]
        entry = entry["input"]
    seq = as_variable(entry)
    if seq.ndim == 0:
        raise ScanError(f"scan at {loc}: sequence {seq!r} is 0-d; sequences need a "
                        "leading axis to iterate over")
    if backwards:
        seq = seq[::-1]
    if not taps or sorted(set(taps)) != taps:
        raise ScanError(f"scan at {loc}: sequence taps must be increasing, got {taps}")
    return [seq if k == taps[0] else seq[k - taps[0] :] for k in taps]


@dataclass(frozen=True)
class _Initial:
    """An `outputs_info` entry: the state the scan carries and the taps the step
    reads. Taps other than [-1] carry a window of the last -min(taps) values."""

    window: Variable
    taps: list[int]


def _initial(entry: Any, loc: SourceLoc) -> _Initial | None:
    if entry is None:
        return None
    taps = [-1]
    if isinstance(entry, dict):
        taps = [int(t) for t in entry.get("taps", [-1])]
        if entry.get("initial") is None:
            return None
        entry = entry["initial"]
    if not taps or sorted(set(taps)) != taps or taps[-1] >= 0:
        raise ScanError(f"scan at {loc}: output taps must be increasing and negative "
                        f"(past values), got {taps}")
    initial = as_variable(entry)
    if taps == [-1]:
        return _Initial(initial, taps)
    if initial.ndim == 0:
        raise ScanError(f"scan at {loc}: output taps {taps} need an initial value with "
                        f"a leading axis of at least {-taps[0]} past values")
    return _Initial(initial[taps[0] :], taps)  # the last -min(taps) values


def _tapped(state: Variable, taps: list[int]) -> list[Variable]:
    """What the step reads of a state: the state itself, or one window element
    per tap (window[-1] is the previous step's value)."""
    if taps == [-1]:
        return [state]
    return [state[len_ + tap] for len_ in [-taps[0]] for tap in taps]


def _shifted(window: Variable, output: Variable, taps: list[int]) -> Variable:
    """The next state: the output, or the window shifted by one with the output
    as its newest value."""
    if taps == [-1]:
        return output
    from tensorc.frontend.shape_ops import concatenate, dimshuffle

    output = as_variable(output)
    newest = dimshuffle(output, ["x", *range(output.ndim)])
    return newest if taps[0] == -1 else concatenate([window[1:], newest])


def _steps(seqs: Sequence[Variable], n_steps: Any, loc: SourceLoc) -> Variable:
    """The number of steps: `n_steps`, else the shortest sequence's length."""
    if n_steps is not None:
        steps = as_variable(n_steps)
        if steps.ndim != 0 or steps.dtype not in ("int8", "int16", "int32", "int64"):
            raise ScanError(f"scan at {loc}: n_steps must be a scalar integer, got "
                            f"{steps.type}")
        return cast(steps, "int64") if steps.dtype != "int64" else steps
    if not seqs:
        raise ScanError(f"scan at {loc}: give sequences or n_steps")
    lengths = [s.type.shape[0] for s in seqs]
    if None not in lengths:
        return as_variable(min(lengths), "int64")
    steps = dim(seqs[0], 0)
    for seq in seqs[1:]:
        steps = minimum(steps, dim(seq, 0))
    return steps


def _outputs(returned: Any, loc: SourceLoc
             ) -> tuple[list[Variable], list[tuple[Variable, Variable]]]:
    """The step function's outputs (a Variable, or a list/tuple of them) and the
    shared-variable updates it returns (a dict, alone or after the outputs)."""
    updates: Any = {}
    if isinstance(returned, dict):
        returned, updates = [], returned
    elif isinstance(returned, tuple) and len(returned) == 2 and isinstance(
        returned[1], dict
    ):
        returned, updates = returned
    parts = list(returned) if isinstance(returned, list | tuple) else [returned]
    if any(type(part).__name__ == "until" for part in parts):
        raise ScanError(f"scan at {loc}: `until` conditions are not supported (tensorc "
                        "runs a fixed number of steps; give n_steps)")
    pairs = list(updates.items())
    for target, _ in pairs:
        if not (isinstance(target, Variable) and target.op == "shared"):
            raise ScanError(f"scan at {loc}: the step updates {target!r}, which is not "
                            "a shared variable")
    return [as_variable(v) for v in _listed(returned)], [
        (target, as_variable(value)) for target, value in pairs
    ]


def _reading_states(returned: list[Variable], updates: list[tuple[Variable, Variable]],
                    placeholders: list[Variable]) -> list[Variable]:
    """The outputs, then the new values of the updated shared variables, all
    reading each updated variable's value from the previous step."""
    from tensorc.frontend.function import rebuild

    replace = {id(target): p for (target, _), p in zip(updates, placeholders)}
    return rebuild([*returned, *(value for _, value in updates)], replace)


def _placeholder(shape: Sequence[int | None], dtype: str, name: str, loc: SourceLoc
                 ) -> Variable:
    return Variable("input", (), TensorType(dtype, shape=tuple(shape)), name=name,
                    loc=loc)


def _arange(steps: Variable) -> Variable:
    from tensorc.frontend.shape_ops import arange

    return arange(steps, dtype="int64")


class _StepIndex:
    """The index of the step of the scan being built, created on demand."""

    def __init__(self, loc: SourceLoc) -> None:
        self.loc = loc
        self.placeholder: Variable | None = None

    def get(self) -> Variable:
        if self.placeholder is None:
            self.placeholder = _placeholder((), "int64", "t", self.loc)
        return self.placeholder


class _Building(threading.local):
    """The steps being built on this thread (scans nest), outermost first."""

    def __init__(self) -> None:
        self.steps: list[_StepIndex] = []


_BUILDING = _Building()


def step_indices() -> list[Variable]:
    """The step index of each scan whose step is being built, outermost first:
    random numbers drawn inside a step mix them in, so every step draws anew."""
    return [index.get() for index in _BUILDING.steps]


def _as_state(output: Variable, initial: Variable, what: str, loc: SourceLoc
              ) -> Variable:
    """The new state `what` (e.g. "output #0") with exactly its initial value's
    type."""
    if output.dtype != initial.dtype or output.ndim != initial.ndim:
        raise ScanError(
            f"scan at {loc}: {what} of the step has type {output.type} but its "
            f"initial value has type {initial.type}; they must match (cast one of "
            "them, e.g. with T.cast)"
        )
    if output.type.shape == initial.type.shape:
        return output
    for axis, (got, want) in enumerate(zip(output.type.shape, initial.type.shape)):
        if None not in (got, want) and got != want:
            raise ShapeError(f"scan at {loc}: {what} has dim {axis} = {got} but its "
                             f"initial value has {want}")
    dims = [want if want is not None else dim(output, a)
            for a, want in enumerate(initial.type.shape)]
    operands = [d for d in dims if isinstance(d, Variable)]
    return node("reshape", [output, *operands], output.dtype, initial.type.shape)


def _body(placeholders: list[Variable], outputs: list[Variable], sequences: int,
          loc: SourceLoc) -> ScanBody:
    """The step graph with the outside values it reads as extra arguments."""
    order = walk(outputs)
    inside = {id(p) for p in placeholders}
    for var in order:
        if any(id(i) in inside for i in var.inputs):
            inside.add(id(var))
    differentiates = any(v.op == "grad" for v in order if id(v) in inside)
    captured: dict[int, Variable] = {}
    for var in order:
        if differentiates:
            reads = [var] if var.op in ("input", "shared") else []
        elif id(var) in inside:
            reads = list(var.inputs)
        else:
            reads = [var] if var in outputs else []
        for read in reads:
            if id(read) not in inside and read.op != "constant":
                captured.setdefault(id(read), read)
    return ScanBody((*placeholders, *captured.values()), tuple(outputs), sequences,
                    len(placeholders) - sequences, loc)
