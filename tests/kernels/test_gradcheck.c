/* test_gradcheck.c - the float model's loss and gradients against an independent
 * double-precision reference (ref_gpt.h) and its central finite differences.
 *
 * Why this tolerance: the reference is exact to ~1e-12 (double arithmetic, central
 * differences with h = 1e-5 have truncation error ~h^2 and rounding ~1e-16/h). What remains
 * is the float model's own rounding, ~1e-6 relative on a loss of order 1 and a few 1e-6
 * relative on gradients summed over B·T = 16 tokens. 1e-4 relative (plus 1e-6 absolute for
 * near-zero entries) is 10-100x that, yet a wrong sign, a missing factor or a dropped term
 * gives errors of order 1.
 *
 * Every tensor is checked twice: along a random direction over the whole tensor (so every
 * element contributes: g·u against (f(p+hu) - f(p-hu))/2h) and at individual elements,
 * including the largest gradient of the tensor.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/model.h"
#include "kernels/rng.h"
#include "ref_gpt.h"

enum { B = 2, T = 8 };

/* Random parameters everywhere (the nanochat init zeroes some matrices, which would hide
 * their gradients): entries ~ N(0, 1/fan_in), embeddings ~ N(0, 1). */
static void random_params(sw_model *m, uint64_t seed)
{
    const sw_model_config *cfg = sw_model_config_of(m);
    sw_rng r;
    sw_rng_seed(&r, seed);
    float *p = sw_model_params(m);
    for (size_t i = 0; i < sw_model_tensor_count(cfg); i++) {
        sw_tensor_info ti;
        sw_model_tensor(cfg, i, &ti);
        double sd = !strcmp(ti.name, "wte") && !cfg->tie_embeddings ? 1.0 : 1.0 / sqrt(ti.cols);
        if (!strcmp(ti.name, "lm_head") || (cfg->tie_embeddings && !strcmp(ti.name, "wte")))
            sd = 3.0 / sqrt(ti.cols); /* large enough logits for the soft cap to bend them */
        for (size_t j = 0; j < ti.rows * ti.cols; j++)
            p[ti.offset + j] = (float)(sd * sw_rng_normal(&r));
    }
}

static int close_enough(double got, double want, double rel, double abs_tol)
{
    return fabs(got - want) <= rel * (fabs(got) + fabs(want)) + abs_tol;
}

