"""tc-canonicalize: each identity fires (and only when it holds), constant folding
agrees with the reference interpreter, types never change, and the pass is
idempotent and preserves what every function computes."""

import dataclasses

import numpy as np
import pytest
from xdsl.dialects.builtin import FileLineColLoc, ModuleOp
from xdsl.parser import Parser

from tensorc.dialects import tc
from tensorc.errors import ShapeError
from tensorc.passes import PASSES
from tensorc.passes.canonicalize import (
    MAX_FOLDED_ELEMENTS,
    PATTERNS,
    CanonicalizePass,
    splat_value,
)
from tensorc.pipeline import make_context
from tensorc.runtime.interp import run_function

CTX = make_context()


def parse(text: str) -> ModuleOp:
    module = Parser(CTX, text).parse_module()
    module.verify()
    return module


def canonicalize(text: str) -> ModuleOp:
    module = parse(text)
    CanonicalizePass().apply(CTX, module)
    module.verify()
    return module


def body_ops(module: ModuleOp, name: str = "main") -> list[str]:
    """Op names in @name's body, without the terminator."""
    function = next(op for op in module.walk() if getattr(op, "sym_name", None)
                    and op.sym_name.data == name)
    return [op.name for op in function.body.block.ops][:-1]


def function(args: str, results: str, body: str, returns: str) -> str:
    return (f"func.func @main({args}) -> ({results}) {{\n{body}\n"
            f"  func.return {returns} : {results}\n}}")


def test_pass_is_registered_frozen_and_documented() -> None:
    assert PASSES["tc-canonicalize"]() is CanonicalizePass
    assert CanonicalizePass.name == "tc-canonicalize"
    with pytest.raises(dataclasses.FrozenInstanceError):
        CanonicalizePass().name = "x"  # type: ignore[misc]
    for pattern in PATTERNS:
        doc = type(pattern).__doc__ or ""
        assert doc and "\n" not in doc.strip() and "->" in doc, type(pattern)


ONES = ("  %c1 = tc.constant dense<1.0> : tensor<f64>\n"
        "  %c0 = tc.constant dense<-0.0> : tensor<f64>\n"
        "  %one = tc.broadcast %c1(%n) : tensor<f64>, tensor<i64> -> tensor<?xf64>\n"
        "  %zero = tc.broadcast %c0(%n) : tensor<f64>, tensor<i64> -> tensor<?xf64>\n")


@pytest.mark.parametrize("expression,folds", [
    ("tc.mul %x, %one", True), ("tc.mul %one, %x", True), ("tc.add %x, %zero", True),
    ("tc.add %zero, %x", True), ("tc.sub %x, %zero", True), ("tc.div %x, %one", True),
    ("tc.pow %x, %one", True), ("tc.mul %x, %zero", False), ("tc.sub %zero, %x", False),
    ("tc.div %one, %x", False), ("tc.pow %one, %x", False), ("tc.add %x, %one", False),
    ("tc.maximum %x, %zero", False),
])
def test_identities_through_broadcast(expression: str, folds: bool) -> None:
    text = function("%x: tensor<?xf64>, %n: tensor<i64>", "tensor<?xf64>",
                    ONES + f"  %r = {expression} : tensor<?xf64>", "%r")
    module = canonicalize(text)
    op_name = expression.split()[0]
    assert (op_name not in body_ops(module)) == folds
    x = np.array([-0.0, 2.5, np.nan, -3.0])
    before = run_function(parse(text), [x, np.array(4)])[0]
    after = run_function(module, [x, np.array(4)])[0]
    np.testing.assert_array_equal(after, before)  # -0.0 == 0.0: signs may differ


def test_integer_identities_and_splat_constants_of_full_type() -> None:
    text = function(
        "%i: tensor<3xi32>", "tensor<3xi32>",
        "  %one = tc.constant dense<[1, 1, 1]> : tensor<3xi32>\n"
        "  %zero = tc.constant dense<0> : tensor<3xi32>\n"
        "  %a = tc.pow %i, %one : tensor<3xi32>\n"
        "  %b = tc.mul %one, %a : tensor<3xi32>\n"
        "  %c = tc.sub %b, %zero : tensor<3xi32>", "%c")
    assert body_ops(canonicalize(text)) == []


