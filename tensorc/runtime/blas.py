"""Matrix products on the BLAS the compiled code links (scipy-openblas32).

A process that mixes eager numpy-level work with compiled kernels would otherwise
run two OpenBLAS thread pools (numpy's own and the one the kernels link): each
pool's idle threads spin for a while after a call, and on a small machine they
take the cores the other pool needs (a Chainer MLP step took 290 ms instead of
35 ms on 2 cores). Eager matrix products (tensorc.define_by_run) go through this
module so that all of tensorc's BLAS work shares one pool.

Loading the library is the same `dlopen` the kernels' rpath resolves to, so it
is one library instance and one thread pool.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

_ROW_MAJOR, _NO_TRANS = 101, 111
_GEMM = {np.dtype(np.float64): "scipy_cblas_dgemm", np.dtype(np.float32): "scipy_cblas_sgemm"}
_SCALAR = {np.dtype(np.float64): ctypes.c_double, np.dtype(np.float32): ctypes.c_float}
_INT_MAX = 2**31 - 1  # blasint is 32-bit in scipy-openblas32


@functools.cache
def _function(dtype: np.dtype) -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """The CBLAS gemm for `dtype`, or None where scipy-openblas32 is missing."""
    try:
        import scipy_openblas32
    except ImportError:
        return None
    library = ctypes.CDLL(
        f"{scipy_openblas32.get_lib_dir()}/lib{scipy_openblas32.get_library()}.so"
    )
    gemm = getattr(library, _GEMM[dtype])
    scalar, pointer, integer = _SCALAR[dtype], ctypes.c_void_p, ctypes.c_int
    gemm.argtypes = [integer, integer, integer, integer, integer, integer, scalar,
                     pointer, integer, pointer, integer, scalar, pointer, integer]
    gemm.restype = None
    return gemm


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """`a @ b` for two matrices of one float dtype with matching inner dims, or
    None when this path does not apply (the caller then uses numpy)."""
    if (
        a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.dtype not in _GEMM
        or a.shape[1] != b.shape[0] or max(*a.shape, *b.shape) > _INT_MAX
        or 0 in (*a.shape, b.shape[1])
    ):
        return None
    gemm = _function(a.dtype)
    if gemm is None:
        return None
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    (m, k), n = a.shape, b.shape[1]
    out = np.empty((m, n), a.dtype)
    gemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, m, n, k, 1.0, a.ctypes.data, k,
         b.ctypes.data, n, 0.0, out.ctypes.data, n)
    return out
