/* test_sim_cli.c - `spillway sim` and `spillway summary` as a user runs them: determinism,
 * the baselines and their carbon ordering, the summary table, and bad input (exit 2, no
 * report written). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_run.c.inc"
#include "core/report.h"
#include "core/trace.h"

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/sw-test-simcli-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static char *path_in(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static sw_report_data *open_report(const char *path)
{
    sw_report_data *d;
    sw_error err;
    cr_assert_eq(sw_report_open(path, &d, &err), SW_OK, "%s", err.msg);
    return d;
}

#define SAME_ARRAY(a, b, n, what)                                                                  \
    cr_assert(((n) == 0) || !memcmp((a), (b), (n) * sizeof *(a)), "%s differs", what)

Test(sim_cli, same_scenario_same_datasets, .init = setup, .fini = teardown, .timeout = 120)
{
    char *a = path_in("a.h5"), *b = path_in("b.h5");
    cli_result r;
    cr_assert_eq(
        cli_run((const char *const[]){"sim", "scenarios/paper.yaml", "-o", a, "--quiet", NULL}, &r),
        0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
    cr_assert_eq(
        cli_run((const char *const[]){"sim", "scenarios/paper.yaml", "-o", b, "--quiet", NULL}, &r),
        0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
    sw_report_data *x = open_report(a), *y = open_report(b);
    cr_assert_str_eq(x->scenario_yaml, y->scenario_yaml);
    cr_assert_eq(x->n_rounds, y->n_rounds);
    SAME_ARRAY(x->rounds, y->rounds, x->n_rounds, "/rounds");
    cr_assert_eq(x->n_events, y->n_events);
    SAME_ARRAY(x->events, y->events, x->n_events, "/events");
    cr_assert_eq(x->n_global, y->n_global);
    SAME_ARRAY(x->global, y->global, x->n_global, "/global");
    cr_assert_eq(x->n_sites, y->n_sites);
    for (size_t i = 0; i < x->n_sites; i++) {
        cr_assert_eq(x->sites[i].n_states, y->sites[i].n_states);
        SAME_ARRAY(x->sites[i].states, y->sites[i].states, x->sites[i].n_states, "states");
        cr_assert_eq(x->sites[i].n_power, y->sites[i].n_power);
        SAME_ARRAY(x->sites[i].power, y->sites[i].power, x->sites[i].n_power, "power");
        cr_assert_eq(x->sites[i].n_train, y->sites[i].n_train);
        SAME_ARRAY(x->sites[i].train, y->sites[i].train, x->sites[i].n_train, "train");
    }
    cr_assert_eq(x->summary.carbon_kg, y->summary.carbon_kg);
    cr_assert_eq(x->summary.energy_kwh, y->summary.energy_kwh);
    sw_report_data_free(x);
    sw_report_data_free(y);
}

Test(sim_cli, baselines_and_summary_table, .init = setup, .fini = teardown, .timeout = 300)
{
    char *out = path_in("paper.h5");
    cli_result r;
    cr_assert_eq(cli_run((const char *const[]){"sim", "scenarios/paper.yaml", "--baselines", "-o",
                                               out, "--quiet", NULL},
                         &r),
                 0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
    static const char *regions[] = {"CAISO_NORTH", "SPP_TX", "NEM_SA", "DE"};
    double carbon[4];
    sw_report_data *ours = open_report(out);
    for (int i = 0; i < 4; i++) {
        char name[128];
        snprintf(name, sizeof name, "paper-central-%s.h5", regions[i]);
        sw_report_data *d = open_report(path_in(name));
        cr_assert_eq(d->n_sites, 1);
        cr_assert_str_eq(d->sites[0].region, regions[i]);
        cr_assert_eq(d->summary.tokens, ours->summary.tokens, "the baseline trains the same data");
        carbon[i] = d->summary.carbon_kg;
        /* The baseline's carbon is stored in our summary. */
        char extra[96];
        snprintf(extra, sizeof extra, "carbon_kg_baseline_central-%s", regions[i]);
        bool found = false;
        for (size_t k = 0; k < ours->summary.n_extras; k++)
            if (!strcmp(ours->summary.extras[k].name, extra)) {
                found = true;
                cr_assert_eq(ours->summary.extras[k].value, carbon[i]);
            }
        cr_assert(found, "%s missing", extra);
        cr_assert_lt(ours->summary.carbon_kg, carbon[i], "curtailment-aware beats %s", regions[i]);
        sw_report_data_free(d);
    }
    /* Same energy profile (one site, always on, same work): the ordering of their carbon is
     * the ordering of the regions' mean intensity over the run. */
    sw_trace *tr;
    sw_error err;
    cr_assert_eq(sw_trace_load("traces/mci_2026-01-11.csv", NULL, &tr, &err), SW_OK);
    double mean[4];
    for (int i = 0; i < 4; i++) {
        size_t reg = (size_t)sw_trace_region_index(tr, regions[i]);
        double I;
        cr_assert_eq(
            sw_trace_integral(tr, reg, ours->t0_unix_s, ours->t0_unix_s + 17 * 3600, &I, &err),
            SW_OK);
        mean[i] = I;
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (mean[i] < mean[j])
                cr_assert_lt(carbon[i], carbon[j], "%s vs %s", regions[i], regions[j]);
    sw_trace_destroy(tr);
    sw_report_data_free(ours);

    cr_assert_eq(cli_run((const char *const[]){"summary", out, NULL}, &r), 0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "carbon (kgCO2)"), "%s", r.out);
    cr_assert(strstr(r.out, "energy in curtailment windows (%)"), "%s", r.out);
    cr_assert(strstr(r.out, "central-DE"), "%s", r.out);
    cr_assert(strstr(r.out, "federated2"), "%s", r.out);
    cli_result_free(&r);
}

