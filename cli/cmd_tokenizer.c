/* cmd_tokenizer.c - `spillway tokenizer train|encode|decode|export|info`: the BPE tokenizer of
 * kernels/bpe.h from the command line (training a vocabulary, converting files, timing). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "kernels/bpe.h"
#include "kernels/bpe_train.h"
#include "kernels/shardfile.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spillway tokenizer train CORPUS... --vocab N -o TOK [--seed S] [--pattern RE]\n"
            "       spillway tokenizer encode --tokenizer TOK [FILE|-] [-o OUT] [--u32] [--count]\n"
            "       spillway tokenizer decode --tokenizer TOK [FILE|-] [-o OUT]\n"
            "       spillway tokenizer export TOK -o VOCAB.tiktoken\n"
            "       spillway tokenizer info TOK\n\n"
            "Byte-level BPE with GPT-4's pre-tokenisation split (docs/formats/tokenizer.md).\n"
            "TOK is spillway's tokenizer file or a tiktoken vocabulary (base64 token and rank\n"
            "per line).\n\n"
            "  train   learn a vocabulary of N tokens (>= 256) from text files; the same corpus,\n"
            "          N, pattern and --seed (default 0: ties between equal pair counts) give\n"
            "          the same file byte for byte\n"
            "  encode  text -> token ids, one line of space-separated ids (--u32: little-endian\n"
            "          uint32); --count prints only bytes, tokens, seconds and MB/s of the\n"
            "          encoding itself (for benchmarks)\n"
            "  decode  space-separated ids -> text\n"
            "  export  write the vocabulary in tiktoken's format\n"
            "  info    vocabulary size, pattern and checksum\n");
}

static int fail_input(const char *sub, const sw_kerror *err)
{
    fprintf(stderr, "spillway tokenizer %s: %s\n", sub, err->msg);
    return err->code == SW_K_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
}

/* The whole of path ("-" or NULL: stdin) in a malloc'd buffer. */
static int slurp(const char *path, uint8_t **out, size_t *n)
{
    FILE *f = !path || !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "spillway tokenizer: %s: cannot open: %s\n", path, strerror(errno));
        return SW_EXIT_USAGE;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        uint8_t *b = realloc(buf, cap * 2);
        if (!b)
            free(buf);
        buf = b;
        cap *= 2;
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf || bad) {
        free(buf);
        fprintf(stderr, "spillway tokenizer: %s: read error\n", path ? path : "-");
        return SW_EXIT_RUNTIME;
    }
    *out = buf;
    *n = len;
    return SW_EXIT_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static FILE *open_out(const char *sub, const char *path)
{
    if (!path || !strcmp(path, "-"))
        return stdout;
    FILE *f = fopen(path, "wb");
    if (!f)
        fprintf(stderr, "spillway tokenizer %s: %s: cannot create: %s\n", sub, path,
                strerror(errno));
    return f;
}

static int close_out(const char *sub, FILE *f, const char *path)
{
    int bad = f == stdout ? fflush(f) != 0 : fclose(f) != 0;
    if (bad) {
        fprintf(stderr, "spillway tokenizer %s: %s: write error\n", sub, path ? path : "-");
        return SW_EXIT_RUNTIME;
    }
    return SW_EXIT_OK;
}

