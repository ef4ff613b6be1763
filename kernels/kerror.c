/* kerror.c - formatting of kernels error messages (see kerror.h). */
#include "kernels/kerror.h"

#include <stdarg.h>
#include <stdio.h>

int sw_kerrorf(sw_kerror *err, int code, const char *fmt, ...)
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

void sw_kerror_clear(sw_kerror *err)
{
    if (err) {
        err->code = SW_K_OK;
        err->msg[0] = '\0';
    }
}
