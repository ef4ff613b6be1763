/* blas_info.h - which BLAS this process actually calls, and what the CPU offers: the
 * self-report behind `spillway train --info` and the link tests (a reference CBLAS such as
 * GSL's libgslcblas shadowing OpenBLAS made training ten times slower, DEPENDENCIES.md §10).
 */
#ifndef SW_BLAS_INFO_H
#define SW_BLAS_INFO_H

#include <stddef.h>

/* Writes into buf (at most n bytes, NUL-terminated) the path of the shared object that
 * defines the cblas_sgemm this process binds to (dladdr), or "(static)" / "(unknown)" when
 * it cannot be told. Returns buf. */
const char *sw_blas_library(char *buf, size_t n);

/* 1 when cblas_sgemm resolves to a reference CBLAS (libgslcblas or netlib's libcblas /
 * libblas), which is an order of magnitude slower than OpenBLAS; 0 otherwise. */
int sw_blas_is_reference(void);

/* Writes one line describing the compute set-up: the BLAS library and, for OpenBLAS, its
 * build configuration and the core type it selected; the CPU's vector extensions that the
 * kernels can use (avx2, fma, avx512f, avx512bf16); OPENBLAS_CORETYPE when set. Returns buf. */
const char *sw_compute_describe(char *buf, size_t n);

#endif
