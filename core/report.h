/* report.h - the HDF5 run report: one schema written by both modes (sim, exec) and read back
 * by `spillway summary`, calibration and analysis/.
 *
 * The layout, every column, type and unit is specified in docs/formats/report.md; this header
 * is the C side of it. In short:
 *
 *   /                     attrs format_version, mode, scenario, seed, created_utc,
 *                         spillway_version, t0_unix_s
 *   /scenario             attr yaml (the fully resolved scenario text)
 *   /signals/<region>     table (t_s, mci_g_per_kwh)                       step series
 *   /sites                attr order (site names in index order)
 *   /sites/<site>         attrs index, region, gpus
 *   /sites/<site>/states  table (t_s, state)                               step series
 *   /sites/<site>/power   table (t_s, power_w)                             step series
 *   /sites/<site>/train   table (t_s, step, tokens, loss, ppl)             per log interval
 *   /rounds               table (round, t_start_s, t_end_s, n_sites, sites, tokens,
 *                                sync_bytes, sync_s, loss, ppl)
 *   /events               table (t_s, kind, site, round, value, detail)
 *   /global               table (t_s, tokens, loss, ppl)
 *   /summary              attrs runtime_h, gpu_hours, energy_kwh, ... + extras
 *   /summary/sites        table, one row per site (per-site figures)
 *
 * Every table is a one-dimensional compound dataset (columns = members), chunked, extendible,
 * shuffle+deflate, with a `units` attribute "col=unit, col=unit, ...". Times `t_s` are seconds
 * since the start of the run.
 *
 * Writing: rows are buffered and appended in blocks; sw_report_flush writes the buffers and
 * flushes the file (call it at round boundaries so a crash loses at most the current round).
 * The file is written under a temporary name in the destination directory and renamed to the
 * final path by sw_report_close only when complete: a crash, a failed close or
 * sw_report_abort never leaves a file at the final path.
 *
 * Errors: row functions validate their input and return SW_OK or SW_EINPUT/SW_ERUNTIME. The
 * first failure is kept by the report ("sticky"): later calls are ignored, sw_report_error
 * returns the message, and sw_report_close fails with it and leaves no output.
 *
 * HDF5's own error printing is switched off (process-wide) by sw_report_create and
 * sw_report_open, so that users only see our messages.
 *
 * Determinism: the same sequence of calls with the same meta (created_utc fixed) produces the
 * same file contents; no timestamps are stored in objects.
 */
#ifndef SW_REPORT_H
#define SW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define SW_REPORT_FORMAT_VERSION 1   /* the only version this build writes and reads */
#define SW_REPORT_NAME_MAX       64  /* site, region and extra names, including the NUL */
#define SW_REPORT_UNIT_MAX       32  /* an extra's unit string, including the NUL */
#define SW_REPORT_DETAIL_MAX     96  /* event detail text, including the NUL (95 chars kept) */
#define SW_REPORT_MAX_SITES      4096 /* sites per report (width of the /rounds `sites` mask) */
#define SW_REPORT_MASK_WORDS     (SW_REPORT_MAX_SITES / 64)

typedef enum sw_report_mode {
    SW_REPORT_SIM = 1,  /* "sim": SimGrid simulation, loss modelled */
    SW_REPORT_EXEC = 2, /* "exec": real processes, loss measured */
} sw_report_mode;

typedef enum sw_report_loss_kind {
    SW_REPORT_LOSS_DEFAULT = 0,  /* modelled for sim, measured for exec */
    SW_REPORT_LOSS_MEASURED = 1, /* "measured" */
    SW_REPORT_LOSS_MODELLED = 2, /* "modelled" */
} sw_report_loss_kind;

/* Site lifecycle states as stored in /sites/<site>/states (HDF5 enum `state`). The engine has
 * its own enum; drivers map. */
typedef enum sw_report_state {
    SW_REPORT_STATE_OFF = 0,          /* "off": not provisioned, draws nothing */
    SW_REPORT_STATE_PROVISIONING = 1, /* "provisioning": requested, not usable yet */
    SW_REPORT_STATE_READY = 2,        /* "ready": up and idle (waiting for a round) */
    SW_REPORT_STATE_TRAINING = 3,     /* "training": in a round (including its sync) */
    SW_REPORT_STATE_DRAINING = 4,     /* "draining": told to stop, returning its work */
    SW_REPORT_STATE_FAILED = 5,       /* "failed": lost (crash, preemption) */
    SW_REPORT_STATE_COUNT
} sw_report_state;

