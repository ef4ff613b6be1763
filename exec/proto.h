/* proto.h - the exec wire protocol: message framing, validation and payload layouts
 * (docs/formats/protocol.md is the specification; this header is its C side).
 *
 * Every ZeroMQ message between the coordinator (ROUTER) and a site agent (DEALER) is one frame:
 * a 32-byte header followed by the payload. All integers are little-endian.
 *
 *   off size field
 *    0   4   magic        0x31505753 ("SWP1")
 *    4   2   version      SW_PROTO_VERSION; another version is rejected
 *    6   2   type         sw_msg_type
 *    8   8   round        round the message belongs to, -1 if none
 *   16   4   seq          sender's message counter (for logs)
 *   20   4   payload_len  bytes after the header, <= SW_PROTO_MAX_PAYLOAD
 *   24   4   payload_crc  CRC-32 (exec/crc32.h) of the payload
 *   28   4   reserved     0
 *
 * Decoding checks the frame length, magic, version, type, bounds, reserved field, checksum
 * and the exact payload length of the type, and names what was wrong: a malformed message
 * is rejected and logged by the receiver, never acted on.
 */
#ifndef SW_EXEC_PROTO_H
#define SW_EXEC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define SW_PROTO_MAGIC       0x31505753u
#define SW_PROTO_VERSION     2u
#define SW_PROTO_HEADER      32u
#define SW_PROTO_CHUNK_MAX   (8u << 20) /* largest model chunk, bytes */
#define SW_PROTO_MAX_PAYLOAD (SW_PROTO_CHUNK_MAX + 64u)
#define SW_PROTO_NAME_MAX    64 /* site names, including the NUL */
#define SW_PROTO_TEXT_MAX    256
#define SW_PROTO_MAX_LEASES  64 /* leases one WORK message can report */

typedef enum sw_msg_type {
    SW_MSG_JOIN = 1,      /* agent -> coord: I am site X */
    SW_MSG_WELCOME = 2,   /* coord -> agent: accepted, here is how to train */
    SW_MSG_REJECT = 3,    /* coord -> agent: not accepted (reason) */
    SW_MSG_HEARTBEAT = 4, /* both ways: still alive */
    SW_MSG_PLAN = 5,      /* coord -> agent: round plan (deadline, model size) */
    SW_MSG_CHUNK = 6,     /* both ways: a piece of a model */
    SW_MSG_ACK = 7,       /* both ways: model bytes received so far (transfer window) */
    SW_MSG_LEASE_REQ = 8, /* agent -> coord: give me data */
    SW_MSG_LEASE = 9,     /* coord -> agent: a data lease (id 0: none left) */
    SW_MSG_METRICS = 10,  /* agent -> coord: training progress */
    SW_MSG_STOP = 11,     /* coord -> agent: stop training, return your work */
    SW_MSG_WORK = 12,     /* agent -> coord: round work; the model follows in CHUNKs */
    SW_MSG_RELEASE = 13,  /* coord -> agent: you are released */
    SW_MSG_LEAVE = 14,    /* agent -> coord: leaving (graceful) */
    SW_MSG_TYPE_END
} sw_msg_type;

typedef struct sw_msg_header {
    uint16_t version;
    uint16_t type;
    int64_t round;
    uint32_t seq;
    uint32_t payload_len;
    uint32_t payload_crc;
} sw_msg_header;

/* ---- payloads (in-memory form; the wire form is packed little-endian, see protocol.md) ---- */

typedef struct sw_msg_join {
    char site[SW_PROTO_NAME_MAX]; /* scenario site name */
    uint32_t pid;
    uint64_t n_params; /* 0 = not known yet */
} sw_msg_join;

typedef struct sw_msg_welcome {
    uint32_t site_index;
    uint64_t n_params;            /* floats in the model */
    uint32_t batch, seq, threads; /* training shape and CPU threads */
    uint32_t heartbeat_ms;        /* send a heartbeat this often */
    uint32_t log_interval_ms;     /* send METRICS this often while training */
    uint32_t chunk_bytes;         /* model chunk size */
    uint32_t window_chunks;       /* chunks in flight before an ACK is needed */
    uint64_t seed;
    float lr;                          /* inner AdamW peak learning rate */
    char preset[32];                   /* model preset */
    char data_path[SW_PROTO_TEXT_MAX]; /* the byte corpus, or with data_kind 1 the dataset folder */
    uint32_t vocab_size;               /* model vocabulary rows (the preset's, or exec.vocab) */
    uint32_t data_kind;                /* 0: byte corpus, 1: shard folder with manifest.txt */
    uint32_t tokenizer_crc;            /* data_kind 1: the manifest's, so a wrong copy is refused */
    uint64_t train_tokens;             /* data_kind 1: the manifest's training tokens */
} sw_msg_welcome;

typedef struct sw_msg_text {
    char text[SW_PROTO_TEXT_MAX]; /* REJECT reason */
} sw_msg_text;

typedef struct sw_msg_plan {
    int64_t deadline_ms; /* wall ms after receipt when the round ends; -1 = open-ended */
    uint64_t tokens_left;
    uint64_t model_bytes;
    uint32_t model_crc;
} sw_msg_plan;

