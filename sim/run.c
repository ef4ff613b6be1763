/* run.c - the simulation driver (see sim.h).
 *
 * Actors: one coordinator on host "coord" runs the core engine: it waits on a condition
 * variable for site events or until the engine's wake time, feeds the engine, and carries out
 * its actions. A site actor lives on its site's host from provisioning to release: it sleeps
 * through provisioning, then for each round downloads the global model over the WAN, pays the
 * start-up cost, trains in chunks of optimizer steps (one exec per chunk, at most one log
 * interval long, ending at the round deadline), and returns its work (return cost + upload).
 * No scheduling decision is taken here: every one comes from the engine.
 *
 * Energy: whenever a site changes phase, the energy its host consumed since the last change
 * (SimGrid's host-energy plugin) is given to the ledger as one interval of constant power, so
 * the ledger's joules are SimGrid's joules and its carbon is their exact integral over the
 * region's intensity.
 */
#include "sim/sim.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <simgrid/actor.h>
#include <simgrid/cond.h>
#include <simgrid/engine.h>
#include <simgrid/exec.h>
#include <simgrid/host.h>
#include <simgrid/mutex.h>
#include <simgrid/plugins/energy.h>

#include "core/convergence.h"
#include "core/engine.h"
#include "core/engine_report.h"
#include "core/phase.h"
#include "core/ledger.h"
#include "sim/platform.h"
#include "sim/sgutil.h"

/* What a site is doing, for power rows and the ledger. */

typedef enum site_cmd { CMD_NONE = 0, CMD_START, CMD_RELEASE } site_cmd;

struct sim_run;

typedef struct site_rt {
    struct sim_run *run;
    int idx;
    const sw_scenario_site *sc;
    sg_host_t host;
    size_t region; /* index in the trace */
    size_t ledger_site;
    double step_s;     /* s per optimizer step at this site */
    double step_flops; /* flops per optimizer step */

    sw_phase ph;
    double ph_t0_s;
    double ph_energy0_j;

    sg_actor_t actor;
    sg_cond_t cond;
    site_cmd cmd;
    int64_t round;
    double deadline_s;
    bool stop;      /* leave the round now (END_ROUND or STOP_SITE) */
    bool releasing; /* the stop is a STOP_SITE: drain, then release */
    bool alive;

    uint64_t round_tokens;
    double train_start_s, train_stop_s; /* within the current round */
    int64_t steps_total;
    uint64_t tokens_total;
    double training_s;
} site_rt;

#define QUEUE_MAX 4096

typedef struct sim_run {
    const sw_scenario *sc;
    const sw_sim_options *opt;
    sw_trace *trace;
    sw_engine *engine;
    sw_ledger *ledger;
    sw_report *rep;
    sw_convergence_state conv;
    site_rt *sites;
    size_t n_sites;
    sg_host_t coord;
    sg_mutex_t mtx;
    sg_cond_t cond;
    sw_event queue[QUEUE_MAX];
    size_t q_head, q_len;

    double start_unix_s, end_s;
    double model_bytes;
    uint64_t round_budget; /* tokens still claimable by the members of the current round */
    double round_start_s;
    size_t records_seen;
    double best_ppl, last_loss;
    int64_t rounds_done;
    int64_t sync_bytes_total;
    double last_progress_s;
    double finished_s; /* simulated time at which the run ended */
    double last_flush_wall_s;
    sg_actor_t alarm;     /* the reusable alarm actor (created on first use) */
    sg_cond_t alarm_cond; /* arms it */
    double alarm_s;       /* the time it is armed with */
    bool alarm_armed;
    bool alarm_quit;
    double alarm_sleep_s; /* the time it sleeps towards, NAN when idle */
    double oneshot_s;     /* the time of the one-shot alarm being started */
    bool alarm_rang;
    int status;
    sw_error err;
} sim_run;

static int fail(sim_run *r, int code, const char *what)
{
    if (r->status == SW_OK)
        sw_errorf(&r->err, code, "%s", what);
    r->status = code;
    return code;
}

/* ---- phases, power and the ledger ---- */

