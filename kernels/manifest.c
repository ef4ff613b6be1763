/* manifest.c - reading, checking and writing dataset manifests (see manifest.h). The file is
 * text, one record per line, space-separated fields:
 *
 *   spillway-manifest 1
 *   vocab_size 4096
 *   token_bytes 2
 *   tokenizer_crc 1c2dcb13
 *   shard_tokens 65536
 *   shard train shard_00000.bin 65536 212345 89abcdef
 *   ...
 *   shard val shard_00004.bin 10223 33112 01234567
 *
 * Blank lines and lines starting with '#' are ignored. */
#include "kernels/manifest.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/shardfile.h"

void sw_manifest_free(sw_manifest *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->shards[i].name);
        free(m->shards[i].path);
    }
    free(m->shards);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

static bool parse_u64(const char *s, int base, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Splits line in place at spaces into at most max fields; the count. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == max)
            return max + 1;
        f[n++] = t;
    }
    return n;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int sw_manifest_load(const char *path, sw_manifest *out, sw_kerror *err)
{
    memset(out, 0, sizeof *out);
    /* path is the folder or the file */
    size_t pl = strlen(path);
    const size_t nl = strlen(SW_MANIFEST_NAME);
    bool is_file = pl >= nl && !strcmp(path + pl - nl, SW_MANIFEST_NAME) &&
                   (pl == nl || path[pl - nl - 1] == '/');
    char *file = is_file ? strdup(path) : join(path, SW_MANIFEST_NAME);
    char *dir = strdup(path);
    if (!file || !dir) {
        free(file);
        free(dir);
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", path);
    }
    if (is_file) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            strcpy(dir, ".");
    }
    out->dir = dir;
    FILE *f = fopen(file, "r");
    if (!f) {
        int rc =
            sw_kerrorf(err, SW_K_EINPUT, "%s: cannot open manifest: %s", file, strerror(errno));
        free(file);
        sw_manifest_free(out);
        return rc;
    }
    int rc = SW_K_OK;
    char *line = NULL;
    size_t cap = 0, lineno = 0, cap_shards = 0;
    bool have_magic = false, have[4] = {false};
    static const char *keys[4] = {"vocab_size", "token_bytes", "tokenizer_crc", "shard_tokens"};
    while (rc == SW_K_OK && getline(&line, &cap, f) >= 0) {
        lineno++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *fl[8];
        int nf = split(line, fl, 7);
        if (nf == 0 || fl[0][0] == '#')
            continue;
        if (!have_magic) {
            uint64_t v;
            if (strcmp(fl[0], "spillway-manifest") || nf != 2 || !parse_u64(fl[1], 10, &v))
                rc = sw_kerrorf(err, SW_K_EINPUT,
                                "%s: line %zu: expected 'spillway-manifest %u' first", file, lineno,
                                SW_MANIFEST_VERSION);
            else if (v != SW_MANIFEST_VERSION)
                rc = sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: version: %llu, expected %u", file,
                                lineno, (unsigned long long)v, SW_MANIFEST_VERSION);
            have_magic = true;
            continue;
        }
        int k = -1;
        for (int j = 0; j < 4; j++)
            if (!strcmp(fl[0], keys[j]))
                k = j;
        if (k >= 0) {
            uint64_t v;
            if (nf != 2 || !parse_u64(fl[1], k == 2 ? 16 : 10, &v) || (k != 3 && v > UINT32_MAX) ||
                (k != 2 && v == 0) || (k == 1 && v != 2 && v != 4)) {
                rc = sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: %s: expected %s", file, lineno,
                                keys[k],
                                k == 1   ? "2 or 4"
                                : k == 2 ? "8 hexadecimal digits"
                                         : "an integer >= 1");
                continue;
            }
            if (have[k]) {
                rc = sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: %s: given twice", file, lineno,
                                keys[k]);
                continue;
            }
            have[k] = true;
            if (k == 0)
                out->vocab_size = (uint32_t)v;
            else if (k == 1)
                out->token_bytes = (uint32_t)v;
            else if (k == 2)
                out->tokenizer_crc = (uint32_t)v;
            else
                out->shard_tokens = v;
            continue;
        }
        if (strcmp(fl[0], "shard")) {
            rc = sw_kerrorf(err, SW_K_EINPUT,
                            "%s: line %zu: unknown record '%s' (expected vocab_size, "
                            "token_bytes, tokenizer_crc, shard_tokens or shard)",
                            file, lineno, fl[0]);
            continue;
        }
        if (nf != 6) {
            rc = sw_kerrorf(err, SW_K_EINPUT,
                            "%s: line %zu: shard: expected 'shard train|val NAME TOKENS "
                            "TEXT_BYTES CRC' (6 fields, got %d)",
                            file, lineno, nf > 7 ? 7 : nf);
            continue;
        }
        sw_manifest_shard s = {0};
        const char *bad = NULL;
        if (!strcmp(fl[1], "val"))
            s.val = true;
        else if (strcmp(fl[1], "train"))
            bad = "split: expected 'train' or 'val'";
        if (!bad && (strchr(fl[2], '/') || !strcmp(fl[2], ".") || !strcmp(fl[2], "..")))
            bad = "name: expected a file name without '/'";
        uint64_t crc = 0;
        if (!bad && (!parse_u64(fl[3], 10, &s.tokens) || s.tokens == 0))
            bad = "tokens: expected an integer >= 1";
        if (!bad && !parse_u64(fl[4], 10, &s.text_bytes))
            bad = "text_bytes: expected an integer >= 0";
        if (!bad && (strlen(fl[5]) != 8 || !parse_u64(fl[5], 16, &crc)))
            bad = "crc: expected 8 hexadecimal digits";
        if (!bad && !s.val && out->n > out->n_train)
            bad = "split: a training shard after a validation shard (training shards come "
                  "first)";
        for (size_t j = 0; !bad && j < out->n; j++)
            if (!strcmp(out->shards[j].name, fl[2]))
                bad = "name: listed twice";
        if (bad) {
            rc = sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: shard %s: %s", file, lineno, fl[2],
                            bad);
            continue;
        }
        s.crc = (uint32_t)crc;
        if (out->n == cap_shards) {
            cap_shards = cap_shards ? 2 * cap_shards : 64;
            sw_manifest_shard *g = realloc(out->shards, cap_shards * sizeof *g);
            if (!g) {
                rc = sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", file);
                continue;
            }
            out->shards = g;
        }
        s.name = strdup(fl[2]);
        s.path = join(out->dir, fl[2]);
        out->shards[out->n++] = s;
        if (!s.name || !s.path)
            rc = sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", file);
        if (!s.val)
            out->n_train++;
    }
    free(line);
    fclose(f);
    if (rc == SW_K_OK && !have_magic)
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: empty manifest (expected 'spillway-manifest %u')",
                        file, SW_MANIFEST_VERSION);
    for (int j = 0; j < 4 && rc == SW_K_OK; j++)
        if (!have[j])
            rc = sw_kerrorf(err, SW_K_EINPUT, "%s: %s: missing", file, keys[j]);
    if (rc == SW_K_OK && out->n_train == 0)
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: shard: no training shard", file);
    if (rc == SW_K_OK && out->token_bytes == 2 && out->vocab_size > 65536)
        rc = sw_kerrorf(err, SW_K_EINPUT,
                        "%s: token_bytes: 2 cannot hold vocab_size %u (expected 4)", file,
                        out->vocab_size);
    for (size_t i = 0; rc == SW_K_OK && i < out->n; i++) {
        sw_manifest_shard *s = &out->shards[i];
        if (!s->val && i + 1 < out->n_train && s->tokens != out->shard_tokens)
            rc = sw_kerrorf(err, SW_K_EINPUT,
                            "%s: shard %s: tokens: %llu, expected shard_tokens (%llu): every "
                            "training shard but the last is full",
                            file, s->name, (unsigned long long)s->tokens,
                            (unsigned long long)out->shard_tokens);
        else if (s->tokens > out->shard_tokens)
            rc = sw_kerrorf(
                err, SW_K_EINPUT, "%s: shard %s: tokens: %llu, more than shard_tokens (%llu)", file,
                s->name, (unsigned long long)s->tokens, (unsigned long long)out->shard_tokens);
        uint64_t *stream = s->val ? &out->val_tokens : &out->train_tokens;
        s->first_token = *stream;
        *stream += s->tokens;
        *(s->val ? &out->val_bytes : &out->train_bytes) += s->text_bytes;
    }
    free(file);
    if (rc != SW_K_OK)
        sw_manifest_free(out);
    return rc;
}

