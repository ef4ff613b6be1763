/* Tests of core/windows on the reference trace (windows derived by hand below) and on small
 * synthetic traces for the poll grid, the trace end and bad input.
 *
 * Hand derivation from traces/mci_2026-01-11.csv (5-minute rows from 2026-01-11 17:00 UTC =
 * run time 0, last row 2026-01-12 11:00, so the series end at 11:05 = 65100 s), threshold 100:
 *   CAISO_NORTH: 463.6 at 17:00, 68.9 from 17:05 (300 s); 458.6 from 19:05 (7500 s) to 97.1 at
 *                19:20 (8400 s); above again from 23:25 (23100 s) to the end.
 *                raw: [300, 7500) [8400, 23100); 900 s above > 600 s, so with hysteresis 600:
 *                [300, 8100) [8400, 23700).
 *   SPP_TX:      26.8 from 03:05 (36300), 661.3 at 03:15 (36900), 42.6 at 03:20 (37200),
 *                662.2 at 09:25 (59100), 78.9 at 09:30 (59400), 129.7 from 10:05 (61500) to end.
 *                raw: [36300,36900) [37200,59100) [59400,61500); the two 300 s excursions are
 *                shorter than 600 s, so with hysteresis: [36300, 62100).
 *   NEM_SA:      0.0 from 21:40 (16800) to 796.8 at 08:10 (54600), above to the end.
 *                raw [16800, 54600); hysteresis [16800, 55200).
 *   DE:          never under 100 (lowest about 700): no window.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/trace.h"
#include "core/windows.h"

#define T0 1768150800.0 /* 2026-01-11T17:00:00Z */

static sw_trace *reference(void)
{
    sw_trace *t = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_load(SW_SOURCE_DIR "/traces/mci_2026-01-11.csv", NULL, &t, &err), SW_OK,
                 "%s", err.msg);
    return t;
}

static void expect_windows(const sw_window *w, size_t n, const double *rel, size_t n_expected,
                           const char *what)
{
    cr_assert_eq(n, n_expected, "%s: %zu windows", what, n);
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(w[i].start_unix_s, T0 + rel[2 * i], "%s window %zu start %.0f", what, i,
                     w[i].start_unix_s - T0);
        cr_expect_eq(w[i].end_unix_s, T0 + rel[2 * i + 1], "%s window %zu end %.0f", what, i,
                     w[i].end_unix_s - T0);
        cr_expect_eq(sw_window_duration_s(&w[i]), rel[2 * i + 1] - rel[2 * i]);
    }
}

Test(windows, reference_trace_raw)
{
    sw_trace *t = reference();
    static const struct {
        const char *region;
        double w[8];
        size_t n;
    } want[] = {
        {"CAISO_NORTH", {300, 7500, 8400, 23100}, 2},
        {"SPP_TX", {36300, 36900, 37200, 59100, 59400, 61500}, 3},
        {"NEM_SA", {16800, 54600}, 1},
        {"DE", {0}, 0},
    };
    for (size_t k = 0; k < 4; k++) {
        int r = sw_trace_region_index(t, want[k].region);
        cr_assert_geq(r, 0);
        sw_window *w = NULL;
        size_t n = 0;
        cr_assert_eq(sw_windows_raw(t, (size_t)r, 100, &w, &n, NULL), SW_OK);
        expect_windows(w, n, want[k].w, want[k].n, want[k].region);
        free(w);
    }
    sw_trace_destroy(t);
}

Test(windows, reference_trace_with_hysteresis_and_10s_poll)
{
    sw_trace *t = reference();
    static const struct {
        const char *region;
        double w[4];
        size_t n;
    } want[] = {
        {"CAISO_NORTH", {300, 8100, 8400, 23700}, 2},
        {"SPP_TX", {36300, 62100}, 1},
        {"NEM_SA", {16800, 55200}, 1},
        {"DE", {0}, 0},
    };
    /* every change is on a 5-minute boundary, so the 10 s grid gives the same windows */
    for (int poll = 0; poll <= 10; poll += 10) {
        sw_policy_config cfg = {SW_POLICY_THRESHOLD, 100, 600, poll};
        for (size_t k = 0; k < 4; k++) {
            int r = sw_trace_region_index(t, want[k].region);
            sw_window *w = NULL;
            size_t n = 0;
            cr_assert_eq(sw_windows_policy(t, (size_t)r, &cfg, &w, &n, NULL), SW_OK);
            expect_windows(w, n, want[k].w, want[k].n, want[k].region);
            free(w);
        }
    }
    sw_trace_destroy(t);
}

Test(windows, poll_grid_and_open_window_at_the_end)
{
    /* under from 95 to 1207, under again from 1500 to the end (2000) */
    double tu[] = {T0, T0 + 95, T0 + 1207, T0 + 1500};
    double v[] = {150, 50, 150, 20};
    sw_trace *t = NULL;
    cr_assert_eq(sw_trace_from_arrays("X", tu, v, 4, 500, &t, NULL), SW_OK);
    sw_window *w = NULL;
    size_t n = 0;
    cr_assert_eq(sw_windows_raw(t, 0, 100, &w, &n, NULL), SW_OK);
    double raw[] = {95, 1207, 1500, 2000};
    expect_windows(w, n, raw, 2, "raw");
    free(w);
    /* polled every 60 s without hysteresis: 120 .. 1260, 1500 .. end */
    sw_policy_config cfg = {SW_POLICY_THRESHOLD, 100, 0, 60};
    cr_assert_eq(sw_windows_policy(t, 0, &cfg, &w, &n, NULL), SW_OK);
    double polled[] = {120, 1260, 1500, 2000};
    expect_windows(w, n, polled, 2, "polled");
    free(w);
    /* hysteresis 600 bridges the 293 s gap: one window, still open at the end */
    cfg = (sw_policy_config){SW_POLICY_THRESHOLD, 100, 600, 0};
    cr_assert_eq(sw_windows_policy(t, 0, &cfg, &w, &n, NULL), SW_OK);
    double merged[] = {95, 2000};
    expect_windows(w, n, merged, 1, "hysteresis");
    free(w);
    sw_trace_destroy(t);
}

Test(windows, bad_input_is_rejected)
{
    sw_trace *t = reference();
    sw_window *w = (sw_window *)1;
    size_t n = 7;
    sw_error err;
    cr_expect_eq(sw_windows_raw(t, 9, 100, &w, &n, &err), SW_EINPUT);
    cr_expect_null(w);
    cr_expect_eq(n, 0);
    cr_expect_not_null(strstr(err.msg, "region 9"), "%s", err.msg);
    cr_expect_eq(sw_windows_raw(t, 0, -5, &w, &n, &err), SW_EINPUT);
    cr_expect_not_null(strstr(err.msg, "policy.threshold_g_per_kwh"), "%s", err.msg);
    sw_policy_config always = {.kind = SW_POLICY_ALWAYS_ON};
    cr_expect_eq(sw_windows_policy(t, 0, &always, &w, &n, &err), SW_EINPUT);
    cr_expect_not_null(strstr(err.msg, "policy.kind"), "%s", err.msg);
    sw_trace_destroy(t);
}
