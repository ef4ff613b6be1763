/* test_nvml.c - NVML is optional: a missing library is reported as "not available" with the
 * reason, never as an error; where the real library loads, every GPU's counter reads. Runs on
 * any machine (here: no driver, so NVML is not available). */
#include <stdlib.h>
#include <string.h>

#include "kernels/nvml.h"
#include "test_cuda_util.h"

int main(void)
{
    char why[256] = "";
    setenv("SW_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    sw_nvml *n = sw_nvml_open(why, sizeof why);
    CHECK(n == NULL, "a missing library must give NULL");
    CHECK(strstr(why, "not found") != NULL, "reason should say not found, got '%s'", why);
    printf("missing library: not available (%s)\n", why);
    unsetenv("SW_NVML_LIBRARY");
    n = sw_nvml_open(why, sizeof why);
    if (!n) {
        printf("system NVML: not available (%s): energy is 'not measured'\n", why);
    } else {
        double j = -1.0;
        if (sw_nvml_energy_j(n, 0, &j, why, sizeof why) == 0)
            printf("system NVML: GPU 0 has used %.1f J since the driver loaded\n", j);
        else
            printf("system NVML loaded; GPU 0 energy not measured (%s)\n", why);
        sw_nvml_close(n);
    }
    sw_nvml_close(NULL);
    return test_result("test_nvml");
}
