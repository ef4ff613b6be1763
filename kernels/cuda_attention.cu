/* cuda_attention.cu - causal softmax attention, flash-style: no T×T matrix is formed
 * (CPU reference and the math: cpu_attention.c).
 *
 * Layout of the work: four threads per row (query row in the forward and dq kernels, key row
 * in the dk/dv kernel) split the head dimension (thread `sub` owns dims sub, sub+4, ...) and
 * combine their partial dot products with two warp shuffles; ROWS rows per block; keys (or
 * queries) stream through shared memory in tiles of TILE rows.
 *
 * Forward, per query row i: an online softmax over key tiles (running max m, running sum l,
 * running output rescaled when the max grows), y_i = acc / l, and the row's log-sum-exp
 * L_i = m + log l. The model's att[B,H,T,T] argument is not used as probabilities: its first
 * B·H·T floats receive L (and, when T > hd, the next B·T·C floats a copy of y), which the
 * backward pass reads. backward recomputes p_ij = exp(s_ij - L_i) tile by tile:
 *   D_i = dy_i · y_i (= sum_j p_ij dp_ij),  ds_ij = p_ij (dy_i · v_j - D_i),
 *   dv_j = sum_i p_ij dy_i,  dk_j = scale sum_i ds_ij q_i   (one pass over key rows),
 *   dq_i = scale sum_j ds_ij k_j                             (one pass over query rows),
 * two passes instead of atomics, so the result is deterministic.
 * Precision: fp32 throughout (CUDA cores, not tensor cores). Head sizes: even, up to 128.
 */
#include <math.h>
#include <stdio.h>

#include "kernels/cuda_common.cuh"

enum { ROWS = 32, TILE = 32, CHUNK = 8, THREADS = ROWS * 4, MAX_HD = 128 };

/* Sum over the four threads of a row (lanes 4r .. 4r+3 of a warp). */
static __device__ __forceinline__ float quad_sum(float s)
{
    s += __shfl_xor_sync(0xffffffffu, s, 1);
    s += __shfl_xor_sync(0xffffffffu, s, 2);
    return s;
}

/* Loads rows r0 .. r0+TILE-1 (those < T) of one head of a [B·T, stride] array into sh[TILE·hd];
 * rows past T become zeros. */
static __device__ __forceinline__ void load_tile(float *sh, const float *src, int stride, int r0,
                                                 int T, int hd)
{
    for (int idx = threadIdx.x; idx < TILE * hd; idx += blockDim.x) {
        int rr = idx / hd, d = idx % hd, r = r0 + rr;
        sh[idx] = r < T ? src[(size_t)r * stride + d] : 0.0f;
    }
}

