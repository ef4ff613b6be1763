/* engine.c - the scheduling engine (see engine.h and docs/engine.md).
 *
 * Shape of one step: process every internal timer up to now_s in time order (policy
 * evaluations, the horizon, round deadlines), each followed by `reconcile`; then apply the
 * driver's event and reconcile once more. `reconcile` brings the world in line with the
 * policies' wishes and the round rules until nothing changes; it is the only place that
 * emits actions, so every rule lives in one of its four small helpers.
 */
#include "core/engine.h"
#include "core/engine_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------------------- */

static bool grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*buf, c * elem);
    if (!p)
        return false;
    *buf = p;
    *cap = c;
    return true;
}

static void fail_runtime(sw_engine *e, const char *what)
{
    if (!e->broken)
        sw_errorf(&e->err, SW_ERUNTIME, "engine: %s at t=%g s", what, e->now_s);
    e->broken = true;
}

__attribute__((format(printf, 6, 7))) static void record(sw_engine *e, sw_record_kind kind,
                                                         int site, int64_t round, double value,
                                                         const char *fmt, ...)
{
    if (!grow((void **)&e->recs, &e->rcap, e->rn + 1, sizeof *e->recs)) {
        fail_runtime(e, "out of memory for records");
        return;
    }
    sw_engine_record *r = &e->recs[e->rn++];
    r->t_s = e->now_s;
    r->kind = kind;
    r->site = site;
    r->round = round;
    r->value = value;
    r->to_state = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

/* Appends an action; with n_sites > 0 it gets a payload of n_sites sites (and weights and
 * tokens if with_weights). Returns NULL when out of memory. */
static sw_action *push_action(sw_engine *e, sw_action_kind kind, int site, int64_t round,
                              size_t n_sites, bool with_weights)
{
    if (!grow((void **)&e->q, &e->qcap, e->qn + 1, sizeof *e->q)) {
        fail_runtime(e, "out of memory for actions");
        return NULL;
    }
    queued *qa = &e->q[e->qn];
    *qa = (queued){0};
    if (n_sites > 0) {
        /* doubles and uint64 first so every array is aligned */
        size_t per = sizeof(int) + (with_weights ? sizeof(double) + sizeof(uint64_t) : 0);
        qa->payload = malloc(n_sites * per);
        if (!qa->payload) {
            fail_runtime(e, "out of memory for action payloads");
            return NULL;
        }
        char *p = qa->payload;
        if (with_weights) {
            qa->a.weights = (const double *)p;
            p += n_sites * sizeof(double);
            qa->a.tokens = (const uint64_t *)p;
            p += n_sites * sizeof(uint64_t);
        }
        qa->a.sites = (const int *)p;
    }
    e->qn++;
    sw_action *a = &qa->a;
    a->kind = kind;
    a->t_s = e->now_s;
    a->site = site;
    a->round = round;
    a->deadline_s = NAN;
    a->expected_ready_s = NAN;
    a->n_sites = n_sites;
    return a;
}

static int64_t round_of(const sw_engine *e, size_t i)
{
    if (e->round_active && sw_round_member(&e->round, (int)i) >= 0)
        return e->round.id;
    return -1;
}

static void set_state(sw_engine *e, size_t i, sw_site_state to, const char *why)
{
    site_rt *s = &e->sites[i];
    sw_site_state from = s->life.state;
    sw_error er;
    if (sw_site_transition(&s->life, to, e->now_s, &er) != SW_OK) {
        fail_runtime(e, er.msg); /* a broken engine invariant, not a driver error */
        return;
    }
    record(e, SW_REC_STATE, (int)i, round_of(e, i), s->mci, "%s: %s -> %s: %s", s->name,
           sw_site_state_name(from), sw_site_state_name(to), why);
    if (e->rn > 0 && e->recs[e->rn - 1].kind == SW_REC_STATE)
        e->recs[e->rn - 1].to_state = (int)to;
}

static void release(sw_engine *e, size_t i, sw_site_state to, const char *why)
{
    push_action(e, SW_ACT_RELEASE_SITE, (int)i, round_of(e, i), 0, false);
    set_state(e, i, to, why);
}

static void start_finishing(sw_engine *e, const char *fmt, double value)
{
    e->finishing = true;
    e->finishing_s = e->now_s;
    snprintf(e->finish_why, sizeof e->finish_why, fmt, value);
    record(e, SW_REC_FINISH, -1, -1, value, "%s: no new sites or rounds", e->finish_why);
}

static bool active_state(sw_site_state s)
{
    return s == SW_SITE_PROVISIONING || s == SW_SITE_READY || s == SW_SITE_TRAINING ||
           s == SW_SITE_DRAINING;
}

/* ---- the end of the run -------------------------------------------------------------------- */

/* Whether site i, provisioned now (with_provision) or starting a round now, would finish its
 * first optimizer step before the horizon; if not, says so once per site and cause. */
static bool fits_before_horizon(sw_engine *e, size_t i, bool with_provision)
{
    site_rt *s = &e->sites[i];
    double ready_s = e->now_s + (with_provision ? s->provision_s : 0);
    if (ready_s + s->lead_s <= e->horizon_s)
        return true;
    bool *noted = &s->late_noted[with_provision ? 0 : 1];
    if (!*noted) {
        *noted = true;
        record(e, SW_REC_LATE, (int)i, -1, e->horizon_s,
               "%s: %s: %s%.0f s + %.0f s to a first step pass the horizon t=%.0f s", s->name,
               with_provision ? "not provisioned" : "sits out new rounds",
               with_provision ? "provisioning " : "", with_provision ? s->provision_s : 0.0,
               s->lead_s, e->horizon_s);
    }
    return false;
}

/* ---- the rules ----------------------------------------------------------------------------- */

static void end_round(sw_engine *e, const char *why)
{
    sw_round *r = &e->round;
    size_t k = 0;
    for (size_t m = 0; m < r->n; m++)
        k += r->status[m] == SW_MEMBER_TRAINING &&
             e->sites[r->sites[m]].life.state == SW_SITE_TRAINING;
    sw_action *a = push_action(e, SW_ACT_END_ROUND, -1, r->id, k, false);
    if (!a)
        return;
    int *sites = (int *)a->sites;
    k = 0;
    for (size_t m = 0; m < r->n; m++)
        if (r->status[m] == SW_MEMBER_TRAINING &&
            e->sites[r->sites[m]].life.state == SW_SITE_TRAINING)
            sites[k++] = r->sites[m];
    r->ended = true;
    record(e, SW_REC_ROUND_END, -1, r->id, (double)k,
           "round %lld ends (%s) after %.0f s: %zu member(s) asked to stop and report",
           (long long)r->id, why, e->now_s - r->start_s, k);
}

static void aggregate(sw_engine *e)
{
    sw_round *r = &e->round;
    size_t n_rep = 0;
    for (size_t m = 0; m < r->n; m++)
        n_rep += r->status[m] == SW_MEMBER_REPORTED;
    sw_action *a = push_action(e, SW_ACT_AGGREGATE, -1, r->id, n_rep, true);
    if (!a)
        return;
    size_t n_out = 0;
    uint64_t total =
        sw_round_weights(r, (int *)a->sites, (uint64_t *)a->tokens, (double *)a->weights, &n_out);
    a->tokens_total = total;
    e->tokens += total;
    e->rounds_completed++;
    record(e, SW_REC_AGGREGATE, -1, r->id, (double)total,
           "round %lld aggregated: %zu of %zu member(s), %llu tokens (total %llu)",
           (long long)r->id, n_out, r->n, (unsigned long long)total, (unsigned long long)e->tokens);
    sw_round_free(r);
    e->round_active = false;
    if (e->tokens_target > 0 && e->tokens >= e->tokens_target && !e->finishing)
        start_finishing(e, "token target %.0f reached", (double)e->tokens_target);
}

/* Round deadlines, single-site mode, completion. */
static bool round_progress(sw_engine *e)
{
    if (!e->round_active)
        return false;
    sw_round *r = &e->round;
    bool changed = false;
    if (!r->ended && isinf(r->deadline_s)) {
        for (size_t i = 0; i < e->n; i++) {
            if (e->sites[i].life.state == SW_SITE_READY && sw_round_member(r, (int)i) < 0 &&
                fits_before_horizon(e, i, false)) {
                sw_round_second_site_ready(r, e->now_s, &e->rounds);
                e->round_end_why = "single-site mode over: a second site is ready";
                changed = true;
                break;
            }
        }
    }
    if (!r->ended) {
        const char *why = NULL;
        if (e->finishing)
            why = e->finish_why;
        else if (r->deadline_s <= e->now_s)
            why = e->round_end_why ? e->round_end_why : "minimum duration reached";
        else if (sw_round_complete(r))
            why = "every member left";
        if (why) {
            end_round(e, why);
            changed = true;
        }
    }
    if (r->ended && sw_round_complete(r)) {
        aggregate(e);
        changed = true;
    }
    return changed;
}

/* Releases what the policy (or finishing) no longer wants, then provisions what it wants,
 * within max_active_sites. */
static bool sites_progress(sw_engine *e)
{
    bool changed = false;
    char why[192];
    for (size_t i = 0; i < e->n && !e->broken; i++) {
        site_rt *s = &e->sites[i];
        sw_site_state st = s->life.state;
        /* A ready site too late for any new round has nothing left to do: release it now. */
        bool late = !e->finishing && st == SW_SITE_READY && !fits_before_horizon(e, i, false);
        if (!e->finishing && !late && sw_policy_wants(s->policy))
            continue;
        /* Most sites are off most of the time: format the reason only for those that change
         * (this loop runs at every step, 100 sites x every poll in a year-long run). */
        if (st != SW_SITE_PROVISIONING && st != SW_SITE_READY && st != SW_SITE_TRAINING &&
            st != SW_SITE_FAILED)
            continue;
        if (late)
            snprintf(why, sizeof why, "too late for a round before the horizon t=%.0f s",
                     e->horizon_s);
        else
            snprintf(why, sizeof why, "%s", e->finishing ? e->finish_why : s->why);
        switch (st) {
        case SW_SITE_PROVISIONING:
            release(e, i, SW_SITE_OFF, why);
            changed = true;
            break;
        case SW_SITE_READY:
            release(e, i, SW_SITE_OFF, why);
            changed = true;
            break;
        case SW_SITE_TRAINING:
            /* Once END_ROUND is out the site is already stopping; no second STOP_SITE. */
            if (!(e->round_active && e->round.ended))
                push_action(e, SW_ACT_STOP_SITE, (int)i, e->round.id, 0, false);
            set_state(e, i, SW_SITE_DRAINING, why);
            changed = true;
            break;
        case SW_SITE_FAILED:
            set_state(e, i, SW_SITE_OFF, why);
            changed = true;
            break;
        default:
            break;
        }
    }
    if (e->finishing)
        return changed;
    size_t active = 0;
    for (size_t i = 0; i < e->n; i++)
        active += active_state(e->sites[i].life.state);
    for (;;) {
        if (e->max_active > 0 && active >= e->max_active)
            break;
        /* the wanted, off site with the lowest signal (NaN last), ties by index */
        size_t best = e->n;
        for (size_t i = 0; i < e->n; i++) {
            const site_rt *s = &e->sites[i];
            if (s->life.state != SW_SITE_OFF || !sw_policy_wants(s->policy) ||
                !fits_before_horizon(e, i, true))
                continue;
            double m = isnan(s->mci) ? INFINITY : s->mci;
            double mb = best < e->n ? (isnan(e->sites[best].mci) ? INFINITY : e->sites[best].mci)
                                    : INFINITY;
            if (best == e->n || m < mb)
                best = i;
        }
        if (best == e->n || e->broken)
            break;
        site_rt *s = &e->sites[best];
        sw_action *a = push_action(e, SW_ACT_PROVISION_SITE, (int)best, -1, 0, false);
        if (!a)
            break;
        a->expected_ready_s = e->now_s + s->provision_s;
        set_state(e, best, SW_SITE_PROVISIONING, s->why);
        active++;
        changed = true;
    }
    return changed;
}

/* A new round with every ready site, when none is running. */
static bool round_begin(sw_engine *e)
{
    if (e->round_active || e->finishing || e->done || e->broken)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < e->n; i++)
        k += e->sites[i].life.state == SW_SITE_READY && fits_before_horizon(e, i, false);
    if (k == 0)
        return false; /* pause: the global model waits */
    sw_action *a = push_action(e, SW_ACT_START_ROUND, -1, e->next_round_id, k, false);
    if (!a)
        return false;
    int *sites = (int *)a->sites;
    k = 0;
    for (size_t i = 0; i < e->n; i++)
        if (e->sites[i].life.state == SW_SITE_READY && fits_before_horizon(e, i, false))
            sites[k++] = (int)i;
    sw_error er;
    if (sw_round_init(&e->round, e->next_round_id, e->now_s, &e->rounds, sites, k, &er) != SW_OK) {
        fail_runtime(e, er.msg);
        return false;
    }
    e->round_active = true;
    e->round_end_why = NULL;
    e->next_round_id++;
    a->deadline_s = e->round.deadline_s;
    a->tokens_left = SW_TOKENS_UNLIMITED;
    if (e->tokens_target > 0)
        a->tokens_left = e->tokens_target > e->tokens ? e->tokens_target - e->tokens : 0;
    char why[96];
    if (k >= 2)
        snprintf(why, sizeof why, "round %lld starts, %zu sites, deadline t=%.0f s",
                 (long long)e->round.id, k, e->round.deadline_s);
    else
        snprintf(why, sizeof why, "round %lld starts, single-site mode (open-ended)",
                 (long long)e->round.id);
    record(e, SW_REC_ROUND_START, -1, e->round.id, (double)k, "%s", why);
    for (size_t m = 0; m < k; m++)
        set_state(e, (size_t)sites[m], SW_SITE_TRAINING, why);
    return true;
}

