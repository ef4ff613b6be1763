/* cpu_ops.h - private declarations shared by the CPU backend's files (cpu_*.c). Each function
 * implements the sw_backend entry of the same name; see backend.h for shapes and semantics. */
#ifndef SW_CPU_OPS_H
#define SW_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Hot per-row helpers get an AVX-512 (x86-64-v4) and an AVX2 clone besides the baseline
 * x86-64 one, chosen at load time from cpuid (GCC function multi-versioning), never from the
 * build machine: the build targets plain x86-64 (SSE2), which would halve or quarter the width
 * of the softmax, norm and optimizer loops on every machine we run. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SW_SANITIZE)
#define SW_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define SW_VECTOR_CLONES
#endif

/* Epsilon inside every RMSNorm (residual norms and the per-head q/k norms). */
#define SW_RMS_EPS 1e-6f

/* Threads for OpenMP regions of the CPU backend (>= 1). */
int sw_cpu_threads(void);

void sw_cpu_embed_forward(float *out, const int32_t *tokens, const float *wte, int N, int C);
void sw_cpu_embed_backward(float *dwte, const float *dout, const int32_t *tokens, int N, int C);
void sw_cpu_rmsnorm_forward(float *out, float *rstd, const float *x, int N, int C);
void sw_cpu_rmsnorm_backward(float *dx, const float *dout, const float *out, const float *rstd,
                             int N, int C);
void sw_cpu_matmul_forward(float *out, const float *x, const float *w, int N, int K, int O,
                           int accumulate);
void sw_cpu_matmul_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                            int N, int K, int O);
void sw_cpu_rope_qknorm_forward(float *qn, float *kn, float *rstd_q, float *rstd_k,
                                const float *qkv, const float *cos, const float *sin, int B, int T,
                                int C, int H);
void sw_cpu_rope_qknorm_backward(float *dqkv, const float *dqn, const float *dkn, const float *qn,
                                 const float *kn, const float *rstd_q, const float *rstd_k,
                                 const float *cos, const float *sin, int B, int T, int C, int H);
void sw_cpu_attention_forward(float *y, float *att, const float *qn, const float *kn,
                              const float *v, int v_stride, int B, int T, int C, int H);
void sw_cpu_attention_backward(float *dqn, float *dkn, float *dv, int v_stride, const float *dy,
                               const float *att, const float *qn, const float *kn, const float *v,
                               int B, int T, int C, int H);
void sw_cpu_relu2_forward(float *a, const float *h, size_t n);
void sw_cpu_relu2_backward(float *dh, const float *da, const float *h, size_t n);
double sw_cpu_xent_forward(float *logits, float *lse, const int32_t *targets, int N, int V,
                           float softcap);
void sw_cpu_xent_backward(float *logits, const float *lse, const int32_t *targets, int N, int V,
                          float softcap, float scale);
double sw_cpu_sum_squares(const float *x, size_t n);
void sw_cpu_scale(float *x, size_t n, float s);
void sw_cpu_adamw_update(float *p, const float *g, float *m, float *v, size_t n, float lr,
                         float beta1, float beta2, float eps, float wd, float bc1, float bc2);
size_t sw_cpu_muon_work_floats(int rows, int cols);
void sw_cpu_muon_update(float *p, const float *g, float *mom, float *var, float *work, int rows,
                        int cols, float momentum, float lr, float wd, float beta2, int ns_steps);
void sw_cpu_softcap(float *x, size_t n, float cap);

#endif
