"""The fixed C text every emitted module starts with, in one place.

- `INCLUDES`: headers.
- `SCALAR_HELPERS`: total, side-effect-free helpers the C_EXPR table calls where
  an operand is needed twice or C alone would trap or be undefined (integer
  division, shifts, float->int casts, NaN-propagating min/max). They are declared
  `TC_FN` (`static inline` here) so the CUDA emitter can make them `__device__`.
- `RUNTIME_HELPERS`: checked allocation and error-message writers used by the
  exported entry functions.
- `GEMM_HELPERS`: `tensorc_gemm_f32/f64`, the runtime functions bufferized IR
  declares and calls, forwarding to scipy-openblas32's CBLAS.
- `EXPORTS`: `tensorc_free`, so Python frees outputs with the allocator that made
  them.
"""

INCLUDES = """\
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
"""

SCALAR_HELPERS = r"""
#ifndef TC_FN
#define TC_FN static inline
#endif

/* Integer helpers on intN_t T with unsigned twin U. Division/remainder by zero give
   0 and MIN / -1 wraps (numpy's results, never a trap). Products go through
   uint64_t so no promoted int can overflow. */
#define TC_INT_HELPERS(S, T, U, BITS)                                                 \
TC_FN T tc_divsi_##S(T a, T b) {                                                    \
    return b == 0 ? (T)0 : b == -1 ? (T)(0u - (U)a) : (T)(a / b);                   \
}                                                                                   \
TC_FN T tc_remsi_##S(T a, T b) { return b == 0 || b == -1 ? (T)0 : (T)(a % b); }   \
TC_FN T tc_floordivsi_##S(T a, T b) {                                               \
    T q = tc_divsi_##S(a, b), r = tc_remsi_##S(a, b);                               \
    return r != 0 && (r < 0) != (b < 0) ? (T)(q - 1) : q;                           \
}                                                                                   \
TC_FN T tc_ceildivsi_##S(T a, T b) {                                                \
    T q = tc_divsi_##S(a, b), r = tc_remsi_##S(a, b);                               \
    return r != 0 && (r < 0) == (b < 0) ? (T)(q + 1) : q;                           \
}                                                                                   \
TC_FN T tc_divui_##S(T a, T b) { return b == 0 ? (T)0 : (T)((U)a / (U)b); }       \
TC_FN T tc_remui_##S(T a, T b) { return b == 0 ? (T)0 : (T)((U)a % (U)b); }       \
TC_FN T tc_ceildivui_##S(T a, T b) {                                                \
    return b == 0 ? (T)0 : (T)((U)a / (U)b + ((U)a % (U)b != 0));                   \
}                                                                                   \
TC_FN T tc_maxsi_##S(T a, T b) { return a > b ? a : b; }                            \
TC_FN T tc_minsi_##S(T a, T b) { return a < b ? a : b; }                            \
TC_FN T tc_maxui_##S(T a, T b) { return (U)a > (U)b ? a : b; }                      \
TC_FN T tc_minui_##S(T a, T b) { return (U)a < (U)b ? a : b; }                      \
TC_FN T tc_shli_##S(T a, T b) {                                                     \
    return (U)b >= BITS ? (T)0 : (T)(U)((uint64_t)(U)a << (U)b);                    \
}                                                                                   \
TC_FN T tc_shrsi_##S(T a, T b) {                                                    \
    return (U)b >= BITS ? (T)(a < 0 ? -1 : 0) : (T)(a >> (U)b);                     \
}                                                                                   \
TC_FN T tc_shrui_##S(T a, T b) { return (U)b >= BITS ? (T)0 : (T)((U)a >> (U)b); } \
TC_FN T tc_absi_##S(T a) { return a < 0 ? (T)(0u - (U)a) : a; }                    \
TC_FN T tc_ipowi_##S(T a, T b) {                                                    \
    if (b < 0) return a == 1 ? (T)1 : a == -1 ? (T)((b & 1) ? -1 : 1) : (T)0;      \
    uint64_t base = (U)a, result = 1;                                               \
    for (uint64_t e = (U)b; e != 0; e >>= 1) {                                      \
        if (e & 1) result *= base;                                                  \
        base *= base;                                                               \
    }                                                                               \
    return (T)(U)result;                                                            \
}                                                                                   \
TC_FN T tc_ctlz_##S(T a) {                                                          \
    return a == 0 ? (T)BITS : (T)(__builtin_clzll((U)a) - (64 - BITS));             \
}                                                                                   \
TC_FN T tc_cttz_##S(T a) { return a == 0 ? (T)BITS : (T)__builtin_ctzll((U)a); }   \
TC_FN T tc_ctpop_##S(T a) { return (T)__builtin_popcountll((U)a); }

TC_INT_HELPERS(i8, int8_t, uint8_t, 8)
TC_INT_HELPERS(i16, int16_t, uint16_t, 16)
TC_INT_HELPERS(i32, int32_t, uint32_t, 32)
TC_INT_HELPERS(i64, int64_t, uint64_t, 64)

/* float -> int: NaN and out-of-range values give INT_MIN, as x86's cvtt* (and so
   numpy) do; i8/i16 truncate the int32 result like numpy's casts. */
TC_FN int32_t tc_fptosi_i32(double x) {
    return x > -0x1p31 - 1.0 && x < 0x1p31 ? (int32_t)x : INT32_MIN;
}
TC_FN int64_t tc_fptosi_i64(double x) {
    return x >= -0x1p63 && x < 0x1p63 ? (int64_t)x : INT64_MIN;
}
TC_FN int64_t tc_fptoui_i64(double x) {
    return x >= 0x1p63 && x < 0x1p64 ? (int64_t)(uint64_t)x : tc_fptosi_i64(x);
}

/* IEEE 754-2019 maximum/minimum: NaN wins, and -0 < +0. */
#define TC_FLOAT_HELPERS(S, T)                                                        \
TC_FN T tc_maximumf_##S(T a, T b) {                                                 \
    return a != a ? a : b != b ? b : a > b ? a : b > a ? b : signbit(a) ? b : a;    \
}                                                                                   \
TC_FN T tc_minimumf_##S(T a, T b) {                                                 \
    return a != a ? a : b != b ? b : a < b ? a : b < a ? b : signbit(a) ? a : b;    \
}

TC_FLOAT_HELPERS(f32, float)
TC_FLOAT_HELPERS(f64, double)

#define TC_BITCAST(FROM_S, FROM_T, TO_S, TO_T)                                        \
TC_FN TO_T tc_bitcast_##FROM_S##_##TO_S(FROM_T x) {                                 \
    TO_T y;                                                                         \
    memcpy(&y, &x, sizeof y);                                                       \
    return y;                                                                       \
}

#ifdef __FLT16_MAX__ /* compilers without _Float16 still build f16-free modules */
TC_BITCAST(f16, _Float16, i16, int16_t)
TC_BITCAST(i16, int16_t, f16, _Float16)
#endif
TC_BITCAST(f32, float, i32, int32_t)
TC_BITCAST(i32, int32_t, f32, float)
TC_BITCAST(f64, double, i64, int64_t)
TC_BITCAST(i64, int64_t, f64, double)
"""

