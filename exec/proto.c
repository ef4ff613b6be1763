/* proto.c - framing and payload codecs of the exec wire protocol (see proto.h). The wire
 * form is packed little-endian; codecs go field by field through a cursor so that struct
 * padding never reaches the wire and a short or long payload is caught by length. */
#include "exec/proto.h"

#include <math.h>
#include <string.h>

#include "exec/crc32.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the exec wire protocol assumes a little-endian host"
#endif

static const char *const type_names[SW_MSG_TYPE_END] = {
    [SW_MSG_JOIN] = "join",       [SW_MSG_WELCOME] = "welcome",
    [SW_MSG_REJECT] = "reject",   [SW_MSG_HEARTBEAT] = "heartbeat",
    [SW_MSG_PLAN] = "plan",       [SW_MSG_CHUNK] = "chunk",
    [SW_MSG_ACK] = "ack",         [SW_MSG_LEASE_REQ] = "lease_req",
    [SW_MSG_LEASE] = "lease",     [SW_MSG_METRICS] = "metrics",
    [SW_MSG_STOP] = "stop",       [SW_MSG_WORK] = "work",
    [SW_MSG_RELEASE] = "release", [SW_MSG_LEAVE] = "leave",
};

const char *sw_msg_type_name(int type)
{
    return type > 0 && type < SW_MSG_TYPE_END && type_names[type] ? type_names[type] : "unknown";
}

/* ---- cursor ---- */

typedef struct wcur {
    uint8_t *p;
    size_t n, cap;
    bool ok;
} wcur;

static void put(wcur *w, const void *v, size_t n)
{
    if (!w->ok || w->n + n > w->cap) {
        w->ok = false;
        return;
    }
    memcpy(w->p + w->n, v, n);
    w->n += n;
}
#define PUT(w, x)                                                                                  \
    do {                                                                                           \
        __typeof__(x) v_ = (x);                                                                    \
        put((w), &v_, sizeof v_);                                                                  \
    } while (0)

typedef struct rcur {
    const uint8_t *p;
    size_t n, len;
} rcur;

static void get(rcur *r, void *v, size_t n)
{
    memcpy(v, r->p + r->n, n); /* callers check the total length first */
    r->n += n;
}
#define GET(r, x) get((r), &(x), sizeof(x))

/* Copies a C string into a zero-filled fixed field, truncated to leave its NUL. */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static size_t finish(const wcur *w)
{
    return w->ok ? w->n : 0;
}

/* Fixed payload lengths on the wire. */
#define LEN_JOIN     (SW_PROTO_NAME_MAX + 4 + 8)
#define LEN_WELCOME  (4 + 8 + 4 * 3 + 4 * 4 + 8 + 4 + 32 + SW_PROTO_TEXT_MAX + 4 * 3 + 8)
#define LEN_TEXT     SW_PROTO_TEXT_MAX
#define LEN_PLAN     (8 + 8 + 8 + 4)
#define LEN_ACK      8
#define LEN_LEASE    24
#define LEN_METRICS  32
#define LEN_STOP     4
#define LEN_WORK_HDR (8 + 8 + 8 + 8 + 4 + 4)
#define LEN_RELEASE  4

long sw_msg_fixed_len(int type)
{
    switch (type) {
    case SW_MSG_JOIN:
        return LEN_JOIN;
    case SW_MSG_WELCOME:
        return LEN_WELCOME;
    case SW_MSG_REJECT:
        return LEN_TEXT;
    case SW_MSG_HEARTBEAT:
    case SW_MSG_LEASE_REQ:
    case SW_MSG_LEAVE:
        return 0;
    case SW_MSG_PLAN:
        return LEN_PLAN;
    case SW_MSG_ACK:
        return LEN_ACK;
    case SW_MSG_LEASE:
        return LEN_LEASE;
    case SW_MSG_METRICS:
        return LEN_METRICS;
    case SW_MSG_STOP:
        return LEN_STOP;
    case SW_MSG_RELEASE:
        return LEN_RELEASE;
    default:
        return -1;
    }
}

