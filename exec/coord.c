/* coord.c - the coordinator (see coord.h): engine driver, membership, rounds as messages,
 * aggregation with the core routines, validation, power to the ledger, checkpoints.
 *
 * Power: no RAPL counters are readable on the machines this was built on, and RAPL measures a
 * whole package that several local sites share anyway; so a site's power is modelled from the
 * scenario's power_w per state (train while training, idle otherwise) and the report says so
 * (an event note at t = 0 and the summary figure power_measured = 0).
 */
#include "exec/coord.h"
#include "exec/fmt.h"
#include "exec/rapl.h"
#include "exec/sockopt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "core/aggregate.h"
#include "core/engine.h"
#include "core/engine_report.h"
#include "core/fsutil.h"
#include "core/phase.h"
#include "core/ledger.h"
#include "core/report.h"
#include "core/shards.h"
#include "core/trace.h"
#include "exec/auth.h"
#include "exec/crc32.h"
#include "exec/journal.h"
#include "exec/link.h"
#include "exec/proto.h"
#include "exec/provision.h"
#include "kernels/data.h"
#include "kernels/model.h"
#include "kernels/train.h"

typedef struct csite {
    int idx;
    const sw_scenario_site *sc;
    size_t region;
    size_t ledger_site;
    /* provisioning */
    bool provisioning;
    double prov_t_s, prov_mono;
    sw_prov_site prov;
    /* the agent */
    bool joined;
    sw_peer peer;
    sw_peer departing; /* a released agent, until its LEAVE (id_len 0: none) */
    double last_seen;
    int64_t steps_base, tokens_base; /* the site's totals when this agent joined */
    /* the round */
    bool member;
    int64_t round; /* engine round */
    sw_xfer_tx tx;
    sw_xfer_rx rx;
    float *upload;
    bool have_work, have_upload;
    sw_msg_work work;
    double dl_mono0, dl_mono1, ul_mono0, ul_mono1;
    /* power and the ledger */
    sw_phase ph;
    double ph_t0;
    double ph_mono0;
    sw_report_state rep_state;
    double state_t; /* time of the last /states row (kept non-decreasing) */
    /* totals */
    int64_t steps_total, tokens_total;
    double training_s;
    double wall_by_phase[SW_PHASE_COUNT];
} csite;

#define EVQ_MAX 256

typedef struct coord {
    const sw_coord_options *o;
    const sw_scenario *sc;
    sw_provisioner prov;
    char run_dir[2048];
    char endpoint[512];
    char keys_root[2200];
    double compression;
    /* clocks */
    double mono0, t_base; /* run time = t_base + (mono - mono0) * compression */
    double eng_base;      /* run time of engine time 0 */
    double start_unix_s, end_s;
    double start_realtime;
    /* RAPL package energy of this host, when readable (reported beside the model) */
    sw_rapl rapl; /* sampled in the loop, kept in the checkpoint (exec/rapl.h) */
    /* core */
    sw_trace *trace;
    sw_engine *engine;
    sw_ledger *ledger;
    sw_report *rep;
    sw_journal jr;
    sw_shards *shards;
    sw_engine_site *esites;
    csite *sites;
    size_t n_sites;
    size_t records_seen;
    int64_t round_base;
    /* events for the engine */
    sw_event evq[EVQ_MAX];
    double evq_t[EVQ_MAX];
    char evq_detail[EVQ_MAX][96];
    size_t n_evq;
    /* model */
    sw_model *eval_model;
    size_t n_params;
    float *global, *momentum;
    uint32_t global_crc;
    sw_text text;
    sw_span train, val;
    size_t bt;
    uint64_t data_tokens;
    /* validation of the global model, in a thread so that it never holds up the rounds */
    pthread_t eval_th;
    bool eval_running;
    atomic_bool eval_done;
    float eval_loss;
    int eval_rc;
    char eval_msg[512];
    sw_report_round_row eval_row; /* the round being validated (loss filled in at the end) */
    /* round bookkeeping */
    double round_t0;
    double round_start_mono;
    /* messaging */
    void *ctx, *router;
    sw_zap *zap;
    double last_hb;
    /* figures */
    int64_t rounds_done, sync_bytes_total;
    double best_ppl, last_loss;
    unsigned rejected, failures;
    double event_t; /* time of the last /events row (kept non-decreasing) */
    bool resumed;
    int status;
    sw_error err;
} coord;

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double real_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double run_t(const coord *c)
{
    return c->t_base + (mono_s() - c->mono0) * c->compression;
}

