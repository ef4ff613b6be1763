/* cuda_backend.cu - the CUDA backend's table, device contexts, memory, and its elementwise
 * operations (embedding, relu^2, fill, scale, sum of squares, AdamW). Matrix products are in
 * cuda_matmul.cu, norms and rotary in cuda_norm.cu, attention in cuda_attention.cu, the
 * soft-capped cross-entropy in cuda_xent.cu, Muon and the elementwise soft cap in
 * cuda_muon.cu. Each kernel's CPU reference (the oracle the tests compare with) is the
 * function of the same name in cpu_*.c.
 *
 * Determinism: everything is deterministic run to run except embed_backward, which adds rows
 * of the same token with atomicAdd (order of fp32 additions varies in the last bits).
 */
#include <math.h>
#include <mutex>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda_common.cuh"

enum { MAX_DEVICES = 64 };

static sw_cuda_ctx *g_ctx[MAX_DEVICES];
static std::mutex g_ctx_lock;
static thread_local sw_cuda_ctx *t_ctx;
static int g_managed = -1; /* memory mode, read once from SW_CUDA_MEMORY */

void sw_cuda_fatal(const char *what, const char *msg, const char *file, int line)
{
    fprintf(stderr, "spillway cuda: %s failed at %s:%d: %s\n", what, file, line, msg);
    abort();
}

static int managed_mode(void)
{
    if (g_managed < 0) {
        const char *m = getenv("SW_CUDA_MEMORY");
        g_managed = !(m && !strcmp(m, "device"));
    }
    return g_managed;
}

int sw_cuda_sync_each(void)
{
    return managed_mode();
}

extern "C" int sw_cuda_device_count(char *err, size_t errlen)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
        if (err && errlen)
            snprintf(err, errlen, "no CUDA device: %s",
                     e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found 0");
        cudaGetLastError(); /* clear the sticky-free error so later calls start clean */
        return 0;
    }
    return n;
}

extern "C" int sw_cuda_bind(int device, char *err, size_t errlen)
{
    int n = sw_cuda_device_count(err, errlen);
    if (n == 0)
        return -1;
    if (device < 0 || device >= n || device >= MAX_DEVICES) {
        snprintf(err, errlen, "CUDA device %d does not exist (%d visible)", device, n);
        return -1;
    }
    std::lock_guard<std::mutex> lock(g_ctx_lock);
    cudaError_t e = cudaSetDevice(device);
    if (e != cudaSuccess) {
        snprintf(err, errlen, "cudaSetDevice(%d): %s", device, cudaGetErrorString(e));
        return -1;
    }
    if (!g_ctx[device]) {
        sw_cuda_ctx *c = (sw_cuda_ctx *)calloc(1, sizeof *c);
        if (!c) {
            snprintf(err, errlen, "out of host memory");
            return -1;
        }
        c->device = device;
        if ((e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) != cudaSuccess) {
            snprintf(err, errlen, "cudaStreamCreate on device %d: %s", device,
                     cudaGetErrorString(e));
            free(c);
            return -1;
        }
        cublasStatus_t s = cublasCreate(&c->blas);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasSetStream(c->blas, c->stream);
        if (s != CUBLAS_STATUS_SUCCESS) {
            snprintf(err, errlen, "cuBLAS on device %d: %s", device, cublasGetStatusString(s));
            cudaStreamDestroy(c->stream);
            free(c);
            return -1;
        }
        g_ctx[device] = c;
    }
    t_ctx = g_ctx[device];
    return 0;
}

extern "C" int sw_cuda_bound_device(void)
{
    return t_ctx ? t_ctx->device : -1;
}

sw_cuda_ctx *sw_cuda_ctx_cur(void)
{
    if (!t_ctx) {
        char err[256];
        if (sw_cuda_bind(0, err, sizeof err) != 0)
            sw_cuda_fatal("binding device 0", err, __FILE__, __LINE__);
    }
    return t_ctx;
}

void sw_cuda_op_end(sw_cuda_ctx *ctx)
{
    SW_CUDA_CHECK(cudaGetLastError());
    if (sw_cuda_sync_each())
        SW_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
}

