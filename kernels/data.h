/* data.h - the byte-level tokenizer and the token loader that feeds training.
 *
 * Tokens are bytes (vocabulary 256): a text file is its own token stream, so there is no
 * vocabulary file and bits per byte is simply loss / ln 2. The stream is split into a
 * training part (the first 90 %) and a validation part (the last 10 %). The loader cuts its
 * span into consecutive shards of B·T tokens and yields each as B rows of T inputs and the
 * same rows shifted by one as targets (so a shard reads B·T + 1 tokens); at the end of the
 * span it wraps to the start. Its position is one integer, which checkpoints save.
 */
#ifndef SW_DATA_H
#define SW_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kerror.h"

/* A whole text file in memory. */
typedef struct sw_text {
    uint8_t *bytes; /* owned; free with sw_text_free */
    size_t n;       /* length in bytes = number of tokens */
} sw_text;

/* Reads the file at path. SW_K_EINPUT (naming the file) when it cannot be opened or read or
 * is empty. */
int sw_text_load(const char *path, sw_text *out, sw_kerror *err);

/* Frees the bytes; the struct is zeroed. */
void sw_text_free(sw_text *t);

/* Byte tokenizer: ids[i] = bytes[i] (0..255). */
void sw_byte_encode(const uint8_t *bytes, size_t n, int32_t *ids);

/* Inverse of sw_byte_encode; ids outside 0..255 become '?'. */
void sw_byte_decode(const int32_t *ids, size_t n, uint8_t *bytes);

/* A half-open range [begin, end) of token positions. */
typedef struct sw_span {
    size_t begin, end;
} sw_span;

/* The training (first 90 %) and validation (last 10 %) spans of n tokens; the boundary is
 * floor(0.9 n). */
void sw_split_train_val(size_t n, sw_span *train, sw_span *val);

typedef struct sw_loader {
    const uint8_t *tokens; /* the whole stream (not owned) */
    sw_span span;          /* where this loader reads */
    size_t pos;            /* next shard starts here; span.begin <= pos < span.end */
    int B, T;
} sw_loader;

/* Prepares a loader over span of tokens for batches of B×T, starting at span.begin.
 * SW_K_EINPUT when the span holds fewer than B·T + 1 tokens (message names the span). */
int sw_loader_init(sw_loader *ld, const uint8_t *tokens, sw_span span, int B, int T,
                   sw_kerror *err);

/* Fills inputs[B*T] and targets[B*T] from the next shard and advances by B·T tokens,
 * wrapping to span.begin when the following shard would run past span.end. */
void sw_loader_next(sw_loader *ld, int32_t *inputs, int32_t *targets);

/* Moves the loader to position pos (as saved in a checkpoint). SW_K_EINPUT when pos is not
 * inside the span. */
int sw_loader_seek(sw_loader *ld, size_t pos, sw_kerror *err);

#endif
