"""tc-fuse-elemwise (and tc-fuse-loops): fusion counts for canonical graphs, the
convexity rule, multiple outputs, the input limit, source locations in run-time
errors, numerical agreement of fused kernels with the reference interpreter (C
backend; NaN/Inf; float16/32/64, integers, bools), printing, and the speed of
fusing a 5,000-op chain."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from xdsl.builder import Builder
from xdsl.dialects import arith, func, scf
from xdsl.dialects.builtin import FusedLoc, ModuleOp, TensorType, f64
from xdsl.ir import Block, Operation
from xdsl.parser import Parser
from xdsl.rewriter import InsertPoint

import tensorc
import tensorc.tensor as T
from tensorc import pipeline
from tensorc.dialects import composite_expression, tc
from tensorc.errors import ShapeError
from tensorc.frontend.trace import trace
from tensorc.lowering.elementwise import ELEMENTWISE
from tensorc.passes.fuse_elemwise import FuseElemwisePass
from tensorc.printing import debugprint
from tensorc.runtime import interp
from tensorc.runtime.scalar import SCALAR_NUMPY

UNFUSED = "tc-stabilize,tc-autodiff,tc-canonicalize,cse,dce"
LOOPS = "tc-bufferize,tc-fuse-loops"
"""The cpu pipeline up to its loop nests (buffer placement comes after)."""

# ---------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------


def _main(module: ModuleOp) -> Block:
    fn = next(
        op
        for op in module.ops
        if isinstance(op, func.FuncOp) and op.sym_name.data == "main"
    )
    return fn.body.block


def _names(f: tensorc.Function) -> list[str]:  # type: ignore[name-defined]
    """The op names of the compiled function's optimized tc graph."""
    return [op.name for op in _main(f.maker.module).ops]


def _composites(module: ModuleOp) -> list[tc.CompositeOp]:
    return [op for op in _main(module).ops if isinstance(op, tc.CompositeOp)]


def _lowered(f: object) -> Block:
    """The function's bufferized body (the cpu pipeline on its optimized graph)."""
    module = f.maker.module.clone()  # type: ignore[attr-defined]
    pipeline.build(LOOPS).apply(pipeline.make_context(), module)
    return _main(module)


def _loop_nests(block: Block) -> int:
    return sum(isinstance(op, scf.ForOp) for op in block.ops)


def _allocs(block: Block) -> int:
    return sum(op.name == "memref.alloc" for op in block.ops)


def _check_dominance(block: Block) -> None:
    """Every operand is defined before its use (xDSL's verifier does not check)."""
    defined = set(block.args)
    for op in block.ops:
        for value in op.operands:
            assert value in defined, f"{op.name} uses {value} before its definition"
        defined.update(op.results)


def _unfused_and_fused(
    inputs: Sequence[object], outputs: Sequence[object], max_inputs: int = 32
) -> tuple[ModuleOp, ModuleOp]:
    ctx = pipeline.make_context()
    module = trace(list(inputs), list(outputs))  # type: ignore[arg-type]
    pipeline.build(UNFUSED).apply(ctx, module)
    fused = module.clone()
    FuseElemwisePass(max_inputs=max_inputs).apply(ctx, fused)
    fused.verify()
    _check_dominance(_main(fused))
    return module, fused


def _assert_same(got: np.ndarray, want: np.ndarray, rtol: float = 0.0) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    if got.dtype.kind == "f":
        np.testing.assert_allclose(
            got.astype(np.float64),
            want.astype(np.float64),
            rtol=rtol,
            atol=0,
            equal_nan=True,
        )
    else:
        np.testing.assert_array_equal(got, want)


SPECIAL = np.array(
    [
        np.nan,
        np.inf,
        -np.inf,
        0.0,
        -0.0,
        1.0,
        -1.5,
        2.5,
        700.0,
        -700.0,
        1e-300,
        3.0,
        0.5,
        -2.0,
        1e10,
        -3.25,
    ]
)

# ---------------------------------------------------------------------------------
# Fusion counts for canonical graphs
# ---------------------------------------------------------------------------------


