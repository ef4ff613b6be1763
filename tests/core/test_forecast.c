/* Tests of core/forecast: perfect foresight, persistence, the seeded noisy model (deterministic,
 * order-independent, error growing with lead time) and forecast files with their errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/forecast.h"
#include "core/trace.h"

#define T0   1768150800.0 /* 2026-01-11T17:00:00Z */
#define STEP 300.0

static sw_trace *ramp_trace(size_t n)
{
    double t[512], v[512];
    cr_assert(n <= 512);
    for (size_t i = 0; i < n; i++) {
        t[i] = T0 + (double)i * STEP;
        v[i] = 300 + 100 * sin((double)i / 10.0);
    }
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_from_arrays("R", t, v, n, STEP, &tr, &err), SW_OK, "%s", err.msg);
    return tr;
}

static sw_forecast *make(sw_forecast_config cfg, const sw_trace *tr)
{
    sw_forecast *f = NULL;
    sw_error err;
    cr_assert_eq(sw_forecast_create(&cfg, tr, &f, &err), SW_OK, "%s", err.msg);
    return f;
}

Test(forecast, perfect_is_the_trace_and_persistence_holds_the_present)
{
    sw_trace *tr = ramp_trace(50);
    sw_forecast *p = make((sw_forecast_config){.kind = SW_FORECAST_PERFECT}, tr);
    sw_forecast *q = make((sw_forecast_config){.kind = SW_FORECAST_PERSISTENCE}, tr);
    cr_assert_str_eq(sw_forecast_kind_name(p), "perfect");
    for (int k = 0; k < 40; k++) {
        double target = T0 + 5 * STEP + k * STEP + 17;
        cr_assert_eq(sw_forecast_value(p, 0, T0 + 5 * STEP, target), sw_trace_value(tr, 0, target));
        cr_assert_eq(sw_forecast_value(q, 0, T0 + 5 * STEP, target),
                     sw_trace_value(tr, 0, T0 + 5 * STEP));
    }
    /* beyond the trace: no forecast */
    cr_assert(isnan(sw_forecast_value(p, 0, T0, T0 + 50 * STEP)));
    sw_forecast_destroy(p);
    sw_forecast_destroy(q);
    sw_trace_destroy(tr);
}

static const sw_forecast_config noisy = {.kind = SW_FORECAST_NOISY,
                                         .sigma0_g_per_kwh = 10,
                                         .sigma1_g_per_kwh_per_sqrt_h = 40,
                                         .rho = 0.5,
                                         .seed = 7};

Test(forecast, noisy_is_deterministic_for_a_seed_whatever_the_query_order)
{
    sw_trace *tr = ramp_trace(100);
    sw_forecast *a = make(noisy, tr), *b = make(noisy, tr);
    double fwd[40], back[40];
    for (int k = 0; k < 40; k++)
        fwd[k] = sw_forecast_value(a, 0, T0 + 3 * STEP, T0 + (3 + k) * STEP);
    for (int k = 39; k >= 0; k--) {
        (void)sw_forecast_value(b, 0, T0 + 9 * STEP, T0 + (9 + k) * STEP); /* interleave */
        back[k] = sw_forecast_value(b, 0, T0 + 3 * STEP, T0 + (3 + k) * STEP);
    }
    for (int k = 0; k < 40; k++)
        cr_assert_eq(fwd[k], back[k], "lead %d", k);
    /* lead step 0 is observed, other leads are perturbed */
    cr_assert_eq(fwd[0], sw_trace_value(tr, 0, T0 + 3 * STEP));
    int differ = 0;
    for (int k = 1; k < 40; k++)
        differ += fwd[k] != sw_trace_value(tr, 0, T0 + (3 + k) * STEP);
    cr_assert_gt(differ, 35);
    sw_forecast_config other = noisy;
    other.seed = 8;
    sw_forecast *c = make(other, tr);
    cr_assert_neq(sw_forecast_value(c, 0, T0 + 3 * STEP, T0 + 20 * STEP), fwd[17]);
    sw_forecast_destroy(a);
    sw_forecast_destroy(b);
    sw_forecast_destroy(c);
    sw_trace_destroy(tr);
}

