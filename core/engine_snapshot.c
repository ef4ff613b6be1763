/* engine_snapshot.c - saving and restoring the engine's state (see engine.h).
 *
 * Layout (little-endian):
 *   "SWENGSN1"  u32 version  u32 n_sites  f64 start_unix_s  f64 end_s  f64 horizon_s
 *   f64 now_s  i64 next_round_id  i64 rounds_completed  u64 tokens
 *   u8 finishing  u8 done  f64 finishing_s  char finish_why[96]  u8 round_end_why_set
 *   per site: u32 state  f64 since_s  f64 next_eval_s  f64 mci  char why[128]  u8 late[2]
 *   u8 round_active; if set: i64 id  f64 start_s  f64 deadline_s  u8 ended  u32 n
 *                            then n x (i32 site  u32 status  u64 tokens)
 *   u32 CRC-32 (IEEE 802.3, reflected, of every byte before it)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/engine_int.h"

#define SNAP_MAGIC   "SWENGSN1"
#define SNAP_VERSION 1u

/* The reason a single-site round got its deadline (engine.c sets this literal). */
static const char *const second_site_why = "single-site mode over: a second site is ready";

/* ---- CRC-32 (bitwise; snapshots are small) ---- */

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* ---- a growing little-endian writer ---- */

typedef struct writer {
    uint8_t *buf;
    size_t len, cap;
    bool oom;
} writer;

static void put(writer *w, const void *p, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t c = w->cap ? 2 * w->cap : 512;
        while (c < w->len + n)
            c *= 2;
        uint8_t *b = realloc(w->buf, c);
        if (!b) {
            w->oom = true;
            return;
        }
        w->buf = b;
        w->cap = c;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put_u64(writer *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 8);
}

static void put_u32(writer *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 4);
}

static void put_u8(writer *w, uint8_t v)
{
    put(w, &v, 1);
}

static void put_f64(writer *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(w, u);
}

/* ---- a bounds-checked reader ---- */

typedef struct reader {
    const uint8_t *p;
    size_t len, off;
    bool bad;
} reader;

static const uint8_t *take(reader *r, size_t n)
{
    if (r->bad || r->off + n > r->len) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *q = r->p + r->off;
    r->off += n;
    return q;
}

