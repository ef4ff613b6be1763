/* report_read.c - the HDF5 report reader (see report.h): validates a report against the
 * schema of report.c and loads it into plain arrays. Every failure is SW_EINPUT with a message
 * "<file>: <object>: <what>", since a report that does not read is bad input to whichever
 * command was given it.
 */
#include "core/report_schema.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct reader {
    const char *path;
    hid_t file;
    sw_error *err;
    int code;
} reader;

__attribute__((format(printf, 3, 4))) static int bad(reader *rd, const char *obj, const char *fmt,
                                                     ...)
{
    if (rd->code == SW_OK) {
        char what[768];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        sw_errorf(rd->err, SW_EINPUT, "%s: %s: %s", rd->path, obj, what);
        rd->code = SW_EINPUT;
    }
    return rd->code;
}

/* Opens attribute `name` of obj (named objname in messages), or fails naming it. */
static hid_t open_attr(reader *rd, hid_t obj, const char *objname, const char *name)
{
    if (H5Aexists(obj, name) <= 0) {
        bad(rd, objname, "attribute '%s' missing", name);
        return H5I_INVALID_HID;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        bad(rd, objname, "attribute '%s' unreadable", name);
    return a;
}

/* Reads a scalar numeric attribute as mtype (HDF5 converts between numeric types). */
static int read_num(reader *rd, hid_t obj, const char *objname, const char *name, hid_t mtype,
                    H5T_class_t want, void *out)
{
    hid_t a = open_attr(rd, obj, objname, name);
    if (a < 0)
        return rd->code;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t c = H5Tget_class(t);
    bool class_ok = want == H5T_FLOAT ? (c == H5T_FLOAT || c == H5T_INTEGER) : c == want;
    if (!class_ok || H5Sget_simple_extent_npoints(sp) != 1)
        bad(rd, objname, "attribute '%s' is not a scalar %s", name,
            want == H5T_FLOAT ? "number" : "integer");
    else if (H5Aread(a, mtype, out) < 0)
        bad(rd, objname, "attribute '%s' unreadable", name);
    H5Tclose(t);
    H5Sclose(sp);
    H5Aclose(a);
    return rd->code;
}

static int read_f64(reader *rd, hid_t obj, const char *objname, const char *name, double *out)
{
    return read_num(rd, obj, objname, name, H5T_NATIVE_DOUBLE, H5T_FLOAT, out);
}

static int read_i64(reader *rd, hid_t obj, const char *objname, const char *name, int64_t *out)
{
    return read_num(rd, obj, objname, name, H5T_NATIVE_INT64, H5T_INTEGER, out);
}

/* Reads a scalar string attribute (variable-length as we write it, or fixed-length as other
 * tools may) into a malloc'd string. */
static int read_str(reader *rd, hid_t obj, const char *objname, const char *name, char **out)
{
    *out = NULL;
    hid_t a = open_attr(rd, obj, objname, name);
    if (a < 0)
        return rd->code;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    if (H5Tget_class(t) != H5T_STRING || H5Sget_simple_extent_npoints(sp) != 1) {
        bad(rd, objname, "attribute '%s' is not a string", name);
    } else if (H5Tis_variable_str(t) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        char *s = NULL;
        if (H5Aread(a, mt, &s) < 0)
            bad(rd, objname, "attribute '%s' unreadable", name);
        else if (!(*out = strdup(s ? s : "")))
            bad(rd, objname, "out of memory");
        if (s)
            H5free_memory(s);
        H5Tclose(mt);
    } else {
        size_t n = H5Tget_size(t);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        char *s = calloc(n + 1, 1);
        if (!s)
            bad(rd, objname, "out of memory");
        else if (H5Aread(a, mt, s) < 0) {
            free(s);
            bad(rd, objname, "attribute '%s' unreadable", name);
        } else
            *out = s;
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Sclose(sp);
    H5Aclose(a);
    return rd->code;
}

/* Like read_str into a fixed buffer of SW_REPORT_NAME_MAX. */
static int read_name(reader *rd, hid_t obj, const char *objname, const char *name,
                     char out[SW_REPORT_NAME_MAX])
{
    char *s;
    if (read_str(rd, obj, objname, name, &s) != SW_OK)
        return rd->code;
    if (strlen(s) >= SW_REPORT_NAME_MAX)
        bad(rd, objname, "attribute '%s' longer than %d characters", name, SW_REPORT_NAME_MAX - 1);
    else
        strcpy(out, s);
    free(s);
    return rd->code;
}

static hid_t open_group(reader *rd, hid_t loc, const char *name, const char *objname)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) {
        bad(rd, objname, "group missing");
        return H5I_INVALID_HID;
    }
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    if (g < 0)
        bad(rd, objname, "not a group");
    return g;
}