@pytest.mark.parametrize("body,remaining", [
    ("  %a = tc.neg %x : tensor<?xf64>\n  %r = tc.neg %a : tensor<?xf64>", []),
    ("  %a = tc.neg %x : tensor<?xf64>\n  %b = tc.neg %a : tensor<?xf64>\n"
     "  %r = tc.neg %b : tensor<?xf64>", ["tc.neg"]),
    ("  %r = tc.cast %x : tensor<?xf64> to tensor<?xf64>", []),
    ("  %a = tc.cast %x : tensor<?xf64> to tensor<?xf32>\n"
     "  %r = tc.cast %a : tensor<?xf32> to tensor<?xf64>", ["tc.cast", "tc.cast"]),
    ("  %n = tc.dim %x[0] : tensor<?xf64>\n"
     "  %r = tc.broadcast %x(%n) : tensor<?xf64>, tensor<i64> -> tensor<?xf64>", []),
])
def test_structural_identities(body: str, remaining: list[str]) -> None:
    text = function("%x: tensor<?xf64>", "tensor<?xf64>", body, "%r")
    assert body_ops(canonicalize(text)) == remaining


def test_dim_of_a_static_dim_becomes_a_constant() -> None:
    module = canonicalize(function(
        "%x: tensor<?x5xf32>", "tensor<i64>, tensor<i64>",
        "  %a = tc.dim %x[0] : tensor<?x5xf32>\n  %b = tc.dim %x[1] : tensor<?x5xf32>",
        "%a, %b"))
    assert body_ops(module) == ["tc.dim", "tc.constant"]
    constant = next(op for op in module.walk() if isinstance(op, tc.ConstantOp))
    assert tc.array_from_dense(constant.value) == 5


FOLDABLE_LINES = [
    "tc.{name} %p, %q : tensor<2x3xf64>",
    "tc.{name} %i, %j : tensor<2x3xi32>",
]


@pytest.mark.parametrize("name", list(tc.BINARY_OPS))
def test_binary_constant_folding_matches_the_interpreter(name: str) -> None:
    kinds = tc.BINARY_OPS[name].KINDS
    lines = [line for line, kind in zip(FOLDABLE_LINES, "fi") if kind in kinds]
    for line in lines or ["tc.{name} %m, %m : tensor<2x3xi1>"]:
        result_type = line.rsplit(" : ", 1)[1]
        text = function("", result_type, CONSTANTS + "  %r = " + line.format(name=name),
                        "%r")
        module = canonicalize(text)
        assert body_ops(module) == ["tc.constant"], (name, line)
        expected = run_function(parse(text), [])[0]
        np.testing.assert_array_equal(run_function(module, [])[0], expected)


CONSTANTS = (
    "  %p = tc.constant dense<[[1.5, -2.0, 0.0], [4.0, -0.5, 3.0]]> : tensor<2x3xf64>\n"
    "  %q = tc.constant dense<[[2.0, 0.0, -1.0], [0.5, 3.0, 3.0]]> : tensor<2x3xf64>\n"
    "  %i = tc.constant dense<[[7, -7, 0], [5, -128, 3]]> : tensor<2x3xi32>\n"
    "  %j = tc.constant dense<[[2, 0, 0], [-3, -1, 2]]> : tensor<2x3xi32>\n"
    "  %k = tc.constant dense<[[1, 0, -1], [-2, 1, 0]]> : tensor<2x3xi32>\n"
    "  %w = tc.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf64>\n"
    "  %m = tc.constant dense<[[true, false, true], [false, false, true]]> : "
    "tensor<2x3xi1>\n")