static void clog_(coord *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void clog_(coord *c, const char *fmt, ...)
{
    if (!c->o->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(c->o->log, "spillway coordinator [t=%7.0f s]: ", c->mono0 > 0 ? run_t(c) : 0.0);
    vfprintf(c->o->log, fmt, ap);
    fputc('\n', c->o->log);
    fflush(c->o->log);
    va_end(ap);
}

static int fail(coord *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(coord *c, int code, const char *fmt, ...)
{
    if (c->status == SW_OK) {
        va_list ap;
        va_start(ap, fmt);
        c->err.code = code;
        vsnprintf(c->err.msg, sizeof c->err.msg, fmt, ap);
        va_end(ap);
        c->status = code;
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

/* ---- report rows, power and the ledger ---- */

/* Engine records carry their decision times, which may trail the wall clock by the loop's
 * latency (a deadline processed a few ms late); rows from both sources are kept in order. */
static double event_time(coord *c, double t_s)
{
    if (t_s < c->event_t)
        t_s = c->event_t;
    return c->event_t = t_s;
}

static void state_row(coord *c, size_t site, double t_s, sw_report_state st)
{
    csite *s = &c->sites[site];
    if (t_s < s->state_t)
        t_s = s->state_t;
    s->state_t = t_s;
    s->rep_state = st;
    sw_journal_state(&c->jr, (int)site, t_s, st);
}

static void event_row(coord *c, double t_s, sw_report_event_kind kind, int site, int64_t round,
                      double value, const char *detail)
{
    t_s = event_time(c, t_s);
    sw_report_event_row row = {
        .t_s = t_s, .kind = kind, .site = site, .round = round, .value = value};
    if (detail)
        sw_pathf(row.detail, sizeof row.detail, "%s", detail);
    sw_journal_event(&c->jr, &row);
}

/* Closes the site's current phase (energy to the ledger) and opens p at run time now. */
static void set_phase_at(coord *c, csite *s, sw_phase p, double now)
{
    if (s->ph != SW_PHASE_OFF && now > s->ph_t0)
        sw_journal_energy(&c->jr, s->ledger_site, sw_phase_ledger_state(s->ph), s->ph_t0, now,
                          sw_phase_power_w(s->sc, s->ph));
    double m = mono_s();
    s->wall_by_phase[s->ph] += m - s->ph_mono0;
    if (s->ph == SW_PHASE_TRAINING)
        s->training_s += now - s->ph_t0;
    if (p != s->ph)
        sw_journal_power(&c->jr, s->idx, now, sw_phase_power_w(s->sc, p));
    s->ph = p;
    s->ph_t0 = now;
    s->ph_mono0 = m;
}

static void set_phase(coord *c, csite *s, sw_phase p)
{
    set_phase_at(c, s, p, fmax(run_t(c), s->ph_t0));
}

/* Engine records -> /events; engine site states -> /sites/<s>/states (as sim/run.c). */
static void write_records(coord *c)
{
    size_t n = sw_engine_record_count(c->engine);
    for (; c->records_seen < n; c->records_seen++) {
        const sw_engine_record *rec = sw_engine_record_at(c->engine, c->records_seen);
        if (rec->kind == SW_REC_STATE) {
            /* at the time the engine decided it, which a busy coordinator may carry out later */
            state_row(c, (size_t)rec->site, rec->t_s + c->eng_base,
                      sw_engine_report_state((sw_site_state)rec->to_state));
            continue;
        }
        sw_report_event_row row =
            sw_engine_record_event_row(rec, c->sc->policy.threshold_g_per_kwh);
        row.t_s = event_time(c, rec->t_s + c->eng_base);
        row.round = rec->round >= 0 ? rec->round + c->round_base : -1;
        sw_journal_event(&c->jr, &row);
    }
}

/* ---- engine events ---- */

static void push_event(coord *c, double t_s, sw_event_kind kind, int site, int64_t round,
                       uint64_t tokens, const char *detail)
{
    if (c->n_evq == EVQ_MAX) {
        fail(c, SW_ERUNTIME, "coordinator: engine event queue overflow");
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

/* ---- messages ---- */

static void send_to(coord *c, csite *s, sw_msg_type t, int64_t round, const void *pl, size_t n)
{
    sw_error e;
    if (!s->joined)
        return;
    if (sw_link_send(&s->peer, t, round, pl, n, false, &e) != SW_OK)
        clog_(c, "site %s: %s", s->sc->name, e.msg);
}

static void reject(coord *c, const char *who, const char *why)
{
    c->rejected++;
    clog_(c, "rejected a message from %s: %s", who, why);
}

/* The site is lost: tell the engine, take its leases back, stop its process. */
static void site_failed(coord *c, csite *s, const char *why)
{
    double now = run_t(c);
    sw_site_state st = sw_engine_site_state(c->engine, (size_t)s->idx);
    clog_(c, "site %s failed: %s", s->sc->name, why);
    c->failures++;
    event_row(c, now, SW_REPORT_EV_FAIL, s->idx, s->member ? s->round + c->round_base : -1, NAN,
              why);
    if (st != SW_SITE_OFF && st != SW_SITE_FAILED)
        push_event(c, now, SW_EV_SITE_FAILED, s->idx, -1, 0, why);
    size_t returned = 0;
    sw_error e;
    if (sw_shards_site_left(c->shards, (uint32_t)s->idx, &returned, &e) != SW_OK)
        fail(c, SW_ERUNTIME, "%s", e.msg);
    if (returned)
        clog_(c, "site %s: %zu data lease(s) returned to the pool", s->sc->name, returned);
    sw_prov_down(&c->prov, s->sc->name, &s->prov, true, mono_s(), &e);
    set_phase(c, s, SW_PHASE_OFF);
    s->joined = s->member = s->provisioning = false;
    s->have_work = s->have_upload = false;
    s->tx.active = s->rx.active = false;
}

static void send_welcome(coord *c, csite *s)
{
    sw_msg_welcome w = {
        .site_index = (uint32_t)s->idx,
        .n_params = c->n_params,
        .batch = (uint32_t)c->sc->exec.batch,
        .seq = (uint32_t)c->sc->exec.seq,
        .threads = (uint32_t)c->sc->exec.threads,
        .heartbeat_ms = 250,
        .log_interval_ms = (uint32_t)fmax(100, 1000 * c->sc->model.log_interval_s / c->compression),
        .chunk_bytes = c->o->chunk_bytes,
        .window_chunks = c->o->window_chunks,
        .seed = c->sc->seed,
        .lr = c->o->lr};
    sw_pathf(w.preset, sizeof w.preset, "%s", c->sc->exec.preset);
    sw_pathf(w.data_path, sizeof w.data_path, "%s", c->o->data_path);
    uint8_t pl[512];
    size_t n = sw_msg_put_welcome(pl, sizeof pl, &w);
    send_to(c, s, SW_MSG_WELCOME, -1, pl, n);
}

static void on_join(coord *c, const uint8_t *id, size_t id_len, const char *user_id,
                    const sw_msg_header *h, const uint8_t *p)
{
    (void)h;
    sw_msg_join j;
    sw_error e;
    sw_peer tmp = {.sock = c->router, .id_len = id_len};
    memcpy(tmp.id, id, id_len);
    if (sw_msg_get_join(p, h->payload_len, &j, &e) != SW_OK) {
        reject(c, "a new peer", e.msg);
        return;
    }
    int idx = sw_scenario_site_index(c->sc, j.site);
    const char *why = NULL;
    char deny[300];
    csite *s = idx >= 0 ? &c->sites[idx] : NULL;
    bool is_static = c->prov.kind == SW_PROVISIONER_STATIC;
    if (!sw_zap_may_act(c->zap, user_id, j.site, deny, sizeof deny))
        why = deny;
    else if (!s)
        why = "no such site in the scenario";
    else if (s->joined && (s->peer.id_len != id_len || memcmp(s->peer.id, id, id_len)))
        why = "site already has an agent";
    else if (!s->joined && !s->provisioning && !is_static)
        why = "site is not being provisioned";
    if (why) {
        char msg[400];
        sw_pathf(msg, sizeof msg, "join of '%s' refused: %s", j.site, why);
        reject(c, j.site, msg);
        sw_msg_text t;
        sw_pathf(t.text, sizeof t.text, "%s", why);
        uint8_t pl[SW_PROTO_TEXT_MAX];
        sw_msg_put_text(pl, sizeof pl, &t);
        sw_link_send(&tmp, SW_MSG_REJECT, -1, pl, sizeof pl, false, &e);
        return;
    }
    if (!s->joined) {
        s->joined = true;
        s->peer = tmp;
        s->steps_base = s->steps_total;
        s->tokens_base = s->tokens_total;
        clog_(c, "site %s joined (pid %u)", s->sc->name, j.pid);
    }
    s->last_seen = mono_s();
    send_welcome(c, s);
}

/* WORK complete (its model received and checked): commit its data, tell the engine. */
static void work_complete(coord *c, csite *s)
{
    sw_error e;
    const sw_msg_work *w = &s->work;
    for (uint32_t i = 0; i < w->n_leases; i++) {
        sw_shard_lease l;
        if (!sw_shards_lease_find(c->shards, w->lease_id[i], &l) || l.site != (uint32_t)s->idx ||
            w->consumed[i] > l.end_token - l.begin_token) {
            char msg[160];
            sw_pathf(msg, sizeof msg, "work: lease %llu is not this site's or over-consumed",
                     (unsigned long long)w->lease_id[i]);
            reject(c, s->sc->name, msg);
            site_failed(c, s, "inconsistent work report");
            return;
        }
    }
    for (uint32_t i = 0; i < w->n_leases; i++)
        if (sw_shards_release(c->shards, (uint32_t)s->idx, w->lease_id[i], w->consumed[i], &e) !=
            SW_OK)
            fail(c, SW_ERUNTIME, "%s", e.msg);
    /* leases granted after the agent had stopped go back unused */
    sw_shards_site_left(c->shards, (uint32_t)s->idx, NULL, &e);
    s->have_upload = true;
    s->ul_mono1 = mono_s();
    set_phase(c, s, SW_PHASE_IDLE);
    push_event(c, run_t(c), SW_EV_WORK_REPORTED, s->idx, s->round, w->tokens, NULL);
}

static void on_site_msg(coord *c, csite *s, const sw_msg_header *h, const uint8_t *p)
{
    sw_error e;
    int rc = SW_OK;
    s->last_seen = mono_s();
    switch (h->type) {
    case SW_MSG_JOIN:
        send_welcome(c, s); /* a repeated JOIN */
        return;
    case SW_MSG_HEARTBEAT:
        return;
    case SW_MSG_LEAVE:
        if (s->provisioning || s->member ||
            (sw_engine_site_state(c->engine, (size_t)s->idx) != SW_SITE_OFF &&
             sw_engine_site_state(c->engine, (size_t)s->idx) != SW_SITE_FAILED))
            site_failed(c, s, "agent left while its site was up");
        else
            s->joined = false;
        return;
    case SW_MSG_ACK: {
        sw_msg_ack a;
        if ((rc = sw_msg_get_ack(p, h->payload_len, &a, &e)) != SW_OK)
            break;
        if (!s->member || h->round != s->round) {
            rc = sw_errorf(&e, SW_EINPUT, "message ack: round %lld is not the site's",
                           (long long)h->round);
            break;
        }
        if ((rc = sw_xfer_tx_ack(&s->tx, &a, &e)) != SW_OK)
            break;
        if (sw_xfer_tx_done(&s->tx) && s->ph == SW_PHASE_SYNCING && !s->have_work) {
            s->dl_mono1 = mono_s();
            set_phase(c, s, SW_PHASE_TRAINING);
        } else if ((rc = sw_xfer_tx_pump(&s->tx, &s->peer, &e)) != SW_OK) {
            clog_(c, "site %s: %s", s->sc->name, e.msg);
            return;
        }
        return;
    }
    case SW_MSG_LEASE_REQ: {
        if (!s->member || h->round != s->round || s->have_work) {
            rc = sw_errorf(&e, SW_EINPUT, "message lease_req: site is not training round %lld",
                           (long long)h->round);
            break;
        }
        sw_shard_lease l;
        bool got = false;
        if (sw_shards_acquire(c->shards, (uint32_t)s->idx, &l, &got, &e) != SW_OK) {
            fail(c, SW_ERUNTIME, "%s", e.msg);
            return;
        }
        sw_msg_lease m = {0, 0, 0};
        if (got)
            m = (sw_msg_lease){l.lease_id, l.begin_token, l.end_token};
        uint8_t pl[32];
        size_t n = sw_msg_put_lease(pl, sizeof pl, &m);
        send_to(c, s, SW_MSG_LEASE, s->round, pl, n);
        return;
    }
    case SW_MSG_METRICS: {
        sw_msg_metrics m;
        if ((rc = sw_msg_get_metrics(p, h->payload_len, &m, &e)) != SW_OK)
            break;
        s->steps_total = s->steps_base + m.step;
        s->tokens_total = s->tokens_base + m.tokens;
        sw_report_train_row row = {.t_s = run_t(c),
                                   .step = s->steps_total,
                                   .tokens = s->tokens_total,
                                   .loss = m.loss,
                                   .ppl = exp(m.loss)};
        sw_journal_train(&c->jr, s->idx, &row);
        return;
    }
    case SW_MSG_WORK: {
        if (!s->member || h->round != s->round || s->have_work) {
            rc = sw_errorf(&e, SW_EINPUT, "message work: not expected for round %lld",
                           (long long)h->round);
            break;
        }
        if ((rc = sw_msg_get_work(p, h->payload_len, &s->work, &e)) != SW_OK)
            break;
        if (s->work.model_bytes != c->n_params * sizeof(float)) {
            rc = sw_errorf(&e, SW_EINPUT, "message work: model_bytes %llu, expected %zu",
                           (unsigned long long)s->work.model_bytes, c->n_params * sizeof(float));
            break;
        }
        s->have_work = true;
        s->ul_mono0 = mono_s();
        if (s->ph == SW_PHASE_TRAINING)
            set_phase(c, s, SW_PHASE_SYNCING);
        sw_xfer_rx_start(&s->rx, s->upload, s->work.model_bytes, s->work.model_crc, s->round);
        return;
    }
    case SW_MSG_CHUNK: {
        sw_msg_chunk ch;
        bool done;
        if ((rc = sw_msg_get_chunk(p, h->payload_len, &ch, &e)) != SW_OK)
            break;
        if (!s->have_work || s->have_upload) {
            rc = sw_errorf(&e, SW_EINPUT, "message chunk: no upload expected");
            break;
        }
        if ((rc = sw_xfer_rx_chunk(&s->rx, &s->peer, h->round, &ch, &done, &e)) != SW_OK) {
            if (!s->rx.active) { /* the whole model is in but does not check out */
                reject(c, s->sc->name, e.msg);
                site_failed(c, s, "model upload failed its checksum");
                return;
            }
            break;
        }
        if (done)
            work_complete(c, s);
        return;
    }
    default:
        rc = sw_errorf(&e, SW_EINPUT, "message %s: not expected by the coordinator",
                       sw_msg_type_name(h->type));
        break;
    }
    if (rc != SW_OK)
        reject(c, s->sc->name, e.msg);
}

/* Receives everything waiting on the ROUTER. */
static void drain_socket(coord *c)
{
    for (int k = 0; k < 4096; k++) {
        zmq_msg_t idm, fm;
        zmq_msg_init(&idm);
        if (zmq_msg_recv(&idm, c->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&idm);
            return;
        }
        if (!zmq_msg_more(&idm)) {
            reject(c, "a peer", "message: no frame after the routing identity");
            zmq_msg_close(&idm);
            continue;
        }
        zmq_msg_init(&fm);
        zmq_msg_recv(&fm, c->router, 0);
        if (zmq_msg_more(&fm)) {
            reject(c, "a peer", "message: more than one frame");
            while (zmq_msg_more(&fm) && zmq_msg_recv(&fm, c->router, 0) >= 0)
                ;
            zmq_msg_close(&fm);
            zmq_msg_close(&idm);
            continue;
        }
        const uint8_t *id = zmq_msg_data(&idm);
        size_t id_len = zmq_msg_size(&idm);
        csite *s = NULL;
        for (size_t i = 0; i < c->n_sites && !s; i++)
            if (c->sites[i].joined && c->sites[i].peer.id_len == id_len &&
                !memcmp(c->sites[i].peer.id, id, id_len))
                s = &c->sites[i];
        csite *gone = NULL;
        for (size_t i = 0; i < c->n_sites && !s && !gone; i++)
            if (c->sites[i].departing.id_len == id_len &&
                !memcmp(c->sites[i].departing.id, id, id_len))
                gone = &c->sites[i];
        sw_msg_header h;
        const uint8_t *p;
        sw_error e;
        if (gone) { /* a released agent finishing up: only its LEAVE matters */
            if (sw_msg_parse(zmq_msg_data(&fm), zmq_msg_size(&fm), &h, &p, &e) == SW_OK &&
                h.type == SW_MSG_LEAVE)
                gone->departing.id_len = 0;
        } else if (sw_msg_parse(zmq_msg_data(&fm), zmq_msg_size(&fm), &h, &p, &e) != SW_OK)
            reject(c, s ? s->sc->name : "an unknown peer", e.msg);
        else if (s)
            on_site_msg(c, s, &h, p);
        else if (h.type == SW_MSG_JOIN && id_len <= sizeof s->peer.id)
            on_join(c, id, id_len, zmq_msg_gets(&fm, "User-Id"), &h, p);
        else
            reject(c, "an unknown peer", "message: only join is accepted before joining");
        zmq_msg_close(&fm);
        zmq_msg_close(&idm);
    }
}

/* ---- engine actions ---- */

static void evaluate_global(coord *c, double *loss_out)
{
    memcpy(sw_model_params(c->eval_model), c->global, c->n_params * sizeof(float));
    float loss = NAN;
    sw_kerror ke;
    if (sw_evaluate(c->eval_model, c->text.bytes, c->val, c->sc->exec.batch, c->sc->exec.seq,
                    c->o->eval_batches, &loss, &ke) != SW_K_OK)
        fail(c, SW_ERUNTIME, "validation: %s", ke.msg);
    *loss_out = loss;
}

static int write_checkpoint(coord *c, sw_error *err);

static void *eval_main(void *arg)
{
    coord *c = arg;
    sw_kerror ke;
    float loss = NAN;
    c->eval_rc = sw_evaluate(c->eval_model, c->text.bytes, c->val, c->sc->exec.batch,
                             c->sc->exec.seq, c->o->eval_batches, &loss, &ke);
    if (c->eval_rc != SW_K_OK)
        sw_pathf(c->eval_msg, sizeof c->eval_msg, "validation: %s", ke.msg);
    c->eval_loss = loss;
    atomic_store(&c->eval_done, true);
    return NULL;
}

/* When the running validation is done (or at once with wait): the round's row and the
 * /global point, then a checkpoint and a report flush (a crash loses at most this round). */
static void eval_collect(coord *c, bool wait)
{
    if (!c->eval_running || (!wait && !atomic_load(&c->eval_done)))
        return;
    pthread_join(c->eval_th, NULL);
    c->eval_running = false;
    if (c->eval_rc != SW_K_OK) {
        fail(c, SW_ERUNTIME, "%s", c->eval_msg);
        return;
    }
    double loss = c->eval_loss;
    sw_report_round_row row = c->eval_row;
    row.loss = loss;
    row.ppl = exp(loss);
    sw_journal_round(&c->jr, &row);
    sw_report_global_row g = {.t_s = row.t_end_s,
                              .tokens = (int64_t)sw_shards_done_tokens(c->shards),
                              .loss = loss,
                              .ppl = exp(loss)};
    sw_journal_global(&c->jr, &g);
    c->last_loss = loss;
    if (exp(loss) < c->best_ppl)
        c->best_ppl = exp(loss);
    clog_(c, "round %lld: %d site(s), %lld tokens, validation loss %.4f (ppl %.2f)",
          (long long)row.round, row.n_sites, (long long)row.tokens, loss, exp(loss));
    sw_error e;
    if (write_checkpoint(c, &e) != SW_OK)
        clog_(c, "checkpoint not written: %s", e.msg);
    sw_report_flush(c->rep, NULL);
}

static void do_aggregate(coord *c, const sw_action *a)
{
    eval_collect(c, true); /* the model it validates is about to change */
    double now = run_t(c);
    size_t k = a->n_sites;
    const float *x[SW_REPORT_MAX_SITES];
    sw_report_round_row row = {.round = a->round + c->round_base,
                               .t_start_s = c->round_t0,
                               .n_sites = (int32_t)k,
                               .tokens = (int64_t)a->tokens_total};
    double sync_wall = 0;
    for (size_t i = 0; i < k; i++) {
        csite *s = &c->sites[a->sites[i]];
        x[i] = s->upload;
        sw_report_mask_set(row.sites, a->sites[i]);
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
            fail(c, rc, "aggregate: %s", e.msg);
            return;
        }
        c->global_crc = sw_exec_crc32(0, c->global, c->n_params * sizeof(float));
    }
    row.t_end_s = fmax(now, c->round_t0);
    row.sync_bytes = (int64_t)(2 * k * c->n_params * sizeof(float));
    row.sync_s = sync_wall * c->compression;
    c->rounds_done++;
    c->sync_bytes_total += row.sync_bytes;
    for (size_t i = 0; i < k; i++) {
        csite *s = &c->sites[a->sites[i]];
        s->member = s->have_work = s->have_upload = false;
    }
    memcpy(sw_model_params(c->eval_model), c->global, c->n_params * sizeof(float));
    c->eval_row = row;
    atomic_store(&c->eval_done, false);
    if (pthread_create(&c->eval_th, NULL, eval_main, c) != 0) {
        fail(c, SW_ERUNTIME, "coordinator: cannot start the validation thread");
        return;
    }
    c->eval_running = true;
}

static void apply(coord *c, const sw_action *a)
{
    double now = run_t(c);
    sw_error e;
    switch (a->kind) {
    case SW_ACT_PROVISION_SITE: {
        csite *s = &c->sites[a->site];
        s->provisioning = true;
        s->prov_t_s = a->t_s + c->eng_base;
        s->prov_mono = mono_s();
        set_phase(c, s, SW_PHASE_PROVISIONING);
        event_row(c, now, SW_REPORT_EV_PROVISION, a->site, -1, NAN, NULL);
        clog_(c, "provision %s", s->sc->name);
        if (sw_prov_up(&c->prov, s->sc->name, &s->prov, mono_s(), &e) != SW_OK)
            site_failed(c, s, e.msg);
        break;
    }
    case SW_ACT_RELEASE_SITE: {
        csite *s = &c->sites[a->site];
        sw_msg_release r = {.stay = c->prov.kind == SW_PROVISIONER_STATIC};
        uint8_t pl[8];
        size_t n = sw_msg_put_release(pl, sizeof pl, &r);
        send_to(c, s, SW_MSG_RELEASE, -1, pl, n);
        sw_prov_down(&c->prov, s->sc->name, &s->prov, false, mono_s(), &e);
        set_phase(c, s, SW_PHASE_OFF);
        if (!r.stay && s->joined) {
            s->departing = s->peer;
            s->joined = false;
        }
        s->provisioning = s->member = false;
        event_row(c, now, SW_REPORT_EV_RELEASE, a->site, -1, NAN, "released");
        clog_(c, "release %s", s->sc->name);
        break;
    }
    case SW_ACT_START_ROUND: {
        c->round_t0 = now;
        c->round_start_mono = mono_s();
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
            s->dl_mono0 = s->dl_mono1 = s->ul_mono0 = s->ul_mono1 = mono_s();
            set_phase(c, s, SW_PHASE_SYNCING);
            send_to(c, s, SW_MSG_PLAN, a->round, pl, n);
            sw_xfer_tx_start(&s->tx, c->global, plan.model_bytes, c->o->chunk_bytes,
                             c->o->window_chunks, a->round);
            if (sw_xfer_tx_pump(&s->tx, &s->peer, &e) != SW_OK)
                clog_(c, "site %s: %s", s->sc->name, e.msg);
            sw_pathf(who + strlen(who), sizeof who - strlen(who), "%s%s", i ? ", " : "",
                     s->sc->name);
        }
        clog_(c, "round %lld starts: %s (%s)", (long long)(a->round + c->round_base), who,
              isfinite(a->deadline_s) ? "federated" : "single site, open-ended");
        break;
    }
    case SW_ACT_STOP_SITE: {
        csite *s = &c->sites[a->site];
        sw_msg_stop st = {.leaving = 1};
        uint8_t pl[8];
        size_t n = sw_msg_put_stop(pl, sizeof pl, &st);
        send_to(c, s, SW_MSG_STOP, a->round, pl, n);
        if (!s->have_work)
            set_phase(c, s, SW_PHASE_DRAINING);
        event_row(c, now, SW_REPORT_EV_STOP, a->site, a->round + c->round_base, NAN,
                  "graceful stop");
        break;
    }
    case SW_ACT_END_ROUND: {
        sw_msg_stop st = {.leaving = 0};
        uint8_t pl[8];
        size_t n = sw_msg_put_stop(pl, sizeof pl, &st);
        for (size_t i = 0; i < a->n_sites; i++) {
            csite *s = &c->sites[a->sites[i]];
            send_to(c, s, SW_MSG_STOP, a->round, pl, n);
            if (s->ph == SW_PHASE_TRAINING)
                set_phase(c, s, SW_PHASE_SYNCING);
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
    double et = fmax(t - c->eng_base, sw_engine_now(c->engine));
    size_t n = sw_engine_step_n(c->engine, et, evs, n_evs, acts, 256, &wake_s);
    const sw_error *e = sw_engine_error(c->engine);
    if (e->code != SW_OK)
        clog_(c, "engine rejected an event: %s", e->msg);
    write_records(c);
    for (size_t i = 0; i < n && c->status == SW_OK; i++)
        apply(c, &acts[i]);
    return wake_s + c->eng_base;
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
    return fmin(wake, engine_step(c, run_t(c), NULL, 0));
}

/* ---- timers: readiness, heartbeats, provisioners ---- */

static void check_sites(coord *c)
{
    double m = mono_s();
    for (size_t i = 0; i < c->n_sites; i++) {
        csite *s = &c->sites[i];
        bool failed = false;
        char why[128] = "";
        sw_prov_poll(&c->prov, s->sc->name, &s->prov, m, &failed, why, sizeof why);
        if (failed && s->provisioning) {
            site_failed(c, s, why);
            continue;
        }
        double delay_wall = s->sc->provision_s / c->compression;
        if (s->provisioning && s->joined && m - s->prov_mono >= delay_wall) {
            /* Ready at the nominal time, provision_s after the decision, when the agent was
             * up by then: provisioning delays are the scenario's, so sim and exec agree. */
            s->provisioning = false;
            double t_ready = fmax(s->prov_t_s + s->sc->provision_s,
                                  run_t(c) - (m - s->prov_mono - delay_wall) * c->compression);
            set_phase_at(c, s, SW_PHASE_IDLE, fmax(t_ready, s->ph_t0));
            event_row(c, fmax(t_ready, s->ph_t0), SW_REPORT_EV_READY, s->idx, -1, NAN, NULL);
            push_event(c, t_ready, SW_EV_SITE_READY, s->idx, -1, 0, NULL);
            clog_(c, "site %s ready", s->sc->name);
        } else if (s->provisioning && !s->joined &&
                   m - s->prov_mono > delay_wall + c->o->join_timeout_s) {
            site_failed(c, s, "agent did not join in time");
        } else if (s->joined && m - s->last_seen > c->o->heartbeat_timeout_s) {
            sw_site_state st = sw_engine_site_state(c->engine, i);
            if (s->provisioning || (st != SW_SITE_OFF && st != SW_SITE_FAILED))
                site_failed(c, s, "heartbeat timeout");
            else
                s->joined = false; /* an idle static agent went away */
        }
    }
    if (m - c->last_hb >= 0.25) {
        c->last_hb = m;
        for (size_t i = 0; i < c->n_sites; i++)
            send_to(c, &c->sites[i], SW_MSG_HEARTBEAT, -1, NULL, 0);
    }
    for (size_t i = 0; i < c->n_sites; i++) {
        csite *s = &c->sites[i];
        if (s->member && s->tx.active) {
            sw_error e;
            if (sw_xfer_tx_pump(&s->tx, &s->peer, &e) != SW_OK)
                clog_(c, "site %s: %s", s->sc->name, e.msg);
        }
    }
}

/* ---- checkpoint ---- */

#define CKPT_MAGIC   "SWXCKPT1"
#define CKPT_VERSION 2u /* 2: rapl_energy_j */

typedef struct ckpt_site {
    int64_t steps_total, tokens_total;
    double training_s;
    int32_t rep_state;
} ckpt_site;

typedef struct ckpt_head {
    char magic[8];
    uint32_t version, scenario_crc;
    uint64_t n_params;
    uint32_t n_sites, has_momentum;
    double start_realtime, compression, t_ckpt;
    int64_t round_next, rounds_done, sync_bytes_total;
    double best_ppl, last_loss;
    uint64_t shards_len, journal_len;
    double rapl_energy_j; /* host RAPL energy counted so far (NAN: no counter) */
} ckpt_head;

static void ckpt_path(const coord *c, char *buf, size_t cap)
{
    sw_pathf(buf, cap, "%s/coordinator.ckpt", c->run_dir);
}

static int write_checkpoint(coord *c, sw_error *err)
{
    double now = run_t(c);
    /* Close every open phase so the journal holds the energy up to now. */
    for (size_t i = 0; i < c->n_sites; i++)
        if (c->sites[i].ph != SW_PHASE_OFF)
            set_phase_at(c, &c->sites[i], c->sites[i].ph, fmax(now, c->sites[i].ph_t0));
    size_t slen = sw_shards_serialized_size(c->shards);
    uint8_t *sbuf = malloc(slen ? slen : 1);
    if (!sbuf)
        return sw_errorf(err, SW_ERUNTIME, "checkpoint: out of memory");
    int rc = sw_shards_serialize(c->shards, sbuf, slen, &slen, err);
    if (rc != SW_OK) {
        free(sbuf);
        return rc;
    }
    ckpt_head h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CKPT_MAGIC, 8);
    h.version = CKPT_VERSION;
    h.scenario_crc = sw_exec_crc32(0, c->sc->resolved_yaml, strlen(c->sc->resolved_yaml));
    h.n_params = c->n_params;
    h.n_sites = (uint32_t)c->n_sites;
    h.has_momentum = c->momentum != NULL;
    h.start_realtime = c->start_realtime;
    h.compression = c->compression;
    h.t_ckpt = now;
    h.round_next = c->round_base + sw_engine_rounds_completed(c->engine);
    h.rounds_done = c->rounds_done;
    h.sync_bytes_total = c->sync_bytes_total;
    h.best_ppl = c->best_ppl;
    h.last_loss = c->last_loss;
    sw_rapl_sample(&c->rapl, mono_s(), true);
    h.rapl_energy_j = sw_rapl_energy_j(&c->rapl);
    h.shards_len = slen;
    h.journal_len = c->jr.len;
    char path[2200], tmp[2300];
    ckpt_path(c, path, sizeof path);
    sw_pathf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(sbuf);
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot write: %s", tmp, strerror(errno));
    }
    uint32_t crc = 0;
#define W(ptr, n)                                                                                  \
    do {                                                                                           \
        fwrite((ptr), 1, (n), f);                                                                  \
        crc = sw_exec_crc32(crc, (ptr), (n));                                                      \
    } while (0)
    W(&h, sizeof h);
    for (size_t i = 0; i < c->n_sites; i++) {
        ckpt_site cs;
        memset(&cs, 0, sizeof cs);
        cs.steps_total = c->sites[i].steps_total;
        cs.tokens_total = c->sites[i].tokens_total;
        cs.training_s = c->sites[i].training_s;
        cs.rep_state = c->sites[i].rep_state;
        W(&cs, sizeof cs);
    }
    W(c->global, c->n_params * sizeof(float));
    if (c->momentum)
        W(c->momentum, c->n_params * sizeof(float));
    W(sbuf, slen);
    W(c->jr.buf, c->jr.len);
#undef W
    fwrite(&crc, 4, 1, f);
    free(sbuf);
    bool ok = fflush(f) == 0 && !ferror(f);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0)
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot write: %s", path, strerror(errno));
    return SW_OK;
}

/* Reads the checkpoint into a malloc'd buffer and checks its frame. */
static int read_checkpoint(coord *c, uint8_t **buf, size_t *len, sw_error *err)
{
    char path[2200];
    ckpt_path(c, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sw_errorf(err, SW_EINPUT, "%s: cannot read: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (!*buf || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(*buf);
        return sw_errorf(err, SW_EINPUT, "%s: cannot read", path);
    }
    fclose(f);
    *len = (size_t)n;
    uint32_t crc;
    if (*len < sizeof(ckpt_head) + 4)
        return sw_errorf(err, SW_EINPUT, "%s: truncated", path);
    memcpy(&crc, *buf + *len - 4, 4);
    if (crc != sw_exec_crc32(0, *buf, *len - 4))
        return sw_errorf(err, SW_EINPUT, "%s: checksum mismatch (corrupt or truncated)", path);
    return SW_OK;
}

/* ---- set-up ---- */

static int setup_signals(coord *c, sw_error *err)
{
    const sw_scenario *sc = c->sc;
    sw_trace_options topt = sw_scenario_trace_options(sc);
    int rc = sw_trace_load(sc->trace.file, &topt, &c->trace, err);
    if (rc == SW_OK)
        rc = sw_scenario_apply_derive(sc, &c->trace, err);
    if (rc != SW_OK)
        return rc;
    /* The run's span (by default: when every region used has a signal), checked in core. */
    double end_unix_s;
    rc = sw_scenario_run_span(sc, c->trace, &c->start_unix_s, &end_unix_s, err);
    if (rc != SW_OK)
        return rc;
    for (size_t i = 0; i < c->n_sites; i++)
        c->sites[i].region = (size_t)sw_trace_region_index(c->trace, sc->sites[i].region);
    c->end_s = end_unix_s - c->start_unix_s; /* > 0: checked by sw_scenario_run_span */
    return SW_OK;
}

static void write_signals(coord *c)
{
    for (size_t reg = 0; reg < sw_trace_region_count(c->trace); reg++) {
        bool used = false;
        for (size_t i = 0; i < c->n_sites; i++)
            used |= c->sites[i].region == reg;
        if (!used)
            continue;
        sw_report_add_trace_signal(c->rep, c->trace, reg, c->start_unix_s, c->end_s);
    }
}

/* Keys for a local run: the coordinator's, and one folder per site with its agent keypair
 * and the coordinator's public key; every agent's public key is allow-listed. */
static int local_keys(coord *c, char *keys_dir, size_t cap, sw_error *err)
{
    sw_pathf(keys_dir, cap, "%s/keys", c->run_dir);
    char auth[2200], site_dir[2300], src[2300];
    sw_pathf(auth, sizeof auth, "%s/authorized", keys_dir);
    if (sw_mkdir_p(auth, 0700, err) != SW_OK)
        return SW_ERUNTIME;
    chmod(keys_dir, 0700);
    sw_keypair coord_kp;
    int rc = sw_keys_generate(keys_dir, "coordinator", &coord_kp, err);
    for (size_t i = 0; rc == SW_OK && i < c->n_sites; i++) {
        sw_pathf(site_dir, sizeof site_dir, "%s/site-%s", keys_dir, c->sc->sites[i].name);
        sw_keypair kp;
        rc = sw_keys_generate(site_dir, "agent", &kp, err);
        if (rc == SW_OK) {
            sw_pathf(src, sizeof src, "%s/coordinator.pub", site_dir);
            FILE *f = fopen(src, "w");
            if (!f)
                return sw_errorf(err, SW_ERUNTIME, "%s: cannot write", src);
            fprintf(f, "%s\n", coord_kp.pub);
            fclose(f);
            sw_pathf(src, sizeof src, "%s/%s.pub", auth, c->sc->sites[i].name);
            f = fopen(src, "w");
            if (!f)
                return sw_errorf(err, SW_ERUNTIME, "%s: cannot write", src);
            fprintf(f, "%s\n", kp.pub);
            fclose(f);
        }
    }
    return rc;
}

static int setup_socket(coord *c, const char *keys_dir, sw_error *err)
{
    c->ctx = zmq_ctx_new();
    if (!c->ctx)
        return sw_errorf(err, SW_ERUNTIME, "coordinator: cannot create a ZeroMQ context");
    int rc = SW_OK;
    if (keys_dir) {
        char path[2200];
        sw_keypair kp;
        sw_allow *allow = NULL;
        sw_pathf(path, sizeof path, "%s/coordinator.key", keys_dir);
        rc = sw_keys_load_pair(path, &kp, err);
        if (rc == SW_OK)
            rc = sw_allow_load_dir(keys_dir, &allow, err);
        if (rc == SW_OK)
            rc = sw_zap_start(c->ctx, allow, c->o->log, &c->zap, err);
        if (rc != SW_OK)
            return rc;
        c->router = zmq_socket(c->ctx, ZMQ_ROUTER);
        if (!c->router)
            return sw_errorf(err, SW_ERUNTIME, "coordinator: cannot create the ROUTER");
        if ((rc = sw_curve_server(c->router, &kp, err)) != SW_OK)
            return rc;
    } else {
        c->router = zmq_socket(c->ctx, ZMQ_ROUTER);
        if (!c->router)
            return sw_errorf(err, SW_ERUNTIME, "coordinator: cannot create the ROUTER");
    }
    int linger = 500, hwm = 0, one = 1;
    /* A frame above twice the protocol bound is dropped by libzmq before it is allocated
     * (and the peer disconnected); anything up to that reaches sw_msg_parse, which rejects
     * and logs what exceeds the bound. */
    int64_t maxmsg = 2 * (int64_t)(SW_PROTO_HEADER + SW_PROTO_MAX_PAYLOAD);
    int sockbuf = 4 << 20; /* room for a few model chunks in flight (bench/RESULTS.md) */
    const sw_sockopt opts[] = {
        {ZMQ_LINGER, "ZMQ_LINGER", &linger, sizeof linger, true},
        {ZMQ_SNDHWM, "ZMQ_SNDHWM", &hwm, sizeof hwm, true},
        {ZMQ_RCVHWM, "ZMQ_RCVHWM", &hwm, sizeof hwm, true},
        {ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", &maxmsg, sizeof maxmsg, true},
        {ZMQ_SNDBUF, "ZMQ_SNDBUF", &sockbuf, sizeof sockbuf, false},
        {ZMQ_RCVBUF, "ZMQ_RCVBUF", &sockbuf, sizeof sockbuf, false},
        {ZMQ_ROUTER_HANDOVER, "ZMQ_ROUTER_HANDOVER", &one, sizeof one, false},
    };
    if ((rc = sw_sockopts_set(c->router, opts, sizeof opts / sizeof *opts, "coordinator", err)))
        return rc;
    const char *ep = c->o->listen ? c->o->listen : "tcp://127.0.0.1:*";
    if (zmq_bind(c->router, ep) != 0)
        return sw_errorf(err, SW_EINPUT, "--listen %s: cannot bind: %s", ep, zmq_strerror(errno));
    size_t n = sizeof c->endpoint;
    if (zmq_getsockopt(c->router, ZMQ_LAST_ENDPOINT, c->endpoint, &n) != 0)
        return sw_errorf(err, SW_ERUNTIME, "--listen %s: ZMQ_LAST_ENDPOINT: %s", ep,
                         zmq_strerror(errno));
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
    c->sites = calloc(c->n_sites, sizeof *c->sites);
    c->esites = calloc(c->n_sites, sizeof *c->esites);
    if (!c->sites || !c->esites)
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
    int rc = sw_transport_check(o->listen, curve, o->insecure, o->log, err);
    if (rc != SW_OK)
        return rc;
    rc = setup_signals(c, err);
    if (rc != SW_OK)
        return rc;

    /* run folder */
    if (o->run_dir)
        sw_pathf(c->run_dir, sizeof c->run_dir, "%s", o->run_dir);
    else
        sw_pathf(c->run_dir, sizeof c->run_dir, "%s.run", o->out_path);
    if (sw_mkdir_p(c->run_dir, 0777, err) != SW_OK)
        return SW_ERUNTIME;

    /* model and data */
    sw_model_config mc;
    sw_kerror ke;
    if (sw_model_preset(sc->exec.preset, &mc) != SW_K_OK)
        return sw_errorf(err, SW_EINPUT, "%s: exec.preset: unknown model preset '%s'", sc->name,
                         sc->exec.preset);
    if (sc->exec.seq > mc.max_seq_len)
        return sw_errorf(err, SW_EINPUT, "%s: exec.seq: %d is longer than the %s context %d",
                         sc->name, sc->exec.seq, sc->exec.preset, mc.max_seq_len);
    if (!(c->eval_model = sw_model_create(&mc, NULL, &ke)))
        return sw_errorf(err, SW_ERUNTIME, "model: %s", ke.msg);
    sw_backend_cpu_set_threads(sc->exec.threads);
    c->n_params = sw_model_num_params(c->eval_model);
    if (sw_text_load(o->data_path, &c->text, &ke) != SW_K_OK)
        return sw_errorf(err, SW_EINPUT, "%s", ke.msg);
    sw_split_train_val(c->text.n, &c->train, &c->val);
    c->bt = (size_t)sc->exec.batch * sc->exec.seq;
    size_t train_n = c->train.end - c->train.begin;
    if (train_n < c->bt + 1 || c->val.end - c->val.begin < c->bt + 1)
        return sw_errorf(err, SW_EINPUT, "%s: too short for batches of %d x %d", o->data_path,
                         sc->exec.batch, sc->exec.seq);
    uint64_t data = (uint64_t)((train_n - 1) / c->bt) * c->bt;
    uint64_t want = (uint64_t)fmin((double)data, sc->model.tokens);
    c->data_tokens = want / c->bt * c->bt;
    if (c->data_tokens == 0)
        c->data_tokens = c->bt;
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
        s->upload = malloc(c->n_params * sizeof(float));
        if (!s->upload)
            return sw_errorf(err, SW_ERUNTIME, "coordinator: out of memory");
        c->esites[i] = (sw_engine_site){
            .name = s->sc->name, .region = s->region, .provision_s = s->sc->provision_s};
    }

    /* ledger and report */
    if ((rc = sw_ledger_create(c->start_unix_s, sc->policy.threshold_g_per_kwh, &c->ledger, err)) !=
        SW_OK)
        return rc;
    for (size_t i = 0; i < c->n_sites; i++) {
        sw_ledger_site_config lc = {.name = sc->sites[i].name,
                                    .marginal = c->trace,
                                    .marginal_region = c->sites[i].region,
                                    .pue = sc->sites[i].pue,
                                    .gpus = (unsigned)sc->sites[i].gpus};
        if ((rc = sw_ledger_add_site(c->ledger, &lc, &c->sites[i].ledger_site, err)) != SW_OK)
            return rc;
    }
    sw_report_meta meta = {.mode = SW_REPORT_EXEC,
                           .scenario_name = sc->name,
                           .scenario_yaml = sc->resolved_yaml,
                           .seed = sc->seed,
                           .created_utc = o->created_utc,
                           .loss_kind = SW_REPORT_LOSS_MEASURED,
                           .t0_unix_s = c->start_unix_s};
    if ((rc = sw_report_create(o->out_path, &meta, &c->rep, err)) != SW_OK)
        return rc;
    c->jr.rep = c->rep;
    c->jr.ledger = c->ledger;
    write_signals(c);
    for (size_t i = 0; i < c->n_sites; i++)
        sw_report_add_site(c->rep, sc->sites[i].name, sc->sites[i].region, sc->sites[i].gpus);

    /* resume or start */
    c->start_realtime = real_s();
    c->best_ppl = INFINITY;
    char cpath[2200];
    ckpt_path(c, cpath, sizeof cpath);
    struct stat st;
    uint64_t done_tokens = 0;
    if (o->resume && stat(cpath, &st) == 0) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if ((rc = read_checkpoint(c, &buf, &len, err)) != SW_OK) {
            free(buf);
            return rc;
        }
        ckpt_head h;
        memcpy(&h, buf, sizeof h);
        size_t need = sizeof h + c->n_sites * sizeof(ckpt_site) +
                      c->n_params * sizeof(float) * (h.has_momentum ? 2 : 1) + h.shards_len +
                      h.journal_len + 4;
        if (memcmp(h.magic, CKPT_MAGIC, 8) || h.version != CKPT_VERSION)
            rc = sw_errorf(err, SW_EINPUT, "%s: not a coordinator checkpoint of this version",
                           cpath);
        else if (h.scenario_crc != sw_exec_crc32(0, sc->resolved_yaml, strlen(sc->resolved_yaml)))
            rc = sw_errorf(err, SW_EINPUT, "%s: written for another scenario", cpath);
        else if (h.n_params != c->n_params || h.n_sites != c->n_sites ||
                 (h.has_momentum != 0) != (c->momentum != NULL) || need != len)
            rc = sw_errorf(err, SW_EINPUT, "%s: model, sites or length do not match", cpath);
        size_t off = sizeof h;
        for (size_t i = 0; rc == SW_OK && i < c->n_sites; i++) {
            ckpt_site cs;
            memcpy(&cs, buf + off, sizeof cs);
            off += sizeof cs;
            c->sites[i].steps_total = cs.steps_total;
            c->sites[i].tokens_total = cs.tokens_total;
            c->sites[i].training_s = cs.training_s;
            c->sites[i].rep_state = (sw_report_state)cs.rep_state;
        }
        if (rc == SW_OK) {
            memcpy(c->global, buf + off, c->n_params * sizeof(float));
            off += c->n_params * sizeof(float);
            if (c->momentum) {
                memcpy(c->momentum, buf + off, c->n_params * sizeof(float));
                off += c->n_params * sizeof(float);
            }
            rc = sw_shards_deserialize(buf + off, h.shards_len, &c->shards, err);
            off += h.shards_len;
        }
        if (rc == SW_OK)
            rc = sw_journal_replay(&c->jr, buf + off, h.journal_len, err);
        free(buf);
        if (rc != SW_OK)
            return rc;
        for (size_t i = 0; i < c->n_sites; i++)
            sw_shards_site_left(c->shards, (uint32_t)i, NULL, err);
        c->start_realtime = h.start_realtime;
        c->round_base = h.round_next;
        c->rounds_done = h.rounds_done;
        c->sync_bytes_total = h.sync_bytes_total;
        c->best_ppl = h.best_ppl;
        c->last_loss = h.last_loss;
        c->resumed = true;
        c->event_t = h.t_ckpt;
        done_tokens = sw_shards_done_tokens(c->shards);
        c->mono0 = mono_s();
        c->t_base = fmax(h.t_ckpt, (real_s() - c->start_realtime) * c->compression);
        c->eng_base = c->t_base;
        /* The sites' processes went down with the old coordinator. */
        for (size_t i = 0; i < c->n_sites; i++) {
            csite *s = &c->sites[i];
            s->state_t = c->t_base;
            if (s->rep_state != SW_REPORT_STATE_OFF) {
                state_row(c, i, c->t_base, SW_REPORT_STATE_OFF);
                sw_journal_power(&c->jr, (int)i, c->t_base, s->sc->power_w.off);
            }
            s->ph_t0 = c->t_base;
        }
        event_row(c, c->t_base, SW_REPORT_EV_NOTE, -1, -1, (double)h.round_next,
                  "coordinator restarted from its checkpoint; value = next round");
        if (isfinite(h.rapl_energy_j)) /* the energy before the restart is kept */
            sw_rapl_open(&c->rapl, NULL, h.rapl_energy_j, mono_s());
    } else {
        if ((rc = sw_shards_create(c->data_tokens, 16 * (uint64_t)c->bt, &c->shards, err)) != SW_OK)
            return rc;
        for (size_t i = 0; i < c->n_sites; i++) {
            state_row(c, i, 0, SW_REPORT_STATE_OFF);
            sw_journal_power(&c->jr, (int)i, 0, sc->sites[i].power_w.off);
        }
        /* RAPL measures the whole package, which local sites share, so it cannot be split
         * into per-site power: sites are modelled either way, and a readable counter is
         * reported beside the model as the host's measured energy. */
        sw_rapl_open(&c->rapl, NULL, 0, mono_s());
        bool rapl = c->rapl.on;
        event_row(c, 0, SW_REPORT_EV_NOTE, -1, -1, NAN,
                  rapl ? "power: modelled from the scenario's power_w per state; host RAPL "
                         "energy in summary rapl_host_energy_kwh"
                       : "power: modelled from the scenario's power_w per state (no RAPL "
                         "counters)");
        double loss;
        evaluate_global(c, &loss);
        sw_report_global_row g = {.t_s = 0, .tokens = 0, .loss = loss, .ppl = exp(loss)};
        sw_journal_global(&c->jr, &g);
        c->last_loss = loss;
    }
    c->global_crc = sw_exec_crc32(0, c->global, c->n_params * sizeof(float));
    if (c->jr.status != SW_OK)
        return sw_errorf(err, c->jr.status, "%s", c->jr.err.msg);

    sw_engine_config ec = {
        .start_unix_s = c->start_unix_s + c->eng_base,
        .end_s = fmax(c->end_s - c->eng_base, 1e-3),
        .trace = c->trace,
        .sites = c->esites,
        .n_sites = c->n_sites,
        .policy = {.kind = sc->policy.kind,
                   .threshold_g_per_kwh = sc->policy.threshold_g_per_kwh,
                   .hysteresis_s = sc->policy.deprovision_after_s,
                   .poll_s = sc->policy.poll_s},
        .rounds = {.min_duration_s = sc->rounds.min_duration_s},
        .tokens_target = c->data_tokens > done_tokens ? c->data_tokens - done_tokens : 1,
    };
    if ((rc = sw_engine_create(&ec, &c->engine, err)) != SW_OK)
        return rc;

    /* messaging and provisioners */
    int kind = o->provisioner >= 0 ? o->provisioner : (int)sc->exec.provisioner;
    char keys_dir[2200];
    const char *keys = o->keys_dir;
    if (!keys && !o->insecure && kind == SW_PROVISIONER_LOCAL) {
        if ((rc = local_keys(c, keys_dir, sizeof keys_dir, err)) != SW_OK)
            return rc;
        keys = keys_dir;
    }
    if (o->insecure)
        keys = NULL;
    if ((rc = setup_socket(c, keys, err)) != SW_OK)
        return rc;
    c->prov = (sw_provisioner){.kind = (sw_provisioner_kind)kind,
                               .agent_exe = o->agent_exe,
                               .coordinator = o->advertise ? o->advertise : c->endpoint,
                               .keys_root = kind == SW_PROVISIONER_LOCAL && keys ? keys : NULL,
                               .provision_cmd = o->provision_cmd,
                               .release_cmd = o->release_cmd,
                               .cmd_timeout_s = o->cmd_timeout_s,
                               .run_dir = c->run_dir,
                               .log = o->log};
    if (kind == SW_PROVISIONER_LOCAL && keys) {
        sw_pathf(c->keys_root, sizeof c->keys_root, "%s", keys);
        c->prov.keys_root = c->keys_root;
    }
    if (kind == SW_PROVISIONER_COMMAND && !o->provision_cmd)
        return sw_errorf(err, SW_EINPUT, "--provision-cmd: required by the command provisioner");
    /* The clock starts now that the set-up (validation, keys) is done. */
    c->mono0 = mono_s();
    if (!c->resumed)
        c->start_realtime = real_s();
    clog_(c, "listening on %s (%s provisioner%s, %s)", c->endpoint,
          kind == SW_PROVISIONER_LOCAL     ? "local"
          : kind == SW_PROVISIONER_COMMAND ? "command"
                                           : "static",
          keys ? ", CURVE" : ", no CURVE", c->resumed ? "resumed from checkpoint" : "new run");
    return sw_report_error(c->rep) ? sw_errorf(err, SW_ERUNTIME, "%s", sw_report_error(c->rep))
                                   : SW_OK;
}

/* ---- the run ---- */

static void run_loop(coord *c)
{
    double wake = 0;
    while (c->status == SW_OK && !stop_requested) {
        drain_socket(c); /* what arrived while we were busy counts before any timeout */
        sw_rapl_sample(&c->rapl, mono_s(), false);
        eval_collect(c, false);
        check_sites(c);
        wake = step_all(c);
        if (c->jr.status != SW_OK) {
            fail(c, c->jr.status, "%s", c->jr.err.msg);
            break;
        }
        if (sw_engine_done(c->engine))
            break;
        double now = run_t(c);
        double wait_ms = isfinite(wake) ? (wake - now) / c->compression * 1000 : 20;
        zmq_pollitem_t it = {.socket = c->router, .events = ZMQ_POLLIN};
        int ms = (int)fmin(20, fmax(0, wait_ms));
        if (zmq_poll(&it, 1, ms) > 0)
            drain_socket(c);
    }
}

static int finish(coord *c, sw_coord_result *res, sw_error *err)
{
    eval_collect(c, true);
    sw_rapl_sample(&c->rapl, mono_s(), true);
    double now = run_t(c);
    for (size_t i = 0; i < c->n_sites; i++) {
        csite *s = &c->sites[i];
        if (s->joined) { /* the run is over: every agent, static ones too, leaves (exit 0) */
            sw_msg_release r = {.stay = 0};
            uint8_t pl[8];
            size_t n = sw_msg_put_release(pl, sizeof pl, &r);
            send_to(c, s, SW_MSG_RELEASE, -1, pl, n);
        }
        if (s->ph != SW_PHASE_OFF) {
            set_phase_at(c, s, SW_PHASE_OFF, fmax(now, s->ph_t0));
            state_row(c, i, fmax(now, s->ph_t0), SW_REPORT_STATE_OFF);
        }
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
    double rapl_kwh = sw_rapl_energy_j(&c->rapl) / 3.6e6;
    sw_report_extra extras[7] = {{"time_compression", c->compression, "1"},
                                 {"power_measured", 0, "1"},
                                 {"rejected_messages", (double)c->rejected, "1"},
                                 {"train_wall_s", wall[0], "s"},
                                 {"sync_wall_s", wall[1], "s"},
                                 {"idle_wall_s", wall[2], "s"},
                                 {"rapl_host_energy_kwh", rapl_kwh, "kWh"}};
    sw_report_summary sum = {
        .runtime_h = now / 3600.0,
        .final_loss = c->last_loss,
        .final_ppl = exp(c->last_loss),
        .best_ppl = isfinite(c->best_ppl) ? c->best_ppl : exp(c->last_loss),
        .tokens = (int64_t)sw_shards_done_tokens(c->shards),
        .rounds = c->rounds_done,
        .sync_bytes = c->sync_bytes_total,
        .extras = extras,
        .n_extras = c->rapl.on ? 7 : 6,
    };
    int rc = sw_ledger_report_summary(c->ledger, &sum, err);
    if (rc != SW_OK)
        return rc;
    sw_report_set_summary(c->rep, &sum);
    for (size_t i = 0; i < c->n_sites; i++) {
        csite *s = &c->sites[i];
        sw_report_site_summary ss = {.training_h = s->training_s / 3600.0,
                                     .tokens = s->tokens_total};
        if ((rc = sw_ledger_report_site_summary(c->ledger, s->ledger_site, &ss, err)) != SW_OK)
            return rc;
        sw_report_set_site_summary(c->rep, (int)i, &ss);
    }
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
    if (c->jr.status != SW_OK)
        return sw_errorf(err, c->jr.status, "%s", c->jr.err.msg);
    rc = sw_report_close(c->rep, err);
    c->rep = NULL;
    if (rc == SW_OK) { /* the run is complete: a later --resume must not continue it */
        char path[2200];
        ckpt_path(c, path, sizeof path);
        unlink(path);
    }
    return rc;
}

int sw_coord_run(const sw_coord_options *o, sw_coord_result *result, sw_error *err)
{
    double w0 = mono_s();
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
        if (c->status != SW_OK) {
            *err = c->err;
            rc = c->status;
        } else {
            if (stop_requested)
                clog_(c, "signal received: releasing sites and writing the report");
            rc = finish(c, result, err);
        }
    }
    if (c->eval_running)
        pthread_join(c->eval_th, NULL);
    for (size_t i = 0; c->sites && i < c->n_sites; i++)
        sw_prov_cleanup(&c->sites[i].prov);
    if (c->rep)
        sw_report_abort(c->rep);
    if (c->router)
        zmq_close(c->router);
    sw_zap_stop(c->zap);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    if (result && rc == SW_OK)
        result->wall_s = mono_s() - w0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sw_engine_destroy(c->engine);
    sw_ledger_destroy(c->ledger);
    sw_shards_destroy(c->shards);
    sw_trace_destroy(c->trace);
    sw_journal_free(&c->jr);
    sw_model_destroy(c->eval_model);
    sw_text_free(&c->text);
    for (size_t i = 0; c->sites && i < c->n_sites; i++)
        free(c->sites[i].upload);
    free(c->sites);
    free(c->esites);
    free(c->global);
    free(c->momentum);
    free(c);
    return rc;
}
