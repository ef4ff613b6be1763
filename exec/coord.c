/* coord.c - the coordinator (see coord.h): set-up, the loop, engine actions as messages and
 * processes, aggregation with the core routines, and the end of the run. Membership and
 * messages are coord_msg.c, validation coord_eval.c, checkpoints coord_ckpt.c, the socket and
 * keys coord_net.c (coord_int.h lists them).
 *
 * Power: no RAPL counters are readable on the machines this was built on, and RAPL measures a
 * whole package that several local sites share anyway; so a site's power is modelled from the
 * scenario's power_w per state (train while training, idle otherwise) and the report says so
 * (an event note at t = 0 and the summary figure power_measured = 0).
 */
#include "exec/coord_int.h"
#include "core/fsutil.h"
#include "exec/fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "core/aggregate.h"
#include "exec/crc32.h"
#include "kernels/backend.h"
#include "kernels/train.h"

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

double coord_mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double coord_real_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double coord_run_t(const coord *c)
{
    return c->t_base + (coord_mono_s() - c->mono0) * c->compression;
}

void coord_log(coord *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void coord_log(coord *c, const char *fmt, ...)
{
    if (!c->o->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(c->o->log, "spillway coordinator [t=%7.0f s]: ", c->mono0 > 0 ? coord_run_t(c) : 0.0);
    vfprintf(c->o->log, fmt, ap);
    fputc('\n', c->o->log);
    fflush(c->o->log);
    va_end(ap);
}

int coord_fail(coord *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int coord_fail(coord *c, int code, const char *fmt, ...)
{
    if (c->status == SW_OK) {
        va_list ap;
        va_start(ap, fmt);
        c->err.code = code;
        vsnprintf(c->err.msg, sizeof c->err.msg, fmt, ap);
        va_end(ap);
        c->status = code;
        if (c->run)
            sw_run_fail(c->run, SW_ERUNTIME, "%s", c->err.msg);
    }
    return code;
}

void sw_coord_options_default(sw_coord_options *o)
{
    *o = (sw_coord_options){.provisioner = -1,
                            .cmd_timeout_s = 120,
                            .heartbeat_timeout_s = 5,
                            .join_timeout_s = 30,
                            .data_path = "corpus/tinyshakespeare.txt",
                            .eval_batches = 4,
                            .lr = 3e-3f,
                            .chunk_bytes = 1u << 20,
                            .window_chunks = 8};
}

/* ---- phases ---- */

/* Site s enters phase p at run time now (the session books the one it leaves). */
void coord_set_phase_at(coord *c, csite *s, sw_phase p, double now)
{
    double m = coord_mono_s();
    s->wall_by_phase[sw_run_site_phase(c->run, (size_t)s->idx)] += m - s->ph_mono0;
    s->ph_mono0 = m;
    sw_run_phase(c->run, (size_t)s->idx, p, now, NAN);
}

void coord_set_phase(coord *c, csite *s, sw_phase p)
{
    coord_set_phase_at(c, s, p, coord_run_t(c));
}

sw_phase coord_phase_of(const coord *c, const csite *s)
{
    return sw_run_site_phase(c->run, (size_t)s->idx);
}

/* ---- engine events ---- */

void coord_push_event(coord *c, double t_s, sw_event_kind kind, int site, int64_t round,
                      uint64_t tokens, const char *detail)
{
    if (c->n_evq == EVQ_MAX) {
        coord_fail(c, SW_ERUNTIME, "coordinator: engine event queue overflow");
        return;
    }
    size_t k = c->n_evq++;
    c->evq[k] = (sw_event){.kind = kind, .site = site, .round = round, .tokens = tokens};
    c->evq_t[k] = t_s;
    if (detail) {
        sw_pathf(c->evq_detail[k], sizeof c->evq_detail[k], "%s", detail);
        c->evq[k].detail = c->evq_detail[k];
    }
}

/* ---- engine actions ---- */

static void do_aggregate(coord *c, const sw_action *a)
{
    coord_eval_collect(c, true); /* the model it validates is about to change */
    double now = coord_run_t(c);
    size_t k = a->n_sites;
    const float *x[SW_REPORT_MAX_SITES];
    double sync_wall = 0;
    for (size_t i = 0; i < k; i++) {
        csite *s = &c->sites[a->sites[i]];
        x[i] = s->upload;
        double dl = s->dl_mono1 > s->dl_mono0 ? s->dl_mono1 - s->dl_mono0 : 0;
        double ul = s->ul_mono1 > s->ul_mono0 ? s->ul_mono1 - s->ul_mono0 : 0;
        sync_wall = fmax(sync_wall, dl + ul);
    }
    sw_error e;
    if (k > 0) {
        int rc;
        if (c->sc->rounds.outer.kind == SW_OUTER_NESTEROV)
            rc = sw_fedavg_nesterov_range(c->global, c->momentum, x, a->weights, k,
                                          c->sc->rounds.outer.lr, c->sc->rounds.outer.momentum, 0,
                                          c->n_params, &e);
        else
            rc = sw_fedavg_range(c->global, x, a->weights, k, 0, c->n_params, &e);
        if (rc != SW_OK) {
            coord_fail(c, rc, "aggregate: %s", e.msg);
            return;
        }
        c->global_crc = sw_exec_crc32(0, c->global, c->n_params * sizeof(float));
    }
    c->eval_round = sw_run_round_of(c->run, a, now, sync_wall * c->compression);
    coord_checkpoint_capture(c);
    for (size_t i = 0; i < k; i++) {
        csite *s = &c->sites[a->sites[i]];
        s->member = s->have_work = s->have_upload = false;
    }
    coord_eval_start(c);
}

/* START_ROUND: the plan to every member, then the global model's download. */
static void start_round(coord *c, const sw_action *a)
{
    sw_error e;
    int64_t dl_ms = isfinite(a->deadline_s)
                        ? (int64_t)fmax(0, 1000 * (a->deadline_s - a->t_s) / c->compression)
                        : -1;
    sw_msg_plan plan = {.deadline_ms = dl_ms,
                        .tokens_left = a->tokens_left,
                        .model_bytes = c->n_params * sizeof(float),
                        .model_crc = c->global_crc};
    uint8_t pl[64];
    size_t n = sw_msg_put_plan(pl, sizeof pl, &plan);
    char who[256] = "";
    for (size_t i = 0; i < a->n_sites; i++) {
        csite *s = &c->sites[a->sites[i]];
        s->member = true;
        s->round = a->round;
        s->have_work = s->have_upload = false;
        s->dl_mono0 = s->dl_mono1 = s->ul_mono0 = s->ul_mono1 = coord_mono_s();
        coord_set_phase(c, s, SW_PHASE_SYNCING);
        coord_send_to(c, s, SW_MSG_PLAN, a->round, pl, n);
        sw_xfer_tx_start(&s->tx, c->global, plan.model_bytes, c->o->chunk_bytes,
                         c->o->window_chunks, a->round);
        if (sw_xfer_tx_pump(&s->tx, &s->peer, &e) != SW_OK)
            coord_log(c, "site %s: %s", s->sc->name, e.msg);
        sw_pathf(who + strlen(who), sizeof who - strlen(who), "%s%s", i ? ", " : "", s->sc->name);
    }
    coord_log(c, "round %lld starts: %s (%s)", (long long)a->round, who,
              isfinite(a->deadline_s) ? "federated" : "single site, open-ended");
}

static void apply(coord *c, const sw_action *a)
{
    sw_error e;
    switch (a->kind) {
    case SW_ACT_PROVISION_SITE: {
        csite *s = &c->sites[a->site];
        s->provisioning = true;
        s->prov_t_s = a->t_s;
        s->prov_mono = coord_mono_s();
        coord_set_phase(c, s, SW_PHASE_PROVISIONING);
        coord_log(c, "provision %s", s->sc->name);
        if (sw_prov_up(&c->prov, s->sc->name, &s->prov, coord_mono_s(), &e) != SW_OK)
            coord_site_failed(c, s, e.msg);
        break;
    }
    case SW_ACT_RELEASE_SITE: {
        csite *s = &c->sites[a->site];
        sw_msg_release r = {.stay = c->prov.ops->agents_stay};
        uint8_t pl[8];
        size_t n = sw_msg_put_release(pl, sizeof pl, &r);
        coord_send_to(c, s, SW_MSG_RELEASE, -1, pl, n);
        sw_prov_down(&c->prov, s->sc->name, &s->prov, false, coord_mono_s(), &e);
        coord_set_phase(c, s, SW_PHASE_OFF);
        if (!r.stay && s->joined) {
            s->departing = s->peer;
            s->joined = false;
        }
        s->provisioning = s->member = false;
        coord_log(c, "release %s", s->sc->name);
        break;
    }
    case SW_ACT_START_ROUND:
        start_round(c, a);
        break;
    case SW_ACT_STOP_SITE: {
        csite *s = &c->sites[a->site];
        sw_msg_stop st = {.leaving = 1};
        uint8_t pl[8];
        size_t n = sw_msg_put_stop(pl, sizeof pl, &st);
        coord_send_to(c, s, SW_MSG_STOP, a->round, pl, n);
        if (!s->have_work)
            coord_set_phase(c, s, SW_PHASE_DRAINING);
        break;
    }
    case SW_ACT_END_ROUND: {
        sw_msg_stop st = {.leaving = 0};
        uint8_t pl[8];
        size_t n = sw_msg_put_stop(pl, sizeof pl, &st);
        for (size_t i = 0; i < a->n_sites; i++) {
            csite *s = &c->sites[a->sites[i]];
            coord_send_to(c, s, SW_MSG_STOP, a->round, pl, n);
            if (coord_phase_of(c, s) == SW_PHASE_TRAINING)
                coord_set_phase(c, s, SW_PHASE_SYNCING);
        }
        break;
    }
    case SW_ACT_AGGREGATE:
        do_aggregate(c, a);
        break;
    }
}

/* Steps the engine at run time t with the given events and carries out its actions. */
static double engine_step(coord *c, double t, const sw_event *evs, size_t n_evs)
{
    sw_action acts[256];
    double wake_s = INFINITY;
    size_t n = sw_run_step(c->run, t, evs, n_evs, acts, 256, &wake_s);
    const sw_error *e = sw_engine_error(c->engine);
    if (e->code != SW_OK)
        coord_log(c, "engine rejected an event: %s", e->msg);
    for (size_t i = 0; i < n && c->status == SW_OK; i++)
        apply(c, &acts[i]);
    return wake_s;
}

/* Delivers queued events in time order (events at one instant together), then a tick now. */
static double step_all(coord *c)
{
    double wake = INFINITY;
    while (c->n_evq > 0) {
        size_t n = c->n_evq;
        c->n_evq = 0;
        sw_event evs[EVQ_MAX];
        double ts[EVQ_MAX];
        char details[EVQ_MAX][96];
        memcpy(ts, c->evq_t, n * sizeof *ts);
        memcpy(evs, c->evq, n * sizeof *evs);
        memcpy(details, c->evq_detail, n * sizeof *details);
        for (size_t i = 0; i < n; i++)
            if (evs[i].detail)
                evs[i].detail = details[i];
        /* insertion sort by time (few events) */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && ts[j] < ts[j - 1]; j--) {
                double tt = ts[j];
                ts[j] = ts[j - 1];
                ts[j - 1] = tt;
                sw_event te = evs[j];
                evs[j] = evs[j - 1];
                evs[j - 1] = te;
            }
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && ts[j] == ts[i])
                j++;
            wake = engine_step(c, ts[i], evs + i, j - i);
            i = j;
        }
    }
    return fmin(wake, engine_step(c, coord_run_t(c), NULL, 0));
}

