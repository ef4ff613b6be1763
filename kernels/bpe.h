/* bpe.h - byte-level BPE tokenizer: a vocabulary of byte strings ranked 0..n-1 (token id =
 * rank), a pre-tokenisation pattern, encoding and decoding.
 *
 * Encoding follows tiktoken's rule, so a tiktoken vocabulary gives tiktoken's ids: the text is
 * split into chunks (pretok.h); a chunk that is itself a token is that token; otherwise it
 * starts as single bytes and the adjacent pair whose concatenation has the lowest rank is
 * merged, leftmost first on a tie, until no adjacent pair concatenates to a token. Per chunk
 * this runs on a linked list with a binary heap of candidate pairs: O(m log m) for m bytes.
 * Every one of the 256 single bytes must be a token, so any byte string can be encoded, and
 * decoding concatenates the tokens' bytes: decode(encode(x)) == x for every x.
 *
 * Files (docs/formats/tokenizer.md): spillway's binary file (magic, vocabulary, pattern, CRC)
 * and tiktoken's text format (one "base64-token rank" per line, as in cl100k_base.tiktoken).
 */
#ifndef SW_BPE_H
#define SW_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kerror.h"

#define SW_BPE_FILE_VERSION    1u
#define SW_BPE_MAX_TOKEN_BYTES 65535u

typedef struct sw_bpe sw_bpe;

/* Builds a tokenizer from n token strings in rank order: token i is lens[i] bytes at
 * bytes + offs[i] (copied). pattern: the pre-tokenisation regex (NULL: GPT-4's). SW_K_EINPUT
 * when a token is empty or too long, two tokens are equal, a single byte is missing, or the
 * pattern does not compile (the message names `what`, e.g. the file, and the rank). */
int sw_bpe_create(const char *what, uint32_t n, const uint8_t *bytes, const uint64_t *offs,
                  const uint32_t *lens, const char *pattern, sw_bpe **out, sw_kerror *err);
void sw_bpe_destroy(sw_bpe *t);

uint32_t sw_bpe_vocab_size(const sw_bpe *t);
const char *sw_bpe_pattern(const sw_bpe *t);
/* The bytes of token id (< vocab size), *len its length; owned by t. */
const uint8_t *sw_bpe_token(const sw_bpe *t, uint32_t id, size_t *len);

/* A growable array of token ids (owned by the caller; free with sw_ids_free). */
typedef struct sw_ids {
    uint32_t *v;
    size_t n, cap;
} sw_ids;
void sw_ids_free(sw_ids *ids);

/* Appends the tokens of text[0..n) to out. SW_K_ERUNTIME when memory runs out or the matcher
 * fails. Not thread-safe on one sw_bpe (scratch buffers); use one per thread. */
int sw_bpe_encode(sw_bpe *t, const uint8_t *text, size_t n, sw_ids *out, sw_kerror *err);

/* Bytes that decoding ids[0..n) gives; SW_K_EINPUT naming the position when an id is not in
 * the vocabulary. */
int sw_bpe_decoded_len(const sw_bpe *t, const uint32_t *ids, size_t n, size_t *len, sw_kerror *err);
/* Writes the bytes of ids[0..n) to buf (sw_bpe_decoded_len bytes, caller-owned). SW_K_EINPUT
 * naming the position when an id is not in the vocabulary. */
int sw_bpe_decode(const sw_bpe *t, const uint32_t *ids, size_t n, uint8_t *buf, sw_kerror *err);

/* Reads a tokenizer file: spillway's binary format (recognised by its magic) or, otherwise, a
 * tiktoken text file with the GPT-4 pattern. SW_K_EINPUT naming the file and the field or line
 * at fault (bad magic, version, truncation, CRC, base64, duplicate or missing rank...). */
int sw_bpe_load(const char *path, sw_bpe **out, sw_kerror *err);
/* Reads a tiktoken text file; pattern NULL: GPT-4's. Ranks must be 0..n-1, each once. */
int sw_bpe_load_tiktoken(const char *path, const char *pattern, sw_bpe **out, sw_kerror *err);
/* Writes spillway's binary file, atomically (path.tmp, then rename). SW_K_ERUNTIME on I/O
 * failure. */
int sw_bpe_save(const sw_bpe *t, const char *path, sw_kerror *err);
/* Writes the vocabulary as a tiktoken text file (ranks in order), atomically. The pattern is
 * not part of that format. */
int sw_bpe_save_tiktoken(const sw_bpe *t, const char *path, sw_kerror *err);
/* CRC-32 of the binary file's content (the value stored at its end): names a tokenizer in
 * manifests. */
uint32_t sw_bpe_crc(const sw_bpe *t);

#endif
