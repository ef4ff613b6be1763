/* manifest_stream.h - an agent's reader for one lease of a tokenized dataset: maps the one
 * shard file the lease lies in and yields training batches from it, front to back.
 *
 * A lease is (shard, offset, length): tokens [offset, offset + length) of one shard of the
 * manifest (sw_manifest_locate turns a shard manager's range of the training stream into it).
 * Each of those tokens is an input exactly once; its target is the token after it, which may be
 * the first token of the next shard of the same split (read from that file's header and first
 * bytes only). A batch is up to B rows of T consecutive inputs: full batches while B·T inputs
 * remain, then one short batch of the remaining whole rows. What is left after that, fewer than
 * T tokens, or a last token with no successor in its split, is "dropped": counted as consumed
 * but not trained on (sw_lease_stream_dropped). With shard_tokens and lease boundaries
 * multiples of T, only the last row of each split is dropped (T tokens: its last token has no
 * target).
 *
 * Memory: one mapping of one shard file; pages are read as the batches reach them.
 */
#ifndef SW_MANIFEST_STREAM_H
#define SW_MANIFEST_STREAM_H

#include <stdint.h>

#include "kernels/kerror.h"
#include "kernels/manifest.h"

typedef struct sw_lease_stream sw_lease_stream;

/* Opens shard `shard` of m (index into m->shards; m must outlive the stream) for the lease
 * [offset, offset + length) and batches of B×T. The shard's header is checked against the
 * manifest (vocab_size, token width, count); check_tokens also checks its CRC (one pass over
 * the file). SW_K_EINPUT naming the file and field when the lease does not fit the shard or the
 * file disagrees with the manifest. */
int sw_lease_stream_open(const sw_manifest *m, size_t shard, uint64_t offset, uint64_t length,
                         int B, int T, bool check_tokens, sw_lease_stream **out, sw_kerror *err);
/* The same for a shard manager's lease [begin, end) of the training stream (0 <= begin < end <=
 * train_tokens): located with sw_manifest_locate. SW_K_EINPUT when the range spans two shard
 * files (the manager was not created with the manifest's shard_tokens). */
int sw_lease_stream_open_range(const sw_manifest *m, uint64_t begin, uint64_t end, int B, int T,
                               bool check_tokens, sw_lease_stream **out, sw_kerror *err);
void sw_lease_stream_close(sw_lease_stream *s);

/* Fills inputs[rows*T] and targets[rows*T] (caller-owned, room for B*T each) with the next
 * batch; *rows is B for a full batch, 1..B-1 for the short last one, 0 when the lease is used
 * up (then nothing is written). */
int sw_lease_stream_next(sw_lease_stream *s, int32_t *inputs, int32_t *targets, int *rows,
                         sw_kerror *err);

/* Tokens of the lease consumed so far (inputs yielded plus dropped): what the agent reports to
 * the shard manager, and where a resumed lease starts (offset + consumed). */
uint64_t sw_lease_stream_consumed(const sw_lease_stream *s);
/* Tokens consumed without being trained on (see above). */
uint64_t sw_lease_stream_dropped(const sw_lease_stream *s);
/* The shard offset the next batch starts at (offset + consumed). */
uint64_t sw_lease_stream_position(const sw_lease_stream *s);

#endif
