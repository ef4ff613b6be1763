/* test_sim.c - the simulator end to end: the reference scenario with its invariants, and
 * small hand-checked scenarios with exact timelines, energy and carbon. Each Criterion test
 * runs in its own process, which is what SimGrid (once per process) needs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/report.h"
#include "core/scenario.h"
#include "core/trace.h"
#include "sim/sim.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sw-test-sim-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

/* Runs a scenario (file or text) and opens its report. */
static sw_report_data *run_scenario(const char *file, const char *text, sw_scenario *sc)
{
    sw_error err;
    int rc = file ? sw_scenario_load(file, NULL, 0, sc, &err)
                  : sw_scenario_parse_text(text, "test.yaml", NULL, 0, sc, &err);
    cr_assert_eq(rc, SW_OK, "scenario: %s", err.msg);
    char out[512];
    snprintf(out, sizeof out, "%s/report.h5", tmpdir);
    sw_sim_options opt = {.out_path = out, .quiet = true, .created_utc = "2026-01-01T00:00:00Z"};
    rc = sw_sim_run(sc, &opt, NULL, &err);
    cr_assert_eq(rc, SW_OK, "sim: %s", err.msg);
    sw_report_data *d;
    rc = sw_report_open(out, &d, &err);
    cr_assert_eq(rc, SW_OK, "report: %s", err.msg);
    return d;
}

/* ∫ power dt of a site's power step series over [0, end_s], J. */
static double energy_j(const sw_report_site_data *s, double end_s)
{
    double e = 0;
    for (size_t i = 0; i < s->n_power; i++) {
        double t1 = i + 1 < s->n_power ? s->power[i + 1].t_s : end_s;
        e += s->power[i].power_w * (t1 - s->power[i].t_s);
    }
    return e;
}

Test(sim, paper_scenario_invariants, .init = make_tmpdir, .fini = rm_tmpdir, .timeout = 120)
{
    sw_scenario sc;
    sw_report_data *d = run_scenario("scenarios/paper.yaml", NULL, &sc);
    cr_assert_eq(d->mode, SW_REPORT_SIM);
    cr_assert_eq(d->loss_kind, SW_REPORT_LOSS_MODELLED);
    cr_assert_eq(d->n_sites, 3);
    cr_assert_eq(d->n_signals, 3, "one signal per site region");
    cr_assert_gt(d->n_rounds, 1);
    cr_assert_gt(d->n_events, 10);
    cr_assert_eq(d->n_global, d->n_rounds);
    double end_s = d->summary.runtime_h * 3600;

    sw_trace *tr;
    sw_error err;
    cr_assert_eq(sw_trace_load(sc.trace.file, NULL, &tr, &err), SW_OK, "%s", err.msg);
    double total_j = 0, carbon_g = 0;
    int64_t site_tokens = 0;
    for (size_t i = 0; i < d->n_sites; i++) {
        const sw_report_site_data *s = &d->sites[i];
        /* Energy: the power step series integrates to the ledger's per-site energy. */
        double e = energy_j(s, end_s);
        cr_assert_float_eq(e / 3.6e6, s->summary.energy_kwh, 1e-6 + 1e-9 * e, "site %s", s->name);
        total_j += e;
        /* Carbon: ∫ power × MCI of the site's region, integrated independently here. */
        double *pt = malloc(s->n_power * sizeof *pt), *pw = malloc(s->n_power * sizeof *pw);
        for (size_t k = 0; k < s->n_power; k++) {
            pt[k] = d->t0_unix_s + s->power[k].t_s;
            pw[k] = s->power[k].power_w;
        }
        double g;
        int reg = sw_trace_region_index(tr, s->region);
        cr_assert_geq(reg, 0);
        cr_assert_eq(sw_trace_carbon(tr, (size_t)reg, pt, pw, s->n_power, d->t0_unix_s,
                                     d->t0_unix_s + end_s, &g, &err),
                     SW_OK, "%s", err.msg);
        cr_assert_float_eq(g / 1000, s->summary.carbon_kg, 1e-6 + 1e-6 * g / 1000,
                           "site %s: %.9g g vs %.9g kg", s->name, g, s->summary.carbon_kg);
        carbon_g += g;
        free(pt);
        free(pw);
        /* No training outside provisioned intervals: every train row falls while the site is
         * training (or draining the last chunk), and power is the training power then. */
        for (size_t k = 0; k < s->n_train; k++) {
            double t = s->train[k].t_s;
            sw_report_state st = SW_REPORT_STATE_OFF;
            for (size_t j = 0; j < s->n_states && s->states[j].t_s < t; j++)
                st = s->states[j].state;
            cr_assert(st == SW_REPORT_STATE_TRAINING || st == SW_REPORT_STATE_DRAINING,
                      "site %s trains at %.1f s in state %d", s->name, t, st);
            /* ... and its signal was under the threshold within the hysteresis before. */
        }
        site_tokens += s->summary.tokens;
    }
    cr_assert_float_eq(total_j / 3.6e6, d->summary.energy_kwh, 1e-6);
    cr_assert_float_eq(carbon_g / 1000, d->summary.carbon_kg, 1e-6);
    /* Tokens: the data is used up, and what the sites trained is what the model holds. */
    cr_assert_eq(d->summary.tokens, (int64_t)sc.model.tokens);
    cr_assert_eq(site_tokens, d->summary.tokens);
    int64_t round_tokens = 0;
    for (size_t i = 0; i < d->n_rounds; i++)
        round_tokens += d->rounds[i].tokens;
    cr_assert_eq(round_tokens, d->summary.tokens);
    /* The curtailment-aware run draws nearly all its energy inside windows. */
    cr_assert_gt(d->summary.curtailed_energy_fraction, 0.9);
    /* Perplexity is modelled, finite, and goes down over the rounds. */
    cr_assert_lt(d->global[d->n_global - 1].ppl, d->global[0].ppl);
    cr_assert_float_eq(d->summary.final_ppl, exp(d->summary.final_loss), 1e-9);
    sw_trace_destroy(tr);
    sw_report_data_free(d);
    sw_scenario_free(&sc);
}