/* The model the coordinator aggregates and validates, and the data it hands out. */
static int setup_model(coord *c, sw_error *err)
{
    const sw_scenario *sc = c->sc;
    sw_model_config mc;
    sw_kerror ke;
    int rc = coord_model_config(sc, &mc, err);
    if (rc != SW_OK)
        return rc;
    if (sc->exec.seq > mc.max_seq_len)
        return sw_errorf(err, SW_EINPUT, "%s: exec.seq: %d is longer than the %s context %d",
                         sc->name, sc->exec.seq, sc->exec.preset, mc.max_seq_len);
    if ((rc = coord_data_setup(c, &mc, err)) != SW_OK)
        return rc;
    if (!(c->eval_model = sw_model_create(&mc, NULL, &ke)))
        return sw_errorf(err, SW_ERUNTIME, "model: %s", ke.msg);
    sw_backend_cpu_set_threads(sc->exec.threads);
    c->n_params = sw_model_num_params(c->eval_model);
    c->vocab_size = mc.vocab_size;
    c->global = malloc(c->n_params * sizeof(float));
    if (!c->global)
        return sw_errorf(err, SW_ERUNTIME, "coordinator: out of memory");
    if (sc->rounds.outer.kind == SW_OUTER_NESTEROV &&
        !(c->momentum = calloc(c->n_params, sizeof(float))))
        return sw_errorf(err, SW_ERUNTIME, "coordinator: out of memory");
    sw_model_init_params(c->eval_model, sc->seed);
    memcpy(c->global, sw_model_params(c->eval_model), c->n_params * sizeof(float));
    for (size_t i = 0; i < c->n_sites; i++) {
        csite *s = &c->sites[i];
        s->idx = (int)i;
        s->sc = &sc->sites[i];
        if (!(s->upload = malloc(c->n_params * sizeof(float))))
            return sw_errorf(err, SW_ERUNTIME, "coordinator: out of memory");
    }
    return SW_OK;
}

