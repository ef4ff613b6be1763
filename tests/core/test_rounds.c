/* Tests of rounds: the sw_round component (membership, deadlines, reports, weights) and the
 * round rules as the engine applies them: single-site mode, joins at the next round, a draining
 * site included in the aggregation, failure mid-round, pause with no site, early completion. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/engine.h"
#include "core/rounds.h"
#include "core/trace.h"

static const sw_rounds_config min600 = {600};

/* ---- the component -------------------------------------------------------------------------- */

Test(round, deadline_is_fixed_with_two_members_and_open_with_one)
{
    sw_round r;
    int two[] = {2, 0};
    cr_assert_eq(sw_round_init(&r, 4, 100, &min600, two, 2, NULL), SW_OK);
    cr_expect_eq(r.deadline_s, 700);
    cr_expect_eq(r.sites[0], 0, "members are kept in ascending order");
    cr_expect_eq(r.sites[1], 2);
    cr_expect_not(sw_round_second_site_ready(&r, 200, &min600), "not open-ended");
    sw_round_free(&r);

    int one[] = {1};
    cr_assert_eq(sw_round_init(&r, 5, 100, &min600, one, 1, NULL), SW_OK);
    cr_expect(isinf(r.deadline_s));
    cr_expect(sw_round_second_site_ready(&r, 300, &min600));
    cr_expect_eq(r.deadline_s, 700, "never shorter than the minimum");
    sw_round_free(&r);

    cr_assert_eq(sw_round_init(&r, 6, 100, &min600, one, 1, NULL), SW_OK);
    cr_expect(sw_round_second_site_ready(&r, 5000, &min600));
    cr_expect_eq(r.deadline_s, 5000, "ends when the second site is ready");
    cr_expect_not(sw_round_second_site_ready(&r, 6000, &min600), "only the first one counts");
    cr_expect_eq(r.deadline_s, 5000);
    sw_round_free(&r);
}

Test(round, bad_rounds_are_rejected)
{
    sw_round r;
    sw_error err;
    int dup[] = {1, 1};
    cr_expect_eq(sw_round_init(&r, 0, 0, &min600, dup, 2, &err), SW_EINPUT);
    cr_expect_not_null(strstr(err.msg, "site 1 listed twice"), "%s", err.msg);
    cr_expect_eq(sw_round_init(&r, 0, 0, &min600, dup, 0, &err), SW_EINPUT);
    cr_expect_not_null(strstr(err.msg, "at least one member"), "%s", err.msg);
    sw_rounds_config zero = {0};
    cr_expect_eq(sw_round_init(&r, 0, 0, &zero, dup, 1, &err), SW_EINPUT);
    cr_expect_not_null(strstr(err.msg, "rounds.min_duration_s"), "%s", err.msg);
}

Test(round, reports_failures_and_work_weighted_weights)
{
    sw_round r;
    int sites[] = {0, 1, 2};
    cr_assert_eq(sw_round_init(&r, 1, 0, &min600, sites, 3, NULL), SW_OK);
    sw_error err;
    cr_expect_eq(sw_round_report(&r, 0, 100, &err), SW_OK);
    cr_expect_eq(sw_round_report(&r, 0, 100, &err), SW_EINPUT);
    cr_expect_not_null(strstr(err.msg, "already reported"), "%s", err.msg);
    cr_expect_eq(sw_round_report(&r, 7, 100, &err), SW_EINPUT);
    cr_expect_not_null(strstr(err.msg, "not a member"), "%s", err.msg);
    cr_expect_not(sw_round_complete(&r));
    cr_expect_eq(sw_round_report(&r, 2, 300, NULL), SW_OK);
    cr_expect_eq(sw_round_training_count(&r), 1);
    cr_expect_eq(sw_round_fail(&r, 1, NULL), SW_OK);
    cr_expect_eq(sw_round_report(&r, 1, 5, &err), SW_EINPUT, "a failed member cannot report");
    cr_expect_eq(sw_round_fail(&r, 2, NULL), SW_OK, "failing after reporting keeps the work");
    cr_expect(sw_round_complete(&r));
    int s[3];
    uint64_t tok[3];
    double w[3];
    size_t n;
    cr_expect_eq(sw_round_weights(&r, s, tok, w, &n), 400);
    cr_assert_eq(n, 2);
    cr_expect_eq(s[0], 0);
    cr_expect_eq(s[1], 2);
    cr_expect_float_eq(w[0], 0.25, 1e-15);
    cr_expect_float_eq(w[1], 0.75, 1e-15);
    sw_round_free(&r);
}

