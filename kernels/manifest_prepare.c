/* manifest_prepare.c - corpus -> shards + manifest (see manifest_prepare.h). */
#include "kernels/manifest_prepare.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/manifest_jsonl.h"
#include "kernels/pretok.h"
#include "kernels/shardfile.h"

typedef struct prep {
    dev_t out_dev; /* the output folder, never read as input */
    ino_t out_ino;
    sw_bpe *tok;
    const sw_prepare_opts *opts;
    sw_manifest man;
    size_t cap_shards;
    sw_ids ids;   /* tokens not yet written */
    uint8_t *doc; /* a JSON line's decoded text */
    size_t doc_cap;
} prep;

/* Writes k tokens of p->ids from `from` on as the next shard. */
static int write_shard(prep *p, size_t from, size_t k, sw_kerror *err)
{
    sw_manifest *m = &p->man;
    if (m->n == p->cap_shards) {
        p->cap_shards = p->cap_shards ? 2 * p->cap_shards : 64;
        sw_manifest_shard *g = realloc(m->shards, p->cap_shards * sizeof *g);
        if (!g)
            return sw_kerrorf(err, SW_K_ERUNTIME, "data prepare: out of memory");
        m->shards = g;
    }
    char name[64];
    snprintf(name, sizeof name, "shard_%05zu.bin", m->n);
    size_t pl = strlen(m->dir) + strlen(name) + 2;
    sw_manifest_shard s = {.name = strdup(name), .path = malloc(pl), .tokens = k};
    if (!s.name || !s.path) {
        free(s.name);
        free(s.path);
        return sw_kerrorf(err, SW_K_ERUNTIME, "data prepare: out of memory");
    }
    snprintf(s.path, pl, "%s/%s", m->dir, name);
    m->shards[m->n++] = s;
    size_t len;
    uint64_t bytes = 0;
    for (size_t i = from; i < from + k; i++) {
        sw_bpe_token(p->tok, p->ids.v[i], &len);
        bytes += len;
    }
    m->shards[m->n - 1].text_bytes = bytes;
    sw_shard_info info;
    int rc = sw_shard_write(s.path, m->vocab_size, p->ids.v + from, k, &info, err);
    if (rc != SW_K_OK)
        return rc;
    m->shards[m->n - 1].crc = info.tokens_crc;
    return SW_K_OK;
}

/* Writes every full shard p->ids holds and keeps the rest. */
static int write_full_shards(prep *p, sw_kerror *err)
{
    size_t at = 0, s = (size_t)p->opts->shard_tokens;
    int rc = SW_K_OK;
    while (rc == SW_K_OK && p->ids.n - at >= s) {
        rc = write_shard(p, at, s, err);
        at += s;
    }
    memmove(p->ids.v, p->ids.v + at, (p->ids.n - at) * sizeof *p->ids.v);
    p->ids.n -= at;
    return rc;
}

/* Where text[0..n) may be cut without changing its chunks, at or after `from`: after a newline
 * followed by an ASCII letter, which GPT-4's pattern never joins (no alternative continues past
 * a newline into a letter, and none starts a letter run with a newline). n when none. */
static size_t safe_cut(const uint8_t *text, size_t n, size_t from)
{
    for (size_t i = from; i + 1 < n; i++)
        if (text[i] == '\n' && ((text[i + 1] | 32) >= 'a' && (text[i + 1] | 32) <= 'z'))
            return i + 1;
    return n;
}

/* Encodes one document and writes the shards it fills. A long document under GPT-4's pattern
 * is encoded in pieces of about PIECE bytes, so memory stays bounded by the piece's tokens
 * plus one shard, not the document's. */
