/* test_manifest.c - dataset manifests and the agents' lease stream: the shipped manifest's
 * totals and locate(), each bad manifest line and each shard that disagrees with its manifest
 * (wrong vocab, CRC, count, missing file), and batches from leases: inputs and targets equal the
 * file's tokens shifted by one (also across a shard boundary), short last batch, dropped tail,
 * resuming at the consumed offset, and a partition of the training stream into leases that
 * trains every token exactly once. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/manifest.h"
#include "kernels/manifest_stream.h"
#include "kernels/shardfile.h"

#define SHIPPED "data/shakespeare-bpe2048"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/sw_manifest_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(manifest, .init = make_dir, .fini = remove_dir);

static sw_manifest load(const char *p)
{
    sw_manifest m;
    sw_kerror err;
    cr_assert_eq(sw_manifest_load(p, &m, &err), SW_K_OK, "%s", err.msg);
    return m;
}

Test(manifest, shipped_totals_and_locate)
{
    sw_manifest m = load(SHIPPED);
    cr_assert_eq(m.n, 11);
    cr_assert_eq(m.n_train, 10);
    cr_assert_eq(m.vocab_size, 2048);
    cr_assert_eq(m.shard_tokens, 32768);
    cr_assert_eq(m.train_tokens, 10 * 32768);
    cr_assert_eq(m.val_tokens, 27979);
    cr_assert_eq(m.train_bytes + m.val_bytes, 1115394, "every byte of the corpus is in a shard");
    cr_assert(m.shards[10].val && !m.shards[9].val);
    sw_kerror err;
    cr_assert_eq(sw_manifest_verify(&m, &err), SW_K_OK, "%s", err.msg);
    size_t s;
    uint64_t off;
    cr_assert_eq(sw_manifest_locate(&m, 0, &s, &off, &err), SW_K_OK);
    cr_assert(s == 0 && off == 0);
    cr_assert_eq(sw_manifest_locate(&m, 3 * 32768 + 5, &s, &off, &err), SW_K_OK);
    cr_assert(s == 3 && off == 5);
    cr_assert_eq(sw_manifest_locate(&m, 10 * 32768 - 1, &s, &off, &err), SW_K_OK);
    cr_assert(s == 9 && off == 32767);
    cr_assert_eq(sw_manifest_locate(&m, 10 * 32768, &s, &off, &err), SW_K_EINPUT,
                 "validation tokens are not in the training stream");
    /* the unigram baseline: 9.29 bits per token over 3.03 bytes per token (computed
     * independently with Python when the example was made) */
    double bpb;
    cr_assert_eq(sw_manifest_unigram_bpb(&m, &bpb, &err), SW_K_OK, "%s", err.msg);
    cr_assert_float_eq(bpb, 3.069384, 1e-5, "%f", bpb);
    /* the manifest file path works as well as the folder */
    sw_manifest m2 = load(SHIPPED "/manifest.txt");
    cr_assert_str_eq(m2.dir, SHIPPED);
    cr_assert_str_eq(m2.shards[0].path, SHIPPED "/shard_00000.bin");
    sw_manifest_free(&m2);
    sw_manifest_free(&m);
}

static void write_manifest(const char *body)
{
    char p[128];
    snprintf(p, sizeof p, "%s/manifest.txt", dir);
    FILE *f = fopen(p, "w");
    fputs(body, f);
    fclose(f);
}

#define HEAD "spillway-manifest 1\nvocab_size 300\ntoken_bytes 2\ntokenizer_crc 0000abcd\n"

static void expect_bad(const char *body, const char *needle)
{
    write_manifest(body);
    sw_manifest m;
    sw_kerror err;
    cr_assert_eq(sw_manifest_load(dir, &m, &err), SW_K_EINPUT, "loaded (%s)", needle);
    cr_assert(strstr(err.msg, "manifest.txt"), "names the file: %s", err.msg);
    cr_assert(strstr(err.msg, needle), "expected '%s' in: %s", needle, err.msg);
}

