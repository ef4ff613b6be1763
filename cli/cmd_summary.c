/* cmd_summary.c - `spillway summary REPORT.h5...`: the reference study's table, one column per
 * report, then the first report's carbon as a share of each baseline; for runs of one scenario
 * with different policies, each one's gap to the offline optimum (cli/summary_optimum.h). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/summary_optimum.h"
#include "core/report.h"
#include "core/scenario.h"
#include "core/sweep_table.h"

#define MAX_REPORTS 32

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spillway summary REPORT.h5 [MORE.h5...] [--csv] [--optimum-time-limit S]\n"
            "                        [--no-optimum]\n\n"
            "Prints the figures of one or more reports (sim or exec) side by side: runtime,\n"
            "GPU-hours, energy, share of energy inside curtailment windows, carbon, perplexity,\n"
            "tokens and rounds. The first report is taken as the curtailment-aware run: its\n"
            "carbon is compared with every other report given and with the baselines stored in\n"
            "its own summary (`spillway sim --baselines`).\n\n"
            "Reports of one scenario run with different policies (policy.kind) also get the\n"
            "offline optimum of that scenario: the least-carbon schedule of `spillway optimum`,\n"
            "solved with GLPK on the trace named in the report (a path relative to where\n"
            "spillway runs), scored with its step-grid cost model (not simulated; see\n"
            "docs/policies.md), and each report's carbon as a gap to it.\n"
            "  --optimum-time-limit S  stop the solver after S seconds (default 10)\n"
            "  --no-optimum            do not compute it\n\n"
            "Given a sweep table (`spillway sweep`, DIR/sweep.h5) it prints the table: one line\n"
            "per point, its parameters and figures, `*` marking the points on the Pareto front\n"
            "of carbon against runtime.\n");
}

/* True when point i of t is not dominated in (runtime, carbon): no other point is at least as
 * good in both and better in one. */
static bool on_pareto_front(const sw_sweep_table *t, size_t i)
{
    const sw_sweep_figures *a = &t->figures[i];
    if (isnan(a->runtime_h) || isnan(a->carbon_kg))
        return false;
    for (size_t j = 0; j < t->n_rows; j++) {
        const sw_sweep_figures *b = &t->figures[j];
        if (j != i && b->runtime_h <= a->runtime_h && b->carbon_kg <= a->carbon_kg &&
            (b->runtime_h < a->runtime_h || b->carbon_kg < a->carbon_kg))
            return false;
    }
    return true;
}

/* Prints a sweep table: CSV as written, or aligned columns. */
static int print_sweep_table(const char *path, bool csv)
{
    sw_sweep_table t;
    sw_error err;
    if (sw_sweep_table_read(path, &t, &err) != SW_OK) {
        fprintf(stderr, "spillway summary: %s\n", err.msg);
        return SW_EXIT_USAGE;
    }
    if (csv) {
        sw_sweep_table_csv(&t, stdout);
        sw_sweep_table_free(&t);
        return SW_EXIT_OK;
    }
    printf("sweep %s over %s: %zu points\n\n", t.sweep, t.base, t.n_rows);
    int w[64];
    size_t np = t.n_params < 64 ? t.n_params : 64;
    printf("%6s", "point");
    for (size_t p = 0; p < np; p++) {
        w[p] = (int)strlen(t.param_keys[p]);
        for (size_t i = 0; i < t.n_rows; i++)
            if ((int)strlen(t.values[i * t.n_params + p]) > w[p])
                w[p] = (int)strlen(t.values[i * t.n_params + p]);
        if (w[p] > 40)
            w[p] = 40;
        printf("  %*.*s", w[p], w[p], t.param_keys[p]);
    }
    printf("  %9s %9s %9s %7s %9s %8s %s\n", "runtime_h", "GPU-h", "kWh", "curt_%", "kgCO2", "ppl",
           "pareto");
    size_t done = 0;
    for (size_t i = 0; i < t.n_rows; i++) {
        printf("%6lld", t.point[i]);
        for (size_t p = 0; p < np; p++)
            printf("  %*.*s", w[p], w[p], t.values[i * t.n_params + p]);
        const sw_sweep_figures *f = &t.figures[i];
        if (!t.reports[i][0]) {
            printf("  (no report)\n");
            continue;
        }
        done++;
        printf("  %9.2f %9.1f %9.1f %7.1f %9.2f %8.2f %s\n", f->runtime_h, f->gpu_hours,
               f->energy_kwh, 100 * f->curtailed_energy_fraction, f->carbon_kg, f->final_ppl,
               t.n_rows <= 20000 && on_pareto_front(&t, i) ? "*" : "");
    }
    if (done < t.n_rows)
        printf("\n%zu of %zu points have no report\n", t.n_rows - done, t.n_rows);
    sw_sweep_table_free(&t);
    return SW_EXIT_OK;
}

typedef struct row {
    const char *label;
    const char *fmt;
    double (*get)(const sw_report_data *d);
} row;

