"""tc.im2col and tc.col2im directly: against numpy loops over every patch element
on the C backend and the reference interpreter (static and dynamic image sizes,
strides, dilations, uneven padding, odd sizes, int and float32 elements), their
adjointness, gradients by central differences, and run-time errors that name the
op and the user's line."""

import inspect

import numpy as np
import pytest

import tensorc
import tensorc.tensor as T
from tensorc.errors import ShapeError
from tensorc.frontend.variable import TensorType
from tensorc.gradient import verify_grad
from tensorc.tensor.conv import col2im, im2col

RNG = np.random.default_rng(11)

# (image shape, kernel, strides, dilations, ((top, bottom), (left, right)))
CASES = [
    ((2, 3, 5, 6), (3, 2), (1, 1), (1, 1), ((0, 0), (0, 0))),
    ((1, 2, 7, 5), (3, 3), (2, 2), (1, 1), ((1, 1), (1, 1))),
    ((2, 1, 9, 8), (2, 3), (3, 1), (2, 2), ((2, 0), (0, 3))),
    ((1, 3, 4, 4), (5, 5), (1, 2), (1, 1), ((4, 4), (2, 3))),  # kernel > image
    ((3, 2, 1, 7), (1, 4), (1, 3), (1, 2), ((0, 0), (1, 1))),
]


def counts(shape, kernel, strides, dilations, pads):
    return tuple(
        (shape[2 + k] + sum(pads[k]) - dilations[k] * (kernel[k] - 1) - 1)
        // strides[k] + 1
        for k in range(2)
    )


def sources(shape, kernel, strides, dilations, pads):
    """(patch index, image index or None for padding) for every patch element."""
    n, c = shape[:2]
    oh, ow = counts(shape, kernel, strides, dilations, pads)
    for index in np.ndindex(n, oh, ow, c, *kernel):
        b, r, q, ch, i, j = index
        h = r * strides[0] + i * dilations[0] - pads[0][0]
        w = q * strides[1] + j * dilations[1] - pads[1][0]
        inside = 0 <= h < shape[2] and 0 <= w < shape[3]
        yield index, (b, ch, h, w) if inside else None


def ref_im2col(x, kernel, strides, dilations, pads):
    oh, ow = counts(x.shape, kernel, strides, dilations, pads)
    out = np.zeros((x.shape[0], oh, ow, x.shape[1], *kernel), x.dtype)
    for index, source in sources(x.shape, kernel, strides, dilations, pads):
        if source is not None:
            out[index] = x[source]
    return out


def ref_col2im(cols, shape, strides, dilations, pads):
    out = np.zeros(shape, cols.dtype)
    for index, source in sources(shape, cols.shape[4:], strides, dilations, pads):
        if source is not None:
            out[source] += cols[index]
    return out


def image(shape, dynamic, dtype="float64"):
    static = (None,) * 4 if dynamic else shape
    return TensorType(dtype, shape=static)("x")


@pytest.mark.parametrize("dynamic", [False, True])
def test_im2col_matches_loops(mode, dynamic):
    for dtype in ("float64", "int32"):
        inputs, outputs, values, wants = [], [], [], []
        for shape, kernel, strides, dilations, pads in CASES:
            x = image(shape, dynamic, dtype)
            inputs.append(x)
            outputs.append(im2col(x, kernel, strides, pads, dilations))
            values.append((RNG.standard_normal(shape) * 10).astype(dtype))
            wants.append(ref_im2col(values[-1], kernel, strides, dilations, pads))
        got = tensorc.function(inputs, outputs, mode=mode)(*values)
        for result, want in zip(got, wants, strict=True):
            assert result.dtype == want.dtype
            np.testing.assert_array_equal(result, want)


