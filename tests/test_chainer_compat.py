"""Chainer programs run on tensorc with only their imports changed: links (Link,
Chain, ChainList, Parameter, Linear, EmbedID, Classifier), Chainer's run flags
(train, enable_backprop), optimizers set up on links, optimizer hooks, and the
functions Chainer programs call, each against numpy and central differences."""

import copy
import pickle
import threading

import numpy as np
import pytest

import tensorc as chainer
import tensorc.functions as F
import tensorc.links as L
from tensorc import (
    Chain,
    ChainList,
    Link,
    Variable,
    gradient_check,
    initializers,
    optimizer_hooks,
    optimizers,
)
from tensorc.define_by_run import BACKWARD_CACHE
from tensorc.errors import ConfigError

RNG = np.random.default_rng(1)


@pytest.fixture
def reference(monkeypatch):
    """Backward graphs for the reference interpreter (no C compiler run)."""
    monkeypatch.setattr(chainer.config, "mode", "REFERENCE")


# -- a Chainer MNIST-style program, as Chainer users write it -------------------------


class MLP(Chain):
    def __init__(self, n_units, n_out):
        super(MLP, self).__init__()  # noqa: UP008  (as in Chainer's example)
        with self.init_scope():
            # the size of the inputs to each layer will be inferred
            self.l1 = L.Linear(None, n_units)  # n_in -> n_units
            self.l2 = L.Linear(None, n_units)  # n_units -> n_units
            self.l3 = L.Linear(None, n_out)  # n_units -> n_out

    def forward(self, x):
        h1 = F.relu(self.l1(x))
        h2 = F.relu(self.l2(h1))
        return self.l3(h2)


def synthetic_mnist(n, pixels=64, seed=0):
    """Ten noisy prototype 'digits' of `pixels` values in [0, 1] (float32) and
    their int32 labels, like chainer.datasets.get_mnist(withlabel=True)."""
    rng = np.random.default_rng(seed)
    prototypes = np.random.default_rng(42).uniform(size=(10, pixels)) > 0.7  # strokes
    labels = rng.integers(0, 10, size=n).astype(np.int32)
    images = prototypes[labels] + rng.normal(scale=0.3, size=(n, pixels))
    return np.clip(images, 0, 1).astype(np.float32), labels


def evaluate(model, x_test, t_test, batchsize=200):
    sum_accuracy = 0.0
    for i in range(0, len(x_test), batchsize):
        x, t = x_test[i:i + batchsize], t_test[i:i + batchsize]
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            model(x, t)
            sum_accuracy += float(model.accuracy.array) * len(t)
    return sum_accuracy / len(x_test)


def test_mnist_style_mlp_trains_and_compiles_backward_once():
    np.random.seed(0)
    x_train, t_train = synthetic_mnist(1020)  # the last batch is smaller
    x_test, t_test = synthetic_mnist(400, seed=1)
    model = L.Classifier(MLP(32, 10))
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)

    before = evaluate(model, x_test, t_test)
    BACKWARD_CACHE.clear()  # count from zero, whatever ran before
    batchsize, losses = 50, []
    for _epoch in range(3):
        perm = np.random.permutation(len(x_train))
        for i in range(0, len(x_train), batchsize):
            x = x_train[perm[i:i + batchsize]]
            t = t_train[perm[i:i + batchsize]]
            optimizer.update(model, x, t)
            losses.append(float(model.loss.array))
    after = evaluate(model, x_test, t_test)

    assert before < 0.3 and after > 0.9, (before, after)
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    assert BACKWARD_CACHE.compilations == 1  # 63 steps, two batch sizes
    assert model.predictor.l1.W.shape == (32, 64)  # inferred at the first call
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32
               for p in model.params())


class DropoutNet(ChainList):
    """__call__ style, a ChainList, dropout in training only."""

    def __init__(self, *sizes):
        super().__init__(*[L.Linear(n) for n in sizes])

    def __call__(self, x):
        for layer in self[:-1]:
            x = F.dropout(F.elu(layer(x)), ratio=0.2)
        return self[-1](x)


