/* cuda_runtime.h (emulated) - just enough of the CUDA runtime and of the CUDA C++ dialect for
 * kernels/cuda_*.cu to compile as ordinary C++ and run on CPU threads, so that the CUDA
 * backend's kernels are checked against the CPU backend on a machine without a GPU
 * (tests/kernels/test_cuda_emu_parity). Each launch runs its blocks one after another, the
 * threads of a block as fibers that switch at every __syncthreads and warp shuffle (see
 * emu_block), so indexing, masking, tiling and reduction order are exercised as written. It cannot
 * say anything about speed, the memory model of a real GPU, or races between blocks. translate.py
 * turns `k<<<g, b, s, st>>>(...)` into `emu_launch(g, b, s, st, k)(...)` and the dynamic
 * shared-memory declaration into EMU_DYN_SMEM. */
#ifndef SW_EMU_CUDA_RUNTIME_H
#define SW_EMU_CUDA_RUNTIME_H

#include <math.h>
#include <setjmp.h>
#include <ucontext.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static thread_local /* each rank thread runs its own launches */

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_)
    {
    }
};

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

/* The threads of a block are fibers (ucontext) run round-robin on the calling thread: each
 * runs until its next synchronisation point (a barrier, or either half of a warp shuffle) or
 * its end, then the next one. Every kernel here synchronises warp-uniformly, so after one
 * round every live fiber stands at the same point: exactly a barrier's semantics. */
struct emu_block {
    std::vector<ucontext_t> ctx; /* first entry of each fiber */
    struct jump {
        jmp_buf buf;
    };
    std::vector<jump> jb; /* later switches: _setjmp/_longjmp, no signal-mask syscall */
    std::vector<int> started;
    jmp_buf sched_jb;
    char *stacks; /* n fiber stacks of EMU_STACK bytes, kept from launch to launch */
    std::vector<int> done;
    ucontext_t sched;
    unsigned cur;
    std::vector<unsigned> block; /* linear block index each fiber is in */
    float exch[1024];
    std::vector<unsigned char> smem;
    void (*body)(void *);
    void *arg;
};
inline thread_local emu_block *g_emu;

#define EMU_DYN_SMEM(type, name) type *name = (type *)g_emu->smem.data()

/* The switches return twice; kept out of line so that callers' locals are not clobbered. */
__attribute__((noinline)) inline void emu_yield()
{
    emu_block *b = g_emu;
    unsigned me = b->cur;
    if (!_setjmp(b->jb[me].buf))
        _longjmp(b->sched_jb, 1);
    threadIdx = dim3(me); /* the scheduler switched back to this fiber */
    blockIdx = dim3(b->block[me] % gridDim.x, b->block[me] / gridDim.x);
}

/* Runs fiber t until its next synchronisation point or its end. */
__attribute__((noinline)) inline void emu_resume(emu_block *b, unsigned t)
{
    b->cur = t;
    threadIdx = dim3(t);
    blockIdx = dim3(b->block[t] % gridDim.x, b->block[t] / gridDim.x);
    if (!_setjmp(b->sched_jb)) {
        if (!b->started[t]) {
            b->started[t] = 1;
            swapcontext(&b->sched, &b->ctx[t]);
        } else {
            _longjmp(b->jb[t].buf, 1);
        }
    }
}

inline void __syncthreads()
{
    emu_yield();
}

inline float __shfl_xor_sync(unsigned mask, float v, int lane_mask)
{
    (void)mask;
    unsigned t = threadIdx.x, w = t / 32;
    g_emu->exch[t] = v;
    emu_yield();
    float r = g_emu->exch[w * 32 + ((t % 32) ^ (unsigned)lane_mask)];
    emu_yield();
    return r;
}

inline float atomicAdd(float *p, float v)
{
    float old = *p; /* fibers never run at the same time */
    *p = old + v;
    return old;
}

inline int min(int a, int b)
{
    return a < b ? a : b;
}

/* A fiber runs its thread of every block in turn, meeting the others at each block's end. */
inline void emu_fiber_entry()
{
    emu_block *b = g_emu;
    unsigned me = b->cur, nblocks = gridDim.x * gridDim.y;
    for (unsigned k = 0; k < nblocks; k++) {
        b->block[me] = k;
        blockIdx = dim3(k % gridDim.x, k / gridDim.x);
        threadIdx = dim3(me);
        b->body(b->arg);
        emu_yield();
    }
    b->done[me] = 1;
    _longjmp(b->sched_jb, 1);
}

enum { EMU_STACK = 64 * 1024 };

/* Stacks for n fibers, allocated once (and grown) rather than per launch. */
inline char *emu_stacks(unsigned n)
{
    static thread_local std::vector<char> pool;
    if (pool.size() < (size_t)n * EMU_STACK)
        pool.resize((size_t)n * EMU_STACK);
    return pool.data();
}

