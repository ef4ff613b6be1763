/* cmd_data.c - `spillway data prepare|verify`: a corpus tokenized into shard files with a
 * manifest (kernels/manifest_prepare.h), and the check of such a folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "kernels/bpe.h"
#include "kernels/manifest.h"
#include "kernels/manifest_prepare.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spillway data prepare INPUT... --tokenizer TOK -o DIR --shard-tokens N\n"
            "                             [--val-shards K]\n"
            "       spillway data verify DIR [--tokenizer TOK]\n\n"
            "prepare: tokenizes text files, JSON lines (*.jsonl, *.ndjson, *.json: the string\n"
            "field \"text\" of one object per line) or folders of them into DIR/shard_NNNNN.bin\n"
            "of N tokens each (the last may be shorter) and DIR/manifest.txt; the last K shards\n"
            "(default 1) are held out for validation (docs/formats/shard.md, docs/data.md).\n"
            "verify: checks the manifest and every shard (header, size, checksum, vocabulary),\n"
            "and with --tokenizer that the shards were made by it; prints the totals.\n");
}

static int fail(const char *sub, const sw_kerror *err)
{
    fprintf(stderr, "spillway data %s: %s\n", sub, err->msg);
    return err->code == SW_K_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
}

static void print_totals(const sw_manifest *m)
{
    printf("shards %zu (train %zu, val %zu)\n", m->n, m->n_train, m->n - m->n_train);
    printf("vocab_size %u\ntoken_bytes %u\ntokenizer_crc %08x\nshard_tokens %llu\n", m->vocab_size,
           m->token_bytes, m->tokenizer_crc, (unsigned long long)m->shard_tokens);
    printf("train_tokens %llu\ntrain_text_bytes %llu\nval_tokens %llu\nval_text_bytes %llu\n",
           (unsigned long long)m->train_tokens, (unsigned long long)m->train_bytes,
           (unsigned long long)m->val_tokens, (unsigned long long)m->val_bytes);
    uint64_t t = m->train_tokens + m->val_tokens, b = m->train_bytes + m->val_bytes;
    printf("bytes_per_token %.4f\n", (double)b / (double)t);
    if (m->val_tokens && m->val_bytes) {
        double r = (double)m->val_bytes / (double)m->val_tokens;
        printf("val_bytes_per_token %.4f  (validation bits per byte = mean loss per token in "
               "nats / ln 2 / %.4f)\n",
               r, r);
    }
}

static int cmd_prepare(int argc, char **argv)
{
    const char *tok = NULL, *out = NULL;
    long shard_tokens = 0, val = 1;
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    size_t n = 0;
    if (!inputs)
        return SW_EXIT_RUNTIME;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "--tokenizer"))
            ok = sw_arg_string("data prepare", argc, argv, &i, &tok);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            ok = sw_arg_string("data prepare", argc, argv, &i, &out);
        else if (!strcmp(a, "--shard-tokens"))
            ok = sw_arg_long("data prepare", argc, argv, &i, 1, &shard_tokens);
        else if (!strcmp(a, "--val-shards"))
            ok = sw_arg_long("data prepare", argc, argv, &i, 0, &val);
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "spillway data prepare: unknown option '%s' (try --help)\n", a);
            ok = false;
        } else
            inputs[n++] = a;
        if (!ok) {
            free(inputs);
            return SW_EXIT_USAGE;
        }
    }
    const char *missing = !n              ? "INPUT"
                          : !tok          ? "--tokenizer TOK"
                          : !out          ? "-o DIR"
                          : !shard_tokens ? "--shard-tokens N"
                                          : NULL;
    if (missing) {
        fprintf(stderr, "spillway data prepare: %s is required (try --help)\n", missing);
        free(inputs);
        return SW_EXIT_USAGE;
    }
    sw_kerror err;
    sw_bpe *t;
    if (sw_bpe_load(tok, &t, &err) != SW_K_OK) {
        free(inputs);
        return fail("prepare", &err);
    }
    sw_prepare_opts o = {
        .out_dir = out, .shard_tokens = (uint64_t)shard_tokens, .val_shards = (size_t)val};
    sw_manifest m;
    int rc = SW_EXIT_OK;
    if (sw_prepare(t, inputs, n, &o, &m, &err) != SW_K_OK)
        rc = fail("prepare", &err);
    else {
        print_totals(&m);
        sw_manifest_free(&m);
    }
    sw_bpe_destroy(t);
    free(inputs);
    return rc;
}

static int cmd_verify(int argc, char **argv)
{
    const char *dir = NULL, *tok = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokenizer")) {
            if (!sw_arg_string("data verify", argc, argv, &i, &tok))
                return SW_EXIT_USAGE;
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "spillway data verify: unexpected argument '%s'\n", argv[i]);
            return SW_EXIT_USAGE;
        } else
            dir = argv[i];
    }
    if (!dir) {
        fprintf(stderr, "spillway data verify: DIR is required (try --help)\n");
        return SW_EXIT_USAGE;
    }
    sw_kerror err;
    sw_manifest m;
    if (sw_manifest_load(dir, &m, &err) != SW_K_OK)
        return fail("verify", &err);
    int rc = SW_EXIT_OK;
    if (sw_manifest_verify(&m, &err) != SW_K_OK)
        rc = fail("verify", &err);
    if (!rc && tok) {
        sw_bpe *t;
        if (sw_bpe_load(tok, &t, &err) != SW_K_OK)
            rc = fail("verify", &err);
        else {
            if (sw_bpe_vocab_size(t) != m.vocab_size) {
                fprintf(stderr,
                        "spillway data verify: %s/manifest.txt: vocab_size: %u, but %s has %u "
                        "tokens\n",
                        m.dir, m.vocab_size, tok, sw_bpe_vocab_size(t));
                rc = SW_EXIT_USAGE;
            } else if (sw_bpe_crc(t) != m.tokenizer_crc) {
                fprintf(stderr,
                        "spillway data verify: %s/manifest.txt: tokenizer_crc: %08x, but %s is "
                        "%08x (another tokenizer)\n",
                        m.dir, m.tokenizer_crc, tok, sw_bpe_crc(t));
                rc = SW_EXIT_USAGE;
            }
            sw_bpe_destroy(t);
        }
    }
    if (!rc) {
        print_totals(&m);
        double bpb;
        if (m.n_train < m.n && sw_manifest_unigram_bpb(&m, &bpb, &err) == SW_K_OK)
            printf("unigram_val_bpb %.4f  (baseline: training-token frequencies, add-one)\n", bpb);
    }
    sw_manifest_free(&m);
    return rc;
}

int sw_cmd_data(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return SW_EXIT_OK;
        }
    if (argc >= 2 && !strcmp(argv[1], "prepare"))
        return cmd_prepare(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "verify"))
        return cmd_verify(argc - 1, argv + 1);
    if (argc >= 2)
        fprintf(stderr, "spillway data: unknown subcommand '%s' (prepare, verify)\n", argv[1]);
    else
        usage(stderr);
    return SW_EXIT_USAGE;
}
