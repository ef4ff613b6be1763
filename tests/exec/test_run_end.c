/* test_run_end.c - exec runs always end with a complete report (issue 9), on the end-of-run
 * cases sim runs too (tests/core/run_end_cases.h), with real agent processes at 600x, and the
 * issue's reproducer: one always-on site from 2026-01-12T10:40Z to the end of the published
 * trace, which used to stop with a ledger error, exit 2 and no report. */
#define SW_TEST_NEEDS_SPILLWAY 1 /* without it: skipped (test_require.h) */
#include "exec_main.c.inc"

#include "core/run_end_cases.h"

static const char *const exec_block =
    "exec: {time_compression: 600, preset: tiny, batch: 2, seq: 32, threads: 1}\n";

/* Exec's real transfers and loop latency may keep a site up a little after the scenario's
 * margins: at 600x, 0.1 s of wall time is 60 trace s. */
#define EXEC_UNBOOKED_MAX_S 120.0

static sw_report_data *run(const char *name, const char *policy, const char *sites, char *dir,
                           size_t cap)
{
    char trace[700], text[4096], out[600], logp[700];
    test_dir(dir, cap, name);
    snprintf(trace, sizeof trace, "%s/trace.csv", dir);
    snprintf(logp, sizeof logp, "%s/coord.log", dir);
    run_end_write_trace(trace);
    run_end_scenario(text, sizeof text, trace, policy, sites, exec_block);
    sw_scenario sc;
    sw_error err;
    cr_assert_eq(sw_scenario_parse_text(text, "run-end.yaml", NULL, 0, &sc, &err), SW_OK, "%s",
                 err.msg);
    FILE *log = fopen(logp, "w");
    sw_coord_options o;
    coord_opts(&o, &sc, dir, out, sizeof out, log);
    sw_coord_result res;
    int rc = sw_coord_run(&o, &res, &err);
    fclose(log);
    cr_assert_eq(rc, SW_OK, "%s (log: %s)", err.msg, logp);
    sw_scenario_free(&sc);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    return d;
}

Test(run_end, windows_opening_and_closing_near_the_end, .timeout = 120)
{
    char dir[512];
    sw_report_data *d =
        run("run-end-windows", run_end_threshold_policy, run_end_threshold_sites, dir, sizeof dir);
    run_end_check(d, EXEC_UNBOOKED_MAX_S);
    cr_assert_not(run_end_provisioned(d, "c"), "c's provisioning could not end in time");
    cr_assert(run_end_provisioned(d, "d"));
    cr_assert(run_end_provisioned(d, "e"));
    cr_assert_gt(d->sites[run_end_site(d, "a")].summary.tokens, 0);
    sw_report_data_free(d);
    test_dir_done(dir);
}

Test(run_end, a_site_ready_seconds_before_the_end, .timeout = 120)
{
    char dir[512];
    sw_report_data *d =
        run("run-end-ready", "{kind: always_on}", run_end_always_on_sites, dir, sizeof dir);
    run_end_check(d, EXEC_UNBOOKED_MAX_S);
    cr_assert_not(run_end_provisioned(d, "x"), "x would be ready 10 s before the end");
    cr_assert(run_end_provisioned(d, "y"));
    sw_report_data_free(d);
    test_dir_done(dir);
}

/* The issue's reproducer through the real binary, exactly as reported (default compression). */
Test(run_end, issue_reproducer_exits_0_with_a_report, .timeout = 180)
{
    const char *bin = getenv("SW_SPILLWAY");
    unsetenv("BXFI_MAP"); /* see coord_opts */
    char dir[512], path[600], cmd[2400], out[700];
    test_dir(dir, sizeof dir, "run-end-repro");
    snprintf(path, sizeof path, "%s/repro.yaml", dir);
    snprintf(out, sizeof out, "%s/repro.h5", dir);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "name: repro\n"
            "trace: {file: %s/traces/mci_2026-01-11.csv, start: 2026-01-12T10:40:00Z}\n"
            "policy: {kind: always_on}\n"
            "sites:\n"
            "  - {name: a, region: CAISO_NORTH}\n",
            SW_SOURCE_DIR);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "'%s' exec '%s' -o '%s' --quiet --data '%s/corpus/tinyshakespeare.txt' "
             "> '%s/exec.log' 2>&1",
             bin, path, out, SW_SOURCE_DIR, dir);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "spillway exec: status %d (see %s/exec.log)",
              WEXITSTATUS(rc), dir);
    sw_report_data *d;
    sw_error err;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    cr_assert(d->complete, "%s", d->incomplete_reason);
    cr_assert_gt(d->n_rounds, 0);
    cr_assert_gt(d->summary.tokens, 0);
    const sw_report_site_data *a = &d->sites[0];
    cr_assert_eq(a->states[a->n_states - 1].state, SW_REPORT_STATE_OFF);
    sw_report_data_free(d);
    test_dir_done(dir);
}
