/* test_bpe.c - the BPE tokenizer: decode(encode(x)) == x for arbitrary bytes (seeded property
 * test, valid and invalid UTF-8), the heap-based encoder against a naive rescanning one on the
 * same rule, the pre-tokenisation split, vocabulary checks, and training (hand-checked merges,
 * determinism for a seed). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/bpe.h"
#include "kernels/bpe_train.h"
#include "kernels/pretok.h"
#include "kernels/rng.h"
#include "kernels/shardfile.h"

#define SHIPPED "data/shakespeare-bpe2048/tokenizer.bin"

static sw_bpe *load(const char *path)
{
    sw_kerror err;
    sw_bpe *t;
    cr_assert_eq(sw_bpe_load(path, &t, &err), SW_K_OK, "%s", err.msg);
    return t;
}

/* Random bytes of one of several flavours: uniform bytes (mostly invalid UTF-8), ASCII text,
 * valid UTF-8 of mixed scripts, runs of spaces and newlines, and truncated multibyte chars. */
static size_t random_text(sw_rng *r, uint8_t *buf, size_t cap)
{
    size_t n = 1 + sw_rng_u64(r) % (cap - 8), i = 0;
    int flavour = (int)(sw_rng_u64(r) % 5);
    static const char *pieces[] = {"the",  " and", "'ll",  " ",  "  ",   "\n",
                                   "\r\n", "123",  "4567", "é",  "日本", "😀",
                                   "ß",    "!?",   "...",  "\t", "Ω",    "\xe2\x80"};
    while (i < n) {
        uint64_t x = sw_rng_u64(r);
        if (flavour == 0)
            buf[i++] = (uint8_t)x;
        else if (flavour == 1)
            buf[i++] = (uint8_t)(32 + x % 95);
        else {
            const char *p = pieces[x % (sizeof pieces / sizeof pieces[0])];
            size_t l = strlen(p);
            if (flavour == 4 && x % 7 == 0)
                buf[i++] = (uint8_t)(0x80 | (x >> 8));
            for (size_t k = 0; k < l && i < n; k++)
                buf[i++] = (uint8_t)p[k];
        }
    }
    return n;
}

static void round_trip(sw_bpe *t, const uint8_t *text, size_t n)
{
    sw_kerror err;
    sw_ids ids = {0};
    cr_assert_eq(sw_bpe_encode(t, text, n, &ids, &err), SW_K_OK, "%s", err.msg);
    size_t len;
    cr_assert_eq(sw_bpe_decoded_len(t, ids.v, ids.n, &len, &err), SW_K_OK);
    cr_assert_eq(len, n);
    uint8_t *back = malloc(n + 1);
    cr_assert_eq(sw_bpe_decode(t, ids.v, ids.n, back, &err), SW_K_OK);
    cr_assert(!memcmp(back, text, n), "round trip differs (%zu bytes, %zu tokens)", n, ids.n);
    for (size_t i = 0; i < ids.n; i++)
        cr_assert_lt(ids.v[i], sw_bpe_vocab_size(t));
    free(back);
    sw_ids_free(&ids);
}

Test(bpe, round_trip_arbitrary_bytes)
{
    sw_bpe *t = load(SHIPPED);
    sw_rng r;
    sw_rng_seed(&r, 16);
    uint8_t buf[512];
    for (int k = 0; k < 2000; k++) {
        size_t n = random_text(&r, buf, sizeof buf);
        round_trip(t, buf, n);
    }
    uint8_t all[256];
    for (int b = 0; b < 256; b++)
        all[b] = (uint8_t)b;
    round_trip(t, all, 256);
    sw_bpe_destroy(t);
}

Test(bpe, round_trip_corpus_and_compression)
{
    sw_bpe *t = load(SHIPPED);
    sw_mapfile m;
    sw_kerror err;
    cr_assert_eq(sw_mapfile_open("corpus/tinyshakespeare.txt", &m, &err), SW_K_OK);
    round_trip(t, m.data, m.size);
    sw_ids ids = {0};
    cr_assert_eq(sw_bpe_encode(t, m.data, m.size, &ids, &err), SW_K_OK);
    /* a 2048-token vocabulary trained on this text compresses it ~3.1x */
    double bpt = (double)m.size / (double)ids.n;
    cr_assert(bpt > 3.0 && bpt < 3.3, "bytes per token %.3f", bpt);
    sw_ids_free(&ids);
    sw_mapfile_close(&m);
    sw_bpe_destroy(t);
}

/* The rule of bpe.h, written the slow obvious way: whole chunk if it is a token, else rescan
 * every adjacent pair each step and merge the lowest-ranked one (leftmost on ties). */