static double g_runtime(const sw_report_data *d)
{
    return d->summary.runtime_h;
}
static double g_gpuh(const sw_report_data *d)
{
    return d->summary.gpu_hours;
}
static double g_energy(const sw_report_data *d)
{
    return d->summary.energy_kwh;
}
static double g_curt(const sw_report_data *d)
{
    return 100 * d->summary.curtailed_energy_fraction;
}
static double g_carbon(const sw_report_data *d)
{
    return d->summary.carbon_kg;
}
static double g_final(const sw_report_data *d)
{
    return d->summary.final_ppl;
}
static double g_best(const sw_report_data *d)
{
    return d->summary.best_ppl;
}
static double g_tokens(const sw_report_data *d)
{
    return (double)d->summary.tokens;
}
static double g_rounds(const sw_report_data *d)
{
    return (double)d->summary.rounds;
}

static const row rows[] = {
    {"runtime (h)", "%.2f", g_runtime},   {"GPU-hours", "%.1f", g_gpuh},
    {"energy (kWh)", "%.1f", g_energy},   {"energy in curtailment windows (%)", "%.1f", g_curt},
    {"carbon (kgCO2)", "%.2f", g_carbon}, {"final perplexity", "%.2f", g_final},
    {"best perplexity", "%.2f", g_best},  {"tokens", "%.4g", g_tokens},
    {"rounds", "%.0f", g_rounds},
};

