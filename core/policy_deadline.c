/* policy_deadline.c - the deadline policy (rules in policy_lookahead.h): train a token budget by
 * a deadline at least carbon, by running each site while its forecast signal is under the
 * lowest threshold whose forecast windows still hold the capacity the budget needs. */
#include "core/policy_group.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct deadline {
    sw_deadline_config cfg;
    const sw_forecast *fc;
    double origin_unix_s;
    size_t n;
    sw_lookahead_site *sites;
    double credited_tokens; /* open-loop: what the plan's own decisions trained so far */
    double last_t_s;
    double *overhead_left_s; /* per site: overhead still to pay before training */
    /* scratch of one decision: forecast segments from now to the deadline, per site */
    size_t k_cap;
    double *f, *len, *cand;
} deadline;

static void deadline_destroy(void *self)
{
    deadline *d = self;
    free(d->sites);
    free(d->overhead_left_s);
    free(d->f);
    free(d->len);
    free(d->cand);
    free(d);
}

/* Training seconds a site gets from runs under theta in its segments [0, k): a run counts when
 * it holds min_window_s, or when it is the ongoing window of a site already up; each pays the
 * site's overhead (what is left of it for an up site's ongoing run). *first_ok says whether the
 * run at segment 0 counts. */
static double site_train_s(const deadline *d, size_t s, size_t k, double theta, bool up,
                           bool *first_ok)
{
    const double *f = d->f + s * d->k_cap, *len = d->len;
    double total = 0;
    *first_ok = false;
    for (size_t j = 0; j < k;) {
        if (!(f[j] < theta)) {
            j++;
            continue;
        }
        size_t a = j;
        double run = 0;
        for (; j < k && f[j] < theta; j++)
            run += len[j];
        bool ongoing = a == 0 && up;
        if (!ongoing && run < d->cfg.min_window_s)
            continue;
        double oh = ongoing ? d->overhead_left_s[s] : d->sites[s].overhead_s;
        if (run > oh)
            total += run - oh;
        if (a == 0)
            *first_ok = true;
    }
    return total;
}