/* Closes the current phase interval (energy from SimGrid into the ledger) and opens p. */
static void set_phase(site_rt *s, sw_phase p)
{
    sim_run *r = s->run;
    double now = simgrid_get_clock();
    double e = sg_host_get_consumed_energy(s->host);
    if (s->ph != SW_PHASE_OFF && now > s->ph_t0_s) {
        double power_w = (e - s->ph_energy0_j) / (now - s->ph_t0_s);
        sw_error err;
        if (sw_ledger_add(r->ledger, s->ledger_site, sw_phase_ledger_state(s->ph), s->ph_t0_s, now,
                          power_w, &err) != SW_OK)
            fail(r, err.code, err.msg);
    }
    if (s->ph == SW_PHASE_TRAINING)
        s->training_s += now - s->ph_t0_s;
    if (p != s->ph || now == 0)
        sw_report_site_power(r->rep, s->idx, now, sw_phase_power_w(s->sc, p));
    s->ph = p;
    s->ph_t0_s = now;
    s->ph_energy0_j = e;
}

/* ---- events to the coordinator ---- */

static void post_event(sim_run *r, sw_event_kind kind, int site, int64_t round, uint64_t tokens)
{
    sg_mutex_lock(r->mtx);
    if (r->q_len == QUEUE_MAX) {
        fail(r, SW_ERUNTIME, "sim: event queue overflow");
    } else {
        sw_event *ev = &r->queue[(r->q_head + r->q_len++) % QUEUE_MAX];
        *ev = (sw_event){.kind = kind, .site = site, .round = round, .tokens = tokens};
    }
    sg_cond_notify_one(r->cond);
    sg_mutex_unlock(r->mtx);
}

/* ---- the site actor ---- */

static void train_row(site_rt *s)
{
    sim_run *r = s->run;
    double loss = sw_convergence_local_loss(&r->conv, (double)s->round_tokens);
    sw_report_train_row row = {.t_s = simgrid_get_clock(),
                               .step = s->steps_total,
                               .tokens = (int64_t)s->tokens_total,
                               .loss = loss,
                               .ppl = exp(loss)};
    sw_report_site_train(r->rep, s->idx, &row);
}

/* One round at this site: download, start-up, train until stopped/deadline/budget, return. */
static void site_round(site_rt *s)
{
    sim_run *r = s->run;
    const sw_scenario *sc = r->sc;
    s->round_tokens = 0;
    set_phase(s, SW_PHASE_SYNCING);
    sg_host_sendto(r->coord, s->host, r->model_bytes);
    sg_actor_sleep_for(sc->rounds.startup_s);
    s->train_start_s = simgrid_get_clock();
    uint64_t batch = sc->model.batch_tokens;
    while (!s->stop && r->status == SW_OK) {
        double now = simgrid_get_clock();
        double until = fmin(now + sc->model.log_interval_s, s->deadline_s);
        /* 1e-6 of a step absorbs the nanoseconds that tiny transfers add to the clock. */
        double steps = floor((until - now) / s->step_s + 1e-6);
        if (steps < 1 && isfinite(s->deadline_s) && s->deadline_s - now < s->step_s)
            break; /* no whole step fits before the deadline */
        if (steps < 1)
            steps = 1;
        uint64_t claimable = r->round_budget / batch + (r->round_budget % batch ? 1 : 0);
        if (claimable == 0)
            break; /* the data is used up */
        if (steps > (double)claimable)
            steps = (double)claimable;
        uint64_t tokens = (uint64_t)steps * batch;
        if (tokens > r->round_budget)
            tokens = r->round_budget;
        r->round_budget -= tokens;
        if (s->ph != SW_PHASE_TRAINING)
            set_phase(s, SW_PHASE_TRAINING);
        sg_exec_t e = sg_actor_exec_init(steps * s->step_flops);
        sg_exec_start(e);
        sg_exec_wait(e);
        s->steps_total += (int64_t)steps;
        s->tokens_total += tokens;
        s->round_tokens += tokens;
        train_row(s);
    }
    s->train_stop_s = simgrid_get_clock();
    set_phase(s, s->releasing ? SW_PHASE_DRAINING : SW_PHASE_SYNCING);
    sg_actor_sleep_for(s->releasing ? s->sc->drain_s : sc->rounds.return_s);
    sg_host_sendto(s->host, r->coord, r->model_bytes);
    set_phase(s, SW_PHASE_IDLE);
    post_event(r, SW_EV_WORK_REPORTED, s->idx, s->round, s->round_tokens);
}

