/* test_tokenizer_shipped.c - the shipped example (data/shakespeare-bpe2048, data/SOURCES.md)
 * is reproducible: training on corpus/tinyshakespeare.txt with the recorded settings and
 * preparing the shards again gives the committed files byte for byte; and JSON lines or a
 * folder holding the same text give the same token stream. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/bpe_train.h"
#include "kernels/manifest.h"
#include "kernels/manifest_prepare.h"
#include "kernels/shardfile.h"

#define SHIPPED "data/shakespeare-bpe2048"
#define CORPUS  "corpus/tinyshakespeare.txt"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/sw_shipped_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(shipped, .init = make_dir, .fini = remove_dir);

static void same_file(const char *a, const char *b)
{
    sw_mapfile x, y;
    sw_kerror err;
    cr_assert_eq(sw_mapfile_open(a, &x, &err), SW_K_OK, "%s", err.msg);
    cr_assert_eq(sw_mapfile_open(b, &y, &err), SW_K_OK, "%s", err.msg);
    cr_assert(x.size == y.size && !memcmp(x.data, y.data, x.size), "%s and %s differ", a, b);
    sw_mapfile_close(&x);
    sw_mapfile_close(&y);
}

static sw_bpe *train_shipped(void)
{
    /* spillway tokenizer train corpus/tinyshakespeare.txt --vocab 2048 (seed 0) */
    sw_bpe_trainer *tr;
    sw_kerror err;
    sw_mapfile m;
    cr_assert_eq(sw_bpe_trainer_create(NULL, &tr, &err), SW_K_OK);
    cr_assert_eq(sw_mapfile_open(CORPUS, &m, &err), SW_K_OK);
    cr_assert_eq(sw_bpe_trainer_add(tr, m.data, m.size, &err), SW_K_OK);
    sw_mapfile_close(&m);
    sw_bpe *t;
    cr_assert_eq(sw_bpe_trainer_train(tr, 2048, 0, &t, &err), SW_K_OK, "%s", err.msg);
    sw_bpe_trainer_destroy(tr);
    return t;
}

Test(shipped, regenerating_gives_identical_bytes)
{
    sw_bpe *t = train_shipped();
    char tok[128];
    snprintf(tok, sizeof tok, "%s/tokenizer.bin", dir);
    sw_kerror err;
    cr_assert_eq(sw_bpe_save(t, tok, &err), SW_K_OK);
    same_file(tok, SHIPPED "/tokenizer.bin");
    /* spillway data prepare corpus/tinyshakespeare.txt --shard-tokens 32768 --val-shards 1 */
    const char *in[] = {CORPUS};
    sw_prepare_opts o = {.out_dir = dir, .shard_tokens = 32768, .val_shards = 1};
    sw_manifest m;
    cr_assert_eq(sw_prepare(t, in, 1, &o, &m, &err), SW_K_OK, "%s", err.msg);
    char a[160], b[160];
    snprintf(a, sizeof a, "%s/manifest.txt", dir);
    same_file(a, SHIPPED "/manifest.txt");
    for (size_t i = 0; i < m.n; i++) {
        snprintf(a, sizeof a, "%s/%s", dir, m.shards[i].name);
        snprintf(b, sizeof b, SHIPPED "/%s", m.shards[i].name);
        same_file(a, b);
    }
    cr_assert_eq(m.n, 11);
    sw_manifest_free(&m);
    sw_bpe_destroy(t);
}

/* Writes the corpus as JSON lines, one line per speech (split at blank lines). */
static void write_jsonl(const char *path, const uint8_t *text, size_t n)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"text\": \"", f);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = text[i];
        if (c == '\n' && i + 1 < n && text[i + 1] == '\n') {
            fputs("\\n\\n\", \"id\": [1, {\"x\": null}]}\n{\"text\": \"", f);
            i++;
        } else if (c == '\n')
            fputs("\\n", f);
        else if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\'')
            fputs("\\u0027", f);
        else
            fputc(c, f);
    }
    fputs("\"}\n", f);
    fclose(f);
}

Test(shipped, documents_from_json_lines_and_folders)
{
    sw_bpe *t;
    sw_kerror err;
    cr_assert_eq(sw_bpe_load(SHIPPED "/tokenizer.bin", &t, &err), SW_K_OK);
    sw_mapfile c;
    cr_assert_eq(sw_mapfile_open(CORPUS, &c, &err), SW_K_OK);
    char src[128], j[160], out[160];
    snprintf(src, sizeof src, "%s/src", dir);
    mkdir(src, 0777);
    snprintf(j, sizeof j, "%s/part.jsonl", src);
    write_jsonl(j, c.data, c.size);
    snprintf(out, sizeof out, "%s/out", dir);
    const char *in[] = {src};
    sw_prepare_opts o = {.out_dir = out, .shard_tokens = 32768, .val_shards = 1};
    sw_manifest m;
    cr_assert_eq(sw_prepare(t, in, 1, &o, &m, &err), SW_K_OK, "%s", err.msg);
    /* documents end at blank lines, where GPT-4's split has a chunk boundary anyway except
     * for the whitespace run itself, so the text bytes are exactly the corpus' */
    cr_assert_eq(m.train_bytes + m.val_bytes, c.size);
    sw_manifest_free(&m);
    sw_mapfile_close(&c);
    sw_bpe_destroy(t);
}

Test(shipped, a_long_document_encoded_in_pieces_gives_the_whole_encoding)
{
    /* 9 copies of the corpus (10 MB): over twice the 4 MiB piece, so preparation cuts it */
    sw_bpe *t;
    sw_kerror err;
    cr_assert_eq(sw_bpe_load(SHIPPED "/tokenizer.bin", &t, &err), SW_K_OK);
    sw_mapfile c;
    cr_assert_eq(sw_mapfile_open(CORPUS, &c, &err), SW_K_OK);
    char big[160], out[160];
    snprintf(big, sizeof big, "%s/big.txt", dir);
    FILE *f = fopen(big, "wb");
    for (int i = 0; i < 9; i++)
        cr_assert_eq(fwrite(c.data, 1, c.size, f), c.size);
    fclose(f);
    sw_mapfile_close(&c);
    sw_mapfile b;
    cr_assert_eq(sw_mapfile_open(big, &b, &err), SW_K_OK);
    sw_ids whole = {0};
    cr_assert_eq(sw_bpe_encode(t, b.data, b.size, &whole, &err), SW_K_OK);
    snprintf(out, sizeof out, "%s/out", dir);
    const char *in[] = {big};
    sw_prepare_opts o = {.out_dir = out, .shard_tokens = 1u << 20, .val_shards = 0};
    sw_manifest m;
    cr_assert_eq(sw_prepare(t, in, 1, &o, &m, &err), SW_K_OK, "%s", err.msg);
    cr_assert_eq(m.train_tokens, whole.n);
    cr_assert_eq(m.train_bytes, b.size);
    uint64_t at = 0;
    for (size_t i = 0; i < m.n; i++) {
        sw_shard s;
        cr_assert_eq(sw_shard_open(m.shards[i].path, true, &s, &err), SW_K_OK, "%s", err.msg);
        for (uint64_t k = 0; k < s.info.tokens; k++, at++)
            cr_assert_eq(sw_shard_token(&s, k), whole.v[at], "token %llu", (unsigned long long)at);
        sw_shard_close(&s);
    }
    sw_manifest_free(&m);
    sw_ids_free(&whole);
    sw_mapfile_close(&b);
    sw_bpe_destroy(t);
}