/* Event kinds of /events (HDF5 enum `event_kind`). The meaning of the site, round and value
 * columns per kind is in docs/formats/report.md; -1 means "not applicable" for site/round. */
typedef enum sw_report_event_kind {
    SW_REPORT_EV_PROVISION = 0,       /* site: provisioning requested */
    SW_REPORT_EV_READY = 1,           /* site: provisioning finished, site idle */
    SW_REPORT_EV_ROUND_START = 2,     /* round started; value = member sites */
    SW_REPORT_EV_ROUND_END = 3,       /* round ended; value = tokens trained in it */
    SW_REPORT_EV_JOIN = 4,            /* site joined round */
    SW_REPORT_EV_WORK_REPORTED = 5,   /* site returned its round work; value = tokens */
    SW_REPORT_EV_STOP = 6,            /* site told to stop (graceful drain) */
    SW_REPORT_EV_RELEASE = 7,         /* site deprovisioned */
    SW_REPORT_EV_FAIL = 8,            /* site failed; detail = reason */
    SW_REPORT_EV_AGGREGATE = 9,       /* round aggregated; value = contributions averaged */
    SW_REPORT_EV_SIGNAL_BELOW = 10,   /* signal went under threshold; value = MCI, g/kWh */
    SW_REPORT_EV_SIGNAL_ABOVE = 11,   /* signal went over threshold; value = MCI, g/kWh */
    SW_REPORT_EV_STOP_PENDING = 12,   /* hysteresis started; value = stop deadline t_s, s */
    SW_REPORT_EV_STOP_CANCELLED = 13, /* signal came back under before the deadline */
    SW_REPORT_EV_DONE = 14,           /* run finished; value = global tokens */
    SW_REPORT_EV_NOTE = 15,           /* free text in detail */
    SW_REPORT_EV_COUNT
} sw_report_event_kind;

/* ---- rows (the in-memory form of one table row; the file layout is packed) ---- */

typedef struct sw_report_signal_row {
    double t_s;           /* s since run start; value holds until the next row */
    double mci_g_per_kwh; /* marginal carbon intensity, gCO2/kWh */
} sw_report_signal_row;

typedef struct sw_report_state_row {
    double t_s; /* s; state holds until the next row */
    sw_report_state state;
} sw_report_state_row;

typedef struct sw_report_power_row {
    double t_s;     /* s; power holds until the next row */
    double power_w; /* W drawn by the whole site (all GPUs and hosts, before PUE) */
} sw_report_power_row;

typedef struct sw_report_train_row {
    double t_s;     /* s */
    int64_t step;   /* optimizer steps done by this site (cumulative) */
    int64_t tokens; /* tokens processed by this site (cumulative) */
    double loss;    /* training loss, nat/token (NAN if none) */
    double ppl;     /* perplexity = exp(loss) */
} sw_report_train_row;

typedef struct sw_report_round_row {
    int64_t round;                        /* 0, 1, 2, ... */
    double t_start_s;                     /* s */
    double t_end_s;                       /* s, >= t_start_s */
    int32_t n_sites;                      /* number of member sites (= bits set in sites) */
    uint64_t sites[SW_REPORT_MASK_WORDS]; /* member bitmask: bit i of word i/64 = site i */
    int64_t tokens;                       /* tokens trained in this round, all members */
    int64_t sync_bytes; /* bytes moved to synchronize (upload + download, all members) */
    double sync_s;      /* s, wall time of the synchronization phase */
    double loss;        /* global model's loss after the round, nat/token (NAN if none) */
    double ppl;         /* exp(loss) */
} sw_report_round_row;

typedef struct sw_report_event_row {
    double t_s;
    sw_report_event_kind kind;
    int32_t site;                      /* site index or -1 */
    int64_t round;                     /* round or -1 */
    double value;                      /* per kind (see sw_report_event_kind), NAN if none */
    char detail[SW_REPORT_DETAIL_MAX]; /* NUL-terminated text; longer input is truncated */
} sw_report_event_row;

typedef struct sw_report_global_row {
    double t_s;
    int64_t tokens; /* tokens in the global model (cumulative) */
    double loss;    /* nat/token (NAN if none) */
    double ppl;
} sw_report_global_row;

/* ---- summary ---- */

/* An additional summary figure, e.g. {"carbon_kg_baseline_DE", 12.3, "kg"}. The name must end
 * in (or otherwise state) its unit like the fixed fields do. */
