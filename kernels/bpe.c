/* bpe.c - the BPE vocabulary, encoding and decoding (see bpe.h). Files: bpe_file.c; training:
 * bpe_train.c. */
#include "kernels/bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/bpe_hash.h"
#include "kernels/pretok.h"

/* A candidate merge: the pair (left, right) of adjacent parts, stored with the tokens they held
 * when it was pushed; a pop is stale when either part has changed since. */
typedef struct cand {
    uint32_t rank; /* the merged token */
    uint32_t left; /* the left part's start byte in the chunk (its identity) */
    uint32_t right;
    uint32_t ltok, rtok;
} cand;

/* A direct-mapped cache of recently merged chunks (short ones): words repeat, so most chunks
 * that are not tokens themselves were merged before. It changes nothing but speed. */
enum { CACHE_SLOTS = 1 << 14, CACHE_KEY = 24, CACHE_IDS = 12 };
typedef struct cache_entry {
    uint64_t hash; /* 0: empty */
    uint8_t len, nids;
    uint8_t key[CACHE_KEY];
    uint32_t ids[CACHE_IDS];
} cache_entry;

struct sw_bpe {
    uint32_t n;
    uint8_t *bytes; /* all tokens back to back */
    uint64_t *offs; /* n + 1 offsets into bytes */
    uint32_t byte_tok[256];
    sw_bmap by_bytes; /* token string -> rank */
    sw_pmap pairs;    /* (a, b) -> rank of bytes(a) ++ bytes(b), when that is a token */
    sw_pretok *pretok;
    uint32_t crc; /* of the binary file image (bpe_file.c) */
    /* encoding scratch, grown on demand */
    uint32_t *tok, *nxt, *prv;
    cand *heap;
    size_t scratch_cap;
    cache_entry *cache; /* CACHE_SLOTS entries, allocated on first use */
    sw_ids *out;
    sw_kerror *err;
};

uint32_t sw_bpe_vocab_size(const sw_bpe *t)
{
    return t->n;
}

const char *sw_bpe_pattern(const sw_bpe *t)
{
    return sw_pretok_pattern(t->pretok);
}

const uint8_t *sw_bpe_token(const sw_bpe *t, uint32_t id, size_t *len)
{
    *len = (size_t)(t->offs[id + 1] - t->offs[id]);
    return t->bytes + t->offs[id];
}

/* Internal to kernels/ (bpe_file.c): CRC-32 of the binary file image of t. */
uint32_t sw_bpe_image_crc(const sw_bpe *t);

uint32_t sw_bpe_crc(const sw_bpe *t)
{
    return t->crc;
}

void sw_bpe_destroy(sw_bpe *t)
{
    if (!t)
        return;
    free(t->bytes);
    free(t->offs);
    sw_bmap_free(&t->by_bytes);
    sw_pmap_free(&t->pairs);
    sw_pretok_destroy(t->pretok);
    free(t->tok);
    free(t->nxt);
    free(t->prv);
    free(t->heap);
    free(t->cache);
    free(t);
}

