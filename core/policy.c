/* policy.c - the threshold + hysteresis policy, the always-on policy, and the vtable glue.
 * The rules are specified in policy.h; this file is their only implementation. */
#include "core/policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

struct sw_policy {
    const sw_policy_ops *ops;
    void *self;
    bool want; /* mirror of the last decision, so callers need not keep it */
};

/* ---- threshold + hysteresis ---------------------------------------------------------------- */

typedef struct threshold_state {
    double threshold_g_per_kwh;
    double hysteresis_s;
    double poll_s;
    bool want;
    bool pending;         /* a release is scheduled */
    double above_since_s; /* first evaluation that saw the signal above, when pending */
} threshold_state;

static bool curtailed(const threshold_state *s, double mci_g_per_kwh)
{
    /* NaN compares false: no signal is treated as not curtailed (never provision blind). */
    return mci_g_per_kwh < s->threshold_g_per_kwh;
}

static void threshold_observe(void *self, double t_s, double mci, sw_policy_decision *out)
{
    threshold_state *s = self;
    out->note = SW_POLICY_NOTE_NONE;
    out->reason[0] = '\0';
    if (curtailed(s, mci)) {
        if (s->pending) {
            s->pending = false;
            out->note = SW_POLICY_NOTE_CANCEL;
            snprintf(out->reason, sizeof out->reason,
                     "signal %.1f g/kWh < threshold %g again: release pending since t=%.0f s "
                     "cancelled",
                     mci, s->threshold_g_per_kwh, s->above_since_s);
        }
        if (!s->want) {
            s->want = true;
            out->note = SW_POLICY_NOTE_WANT_ON;
            snprintf(out->reason, sizeof out->reason, "signal %.1f g/kWh < threshold %g", mci,
                     s->threshold_g_per_kwh);
        }
    } else if (s->want) {
        if (!s->pending) {
            s->pending = true;
            s->above_since_s = t_s;
            out->note = SW_POLICY_NOTE_PENDING;
            snprintf(out->reason, sizeof out->reason,
                     "signal %.1f g/kWh >= threshold %g: release at t=%.0f s unless it dips", mci,
                     s->threshold_g_per_kwh, t_s + s->hysteresis_s);
        }
        if (t_s - s->above_since_s >= s->hysteresis_s) {
            s->pending = false;
            s->want = false;
            out->note = SW_POLICY_NOTE_WANT_OFF;
            snprintf(out->reason, sizeof out->reason,
                     "signal %.1f g/kWh >= threshold %g continuously since t=%.0f s (%g s)", mci,
                     s->threshold_g_per_kwh, s->above_since_s, s->hysteresis_s);
        }
    }
    out->want = s->want;
}

/* Smallest grid point k*poll_s that is >= x and > after_s. */
static double grid_at_or_after(double x, double after_s, double poll_s)
{
    double k = ceil(x / poll_s);
    while (k * poll_s < x)
        k += 1;
    if (k * poll_s <= after_s) {
        k = floor(after_s / poll_s) + 1;
        while (k * poll_s <= after_s)
            k += 1;
    }
    return k * poll_s;
}

static double threshold_next_eval(const void *self, double t_s, double change_s)
{
    const threshold_state *s = self;
    double next = change_s; /* the signal may cross the threshold there */
    if (s->pending && s->above_since_s + s->hysteresis_s < next)
        next = s->above_since_s + s->hysteresis_s;
    if (isinf(next))
        return INFINITY;
    if (s->poll_s > 0)
        return grid_at_or_after(next, t_s, s->poll_s);
    return next > t_s ? next : nextafter(t_s, INFINITY);
}

static void free_state(void *self)
{
    free(self);
}

static const sw_policy_ops threshold_ops = {
    .kind = "threshold",
    .observe = threshold_observe,
    .next_eval_s = threshold_next_eval,
    .destroy = free_state,
};

/* ---- always on ----------------------------------------------------------------------------- */

static void always_on_observe(void *self, double t_s, double mci, sw_policy_decision *out)
{
    bool *want = self;
    (void)t_s;
    (void)mci;
    out->note = *want ? SW_POLICY_NOTE_NONE : SW_POLICY_NOTE_WANT_ON;
    snprintf(out->reason, sizeof out->reason, "%s", *want ? "" : "always-on policy");
    *want = true;
    out->want = true;
}

static double always_on_next_eval(const void *self, double t_s, double change_s)
{
    (void)self;
    (void)t_s;
    (void)change_s;
    return INFINITY; /* nothing can change its mind */
}

