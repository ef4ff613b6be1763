/* test_convergence.c - the modelled loss: scaling law, warm-down, federated efficiency, the
 * per-round state the simulator advances, and the YAML text of the parameters. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/convergence.h"

static sw_convergence_params d20(void)
{
    sw_convergence_params p;
    sw_convergence_d20_defaults(&p);
    return p;
}

/* The d20 parameters without the LR schedule: the plain law E + B D^-beta. */
static sw_convergence_params plain(void)
{
    sw_convergence_params p = d20();
    p.warmdown_frac = 0;
    p.anneal_nats = 0;
    return p;
}

Test(convergence, d20_defaults_are_valid_and_plausible)
{
    sw_convergence_params p = d20();
    sw_error err;
    cr_assert_eq(sw_convergence_params_check(&p, &err), SW_OK, "%s", err.msg);
    /* A 561M model after 12.3e9 tokens ends near the logged 2.69 nats. */
    double end = sw_convergence_loss(&p, 12.3e9);
    cr_assert(end > 2.6 && end < 2.75, "final loss %g", end);
    cr_assert_float_eq(sw_convergence_loss(&p, 0), log(65536.0), 1e-6);
}

Test(convergence, plain_law_values)
{
    sw_convergence_params p = plain();
    for (double d = 1e8; d < 1e11; d *= 3.7) {
        double want = p.e_nats + p.b * pow(d, -p.beta);
        cr_assert_float_eq(sw_convergence_loss(&p, d), want, 1e-12 * want, "D=%g", d);
    }
}

Test(convergence, warmdown_fraction)
{
    sw_convergence_params p = d20();
    double s = p.schedule_tokens;
    cr_assert_eq(sw_convergence_warmdown(&p, 0), 0);
    cr_assert_eq(sw_convergence_warmdown(&p, 0.6 * s), 0);
    cr_assert_float_eq(sw_convergence_warmdown(&p, 0.8 * s), 0.5, 1e-12);
    cr_assert_eq(sw_convergence_warmdown(&p, s), 1);
    cr_assert_eq(sw_convergence_warmdown(&p, 2 * s), 1);
    /* The anneal term is exactly the difference from the plain law. */
    sw_convergence_params q = plain();
    double d = 0.9 * s;
    cr_assert_float_eq(sw_convergence_loss(&q, d) - sw_convergence_loss(&p, d),
                       0.75 * p.anneal_nats, 1e-12);
}

Test(convergence, single_site_state_equals_scaling_law)
{
    sw_convergence_params p = d20();
    sw_convergence_state s;
    sw_convergence_init(&s, &p);
    sw_convergence_point pt;
    double total = 0;
    /* Uneven rounds of one site, with local steps that would matter if it were averaged. */
    for (int r = 0; r < 40; r++) {
        double tokens = (r % 3 + 1) * 1.1e8;
        cr_assert_eq(sw_convergence_round(&s, &tokens, 1, 500, &pt, NULL), SW_OK);
        total += tokens;
        cr_assert_eq(pt.efficiency, 1.0);
        cr_assert_eq(pt.n_sites, 1.0);
        cr_assert_float_eq(pt.effective_tokens, total, 1e-6 * total);
        cr_assert_float_eq(pt.loss_nats, sw_convergence_loss(&p, total), 1e-12);
        cr_assert_float_eq(pt.ppl, exp(pt.loss_nats), 1e-9 * pt.ppl);
    }
    cr_assert_eq(s.rounds, 40);
}