int sw_bpe_create(const char *what, uint32_t n, const uint8_t *bytes, const uint64_t *offs,
                  const uint32_t *lens, const char *pattern, sw_bpe **out, sw_kerror *err)
{
    *out = NULL;
    if (n < 256)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "%s: vocabulary size: %u tokens, expected at least 256 (every byte)",
                          what, n);
    sw_bpe *t = calloc(1, sizeof *t);
    if (!t)
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", what);
    t->n = n;
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += lens[i];
    t->bytes = malloc(total ? total : 1);
    t->offs = malloc((n + 1) * sizeof *t->offs);
    if (!t->bytes || !t->offs || sw_bmap_init(&t->by_bytes, n) || sw_pmap_init(&t->pairs, n)) {
        sw_bpe_destroy(t);
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", what);
    }
    for (int b = 0; b < 256; b++)
        t->byte_tok[b] = UINT32_MAX;
    uint64_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (lens[i] == 0 || lens[i] > SW_BPE_MAX_TOKEN_BYTES) {
            sw_bpe_destroy(t);
            return sw_kerrorf(err, SW_K_EINPUT, "%s: token %u: length %u, expected 1..%u", what, i,
                              lens[i], SW_BPE_MAX_TOKEN_BYTES);
        }
        memcpy(t->bytes + at, bytes + offs[i], lens[i]);
        t->offs[i] = at;
        int added;
        sw_bmap_slot *s = sw_bmap_upsert(&t->by_bytes, t->bytes + at, lens[i], &added);
        if (!s) {
            sw_bpe_destroy(t);
            return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", what);
        }
        if (!added) {
            uint32_t first = (uint32_t)s->value;
            sw_bpe_destroy(t);
            return sw_kerrorf(err, SW_K_EINPUT, "%s: token %u: same bytes as token %u", what, i,
                              first);
        }
        s->value = i;
        if (lens[i] == 1)
            t->byte_tok[t->bytes[at]] = i;
        at += lens[i];
    }
    t->offs[n] = at;
    for (int b = 0; b < 256; b++)
        if (t->byte_tok[b] == UINT32_MAX) {
            sw_bpe_destroy(t);
            return sw_kerrorf(err, SW_K_EINPUT,
                              "%s: vocabulary: no token for the single byte 0x%02x (all 256 "
                              "bytes must be tokens)",
                              what, b);
        }
    /* Every way of writing a token as two tokens: the pairs encoding can merge. */
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *p = sw_bpe_token(t, i, &len);
        for (size_t k = 1; k < len; k++) {
            sw_bmap_slot *a = sw_bmap_find(&t->by_bytes, p, k);
            if (!a)
                continue;
            sw_bmap_slot *b = sw_bmap_find(&t->by_bytes, p + k, len - k);
            if (!b)
                continue;
            if (sw_pmap_put(&t->pairs, sw_pair_key((uint32_t)a->value, (uint32_t)b->value), i)) {
                sw_bpe_destroy(t);
                return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", what);
            }
        }
    }
    sw_kerror perr;
    if (sw_pretok_create(pattern, &t->pretok, &perr) != SW_K_OK) {
        sw_bpe_destroy(t);
        return sw_kerrorf(err, perr.code, "%s: %s", what, perr.msg);
    }
    t->crc = sw_bpe_image_crc(t);
    *out = t;
    return SW_K_OK;
}

/* ---- encoding ---------------------------------------------------------------------------- */

void sw_ids_free(sw_ids *ids)
{
    free(ids->v);
    ids->v = NULL;
    ids->n = ids->cap = 0;
}

static int ids_reserve(sw_ids *ids, size_t more)
{
    if (ids->n + more <= ids->cap)
        return 0;
    size_t cap = ids->cap ? ids->cap : 1024;
    while (cap < ids->n + more)
        cap *= 2;
    uint32_t *v = realloc(ids->v, cap * sizeof *v);
    if (!v)
        return -1;
    ids->v = v;
    ids->cap = cap;
    return 0;
}

static int cand_less(const cand *a, const cand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(cand *h, size_t *n, cand c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!cand_less(&c, &h[up]))
            break;
        h[i] = h[up];
        i = up;
    }
    h[i] = c;
}

static cand heap_pop(cand *h, size_t *n)
{
    cand top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && cand_less(&h[c + 1], &h[c]))
            c++;
        if (!cand_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = last;
    return top;
}

#define NONE UINT32_MAX

static int scratch_reserve(sw_bpe *t, size_t m)
{
    if (m <= t->scratch_cap)
        return 0;
    size_t cap = t->scratch_cap ? t->scratch_cap : 256;
    while (cap < m)
        cap *= 2;
    uint32_t *a = realloc(t->tok, cap * sizeof *a);
    if (a)
        t->tok = a;
    uint32_t *b = realloc(t->nxt, cap * sizeof *b);
    if (b)
        t->nxt = b;
    uint32_t *c = realloc(t->prv, cap * sizeof *c);
    if (c)
        t->prv = c;
    /* each merge pushes at most two candidates: m - 1 initial + 2 (m - 1) */
    cand *h = realloc(t->heap, 3 * cap * sizeof *h);
    if (h)
        t->heap = h;
    if (!a || !b || !c || !h)
        return -1;
    t->scratch_cap = cap;
    return 0;
}

static void push_pair(sw_bpe *t, size_t *hn, uint32_t l, uint32_t r)
{
    uint32_t rank = sw_pmap_get(&t->pairs, sw_pair_key(t->tok[l], t->tok[r]));
    if (rank != NONE)
        heap_push(t->heap, hn, (cand){rank, l, r, t->tok[l], t->tok[r]});
}

