"""The bridge between frontend graphs and the tc dialect (the only frontend module that
imports xDSL).

`trace` turns Variables into a `func.func` of tc ops, putting each node's user source
line on its op's location; `untrace` rebuilds Variables from an (optimized) function so
that `f.maker.fgraph` and the printers can show it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from xdsl.dialects.builtin import (
    FileLineColLoc,
    FusedLoc,
    IntAttr,
    ModuleOp,
    StringAttr,
    SymbolRefAttr,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Operation, SSAValue

from tensorc.dialects import composite_expression, tc
from tensorc.frontend.variable import SourceLoc, TensorType, Variable


def topological(
    outputs: Iterable[Variable], known: Iterable[int] = ()
) -> list[Variable]:
    """All nodes `outputs` depend on, inputs before users (iterative: graphs may be
    deeper than Python's recursion limit). The walk stops at nodes whose id is in
    `known`; they are not listed."""
    order: list[Variable] = []
    seen: set[int] = set(known)
    stack: list[tuple[Variable, bool]] = [(v, False) for v in reversed(list(outputs))]
    while stack:
        var, expanded = stack.pop()
        if expanded:
            order.append(var)
            continue
        if id(var) in seen:
            continue
        seen.add(id(var))
        stack.append((var, True))
        stack.extend((i, False) for i in reversed(var.inputs) if id(i) not in seen)
    return order


def tensor_type(var: Variable) -> tc.TensorType:
    return tc.tensor_type(var.dtype, var.type.shape)


def _location(loc: SourceLoc) -> FileLineColLoc:
    return FileLineColLoc(StringAttr(loc.filename), IntAttr(loc.line), IntAttr(0))


_NAME_CHARS = re.compile(r"[^A-Za-z0-9_$.-]")


def _name_hint(name: str | None) -> str | None:
    if not name:
        return None
    hint = _NAME_CHARS.sub("_", name)
    return hint if hint[0].isalpha() or hint[0] == "_" else f"v{hint}"


def build_op(var: Variable, operands: Sequence[SSAValue]) -> Operation:
    """The tc op computing `var` from already-traced operands."""
    result_type = tensor_type(var)
    if var.op == "constant":
        op: Operation = tc.ConstantOp(tc.dense_from_array(var.attrs["value"], result_type))
    else:
        op = tc.OPS_BY_NAME[var.op].make(operands, [result_type], var.attrs)
    op.location = _location(var.loc)
    hint = _name_hint(var.name)
    if hint:
        op.results[0].name_hint = hint
    return op


def trace(
    args: Sequence[Variable], results: Sequence[Variable], name: str = "main"
) -> ModuleOp:
    """A module holding `func.func @name(args...) -> results...` of tc ops (and,
    before it, a private function per scan body)."""
    functions: list[FuncOp] = []  # the bodies first, then @name
    _trace_function(args, results, name, functions, {})
    return ModuleOp(functions)


def _trace_function(
    args: Sequence[Variable],
    results: Sequence[Variable],
    name: str,
    functions: list[FuncOp],
    bodies: dict[int, str],
    visibility: str | None = None,
) -> FuncOp:
    """`func.func @name`; scan bodies become functions appended to `functions`
    (`bodies`: id of a ScanBody -> its function's name)."""
    func = FuncOp(
        name,
        ([tensor_type(a) for a in args], [tensor_type(r) for r in results]),
        visibility=visibility,
    )
    block = func.body.block
    values: dict[int, SSAValue] = {}
    for var, arg in zip(args, block.args):
        values[id(var)] = arg
        hint = _name_hint(var.name)
        if hint:
            arg.name_hint = hint
    scans: dict[int, Operation] = {}
    for var in topological(results, values):
        if var.op in ("input", "shared"):
            raise AssertionError(f"leaf {var!r} is not an argument of the traced function")
        operands = [values[id(i)] for i in var.inputs]
        if var.op != "scan":
            op = build_op(var, operands)
            block.add_op(op)
            values[id(var)] = op.results[0]
            continue
        body = var.attrs["body"]
        if id(body) not in scans:
            if id(body) not in bodies:
                bodies[id(body)] = f"scan_body_{len(bodies)}"
                _trace_function(body.arguments, body.outputs, bodies[id(body)],
                                functions, bodies, "private")
            scans[id(body)] = _scan_op(var, body, operands, bodies[id(body)])
            block.add_op(scans[id(body)])
        values[id(var)] = scans[id(body)].results[var.attrs["output"]]
    block.add_op(ReturnOp(*[values[id(r)] for r in results]))
    functions.append(func)
    return func


def _scan_op(var: Variable, body: Any, operands: list[SSAValue], symbol: str
             ) -> Operation:
    """The tc.scan of the scan nodes of `body` (all share `var`'s operands)."""
    length = var.type.shape[0]
    result_types = [
        tc.tensor_type(o.dtype, (length, *o.type.shape)) for o in body.outputs
    ]
    sequences, states = body.sequences, body.states
    op = tc.ScanOp.build(
        operands=[
            operands[0],
            operands[1 : 1 + sequences],
            operands[1 + sequences : 1 + sequences + states],
            operands[1 + sequences + states :],
        ],
        result_types=[result_types],
        properties={"body": SymbolRefAttr(symbol)},
    )
    op.location = _location(var.loc)
    return op


def _source_loc(op: Operation) -> SourceLoc:
    loc = op.location
    if isinstance(loc, FusedLoc) and loc.locations.data:  # a composite: its first op
        loc = loc.locations.data[0]
    if isinstance(loc, FileLineColLoc):
        return SourceLoc(loc.filename.data, loc.line.data)
    return SourceLoc("<unknown>", 0)


def composite_variables(op: tc.CompositeOp, inputs: tuple[Variable, ...]
                        ) -> list[Variable]:
    """One "composite" Variable per output of `op`. attrs["inner"] holds the
    outputs of its tc-level inner graph (from the `expression` recipe) over scalar
    inputs named i0, i1, ... (None without a recipe); attrs["output"] the index."""
    loc = _source_loc(op)
    inner = None
    if op.expression is not None:
        recipe = composite_expression.parse(op.expression.data)
        placeholders = [
            Variable("input", (), TensorType(tc.dtype_of(v.type), shape=()),
                     name=f"i{k}", loc=loc)
            for k, v in enumerate(op.inputs)
        ]
        inner = _inner_graph(recipe, placeholders, loc)
    return [
        Variable("composite", inputs, _frontend_type(r.type),
                 {"inner": inner, "output": k}, name=r.name_hint, loc=loc)
        for k, r in enumerate(op.outputs)
    ]


def _frontend_type(t: tc.TensorType) -> TensorType:
    return TensorType(tc.dtype_of(t), shape=tc.shape_of(t))


_BOOL_RESULT = ("eq", "ne", "lt", "le", "gt", "ge")


def _inner_graph(recipe: composite_expression.Recipe, placeholders: list[Variable],
                 loc: SourceLoc) -> tuple[Variable, ...]:
    """Scalar Variables for a composite recipe (constants typed like the operands
    they meet)."""
    steps: list[Variable] = []

    def ref(arg: composite_expression.Argument) -> Variable | None:
        if not isinstance(arg, str):
            return None
        return (steps if arg.startswith("%") else placeholders)[int(arg[1:])]

    for step in recipe.steps:
        known = [v for v in map(ref, step.args) if v is not None]
        operand_dtype = known[-1].dtype if known else "float64"
        args = []
        for i, arg in enumerate(step.args):
            var = ref(arg)
            if var is None:  # a literal: typed like the operands it meets
                dtype = "bool" if step.op == "select" and i == 0 else operand_dtype
                var = Variable("constant", (), TensorType(dtype, shape=()),
                               {"value": np.asarray(arg, dtype=dtype)}, loc=loc)
            args.append(var)
        dtype = step.dtype or ("bool" if step.op in _BOOL_RESULT else operand_dtype)
        result_type = TensorType(dtype, shape=())
        steps.append(Variable(step.op, tuple(args), result_type, loc=loc))
    return tuple(ref(r) for r in recipe.outputs)  # type: ignore[misc]


def untrace(module: ModuleOp, args: Sequence[Variable], name: str = "main") -> list[Variable]:
    """Variables for the results of `@name`, built from its tc ops; block arguments
    map back to `args`."""
    func = next(op for op in module.ops if isinstance(op, FuncOp) and op.sym_name.data == name)
    block = func.body.block
    values: dict[SSAValue, Variable] = dict(zip(block.args, args))
    outputs: list[Variable] = []
    for op in block.ops:
        if isinstance(op, ReturnOp):
            outputs = [values[v] for v in op.arguments]
            break
        assert isinstance(op, tc.TcOp), f"untrace expects tc ops, got {op.name}"
        if isinstance(op, tc.CompositeOp):
            inputs = tuple(values[v] for v in op.inputs)
            values.update(zip(op.outputs, composite_variables(op, inputs)))
            continue
        attrs = op.python_attrs()
        short = op.name.removeprefix("tc.")
        for k, result in enumerate(op.results):  # a scan has one per stacked output
            values[result] = Variable(
                short,
                tuple(values[v] for v in op.operands),
                TensorType(tc.dtype_of(result.type), shape=tc.shape_of(result.type)),  # type: ignore[arg-type]
                {**attrs, "output": k} if len(op.results) > 1 else attrs,
                name=result.name_hint if short != "constant" else None,
                loc=_source_loc(op),
            )
    return outputs
