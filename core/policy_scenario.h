/* policy_scenario.h - the scenario's policy for every site, of any kind, with its forecast.
 *
 * The one place that turns a scenario's `policy:` section into sw_policy objects, so the engine
 * (through its driver or the run session), `spillway optimum` and tests build the same policies:
 * threshold and always_on through sw_policy_create (one per site, no forecast); the look-ahead
 * kinds through core/policy_lookahead.h, with the forecast of policy.forecast over the run's
 * trace. Figures derived from the scenario (documented in scenarios/README.md):
 *   site overhead_s  = sites[i].provision_s + rounds.startup_s
 *   tokens_per_s     = model.batch_tokens / model.step_s x (gpus x GPU peak) / (4 x A100 peak)
 *   sync_fraction    = (rounds.min_duration_s - startup_s - return_s - aggregate_s) /
 *                      rounds.min_duration_s, at least 0.01
 *   min_window_s = 0 -> max provision_s + rounds.startup_s + rounds.min_duration_s
 *   deadline_s = 0   -> the end of the run; tokens = model.tokens
 *   max_g_per_mtoken = 0 -> sw_elastic_cap_from_threshold(threshold, first site's train W and
 *                      throughput)
 */
#ifndef SW_POLICY_SCENARIO_H
#define SW_POLICY_SCENARIO_H

#include <stddef.h>

#include "core/error.h"
#include "core/forecast.h"
#include "core/policy.h"
#include "core/policy_lookahead.h"
#include "core/scenario.h"
#include "core/trace.h"

typedef struct sw_policy_set {
    sw_forecast *forecast; /* NULL for threshold and always_on */
    sw_policy **policies;  /* [n], one per scenario site, in site order */
    size_t n;
} sw_policy_set;

/* Builds the policies of sc over trace tr (borrowed; must outlive the set) for a run starting
 * at start_unix_s and ending at end_unix_s. Errors name the key (policy.forecast.file, ...).
 * Free with sw_policies_destroy (safe on a zeroed set). */
int sw_policies_create(const sw_scenario *sc, const sw_trace *tr, double start_unix_s,
                       double end_unix_s, sw_policy_set *out, sw_error *err);
void sw_policies_destroy(sw_policy_set *set);

/* The figures above for site i of sc (region looked up in tr; -1 region = error). */
int sw_scenario_lookahead_site(const sw_scenario *sc, const sw_trace *tr, size_t i,
                               sw_lookahead_site *out, sw_error *err);
double sw_scenario_sync_fraction(const sw_scenario *sc);
double sw_scenario_min_window_s(const sw_scenario *sc);

#endif
