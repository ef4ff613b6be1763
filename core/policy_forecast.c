/* policy_forecast.c - the forecast-threshold policy (rules in policy_lookahead.h): the threshold
 * rule of policy.c, but an off site is provisioned only for a window whose forecast curtailed
 * time repays provisioning, model download and round start-up. */
#include "core/policy_lookahead.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct fthreshold {
    sw_forecast_threshold_config cfg;
    const sw_forecast *fc;
    size_t region;
    double origin_unix_s;
    bool want;
    bool pending;
    bool skipped;         /* curtailed now, but the window was too short at the last look */
    double above_since_s; /* run s, when pending */
} fthreshold;

/* Next point of the region's trace grid strictly after run time t_s, in run s. */
static double next_grid_s(const fthreshold *s, double t_s)
{
    const sw_trace *tr = sw_forecast_trace(s->fc);
    double start = sw_trace_start(tr, s->region), step = sw_trace_step(tr, s->region);
    double u = s->origin_unix_s + t_s;
    double g = start + (floor((u - start) / step) + 1) * step;
    if (g <= u)
        g += step;
    return g - s->origin_unix_s;
}

/* Length of the curtailed run starting at run time t_s (curtailed there), as forecast at t_s:
 * up to the first forecast value at or above the threshold, capped by the horizon. A dip back
 * above ends the run even if the hysteresis would keep a provisioned site through it: the
 * question is whether *this* stretch repays a provisioning, and the stretch after the dip is
 * judged on its own when it comes. */
static double window_curtailed_s(const fthreshold *s, double t_s)
{
    return sw_forecast_window_s(s->fc, s->region, s->origin_unix_s + t_s,
                                s->cfg.threshold_g_per_kwh, s->cfg.horizon_s);
}

static void fthreshold_observe(void *self, double t_s, double mci_ignored, sw_policy_decision *out)
{
    fthreshold *s = self;
    (void)mci_ignored;
    double u = s->origin_unix_s + t_s;
    double mci = sw_forecast_value(s->fc, s->region, u, u);
    double th = s->cfg.threshold_g_per_kwh;
    out->note = SW_POLICY_NOTE_NONE;
    out->reason[0] = '\0';
    s->skipped = false;
    if (mci < th) {
        if (s->pending) {
            s->pending = false;
            out->note = SW_POLICY_NOTE_CANCEL;
            snprintf(out->reason, sizeof out->reason,
                     "signal %.1f g/kWh < threshold %g again: release pending since t=%.0f s "
                     "cancelled",
                     mci, th, s->above_since_s);
        }
        if (!s->want) {
            double held_s = window_curtailed_s(s, t_s);
            if (held_s >= s->cfg.min_window_s) {
                s->want = true;
                out->note = SW_POLICY_NOTE_WANT_ON;
                snprintf(out->reason, sizeof out->reason,
                         "signal %.1f g/kWh < threshold %g, %s forecast window holds %.0f s "
                         ">= %.0f s",
                         mci, th, sw_forecast_kind_name(s->fc), held_s, s->cfg.min_window_s);
            } else {
                s->skipped = true;
            }
        }
    } else if (s->want) {
        if (!s->pending) {
            s->pending = true;
            s->above_since_s = t_s;
            out->note = SW_POLICY_NOTE_PENDING;
            snprintf(out->reason, sizeof out->reason,
                     "signal %.1f g/kWh >= threshold %g: release at t=%.0f s unless it dips", mci,
                     th, t_s + s->cfg.hysteresis_s);
        }
        if (t_s - s->above_since_s >= s->cfg.hysteresis_s) {
            s->pending = false;
            s->want = false;
            out->note = SW_POLICY_NOTE_WANT_OFF;
            snprintf(out->reason, sizeof out->reason,
                     "signal %.1f g/kWh >= threshold %g continuously since t=%.0f s (%g s)", mci,
                     th, s->above_since_s, s->cfg.hysteresis_s);
        }
    }
    out->want = s->want;
}

static double fthreshold_next_eval(const void *self, double t_s, double change_s)
{
    const fthreshold *s = self;
    double next = change_s;
    if (s->pending && s->above_since_s + s->cfg.hysteresis_s < next)
        next = s->above_since_s + s->cfg.hysteresis_s;
    if (s->skipped) { /* the next issue of the forecast may see a longer window */
        double g = next_grid_s(s, t_s);
        if (g < next)
            next = g;
    }
    if (isinf(next))
        return INFINITY;
    return next > t_s ? next : nextafter(t_s, INFINITY);
}

static void fthreshold_destroy(void *self)
{
    free(self);
}

static const sw_policy_ops fthreshold_ops = {
    .kind = "forecast_threshold",
    .observe = fthreshold_observe,
    .next_eval_s = fthreshold_next_eval,
    .destroy = fthreshold_destroy,
};

int sw_policy_forecast_threshold_create(const sw_forecast_threshold_config *cfg,
                                        const sw_forecast *fc, size_t region, double origin_unix_s,
                                        sw_policy **out, sw_error *err)
{
    *out = NULL;
    if (!cfg || !fc)
        return sw_errorf(err, SW_EINPUT, "policy: forecast_threshold needs a forecast");
    if (!isfinite(cfg->threshold_g_per_kwh) || cfg->threshold_g_per_kwh <= 0)
        return sw_errorf(err, SW_EINPUT,
                         "policy.threshold_g_per_kwh: must be finite and > 0, got %g",
                         cfg->threshold_g_per_kwh);
    if (!isfinite(cfg->hysteresis_s) || cfg->hysteresis_s < 0)
        return sw_errorf(err, SW_EINPUT, "policy.hysteresis_s: must be finite and >= 0, got %g",
                         cfg->hysteresis_s);
    if (!isfinite(cfg->min_window_s) || cfg->min_window_s < 0)
        return sw_errorf(err, SW_EINPUT, "policy.min_window_s: must be finite and >= 0, got %g",
                         cfg->min_window_s);
    if (!(cfg->horizon_s > 0))
        return sw_errorf(err, SW_EINPUT, "policy.horizon_s: must be > 0, got %g", cfg->horizon_s);
    if (region >= sw_trace_region_count(sw_forecast_trace(fc)))
        return sw_errorf(err, SW_EINPUT, "policy: region %zu out of range", region);
    fthreshold *s = calloc(1, sizeof *s);
    if (!s)
        return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
    s->cfg = *cfg;
    s->fc = fc;
    s->region = region;
    s->origin_unix_s = origin_unix_s;
    s->above_since_s = NAN;
    return sw_policy_create_custom(&fthreshold_ops, s, out, err);
}
