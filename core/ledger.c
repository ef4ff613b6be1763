/* ledger.c - per-site energy and carbon accounting (see ledger.h).
 *
 * Each site keeps one row of sums per state; queries add rows up. An interval is first
 * evaluated completely (trace integrals, the walk over change points for the curtailed part)
 * into a local row and only then added, so a failing report changes nothing.
 */
#include "core/ledger.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define J_PER_KWH 3.6e6

typedef struct row {
    double duration_s, it_energy_j, energy_j, curtailed_j, carbon_g, attr_carbon_g, gpu_s;
} row;

typedef struct site {
    char *name;
    sw_ledger_site_config cfg; /* cfg.name points at `name` */
    double last_t1_s;          /* end of the latest interval, -INFINITY before the first */
    row by_state[SW_LEDGER_STATE_COUNT];
} site;

struct sw_ledger {
    double start_unix_s;
    double threshold_g_per_kwh;
    site *sites;
    size_t n_sites, cap_sites;
};

static const char *const state_names[SW_LEDGER_STATE_COUNT] = {
    [SW_LEDGER_PROVISIONING] = "provisioning", [SW_LEDGER_IDLE] = "idle",
    [SW_LEDGER_TRAINING] = "training",         [SW_LEDGER_SYNCING] = "syncing",
    [SW_LEDGER_DRAINING] = "draining",
};

const char *sw_ledger_state_name(int state)
{
    return state >= 0 && state < SW_LEDGER_STATE_COUNT ? state_names[state] : NULL;
}

int sw_ledger_create(double start_unix_s, double curtail_threshold_g_per_kwh, sw_ledger **out,
                     sw_error *err)
{
    if (!out)
        return sw_errorf(err, SW_EINPUT, "sw_ledger_create: out is NULL");
    if (!isfinite(start_unix_s))
        return sw_errorf(err, SW_EINPUT, "sw_ledger_create: start_unix_s = %g, expected finite",
                         start_unix_s);
    if (!isfinite(curtail_threshold_g_per_kwh))
        return sw_errorf(err, SW_EINPUT,
                         "sw_ledger_create: curtail_threshold_g_per_kwh = %g, expected finite",
                         curtail_threshold_g_per_kwh);
    sw_ledger *l = calloc(1, sizeof *l);
    if (!l)
        return sw_errorf(err, SW_ERUNTIME, "sw_ledger_create: out of memory");
    l->start_unix_s = start_unix_s;
    l->threshold_g_per_kwh = curtail_threshold_g_per_kwh;
    *out = l;
    return SW_OK;
}

void sw_ledger_destroy(sw_ledger *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_sites; i++)
        free(l->sites[i].name);
    free(l->sites);
    free(l);
}

int sw_ledger_add_site(sw_ledger *l, const sw_ledger_site_config *cfg, size_t *index, sw_error *err)
{
    const char *fn = "sw_ledger_add_site";
    if (!l || !cfg)
        return sw_errorf(err, SW_EINPUT, "%s: NULL argument", fn);
    if (!cfg->name || !cfg->name[0])
        return sw_errorf(err, SW_EINPUT, "%s: site name is missing", fn);
    const char *name = cfg->name;
    if (sw_ledger_site_index(l, name) >= 0)
        return sw_errorf(err, SW_EINPUT, "%s: site '%s': name already used", fn, name);
    if (!cfg->marginal)
        return sw_errorf(err, SW_EINPUT, "%s: site '%s': marginal trace is missing", fn, name);
    if (cfg->marginal_region >= sw_trace_region_count(cfg->marginal))
        return sw_errorf(err, SW_EINPUT, "%s: site '%s': marginal_region = %zu, trace has %zu", fn,
                         name, cfg->marginal_region, sw_trace_region_count(cfg->marginal));
    if (cfg->average && cfg->average_region >= sw_trace_region_count(cfg->average))
        return sw_errorf(err, SW_EINPUT, "%s: site '%s': average_region = %zu, trace has %zu", fn,
                         name, cfg->average_region, sw_trace_region_count(cfg->average));
    if (!(cfg->pue == 0 || (isfinite(cfg->pue) && cfg->pue >= 1)))
        return sw_errorf(err, SW_EINPUT, "%s: site '%s': pue = %g, expected >= 1 (or 0 for 1)", fn,
                         name, cfg->pue);
    if (l->n_sites == l->cap_sites) {
        size_t cap = l->cap_sites ? 2 * l->cap_sites : 4;
        site *s = realloc(l->sites, cap * sizeof *s);
        if (!s)
            return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", fn);
        l->sites = s;
        l->cap_sites = cap;
    }
    char *copy = malloc(strlen(name) + 1);
    if (!copy)
        return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", fn);
    strcpy(copy, name);
    site *s = &l->sites[l->n_sites];
    memset(s, 0, sizeof *s);
    s->name = copy;
    s->cfg = *cfg;
    s->cfg.name = copy;
    if (s->cfg.pue == 0)
        s->cfg.pue = 1.0;
    s->last_t1_s = -INFINITY;
    if (index)
        *index = l->n_sites;
    l->n_sites++;
    return SW_OK;
}

