/* coord_msg.c - the coordinator's membership and messages (see coord_int.h): agents join,
 * their messages become engine events (ready, work reported) and data leases, silence or a bad
 * upload fails the site, and model transfers are pumped. */
#include "exec/coord_int.h"
#include "exec/fmt.h"

#include <math.h>
#include <string.h>
#include <zmq.h>

/* ---- messages ---- */

void coord_send_to(coord *c, csite *s, sw_msg_type t, int64_t round, const void *pl, size_t n)
{
    sw_error e;
    if (!s->joined)
        return;
    if (sw_link_send(&s->peer, t, round, pl, n, false, &e) != SW_OK)
        coord_log(c, "site %s: %s", s->sc->name, e.msg);
}

void coord_reject(coord *c, const char *who, const char *why)
{
    c->rejected++;
    coord_log(c, "rejected a message from %s: %s", who, why);
}

/* The site is lost: tell the engine, take its leases back, stop its process. */
void coord_site_failed(coord *c, csite *s, const char *why)
{
    coord_site_failed_at(c, s, why, coord_run_t(c));
}

void coord_site_failed_at(coord *c, csite *s, const char *why, double now)
{
    sw_site_state st = sw_engine_site_state(c->engine, (size_t)s->idx);
    coord_log(c, "site %s failed: %s", s->sc->name, why);
    c->failures++;
    sw_run_event(c->run, now, SW_REPORT_EV_FAIL, s->idx, s->member ? s->round : -1, NAN, why);
    if (st != SW_SITE_OFF && st != SW_SITE_FAILED)
        coord_push_event(c, now, SW_EV_SITE_FAILED, s->idx, -1, 0, why);
    size_t returned = 0;
    sw_error e;
    if (sw_shards_site_left(c->shards, (uint32_t)s->idx, &returned, &e) != SW_OK)
        coord_fail(c, SW_ERUNTIME, "%s", e.msg);
    if (returned)
        coord_log(c, "site %s: %zu data lease(s) returned to the pool", s->sc->name, returned);
    sw_prov_down(&c->prov, s->sc->name, &s->prov, true, coord_mono_s(), &e);
    coord_set_phase_at(c, s, SW_PHASE_OFF, now);
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
    w.vocab_size = (uint32_t)c->vocab_size;
    coord_data_welcome(c, &w);
    uint8_t pl[512];
    size_t n = sw_msg_put_welcome(pl, sizeof pl, &w);
    coord_send_to(c, s, SW_MSG_WELCOME, -1, pl, n);
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
        coord_reject(c, "a new peer", e.msg);
        return;
    }
    int idx = sw_scenario_site_index(c->sc, j.site);
    const char *why = NULL;
    char deny[300];
    csite *s = idx >= 0 ? &c->sites[idx] : NULL;
    bool is_static = c->prov.ops->joins_unasked;
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
        coord_reject(c, j.site, msg);
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
        s->join_t_s = coord_run_t(c);
        s->steps_base = s->steps_total;
        s->tokens_base = s->tokens_total;
        coord_log(c, "site %s joined (pid %u)", s->sc->name, j.pid);
    }
    s->last_seen = coord_mono_s();
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
            coord_reject(c, s->sc->name, msg);
            coord_site_failed(c, s, "inconsistent work report");
            return;
        }
    }
    for (uint32_t i = 0; i < w->n_leases; i++) {
        sw_shard_lease l;
        sw_shards_lease_find(c->shards, w->lease_id[i], &l);
        coord_log(c, "site %s: lease %llu [%llu, %llu) commits %llu tokens", s->sc->name,
                  (unsigned long long)l.lease_id, (unsigned long long)l.begin_token,
                  (unsigned long long)l.end_token, (unsigned long long)w->consumed[i]);
        if (sw_shards_release(c->shards, (uint32_t)s->idx, w->lease_id[i], w->consumed[i], &e) !=
            SW_OK)
            coord_fail(c, SW_ERUNTIME, "%s", e.msg);
    }
    /* leases granted after the agent had stopped go back unused */
    sw_shards_site_left(c->shards, (uint32_t)s->idx, NULL, &e);
    s->have_upload = true;
    s->ul_mono1 = coord_mono_s();
    coord_set_phase(c, s, SW_PHASE_IDLE);
    coord_push_event(c, coord_run_t(c), SW_EV_WORK_REPORTED, s->idx, s->round, w->tokens, NULL);
}

/* Each handler below returns SW_OK when the message was taken (or its consequence handled,
 * e.g. the site failed), or an error in e: the message is then rejected and logged. */

