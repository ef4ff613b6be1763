/* policy.h - provisioning policies: when should a site be up, given its grid signal?
 *
 * A policy watches one signal (the marginal carbon intensity of one site's region) and says
 * whether the site is wanted. It is a small state machine driven at *evaluation times* that
 * it chooses itself: after each observation it names the next time it must look again, given
 * the time at which the signal next changes. The engine (core/engine.c) and the curtailment
 * window finder (core/windows.c) drive the very same code, so `spillway windows` shows exactly
 * what the engine would provision.
 *
 * Threshold policy (DESIGN §2), times in run seconds:
 *   - "curtailed" means mci < threshold (strict). A value equal to the threshold, NaN or no
 *     value at all (before/after the trace) is "above": not curtailed.
 *   - wanted turns on at the first evaluation where the signal is curtailed;
 *   - once wanted, the first evaluation that sees the signal above starts a pending release
 *     (since = that time); the release happens at the first evaluation t with
 *     t - since >= hysteresis_s while every evaluation in between saw the signal above;
 *   - an evaluation that sees it curtailed again cancels the pending release.
 *   With poll_s = 0 the evaluations are exactly the signal changes and hysteresis deadlines
 *   (event-driven, exact). With poll_s > 0 they lie on the grid t = k * poll_s only, as the
 *   reference implementation polled every 10 s: a dip shorter than the poll spacing can be
 *   missed, and a release happens at the first grid tick at or after the deadline.
 * Always-on policy: wanted from t = 0, never released (the centralized and always-federated
 * baselines).
 */
#ifndef SW_POLICY_H
#define SW_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/trace.h"

typedef enum sw_policy_kind {
    SW_POLICY_THRESHOLD = 0, /* threshold + hysteresis (the reference study) */
    SW_POLICY_ALWAYS_ON = 1, /* provisioned from the start, never released */
    /* Look-ahead policies (core/policy_lookahead.h): they need a forecast and, for deadline and
     * elastic, all sites at once, so they are created by sw_policies_create
     * (core/policy_scenario.h), not by sw_policy_create. */
    SW_POLICY_FORECAST_THRESHOLD = 2, /* threshold that skips windows too short to repay */
    SW_POLICY_DEADLINE = 3,           /* a token budget by a deadline at least carbon */
    SW_POLICY_ELASTIC = 4,            /* how many sites, from carbon per token */
} sw_policy_kind;

typedef struct sw_policy_config {
    sw_policy_kind kind;
    double threshold_g_per_kwh; /* THRESHOLD: curtailed when mci < this; > 0 */
    double hysteresis_s;        /* THRESHOLD: release after this long above; >= 0 */
    double poll_s;              /* THRESHOLD: 0 = event-driven, > 0 = decide on t = k*poll_s */
} sw_policy_config;

/* What one observation did to the wanted state. */
typedef enum sw_policy_note {
    SW_POLICY_NOTE_NONE = 0, /* nothing changed */
    SW_POLICY_NOTE_WANT_ON,  /* the site became wanted */
    SW_POLICY_NOTE_PENDING,  /* a release was scheduled (signal above, hysteresis running) */
    SW_POLICY_NOTE_CANCEL,   /* a pending release was cancelled (signal dipped back under) */
    SW_POLICY_NOTE_WANT_OFF, /* the site is no longer wanted */
} sw_policy_note;

typedef struct sw_policy_decision {
    bool want;           /* after this observation: should the site be provisioned? */
    sw_policy_note note; /* what changed */
    char reason[128];    /* human-readable why, e.g. "signal 68.9 g/kWh < threshold 100" */
} sw_policy_decision;

/* The interface every policy implements. `self` is the policy's private state. */
typedef struct sw_policy_ops {
    const char *kind; /* short name, e.g. "threshold" */
    /* Observes the signal (gCO2/kWh, NaN = no value) at run time t_s, one of the evaluation
     * times the policy asked for (or the first, t = 0), and fills *out. */
    void (*observe)(void *self, double t_s, double mci_g_per_kwh, sw_policy_decision *out);
    /* The next evaluation time (> t_s, or INFINITY) after an observation at t_s, knowing that
     * the signal stays constant on [t_s, signal_change_s). */
    double (*next_eval_s)(const void *self, double t_s, double signal_change_s);
    /* Frees self (may be NULL for stateless policies). */
    void (*destroy)(void *self);
} sw_policy_ops;

typedef struct sw_policy sw_policy;

/* Validates cfg (errors name the field, e.g. "policy.hysteresis_s") and creates the policy
 * for one signal. *out is owned by the caller (sw_policy_destroy). */
int sw_policy_create(const sw_policy_config *cfg, sw_policy **out, sw_error *err);

/* Wraps a custom implementation; the policy takes ownership of self (ops->destroy frees it).
 * ops must outlive the policy. */
int sw_policy_create_custom(const sw_policy_ops *ops, void *self, sw_policy **out, sw_error *err);

void sw_policy_destroy(sw_policy *p);

const char *sw_policy_kind_name(const sw_policy *p);

/* Observes the signal at run time t_s; see sw_policy_ops.observe. */
void sw_policy_observe(sw_policy *p, double t_s, double mci_g_per_kwh, sw_policy_decision *out);

/* Next evaluation time after t_s; always > t_s (or INFINITY). */
double sw_policy_next_eval_s(const sw_policy *p, double t_s, double signal_change_s);

/* The wanted state after the last observation (false before the first). */
bool sw_policy_wants(const sw_policy *p);

/* Observes region `region` of trace tr at run time t_s, i.e. trace time origin_unix_s + t_s,
 * and returns the next evaluation time in run seconds. tr may be NULL (no signal: NaN, never
 * changes). The signal used is stored in *mci_out when non-NULL. This is the one place that
 * maps run time to trace time for policies; the engine and windows.c both use it. */
double sw_policy_observe_trace(sw_policy *p, const sw_trace *tr, size_t region,
                               double origin_unix_s, double t_s, sw_policy_decision *out,
                               double *mci_out);

#endif
