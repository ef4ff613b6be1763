/* coord_data.c - the data the coordinator hands out and validates on (see coord_int.h): either
 * the byte corpus (split 90/10 in memory) or, with the scenario's exec.data, a tokenized
 * dataset folder read through its manifest (docs/data.md). In the second case the coordinator
 * opens no training shard: agents stream their leases from their own copy of the folder, and
 * the coordinator maps only the validation shards while it validates. */
#include "exec/coord_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/fmt.h"
#include "kernels/bpe.h"
#include "kernels/manifest_stream.h"
#include "kernels/train.h"

/* The model's shape: the preset, with exec.vocab rows when given. */
int coord_model_config(const sw_scenario *sc, sw_model_config *mc, sw_error *err)
{
    if (sw_model_preset(sc->exec.preset, mc) != SW_K_OK)
        return sw_errorf(err, SW_EINPUT, "%s: exec.preset: unknown model preset '%s'", sc->name,
                         sc->exec.preset);
    if (sc->exec.vocab == 1)
        return sw_errorf(err, SW_EINPUT, "%s: exec.vocab: 1, expected 0 (the preset's) or >= 2",
                         sc->name);
    if (sc->exec.vocab)
        mc->vocab_size = sc->exec.vocab;
    return SW_OK;
}

static int setup_bytes(coord *c, const sw_model_config *mc, sw_error *err)
{
    const sw_scenario *sc = c->sc;
    const char *path = c->o->data_path;
    sw_kerror ke;
    if (mc->vocab_size < 256)
        return sw_errorf(err, SW_EINPUT,
                         "%s: exec.vocab: %d rows cannot hold the byte corpus's 256 tokens",
                         sc->name, mc->vocab_size);
    if (sw_text_load(path, &c->text, &ke) != SW_K_OK)
        return sw_errorf(err, SW_EINPUT, "%s", ke.msg);
    sw_split_train_val(c->text.n, &c->train, &c->val);
    size_t train_n = c->train.end - c->train.begin;
    if (train_n < c->bt + 1 || c->val.end - c->val.begin < c->bt + 1)
        return sw_errorf(err, SW_EINPUT, "%s: too short for batches of %d x %d", path,
                         sc->exec.batch, sc->exec.seq);
    /* The run's tokens: model.tokens, but no more than the training split holds. */
    uint64_t data = (uint64_t)((train_n - 1) / c->bt) * c->bt;
    uint64_t want = (uint64_t)fmin((double)data, sc->model.tokens);
    c->data_tokens = want / c->bt * c->bt;
    if (c->data_tokens == 0)
        c->data_tokens = c->bt;
    c->shard_tokens = 16 * (uint64_t)c->bt;
    return SW_OK;
}

static int setup_manifest(coord *c, const sw_model_config *mc, sw_error *err)
{
    const sw_scenario *sc = c->sc;
    const char *dir = sc->exec.data;
    sw_kerror ke;
    if (strlen(dir) >= SW_PROTO_TEXT_MAX) /* the WELCOME's data_path field */
        return sw_errorf(err, SW_EINPUT,
                         "%s: exec.data: '%.60s...' is %zu bytes, expected at most %d", sc->name,
                         dir, strlen(dir), SW_PROTO_TEXT_MAX - 1);
    if (sw_manifest_load(dir, &c->manifest, &ke) != SW_K_OK)
        return sw_errorf(err, SW_EINPUT, "%s: exec.data: %s", sc->name, ke.msg);
    c->have_manifest = true;
    const sw_manifest *m = &c->manifest;
    if ((uint64_t)mc->vocab_size < m->vocab_size)
        return sw_errorf(err, SW_EINPUT,
                         "%s: exec.vocab: the model has %d vocabulary rows (preset %s%s), the data "
                         "in %s has %u tokens; set exec.vocab: %u",
                         sc->name, mc->vocab_size, sc->exec.preset,
                         sc->exec.vocab ? ", exec.vocab" : "", dir, m->vocab_size, m->vocab_size);
    if (sc->exec.tokenizer) {
        sw_bpe *tok = NULL;
        if (sw_bpe_load(sc->exec.tokenizer, &tok, &ke) != SW_K_OK)
            return sw_errorf(err, SW_EINPUT, "%s: exec.tokenizer: %s", sc->name, ke.msg);
        uint32_t crc = sw_bpe_crc(tok), v = sw_bpe_vocab_size(tok);
        sw_bpe_destroy(tok);
        if (crc != m->tokenizer_crc || v != m->vocab_size)
            return sw_errorf(err, SW_EINPUT,
                             "%s: exec.tokenizer: %s (crc %08x, %u tokens) did not make %s (its "
                             "manifest says crc %08x, %u tokens)",
                             sc->name, sc->exec.tokenizer, crc, v, dir, m->tokenizer_crc,
                             m->vocab_size);
    }
    if (m->n_train == m->n)
        return sw_errorf(err, SW_EINPUT, "%s: exec.data: %s/%s names no validation shard", sc->name,
                         dir, SW_MANIFEST_NAME);
    if (m->train_tokens < c->bt + 1)
        return sw_errorf(err, SW_EINPUT,
                         "%s: exec.data: %llu training tokens, too few for "
                         "batches of %d x %d",
                         sc->name, (unsigned long long)m->train_tokens, sc->exec.batch,
                         sc->exec.seq);
    /* The run's tokens: the manifest's training stream (model.tokens may cap it). Shards of
     * the manager are the manifest's, so every lease lies inside one file. */
    c->data_tokens = sw_run_dataset_tokens(sc, m->train_tokens, c->bt);
    c->shard_tokens = m->shard_tokens;
    return SW_OK;
}

