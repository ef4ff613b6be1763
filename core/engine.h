/* engine.h - the scheduling engine: events in, actions out, time as an argument.
 *
 * The engine is the one place where spillway decides anything: which sites to provision and
 * release (policy.h over each site's signal), the site lifecycle (site.h), rounds (rounds.h)
 * and when the run is over. It does no I/O, reads no clock, never sleeps and has no globals:
 * the same inputs give the same actions, so the simulator (sim/) and the executor (exec/)
 * cannot drift apart. See docs/engine.md for the state machine and timing rules.
 *
 * A driver loop:
 *     double wake_s = 0;
 *     sw_event ev = {.kind = SW_EV_TICK};
 *     for (;;) {
 *         sw_action acts[64];
 *         size_t n = sw_engine_step(e, now_s, &ev, acts, 64, &wake_s);
 *         for (size_t i = 0; i < n; i++) carry_out(&acts[i]);
 *         ... write records from sw_engine_record_count/at to /events ...
 *         if (sw_engine_done(e)) break;
 *         ev = wait_for_event_or_time(wake_s);   // a TICK at wake_s if nothing came first
 *     }
 *
 * Times: `now_s` and every `t_s` are seconds since the run started; run time t corresponds
 * to trace time start_unix_s + t. Sites are identified by their index in the config.
 */
#ifndef SW_ENGINE_H
#define SW_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/policy.h"
#include "core/rounds.h"
#include "core/site.h"
#include "core/trace.h"

/* tokens_left of a START_ROUND when the run has no token target. */
#define SW_TOKENS_UNLIMITED UINT64_MAX

typedef struct sw_engine_site {
    const char *name;   /* copied; unique */
    size_t region;      /* index of the site's region in the trace */
    double provision_s; /* expected provisioning delay (>= 0): only sets PROVISION_SITE's
                           expected_ready_s; readiness itself is the driver's SITE_READY */
} sw_engine_site;

typedef struct sw_engine_config {
    double start_unix_s;         /* trace time of run time 0 */
    double end_s;                /* end of the run (run s): every site is released by then;
                                    <= 0: the end of the latest site region in the trace */
    double wind_down_s;          /* time the driver needs from END_ROUND to every site released
                                    (finish a chunk, drain, upload, aggregate), s, >= 0 [0]: the
                                    engine winds down at end_s - wind_down_s (the horizon) */
    const sw_trace *trace;       /* borrowed, must outlive the engine; NULL only with an
                                    always-on policy and end_s > 0 */
    const sw_engine_site *sites; /* [n_sites], copied */
    size_t n_sites;              /* >= 1 */
    const double *lead_s;        /* [n_sites] or NULL (all 0), copied: from joining a round to
                                    the site's first optimizer step done (model download +
                                    start-up + one step), s, >= 0. A site is provisioned only if
                                    its provision_s + lead_s fits before the horizon, and a ready
                                    site joins a new round only if its lead_s fits (see
                                    wind_down_s); a ready site that no longer fits is released */
    sw_policy_config policy;     /* the same policy settings for every site (ignored when
                                    policies is given) */
    sw_policy *const *policies;  /* optional [n_sites] prebuilt, one per site (the look-ahead
                                    kinds, core/policy_scenario.h), owned by the engine from
                                    sw_engine_create on, also when it fails; NULL =
                                    sw_policy_create(&policy) per site */
    sw_rounds_config rounds;     /* min_duration_s */
    uint64_t tokens_target;      /* 0 = none; else the run is done once aggregated tokens
                                    reach it */
    size_t max_active_sites;     /* 0 = no limit; else at most this many sites provisioning,
                                    ready, training or draining at once (the wanted sites with
                                    the lowest signal go first, ties by index) */
} sw_engine_config;

typedef enum sw_event_kind {
    SW_EV_TICK = 0,      /* nothing happened; time advanced (also what a NULL event means) */
    SW_EV_SITE_READY,    /* site finished provisioning */
    SW_EV_SITE_FAILED,   /* site is lost (any state but off) */
    SW_EV_WORK_REPORTED, /* site returned its work for round `round` */
} sw_event_kind;

typedef struct sw_event {
    sw_event_kind kind;
    int site;           /* READY, FAILED, WORK_REPORTED */
    int64_t round;      /* WORK_REPORTED: must be the current round */
    uint64_t tokens;    /* WORK_REPORTED: tokens processed in that round */
    const char *detail; /* optional, copied into the record (e.g. why a site failed) */
} sw_event;

