/* cpu_gemm.c - the CPU backend's matrix product: OpenBLAS sgemm by default, or (with
 * SW_GEMM=own in the environment) a blocked single-precision kernel for x86-64 with AVX2 and
 * FMA written here. OpenBLAS measured faster for whole training steps on the development VM
 * (bench/RESULTS.md), so it is the default; the built-in kernel stays selectable because its
 * results do not depend on the thread count and it is the reference point for tuning.
 *
 * C[M,N] (=|+=) op(A)[M,K] · op(B)[K,N], row-major, op = identity or transpose.
 * The structure is the classic GotoBLAS/BLIS one:
 *   for each NC-wide column block of B, for each KC-deep slice of K:
 *     pack that B block into NR-wide panels (contiguous, zero-padded: the micro-kernel then
 *     streams it from L2/L3 without strides or edge cases);
 *     for each MC-tall row block of A (threads split these): pack it into MR-tall panels
 *     (stays in L2) and run the MR×NR micro-kernel over the block, which keeps a 6×16 tile of
 *     C in 12 of the 16 ymm registers for the whole KC loop.
 * Every element of C is accumulated over K in the same order whatever the thread count
 * (threads split rows, never K), so results are bit-identical for any number of threads.
 */
#include "kernels/cpu_gemm.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_ops.h"

enum { MR = 6, NR = 16, KC = 256, MC = 120, NC = 3072 };

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SW_HAVE_AVX2_KERNEL 1

/* acc[MR×NR] (row stride NR) = sum over kc of a-panel column × b-panel row. */
__attribute__((target("avx2,fma"))) static void micro_6x16(int kc, const float *a, const float *b,
                                                           float *c, int ldc, int accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 a0 = _mm256_broadcast_ss(a + 0), a1 = _mm256_broadcast_ss(a + 1);
        c00 = _mm256_fmadd_ps(a0, b0, c00);
        c01 = _mm256_fmadd_ps(a0, b1, c01);
        c10 = _mm256_fmadd_ps(a1, b0, c10);
        c11 = _mm256_fmadd_ps(a1, b1, c11);
        __m256 a2 = _mm256_broadcast_ss(a + 2), a3 = _mm256_broadcast_ss(a + 3);
        c20 = _mm256_fmadd_ps(a2, b0, c20);
        c21 = _mm256_fmadd_ps(a2, b1, c21);
        c30 = _mm256_fmadd_ps(a3, b0, c30);
        c31 = _mm256_fmadd_ps(a3, b1, c31);
        __m256 a4 = _mm256_broadcast_ss(a + 4), a5 = _mm256_broadcast_ss(a + 5);
        c40 = _mm256_fmadd_ps(a4, b0, c40);
        c41 = _mm256_fmadd_ps(a4, b1, c41);
        c50 = _mm256_fmadd_ps(a5, b0, c50);
        c51 = _mm256_fmadd_ps(a5, b1, c51);
        a += MR;
        b += NR;
    }
#define STORE_ROW(r, lo, hi)                                                                       \
    do {                                                                                           \
        float *row = c + (size_t)(r)*ldc;                                                          \
        if (accumulate) {                                                                          \
            lo = _mm256_add_ps(lo, _mm256_loadu_ps(row));                                          \
            hi = _mm256_add_ps(hi, _mm256_loadu_ps(row + 8));                                      \
        }                                                                                          \
        _mm256_storeu_ps(row, lo);                                                                 \
        _mm256_storeu_ps(row + 8, hi);                                                             \
    } while (0)
    STORE_ROW(0, c00, c01);
    STORE_ROW(1, c10, c11);
    STORE_ROW(2, c20, c21);
    STORE_ROW(3, c30, c31);
    STORE_ROW(4, c40, c41);
    STORE_ROW(5, c50, c51);
#undef STORE_ROW
}

/* Packs one full NR-wide panel of a transposed B (B(k, j) = src[j·ldb + k]) for kc a
 * multiple of 8: 8×8 blocks are loaded as 8 rows, transposed in registers and stored as 8
 * k-rows, so both reads and writes stay contiguous (a scalar column-by-column copy costs
 * several ns per element, as much as the product itself at M = 256). */
