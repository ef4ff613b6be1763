/* Tests of core/engine as a whole: configuration errors, rejected events, the action queue,
 * wake times, late drivers, the token target, the horizon, max_active_sites, failures, and
 * seeded property tests on random step traces with a random (but valid) fake driver. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/trace.h"

#define T0 1768150800.0 /* 2026-01-11T17:00:00Z */

static sw_trace *parse(const char *csv)
{
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_parse(csv, strlen(csv), "test.csv", NULL, &tr, &err), SW_OK, "%s",
                 err.msg);
    return tr;
}

/* A: under 17:05-17:20, above after; B: always above (never wanted); 5-minute rows to 17:55. */
static const char ab_csv[] = "time,A,B\n"
                             "2026-01-11T17:00:00Z,300,500\n"
                             "2026-01-11T17:05:00Z,60,500\n"
                             "2026-01-11T17:20:00Z,300,500\n"
                             "2026-01-11T17:55:00Z,300,500\n";

static sw_engine_config base_config(const sw_trace *tr, const sw_engine_site *sites, size_t n)
{
    return (sw_engine_config){.start_unix_s = T0,
                              .end_s = 0,
                              .trace = tr,
                              .sites = sites,
                              .n_sites = n,
                              .policy = {SW_POLICY_THRESHOLD, 100, 600, 0},
                              .rounds = {600}};
}

static sw_engine *create(const sw_engine_config *cfg)
{
    sw_engine *e = NULL;
    sw_error err;
    cr_assert_eq(sw_engine_create(cfg, &e, &err), SW_OK, "%s", err.msg);
    return e;
}

static size_t step(sw_engine *e, double t_s, sw_event_kind kind, int site, int64_t round,
                   uint64_t tokens, sw_action *out, size_t cap, double *wake_s)
{
    sw_event ev = {.kind = kind, .site = site, .round = round, .tokens = tokens};
    return sw_engine_step(e, t_s, &ev, out, cap, wake_s);
}

/* ---- configuration ---------------------------------------------------------------------- */

Test(engine, bad_configurations_name_the_field)
{
    sw_trace *tr = parse(ab_csv);
    sw_engine_site sites[2] = {{"a", 0, 240}, {"b", 1, 240}};
    for (int k = 0; k < 10; k++) {
        sw_engine_site s[2] = {sites[0], sites[1]};
        sw_engine_config c = base_config(tr, s, 2);
        const char *field = NULL;
        switch (k) {
        case 0:
            c.n_sites = 0;
            field = "sites";
            break;
        case 1:
            s[1].name = "a";
            field = "sites[1].name";
            break;
        case 2:
            s[0].region = 9;
            field = "sites[0].region";
            break;
        case 3:
            s[1].provision_s = -1;
            field = "sites[1].provision_s";
            break;
        case 4:
            c.rounds.min_duration_s = 0;
            field = "rounds.min_duration_s";
            break;
        case 5:
            c.policy.threshold_g_per_kwh = -1;
            field = "policy.threshold_g_per_kwh";
            break;
        case 6:
            c.trace = NULL;
            field = "trace";
            break;
        case 7:
            c.start_unix_s = NAN;
            field = "start_unix_s";
            break;
        case 8:
            c.start_unix_s = T0 + 1e6;
            field = "end_s";
            break;
        case 9:
            s[0].name = "";
            field = "sites[0].name";
            break;
        }
        sw_engine *e = (sw_engine *)tr;
        sw_error err;
        cr_expect_eq(sw_engine_create(&c, &e, &err), SW_EINPUT, "case %d", k);
        cr_expect_null(e, "case %d", k);
        cr_expect_not_null(strstr(err.msg, field), "case %d: \"%s\" lacks \"%s\"", k, err.msg,
                           field);
    }
    sw_trace_destroy(tr);
}

/* ---- events the engine refuses ---------------------------------------------------------- */