static int add_document(prep *p, const uint8_t *text, size_t n, sw_kerror *err)
{
    enum { PIECE = 4 << 20 };
    bool cuttable = !strcmp(sw_bpe_pattern(p->tok), SW_PRETOK_GPT4);
    int rc = SW_K_OK;
    while (rc == SW_K_OK && n) {
        size_t k = cuttable && n > 2 * (size_t)PIECE ? safe_cut(text, n, PIECE) : n;
        rc = sw_bpe_encode(p->tok, text, k, &p->ids, err);
        if (rc == SW_K_OK)
            rc = write_full_shards(p, err);
        text += k;
        n -= k;
    }
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int add_file(prep *p, const char *path, sw_kerror *err)
{
    sw_mapfile m;
    int rc = sw_mapfile_open(path, &m, err);
    if (rc != SW_K_OK)
        return rc;
    if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson") || ends_with(path, ".json")) {
        size_t lineno = 0;
        for (size_t i = 0; i < m.size && rc == SW_K_OK;) {
            size_t e = i;
            while (e < m.size && m.data[e] != '\n')
                e++;
            lineno++;
            size_t len = 0;
            int r = 0;
            if (e - i > p->doc_cap) {
                uint8_t *d = realloc(p->doc, e - i);
                if (!d)
                    r = sw_kerrorf(err, SW_K_ERUNTIME, "data prepare: out of memory");
                else {
                    p->doc = d;
                    p->doc_cap = e - i;
                }
            }
            if (r == 0)
                r = sw_jsonl_text(path, lineno, m.data + i, m.data + e, p->doc, &len, err);
            if (r == 0)
                rc = add_document(p, p->doc, len, err);
            else if (r != 1)
                rc = r;
            i = e + 1;
        }
    } else
        rc = add_document(p, m.data, m.size, err);
    sw_mapfile_close(&m);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_path(prep *p, const char *path, int depth, sw_kerror *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return add_file(p, path, err);
    if (st.st_dev == p->out_dev && st.st_ino == p->out_ino)
        return SW_K_OK;
    if (depth > 32)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: folders nested too deep", path);
    DIR *d = opendir(path);
    if (!d)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: cannot open folder: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = SW_K_OK;
    for (struct dirent *e; rc == SW_K_OK && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **g = realloc(names, cap * sizeof *g);
            if (!g) {
                rc = sw_kerrorf(err, SW_K_ERUNTIME, "data prepare: out of memory");
                break;
            }
            names = g;
        }
        size_t l = strlen(path) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(l)))
            rc = sw_kerrorf(err, SW_K_ERUNTIME, "data prepare: out of memory");
        else
            snprintf(names[n++], l, "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (rc == SW_K_OK)
            rc = add_path(p, names[i], depth + 1, err);
        free(names[i]);
    }
    free(names);
    return rc;
}

int sw_prepare(sw_bpe *t, const char *const *inputs, size_t n, const sw_prepare_opts *opts,
               sw_manifest *out, sw_kerror *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (opts->shard_tokens < 1)
        return sw_kerrorf(err, SW_K_EINPUT, "--shard-tokens: expected >= 1");
    if (mkdir(opts->out_dir, 0777) != 0 && errno != EEXIST)
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: cannot create folder: %s", opts->out_dir,
                          strerror(errno));
    /* a manifest left from an earlier run would name shards this run overwrites: remove it
     * first, so a run that fails midway leaves no manifest rather than a wrong one */
    size_t ml = strlen(opts->out_dir) + sizeof SW_MANIFEST_NAME + 1;
    char *old_manifest = malloc(ml);
    if (!old_manifest)
        return sw_kerrorf(err, SW_K_ERUNTIME, "data prepare: out of memory");
    snprintf(old_manifest, ml, "%s/%s", opts->out_dir, SW_MANIFEST_NAME);
    int gone = remove(old_manifest) == 0 || errno == ENOENT;
    free(old_manifest);
    if (!gone)
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s/%s: cannot remove the old manifest: %s",
                          opts->out_dir, SW_MANIFEST_NAME, strerror(errno));
    prep p = {.tok = t, .opts = opts};
    struct stat ost;
    if (stat(opts->out_dir, &ost) == 0) {
        p.out_dev = ost.st_dev;
        p.out_ino = ost.st_ino;
    }
    p.man.dir = strdup(opts->out_dir);
    p.man.vocab_size = sw_bpe_vocab_size(t);
    p.man.token_bytes = sw_shard_token_bytes_for(p.man.vocab_size);
    p.man.tokenizer_crc = sw_bpe_crc(t);
    p.man.shard_tokens = opts->shard_tokens;
    int rc = p.man.dir ? SW_K_OK : sw_kerrorf(err, SW_K_ERUNTIME, "data prepare: out of memory");
    for (size_t i = 0; i < n && rc == SW_K_OK; i++)
        rc = add_path(&p, inputs[i], 0, err);
    if (rc == SW_K_OK && p.ids.n)
        rc = write_shard(&p, 0, p.ids.n, err);
    if (rc == SW_K_OK && p.man.n == 0)
        rc = sw_kerrorf(err, SW_K_EINPUT, "data prepare: the inputs hold no text");
    if (rc == SW_K_OK && opts->val_shards >= p.man.n)
        rc = sw_kerrorf(err, SW_K_EINPUT,
                        "--val-shards: %zu, but the corpus makes only %zu shard%s (at least one "
                        "must train)",
                        opts->val_shards, p.man.n, p.man.n == 1 ? "" : "s");
    if (rc == SW_K_OK) {
        for (size_t i = p.man.n - opts->val_shards; i < p.man.n; i++)
            p.man.shards[i].val = true;
        rc = sw_manifest_write(&p.man, err);
    }
    if (rc == SW_K_OK && out)
        rc = sw_manifest_load(p.man.dir, out, err);
    sw_manifest_free(&p.man);
    sw_ids_free(&p.ids);
    free(p.doc);
    return rc;
}
