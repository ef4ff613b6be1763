/* shardfile.c - shard files and file mappings (see shardfile.h, docs/formats/shard.md). */
#include "kernels/shardfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/checkpoint.h" /* sw_crc32 */

static const uint8_t MAGIC[8] = {'S', 'W', 'S', 'H', 'A', 'R', 'D', '\n'};

int sw_mapfile_open(const char *path, sw_mapfile *out, sw_kerror *err)
{
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sw_kerrorf(err, SW_K_EINPUT, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return sw_kerrorf(err, SW_K_EINPUT, "%s: cannot map: %s", path, strerror(e));
        }
        out->data = p;
        out->size = (size_t)st.st_size;
    }
    close(fd);
    return SW_K_OK;
}

void sw_mapfile_close(sw_mapfile *m)
{
    if (m->data)
        munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

uint32_t sw_shard_token_bytes_for(uint32_t vocab_size)
{
    return vocab_size <= 65536u ? 2u : 4u;
}

/* Header layout (offsets): 0 magic[8], 8 version, 12 vocab_size, 16 token_bytes, 20 reserved,
 * 24 tokens (u64), 32 tokens_crc, 36..59 reserved (zero), 60 header_crc (of bytes 0..59). */
static void header_encode(uint8_t *h, const sw_shard_info *in)
{
    memset(h, 0, SW_SHARD_HEADER_BYTES);
    memcpy(h, MAGIC, 8);
    sw_le_put32(h + 8, SW_SHARD_VERSION);
    sw_le_put32(h + 12, in->vocab_size);
    sw_le_put32(h + 16, in->token_bytes);
    sw_le_put64(h + 24, in->tokens);
    sw_le_put32(h + 32, in->tokens_crc);
    sw_le_put32(h + 60, sw_crc32(0, h, 60));
}

int sw_file_write_atomic(const char *path, const void *data, size_t n, sw_kerror *err)
{
    size_t tl = strlen(path) + 5;
    char *tmp = malloc(tl);
    if (!tmp)
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", path);
    snprintf(tmp, tl, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int rc = SW_K_OK;
    if (!f)
        rc = sw_kerrorf(err, SW_K_ERUNTIME, "%s: cannot create: %s", tmp, strerror(errno));
    else {
        int bad = fwrite(data, 1, n, f) != n;
        bad |= fclose(f) != 0;
        if (bad || rename(tmp, path) != 0) {
            rc = sw_kerrorf(err, SW_K_ERUNTIME, "%s: cannot write: %s", path, strerror(errno));
            remove(tmp);
        }
    }
    free(tmp);
    return rc;
}

int sw_shard_write(const char *path, uint32_t vocab_size, const uint32_t *ids, size_t n,
                   sw_shard_info *info, sw_kerror *err)
{
    sw_shard_info hdr = {vocab_size, sw_shard_token_bytes_for(vocab_size), n, 0};
    size_t bytes = n * hdr.token_bytes;
    uint8_t *buf = malloc(SW_SHARD_HEADER_BYTES + bytes);
    if (!buf)
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", path);
    uint8_t *tok = buf + SW_SHARD_HEADER_BYTES;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= vocab_size) {
            free(buf);
            return sw_kerrorf(err, SW_K_EINPUT, "%s: token %zu: id %u, expected < %u", path, i,
                              ids[i], vocab_size);
        }
        uint8_t *p = tok + i * hdr.token_bytes;
        p[0] = (uint8_t)ids[i];
        p[1] = (uint8_t)(ids[i] >> 8);
        if (hdr.token_bytes == 4) {
            p[2] = (uint8_t)(ids[i] >> 16);
            p[3] = (uint8_t)(ids[i] >> 24);
        }
    }
    hdr.tokens_crc = sw_crc32(0, tok, bytes);
    header_encode(buf, &hdr);
    int rc = sw_file_write_atomic(path, buf, SW_SHARD_HEADER_BYTES + bytes, err);
    free(buf);
    if (rc == SW_K_OK && info)
        *info = hdr;
    return rc;
}

