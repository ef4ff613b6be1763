/* test_messages.c - a running coordinator rejects and logs malformed, oversized, out-of-place
 * and unauthenticated messages, and the run carries on unharmed. */
#include <pthread.h>
#include <zmq.h>

#include "exec/auth.h"
#include "exec/proto.h"
#include "exec/round_limits.h"
#include "exec/sockopt.h"
#include "exec_main.c.inc"

typedef struct intruder {
    const char *endpoint;
    const char *keys_dir; /* CURVE: wait for DIR/site-a/coordinator.pub, use an unknown key */
    int sent;             /* malformed messages sent */
    bool got_reject;      /* the coordinator answered the unknown-site JOIN with REJECT */
    bool got_any;         /* any reply at all (CURVE: must stay false) */
} intruder;

static void send_raw(void *s, const void *buf, size_t n, int flags)
{
    cr_assert_geq(zmq_send(s, buf, n, flags), 0);
}

static size_t frame(uint8_t *buf, size_t cap, sw_msg_type t, const void *pl, size_t n)
{
    size_t len = sw_msg_frame(buf, cap, t, -1, 7, pl, n);
    cr_assert_gt(len, 0);
    return len;
}

static void *intrude(void *arg)
{
    intruder *in = arg;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (in->keys_dir) {
        char path[700], pub[SW_KEY_Z85];
        snprintf(path, sizeof path, "%s/site-a/coordinator.pub", in->keys_dir);
        sw_error err;
        for (int i = 0; i < 200 && sw_keys_load_pub(path, pub, &err) != SW_OK; i++)
            nanosleep(&(struct timespec){0, 50000000}, NULL);
        sw_keypair mine;
        zmq_curve_keypair(mine.pub, mine.sec); /* not in the allow list */
        cr_assert_eq(sw_curve_client(s, &mine, pub, &err), SW_OK, "%s", err.msg);
    }
    nanosleep(&(struct timespec){1, 0}, NULL);
    cr_assert_eq(zmq_connect(s, in->endpoint), 0);
    static uint8_t buf[SW_PROTO_HEADER + SW_PROTO_MAX_PAYLOAD + 4096];
    uint8_t pl[512];
    sw_msg_join j = {.site = "zzz", .pid = 1};
    size_t jn = sw_msg_put_join(pl, sizeof pl, &j);
    if (in->keys_dir) { /* an honest JOIN, but with a key the coordinator does not know */
        sw_msg_join ja = {.site = "a", .pid = 1};
        size_t n = frame(buf, sizeof buf, SW_MSG_JOIN, pl, sw_msg_put_join(pl, sizeof pl, &ja));
        zmq_send(s, buf, n, ZMQ_DONTWAIT);
    } else {
        send_raw(s, "abc", 3, 0); /* shorter than a header */
        size_t n = frame(buf, sizeof buf, SW_MSG_JOIN, pl, jn);
        buf[0] ^= 0xFF; /* magic */
        send_raw(s, buf, n, 0);
        n = frame(buf, sizeof buf, SW_MSG_JOIN, pl, jn);
        buf[4] = SW_PROTO_VERSION + 1; /* version */
        send_raw(s, buf, n, 0);
        n = frame(buf, sizeof buf, SW_MSG_JOIN, pl, jn);
        buf[6] = 99; /* type */
        send_raw(s, buf, n, 0);
        n = frame(buf, sizeof buf, SW_MSG_JOIN, pl, jn);
        buf[SW_PROTO_HEADER + 3] ^= 1; /* payload no longer matches its CRC */
        send_raw(s, buf, n, 0);
        /* oversized: a chunk payload 4 KiB over the bound */
        size_t big = SW_PROTO_MAX_PAYLOAD + 4096;
        memset(buf, 0, SW_PROTO_HEADER + big);
        sw_msg_frame(buf, sizeof buf, SW_MSG_CHUNK, 0, 0, NULL, 0);
        uint32_t big32 = (uint32_t)big;
        memcpy(buf + 20, &big32, 4);
        send_raw(s, buf, SW_PROTO_HEADER + big, 0);
        /* two frames */
        n = frame(buf, sizeof buf, SW_MSG_HEARTBEAT, NULL, 0);
        send_raw(s, buf, n, ZMQ_SNDMORE);
        send_raw(s, buf, n, 0);
        /* a well-formed METRICS from a peer that never joined */
        sw_msg_metrics m = {.step = 1, .tokens = 1, .loss = 1, .train_s = 1};
        n = frame(buf, sizeof buf, SW_MSG_METRICS, pl, sw_msg_put_metrics(pl, sizeof pl, &m));
        send_raw(s, buf, n, 0);
        /* a JOIN with a payload one byte short */
        n = frame(buf, sizeof buf, SW_MSG_JOIN, pl, jn - 1);
        send_raw(s, buf, n, 0);
        /* a JOIN for a site the scenario does not have: answered with REJECT */
        n = frame(buf, sizeof buf, SW_MSG_JOIN, pl, jn);
        send_raw(s, buf, n, 0);
        in->sent = 10;
    }
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    double t0 = now_mono();
    while (now_mono() - t0 < 4) {
        if (zmq_poll(&it, 1, 100) > 0) {
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, s, 0) >= 0) {
                in->got_any = true;
                sw_msg_header h;
                const uint8_t *p;
                sw_error err;
                if (sw_msg_parse(zmq_msg_data(&msg), zmq_msg_size(&msg), &h, &p, &err) == SW_OK &&
                    h.type == SW_MSG_REJECT)
                    in->got_reject = true;
            }
            zmq_msg_close(&msg);
        }
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return NULL;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