size_t sw_msg_frame(void *buf, size_t cap, sw_msg_type type, int64_t round, uint32_t seq,
                    const void *payload, size_t payload_len)
{
    if (payload_len > SW_PROTO_MAX_PAYLOAD || cap < SW_PROTO_HEADER + payload_len)
        return 0;
    wcur w = {buf, 0, cap, true};
    PUT(&w, (uint32_t)SW_PROTO_MAGIC);
    PUT(&w, (uint16_t)SW_PROTO_VERSION);
    PUT(&w, (uint16_t)type);
    PUT(&w, round);
    PUT(&w, seq);
    PUT(&w, (uint32_t)payload_len);
    PUT(&w, sw_exec_crc32(0, payload, payload_len));
    PUT(&w, (uint32_t)0);
    if (payload_len && (const uint8_t *)payload != (uint8_t *)buf + SW_PROTO_HEADER)
        memmove((uint8_t *)buf + SW_PROTO_HEADER, payload, payload_len);
    return SW_PROTO_HEADER + payload_len;
}

int sw_msg_parse(const void *frame, size_t len, sw_msg_header *h, const uint8_t **payload,
                 sw_error *err)
{
    if (len < SW_PROTO_HEADER)
        return sw_errorf(err, SW_EINPUT, "message: %zu bytes, shorter than the %u-byte header", len,
                         SW_PROTO_HEADER);
    rcur r = {frame, 0, len};
    uint32_t magic, reserved;
    GET(&r, magic);
    GET(&r, h->version);
    GET(&r, h->type);
    GET(&r, h->round);
    GET(&r, h->seq);
    GET(&r, h->payload_len);
    GET(&r, h->payload_crc);
    GET(&r, reserved);
    if (magic != SW_PROTO_MAGIC)
        return sw_errorf(err, SW_EINPUT, "message: header.magic: 0x%08x, expected 0x%08x", magic,
                         SW_PROTO_MAGIC);
    if (h->version != SW_PROTO_VERSION)
        return sw_errorf(err, SW_EINPUT, "message: header.version: %u, this build speaks %u",
                         h->version, SW_PROTO_VERSION);
    if (h->type == 0 || h->type >= SW_MSG_TYPE_END)
        return sw_errorf(err, SW_EINPUT, "message: header.type: unknown type %u", h->type);
    if (reserved != 0)
        return sw_errorf(err, SW_EINPUT, "message %s: header.reserved: %u, expected 0",
                         sw_msg_type_name(h->type), reserved);
    if (h->payload_len > SW_PROTO_MAX_PAYLOAD)
        return sw_errorf(err, SW_EINPUT,
                         "message %s: header.payload_len: %u bytes, more than the bound %u",
                         sw_msg_type_name(h->type), h->payload_len, SW_PROTO_MAX_PAYLOAD);
    if (h->payload_len != len - SW_PROTO_HEADER)
        return sw_errorf(err, SW_EINPUT,
                         "message %s: header.payload_len: %u, but the frame carries %zu bytes",
                         sw_msg_type_name(h->type), h->payload_len, len - SW_PROTO_HEADER);
    *payload = (const uint8_t *)frame + SW_PROTO_HEADER;
    uint32_t crc = sw_exec_crc32(0, *payload, h->payload_len);
    if (crc != h->payload_crc)
        return sw_errorf(err, SW_EINPUT,
                         "message %s: header.payload_crc: 0x%08x, payload checksums to 0x%08x",
                         sw_msg_type_name(h->type), h->payload_crc, crc);
    long fixed = sw_msg_fixed_len(h->type);
    if (fixed >= 0 && (long)h->payload_len != fixed)
        return sw_errorf(err, SW_EINPUT, "message %s: payload: %u bytes, expected %ld",
                         sw_msg_type_name(h->type), h->payload_len, fixed);
    return SW_OK;
}

static int check_len(const char *what, size_t len, size_t want, sw_error *err)
{
    if (len != want)
        return sw_errorf(err, SW_EINPUT, "message %s: payload: %zu bytes, expected %zu", what, len,
                         want);
    return SW_OK;
}

/* A fixed-size text field must hold a NUL within its bounds. */
static int check_text(const char *what, const char *field, const char *s, size_t cap, sw_error *err)
{
    if (!memchr(s, '\0', cap))
        return sw_errorf(err, SW_EINPUT, "message %s: %s: not NUL-terminated", what, field);
    return SW_OK;
}

size_t sw_msg_put_join(void *buf, size_t cap, const sw_msg_join *m)
{
    wcur w = {buf, 0, cap, true};
    char site[SW_PROTO_NAME_MAX] = {0};
    copy_text(site, sizeof site, m->site);
    put(&w, site, sizeof site);
    PUT(&w, m->pid);
    PUT(&w, m->n_params);
    return finish(&w);
}

