/* run_end_cases.h - the end-of-run scenarios of issue 9, shared by the sim and exec tests
 * (tests/sim/test_run_end.c, tests/exec/test_run_end.c), and the checks every run must pass
 * at its end: a complete report, every site off at or before the end of the run, the
 * ledger's energy equal to the integral of each site's /power rows.
 *
 * The trace has four regions on a 5-minute grid from 2026-01-01T00:00Z; the run ends at
 * 01:55 (t = 6900 s). With the defaults (log interval 60 s, drain 45 s, aggregate 2 s) the
 * engine winds down about 108 s before the end; a site needs its provisioning plus about
 * 88 s (download, start-up 85 s, one step) to train at all.
 *   A: 50 throughout                        -> trains until the trace ends
 *   C: 300, then 50 from 01:50 (5 min left) -> provisioning could not end in time
 *   D: 50, then 300 from 01:40; hysteresis 600 s -> released at 6600 s, drains near the end
 *   E: 300, then 50 from 01:30 (25 min left) -> provisioned, ready, trains a few minutes
 */
#ifndef SW_TEST_RUN_END_CASES_H
#define SW_TEST_RUN_END_CASES_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/report.h"

#define RUN_END_S 6900.0

/* Writes the trace to path. */
__attribute__((unused)) static void run_end_write_trace(const char *path)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "time,A,C,D,E\n");
    for (int k = 0; k < 24; k++) { /* 00:00 .. 01:55 */
        int min = 5 * k;
        fprintf(f, "2026-01-01T%02d:%02d:00Z,50,%d,%d,%d\n", min / 60, min % 60,
                min >= 110 ? 50 : 300, min >= 100 ? 300 : 50, min >= 90 ? 50 : 300);
    }
    fclose(f);
}

/* The scenario text: `policy` (threshold with the regions above, or always_on), `sites` the
 * YAML list of sites, `extra` more top-level YAML (an exec block). */
__attribute__((unused)) static void run_end_scenario(char *buf, size_t cap, const char *trace,
                                                     const char *policy, const char *sites,
                                                     const char *extra)
{
    snprintf(buf, cap,
             "name: run-end\n"
             "trace: {file: %s, start: 2026-01-01T00:00:00Z, end: 2026-01-01T01:55:00Z}\n"
             "policy: %s\n"
             "rounds: {min_duration_s: 600, startup_s: 85, return_s: 45, aggregate_s: 2}\n"
             "model: {params: 1.0e6, tokens: 1.0e15, log_interval_s: 60}\n"
             "network: {wan_gbps: 100, wan_latency_ms: 1}\n"
             "%s"
             "sites:\n%s",
             trace, policy, extra, sites);
}

static const char *const run_end_threshold_policy =
    "{kind: threshold, threshold_g_per_kwh: 100, deprovision_after_s: 600, poll_s: 10}";

static const char *const run_end_threshold_sites =
    "  - {name: a, region: A, provision_s: 240, drain_s: 45}\n"
    "  - {name: c, region: C, provision_s: 240, drain_s: 45}\n"
    "  - {name: d, region: D, provision_s: 240, drain_s: 45}\n"
    "  - {name: e, region: E, provision_s: 240, drain_s: 45}\n";

/* always on: x would be ready 10 s before the end, y 350 s before it (in time to train). */
static const char *const run_end_always_on_sites =
    "  - {name: x, region: A, provision_s: 6890, drain_s: 45}\n"
    "  - {name: y, region: A, provision_s: 6550, drain_s: 45}\n";

/* ∫ power dt of a site's /power rows over [0, end_s], J. */
__attribute__((unused)) static double run_end_power_j(const sw_report_site_data *s, double end_s)
{
    double e = 0;
    for (size_t i = 0; i < s->n_power; i++) {
        double t0 = fmin(s->power[i].t_s, end_s);
        double t1 = i + 1 < s->n_power ? fmin(s->power[i + 1].t_s, end_s) : end_s;
        e += s->power[i].power_w * (t1 - t0);
    }
    return e;
}

__attribute__((unused)) static double run_end_extra(const sw_report_data *d, const char *name)
{
    for (size_t i = 0; i < d->summary.n_extras; i++)
        if (!strcmp(d->summary.extras[i].name, name))
            return d->summary.extras[i].value;
    cr_assert_fail("summary extra %s missing", name);
    return NAN;
}

__attribute__((unused)) static int run_end_site(const sw_report_data *d, const char *name)
{
    for (size_t i = 0; i < d->n_sites; i++)
        if (!strcmp(d->sites[i].name, name))
            return (int)i;
    cr_assert_fail("no site %s", name);
    return -1;
}

/* Whether the site was ever provisioned. */
__attribute__((unused)) static bool run_end_provisioned(const sw_report_data *d, const char *name)
{
    const sw_report_site_data *s = &d->sites[run_end_site(d, name)];
    for (size_t i = 0; i < s->n_states; i++)
        if (s->states[i].state != SW_REPORT_STATE_OFF)
            return true;
    return false;
}

/* The checks every run passes at its end. unbooked_max_s: site-seconds allowed after the end
 * (0 in sim, whose costs are the scenario's; exec's real transfers may overrun a little). */
__attribute__((unused)) static void run_end_check(const sw_report_data *d, double unbooked_max_s)
{
    cr_assert(d->complete, "report marked incomplete: %s", d->incomplete_reason);
    double unbooked = run_end_extra(d, "unbooked_after_end_site_s");
    cr_assert_leq(unbooked, unbooked_max_s, "%.1f site-s after the end of the run", unbooked);
    double total_j = 0;
    for (size_t i = 0; i < d->n_sites; i++) {
        const sw_report_site_data *s = &d->sites[i];
        cr_assert_gt(s->n_states, 0);
        const sw_report_state_row *last = &s->states[s->n_states - 1];
        cr_assert_eq(last->state, SW_REPORT_STATE_OFF, "site %s ends in state %d", s->name,
                     last->state);
        if (unbooked_max_s == 0)
            cr_assert_leq(last->t_s, RUN_END_S + 1e-6, "site %s off at %.1f s", s->name, last->t_s);
        /* the ledger's energy is the integral of the site's /power rows up to the end */
        double e = run_end_power_j(s, RUN_END_S);
        cr_assert_float_eq(e / 3.6e6, s->summary.energy_kwh, 1e-9 + 1e-9 * e / 3.6e6,
                           "site %s: power rows %.9g kWh, summary %.9g kWh", s->name, e / 3.6e6,
                           s->summary.energy_kwh);
        total_j += e;
    }
    cr_assert_float_eq(total_j / 3.6e6, d->summary.energy_kwh, 1e-9 + 1e-9 * total_j / 3.6e6);
}

#endif
