/* shards.c - the data-shard manager (see shards.h).
 *
 * Representation: tokens at or above `frontier` have never been handed out (fresh shards, cut
 * on the shard grid as they are needed, so a 12B-token dataset costs no memory up front).
 * Below the frontier every token is in exactly one of: `pool` (returned remainders, sorted by
 * offset, none above the frontier, so pool[0] is always the lowest offset available),
 * `leases` (sorted by lease id, which is their creation order), or done (only counted).
 */
#include "core/shards.h"

#include <stdlib.h>
#include <string.h>

typedef struct piece {
    uint64_t begin, end;
} piece;

struct sw_shards {
    uint64_t total_tokens, shard_tokens;
    uint64_t frontier;   /* first never-handed-out token; a multiple of shard_tokens or total */
    uint64_t done;       /* tokens consumed and reported */
    uint64_t next_lease; /* id of the next lease */
    piece *pool;
    size_t n_pool, cap_pool;
    sw_shard_lease *leases;
    size_t n_leases, cap_leases;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return SW_OK;
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return SW_ERUNTIME;
    *p = q;
    *cap = c;
    return SW_OK;
}

int sw_shards_create(uint64_t total_tokens, uint64_t shard_tokens, sw_shards **out, sw_error *err)
{
    if (!out)
        return sw_errorf(err, SW_EINPUT, "sw_shards_create: out is NULL");
    if (total_tokens == 0)
        return sw_errorf(err, SW_EINPUT, "sw_shards_create: total_tokens = 0, expected >= 1");
    if (shard_tokens == 0)
        return sw_errorf(err, SW_EINPUT, "sw_shards_create: shard_tokens = 0, expected >= 1");
    sw_shards *s = calloc(1, sizeof *s);
    if (!s)
        return sw_errorf(err, SW_ERUNTIME, "sw_shards_create: out of memory");
    s->total_tokens = total_tokens;
    s->shard_tokens = shard_tokens;
    s->next_lease = 1;
    *out = s;
    return SW_OK;
}

void sw_shards_destroy(sw_shards *s)
{
    if (!s)
        return;
    free(s->pool);
    free(s->leases);
    free(s);
}

/* Inserts a returned piece into the pool, keeping it sorted by offset. */
static int pool_insert(sw_shards *s, piece p)
{
    if (grow((void **)&s->pool, &s->cap_pool, s->n_pool + 1, sizeof *s->pool) != SW_OK)
        return SW_ERUNTIME;
    size_t lo = 0, hi = s->n_pool;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->pool[mid].begin < p.begin)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(s->pool + lo + 1, s->pool + lo, (s->n_pool - lo) * sizeof *s->pool);
    s->pool[lo] = p;
    s->n_pool++;
    return SW_OK;
}

/* Index of the open lease with this id, or n_leases. Leases are sorted by id. */
static size_t lease_index(const sw_shards *s, uint64_t lease_id)
{
    size_t lo = 0, hi = s->n_leases;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->leases[mid].lease_id < lease_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_leases && s->leases[lo].lease_id == lease_id ? lo : s->n_leases;
}

static void lease_remove(sw_shards *s, size_t i)
{
    memmove(s->leases + i, s->leases + i + 1, (s->n_leases - i - 1) * sizeof *s->leases);
    s->n_leases--;
}

int sw_shards_acquire(sw_shards *s, uint32_t site, sw_shard_lease *lease, bool *got, sw_error *err)
{
    if (!s || !lease || !got)
        return sw_errorf(err, SW_EINPUT, "sw_shards_acquire: NULL argument");
    *got = false;
    piece p;
    if (s->n_pool > 0) {
        p = s->pool[0];
    } else if (s->frontier < s->total_tokens) {
        p.begin = s->frontier;
        p.end = s->total_tokens - s->frontier > s->shard_tokens ? s->frontier + s->shard_tokens
                                                                : s->total_tokens;
    } else {
        return SW_OK;
    }
    /* Grow first so that a failure leaves the state untouched. */
    if (grow((void **)&s->leases, &s->cap_leases, s->n_leases + 1, sizeof *s->leases) != SW_OK)
        return sw_errorf(err, SW_ERUNTIME, "sw_shards_acquire: out of memory");
    if (s->n_pool > 0) {
        memmove(s->pool, s->pool + 1, (s->n_pool - 1) * sizeof *s->pool);
        s->n_pool--;
    } else {
        s->frontier = p.end;
    }
    sw_shard_lease l = {s->next_lease++, site, p.begin, p.end};
    s->leases[s->n_leases++] = l;
    *lease = l;
    *got = true;
    return SW_OK;
}

