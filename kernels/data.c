/* data.c - byte tokenizer, text loading, train/validation split and the shard loader. */
#include "kernels/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sw_text_load(const char *path, sw_text *out, sw_kerror *err)
{
    out->bytes = NULL;
    out->n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: cannot open data file: %s", path, strerror(errno));
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            return sw_kerrorf(err, SW_K_ERUNTIME, "%s: out of memory reading data", path);
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(buf, cap * 2);
        if (!bigger)
            free(buf);
        buf = bigger;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return sw_kerrorf(err, SW_K_EINPUT, "%s: read error", path);
    }
    if (n == 0) {
        free(buf);
        return sw_kerrorf(err, SW_K_EINPUT, "%s: data file is empty", path);
    }
    out->bytes = buf;
    out->n = n;
    return SW_K_OK;
}

void sw_text_free(sw_text *t)
{
    free(t->bytes);
    t->bytes = NULL;
    t->n = 0;
}

void sw_byte_encode(const uint8_t *bytes, size_t n, int32_t *ids)
{
    for (size_t i = 0; i < n; i++)
        ids[i] = bytes[i];
}

void sw_byte_decode(const int32_t *ids, size_t n, uint8_t *bytes)
{
    for (size_t i = 0; i < n; i++)
        bytes[i] = ids[i] >= 0 && ids[i] < 256 ? (uint8_t)ids[i] : (uint8_t)'?';
}

void sw_split_train_val(size_t n, sw_span *train, sw_span *val)
{
    /* floor(0.9 n) in integers: exact for any n, no rounding surprises. */
    size_t cut = n / 10 * 9 + (n % 10) * 9 / 10;
    *train = (sw_span){0, cut};
    *val = (sw_span){cut, n};
}

int sw_loader_init(sw_loader *ld, const uint8_t *tokens, sw_span span, int B, int T, sw_kerror *err)
{
    if (B < 1 || T < 1)
        return sw_kerrorf(err, SW_K_EINPUT, "loader: batch %d and sequence %d must be >= 1", B, T);
    size_t need = (size_t)B * T + 1;
    if (span.end < span.begin || span.end - span.begin < need)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "loader: span [%zu, %zu) holds %zu tokens, a batch of %d x %d needs "
                          "%zu",
                          span.begin, span.end, span.end >= span.begin ? span.end - span.begin : 0,
                          B, T, need);
    *ld = (sw_loader){tokens, span, span.begin, B, T};
    return SW_K_OK;
}

void sw_loader_next(sw_loader *ld, int32_t *inputs, int32_t *targets)
{
    size_t bt = (size_t)ld->B * ld->T;
    if (ld->pos + bt + 1 > ld->span.end)
        ld->pos = ld->span.begin;
    const uint8_t *src = ld->tokens + ld->pos;
    sw_byte_encode(src, bt, inputs);
    sw_byte_encode(src + 1, bt, targets);
    ld->pos += bt;
}

int sw_loader_seek(sw_loader *ld, size_t pos, sw_kerror *err)
{
    if (pos < ld->span.begin || pos >= ld->span.end)
        return sw_kerrorf(err, SW_K_EINPUT, "loader: position %zu outside span [%zu, %zu)", pos,
                          ld->span.begin, ld->span.end);
    ld->pos = pos;
    return SW_K_OK;
}