static void site_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    site_rt *s = sg_actor_self_get_data();
    sim_run *r = s->run;
    sg_actor_sleep_for(s->sc->provision_s);
    set_phase(s, SW_PHASE_IDLE);
    post_event(r, SW_EV_SITE_READY, s->idx, -1, 0);
    sg_mutex_lock(r->mtx);
    for (;;) {
        while (s->cmd == CMD_NONE)
            sg_cond_wait(s->cond, r->mtx);
        site_cmd c = s->cmd;
        s->cmd = CMD_NONE;
        if (c == CMD_RELEASE)
            break;
        sg_mutex_unlock(r->mtx);
        site_round(s);
        sg_mutex_lock(r->mtx);
    }
    s->alive = false;
    sg_mutex_unlock(r->mtx);
}

static void site_command(site_rt *s, site_cmd c)
{
    sim_run *r = s->run;
    sg_mutex_lock(r->mtx);
    s->cmd = c;
    sg_cond_notify_all(s->cond);
    sg_mutex_unlock(r->mtx);
}

/* ---- the coordinator: engine actions ---- */

static void event_row(sim_run *r, sw_report_event_kind kind, int site, int64_t round, double value,
                      const char *detail)
{
    sw_report_event_row row = {
        .t_s = simgrid_get_clock(), .kind = kind, .site = site, .round = round, .value = value};
    if (detail)
        strncpy(row.detail, detail, sizeof row.detail - 1);
    sw_report_event(r->rep, &row);
}

/* Engine records -> /events and /sites/<s>/states, at the times the engine decided them. */
static void write_records(sim_run *r)
{
    size_t n = sw_engine_record_count(r->engine);
    for (; r->records_seen < n; r->records_seen++) {
        const sw_engine_record *rec = sw_engine_record_at(r->engine, r->records_seen);
        if (rec->kind == SW_REC_STATE) {
            sw_report_site_state(r->rep, rec->site, rec->t_s,
                                 sw_engine_report_state((sw_site_state)rec->to_state));
            continue;
        }
        sw_report_event_row row =
            sw_engine_record_event_row(rec, r->sc->policy.threshold_g_per_kwh);
        sw_report_event(r->rep, &row);
    }
}

static void do_aggregate(sim_run *r, const sw_action *a)
{
    double tokens[SW_REPORT_MAX_SITES];
    double max_steps = 0, train_start = r->round_start_s, train_stop = simgrid_get_clock();
    sw_report_round_row row = {.round = a->round,
                               .t_start_s = r->round_start_s,
                               .n_sites = (int32_t)a->n_sites,
                               .tokens = (int64_t)a->tokens_total};
    for (size_t i = 0; i < a->n_sites; i++) {
        site_rt *s = &r->sites[a->sites[i]];
        tokens[i] = (double)a->tokens[i];
        max_steps = fmax(max_steps, tokens[i] / (double)r->sc->model.batch_tokens);
        sw_report_mask_set(row.sites, a->sites[i]);
        train_start = fmax(train_start, s->train_start_s);
        train_stop = fmin(train_stop, s->train_stop_s);
    }
    if (a->n_sites > 1)
        sg_actor_sleep_for(r->sc->rounds.aggregate_s);
    sw_convergence_point pt;
    sw_error err;
    if (sw_convergence_round(&r->conv, tokens, a->n_sites, max_steps, &pt, &err) != SW_OK) {
        fail(r, err.code, err.msg);
        return;
    }
    double now = simgrid_get_clock();
    row.t_end_s = now;
    row.sync_bytes = (int64_t)(2 * r->model_bytes * (double)a->n_sites);
    row.sync_s = a->n_sites ? (train_start - r->round_start_s) + (now - train_stop) : 0;
    row.loss = pt.loss_nats;
    row.ppl = pt.ppl;
    sw_report_round(r->rep, &row);
    sw_report_global_row g = {.t_s = now,
                              .tokens = (int64_t)sw_engine_tokens(r->engine),
                              .loss = pt.loss_nats,
                              .ppl = pt.ppl};
    sw_report_global(r->rep, &g);
    r->rounds_done++;
    r->sync_bytes_total += row.sync_bytes;
    r->last_loss = pt.loss_nats;
    if (!(pt.ppl >= r->best_ppl))
        r->best_ppl = fmin(r->best_ppl, pt.ppl);
    /* Flushing rewrites (and recompresses) the open chunk of every table: per round it was
     * 80% of a 100-site run. A simulation is cheap to repeat, so flush every few host seconds:
     * a crash loses at most that much work. */
    struct timespec now_w;
    clock_gettime(CLOCK_MONOTONIC, &now_w);
    double wall_s = (double)now_w.tv_sec + 1e-9 * (double)now_w.tv_nsec;
    if (wall_s - r->last_flush_wall_s >= 5.0) {
        r->last_flush_wall_s = wall_s;
        sw_report_flush(r->rep, NULL);
    }
}

