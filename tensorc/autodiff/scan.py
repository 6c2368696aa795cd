"""The VJP of `tc.scan`: a scan running backwards over a step built by
differentiating the forward step.

Forward, step t maps (x_t, h_t, p) to (h_{t+1}, y_t); the op stacks h_1..h_n and
y_0..y_{n-1}. Backward, with cotangents dH (of the stacked states) and dY (of the
other outputs), a `reverse` scan carries c (the cotangent reaching h_{t+1} from
later steps) and a running sum a (of the params' cotangents):

    step t (t = n-1 .. 0), sequences x_t, h_t, dH_t, dY_t, r_t, params p:
        (h_{t+1}, y_t) = forward step(x_t, h_t, p)         (what r_t does not hold)
        seed h_{t+1} with c + dH_t and y_t with dY_t, sweep back to the arguments
        c <- d h_t;  a <- a + d p;  output d x_t

r_t are the residuals: the values of the forward step that the backward ops read
and that change from step to step (e.g. tanh's output, which tanh's VJP reads).
The forward scan is rebuilt to also return them, stacked, so the backward step
reads them instead of recomputing the forward step (what else it needs, e.g. a
transposed weight, is recomputed: it is the same at every step). Only the
sequences and params whose cotangents are wanted (they depend on some wrt) get
them computed.

where h_t for t = 0..n-1 is the initial state followed by the stacked states
without the last. The cotangents of the inits and params are the carried values
after step 0 (the backward scan keeps only its `final_states`); the sequences
get the stacked d x_t, zero beyond n_steps. Only float sequences, states, outputs and params take
part; the others are still passed to the recomputed forward step.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects import func
from xdsl.dialects.builtin import (
    IntegerAttr,
    ModuleOp,
    SymbolRefAttr,
    TensorType,
    UnitAttr,
    i64,
)
from xdsl.ir import Block, Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.traits import SymbolTable

from tensorc.autodiff.builder import BIG, GradBuilder, element, shape
from tensorc.dialects import tc
from tensorc.dialects.tc import DYNAMIC
from tensorc.errors import LoweringError
from tensorc.lowering.legality import describe


def scan_vjp(
    b: GradBuilder, op: Operation, cotangents: list[SSAValue | None],
    active: list[bool],
) -> list[SSAValue | None]:
    assert isinstance(op, tc.ScanOp)
    if op.final_states is not None:
        raise LoweringError(
            f"{describe(op)}: the gradient of a scan that keeps only its final "
            "states (the backward scan of a gradient: a second derivative through "
            "scan) is not supported"
        )
    states = len(op.inits)
    floats = _Floats(op, active)
    previous = [
        _previous(b, init, stacked, op.n_steps)
        for init, stacked in zip(op.inits, op.results_)
    ]
    d_stacked = [
        cotangents[k] if cotangents[k] is not None else b.zeros_like(op.results_[k])
        for k in (*floats.states, *(states + o for o in floats.outputs))
    ]
    name, residuals = _backward_body(op, floats)
    forward = _with_residuals(op, residuals)
    sequences = [*op.sequences, *previous, *d_stacked, *forward.results[len(op.results):]]
    inits = [b.zeros_like(v) for v in floats.carried(op)]
    length = shape(op.results_[0])[0]
    result_types = [
        *(v.type for v in floats.carried(op)),
        *(
            TensorType(element(op.sequences[i]), [length, *shape(op.sequences[i])[1:]])
            for i in floats.sequences
        ),
    ]
    backward = tc.ScanOp.build(
        operands=[op.n_steps, sequences, inits, list(op.params)],
        result_types=[result_types],
        properties={
            "body": SymbolRefAttr(name),
            "reverse": UnitAttr(),
            "final_states": UnitAttr(),
        },
    )
    b.emit(backward)
    carried = list(backward.results[: len(inits)])
    d_sequences = [
        _padded(b, r, op.sequences[i], op.n_steps)
        for r, i in zip(backward.results[len(inits):], floats.sequences)
    ]
    cotangents = _by_operand(op, floats, carried, d_sequences)
    if forward is not op:
        Rewriter.replace_op(op, [], forward.results[: len(op.results)])
    return cotangents


class _Floats:
    """Which sequences, states, other outputs and params carry gradients: float
    ones, and for sequences and params only those whose cotangent is wanted
    (`active`, per operand of `op`). States always carry theirs: it flows from
    step to step."""

    def __init__(self, op: tc.ScanOp, active: list[bool]) -> None:
        states = len(op.inits)
        wanted = active[1 : 1 + len(op.sequences)]
        self.sequences = [
            i for i, v in enumerate(op.sequences) if tc.is_float(v.type) and wanted[i]
        ]
        self.states = [j for j, v in enumerate(op.inits) if tc.is_float(v.type)]
        self.outputs = [
            o for o, v in enumerate(op.results_[states:]) if tc.is_float(v.type)
        ]
        wanted = active[1 + len(op.sequences) + states :]
        self.params = [
            q for q, v in enumerate(op.params) if tc.is_float(v.type) and wanted[q]
        ]

    def carried(self, op: tc.ScanOp) -> list[SSAValue]:
        """The values whose cotangents the backward scan carries."""
        return [
            *(op.inits[j] for j in self.states),
            *(op.params[q] for q in self.params),
        ]


def _by_operand(
    op: tc.ScanOp,
    floats: _Floats,
    carried: Sequence[SSAValue],
    d_sequences: Sequence[SSAValue],
) -> list[SSAValue | None]:
    """One cotangent per operand of `op` (None for n_steps and non-floats)."""
    d_inits: list[SSAValue | None] = [None] * len(op.inits)
    d_params: list[SSAValue | None] = [None] * len(op.params)
    d_seqs: list[SSAValue | None] = [None] * len(op.sequences)
    for j, value in zip(floats.states, carried):
        d_inits[j] = value
    for q, value in zip(floats.params, carried[len(floats.states):]):
        d_params[q] = value
    for i, value in zip(floats.sequences, d_sequences):
        d_seqs[i] = value
    return [None, *d_seqs, *d_inits, *d_params]


# -- the outer values ------------------------------------------------------------------


def _previous(b: GradBuilder, init: SSAValue, stacked: SSAValue, n: SSAValue
              ) -> SSAValue:
    """The state each step read: init, then the stacked states but the last."""
    rank = len(shape(stacked))
    one = b.constant(1, TensorType(i64, []))
    head_t = TensorType(element(stacked), [DYNAMIC, *shape(init)])
    head = b.slice(stacked, head_t, [b.sub(n, one)], [0] * rank,
                   [DYNAMIC, *[BIG] * (rank - 1)], [1] * rank)
    first_t = TensorType(element(init), [1, *shape(init)])
    first = b.reshape(init, first_t, b.dynamic_dims(init))
    return b.emit(tc.ConcatenateOp.build(
        operands=[[first, head]], result_types=[head_t],
        properties={"axis": IntegerAttr(0, i64)},
    ))


def _padded(b: GradBuilder, stacked: SSAValue, sequence: SSAValue, n: SSAValue
            ) -> SSAValue:
    """The first `n` elements of a sequence's cotangent, zero beyond."""
    rank = len(shape(sequence))
    return b.emit(tc.InsertSliceOp(
        stacked, b.zeros_like(sequence), [n], [0] * rank,
        [DYNAMIC, *[BIG] * (rank - 1)], [1] * rank,
    ))