typedef struct sw_report_extra {
    char name[SW_REPORT_NAME_MAX]; /* [A-Za-z0-9_.-]+, not a fixed field name */
    double value;
    char unit[SW_REPORT_UNIT_MAX]; /* e.g. "kg", "kWh", "h", "1" */
} sw_report_extra;

/* Whole-run figures (attributes of /summary). NAN marks a figure that was not computed. */
typedef struct sw_report_summary {
    double runtime_h;                 /* h, run start to end */
    double gpu_hours;                 /* GPU-hours provisioned (any state but off/failed) */
    double energy_kwh;                /* kWh, all sites, PUE included */
    double energy_provisioning_kwh;   /* kWh while provisioning */
    double energy_idle_kwh;           /* kWh while ready but not training */
    double energy_training_kwh;       /* kWh while training (local steps) */
    double energy_syncing_kwh;        /* kWh while synchronizing */
    double curtailed_energy_fraction; /* 0..1, share of energy_kwh inside curtailment windows */
    double carbon_kg;                 /* kgCO2 with the marginal signal */
    double carbon_attributional_kg;   /* kgCO2 with an average-intensity trace (NAN if none) */
    double final_loss;                /* nat/token, global model at the end */
    double final_ppl;                 /* exp(final_loss) */
    double best_ppl;                  /* lowest global perplexity reached */
    int64_t tokens;                   /* tokens in the final global model */
    int64_t rounds;                   /* rounds completed */
    int64_t sync_bytes;               /* bytes moved for synchronization, whole run */
    const sw_report_extra *extras;    /* n_extras figures; copied by sw_report_set_summary */
    size_t n_extras;
} sw_report_summary;

/* Per-site figures (rows of /summary/sites). NAN: not computed; tokens -1: not computed. */
typedef struct sw_report_site_summary {
    double up_h;                      /* h provisioned (provisioning, ready, training, draining) */
    double training_h;                /* h training */
    double gpu_hours;                 /* up_h x gpus */
    double energy_kwh;                /* kWh, PUE included */
    double curtailed_energy_fraction; /* 0..1 */
    double carbon_kg;                 /* kgCO2, marginal signal of the site's region */
    int64_t tokens;                   /* tokens this site trained */
} sw_report_site_summary;

/* ---- writer ---- */

typedef struct sw_report_meta {
    sw_report_mode mode;       /* required */
    const char *scenario_name; /* required, non-empty */
    const char *scenario_yaml; /* fully resolved scenario text; NULL = "" */
    uint64_t seed;
    const char *created_utc;       /* ISO 8601 "YYYY-MM-DDThh:mm:ssZ"; NULL = now */
    const char *spillway_version;  /* NULL = this build's version */
    sw_report_loss_kind loss_kind; /* 0 = by mode */
    double t0_unix_s;              /* Unix time of t_s = 0 (trace clock), 0 if not tied */
} sw_report_meta;

typedef struct sw_report sw_report;

/* Starts a report that will appear at `path` on sw_report_close. Writes to a unique temporary
 * file "<path>.tmp-XXXXXX" in the same directory. meta's strings are copied. An existing file
 * at `path` is replaced only at close. On success *out owns the writer: end it with
 * sw_report_close or sw_report_abort. */
int sw_report_create(const char *path, const sw_report_meta *meta, sw_report **out, sw_error *err);

/* The temporary file being written (owned by r, valid until close/abort). */
const char *sw_report_temp_path(const sw_report *r);

/* The first error met by r, or NULL if none. */
const char *sw_report_error(const sw_report *r);

/* Stores the signal of `region` as used by the run: n rows (t_s[i] s since start,
 * mci_g_per_kwh[i] gCO2/kWh; t_s non-decreasing). Arrays are copied. Once per region. */
int sw_report_add_signal(sw_report *r, const char *region, const double *t_s,
                         const double *mci_g_per_kwh, size_t n);

/* Declares a site; returns its index (0, 1, ...) or -1 on error (then sticky). Names are
 * unique, [A-Za-z0-9_.-]+ and shorter than SW_REPORT_NAME_MAX; at most SW_REPORT_MAX_SITES. */
int sw_report_add_site(sw_report *r, const char *name, const char *region, int gpus);

/* Appends to a site's step series; t_s must not go back in time within a series. */
int sw_report_site_state(sw_report *r, int site, double t_s, sw_report_state state);
int sw_report_site_power(sw_report *r, int site, double t_s, double power_w);
int sw_report_site_train(sw_report *r, int site, const sw_report_train_row *row);