/* Picks up a checkpointed run: the model, momentum, shards, figures and the journal of report
 * and ledger rows; the new engine starts at the current trace time. */

static int start_new(coord *c, sw_error *err)
{
    coord_journal_reset(c);
    int rc = sw_shards_create(c->data_tokens, c->shard_tokens, &c->shards, err);
    if (rc == SW_OK)
        rc = sw_run_start(c->run, NULL, err);
    if (rc != SW_OK)
        return rc;
    /* RAPL measures the whole package, which local sites share, so it cannot be split into
     * per-site power: sites are modelled either way, and a readable counter is reported
     * beside the model as the host's measured energy. */
    sw_rapl_open(&c->rapl, NULL, 0, coord_mono_s());
    sw_run_event(c->run, 0, SW_REPORT_EV_NOTE, -1, -1, NAN,
                 c->rapl.on ? "power: modelled from the scenario's power_w per state; host RAPL "
                              "energy in summary rapl_host_energy_kwh"
                            : "power: modelled from the scenario's power_w per state (no RAPL "
                              "counters)");
    double loss;
    coord_evaluate_global(c, &loss);
    sw_run_global(c->run, 0, loss);
    return SW_OK;
}

/* The socket agents join, and the provisioner that starts them. */
static int setup_messaging(coord *c, sw_error *err)
{
    const sw_coord_options *o = c->o;
    int kind = o->provisioner >= 0 ? o->provisioner : (int)c->sc->exec.provisioner;
    char keys_dir[2200];
    const char *keys = o->keys_dir;
    int rc;
    char why[256]; /* local agents run here: their backend must exist here */
    if (kind == SW_PROVISIONER_LOCAL &&
        !sw_backend_by_name(sw_exec_backend_name(c->sc->exec.backend), why, sizeof why))
        return sw_errorf(err, SW_EINPUT, "%s: exec.backend: %s", c->sc->name, why);
    if (!keys && !o->insecure && kind == SW_PROVISIONER_LOCAL) {
        if ((rc = coord_local_keys(c, keys_dir, sizeof keys_dir, err)) != SW_OK)
            return rc;
        keys = keys_dir;
    }
    if (o->insecure)
        keys = NULL;
    if ((rc = coord_setup_socket(c, keys, err)) != SW_OK)
        return rc;
    c->prov = (sw_provisioner){.kind = (sw_provisioner_kind)kind,
                               .ops = sw_prov_ops_of((sw_provisioner_kind)kind),
                               .agent_exe = o->agent_exe,
                               .coordinator = o->advertise ? o->advertise : c->endpoint,
                               .keys_root = NULL,
                               .backend = sw_exec_backend_name(c->sc->exec.backend),
                               .provision_cmd = o->provision_cmd,
                               .release_cmd = o->release_cmd,
                               .cmd_timeout_s = o->cmd_timeout_s,
                               .run_dir = c->run_dir,
                               .log = o->log};
    if (kind == SW_PROVISIONER_LOCAL && keys) {
        sw_pathf(c->keys_root, sizeof c->keys_root, "%s", keys);
        c->prov.keys_root = c->keys_root;
    }
    if (!c->prov.ops)
        return sw_errorf(err, SW_EINPUT, "--provisioner: unknown provisioner %d", kind);
    if (kind == SW_PROVISIONER_COMMAND && !o->provision_cmd)
        return sw_errorf(err, SW_EINPUT, "--provision-cmd: required by the command provisioner");
    coord_log(c, "listening on %s (%s provisioner%s, %s)", c->endpoint, c->prov.ops->name,
              keys ? ", CURVE" : ", no CURVE", c->resumed ? "resumed from checkpoint" : "new run");
    return SW_OK;
}

