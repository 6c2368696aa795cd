"""tc-bufferize: every op family lowers to verified IR of upstream dialects only, the
result follows the bufferized-IR contract, and unknown ops fail loudly."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from xdsl.dialects import arith, func, memref, scf
from xdsl.dialects.builtin import (
    FileLineColLoc,
    IntAttr,
    MemRefType,
    ModuleOp,
    NoneAttr,
    StringAttr,
    TensorType,
)
from xdsl.parser import Parser

from tensorc.dialects import tc
from tensorc.errors import LoweringError, ShapeError
from tensorc.lowering.elementwise import ELEMENTWISE
from tensorc.lowering.legality import check_lowered
from tensorc.passes.bufferize import LOWERINGS, BufferizePass
from tensorc.pipeline import make_context

ELEMENTWISE_IR = """
func.func @main(%x: tensor<?x4xf64>, %y: tensor<?x4xf64>, %i: tensor<?x4xi32>,
                %j: tensor<?x4xi32>, %m: tensor<?x4xi1>, %f: tensor<3xf32>,
                %h: tensor<3xf16>, %k: tensor<3xi8>) -> (
    tensor<?x4xf64>, tensor<?x4xi32>, tensor<?x4xf64>, tensor<?x4xi1>, tensor<3xf32>,
    tensor<3xf32>, tensor<3xf16>, tensor<?x4xi32>, tensor<?x4xf64>, tensor<?x4xi32>,
    tensor<3xi8>, tensor<?x4xi1>, tensor<?x4xi1>, tensor<?x4xf64>, tensor<?x4xi32>,
    tensor<?x4xi1>, tensor<3xf64>, tensor<3xi8>, tensor<3xf16>, tensor<3xi1>) {
  %neg = tc.neg %x : tensor<?x4xf64>
  %abs = tc.abs %i : tensor<?x4xi32>
  %sign = tc.sign %x : tensor<?x4xf64>
  %not = tc.not %m : tensor<?x4xi1>
  %sigmoid = tc.sigmoid %f : tensor<3xf32>
  %softplus = tc.softplus %f : tensor<3xf32>
  %round = tc.round %h : tensor<3xf16>
  %floordiv = tc.floordiv %i, %j : tensor<?x4xi32>
  %mod = tc.mod %x, %y : tensor<?x4xf64>
  %pow = tc.pow %i, %j : tensor<?x4xi32>
  %powk = tc.pow %k, %k : tensor<3xi8>
  %lt = tc.lt %x, %y : tensor<?x4xf64> -> tensor<?x4xi1>
  %gt = tc.gt %m, %m : tensor<?x4xi1> -> tensor<?x4xi1>
  %select = tc.select %m, %x, %y : tensor<?x4xi1>, tensor<?x4xf64>
  %maximum = tc.maximum %i, %j : tensor<?x4xi32>
  %xor = tc.xor %m, %not : tensor<?x4xi1>
  %wide = tc.cast %f : tensor<3xf32> to tensor<3xf64>
  %narrow = tc.cast %f : tensor<3xf32> to tensor<3xi8>
  %fromb = tc.cast %k : tensor<3xi8> to tensor<3xf16>
  %tob = tc.cast %h : tensor<3xf16> to tensor<3xi1>
  func.return %neg, %abs, %sign, %not, %sigmoid, %softplus, %round, %floordiv, %mod,
      %pow, %powk, %lt, %gt, %select, %maximum, %xor, %wide, %narrow, %fromb, %tob
      : tensor<?x4xf64>, tensor<?x4xi32>, tensor<?x4xf64>, tensor<?x4xi1>,
      tensor<3xf32>, tensor<3xf32>, tensor<3xf16>, tensor<?x4xi32>, tensor<?x4xf64>,
      tensor<?x4xi32>, tensor<3xi8>, tensor<?x4xi1>, tensor<?x4xi1>, tensor<?x4xf64>,
      tensor<?x4xi32>, tensor<?x4xi1>, tensor<3xf64>, tensor<3xi8>, tensor<3xf16>,
      tensor<3xi1>
}
"""

STRUCTURAL_IR = """
func.func @main(%x: tensor<?x4xf64>, %v: tensor<4xf64>, %n: tensor<i64>,
                %h: tensor<2x3xf16>, %q: tensor<?x?xi32>, %p: tensor<?x?xf32>) -> (
    tensor<?x4xf64>, tensor<2x3xf64>, tensor<?xf64>, tensor<1x4xf64>, tensor<f64>,
    tensor<2xf16>, tensor<1x1xi64>, tensor<?xi64>, tensor<?xf64>, tensor<4x?xf64>,
    tensor<?x?xf64>, tensor<f64>, tensor<?xf64>, tensor<2x2xf64>, tensor<?x2xf64>,
    tensor<4xf64>, tensor<3x4xf64>, tensor<3xf64>, tensor<?x4xf64>, tensor<i64>,
    tensor<?xi64>, tensor<?x?xi32>, tensor<?x?xf32>, tensor<3xi64>, tensor<2x2xi1>,
    tensor<0x3xi8>, tensor<?xf32>) {
  %splat = tc.constant dense<2.5> : tensor<f64>
  %list = tc.constant dense<[1, 2, -3]> : tensor<3xi64>
  %bools = tc.constant dense<[[true, false], [false, true]]> : tensor<2x2xi1>
  %empty = tc.constant dense<> : tensor<0x3xi8>
  %b = tc.broadcast %v(%n) : tensor<4xf64>, tensor<i64> -> tensor<?x4xf64>
  %b1 = tc.broadcast %splat() : tensor<f64>, -> tensor<2x3xf64>
  %sum = tc.sum %x axes = array<i64: 1> : tensor<?x4xf64> -> tensor<?xf64>
  %prod = tc.prod %x axes = array<i64: 0> keepdims : tensor<?x4xf64> -> tensor<1x4xf64>
  %max = tc.max %x axes = array<i64: 0, 1> : tensor<?x4xf64> -> tensor<f64>
  %min = tc.min %h axes = array<i64: 1> : tensor<2x3xf16> -> tensor<2xf16>
  %argmax = tc.argmax %x axes = array<i64: 0, 1> keepdims : tensor<?x4xf64> -> tensor<1x1xi64>
  %argmin = tc.argmin %x axes = array<i64: 1> : tensor<?x4xf64> -> tensor<?xi64>
  %mv = tc.matmul %x, %v : tensor<?x4xf64>, tensor<4xf64> -> tensor<?xf64>
  %t = tc.transpose %x perm = array<i64: 1, 0> : tensor<?x4xf64> -> tensor<4x?xf64>
  %mm = tc.matmul %x, %t : tensor<?x4xf64>, tensor<4x?xf64> -> tensor<?x?xf64>
  %vv = tc.matmul %v, %v : tensor<4xf64>, tensor<4xf64> -> tensor<f64>
  %r = tc.reshape %x(%n) : tensor<?x4xf64>, tensor<i64> -> tensor<?xf64>
  %r2 = tc.reshape %v() : tensor<4xf64>, -> tensor<2x2xf64>
  %s = tc.slice %x[%n] starts = array<i64: -9223372036854775808, 0> stops = array<i64: 4611686018427387904, 4> steps = array<i64: 1, 2> : tensor<?x4xf64>, tensor<i64> -> tensor<?x2xf64>
  %s2 = tc.slice %v[] starts = array<i64: 3> stops = array<i64: -4611686018427387904> steps = array<i64: -1> : tensor<4xf64>, -> tensor<4xf64>
  %g = tc.gather %x[%list] : tensor<?x4xf64>, tensor<3xi64> -> tensor<3x4xf64>
  %g2 = tc.gather %x[%list, %list] : tensor<?x4xf64>, tensor<3xi64>, tensor<3xi64> -> tensor<3xf64>
  %c = tc.concatenate %x, %b axis(0) : tensor<?x4xf64>, tensor<?x4xf64> -> tensor<?x4xf64>
  %d = tc.dim %x[0] : tensor<?x4xf64>
  %a = tc.arange %n, %d, %n : tensor<i64> -> tensor<?xi64>
  %qq = tc.matmul %q, %q : tensor<?x?xi32>, tensor<?x?xi32> -> tensor<?x?xi32>
  %pp = tc.matmul %p, %p : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  %one = tc.constant dense<1.0> : tensor<f32>
  %ten = tc.constant dense<10.0> : tensor<f32>
  %fa = tc.arange %one, %ten, %one : tensor<f32> -> tensor<?xf32>
  func.return %c, %b1, %sum, %prod, %max, %min, %argmax, %argmin, %mv, %t, %mm, %vv,
      %r, %r2, %s, %s2, %g, %g2, %x, %d, %a, %qq, %pp, %list, %bools, %empty, %fa
      : tensor<?x4xf64>, tensor<2x3xf64>, tensor<?xf64>, tensor<1x4xf64>, tensor<f64>,
      tensor<2xf16>, tensor<1x1xi64>, tensor<?xi64>, tensor<?xf64>, tensor<4x?xf64>,
      tensor<?x?xf64>, tensor<f64>, tensor<?xf64>, tensor<2x2xf64>, tensor<?x2xf64>,
      tensor<4xf64>, tensor<3x4xf64>, tensor<3xf64>, tensor<?x4xf64>, tensor<i64>,
      tensor<?xi64>, tensor<?x?xi32>, tensor<?x?xf32>, tensor<3xi64>, tensor<2x2xi1>,
      tensor<0x3xi8>, tensor<?xf32>
}
"""

GRADIENT_OPS_IR = """
func.func @main(%s: tensor<?x1xf32>, %x: tensor<?x4xf32>, %i: tensor<?xi64>,
                %u: tensor<?x4xf32>, %n: tensor<i64>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %y = tc.insert_slice %s into %x [%n] starts = array<i64: -9223372036854775808, 1>
         stops = array<i64: 4611686018427387904, 2> steps = array<i64: 2, 1>
         : tensor<?x1xf32>, tensor<?x4xf32>, tensor<i64>
  %z = tc.scatter_add %u into %x [%i] : tensor<?x4xf32>, tensor<?x4xf32>, tensor<?xi64>
  func.return %y, %z : tensor<?x4xf32>, tensor<?x4xf32>
}
"""

ALIASES_IR = """
func.func @main(%x: tensor<?xf64>) -> (tensor<?xf64>, tensor<?xf64>, tensor<?xf64>,
                                       tensor<?xf64>) {
  %y = tc.exp %x : tensor<?xf64>
  func.return %x, %y, %y, %x : tensor<?xf64>, tensor<?xf64>, tensor<?xf64>,
      tensor<?xf64>
}
"""

UPSTREAM_OPS = {
    "func.func",
    "func.return",
    "func.call",
    "scf.for",
    "scf.yield",
    "scf.if",
    "memref.alloc",
    "memref.dealloc",
    "memref.load",
    "memref.store",
    "memref.dim",
    "memref.global",
    "memref.get_global",
    "memref.cast",  # static -> dynamic dims for the gemm call (same buffer)
    "cf.assert",
}
"""Ops allowed after tc-bufferize, besides every arith and math op."""


def parse(text: str) -> ModuleOp:
    module = Parser(make_context(), text).parse_module()
    module.verify()
    return module


def bufferize(text: str) -> ModuleOp:
    module = parse(text)
    BufferizePass().apply(make_context(), module)
    module.verify()
    return module


def lowered_op_names(module: ModuleOp) -> set[str]:
    return {op.name for op in module.walk() if op is not module}


PROGRAMS = {
    "elementwise": ELEMENTWISE_IR,
    "structural": STRUCTURAL_IR,
    "gradient_ops": GRADIENT_OPS_IR,
}


@pytest.fixture(scope="module", params=list(PROGRAMS))
def lowered(request: pytest.FixtureRequest) -> tuple[ModuleOp, ModuleOp]:
    """(the tc program, its bufferized form)."""
    return parse(PROGRAMS[request.param]), bufferize(PROGRAMS[request.param])


def test_registries_cover_every_op() -> None:
    assert set(ELEMENTWISE) == set(tc.ELEMENTWISE_OPS)
    # tc-autodiff expands tc.grad and erases tc.stop_gradient before bufferization
    assert set(LOWERINGS) == set(tc.ALL_OPS) - {tc.GradOp, tc.StopGradientOp}


def test_every_op_family_is_in_the_test_ir() -> None:
    names = {op.name for text in PROGRAMS.values() for op in parse(text).walk()}
    families = {
        "tc.neg",
        "tc.constant",
        "tc.broadcast",
        "tc.sum",
        "tc.argmax",
        "tc.matmul",
        "tc.transpose",
        "tc.reshape",
        "tc.slice",
        "tc.gather",
        "tc.concatenate",
        "tc.dim",
        "tc.arange",
        "tc.cast",
        "tc.select",
        "tc.lt",
        "tc.floordiv",
        "tc.insert_slice",
        "tc.scatter_add",
    }
    assert families <= names


def test_only_upstream_dialects_remain(lowered: tuple[ModuleOp, ModuleOp]) -> None:
    names = lowered_op_names(lowered[1])
    assert not any(n.startswith("tc.") for n in names)
    extra = {n for n in names if not n.startswith(("arith.", "math."))} - UPSTREAM_OPS
    assert not extra


def test_signature_is_memrefs_in_order(lowered: tuple[ModuleOp, ModuleOp]) -> None:
    original, bufferized = lowered
    main = next(
        op
        for op in bufferized.ops
        if isinstance(op, func.FuncOp) and op.sym_name.data == "main"
    )
    before = next(op for op in original.ops if isinstance(op, func.FuncOp))
    for old, new in zip(
        [*before.function_type.inputs, *before.function_type.outputs],
        [*main.function_type.inputs, *main.function_type.outputs],
        strict=True,
    ):
        assert isinstance(old, TensorType) and isinstance(new, MemRefType)
        assert new.get_shape() == old.get_shape()
        assert new.element_type == old.get_element_type()
        assert isinstance(new.layout, NoneAttr)  # identity layout
        assert isinstance(new.memory_space, NoneAttr)


def test_allocs_only_at_top_level(lowered: tuple[ModuleOp, ModuleOp]) -> None:
    for op in lowered[1].walk():
        if isinstance(op, memref.AllocOp):
            assert isinstance(op.parent_op(), func.FuncOp)


def test_results_are_fresh_allocations(lowered: tuple[ModuleOp, ModuleOp]) -> None:
    for op in lowered[1].walk():
        if isinstance(op, func.ReturnOp):
            owners = [v.owner for v in op.arguments]
            assert all(isinstance(o, memref.AllocOp) for o in owners)
            assert len(set(map(id, op.arguments))) == len(op.arguments)


def test_arguments_and_repeated_results_are_copied() -> None:
    module = bufferize(ALIASES_IR)
    main = next(op for op in module.ops if isinstance(op, func.FuncOp))
    ret = main.get_return_op()
    assert ret is not None
    assert len({id(v) for v in ret.arguments}) == 4
    assert all(isinstance(v.owner, memref.AllocOp) for v in ret.arguments)


def test_gemm_calls_are_declared(lowered: tuple[ModuleOp, ModuleOp]) -> None:
    calls = [op for op in lowered[1].walk() if isinstance(op, func.CallOp)]
    for call in calls:
        assert call.callee.root_reference.data in (
            "tensorc_gemm_f32",
            "tensorc_gemm_f64",
        )
        assert len(call.arguments) == 8
    declared = {
        op.sym_name.data
        for op in lowered[1].ops
        if isinstance(op, func.FuncOp) and op.is_declaration
    }
    assert declared == {c.callee.root_reference.data for c in calls}


def test_int_matmul_uses_loops_not_blas() -> None:
    module = bufferize(STRUCTURAL_IR)
    calls = {
        op.callee.root_reference.data
        for op in module.walk()
        if isinstance(op, func.CallOp)
    }
    assert calls == {"tensorc_gemm_f32", "tensorc_gemm_f64"}
    muls = [
        op
        for op in module.walk()
        if isinstance(op, arith.MuliOp) and op.result.type == tc.ELEMENT_TYPES["int32"]
    ]
    assert muls  # the i32 product is a loop with arith.muli


def test_non_splat_constants_become_globals() -> None:
    module = bufferize(STRUCTURAL_IR)
    globals_ = [op for op in module.ops if isinstance(op, memref.GlobalOp)]
    assert len(globals_) == 2  # [1, 2, -3] and the bool matrix; the splat is a scalar
    assert all(g.constant is not None for g in globals_)


def test_splat_constant_is_a_scalar_in_the_loop() -> None:
    module = bufferize("""
    func.func @main(%x: tensor<?xf64>, %n: tensor<i64>) -> tensor<?xf64> {
      %c = tc.constant dense<2.5> : tensor<f64>
      %b = tc.broadcast %c(%n) : tensor<f64>, tensor<i64> -> tensor<?xf64>
      %y = tc.mul %x, %b : tensor<?xf64>
      func.return %y : tensor<?xf64>
    }""")
    loops = [op for op in module.walk() if isinstance(op, scf.ForOp)]
    assert len(loops) == 1  # no fill loop for the broadcast constant
    constants = [op for op in loops[0].walk() if isinstance(op, arith.ConstantOp)]
    assert any(str(c.value).startswith("2.5") for c in constants)


def test_elementwise_checks_dynamic_dims_with_location() -> None:
    module = bufferize("""
    func.func @main(%x: tensor<?x?xf64>, %y: tensor<?x?xf64>) -> tensor<?x?xf64> {
      %z = tc.add %x, %y : tensor<?x?xf64> loc("model.py":12:3)
      func.return %z : tensor<?x?xf64>
    }""")
    messages = [op.msg.data for op in module.walk() if op.name == "cf.assert"]
    assert messages == [
        "tc.add (created at model.py:12): lhs dim 0 differs from rhs dim 0",
        "tc.add (created at model.py:12): lhs dim 1 differs from rhs dim 1",
    ]


def test_static_shape_mismatch_is_a_compile_time_error() -> None:
    with pytest.raises(ShapeError, match=r"tc\.slice: result dim 0 differs"):
        bufferize("""
        func.func @main(%v: tensor<4xf64>) -> tensor<3xf64> {
          %s = tc.slice %v[] starts = array<i64: 0> stops = array<i64: 2> steps = array<i64: 1> : tensor<4xf64>, -> tensor<3xf64>
          func.return %s : tensor<3xf64>
        }""")


def test_grad_raises_lowering_error_with_location() -> None:
    module = parse("""
    func.func @main(%w: tensor<?xf64>) -> tensor<?xf64> {
      %cost = tc.sum %w axes = array<i64: 0> : tensor<?xf64> -> tensor<f64>
      %g = tc.grad %cost wrt %w : tensor<f64>, tensor<?xf64> -> tensor<?xf64> loc("net.py":7:1)
      func.return %g : tensor<?xf64>
    }""")
    with pytest.raises(
        LoweringError, match=r"tc\.grad \(created at net\.py:7\).*autodiff"
    ):
        BufferizePass().apply(make_context(), module)


def test_op_without_lowering_raises_lowering_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = parse(ALIASES_IR)
    exp = next(op for op in module.walk() if op.name == "tc.exp")
    exp.location = FileLineColLoc(StringAttr("model.py"), IntAttr(3), IntAttr(1))
    monkeypatch.delitem(LOWERINGS, type(exp))
    with pytest.raises(LoweringError, match=r"tc\.exp \(created at model\.py:3\)"):
        BufferizePass().apply(make_context(), module)


def test_stop_gradient_must_be_erased_by_autodiff() -> None:
    module = parse("""
    func.func @main(%x: tensor<?xf64>) -> tensor<?xf64> {
      %y = tc.stop_gradient %x : tensor<?xf64>
      func.return %y : tensor<?xf64>
    }""")
    with pytest.raises(LoweringError, match="tc.stop_gradient.*tc-autodiff"):
        BufferizePass().apply(make_context(), module)


def test_non_tc_op_on_tensors_raises_lowering_error() -> None:
    module = parse("""
    func.func @id(%x: tensor<?xf64>) -> tensor<?xf64> {
      func.return %x : tensor<?xf64>
    }
    func.func @main(%x: tensor<?xf64>) -> tensor<?xf64> {
      %y = func.call @id(%x) : (tensor<?xf64>) -> tensor<?xf64>
      func.return %y : tensor<?xf64>
    }""")
    with pytest.raises(LoweringError, match="func.call"):
        BufferizePass().apply(make_context(), module)


def test_legality_helper_names_surviving_ops() -> None:
    module = parse(ALIASES_IR)
    with pytest.raises(
        LoweringError, match=r"some-pass: 1 op\(s\) of dialect 'tc'.*tc\.exp"
    ):
        check_lowered(module, "tc", "some-pass")
    check_lowered(module, "scf", "some-pass")  # nothing of scf: no error


def test_pass_is_registered_by_name() -> None:
    from tensorc.pipeline import build

    (pass_,) = build("tc-bufferize").passes
    assert isinstance(pass_, BufferizePass)


def _mlir_opt() -> str | None:
    for candidate in ("mlir-opt", "mlir-opt-22", "/usr/lib/llvm-22/bin/mlir-opt"):
        found = shutil.which(candidate) or (
            candidate if os.path.isfile(candidate) else None
        )
        if found:
            return found
    return None


@pytest.mark.skipif(
    _mlir_opt() is None, reason="mlir-opt (mlir-22-tools) not installed"
)
def test_mlir_opt_verifies_bufferized_ir(lowered: tuple[ModuleOp, ModuleOp]) -> None:
    mlir_opt = _mlir_opt()
    assert mlir_opt is not None
    done = subprocess.run(
        [mlir_opt, "--verify-each"],
        input=str(lowered[1]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