static void apply(sim_run *r, const sw_action *a)
{
    switch (a->kind) {
    case SW_ACT_PROVISION_SITE: {
        site_rt *s = &r->sites[a->site];
        sg_host_turn_on(s->host);
        s->ph = SW_PHASE_OFF;
        set_phase(s, SW_PHASE_PROVISIONING);
        s->alive = true;
        s->cmd = CMD_NONE;
        s->actor = sg_actor_init(s->sc->name, s->host);
        sg_actor_set_data(s->actor, s);
        sg_actor_start_(s->actor, site_actor, 0, NULL);
        break;
    }
    case SW_ACT_RELEASE_SITE: {
        site_rt *s = &r->sites[a->site];
        if (s->ph == SW_PHASE_PROVISIONING) {
            /* Released before it was ready (the run ended): it must not report ready later. */
            sg_actor_kill(s->actor);
            s->alive = false;
        } else {
            site_command(s, CMD_RELEASE);
            sg_actor_join(s->actor, -1);
        }
        set_phase(s, SW_PHASE_OFF);
        sg_host_turn_off(s->host);
        event_row(r, SW_REPORT_EV_RELEASE, a->site, -1, NAN, "released");
        break;
    }
    case SW_ACT_START_ROUND:
        r->round_start_s = simgrid_get_clock();
        r->round_budget = a->tokens_left;
        for (size_t i = 0; i < a->n_sites; i++) {
            site_rt *s = &r->sites[a->sites[i]];
            s->round = a->round;
            s->deadline_s = a->deadline_s;
            s->stop = false;
            s->releasing = false;
            s->train_start_s = s->train_stop_s = r->round_start_s;
            site_command(s, CMD_START);
        }
        break;
    case SW_ACT_STOP_SITE:
        r->sites[a->site].stop = true;
        r->sites[a->site].releasing = true;
        event_row(r, SW_REPORT_EV_STOP, a->site, a->round, NAN, "graceful stop");
        break;
    case SW_ACT_END_ROUND:
        for (size_t i = 0; i < a->n_sites; i++)
            r->sites[a->sites[i]].stop = true;
        break;
    case SW_ACT_AGGREGATE:
        do_aggregate(r, a);
        break;
    }
}

/* Alarms wake the coordinator at the engine's wake time. Creating an actor per wake time cost
 * a fifth of a 100-site year (an 8 MiB stack each), so one daemon actor is reused: it sleeps
 * until the time it was armed with, rings, and waits to be armed again. Only when the engine
 * needs a time earlier than the one it already sleeps towards is a one-shot alarm created.
 * A ring that comes early (the wake time moved later meanwhile) only makes the coordinator
 * step the engine once more, which changes nothing. */
static void ring(sim_run *r)
{
    r->alarm_rang = true;
    sg_cond_notify_all(r->cond);
}

static void alarm_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sim_run *r = sg_actor_self_get_data();
    sg_mutex_lock(r->mtx);
    for (;;) {
        while (!r->alarm_armed && !r->alarm_quit)
            sg_cond_wait(r->alarm_cond, r->mtx);
        if (r->alarm_quit)
            break;
        r->alarm_armed = false;
        r->alarm_sleep_s = r->alarm_s;
        sg_mutex_unlock(r->mtx);
        sg_actor_sleep_until(r->alarm_sleep_s);
        sg_mutex_lock(r->mtx);
        r->alarm_sleep_s = NAN;
        ring(r);
    }
    sg_mutex_unlock(r->mtx);
}