@pytest.mark.parametrize("line,result_type", [
    ("tc.sum %p axes = array<i64: 1> : tensor<2x3xf64> -> tensor<2xf64>",
     "tensor<2xf64>"),
    ("tc.argmin %i axes = array<i64: 0, 1> : tensor<2x3xi32> -> tensor<i64>",
     "tensor<i64>"),
    ("tc.matmul %p, %w : tensor<2x3xf64>, tensor<3x2xf64> -> tensor<2x2xf64>",
     "tensor<2x2xf64>"),
    ("tc.transpose %i perm = array<i64: 1, 0> : tensor<2x3xi32> -> tensor<3x2xi32>",
     "tensor<3x2xi32>"),
    ("tc.select %m, %p, %q : tensor<2x3xi1>, tensor<2x3xf64>", "tensor<2x3xf64>"),
    ("tc.cast %p : tensor<2x3xf64> to tensor<2x3xi8>", "tensor<2x3xi8>"),
    ("tc.exp %p : tensor<2x3xf64>", "tensor<2x3xf64>"),
    ("tc.lt %i, %j : tensor<2x3xi32> -> tensor<2x3xi1>", "tensor<2x3xi1>"),
    ("tc.gather %p[%k] : tensor<2x3xf64>, tensor<2x3xi32> -> tensor<2x3x3xf64>",
     "tensor<2x3x3xf64>"),
    ("tc.concatenate %p, %q axis(0) : tensor<2x3xf64>, tensor<2x3xf64> -> "
     "tensor<4x3xf64>",
     "tensor<4x3xf64>"),
    ("tc.slice %p[] starts = array<i64: 1, 2> stops = array<i64: -2, -3> steps = "
     "array<i64: -1, -1> : tensor<2x3xf64>, -> tensor<1x2xf64>", "tensor<1x2xf64>"),
])
def test_other_ops_fold_like_the_interpreter(line: str, result_type: str) -> None:
    text = function("", result_type, CONSTANTS + "  %r = " + line, "%r")
    module = canonicalize(text)
    assert body_ops(module) == ["tc.constant"], line
    expected = run_function(parse(text), [])[0]
    np.testing.assert_array_equal(run_function(module, [])[0], expected)


def test_folding_limits_and_splats() -> None:
    def folded(shape: str, constant: str) -> tc.ConstantOp | None:
        text = function("", f"tensor<{shape}xf32>",
                        f"  %c = tc.constant {constant}\n"
                        f"  %b = tc.broadcast %c() : {constant.rsplit(' : ')[1]}, -> "
                        f"tensor<{shape}xf32>\n  %r = tc.neg %b : tensor<{shape}xf32>",
                        "%r")
        ops = [op for op in canonicalize(text).walk() if isinstance(op, tc.TcOp)]
        return ops[0] if len(ops) == 1 and isinstance(ops[0], tc.ConstantOp) else None

    pair = "dense<[1.0, 2.0]> : tensor<2xf32>"
    at_limit = folded(f"{MAX_FOLDED_ELEMENTS // 2}x2", pair)
    assert at_limit is not None and len(at_limit.value) == MAX_FOLDED_ELEMENTS
    assert folded(f"{MAX_FOLDED_ELEMENTS // 2 + 1}x2", pair) is None
    big_splat = folded("1000x1000", "dense<3.0> : tensor<f32>")
    assert big_splat is not None and len(big_splat.value) == 1
    assert tc.array_from_dense(big_splat.value)[0, 0] == -3
    equal = folded("2x2", "dense<[4.0, 4.0]> : tensor<2xf32>")
    assert equal is not None and len(equal.value) == 1  # all equal: stored as a splat


def test_a_failing_fold_is_left_for_run_time() -> None:
    text = function("", "tensor<2xf64>",
                    "  %c = tc.constant dense<[1.0, 2.0]> : tensor<2xf64>\n"
                    "  %i = tc.constant dense<[0, 2]> : tensor<2xi64>\n"
                    "  %r = tc.gather %c[%i] : tensor<2xf64>, tensor<2xi64> -> "
                    "tensor<2xf64>",
                    "%r")
    module = canonicalize(text)
    assert "tc.gather" in body_ops(module)
    with pytest.raises(ShapeError, match="index 2 is out of bounds"):
        run_function(module, [])


def test_folded_constants_keep_the_location_and_type() -> None:
    text = function("", "tensor<3xi64>",
                    "  %c = tc.constant dense<[1, 2, 3]> : tensor<3xi64>\n"
                    '  %r = tc.mul %c, %c : tensor<3xi64> loc("model.py":9:4)', "%r")
    module = canonicalize(text)
    constant = next(op for op in module.walk() if isinstance(op, tc.ConstantOp))
    assert isinstance(constant.location, FileLineColLoc)
    assert tc.location_text(constant) == "model.py:9"
    assert constant.result.type == tc.tensor_type("int64", (3,))