typedef struct sw_msg_chunk {
    uint64_t offset;     /* byte offset of data in the model */
    uint64_t total;      /* model bytes */
    uint32_t len;        /* bytes of data (payload_len - 16) */
    const uint8_t *data; /* points into the decoded message */
} sw_msg_chunk;

typedef struct sw_msg_ack {
    uint64_t received; /* bytes of the model received so far */
} sw_msg_ack;

typedef struct sw_msg_lease {
    uint64_t lease_id;   /* 0: no data left */
    uint64_t begin, end; /* token range [begin, end) of the training split */
} sw_msg_lease;

typedef struct sw_msg_metrics {
    int64_t step;   /* optimizer steps of this agent (cumulative) */
    int64_t tokens; /* tokens trained by this agent (cumulative) */
    double loss;    /* mean training loss since the last METRICS, nat/token */
    double train_s; /* wall seconds spent in training steps (cumulative) */
} sw_msg_metrics;

typedef struct sw_msg_stop {
    uint32_t leaving; /* 0: end of round; 1: graceful stop before release */
} sw_msg_stop;

typedef struct sw_msg_work {
    uint64_t tokens, steps;
    double loss; /* mean training loss over the round, nat/token (NaN if no step) */
    uint64_t model_bytes;
    uint32_t model_crc;
    uint32_t n_leases;
    uint64_t lease_id[SW_PROTO_MAX_LEASES];
    uint64_t consumed[SW_PROTO_MAX_LEASES]; /* tokens consumed from the front of each lease */
} sw_msg_work;

typedef struct sw_msg_release {
    uint32_t stay; /* 0: exit; 1: stay connected and idle (static sites) */
} sw_msg_release;

/* Name of a type ("join", ...) or "unknown". */
const char *sw_msg_type_name(int type);

/* Writes header + payload into buf (capacity cap); returns the frame length, or 0 when it does
 * not fit or payload_len exceeds SW_PROTO_MAX_PAYLOAD. */
size_t sw_msg_frame(void *buf, size_t cap, sw_msg_type type, int64_t round, uint32_t seq,
                    const void *payload, size_t payload_len);

/* Validates a received frame (see the top of this file) and fills *h; *payload points into
 * frame. SW_EINPUT with a message naming the field ("header.magic", "payload_crc", ...). */
int sw_msg_parse(const void *frame, size_t len, sw_msg_header *h, const uint8_t **payload,
                 sw_error *err);

/* Payload encoders: write the wire form of m into buf (cap bytes), return its length (0 if it
 * does not fit). Decoders: check the exact length and value ranges of a payload of `len`
 * bytes and fill *m; SW_EINPUT naming the field otherwise. */
size_t sw_msg_put_join(void *buf, size_t cap, const sw_msg_join *m);
int sw_msg_get_join(const uint8_t *p, size_t len, sw_msg_join *m, sw_error *err);
size_t sw_msg_put_welcome(void *buf, size_t cap, const sw_msg_welcome *m);
int sw_msg_get_welcome(const uint8_t *p, size_t len, sw_msg_welcome *m, sw_error *err);
size_t sw_msg_put_text(void *buf, size_t cap, const sw_msg_text *m);
int sw_msg_get_text(const uint8_t *p, size_t len, sw_msg_text *m, sw_error *err);
size_t sw_msg_put_plan(void *buf, size_t cap, const sw_msg_plan *m);
int sw_msg_get_plan(const uint8_t *p, size_t len, sw_msg_plan *m, sw_error *err);
/* CHUNK: 16 bytes (offset, total) then the data; put copies len bytes of data. */
size_t sw_msg_put_chunk(void *buf, size_t cap, uint64_t offset, uint64_t total, const void *data,
                        uint32_t len);
int sw_msg_get_chunk(const uint8_t *p, size_t len, sw_msg_chunk *m, sw_error *err);
size_t sw_msg_put_ack(void *buf, size_t cap, const sw_msg_ack *m);
int sw_msg_get_ack(const uint8_t *p, size_t len, sw_msg_ack *m, sw_error *err);
size_t sw_msg_put_lease(void *buf, size_t cap, const sw_msg_lease *m);
int sw_msg_get_lease(const uint8_t *p, size_t len, sw_msg_lease *m, sw_error *err);
size_t sw_msg_put_metrics(void *buf, size_t cap, const sw_msg_metrics *m);
int sw_msg_get_metrics(const uint8_t *p, size_t len, sw_msg_metrics *m, sw_error *err);
size_t sw_msg_put_stop(void *buf, size_t cap, const sw_msg_stop *m);
int sw_msg_get_stop(const uint8_t *p, size_t len, sw_msg_stop *m, sw_error *err);
size_t sw_msg_put_work(void *buf, size_t cap, const sw_msg_work *m);
int sw_msg_get_work(const uint8_t *p, size_t len, sw_msg_work *m, sw_error *err);
size_t sw_msg_put_release(void *buf, size_t cap, const sw_msg_release *m);
int sw_msg_get_release(const uint8_t *p, size_t len, sw_msg_release *m, sw_error *err);

/* Expected payload length of a fixed-size type, or -1 for variable ones (CHUNK, WORK). */
long sw_msg_fixed_len(int type);

#endif
