/* Tests of core/policy: threshold + hysteresis (exact and on the poll grid), always-on, the
 * vtable, and configuration errors. Each test builds a small step trace, runs the policy over it
 * the way the engine does (sw_policy_observe_trace at the times the policy asks for) and checks
 * when the site becomes wanted and unwanted. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/policy.h"
#include "core/trace.h"

#define T0 1768150800.0 /* 2026-01-11T17:00:00Z; run time 0 */

typedef struct change {
    double t_s;
    sw_policy_note note;
} change;

/* One-region trace from run times and values (step semantics: value i holds on [t_i, t_i+1)). */
static sw_trace *make_trace(const double *t_s, const double *v, size_t n, double step_s)
{
    double tu[64];
    cr_assert(n <= 64);
    for (size_t i = 0; i < n; i++)
        tu[i] = T0 + t_s[i];
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_from_arrays("R", tu, v, n, step_s, &tr, &err), SW_OK, "%s", err.msg);
    return tr;
}

/* Runs policy cfg over tr until run time until_s; returns the non-NONE notes (up to cap). */
static size_t run(const sw_policy_config *cfg, const sw_trace *tr, double until_s, change *out,
                  size_t cap)
{
    sw_policy *p = NULL;
    sw_error err;
    cr_assert_eq(sw_policy_create(cfg, &p, &err), SW_OK, "%s", err.msg);
    size_t n = 0;
    for (double t = 0; t <= until_s;) {
        sw_policy_decision d;
        double next = sw_policy_observe_trace(p, tr, 0, T0, t, &d, NULL);
        cr_assert_gt(next, t, "next evaluation must be after the current one");
        if (d.note != SW_POLICY_NOTE_NONE && n < cap)
            out[n++] = (change){t, d.note};
        t = next;
    }
    sw_policy_destroy(p);
    return n;
}

static const sw_policy_config exact600 = {SW_POLICY_THRESHOLD, 100, 600, 0};

Test(policy, provisions_as_soon_as_the_signal_is_under_the_threshold)
{
    double t[] = {0, 300, 600};
    double v[] = {463.6, 68.9, 63.9};
    sw_trace *tr = make_trace(t, v, 3, 300);
    change c[8];
    size_t n = run(&exact600, tr, 850, c, 8);
    cr_assert_eq(n, 1);
    cr_expect_eq(c[0].t_s, 300);
    cr_expect_eq(c[0].note, SW_POLICY_NOTE_WANT_ON);
    sw_trace_destroy(tr);
}

Test(policy, releases_after_the_hysteresis_time_above)
{
    /* under on [0,300), above from 300 on: pending at 300, released at 300 + 600 = 900 */
    double t[] = {0, 300, 600, 900, 1200};
    double v[] = {80, 150, 150, 150, 150};
    sw_trace *tr = make_trace(t, v, 5, 300);
    change c[8];
    size_t n = run(&exact600, tr, 1500, c, 8);
    cr_assert_eq(n, 3);
    cr_expect_eq(c[0].t_s, 0);
    cr_expect_eq(c[1].t_s, 300);
    cr_expect_eq(c[1].note, SW_POLICY_NOTE_PENDING);
    cr_expect_eq(c[2].t_s, 900);
    cr_expect_eq(c[2].note, SW_POLICY_NOTE_WANT_OFF);
    sw_trace_destroy(tr);
}

Test(policy, a_dip_back_under_cancels_the_pending_release)
{
    /* above 300..600, dip at 600..900 (cancels), above again from 900: release at 1500 */
    double t[] = {0, 300, 600, 900, 1200, 1500, 1800};
    double v[] = {80, 150, 90, 150, 150, 150, 150};
    sw_trace *tr = make_trace(t, v, 7, 300);
    change c[8];
    size_t n = run(&exact600, tr, 2000, c, 8);
    cr_assert_eq(n, 5);
    cr_expect_eq(c[1].note, SW_POLICY_NOTE_PENDING);
    cr_expect_eq(c[2].t_s, 600);
    cr_expect_eq(c[2].note, SW_POLICY_NOTE_CANCEL);
    cr_expect_eq(c[3].t_s, 900);
    cr_expect_eq(c[3].note, SW_POLICY_NOTE_PENDING);
    cr_expect_eq(c[4].t_s, 1500);
    cr_expect_eq(c[4].note, SW_POLICY_NOTE_WANT_OFF);
    sw_trace_destroy(tr);
}