int sw_shard_open(const char *path, bool check_tokens, sw_shard *out, sw_kerror *err)
{
    memset(out, 0, sizeof *out);
    sw_mapfile m;
    int rc = sw_mapfile_open(path, &m, err);
    if (rc != SW_K_OK)
        return rc;
    const uint8_t *h = m.data;
    sw_shard_info in = {0};
    if (m.size < SW_SHARD_HEADER_BYTES)
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: header: truncated (%zu bytes, expected >= %u)", path,
                        m.size, SW_SHARD_HEADER_BYTES);
    else if (memcmp(h, MAGIC, 8))
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: magic: not a spillway shard file", path);
    else if (sw_le_get32(h + 8) != SW_SHARD_VERSION)
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: version: %u, expected %u", path, sw_le_get32(h + 8),
                        SW_SHARD_VERSION);
    else if (sw_le_get32(h + 60) != sw_crc32(0, h, 60))
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: header_crc: stored %08x, computed %08x", path,
                        sw_le_get32(h + 60), sw_crc32(0, h, 60));
    for (size_t i = 20; rc == SW_K_OK && i < 60; i++)
        if ((i < 24 || i >= 36) && h[i])
            rc = sw_kerrorf(err, SW_K_EINPUT, "%s: reserved (offset %zu): %u, expected 0", path, i,
                            h[i]);
    if (rc == SW_K_OK) {
        in.vocab_size = sw_le_get32(h + 12);
        in.token_bytes = sw_le_get32(h + 16);
        in.tokens = sw_le_get64(h + 24);
        in.tokens_crc = sw_le_get32(h + 32);
        uint64_t want;
        if (in.token_bytes != 2 && in.token_bytes != 4)
            rc = sw_kerrorf(err, SW_K_EINPUT, "%s: token_bytes: %u, expected 2 or 4", path,
                            in.token_bytes);
        else if (in.vocab_size < 1 || (in.token_bytes == 2 && in.vocab_size > 65536u))
            rc = sw_kerrorf(
                err, SW_K_EINPUT, "%s: vocab_size: %u, expected 1..%s for %u-byte tokens", path,
                in.vocab_size, in.token_bytes == 2 ? "65536" : "2^32-1", in.token_bytes);
        else if (in.tokens > (UINT64_MAX - SW_SHARD_HEADER_BYTES) / in.token_bytes ||
                 (want = SW_SHARD_HEADER_BYTES + in.tokens * in.token_bytes) != m.size)
            rc = sw_kerrorf(
                err, SW_K_EINPUT,
                "%s: tokens: the header says %llu tokens of %u bytes, the file has "
                "%zu bytes after the header (%s)",
                path, (unsigned long long)in.tokens, in.token_bytes, m.size - SW_SHARD_HEADER_BYTES,
                SW_SHARD_HEADER_BYTES + in.tokens * in.token_bytes > m.size ? "truncated"
                                                                            : "trailing bytes");
    }
    if (rc == SW_K_OK) {
        out->map = m;
        out->info = in;
        out->tokens = m.data + SW_SHARD_HEADER_BYTES;
        if (check_tokens) {
            uint32_t crc = sw_crc32(0, out->tokens, in.tokens * in.token_bytes);
            if (crc != in.tokens_crc)
                rc = sw_kerrorf(err, SW_K_EINPUT, "%s: tokens_crc: stored %08x, computed %08x",
                                path, in.tokens_crc, crc);
            for (uint64_t i = 0; rc == SW_K_OK && i < in.tokens; i++)
                if (sw_shard_token(out, i) >= in.vocab_size)
                    rc = sw_kerrorf(err, SW_K_EINPUT, "%s: token %llu: id %u, expected < %u", path,
                                    (unsigned long long)i, sw_shard_token(out, i), in.vocab_size);
        }
    }
    if (rc != SW_K_OK) {
        sw_mapfile_close(&m);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

void sw_shard_close(sw_shard *s)
{
    sw_mapfile_close(&s->map);
    memset(s, 0, sizeof *s);
}
