/* optimum_scenario.c - the optimum's problem from a scenario (optimum.h), with the figures the
 * look-ahead policies use (policy_scenario.h), so policies and optimum share one cost model. */
#include <math.h>

#include "core/optimum.h"
#include "core/policy_scenario.h"
#include "core/scenario.h"

int sw_optimum_from_scenario(const sw_scenario *sc, const sw_trace *tr, double start_unix_s,
                             double end_unix_s, sw_opt_problem *p, sw_opt_site *sites_out,
                             sw_error *err)
{
    for (size_t i = 0; i < sc->n_sites; i++) {
        sw_lookahead_site ls;
        int rc = sw_scenario_lookahead_site(sc, tr, i, &ls, err);
        if (rc != SW_OK)
            return rc;
        sites_out[i] =
            (sw_opt_site){ls.region, ls.overhead_s, ls.idle_w, ls.train_w, ls.tokens_per_s};
    }
    double step_s = sw_trace_step(tr, sites_out[0].region);
    double deadline_s =
        sc->policy.deadline_s > 0 ? sc->policy.deadline_s : end_unix_s - start_unix_s;
    if (deadline_s > end_unix_s - start_unix_s)
        deadline_s = end_unix_s - start_unix_s;
    *p = (sw_opt_problem){
        .trace = tr,
        .start_unix_s = start_unix_s,
        .step_s = step_s,
        .n_steps = (size_t)floor(deadline_s / step_s + 1e-9),
        .sites = sites_out,
        .n_sites = sc->n_sites,
        .tokens = sc->model.tokens,
        .sync_fraction = sw_scenario_sync_fraction(sc),
    };
    return sw_optimum_check(p, err);
}