static void oneshot_alarm_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sim_run *r = sg_actor_self_get_data();
    sg_actor_sleep_until(r->oneshot_s);
    sg_mutex_lock(r->mtx);
    ring(r);
    sg_mutex_unlock(r->mtx);
}

static sg_actor_t start_alarm(sim_run *r, const char *name, xbt_main_func_t fn)
{
    sg_actor_t a = sg_actor_init(name, r->coord);
    sg_actor_set_data(a, r);
    sg_actor_start_(a, fn, 0, NULL);
    return a;
}

/* Ends the reusable alarm (a one-shot one still sleeping rings into nothing and ends). */
static void stop_alarm(sim_run *r)
{
    sg_mutex_lock(r->mtx);
    r->alarm_quit = true;
    sg_cond_notify_all(r->alarm_cond);
    sg_mutex_unlock(r->mtx);
}

/* Makes sure the coordinator is woken at wake_s at the latest (nothing if infinite). */
static void set_alarm(sim_run *r, double wake_s)
{
    if (!isfinite(wake_s) || wake_s <= simgrid_get_clock())
        return;
    sg_mutex_lock(r->mtx);
    if (!r->alarm) {
        r->alarm = start_alarm(r, "alarm", alarm_actor);
        r->alarm_sleep_s = NAN;
    }
    if (isnan(r->alarm_sleep_s)) { /* idle: arm it */
        r->alarm_s = wake_s;
        r->alarm_armed = true;
        sg_cond_notify_all(r->alarm_cond);
    } else if (r->alarm_sleep_s > wake_s) { /* it would ring too late */
        r->oneshot_s = wake_s;
        start_alarm(r, "alarm-early", oneshot_alarm_actor);
    }
    sg_mutex_unlock(r->mtx);
}

static void coordinator(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sim_run *r = sg_actor_self_get_data();
    sw_action acts[256];
    sw_event evs[QUEUE_MAX];
    size_t n_evs = 0;
    for (;;) {
        double now = simgrid_get_clock(), wake_s;
        /* Every event that arrived at this instant goes in one step, so that sites ready
         * together start the same round. */
        size_t n = sw_engine_step_n(r->engine, now, evs, n_evs, acts, 256, &wake_s);
        const sw_error *e = sw_engine_error(r->engine);
        if (e->code != SW_OK) {
            char msg[1200];
            snprintf(msg, sizeof msg, "sim: engine rejected an event: %s", e->msg);
            fail(r, SW_ERUNTIME, msg);
        }
        write_records(r); /* decided at `now`, before carrying out takes simulated time */
        for (size_t i = 0; i < n && r->status == SW_OK; i++)
            apply(r, &acts[i]);
        if (r->status != SW_OK || sw_engine_done(r->engine))
            break;
        if (r->opt->progress && now - r->last_progress_s >= 600) {
            r->last_progress_s = now;
            r->opt->progress(now, r->end_s, r->opt->progress_ud);
        }
        /* Wait for site events, or until the engine wants to be woken. SimGrid 3.32's timed
         * condition wait does not give the mutex back on timeout, so the timeout is an alarm
         * actor that signals the same condition. */
        set_alarm(r, wake_s);
        sg_mutex_lock(r->mtx);
        while (r->q_len == 0 && !r->alarm_rang && wake_s > simgrid_get_clock())
            sg_cond_wait(r->cond, r->mtx);
        r->alarm_rang = false;
        for (n_evs = 0; r->q_len > 0; n_evs++) {
            evs[n_evs] = r->queue[r->q_head];
            r->q_head = (r->q_head + 1) % QUEUE_MAX;
            r->q_len--;
        }
        sg_mutex_unlock(r->mtx);
    }
    /* Whatever the engine left running (only on error) is stopped and closed here. */
    for (size_t i = 0; i < r->n_sites; i++) {
        site_rt *s = &r->sites[i];
        if (s->ph != SW_PHASE_OFF)
            set_phase(s, SW_PHASE_OFF);
        if (s->alive)
            sg_actor_kill(s->actor);
    }
    r->finished_s = simgrid_get_clock(); /* carrying out the last actions may take time */
    stop_alarm(r);
    if (r->opt->progress)
        r->opt->progress(r->end_s, r->end_s, r->opt->progress_ud);
}

