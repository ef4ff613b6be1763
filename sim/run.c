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

#include "core/run.h"
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
    double step_s;       /* s per optimizer step at this site */
    double step_flops;   /* flops per optimizer step */
    double ph_energy0_j; /* the host's energy when its current phase began */

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
} site_rt;

#define QUEUE_MAX 4096

typedef struct sim_run {
    const sw_scenario *sc;
    const sw_sim_options *opt;
    sw_run *run; /* the session: engine, ledger, report, figures */
    site_rt *sites;
    size_t n_sites;
    sg_host_t coord;
    sg_mutex_t mtx;
    sg_cond_t cond;
    sw_event queue[QUEUE_MAX];
    size_t q_head, q_len;

    double end_s;
    double model_bytes;
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
    if (r->run)
        sw_run_fail(r->run, SW_ERUNTIME, "%s", what);
    return code;
}

/* ---- phases, power and the ledger ---- */

/* Closes the current phase interval (the joules SimGrid charged since it began go to the
 * ledger as its power) and opens p. */
static void set_phase(site_rt *s, sw_phase p)
{
    sim_run *r = s->run;
    double now = simgrid_get_clock();
    double e = sg_host_get_consumed_energy(s->host);
    double t0 = sw_run_site_phase_since(r->run, (size_t)s->idx);
    double power_w = now > t0 ? (e - s->ph_energy0_j) / (now - t0) : NAN;
    sw_run_phase(r->run, (size_t)s->idx, p, now, power_w);
    s->ph_energy0_j = e;
}

