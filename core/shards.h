/* shards.h - the data-shard manager: hands unprocessed token ranges of the dataset to sites so
 * that over the whole run every token is trained exactly once.
 *
 * The dataset is the token range [0, total_tokens), cut into shards of shard_tokens tokens
 * ([i·s, min((i+1)·s, total))). A site acquires a shard and receives a lease: a lease id and
 * the range [begin, end) it may train on, front to back. The site then reports progress (it
 * consumed the next c tokens of the lease), or gives the lease back with its final progress:
 * the consumed prefix is done and the unconsumed remainder returns to the pool as a smaller
 * piece. When a site leaves or fails, every lease it holds returns to the pool, minus what it
 * had reported. Each token is always in exactly one of three places: the pool, one lease, or
 * done, so no token is trained twice and none is lost; the run is complete when all are done.
 *
 * Deterministic: the pool hands out its lowest offset first (returned remainders before fresh
 * shards beyond them), and lease ids count up from 1.
 *
 * Checkpoints: the whole state serializes to a flat little-endian byte buffer with a magic,
 * a format version and a checksum; a corrupt, truncated or inconsistent buffer gives
 * SW_EINPUT naming the field at fault.
 */
#ifndef SW_SHARDS_H
#define SW_SHARDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sw_shards sw_shards;

/* A lease: range [begin_token, end_token) of the dataset held by `site`; begin_token moves up
 * as progress is reported. */
typedef struct sw_shard_lease {
    uint64_t lease_id; /* >= 1, unique over the run */
    uint32_t site;     /* the caller's site index */
    uint64_t begin_token;
    uint64_t end_token;
} sw_shard_lease;

/* Creates a manager for a dataset of total_tokens (>= 1) cut into shard_tokens (>= 1) pieces.
 * Owns its memory: free with sw_shards_destroy. */
int sw_shards_create(uint64_t total_tokens, uint64_t shard_tokens, sw_shards **out, sw_error *err);
void sw_shards_destroy(sw_shards *s);

/* Hands `site` the lowest unprocessed range of the pool (a whole fresh shard or a returned
 * remainder) as a new lease. *got is false (and *lease untouched) when the pool is empty;
 * that is not an error: other sites may still hand work back. */
int sw_shards_acquire(sw_shards *s, uint32_t site, sw_shard_lease *lease, bool *got, sw_error *err);

/* The site consumed `tokens` more tokens from the front of its lease (incremental). A lease
 * consumed to its end is closed. Errors: unknown lease, lease held by another site, or more
 * tokens than the lease has left. */
int sw_shards_progress(sw_shards *s, uint32_t site, uint64_t lease_id, uint64_t tokens,
                       sw_error *err);

/* Final report and release: like sw_shards_progress, then the unconsumed remainder (if any)
 * goes back to the pool and the lease is closed. */
int sw_shards_release(sw_shards *s, uint32_t site, uint64_t lease_id, uint64_t tokens,
                      sw_error *err);

/* The site left or failed: every lease it holds returns to the pool (whatever it trained
 * beyond its last report is treated as not trained). *returned (may be NULL) receives the
 * number of leases returned; a site holding none is not an error. */
int sw_shards_site_left(sw_shards *s, uint32_t site, size_t *returned, sw_error *err);

/* True when every token of the dataset is done. */
bool sw_shards_complete(const sw_shards *s);

uint64_t sw_shards_total_tokens(const sw_shards *s);
uint64_t sw_shards_shard_tokens(const sw_shards *s);
uint64_t sw_shards_done_tokens(const sw_shards *s);   /* consumed and reported */
uint64_t sw_shards_leased_tokens(const sw_shards *s); /* held by sites, not yet consumed */
uint64_t sw_shards_pool_tokens(const sw_shards *s);   /* waiting to be handed out */

/* Open leases in order of lease id: count, and the i-th (i < count) copied into *lease. */
size_t sw_shards_lease_count(const sw_shards *s);
int sw_shards_lease_at(const sw_shards *s, size_t i, sw_shard_lease *lease, sw_error *err);
/* Looks a lease up by id; false if it is not open. */
bool sw_shards_lease_find(const sw_shards *s, uint64_t lease_id, sw_shard_lease *lease);

/* Bytes sw_shards_serialize writes for the current state. */
size_t sw_shards_serialized_size(const sw_shards *s);
/* Writes the state into buf (capacity cap, caller-owned); *len receives the bytes written.
 * SW_ERUNTIME if cap is too small. */
int sw_shards_serialize(const sw_shards *s, void *buf, size_t cap, size_t *len, sw_error *err);
/* Rebuilds a manager from a buffer written by sw_shards_serialize (any version this build
 * knows). Open leases are restored as leases; a coordinator that restarts without its sites
 * calls sw_shards_site_left for each. SW_EINPUT on a bad magic, unknown version, wrong length,
 * checksum mismatch or inconsistent content. *out owned by the caller. */
int sw_shards_deserialize(const void *buf, size_t len, sw_shards **out, sw_error *err);

#endif