def test_w1_is_one_composite() -> None:
    x = T.dvector("x")
    f = tensorc.function([x], T.exp(-(x**2)) * T.sin(3 * x) + 0.5 * T.tanh(x))
    assert _names(f) == ["tc.composite", "func.return"]
    (composite,) = _composites(f.maker.module)
    assert len(composite.inputs) == 1  # the constants live in the body
    lowered = _lowered(f)
    assert (_loop_nests(lowered), _allocs(lowered)) == (1, 1)
    v = np.concatenate([SPECIAL, np.linspace(-4, 4, 101)])
    with np.errstate(invalid="ignore"):
        want = np.exp(-(v**2)) * np.sin(3 * v) + 0.5 * np.tanh(v)
    np.testing.assert_allclose(f(v), want, rtol=1e-15, atol=1e-300)


def test_mlp_layer_bias_and_tanh_are_one_composite() -> None:
    x, w, b = T.dmatrix("x"), T.dmatrix("w"), T.dvector("b")
    f = tensorc.function([x, w, b], T.tanh(T.dot(x, w) + b))
    assert _names(f) == ["tc.matmul", "tc.composite", "func.return"]
    (composite,) = _composites(f.maker.module)
    assert [v.type for v in composite.inputs][1] == tc.tensor_type("float64", (None,))
    lowered = _lowered(f)
    assert _allocs(lowered) == 2  # the product and the layer: no broadcast copy of b
    rng = np.random.default_rng(0)
    xv, wv, bv = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    np.testing.assert_allclose(f(xv, wv, bv), np.tanh(xv @ wv + bv), rtol=1e-14)


def test_softmax_is_one_loop_nest() -> None:
    x = T.dmatrix("x")
    f = tensorc.function([x], T.nnet.softmax(x))
    assert len(_composites(f.maker.module)) == 2  # exp(x - max) and the division
    lowered = _lowered(f)
    assert _loop_nests(lowered) <= 2
    assert _loop_nests(lowered) == 1  # max, exp, sum and divide, row by row
    v = np.random.default_rng(1).normal(size=(6, 9)) * 50
    e = np.exp(v - v.max(axis=1, keepdims=True))
    np.testing.assert_allclose(f(v), e / e.sum(axis=1, keepdims=True), rtol=1e-14)


def test_reductions_compute_their_producers_in_one_loop_nest() -> None:
    x, y, z = T.dvector("x"), T.dvector("y"), T.dmatrix("z")
    f = tensorc.function([x, y], T.sum(x * y))
    assert _names(f) == ["tc.composite", "tc.sum", "func.return"]
    lowered = _lowered(f)
    assert (_loop_nests(lowered), _allocs(lowered)) == (1, 1)  # only the 0-d result
    g = tensorc.function([z], T.max(T.exp(z) * 2 - z, axis=1))
    lowered = _lowered(g)
    assert (_loop_nests(lowered), _allocs(lowered)) == (1, 1)
    rng = np.random.default_rng(2)
    xv, yv, zv = rng.normal(size=7), rng.normal(size=7), rng.normal(size=(4, 5))
    np.testing.assert_allclose(f(xv, yv), np.sum(xv * yv), rtol=1e-14)
    np.testing.assert_allclose(g(zv), np.max(np.exp(zv) * 2 - zv, axis=1), rtol=1e-15)
    zv[2, 3] = np.nan
    assert np.isnan(g(zv)[2]) and not np.isnan(g(zv)[[0, 1, 3]]).any()


def test_single_ops_stay_unfused() -> None:
    x = T.dvector("x")
    f = tensorc.function([x], x * 2.0)
    assert "tc.composite" not in _names(f)
    assert tensorc.pp(f.maker.fgraph.outputs[0]) == "(x * 2.0)"


# ---------------------------------------------------------------------------------
# Convexity, multiple outputs, the input limit
# ---------------------------------------------------------------------------------


def test_a_path_through_a_reduction_splits_the_cluster() -> None:
    """a -> sum(a) -> b with a and b elementwise: fusing a and b would need the sum
    both before and after the composite."""
    x = T.dvector("x")
    a = T.exp(x) + 1.0
    b = (a / T.sum(a)) * 3.0
    module, fused = _unfused_and_fused([x], [b])
    names = [op.name for op in _main(fused).ops]
    assert names.count("tc.composite") == 2
    first, second = _composites(fused)
    total = next(op for op in _main(fused).ops if isinstance(op, tc.SumOp))
    assert total.input is first.outputs[0] and total.result in second.inputs
    v = np.array([0.5, -1.0, 2.0, np.inf])
    _assert_same(
        interp.run_function(fused, [v])[0], interp.run_function(module, [v])[0]
    )