/* Loads table `name` under loc (objname in messages) into a malloc'd array of rows. */
static int read_table(reader *rd, hid_t loc, const char *name, const char *objname,
                      const sw_table_schema *s, void **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return bad(rd, objname, "dataset missing");
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return bad(rd, objname, "not a dataset");
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d), mt = H5I_INVALID_HID;
    char why[256];
    if (ft < 0 || sp < 0) {
        bad(rd, objname, "unreadable");
    } else if (!sw_schema_check(ft, s, why, sizeof why)) {
        bad(rd, objname, "%s", why);
    } else if (H5Sget_simple_extent_ndims(sp) != 1) {
        bad(rd, objname, "not a one-dimensional table");
    } else {
        hsize_t dims[1];
        H5Sget_simple_extent_dims(sp, dims, NULL);
        mt = sw_schema_mem_type(s);
        if (dims[0] > 0) {
            *rows = calloc(dims[0], s->row_size);
            if (!*rows)
                bad(rd, objname, "out of memory (%llu rows)", (unsigned long long)dims[0]);
            else if (mt < 0 || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, *rows) < 0)
                bad(rd, objname, "cannot read (damaged file or unknown enum value?)");
            else
                *n = dims[0];
        }
    }
    if (rd->code != SW_OK) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(d);
    return rd->code;
}

/* Step series and logs must be in time order; the writer guarantees it, so anything else is a
 * damaged or foreign file. */
static int check_sorted(reader *rd, const char *objname, const void *rows, size_t n,
                        size_t row_size, size_t t_offset)
{
    double prev = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double t;
        memcpy(&t, (const char *)rows + i * row_size + t_offset, sizeof t);
        if (!(t >= prev))
            return bad(rd, objname, "row %zu: time %g out of order", i, t);
        prev = t;
    }
    return SW_OK;
}

static int check_loss_kind(reader *rd, hid_t loc, const char *name, const char *objname,
                           sw_report_loss_kind *out)
{
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return bad(rd, objname, "not a dataset");
    char *s = NULL;
    if (read_str(rd, d, objname, "loss_kind", &s) == SW_OK) {
        if (!strcmp(s, "measured"))
            *out = SW_REPORT_LOSS_MEASURED;
        else if (!strcmp(s, "modelled"))
            *out = SW_REPORT_LOSS_MODELLED;
        else
            bad(rd, objname, "loss_kind '%s' invalid (measured or modelled)", s);
    }
    free(s);
    H5Dclose(d);
    return rd->code;
}

static int read_root(reader *rd, sw_report_data *d)
{
    hid_t root = rd->file;
    int64_t version;
    if (read_i64(rd, root, "/", "format_version", &version) != SW_OK)
        return rd->code;
    if (version != SW_REPORT_FORMAT_VERSION)
        return bad(rd, "/", "format_version %lld unknown (this build reads %d)", (long long)version,
                   SW_REPORT_FORMAT_VERSION);
    d->format_version = (int)version;
    char *mode = NULL;
    if (read_str(rd, root, "/", "mode", &mode) != SW_OK)
        return rd->code;
    if (!strcmp(mode, "sim"))
        d->mode = SW_REPORT_SIM;
    else if (!strcmp(mode, "exec"))
        d->mode = SW_REPORT_EXEC;
    else
        bad(rd, "/", "mode '%s' invalid (sim or exec)", mode);
    free(mode);
    if (rd->code != SW_OK || read_str(rd, root, "/", "scenario", &d->scenario_name) ||
        read_num(rd, root, "/", "seed", H5T_NATIVE_UINT64, H5T_INTEGER, &d->seed) ||
        read_str(rd, root, "/", "created_utc", &d->created_utc) ||
        read_str(rd, root, "/", "spillway_version", &d->spillway_version) ||
        read_f64(rd, root, "/", "t0_unix_s", &d->t0_unix_s))
        return rd->code;
    /* `complete` came later: a report without it was written complete. */
    d->complete = true;
    if (H5Aexists(root, "complete") > 0) {
        int64_t complete = 1;
        if (read_i64(rd, root, "/", "complete", &complete) != SW_OK ||
            read_str(rd, root, "/", "incomplete_reason", &d->incomplete_reason) != SW_OK)
            return rd->code;
        d->complete = complete != 0;
    }
    if (!d->incomplete_reason && !(d->incomplete_reason = strdup("")))
        return bad(rd, "/", "out of memory");
    hid_t g = open_group(rd, root, "scenario", "/scenario");
    if (g < 0)
        return rd->code;
    read_str(rd, g, "/scenario", "yaml", &d->scenario_yaml);
    H5Gclose(g);
    return rd->code;
}

