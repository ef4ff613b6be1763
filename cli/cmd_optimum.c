/* cmd_optimum.c - `spillway optimum SCENARIO`: the least-carbon schedule for the scenario's
 * token budget and deadline on its whole trace (core/optimum.h), and every policy's gap to it,
 * all scored with one step-grid cost model (no simulation). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/optimum.h"
#include "core/policy_scenario.h"
#include "core/scenario.h"
#include "core/trace.h"

#define MAX_OVERRIDES 64

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spillway optimum SCENARIO [--set KEY=VALUE]... [--time-limit S] [--csv]\n\n"
            "The offline optimum: the schedule that trains model.tokens by policy.deadline_s (0:\n"
            "the end of the run) with the least marginal carbon, knowing the whole trace, solved\n"
            "as a MILP with GLPK. Prints its carbon, a proven lower bound, its runtime and\n"
            "schedule, then each policy (threshold, forecast_threshold, deadline, elastic, with\n"
            "the scenario's settings) scored with the same step-grid cost model and its gap to\n"
            "the optimum. Model and formulation: docs/policies.md.\n\n"
            "  --set KEY=VALUE   override a scenario field (repeatable), e.g.\n"
            "                    --set policy.forecast.kind=noisy\n"
            "  --time-limit S    stop the solver after S seconds with the best schedule and its\n"
            "                    bound (default 60)\n"
            "  --csv             machine-readable: one row per schedule (optimum, bound, each\n"
            "                    policy): name,carbon_kg,tokens,runtime_h,feasible,gap_optimum,\n"
            "                    gap_bound (gaps as fractions; empty when not defined)\n");
}

static void hhmm(double unix_s, char *buf, size_t n)
{
    char iso[32];
    sw_format_iso8601(unix_s, iso, sizeof iso);
    snprintf(buf, n, "%.5s", iso + 11);
}

static void print_schedule(const sw_scenario *sc, const sw_opt_problem *p, const sw_opt_schedule *s)
{
    size_t K = p->n_steps;
    for (size_t i = 0; i < p->n_sites; i++) {
        double train = 0;
        for (size_t k = 0; k < K; k++)
            train += s->train_s[i * K + k];
        printf("    %-18s train %5.2f h  up:", sc->sites[i].name, train / 3600);
        int any = 0;
        for (size_t k = 0; k < K;) {
            if (!s->up[i * K + k]) {
                k++;
                continue;
            }
            size_t a = k;
            while (k < K && s->up[i * K + k])
                k++;
            char x[8], y[8];
            hhmm(p->start_unix_s + (double)a * p->step_s, x, sizeof x);
            hhmm(p->start_unix_s + (double)k * p->step_s, y, sizeof y);
            printf(" %s-%s", x, y);
            any = 1;
        }
        printf("%s\n", any ? "" : " (never)");
    }
}

static const sw_policy_kind kinds[] = {SW_POLICY_THRESHOLD, SW_POLICY_FORECAST_THRESHOLD,
                                       SW_POLICY_DEADLINE, SW_POLICY_ELASTIC};
static const char *const kind_names[] = {"threshold", "forecast_threshold", "deadline", "elastic"};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

/* Gap of carbon_g over ref_g as a fraction, or "" when undefined. */
static void csv_gap(double carbon_g, double ref_g, bool defined)
{
    if (defined && ref_g > 0 && isfinite(ref_g))
        printf(",%.6f", (carbon_g - ref_g) / ref_g);
    else
        printf(",");
}

