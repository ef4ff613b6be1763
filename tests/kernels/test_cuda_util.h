/* test_cuda_util.h - what the CUDA and NVML tests share: plain C (no Criterion, so they build
 * on the bare GPU machine too), a CHECK that counts failures, and the CTest skip code. A test
 * without a usable device prints why and exits SW_TEST_SKIP, which tests/CMakeLists.txt
 * registers as SKIP_RETURN_CODE: such a test shows as skipped, never as passed. */
#ifndef SW_TEST_CUDA_UTIL_H
#define SW_TEST_CUDA_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/backend.h"
#ifdef SW_TEST_EMU
#include <string.h>

#include "kernels/cuda_backend.h"
#endif

#define SW_TEST_SKIP 77

static int g_failures = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            g_failures++;                                                                          \
        }                                                                                          \
    } while (0)

/* The named CUDA backend, or exits with the skip code saying why there is none. */
static inline const sw_backend *cuda_backend_or_skip(const char *name)
{
    char why[256] = "";
#ifdef SW_TEST_EMU /* the CPU emulation of the CUDA backend (tests/kernels/test_cuda_emu/) */
    const sw_backend *be = sw_backend_cuda(strcmp(name, "cuda-bf16") == 0, why, sizeof why);
#else
    const sw_backend *be = sw_backend_by_name(name, why, sizeof why);
#endif
    if (!be) {
        printf("SKIP: %s\n", why);
        exit(SW_TEST_SKIP);
    }
    return be;
}

/* Normwise relative difference ||a - b|| / max(||b||, tiny), in double. */
static inline double rel_diff(const float *a, const float *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return sqrt(num) / (sqrt(den) > 1e-30 ? sqrt(den) : 1e-30);
}

static inline int test_result(const char *name)
{
    if (g_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, g_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