/* A two-region trace: region A is curtailed (10 g/kWh) on [0, 3630) s and dirty (500)
 * after; region B is curtailed on [1200, 2430). Times from 2026-01-01T00:00:00Z. */
static void write_small_trace(char *path, size_t cap)
{
    snprintf(path, cap, "%s/small.csv", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "time,A,B\n");
    for (int t = 0; t < 7200; t += 30) {
        double a = t < 3630 ? 10 : 500, b = (t >= 1200 && t < 2430) ? 20 : 400;
        fprintf(f, "2026-01-01T%02d:%02d:%02dZ,%g,%g\n", t / 3600, t / 60 % 60, t % 60, a, b);
    }
    fclose(f);
}

static const char *small_yaml =
    "name: small\n"
    "trace: { file: %s }\n"
    "policy: { kind: threshold, threshold_g_per_kwh: 100, deprovision_after_s: 0, poll_s: 0 }\n"
    "rounds: { min_duration_s: 600, startup_s: 0, return_s: 0, aggregate_s: 0 }\n"
    "model: { params: 1000, tokens: 1e15, batch_tokens: 1000, step_s: 1, log_interval_s: 60 }\n"
    "network: { wan_gbps: 1000, wan_latency_ms: 0 }\n"
    "sites:\n"
    "  - { name: a, region: A, provision_s: 240, drain_s: 0, power_w: { train: 2000, idle: 500 } "
    "}\n"
    "%s";

/* Tolerance for transfer times of the tiny model (4 kB at 125 GB/s) added to the timeline. */
#define EPS 1e-3