void *sw_cuda_scratch(sw_cuda_ctx *ctx, size_t bytes)
{
    if (bytes > ctx->scratch_cap) {
        SW_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
        SW_CUDA_CHECK(cudaFree(ctx->scratch));
        size_t cap = bytes < ((size_t)1 << 20) ? ((size_t)1 << 20) : bytes;
        SW_CUDA_CHECK(cudaMalloc(&ctx->scratch, cap));
        ctx->scratch_cap = cap;
    }
    return ctx->scratch;
}

void *sw_cuda_host_red(sw_cuda_ctx *ctx, size_t bytes)
{
    if (bytes > ctx->host_red_cap) {
        SW_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
        SW_CUDA_CHECK(cudaFreeHost(ctx->host_red));
        SW_CUDA_CHECK(cudaMallocHost(&ctx->host_red, bytes));
        ctx->host_red_cap = bytes;
    }
    return ctx->host_red;
}

const int32_t *sw_cuda_stage_tokens(sw_cuda_ctx *ctx, const int32_t *ids, int n)
{
    if ((size_t)n > ctx->tok_cap) {
        SW_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
        SW_CUDA_CHECK(cudaFree(ctx->tok));
        SW_CUDA_CHECK(cudaMalloc(&ctx->tok, (size_t)n * sizeof(int32_t)));
        ctx->tok_cap = (size_t)n;
    }
    /* cudaMemcpyDefault reads host, device or managed memory alike (unified addressing); the
     * model passes host arrays for the tokens and targets. */
    SW_CUDA_CHECK(cudaMemcpyAsync(ctx->tok, ids, (size_t)n * sizeof(int32_t), cudaMemcpyDefault,
                                  ctx->stream));
    return ctx->tok;
}

/* ---- memory ------------------------------------------------------------------------------ */

static void *cuda_alloc(size_t bytes)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    size_t rounded = (bytes + 255) / 256 * 256;
    if (!rounded)
        rounded = 256;
    void *p = NULL;
    if (managed_mode()) {
        size_t free_b = 0, total_b = 0;
        if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess || rounded > free_b)
            return NULL; /* never oversubscribe managed memory */
        if (cudaMallocManaged(&p, rounded, cudaMemAttachGlobal) != cudaSuccess) {
            cudaGetLastError();
            return NULL;
        }
        cudaMemLocation loc;
        loc.type = cudaMemLocationTypeDevice;
        loc.id = ctx->device;
        /* Live on the GPU; the host reads through page migration when it must. */
        cudaMemAdvise(p, rounded, cudaMemAdviseSetPreferredLocation, loc);
        cudaGetLastError();
    } else if (cudaMalloc(&p, rounded) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    SW_CUDA_CHECK(cudaMemsetAsync(p, 0, rounded, ctx->stream));
    SW_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
    return p;
}

static void cuda_free(void *p)
{
    if (!p)
        return;
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    SW_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
    SW_CUDA_CHECK(cudaFree(p));
}

static void cuda_copy_any(void *dst, const void *src, size_t bytes)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    SW_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, ctx->stream));
    SW_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
}

static void cuda_copy_dd(void *dst, const void *src, size_t bytes)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    SW_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, ctx->stream));
    sw_cuda_op_end(ctx);
}

static void cuda_synchronize(void)
{
    SW_CUDA_CHECK(cudaStreamSynchronize(sw_cuda_ctx_cur()->stream));
}

/* ---- elementwise ------------------------------------------------------------------------- */

__global__ static void fill_kernel(float *x, size_t n, float value)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] = value;
}

static void cuda_fill(float *x, size_t n, float value)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    fill_kernel<<<sw_cuda_blocks(n, 256), 256, 0, ctx->stream>>>(x, n, value);
    sw_cuda_op_end(ctx);
}

/* out[n, c] = wte[tok[n], c]. */
__global__ static void embed_forward_kernel(float *out, const int32_t *tok, const float *wte, int N,
                                            int C)
{
    size_t total = (size_t)N * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / C, c = i % C;
        out[i] = wte[(size_t)tok[n] * C + c];
    }
}

