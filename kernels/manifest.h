/* manifest.h - the manifest of a tokenized dataset (docs/formats/shard.md): which shard files
 * make it up, in corpus order, how many tokens and text bytes each holds, their checksums, and
 * which are held out for validation.
 *
 * The training shards form one token stream, [0, train_tokens): training shard k covers
 * [first_token, first_token + tokens) of it. `spillway data prepare` cuts every training shard
 * but the last to exactly shard_tokens tokens, so a shard manager over (train_tokens,
 * shard_tokens) hands out ranges that each lie inside one file (sw_manifest_locate maps them).
 * Validation shards come after the training ones and form a second stream.
 */
#ifndef SW_MANIFEST_H
#define SW_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kerror.h"

#define SW_MANIFEST_VERSION 1u
#define SW_MANIFEST_NAME    "manifest.txt"

typedef struct sw_manifest_shard {
    char *name;           /* file name inside the dataset folder (no '/') */
    char *path;           /* folder + "/" + name */
    uint64_t tokens;      /* tokens in the file (>= 1) */
    uint64_t text_bytes;  /* bytes of text those tokens decode to (for bits per byte) */
    uint32_t crc;         /* the shard header's tokens_crc */
    bool val;             /* held out for validation */
    uint64_t first_token; /* offset of its first token in its stream (training or validation) */
} sw_manifest_shard;

typedef struct sw_manifest {
    char *dir; /* the folder holding the manifest and the shards */
    uint32_t vocab_size, token_bytes;
    uint32_t tokenizer_crc; /* sw_bpe_crc of the tokenizer that made the shards */
    uint64_t shard_tokens;  /* tokens per full shard */
    sw_manifest_shard *shards;
    size_t n;       /* shards, training first, in corpus order */
    size_t n_train; /* shards[0 .. n_train) train, shards[n_train .. n) validate */
    uint64_t train_tokens, val_tokens;
    uint64_t train_bytes, val_bytes;
} sw_manifest;

/* Reads DIR/manifest.txt (path may be the folder or the manifest file itself). SW_K_EINPUT
 * naming the file, line and field at fault: unknown or missing header, bad number, shard name
 * with a '/', duplicate name, a training shard after a validation one, a training shard other
 * than the last that does not hold shard_tokens tokens, no training shard. Does not open the
 * shards (sw_manifest_verify does). Free with sw_manifest_free. */
int sw_manifest_load(const char *path, sw_manifest *out, sw_kerror *err);
void sw_manifest_free(sw_manifest *m);

/* Opens every shard and checks it against the manifest and itself: header, size, token CRC,
 * ids < vocab_size, and that vocab_size, token width, token count and CRC agree with the
 * manifest line. SW_K_EINPUT naming the shard file and field. */
int sw_manifest_verify(const sw_manifest *m, sw_kerror *err);

/* Writes m's header and shard lines to m->dir/manifest.txt atomically (m->dir, the shards and
 * counts filled by the caller; first_token, n_train and the totals are recomputed by load). */
int sw_manifest_write(const sw_manifest *m, sw_kerror *err);

/* Where token `token` of the training stream (< train_tokens) lives: *shard (an index into
 * shards) and *offset inside that file. SW_K_EINPUT when token is past the end. */
int sw_manifest_locate(const sw_manifest *m, uint64_t token, size_t *shard, uint64_t *offset,
                       sw_kerror *err);

/* A baseline in bits per byte: a unigram model of the training shards' tokens (add-one
 * smoothing) scored on the validation shards, bits summed over their tokens divided by their
 * text bytes. Reads every shard once. SW_K_EINPUT when there is no validation shard or a shard
 * cannot be read. */
int sw_manifest_unigram_bpb(const sw_manifest *m, double *bpb, sw_kerror *err);

#endif
