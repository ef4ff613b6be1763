/* bpe_hash.h - the two hash tables of the BPE tokenizer (internal to kernels/):
 *
 *   sw_bmap: byte string -> uint64 value (a token's rank, a chunk's count); keys copied into
 *            an arena owned by the map;
 *   sw_pmap: pair of token ids (a 64-bit key) -> uint32 value (the merged token, a pair index).
 *
 * Open addressing with linear probing, power-of-two capacity kept at most half full; no
 * deletion (the tokenizer never needs it). Functions returning int give 0, or -1 when memory
 * runs out.
 */
#ifndef SW_BPE_HASH_H
#define SW_BPE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit hash of n bytes (multiply-mix over 8-byte words; not cryptographic). */
uint64_t sw_bhash(const uint8_t *p, size_t n);

/* Finalizer of splitmix64: a bijective mix of x. */
static inline uint64_t sw_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct sw_bmap_slot {
    uint64_t hash; /* 0: empty (a real hash of 0 is stored as 1) */
    uint64_t off;  /* key offset in the arena */
    uint32_t len;  /* key length */
    uint64_t value;
} sw_bmap_slot;

typedef struct sw_bmap {
    sw_bmap_slot *slots;
    size_t cap, count; /* cap: power of two */
    uint8_t *arena;    /* the keys, back to back */
    size_t arena_len, arena_cap;
} sw_bmap;

int sw_bmap_init(sw_bmap *m, size_t expected);
void sw_bmap_free(sw_bmap *m);
/* The slot holding key, or NULL. */
sw_bmap_slot *sw_bmap_find(const sw_bmap *m, const uint8_t *key, size_t len);
/* The same with the key's sw_bhash already computed. */
sw_bmap_slot *sw_bmap_find_h(const sw_bmap *m, const uint8_t *key, size_t len, uint64_t hash);
/* The slot holding key, inserted with value 0 if absent (*added set when it was). NULL when
 * out of memory. The pointer is valid until the next insertion. */
sw_bmap_slot *sw_bmap_upsert(sw_bmap *m, const uint8_t *key, size_t len, int *added);
/* The bytes of a slot's key. */
static inline const uint8_t *sw_bmap_key(const sw_bmap *m, const sw_bmap_slot *s)
{
    return m->arena + s->off;
}

typedef struct sw_pmap {
    uint64_t *keys; /* UINT64_MAX: empty */
    uint32_t *vals;
    size_t cap, count;
} sw_pmap;

static inline uint64_t sw_pair_key(uint32_t a, uint32_t b)
{
    return (uint64_t)a << 32 | b;
}

int sw_pmap_init(sw_pmap *m, size_t expected);
void sw_pmap_free(sw_pmap *m);
/* Inserts or overwrites key -> val. */
int sw_pmap_put(sw_pmap *m, uint64_t key, uint32_t val);
/* The value of key, or UINT32_MAX when absent. */
static inline uint32_t sw_pmap_get(const sw_pmap *m, uint64_t key)
{
    size_t mask = m->cap - 1, i = sw_mix64(key) & mask;
    for (;;) {
        uint64_t k = m->keys[i];
        if (k == key)
            return m->vals[i];
        if (k == UINT64_MAX)
            return UINT32_MAX;
        i = (i + 1) & mask;
    }
}

#endif
