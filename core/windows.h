/* windows.h - curtailment windows of a trace region, for `spillway windows` and analysis.
 *
 * Two views of one region's signal:
 *   raw:    the maximal intervals where mci < threshold (no hysteresis, event-driven);
 *   policy: the intervals the threshold policy of policy.h keeps a site wanted, i.e. from the
 *           provisioning decision to the release decision, with hysteresis and, when poll_s > 0,
 *           on the poll grid t = trace start + k * poll_s.
 * Both are computed by running the policy code itself over the trace (raw = hysteresis 0 and
 * no polling), so they cannot disagree with what the engine does. A window still open when the
 * region's series ends is closed at the series end (the trace says nothing beyond it).
 */
#ifndef SW_WINDOWS_H
#define SW_WINDOWS_H

#include <stddef.h>

#include "core/error.h"
#include "core/policy.h"
#include "core/trace.h"

typedef struct sw_window {
    double start_unix_s; /* first instant the site is wanted */
    double end_unix_s;   /* first instant it is no longer wanted (exclusive) */
} sw_window;

/* Duration of a window in seconds. */
double sw_window_duration_s(const sw_window *w);

/* Windows of `region` under policy cfg (kind must be SW_POLICY_THRESHOLD), evaluated from the
 * region's first timestamp to its end. *out is malloc'd (free()), *n_out its length (0 with
 * *out NULL when there is none). Errors: bad region index, bad policy config (names the
 * field), out of memory. */
int sw_windows_policy(const sw_trace *t, size_t region, const sw_policy_config *cfg,
                      sw_window **out, size_t *n_out, sw_error *err);

/* The maximal intervals with mci < threshold_g_per_kwh (sw_windows_policy with hysteresis 0,
 * poll 0). */
int sw_windows_raw(const sw_trace *t, size_t region, double threshold_g_per_kwh, sw_window **out,
                   size_t *n_out, sw_error *err);

#endif
