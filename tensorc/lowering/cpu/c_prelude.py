"""The fixed C text every emitted module starts with, in one place.

- `INCLUDES`: headers.
- `PARALLEL_MACROS`: OpenMP pragmas as a macro (`TC_OMP`), the
  `TC_ENTRY` attribute (one clone per x86-64 vector level), the parts of a large
  module (`TC_PART`, `TC_NEST`, and `TC_STATE`, which defines the shared mutable
  state in part 0 only), the thresholds of threaded loops and the run-time switch
  for threads.
- `VECTOR_MATH`: `declare simd` for the libm functions glibc's libmvec vectorizes.
- `SCALAR_HELPERS`: total, side-effect-free helpers the C_EXPR table calls where
  an operand is needed twice or C alone would trap or be undefined (integer
  division, shifts, float->int casts, NaN-propagating min/max). They are declared
  `TC_FN` (`static inline` here) so the CUDA emitter can make them `__device__`.
- `RUNTIME_HELPERS`: checked allocation and error-message writers used by the
  exported entry functions.
- `WORKSPACE_HELPERS`: per-thread workspace slots that keep intermediates between
  calls (only in modules that use them).
- `GEMM_HELPERS`: `tensorc_gemm_f32/f64`, the runtime functions bufferized IR
  declares and calls, forwarding to scipy-openblas32's CBLAS.
- `EXPORTS`: `tensorc_free`, so Python frees outputs with the allocator that made
  them, and `tensorc_set_threads`.
"""

INCLUDES = """\
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
"""

PARALLEL_MACROS = r"""
/* OpenMP pragmas, spelled through a macro so the source also compiles without
   OpenMP (a plain `cc -Wall -Werror` sees no unknown pragma). With -fopenmp they
   are all active; with -fopenmp-simd (the runtime then defines
   TENSORC_OPENMP_SIMD) GCC keeps the simd part of every directive and ignores
   the threads. */
#if defined(_OPENMP) || defined(TENSORC_OPENMP_SIMD)
#define TC_OMP(text) _Pragma(#text)
#else
#define TC_OMP(text)
#endif

/* Entries are compiled for three x86-64 levels and the loader picks the best one
   for the running CPU (GCC's target_clones, an ifunc): portable binaries (the cache
   may be shared between machines) that still use AVX2 and AVX-512 vectors. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) \
    && defined(__ELF__) && !defined(TENSORC_NO_CLONES)
#define TC_ENTRY __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define TC_ENTRY
#endif

/* Large modules come in parts (loop nests outlined into functions of their own,
   grouped): compiled whole when TENSORC_PARTS is not defined, else only the parts
   whose bits are set in it, so the runtime compiles the parts on several cores
   and links them. Part 0 holds the entries and the shared state. */
#ifdef TENSORC_PARTS
#define TC_PART(k) ((TENSORC_PARTS >> (k)) & 1)
#else
#define TC_PART(k) 1
#endif
#define TC_NEST TC_ENTRY __attribute__((visibility("hidden"), noinline))
#if TC_PART(0)
#define TC_STATE(declaration, value) \
    __attribute__((visibility("hidden"))) declaration = value;
#else
#define TC_STATE(declaration, value) \
    extern __attribute__((visibility("hidden"))) declaration;
#endif

/* Loops are split over threads only when their estimated work (elements times a
   cost per element, c_loops.work_estimate) reaches this: below it the fork/join
   costs more than it saves. */
#ifndef TENSORC_PARALLEL_WORK
#define TENSORC_PARALLEL_WORK 131072.0
#endif

/* A reduction loop big enough for threads is cut into this many chunks whatever
   the thread count, each reduced on its own and combined in chunk order: the
   result does not depend on how many threads ran. */
#define TENSORC_REDUCE_CHUNKS 16

/* 0 disables threads (tensorc_set_threads): libgomp's thread pool does not survive
   fork(), so the runtime turns threads off in a forked child. */
TC_STATE(int tensorc_threads, 1)

/* Threads pay only while the other cores are free: a threaded loop ends when its
   last thread does, so one thread the OS runs late (other processes busy on its
   core) stalls the loop. Each threaded loop measures how long its first finished
   thread then waited; beyond a quarter of the loop's time, loops run on one thread
   for a while (from 1 ms, doubling up to 1 s while it lasts, halving back). */
#define TENSORC_BACKOFF_MIN_NS INT64_C(1000000)
#define TENSORC_BACKOFF_MAX_NS INT64_C(1000000000)
TC_STATE(int64_t tensorc_serial_until_ns, 0)
TC_STATE(int64_t tensorc_backoff_ns, TENSORC_BACKOFF_MIN_NS)

typedef struct {
    int64_t start;
    int64_t first_done;
} tensorc_region;

static inline int64_t tensorc_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * INT64_C(1000000000) + now.tv_nsec;
}

/* Whether a loop of this much work runs on threads now (then `region` times it). */
static inline bool tensorc_parallel(double work, tensorc_region *region) {
    if (!tensorc_threads || work < TENSORC_PARALLEL_WORK) return false;
    int64_t now = tensorc_now_ns();
    if (now < __atomic_load_n(&tensorc_serial_until_ns, __ATOMIC_RELAXED)) return false;
    region->start = now;
    region->first_done = 0;
    return true;
}

/* A thread finished its share (the first one to get here stamps the time). */
static inline void tensorc_region_done(tensorc_region *region) {
    int64_t unset = 0;
    __atomic_compare_exchange_n(&region->first_done, &unset, tensorc_now_ns(), false,
                                __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

static inline void tensorc_region_end(const tensorc_region *region) {
    int64_t end = tensorc_now_ns();
    int64_t waited = end - region->first_done, total = end - region->start;
    int64_t backoff = __atomic_load_n(&tensorc_backoff_ns, __ATOMIC_RELAXED);
    if (4 * waited > total) {
        __atomic_store_n(&tensorc_serial_until_ns, end + backoff, __ATOMIC_RELAXED);
        backoff = backoff < TENSORC_BACKOFF_MAX_NS / 2 ? 2 * backoff
                                                      : TENSORC_BACKOFF_MAX_NS;
    } else {
        backoff = backoff / 2 > TENSORC_BACKOFF_MIN_NS ? backoff / 2
                                                       : TENSORC_BACKOFF_MIN_NS;
    }
    __atomic_store_n(&tensorc_backoff_ns, backoff, __ATOMIC_RELAXED);
}
"""