static bool finish_progress(sw_engine *e)
{
    if (!e->finishing || e->done || e->round_active)
        return false;
    for (size_t i = 0; i < e->n; i++)
        if (e->sites[i].life.state != SW_SITE_OFF)
            return false;
    e->done = true;
    record(e, SW_REC_FINISH, -1, -1, (double)e->tokens, "done (%s): %llu tokens in %lld rounds",
           e->finish_why, (unsigned long long)e->tokens, (long long)e->rounds_completed);
    return true;
}

static void reconcile(sw_engine *e)
{
    /* Each pass either changes a state for good or stops; the bound is a safety net. */
    for (size_t pass = 0; pass < 8 * e->n + 16 && !e->broken; pass++) {
        bool changed = round_progress(e);
        changed |= sites_progress(e);
        changed |= round_begin(e);
        changed |= finish_progress(e);
        if (!changed)
            return;
    }
}

void sw_engine_sites_lost(sw_engine *e, const char *why)
{
    for (size_t i = 0; i < e->n && !e->broken; i++) {
        sw_site_state st = e->sites[i].life.state;
        if (st == SW_SITE_OFF)
            continue;
        if (e->round_active && sw_round_member(&e->round, (int)i) >= 0)
            sw_round_fail(&e->round, (int)i, NULL);
        if (st != SW_SITE_FAILED)
            set_state(e, i, SW_SITE_FAILED, why);
        set_state(e, i, SW_SITE_OFF, why);
    }
    reconcile(e);
}

