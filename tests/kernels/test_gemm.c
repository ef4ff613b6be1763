/* test_gemm.c - the matrix product against a naive double-precision one, for both the
 * built-in AVX2 kernel and OpenBLAS, every transpose combination, ragged sizes (not
 * multiples of the 6×16 tile or the 256-deep K block) and accumulation; the built-in kernel
 * must also give bit-identical results on 1 and 2 threads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/backend.h"
#include "kernels/cpu_gemm.h"
#include "kernels/rng.h"

static float *random_matrix(size_t n, sw_rng *r)
{
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2.0 * sw_rng_uniform(r) - 1.0);
    return x;
}

/* Checks sw_gemm on one shape; returns the result for cross-thread comparison (caller frees). */
static float *check(int ta, int tb, int M, int N, int K, int accumulate)
{
    sw_rng r;
    sw_rng_seed(&r, (uint64_t)(M * 131 + N * 7 + K));
    float *A = random_matrix((size_t)M * K, &r), *B = random_matrix((size_t)K * N, &r);
    float *C = random_matrix((size_t)M * N, &r), *C0 = malloc((size_t)M * N * sizeof(float));
    memcpy(C0, C, (size_t)M * N * sizeof(float));
    int lda = ta ? M : K, ldb = tb ? K : N;
    sw_gemm(ta, tb, M, N, K, A, lda, B, ldb, C, N, accumulate);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = accumulate ? C0[(size_t)i * N + j] : 0.0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
            }
            /* float accumulation of K products of magnitude <= 1: error ~ K · 6e-8 */
            cr_assert(fabs(C[(size_t)i * N + j] - s) <= 1e-6 * K + 1e-6,
                      "ta=%d tb=%d %dx%dx%d acc=%d: C[%d,%d] = %.7g, expected %.7g", ta, tb, M, N,
                      K, accumulate, i, j, (double)C[(size_t)i * N + j], s);
        }
    free(A), free(B), free(C0);
    return C;
}

static void all_shapes(void)
{
    static const int shapes[][3] = {{1, 1, 1},     {6, 16, 8},     {7, 17, 9},
                                    {37, 50, 300}, {130, 33, 520}, {13, 3100, 40}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (int acc = 0; acc < 2; acc++)
                    free(check(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], acc));
}

Test(gemm, builtin_kernel_matches_reference)
{
    if (!sw_gemm_own_available())
        cr_skip_test("no AVX2/FMA on this CPU");
    sw_gemm_select(1);
    cr_assert(sw_gemm_uses_own());
    sw_backend_cpu_set_threads(1);
    all_shapes();
    sw_backend_cpu_set_threads(2);
    all_shapes();
}

Test(gemm, openblas_path_matches_reference)
{
    sw_gemm_select(0);
    cr_assert_not(sw_gemm_uses_own());
    all_shapes();
}

Test(gemm, builtin_kernel_is_thread_count_independent)
{
    if (!sw_gemm_own_available())
        cr_skip_test("no AVX2/FMA on this CPU");
    sw_gemm_select(1);
    sw_backend_cpu_set_threads(1);
    float *a = check(0, 1, 200, 300, 700, 0);
    sw_backend_cpu_set_threads(2);
    float *b = check(0, 1, 200, 300, 700, 0);
    cr_assert(!memcmp(a, b, 200 * 300 * sizeof(float)));
    free(a), free(b);
}