VECTOR_MATH = r"""
/* SIMD variants of libm functions from glibc's libmvec (x86-64; the vectorizer
   calls e.g. _ZGVdN4v_exp for four doubles at a time). Declared here rather than
   through -ffast-math, which would also assume no NaN/Inf: libmvec keeps IEEE
   special values (NaN and Inf propagate) and is accurate to a few ulp. */
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(TENSORC_NO_LIBMVEC) \
    && (defined(_OPENMP) || defined(TENSORC_OPENMP_SIMD))
#define TC_VECTOR_1(name) TC_OMP(omp declare simd notinbranch) double name(double); \
    TC_OMP(omp declare simd notinbranch) float name##f(float);
#define TC_VECTOR_2(name) \
    TC_OMP(omp declare simd notinbranch) double name(double, double); \
    TC_OMP(omp declare simd notinbranch) float name##f(float, float);
TC_VECTOR_1(exp) TC_VECTOR_1(log) TC_VECTOR_1(sin) TC_VECTOR_1(cos) TC_VECTOR_2(pow)
#if __GLIBC_PREREQ(2, 35)
TC_VECTOR_1(acos) TC_VECTOR_1(asin) TC_VECTOR_1(atan) TC_VECTOR_1(tan)
TC_VECTOR_1(acosh) TC_VECTOR_1(asinh) TC_VECTOR_1(atanh) TC_VECTOR_1(cosh)
TC_VECTOR_1(sinh) TC_VECTOR_1(tanh) TC_VECTOR_1(cbrt) TC_VECTOR_1(erf)
TC_VECTOR_1(exp2) TC_VECTOR_1(expm1) TC_VECTOR_1(log2) TC_VECTOR_1(log10)
TC_VECTOR_1(log1p) TC_VECTOR_2(atan2)
#endif
#endif
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

/* IEEE 754-2019 maximum/minimum: NaN wins, and -0 < +0. Branch-free (selects and
   bit operations) so that loops and reductions over them vectorize: equal operands
   keep the bits both share (AND: +0 beats -0; OR: -0 beats +0), and `a + b` is the
   NaN when either operand is one. */
#define TC_FLOAT_HELPERS(S, T, U)                                                     \
TC_FN T tc_maximumf_##S(T a, T b) {                                                 \
    U ua, ub;                                                                       \
    memcpy(&ua, &a, sizeof a);                                                      \
    memcpy(&ub, &b, sizeof b);                                                      \
    U uc = ua & ub;                                                                 \
    T c;                                                                            \
    memcpy(&c, &uc, sizeof c);                                                      \
    T m = a == b ? c : a > b ? a : b;                                               \
    return isunordered(a, b) ? a + b : m;                                           \
}                                                                                   \
TC_FN T tc_minimumf_##S(T a, T b) {                                                 \
    U ua, ub;                                                                       \
    memcpy(&ua, &a, sizeof a);                                                      \
    memcpy(&ub, &b, sizeof b);                                                      \
    U uc = ua | ub;                                                                 \
    T c;                                                                            \
    memcpy(&c, &uc, sizeof c);                                                      \
    T m = a == b ? c : a < b ? a : b;                                               \
    return isunordered(a, b) ? a + b : m;                                           \
}

TC_FLOAT_HELPERS(f32, float, uint32_t)
TC_FLOAT_HELPERS(f64, double, uint64_t)

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
/* The bytes of a memref of `rank` dims, rounded up to a multiple of 64 (64 for an
   empty one, so it still gets a valid pointer); false if a dim is negative or the
   count overflows. */
static inline bool tensorc_bytes(size_t elem_size, int rank, const int64_t *dims,
                                 uint64_t *bytes) {
    uint64_t total = elem_size;
    for (int k = 0; k < rank; ++k) {
        if (dims[k] < 0 || __builtin_mul_overflow(total, (uint64_t)dims[k], &total))
            return false;
    }
    if (total > SIZE_MAX - 64) return false;
    *bytes = total == 0 ? 64 : (total + 63) & ~(uint64_t)63;
    return true;
}

/* malloc for a memref of `rank` dims, 64-byte aligned: NULL if a dim is negative
   or the byte count overflows. */
static inline void *tensorc_alloc(size_t elem_size, int rank, const int64_t *dims) {
    uint64_t bytes;
    if (!tensorc_bytes(elem_size, rank, dims, &bytes)) return NULL;
    return aligned_alloc(64, (size_t)bytes);
}

/* Whether two byte ranges overlap (an input aliasing a buffer updated in place). */
static inline bool tensorc_overlap(const void *a, uint64_t a_bytes, const void *b,
                                   uint64_t b_bytes) {
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return a_bytes && b_bytes && x < y + b_bytes && y < x + a_bytes;
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

WORKSPACE_HELPERS = r"""
/* Storage for a workspace slot (tc-place-buffers' `tc.slot`): one buffer per slot
   and thread, kept between calls and grown when a call needs more, so calls with
   unchanged shapes allocate no intermediates. TENSORC_SLOTS (the module's slot
   count) is defined before this text. A thread's slots are freed when it exits or
   calls tensorc_workspace_release. Only entries use slots (part 0). */