/* Common part of progress and release: finds the lease and checks ownership and the count. */
static int lease_consume(sw_shards *s, const char *fn, uint32_t site, uint64_t lease_id,
                         uint64_t tokens, size_t *index, sw_error *err)
{
    if (!s)
        return sw_errorf(err, SW_EINPUT, "%s: NULL manager", fn);
    size_t i = lease_index(s, lease_id);
    if (i == s->n_leases)
        return sw_errorf(err, SW_EINPUT, "%s: lease %llu is not open", fn,
                         (unsigned long long)lease_id);
    sw_shard_lease *l = &s->leases[i];
    if (l->site != site)
        return sw_errorf(err, SW_EINPUT, "%s: lease %llu is held by site %u, not site %u", fn,
                         (unsigned long long)lease_id, l->site, site);
    if (tokens > l->end_token - l->begin_token)
        return sw_errorf(err, SW_EINPUT,
                         "%s: lease %llu: tokens = %llu, but only %llu are left in [%llu, %llu)",
                         fn, (unsigned long long)lease_id, (unsigned long long)tokens,
                         (unsigned long long)(l->end_token - l->begin_token),
                         (unsigned long long)l->begin_token, (unsigned long long)l->end_token);
    *index = i;
    return SW_OK;
}

int sw_shards_progress(sw_shards *s, uint32_t site, uint64_t lease_id, uint64_t tokens,
                       sw_error *err)
{
    size_t i;
    int rc = lease_consume(s, "sw_shards_progress", site, lease_id, tokens, &i, err);
    if (rc != SW_OK)
        return rc;
    s->leases[i].begin_token += tokens;
    s->done += tokens;
    if (s->leases[i].begin_token == s->leases[i].end_token)
        lease_remove(s, i);
    return SW_OK;
}

int sw_shards_release(sw_shards *s, uint32_t site, uint64_t lease_id, uint64_t tokens,
                      sw_error *err)
{
    size_t i;
    int rc = lease_consume(s, "sw_shards_release", site, lease_id, tokens, &i, err);
    if (rc != SW_OK)
        return rc;
    piece rest = {s->leases[i].begin_token + tokens, s->leases[i].end_token};
    if (rest.begin < rest.end && pool_insert(s, rest) != SW_OK)
        return sw_errorf(err, SW_ERUNTIME, "sw_shards_release: out of memory");
    s->done += tokens;
    lease_remove(s, i);
    return SW_OK;
}

int sw_shards_site_left(sw_shards *s, uint32_t site, size_t *returned, sw_error *err)
{
    if (!s)
        return sw_errorf(err, SW_EINPUT, "sw_shards_site_left: NULL manager");
    /* Make room for the worst case first, so returning cannot fail half-way. */
    size_t n_site = 0;
    for (size_t i = 0; i < s->n_leases; i++)
        n_site += s->leases[i].site == site;
    if (grow((void **)&s->pool, &s->cap_pool, s->n_pool + n_site, sizeof *s->pool) != SW_OK)
        return sw_errorf(err, SW_ERUNTIME, "sw_shards_site_left: out of memory");
    size_t kept = 0;
    for (size_t i = 0; i < s->n_leases; i++) {
        sw_shard_lease l = s->leases[i];
        if (l.site == site)
            pool_insert(s, (piece){l.begin_token, l.end_token});
        else
            s->leases[kept++] = l;
    }
    s->n_leases = kept;
    if (returned)
        *returned = n_site;
    return SW_OK;
}