static int setup(coord *c, sw_error *err)
{
    const sw_coord_options *o = c->o;
    const sw_scenario *sc = c->sc;
    c->compression = sc->exec.time_compression;
    c->n_sites = sc->n_sites;
    if (c->n_sites > SW_REPORT_MAX_SITES)
        return sw_errorf(err, SW_EINPUT, "%s: sites: at most %d", sc->name, SW_REPORT_MAX_SITES);
    if (!(c->sites = calloc(c->n_sites, sizeof *c->sites)))
        return sw_errorf(err, SW_ERUNTIME, "coordinator: out of memory");
    /* fields the WELCOME and JOIN messages carry must fit them, not be cut */
    if (o->data_path && strlen(o->data_path) >= SW_PROTO_TEXT_MAX)
        return sw_errorf(err, SW_EINPUT, "--data %.60s...: %zu bytes, expected at most %d",
                         o->data_path, strlen(o->data_path), SW_PROTO_TEXT_MAX - 1);
    for (size_t i = 0; i < sc->n_sites; i++)
        if (strlen(sc->sites[i].name) >= SW_PROTO_NAME_MAX)
            return sw_errorf(err, SW_EINPUT,
                             "%s: key 'sites[%zu].name': %zu bytes, expected at most %d for exec",
                             sc->name, i, strlen(sc->sites[i].name), SW_PROTO_NAME_MAX - 1);
    /* transport rule (exec/auth.h), before anything is written: CURVE with --keys, or with
     * keys generated for local agents unless --insecure */
    int kind0 = o->provisioner >= 0 ? o->provisioner : (int)sc->exec.provisioner;
    bool curve = !o->insecure && (o->keys_dir || kind0 == SW_PROVISIONER_LOCAL);
    int trc = sw_transport_check(o->listen, curve, o->insecure, o->log, err);
    if (trc != SW_OK)
        return trc;
    if (o->run_dir)
        sw_pathf(c->run_dir, sizeof c->run_dir, "%s", o->run_dir);
    else
        sw_pathf(c->run_dir, sizeof c->run_dir, "%s.run", o->out_path);
    if (sw_mkdir_p(c->run_dir, 0777, err) != SW_OK)
        return SW_ERUNTIME;
    int rc = setup_model(c, err);
    if (rc != SW_OK)
        return rc;
    sw_run_config rcfg = {.mode = SW_REPORT_EXEC,
                          .out_path = o->out_path,
                          .created_utc = o->created_utc,
                          .keep_journal = true,
                          .model_bytes = (double)(c->n_params * sizeof(float)),
                          .tokens_target = c->data_tokens};
    if ((rc = sw_run_create(sc, &rcfg, &c->run, err)) != SW_OK)
        return rc;
    c->start_realtime = coord_real_s();
    char cpath[2200];
    coord_checkpoint_path(c, cpath, sizeof cpath);
    struct stat st;
    if (o->resume && stat(cpath, &st) == 0)
        rc = coord_resume(c, cpath, err);
    else
        rc = start_new(c, err);
    if (rc != SW_OK)
        return rc;
    c->engine = sw_run_engine(c->run);
    c->global_crc = sw_exec_crc32(0, c->global, c->n_params * sizeof(float));
    if ((rc = setup_messaging(c, err)) != SW_OK)
        return rc;
    /* The clock starts now that the set-up (validation, keys) is done. */
    c->mono0 = coord_mono_s();
    if (!c->resumed)
        c->start_realtime = coord_real_s();
    if (sw_run_failed(c->run))
        return sw_errorf(err, SW_ERUNTIME, "%s", sw_run_error(c->run)->msg);
    return SW_OK;
}

