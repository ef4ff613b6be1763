/* test_tokenizer_file.c - tokenizer files: binary round trip and atomic write, tiktoken export
 * and import, and every bad file (truncated at several points, bad magic, version, size, CRC;
 * tiktoken lines with bad base64, bad or duplicate or missing ranks) naming file and field. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/bpe.h"

#define SHIPPED "data/shakespeare-bpe2048/tokenizer.bin"

static char dir[64], path[128];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/sw_tokfile_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tok.bin", dir);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(tokfile, .init = make_dir, .fini = remove_dir);

static uint8_t *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "%s", p);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n + 1);
    cr_assert_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void spit(const char *p, const void *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void expect_error(const char *file, const char *needle)
{
    sw_bpe *t;
    sw_kerror err;
    cr_assert_eq(sw_bpe_load(file, &t, &err), SW_K_EINPUT, "loaded a bad file (%s)", needle);
    cr_assert_null(t);
    cr_assert(strstr(err.msg, file), "names the file: %s", err.msg);
    cr_assert(strstr(err.msg, needle), "expected '%s' in: %s", needle, err.msg);
}

Test(tokfile, binary_round_trip_is_byte_identical_and_atomic)
{
    sw_bpe *t;
    sw_kerror err;
    cr_assert_eq(sw_bpe_load(SHIPPED, &t, &err), SW_K_OK, "%s", err.msg);
    cr_assert_eq(sw_bpe_save(t, path, &err), SW_K_OK, "%s", err.msg);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "no temporary file is left behind");
    size_t a, b;
    uint8_t *x = slurp(SHIPPED, &a), *y = slurp(path, &b);
    cr_assert(a == b && !memcmp(x, y, a));
    uint32_t stored = (uint32_t)x[a - 4] | (uint32_t)x[a - 3] << 8 | (uint32_t)x[a - 2] << 16 |
                      (uint32_t)x[a - 1] << 24;
    cr_assert_eq(sw_bpe_crc(t), stored, "sw_bpe_crc is the file's CRC field");
    free(x);
    free(y);
    sw_bpe_destroy(t);
}

Test(tokfile, tiktoken_export_and_import_keep_every_token)
{
    sw_bpe *t, *u;
    sw_kerror err;
    cr_assert_eq(sw_bpe_load(SHIPPED, &t, &err), SW_K_OK);
    char tk[160];
    snprintf(tk, sizeof tk, "%s/v.tiktoken", dir);
    cr_assert_eq(sw_bpe_save_tiktoken(t, tk, &err), SW_K_OK, "%s", err.msg);
    cr_assert_eq(sw_bpe_load(tk, &u, &err), SW_K_OK, "%s", err.msg);
    cr_assert_eq(sw_bpe_vocab_size(u), sw_bpe_vocab_size(t));
    for (uint32_t i = 0; i < sw_bpe_vocab_size(t); i++) {
        size_t la, lb;
        const uint8_t *a = sw_bpe_token(t, i, &la), *b = sw_bpe_token(u, i, &lb);
        cr_assert(la == lb && !memcmp(a, b, la), "token %u", i);
    }
    sw_bpe_destroy(t);
    sw_bpe_destroy(u);
}

Test(tokfile, truncated_and_corrupt_binary_files)
{
    size_t n;
    uint8_t *b = slurp(SHIPPED, &n);
    size_t cuts[] = {0, 7, 20, 35, 200, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        spit(path, b, cuts[i]);
        sw_bpe *t;
        sw_kerror err;
        cr_assert_eq(sw_bpe_load(path, &t, &err), SW_K_EINPUT, "cut at %zu loaded", cuts[i]);
        cr_assert(strstr(err.msg, path), "%s", err.msg);
    }
    spit(path, b, 35);
    expect_error(path, "header: truncated");
    spit(path, b, n - 1);
    expect_error(path, "size");

    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    c[5] = 'X';
    spit(path, c, n);
    expect_error(path, "magic");
    memcpy(c, b, n);
    c[8] = 9;
    spit(path, c, n);
    expect_error(path, "version: 9");
    memcpy(c, b, n);
    c[n - 100] ^= 0x40;
    spit(path, c, n);
    expect_error(path, "crc32");
    free(c);
    free(b);
}

Test(tokfile, bad_tiktoken_lines)
{
    char tk[160];
    snprintf(tk, sizeof tk, "%s/v.tiktoken", dir);
    /* a valid file of the 256 bytes, then a broken line appended */
    char *good = malloc(256 * 16 + 256);
    size_t at = 0;
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 256; i++)
        at += (size_t)sprintf(good + at, "%c%c== %d\n", a[i >> 2], a[(i & 3) << 4], i);
    spit(tk, good, at);
    sw_bpe *t;
    sw_kerror err;
    cr_assert_eq(sw_bpe_load(tk, &t, &err), SW_K_OK, "%s", err.msg);
    cr_assert_eq(sw_bpe_vocab_size(t), 256);
    sw_bpe_destroy(t);

    struct {
        const char *line, *needle;
    } bad[] = {
        {"YWI= 256\nYWI= 257\n", "token 257: same bytes as token 256"},
        {"Y!I= 256\n", "line 257: token: not valid base64"},
        {"YWI=256\n", "line 257: expected 'BASE64 RANK'"},
        {"YWI= x\n", "line 257: rank"},
        {"YWI= 3\n", "line 257: rank 3: already on line 4"},
        {"YWI= 257\nYWJj 258\n", "rank 256: missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *buf = malloc(at + 64);
        memcpy(buf, good, at);
        strcpy(buf + at, bad[i].line);
        spit(tk, buf, at + strlen(bad[i].line));
        free(buf);
        expect_error(tk, bad[i].needle);
    }
    /* a missing single byte: drop the line of byte 0x41 */
    char *hole = malloc(at);
    size_t h = 0;
    for (char *p = good; p < good + at;) {
        char *e = strchr(p, '\n') + 1;
        if (strncmp(p, "QQ== 65\n", 8)) {
            memcpy(hole + h, p, (size_t)(e - p));
            h += (size_t)(e - p);
        }
        p = e;
    }
    spit(tk, hole, h);
    expect_error(tk, "rank 65: missing");
    free(hole);
    free(good);
    expect_error("/nonexistent/tok.bin", "cannot open");
}
