/* tensorc's CUDA emulation header: runs CUDA C kernels on the CPU.
 *
 * The generated CUDA source is compiled unchanged by a C++17 compiler with this
 * header in front (tensorc/runtime/cuda_emu.py does it) and one TC_EMU_EXPORT(k)
 * line per kernel after it. What a kernel sees:
 *   __global__ __device__ __host__ __shared__ __constant__ __restrict__ ...
 *   threadIdx, blockIdx, blockDim, gridDim, warpSize
 *   __syncthreads(), __syncthreads_count/_and/_or(), __syncwarp(), __trap()
 *   atomicAdd/Sub/Exch/Min/Max/Inc/Dec/CAS/And/Or/Xor (CUDA's overload set)
 *   __shfl_sync/_up_sync/_down_sync/_xor_sync, __ballot_sync, __any_sync,
 *   __all_sync, __activemask()
 *   the host's <math.h>, <stdint.h>, <string.h>, <limits.h> (what nvcc makes
 *   visible too), min/max, fast-math intrinsics (__expf, rsqrtf, ...), bit casts.
 *
 * How it runs. Every CUDA thread is a coroutine ("fiber") with its own small
 * stack (mmap'ed, a PROT_NONE guard page below it). All fibers of a block run on
 * one OS thread, so a `__shared__` variable (a `static thread_local`) has exactly
 * one copy per block; blocks are spread over a few OS threads and really run in
 * parallel, so atomics are real atomics. A fiber runs until it reaches a barrier
 * or a warp operation; then the scheduler switches to the next fiber, in forward
 * or in reverse thread order. A kernel whose result depends on that order has a
 * race (typically a missing __syncthreads).
 *
 * Checks a GPU does not make, reported as launch errors:
 *   - a __syncthreads() that not every thread of the block reaches,
 *   - threads waiting at different __syncthreads() sites (source lines),
 *   - a warp operation that can never complete (a lane exited or waits elsewhere),
 *   - an invalid launch configuration (the limits of every CUDA device),
 *   - __trap().
 * Dynamic shared memory is filled with 0xff bytes (NaN, -1) before every block,
 * so reads of shared memory nobody wrote show up in results.
 *
 * Dynamic shared memory: `extern __shared__ T name[];` cannot be a macro, so the
 * adapter rewrites that declaration into TC_EMU_DYNAMIC_SHARED(T, name) (inside
 * a function body, where generated code declares it).
 *
 * Context switches are a few instructions of hand-written assembly on x86-64
 * (the callee-saved registers and the stack pointer); elsewhere, or with
 * -DTC_EMU_USE_UCONTEXT, glibc's swapcontext (slower: a syscall per switch).
 */
#ifndef TENSORC_CUDA_EMU_H
#define TENSORC_CUDA_EMU_H

#define __TENSORC_CUDA_EMU__ 1

#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <type_traits>
#include <utility>

#if !defined(__x86_64__) && !defined(TC_EMU_USE_UCONTEXT)
#define TC_EMU_USE_UCONTEXT 1
#endif
#ifdef TC_EMU_USE_UCONTEXT
#include <ucontext.h>
#endif

/* ---- CUDA keywords and built-in types -------------------------------------- */

#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __shared__ static thread_local
#define __restrict__ __restrict
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define warpSize 32

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1)
        : x(x_), y(y_), z(z_) {}
};

namespace tc_emu {

/* The emulated device: limits every CUDA GPU since compute capability 3.0 has. */
constexpr int64_t MAX_THREADS_PER_BLOCK = 1024;
constexpr int64_t MAX_BLOCK_DIM[3] = {1024, 1024, 64};
constexpr int64_t MAX_GRID_DIM[3] = {2147483647, 65535, 65535};
constexpr int64_t MAX_DYNAMIC_SHARED_BYTES = 48 * 1024;
constexpr int WARP = 32;
constexpr int MAX_WARPS = MAX_THREADS_PER_BLOCK / WARP;
constexpr size_t ERROR_BYTES = 512;
/* CUDA threads per OS thread below which starting another OS thread for a launch
   costs more than it saves (thread start ~0.1 ms, a CUDA thread ~0.05 us). */
constexpr int64_t THREADS_PER_WORKER = 16384;

enum class State : uint8_t { runnable, at_barrier, at_warp, done };
enum class WarpOp : uint8_t { shfl_idx, shfl_up, shfl_down, shfl_xor, ballot, any, all,
                              sync };
enum class BarrierKind : uint8_t { plain, count, all, any };

static const char *const WARP_OP_NAMES[] = {
    "__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync",
    "__ballot_sync", "__any_sync", "__all_sync", "__syncwarp"};

struct Fiber {
    void *sp;          /* saved stack pointer while switched out */
    char *stack_top;   /* 16-byte aligned top of its stack */
    size_t stack_bytes;
    uint3 thread_idx;
    uint32_t linear;   /* x + y*bx + z*bx*by; lane = linear % 32 */
    State state;
    WarpOp warp_op;
    BarrierKind barrier_kind;
    int site;          /* source line of the barrier or warp operation it waits at */
    int predicate;
    int warp_arg;      /* source lane, delta or lane mask of a shuffle */
    int width;
    uint32_t mask;
    uint64_t in, out;  /* warp exchange: this lane's value, and what it receives */
#ifdef TC_EMU_USE_UCONTEXT
    ucontext_t context;
#endif
};

typedef void (*Entry)(void **params);

struct Block {
    Fiber *fibers;
    int count;
    bool reverse;
    uint3 block_idx;
    dim3 block_dim, grid_dim;
    Fiber *cur;
    void *scheduler_sp;
#ifdef TC_EMU_USE_UCONTEXT
    ucontext_t scheduler_context;
#endif
    Entry entry;
    void **params;
    unsigned char *dynamic_shared;
    int64_t dynamic_shared_bytes;
    uint32_t warp_arrived[MAX_WARPS];
    int barrier_result;
    bool failed;
    char error[ERROR_BYTES];
};

/* The block this OS thread runs; a fiber never moves to another OS thread. */
static thread_local Block *current_block;

}  // namespace tc_emu