static sw_phase phase_of(const site_rt *s)
{
    return sw_run_site_phase(s->run->run, (size_t)s->idx);
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
    sw_run_train(s->run->run, (size_t)s->idx, simgrid_get_clock(), s->steps_total,
                 (int64_t)s->tokens_total, NAN, s->round_tokens);
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
    while (!s->stop && r->status == SW_OK) {
        double now = simgrid_get_clock();
        double until = fmin(now + sc->model.log_interval_s, s->deadline_s);
        /* 1e-6 of a step absorbs the nanoseconds that tiny transfers add to the clock. */
        double steps = floor((until - now) / s->step_s + 1e-6);
        if (steps < 1 && isfinite(s->deadline_s) && s->deadline_s - now < s->step_s)
            break; /* no whole step fits before the deadline */
        if (steps < 1)
            steps = 1;
        uint64_t tokens = sw_run_claim_steps(r->run, steps, &steps);
        if (tokens == 0)
            break; /* the data is used up */
        if (phase_of(s) != SW_PHASE_TRAINING)
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

static void do_aggregate(sim_run *r, const sw_action *a)
{
    double round_start_s = NAN, train_start = -INFINITY, train_stop = simgrid_get_clock();
    for (size_t i = 0; i < a->n_sites; i++) {
        site_rt *s = &r->sites[a->sites[i]];
        train_start = fmax(train_start, s->train_start_s);
        train_stop = fmin(train_stop, s->train_stop_s);
    }
    if (a->n_sites > 1)
        sg_actor_sleep_for(r->sc->rounds.aggregate_s);
    double loss, now = simgrid_get_clock();
    sw_error err;
    if (sw_run_modelled_round(r->run, a, &loss, &err) != SW_OK) {
        fail(r, err.code, err.msg);
        return;
    }
    sw_run_round rr = sw_run_round_of(r->run, a, now, 0);
    round_start_s = rr.row.t_start_s;
    rr.row.sync_s = a->n_sites ? (train_start - round_start_s) + (now - train_stop) : 0;
    sw_run_round_done(r->run, &rr, loss);
    /* Flushing rewrites (and recompresses) the open chunk of every table: per round it was
     * 80% of a 100-site run. A simulation is cheap to repeat, so flush every few host seconds:
     * a crash loses at most that much work. */
    struct timespec now_w;
    clock_gettime(CLOCK_MONOTONIC, &now_w);
    double wall_s = (double)now_w.tv_sec + 1e-9 * (double)now_w.tv_nsec;
    if (wall_s - r->last_flush_wall_s >= 5.0) {
        r->last_flush_wall_s = wall_s;
        sw_run_flush(r->run);
    }
}

static void apply(sim_run *r, const sw_action *a)
{
    switch (a->kind) {
    case SW_ACT_PROVISION_SITE: {
        site_rt *s = &r->sites[a->site];
        sg_host_turn_on(s->host);
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
        if (!s->alive) {
            /* it failed: its actor is gone already */
        } else if (phase_of(s) == SW_PHASE_PROVISIONING) {
            /* Released before it was ready (the run ended): it must not report ready later. */
            sg_actor_kill(s->actor);
            s->alive = false;
        } else {
            site_command(s, CMD_RELEASE);
            sg_actor_join(s->actor, -1);
        }
        set_phase(s, SW_PHASE_OFF);
        sg_host_turn_off(s->host);
        break;
    }
    case SW_ACT_START_ROUND:
        for (size_t i = 0; i < a->n_sites; i++) {
            site_rt *s = &r->sites[a->sites[i]];
            s->round = a->round;
            s->deadline_s = a->deadline_s;
            s->stop = false;
            s->releasing = false;
            s->train_start_s = s->train_stop_s = simgrid_get_clock();
            site_command(s, CMD_START);
        }
        break;
    case SW_ACT_STOP_SITE:
        r->sites[a->site].stop = true;
        r->sites[a->site].releasing = true;
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

/* ---- injected failures ---- */

/* Delivers the run's failure schedule (core/run.h) as SITE_FAILED events at their times. A
 * daemon: it ends with the coordinator. */
static void failure_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sim_run *r = sg_actor_self_get_data();
    sg_actor_daemonize(sg_actor_self());
    for (size_t i = 0; i < sw_run_failure_count(r->run); i++) {
        const sw_run_failure *f = sw_run_failure_at(r->run, i);
        sg_actor_sleep_until(f->t_s);
        post_event(r, SW_EV_SITE_FAILED, (int)f->site, -1, 0);
    }
}

/* A failure takes the site down at once, as a crash would: its actor (and the work it had
 * not returned) is gone, its host off. One that finds the site off is dropped. Returns whether
 * the event goes to the engine. */
static bool carry_out_failure(sim_run *r, sw_event *ev)
{
    sw_site_state st = sw_engine_site_state(sw_run_engine(r->run), (size_t)ev->site);
    if (st == SW_SITE_OFF || st == SW_SITE_FAILED)
        return false;
    site_rt *s = &r->sites[ev->site];
    if (s->alive)
        sg_actor_kill(s->actor);
    s->alive = false;
    set_phase(s, SW_PHASE_OFF);
    sg_host_turn_off(s->host);
    ev->detail = "injected failure";
    sw_run_event(r->run, simgrid_get_clock(), SW_REPORT_EV_FAIL, ev->site, -1, NAN,
                 "injected failure");
    return true;
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
        size_t n = sw_run_step(r->run, now, evs, n_evs, acts, 256, &wake_s);
        const sw_error *e = sw_engine_error(sw_run_engine(r->run));
        if (e->code != SW_OK) {
            char msg[1200];
            snprintf(msg, sizeof msg, "sim: engine rejected an event: %s", e->msg);
            fail(r, SW_ERUNTIME, msg);
        }
        for (size_t i = 0; i < n && r->status == SW_OK; i++)
            apply(r, &acts[i]);
        if (r->status != SW_OK || sw_run_failed(r->run) || sw_engine_done(sw_run_engine(r->run)))
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
        for (n_evs = 0; r->q_len > 0;) {
            evs[n_evs] = r->queue[r->q_head];
            r->q_head = (r->q_head + 1) % QUEUE_MAX;
            r->q_len--;
            if (evs[n_evs].kind != SW_EV_SITE_FAILED || carry_out_failure(r, &evs[n_evs]))
                n_evs++;
        }
        sg_mutex_unlock(r->mtx);
    }
    /* Whatever the engine left running (only on error) is stopped and closed here. */
    for (size_t i = 0; i < r->n_sites; i++) {
        site_rt *s = &r->sites[i];
        if (phase_of(s) != SW_PHASE_OFF)
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

static int setup(sim_run *r, sw_error *err)
{
    const sw_scenario *sc = r->sc;
    r->n_sites = sc->n_sites;
    r->model_bytes = 4.0 * sc->model.params; /* fp32 weights */
    sw_run_config rc_cfg = {.mode = SW_REPORT_SIM,
                            .out_path = r->opt->out_path,
                            .created_utc = r->opt->created_utc,
                            .model_bytes = r->model_bytes,
                            .tokens_target = r->opt->tokens_target};
    int rc = sw_run_create(sc, &rc_cfg, &r->run, err);
    if (rc != SW_OK)
        return rc;
    r->end_s = sw_run_end_s(r->run);
    r->sites = calloc(r->n_sites, sizeof *r->sites);
    sw_platform_site *ps = calloc(r->n_sites, sizeof *ps);
    if (!r->sites || !ps) {
        free(ps);
        return sw_errorf(err, SW_ERUNTIME, "sim: out of memory");
    }
    double ref_step_flops = 6.0 * sc->model.params * (double)sc->model.batch_tokens;
    for (size_t i = 0; i < r->n_sites; i++) {
        site_rt *s = &r->sites[i];
        s->run = r;
        s->idx = (int)i;
        s->sc = &sc->sites[i];
        s->step_flops = ref_step_flops;
        s->step_s = sw_run_site_step_s(r->run, i);
        ps[i] = (sw_platform_site){.name = s->sc->name,
                                   .n_hosts = 1,
                                   .cores_per_host = 1,
                                   .speed_flops = ref_step_flops / s->step_s,
                                   .off_w = s->sc->power_w.off,
                                   .idle_w = s->sc->power_w.idle,
                                   .train_w = s->sc->power_w.train,
                                   .wan_bw_Bps = sc->network.wan_gbps * 1e9 / 8,
                                   .wan_latency_s = sc->network.wan_latency_ms * 1e-3,
                                   .lan_bw_Bps = sc->network.lan_gbps * 1e9 / 8,
                                   .lan_latency_s = sc->network.lan_latency_us * 1e-6};
    }
    sw_platform_spec spec = {.sites = ps,
                             .n_sites = r->n_sites,
                             .coord_speed_flops = 1e12,
                             .mesh_bw_Bps = sc->network.wan_gbps * 1e9 / 8,
                             .mesh_latency_s = sc->network.wan_latency_ms * 1e-3};
    rc = sw_platform_validate(&spec, err);
    if (rc == SW_OK)
        rc = sw_sim_init(NULL, NULL, r->opt->quiet, err);
    if (rc == SW_OK)
        rc = sw_sim_load_spec(&spec, r->opt->platform_xml, err);
    free(ps);
    if (rc == SW_OK)
        rc = sw_run_start(r->run, NULL, err);
    if (rc != SW_OK)
        return rc;
    for (size_t i = 0; i < r->n_sites; i++) {
        site_rt *s = &r->sites[i];
        s->host = sg_host_by_name(s->sc->name);
        if (!s->host) {
            char hn[SW_PLATFORM_NAME_MAX + 8];
            sw_platform_host_name(s->sc->name, 0, hn, sizeof hn);
            s->host = sg_host_by_name(hn);
        }
        s->cond = sg_cond_init();
        sg_host_turn_off(s->host);
    }
    r->coord = sg_host_by_name(SW_PLATFORM_COORD_HOST);
    r->mtx = sg_mutex_init();
    r->cond = sg_cond_init();
    r->alarm_cond = sg_cond_init();
    return SW_OK;
}

/* Ends the run in the session: summary, report (marked incomplete after a failure). */
static int finish(sim_run *r, sw_sim_result *res, sw_error *err)
{
    double runtime_s = fmax(sw_engine_now(sw_run_engine(r->run)), r->finished_s);
    sw_report_summary sum;
    int rc = sw_run_close(r->run, runtime_s, r->opt->extras, r->opt->n_extras, &sum, err);
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
        if (sw_run_failure_count(r->run) > 0) {
            sg_actor_t f = sg_actor_init("failures", r->coord);
            sg_actor_set_data(f, r);
            sg_actor_start_(f, failure_actor, 0, NULL);
        }
        simgrid_run();
        rc = finish(r, result, err); /* after a failure: the report marked incomplete */
    }
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
    sw_run_destroy(r->run);
    free(r->sites);
    free(r);
    return rc;
}
