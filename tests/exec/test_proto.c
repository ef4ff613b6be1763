/* test_proto.c - the wire protocol on its own: CRC-32, framing, payload codecs, and the
 * windowed model transfer over an inproc socket pair. */
#include <criterion/criterion.h>
#include <string.h>
#include <zmq.h>

#include "exec/crc32.h"
#include "exec/link.h"
#include "exec/proto.h"

Test(crc32, check_value_and_incremental)
{
    cr_assert_eq(sw_exec_crc32(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(sw_exec_crc32_soft(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(sw_exec_crc32(0, "", 0), 0u);
    /* slicing-by-8 and the byte loop agree at every split and misalignment */
    uint8_t data[1000];
    for (int i = 0; i < 1000; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    uint32_t whole = sw_exec_crc32(0, data, sizeof data);
    for (size_t cut = 0; cut <= 17; cut++)
        cr_assert_eq(sw_exec_crc32(sw_exec_crc32(0, data + 3, cut), data + 3 + cut, 997 - cut),
                     sw_exec_crc32(0, data + 3, 997));
    cr_assert_neq(whole, sw_exec_crc32(0, data, sizeof data - 1));
    /* the hardware and table paths agree at every length and alignment */
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len < 40; len++)
            cr_assert_eq(sw_exec_crc32(7, data + off, len), sw_exec_crc32_soft(7, data + off, len));
    cr_assert_eq(sw_exec_crc32(0, data, sizeof data), sw_exec_crc32_soft(0, data, sizeof data));
}

static size_t join_frame(uint8_t *buf, size_t cap)
{
    sw_msg_join j = {.site = "texas", .pid = 42, .n_params = 1000};
    uint8_t pl[256];
    size_t n = sw_msg_put_join(pl, sizeof pl, &j);
    return sw_msg_frame(buf, cap, SW_MSG_JOIN, 3, 9, pl, n);
}

Test(proto, frame_round_trip)
{
    uint8_t buf[512];
    size_t n = join_frame(buf, sizeof buf);
    cr_assert_gt(n, SW_PROTO_HEADER);
    sw_msg_header h;
    const uint8_t *p;
    sw_error err;
    cr_assert_eq(sw_msg_parse(buf, n, &h, &p, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(h.type, SW_MSG_JOIN);
    cr_assert_eq(h.round, 3);
    cr_assert_eq(h.seq, 9);
    sw_msg_join j;
    cr_assert_eq(sw_msg_get_join(p, h.payload_len, &j, &err), SW_OK);
    cr_assert_str_eq(j.site, "texas");
    cr_assert_eq(j.pid, 42);
    cr_assert_eq(j.n_params, 1000);
}

/* Each corruption is rejected with a message naming the field. */
Test(proto, malformed_frames_are_rejected_naming_the_field)
{
    struct {
        size_t at;
        uint8_t xor_with;
        const char *field;
    } cases[] = {{0, 0xFF, "header.magic"},        {4, 0x03, "header.version"},
                 {6, 0x40, "header.type"},         {28, 0x01, "header.reserved"},
                 {20, 0x01, "header.payload_len"}, {40, 0x01, "header.payload_crc"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t buf[512];
        size_t n = join_frame(buf, sizeof buf);
        buf[cases[i].at] ^= cases[i].xor_with;
        sw_msg_header h;
        const uint8_t *p;
        sw_error err;
        cr_assert_eq(sw_msg_parse(buf, n, &h, &p, &err), SW_EINPUT, "case %zu accepted", i);
        cr_assert(strstr(err.msg, cases[i].field), "case %zu: '%s' lacks %s", i, err.msg,
                  cases[i].field);
    }
    sw_msg_header h;
    const uint8_t *p;
    sw_error err;
    cr_assert_eq(sw_msg_parse("abc", 3, &h, &p, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "header"));
}

Test(proto, payload_bounds_and_lengths)
{
    static uint8_t buf[SW_PROTO_HEADER + SW_PROTO_MAX_PAYLOAD + 16];
    cr_assert_eq(sw_msg_frame(buf, sizeof buf, SW_MSG_CHUNK, 0, 0, buf + SW_PROTO_HEADER,
                              SW_PROTO_MAX_PAYLOAD + 1),
                 0, "a payload over the bound must not be framed");
    /* a fixed-size type with the wrong length */
    uint8_t pl[64] = {0};
    size_t n = sw_msg_frame(buf, sizeof buf, SW_MSG_PLAN, 0, 0, pl, 20);
    sw_msg_header h;
    const uint8_t *p;
    sw_error err;
    cr_assert_eq(sw_msg_parse(buf, n, &h, &p, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "plan") && strstr(err.msg, "payload"), "%s", err.msg);
    /* a chunk running past its model */
    uint8_t data[8] = {0};
    size_t cn = sw_msg_put_chunk(pl, sizeof pl, 60, 64, data, 8);
    sw_msg_chunk c;
    cr_assert_eq(sw_msg_get_chunk(pl, cn, &c, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "offset"), "%s", err.msg);
    /* a join whose site name is not terminated */
    uint8_t jp[128];
    memset(jp, 'x', sizeof jp);
    sw_msg_join j;
    cr_assert_eq(sw_msg_get_join(jp, SW_PROTO_NAME_MAX + 12, &j, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "site"), "%s", err.msg);
}

Test(proto, work_tokens_must_match_leases)
{
    sw_msg_work w = {.tokens = 300,
                     .steps = 3,
                     .loss = 2.5,
                     .model_bytes = 400,
                     .model_crc = 1,
                     .n_leases = 2,
                     .lease_id = {1, 2},
                     .consumed = {100, 200}};
    uint8_t pl[2048];
    size_t n = sw_msg_put_work(pl, sizeof pl, &w);
    sw_msg_work back;
    sw_error err;
    cr_assert_eq(sw_msg_get_work(pl, n, &back, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(back.consumed[1], 200);
    w.tokens = 301;
    n = sw_msg_put_work(pl, sizeof pl, &w);
    cr_assert_eq(sw_msg_get_work(pl, n, &back, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "tokens"), "%s", err.msg);
}

/* A 3 MB model in 64 KiB chunks with a window of 4, over inproc: it arrives intact, and a
 * corrupted byte is caught by the model checksum. */
static void transfer(bool corrupt)
{
    void *ctx = zmq_ctx_new();
    void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
    cr_assert_eq(zmq_bind(a, "inproc://xfer"), 0);
    cr_assert_eq(zmq_connect(b, "inproc://xfer"), 0);
    size_t n = 3u << 20;
    uint8_t *src = malloc(n), *dst = calloc(1, n);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i * 2654435761u >> 24);
    uint32_t crc = sw_exec_crc32(0, src, n);
    sw_peer pa = {.sock = a}, pb = {.sock = b};
    sw_xfer_tx tx;
    sw_xfer_rx rx;
    sw_error err;
    sw_xfer_tx_start(&tx, src, n, 64 << 10, 4, 5);
    sw_xfer_rx_start(&rx, dst, n, crc, 5);
    bool complete = false;
    int rc = SW_OK;
    while (!complete && rc == SW_OK) {
        cr_assert_eq(sw_xfer_tx_pump(&tx, &pa, &err), SW_OK, "%s", err.msg);
        cr_assert_leq(tx.sent - tx.acked, 4u * (64 << 10), "window exceeded");
        zmq_msg_t m;
        zmq_msg_init(&m);
        cr_assert_geq(zmq_msg_recv(&m, b, 0), 0);
        sw_msg_header h;
        const uint8_t *p;
        cr_assert_eq(sw_msg_parse(zmq_msg_data(&m), zmq_msg_size(&m), &h, &p, &err), SW_OK);
        sw_msg_chunk c;
        cr_assert_eq(sw_msg_get_chunk(p, h.payload_len, &c, &err), SW_OK);
        if (corrupt && c.offset == (1u << 20))
            ((uint8_t *)c.data)[5] ^= 1;
        rc = sw_xfer_rx_chunk(&rx, &pb, h.round, &c, &complete, &err);
        zmq_msg_close(&m);
        /* the ACK */
        zmq_msg_init(&m);
        cr_assert_geq(zmq_msg_recv(&m, a, 0), 0);
        cr_assert_eq(sw_msg_parse(zmq_msg_data(&m), zmq_msg_size(&m), &h, &p, &err), SW_OK);
        sw_msg_ack ack;
        cr_assert_eq(sw_msg_get_ack(p, h.payload_len, &ack, &err), SW_OK);
        cr_assert_eq(sw_xfer_tx_ack(&tx, &ack, &err), SW_OK);
        zmq_msg_close(&m);
    }
    if (corrupt) {
        cr_assert_eq(rc, SW_EINPUT);
        cr_assert(strstr(err.msg, "model_crc"), "%s", err.msg);
    } else {
        cr_assert_eq(rc, SW_OK, "%s", err.msg);
        cr_assert(sw_xfer_tx_done(&tx));
        cr_assert_eq(memcmp(src, dst, n), 0);
    }
    free(src);
    free(dst);
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

Test(xfer, model_arrives_intact_within_the_window)
{
    transfer(false);
}

Test(xfer, corrupted_model_is_caught_by_its_checksum)
{
    transfer(true);
}

Test(xfer, out_of_order_chunk_is_rejected)
{
    uint8_t dst[64];
    sw_xfer_rx rx;
    sw_xfer_rx_start(&rx, dst, sizeof dst, 0, 1);
    uint8_t data[16] = {0};
    sw_msg_chunk c = {.offset = 16, .total = 64, .len = 16, .data = data};
    sw_peer p = {0};
    bool done;
    sw_error err;
    cr_assert_eq(sw_xfer_rx_chunk(&rx, &p, 1, &c, &done, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "offset"), "%s", err.msg);
    c.offset = 0;
    cr_assert_eq(sw_xfer_rx_chunk(&rx, &p, 2, &c, &done, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "round"), "%s", err.msg);
}
