/* fmt.c - see fmt.h. */
#include "exec/fmt.h"

#include <stdarg.h>
#include <stdio.h>

void sw_pathf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}