def test_manual_loop_with_dropout_weight_decay_and_momentum():
    np.random.seed(1)
    x_train, t_train = synthetic_mnist(600, pixels=64, seed=2)
    model = L.Classifier(DropoutNet(32, 10))
    optimizer = optimizers.MomentumSGD(lr=0.05)
    optimizer.setup(model)
    optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(1e-4))
    BACKWARD_CACHE.clear()
    for epoch in range(4):
        for i in range(0, 600, 60):
            x, t = x_train[i:i + 60], t_train[i:i + 60]
            loss = model(x, t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
        optimizer.new_epoch()
    assert BACKWARD_CACHE.compilations == 1  # new masks, one structure
    assert optimizer.epoch == 4 and optimizer.t == 40
    with chainer.using_config("train", False):
        assert float(model(x_train, t_train).array) < 0.5
        assert float(model.accuracy.array) > 0.9
    assert [name for name, _ in model.namedparams()] == [
        "/predictor/0/W", "/predictor/0/b", "/predictor/1/W", "/predictor/1/b"]


# -- configuration ---------------------------------------------------------------------


def test_train_flag_turns_dropout_off():
    x = Variable(np.ones((50, 40)))
    dropped = F.dropout(x, ratio=0.5).data
    assert set(np.unique(dropped)) == {0.0, 2.0}
    with chainer.using_config("train", False):
        assert not chainer.config.train
        assert F.dropout(x) is x
    assert chainer.config.train


def test_no_backprop_mode_records_nothing(reference):
    W = Variable(np.array([[2.0]]))
    with chainer.no_backprop_mode():
        y = F.matmul(np.array([[3.0]]), W)
        assert y.data.tolist() == [[6.0]] and y.is_leaf and not y.requires_grad
        with chainer.force_backprop_mode():
            z = F.matmul(np.array([[3.0]]), W)
    F.sum(y * W).backward()  # y is a constant of this graph
    assert W.grad.tolist() == [[6.0]]
    W.cleargrad()
    F.sum(z).backward()
    assert W.grad.tolist() == [[3.0]]


def test_config_has_chainer_flags_and_the_compiler_flags():
    assert chainer.config.floatX in ("float64", "float32", "float16")
    with pytest.raises(ConfigError, match="did you mean 'floatX'"):
        chainer.config.floatx = "float32"
    from tensorc.config import config as compiler_config

    mode = compiler_config.mode
    with chainer.using_config("mode", "REFERENCE"):  # a compiler flag: global
        assert compiler_config.mode == "REFERENCE" == chainer.config.mode
    assert compiler_config.mode == mode
    chainer.config.user_flag = 3  # Chainer's convention for user flags
    assert chainer.config.user_flag == 3
    del chainer.config.user_flag
    with pytest.raises(AttributeError):
        chainer.config.user_flag  # noqa: B018
    assert "enable_backprop" in repr(chainer.config)


def test_run_flags_are_thread_local_over_global_defaults():
    seen = []
    chainer.config.train = False  # this thread only
    try:
        thread = threading.Thread(target=lambda: seen.append(chainer.config.train))
        thread.start()
        thread.join()
        assert seen == [True] and chainer.config.train is False
    finally:
        del chainer.config.train
    with chainer.using_config("train", False, chainer.global_config):
        assert chainer.config.train is False and chainer.global_config.train is False
    assert chainer.config.train is True


# -- links -----------------------------------------------------------------------------


def test_linear_initialization_and_lazy_input_size():
    np.random.seed(3)
    layer = L.Linear(400, 300)
    assert layer.W.dtype == np.float32 and layer.b.data.tolist() == [0.0] * 300
    assert abs(layer.W.data.std() - np.sqrt(1 / 400)) < 0.05 * np.sqrt(1 / 400)
    lazy = L.Linear(5)
    assert lazy.W.data is None and lazy.out_size == 5 and not lazy.W.is_initialized
    assert len(list(lazy.params(include_uninit=False))) == 1  # b only
    y = lazy(np.ones((2, 3, 4), np.float32))  # an input sample has 12 values
    assert lazy.W.shape == (5, 12) and y.shape == (2, 5)
    given = L.Linear(2, 3, nobias=True, initialW=np.arange(6.0).reshape(3, 2))
    assert given.b is None and [n for n, _ in given.namedparams()] == ["/W"]
    np.testing.assert_array_equal(given(np.eye(2, dtype=np.float32)).data,
                                  np.arange(6.0).reshape(3, 2).T)
    he = L.Linear(3, 2, initialW=initializers.HeNormal(), initial_bias=0.5)
    assert he.b.data.tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match="no data yet"):
        F.linear(np.ones((1, 2)), L.Linear(None, 2).W)


