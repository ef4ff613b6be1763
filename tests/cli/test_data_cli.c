/* test_data_cli.c - `spillway tokenizer` and `spillway data` end to end: train, encode, decode
 * and export; prepare from text, JSON lines and folders, verify; and each bad input (corrupt
 * header, CRC mismatch, wrong vocabulary, truncated shard, bad manifest line, bad JSON line,
 * too many validation shards, bad tokenizer file) exits 2 naming the file and field. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_run.c.inc"

#define TOK "data/shakespeare-bpe2048/tokenizer.bin"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/sw_data_cli_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(data_cli, .init = make_dir, .fini = remove_dir);

static cli_result run(const char *const *args)
{
    cli_result r;
    cr_assert_eq(cli_run(args, &r), 0, "could not start spillway");
    return r;
}

static const char *at(const char *name)
{
    static char buf[8][160];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 160, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void expect_input_error(const char *const *args, const char *needle1, const char *needle2)
{
    cli_result r = run(args);
    cr_assert_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
    cr_assert(strstr(r.err, needle1), "expected '%s' in: %s", needle1, r.err);
    if (needle2)
        cr_assert(strstr(r.err, needle2), "expected '%s' in: %s", needle2, r.err);
    cli_result_free(&r);
}

Test(data_cli, tokenizer_train_encode_decode_round_trip)
{
    const char *tok = at("t.bin"), *ids = at("ids.txt"), *back = at("back.txt");
    cli_result r = run((const char *const[]){"tokenizer", "train", "corpus/tinyshakespeare.txt",
                                             "--vocab", "2048", "-o", tok, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cmp -s %s " TOK, tok);
    cr_assert_eq(system(cmd), 0, "the CLI trains the shipped tokenizer byte for byte");

    r = run((const char *const[]){"tokenizer", "encode", "--tokenizer", tok,
                                  "corpus/tinyshakespeare.txt", "-o", ids, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
    r = run(
        (const char *const[]){"tokenizer", "decode", "--tokenizer", tok, ids, "-o", back, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
    snprintf(cmd, sizeof cmd, "cmp -s %s corpus/tinyshakespeare.txt", back);
    cr_assert_eq(system(cmd), 0, "decode(encode(corpus)) == corpus");

    r = run((const char *const[]){"tokenizer", "encode", "--tokenizer", tok, "--count",
                                  "corpus/tinyshakespeare.txt", NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "bytes 1115394 tokens 355659 "), "%s", r.out);
    cli_result_free(&r);

    const char *tk = at("v.tiktoken");
    r = run((const char *const[]){"tokenizer", "export", tok, "-o", tk, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
    r = run((const char *const[]){"tokenizer", "info", tk, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "vocab_size 2048\n"), "%s", r.out);
    cli_result_free(&r);
}

Test(data_cli, help_and_unknown_subcommands)
{
    const char *cmds[] = {"tokenizer", "data"};
    for (int i = 0; i < 2; i++) {
        cli_result r = run((const char *const[]){cmds[i], "--help", NULL});
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert(strstr(r.out, "usage: spillway"), "%s", r.out);
        cli_result_free(&r);
        expect_input_error((const char *const[]){cmds[i], "frobnicate", NULL},
                           "unknown subcommand 'frobnicate'", NULL);
    }
}

Test(data_cli, tokenizer_errors)
{
    expect_input_error((const char *const[]){"tokenizer", "train", "corpus/tinyshakespeare.txt",
                                             "-o", at("t.bin"), NULL},
                       "--vocab N is required", NULL);
    expect_input_error((const char *const[]){"tokenizer", "train", "corpus/tinyshakespeare.txt",
                                             "--vocab", "100", "-o", at("t.bin"), NULL},
                       "--vocab", ">= 256");
    write_file(at("ids.txt"), "1 2 99999\n");
    expect_input_error(
        (const char *const[]){"tokenizer", "decode", "--tokenizer", TOK, at("ids.txt"), NULL},
        "token 2: id 99999", NULL);
    write_file(at("ids.txt"), "1 2x\n");
    expect_input_error(
        (const char *const[]){"tokenizer", "decode", "--tokenizer", TOK, at("ids.txt"), NULL},
        "ids.txt: id 1", "expected an integer");
    write_file(at("bad.tiktoken"), "QQ== 0\nnot base64! 1\n");
    expect_input_error(
        (const char *const[]){"tokenizer", "encode", "--tokenizer", at("bad.tiktoken"), TOK, NULL},
        "bad.tiktoken: line 2", NULL);
}

static void prepare_ok(const char *input, const char *out, const char *val)
{
    cli_result r =
        run((const char *const[]){"data", "prepare", input, "--tokenizer", TOK, "-o", out,
                                  "--shard-tokens", "1000", "--val-shards", val, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
}

Test(data_cli, prepare_text_jsonl_and_folder_then_verify)
{
    /* the same three documents as raw text files in a folder and as JSON lines */
    const char *docs[] = {"First Citizen:\nBefore we proceed any further, hear me speak.\n",
                          "All:\nSpeak, speak.\n",
                          "\"Quoted\" words\tand a tab \xc3\xa9t\xc3\xa9\n"};
    char folder[160];
    snprintf(folder, sizeof folder, "%s/docs", dir);
    mkdir(folder, 0777);
    for (int i = 0; i < 3; i++) {
        char p[200];
        snprintf(p, sizeof p, "%s/%d.txt", folder, i);
        write_file(p, docs[i]);
    }
    write_file(at("docs.jsonl"),
               "{\"text\": \"First Citizen:\\nBefore we proceed any further, hear me speak.\\n\"}\n"
               "\n"
               "{\"id\": 2, \"meta\": {\"a\": [1, 2.5e3, true, null]}, \"text\": \"All:\\nSpeak, "
               "speak.\\n\"}\n"
               "{\"text\": \"\\\"Quoted\\\" words\\tand a tab \\u00e9t\\u00e9\\n\"}\n");
    prepare_ok(folder, at("a"), "0");
    prepare_ok(at("docs.jsonl"), at("b"), "0");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cmp -s %s/a/shard_00000.bin %s/b/shard_00000.bin", dir, dir);
    cr_assert_eq(system(cmd), 0, "a folder of texts and JSON lines of them give the same shard");

    /* preparing into a folder inside the input folder, twice: the output is never read */
    char inner[200];
    snprintf(inner, sizeof inner, "%s/out", folder);
    prepare_ok(folder, inner, "0");
    prepare_ok(folder, inner, "0");
    snprintf(cmd, sizeof cmd, "cmp -s %s/a/shard_00000.bin %s/shard_00000.bin", dir, inner);
    cr_assert_eq(system(cmd), 0, "the output folder is skipped as input");

    prepare_ok("corpus/tinyshakespeare.txt", at("c"), "2");
    cli_result r = run((const char *const[]){"data", "verify", at("c"), "--tokenizer", TOK, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "shards 356 (train 354, val 2)"), "%s", r.out);
    cr_assert(strstr(r.out, "train_tokens 354000\n"), "%s", r.out);
    cr_assert(strstr(r.out, "val_tokens 1659\n"), "%s", r.out);
    cli_result_free(&r);
}

