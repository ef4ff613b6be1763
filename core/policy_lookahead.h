/* policy_lookahead.h - policies that look ahead through a forecast provider (core/forecast.h).
 *
 * They implement sw_policy_ops like threshold and always-on (core/policy.h), so the engine and
 * core/optimum.c drive them the same way; they ignore the mci argument of observe and ask the
 * forecast instead (its value at lead 0 is the observed signal for every shipped provider).
 * Times are run seconds; run time t reads the forecast at origin_unix_s + t. One file each:
 *
 *   forecast_threshold (policy_forecast.c): the threshold rule, but an off site is provisioned
 *     only when the forecast says the curtailed run starting now (up to the first forecast value
 *     at or above the threshold) lasts at least min_window_s. Short windows, which cannot repay
 *     provisioning, model download and round start-up, are skipped; a skipped site looks again
 *     at every trace step (a newer forecast may see more). Once up, release as threshold (after
 *     hysteresis_s above; dips are bridged as usual). Event-driven (no poll grid).
 *
 *   deadline (policy_deadline.c), one policy per site sharing one plan: train `tokens` by
 *     `deadline_s` at least carbon. At every step of the trace grid the plan picks the lowest
 *     threshold theta whose forecast windows (runs under theta of at least min_window_s, each
 *     paying the site's overhead_s unless the site is already up) hold enough training capacity
 *     for the tokens still to train (times 1 + margin); a site is wanted while its forecast
 *     signal is under theta. With much time left theta is low (wait for the cleanest power);
 *     as the deadline nears it rises above the curtailment level (fall back to non-curtailed
 *     power); if no theta is enough, every site runs. Tokens trained are credited open-loop from
 *     the plan's own decisions (wanted time minus overhead, times throughput), since the policy
 *     interface has no feedback of work done.
 *
 *   elastic (policy_elastic.c), one policy per site sharing one decision: at every trace step,
 *     sort sites by marginal carbon per token c_s = mci_s * train_w_s / tokens_per_s_s and run
 *     the n cheapest, adding site n while the carbon per *extra* token it brings,
 *       dC / dT = P_n mci_n / (phi(n) sum_{i<=n} r_i - phi(n-1) sum_{i<n} r_i),
 *     is at most max_g_per_mtoken, where phi(1) = 1 and phi(n >= 2) = sync_fraction, the share of
 *     a federated round left for training after start-up, weight return and aggregation.
 */
#ifndef SW_POLICY_LOOKAHEAD_H
#define SW_POLICY_LOOKAHEAD_H

#include <stddef.h>

#include "core/error.h"
#include "core/forecast.h"
#include "core/policy.h"

typedef struct sw_forecast_threshold_config {
    double threshold_g_per_kwh; /* curtailed when forecast mci < this; > 0 */
    double hysteresis_s;        /* release after this long above; >= 0 */
    double min_window_s;        /* curtailed seconds a window must hold to provision; >= 0 */
    double horizon_s;           /* how far the forecast is read; > 0 (e.g. 86400) */
} sw_forecast_threshold_config;

/* Creates the forecast-threshold policy of one site watching `region` of fc (borrowed; must
 * outlive the policy). Errors name the field (policy.min_window_s, ...). */
int sw_policy_forecast_threshold_create(const sw_forecast_threshold_config *cfg,
                                        const sw_forecast *fc, size_t region, double origin_unix_s,
                                        sw_policy **out, sw_error *err);

/* What a group policy needs to know of each site (the optimum's cost model, core/optimum.h,
 * uses the same figures). */
typedef struct sw_lookahead_site {
    size_t region;       /* region of the forecast's trace */
    double overhead_s;   /* provisioning + round start-up before the first token, s, >= 0 */
    double tokens_per_s; /* training throughput, > 0 */
    double train_w;      /* power while training, W, >= 0 */
    double idle_w;       /* power while provisioned but not training, W, >= 0 */
} sw_lookahead_site;

typedef struct sw_deadline_config {
    double tokens;        /* budget to train, > 0 */
    double deadline_s;    /* run time by which it must be trained, > 0 */
    double min_window_s;  /* shortest window worth provisioning for, s, >= 0 */
    double margin;        /* plan for tokens * (1 + margin), >= 0 (forecast error, sync) */
    double sync_fraction; /* throughput factor while 2+ sites are up, in (0, 1] */
    double horizon_s;     /* plan at most this far ahead, s, >= 0; 0 = to the deadline. With a
                             deadline further away the plan asks its window for the pro-rata
                             share left * window / (deadline - now) (receding horizon) */
} sw_deadline_config;

/* Creates n_sites deadline policies sharing one plan (out[i] for sites[i]; each destroyed on
 * its own, the plan with the last). fc is borrowed. Errors name the field. */
int sw_policy_deadline_create(const sw_deadline_config *cfg, const sw_forecast *fc,
                              const sw_lookahead_site *sites, size_t n_sites, double origin_unix_s,
                              sw_policy **out, sw_error *err);

typedef struct sw_elastic_config {
    double max_g_per_mtoken; /* run a site while its extra tokens cost at most this, gCO2 per
                                1e6 tokens, > 0 */
    double sync_fraction;    /* phi(n >= 2), in (0, 1] */
} sw_elastic_config;

/* Creates n_sites elastic policies sharing one decision (as sw_policy_deadline_create). */
int sw_policy_elastic_create(const sw_elastic_config *cfg, const sw_forecast *fc,
                             const sw_lookahead_site *sites, size_t n_sites, double origin_unix_s,
                             sw_policy **out, sw_error *err);

/* The carbon cap of the elastic policy equivalent to a curtailment threshold for a site:
 * threshold * train_w / tokens_per_s, in gCO2 per 1e6 tokens. */
double sw_elastic_cap_from_threshold(double threshold_g_per_kwh, double train_w,
                                     double tokens_per_s);

#endif
