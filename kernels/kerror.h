/* kerror.h - status codes and error messages of the kernels library.
 *
 * kernels/ depends on nothing else of spillway, so it cannot use core/error.h; it mirrors that
 * contract instead: the same numeric codes (0 ok, 1 runtime, 2 bad input) and the same layout
 * (an int code and a 1024-byte message), so a caller can copy one into the other field by
 * field. Messages name the file, field or flag at fault.
 */
#ifndef SW_KERROR_H
#define SW_KERROR_H

enum { SW_K_OK = 0, SW_K_ERUNTIME = 1, SW_K_EINPUT = 2 };

typedef struct sw_kerror {
    int code;       /* SW_K_OK, SW_K_ERUNTIME or SW_K_EINPUT */
    char msg[1024]; /* "file: field: what was wrong, what was expected" */
} sw_kerror;

/* Formats the message into err (if non-NULL), records code and returns code. */
int sw_kerrorf(sw_kerror *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Empties err (if non-NULL). */
void sw_kerror_clear(sw_kerror *err);

#endif
