/* cublas_v2.h (emulated) - cublasGemmEx on fp32 arrays as a column-major triple loop in
 * double, with CUBLAS_COMPUTE_32F_FAST_16BF rounding both inputs to bf16 (round to nearest
 * even) first, as the tensor cores do; see cuda_runtime.h beside it for what the emulation is. */
#ifndef SW_EMU_CUBLAS_V2_H
#define SW_EMU_CUBLAS_V2_H

#include "cuda_runtime.h"

typedef int cublasStatus_t;
enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_INVALID_VALUE = 7 };
typedef struct emu_blas *cublasHandle_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum { CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_16BF = 75 } cublasComputeType_t;
typedef enum { CUDA_R_32F = 0 } cudaDataType;
enum { CUBLAS_GEMM_DEFAULT = -1 };

inline const char *cublasGetStatusString(cublasStatus_t s)
{
    return s ? "emulated cuBLAS error" : "success";
}
inline cublasStatus_t cublasCreate(cublasHandle_t *h)
{
    *h = NULL;
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s)
{
    (void)h, (void)s;
    return CUBLAS_STATUS_SUCCESS;
}

inline float emu_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even on the upper 16 bits */
    u &= 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

inline cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                   int m, int n, int k, const void *alpha, const void *A,
                                   cudaDataType at, int lda, const void *B, cudaDataType bt,
                                   int ldb, const void *beta, void *C, cudaDataType ct, int ldc,
                                   cublasComputeType_t comp, int algo)
{
    (void)h, (void)at, (void)bt, (void)ct, (void)algo;
    const float *a = (const float *)A, *b = (const float *)B;
    float *c = (float *)C, al = *(const float *)alpha, be = *(const float *)beta;
    int bf = comp == CUBLAS_COMPUTE_32F_FAST_16BF;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0.0;
            for (int p = 0; p < k; p++) {
                float x = ta == CUBLAS_OP_N ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float y = tb == CUBLAS_OP_N ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                if (bf)
                    x = emu_bf16(x), y = emu_bf16(y);
                s += (double)x * y;
            }
            float *o = c + (size_t)j * ldc + i;
            *o = al * (float)s + (be == 0.0f ? 0.0f : be * *o);
        }
    return CUBLAS_STATUS_SUCCESS;
}

#endif
