/* forecast.h - forecast providers: what a policy may know about a region's signal ahead.
 *
 * A provider answers one question: issued at time `issue`, what is region r's signal (gCO2/kWh)
 * at time `target` >= issue? Times are Unix seconds, regions are indices of the trace the
 * provider was built on (or the region names of a forecast file, matched to that trace). NaN
 * means "no forecast" (outside the trace, or a file that says nothing about that target).
 * Every provider answers the same question for the same arguments whatever the order of
 * queries, so a policy's decisions are reproducible bit for bit (noisy: for a given seed).
 *
 *   perfect      the trace itself (perfect foresight; the yardstick of look-ahead policies);
 *   persistence  the value observed at the issue time, held for every target;
 *   noisy        the trace plus a seeded error that grows with lead time h = target - issue:
 *                  f = max(0, x(target) + sigma(h) * z(h)),
 *                  sigma(h) = sigma0_g_per_kwh + sigma1_g_per_kwh_per_sqrt_h * sqrt(h / 3600),
 *                z an AR(1) over the lead steps k = 1, 2, ... of the trace grid,
 *                  z_1 = n_1,  z_k = rho * z_{k-1} + sqrt(1 - rho^2) * n_k,  n_k ~ N(0, 1),
 *                so z has unit variance at every lead (sigma(h) is the error's standard deviation
 *                before the clamp at 0) and neighbouring leads err together (rho). Forecasts are
 *                issued on the trace's step grid: a query issued at t uses the issue step that
 *                contains t, and a target inside that step (lead step 0) is the observed value.
 *                The n_k of one (region, issue step) come from a GSL mt19937 seeded from
 *                (seed, region, issue step), so nothing depends on query order;
 *   file         forecasts read from a CSV (docs/formats/forecast.md): the latest issue at or
 *                before the query's issue time, and in it the row whose target time is the latest
 *                at or before the query's target (step semantics); NaN when there is none, or
 *                beyond that issue's last target + the trace step.
 */
#ifndef SW_FORECAST_H
#define SW_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/trace.h"

typedef enum sw_forecast_kind {
    SW_FORECAST_PERFECT = 0,
    SW_FORECAST_PERSISTENCE = 1,
    SW_FORECAST_NOISY = 2,
    SW_FORECAST_FILE = 3,
} sw_forecast_kind;

typedef struct sw_forecast_config {
    sw_forecast_kind kind;
    /* NOISY: error model above. */
    double sigma0_g_per_kwh;            /* error std at lead 0+, >= 0 [20] */
    double sigma1_g_per_kwh_per_sqrt_h; /* growth of the std with sqrt(lead in hours), >= 0 [40] */
    double rho;    /* AR(1) correlation between successive lead steps, [0, 1) */
    uint64_t seed; /* noise seed */
    /* FILE: the CSV path (borrowed during create). */
    const char *file;
} sw_forecast_config;

/* The interface every provider implements; self is its private state. */
typedef struct sw_forecast_ops {
    const char *kind; /* "perfect", "persistence", "noisy", "file" */
    /* Forecast of region at target_unix_s issued at issue_unix_s (<= target), gCO2/kWh or NaN. */
    double (*value)(const void *self, size_t region, double issue_unix_s, double target_unix_s);
    void (*destroy)(void *self);
} sw_forecast_ops;

typedef struct sw_forecast sw_forecast;

/* Creates a provider over trace tr (borrowed; must outlive the provider). Errors name the
 * field (forecast.sigma0_g_per_kwh, ...) or, for FILE, file:line:field. Owned by the caller:
 * sw_forecast_destroy. */
int sw_forecast_create(const sw_forecast_config *cfg, const sw_trace *tr, sw_forecast **out,
                       sw_error *err);

/* Wraps a custom implementation (takes ownership of self; ops must outlive the provider). */
int sw_forecast_create_custom(const sw_forecast_ops *ops, void *self, const sw_trace *tr,
                              sw_forecast **out, sw_error *err);

void sw_forecast_destroy(sw_forecast *f);

const char *sw_forecast_kind_name(const sw_forecast *f);
const sw_trace *sw_forecast_trace(const sw_forecast *f);

/* The forecast of one target; target_unix_s < issue_unix_s is answered as target = issue. */
double sw_forecast_value(const sw_forecast *f, size_t region, double issue_unix_s,
                         double target_unix_s);

/* The forecast over a horizon: out[k] = value(region, issue, issue + k * step_s), k < n. */
void sw_forecast_series(const sw_forecast *f, size_t region, double issue_unix_s, double step_s,
                        double *out, size_t n);

/* How long the signal stays strictly under threshold from issue_unix_s on, as forecast at
 * issue_unix_s, probing at the trace step of the region (0 if the value at issue is not under;
 * capped at horizon_s). Seconds. */
double sw_forecast_window_s(const sw_forecast *f, size_t region, double issue_unix_s,
                            double threshold_g_per_kwh, double horizon_s);

/* Reads a forecast file (docs/formats/forecast.md) for the regions of tr (other regions in the
 * file are an error naming file:line:region). Used by the FILE kind; exposed for tests. */
int sw_forecast_file_parse(const char *text, size_t len, const char *name, const sw_trace *tr,
                           sw_forecast **out, sw_error *err);

/* Loads a forecast file from path (errors: unreadable file, or those of the parse). */
int sw_forecast_file_load(const char *path, const sw_trace *tr, sw_forecast **out, sw_error *err);

#endif