Test(messages, malformed_and_oversized_messages_are_rejected_and_logged, .timeout = 120)
{
    char dir[512], out[600], logp[600], ep[700];
    test_dir(dir, sizeof dir, "malformed");
    snprintf(logp, sizeof logp, "%s/coord.log", dir);
    snprintf(ep, sizeof ep, "ipc://%s/coord.sock", dir);
    FILE *log = fopen(logp, "w");
    sw_scenario sc;
    fault_scenario(&sc, "");
    sw_coord_options o;
    coord_opts(&o, &sc, dir, out, sizeof out, log);
    o.listen = ep;
    o.insecure = true;
    intruder in = {.endpoint = ep};
    pthread_t th;
    pthread_create(&th, NULL, intrude, &in);
    sw_coord_result res;
    sw_error err;
    int rc = sw_coord_run(&o, &res, &err);
    pthread_join(th, NULL);
    fclose(log);
    cr_assert_eq(rc, SW_OK, "%s", err.msg);
    cr_assert_eq(in.sent, 10);
    cr_assert_geq(res.rejected_messages, 10, "rejected %u", res.rejected_messages);
    cr_assert(in.got_reject, "the unknown site's JOIN got no REJECT");
    cr_assert_eq(res.failures, 0, "the run was harmed");
    cr_assert_geq(res.rounds, 3);
    cr_assert_gt(res.tokens, 0);
    const char *text = slurp(logp);
    const char *expect[] = {"shorter than the 32-byte header",
                            "header.magic",
                            "header.version",
                            "header.type",
                            "header.payload_crc",
                            "more than the bound",
                            "more than one frame",
                            "only join is accepted",
                            "no such site in the scenario"};
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
        cr_assert(strstr(text, expect[i]), "log lacks '%s'", expect[i]);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    sw_report_data_free(d);
    sw_scenario_free(&sc);
    test_dir_done(dir);
}

