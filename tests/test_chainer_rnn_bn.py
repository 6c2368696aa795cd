"""Chainer's BatchNormalization and recurrent links (L.BatchNormalization, L.LSTM,
L.StatelessLSTM, L.GRU) on tensorc: training vs test mode and the running
averages against numpy, persistents through serializers, LSTM steps and
backpropagation through time against a numpy LSTM and central differences, and
small Chainer-example-style training loops (char-RNN, MNIST-CNN with BN)."""

import time

import numpy as np
import pytest

import tensorc as chainer
import tensorc.functions as F
import tensorc.links as L
from tensorc import gradient_check, optimizers, serializers
from tensorc.define_by_run import BACKWARD_CACHE

RNG = np.random.default_rng(11)


@pytest.fixture
def reference(monkeypatch):
    """Backward graphs for the reference interpreter (no C compiler run)."""
    monkeypatch.setattr(chainer.config, "mode", "REFERENCE")


def _expanded(v, ndim, axes):
    return v.reshape([1 if a in axes else -1 for a in range(ndim)])


def _normalized(x, gamma, beta, mean, var, axes, eps=2e-5):
    """gamma (x - mean) / sqrt(var + eps) + beta, per channel (numpy)."""
    e = [_expanded(v, x.ndim, axes) for v in (gamma, beta, mean, var)]
    return e[0] * (x - e[2]) / np.sqrt(e[3] + eps) + e[1]


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _numpy_lstm_step(c, h, x, W_up, b_up, W_lat):
    """One step of Chainer's L.LSTM in numpy (h None: no lateral term)."""
    z = x @ W_up.T + b_up + (0 if h is None else h @ W_lat.T)
    a, i, f, o = (z.reshape(len(z), -1, 4)[:, :, k] for k in range(4))
    c = np.tanh(a) * _sigmoid(i) + _sigmoid(f) * c
    return c, _sigmoid(o) * np.tanh(c)


# -- BatchNormalization ------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2, 5)])
def test_batch_normalization_train_and_test_modes(shape, reference):
    bn = L.BatchNormalization(3, decay=0.8)
    bn.gamma.data[:] = [1.0, 2.0, 0.5]
    bn.beta.data[:] = [0.0, -1.0, 3.0]
    axes = (0,) + tuple(range(2, len(shape)))
    m = np.prod([shape[a] for a in axes])
    xs = [RNG.normal(2.0, 3.0, size=shape).astype(np.float32) for _ in range(2)]
    mean, var = np.zeros(3), np.ones(3)
    for x in xs:
        y = bn(chainer.Variable(x))
        expected = _normalized(x, bn.gamma.data, bn.beta.data, x.mean(axis=axes),
                               x.var(axis=axes), axes)
        np.testing.assert_allclose(y.data, expected, rtol=1e-4, atol=1e-5)
        mean = 0.8 * mean + 0.2 * x.mean(axis=axes)
        var = 0.8 * var + 0.2 * x.var(axis=axes) * m / (m - 1)  # unbiased
    np.testing.assert_allclose(bn.avg_mean, mean, rtol=1e-5)
    np.testing.assert_allclose(bn.avg_var, var, rtol=1e-5)
    assert bn.avg_mean.dtype == np.float32 and bn.N == 0
    F.sum(y * y).backward()
    assert bn.gamma.grad.shape == (3,) and bn.beta.grad.shape == (3,)

    with chainer.using_config("train", False):
        y = bn(xs[0])
    np.testing.assert_allclose(bn.avg_mean, mean, rtol=1e-5)  # unchanged
    np.testing.assert_allclose(y.data, _normalized(
        xs[0], bn.gamma.data, bn.beta.data, mean, var, axes), rtol=1e-4, atol=1e-5)


