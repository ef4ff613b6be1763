/* Tests of core/policy_scenario and the scenario keys of the look-ahead policies: the reference
 * scenario builds every policy kind, bad keys name file, line and key, and on the reference
 * scenario every policy's schedule trains the budget without beating the optimum. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/optimum.h"
#include "core/policy_scenario.h"
#include "core/scenario.h"
#include "core/trace.h"

typedef struct loaded {
    sw_scenario sc;
    sw_trace *tr;
    double start_unix_s, end_unix_s;
} loaded;

static void load(const char *const *ov, size_t n, loaded *l)
{
    sw_error err;
    memset(l, 0, sizeof *l);
    cr_assert_eq(sw_scenario_load("scenarios/paper.yaml", ov, n, &l->sc, &err), SW_OK, "%s",
                 err.msg);
    sw_trace_options topt = sw_scenario_trace_options(&l->sc);
    cr_assert_eq(sw_trace_load(l->sc.trace.file, &topt, &l->tr, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_scenario_run_span(&l->sc, l->tr, &l->start_unix_s, &l->end_unix_s, &err), SW_OK,
                 "%s", err.msg);
}

static void unload(loaded *l)
{
    sw_trace_destroy(l->tr);
    sw_scenario_free(&l->sc);
}

Test(policy_scenario, every_kind_is_built_from_the_reference_scenario)
{
    const char *kinds[] = {"threshold", "always_on", "forecast_threshold", "deadline", "elastic"};
    const char *forecasts[] = {"perfect", "persistence", "noisy"};
    for (size_t k = 0; k < 5; k++)
        for (size_t f = 0; f < 3; f++) {
            char a[64], b[64];
            snprintf(a, sizeof a, "policy.kind=%s", kinds[k]);
            snprintf(b, sizeof b, "policy.forecast.kind=%s", forecasts[f]);
            const char *ov[] = {a, b};
            loaded l;
            load(ov, 2, &l);
            sw_policy_set set;
            sw_error err;
            cr_assert_eq(sw_policies_create(&l.sc, l.tr, l.start_unix_s, l.end_unix_s, &set, &err),
                         SW_OK, "%s / %s: %s", kinds[k], forecasts[f], err.msg);
            cr_assert_eq(set.n, 3);
            cr_assert_str_eq(sw_policy_kind_name(set.policies[0]), kinds[k]);
            cr_assert_eq(set.forecast == NULL, k < 2);
            if (set.forecast)
                cr_assert_str_eq(sw_forecast_kind_name(set.forecast), forecasts[f]);
            sw_policies_destroy(&set);
            unload(&l);
        }
}

Test(policy_scenario, derived_figures)
{
    loaded l;
    load(NULL, 0, &l);
    sw_lookahead_site s;
    sw_error err;
    cr_assert_eq(sw_scenario_lookahead_site(&l.sc, l.tr, 1, &s, &err), SW_OK);
    cr_assert_eq(s.region, (size_t)sw_trace_region_index(l.tr, "SPP_TX"));
    cr_assert_float_eq(s.overhead_s, 240 + 85, 1e-9);
    cr_assert_float_eq(s.tokens_per_s, 524288 / 2.75, 1e-6);
    cr_assert_float_eq(s.train_w, 2024, 1e-9);
    cr_assert_float_eq(s.idle_w, 468, 1e-9);
    cr_assert_float_eq(sw_scenario_sync_fraction(&l.sc), (600.0 - 85 - 45 - 2) / 600, 1e-12);
    cr_assert_float_eq(sw_scenario_min_window_s(&l.sc), 240 + 85 + 600, 1e-9);
    unload(&l);
}

Test(policy_scenario, bad_keys_name_file_line_and_key)
{
    sw_scenario sc;
    sw_error err;
    const char *ov1[] = {"policy.forecast.kind=psychic"};
    cr_assert_eq(sw_scenario_load("scenarios/paper.yaml", ov1, 1, &sc, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "policy.forecast.kind") && strstr(err.msg, "perfect, persistence"),
              "%s", err.msg);
    sw_scenario_free(&sc);
    const char *ov2[] = {"policy.forecast.rho=1"};
    cr_assert_eq(sw_scenario_load("scenarios/paper.yaml", ov2, 1, &sc, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "policy.forecast.rho"), "%s", err.msg);
    sw_scenario_free(&sc);
    const char *text = "trace: {file: traces/mci_2026-01-11.csv}\n"
                       "policy:\n  kind: deadline\n  forecast: {kind: noisy, sigma0: 3}\n"
                       "sites: [{name: a, region: CAISO_NORTH}]\n";
    cr_assert_eq(sw_scenario_parse_text(text, "t.yaml", NULL, 0, &sc, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "t.yaml:4:") && strstr(err.msg, "policy.forecast.sigma0"), "%s",
              err.msg);
    sw_scenario_free(&sc);
    /* a file forecast without a file is an error naming the line and key */
    const char *text2 = "trace: {file: traces/mci_2026-01-11.csv}\n"
                        "policy:\n  kind: forecast_threshold\n  forecast: {kind: file}\n"
                        "sites: [{name: a, region: CAISO_NORTH}]\n";
    cr_assert_eq(sw_scenario_parse_text(text2, "t.yaml", NULL, 0, &sc, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "t.yaml:4:") && strstr(err.msg, "policy.forecast.file"), "%s",
              err.msg);
    sw_scenario_free(&sc);
    /* a file forecast reads the file, relative to the scenario; a bad line names it */
    const char *text3 = "trace: {file: traces/mci_2026-01-11.csv}\n"
                        "policy:\n  kind: forecast_threshold\n"
                        "  forecast: {kind: file, file: traces/SOURCES.md}\n"
                        "sites: [{name: a, region: CAISO_NORTH}]\n";
    cr_assert_eq(sw_scenario_parse_text(text3, "t.yaml", NULL, 0, &sc, &err), SW_OK, "%s", err.msg);
    sw_trace *tr = NULL;
    cr_assert_eq(sw_trace_load(sc.trace.file, NULL, &tr, &err), SW_OK);
    sw_policy_set set;
    cr_assert_eq(
        sw_policies_create(&sc, tr, sw_trace_start(tr, 0), sw_trace_end(tr, 0), &set, &err),
        SW_EINPUT);
    cr_assert(strstr(err.msg, "SOURCES.md:3: header"), "%s", err.msg);
    sw_trace_destroy(tr);
    sw_scenario_free(&sc);
}

