/* test_sweep.c - sweep files (core/sweep.h) and the sweep table (core/sweep_table.h): expansion
 * order, ranges, zip, seeds, sites.count, every bad key or value named at its line, the report
 * names, and the table written and read back. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/scenario.h"
#include "core/sweep.h"
#include "core/sweep_table.h"

#define PAPER SW_SOURCE_DIR "/scenarios/paper.yaml"

static sw_sweep sw;
static sw_error err;

/* Parses a sweep text whose base is scenarios/paper.yaml; returns the status. */
static int parse(const char *body)
{
    char text[4096];
    snprintf(text, sizeof text, "base: %s\n%s", PAPER, body);
    sw_sweep_free(&sw);
    return sw_sweep_parse_text(text, "t/x.yaml", &sw, &err);
}

static void fini(void)
{
    sw_sweep_free(&sw);
}

static const char *ov(size_t point, size_t k)
{
    cr_assert_lt(k, sw.points[point].n_overrides);
    return sw.points[point].overrides[k];
}

Test(sweep, the_shipped_example_expands_in_row_major_order, .fini = fini)
{
    cr_assert_eq(sw_sweep_load(SW_SOURCE_DIR "/scenarios/sweeps/paper-threshold.yaml", &sw, &err),
                 SW_OK, "%s", err.msg);
    cr_assert_str_eq(sw.name, "paper-threshold");
    cr_assert_eq(sw.n_params, 3);
    cr_assert_eq(sw.n_points, 4 * 3 * 3);
    cr_assert_str_eq(sw.params[0].key, "policy.threshold_g_per_kwh");
    cr_assert_eq(sw.params[1].n_values, 3);
    cr_assert_str_eq(sw.params[1].values[2], "1200");
    cr_assert(sw.params[0].numeric && sw.params[1].numeric && sw.params[2].numeric);
    /* Point 0: the first value of every key; the last key (sites.count) varies fastest. */
    cr_assert_eq(sw.points[0].value_index[0], 0);
    cr_assert_eq(sw.points[1].value_index[2], 1);
    cr_assert_eq(sw.points[3].value_index[1], 1);
    cr_assert_eq(sw.points[9].value_index[0], 1);
    /* sites.count comes first, as a `sites=` list of the base scenario's first sites. */
    cr_assert(!strncmp(ov(0, 0), "sites=[{name: california", 24), "%s", ov(0, 0));
    cr_assert_null(strstr(ov(0, 0), "texas"));
    cr_assert_not_null(strstr(ov(2, 0), "south-australia"));
    cr_assert_str_eq(ov(35, 1), "policy.threshold_g_per_kwh=200");
    cr_assert_str_eq(ov(35, 2), "policy.deprovision_after_s=1200");
    /* Every point loads as a scenario with those values. */
    sw_scenario sc;
    cr_assert_eq(sw_scenario_parse_text(sw.base_text, sw.base_path,
                                        (const char *const *)sw.points[13].overrides,
                                        sw.points[13].n_overrides, &sc, &err),
                 SW_OK, "%s", err.msg);
    cr_assert_eq(sc.n_sites, 2);
    cr_assert_eq(sc.policy.threshold_g_per_kwh, 100);
    cr_assert_eq(sc.policy.deprovision_after_s, 600);
    cr_assert_eq(sc.sites[1].power_w.idle, 468);
    sw_scenario_free(&sc);
    char label[256];
    sw_sweep_point_label(&sw, 13, label, sizeof label);
    cr_assert_str_eq(label, "policy.threshold_g_per_kwh=100, policy.deprovision_after_s=600, "
                            "sites.count=2");
}

