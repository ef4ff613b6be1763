/* agent.c - the site agent (see agent.h). Two threads: the main thread owns the socket
 * (messages, heartbeats, transfers) and a worker thread runs optimizer steps, so a slow step
 * (seconds for a big model, or a loaded CPU) never delays a heartbeat. They share the lease
 * list and counters under one mutex; the model's parameters belong to the worker while
 * `go` is set or a step is running, and to the main thread otherwise. */
#include "exec/agent.h"
#include "exec/fmt.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "exec/auth.h"
#include "exec/crc32.h"
#include "exec/link.h"
#include "exec/proto.h"
#include "exec/round_limits.h"
#include "exec/sockopt.h"
#include "kernels/backend.h"
#include "kernels/data.h"
#include "kernels/manifest_stream.h"
#include "kernels/model.h"
#include "kernels/optim.h"

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void sw_agent_usage(FILE *out)
{
    fprintf(out,
            "usage: spillway agent --coordinator ADDR --site NAME [--keys DIR] [--data FILE]\n"
            "                      [--backend NAME] [--coordinator-timeout S]\n\n"
            "Runs one site of a spillway deployment: joins the coordinator at ADDR as the\n"
            "scenario site NAME, trains the global model it is sent on the data it is leased,\n"
            "returns its work at the end of each round and exits when released.\n\n"
            "  --coordinator ADDR   ZeroMQ endpoint, e.g. tcp://10.0.0.1:5555\n"
            "  --site NAME          the site's name in the coordinator's scenario\n"
            "  --keys DIR           CURVE: DIR/agent.key (this agent's keypair, from\n"
            "                       `spillway keygen -o DIR --name agent`) and\n"
            "                       DIR/coordinator.pub (the coordinator's public key)\n"
            "  --data FILE          corpus path here (default: the coordinator's path)\n"
            "  --backend NAME       kernels backend: cpu (default), or cuda where built with\n"
            "                       CUDA and a GPU is visible\n"
            "  --coordinator-timeout S  leave when the coordinator is silent S seconds (10)\n");
}

int sw_agent_parse_args(int argc, char **argv, sw_agent_options *o, int *help, sw_error *err)
{
    *o = (sw_agent_options){.coordinator_timeout_s = 10.0, .log = stderr};
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            return SW_OK;
        }
        const char **dst = !strcmp(a, "--coordinator") ? &o->coordinator
                           : !strcmp(a, "--site")      ? &o->site
                           : !strcmp(a, "--keys")      ? &o->keys_dir
                           : !strcmp(a, "--data")      ? &o->data_path
                           : !strcmp(a, "--backend")   ? &o->backend
                                                       : NULL;
        if (dst || !strcmp(a, "--coordinator-timeout")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return sw_errorf(err, SW_EINPUT, "%s: expected a value", a);
            if (dst) {
                *dst = argv[++i];
                continue;
            }
            char *end;
            double v = strtod(argv[++i], &end);
            if (*end || !(v > 0) || !isfinite(v))
                return sw_errorf(err, SW_EINPUT, "%s: expected a number of seconds > 0, got '%s'",
                                 a, argv[i]);
            o->coordinator_timeout_s = v;
            continue;
        }
        return sw_errorf(err, SW_EINPUT, "%s: unknown flag (try --help)", a);
    }
    if (!o->coordinator)
        return sw_errorf(err, SW_EINPUT, "--coordinator: required");
    if (!o->site)
        return sw_errorf(err, SW_EINPUT, "--site: required");
    char why[256];
    if (o->backend && !sw_backend_by_name(o->backend, why, sizeof why))
        return sw_errorf(err, SW_EINPUT, "--backend: %s", why);
    if (strlen(o->site) >= SW_PROTO_NAME_MAX) /* the JOIN message's field */
        return sw_errorf(err, SW_EINPUT, "--site: %zu bytes, expected at most %d", strlen(o->site),
                         SW_PROTO_NAME_MAX - 1);
    return SW_OK;
}

static volatile sig_atomic_t leave_requested;
static void on_term(int sig)
{
    (void)sig;
    leave_requested = 1;
}