/* ---- the run ---- */

/* The scenario's injected failures that are due: the site fails at its scheduled time as it
 * would after a heartbeat timeout (its agent is killed, its leases return to the pool). */
static void inject_failures(coord *c)
{
    double now = coord_run_t(c);
    for (; c->next_failure < sw_run_failure_count(c->run); c->next_failure++) {
        const sw_run_failure *f = sw_run_failure_at(c->run, c->next_failure);
        if (f->t_s > now)
            return;
        sw_site_state st = sw_engine_site_state(c->engine, f->site);
        if (st != SW_SITE_OFF && st != SW_SITE_FAILED)
            coord_site_failed_at(c, &c->sites[f->site], "injected failure", f->t_s);
    }
}

static void run_loop(coord *c)
{
    double wake = 0;
    while (c->status == SW_OK && !stop_requested) {
        coord_drain_socket(c); /* what arrived while we were busy counts before any timeout */
        sw_rapl_sample(&c->rapl, coord_mono_s(), false);
        coord_eval_collect(c, false);
        coord_check_sites(c);
        inject_failures(c);
        wake = step_all(c);
        if (sw_run_failed(c->run)) {
            coord_fail(c, SW_ERUNTIME, "%s", sw_run_error(c->run)->msg);
            break;
        }
        if (sw_engine_done(c->engine))
            break;
        double now = coord_run_t(c);
        double wait_ms = isfinite(wake) ? (wake - now) / c->compression * 1000 : 20;
        zmq_pollitem_t it = {.socket = c->router, .events = ZMQ_POLLIN};
        int ms = (int)fmin(20, fmax(0, wait_ms));
        if (zmq_poll(&it, 1, ms) > 0)
            coord_drain_socket(c);
    }
}