Test(engine, invalid_events_are_rejected_recorded_and_change_nothing)
{
    sw_trace *tr = parse(ab_csv);
    sw_engine_site sites[2] = {{"a", 0, 240}, {"b", 1, 240}};
    sw_engine_config c = base_config(tr, sites, 2);
    sw_engine *e = create(&c);
    sw_action out[8];
    double wake;
    step(e, 300, SW_EV_TICK, -1, -1, 0, out, 8, &wake); /* A is provisioning */
    cr_assert_eq(sw_engine_site_state(e, 0), SW_SITE_PROVISIONING);
    struct {
        double t_s;
        sw_event ev;
        const char *msg;
    } bad[] = {
        {310, {.kind = SW_EV_SITE_READY, .site = 7}, "site: 7 out of range"},
        {310, {.kind = SW_EV_SITE_READY, .site = -1}, "site: -1 out of range"},
        {310, {.kind = SW_EV_SITE_READY, .site = 1}, "site: 1 (b) is off, expected provisioning"},
        {310, {.kind = SW_EV_SITE_FAILED, .site = 1}, "site: 1 (b) is off"},
        {310, {.kind = SW_EV_WORK_REPORTED, .site = 0, .round = 0}, "round: 0 is not the running"},
        {310, {.kind = (sw_event_kind)99, .site = 0}, "kind: unknown event kind 99"},
        {200, {.kind = SW_EV_SITE_READY, .site = 0}, "now_s 200 is earlier"},
        {NAN, {.kind = SW_EV_TICK}, "now_s nan"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t recs = sw_engine_record_count(e);
        size_t n = sw_engine_step(e, bad[i].t_s, &bad[i].ev, out, 8, &wake);
        cr_expect_eq(n, 0, "case %zu", i);
        const sw_error *err = sw_engine_error(e);
        cr_expect_eq(err->code, SW_EINPUT, "case %zu", i);
        cr_expect_not_null(strstr(err->msg, bad[i].msg), "case %zu: \"%s\" lacks \"%s\"", i,
                           err->msg, bad[i].msg);
        cr_assert_eq(sw_engine_record_count(e), recs + 1, "case %zu", i);
        cr_expect_eq(sw_engine_record_at(e, recs)->kind, SW_REC_REJECTED);
        cr_expect_eq(sw_engine_site_state(e, 0), SW_SITE_PROVISIONING, "case %zu", i);
        cr_expect_eq(sw_engine_site_state(e, 1), SW_SITE_OFF, "case %zu", i);
    }
    /* a good event clears the error */
    step(e, 540, SW_EV_SITE_READY, 0, -1, 0, out, 8, &wake);
    cr_expect_eq(sw_engine_error(e)->code, SW_OK);
    cr_expect_eq(sw_engine_site_state(e, 0), SW_SITE_TRAINING);
    sw_engine_destroy(e);
    sw_trace_destroy(tr);
}

/* ---- the action queue and wake times ------------------------------------------------------ */

Test(engine, actions_that_do_not_fit_are_queued_in_order)
{
    sw_engine_site sites[3] = {{"a", 0, 10}, {"b", 0, 20}, {"c", 0, 30}};
    sw_engine_config c = {.end_s = 5000,
                          .sites = sites,
                          .n_sites = 3,
                          .policy = {.kind = SW_POLICY_ALWAYS_ON},
                          .rounds = {600}};
    sw_engine *e = create(&c);
    sw_action out[1];
    double wake = -1;
    cr_expect_eq(sw_engine_step(e, 0, NULL, NULL, 0, &wake), 0, "no room at all");
    cr_expect_eq(wake, 0, "come back now for the queued actions");
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sw_engine_step(e, 0, NULL, out, 1, &wake), 1);
        cr_expect_eq(out[0].kind, SW_ACT_PROVISION_SITE);
        cr_expect_eq(out[0].site, i);
        cr_expect_eq(out[0].expected_ready_s, 10.0 * (i + 1));
        cr_expect_eq(wake, i < 2 ? 0 : 5000);
    }
    sw_engine_destroy(e);
}

