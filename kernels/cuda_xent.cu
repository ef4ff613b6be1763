/* cuda_xent.cu - soft-capped logits and cross-entropy, fused (CPU reference and the math:
 * cpu_xent.c). The [N, V] logits written by the lm_head product are the only B×T×V fp32
 * array: forward caps them in place (z) while it accumulates an online log-sum-exp, one block
 * per row; backward turns z into the gradient in place. Nothing else of that size exists.
 *
 * The summed loss is taken in double in row order on the host, as the CPU does, so it is
 * deterministic; the online max/sum differs from the CPU's two passes only in rounding.
 */
#include <math.h>

#include "kernels/cuda_common.cuh"

enum { XENT_THREADS = 512 };

/* Combines two (max, sum of exp(x - max)) pairs. */
static __device__ __forceinline__ void lse_combine(float &m, float &s, float m2, float s2)
{
    float M = fmaxf(m, m2);
    if (M == -INFINITY)
        return; /* both empty */
    s = s * expf(m - M) + s2 * expf(m2 - M);
    m = M;
}

__global__ static void xent_forward_kernel(float *logits, float *lse, double *rowloss,
                                           const int32_t *targets, int V, float softcap)
{
    __shared__ float sm[XENT_THREADS], ss[XENT_THREADS];
    int n = blockIdx.x;
    float *z = logits + (size_t)n * V;
    float m = -INFINITY, s = 0.0f;
    float inv = softcap > 0.0f ? 1.0f / softcap : 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float x = z[j];
        if (softcap > 0.0f) {
            x = softcap * tanhf(x * inv);
            z[j] = x;
        }
        if (x > m) {
            s = s * expf(m - x) + 1.0f;
            m = x;
        } else {
            s += expf(x - m);
        }
    }
    sm[threadIdx.x] = m;
    ss[threadIdx.x] = s;
    __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) {
            float m1 = sm[threadIdx.x], s1 = ss[threadIdx.x];
            lse_combine(m1, s1, sm[threadIdx.x + k], ss[threadIdx.x + k]);
            sm[threadIdx.x] = m1;
            ss[threadIdx.x] = s1;
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        float l = sm[0] + logf(ss[0]);
        lse[n] = l;
        rowloss[n] = (double)l - (double)z[targets[n]];
    }
}

double sw_cuda_xent_forward(float *logits, float *lse, const int32_t *targets, int N, int V,
                            float softcap)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    const int32_t *tg = sw_cuda_stage_tokens(ctx, targets, N);
    double *rowloss = (double *)sw_cuda_scratch(ctx, (size_t)N * sizeof(double));
    double *host = (double *)sw_cuda_host_red(ctx, (size_t)N * sizeof(double));
    xent_forward_kernel<<<N, XENT_THREADS, 0, ctx->stream>>>(logits, lse, rowloss, tg, V, softcap);
    SW_CUDA_CHECK(cudaGetLastError());
    SW_CUDA_CHECK(cudaMemcpyAsync(host, rowloss, (size_t)N * sizeof(double), cudaMemcpyDeviceToHost,
                                  ctx->stream));
    SW_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
    double total = 0.0;
    for (int n = 0; n < N; n++)
        total += host[n];
    return total;
}

/* z_j -> scale · (softmax(z)_j - [j == t]) · (1 - (z_j / cap)^2) */
__global__ static void xent_backward_kernel(float *logits, const float *lse, const int32_t *targets,
                                            int V, float softcap, float scale)
{
    int n = blockIdx.x, t = targets[n];
    float *z = logits + (size_t)n * V;
    float l = lse[n], inv = softcap > 0.0f ? 1.0f / softcap : 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float zj = z[j], g = scale * expf(zj - l);
        float dcap = 1.0f;
        if (softcap > 0.0f) {
            float zc = zj * inv;
            dcap = 1.0f - zc * zc;
            g *= dcap;
        }
        if (j == t)
            g -= scale * dcap;
        z[j] = g;
    }
}

void sw_cuda_xent_backward(float *logits, const float *lse, const int32_t *targets, int N, int V,
                           float softcap, float scale)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    const int32_t *tg = sw_cuda_stage_tokens(ctx, targets, N);
    xent_backward_kernel<<<N, XENT_THREADS, 0, ctx->stream>>>(logits, lse, tg, V, softcap, scale);
    sw_cuda_op_end(ctx);
}
