/* bench_transfer.c - model-transfer throughput of the exec protocol on loopback, against a raw
 * TCP copy of the same bytes, with and without CURVE; and, given an exec report, the per-round
 * synchronization cost and the sites' time split between training, synchronization and idling.
 *
 * Build and run: see bench/README.md (section bench_transfer).
 *
 * Every transfer is one model of MB megabytes from a sender thread to a receiver thread in the
 * same process over tcp://127.0.0.1 (separate ZeroMQ contexts, as two processes would have):
 *   raw TCP      8-byte length, the bytes, a 1-byte ack: the ceiling
 *   zmq 1 msg    one ZeroMQ message holding the whole model (DEPENDENCIES §7's setup)
 *   exec c/w     the exec transfer (exec/link.h): CRC-32 per frame and per model, chunks of c
 *                bytes, w chunks in flight, one ACK per chunk
 * Throughput = model bytes / wall time from the first byte sent to the last byte received and
 * checked; best and median of the repeats are printed (MB = 1e6 bytes).
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "core/report.h"
#include "exec/auth.h"
#include "exec/crc32.h"
#include "exec/link.h"
#include "exec/proto.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- raw TCP ---- */

typedef struct raw_ctx {
    int port;
    uint8_t *dst;
    size_t n;
    int repeats;
} raw_ctx;

static void *raw_receiver(void *arg)
{
    raw_ctx *r = arg;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(ls, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    r->port = ntohs(a.sin_port);
    listen(ls, 1);
    int s = accept(ls, NULL, NULL);
    for (int k = 0; k < r->repeats; k++) {
        uint64_t len = 0;
        size_t got = 0;
        while (got < 8) {
            ssize_t m = read(s, (uint8_t *)&len + got, 8 - got);
            if (m <= 0)
                return NULL;
            got += (size_t)m;
        }
        for (got = 0; got < len;) {
            ssize_t m = read(s, r->dst + got, len - got);
            if (m <= 0)
                return NULL;
            got += (size_t)m;
        }
        if (write(s, "k", 1) != 1)
            return NULL;
    }
    close(s);
    close(ls);
    return NULL;
}

static void bench_raw(const uint8_t *src, uint8_t *dst, size_t n, int repeats, double *mbs)
{
    raw_ctx r = {.port = 0, .dst = dst, .n = n, .repeats = repeats};
    pthread_t th;
    pthread_create(&th, NULL, raw_receiver, &r);
    while (!r.port)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    nanosleep(&(struct timespec){0, 20000000}, NULL);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)r.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        exit(1);
    }
    for (int k = 0; k < repeats; k++) {
        double t0 = now_s();
        uint64_t len = n;
        if (write(s, &len, 8) != 8)
            exit(1);
        for (size_t put = 0; put < n;) {
            ssize_t m = write(s, src + put, n - put);
            if (m <= 0)
                exit(1);
            put += (size_t)m;
        }
        char ack;
        if (read(s, &ack, 1) != 1)
            exit(1);
        mbs[k] = (double)n / 1e6 / (now_s() - t0);
    }
    close(s);
    pthread_join(th, NULL);
}

/* ---- ZeroMQ: exec transfer and single message ---- */

typedef struct zmq_bench {
    const uint8_t *src;
    uint8_t *dst;
    size_t n;
    int repeats;
    uint32_t chunk, window; /* 0: one message */
    bool curve;
    int sockbuf; /* ZMQ_SNDBUF/RCVBUF, bytes; 0 = the OS default */
    sw_keypair server, client;
    char endpoint[256];
    volatile int ready;
} zmq_bench;