Test(sim, one_site_exact_timeline_energy_carbon, .init = make_tmpdir, .fini = rm_tmpdir)
{
    /* Hand derivation: A is under the threshold at t = 0 -> provisioned at 0, ready at 240
     * (provision_s), round 0 starts at 240 (single site, open-ended), trains in 60 s chunks
     * 240, 300, ..., the signal goes above at 3630 -> release wanted (hysteresis 0) -> stop
     * after the chunk running 3600..3660 -> released at 3660.
     * Energy: 240 s x 500 W (provisioning) + 3420 s x 2000 W (training) = 6.96e6 J.
     * Carbon: [0,3630) at 10 g/kWh, [3630,3660) at 500 g/kWh:
     *   (240*500 + 3390*2000) * 10 / 3.6e6 + 30*2000 * 500 / 3.6e6 = 19.1667 + 8.3333 g. */
    char trace[300], yaml[2048];
    write_small_trace(trace, sizeof trace);
    snprintf(yaml, sizeof yaml, small_yaml, trace, "");
    sw_scenario sc;
    sw_report_data *d = run_scenario(NULL, yaml, &sc);
    cr_assert_eq(d->n_rounds, 1);
    cr_assert_float_eq(d->rounds[0].t_start_s, 240, EPS);
    cr_assert_float_eq(d->rounds[0].t_end_s, 3660, EPS);
    cr_assert_eq(d->rounds[0].tokens, 3420 * 1000);
    cr_assert_eq(d->summary.tokens, 3420 * 1000);
    /* The data is not used up, so the run lasts until the horizon: the trace end (7200 s)
     * less the wind-down margin that lets a running round finish inside the trace (one log
     * interval of 60 s + drain/return 0 + aggregate 0 + the transfer + 1 s). */
    cr_assert_float_eq(d->summary.runtime_h * 3600, 7200 - 61, EPS);
    const sw_report_site_data *a = &d->sites[0];
    cr_assert_float_eq(energy_j(a, 3660), 240 * 500 + 3420 * 2000, 1);
    cr_assert_float_eq(d->summary.energy_kwh, (240 * 500 + 3420 * 2000) / 3.6e6, 1e-6);
    double carbon_g = (240 * 500 + 3390 * 2000) * 10 / 3.6e6 + 30 * 2000 * 500 / 3.6e6;
    cr_assert_float_eq(d->summary.carbon_kg * 1000, carbon_g, 1e-3);
    cr_assert_float_eq(d->summary.curtailed_energy_fraction,
                       (240 * 500 + 3390 * 2000) / (240 * 500 + 3420 * 2000.0), 1e-6);
    cr_assert_float_eq(d->summary.gpu_hours, 4 * 3660 / 3600.0, 1e-6);
    /* States: off, provisioning at 0, training from 240 ... off at the release. */
    cr_assert_eq(a->states[0].state, SW_REPORT_STATE_OFF);
    bool saw_prov = false, saw_train = false;
    for (size_t i = 0; i < a->n_states; i++) {
        if (a->states[i].state == SW_REPORT_STATE_PROVISIONING)
            saw_prov = fabs(a->states[i].t_s - 0) < EPS;
        if (a->states[i].state == SW_REPORT_STATE_TRAINING && !saw_train)
            saw_train = fabs(a->states[i].t_s - 240) < EPS;
    }
    cr_assert(saw_prov && saw_train);
    cr_assert_eq(a->states[a->n_states - 1].state, SW_REPORT_STATE_OFF);
    cr_assert_float_eq(a->states[a->n_states - 1].t_s, 3660, EPS);
    sw_report_data_free(d);
    sw_scenario_free(&sc);
}

Test(sim, two_sites_join_at_next_round, .init = make_tmpdir, .fini = rm_tmpdir)
{
    /* Site b (region B, curtailed from 1200) is provisioned at 1200 and ready at 1450. a has
     * been training alone since 240 (single-site mode); b's arrival ends that round: a stops
     * after its chunk 1440..1500, reports, and round 1 starts at 1500 with both sites, with a
     * deadline at 1500 + 600 = 2100. Round 2 starts at 2100 with both; B goes dirty at 2430:
     * b is stopped and leaves after its chunk (2400..2460). */
    char trace[300], yaml[2048];
    write_small_trace(trace, sizeof trace);
    snprintf(yaml, sizeof yaml, small_yaml, trace,
             "  - { name: b, region: B, provision_s: 250, drain_s: 0 }\n");
    sw_scenario sc;
    sw_report_data *d = run_scenario(NULL, yaml, &sc);
    cr_assert_geq(d->n_rounds, 3);
    cr_assert_float_eq(d->rounds[0].t_start_s, 240, EPS);
    cr_assert_float_eq(d->rounds[0].t_end_s, 1500, EPS);
    cr_assert_eq(d->rounds[0].n_sites, 1);
    cr_assert_eq(d->rounds[0].tokens, (1500 - 240) * 1000);
    cr_assert_float_eq(d->rounds[1].t_start_s, 1500, EPS);
    cr_assert_eq(d->rounds[1].n_sites, 2);
    cr_assert(sw_report_mask_test(d->rounds[1].sites, 0) &&
              sw_report_mask_test(d->rounds[1].sites, 1));
    cr_assert_float_eq(d->rounds[1].t_end_s, 2100, EPS);
    cr_assert_eq(d->rounds[1].tokens, 2 * 600 * 1000);
    cr_assert_gt(d->rounds[1].sync_bytes, 0);
    /* b trained only inside its window (plus the last chunk). */
    const sw_report_site_data *b = &d->sites[1];
    for (size_t i = 0; i < b->n_train; i++)
        cr_assert(b->train[i].t_s > 1450 && b->train[i].t_s <= 2460 + EPS, "b at %.1f",
                  b->train[i].t_s);
    cr_assert_eq(b->states[b->n_states - 1].state, SW_REPORT_STATE_OFF);
    sw_report_data_free(d);
    sw_scenario_free(&sc);
}

