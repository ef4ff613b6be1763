/* error.h - the error contract shared by every module of spillway.
 *
 * Functions that can fail return an int status (SW_OK, SW_EINPUT for bad input, SW_ERUNTIME
 * for anything else) and, when given a non-NULL sw_error, write a one-line message that names
 * the file, line, column or field at fault and what was expected. Only the CLI prints messages
 * and chooses exit codes (SW_EINPUT -> exit 2, SW_ERUNTIME -> exit 1).
 */
#ifndef SW_ERROR_H
#define SW_ERROR_H

#include <stddef.h>

enum { SW_OK = 0, SW_ERUNTIME = 1, SW_EINPUT = 2 };

typedef struct sw_error {
    int code;       /* SW_OK, SW_ERUNTIME or SW_EINPUT */
    char msg[1024]; /* "file:line:col: what was wrong, what was expected" */
} sw_error;

/* Formats the message into err (if non-NULL), records code and returns code. */
int sw_errorf(sw_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Empties err (if non-NULL). */
void sw_error_clear(sw_error *err);

#endif