Test(convergence, averaging_discounts_tokens)
{
    sw_convergence_params p = d20();
    /* Sync every step is data-parallel training: no discount. */
    cr_assert_eq(sw_convergence_efficiency(&p, 2, 0), 1.0);
    cr_assert_eq(sw_convergence_efficiency(&p, 1, 1000), 1.0);
    double prev = 1;
    for (double h = 1; h < 1e5; h *= 2) {
        double e2 = sw_convergence_efficiency(&p, 2, h), e3 = sw_convergence_efficiency(&p, 3, h);
        cr_assert(e2 < 1 && e2 > 0.5, "eff(2,%g) = %g", h, e2);
        cr_assert(e3 < e2 && e3 > 1.0 / 3, "eff(3,%g) = %g", h, e3);
        cr_assert(e2 < prev, "eff must fall with local steps");
        prev = e2;
    }
    /* Half of the second site's tokens are lost at h = h0. */
    cr_assert_float_eq(sw_convergence_efficiency(&p, 2, p.eff_h0_steps), 0.75, 1e-12);

    sw_convergence_state s;
    sw_convergence_init(&s, &p);
    double tokens[2] = {1e8, 1e8};
    sw_convergence_point pt;
    cr_assert_eq(sw_convergence_round(&s, tokens, 2, 190, &pt, NULL), SW_OK);
    cr_assert_float_eq(pt.n_sites, 2.0, 1e-12);
    cr_assert(pt.efficiency < 1);
    cr_assert_float_eq(pt.effective_tokens, pt.efficiency * 2e8, 1);
    cr_assert_eq(pt.schedule_tokens, 2e8);
    cr_assert(pt.loss_nats > sw_convergence_loss(&p, 2e8), "averaging must cost loss");
}

Test(convergence, unequal_work_counts_as_fewer_sites)
{
    sw_convergence_params p = d20();
    sw_convergence_state s;
    sw_convergence_init(&s, &p);
    sw_convergence_point pt;
    double alone[3] = {2e8, 0, 0};
    cr_assert_eq(sw_convergence_round(&s, alone, 3, 190, &pt, NULL), SW_OK);
    cr_assert_float_eq(pt.n_sites, 1.0, 1e-12);
    cr_assert_eq(pt.efficiency, 1.0);
    double skewed[2] = {3e8, 1e8};
    cr_assert_eq(sw_convergence_round(&s, skewed, 2, 190, &pt, NULL), SW_OK);
    cr_assert_float_eq(pt.n_sites, 1.6, 1e-12); /* 4^2 / (9 + 1) */
    cr_assert(pt.efficiency > sw_convergence_efficiency(&p, 2, 190));
    /* A round where nobody trained changes nothing. */
    double none[2] = {0, 0};
    double before = s.effective_tokens;
    cr_assert_eq(sw_convergence_round(&s, none, 2, 0, &pt, NULL), SW_OK);
    cr_assert_eq(s.effective_tokens, before);
    cr_assert_eq(s.rounds, 2);
}

Test(convergence, loss_never_increases_with_tokens)
{
    sw_convergence_params p = d20();
    double prev = INFINITY;
    for (double d = 0; d < 3e10; d += 1.3e7) {
        double l = sw_convergence_loss(&p, d);
        cr_assert(l <= prev, "loss rose at D=%g: %g > %g", d, l, prev);
        prev = l;
    }
    /* Through federated rounds too, and a site's local loss within a round. */
    sw_convergence_state s;
    sw_convergence_init(&s, &p);
    prev = sw_convergence_global_loss(&s);
    for (int r = 0; r < 70; r++) {
        double tokens[2] = {9.8e7, 9.6e7};
        double local_prev = sw_convergence_global_loss(&s);
        for (double x = 0; x <= tokens[0]; x += 1e7) {
            double l = sw_convergence_local_loss(&s, x);
            cr_assert(l <= local_prev);
            local_prev = l;
        }
        sw_convergence_point pt;
        cr_assert_eq(sw_convergence_round(&s, tokens, 2, 187, &pt, NULL), SW_OK);
        cr_assert(pt.loss_nats <= prev, "round %d: %g > %g", r, pt.loss_nats, prev);
        prev = pt.loss_nats;
    }
}

Test(convergence, round_rejects_bad_input)
{
    sw_convergence_params p = d20();
    sw_convergence_state s;
    sw_convergence_init(&s, &p);
    sw_error err;
    double tokens[2] = {1e8, -5};
    cr_assert_eq(sw_convergence_round(&s, tokens, 2, 10, NULL, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "tokens_per_site[1]"), "%s", err.msg);
    tokens[1] = NAN;
    cr_assert_eq(sw_convergence_round(&s, tokens, 2, 10, NULL, &err), SW_EINPUT);
    tokens[1] = 1e8;
    cr_assert_eq(sw_convergence_round(&s, tokens, 2, -1, NULL, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "local_steps"), "%s", err.msg);
    cr_assert_eq(s.effective_tokens, 0, "a rejected round must not change the state");
}

