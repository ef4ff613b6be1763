/* test_bpe_tiktoken.c - agreement with tiktoken: for two small vocabularies in tiktoken's file
 * format (one trained on a multilingual sample, one on tiny Shakespeare), the ids tiktoken
 * 0.14.0 gives for 381 texts (mixed scripts, GPT-4 split edge cases, seeded random Unicode,
 * Shakespeare) were recorded by tests/kernels/make_bpe_fixtures.py; ours must be identical. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/bpe.h"

#define DIR "tests/kernels/fixtures/bpe/"

static int b64(int c)
{
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(a, c);
    return c && p ? (int)(p - a) : -1;
}

static size_t unbase64(const char *s, size_t n, uint8_t *out)
{
    size_t len = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int v = b64(s[i]);
        cr_assert_geq(v, 0, "fixture: bad base64");
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (uint8_t)(acc >> bits);
        }
    }
    return len;
}

static void agree(const char *vocab, const char *cases)
{
    sw_bpe *t;
    sw_kerror err;
    cr_assert_eq(sw_bpe_load_tiktoken(vocab, NULL, &t, &err), SW_K_OK, "%s", err.msg);
    FILE *f = fopen(cases, "r");
    cr_assert_not_null(f, "%s", cases);
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) > 0) {
        char *tab = strchr(line, '\t');
        cr_assert_not_null(tab);
        uint8_t *text = malloc(strlen(line));
        size_t len = unbase64(line, (size_t)(tab - line), text);
        uint32_t want[8192];
        size_t nw = 0;
        for (char *p = tab + 1, *end; *p && *p != '\n'; p = end) {
            want[nw++] = (uint32_t)strtoul(p, &end, 10);
            cr_assert(end != p);
        }
        sw_ids got = {0};
        cr_assert_eq(sw_bpe_encode(t, text, len, &got, &err), SW_K_OK, "%s", err.msg);
        cr_assert_eq(got.n, nw, "%s case %d: %zu tokens, tiktoken %zu", cases, n, got.n, nw);
        for (size_t i = 0; i < nw; i++)
            cr_assert_eq(got.v[i], want[i], "%s case %d token %zu: %u, tiktoken %u", cases, n, i,
                         got.v[i], want[i]);
        sw_ids_free(&got);
        free(text);
        n++;
    }
    cr_assert_eq(n, 381, "%s: %d cases", cases, n);
    free(line);
    fclose(f);
    sw_bpe_destroy(t);
}

Test(tiktoken, multilingual_vocabulary)
{
    agree(DIR "mixed.tiktoken", DIR "mixed.cases");
}

Test(tiktoken, shakespeare_vocabulary)
{
    agree(DIR "shakespeare.tiktoken", DIR "shakespeare.cases");
}

Test(tiktoken, shipped_binary_tokenizer_is_the_same_vocabulary)
{
    /* the exported tiktoken file and the shipped binary file load to the same tokens */
    sw_bpe *a, *b;
    sw_kerror err;
    cr_assert_eq(sw_bpe_load(DIR "shakespeare.tiktoken", &a, &err), SW_K_OK, "%s", err.msg);
    cr_assert_eq(sw_bpe_load("data/shakespeare-bpe2048/tokenizer.bin", &b, &err), SW_K_OK);
    cr_assert_eq(sw_bpe_vocab_size(a), sw_bpe_vocab_size(b));
    cr_assert_eq(sw_bpe_crc(a), sw_bpe_crc(b));
    sw_bpe_destroy(a);
    sw_bpe_destroy(b);
}
