/* cli_run.h - runs the built `spillway` binary (path in $SW_SPILLWAY, set by CTest) with
 * arguments, capturing its exit status, stdout and stderr, for end-to-end CLI tests. */
#ifndef SW_TEST_CLI_RUN_H
#define SW_TEST_CLI_RUN_H

#include <stddef.h>

typedef struct cli_result {
    int status; /* exit status, or 128 + signal */
    char *out;  /* stdout, NUL-terminated, malloc'd */
    char *err;  /* stderr, NUL-terminated, malloc'd */
} cli_result;

/* Runs `spillway ARGS...` (NULL-terminated array) and fills *r. Returns 0 or -1 on failure to
 * start. Free with cli_result_free. */
int cli_run(const char *const *args, cli_result *r);
void cli_result_free(cli_result *r);

#endif