typedef enum agent_state { A_JOINING, A_IDLE, A_RECEIVING, A_TRAINING, A_UPLOADING } agent_state;

typedef struct agent {
    const sw_agent_options *o;
    void *ctx, *sock;
    sw_peer peer;
    agent_state st;
    sw_msg_welcome w;
    bool welcomed;
    const sw_backend *be; /* kernels backend the model lives on (--backend) */
    sw_model *model;
    sw_adamw opt;
    bool opt_ready;
    sw_text text;         /* byte corpus (welcome data_kind 0) */
    sw_span train;        /* ... its training split */
    sw_manifest manifest; /* dataset folder (data_kind 1): leases are streamed from shards */
    bool have_manifest;
    sw_lease_stream *stream;            /* the worker's: the lease it is reading (stream_lease) */
    uint64_t stream_lease, stream_base; /* its lease id; its consumed count when opened */
    int32_t *in, *tg;
    size_t bt;       /* tokens per step */
    float *recv_buf; /* incoming global model (copied into the model when complete) */
    float *send_buf; /* host copy of the model for the upload; NULL on the CPU backend */
    sw_xfer_rx rx;
    sw_xfer_tx tx;
    int64_t round;
    /* this round's leases */
    uint32_t n_leases;
    uint64_t lease_id[SW_PROTO_MAX_LEASES], lease_begin[SW_PROTO_MAX_LEASES],
        lease_end[SW_PROTO_MAX_LEASES], consumed[SW_PROTO_MAX_LEASES];
    bool lease_wait, no_data;
    /* shared with the worker (under mu) */
    pthread_t worker;
    bool worker_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool go, busy, quit, need_lease, finish_pending;
    int worker_rc;
    char worker_msg[512];
    uint64_t round_tokens, round_steps;
    sw_round_limits limits; /* this round's deadline and token limit (exec/round_limits.h) */
    double round_loss_sum;
    /* cumulative */
    int64_t steps, tokens;
    double train_s;
    double metric_loss_sum;
    int metric_n;
    double last_hb, last_metrics, last_seen, last_join;
    bool released;
} agent;