int sw_msg_get_join(const uint8_t *p, size_t len, sw_msg_join *m, sw_error *err)
{
    if (check_len("join", len, LEN_JOIN, err))
        return SW_EINPUT;
    rcur r = {p, 0, len};
    get(&r, m->site, sizeof m->site);
    GET(&r, m->pid);
    GET(&r, m->n_params);
    if (check_text("join", "site", m->site, sizeof m->site, err))
        return SW_EINPUT;
    if (!m->site[0])
        return sw_errorf(err, SW_EINPUT, "message join: site: empty");
    return SW_OK;
}

size_t sw_msg_put_welcome(void *buf, size_t cap, const sw_msg_welcome *m)
{
    wcur w = {buf, 0, cap, true};
    PUT(&w, m->site_index);
    PUT(&w, m->n_params);
    PUT(&w, m->batch);
    PUT(&w, m->seq);
    PUT(&w, m->threads);
    PUT(&w, m->heartbeat_ms);
    PUT(&w, m->log_interval_ms);
    PUT(&w, m->chunk_bytes);
    PUT(&w, m->window_chunks);
    PUT(&w, m->seed);
    PUT(&w, m->lr);
    char preset[32] = {0}, data[SW_PROTO_TEXT_MAX] = {0};
    copy_text(preset, sizeof preset, m->preset);
    copy_text(data, sizeof data, m->data_path);
    put(&w, preset, sizeof preset);
    put(&w, data, sizeof data);
    PUT(&w, m->vocab_size);
    PUT(&w, m->data_kind);
    PUT(&w, m->tokenizer_crc);
    PUT(&w, m->train_tokens);
    return finish(&w);
}

int sw_msg_get_welcome(const uint8_t *p, size_t len, sw_msg_welcome *m, sw_error *err)
{
    if (check_len("welcome", len, LEN_WELCOME, err))
        return SW_EINPUT;
    rcur r = {p, 0, len};
    GET(&r, m->site_index);
    GET(&r, m->n_params);
    GET(&r, m->batch);
    GET(&r, m->seq);
    GET(&r, m->threads);
    GET(&r, m->heartbeat_ms);
    GET(&r, m->log_interval_ms);
    GET(&r, m->chunk_bytes);
    GET(&r, m->window_chunks);
    GET(&r, m->seed);
    GET(&r, m->lr);
    get(&r, m->preset, sizeof m->preset);
    get(&r, m->data_path, sizeof m->data_path);
    GET(&r, m->vocab_size);
    GET(&r, m->data_kind);
    GET(&r, m->tokenizer_crc);
    GET(&r, m->train_tokens);
    if (m->vocab_size < 2 || m->data_kind > 1)
        return sw_errorf(err, SW_EINPUT,
                         "message welcome: vocab_size %u / data_kind %u: expected "
                         ">= 2 and 0 or 1",
                         m->vocab_size, m->data_kind);
    if (check_text("welcome", "preset", m->preset, sizeof m->preset, err) ||
        check_text("welcome", "data_path", m->data_path, sizeof m->data_path, err))
        return SW_EINPUT;
    if (!m->batch || !m->seq || !m->threads || !m->heartbeat_ms || !m->window_chunks)
        return sw_errorf(err, SW_EINPUT,
                         "message welcome: batch/seq/threads/heartbeat_ms/"
                         "window_chunks: must be >= 1");
    if (!m->chunk_bytes || m->chunk_bytes > SW_PROTO_CHUNK_MAX)
        return sw_errorf(err, SW_EINPUT, "message welcome: chunk_bytes: %u, expected 1..%u",
                         m->chunk_bytes, SW_PROTO_CHUNK_MAX);
    if (!(m->lr > 0) || !isfinite(m->lr))
        return sw_errorf(err, SW_EINPUT, "message welcome: lr: expected a finite number > 0");
    return SW_OK;
}

size_t sw_msg_put_text(void *buf, size_t cap, const sw_msg_text *m)
{
    wcur w = {buf, 0, cap, true};
    char t[SW_PROTO_TEXT_MAX] = {0};
    copy_text(t, sizeof t, m->text);
    put(&w, t, sizeof t);
    return finish(&w);
}