#include <pthread.h>
#if TC_PART(0)

typedef struct {
    void *data;
    uint64_t bytes;
} tensorc_slot;

static _Thread_local tensorc_slot tensorc_slots[TENSORC_SLOTS];
static _Thread_local int64_t tensorc_slot_growths;
static pthread_key_t tensorc_slots_key;
static pthread_once_t tensorc_slots_once = PTHREAD_ONCE_INIT;

static void tensorc_slots_free(void *slots) {
    tensorc_slot *slot = slots;
    for (int k = 0; k < TENSORC_SLOTS; ++k) {
        free(slot[k].data);
        slot[k].data = NULL;
        slot[k].bytes = 0;
    }
}

static void tensorc_slots_key_create(void) {
    (void)pthread_key_create(&tensorc_slots_key, tensorc_slots_free);
}

/* At least elem_size * prod(dims) bytes for `slot` (NULL if out of memory). The
   old contents are not kept: a slot holds one live buffer at a time. */
static void *tensorc_slot_acquire(int slot, size_t elem_size, int rank,
                                  const int64_t *dims) {
    uint64_t bytes;
    if (!tensorc_bytes(elem_size, rank, dims, &bytes)) return NULL;
    tensorc_slot *held = &tensorc_slots[slot];
    if (held->data && held->bytes >= bytes) return held->data;
    if (!tensorc_slot_growths) {  /* this thread's first slot: free them at exit */
        (void)pthread_once(&tensorc_slots_once, tensorc_slots_key_create);
        (void)pthread_setspecific(tensorc_slots_key, tensorc_slots);
    }
    free(held->data);
    held->data = aligned_alloc(64, (size_t)bytes);
    held->bytes = held->data ? bytes : 0;
    ++tensorc_slot_growths;
    return held->data;
}