# -- the backward step -----------------------------------------------------------------


def _with_residuals(op: tc.ScanOp, residuals: list[SSAValue]) -> tc.ScanOp:
    """`op` whose step also returns `residuals` (values of its body the backward
    step reads instead of recomputing them), stacked as extra results; `op`
    itself when there are none. The new op goes right before `op`."""
    if not residuals:
        return op
    forward = SymbolTable.lookup_symbol(op, op.body)
    assert isinstance(forward, func.FuncOp)
    ret = forward.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    Rewriter.replace_op(ret, func.ReturnOp(*ret.arguments, *residuals))
    forward.update_function_type()
    length = shape(op.results_[0])[0]
    extra = [TensorType(element(r), [length, *shape(r)]) for r in residuals]
    new = tc.ScanOp.build(
        operands=[op.n_steps, list(op.sequences), list(op.inits), list(op.params)],
        result_types=[[*(r.type for r in op.results_), *extra]],
        properties=dict(op.properties),
    )
    new.location = op.location
    Rewriter.insert_op(new, InsertPoint.before(op))
    return new


def _save_residuals(
    block: Block, cloned: list[Operation], origin: dict[SSAValue, SSAValue],
    varying_args: Sequence[SSAValue], position: int,
) -> list[SSAValue]:
    """Replace the recomputed step values that the backward ops read and that
    change from step to step by new arguments of the backward step (inserted at
    `position`), erase what no longer needs recomputing; the forward values to
    save instead, in argument order."""
    varying = set(varying_args)
    for op in cloned:
        if any(v in varying for v in op.operands):
            varying.update(op.results)
    inside = set(cloned)
    needed = [
        r for op in cloned for r in op.results
        if r in varying and any(u.operation not in inside for u in r.uses)
    ]
    saved: list[SSAValue] = []
    for value in needed:
        arg = block.insert_arg(value.type, position + len(saved))
        value.replace_all_uses_with(arg)
        saved.append(origin[value])
    for op in reversed(cloned):
        if not any(r.uses for r in op.results):
            Rewriter.erase_op(op)
    return saved


