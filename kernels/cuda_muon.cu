/* cuda_muon.cu - the CUDA backend's Muon update for one weight matrix and the elementwise soft
 * cap (backend.h: muon_update, muon_work_floats, softcap). The CPU oracle and the math are
 * cpu_muon.c and sw_cpu_softcap (cpu_backend.c); this file follows them step for step:
 *   momentum kernel    M = mu M + (1-mu) G, U = (1-mu) G + mu M into X (transposed when tall),
 *                      per-block double partials of |U|^2 (a fixed grid: deterministic)
 *   norm kernels       one block sums the partials in a fixed order; X *= 1/(|U|·1.02 + 1e-6)
 *   ns_steps times     A = X X^T, B = A A (cuBLAS), B = b A + c B, Y = B X (cuBLAS), Y += a X
 *   transpose back     O rows×cols
 *   second moment      per row (one block per row, tree reduction) or per column (one thread
 *                      per column, rows in order), var update, s_i = var_i^-1/2; one block
 *                      reduces |O|^2 and |s ⊙ O|^2 in double for the ratio
 *   update kernel      P -= lr O s ratio + lr wd P [O ⊙ P >= 0]
 * Every reduction has a fixed shape and order: no atomics, the result is the same run to run.
 * Nothing leaves the device (no host round trip), so the step stays asynchronous in "device"
 * memory mode.
 *
 * Precision: the "cuda" table's products are CUBLAS_COMPUTE_32F (IEEE fp32, the parity
 * path); "cuda-bf16" uses CUBLAS_COMPUTE_32F_FAST_16BF (bf16 inputs inside the tensor cores,
 * fp32 accumulation, fp32 in memory) like its linear layers. Everything else is fp32/fp64 as
 * on the CPU.
 */
#include <math.h>

#include "kernels/cuda_common.cuh"

/* Polar Express coefficients: cpu_muon.c's table (more iterations reuse the last triple). */
static const float polar_coeffs[5][3] = {
    {8.156554524902461f, -22.48329292557795f, 15.878769915207462f},
    {4.042929935166739f, -2.808917465908714f, 0.5000178451051316f},
    {3.8916678022926607f, -2.772484153217685f, 0.5060648178503393f},
    {3.285753657755655f, -2.3681294933425376f, 0.46449024233003106f},
    {2.3465413258596377f, -1.7097828382687081f, 0.42323551169305323f},
};

enum { MUON_THREADS = 256, MUON_PARTS = 256 };

/* Layout of work (floats): X[rc] Y[rc] A[m·m] B[m·m] scale[L], padding to 8 bytes, then
 * doubles: part[MUON_PARTS], t[L], u[L], and 4 scalars (inv as float, ratio as float). */
struct muon_layout {
    float *X, *Y, *A, *B, *scale;
    double *part, *t, *u;
    float *scal; /* scal[0] = 1/(|U|·1.02 + 1e-6), scal[1] = ratio */
};

static size_t muon_tail_doubles(size_t L)
{
    return MUON_PARTS + 2 * L + 4;
}

static size_t cuda_muon_head_floats(int rows, int cols)
{
    size_t m = (size_t)(rows < cols ? rows : cols), rc = (size_t)rows * (size_t)cols;
    size_t L = (size_t)(rows > cols ? rows : cols);
    return 2 * rc + 2 * m * m + L;
}

size_t sw_cuda_muon_work_floats(int rows, int cols)
{
    size_t L = (size_t)(rows > cols ? rows : cols);
    /* + 1: room to align the doubles to 8 bytes whatever float-aligned work the caller passes */
    return cuda_muon_head_floats(rows, cols) + 1 + 2 * muon_tail_doubles(L);
}

static muon_layout muon_split(float *work, int rows, int cols)
{
    size_t m = (size_t)(rows < cols ? rows : cols), rc = (size_t)rows * (size_t)cols;
    size_t L = (size_t)(rows > cols ? rows : cols);
    muon_layout w;
    w.X = work;
    w.Y = w.X + rc;
    w.A = w.Y + rc;
    w.B = w.A + m * m;
    w.scale = w.B + m * m;
    uintptr_t tail = (uintptr_t)(work + cuda_muon_head_floats(rows, cols));
    w.part = (double *)((tail + 7) & ~(uintptr_t)7);
    w.t = w.part + MUON_PARTS;
    w.u = w.t + L;
    w.scal = (float *)(w.u + L);
    return w;
}

/* Block-wide sum of v (blockDim.x == MUON_THREADS) in a fixed tree order; thread 0 gets it. */
static __device__ double block_sum(double v, double *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int k = MUON_THREADS / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k)
            sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    return sh[0];
}