/* Appends a completed round (n_sites must equal the bits set in sites; t_start_s must not go
 * back in time), an event (t_s non-decreasing; site -1 or valid) or a global-model point. */
int sw_report_round(sw_report *r, const sw_report_round_row *row);
int sw_report_event(sw_report *r, const sw_report_event_row *row);
int sw_report_global(sw_report *r, const sw_report_global_row *row);

/* Sets the whole-run summary (copied, extras included); required before close. Extra names
 * must be valid, unique and not a fixed field name. May be called again to replace it. */
int sw_report_set_summary(sw_report *r, const sw_report_summary *s);

/* Sets a site's figures for /summary/sites (copied). Unset sites get NAN / -1. */
int sw_report_set_site_summary(sw_report *r, int site, const sw_report_site_summary *s);

/* Marks the run incomplete (it failed at runtime; the report holds what it had): the root gets
 * `complete` = 0 and `incomplete_reason` = reason (copied, truncated to 255 chars) at close.
 * Without this call a closed report has `complete` = 1 and an empty reason. */
int sw_report_set_incomplete(sw_report *r, const char *reason);

/* Writes all buffered rows and flushes the file to disk (call at round boundaries). */
int sw_report_flush(sw_report *r, sw_error *err);

/* Writes everything, closes the file and renames it to the final path atomically. Always
 * consumes r: on failure the temporary file is removed and nothing is at the final path. */
int sw_report_close(sw_report *r, sw_error *err);

/* Discards the report: closes and deletes the temporary file, frees r. NULL is ignored. */
void sw_report_abort(sw_report *r);

/* ---- reader ---- */

typedef struct sw_report_signal_data {
    char region[SW_REPORT_NAME_MAX];
    sw_report_signal_row *rows;
    size_t n;
} sw_report_signal_data;

typedef struct sw_report_site_data {
    char name[SW_REPORT_NAME_MAX];
    char region[SW_REPORT_NAME_MAX];
    int gpus;
    sw_report_state_row *states;
    size_t n_states;
    sw_report_power_row *power;
    size_t n_power;
    sw_report_train_row *train;
    size_t n_train;
    sw_report_site_summary summary;
} sw_report_site_data;

/* A report loaded into plain arrays; everything is owned by the struct. */
typedef struct sw_report_data {
    int format_version;
    sw_report_mode mode;
    char *scenario_name;
    char *scenario_yaml;
    uint64_t seed;
    char *created_utc;
    char *spillway_version;
    double t0_unix_s;
    bool complete;                 /* root `complete` (true for reports written before it) */
    char *incomplete_reason;       /* root `incomplete_reason`, "" when complete */
    sw_report_loss_kind loss_kind; /* of /global (never DEFAULT) */
    sw_report_summary summary;     /* extras point into this struct */
    sw_report_site_data *sites;    /* in index order */
    size_t n_sites;
    sw_report_signal_data *signals; /* sorted by region name */
    size_t n_signals;
    sw_report_round_row *rounds;
    size_t n_rounds;
    sw_report_event_row *events;
    size_t n_events;
    sw_report_global_row *global;
    size_t n_global;
} sw_report_data;

/* Opens and validates a report (format_version known, mode valid, every required group,
 * dataset, column and attribute present) and loads it. Errors are SW_EINPUT and name the file
 * and object, e.g. "x.h5: /summary: attribute 'carbon_kg' missing". On success *out is owned
 * by the caller (free with sw_report_data_free). */
int sw_report_open(const char *path, sw_report_data **out, sw_error *err);

void sw_report_data_free(sw_report_data *d);

/* ---- names and helpers ---- */

/* Names used in the file ("off", "provisioning", ...; "provision", ...; "sim"/"exec";
 * "measured"/"modelled"), or NULL when out of range. */
const char *sw_report_state_name(sw_report_state s);
const char *sw_report_event_kind_name(sw_report_event_kind k);
const char *sw_report_mode_name(sw_report_mode m);
const char *sw_report_loss_kind_name(sw_report_loss_kind k);

/* Bit `site` of a /rounds member mask (sites[SW_REPORT_MASK_WORDS]). */
static inline void sw_report_mask_set(uint64_t *sites, int site)
{
    sites[site / 64] |= UINT64_C(1) << (site % 64);
}
static inline bool sw_report_mask_test(const uint64_t *sites, int site)
{
    return (sites[site / 64] >> (site % 64)) & 1u;
}

#endif
