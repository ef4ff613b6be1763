/* checkpoint.c - the checkpoint file (docs/formats/checkpoint.md): a 128-byte little-endian
 * header, the float payload (parameters, then AdamW m and v when present) and a CRC-32 of
 * all preceding bytes as the last 4 bytes. */
#include "kernels/checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[8] = {'S', 'W', 'C', 'K', 'P', 'T', '\r', '\n'};
/* Flag bits: optimizer state present; that state is Muon's (kernels/muon.h), not AdamW's. */
enum { HEADER_BYTES = 128, FLAG_OPTIMIZER = 1, FLAG_MUON = 2 };

/* ---- CRC-32, table-driven, slicing by one byte ------------------------------------------ */

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = 1;
}

uint32_t sw_crc32(uint32_t crc, const void *data, size_t n)
{
    if (!crc_ready)
        crc_init();
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- little-endian fields ---------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static float get_f32(const uint8_t *p)
{
    uint32_t b = get_u32(p);
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static void put_f32(uint8_t *p, float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    put_u32(p, b);
}

/* The payload is written as the host's floats; the format is little-endian, as is every
 * machine spillway runs on (x86-64, aarch64). Refuse rather than corrupt elsewhere. */
static int host_is_little_endian(void)
{
    const uint32_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Field offsets in the header. */
enum {
    H_MAGIC = 0,
    H_VERSION = 8,
    H_HEADER_BYTES = 12,
    H_NAME = 16,   /* char[32], NUL-padded */
    H_LAYERS = 48, /* then n_embd, n_head, vocab, max_seq_len, tie: i32 each */
    H_SOFTCAP = 72,
    H_ROPE = 76,
    H_NPARAMS = 80,
    H_STEP = 88,
    H_DATA_POS = 96,
    H_TOKENS = 104,
    H_ADAM_T = 112,
    H_FLAGS = 120,
};

static void encode_header(uint8_t *h, const sw_model_config *cfg, size_t n_params,
                          const sw_train_state *st, int64_t adam_t, uint32_t flags)
{
    memset(h, 0, HEADER_BYTES);
    memcpy(h + H_MAGIC, MAGIC, 8);
    put_u32(h + H_VERSION, SW_CHECKPOINT_VERSION);
    put_u32(h + H_HEADER_BYTES, HEADER_BYTES);
    memcpy(h + H_NAME, cfg->name, strnlen(cfg->name, 31)); /* NUL-padded by the memset */
    const int32_t shape[6] = {cfg->n_layer,    cfg->n_embd,      cfg->n_head,
                              cfg->vocab_size, cfg->max_seq_len, cfg->tie_embeddings};
    for (int i = 0; i < 6; i++)
        put_u32(h + H_LAYERS + 4 * i, (uint32_t)shape[i]);
    put_f32(h + H_SOFTCAP, cfg->softcap);
    put_f32(h + H_ROPE, cfg->rope_base);
    put_u64(h + H_NPARAMS, n_params);
    put_u64(h + H_STEP, (uint64_t)(st ? st->step : 0));
    put_u64(h + H_DATA_POS, st ? st->data_pos : 0);
    put_u64(h + H_TOKENS, st ? st->tokens_seen : 0);
    put_u64(h + H_ADAM_T, (uint64_t)adam_t);
    put_u32(h + H_FLAGS, flags);
}

static int write_all(FILE *f, const void *p, size_t n, uint32_t *crc)
{
    *crc = sw_crc32(*crc, p, n);
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

/* Writes n bytes of backend memory src (a device's on a device backend), copied to the host a
 * scratch-sized piece at a time. */
static int write_backend(FILE *f, const sw_backend *be, const void *src, size_t n, uint32_t *crc,
                         uint8_t *scratch, size_t scratch_n)
{
    const uint8_t *in = src;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < scratch_n ? n - done : scratch_n;
        be->copy_to_host(scratch, in + done, k);
        if (write_all(f, scratch, k, crc) != 0)
            return -1;
        done += k;
    }
    return 0;
}

int sw_checkpoint_save(const char *path, sw_model *m, const sw_adamw *opt, const sw_train_state *st,
                       sw_kerror *err)
{
    if (!host_is_little_endian())
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: checkpoints need a little-endian host", path);
    size_t n = sw_model_num_params(m);
    if (opt && opt->n != n)
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: optimizer holds %zu parameters, model %zu", path,
                          opt->n, n);
    size_t tmp_len = strlen(path) + 5;
    char *tmp = malloc(tmp_len);
    if (!tmp)
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", path);
    snprintf(tmp, tmp_len, "%s.tmp", path);
    enum { CHUNK = 1 << 20 };
    uint8_t *scratch = malloc(CHUNK);
    FILE *f = scratch ? fopen(tmp, "wb") : NULL;
    if (!f) {
        int rc = scratch
                     ? sw_kerrorf(err, SW_K_ERUNTIME, "%s: cannot create: %s", tmp, strerror(errno))
                     : sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", path);
        free(scratch);
        free(tmp);
        return rc;
    }
    const sw_backend *be = sw_model_backend(m);
    uint8_t h[HEADER_BYTES], tail[4];
    encode_header(h, sw_model_config_of(m), n, st, opt ? opt->t : 0,
                  opt ? FLAG_OPTIMIZER | (opt->muon ? FLAG_MUON : 0) : 0);
    uint32_t crc = 0;
    int bad = write_all(f, h, sizeof h, &crc);
    bad |= write_backend(f, be, sw_model_params(m), n * sizeof(float), &crc, scratch, CHUNK);
    if (opt) {
        bad |= write_backend(f, opt->be, opt->m, n * sizeof(float), &crc, scratch, CHUNK);
        bad |= write_backend(f, opt->be, opt->v, n * sizeof(float), &crc, scratch, CHUNK);
    }
    free(scratch);
    put_u32(tail, crc);
    bad |= fwrite(tail, 1, 4, f) != 4;
    bad |= fflush(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int rc = sw_kerrorf(err, SW_K_ERUNTIME, "%s: writing checkpoint failed: %s", path,
                            strerror(errno));
        remove(tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    return SW_K_OK;
}

/* Compares one shape field of the file with the model's. */
static int check_field(const char *path, const char *field, long file_v, long model_v,
                       sw_kerror *err)
{
    if (file_v == model_v)
        return SW_K_OK;
    return sw_kerrorf(err, SW_K_EINPUT,
                      "%s: checkpoint %s is %ld but the model's is %ld (wrong preset or shape)",
                      path, field, file_v, model_v);
}

/* Reads n bytes at the current position into dst, backend be's memory (dst NULL: discard),
 * through scratch, folding them into crc. */
static int read_chunked(FILE *f, const sw_backend *be, void *dst, size_t n, uint32_t *crc,
                        uint8_t *scratch, size_t scratch_n)
{
    uint8_t *out = dst;
    while (n > 0) {
        size_t k = n < scratch_n ? n : scratch_n;
        if (fread(scratch, 1, k, f) != k)
            return -1;
        *crc = sw_crc32(*crc, scratch, k);
        if (out) {
            be->copy_to_device(out, scratch, k);
            out += k;
        }
        n -= k;
    }
    return 0;
}

int sw_checkpoint_load(const char *path, sw_model *m, sw_adamw *opt, sw_train_state *st,
                       sw_kerror *err)
{
    if (!host_is_little_endian())
        return sw_kerrorf(err, SW_K_ERUNTIME, "%s: checkpoints need a little-endian host", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: cannot open checkpoint: %s", path,
                          strerror(errno));
    int rc = SW_K_OK;
    uint8_t h[HEADER_BYTES], *scratch = NULL;
    long long fsize = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        fsize = ftell(f);
    rewind(f);
    if (fsize < HEADER_BYTES + 4 || fread(h, 1, HEADER_BYTES, f) != HEADER_BYTES) {
        rc = sw_kerrorf(err, SW_K_EINPUT,
                        "%s: truncated checkpoint (%lld bytes, the header alone needs %d)", path,
                        fsize, HEADER_BYTES + 4);
        goto done;
    }
    if (memcmp(h + H_MAGIC, MAGIC, 8) != 0) {
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: bad magic, not a spillway checkpoint", path);
        goto done;
    }
    uint32_t version = get_u32(h + H_VERSION);
    if (version != SW_CHECKPOINT_VERSION) {
        rc = sw_kerrorf(err, SW_K_EINPUT,
                        "%s: checkpoint format version %u, this build reads version %u", path,
                        version, SW_CHECKPOINT_VERSION);
        goto done;
    }
    uint32_t hbytes = get_u32(h + H_HEADER_BYTES), flags = get_u32(h + H_FLAGS);
    uint64_t n_file = get_u64(h + H_NPARAMS);
    if (hbytes != HEADER_BYTES || n_file > (uint64_t)1 << 40 ||
        (flags & ~(FLAG_OPTIMIZER | FLAG_MUON)) ||
        (flags & FLAG_MUON && !(flags & FLAG_OPTIMIZER))) {
        rc = sw_kerrorf(err, SW_K_EINPUT,
                        "%s: corrupt header (header_bytes %u, n_params %llu, flags %u)", path,
                        hbytes, (unsigned long long)n_file, flags);
        goto done;
    }
    int has_opt = (flags & FLAG_OPTIMIZER) != 0;
    unsigned long long expect =
        HEADER_BYTES + (unsigned long long)n_file * 4 * (has_opt ? 3 : 1) + 4;
    if ((unsigned long long)fsize != expect) {
        rc = sw_kerrorf(
            err, SW_K_EINPUT, "%s: %s checkpoint: %lld bytes, the header announces %llu", path,
            (unsigned long long)fsize < expect ? "truncated" : "oversized", fsize, expect);
        goto done;
    }
    /* Pass 1: verify the checksum without touching the model. */
    enum { CHUNK = 1 << 20 };
    scratch = malloc(CHUNK);
    if (!scratch) {
        rc = sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory", path);
        goto done;
    }
    uint32_t crc = sw_crc32(0, h, HEADER_BYTES);
    uint8_t tail[4];
    if (read_chunked(f, NULL, NULL, (size_t)(expect - HEADER_BYTES - 4), &crc, scratch, CHUNK) ||
        fread(tail, 1, 4, f) != 4) {
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: read error in checkpoint payload", path);
        goto done;
    }
    if (get_u32(tail) != crc) {
        rc = sw_kerrorf(err, SW_K_EINPUT,
                        "%s: checksum mismatch (file says %08x, contents give %08x): corrupt "
                        "checkpoint",
                        path, get_u32(tail), crc);
        goto done;
    }
    /* The file is intact; does it fit this model? */
    const sw_model_config *cfg = sw_model_config_of(m);
    static const char *const fields[6] = {"n_layer",    "n_embd",      "n_head",
                                          "vocab_size", "max_seq_len", "tie_embeddings"};
    const int32_t mine[6] = {cfg->n_layer,    cfg->n_embd,      cfg->n_head,
                             cfg->vocab_size, cfg->max_seq_len, cfg->tie_embeddings};
    for (int i = 0; i < 6 && rc == SW_K_OK; i++)
        rc = check_field(path, fields[i], (int32_t)get_u32(h + H_LAYERS + 4 * i), mine[i], err);
    if (rc != SW_K_OK)
        goto done;
    if (get_f32(h + H_SOFTCAP) != cfg->softcap || get_f32(h + H_ROPE) != cfg->rope_base) {
        rc = sw_kerrorf(err, SW_K_EINPUT,
                        "%s: checkpoint softcap/rope_base %g/%g differ from the model's %g/%g",
                        path, (double)get_f32(h + H_SOFTCAP), (double)get_f32(h + H_ROPE),
                        (double)cfg->softcap, (double)cfg->rope_base);
        goto done;
    }
    size_t n = sw_model_num_params(m);
    if (n_file != n || (opt && opt->n != n)) {
        rc = sw_kerrorf(err, SW_K_EINPUT, "%s: checkpoint holds %llu parameters, model %zu", path,
                        (unsigned long long)n_file, n);
        goto done;
    }
    if (opt && !has_opt) {
        rc =
            sw_kerrorf(err, SW_K_EINPUT,
                       "%s: checkpoint has no optimizer state (weights only) to resume from", path);
        goto done;
    }
    if (opt && !(flags & FLAG_MUON) != !opt->muon) {
        rc = sw_kerrorf(err, SW_K_EINPUT,
                        "%s: checkpoint holds %s optimizer state, this run uses %s (--optimizer)",
                        path, flags & FLAG_MUON ? "muon" : "adamw", opt->muon ? "muon" : "adamw");
        goto done;
    }
    /* Pass 2: read for real. The file was verified a moment ago; a failure now is an I/O
     * error (or the file changed under us), reported as such. */
    uint32_t crc2 = sw_crc32(0, h, HEADER_BYTES);
    if (fseek(f, HEADER_BYTES, SEEK_SET) != 0 ||
        read_chunked(f, sw_model_backend(m), sw_model_params(m), n * 4, &crc2, scratch, CHUNK) ||
        (has_opt && read_chunked(f, opt ? opt->be : NULL, opt ? (void *)opt->m : NULL, n * 4, &crc2,
                                 scratch, CHUNK)) ||
        (has_opt && read_chunked(f, opt ? opt->be : NULL, opt ? (void *)opt->v : NULL, n * 4, &crc2,
                                 scratch, CHUNK)) ||
        crc2 != crc) {
        rc = sw_kerrorf(err, SW_K_ERUNTIME, "%s: checkpoint changed while being read", path);
        goto done;
    }
    if (opt)
        opt->t = (int64_t)get_u64(h + H_ADAM_T);
    if (st) {
        st->step = (int64_t)get_u64(h + H_STEP);
        st->data_pos = get_u64(h + H_DATA_POS);
        st->tokens_seen = get_u64(h + H_TOKENS);
    }
done:
    free(scratch);
    fclose(f);
    return rc;
}
