/* report_write.c - the HDF5 report writer (see report.h).
 *
 * Each table keeps a buffer of rows in memory and appends it to its extendible dataset in one
 * block when full, at sw_report_flush and at close: appending row by row costs a dataset
 * extension and a chunk rewrite per row. The file lives under a unique temporary name next to
 * the final path and is renamed only by a successful close, so a reader never sees a
 * half-written report at the final path.
 */
#include "core/fsutil.h"
#include "core/report_schema.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SW_VERSION
#define SW_VERSION "unknown"
#endif

enum { BLOCK_ROWS = 1024, DEFLATE_LEVEL = 4, CHUNK_BYTES = 32768 };

typedef struct table {
    const sw_table_schema *schema;
    hid_t dset;
    hid_t mtype;
    unsigned char *buf; /* up to BLOCK_ROWS rows not yet in the file */
    size_t n_buf;
    hsize_t n_file; /* rows already in the file */
    double last_t;  /* time of the last row appended, for the monotonicity check */
    bool any;
    char path[SW_REPORT_NAME_MAX + 24]; /* for messages, e.g. "/sites/texas/power" */
} table;

typedef struct site {
    char name[SW_REPORT_NAME_MAX];
    char region[SW_REPORT_NAME_MAX];
    int gpus;
    hid_t group;
    table states, power, train;
    sw_report_site_summary summary;
} site;

struct sw_report {
    char *final_path;
    char *tmp_path;
    hid_t file;
    hid_t g_signals, g_sites, g_summary;
    table rounds, events, global;
    site *sites;
    size_t n_sites;
    sw_report_loss_kind loss_kind; /* resolved, never DEFAULT */
    sw_report_summary summary;
    sw_report_extra *extras; /* owned copy of summary.extras */
    bool has_summary;
    bool incomplete;
    char incomplete_reason[256];
    sw_error err; /* first failure (sticky) */
};

/* Records the first failure and returns its code. */
__attribute__((format(printf, 3, 4))) static int fail(sw_report *r, int code, const char *fmt, ...)
{
    if (r->err.code == SW_OK) {
        int n = snprintf(r->err.msg, sizeof r->err.msg, "%s: ", r->final_path);
        va_list ap;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof r->err.msg)
            vsnprintf(r->err.msg + n, sizeof r->err.msg - (size_t)n, fmt, ap);
        va_end(ap);
        r->err.code = code;
    }
    return r->err.code;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Creation property list for groups and datasets: no access/modification times in object
 * headers, so that identical runs give identical files. */
static hid_t no_times_plist(hid_t cls)
{
    hid_t p = H5Pcreate(cls);
    if (p >= 0)
        H5Pset_obj_track_times(p, 0);
    return p;
}

static hid_t make_group(hid_t loc, const char *name)
{
    hid_t gcpl = no_times_plist(H5P_GROUP_CREATE);
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return g;
}

/* Creates an empty extendible table `name` under loc with its units (and loss_kind). */
static int table_open(sw_report *r, table *t, const sw_table_schema *s, hid_t loc, const char *name,
                      const char *path)
{
    memset(t, 0, sizeof *t);
    t->schema = s;
    t->dset = t->mtype = H5I_INVALID_HID;
    snprintf(t->path, sizeof t->path, "%s", path);
    t->buf = malloc((size_t)BLOCK_ROWS * s->row_size);
    if (!t->buf)
        return fail(r, SW_ERUNTIME, "%s: out of memory", path);
    hid_t ftype = sw_schema_file_type(s);
    t->mtype = sw_schema_mem_type(s);
    size_t row_bytes = ftype >= 0 ? H5Tget_size(ftype) : 1;
    hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED};
    hsize_t chunk[1] = {CHUNK_BYTES / row_bytes < 64 ? 64 : CHUNK_BYTES / row_bytes};
    hid_t sp = H5Screate_simple(1, dims, maxdims);
    hid_t dcpl = no_times_plist(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, DEFLATE_LEVEL);
    if (ftype >= 0 && t->mtype >= 0 && sp >= 0)
        t->dset = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    if (sp >= 0)
        H5Sclose(sp);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (t->dset < 0)
        return fail(r, SW_ERUNTIME, "%s: cannot create dataset", path);
    char units[512];
    sw_schema_units(s, units, sizeof units);
    int bad = sw_attr_put_str(t->dset, "units", units);
    if (s->loss_kind)
        bad |= sw_attr_put_str(t->dset, "loss_kind", sw_report_loss_kind_name(r->loss_kind));
    if (s == &sw_schema_event)
        bad |= sw_attr_put_str(t->dset, "value_units", sw_event_value_units);
    if (bad)
        return fail(r, SW_ERUNTIME, "%s: cannot write attributes", path);
    return SW_OK;
}