__global__ static void muon_momentum_kernel(float *X, double *part, const float *g, float *mom,
                                            int rows, int cols, float momentum)
{
    __shared__ double sh[MUON_THREADS];
    size_t rc = (size_t)rows * cols;
    int tall = rows > cols;
    double ss = 0.0;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < rc;
         k += (size_t)gridDim.x * blockDim.x) {
        size_t i = k / cols, j = k % cols;
        float mk = momentum * mom[k] + (1.0f - momentum) * g[k];
        mom[k] = mk;
        float u = (1.0f - momentum) * g[k] + momentum * mk;
        X[tall ? j * rows + i : k] = u;
        ss += (double)u * u;
    }
    double s = block_sum(ss, sh);
    if (threadIdx.x == 0)
        part[blockIdx.x] = s;
}

/* One block: scal[0] = 1 / (sqrt(sum part) · 1.02 + 1e-6). */
__global__ static void muon_norm_kernel(float *scal, const double *part)
{
    __shared__ double sh[MUON_THREADS];
    double v = 0.0;
    for (int b = threadIdx.x; b < MUON_PARTS; b += blockDim.x)
        v += part[b];
    double ss = block_sum(v, sh);
    if (threadIdx.x == 0)
        scal[0] = (float)(1.0 / (sqrt(ss) * 1.02 + 1e-6));
}

__global__ static void muon_scale_kernel(float *X, size_t n, const float *scal)
{
    float inv = scal[0];
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x)
        X[k] *= inv;
}

/* B = b A + c B over n values. */
__global__ static void muon_poly_kernel(float *B, const float *A, size_t n, float b, float c)
{
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x)
        B[k] = b * A[k] + c * B[k];
}

/* Y += a X over n values. */
__global__ static void muon_axpy_kernel(float *Y, const float *X, size_t n, float a)
{
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x)
        Y[k] += a * X[k];
}

/* O[rows, cols] = X^T where X is [cols, rows]. */
__global__ static void muon_transpose_kernel(float *O, const float *X, int rows, int cols)
{
    size_t rc = (size_t)rows * cols;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < rc;
         k += (size_t)gridDim.x * blockDim.x) {
        size_t i = k / cols, j = k % cols;
        O[k] = X[j * rows + i];
    }
}

/* One block per row: scale[i] = sum_j O[i, j]^2 (float, fixed tree order). */
__global__ static void muon_rowsq_kernel(float *scale, const float *O, int cols)
{
    __shared__ double sh[MUON_THREADS];
    const float *r = O + (size_t)blockIdx.x * cols;
    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
        s += r[j] * r[j];
    double t = block_sum((double)s, sh);
    if (threadIdx.x == 0)
        scale[blockIdx.x] = (float)t;
}

/* One thread per column: scale[j] = sum_i O[i, j]^2, rows in order (as the CPU). */
__global__ static void muon_colsq_kernel(float *scale, const float *O, int rows, int cols)
{
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < cols; j += gridDim.x * blockDim.x) {
        float s = 0.0f;
        for (int i = 0; i < rows; i++) {
            float o = O[(size_t)i * cols + j];
            s += o * o;
        }
        scale[j] = s;
    }
}

/* Per reduced index: the variance update and s_i, with t_i = mean·red, u_i = mean·red·s². */
__global__ static void muon_var_kernel(float *scale, float *var, double *t, double *u, int nred,
                                       int red, float beta2)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < nred; i += gridDim.x * blockDim.x) {
        double mean = (double)scale[i] / red;
        float v = var[i] + (1.0f - beta2) * ((float)mean - var[i]);
        var[i] = v;
        double s = 1.0 / sqrt((double)(v > 1e-10f ? v : 1e-10f));
        t[i] = mean * red;
        u[i] = mean * red * s * s;
        scale[i] = (float)s;
    }
}

/* One block: scal[1] = sqrt(sum t) / max(sqrt(sum u), 1e-10). */
__global__ static void muon_ratio_kernel(float *scal, const double *t, const double *u, int nred)
{
    __shared__ double sh[MUON_THREADS];
    double a = 0.0, b = 0.0;
    for (int i = threadIdx.x; i < nred; i += blockDim.x) {
        a += t[i];
        b += u[i];
    }
    double total = block_sum(a, sh);
    __syncthreads(); /* sh is reused */
    double scaled = block_sum(b, sh);
    if (threadIdx.x == 0) {
        double norm_new = sqrt(scaled);
        scal[1] = (float)(sqrt(total) / (norm_new > 1e-10 ? norm_new : 1e-10));
    }
}

__global__ static void muon_apply_kernel(float *p, const float *O, const float *scale,
                                         const float *scal, int rows, int cols, float lr, float wd)
{
    size_t rc = (size_t)rows * cols;
    int per_row = rows >= cols;
    float ratio = scal[1];
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < rc;
         k += (size_t)gridDim.x * blockDim.x) {
        size_t i = k / cols, j = k % cols;
        float sc = scale[per_row ? i : j] * ratio;
        float o = O[k] * sc;
        float pk = p[k];
        float decay = o * pk >= 0.0f ? wd * pk : 0.0f;
        p[k] = pk - (lr * o + lr * decay);
    }
}

