/* cpu_backend.c - the CPU backend's table, thread control and its simple elementwise
 * operations (embedding, relu^2, reductions, AdamW). Heavier kernels live in cpu_matmul.c,
 * cpu_norm.c, cpu_attention.c and cpu_xent.c.
 *
 * Determinism: every parallel loop uses a static schedule and every reduction is summed per
 * fixed chunk and then in chunk order, so a run repeats bit for bit at a fixed thread count.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu_ops.h"

/* OpenBLAS's thread control (declared here to avoid depending on which cblas.h is found). */
void openblas_set_num_threads(int num_threads);

static int g_threads = 0; /* 0: not yet chosen; the first use picks 1 */

void sw_backend_cpu_set_threads(int k)
{
    if (k < 1)
        k = 1;
    g_threads = k;
    omp_set_num_threads(k);
    /* OpenBLAS runs single-threaded inside OpenMP-parallel blocks (cpu_gemm.c). */
    openblas_set_num_threads(1);
}

int sw_cpu_threads(void)
{
    if (g_threads == 0)
        sw_backend_cpu_set_threads(1);
    return g_threads;
}

int sw_backend_cpu_threads(void)
{
    return sw_cpu_threads();
}

static void *cpu_alloc(size_t bytes)
{
    /* 64-byte alignment keeps rows on cache lines and suits 256/512-bit vector loads. */
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p)
        memset(p, 0, rounded ? rounded : 64);
    return p;
}

static void cpu_free(void *p)
{
    free(p);
}

void sw_cpu_embed_forward(float *out, const int32_t *tokens, const float *wte, int N, int C)
{
#pragma omp parallel for schedule(static) num_threads(sw_cpu_threads())
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * C, wte + (size_t)tokens[n] * C, (size_t)C * sizeof(float));
}

void sw_cpu_embed_backward(float *dwte, const float *dout, const int32_t *tokens, int N, int C)
{
    /* Threads split the columns, not the rows: two rows with the same token then never race,
     * and each column is summed in row order whatever the thread count. */
    int nt = sw_cpu_threads();
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        int c0 = (int)((long)C * t / k), c1 = (int)((long)C * (t + 1) / k);
        for (int n = 0; n < N; n++) {
            float *dst = dwte + (size_t)tokens[n] * C;
            const float *src = dout + (size_t)n * C;
            for (int c = c0; c < c1; c++)
                dst[c] += src[c];
        }
    }
}

void sw_cpu_relu2_forward(float *a, const float *h, size_t n)
{
#pragma omp parallel for simd schedule(static) num_threads(sw_cpu_threads())
    for (size_t i = 0; i < n; i++) {
        float r = h[i] > 0.0f ? h[i] : 0.0f;
        a[i] = r * r;
    }
}

void sw_cpu_relu2_backward(float *dh, const float *da, const float *h, size_t n)
{
#pragma omp parallel for simd schedule(static) num_threads(sw_cpu_threads())
    for (size_t i = 0; i < n; i++) {
        float r = h[i] > 0.0f ? h[i] : 0.0f;
        dh[i] = 2.0f * r * da[i];
    }
}

/* Chunks of a fixed size, summed in chunk order: the result does not even depend on the
 * thread count. */
enum { SUM_CHUNK = 1 << 16 };