Test(data_cli, prepare_input_errors)
{
    write_file(at("bad.jsonl"), "{\"text\": \"ok\"}\n[1, 2]\n");
    expect_input_error((const char *const[]){"data", "prepare", at("bad.jsonl"), "--tokenizer", TOK,
                                             "-o", at("o"), "--shard-tokens", "10", NULL},
                       "bad.jsonl: line 2", "expected a JSON object");
    write_file(at("bad.jsonl"), "{\"title\": \"no text\"}\n");
    expect_input_error((const char *const[]){"data", "prepare", at("bad.jsonl"), "--tokenizer", TOK,
                                             "-o", at("o"), "--shard-tokens", "10", NULL},
                       "bad.jsonl: line 1", "field 'text': missing");
    write_file(at("bad.jsonl"), "{\"text\": 42}\n");
    expect_input_error((const char *const[]){"data", "prepare", at("bad.jsonl"), "--tokenizer", TOK,
                                             "-o", at("o"), "--shard-tokens", "10", NULL},
                       "bad.jsonl: line 1", "field 'text': expected a JSON string");
    write_file(at("bad.jsonl"), "{\"text\": \"a\\qb\"}\n");
    expect_input_error((const char *const[]){"data", "prepare", at("bad.jsonl"), "--tokenizer", TOK,
                                             "-o", at("o"), "--shard-tokens", "10", NULL},
                       "bad.jsonl: line 1", "'text'");
    /* a failed run into a folder holding a dataset leaves no (stale) manifest behind */
    prepare_ok("corpus/tinyshakespeare.txt", at("o"), "1");
    cr_assert_eq(access(at("o/manifest.txt"), F_OK), 0);
    write_file(at("half.jsonl"), "{\"text\": \"fine\"}\n{\"text\": nope}\n");
    expect_input_error((const char *const[]){"data", "prepare", at("half.jsonl"), "--tokenizer",
                                             TOK, "-o", at("o"), "--shard-tokens", "1", NULL},
                       "half.jsonl: line 2", NULL);
    cr_assert_neq(access(at("o/manifest.txt"), F_OK), 0, "no manifest after a failed run");
    write_file(at("small.txt"), "Just a few words.\n");
    expect_input_error((const char *const[]){"data", "prepare", at("small.txt"), "--tokenizer", TOK,
                                             "-o", at("o"), "--shard-tokens", "100", "--val-shards",
                                             "1", NULL},
                       "--val-shards: 1", "only 1 shard");
    expect_input_error((const char *const[]){"data", "prepare", at("missing.txt"), "--tokenizer",
                                             TOK, "-o", at("o"), "--shard-tokens", "10", NULL},
                       "missing.txt: cannot open", NULL);
    expect_input_error((const char *const[]){"data", "prepare", at("small.txt"), "--tokenizer", TOK,
                                             "-o", at("o"), NULL},
                       "--shard-tokens N is required", NULL);
}