static int cmd_train(int argc, char **argv)
{
    const char *out = NULL, *pattern = NULL;
    long vocab = 0, seed = 0;
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    int ninputs = 0;
    if (!inputs)
        return SW_EXIT_RUNTIME;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "--vocab"))
            ok = sw_arg_long("tokenizer train", argc, argv, &i, 256, &vocab);
        else if (!strcmp(a, "--seed"))
            ok = sw_arg_long("tokenizer train", argc, argv, &i, 0, &seed);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            ok = sw_arg_string("tokenizer train", argc, argv, &i, &out);
        else if (!strcmp(a, "--pattern"))
            ok = sw_arg_string("tokenizer train", argc, argv, &i, &pattern);
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "spillway tokenizer train: unknown option '%s' (try --help)\n", a);
            ok = false;
        } else
            inputs[ninputs++] = a;
        if (!ok) {
            free(inputs);
            return SW_EXIT_USAGE;
        }
    }
    const char *missing = !ninputs ? "CORPUS" : !vocab ? "--vocab N" : !out ? "-o TOK" : NULL;
    if (missing || vocab > (1l << 24)) {
        if (missing)
            fprintf(stderr, "spillway tokenizer train: %s is required (try --help)\n", missing);
        else
            fprintf(stderr, "spillway tokenizer train: --vocab: expected at most %ld\n", 1l << 24);
        free(inputs);
        return SW_EXIT_USAGE;
    }
    sw_kerror err;
    sw_bpe_trainer *tr;
    int rc = SW_EXIT_OK;
    if (sw_bpe_trainer_create(pattern, &tr, &err) != SW_K_OK) {
        free(inputs);
        return fail_input("train", &err);
    }
    double t0 = now_s();
    for (int k = 0; k < ninputs && rc == SW_EXIT_OK; k++) {
        sw_mapfile m;
        if (sw_mapfile_open(inputs[k], &m, &err) != SW_K_OK)
            rc = fail_input("train", &err);
        else {
            if (sw_bpe_trainer_add(tr, m.data, m.size, &err) != SW_K_OK)
                rc = fail_input("train", &err);
            sw_mapfile_close(&m);
        }
    }
    sw_bpe *t = NULL;
    double t1 = now_s();
    if (rc == SW_EXIT_OK &&
        sw_bpe_trainer_train(tr, (uint32_t)vocab, (uint64_t)seed, &t, &err) != SW_K_OK)
        rc = fail_input("train", &err);
    double t2 = now_s();
    if (rc == SW_EXIT_OK && sw_bpe_save(t, out, &err) != SW_K_OK)
        rc = fail_input("train", &err);
    if (rc == SW_EXIT_OK)
        fprintf(stderr,
                "spillway tokenizer train: %u tokens (%zu distinct chunks of %llu) -> %s; "
                "counting %.2f s, merging %.2f s\n",
                sw_bpe_vocab_size(t), sw_bpe_trainer_distinct_chunks(tr),
                (unsigned long long)sw_bpe_trainer_chunks(tr), out, t1 - t0, t2 - t1);
    sw_bpe_destroy(t);
    sw_bpe_trainer_destroy(tr);
    free(inputs);
    return rc;
}

/* Parses the shared options of encode/decode: --tokenizer, -o, one input. */
typedef struct io_opts {
    const char *tok, *in, *out;
    bool u32, count;
} io_opts;

static int parse_io(const char *sub, int argc, char **argv, bool encode, io_opts *o)
{
    char cmd[32];
    snprintf(cmd, sizeof cmd, "tokenizer %s", sub);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "--tokenizer"))
            ok = sw_arg_string(cmd, argc, argv, &i, &o->tok);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            ok = sw_arg_string(cmd, argc, argv, &i, &o->out);
        else if (encode && !strcmp(a, "--u32"))
            o->u32 = true;
        else if (encode && !strcmp(a, "--count"))
            o->count = true;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "spillway %s: unknown option '%s' (try --help)\n", cmd, a);
            ok = false;
        } else if (!o->in)
            o->in = a;
        else {
            fprintf(stderr, "spillway %s: unexpected argument '%s'\n", cmd, a);
            ok = false;
        }
        if (!ok)
            return SW_EXIT_USAGE;
    }
    if (!o->tok) {
        fprintf(stderr, "spillway %s: --tokenizer TOK is required (try --help)\n", cmd);
        return SW_EXIT_USAGE;
    }
    return SW_EXIT_OK;
}

static int cmd_encode(int argc, char **argv)
{
    io_opts o = {0};
    int rc = parse_io("encode", argc, argv, true, &o);
    if (rc)
        return rc;
    sw_kerror err;
    sw_bpe *t;
    if (sw_bpe_load(o.tok, &t, &err) != SW_K_OK)
        return fail_input("encode", &err);
    uint8_t *text;
    size_t n;
    if ((rc = slurp(o.in, &text, &n))) {
        sw_bpe_destroy(t);
        return rc;
    }
    sw_ids ids = {0};
    double t0 = now_s();
    if (sw_bpe_encode(t, text, n, &ids, &err) != SW_K_OK)
        rc = fail_input("encode", &err);
    double dt = now_s() - t0;
    FILE *f = rc ? NULL : open_out("encode", o.out);
    if (!rc && !f)
        rc = SW_EXIT_USAGE;
    if (f) {
        if (o.count)
            fprintf(f, "bytes %zu tokens %zu seconds %.6f MB/s %.3f\n", n, ids.n, dt,
                    dt > 0 ? n / dt / 1e6 : 0.0);
        else if (o.u32)
            for (size_t i = 0; i < ids.n; i++) {
                uint8_t b[4] = {(uint8_t)ids.v[i], (uint8_t)(ids.v[i] >> 8),
                                (uint8_t)(ids.v[i] >> 16), (uint8_t)(ids.v[i] >> 24)};
                fwrite(b, 1, 4, f);
            }
        else {
            for (size_t i = 0; i < ids.n; i++)
                fprintf(f, i ? " %u" : "%u", ids.v[i]);
            fputc('\n', f);
        }
        rc = close_out("encode", f, o.out);
    }
    sw_ids_free(&ids);
    free(text);
    sw_bpe_destroy(t);
    return rc;
}