typedef enum sw_action_kind {
    SW_ACT_PROVISION_SITE = 0, /* start provisioning `site`; send SITE_READY when it is up */
    SW_ACT_RELEASE_SITE,       /* deprovision `site` now (no work is lost by then) */
    SW_ACT_START_ROUND,        /* members `sites` start training round `round` */
    SW_ACT_STOP_SITE,          /* `site` leaves round `round`: stop, report work (WORK_REPORTED) */
    SW_ACT_END_ROUND,          /* round deadline: `sites` (the members still training, maybe
                                  none) stop and report their work */
    SW_ACT_AGGREGATE,          /* combine the work of round `round`: `sites` with `weights`
                                  (sum 1) and `tokens`; n_sites == 0 when every member failed:
                                  keep the global model as it is */
} sw_action_kind;

typedef struct sw_action {
    sw_action_kind kind;
    double t_s;              /* when it was decided (run s); carry it out now */
    int site;                /* PROVISION, RELEASE, STOP: the site; -1 otherwise */
    int64_t round;           /* START, STOP, END, AGGREGATE: the round; -1 otherwise */
    double deadline_s;       /* START_ROUND: when END_ROUND is due, INFINITY = open-ended
                                (single-site mode: ends when a second site is ready or the
                                site leaves) */
    double expected_ready_s; /* PROVISION_SITE: t_s + the site's provision_s */
    uint64_t tokens_left;    /* START_ROUND: tokens still to train, or SW_TOKENS_UNLIMITED */
    uint64_t tokens_total;   /* AGGREGATE: sum of tokens */
    size_t n_sites;          /* START, END, AGGREGATE: length of the arrays below */
    const int *sites;        /* engine-owned, valid until the next sw_engine_step/destroy */
    const double *weights;   /* AGGREGATE only, else NULL */
    const uint64_t *tokens;  /* AGGREGATE only, else NULL */
} sw_action;

/* Engine event records: every decision and transition, for the report's /events table. */
typedef enum sw_record_kind {
    SW_REC_POLICY = 0,  /* the policy changed its mind (value: signal g/kWh) */
    SW_REC_STATE,       /* a site changed state (value: signal g/kWh at that time) */
    SW_REC_ROUND_START, /* value: number of members */
    SW_REC_ROUND_END,   /* END_ROUND emitted; value: members asked to stop */
    SW_REC_WORK,        /* a member reported; value: tokens */
    SW_REC_AGGREGATE,   /* value: tokens aggregated in the round */
    SW_REC_FINISH,      /* the run is winding down (horizon or token target) or done */
    SW_REC_REJECTED,    /* an event was invalid and ignored (detail says why) */
    SW_REC_LATE,        /* a wanted site is not provisioned, or a ready one sits out new
                           rounds: its provisioning + lead_s no longer fits before the horizon
                           (once per site and cause; value: the horizon, run s) */
} sw_record_kind;

typedef struct sw_engine_record {
    double t_s;
    sw_record_kind kind;
    int site;      /* -1 if none */
    int64_t round; /* -1 if none */
    double value;  /* meaning depends on kind, see above; NaN if none */
    int to_state;  /* SW_REC_STATE: the site's new sw_site_state; -1 for other kinds */
    char detail[192];
} sw_engine_record;

typedef struct sw_engine sw_engine;

/* Validates cfg (errors name the field, e.g. "sites[2].region") and creates an engine at run
 * time 0. The caller owns *out (sw_engine_destroy); cfg->trace stays borrowed, and so does
 * whatever cfg->policies read (a forecast: keep it until sw_engine_destroy). */
int sw_engine_create(const sw_engine_config *cfg, sw_engine **out, sw_error *err);

void sw_engine_destroy(sw_engine *e);

/* Advances the engine to now_s, handles ev (NULL = tick) and writes up to cap actions to out
 * in the order they must be carried out; returns how many. Internal deadlines (signal
 * changes, hysteresis, poll ticks, round deadlines, the horizon) that fall before now_s are
 * processed first, in time order, so a driver that wakes late still gets the same decisions.
 * Actions that do not fit stay queued: *wake_s is then now_s and the next call returns them.
 * Otherwise *wake_s is the next time the engine needs a step even if no event arrives
 * (INFINITY when none). An invalid event (unknown site, wrong state, stale round, now_s
 * earlier than the previous call) changes nothing: it is recorded as SW_REC_REJECTED and
 * sw_engine_error says why until the next call. */
