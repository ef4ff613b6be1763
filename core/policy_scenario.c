/* policy_scenario.c - the scenario's policies for every site (policy_scenario.h). */
#include "core/policy_scenario.h"

#include <math.h>
#include <stdlib.h>

double sw_scenario_sync_fraction(const sw_scenario *sc)
{
    const sw_scenario_rounds *r = &sc->rounds;
    double f =
        (r->min_duration_s - r->startup_s - r->return_s - r->aggregate_s) / r->min_duration_s;
    return f < 0.01 ? 0.01 : (f > 1 ? 1 : f);
}

double sw_scenario_min_window_s(const sw_scenario *sc)
{
    if (sc->policy.min_window_s > 0)
        return sc->policy.min_window_s;
    double prov = 0;
    for (size_t i = 0; i < sc->n_sites; i++)
        prov = fmax(prov, sc->sites[i].provision_s);
    return prov + sc->rounds.startup_s + sc->rounds.min_duration_s;
}

int sw_scenario_lookahead_site(const sw_scenario *sc, const sw_trace *tr, size_t i,
                               sw_lookahead_site *out, sw_error *err)
{
    const sw_scenario_site *s = &sc->sites[i];
    int r = sw_trace_region_index(tr, s->region);
    if (r < 0)
        return sw_errorf(err, SW_EINPUT, "%s: sites[%zu].region: '%s' is not a region of the trace",
                         sc->name, i, s->region);
    double a100 = sw_gpu_peak_flops("a100"), peak = sw_gpu_peak_flops(s->gpu);
    double speedup = (double)s->gpus * (peak > 0 ? peak : a100) / (4.0 * a100);
    *out = (sw_lookahead_site){
        .region = (size_t)r,
        .overhead_s = s->provision_s + sc->rounds.startup_s,
        .tokens_per_s = (double)sc->model.batch_tokens / sc->model.step_s * speedup,
        .train_w = s->power_w.train * s->pue,
        .idle_w = s->power_w.idle * s->pue,
    };
    return SW_OK;
}

void sw_policies_destroy(sw_policy_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; set->policies && i < set->n; i++)
        sw_policy_destroy(set->policies[i]);
    free(set->policies);
    sw_forecast_destroy(set->forecast);
    set->policies = NULL;
    set->forecast = NULL;
    set->n = 0;
}

int sw_policies_create(const sw_scenario *sc, const sw_trace *tr, double start_unix_s,
                       double end_unix_s, sw_policy_set *out, sw_error *err)
{
    *out = (sw_policy_set){0};
    size_t n = sc->n_sites;
    out->policies = calloc(n, sizeof *out->policies);
    sw_lookahead_site *ls = calloc(n, sizeof *ls);
    if (!out->policies || !ls) {
        free(ls);
        sw_policies_destroy(out);
        return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
    }
    out->n = n;
    const sw_scenario_policy *pc = &sc->policy;
    int rc = SW_OK;
    if (pc->kind == SW_POLICY_THRESHOLD || pc->kind == SW_POLICY_ALWAYS_ON) {
        sw_policy_config cfg = {pc->kind, pc->threshold_g_per_kwh, pc->deprovision_after_s,
                                pc->poll_s};
        for (size_t i = 0; i < n && rc == SW_OK; i++)
            rc = sw_policy_create(&cfg, &out->policies[i], err);
        goto done;
    }
    for (size_t i = 0; i < n && rc == SW_OK; i++)
        rc = sw_scenario_lookahead_site(sc, tr, i, &ls[i], err);
    if (rc != SW_OK)
        goto done;
    const sw_scenario_forecast *f = &pc->forecast;
    if (f->kind == SW_FORECAST_FILE && !f->file) {
        rc = sw_errorf(err, SW_EINPUT, "%s: policy.forecast.file: required by forecast kind file",
                       sc->name);
        goto done;
    }
    sw_forecast_config fcfg = {
        f->kind, f->sigma0_g_per_kwh, f->sigma1_g_per_kwh_per_sqrt_h, f->rho, sc->seed, f->file};
    rc = sw_forecast_create(&fcfg, tr, &out->forecast, err);
    if (rc != SW_OK)
        goto done;
    double sync = sw_scenario_sync_fraction(sc), min_window = sw_scenario_min_window_s(sc);
    if (pc->kind == SW_POLICY_FORECAST_THRESHOLD) {
        sw_forecast_threshold_config ft = {pc->threshold_g_per_kwh, pc->deprovision_after_s,
                                           min_window, pc->horizon_s};
        for (size_t i = 0; i < n && rc == SW_OK; i++)
            rc = sw_policy_forecast_threshold_create(&ft, out->forecast, ls[i].region, start_unix_s,
                                                     &out->policies[i], err);
    } else if (pc->kind == SW_POLICY_DEADLINE) {
        double deadline_s = pc->deadline_s > 0 ? pc->deadline_s : end_unix_s - start_unix_s;
        sw_deadline_config dc = {sc->model.tokens, deadline_s, min_window,
                                 pc->margin,       sync,       pc->horizon_s};
        rc = sw_policy_deadline_create(&dc, out->forecast, ls, n, start_unix_s, out->policies, err);
    } else if (pc->kind == SW_POLICY_ELASTIC) {
        double cap = pc->max_g_per_mtoken > 0
                         ? pc->max_g_per_mtoken
                         : sw_elastic_cap_from_threshold(pc->threshold_g_per_kwh, ls[0].train_w,
                                                         ls[0].tokens_per_s);
        sw_elastic_config ec = {cap, sync};
        rc = sw_policy_elastic_create(&ec, out->forecast, ls, n, start_unix_s, out->policies, err);
    } else {
        rc = sw_errorf(err, SW_EINPUT, "%s: policy.kind: unknown kind %d", sc->name, (int)pc->kind);
    }
done:
    free(ls);
    if (rc != SW_OK)
        sw_policies_destroy(out);
    return rc;
}