def test_dynamic_results_and_dead_code() -> None:
    text = function("%n: tensor<i64>", "tensor<?xi64>",
                    "  %a = tc.constant dense<0> : tensor<i64>\n"
                    "  %b = tc.constant dense<1> : tensor<i64>\n"
                    "  %unused = tc.add %a, %b : tensor<i64>\n"
                    "  %r = tc.arange %a, %n, %b : tensor<i64> -> tensor<?xi64>", "%r")
    assert body_ops(canonicalize(text)) == ["tc.constant", "tc.constant", "tc.arange"]


def test_splat_value_sees_through_broadcasts_only() -> None:
    module = parse(function(
        "%n: tensor<i64>", "tensor<?x2xf64>, tensor<2xf64>",
        "  %c = tc.constant dense<[[7.0, 7.0]]> : tensor<1x2xf64>\n"
        "  %b = tc.broadcast %c(%n) : tensor<1x2xf64>, tensor<i64> -> tensor<?x2xf64>\n"
        "  %d = tc.constant dense<[7.0, 8.0]> : tensor<2xf64>", "%b, %d"))
    broadcast, mixed = [op for op in module.walk()
                        if isinstance(op, tc.BroadcastOp | tc.ConstantOp)][1:]
    value = splat_value(broadcast.results[0])
    assert value is not None and value.shape == () and value == 7
    assert splat_value(mixed.results[0]) is None


PROGRAM = """
func.func @main(%x: tensor<?x3xf64>, %w: tensor<3x2xf64>)
    -> (tensor<?x2xf64>, tensor<?xi64>) {
  %n = tc.dim %x[0] : tensor<?x3xf64>
  %c1 = tc.constant dense<1.0> : tensor<f64>
  %c2 = tc.constant dense<2.0> : tensor<f64>
  %half = tc.div %c1, %c2 : tensor<f64>
  %sq = tc.mul %half, %c2 : tensor<f64>
  %one = tc.broadcast %sq(%n) : tensor<f64>, tensor<i64> -> tensor<?x3xf64>
  %a = tc.mul %x, %one : tensor<?x3xf64>
  %b = tc.neg %a : tensor<?x3xf64>
  %c = tc.neg %b : tensor<?x3xf64>
  %d = tc.matmul %c, %w : tensor<?x3xf64>, tensor<3x2xf64> -> tensor<?x2xf64>
  %k = tc.dim %w[1] : tensor<3x2xf64>
  %e = tc.sigmoid %d : tensor<?x2xf64>
  %z = tc.constant dense<0> : tensor<i64>
  %s = tc.constant dense<1> : tensor<i64>
  %r = tc.arange %z, %k, %s : tensor<i64> -> tensor<?xi64>
  func.return %e, %r : tensor<?x2xf64>, tensor<?xi64>
}
"""


def test_the_pass_is_idempotent_and_preserves_results() -> None:
    once = canonicalize(PROGRAM)
    twice = canonicalize(str(once))
    assert str(once) == str(twice)
    assert body_ops(once) == ["tc.matmul", "tc.constant", "tc.sigmoid", "tc.constant",
                              "tc.constant", "tc.arange"]
    x, w = np.arange(12.0).reshape(4, 3) / 10, np.linspace(-1, 1, 6).reshape(3, 2)
    for before, after in zip(run_function(parse(PROGRAM), [x, w]),
                             run_function(once, [x, w])):
        np.testing.assert_array_equal(before, after)


def test_no_value_changes_type() -> None:
    """Every use of every value sees the type it had before the pass."""
    module = parse(PROGRAM)
    returned = next(op for op in module.walk() if op.name == "func.return")
    types = [v.type for v in returned.operands]
    CanonicalizePass().apply(CTX, module)
    assert [v.type for v in returned.operands] == types
    module.verify()


def test_a_slice_whose_type_disagrees_with_its_bounds_is_not_folded() -> None:
    text = function("", "tensor<3000xf64>",
                    "  %c = tc.constant dense<1.0> : tensor<4000xf64>\n"
                    "  %r = tc.slice %c[] starts = array<i64: 0> stops = array<i64: 2> "
                    "steps = array<i64: 1> : tensor<4000xf64>, -> tensor<3000xf64>", "%r")
    module = canonicalize(text)
    assert "tc.slice" in body_ops(module)
    with pytest.raises(ShapeError, match="result dim 0 is 2, but its type"):
        run_function(module, [])
