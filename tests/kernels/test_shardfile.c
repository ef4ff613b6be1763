/* test_shardfile.c - shard files: round trip at both token widths, atomic write, and every bad
 * file (truncated, trailing bytes, bad magic, version, header CRC, token width, token CRC, an id
 * outside the vocabulary) rejected with the file and field named. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/checkpoint.h"
#include "kernels/shardfile.h"

static char dir[64], path[128];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/sw_shardfile_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.bin", dir);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(shardfile, .init = make_dir, .fini = remove_dir);

static uint8_t *slurp(size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n + 8);
    cr_assert_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void spit(const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void expect(bool check_tokens, const char *needle)
{
    sw_shard s;
    sw_kerror err;
    cr_assert_eq(sw_shard_open(path, check_tokens, &s, &err), SW_K_EINPUT, "opened (%s)", needle);
    cr_assert(strstr(err.msg, path), "names the file: %s", err.msg);
    cr_assert(strstr(err.msg, needle), "expected '%s' in: %s", needle, err.msg);
}

static void write_good(uint32_t vocab, size_t n)
{
    uint32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (uint32_t)((i * 2654435761u) % vocab);
    sw_kerror err;
    sw_shard_info info;
    cr_assert_eq(sw_shard_write(path, vocab, ids, n, &info, &err), SW_K_OK, "%s", err.msg);
    cr_assert_eq(info.tokens, n);
    free(ids);
}

Test(shardfile, round_trip_both_widths)
{
    uint32_t vocabs[] = {2048, 65536, 100277};
    for (int k = 0; k < 3; k++) {
        write_good(vocabs[k], 1000);
        char tmp[160];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        cr_assert_neq(access(tmp, F_OK), 0, "no temporary file left");
        sw_shard s;
        sw_kerror err;
        cr_assert_eq(sw_shard_open(path, true, &s, &err), SW_K_OK, "%s", err.msg);
        cr_assert_eq(s.info.vocab_size, vocabs[k]);
        cr_assert_eq(s.info.token_bytes, vocabs[k] <= 65536 ? 2u : 4u);
        cr_assert_eq(s.info.tokens, 1000);
        cr_assert_eq(s.map.size, 64 + 1000 * s.info.token_bytes);
        for (uint64_t i = 0; i < 1000; i++)
            cr_assert_eq(sw_shard_token(&s, i), (uint32_t)((i * 2654435761u) % vocabs[k]));
        sw_shard_close(&s);
    }
}

Test(shardfile, writer_rejects_ids_outside_the_vocabulary)
{
    uint32_t ids[] = {1, 2, 300};
    sw_kerror err;
    cr_assert_eq(sw_shard_write(path, 256, ids, 3, NULL, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "token 2: id 300"), "%s", err.msg);
    cr_assert_neq(access(path, F_OK), 0, "nothing written");
}

Test(shardfile, bad_files)
{
    write_good(2048, 100);
    size_t n;
    uint8_t *good = slurp(&n), *b = malloc(n + 8);

    spit(good, 30);
    expect(false, "header: truncated");
    spit(good, n - 2);
    expect(false, "truncated");
    memcpy(b, good, n);
    memset(b + n, 0, 8);
    spit(b, n + 2);
    expect(false, "trailing bytes");

    memcpy(b, good, n);
    b[0] = 'X';
    spit(b, n);
    expect(false, "magic");

    memcpy(b, good, n);
    b[8] = 2; /* version, header CRC recomputed so the version check is what fails */
    uint32_t c = sw_crc32(0, b, 60);
    memcpy(b + 60, &c, 4);
    spit(b, n);
    expect(false, "version: 2");

    memcpy(b, good, n);
    b[40] = 1; /* a reserved byte, header CRC recomputed */
    c = sw_crc32(0, b, 60);
    memcpy(b + 60, &c, 4);
    spit(b, n);
    expect(false, "reserved (offset 40)");

    memcpy(b, good, n);
    b[12] ^= 1; /* vocab_size changed without fixing the header CRC */
    spit(b, n);
    expect(false, "header_crc");

    memcpy(b, good, n);
    b[16] = 3;
    c = sw_crc32(0, b, 60);
    memcpy(b + 60, &c, 4);
    spit(b, n);
    expect(false, "token_bytes: 3");

    memcpy(b, good, n);
    b[64 + 10] ^= 0x01;
    spit(b, n);
    sw_shard s;
    sw_kerror err;
    cr_assert_eq(sw_shard_open(path, false, &s, &err), SW_K_OK, "header-only open");
    sw_shard_close(&s);
    expect(true, "tokens_crc");

    /* an id >= vocab_size with a matching CRC: only the token check sees it */
    memcpy(b, good, n);
    b[64] = 0xff;
    b[65] = 0xff;
    c = sw_crc32(0, b + 64, n - 64);
    memcpy(b + 32, &c, 4);
    c = sw_crc32(0, b, 60);
    memcpy(b + 60, &c, 4);
    spit(b, n);
    expect(true, "token 0: id 65535, expected < 2048");
    free(good);
    free(b);
}

Test(shardfile, missing_file)
{
    sw_shard s;
    sw_kerror err;
    cr_assert_eq(sw_shard_open("/nonexistent/s.bin", false, &s, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "/nonexistent/s.bin: cannot open"), "%s", err.msg);
}
