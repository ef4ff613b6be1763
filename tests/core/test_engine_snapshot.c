/* test_engine_snapshot.c - saving and restoring the engine (core/engine_snapshot.c): a pending
 * hysteresis mark survives a restore and the release comes at the same time; bad snapshots are
 * refused naming what does not match; prebuilt policies sharing one group decision (deadline)
 * replay to the same state. (The property test that a restored engine takes every
 * decision alike on random worlds is in test_engine.c.) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/forecast.h"
#include "core/policy_lookahead.h"
#include "core/trace.h"

#define T0 1768150800.0 /* 2026-01-11T17:00:00Z */

/* A: under 17:05-17:20 (t = 300 .. 1200 s), above after. */
static const char a_csv[] = "time,A\n"
                            "2026-01-11T17:00:00Z,300\n"
                            "2026-01-11T17:05:00Z,60\n"
                            "2026-01-11T17:20:00Z,300\n"
                            "2026-01-11T17:55:00Z,300\n";

static sw_trace *parse(const char *csv)
{
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_parse(csv, strlen(csv), "t.csv", NULL, &tr, &err), SW_OK, "%s", err.msg);
    return tr;
}

static const sw_engine_site one_site[1] = {{"a", 0, 240}};

static sw_engine_config config(const sw_trace *tr)
{
    return (sw_engine_config){.start_unix_s = T0,
                              .trace = tr,
                              .sites = one_site,
                              .n_sites = 1,
                              .policy = {SW_POLICY_THRESHOLD, 100, 600, 0},
                              .rounds = {600}};
}

/* Drives e to t = 1500 s: provisioned at 300, ready at 540, training; the signal went above
 * at 1200, so the release is pending until 1800. */
static void to_pending_mark(sw_engine *e)
{
    sw_action out[8];
    double wake;
    sw_engine_step(e, 0, NULL, out, 8, &wake);
    sw_engine_step(e, 300, NULL, out, 8, &wake);
    sw_event ready = {.kind = SW_EV_SITE_READY, .site = 0};
    sw_engine_step(e, 540, &ready, out, 8, &wake);
    sw_engine_step(e, 1500, NULL, out, 8, &wake);
    cr_assert_eq(sw_engine_site_state(e, 0), SW_SITE_TRAINING);
    cr_assert(sw_engine_site_wanted(e, 0), "still wanted: the release is pending");
    cr_assert_eq(wake, 1800, "the hysteresis deadline");
}

static sw_engine *restored(const sw_engine_config *cfg, const sw_engine *e)
{
    uint8_t *buf;
    size_t len;
    sw_error err;
    cr_assert_eq(sw_engine_snapshot(e, &buf, &len, &err), SW_OK, "%s", err.msg);
    sw_engine *r;
    cr_assert_eq(sw_engine_restore(cfg, buf, len, &r, &err), SW_OK, "%s", err.msg);
    free(buf);
    return r;
}