Test(convergence, params_check_names_the_field)
{
    sw_error err;
    sw_convergence_params p = d20();
    p.beta = -0.1;
    cr_assert_eq(sw_convergence_params_check(&p, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "convergence.beta"), "%s", err.msg);
    p = d20();
    p.warmdown_frac = 1.5;
    cr_assert_eq(sw_convergence_params_check(&p, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "convergence.warmdown_frac"), "%s", err.msg);
    p = d20();
    p.eff_h0_steps = INFINITY; /* allowed: no federated penalty */
    cr_assert_eq(sw_convergence_params_check(&p, &err), SW_OK);
    cr_assert_eq(sw_convergence_efficiency(&p, 4, 1000), 1.0);
}

Test(convergence, yaml_text)
{
    sw_convergence_params p = d20();
    char buf[4096];
    size_t len = 0;
    sw_error err;
    cr_assert_eq(sw_convergence_to_yaml(&p, NULL, NULL, buf, sizeof buf, &len, &err), SW_OK);
    cr_assert_eq(len, strlen(buf));
    cr_assert(strstr(buf, "convergence:\n"));
    char line[96];
    snprintf(line, sizeof line, "  beta: %.10g\n", p.beta);
    cr_assert(strstr(buf, line), "%s", buf);
    cr_assert_null(strstr(buf, "fit:"), "no diagnostics were given");

    sw_convergence_fit f = {
        .fitted = 1, .n_points = 12, .rmse_nats = 0.25, .rmse_reference_nats = NAN};
    snprintf(f.source, sizeof f.source, "odd \"name\".csv");
    p.eff_h0_steps = INFINITY;
    cr_assert_eq(sw_convergence_to_yaml(&p, &f, NULL, buf, sizeof buf, &len, &err), SW_OK);
    cr_assert(strstr(buf, "  eff_h0_steps: .inf\n"), "%s", buf);
    cr_assert(strstr(buf, "source: \"odd \\\"name\\\".csv\""), "%s", buf);
    cr_assert(strstr(buf, "      rows: 12\n"), "%s", buf);

    char small[64];
    size_t need = 0;
    cr_assert_eq(sw_convergence_to_yaml(&p, &f, NULL, small, sizeof small, &need, &err),
                 SW_ERUNTIME);
    cr_assert_eq(need, len);
    cr_assert(strstr(err.msg, "bytes"), "%s", err.msg);
    cr_assert_eq(strlen(small), sizeof small - 1);
}

/* The shipped scenario file carries the same numbers as sw_convergence_d20_defaults. */
Test(convergence, shipped_yaml_matches_defaults)
{
    FILE *f = fopen(SW_SOURCE_DIR "/scenarios/d20_convergence.yaml", "r");
    cr_assert_not_null(f);
    sw_convergence_params p = d20();
    struct {
        const char *key;
        double want;
        int seen;
    } keys[] = {{"e_nats", p.e_nats, 0},
                {"b", p.b, 0},
                {"beta", p.beta, 0},
                {"loss_max_nats", p.loss_max_nats, 0},
                {"schedule_tokens", p.schedule_tokens, 0},
                {"warmdown_frac", p.warmdown_frac, 0},
                {"anneal_nats", p.anneal_nats, 0},
                {"eff_h0_steps", p.eff_h0_steps, 0}};
    char line[512];
    while (fgets(line, sizeof line, f)) {
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "  %s: ", keys[k].key); /* top level of the map */
            if (strncmp(line, prefix, strlen(prefix)) == 0) {
                double v = strtod(line + strlen(prefix), NULL);
                cr_assert_float_eq(v, keys[k].want, 1e-9 * fabs(keys[k].want), "%s", line);
                keys[k].seen = 1;
            }
        }
    }
    fclose(f);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        cr_assert(keys[k].seen, "%s missing from scenarios/d20_convergence.yaml", keys[k].key);
}
