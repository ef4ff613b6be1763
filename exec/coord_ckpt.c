/* coord_ckpt.c - the coordinator's checkpoint (see coord_int.h): after each validated round,
 * RUN_DIR/coordinator.ckpt (written as .tmp, then renamed; magic, version, CRC-32 at the end)
 * holds the global model, the outer momentum, the shards and the engine's snapshot as of the
 * round's aggregation, the figures, and the journal of report and ledger rows; --resume reads
 * it back into a new run session whose engine continues from the snapshot. */
#include "exec/coord_int.h"
#include "exec/fmt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "exec/crc32.h"

/* ---- checkpoint ---- */

#define CKPT_MAGIC "SWXCKPT1"
#define CKPT_VERSION                                                                               \
    4u /* 2: the engine's snapshot, shards as of the aggregation; 3: the                           \
           journal in its own append-only file; 4: the host's RAPL energy */

typedef struct ckpt_site {
    int64_t steps_total, tokens_total;
    double training_s;
    int32_t site_up; /* provisioned or up when the checkpoint was written */
} ckpt_site;

typedef struct ckpt_head {
    char magic[8];
    uint32_t version, scenario_crc;
    uint64_t n_params;
    uint32_t n_sites, has_momentum;
    double start_realtime, compression, t_ckpt;
    int64_t round_next, rounds_done, sync_bytes_total;
    double best_ppl, last_loss;
    uint64_t shards_len, journal_len, engine_len;
    uint32_t journal_crc, pad; /* CRC-32 of the journal file's first journal_len bytes */
    double rapl_energy_j;      /* host RAPL energy counted so far (NAN: no counter) */
} ckpt_head;

void coord_checkpoint_path(const coord *c, char *buf, size_t cap)
{
    sw_pathf(buf, cap, "%s/coordinator.ckpt", c->run_dir);
}

static void journal_path(const coord *c, char *buf, size_t cap)
{
    sw_pathf(buf, cap, "%s/coordinator.journal", c->run_dir);
}

/* Appends the journal rows written since the last checkpoint to RUN_DIR/coordinator.journal
 * and makes them durable: a checkpoint then only names how much of that file is its own,
 * instead of rewriting every row of the run each round. */
static int journal_append(coord *c, sw_error *err)
{
    sw_journal *jr = sw_run_journal(c->run);
    if (jr->len == c->jr_written)
        return SW_OK;
    char path[2200];
    journal_path(c, path, sizeof path);
    FILE *f = fopen(path, "ab");
    if (!f)
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot write: %s", path, strerror(errno));
    size_t n = jr->len - c->jr_written;
    bool ok = fwrite(jr->buf + c->jr_written, 1, n, f) == n && fflush(f) == 0;
    ok = ok && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot write: %s", path, strerror(errno));
    c->jr_crc = sw_exec_crc32(c->jr_crc, jr->buf + c->jr_written, n);
    c->jr_written = jr->len;
    return SW_OK;
}

/* A new run: no journal of an earlier one. */
void coord_journal_reset(coord *c)
{
    char path[2200];
    journal_path(c, path, sizeof path);
    unlink(path);
    c->jr_written = 0;
    c->jr_crc = 0;
}

/* At an aggregation, once the global model holds the round: the data it contains (the shards)
 * and the engine as it is, for the checkpoint written when the round's validation is in. Data
 * that sites return meanwhile (the next round's) is then not marked used in a checkpoint whose
 * model does not contain it. */
void coord_checkpoint_capture(coord *c)
{
    sw_error e;
    size_t slen = sw_shards_serialized_size(c->shards);
    uint8_t *sbuf = malloc(slen ? slen : 1), *ebuf = NULL;
    size_t elen = 0;
    if (!sbuf || sw_shards_serialize(c->shards, sbuf, slen, &slen, &e) != SW_OK ||
        sw_engine_snapshot(c->engine, &ebuf, &elen, &e) != SW_OK) {
        coord_log(c, "checkpoint: state not captured: %s", sbuf ? e.msg : "out of memory");
        free(sbuf);
        return;
    }
    free(c->ck_shards);
    free(c->ck_engine);
    c->ck_shards = sbuf;
    c->ck_shards_len = slen;
    c->ck_engine = ebuf;
    c->ck_engine_len = elen;
    c->ck_round_next = sw_run_round_next(c->run);
}