Test(engine_snapshot, a_pending_hysteresis_mark_survives_a_restore)
{
    sw_trace *tr = parse(a_csv);
    sw_engine_config cfg = config(tr);
    sw_engine *a = NULL, *b0 = NULL;
    sw_error err;
    cr_assert_eq(sw_engine_create(&cfg, &a, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_engine_create(&cfg, &b0, &err), SW_OK, "%s", err.msg);
    to_pending_mark(a);
    to_pending_mark(b0);
    sw_engine *b = restored(&cfg, b0); /* the coordinator died at 1500 s and came back */
    sw_engine_destroy(b0);
    cr_assert_eq(sw_engine_now(b), 1500);
    cr_assert_eq(sw_engine_site_state(b, 0), SW_SITE_TRAINING);
    cr_assert(sw_engine_site_wanted(b, 0));
    cr_assert_eq(sw_engine_round(b)->id, 0);
    sw_action oa[8], ob[8];
    double wa, wb;
    size_t na = sw_engine_step(a, 1800, NULL, oa, 8, &wa);
    size_t nb = sw_engine_step(b, 1800, NULL, ob, 8, &wb);
    cr_assert_eq(na, nb);
    cr_assert_geq(na, 1);
    for (size_t i = 0; i < na; i++) {
        cr_assert_eq(oa[i].kind, ob[i].kind, "action %zu", i);
        cr_assert_eq(oa[i].t_s, ob[i].t_s, "action %zu", i);
        cr_assert_eq(oa[i].site, ob[i].site, "action %zu", i);
        cr_assert_eq(oa[i].round, ob[i].round, "action %zu", i);
    }
    cr_assert_eq(ob[0].kind, SW_ACT_STOP_SITE, "released at the deadline, 1800 s");
    cr_assert_eq(ob[0].t_s, 1800);
    cr_assert_eq(wa, wb);
    sw_engine_destroy(a);
    sw_engine_destroy(b);
    sw_trace_destroy(tr);
}

Test(engine_snapshot, bad_snapshots_are_refused_naming_what)
{
    sw_trace *tr = parse(a_csv);
    sw_engine_config cfg = config(tr);
    sw_engine *e;
    sw_error err;
    cr_assert_eq(sw_engine_create(&cfg, &e, &err), SW_OK, "%s", err.msg);
    to_pending_mark(e);
    uint8_t *buf;
    size_t len;
    cr_assert_eq(sw_engine_snapshot(e, &buf, &len, &err), SW_OK, "%s", err.msg);
    sw_engine *r;
    /* a flipped byte */
    buf[len / 2] ^= 0x40;
    cr_assert_eq(sw_engine_restore(&cfg, buf, len, &r, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "CRC"), "%s", err.msg);
    buf[len / 2] ^= 0x40;
    /* truncated */
    cr_assert_eq(sw_engine_restore(&cfg, buf, len - 9, &r, &err), SW_EINPUT);
    /* not a snapshot */
    cr_assert_eq(sw_engine_restore(&cfg, (const uint8_t *)"SWXCKPT1........", 16, &r, &err),
                 SW_EINPUT);
    cr_assert(strstr(err.msg, "magic"), "%s", err.msg);
    /* another configuration: two sites */
    sw_engine_site two[2] = {{"a", 0, 240}, {"b", 0, 240}};
    sw_engine_config c2 = cfg;
    c2.sites = two;
    c2.n_sites = 2;
    cr_assert_eq(sw_engine_restore(&c2, buf, len, &r, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "sites"), "%s", err.msg);
    /* another trace: the policy's replay does not reach the saved state */
    sw_trace *other = parse("time,A\n"
                            "2026-01-11T17:00:00Z,300\n"
                            "2026-01-11T17:05:00Z,300\n"
                            "2026-01-11T17:10:00Z,60\n"
                            "2026-01-11T17:25:00Z,300\n"
                            "2026-01-11T17:55:00Z,300\n");
    sw_engine_config c3 = config(other);
    cr_assert_eq(sw_engine_restore(&c3, buf, len, &r, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "next_eval_s"), "%s", err.msg);
    free(buf);
    /* with actions not yet handed out */
    sw_action out[1];
    double wake;
    sw_engine_step(e, 1800, NULL, out, 0, &wake); /* cap 0: the STOP stays queued */
    cr_assert_eq(sw_engine_snapshot(e, &buf, &len, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "not handed out"), "%s", err.msg);
    sw_engine_destroy(e);
    sw_trace_destroy(tr);
    sw_trace_destroy(other);
}

/* ---- prebuilt (look-ahead) policies ---- */

/* Two regions, 5-min steps over 3 h, A and B taking turns at being clean. */
static sw_trace *two_region_trace(void)
{
    char csv[4096];
    size_t n = (size_t)snprintf(csv, sizeof csv, "time,A,B\n");
    for (int k = 0; k <= 36; k++)
        n += (size_t)snprintf(csv + n, sizeof csv - n, "2026-01-11T%02d:%02d:00Z,%d,%d\n",
                              17 + k * 5 / 60, k * 5 % 60, (k / 4) % 2 ? 40 + 7 * (k % 5) : 300,
                              (k / 3) % 2 ? 300 : 55 + 5 * (k % 4));
    return parse(csv);
}

static const sw_engine_site two_sites[2] = {{"a", 0, 240}, {"b", 1, 240}};

/* Deadline policies for both sites, sharing one plan over forecast fc. */
static void deadline_policies(const sw_forecast *fc, sw_policy **out)
{
    sw_lookahead_site ls[2] = {{0, 325, 2e5, 2024, 468}, {1, 325, 2e5, 2024, 468}};
    sw_deadline_config dc = {1e9, 3 * 3600, 900, 0.05, 0.8, 0};
    sw_error err;
    cr_assert_eq(sw_policy_deadline_create(&dc, fc, ls, 2, T0, out, &err), SW_OK, "%s", err.msg);
}

/* Steps e at t (ticks, and READY for every site provisioned before), returning the actions. */
static size_t drive(sw_engine *e, double t, double *ready_at, sw_action *out, size_t cap)
{
    sw_event evs[2];
    size_t ne = 0;
    for (int i = 0; i < 2; i++)
        if (ready_at[i] <= t && sw_engine_site_state(e, (size_t)i) == SW_SITE_PROVISIONING) {
            evs[ne++] = (sw_event){.kind = SW_EV_SITE_READY, .site = i};
            ready_at[i] = INFINITY;
        }
    double wake;
    size_t n = sw_engine_step_n(e, t, evs, ne, out, cap, &wake);
    for (size_t k = 0; k < n; k++)
        if (out[k].kind == SW_ACT_PROVISION_SITE)
            ready_at[out[k].site] = out[k].expected_ready_s;
    return n;
}

Test(engine_snapshot, group_policies_prebuilt_replay_together)
{
    sw_trace *tr = two_region_trace();
    sw_forecast_config fcfg = {.kind = SW_FORECAST_PERFECT};
    sw_forecast *fc;
    sw_error err;
    cr_assert_eq(sw_forecast_create(&fcfg, tr, &fc, &err), SW_OK, "%s", err.msg);
    sw_policy *pa[2], *pb[2];
    deadline_policies(fc, pa);
    sw_engine_config cfg = {.start_unix_s = T0,
                            .trace = tr,
                            .sites = two_sites,
                            .n_sites = 2,
                            .policies = pa,
                            .rounds = {600}};
    sw_engine *a;
    cr_assert_eq(sw_engine_create(&cfg, &a, &err), SW_OK, "%s", err.msg);
    double ready_a[2] = {INFINITY, INFINITY};
    sw_action acts[64];
    size_t provisioned = 0;
    for (double t = 0; t <= 4800; t += 60)
        for (size_t k = 0, n = drive(a, t, ready_a, acts, 64); k < n; k++)
            provisioned += acts[k].kind == SW_ACT_PROVISION_SITE;
    cr_assert_gt(provisioned, 0, "the plan provisions someone in the first 80 min");

    /* restored with freshly built policies over the same forecast */
    deadline_policies(fc, pb);
    cfg.policies = pb;
    sw_engine *b = restored(&cfg, a);
    double ready_b[2] = {ready_a[0], ready_a[1]};
    for (double t = 4860; t <= 3 * 3600 + 600; t += 60) {
        sw_action ab[64];
        size_t na = drive(a, t, ready_a, acts, 64), nb = drive(b, t, ready_b, ab, 64);
        cr_assert_eq(na, nb, "t=%g: %zu vs %zu actions", t, na, nb);
        for (size_t k = 0; k < na; k++)
            cr_assert(acts[k].kind == ab[k].kind && acts[k].site == ab[k].site, "t=%g", t);
        for (size_t i = 0; i < 2; i++)
            cr_assert_eq(sw_engine_site_wanted(a, i), sw_engine_site_wanted(b, i), "t=%g", t);
    }
    sw_engine_destroy(a);
    sw_engine_destroy(b);

    /* the engine owns prebuilt policies also when it refuses the configuration */
    deadline_policies(fc, pb);
    cfg.policies = pb;
    cfg.rounds.min_duration_s = 0;
    cr_assert_eq(sw_engine_create(&cfg, &b, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "rounds.min_duration_s"), "%s", err.msg);
    sw_forecast_destroy(fc);
    sw_trace_destroy(tr);
}