double sw_cpu_sum_squares(const float *x, size_t n)
{
    size_t nchunks = (n + SUM_CHUNK - 1) / SUM_CHUNK;
    if (nchunks == 0)
        return 0.0;
    double *part = malloc(nchunks * sizeof(double));
    if (!part) { /* fall back to a serial sum; same order, no scratch needed */
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += (double)x[i] * x[i];
        return s;
    }
#pragma omp parallel for schedule(static) num_threads(sw_cpu_threads())
    for (size_t c = 0; c < nchunks; c++) {
        size_t i0 = c * SUM_CHUNK, i1 = i0 + SUM_CHUNK < n ? i0 + SUM_CHUNK : n;
        float acc[8] = {0};
        /* Eight float lanes of at most 8192 terms each, then double: fast and accurate. */
        size_t i = i0;
        for (; i + 8 <= i1; i += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += x[i + l] * x[i + l];
        double s = 0.0;
        for (int l = 0; l < 8; l++)
            s += acc[l];
        for (; i < i1; i++)
            s += (double)x[i] * x[i];
        part[c] = s;
    }
    double s = 0.0;
    for (size_t c = 0; c < nchunks; c++)
        s += part[c];
    free(part);
    return s;
}

void sw_cpu_scale(float *x, size_t n, float s)
{
#pragma omp parallel for simd schedule(static) num_threads(sw_cpu_threads())
    for (size_t i = 0; i < n; i++)
        x[i] *= s;
}

/* AdamW over one contiguous chunk (see backend.h for the update). */
SW_VECTOR_CLONES static void adamw_chunk(float *p, const float *g, float *m, float *v, size_t n,
                                         float lr, float beta1, float beta2, float eps, float wd,
                                         float inv_bc1, float inv_sqrt_bc2)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float mi = beta1 * m[i] + (1.0f - beta1) * g[i];
        float vi = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        float update = (mi * inv_bc1) / (sqrtf(vi) * inv_sqrt_bc2 + eps);
        p[i] -= lr * (update + wd * p[i]);
    }
}

void sw_cpu_adamw_update(float *p, const float *g, float *m, float *v, size_t n, float lr,
                         float beta1, float beta2, float eps, float wd, float bc1, float bc2)
{
    float inv_bc1 = 1.0f / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2);
    size_t nchunks = (n + SUM_CHUNK - 1) / SUM_CHUNK;
#pragma omp parallel for schedule(static) num_threads(sw_cpu_threads())
    for (size_t c = 0; c < nchunks; c++) {
        size_t i0 = c * SUM_CHUNK, len = i0 + SUM_CHUNK < n ? SUM_CHUNK : n - i0;
        adamw_chunk(p + i0, g + i0, m + i0, v + i0, len, lr, beta1, beta2, eps, wd, inv_bc1,
                    inv_sqrt_bc2);
    }
}

void sw_cpu_softcap(float *x, size_t n, float cap)
{
    float inv = 1.0f / cap;
#pragma omp parallel for schedule(static) num_threads(sw_cpu_threads())
    for (size_t i = 0; i < n; i++)
        x[i] = cap * tanhf(x[i] * inv);
}

static void cpu_copy(void *dst, const void *src, size_t bytes)
{
    memcpy(dst, src, bytes);
}

static void cpu_fill(float *x, size_t n, float value)
{
    if (value == 0.0f) {
        memset(x, 0, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = value;
}

static void cpu_synchronize(void)
{
}

static const sw_backend cpu_backend = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy_to_device = cpu_copy,
    .copy_to_host = cpu_copy,
    .copy = cpu_copy,
    .fill = cpu_fill,
    .synchronize = cpu_synchronize,
    .embed_forward = sw_cpu_embed_forward,
    .embed_backward = sw_cpu_embed_backward,
    .rmsnorm_forward = sw_cpu_rmsnorm_forward,
    .rmsnorm_backward = sw_cpu_rmsnorm_backward,
    .matmul_forward = sw_cpu_matmul_forward,
    .matmul_backward = sw_cpu_matmul_backward,
    .rope_qknorm_forward = sw_cpu_rope_qknorm_forward,
    .rope_qknorm_backward = sw_cpu_rope_qknorm_backward,
    .attention_forward = sw_cpu_attention_forward,
    .attention_backward = sw_cpu_attention_backward,
    .relu2_forward = sw_cpu_relu2_forward,
    .relu2_backward = sw_cpu_relu2_backward,
    .xent_forward = sw_cpu_xent_forward,
    .xent_backward = sw_cpu_xent_backward,
    .sum_squares = sw_cpu_sum_squares,
    .scale = sw_cpu_scale,
    .adamw_update = sw_cpu_adamw_update,
    .muon_work_floats = sw_cpu_muon_work_floats,
    .muon_update = sw_cpu_muon_update,
    .softcap = sw_cpu_softcap,
};

const sw_backend *sw_backend_cpu(void)
{
    return &cpu_backend;
}