/* Frees the calling thread's slots (the next call allocates them again). */
void tensorc_workspace_release(void) { tensorc_slots_free(tensorc_slots); }

/* How often a slot was (re)allocated on the calling thread: stays constant over
   calls whose intermediates fit the slots already held. */
int64_t tensorc_workspace_growths(void) { return tensorc_slot_growths; }
#endif
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
void scipy_cblas_sgemv(int order, int trans, int m, int n, float alpha, const float *a,
                       int lda, const float *x, int incx, float beta, float *y,
                       int incy);
void scipy_cblas_dgemv(int order, int trans, int m, int n, double alpha,
                       const double *a, int lda, const double *x, int incx,
                       double beta, double *y, int incy);

#ifndef TENSORC_BLAS_MAX
#define TENSORC_BLAS_MAX INT_MAX
#endif

/* C[m,n] = op(A)[m,k] @ op(B)[k,n], all row-major, C overwritten. BLAS rejects
   zero leading dimensions and 32-bit blasint cannot hold sizes past INT_MAX, so
   those cases are done here (the plain loop only runs for such giant sizes).
   Matrix-vector products go to gemv: gemm with one column is several times
   slower in OpenBLAS. */
#define TC_GEMM(S, T, BLAS, GEMV)                                                    \
static inline void tensorc_gemm_##S(const T *a, const T *b, T *c, int64_t m,       \
                                    int64_t n, int64_t k, int64_t trans_a,          \
                                    int64_t trans_b) {                              \
    if (m <= 0 || n <= 0) return;                                                   \
    if (k <= 0) {                                                                   \
        memset(c, 0, (size_t)m * (size_t)n * sizeof(T));                            \
        return;                                                                     \
    }                                                                               \
    if (m <= TENSORC_BLAS_MAX && n <= TENSORC_BLAS_MAX && k <= TENSORC_BLAS_MAX) {  \
        if (n == 1) { /* c = op(A) b */                                             \
            GEMV(101, trans_a ? 112 : 111, (int)(trans_a ? k : m),                 \
                 (int)(trans_a ? m : k), (T)1, a, (int)(trans_a ? m : k), b, 1,     \
                 (T)0, c, 1);                                                       \
            return;                                                                 \
        }                                                                           \
        if (m == 1) { /* c = op(B)^T a */                                           \
            GEMV(101, trans_b ? 111 : 112, (int)(trans_b ? n : k),                 \
                 (int)(trans_b ? k : n), (T)1, b, (int)(trans_b ? k : n), a, 1,     \
                 (T)0, c, 1);                                                       \
            return;                                                                 \
        }                                                                           \
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

TC_GEMM(f32, float, scipy_cblas_sgemm, scipy_cblas_sgemv)
TC_GEMM(f64, double, scipy_cblas_dgemm, scipy_cblas_dgemv)
"""

EXPORTS = """
void tensorc_free(void *p) { free(p); }

void tensorc_set_threads(int enabled) { tensorc_threads = enabled != 0; }
"""

GEMM_FUNCTIONS = ("tensorc_gemm_f32", "tensorc_gemm_f64")
"""The external functions bufferized IR may declare and call (GEMM_HELPERS)."""