Test(sim, bad_region_is_an_input_error, .init = make_tmpdir, .fini = rm_tmpdir)
{
    char trace[300], yaml[2048];
    write_small_trace(trace, sizeof trace);
    snprintf(yaml, sizeof yaml, small_yaml, trace, "  - { name: c, region: MARS }\n");
    sw_scenario sc;
    sw_error err;
    cr_assert_eq(sw_scenario_parse_text(yaml, "test.yaml", NULL, 0, &sc, &err), SW_OK, "%s",
                 err.msg);
    char out[512];
    snprintf(out, sizeof out, "%s/bad.h5", tmpdir);
    sw_sim_options opt = {.out_path = out, .quiet = true};
    cr_assert_eq(sw_sim_run(&sc, &opt, NULL, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "sites[1].region") && strstr(err.msg, "MARS"), "%s", err.msg);
    cr_assert_neq(access(out, F_OK), 0, "no report is written");
    sw_scenario_free(&sc);
}

Test(sim, always_on_until_the_trace_ends, .init = make_tmpdir, .fini = rm_tmpdir)
{
    /* A site that never stops (a centralized baseline) with more data than time: the horizon
     * must leave room to finish the last chunk and return the work inside the trace, so the
     * carbon of every joule can be integrated. */
    char trace[300], yaml[2048];
    write_small_trace(trace, sizeof trace);
    snprintf(yaml, sizeof yaml, small_yaml, trace, "");
    char *p = strstr(yaml, "kind: threshold");
    cr_assert_not_null(p);
    memcpy(p, "kind: always_on", 15);
    sw_scenario sc;
    sw_report_data *d = run_scenario(NULL, yaml, &sc);
    cr_assert_eq(d->summary.curtailed_energy_fraction,
                 d->summary.curtailed_energy_fraction); /* not NaN */
    cr_assert_leq(d->summary.runtime_h * 3600, 7200);
    cr_assert_gt(d->summary.runtime_h * 3600, 7000);
    cr_assert_eq(d->sites[0].states[d->sites[0].n_states - 1].state, SW_REPORT_STATE_OFF);
    sw_report_data_free(d);
    sw_scenario_free(&sc);
}

Test(sim, not_provisioned_when_it_cannot_be_ready_before_the_end, .init = make_tmpdir,
     .fini = rm_tmpdir)
{
    /* The run ends (horizon 300 s - 61 s wind-down = 239 s) before the site's 240 s of
     * provisioning could be over: the engine does not provision it at all, and the run still
     * ends with a complete report. */
    char trace[300], yaml[2048];
    write_small_trace(trace, sizeof trace);
    snprintf(yaml, sizeof yaml, small_yaml, trace, "");
    char *p = strstr(yaml, "trace: { file: ");
    cr_assert_not_null(p);
    char with_end[2300];
    snprintf(with_end, sizeof with_end, "%.*strace: { end: 2026-01-01T00:05:00Z, file: %s",
             (int)(p - yaml), yaml, p + strlen("trace: { file: "));
    sw_scenario sc;
    sw_report_data *d = run_scenario(NULL, with_end, &sc);
    cr_assert_eq(d->n_rounds, 0);
    cr_assert_eq(d->summary.tokens, 0);
    const sw_report_site_data *a = &d->sites[0];
    cr_assert_eq(a->states[a->n_states - 1].state, SW_REPORT_STATE_OFF);
    cr_assert_eq(a->n_states, 1, "only the initial off row");
    cr_assert_float_eq(d->summary.energy_kwh, 0, 1e-12);
    cr_assert(d->complete);
    sw_report_data_free(d);
    sw_scenario_free(&sc);
}