static void cuda_embed_forward(float *out, const int32_t *tokens, const float *wte, int N, int C)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    const int32_t *tok = sw_cuda_stage_tokens(ctx, tokens, N);
    embed_forward_kernel<<<sw_cuda_blocks((size_t)N * C, 256), 256, 0, ctx->stream>>>(out, tok, wte,
                                                                                      N, C);
    sw_cuda_op_end(ctx);
}

__global__ static void embed_backward_kernel(float *dwte, const float *dout, const int32_t *tok,
                                             int N, int C)
{
    size_t total = (size_t)N * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / C, c = i % C;
        atomicAdd(&dwte[(size_t)tok[n] * C + c], dout[i]);
    }
}

static void cuda_embed_backward(float *dwte, const float *dout, const int32_t *tokens, int N, int C)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    const int32_t *tok = sw_cuda_stage_tokens(ctx, tokens, N);
    embed_backward_kernel<<<sw_cuda_blocks((size_t)N * C, 256), 256, 0, ctx->stream>>>(dwte, dout,
                                                                                       tok, N, C);
    sw_cuda_op_end(ctx);
}

__global__ static void relu2_forward_kernel(float *a, const float *h, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float r = h[i] > 0.0f ? h[i] : 0.0f;
        a[i] = r * r;
    }
}

static void cuda_relu2_forward(float *a, const float *h, size_t n)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    relu2_forward_kernel<<<sw_cuda_blocks(n, 256), 256, 0, ctx->stream>>>(a, h, n);
    sw_cuda_op_end(ctx);
}

__global__ static void relu2_backward_kernel(float *dh, const float *da, const float *h, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float r = h[i] > 0.0f ? h[i] : 0.0f;
        dh[i] = 2.0f * r * da[i];
    }
}

static void cuda_relu2_backward(float *dh, const float *da, const float *h, size_t n)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    relu2_backward_kernel<<<sw_cuda_blocks(n, 256), 256, 0, ctx->stream>>>(dh, da, h, n);
    sw_cuda_op_end(ctx);
}

__global__ static void scale_kernel(float *x, size_t n, float s)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] *= s;
}

static void cuda_scale(float *x, size_t n, float s)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    scale_kernel<<<sw_cuda_blocks(n, 256), 256, 0, ctx->stream>>>(x, n, s);
    sw_cuda_op_end(ctx);
}

/* A fixed grid, so the partial sums (and their order) depend only on n: deterministic. */
enum { SUMSQ_BLOCKS = 1024, SUMSQ_THREADS = 256 };

__global__ static void sum_squares_kernel(double *part, const float *x, size_t n)
{
    __shared__ double sh[SUMSQ_THREADS];
    double s = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        s += (double)x[i] * (double)x[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = SUMSQ_THREADS / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k)
            sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        part[blockIdx.x] = sh[0];
}

static double cuda_sum_squares(const float *x, size_t n)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    double *part = (double *)sw_cuda_scratch(ctx, SUMSQ_BLOCKS * sizeof(double));
    double *host = (double *)sw_cuda_host_red(ctx, SUMSQ_BLOCKS * sizeof(double));
    sum_squares_kernel<<<SUMSQ_BLOCKS, SUMSQ_THREADS, 0, ctx->stream>>>(part, x, n);
    SW_CUDA_CHECK(cudaGetLastError());
    SW_CUDA_CHECK(cudaMemcpyAsync(host, part, SUMSQ_BLOCKS * sizeof(double), cudaMemcpyDeviceToHost,
                                  ctx->stream));
    SW_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
    double s = 0.0;
    for (int b = 0; b < SUMSQ_BLOCKS; b++)
        s += host[b];
    return s;
}

/* The CPU backend's update, in the same float operations (cpu_backend.c, adamw_chunk). */
__global__ static void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n,
                                    float lr, float beta1, float beta2, float eps, float wd,
                                    float inv_bc1, float inv_sqrt_bc2)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float gi = g[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float update = (mi * inv_bc1) / (sqrtf(vi) * inv_sqrt_bc2 + eps);
        p[i] -= lr * (update + wd * p[i]);
    }
}