static void *zmq_receiver(void *arg)
{
    zmq_bench *b = arg;
    void *ctx = zmq_ctx_new();
    sw_zap *zap = NULL;
    sw_error err;
    if (b->curve) {
        sw_allow *allow = sw_allow_create();
        if (!allow || sw_allow_add(allow, b->client.pub, "bench", &err) != SW_OK ||
            sw_zap_start(ctx, allow, NULL, &zap, &err) != SW_OK)
            exit(1);
    }
    void *r = zmq_socket(ctx, ZMQ_ROUTER);
    int hwm = 0;
    int64_t maxmsg = -1;
    zmq_setsockopt(r, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (b->sockbuf) {
        zmq_setsockopt(r, ZMQ_SNDBUF, &b->sockbuf, sizeof b->sockbuf);
        zmq_setsockopt(r, ZMQ_RCVBUF, &b->sockbuf, sizeof b->sockbuf);
    }
    if (b->curve)
        sw_curve_server(r, &b->server, &err);
    zmq_bind(r, "tcp://127.0.0.1:*");
    size_t el = sizeof b->endpoint;
    zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, b->endpoint, &el);
    b->ready = 1;
    sw_peer peer = {.sock = r};
    for (int k = 0; k < b->repeats; k++) {
        sw_xfer_rx rx;
        sw_xfer_rx_start(&rx, b->dst, b->n, sw_exec_crc32(0, b->src, b->n), k);
        bool done = false;
        while (!done) {
            zmq_msg_t id, m;
            zmq_msg_init(&id);
            zmq_msg_init(&m);
            zmq_msg_recv(&id, r, 0);
            zmq_msg_recv(&m, r, 0);
            peer.id_len = zmq_msg_size(&id);
            memcpy(peer.id, zmq_msg_data(&id), peer.id_len);
            if (b->chunk == 0) { /* one message: check it and acknowledge */
                if (zmq_msg_size(&m) != b->n ||
                    sw_exec_crc32(0, zmq_msg_data(&m), b->n) != rx.crc) {
                    fprintf(stderr, "bad single message\n");
                    exit(1);
                }
                memcpy(b->dst, zmq_msg_data(&m), b->n); /* into the model's buffer */
                sw_msg_ack a = {.received = b->n};
                uint8_t pl[8];
                sw_msg_put_ack(pl, 8, &a);
                sw_link_send(&peer, SW_MSG_ACK, k, pl, 8, true, &err);
                done = true;
            } else {
                sw_msg_header h;
                const uint8_t *p;
                sw_msg_chunk c;
                if (sw_msg_parse(zmq_msg_data(&m), zmq_msg_size(&m), &h, &p, &err) ||
                    sw_msg_get_chunk(p, h.payload_len, &c, &err) ||
                    sw_xfer_rx_chunk(&rx, &peer, h.round, &c, &done, &err)) {
                    fprintf(stderr, "receiver: %s\n", err.msg);
                    exit(1);
                }
            }
            zmq_msg_close(&id);
            zmq_msg_close(&m);
        }
    }
    zmq_close(r);
    sw_zap_stop(zap);
    zmq_ctx_term(ctx);
    return NULL;
}