#define threadIdx (::tc_emu::current_block->cur->thread_idx)
#define blockIdx (::tc_emu::current_block->block_idx)
#define blockDim (::tc_emu::current_block->block_dim)
#define gridDim (::tc_emu::current_block->grid_dim)
#define TC_EMU_DYNAMIC_SHARED(T, name) \
    T *const name = reinterpret_cast<T *>(::tc_emu::current_block->dynamic_shared)

/* ---- context switch --------------------------------------------------------- */

extern "C" void tc_emu_fiber_main(void);

#ifndef TC_EMU_USE_UCONTEXT
/* tc_emu_switch(&save, next): push the callee-saved registers, store the stack
   pointer into *save, load `next` and pop the registers saved there. MXCSR and
   the x87 control word are not switched: every fiber of a worker runs with the
   worker's floating-point environment and kernels never change it (ldmxcsr and
   fldcw would double the cost of a switch). */
extern "C" void tc_emu_switch(void **save, void *next)
    __attribute__((visibility("hidden")));
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".hidden tc_emu_switch\n"
    ".type tc_emu_switch, @function\n"
    "tc_emu_switch:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    movq %rsp, (%rdi)\n"
    "    movq %rsi, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    ".size tc_emu_switch, .-tc_emu_switch\n");
#endif