def test_link_gradients_copies_and_frozen_parameters(reference):
    model = MLP(4, 3)
    x = np.ones((2, 5), np.float32)
    F.sum(model(x)).backward()
    assert model.count_params() == 5 * 4 + 4 + 4 * 4 + 4 + 4 * 3 + 3
    assert all(p.grad is not None for p in model.params())
    model.zerograds()
    assert all(not p.grad.any() for p in model.params())
    model.cleargrads()
    assert all(p.grad is None for p in model.params())

    shared, copied = model.copy(), model.copy("copy")
    fresh = model.copy("init")
    assert shared.l1.W.data is model.l1.W.data and shared.l1.W is not model.l1.W
    assert copied.l1.W.data is not model.l1.W.data
    np.testing.assert_array_equal(copied.l1.W.data, model.l1.W.data)
    assert not np.array_equal(fresh.l1.W.data, model.l1.W.data)
    F.sum(shared(x)).backward()  # the copy's parameters get the gradients
    assert model.l1.W.grad is None and shared.l1.W.grad is not None
    fresh.copyparams(model)
    np.testing.assert_array_equal(fresh.l3.b.data, model.l3.b.data)

    model.l1.disable_update()
    optimizer = optimizers.SGD(lr=1.0).setup(model)
    w1, w2 = model.l1.W.data.copy(), model.l2.W.data.copy()
    optimizer.update(lambda: F.sum(model(x)))
    np.testing.assert_array_equal(model.l1.W.data, w1)
    assert not np.array_equal(model.l2.W.data, w2)
    assert [link.name for link in model.children()] == ["l1", "l2", "l3"]
    assert [path for path, _ in model.namedlinks()] == ["/", "/l1", "/l2", "/l3"]


def test_parameter_and_persistent_registration():
    class Scale(Link):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.a = chainer.Parameter(2.0, (3,))
                self.unregistered = 1.0
            self.add_persistent("steps", 0)
            self.add_param("c", (2,), initializer=initializers.One())

        def forward(self, x):
            return x * self.a

    link = Scale()
    assert [n for n, _ in link.namedparams()] == ["/a", "/c"]
    assert link.a.data.tolist() == [2.0] * 3 and link.a.name == "a"
    other = Scale()
    other.steps = 7
    link.copyparams(other)
    assert link.steps == 7
    assert link(np.ones(3, np.float32)).data.tolist() == [2.0] * 3
    with pytest.raises(AttributeError, match="already has"):
        link.add_param("a")