/* Appends the buffered rows to the dataset. */
static int table_write(sw_report *r, table *t)
{
    if (t->n_buf == 0 || t->dset < 0)
        return r->err.code;
    hsize_t start[1] = {t->n_file}, count[1] = {t->n_buf}, size[1] = {t->n_file + t->n_buf};
    int ok = H5Dset_extent(t->dset, size) >= 0;
    hid_t fsp = ok ? H5Dget_space(t->dset) : H5I_INVALID_HID;
    hid_t msp = H5Screate_simple(1, count, NULL);
    ok = ok && fsp >= 0 && msp >= 0 &&
         H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
         H5Dwrite(t->dset, t->mtype, msp, fsp, H5P_DEFAULT, t->buf) >= 0;
    if (fsp >= 0)
        H5Sclose(fsp);
    if (msp >= 0)
        H5Sclose(msp);
    if (!ok)
        return fail(r, SW_ERUNTIME, "%s: cannot append %zu rows (disk full?)", t->path, t->n_buf);
    t->n_file += t->n_buf;
    t->n_buf = 0;
    return SW_OK;
}

/* Buffers one row (already validated), writing the block when full. */
static int table_push(sw_report *r, table *t, const void *row, double t_s)
{
    memcpy(t->buf + t->n_buf * t->schema->row_size, row, t->schema->row_size);
    t->n_buf++;
    t->last_t = t_s;
    t->any = true;
    return t->n_buf == BLOCK_ROWS ? table_write(r, t) : SW_OK;
}

static void table_close(table *t)
{
    if (t->dset >= 0)
        H5Dclose(t->dset);
    if (t->mtype >= 0)
        H5Tclose(t->mtype);
    free(t->buf);
    t->dset = t->mtype = H5I_INVALID_HID;
    t->buf = NULL;
}

/* Checks a row time: finite, >= 0 and not before the previous row of the table. */
static int check_time(sw_report *r, const table *t, const char *col, double t_s)
{
    if (!isfinite(t_s) || t_s < 0)
        return fail(r, SW_EINPUT, "%s: %s %g is not a time >= 0", t->path, col, t_s);
    if (t->any && t_s < t->last_t)
        return fail(r, SW_EINPUT, "%s: %s %g goes back in time (previous row at %g)", t->path, col,
                    t_s, t->last_t);
    return SW_OK;
}

static int check_site(sw_report *r, int site_index, const char *what)
{
    if (site_index < 0 || (size_t)site_index >= r->n_sites)
        return fail(r, SW_EINPUT, "%s: site index %d out of range (%zu sites)", what, site_index,
                    r->n_sites);
    return SW_OK;
}