def test_a_path_through_a_transpose_splits_the_cluster() -> None:
    x = T.dmatrix("x")
    a = T.sin(x) * 2.0
    c = (a + a.T) * 0.5
    module, fused = _unfused_and_fused([x], [c])
    for composite in _composites(fused):
        expression = composite.expression.data  # type: ignore[union-attr]
        assert not ("sin" in expression and "add" in expression)
    v = np.arange(9.0).reshape(3, 3)
    _assert_same(
        interp.run_function(fused, [v])[0], interp.run_function(module, [v])[0]
    )


def test_a_side_path_splits_the_later_consumer_off() -> None:
    """u feeds both v (directly) and a reduction whose result v also reads:
    v cannot join u's cluster, but u's other elementwise consumers can."""
    x = T.dmatrix("x")
    u = T.exp(x) * 2.0
    w = u + 1.0
    v = u * T.max(u, axis=1, keepdims=True)
    module, fused = _unfused_and_fused([x], [v, w])
    block = _main(fused)
    assert [op.name for op in block.ops].count("tc.composite") == 2
    first = _composites(fused)[0]
    assert len(first.outputs) == 2  # u (for the max and v) and w
    v_in = np.random.default_rng(3).normal(size=(3, 4))
    for got, want in zip(
        interp.run_function(fused, [v_in]), interp.run_function(module, [v_in])
    ):
        _assert_same(got, want)


def test_multiple_outputs_and_clients() -> None:
    x, y = T.dvectors("x", "y")
    a = T.exp(x) * y
    b = a + 1.0
    c = T.sqrt(T.abs(a)) - b
    f = tensorc.function([x, y], [a, b, c, T.sum(b)])
    (composite,) = _composites(f.maker.module)
    assert len(composite.outputs) == 3  # a, b, c each have users outside
    assert (
        tensorc.pp(f.maker.fgraph.outputs[1])
        == "Composite{((exp(i0) * i1) + 1.0)}.1(x, y)"
    )
    xv, yv = np.array([0.0, 1.0, -2.0]), np.array([3.0, -1.0, 0.5])
    av = np.exp(xv) * yv
    got = f(xv, yv)
    for value, want in zip(
        got, [av, av + 1, np.sqrt(np.abs(av)) - (av + 1), np.sum(av + 1)]
    ):
        np.testing.assert_allclose(value, want, rtol=1e-15)


def _sum_of(n: int) -> tuple[list[object], object]:
    xs = T.dvectors(*(f"x{i}" for i in range(n)))
    total = T.exp(xs[0])
    for x in xs[1:]:
        total = total * 0.5 + x
    return xs, total


def test_max_inputs_splits_deterministically() -> None:
    xs, total = _sum_of(10)
    module, fused = _unfused_and_fused(xs, [total], max_inputs=4)
    composites = _composites(fused)
    assert [len(c.inputs) for c in composites] == [4, 4, 4]
    assert all(len(c.inputs) <= 4 for c in composites)
    _, again = _unfused_and_fused(xs, [total], max_inputs=4)
    assert str(fused) == str(again)
    args = [np.full(3, float(i)) for i in range(10)]
    _assert_same(
        interp.run_function(fused, args)[0], interp.run_function(module, args)[0]
    )
    _, unlimited = _unfused_and_fused(xs, [total])
    assert len(_composites(unlimited)) == 1


def test_fusing_twice_merges_composites_and_keeps_results() -> None:
    xs, total = _sum_of(6)
    module, fused = _unfused_and_fused(xs, [total], max_inputs=3)
    assert len(_composites(fused)) > 1
    FuseElemwisePass().apply(pipeline.make_context(), fused)
    fused.verify()
    (merged,) = _composites(fused)
    assert merged.expression is not None
    assert composite_expression.parse(merged.expression.data).text() == (
        merged.expression.data
    )
    args = [np.linspace(-1, 1, 4) * i for i in range(6)]
    _assert_same(
        interp.run_function(fused, args)[0], interp.run_function(module, args)[0]
    )