/* /sites: the `order` attribute gives the names in index order. */
static int read_site_names(reader *rd, hid_t g, sw_report_data *d)
{
    hid_t a = open_attr(rd, g, "/sites", "order");
    if (a < 0)
        return rd->code;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    if (H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) <= 0 || n < 0 ||
        H5Sget_simple_extent_ndims(sp) != 1) {
        bad(rd, "/sites", "attribute 'order' is not a list of strings");
    } else if (n > SW_REPORT_MAX_SITES) {
        bad(rd, "/sites", "%lld sites (at most %d)", (long long)n, SW_REPORT_MAX_SITES);
    } else if (n > 0) {
        char **names = calloc((size_t)n, sizeof *names);
        d->sites = calloc((size_t)n, sizeof *d->sites);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (!names || !d->sites)
            bad(rd, "/sites", "out of memory");
        else if (H5Aread(a, mt, names) < 0)
            bad(rd, "/sites", "attribute 'order' unreadable");
        else {
            d->n_sites = (size_t)n;
            for (size_t i = 0; i < d->n_sites; i++) {
                if (!names[i] || !sw_report_name_ok(names[i]))
                    bad(rd, "/sites", "attribute 'order': site name %zu invalid", i);
                else
                    strcpy(d->sites[i].name, names[i]);
            }
            for (hssize_t i = 0; i < n; i++)
                if (names[i])
                    H5free_memory(names[i]);
        }
        free(names);
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Sclose(sp);
    H5Aclose(a);
    return rd->code;
}

static int read_site(reader *rd, hid_t sites, sw_report_site_data *s, int index)
{
    char obj[SW_REPORT_NAME_MAX + 24];
    snprintf(obj, sizeof obj, "/sites/%s", s->name);
    hid_t g = open_group(rd, sites, s->name, obj);
    if (g < 0)
        return rd->code;
    int64_t stored_index = -1, gpus = 0;
    if (read_i64(rd, g, obj, "index", &stored_index) == SW_OK && stored_index != index)
        bad(rd, obj, "attribute 'index' is %lld but the site is at %d in /sites 'order'",
            (long long)stored_index, index);
    if (rd->code == SW_OK && read_name(rd, g, obj, "region", s->region) == SW_OK &&
        read_i64(rd, g, obj, "gpus", &gpus) == SW_OK)
        s->gpus = (int)gpus;
    struct {
        const char *name;
        const sw_table_schema *schema;
        void **rows;
        size_t *n;
    } tabs[] = {
        {"states", &sw_schema_state, (void **)&s->states, &s->n_states},
        {"power", &sw_schema_power, (void **)&s->power, &s->n_power},
        {"train", &sw_schema_train, (void **)&s->train, &s->n_train},
    };
    for (size_t i = 0; i < 3 && rd->code == SW_OK; i++) {
        char tobj[SW_REPORT_NAME_MAX + 32];
        snprintf(tobj, sizeof tobj, "%s/%s", obj, tabs[i].name);
        if (read_table(rd, g, tabs[i].name, tobj, tabs[i].schema, tabs[i].rows, tabs[i].n) == SW_OK)
            check_sorted(rd, tobj, *tabs[i].rows, *tabs[i].n, tabs[i].schema->row_size, 0);
    }
    for (size_t i = 0; i < s->n_states && rd->code == SW_OK; i++)
        if (!sw_report_state_name(s->states[i].state))
            bad(rd, obj, "states row %zu: unknown state", i);
    H5Gclose(g);
    return rd->code;
}

