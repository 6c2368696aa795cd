import numpy as np
import pytest

import tensorc.tensor as T
from tensorc import function
from tensorc.errors import ShapeError
from tensorc.ifelse import ifelse


def test_ifelse_selects_a_branch(mode):
    a, b = T.dscalars("a", "b")
    x, y = T.dmatrices("x", "y")
    z = ifelse(T.lt(a, b), T.mean(x), T.mean(y))
    f = function([a, b, x, y], z, mode=mode)
    ones, zeros = np.ones((3, 2)), np.zeros((3, 2))
    assert f(1, 2, ones, zeros) == 1.0
    assert f(2, 1, ones, zeros) == 0.0
    both = function([a, b, x, y], ifelse(a > b, [x, a], [y, b]), mode=mode)
    got = both(2, 1, ones, zeros)
    np.testing.assert_array_equal(got[0], ones)
    assert got[1] == 2


def test_ifelse_needs_a_scalar_condition():
    with pytest.raises(ShapeError, match="scalar"):
        ifelse(T.dvector() > 0, 1.0, 2.0)
