/* test_run_end.c - sim runs always end with a complete report (issue 9): the trace ends during
 * training, while a site could still be provisioning, near a drain, with start-up costs, and
 * with a site that would be ready seconds before the end. The same cases run in exec
 * (tests/exec/test_run_end.c). Each Criterion test is its own process, as SimGrid needs. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/report.h"
#include "core/scenario.h"
#include "core/run_end_cases.h"
#include "sim/sim.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sw-test-run-end-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

static sw_report_data *run(const char *policy, const char *sites)
{
    char trace[300], text[4096], out[300];
    snprintf(trace, sizeof trace, "%s/trace.csv", tmpdir);
    snprintf(out, sizeof out, "%s/report.h5", tmpdir);
    run_end_write_trace(trace);
    run_end_scenario(text, sizeof text, trace, policy, sites, "");
    sw_scenario sc;
    sw_error err;
    cr_assert_eq(sw_scenario_parse_text(text, "run-end.yaml", NULL, 0, &sc, &err), SW_OK, "%s",
                 err.msg);
    sw_sim_options opt = {.out_path = out, .quiet = true, .created_utc = "2026-01-01T00:00:00Z"};
    cr_assert_eq(sw_sim_run(&sc, &opt, NULL, &err), SW_OK, "sim: %s", err.msg);
    sw_scenario_free(&sc);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    return d;
}

Test(run_end, windows_opening_and_closing_near_the_end, .init = make_tmpdir, .fini = rm_tmpdir)
{
    sw_report_data *d = run(run_end_threshold_policy, run_end_threshold_sites);
    run_end_check(d, 0);
    /* a trains until the wind-down: its last chunk ends within a log interval of it */
    const sw_report_site_data *a = &d->sites[run_end_site(d, "a")];
    cr_assert_gt(a->n_train, 0);
    cr_assert_geq(a->train[a->n_train - 1].t_s, RUN_END_S - 200);
    /* c's window opens 5 minutes before the end: provisioning could not end in time */
    cr_assert_not(run_end_provisioned(d, "c"));
    bool noted = false;
    for (size_t i = 0; i < d->n_events; i++)
        noted |= d->events[i].site == run_end_site(d, "c") &&
                 strstr(d->events[i].detail, "not provisioned") != NULL;
    cr_assert(noted, "no event says why c was not provisioned");
    /* d is released after its hysteresis, drains, and is off before the end */
    bool stopped = false;
    for (size_t i = 0; i < d->n_events; i++)
        stopped |=
            d->events[i].site == run_end_site(d, "d") && d->events[i].kind == SW_REPORT_EV_STOP;
    cr_assert(stopped, "d was never told to stop");
    /* e joins late (start-up 85 s) and trains */
    cr_assert_gt(d->sites[run_end_site(d, "e")].summary.tokens, 0);
    sw_report_data_free(d);
}

Test(run_end, a_site_ready_seconds_before_the_end, .init = make_tmpdir, .fini = rm_tmpdir)
{
    sw_report_data *d = run("{kind: always_on}", run_end_always_on_sites);
    run_end_check(d, 0);
    cr_assert_not(run_end_provisioned(d, "x"), "x would be ready 10 s before the end");
    cr_assert(run_end_provisioned(d, "y"));
    cr_assert_gt(d->sites[run_end_site(d, "y")].summary.tokens, 0);
    cr_assert_gt(d->n_rounds, 0);
    sw_report_data_free(d);
}

/* The issue's reproducer in sim: no trace.end, one always-on site from 2026-01-12T10:40Z, the
 * last 25 minutes of the published trace. */
Test(run_end, issue_reproducer_ends_with_a_report, .init = make_tmpdir, .fini = rm_tmpdir)
{
    const char *text = "name: repro\n"
                       "trace: {file: traces/mci_2026-01-11.csv, start: 2026-01-12T10:40:00Z}\n"
                       "policy: {kind: always_on}\n"
                       "sites:\n"
                       "  - {name: a, region: CAISO_NORTH}\n";
    char out[300];
    snprintf(out, sizeof out, "%s/repro.h5", tmpdir);
    sw_scenario sc;
    sw_error err;
    cr_assert_eq(sw_scenario_parse_text(text, "repro.yaml", NULL, 0, &sc, &err), SW_OK, "%s",
                 err.msg);
    sw_sim_options opt = {.out_path = out, .quiet = true, .created_utc = "2026-01-01T00:00:00Z"};
    cr_assert_eq(sw_sim_run(&sc, &opt, NULL, &err), SW_OK, "sim: %s", err.msg);
    sw_scenario_free(&sc);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    cr_assert(d->complete);
    cr_assert_gt(d->summary.tokens, 0);
    cr_assert_eq(run_end_extra(d, "unbooked_after_end_site_s"), 0);
    const sw_report_site_data *a = &d->sites[0];
    cr_assert_eq(a->states[a->n_states - 1].state, SW_REPORT_STATE_OFF);
    cr_assert_leq(a->states[a->n_states - 1].t_s, 1500, "off before the trace ends (11:05)");
    sw_report_data_free(d);
}
