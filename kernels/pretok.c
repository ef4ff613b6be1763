/* pretok.c - the pre-tokenisation split with PCRE2 (see pretok.h).
 *
 * PCRE2_MATCH_INVALID_UTF lets the matcher run over arbitrary bytes: an invalid UTF-8 sequence
 * can never be part of a match, so matching resumes after it and the skipped bytes are emitted
 * as a chunk of their own. PCRE2_DOLLAR_ENDONLY makes `$` mean the end of the text, as in Rust's
 * regex (tiktoken), not "before a final newline". */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "kernels/pretok.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

struct sw_pretok {
    pcre2_code *code;
    pcre2_match_data *md;
    int jit; /* JIT compiled: use pcre2_jit_match */
    char *pattern;
};

int sw_pretok_create(const char *pattern, sw_pretok **out, sw_kerror *err)
{
    *out = NULL;
    if (!pattern)
        pattern = SW_PRETOK_GPT4;
    int ecode;
    PCRE2_SIZE eoff;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY,
                      &ecode, &eoff, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        return sw_kerrorf(err, SW_K_EINPUT, "pre-tokenisation pattern: offset %zu: %s",
                          (size_t)eoff, (const char *)msg);
    }
    sw_pretok *p = calloc(1, sizeof *p);
    if (p)
        p->pattern = strdup(pattern);
    if (p)
        p->md = pcre2_match_data_create_from_pattern(code, NULL);
    if (!p || !p->pattern || !p->md) {
        if (p) {
            free(p->pattern);
            pcre2_match_data_free(p->md);
        }
        free(p);
        pcre2_code_free(code);
        return sw_kerrorf(err, SW_K_ERUNTIME, "pre-tokenisation: out of memory");
    }
    p->code = code;
    p->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    *out = p;
    return SW_K_OK;
}

void sw_pretok_destroy(sw_pretok *p)
{
    if (!p)
        return;
    pcre2_match_data_free(p->md);
    pcre2_code_free(p->code);
    free(p->pattern);
    free(p);
}

const char *sw_pretok_pattern(const sw_pretok *p)
{
    return p->pattern;
}

int sw_pretok_split(sw_pretok *p, const uint8_t *text, size_t n, sw_pretok_fn fn, void *ctx,
                    sw_kerror *err)
{
    size_t pos = 0; /* everything before pos has been emitted */
    size_t start = 0;
    while (start < n) {
        int rc = p->jit ? pcre2_jit_match(p->code, text, n, start, 0, p->md, NULL)
                        : pcre2_match(p->code, text, n, start, 0, p->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return sw_kerrorf(err, SW_K_ERUNTIME, "pre-tokenisation: at byte %zu: %s", start,
                              (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
        size_t a = ov[0], b = ov[1];
        if (a > pos) { /* bytes no match covers: invalid UTF-8 */
            int r = fn(text + pos, a - pos, ctx);
            if (r)
                return r;
        }
        if (b == a) { /* an empty match (a custom pattern): step one byte, keep it pending */
            start = a + 1;
            pos = a;
            continue;
        }
        int r = fn(text + a, b - a, ctx);
        if (r)
            return r;
        pos = start = b;
    }
    if (pos < n)
        return fn(text + pos, n - pos, ctx);
    return SW_K_OK;
}