static sw_bpe *ref_tok;
static sw_ids ref_out;
static int ref_chunk(const uint8_t *p, size_t m, void *ctx)
{
    (void)ctx;
    uint32_t n = sw_bpe_vocab_size(ref_tok);
    /* rank of a byte string, by linear search of the vocabulary */
#define RANK(s, l)                                                                                 \
    ({                                                                                             \
        uint32_t found_ = UINT32_MAX;                                                              \
        for (uint32_t r_ = 0; r_ < n && found_ == UINT32_MAX; r_++) {                              \
            size_t tl_;                                                                            \
            const uint8_t *tp_ = sw_bpe_token(ref_tok, r_, &tl_);                                  \
            if (tl_ == (l) && !memcmp(tp_, (s), tl_))                                              \
                found_ = r_;                                                                       \
        }                                                                                          \
        found_;                                                                                    \
    })
    size_t start[600], cnt = m;
    cr_assert_lt(m, 600);
    uint32_t whole = RANK(p, m);
    if (whole != UINT32_MAX) {
        ref_out.v[ref_out.n++] = whole;
        return 0;
    }
    for (size_t i = 0; i <= m; i++)
        start[i] = i;
    for (;;) {
        uint32_t best = UINT32_MAX;
        size_t at = 0;
        for (size_t i = 0; i + 1 < cnt; i++) {
            uint32_t r = RANK(p + start[i], start[i + 2] - start[i]);
            if (r < best) {
                best = r;
                at = i;
            }
        }
        if (best == UINT32_MAX)
            break;
        memmove(start + at + 1, start + at + 2, (cnt - at - 1) * sizeof *start);
        cnt--;
    }
    for (size_t i = 0; i < cnt; i++)
        ref_out.v[ref_out.n++] = RANK(p + start[i], start[i + 1] - start[i]);
#undef RANK
    return 0;
}

Test(bpe, heap_encoder_matches_naive_rule)
{
    sw_bpe *t = load(SHIPPED);
    sw_kerror err;
    sw_pretok *pt;
    cr_assert_eq(sw_pretok_create(NULL, &pt, &err), SW_K_OK);
    ref_tok = t;
    sw_rng r;
    sw_rng_seed(&r, 7);
    uint8_t buf[200];
    ref_out.cap = 1024;
    ref_out.v = malloc(ref_out.cap * sizeof *ref_out.v);
    for (int k = 0; k < 150; k++) {
        size_t n = random_text(&r, buf, sizeof buf);
        ref_out.n = 0;
        cr_assert_eq(sw_pretok_split(pt, buf, n, ref_chunk, NULL, &err), SW_K_OK);
        sw_ids got = {0};
        cr_assert_eq(sw_bpe_encode(t, buf, n, &got, &err), SW_K_OK);
        cr_assert_eq(got.n, ref_out.n, "case %d: %zu tokens, reference %zu", k, got.n, ref_out.n);
        for (size_t i = 0; i < got.n; i++)
            cr_assert_eq(got.v[i], ref_out.v[i], "case %d token %zu", k, i);
        sw_ids_free(&got);
    }
    free(ref_out.v);
    sw_pretok_destroy(pt);
    sw_bpe_destroy(t);
}

/* ---- pre-tokenisation -------------------------------------------------------------------- */

typedef struct chunks {
    char s[16][32];
    int n;
} chunks;

static int collect(const uint8_t *p, size_t len, void *ctx)
{
    chunks *c = ctx;
    cr_assert_lt(c->n, 16);
    cr_assert_lt(len, 32);
    memcpy(c->s[c->n], p, len);
    c->s[c->n++][len] = '\0';
    return 0;
}

static chunks split(const char *text)
{
    sw_pretok *p;
    sw_kerror err;
    cr_assert_eq(sw_pretok_create(NULL, &p, &err), SW_K_OK, "%s", err.msg);
    chunks c = {0};
    cr_assert_eq(sw_pretok_split(p, (const uint8_t *)text, strlen(text), collect, &c, &err),
                 SW_K_OK);
    sw_pretok_destroy(p);
    return c;
}

Test(pretok, gpt4_split)
{
    /* words keep their leading space, contractions split off, digits in threes, the last
     * space of a run goes with the next word, newlines with the whitespace before them */
    chunks c = split("Hello world, I'll pay 12345!  Now\n\nend  ");
    const char *want[] = {"Hello", " world", ",", " I",   "'ll",  " pay", " ", "123",
                          "45",    "!",      " ", " Now", "\n\n", "end",  "  "};
    cr_assert_eq(c.n, 15, "got %d chunks", c.n);
    for (int i = 0; i < c.n; i++)
        cr_assert_str_eq(c.s[i], want[i], "chunk %d", i);
}

