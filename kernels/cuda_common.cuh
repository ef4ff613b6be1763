/* cuda_common.cuh - private to the CUDA backend's files (cuda_*.cu): the per-device context
 * (stream, cuBLAS handle, scratch), the calling thread's binding, error checks, the end-of-
 * operation rule, and the entry points each file exports into the table (cuda_backend.cu). */
#ifndef SW_CUDA_COMMON_CUH
#define SW_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/cuda_backend.h"

/* Epsilon inside every RMSNorm: the CPU backend's SW_RMS_EPS (cpu_ops.h). */
#define SW_CUDA_RMS_EPS 1e-6f

struct sw_cuda_ctx {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    int32_t *tok;   /* device scratch for token ids staged from the host */
    size_t tok_cap; /* its capacity in ids */
    void *scratch;  /* device scratch for reductions and attention's row statistics */
    size_t scratch_cap;
    void *host_red; /* pinned host buffer for reduction partials */
    size_t host_red_cap;
};

/* The context of the calling thread's device (binds device 0 on first use; aborts when that
 * fails, since an operation has no error path). */
sw_cuda_ctx *sw_cuda_ctx_cur(void);

/* Nonzero in "managed" memory mode: every operation waits for its kernels (see the header). */
int sw_cuda_sync_each(void);

/* Aborts with file, line and CUDA's message when e is not cudaSuccess. */
void sw_cuda_fatal(const char *what, const char *msg, const char *file, int line);
#define SW_CUDA_CHECK(call)                                                                        \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            sw_cuda_fatal(#call, cudaGetErrorString(e_), __FILE__, __LINE__);                      \
    } while (0)
#define SW_CUBLAS_CHECK(call)                                                                      \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                           \
            sw_cuda_fatal(#call, cublasGetStatusString(s_), __FILE__, __LINE__);                   \
    } while (0)

/* Ends an operation: checks the launches and, in managed mode, waits for them. */
void sw_cuda_op_end(sw_cuda_ctx *ctx);

/* Device scratch of at least bytes (grows; valid until the next call on this device). */
void *sw_cuda_scratch(sw_cuda_ctx *ctx, size_t bytes);
/* Pinned host buffer of at least bytes (grows). */
void *sw_cuda_host_red(sw_cuda_ctx *ctx, size_t bytes);
/* Copies n token ids (host, device or managed memory) to device scratch and returns it. */
const int32_t *sw_cuda_stage_tokens(sw_cuda_ctx *ctx, const int32_t *ids, int n);

/* Blocks of threads covering n items. */
static inline unsigned sw_cuda_blocks(size_t n, unsigned threads)
{
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b > 0x7fffffffu ? 0x7fffffffu : (b ? b : 1));
}

/* ---- entry points, one family per file ---------------------------------------------------- */
/* cuda_matmul.cu */
void sw_cuda_matmul_forward(float *out, const float *x, const float *w, int N, int K, int O,
                            int accumulate);
void sw_cuda_matmul_backward(float *dx, float *dw, const float *dout, const float *x,
                             const float *w, int N, int K, int O);
void sw_cuda_matmul_forward_bf16(float *out, const float *x, const float *w, int N, int K, int O,
                                 int accumulate);
void sw_cuda_matmul_backward_bf16(float *dx, float *dw, const float *dout, const float *x,
                                  const float *w, int N, int K, int O);
/* cuda_norm.cu */
void sw_cuda_rmsnorm_forward(float *out, float *rstd, const float *x, int N, int C);
void sw_cuda_rmsnorm_backward(float *dx, const float *dout, const float *out, const float *rstd,
                              int N, int C);
void sw_cuda_rope_qknorm_forward(float *qn, float *kn, float *rstd_q, float *rstd_k,
                                 const float *qkv, const float *cos, const float *sin, int B, int T,
                                 int C, int H);
void sw_cuda_rope_qknorm_backward(float *dqkv, const float *dqn, const float *dkn, const float *qn,
                                  const float *kn, const float *rstd_q, const float *rstd_k,
                                  const float *cos, const float *sin, int B, int T, int C, int H);
/* cuda_attention.cu */
void sw_cuda_attention_forward(float *y, float *att, const float *qn, const float *kn,
                               const float *v, int v_stride, int B, int T, int C, int H);
void sw_cuda_attention_backward(float *dqn, float *dkn, float *dv, int v_stride, const float *dy,
                                const float *att, const float *qn, const float *kn, const float *v,
                                int B, int T, int C, int H);
/* cuda_xent.cu */
double sw_cuda_xent_forward(float *logits, float *lse, const int32_t *targets, int N, int V,
                            float softcap);
void sw_cuda_xent_backward(float *logits, const float *lse, const int32_t *targets, int N, int V,
                           float softcap, float scale);
/* cuda_muon.cu */
size_t sw_cuda_muon_work_floats(int rows, int cols);
void sw_cuda_muon_update(float *p, const float *g, float *mom, float *var, float *work, int rows,
                         int cols, float momentum, float lr, float wd, float beta2, int ns_steps);
void sw_cuda_muon_update_bf16(float *p, const float *g, float *mom, float *var, float *work,
                              int rows, int cols, float momentum, float lr, float wd, float beta2,
                              int ns_steps);
void sw_cuda_softcap(float *x, size_t n, float cap);

#endif