namespace tc_emu {

#ifndef TC_EMU_USE_UCONTEXT
/* A fresh stack that tc_emu_switch "returns" into tc_emu_fiber_main, aligned as
   after a call (rsp + 8 a multiple of 16 at entry). */
static inline void prepare_fiber(Fiber *f) {
    uint64_t *sp = reinterpret_cast<uint64_t *>(f->stack_top);
    *--sp = 0; /* return address of tc_emu_fiber_main, which never returns */
    *--sp = reinterpret_cast<uint64_t>(&tc_emu_fiber_main);
    for (int k = 0; k < 6; ++k) *--sp = 0; /* rbp rbx r12 r13 r14 r15 */
    f->sp = sp;
}
static inline void enter_fiber(Block *b, Fiber *f) {
    tc_emu_switch(&b->scheduler_sp, f->sp);
}
static inline void leave_fiber(Block *b, Fiber *f) {
    tc_emu_switch(&f->sp, b->scheduler_sp);
}
#else
static inline void prepare_fiber(Fiber *f) {
    getcontext(&f->context); /* one each: a copied context points at dead FP state */
    f->context.uc_stack.ss_sp = f->stack_top - f->stack_bytes;
    f->context.uc_stack.ss_size = f->stack_bytes;
    f->context.uc_link = nullptr;
    makecontext(&f->context, tc_emu_fiber_main, 0);
}
static inline void enter_fiber(Block *b, Fiber *f) {
    swapcontext(&b->scheduler_context, &f->context);
}
static inline void leave_fiber(Block *b, Fiber *f) {
    swapcontext(&f->context, &b->scheduler_context);
}
#endif

/* ---- errors ----------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void fail(Block *b, const char *format,
                                                       ...) {
    if (b->failed) return;
    b->failed = true;
    int n = snprintf(b->error, ERROR_BYTES, "block (%u,%u,%u): ", b->block_idx.x,
                     b->block_idx.y, b->block_idx.z);
    va_list args;
    va_start(args, format);
    vsnprintf(b->error + n, ERROR_BYTES - (size_t)n, format, args);
    va_end(args);
}

/* ---- barriers ----------------------------------------------------------------- */

static inline int barrier(int site, BarrierKind kind, int predicate) {
    Block *b = current_block;
    Fiber *f = b->cur;
    f->state = State::at_barrier;
    f->site = site;
    f->barrier_kind = kind;
    f->predicate = predicate != 0;
    leave_fiber(b, f);
    return b->barrier_result;
}

[[noreturn]] static inline void trap(int site) {
    Block *b = current_block;
    Fiber *f = b->cur;
    fail(b, "__trap() on line %d in thread (%u,%u,%u)", site, f->thread_idx.x,
         f->thread_idx.y, f->thread_idx.z);
    f->state = State::done;
    leave_fiber(b, f);
    __builtin_unreachable();
}

/* ---- warp operations ------------------------------------------------------------ */

static inline uint32_t lanes_present(const Block *b, int warp) {
    int n = b->count - warp * WARP;
    return n >= WARP ? 0xffffffffu : (1u << n) - 1u;
}

/* The lane whose value lane `lane` receives from a shuffle (itself if none). */
static inline int shuffle_source(const Fiber *f, int lane) {
    int width = f->width, base = lane & ~(width - 1), arg = f->warp_arg;
    switch (f->warp_op) {
    case WarpOp::shfl_idx: return base + (arg & (width - 1));
    case WarpOp::shfl_up: return lane - base >= arg ? lane - arg : lane;
    case WarpOp::shfl_down: return lane - base + arg < width ? lane + arg : lane;
    case WarpOp::shfl_xor: {
        int source = lane ^ arg;
        return source < base + width ? source : lane; /* later groups: own value */
    }
    default: return lane;
    }
}

static void release_warp(Block *b, int warp, uint32_t lanes, const Fiber *last) {
    Fiber *fibers = b->fibers + warp * WARP;
    uint32_t votes = 0;
    for (int lane = 0; lane < WARP; ++lane) {
        if (!(lanes >> lane & 1)) continue;
        const Fiber *f = fibers + lane;
        if (f->warp_op != last->warp_op || f->site != last->site) {
            fail(b, "lanes of warp %d meet at different warp operations: %s on line "
                 "%d and %s on line %d", warp, WARP_OP_NAMES[(int)f->warp_op],
                 f->site, WARP_OP_NAMES[(int)last->warp_op], last->site);
            return;
        }
        votes |= (uint32_t)(f->in != 0) << lane;
    }
    for (int lane = 0; lane < WARP; ++lane) {
        if (!(lanes >> lane & 1)) continue;
        Fiber *f = fibers + lane;
        switch (f->warp_op) {
        case WarpOp::ballot: f->out = votes; break;
        case WarpOp::any: f->out = votes != 0; break;
        case WarpOp::all: f->out = votes == lanes; break;
        case WarpOp::sync: f->out = 0; break;
        default: {
            int source = shuffle_source(f, lane);
            bool valid = source >= 0 && source < WARP && (lanes >> source & 1);
            f->out = valid ? fibers[source].in : f->in;
        }
        }
        f->state = State::runnable;
    }
    b->warp_arrived[warp] &= ~lanes;
}

/* The calling lane arrives at a warp operation; the last lane of `mask` to arrive
   computes every lane's result. The lane always yields, so lanes resume in the
   scheduler's order. */
static inline uint64_t warp_exchange(int site, WarpOp op, uint32_t mask, uint64_t in,
                                     int arg, int width) {
    Block *b = current_block;
    Fiber *f = b->cur;
    int warp = (int)(f->linear / WARP), lane = (int)(f->linear % WARP);
    if (width <= 0 || width > WARP || (width & (width - 1)) != 0) {
        fail(b, "%s on line %d: width %d is not a power of two <= 32",
             WARP_OP_NAMES[(int)op], site, width);
        trap(site);
    }
    uint32_t lanes = mask & lanes_present(b, warp);
    if (!(lanes >> lane & 1)) {
        fail(b, "%s on line %d: lane %d of warp %d is not in its mask 0x%08x",
             WARP_OP_NAMES[(int)op], site, lane, warp, mask);
        trap(site);
    }
    f->state = State::at_warp;
    f->warp_op = op;
    f->site = site;
    f->mask = mask;
    f->in = in;
    f->warp_arg = arg;
    f->width = width;
    b->warp_arrived[warp] |= 1u << lane;
    if ((b->warp_arrived[warp] & lanes) == lanes) release_warp(b, warp, lanes, f);
    leave_fiber(b, f);
    return f->out;
}

template <class T>
static inline T shuffle(int site, WarpOp op, unsigned mask, T value, int arg,
                        int width) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value,
                  "warp shuffles exchange values of at most 8 bytes");
    uint64_t bits = 0;
    memcpy(&bits, &value, sizeof(T));
    bits = warp_exchange(site, op, mask, bits, arg, width);
    T result;
    memcpy(&result, &bits, sizeof(T));
    return result;
}

template <class T>
static inline T shfl(int site, WarpOp op, unsigned mask, T value, int arg,
                     int width = WARP) {
    return shuffle(site, op, mask, value, arg, width);
}

/* __syncwarp(mask = all lanes): `WarpSync{__LINE__}(...)` keeps the default
   argument without the non-standard `, ##__VA_ARGS__`. */
struct WarpSync {
    int site;
    void operator()(unsigned mask = 0xffffffffu) const {
        warp_exchange(site, WarpOp::sync, mask, 0, 0, WARP);
    }
};

