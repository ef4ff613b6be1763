/* cpu_attention.c - causal multi-head softmax attention on the CPU, forward and backward.
 *
 * Per batch row b and head h (one task each, so no two threads touch the same output):
 *   s_ij = q_i · k_j / sqrt(hd) for j <= i,  p_i = softmax(s_i),  y_i = sum_j p_ij v_j.
 * Backward, with dy the incoming gradient:
 *   dv_j = sum_i p_ij dy_i,  dp_ij = dy_i · v_j,  ds_ij = p_ij (dp_ij - sum_k p_ik dp_ik),
 *   dq_i = sum_j ds_ij k_j / sqrt(hd),  dk_j = sum_i ds_ij q_i / sqrt(hd).
 * The probabilities are kept from the forward pass (B·H·T² floats), which is cheap at the
 * short contexts the CPU trains with.
 * The per-(b, h) work lives in helpers with AVX-512 and AVX2 clones (SW_VECTOR_CLONES): the
 * OpenMP-outlined loop bodies would otherwise stay at the baseline SSE2 width.
 */
#include <math.h>
#include <string.h>

#include "kernels/cpu_ops.h"
#include "kernels/fastmath.h"

/* Forward of one batch row b and head h: probabilities into a[T, T], output rows into y. */
SW_VECTOR_CLONES static void attention_forward_head(float *y, float *a, const float *qn,
                                                    const float *kn, const float *v, int v_stride,
                                                    int b, int h, int T, int C, int hd, float scale)
{
    for (int i = 0; i < T; i++) {
        const float *q = qn + ((size_t)b * T + i) * C + h * hd;
        float *p = a + (size_t)i * T;
        float mx = -INFINITY;
        for (int j = 0; j <= i; j++) {
            const float *k = kn + ((size_t)b * T + j) * C + h * hd;
            float s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (int d = 0; d < hd; d++)
                s += q[d] * k[d];
            s *= scale;
            p[j] = s;
            mx = s > mx ? s : mx;
        }
        float sum = 0.0f;
        for (int j = 0; j <= i; j++) {
            p[j] = sw_expf(p[j] - mx);
            sum += p[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j <= i; j++)
            p[j] *= inv;
        for (int j = i + 1; j < T; j++)
            p[j] = 0.0f;
        float *yo = y + ((size_t)b * T + i) * C + h * hd;
        memset(yo, 0, (size_t)hd * sizeof(float));
        for (int j = 0; j <= i; j++) {
            const float *vv = v + ((size_t)b * T + j) * v_stride + h * hd;
            float pj = p[j];
#pragma omp simd
            for (int d = 0; d < hd; d++)
                yo[d] += pj * vv[d];
        }
    }
}

void sw_cpu_attention_forward(float *y, float *att, const float *qn, const float *kn,
                              const float *v, int v_stride, int B, int T, int C, int H)
{
    int hd = C / H;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static) num_threads(sw_cpu_threads())
    for (int bh = 0; bh < B * H; bh++)
        attention_forward_head(y, att + (size_t)bh * T * T, qn, kn, v, v_stride, bh / H, bh % H, T,
                               C, hd, scale);
}

/* Backward of one batch row b and head h; dp is T floats of scratch. */
SW_VECTOR_CLONES static void attention_backward_head(float *dqn, float *dkn, float *dv,
                                                     int v_stride, const float *dy, const float *a,
                                                     const float *qn, const float *kn,
                                                     const float *v, float *dp, int b, int h, int T,
                                                     int C, int hd, float scale)
{
    for (int t = 0; t < T; t++) {
        memset(dkn + ((size_t)b * T + t) * C + h * hd, 0, (size_t)hd * sizeof(float));
        memset(dv + ((size_t)b * T + t) * v_stride + h * hd, 0, (size_t)hd * sizeof(float));
    }
    for (int i = 0; i < T; i++) {
        const float *p = a + (size_t)i * T;
        const float *dyi = dy + ((size_t)b * T + i) * C + h * hd;
        const float *qi = qn + ((size_t)b * T + i) * C + h * hd;
        float *dqi = dqn + ((size_t)b * T + i) * C + h * hd;
        float rowdot = 0.0f;
        for (int j = 0; j <= i; j++) {
            const float *vj = v + ((size_t)b * T + j) * v_stride + h * hd;
            float *dvj = dv + ((size_t)b * T + j) * v_stride + h * hd;
            float s = 0.0f, pj = p[j];
#pragma omp simd reduction(+ : s)
            for (int d = 0; d < hd; d++) {
                s += dyi[d] * vj[d];
                dvj[d] += pj * dyi[d];
            }
            dp[j] = s;
            rowdot += pj * s;
        }
        memset(dqi, 0, (size_t)hd * sizeof(float));
        for (int j = 0; j <= i; j++) {
            float ds = p[j] * (dp[j] - rowdot) * scale;
            const float *kj = kn + ((size_t)b * T + j) * C + h * hd;
            float *dkj = dkn + ((size_t)b * T + j) * C + h * hd;
#pragma omp simd
            for (int d = 0; d < hd; d++) {
                dqi[d] += ds * kj[d];
                dkj[d] += ds * qi[d];
            }
        }
    }
}

void sw_cpu_attention_backward(float *dqn, float *dkn, float *dv, int v_stride, const float *dy,
                               const float *att, const float *qn, const float *kn, const float *v,
                               int B, int T, int C, int H)
{
    int hd = C / H;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel num_threads(sw_cpu_threads())
    {
        float dp[T > 0 ? T : 1];
#pragma omp for schedule(static)
        for (int bh = 0; bh < B * H; bh++)
            attention_backward_head(dqn, dkn, dv, v_stride, dy, att + (size_t)bh * T * T, qn, kn, v,
                                    dp, bh / H, bh % H, T, C, hd, scale);
    }
}
