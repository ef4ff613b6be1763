/* error.c - formatting of sw_error messages (see error.h). */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

int sw_errorf(sw_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void sw_error_clear(sw_error *err)
{
    if (err) {
        err->code = SW_OK;
        err->msg[0] = '\0';
    }
}
