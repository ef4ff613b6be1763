/* test_run.c - the run session (core/run.h): margins of the end of the run, a run that fails
 * still writes its report marked incomplete, and the ledger books nothing after the end. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/report.h"
#include "core/run.h"
#include "core/run_end_cases.h"
#include "core/scenario.h"

static char tmpdir[256], trace_path[300], out_path[300];

static void setup_dir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sw-test-run-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(trace_path, sizeof trace_path, "%s/trace.csv", tmpdir);
    snprintf(out_path, sizeof out_path, "%s/r.h5", tmpdir);
    run_end_write_trace(trace_path);
}

static void rm_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

static sw_run *make_run(sw_scenario *sc, const char *extra)
{
    char text[4096];
    run_end_scenario(text, sizeof text, trace_path, "{kind: always_on}",
                     "  - {name: a, region: A, provision_s: 240, drain_s: 45}\n", extra);
    sw_error err;
    cr_assert_eq(sw_scenario_parse_text(text, "run.yaml", NULL, 0, sc, &err), SW_OK, "%s", err.msg);
    sw_run_config cfg = {.mode = SW_REPORT_EXEC,
                         .out_path = out_path,
                         .created_utc = "2026-01-01T00:00:00Z",
                         .model_bytes = 4e6};
    sw_run *r;
    cr_assert_eq(sw_run_create(sc, &cfg, &r, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_run_start(r, NULL, &err), SW_OK, "%s", err.msg);
    return r;
}

Test(run, margins_come_from_the_scenario, .init = setup_dir, .fini = rm_dir)
{
    sw_scenario sc;
    sw_run *r = make_run(&sc, "");
    /* one transfer: 4e6 B at 100 Gbit/s + 1 ms */
    double xfer = 4e6 / 12.5e9 + 1e-3;
    cr_assert_float_eq(sw_run_transfer_s(r), xfer, 1e-12);
    /* chunk 60 + max(return 45, drain 45) + transfer + aggregate 2 + 1 */
    cr_assert_float_eq(sw_run_wind_down_s(r), 60 + 45 + xfer + 2 + 1, 1e-9);
    /* download + start-up 85 + one step 2.75 s */
    cr_assert_float_eq(sw_run_lead_s(r, 0), xfer + 85 + 2.75, 1e-9);
    cr_assert_float_eq(sw_run_end_s(r), RUN_END_S, 1e-9);
    cr_assert_float_eq(sw_engine_horizon_s(sw_run_engine(r)), RUN_END_S - sw_run_wind_down_s(r),
                       1e-9);
    sw_run_destroy(r);
    sw_scenario_free(&sc);
}

Test(run, a_run_shorter_than_its_wind_down_is_an_input_error, .init = setup_dir, .fini = rm_dir)
{
    char text[4096];
    run_end_scenario(text, sizeof text, trace_path, "{kind: always_on}",
                     "  - {name: a, region: A, drain_s: 7000}\n", "");
    sw_scenario sc;
    sw_error err;
    cr_assert_eq(sw_scenario_parse_text(text, "run.yaml", NULL, 0, &sc, &err), SW_OK, "%s",
                 err.msg);
    sw_run_config cfg = {.mode = SW_REPORT_SIM, .out_path = out_path, .model_bytes = 4e6};
    sw_run *r;
    cr_assert_eq(sw_run_create(&sc, &cfg, &r, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "trace.end"), "%s", err.msg);
    cr_assert(strstr(err.msg, "wind-down"), "%s", err.msg);
    cr_assert_eq(access(out_path, F_OK), -1, "no report for an input error");
    sw_scenario_free(&sc);
}

Test(run, a_failed_run_writes_its_report_marked_incomplete, .init = setup_dir, .fini = rm_dir)
{
    sw_scenario sc;
    sw_run *r = make_run(&sc, "");
    sw_run_phase(r, 0, SW_PHASE_PROVISIONING, 0, NAN);
    sw_run_phase(r, 0, SW_PHASE_IDLE, 240, NAN);
    sw_run_fail(r, SW_EINPUT, "agent a: connection lost");
    cr_assert(sw_run_failed(r));
    sw_error err;
    sw_report_summary sum;
    cr_assert_eq(sw_run_close(r, 300, NULL, 0, &sum, &err), SW_ERUNTIME,
                 "a runtime failure, whatever code the driver gave");
    cr_assert(strstr(err.msg, "connection lost"), "%s", err.msg);
    cr_assert(strstr(err.msg, "incomplete"), "%s", err.msg);
    sw_run_destroy(r);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(out_path, &d, &err), SW_OK, "%s", err.msg);
    cr_assert_not(d->complete);
    cr_assert(strstr(d->incomplete_reason, "connection lost"), "%s", d->incomplete_reason);
    /* what it had: 240 s provisioning and 60 s idle at 468 W */
    cr_assert_float_eq(d->summary.energy_kwh, 300 * 468 / 3.6e6, 1e-12);
    cr_assert_float_eq(d->summary.runtime_h, 300 / 3600.0, 1e-12);
    sw_report_data_free(d);
    sw_scenario_free(&sc);
}

