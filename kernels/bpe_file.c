/* bpe_file.c - tokenizer files (docs/formats/tokenizer.md): spillway's binary format and
 * tiktoken's text format (base64 token, space, rank; one per line). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/bpe.h"
#include "kernels/checkpoint.h" /* sw_crc32 */
#include "kernels/shardfile.h"  /* file helpers */

uint32_t sw_bpe_image_crc(const sw_bpe *t);

static const uint8_t MAGIC[8] = {'S', 'W', 'B', 'P', 'E', '\r', '\n', 0};
enum { HEADER_BYTES = 32 };

/* The binary file's image (malloc'd), CRC included. */
static uint8_t *image(const sw_bpe *t, size_t *size)
{
    uint32_t n = sw_bpe_vocab_size(t);
    const char *pat = sw_bpe_pattern(t);
    size_t p = strlen(pat), m = 0, len;
    for (uint32_t i = 0; i < n; i++) {
        sw_bpe_token(t, i, &len);
        m += len;
    }
    size_t total = HEADER_BYTES + p + 2 * (size_t)n + m + 4;
    uint8_t *buf = calloc(1, total);
    if (!buf)
        return NULL;
    memcpy(buf, MAGIC, 8);
    sw_le_put32(buf + 8, SW_BPE_FILE_VERSION);
    sw_le_put32(buf + 12, n);
    sw_le_put32(buf + 16, (uint32_t)p);
    sw_le_put64(buf + 24, m);
    memcpy(buf + HEADER_BYTES, pat, p);
    uint8_t *lens = buf + HEADER_BYTES + p, *bytes = lens + 2 * (size_t)n;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *tok = sw_bpe_token(t, i, &len);
        lens[2 * i] = (uint8_t)len;
        lens[2 * i + 1] = (uint8_t)(len >> 8);
        memcpy(bytes, tok, len);
        bytes += len;
    }
    sw_le_put32(buf + total - 4, sw_crc32(0, buf, total - 4));
    *size = total;
    return buf;
}

uint32_t sw_bpe_image_crc(const sw_bpe *t)
{
    size_t size;
    uint8_t *buf = image(t, &size);
    uint32_t crc = buf ? sw_le_get32(buf + size - 4) : 0;
    free(buf);
    return crc;
}

int sw_bpe_save(const sw_bpe *t, const char *path, sw_kerror *err)
{
    size_t size;
    uint8_t *buf = image(t, &size);
    if (!buf)
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", path);
    int rc = sw_file_write_atomic(path, buf, size, err);
    free(buf);
    return rc;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sw_bpe_save_tiktoken(const sw_bpe *t, const char *path, sw_kerror *err)
{
    uint32_t n = sw_bpe_vocab_size(t);
    size_t cap = 1024, at = 0, len;
    for (uint32_t i = 0; i < n; i++) {
        sw_bpe_token(t, i, &len);
        cap += (len + 2) / 3 * 4 + 12;
    }
    char *buf = malloc(cap);
    if (!buf)
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", path);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = sw_bpe_token(t, i, &len);
        for (size_t k = 0; k < len; k += 3) {
            uint32_t v = (uint32_t)p[k] << 16;
            if (k + 1 < len)
                v |= (uint32_t)p[k + 1] << 8;
            if (k + 2 < len)
                v |= p[k + 2];
            buf[at++] = B64[v >> 18];
            buf[at++] = B64[(v >> 12) & 63];
            buf[at++] = k + 1 < len ? B64[(v >> 6) & 63] : '=';
            buf[at++] = k + 2 < len ? B64[v & 63] : '=';
        }
        at += (size_t)snprintf(buf + at, cap - at, " %u\n", i);
    }
    int rc = sw_file_write_atomic(path, buf, at, err);
    free(buf);
    return rc;
}

/* ---- loading ----------------------------------------------------------------------------- */

static int load_binary(const char *path, const uint8_t *buf, size_t size, sw_bpe **out,
                       sw_kerror *err)
{
    if (size < HEADER_BYTES + 4)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: header: truncated (%zu bytes, expected >= %d)",
                          path, size, HEADER_BYTES + 4);
    uint32_t version = sw_le_get32(buf + 8), n = sw_le_get32(buf + 12), p = sw_le_get32(buf + 16);
    uint64_t m = sw_le_get64(buf + 24);
    if (version != SW_BPE_FILE_VERSION)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: version: %u, expected %u", path, version,
                          SW_BPE_FILE_VERSION);
    if (sw_le_get32(buf + 20) != 0)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: reserved (offset 20): %u, expected 0", path,
                          sw_le_get32(buf + 20));
    if (n < 256 || n > (1u << 30))
        return sw_kerrorf(err, SW_K_EINPUT, "%s: vocab_size: %u, expected 256..2^30", path, n);
    uint64_t want = (uint64_t)HEADER_BYTES + p + 2ull * n + m + 4;
    if (m > ((uint64_t)1 << 40) || want != size)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "%s: size: %zu bytes, the header (vocab_size %u, pattern %u bytes, "
                          "token bytes %llu) says %llu: truncated or corrupt",
                          path, size, n, p, (unsigned long long)m, (unsigned long long)want);
    uint32_t crc = sw_le_get32(buf + size - 4), got = sw_crc32(0, buf, size - 4);
    if (crc != got)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: crc32: stored %08x, computed %08x", path, crc,
                          got);
    char *pattern = malloc((size_t)p + 1);
    uint64_t *offs = malloc(n * sizeof *offs);
    uint32_t *lens = malloc(n * sizeof *lens);
    if (!pattern || !offs || !lens) {
        free(pattern);
        free(offs);
        free(lens);
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", path);
    }
    memcpy(pattern, buf + HEADER_BYTES, p);
    pattern[p] = '\0';
    const uint8_t *lp = buf + HEADER_BYTES + p;
    uint64_t at = 0;
    int rc = SW_K_OK;
    for (uint32_t i = 0; i < n; i++) {
        lens[i] = (uint32_t)lp[2 * i] | (uint32_t)lp[2 * i + 1] << 8;
        offs[i] = at;
        at += lens[i];
    }
    if (at != m)
        rc = sw_kerrorf(err, SW_K_EINPUT,
                        "%s: token lengths: sum to %llu bytes, the header says %llu", path,
                        (unsigned long long)at, (unsigned long long)m);
    else if (strlen(pattern) != p)
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: pattern: contains a NUL byte", path);
    else
        rc = sw_bpe_create(path, n, lp + 2 * (size_t)n, offs, lens, pattern, out, err);
    free(pattern);
    free(offs);
    free(lens);
    return rc;
}

