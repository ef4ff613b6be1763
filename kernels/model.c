/* model.c - the transformer's shapes, parameter layout and the order of its operations
 * (forward and backward); the arithmetic itself is the backend's (backend.h). See model.h for
 * the architecture and docs/kernels.md for the layout table and the FLOP formula.
 */
#include "kernels/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/rng.h"

/* ---- presets, layout, size and cost ---------------------------------------------------- */

static const sw_model_config presets[] = {
    /* name            L   C     H   V      T     tied softcap rope */
    {"tiny", 2, 32, 4, 256, 32, 0, 15.0f, 10000.0f},
    {"small", 4, 256, 4, 256, 256, 0, 15.0f, 10000.0f},
    {"gpt2-124m", 12, 768, 12, 50257, 1024, 1, 15.0f, 10000.0f},
    {"nanochat-d20", 20, 1280, 10, 65536, 2048, 0, 15.0f, 10000.0f},
};
enum { N_PRESETS = sizeof presets / sizeof presets[0] };

int sw_model_preset(const char *name, sw_model_config *cfg)
{
    for (int i = 0; name && i < N_PRESETS; i++)
        if (!strcmp(name, presets[i].name)) {
            *cfg = presets[i];
            return SW_K_OK;
        }
    return SW_K_EINPUT;
}

const char *const *sw_model_preset_names(void)
{
    static const char *const names[] = {"tiny", "small", "gpt2-124m", "nanochat-d20", NULL};
    return names;
}

int sw_model_config_check(const sw_model_config *cfg, sw_kerror *err)
{
    if (cfg->n_layer < 1)
        return sw_kerrorf(err, SW_K_EINPUT, "model: n_layer must be >= 1, got %d", cfg->n_layer);
    if (cfg->n_head < 1)
        return sw_kerrorf(err, SW_K_EINPUT, "model: n_head must be >= 1, got %d", cfg->n_head);
    if (cfg->n_embd < 2 || cfg->n_embd % cfg->n_head != 0 || (cfg->n_embd / cfg->n_head) % 2)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "model: n_embd (%d) must be a multiple of n_head (%d) with an even "
                          "head size",
                          cfg->n_embd, cfg->n_head);
    if (cfg->vocab_size < 2)
        return sw_kerrorf(err, SW_K_EINPUT, "model: vocab_size must be >= 2, got %d",
                          cfg->vocab_size);
    if (cfg->max_seq_len < 1)
        return sw_kerrorf(err, SW_K_EINPUT, "model: max_seq_len must be >= 1, got %d",
                          cfg->max_seq_len);
    if (!(cfg->softcap >= 0.0f) || !(cfg->rope_base > 1.0f))
        return sw_kerrorf(err, SW_K_EINPUT,
                          "model: softcap must be >= 0 and rope_base > 1 (got %g, %g)",
                          (double)cfg->softcap, (double)cfg->rope_base);
    return SW_K_OK;
}

static size_t layer_param_count(const sw_model_config *cfg)
{
    size_t C = (size_t)cfg->n_embd;
    return 3 * C * C + C * C + 4 * C * C + 4 * C * C;
}

size_t sw_model_param_count(const sw_model_config *cfg)
{
    size_t VC = (size_t)cfg->vocab_size * (size_t)cfg->n_embd;
    return VC + (size_t)cfg->n_layer * layer_param_count(cfg) + (cfg->tie_embeddings ? 0 : VC);
}

double sw_model_flops_per_token_at(const sw_model_config *cfg, int seq_len)
{
    double n = (double)sw_model_param_count(cfg);
    if (!cfg->tie_embeddings) /* the untied embedding is a gather, not a product */
        n -= (double)cfg->vocab_size * cfg->n_embd;
    return 6.0 * n + 12.0 * cfg->n_layer * (double)cfg->n_embd * seq_len;
}

double sw_model_flops_per_token(const sw_model_config *cfg)
{
    return sw_model_flops_per_token_at(cfg, cfg->max_seq_len);
}

