"""Convolution and pooling (Theano's conv2d / pool_2d, Chainer's convolution_2d,
max/average_pooling_2d, L.Convolution2D) against numpy references written with
explicit loops, on the C backend and the reference interpreter; gradients against
central differences; small LeNet-style training runs."""

import itertools

import numpy as np
import pytest

import tensorc
import tensorc.functions as F
import tensorc.links as L
import tensorc.tensor as T
from tensorc.errors import ShapeError
from tensorc.tensor.nnet import conv as old_conv
from tensorc.tensor.nnet import conv2d
from tensorc.tensor.signal import downsample, pool

RNG = np.random.default_rng(7)


# -- numpy references -------------------------------------------------------------


def ref_correlate(x, w, stride, pads, dilation):
    """y[n, o, r, c] = sum x_p[n, ch, r*sh + i*dh, c*sw + j*dw] w[o, ch, i, j]."""
    (top, bottom), (left, right) = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    kh, kw = w.shape[2:]
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    out_h = (xp.shape[2] - eh) // stride[0] + 1
    out_w = (xp.shape[3] - ew) // stride[1] + 1
    y = np.zeros((x.shape[0], w.shape[0], out_h, out_w))
    for r in range(out_h):
        for c in range(out_w):
            r0, c0 = r * stride[0], c * stride[1]
            patch = xp[:, :, r0:r0 + eh:dilation[0], c0:c0 + ew:dilation[1]]
            y[:, :, r, c] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return y


