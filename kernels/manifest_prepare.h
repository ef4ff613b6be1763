/* manifest_prepare.h - tokenizing a corpus into shard files and a manifest (the library side of
 * `spillway data prepare`).
 *
 * Inputs are files or folders (searched recursively, names in byte order, hidden entries and
 * the output folder skipped). A file named *.jsonl, *.ndjson or *.json holds JSON lines: one object
 * per line whose string field "text" is one document; any other file is one document of raw text.
 * Documents are encoded one by one (no chunk spans two documents), their tokens concatenated in
 * input order and cut into shards of shard_tokens tokens (the last may be shorter); the last
 * val_shards shards are held out for validation. Shards are written as they fill, each
 * atomically, and the manifest last, so a manifest only ever names complete shards; a manifest
 * already in the folder is removed first, so a run that fails midway leaves none. The token
 * stream has no document separator (the vocabulary has no special tokens).
 */
#ifndef SW_MANIFEST_PREPARE_H
#define SW_MANIFEST_PREPARE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/bpe.h"
#include "kernels/kerror.h"
#include "kernels/manifest.h"

typedef struct sw_prepare_opts {
    const char *out_dir;   /* created if missing */
    uint64_t shard_tokens; /* >= 1 */
    size_t val_shards;     /* < the number of shards the corpus makes */
} sw_prepare_opts;

/* Tokenizes inputs[0..n) with t into opts->out_dir; *out (may be NULL) receives the manifest
 * written (free with sw_manifest_free). SW_K_EINPUT naming the file, line and field for a bad
 * input (unreadable file, a JSON line that is not an object or has no string "text"), for an
 * empty corpus, or for val_shards leaving no training shard. */
int sw_prepare(sw_bpe *t, const char *const *inputs, size_t n, const sw_prepare_opts *opts,
               sw_manifest *out, sw_kerror *err);

#endif