int coord_checkpoint_write(coord *c, sw_error *err)
{
    if (!c->ck_shards)
        return sw_errorf(err, SW_ERUNTIME, "checkpoint: nothing captured at an aggregation");
    double now = coord_run_t(c);
    /* Close every open phase so the journal holds the energy up to now. */
    for (size_t i = 0; i < c->n_sites; i++)
        if (coord_phase_of(c, &c->sites[i]) != SW_PHASE_OFF)
            coord_set_phase_at(c, &c->sites[i], coord_phase_of(c, &c->sites[i]), now);
    ckpt_head h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CKPT_MAGIC, 8);
    h.version = CKPT_VERSION;
    h.scenario_crc = sw_exec_crc32(0, c->sc->resolved_yaml, strlen(c->sc->resolved_yaml));
    h.n_params = c->n_params;
    h.n_sites = (uint32_t)c->n_sites;
    h.has_momentum = c->momentum != NULL;
    h.start_realtime = c->start_realtime;
    h.compression = c->compression;
    h.t_ckpt = now;
    int rc = journal_append(c, err);
    if (rc != SW_OK)
        return rc;
    h.round_next = c->ck_round_next; /* the engine's, as captured */
    h.rounds_done = sw_run_rounds_done(c->run);
    h.sync_bytes_total = sw_run_sync_bytes(c->run);
    h.best_ppl = sw_run_best_ppl(c->run);
    h.last_loss = sw_run_last_loss(c->run);
    h.shards_len = c->ck_shards_len;
    h.journal_len = c->jr_written;
    h.journal_crc = c->jr_crc;
    h.engine_len = c->ck_engine_len;
    sw_rapl_sample(&c->rapl, coord_mono_s(), true);
    h.rapl_energy_j = sw_rapl_energy_j(&c->rapl);
    char path[2200], tmp[2300];
    coord_checkpoint_path(c, path, sizeof path);
    sw_pathf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot write: %s", tmp, strerror(errno));
    uint32_t crc = 0;
#define W(ptr, n)                                                                                  \
    do {                                                                                           \
        fwrite((ptr), 1, (n), f);                                                                  \
        crc = sw_exec_crc32(crc, (ptr), (n));                                                      \
    } while (0)
    W(&h, sizeof h);
    for (size_t i = 0; i < c->n_sites; i++) {
        ckpt_site cs;
        memset(&cs, 0, sizeof cs);
        int64_t steps, tokens;
        sw_run_site_totals(c->run, i, &steps, &tokens, &cs.training_s);
        cs.steps_total = c->sites[i].steps_total;
        cs.tokens_total = c->sites[i].tokens_total;
        cs.site_up = sw_engine_site_state(c->engine, i) != SW_SITE_OFF;
        W(&cs, sizeof cs);
    }
    W(c->global, c->n_params * sizeof(float));
    if (c->momentum)
        W(c->momentum, c->n_params * sizeof(float));
    W(c->ck_shards, c->ck_shards_len);
    W(c->ck_engine, c->ck_engine_len);
#undef W
    fwrite(&crc, 4, 1, f);
    bool ok = fflush(f) == 0 && !ferror(f);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0)
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot write: %s", path, strerror(errno));
    return SW_OK;
}