/* ---- set-up and summary ---- */

/* GPUs x peak of a site relative to the reference site of 4 A100s the step time is given for. */
static double site_speedup(const sw_scenario_site *s)
{
    return (double)s->gpus * sw_gpu_peak_flops(s->gpu) / (4.0 * sw_gpu_peak_flops("a100"));
}

static int setup(sim_run *r, sw_error *err)
{
    const sw_scenario *sc = r->sc;
    sw_trace_options topt = {
        .unit = sc->trace.unit, .max_gap_s = sc->trace.max_gap_s, .fill_gaps = sc->trace.fill_gaps};
    int rc = sw_trace_load(sc->trace.file, &topt, &r->trace, err);
    if (rc == SW_OK) /* trace.derive: the derived regions replace the file's */
        rc = sw_scenario_apply_derive(sc, &r->trace, err);
    if (rc != SW_OK)
        return rc;
    r->n_sites = sc->n_sites;
    if (r->n_sites > SW_REPORT_MAX_SITES)
        return sw_errorf(err, SW_EINPUT, "%s: sites: at most %d sites, got %zu", sc->name,
                         SW_REPORT_MAX_SITES, r->n_sites);
    r->sites = calloc(r->n_sites, sizeof *r->sites);
    sw_engine_site *es = calloc(r->n_sites, sizeof *es);
    sw_platform_site *ps = calloc(r->n_sites, sizeof *ps);
    if (!r->sites || !es || !ps) {
        free(es);
        free(ps);
        return sw_errorf(err, SW_ERUNTIME, "sim: out of memory");
    }

    /* The run's span (by default: when every region used has a signal), checked in core. */
    double end_unix_s;
    rc = sw_scenario_run_span(sc, r->trace, &r->start_unix_s, &end_unix_s, err);
    if (rc != SW_OK) {
        free(es);
        free(ps);
        return rc;
    }
    for (size_t i = 0; i < r->n_sites; i++)
        r->sites[i].region = (size_t)sw_trace_region_index(r->trace, sc->sites[i].region);
    /* At the horizon the engine ends the running round; the sites then finish their chunk and
     * return their work, which must still fall inside the trace for the carbon integral. The
     * engine's horizon is therefore that much earlier than the end of the signal. */
    double finish_s = fmax(sc->rounds.return_s, 0); /* return, or a drain when released */
    for (size_t i = 0; i < r->n_sites; i++)
        finish_s = fmax(finish_s, sc->sites[i].drain_s);
    double transfer_s = 4.0 * sc->model.params / (sc->network.wan_gbps * 1e9 / 8) +
                        sc->network.wan_latency_ms * 1e-3;
    double wind_down_s =
        sc->model.log_interval_s + finish_s + transfer_s + sc->rounds.aggregate_s + 1.0;
    r->end_s = end_unix_s - r->start_unix_s - wind_down_s;
    if (!(r->end_s > 0)) {
        free(es);
        free(ps);
        return sw_errorf(err, SW_EINPUT, "%s: trace.end: the run must end after it starts",
                         sc->name);
    }

    double flops_per_token = 6.0 * sc->model.params;
    double ref_step_flops = flops_per_token * (double)sc->model.batch_tokens;
    double ref_speed = ref_step_flops / sc->model.step_s; /* FLOP/s of the reference site */
    r->model_bytes = 4.0 * sc->model.params;              /* fp32 weights */
    for (size_t i = 0; i < r->n_sites; i++) {
        site_rt *s = &r->sites[i];
        s->run = r;
        s->idx = (int)i;
        s->sc = &sc->sites[i];
        s->step_flops = ref_step_flops;
        s->step_s = sc->model.step_s / site_speedup(s->sc);
        es[i] = (sw_engine_site){
            .name = s->sc->name, .region = s->region, .provision_s = s->sc->provision_s};
        ps[i] = (sw_platform_site){.name = s->sc->name,
                                   .n_hosts = 1,
                                   .cores_per_host = 1,
                                   .speed_flops = ref_speed * site_speedup(s->sc),
                                   .off_w = s->sc->power_w.off,
                                   .idle_w = s->sc->power_w.idle,
                                   .train_w = fmax(s->sc->power_w.train, s->sc->power_w.idle),
                                   .wan_bw_Bps = sc->network.wan_gbps * 1e9 / 8,
                                   .wan_latency_s = sc->network.wan_latency_ms * 1e-3,
                                   .lan_bw_Bps = sc->network.lan_gbps * 1e9 / 8,
                                   .lan_latency_s = sc->network.lan_latency_us * 1e-6};
    }

    sw_engine_config ec = {
        .start_unix_s = r->start_unix_s,
        .end_s = r->end_s,
        .trace = r->trace,
        .sites = es,
        .n_sites = r->n_sites,
        .policy = {.kind = sc->policy.kind,
                   .threshold_g_per_kwh = sc->policy.threshold_g_per_kwh,
                   .hysteresis_s = sc->policy.deprovision_after_s,
                   .poll_s = sc->policy.poll_s},
        .rounds = {.min_duration_s = sc->rounds.min_duration_s},
        .tokens_target = (uint64_t)sc->model.tokens,
    };
    rc = sw_engine_create(&ec, &r->engine, err);
    free(es);
    if (rc == SW_OK)
        rc = sw_ledger_create(r->start_unix_s, sc->policy.threshold_g_per_kwh, &r->ledger, err);
    for (size_t i = 0; rc == SW_OK && i < r->n_sites; i++) {
        sw_ledger_site_config lc = {.name = sc->sites[i].name,
                                    .marginal = r->trace,
                                    .marginal_region = r->sites[i].region,
                                    .pue = sc->sites[i].pue,
                                    .gpus = (unsigned)sc->sites[i].gpus};
        rc = sw_ledger_add_site(r->ledger, &lc, &r->sites[i].ledger_site, err);
    }
    sw_platform_spec spec = {.sites = ps,
                             .n_sites = r->n_sites,
                             .coord_speed_flops = 1e12,
                             .mesh_bw_Bps = sc->network.wan_gbps * 1e9 / 8,
                             .mesh_latency_s = sc->network.wan_latency_ms * 1e-3};
    if (rc == SW_OK)
        rc = sw_platform_validate(&spec, err);
    if (rc == SW_OK)
        rc = sw_sim_init(NULL, NULL, r->opt->quiet, err);
    if (rc == SW_OK)
        rc = sw_sim_load_spec(&spec, r->opt->platform_xml, err);
    free(ps);
    if (rc != SW_OK)
        return rc;

    sw_convergence_params cp;
    sw_scenario_convergence_params(sc, &cp);
    if ((rc = sw_convergence_params_check(&cp, err)) != SW_OK)
        return rc;
    sw_convergence_init(&r->conv, &cp);
    r->best_ppl = INFINITY;
    r->last_loss = sw_convergence_global_loss(&r->conv);

    sw_report_meta meta = {.mode = SW_REPORT_SIM,
                           .scenario_name = sc->name,
                           .scenario_yaml = sc->resolved_yaml,
                           .seed = sc->seed,
                           .created_utc = r->opt->created_utc,
                           .loss_kind = SW_REPORT_LOSS_MODELLED,
                           .t0_unix_s = r->start_unix_s};
    if ((rc = sw_report_create(r->opt->out_path, &meta, &r->rep, err)) != SW_OK)
        return rc;
    for (size_t i = 0; i < r->n_sites; i++) {
        site_rt *s = &r->sites[i];
        sw_report_add_site(r->rep, s->sc->name, s->sc->region, s->sc->gpus);
        s->host = sg_host_by_name(s->sc->name);
        if (!s->host) {
            char hn[SW_PLATFORM_NAME_MAX + 8];
            sw_platform_host_name(s->sc->name, 0, hn, sizeof hn);
            s->host = sg_host_by_name(hn);
        }
        s->cond = sg_cond_init();
        s->ph = SW_PHASE_OFF;
        sw_report_site_state(r->rep, (int)i, 0, SW_REPORT_STATE_OFF);
        sw_report_site_power(r->rep, (int)i, 0, s->sc->power_w.off);
        sg_host_turn_off(s->host);
    }
    r->coord = sg_host_by_name(SW_PLATFORM_COORD_HOST);
    r->mtx = sg_mutex_init();
    r->cond = sg_cond_init();
    r->alarm_cond = sg_cond_init();
    return sw_report_error(r->rep) ? sw_errorf(err, SW_ERUNTIME, "%s", sw_report_error(r->rep))
                                   : SW_OK;
}