static inline unsigned vote(int site, WarpOp op, unsigned mask, int predicate) {
    return (unsigned)warp_exchange(site, op, mask, predicate != 0, 0, WARP);
}

static inline unsigned active_mask() {
    Block *b = current_block;
    int warp = (int)(b->cur->linear / WARP);
    unsigned mask = 0;
    for (int lane = 0; lane < WARP && warp * WARP + lane < b->count; ++lane)
        mask |= (unsigned)(b->fibers[warp * WARP + lane].state != State::done) << lane;
    return mask;
}

}  // namespace tc_emu

#define __syncthreads() ::tc_emu::barrier(__LINE__, ::tc_emu::BarrierKind::plain, 0)
#define __syncthreads_count(p) \
    ::tc_emu::barrier(__LINE__, ::tc_emu::BarrierKind::count, (p))
#define __syncthreads_and(p) ::tc_emu::barrier(__LINE__, ::tc_emu::BarrierKind::all, (p))
#define __syncthreads_or(p) ::tc_emu::barrier(__LINE__, ::tc_emu::BarrierKind::any, (p))
#define __trap() ::tc_emu::trap(__LINE__)
#define __threadfence() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define __threadfence_system() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define __threadfence_block() __atomic_signal_fence(__ATOMIC_SEQ_CST)

#define __shfl_sync(...) ::tc_emu::shfl(__LINE__, ::tc_emu::WarpOp::shfl_idx, __VA_ARGS__)
#define __shfl_up_sync(...) ::tc_emu::shfl(__LINE__, ::tc_emu::WarpOp::shfl_up, __VA_ARGS__)
#define __shfl_down_sync(...) \
    ::tc_emu::shfl(__LINE__, ::tc_emu::WarpOp::shfl_down, __VA_ARGS__)
#define __shfl_xor_sync(...) ::tc_emu::shfl(__LINE__, ::tc_emu::WarpOp::shfl_xor, __VA_ARGS__)
#define __ballot_sync(mask, p) ::tc_emu::vote(__LINE__, ::tc_emu::WarpOp::ballot, (mask), (p))
#define __any_sync(mask, p) ::tc_emu::vote(__LINE__, ::tc_emu::WarpOp::any, (mask), (p))
#define __all_sync(mask, p) ::tc_emu::vote(__LINE__, ::tc_emu::WarpOp::all, (mask), (p))
#define __syncwarp(...) ::tc_emu::WarpSync{__LINE__}(__VA_ARGS__)
#define __activemask() ::tc_emu::active_mask()

/* ---- atomics (blocks run in parallel: real atomic instructions) ---------------- */

#define TC_EMU_ATOMIC(NAME, T, BUILTIN) \
    static inline T NAME(T *address, T value) { \
        return BUILTIN(address, value, __ATOMIC_SEQ_CST); \
    }
#define TC_EMU_ATOMIC_INTS(NAME, BUILTIN) \
    TC_EMU_ATOMIC(NAME, int, BUILTIN) \
    TC_EMU_ATOMIC(NAME, unsigned int, BUILTIN) \
    TC_EMU_ATOMIC(NAME, unsigned long long, BUILTIN)

TC_EMU_ATOMIC_INTS(atomicAdd, __atomic_fetch_add)
TC_EMU_ATOMIC_INTS(atomicAnd, __atomic_fetch_and)
TC_EMU_ATOMIC_INTS(atomicOr, __atomic_fetch_or)
TC_EMU_ATOMIC_INTS(atomicXor, __atomic_fetch_xor)
TC_EMU_ATOMIC_INTS(atomicExch, __atomic_exchange_n)
TC_EMU_ATOMIC(atomicSub, int, __atomic_fetch_sub)
TC_EMU_ATOMIC(atomicSub, unsigned int, __atomic_fetch_sub)

namespace tc_emu {
/* *address = update(old) with a compare-and-swap loop on the bits; returns old. */
template <class T, class Bits, class Update>
static inline T atomic_update(T *address, Update update) {
    static_assert(sizeof(T) == sizeof(Bits), "bit twin of the same size");
    Bits *bits = reinterpret_cast<Bits *>(address);
    Bits old = __atomic_load_n(bits, __ATOMIC_RELAXED), next;
    T value;
    do {
        memcpy(&value, &old, sizeof value);
        T result = update(value);
        memcpy(&next, &result, sizeof next);
    } while (!__atomic_compare_exchange_n(bits, &old, next, true, __ATOMIC_SEQ_CST,
                                          __ATOMIC_RELAXED));
    memcpy(&value, &old, sizeof value);
    return value;
}
}  // namespace tc_emu

#define TC_EMU_ATOMIC_UPDATE(NAME, T, BITS, EXPR) \
    static inline T NAME(T *address, T value) { \
        return ::tc_emu::atomic_update<T, BITS>(address, [value](T old) { return EXPR; }); \
    }