static void format_now_utc(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_root(sw_report *r, const sw_report_meta *m)
{
    char now[32];
    const char *created = m->created_utc;
    if (!created) {
        format_now_utc(now, sizeof now);
        created = now;
    }
    hid_t root = r->file;
    int bad = sw_attr_put_i32(root, "format_version", SW_REPORT_FORMAT_VERSION);
    bad |= sw_attr_put_str(root, "mode", sw_report_mode_name(m->mode));
    bad |= sw_attr_put_str(root, "scenario", m->scenario_name);
    bad |= sw_attr_put_u64(root, "seed", m->seed);
    bad |= sw_attr_put_str(root, "created_utc", created);
    bad |= sw_attr_put_str(root, "spillway_version",
                           m->spillway_version ? m->spillway_version : SW_VERSION);
    bad |= sw_attr_put_f64(root, "t0_unix_s", m->t0_unix_s);
    hid_t g = make_group(root, "scenario");
    bad |= g < 0 || sw_attr_put_str(g, "yaml", m->scenario_yaml ? m->scenario_yaml : "");
    if (g >= 0)
        H5Gclose(g);
    if (bad)
        return fail(r, SW_ERUNTIME, "cannot write the file attributes");
    r->g_signals = make_group(root, "signals");
    r->g_sites = make_group(root, "sites");
    r->g_summary = make_group(root, "summary");
    if (r->g_signals < 0 || r->g_sites < 0 || r->g_summary < 0)
        return fail(r, SW_ERUNTIME, "cannot create groups");
    int rc = table_open(r, &r->rounds, &sw_schema_round, root, "rounds", "/rounds");
    if (rc == SW_OK)
        rc = table_open(r, &r->events, &sw_schema_event, root, "events", "/events");
    if (rc == SW_OK)
        rc = table_open(r, &r->global, &sw_schema_global, root, "global", "/global");
    return rc;
}

/* Creates "<path>.tmp-XXXXXX" (unique, same directory, so the final rename is atomic). */
static int make_temp(sw_report *r)
{
    size_t n = strlen(r->final_path);
    r->tmp_path = malloc(n + 12);
    if (!r->tmp_path)
        return fail(r, SW_ERUNTIME, "out of memory");
    snprintf(r->tmp_path, n + 12, "%s.tmp-XXXXXX", r->final_path);
    int fd = mkstemp(r->tmp_path);
    if (fd < 0) {
        int e = errno;
        int code =
            e == ENOENT || e == ENOTDIR || e == EACCES || e == EROFS ? SW_EINPUT : SW_ERUNTIME;
        free(r->tmp_path);
        r->tmp_path = NULL;
        return fail(r, code, "cannot create the report: %s", strerror(e));
    }
    /* mkstemp makes the file 0600; a report is meant to be read, as the umask allows */
    if (fchmod(fd, sw_umask_file_mode()) != 0) {
        int e = errno;
        close(fd);
        unlink(r->tmp_path);
        free(r->tmp_path);
        r->tmp_path = NULL;
        return fail(r, SW_ERUNTIME, "cannot set the report's mode: %s", strerror(e));
    }
    close(fd);
    return SW_OK;
}

static void close_handles(sw_report *r)
{
    table_close(&r->rounds);
    table_close(&r->events);
    table_close(&r->global);
    for (size_t i = 0; i < r->n_sites; i++) {
        table_close(&r->sites[i].states);
        table_close(&r->sites[i].power);
        table_close(&r->sites[i].train);
        if (r->sites[i].group >= 0)
            H5Gclose(r->sites[i].group);
        r->sites[i].group = H5I_INVALID_HID;
    }
    hid_t *groups[] = {&r->g_signals, &r->g_sites, &r->g_summary};
    for (size_t i = 0; i < 3; i++) {
        if (*groups[i] >= 0)
            H5Gclose(*groups[i]);
        *groups[i] = H5I_INVALID_HID;
    }
}

static void destroy(sw_report *r, bool remove_temp)
{
    close_handles(r);
    if (r->file >= 0)
        H5Fclose(r->file);
    if (remove_temp && r->tmp_path)
        unlink(r->tmp_path);
    free(r->sites);
    free(r->extras);
    free(r->tmp_path);
    free(r->final_path);
    free(r);
}

int sw_report_create(const char *path, const sw_report_meta *meta, sw_report **out, sw_error *err)
{
    sw_h5_quiet();
    *out = NULL;
    if (!path || !*path)
        return sw_errorf(err, SW_EINPUT, "report: empty output path");
    if (!meta || !sw_report_mode_name(meta->mode))
        return sw_errorf(err, SW_EINPUT, "%s: mode must be sim or exec", path);
    if (!meta->scenario_name || !*meta->scenario_name)
        return sw_errorf(err, SW_EINPUT, "%s: scenario name missing", path);
    if (meta->loss_kind != SW_REPORT_LOSS_DEFAULT && !sw_report_loss_kind_name(meta->loss_kind))
        return sw_errorf(err, SW_EINPUT, "%s: loss_kind %d invalid", path, (int)meta->loss_kind);
    sw_report *r = calloc(1, sizeof *r);
    if (!r || !(r->final_path = dup_str(path))) {
        free(r);
        return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", path);
    }
    r->file = r->g_signals = r->g_sites = r->g_summary = H5I_INVALID_HID;
    r->rounds.dset = r->events.dset = r->global.dset = H5I_INVALID_HID;
    r->rounds.mtype = r->events.mtype = r->global.mtype = H5I_INVALID_HID;
    r->loss_kind = meta->loss_kind != SW_REPORT_LOSS_DEFAULT ? meta->loss_kind
                   : meta->mode == SW_REPORT_SIM             ? SW_REPORT_LOSS_MODELLED
                                                             : SW_REPORT_LOSS_MEASURED;
    int rc = make_temp(r);
    if (rc == SW_OK) {
        /* Format 1.8 objects: needed for attributes over 64 KiB (a big resolved scenario)
         * and readable by every HDF5 since 1.8. Strong close: no handle outlives the file. */
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
        r->file = H5Fcreate(r->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        H5Pclose(fapl);
        rc = r->file < 0 ? fail(r, SW_ERUNTIME, "cannot create %s", r->tmp_path)
                         : write_root(r, meta);
    }
    if (rc != SW_OK) {
        if (err)
            *err = r->err;
        destroy(r, true);
        return rc;
    }
    *out = r;
    return SW_OK;
}

const char *sw_report_temp_path(const sw_report *r)
{
    return r->tmp_path;
}

const char *sw_report_error(const sw_report *r)
{
    return r->err.code == SW_OK ? NULL : r->err.msg;
}

int sw_report_add_signal(sw_report *r, const char *region, const double *t_s,
                         const double *mci_g_per_kwh, size_t n)
{
    if (r->err.code != SW_OK)
        return r->err.code;
    if (!sw_report_name_ok(region))
        return fail(r, SW_EINPUT,
                    "/signals: region name '%s' invalid ([A-Za-z0-9_.-], 1-%d "
                    "chars)",
                    region ? region : "(null)", SW_REPORT_NAME_MAX - 1);
    if (H5Lexists(r->g_signals, region, H5P_DEFAULT) > 0)
        return fail(r, SW_EINPUT, "/signals/%s: signal added twice", region);
    if (n > 0 && (!t_s || !mci_g_per_kwh))
        return fail(r, SW_EINPUT, "/signals/%s: no data", region);
    char path[SW_REPORT_NAME_MAX + 16];
    snprintf(path, sizeof path, "/signals/%s", region);
    table t;
    int rc = table_open(r, &t, &sw_schema_signal, r->g_signals, region, path);
    for (size_t i = 0; i < n && rc == SW_OK; i++) {
        if (!isfinite(mci_g_per_kwh[i]) || mci_g_per_kwh[i] < 0) {
            rc = fail(r, SW_EINPUT, "%s: row %zu: mci_g_per_kwh %g invalid", path, i,
                      mci_g_per_kwh[i]);
            break;
        }
        rc = check_time(r, &t, "t_s", t_s[i]);
        sw_report_signal_row row = {t_s[i], mci_g_per_kwh[i]};
        if (rc == SW_OK)
            rc = table_push(r, &t, &row, row.t_s);
    }
    if (rc == SW_OK)
        rc = table_write(r, &t);
    table_close(&t);
    return rc;
}

int sw_report_add_site(sw_report *r, const char *name, const char *region, int gpus)
{
    if (r->err.code != SW_OK)
        return -1;
    if (!sw_report_name_ok(name)) {
        fail(r, SW_EINPUT, "/sites: site name '%s' invalid ([A-Za-z0-9_.-], 1-%d chars)",
             name ? name : "(null)", SW_REPORT_NAME_MAX - 1);
        return -1;
    }
    if (!sw_report_name_ok(region)) {
        fail(r, SW_EINPUT, "/sites/%s: region name '%s' invalid", name, region ? region : "(null)");
        return -1;
    }
    if (gpus < 0) {
        fail(r, SW_EINPUT, "/sites/%s: gpus %d < 0", name, gpus);
        return -1;
    }
    if (r->n_sites == SW_REPORT_MAX_SITES) {
        fail(r, SW_EINPUT, "/sites/%s: more than %d sites", name, SW_REPORT_MAX_SITES);
        return -1;
    }
    for (size_t i = 0; i < r->n_sites; i++)
        if (!strcmp(r->sites[i].name, name)) {
            fail(r, SW_EINPUT, "/sites/%s: site added twice", name);
            return -1;
        }
    site *grown = realloc(r->sites, (r->n_sites + 1) * sizeof *grown);
    if (!grown) {
        fail(r, SW_ERUNTIME, "out of memory");
        return -1;
    }
    r->sites = grown;
    int index = (int)r->n_sites;
    site *s = &r->sites[index];
    memset(s, 0, sizeof *s);
    s->group = H5I_INVALID_HID;
    s->states.dset = s->power.dset = s->train.dset = H5I_INVALID_HID;
    s->states.mtype = s->power.mtype = s->train.mtype = H5I_INVALID_HID;
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->region, sizeof s->region, "%s", region);
    s->gpus = gpus;
    sw_report_site_summary unset = {NAN, NAN, NAN, NAN, NAN, NAN, -1};
    s->summary = unset;
    r->n_sites++;

    char path[SW_REPORT_NAME_MAX + 16];
    snprintf(path, sizeof path, "/sites/%s", name);
    s->group = make_group(r->g_sites, name);
    if (s->group < 0 || sw_attr_put_i32(s->group, "index", index) ||
        sw_attr_put_str(s->group, "region", region) || sw_attr_put_i32(s->group, "gpus", gpus)) {
        fail(r, SW_ERUNTIME, "%s: cannot create group", path);
        return -1;
    }
    char tpath[SW_REPORT_NAME_MAX + 24];
    int rc;
    snprintf(tpath, sizeof tpath, "%s/states", path);
    rc = table_open(r, &s->states, &sw_schema_state, s->group, "states", tpath);
    snprintf(tpath, sizeof tpath, "%s/power", path);
    if (rc == SW_OK)
        rc = table_open(r, &s->power, &sw_schema_power, s->group, "power", tpath);
    snprintf(tpath, sizeof tpath, "%s/train", path);
    if (rc == SW_OK)
        rc = table_open(r, &s->train, &sw_schema_train, s->group, "train", tpath);
    return rc == SW_OK ? index : -1;
}

int sw_report_site_state(sw_report *r, int site_index, double t_s, sw_report_state state)
{
    if (r->err.code != SW_OK || check_site(r, site_index, "/sites") != SW_OK)
        return r->err.code;
    table *t = &r->sites[site_index].states;
    if (!sw_report_state_name(state))
        return fail(r, SW_EINPUT, "%s: state %d invalid", t->path, (int)state);
    if (check_time(r, t, "t_s", t_s) != SW_OK)
        return r->err.code;
    sw_report_state_row row = {t_s, state};
    return table_push(r, t, &row, t_s);
}

int sw_report_site_power(sw_report *r, int site_index, double t_s, double power_w)
{
    if (r->err.code != SW_OK || check_site(r, site_index, "/sites") != SW_OK)
        return r->err.code;
    table *t = &r->sites[site_index].power;
    if (!isfinite(power_w) || power_w < 0)
        return fail(r, SW_EINPUT, "%s: power_w %g invalid (finite, >= 0)", t->path, power_w);
    if (check_time(r, t, "t_s", t_s) != SW_OK)
        return r->err.code;
    sw_report_power_row row = {t_s, power_w};
    return table_push(r, t, &row, t_s);
}

int sw_report_site_train(sw_report *r, int site_index, const sw_report_train_row *row)
{
    if (r->err.code != SW_OK || check_site(r, site_index, "/sites") != SW_OK)
        return r->err.code;
    table *t = &r->sites[site_index].train;
    if (row->step < 0 || row->tokens < 0)
        return fail(r, SW_EINPUT, "%s: step %lld / tokens %lld negative", t->path,
                    (long long)row->step, (long long)row->tokens);
    if (check_time(r, t, "t_s", row->t_s) != SW_OK)
        return r->err.code;
    return table_push(r, t, row, row->t_s);
}

int sw_report_round(sw_report *r, const sw_report_round_row *row)
{
    if (r->err.code != SW_OK)
        return r->err.code;
    table *t = &r->rounds;
    if (row->round < 0)
        return fail(r, SW_EINPUT, "/rounds: round %lld < 0", (long long)row->round);
    if (check_time(r, t, "t_start_s", row->t_start_s) != SW_OK)
        return r->err.code;
    if (!isfinite(row->t_end_s) || row->t_end_s < row->t_start_s)
        return fail(r, SW_EINPUT, "/rounds: round %lld: t_end_s %g before t_start_s %g",
                    (long long)row->round, row->t_end_s, row->t_start_s);
    int bits = 0;
    for (int w = 0; w < SW_REPORT_MASK_WORDS; w++)
        for (int b = 0; b < 64; b++)
            if ((row->sites[w] >> b) & 1u) {
                if ((size_t)(w * 64 + b) >= r->n_sites)
                    return fail(r, SW_EINPUT, "/rounds: round %lld: member site %d unknown",
                                (long long)row->round, w * 64 + b);
                bits++;
            }
    if (bits != row->n_sites)
        return fail(r, SW_EINPUT, "/rounds: round %lld: n_sites %d but %d sites in the mask",
                    (long long)row->round, (int)row->n_sites, bits);
    if (row->tokens < 0 || row->sync_bytes < 0 || !(row->sync_s >= 0))
        return fail(r, SW_EINPUT, "/rounds: round %lld: tokens, sync_bytes or sync_s negative",
                    (long long)row->round);
    return table_push(r, t, row, row->t_start_s);
}

int sw_report_event(sw_report *r, const sw_report_event_row *row)
{
    if (r->err.code != SW_OK)
        return r->err.code;
    table *t = &r->events;
    if (!sw_report_event_kind_name(row->kind))
        return fail(r, SW_EINPUT, "/events: kind %d invalid", (int)row->kind);
    if (row->site < -1 || (row->site >= 0 && (size_t)row->site >= r->n_sites))
        return fail(r, SW_EINPUT, "/events: site index %d out of range (%zu sites)", (int)row->site,
                    r->n_sites);
    if (row->round < -1)
        return fail(r, SW_EINPUT, "/events: round %lld invalid (-1 or >= 0)",
                    (long long)row->round);
    if (check_time(r, t, "t_s", row->t_s) != SW_OK)
        return r->err.code;
    /* Copy with the text cut at its NUL and zeros after it: the bytes past the terminator
     * would otherwise reach the file and break byte-for-byte reproducibility. */
    sw_report_event_row clean = *row;
    size_t len = strnlen(row->detail, SW_REPORT_DETAIL_MAX - 1);
    memset(clean.detail, 0, sizeof clean.detail);
    memcpy(clean.detail, row->detail, len);
    return table_push(r, t, &clean, row->t_s);
}

int sw_report_global(sw_report *r, const sw_report_global_row *row)
{
    if (r->err.code != SW_OK)
        return r->err.code;
    if (row->tokens < 0)
        return fail(r, SW_EINPUT, "/global: tokens %lld negative", (long long)row->tokens);
    if (check_time(r, &r->global, "t_s", row->t_s) != SW_OK)
        return r->err.code;
    return table_push(r, &r->global, row, row->t_s);
}

static bool is_fixed_summary_name(const char *name)
{
    for (size_t i = 0; i < sw_summary_field_count; i++)
        if (!strcmp(sw_summary_fields[i].name, name))
            return true;
    return !strcmp(name, "units") || !strcmp(name, "sites");
}

int sw_report_set_summary(sw_report *r, const sw_report_summary *s)
{
    if (r->err.code != SW_OK)
        return r->err.code;
    if (s->n_extras > 0 && !s->extras)
        return fail(r, SW_EINPUT, "/summary: %zu extras but no array", s->n_extras);
    for (size_t i = 0; i < s->n_extras; i++) {
        const sw_report_extra *x = &s->extras[i];
        if (!sw_report_name_ok(x->name) || is_fixed_summary_name(x->name))
            return fail(r, SW_EINPUT, "/summary: extra name '%.*s' invalid or reserved",
                        SW_REPORT_NAME_MAX - 1, x->name);
        size_t ulen = strnlen(x->unit, SW_REPORT_UNIT_MAX);
        if (ulen == 0 || ulen == SW_REPORT_UNIT_MAX || strchr(x->unit, ',') || strchr(x->unit, '='))
            return fail(r, SW_EINPUT,
                        "/summary: extra '%s': unit missing, too long or "
                        "containing ',' or '='",
                        x->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->extras[j].name, x->name))
                return fail(r, SW_EINPUT, "/summary: extra '%s' given twice", x->name);
    }
    sw_report_extra *copy = NULL;
    if (s->n_extras > 0) {
        copy = malloc(s->n_extras * sizeof *copy);
        if (!copy)
            return fail(r, SW_ERUNTIME, "out of memory");
        memcpy(copy, s->extras, s->n_extras * sizeof *copy);
    }
    free(r->extras);
    r->extras = copy;
    r->summary = *s;
    r->summary.extras = copy;
    r->has_summary = true;
    return SW_OK;
}

