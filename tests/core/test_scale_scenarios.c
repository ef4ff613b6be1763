/* test_scale_scenarios.c - the shipped what-if scenarios at scale (scenarios/scale-*.yaml) load,
 * validate and resolve against the real full-year trace with derived regions. They are not run
 * here (the year takes tens of seconds): bench/bench_sim.sh runs and times them. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/convergence.h"
#include "core/scenario.h"
#include "core/trace.h"

#define JAN1_2020 1577836800.0 /* 2020-01-01T00:00:00Z */
#define DAY       86400.0

/* Loads path, checks the shape every scale scenario shares and resolves it against its trace. */
static void check_scale(const char *path, size_t n_sites, double start_unix_s, double end_unix_s)
{
    sw_scenario s;
    sw_error err = {0};
    cr_assert_eq(sw_scenario_load(path, NULL, 0, &s, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(s.n_sites, n_sites, "%s", path);
    cr_assert_eq(s.trace.derive.regions, (int)n_sites, "one derived region per site");
    for (size_t i = 0; i < n_sites; i++) {
        char region[16];
        snprintf(region, sizeof region, "D%03zu", i);
        cr_assert_str_eq(s.sites[i].region, region);
        cr_assert_eq(s.sites[i].gpus, 4, "sites of 4 A100s like the study's");
        cr_assert_str_eq(s.sites[i].gpu, "a100");
    }
    cr_assert_str_eq(s.model.preset, "nanochat-d20");
    cr_assert(s.model.tokens > 12.3e9, "more tokens than the study's pass");
    sw_convergence_params cp;
    sw_scenario_convergence_params(&s, &cp);
    cr_assert_eq(sw_convergence_params_check(&cp, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(cp.schedule_tokens, s.model.tokens);

    /* the real trace, derived as the simulator does it; the run lies inside its span */
    sw_trace *t = NULL;
    sw_trace_options opt = sw_scenario_trace_options(&s);
    cr_assert_eq(sw_trace_load(s.trace.file, &opt, &t, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_trace_region_count(t), 2, "the file has PGE and SCE");
    cr_assert_eq(sw_scenario_apply_derive(&s, &t, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_trace_region_count(t), n_sites);
    cr_assert_eq(sw_scenario_resolve_trace(&s, t, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(s.trace.start_unix_s, start_unix_s);
    cr_assert_eq(s.trace.end_unix_s, end_unix_s);
    sw_trace_destroy(t);
    sw_scenario_free(&s);
}

Test(scale_scenarios, thirty_sites_one_month)
{
    /* April 2020 */
    check_scale("scenarios/scale-30x1month.yaml", 30, JAN1_2020 + 91 * DAY, JAN1_2020 + 121 * DAY);
}

Test(scale_scenarios, hundred_sites_one_year)
{
    /* the whole of 2020, a leap year */
    check_scale("scenarios/scale-100x1year.yaml", 100, JAN1_2020, JAN1_2020 + 366 * DAY);
}
