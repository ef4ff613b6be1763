/* Tests of the forecast-threshold policy (core/policy_forecast.c): it skips curtailment windows
 * too short to repay provisioning and start-up, on the reference trace, and with a persistence
 * forecast it is the threshold policy. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/forecast.h"
#include "core/policy.h"
#include "core/policy_lookahead.h"
#include "core/trace.h"

typedef struct span {
    double on_s, off_s;
} span;

/* Drives p over region r of tr from run time 0 to until_s as the engine does; wanted spans. */
static size_t spans(sw_policy *p, const sw_trace *tr, size_t r, double origin, double until_s,
                    span *out, size_t cap)
{
    size_t n = 0;
    bool want = false;
    for (double t = 0; t < until_s;) {
        sw_policy_decision d;
        double next = sw_policy_observe_trace(p, tr, r, origin, t, &d, NULL);
        cr_assert_gt(next, t);
        if (d.want && !want && n < cap)
            out[n++] = (span){t, INFINITY};
        if (!d.want && want)
            out[n - 1].off_s = t;
        want = d.want;
        t = next;
    }
    return n;
}

static sw_trace *reference(void)
{
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_load("traces/mci_2026-01-11.csv", NULL, &tr, &err), SW_OK, "%s", err.msg);
    return tr;
}

Test(policy_forecast, skips_the_ten_minute_spp_tx_window_with_perfect_foresight)
{
    sw_trace *tr = reference();
    size_t tx = (size_t)sw_trace_region_index(tr, "SPP_TX");
    double origin = sw_trace_start(tr, tx), w0;
    cr_assert_eq(sw_parse_iso8601("2026-01-12T03:05:00Z", &w0), SW_OK);
    w0 -= origin;
    sw_error err;
    /* the reference threshold policy provisions for it */
    sw_policy_config th = {SW_POLICY_THRESHOLD, 100, 600, 0};
    sw_policy *p = NULL;
    cr_assert_eq(sw_policy_create(&th, &p, &err), SW_OK);
    span a[64], b[64];
    size_t na = spans(p, tr, tx, origin, 18 * 3600, a, 64);
    sw_policy_destroy(p);
    int found = 0;
    for (size_t i = 0; i < na; i++)
        found |= a[i].on_s == w0;
    cr_assert(found, "the threshold policy provisions at 03:05");
    /* forecast threshold: a window must hold provisioning 240 s + start-up 85 s + a 600 s round */
    sw_forecast *fc = NULL;
    sw_forecast_config fcfg = {.kind = SW_FORECAST_PERFECT};
    cr_assert_eq(sw_forecast_create(&fcfg, tr, &fc, &err), SW_OK);
    sw_forecast_threshold_config ft = {100, 600, 240 + 85 + 600, 86400};
    cr_assert_eq(sw_policy_forecast_threshold_create(&ft, fc, tx, origin, &p, &err), SW_OK, "%s",
                 err.msg);
    cr_assert_str_eq(sw_policy_kind_name(p), "forecast_threshold");
    size_t nb = spans(p, tr, tx, origin, 18 * 3600, b, 64);
    sw_policy_destroy(p);
    for (size_t i = 0; i < nb; i++)
        cr_assert(!(b[i].on_s <= w0 + 600 && b[i].off_s > w0), "wanted around 03:05: [%g, %g)",
                  b[i].on_s, b[i].off_s);
    /* it provisions for the long window that follows at 03:20 instead */
    int later = 0;
    for (size_t i = 0; i < nb; i++)
        later |= b[i].on_s == w0 + 900;
    cr_assert(later, "not provisioned at 03:20");
    /* once up it releases as the threshold policy does: every release is one of its releases */
    cr_assert_leq(nb, na);
    cr_assert_gt(nb, 0);
    for (size_t i = 0; i < nb; i++) {
        int same = 0;
        for (size_t j = 0; j < na; j++)
            same |= a[j].off_s == b[i].off_s;
        cr_assert(same, "release at %g is not one of the threshold policy's", b[i].off_s);
    }
    sw_forecast_destroy(fc);
    sw_trace_destroy(tr);
}

Test(policy_forecast, with_persistence_it_is_the_threshold_policy)
{
    sw_trace *tr = reference();
    sw_error err;
    sw_forecast *fc = NULL;
    sw_forecast_config fcfg = {.kind = SW_FORECAST_PERSISTENCE};
    cr_assert_eq(sw_forecast_create(&fcfg, tr, &fc, &err), SW_OK);
    for (size_t r = 0; r < sw_trace_region_count(tr); r++) {
        double origin = sw_trace_start(tr, r);
        sw_policy_config th = {SW_POLICY_THRESHOLD, 100, 600, 0};
        sw_forecast_threshold_config ft = {100, 600, 925, 3600};
        sw_policy *p = NULL, *q = NULL;
        cr_assert_eq(sw_policy_create(&th, &p, &err), SW_OK);
        cr_assert_eq(sw_policy_forecast_threshold_create(&ft, fc, r, origin, &q, &err), SW_OK);
        span a[64], b[64];
        size_t na = spans(p, tr, r, origin, 18 * 3600, a, 64);
        size_t nb = spans(q, tr, r, origin, 18 * 3600, b, 64);
        cr_assert_eq(na, nb, "region %zu", r);
        for (size_t i = 0; i < na; i++) {
            cr_assert_eq(a[i].on_s, b[i].on_s);
            cr_assert_eq(a[i].off_s, b[i].off_s);
        }
        sw_policy_destroy(p);
        sw_policy_destroy(q);
    }
    sw_forecast_destroy(fc);
    sw_trace_destroy(tr);
}

Test(policy_forecast, configuration_errors_name_the_field)
{
    sw_trace *tr = reference();
    sw_error err;
    sw_forecast *fc = NULL;
    sw_forecast_config fcfg = {.kind = SW_FORECAST_PERFECT};
    cr_assert_eq(sw_forecast_create(&fcfg, tr, &fc, &err), SW_OK);
    sw_policy *p = NULL;
    sw_forecast_threshold_config ft = {100, 600, -1, 3600};
    cr_assert_eq(sw_policy_forecast_threshold_create(&ft, fc, 0, 0, &p, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "policy.min_window_s"), "%s", err.msg);
    ft = (sw_forecast_threshold_config){0, 600, 0, 3600};
    cr_assert_eq(sw_policy_forecast_threshold_create(&ft, fc, 0, 0, &p, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "policy.threshold_g_per_kwh"), "%s", err.msg);
    ft = (sw_forecast_threshold_config){100, 600, 0, 0};
    cr_assert_eq(sw_policy_forecast_threshold_create(&ft, fc, 0, 0, &p, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "policy.horizon_s"), "%s", err.msg);
    sw_forecast_destroy(fc);
    sw_trace_destroy(tr);
}