int sw_msg_get_text(const uint8_t *p, size_t len, sw_msg_text *m, sw_error *err)
{
    if (check_len("reject", len, LEN_TEXT, err))
        return SW_EINPUT;
    memcpy(m->text, p, LEN_TEXT);
    return check_text("reject", "text", m->text, sizeof m->text, err) ? SW_EINPUT : SW_OK;
}

size_t sw_msg_put_plan(void *buf, size_t cap, const sw_msg_plan *m)
{
    wcur w = {buf, 0, cap, true};
    PUT(&w, m->deadline_ms);
    PUT(&w, m->tokens_left);
    PUT(&w, m->model_bytes);
    PUT(&w, m->model_crc);
    return finish(&w);
}

int sw_msg_get_plan(const uint8_t *p, size_t len, sw_msg_plan *m, sw_error *err)
{
    if (check_len("plan", len, LEN_PLAN, err))
        return SW_EINPUT;
    rcur r = {p, 0, len};
    GET(&r, m->deadline_ms);
    GET(&r, m->tokens_left);
    GET(&r, m->model_bytes);
    GET(&r, m->model_crc);
    if (m->deadline_ms < -1)
        return sw_errorf(err, SW_EINPUT, "message plan: deadline_ms: %lld, expected >= -1",
                         (long long)m->deadline_ms);
    if (m->model_bytes == 0 || m->model_bytes % 4)
        return sw_errorf(err, SW_EINPUT,
                         "message plan: model_bytes: %llu, expected a positive multiple of 4",
                         (unsigned long long)m->model_bytes);
    return SW_OK;
}

size_t sw_msg_put_chunk(void *buf, size_t cap, uint64_t offset, uint64_t total, const void *data,
                        uint32_t len)
{
    wcur w = {buf, 0, cap, true};
    PUT(&w, offset);
    PUT(&w, total);
    put(&w, data, len);
    return finish(&w);
}

int sw_msg_get_chunk(const uint8_t *p, size_t len, sw_msg_chunk *m, sw_error *err)
{
    if (len < 16)
        return sw_errorf(err, SW_EINPUT, "message chunk: payload: %zu bytes, expected >= 16", len);
    rcur r = {p, 0, len};
    GET(&r, m->offset);
    GET(&r, m->total);
    m->len = (uint32_t)(len - 16);
    m->data = p + 16;
    if (m->len > SW_PROTO_CHUNK_MAX)
        return sw_errorf(err, SW_EINPUT, "message chunk: data: %u bytes, more than %u", m->len,
                         SW_PROTO_CHUNK_MAX);
    if (m->offset > m->total || m->len > m->total - m->offset)
        return sw_errorf(err, SW_EINPUT,
                         "message chunk: offset: %llu + %u bytes runs past total %llu",
                         (unsigned long long)m->offset, m->len, (unsigned long long)m->total);
    return SW_OK;
}

size_t sw_msg_put_ack(void *buf, size_t cap, const sw_msg_ack *m)
{
    wcur w = {buf, 0, cap, true};
    PUT(&w, m->received);
    return finish(&w);
}

int sw_msg_get_ack(const uint8_t *p, size_t len, sw_msg_ack *m, sw_error *err)
{
    if (check_len("ack", len, LEN_ACK, err))
        return SW_EINPUT;
    rcur r = {p, 0, len};
    GET(&r, m->received);
    return SW_OK;
}

size_t sw_msg_put_lease(void *buf, size_t cap, const sw_msg_lease *m)
{
    wcur w = {buf, 0, cap, true};
    PUT(&w, m->lease_id);
    PUT(&w, m->begin);
    PUT(&w, m->end);
    return finish(&w);
}

int sw_msg_get_lease(const uint8_t *p, size_t len, sw_msg_lease *m, sw_error *err)
{
    if (check_len("lease", len, LEN_LEASE, err))
        return SW_EINPUT;
    rcur r = {p, 0, len};
    GET(&r, m->lease_id);
    GET(&r, m->begin);
    GET(&r, m->end);
    if (m->lease_id && m->begin >= m->end)
        return sw_errorf(err, SW_EINPUT, "message lease: begin %llu >= end %llu",
                         (unsigned long long)m->begin, (unsigned long long)m->end);
    return SW_OK;
}

