/* cpu_xent.c - soft-capped logits and cross-entropy, fused so the [N, V] logits are read and
 * written as few times as possible (at GPT-2's vocabulary they are the largest activation).
 *
 * Forward, per row: z = cap·tanh(l/cap), lse = log sum_j exp(z_j), loss = lse - z[target].
 * Backward, per row: dl_j = scale · (softmax(z)_j - [j == target]) · (1 - (z_j/cap)^2), the
 * last factor being d z / d l (tanh' = 1 - tanh^2).
 */
#include <math.h>

#include "kernels/cpu_ops.h"
#include "kernels/fastmath.h"

/* One row: caps z[V] in place and returns logsumexp(z). */
SW_VECTOR_CLONES static float xent_row_forward(float *z, int V, float softcap)
{
    float mx = -INFINITY;
    if (softcap > 0.0f) {
        float inv = 1.0f / softcap;
#pragma omp simd reduction(max : mx)
        for (int j = 0; j < V; j++) {
            z[j] = softcap * sw_tanhf(z[j] * inv);
            mx = z[j] > mx ? z[j] : mx;
        }
    } else {
#pragma omp simd reduction(max : mx)
        for (int j = 0; j < V; j++)
            mx = z[j] > mx ? z[j] : mx;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < V; j++)
        sum += sw_expf(z[j] - mx);
    return mx + logf(sum);
}

double sw_cpu_xent_forward(float *logits, float *lse, const int32_t *targets, int N, int V,
                           float softcap)
{
#pragma omp parallel for schedule(static) num_threads(sw_cpu_threads())
    for (int n = 0; n < N; n++)
        lse[n] = xent_row_forward(logits + (size_t)n * V, V, softcap);
    double total = 0.0; /* serial, in row order: deterministic */
    for (int n = 0; n < N; n++)
        total += (double)lse[n] - (double)logits[(size_t)n * V + targets[n]];
    return total;
}

/* One row: z[V] becomes scale · (softmax - onehot(t)) · dz/dl. */
SW_VECTOR_CLONES static void xent_row_backward(float *z, int V, float lse, int t, float softcap,
                                               float scale)
{
    if (softcap > 0.0f) {
        float inv = 1.0f / softcap;
        float zt = z[t] * inv, dcap_t = 1.0f - zt * zt;
#pragma omp simd
        for (int j = 0; j < V; j++) {
            float zc = z[j] * inv;
            z[j] = scale * sw_expf(z[j] - lse) * (1.0f - zc * zc);
        }
        z[t] -= scale * dcap_t;
    } else {
#pragma omp simd
        for (int j = 0; j < V; j++)
            z[j] = scale * sw_expf(z[j] - lse);
        z[t] -= scale;
    }
}

void sw_cpu_xent_backward(float *logits, const float *lse, const int32_t *targets, int N, int V,
                          float softcap, float scale)
{
#pragma omp parallel for schedule(static) num_threads(sw_cpu_threads())
    for (int n = 0; n < N; n++)
        xent_row_backward(logits + (size_t)n * V, V, lse[n], targets[n], softcap, scale);
}
