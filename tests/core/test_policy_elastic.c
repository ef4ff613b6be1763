/* Tests of the elastic policy (core/policy_elastic.c): sites run in order of carbon per token
 * while the extra tokens each brings, after the federated sync overhead, stay under the cap. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/forecast.h"
#include "core/policy.h"
#include "core/policy_lookahead.h"
#include "core/trace.h"

#define T0 1768150800.0

static void wants(double b_g_per_kwh, bool *w)
{
    const char *names[3] = {"A", "B", "C"};
    double t[2] = {T0, T0 + 300};
    double a[2] = {0, 0}, b[2] = {b_g_per_kwh, b_g_per_kwh}, c[2] = {500, 500};
    const double *cols[3] = {a, b, c};
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_from_columns(names, t, cols, 3, 2, 300, &tr, &err), SW_OK);
    sw_forecast *fc = NULL;
    sw_forecast_config fcfg = {.kind = SW_FORECAST_PERFECT};
    cr_assert_eq(sw_forecast_create(&fcfg, tr, &fc, &err), SW_OK);
    sw_lookahead_site s[3];
    for (size_t i = 0; i < 3; i++)
        s[i] = (sw_lookahead_site){i, 325, 190650, 2024, 468};
    /* the cap of a 100 g/kWh threshold; phi = 0.8 with 2+ sites */
    sw_elastic_config ec = {sw_elastic_cap_from_threshold(100, 2024, 190650), 0.8};
    sw_policy *p[3];
    cr_assert_eq(sw_policy_elastic_create(&ec, fc, s, 3, T0, p, &err), SW_OK, "%s", err.msg);
    for (size_t i = 0; i < 3; i++) {
        sw_policy_decision d;
        sw_policy_observe_trace(p[i], tr, i, T0, 0, &d, NULL);
        w[i] = d.want;
    }
    cr_assert_str_eq(sw_policy_kind_name(p[0]), "elastic");
    for (size_t i = 0; i < 3; i++)
        sw_policy_destroy(p[i]);
    sw_forecast_destroy(fc);
    sw_trace_destroy(tr);
}

Test(policy_elastic, adds_a_site_only_if_its_extra_tokens_are_cheap_enough)
{
    bool w[3];
    /* B at 50 g/kWh: its extra tokens (1.6 r - r = 0.6 r) cost 50 / 0.6 = 83 < 100 equivalent */
    wants(50, w);
    cr_assert(w[0] && w[1] && !w[2]);
    /* B at 70 g/kWh is under the threshold, but 70 / 0.6 = 117 > 100: not worth the sync */
    wants(70, w);
    cr_assert(w[0] && !w[1] && !w[2]);
}

Test(policy_elastic, cap_from_threshold_units)
{
    /* 100 g/kWh at 2024 W and 190650 tokens/s: 202.4 g/h over 686.34e6 tokens/h */
    cr_assert_float_eq(sw_elastic_cap_from_threshold(100, 2024, 190650),
                       202.4 / (190650 * 3600 / 1e6), 1e-12);
}