static int b64val(uint8_t c)
{
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

/* Decodes standard base64 (with padding) of s[0..n) into out; the byte count, or -1. */
static long b64decode(const uint8_t *s, size_t n, uint8_t *out)
{
    if (n == 0 || n % 4)
        return -1;
    long len = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64val(s[i + k])) < 0)
                return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        out[len++] = (uint8_t)(w >> 16);
        if (pad < 2)
            out[len++] = (uint8_t)(w >> 8);
        if (pad < 1)
            out[len++] = (uint8_t)w;
    }
    return len;
}

static int parse_tiktoken(const char *path, const uint8_t *buf, size_t size, const char *pattern,
                          sw_bpe **out, sw_kerror *err)
{
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += buf[i] == '\n';
    lines++;
    uint8_t *bytes = malloc(size ? size : 1); /* decoded is shorter than encoded */
    uint64_t *offs = malloc(lines * sizeof *offs);
    uint32_t *lens = calloc(lines, sizeof *lens);
    uint32_t *line_of = calloc(lines, sizeof *line_of); /* rank -> line + 1 */
    uint64_t *tmp_offs = malloc(lines * sizeof *tmp_offs);
    int rc = SW_K_OK;
    if (!bytes || !offs || !lens || !line_of || !tmp_offs) {
        rc = sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", path);
        goto done;
    }
    size_t at = 0, line = 0, count = 0;
    for (size_t i = 0; i < size && rc == SW_K_OK;) {
        size_t e = i;
        while (e < size && buf[e] != '\n')
            e++;
        line++;
        size_t le = e > i && buf[e - 1] == '\r' ? e - 1 : e;
        if (le > i) {
            size_t sp = i;
            while (sp < le && buf[sp] != ' ')
                sp++;
            long dl = sp < le ? b64decode(buf + i, sp - i, bytes + at) : -1;
            char num[24];
            size_t nl = le - sp - 1;
            char *end = NULL;
            unsigned long long rank = 0;
            if (sp < le && nl > 0 && nl < sizeof num) {
                memcpy(num, buf + sp + 1, nl);
                num[nl] = '\0';
                errno = 0;
                rank = strtoull(num, &end, 10);
            }
            if (sp >= le)
                rc =
                    sw_kerrorf(err, SW_K_EINPUT,
                               "%s: line %zu: expected 'BASE64 RANK' (no space found)", path, line);
            else if (dl <= 0)
                rc = sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: token: not valid base64", path,
                                line);
            else if (!end || *end || errno || num[0] < '0' || num[0] > '9' || rank >= lines)
                rc = sw_kerrorf(err, SW_K_EINPUT,
                                "%s: line %zu: rank: expected an integer 0..%zu (the number of "
                                "tokens - 1)",
                                path, line, lines - 1);
            else if (line_of[rank])
                rc = sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: rank %llu: already on line %u",
                                path, line, rank, line_of[rank]);
            else {
                line_of[rank] = (uint32_t)line;
                tmp_offs[rank] = at;
                lens[rank] = (uint32_t)dl;
                at += (size_t)dl;
                count++;
            }
        }
        i = e + 1;
    }
    if (rc != SW_K_OK)
        goto done;
    for (size_t r = 0; r < count; r++)
        if (!line_of[r]) {
            rc = sw_kerrorf(err, SW_K_EINPUT,
                            "%s: rank %zu: missing (%zu tokens, expected ranks 0..%zu each once)",
                            path, r, count, count - 1);
            goto done;
        }
    for (size_t r = 0; r < count; r++)
        offs[r] = tmp_offs[r];
    rc = sw_bpe_create(path, (uint32_t)count, bytes, offs, lens, pattern, out, err);
done:
    free(bytes);
    free(offs);
    free(lens);
    free(line_of);
    free(tmp_offs);
    return rc;
}

int sw_bpe_load_tiktoken(const char *path, const char *pattern, sw_bpe **out, sw_kerror *err)
{
    *out = NULL;
    sw_mapfile m;
    int rc = sw_mapfile_open(path, &m, err);
    if (rc != SW_K_OK)
        return rc;
    rc = parse_tiktoken(path, m.data, m.size, pattern, out, err);
    sw_mapfile_close(&m);
    return rc;
}

int sw_bpe_load(const char *path, sw_bpe **out, sw_kerror *err)
{
    *out = NULL;
    sw_mapfile m;
    int rc = sw_mapfile_open(path, &m, err);
    if (rc != SW_K_OK)
        return rc;
    if (m.size >= 8 && !memcmp(m.data, MAGIC, 8))
        rc = load_binary(path, m.data, m.size, out, err);
    else if (m.size >= 4 && !memcmp(m.data, MAGIC, 4))
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: magic: not a spillway tokenizer file", path);
    else
        rc = parse_tiktoken(path, m.data, m.size, NULL, out, err);
    sw_mapfile_close(&m);
    return rc;
}