static double capacity_tokens(const deadline *d, size_t k, double theta, const bool *up)
{
    double phi = d->n >= 2 ? d->cfg.sync_fraction : 1, tokens = 0;
    bool ok;
    for (size_t s = 0; s < d->n; s++)
        tokens += site_train_s(d, s, k, theta, up[s], &ok) * d->sites[s].tokens_per_s * phi;
    return tokens;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void deadline_decide(void *self, double t_s, const bool *before, bool *want,
                            char (*reason)[128])
{
    deadline *d = self;
    /* 1. credit what the previous decision trained (open loop) */
    double dt = t_s - d->last_t_s;
    size_t n_up = 0;
    for (size_t s = 0; s < d->n; s++)
        n_up += before[s];
    for (size_t s = 0; s < d->n && dt > 0; s++) {
        if (!before[s])
            continue;
        double train = dt > d->overhead_left_s[s] ? dt - d->overhead_left_s[s] : 0;
        d->overhead_left_s[s] = fmax(0, d->overhead_left_s[s] - dt);
        d->credited_tokens +=
            train * d->sites[s].tokens_per_s * (n_up >= 2 ? d->cfg.sync_fraction : 1);
    }
    d->last_t_s = t_s;
    double left = d->cfg.tokens - d->credited_tokens;
    if (left <= 0 || t_s >= d->cfg.deadline_s) {
        for (size_t s = 0; s < d->n; s++) {
            want[s] = false;
            snprintf(reason[s], sizeof reason[s], "%s",
                     left <= 0 ? "deadline plan: budget trained"
                               : "deadline plan: deadline passed");
        }
        return;
    }
    /* 2. forecast segments [now, first grid point), grid steps ..., up to the deadline */
    const sw_trace *tr = sw_forecast_trace(d->fc);
    double u = d->origin_unix_s + t_s, dl = d->origin_unix_s + d->cfg.deadline_s;
    double share = 1; /* of the tokens left that this plan's window must hold */
    if (d->cfg.horizon_s > 0 && dl - u > d->cfg.horizon_s) {
        share = d->cfg.horizon_s / (dl - u);
        dl = u + d->cfg.horizon_s;
    }
    double start = sw_trace_start(tr, d->sites[0].region),
           step = sw_trace_step(tr, d->sites[0].region);
    size_t k = 0;
    for (double a = u; a < dl && k < d->k_cap; k++) {
        double g = start + (floor((a - start) / step) + 1) * step;
        if (g <= a)
            g += step;
        double b = fmin(g, dl);
        d->len[k] = b - a;
        for (size_t s = 0; s < d->n; s++)
            d->f[s * d->k_cap + k] = sw_forecast_value(d->fc, d->sites[s].region, u, a);
        a = b;
    }
    /* 3. the lowest theta (a forecast value, inclusive) with enough capacity */
    double need = left * (1 + d->cfg.margin) * share;
    size_t nc = 0;
    for (size_t s = 0; s < d->n; s++)
        for (size_t j = 0; j < k; j++)
            if (!isnan(d->f[s * d->k_cap + j]))
                d->cand[nc++] = nextafter(d->f[s * d->k_cap + j], INFINITY);
    qsort(d->cand, nc, sizeof *d->cand, cmp_double);
    double theta = INFINITY;
    if (nc > 0 && capacity_tokens(d, k, d->cand[nc - 1], before) >= need) {
        size_t lo = 0, hi = nc - 1; /* smallest index with enough capacity */
        while (lo < hi) {
            size_t m = lo + (hi - lo) / 2;
            if (capacity_tokens(d, k, d->cand[m], before) >= need)
                hi = m;
            else
                lo = m + 1;
        }
        theta = d->cand[lo];
    }
    /* 4. wishes */
    for (size_t s = 0; s < d->n; s++) {
        bool ok = true;
        if (isfinite(theta))
            site_train_s(d, s, k, theta, before[s], &ok);
        want[s] = isfinite(theta) ? ok : true;
        if (want[s] && !before[s])
            d->overhead_left_s[s] = d->sites[s].overhead_s;
        if (isfinite(theta))
            snprintf(reason[s], sizeof reason[s],
                     "deadline plan: %.3g tokens left by t=%.0f s, run under %.1f g/kWh", left,
                     d->cfg.deadline_s, theta);
        else
            snprintf(reason[s], sizeof reason[s],
                     "deadline plan: %.3g tokens left by t=%.0f s exceed the forecast capacity: "
                     "every site runs",
                     left, d->cfg.deadline_s);
    }
}

static const sw_policy_group_ops deadline_ops = {"deadline", deadline_decide, deadline_destroy};

int sw_policy_deadline_create(const sw_deadline_config *cfg, const sw_forecast *fc,
                              const sw_lookahead_site *sites, size_t n_sites, double origin_unix_s,
                              sw_policy **out, sw_error *err)
{
    if (!cfg || !fc)
        return sw_errorf(err, SW_EINPUT, "policy: deadline needs a configuration and a forecast");
    if (!isfinite(cfg->tokens) || cfg->tokens <= 0)
        return sw_errorf(err, SW_EINPUT, "policy.tokens: expected > 0, got %g", cfg->tokens);
    if (!isfinite(cfg->deadline_s) || cfg->deadline_s <= 0)
        return sw_errorf(err, SW_EINPUT, "policy.deadline_s: expected > 0, got %g",
                         cfg->deadline_s);
    if (!isfinite(cfg->min_window_s) || cfg->min_window_s < 0)
        return sw_errorf(err, SW_EINPUT, "policy.min_window_s: expected >= 0, got %g",
                         cfg->min_window_s);
    if (!isfinite(cfg->margin) || cfg->margin < 0)
        return sw_errorf(err, SW_EINPUT, "policy.margin: expected >= 0, got %g", cfg->margin);
    if (!(cfg->sync_fraction > 0 && cfg->sync_fraction <= 1))
        return sw_errorf(err, SW_EINPUT, "policy.sync_fraction: expected in (0, 1], got %g",
                         cfg->sync_fraction);
    if (!isfinite(cfg->horizon_s) || cfg->horizon_s < 0)
        return sw_errorf(err, SW_EINPUT, "policy.horizon_s: expected >= 0, got %g", cfg->horizon_s);
    int rc = sw_lookahead_sites_check(sites, n_sites, fc, err);
    if (rc != SW_OK)
        return rc;
    deadline *d = calloc(1, sizeof *d);
    if (!d)
        return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
    d->cfg = *cfg;
    d->fc = fc;
    d->origin_unix_s = origin_unix_s;
    d->n = n_sites;
    double step = sw_trace_step(sw_forecast_trace(fc), sites[0].region);
    double plan_s =
        cfg->horizon_s > 0 && cfg->horizon_s < cfg->deadline_s ? cfg->horizon_s : cfg->deadline_s;
    d->k_cap = (size_t)ceil(plan_s / step) + 2;
    d->sites = malloc(n_sites * sizeof *d->sites);
    d->overhead_left_s = calloc(n_sites, sizeof *d->overhead_left_s);
    d->f = malloc(n_sites * d->k_cap * sizeof *d->f);
    d->len = malloc(d->k_cap * sizeof *d->len);
    d->cand = malloc(n_sites * d->k_cap * sizeof *d->cand);
    if (!d->sites || !d->overhead_left_s || !d->f || !d->len || !d->cand) {
        deadline_destroy(d);
        return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
    }
    memcpy(d->sites, sites, n_sites * sizeof *sites);
    return sw_policy_group_create(&deadline_ops, d, fc, sites, n_sites, origin_unix_s, out, err);
}