static herr_t collect_link(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    (void)g;
    (void)info;
    sw_report_data *d = op;
    sw_report_signal_data *grown = realloc(d->signals, (d->n_signals + 1) * sizeof *grown);
    if (!grown)
        return -1;
    d->signals = grown;
    sw_report_signal_data *s = &d->signals[d->n_signals++];
    memset(s, 0, sizeof *s);
    snprintf(s->region, sizeof s->region, "%s", name);
    return sw_report_name_ok(name) ? 0 : -1;
}

static int read_signals(reader *rd, sw_report_data *d)
{
    hid_t g = open_group(rd, rd->file, "signals", "/signals");
    if (g < 0)
        return rd->code;
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_link, d) < 0)
        bad(rd, "/signals", "bad region name or out of memory");
    for (size_t i = 0; i < d->n_signals && rd->code == SW_OK; i++) {
        sw_report_signal_data *s = &d->signals[i];
        char obj[SW_REPORT_NAME_MAX + 16];
        snprintf(obj, sizeof obj, "/signals/%s", s->region);
        if (read_table(rd, g, s->region, obj, &sw_schema_signal, (void **)&s->rows, &s->n) == SW_OK)
            check_sorted(rd, obj, s->rows, s->n, sizeof *s->rows, 0);
    }
    H5Gclose(g);
    return rd->code;
}

typedef struct extra_scan {
    sw_report_data *d;
    bool failed;
} extra_scan;

static bool is_fixed_field(const char *name)
{
    for (size_t i = 0; i < sw_summary_field_count; i++)
        if (!strcmp(sw_summary_fields[i].name, name))
            return true;
    return false;
}

/* Every numeric /summary attribute that is not a fixed field is an extra. */
static herr_t collect_extra(hid_t g, const char *name, const H5A_info_t *info, void *op)
{
    (void)info;
    extra_scan *x = op;
    if (is_fixed_field(name) || !strcmp(name, "units"))
        return 0;
    hid_t a = H5Aopen(g, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    double v = NAN;
    bool ok = (c == H5T_FLOAT || c == H5T_INTEGER) && strlen(name) < SW_REPORT_NAME_MAX &&
              H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0;
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    if (!ok)
        return 0; /* not ours to interpret: foreign attributes are ignored */
    sw_report_data *d = x->d;
    sw_report_extra *grown =
        realloc((void *)d->summary.extras, (d->summary.n_extras + 1) * sizeof *grown);
    if (!grown) {
        x->failed = true;
        return -1;
    }
    sw_report_extra *e = &grown[d->summary.n_extras++];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    e->value = v;
    d->summary.extras = grown;
    return 0;
}

/* The unit of `name` in a "a=u, b=v" list, copied into unit (empty if absent). */
static void unit_of(const char *units, const char *name, char unit[SW_REPORT_UNIT_MAX])
{
    unit[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = units; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > n && !strncmp(p, name, n) && p[n] == '=') {
            size_t ul = len - n - 1;
            if (ul >= SW_REPORT_UNIT_MAX)
                ul = SW_REPORT_UNIT_MAX - 1;
            memcpy(unit, p + n + 1, ul);
            unit[ul] = '\0';
            return;
        }
        p = end;
    }
}

static int read_summary(reader *rd, sw_report_data *d)
{
    hid_t g = open_group(rd, rd->file, "summary", "/summary");
    if (g < 0)
        return rd->code;
    for (size_t i = 0; i < sw_summary_field_count && rd->code == SW_OK; i++) {
        const sw_summary_field *f = &sw_summary_fields[i];
        char *p = (char *)&d->summary + f->offset;
        if (f->is_int)
            read_i64(rd, g, "/summary", f->name, (int64_t *)(void *)p);
        else
            read_f64(rd, g, "/summary", f->name, (double *)(void *)p);
    }
    char *units = NULL;
    if (rd->code == SW_OK)
        read_str(rd, g, "/summary", "units", &units);
    if (rd->code == SW_OK) {
        extra_scan x = {d, false};
        hsize_t idx = 0;
        if (H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_extra, &x) < 0 || x.failed)
            bad(rd, "/summary", "attributes unreadable");
        for (size_t i = 0; i < d->summary.n_extras; i++) {
            sw_report_extra *e = (sw_report_extra *)&d->summary.extras[i];
            unit_of(units, e->name, e->unit);
        }
    }
    free(units);

    sw_site_summary_row *rows = NULL;
    size_t n = 0;
    if (rd->code == SW_OK && read_table(rd, g, "sites", "/summary/sites", &sw_schema_site_summary,
                                        (void **)&rows, &n) == SW_OK) {
        if (n != d->n_sites)
            bad(rd, "/summary/sites", "%zu rows for %zu sites", n, d->n_sites);
        for (size_t i = 0; i < n && rd->code == SW_OK; i++) {
            if (rows[i].site < 0 || (size_t)rows[i].site >= d->n_sites)
                bad(rd, "/summary/sites", "row %zu: site index %d out of range", i,
                    (int)rows[i].site);
            else
                d->sites[rows[i].site].summary = rows[i].s;
        }
    }
    free(rows);
    H5Gclose(g);
    return rd->code;
}

