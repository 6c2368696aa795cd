"""Graph construction: constructors, numpy dtype promotion (one table), Theano
broadcasting, static shapes, source locations, and input/argument errors."""

import itertools

import numpy as np
import pytest

import tensorc.tensor as T
from tensorc import config, function, shared
from tensorc.errors import ConfigError, DTypeError, ShapeError
from tensorc.frontend.function import MissingInputError, UnusedInputError

DTYPES = ["bool", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
SCALARS = [True, 3, 2.5]
OPS = [
    ("add", lambda a, b: a + b), ("mul", lambda a, b: a * b),
    ("truediv", lambda a, b: a / b), ("floordiv", lambda a, b: a // b),
    ("lt", lambda a, b: a < b), ("max", T.maximum),
]
NUMPY = {"add": np.add, "mul": np.multiply, "truediv": np.true_divide,
         "floordiv": np.floor_divide, "lt": np.less, "max": np.maximum}


def _numpy_dtype(op, a, b):
    try:
        return NUMPY[op](a, b).dtype.name
    except TypeError:
        return None


@pytest.mark.parametrize("op,build", OPS, ids=[o for o, _ in OPS])
def test_promotion_table_matches_numpy(op, build):
    """The promotion table: every dtype pair and dtype/Python-scalar pair."""
    for da, db in itertools.product(DTYPES, DTYPES + SCALARS):
        a_val = np.ones(2, dtype=da)
        b_val = db if not isinstance(db, str) else np.ones(2, dtype=db)
        want = _numpy_dtype(op, a_val, b_val)
        a = T.tensor(da, shape=(None,))
        b = db if not isinstance(db, str) else T.tensor(db, shape=(None,))
        if want is None:
            with pytest.raises(DTypeError):
                build(a, b)
            continue
        assert build(a, b).dtype == want, (op, da, db)


def test_unary_math_promotes_like_numpy():
    for dtype in DTYPES[1:]:
        x = T.tensor(dtype, shape=(None,))
        assert T.exp(x).dtype == np.exp(np.ones(1, dtype)).dtype.name
        assert T.sqrt(x).dtype == np.sqrt(np.ones(1, dtype)).dtype.name
    assert T.sum(T.bvector()).dtype == "int64"
    assert T.mean(T.ivector()).dtype == "float64"
    assert T.mean(T.fvector()).dtype == "float32"


def test_constructors_and_floatx(monkeypatch):
    assert T.dmatrix().type.shape == (None, None)
    assert T.row().broadcastable == (True, False)
    assert T.col().broadcastable == (False, True)
    assert T.bscalar().dtype == "int8" and T.lvector().dtype == "int64"
    assert T.ftensor3().ndim == 3 and T.dtensor4().ndim == 4
    a, b, c = T.dvectors("a", "b", "c")
    assert (a.name, b.name, c.name) == ("a", "b", "c")
    assert T.tensor("float32", shape=(2, None)).type.shape == (2, None)
    monkeypatch.setattr(config, "floatX", "float32")
    assert T.matrix().dtype == "float32" and T.vector().dtype == "float32"
    with pytest.raises(ConfigError, match="floatX"):
        config.floatx = "float32"
    with pytest.raises(ConfigError, match="expected one of"):
        config.floatX = "float8"


def test_broadcasting_static_shapes():
    x = T.dmatrix("x")
    assert (x + T.dvector()).type.shape == (None, None)
    assert (x + T.row()).type.shape == (None, None)
    three = T.tensor("float64", shape=(3, None))
    assert (three + T.tensor("float64", shape=(None, 4))).type.shape == (3, 4)
    assert (three * 2).type.shape == (3, None)


def test_broadcast_error_names_shapes_and_line():
    a = T.tensor("float64", shape=(3,))
    b = T.tensor("float64", shape=(4,))
    with pytest.raises(ShapeError, match=r"\(3,\) and \(4,\).*test_frontend.py:\d+"):
        a + b


def test_nodes_record_user_line():
    x = T.dvector("x")
    y = T.exp(x) * 2  # this line
    assert y.loc.filename.endswith("test_frontend.py")
    import inspect
    assert y.loc.line == inspect.currentframe().f_lineno - 3


def test_methods_and_shapes():
    x = T.dmatrix("x")
    assert x.T.type.shape == (None, None) and x.sum(axis=0).ndim == 1
    assert x.sum(axis=1, keepdims=True).type.shape == (None, 1)
    assert x.dimshuffle("x", 0, 1).broadcastable == (True, False, False)
    assert x.reshape((-1,)).ndim == 1 and x.flatten().ndim == 1
    assert x.astype("float32").dtype == "float32"
    assert x[0].ndim == 1 and x[:, 0].ndim == 1 and x[1:, ::2].ndim == 2
    assert x[None].ndim == 3 and x[..., None].broadcastable == (False, False, True)
    assert x.shape[0].dtype == "int64" and x.ndim == 2 and x.dtype == "float64"
    with pytest.raises(ShapeError, match="not broadcastable"):
        x.dimshuffle(0)
    with pytest.raises(IndexError, match="too many"):
        x[0, 0, 0]


def _runs(mode):
    return lambda inputs, outputs, **kw: function(inputs, outputs, mode=mode, **kw)


def test_indexing_matches_numpy(mode):
    rng = np.random.default_rng(1)
    value = rng.standard_normal((5, 4))
    x = T.dmatrix("x")
    i = T.lscalar("i")
    labels = T.lvector("labels")
    cases = [
        (x[1], value[1]), (x[-1], value[-1]), (x[:, 2], value[:, 2]),
        (x[1:4, ::-2], value[1:4, ::-2]), (x[::-1], value[::-1]), (x[i], value[-2]),
        (x[i:], value[-2:]), (x[:, [0, 3]], value[:, [0, 3]]),
        (x[T.arange(5), labels], value[np.arange(5), [0, 1, 2, 3, 0]]),
        (x[labels], value[[0, 1, 2, 3, 0]]),
    ]
    f = function([x, i, labels], [c for c, _ in cases], mode=mode,
                 on_unused_input="ignore")
    for got, (_, want) in zip(f(value, -2, [0, 1, 2, 3, 0]), cases):
        np.testing.assert_array_equal(got, want)


def test_reductions_match_numpy(mode):
    rng = np.random.default_rng(2)
    value = rng.standard_normal((3, 4, 5))
    x = T.dtensor3("x")
    cases = [
        (x.sum(), value.sum()), (x.sum(axis=1), value.sum(axis=1)),
        (x.mean(axis=(0, 2)), value.mean(axis=(0, 2))),
        (x.max(axis=-1, keepdims=True), value.max(axis=-1, keepdims=True)),
        (x.min(axis=0), value.min(axis=0)), (x.prod(axis=2), value.prod(axis=2)),
        (x.argmax(axis=1), value.argmax(axis=1)), (x.argmin(axis=2), value.argmin(axis=2)),
        (x.var(axis=1), value.var(axis=1)), (x.std(), value.std()),
    ]
    outs = function([x], [c for c, _ in cases], mode=mode)(value)
    for got, (_, want) in zip(outs, cases):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_shape_ops_match_numpy(mode):
    value = np.arange(24.0).reshape(2, 3, 4)
    x = T.dtensor3("x")
    cases = [
        (x.reshape((6, 4)), value.reshape(6, 4)), (x.reshape((-1,)), value.reshape(-1)),
        (x.reshape((x.shape[0], -1)), value.reshape(2, -1)),
        (x.transpose(2, 0, 1), value.transpose(2, 0, 1)), (x.flatten(2), value.reshape(2, -1)),
        (T.concatenate([x, x * 2], axis=1), np.concatenate([value, value * 2], axis=1)),
        (T.stack([x[0], x[1]]), np.stack([value[0], value[1]])),
        (T.zeros_like(x), np.zeros_like(value)), (T.ones((2, x.shape[1])), np.ones((2, 3))),
        (T.arange(x.shape[2]), np.arange(4)),
        (T.switch(x > 5, x, -x), np.where(value > 5, value, -value)),
        (T.clip(x, 3, 7), np.clip(value, 3, 7)),
    ]
    outs = function([x], [c for c, _ in cases], mode=mode)(value)
    for got, (_, want) in zip(outs, cases):
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_softmax_and_nll(mode):
    rng = np.random.default_rng(3)
    value = rng.standard_normal((4, 3)) * 300
    labels = np.array([0, 2, 1, 1])
    x, y = T.dmatrix("x"), T.lvector("y")
    p = T.nnet.softmax(x)
    nll = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    got_p, got_nll = function([x, y], [p, nll], mode=mode)(value, labels)
    e = np.exp(value - value.max(axis=1, keepdims=True))
    want_p = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got_p, want_p, rtol=1e-12)
    assert np.isfinite(got_p).all()
    shifted = value - value.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    # log(softmax) is computed stably: finite even where softmax underflows to 0.
    np.testing.assert_allclose(got_nll, -np.mean(log_p[np.arange(4), labels]), rtol=1e-12)


def test_wrong_shape_dtype_and_rank_inputs(mode):
    x = T.dvector("x")
    y = T.dvector("y")
    f = function([x, y], x + y, mode=mode)
    with pytest.raises(ShapeError, match=r"expects 1 dims; got 2 dims"):
        f(np.ones((2, 2)), np.ones(2))
    with pytest.raises(DTypeError, match=r"input 'x'.*float64.*complex|expects float64"):
        f(np.ones(2, dtype=np.complex128), np.ones(2))
    with pytest.raises(ShapeError, match=r"differ|mismatch|dim 0"):
        f(np.ones(3), np.ones(4))
    i = T.ivector("i")
    g = function([i], i * 2, mode=mode)
    with pytest.raises(DTypeError, match="cannot be converted safely"):
        g(np.ones(2, dtype=np.int64))
    np.testing.assert_array_equal(g([1, 2]), [2, 4])
    with pytest.raises(DTypeError, match="without loss"):
        g([2**40])
    s = T.tensor("float64", shape=(3,), name="s")
    h = function([s], s + 1, mode=mode)
    with pytest.raises(ShapeError, match=r"expects dim 0 to be 3"):
        h(np.ones(4))


def test_missing_and_unused_inputs():
    x, y = T.dscalars("x", "y")
    with pytest.raises(MissingInputError, match="'y'|y "):
        function([x], x + y)
    with pytest.raises(UnusedInputError, match="y"):
        function([x, y], x * 2)
    with pytest.raises(TypeError, match="shared variable"):
        function([shared(1.0)], x)


def test_failed_call_leaves_shared_unchanged(mode):
    acc = shared(np.zeros(3), name="acc")
    v = T.dvector("v")
    f = function([v], acc.sum(), updates={acc: acc + v}, mode=mode)
    f(np.ones(3))
    with pytest.raises(ShapeError):
        f(np.ones(4))
    np.testing.assert_array_equal(acc.get_value(), np.ones(3))


def test_shared_value_semantics():
    value = np.arange(3.0)
    s = shared(value)
    value[0] = 100
    assert s.get_value()[0] == 0
    got = s.get_value()
    got[1] = 100
    assert s.get_value()[1] == 1
    s.set_value(np.arange(5.0))
    assert s.get_value().shape == (5,)
    with pytest.raises(DTypeError, match="dtype float64"):
        s.set_value(np.arange(3, dtype=np.float32))
    with pytest.raises(ShapeError, match="1 dims"):
        s.set_value(np.ones((2, 2)))


def test_update_type_mismatch_is_an_error():
    s = shared(np.zeros(3, dtype=np.float32), name="w")
    with pytest.raises(DTypeError, match="must have the type of its shared variable"):
        function([], s, updates={s: s + np.float64(1)})


def test_set_and_inc_subtensor(mode):
    value = np.arange(12.0).reshape(3, 4)
    x = T.dmatrix("x")
    v = T.dvector("v")
    i = T.lscalar("i")
    idx = T.lvector("idx")
    outs = [
        T.set_subtensor(x[1], v), T.inc_subtensor(x[:, 1:3], 10.0),
        T.set_subtensor(x[i:, ::2], -1.0), T.inc_subtensor(x[idx], v),
        T.set_subtensor(x[:], 0.0),
    ]
    got = function([x, v, i, idx], outs, mode=mode)(value, np.ones(4), 1, [0, 2, 0])
    want = [value.copy() for _ in outs]
    want[0][1] = 1.0
    want[1][:, 1:3] += 10
    want[2][1:, ::2] = -1
    np.add.at(want[3], [0, 2, 0], np.ones(4))
    want[4][:] = 0
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(TypeError, match="indexed variable"):
        T.set_subtensor(x, 1.0)


def test_truth_of_variables_follows_theano() -> None:
    """`if input:` is True for a variable (Theano tutorials test arguments so);
    a comparison has no truth value before it runs (`a < b < c` is an error)."""
    x, y = T.dvector("x"), T.dvector("y")
    assert x and T.exp(x) and shared(np.zeros(2))
    with pytest.raises(TypeError, match=r"comparison .* unknown at graph construction"):
        bool(x < y)
    with pytest.raises(TypeError):
        bool(T.eq(x, y))
