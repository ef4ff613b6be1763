/* cuda_norm.cu - RMSNorm of the residual stream, and rotary embedding + per-head RMSNorm of
 * the queries and keys, forward and backward (CPU reference and the math: cpu_norm.c).
 * One warp per row (RMSNorm) or per head vector (rotary + QK norm); sums in fp32 with a
 * warp shuffle tree.
 */
#include "kernels/cuda_common.cuh"

static __device__ __forceinline__ float warp_sum(float s)
{
    for (int o = 16; o > 0; o >>= 1)
        s += __shfl_xor_sync(0xffffffffu, s, o);
    return s;
}

enum { WARPS_PER_BLOCK = 8 };

__global__ static void rmsnorm_forward_kernel(float *out, float *rstd, const float *x, int N, int C)
{
    int row = blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N)
        return;
    const float *xr = x + (size_t)row * C;
    float *yr = out + (size_t)row * C;
    float ss = 0.0f;
    for (int c = lane; c < C; c += 32)
        ss += xr[c] * xr[c];
    ss = warp_sum(ss);
    float r = 1.0f / sqrtf(ss / (float)C + SW_CUDA_RMS_EPS);
    for (int c = lane; c < C; c += 32)
        yr[c] = xr[c] * r;
    if (lane == 0)
        rstd[row] = r;
}

void sw_cuda_rmsnorm_forward(float *out, float *rstd, const float *x, int N, int C)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    rmsnorm_forward_kernel<<<sw_cuda_blocks(N, WARPS_PER_BLOCK), WARPS_PER_BLOCK * 32, 0,
                             ctx->stream>>>(out, rstd, x, N, C);
    sw_cuda_op_end(ctx);
}

/* dx += r · (dy - y · mean(dy · y)) */
__global__ static void rmsnorm_backward_kernel(float *dx, const float *dout, const float *out,
                                               const float *rstd, int N, int C)
{
    int row = blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N)
        return;
    const float *dy = dout + (size_t)row * C, *y = out + (size_t)row * C;
    float *d = dx + (size_t)row * C;
    float dot = 0.0f;
    for (int c = lane; c < C; c += 32)
        dot += dy[c] * y[c];
    dot = warp_sum(dot);
    float mean = dot / (float)C, r = rstd[row];
    for (int c = lane; c < C; c += 32)
        d[c] += r * (dy[c] - y[c] * mean);
}

void sw_cuda_rmsnorm_backward(float *dx, const float *dout, const float *out, const float *rstd,
                              int N, int C)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    rmsnorm_backward_kernel<<<sw_cuda_blocks(N, WARPS_PER_BLOCK), WARPS_PER_BLOCK * 32, 0,
                              ctx->stream>>>(dx, dout, out, rstd, N, C);
    sw_cuda_op_end(ctx);
}

/* One warp per (row n, head h, q or k): rotate the pairs (x[i], x[i + hd/2]) by the table row
 * of position n % T, then RMS-normalise the head vector. */
__global__ static void rope_qknorm_forward_kernel(float *qn, float *kn, float *rstd_q,
                                                  float *rstd_k, const float *qkv, const float *cos,
                                                  const float *sin, int N, int T, int C, int H)
{
    int w = blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (w >= 2 * N * H)
        return;
    int which = w % 2, nh = w / 2, n = nh / H, h = nh % H; /* which: 0 = q, 1 = k */
    int hd = C / H, half = hd / 2, t = n % T;
    const float *src = qkv + (size_t)n * 3 * C + (size_t)which * C + h * hd;
    float *dst = (which ? kn : qn) + (size_t)n * C + h * hd;
    const float *cs = cos + (size_t)t * half, *sn = sin + (size_t)t * half;
    float ss = 0.0f;
    for (int i = lane; i < half; i += 32) {
        float x1 = src[i], x2 = src[i + half];
        float y1 = x1 * cs[i] + x2 * sn[i], y2 = -x1 * sn[i] + x2 * cs[i];
        ss += y1 * y1 + y2 * y2;
    }
    ss = warp_sum(ss);
    float r = 1.0f / sqrtf(ss / (float)hd + SW_CUDA_RMS_EPS);
    for (int i = lane; i < half; i += 32) {
        float x1 = src[i], x2 = src[i + half];
        dst[i] = (x1 * cs[i] + x2 * sn[i]) * r;
        dst[i + half] = (-x1 * sn[i] + x2 * cs[i]) * r;
    }
    if (lane == 0)
        (which ? rstd_k : rstd_q)[(size_t)n * H + h] = r;
}

void sw_cuda_rope_qknorm_forward(float *qn, float *kn, float *rstd_q, float *rstd_k,
                                 const float *qkv, const float *cos, const float *sin, int B, int T,
                                 int C, int H)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    int N = B * T;
    rope_qknorm_forward_kernel<<<sw_cuda_blocks((size_t)2 * N * H, WARPS_PER_BLOCK),
                                 WARPS_PER_BLOCK * 32, 0, ctx->stream>>>(qn, kn, rstd_q, rstd_k,
                                                                         qkv, cos, sin, N, T, C, H);
    sw_cuda_op_end(ctx);
}

/* Through the norm (g = r (dy - y mean(dy y))), then the transposed rotation. */
__global__ static void rope_qknorm_backward_kernel(float *dqkv, const float *dqn, const float *dkn,
                                                   const float *qn, const float *kn,
                                                   const float *rstd_q, const float *rstd_k,
                                                   const float *cos, const float *sin, int N, int T,
                                                   int C, int H)
{
    int w = blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (w >= 2 * N * H)
        return;
    int which = w % 2, nh = w / 2, n = nh / H, h = nh % H;
    int hd = C / H, half = hd / 2, t = n % T;
    size_t o = (size_t)n * C + h * hd;
    const float *dy = (which ? dkn : dqn) + o, *y = (which ? kn : qn) + o;
    float r = (which ? rstd_k : rstd_q)[(size_t)n * H + h];
    float *dst = dqkv + (size_t)n * 3 * C + (size_t)which * C + h * hd;
    const float *cs = cos + (size_t)t * half, *sn = sin + (size_t)t * half;
    float dot = 0.0f;
    for (int i = lane; i < hd; i += 32)
        dot += dy[i] * y[i];
    dot = warp_sum(dot);
    float mean = dot / (float)hd;
    for (int i = lane; i < half; i += 32) {
        float g1 = r * (dy[i] - y[i] * mean);
        float g2 = r * (dy[i + half] - y[i + half] * mean);
        dst[i] = g1 * cs[i] - g2 * sn[i];
        dst[i + half] = g1 * sn[i] + g2 * cs[i];
    }
}

void sw_cuda_rope_qknorm_backward(float *dqkv, const float *dqn, const float *dkn, const float *qn,
                                  const float *kn, const float *rstd_q, const float *rstd_k,
                                  const float *cos, const float *sin, int B, int T, int C, int H)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    int N = B * T;
    rope_qknorm_backward_kernel<<<sw_cuda_blocks((size_t)2 * N * H, WARPS_PER_BLOCK),
                                  WARPS_PER_BLOCK * 32, 0, ctx->stream>>>(
        dqkv, dqn, dkn, qn, kn, rstd_q, rstd_k, cos, sin, N, T, C, H);
    sw_cuda_op_end(ctx);
}