def ref_theano_conv(x, w, border_mode="valid", subsample=(1, 1), filter_flip=True,
                    filter_dilation=(1, 1)):
    kh, kw = w.shape[2:]
    eh, ew = [d * (k - 1) + 1 for k, d in zip((kh, kw), filter_dilation)]
    pads = {"valid": (0, 0), "full": (eh - 1, ew - 1), "half": (eh // 2, ew // 2)}.get(
        border_mode, border_mode)
    pads = (pads, pads) if isinstance(pads, int) else pads
    if filter_flip:
        w = w[:, :, ::-1, ::-1]
    return ref_correlate(x, w, subsample, ((pads[0],) * 2, (pads[1],) * 2),
                         filter_dilation)


def ref_theano_pool(x, ws, ignore_border, stride, pad, mode):
    """Theano's Pool.perform: regions clipped to the (padded) image; max and
    average_exc_pad leave the padding out."""
    stride = stride or ws
    img = [x.shape[-2] + 2 * pad[0], x.shape[-1] + 2 * pad[1]]
    y = np.zeros(x.shape[:-2] + tuple(img), dtype=x.dtype)
    y[..., pad[0]:img[0] - pad[0], pad[1]:img[1] - pad[1]] = x
    out = []
    for k in range(2):
        v, w, s = img[k], ws[k], stride[k]
        if ignore_border:
            out.append(max(0, (v - w) // s + 1))
        elif s >= w:
            out.append((v - 1) // s + 1)
        else:
            out.append(max(0, (v - 1 - w) // s + 1) + 1)
    regions = []
    for k in range(2):
        axis = []
        for j in range(out[k]):
            start, end = j * stride[k], min(j * stride[k] + ws[k], img[k])
            if mode != "average_inc_pad":
                start, end = max(start, pad[k]), min(end, img[k] - pad[k])
            axis.append(slice(start, end))
        regions.append(axis)
    func = {"max": np.max, "sum": np.sum}.get(mode, np.mean)
    z = np.zeros(x.shape[:-2] + tuple(out))
    for r in range(out[0]):
        for c in range(out[1]):
            z[..., r, c] = func(y[..., regions[0][r], regions[1][c]], axis=(-2, -1))
    return z


def ref_chainer_pool(x, ksize, stride, pad, cover_all, mode):
    """Chainer's im2col pooling: pad p before and p + s - 1 after (-inf for max,
    0 for average, which divides by kh * kw)."""
    k, s, p = (ksize,) * 2, (stride or ksize,) * 2, (pad,) * 2
    fill = -np.inf if mode == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0] + s[0] - 1), (p[1], p[1] + s[1] - 1)),
                constant_values=fill)
    extra = [s[a] - 1 if cover_all else 0 for a in range(2)]
    out = [(x.shape[2 + a] + 2 * p[a] - k[a] + extra[a]) // s[a] + 1 for a in range(2)]
    y = np.zeros(x.shape[:2] + tuple(out))
    for r in range(out[0]):
        for c in range(out[1]):
            window = xp[:, :, r * s[0]:r * s[0] + k[0], c * s[1]:c * s[1] + k[1]]
            y[:, :, r, c] = window.max(axis=(2, 3)) if mode == "max" else window.mean(
                axis=(2, 3))
    return y


def convolve2d(a, k, mode):
    """A true 2-d convolution (scipy.signal.convolve2d's definition), built as the
    sum of the kernel's shifted, scaled copies of `a`: independent of the loops of
    the reference above."""
    full = np.zeros((a.shape[0] + k.shape[0] - 1, a.shape[1] + k.shape[1] - 1))
    for i, j in np.ndindex(k.shape):
        full[i : i + a.shape[0], j : j + a.shape[1]] += k[i, j] * a
    if mode == "full":
        return full
    return full[k.shape[0] - 1 : a.shape[0], k.shape[1] - 1 : a.shape[1]]


def test_references_agree_with_a_true_convolution():
    """The loop reference is a true convolution (scipy.signal.convolve2d's)."""
    x, w = RNG.standard_normal((2, 3, 6, 7)), RNG.standard_normal((4, 3, 3, 2))
    for mode in ("valid", "full"):
        want = np.array([[sum(convolve2d(x[n, c], w[o, c], mode=mode) for c in range(3))
                          for o in range(4)] for n in range(2)])
        np.testing.assert_allclose(ref_theano_conv(x, w, mode), want, atol=1e-12)


# -- Theano conv2d ------------------------------------------------------------------

CONV_CASES = [
    # x shape, w shape, options
    ((2, 3, 7, 9), (4, 3, 3, 4), {}),
    ((2, 3, 7, 9), (4, 3, 3, 4), {"border_mode": "full"}),
    ((2, 3, 7, 9), (4, 3, 3, 4), {"border_mode": "half"}),
    ((2, 3, 7, 9), (4, 3, 3, 3), {"border_mode": 1, "subsample": (2, 3)}),
    ((1, 2, 9, 8), (3, 2, 2, 3), {"border_mode": (2, 1), "filter_flip": False}),
    ((2, 1, 11, 10), (2, 1, 3, 3), {"filter_dilation": (2, 3), "subsample": (2, 1)}),
    ((2, 2, 5, 5), (3, 2, 1, 1), {"subsample": (2, 2)}),
]


def test_conv2d_matches_reference(mode):
    """The reference interpreter on every case; the C backend (one compiled
    function: C compiles are the slow part) on strides, padding pairs, no flip and
    dilation ('full' is in the dynamic-size test)."""
    inputs, outputs, wants, values = [], [], [], []
    cases = CONV_CASES if mode == "REFERENCE" else CONV_CASES[3:6]
    for xs, ws, options in cases:
        x_value, w_value = RNG.standard_normal(xs), RNG.standard_normal(ws)
        x = T.dtensor4("x")
        W = tensorc.shared(w_value, "W")  # kernel size from its current value
        inputs.append(x)
        values.append(x_value)
        outputs.append(conv2d(x, W, **options))
        wants.append(ref_theano_conv(x_value, w_value, **options))
    got = tensorc.function(inputs, outputs, mode=mode)(*values)
    for result, want, case in zip(got, wants, cases):
        np.testing.assert_allclose(result, want, rtol=1e-10, atol=1e-12,
                                   err_msg=str(case))


def test_conv2d_dynamic_image_sizes_and_filter_shape(mode):
    """One compiled function for every image size; the kernel size comes from
    filter_shape when the filters' type does not have it; the old conv module."""
    x, w = T.dtensor4("x"), T.dtensor4("w")
    y = old_conv.conv2d(x, w, filter_shape=(2, 3, 3, 2),
                        image_shape=(None, 3, None, None), border_mode="full",
                        subsample=(2, 1))
    f = tensorc.function([x, w], y, mode=mode)
    w_value = RNG.standard_normal((2, 3, 3, 2))
    for size in [(4, 5), (7, 3), (3, 2)]:
        x_value = RNG.standard_normal((2, 3, *size))
        np.testing.assert_allclose(
            f(x_value, w_value),
            ref_theano_conv(x_value, w_value, "full", (2, 1)), rtol=1e-10, atol=1e-12)


def test_conv2d_float32_keeps_dtype():
    x = T.ftensor4("x")
    w_value = RNG.standard_normal((2, 1, 3, 3)).astype("float32")
    y = conv2d(x, tensorc.shared(w_value))
    assert y.dtype == "float32" and y.ndim == 4
    x_value = RNG.standard_normal((2, 1, 6, 6)).astype("float32")
    out = tensorc.function([x], y)(x_value)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref_theano_conv(x_value, w_value), rtol=1e-4,
                               atol=1e-5)


def test_conv2d_static_output_shape():
    x = T.tensor("float64", shape=(5, 3, 12, 11))
    w = T.tensor("float64", shape=(4, 3, 5, 3))
    assert conv2d(x, w, border_mode="half", subsample=(2, 2)).type.shape == (5, 4, 6, 6)
    assert conv2d(x, w).type.shape == (5, 4, 8, 9)


# -- errors ---------------------------------------------------------------------------


def test_conv2d_errors_name_the_argument_and_line():
    x, w4 = T.dtensor4("x"), T.dtensor4("w")
    with pytest.raises(ShapeError, match=r"filter_shape.*test_conv_pool.py:\d+"):
        conv2d(x, w4)
    with pytest.raises(ShapeError, match=r"input must be a 4-d.*test_conv_pool.py"):
        conv2d(T.dmatrix("m"), w4, filter_shape=(1, 1, 2, 2))
    with pytest.raises(ShapeError, match=r"filters must be a 4-d"):
        conv2d(x, T.dmatrix("m"))
    image = T.tensor("float64", shape=(None, 3, 8, 8))
    with pytest.raises(ShapeError, match=r"3 channels but filters expect 2.*test_con"):
        conv2d(image, w4, filter_shape=(4, 2, 3, 3))
    with pytest.raises(ShapeError, match=r"kernel .*larger than the padded input"):
        conv2d(image, w4, filter_shape=(4, 3, 9, 3))
    with pytest.raises(ShapeError, match=r"filter_shape=.*disagrees"):
        conv2d(image, T.tensor("float64", shape=(4, 3, 3, 3)),
               filter_shape=(4, 3, 2, 3))
    with pytest.raises(ValueError, match=r"border_mode"):
        conv2d(image, w4, filter_shape=(4, 3, 3, 3), border_mode="same")
    with pytest.raises(ValueError, match=r"subsample"):
        conv2d(image, w4, filter_shape=(4, 3, 3, 3), subsample=(0, 1))


def test_pool_and_chainer_errors():
    with pytest.raises(ShapeError, match=r"pool_2d: input must have 2 or more dims"):
        pool.pool_2d(T.dvector("v"), (2, 2))
    with pytest.raises(ValueError, match=r"mode"):
        pool.pool_2d(T.dmatrix("m"), (2, 2), mode="median")
    with pytest.raises(NotImplementedError, match=r"ignore_border=True"):
        pool.pool_2d(T.dmatrix("m"), (2, 2), ignore_border=False, pad=(1, 1))
    x = RNG.standard_normal((2, 3, 5, 5))
    with pytest.raises(ShapeError, match=r"x has 3 channels.*groups=1"):
        F.convolution_2d(x, RNG.standard_normal((4, 2, 3, 3)))
    with pytest.raises(ShapeError, match=r"must be 4-d"):
        F.convolution_2d(x[0], RNG.standard_normal((4, 3, 3, 3)))
    with pytest.raises(ShapeError, match=r"max_pooling_2d: x must be a 4-d"):
        F.max_pooling_2d(x[0], 2)


# -- Theano pooling 

POOL_CASES = [
    # input shape, ws, ignore_border, stride, pad
    ((2, 3, 6, 8), (2, 2), True, None, (0, 0)),
    ((2, 3, 7, 9), (2, 3), True, None, (0, 0)),
    ((2, 3, 7, 9), (2, 3), False, None, (0, 0)),
    ((3, 7, 9), (3, 3), True, (2, 1), (0, 0)),
    ((3, 7, 9), (3, 2), False, (2, 1), (0, 0)),
    ((2, 7, 8), (2, 2), False, (3, 3), (0, 0)),
    ((2, 2, 7, 6), (3, 3), True, (2, 2), (1, 2)),
    ((5, 6), (3, 2), True, (1, 2), (2, 1)),
    ((1, 2, 2, 5, 7), (2, 2), True, None, (1, 1)),
]


@pytest.mark.parametrize("pool_mode", pool.MODES)
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_pool_2d_matches_reference(case, pool_mode):
    shape, ws, ignore_border, stride, pad = POOL_CASES[case]
    x = T.tensor("float64", shape=(None,) * len(shape))
    y = pool.pool_2d(x, ws=ws, ignore_border=ignore_border, stride=stride, pad=pad,
                     mode=pool_mode)
    value = RNG.standard_normal(shape)
    want = ref_theano_pool(value, ws, ignore_border, stride, pad, pool_mode)
    got = tensorc.function([x], y, mode="REFERENCE")(value)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("pool_mode", ["max", "average_exc_pad"])
def test_pool_2d_compiled_dynamic_and_static(mode, pool_mode):
    """The C backend on dynamic and static shapes, and the old downsample names."""
    x = T.dtensor4("x")
    y = pool.pool_2d(x, ws=(3, 2), ignore_border=False, stride=(2, 1), mode=pool_mode)
    f = tensorc.function([x], y, mode=mode)
    for shape in [(2, 2, 7, 5), (1, 3, 4, 8)]:
        value = RNG.standard_normal(shape)
        np.testing.assert_allclose(
            f(value), ref_theano_pool(value, (3, 2), False, (2, 1), (0, 0), pool_mode),
            rtol=1e-12)
    static = T.tensor("float64", shape=(2, 3, 9, 8))
    old = downsample.max_pool_2d(static, ds=(3, 3), ignore_border=True, st=(2, 2),
                                 padding=(1, 1), mode=pool_mode)
    assert old.type.shape == (2, 3, 5, 4)
    value = RNG.standard_normal((2, 3, 9, 8))
    np.testing.assert_allclose(
        tensorc.function([static], old, mode=mode)(value),
        ref_theano_pool(value, (3, 3), True, (2, 2), (1, 1), pool_mode), rtol=1e-12)


def test_max_pool_2d_same_size(mode):
    x = T.dtensor4("x")
    f = tensorc.function([x], pool.max_pool_2d_same_size(x, (2, 2)), mode=mode)
    value = RNG.standard_normal((2, 1, 5, 4))
    want = np.zeros_like(value)
    for r in range(0, 4, 2):
        for c in range(0, 4, 2):
            block = value[:, :, r:r + 2, c:c + 2]
            keep = block == block.max(axis=(2, 3), keepdims=True)
            want[:, :, r:r + 2, c:c + 2] = np.where(keep, block, 0)
    np.testing.assert_array_equal(f(value), want)


# -- gradients -------------------------------------------------------------------------


def _check_gradients(build, values, mode, eps=1e-6):
    """d sum(build(*inputs) * R) / d inputs against central differences."""
    inputs = [T.tensor("float64", shape=(None,) * v.ndim) for v in values]
    y = build(*inputs)
    weights = T.tensor("float64", shape=(None,) * y.ndim)
    cost = (y * weights).sum()
    grads = T.grad(cost, inputs)
    f = tensorc.function([*inputs, weights], [cost, *grads], mode=mode)
    shape = tensorc.function(inputs, y.shape.as_variable(), mode="REFERENCE")(*values)
    r = RNG.standard_normal(tuple(shape))
    _, *got = f(*values, r)
    for k, value in enumerate(values):
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = [v.copy() for v in values]
            shifted[k][index] += eps
            up = f(*shifted, r)[0]
            shifted[k][index] -= 2 * eps
            numeric[index] = (up - f(*shifted, r)[0]) / (2 * eps)
        np.testing.assert_allclose(got[k], numeric, rtol=1e-5, atol=1e-7)


def test_conv2d_gradients(mode):
    x, w = RNG.standard_normal((2, 2, 5, 4)), RNG.standard_normal((3, 2, 3, 2))
    _check_gradients(lambda a, b: conv2d(a, b, filter_shape=(3, 2, 3, 2), border_mode=1,
                                         subsample=(2, 1)), [x, w], mode)


def test_pool_gradients(mode):
    x = RNG.standard_normal((2, 5, 7))
    _check_gradients(lambda a: pool.pool_2d(a, (2, 3), ignore_border=False,
                                            stride=(2, 2)), [x], mode)
    _check_gradients(lambda a: pool.pool_2d(a, (3, 3), stride=(2, 2), pad=(1, 1),
                                            mode="average_exc_pad"), [x], mode)
    _check_gradients(lambda a: pool.pool_2d(a, (2, 2)), [x], mode)


# -- Chainer functions 

CHAINER_CONV_CASES = [
    # x shape, W shape, stride, pad, cover_all, dilate, with bias, groups
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, False, 1, True, 1),
    ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1, True, 1, False, 1),
    ((1, 2, 9, 9), (3, 2, 3, 3), (2, 3), (1, 2), False, 2, True, 1),
    ((2, 4, 5, 5), (6, 2, 3, 3), 1, 1, False, 1, True, 2),
]


