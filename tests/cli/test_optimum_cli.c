/* test_optimum_cli.c - `spillway optimum` end to end on a shortened reference scenario: the
 * optimum and the four policies with their gaps, and usage/input errors with exit status 2. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.c.inc"

static cli_result run(const char *const *args)
{
    cli_result r;
    cr_assert_eq(cli_run(args, &r), 0, "could not start spillway");
    return r;
}

/* Gap (%) printed for a policy row, or -1. */
static double gap_of(const char *out, const char *policy)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s ", policy);
    const char *p = strstr(out, key);
    if (!p)
        return -1;
    double carbon, tokens, runtime, gap;
    char name[64];
    if (sscanf(p + 1, "%63s %lf %lf %lf %lf%%", name, &carbon, &tokens, &runtime, &gap) != 5)
        return -1;
    return gap;
}

Test(optimum, six_hours_of_the_reference_scenario, .timeout = 300)
{
    cli_result r = run((const char *const[]){"optimum", "scenarios/paper.yaml", "--set",
                                             "trace.end=2026-01-11T23:00:00Z", "--set",
                                             "model.tokens=3e9", NULL});
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "optimum of paper: 3 sites, 72 steps of 300 s"), "%s", r.out);
    cr_assert(strstr(r.out, "status     optimal"), "%s", r.out);
    cr_assert(strstr(r.out, "california"), "%s", r.out);
    const char *policies[] = {"threshold", "forecast_threshold", "deadline", "elastic"};
    for (size_t i = 0; i < 4; i++) {
        double g = gap_of(r.out, policies[i]);
        cr_assert_geq(g, -1e-6, "%s: gap %g\n%s", policies[i], g, r.out);
    }
    cli_result_free(&r);
}

Test(optimum, errors_exit_2_and_name_the_problem)
{
    cli_result r = run((const char *const[]){"optimum", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "usage: spillway optimum"), "%s", r.err);
    cli_result_free(&r);
    r = run((const char *const[]){"optimum", "scenarios/paper.yaml", "--set",
                                  "policy.forecast.kind=oracle", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "policy.forecast.kind"), "%s", r.err);
    cli_result_free(&r);
    r = run((const char *const[]){"optimum", "scenarios/paper.yaml", "--time-limit", "0", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--time-limit"), "%s", r.err);
    cli_result_free(&r);
    r = run((const char *const[]){"optimum", "scenarios/paper.yaml", "--set",
                                  "policy.deadline_s=600", NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "infeasible"), "%s", r.out);
    cli_result_free(&r);
    r = run((const char *const[]){"optimum", "--help", NULL});
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--time-limit"), "%s", r.out);
    cli_result_free(&r);
}

Test(optimum, csv_has_one_row_per_schedule, .timeout = 300)
{
    cli_result r = run((const char *const[]){"optimum", "scenarios/paper.yaml", "--set",
                                             "trace.end=2026-01-11T23:00:00Z", "--set",
                                             "model.tokens=3e9", "--csv", NULL});
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    const char *hdr = "name,carbon_kg,tokens,runtime_h,feasible,gap_optimum,gap_bound\n";
    cr_assert(!strncmp(r.out, hdr, strlen(hdr)), "%s", r.out);
    const char *rows[] = {"\noptimum,", "\nbound,", "\nthreshold,", "\nforecast_threshold,",
                          "\ndeadline,", "\nelastic,"};
    for (size_t i = 0; i < 6; i++)
        cr_assert(strstr(r.out, rows[i]), "no row %s in\n%s", rows[i] + 1, r.out);
    size_t lines = 0;
    for (const char *c = r.out; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 7, "%s", r.out);
    cli_result_free(&r);
}
