/* bpe_train.c - BPE vocabulary training (see bpe_train.h).
 *
 * State: the distinct chunks ("words") as arrays of token ids with their counts; per pair of
 * adjacent ids its weighted count and the words it occurs in (a list that may hold words where
 * the pair no longer occurs: merging rescans the word anyway); a max-heap of (count, tie key,
 * pair) entries that may be stale: an entry is acted on only when its count is the pair's
 * current count. A pair whose count rises gets a fresh entry; one whose count falls keeps its
 * old, larger one, which is re-pushed with the current count when it surfaces. */
#include "kernels/bpe_train.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/bpe_hash.h"
#include "kernels/pretok.h"

struct sw_bpe_trainer {
    sw_pretok *pretok;
    sw_bmap chunks; /* chunk bytes -> count */
    uint64_t total;
    sw_kerror *err;
};

int sw_bpe_trainer_create(const char *pattern, sw_bpe_trainer **out, sw_kerror *err)
{
    *out = NULL;
    sw_bpe_trainer *tr = calloc(1, sizeof *tr);
    if (!tr || sw_bmap_init(&tr->chunks, 1 << 16)) {
        free(tr);
        return sw_kerrorf(err, SW_K_ERUNTIME, "tokenizer training: out of memory");
    }
    int rc = sw_pretok_create(pattern, &tr->pretok, err);
    if (rc != SW_K_OK) {
        sw_bmap_free(&tr->chunks);
        free(tr);
        return rc;
    }
    *out = tr;
    return SW_K_OK;
}

void sw_bpe_trainer_destroy(sw_bpe_trainer *tr)
{
    if (!tr)
        return;
    sw_pretok_destroy(tr->pretok);
    sw_bmap_free(&tr->chunks);
    free(tr);
}

static int count_chunk(const uint8_t *p, size_t len, void *ctx)
{
    sw_bpe_trainer *tr = ctx;
    int added;
    sw_bmap_slot *s = sw_bmap_upsert(&tr->chunks, p, len, &added);
    if (!s)
        return sw_kerrorf(tr->err, SW_K_ERUNTIME, "tokenizer training: out of memory");
    s->value++;
    tr->total++;
    return 0;
}

int sw_bpe_trainer_add(sw_bpe_trainer *tr, const uint8_t *text, size_t n, sw_kerror *err)
{
    tr->err = err;
    int rc = sw_pretok_split(tr->pretok, text, n, count_chunk, tr, err);
    tr->err = NULL;
    return rc;
}

size_t sw_bpe_trainer_distinct_chunks(const sw_bpe_trainer *tr)
{
    return tr->chunks.count;
}

uint64_t sw_bpe_trainer_chunks(const sw_bpe_trainer *tr)
{
    return tr->total;
}

/* ---- the merge loop ---------------------------------------------------------------------- */

typedef struct word {
    uint32_t *sym; /* token ids */
    uint32_t len;
    uint64_t count;
    uint32_t stamp; /* last merge step that visited it */
} word;

typedef struct pair {
    uint32_t a, b;
    int64_t count;
    uint64_t tie; /* tie-break key: smaller wins */
    uint32_t *words;
    uint32_t nwords, capwords;
    uint32_t stamp; /* last merge step that touched it */
    int64_t count_before;
} pair;

typedef struct hentry {
    int64_t count;
    uint64_t tie;
    uint32_t pair;
} hentry;

typedef struct state {
    word *words;
    size_t nwords;
    pair *pairs;
    size_t npairs, cappairs;
    sw_pmap index; /* (a, b) -> pair index */
    hentry *heap;
    size_t nheap, capheap;
    uint32_t *dirty;
    size_t ndirty, capdirty;
    uint64_t seed;
} state;

static int h_before(const hentry *x, const hentry *y)
{
    return x->count > y->count || (x->count == y->count && x->tie < y->tie);
}

static int hpush(state *s, hentry e)
{
    if (s->nheap == s->capheap) {
        size_t cap = s->capheap ? s->capheap * 2 : 4096;
        hentry *h = realloc(s->heap, cap * sizeof *h);
        if (!h)
            return -1;
        s->heap = h;
        s->capheap = cap;
    }
    size_t i = s->nheap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!h_before(&e, &s->heap[up]))
            break;
        s->heap[i] = s->heap[up];
        i = up;
    }
    s->heap[i] = e;
    return 0;
}

static hentry hpop(state *s)
{
    hentry top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0, n = s->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!h_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n)
        s->heap[i] = last;
    return top;
}