Test(pretok, invalid_utf8_bytes_are_chunks_of_their_own)
{
    chunks c = split("ab\xff\xfe cd\x80");
    cr_assert_eq(c.n, 4, "got %d chunks", c.n);
    cr_assert_str_eq(c.s[0], "ab");
    cr_assert_str_eq(c.s[1], "\xff\xfe");
    cr_assert_str_eq(c.s[2], " cd");
    cr_assert_str_eq(c.s[3], "\x80");
}

Test(pretok, bad_pattern_is_an_input_error)
{
    sw_pretok *p;
    sw_kerror err;
    cr_assert_eq(sw_pretok_create("(unclosed", &p, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "offset"), "%s", err.msg);
}

/* ---- vocabulary checks ------------------------------------------------------------------- */

static int build(uint32_t n, const char *extra[], sw_bpe **t, sw_kerror *err, int skip_byte)
{
    uint8_t bytes[4096];
    uint64_t offs[400];
    uint32_t lens[400], k = 0, at = 0;
    for (int b = 0; b < 256; b++) {
        if (b == skip_byte)
            continue;
        bytes[at] = (uint8_t)b;
        offs[k] = at++;
        lens[k++] = 1;
    }
    for (uint32_t i = 0; k < n; i++) {
        size_t l = strlen(extra[i]);
        memcpy(bytes + at, extra[i], l);
        offs[k] = at;
        lens[k++] = (uint32_t)l;
        at += (uint32_t)l;
    }
    return sw_bpe_create("test vocab", n, bytes, offs, lens, NULL, t, err);
}

Test(bpe, vocabulary_checks)
{
    sw_bpe *t;
    sw_kerror err;
    const char *ok[] = {"ab", "abc"};
    cr_assert_eq(build(258, ok, &t, &err, -1), SW_K_OK, "%s", err.msg);
    sw_ids ids = {0};
    cr_assert_eq(sw_bpe_encode(t, (const uint8_t *)"abcab", 5, &ids, &err), SW_K_OK);
    cr_assert_eq(ids.n, 2);
    cr_assert_eq(ids.v[0], 257); /* "abc" */
    cr_assert_eq(ids.v[1], 256); /* "ab" */
    sw_ids_free(&ids);
    sw_bpe_destroy(t);

    const char *dup[] = {"ab", "ab"};
    cr_assert_eq(build(258, dup, &t, &err, -1), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "token 257: same bytes as token 256"), "%s", err.msg);
    const char *one[] = {"ab", "x"};
    cr_assert_eq(build(256, one, &t, &err, 'q'), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "0x71"), "%s", err.msg);
}

Test(bpe, decode_rejects_unknown_ids)
{
    sw_bpe *t = load(SHIPPED);
    uint32_t ids[] = {72, 2048};
    sw_kerror err;
    size_t len;
    cr_assert_eq(sw_bpe_decoded_len(t, ids, 2, &len, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "token 1: id 2048"), "%s", err.msg);
    sw_bpe_destroy(t);
}

/* ---- training ---------------------------------------------------------------------------- */

static sw_bpe *train(const char *text, uint32_t vocab, uint64_t seed)
{
    sw_bpe_trainer *tr;
    sw_kerror err;
    cr_assert_eq(sw_bpe_trainer_create(NULL, &tr, &err), SW_K_OK);
    cr_assert_eq(sw_bpe_trainer_add(tr, (const uint8_t *)text, strlen(text), &err), SW_K_OK);
    sw_bpe *t;
    cr_assert_eq(sw_bpe_trainer_train(tr, vocab, seed, &t, &err), SW_K_OK, "%s", err.msg);
    sw_bpe_trainer_destroy(tr);
    return t;
}

static void assert_token(sw_bpe *t, uint32_t id, const char *want)
{
    size_t len;
    const uint8_t *p = sw_bpe_token(t, id, &len);
    cr_assert(len == strlen(want) && !memcmp(p, want, len), "token %u is '%.*s', expected '%s'", id,
              (int)len, p, want);
}