size_t sw_engine_step(sw_engine *e, double now_s, const sw_event *ev, sw_action *out, size_t cap,
                      double *wake_s);

/* sw_engine_step with several events that happen at the same instant now_s (evs[0..n_events),
 * n_events may be 0). They are all applied before the engine reacts, so for instance two sites
 * that become ready together start the same round instead of one waiting for the next round.
 * Drivers that can see simultaneous events should deliver them this way. An invalid event is
 * rejected as in sw_engine_step (the others still count); sw_engine_error tells the last one. */
size_t sw_engine_step_n(sw_engine *e, double now_s, const sw_event *evs, size_t n_events,
                        sw_action *out, size_t cap, double *wake_s);

/* Error of the last sw_engine_step (code SW_OK if the event was accepted). */
const sw_error *sw_engine_error(const sw_engine *e);

/* ---- read-only state ---- */
double sw_engine_now(const sw_engine *e);       /* run time of the last step */
double sw_engine_end_s(const sw_engine *e);     /* the end of the run actually used */
double sw_engine_horizon_s(const sw_engine *e); /* end_s - wind_down_s: winding down starts */
size_t sw_engine_site_count(const sw_engine *e);
const char *sw_engine_site_name(const sw_engine *e, size_t site);
sw_site_state sw_engine_site_state(const sw_engine *e, size_t site);
bool sw_engine_site_wanted(const sw_engine *e, size_t site); /* policy's current wish */
/* The running round (NULL between rounds); engine-owned, valid until the next step. */
const sw_round *sw_engine_round(const sw_engine *e);
int64_t sw_engine_rounds_completed(const sw_engine *e);
uint64_t sw_engine_tokens(const sw_engine *e); /* tokens aggregated so far */
bool sw_engine_done(const sw_engine *e);       /* horizon or target reached, all released */

/* Records accumulate from creation; drivers keep a cursor, or clear after writing them. */
size_t sw_engine_record_count(const sw_engine *e);
const sw_engine_record *sw_engine_record_at(const sw_engine *e, size_t i);
void sw_engine_records_clear(sw_engine *e);

/* ---- snapshot and restore (core/engine_snapshot.c) ---- */

/* Writes the whole engine state (time, each site's lifecycle, policy wish and reason, late
 * notes, the running round with its members' statuses and tokens, round counters, tokens,
 * finishing) into a malloc'd buffer (*buf, *len; the caller frees it): a magic, a format
 * version, little-endian fields, a CRC-32 at the end. Records are not included. Call it
 * between steps, once every action has been handed out (SW_EINPUT otherwise). */
int sw_engine_snapshot(const sw_engine *e, uint8_t **buf, size_t *len, sw_error *err);

/* Creates an engine from cfg (the same configuration and trace as the saved one) in the state
 * of a snapshot: the next step continues exactly as the saved engine would have. The policies'
 * state (a pending release, its hysteresis mark) is rebuilt by replaying their evaluations on
 * the trace up to the snapshot's time, which gives the same state because a policy depends on
 * nothing else (a look-ahead policy reads a deterministic forecast of the same trace, so pass
 * freshly built cfg->policies); the sites are replayed together in time order, ties by index,
 * as the engine evaluated them, so policies sharing one group decision see the same sequence.
 * The replay is checked against the saved evaluation times. SW_EINPUT names what
 * does not match (magic, version, CRC, site count, configuration, policy replay). */
int sw_engine_restore(const sw_engine_config *cfg, const uint8_t *buf, size_t len, sw_engine **out,
                      sw_error *err);

/* A restarted driver lost every site with its previous process (exec --resume): each site
 * that is not off goes off at once (through failed, with `why` in the records), a running
 * round loses its members (it ends and is aggregated empty), and no RELEASE is sent: the
 * driver knows they are gone. Unlike SITE_FAILED, the sites may be provisioned again at once
 * if their policy wants them. */
void sw_engine_sites_lost(sw_engine *e, const char *why);

/* Names for logs and the /events table: "provision_site", ..., "policy", "state", ... */
const char *sw_action_kind_name(sw_action_kind k);
const char *sw_record_kind_name(sw_record_kind k);
const char *sw_event_kind_name(sw_event_kind k);

#endif