/* Releases whatever is still up, and ends the run in the session: summary and report (marked
 * incomplete after a failure). */
static int finish(coord *c, sw_coord_result *res, sw_error *err)
{
    coord_eval_collect(c, true);
    sw_rapl_sample(&c->rapl, coord_mono_s(), true);
    double now = coord_run_t(c);
    for (size_t i = 0; i < c->n_sites; i++) {
        csite *s = &c->sites[i];
        if (s->joined) { /* the run is over: every agent, static ones too, leaves (exit 0) */
            sw_msg_release r = {.stay = 0};
            uint8_t pl[8];
            size_t n = sw_msg_put_release(pl, sizeof pl, &r);
            coord_send_to(c, s, SW_MSG_RELEASE, -1, pl, n);
        }
        if (coord_phase_of(c, s) != SW_PHASE_OFF)
            coord_set_phase_at(c, s, SW_PHASE_OFF, now);
    }
    for (size_t i = 0; i < c->n_sites; i++)
        sw_prov_cleanup(&c->sites[i].prov);
    double wall[3] = {0, 0, 0}; /* training, synchronizing (and draining), idle: wall s */
    for (size_t i = 0; i < c->n_sites; i++) {
        const csite *s = &c->sites[i];
        wall[0] += s->wall_by_phase[SW_PHASE_TRAINING];
        wall[1] += s->wall_by_phase[SW_PHASE_SYNCING] + s->wall_by_phase[SW_PHASE_DRAINING];
        wall[2] += s->wall_by_phase[SW_PHASE_IDLE] + s->wall_by_phase[SW_PHASE_PROVISIONING];
    }
    sw_report_extra extras[8] = {
        {"data_consumed_tokens", (double)sw_shards_done_tokens(c->shards), "tokens"},
        {"time_compression", c->compression, "1"},
        {"power_measured", 0, "1"},
        {"rejected_messages", (double)c->rejected, "1"},
        {"train_wall_s", wall[0], "s"},
        {"sync_wall_s", wall[1], "s"},
        {"idle_wall_s", wall[2], "s"},
        {"rapl_host_energy_kwh", sw_rapl_energy_j(&c->rapl) / 3.6e6, "kWh"}};
    if (c->status != SW_OK)
        sw_run_fail(c->run, SW_ERUNTIME, "%s", c->err.msg);
    else if (!sw_engine_done(c->engine))
        sw_run_fail(c->run, SW_ERUNTIME,
                    "stopped by a signal at t=%.0f s, before the end of the run", now);
    sw_report_summary sum;
    int rc = sw_run_close(c->run, now, extras, c->rapl.on ? 8 : 7, &sum, err);
    if (res) {
        res->runtime_h = sum.runtime_h;
        res->energy_kwh = sum.energy_kwh;
        res->carbon_kg = sum.carbon_kg;
        res->final_ppl = sum.final_ppl;
        res->rounds = sum.rounds;
        res->tokens = sum.tokens;
        res->rejected_messages = c->rejected;
        res->rejected_clients = sw_zap_rejected(c->zap);
        res->failures = c->failures;
        res->resumed = c->resumed;
        res->train_wall_s = wall[0];
        res->sync_wall_s = wall[1];
        res->idle_wall_s = wall[2];
    }
    if (rc == SW_OK) { /* the run is complete: a later --resume must not continue it */
        char path[2200];
        coord_checkpoint_path(c, path, sizeof path);
        unlink(path);
        coord_journal_reset(c);
    }
    return rc;
}

