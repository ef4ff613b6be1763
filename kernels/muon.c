/* muon.c - Muon for the block matrices and AdamW for embedding and unembedding, with
 * nanochat's hyper-parameters and schedules (see muon.h). */
#include "kernels/muon.h"

#include <math.h>
#include <string.h>

void sw_muon_config_default(sw_muon_config *c, const sw_model_config *m)
{
    memset(c, 0, sizeof *c);
    c->matrix_lr = 0.02f;
    c->embedding_lr = 0.3f;
    c->unembedding_lr = 0.004f;
    c->adam_beta1 = 0.8f;
    c->adam_beta2 = 0.95f;
    c->adam_eps = 1e-10f;
    /* Tuned at depth 12 and scaled as 1/depth^2 (nanochat's finding for its depth-proportional
     * widths). */
    double depth = m && m->n_layer > 0 ? m->n_layer : 12;
    c->weight_decay = (float)(0.2 * (12.0 / depth) * (12.0 / depth));
    c->momentum_start = 0.85f;
    c->momentum_end = 0.95f;
    c->momentum_ramp_steps = 300;
    c->beta2 = 0.95f;
    c->ns_steps = 5;
}

float sw_muon_momentum(const sw_muon_config *c, int64_t step)
{
    if (c->momentum_ramp_steps <= 0 || step >= c->momentum_ramp_steps)
        return c->momentum_end;
    double frac = (double)step / (double)c->momentum_ramp_steps;
    return (float)((1.0 - frac) * c->momentum_start + frac * c->momentum_end);
}

float sw_muon_weight_decay(const sw_muon_config *c, int64_t step, int64_t total_steps)
{
    if (total_steps <= 0)
        return c->weight_decay;
    return (float)(c->weight_decay * (1.0 - (double)step / (double)total_steps));
}

/* The Muon matrices of layer l's parameter block (offset from the layer's start, rows, cols);
 * wqkv counts as its three [C, C] row blocks. */
enum { MATRICES_PER_LAYER = 6 };

static void layer_matrix(size_t C, int i, size_t *offset, int *rows, int *cols)
{
    static const int off_cc[MATRICES_PER_LAYER] = {0, 1, 2, 3, 4, 8}; /* in units of C² */
    static const int shape[MATRICES_PER_LAYER][2] = {{1, 1}, {1, 1}, {1, 1},
                                                     {1, 1}, {4, 1}, {1, 4}};
    *offset = (size_t)off_cc[i] * C * C;
    *rows = shape[i][0] * (int)C;
    *cols = shape[i][1] * (int)C;
}

int sw_muon_init(sw_muon *mu, const sw_model_config *mc, const sw_muon_config *cfg, sw_adamw *state,
                 const sw_backend *be, sw_kerror *err)
{
    memset(mu, 0, sizeof *mu);
    if (!be)
        be = sw_backend_cpu();
    if (!(cfg->matrix_lr > 0) || !(cfg->embedding_lr > 0) || !(cfg->unembedding_lr > 0))
        return sw_kerrorf(err, SW_K_EINPUT,
                          "muon: --matrix-lr, --embedding-lr and --unembedding-lr must be > 0 "
                          "(got %g, %g, %g)",
                          (double)cfg->matrix_lr, (double)cfg->embedding_lr,
                          (double)cfg->unembedding_lr);
    if (!(cfg->adam_beta1 >= 0 && cfg->adam_beta1 < 1) ||
        !(cfg->adam_beta2 >= 0 && cfg->adam_beta2 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1) ||
        !(cfg->momentum_start >= 0 && cfg->momentum_start < 1) ||
        !(cfg->momentum_end >= 0 && cfg->momentum_end < 1))
        return sw_kerrorf(err, SW_K_EINPUT, "muon: betas and momenta must be in [0, 1)");
    if (!(cfg->weight_decay >= 0) || cfg->ns_steps < 1 || cfg->momentum_ramp_steps < 0)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "muon: --weight-decay must be >= 0, ns_steps >= 1, ramp >= 0");
    if (state->n != sw_model_param_count(mc))
        return sw_kerrorf(err, SW_K_EINPUT, "muon: state holds %zu parameters, the model %zu",
                          state->n, sw_model_param_count(mc));
    mu->cfg = *cfg;
    mu->model = *mc;
    mu->be = be;
    size_t need = 0, C = (size_t)mc->n_embd;
    for (int i = 0; i < MATRICES_PER_LAYER; i++) {
        size_t off;
        int r, c;
        layer_matrix(C, i, &off, &r, &c);
        size_t w = be->muon_work_floats(r, c);
        need = w > need ? w : need;
    }
    mu->work = be->alloc(need * sizeof(float));
    if (!mu->work)
        return sw_kerrorf(err, SW_K_ERUNTIME, "muon: out of memory for %zu scratch floats", need);
    state->muon = 1;
    return SW_K_OK;
}

void sw_muon_free(sw_muon *mu)
{
    if (mu->be)
        mu->be->free(mu->work);
    mu->work = NULL;
}

void sw_muon_step(sw_muon *mu, sw_adamw *state, float *params, const float *grads, float lr_mult,
                  int64_t step, int64_t total_steps)
{
    const sw_muon_config *c = &mu->cfg;
    const sw_model_config *mc = &mu->model;
    const sw_backend *be = mu->be;
    size_t C = (size_t)mc->n_embd, V = (size_t)mc->vocab_size;
    size_t per_layer = 12 * C * C;
    state->t++;

    float momentum = sw_muon_momentum(c, step);
    float wd = sw_muon_weight_decay(c, step, total_steps);
    for (int l = 0; l < mc->n_layer; l++)
        for (int i = 0; i < MATRICES_PER_LAYER; i++) {
            size_t off;
            int r, cols;
            layer_matrix(C, i, &off, &r, &cols);
            off += V * C + (size_t)l * per_layer;
            float lr = c->matrix_lr * lr_mult * sqrtf(r > cols ? (float)r / (float)cols : 1.0f);
            be->muon_update(params + off, grads + off, state->m + off, state->v + off, mu->work, r,
                            cols, momentum, lr, wd, c->beta2, c->ns_steps);
        }

    /* AdamW on the embedding and the unembedding, at rates scaled by 1/sqrt(width/768). */
    float width = (float)(1.0 / sqrt((double)C / 768.0));
    float bc1 = 1.0f - powf(c->adam_beta1, (float)state->t);
    float bc2 = 1.0f - powf(c->adam_beta2, (float)state->t);
    float wte_lr = (mc->tie_embeddings ? c->unembedding_lr : c->embedding_lr) * width * lr_mult;
    be->adamw_update(params, grads, state->m, state->v, V * C, wte_lr, c->adam_beta1, c->adam_beta2,
                     c->adam_eps, 0.0f, bc1, bc2);
    if (!mc->tie_embeddings) {
        size_t off = V * C + (size_t)mc->n_layer * per_layer;
        be->adamw_update(params + off, grads + off, state->m + off, state->v + off, V * C,
                         c->unembedding_lr * width * lr_mult, c->adam_beta1, c->adam_beta2,
                         c->adam_eps, 0.0f, bc1, bc2);
    }
}