Test(manifest, bad_lines)
{
    const char *ok = HEAD "shard_tokens 10\nshard train a.bin 10 40 00000001\n";
    write_manifest(ok);
    sw_manifest m = load(dir);
    cr_assert_eq(m.train_tokens, 10);
    sw_manifest_free(&m);

    expect_bad("", "empty manifest");
    expect_bad("spillway-manifest 2\n", "line 1: version: 2");
    expect_bad("hello\n", "line 1: expected 'spillway-manifest 1'");
    expect_bad(HEAD "shard_tokens x\n", "line 5: shard_tokens: expected an integer >= 1");
    expect_bad(HEAD "shard_tokens 10\nshard_tokens 10\n", "line 6: shard_tokens: given twice");
    expect_bad(HEAD "shard_tokens 10\ntoken_width 2\n", "line 6: unknown record 'token_width'");
    expect_bad(HEAD "shard_tokens 10\nshard train a.bin 10 40\n", "line 6: shard: expected");
    expect_bad(HEAD "shard_tokens 10\nshard test a.bin 10 40 00000001\n", "split");
    expect_bad(HEAD "shard_tokens 10\nshard train ../a.bin 10 40 00000001\n", "name");
    expect_bad(HEAD "shard_tokens 10\nshard train a.bin 0 40 00000001\n",
               "line 6: shard a.bin: tokens: expected an integer >= 1");
    expect_bad(HEAD "shard_tokens 10\nshard train a.bin -3 40 00000001\n", "tokens");
    expect_bad(HEAD "shard_tokens 10\nshard train a.bin 10 40 xyz\n", "crc");
    expect_bad(HEAD "shard_tokens 10\nshard train a.bin 10 40 00000001\n"
                    "shard train a.bin 10 40 00000001\n",
               "line 7: shard a.bin: name: listed twice");
    expect_bad(HEAD "shard_tokens 10\nshard val v.bin 10 40 00000001\n"
                    "shard train a.bin 10 40 00000001\n",
               "a training shard after a validation shard");
    expect_bad(HEAD "shard_tokens 10\nshard train a.bin 7 40 00000001\n"
                    "shard train b.bin 10 40 00000001\n",
               "shard a.bin: tokens: 7, expected shard_tokens (10)");
    expect_bad(HEAD "shard_tokens 10\nshard val v.bin 10 40 00000001\n", "no training shard");
    expect_bad("spillway-manifest 1\nvocab_size 300\ntoken_bytes 2\nshard_tokens 10\n"
               "shard train a.bin 10 40 00000001\n",
               "tokenizer_crc: missing");
    expect_bad("spillway-manifest 1\nvocab_size 70000\ntoken_bytes 2\ntokenizer_crc 0\n"
               "shard_tokens 10\nshard train a.bin 10 40 00000001\n",
               "token_bytes: 2 cannot hold vocab_size 70000");
    sw_manifest m2;
    sw_kerror err;
    cr_assert_eq(sw_manifest_load("/nonexistent", &m2, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "/nonexistent/manifest.txt: cannot open"), "%s", err.msg);
}

/* A dataset in dir: shards of the given sizes (tokens i -> (i * 7) % vocab over the whole
 * stream), the last `val` held out. */
static sw_manifest make_dataset(const uint64_t *sizes, size_t n, size_t val, uint32_t vocab)
{
    sw_manifest m = {.dir = strdup(dir), .vocab_size = vocab, .shard_tokens = sizes[0]};
    m.token_bytes = sw_shard_token_bytes_for(vocab);
    m.shards = calloc(n, sizeof *m.shards);
    uint64_t at = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t *ids = malloc(sizes[k] * sizeof *ids);
        for (uint64_t i = 0; i < sizes[k]; i++)
            ids[i] = (uint32_t)((at + i) * 7 % vocab);
        at += sizes[k];
        char name[32], path[128];
        snprintf(name, sizeof name, "s%zu.bin", k);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        sw_shard_info info;
        sw_kerror err;
        cr_assert_eq(sw_shard_write(path, vocab, ids, sizes[k], &info, &err), SW_K_OK);
        m.shards[k] = (sw_manifest_shard){.name = strdup(name),
                                          .tokens = sizes[k],
                                          .text_bytes = sizes[k] * 3,
                                          .crc = info.tokens_crc,
                                          .val = k >= n - val};
        free(ids);
    }
    m.n = n;
    sw_kerror err;
    cr_assert_eq(sw_manifest_write(&m, &err), SW_K_OK, "%s", err.msg);
    sw_manifest_free(&m);
    return load(dir);
}

static void rewrite_shard(const char *name, uint32_t vocab, uint64_t n, uint32_t first)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint32_t *ids = calloc(n, sizeof *ids);
    ids[0] = first;
    sw_kerror err;
    cr_assert_eq(sw_shard_write(path, vocab, ids, n, NULL, &err), SW_K_OK);
    free(ids);
}

static void expect_verify(const sw_manifest *m, const char *needle)
{
    sw_kerror err;
    cr_assert_eq(sw_manifest_verify(m, &err), SW_K_EINPUT, "verified (%s)", needle);
    cr_assert(strstr(err.msg, needle), "expected '%s' in: %s", needle, err.msg);
}

