/* Replays the reference experiment (DESIGN §2) through the engine with a tiny fake driver and
 * checks every provisioning and release decision against times derived by hand from the trace.
 *
 * Parameters: threshold 100 g/kWh, hysteresis 600 s, provisioning 240 s, round minimum 600 s,
 * 10 s poll. Sites: 0 california = CAISO_NORTH, 1 texas = SPP_TX, 2 south-australia = NEM_SA.
 * Run time 0 = 2026-01-11 17:00 UTC (the first row); rows are 5 minutes apart, the last one is
 * 2026-01-12 11:00, so the trace (and the run horizon) ends at 11:05 = 65100 s. Every change
 * is on a 5-minute boundary, i.e. on the 10 s poll grid, so polled and exact decisions agree.
 *
 * Derivation (rows read with awk; row i is at t = 300 i):
 *   CAISO_NORTH  row 0 463.6 (17:00) above; row 1 68.9 (17:05) under -> provision at t=300.
 *                rows 25-27 458.6.. (19:05-19:15) above: pending from 7500, still above at
 *                7500+600 = 8100 (row 28, 97.1 < 100, only comes at 8400) -> release at 8100.
 *                row 28 97.1 (19:20) under -> provision again at 8400.
 *                row 77 464.9 (23:25) above and never under again -> release at 23100+600=23700.
 *   NEM_SA       row 56 0.0 (21:40) under -> provision at 16800; row 182 796.8 (08:10) above
 *                until the end -> release at 54600+600 = 55200.
 *   SPP_TX       row 121 26.8 (03:05) under -> provision at 36300; row 123 661.3 (03:15) above
 *                but row 124 42.6 (03:20) under: 300 s < 600 s, pending release cancelled at
 *                37200; same at rows 197/198 (09:25 above, 09:30 78.9 under): cancelled at
 *                59400; row 205 129.7 (10:05) above to the end -> release at 61500+600 = 62100.
 * Rounds with the fake driver (ready 240 s after PROVISION_SITE, work reported at once):
 *   r0  california alone from 540 (open-ended) until its release at 8100 (drained: STOP_SITE).
 *   r1  california alone from 8640 until south-australia is ready at 17040.
 *   r2  both from 17040; 600 s rounds: r13 starts at 17040 + 11*600 = 23640, california drains
 *       at 23700 (60 s of work), south-australia finishes r13 at 24240 (600 s): weights 1/11,
 *       10/11.
 *   r14 south-australia alone from 24240 until texas is ready at 36540.
 *   r15 both from 36540; r46 starts at 36540 + 31*600 = 55140, south-australia drains at 55200.
 *   r47 texas alone from 55740 until its release at 62100. 48 rounds in all. Nothing is up at
 *   the horizon (65100), so the run is done then.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/engine.h"
#include "core/trace.h"

#define MAX_PENDING  16
#define TOKENS_PER_S 1000

typedef struct pending {
    double t_s;
    sw_event ev;
} pending;

typedef struct log_entry {
    sw_action_kind kind;
    double t_s;
    int site;
    int64_t round;
    size_t n;
    int sites[3];
    double weights[3];
} log_entry;

typedef struct driver {
    pending q[MAX_PENDING]; /* FIFO by time, ties in insertion order */
    size_t nq;
    double round_start_s;
    log_entry log[512];
    size_t nlog;
} driver;

static void schedule(driver *d, double t_s, sw_event ev)
{
    cr_assert_lt(d->nq, MAX_PENDING);
    size_t i = d->nq;
    while (i > 0 && d->q[i - 1].t_s > t_s) {
        d->q[i] = d->q[i - 1];
        i--;
    }
    d->q[i] = (pending){t_s, ev};
    d->nq++;
}

static void report_work(driver *d, double now_s, int site, int64_t round)
{
    uint64_t tokens = (uint64_t)((now_s - d->round_start_s) * TOKENS_PER_S);
    schedule(
        d, now_s,
        (sw_event){.kind = SW_EV_WORK_REPORTED, .site = site, .round = round, .tokens = tokens});
}