template <int DPT>
__global__ static void __launch_bounds__(THREADS)
    flash_forward_kernel(float *y, float *lse, float *ycopy, const float *q, const float *k,
                         const float *v, int v_stride, int T, int C, int H, float scale)
{
    extern __shared__ float sh[];
    int hd = C / H, bh = blockIdx.y, b = bh / H, h = bh % H;
    float *Ks = sh, *Vs = sh + TILE * hd;
    int r = threadIdx.x / 4, sub = threadIdx.x % 4, i = blockIdx.x * ROWS + r;
    int valid = i < T;
    const float *qb = q + (size_t)b * T * C + h * hd, *kb = k + (size_t)b * T * C + h * hd;
    const float *vb = v + (size_t)b * T * v_stride + h * hd;
    float qr[DPT], acc[DPT];
#pragma unroll
    for (int kk = 0; kk < DPT; kk++) {
        int d = sub + 4 * kk;
        qr[kk] = valid && d < hd ? qb[(size_t)i * C + d] * scale : 0.0f;
        acc[kk] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    int last = min(T - 1, (int)blockIdx.x * ROWS + ROWS - 1);
    for (int j0 = 0; j0 <= last; j0 += TILE) {
        __syncthreads();
        load_tile(Ks, kb, C, j0, T, hd);
        load_tile(Vs, vb, v_stride, j0, T, hd);
        __syncthreads();
        /* Eight keys at a time: their scores stay in registers, one rescale per chunk. */
#pragma unroll 1
        for (int c0 = 0; c0 < TILE; c0 += CHUNK) {
            float s[CHUNK], mt = -INFINITY;
#pragma unroll
            for (int jj = 0; jj < CHUNK; jj++) {
                float part = 0.0f;
#pragma unroll
                for (int kk = 0; kk < DPT; kk++) {
                    int d = sub + 4 * kk;
                    if (d < hd)
                        part += qr[kk] * Ks[(c0 + jj) * hd + d];
                }
                part = quad_sum(part);
                s[jj] = j0 + c0 + jj <= i ? part : -INFINITY;
                mt = fmaxf(mt, s[jj]);
            }
            float mn = fmaxf(m, mt);
            if (mn == -INFINITY)
                continue; /* a row past T, or no key of this chunk visible yet */
            float corr = expf(m - mn);
            l *= corr;
#pragma unroll
            for (int kk = 0; kk < DPT; kk++)
                acc[kk] *= corr;
#pragma unroll
            for (int jj = 0; jj < CHUNK; jj++) {
                float p = expf(s[jj] - mn);
                l += p;
#pragma unroll
                for (int kk = 0; kk < DPT; kk++) {
                    int d = sub + 4 * kk;
                    if (d < hd)
                        acc[kk] += p * Vs[(c0 + jj) * hd + d];
                }
            }
            m = mn;
        }
    }
    if (!valid)
        return;
    float inv = 1.0f / l;
    size_t o = ((size_t)b * T + i) * C + h * hd;
#pragma unroll
    for (int kk = 0; kk < DPT; kk++) {
        int d = sub + 4 * kk;
        if (d < hd) {
            y[o + d] = acc[kk] * inv;
            if (ycopy)
                ycopy[o + d] = acc[kk] * inv;
        }
    }
    if (sub == 0)
        lse[(size_t)bh * T + i] = m + logf(l);
}

/* D[bh·T + i] = dy_i · y_i over the head's dims; one warp per (b, i, h). */
__global__ static void rowdot_kernel(float *D, const float *dy, const float *y, int B, int T, int C,
                                     int H)
{
    int w = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (w >= B * T * H)
        return;
    int hd = C / H, h = w % H, bt = w / H, b = bt / T, i = bt % T;
    size_t o = (size_t)bt * C + h * hd;
    float s = 0.0f;
    for (int d = lane; d < hd; d += 32)
        s += dy[o + d] * y[o + d];
    for (int off = 16; off > 0; off >>= 1)
        s += __shfl_xor_sync(0xffffffffu, s, off);
    if (lane == 0)
        D[((size_t)b * H + h) * T + i] = s;
}

/* dk, dv for ROWS key rows per block; queries i >= j stream through shared memory. */
template <int DPT>
__global__ static void __launch_bounds__(THREADS)
    flash_dkdv_kernel(float *dk, float *dv, int v_stride, const float *dy, const float *lse,
                      const float *D, const float *q, const float *k, const float *v, int T, int C,
                      int H, float scale)
{
    extern __shared__ float sh[];
    int hd = C / H, bh = blockIdx.y, b = bh / H, h = bh % H;
    float *Qs = sh, *Ys = sh + TILE * hd, *Ls = sh + 2 * TILE * hd, *Ds = Ls + TILE;
    int r = threadIdx.x / 4, sub = threadIdx.x % 4, j = blockIdx.x * ROWS + r;
    int valid = j < T;
    size_t base = (size_t)b * T * C + h * hd;
    const float *vb = v + (size_t)b * T * v_stride + h * hd;
    float kr[DPT], vr[DPT], gk[DPT], gv[DPT];
#pragma unroll
    for (int kk = 0; kk < DPT; kk++) {
        int d = sub + 4 * kk;
        kr[kk] = valid && d < hd ? k[base + (size_t)j * C + d] : 0.0f;
        vr[kk] = valid && d < hd ? vb[(size_t)j * v_stride + d] : 0.0f;
        gk[kk] = gv[kk] = 0.0f;
    }
    for (int i0 = blockIdx.x * ROWS; i0 < T; i0 += TILE) {
        __syncthreads();
        load_tile(Qs, q + base, C, i0, T, hd);
        load_tile(Ys, dy + base, C, i0, T, hd);
        for (int idx = threadIdx.x; idx < TILE; idx += blockDim.x) {
            int i = i0 + idx;
            Ls[idx] = i < T ? lse[(size_t)bh * T + i] : 0.0f;
            Ds[idx] = i < T ? D[(size_t)bh * T + i] : 0.0f;
        }
        __syncthreads();
#pragma unroll 2
        for (int ii = 0; ii < TILE; ii++) {
            float sp = 0.0f, dp = 0.0f;
#pragma unroll
            for (int kk = 0; kk < DPT; kk++) {
                int d = sub + 4 * kk;
                if (d < hd) {
                    sp += kr[kk] * Qs[ii * hd + d];
                    dp += vr[kk] * Ys[ii * hd + d];
                }
            }
            sp = quad_sum(sp);
            dp = quad_sum(dp);
            int i = i0 + ii;
            float p = valid && i < T && i >= j ? expf(sp * scale - Ls[ii]) : 0.0f;
            float ds = p * (dp - Ds[ii]);
#pragma unroll
            for (int kk = 0; kk < DPT; kk++) {
                int d = sub + 4 * kk;
                if (d < hd) {
                    gv[kk] += p * Ys[ii * hd + d];
                    gk[kk] += ds * Qs[ii * hd + d];
                }
            }
        }
    }
    if (!valid)
        return;
#pragma unroll
    for (int kk = 0; kk < DPT; kk++) {
        int d = sub + 4 * kk;
        if (d < hd) {
            dk[base + (size_t)j * C + d] = gk[kk] * scale;
            dv[(size_t)b * T * v_stride + h * hd + (size_t)j * v_stride + d] = gv[kk];
        }
    }
}

/* dq for ROWS query rows per block; keys j <= i stream through shared memory. */
template <int DPT>
__global__ static void __launch_bounds__(THREADS)
    flash_dq_kernel(float *dq, const float *dy, const float *lse, const float *D, const float *q,
                    const float *k, const float *v, int v_stride, int T, int C, int H, float scale)
{
    extern __shared__ float sh[];
    int hd = C / H, bh = blockIdx.y, b = bh / H, h = bh % H;
    float *Ks = sh, *Vs = sh + TILE * hd;
    int r = threadIdx.x / 4, sub = threadIdx.x % 4, i = blockIdx.x * ROWS + r;
    int valid = i < T;
    size_t base = (size_t)b * T * C + h * hd;
    const float *vb = v + (size_t)b * T * v_stride + h * hd;
    float qr[DPT], yr[DPT], g[DPT];
#pragma unroll
    for (int kk = 0; kk < DPT; kk++) {
        int d = sub + 4 * kk;
        qr[kk] = valid && d < hd ? q[base + (size_t)i * C + d] : 0.0f;
        yr[kk] = valid && d < hd ? dy[base + (size_t)i * C + d] : 0.0f;
        g[kk] = 0.0f;
    }
    float L = valid ? lse[(size_t)bh * T + i] : 0.0f, Dv = valid ? D[(size_t)bh * T + i] : 0.0f;
    int last = min(T - 1, (int)blockIdx.x * ROWS + ROWS - 1);
    for (int j0 = 0; j0 <= last; j0 += TILE) {
        __syncthreads();
        load_tile(Ks, k + base, C, j0, T, hd);
        load_tile(Vs, vb, v_stride, j0, T, hd);
        __syncthreads();
#pragma unroll 2
        for (int jj = 0; jj < TILE; jj++) {
            float sp = 0.0f, dp = 0.0f;
#pragma unroll
            for (int kk = 0; kk < DPT; kk++) {
                int d = sub + 4 * kk;
                if (d < hd) {
                    sp += qr[kk] * Ks[jj * hd + d];
                    dp += yr[kk] * Vs[jj * hd + d];
                }
            }
            sp = quad_sum(sp);
            dp = quad_sum(dp);
            int j = j0 + jj;
            float p = valid && j <= i ? expf(sp * scale - L) : 0.0f;
            float ds = p * (dp - Dv);
#pragma unroll
            for (int kk = 0; kk < DPT; kk++) {
                int d = sub + 4 * kk;
                if (d < hd)
                    g[kk] += ds * Ks[jj * hd + d];
            }
        }
    }
    if (!valid)
        return;
#pragma unroll
    for (int kk = 0; kk < DPT; kk++) {
        int d = sub + 4 * kk;
        if (d < hd)
            dq[base + (size_t)i * C + d] = g[kk] * scale;
    }
}

/* The smallest compiled dims-per-thread that holds hd/4 (rounded up). */
static int dpt_for(int hd)
{
    if (hd % 2 || hd > MAX_HD) {
        char msg[96];
        snprintf(msg, sizeof msg, "head size %d (need an even size <= %d)", hd, MAX_HD);
        sw_cuda_fatal("attention", msg, __FILE__, __LINE__);
    }
    int need = (hd + 3) / 4;
    return need <= 2 ? 2 : need <= 8 ? 8 : need <= 16 ? 16 : 32;
}

#define SW_DISPATCH_DPT(dpt, KERNEL, grid, smem, stream, ...)                                      \
    do {                                                                                           \
        switch (dpt) {                                                                             \
        case 2:                                                                                    \
            KERNEL<2><<<grid, THREADS, smem, stream>>>(__VA_ARGS__);                               \
            break;                                                                                 \
        case 8:                                                                                    \
            KERNEL<8><<<grid, THREADS, smem, stream>>>(__VA_ARGS__);                               \
            break;                                                                                 \
        case 16:                                                                                   \
            KERNEL<16><<<grid, THREADS, smem, stream>>>(__VA_ARGS__);                              \
            break;                                                                                 \
        default:                                                                                   \
            KERNEL<32><<<grid, THREADS, smem, stream>>>(__VA_ARGS__);                              \
            break;                                                                                 \
        }                                                                                          \
    } while (0)

/* Runs the forward kernel: y and L into the given arrays (ycopy optional). */
static void forward(sw_cuda_ctx *ctx, float *y, float *lse, float *ycopy, const float *qn,
                    const float *kn, const float *v, int v_stride, int B, int T, int C, int H)
{
    int hd = C / H, dpt = dpt_for(hd);
    dim3 grid((unsigned)((T + ROWS - 1) / ROWS), (unsigned)(B * H));
    size_t smem = 2 * TILE * (size_t)hd * sizeof(float);
    float scale = 1.0f / sqrtf((float)hd);
    SW_DISPATCH_DPT(dpt, flash_forward_kernel, grid, smem, ctx->stream, y, lse, ycopy, qn, kn, v,
                    v_stride, T, C, H, scale);
}

/* Whether att[B,H,T,T] has room for L [B·H·T] and a copy of y [B·T·C] after it. */
static int att_holds_y(int T, int C, int H)
{
    return (size_t)T * T * H >= (size_t)T * H + (size_t)T * C;
}

void sw_cuda_attention_forward(float *y, float *att, const float *qn, const float *kn,
                               const float *v, int v_stride, int B, int T, int C, int H)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    float *ycopy = att_holds_y(T, C, H) ? att + (size_t)B * H * T : NULL;
    forward(ctx, y, att, ycopy, qn, kn, v, v_stride, B, T, C, H);
    sw_cuda_op_end(ctx);
}