@pytest.mark.parametrize("case", range(len(CHAINER_CONV_CASES)))
def test_convolution_2d_matches_reference(case):
    xs, ws, stride, pad, cover_all, dilate, with_bias, groups = CHAINER_CONV_CASES[case]
    x, W = RNG.standard_normal(xs), RNG.standard_normal(ws)
    b = RNG.standard_normal(ws[0]) if with_bias else None
    y = F.convolution_2d(x, W, b, stride=stride, pad=pad, cover_all=cover_all,
                         dilate=dilate, groups=groups)
    s = (stride,) * 2 if isinstance(stride, int) else stride
    p = (pad,) * 2 if isinstance(pad, int) else pad
    d = (dilate,) * 2
    extra = [s[k] - 1 if cover_all else 0 for k in range(2)]
    pads = ((p[0], p[0] + extra[0]), (p[1], p[1] + extra[1]))
    per = xs[1] // groups
    rows = ws[0] // groups
    want = np.concatenate([ref_correlate(x[:, g * per:(g + 1) * per],
                                         W[g * rows:(g + 1) * rows], s, pads, d)
                           for g in range(groups)], axis=1)
    if b is not None:
        want = want + b[None, :, None, None]
    np.testing.assert_allclose(y.data, want, rtol=1e-10, atol=1e-12)
    y.grad = RNG.standard_normal(y.shape)
    y.backward()  # compiled backward: runs and has the operand shapes


