/* cpu_gemm.h - the CPU backend's matrix product: OpenBLAS sgemm (the default, measured
 * faster) or a blocked AVX2/FMA kernel (cpu_gemm.c), chosen with sw_gemm_select or by setting
 * SW_GEMM=own in the environment. Threads: sw_backend_cpu_set_threads. */
#ifndef SW_CPU_GEMM_H
#define SW_CPU_GEMM_H

/* C[M,N] = op(A)[M,K] · op(B)[K,N] (accumulate = 0) or C += that (accumulate = 1), all
 * row-major float; op transposes when trans_* is non-zero (A is then stored [K, M] with
 * leading dimension lda, likewise B). Deterministic, and independent of the thread count
 * with the built-in kernel. */
void sw_gemm(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda, const float *B,
             int ldb, float *C, int ldc, int accumulate);

/* 1 when the built-in AVX2/FMA kernel can run on this CPU. */
int sw_gemm_own_available(void);

/* Chooses the built-in kernel (own = 1, if available) or OpenBLAS (own = 0). */
void sw_gemm_select(int own);

/* 1 when sw_gemm currently uses the built-in kernel. */
int sw_gemm_uses_own(void);

#endif
