/* Tests of the deadline policy (core/policy_deadline.c): it waits for clean power when the
 * deadline leaves time, falls back to dirty power when it does not, and stops once the budget
 * is trained. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/forecast.h"
#include "core/policy.h"
#include "core/policy_lookahead.h"
#include "core/trace.h"

#define T0   1768150800.0
#define STEP 300.0

/* 24 steps: dirty (500 g/kWh) for the first 12, clean (0) for the last 12. */
static sw_trace *dirty_then_clean(void)
{
    double t[24], v[24];
    for (int i = 0; i < 24; i++) {
        t[i] = T0 + i * STEP;
        v[i] = i < 12 ? 500 : 0;
    }
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_from_arrays("R", t, v, 24, STEP, &tr, &err), SW_OK, "%s", err.msg);
    return tr;
}

/* Wanted state of the single-site deadline policy at the start of every step. */
static void run_h(double tokens, double deadline_s, double horizon_s, bool *wanted)
{
    sw_trace *tr = dirty_then_clean();
    sw_forecast *fc = NULL;
    sw_error err;
    sw_forecast_config fcfg = {.kind = SW_FORECAST_PERFECT};
    cr_assert_eq(sw_forecast_create(&fcfg, tr, &fc, &err), SW_OK);
    sw_lookahead_site site = {0, 300, 100, 2000, 500};
    sw_deadline_config dc = {tokens, deadline_s, 600, 0, 1, horizon_s};
    sw_policy *p = NULL;
    cr_assert_eq(sw_policy_deadline_create(&dc, fc, &site, 1, T0, &p, &err), SW_OK, "%s", err.msg);
    cr_assert_str_eq(sw_policy_kind_name(p), "deadline");
    double t = 0;
    for (int k = 0; k < 24; k++) {
        sw_policy_decision d;
        while (t <= k * STEP) {
            double next = sw_policy_observe_trace(p, tr, 0, T0, t, &d, NULL);
            t = next;
        }
        wanted[k] = sw_policy_wants(p);
    }
    sw_policy_destroy(p);
    sw_forecast_destroy(fc);
    sw_trace_destroy(tr);
}

static void run(double tokens, double deadline_s, bool *wanted)
{
    run_h(tokens, deadline_s, 0, wanted);
}

Test(policy_deadline, waits_for_clean_power_when_the_deadline_allows)
{
    bool w[24];
    /* 6 steps of training: the 12 clean steps are enough */
    run(100 * STEP * 6, 24 * STEP, w);
    for (int k = 0; k < 12; k++)
        cr_assert(!w[k], "wanted in dirty step %d", k);
    cr_assert(w[12], "not wanted when the clean power starts");
    /* 6 steps of training + 1 of overhead, then released */
    cr_assert(!w[20], "still wanted after the budget is trained");
}

Test(policy_deadline, falls_back_to_dirty_power_when_the_deadline_requires_it)
{
    bool w[24];
    /* the same budget by step 12: only dirty power is left, so it starts at once */
    run(100 * STEP * 6, 12 * STEP, w);
    cr_assert(w[0], "not wanted at the start although the deadline needs it");
    cr_assert(!w[11] || !w[12]);
    /* a budget larger than everything: every site runs from the start */
    run(100 * STEP * 100, 24 * STEP, w);
    cr_assert(w[0] && w[12]);
}

Test(policy_deadline, configuration_errors_name_the_field)
{
    sw_trace *tr = dirty_then_clean();
    sw_forecast *fc = NULL;
    sw_error err;
    sw_forecast_config fcfg = {.kind = SW_FORECAST_PERFECT};
    cr_assert_eq(sw_forecast_create(&fcfg, tr, &fc, &err), SW_OK);
    sw_lookahead_site site = {0, 300, 100, 2000, 500};
    sw_policy *p = NULL;
    sw_deadline_config dc = {0, 3600, 600, 0, 1, 0};
    cr_assert_eq(sw_policy_deadline_create(&dc, fc, &site, 1, T0, &p, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "policy.tokens"), "%s", err.msg);
    dc = (sw_deadline_config){1e6, 3600, 600, 0, 0, 0};
    cr_assert_eq(sw_policy_deadline_create(&dc, fc, &site, 1, T0, &p, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "policy.sync_fraction"), "%s", err.msg);
    dc = (sw_deadline_config){1e6, 3600, 600, 0, 1, 0};
    site.tokens_per_s = 0;
    cr_assert_eq(sw_policy_deadline_create(&dc, fc, &site, 1, T0, &p, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "policy.sites[0].tokens_per_s"), "%s", err.msg);
    sw_forecast_destroy(fc);
    sw_trace_destroy(tr);
}

Test(policy_deadline, a_receding_horizon_asks_its_window_for_a_pro_rata_share)
{
    bool w[24];
    /* planning 1 h (12 steps) ahead of a 2-h deadline, the first window is all dirty and must
     * hold half the budget: it starts on dirty power, where the full plan would wait */
    run_h(100 * STEP * 6, 24 * STEP, 3600, w);
    cr_assert(w[0], "the 1-h plan does not start at once");
    run_h(100 * STEP * 6, 24 * STEP, 0, w);
    cr_assert(!w[0], "the full plan does not wait");
}