bool sw_shards_complete(const sw_shards *s)
{
    return s && s->done == s->total_tokens;
}

uint64_t sw_shards_total_tokens(const sw_shards *s)
{
    return s->total_tokens;
}

uint64_t sw_shards_shard_tokens(const sw_shards *s)
{
    return s->shard_tokens;
}

uint64_t sw_shards_done_tokens(const sw_shards *s)
{
    return s->done;
}

uint64_t sw_shards_leased_tokens(const sw_shards *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->n_leases; i++)
        n += s->leases[i].end_token - s->leases[i].begin_token;
    return n;
}

uint64_t sw_shards_pool_tokens(const sw_shards *s)
{
    uint64_t n = s->total_tokens - s->frontier;
    for (size_t i = 0; i < s->n_pool; i++)
        n += s->pool[i].end - s->pool[i].begin;
    return n;
}

size_t sw_shards_lease_count(const sw_shards *s)
{
    return s->n_leases;
}

int sw_shards_lease_at(const sw_shards *s, size_t i, sw_shard_lease *lease, sw_error *err)
{
    if (i >= s->n_leases)
        return sw_errorf(err, SW_EINPUT, "sw_shards_lease_at: index %zu, only %zu leases open", i,
                         s->n_leases);
    *lease = s->leases[i];
    return SW_OK;
}

bool sw_shards_lease_find(const sw_shards *s, uint64_t lease_id, sw_shard_lease *lease)
{
    size_t i = lease_index(s, lease_id);
    if (i == s->n_leases)
        return false;
    if (lease)
        *lease = s->leases[i];
    return true;
}

/* ---- checkpoint format, version 1 (all integers little-endian u32/u64) ----
 *   0  magic "SWSH"          4  u32 version
 *   8  u64 total_tokens     16  u64 shard_tokens   24  u64 frontier   32  u64 done_tokens
 *  40  u64 next_lease       48  u64 n_pool         56  u64 n_leases
 *  64  n_pool   x { u64 begin, u64 end }
 *      n_leases x { u64 lease_id, u64 site, u64 begin, u64 end }
 *      u64 FNV-1a-64 checksum of every byte before it
 */
enum { CKPT_VERSION = 1, HEADER_BYTES = 64, POOL_BYTES = 16, LEASE_BYTES = 32 };
static const char CKPT_MAGIC[4] = {'S', 'W', 'S', 'H'};

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int b = 0; b < 8; b++)
        p[b] = (unsigned char)(v >> (8 * b));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int b = 0; b < 8; b++)
        v |= (uint64_t)p[b] << (8 * b);
    return v;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

size_t sw_shards_serialized_size(const sw_shards *s)
{
    return HEADER_BYTES + s->n_pool * POOL_BYTES + s->n_leases * LEASE_BYTES + 8;
}

int sw_shards_serialize(const sw_shards *s, void *buf, size_t cap, size_t *len, sw_error *err)
{
    size_t need = sw_shards_serialized_size(s);
    if (!buf || cap < need)
        return sw_errorf(err, SW_ERUNTIME, "sw_shards_serialize: buffer of %zu bytes, %zu needed",
                         cap, need);
    unsigned char *p = buf;
    memcpy(p, CKPT_MAGIC, 4);
    for (int b = 0; b < 4; b++)
        p[4 + b] = (unsigned char)((uint32_t)CKPT_VERSION >> (8 * b));
    const uint64_t head[] = {s->total_tokens, s->shard_tokens, s->frontier, s->done,
                             s->next_lease,   s->n_pool,       s->n_leases};
    for (size_t i = 0; i < 7; i++)
        put_u64(p + 8 + 8 * i, head[i]);
    unsigned char *q = p + HEADER_BYTES;
    for (size_t i = 0; i < s->n_pool; i++, q += POOL_BYTES) {
        put_u64(q, s->pool[i].begin);
        put_u64(q + 8, s->pool[i].end);
    }
    for (size_t i = 0; i < s->n_leases; i++, q += LEASE_BYTES) {
        put_u64(q, s->leases[i].lease_id);
        put_u64(q + 8, s->leases[i].site);
        put_u64(q + 16, s->leases[i].begin_token);
        put_u64(q + 24, s->leases[i].end_token);
    }
    put_u64(q, fnv1a(p, (size_t)(q - p)));
    if (len)
        *len = need;
    return SW_OK;
}