Test(round, zero_work_gives_equal_weights_and_no_report_gives_none)
{
    sw_round r;
    int sites[] = {3, 4};
    cr_assert_eq(sw_round_init(&r, 1, 0, &min600, sites, 2, NULL), SW_OK);
    sw_round_report(&r, 3, 0, NULL);
    sw_round_report(&r, 4, 0, NULL);
    int s[2];
    uint64_t tok[2];
    double w[2];
    size_t n;
    cr_expect_eq(sw_round_weights(&r, s, tok, w, &n), 0);
    cr_assert_eq(n, 2);
    cr_expect_eq(w[0], 0.5);
    cr_expect_eq(w[1], 0.5);
    sw_round_free(&r);

    cr_assert_eq(sw_round_init(&r, 2, 0, &min600, sites, 2, NULL), SW_OK);
    sw_round_fail(&r, 3, NULL);
    sw_round_fail(&r, 4, NULL);
    cr_expect(sw_round_complete(&r));
    sw_round_weights(&r, s, tok, w, &n);
    cr_expect_eq(n, 0);
    sw_round_free(&r);
}

/* ---- the rules inside the engine ------------------------------------------------------------ */

typedef struct act {
    sw_action_kind kind;
    double t_s;
    int site;
    int64_t round;
    double deadline_s;
    size_t n;
    int sites[8];
    double weights[8];
    uint64_t tokens[8];
} act;

typedef struct h {
    sw_engine *e;
    act a[64];
    size_t n;
    double wake_s;
} h;

static void step(h *x, double t_s, sw_event_kind kind, int site, int64_t round, uint64_t tokens)
{
    sw_event ev = {.kind = kind, .site = site, .round = round, .tokens = tokens};
    sw_action out[64];
    x->n = sw_engine_step(x->e, t_s, &ev, out, 64, &x->wake_s);
    cr_assert_eq(sw_engine_error(x->e)->code, SW_OK, "t=%g: %s", t_s, sw_engine_error(x->e)->msg);
    for (size_t i = 0; i < x->n; i++) {
        act *a = &x->a[i];
        *a = (act){out[i].kind,    out[i].t_s, out[i].site, out[i].round, out[i].deadline_s,
                   out[i].n_sites, {0},        {0},         {0}};
        cr_assert_leq(out[i].n_sites, 8);
        for (size_t k = 0; k < out[i].n_sites; k++) {
            a->sites[k] = out[i].sites[k];
            if (out[i].weights) {
                a->weights[k] = out[i].weights[k];
                a->tokens[k] = out[i].tokens[k];
            }
        }
    }
}

static void tick(h *x, double t_s)
{
    step(x, t_s, SW_EV_TICK, -1, -1, 0);
}
static void ready(h *x, double t_s, int site)
{
    step(x, t_s, SW_EV_SITE_READY, site, -1, 0);
}
static void report(h *x, double t_s, int site, int64_t round, uint64_t tokens)
{
    step(x, t_s, SW_EV_WORK_REPORTED, site, round, tokens);
}

static void expect_act(const h *x, size_t i, sw_action_kind kind, int64_t round, size_t n_sites,
                       const int *sites)
{
    cr_assert_lt(i, x->n, "expected action %zu (%s), got only %zu", i, sw_action_kind_name(kind),
                 x->n);
    const act *a = &x->a[i];
    cr_assert_eq(a->kind, kind, "action %zu: %s, expected %s", i, sw_action_kind_name(a->kind),
                 sw_action_kind_name(kind));
    cr_expect_eq(a->round, round, "action %zu round", i);
    cr_assert_eq(a->n, n_sites, "action %zu: %zu sites", i, a->n);
    for (size_t k = 0; k < n_sites; k++)
        cr_expect_eq(a->sites[k], sites[k], "action %zu site %zu", i, k);
}

