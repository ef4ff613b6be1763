/* test_optim.c - AdamW against hand-computed values, gradient clipping, and the nanochat
 * learning-rate schedule. */
#include <criterion/criterion.h>
#include <math.h>

#include "kernels/optim.h"

Test(optim, adamw_first_two_steps_by_hand)
{
    sw_adamw_config cfg = {0.1f, 0.9f, 0.99f, 1e-8f, 0.5f};
    sw_adamw opt;
    sw_kerror err;
    cr_assert_eq(sw_adamw_init(&opt, 2, &cfg, NULL, &err), SW_K_OK);
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, 0.0f};
    sw_adamw_step(&opt, p, g, 0.1f);
    /* Step 1: m_hat = g, v_hat = g^2, so the update is sign(g); decay uses the old p. */
    cr_assert_float_eq(p[0], 1.0f - 0.1f * (1.0f + 0.5f * 1.0f), 1e-6);
    cr_assert_float_eq(p[1], -2.0f - 0.1f * (0.0f + 0.5f * -2.0f), 1e-6);
    float p0 = p[0];
    g[0] = -1.0f;
    sw_adamw_step(&opt, p, g, 0.05f);
    double m = 0.9 * 0.05 + 0.1 * -1.0, v = 0.99 * 0.0025 + 0.01 * 1.0;
    double mh = m / (1 - 0.81), vh = v / (1 - 0.9801);
    double expect = p0 - 0.05 * (mh / (sqrt(vh) + 1e-8) + 0.5 * p0);
    cr_assert_float_eq(p[0], expect, 1e-6);
    cr_assert_eq(opt.t, 2);
    sw_adamw_free(&opt);
}

Test(optim, clipping_scales_to_the_max_norm)
{
    float g[4] = {3.0f, 4.0f, 0.0f, 0.0f};
    cr_assert_float_eq(sw_clip_grad_norm(NULL, g, 4, 1.0f), 5.0f, 1e-6);
    cr_assert_float_eq(g[0], 0.6f, 1e-6);
    cr_assert_float_eq(g[1], 0.8f, 1e-6);
    float h[2] = {0.3f, 0.4f};
    cr_assert_float_eq(sw_clip_grad_norm(NULL, h, 2, 1.0f), 0.5f, 1e-6);
    cr_assert_float_eq(h[0], 0.3f, 1e-7); /* under the limit: untouched */
    cr_assert_float_eq(sw_clip_grad_norm(NULL, g, 4, 0.0f), 1.0f, 1e-6); /* 0: no clipping */
}

Test(optim, schedule_warmup_constant_warmdown)
{
    sw_lr_schedule s = {100, 10, 0.4f, 0.0f};
    cr_assert_float_eq(sw_lr_multiplier(&s, 0), 0.1f, 1e-6);
    cr_assert_float_eq(sw_lr_multiplier(&s, 9), 1.0f, 1e-6);
    cr_assert_float_eq(sw_lr_multiplier(&s, 10), 1.0f, 1e-6);
    cr_assert_float_eq(sw_lr_multiplier(&s, 60), 1.0f, 1e-6); /* last step before decay */
    cr_assert_float_eq(sw_lr_multiplier(&s, 61), 39.0f / 40.0f, 1e-6);
    cr_assert_float_eq(sw_lr_multiplier(&s, 80), 0.5f, 1e-6);
    cr_assert_float_eq(sw_lr_multiplier(&s, 99), 1.0f / 40.0f, 1e-6);
    cr_assert_float_eq(sw_lr_multiplier(&s, 100), 0.0f, 1e-6);
    sw_lr_schedule f = {100, 0, 0.5f, 0.1f}; /* decays to 10 % of the peak */
    cr_assert_float_eq(sw_lr_multiplier(&f, 0), 1.0f, 1e-6);
    cr_assert_float_eq(sw_lr_multiplier(&f, 75), 0.55f, 1e-6);
    cr_assert_float_eq(sw_lr_multiplier(&f, 100), 0.1f, 1e-6);
    sw_lr_schedule flat = {100, 0, 0.0f, 0.0f};
    cr_assert_float_eq(sw_lr_multiplier(&flat, 99), 1.0f, 1e-6);
}
