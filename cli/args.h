/* args.h - small helpers for the subcommands' option parsing: numbers with the flag named in
 * the error. Every parse error is a usage error (exit 2). */
#ifndef SW_CLI_ARGS_H
#define SW_CLI_ARGS_H

#include <stdbool.h>

/* Parses argv[*i + 1] as the value of flag argv[*i] (advancing *i). On error prints
 * "spillway CMD: FLAG: expected ..., got '...'" and returns false. */
bool sw_arg_double(const char *cmd, int argc, char **argv, int *i, double min, double *out);
bool sw_arg_long(const char *cmd, int argc, char **argv, int *i, long min, long *out);
bool sw_arg_string(const char *cmd, int argc, char **argv, int *i, const char **out);

#endif