static uint64_t get_u64(reader *r)
{
    const uint8_t *b = take(r, 8);
    uint64_t v = 0;
    for (int i = 0; b && i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static uint32_t get_u32(reader *r)
{
    const uint8_t *b = take(r, 4);
    uint32_t v = 0;
    for (int i = 0; b && i < 4; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

static uint8_t get_u8(reader *r)
{
    const uint8_t *b = take(r, 1);
    return b ? b[0] : 0;
}

static double get_f64(reader *r)
{
    uint64_t u = get_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static void get_str(reader *r, char *dst, size_t n)
{
    const uint8_t *b = take(r, n);
    if (b) {
        memcpy(dst, b, n);
        dst[n - 1] = '\0';
    }
}

/* ---- snapshot ---- */

int sw_engine_snapshot(const sw_engine *e, uint8_t **buf, size_t *len, sw_error *err)
{
    *buf = NULL;
    *len = 0;
    if (e->broken)
        return sw_errorf(err, SW_ERUNTIME, "engine snapshot: the engine is broken: %s", e->err.msg);
    if (e->qn > 0)
        return sw_errorf(err, SW_EINPUT,
                         "engine snapshot: %zu action(s) not handed out yet; snapshot between "
                         "steps",
                         e->qn);
    writer w = {0};
    put(&w, SNAP_MAGIC, 8);
    put_u32(&w, SNAP_VERSION);
    put_u32(&w, (uint32_t)e->n);
    put_f64(&w, e->start_unix_s);
    put_f64(&w, e->end_s);
    put_f64(&w, e->horizon_s);
    put_f64(&w, e->now_s);
    put_u64(&w, (uint64_t)e->next_round_id);
    put_u64(&w, (uint64_t)e->rounds_completed);
    put_u64(&w, e->tokens);
    put_u8(&w, e->finishing);
    put_u8(&w, e->done);
    put_f64(&w, e->finishing_s);
    put(&w, e->finish_why, sizeof e->finish_why);
    put_u8(&w, e->round_end_why != NULL);
    for (size_t i = 0; i < e->n; i++) {
        const site_rt *s = &e->sites[i];
        put_u32(&w, (uint32_t)s->life.state);
        put_f64(&w, s->life.since_s);
        put_f64(&w, s->next_eval_s);
        put_f64(&w, s->mci);
        put(&w, s->why, sizeof s->why);
        put_u8(&w, s->late_noted[0]);
        put_u8(&w, s->late_noted[1]);
    }
    put_u8(&w, e->round_active);
    if (e->round_active) {
        const sw_round *r = &e->round;
        put_u64(&w, (uint64_t)r->id);
        put_f64(&w, r->start_s);
        put_f64(&w, r->deadline_s);
        put_u8(&w, r->ended);
        put_u32(&w, (uint32_t)r->n);
        for (size_t m = 0; m < r->n; m++) {
            put_u32(&w, (uint32_t)r->sites[m]);
            put_u32(&w, (uint32_t)r->status[m]);
            put_u64(&w, r->tokens[m]);
        }
    }
    put_u32(&w, crc32_ieee(w.buf, w.len));
    if (w.oom) {
        free(w.buf);
        return sw_errorf(err, SW_ERUNTIME, "engine snapshot: out of memory");
    }
    *buf = w.buf;
    *len = w.len;
    return SW_OK;
}

/* ---- restore ---- */

/* Replays every site's policy evaluations on the trace up to the snapshot's time, as the
 * engine made them: at each site's own next_eval_s, before the horizon and before finishing
 * began, all sites together in time order with ties by index (policies that share one group
 * decision, core/policy_group.h, decide at the first member observed at each instant). */
static int replay_policies(sw_engine *e, double now_s, bool finishing, double finishing_s,
                           const double *want_next_s, sw_error *err)
{
    /* at t = finishing_s only when the token target ended the run: the horizon comes before
     * the evaluations of its instant, an aggregate after them */
    for (size_t i = 0; i < e->n; i++)
        e->sites[i].next_eval_s = 0;
    for (size_t k = 0; k < 100000000; k++) {
        size_t next = e->n;
        for (size_t i = 0; i < e->n; i++) {
            double t = e->sites[i].next_eval_s;
            if (t <= now_s && t < e->horizon_s && (!finishing || t <= finishing_s) &&
                (next == e->n || t < e->sites[next].next_eval_s))
                next = i;
        }
        if (next == e->n)
            break;
        site_rt *s = &e->sites[next];
        sw_policy_decision d;
        double mci;
        s->next_eval_s = sw_policy_observe_trace(s->policy, e->trace, s->region, e->start_unix_s,
                                                 s->next_eval_s, &d, &mci);
    }
    for (size_t i = 0; i < e->n; i++) {
        double t = e->sites[i].next_eval_s, want = want_next_s[i];
        if (!(t == want || (isinf(t) && isinf(want))))
            return sw_errorf(err, SW_EINPUT,
                             "engine snapshot: sites[%zu].next_eval_s: the policy replayed on "
                             "this trace next looks at t=%g s, the snapshot says %g s (another "
                             "trace or policy?)",
                             i, t, want);
        e->sites[i].next_eval_s = want;
    }
    return SW_OK;
}

static int read_round(sw_engine *e, reader *r, sw_error *err)
{
    int64_t id = (int64_t)get_u64(r);
    double start_s = get_f64(r), deadline_s = get_f64(r);
    bool ended = get_u8(r) != 0;
    uint32_t n = get_u32(r);
    if (r->bad || n == 0 || n > e->n)
        return sw_errorf(err, SW_EINPUT, "engine snapshot: round: bad member count %u", n);
    int *ids = malloc(n * sizeof *ids);
    sw_member_status *st = malloc(n * sizeof *st);
    uint64_t *tok = malloc(n * sizeof *tok);
    int rc = ids && st && tok ? SW_OK : sw_errorf(err, SW_ERUNTIME, "engine: out of memory");
    for (uint32_t m = 0; rc == SW_OK && m < n; m++) {
        ids[m] = (int)get_u32(r);
        st[m] = (sw_member_status)get_u32(r);
        tok[m] = get_u64(r);
        if (r->bad || ids[m] < 0 || (size_t)ids[m] >= e->n || st[m] > SW_MEMBER_FAILED)
            rc = sw_errorf(err, SW_EINPUT, "engine snapshot: round.members[%u]: bad member", m);
    }
    if (rc == SW_OK)
        rc = sw_round_init(&e->round, id, start_s, &e->rounds, ids, n, err);
    if (rc == SW_OK) {
        e->round_active = true;
        e->round.deadline_s = deadline_s;
        e->round.ended = ended;
        memcpy(e->round.status, st, n * sizeof *st);
        memcpy(e->round.tokens, tok, n * sizeof *tok);
    }
    free(ids);
    free(st);
    free(tok);
    return rc;
}

static int read_state(sw_engine *e, reader *r, sw_error *err)
{
    double start_unix_s = get_f64(r), end_s = get_f64(r), horizon_s = get_f64(r);
    if (!r->bad &&
        (start_unix_s != e->start_unix_s || end_s != e->end_s || horizon_s != e->horizon_s))
        return sw_errorf(err, SW_EINPUT,
                         "engine snapshot: start_unix_s, end_s or wind_down_s differ from the "
                         "configuration (saved %.17g, %.17g, %.17g)",
                         start_unix_s, end_s, horizon_s);
    double now_s = get_f64(r);
    e->next_round_id = (int64_t)get_u64(r);
    e->rounds_completed = (int64_t)get_u64(r);
    e->tokens = get_u64(r);
    bool finishing = get_u8(r) != 0;
    e->done = get_u8(r) != 0;
    double finishing_s = get_f64(r);
    get_str(r, e->finish_why, sizeof e->finish_why);
    e->round_end_why = get_u8(r) ? second_site_why : NULL;
    double *next_eval_s = calloc(e->n, sizeof *next_eval_s);
    if (!next_eval_s)
        return sw_errorf(err, SW_ERUNTIME, "engine: out of memory");
    for (size_t i = 0; i < e->n && !r->bad; i++) {
        site_rt *s = &e->sites[i];
        uint32_t st = get_u32(r);
        s->life.since_s = get_f64(r);
        next_eval_s[i] = get_f64(r);
        s->mci = get_f64(r);
        get_str(r, s->why, sizeof s->why);
        s->late_noted[0] = get_u8(r) != 0;
        s->late_noted[1] = get_u8(r) != 0;
        if (r->bad || st > SW_SITE_FAILED) {
            free(next_eval_s);
            return sw_errorf(err, SW_EINPUT, "engine snapshot: sites[%zu].state: bad value", i);
        }
        s->life.state = (sw_site_state)st;
    }
    int rc = r->bad ? sw_errorf(err, SW_EINPUT, "engine snapshot: truncated")
                    : replay_policies(e, now_s, finishing, finishing_s, next_eval_s, err);
    free(next_eval_s);
    if (rc != SW_OK)
        return rc;
    e->now_s = now_s;
    e->finishing = finishing;
    e->finishing_s = finishing_s;
    if (get_u8(r))
        rc = read_round(e, r, err);
    if (rc == SW_OK && r->bad)
        rc = sw_errorf(err, SW_EINPUT, "engine snapshot: truncated");
    return rc;
}

/* Why buf is not a snapshot for cfg, before its state is read (SW_OK if it may be). */
static int check_header(const sw_engine_config *cfg, const uint8_t *buf, size_t len, reader *r,
                        sw_error *err)
{
    if (len < 8 + 4 + 4 + 4 || memcmp(buf, SNAP_MAGIC, 8) != 0)
        return sw_errorf(err, SW_EINPUT, "engine snapshot: not an engine snapshot (magic)");
    uint32_t crc = (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 |
                   (uint32_t)buf[len - 2] << 16 | (uint32_t)buf[len - 1] << 24;
    if (crc != crc32_ieee(buf, len - 4))
        return sw_errorf(err, SW_EINPUT, "engine snapshot: CRC mismatch (corrupt or truncated)");
    *r = (reader){.p = buf, .len = len - 4, .off = 8};
    uint32_t version = get_u32(r), n = get_u32(r);
    if (version != SNAP_VERSION)
        return sw_errorf(err, SW_EINPUT, "engine snapshot: version %u, this build reads %u",
                         version, SNAP_VERSION);
    if (n != cfg->n_sites)
        return sw_errorf(err, SW_EINPUT, "engine snapshot: %u sites, the configuration has %zu", n,
                         cfg->n_sites);
    return SW_OK;
}

int sw_engine_restore(const sw_engine_config *cfg, const uint8_t *buf, size_t len, sw_engine **out,
                      sw_error *err)
{
    *out = NULL;
    sw_engine *e;
    int rc = sw_engine_create(cfg, &e, err); /* first: it owns cfg->policies, also on failure */
    if (rc != SW_OK)
        return rc;
    reader r;
    rc = check_header(cfg, buf, len, &r, err);
    if (rc == SW_OK)
        rc = read_state(e, &r, err);
    if (rc == SW_OK && r.off != r.len)
        rc = sw_errorf(err, SW_EINPUT, "engine snapshot: %zu trailing bytes", r.len - r.off);
    if (rc != SW_OK) {
        sw_engine_destroy(e);
        return rc;
    }
    *out = e;
    return SW_OK;
}