Test(sim_cli, bad_input_exits_2_without_output, .init = setup, .fini = teardown)
{
    char *out = path_in("x.h5");
    char *bad = path_in("bad.yaml");
    FILE *f = fopen(bad, "w");
    fprintf(f,
            "name: bad\ntrace: { file: %s/traces/mci_2026-01-11.csv }\nsites:\n"
            "  - { name: a, region: CAISO_NORTH, gpus: many }\n",
            SW_SOURCE_DIR);
    fclose(f);
    struct {
        const char *args[10];
        const char *needle;
    } cases[] = {
        {{"sim", "no/such.yaml", "-o", out, NULL}, "no/such.yaml"},
        {{"sim", bad, "-o", out, NULL}, "gpus"},
        {{"sim", "scenarios/paper.yaml", "-o", out, "--set", "sites.0.region=MARS", NULL}, "MARS"},
        {{"sim", "scenarios/paper.yaml", "-o", out, "--set", "policy.nonsense=1", NULL},
         "nonsense"},
        {{"sim", "scenarios/paper.yaml", "-o", out, "--set", "noequals", NULL}, "--set"},
        {{"sim", "scenarios/paper.yaml", "-o", out, "--seed", "-3", NULL}, "--seed"},
        {{"sim", "scenarios/paper.yaml", "--frobnicate", NULL}, "--frobnicate"},
        {{"summary", bad, NULL}, "bad.yaml"},
        {{"summary", "no/such.h5", NULL}, "no/such.h5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_result r;
        cr_assert_eq(cli_run(cases[i].args, &r), 0);
        cr_assert_eq(r.status, 2, "case %zu: status %d, stderr %s", i, r.status, r.err);
        cr_assert(strstr(r.err, cases[i].needle), "case %zu: '%s' not in: %s", i, cases[i].needle,
                  r.err);
        cr_assert_neq(access(out, F_OK), 0, "case %zu left a report", i);
        cli_result_free(&r);
    }
}
