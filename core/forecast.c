/* forecast.c - the forecast providers of forecast.h (perfect, persistence, noisy) and the glue;
 * the file provider is forecast_file.c. */
#include "core/forecast.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>

struct sw_forecast {
    const sw_forecast_ops *ops;
    void *self;
    const sw_trace *trace;
};

/* ---- perfect and persistence: stateless views of the trace ------------------------------- */

static double perfect_value(const void *self, size_t region, double issue_unix_s,
                            double target_unix_s)
{
    (void)issue_unix_s;
    return sw_trace_value(self, region, target_unix_s);
}

static double persistence_value(const void *self, size_t region, double issue_unix_s,
                                double target_unix_s)
{
    (void)target_unix_s;
    return sw_trace_value(self, region, issue_unix_s);
}

static const sw_forecast_ops perfect_ops = {"perfect", perfect_value, NULL};
static const sw_forecast_ops persistence_ops = {"persistence", persistence_value, NULL};

/* ---- noisy ------------------------------------------------------------------------------ */

typedef struct noisy_state {
    const sw_trace *trace;
    double sigma0, sigma1, rho;
    uint64_t seed;
    gsl_rng *rng; /* reseeded per query: the noise is a function of (seed, region, issue step) */
} noisy_state;

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static double noisy_value(const void *self, size_t region, double issue_unix_s,
                          double target_unix_s)
{
    const noisy_state *s = self;
    double x = sw_trace_value(s->trace, region, target_unix_s);
    if (isnan(x))
        return NAN;
    double start = sw_trace_start(s->trace, region), step = sw_trace_step(s->trace, region);
    double issue_step = floor((issue_unix_s - start) / step);
    double issue_grid = start + issue_step * step;
    double k = floor((target_unix_s - issue_grid) / step);
    if (k < 1)
        return x; /* the issue step itself is observed, not forecast */
    uint64_t key = splitmix64(
        s->seed ^ splitmix64((uint64_t)region * 0x100000001b3ULL ^ (uint64_t)(int64_t)issue_step));
    gsl_rng_set(s->rng, (unsigned long)(key & 0xffffffffUL));
    double z = 0, c = sqrt(1 - s->rho * s->rho);
    for (double j = 1; j <= k; j++) {
        double n = gsl_ran_gaussian_ziggurat(s->rng, 1.0);
        z = j == 1 ? n : s->rho * z + c * n;
    }
    double lead_h = (target_unix_s - issue_unix_s) / 3600.0;
    double sigma = s->sigma0 + s->sigma1 * sqrt(lead_h > 0 ? lead_h : 0);
    double f = x + sigma * z;
    return f > 0 ? f : 0;
}

static void noisy_destroy(void *self)
{
    noisy_state *s = self;
    gsl_rng_free(s->rng);
    free(s);
}

static const sw_forecast_ops noisy_ops = {"noisy", noisy_value, noisy_destroy};

/* ---- glue ------------------------------------------------------------------------------- */

int sw_forecast_create_custom(const sw_forecast_ops *ops, void *self, const sw_trace *tr,
                              sw_forecast **out, sw_error *err)
{
    *out = NULL;
    if (!ops || !ops->value) {
        if (ops && ops->destroy)
            ops->destroy(self);
        return sw_errorf(err, SW_EINPUT, "forecast: ops must define value");
    }
    sw_forecast *f = calloc(1, sizeof *f);
    if (!f) {
        if (ops->destroy)
            ops->destroy(self);
        return sw_errorf(err, SW_ERUNTIME, "forecast: out of memory");
    }
    f->ops = ops;
    f->self = self;
    f->trace = tr;
    *out = f;
    return SW_OK;
}