/* Always-on sites (provisioned at t = 0): the test decides when each is ready. */
static h always_on(size_t n_sites)
{
    static const sw_engine_site sites[] = {{"a", 0, 240}, {"b", 0, 240}, {"c", 0, 240}};
    sw_engine_config cfg = {.start_unix_s = 0,
                            .end_s = 100000,
                            .sites = sites,
                            .n_sites = n_sites,
                            .policy = {.kind = SW_POLICY_ALWAYS_ON},
                            .rounds = {600}};
    h x = {0};
    sw_error err;
    cr_assert_eq(sw_engine_create(&cfg, &x.e, &err), SW_OK, "%s", err.msg);
    tick(&x, 0);
    cr_assert_eq(x.n, n_sites, "every site is provisioned at t = 0");
    return x;
}

static const int S0[] = {0}, S01[] = {0, 1}, S012[] = {0, 1, 2};

Test(engine_rounds, single_site_mode_lasts_until_a_second_site_is_ready)
{
    h x = always_on(2);
    ready(&x, 240, 0);
    cr_assert_eq(x.n, 1);
    expect_act(&x, 0, SW_ACT_START_ROUND, 0, 1, S0);
    cr_expect(isinf(x.a[0].deadline_s), "single-site mode is open-ended");
    cr_expect_eq(x.wake_s, 100000, "nothing to wake for but the horizon");
    tick(&x, 5000);
    cr_expect_eq(x.n, 0, "still training alone, long after the minimum duration");
    ready(&x, 5000, 1);
    cr_assert_eq(x.n, 1);
    expect_act(&x, 0, SW_ACT_END_ROUND, 0, 1, S0);
    report(&x, 5010, 0, 0, 4770);
    cr_assert_eq(x.n, 2);
    expect_act(&x, 0, SW_ACT_AGGREGATE, 0, 1, S0);
    cr_expect_eq(x.a[0].weights[0], 1.0);
    expect_act(&x, 1, SW_ACT_START_ROUND, 1, 2, S01);
    cr_expect_eq(x.a[1].deadline_s, 5610);
    cr_expect_eq(sw_engine_tokens(x.e), 4770);
    sw_engine_destroy(x.e);
}

Test(engine_rounds, a_second_site_early_still_waits_for_the_minimum_duration)
{
    h x = always_on(2);
    ready(&x, 240, 0);
    ready(&x, 300, 1);
    cr_expect_eq(x.n, 0, "site 1 joins at the next round start");
    cr_expect_eq(x.wake_s, 840);
    tick(&x, 840);
    cr_assert_eq(x.n, 1);
    expect_act(&x, 0, SW_ACT_END_ROUND, 0, 1, S0);
    sw_engine_destroy(x.e);
}

Test(engine_rounds, sites_ready_at_the_same_instant_start_one_round_together)
{
    h x = always_on(2);
    sw_event both[2] = {{.kind = SW_EV_SITE_READY, .site = 1},
                        {.kind = SW_EV_SITE_READY, .site = 0}};
    sw_action out[8];
    cr_assert_eq(sw_engine_step_n(x.e, 240, both, 2, out, 8, &x.wake_s), 1);
    cr_expect_eq(out[0].kind, SW_ACT_START_ROUND);
    cr_assert_eq(out[0].n_sites, 2);
    cr_expect_eq(out[0].sites[0], 0);
    cr_expect_eq(out[0].sites[1], 1);
    cr_expect_eq(out[0].deadline_s, 840);
    sw_engine_destroy(x.e);
}

Test(engine_rounds, a_site_ready_mid_round_joins_at_the_next_round)
{
    h x = always_on(3);
    ready(&x, 240, 0);
    ready(&x, 240, 1);
    tick(&x, 840);
    report(&x, 840, 0, 0, 600);
    expect_act(&x, 1, SW_ACT_START_ROUND, 1, 2, S01);
    cr_expect_eq(x.a[1].deadline_s, 1440, "two sites: fixed minimum duration");
    ready(&x, 1000, 2);
    cr_expect_eq(x.n, 0);
    cr_expect_eq(sw_engine_site_state(x.e, 2), SW_SITE_READY);
    tick(&x, 1440);
    expect_act(&x, 0, SW_ACT_END_ROUND, 1, 2, S01);
    report(&x, 1441, 1, 1, 100);
    cr_expect_eq(x.n, 0, "waits for every member");
    report(&x, 1442, 0, 1, 300);
    expect_act(&x, 0, SW_ACT_AGGREGATE, 1, 2, S01);
    cr_expect_float_eq(x.a[0].weights[0], 0.75, 1e-15);
    cr_expect_float_eq(x.a[0].weights[1], 0.25, 1e-15);
    expect_act(&x, 1, SW_ACT_START_ROUND, 2, 3, S012);
    sw_engine_destroy(x.e);
}