Test(policy_scenario, on_the_reference_scenario_no_policy_beats_the_optimum, .timeout = 600)
{
    loaded l;
    load(NULL, 0, &l);
    sw_opt_site sites[3];
    sw_opt_problem p;
    sw_error err;
    cr_assert_eq(
        sw_optimum_from_scenario(&l.sc, l.tr, l.start_unix_s, l.end_unix_s, &p, sites, &err), SW_OK,
        "%s", err.msg);
    sw_opt_result r;
    cr_assert_eq(sw_optimum_solve(&p, 300, NULL, &r, &err), SW_OK, "%s", err.msg);
    cr_assert_neq(r.status, SW_OPT_INFEASIBLE);
    cr_assert_geq(r.schedule.tokens, p.tokens * (1 - 1e-9));
    sw_policy_kind kinds[] = {SW_POLICY_THRESHOLD, SW_POLICY_FORECAST_THRESHOLD, SW_POLICY_DEADLINE,
                              SW_POLICY_ELASTIC};
    double carbon[4];
    for (size_t k = 0; k < 4; k++) {
        sw_scenario v = l.sc;
        v.policy.kind = kinds[k];
        sw_policy_set set;
        cr_assert_eq(sw_policies_create(&v, l.tr, l.start_unix_s, l.end_unix_s, &set, &err), SW_OK);
        unsigned char up[3 * 217];
        cr_assert_leq(p.n_steps, 217);
        cr_assert_eq(sw_optimum_policy_plan(&p, set.policies, up, &err), SW_OK);
        sw_policies_destroy(&set);
        sw_opt_schedule s;
        cr_assert_eq(sw_opt_schedule_init(&s, &p, &err), SW_OK);
        cr_assert_eq(sw_optimum_evaluate(&p, up, &s, &err), SW_OK);
        cr_assert(s.feasible, "policy %zu does not train the budget", k);
        cr_assert_geq(s.carbon_g, r.bound_g * (1 - 1e-9), "policy %zu: %g < bound %g", k,
                      s.carbon_g, r.bound_g);
        carbon[k] = s.carbon_g;
        sw_opt_schedule_free(&s);
    }
    /* skipping short windows saves carbon on this trace (issue 12) */
    cr_assert_lt(carbon[1], carbon[0]);
    sw_opt_result_free(&r);
    unload(&l);
}