Test(policy, a_dip_exactly_at_the_deadline_still_cancels)
{
    /* above on [100, 700) = exactly 600 s, under again at 700: the evaluation at 700 sees the
     * signal under, so the site is kept (released only when above at the deadline itself). */
    double t[] = {0, 100, 700, 800};
    double v[] = {80, 150, 80, 80};
    sw_trace *tr = make_trace(t, v, 4, 100);
    change c[8];
    size_t n = run(&exact600, tr, 850, c, 8);
    cr_assert_eq(n, 3);
    cr_expect_eq(c[2].t_s, 700);
    cr_expect_eq(c[2].note, SW_POLICY_NOTE_CANCEL);
    sw_trace_destroy(tr);
}

Test(policy, the_threshold_value_itself_counts_as_above)
{
    /* "curtailed" is mci < threshold: exactly 100 never provisions and does release */
    double t1[] = {0, 300};
    double v1[] = {100, 100};
    sw_trace *tr = make_trace(t1, v1, 2, 300);
    change c[8];
    cr_expect_eq(run(&exact600, tr, 600, c, 8), 0);
    sw_trace_destroy(tr);

    double t2[] = {0, 300, 600, 900};
    double v2[] = {99.999, 100, 100, 100};
    tr = make_trace(t2, v2, 4, 300);
    size_t n = run(&exact600, tr, 1200, c, 8);
    cr_assert_eq(n, 3);
    cr_expect_eq(c[2].note, SW_POLICY_NOTE_WANT_OFF);
    cr_expect_eq(c[2].t_s, 900);
    sw_trace_destroy(tr);
}

Test(policy, no_signal_after_the_trace_counts_as_above)
{
    /* the series ends at 600 while under: pending from 600, release at 1200 */
    double t[] = {0, 300};
    double v[] = {80, 80};
    sw_trace *tr = make_trace(t, v, 2, 300);
    change c[8];
    size_t n = run(&exact600, tr, 5000, c, 8);
    cr_assert_eq(n, 3);
    cr_expect_eq(c[1].t_s, 600);
    cr_expect_eq(c[2].t_s, 1200);
    cr_expect_eq(c[2].note, SW_POLICY_NOTE_WANT_OFF);
    sw_trace_destroy(tr);
}

Test(policy, poll_grid_delays_decisions_to_the_next_tick)
{
    /* changes at 305 (under) and 1003 (above): exact decisions at 305 and 1003 + 600 = 1603;
     * polled every 10 s: 310, pending seen at 1010, released at 1610. */
    double t[] = {0, 305, 1003};
    double v[] = {150, 50, 150};
    sw_trace *tr = make_trace(t, v, 3, 1000);
    change c[8];
    size_t n = run(&exact600, tr, 3000, c, 8);
    cr_assert_eq(n, 3);
    cr_expect_eq(c[0].t_s, 305);
    cr_expect_eq(c[2].t_s, 1603);

    sw_policy_config polled = {SW_POLICY_THRESHOLD, 100, 600, 10};
    n = run(&polled, tr, 3000, c, 8);
    cr_assert_eq(n, 3);
    cr_expect_eq(c[0].t_s, 310);
    cr_expect_eq(c[1].t_s, 1010);
    cr_expect_eq(c[2].t_s, 1610);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(fmod(c[i].t_s, 10), 0, "decision at %g is off the grid", c[i].t_s);
    sw_trace_destroy(tr);
}

Test(policy, polling_misses_a_dip_between_ticks)
{
    /* under on [0,100), above from 100, a dip under on [503, 507) between ticks 500 and 510.
     * Exact: the dip cancels; release at 507 + 600 = 1107. Polled: the dip is never seen;
     * release at 100 + 600 = 700. */
    double t[] = {0, 100, 503, 507};
    double v[] = {80, 150, 80, 150};
    sw_trace *tr = make_trace(t, v, 4, 1000);
    change c[8];
    size_t n = run(&exact600, tr, 3000, c, 8);
    cr_assert_eq(n, 5);
    cr_expect_eq(c[2].note, SW_POLICY_NOTE_CANCEL);
    cr_expect_eq(c[4].t_s, 1107);

    sw_policy_config polled = {SW_POLICY_THRESHOLD, 100, 600, 10};
    n = run(&polled, tr, 3000, c, 8);
    cr_assert_eq(n, 3);
    cr_expect_eq(c[1].note, SW_POLICY_NOTE_PENDING);
    cr_expect_eq(c[2].t_s, 700);
    cr_expect_eq(c[2].note, SW_POLICY_NOTE_WANT_OFF);
    sw_trace_destroy(tr);
}