static void logf_(agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(agent *a, const char *fmt, ...)
{
    if (!a->o->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(a->o->log, "spillway agent %s: ", a->o->site);
    vfprintf(a->o->log, fmt, ap);
    fputc('\n', a->o->log);
    fflush(a->o->log);
    va_end(ap);
}

static int send_simple(agent *a, sw_msg_type t, const void *pl, size_t n, sw_error *err)
{
    return sw_link_send(&a->peer, t, a->round, pl, n, false, err);
}

static int send_join(agent *a, sw_error *err)
{
    sw_msg_join j = {.pid = (uint32_t)getpid()};
    sw_pathf(j.site, sizeof j.site, "%s", a->o->site);
    uint8_t pl[128];
    size_t n = sw_msg_put_join(pl, sizeof pl, &j);
    a->last_join = mono_s();
    return send_simple(a, SW_MSG_JOIN, pl, n, err);
}

static void *worker_main(void *arg);

static int open_bytes(agent *a, const char *path, sw_error *err)
{
    sw_kerror ke;
    if (sw_text_load(path, &a->text, &ke) != SW_K_OK)
        return sw_errorf(err, SW_EINPUT, "%s", ke.msg);
    sw_span val;
    sw_split_train_val(a->text.n, &a->train, &val);
    return SW_OK;
}

/* The dataset folder: this agent's copy must be the one the coordinator leases from. Only the
 * manifest is read here; shards are mapped one lease at a time by the worker. */
static int open_manifest(agent *a, const char *dir, const sw_msg_welcome *w, sw_error *err)
{
    sw_kerror ke;
    if (sw_manifest_load(dir, &a->manifest, &ke) != SW_K_OK)
        return sw_errorf(err, SW_EINPUT, "%s", ke.msg);
    a->have_manifest = true;
    const sw_manifest *m = &a->manifest;
    if (m->tokenizer_crc != w->tokenizer_crc || m->train_tokens != w->train_tokens)
        return sw_errorf(err, SW_EINPUT,
                         "%s: tokenizer_crc %08x and %llu training tokens, the coordinator's "
                         "dataset has %08x and %llu (a different copy?)",
                         dir, m->tokenizer_crc, (unsigned long long)m->train_tokens,
                         w->tokenizer_crc, (unsigned long long)w->train_tokens);
    if (m->vocab_size > w->vocab_size)
        return sw_errorf(err, SW_EINPUT, "%s: vocab_size %u, the model has %u rows", dir,
                         m->vocab_size, w->vocab_size);
    return SW_OK;
}

/* WELCOME: build the model, optimizer and data as the coordinator says. */
static int on_welcome(agent *a, const sw_msg_welcome *w, sw_error *err)
{
    if (a->welcomed)
        return SW_OK; /* a repeated JOIN got a second answer */
    sw_model_config cfg;
    sw_kerror ke;
    if (sw_model_preset(w->preset, &cfg) != SW_K_OK)
        return sw_errorf(err, SW_EINPUT, "welcome: preset '%s' unknown to this agent", w->preset);
    cfg.vocab_size = (int)w->vocab_size;
    char why[256];
    if (!(a->be = sw_backend_by_name(a->o->backend ? a->o->backend : "cpu", why, sizeof why)))
        return sw_errorf(err, SW_EINPUT, "--backend: %s", why);
    if (!(a->model = sw_model_create(&cfg, a->be, &ke)))
        return sw_errorf(err, SW_ERUNTIME, "model: %s", ke.msg);
    if (sw_model_num_params(a->model) != w->n_params)
        return sw_errorf(err, SW_EINPUT, "welcome: n_params %llu, preset %s has %zu",
                         (unsigned long long)w->n_params, w->preset, sw_model_num_params(a->model));
    sw_backend_cpu_set_threads((int)w->threads);
    sw_adamw_config ac = {.lr = w->lr, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f};
    if (sw_adamw_init(&a->opt, w->n_params, &ac, a->be, &ke) != SW_K_OK)
        return sw_errorf(err, SW_ERUNTIME, "optimizer: %s", ke.msg);
    a->opt_ready = true;
    const char *data = a->o->data_path ? a->o->data_path : w->data_path;
    int drc = w->data_kind ? open_manifest(a, data, w, err) : open_bytes(a, data, err);
    if (drc != SW_OK)
        return drc;
    a->bt = (size_t)w->batch * w->seq;
    a->in = malloc(a->bt * sizeof *a->in);
    a->tg = malloc(a->bt * sizeof *a->tg);
    a->recv_buf = malloc(w->n_params * sizeof(float));
    if (a->be != sw_backend_cpu())
        a->send_buf = malloc(w->n_params * sizeof(float));
    if (!a->in || !a->tg || !a->recv_buf || (a->be != sw_backend_cpu() && !a->send_buf))
        return sw_errorf(err, SW_ERUNTIME, "agent: out of memory");
    a->w = *w;
    a->welcomed = true;
    if (pthread_create(&a->worker, NULL, worker_main, a) != 0)
        return sw_errorf(err, SW_ERUNTIME, "agent: cannot start the training thread");
    a->worker_started = true;
    a->st = A_IDLE;
    logf_(a, "joined as site %u (%s, %llu parameters)", w->site_index, w->preset,
          (unsigned long long)w->n_params);
    return SW_OK;
}

/* Ends the round here: report the work and start returning the model. */
static int send_metrics(agent *a, sw_error *err);

static int finish_round(agent *a, sw_error *err)
{
    if (a->metric_n) { /* the last steps' figures before the work */
        int mrc = send_metrics(a, err);
        if (mrc != SW_OK)
            return mrc;
    }
    sw_msg_work wk = {.tokens = a->round_tokens,
                      .steps = a->round_steps,
                      .loss = a->round_steps ? a->round_loss_sum / (double)a->round_steps : NAN,
                      .model_bytes = a->w.n_params * sizeof(float),
                      .n_leases = a->n_leases};
    /* The parameters themselves on the CPU backend; a host copy of a device's. */
    float *params = sw_model_params(a->model);
    if (a->send_buf) {
        a->be->copy_to_host(a->send_buf, params, wk.model_bytes);
        params = a->send_buf;
    }
    wk.model_crc = sw_exec_crc32(0, params, wk.model_bytes);
    for (uint32_t i = 0; i < a->n_leases; i++) {
        wk.lease_id[i] = a->lease_id[i];
        wk.consumed[i] = a->consumed[i];
    }
    static uint8_t pl[2048];
    size_t n = sw_msg_put_work(pl, sizeof pl, &wk);
    int rc = send_simple(a, SW_MSG_WORK, pl, n, err);
    if (rc != SW_OK)
        return rc;
    sw_xfer_tx_start(&a->tx, params, wk.model_bytes, a->w.chunk_bytes, a->w.window_chunks,
                     a->round);
    a->st = A_UPLOADING;
    return sw_xfer_tx_pump(&a->tx, &a->peer, err);
}

static int request_lease(agent *a, sw_error *err)
{
    if (a->lease_wait || a->no_data)
        return SW_OK;
    if (a->n_leases == SW_PROTO_MAX_LEASES) { /* a WORK message can report no more */
        a->no_data = true;
        return SW_OK;
    }
    a->lease_wait = true;
    return send_simple(a, SW_MSG_LEASE_REQ, NULL, 0, err);
}

static int send_metrics(agent *a, sw_error *err)
{
    pthread_mutex_lock(&a->mu);
    sw_msg_metrics m = {.step = a->steps,
                        .tokens = a->tokens,
                        .loss = a->metric_n ? a->metric_loss_sum / a->metric_n : NAN,
                        .train_s = a->train_s};
    a->metric_loss_sum = 0;
    a->metric_n = 0;
    pthread_mutex_unlock(&a->mu);
    a->last_metrics = mono_s();
    uint8_t pl[64];
    size_t n = sw_msg_put_metrics(pl, sizeof pl, &m);
    return send_simple(a, SW_MSG_METRICS, pl, n, err);
}

/* Tokens the next step moves its lease on (under mu): B x T, or a shard stream's last piece. */
static uint64_t next_step_tokens(const agent *a)
{
    if (!a->have_manifest || a->n_leases == 0)
        return a->bt;
    uint32_t k = a->n_leases - 1;
    uint64_t left = a->lease_end[k] - a->lease_begin[k] - a->consumed[k];
    return left && left < a->bt ? left : a->bt;
}

/* The next batch of lease `lease_id` ([begin, end) of the training stream, `consumed` of it
 * done) into a->in/a->tg: *rows rows of T, and *tokens, how far it moves the lease on (a
 * stream's last call may give rows = 0 and the dropped tail). Runs on the worker, unlocked. */
static int next_batch(agent *a, uint64_t lease_id, uint64_t begin, uint64_t end, uint64_t consumed,
                      int *rows, uint64_t *tokens, sw_kerror *ke)
{
    if (!a->have_manifest) {
        const uint8_t *tok = a->text.bytes + a->train.begin + begin + consumed;
        for (size_t i = 0; i < a->bt; i++) {
            a->in[i] = tok[i];
            a->tg[i] = tok[i + 1];
        }
        *rows = (int)a->w.batch;
        *tokens = a->bt;
        return SW_K_OK;
    }
    if (a->stream && a->stream_lease != lease_id) {
        sw_lease_stream_close(a->stream);
        a->stream = NULL;
    }
    if (!a->stream) { /* a new lease, or the remainder of one returned earlier */
        int rc = sw_lease_stream_open_range(&a->manifest, begin + consumed, end, (int)a->w.batch,
                                            (int)a->w.seq, false, &a->stream, ke);
        if (rc != SW_K_OK)
            return rc;
        a->stream_lease = lease_id;
        a->stream_base = consumed;
    }
    int rc = sw_lease_stream_next(a->stream, a->in, a->tg, rows, ke);
    if (rc != SW_K_OK)
        return rc;
    *tokens = a->stream_base + sw_lease_stream_consumed(a->stream) - consumed;
    return SW_K_OK;
}

/* The worker: optimizer steps on the front of the newest lease while `go` is set. */
static void *worker_main(void *arg)
{
    agent *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->quit) {
        if (a->go &&
            !sw_round_may_step(&a->limits, mono_s(), a->round_tokens, next_step_tokens(a))) {
            a->go = false; /* the plan's deadline or token limit: return the work */
            a->finish_pending = true;
        }
        uint32_t k = a->n_leases - 1;
        uint64_t left = a->n_leases > 0 ? a->lease_end[k] - a->lease_begin[k] - a->consumed[k] : 0;
        /* bytes: leases hold whole steps and a ragged end is skipped; shards: the stream ends
         * a lease with a short batch and counts what it drops */
        bool have = a->go && a->n_leases > 0 && (a->have_manifest ? left > 0 : left >= a->bt);
        if (!have) {
            if (a->go && a->n_leases > 0)
                a->need_lease = true; /* leases hold whole steps; a ragged end is skipped */
            a->busy = false;
            pthread_cond_broadcast(&a->cv);
            pthread_cond_wait(&a->cv, &a->mu);
            continue;
        }
        a->busy = true;
        uint64_t lease_id = a->lease_id[k], begin = a->lease_begin[k], end = a->lease_end[k];
        uint64_t consumed = a->consumed[k];
        pthread_mutex_unlock(&a->mu);

        double t0 = mono_s();
        float loss = NAN;
        sw_kerror ke;
        int rows = 0;
        uint64_t step_tokens = 0;
        int rc = next_batch(a, lease_id, begin, end, consumed, &rows, &step_tokens, &ke);
        if (rc == SW_K_OK && rows > 0)
            rc = sw_model_forward(a->model, a->in, a->tg, rows, (int)a->w.seq, &loss, &ke);
        if (rc == SW_K_OK && rows > 0) {
            sw_model_zero_grad(a->model);
            rc = sw_model_backward(a->model, &ke);
        }
        if (rc == SW_K_OK && rows > 0) {
            sw_clip_grad_norm(a->be, sw_model_grads(a->model), a->opt.n, 1.0f);
            sw_adamw_step(&a->opt, sw_model_params(a->model), sw_model_grads(a->model), a->w.lr);
        }
        double dt = mono_s() - t0;

        pthread_mutex_lock(&a->mu);
        if (rc != SW_K_OK) {
            a->worker_rc = SW_ERUNTIME;
            sw_pathf(a->worker_msg, sizeof a->worker_msg, "training step: %s", ke.msg);
            a->go = false;
            continue;
        }
        a->consumed[k] += step_tokens;
        a->round_tokens += step_tokens;
        a->tokens += (int64_t)step_tokens;
        if (rows == 0) /* the stream's dropped tail: consumed, not trained */
            continue;
        a->train_s += dt;
        a->round_steps++;
        a->round_loss_sum += loss;
        a->steps++;
        a->metric_loss_sum += loss;
        a->metric_n++;
    }
    a->busy = false;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Handles one received frame; malformed ones are logged and dropped. */
static int on_frame(agent *a, const uint8_t *f, size_t len, sw_error *err)
{
    sw_msg_header h;
    const uint8_t *p;
    sw_error e;
    if (sw_msg_parse(f, len, &h, &p, &e) != SW_OK) {
        logf_(a, "rejected a message: %s", e.msg);
        return SW_OK;
    }
    a->last_seen = mono_s();
    int rc = SW_OK;
    switch (h.type) {
    case SW_MSG_WELCOME: {
        sw_msg_welcome w;
        if ((rc = sw_msg_get_welcome(p, h.payload_len, &w, &e)) == SW_OK)
            return on_welcome(a, &w, err);
        break;
    }
    case SW_MSG_REJECT: {
        sw_msg_text t;
        if (sw_msg_get_text(p, h.payload_len, &t, &e) != SW_OK)
            sw_pathf(t.text, sizeof t.text, "(unreadable reason)");
        return sw_errorf(err, SW_EINPUT, "coordinator refused site %s: %s", a->o->site, t.text);
    }
    case SW_MSG_HEARTBEAT:
        return SW_OK;
    case SW_MSG_PLAN: {
        sw_msg_plan pl;
        if ((rc = sw_msg_get_plan(p, h.payload_len, &pl, &e)) != SW_OK)
            break;
        if (a->st != A_IDLE || pl.model_bytes != a->w.n_params * sizeof(float)) {
            rc = sw_errorf(&e, SW_EINPUT, "message plan: unexpected in this state or model size");
            break;
        }
        a->round = h.round;
        sw_xfer_rx_start(&a->rx, a->recv_buf, pl.model_bytes, pl.model_crc, h.round);
        a->st = A_RECEIVING;
        pthread_mutex_lock(&a->mu);
        a->n_leases = 0;
        a->lease_wait = a->no_data = a->need_lease = a->finish_pending = false;
        a->round_tokens = a->round_steps = 0;
        a->round_loss_sum = 0;
        a->limits = sw_round_limits_of(&pl, mono_s());
        pthread_mutex_unlock(&a->mu);
        return SW_OK;
    }
    case SW_MSG_CHUNK: {
        sw_msg_chunk c;
        bool done;
        if ((rc = sw_msg_get_chunk(p, h.payload_len, &c, &e)) != SW_OK)
            break;
        if ((rc = sw_xfer_rx_chunk(&a->rx, &a->peer, h.round, &c, &done, &e)) != SW_OK)
            break;
        if (done) {
            /* worker idle */
            a->be->copy_to_device(sw_model_params(a->model), a->recv_buf, a->rx.total);
            a->st = A_TRAINING;
            a->last_metrics = mono_s();
            pthread_mutex_lock(&a->mu);
            a->go = true;
            a->need_lease = true;
            pthread_mutex_unlock(&a->mu);
            return SW_OK;
        }
        return SW_OK;
    }
    case SW_MSG_ACK: {
        sw_msg_ack ack;
        if ((rc = sw_msg_get_ack(p, h.payload_len, &ack, &e)) != SW_OK)
            break;
        if (a->st != A_UPLOADING || h.round != a->round) {
            rc = sw_errorf(&e, SW_EINPUT, "message ack: no upload for round %lld",
                           (long long)h.round);
            break;
        }
        if ((rc = sw_xfer_tx_ack(&a->tx, &ack, &e)) != SW_OK)
            break;
        if (sw_xfer_tx_done(&a->tx))
            a->st = A_IDLE;
        else
            return sw_xfer_tx_pump(&a->tx, &a->peer, err);
        return SW_OK;
    }
    case SW_MSG_LEASE: {
        sw_msg_lease l;
        if ((rc = sw_msg_get_lease(p, h.payload_len, &l, &e)) != SW_OK)
            break;
        if (a->st != A_TRAINING || h.round != a->round || !a->lease_wait) {
            if (a->st == A_TRAINING || a->st == A_RECEIVING)
                rc = sw_errorf(&e, SW_EINPUT, "message lease: not asked for");
            /* a lease answering a request of a round that just ended: the coordinator takes
             * it back with the round's work */
            break;
        }
        a->lease_wait = false;
        if (!l.lease_id) {
            a->no_data = true; /* data used up: return what was done */
            logf_(a, "no data left; returning the work of round %lld", (long long)a->round);
            pthread_mutex_lock(&a->mu);
            a->go = false;
            a->finish_pending = true;
            pthread_mutex_unlock(&a->mu);
            return SW_OK;
        }
        uint64_t split =
            a->have_manifest ? a->manifest.train_tokens + 1 : a->train.end - a->train.begin;
        if (l.begin >= l.end || l.end + 1 > split)
            return sw_errorf(err, SW_EINPUT,
                             "message lease: [%llu, %llu) not inside the training "
                             "split",
                             (unsigned long long)l.begin, (unsigned long long)l.end);
        pthread_mutex_lock(&a->mu);
        uint32_t k = a->n_leases++;
        a->lease_id[k] = l.lease_id;
        a->lease_begin[k] = l.begin;
        a->lease_end[k] = l.end;
        a->consumed[k] = 0;
        a->need_lease = false;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        return SW_OK;
    }
    case SW_MSG_STOP: {
        sw_msg_stop s;
        if ((rc = sw_msg_get_stop(p, h.payload_len, &s, &e)) != SW_OK)
            break;
        if (h.round != a->round || (a->st != A_TRAINING && a->st != A_RECEIVING))
            return SW_OK;           /* already returned (data ran out) */
        if (a->st == A_RECEIVING) { /* stopped before the model was in: no work to return */
            a->rx.active = false;
            return finish_round(a, err);
        }
        pthread_mutex_lock(&a->mu);
        a->go = false;
        a->finish_pending = true;
        pthread_mutex_unlock(&a->mu);
        return SW_OK;
    }
    case SW_MSG_RELEASE: {
        sw_msg_release r;
        if ((rc = sw_msg_get_release(p, h.payload_len, &r, &e)) != SW_OK)
            break;
        if (r.stay) {
            logf_(a, "released; staying connected (static site)");
            a->st = A_IDLE;
            return SW_OK;
        }
        a->released = true;
        return SW_OK;
    }
    default:
        rc = sw_errorf(&e, SW_EINPUT, "message %s: not expected by an agent",
                       sw_msg_type_name(h.type));
        break;
    }
    if (rc != SW_OK)
        logf_(a, "rejected a message: %s", e.msg);
    return SW_OK;
}

static int setup_socket(agent *a, sw_error *err)
{
    a->ctx = zmq_ctx_new();
    a->sock = a->ctx ? zmq_socket(a->ctx, ZMQ_DEALER) : NULL;
    if (!a->sock)
        return sw_errorf(err, SW_ERUNTIME, "agent: cannot create a ZeroMQ socket");
    int linger = 2000, hwm = 0;
    int64_t maxmsg = 2 * (int64_t)(SW_PROTO_HEADER + SW_PROTO_MAX_PAYLOAD);
    int sockbuf = 4 << 20; /* room for a few model chunks in flight (bench/RESULTS.md) */
    const sw_sockopt opts[] = {
        {ZMQ_LINGER, "ZMQ_LINGER", &linger, sizeof linger, true},
        {ZMQ_SNDHWM, "ZMQ_SNDHWM", &hwm, sizeof hwm, true},
        {ZMQ_RCVHWM, "ZMQ_RCVHWM", &hwm, sizeof hwm, true},
        {ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", &maxmsg, sizeof maxmsg, true},
        {ZMQ_SNDBUF, "ZMQ_SNDBUF", &sockbuf, sizeof sockbuf, false},
        {ZMQ_RCVBUF, "ZMQ_RCVBUF", &sockbuf, sizeof sockbuf, false},
    };
    int orc = sw_sockopts_set(a->sock, opts, sizeof opts / sizeof *opts, "agent", err);
    if (orc != SW_OK)
        return orc;
    if (a->o->keys_dir) {
        char path[4096];
        sw_keypair kp;
        char server[SW_KEY_Z85];
        sw_pathf(path, sizeof path, "%s/agent.key", a->o->keys_dir);
        int rc = sw_keys_load_pair(path, &kp, err);
        if (rc == SW_OK) {
            sw_pathf(path, sizeof path, "%s/coordinator.pub", a->o->keys_dir);
            rc = sw_keys_load_pub(path, server, err);
        }
        if (rc == SW_OK)
            rc = sw_curve_client(a->sock, &kp, server, err);
        if (rc != SW_OK)
            return rc;
    }
    if (zmq_connect(a->sock, a->o->coordinator) != 0)
        return sw_errorf(err, SW_EINPUT, "--coordinator %s: %s", a->o->coordinator,
                         zmq_strerror(errno));
    a->peer.sock = a->sock;
    return SW_OK;
}

int sw_agent_run(const sw_agent_options *o, sw_error *err)
{
    agent *a = calloc(1, sizeof *a);
    if (!a)
        return sw_errorf(err, SW_ERUNTIME, "agent: out of memory");
    a->o = o;
    a->round = -1;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    leave_requested = 0;
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int rc = setup_socket(a, err);
    if (rc == SW_OK)
        rc = send_join(a, err);
    a->last_seen = a->last_hb = mono_s();
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (rc == SW_OK && !a->released && !leave_requested) {
        zmq_pollitem_t it = {.socket = a->sock, .events = ZMQ_POLLIN};
        int np = zmq_poll(&it, 1, 10);
        if (np < 0 && errno != EINTR) {
            rc = sw_errorf(err, SW_ERUNTIME, "agent: poll: %s", zmq_strerror(errno));
            break;
        }
        /* Take everything waiting before the next step. */
        while (rc == SW_OK && np > 0 && zmq_msg_recv(&msg, a->sock, ZMQ_DONTWAIT) >= 0) {
            if (zmq_msg_more(&msg)) { /* agents get single frames: drain and drop the rest */
                logf_(a, "rejected a message: more than one frame");
                while (zmq_msg_more(&msg) && zmq_msg_recv(&msg, a->sock, ZMQ_DONTWAIT) >= 0)
                    ;
                continue;
            }
            rc = on_frame(a, zmq_msg_data(&msg), zmq_msg_size(&msg), err);
            if (a->released)
                break;
        }
        double now = mono_s();
        if (rc == SW_OK && !a->welcomed && now - a->last_join > 1.0)
            rc = send_join(a, err); /* JOIN is idempotent; repeat until answered */
        if (rc == SW_OK && a->welcomed && now - a->last_hb >= a->w.heartbeat_ms * 1e-3) {
            a->last_hb = now;
            rc = send_simple(a, SW_MSG_HEARTBEAT, NULL, 0, err);
        }
        if (rc == SW_OK && a->st == A_UPLOADING)
            rc = sw_xfer_tx_pump(&a->tx, &a->peer, err);
        if (rc == SW_OK && a->worker_started) {
            pthread_mutex_lock(&a->mu);
            bool need = a->go && a->need_lease && !a->lease_wait && !a->no_data;
            if (a->go && a->st == A_TRAINING &&
                !sw_round_may_step(&a->limits, now, a->round_tokens, next_step_tokens(a))) {
                a->go = false; /* the deadline passed while the worker waited */
                a->finish_pending = true;
            }
            bool finish = a->finish_pending && !a->busy;
            bool metrics = a->st == A_TRAINING && a->metric_n &&
                           now - a->last_metrics >= a->w.log_interval_ms * 1e-3;
            if (a->worker_rc != SW_OK)
                rc = sw_errorf(err, a->worker_rc, "%s", a->worker_msg);
            if (finish)
                a->finish_pending = false;
            pthread_mutex_unlock(&a->mu);
            if (rc == SW_OK && need)
                rc = request_lease(a, err);
            if (rc == SW_OK && a->no_data && a->st == A_TRAINING && !finish) {
                pthread_mutex_lock(&a->mu); /* the WORK message cannot list more leases */
                a->go = false;
                a->finish_pending = true;
                pthread_mutex_unlock(&a->mu);
            }
            if (rc == SW_OK && metrics)
                rc = send_metrics(a, err);
            if (rc == SW_OK && finish && a->st == A_TRAINING)
                rc = finish_round(a, err); /* the worker is idle: params are ours */
        }
        if (rc == SW_OK && now - a->last_seen > o->coordinator_timeout_s)
            rc = sw_errorf(err, SW_ERUNTIME, "coordinator %s silent for %.0f s; leaving",
                           o->coordinator, o->coordinator_timeout_s);
    }
    zmq_msg_close(&msg);
    if (a->worker_started) {
        pthread_mutex_lock(&a->mu);
        a->quit = true;
        a->go = false;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->worker, NULL);
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    if (a->sock && (a->released || leave_requested)) {
        sw_error e2;
        send_simple(a, SW_MSG_LEAVE, NULL, 0, &e2);
        logf_(a, "%s", a->released ? "released; leaving" : "signal received; leaving");
    }
    if (a->sock)
        zmq_close(a->sock);
    if (a->ctx)
        zmq_ctx_term(a->ctx);
    sw_model_destroy(a->model);
    if (a->opt_ready)
        sw_adamw_free(&a->opt);
    sw_text_free(&a->text);
    sw_lease_stream_close(a->stream);
    if (a->have_manifest)
        sw_manifest_free(&a->manifest);
    free(a->in);
    free(a->tg);
    free(a->recv_buf);
    free(a->send_buf);
    free(a);
    return rc;
}
