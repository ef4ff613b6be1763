/* policy_elastic.c - the elastic policy (rules in policy_lookahead.h): how many sites to run,
 * from the marginal carbon per token each would add now. */
#include "core/policy_group.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct elastic {
    sw_elastic_config cfg;
    const sw_forecast *fc;
    double origin_unix_s;
    size_t n;
    sw_lookahead_site *sites;
    size_t *order;        /* scratch: sites by carbon per token */
    double *g_per_mtoken; /* scratch: each site's carbon per token now, g / 1e6 tokens */
} elastic;

static void elastic_destroy(void *self)
{
    elastic *e = self;
    free(e->sites);
    free(e->order);
    free(e->g_per_mtoken);
    free(e);
}

double sw_elastic_cap_from_threshold(double threshold_g_per_kwh, double train_w,
                                     double tokens_per_s)
{
    /* g/kWh * W / 3.6e6 = g/s; / (tokens/s) = g/token; * 1e6 = g per 1e6 tokens */
    return threshold_g_per_kwh * train_w / 3.6e6 / tokens_per_s * 1e6;
}

static void elastic_decide(void *self, double t_s, const bool *before, bool *want,
                           char (*reason)[128])
{
    elastic *e = self;
    (void)before;
    double u = e->origin_unix_s + t_s;
    size_t m = 0;
    for (size_t s = 0; s < e->n; s++) {
        want[s] = false;
        double mci = sw_forecast_value(e->fc, e->sites[s].region, u, u);
        e->g_per_mtoken[s] =
            sw_elastic_cap_from_threshold(mci, e->sites[s].train_w, e->sites[s].tokens_per_s);
        if (!isnan(mci))
            e->order[m++] = s;
        snprintf(reason[s], sizeof reason[s], "elastic: no signal");
    }
    /* insertion sort by carbon per token, ties by index: n is small */
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && e->g_per_mtoken[e->order[j]] < e->g_per_mtoken[e->order[j - 1]];
             j--) {
            size_t x = e->order[j];
            e->order[j] = e->order[j - 1];
            e->order[j - 1] = x;
        }
    double rate_before = 0; /* sum of r_i over the sites already chosen */
    for (size_t i = 0; i < m; i++) {
        size_t s = e->order[i];
        double r = e->sites[s].tokens_per_s;
        double phi_now = i + 1 >= 2 ? e->cfg.sync_fraction : 1;
        double phi_before = i >= 2 ? e->cfg.sync_fraction : 1;
        double extra_tokens_per_s = phi_now * (rate_before + r) - phi_before * rate_before;
        double mci = sw_forecast_value(e->fc, e->sites[s].region, u, u);
        double g_per_s = e->sites[s].train_w * mci / 3.6e6;
        double cost = extra_tokens_per_s > 0 ? g_per_s / extra_tokens_per_s * 1e6 : INFINITY;
        if (!(cost <= e->cfg.max_g_per_mtoken)) {
            for (size_t k = i; k < m; k++)
                snprintf(reason[e->order[k]], sizeof reason[0],
                         "elastic: site %zu of %zu would add tokens at %.3g g/Mtoken > cap %.3g",
                         i + 1, m, cost, e->cfg.max_g_per_mtoken);
            break;
        }
        want[s] = true;
        rate_before += r;
        snprintf(reason[s], sizeof reason[s],
                 "elastic: site %zu of %zu adds tokens at %.3g g/Mtoken <= cap %.3g", i + 1, m,
                 cost, e->cfg.max_g_per_mtoken);
    }
}

static const sw_policy_group_ops elastic_ops = {"elastic", elastic_decide, elastic_destroy};

int sw_policy_elastic_create(const sw_elastic_config *cfg, const sw_forecast *fc,
                             const sw_lookahead_site *sites, size_t n_sites, double origin_unix_s,
                             sw_policy **out, sw_error *err)
{
    if (!cfg || !fc)
        return sw_errorf(err, SW_EINPUT, "policy: elastic needs a configuration and a forecast");
    if (!isfinite(cfg->max_g_per_mtoken) || cfg->max_g_per_mtoken <= 0)
        return sw_errorf(err, SW_EINPUT, "policy.max_g_per_mtoken: expected > 0, got %g",
                         cfg->max_g_per_mtoken);
    if (!(cfg->sync_fraction > 0 && cfg->sync_fraction <= 1))
        return sw_errorf(err, SW_EINPUT, "policy.sync_fraction: expected in (0, 1], got %g",
                         cfg->sync_fraction);
    int rc = sw_lookahead_sites_check(sites, n_sites, fc, err);
    if (rc != SW_OK)
        return rc;
    elastic *e = calloc(1, sizeof *e);
    if (!e)
        return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
    e->cfg = *cfg;
    e->fc = fc;
    e->origin_unix_s = origin_unix_s;
    e->n = n_sites;
    e->sites = malloc(n_sites * sizeof *e->sites);
    e->order = malloc(n_sites * sizeof *e->order);
    e->g_per_mtoken = malloc(n_sites * sizeof *e->g_per_mtoken);
    if (!e->sites || !e->order || !e->g_per_mtoken) {
        elastic_destroy(e);
        return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
    }
    memcpy(e->sites, sites, n_sites * sizeof *sites);
    return sw_policy_group_create(&elastic_ops, e, fc, sites, n_sites, origin_unix_s, out, err);
}