static int load(reader *rd, sw_report_data *d)
{
    if (read_root(rd, d) != SW_OK)
        return rd->code;
    hid_t sites = open_group(rd, rd->file, "sites", "/sites");
    if (sites < 0)
        return rd->code;
    if (read_site_names(rd, sites, d) == SW_OK)
        for (size_t i = 0; i < d->n_sites && rd->code == SW_OK; i++)
            read_site(rd, sites, &d->sites[i], (int)i);
    H5Gclose(sites);
    if (rd->code != SW_OK || read_signals(rd, d) != SW_OK)
        return rd->code;
    hid_t root = rd->file;
    if (read_table(rd, root, "rounds", "/rounds", &sw_schema_round, (void **)&d->rounds,
                   &d->n_rounds) ||
        read_table(rd, root, "events", "/events", &sw_schema_event, (void **)&d->events,
                   &d->n_events) ||
        read_table(rd, root, "global", "/global", &sw_schema_global, (void **)&d->global,
                   &d->n_global) ||
        check_loss_kind(rd, root, "global", "/global", &d->loss_kind))
        return rd->code;
    check_sorted(rd, "/rounds", d->rounds, d->n_rounds, sizeof *d->rounds,
                 offsetof(sw_report_round_row, t_start_s));
    check_sorted(rd, "/events", d->events, d->n_events, sizeof *d->events, 0);
    check_sorted(rd, "/global", d->global, d->n_global, sizeof *d->global, 0);
    for (size_t i = 0; i < d->n_events && rd->code == SW_OK; i++) {
        sw_report_event_row *e = &d->events[i];
        if (!sw_report_event_kind_name(e->kind))
            bad(rd, "/events", "row %zu: unknown kind", i);
        else if (e->site < -1 || (e->site >= 0 && (size_t)e->site >= d->n_sites))
            bad(rd, "/events", "row %zu: site index %d out of range", i, (int)e->site);
        /* Fixed strings fill the whole field when they are exactly that long. */
        e->detail[SW_REPORT_DETAIL_MAX - 1] = '\0';
    }
    if (rd->code == SW_OK)
        read_summary(rd, d);
    return rd->code;
}

int sw_report_open(const char *path, sw_report_data **out, sw_error *err)
{
    sw_h5_quiet();
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return sw_errorf(err, SW_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return sw_errorf(err, SW_EINPUT, "%s: not a regular file", path);
    if (H5Fis_hdf5(path) <= 0)
        return sw_errorf(err, SW_EINPUT, "%s: not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return sw_errorf(err, SW_EINPUT,
                         "%s: cannot open as HDF5 (truncated or damaged file, or still being "
                         "written)",
                         path);
    sw_report_data *d = calloc(1, sizeof *d);
    reader rd = {path, f, err, SW_OK};
    if (!d)
        bad(&rd, "/", "out of memory");
    else
        load(&rd, d);
    H5Fclose(f);
    if (rd.code != SW_OK) {
        sw_report_data_free(d);
        return rd.code;
    }
    *out = d;
    return SW_OK;
}

void sw_report_data_free(sw_report_data *d)
{
    if (!d)
        return;
    free(d->scenario_name);
    free(d->scenario_yaml);
    free(d->created_utc);
    free(d->spillway_version);
    free(d->incomplete_reason);
    free((void *)d->summary.extras);
    for (size_t i = 0; i < d->n_sites; i++) {
        free(d->sites[i].states);
        free(d->sites[i].power);
        free(d->sites[i].train);
    }
    free(d->sites);
    for (size_t i = 0; i < d->n_signals; i++)
        free(d->signals[i].rows);
    free(d->signals);
    free(d->rounds);
    free(d->events);
    free(d->global);
    free(d);
}
