/* test_nvml_gpu.c - on a machine with an NVIDIA GPU, NVML loads and GPU 0's energy counter
 * reads and does not go backwards across a second of GPU work. Skips without a GPU. */
#include <time.h>

#include "kernels/nvml.h"
#include "test_cuda_util.h"

int main(void)
{
    const sw_backend *be = cuda_backend_or_skip("cuda");
    char why[256] = "";
    sw_nvml *n = sw_nvml_open(why, sizeof why);
    CHECK(n != NULL, "a GPU is visible but NVML is not: %s", why);
    if (!n)
        return test_result("test_nvml_gpu");
    double e0 = 0, e1 = 0;
    CHECK(sw_nvml_energy_j(n, 0, &e0, why, sizeof why) == 0, "%s", why);
    size_t len = (size_t)64 << 20;
    float *x = be->alloc(len * sizeof(float));
    CHECK(x != NULL, "alloc");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do { /* about a second of memory-bound work */
        for (int k = 0; k < 20 && x; k++)
            be->scale(x, len, 0.5f);
        be->synchronize();
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec) < 1.0);
    CHECK(sw_nvml_energy_j(n, 0, &e1, why, sizeof why) == 0, "%s", why);
    printf("GPU 0: %.1f J over about a second of work (counter %.1f -> %.1f J)\n", e1 - e0, e0, e1);
    CHECK(e1 >= e0, "energy counter went backwards: %.3f -> %.3f", e0, e1);
    be->free(x);
    sw_nvml_close(n);
    return test_result("test_nvml_gpu");
}