int sw_manifest_verify(const sw_manifest *m, sw_kerror *err)
{
    for (size_t i = 0; i < m->n; i++) {
        const sw_manifest_shard *ms = &m->shards[i];
        sw_shard s;
        int rc = sw_shard_open(ms->path, true, &s, err);
        if (rc != SW_K_OK)
            return rc;
        const char *field = NULL;
        unsigned long long got = 0, want = 0;
        if (s.info.vocab_size != m->vocab_size)
            field = "vocab_size", got = s.info.vocab_size, want = m->vocab_size;
        else if (s.info.token_bytes != m->token_bytes)
            field = "token_bytes", got = s.info.token_bytes, want = m->token_bytes;
        else if (s.info.tokens != ms->tokens)
            field = "tokens", got = s.info.tokens, want = ms->tokens;
        else if (s.info.tokens_crc != ms->crc)
            field = "tokens_crc", got = s.info.tokens_crc, want = ms->crc;
        sw_shard_close(&s);
        if (field)
            return sw_kerrorf(err, SW_K_EINPUT,
                              "%s: %s: %llu (0x%llx), the manifest says %llu "
                              "(0x%llx)",
                              ms->path, field, got, got, want, want);
    }
    return SW_K_OK;
}

int sw_manifest_write(const sw_manifest *m, sw_kerror *err)
{
    char *file = join(m->dir, SW_MANIFEST_NAME), *text = NULL;
    size_t len = 0;
    FILE *f = file ? open_memstream(&text, &len) : NULL;
    if (!f) {
        free(file);
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", m->dir);
    }
    fprintf(f,
            "spillway-manifest %u\n# docs/formats/shard.md: shard SPLIT NAME TOKENS TEXT_BYTES "
            "CRC32\nvocab_size %u\ntoken_bytes %u\ntokenizer_crc %08x\nshard_tokens %llu\n",
            SW_MANIFEST_VERSION, m->vocab_size, m->token_bytes, m->tokenizer_crc,
            (unsigned long long)m->shard_tokens);
    for (size_t i = 0; i < m->n; i++)
        fprintf(f, "shard %s %s %llu %llu %08x\n", m->shards[i].val ? "val" : "train",
                m->shards[i].name, (unsigned long long)m->shards[i].tokens,
                (unsigned long long)m->shards[i].text_bytes, m->shards[i].crc);
    int rc = fclose(f) == 0 && text ? sw_file_write_atomic(file, text, len, err)
                                    : sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", file);
    free(text);
    free(file);
    return rc;
}