Test(sweep, ranges_include_the_end_without_rounding_noise, .fini = fini)
{
    cr_assert_eq(parse("grid:\n  model.step_s: {from: 2.5, to: 2.8, step: 0.1}\n"
                       "  rounds.min_duration_s: {from: 900, to: 300, step: -300}\n"),
                 SW_OK, "%s", err.msg);
    cr_assert_eq(sw.params[0].n_values, 4);
    cr_assert_str_eq(sw.params[0].values[1], "2.6");
    cr_assert_str_eq(sw.params[0].values[3], "2.8");
    cr_assert_eq(sw.params[1].n_values, 3);
    cr_assert_str_eq(sw.params[1].values[2], "300");
    cr_assert_eq(sw.n_points, 12);
}

Test(sweep, zip_varies_lists_together_and_seeds_are_fastest, .fini = fini)
{
    cr_assert_eq(parse("set: {trace.baseline_regions: []}\n"
                       "grid: {policy.poll_s: [0, 10]}\n"
                       "zip:\n  rounds.min_duration_s: [300, 600, 900]\n"
                       "  rounds.startup_s: [40, 85, 120]\n"
                       "seeds: {from: 1, to: 2}\n"),
                 SW_OK, "%s", err.msg);
    cr_assert_eq(sw.n_points, 2 * 3 * 2);
    cr_assert_eq(sw.n_axes, 3);
    cr_assert_str_eq(sw.params[3].key, "seed");
    /* Point 3: poll 0, zip item 1 (600 with 85), seed 2. */
    cr_assert_str_eq(ov(3, 0), "trace.baseline_regions=[]");
    cr_assert_str_eq(ov(3, 1), "policy.poll_s=0");
    cr_assert_str_eq(ov(3, 2), "rounds.min_duration_s=600");
    cr_assert_str_eq(ov(3, 3), "rounds.startup_s=85");
    cr_assert_str_eq(ov(3, 4), "seed=2");
}

Test(sweep, non_numeric_and_structured_values_pass_as_yaml, .fini = fini)
{
    cr_assert_eq(parse("grid:\n  rounds.outer.kind: [none, nesterov]\n"
                       "  trace.baseline_regions: [[DE], [SPP_TX, 'DE']]\n"),
                 SW_OK, "%s", err.msg);
    cr_assert_not(sw.params[0].numeric);
    cr_assert_str_eq(ov(1, 1), "trace.baseline_regions=[SPP_TX, \"DE\"]");
    cr_assert_str_eq(ov(2, 0), "rounds.outer.kind=nesterov");
}

Test(sweep, no_parameters_is_one_point, .fini = fini)
{
    cr_assert_eq(parse(""), SW_OK, "%s", err.msg);
    cr_assert_eq(sw.n_points, 1);
    cr_assert_eq(sw.points[0].n_overrides, 0);
}

/* A bad sweep: status SW_EINPUT and every fragment in the message. */
static void bad(const char *body, const char *f1, const char *f2)
{
    cr_assert_eq(parse(body), SW_EINPUT, "accepted: %s", body);
    cr_assert_eq(sw.n_points, 0);
    cr_assert_not_null(strstr(err.msg, f1), "'%s' not in: %s", f1, err.msg);
    if (f2)
        cr_assert_not_null(strstr(err.msg, f2), "'%s' not in: %s", f2, err.msg);
}

Test(sweep, an_unknown_scenario_key_is_named_at_its_line, .fini = fini)
{
    bad("grid:\n  policy.treshold_g_per_kwh: [1, 2]\n",
        "t/x.yaml:3:3: key "
        "'policy.treshold_g_per_kwh'",
        "treshold");
}

Test(sweep, an_out_of_range_value_is_named_with_its_point, .fini = fini)
{
    bad("grid:\n  policy.poll_s: [0, 10]\n  policy.threshold_g_per_kwh: [100, -5]\n",
        "t/x.yaml:4:3: key 'policy.threshold_g_per_kwh', value -5 (point 1", "expected a number");
}

