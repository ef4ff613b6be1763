/* backend_registry.c - sw_backend_by_name: the one place that knows which backends this build
 * has ("cpu" always; "cuda" and "cuda-bf16" where built with CUDA, SW_HAVE_CUDA) and says why
 * one cannot be used. */
#include <stdio.h>
#include <string.h>

#include "kernels/backend.h"
#ifdef SW_HAVE_CUDA
#include "kernels/cuda_backend.h"
#endif

#ifdef SW_HAVE_CUDA
#define SW_BACKEND_NAMES "cpu, cuda, cuda-bf16"
#else
#define SW_BACKEND_NAMES "cpu"
#endif

const sw_backend *sw_backend_by_name(const char *name, char *err, size_t errlen)
{
    char local[8];
    if (err == NULL || errlen == 0) {
        err = local;
        errlen = sizeof local;
    }
    if (name == NULL || strcmp(name, "cpu") == 0)
        return sw_backend_cpu();
    if (strcmp(name, "cuda") == 0 || strcmp(name, "cuda-bf16") == 0) {
#ifdef SW_HAVE_CUDA
        char why[200];
        const sw_backend *be = sw_backend_cuda(strcmp(name, "cuda-bf16") == 0, why, sizeof why);
        if (!be)
            snprintf(err, errlen, "backend '%s': %s", name, why);
        return be;
#else
        snprintf(err, errlen, "backend '%s': built without CUDA (this build has: cpu)", name);
        return NULL;
#endif
    }
    snprintf(err, errlen, "unknown backend '%s' (this build has: %s)", name, SW_BACKEND_NAMES);
    return NULL;
}