/* Reads the checkpoint into a malloc'd buffer and checks its frame. */
static int coord_checkpoint_read(coord *c, uint8_t **buf, size_t *len, sw_error *err)
{
    char path[2200];
    coord_checkpoint_path(c, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sw_errorf(err, SW_EINPUT, "%s: cannot read: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (!*buf || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(*buf);
        return sw_errorf(err, SW_EINPUT, "%s: cannot read", path);
    }
    fclose(f);
    *len = (size_t)n;
    uint32_t crc;
    if (*len < sizeof(ckpt_head) + 4)
        return sw_errorf(err, SW_EINPUT, "%s: truncated", path);
    memcpy(&crc, *buf + *len - 4, 4);
    if (crc != sw_exec_crc32(0, *buf, *len - 4))
        return sw_errorf(err, SW_EINPUT, "%s: checksum mismatch (corrupt or truncated)", path);
    return SW_OK;
}

/* Replays the checkpoint's part of the journal file (its first journal_len bytes, checked by
 * CRC) and cuts off what came after the checkpoint, so that new rows append to it. */
static int replay_journal(coord *c, const ckpt_head *h, sw_error *err)
{
    char path[2200];
    journal_path(c, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f && h->journal_len > 0)
        return sw_errorf(err, SW_EINPUT, "%s: cannot read: %s", path, strerror(errno));
    uint8_t *buf = malloc(h->journal_len ? h->journal_len : 1);
    bool ok = buf && (h->journal_len == 0 || fread(buf, 1, h->journal_len, f) == h->journal_len);
    if (f)
        fclose(f);
    int rc = SW_OK;
    if (!ok)
        rc = sw_errorf(err, SW_EINPUT, "%s: shorter than the checkpoint's %llu bytes", path,
                       (unsigned long long)h->journal_len);
    else if (sw_exec_crc32(0, buf, h->journal_len) != h->journal_crc)
        rc = sw_errorf(err, SW_EINPUT, "%s: checksum mismatch with the checkpoint", path);
    else if (truncate(path, (off_t)h->journal_len) != 0 && errno != ENOENT)
        rc = sw_errorf(err, SW_ERUNTIME, "%s: cannot truncate: %s", path, strerror(errno));
    if (rc == SW_OK)
        rc = sw_journal_replay(sw_run_journal(c->run), buf, h->journal_len, err);
    free(buf);
    c->jr_written = h->journal_len;
    c->jr_crc = h->journal_crc;
    return rc;
}

int coord_resume(coord *c, const char *cpath, sw_error *err)
{
    const sw_scenario *sc = c->sc;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = coord_checkpoint_read(c, &buf, &len, err);
    if (rc != SW_OK) {
        free(buf);
        return rc;
    }
    ckpt_head h;
    memcpy(&h, buf, sizeof h);
    size_t need = sizeof h + c->n_sites * sizeof(ckpt_site) +
                  c->n_params * sizeof(float) * (h.has_momentum ? 2 : 1) + h.shards_len +
                  h.engine_len + 4;
    if (memcmp(h.magic, CKPT_MAGIC, 8) || h.version != CKPT_VERSION)
        rc = sw_errorf(err, SW_EINPUT, "%s: not a coordinator checkpoint of this version", cpath);
    else if (h.scenario_crc != sw_exec_crc32(0, sc->resolved_yaml, strlen(sc->resolved_yaml)))
        rc = sw_errorf(err, SW_EINPUT, "%s: written for another scenario", cpath);
    else if (h.n_params != c->n_params || h.n_sites != c->n_sites ||
             (h.has_momentum != 0) != (c->momentum != NULL) || need != len)
        rc = sw_errorf(err, SW_EINPUT, "%s: model, sites or length do not match", cpath);
    size_t off = sizeof h;
    bool up[SW_REPORT_MAX_SITES];
    for (size_t i = 0; rc == SW_OK && i < c->n_sites; i++) {
        ckpt_site cs;
        memcpy(&cs, buf + off, sizeof cs);
        off += sizeof cs;
        c->sites[i].steps_total = cs.steps_total;
        c->sites[i].tokens_total = cs.tokens_total;
        sw_run_site_totals_set(c->run, i, cs.steps_total, cs.tokens_total, cs.training_s);
        up[i] = cs.site_up != 0;
    }
    if (rc == SW_OK) {
        memcpy(c->global, buf + off, c->n_params * sizeof(float));
        off += c->n_params * sizeof(float);
        if (c->momentum) {
            memcpy(c->momentum, buf + off, c->n_params * sizeof(float));
            off += c->n_params * sizeof(float);
        }
        rc = sw_shards_deserialize(buf + off, h.shards_len, &c->shards, err);
        off += h.shards_len;
    }
    const uint8_t *engine = buf + off;
    off += h.engine_len;
    if (rc == SW_OK)
        rc = replay_journal(c, &h, err);
    if (rc != SW_OK) {
        free(buf);
        return rc;
    }
    for (size_t i = 0; i < c->n_sites; i++)
        sw_shards_site_left(c->shards, (uint32_t)i, NULL, err);
    c->start_realtime = h.start_realtime;
    sw_run_figures_set(c->run, h.rounds_done, h.sync_bytes_total, h.best_ppl, h.last_loss);
    c->resumed = true;
    c->mono0 = coord_mono_s();
    c->t_base = fmax(h.t_ckpt, (coord_real_s() - c->start_realtime) * c->compression);
    /* The engine carries on from its snapshot at the last aggregation (pending hysteresis,
     * round numbers, tokens); the sites' processes went down with the old coordinator. */
    sw_run_resume res = {.t_s = c->t_base,
                         .site_up = up,
                         .engine_snapshot = engine,
                         .engine_snapshot_len = h.engine_len};
    rc = sw_run_start(c->run, &res, err);
    free(buf);
    if (rc != SW_OK)
        return rc;
    sw_run_event(c->run, c->t_base, SW_REPORT_EV_NOTE, -1, -1, (double)h.round_next,
                 "coordinator restarted from its checkpoint; value = next round");
    if (isfinite(h.rapl_energy_j)) /* the energy before the restart is kept */
        sw_rapl_open(&c->rapl, NULL, h.rapl_energy_j, coord_mono_s());
    return SW_OK;
}

/* A new run: fresh shards, the engine at t = 0, the initial model's loss. */