static void bench_zmq(zmq_bench *b, double *mbs)
{
    b->ready = 0;
    pthread_t th;
    pthread_create(&th, NULL, zmq_receiver, b);
    while (!b->ready)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int hwm = 0;
    zmq_setsockopt(d, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (b->sockbuf) {
        zmq_setsockopt(d, ZMQ_SNDBUF, &b->sockbuf, sizeof b->sockbuf);
        zmq_setsockopt(d, ZMQ_RCVBUF, &b->sockbuf, sizeof b->sockbuf);
    }
    sw_error err;
    if (b->curve)
        sw_curve_client(d, &b->client, b->server.pub, &err);
    zmq_connect(d, b->endpoint);
    sw_peer peer = {.sock = d};
    /* one small round trip first, so the connection (and CURVE handshake) is up */
    for (int k = 0; k < b->repeats; k++) {
        double t0 = now_s();
        sw_xfer_tx tx;
        if (b->chunk == 0) {
            zmq_msg_t m;
            zmq_msg_init_size(&m, b->n);
            memcpy(zmq_msg_data(&m), b->src, b->n); /* the model is copied into a message */
            zmq_msg_send(&m, d, 0);
        } else {
            sw_xfer_tx_start(&tx, b->src, b->n, b->chunk, b->window, k);
        }
        bool done = false;
        while (!done) {
            if (b->chunk)
                sw_xfer_tx_pump(&tx, &peer, &err);
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, d, 0);
            sw_msg_header h;
            const uint8_t *p;
            sw_msg_ack a;
            if (sw_msg_parse(zmq_msg_data(&m), zmq_msg_size(&m), &h, &p, &err) ||
                sw_msg_get_ack(p, h.payload_len, &a, &err)) {
                fprintf(stderr, "sender: %s\n", err.msg);
                exit(1);
            }
            if (b->chunk) {
                sw_xfer_tx_ack(&tx, &a, &err);
                done = sw_xfer_tx_done(&tx);
            } else {
                done = true;
            }
            zmq_msg_close(&m);
        }
        mbs[k] = (double)b->n / 1e6 / (now_s() - t0);
    }
    zmq_close(d);
    zmq_ctx_term(ctx);
    pthread_join(th, NULL);
    if (memcmp(b->src, b->dst, b->n)) {
        fprintf(stderr, "model corrupted in transfer\n");
        exit(1);
    }
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* One configuration, paired with raw TCP runs made just before it: the machine's load moves
 * both alike, so the ratio is steadier than either figure. */
static void row(const char *what, zmq_bench *b, double *raw, double *mbs)
{
    bench_raw(b->src, b->dst, b->n, b->repeats, raw);
    memset(b->dst, 0, b->n);
    bench_zmq(b, mbs);
    double r = median(raw, b->repeats), m = median(mbs, b->repeats);
    printf("| %-34s | %6.0f | %6.0f | %6.0f | %4.0f %% |\n", what, r, mbs[b->repeats - 1], m,
           100 * m / r);
    fflush(stdout);
}

static int transfers(size_t mb, int repeats)
{
    size_t n = mb * 1000000 / 4 * 4;
    uint8_t *src = malloc(n), *dst = malloc(n);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i * 2654435761u >> 13);
    memset(dst, 0, n);
    double *mbs = calloc((size_t)repeats, sizeof *mbs), *raw = calloc((size_t)repeats, sizeof *raw);
    printf("model %zu MB, %d repeats; MB/s (MB = 1e6 B): raw TCP median just before, this "
           "transfer's best and median, median / raw median\n\n",
           mb, repeats);
    printf("| transfer | raw TCP | best | median | vs raw |\n|---|---|---|---|---|\n");
    zmq_bench b = {.src = src, .dst = dst, .n = n, .repeats = repeats};
    zmq_curve_keypair(b.server.pub, b.server.sec);
    zmq_curve_keypair(b.client.pub, b.client.sec);
    row("zmq, 1 message", &b, raw, mbs);
    uint32_t chunks[] = {256u << 10, 1u << 20, 4u << 20};
    uint32_t windows[] = {4, 8, 16};
    int bufs[] = {0, 4 << 20};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < 3; i++)
            for (size_t j = 0; j < 3; j++) {
                b.chunk = chunks[i];
                b.window = windows[j];
                b.sockbuf = bufs[k];
                char what[96];
                snprintf(what, sizeof what, "exec, %u KiB x %u%s", chunks[i] >> 10, windows[j],
                         bufs[k] ? ", 4 MiB sockbuf" : "");
                row(what, &b, raw, mbs);
            }
    b.curve = true;
    b.chunk = 1u << 20;
    b.window = 4;
    b.sockbuf = 4 << 20;
    row("exec + CURVE, 1024 KiB x 4, 4 MiB", &b, raw, mbs);
    free(src);
    free(dst);
    free(mbs);
    free(raw);
    return 0;
}

/* ---- an exec report: per-round sync cost, time shares ---- */

static double extra(const sw_report_data *d, const char *name)
{
    for (size_t i = 0; i < d->summary.n_extras; i++)
        if (!strcmp(d->summary.extras[i].name, name))
            return d->summary.extras[i].value;
    return NAN;
}

static int report(const char *path)
{
    sw_report_data *d;
    sw_error err;
    if (sw_report_open(path, &d, &err) != SW_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double comp = extra(d, "time_compression");
    size_t fed = 0;
    double bytes = 0, sync_wall = 0, max_wall = 0;
    for (size_t i = 0; i < d->n_rounds; i++) {
        if (d->rounds[i].n_sites < 1)
            continue;
        fed++;
        bytes += (double)d->rounds[i].sync_bytes;
        double w = d->rounds[i].sync_s / comp;
        sync_wall += w;
        max_wall = fmax(max_wall, w);
    }
    double tr = extra(d, "train_wall_s"), sy = extra(d, "sync_wall_s"),
           id = extra(d, "idle_wall_s");
    double tot = tr + sy + id;
    printf("%s: %zu rounds with work; per round %.1f MB moved (all members, down + up), "
           "slowest member's sync %.3f s wall on average (max %.3f s)\n",
           path, fed, fed ? bytes / fed / 1e6 : 0, fed ? sync_wall / fed : 0, max_wall);
    printf("site wall time: training %.1f s (%.0f %%), synchronizing %.1f s (%.0f %%), idle or "
           "provisioning %.1f s (%.0f %%)\n",
           tr, 100 * tr / tot, sy, 100 * sy / tot, id, 100 * id / tot);
    sw_report_data_free(d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--report"))
        return report(argv[2]);
    size_t mb = argc > 1 ? (size_t)atol(argv[1]) : 100;
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    if (mb < 1 || repeats < 1) {
        fprintf(stderr, "usage: bench_transfer [MB] [repeats] | --report REPORT.h5\n");
        return 2;
    }
    return transfers(mb, repeats);
}