Test(engine_rounds, failure_mid_round_completes_with_the_others)
{
    h x = always_on(2);
    ready(&x, 240, 0);
    ready(&x, 240, 1);
    tick(&x, 840);
    report(&x, 840, 0, 0, 600);
    expect_act(&x, 1, SW_ACT_START_ROUND, 1, 2, S01);
    step(&x, 1000, SW_EV_SITE_FAILED, 1, -1, 0);
    cr_assert_eq(x.n, 1);
    cr_expect_eq(x.a[0].kind, SW_ACT_RELEASE_SITE);
    cr_expect_eq(x.a[0].site, 1);
    cr_expect_eq(sw_engine_site_state(x.e, 1), SW_SITE_FAILED);
    tick(&x, 1440);
    expect_act(&x, 0, SW_ACT_END_ROUND, 1, 1, S0);
    /* the failed site's late report is refused */
    sw_event late = {.kind = SW_EV_WORK_REPORTED, .site = 1, .round = 1, .tokens = 9};
    sw_engine_step(x.e, 1441, &late, NULL, 0, NULL);
    cr_expect_eq(sw_engine_error(x.e)->code, SW_EINPUT);
    report(&x, 1442, 0, 1, 600);
    expect_act(&x, 0, SW_ACT_AGGREGATE, 1, 1, S0);
    cr_expect_eq(x.a[0].weights[0], 1.0);
    expect_act(&x, 1, SW_ACT_START_ROUND, 2, 1, S0);
    sw_engine_destroy(x.e);
}

Test(engine_rounds, a_round_whose_members_all_fail_closes_with_an_empty_aggregate)
{
    h x = always_on(1);
    ready(&x, 240, 0);
    step(&x, 500, SW_EV_SITE_FAILED, 0, -1, 0);
    cr_assert_eq(x.n, 3);
    cr_expect_eq(x.a[0].kind, SW_ACT_RELEASE_SITE);
    expect_act(&x, 1, SW_ACT_END_ROUND, 0, 0, NULL);
    expect_act(&x, 2, SW_ACT_AGGREGATE, 0, 0, NULL);
    cr_expect_null(sw_engine_round(x.e), "paused: no site left");
    sw_engine_destroy(x.e);
}

Test(engine_rounds, early_reports_complete_a_round_before_its_deadline)
{
    h x = always_on(2);
    ready(&x, 240, 0);
    ready(&x, 240, 1);
    tick(&x, 840);
    report(&x, 840, 0, 0, 600);
    report(&x, 900, 0, 1, 60); /* e.g. out of data */
    cr_expect_eq(x.n, 0);
    cr_expect_eq(sw_engine_site_state(x.e, 0), SW_SITE_READY);
    report(&x, 950, 1, 1, 110);
    cr_assert_eq(x.n, 3);
    expect_act(&x, 0, SW_ACT_END_ROUND, 1, 0, NULL);
    expect_act(&x, 1, SW_ACT_AGGREGATE, 1, 2, S01);
    expect_act(&x, 2, SW_ACT_START_ROUND, 2, 2, S01);
    sw_engine_destroy(x.e);
}

/* Threshold policy on a two-region trace (5-minute rows, hysteresis 0 so releases are at the
 * crossing). Region A is always under; region B is under until 20 min then above. */
static const char two_regions[] = "time,A,B\n"
                                  "2026-01-11T17:00:00Z,50,50\n"
                                  "2026-01-11T17:05:00Z,50,50\n"
                                  "2026-01-11T17:10:00Z,50,50\n"
                                  "2026-01-11T17:15:00Z,50,50\n"
                                  "2026-01-11T17:20:00Z,50,150\n"
                                  "2026-01-11T17:25:00Z,50,150\n"
                                  "2026-01-11T17:30:00Z,50,150\n"
                                  "2026-01-11T17:35:00Z,50,150\n"
                                  "2026-01-11T17:40:00Z,50,150\n"
                                  "2026-01-11T17:45:00Z,50,150\n";

