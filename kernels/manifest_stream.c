/* manifest_stream.c - batches from one lease of a shard (see manifest_stream.h). */
#include "kernels/manifest_stream.h"

#include <stdlib.h>

#include "kernels/shardfile.h"

struct sw_lease_stream {
    sw_shard shard;
    uint64_t begin, end; /* the lease, as shard offsets */
    uint64_t pos;        /* next input */
    uint64_t dropped;
    int has_next;        /* a successor token after the shard's last one exists */
    uint32_t next_first; /* that token */
    int B, T;
};

static int check_header(const sw_manifest *m, const sw_manifest_shard *ms, const sw_shard *s,
                        sw_kerror *err)
{
    const char *field = NULL;
    unsigned long long got = 0, want = 0;
    if (s->info.vocab_size != m->vocab_size)
        field = "vocab_size", got = s->info.vocab_size, want = m->vocab_size;
    else if (s->info.token_bytes != m->token_bytes)
        field = "token_bytes", got = s->info.token_bytes, want = m->token_bytes;
    else if (s->info.tokens != ms->tokens)
        field = "tokens", got = s->info.tokens, want = ms->tokens;
    if (field)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: %s: %llu, the manifest says %llu", ms->path, field,
                          got, want);
    return SW_K_OK;
}

int sw_lease_stream_open(const sw_manifest *m, size_t shard, uint64_t offset, uint64_t length,
                         int B, int T, bool check_tokens, sw_lease_stream **out, sw_kerror *err)
{
    *out = NULL;
    if (B < 1 || T < 1)
        return sw_kerrorf(err, SW_K_EINPUT, "lease stream: batch %d x %d, expected >= 1 each", B,
                          T);
    if (shard >= m->n)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: shard %zu: the manifest has %zu shards", m->dir,
                          shard, m->n);
    const sw_manifest_shard *ms = &m->shards[shard];
    if (offset > ms->tokens || length > ms->tokens - offset)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "%s: lease [%llu, %llu): outside the shard's %llu tokens", ms->path,
                          (unsigned long long)offset, (unsigned long long)(offset + length),
                          (unsigned long long)ms->tokens);
    sw_lease_stream *s = calloc(1, sizeof *s);
    if (!s)
        return sw_kerrorf(err, SW_K_ERUNTIME, "lease stream: out of memory");
    int rc = sw_shard_open(ms->path, check_tokens, &s->shard, err);
    if (rc == SW_K_OK)
        rc = check_header(m, ms, &s->shard, err);
    if (rc == SW_K_OK && check_tokens && s->shard.info.tokens_crc != ms->crc)
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: tokens_crc: %08x, the manifest says %08x", ms->path,
                        s->shard.info.tokens_crc, ms->crc);
    /* the successor of the shard's last token: the next shard of the same split */
    if (rc == SW_K_OK && offset + length == ms->tokens && shard + 1 < m->n &&
        m->shards[shard + 1].val == ms->val) {
        sw_shard nx;
        rc = sw_shard_open(m->shards[shard + 1].path, false, &nx, err);
        if (rc == SW_K_OK) {
            rc = check_header(m, &m->shards[shard + 1], &nx, err);
            if (rc == SW_K_OK) {
                s->has_next = 1;
                s->next_first = sw_shard_token(&nx, 0);
            }
            sw_shard_close(&nx);
        }
    }
    if (rc != SW_K_OK) {
        sw_lease_stream_close(s);
        return rc;
    }
    s->begin = s->pos = offset;
    s->end = offset + length;
    s->B = B;
    s->T = T;
    *out = s;
    return SW_K_OK;
}

int sw_lease_stream_open_range(const sw_manifest *m, uint64_t begin, uint64_t end, int B, int T,
                               bool check_tokens, sw_lease_stream **out, sw_kerror *err)
{
    *out = NULL;
    if (end <= begin || end > m->train_tokens)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "%s: lease [%llu, %llu): expected a non-empty range of the %llu "
                          "training tokens",
                          m->dir, (unsigned long long)begin, (unsigned long long)end,
                          (unsigned long long)m->train_tokens);
    size_t shard;
    uint64_t off;
    int rc = sw_manifest_locate(m, begin, &shard, &off, err);
    if (rc != SW_K_OK)
        return rc;
    if (end - begin > m->shards[shard].tokens - off)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "%s: lease [%llu, %llu): spans %s and the next shard (a shard manager "
                          "over this manifest needs shard_tokens %llu)",
                          m->dir, (unsigned long long)begin, (unsigned long long)end,
                          m->shards[shard].name, (unsigned long long)m->shard_tokens);
    return sw_lease_stream_open(m, shard, off, end - begin, B, T, check_tokens, out, err);
}

void sw_lease_stream_close(sw_lease_stream *s)
{
    if (!s)
        return;
    sw_shard_close(&s->shard);
    free(s);
}

int sw_lease_stream_next(sw_lease_stream *s, int32_t *inputs, int32_t *targets, int *rows,
                         sw_kerror *err)
{
    (void)err;
    *rows = 0;
    uint64_t n = s->shard.info.tokens;
    /* inputs usable: those with a successor, inside the lease */
    uint64_t usable_end = s->end < n || s->has_next ? s->end : s->end - (s->end > s->begin);
    uint64_t avail = usable_end > s->pos ? usable_end - s->pos : 0;
    uint64_t r = avail / (uint64_t)s->T;
    if (r > (uint64_t)s->B)
        r = (uint64_t)s->B;
    if (r == 0) { /* the tail: fewer than T inputs, or a token without successor */
        s->dropped += s->end - s->pos;
        s->pos = s->end;
        return SW_K_OK;
    }
    size_t k = (size_t)r * (size_t)s->T;
    for (size_t i = 0; i < k; i++) {
        uint64_t p = s->pos + i;
        inputs[i] = (int32_t)sw_shard_token(&s->shard, p);
        targets[i] = (int32_t)(p + 1 < n ? sw_shard_token(&s->shard, p + 1) : s->next_first);
    }
    s->pos += k;
    *rows = (int)r;
    return SW_K_OK;
}

uint64_t sw_lease_stream_consumed(const sw_lease_stream *s)
{
    return s->pos - s->begin;
}

uint64_t sw_lease_stream_dropped(const sw_lease_stream *s)
{
    return s->dropped;
}

uint64_t sw_lease_stream_position(const sw_lease_stream *s)
{
    return s->pos;
}