/* ---- time ---------------------------------------------------------------------------------- */

static double next_timer(const sw_engine *e)
{
    if (e->done || e->broken)
        return INFINITY;
    double t = INFINITY;
    if (!e->finishing) {
        t = e->horizon_s;
        for (size_t i = 0; i < e->n; i++)
            if (e->sites[i].next_eval_s < t)
                t = e->sites[i].next_eval_s;
    }
    if (e->round_active && !e->round.ended && e->round.deadline_s < t)
        t = e->round.deadline_s;
    return t;
}

static void evaluate_policy(sw_engine *e, size_t i)
{
    site_rt *s = &e->sites[i];
    sw_policy_decision d;
    s->next_eval_s = sw_policy_observe_trace(s->policy, e->trace, s->region, e->start_unix_s,
                                             e->now_s, &d, &s->mci);
    if (d.note == SW_POLICY_NOTE_NONE)
        return;
    if (d.note == SW_POLICY_NOTE_WANT_ON || d.note == SW_POLICY_NOTE_WANT_OFF)
        snprintf(s->why, sizeof s->why, "%s", d.reason);
    record(e, SW_REC_POLICY, (int)i, round_of(e, i), s->mci, "%s: %s", s->name, d.reason);
}

/* Processes every timer due at or before now_s, in time order. */
static void advance(sw_engine *e, double now_s)
{
    for (;;) {
        double t = next_timer(e);
        if (!(t <= now_s))
            break;
        if (t > e->now_s)
            e->now_s = t;
        if (!e->finishing && e->now_s >= e->horizon_s)
            start_finishing(e, "horizon t=%.0f s reached", e->horizon_s);
        if (!e->finishing)
            for (size_t i = 0; i < e->n; i++)
                if (e->sites[i].next_eval_s <= e->now_s)
                    evaluate_policy(e, i);
        reconcile(e);
    }
    e->now_s = now_s;
}