/* Copies the shipped dataset to dir/d for corrupting. */
static const char *copy_shipped(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cp -r data/shakespeare-bpe2048 %s/d", dir);
    cr_assert_eq(system(cmd), 0);
    return at("d");
}

static void patch(const char *path, long off, uint8_t byte)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, off, SEEK_SET);
    fputc(byte, f);
    fclose(f);
}

Test(data_cli, verify_errors)
{
    const char *d = copy_shipped();
    char shard[200], man[200];
    snprintf(shard, sizeof shard, "%s/shard_00003.bin", d);
    snprintf(man, sizeof man, "%s/manifest.txt", d);
    cli_result r = run((const char *const[]){"data", "verify", d, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);

    patch(shard, 5000, 0x11); /* a token byte */
    expect_input_error((const char *const[]){"data", "verify", d, NULL},
                       "shard_00003.bin: tokens_crc", NULL);
    patch(shard, 13, 0x09); /* vocab_size in the header */
    expect_input_error((const char *const[]){"data", "verify", d, NULL},
                       "shard_00003.bin: header_crc", NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp data/shakespeare-bpe2048/shard_00003.bin %s", shard);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(truncate(shard, 40000), 0);
    expect_input_error((const char *const[]){"data", "verify", d, NULL}, "shard_00003.bin",
                       "truncated");

    /* a shard made with another vocabulary, in place of the right one */
    cli_result t = run((const char *const[]){"tokenizer", "train", "corpus/tinyshakespeare.txt",
                                             "--vocab", "300", "-o", at("x.bin"), NULL});
    cr_assert_eq(t.status, 0, "%s", t.err);
    cli_result_free(&t);
    r = run((const char *const[]){"data", "prepare", "corpus/tinyshakespeare.txt", "--tokenizer",
                                  at("x.bin"), "-o", at("x"), "--shard-tokens", "32768", NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
    snprintf(cmd, sizeof cmd, "cp %s/x/shard_00003.bin %s", dir, shard);
    cr_assert_eq(system(cmd), 0);
    expect_input_error((const char *const[]){"data", "verify", d, NULL},
                       "shard_00003.bin: vocab_size: 300", "the manifest says 2048");
    expect_input_error((const char *const[]){"data", "verify", d, "--tokenizer", at("x.bin"), NULL},
                       "vocab_size", NULL);
    expect_input_error((const char *const[]){"data", "verify", at("x"), "--tokenizer", TOK, NULL},
                       "manifest.txt: vocab_size: 300", "has 2048 tokens");

    write_file(man, "spillway-manifest 1\nvocab_size 2048\ntoken_bytes 2\ntokenizer_crc zz\n");
    expect_input_error((const char *const[]){"data", "verify", d, NULL},
                       "manifest.txt: line 4: tokenizer_crc", NULL);
}