Test(policy, zero_hysteresis_releases_at_the_crossing)
{
    double t[] = {0, 300, 600};
    double v[] = {80, 150, 80};
    sw_trace *tr = make_trace(t, v, 3, 300);
    sw_policy_config cfg = {SW_POLICY_THRESHOLD, 100, 0, 0};
    change c[8];
    size_t n = run(&cfg, tr, 850, c, 8);
    cr_assert_eq(n, 3);
    cr_expect_eq(c[1].t_s, 300);
    cr_expect_eq(c[1].note, SW_POLICY_NOTE_WANT_OFF);
    cr_expect_eq(c[2].t_s, 600);
    cr_expect_eq(c[2].note, SW_POLICY_NOTE_WANT_ON);
    sw_trace_destroy(tr);
}

Test(policy, reasons_name_signal_and_threshold)
{
    sw_policy *p = NULL;
    cr_assert_eq(sw_policy_create(&exact600, &p, NULL), SW_OK);
    sw_policy_decision d;
    sw_policy_observe(p, 300, 68.945984, &d);
    cr_expect(d.want);
    cr_expect_str_eq(d.reason, "signal 68.9 g/kWh < threshold 100");
    cr_expect(sw_policy_wants(p));
    cr_expect_str_eq(sw_policy_kind_name(p), "threshold");
    sw_policy_destroy(p);
}

Test(policy, always_on_wants_from_the_start_and_never_lets_go)
{
    sw_policy_config cfg = {.kind = SW_POLICY_ALWAYS_ON};
    sw_policy *p = NULL;
    cr_assert_eq(sw_policy_create(&cfg, &p, NULL), SW_OK);
    sw_policy_decision d;
    double next = sw_policy_observe_trace(p, NULL, 0, T0, 0, &d, NULL);
    cr_expect(d.want);
    cr_expect_eq(d.note, SW_POLICY_NOTE_WANT_ON);
    cr_expect(isinf(next));
    sw_policy_observe(p, 5000, 900, &d);
    cr_expect(d.want);
    cr_expect_eq(d.note, SW_POLICY_NOTE_NONE);
    sw_policy_destroy(p);
}

/* A custom policy through the vtable: wanted on even minutes. */
static void even_observe(void *self, double t_s, double mci, sw_policy_decision *out)
{
    (void)self;
    (void)mci;
    out->want = ((long)(t_s / 60) % 2) == 0;
    out->note = out->want ? SW_POLICY_NOTE_WANT_ON : SW_POLICY_NOTE_WANT_OFF;
    strcpy(out->reason, "even minute");
}
static double even_next(const void *self, double t_s, double change_s)
{
    (void)self;
    (void)change_s;
    return t_s; /* a buggy policy that does not advance: the glue must */
}
static const sw_policy_ops even_ops = {"even", even_observe, even_next, NULL};

Test(policy, custom_policies_plug_into_the_vtable)
{
    sw_policy *p = NULL;
    cr_assert_eq(sw_policy_create_custom(&even_ops, NULL, &p, NULL), SW_OK);
    sw_policy_decision d;
    sw_policy_observe(p, 61, 0, &d);
    cr_expect_not(sw_policy_wants(p));
    cr_expect_gt(sw_policy_next_eval_s(p, 61, INFINITY), 61);
    cr_expect_str_eq(sw_policy_kind_name(p), "even");
    sw_policy_destroy(p);
}

Test(policy, bad_configurations_are_rejected_naming_the_field)
{
    struct {
        sw_policy_config cfg;
        const char *field;
    } bad[] = {
        {{SW_POLICY_THRESHOLD, 0, 600, 0}, "policy.threshold_g_per_kwh"},
        {{SW_POLICY_THRESHOLD, NAN, 600, 0}, "policy.threshold_g_per_kwh"},
        {{SW_POLICY_THRESHOLD, 100, -1, 0}, "policy.hysteresis_s"},
        {{SW_POLICY_THRESHOLD, 100, INFINITY, 0}, "policy.hysteresis_s"},
        {{SW_POLICY_THRESHOLD, 100, 600, -10}, "policy.poll_s"},
        {{(sw_policy_kind)7, 100, 600, 0}, "policy.kind"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sw_policy *p = (sw_policy *)&bad[i]; /* must be reset to NULL on error */
        sw_error err;
        cr_expect_eq(sw_policy_create(&bad[i].cfg, &p, &err), SW_EINPUT, "case %zu", i);
        cr_expect_null(p);
        cr_expect_not_null(strstr(err.msg, bad[i].field), "case %zu: \"%s\"", i, err.msg);
    }
    sw_error err;
    sw_policy *p = NULL;
    cr_expect_eq(sw_policy_create_custom(NULL, NULL, &p, &err), SW_EINPUT);
}
