/* cpu_muon.c - the CPU backend's Muon update for one weight matrix (backend.h, muon_update):
 * Nesterov momentum, orthogonalisation by the Polar Express iteration (a Newton-Schulz-type
 * quintic with per-step coefficients), factored variance normalisation (NorMuon), and the
 * parameter update with cautious weight decay. The products go through sw_gemm (OpenBLAS or
 * the built-in kernel, OpenMP-parallel); the elementwise passes are sequential: they are
 * O(rows·cols) against the iteration's O(rows·cols·min(rows, cols)).
 *
 * Math, with G the rows×cols gradient, M its momentum buffer, mu the momentum:
 *   M = mu M + (1 - mu) G;   U = (1 - mu) G + mu M                      (Nesterov)
 *   X = U (or U^T when rows > cols, so that X is m×n with m <= n); X /= (|X|_F · 1.02 + 1e-6)
 *   5 times: A = X X^T; B = b A + c A²; X = a X + B X      ((a, b, c) from Amsel et al. 2025)
 *   O = X (transposed back)                       singular values of O pushed towards ~1
 *   r_i = mean of O_i² along the longer side (per row when rows >= cols, else per column);
 *   V = beta2 V + (1 - beta2) r;  s_i = V_i^-1/2;  O_i *= s_i · |O|_F / |s ⊙ O|_F
 *   P -= lr O + lr wd P [O ⊙ P >= 0]                           (decay only where they agree)
 */
#include <math.h>
#include <string.h>

#include "kernels/cpu_gemm.h"
#include "kernels/cpu_ops.h"

/* Polar Express coefficients (a, b, c) for 5 iterations, safety factor 2e-2, cushion 2
 * (arXiv 2505.16932); more iterations reuse the last triple. */
static const float polar_coeffs[5][3] = {
    {8.156554524902461f, -22.48329292557795f, 15.878769915207462f},
    {4.042929935166739f, -2.808917465908714f, 0.5000178451051316f},
    {3.8916678022926607f, -2.772484153217685f, 0.5060648178503393f},
    {3.285753657755655f, -2.3681294933425376f, 0.46449024233003106f},
    {2.3465413258596377f, -1.7097828382687081f, 0.42323551169305323f},
};

size_t sw_cpu_muon_work_floats(int rows, int cols)
{
    size_t m = (size_t)(rows < cols ? rows : cols), rc = (size_t)rows * (size_t)cols;
    return 2 * rc + 2 * m * m + (size_t)(rows > cols ? rows : cols);
}

void sw_cpu_muon_update(float *p, const float *g, float *mom, float *var, float *work, int rows,
                        int cols, float momentum, float lr, float wd, float beta2, int ns_steps)
{
    size_t rc = (size_t)rows * (size_t)cols;
    int tall = rows > cols;
    int m = tall ? cols : rows, n = tall ? rows : cols; /* X is m×n, m <= n */
    float *X = work, *Y = work + rc, *A = Y + rc, *Bm = A + (size_t)m * m;
    float *scale = Bm + (size_t)m * m;

    /* Nesterov momentum into X (transposed when tall). */
    double ss = 0.0;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            size_t k = (size_t)i * cols + j;
            float mk = momentum * mom[k] + (1.0f - momentum) * g[k];
            mom[k] = mk;
            float u = (1.0f - momentum) * g[k] + momentum * mk;
            X[tall ? (size_t)j * rows + i : k] = u;
            ss += (double)u * u;
        }
    float inv = (float)(1.0 / (sqrt(ss) * 1.02 + 1e-6));
    for (size_t k = 0; k < rc; k++)
        X[k] *= inv;

    for (int it = 0; it < ns_steps; it++) {
        const float *abc = polar_coeffs[it < 5 ? it : 4];
        sw_gemm(0, 1, m, m, n, X, n, X, n, A, m, 0);  /* A = X X^T */
        sw_gemm(0, 0, m, m, m, A, m, A, m, Bm, m, 0); /* B = A A */
        for (size_t k = 0; k < (size_t)m * m; k++)
            Bm[k] = abc[1] * A[k] + abc[2] * Bm[k];
        sw_gemm(0, 0, m, n, m, Bm, m, X, n, Y, n, 0); /* Y = B X */
        for (size_t k = 0; k < rc; k++)
            Y[k] += abc[0] * X[k];
        float *t = X;
        X = Y;
        Y = t;
    }
    /* O (rows×cols) into Y, untransposed. */
    if (tall) {
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                Y[(size_t)i * cols + j] = X[(size_t)j * rows + i];
    } else {
        memcpy(Y, X, rc * sizeof(float));
    }
    float *O = Y;

    /* Factored second moment along the longer side: per row when rows >= cols. */
    int per_row = rows >= cols;
    int nred = per_row ? rows : cols, red = per_row ? cols : rows;
    for (int i = 0; i < nred; i++)
        scale[i] = 0.0f;
    double total = 0.0;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            float o = O[(size_t)i * cols + j];
            scale[per_row ? i : j] += o * o;
        }
    double scaled = 0.0;
    for (int i = 0; i < nred; i++) {
        double mean = (double)scale[i] / red;
        total += mean * red;
        var[i] += (1.0f - beta2) * ((float)mean - var[i]);
        double s = 1.0 / sqrt(var[i] > 1e-10f ? var[i] : 1e-10f);
        scaled += mean * red * s * s;
        scale[i] = (float)s;
    }
    double norm_new = sqrt(scaled);
    float ratio = (float)(sqrt(total) / (norm_new > 1e-10 ? norm_new : 1e-10));
    for (int i = 0; i < nred; i++)
        scale[i] *= ratio;

    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            size_t k = (size_t)i * cols + j;
            float o = O[k] * scale[per_row ? i : j];
            float decay = o * p[k] >= 0.0f ? wd * p[k] : 0.0f;
            p[k] -= lr * o + lr * decay;
        }
}