/* The index of pair (a, b), created with count 0 if new; UINT32_MAX when out of memory. */
static uint32_t pair_of(state *s, uint32_t a, uint32_t b)
{
    uint64_t key = sw_pair_key(a, b);
    uint32_t i = sw_pmap_get(&s->index, key);
    if (i != UINT32_MAX)
        return i;
    if (s->npairs == s->cappairs) {
        size_t cap = s->cappairs ? s->cappairs * 2 : 4096;
        pair *p = realloc(s->pairs, cap * sizeof *p);
        if (!p)
            return UINT32_MAX;
        s->pairs = p;
        s->cappairs = cap;
    }
    i = (uint32_t)s->npairs++;
    s->pairs[i] =
        (pair){.a = a, .b = b, .tie = sw_mix64(key ^ sw_mix64(s->seed)), .stamp = UINT32_MAX};
    if (sw_pmap_put(&s->index, key, i))
        return UINT32_MAX;
    return i;
}

static int pair_add_word(pair *p, uint32_t w)
{
    if (p->nwords && p->words[p->nwords - 1] == w)
        return 0;
    if (p->nwords == p->capwords) {
        uint32_t cap = p->capwords ? p->capwords * 2 : 4;
        uint32_t *v = realloc(p->words, cap * sizeof *v);
        if (!v)
            return -1;
        p->words = v;
        p->capwords = cap;
    }
    p->words[p->nwords++] = w;
    return 0;
}

/* Adds delta occurrences to pair (a, b) (creating it), remembering it as touched in `step`. */
static int bump(state *s, uint32_t a, uint32_t b, int64_t delta, uint32_t w, int add_word,
                uint32_t step)
{
    uint32_t i = pair_of(s, a, b);
    if (i == UINT32_MAX)
        return -1;
    pair *p = &s->pairs[i];
    if (p->stamp != step) {
        p->stamp = step;
        p->count_before = p->count;
        if (s->ndirty == s->capdirty) {
            size_t cap = s->capdirty ? s->capdirty * 2 : 1024;
            uint32_t *d = realloc(s->dirty, cap * sizeof *d);
            if (!d)
                return -1;
            s->dirty = d;
            s->capdirty = cap;
        }
        s->dirty[s->ndirty++] = i;
    }
    p->count += delta;
    if (add_word && pair_add_word(p, w))
        return -1;
    return 0;
}

static void state_free(state *s)
{
    for (size_t i = 0; i < s->nwords; i++)
        free(s->words[i].sym);
    free(s->words);
    for (size_t i = 0; i < s->npairs; i++)
        free(s->pairs[i].words);
    free(s->pairs);
    sw_pmap_free(&s->index);
    free(s->heap);
    free(s->dirty);
}

/* Replaces every (a, b) in word w by t, updating the pair counts. */
static int merge_word(state *s, uint32_t wi, uint32_t a, uint32_t b, uint32_t t, uint32_t step)
{
    word *w = &s->words[wi];
    int64_t c = (int64_t)w->count;
    uint32_t *x = w->sym, n = w->len, out = 0;
    int found = 0;
    for (uint32_t i = 0; i + 1 < n; i++)
        if (x[i] == a && x[i + 1] == b) {
            found = 1;
            break;
        }
    if (!found)
        return 0;
    for (uint32_t i = 0; i + 1 < n; i++)
        if (bump(s, x[i], x[i + 1], -c, wi, 0, step))
            return -1;
    for (uint32_t i = 0; i < n;) {
        if (i + 1 < n && x[i] == a && x[i + 1] == b) {
            x[out++] = t;
            i += 2;
        } else
            x[out++] = x[i++];
    }
    w->len = out;
    for (uint32_t i = 0; i + 1 < out; i++)
        if (bump(s, x[i], x[i + 1], c, wi, x[i] == t || x[i + 1] == t, step))
            return -1;
    return 0;
}

