/* nvml.c - see nvml.h. Declares the three NVML functions used (their C ABI is stable: the
 * _v2 names since driver 325) instead of including nvml.h, which the toolkit does not ship.
 */
#include "kernels/nvml.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int nvml_return;                 /* nvmlReturn_t: 0 is NVML_SUCCESS */
typedef struct nvml_device *nvml_device; /* nvmlDevice_t, opaque */

struct sw_nvml {
    void *lib;
    nvml_return (*shutdown)(void);
    nvml_return (*handle_by_index)(unsigned, nvml_device *);
    nvml_return (*total_energy)(nvml_device, unsigned long long *);
    const char *(*error_string)(nvml_return);
};

static const char *nvml_err(const sw_nvml *n, nvml_return r)
{
    return n->error_string ? n->error_string(r) : "NVML error";
}

sw_nvml *sw_nvml_open(char *why, size_t whylen)
{
    const char *path = getenv("SW_NVML_LIBRARY"); /* tests point it at a missing file */
    if (!path || !*path)
        path = "libnvidia-ml.so.1";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(why, whylen, "%s not found: %s", path, e ? e : "dlopen failed");
        return NULL;
    }
    sw_nvml *n = calloc(1, sizeof *n);
    if (!n) {
        dlclose(lib);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    n->lib = lib;
    nvml_return (*init)(void);
    /* POSIX allows converting dlsym's void * to a function pointer this way. */
    *(void **)&init = dlsym(lib, "nvmlInit_v2");
    *(void **)&n->shutdown = dlsym(lib, "nvmlShutdown");
    *(void **)&n->handle_by_index = dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&n->total_energy = dlsym(lib, "nvmlDeviceGetTotalEnergyConsumption");
    *(void **)&n->error_string = dlsym(lib, "nvmlErrorString");
    if (!init || !n->shutdown || !n->handle_by_index || !n->total_energy) {
        snprintf(why, whylen, "%s lacks the NVML functions spillway uses", path);
        dlclose(lib);
        free(n);
        return NULL;
    }
    nvml_return r = init();
    if (r != 0) {
        snprintf(why, whylen, "nvmlInit_v2: %s", nvml_err(n, r));
        dlclose(lib);
        free(n);
        return NULL;
    }
    return n;
}

void sw_nvml_close(sw_nvml *n)
{
    if (!n)
        return;
    n->shutdown();
    dlclose(n->lib);
    free(n);
}

int sw_nvml_energy_j(sw_nvml *n, unsigned index, double *energy_j, char *why, size_t whylen)
{
    nvml_device dev;
    nvml_return r = n->handle_by_index(index, &dev);
    if (r != 0) {
        snprintf(why, whylen, "GPU %u: %s", index, nvml_err(n, r));
        return -1;
    }
    unsigned long long mj = 0;
    r = n->total_energy(dev, &mj);
    if (r != 0) {
        snprintf(why, whylen, "GPU %u energy counter: %s", index, nvml_err(n, r));
        return -1;
    }
    *energy_j = (double)mj / 1000.0;
    return 0;
}