/* The signal of each region in use, as run-time step series over [0, end_s). */
static void write_signals(sim_run *r, double end_s)
{
    for (size_t reg = 0; reg < sw_trace_region_count(r->trace); reg++) {
        bool used = false;
        for (size_t i = 0; i < r->n_sites; i++)
            used |= r->sites[i].region == reg;
        if (!used)
            continue;
        sw_report_add_trace_signal(r->rep, r->trace, reg, r->start_unix_s, end_s);
    }
}

static int finish(sim_run *r, sw_sim_result *res, sw_error *err)
{
    double runtime_s = fmax(sw_engine_now(r->engine), r->finished_s);
    double final_loss = sw_convergence_global_loss(&r->conv);
    write_signals(r, runtime_s);
    sw_report_summary sum = {
        .runtime_h = runtime_s / 3600.0,
        .final_loss = final_loss,
        .final_ppl = exp(final_loss),
        .best_ppl = isfinite(r->best_ppl) ? r->best_ppl : exp(final_loss),
        .tokens = (int64_t)sw_engine_tokens(r->engine),
        .rounds = r->rounds_done,
        .sync_bytes = r->sync_bytes_total,
        .extras = r->opt->extras,
        .n_extras = r->opt->n_extras,
    };
    int rc = sw_ledger_report_summary(r->ledger, &sum, err);
    if (rc != SW_OK)
        return rc;
    sw_report_set_summary(r->rep, &sum);
    for (size_t i = 0; i < r->n_sites; i++) {
        site_rt *s = &r->sites[i];
        sw_report_site_summary ss = {.training_h = s->training_s / 3600.0,
                                     .tokens = (int64_t)s->tokens_total};
        if ((rc = sw_ledger_report_site_summary(r->ledger, s->ledger_site, &ss, err)) != SW_OK)
            return rc;
        sw_report_set_site_summary(r->rep, (int)i, &ss);
    }
    if (res) {
        *res = (sw_sim_result){.runtime_h = sum.runtime_h,
                               .energy_kwh = sum.energy_kwh,
                               .carbon_kg = sum.carbon_kg,
                               .curtailed_energy_fraction = sum.curtailed_energy_fraction,
                               .gpu_hours = sum.gpu_hours,
                               .final_ppl = sum.final_ppl,
                               .best_ppl = sum.best_ppl,
                               .tokens = (double)sum.tokens,
                               .rounds = (long)sum.rounds};
    }
    rc = sw_report_close(r->rep, err);
    r->rep = NULL;
    return rc;
}

