/* shardfile.h - tokenized shard files (docs/formats/shard.md) and read-only file mappings.
 *
 * A shard is a 64-byte little-endian header (magic, version, vocabulary size, token width,
 * token count, CRC-32 of the tokens, CRC-32 of the header) followed by the tokens as uint16 or
 * uint32. Writers write PATH.tmp and rename it over PATH, so a reader never sees half a shard.
 * Readers memory-map the file: opening one costs its header (and, when asked, one pass to check
 * the tokens' CRC), never a copy of the tokens. Also here: read-only mappings of any file, the
 * atomic file write and little-endian field helpers that the tokenizer file shares.
 */
#ifndef SW_SHARDFILE_H
#define SW_SHARDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kerror.h"

#define SW_SHARD_VERSION      1u
#define SW_SHARD_HEADER_BYTES 64u

/* ---- a whole file, mapped read-only ------------------------------------------------------ */

typedef struct sw_mapfile {
    const uint8_t *data; /* NULL when size is 0 */
    size_t size;
} sw_mapfile;

/* Maps path read-only (an empty file gives size 0). SW_K_EINPUT naming the file when it cannot
 * be opened or mapped. Unmap with sw_mapfile_close. */
int sw_mapfile_open(const char *path, sw_mapfile *out, sw_kerror *err);
void sw_mapfile_close(sw_mapfile *m);

/* Writes n bytes to path atomically: path.tmp, then rename over path; a failure removes the
 * temporary file. SW_K_ERUNTIME naming the file on any I/O error. */
int sw_file_write_atomic(const char *path, const void *data, size_t n, sw_kerror *err);

/* Little-endian fields of the tokenizer and shard files. */
static inline void sw_le_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void sw_le_put64(uint8_t *p, uint64_t v)
{
    sw_le_put32(p, (uint32_t)v);
    sw_le_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t sw_le_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t sw_le_get64(const uint8_t *p)
{
    return (uint64_t)sw_le_get32(p) | (uint64_t)sw_le_get32(p + 4) << 32;
}

/* ---- shard header ------------------------------------------------------------------------ */

typedef struct sw_shard_info {
    uint32_t vocab_size;  /* every token is < vocab_size */
    uint32_t token_bytes; /* 2 (uint16) or 4 (uint32) */
    uint64_t tokens;      /* number of tokens */
    uint32_t tokens_crc;  /* CRC-32 of the token bytes */
} sw_shard_info;

/* The token width a vocabulary needs: 2 when every id fits uint16, else 4. */
uint32_t sw_shard_token_bytes_for(uint32_t vocab_size);

/* ---- writing ----------------------------------------------------------------------------- */

/* Writes ids[0..n) as a shard at path (atomically), with the width vocab_size needs.
 * SW_K_EINPUT when an id is >= vocab_size (naming the position); SW_K_ERUNTIME on I/O failure.
 * *info (may be NULL) receives the header written. */
int sw_shard_write(const char *path, uint32_t vocab_size, const uint32_t *ids, size_t n,
                   sw_shard_info *info, sw_kerror *err);

/* ---- reading ----------------------------------------------------------------------------- */

typedef struct sw_shard {
    sw_mapfile map;
    sw_shard_info info;
    const uint8_t *tokens; /* info.tokens tokens of info.token_bytes bytes each */
} sw_shard;

/* Maps the shard at path and checks its header: magic, version, token width, header CRC, that
 * the size matches the token count (truncated or oversized files), and when check_tokens also
 * the tokens' CRC and that every token is < vocab_size. SW_K_EINPUT naming the file and the
 * field at fault. Close with sw_shard_close. */
int sw_shard_open(const char *path, bool check_tokens, sw_shard *out, sw_kerror *err);
void sw_shard_close(sw_shard *s);

/* Token i (< info.tokens) as an id. */
static inline uint32_t sw_shard_token(const sw_shard *s, uint64_t i)
{
    const uint8_t *p = s->tokens + i * s->info.token_bytes;
    if (s->info.token_bytes == 2)
        return (uint32_t)p[0] | (uint32_t)p[1] << 8;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