Test(forecast, noisy_error_grows_with_lead_time_as_stated)
{
    /* RMS error over many issue times at lead 1 step and at lead 36 steps (3 h), compared with
     * sigma(h) = sigma0 + sigma1 * sqrt(h): far from the clamp (values ~300 +- 100). */
    sw_trace *tr = ramp_trace(500);
    sw_forecast_config cfg = noisy;
    cfg.sigma0_g_per_kwh = 5;
    cfg.sigma1_g_per_kwh_per_sqrt_h = 20;
    sw_forecast *f = make(cfg, tr);
    double se1 = 0, se36 = 0;
    int n = 0;
    for (int i = 0; i + 36 < 500; i++, n++) {
        double is = T0 + i * STEP;
        double e1 = sw_forecast_value(f, 0, is, is + STEP) - sw_trace_value(tr, 0, is + STEP);
        double e36 =
            sw_forecast_value(f, 0, is, is + 36 * STEP) - sw_trace_value(tr, 0, is + 36 * STEP);
        se1 += e1 * e1;
        se36 += e36 * e36;
    }
    double rms1 = sqrt(se1 / n), rms36 = sqrt(se36 / n);
    double s1 = 5 + 20 * sqrt(300 / 3600.0), s36 = 5 + 20 * sqrt(3.0);
    cr_assert(rms1 > 0.8 * s1 && rms1 < 1.2 * s1, "rms at 5 min %g, model %g", rms1, s1);
    cr_assert(rms36 > 0.8 * s36 && rms36 < 1.2 * s36, "rms at 3 h %g, model %g", rms36, s36);
    sw_forecast_destroy(f);
    sw_trace_destroy(tr);
}

Test(forecast, noisy_parameters_are_checked)
{
    sw_trace *tr = ramp_trace(10);
    sw_forecast *f = NULL;
    sw_error err;
    sw_forecast_config cfg = noisy;
    cfg.rho = 1;
    cr_assert_eq(sw_forecast_create(&cfg, tr, &f, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "forecast.rho"), "%s", err.msg);
    cfg = noisy;
    cfg.sigma0_g_per_kwh = -1;
    cr_assert_eq(sw_forecast_create(&cfg, tr, &f, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "forecast.sigma0_g_per_kwh"), "%s", err.msg);
    cfg = (sw_forecast_config){.kind = SW_FORECAST_FILE};
    cr_assert_eq(sw_forecast_create(&cfg, tr, &f, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "forecast.file"), "%s", err.msg);
    sw_trace_destroy(tr);
}

Test(forecast, window_length_from_the_reference_trace)
{
    /* SPP_TX has a 10-minute curtailment window at 03:05 UTC on 2026-01-12 (issue 12). */
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_load("traces/mci_2026-01-11.csv", NULL, &tr, &err), SW_OK, "%s", err.msg);
    int tx = sw_trace_region_index(tr, "SPP_TX");
    cr_assert_geq(tx, 0);
    double t;
    cr_assert_eq(sw_parse_iso8601("2026-01-12T03:05:00Z", &t), SW_OK);
    sw_forecast *p = make((sw_forecast_config){.kind = SW_FORECAST_PERFECT}, tr);
    sw_forecast *q = make((sw_forecast_config){.kind = SW_FORECAST_PERSISTENCE}, tr);
    cr_assert_float_eq(sw_forecast_window_s(p, (size_t)tx, t, 100, 86400), 600, 1e-9);
    /* persistence believes the present lasts for the whole horizon */
    cr_assert_float_eq(sw_forecast_window_s(q, (size_t)tx, t, 100, 7200), 7200, 1e-9);
    cr_assert_eq(sw_forecast_window_s(p, (size_t)tx, t - 300, 100, 86400), 0);
    sw_forecast_destroy(p);
    sw_forecast_destroy(q);
    sw_trace_destroy(tr);
}

/* ---- forecast files ---------------------------------------------------------------------- */

static int parse(const char *text, const sw_trace *tr, sw_forecast **f, sw_error *err)
{
    return sw_forecast_file_parse(text, strlen(text), "fc.csv", tr, f, err);
}

