/* args.c - option value parsing for the subcommands (see args.h). */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

bool sw_arg_string(const char *cmd, int argc, char **argv, int *i, const char **out)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "spillway %s: %s: expected a value after the flag\n", cmd, argv[*i]);
        return false;
    }
    *out = argv[++*i];
    return true;
}

bool sw_arg_double(const char *cmd, int argc, char **argv, int *i, double min, double *out)
{
    const char *flag = argv[*i], *s;
    if (!sw_arg_string(cmd, argc, argv, i, &s))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min) {
        fprintf(stderr, "spillway %s: %s: expected a number >= %g, got '%s'\n", cmd, flag, min, s);
        return false;
    }
    *out = v;
    return true;
}

bool sw_arg_long(const char *cmd, int argc, char **argv, int *i, long min, long *out)
{
    const char *flag = argv[*i], *s;
    if (!sw_arg_string(cmd, argc, argv, i, &s))
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min) {
        fprintf(stderr, "spillway %s: %s: expected an integer >= %ld, got '%s'\n", cmd, flag, min,
                s);
        return false;
    }
    *out = v;
    return true;
}