int sw_manifest_locate(const sw_manifest *m, uint64_t token, size_t *shard, uint64_t *offset,
                       sw_kerror *err)
{
    if (token >= m->train_tokens)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "%s: token %llu: past the end of the training stream (%llu tokens)",
                          m->dir, (unsigned long long)token, (unsigned long long)m->train_tokens);
    size_t lo = 0, hi = m->n_train; /* the shard with first_token <= token < next's */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->shards[mid].first_token <= token)
            lo = mid;
        else
            hi = mid;
    }
    *shard = lo;
    *offset = token - m->shards[lo].first_token;
    return SW_K_OK;
}

int sw_manifest_unigram_bpb(const sw_manifest *m, double *bpb, sw_kerror *err)
{
    if (m->n_train == m->n || m->val_bytes == 0)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: no validation shard to score", m->dir);
    uint64_t *count = calloc(m->vocab_size, sizeof *count), total = 0;
    if (!count)
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", m->dir);
    double bits = 0;
    int rc = SW_K_OK;
    for (size_t i = 0; i < m->n && rc == SW_K_OK; i++) {
        sw_shard s;
        if ((rc = sw_shard_open(m->shards[i].path, false, &s, err)) != SW_K_OK)
            break;
        if (s.info.vocab_size != m->vocab_size)
            rc = sw_kerrorf(err, SW_K_EINPUT, "%s: vocab_size: %u, the manifest says %u",
                            m->shards[i].path, s.info.vocab_size, m->vocab_size);
        for (uint64_t k = 0; rc == SW_K_OK && k < s.info.tokens; k++) {
            uint32_t t = sw_shard_token(&s, k);
            if (t >= m->vocab_size)
                rc = sw_kerrorf(err, SW_K_EINPUT, "%s: token %llu: id %u, expected < %u",
                                m->shards[i].path, (unsigned long long)k, t, m->vocab_size);
            else if (!m->shards[i].val) {
                count[t]++;
                total++;
            } else
                bits -= log2((double)(count[t] + 1) / (double)(total + m->vocab_size));
        }
        sw_shard_close(&s);
    }
    free(count);
    if (rc == SW_K_OK)
        *bpb = bits / (double)m->val_bytes;
    return rc;
}