int sw_cmd_summary(int argc, char **argv)
{
    const char *paths[MAX_REPORTS];
    int n = 0;
    bool csv = false, with_optimum = true;
    double opt_limit_s = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return SW_EXIT_OK;
        } else if (!strcmp(argv[i], "--csv")) {
            csv = true;
        } else if (!strcmp(argv[i], "--no-optimum")) {
            with_optimum = false;
        } else if (!strcmp(argv[i], "--optimum-time-limit")) {
            if (!sw_arg_double("summary", argc, argv, &i, 0, &opt_limit_s))
                return SW_EXIT_USAGE;
            if (!(opt_limit_s > 0)) {
                fprintf(stderr, "spillway summary: --optimum-time-limit: expected a number > 0\n");
                return SW_EXIT_USAGE;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "spillway summary: unknown option '%s' (try --help)\n", argv[i]);
            return SW_EXIT_USAGE;
        } else if (n == MAX_REPORTS) {
            fprintf(stderr, "spillway summary: at most %d reports\n", MAX_REPORTS);
            return SW_EXIT_USAGE;
        } else {
            paths[n++] = argv[i];
        }
    }
    if (n == 0) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    for (int i = 0; i < n; i++)
        if (sw_sweep_table_is(paths[i])) {
            if (n > 1) {
                fprintf(stderr, "spillway summary: %s is a sweep table: give it alone\n", paths[i]);
                return SW_EXIT_USAGE;
            }
            return print_sweep_table(paths[0], csv);
        }
    sw_report_data *d[MAX_REPORTS];
    for (int i = 0; i < n; i++) {
        sw_error err;
        if (sw_report_open(paths[i], &d[i], &err) != SW_OK) {
            fprintf(stderr, "spillway summary: %s\n", err.msg);
            for (int j = 0; j < i; j++)
                sw_report_data_free(d[j]);
            return SW_EXIT_USAGE;
        }
    }

    /* each report's policy, from its scenario text ("?" when this build cannot read it) */
    const char *kind[MAX_REPORTS];
    bool one_scenario = true, kinds_differ = false;
    for (int i = 0; i < n; i++) {
        sw_scenario sc = {0};
        sw_error err;
        kind[i] = sw_scenario_parse_text(d[i]->scenario_yaml ? d[i]->scenario_yaml : "",
                                         d[i]->scenario_name, NULL, 0, &sc, &err) == SW_OK
                      ? sw_scenario_policy_kind_name(sc.policy.kind)
                      : "?";
        sw_scenario_free(&sc);
        one_scenario &= !strcmp(d[i]->scenario_name, d[0]->scenario_name) && strcmp(kind[i], "?");
        kinds_differ |= strcmp(kind[i], kind[0]) != 0;
    }
    sw_opt_result opt = {0};
    bool solved = false, have_opt = false;
    char opt_why[sizeof(sw_error){0}.msg + 1] = "";
    if (with_optimum && n >= 2 && one_scenario && kinds_differ) {
        sw_error err;
        solved = sw_summary_optimum(d[0], opt_limit_s, &opt, &err) == SW_OK;
        if (solved)
            have_opt = opt.status != SW_OPT_INFEASIBLE;
        else
            snprintf(opt_why, sizeof opt_why, "%s", err.msg);
        if (!have_opt && !opt_why[0])
            snprintf(opt_why, sizeof opt_why,
                     "infeasible: no schedule trains the budget by the "
                     "deadline");
    }

    int w = 12; /* column width: the longest scenario name or policy */
    for (int i = 0; i < n; i++)
        if ((int)strlen(d[i]->scenario_name) > w)
            w = (int)strlen(d[i]->scenario_name);
    for (int i = 0; i < n; i++)
        if ((int)strlen(kind[i]) > w)
            w = (int)strlen(kind[i]);
    if (csv)
        printf("figure");
    else
        printf("%-36s", "");
    for (int i = 0; i < n; i++)
        if (csv)
            printf(",%s", d[i]->scenario_name);
        else
            printf(" %*s", w, d[i]->scenario_name);
    printf("\n");
    printf(csv ? "policy" : "%-36s", "policy");
    for (int i = 0; i < n; i++)
        if (csv)
            printf(",%s", kind[i]);
        else
            printf(" %*s", w, kind[i]);
    printf("\n");
    if (!csv) {
        printf("%-36s", "mode / loss");
        for (int i = 0; i < n; i++) {
            char m[40];
            snprintf(m, sizeof m, "%s/%s", sw_report_mode_name(d[i]->mode),
                     sw_report_loss_kind_name(d[i]->loss_kind));
            printf(" %*s", w, m);
        }
        printf("\n");
    }
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        printf(csv ? "%s" : "%-36s", rows[r].label);
        for (int i = 0; i < n; i++) {
            char v[40];
            snprintf(v, sizeof v, rows[r].fmt, rows[r].get(d[i]));
            if (csv)
                printf(",%s", v);
            else
                printf(" %*s", w, v);
        }
        printf("\n");
    }

    if (have_opt) {
        double opt_kg = opt.schedule.carbon_g / 1e3;
        printf(csv ? "%s" : "%-36s", "carbon gap to the optimum (%)");
        for (int i = 0; i < n; i++) {
            char v[40];
            snprintf(v, sizeof v, "%+.1f", 100 * (d[i]->summary.carbon_kg - opt_kg) / opt_kg);
            if (csv)
                printf(",%s", v);
            else
                printf(" %*s", w, v);
        }
        printf("\n");
        if (csv)
            printf("optimum_carbon_kg,%.6f\noptimum_bound_kg,%.6f\noptimum_runtime_h,%.4f\n",
                   opt_kg, opt.bound_g / 1e3, opt.schedule.finish_s / 3600);
        else
            printf("\noffline optimum of %s (step-grid cost model of `spillway optimum`, not "
                   "simulated):\n  %.3f kgCO2 in %.2f h, proven lower bound %.3f kg (%s, GLPK "
                   "%.1f s)\n",
                   d[0]->scenario_name, opt_kg, opt.schedule.finish_s / 3600, opt.bound_g / 1e3,
                   opt.status == SW_OPT_OPTIMAL ? "optimal" : "time limit: best found",
                   opt.solve_s);
    } else if (opt_why[0] && !csv) {
        printf("\noffline optimum of %s: not computed: %s\n", d[0]->scenario_name, opt_why);
    }
    if (solved)
        sw_opt_result_free(&opt);

    /* The first report against each baseline: the other reports, then stored baselines. */
    const sw_report_data *ours = d[0];
    bool header = false;
    for (int i = 1; i < n; i++) {
        if (!header && !csv)
            printf("\ncarbon of %s as a share of each baseline\n", ours->scenario_name);
        header = true;
        double pct = 100 * ours->summary.carbon_kg / d[i]->summary.carbon_kg;
        printf(csv ? "share_of_%s_pct,%.1f\n" : "  %-34s %8.1f %%   (%.2f vs %.2f kgCO2)\n",
               one_scenario ? kind[i] : d[i]->scenario_name, pct, ours->summary.carbon_kg,
               d[i]->summary.carbon_kg);
    }
    const char *prefix = "carbon_kg_baseline_";
    for (size_t k = 0; k < ours->summary.n_extras; k++) {
        const sw_report_extra *x = &ours->summary.extras[k];
        if (strncmp(x->name, prefix, strlen(prefix)))
            continue;
        if (!header && !csv)
            printf("\ncarbon of %s as a share of each baseline\n", ours->scenario_name);
        header = true;
        const char *label = x->name + strlen(prefix);
        bool given = false; /* the baseline's own report is on the command line */
        for (int i = 1; i < n; i++) {
            size_t L = strlen(ours->scenario_name);
            given |= !strncmp(d[i]->scenario_name, ours->scenario_name, L) &&
                     d[i]->scenario_name[L] == '-' && !strcmp(d[i]->scenario_name + L + 1, label);
        }
        if (given)
            continue;
        double pct = 100 * ours->summary.carbon_kg / x->value;
        printf(csv ? "share_of_%s_pct,%.1f\n" : "  %-34s %8.1f %%   (%.2f vs %.2f kgCO2)\n", label,
               pct, ours->summary.carbon_kg, x->value);
    }
    for (int i = 0; i < n; i++)
        sw_report_data_free(d[i]);
    return SW_EXIT_OK;
}