/* ---- events -------------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void reject(sw_engine *e, const sw_event *ev,
                                                         const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *kind = ev ? sw_event_kind_name(ev->kind) : "tick";
    sw_errorf(&e->err, SW_EINPUT, "event %s: %s", kind, msg);
    record(e, SW_REC_REJECTED, ev ? ev->site : -1, ev ? ev->round : -1, NAN, "event %s: %s", kind,
           msg);
}

static void handle_event(sw_engine *e, const sw_event *ev)
{
    if (!ev || ev->kind == SW_EV_TICK)
        return;
    if (ev->kind != SW_EV_SITE_READY && ev->kind != SW_EV_SITE_FAILED &&
        ev->kind != SW_EV_WORK_REPORTED) {
        reject(e, ev, "kind: unknown event kind %d", (int)ev->kind);
        return;
    }
    if (ev->site < 0 || (size_t)ev->site >= e->n) {
        reject(e, ev, "site: %d out of range (0..%zu)", ev->site, e->n - 1);
        return;
    }
    size_t i = (size_t)ev->site;
    site_rt *s = &e->sites[i];
    sw_site_state st = s->life.state;
    char why[192];
    switch (ev->kind) {
    case SW_EV_SITE_READY:
        if (st != SW_SITE_PROVISIONING) {
            reject(e, ev, "site: %d (%s) is %s, expected provisioning", ev->site, s->name,
                   sw_site_state_name(st));
            return;
        }
        snprintf(why, sizeof why, "provisioned in %.0f s", e->now_s - s->life.since_s);
        set_state(e, i, SW_SITE_READY, why);
        return;
    case SW_EV_SITE_FAILED:
        if (st == SW_SITE_OFF || st == SW_SITE_FAILED) {
            reject(e, ev, "site: %d (%s) is %s, nothing to fail", ev->site, s->name,
                   sw_site_state_name(st));
            return;
        }
        if (e->round_active && sw_round_member(&e->round, (int)i) >= 0)
            sw_round_fail(&e->round, (int)i, NULL);
        snprintf(why, sizeof why, "failed: %s", ev->detail ? ev->detail : "reported by driver");
        release(e, i, SW_SITE_FAILED, why);
        return;
    default: /* SW_EV_WORK_REPORTED */
        if (!e->round_active || ev->round != e->round.id) {
            reject(e, ev, "round: %lld is not the running round (%lld)", (long long)ev->round,
                   e->round_active ? (long long)e->round.id : -1LL);
            return;
        }
        if (st != SW_SITE_TRAINING && st != SW_SITE_DRAINING) {
            reject(e, ev, "site: %d (%s) is %s, expected training or draining", ev->site, s->name,
                   sw_site_state_name(st));
            return;
        }
        sw_error er;
        if (sw_round_report(&e->round, ev->site, ev->tokens, &er) != SW_OK) {
            reject(e, ev, "%s", er.msg);
            return;
        }
        record(e, SW_REC_WORK, ev->site, ev->round, (double)ev->tokens,
               "%s returned %llu tokens for round %lld", s->name, (unsigned long long)ev->tokens,
               (long long)ev->round);
        snprintf(why, sizeof why, "returned %llu tokens", (unsigned long long)ev->tokens);
        if (st == SW_SITE_TRAINING)
            set_state(e, i, SW_SITE_READY, why);
        else
            release(e, i, SW_SITE_OFF, why);
        return;
    }
}