static int cmd_decode(int argc, char **argv)
{
    io_opts o = {0};
    int rc = parse_io("decode", argc, argv, false, &o);
    if (rc)
        return rc;
    sw_kerror err;
    sw_bpe *t;
    if (sw_bpe_load(o.tok, &t, &err) != SW_K_OK)
        return fail_input("decode", &err);
    uint8_t *text;
    size_t n;
    if ((rc = slurp(o.in, &text, &n))) {
        sw_bpe_destroy(t);
        return rc;
    }
    sw_ids ids = {0};
    size_t cap = 0;
    for (size_t i = 0; i < n && !rc;) {
        while (i < n && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r'))
            i++;
        if (i == n)
            break;
        uint64_t v = 0;
        size_t s = i;
        while (i < n && text[i] >= '0' && text[i] <= '9' && v <= UINT32_MAX)
            v = v * 10 + (text[i++] - '0');
        bool sep =
            i == n || text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r';
        if (i == s || !sep || v > UINT32_MAX) {
            fprintf(stderr,
                    "spillway tokenizer decode: %s: id %zu (byte %zu): expected an "
                    "integer token id\n",
                    o.in ? o.in : "-", ids.n, s);
            rc = SW_EXIT_USAGE;
            break;
        }
        if (ids.n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint32_t *g = realloc(ids.v, cap * sizeof *g);
            if (!g) {
                rc = SW_EXIT_RUNTIME;
                break;
            }
            ids.v = g;
        }
        ids.v[ids.n++] = (uint32_t)v;
    }
    size_t len = 0;
    uint8_t *buf = NULL;
    if (!rc && sw_bpe_decoded_len(t, ids.v, ids.n, &len, &err) != SW_K_OK)
        rc = fail_input("decode", &err);
    if (!rc && !(buf = malloc(len ? len : 1)))
        rc = SW_EXIT_RUNTIME;
    if (!rc && sw_bpe_decode(t, ids.v, ids.n, buf, &err) != SW_K_OK)
        rc = fail_input("decode", &err);
    FILE *f = rc ? NULL : open_out("decode", o.out);
    if (!rc && !f)
        rc = SW_EXIT_USAGE;
    if (f) {
        fwrite(buf, 1, len, f);
        rc = close_out("decode", f, o.out);
    }
    free(buf);
    free(ids.v);
    free(text);
    sw_bpe_destroy(t);
    return rc;
}

static int cmd_export(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (!sw_arg_string("tokenizer export", argc, argv, &i, &out))
                return SW_EXIT_USAGE;
        } else if (argv[i][0] == '-' || in) {
            fprintf(stderr, "spillway tokenizer export: unexpected argument '%s'\n", argv[i]);
            return SW_EXIT_USAGE;
        } else
            in = argv[i];
    }
    if (!in || !out) {
        fprintf(stderr, "spillway tokenizer export: TOK and -o VOCAB.tiktoken are required\n");
        return SW_EXIT_USAGE;
    }
    sw_kerror err;
    sw_bpe *t;
    if (sw_bpe_load(in, &t, &err) != SW_K_OK)
        return fail_input("export", &err);
    int rc =
        sw_bpe_save_tiktoken(t, out, &err) == SW_K_OK ? SW_EXIT_OK : fail_input("export", &err);
    sw_bpe_destroy(t);
    return rc;
}

static int cmd_info(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: spillway tokenizer info TOK\n");
        return SW_EXIT_USAGE;
    }
    sw_kerror err;
    sw_bpe *t;
    if (sw_bpe_load(argv[1], &t, &err) != SW_K_OK)
        return fail_input("info", &err);
    size_t longest = 0, len;
    for (uint32_t i = 0; i < sw_bpe_vocab_size(t); i++) {
        sw_bpe_token(t, i, &len);
        longest = len > longest ? len : longest;
    }
    printf("vocab_size %u\nlongest_token_bytes %zu\ncrc32 %08x\npattern %s\n", sw_bpe_vocab_size(t),
           longest, sw_bpe_crc(t), sw_bpe_pattern(t));
    sw_bpe_destroy(t);
    return SW_EXIT_OK;
}

int sw_cmd_tokenizer(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    const char *sub = argv[1];
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return SW_EXIT_OK;
        }
    if (!strcmp(sub, "train"))
        return cmd_train(argc - 1, argv + 1);
    if (!strcmp(sub, "encode"))
        return cmd_encode(argc - 1, argv + 1);
    if (!strcmp(sub, "decode"))
        return cmd_decode(argc - 1, argv + 1);
    if (!strcmp(sub, "export"))
        return cmd_export(argc - 1, argv + 1);
    if (!strcmp(sub, "info"))
        return cmd_info(argc - 1, argv + 1);
    fprintf(stderr,
            "spillway tokenizer: unknown subcommand '%s' (train, encode, decode, "
            "export, info)\n",
            sub);
    return SW_EXIT_USAGE;
}