static int on_ack(coord *c, csite *s, const sw_msg_header *h, const uint8_t *p, sw_error *e)
{
    sw_msg_ack a;
    int rc = sw_msg_get_ack(p, h->payload_len, &a, e);
    if (rc != SW_OK)
        return rc;
    if (!s->member || h->round != s->round)
        return sw_errorf(e, SW_EINPUT, "message ack: round %lld is not the site's",
                         (long long)h->round);
    if ((rc = sw_xfer_tx_ack(&s->tx, &a, e)) != SW_OK)
        return rc;
    if (sw_xfer_tx_done(&s->tx) && coord_phase_of(c, s) == SW_PHASE_SYNCING && !s->have_work) {
        s->dl_mono1 = coord_mono_s();
        coord_set_phase(c, s, SW_PHASE_TRAINING);
    } else if (sw_xfer_tx_pump(&s->tx, &s->peer, e) != SW_OK) {
        coord_log(c, "site %s: %s", s->sc->name, e->msg); /* the link's, not the message's */
    }
    return SW_OK;
}

static int on_lease_req(coord *c, csite *s, const sw_msg_header *h, sw_error *e)
{
    if (!s->member || h->round != s->round || s->have_work)
        return sw_errorf(e, SW_EINPUT, "message lease_req: site is not training round %lld",
                         (long long)h->round);
    sw_shard_lease l;
    bool got = false;
    if (sw_shards_acquire(c->shards, (uint32_t)s->idx, &l, &got, e) != SW_OK) {
        coord_fail(c, SW_ERUNTIME, "%s", e->msg);
        return SW_OK;
    }
    sw_msg_lease m = {0, 0, 0};
    if (got)
        m = (sw_msg_lease){l.lease_id, l.begin_token, l.end_token};
    uint8_t pl[32];
    size_t n = sw_msg_put_lease(pl, sizeof pl, &m);
    coord_send_to(c, s, SW_MSG_LEASE, s->round, pl, n);
    return SW_OK;
}

static int on_metrics(coord *c, csite *s, const sw_msg_header *h, const uint8_t *p, sw_error *e)
{
    sw_msg_metrics m;
    int rc = sw_msg_get_metrics(p, h->payload_len, &m, e);
    if (rc != SW_OK)
        return rc;
    s->steps_total = s->steps_base + m.step;
    s->tokens_total = s->tokens_base + m.tokens;
    sw_run_train(c->run, (size_t)s->idx, coord_run_t(c), s->steps_total, s->tokens_total, m.loss,
                 0);
    return SW_OK;
}

static int on_work(coord *c, csite *s, const sw_msg_header *h, const uint8_t *p, sw_error *e)
{
    if (!s->member || h->round != s->round || s->have_work)
        return sw_errorf(e, SW_EINPUT, "message work: not expected for round %lld",
                         (long long)h->round);
    int rc = sw_msg_get_work(p, h->payload_len, &s->work, e);
    if (rc != SW_OK)
        return rc;
    if (s->work.model_bytes != c->n_params * sizeof(float))
        return sw_errorf(e, SW_EINPUT, "message work: model_bytes %llu, expected %zu",
                         (unsigned long long)s->work.model_bytes, c->n_params * sizeof(float));
    s->have_work = true;
    s->ul_mono0 = coord_mono_s();
    if (coord_phase_of(c, s) == SW_PHASE_TRAINING)
        coord_set_phase(c, s, SW_PHASE_SYNCING);
    sw_xfer_rx_start(&s->rx, s->upload, s->work.model_bytes, s->work.model_crc, s->round);
    return SW_OK;
}

static int on_chunk(coord *c, csite *s, const sw_msg_header *h, const uint8_t *p, sw_error *e)
{
    sw_msg_chunk ch;
    bool done;
    int rc = sw_msg_get_chunk(p, h->payload_len, &ch, e);
    if (rc != SW_OK)
        return rc;
    if (!s->have_work || s->have_upload)
        return sw_errorf(e, SW_EINPUT, "message chunk: no upload expected");
    if ((rc = sw_xfer_rx_chunk(&s->rx, &s->peer, h->round, &ch, &done, e)) != SW_OK) {
        if (s->rx.active)
            return rc;
        /* the whole model is in but does not check out */
        coord_reject(c, s->sc->name, e->msg);
        coord_site_failed(c, s, "model upload failed its checksum");
        return SW_OK;
    }
    if (done)
        work_complete(c, s);
    return SW_OK;
}

