/* backend.h - the seam between the model (kernels/model.c, which owns shapes and the order of
 * operations) and the code that does the arithmetic. The CPU backend (cpu_*.c) fills it today;
 * a CUDA backend can fill the same table later, allocating with its own alloc/free, without
 * the model, the optimizer or the training loop changing.
 *
 * Conventions for every operation: N = B*T rows (tokens), C = width, row-major float arrays,
 * weights stored [out, in]. "writes" overwrites the output, "adds" accumulates into it.
 * All pointers come from the backend's alloc (host memory for the CPU backend). Results are
 * deterministic for a fixed thread count.
 */
#ifndef SW_BACKEND_H
#define SW_BACKEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct sw_backend {
    const char *name; /* "cpu" */

    /* Memory for parameters, gradients and activations; alloc returns zeroed memory or NULL. */
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);
    /* Moves bytes between host memory and the backend's memory (for the CPU backend both are
     * host memory and these are memcpy). copy_to_device: dst is the backend's, src the host's;
     * copy_to_host: the reverse; copy: both the backend's. Regions must not overlap. */
    void (*copy_to_device)(void *dst, const void *src_host, size_t bytes);
    void (*copy_to_host)(void *dst_host, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);
    /* x[i] = value for i < n, in the backend's memory (fill(x, n, 0) zeroes a buffer). */
    void (*fill)(float *x, size_t n, float value);
    /* Waits until every operation issued so far has finished (a no-op on the CPU). */
    void (*synchronize)(void);

    /* out[N,C] writes wte[tokens[n], :]. */
    void (*embed_forward)(float *out, const int32_t *tokens, const float *wte, int N, int C);
    /* dwte[tokens[n], :] adds dout[n, :]. */
    void (*embed_backward)(float *dwte, const float *dout, const int32_t *tokens, int N, int C);

    /* RMSNorm without gain: out = x / sqrt(mean(x^2) + eps); writes out[N,C] and rstd[N]. */
    void (*rmsnorm_forward)(float *out, float *rstd, const float *x, int N, int C);
    /* dx adds rstd * (dout - out * mean(dout * out)), the gradient through the norm. */
    void (*rmsnorm_backward)(float *dx, const float *dout, const float *out, const float *rstd,
                             int N, int C);

    /* out[N,O] = x[N,K] · w[O,K]^T, written (accumulate=0) or added (accumulate=1). */
    void (*matmul_forward)(float *out, const float *x, const float *w, int N, int K, int O,
                           int accumulate);
    /* dx[N,K] writes dout · w (skipped when dx is NULL); dw[O,K] adds dout^T · x. */
    void (*matmul_backward)(float *dx, float *dw, const float *dout, const float *x, const float *w,
                            int N, int K, int O);

    /* From qkv[N,3C] (q | k | v per row): q and k rotated by rope (cos/sin [T, hd/2]) then
     * RMS-normalised per head; writes qn[N,C], kn[N,C], rstd_q[N*H], rstd_k[N*H]. */
    void (*rope_qknorm_forward)(float *qn, float *kn, float *rstd_q, float *rstd_k,
                                const float *qkv, const float *cos, const float *sin, int B, int T,
                                int C, int H);
    /* Writes the q and k thirds of dqkv[N,3C] from dqn, dkn (the v third is left alone). */
    void (*rope_qknorm_backward)(float *dqkv, const float *dqn, const float *dkn, const float *qn,
                                 const float *kn, const float *rstd_q, const float *rstd_k,
                                 const float *cos, const float *sin, int B, int T, int C, int H);

    /* Causal softmax attention per head, scale 1/sqrt(hd): writes y[N,C] and the
     * probabilities att[B,H,T,T] (row i valid for j <= i). v rows have stride v_stride. */
    void (*attention_forward)(float *y, float *att, const float *qn, const float *kn,
                              const float *v, int v_stride, int B, int T, int C, int H);
    /* Writes dqn[N,C], dkn[N,C] and dv (stride v_stride) from dy[N,C]. */
    void (*attention_backward)(float *dqn, float *dkn, float *dv, int v_stride, const float *dy,
                               const float *att, const float *qn, const float *kn, const float *v,
                               int B, int T, int C, int H);

    /* a = relu(h)^2 elementwise over n values. */
    void (*relu2_forward)(float *a, const float *h, size_t n);
    /* dh writes da * 2 relu(h). */
    void (*relu2_backward)(float *dh, const float *da, const float *h, size_t n);

    /* In place over logits[N,V]: z = cap·tanh(l/cap) (cap 0: z = l); writes lse[N] =
     * logsumexp(z) and returns the summed cross-entropy sum_n (lse - z[target]) (nats). */
    double (*xent_forward)(float *logits, float *lse, const int32_t *targets, int N, int V,
                           float softcap);
    /* In place: logits (holding z) become d(scale·sum loss)/d(raw logits). */
    void (*xent_backward)(float *logits, const float *lse, const int32_t *targets, int N, int V,
                          float softcap, float scale);

    /* Sum of squares of x[n], accumulated in double in a fixed order. */
    double (*sum_squares)(const float *x, size_t n);
    /* x *= s over n values. */
    void (*scale)(float *x, size_t n, float s);
    /* One AdamW step over n parameters (decoupled decay):
     * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * p -= lr · ((m/bc1) / (sqrt(v/bc2) + eps) + wd · p), bc = 1 - beta^t. */
    void (*adamw_update)(float *p, const float *g, float *m, float *v, size_t n, float lr,
                         float beta1, float beta2, float eps, float wd, float bc1, float bc2);

    /* Floats of scratch memory muon_update needs for a rows×cols matrix (the caller allocates
     * them with alloc and may reuse them for every matrix up to that size). */
    size_t (*muon_work_floats)(int rows, int cols);
    /* One Muon step on the rows×cols matrix p with gradient g (kernels/muon.h has the math):
     * mom[rows·cols] is the momentum buffer, var[max(rows, cols)] the factored second moment
     * (per row when rows >= cols, else per column; only that many entries are used), work
     * muon_work_floats(rows, cols) floats of scratch. lr is the final rate for this matrix
     * (schedule and shape factor applied); wd the cautious weight decay. Updates p, mom, var. */
    void (*muon_update)(float *p, const float *g, float *mom, float *var, float *work, int rows,
                        int cols, float momentum, float lr, float wd, float beta2, int ns_steps);
    /* x = cap·tanh(x/cap) elementwise over n values (the logits' soft cap without a loss). */
    void (*softcap)(float *x, size_t n, float cap);
} sw_backend;

/* The CPU backend (OpenBLAS sgemm or the built-in kernel, OpenMP elsewhere). Static storage. */
const sw_backend *sw_backend_cpu(void);

/* The backend called name ("cpu", or "cuda" where built with CUDA and a device is visible), or
 * NULL with a message in err (at most errlen bytes) saying which names exist and why this one
 * cannot be used. Static storage. */
const sw_backend *sw_backend_by_name(const char *name, char *err, size_t errlen);

/* Sets the number of threads the CPU backend uses; k >= 1. They are OpenMP threads; BLAS
 * calls run single-threaded inside them (see cpu_gemm.c). */
void sw_backend_cpu_set_threads(int k);

/* The number of threads the CPU backend uses. */
int sw_backend_cpu_threads(void);

#endif