def test_batch_normalization_finetune_gamma_beta_off_and_axis(reference):
    x1, x2 = RNG.normal(size=(2, 5, 4)), RNG.normal(size=(2, 5, 4))
    bn = L.BatchNormalization(4, use_gamma=False, use_beta=False, axis=(0, 1),
                              dtype=np.float64)
    assert [n for n, _ in bn.namedparams()] == []
    bn(x1, finetune=True)
    bn(x2, finetune=True)  # decay 1 - 1/N: the mean of the batch statistics
    assert bn.N == 2
    np.testing.assert_allclose(bn.avg_mean, (x1.mean((0, 1)) + x2.mean((0, 1))) / 2)
    unbiased = [x.var((0, 1)) * 10 / 9 for x in (x1, x2)]
    np.testing.assert_allclose(bn.avg_var, (unbiased[0] + unbiased[1]) / 2)
    bn.start_finetuning()
    assert bn.N == 0
    deferred = L.BatchNormalization(axis=0)  # channel shape from the first input
    assert deferred.avg_mean is None
    y = deferred(x1)
    assert deferred.avg_mean.shape == (5, 4) and deferred.gamma.shape == (5, 4)
    np.testing.assert_allclose(y.data, (x1 - x1.mean(0)) / np.sqrt(x1.var(0) + 2e-5),
                               rtol=1e-5)
    with pytest.raises(ValueError, match="size or axis"):
        L.BatchNormalization()