TC_EMU_ATOMIC_UPDATE(atomicAdd, float, uint32_t, old + value)
TC_EMU_ATOMIC_UPDATE(atomicAdd, double, uint64_t, old + value)
TC_EMU_ATOMIC_UPDATE(atomicExch, float, uint32_t, ((void)old, value))
TC_EMU_ATOMIC_UPDATE(atomicMin, int, int, value < old ? value : old)
TC_EMU_ATOMIC_UPDATE(atomicMin, unsigned int, unsigned int, value < old ? value : old)
TC_EMU_ATOMIC_UPDATE(atomicMin, long long, long long, value < old ? value : old)
TC_EMU_ATOMIC_UPDATE(atomicMin, unsigned long long, unsigned long long,
                     value < old ? value : old)
TC_EMU_ATOMIC_UPDATE(atomicMax, int, int, value > old ? value : old)
TC_EMU_ATOMIC_UPDATE(atomicMax, unsigned int, unsigned int, value > old ? value : old)
TC_EMU_ATOMIC_UPDATE(atomicMax, long long, long long, value > old ? value : old)
TC_EMU_ATOMIC_UPDATE(atomicMax, unsigned long long, unsigned long long,
                     value > old ? value : old)
TC_EMU_ATOMIC_UPDATE(atomicInc, unsigned int, unsigned int,
                     old >= value ? 0u : old + 1u)
TC_EMU_ATOMIC_UPDATE(atomicDec, unsigned int, unsigned int,
                     old == 0u || old > value ? value : old - 1u)

#define TC_EMU_ATOMIC_CAS(T) \
    static inline T atomicCAS(T *address, T compare, T value) { \
        __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_SEQ_CST, \
                                    __ATOMIC_SEQ_CST); \
        return compare; \
    }
TC_EMU_ATOMIC_CAS(int)
TC_EMU_ATOMIC_CAS(unsigned int)
TC_EMU_ATOMIC_CAS(unsigned long long)
TC_EMU_ATOMIC_CAS(unsigned short)

#define atomicAdd_block atomicAdd
#define atomicAdd_system atomicAdd
#define atomicMax_block atomicMax
#define atomicMin_block atomicMin

/* ---- math: CUDA's device functions that the host libm lacks ----------------------- */

template <class A, class B>
static inline typename std::common_type<A, B>::type min(A a, B b) {
    typedef typename std::common_type<A, B>::type C;
    if constexpr (std::is_floating_point<C>::value) return fmin((C)a, (C)b);
    else return (C)a < (C)b ? (C)a : (C)b;
}
template <class A, class B>
static inline typename std::common_type<A, B>::type max(A a, B b) {
    typedef typename std::common_type<A, B>::type C;
    if constexpr (std::is_floating_point<C>::value) return fmax((C)a, (C)b);
    else return (C)a > (C)b ? (C)a : (C)b;
}

/* glibc declares __expf & co. itself (its internal names), hence macros. */
#define __expf expf
#define __exp10f(x) powf(10.0f, (x))
#define __logf logf
#define __log2f log2f
#define __log10f log10f
#define __sinf sinf
#define __cosf cosf
#define __tanf tanf
#define __powf powf
static inline float __fdividef(float x, float y) { return x / y; }
static inline float __frcp_rn(float x) { return 1.0f / x; }
static inline float __fsqrt_rn(float x) { return sqrtf(x); }
static inline float __fadd_rn(float x, float y) { return x + y; }
static inline float __fmul_rn(float x, float y) { return x * y; }
static inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
static inline double __dadd_rn(double x, double y) { return x + y; }
static inline double __dmul_rn(double x, double y) { return x * y; }
static inline double __fma_rn(double x, double y, double z) { return fma(x, y, z); }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
static inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }

namespace tc_emu {
template <class To, class From> static inline To bit_cast(From x) {
    static_assert(sizeof(To) == sizeof(From), "same size");
    To y;
    memcpy(&y, &x, sizeof y);
    return y;
}
}  // namespace tc_emu
static inline float __int_as_float(int x) { return tc_emu::bit_cast<float>(x); }
static inline int __float_as_int(float x) { return tc_emu::bit_cast<int>(x); }
static inline float __uint_as_float(unsigned int x) { return tc_emu::bit_cast<float>(x); }
static inline unsigned int __float_as_uint(float x) { return tc_emu::bit_cast<unsigned>(x); }
static inline double __longlong_as_double(long long x) { return tc_emu::bit_cast<double>(x); }
static inline long long __double_as_longlong(double x) { return tc_emu::bit_cast<long long>(x); }
static inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
static inline int __float2int_rz(float x) { return (int)x; }
static inline int __double2int_rn(double x) { return (int)nearbyint(x); }
static inline float __int2float_rn(int x) { return (float)x; }
static inline int __popc(unsigned int x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
static inline int __clzll(long long x) { return x ? __builtin_clzll((unsigned long long)x) : 64; }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline int __ffsll(long long x) { return __builtin_ffsll(x); }
static inline unsigned int __brev(unsigned int x) {
    unsigned int y = 0;
    for (int k = 0; k < 32; ++k, x >>= 1) y = (y << 1) | (x & 1u);
    return y;
}
static inline int __mulhi(int x, int y) { return (int)(((long long)x * y) >> 32); }
static inline unsigned int __umulhi(unsigned int x, unsigned int y) {
    return (unsigned int)(((unsigned long long)x * y) >> 32);
}
static inline long long __mul64hi(long long x, long long y) {
    return (long long)(((__int128)x * y) >> 64);
}
static inline unsigned long long __umul64hi(unsigned long long x, unsigned long long y) {
    return (unsigned long long)(((unsigned __int128)x * y) >> 64);
}
template <class T> static inline T __ldg(const T *p) { return *p; }

/* ---- the launch: validation, worker threads, the block scheduler ---------------- */

extern "C" void tc_emu_fiber_main(void) {
    ::tc_emu::Block *b = ::tc_emu::current_block;
    b->entry(b->params);
    b->cur->state = ::tc_emu::State::done;
    ::tc_emu::leave_fiber(b, b->cur);
    __builtin_unreachable();
}

namespace tc_emu {

enum Config { GRID_X, GRID_Y, GRID_Z, BLOCK_X, BLOCK_Y, BLOCK_Z, SHARED_BYTES, REVERSE,
              WORKERS, STACK_KB, CONFIG_SIZE };

/* Fiber stacks, reused across blocks and launches: `count` slots of a guard page
   plus `stack_bytes`, in one mapping. */
struct StackSet {
    char *base;
    int count;
    size_t slot_bytes, stack_bytes;
    StackSet *next;
};
static pthread_mutex_t stack_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static StackSet *stack_pool;

static StackSet *acquire_stacks(int count, size_t stack_bytes) {
    pthread_mutex_lock(&stack_pool_lock);
    for (StackSet **p = &stack_pool; *p; p = &(*p)->next) {
        if ((*p)->count >= count && (*p)->stack_bytes == stack_bytes) {
            StackSet *set = *p;
            *p = set->next;
            pthread_mutex_unlock(&stack_pool_lock);
            return set;
        }
    }
    pthread_mutex_unlock(&stack_pool_lock);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t slot = page + stack_bytes;
    void *base = mmap(nullptr, slot * (size_t)count, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return nullptr;
    for (int k = 0; k < count; ++k) mprotect((char *)base + slot * (size_t)k, page, PROT_NONE);
    StackSet *set = new StackSet{(char *)base, count, slot, stack_bytes, nullptr};
    return set;
}

static void release_stacks(StackSet *set) {
    pthread_mutex_lock(&stack_pool_lock);
    set->next = stack_pool;
    stack_pool = set;
    pthread_mutex_unlock(&stack_pool_lock);
}

struct Launch {
    Entry entry;
    void **params;
    const int64_t *config;
    int64_t blocks;
    int64_t next_block; /* atomic */
    int failed;         /* atomic */
    pthread_mutex_t lock;
    char error[ERROR_BYTES];
};

/* All fibers blocked: release the barrier they all wait at, or report why the
   block cannot go on. false when the block is finished (or failed). */
static bool settle(Block *b) {
    int done = 0, waiting = 0;
    const Fiber *first = nullptr, *other = nullptr, *warp_waiter = nullptr;
    for (int i = 0; i < b->count; ++i) {
        const Fiber *f = b->fibers + i;
        if (f->state == State::done) ++done;
        else if (f->state == State::at_warp) warp_waiter = warp_waiter ? warp_waiter : f;
        else {
            ++waiting;
            if (!first) first = f;
            else if (f->site != first->site && !other) other = f;
        }
    }
    if (done == b->count) return false;
    if (warp_waiter) {
        int warp = (int)(warp_waiter->linear / WARP);
        uint32_t lanes = warp_waiter->mask & lanes_present(b, warp);
        fail(b, "%s on line %d can never complete in warp %d: lanes 0x%08x of mask "
             "0x%08x arrived, the others exited or wait elsewhere",
             WARP_OP_NAMES[(int)warp_waiter->warp_op], warp_waiter->site, warp,
             b->warp_arrived[warp] & lanes, lanes);
        return false;
    }
    if (done > 0) {
        fail(b, "__syncthreads() on line %d is not reached by every thread: %d threads "
             "exited while %d wait at it", first->site, done, waiting);
        return false;
    }
    if (other) {
        fail(b, "threads wait at different __syncthreads() (lines %d and %d)",
             first->site, other->site);
        return false;
    }
    int votes = 0;
    for (int i = 0; i < b->count; ++i) votes += b->fibers[i].predicate;
    switch (first->barrier_kind) {
    case BarrierKind::count: b->barrier_result = votes; break;
    case BarrierKind::all: b->barrier_result = votes == b->count; break;
    case BarrierKind::any: b->barrier_result = votes != 0; break;
    default: b->barrier_result = 0;
    }
    for (int i = 0; i < b->count; ++i) b->fibers[i].state = State::runnable;
    return true;
}

static void run_block(Block *b) {
    current_block = b;
    b->failed = false;
    memset(b->warp_arrived, 0, sizeof b->warp_arrived);
    if (b->dynamic_shared_bytes > 0)
        memset(b->dynamic_shared, 0xff, (size_t)b->dynamic_shared_bytes);
    for (int i = 0; i < b->count; ++i) {
        b->fibers[i].state = State::runnable;
        prepare_fiber(b->fibers + i);
    }
    for (;;) {
        bool ran = false;
        for (int k = 0; k < b->count; ++k) {
            Fiber *f = b->fibers + (b->reverse ? b->count - 1 - k : k);
            if (f->state != State::runnable) continue;
            b->cur = f;
            enter_fiber(b, f);
            ran = true;
            if (b->failed) return;
        }
        if (!ran && !settle(b)) return;
    }
}

/* One OS thread: takes blocks until none are left or one failed. */
static void *worker_main(void *argument) {
    Launch *launch = static_cast<Launch *>(argument);
    const int64_t *c = launch->config;
    int count = (int)(c[BLOCK_X] * c[BLOCK_Y] * c[BLOCK_Z]);
    size_t stack_bytes = (size_t)c[STACK_KB] * 1024;
    StackSet *stacks = acquire_stacks(count, stack_bytes);
    Fiber *fibers = static_cast<Fiber *>(calloc((size_t)count, sizeof(Fiber)));
    size_t shared_bytes = ((size_t)c[SHARED_BYTES] + 127) / 128 * 128;
    unsigned char *shared =
        static_cast<unsigned char *>(aligned_alloc(128, shared_bytes ? shared_bytes : 128));
    Block *b = static_cast<Block *>(calloc(1, sizeof(Block)));
    if (!stacks || !fibers || !shared || !b) {
        pthread_mutex_lock(&launch->lock);
        if (!launch->failed) snprintf(launch->error, ERROR_BYTES, "out of memory for fibers");
        __atomic_store_n(&launch->failed, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&launch->lock);
    } else {
        unsigned bx = (unsigned)c[BLOCK_X], by = (unsigned)c[BLOCK_Y];
        for (int i = 0; i < count; ++i) {
            Fiber *f = fibers + i;
            f->linear = (uint32_t)i;
            f->thread_idx = uint3{i % bx, i / bx % by, i / (bx * by)};
            f->stack_top = stacks->base + stacks->slot_bytes * (size_t)(i + 1);
            f->stack_bytes = stack_bytes;
        }
        *b = Block{};
        b->fibers = fibers;
        b->count = count;
        b->reverse = c[REVERSE] != 0;
        b->block_dim = dim3(bx, by, (unsigned)c[BLOCK_Z]);
        b->grid_dim = dim3((unsigned)c[GRID_X], (unsigned)c[GRID_Y], (unsigned)c[GRID_Z]);
        b->entry = launch->entry;
        b->params = launch->params;
        b->dynamic_shared = shared;
        b->dynamic_shared_bytes = c[SHARED_BYTES];
        for (;;) {
            int64_t k = __atomic_fetch_add(&launch->next_block, 1, __ATOMIC_RELAXED);
            if (k >= launch->blocks || __atomic_load_n(&launch->failed, __ATOMIC_RELAXED))
                break;
            int64_t index = b->reverse ? launch->blocks - 1 - k : k;
            b->block_idx = uint3{(unsigned)(index % c[GRID_X]),
                                 (unsigned)(index / c[GRID_X] % c[GRID_Y]),
                                 (unsigned)(index / (c[GRID_X] * c[GRID_Y]))};
            run_block(b);
            if (b->failed) {
                pthread_mutex_lock(&launch->lock);
                if (!launch->failed) memcpy(launch->error, b->error, ERROR_BYTES);
                __atomic_store_n(&launch->failed, 1, __ATOMIC_SEQ_CST);
                pthread_mutex_unlock(&launch->lock);
                break;
            }
        }
    }
    current_block = nullptr;
    if (stacks) release_stacks(stacks);
    free(fibers);
    free(shared);
    free(b);
    return nullptr;
}

/* Empty if `config` is a launch a CUDA device accepts, else why not. */
static void check_config(const int64_t *c, char *why, size_t n) {
    static const char *const AXES = "xyz";
    why[0] = '\0';
    int64_t threads = 1;
    for (int k = 0; k < 3; ++k) {
        int64_t grid = c[GRID_X + k], block = c[BLOCK_X + k];
        threads *= block;
        if (grid < 1 || grid > MAX_GRID_DIM[k]) {
            snprintf(why, n, "grid dimension %c = %lld is outside [1, %lld]", AXES[k],
                     (long long)grid, (long long)MAX_GRID_DIM[k]);
            return;
        }
        if (block < 1 || block > MAX_BLOCK_DIM[k]) {
            snprintf(why, n, "block dimension %c = %lld is outside [1, %lld]", AXES[k],
                     (long long)block, (long long)MAX_BLOCK_DIM[k]);
            return;
        }
    }
    if (threads > MAX_THREADS_PER_BLOCK)
        snprintf(why, n, "a block of %lld threads exceeds the maximum of %lld",
                 (long long)threads, (long long)MAX_THREADS_PER_BLOCK);
    else if (c[SHARED_BYTES] < 0 || c[SHARED_BYTES] > MAX_DYNAMIC_SHARED_BYTES)
        snprintf(why, n, "%lld bytes of dynamic shared memory, the maximum is %lld",
                 (long long)c[SHARED_BYTES], (long long)MAX_DYNAMIC_SHARED_BYTES);
    else if (c[STACK_KB] < 16 || c[STACK_KB] % 4 != 0)
        snprintf(why, n, "fiber stacks of %lld KiB: need a multiple of 4, at least 16",
                 (long long)c[STACK_KB]);
}

/* Runs kernel `name` (called through `entry`) on the grid in `config`; 0 on
   success, else 1 with a message in `err`. */
static int launch(const char *name, Entry entry, const int64_t *config, void **params,
                  char *err, int64_t err_len) {
    char why[ERROR_BYTES];
    check_config(config, why, sizeof why);
    if (why[0]) {
        snprintf(err, (size_t)err_len, "cuda-emu: invalid launch of kernel '%s': %s", name,
                 why);
        return 1;
    }
    Launch l{};
    l.entry = entry;
    l.params = params;
    l.config = config;
    l.blocks = config[GRID_X] * config[GRID_Y] * config[GRID_Z];
    pthread_mutex_init(&l.lock, nullptr);
    int64_t workers = config[WORKERS];
    if (workers <= 0) { /* a thread per core, but only for launches worth a thread */
        int64_t threads = l.blocks * config[BLOCK_X] * config[BLOCK_Y] * config[BLOCK_Z];
        int64_t cores = sysconf(_SC_NPROCESSORS_ONLN);
        workers = threads / THREADS_PER_WORKER < cores ? threads / THREADS_PER_WORKER : cores;
        workers = workers > 1 ? workers : 1;
    }
    workers = workers < l.blocks ? workers : l.blocks;
    pthread_t threads[64];
    int started = 0;
    for (; started + 1 < workers && started < 64; ++started)
        if (pthread_create(threads + started, nullptr, worker_main, &l) != 0) break;
    worker_main(&l); /* this thread is a worker too */
    for (int k = 0; k < started; ++k) pthread_join(threads[k], nullptr);
    pthread_mutex_destroy(&l.lock);
    if (l.failed) {
        snprintf(err, (size_t)err_len, "cuda-emu: kernel '%s', %s", name, l.error);
        return 1;
    }
    return 0;
}

/* ---- exports: one launcher and one signature string per kernel ------------------ */

template <class T> struct TypeCode;
template <class T> struct TypeCode<T *> { static constexpr char value = 'p'; };
#define TC_EMU_TYPE_CODE(T, C) \
    template <> struct TypeCode<T> { static constexpr char value = C; };
TC_EMU_TYPE_CODE(bool, '?')
TC_EMU_TYPE_CODE(char, 'b')
TC_EMU_TYPE_CODE(signed char, 'b')
TC_EMU_TYPE_CODE(unsigned char, 'B')
TC_EMU_TYPE_CODE(short, 'h')
TC_EMU_TYPE_CODE(unsigned short, 'H')
TC_EMU_TYPE_CODE(int, 'i')
TC_EMU_TYPE_CODE(unsigned int, 'I')
TC_EMU_TYPE_CODE(long, 'q')
TC_EMU_TYPE_CODE(unsigned long, 'Q')
TC_EMU_TYPE_CODE(long long, 'q')
TC_EMU_TYPE_CODE(unsigned long long, 'Q')
TC_EMU_TYPE_CODE(float, 'f')
TC_EMU_TYPE_CODE(double, 'd')
#ifdef __FLT16_MAX__
TC_EMU_TYPE_CODE(_Float16, 'e')
#endif

/* One character per kernel parameter (struct module format codes; 'p' = pointer). */
template <class... A> static const char *signature_of(void (*)(A...)) {
    static const char codes[] = {TypeCode<typename std::remove_cv<A>::type>::value...,
                                 '\0'};
    return codes;
}

template <class... A, size_t... I>
static inline void invoke(void (*kernel)(A...), void **params, std::index_sequence<I...>) {
    kernel(*reinterpret_cast<typename std::remove_cv<A>::type *>(params[I])...);
    (void)params;
}
template <class... A> static inline void invoke(void (*kernel)(A...), void **params) {
    invoke(kernel, params, std::index_sequence_for<A...>{});
}

}  // namespace tc_emu

#define TC_EMU_EXPORT(kernel) \
    extern "C" __attribute__((visibility("default"))) int tc_emu_launch_##kernel( \
        const int64_t *config, void **params, char *err, int64_t err_len) { \
        return ::tc_emu::launch( \
            #kernel, [](void **p) { ::tc_emu::invoke(kernel, p); }, config, params, err, \
            err_len); \
    } \
    extern "C" __attribute__((visibility("default"))) const char \
        *tc_emu_signature_##kernel(void) { \
        return ::tc_emu::signature_of(kernel); \
    }

#endif /* TENSORC_CUDA_EMU_H */