size_t sw_model_tensor_count(const sw_model_config *cfg)
{
    return 1 + 4 * (size_t)cfg->n_layer + (cfg->tie_embeddings ? 0 : 1);
}

int sw_model_tensor(const sw_model_config *cfg, size_t i, sw_tensor_info *out)
{
    size_t C = (size_t)cfg->n_embd, V = (size_t)cfg->vocab_size, L = (size_t)cfg->n_layer;
    if (i >= sw_model_tensor_count(cfg))
        return SW_K_EINPUT;
    if (i == 0) {
        *out = (sw_tensor_info){"wte", 0, V, C};
        return SW_K_OK;
    }
    if (i == 1 + 4 * L) {
        *out = (sw_tensor_info){"lm_head", V * C + L * layer_param_count(cfg), V, C};
        return SW_K_OK;
    }
    size_t l = (i - 1) / 4, k = (i - 1) % 4;
    static const char *const names[4] = {"attn.wqkv", "attn.wo", "mlp.wfc", "mlp.wproj"};
    const size_t rows[4] = {3 * C, C, 4 * C, C}, cols[4] = {C, C, C, 4 * C};
    size_t off = V * C + l * layer_param_count(cfg);
    for (size_t j = 0; j < k; j++)
        off += rows[j] * cols[j];
    snprintf(out->name, sizeof out->name, "h.%zu.%s", l, names[k]);
    out->offset = off;
    out->rows = rows[k];
    out->cols = cols[k];
    return SW_K_OK;
}

/* ---- the model object ------------------------------------------------------------------ */

/* Activations of one layer for the current (B, T); shapes with N = B*T. */
typedef struct layer_acts {
    float *res;         /* [N,C] input of the layer (residual stream) */
    float *ln1, *rstd1; /* [N,C], [N] */
    float *qkv;         /* [N,3C] */
    float *qn, *kn;     /* [N,C] rotated, normalised queries and keys */
    float *rq, *rk;     /* [N*H] their reciprocal RMS */
    float *att;         /* [B,H,T,T] attention probabilities */
    float *atty;        /* [N,C] attention output before the projection */
    float *resmid;      /* [N,C] residual after attention */
    float *ln2, *rstd2; /* [N,C], [N] */
    float *fch, *fca;   /* [N,4C] MLP pre- and post-activation */
} layer_acts;

struct sw_model {
    sw_model_config cfg;
    const sw_backend *be;
    size_t n_params;
    float *params, *grads;
    float *rope_cos, *rope_sin; /* [max_seq_len, hd/2] */

    int B, T;                         /* shape the activations are sized for (0: none yet) */
    float *act_mem;                   /* one allocation holding everything below */
    layer_acts *layers;               /* [L] */
    float *rstd0;                     /* [N] reciprocal RMS of the embedding norm */
    float *res_final;                 /* [N,C] output of the last layer */
    float *lnf, *rstdf;               /* [N,C], [N] */
    float *logits, *lse;              /* [N,V], [N] */
    float *d_wide;                    /* [N,4C] backward scratch (also dqkv [N,3C]) */
    float *d_c1, *d_c2, *d_c3, *dres; /* [N,C] backward scratch */
    int32_t *tokens, *targets;        /* [N] copies kept for backward */
    int have_targets;                 /* forward with targets done, backward allowed */
};

