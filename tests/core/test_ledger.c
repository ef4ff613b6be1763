/* test_ledger.c - energy and carbon accounting (core/ledger.h): hand-checked figures on a small
 * trace, curtailed fraction, PUE, GPU-hours, attributional carbon, bad input, and a seeded
 * property test against sums computed here from the raw step function.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ledger.h"
#include "core/trace.h"

#define T0_UNIX 1768150800.0 /* 2026-01-11 17:00 UTC, the reference trace's start */

/* MCI 50, 200, 80, 120 g/kWh on 5-minute steps: [0,300) 50, [300,600) 200, [600,900) 80,
 * [900,1200) 120 seconds after T0_UNIX. */
static sw_trace *small_trace(void)
{
    const double t[] = {T0_UNIX, T0_UNIX + 300, T0_UNIX + 600, T0_UNIX + 900};
    const double v[] = {50, 200, 80, 120};
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_from_arrays("X", t, v, 4, 300, &tr, &err), SW_OK, "%s", err.msg);
    return tr;
}

static sw_trace *flat_trace(double value)
{
    const double t[] = {T0_UNIX, T0_UNIX + 600};
    const double v[] = {value, value};
    sw_trace *tr = NULL;
    cr_assert_eq(sw_trace_from_arrays("AVG", t, v, 2, 600, &tr, NULL), SW_OK);
    return tr;
}

static sw_ledger *ledger_with(const sw_trace *tr, double pue, unsigned gpus, const sw_trace *avg)
{
    sw_ledger *l = NULL;
    sw_error err;
    cr_assert_eq(sw_ledger_create(T0_UNIX, 100, &l, &err), SW_OK, "%s", err.msg);
    sw_ledger_site_config c = {
        .name = "california", .marginal = tr, .average = avg, .pue = pue, .gpus = gpus};
    size_t idx = 99;
    cr_assert_eq(sw_ledger_add_site(l, &c, &idx, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(idx, 0);
    return l;
}

static sw_ledger_totals totals(const sw_ledger *l, size_t site, int state)
{
    sw_ledger_totals t;
    sw_error err;
    cr_assert_eq(sw_ledger_query(l, site, state, &t, &err), SW_OK, "%s", err.msg);
    return t;
}

Test(ledger, two_kw_for_ten_minutes_across_a_change_point)
{
    /* [150, 750) s at 2 kW: 150 s at 50, 300 s at 200, 150 s at 80 g/kWh.
     *   energy  = 2000 W · 600 s = 1.2 MJ = 1/3 kWh
     *   carbon  = 2000 · (150·50 + 300·200 + 150·80) / 3.6e6 = 2000 · 79500 / 3.6e6 = 44.1667 g
     *   curtailed (MCI < 100): the 150 s at 50 and the 150 s at 80 = 0.6 MJ, fraction 0.5 */
    sw_trace *tr = small_trace();
    sw_ledger *l = ledger_with(tr, 0, 4, NULL);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_TRAINING, 150, 750, 2000, NULL), SW_OK);
    sw_ledger_totals t = totals(l, 0, SW_LEDGER_ALL_STATES);
    cr_assert_float_eq(t.energy_j, 1.2e6, 1e-6);
    cr_assert_float_eq(t.energy_kwh, 1.0 / 3.0, 1e-12);
    cr_assert_float_eq(t.carbon_g, 2000.0 * 79500.0 / 3.6e6, 1e-9);
    cr_assert_float_eq(t.carbon_g, 44.166666666666667, 1e-9);
    cr_assert_float_eq(t.carbon_kg, 0.044166666666666667, 1e-12);
    cr_assert_float_eq(t.curtailed_energy_j, 6e5, 1e-6);
    cr_assert_float_eq(t.curtailed_fraction, 0.5, 1e-12);
    cr_assert_float_eq(t.gpu_hours, 4 * 600.0 / 3600.0, 1e-12);
    cr_assert_float_eq(t.duration_s, 600, 1e-12);
    cr_assert(isnan(t.attributional_carbon_g));
    sw_ledger_destroy(l);
    sw_trace_destroy(tr);
}