size_t sw_msg_put_metrics(void *buf, size_t cap, const sw_msg_metrics *m)
{
    wcur w = {buf, 0, cap, true};
    PUT(&w, m->step);
    PUT(&w, m->tokens);
    PUT(&w, m->loss);
    PUT(&w, m->train_s);
    return finish(&w);
}

int sw_msg_get_metrics(const uint8_t *p, size_t len, sw_msg_metrics *m, sw_error *err)
{
    if (check_len("metrics", len, LEN_METRICS, err))
        return SW_EINPUT;
    rcur r = {p, 0, len};
    GET(&r, m->step);
    GET(&r, m->tokens);
    GET(&r, m->loss);
    GET(&r, m->train_s);
    if (m->step < 0 || m->tokens < 0 || !(m->train_s >= 0))
        return sw_errorf(err, SW_EINPUT, "message metrics: step/tokens/train_s: negative");
    return SW_OK;
}

size_t sw_msg_put_stop(void *buf, size_t cap, const sw_msg_stop *m)
{
    wcur w = {buf, 0, cap, true};
    PUT(&w, m->leaving);
    return finish(&w);
}

int sw_msg_get_stop(const uint8_t *p, size_t len, sw_msg_stop *m, sw_error *err)
{
    if (check_len("stop", len, LEN_STOP, err))
        return SW_EINPUT;
    rcur r = {p, 0, len};
    GET(&r, m->leaving);
    if (m->leaving > 1)
        return sw_errorf(err, SW_EINPUT, "message stop: leaving: %u, expected 0 or 1", m->leaving);
    return SW_OK;
}

size_t sw_msg_put_work(void *buf, size_t cap, const sw_msg_work *m)
{
    if (m->n_leases > SW_PROTO_MAX_LEASES)
        return 0;
    wcur w = {buf, 0, cap, true};
    PUT(&w, m->tokens);
    PUT(&w, m->steps);
    PUT(&w, m->loss);
    PUT(&w, m->model_bytes);
    PUT(&w, m->model_crc);
    PUT(&w, m->n_leases);
    for (uint32_t i = 0; i < m->n_leases; i++) {
        PUT(&w, m->lease_id[i]);
        PUT(&w, m->consumed[i]);
    }
    return finish(&w);
}

int sw_msg_get_work(const uint8_t *p, size_t len, sw_msg_work *m, sw_error *err)
{
    if (len < LEN_WORK_HDR)
        return sw_errorf(err, SW_EINPUT, "message work: payload: %zu bytes, expected >= %d", len,
                         LEN_WORK_HDR);
    rcur r = {p, 0, len};
    GET(&r, m->tokens);
    GET(&r, m->steps);
    GET(&r, m->loss);
    GET(&r, m->model_bytes);
    GET(&r, m->model_crc);
    GET(&r, m->n_leases);
    if (m->n_leases > SW_PROTO_MAX_LEASES)
        return sw_errorf(err, SW_EINPUT, "message work: n_leases: %u, at most %d", m->n_leases,
                         SW_PROTO_MAX_LEASES);
    if (check_len("work", len, LEN_WORK_HDR + 16 * (size_t)m->n_leases, err))
        return SW_EINPUT;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < m->n_leases; i++) {
        GET(&r, m->lease_id[i]);
        GET(&r, m->consumed[i]);
        sum += m->consumed[i];
    }
    if (sum != m->tokens)
        return sw_errorf(err, SW_EINPUT,
                         "message work: tokens: %llu, but the leases account for %llu",
                         (unsigned long long)m->tokens, (unsigned long long)sum);
    if (m->model_bytes == 0 || m->model_bytes % 4)
        return sw_errorf(err, SW_EINPUT,
                         "message work: model_bytes: %llu, expected a positive "
                         "multiple of 4",
                         (unsigned long long)m->model_bytes);
    return SW_OK;
}

size_t sw_msg_put_release(void *buf, size_t cap, const sw_msg_release *m)
{
    wcur w = {buf, 0, cap, true};
    PUT(&w, m->stay);
    return finish(&w);
}

int sw_msg_get_release(const uint8_t *p, size_t len, sw_msg_release *m, sw_error *err)
{
    if (check_len("release", len, LEN_RELEASE, err))
        return SW_EINPUT;
    rcur r = {p, 0, len};
    GET(&r, m->stay);
    if (m->stay > 1)
        return sw_errorf(err, SW_EINPUT, "message release: stay: %u, expected 0 or 1", m->stay);
    return SW_OK;
}