int sw_sim_run(const sw_scenario *sc, const sw_sim_options *opt, sw_sim_result *result,
               sw_error *err)
{
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    sim_run *r = calloc(1, sizeof *r);
    if (!r)
        return sw_errorf(err, SW_ERUNTIME, "sim: out of memory");
    r->sc = sc;
    r->opt = opt;
    int rc = setup(r, err);
    if (rc == SW_OK) {
        sg_actor_t c = sg_actor_init("coordinator", r->coord);
        sg_actor_set_data(c, r);
        sg_actor_start_(c, coordinator, 0, NULL);
        simgrid_run();
        if (r->status != SW_OK) {
            *err = r->err;
            rc = r->status;
        } else {
            rc = finish(r, result, err);
        }
    }
    if (r->rep)
        sw_report_abort(r->rep);
    clock_gettime(CLOCK_MONOTONIC, &w1);
    if (result && rc == SW_OK)
        result->wall_s = (double)(w1.tv_sec - w0.tv_sec) + 1e-9 * (double)(w1.tv_nsec - w0.tv_nsec);
    for (size_t i = 0; r->sites && i < r->n_sites; i++)
        if (r->sites[i].cond)
            sg_cond_destroy(r->sites[i].cond);
    if (r->cond)
        sg_cond_destroy(r->cond);
    if (r->alarm_cond)
        sg_cond_destroy(r->alarm_cond);
    if (r->mtx)
        sg_mutex_destroy(r->mtx);
    sw_engine_destroy(r->engine);
    sw_ledger_destroy(r->ledger);
    sw_trace_destroy(r->trace);
    free(r->sites);
    free(r);
    return rc;
}
