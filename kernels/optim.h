/* optim.h - AdamW with decoupled weight decay, global-norm gradient clipping, and the
 * learning-rate schedule of the reference nanochat (warm-up, constant, linear warm-down).
 * All act on the model's single parameter/gradient buffers. */
#ifndef SW_OPTIM_H
#define SW_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/kerror.h"

typedef struct sw_adamw_config {
    float lr;           /* peak learning rate (the schedule multiplies it) */
    float beta1, beta2; /* moment decay rates, e.g. 0.9 and 0.95 */
    float eps;          /* added to sqrt(v_hat), e.g. 1e-8 */
    float weight_decay; /* decoupled: p -= lr * wd * p each step; 0 disables */
} sw_adamw_config;

/* Optimizer state: first and second moments, one float each per parameter. */
typedef struct sw_adamw {
    sw_adamw_config cfg;
    const sw_backend *be;
    size_t n;  /* number of parameters */
    float *m;  /* [n] first moment */
    float *v;  /* [n] second moment */
    int64_t t; /* steps taken (bias correction uses t after increment) */
    int muon;  /* 0: AdamW moments everywhere; 1: Muon's state for the block matrices
                  (kernels/muon.h; checkpoints record it) */
} sw_adamw;

/* Allocates zeroed moments for n parameters on backend be (NULL: CPU). SW_K_ERUNTIME when
 * out of memory. Free with sw_adamw_free. */
int sw_adamw_init(sw_adamw *opt, size_t n, const sw_adamw_config *cfg, const sw_backend *be,
                  sw_kerror *err);

/* Frees the moments (opt itself is the caller's). */
void sw_adamw_free(sw_adamw *opt);

/* One step at learning rate lr (the schedule's value, not the peak): t += 1, then
 * p -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * p) elementwise. */
void sw_adamw_step(sw_adamw *opt, float *params, const float *grads, float lr);

/* Global L2 norm of grads[n]; when it exceeds max_norm (> 0) the gradients are scaled by
 * max_norm / norm. Returns the norm before clipping. */
float sw_clip_grad_norm(const sw_backend *be, float *grads, size_t n, float max_norm);

/* Learning-rate schedule as a multiplier of the peak rate, as in nanochat's base_train:
 * linear warm-up over warmup_steps ((step+1)/warmup), then 1, then over the last
 * round(warmdown_frac * total_steps) steps a linear decay to final_frac at step total_steps.
 * step counts from 0. */
typedef struct sw_lr_schedule {
    int64_t total_steps;
    int64_t warmup_steps;
    float warmdown_frac; /* fraction of total_steps spent decaying, in [0, 1] */
    float final_frac;    /* multiplier reached at the end, usually 0 */
} sw_lr_schedule;

float sw_lr_multiplier(const sw_lr_schedule *s, int64_t step);

#endif
