/* windows.c - curtailment windows by running the policy over a trace (see windows.h). */
#include "core/windows.h"

#include <math.h>
#include <stdlib.h>

double sw_window_duration_s(const sw_window *w)
{
    return w->end_unix_s - w->start_unix_s;
}

static int push(sw_window **v, size_t *n, size_t *cap, double start, double end, sw_error *err)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        sw_window *p = realloc(*v, c * sizeof *p);
        if (!p)
            return sw_errorf(err, SW_ERUNTIME, "windows: out of memory");
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = (sw_window){start, end};
    return SW_OK;
}

int sw_windows_policy(const sw_trace *t, size_t region, const sw_policy_config *cfg,
                      sw_window **out, size_t *n_out, sw_error *err)
{
    *out = NULL;
    *n_out = 0;
    if (!t)
        return sw_errorf(err, SW_EINPUT, "windows: no trace");
    if (region >= sw_trace_region_count(t))
        return sw_errorf(err, SW_EINPUT, "windows: region %zu out of range (the trace has %zu)",
                         region, sw_trace_region_count(t));
    if (!cfg || cfg->kind != SW_POLICY_THRESHOLD)
        return sw_errorf(err, SW_EINPUT, "policy.kind: windows need the threshold policy");
    sw_policy *p = NULL;
    int rc = sw_policy_create(cfg, &p, err);
    if (rc != SW_OK)
        return rc;
    /* Run time 0 is the region's first timestamp, so the poll grid starts there. */
    double origin = sw_trace_start(t, region);
    double span_s = sw_trace_end(t, region) - origin;
    sw_window *v = NULL;
    size_t n = 0, cap = 0;
    double open_s = NAN;
    for (double t_s = 0; t_s < span_s && rc == SW_OK;) {
        sw_policy_decision d;
        double next = sw_policy_observe_trace(p, t, region, origin, t_s, &d, NULL);
        if (d.note == SW_POLICY_NOTE_WANT_ON)
            open_s = t_s;
        else if (d.note == SW_POLICY_NOTE_WANT_OFF) {
            rc = push(&v, &n, &cap, origin + open_s, origin + t_s, err);
            open_s = NAN;
        }
        t_s = next;
    }
    if (rc == SW_OK && !isnan(open_s))
        rc = push(&v, &n, &cap, origin + open_s, origin + span_s, err);
    sw_policy_destroy(p);
    if (rc != SW_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *n_out = n;
    return SW_OK;
}

int sw_windows_raw(const sw_trace *t, size_t region, double threshold_g_per_kwh, sw_window **out,
                   size_t *n_out, sw_error *err)
{
    sw_policy_config cfg = {.kind = SW_POLICY_THRESHOLD,
                            .threshold_g_per_kwh = threshold_g_per_kwh,
                            .hysteresis_s = 0,
                            .poll_s = 0};
    return sw_windows_policy(t, region, &cfg, out, n_out, err);
}
