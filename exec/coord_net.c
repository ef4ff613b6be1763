/* coord_net.c - the coordinator's ROUTER socket (CURVE when keys are given) and the keys of
 * a local run (see coord_int.h). */
#include "exec/coord_int.h"
#include "exec/fmt.h"
#include "exec/sockopt.h"
#include "core/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

/* Keys for a local run: the coordinator's, and one folder per site with its agent keypair
 * and the coordinator's public key; every agent's public key is allow-listed. */
int coord_local_keys(coord *c, char *keys_dir, size_t cap, sw_error *err)
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

int coord_setup_socket(coord *c, const char *keys_dir, sw_error *err)
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