static void check_model(const sw_model_config *cfg)
{
    sw_kerror err;
    sw_model *m = sw_model_create(cfg, NULL, &err);
    cr_assert_not_null(m, "%s", err.msg);
    random_params(m, 7);
    size_t np = sw_model_num_params(m);
    int32_t in[B * T], tg[B * T];
    sw_rng r;
    sw_rng_seed(&r, 11);
    for (int i = 0; i < B * T; i++) {
        in[i] = (int32_t)(sw_rng_u64(&r) % (uint64_t)cfg->vocab_size);
        tg[i] = (int32_t)(sw_rng_u64(&r) % (uint64_t)cfg->vocab_size);
    }
    float loss;
    cr_assert_eq(sw_model_forward(m, in, tg, B, T, &loss, &err), SW_K_OK, "%s", err.msg);
    sw_model_zero_grad(m);
    cr_assert_eq(sw_model_backward(m, &err), SW_K_OK, "%s", err.msg);
    const float *g = sw_model_grads(m);

    double *pd = malloc(np * sizeof(double));
    const float *pf = sw_model_params(m);
    for (size_t i = 0; i < np; i++)
        pd[i] = pf[i];
    double ref = ref_loss(cfg, pd, in, tg, B, T);
    cr_assert(close_enough(loss, ref, 1e-5, 1e-6), "%s: loss %.9f, reference %.9f", cfg->name,
              (double)loss, ref);

    const double h = 1e-5;
    for (size_t ti_i = 0; ti_i < sw_model_tensor_count(cfg); ti_i++) {
        sw_tensor_info ti;
        sw_model_tensor(cfg, ti_i, &ti);
        size_t n = ti.rows * ti.cols;
        const float *gt = g + ti.offset;
        double *pt = pd + ti.offset;

        /* 1. A random unit direction over the whole tensor. */
        double *u = malloc(n * sizeof(double)), norm = 0, gu = 0;
        for (size_t j = 0; j < n; j++) {
            u[j] = sw_rng_normal(&r);
            norm += u[j] * u[j];
        }
        norm = sqrt(norm);
        for (size_t j = 0; j < n; j++) {
            u[j] /= norm;
            gu += (double)gt[j] * u[j];
        }
        for (size_t j = 0; j < n; j++)
            pt[j] += h * u[j];
        double fp = ref_loss(cfg, pd, in, tg, B, T);
        for (size_t j = 0; j < n; j++)
            pt[j] -= 2 * h * u[j];
        double fm = ref_loss(cfg, pd, in, tg, B, T);
        for (size_t j = 0; j < n; j++)
            pt[j] = pf[ti.offset + j];
        double fd = (fp - fm) / (2 * h);
        cr_assert(close_enough(gu, fd, 1e-4, 1e-6),
                  "%s %s: directional derivative %.9g, finite difference %.9g", cfg->name, ti.name,
                  gu, fd);
        cr_assert(fabs(fd) > 1e-5, "%s %s: gradient vanishes (%.3g), check is vacuous", cfg->name,
                  ti.name, fd);
        free(u);

        /* 2. Single elements: the largest gradient and three random ones. */
        size_t idx[4] = {0};
        for (size_t j = 1; j < n; j++)
            if (fabsf(gt[j]) > fabsf(gt[idx[0]]))
                idx[0] = j;
        for (int e = 1; e < 4; e++)
            idx[e] = (size_t)(sw_rng_u64(&r) % n);
        for (int e = 0; e < 4; e++) {
            size_t j = idx[e];
            pt[j] = pf[ti.offset + j] + h;
            double f1 = ref_loss(cfg, pd, in, tg, B, T);
            pt[j] = pf[ti.offset + j] - h;
            double f2 = ref_loss(cfg, pd, in, tg, B, T);
            pt[j] = pf[ti.offset + j];
            double fde = (f1 - f2) / (2 * h);
            cr_assert(close_enough(gt[j], fde, 1e-3, 2e-6),
                      "%s %s[%zu]: gradient %.9g, finite difference %.9g", cfg->name, ti.name, j,
                      (double)gt[j], fde);
        }
    }
    free(pd);
    sw_model_destroy(m);
}

Test(gradcheck, tiny_preset_every_tensor)
{
    sw_model_config cfg;
    cr_assert_eq(sw_model_preset("tiny", &cfg), SW_K_OK);
    check_model(&cfg);
}

Test(gradcheck, tied_embeddings_and_strong_softcap)
{
    /* GPT-2's tied head, and a soft cap low enough that tanh is far from linear. */
    sw_model_config cfg;
    sw_model_preset("tiny", &cfg);
    cfg.tie_embeddings = 1;
    cfg.softcap = 2.0f;
    cfg.n_layer = 1;
    check_model(&cfg);
}

Test(gradcheck, no_softcap_single_head)
{
    sw_model_config cfg;
    sw_model_preset("tiny", &cfg);
    cfg.softcap = 0.0f;
    cfg.n_head = 1;
    check_model(&cfg);
}

Test(gradcheck, backward_without_targets_is_an_input_error)
{
    sw_model_config cfg;
    sw_model_preset("tiny", &cfg);
    sw_kerror err;
    sw_model *m = sw_model_create(&cfg, NULL, &err);
    int32_t in[4] = {1, 2, 3, 4};
    cr_assert_eq(sw_model_forward(m, in, NULL, 1, 4, NULL, &err), SW_K_OK);
    cr_assert_eq(sw_model_backward(m, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "targets"), "message: %s", err.msg);
    sw_model_destroy(m);
}