Test(engine, wake_times_follow_the_signal_the_poll_grid_and_rounds)
{
    /* under from 17:05 (300 s); above from 17:20 (1200 s) */
    sw_trace *tr = parse(ab_csv);
    sw_engine_site sites[1] = {{"a", 0, 240}};
    sw_engine_config c = base_config(tr, sites, 1);
    sw_engine *e = create(&c);
    sw_action out[8];
    double wake;
    step(e, 0, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    cr_expect_eq(wake, 300, "next signal change");
    step(e, 300, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    cr_expect_eq(wake, 1200);
    step(e, 540, SW_EV_SITE_READY, 0, -1, 0, out, 8, &wake);
    cr_expect_eq(wake, 1200, "single-site round: no deadline");
    step(e, 1200, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    cr_expect_eq(wake, 1800, "hysteresis deadline");
    sw_engine_destroy(e);

    /* 7 s poll: decisions on multiples of 7 (300 -> 301, 1200 -> 1204, release 1204+600=1804) */
    c.policy.poll_s = 7;
    e = create(&c);
    step(e, 0, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    cr_expect_eq(wake, 301);
    cr_expect_eq(step(e, 300, SW_EV_TICK, -1, -1, 0, out, 8, &wake), 0, "not a poll tick");
    cr_assert_eq(step(e, 301, SW_EV_TICK, -1, -1, 0, out, 8, &wake), 1);
    cr_expect_eq(out[0].kind, SW_ACT_PROVISION_SITE);
    cr_expect_eq(out[0].t_s, 301);
    cr_expect_eq(wake, 1204);
    step(e, 1204, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    cr_expect_eq(wake, 1806, "first tick at or after 1204 + 600");
    sw_engine_destroy(e);
    sw_trace_destroy(tr);
}

Test(engine, a_late_driver_gets_the_same_decisions_at_their_due_times)
{
    sw_trace *tr = parse("time,A\n"
                         "2026-01-11T17:00:00Z,300\n"
                         "2026-01-11T17:05:00Z,60\n"  /* 300: provision */
                         "2026-01-11T17:20:00Z,300\n" /* 1200: pending, release at 1800 */
                         "2026-01-11T17:40:00Z,50\n"  /* 2400: provision again */
                         "2026-01-11T17:45:00Z,50\n");
    sw_engine_site sites[1] = {{"a", 0, 240}};
    sw_engine_config c = base_config(tr, sites, 1);
    /* the site never becomes ready: provisioning is cancelled by the release at 1800 */
    sw_engine *e = create(&c);
    sw_action out[8];
    double wake;
    size_t n = step(e, 2900, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    cr_assert_eq(n, 3);
    cr_expect_eq(out[0].kind, SW_ACT_PROVISION_SITE);
    cr_expect_eq(out[0].t_s, 300);
    cr_expect_eq(out[1].kind, SW_ACT_RELEASE_SITE);
    cr_expect_eq(out[1].t_s, 1800);
    cr_expect_eq(out[2].kind, SW_ACT_PROVISION_SITE);
    cr_expect_eq(out[2].t_s, 2400);
    cr_expect_eq(sw_engine_now(e), 2900);
    cr_expect_eq(wake, 3000, "the horizon (the trace ends at 17:50)");

    /* the same decisions, record for record, as a driver stepping at every wake time */
    sw_engine *f = create(&c);
    for (double t = 0, w = 0; t <= 2900; t = w)
        step(f, t, SW_EV_TICK, -1, -1, 0, out, 8, &w);
    cr_assert_eq(sw_engine_record_count(f), sw_engine_record_count(e));
    for (size_t i = 0; i < sw_engine_record_count(e); i++) {
        const sw_engine_record *a = sw_engine_record_at(e, i), *b = sw_engine_record_at(f, i);
        cr_expect_eq(a->t_s, b->t_s, "record %zu", i);
        cr_expect_str_eq(a->detail, b->detail, "record %zu", i);
    }
    sw_engine_destroy(e);
    sw_engine_destroy(f);
    sw_trace_destroy(tr);
}

/* ---- the end of a run --------------------------------------------------------------------- */

Test(engine, the_token_target_ends_the_run)
{
    sw_engine_site sites[1] = {{"a", 0, 240}};
    sw_engine_config c = {.end_s = 1e6,
                          .sites = sites,
                          .n_sites = 1,
                          .policy = {.kind = SW_POLICY_ALWAYS_ON},
                          .rounds = {600},
                          .tokens_target = 1000};
    sw_engine *e = create(&c);
    sw_action out[8];
    double wake;
    step(e, 0, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    cr_assert_eq(step(e, 240, SW_EV_SITE_READY, 0, -1, 0, out, 8, &wake), 1);
    cr_expect_eq(out[0].kind, SW_ACT_START_ROUND);
    cr_expect_eq(out[0].tokens_left, 1000);
    /* the site stops on its own when it ran out of data for the round */
    cr_assert_eq(step(e, 900, SW_EV_WORK_REPORTED, 0, 0, 600, out, 8, &wake), 3);
    cr_expect_eq(out[2].kind, SW_ACT_START_ROUND);
    cr_expect_eq(out[2].tokens_left, 400);
    cr_expect_not(sw_engine_done(e));
    size_t n = step(e, 1300, SW_EV_WORK_REPORTED, 0, 1, 500, out, 8, &wake);
    cr_assert_eq(n, 3);
    cr_expect_eq(out[0].kind, SW_ACT_END_ROUND);
    cr_expect_eq(out[1].kind, SW_ACT_AGGREGATE);
    cr_expect_eq(out[2].kind, SW_ACT_RELEASE_SITE);
    cr_expect(sw_engine_done(e));
    cr_expect_eq(sw_engine_tokens(e), 1100);
    cr_expect(isinf(wake));
    sw_engine_destroy(e);
}

Test(engine, the_horizon_ends_the_running_round_gracefully)
{
    sw_engine_site sites[3] = {{"a", 0, 240}, {"b", 0, 240}, {"c", 0, 2000}};
    sw_engine_config c = {.end_s = 1000,
                          .sites = sites,
                          .n_sites = 3,
                          .policy = {.kind = SW_POLICY_ALWAYS_ON},
                          .rounds = {600}};
    sw_engine *e = create(&c);
    sw_action out[8];
    double wake;
    step(e, 0, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    step(e, 240, SW_EV_SITE_READY, 0, -1, 0, out, 8, &wake);
    step(e, 240, SW_EV_SITE_READY, 1, -1, 0, out, 8, &wake);
    step(e, 840, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    step(e, 840, SW_EV_WORK_REPORTED, 0, 0, 600, out, 8, &wake);
    cr_expect_eq(wake, 1000, "the horizon comes before the round deadline");
    /* c's 2000 s of provisioning cannot end before the horizon: never provisioned, and the
     * engine says so once */
    cr_expect_eq(sw_engine_site_state(e, 2), SW_SITE_OFF);
    size_t late = 0;
    for (size_t i = 0; i < sw_engine_record_count(e); i++)
        late += sw_engine_record_at(e, i)->kind == SW_REC_LATE;
    cr_expect_eq(late, 1);
    size_t n = step(e, 1000, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    cr_assert_eq(n, 1);
    cr_expect_eq(out[0].kind, SW_ACT_END_ROUND);
    cr_expect_eq(out[0].n_sites, 2);
    cr_expect_eq(sw_engine_site_state(e, 0), SW_SITE_DRAINING);
    n = step(e, 1030, SW_EV_WORK_REPORTED, 0, 1, 190, out, 8, &wake);
    cr_assert_eq(n, 1);
    cr_expect_eq(out[0].kind, SW_ACT_RELEASE_SITE);
    cr_expect_not(sw_engine_done(e), "b's work is still out");
    n = step(e, 1040, SW_EV_WORK_REPORTED, 1, 1, 200, out, 8, &wake);
    cr_assert_eq(n, 2);
    cr_expect_eq(out[0].kind, SW_ACT_RELEASE_SITE);
    cr_expect_eq(out[1].kind, SW_ACT_AGGREGATE);
    cr_expect_eq(out[1].n_sites, 2);
    cr_expect(sw_engine_done(e));
    cr_expect_eq(sw_engine_tokens(e), 990);
    sw_engine_destroy(e);
}

/* ---- site limits and failures ------------------------------------------------------------- */

Test(engine, max_active_sites_prefers_the_cleanest_signal)
{
    sw_trace *tr = parse("time,A,B\n"
                         "2026-01-11T17:00:00Z,80,40\n"
                         "2026-01-11T17:05:00Z,80,300\n"
                         "2026-01-11T17:30:00Z,80,300\n");
    sw_engine_site sites[2] = {{"a", 0, 60}, {"b", 1, 60}};
    sw_engine_config c = base_config(tr, sites, 2);
    c.policy.hysteresis_s = 0;
    c.max_active_sites = 1;
    sw_engine *e = create(&c);
    sw_action out[8];
    double wake;
    cr_assert_eq(step(e, 0, SW_EV_TICK, -1, -1, 0, out, 8, &wake), 1);
    cr_expect_eq(out[0].kind, SW_ACT_PROVISION_SITE);
    cr_expect_eq(out[0].site, 1, "40 g/kWh beats 80 g/kWh");
    cr_expect(sw_engine_site_wanted(e, 0));
    size_t n = step(e, 300, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    cr_assert_eq(n, 2, "b released, which frees the slot for a");
    cr_expect_eq(out[0].kind, SW_ACT_RELEASE_SITE);
    cr_expect_eq(out[0].site, 1);
    cr_expect_eq(out[1].kind, SW_ACT_PROVISION_SITE);
    cr_expect_eq(out[1].site, 0);
    sw_engine_destroy(e);
    sw_trace_destroy(tr);
}

Test(engine, a_failed_site_sits_out_its_window_and_returns_in_the_next)
{
    sw_trace *tr = parse("time,A\n"
                         "2026-01-11T17:00:00Z,50\n"
                         "2026-01-11T17:10:00Z,300\n"
                         "2026-01-11T17:20:00Z,50\n"
                         "2026-01-11T17:30:00Z,50\n");
    sw_engine_site sites[1] = {{"a", 0, 60}};
    sw_engine_config c = base_config(tr, sites, 1);
    c.policy.hysteresis_s = 0;
    sw_engine *e = create(&c);
    sw_action out[8];
    double wake;
    step(e, 0, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    sw_event ev = {.kind = SW_EV_SITE_FAILED, .site = 0, .detail = "quota exceeded"};
    cr_assert_eq(sw_engine_step(e, 30, &ev, out, 8, &wake), 1);
    cr_expect_eq(out[0].kind, SW_ACT_RELEASE_SITE);
    cr_expect_eq(sw_engine_site_state(e, 0), SW_SITE_FAILED);
    const sw_engine_record *r = sw_engine_record_at(e, sw_engine_record_count(e) - 1);
    cr_expect_not_null(strstr(r->detail, "provisioning -> failed: failed: quota exceeded"), "%s",
                       r->detail);
    cr_expect_eq(step(e, 100, SW_EV_TICK, -1, -1, 0, out, 8, &wake), 0, "no retry in-window");
    cr_expect_eq(step(e, 600, SW_EV_TICK, -1, -1, 0, out, 8, &wake), 0);
    cr_expect_eq(sw_engine_site_state(e, 0), SW_SITE_OFF, "window over");
    cr_assert_eq(step(e, 1200, SW_EV_TICK, -1, -1, 0, out, 8, &wake), 1);
    cr_expect_eq(out[0].kind, SW_ACT_PROVISION_SITE);
    sw_engine_destroy(e);
    sw_trace_destroy(tr);
}

Test(engine, a_provisioning_site_is_released_without_waiting_for_it)
{
    sw_trace *tr = parse(ab_csv);
    sw_engine_site sites[1] = {{"a", 0, 2000}};
    sw_engine_config c = base_config(tr, sites, 1);
    c.policy.hysteresis_s = 0;
    sw_engine *e = create(&c);
    sw_action out[8];
    double wake;
    step(e, 300, SW_EV_TICK, -1, -1, 0, out, 8, &wake);
    cr_assert_eq(step(e, 1200, SW_EV_TICK, -1, -1, 0, out, 8, &wake), 1);
    cr_expect_eq(out[0].kind, SW_ACT_RELEASE_SITE);
    cr_expect_eq(sw_engine_site_state(e, 0), SW_SITE_OFF);
    step(e, 2300, SW_EV_SITE_READY, 0, -1, 0, out, 8, &wake);
    cr_expect_eq(sw_engine_error(e)->code, SW_EINPUT, "a stale SITE_READY is refused");
    sw_engine_destroy(e);
    sw_trace_destroy(tr);
}

/* ---- properties on random traces ---------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t xorshift(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static double unif(rng *r)
{
    return (double)(xorshift(r) >> 11) * 0x1.0p-53;
}

#define NS 3
#define NQ 64

typedef struct ev_at {
    double t_s;
    sw_event ev;
} ev_at;

typedef struct world {
    rng drv; /* driver randomness, drawn once per action handled */
    sw_engine_config cfg;
    sw_engine_site sites[NS];
    sw_trace *tr;
    ev_at q[NQ];
    size_t nq;
    ev_at failures[4];
    size_t nfail;
    double round_start_s;
    int64_t report_round[NS]; /* round a report is already scheduled for */
    uint64_t hash;
    size_t n_actions;
    /* property bookkeeping */
    int64_t open_round; /* started, not yet aggregated; -1 if none */
    int64_t next_round;
    size_t open_members;
    bool ended;
} world;

static void schedule(world *w, double t_s, sw_event ev)
{
    cr_assert_lt(w->nq, NQ);
    size_t i = w->nq;
    while (i > 0 && w->q[i - 1].t_s > t_s) {
        w->q[i] = w->q[i - 1];
        i--;
    }
    w->q[i] = (ev_at){t_s, ev};
    w->nq++;
}

static void cancel_site(world *w, int site)
{
    size_t k = 0;
    for (size_t i = 0; i < w->nq; i++)
        if (w->q[i].ev.site != site)
            w->q[k++] = w->q[i];
    w->nq = k;
}

static void mix(world *w, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        w->hash = (w->hash ^ b[i]) * 1099511628211ull;
}

static void schedule_report(world *w, double now_s, int site, int64_t round, double delay_s)
{
    if (w->report_round[site] == round)
        return; /* an early report is already on its way */
    w->report_round[site] = round;
    uint64_t tokens = (uint64_t)(now_s + delay_s - w->round_start_s) * 10;
    schedule(
        w, now_s + delay_s,
        (sw_event){.kind = SW_EV_WORK_REPORTED, .site = site, .round = round, .tokens = tokens});
}

static void apply(world *w, const sw_action *a, double now_s)
{
    w->n_actions++;
    mix(w, &a->kind, sizeof a->kind);
    mix(w, &a->t_s, sizeof a->t_s);
    mix(w, &a->site, sizeof a->site);
    mix(w, &a->round, sizeof a->round);
    mix(w, &a->deadline_s, sizeof a->deadline_s);
    mix(w, &a->tokens_left, sizeof a->tokens_left);
    mix(w, a->sites, a->n_sites * sizeof *a->sites);
    if (a->weights) {
        mix(w, a->weights, a->n_sites * sizeof *a->weights);
        mix(w, a->tokens, a->n_sites * sizeof *a->tokens);
    }
    cr_assert_eq(a->t_s, now_s, "actions are decided at the step's time");
    switch (a->kind) {
    case SW_ACT_PROVISION_SITE:
        schedule(w, now_s + w->sites[a->site].provision_s * (0.5 + unif(&w->drv)),
                 (sw_event){.kind = SW_EV_SITE_READY, .site = a->site});
        break;
    case SW_ACT_RELEASE_SITE:
        cancel_site(w, a->site); /* e.g. a provisioning that was still under way */
        break;
    case SW_ACT_START_ROUND:
        cr_assert_eq(w->open_round, -1, "START_ROUND %lld while round %lld is not aggregated",
                     (long long)a->round, (long long)w->open_round);
        cr_assert_eq(a->round, w->next_round, "round ids are consecutive");
        cr_assert_gt(a->n_sites, 0);
        for (size_t k = 1; k < a->n_sites; k++)
            cr_assert_lt(a->sites[k - 1], a->sites[k]);
        w->open_round = a->round;
        w->next_round++;
        w->open_members = a->n_sites;
        w->ended = false;
        w->round_start_s = now_s;
        /* now and then a member finishes early (out of data) */
        for (size_t k = 0; k < a->n_sites; k++)
            if (unif(&w->drv) < 0.1)
                schedule_report(w, now_s, a->sites[k], a->round, 600 * unif(&w->drv));
        break;
    case SW_ACT_STOP_SITE:
        cr_assert_eq(a->round, w->open_round);
        schedule_report(w, now_s, a->site, a->round, 60 * unif(&w->drv));
        break;
    case SW_ACT_END_ROUND:
        cr_assert_eq(a->round, w->open_round);
        cr_assert_not(w->ended, "END_ROUND twice");
        w->ended = true;
        for (size_t k = 0; k < a->n_sites; k++)
            schedule_report(w, now_s, a->sites[k], a->round, 60 * unif(&w->drv));
        break;
    case SW_ACT_AGGREGATE: {
        cr_assert_eq(a->round, w->open_round, "AGGREGATE of round %lld", (long long)a->round);
        cr_assert(w->ended, "END_ROUND comes before AGGREGATE");
        cr_assert_leq(a->n_sites, w->open_members);
        double sum = 0;
        uint64_t total = 0;
        for (size_t k = 0; k < a->n_sites; k++)
            total += a->tokens[k];
        for (size_t k = 0; k < a->n_sites; k++) {
            cr_assert(a->weights[k] >= 0 && a->weights[k] <= 1);
            if (total > 0)
                cr_assert_float_eq(a->weights[k], (double)a->tokens[k] / (double)total, 1e-12);
            sum += a->weights[k];
        }
        if (a->n_sites > 0)
            cr_assert_float_eq(sum, 1.0, 1e-12, "weights sum to %.17g", sum);
        cr_assert_eq(a->tokens_total, total);
        w->open_round = -1;
        break;
    }
    }
}

static bool curtailed_at(const world *w, size_t region, double t_s)
{
    return sw_trace_value(w->tr, region, w->cfg.start_unix_s + t_s) <
           w->cfg.policy.threshold_g_per_kwh;
}

/* The release rule: the signal was not curtailed anywhere on [now - H, now] (exact mode), or at
 * any poll tick in it (poll mode). */
static void check_release(const world *w, size_t site, double now_s)
{
    const sw_policy_config *p = &w->cfg.policy;
    size_t region = w->sites[site].region;
    double from = now_s - p->hysteresis_s;
    if (p->poll_s > 0) {
        cr_assert_eq(fmod(now_s, p->poll_s), 0, "release off the poll grid at %g", now_s);
        for (double t = ceil(from / p->poll_s) * p->poll_s; t <= now_s; t += p->poll_s)
            cr_assert_not(curtailed_at(w, region, t),
                          "site %zu released at %g but its signal was under at tick %g", site,
                          now_s, t);
        return;
    }
    for (double t = from; t <= now_s;) {
        cr_assert_not(curtailed_at(w, region, t),
                      "site %zu released at %g but its signal was under at %g (H=%g)", site, now_s,
                      t, p->hysteresis_s);
        t = sw_trace_next_change(w->tr, region, w->cfg.start_unix_s + t) - w->cfg.start_unix_s;
    }
}

static void build_world(world *w, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    rng r = {seed * 0x9E3779B97F4A7C15ull + 1};
    w->drv.s = seed ^ 0xD1B54A32D192ED03ull;
    size_t n_regions = 1 + xorshift(&r) % 3, n_rows = 20 + xorshift(&r) % 100;
    /* a wide CSV with irregular spacing (not on any poll grid) and persistent levels */
    size_t cap = 64 + n_rows * 128;
    char *csv = malloc(cap);
    size_t len = (size_t)snprintf(csv, cap, "time");
    for (size_t k = 0; k < n_regions; k++)
        len += (size_t)snprintf(csv + len, cap - len, ",R%zu", k);
    bool under[3] = {false, false, false};
    double t = T0;
    for (size_t i = 0; i < n_rows; i++) {
        char ts[32];
        sw_format_iso8601(t, ts, sizeof ts);
        len += (size_t)snprintf(csv + len, cap - len, "\n%s", ts);
        for (size_t k = 0; k < n_regions; k++) {
            if (unif(&r) < 0.3)
                under[k] = !under[k];
            double v = under[k] ? 99.9 * unif(&r) : 100 + 300 * unif(&r);
            if (unif(&r) < 0.05)
                v = 100; /* the threshold itself: not curtailed */
            len += (size_t)snprintf(csv + len, cap - len, ",%.3f", v);
        }
        static const double steps[] = {300, 300, 60, 137, 600, 900, 1};
        t += steps[xorshift(&r) % 7] + (double)(xorshift(&r) % 2);
    }
    sw_error err;
    cr_assert_eq(sw_trace_parse(csv, len, "random.csv", NULL, &w->tr, &err), SW_OK, "%s", err.msg);
    free(csv);
    size_t n_sites = 1 + xorshift(&r) % NS;
    static const char *names[NS] = {"s0", "s1", "s2"};
    for (size_t i = 0; i < n_sites; i++)
        w->sites[i] = (sw_engine_site){names[i], xorshift(&r) % n_regions, 400 * unif(&r)};
    static const double hyst[] = {0, 120, 600, 900};
    static const double poll[] = {0, 0, 10, 7};
    w->cfg = (sw_engine_config){
        .start_unix_s = T0,
        .end_s = 0,
        .trace = w->tr,
        .sites = w->sites,
        .n_sites = n_sites,
        .policy = {SW_POLICY_THRESHOLD, 100, hyst[xorshift(&r) % 4], poll[xorshift(&r) % 4]},
        .rounds = {xorshift(&r) % 2 ? 600 : 300},
        .max_active_sites = xorshift(&r) % 3};
    w->nfail = xorshift(&r) % 3;
    for (size_t i = 0; i < w->nfail; i++)
        w->failures[i] = (ev_at){
            unif(&r) * 20000, {.kind = SW_EV_SITE_FAILED, .site = (int)(xorshift(&r) % n_sites)}};
    for (size_t i = 0; i < NS; i++)
        w->report_round[i] = -1;
    w->hash = 14695981039346656037ull;
    w->open_round = -1;
}

/* Every this many steps run_world saves the engine, destroys it and goes on with the one
 * restored from the snapshot (0: never). */
static size_t restore_every;

static sw_engine *save_and_restore(const world *w, sw_engine *e)
{
    uint8_t *buf;
    size_t len;
    sw_error err;
    cr_assert_eq(sw_engine_snapshot(e, &buf, &len, &err), SW_OK, "%s", err.msg);
    sw_engine *r;
    cr_assert_eq(sw_engine_restore(&w->cfg, buf, len, &r, &err), SW_OK, "%s", err.msg);
    free(buf);
    sw_engine_destroy(e);
    return r;
}

/* Runs one random world to the end with actions handed out `cap` at a time. */
static void run_world(world *w, size_t cap)
{
    sw_engine *e = create(&w->cfg);
    sw_action out[64];
    double now_s = 0, wake_s = 0, end_s = sw_engine_end_s(e);
    sw_event ev = {.kind = SW_EV_TICK};
    size_t fail_next = 0;
    for (int guard = 0;; guard++) {
        cr_assert_lt(guard, 200000, "the run does not finish");
        sw_site_state before[NS];
        for (size_t i = 0; i < w->cfg.n_sites; i++)
            before[i] = sw_engine_site_state(e, i);
        size_t n = sw_engine_step(e, now_s, &ev, out, cap, &wake_s);
        cr_assert_eq(sw_engine_error(e)->code, SW_OK, "t=%g: %s", now_s, sw_engine_error(e)->msg);
        for (size_t i = 0; i < n; i++)
            apply(w, &out[i], now_s);
        while (n == cap) { /* fetch the queued rest before anything else happens */
            n = sw_engine_step(e, now_s, NULL, out, cap, &wake_s);
            for (size_t i = 0; i < n; i++)
                apply(w, &out[i], now_s);
        }
        size_t active = 0;
        for (size_t i = 0; i < w->cfg.n_sites; i++) {
            sw_site_state st = sw_engine_site_state(e, i);
            active += st != SW_SITE_OFF && st != SW_SITE_FAILED;
            bool was_up = before[i] == SW_SITE_PROVISIONING || before[i] == SW_SITE_READY ||
                          before[i] == SW_SITE_TRAINING;
            bool let_go = st == SW_SITE_OFF || st == SW_SITE_DRAINING;
            if (was_up && let_go && now_s < end_s && ev.kind != SW_EV_WORK_REPORTED)
                check_release(w, i, now_s);
            if (st == SW_SITE_FAILED)
                cancel_site(w, (int)i);
        }
        if (w->cfg.max_active_sites > 0)
            cr_assert_leq(active, w->cfg.max_active_sites);
        if (sw_engine_done(e))
            break;
        if (restore_every > 0 && (size_t)guard % restore_every == restore_every - 1)
            e = save_and_restore(w, e);
        /* next: a due failure, a queued driver event, or the engine's wake time */
        double t_fail = fail_next < w->nfail ? w->failures[fail_next].t_s : INFINITY;
        double t_q = w->nq > 0 ? w->q[0].t_s : INFINITY;
        if (t_fail <= t_q && t_fail <= wake_s) {
            now_s = t_fail > now_s ? t_fail : now_s;
            ev = w->failures[fail_next++].ev;
            sw_site_state st = sw_engine_site_state(e, (size_t)ev.site);
            if (st == SW_SITE_OFF || st == SW_SITE_FAILED)
                ev = (sw_event){.kind = SW_EV_TICK}; /* nothing to fail right now */
            else
                cancel_site(w, ev.site);
        } else if (t_q <= wake_s) {
            now_s = t_q;
            ev = w->q[0].ev;
            memmove(w->q, w->q + 1, --w->nq * sizeof w->q[0]);
        } else {
            cr_assert(isfinite(wake_s), "stuck at t=%g with nothing scheduled", now_s);
            now_s = wake_s;
            ev = (sw_event){.kind = SW_EV_TICK};
        }
    }
    for (size_t i = 1; i < sw_engine_record_count(e); i++)
        cr_assert_geq(sw_engine_record_at(e, i)->t_s, sw_engine_record_at(e, i - 1)->t_s);
    cr_assert_eq(w->open_round, -1, "every round was aggregated");
    sw_engine_destroy(e);
}

Test(engine_properties, random_traces_keep_every_rule_and_are_deterministic)
{
    for (uint64_t seed = 1; seed <= 300; seed++) {
        static world a, b, c;
        build_world(&a, seed);
        run_world(&a, 64);
        build_world(&b, seed);
        run_world(&b, 64);
        build_world(&c, seed);
        run_world(&c, 1); /* the queue must not change a single decision */
        cr_assert_gt(a.n_actions, 0, "seed %llu", (unsigned long long)seed);
        cr_assert_eq(a.n_actions, b.n_actions, "seed %llu", (unsigned long long)seed);
        cr_assert_eq(a.hash, b.hash, "seed %llu: same inputs, different actions",
                     (unsigned long long)seed);
        cr_assert_eq(a.hash, c.hash, "seed %llu: queueing changed the actions",
                     (unsigned long long)seed);
        sw_trace_destroy(a.tr);
        sw_trace_destroy(b.tr);
        sw_trace_destroy(c.tr);
    }
}

Test(engine_properties, a_restored_engine_takes_the_same_decisions)
{
    for (uint64_t seed = 1; seed <= 300; seed++) {
        static world a, b;
        build_world(&a, seed);
        restore_every = 0;
        run_world(&a, 64);
        build_world(&b, seed);
        restore_every = 1 + seed % 7; /* saved and restored every few steps */
        run_world(&b, 64);
        restore_every = 0;
        cr_assert_eq(a.n_actions, b.n_actions, "seed %llu", (unsigned long long)seed);
        cr_assert_eq(a.hash, b.hash, "seed %llu: restoring changed the actions",
                     (unsigned long long)seed);
        sw_trace_destroy(a.tr);
        sw_trace_destroy(b.tr);
    }
}