Test(ledger, states_are_kept_apart_and_add_up)
{
    /* Provisioning 240 s at idle power 468 W inside the first step (50 g/kWh, curtailed), then
     * training [240, 900) at 2024 W: 60 s at 50, 300 s at 200, 300 s at 80. */
    sw_trace *tr = small_trace();
    sw_ledger *l = ledger_with(tr, 0, 4, NULL);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_PROVISIONING, 0, 240, 468, NULL), SW_OK);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_TRAINING, 240, 900, 2024, NULL), SW_OK);
    sw_ledger_totals p = totals(l, 0, SW_LEDGER_PROVISIONING);
    sw_ledger_totals tr_ = totals(l, 0, SW_LEDGER_TRAINING);
    sw_ledger_totals idle = totals(l, 0, SW_LEDGER_IDLE);
    sw_ledger_totals all = totals(l, SW_LEDGER_ALL_SITES, SW_LEDGER_ALL_STATES);
    cr_assert_float_eq(p.energy_j, 468.0 * 240, 1e-9);
    cr_assert_float_eq(p.carbon_g, 468.0 * 240 * 50 / 3.6e6, 1e-12);
    cr_assert_float_eq(p.curtailed_fraction, 1.0, 1e-12);
    cr_assert_float_eq(tr_.energy_j, 2024.0 * 660, 1e-9);
    cr_assert_float_eq(tr_.carbon_g, 2024.0 * (60 * 50 + 300 * 200 + 300 * 80) / 3.6e6, 1e-9);
    cr_assert_float_eq(tr_.curtailed_energy_j, 2024.0 * 360, 1e-9);
    cr_assert_eq(idle.energy_j, 0);
    cr_assert_eq(idle.curtailed_fraction, 0);
    cr_assert_float_eq(all.energy_j, p.energy_j + tr_.energy_j, 1e-9);
    cr_assert_float_eq(all.carbon_g, p.carbon_g + tr_.carbon_g, 1e-12);
    cr_assert_float_eq(all.curtailed_fraction,
                       (468.0 * 240 + 2024.0 * 360) / (468.0 * 240 + 2024.0 * 660), 1e-12);
    cr_assert_float_eq(all.gpu_hours, 4 * 900.0 / 3600, 1e-12);
    cr_assert_str_eq(sw_ledger_state_name(SW_LEDGER_SYNCING), "syncing");
    cr_assert_null(sw_ledger_state_name(SW_LEDGER_STATE_COUNT));
    sw_ledger_destroy(l);
    sw_trace_destroy(tr);
}

Test(ledger, pue_scales_energy_and_carbon_but_not_the_fraction)
{
    sw_trace *tr = small_trace();
    sw_ledger *l = ledger_with(tr, 1.5, 8, NULL);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_TRAINING, 150, 750, 2000, NULL), SW_OK);
    sw_ledger_totals t = totals(l, 0, SW_LEDGER_ALL_STATES);
    cr_assert_float_eq(t.it_energy_j, 1.2e6, 1e-6);
    cr_assert_float_eq(t.energy_j, 1.8e6, 1e-6);
    cr_assert_float_eq(t.carbon_g, 1.5 * 44.166666666666667, 1e-9);
    cr_assert_float_eq(t.curtailed_energy_j, 9e5, 1e-6);
    cr_assert_float_eq(t.curtailed_fraction, 0.5, 1e-12);
    cr_assert_float_eq(t.gpu_hours, 8 * 600.0 / 3600, 1e-12, "GPU-hours do not depend on PUE");
    sw_ledger_destroy(l);
    sw_trace_destroy(tr);
}

Test(ledger, attributional_carbon_uses_the_average_trace)
{
    sw_trace *tr = small_trace(), *avg = flat_trace(300);
    sw_ledger *l = ledger_with(tr, 0, 4, avg);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_SYNCING, 150, 750, 2000, NULL), SW_OK);
    sw_ledger_totals t = totals(l, 0, SW_LEDGER_SYNCING);
    cr_assert_float_eq(t.attributional_carbon_g, 2000.0 * 600 * 300 / 3.6e6, 1e-9); /* 100 g */
    cr_assert_float_eq(t.attributional_carbon_kg, 0.1, 1e-12);
    cr_assert_float_eq(t.carbon_g, 44.166666666666667, 1e-9);
    /* A second site without an average trace makes the all-sites sum undefined. */
    sw_ledger_site_config c = {.name = "texas", .marginal = tr};
    cr_assert_eq(sw_ledger_add_site(l, &c, NULL, NULL), SW_OK);
    cr_assert(isnan(totals(l, SW_LEDGER_ALL_SITES, SW_LEDGER_ALL_STATES).attributional_carbon_g));
    cr_assert_float_eq(totals(l, 0, SW_LEDGER_ALL_STATES).attributional_carbon_g, 100, 1e-9);
    sw_ledger_destroy(l);
    sw_trace_destroy(tr);
    sw_trace_destroy(avg);
}

