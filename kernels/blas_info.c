/* blas_info.c - which BLAS the process binds to and what the CPU offers (see blas_info.h). */
#define _GNU_SOURCE /* dladdr */
#include "kernels/blas_info.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS's own queries (declared in OpenBLAS's cblas.h; repeated so that the file also
 * builds against another CBLAS header). */
char *openblas_get_config(void);
char *openblas_get_corename(void);

const char *sw_blas_library(char *buf, size_t n)
{
    Dl_info info;
    /* The address of cblas_sgemm as this process resolved it (through the GOT in a PIE). */
    void (*fn)(void) = (void (*)(void))cblas_sgemm;
    void *addr;
    memcpy(&addr, &fn, sizeof addr);
    if (dladdr(addr, &info) && info.dli_fname && info.dli_fname[0])
        snprintf(buf, n, "%s", info.dli_fname);
    else
        snprintf(buf, n, "(unknown)");
    return buf;
}

int sw_blas_is_reference(void)
{
    char lib[512];
    sw_blas_library(lib, sizeof lib);
    const char *base = strrchr(lib, '/');
    base = base ? base + 1 : lib;
    return strstr(base, "gslcblas") != NULL || strncmp(base, "libcblas.", 9) == 0 ||
           strncmp(base, "libblas.", 8) == 0;
}

const char *sw_compute_describe(char *buf, size_t n)
{
    char lib[512];
    sw_blas_library(lib, sizeof lib);
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    __builtin_cpu_init();
    snprintf(buf, n,
             "blas: cblas_sgemm from %s%s; openblas: %s, core %s; OPENBLAS_CORETYPE=%s; "
             "cpu: avx2=%d fma=%d avx512f=%d avx512bf16=%d",
             lib, sw_blas_is_reference() ? " (REFERENCE CBLAS: slow)" : "",
             strstr(lib, "openblas") ? openblas_get_config() : "-",
             strstr(lib, "openblas") ? openblas_get_corename() : "-",
             coretype ? coretype : "(unset)", !!__builtin_cpu_supports("avx2"),
             !!__builtin_cpu_supports("fma"), !!__builtin_cpu_supports("avx512f"),
             !!__builtin_cpu_supports("avx512bf16"));
    return buf;
}