static void apply(driver *d, const sw_action *a, double now_s)
{
    log_entry *l = &d->log[d->nlog++];
    *l = (log_entry){a->kind, a->t_s, a->site, a->round, a->n_sites, {0}, {0}};
    for (size_t k = 0; k < a->n_sites && k < 3; k++) {
        l->sites[k] = a->sites[k];
        l->weights[k] = a->weights ? a->weights[k] : 0;
    }
    switch (a->kind) {
    case SW_ACT_PROVISION_SITE:
        cr_expect_eq(a->expected_ready_s, now_s + 240);
        schedule(d, now_s + 240, (sw_event){.kind = SW_EV_SITE_READY, .site = a->site});
        break;
    case SW_ACT_START_ROUND:
        d->round_start_s = now_s;
        break;
    case SW_ACT_STOP_SITE:
        report_work(d, now_s, a->site, a->round);
        break;
    case SW_ACT_END_ROUND:
        for (size_t k = 0; k < a->n_sites; k++)
            report_work(d, now_s, a->sites[k], a->round);
        break;
    default:
        break;
    }
}

static sw_engine *replay(double poll_s, driver *d, sw_trace **tr)
{
    sw_error err;
    cr_assert_eq(sw_trace_load(SW_SOURCE_DIR "/traces/mci_2026-01-11.csv", NULL, tr, &err), SW_OK,
                 "%s", err.msg);
    sw_engine_site sites[] = {
        {"california", (size_t)sw_trace_region_index(*tr, "CAISO_NORTH"), 240},
        {"texas", (size_t)sw_trace_region_index(*tr, "SPP_TX"), 240},
        {"south-australia", (size_t)sw_trace_region_index(*tr, "NEM_SA"), 240},
    };
    double t0;
    cr_assert_eq(sw_parse_iso8601("2026-01-11T17:00:00Z", &t0), SW_OK);
    sw_engine_config cfg = {.start_unix_s = t0,
                            .end_s = 0, /* the end of the trace */
                            .trace = *tr,
                            .sites = sites,
                            .n_sites = 3,
                            .policy = {SW_POLICY_THRESHOLD, 100, 600, poll_s},
                            .rounds = {600}};
    sw_engine *e = NULL;
    cr_assert_eq(sw_engine_create(&cfg, &e, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_engine_end_s(e), 65100);

    double now_s = 0, wake_s = 0;
    sw_event ev = {.kind = SW_EV_TICK};
    for (int guard = 0; guard < 100000; guard++) {
        sw_action acts[8]; /* small on purpose: overflow must queue, not lose actions */
        size_t n = sw_engine_step(e, now_s, &ev, acts, 8, &wake_s);
        cr_assert_eq(sw_engine_error(e)->code, SW_OK, "t=%g: %s", now_s, sw_engine_error(e)->msg);
        for (size_t i = 0; i < n; i++)
            apply(d, &acts[i], now_s);
        if (sw_engine_done(e))
            return e;
        if (d->nq > 0 && d->q[0].t_s <= wake_s) {
            now_s = d->q[0].t_s;
            ev = d->q[0].ev;
            memmove(d->q, d->q + 1, --d->nq * sizeof d->q[0]);
        } else {
            cr_assert(isfinite(wake_s), "stuck at t=%g", now_s);
            now_s = wake_s;
            ev = (sw_event){.kind = SW_EV_TICK};
        }
    }
    cr_assert_fail("the replay did not finish");
    return e;
}

static void expect_decisions(const driver *d, sw_action_kind kind, const int *site,
                             const double *t_s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < d->nlog; i++) {
        if (d->log[i].kind != kind)
            continue;
        cr_assert_lt(k, n, "extra %s of site %d at t=%g", sw_action_kind_name(kind), d->log[i].site,
                     d->log[i].t_s);
        cr_expect_eq(d->log[i].site, site[k], "%s #%zu site", sw_action_kind_name(kind), k);
        cr_expect_eq(d->log[i].t_s, t_s[k], "%s #%zu of site %d at t=%g, expected %g",
                     sw_action_kind_name(kind), k, d->log[i].site, d->log[i].t_s, t_s[k]);
        k++;
    }
    cr_expect_eq(k, n, "%zu %s actions, expected %zu", k, sw_action_kind_name(kind), n);
}

static const log_entry *find(const driver *d, sw_action_kind kind, int64_t round)
{
    for (size_t i = 0; i < d->nlog; i++)
        if (d->log[i].kind == kind && d->log[i].round == round)
            return &d->log[i];
    return NULL;
}

