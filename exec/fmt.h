/* fmt.h - formatting helper shared by the exec files. */
#ifndef SW_EXEC_FMT_H
#define SW_EXEC_FMT_H

#include <stddef.h>

/* snprintf for paths and messages whose truncation is harmless or checked by the caller
 * (through vsnprintf, which keeps -Wformat-truncation quiet on names of unknown length). */
void sw_pathf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