static int cmp_piece(const void *a, const void *b)
{
    const piece *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* A piece must be non-empty, below the frontier and inside one shard of the grid. */
static int check_piece(const sw_shards *s, const char *what, size_t i, uint64_t begin, uint64_t end,
                       sw_error *err)
{
    if (begin >= end || end > s->frontier || begin / s->shard_tokens != (end - 1) / s->shard_tokens)
        return sw_errorf(err, SW_EINPUT,
                         "shards checkpoint: field '%s[%zu]' = [%llu, %llu): empty, beyond the "
                         "frontier %llu or across a shard boundary",
                         what, i, (unsigned long long)begin, (unsigned long long)end,
                         (unsigned long long)s->frontier);
    return SW_OK;
}

/* Checks the content of a decoded state (token conservation, order, no overlap). */
static int check_state(const sw_shards *s, sw_error *err)
{
    const char *pre = "shards checkpoint: field";
    if (s->total_tokens == 0 || s->shard_tokens == 0)
        return sw_errorf(err, SW_EINPUT, "%s '%s' = 0, expected >= 1", pre,
                         s->total_tokens == 0 ? "total_tokens" : "shard_tokens");
    if (s->frontier > s->total_tokens ||
        (s->frontier % s->shard_tokens != 0 && s->frontier != s->total_tokens))
        return sw_errorf(err, SW_EINPUT,
                         "%s 'frontier' = %llu, expected a multiple of shard_tokens <= %llu", pre,
                         (unsigned long long)s->frontier, (unsigned long long)s->total_tokens);
    if (s->next_lease == 0)
        return sw_errorf(err, SW_EINPUT, "%s 'next_lease' = 0, expected >= 1", pre);
    size_t n = s->n_pool + s->n_leases;
    piece *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return sw_errorf(err, SW_ERUNTIME, "shards checkpoint: out of memory");
    int rc = SW_OK;
    uint64_t held = 0;
    for (size_t i = 0; i < s->n_pool && rc == SW_OK; i++) {
        rc = check_piece(s, "pool", i, s->pool[i].begin, s->pool[i].end, err);
        if (rc == SW_OK && i > 0 && s->pool[i].begin < s->pool[i - 1].end)
            rc = sw_errorf(err, SW_EINPUT, "%s 'pool[%zu]' overlaps or is out of order", pre, i);
        all[i] = s->pool[i];
        held += s->pool[i].end - s->pool[i].begin;
    }
    for (size_t i = 0; i < s->n_leases && rc == SW_OK; i++) {
        const sw_shard_lease *l = &s->leases[i];
        rc = check_piece(s, "lease", i, l->begin_token, l->end_token, err);
        if (rc == SW_OK && (l->lease_id == 0 || l->lease_id >= s->next_lease ||
                            (i > 0 && l->lease_id <= s->leases[i - 1].lease_id)))
            rc = sw_errorf(err, SW_EINPUT,
                           "%s 'lease[%zu].lease_id' = %llu, expected increasing ids < "
                           "next_lease %llu",
                           pre, i, (unsigned long long)l->lease_id,
                           (unsigned long long)s->next_lease);
        all[s->n_pool + i] = (piece){l->begin_token, l->end_token};
        held += l->end_token - l->begin_token;
    }
    if (rc == SW_OK) {
        qsort(all, n, sizeof *all, cmp_piece);
        for (size_t i = 1; i < n && rc == SW_OK; i++)
            if (all[i].begin < all[i - 1].end)
                rc = sw_errorf(err, SW_EINPUT,
                               "%s 'pool'/'lease': token %llu is both in the pool and leased, or "
                               "leased twice",
                               pre, (unsigned long long)all[i].begin);
    }
    if (rc == SW_OK && (held > s->frontier || s->done != s->frontier - held))
        rc = sw_errorf(err, SW_EINPUT,
                       "%s 'done_tokens' = %llu, but frontier %llu - pooled and leased %llu "
                       "gives %llu",
                       pre, (unsigned long long)s->done, (unsigned long long)s->frontier,
                       (unsigned long long)held,
                       (unsigned long long)(held > s->frontier ? 0 : s->frontier - held));
    free(all);
    return rc;
}

int sw_shards_deserialize(const void *buf, size_t len, sw_shards **out, sw_error *err)
{
    const unsigned char *p = buf;
    if (!buf || !out)
        return sw_errorf(err, SW_EINPUT, "shards checkpoint: NULL buffer");
    if (len < HEADER_BYTES + 8)
        return sw_errorf(err, SW_EINPUT,
                         "shards checkpoint: %zu bytes, truncated (the header alone is %d)", len,
                         HEADER_BYTES + 8);
    if (memcmp(p, CKPT_MAGIC, 4) != 0)
        return sw_errorf(err, SW_EINPUT, "shards checkpoint: field 'magic' at byte 0: not SWSH");
    uint32_t version = 0;
    for (int b = 0; b < 4; b++)
        version |= (uint32_t)p[4 + b] << (8 * b);
    if (version != CKPT_VERSION)
        return sw_errorf(err, SW_EINPUT,
                         "shards checkpoint: field 'version' at byte 4 = %u, this build reads %d",
                         version, CKPT_VERSION);
    uint64_t n_pool = get_u64(p + 48), n_leases = get_u64(p + 56);
    size_t body = len - HEADER_BYTES - 8;
    if (n_pool > body / POOL_BYTES || n_leases > body / LEASE_BYTES ||
        n_pool * POOL_BYTES + n_leases * LEASE_BYTES != body)
        return sw_errorf(err, SW_EINPUT,
                         "shards checkpoint: fields 'n_pool' = %llu and 'n_leases' = %llu do not "
                         "match the length of %zu bytes",
                         (unsigned long long)n_pool, (unsigned long long)n_leases, len);
    if (get_u64(p + len - 8) != fnv1a(p, len - 8))
        return sw_errorf(err, SW_EINPUT,
                         "shards checkpoint: field 'checksum' at byte %zu does not match the "
                         "content",
                         len - 8);

    sw_shards *s = calloc(1, sizeof *s);
    if (!s)
        return sw_errorf(err, SW_ERUNTIME, "shards checkpoint: out of memory");
    s->total_tokens = get_u64(p + 8);
    s->shard_tokens = get_u64(p + 16);
    s->frontier = get_u64(p + 24);
    s->done = get_u64(p + 32);
    s->next_lease = get_u64(p + 40);
    int rc = SW_OK;
    if (grow((void **)&s->pool, &s->cap_pool, n_pool, sizeof *s->pool) != SW_OK ||
        grow((void **)&s->leases, &s->cap_leases, n_leases, sizeof *s->leases) != SW_OK)
        rc = sw_errorf(err, SW_ERUNTIME, "shards checkpoint: out of memory");
    const unsigned char *q = p + HEADER_BYTES;
    for (size_t i = 0; i < n_pool && rc == SW_OK; i++, q += POOL_BYTES)
        s->pool[s->n_pool++] = (piece){get_u64(q), get_u64(q + 8)};
    for (size_t i = 0; i < n_leases && rc == SW_OK; i++, q += LEASE_BYTES) {
        uint64_t site = get_u64(q + 8);
        if (site > UINT32_MAX) {
            rc = sw_errorf(err, SW_EINPUT,
                           "shards checkpoint: field 'lease[%zu].site' = %llu, expected a 32-bit "
                           "site index",
                           i, (unsigned long long)site);
            break;
        }
        s->leases[s->n_leases++] =
            (sw_shard_lease){get_u64(q), (uint32_t)site, get_u64(q + 16), get_u64(q + 24)};
    }
    if (rc == SW_OK)
        rc = check_state(s, err);
    if (rc != SW_OK) {
        sw_shards_destroy(s);
        return rc;
    }
    *out = s;
    return SW_OK;
}