@pytest.mark.parametrize("ksize,stride,pad,cover_all", [
    (2, None, 0, True), (3, 2, 1, True), (3, 2, 1, False), (2, 3, 0, True),
    (3, 1, 1, False),
])
def test_chainer_pooling_matches_reference(ksize, stride, pad, cover_all):
    x = RNG.standard_normal((2, 3, 7, 6))
    got = F.max_pooling_2d(x, ksize, stride, pad, cover_all=cover_all)
    np.testing.assert_allclose(got.data, ref_chainer_pool(x, ksize, stride, pad,
                                                          cover_all, "max"))
    got = F.average_pooling_2d(x, ksize, stride, pad)
    np.testing.assert_allclose(got.data, ref_chainer_pool(x, ksize, stride, pad, False,
                                                          "average"), rtol=1e-12)


def test_chainer_gradients():
    from tensorc import gradient_check

    x, W, b = (RNG.standard_normal((1, 2, 4, 3)), RNG.standard_normal((2, 2, 2, 2)),
               RNG.standard_normal(2))
    cases = [
        (lambda x, W, b: F.convolution_2d(x, W, b, stride=(1, 2), pad=1, cover_all=True,
                                          dilate=(2, 1)), [x, W, b]),
        (lambda x: F.max_pooling_2d(x, 3, 2, 1), [x]),
        (lambda x: F.average_pooling_2d(x, 2, 1, 1), [x]),
    ]
    for func, inputs in cases:
        seed = RNG.standard_normal(func(*inputs).shape)
        gradient_check.check_backward(func, inputs, seed, atol=1e-7, rtol=1e-6,
                                      eps=1e-6)