static h threshold_engine(const char *csv, const sw_trace **tr_out)
{
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_parse(csv, strlen(csv), "test.csv", NULL, &tr, &err), SW_OK, "%s",
                 err.msg);
    static const sw_engine_site sites[] = {{"a", 0, 240}, {"b", 1, 240}};
    sw_engine_config cfg = {.start_unix_s = sw_trace_start(tr, 0),
                            .end_s = 0,
                            .trace = tr,
                            .sites = sites,
                            .n_sites = 2,
                            .policy = {SW_POLICY_THRESHOLD, 100, 0, 0},
                            .rounds = {600}};
    h x = {0};
    cr_assert_eq(sw_engine_create(&cfg, &x.e, &err), SW_OK, "%s", err.msg);
    *tr_out = tr;
    return x;
}

Test(engine_rounds, a_draining_site_returns_its_work_into_the_aggregation)
{
    const sw_trace *tr;
    h x = threshold_engine(two_regions, &tr);
    tick(&x, 0);
    cr_assert_eq(x.n, 2, "both regions are under at t = 0");
    ready(&x, 240, 0);
    ready(&x, 240, 1);
    tick(&x, 840);
    report(&x, 840, 0, 0, 600);
    expect_act(&x, 1, SW_ACT_START_ROUND, 1, 2, S01);
    cr_expect_eq(x.wake_s, 1200, "B crosses the threshold at 17:20");
    tick(&x, 1200);
    cr_assert_eq(x.n, 1);
    cr_expect_eq(x.a[0].kind, SW_ACT_STOP_SITE);
    cr_expect_eq(x.a[0].site, 1);
    cr_expect_eq(x.a[0].round, 1);
    cr_expect_eq(sw_engine_site_state(x.e, 1), SW_SITE_DRAINING);
    report(&x, 1230, 1, 1, 360);
    cr_assert_eq(x.n, 1, "released once its work is in, before the round ends");
    cr_expect_eq(x.a[0].kind, SW_ACT_RELEASE_SITE);
    cr_expect_eq(x.a[0].site, 1);
    tick(&x, 1440);
    expect_act(&x, 0, SW_ACT_END_ROUND, 1, 1, S0);
    report(&x, 1440, 0, 1, 600);
    expect_act(&x, 0, SW_ACT_AGGREGATE, 1, 2, S01);
    cr_expect_float_eq(x.a[0].weights[0], 600.0 / 960.0, 1e-15);
    cr_expect_float_eq(x.a[0].weights[1], 360.0 / 960.0, 1e-15);
    expect_act(&x, 1, SW_ACT_START_ROUND, 2, 1, S0);
    cr_expect(isinf(x.a[1].deadline_s), "back to single-site mode");
    sw_engine_destroy(x.e);
    sw_trace_destroy((sw_trace *)tr);
}

Test(engine_rounds, training_pauses_while_no_site_is_up)
{
    /* A under for 10 min, above 20 min, under again; B never under */
    static const char csv[] = "time,A,B\n"
                              "2026-01-11T17:00:00Z,50,500\n"
                              "2026-01-11T17:10:00Z,150,500\n"
                              "2026-01-11T17:30:00Z,60,500\n"
                              "2026-01-11T17:40:00Z,60,500\n";
    const sw_trace *tr;
    h x = threshold_engine(csv, &tr);
    tick(&x, 0);
    ready(&x, 240, 0);
    expect_act(&x, 0, SW_ACT_START_ROUND, 0, 1, S0);
    tick(&x, 600);
    cr_assert_eq(x.n, 1);
    cr_expect_eq(x.a[0].kind, SW_ACT_STOP_SITE);
    report(&x, 640, 0, 0, 400);
    cr_assert_eq(x.n, 3);
    expect_act(&x, 0, SW_ACT_RELEASE_SITE, 0, 0, NULL);
    expect_act(&x, 1, SW_ACT_END_ROUND, 0, 0, NULL);
    expect_act(&x, 2, SW_ACT_AGGREGATE, 0, 1, S0);
    cr_expect_null(sw_engine_round(x.e));
    cr_expect_eq(x.wake_s, 1800, "nothing to do until A is under again");
    tick(&x, 1800);
    cr_assert_eq(x.n, 1);
    cr_expect_eq(x.a[0].kind, SW_ACT_PROVISION_SITE);
    ready(&x, 2040, 0);
    expect_act(&x, 0, SW_ACT_START_ROUND, 1, 1, S0);
    sw_engine_destroy(x.e);
    sw_trace_destroy((sw_trace *)tr);
}