Test(sweep, bad_set_values_and_layout_errors, .fini = fini)
{
    bad("set:\n  rounds.min_duration_s: abc\n", "t/x.yaml:3:3: set:", "rounds.min_duration_s");
    bad("grdi: {}\n", "t/x.yaml:2:1: unknown key 'grdi'", NULL);
    bad("grid:\n  policy.poll_s: 10\n",
        "t/x.yaml:3:18: key 'policy.poll_s': expected a "
        "non-empty list",
        NULL);
    bad("grid:\n  policy.poll_s: []\n", "key 'policy.poll_s': expected a non-empty list", NULL);
    bad("grid:\n  policy.poll_s: {from: 0, to: 10, stp: 1}\n", "unknown range key 'stp'", NULL);
    bad("grid:\n  policy.poll_s: {from: 10, to: 0, step: 1}\n", "key 'policy.poll_s.step'",
        "non-zero step");
    bad("grid:\n  policy.poll_s: {from: a, to: 0}\n",
        "key 'policy.poll_s.from': expected a "
        "number, got a",
        NULL);
    bad("zip:\n  policy.poll_s: [1, 2]\n  rounds.startup_s: [1, 2, 3]\n",
        "t/x.yaml:4:3: zip: key 'rounds.startup_s' has 3 values, expected 2", NULL);
    bad("grid: {policy.poll_s: [1]}\nzip: {policy.poll_s: [2]}\n", "swept twice", NULL);
    bad("set: {policy.poll_s: 1}\ngrid: {policy.poll_s: [2]}\n", "both swept and fixed", NULL);
    bad("grid: {seed: [1, 2]}\nseeds: [3]\n", "t/x.yaml:3:1: key 'seed': swept twice", NULL);
    bad("set: {seed: 1}\nseeds: [3]\n", "key 'seed': both swept and fixed", NULL);
    bad("seeds: [1, -2]\n", "key 'seeds': expected integers >= 0, got -2", NULL);
    bad("grid: {sites.count: [0, 1]}\n",
        "key 'sites.count': expected integers from 1 to the 3 "
        "sites",
        NULL);
    bad("grid: {sites.count: [4]}\n", "sites.count", "got 4");
    bad("grid: {'policy..x': [1]}\n", "bad key 'policy..x'", NULL);
    bad("name: 'a b'\n", "key 'name'", NULL);
    bad("grid: {sites.count: [1, 2], sites.1.gpus: [8]}\n", "t/x.yaml:2:", "index 1 out of range");
    bad("grid: [1, 2]\n", "key 'grid': expected a mapping", NULL);
}

Test(sweep, a_missing_base_is_named, .fini = fini)
{
    cr_assert_eq(sw_sweep_parse_text("grid: {policy.poll_s: [1]}\n", "t/x.yaml", &sw, &err),
                 SW_EINPUT);
    cr_assert_not_null(strstr(err.msg, "key 'base'"), "%s", err.msg);
    cr_assert_eq(sw_sweep_parse_text("base: nowhere.yaml\n", "t/x.yaml", &sw, &err), SW_EINPUT);
    cr_assert_not_null(strstr(err.msg, "t/x.yaml:1:7: key 'base': t/nowhere.yaml: cannot open"),
                       "%s", err.msg);
    cr_assert_eq(sw_sweep_load("/nonexistent/s.yaml", &sw, &err), SW_EINPUT);
}

Test(sweep, report_names_are_unique_and_follow_the_point, .fini = fini)
{
    cr_assert_eq(parse("grid: {policy.poll_s: [0, 10, 20]}\n"), SW_OK, "%s", err.msg);
    char a[128], b[128], c[128];
    sw_sweep_point_report(&sw, 0, a, sizeof a);
    sw_sweep_point_report(&sw, 1, b, sizeof b);
    cr_assert(!strncmp(a, "points/p0000-", 13) && strlen(a) == 13 + 8 + 3, "%s", a);
    cr_assert_str_neq(a, b);
    /* The same point with another fixed override gets another name. */
    cr_assert_eq(parse("set: {seed: 7}\ngrid: {policy.poll_s: [0, 10, 20]}\n"), SW_OK, "%s",
                 err.msg);
    sw_sweep_point_report(&sw, 0, c, sizeof c);
    cr_assert_str_neq(a, c);
    cr_assert(!strncmp(c, "points/p0000-", 13));
}