int sw_bpe_trainer_train(sw_bpe_trainer *tr, uint32_t vocab_size, uint64_t seed, sw_bpe **out,
                         sw_kerror *err)
{
    *out = NULL;
    if (vocab_size < 256)
        return sw_kerrorf(err, SW_K_EINPUT, "--vocab: %u, expected at least 256", vocab_size);
    state s = {.seed = seed};
    /* token strings: 256 bytes, then each merge */
    uint8_t *tb = NULL;
    uint64_t *offs = malloc(vocab_size * sizeof *offs);
    uint32_t *lens = malloc(vocab_size * sizeof *lens);
    size_t tb_len = 0, tb_cap = 4096;
    tb = malloc(tb_cap);
    s.words = calloc(tr->chunks.count ? tr->chunks.count : 1, sizeof *s.words);
    sw_bmap known; /* token string -> id, to reuse an id when a merge repeats a string */
    int rc = SW_K_OK;
    if (!offs || !lens || !tb || !s.words || sw_pmap_init(&s.index, 1 << 16) ||
        sw_bmap_init(&known, vocab_size)) {
        free(offs);
        free(lens);
        free(tb);
        state_free(&s);
        return sw_kerrorf(err, SW_K_ERUNTIME, "tokenizer training: out of memory");
    }
#define OOM()                                                                                      \
    do {                                                                                           \
        rc = sw_kerrorf(err, SW_K_ERUNTIME, "tokenizer training: out of memory");                  \
        goto done;                                                                                 \
    } while (0)
    for (uint32_t i = 0; i < 256; i++) {
        tb[i] = (uint8_t)i;
        offs[i] = i;
        lens[i] = 1;
        int added;
        sw_bmap_slot *k = sw_bmap_upsert(&known, tb + i, 1, &added);
        if (!k)
            OOM();
        k->value = i;
    }
    tb_len = 256;
    /* word order does not matter: pair counts are sums, and ties go by the pair's key */
    for (size_t i = 0; i < tr->chunks.cap; i++) {
        sw_bmap_slot *c = &tr->chunks.slots[i];
        if (!c->hash)
            continue;
        word *w = &s.words[s.nwords];
        w->sym = malloc(c->len * sizeof *w->sym);
        if (!w->sym)
            OOM();
        const uint8_t *p = sw_bmap_key(&tr->chunks, c);
        for (uint32_t k = 0; k < c->len; k++)
            w->sym[k] = p[k];
        w->len = c->len;
        w->count = c->value;
        w->stamp = UINT32_MAX;
        s.nwords++;
        for (uint32_t k = 0; k + 1 < w->len; k++)
            if (bump(&s, w->sym[k], w->sym[k + 1], (int64_t)w->count, (uint32_t)(s.nwords - 1), 1,
                     0))
                OOM();
    }
    for (size_t i = 0; i < s.npairs; i++)
        if (hpush(&s, (hentry){s.pairs[i].count, s.pairs[i].tie, (uint32_t)i}))
            OOM();
    s.ndirty = 0;
    uint32_t n = 256;
    for (uint32_t step = 1; n < vocab_size && s.nheap; step++) {
        hentry e = hpop(&s);
        pair *p = &s.pairs[e.pair];
        if (e.count != p->count) { /* stale: its count fell since */
            if (p->count > 0 && hpush(&s, (hentry){p->count, p->tie, e.pair}))
                OOM();
            continue;
        }
        if (p->count <= 0)
            continue;
        uint32_t a = p->a, b = p->b;
        size_t la = lens[a], lb = lens[b];
        if (la + lb > SW_BPE_MAX_TOKEN_BYTES) { /* too long for the file format: never merge */
            p->count = 0;
            continue;
        }
        if (tb_len + la + lb > tb_cap) {
            while (tb_len + la + lb > tb_cap)
                tb_cap *= 2;
            uint8_t *g = realloc(tb, tb_cap);
            if (!g)
                OOM();
            tb = g;
        }
        memcpy(tb + tb_len, tb + offs[a], la);
        memcpy(tb + tb_len + la, tb + offs[b], lb);
        int added;
        sw_bmap_slot *k = sw_bmap_upsert(&known, tb + tb_len, la + lb, &added);
        if (!k)
            OOM();
        uint32_t t;
        if (added) {
            t = n++;
            k->value = t;
            offs[t] = tb_len;
            lens[t] = (uint32_t)(la + lb);
            tb_len += la + lb;
        } else
            t = (uint32_t)k->value;
        /* walk the pair's word list detached: merging never adds a word to (a, b)'s list */
        uint32_t *ws = p->words, nw = p->nwords;
        p->words = NULL;
        p->nwords = p->capwords = 0;
        s.ndirty = 0;
        for (uint32_t j = 0; j < nw; j++) {
            uint32_t wi = ws[j];
            if (s.words[wi].stamp == step)
                continue;
            s.words[wi].stamp = step;
            if (merge_word(&s, wi, a, b, t, step)) {
                free(ws);
                OOM();
            }
        }
        free(ws);
        for (size_t j = 0; j < s.ndirty; j++) {
            pair *q = &s.pairs[s.dirty[j]];
            if (q->count > q->count_before && hpush(&s, (hentry){q->count, q->tie, s.dirty[j]}))
                OOM();
        }
    }
    rc = sw_bpe_create("trained vocabulary", n, tb, offs, lens, sw_pretok_pattern(tr->pretok), out,
                       err);
done:
#undef OOM
    free(offs);
    free(lens);
    free(tb);
    sw_bmap_free(&known);
    state_free(&s);
    return rc;
}