/* The tokens of one chunk, appended to t->out. */
static int encode_chunk(const uint8_t *p, size_t m, void *ctx)
{
    sw_bpe *t = ctx;
    if (ids_reserve(t->out, m))
        return sw_kerrorf(t->err, SW_K_ERUNTIME, "encode: out of memory");
    if (m == 1) {
        t->out->v[t->out->n++] = t->byte_tok[p[0]];
        return 0;
    }
    uint64_t h = sw_bhash(p, m);
    sw_bmap_slot *whole = sw_bmap_find_h(&t->by_bytes, p, m, h);
    if (whole) {
        t->out->v[t->out->n++] = (uint32_t)whole->value;
        return 0;
    }
    cache_entry *ce = NULL;
    if (m <= CACHE_KEY) {
        if (!t->cache && !(t->cache = calloc(CACHE_SLOTS, sizeof *t->cache)))
            return sw_kerrorf(t->err, SW_K_ERUNTIME, "encode: out of memory");
        ce = &t->cache[h & (CACHE_SLOTS - 1)];
        if (ce->hash == h && ce->len == m && !memcmp(ce->key, p, m)) {
            memcpy(t->out->v + t->out->n, ce->ids, ce->nids * sizeof *ce->ids);
            t->out->n += ce->nids;
            return 0;
        }
    }
    if (scratch_reserve(t, m))
        return sw_kerrorf(t->err, SW_K_ERUNTIME, "encode: out of memory");
    uint32_t *tok = t->tok, *nxt = t->nxt, *prv = t->prv;
    for (size_t i = 0; i < m; i++) {
        tok[i] = t->byte_tok[p[i]];
        nxt[i] = i + 1 < m ? (uint32_t)(i + 1) : NONE;
        prv[i] = i ? (uint32_t)(i - 1) : NONE;
    }
    size_t hn = 0;
    for (size_t i = 0; i + 1 < m; i++)
        push_pair(t, &hn, (uint32_t)i, (uint32_t)(i + 1));
    while (hn) {
        cand c = heap_pop(t->heap, &hn);
        /* stale: a part merged since the push (a dead part's tok is NONE) */
        if (tok[c.left] != c.ltok || nxt[c.left] != c.right || tok[c.right] != c.rtok)
            continue;
        tok[c.left] = c.rank;
        tok[c.right] = NONE;
        uint32_t after = nxt[c.right];
        nxt[c.left] = after;
        if (after != NONE)
            prv[after] = c.left;
        if (prv[c.left] != NONE)
            push_pair(t, &hn, prv[c.left], c.left);
        if (after != NONE)
            push_pair(t, &hn, c.left, after);
    }
    size_t first = t->out->n;
    for (uint32_t i = 0; i != NONE; i = nxt[i])
        t->out->v[t->out->n++] = tok[i];
    size_t k = t->out->n - first;
    if (ce && k <= CACHE_IDS) {
        ce->hash = h;
        ce->len = (uint8_t)m;
        ce->nids = (uint8_t)k;
        memcpy(ce->key, p, m);
        memcpy(ce->ids, t->out->v + first, k * sizeof *ce->ids);
    }
    return 0;
}

int sw_bpe_encode(sw_bpe *t, const uint8_t *text, size_t n, sw_ids *out, sw_kerror *err)
{
    t->out = out;
    t->err = err;
    int rc = sw_pretok_split(t->pretok, text, n, encode_chunk, t, err);
    t->out = NULL;
    t->err = NULL;
    return rc;
}

/* ---- decoding ---------------------------------------------------------------------------- */

int sw_bpe_decoded_len(const sw_bpe *t, const uint32_t *ids, size_t n, size_t *len, sw_kerror *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= t->n)
            return sw_kerrorf(err, SW_K_EINPUT,
                              "decode: token %zu: id %u is not in the vocabulary (size %u)", i,
                              ids[i], t->n);
        total += (size_t)(t->offs[ids[i] + 1] - t->offs[ids[i]]);
    }
    *len = total;
    return SW_K_OK;
}

int sw_bpe_decode(const sw_bpe *t, const uint32_t *ids, size_t n, uint8_t *buf, sw_kerror *err)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= t->n)
            return sw_kerrorf(err, SW_K_EINPUT,
                              "decode: token %zu: id %u is not in the vocabulary (size %u)", i,
                              ids[i], t->n);
        size_t len;
        const uint8_t *p = sw_bpe_token(t, ids[i], &len);
        memcpy(buf + at, p, len);
        at += len;
    }
    return SW_K_OK;
}