__attribute__((target("avx2,fma"))) static void pack_b_trans_panel(float *panel, const float *src,
                                                                   int ldb, int kc)
{
    for (int c0 = 0; c0 < NR; c0 += 8)
        for (int k = 0; k < kc; k += 8) {
            const float *s0 = src + (size_t)c0 * ldb + k;
            __m256 r0 = _mm256_loadu_ps(s0), r1 = _mm256_loadu_ps(s0 + ldb);
            __m256 r2 = _mm256_loadu_ps(s0 + 2 * (size_t)ldb);
            __m256 r3 = _mm256_loadu_ps(s0 + 3 * (size_t)ldb);
            __m256 r4 = _mm256_loadu_ps(s0 + 4 * (size_t)ldb);
            __m256 r5 = _mm256_loadu_ps(s0 + 5 * (size_t)ldb);
            __m256 r6 = _mm256_loadu_ps(s0 + 6 * (size_t)ldb);
            __m256 r7 = _mm256_loadu_ps(s0 + 7 * (size_t)ldb);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *d = panel + (size_t)k * NR + c0;
            _mm256_store_ps(d + 0 * NR, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_store_ps(d + 1 * NR, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_store_ps(d + 2 * NR, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_store_ps(d + 3 * NR, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_store_ps(d + 4 * NR, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_store_ps(d + 5 * NR, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_store_ps(d + 6 * NR, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_store_ps(d + 7 * NR, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
}
#else
#define SW_HAVE_AVX2_KERNEL 0
#endif

/* Packs op(A)[i0:i0+mc, p0:p0+kc] into MR-row panels: panel q holds, for each k, the MR
 * values of rows i0+q·MR.. (zero beyond the last row). */
static void pack_a(float *dst, const float *A, int lda, int trans, int i0, int mc, int p0, int kc)
{
    for (int q = 0; q < mc; q += MR, dst += (size_t)MR * kc) {
        int rows = mc - q < MR ? mc - q : MR;
        if (rows < MR)
            memset(dst, 0, (size_t)MR * kc * sizeof(float));
        if (trans) { /* A(i, k) = A[k][i]: each k reads `rows` contiguous values */
            for (int k = 0; k < kc; k++)
                for (int r = 0; r < rows; r++)
                    dst[(size_t)k * MR + r] = A[(size_t)(p0 + k) * lda + i0 + q + r];
        } else { /* A(i, k) = A[i][k]: read each row contiguously */
            for (int r = 0; r < rows; r++) {
                const float *src = A + (size_t)(i0 + q + r) * lda + p0;
                for (int k = 0; k < kc; k++)
                    dst[(size_t)k * MR + r] = src[k];
            }
        }
    }
}

/* Packs op(B)[p0:p0+kc, j0:j0+nc] into NR-column panels: panel q holds, for each k, the NR
 * values of columns j0+q·NR.. (zero beyond the last column). */
static void pack_b(float *dst, const float *Bm, int ldb, int trans, int p0, int kc, int j0, int nc)
{
    for (int q = 0; q < nc; q += NR) {
        int cols = nc - q < NR ? nc - q : NR;
        float *panel = dst + (size_t)q * kc;
        if (cols < NR)
            memset(panel, 0, (size_t)NR * kc * sizeof(float));
#if SW_HAVE_AVX2_KERNEL
        if (trans && cols == NR && kc % 8 == 0) {
            pack_b_trans_panel(panel, Bm + (size_t)(j0 + q) * ldb + p0, ldb, kc);
            continue;
        }
#endif
        if (trans) { /* B(k, j) = B[j][k]: read each source row contiguously */
            for (int c = 0; c < cols; c++) {
                const float *src = Bm + (size_t)(j0 + q + c) * ldb + p0;
                for (int k = 0; k < kc; k++)
                    panel[(size_t)k * NR + c] = src[k];
            }
        } else {
            for (int k = 0; k < kc; k++)
                memcpy(panel + (size_t)k * NR, Bm + (size_t)(p0 + k) * ldb + j0 + q,
                       (size_t)cols * sizeof(float));
        }
    }
}

#if SW_HAVE_AVX2_KERNEL
/* Runs the micro-kernel over one packed mc×nc block of C, handling ragged edges through a
 * small scratch tile. */
static void macro_block(int mc, int nc, int kc, const float *Ap, const float *Bp, float *C, int ldc,
                        int accumulate)
{
    float tile[MR * NR] __attribute__((aligned(32)));
    for (int jr = 0; jr < nc; jr += NR) {
        int cols = nc - jr < NR ? nc - jr : NR;
        for (int ir = 0; ir < mc; ir += MR) {
            int rows = mc - ir < MR ? mc - ir : MR;
            float *c = C + (size_t)ir * ldc + jr;
            const float *a = Ap + (size_t)ir * kc, *b = Bp + (size_t)jr * kc;
            if (rows == MR && cols == NR) {
                micro_6x16(kc, a, b, c, ldc, accumulate);
                continue;
            }
            micro_6x16(kc, a, b, tile, NR, 0);
            for (int r = 0; r < rows; r++)
                for (int q = 0; q < cols; q++)
                    c[(size_t)r * ldc + q] =
                        (accumulate ? c[(size_t)r * ldc + q] : 0.0f) + tile[r * NR + q];
        }
    }
}
#endif

static int g_use_own = -1; /* -1: decide on first use */

/* Packing buffers, kept between calls: allocating megabytes per product costs a page fault
 * per 4 KiB on every call. One set per calling thread, grown on demand, never shrunk. */
static _Thread_local float *tl_buf;
static _Thread_local size_t tl_cap;

static float *pack_buffer(size_t floats)
{
    if (floats > tl_cap) {
        free(tl_buf);
        tl_buf = aligned_alloc(64, (floats + 15) / 16 * 16 * sizeof(float));
        tl_cap = tl_buf ? floats : 0;
    }
    return tl_buf;
}

int sw_gemm_own_available(void)
{
#if SW_HAVE_AVX2_KERNEL
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

void sw_gemm_select(int own)
{
    g_use_own = own && sw_gemm_own_available();
}

int sw_gemm_uses_own(void)
{
    if (g_use_own < 0) {
        const char *env = getenv("SW_GEMM");
        g_use_own = env && !strcmp(env, "own") && sw_gemm_own_available();
    }
    return g_use_own;
}

void sw_gemm(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
             const float *Bm, int ldb, float *C, int ldc, int accumulate)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++)
                memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
#if SW_HAVE_AVX2_KERNEL
    if (sw_gemm_uses_own()) {
        int nt = sw_cpu_threads();
        /* Row blocks: MC, or fewer rows when that leaves threads idle (multiple of MR). */
        int mc = MC;
        if (nt > 1 && (M + mc - 1) / mc < 2 * nt) {
            int per = (M + 2 * nt - 1) / (2 * nt);
            mc = (per + MR - 1) / MR * MR;
            if (mc < MR)
                mc = MR;
        }
        int nblocks = (M + mc - 1) / mc;
        int ncap = N < NC ? (N + NR - 1) / NR * NR : NC;
        int kcap = K < KC ? K : KC;
        size_t b_floats = (size_t)ncap * kcap;
        size_t a_floats = (size_t)((mc + MR - 1) / MR * MR) * kcap;
        float *Bp = pack_buffer(b_floats + (size_t)nt * a_floats);
        float *Ap_all = Bp ? Bp + b_floats : NULL;
        if (Bp) {
#pragma omp parallel num_threads(nt)
            {
                float *Ap = Ap_all + (size_t)omp_get_thread_num() * a_floats;
                for (int jc = 0; jc < N; jc += NC) {
                    int nc = N - jc < NC ? N - jc : NC;
                    for (int pc = 0; pc < K; pc += KC) {
                        int kc = K - pc < KC ? K - pc : KC;
                        /* Pack B cooperatively, one NR panel per iteration. */
#pragma omp for schedule(static)
                        for (int q = 0; q < nc; q += NR)
                            pack_b(Bp + (size_t)q * kc, Bm, ldb, trans_b, pc, kc, jc + q,
                                   nc - q < NR ? nc - q : NR);
                            /* (implicit barrier: B is packed before anyone uses it) */
#pragma omp for schedule(static)
                        for (int blk = 0; blk < nblocks; blk++) {
                            int ic = blk * mc, m = M - ic < mc ? M - ic : mc;
                            pack_a(Ap, A, lda, trans_a, ic, m, pc, kc);
                            macro_block(m, nc, kc, Ap, Bp, C + (size_t)ic * ldc + jc, ldc,
                                        accumulate || pc > 0);
                        }
                    }
                }
            }
            return;
        }
        /* out of memory for packing: fall back to OpenBLAS */
    }
#endif
    /* OpenBLAS, single-threaded per call, with OpenMP splitting C into one block per thread:
     * a second thread pool (OpenBLAS's own) alternating with OpenMP's spinning one made two
     * threads several times slower than one on a busy 2-core machine (bench/RESULTS.md). The
     * split is fixed for a thread count, so results are deterministic for that count. */
    int nt = sw_cpu_threads();
    int split_n = N >= M; /* split the longer side of C */
    int len = split_n ? N : M;
    if (nt > 1 && len >= 2 * 16) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int t = 0; t < nt; t++) {
            /* Boundaries on multiples of 16 keep every block's columns vector-aligned. */
            int b0 = (int)((long)len * t / nt) / 16 * 16;
            int b1 = t + 1 == nt ? len : (int)((long)len * (t + 1) / nt) / 16 * 16;
            if (b1 <= b0)
                continue;
            if (split_n)
                cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                            trans_b ? CblasTrans : CblasNoTrans, M, b1 - b0, K, 1.0f, A, lda,
                            trans_b ? Bm + (size_t)b0 * ldb : Bm + b0, ldb,
                            accumulate ? 1.0f : 0.0f, C + b0, ldc);
            else
                cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                            trans_b ? CblasTrans : CblasNoTrans, b1 - b0, N, K, 1.0f,
                            trans_a ? A + b0 : A + (size_t)b0 * lda, lda, Bm, ldb,
                            accumulate ? 1.0f : 0.0f, C + (size_t)b0 * ldc, ldc);
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, Bm, ldb,
                accumulate ? 1.0f : 0.0f, C, ldc);
}