static void on_site_msg(coord *c, csite *s, const sw_msg_header *h, const uint8_t *p)
{
    sw_error e;
    int rc = SW_OK;
    s->last_seen = coord_mono_s();
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
            coord_site_failed(c, s, "agent left while its site was up");
        else
            s->joined = false;
        return;
    case SW_MSG_ACK:
        rc = on_ack(c, s, h, p, &e);
        break;
    case SW_MSG_LEASE_REQ:
        rc = on_lease_req(c, s, h, &e);
        break;
    case SW_MSG_METRICS:
        rc = on_metrics(c, s, h, p, &e);
        break;
    case SW_MSG_WORK:
        rc = on_work(c, s, h, p, &e);
        break;
    case SW_MSG_CHUNK:
        rc = on_chunk(c, s, h, p, &e);
        break;
    default:
        rc = sw_errorf(&e, SW_EINPUT, "message %s: not expected by the coordinator",
                       sw_msg_type_name(h->type));
        break;
    }
    if (rc != SW_OK)
        coord_reject(c, s->sc->name, e.msg);
}

/* Receives everything waiting on the ROUTER. */
void coord_drain_socket(coord *c)
{
    for (int k = 0; k < 4096; k++) {
        zmq_msg_t idm, fm;
        zmq_msg_init(&idm);
        if (zmq_msg_recv(&idm, c->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&idm);
            return;
        }
        if (!zmq_msg_more(&idm)) {
            coord_reject(c, "a peer", "message: no frame after the routing identity");
            zmq_msg_close(&idm);
            continue;
        }
        zmq_msg_init(&fm);
        zmq_msg_recv(&fm, c->router, 0);
        if (zmq_msg_more(&fm)) {
            coord_reject(c, "a peer", "message: more than one frame");
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
            coord_reject(c, s ? s->sc->name : "an unknown peer", e.msg);
        else if (s)
            on_site_msg(c, s, &h, p);
        else if (h.type == SW_MSG_JOIN && id_len <= sizeof s->peer.id)
            on_join(c, id, id_len, zmq_msg_gets(&fm, "User-Id"), &h, p);
        else
            coord_reject(c, "an unknown peer", "message: only join is accepted before joining");
        zmq_msg_close(&fm);
        zmq_msg_close(&idm);
    }
}

/* ---- timers: readiness, heartbeats, provisioners ---- */

void coord_check_sites(coord *c)
{
    double m = coord_mono_s();
    for (size_t i = 0; i < c->n_sites; i++) {
        csite *s = &c->sites[i];
        bool failed = false;
        char why[128] = "";
        sw_prov_poll(&c->prov, s->sc->name, &s->prov, m, &failed, why, sizeof why);
        if (failed && s->provisioning) {
            coord_site_failed(c, s, why);
            continue;
        }
        double delay_wall = s->sc->provision_s / c->compression;
        /* the wall time of the decision, which carrying out the actions before it may trail */
        double decided_mono = c->mono0 + (s->prov_t_s - c->t_base) / c->compression;
        if (s->provisioning && s->joined && m - decided_mono >= delay_wall) {
            /* Ready at the nominal time, provision_s after the decision, when the agent was
             * up by then: provisioning delays are the scenario's, so sim and exec agree. */
            s->provisioning = false;
            double t_ready = fmax(s->prov_t_s + s->sc->provision_s, s->join_t_s);
            coord_set_phase_at(c, s, SW_PHASE_IDLE, t_ready);
            coord_push_event(c, t_ready, SW_EV_SITE_READY, s->idx, -1, 0, NULL);
            coord_log(c, "site %s ready", s->sc->name);
        } else if (s->provisioning && !s->joined &&
                   m - s->prov_mono > delay_wall + c->o->join_timeout_s) {
            coord_site_failed(c, s, "agent did not join in time");
        } else if (s->joined && m - s->last_seen > c->o->heartbeat_timeout_s) {
            sw_site_state st = sw_engine_site_state(c->engine, i);
            if (s->provisioning || (st != SW_SITE_OFF && st != SW_SITE_FAILED))
                coord_site_failed(c, s, "heartbeat timeout");
            else
                s->joined = false; /* an idle static agent went away */
        }
    }
    if (m - c->last_hb >= 0.25) {
        c->last_hb = m;
        for (size_t i = 0; i < c->n_sites; i++)
            coord_send_to(c, &c->sites[i], SW_MSG_HEARTBEAT, -1, NULL, 0);
    }
    for (size_t i = 0; i < c->n_sites; i++) {
        csite *s = &c->sites[i];
        if (s->member && s->tx.active) {
            sw_error e;
            if (sw_xfer_tx_pump(&s->tx, &s->peer, &e) != SW_OK)
                coord_log(c, "site %s: %s", s->sc->name, e.msg);
        }
    }
}