static void check_reference_run(double poll_s)
{
    static driver d; /* large; one test at a time per process */
    memset(&d, 0, sizeof d);
    sw_trace *tr = NULL;
    sw_engine *e = replay(poll_s, &d, &tr);

    const int prov_site[] = {0, 0, 2, 1};
    const double prov_t[] = {300, 8400, 16800, 36300};
    expect_decisions(&d, SW_ACT_PROVISION_SITE, prov_site, prov_t, 4);
    /* releases: california idle-free drains at 8100 and 23700, south-australia at 55200,
     * texas at 62100; each STOP_SITE is followed by its RELEASE_SITE at the same time because
     * the fake driver reports at once */
    const int rel_site[] = {0, 0, 2, 1};
    const double rel_t[] = {8100, 23700, 55200, 62100};
    expect_decisions(&d, SW_ACT_STOP_SITE, rel_site, rel_t, 4);
    expect_decisions(&d, SW_ACT_RELEASE_SITE, rel_site, rel_t, 4);

    cr_expect_eq(sw_engine_rounds_completed(e), 48);
    const log_entry *r;
    cr_assert_not_null(r = find(&d, SW_ACT_START_ROUND, 0));
    cr_expect_eq(r->t_s, 540);
    cr_expect_eq(r->n, 1);
    cr_assert_not_null(r = find(&d, SW_ACT_START_ROUND, 1));
    cr_expect_eq(r->t_s, 8640);
    cr_assert_not_null(r = find(&d, SW_ACT_END_ROUND, 1));
    cr_expect_eq(r->t_s, 17040, "single-site mode ends when south-australia is ready");
    cr_assert_not_null(r = find(&d, SW_ACT_START_ROUND, 2));
    cr_expect_eq(r->t_s, 17040);
    cr_expect_eq(r->n, 2);
    cr_assert_not_null(r = find(&d, SW_ACT_START_ROUND, 13));
    cr_expect_eq(r->t_s, 23640);
    cr_assert_not_null(r = find(&d, SW_ACT_AGGREGATE, 13));
    cr_expect_eq(r->t_s, 24240);
    cr_assert_eq(r->n, 2);
    cr_expect_float_eq(r->weights[0], 1.0 / 11.0, 1e-12, "california drained after 60 s");
    cr_expect_float_eq(r->weights[1], 10.0 / 11.0, 1e-12);
    cr_assert_not_null(r = find(&d, SW_ACT_START_ROUND, 15));
    cr_expect_eq(r->t_s, 36540);
    cr_assert_not_null(r = find(&d, SW_ACT_START_ROUND, 46));
    cr_expect_eq(r->t_s, 55140);
    cr_assert_not_null(r = find(&d, SW_ACT_START_ROUND, 47));
    cr_expect_eq(r->t_s, 55740);
    cr_expect_eq(r->n, 1);
    cr_expect_eq(r->sites[0], 1);
    cr_assert_not_null(r = find(&d, SW_ACT_AGGREGATE, 47));
    cr_expect_eq(r->t_s, 62100);
    cr_expect_null(find(&d, SW_ACT_START_ROUND, 48));
    cr_expect_eq(sw_engine_now(e), 65100, "done at the horizon");

    /* texas's two short excursions above the threshold were cancelled by the dips */
    size_t cancels = 0;
    for (size_t i = 0; i < sw_engine_record_count(e); i++) {
        const sw_engine_record *rec = sw_engine_record_at(e, i);
        if (rec->kind == SW_REC_POLICY && strstr(rec->detail, "cancelled")) {
            cr_expect_eq(rec->site, 1);
            cr_expect(rec->t_s == 37200 || rec->t_s == 59400, "cancel at %g", rec->t_s);
            cancels++;
        }
    }
    cr_expect_eq(cancels, 2);
    /* the first decision's record carries its reason */
    const sw_engine_record *first = NULL;
    for (size_t i = 0; i < sw_engine_record_count(e) && !first; i++)
        if (sw_engine_record_at(e, i)->kind == SW_REC_STATE)
            first = sw_engine_record_at(e, i);
    cr_assert_not_null(first);
    cr_expect_eq(first->t_s, 300);
    cr_expect_str_eq(first->detail,
                     "california: off -> provisioning: signal 68.9 g/kWh < threshold 100");
    sw_engine_destroy(e);
    sw_trace_destroy(tr);
}

Test(replay, reference_trace_with_the_10s_poll)
{
    check_reference_run(10);
}

Test(replay, reference_trace_event_driven)
{
    check_reference_run(0);
}
