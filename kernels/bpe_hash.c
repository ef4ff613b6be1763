/* bpe_hash.c - byte-string and pair hash tables of the BPE tokenizer (see bpe_hash.h). */
#include "kernels/bpe_hash.h"

#include <stdlib.h>
#include <string.h>

uint64_t sw_bhash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ sw_mix64(w)) * 0x9fb21c651e98df25ull;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = sw_mix64(h ^ w ^ ((uint64_t)n << 59));
    return h ? h : 1;
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

int sw_bmap_init(sw_bmap *m, size_t expected)
{
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected * 2);
    m->slots = calloc(m->cap, sizeof *m->slots);
    return m->slots ? 0 : -1;
}

void sw_bmap_free(sw_bmap *m)
{
    free(m->slots);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

static sw_bmap_slot *probe(const sw_bmap *m, uint64_t h, const uint8_t *key, size_t len)
{
    size_t mask = m->cap - 1, i = h & mask;
    for (;;) {
        sw_bmap_slot *s = &m->slots[i];
        if (!s->hash)
            return s;
        if (s->hash == h && s->len == len && !memcmp(m->arena + s->off, key, len))
            return s;
        i = (i + 1) & mask;
    }
}

sw_bmap_slot *sw_bmap_find(const sw_bmap *m, const uint8_t *key, size_t len)
{
    return sw_bmap_find_h(m, key, len, sw_bhash(key, len));
}

sw_bmap_slot *sw_bmap_find_h(const sw_bmap *m, const uint8_t *key, size_t len, uint64_t hash)
{
    sw_bmap_slot *s = probe(m, hash, key, len);
    return s->hash ? s : NULL;
}

static int grow(sw_bmap *m)
{
    size_t cap = m->cap * 2;
    sw_bmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        sw_bmap_slot *s = &m->slots[i];
        if (!s->hash)
            continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].hash)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

sw_bmap_slot *sw_bmap_upsert(sw_bmap *m, const uint8_t *key, size_t len, int *added)
{
    uint64_t h = sw_bhash(key, len);
    sw_bmap_slot *s = probe(m, h, key, len);
    *added = 0;
    if (s->hash)
        return s;
    if ((m->count + 1) * 2 > m->cap) {
        if (grow(m))
            return NULL;
        s = probe(m, h, key, len);
    }
    if (m->arena_len + len > m->arena_cap) {
        size_t cap = m->arena_cap ? m->arena_cap : 4096;
        while (cap < m->arena_len + len)
            cap *= 2;
        uint8_t *a = realloc(m->arena, cap);
        if (!a)
            return NULL;
        m->arena = a;
        m->arena_cap = cap;
    }
    memcpy(m->arena + m->arena_len, key, len);
    *s = (sw_bmap_slot){.hash = h, .off = m->arena_len, .len = (uint32_t)len, .value = 0};
    m->arena_len += len;
    m->count++;
    *added = 1;
    return s;
}

int sw_pmap_init(sw_pmap *m, size_t expected)
{
    m->cap = pow2_at_least(expected * 2);
    m->count = 0;
    m->keys = malloc(m->cap * sizeof *m->keys);
    m->vals = malloc(m->cap * sizeof *m->vals);
    if (!m->keys || !m->vals) {
        sw_pmap_free(m);
        return -1;
    }
    memset(m->keys, 0xff, m->cap * sizeof *m->keys);
    return 0;
}

void sw_pmap_free(sw_pmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static void pmap_place(uint64_t *keys, uint32_t *vals, size_t cap, uint64_t key, uint32_t val)
{
    size_t i = sw_mix64(key) & (cap - 1);
    while (keys[i] != UINT64_MAX && keys[i] != key)
        i = (i + 1) & (cap - 1);
    keys[i] = key;
    vals[i] = val;
}

int sw_pmap_put(sw_pmap *m, uint64_t key, uint32_t val)
{
    if (sw_pmap_get(m, key) == UINT32_MAX && (m->count + 1) * 2 > m->cap) {
        size_t cap = m->cap * 2;
        uint64_t *keys = malloc(cap * sizeof *keys);
        uint32_t *vals = malloc(cap * sizeof *vals);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return -1;
        }
        memset(keys, 0xff, cap * sizeof *keys);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i] != UINT64_MAX)
                pmap_place(keys, vals, cap, m->keys[i], m->vals[i]);
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t i = sw_mix64(key) & (m->cap - 1);
    while (m->keys[i] != UINT64_MAX && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (m->keys[i] == UINT64_MAX)
        m->count++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}
