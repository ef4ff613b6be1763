/* muon.h - the reference study's optimizer (nanochat, January 2026): Muon for the transformer
 * blocks' matrices, AdamW for the embedding and the unembedding (lm_head), with nanochat's
 * learning rates, Muon momentum ramp and weight-decay schedule.
 *
 * Muon (MomentUm Orthogonalized by Newton-Schulz, Jordan et al. 2024) replaces each matrix's
 * Nesterov-momentum update by an approximately orthogonal matrix with the same singular
 * vectors (the Polar Express iteration, Amsel et al. 2025), rescales it per row or column by
 * a factored second-moment estimate (NorMuon), and decays weights only where the update and
 * the weight agree in sign ("cautious" decay). The CPU arithmetic is cpu_muon.c, reached
 * through the backend's muon_update, so a device backend can provide its own.
 *
 * Parameter groups (kernels/model.h layout):
 *   Muon:  every h.l.attn.wqkv as three [C, C] matrices (q, k, v rows, as nanochat's separate
 *          c_q, c_k, c_v), h.l.attn.wo [C, C], h.l.mlp.wfc [4C, C], h.l.mlp.wproj [C, 4C];
 *          rate matrix_lr · sqrt(max(1, rows/cols));
 *   AdamW: wte at embedding_lr, lm_head at unembedding_lr, both times (C/768)^-1/2; a tied
 *          wte (the GPT-2-shaped preset) is also the unembedding and gets unembedding_lr.
 * Every rate is multiplied by the run's schedule (sw_lr_multiplier).
 *
 * State lives in an sw_adamw (so checkpoints and the exec agents keep one layout): for AdamW
 * tensors m and v are the moments; for Muon matrices m holds the momentum buffer and v the
 * factored second moment in its first max(rows, cols) entries. sw_adamw.muon marks it.
 */
#ifndef SW_MUON_H
#define SW_MUON_H

#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/kerror.h"
#include "kernels/model.h"
#include "kernels/optim.h"

typedef struct sw_muon_config {
    float matrix_lr;             /* Muon peak rate (nanochat 0.02) */
    float embedding_lr;          /* AdamW peak rate of wte before the width factor (0.3) */
    float unembedding_lr;        /* AdamW peak rate of lm_head before the width factor (0.004) */
    float adam_beta1;            /* 0.8 */
    float adam_beta2;            /* 0.95 */
    float adam_eps;              /* 1e-10 */
    float weight_decay;          /* Muon's cautious decay at step 0, linear to 0 at the last step;
                                    nanochat: 0.2 · (12 / n_layer)^2 */
    float momentum_start;        /* Muon momentum at step 0 (0.85) ... */
    float momentum_end;          /* ... rising linearly to this (0.95) ... */
    int64_t momentum_ramp_steps; /* ... over this many steps (300), then constant */
    float beta2;                 /* decay of the factored second moment (0.95) */
    int ns_steps;                /* Polar Express iterations (5) */
} sw_muon_config;

/* nanochat's values for a model of shape m (weight decay scaled by its depth). */
void sw_muon_config_default(sw_muon_config *c, const sw_model_config *m);

/* Muon momentum at step (0-based): the linear ramp, then momentum_end. */
float sw_muon_momentum(const sw_muon_config *c, int64_t step);

/* Muon weight decay at step of a total_steps run: weight_decay · (1 - step / total_steps). */
float sw_muon_weight_decay(const sw_muon_config *c, int64_t step, int64_t total_steps);

/* The optimizer: configuration, the model's shape and the scratch memory of muon_update. */
typedef struct sw_muon {
    sw_muon_config cfg;
    sw_model_config model;
    const sw_backend *be;
    float *work; /* be->alloc'd, enough for the largest matrix */
} sw_muon;

/* Prepares mu for models of shape mc on backend be (NULL: CPU) and marks state (already
 * initialised by sw_adamw_init for sw_model_param_count(mc) parameters) as Muon's.
 * SW_K_EINPUT for a bad configuration (non-positive rates, betas outside [0, 1)), naming the
 * field; SW_K_ERUNTIME when out of memory. Free with sw_muon_free. */
int sw_muon_init(sw_muon *mu, const sw_model_config *mc, const sw_muon_config *cfg, sw_adamw *state,
                 const sw_backend *be, sw_kerror *err);

/* Frees the scratch memory (mu itself is the caller's). */
void sw_muon_free(sw_muon *mu);

/* One optimizer step at schedule multiplier lr_mult for step (0-based) of a total_steps
 * run: state->t += 1, then Muon on every block matrix and AdamW (bias-corrected with t) on
 * the embedding and unembedding. params and grads are the model's buffers. */
void sw_muon_step(sw_muon *mu, sw_adamw *state, float *params, const float *grads, float lr_mult,
                  int64_t step, int64_t total_steps);

#endif
