/* optimum.h - the offline optimum: the least-carbon schedule for a token budget and deadline,
 * knowing the whole trace, under a step-grid cost model that policies' schedules are scored by
 * too (docs/policies.md, "The offline optimum").
 *
 * Cost model. Time is cut into n_steps steps of step_s seconds from run time 0 (the deadline is
 * n_steps * step_s). A site is either up (provisioned) for a whole step or off; a maximal run of
 * up steps is a *block*. Every block first pays the site's overhead_s (provisioning, model
 * download, round start-up) at idle power, then may train; a site up but not training draws idle
 * power. Training a site for x seconds of step k yields tokens_per_s * x tokens, times
 * sync_fraction when 2+ sites are up in step k (the share of a federated round left after
 * start-up, weight return and aggregation; 1 with one site: single-site mode has no sync).
 * Carbon of step k for site s: mci_sk / 3.6e6 * (idle_w * step_s + (train_w - idle_w) * x_sk),
 * with mci_sk the mean marginal intensity of the site's region over the step (exact for a
 * trace whose steps align with the grid). The budget counts tokens processed, as the engine's
 * tokens_target does; the convergence model's federated discount of those tokens is not
 * optimized (see docs/policies.md).
 *
 * Optimum: a MILP solved by GLPK (variables up_sk, start_sk, x_sk, multi_k, tokens_k; see
 * docs/policies.md for the constraints). GLPK returns the best schedule found and a proven lower
 * bound on every schedule's carbon (its best open node bound; = the optimum when solved to
 * optimality). Policies' schedules: sw_optimum_policy_plan runs sw_policy objects over the
 * grid (a site is up in every step in which it is wanted at some instant), and
 * sw_optimum_evaluate scores an up-pattern: training chronologically at capacity until the
 * budget is reached, every site released at the end of that step.
 * Pure core: no I/O. Units in the names.
 */
#ifndef SW_OPTIMUM_H
#define SW_OPTIMUM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/policy.h"
#include "core/trace.h"

typedef struct sw_opt_site {
    size_t region;       /* region of the trace */
    double overhead_s;   /* idle seconds each block pays before training, >= 0 */
    double idle_w;       /* W while up but not training, >= 0 */
    double train_w;      /* W while training, >= 0 */
    double tokens_per_s; /* tokens per training second, > 0 */
} sw_opt_site;

typedef struct sw_opt_problem {
    const sw_trace *trace;    /* borrowed */
    double start_unix_s;      /* trace time of run time 0 */
    double step_s;            /* grid step, > 0 (the trace step, usually) */
    size_t n_steps;           /* deadline = n_steps * step_s; steps past the trace cannot be up */
    const sw_opt_site *sites; /* [n_sites], borrowed */
    size_t n_sites;
    double tokens;        /* budget, > 0 */
    double sync_fraction; /* throughput factor in steps with 2+ sites up, in (0, 1] */
} sw_opt_problem;

/* One schedule on the grid. up[s * n_steps + k], train_s[s * n_steps + k]. */
typedef struct sw_opt_schedule {
    size_t n_sites, n_steps;
    unsigned char *up;
    double *train_s;
    double carbon_g; /* cost model carbon */
    double energy_j;
    double tokens;   /* tokens trained (<= budget, = budget when feasible) */
    double finish_s; /* run time of the end of the step that reached the budget; INFINITY if not */
    bool feasible;   /* the budget is reached by the deadline */
} sw_opt_schedule;

typedef enum sw_opt_status {
    SW_OPT_OPTIMAL = 0,    /* solved: carbon == bound (within GLPK's tolerance) */
    SW_OPT_TIME_LIMIT = 1, /* best found so far; bound is a proven lower bound */
    SW_OPT_INFEASIBLE = 2, /* no schedule trains the budget by the deadline */
} sw_opt_status;

typedef struct sw_opt_result {
    sw_opt_status status;
    sw_opt_schedule schedule; /* the best schedule (scored by sw_optimum_evaluate's rules) */
    double bound_g;           /* proven lower bound on the carbon of every schedule */
    double lp_bound_g;        /* the LP relaxation's value (a weaker bound) */
    double solve_s;           /* solver time, s (informative; not deterministic) */
} sw_opt_result;

/* Checks the problem (errors name the field: optimum.step_s, optimum.sites[1].tokens_per_s). */
int sw_optimum_check(const sw_opt_problem *p, sw_error *err);

/* Allocates a schedule for p (zeroed). Free with sw_opt_schedule_free. */
int sw_opt_schedule_init(sw_opt_schedule *s, const sw_opt_problem *p, sw_error *err);
void sw_opt_schedule_free(sw_opt_schedule *s);

/* Mean marginal intensity of site s over step k, gCO2/kWh; NaN if the step leaves the trace. */
double sw_optimum_step_mci(const sw_opt_problem *p, size_t site, size_t step);

/* Scores up-pattern up[s * n_steps + k] (copied into out->up, then cut after the finishing step)
 * with chronological training. out must be initialised for p. */
int sw_optimum_evaluate(const sw_opt_problem *p, const unsigned char *up, sw_opt_schedule *out,
                        sw_error *err);

/* The optimum with GLPK, stopping after time_limit_s (> 0) with the best schedule and a bound.
 * hint (may be NULL): an up-pattern to start from (e.g. a policy's), given to GLPK as its first
 * heuristic solution. out->schedule is initialised here; free with sw_opt_result_free. */
int sw_optimum_solve(const sw_opt_problem *p, double time_limit_s, const unsigned char *hint,
                     sw_opt_result *out, sw_error *err);
void sw_opt_result_free(sw_opt_result *r);

/* Exhaustive search over every up-pattern, with the best training allocation for each (a
 * fractional knapsack), for tests on small problems: n_sites * n_steps <= 22. */
int sw_optimum_brute_force(const sw_opt_problem *p, sw_opt_schedule *out, sw_error *err);

/* The up-pattern of policies[s] (one per site, region p->sites[s].region) driven over the run
 * [0, n_steps * step_s) the way the engine drives them (all sites due at one instant, in index
 * order, at the times they ask for). up: n_sites * n_steps bytes, caller-owned. */
int sw_optimum_policy_plan(const sw_opt_problem *p, sw_policy *const *policies, unsigned char *up,
                           sw_error *err);

/* The problem of a scenario (core/scenario.h) on its trace tr for the run [start, end): one
 * step per trace step of the first site's region, up to policy.deadline_s (0: the run's end);
 * budget model.tokens; sites with the figures of core/policy_scenario.h. sites_out has
 * sc->n_sites entries (caller-owned; p->sites points to it). */
struct sw_scenario;
int sw_optimum_from_scenario(const struct sw_scenario *sc, const sw_trace *tr, double start_unix_s,
                             double end_unix_s, sw_opt_problem *p, sw_opt_site *sites_out,
                             sw_error *err);

#endif