int sw_coord_run(const sw_coord_options *o, sw_coord_result *result, sw_error *err)
{
    double w0 = coord_mono_s();
    coord *c = calloc(1, sizeof *c);
    if (!c)
        return sw_errorf(err, SW_ERUNTIME, "coordinator: out of memory");
    c->o = o;
    c->sc = o->sc;
    stop_requested = 0;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    signal(SIGPIPE, SIG_IGN);
    if (result)
        memset(result, 0, sizeof *result);
    int rc = setup(c, err);
    if (rc == SW_OK) {
        run_loop(c);
        if (stop_requested)
            coord_log(c, "signal received: releasing sites and writing the report");
        rc = finish(c, result, err); /* after a failure: the report marked incomplete */
    }
    if (c->eval_running)
        pthread_join(c->eval_th, NULL);
    for (size_t i = 0; c->sites && i < c->n_sites; i++)
        sw_prov_cleanup(&c->sites[i].prov);
    if (c->router)
        zmq_close(c->router);
    sw_zap_stop(c->zap);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    if (result && rc == SW_OK)
        result->wall_s = coord_mono_s() - w0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sw_run_destroy(c->run);
    free(c->ck_shards);
    free(c->ck_engine);
    sw_shards_destroy(c->shards);
    sw_model_destroy(c->eval_model);
    coord_data_free(c);
    for (size_t i = 0; c->sites && i < c->n_sites; i++)
        free(c->sites[i].upload);
    free(c->sites);
    free(c->global);
    free(c->momentum);
    free(c);
    return rc;
}
