/* cpu_matmul.c - the matrix products of the linear layers, through OpenBLAS sgemm.
 * Weights are [O, K] row-major (K inputs, O outputs), activations [N, K]. (Not "I": cblas.h
 * pulls in complex.h, whose I macro is the imaginary unit.)
 *   forward  out = x · w^T            (N×K)·(K×O)
 *   backward dx  = dout · w           (N×O)·(O×K), written
 *            dw += dout^T · x         (O×N)·(N×K), accumulated
 */
#include <cblas.h>

#include "kernels/cpu_ops.h"

void sw_cpu_matmul_forward(float *out, const float *x, const float *w, int N, int K, int O,
                           int accumulate)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, K, 1.0f, x, K, w, K,
                accumulate ? 1.0f : 0.0f, out, O);
}

void sw_cpu_matmul_backward(float *dx, float *dw, const float *dout, const float *x,
                            const float *w, int N, int K, int O)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, O, 1.0f, dout, O, w, K,
                    0.0f, dx, K);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, K, N, 1.0f, dout, O, x, K, 1.0f, dw,
                K);
}