/* Row-major C[r, c] = A[r, k] · B[k, c] (leading dimensions k, c, c), or with trans_b
 * C = A · B^T for B[c, k]; issued column-major as C^T = B^T · A^T. */
static void muon_gemm(sw_cuda_ctx *ctx, cublasComputeType_t ct, int trans_b, int r, int c, int k,
                      const float *A, const float *B, float *C)
{
    const float one = 1.0f, zero = 0.0f;
    SW_CUBLAS_CHECK(cublasGemmEx(ctx->blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, c, r,
                                 k, &one, B, CUDA_R_32F, trans_b ? k : c, A, CUDA_R_32F, k, &zero,
                                 C, CUDA_R_32F, c, ct, CUBLAS_GEMM_DEFAULT));
}

static void muon_update(cublasComputeType_t ct, float *p, const float *g, float *mom, float *var,
                        float *work, int rows, int cols, float momentum, float lr, float wd,
                        float beta2, int ns_steps)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    cudaStream_t st = ctx->stream;
    size_t rc = (size_t)rows * (size_t)cols;
    int tall = rows > cols;
    int m = tall ? cols : rows, n = tall ? rows : cols; /* X is m×n, m <= n */
    size_t mm = (size_t)m * m;
    muon_layout w = muon_split(work, rows, cols);
    unsigned T = MUON_THREADS;

    muon_momentum_kernel<<<MUON_PARTS, T, 0, st>>>(w.X, w.part, g, mom, rows, cols, momentum);
    muon_norm_kernel<<<1, T, 0, st>>>(w.scal, w.part);
    muon_scale_kernel<<<sw_cuda_blocks(rc, T), T, 0, st>>>(w.X, rc, w.scal);

    float *X = w.X, *Y = w.Y;
    for (int it = 0; it < ns_steps; it++) {
        const float *abc = polar_coeffs[it < 5 ? it : 4];
        muon_gemm(ctx, ct, 1, m, m, n, X, X, w.A);     /* A = X X^T */
        muon_gemm(ctx, ct, 0, m, m, m, w.A, w.A, w.B); /* B = A A */
        muon_poly_kernel<<<sw_cuda_blocks(mm, T), T, 0, st>>>(w.B, w.A, mm, abc[1], abc[2]);
        muon_gemm(ctx, ct, 0, m, n, m, w.B, X, Y); /* Y = B X */
        muon_axpy_kernel<<<sw_cuda_blocks(rc, T), T, 0, st>>>(Y, X, rc, abc[0]);
        float *tmp = X;
        X = Y;
        Y = tmp;
    }
    float *O = X;
    if (tall) {
        muon_transpose_kernel<<<sw_cuda_blocks(rc, T), T, 0, st>>>(Y, X, rows, cols);
        O = Y;
    }

    int per_row = rows >= cols;
    int nred = per_row ? rows : cols, red = per_row ? cols : rows;
    if (per_row)
        muon_rowsq_kernel<<<rows, T, 0, st>>>(w.scale, O, cols);
    else
        muon_colsq_kernel<<<sw_cuda_blocks((size_t)cols, T), T, 0, st>>>(w.scale, O, rows, cols);
    muon_var_kernel<<<sw_cuda_blocks((size_t)nred, T), T, 0, st>>>(w.scale, var, w.t, w.u, nred,
                                                                   red, beta2);
    muon_ratio_kernel<<<1, T, 0, st>>>(w.scal, w.t, w.u, nred);
    muon_apply_kernel<<<sw_cuda_blocks(rc, T), T, 0, st>>>(p, O, w.scale, w.scal, rows, cols, lr,
                                                           wd);
    sw_cuda_op_end(ctx);
}

void sw_cuda_muon_update(float *p, const float *g, float *mom, float *var, float *work, int rows,
                         int cols, float momentum, float lr, float wd, float beta2, int ns_steps)
{
    muon_update(CUBLAS_COMPUTE_32F, p, g, mom, var, work, rows, cols, momentum, lr, wd, beta2,
                ns_steps);
}

void sw_cuda_muon_update_bf16(float *p, const float *g, float *mom, float *var, float *work,
                              int rows, int cols, float momentum, float lr, float wd, float beta2,
                              int ns_steps)
{
    muon_update(CUBLAS_COMPUTE_32F_FAST_16BF, p, g, mom, var, work, rows, cols, momentum, lr, wd,
                beta2, ns_steps);
}

/* ---- soft cap ------------------------------------------------------------------------------ */

__global__ static void softcap_kernel(float *x, size_t n, float cap, float inv)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] = cap * tanhf(x[i] * inv);
}

void sw_cuda_softcap(float *x, size_t n, float cap)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    softcap_kernel<<<sw_cuda_blocks(n, 256), 256, 0, ctx->stream>>>(x, n, cap, 1.0f / cap);
    sw_cuda_op_end(ctx);
}