int sw_forecast_create(const sw_forecast_config *cfg, const sw_trace *tr, sw_forecast **out,
                       sw_error *err)
{
    *out = NULL;
    if (!cfg || !tr)
        return sw_errorf(err, SW_EINPUT, "forecast: needs a configuration and a trace");
    switch (cfg->kind) {
    case SW_FORECAST_PERFECT:
        return sw_forecast_create_custom(&perfect_ops, (void *)tr, tr, out, err);
    case SW_FORECAST_PERSISTENCE:
        return sw_forecast_create_custom(&persistence_ops, (void *)tr, tr, out, err);
    case SW_FORECAST_NOISY: {
        if (!isfinite(cfg->sigma0_g_per_kwh) || cfg->sigma0_g_per_kwh < 0)
            return sw_errorf(err, SW_EINPUT,
                             "forecast.sigma0_g_per_kwh: expected a number >= 0, got %g",
                             cfg->sigma0_g_per_kwh);
        if (!isfinite(cfg->sigma1_g_per_kwh_per_sqrt_h) || cfg->sigma1_g_per_kwh_per_sqrt_h < 0)
            return sw_errorf(err, SW_EINPUT,
                             "forecast.sigma1_g_per_kwh_per_sqrt_h: expected a number >= 0, got %g",
                             cfg->sigma1_g_per_kwh_per_sqrt_h);
        if (!(cfg->rho >= 0 && cfg->rho < 1))
            return sw_errorf(err, SW_EINPUT, "forecast.rho: expected a number in [0, 1), got %g",
                             cfg->rho);
        noisy_state *s = calloc(1, sizeof *s);
        if (!s)
            return sw_errorf(err, SW_ERUNTIME, "forecast: out of memory");
        s->rng = gsl_rng_alloc(gsl_rng_mt19937);
        if (!s->rng) {
            free(s);
            return sw_errorf(err, SW_ERUNTIME, "forecast: out of memory");
        }
        s->trace = tr;
        s->sigma0 = cfg->sigma0_g_per_kwh;
        s->sigma1 = cfg->sigma1_g_per_kwh_per_sqrt_h;
        s->rho = cfg->rho;
        s->seed = cfg->seed;
        return sw_forecast_create_custom(&noisy_ops, s, tr, out, err);
    }
    case SW_FORECAST_FILE:
        if (!cfg->file || !cfg->file[0])
            return sw_errorf(err, SW_EINPUT, "forecast.file: required by kind file");
        return sw_forecast_file_load(cfg->file, tr, out, err);
    }
    return sw_errorf(err, SW_EINPUT, "forecast.kind: unknown kind %d", (int)cfg->kind);
}

void sw_forecast_destroy(sw_forecast *f)
{
    if (!f)
        return;
    if (f->ops->destroy)
        f->ops->destroy(f->self);
    free(f);
}

const char *sw_forecast_kind_name(const sw_forecast *f)
{
    return f->ops->kind ? f->ops->kind : "custom";
}

const sw_trace *sw_forecast_trace(const sw_forecast *f)
{
    return f->trace;
}

double sw_forecast_value(const sw_forecast *f, size_t region, double issue_unix_s,
                         double target_unix_s)
{
    if (target_unix_s < issue_unix_s)
        target_unix_s = issue_unix_s;
    return f->ops->value(f->self, region, issue_unix_s, target_unix_s);
}

void sw_forecast_series(const sw_forecast *f, size_t region, double issue_unix_s, double step_s,
                        double *out, size_t n)
{
    for (size_t k = 0; k < n; k++)
        out[k] = sw_forecast_value(f, region, issue_unix_s, issue_unix_s + (double)k * step_s);
}

double sw_forecast_window_s(const sw_forecast *f, size_t region, double issue_unix_s,
                            double threshold_g_per_kwh, double horizon_s)
{
    if (!(sw_forecast_value(f, region, issue_unix_s, issue_unix_s) < threshold_g_per_kwh))
        return 0;
    /* Probe at the trace grid points after issue: the signal is a step function on it. */
    double start = sw_trace_start(f->trace, region), step = sw_trace_step(f->trace, region);
    double g = start + (floor((issue_unix_s - start) / step) + 1) * step;
    for (; g - issue_unix_s < horizon_s; g += step)
        if (!(sw_forecast_value(f, region, issue_unix_s, g) < threshold_g_per_kwh))
            return g - issue_unix_s;
    return horizon_s;
}