Test(forecast_file, latest_issue_and_step_semantics)
{
    sw_trace *tr = ramp_trace(20);
    const char *text = "# a comment\n"
                       "issue_time,target_time,region,mci_g_per_kwh\n"
                       "2026-01-11T17:00Z,2026-01-11T17:00Z,R,10\n"
                       "2026-01-11T17:00Z,2026-01-11T17:05Z,R,20\n"
                       "2026-01-11T17:00Z,2026-01-11T17:10Z,R,30\n"
                       "\n"
                       "2026-01-11T17:05:00+00:00,2026-01-11T17:10:00+00:00,R,35\n";
    sw_forecast *f = NULL;
    sw_error err;
    cr_assert_eq(parse(text, tr, &f, &err), SW_OK, "%s", err.msg);
    cr_assert_str_eq(sw_forecast_kind_name(f), "file");
    cr_assert_eq(sw_forecast_value(f, 0, T0, T0 + 400), 20);       /* inside 17:05's step */
    cr_assert_eq(sw_forecast_value(f, 0, T0 + 200, T0 + 600), 30); /* issue 17:00 still */
    cr_assert_eq(sw_forecast_value(f, 0, T0 + 300, T0 + 600), 35); /* the newer issue */
    cr_assert(isnan(sw_forecast_value(f, 0, T0 + 300, T0 + 300))); /* before its first target */
    cr_assert(isnan(sw_forecast_value(f, 0, T0 - 1, T0 + 300)));   /* nothing issued yet */
    cr_assert(isnan(sw_forecast_value(f, 0, T0, T0 + 900)));       /* past the last target */
    sw_forecast_destroy(f);
    sw_trace_destroy(tr);
}

static void expect_error(const char *body, const char *needle)
{
    sw_trace *tr = ramp_trace(20);
    char text[1024];
    snprintf(text, sizeof text, "issue_time,target_time,region,mci_g_per_kwh\n%s", body);
    sw_forecast *f = NULL;
    sw_error err;
    cr_assert_eq(parse(text, tr, &f, &err), SW_EINPUT, "accepted: %s", body);
    cr_assert_null(f);
    cr_assert(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
    sw_trace_destroy(tr);
}

Test(forecast_file, every_bad_line_names_file_line_and_field)
{
    expect_error("2026-01-11T17:00Z,2026-01-11T17:00Z,R,10\nyesterday,2026-01-11T17:00Z,R,1\n",
                 "fc.csv:3:issue_time");
    expect_error("2026-01-11T17:00Z,soon,R,1\n", "fc.csv:2:target_time");
    expect_error("2026-01-11T17:05Z,2026-01-11T17:00Z,R,1\n", "fc.csv:2:target_time");
    expect_error("2026-01-11T17:00Z,2026-01-11T17:00Z,XX,1\n", "fc.csv:2:region");
    expect_error("2026-01-11T17:00Z,2026-01-11T17:00Z,R,-3\n", "fc.csv:2:mci_g_per_kwh");
    expect_error("2026-01-11T17:00Z,2026-01-11T17:00Z,R,nan\n", "fc.csv:2:mci_g_per_kwh");
    expect_error("2026-01-11T17:00Z,2026-01-11T17:00Z,R,\n", "fc.csv:2:mci_g_per_kwh");
    expect_error("2026-01-11T17:00Z,2026-01-11T17:00Z,R\n", "fc.csv:2: expected 4 cells");
    expect_error(
        "2026-01-11T17:05Z,2026-01-11T17:05Z,R,1\n2026-01-11T17:00Z,2026-01-11T17:05Z,R,1\n",
        "fc.csv:3:issue_time: not in ascending order");
    expect_error(
        "2026-01-11T17:00Z,2026-01-11T17:05Z,R,1\n2026-01-11T17:00Z,2026-01-11T17:05Z,R,1\n",
        "fc.csv:3:target_time: not strictly ascending");
    sw_trace *tr = ramp_trace(20);
    sw_forecast *f = NULL;
    sw_error err;
    cr_assert_eq(parse("time,value\n", tr, &f, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "fc.csv:1: header"), "%s", err.msg);
    cr_assert_eq(parse("# only a comment\n", tr, &f, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "empty file"), "%s", err.msg);
    cr_assert_eq(sw_forecast_file_load("no/such/file.csv", tr, &f, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "no/such/file.csv"), "%s", err.msg);
    sw_trace_destroy(tr);
}