sw_model *sw_model_create(const sw_model_config *cfg, const sw_backend *be, sw_kerror *err)
{
    if (sw_model_config_check(cfg, err) != SW_K_OK)
        return NULL;
    if (!be)
        be = sw_backend_cpu();
    sw_model *m = calloc(1, sizeof *m);
    if (!m) {
        sw_kerrorf(err, SW_K_ERUNTIME, "model: out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->be = be;
    m->n_params = sw_model_param_count(cfg);
    int half = cfg->n_embd / cfg->n_head / 2;
    m->params = be->alloc(m->n_params * sizeof(float));
    m->grads = be->alloc(m->n_params * sizeof(float));
    m->rope_cos = be->alloc((size_t)cfg->max_seq_len * half * sizeof(float));
    m->rope_sin = be->alloc((size_t)cfg->max_seq_len * half * sizeof(float));
    if (!m->params || !m->grads || !m->rope_cos || !m->rope_sin) {
        sw_kerrorf(err, SW_K_ERUNTIME, "model: out of memory for %zu parameters", m->n_params);
        sw_model_destroy(m);
        return NULL;
    }
    /* The rotary tables are computed on the host and copied to the backend's memory. */
    size_t nrope = (size_t)cfg->max_seq_len * half;
    float *host_cos = malloc(nrope * sizeof(float)), *host_sin = malloc(nrope * sizeof(float));
    if (!host_cos || !host_sin) {
        free(host_cos);
        free(host_sin);
        sw_kerrorf(err, SW_K_ERUNTIME, "model: out of memory for the rotary tables");
        sw_model_destroy(m);
        return NULL;
    }
    int hd = cfg->n_embd / cfg->n_head;
    for (int t = 0; t < cfg->max_seq_len; t++)
        for (int i = 0; i < half; i++) {
            /* In double, then rounded once: the angle reaches T_max radians. */
            double freq = pow((double)cfg->rope_base, -2.0 * i / hd);
            host_cos[(size_t)t * half + i] = (float)cos(t * freq);
            host_sin[(size_t)t * half + i] = (float)sin(t * freq);
        }
    be->copy_to_device(m->rope_cos, host_cos, nrope * sizeof(float));
    be->copy_to_device(m->rope_sin, host_sin, nrope * sizeof(float));
    free(host_cos);
    free(host_sin);
    return m;
}

static void free_acts(sw_model *m)
{
    m->be->free(m->act_mem);
    free(m->layers);
    m->be->free(m->tokens);
    m->be->free(m->targets);
    m->act_mem = NULL;
    m->layers = NULL;
    m->tokens = m->targets = NULL;
    m->B = m->T = 0;
    m->have_targets = 0;
}

void sw_model_destroy(sw_model *m)
{
    if (!m)
        return;
    free_acts(m);
    m->be->free(m->params);
    m->be->free(m->grads);
    m->be->free(m->rope_cos);
    m->be->free(m->rope_sin);
    free(m);
}

const sw_model_config *sw_model_config_of(const sw_model *m)
{
    return &m->cfg;
}

const sw_backend *sw_model_backend(const sw_model *m)
{
    return m->be;
}

float *sw_model_params(sw_model *m)
{
    return m->params;
}

float *sw_model_grads(sw_model *m)
{
    return m->grads;
}

size_t sw_model_num_params(const sw_model *m)
{
    return m->n_params;
}

void sw_model_init_params(sw_model *m, uint64_t seed)
{
    /* Drawn on the host in order, a block at a time, and copied to the backend's memory. */
    enum { BLOCK = 4096 };
    float host[BLOCK];
    sw_rng rng;
    sw_rng_seed(&rng, seed);
    const sw_model_config *cfg = &m->cfg;
    size_t nt = sw_model_tensor_count(cfg);
    double C = cfg->n_embd;
    for (size_t i = 0; i < nt; i++) {
        sw_tensor_info ti;
        sw_model_tensor(cfg, i, &ti);
        float *p = m->params + ti.offset;
        size_t n = ti.rows * ti.cols;
        const char *kind = strrchr(ti.name, '.');
        kind = kind ? kind + 1 : ti.name;
        int normal = !strcmp(kind, "wte");
        if (!normal && strcmp(kind, "wqkv") && strcmp(kind, "wfc")) {
            /* wo, wproj, lm_head start at zero: every block begins as the identity and the
             * first logits are uniform (loss ln V), as in nanochat. */
            m->be->fill(p, n, 0.0f);
            continue;
        }
        /* wte ~ N(0, sd^2); wqkv, wfc uniform with standard deviation 1/sqrt(fan_in). */
        double sd = cfg->tie_embeddings ? 1.0 / sqrt(C) : 1.0, a = sqrt(3.0 / (double)ti.cols);
        for (size_t j0 = 0; j0 < n; j0 += BLOCK) {
            size_t len = n - j0 < BLOCK ? n - j0 : BLOCK;
            for (size_t j = 0; j < len; j++)
                host[j] = normal ? (float)(sd * sw_rng_normal(&rng))
                                 : (float)(a * (2.0 * sw_rng_uniform(&rng) - 1.0));
            m->be->copy_to_device(p + j0, host, len * sizeof(float));
        }
    }
}

/* Lays the activation arrays for (B, T) out from base (each rounded up to 16 floats so it
 * starts 64-byte aligned) and returns the floats used; with base NULL it only counts. */
static size_t layout_acts(sw_model *m, float *base, int B, int T)
{
    size_t N = (size_t)B * T, C = (size_t)m->cfg.n_embd, H = (size_t)m->cfg.n_head;
    size_t V = (size_t)m->cfg.vocab_size, L = (size_t)m->cfg.n_layer, used = 0;
#define TAKE(ptr, count)                                                                           \
    do {                                                                                           \
        if (base)                                                                                  \
            (ptr) = base + used;                                                                   \
        used += ((count) + 15) / 16 * 16;                                                          \
    } while (0)
    layer_acts dummy;
    for (size_t l = 0; l < L; l++) {
        layer_acts *a = base ? &m->layers[l] : &dummy;
        TAKE(a->res, N * C);
        TAKE(a->ln1, N * C);
        TAKE(a->rstd1, N);
        TAKE(a->qkv, N * 3 * C);
        TAKE(a->qn, N * C);
        TAKE(a->kn, N * C);
        TAKE(a->rq, N * H);
        TAKE(a->rk, N * H);
        TAKE(a->att, (size_t)B * H * T * T);
        TAKE(a->atty, N * C);
        TAKE(a->resmid, N * C);
        TAKE(a->ln2, N * C);
        TAKE(a->rstd2, N);
        TAKE(a->fch, N * 4 * C);
        TAKE(a->fca, N * 4 * C);
    }
    TAKE(m->rstd0, N);
    TAKE(m->res_final, N * C);
    TAKE(m->lnf, N * C);
    TAKE(m->rstdf, N);
    TAKE(m->logits, N * V);
    TAKE(m->lse, N);
    TAKE(m->d_wide, N * 4 * C);
    TAKE(m->d_c1, N * C);
    TAKE(m->d_c2, N * C);
    TAKE(m->d_c3, N * C);
    TAKE(m->dres, N * C);
#undef TAKE
    return used;
}

/* Sizes the activations for (B, T); keeps them when the shape is unchanged. */
static int ensure_acts(sw_model *m, int B, int T, sw_kerror *err)
{
    if (m->act_mem && m->B == B && m->T == T)
        return SW_K_OK;
    free_acts(m);
    size_t N = (size_t)B * T, total = layout_acts(m, NULL, B, T);
    m->act_mem = m->be->alloc(total * sizeof(float));
    m->layers = calloc((size_t)m->cfg.n_layer, sizeof *m->layers);
    m->tokens = m->be->alloc(N * sizeof(int32_t));
    m->targets = m->be->alloc(N * sizeof(int32_t));
    if (!m->act_mem || !m->layers || !m->tokens || !m->targets) {
        free_acts(m);
        return sw_kerrorf(err, SW_K_ERUNTIME,
                          "model: out of memory for activations (B=%d, T=%d, %.1f MB)", B, T,
                          (double)total * 4.0 / 1e6);
    }
    layout_acts(m, m->act_mem, B, T);
    m->B = B;
    m->T = T;
    return SW_K_OK;
}

/* Offsets of layer l's four matrices in a parameter-layout buffer. */
static void layer_weights(const sw_model *m, float *base, int l, float **wqkv, float **wo,
                          float **wfc, float **wproj)
{
    size_t C = (size_t)m->cfg.n_embd;
    float *w = base + (size_t)m->cfg.vocab_size * C + (size_t)l * layer_param_count(&m->cfg);
    *wqkv = w;
    *wo = *wqkv + 3 * C * C;
    *wfc = *wo + C * C;
    *wproj = *wfc + 4 * C * C;
}

static float *lm_head(const sw_model *m, float *base)
{
    if (m->cfg.tie_embeddings)
        return base;
    return base + (size_t)m->cfg.vocab_size * m->cfg.n_embd +
           (size_t)m->cfg.n_layer * layer_param_count(&m->cfg);
}

int sw_model_forward(sw_model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                     float *loss, sw_kerror *err)
{
    const sw_model_config *cfg = &m->cfg;
    if (B < 1 || T < 1 || T > cfg->max_seq_len)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "model: batch %d x sequence %d invalid (need B >= 1, 1 <= T <= %d)", B, T,
                          cfg->max_seq_len);
    size_t N = (size_t)B * T;
    for (size_t i = 0; i < N; i++) {
        if (inputs[i] < 0 || inputs[i] >= cfg->vocab_size)
            return sw_kerrorf(err, SW_K_EINPUT, "model: input token %zu is %d, outside [0, %d)", i,
                              inputs[i], cfg->vocab_size);
        if (targets && (targets[i] < 0 || targets[i] >= cfg->vocab_size))
            return sw_kerrorf(err, SW_K_EINPUT, "model: target token %zu is %d, outside [0, %d)", i,
                              targets[i], cfg->vocab_size);
    }
    int rc = ensure_acts(m, B, T, err);
    if (rc != SW_K_OK)
        return rc;
    const sw_backend *be = m->be;
    int C = cfg->n_embd, H = cfg->n_head, V = cfg->vocab_size, L = cfg->n_layer;
    be->copy_to_device(m->tokens, inputs, N * sizeof(int32_t));

    /* The raw embedding is only needed to normalise it: borrow lnf as scratch. */
    be->embed_forward(m->lnf, m->tokens, m->params, (int)N, C);
    be->rmsnorm_forward(m->layers[0].res, m->rstd0, m->lnf, (int)N, C);

    for (int l = 0; l < L; l++) {
        layer_acts *a = &m->layers[l];
        float *wqkv, *wo, *wfc, *wproj;
        layer_weights(m, m->params, l, &wqkv, &wo, &wfc, &wproj);
        float *out = l + 1 < L ? m->layers[l + 1].res : m->res_final;

        be->rmsnorm_forward(a->ln1, a->rstd1, a->res, (int)N, C);
        be->matmul_forward(a->qkv, a->ln1, wqkv, (int)N, C, 3 * C, 0);
        be->rope_qknorm_forward(a->qn, a->kn, a->rq, a->rk, a->qkv, m->rope_cos, m->rope_sin, B, T,
                                C, H);
        be->attention_forward(a->atty, a->att, a->qn, a->kn, a->qkv + 2 * C, 3 * C, B, T, C, H);
        be->copy(a->resmid, a->res, N * C * sizeof(float));
        be->matmul_forward(a->resmid, a->atty, wo, (int)N, C, C, 1);

        be->rmsnorm_forward(a->ln2, a->rstd2, a->resmid, (int)N, C);
        be->matmul_forward(a->fch, a->ln2, wfc, (int)N, C, 4 * C, 0);
        be->relu2_forward(a->fca, a->fch, N * 4 * (size_t)C);
        be->copy(out, a->resmid, N * C * sizeof(float));
        be->matmul_forward(out, a->fca, wproj, (int)N, 4 * C, C, 1);
    }
    be->rmsnorm_forward(m->lnf, m->rstdf, m->res_final, (int)N, C);
    be->matmul_forward(m->logits, m->lnf, lm_head(m, m->params), (int)N, C, V, 0);
    m->have_targets = 0;
    if (!targets) {
        if (cfg->softcap > 0.0f) /* logits alone: apply the cap so callers see z */
            be->softcap(m->logits, N * (size_t)V, cfg->softcap);
        return SW_K_OK;
    }
    be->copy_to_device(m->targets, targets, N * sizeof(int32_t));
    double total = be->xent_forward(m->logits, m->lse, m->targets, (int)N, V, cfg->softcap);
    if (loss)
        *loss = (float)(total / (double)N);
    m->have_targets = 1;
    return SW_K_OK;
}

const float *sw_model_logits(const sw_model *m)
{
    return m->logits;
}

void sw_model_zero_grad(sw_model *m)
{
    m->be->fill(m->grads, m->n_params, 0.0f);
}

int sw_model_backward(sw_model *m, sw_kerror *err)
{
    if (!m->have_targets)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "model: backward needs a forward pass with targets first");
    const sw_model_config *cfg = &m->cfg;
    const sw_backend *be = m->be;
    int B = m->B, T = m->T, C = cfg->n_embd, H = cfg->n_head, V = cfg->vocab_size;
    int L = cfg->n_layer, N = B * T;
    size_t NC = (size_t)N * C;
    m->have_targets = 0; /* logits become gradients: a second backward would be wrong */

    be->xent_backward(m->logits, m->lse, m->targets, N, V, cfg->softcap, 1.0f / (float)N);
    be->matmul_backward(m->d_c1, lm_head(m, m->grads), m->logits, m->lnf, lm_head(m, m->params), N,
                        C, V);
    be->fill(m->dres, NC, 0.0f);
    be->rmsnorm_backward(m->dres, m->d_c1, m->lnf, m->rstdf, N, C);

    for (int l = L - 1; l >= 0; l--) {
        layer_acts *a = &m->layers[l];
        float *wqkv, *wo, *wfc, *wproj, *gqkv, *go, *gfc, *gproj;
        layer_weights(m, m->params, l, &wqkv, &wo, &wfc, &wproj);
        layer_weights(m, m->grads, l, &gqkv, &go, &gfc, &gproj);

        /* MLP: dres is d(out); the residual passes it through unchanged. */
        be->matmul_backward(m->d_wide, gproj, m->dres, a->fca, wproj, N, 4 * C, C);
        be->relu2_backward(m->d_wide, m->d_wide, a->fch, (size_t)N * 4 * C);
        be->matmul_backward(m->d_c1, gfc, m->d_wide, a->ln2, wfc, N, C, 4 * C);
        be->rmsnorm_backward(m->dres, m->d_c1, a->ln2, a->rstd2, N, C);

        /* Attention. */
        be->matmul_backward(m->d_c1, go, m->dres, a->atty, wo, N, C, C);
        be->attention_backward(m->d_c2, m->d_c3, m->d_wide + 2 * C, 3 * C, m->d_c1, a->att, a->qn,
                               a->kn, a->qkv + 2 * C, B, T, C, H);
        be->rope_qknorm_backward(m->d_wide, m->d_c2, m->d_c3, a->qn, a->kn, a->rq, a->rk,
                                 m->rope_cos, m->rope_sin, B, T, C, H);
        be->matmul_backward(m->d_c1, gqkv, m->d_wide, a->ln1, wqkv, N, C, 3 * C);
        be->rmsnorm_backward(m->dres, m->d_c1, a->ln1, a->rstd1, N, C);
    }
    /* Through the embedding norm into the (possibly tied) embedding table. */
    be->fill(m->d_c1, NC, 0.0f);
    be->rmsnorm_backward(m->d_c1, m->dres, m->layers[0].res, m->rstd0, N, C);
    be->embed_backward(m->grads, m->d_c1, m->tokens, N, C);
    return SW_K_OK;
}
