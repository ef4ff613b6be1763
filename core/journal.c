/* journal.c - report and ledger rows, recorded for checkpoints (see journal.h). */
#include "core/journal.h"

#include <stdlib.h>
#include <string.h>

enum { J_STATE = 1, J_POWER, J_TRAIN, J_ROUND, J_EVENT, J_GLOBAL, J_ENERGY };

typedef struct j_state {
    int32_t site;
    sw_report_state_row row;
} j_state;
typedef struct j_power {
    int32_t site;
    sw_report_power_row row;
} j_power;
typedef struct j_train {
    int32_t site;
    sw_report_train_row row;
} j_train;
typedef struct j_energy {
    uint64_t site;
    int32_t state;
    double t0_s, t1_s, power_w;
} j_energy;

static void fail(sw_journal *j, int code, const char *msg)
{
    if (j->status == SW_OK) {
        j->status = code;
        sw_errorf(&j->err, code, "%s", msg);
    }
}

static void append(sw_journal *j, uint8_t kind, const void *rec, size_t n)
{
    if (j->len + 1 + n > j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 65536;
        while (cap < j->len + 1 + n)
            cap *= 2;
        uint8_t *b = realloc(j->buf, cap);
        if (!b) {
            fail(j, SW_ERUNTIME, "journal: out of memory");
            return;
        }
        j->buf = b;
        j->cap = cap;
    }
    j->buf[j->len] = kind;
    memcpy(j->buf + j->len + 1, rec, n);
    j->len += 1 + n;
}

/* Applies one record to the report or ledger. */
static void apply(sw_journal *j, uint8_t kind, const void *rec)
{
    int rc = SW_OK;
    switch (kind) {
    case J_STATE: {
        const j_state *r = rec;
        rc = sw_report_site_state(j->rep, r->site, r->row.t_s, r->row.state);
        break;
    }
    case J_POWER: {
        const j_power *r = rec;
        rc = sw_report_site_power(j->rep, r->site, r->row.t_s, r->row.power_w);
        break;
    }
    case J_TRAIN: {
        const j_train *r = rec;
        rc = sw_report_site_train(j->rep, r->site, &r->row);
        break;
    }
    case J_ROUND:
        rc = sw_report_round(j->rep, rec);
        break;
    case J_EVENT:
        rc = sw_report_event(j->rep, rec);
        break;
    case J_GLOBAL:
        rc = sw_report_global(j->rep, rec);
        break;
    case J_ENERGY: {
        const j_energy *r = rec;
        sw_error e;
        if (sw_ledger_add(j->ledger, r->site, r->state, r->t0_s, r->t1_s, r->power_w, &e) != SW_OK)
            fail(j, e.code, e.msg);
        return;
    }
    }
    if (rc != SW_OK)
        fail(j, rc, sw_report_error(j->rep) ? sw_report_error(j->rep) : "report: write failed");
}

static size_t rec_size(uint8_t kind)
{
    switch (kind) {
    case J_STATE:
        return sizeof(j_state);
    case J_POWER:
        return sizeof(j_power);
    case J_TRAIN:
        return sizeof(j_train);
    case J_ROUND:
        return sizeof(sw_report_round_row);
    case J_EVENT:
        return sizeof(sw_report_event_row);
    case J_GLOBAL:
        return sizeof(sw_report_global_row);
    case J_ENERGY:
        return sizeof(j_energy);
    default:
        return 0;
    }
}

static void record(sw_journal *j, uint8_t kind, const void *rec)
{
    if (j->keep)
        append(j, kind, rec, rec_size(kind));
    apply(j, kind, rec);
}

void sw_journal_state(sw_journal *j, int site, double t_s, sw_report_state st)
{
    j_state r;
    memset(&r, 0, sizeof r);
    r.site = site;
    r.row.t_s = t_s;
    r.row.state = st;
    record(j, J_STATE, &r);
}

void sw_journal_power(sw_journal *j, int site, double t_s, double power_w)
{
    j_power r;
    memset(&r, 0, sizeof r);
    r.site = site;
    r.row.t_s = t_s;
    r.row.power_w = power_w;
    record(j, J_POWER, &r);
}

void sw_journal_train(sw_journal *j, int site, const sw_report_train_row *row)
{
    j_train r;
    memset(&r, 0, sizeof r);
    r.site = site;
    r.row = *row;
    record(j, J_TRAIN, &r);
}

void sw_journal_round(sw_journal *j, const sw_report_round_row *row)
{
    record(j, J_ROUND, row);
}

void sw_journal_event(sw_journal *j, const sw_report_event_row *row)
{
    record(j, J_EVENT, row);
}

void sw_journal_global(sw_journal *j, const sw_report_global_row *row)
{
    record(j, J_GLOBAL, row);
}

void sw_journal_energy(sw_journal *j, size_t site, sw_ledger_state st, double t0_s, double t1_s,
                       double power_w)
{
    j_energy r;
    memset(&r, 0, sizeof r);
    r.site = site;
    r.state = st;
    r.t0_s = t0_s;
    r.t1_s = t1_s;
    r.power_w = power_w;
    record(j, J_ENERGY, &r);
}

int sw_journal_replay(sw_journal *j, const void *buf, size_t len, sw_error *err)
{
    const uint8_t *p = buf;
    size_t off = 0;
    while (off < len) {
        uint8_t kind = p[off];
        size_t n = rec_size(kind);
        if (!n)
            return sw_errorf(err, SW_EINPUT, "checkpoint: journal: unknown record %u at byte %zu",
                             kind, off);
        if (off + 1 + n > len)
            return sw_errorf(err, SW_EINPUT, "checkpoint: journal: truncated record at byte %zu",
                             off);
        /* Copy out: the buffer has no alignment guarantee. */
        union {
            j_state s;
            j_power p;
            j_train t;
            sw_report_round_row r;
            sw_report_event_row e;
            sw_report_global_row g;
            j_energy en;
        } rec;
        memcpy(&rec, p + off + 1, n);
        record(j, kind, &rec);
        off += 1 + n;
    }
    if (j->status != SW_OK)
        return sw_errorf(err, j->status, "checkpoint: journal replay: %s", j->err.msg);
    return SW_OK;
}

void sw_journal_free(sw_journal *j)
{
    free(j->buf);
    j->buf = NULL;
    j->len = j->cap = 0;
}
