"""tc-bufferize lowering of `tc.scan`: a loop calling the (bufferized) body function.

The body takes and returns identity-layout memrefs and returns fresh allocations,
so each step copies its sequence elements into buffers of their own, calls the
body, copies every output into its stacked result at the step's index (and the
new states into the state buffers the next call reads), and frees what the call
returned. The first step runs before the loop: its outputs give the stacked
results' dims, so every allocation stays in the function's top-level block.

    assert n >= 1, each sequence has >= n elements
    elements <- sequence[first];  states <- copies of the inits
    r = call @body(elements, states, params)
    stacked_k = alloc(n, dims of r_k);  stacked_k[first] <- r_k;  states <- r
        (with `final_states` the states are results as they are, not stacked)
    for s in 1 .. n-1:  t = s (or n-1-s with `reverse`)
        elements <- sequence[t];  r = call @body(...)
        assert dims of r_k == dims of stacked_k[t];  stacked_k[t] <- r_k;  states <- r
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, func, memref, scf
from xdsl.dialects.builtin import DYNAMIC_INDEX, MemRefType, TensorType
from xdsl.ir import Block, Region, SSAValue
from xdsl.rewriter import InsertPoint

from tensorc.dialects import tc
from tensorc.lowering.buffers import FunctionLowering, memref_type, static_index, store
from tensorc.lowering.elementwise import cmpi, emit


def lower_scan(fl: FunctionLowering, op: tc.ScanOp) -> list[SSAValue]:
    n = fl.index_of(op.n_steps)
    fl.check(cmpi(fl.builder, "sge", n, fl.index(1)), op, "n_steps must be at least 1")
    for i, sequence in enumerate(op.sequences):
        enough = cmpi(fl.builder, "sle", n, fl.dims(sequence)[0])
        fl.check(enough, op, f"sequence #{i} has fewer elements than n_steps")
    elements = [
        fl.alloc(_element_type(s), fl.dims(s)[1:]) for s in op.sequences
    ]
    states = [fl.copy(init) for init in op.inits]
    params = [fl.buffer(p) for p in op.params]
    last = fl.arith(arith.SubiOp(n, fl.index(1)))
    first = last if op.reverse else fl.index(0)
    arguments = [*elements, *states, *params]
    outputs = _step(fl, fl.builder, op, first, arguments)
    final = len(states) if op.final_states is not None else 0
    stacked: list[SSAValue | None] = [None] * final + [
        fl.alloc(_tensor(r), [n, *fl.dims(output)])
        for r, output in zip(op.results_[final:], outputs[final:], strict=True)
    ]
    for k, (init, output) in enumerate(zip(op.inits, outputs)):
        for axis, (d, want) in enumerate(zip(fl.dims(output), fl.dims(init))):
            what = f"state #{k} changes dim {axis} from its initial value's"
            fl.check_equal(d, want, op, what)
    _store_step(fl, fl.builder, op, first, outputs, stacked, states)

    block = Block(arg_types=[n.type])
    b = Builder(InsertPoint.at_end(block))
    step = block.args[0]
    t = emit(b, arith.SubiOp(last, step)) if op.reverse else step
    outputs = _step(fl, b, op, t, arguments)
    for k, (output, into) in enumerate(zip(outputs, stacked, strict=True)):
        if into is None:  # a final state: its dims were checked against the init's
            continue
        dims = zip(_dims_at(fl, b, output), fl.dims(into)[1:], strict=True)
        for axis, (d, want) in enumerate(dims):
            if static_index(d) is None:  # a static dim is the same at every step
                same = cmpi(b, "eq", d, want)
                fl.check(same, op, f"output #{k} changes dim {axis} between steps", b)
    _store_step(fl, b, op, t, outputs, stacked, states)
    b.insert(scf.YieldOp())
    fl.builder.insert(scf.ForOp(fl.index(1), n, fl.index(1), [], Region(block)))
    return [*states[:final], *stacked[final:]]  # type: ignore[list-item]


def _step(
    fl: FunctionLowering,
    b: Builder,
    op: tc.ScanOp,
    t: SSAValue,
    arguments: Sequence[SSAValue],
) -> list[SSAValue]:
    """Copy element `t` of each sequence into its buffer and call the body."""
    for sequence, element in zip(op.sequences, arguments):
        _copy_slice(fl, b, fl.buffer(sequence), element, t, into_stacked=False)
    results = [memref_type(r) for r in op.body_result_types()]
    call = b.insert(func.CallOp(op.callee, list(arguments), results))
    return list(call.results)


def _store_step(
    fl: FunctionLowering,
    b: Builder,
    op: tc.ScanOp,
    t: SSAValue,
    outputs: Sequence[SSAValue],
    stacked: Sequence[SSAValue | None],
    states: Sequence[SSAValue],
) -> None:
    """Each output into its stacked result at `t`, the new states into the state
    buffers; then free what the call returned."""
    for output, into in zip(outputs, stacked, strict=True):
        if into is not None:
            _copy_slice(fl, b, output, into, t, into_stacked=True)
    for output, state in zip(outputs, states):
        _copy(fl, b, output, state)
    for output in outputs:
        b.insert(memref.DeallocOp.get(output))


def _copy_slice(
    fl: FunctionLowering,
    b: Builder,
    source: SSAValue,
    target: SSAValue,
    t: SSAValue,
    into_stacked: bool,
) -> None:
    """target[...] = source[t, ...], or target[t, ...] = source[...]."""
    dims = _dims_at(fl, b, source) if into_stacked else fl.dims(target)

    def body(inner: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        read = ivs if into_stacked else [t, *ivs]
        written = [t, *ivs] if into_stacked else ivs
        value = emit(inner, memref.LoadOp.get(source, read))
        store(inner, value, target, written)
        return []

    fl.loops(dims, body, builder=b)


def _copy(fl: FunctionLowering, b: Builder, source: SSAValue, target: SSAValue) -> None:
    def body(inner: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        store(inner, emit(inner, memref.LoadOp.get(source, ivs)), target, ivs)
        return []

    fl.loops(fl.dims(target), body, builder=b)


def _dims_at(fl: FunctionLowering, b: Builder, buffer: SSAValue) -> list[SSAValue]:
    """The dims of `buffer` (a call result), read where `b` inserts."""
    t = buffer.type
    assert isinstance(t, MemRefType)
    return [
        fl.index(d) if d != DYNAMIC_INDEX else emit(b, memref.DimOp(buffer, fl.index(a)))
        for a, d in enumerate(t.get_shape())
    ]


def _tensor(value: SSAValue) -> TensorType:
    t = value.type
    assert isinstance(t, TensorType)
    return t


def _element_type(sequence: SSAValue) -> TensorType:
    t = _tensor(sequence)
    return TensorType(t.get_element_type(), t.get_shape()[1:])