size_t sw_ledger_site_count(const sw_ledger *l)
{
    return l->n_sites;
}

const char *sw_ledger_site_name(const sw_ledger *l, size_t i)
{
    return i < l->n_sites ? l->sites[i].name : NULL;
}

int sw_ledger_site_index(const sw_ledger *l, const char *name)
{
    for (size_t i = 0; i < l->n_sites; i++)
        if (strcmp(l->sites[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Seconds of [a, b) (Unix) during which the region's signal is < threshold: walks the step
 * function from change point to change point, so the split is exact. [a, b] has already been
 * checked to lie inside the trace. */
static int curtailed_seconds(const sw_trace *tr, size_t region, double threshold, double a,
                             double b, double *out_s, sw_error *err)
{
    double below_s = 0;
    double t = a;
    while (t < b) {
        double v = sw_trace_value(tr, region, t);
        double next = sw_trace_next_change(tr, region, t);
        if (!(next > t))
            return sw_errorf(err, SW_ERUNTIME,
                             "ledger: trace region %zu does not advance at t = %.3f Unix s", region,
                             t);
        double e = next < b ? next : b;
        if (v < threshold)
            below_s += e - t;
        t = e;
    }
    *out_s = below_s;
    return SW_OK;
}

int sw_ledger_add(sw_ledger *l, size_t index, sw_ledger_state state, double t0_s, double t1_s,
                  double power_w, sw_error *err)
{
    const char *fn = "sw_ledger_add";
    if (!l)
        return sw_errorf(err, SW_EINPUT, "%s: NULL ledger", fn);
    if (index >= l->n_sites)
        return sw_errorf(err, SW_EINPUT, "%s: site index %zu, expected < %zu", fn, index,
                         l->n_sites);
    site *s = &l->sites[index];
    if ((int)state < 0 || state >= SW_LEDGER_STATE_COUNT)
        return sw_errorf(err, SW_EINPUT, "%s: site '%s': state = %d, expected 0..%d", fn, s->name,
                         (int)state, SW_LEDGER_STATE_COUNT - 1);
    if (!isfinite(t0_s) || !isfinite(t1_s) || t0_s < 0 || t1_s < t0_s)
        return sw_errorf(err, SW_EINPUT,
                         "%s: site '%s': interval t0_s = %g, t1_s = %g, expected "
                         "0 <= t0_s <= t1_s",
                         fn, s->name, t0_s, t1_s);
    if (!isfinite(power_w) || power_w < 0)
        return sw_errorf(err, SW_EINPUT, "%s: site '%s': power_w = %g, expected finite and >= 0",
                         fn, s->name, power_w);
    if (t0_s < s->last_t1_s - SW_LEDGER_OVERLAP_TOLERANCE_S)
        return sw_errorf(err, SW_EINPUT,
                         "%s: site '%s': t0_s = %.6f overlaps the previous interval, which "
                         "ended at %.6f s",
                         fn, s->name, t0_s, s->last_t1_s);

    const double a = l->start_unix_s + t0_s, b = l->start_unix_s + t1_s;
    const double dt = t1_s - t0_s;
    const double facility_w = power_w * s->cfg.pue;
    double mci_s = 0, avg_s = 0, below_s = 0;
    sw_error terr;
    int rc = sw_trace_integral(s->cfg.marginal, s->cfg.marginal_region, a, b, &mci_s, &terr);
    if (rc == SW_OK && s->cfg.average)
        rc = sw_trace_integral(s->cfg.average, s->cfg.average_region, a, b, &avg_s, &terr);
    if (rc != SW_OK)
        return sw_errorf(err, rc, "%s: site '%s': interval [%g, %g) s: %s", fn, s->name, t0_s, t1_s,
                         terr.msg);
    rc = curtailed_seconds(s->cfg.marginal, s->cfg.marginal_region, l->threshold_g_per_kwh, a, b,
                           &below_s, err);
    if (rc != SW_OK)
        return rc;

    row *r = &s->by_state[state];
    r->duration_s += dt;
    r->it_energy_j += power_w * dt;
    r->energy_j += facility_w * dt;
    r->curtailed_j += facility_w * below_s;
    r->carbon_g += facility_w * mci_s / J_PER_KWH;
    r->attr_carbon_g += facility_w * avg_s / J_PER_KWH;
    r->gpu_s += (double)s->cfg.gpus * dt;
    if (t1_s > s->last_t1_s)
        s->last_t1_s = t1_s;
    return SW_OK;
}

int sw_ledger_query(const sw_ledger *l, size_t site_index, int state, sw_ledger_totals *out,
                    sw_error *err)
{
    if (!l || !out)
        return sw_errorf(err, SW_EINPUT, "sw_ledger_query: NULL argument");
    if (site_index != SW_LEDGER_ALL_SITES && site_index >= l->n_sites)
        return sw_errorf(err, SW_EINPUT, "sw_ledger_query: site index %zu, expected < %zu",
                         site_index, l->n_sites);
    if (state != SW_LEDGER_ALL_STATES && (state < 0 || state >= SW_LEDGER_STATE_COUNT))
        return sw_errorf(err, SW_EINPUT, "sw_ledger_query: state = %d, expected 0..%d or all",
                         state, SW_LEDGER_STATE_COUNT - 1);
    row sum = {0};
    bool all_have_average = true;
    for (size_t i = 0; i < l->n_sites; i++) {
        if (site_index != SW_LEDGER_ALL_SITES && i != site_index)
            continue;
        const site *s = &l->sites[i];
        all_have_average = all_have_average && s->cfg.average;
        for (int k = 0; k < SW_LEDGER_STATE_COUNT; k++) {
            if (state != SW_LEDGER_ALL_STATES && k != state)
                continue;
            const row *r = &s->by_state[k];
            sum.duration_s += r->duration_s;
            sum.it_energy_j += r->it_energy_j;
            sum.energy_j += r->energy_j;
            sum.curtailed_j += r->curtailed_j;
            sum.carbon_g += r->carbon_g;
            sum.attr_carbon_g += r->attr_carbon_g;
            sum.gpu_s += r->gpu_s;
        }
    }
    *out = (sw_ledger_totals){
        .duration_s = sum.duration_s,
        .it_energy_j = sum.it_energy_j,
        .energy_j = sum.energy_j,
        .energy_kwh = sum.energy_j / J_PER_KWH,
        .curtailed_energy_j = sum.curtailed_j,
        .curtailed_fraction = sum.energy_j > 0 ? sum.curtailed_j / sum.energy_j : 0,
        .carbon_g = sum.carbon_g,
        .carbon_kg = sum.carbon_g / 1000,
        .attributional_carbon_g = all_have_average ? sum.attr_carbon_g : NAN,
        .attributional_carbon_kg = all_have_average ? sum.attr_carbon_g / 1000 : NAN,
        .gpu_hours = sum.gpu_s / 3600,
    };
    return SW_OK;
}