Test(ledger, zero_length_interval_and_abutting_intervals)
{
    sw_trace *tr = small_trace();
    sw_ledger *l = ledger_with(tr, 0, 1, NULL);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_IDLE, 100, 100, 500, NULL), SW_OK);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_IDLE, 100, 300, 500, NULL), SW_OK);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_IDLE, 300, 1200, 500, NULL), SW_OK); /* to end */
    sw_ledger_totals t = totals(l, 0, SW_LEDGER_IDLE);
    cr_assert_float_eq(t.energy_j, 500.0 * 1100, 1e-9);
    cr_assert_float_eq(t.carbon_g, 500.0 * (200 * 50 + 300 * 200 + 300 * 80 + 300 * 120) / 3.6e6,
                       1e-12);
    cr_assert_float_eq(t.curtailed_energy_j, 500.0 * 500, 1e-9);
    sw_ledger_destroy(l);
    sw_trace_destroy(tr);
}

Test(ledger, bad_input_names_site_and_field_and_changes_nothing)
{
    sw_trace *tr = small_trace();
    sw_ledger *l = ledger_with(tr, 0, 4, NULL);
    sw_error err;
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_TRAINING, 0, 100, 1000, &err), SW_OK);
    cr_assert_eq(sw_ledger_add(l, 3, SW_LEDGER_TRAINING, 100, 200, 1000, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "site index 3"), "%s", err.msg);
    cr_assert_eq(sw_ledger_add(l, 0, (sw_ledger_state)7, 100, 200, 1000, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "'california'") && strstr(err.msg, "state = 7"), "%s", err.msg);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_TRAINING, 200, 100, 1000, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "t0_s = 200"), "%s", err.msg);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_TRAINING, 100, 200, -1, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "power_w = -1"), "%s", err.msg);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_TRAINING, 100, 200, NAN, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "power_w"), "%s", err.msg);
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_TRAINING, 50, 200, 1000, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "overlaps the previous interval"), "%s", err.msg);
    /* Beyond the trace's end (1200 s): the trace's message is passed on with the site. */
    cr_assert_eq(sw_ledger_add(l, 0, SW_LEDGER_TRAINING, 1100, 1300, 1000, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "'california'") && strstr(err.msg, "[1100, 1300)"), "%s", err.msg);
    sw_ledger_totals t = totals(l, 0, SW_LEDGER_ALL_STATES);
    cr_assert_float_eq(t.energy_j, 1e5, 1e-9, "a rejected interval was counted");
    cr_assert_eq(sw_ledger_query(l, 5, SW_LEDGER_ALL_STATES, &t, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "site index 5"), "%s", err.msg);

    sw_ledger_site_config c = {.name = "california", .marginal = tr};
    cr_assert_eq(sw_ledger_add_site(l, &c, NULL, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "already used"), "%s", err.msg);
    c = (sw_ledger_site_config){.name = "texas", .marginal = tr, .pue = 0.8};
    cr_assert_eq(sw_ledger_add_site(l, &c, NULL, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "'texas'") && strstr(err.msg, "pue = 0.8"), "%s", err.msg);
    c = (sw_ledger_site_config){.name = "texas", .marginal = tr, .marginal_region = 1};
    cr_assert_eq(sw_ledger_add_site(l, &c, NULL, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "marginal_region = 1"), "%s", err.msg);
    c = (sw_ledger_site_config){.name = "texas"};
    cr_assert_eq(sw_ledger_add_site(l, &c, NULL, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "marginal trace is missing"), "%s", err.msg);
    cr_assert_eq(sw_ledger_site_count(l), 1);
    sw_ledger_destroy(l);
    sw_trace_destroy(tr);
}

/* ---- property test ---- */

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static double uniform(uint64_t *x)
{
    return (double)(next_rand(x) >> 11) / 9007199254740992.0;
}

/* ∫ over [a, b) of the step function (times t[i] relative to T0_UNIX, value v[i] on
 * [t[i], t[i+1]), the last for `step` seconds), restricted to values < below when below is
 * finite, each value weighted by itself (weight_by_value) or by 1. Overlap sums written
 * independently of trace.c. */
static double step_overlap(const double *t, const double *v, size_t n, double step, double a,
                           double b, double below, int weight_by_value)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double lo = t[i], hi = i + 1 < n ? t[i + 1] : t[i] + step;
        lo = lo > a ? lo : a;
        hi = hi < b ? hi : b;
        if (hi > lo && v[i] < below)
            sum += (hi - lo) * (weight_by_value ? v[i] : 1.0);
    }
    return sum;
}

/* Random traces (5-minute steps, runs of equal values so change points merge, values around
 * the threshold) and random schedules of back-to-back or gapped intervals in random states and
 * powers on three sites with random PUE and GPU counts. The ledger must equal the sums of
 * P·PUE·Δt, of P·PUE·∫MCI/3.6e6 per interval, of curtailed parts and of GPU-seconds computed
 * here, per site and per state. */
