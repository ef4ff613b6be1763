/* fuzz_proto.c - libFuzzer harness for the protocol frame decoder (exec/proto.c): the input is
 * one frame as it arrives from a peer; a frame that parses has its payload decoded as its
 * type, and the payload is also given to every other decoder (which must refuse or accept it
 * without reading outside it). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Writes frame (type, payload) as DIR/NAME. */
static void seed(const char *dir, const char *name, sw_msg_type type, const void *pl, size_t n)
{
    static uint8_t frame[SW_PROTO_HEADER + 4096];
    size_t len = sw_msg_frame(frame, sizeof frame, type, 7, 1, pl, n);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || !len || fwrite(frame, 1, len, f) != len)
        exit(1);
    fclose(f);
}

/* With SW_FUZZ_WRITE_SEED=DIR: one valid frame of each type into DIR (the seed corpus), then
 * exit. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("SW_FUZZ_WRITE_SEED");
    if (!dir)
        return 0;
    uint8_t pl[4096];
    sw_msg_join j = {"texas", 42, 1000};
    seed(dir, "join", SW_MSG_JOIN, pl, sw_msg_put_join(pl, sizeof pl, &j));
    sw_msg_welcome w = {.site_index = 1,
                        .n_params = 1000,
                        .batch = 2,
                        .seq = 32,
                        .threads = 1,
                        .heartbeat_ms = 250,
                        .log_interval_ms = 100,
                        .chunk_bytes = 65536,
                        .window_chunks = 4,
                        .seed = 5,
                        .lr = 1e-3f,
                        .preset = "tiny",
                        .data_path = "corpus/tinyshakespeare.txt"};
    seed(dir, "welcome", SW_MSG_WELCOME, pl, sw_msg_put_welcome(pl, sizeof pl, &w));
    sw_msg_text t = {"site is not being provisioned"};
    seed(dir, "reject", SW_MSG_REJECT, pl, sw_msg_put_text(pl, sizeof pl, &t));
    seed(dir, "heartbeat", SW_MSG_HEARTBEAT, NULL, 0);
    sw_msg_plan p = {60000, 123456, 4000, 0xdeadbeef};
    seed(dir, "plan", SW_MSG_PLAN, pl, sw_msg_put_plan(pl, sizeof pl, &p));
    static const uint8_t bytes[64] = {1, 2, 3, 4};
    seed(dir, "chunk", SW_MSG_CHUNK, pl, sw_msg_put_chunk(pl, sizeof pl, 64, 4000, bytes, 64));
    sw_msg_ack a = {128};
    seed(dir, "ack", SW_MSG_ACK, pl, sw_msg_put_ack(pl, sizeof pl, &a));
    seed(dir, "lease_req", SW_MSG_LEASE_REQ, NULL, 0);
    sw_msg_lease l = {3, 1000, 2000};
    seed(dir, "lease", SW_MSG_LEASE, pl, sw_msg_put_lease(pl, sizeof pl, &l));
    sw_msg_metrics m = {10, 640, 3.5, 1.25};
    seed(dir, "metrics", SW_MSG_METRICS, pl, sw_msg_put_metrics(pl, sizeof pl, &m));
    sw_msg_stop st = {1};
    seed(dir, "stop", SW_MSG_STOP, pl, sw_msg_put_stop(pl, sizeof pl, &st));
    sw_msg_work wk = {.tokens = 640,
                      .steps = 10,
                      .loss = 3.5,
                      .model_bytes = 4000,
                      .model_crc = 1,
                      .n_leases = 2,
                      .lease_id = {3, 4},
                      .consumed = {100, 50}};
    seed(dir, "work", SW_MSG_WORK, pl, sw_msg_put_work(pl, sizeof pl, &wk));
    sw_msg_release r = {1};
    seed(dir, "release", SW_MSG_RELEASE, pl, sw_msg_put_release(pl, sizeof pl, &r));
    seed(dir, "leave", SW_MSG_LEAVE, NULL, 0);
    exit(0);
}

static void every_decoder(const uint8_t *p, size_t n)
{
    sw_error err;
    sw_msg_join j;
    sw_msg_welcome w;
    sw_msg_text t;
    sw_msg_plan pl;
    sw_msg_chunk c;
    sw_msg_ack a;
    sw_msg_lease l;
    sw_msg_metrics m;
    sw_msg_stop s;
    sw_msg_work wk;
    sw_msg_release r;
    (void)sw_msg_get_join(p, n, &j, &err);
    (void)sw_msg_get_welcome(p, n, &w, &err);
    (void)sw_msg_get_text(p, n, &t, &err);
    (void)sw_msg_get_plan(p, n, &pl, &err);
    (void)sw_msg_get_chunk(p, n, &c, &err);
    (void)sw_msg_get_ack(p, n, &a, &err);
    (void)sw_msg_get_lease(p, n, &l, &err);
    (void)sw_msg_get_metrics(p, n, &m, &err);
    (void)sw_msg_get_stop(p, n, &s, &err);
    (void)sw_msg_get_work(p, n, &wk, &err);
    (void)sw_msg_get_release(p, n, &r, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so that ASan sees any read past the frame */
    uint8_t *frame = malloc(size ? size : 1);
    if (!frame)
        return 0;
    memcpy(frame, data, size);
    sw_msg_header h;
    const uint8_t *payload;
    sw_error err;
    if (sw_msg_parse(frame, size, &h, &payload, &err) == SW_OK)
        every_decoder(payload, h.payload_len);
    every_decoder(frame, size);
    free(frame);
    return 0;
}