def test_a_broadcast_whose_size_is_not_implied_stays_an_op() -> None:
    """The target size comes from an unrelated tensor: the broadcast keeps its
    own run-time check instead of becoming an index map."""
    text = """
    func.func @main(%x: tensor<?xf64>, %b: tensor<1xf64>, %n: tensor<i64>)
        -> tensor<?xf64> {
      %e = tc.exp %x : tensor<?xf64>
      %bb = tc.broadcast %b (%n) : tensor<1xf64>, tensor<i64> -> tensor<?xf64>
      %s = tc.add %e, %bb : tensor<?xf64>
      %t = tc.mul %s, %s : tensor<?xf64>
      func.return %t : tensor<?xf64>
    }
    """
    ctx = pipeline.make_context()
    module = Parser(ctx, text).parse_module()
    FuseElemwisePass().apply(ctx, module)
    names = [op.name for op in _main(module).ops]
    assert names == ["tc.broadcast", "tc.composite", "func.return"]
    with pytest.raises(ShapeError, match="lhs dim 0 differs|dim 0 of input #1"):
        interp.run_function(module, [np.ones(3), np.ones(1), np.array(4)])


# ---------------------------------------------------------------------------------
# Source locations
# ---------------------------------------------------------------------------------


def _line_of(marker: str) -> int:
    source = Path(__file__).read_text().splitlines()
    return next(i + 1 for i, line in enumerate(source) if marker in line)


def test_composites_keep_every_absorbed_location() -> None:
    x = T.dvector("x")
    a = T.exp(x) * 2.0  # LOCATION-A
    b = T.sin(a) + x  # LOCATION-B
    f = tensorc.function([x], b)
    (composite,) = _composites(f.maker.module)
    assert isinstance(composite.location, FusedLoc)
    text = tc.location_text(composite)
    for marker in ("LOCATION-A", "LOCATION-B"):
        assert f"test_fuse_elemwise.py:{_line_of(marker)}" in text
    body_names = {
        op.location.desc.data
        for op in composite.block.ops  # type: ignore[attr-defined]
        if not isinstance(op, tc.YieldOp | arith.ConstantOp)
    }
    assert body_names == {"tc.exp", "tc.mul", "tc.sin", "tc.add"}


@pytest.mark.parametrize("mode", ["FAST_RUN", "REFERENCE"])
def test_shape_errors_inside_a_fused_kernel_name_the_user_line(mode: str) -> None:
    x, y, z = T.dvectors("x", "y", "z")
    a = T.exp(x) * 2.0
    b = a + y  # MISMATCH-ADD
    c = T.tanh(b) * z  # MISMATCH-MUL
    f = tensorc.function([x, y, z], c, mode=mode)
    (composite,) = _composites(f.maker.module)
    ok = np.ones(3)
    np.testing.assert_allclose(f(ok, ok, ok), np.tanh(np.exp(ok) * 2 + 1), rtol=1e-15)
    add_line = f"test_fuse_elemwise.py:{_line_of('MISMATCH-ADD')}"
    mul_line = f"test_fuse_elemwise.py:{_line_of('MISMATCH-MUL')}"
    with pytest.raises(
        ShapeError,
        match=rf"tc\.add \(created at [^)]*{add_line}\)"
        r".*\(got 4 and 3\)",
    ):
        f(ok, np.ones(4), ok)
    with pytest.raises(ShapeError, match=rf"tc\.mul \(created at [^)]*{mul_line}\)"):
        f(ok, ok, np.ones(5))
    assert len(composite.inputs) == 3


# ---------------------------------------------------------------------------------
# Numerical agreement: fused vs unfused reference, C vs reference
# ---------------------------------------------------------------------------------