def test_batch_normalization_persistents_through_serializers(tmp_path, reference):
    class Net(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.fc = L.Linear(4, 3)
                self.bn = L.BatchNormalization(3)

        def forward(self, x):
            return self.bn(self.fc(x))

    net = Net()
    for _ in range(3):
        net(RNG.normal(size=(5, 4)).astype(np.float32))
    net.bn(RNG.normal(size=(5, 3)).astype(np.float32), finetune=True)
    serializers.save_npz(tmp_path / "net.npz", net)
    assert {"bn/avg_mean", "bn/avg_var", "bn/N", "bn/gamma"} <= set(
        np.load(tmp_path / "net.npz").files)
    restored = Net()
    serializers.load_npz(tmp_path / "net.npz", restored)
    np.testing.assert_array_equal(restored.bn.avg_mean, net.bn.avg_mean)
    np.testing.assert_array_equal(restored.bn.avg_var, net.bn.avg_var)
    assert restored.bn.N == net.bn.N == 1
    x = RNG.normal(size=(2, 4)).astype(np.float32)
    with chainer.using_config("train", False):
        np.testing.assert_array_equal(restored(x).data, net(x).data)
    twin = net.copy("copy")
    assert twin.bn.avg_mean is not net.bn.avg_mean
    np.testing.assert_array_equal(twin.bn.avg_var, net.bn.avg_var)


# -- LSTM ------------------------------------------------------------------------------


def test_lstm_initialization_like_chainer():
    np.random.seed(0)
    rnn = L.LSTM(20, 30)
    b = rnn.upward.b.data
    # Column 4 u + k is source k (a, i, f, o) of unit u: the forget gate gets 1.
    np.testing.assert_array_equal(b.reshape(30, 4), [[0, 0, 1, 0]] * 30)
    assert rnn.lateral.b is None and rnn.lateral.W.shape == (120, 30)
    assert rnn.upward.W.shape == (120, 20)
    assert abs(rnn.upward.W.data.std() - np.sqrt(1 / 20)) < 0.1 * np.sqrt(1 / 20)
    assert [n for n, _ in rnn.namedparams()] == ["/lateral/W", "/upward/W",
                                                  "/upward/b"]
    lazy = L.LSTM(3)
    assert lazy.upward.W.data is None and lazy.state_size == 3
    assert lazy(np.ones((2, 2, 3), np.float32)).shape == (2, 3)  # 6 inputs
    assert lazy.upward.W.shape == (12, 6)
    custom = L.LSTM(2, 3, bias_init=0.5, forget_bias_init=-1.0)
    np.testing.assert_array_equal(custom.upward.b.data.reshape(3, 4),
                                  [[0.5, 0.5, -1.0, 0.5]] * 3)


def test_lstm_steps_reset_and_set_state_against_numpy(reference):
    np.random.seed(1)
    rnn = L.LSTM(4, 3)
    weights = (rnn.upward.W.data, rnn.upward.b.data, rnn.lateral.W.data)
    xs = RNG.normal(size=(4, 2, 4)).astype(np.float32)
    c, h = np.zeros((2, 3)), None
    for x in xs:
        y = rnn(x)
        c, h = _numpy_lstm_step(c, h, x, *weights)
        np.testing.assert_allclose(y.data, h, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rnn.c.data, c, rtol=1e-5, atol=1e-6)
        assert rnn.h is y
    rnn.reset_state()
    assert rnn.c is None and rnn.h is None
    first = _numpy_lstm_step(np.zeros((2, 3)), None, xs[0], *weights)[1]
    np.testing.assert_allclose(rnn(xs[0]).data, first, rtol=1e-5, atol=1e-6)

    c0 = chainer.Variable(RNG.normal(size=(2, 3)).astype(np.float32))
    h0 = chainer.Variable(RNG.normal(size=(2, 3)).astype(np.float32))
    rnn.set_state(c0, h0)
    expected = _numpy_lstm_step(c0.data, h0.data, xs[1], *weights)
    np.testing.assert_allclose(rnn(xs[1]).data, expected[1], rtol=1e-5, atol=1e-6)
    # A smaller batch (shorter sequences last) advances only the first rows.
    c_before, h_before = rnn.c.data.copy(), rnn.h.data.copy()
    y = rnn(xs[2][:1])
    c1, h1 = _numpy_lstm_step(c_before[:1], h_before[:1], xs[2][:1], *weights)
    np.testing.assert_allclose(y.data, h1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rnn.h.data, np.concatenate([h1, h_before[1:]]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rnn.c.data, np.concatenate([c1, c_before[1:]]),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="larger"):
        rnn(np.ones((3, 4), np.float32))

    stateless = L.StatelessLSTM(4, 3)
    stateless.copyparams(rnn)
    c_new, h_new = stateless(c0, h0, xs[1])
    np.testing.assert_allclose(h_new.data, expected[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c_new.data, expected[0], rtol=1e-5, atol=1e-6)


def _numpy_bptt_loss(params, xs, seeds):
    """sum_t <h_t, seed_t> over the steps of a numpy LSTM from a zero state."""
    c, h, loss = np.zeros((xs.shape[1], params[2].shape[1])), None, 0.0
    for x, seed in zip(xs, seeds):
        c, h = _numpy_lstm_step(c, h, x, *params)
        loss += np.sum(h * seed)
    return loss


def test_lstm_gradients_through_time_against_central_differences(reference):
    np.random.seed(2)
    with chainer.using_config("dtype", np.float64):
        rnn = L.LSTM(2, 3)
    xs = chainer.Variable(RNG.normal(size=(3, 2, 2)))
    seeds = RNG.normal(size=(3, 2, 3))
    loss = 0
    for t in range(3):
        loss = loss + F.sum(rnn(xs[t]) * seeds[t])
    loss.backward()
    params = [rnn.upward.W, rnn.upward.b, rnn.lateral.W]
    arrays = [p.data.copy() for p in params] + [xs.data.copy()]
    numeric = gradient_check.numerical_grad(
        lambda: _numpy_bptt_loss(arrays[:3], arrays[3], seeds), arrays, eps=1e-6)
    for param, expected in zip([*params, xs], numeric):
        np.testing.assert_allclose(param.grad, expected, rtol=1e-6, atol=1e-8)
    assert float(loss.data) == pytest.approx(_numpy_bptt_loss(arrays[:3], xs.data,
                                                              seeds))


def test_gru_links_against_numpy(reference):
    np.random.seed(3)
    gru = L.GRU(4, 3)
    assert isinstance(gru, L.StatefulGRU)
    x1, x2 = RNG.normal(size=(2, 2, 4)).astype(np.float32)

    def lin(name, v):
        link = getattr(gru, name)
        return v @ link.W.data.T + link.b.data

    h1 = _sigmoid(lin("W_z", x1)) * np.tanh(lin("W", x1))  # no state yet
    np.testing.assert_allclose(gru(x1).data, h1, rtol=1e-5, atol=1e-6)
    r = _sigmoid(lin("W_r", x2) + lin("U_r", h1))
    z = _sigmoid(lin("W_z", x2) + lin("U_z", h1))
    h2 = (1 - z) * h1 + z * np.tanh(lin("W", x2) + lin("U", r * h1))
    np.testing.assert_allclose(gru(x2).data, h2, rtol=1e-5, atol=1e-6)
    stateless = L.StatelessGRU(4, 3)
    stateless.copyparams(gru)
    np.testing.assert_allclose(stateless(h1, x2).data, h2, rtol=1e-5, atol=1e-6)
    gru.reset_state()
    assert gru.h is None


# -- Chainer-example-style training -------------------------------------------------


class CharRNN(chainer.Chain):
    """Chainer's ptb example in miniature: embed, LSTM, linear to the vocabulary."""

    def __init__(self, n_vocab, n_units):
        super().__init__()
        with self.init_scope():
            self.embed = L.EmbedID(n_vocab, n_units)
            self.rnn = L.LSTM(n_units, n_units)
            self.out = L.Linear(n_units, n_vocab)

    def reset_state(self):
        self.rnn.reset_state()

    def forward(self, x):
        return self.out(F.dropout(self.rnn(self.embed(x)), ratio=0.1))


def test_char_rnn_training_loss_drops(capsys):
    np.random.seed(4)
    text = np.array([0, 1, 2, 3, 1, 2, 0, 3] * 12, np.int32)  # a periodic "text"
    model = CharRNN(n_vocab=4, n_units=16)
    optimizer = optimizers.Adam(alpha=0.02).setup(model)
    batch, bprop_len = 4, 3
    starts = np.arange(batch) * (len(text) // batch)
    losses, seconds = [], []
    for step in range(40):
        began = time.perf_counter()
        loss = 0
        for k in range(bprop_len):
            position = (starts + step * bprop_len + k) % (len(text) - 1)
            loss += F.softmax_cross_entropy(model(text[position]), text[position + 1])
        model.cleargrads()
        loss.backward()
        model.rnn.h.unchain()  # truncated BPTT, as Chainer's example
        model.rnn.c.unchain()
        optimizer.update()
        losses.append(float(loss.data) / bprop_len)
        seconds.append(time.perf_counter() - began)
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4]), losses
    with capsys.disabled():
        print(f"\n  char-RNN step (3 LSTM steps, batch 4): "
              f"first {seconds[0]:.2f} s, then {np.median(seconds[2:]) * 1e3:.0f} ms")


class CNN(chainer.Chain):
    """Chainer's MNIST CNN style with batch normalization."""

    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.conv = L.Convolution2D(None, 6, 3, pad=1)
            self.bn = L.BatchNormalization(6)
            self.fc = L.Linear(None, 10)

    def forward(self, x):
        h = F.max_pooling_2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(h)


def test_cnn_with_batch_normalization_trains(capsys):
    np.random.seed(5)
    prototypes = np.random.uniform(size=(10, 1, 8, 8)) > 0.6
    labels = np.random.randint(0, 10, size=200).astype(np.int32)
    images = (prototypes[labels] + np.random.normal(scale=0.4, size=(200, 1, 8, 8))
              ).astype(np.float32)
    model = L.Classifier(CNN())
    optimizer = optimizers.MomentumSGD(lr=0.05).setup(model)
    BACKWARD_CACHE.clear()
    losses, seconds = [], []
    for step in range(20):
        began = time.perf_counter()
        batch = slice((step % 5) * 40, (step % 5 + 1) * 40)
        optimizer.update(model, images[batch], labels[batch])
        losses.append(float(model.loss.data))
        seconds.append(time.perf_counter() - began)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses
    assert BACKWARD_CACHE.compilations == 1
    assert np.all(model.predictor.bn.avg_var != 1.0)  # running averages moved
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        model(images, labels)
    assert float(model.accuracy.data) > 0.9
    with capsys.disabled():
        print(f"\n  CNN+BN step (batch 40, 8x8): first {seconds[0]:.2f} s, "
              f"then {np.median(seconds[2:]) * 1e3:.0f} ms")