def _backward_body(op: tc.ScanOp, floats: _Floats) -> tuple[str, list[SSAValue]]:
    """A private function computing one backward step (module docstring): its
    name, and the forward step's values it reads as extra sequences."""
    from tensorc.passes.autodiff import ReverseSweep, active_values, gradient

    forward = SymbolTable.lookup_symbol(op, op.body)
    assert isinstance(forward, func.FuncOp)
    module = _module_of(op)
    name = _fresh_symbol(module, f"{op.callee}_backward")
    n_seq, states = len(op.sequences), len(op.inits)
    forward_inputs = list(forward.function_type.inputs.data)
    forward_outputs = list(forward.function_type.outputs.data)
    element_types = forward_inputs[:n_seq]
    state_types = forward_inputs[n_seq : n_seq + states]
    param_types = forward_inputs[n_seq + states :]
    seeds_types = [
        *(state_types[j] for j in floats.states),
        *(forward_outputs[states + o] for o in floats.outputs),
    ]
    carried_types = [
        *(state_types[j] for j in floats.states),
        *(param_types[q] for q in floats.params),
    ]
    inputs = [*element_types, *state_types, *seeds_types, *carried_types, *param_types]
    outputs = [*carried_types, *(element_types[i] for i in floats.sequences)]
    function = func.FuncOp(name, (inputs, outputs), visibility="private")
    function.location = op.location
    Rewriter.insert_op(function, InsertPoint.before(_function_of(op)))
    args = list(function.body.block.args)
    xs, hs = args[:n_seq], args[n_seq : n_seq + states]
    offset = n_seq + states
    seeds = args[offset : offset + len(seeds_types)]
    offset += len(seeds_types)
    carried = args[offset : offset + len(carried_types)]
    ps = args[offset + len(carried_types) :]
    mapping: dict[SSAValue, SSAValue] = dict(
        zip(forward.body.block.args, [*xs, *hs, *ps])
    )
    block = function.body.block
    last: Operation | None = None
    returned: Sequence[SSAValue] = ()
    cloned: list[Operation] = []
    for forward_op in forward.body.block.ops:
        if isinstance(forward_op, func.ReturnOp):
            returned = [mapping.get(v, v) for v in forward_op.arguments]
            break
        last = forward_op.clone(value_mapper=mapping)
        block.add_op(last)
        cloned.append(last)
    origin = {mapping[r]: r for op_ in forward.body.block.ops for r in op_.results
              if r in mapping}
    b = GradBuilder(InsertPoint.at_end(block))
    b.location = op.location
    wrt = [
        *(xs[i] for i in floats.sequences),
        *(hs[j] for j in floats.states),
        *(ps[q] for q in floats.params),
    ]
    sweep = ReverseSweep(b, active_values(block, wrt, last))
    n_states = len(floats.states)
    for seed_index, j in enumerate(floats.states):
        sweep.accumulate(returned[j], b.add(carried[seed_index], seeds[seed_index]))
    for seed_index, o in enumerate(floats.outputs):
        sweep.accumulate(returned[states + o], seeds[n_states + seed_index])
    sweep.back_from(last)
    results = [
        *(gradient(b, sweep, hs[j]) for j in floats.states),
        *(
            b.add(a, gradient(b, sweep, ps[q]))
            for a, q in zip(carried[n_states:], floats.params)
        ),
        *(gradient(b, sweep, xs[i]) for i in floats.sequences),
    ]
    block.add_op(func.ReturnOp(*results))
    saved = _save_residuals(block, cloned, origin, [*xs, *hs], offset)
    function.update_function_type()
    return name, saved


def _module_of(op: Operation) -> ModuleOp:
    parent = op.parent_op()
    while parent is not None and not isinstance(parent, ModuleOp):
        parent = parent.parent_op()
    assert isinstance(parent, ModuleOp)
    return parent


def _function_of(op: Operation) -> func.FuncOp:
    parent = op.parent_op()
    while parent is not None and not isinstance(parent, func.FuncOp):
        parent = parent.parent_op()
    assert isinstance(parent, func.FuncOp)
    return parent


def _fresh_symbol(module: ModuleOp, base: str) -> str:
    taken = {f.sym_name.data for f in module.ops if isinstance(f, func.FuncOp)}
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name