# -- training 


def test_theano_lenet_step_lowers_the_loss(mode):
    """The LeNet tutorial's layers (conv2d -> pool_2d -> tanh -> dense -> softmax),
    trained by SGD through shared variables and givens."""
    batch, rng = 8, np.random.RandomState(1234)
    data_x = tensorc.shared(rng.uniform(size=(32, 64)).astype("float64"), borrow=True)
    labels = rng.randint(0, 3, size=32).astype("float64")
    data_y = T.cast(tensorc.shared(labels), "int32")
    index, x, y = T.lscalar(), T.matrix("x"), T.ivector("y")
    filter_shape, image_shape = (4, 1, 3, 3), (batch, 1, 8, 8)
    bound = np.sqrt(6.0 / (9 + 4 * 9 / 4))
    W = tensorc.shared(rng.uniform(-bound, bound, size=filter_shape), borrow=True)
    b = tensorc.shared(np.zeros(4), borrow=True)
    conv_out = conv2d(input=x.reshape(image_shape), filters=W,
                      filter_shape=filter_shape, input_shape=image_shape)
    pooled = pool.pool_2d(input=conv_out, ws=(2, 2), ignore_border=True)
    hidden = T.tanh(pooled + b.dimshuffle("x", 0, "x", "x")).flatten(2)
    V = tensorc.shared(rng.uniform(-0.1, 0.1, size=(36, 3)))
    c = tensorc.shared(np.zeros(3))
    p_y = T.nnet.softmax(T.dot(hidden, V) + c)
    cost = -T.mean(T.log(p_y)[T.arange(y.shape[0]), y])
    params = [W, b, V, c]
    updates = [(p, p - 0.5 * g) for p, g in zip(params, T.grad(cost, params))]
    train = tensorc.function(
        [index], cost, updates=updates, mode=mode,
        givens={x: data_x[index * batch:(index + 1) * batch],
                y: data_y[index * batch:(index + 1) * batch]})
    losses = [np.mean([train(i) for i in range(4)]) for _ in range(6)]
    assert all(b < a for a, b in itertools.pairwise(losses)), losses
    assert losses[-1] < losses[0] - 0.1, losses