static const sw_policy_ops always_on_ops = {
    .kind = "always_on",
    .observe = always_on_observe,
    .next_eval_s = always_on_next_eval,
    .destroy = free_state,
};

/* ---- glue ---------------------------------------------------------------------------------- */

int sw_policy_create_custom(const sw_policy_ops *ops, void *self, sw_policy **out, sw_error *err)
{
    *out = NULL;
    if (!ops || !ops->observe || !ops->next_eval_s)
        return sw_errorf(err, SW_EINPUT, "policy: ops must define observe and next_eval_s");
    sw_policy *p = calloc(1, sizeof *p);
    if (!p) {
        if (ops->destroy)
            ops->destroy(self);
        return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
    }
    p->ops = ops;
    p->self = self;
    *out = p;
    return SW_OK;
}

int sw_policy_create(const sw_policy_config *cfg, sw_policy **out, sw_error *err)
{
    *out = NULL;
    if (!cfg)
        return sw_errorf(err, SW_EINPUT, "policy: no configuration");
    if (cfg->kind == SW_POLICY_ALWAYS_ON) {
        bool *want = calloc(1, sizeof *want);
        if (!want)
            return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
        return sw_policy_create_custom(&always_on_ops, want, out, err);
    }
    if (cfg->kind >= SW_POLICY_FORECAST_THRESHOLD && cfg->kind <= SW_POLICY_ELASTIC)
        return sw_errorf(err, SW_EINPUT,
                         "policy.kind: the look-ahead policies need a forecast and every site: "
                         "create them with sw_policies_create (core/policy_scenario.h)");
    if (cfg->kind != SW_POLICY_THRESHOLD)
        return sw_errorf(err, SW_EINPUT, "policy.kind: unknown policy kind %d", (int)cfg->kind);
    if (!isfinite(cfg->threshold_g_per_kwh) || cfg->threshold_g_per_kwh <= 0)
        return sw_errorf(err, SW_EINPUT,
                         "policy.threshold_g_per_kwh: must be finite and > 0, got %g",
                         cfg->threshold_g_per_kwh);
    if (!isfinite(cfg->hysteresis_s) || cfg->hysteresis_s < 0)
        return sw_errorf(err, SW_EINPUT, "policy.hysteresis_s: must be finite and >= 0, got %g",
                         cfg->hysteresis_s);
    if (!isfinite(cfg->poll_s) || cfg->poll_s < 0)
        return sw_errorf(err, SW_EINPUT, "policy.poll_s: must be finite and >= 0, got %g",
                         cfg->poll_s);
    threshold_state *s = calloc(1, sizeof *s);
    if (!s)
        return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
    s->threshold_g_per_kwh = cfg->threshold_g_per_kwh;
    s->hysteresis_s = cfg->hysteresis_s;
    s->poll_s = cfg->poll_s;
    s->above_since_s = NAN;
    return sw_policy_create_custom(&threshold_ops, s, out, err);
}

void sw_policy_destroy(sw_policy *p)
{
    if (!p)
        return;
    if (p->ops->destroy)
        p->ops->destroy(p->self);
    free(p);
}

const char *sw_policy_kind_name(const sw_policy *p)
{
    return p->ops->kind ? p->ops->kind : "custom";
}

void sw_policy_observe(sw_policy *p, double t_s, double mci_g_per_kwh, sw_policy_decision *out)
{
    p->ops->observe(p->self, t_s, mci_g_per_kwh, out);
    p->want = out->want;
}

double sw_policy_next_eval_s(const sw_policy *p, double t_s, double signal_change_s)
{
    double next = p->ops->next_eval_s(p->self, t_s, signal_change_s);
    /* Guard the callers' event loops against a policy that would not advance time. */
    if (!(next > t_s))
        next = nextafter(t_s, INFINITY);
    return next;
}

bool sw_policy_wants(const sw_policy *p)
{
    return p->want;
}

double sw_policy_observe_trace(sw_policy *p, const sw_trace *tr, size_t region,
                               double origin_unix_s, double t_s, sw_policy_decision *out,
                               double *mci_out)
{
    double mci = NAN, change_s = INFINITY;
    if (tr) {
        double u = origin_unix_s + t_s;
        mci = sw_trace_value(tr, region, u);
        change_s = sw_trace_next_change(tr, region, u) - origin_unix_s;
    }
    if (mci_out)
        *mci_out = mci;
    sw_policy_observe(p, t_s, mci, out);
    return sw_policy_next_eval_s(p, t_s, change_s);
}