static void print_csv(const sw_opt_problem *p, const sw_opt_result *opt,
                      const sw_opt_schedule *scored)
{
    bool ok = opt->status != SW_OPT_INFEASIBLE;
    printf("name,carbon_kg,tokens,runtime_h,feasible,gap_optimum,gap_bound\n");
    if (ok) {
        printf("optimum,%.6f,%.6g,%.4f,1,0", opt->schedule.carbon_g / 1e3, opt->schedule.tokens,
               opt->schedule.finish_s / 3600);
        csv_gap(opt->schedule.carbon_g, opt->bound_g, true);
        printf("\nbound,%.6f,%.6g,,1,,0\n", opt->bound_g / 1e3, p->tokens);
    } else {
        printf("optimum,,,,0,,\n");
    }
    for (size_t k = 0; k < N_KINDS; k++) {
        const sw_opt_schedule *s = &scored[k];
        printf("%s,%.6f,%.6g,", kind_names[k], s->carbon_g / 1e3, s->tokens);
        if (s->feasible)
            printf("%.4f", s->finish_s / 3600);
        printf(",%d", s->feasible ? 1 : 0);
        csv_gap(s->carbon_g, opt->schedule.carbon_g, ok && s->feasible);
        csv_gap(s->carbon_g, opt->bound_g, ok && s->feasible);
        printf("\n");
    }
}