Test(bpe_train, merges_most_frequent_pairs_first)
{
    /* chunks: "abababab" once, " cdcd" twice: pair counts ab 4, ba 3, cd 4, dc 2, " c" 2.
     * ab and cd tie at 4 (seeded order); then (ab,ab) 2... until the vocabulary is full. */
    sw_bpe *t = train("abababab cdcd cdcd", 260, 0);
    cr_assert_eq(sw_bpe_vocab_size(t), 260);
    size_t l256, l257;
    sw_bpe_token(t, 256, &l256);
    sw_bpe_token(t, 257, &l257);
    const uint8_t *a = sw_bpe_token(t, 256, &l256), *b = sw_bpe_token(t, 257, &l257);
    cr_assert(l256 == 2 && l257 == 2);
    cr_assert((!memcmp(a, "ab", 2) && !memcmp(b, "cd", 2)) ||
              (!memcmp(a, "cd", 2) && !memcmp(b, "ab", 2)));
    /* then "abab" (count 2, in "abababab") ties with " c"/"cdcd"-building pairs at 2 */
    sw_bpe_destroy(t);

    t = train("aaaa aaaa aaaa", 300, 5);
    assert_token(t, 256, "aa");   /* "aaaa" = aa aa: count 2 per chunk x 3 */
    assert_token(t, 257, "aaaa"); /* (aa, aa) 3; " a" never appears: spaces lead */
    /* " aaaa" chunks: " " + "aaaa" -> pair (" ", aaaa) count 2 */
    assert_token(t, 258, " aaaa");
    /* nothing left to merge: training stops short of 300 */
    cr_assert_eq(sw_bpe_vocab_size(t), 259);
    sw_bpe_destroy(t);
}

Test(bpe_train, deterministic_for_a_seed)
{
    sw_mapfile m;
    sw_kerror err;
    cr_assert_eq(sw_mapfile_open("corpus/tinyshakespeare.txt", &m, &err), SW_K_OK);
    sw_bpe *t[3];
    for (int k = 0; k < 3; k++) {
        sw_bpe_trainer *tr;
        cr_assert_eq(sw_bpe_trainer_create(NULL, &tr, &err), SW_K_OK);
        cr_assert_eq(sw_bpe_trainer_add(tr, m.data, 200000, &err), SW_K_OK);
        cr_assert_eq(sw_bpe_trainer_train(tr, 1024, k < 2 ? 42 : 43, &t[k], &err), SW_K_OK);
        sw_bpe_trainer_destroy(tr);
    }
    cr_assert_eq(sw_bpe_crc(t[0]), sw_bpe_crc(t[1]));
    int differ = 0;
    for (uint32_t i = 0; i < 1024; i++) {
        size_t la, lb, lc;
        const uint8_t *a = sw_bpe_token(t[0], i, &la), *b = sw_bpe_token(t[1], i, &lb);
        const uint8_t *c = sw_bpe_token(t[2], i, &lc);
        cr_assert(la == lb && !memcmp(a, b, la), "same seed, token %u differs", i);
        differ |= la != lc || memcmp(a, c, la);
    }
    cr_assert(differ, "another seed breaks ties differently somewhere in 1024 tokens");
    for (int k = 0; k < 3; k++)
        sw_bpe_destroy(t[k]);
    sw_mapfile_close(&m);
}

Test(bpe_train, tokens_never_outgrow_the_file_format)
{
    /* one chunk of 140,000 letters: merges double a token's length each step; the 65,536-byte
     * token would not fit the format's u16 lengths, so it is never made */
    size_t n = 140000;
    char *text = malloc(n + 1);
    memset(text, 'a', n);
    text[n] = '\0';
    sw_bpe *t = train(text, 400, 0);
    size_t longest = 0, len;
    for (uint32_t i = 0; i < sw_bpe_vocab_size(t); i++) {
        sw_bpe_token(t, i, &len);
        longest = len > longest ? len : longest;
    }
    cr_assert_leq(longest, SW_BPE_MAX_TOKEN_BYTES);
    cr_assert_geq(longest, 32768, "the doubling went as far as it could: %zu", longest);
    round_trip(t, (const uint8_t *)text, n);
    free(text);
    sw_bpe_destroy(t);
}

Test(bpe_train, the_order_of_inputs_does_not_matter)
{
    /* two texts added in either order: the same chunks, so the same vocabulary */
    sw_mapfile m;
    sw_kerror err;
    cr_assert_eq(sw_mapfile_open("corpus/tinyshakespeare.txt", &m, &err), SW_K_OK);
    const uint8_t *part[2] = {m.data, m.data + 100000};
    sw_bpe *t[2];
    for (int k = 0; k < 2; k++) {
        sw_bpe_trainer *tr;
        cr_assert_eq(sw_bpe_trainer_create(NULL, &tr, &err), SW_K_OK);
        cr_assert_eq(sw_bpe_trainer_add(tr, part[k], 100000, &err), SW_K_OK);
        cr_assert_eq(sw_bpe_trainer_add(tr, part[1 - k], 100000, &err), SW_K_OK);
        cr_assert_eq(sw_bpe_trainer_train(tr, 800, 3, &t[k], &err), SW_K_OK);
        sw_bpe_trainer_destroy(tr);
    }
    cr_assert_eq(sw_bpe_crc(t[0]), sw_bpe_crc(t[1]));
    sw_bpe_destroy(t[0]);
    sw_bpe_destroy(t[1]);
    sw_mapfile_close(&m);
}