/* ---- public -------------------------------------------------------------------------------- */

static int validate(const sw_engine_config *c, sw_error *err)
{
    if (!c)
        return sw_errorf(err, SW_EINPUT, "engine: no configuration");
    if (!isfinite(c->start_unix_s))
        return sw_errorf(err, SW_EINPUT, "start_unix_s: must be finite");
    if (!isfinite(c->end_s))
        return sw_errorf(err, SW_EINPUT, "end_s: must be finite (<= 0: end of the trace)");
    if (!c->sites || c->n_sites == 0)
        return sw_errorf(err, SW_EINPUT, "sites: at least one site is required");
    if (!c->trace && c->policy.kind != SW_POLICY_ALWAYS_ON)
        return sw_errorf(err, SW_EINPUT, "trace: required by the %s policy",
                         c->policy.kind == SW_POLICY_THRESHOLD ? "threshold" : "configured");
    if (!c->trace && c->end_s <= 0)
        return sw_errorf(err, SW_EINPUT, "end_s: must be > 0 when there is no trace");
    if (!isfinite(c->wind_down_s) || c->wind_down_s < 0)
        return sw_errorf(err, SW_EINPUT, "wind_down_s: must be finite and >= 0, got %g",
                         c->wind_down_s);
    if (!isfinite(c->rounds.min_duration_s) || c->rounds.min_duration_s <= 0)
        return sw_errorf(err, SW_EINPUT, "rounds.min_duration_s: must be finite and > 0, got %g",
                         c->rounds.min_duration_s);
    for (size_t i = 0; i < c->n_sites; i++) {
        const sw_engine_site *s = &c->sites[i];
        if (!s->name || !s->name[0])
            return sw_errorf(err, SW_EINPUT, "sites[%zu].name: must be a non-empty string", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->sites[j].name, s->name) == 0)
                return sw_errorf(err, SW_EINPUT, "sites[%zu].name: \"%s\" is also sites[%zu]", i,
                                 s->name, j);
        if (c->trace && s->region >= sw_trace_region_count(c->trace))
            return sw_errorf(err, SW_EINPUT,
                             "sites[%zu].region: %zu out of range (the trace has %zu regions)", i,
                             s->region, sw_trace_region_count(c->trace));
        if (!isfinite(s->provision_s) || s->provision_s < 0)
            return sw_errorf(err, SW_EINPUT, "sites[%zu].provision_s: must be finite and >= 0", i);
        if (c->lead_s && (!isfinite(c->lead_s[i]) || c->lead_s[i] < 0))
            return sw_errorf(err, SW_EINPUT, "lead_s[%zu]: must be finite and >= 0, got %g", i,
                             c->lead_s[i]);
    }
    return SW_OK;
}

