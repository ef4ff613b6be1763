/* cuda_matmul.cu - the linear layers' matrix products through cuBLAS (CPU reference:
 * cpu_matmul.c). Weights are [O, K] row-major, activations [N, K]:
 *   forward  out = x · w^T   written or added,   backward  dx = dout · w   written,
 *                                                          dw += dout^T · x.
 * cuBLAS is column-major: a row-major [r, c] array is the column-major [c, r] matrix, its
 * transpose, so each product is issued transposed (out^T = w · x^T and so on) with the same
 * pointers and leading dimensions.
 *
 * Precision: CUBLAS_COMPUTE_32F is IEEE fp32 (the parity path). The bf16 path uses
 * CUBLAS_COMPUTE_32F_FAST_16BF: inputs rounded to bf16 inside the tensor-core product,
 * products accumulated in fp32, fp32 in and out, so master weights, activations and
 * gradients stay fp32 in memory.
 */
#include "kernels/cuda_common.cuh"

static void gemm(cublasComputeType_t ct, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                 int k, const float *A, int lda, const float *Bm, int ldb, float beta, float *C,
                 int ldc)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    const float alpha = 1.0f;
    SW_CUBLAS_CHECK(cublasGemmEx(ctx->blas, ta, tb, m, n, k, &alpha, A, CUDA_R_32F, lda, Bm,
                                 CUDA_R_32F, ldb, &beta, C, CUDA_R_32F, ldc, ct,
                                 CUBLAS_GEMM_DEFAULT));
}

static void forward(cublasComputeType_t ct, float *out, const float *x, const float *w, int N,
                    int K, int O, int accumulate)
{
    /* out^T [O, N] = w [O, K] · x^T [K, N] (w^T is the column-major view of w) */
    gemm(ct, CUBLAS_OP_T, CUBLAS_OP_N, O, N, K, w, K, x, K, accumulate ? 1.0f : 0.0f, out, O);
    sw_cuda_op_end(sw_cuda_ctx_cur());
}

static void backward(cublasComputeType_t ct, float *dx, float *dw, const float *dout,
                     const float *x, const float *w, int N, int K, int O)
{
    if (dx) /* dx^T [K, N] = w^T [K, O] · dout^T [O, N] */
        gemm(ct, CUBLAS_OP_N, CUBLAS_OP_N, K, N, O, w, K, dout, O, 0.0f, dx, K);
    /* dw^T [K, O] += x^T [K, N] · dout [N, O] */
    gemm(ct, CUBLAS_OP_N, CUBLAS_OP_T, K, O, N, x, K, dout, O, 1.0f, dw, K);
    sw_cuda_op_end(sw_cuda_ctx_cur());
}

void sw_cuda_matmul_forward(float *out, const float *x, const float *w, int N, int K, int O,
                            int accumulate)
{
    forward(CUBLAS_COMPUTE_32F, out, x, w, N, K, O, accumulate);
}

void sw_cuda_matmul_backward(float *dx, float *dw, const float *dout, const float *x,
                             const float *w, int N, int K, int O)
{
    backward(CUBLAS_COMPUTE_32F, dx, dw, dout, x, w, N, K, O);
}

void sw_cuda_matmul_forward_bf16(float *out, const float *x, const float *w, int N, int K, int O,
                                 int accumulate)
{
    forward(CUBLAS_COMPUTE_32F_FAST_16BF, out, x, w, N, K, O, accumulate);
}

void sw_cuda_matmul_backward_bf16(float *dx, float *dw, const float *dout, const float *x,
                                  const float *w, int N, int K, int O)
{
    backward(CUBLAS_COMPUTE_32F_FAST_16BF, dx, dw, dout, x, w, N, K, O);
}
