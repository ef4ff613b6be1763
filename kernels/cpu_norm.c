/* cpu_norm.c - RMSNorm of the residual stream, and rotary embedding + per-head RMSNorm of the
 * queries and keys (nanochat's "QK norm"), forward and backward.
 *
 * RMSNorm without gain: y = x · r, r = 1/sqrt(mean(x^2) + eps). Its Jacobian applied to dy is
 *   dx = r · (dy - y · mean(dy · y)),
 * so backward needs only the output y and r, not x.
 * Rotary embedding rotates the pairs (x[i], x[i + hd/2]) of each head by the angle
 * t · base^(-2i/hd): y1 = x1 cos + x2 sin, y2 = -x1 sin + x2 cos. A rotation keeps the norm,
 * so the per-head RMSNorm that follows sees the same mean square; backward rotates back with
 * the transpose.
 */
#include <math.h>

#include "kernels/cpu_ops.h"

void sw_cpu_rmsnorm_forward(float *out, float *rstd, const float *x, int N, int C)
{
#pragma omp parallel for schedule(static) num_threads(sw_cpu_threads())
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *yr = out + (size_t)n * C;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int c = 0; c < C; c++)
            ss += xr[c] * xr[c];
        float r = 1.0f / sqrtf(ss / (float)C + SW_RMS_EPS);
        for (int c = 0; c < C; c++)
            yr[c] = xr[c] * r;
        rstd[n] = r;
    }
}

void sw_cpu_rmsnorm_backward(float *dx, const float *dout, const float *out, const float *rstd,
                             int N, int C)
{
#pragma omp parallel for schedule(static) num_threads(sw_cpu_threads())
    for (int n = 0; n < N; n++) {
        const float *dy = dout + (size_t)n * C, *y = out + (size_t)n * C;
        float *d = dx + (size_t)n * C;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int c = 0; c < C; c++)
            dot += dy[c] * y[c];
        float mean = dot / (float)C, r = rstd[n];
        for (int c = 0; c < C; c++)
            d[c] += r * (dy[c] - y[c] * mean);
    }
}

/* Rotates one head vector src[hd] at position table row (cs, sn) and RMS-normalises it into
 * dst; returns the reciprocal RMS. */
static float rope_norm_head(float *dst, const float *src, const float *cs, const float *sn, int hd)
{
    int half = hd / 2;
    float ss = 0.0f;
    for (int i = 0; i < half; i++) {
        float x1 = src[i], x2 = src[i + half];
        float y1 = x1 * cs[i] + x2 * sn[i], y2 = -x1 * sn[i] + x2 * cs[i];
        dst[i] = y1;
        dst[i + half] = y2;
        ss += y1 * y1 + y2 * y2;
    }
    float r = 1.0f / sqrtf(ss / (float)hd + SW_RMS_EPS);
    for (int i = 0; i < hd; i++)
        dst[i] *= r;
    return r;
}

void sw_cpu_rope_qknorm_forward(float *qn, float *kn, float *rstd_q, float *rstd_k,
                                const float *qkv, const float *cos, const float *sin, int B, int T,
                                int C, int H)
{
    int hd = C / H, half = hd / 2, N = B * T;
#pragma omp parallel for schedule(static) num_threads(sw_cpu_threads())
    for (int n = 0; n < N; n++) {
        int t = n % T;
        const float *cs = cos + (size_t)t * half, *sn = sin + (size_t)t * half;
        const float *row = qkv + (size_t)n * 3 * C;
        for (int h = 0; h < H; h++) {
            rstd_q[(size_t)n * H + h] =
                rope_norm_head(qn + (size_t)n * C + h * hd, row + h * hd, cs, sn, hd);
            rstd_k[(size_t)n * H + h] =
                rope_norm_head(kn + (size_t)n * C + h * hd, row + C + h * hd, cs, sn, hd);
        }
    }
}

/* Gradient of rope_norm_head: from dy (w.r.t. the normalised output y) to dst (w.r.t. the
 * unrotated input). */
static void rope_norm_head_backward(float *dst, const float *dy, const float *y, float r,
                                    const float *cs, const float *sn, int hd)
{
    int half = hd / 2;
    float dot = 0.0f;
    for (int i = 0; i < hd; i++)
        dot += dy[i] * y[i];
    float mean = dot / (float)hd;
    for (int i = 0; i < half; i++) {
        float g1 = r * (dy[i] - y[i] * mean);
        float g2 = r * (dy[i + half] - y[i + half] * mean);
        dst[i] = g1 * cs[i] - g2 * sn[i];
        dst[i + half] = g1 * sn[i] + g2 * cs[i];
    }
}

void sw_cpu_rope_qknorm_backward(float *dqkv, const float *dqn, const float *dkn, const float *qn,
                                 const float *kn, const float *rstd_q, const float *rstd_k,
                                 const float *cos, const float *sin, int B, int T, int C, int H)
{
    int hd = C / H, half = hd / 2, N = B * T;
#pragma omp parallel for schedule(static) num_threads(sw_cpu_threads())
    for (int n = 0; n < N; n++) {
        int t = n % T;
        const float *cs = cos + (size_t)t * half, *sn = sin + (size_t)t * half;
        float *row = dqkv + (size_t)n * 3 * C;
        for (int h = 0; h < H; h++) {
            size_t o = (size_t)n * C + h * hd;
            rope_norm_head_backward(row + h * hd, dqn + o, qn + o, rstd_q[(size_t)n * H + h], cs,
                                    sn, hd);
            rope_norm_head_backward(row + C + h * hd, dkn + o, kn + o, rstd_k[(size_t)n * H + h],
                                    cs, sn, hd);
        }
    }
}
