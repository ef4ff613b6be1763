/* test_policies_cli.c - the look-ahead policies end to end: `spillway sim scenarios/paper.yaml
 * --set policy.kind=KIND` for forecast_threshold, deadline and elastic writes a report whose
 * decisions differ from the threshold run's as each policy means them to, and `spillway
 * summary` of the runs shows each one's gap to the offline optimum. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_run.c.inc"
#include "core/report.h"

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/sw-test-policiescli-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Simulates paper.yaml with policy.kind=kind into DIR/kind.h5 and opens the report. */
static sw_report_data *sim(const char *kind)
{
    char out[512], set[96];
    snprintf(out, sizeof out, "%s/%s.h5", dir, kind);
    snprintf(set, sizeof set, "policy.kind=%s", kind);
    cli_result r;
    cr_assert_eq(cli_run((const char *const[]){"sim", "scenarios/paper.yaml", "--set", set, "-o",
                                               out, "--quiet", NULL},
                         &r),
                 0);
    cr_assert_eq(r.status, 0, "%s: %s", kind, r.err);
    cli_result_free(&r);
    sw_report_data *d;
    sw_error err;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    char want[96];
    snprintf(want, sizeof want, "kind: %s", kind);
    cr_assert_not_null(strstr(d->scenario_yaml, want), "the report's scenario says %s", want);
    return d;
}

/* Run time of the first time site `name` starts provisioning, or INFINITY. */
static double first_provision_s(const sw_report_data *d, const char *name)
{
    for (size_t i = 0; i < d->n_sites; i++)
        if (!strcmp(d->sites[i].name, name))
            for (size_t k = 0; k < d->sites[i].n_states; k++)
                if (d->sites[i].states[k].state == SW_REPORT_STATE_PROVISIONING)
                    return d->sites[i].states[k].t_s;
    return INFINITY;
}

Test(policies_cli, each_lookahead_kind_runs_and_decides_its_way, .init = setup, .fini = teardown,
     .timeout = 300)
{
    sw_report_data *thr = sim("threshold"), *ft = sim("forecast_threshold"), *dl = sim("deadline"),
                   *el = sim("elastic");
    /* Texas's first curtailed window on the reference trace opens at 03:05 UTC (run time
     * 36300 s from 17:00) and lasts 10 min: threshold provisions for it, forecast_threshold
     * skips it (it cannot repay provisioning and start-up) and waits for the next one. */
    cr_assert_eq(first_provision_s(thr, "texas"), 36300);
    cr_assert_gt(first_provision_s(ft, "texas"), 36300 + 600);
    cr_assert(isfinite(first_provision_s(ft, "texas")));
    const sw_report_data *all[] = {thr, ft, dl, el};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(all[i]->summary.tokens, thr->summary.tokens, "each trains the whole budget");
    /* skipping a short window saves its provisioning; deadline waits for cleaner power within
     * the run; elastic runs only the sites whose extra tokens are cheap */
    cr_assert_lt(ft->summary.carbon_kg, thr->summary.carbon_kg);
    cr_assert_lt(dl->summary.carbon_kg, thr->summary.carbon_kg);
    cr_assert_lt(el->summary.carbon_kg, thr->summary.carbon_kg);
    cr_assert_lt(dl->summary.rounds, thr->summary.rounds);
    for (int i = 0; i < 4; i++)
        sw_report_data_free((sw_report_data *)all[i]);
}

/* The value of row `name` in summary --csv output, column col (0 = first report). */
static double csv_value(const char *out, const char *name, int col)
{
    char key[96];
    snprintf(key, sizeof key, "\n%s,", name);
    const char *p = strstr(out, key);
    cr_assert_not_null(p, "row %s missing in:\n%s", name, out);
    p += strlen(key);
    for (int c = 0; c < col; c++) {
        p = strchr(p, ',');
        cr_assert_not_null(p);
        p++;
    }
    return strtod(p, NULL);
}

Test(policies_cli, summary_gap_to_the_optimum, .init = setup, .fini = teardown, .timeout = 300)
{
    sw_report_data *thr = sim("threshold"), *el = sim("elastic");
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/threshold.h5", dir);
    snprintf(b, sizeof b, "%s/elastic.h5", dir);
    cli_result r;
    cr_assert_eq(
        cli_run((const char *const[]){"summary", a, b, "--csv", "--optimum-time-limit", "3", NULL},
                &r),
        0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "\npolicy,threshold,elastic\n"), "%s", r.out);
    double opt_kg = csv_value(r.out, "optimum_carbon_kg", 0);
    double bound_kg = csv_value(r.out, "optimum_bound_kg", 0);
    cr_assert_gt(bound_kg, 0);
    cr_assert_leq(bound_kg, opt_kg * (1 + 1e-9));
    /* the gaps are the reports' carbon against the optimum's, in percent */
    double gap_thr = csv_value(r.out, "carbon gap to the optimum (%)", 0);
    double gap_el = csv_value(r.out, "carbon gap to the optimum (%)", 1);
    cr_assert_float_eq(gap_thr, 100 * (thr->summary.carbon_kg - opt_kg) / opt_kg, 0.06);
    cr_assert_float_eq(gap_el, 100 * (el->summary.carbon_kg - opt_kg) / opt_kg, 0.06);
    cr_assert_gt(gap_thr, gap_el, "elastic is nearer the optimum than threshold");
    cli_result_free(&r);

    /* the human table labels the optimum as the cost model's */
    cr_assert_eq(
        cli_run((const char *const[]){"summary", a, b, "--optimum-time-limit", "3", NULL}, &r), 0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "carbon gap to the optimum (%)"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "step-grid cost model"), "%s", r.out);
    cli_result_free(&r);

    /* one policy only, or --no-optimum: no optimum */
    cr_assert_eq(cli_run((const char *const[]){"summary", a, a, NULL}, &r), 0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_null(strstr(r.out, "optimum"), "%s", r.out);
    cli_result_free(&r);
    cr_assert_eq(cli_run((const char *const[]){"summary", a, b, "--no-optimum", NULL}, &r), 0);
    cr_assert_null(strstr(r.out, "optimum"), "%s", r.out);
    cli_result_free(&r);
    cr_assert_eq(
        cli_run((const char *const[]){"summary", a, b, "--optimum-time-limit", "0", NULL}, &r), 0);
    cr_assert_eq(r.status, 2);
    cli_result_free(&r);
    sw_report_data_free(thr);
    sw_report_data_free(el);
}