int coord_data_setup(coord *c, const sw_model_config *mc, sw_error *err)
{
    c->bt = (size_t)c->sc->exec.batch * c->sc->exec.seq;
    return c->sc->exec.data ? setup_manifest(c, mc, err) : setup_bytes(c, mc, err);
}

void coord_data_welcome(const coord *c, sw_msg_welcome *w)
{
    w->data_kind = c->have_manifest ? 1 : 0;
    sw_pathf(w->data_path, sizeof w->data_path, "%s",
             c->have_manifest ? c->sc->exec.data : c->o->data_path);
    if (c->have_manifest) {
        w->tokenizer_crc = c->manifest.tokenizer_crc;
        w->train_tokens = c->manifest.train_tokens;
    }
}

/* Mean loss per token over up to `batches` batches of the validation shards, front to back
 * (a short last batch of a shard weighs by its rows). */
static int evaluate_manifest(coord *c, sw_model *model, int batches, float *loss, sw_kerror *ke)
{
    const sw_manifest *m = &c->manifest;
    int B = c->sc->exec.batch, T = c->sc->exec.seq;
    int32_t *in = malloc(c->bt * sizeof *in), *tg = malloc(c->bt * sizeof *tg);
    if (!in || !tg) {
        free(in);
        free(tg);
        return sw_kerrorf(ke, SW_K_ERUNTIME, "validation: out of memory");
    }
    double sum = 0, rows_total = 0;
    int done = 0, rc = SW_K_OK;
    for (size_t i = m->n_train; i < m->n && done < batches && rc == SW_K_OK; i++) {
        sw_lease_stream *st = NULL;
        rc = sw_lease_stream_open(m, i, 0, m->shards[i].tokens, B, T, false, &st, ke);
        while (rc == SW_K_OK && done < batches) {
            int rows = 0;
            float l = NAN;
            if ((rc = sw_lease_stream_next(st, in, tg, &rows, ke)) != SW_K_OK || !rows)
                break;
            if ((rc = sw_model_forward(model, in, tg, rows, T, &l, ke)) != SW_K_OK)
                break;
            sum += (double)l * rows;
            rows_total += rows;
            done++;
        }
        sw_lease_stream_close(st);
    }
    free(in);
    free(tg);
    if (rc == SW_K_OK && rows_total == 0)
        rc =
            sw_kerrorf(ke, SW_K_EINPUT, "validation: the validation shards hold no batch of %d", T);
    if (rc == SW_K_OK)
        *loss = (float)(sum / rows_total);
    return rc;
}

int coord_data_evaluate(coord *c, sw_model *model, float *loss, sw_kerror *ke)
{
    if (c->have_manifest)
        return evaluate_manifest(c, model, c->o->eval_batches, loss, ke);
    return sw_evaluate(model, c->text.bytes, c->val, c->sc->exec.batch, c->sc->exec.seq,
                       c->o->eval_batches, loss, ke);
}

double coord_data_bits_per_byte(const coord *c, double loss_nats)
{
    double bytes_per_token = c->have_manifest && c->manifest.val_tokens
                                 ? (double)c->manifest.val_bytes / (double)c->manifest.val_tokens
                                 : 1.0;
    return loss_nats / log(2.0) / bytes_per_token;
}

void coord_data_free(coord *c)
{
    sw_text_free(&c->text);
    if (c->have_manifest)
        sw_manifest_free(&c->manifest);
    c->have_manifest = false;
}