/* The prebuilt policies are the engine's from sw_engine_create on: freed when it fails before
 * taking them over. */
static void free_policies(const sw_engine_config *cfg)
{
    for (size_t i = 0; cfg && cfg->policies && i < cfg->n_sites; i++)
        sw_policy_destroy(cfg->policies[i]);
}

int sw_engine_create(const sw_engine_config *cfg, sw_engine **out, sw_error *err)
{
    *out = NULL;
    int rc = validate(cfg, err);
    if (rc != SW_OK) {
        free_policies(cfg);
        return rc;
    }
    double end_s = cfg->end_s;
    if (end_s <= 0) {
        end_s = -INFINITY;
        for (size_t i = 0; i < cfg->n_sites; i++) {
            double t = sw_trace_end(cfg->trace, cfg->sites[i].region) - cfg->start_unix_s;
            if (t > end_s)
                end_s = t;
        }
        if (!(end_s > 0)) {
            free_policies(cfg);
            return sw_errorf(err, SW_EINPUT,
                             "end_s: the sites' trace regions end before start_unix_s");
        }
    }
    sw_engine *e = calloc(1, sizeof *e);
    if (e)
        e->sites = calloc(cfg->n_sites, sizeof *e->sites);
    if (!e || !e->sites) {
        free(e);
        free_policies(cfg);
        return sw_errorf(err, SW_ERUNTIME, "engine: out of memory");
    }
    e->n = cfg->n_sites;
    /* from here on sw_engine_destroy frees every prebuilt policy, taken over or not */
    for (size_t i = 0; cfg->policies && i < e->n; i++)
        e->sites[i].policy = cfg->policies[i];
    e->start_unix_s = cfg->start_unix_s;
    e->end_s = end_s;
    e->horizon_s = end_s - cfg->wind_down_s;
    if (!(e->horizon_s > 0)) {
        sw_engine_destroy(e);
        return sw_errorf(err, SW_EINPUT,
                         "wind_down_s: %g s leaves no time before the end of the run (%g s)",
                         cfg->wind_down_s, end_s);
    }
    e->trace = cfg->trace;
    e->rounds = cfg->rounds;
    e->tokens_target = cfg->tokens_target;
    e->max_active = cfg->max_active_sites;
    for (size_t i = 0; i < e->n; i++) {
        site_rt *s = &e->sites[i];
        s->name = strdup(cfg->sites[i].name);
        s->region = cfg->sites[i].region;
        s->provision_s = cfg->sites[i].provision_s;
        s->lead_s = cfg->lead_s ? cfg->lead_s[i] : 0;
        s->mci = NAN;
        s->next_eval_s = 0; /* every policy looks at t = 0 */
        if (!s->name) {
            sw_engine_destroy(e);
            return sw_errorf(err, SW_ERUNTIME, "engine: out of memory");
        }
        if (!s->policy && cfg->policies)
            rc = sw_errorf(err, SW_EINPUT, "policies[%zu]: missing", i);
        else if (!s->policy)
            rc = sw_policy_create(&cfg->policy, &s->policy, err);
        if (rc != SW_OK) {
            sw_engine_destroy(e);
            return rc;
        }
    }
    *out = e;
    return SW_OK;
}