def test_embed_id_and_classifier_label_key(reference):
    np.random.seed(4)
    embed = L.EmbedID(5, 3, ignore_label=-1)
    ids = np.array([[4, -1], [0, 4]], np.int32)
    vectors = embed(ids)
    np.testing.assert_array_equal(vectors.data[0, 0], embed.W.data[4])
    assert not vectors.data[0, 1].any()
    F.sum(vectors).backward()
    np.testing.assert_array_equal(embed.W.grad[:, 0], [1, 0, 0, 0, 2])

    class Scorer(Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.embed = L.EmbedID(5, 4)

        def forward(self, ids, offset):
            return F.sum(self.embed(ids), axis=1) + offset

    classifier = L.Classifier(Scorer(), label_key="t")
    loss = classifier(ids.clip(0), 0.0, t=np.array([1, 2], np.int32))
    assert loss.shape == () and classifier.accuracy.dtype == np.float32
    assert classifier.y.shape == (2, 4)
    positional = L.Classifier(Scorer(), label_key=0)
    positional(np.array([1, 2], np.int32), ids.clip(0), 0.0)
    assert positional.y.shape == (2, 4)


def test_optimizer_hooks():
    w = Variable(np.array([1.0, -2.0]))
    optimizer = optimizers.SGD(lr=0.1).setup([w])
    optimizer.add_hook(optimizer_hooks.WeightDecay(0.5))
    optimizer.add_hook(optimizer_hooks.Lasso(0.1))
    w.grad = np.array([1.0, 1.0])
    optimizer.update()
    # grad = 1 + 0.5 w + 0.1 sign(w) = [1.6, -0.1]
    np.testing.assert_allclose(w.data, [1.0 - 0.16, -2.0 + 0.01])

    a, b = Variable(np.array([3.0])), Variable(np.array([4.0]))
    optimizer = optimizers.SGD(lr=1.0).setup([a, b])
    optimizer.add_hook(optimizer_hooks.GradientClipping(1.0))
    a.grad, b.grad = np.array([3.0]), np.array([4.0])  # norm 5 -> scaled by 1/5
    optimizer.update()
    np.testing.assert_allclose([a.data[0], b.data[0]], [3.0 - 0.6, 4.0 - 0.8])
    optimizer.remove_hook("GradientClipping")
    optimizer.add_hook(optimizer_hooks.GradientHardClipping(-0.5, 0.5))
    a.grad = np.array([3.0])
    optimizer.update()
    np.testing.assert_allclose(a.data, [3.0 - 0.6 - 0.5])
    with pytest.raises(KeyError, match="already"):
        optimizer.add_hook(optimizer_hooks.GradientHardClipping(-1, 1))


@pytest.mark.parametrize("rule", [optimizers.AdaGrad(lr=0.5),
                                  optimizers.RMSprop(lr=0.05)])
def test_more_optimizers_minimize_a_quadratic(rule, reference):
    w = Variable(np.array([3.0, -2.0]))
    rule.setup([w])
    for _ in range(60):
        rule.update(lambda: F.sum(w * w))
    assert np.all(np.abs(w.data) < 0.5)


# -- functions: values against numpy, gradients against central differences -------------


def _u(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


def _seeded_dropout(x):
    np.random.seed(7)  # the same mask at every call of check_backward
    return F.dropout(x, ratio=0.4)


def _dropout_reference(x):
    np.random.seed(7)
    return x * (np.random.rand(*x.shape) >= 0.4) / 0.6


def _elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


BINARY = RNG.integers(-1, 2, size=(3, 4)).astype(np.int32)
IDS = np.array([[1, 0], [2, -1]], np.int32)
CONDITION = _u(3, 4) > 0

# name: (function, inputs, numpy reference of the output)
CASES = {
    "concat": (lambda a, b: F.concat((a, b)), [_u(3, 4), _u(3, 2)],
               lambda a, b: np.concatenate([a, b], axis=1)),
    "concat_list_axis0": (lambda a, b: F.concat([a, b], axis=0), [_u(2, 3), _u(1, 3)],
                          lambda a, b: np.concatenate([a, b])),
    "stack": (lambda a, b: F.stack([a, b], axis=1), [_u(3, 4), _u(3, 4)],
              lambda a, b: np.stack([a, b], axis=1)),
    "hstack": (lambda a, b: F.hstack([a, b]), [_u(3, 2), _u(3, 4)],
               lambda a, b: np.hstack([a, b])),
    "vstack": (lambda a, b: F.vstack([a, b]), [_u(4), _u(4)],
               lambda a, b: np.vstack([a, b])),
    "split_axis": (lambda x: F.split_axis(x, 2, axis=1)[1] * 2, [_u(3, 4)],
                   lambda x: x[:, 2:] * 2),
    "split_axis_indices": (lambda x: F.split_axis(x, [1, 3], axis=0)[2], [_u(4, 2)],
                           lambda x: x[3:]),
    "max": (lambda x: F.max(x, axis=1), [_u(3, 4)], lambda x: x.max(axis=1)),
    "min": (F.min, [_u(3, 4)], np.min),
    "max_keepdims": (lambda x: F.max(x, axis=(0, 2), keepdims=True), [_u(2, 3, 4)],
                     lambda x: x.max(axis=(0, 2), keepdims=True)),
    "expand_dims": (lambda x: F.expand_dims(x, -1), [_u(3, 4)],
                    lambda x: x[..., None]),
    "squeeze": (F.squeeze, [_u(3, 1, 4, 1)], np.squeeze),
    "squeeze_axis": (lambda x: F.squeeze(x, axis=1), [_u(3, 1, 4, 1)],
                     lambda x: x.squeeze(1)),
    "swapaxes": (lambda x: F.swapaxes(x, 0, 2), [_u(2, 3, 4)],
                 lambda x: x.swapaxes(0, 2)),
    "flatten": (F.flatten, [_u(3, 4)], np.ravel),
    "get_item": (lambda x: F.get_item(x, (slice(1, None), [0, 2, 2])), [_u(3, 4)],
                 lambda x: x[1:, [0, 2, 2]]),
    "get_item_int": (lambda x: F.get_item(x, 1), [_u(3, 4)], lambda x: x[1]),
    "where": (lambda x, y: F.where(CONDITION, x, y), [_u(3, 4), _u(3, 4)],
              lambda x, y: np.where(CONDITION, x, y)),
    "clip": (lambda x: F.clip(x, -1.0, 1.0), [_u(3, 4)], lambda x: np.clip(x, -1, 1)),
    "maximum": (F.maximum, [_u(3, 4), _u(3, 4)], np.maximum),
    "minimum": (F.minimum, [_u(3, 4), _u(3, 4)], np.minimum),
    "elu": (F.elu, [_u(3, 4)], _elu),
    "identity": (F.identity, [_u(3, 4)], lambda x: x),
    "cast": (lambda x: F.cast(x, np.float64), [_u(3, 4).astype(np.float32)],
             lambda x: x.astype(np.float64)),
    "dropout": (_seeded_dropout, [_u(3, 4)], _dropout_reference),
    "sigmoid_cross_entropy": (
        F.sigmoid_cross_entropy, [_u(3, 4), BINARY],
        lambda x, t: np.sum((np.logaddexp(0, x) - x * t) * (t != -1)) / np.sum(t != -1)),
    "sigmoid_cross_entropy_no_reduce": (
        lambda x, t: F.sigmoid_cross_entropy(x, t, reduce="no"), [_u(3, 4), BINARY],
        lambda x, t: (np.logaddexp(0, x) - x * t) * (t != -1)),
    "sigmoid_cross_entropy_not_normalized": (
        lambda x, t: F.sigmoid_cross_entropy(x, t, normalize=False), [_u(3, 4), BINARY],
        lambda x, t: np.sum((np.logaddexp(0, x) - x * t) * (t != -1)) / 3),
    "embed_id": (lambda W: F.embed_id(IDS, W, ignore_label=-1), [_u(3, 4)],
                 lambda W: W[IDS.clip(0)] * (IDS != -1)[..., None]),
    "batch_matmul": (F.batch_matmul, [_u(2, 3, 4), _u(2, 4, 5)], np.matmul),
    "matmul_batched_transposed": (
        lambda a, b: F.matmul(a, b, transa=True, transb=True),
        [_u(2, 4, 3), _u(1, 5, 4)],
        lambda a, b: np.matmul(a.swapaxes(1, 2), b.swapaxes(1, 2))),
    "convolution_2d": (
        lambda x, w, b: F.convolution_2d(x, w, b, stride=2, pad=1),
        [_u(1, 2, 5, 4), _u(3, 2, 3, 3), _u(3)], lambda x, w, b: _correlate(x, w, b, 2, 1)),
    "max_pooling_2d": (lambda x: F.max_pooling_2d(x, 2), [_u(1, 2, 4, 6)],
                       lambda x: x.reshape(1, 2, 2, 2, 3, 2).max(axis=(3, 5))),
    "average_pooling_2d": (lambda x: F.average_pooling_2d(x, 2), [_u(1, 2, 4, 6)],
                           lambda x: x.reshape(1, 2, 2, 2, 3, 2).mean(axis=(3, 5))),
    "batch_normalization": (F.batch_normalization, [_u(5, 3), _u(3), _u(3)],
                            lambda x, g, b: _batch_norm(x, g, b, (0,))),
    "batch_normalization_4d": (
        lambda x, g, b: F.batch_normalization(x, g, b, eps=1e-3),
        [_u(2, 3, 2, 3), _u(3), _u(3)],
        lambda x, g, b: _batch_norm(x, g, b, (0, 2, 3), eps=1e-3)),
    "batch_normalization_axis": (
        lambda x, g, b: F.batch_normalization(x, g, b, axis=(0, 1)),
        [_u(2, 3, 4), _u(4), _u(4)], lambda x, g, b: _batch_norm(x, g, b, (0, 1))),
    "fixed_batch_normalization": (
        F.fixed_batch_normalization,
        [_u(2, 3, 2, 2), _u(3), _u(3), _u(3), _u(3, low=0.5, high=2.0)],
        lambda x, g, b, m, v: _expanded(g, x.ndim, (0, 2, 3)) * (
            x - _expanded(m, x.ndim, (0, 2, 3))) / np.sqrt(
                _expanded(v, x.ndim, (0, 2, 3)) + 2e-5) + _expanded(b, x.ndim, (0, 2, 3))),
    "lstm": (lambda c, x: F.concat(F.lstm(c, x), axis=1), [_u(3, 2), _u(3, 8)],
             lambda c, x: np.concatenate(_lstm(c, x), axis=1)),
    "lstm_shorter_batch": (lambda c, x: F.lstm(c, x)[0], [_u(3, 2), _u(2, 8)],
                           lambda c, x: np.concatenate([_lstm(c[:2], x)[0], c[2:]])),
    "average": (lambda x, w: F.average(x, axis=1, weights=w),
                [_u(3, 4), _u(4, low=0.5, high=1.5)],
                lambda x, w: np.average(x, axis=1, weights=w)),
    "average_unweighted": (F.average, [_u(3, 4)], np.average),
    "local_response_normalization": (
        lambda x: F.local_response_normalization(x, n=3, k=1.0, alpha=0.5, beta=0.75),
        [_u(2, 4, 2, 1)], lambda x: _local_response(x, 3, 1.0, 0.5, 0.75)),
}


def _expanded(v, ndim, axes):
    """A per-channel array with length-1 axes at `axes`."""
    return v.reshape([1 if a in axes else -1 for a in range(ndim)])


def _batch_norm(x, gamma, beta, axes, eps=2e-5):
    """Chainer's documented batch normalization: batch mean and biased variance."""
    mean = _expanded(x.mean(axis=axes), x.ndim, axes)
    var = _expanded(x.var(axis=axes), x.ndim, axes)
    return (_expanded(gamma, x.ndim, axes) * (x - mean) / np.sqrt(var + eps)
            + _expanded(beta, x.ndim, axes))


def _lstm(c_prev, x):
    """Chainer's documented LSTM: x (N, 4 units) is viewed as (N, units, 4), the
    sources a, i, f, o are [:, :, k]; c = tanh(a) s(i) + s(f) c_prev, h = s(o)
    tanh(c)."""
    a, i, f, o = (x.reshape(len(x), -1, 4)[:, :, k] for k in range(4))
    c = np.tanh(a) * _sigmoid(i) + _sigmoid(f) * c_prev
    return c, _sigmoid(o) * np.tanh(c)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _local_response(x, n, k, alpha, beta):
    """x / (k + alpha sum of x^2 over the channels within n // 2) ^ beta, by loops."""
    total = np.zeros_like(x)
    for c in range(x.shape[1]):
        near = slice(max(c - n // 2, 0), c + n // 2 + 1)
        total[:, c] = (x[:, near] ** 2).sum(axis=1)
    return x / (k + alpha * total) ** beta


def _correlate(x, w, b, stride, pad):
    """Chainer's convolution_2d (a cross-correlation) with explicit loops."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    rows = (x.shape[2] - kh) // stride + 1
    cols = (x.shape[3] - kw) // stride + 1
    out = np.empty((x.shape[0], w.shape[0], rows, cols))
    for i in range(rows):
        for j in range(cols):
            window = x[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + b[None, :, None, None]

# Functions without gradients: values only.
VALUE_CASES = {
    "accuracy": (lambda y, t: F.accuracy(y, t), [_u(6, 4), np.array([0, 1, 2, 3, 0, 1])],
                 lambda y, t: np.mean(y.argmax(1) == t)),
    "accuracy_ignore": (lambda y, t: F.accuracy(y, t, ignore_label=-1),
                        [_u(6, 4), np.array([0, 1, -1, 3, -1, 1])],
                        lambda y, t: np.mean((y.argmax(1) == t)[t != -1])),
    "argmax": (lambda x: F.argmax(x, axis=1), [_u(3, 4)], lambda x: x.argmax(1)),
    "argmin": (F.argmin, [_u(3, 4)], np.argmin),
}


def _seed_like(output):
    return None if output.size == 1 else RNG.uniform(0.5, 1.5, size=output.shape)


@pytest.mark.parametrize("name", sorted(CASES))
def test_function_values_and_gradients(name, reference):
    func, inputs, expected = CASES[name]
    output = func(*[Variable(x) for x in inputs])
    np.testing.assert_allclose(output.data, expected(*inputs), rtol=1e-6, atol=1e-12)
    seed = _seed_like(output)
    if seed is not None:
        seed = seed.astype(output.dtype)
    gradient_check.check_backward(func, inputs, seed, atol=1e-7, rtol=1e-6, eps=1e-6,
                                  dtype=np.float64)


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
def test_function_values_without_gradients(name):
    func, inputs, expected = VALUE_CASES[name]
    output = func(*[Variable(x) for x in inputs])
    np.testing.assert_allclose(output.data, expected(*inputs), rtol=1e-6)


def test_every_chainer_function_is_checked():
    assert set(F.CHAINER_FUNCTIONS) <= set(CASES) | set(VALUE_CASES)
    assert set(F.CHAINER_FUNCTIONS) <= set(F.__all__)


def test_function_details(reference):
    assert F.argmax(Variable(np.ones((2, 3))), axis=1).dtype == np.int32
    assert F.accuracy(_u(4, 3).astype(np.float16), np.zeros(4, np.int32)).dtype == \
        np.float16
    a, b = F.identity(Variable(np.ones(2)), np.zeros(2))
    assert a.data.tolist() == [1, 1] and b.data.tolist() == [0, 0]
    x = Variable(np.array([800.0, -1.0]))
    F.sum(F.elu(x)).backward()  # the branch not taken does not overflow
    np.testing.assert_allclose(x.grad, [1.0, np.exp(-1.0)])
    with pytest.raises(ValueError, match="do not all have length 1"):
        F.squeeze(np.ones((2, 3)), axis=0)
    with pytest.raises(ValueError, match="ratio"):
        F.dropout(np.ones(2), ratio=1.0)
    with pytest.raises(TypeError, match="integer ids"):
        F.embed_id(np.ones(2), np.ones((3, 2)))


# -- copies, files and Sequential --------------------------------------------------------


def test_deepcopy_pickle_and_npz_files(reference, tmp_path):
    np.random.seed(5)
    model = L.Classifier(MLP(4, 3))
    x, t = np.ones((2, 5), np.float32), np.array([0, 2], np.int32)
    model(x, t)  # initializes the lazy layers
    model.predictor.add_persistent("epoch", 3)
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert twin.predictor.l1.W.data is not model.predictor.l1.W.data
        twin(x, t).backward()  # gradients reach the copy, not the original
        assert twin.predictor.l1.W.grad is not None
        assert model.predictor.l1.W.grad is None

    chainer.serializers.save_npz(tmp_path / "model.npz", model)
    restored = L.Classifier(MLP(4, 3))  # uninitialized: loading initializes
    restored.predictor.add_persistent("epoch", 0)
    chainer.serializers.load_npz(tmp_path / "model.npz", restored)
    assert restored.predictor.epoch == 3
    for (path, mine), (_, theirs) in zip(restored.namedparams(), model.namedparams()):
        np.testing.assert_array_equal(mine.data, theirs.data, err_msg=path)
    assert "predictor/l2/b" in np.load(tmp_path / "model.npz").files
    with pytest.raises(KeyError, match="extra"):
        bigger = L.Classifier(MLP(4, 3))
        bigger.predictor.add_persistent("extra", 1.0)
        chainer.serializers.load_npz(tmp_path / "model.npz", bigger)


def test_sequential_mixes_links_and_functions(reference):
    np.random.seed(6)
    model = chainer.Sequential(L.Linear(None, 4), F.relu, L.Linear(4, 2))
    y = model(np.ones((3, 5), np.float32))
    layers = list(model)
    expected = np.maximum(np.ones((3, 5)) @ layers[0].W.data.T + layers[0].b.data, 0)
    expected = expected @ layers[1].W.data.T + layers[1].b.data
    np.testing.assert_allclose(y.data, expected, rtol=1e-5)
    assert [p for p, _ in model.namedparams()] == ["/0/W", "/0/b", "/1/W", "/1/b"]
    twin = model.copy("copy")
    np.testing.assert_array_equal(twin(np.ones((3, 5), np.float32)).data, y.data)


def test_variable_methods_chainer_programs_use(reference):
    x = Variable(np.array([2.0], np.float32))
    h = x * 3
    assert h.item() == 6.0 and h.xp is np and chainer.as_variable(h) is h
    c = chainer.as_variable(np.ones(1))
    assert not c.requires_grad
    h.unchain()  # a truncated history: backward stops at h
    F.sum(h * x).backward()
    assert x.grad.tolist() == [6.0] and h.grad is None and h.is_leaf
    x.zerograd()
    assert x.grad.tolist() == [0.0] and x.grad.dtype == np.float32
    model = L.Linear(1, 1)
    assert model.to_cpu() is model and model.xp is np