static void cuda_adamw_update(float *p, const float *g, float *m, float *v, size_t n, float lr,
                              float beta1, float beta2, float eps, float wd, float bc1, float bc2)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    adamw_kernel<<<sw_cuda_blocks(n, 256), 256, 0, ctx->stream>>>(
        p, g, m, v, n, lr, beta1, beta2, eps, wd, 1.0f / bc1, 1.0f / sqrtf(bc2));
    sw_cuda_op_end(ctx);
}

/* ---- the tables -------------------------------------------------------------------------- */

#define SW_CUDA_COMMON_OPS                                                                         \
    .alloc = cuda_alloc, .free = cuda_free, .copy_to_device = cuda_copy_any,                       \
    .copy_to_host = cuda_copy_any, .copy = cuda_copy_dd, .fill = cuda_fill,                        \
    .synchronize = cuda_synchronize, .embed_forward = cuda_embed_forward,                          \
    .embed_backward = cuda_embed_backward, .rmsnorm_forward = sw_cuda_rmsnorm_forward,             \
    .rmsnorm_backward = sw_cuda_rmsnorm_backward,

static const sw_backend cuda_fp32 = {
    .name = "cuda",
    SW_CUDA_COMMON_OPS.matmul_forward = sw_cuda_matmul_forward,
    .matmul_backward = sw_cuda_matmul_backward,
    .rope_qknorm_forward = sw_cuda_rope_qknorm_forward,
    .rope_qknorm_backward = sw_cuda_rope_qknorm_backward,
    .attention_forward = sw_cuda_attention_forward,
    .attention_backward = sw_cuda_attention_backward,
    .relu2_forward = cuda_relu2_forward,
    .relu2_backward = cuda_relu2_backward,
    .xent_forward = sw_cuda_xent_forward,
    .xent_backward = sw_cuda_xent_backward,
    .sum_squares = cuda_sum_squares,
    .scale = cuda_scale,
    .adamw_update = cuda_adamw_update,
    .muon_work_floats = sw_cuda_muon_work_floats,
    .muon_update = sw_cuda_muon_update,
    .softcap = sw_cuda_softcap,
};

static const sw_backend cuda_bf16 = {
    .name = "cuda-bf16",
    SW_CUDA_COMMON_OPS.matmul_forward = sw_cuda_matmul_forward_bf16,
    .matmul_backward = sw_cuda_matmul_backward_bf16,
    .rope_qknorm_forward = sw_cuda_rope_qknorm_forward,
    .rope_qknorm_backward = sw_cuda_rope_qknorm_backward,
    .attention_forward = sw_cuda_attention_forward,
    .attention_backward = sw_cuda_attention_backward,
    .relu2_forward = cuda_relu2_forward,
    .relu2_backward = cuda_relu2_backward,
    .xent_forward = sw_cuda_xent_forward,
    .xent_backward = sw_cuda_xent_backward,
    .sum_squares = cuda_sum_squares,
    .scale = cuda_scale,
    .adamw_update = cuda_adamw_update,
    .muon_work_floats = sw_cuda_muon_work_floats,
    .muon_update = sw_cuda_muon_update_bf16,
    .softcap = sw_cuda_softcap,
};

extern "C" const sw_backend *sw_backend_cuda(int bf16, char *err, size_t errlen)
{
    if (!t_ctx) {
        const char *d = getenv("SW_CUDA_DEVICE");
        int dev = d && *d ? atoi(d) : 0;
        if (sw_cuda_bind(dev, err, errlen) != 0)
            return NULL;
    }
    return bf16 ? &cuda_bf16 : &cuda_fp32;
}

extern "C" void sw_cuda_versions(char *buf, size_t len)
{
    int rt = 0, drv = 0;
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
    cudaGetLastError();
    snprintf(buf, len, "CUDA runtime %d, driver %d, NCCL %d", rt, drv, sw_nccl_version());
}