@pytest.mark.parametrize("dynamic", [False, True])
def test_col2im_matches_loops(mode, dynamic):
    for dtype in ("float32", "int64"):
        inputs, outputs, values, wants = [], [], [], []
        for shape, kernel, strides, dilations, pads in CASES:
            cols_shape = (shape[0], *counts(shape, kernel, strides, dilations, pads),
                          shape[1], *kernel)
            cols = TensorType(dtype, shape=(None, None, None, None, *kernel))("cols")
            h, w = (T.iscalar("h"), T.iscalar("w")) if dynamic else shape[2:]
            inputs += [cols, h, w] if dynamic else [cols]
            outputs.append(col2im(cols, (h, w), strides, pads, dilations))
            patches = (RNG.standard_normal(cols_shape) * 10).astype(dtype)
            values += [patches, *np.int32(shape[2:])] if dynamic else [patches]
            wants.append(ref_col2im(patches, shape, strides, dilations, pads))
        got = tensorc.function(inputs, outputs, mode=mode)(*values)
        for result, want in zip(got, wants, strict=True):
            assert result.dtype == want.dtype
            np.testing.assert_allclose(result, want, rtol=1e-5, atol=1e-4)


def test_im2col_and_col2im_are_adjoint(mode):
    """<im2col(x), y> == <x, col2im(y)> for every case."""
    for shape, kernel, strides, dilations, pads in CASES:
        x = image(shape, dynamic=True)
        y = TensorType("float64", shape=(None,) * 4 + kernel)("y")
        forward = (im2col(x, kernel, strides, pads, dilations) * y).sum()
        size = (x.shape[2], x.shape[3])
        backward = (x * col2im(y, size, strides, pads, dilations)).sum()
        cols_shape = (shape[0], *counts(shape, kernel, strides, dilations, pads),
                      shape[1], *kernel)
        xv, yv = RNG.standard_normal(shape), RNG.standard_normal(cols_shape)
        f = tensorc.function([x, y], [forward, backward], mode=mode)
        lhs, rhs = f(xv, yv)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


def test_gradients_by_central_differences(mode):
    shape, kernel, strides, dilations, pads = CASES[2]
    cols_shape = (shape[0], *counts(shape, kernel, strides, dilations, pads),
                  shape[1], *kernel)
    verify_grad(lambda x: im2col(x, kernel, strides, pads, dilations) ** 2,
                [RNG.standard_normal(shape)], rng=RNG, mode=mode)
    verify_grad(lambda c: col2im(T.reshape(c, cols_shape), shape[2:], strides, pads,
                                 dilations) ** 2,
                [RNG.standard_normal(cols_shape)], rng=RNG, mode=mode)


def test_kernel_larger_than_the_padded_image(mode):
    with pytest.raises(ShapeError, match="larger than the padded input"):
        im2col(image((1, 1, 3, 3), dynamic=False), (3, 5), (1, 1), ((0, 0), (1, 0)),
               (1, 1))
    x = image((1, 1, 3, 3), dynamic=True)
    cols = im2col(x, (3, 5), (1, 1), ((0, 0), (1, 0)), (1, 1))
    line = inspect.currentframe().f_lineno - 1
    f = tensorc.function([x], cols, mode=mode)
    with pytest.raises(ShapeError) as raised:
        f(np.zeros((1, 1, 3, 3)))
    message = str(raised.value)
    assert message.startswith(f"tc.im2col (created at {__file__}:{line}): "), message
    assert "kernel spans" in message and "dim 3" in message
    assert f(np.zeros((1, 1, 3, 4))).shape == (1, 1, 1, 1, 3, 5)


def test_col2im_checks_the_window_counts(mode):
    cols = TensorType("float64", shape=(None, None, None, None, 3, 3))("cols")
    h = T.iscalar("h")
    x = col2im(cols, (h, 5), (2, 2), ((1, 1), (1, 1)), (1, 1))
    f = tensorc.function([cols, h], x, mode=mode)
    assert f(np.ones((1, 3, 3, 2, 3, 3)), np.int32(6)).shape == (1, 2, 6, 5)
    with pytest.raises(ShapeError, match="tc.col2im .*test_conv_ops.py"):
        f(np.ones((1, 3, 3, 2, 3, 3)), np.int32(3))  # 3 rows give 2 windows
    with pytest.raises(ShapeError, match="tc.col2im .*test_conv_ops.py"):
        f(np.ones((1, 3, 3, 2, 3, 3)), np.int32(-1))
