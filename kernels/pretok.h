/* pretok.h - pre-tokenisation: splits text into the chunks that BPE merges within, never across.
 *
 * The split is a regular expression matched left to right (PCRE2, Unicode classes, JIT). The
 * default is GPT-4's (cl100k_base) pattern, so words keep one leading space, digits go in runs
 * of at most three, punctuation runs and newlines stand apart. Text need not be valid UTF-8:
 * bytes no match can cover (invalid sequences) become chunks of their own, so the chunks always
 * tile the input exactly and any byte string round-trips.
 */
#ifndef SW_PRETOK_H
#define SW_PRETOK_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kerror.h"

/* GPT-4's split (tiktoken's cl100k_base pat_str, character for character). */
#define SW_PRETOK_GPT4                                                                             \
    "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}++|\\p{N}{1,3}+| ?[^\\s\\p{L}\\p{N}]++"    \
    "[\\r\\n]*+|\\s++$|\\s*[\\r\\n]|\\s+(?!\\S)|\\s"

typedef struct sw_pretok sw_pretok;

/* Compiles pattern (NULL: SW_PRETOK_GPT4). SW_K_EINPUT naming the offset when the pattern does
 * not compile. Free with sw_pretok_destroy. */
int sw_pretok_create(const char *pattern, sw_pretok **out, sw_kerror *err);
void sw_pretok_destroy(sw_pretok *p);

/* The pattern it was compiled from (owned by p). */
const char *sw_pretok_pattern(const sw_pretok *p);

/* Calls fn(chunk, len, ctx) for each chunk of text[0..n) in order; the chunks concatenate to
 * the text. Stops early and returns fn's value when fn returns non-zero; SW_K_ERUNTIME when the
 * matcher fails (e.g. match limit); 0 otherwise. Not thread-safe per sw_pretok (one match
 * buffer); use one sw_pretok per thread. */
typedef int (*sw_pretok_fn)(const uint8_t *chunk, size_t len, void *ctx);
int sw_pretok_split(sw_pretok *p, const uint8_t *text, size_t n, sw_pretok_fn fn, void *ctx,
                    sw_kerror *err);

#endif
