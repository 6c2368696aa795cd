"""`T.nlinalg` (Theano's theano.tensor.nlinalg): tensorc has no linear-algebra
solver or factorization op yet, so matrix_inverse, det, eig, eigh, svd and pinv
raise a clear NotImplementedInTensorc naming themselves; trace, diag,
alloc_diag and extract_diag are compositions of frontend ops."""

from __future__ import annotations

from typing import Any

from tensorc.errors import ShapeError
from tensorc.frontend.elemwise import as_variable
from tensorc.frontend.reduce import sum as tensor_sum
from tensorc.frontend.variable import Variable, user_location
from tensorc.tensor.basic import diag
from tensorc.tensor.unimplemented import unimplemented

__all__ = [
    "alloc_diag", "det", "diag", "eig", "eigh", "extract_diag", "matrix_inverse",
    "pinv", "svd", "trace",
]

matrix_inverse = unimplemented("T.nlinalg.matrix_inverse")
det = unimplemented("T.nlinalg.det")
eig = unimplemented("T.nlinalg.eig")
eigh = unimplemented("T.nlinalg.eigh")
svd = unimplemented("T.nlinalg.svd")
pinv = unimplemented("T.nlinalg.pinv")




def alloc_diag(x: Any) -> Variable:
    """The square matrix with vector `x` on its diagonal."""
    x = as_variable(x)
    if x.ndim != 1:
        raise ShapeError(f"alloc_diag: x must be a vector, got the {x.ndim}-d {x!r} "
                         f"(at {user_location()})")
    return diag(x)


def extract_diag(x: Any) -> Variable:
    """The main diagonal of matrix `x`."""
    x = as_variable(x)
    if x.ndim != 2:
        raise ShapeError(f"extract_diag: x must be a matrix, got the {x.ndim}-d "
                         f"{x!r} (at {user_location()})")
    return diag(x)


def trace(x: Any) -> Variable:
    """Sum of the main diagonal of matrix `x` (numpy.trace)."""
    return tensor_sum(extract_diag(x))