Test(messages, agent_with_unknown_key_cannot_join, .timeout = 120)
{
    char dir[512], out[600], logp[600], ep[700], keys[700];
    test_dir(dir, sizeof dir, "curve");
    snprintf(logp, sizeof logp, "%s/coord.log", dir);
    snprintf(ep, sizeof ep, "ipc://%s/coord.sock", dir);
    FILE *log = fopen(logp, "w");
    sw_scenario sc;
    fault_scenario(&sc, "");
    sw_coord_options o;
    coord_opts(&o, &sc, dir, out, sizeof out, log);
    o.listen = ep; /* local provisioner: CURVE with generated keys in RUN_DIR/keys */
    snprintf(keys, sizeof keys, "%s.run/keys", out);
    intruder in = {.endpoint = ep, .keys_dir = keys};
    pthread_t th;
    pthread_create(&th, NULL, intrude, &in);
    sw_coord_result res;
    sw_error err;
    int rc = sw_coord_run(&o, &res, &err);
    pthread_join(th, NULL);
    fclose(log);
    cr_assert_eq(rc, SW_OK, "%s", err.msg);
    cr_assert(!in.got_any, "a client with an unknown key got an answer");
    cr_assert_geq(res.rejected_clients, 1);
    cr_assert_eq(res.failures, 0);
    cr_assert_geq(res.rounds, 3, "the real (allow-listed) agents must still train");
    cr_assert(strstr(slurp(logp), "refused client key"));
    /* the generated secret keys are private */
    struct stat st;
    char kp[800];
    snprintf(kp, sizeof kp, "%s/coordinator.key", keys);
    cr_assert_eq(stat(kp, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    sw_scenario_free(&sc);
    test_dir_done(dir);
}

/* The agent's own end of a round (exec/round_limits.h): the plan's deadline and token limit. */
Test(round_limits, deadline_and_tokens_of_a_plan)
{
    sw_msg_plan p = {.deadline_ms = 1500, .tokens_left = 1000};
    sw_round_limits l = sw_round_limits_of(&p, 10.0);
    cr_assert_float_eq(l.deadline_mono_s, 11.5, 1e-9);
    cr_assert(sw_round_may_step(&l, 11.0, 0, 500));
    cr_assert(sw_round_may_step(&l, 11.0, 500, 500), "exactly the limit");
    cr_assert_not(sw_round_may_step(&l, 11.0, 600, 500), "the step would pass tokens_left");
    cr_assert_not(sw_round_may_step(&l, 11.0, 1200, 1), "already past it");
    cr_assert_not(sw_round_may_step(&l, 11.5, 0, 1), "the deadline");
    p.deadline_ms = -1; /* open-ended */
    p.tokens_left = UINT64_MAX;
    l = sw_round_limits_of(&p, 10.0);
    cr_assert(sw_round_may_step(&l, 1e12, UINT64_MAX - 10, 10));
    cr_assert_not(sw_round_may_step(&l, 1e12, UINT64_MAX - 10, 11), "no wrap-around");
}

/* Every ZeroMQ option call is checked (exec/sockopt.h): a refused one names itself. */
Test(sockopt, a_refused_option_is_an_error_naming_it)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int64_t maxmsg = 1 << 20;
    int linger = 0, bad = 0;
    const sw_sockopt ok[] = {{ZMQ_LINGER, "ZMQ_LINGER", &linger, sizeof linger, true},
                             {ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", &maxmsg, sizeof maxmsg, true}};
    sw_error err;
    cr_assert_eq(sw_sockopts_set(s, ok, 2, "test", &err), SW_OK, "%s", err.msg);
    int64_t back = 0;
    size_t n = sizeof back;
    cr_assert_eq(zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &back, &n), 0);
    cr_assert_eq(back, maxmsg);
    /* ZMQ_MAXMSGSIZE takes an int64: an int is refused */
    const sw_sockopt wrong[] = {{ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", &bad, sizeof bad, true}};
    cr_assert_eq(sw_sockopts_set(s, wrong, 1, "test", &err), SW_ERUNTIME);
    cr_assert(strstr(err.msg, "test: zmq_setsockopt(ZMQ_MAXMSGSIZE)"), "%s", err.msg);
    zmq_close(s);
    zmq_ctx_term(ctx);
}