def test_chainer_convnet_trains():
    class ConvNet(tensorc.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.conv = L.Convolution2D(None, 4, 3, pad=1)
                self.fc = L.Linear(None, 3)

        def forward(self, x):
            return self.fc(F.max_pooling_2d(F.relu(self.conv(x)), 2))

    np.random.seed(0)
    model = L.Classifier(ConvNet())
    assert model.predictor.conv.W.data is None
    optimizer = tensorc.optimizers.Adam(alpha=0.01).setup(model)
    x = np.random.rand(8, 2, 8, 8).astype(np.float32)
    t = np.random.randint(0, 3, size=8).astype(np.int32)
    losses = []
    for _ in range(10):
        optimizer.update(model, x, t)
        losses.append(float(model.loss.data))
    assert model.predictor.conv.W.shape == (4, 2, 3, 3)
    assert model.predictor.conv.W.dtype == np.float32
    assert losses[-1] < losses[0] * 0.7, losses


def test_convolution2d_link_call_forms():
    np.random.seed(1)
    short = L.Convolution2D(5, 3)  # (out_channels, ksize): in_channels at first call
    assert short.W.data is None and short.out_channels == 5
    y = short(np.ones((1, 2, 4, 4), np.float32))
    assert y.shape == (1, 5, 2, 2) and short.W.shape == (5, 2, 3, 3)
    full = L.Convolution2D(6, 4, (3, 2), stride=2, pad=1, nobias=True, groups=2)
    assert full.b is None and full.W.shape == (4, 3, 3, 2)
    np.testing.assert_allclose(full.W.data.std(), np.sqrt(1 / 18), rtol=0.5)
    const = L.Convolution2D(2, 3, 2, initialW=0.5, initial_bias=1.0)
    out = const(np.ones((1, 2, 3, 3), np.float32))
    np.testing.assert_allclose(out.data, np.full((1, 3, 2, 2), 5.0))