void sw_cuda_attention_backward(float *dqn, float *dkn, float *dv, int v_stride, const float *dy,
                                const float *att, const float *qn, const float *kn, const float *v,
                                int B, int T, int C, int H)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    int hd = C / H, dpt = dpt_for(hd);
    size_t bht = (size_t)B * H * T, nc = (size_t)B * T * C;
    const float *lse = att, *y;
    float *D;
    if (att_holds_y(T, C, H)) {
        y = att + bht;
        D = (float *)sw_cuda_scratch(ctx, bht * sizeof(float));
    } else { /* short sequences: recompute y (and L) into scratch */
        float *s = (float *)sw_cuda_scratch(ctx, (2 * bht + nc) * sizeof(float));
        D = s;
        float *l2 = s + bht, *y2 = s + 2 * bht;
        forward(ctx, y2, l2, NULL, qn, kn, v, v_stride, B, T, C, H);
        lse = l2;
        y = y2;
    }
    rowdot_kernel<<<sw_cuda_blocks(bht, 8), 256, 0, ctx->stream>>>(D, dy, y, B, T, C, H);
    dim3 grid((unsigned)((T + ROWS - 1) / ROWS), (unsigned)(B * H));
    float scale = 1.0f / sqrtf((float)hd);
    size_t smem_kv = (2 * TILE * (size_t)hd + 2 * TILE) * sizeof(float);
    SW_DISPATCH_DPT(dpt, flash_dkdv_kernel, grid, smem_kv, ctx->stream, dkn, dv, v_stride, dy, lse,
                    D, qn, kn, v, T, C, H, scale);
    size_t smem_q = 2 * TILE * (size_t)hd * sizeof(float);
    SW_DISPATCH_DPT(dpt, flash_dq_kernel, grid, smem_q, ctx->stream, dqn, dy, lse, D, qn, kn, v,
                    v_stride, T, C, H, scale);
    sw_cuda_op_end(ctx);
}