int sw_cmd_optimum(int argc, char **argv)
{
    const char *path = NULL;
    const char *overrides[MAX_OVERRIDES];
    size_t n_over = 0;
    double time_limit_s = 60;
    bool csv = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return SW_EXIT_OK;
        } else if (!strcmp(a, "--set")) {
            const char *v;
            ok = sw_arg_string("optimum", argc, argv, &i, &v);
            if (ok && n_over == MAX_OVERRIDES) {
                fprintf(stderr, "spillway optimum: --set: at most %d overrides\n", MAX_OVERRIDES);
                return SW_EXIT_USAGE;
            }
            if (ok)
                overrides[n_over++] = v;
        } else if (!strcmp(a, "--csv")) {
            csv = true;
        } else if (!strcmp(a, "--time-limit")) {
            ok = sw_arg_double("optimum", argc, argv, &i, 0, &time_limit_s);
            if (ok && !(time_limit_s > 0)) {
                fprintf(stderr, "spillway optimum: --time-limit: expected a number > 0\n");
                return SW_EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "spillway optimum: unknown option '%s' (try --help)\n", a);
            return SW_EXIT_USAGE;
        } else if (!path) {
            path = a;
        } else {
            fprintf(stderr, "spillway optimum: unexpected argument '%s'\n", a);
            return SW_EXIT_USAGE;
        }
        if (!ok)
            return SW_EXIT_USAGE;
    }
    if (!path) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }

    sw_error err;
    sw_scenario sc = {0};
    sw_trace *tr = NULL;
    sw_opt_site *sites = NULL;
    unsigned char *plans = NULL;
    sw_opt_schedule scored[N_KINDS];
    bool made[N_KINDS] = {0};
    sw_opt_result opt = {0};
    int rc = sw_scenario_load(path, overrides, n_over, &sc, &err);
    if (rc == SW_OK) {
        sw_trace_options topt = sw_scenario_trace_options(&sc);
        rc = sw_trace_load(sc.trace.file, &topt, &tr, &err);
    }
    if (rc == SW_OK)
        rc = sw_scenario_apply_derive(&sc, &tr, &err);
    double start_unix_s = 0, end_unix_s = 0;
    if (rc == SW_OK)
        rc = sw_scenario_run_span(&sc, tr, &start_unix_s, &end_unix_s, &err);
    sw_opt_problem p = {0};
    if (rc == SW_OK) {
        sites = calloc(sc.n_sites, sizeof *sites);
        rc = sites ? sw_optimum_from_scenario(&sc, tr, start_unix_s, end_unix_s, &p, sites, &err)
                   : sw_errorf(&err, SW_ERUNTIME, "out of memory");
    }
    if (rc == SW_OK) {
        plans = calloc(N_KINDS, p.n_sites * p.n_steps);
        if (!plans)
            rc = sw_errorf(&err, SW_ERUNTIME, "out of memory");
    }
    /* every policy's plan, scored */
    const unsigned char *hint = NULL;
    double hint_g = INFINITY;
    for (size_t k = 0; k < N_KINDS && rc == SW_OK; k++) {
        sw_scenario v = sc; /* shallow: only the policy kind differs */
        v.policy.kind = kinds[k];
        sw_policy_set set;
        rc = sw_policies_create(&v, tr, start_unix_s, end_unix_s, &set, &err);
        unsigned char *up = plans + k * p.n_sites * p.n_steps;
        if (rc == SW_OK)
            rc = sw_optimum_policy_plan(&p, set.policies, up, &err);
        sw_policies_destroy(&set);
        if (rc == SW_OK)
            rc = sw_opt_schedule_init(&scored[k], &p, &err);
        if (rc == SW_OK) {
            made[k] = true;
            rc = sw_optimum_evaluate(&p, up, &scored[k], &err);
        }
        if (rc == SW_OK && scored[k].feasible && scored[k].carbon_g < hint_g) {
            hint_g = scored[k].carbon_g;
            hint = up;
        }
    }
    if (rc == SW_OK)
        rc = sw_optimum_solve(&p, time_limit_s, hint, &opt, &err);
    if (rc != SW_OK) {
        fprintf(stderr, "spillway optimum: %s\n", err.msg);
    } else if (csv) {
        print_csv(&p, &opt, scored);
    } else {
        printf("optimum of %s: %zu sites, %zu steps of %.0f s, %.4g tokens by %.2f h\n", sc.name,
               p.n_sites, p.n_steps, p.step_s, p.tokens, (double)p.n_steps * p.step_s / 3600);
        if (opt.status == SW_OPT_INFEASIBLE) {
            printf("  infeasible: no schedule trains the budget by the deadline\n");
        } else {
            printf("  status     %s (GLPK, %.1f s)\n",
                   opt.status == SW_OPT_OPTIMAL ? "optimal"
                                                : "time limit: best found, bound proven",
                   opt.solve_s);
            printf("  carbon     %.3f kgCO2 (proven lower bound %.3f kg, LP relaxation %.3f kg)\n",
                   opt.schedule.carbon_g / 1e3, opt.bound_g / 1e3, opt.lp_bound_g / 1e3);
            printf("  runtime    %.2f h, energy %.1f kWh\n", opt.schedule.finish_s / 3600,
                   opt.schedule.energy_j / 3.6e6);
            printf("  schedule (UTC):\n");
            print_schedule(&sc, &p, &opt.schedule);
        }
        printf("\n%-20s %10s %10s %10s %12s %12s\n", "policy", "carbon_kg", "tokens", "runtime_h",
               "gap_optimum", "gap_bound");
        for (size_t k = 0; k < N_KINDS; k++) {
            const sw_opt_schedule *s = &scored[k];
            printf("%-20s %10.3f %10.4g ", kind_names[k], s->carbon_g / 1e3, s->tokens);
            if (!s->feasible) {
                printf("%10s %12s %12s  (%.3g tokens short)\n", "-", "-", "-",
                       p.tokens - s->tokens);
                continue;
            }
            if (opt.status == SW_OPT_INFEASIBLE) {
                printf("%10.2f\n", s->finish_s / 3600);
                continue;
            }
            printf("%10.2f %11.1f%% %11.1f%%\n", s->finish_s / 3600,
                   100 * (s->carbon_g - opt.schedule.carbon_g) / opt.schedule.carbon_g,
                   100 * (s->carbon_g - opt.bound_g) / opt.bound_g);
        }
        printf("\n(cost model: whole %.0f-s steps, overhead = provision_s + rounds.startup_s at "
               "idle power, sync fraction %.3f with 2+ sites; docs/policies.md)\n",
               p.step_s, p.sync_fraction);
    }
    for (size_t k = 0; k < N_KINDS; k++)
        if (made[k])
            sw_opt_schedule_free(&scored[k]);
    if (rc == SW_OK)
        sw_opt_result_free(&opt);
    free(plans);
    free(sites);
    sw_trace_destroy(tr);
    sw_scenario_free(&sc);
    if (rc == SW_OK)
        return SW_EXIT_OK;
    return err.code == SW_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
}