RUNTIME_HELPERS = r"""
/* malloc for a memref of `rank` dims: NULL if a dim is negative or the byte count
   overflows. 64-byte aligned; a zero-size memref still gets a valid pointer. */
static inline void *tensorc_alloc(size_t elem_size, int rank, const int64_t *dims) {
    uint64_t bytes = elem_size;
    for (int k = 0; k < rank; ++k) {
        if (dims[k] < 0 || __builtin_mul_overflow(bytes, (uint64_t)dims[k], &bytes))
            return NULL;
    }
    if (bytes > SIZE_MAX - 64) return NULL;
    bytes = bytes == 0 ? 64 : (bytes + 63) & ~(uint64_t)63;
    return aligned_alloc(64, (size_t)bytes);
}

static inline void tensorc_fail(char *err, int64_t err_len, const char *msg) {
    if (err_len > 0) snprintf(err, (size_t)err_len, "%s", msg);
}

static inline void tensorc_fail_got(char *err, int64_t err_len, const char *msg,
                                    long long lhs, long long rhs) {
    if (err_len > 0)
        snprintf(err, (size_t)err_len, "%s (got %lld and %lld)", msg, lhs, rhs);
}

static inline void tensorc_fail_input(char *err, int64_t err_len, int input, int dim,
                                      long long got, long long expected) {
    if (err_len > 0)
        snprintf(err, (size_t)err_len, "input %d has dim %d = %lld, expected %lld",
                 input, dim, got, expected);
}
"""

GEMM_HELPERS = r"""
/* scipy-openblas32's CBLAS (blasint is a 32-bit int, the enums are ints),
   declared here so the source compiles without the wheel's include directory. */
void scipy_cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k,
                       float alpha, const float *a, int lda, const float *b, int ldb,
                       float beta, float *c, int ldc);
void scipy_cblas_dgemm(int order, int trans_a, int trans_b, int m, int n, int k,
                       double alpha, const double *a, int lda, const double *b,
                       int ldb, double beta, double *c, int ldc);

#ifndef TENSORC_BLAS_MAX
#define TENSORC_BLAS_MAX INT_MAX
#endif

/* C[m,n] = op(A)[m,k] @ op(B)[k,n], all row-major, C overwritten. BLAS rejects
   zero leading dimensions and 32-bit blasint cannot hold sizes past INT_MAX, so
   those cases are done here (the plain loop only runs for such giant sizes). */
#define TC_GEMM(S, T, BLAS)                                                          \
static inline void tensorc_gemm_##S(const T *a, const T *b, T *c, int64_t m,       \
                                    int64_t n, int64_t k, int64_t trans_a,          \
                                    int64_t trans_b) {                              \
    if (m <= 0 || n <= 0) return;                                                   \
    if (k <= 0) {                                                                   \
        memset(c, 0, (size_t)m * (size_t)n * sizeof(T));                            \
        return;                                                                     \
    }                                                                               \
    if (m <= TENSORC_BLAS_MAX && n <= TENSORC_BLAS_MAX && k <= TENSORC_BLAS_MAX) {  \
        BLAS(101, trans_a ? 112 : 111, trans_b ? 112 : 111, (int)m, (int)n, (int)k, \
             (T)1, a, (int)(trans_a ? m : k), b, (int)(trans_b ? k : n), (T)0, c,   \
             (int)n);                                                               \
        return;                                                                     \
    }                                                                               \
    for (int64_t i = 0; i < m; ++i)                                                 \
        for (int64_t j = 0; j < n; ++j) {                                           \
            T sum = 0;                                                              \
            for (int64_t p = 0; p < k; ++p)                                         \
                sum += a[trans_a ? p * m + i : i * k + p]                           \
                       * b[trans_b ? j * k + p : p * n + j];                        \
            c[i * n + j] = sum;                                                     \
        }                                                                           \
}

TC_GEMM(f32, float, scipy_cblas_sgemm)
TC_GEMM(f64, double, scipy_cblas_dgemm)
"""

EXPORTS = """
void tensorc_free(void *p) { free(p); }
"""

GEMM_FUNCTIONS = ("tensorc_gemm_f32", "tensorc_gemm_f64")
"""The external functions bufferized IR may declare and call (GEMM_HELPERS)."""