def _float_graphs(dtype: str) -> tuple[list[object], list[object]]:
    x, y = T.vector("x", dtype=dtype), T.vector("y", dtype=dtype)
    m = T.matrix("m", dtype=dtype)
    outs = [
        T.exp(-(x**2)) * T.sin(3 * x) + 0.5 * T.tanh(x),
        T.nnet.sigmoid(x * y) - T.nnet.softplus(y - x),
        T.switch(x > y, T.log1p(T.abs(x)), T.expm1(y) / (x + 1)),
        T.maximum(x, y) * T.minimum(x, 2.0) + T.sqrt(T.abs(y)),
        (x // (y + 0.25)) + T.mod(x, y - 0.5) + x**2 - T.round(y) + T.floor(x),
        T.cast(T.cast(x * 3, "int32") + 1, dtype) * T.sgn(y),
        (m * 2 + x).sum(axis=1) + T.max(T.cos(m) - y, axis=1),
        T.argmax(m * -1 + x, axis=1),
    ]
    return [x, y, m], outs


def _float_inputs(dtype: str) -> list[np.ndarray]:
    with np.errstate(all="ignore"):
        v = SPECIAL.astype(dtype)
        w = np.roll(SPECIAL, 3).astype(dtype)
        m = np.stack([v, w, v * w, v - w]).astype(dtype)
    return [v, w, m]


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_fused_float_kernels_agree_with_the_reference(dtype: str) -> None:
    inputs, outputs = _float_graphs(dtype)
    args = _float_inputs(dtype)
    module, fused = _unfused_and_fused(inputs, outputs)
    assert len(_composites(fused)) >= 6
    unfused = interp.run_function(module, args)
    reference = interp.run_function(fused, args)
    rtol = {"float64": 1e-13, "float32": 1e-5, "float16": 2e-3}[dtype]
    for got, want in zip(reference, unfused):
        _assert_same(got, want, rtol)
    compiled = tensorc.function(inputs, outputs, mode="FAST_RUN")
    assert compiled.source is not None and "tensorc_entry" in compiled.source
    for got, want in zip(compiled(*args), reference):
        _assert_same(np.asarray(got), want, rtol)


def test_fused_integer_and_bool_kernels_agree_with_the_reference() -> None:
    i, j = T.ivectors("i", "j")
    b = T.bvector("b")
    outs = [
        (i // j) + (i % j) * 3 - T.abs(i) ** 2,
        T.switch(T.and_(i > j, T.or_(i < 0, T.eq(j, 0))), i * j, -i) + T.maximum(i, j),
        T.xor(i, j) + T.invert(i) * T.sgn(j) + (b * 2 + 1),
        T.cast(i, "float64") / 3.0 + T.cast(j > 2, "float64"),
        T.cast(T.cast(i, "int8") * 100 + b, "int16") - 7,
        T.sum(i * j + 1) + T.prod(j * 0 + 2),
    ]
    lo, hi = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    iv = np.array([0, 1, -1, 7, -7, lo, hi, 100, -3, 5, 2, 0], dtype=np.int32)
    jv = np.array([0, 0, -1, 2, -2, -1, 1, 0, 3, -5, 7, 4], dtype=np.int32)
    bv = np.array([0, 1, -1, 127, -128, 3, 5, 0, 1, 2, -3, 9], dtype=np.int8)
    module, fused = _unfused_and_fused([i, j, b], outs)
    assert len(_composites(fused)) >= 5
    unfused = interp.run_function(module, [iv, jv, bv])
    reference = interp.run_function(fused, [iv, jv, bv])
    for got, want in zip(reference, unfused):
        _assert_same(got, want)
    compiled = tensorc.function([i, j, b], outs, mode="FAST_RUN")
    for got, want in zip(compiled(iv, jv, bv), reference):
        _assert_same(np.asarray(got), want)


def _elementwise_op(cls: type, dtype: str, result_dtype: str) -> Operation | None:
    """A verified `cls` op on tensor<3x{dtype}> operands giving result_dtype, or
    None if the op does not accept that combination."""
    t = tc.tensor_type(dtype, (3,))
    arity = len(cls.get_irdl_definition().operands)
    types = [
        tc.tensor_type("bool", (3,)) if cls is tc.SelectOp and k == 0 else t
        for k in range(arity)
    ]
    operands = Block(arg_types=types).args
    try:
        op = cls.make(list(operands), [tc.tensor_type(result_dtype, (3,))], {})
        op.verify()
    except Exception:  # noqa: BLE001 - a combination the op does not accept
        return None
    return op


def test_every_scalar_op_of_the_elementwise_registry_has_numpy_semantics() -> None:
    """Each ELEMENTWISE builder, for every dtype it accepts, emits only ops the
    reference interpreter runs (and the C emitter prints)."""
    from tensorc.lowering.cpu.c_expr import C_EXPR

    assert set(SCALAR_NUMPY) <= set(C_EXPR)
    seen: set[type[Operation]] = set()
    dtypes = ("float16", "float32", "float64", "int8", "int32", "int64", "bool")
    for cls, build in ELEMENTWISE.items():
        for dtype in dtypes:
            for result_dtype in (dtype, "bool", "float32"):
                op = _elementwise_op(cls, dtype, result_dtype)
                if op is None:
                    continue
                types = [v.type for v in op.operands]
                block = Block(arg_types=[t.get_element_type() for t in types])
                build(Builder(InsertPoint.at_end(block)), list(block.args), op)
                seen.update(type(o) for o in block.ops)
    assert tc.HashUniformOp in {
        type(_elementwise_op(c, "int64", "float32")) for c in ELEMENTWISE
    }
    seen.discard(arith.ConstantOp)
    assert seen <= set(SCALAR_NUMPY), sorted(c.name for c in seen - set(SCALAR_NUMPY))


# ---------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------


def test_pp_and_debugprint_of_fused_graphs() -> None:
    x, y, z = T.dvectors("x", "y", "z")
    f = tensorc.function([x, y, z], x * (y + 2.0 * z), mode="REFERENCE")
    out = f.maker.fgraph.outputs[0]
    assert tensorc.pp(out) == "Composite{(i0 * (i1 + (2.0 * i2)))}(x, y, z)"
    text = debugprint(f, file=io.StringIO())
    assert text.splitlines()[0] == "Composite{(i0 * (i1 + (2.0 * i2)))} [id A]"
    assert "Inner graphs:" in text
    inner = text.split("Inner graphs:")[1]
    for name in ("mul", "add", "i0", "i1", "i2", "TensorConstant{2.0}"):
        assert re.search(rf"> *\|?{re.escape(name)} \[id", inner), name
    typed = debugprint(f, file=io.StringIO(), print_type=True)
    assert "[id A] <TensorType(float64, shape=(?,))>" in typed
    assert "mul [id" in typed and "<TensorType(float64, shape=())>" in typed


def test_recipe_text_round_trips() -> None:
    text = (
        "mul(i0, -2.5); cast{float32}(%0); gt(%1, nan); select(%2, i1, True) -> %3, %1"
    )
    recipe = composite_expression.parse(text)
    assert recipe.text() == text
    assert recipe.steps[1].dtype == "float32" and recipe.steps[3].args[2] is True


# ---------------------------------------------------------------------------------
# Speed
# ---------------------------------------------------------------------------------


def _chain(n: int) -> ModuleOp:
    t = TensorType(f64, [tc.DYNAMIC])
    fn = func.FuncOp("main", ([t, t], [t]))
    b = Builder(InsertPoint.at_end(fn.body.block))
    x, y = fn.body.block.args
    binary = [tc.AddOp, tc.MulOp, tc.SubOp]
    v = x
    for i in range(n):
        if i % 7 == 3:
            v = b.insert(tc.TanhOp(v)).results[0]
        else:
            v = b.insert(binary[i % 3](v, y)).results[0]
    b.insert(func.ReturnOp(v))
    return ModuleOp([fn])


def test_fusing_a_5000_op_chain_is_fast() -> None:
    module = _chain(5000)
    start, cpu_start = time.perf_counter(), time.process_time()
    FuseElemwisePass().apply(pipeline.make_context(), module)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    print(f"\ntc-fuse-elemwise on a 5000-op chain: {elapsed:.3f} s ({cpu:.3f} s CPU)")
    assert [op.name for op in _main(module).ops] == ["tc.composite", "func.return"]
    assert elapsed < 5.0
    small = _chain(40)
    reference = interp.run_function(small, [np.linspace(-1, 1, 5), np.full(5, 0.5)])
    FuseElemwisePass().apply(pipeline.make_context(), small)
    fused = interp.run_function(small, [np.linspace(-1, 1, 5), np.full(5, 0.5)])
    _assert_same(fused[0], reference[0])


def test_two_clusters_never_feed_each_other():
    """A (?)-shaped cluster reads a 0-d cluster's value (through a broadcast) while a
    0-d op reads a reduction of the first cluster: merging that op into the 0-d
    cluster would make the two composites feed each other (the tutorial's logistic
    regression step with its mean and its gradient)."""
    import tensorc

    x, y = T.dmatrix("x"), T.dvector("y")
    w = tensorc.shared(np.zeros(5), name="w")
    b = tensorc.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w**2).sum()
    gw, gb = T.grad(cost, [w, b])
    outs = [p_1 > 0.5, xent.mean(), w - 0.1 * gw, b - 0.1 * gb]
    data = np.random.default_rng(0).standard_normal((3, 5))
    got = [tensorc.function([x, y], outs, mode=m)(data, np.ones(3))
           for m in ("FAST_RUN", "REFERENCE")]
    for a, b_ in zip(*got):
        np.testing.assert_allclose(a, b_, rtol=1e-12)
