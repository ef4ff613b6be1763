/* optim.c - AdamW, gradient clipping and the LR schedule (see optim.h). */
#include "kernels/optim.h"

#include <math.h>

int sw_adamw_init(sw_adamw *opt, size_t n, const sw_adamw_config *cfg, const sw_backend *be,
                  sw_kerror *err)
{
    if (!be)
        be = sw_backend_cpu();
    opt->cfg = *cfg;
    opt->be = be;
    opt->n = n;
    opt->t = 0;
    opt->muon = 0;
    opt->m = be->alloc(n * sizeof(float));
    opt->v = be->alloc(n * sizeof(float));
    if (!opt->m || !opt->v) {
        sw_adamw_free(opt);
        return sw_kerrorf(err, SW_K_ERUNTIME, "adamw: out of memory for %zu parameters", n);
    }
    return SW_K_OK;
}

void sw_adamw_free(sw_adamw *opt)
{
    if (opt->be) {
        opt->be->free(opt->m);
        opt->be->free(opt->v);
    }
    opt->m = opt->v = NULL;
}

void sw_adamw_step(sw_adamw *opt, float *params, const float *grads, float lr)
{
    opt->t++;
    float bc1 = 1.0f - powf(opt->cfg.beta1, (float)opt->t);
    float bc2 = 1.0f - powf(opt->cfg.beta2, (float)opt->t);
    opt->be->adamw_update(params, grads, opt->m, opt->v, opt->n, lr, opt->cfg.beta1, opt->cfg.beta2,
                          opt->cfg.eps, opt->cfg.weight_decay, bc1, bc2);
}

float sw_clip_grad_norm(const sw_backend *be, float *grads, size_t n, float max_norm)
{
    if (!be)
        be = sw_backend_cpu();
    double norm = sqrt(be->sum_squares(grads, n));
    if (max_norm > 0.0f && norm > max_norm)
        be->scale(grads, n, (float)(max_norm / norm));
    return (float)norm;
}

float sw_lr_multiplier(const sw_lr_schedule *s, int64_t step)
{
    int64_t warmdown = (int64_t)llround((double)s->warmdown_frac * (double)s->total_steps);
    if (step < s->warmup_steps)
        return (float)(step + 1) / (float)s->warmup_steps;
    if (step <= s->total_steps - warmdown)
        return 1.0f;
    double progress = (double)(s->total_steps - step) / (double)warmdown;
    return (float)(progress + (1.0 - progress) * s->final_frac);
}
