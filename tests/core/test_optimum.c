/* Tests of core/optimum: the step-grid cost model on a hand-computed case, the GLPK MILP against
 * exhaustive search on small random problems, and that no policy's schedule (threshold,
 * forecast threshold, deadline, elastic) beats the optimum's proven bound. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/forecast.h"
#include "core/optimum.h"
#include "core/policy.h"
#include "core/policy_lookahead.h"

#define T0   1768150800.0
#define STEP 300.0

static sw_trace *columns_trace(size_t n_regions, size_t n, const double *v /* [r * n + i] */)
{
    double t[64];
    const double *cols[4];
    const char *names[4] = {"A", "B", "C", "D"};
    cr_assert(n <= 64 && n_regions <= 4);
    for (size_t i = 0; i < n; i++)
        t[i] = T0 + (double)i * STEP;
    for (size_t r = 0; r < n_regions; r++)
        cols[r] = v + r * n;
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_from_columns(names, t, cols, n_regions, n, STEP, &tr, &err), SW_OK, "%s",
                 err.msg);
    return tr;
}

Test(optimum, evaluation_of_a_hand_computed_schedule)
{
    /* One site, overhead 400 s (the first block step is all overhead, the second 100 s of it),
     * idle 500 W, train 2000 W, 10 tokens/s; steps at 100, 200, 0 g/kWh; budget 3000 tokens. */
    double v[] = {100, 200, 0, 50};
    sw_trace *tr = columns_trace(1, 4, v);
    sw_opt_site site = {0, 400, 500, 2000, 10};
    sw_opt_problem p = {tr, T0, STEP, 4, &site, 1, 3000, 1};
    sw_opt_schedule s;
    sw_error err;
    cr_assert_eq(sw_opt_schedule_init(&s, &p, &err), SW_OK);
    unsigned char up[4] = {1, 1, 1, 1};
    cr_assert_eq(sw_optimum_evaluate(&p, up, &s, &err), SW_OK, "%s", err.msg);
    /* step 0: overhead; step 1: 200 s x 10 = 2000 tokens; step 2: 100 s for the last 1000,
     * then released: step 3 is not up */
    cr_assert(s.feasible);
    cr_assert_float_eq(s.tokens, 3000, 1e-9);
    cr_assert_float_eq(s.finish_s, 900, 1e-9);
    cr_assert_eq(s.up[3], 0);
    cr_assert_float_eq(s.train_s[1], 200, 1e-9);
    cr_assert_float_eq(s.train_s[2], 100, 1e-9);
    double g = (100 * 500 * 300 + 200 * (500 * 300 + 1500 * 200) + 0) / 3.6e6;
    cr_assert_float_eq(s.carbon_g, g, 1e-9);
    cr_assert_float_eq(s.energy_j, 500 * 300 + 500 * 300 + 1500 * 200 + 500 * 300 + 1500 * 100,
                       1e-6);
    /* the optimum waits for the free hour: up at steps 1..3 (overhead in 1, part of 2) */
    sw_opt_result r;
    cr_assert_eq(sw_optimum_solve(&p, 10, NULL, &r, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(r.status, SW_OPT_OPTIMAL);
    cr_assert_lt(r.schedule.carbon_g, s.carbon_g);
    sw_opt_schedule b;
    cr_assert_eq(sw_opt_schedule_init(&b, &p, &err), SW_OK);
    cr_assert_eq(sw_optimum_brute_force(&p, &b, &err), SW_OK, "%s", err.msg);
    cr_assert_float_eq(r.schedule.carbon_g, b.carbon_g, 1e-6);
    sw_opt_result_free(&r);
    sw_opt_schedule_free(&b);
    sw_opt_schedule_free(&s);
    sw_trace_destroy(tr);
}

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return *x >> 33;
}

/* A random small problem: n sites, K steps, values with curtailment-like zeros. */
static sw_trace *random_problem(uint64_t seed, size_t n, size_t K, sw_opt_site *sites,
                                sw_opt_problem *p)
{
    uint64_t x = seed;
    double v[4 * 64];
    for (size_t i = 0; i < n * (K + 1); i++) {
        uint64_t r = lcg(&x) % 10;
        v[i] = r < 3 ? 0 : (r < 5 ? 40 + (double)(lcg(&x) % 60) : 100 + (double)(lcg(&x) % 500));
    }
    sw_trace *tr = columns_trace(n, K + 1, v);
    double cap = 0;
    for (size_t s = 0; s < n; s++) {
        sites[s] = (sw_opt_site){s, 100 + (double)(lcg(&x) % 400), 400 + (double)(lcg(&x) % 200),
                                 2000, 50 + (double)(lcg(&x) % 100)};
        cap += sites[s].tokens_per_s * STEP * (double)K;
    }
    *p = (sw_opt_problem){tr,
                          T0,
                          STEP,
                          K,
                          sites,
                          n,
                          cap * (0.15 + 0.35 * (double)(lcg(&x) % 100) / 100),
                          n > 1 ? 0.8 : 1};
    return tr;
}

Test(optimum, matches_brute_force_on_small_problems)
{
    int feasible = 0;
    for (uint64_t seed = 1; seed <= 24; seed++) {
        /* 1 site x 12 steps, 2 x 8 or 3 x 6: up to 2^18 up-patterns */
        size_t n = seed % 4 == 0 ? 1 : (seed % 4 == 1 ? 3 : 2), K = n == 1 ? 12 : (n == 2 ? 8 : 6);
        sw_opt_site sites[3];
        sw_opt_problem p;
        sw_trace *tr = random_problem(seed, n, K, sites, &p);
        sw_opt_schedule b;
        sw_opt_result r;
        sw_error err;
        cr_assert_eq(sw_opt_schedule_init(&b, &p, &err), SW_OK);
        cr_assert_eq(sw_optimum_brute_force(&p, &b, &err), SW_OK, "%s", err.msg);
        cr_assert_eq(sw_optimum_solve(&p, 30, NULL, &r, &err), SW_OK, "%s", err.msg);
        if (!b.feasible) {
            cr_assert_eq(r.status, SW_OPT_INFEASIBLE, "seed %lu", (unsigned long)seed);
        } else {
            feasible++;
            cr_assert_eq(r.status, SW_OPT_OPTIMAL, "seed %lu", (unsigned long)seed);
            cr_assert_float_eq(r.schedule.carbon_g, b.carbon_g, 1e-6 * (1 + b.carbon_g),
                               "seed %lu: milp %.9g, brute force %.9g", (unsigned long)seed,
                               r.schedule.carbon_g, b.carbon_g);
            cr_assert_leq(r.bound_g, r.schedule.carbon_g + 1e-9);
            cr_assert_geq(r.schedule.tokens, p.tokens * (1 - 1e-9));
        }
        sw_opt_result_free(&r);
        sw_opt_schedule_free(&b);
        sw_trace_destroy(tr);
    }
    cr_assert_geq(feasible, 16, "only %d of 24 problems were feasible", feasible);
}

Test(optimum, infeasible_budget_is_reported)
{
    double v[] = {0, 0, 0, 0};
    sw_trace *tr = columns_trace(1, 4, v);
    sw_opt_site site = {0, 0, 500, 2000, 10};
    sw_opt_problem p = {tr, T0, STEP, 3, &site, 1, 10 * 900 + 1, 1};
    sw_opt_result r;
    sw_error err;
    cr_assert_eq(sw_optimum_solve(&p, 10, NULL, &r, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(r.status, SW_OPT_INFEASIBLE);
    sw_opt_result_free(&r);
    p.tokens = -1;
    cr_assert_eq(sw_optimum_solve(&p, 10, NULL, &r, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "optimum.tokens"), "%s", err.msg);
    sw_trace_destroy(tr);
}

/* Scores policies[] over p and checks they do not beat the optimum's bound. */
static int check_not_better(const sw_opt_problem *p, sw_policy **pol, const sw_opt_result *r,
                            const char *what)
{
    unsigned char up[4 * 64];
    sw_opt_schedule s;
    sw_error err;
    cr_assert_eq(sw_optimum_policy_plan(p, pol, up, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_opt_schedule_init(&s, p, &err), SW_OK);
    cr_assert_eq(sw_optimum_evaluate(p, up, &s, &err), SW_OK, "%s", err.msg);
    if (s.feasible)
        cr_assert_geq(s.carbon_g, r->bound_g - 1e-6 * (1 + r->bound_g), "%s: %.9g < bound %.9g",
                      what, s.carbon_g, r->bound_g);
    int feasible = s.feasible;
    sw_opt_schedule_free(&s);
    return feasible;
}

Test(optimum, no_policy_beats_the_optimum)
{
    int scored = 0; /* policy schedules that trained the budget */
    for (uint64_t seed = 100; seed < 112; seed++) {
        size_t n = 2, K = 24;
        sw_opt_site sites[2];
        sw_opt_problem p;
        sw_trace *tr = random_problem(seed, n, K, sites, &p);
        sw_opt_result r;
        sw_error err;
        cr_assert_eq(sw_optimum_solve(&p, 30, NULL, &r, &err), SW_OK, "%s", err.msg);
        if (r.status == SW_OPT_INFEASIBLE) {
            sw_opt_result_free(&r);
            sw_trace_destroy(tr);
            continue;
        }
        sw_forecast *fc = NULL;
        sw_forecast_config fcfg = {.kind = SW_FORECAST_PERFECT};
        cr_assert_eq(sw_forecast_create(&fcfg, tr, &fc, &err), SW_OK);
        sw_policy *pol[2];
        sw_policy_config th = {SW_POLICY_THRESHOLD, 100, 600, 0};
        for (size_t s = 0; s < n; s++)
            cr_assert_eq(sw_policy_create(&th, &pol[s], &err), SW_OK);
        scored += check_not_better(&p, pol, &r, "threshold");
        for (size_t s = 0; s < n; s++)
            sw_policy_destroy(pol[s]);
        sw_forecast_threshold_config ft = {100, 600, 900, 86400};
        for (size_t s = 0; s < n; s++)
            cr_assert_eq(sw_policy_forecast_threshold_create(&ft, fc, s, T0, &pol[s], &err), SW_OK);
        scored += check_not_better(&p, pol, &r, "forecast_threshold");
        for (size_t s = 0; s < n; s++)
            sw_policy_destroy(pol[s]);
        sw_lookahead_site ls[2];
        for (size_t s = 0; s < n; s++)
            ls[s] = (sw_lookahead_site){s, sites[s].overhead_s, sites[s].tokens_per_s,
                                        sites[s].train_w, sites[s].idle_w};
        sw_deadline_config dc = {p.tokens, (double)K * STEP, 600, 0.05, p.sync_fraction, 0};
        cr_assert_eq(sw_policy_deadline_create(&dc, fc, ls, n, T0, pol, &err), SW_OK, "%s",
                     err.msg);
        scored += check_not_better(&p, pol, &r, "deadline");
        for (size_t s = 0; s < n; s++)
            sw_policy_destroy(pol[s]);
        sw_elastic_config ec = {sw_elastic_cap_from_threshold(100, 2000, 100), p.sync_fraction};
        cr_assert_eq(sw_policy_elastic_create(&ec, fc, ls, n, T0, pol, &err), SW_OK, "%s", err.msg);
        scored += check_not_better(&p, pol, &r, "elastic");
        for (size_t s = 0; s < n; s++)
            sw_policy_destroy(pol[s]);
        sw_forecast_destroy(fc);
        sw_opt_result_free(&r);
        sw_trace_destroy(tr);
    }
    cr_assert_geq(scored, 12, "only %d policy schedules trained the budget", scored);
}