Test(sweep, chunks_cover_every_point_once, .fini = fini)
{
    cr_assert_eq(parse("grid: {policy.poll_s: {from: 1, to: 10}}\n"), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_sweep_n_chunks(&sw, 4), 3);
    size_t first, n;
    sw_sweep_chunk_range(&sw, 4, 2, &first, &n);
    cr_assert_eq(first, 8);
    cr_assert_eq(n, 2);
    sw_sweep_chunk_range(&sw, 4, 3, &first, &n);
    cr_assert_eq(n, 0);
}

Test(sweep_table, written_and_read_back, .fini = fini)
{
    cr_assert_eq(parse("grid:\n  rounds.outer.kind: [none, nesterov]\n"
                       "  policy.threshold_g_per_kwh: [80, 100.5]\n"),
                 SW_OK, "%s", err.msg);
    sw_sweep_table t;
    cr_assert_eq(sw_sweep_table_init(&t, &sw, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(t.n_rows, 4);
    for (size_t i = 0; i < 3; i++)
        t.figures[i] = (sw_sweep_figures){.runtime_h = 10 + (double)i,
                                          .gpu_hours = 0.1,
                                          .energy_kwh = 1.0 / 3,
                                          .curtailed_energy_fraction = 0.5,
                                          .carbon_kg = 2,
                                          .final_ppl = 14.8,
                                          .tokens = 12.3e9};
    t.reports[3][0] = '\0'; /* point 3 never ran */
    char dir[] = "/tmp/sw-test-sweeptable-XXXXXX", h5[128], csv[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(h5, sizeof h5, "%s/sweep.h5", dir);
    snprintf(csv, sizeof csv, "%s/sweep.csv", dir);
    cr_assert_eq(sw_sweep_table_write(&t, h5, csv, &err), SW_OK, "%s", err.msg);
    cr_assert(sw_sweep_table_is(h5));
    cr_assert_not(sw_sweep_table_is(csv));

    sw_sweep_table r;
    cr_assert_eq(sw_sweep_table_read(h5, &r, &err), SW_OK, "%s", err.msg);
    cr_assert_str_eq(r.sweep, "x");
    cr_assert_eq(r.n_params, 2);
    cr_assert_str_eq(r.param_keys[1], "policy.threshold_g_per_kwh");
    cr_assert_not(r.param_numeric[0]);
    cr_assert(r.param_numeric[1]);
    cr_assert_eq(r.n_rows, 4);
    cr_assert_str_eq(r.values[1 * 2 + 1], "100.5");
    cr_assert_str_eq(r.values[2 * 2 + 0], "nesterov");
    cr_assert_eq(r.figures[2].runtime_h, 12);
    cr_assert_eq(r.figures[1].energy_kwh, 1.0 / 3);
    cr_assert(isnan(r.figures[3].carbon_kg));
    cr_assert_str_eq(r.reports[0], t.reports[0]);
    cr_assert_str_eq(r.reports[3], "");
    sw_sweep_table_free(&r);

    FILE *f = fopen(csv, "r");
    char line[512];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "point,rounds.outer.kind,policy.threshold_g_per_kwh,runtime_h,gpu_hours,"
                           "energy_kwh,curtailed_energy_fraction,carbon_kg,final_ppl,tokens,"
                           "report\n");
    cr_assert_not_null(fgets(line, sizeof line, f));
    char want[256];
    snprintf(want, sizeof want, "0,none,80,10,0.1,0.33333333333333331,0.5,2,14.8,12300000000,%s\n",
             t.reports[0]);
    cr_assert_str_eq(line, want);
    fgets(line, sizeof line, f);
    fgets(line, sizeof line, f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "3,nesterov,100.5,,,,,,,,\n");
    fclose(f);
    cr_assert_eq(sw_sweep_table_read(csv, &r, &err), SW_EINPUT);
    sw_sweep_table_free(&t);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