static void free_spent(sw_engine *e)
{
    for (size_t i = 0; i < e->spent_n; i++)
        free(e->spent[i]);
    e->spent_n = 0;
}

void sw_engine_destroy(sw_engine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        free(e->sites[i].name);
        sw_policy_destroy(e->sites[i].policy);
    }
    free(e->sites);
    if (e->round_active)
        sw_round_free(&e->round);
    for (size_t i = 0; i < e->qn; i++)
        free(e->q[i].payload);
    free(e->q);
    free_spent(e);
    free(e->spent);
    free(e->recs);
    free(e);
}

size_t sw_engine_step(sw_engine *e, double now_s, const sw_event *ev, sw_action *out, size_t cap,
                      double *wake_s)
{
    return sw_engine_step_n(e, now_s, ev, ev ? 1 : 0, out, cap, wake_s);
}

size_t sw_engine_step_n(sw_engine *e, double now_s, const sw_event *evs, size_t n_events,
                        sw_action *out, size_t cap, double *wake_s)
{
    free_spent(e);
    if (!e->broken)
        sw_error_clear(&e->err);
    if (e->broken) {
        /* keep the runtime error; hand out nothing new */
    } else if (isnan(now_s) || now_s < e->now_s) {
        reject(e, n_events ? evs : NULL, "now_s %g is earlier than the engine's time %g s", now_s,
               e->now_s);
    } else {
        advance(e, now_s);
        /* all simultaneous events first, then one reconcile: two sites ready at the same
         * instant start the same round */
        for (size_t i = 0; i < n_events; i++)
            handle_event(e, &evs[i]);
        reconcile(e);
    }
    if (!out)
        cap = 0;
    size_t k = e->qn < cap ? e->qn : cap;
    if (!grow((void **)&e->spent, &e->spent_cap, e->spent_n + k, sizeof *e->spent)) {
        fail_runtime(e, "out of memory");
        k = 0;
    }
    for (size_t i = 0; i < k; i++) {
        out[i] = e->q[i].a;
        if (e->q[i].payload)
            e->spent[e->spent_n++] = e->q[i].payload;
    }
    if (k > 0)
        memmove(e->q, e->q + k, (e->qn - k) * sizeof *e->q);
    e->qn -= k;
    if (wake_s)
        *wake_s = e->qn > 0 ? e->now_s : next_timer(e);
    return k;
}

