/* test_blas_link.c - the shipped binary trains with OpenBLAS, not GSL's reference CBLAS.
 *
 * GSL::gsl drags libgslcblas onto the link line, and the dynamic loader binds cblas_sgemm to
 * the first definition in load order; with gslcblas first, `spillway train` ran ten times
 * slower than its kernels (DEPENDENCIES.md §10). This executable is linked like `spillway`
 * (sim, exec, core, kernels), so the in-process check sees the same load order; the other
 * checks run the built binary itself: its self-report (`spillway train --info`) and the
 * loader's own record of the binding (LD_DEBUG=bindings) during a short training run. The
 * LD_PRELOAD case shows that the checks do catch a reference CBLAS when one is bound first. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/blas_info.h"

static const char *spillway(void)
{
    const char *bin = getenv("SW_SPILLWAY");
    return bin ? bin : SW_BINARY_DIR "/spillway";
}

/* Runs a shell command line and returns its stdout + stderr (malloc'd) and exit status. */
static char *run_sh(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    size_t cap = 1 << 16, len = 0, k;
    char *buf = malloc(cap);
    while ((k = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += k;
        if (cap - len < 2)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    *status = pclose(p);
    return buf;
}

Test(blas_link, this_process_binds_openblas)
{
    char lib[512];
    sw_blas_library(lib, sizeof lib);
    cr_expect(strstr(lib, "openblas") != NULL, "cblas_sgemm comes from %s", lib);
    cr_expect_eq(sw_blas_is_reference(), 0, "reference CBLAS bound: %s", lib);
}

Test(blas_link, binary_reports_openblas)
{
    char cmd[1024];
    int st;
    snprintf(cmd, sizeof cmd, "'%s' train --info 2>&1", spillway());
    char *out = run_sh(cmd, &st);
    cr_expect_eq(st, 0, "%s", out);
    cr_expect(strstr(out, "cblas_sgemm from ") && strstr(out, "libopenblas"), "%s", out);
    cr_expect(!strstr(out, "gslcblas") && !strstr(out, "REFERENCE"), "%s", out);
    free(out);
}

Test(blas_link, loader_binds_cblas_sgemm_to_openblas_while_training)
{
    char dir[] = "/tmp/sw_blas_link_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char cmd[2048];
    int st;
    snprintf(cmd, sizeof cmd,
             "head -c 20000 '%s/corpus/tinyshakespeare.txt' > %s/text.txt && "
             "LD_DEBUG=bindings '%s' train --preset tiny --data %s/text.txt --steps 1 --batch 2 "
             "--seq 16 --eval-batches 1 2>&1 | grep \"symbol \\`cblas_sgemm'\"; rm -rf %s",
             SW_SOURCE_DIR, dir, spillway(), dir, dir);
    char *out = run_sh(cmd, &st);
    cr_expect_eq(st, 0, "no binding of cblas_sgemm seen: %s", out);
    cr_expect(strstr(out, "libopenblas") != NULL, "%s", out);
    cr_expect(strstr(out, "gslcblas") == NULL, "%s", out);
    free(out);
}

Test(blas_link, a_preloaded_reference_cblas_is_reported)
{
    const char *gslcblas = "/usr/lib/x86_64-linux-gnu/libgslcblas.so.0";
    if (access(gslcblas, R_OK) != 0)
        cr_skip_test("%s not installed", gslcblas);
    char cmd[1024];
    int st;
    /* verify_asan_link_order=0: a sanitizer build otherwise refuses to start when another
     * library is preloaded ahead of its runtime (harmless without sanitizers). */
    snprintf(cmd, sizeof cmd,
             "LD_PRELOAD=%s ASAN_OPTIONS=\"$ASAN_OPTIONS:verify_asan_link_order=0\" '%s' train "
             "--info 2>&1",
             gslcblas, spillway());
    char *out = run_sh(cmd, &st);
    cr_expect(strstr(out, "gslcblas") && strstr(out, "REFERENCE"), "%s", out);
    free(out);
}
