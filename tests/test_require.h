/* test_require.h - what a test executable does when a tool it needs is missing: it exits with
 * CTest's skip code (SW_TEST_SKIP, registered as SKIP_RETURN_CODE in tests/CMakeLists.txt) so
 * that CTest shows it as skipped rather than passed; under CI=true the tool is required and
 * the test fails instead. Call before running any test. */
#ifndef SW_TEST_REQUIRE_H
#define SW_TEST_REQUIRE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SW_TEST_SKIP 77

/* Returns if `present`; otherwise prints why and exits (77, or 1 under CI=true). */
static inline void sw_test_require(bool present, const char *what)
{
    if (present)
        return;
    const char *ci = getenv("CI");
    if (ci && !strcmp(ci, "true")) {
        fprintf(stderr, "FAILED: %s is required under CI=true and is missing\n", what);
        exit(1);
    }
    fprintf(stderr, "SKIPPED: %s is missing (CTest shows this test as skipped)\n", what);
    exit(SW_TEST_SKIP);
}

/* The spillway executable named by $SW_SPILLWAY (set by tests/CMakeLists.txt). */
static inline void sw_test_require_spillway(void)
{
    const char *bin = getenv("SW_SPILLWAY");
    struct stat st;
    sw_test_require(bin && stat(bin, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111),
                    "the spillway binary ($SW_SPILLWAY; build the `spillway` target)");
}

#endif