const sw_error *sw_engine_error(const sw_engine *e)
{
    return &e->err;
}

double sw_engine_now(const sw_engine *e)
{
    return e->now_s;
}

double sw_engine_end_s(const sw_engine *e)
{
    return e->end_s;
}

double sw_engine_horizon_s(const sw_engine *e)
{
    return e->horizon_s;
}

size_t sw_engine_site_count(const sw_engine *e)
{
    return e->n;
}

const char *sw_engine_site_name(const sw_engine *e, size_t site)
{
    return site < e->n ? e->sites[site].name : NULL;
}

sw_site_state sw_engine_site_state(const sw_engine *e, size_t site)
{
    return site < e->n ? e->sites[site].life.state : SW_SITE_OFF;
}

bool sw_engine_site_wanted(const sw_engine *e, size_t site)
{
    return site < e->n && sw_policy_wants(e->sites[site].policy);
}

const sw_round *sw_engine_round(const sw_engine *e)
{
    return e->round_active ? &e->round : NULL;
}

int64_t sw_engine_rounds_completed(const sw_engine *e)
{
    return e->rounds_completed;
}

uint64_t sw_engine_tokens(const sw_engine *e)
{
    return e->tokens;
}

bool sw_engine_done(const sw_engine *e)
{
    return e->done;
}

size_t sw_engine_record_count(const sw_engine *e)
{
    return e->rn;
}

const sw_engine_record *sw_engine_record_at(const sw_engine *e, size_t i)
{
    return i < e->rn ? &e->recs[i] : NULL;
}

void sw_engine_records_clear(sw_engine *e)
{
    e->rn = 0;
}

const char *sw_action_kind_name(sw_action_kind k)
{
    static const char *const names[] = {"provision_site", "release_site", "start_round",
                                        "stop_site",      "end_round",    "aggregate"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

const char *sw_record_kind_name(sw_record_kind k)
{
    static const char *const names[] = {"policy",    "state",  "round_start", "round_end", "work",
                                        "aggregate", "finish", "rejected",    "late"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

const char *sw_event_kind_name(sw_event_kind k)
{
    static const char *const names[] = {"tick", "site_ready", "site_failed", "work_reported"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}