Test(manifest, verify_names_the_shard_and_field)
{
    uint64_t sizes[] = {100, 100, 40};
    sw_manifest m = make_dataset(sizes, 3, 1, 300);
    sw_kerror err;
    cr_assert_eq(sw_manifest_verify(&m, &err), SW_K_OK, "%s", err.msg);
    rewrite_shard("s1.bin", 500, 100, 0);
    expect_verify(&m, "s1.bin: vocab_size: 500");
    rewrite_shard("s1.bin", 300, 99, 0);
    expect_verify(&m, "s1.bin: tokens: 99");
    rewrite_shard("s1.bin", 300, 100, 5);
    expect_verify(&m, "s1.bin: tokens_crc");
    char path[128];
    snprintf(path, sizeof path, "%s/s1.bin", dir);
    FILE *f = fopen(path, "r+b");
    fseek(f, 100, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
    expect_verify(&m, "s1.bin: tokens_crc: stored");
    truncate(path, 150);
    expect_verify(&m, "s1.bin: tokens: the header says 100 tokens");
    remove(path);
    expect_verify(&m, "s1.bin: cannot open");
    sw_manifest_free(&m);
}

/* ---- the lease stream -------------------------------------------------------------------- */

static uint32_t tok_at(uint64_t global, uint32_t vocab)
{
    return (uint32_t)(global * 7 % vocab);
}

Test(manifest, stream_batches_cross_into_the_next_shard)
{
    uint64_t sizes[] = {64, 64, 64, 30};
    sw_manifest m = make_dataset(sizes, 4, 1, 300);
    sw_lease_stream *s;
    sw_kerror err;
    /* shard 1, the whole of it: 4 rows of 8 per batch -> two full batches */
    cr_assert_eq(sw_lease_stream_open(&m, 1, 0, 64, 4, 8, true, &s, &err), SW_K_OK, "%s", err.msg);
    int32_t in[32], tg[32];
    int rows;
    for (int b = 0; b < 2; b++) {
        cr_assert_eq(sw_lease_stream_next(s, in, tg, &rows, &err), SW_K_OK);
        cr_assert_eq(rows, 4);
        for (int i = 0; i < 32; i++) {
            uint64_t g = 64 + (uint64_t)b * 32 + (uint64_t)i;
            cr_assert_eq((uint32_t)in[i], tok_at(g, 300));
            cr_assert_eq((uint32_t)tg[i], tok_at(g + 1, 300),
                         "target of the shard's last "
                         "token is the next shard's first");
        }
    }
    cr_assert_eq(sw_lease_stream_consumed(s), 64);
    cr_assert_eq(sw_lease_stream_next(s, in, tg, &rows, &err), SW_K_OK);
    cr_assert_eq(rows, 0);
    cr_assert_eq(sw_lease_stream_dropped(s), 0);
    sw_lease_stream_close(s);
    sw_manifest_free(&m);
}

Test(manifest, stream_short_batch_and_dropped_tail)
{
    uint64_t sizes[] = {64, 64, 30};
    sw_manifest m = make_dataset(sizes, 3, 1, 300);
    sw_lease_stream *s;
    sw_kerror err;
    int32_t in[32], tg[32];
    int rows;
    /* lease [5, 64) of the last training shard: 59 tokens, the last has no successor in the
     * training split (the next shard validates): 58 inputs = 1 full batch (32) + 3 rows (24),
     * then 2 dropped */
    cr_assert_eq(sw_lease_stream_open(&m, 1, 5, 59, 4, 8, false, &s, &err), SW_K_OK);
    cr_assert_eq(sw_lease_stream_next(s, in, tg, &rows, &err), SW_K_OK);
    cr_assert_eq(rows, 4);
    cr_assert_eq(sw_lease_stream_next(s, in, tg, &rows, &err), SW_K_OK);
    cr_assert_eq(rows, 3);
    cr_assert_eq((uint32_t)in[0], tok_at(64 + 5 + 32, 300));
    cr_assert_eq(sw_lease_stream_consumed(s), 56);
    cr_assert_eq(sw_lease_stream_next(s, in, tg, &rows, &err), SW_K_OK);
    cr_assert_eq(rows, 0);
    cr_assert_eq(sw_lease_stream_consumed(s), 59, "the tail counts as consumed");
    cr_assert_eq(sw_lease_stream_dropped(s), 3);
    cr_assert_eq(sw_lease_stream_position(s), 64);
    sw_lease_stream_close(s);
    /* a lease outside the shard, a bad shard index */
    cr_assert_eq(sw_lease_stream_open(&m, 1, 60, 10, 4, 8, false, &s, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "s1.bin: lease [60, 70)"), "%s", err.msg);
    cr_assert_eq(sw_lease_stream_open(&m, 7, 0, 1, 4, 8, false, &s, &err), SW_K_EINPUT);
    /* the file disagrees with the manifest */
    rewrite_shard("s0.bin", 400, 64, 0);
    cr_assert_eq(sw_lease_stream_open(&m, 0, 0, 64, 4, 8, false, &s, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "s0.bin: vocab_size: 400, the manifest says 300"), "%s", err.msg);
    sw_manifest_free(&m);
}

Test(manifest, resuming_at_the_consumed_offset_continues_the_same_stream)
{
    uint64_t sizes[] = {96, 20};
    sw_manifest m = make_dataset(sizes, 2, 1, 300);
    sw_lease_stream *a, *b;
    sw_kerror err;
    int32_t in[16], tg[16], in2[16], tg2[16];
    int rows;
    cr_assert_eq(sw_lease_stream_open(&m, 0, 0, 96, 2, 8, true, &a, &err), SW_K_OK);
    cr_assert_eq(sw_lease_stream_next(a, in, tg, &rows, &err), SW_K_OK);
    uint64_t done = sw_lease_stream_consumed(a); /* reported, then the site is drained */
    cr_assert_eq(done, 16);
    cr_assert_eq(sw_lease_stream_next(a, in, tg, &rows, &err), SW_K_OK);
    cr_assert_eq(sw_lease_stream_open(&m, 0, done, 96 - done, 2, 8, true, &b, &err), SW_K_OK);
    cr_assert_eq(sw_lease_stream_next(b, in2, tg2, &rows, &err), SW_K_OK);
    cr_assert(!memcmp(in, in2, sizeof in) && !memcmp(tg, tg2, sizeof tg));
    sw_lease_stream_close(a);
    sw_lease_stream_close(b);
    sw_manifest_free(&m);
}

Test(manifest, leases_over_the_training_stream_train_every_token_once)
{
    /* a shard manager's view: ranges of [0, train_tokens) of shard_tokens each, some split
     * into remainders (a site drained mid-lease); each located and streamed */
    uint64_t sizes[] = {48, 48, 48, 48, 17};
    sw_manifest m = make_dataset(sizes, 5, 1, 300);
    uint64_t cuts[] = {0, 16, 48, 72, 96, 144, 168, 192};
    uint8_t *seen = calloc(m.train_tokens, 1);
    uint64_t dropped = 0;
    for (size_t k = 0; k + 1 < sizeof cuts / sizeof cuts[0]; k++) {
        sw_kerror err;
        sw_lease_stream *s;
        cr_assert_eq(sw_lease_stream_open_range(&m, cuts[k], cuts[k + 1], 2, 8, true, &s, &err),
                     SW_K_OK, "%s", err.msg);
        int32_t in[16], tg[16];
        int rows;
        uint64_t pos = cuts[k];
        for (;;) {
            cr_assert_eq(sw_lease_stream_next(s, in, tg, &rows, &err), SW_K_OK);
            if (!rows)
                break;
            for (int i = 0; i < rows * 8; i++, pos++) {
                cr_assert_eq((uint32_t)in[i], tok_at(pos, 300));
                cr_assert_eq((uint32_t)tg[i], tok_at(pos + 1, 300));
                seen[pos]++;
            }
        }
        cr_assert_eq(sw_lease_stream_consumed(s), cuts[k + 1] - cuts[k]);
        dropped += sw_lease_stream_dropped(s);
        sw_lease_stream_close(s);
    }
    sw_lease_stream *s;
    sw_kerror err;
    cr_assert_eq(sw_lease_stream_open_range(&m, 40, 56, 2, 8, true, &s, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "spans s0.bin and the next shard"), "%s", err.msg);
    cr_assert_eq(sw_lease_stream_open_range(&m, 150, 193, 2, 8, true, &s, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "expected a non-empty range of the 192"), "%s", err.msg);
    for (uint64_t i = 0; i + 8 < m.train_tokens; i++)
        cr_assert_eq(seen[i], 1, "token %llu trained %d times", (unsigned long long)i, seen[i]);
    /* only the final 8 tokens (the last row lacks a successor for its last token) drop */
    cr_assert_eq(dropped, 8);
    free(seen);
    sw_manifest_free(&m);
}
