/* cpu_matmul.c - the matrix products of the linear layers (through sw_gemm, cpu_gemm.h).
 * Weights are [O, K] row-major (K inputs, O outputs), activations [N, K]:
 *   forward  out = x · w^T            (N×K)·(K×O)
 *   backward dx  = dout · w           (N×O)·(O×K), written
 *            dw += dout^T · x         (O×N)·(N×K), accumulated
 */
#include "kernels/cpu_gemm.h"
#include "kernels/cpu_ops.h"

void sw_cpu_matmul_forward(float *out, const float *x, const float *w, int N, int K, int O,
                           int accumulate)
{
    sw_gemm(0, 1, N, O, K, x, K, w, K, out, O, accumulate);
}

void sw_cpu_matmul_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                            int N, int K, int O)
{
    if (dx)
        sw_gemm(0, 0, N, K, O, dout, O, w, K, dx, K, 0);
    sw_gemm(1, 0, O, K, N, dout, O, x, K, dw, K, 1);
}