Test(ledger, property_energy_and_carbon_equal_per_interval_sums)
{
    enum { N = 200, SITES = 3 };
    for (uint64_t seed = 1; seed <= 40; seed++) {
        uint64_t x = seed * 0x9E3779B97F4A7C15ull;
        double t[N], v[N], tu[N];
        for (size_t i = 0; i < N; i++) {
            t[i] = 300.0 * (double)i;
            tu[i] = T0_UNIX + t[i];
            v[i] = i > 0 && uniform(&x) < 0.3 ? v[i - 1] : floor(200 * uniform(&x));
        }
        sw_trace *tr = NULL;
        cr_assert_eq(sw_trace_from_arrays("R", tu, v, N, 300, &tr, NULL), SW_OK);
        sw_ledger *l = NULL;
        cr_assert_eq(sw_ledger_create(T0_UNIX, 100, &l, NULL), SW_OK);
        double pue[SITES];
        unsigned gpus[SITES];
        double e[SITES][SW_LEDGER_STATE_COUNT] = {{0}}, c[SITES][SW_LEDGER_STATE_COUNT] = {{0}};
        double cur[SITES] = {0}, gpu_s[SITES] = {0};
        for (size_t s = 0; s < SITES; s++) {
            char name[16];
            snprintf(name, sizeof name, "site%zu", s);
            pue[s] = 1.0 + 0.5 * uniform(&x);
            gpus[s] = (unsigned)(next_rand(&x) % 9);
            sw_ledger_site_config cfg = {
                .name = name, .marginal = tr, .pue = pue[s], .gpus = gpus[s]};
            cr_assert_eq(sw_ledger_add_site(l, &cfg, NULL, NULL), SW_OK);
            double now = 0, end = 300.0 * N;
            for (;;) {
                double t0 = now + (uniform(&x) < 0.5 ? 0 : 2000 * uniform(&x));
                double t1 = t0 + (uniform(&x) < 0.05 ? 0 : 1500 * uniform(&x));
                if (t1 > end)
                    break;
                int st = (int)(next_rand(&x) % SW_LEDGER_STATE_COUNT);
                double p = 3000 * uniform(&x);
                sw_error err;
                cr_assert_eq(sw_ledger_add(l, s, (sw_ledger_state)st, t0, t1, p, &err), SW_OK, "%s",
                             err.msg);
                e[s][st] += p * pue[s] * (t1 - t0);
                c[s][st] += p * pue[s] * step_overlap(t, v, N, 300, t0, t1, INFINITY, 1) / 3.6e6;
                cur[s] += p * pue[s] * step_overlap(t, v, N, 300, t0, t1, 100, 0);
                gpu_s[s] += gpus[s] * (t1 - t0);
                now = t1;
            }
        }
        double e_all = 0, c_all = 0, cur_all = 0;
        for (size_t s = 0; s < SITES; s++) {
            double e_site = 0, c_site = 0;
            for (int st = 0; st < SW_LEDGER_STATE_COUNT; st++) {
                sw_ledger_totals q = totals(l, s, st);
                cr_assert_float_eq(q.energy_j, e[s][st], 1e-9 * (e[s][st] + 1), "seed %llu",
                                   (unsigned long long)seed);
                cr_assert_float_eq(q.carbon_g, c[s][st], 1e-9 * (c[s][st] + 1), "seed %llu",
                                   (unsigned long long)seed);
                e_site += e[s][st];
                c_site += c[s][st];
            }
            sw_ledger_totals q = totals(l, s, SW_LEDGER_ALL_STATES);
            cr_assert_float_eq(q.energy_j, e_site, 1e-9 * (e_site + 1));
            cr_assert_float_eq(q.it_energy_j * pue[s], e_site, 1e-9 * (e_site + 1));
            cr_assert_float_eq(q.carbon_g, c_site, 1e-9 * (c_site + 1));
            cr_assert_float_eq(q.curtailed_energy_j, cur[s], 1e-9 * (cur[s] + 1), "seed %llu",
                               (unsigned long long)seed);
            cr_assert_float_eq(q.gpu_hours, gpu_s[s] / 3600, 1e-9 * (gpu_s[s] + 1));
            e_all += e_site;
            c_all += c_site;
            cur_all += cur[s];
        }
        sw_ledger_totals q = totals(l, SW_LEDGER_ALL_SITES, SW_LEDGER_ALL_STATES);
        cr_assert_float_eq(q.energy_j, e_all, 1e-9 * e_all);
        cr_assert_float_eq(q.carbon_g, c_all, 1e-9 * c_all);
        cr_assert_float_eq(q.curtailed_fraction, cur_all / e_all, 1e-9);
        sw_ledger_destroy(l);
        sw_trace_destroy(tr);
    }
}
