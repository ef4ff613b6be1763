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

/* The AR(1) errors z_1..z_n of the latest issue step asked for, per region: the errors are a
 * function of (seed, region, issue step) only, so this memo never changes an answer; it makes a
 * horizon of K steps cost O(K) instead of O(K^2) draws. */
typedef struct noisy_memo {
    double issue_step; /* NAN = empty */
    size_t n, cap;
    double *z; /* z[k-1] = z_k */
} noisy_memo;

typedef struct noisy_state {
    const sw_trace *trace;
    double sigma0, sigma1, rho;
    uint64_t seed;
    gsl_rng *rng;      /* positioned after memo[r].n draws of memo[r].issue_step */
    size_t rng_region; /* whose memo the generator's state belongs to */
    size_t n_regions;
    noisy_memo *memo; /* [n_regions]; mutable behind the const self of value() */
} noisy_state;

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* z_k of (region, issue_step), k >= 1, or NAN when out of memory. */
static double noisy_z(const noisy_state *s, size_t region, double issue_step, size_t k)
{
    noisy_memo *m = &s->memo[region];
    noisy_state *w = (noisy_state *)s; /* the memo and generator are caches, not state */
    if (!(m->issue_step == issue_step) || w->rng_region != region) {
        if (!(m->issue_step == issue_step))
            m->n = 0;
        /* replay from the seed: a region switch loses the generator's position */
        uint64_t key = splitmix64(s->seed ^ splitmix64((uint64_t)region * 0x100000001b3ULL ^
                                                       (uint64_t)(int64_t)issue_step));
        gsl_rng_set(s->rng, (unsigned long)(key & 0xffffffffUL));
        for (size_t j = 0; j < m->n; j++)
            (void)gsl_ran_gaussian_ziggurat(s->rng, 1.0);
        m->issue_step = issue_step;
        w->rng_region = region;
    }
    if (k > m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap < k)
            cap *= 2;
        double *z = realloc(m->z, cap * sizeof *z);
        if (!z)
            return NAN;
        m->z = z;
        m->cap = cap;
    }
    double c = sqrt(1 - s->rho * s->rho);
    for (; m->n < k; m->n++) {
        double n = gsl_ran_gaussian_ziggurat(s->rng, 1.0);
        m->z[m->n] = m->n == 0 ? n : s->rho * m->z[m->n - 1] + c * n;
    }
    return m->z[k - 1];
}

static double noisy_value(const void *self, size_t region, double issue_unix_s,
                          double target_unix_s)
{
    const noisy_state *s = self;
    double x = sw_trace_value(s->trace, region, target_unix_s);
    if (isnan(x) || region >= s->n_regions)
        return NAN;
    double start = sw_trace_start(s->trace, region), step = sw_trace_step(s->trace, region);
    double issue_step = floor((issue_unix_s - start) / step);
    double issue_grid = start + issue_step * step;
    double k = floor((target_unix_s - issue_grid) / step);
    if (k < 1)
        return x; /* the issue step itself is observed, not forecast */
    double z = noisy_z(s, region, issue_step, (size_t)k);
    double lead_h = (target_unix_s - issue_unix_s) / 3600.0;
    double sigma = s->sigma0 + s->sigma1 * sqrt(lead_h > 0 ? lead_h : 0);
    double f = x + sigma * z;
    return f > 0 ? f : 0;
}

static void noisy_destroy(void *self)
{
    noisy_state *s = self;
    gsl_rng_free(s->rng);
    for (size_t r = 0; s->memo && r < s->n_regions; r++)
        free(s->memo[r].z);
    free(s->memo);
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
        s->n_regions = sw_trace_region_count(tr);
        s->memo = calloc(s->n_regions ? s->n_regions : 1, sizeof *s->memo);
        if (!s->rng || !s->memo) {
            noisy_destroy(s);
            return sw_errorf(err, SW_ERUNTIME, "forecast: out of memory");
        }
        for (size_t r = 0; r < s->n_regions; r++)
            s->memo[r].issue_step = NAN;
        s->rng_region = (size_t)-1;
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