int sw_report_set_site_summary(sw_report *r, int site_index, const sw_report_site_summary *s)
{
    if (r->err.code != SW_OK || check_site(r, site_index, "/summary/sites") != SW_OK)
        return r->err.code;
    r->sites[site_index].summary = *s;
    return SW_OK;
}

/* /sites attribute `order`: the site names in index order (a variable-length string array,
 * rewritten whenever sites were added). */
static int write_site_order(sw_report *r)
{
    if (H5Aexists(r->g_sites, "order") > 0 && H5Adelete(r->g_sites, "order") < 0)
        return fail(r, SW_ERUNTIME, "/sites: cannot write attribute 'order'");
    const char **names = malloc((r->n_sites ? r->n_sites : 1) * sizeof *names);
    if (!names)
        return fail(r, SW_ERUNTIME, "out of memory");
    for (size_t i = 0; i < r->n_sites; i++)
        names[i] = r->sites[i].name;
    hsize_t dims[1] = {r->n_sites};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t a = H5Acreate2(r->g_sites, "order", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && (r->n_sites == 0 || H5Awrite(a, t, names) >= 0);
    if (a >= 0)
        H5Aclose(a);
    H5Tclose(t);
    H5Sclose(sp);
    free(names);
    return ok ? SW_OK : fail(r, SW_ERUNTIME, "/sites: cannot write attribute 'order'");
}

static int write_all_tables(sw_report *r)
{
    table_write(r, &r->rounds);
    table_write(r, &r->events);
    table_write(r, &r->global);
    for (size_t i = 0; i < r->n_sites; i++) {
        table_write(r, &r->sites[i].states);
        table_write(r, &r->sites[i].power);
        table_write(r, &r->sites[i].train);
    }
    return r->err.code != SW_OK ? r->err.code : write_site_order(r);
}

int sw_report_flush(sw_report *r, sw_error *err)
{
    int rc = r->err.code != SW_OK ? r->err.code : write_all_tables(r);
    if (rc == SW_OK && H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
        rc = fail(r, SW_ERUNTIME, "cannot flush %s (disk full?)", r->tmp_path);
    if (rc != SW_OK && err)
        *err = r->err;
    return rc;
}

static int write_summary(sw_report *r)
{
    hid_t g = r->g_summary;
    char units[2048];
    size_t len = 0;
    int bad = 0;
    units[0] = '\0';
    for (size_t i = 0; i < sw_summary_field_count; i++) {
        const sw_summary_field *f = &sw_summary_fields[i];
        const char *p = (const char *)&r->summary + f->offset;
        if (f->is_int) {
            int64_t v;
            memcpy(&v, p, sizeof v);
            bad |= sw_attr_put_i64(g, f->name, v);
        } else {
            double v;
            memcpy(&v, p, sizeof v);
            bad |= sw_attr_put_f64(g, f->name, v);
        }
        len += (size_t)snprintf(units + len, len < sizeof units ? sizeof units - len : 0, "%s%s=%s",
                                i ? ", " : "", f->name, f->unit);
    }
    if (bad)
        return fail(r, SW_ERUNTIME, "/summary: cannot write attributes");
    for (size_t i = 0; i < r->summary.n_extras; i++) {
        const sw_report_extra *x = &r->extras[i];
        bad |= sw_attr_put_f64(g, x->name, x->value);
        /* A units list that would not fit is cut: the attributes themselves are complete. */
        if (len < sizeof units)
            len += (size_t)snprintf(units + len, sizeof units - len, ", %s=%s", x->name, x->unit);
    }
    if (len >= sizeof units)
        return fail(r, SW_EINPUT, "/summary: too many extras for the units attribute");
    bad |= sw_attr_put_str(g, "units", units);
    if (bad)
        return fail(r, SW_ERUNTIME, "/summary: cannot write attributes");

    table t;
    int rc = table_open(r, &t, &sw_schema_site_summary, g, "sites", "/summary/sites");
    for (size_t i = 0; i < r->n_sites && rc == SW_OK; i++) {
        sw_site_summary_row row;
        memset(&row, 0, sizeof row);
        row.site = (int32_t)i;
        memcpy(row.name, r->sites[i].name, sizeof row.name);
        row.s = r->sites[i].summary;
        rc = table_push(r, &t, &row, 0);
    }
    if (rc == SW_OK)
        rc = table_write(r, &t);
    table_close(&t);
    return rc;
}

/* Makes the temporary file durable before it gets its final name, so a power cut right
 * after the rename cannot leave an empty or partial file under the final name. */
static int sync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int sw_report_set_incomplete(sw_report *r, const char *reason)
{
    if (!r)
        return SW_EINPUT;
    r->incomplete = true;
    snprintf(r->incomplete_reason, sizeof r->incomplete_reason, "%s", reason ? reason : "");
    return SW_OK;
}

/* Root `complete` and `incomplete_reason`: whether the run ended as planned. */
static int write_completion(sw_report *r)
{
    int bad =
        sw_attr_put_i32(r->file, "complete", r->incomplete ? 0 : 1) ||
        sw_attr_put_str(r->file, "incomplete_reason", r->incomplete ? r->incomplete_reason : "");
    return bad ? fail(r, SW_ERUNTIME, "cannot write the attribute 'complete'") : SW_OK;
}

int sw_report_close(sw_report *r, sw_error *err)
{
    if (!r)
        return sw_errorf(err, SW_EINPUT, "report: close of a NULL report");
    int rc = r->err.code;
    if (rc == SW_OK && !r->has_summary)
        rc = fail(r, SW_EINPUT, "/summary: not set (sw_report_set_summary) before close");
    if (rc == SW_OK)
        rc = write_all_tables(r);
    if (rc == SW_OK)
        rc = write_summary(r);
    if (rc == SW_OK)
        rc = write_completion(r);
    close_handles(r);
    if (rc == SW_OK) {
        herr_t h = H5Fclose(r->file);
        r->file = H5I_INVALID_HID;
        if (h < 0)
            rc = fail(r, SW_ERUNTIME, "cannot close %s (disk full?)", r->tmp_path);
    }
    if (rc == SW_OK && sync_file(r->tmp_path) != 0)
        rc = fail(r, SW_ERUNTIME, "cannot sync %s: %s", r->tmp_path, strerror(errno));
    if (rc == SW_OK && rename(r->tmp_path, r->final_path) != 0)
        rc = fail(r, SW_ERUNTIME, "cannot rename %s to the final name: %s", r->tmp_path,
                  strerror(errno));
    if (rc != SW_OK && err)
        *err = r->err;
    else
        sw_error_clear(err);
    destroy(r, rc != SW_OK);
    return rc;
}

void sw_report_abort(sw_report *r)
{
    if (r)
        destroy(r, true);
}