Test(run, the_ledger_books_nothing_after_the_end, .init = setup_dir, .fini = rm_dir)
{
    sw_scenario sc;
    sw_run *r = make_run(&sc, "");
    sw_run_phase(r, 0, SW_PHASE_PROVISIONING, 0, NAN);
    sw_run_phase(r, 0, SW_PHASE_TRAINING, 240, NAN);
    sw_run_phase(r, 0, SW_PHASE_SYNCING, RUN_END_S + 30, NAN); /* 30 s past the end */
    sw_run_phase(r, 0, SW_PHASE_OFF, RUN_END_S + 50, NAN);
    sw_error err;
    cr_assert_eq(sw_run_close(r, RUN_END_S + 50, NULL, 0, NULL, &err), SW_OK, "%s", err.msg);
    sw_run_destroy(r);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(out_path, &d, &err), SW_OK, "%s", err.msg);
    cr_assert(d->complete);
    double want_j = 240 * 468.0 + (RUN_END_S - 240) * 2024.0;
    cr_assert_float_eq(d->summary.energy_kwh, want_j / 3.6e6, 1e-9);
    cr_assert_float_eq(run_end_extra(d, "unbooked_after_end_site_s"), 50, 1e-9);
    bool noted = false;
    for (size_t i = 0; i < d->n_events; i++)
        noted |=
            d->events[i].kind == SW_REPORT_EV_NOTE && strstr(d->events[i].detail, "not booked");
    cr_assert(noted);
    sw_report_data_free(d);
    sw_scenario_free(&sc);
}

Test(run, the_failure_schedule_is_seeded_and_sorted, .init = setup_dir, .fini = rm_dir)
{
    const char *extra = "failures: {at: [{site: a, t_s: 5000}, {site: a, t_s: 100}], "
                        "mtbf_s: 1000}\n";
    sw_scenario s1, s2, s3;
    sw_run *r1 = make_run(&s1, extra), *r2 = make_run(&s2, extra);
    size_t n = sw_run_failure_count(r1);
    cr_assert_gt(n, 2, "the two given and some drawn (mean 6.9 over 6900 s)");
    cr_assert_eq(n, sw_run_failure_count(r2), "same seed, same schedule");
    bool saw_100 = false, saw_5000 = false;
    for (size_t i = 0; i < n; i++) {
        const sw_run_failure *a = sw_run_failure_at(r1, i), *b = sw_run_failure_at(r2, i);
        cr_assert_eq(a->t_s, b->t_s);
        cr_assert_eq(a->site, 0);
        cr_assert_lt(a->t_s, RUN_END_S);
        if (i > 0)
            cr_assert_geq(a->t_s, sw_run_failure_at(r1, i - 1)->t_s, "in time order");
        saw_100 |= a->t_s == 100;
        saw_5000 |= a->t_s == 5000;
    }
    cr_assert(saw_100 && saw_5000, "the given times are in the schedule");
    sw_run_destroy(r1);
    sw_run_destroy(r2);
    sw_scenario_free(&s1);
    sw_scenario_free(&s2);
    /* another seed draws other times */
    char text[4096];
    run_end_scenario(text, sizeof text, trace_path, "{kind: always_on}",
                     "  - {name: a, region: A, provision_s: 240, drain_s: 45}\n",
                     "seed: 7\nfailures: {mtbf_s: 1000}\n");
    sw_error err;
    cr_assert_eq(sw_scenario_parse_text(text, "run.yaml", NULL, 0, &s3, &err), SW_OK, "%s",
                 err.msg);
    sw_run_config cfg = {.mode = SW_REPORT_SIM, .out_path = out_path, .model_bytes = 4e6};
    sw_run *r3;
    cr_assert_eq(sw_run_create(&s3, &cfg, &r3, &err), SW_OK, "%s", err.msg);
    sw_scenario sd;
    sw_run *rd = make_run(&sd, "failures: {mtbf_s: 1000}\n");
    bool differ = sw_run_failure_count(r3) != sw_run_failure_count(rd);
    for (size_t i = 0; !differ && i < sw_run_failure_count(r3); i++)
        differ = sw_run_failure_at(r3, i)->t_s != sw_run_failure_at(rd, i)->t_s;
    cr_assert(differ, "seed 7 and seed 1 gave the same failure times");
    sw_run_destroy(r3);
    sw_run_destroy(rd);
    sw_scenario_free(&s3);
    sw_scenario_free(&sd);
}

Test(run, a_failure_naming_no_site_is_an_input_error, .init = setup_dir, .fini = rm_dir)
{
    char text[4096];
    run_end_scenario(text, sizeof text, trace_path, "{kind: always_on}",
                     "  - {name: a, region: A}\n", "failures: {at: [{site: b, t_s: 10}]}\n");
    sw_scenario sc;
    sw_error err;
    cr_assert_eq(sw_scenario_parse_text(text, "run.yaml", NULL, 0, &sc, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "failures.at[0].site"), "%s", err.msg);
    cr_assert(strstr(err.msg, "run.yaml:"), "file and line: %s", err.msg);
    sw_scenario_free(&sc);
}