__attribute__((noinline)) inline void emu_make_fiber(ucontext_t *c, char *stack)
{
    getcontext(c);
    c->uc_stack.ss_sp = stack;
    c->uc_stack.ss_size = EMU_STACK;
    c->uc_link = NULL;
    makecontext(c, emu_fiber_entry, 0);
}

/* Runs f(args...) for every thread of every block, blocks in order. */
template <class F> struct emu_launcher {
    dim3 grid, block;
    size_t smem;
    F f;
    template <class... A> void operator()(A... args)
    {
        gridDim = grid;
        blockDim = block;
        unsigned n = block.x;
        emu_block eb;
        eb.smem.assign(smem + 16, 0);
        eb.ctx.resize(n);
        eb.jb.resize(n);
        eb.stacks = emu_stacks(n);
        auto call = [&]() { f(args...); };
        eb.body = [](void *c) { (*(decltype(call) *)c)(); };
        eb.arg = &call;
        g_emu = &eb;
        eb.done.assign(n, 0);
        eb.started.assign(n, 0);
        eb.block.assign(n, 0);
        for (unsigned t = 0; t < n; t++)
            emu_make_fiber(&eb.ctx[t], eb.stacks + (size_t)t * EMU_STACK);
        for (unsigned live = n; live > 0;) {
            live = 0;
            for (unsigned t = 0; t < n; t++) {
                if (eb.done[t])
                    continue;
                emu_resume(&eb, t);
                live += !eb.done[t];
            }
        }
        g_emu = NULL;
    }
};

template <class G, class B, class S, class F>
emu_launcher<F> emu_launch(G grid, B block, size_t smem, S stream, F f)
{
    (void)stream;
    return emu_launcher<F>{dim3(grid), dim3(block), smem, f};
}

/* ---- runtime API: host memory stands in for device memory --------------------------------- */
typedef int cudaError_t;
enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
typedef struct emu_stream *cudaStream_t;
typedef struct emu_event *cudaEvent_t;
enum cudaMemcpyKind {
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDefault = 4
};
enum { cudaStreamNonBlocking = 1, cudaMemAttachGlobal = 1 };
enum cudaMemLocationType { cudaMemLocationTypeDevice = 1 };
struct cudaMemLocation {
    cudaMemLocationType type;
    int id;
};
enum cudaMemoryAdvise { cudaMemAdviseSetPreferredLocation = 3 };

inline const char *cudaGetErrorString(cudaError_t e)
{
    return e == cudaSuccess ? "no error" : "emulated CUDA error";
}
inline cudaError_t cudaGetLastError(void)
{
    return cudaSuccess;
}
/* SW_EMU_DEVICES (default 1) emulated devices, all of them the host's memory. */
inline cudaError_t cudaGetDeviceCount(int *n)
{
    const char *e = getenv("SW_EMU_DEVICES");
    *n = e && atoi(e) > 0 ? atoi(e) : 1;
    return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int d)
{
    int n;
    cudaGetDeviceCount(&n);
    return d >= 0 && d < n ? cudaSuccess : 101;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned f)
{
    (void)f;
    *s = NULL;
    return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    (void)s;
    return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    (void)s;
    return cudaSuccess;
}
inline cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = calloc(1, n ? n : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
template <class T> cudaError_t cudaMalloc(T **p, size_t n)
{
    return cudaMalloc((void **)p, n);
}
inline cudaError_t cudaMallocManaged(void **p, size_t n, unsigned f)
{
    (void)f;
    return cudaMalloc(p, n);
}
inline cudaError_t cudaMallocHost(void **p, size_t n)
{
    return cudaMalloc(p, n);
}
inline cudaError_t cudaFree(void *p)
{
    free(p);
    return cudaSuccess;
}
inline cudaError_t cudaFreeHost(void *p)
{
    free(p);
    return cudaSuccess;
}
inline cudaError_t cudaMemGetInfo(size_t *f, size_t *t)
{
    *f = *t = (size_t)1 << 36;
    return cudaSuccess;
}
inline cudaError_t cudaMemAdvise(const void *p, size_t n, cudaMemoryAdvise a, cudaMemLocation l)
{
    (void)p, (void)n, (void)a, (void)l;
    return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t s)
{
    (void)s;
    memset(p, v, n);
    return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind k,
                                   cudaStream_t st)
{
    (void)k, (void)st;
    memmove(d, s, n);
    return cudaSuccess;
}
inline cudaError_t cudaRuntimeGetVersion(int *v)
{
    *v = 0;
    return cudaSuccess;
}
inline cudaError_t cudaDriverGetVersion(int *v)
{
    *v = 0;
    return cudaSuccess;
}

#endif
