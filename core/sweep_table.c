/* sweep_table.c - the sweep table in HDF5 and CSV (see sweep_table.h). */
#include "core/sweep_table.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The figure columns, in table order, with their units. */
static const struct {
    const char *name;
    size_t offset;
    const char *unit;
} figure_cols[] = {
    {"runtime_h", offsetof(sw_sweep_figures, runtime_h), "h"},
    {"gpu_hours", offsetof(sw_sweep_figures, gpu_hours), "GPU-h"},
    {"energy_kwh", offsetof(sw_sweep_figures, energy_kwh), "kWh"},
    {"curtailed_energy_fraction", offsetof(sw_sweep_figures, curtailed_energy_fraction), "1"},
    {"carbon_kg", offsetof(sw_sweep_figures, carbon_kg), "kg"},
    {"final_ppl", offsetof(sw_sweep_figures, final_ppl), "1"},
    {"tokens", offsetof(sw_sweep_figures, tokens), "tokens"},
};
#define N_FIG (sizeof figure_cols / sizeof figure_cols[0])

static double *fig_at(sw_sweep_figures *f, size_t k)
{
    return (double *)((char *)f + figure_cols[k].offset);
}
static double fig_get(const sw_sweep_figures *f, size_t k)
{
    return *(const double *)((const char *)f + figure_cols[k].offset);
}

static char *xstrdup(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    if (d)
        strcpy(d, s);
    return d;
}

static void nan_figures(sw_sweep_figures *f)
{
    for (size_t k = 0; k < N_FIG; k++)
        *fig_at(f, k) = NAN;
}

/* Allocates the arrays of a table of n_rows rows and n_params parameters. */
static bool alloc_table(sw_sweep_table *t, size_t n_rows, size_t n_params)
{
    t->n_rows = n_rows;
    t->n_params = n_params;
    t->param_keys = calloc(n_params ? n_params : 1, sizeof *t->param_keys);
    t->param_numeric = calloc(n_params ? n_params : 1, sizeof *t->param_numeric);
    t->point = calloc(n_rows ? n_rows : 1, sizeof *t->point);
    t->values = calloc(n_rows * n_params + 1, sizeof *t->values);
    t->figures = calloc(n_rows ? n_rows : 1, sizeof *t->figures);
    t->reports = calloc(n_rows ? n_rows : 1, sizeof *t->reports);
    return t->param_keys && t->param_numeric && t->point && t->values && t->figures && t->reports;
}

int sw_sweep_table_init(sw_sweep_table *t, const sw_sweep *s, sw_error *err)
{
    memset(t, 0, sizeof *t);
    if (!alloc_table(t, s->n_points, s->n_params) || !(t->sweep = xstrdup(s->name)) ||
        !(t->base = xstrdup(s->base_path)))
        goto oom;
    for (size_t p = 0; p < s->n_params; p++) {
        if (!(t->param_keys[p] = xstrdup(s->params[p].key)))
            goto oom;
        t->param_numeric[p] = s->params[p].numeric;
    }
    for (size_t i = 0; i < s->n_points; i++) {
        t->point[i] = (long long)i;
        nan_figures(&t->figures[i]);
        char rel[512];
        sw_sweep_point_report(s, i, rel, sizeof rel);
        if (!(t->reports[i] = xstrdup(rel)))
            goto oom;
        for (size_t p = 0; p < s->n_params; p++)
            if (!(t->values[i * s->n_params + p] =
                      xstrdup(s->params[p].values[s->points[i].value_index[p]])))
                goto oom;
    }
    return SW_OK;
oom:
    sw_sweep_table_free(t);
    return sw_errorf(err, SW_ERUNTIME, "sweep table: out of memory");
}

void sw_sweep_table_free(sw_sweep_table *t)
{
    if (!t)
        return;
    for (size_t p = 0; p < t->n_params && t->param_keys; p++)
        free(t->param_keys[p]);
    for (size_t i = 0; i < t->n_rows * t->n_params && t->values; i++)
        free(t->values[i]);
    for (size_t i = 0; i < t->n_rows && t->reports; i++)
        free(t->reports[i]);
    free(t->param_keys);
    free(t->param_numeric);
    free(t->point);
    free(t->values);
    free(t->figures);
    free(t->reports);
    free(t->sweep);
    free(t->base);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- CSV */

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The shortest of %.15g / %.17g that reads back as v; empty for NAN. */
static void csv_number(FILE *f, double v)
{
    if (isnan(v))
        return;
    char b[40];
    snprintf(b, sizeof b, "%.15g", v);
    if (strtod(b, NULL) != v)
        snprintf(b, sizeof b, "%.17g", v);
    fputs(b, f);
}

int sw_sweep_table_csv(const sw_sweep_table *t, FILE *f)
{
    fputs("point", f);
    for (size_t p = 0; p < t->n_params; p++) {
        fputc(',', f);
        csv_field(f, t->param_keys[p]);
    }
    for (size_t k = 0; k < N_FIG; k++)
        fprintf(f, ",%s", figure_cols[k].name);
    fputs(",report\n", f);
    for (size_t i = 0; i < t->n_rows; i++) {
        fprintf(f, "%lld", t->point[i]);
        for (size_t p = 0; p < t->n_params; p++) {
            fputc(',', f);
            csv_field(f, t->values[i * t->n_params + p]);
        }
        for (size_t k = 0; k < N_FIG; k++) {
            fputc(',', f);
            csv_number(f, fig_get(&t->figures[i], k));
        }
        fputc(',', f);
        csv_field(f, t->reports[i]);
        fputc('\n', f);
    }
    return ferror(f) ? SW_ERUNTIME : SW_OK;
}

/* ---------------------------------------------------------------- HDF5 */

static int attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, t, &value) < 0 ? -1 : 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

/* Reads a string attribute (any string type) into a malloc'd string, NULL if absent. */
static char *attr_read_str(hid_t obj, const char *name)
{
    if (H5Aexists(obj, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    char *out = NULL;
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft));
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v) {
                out = xstrdup(v);
                H5free_memory(v);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(ft);
            out = calloc(n + 1, 1);
            if (out && H5Aread(a, ft, out) < 0) {
                free(out);
                out = NULL;
            }
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return out;
}

/* The packed row layout of the /sweep dataset. */
typedef struct layout {
    hid_t type;
    size_t size;
    size_t *param_off; /* per parameter */
    size_t *param_len; /* string parameters: fixed length including the NUL; 0 = double */
    size_t fig_off[N_FIG];
    size_t report_off, report_len;
} layout;

static hid_t str_type(size_t len)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    return t;
}

static bool make_layout(const sw_sweep_table *t, layout *L)
{
    memset(L, 0, sizeof *L);
    L->param_off = calloc(t->n_params + 1, sizeof *L->param_off);
    L->param_len = calloc(t->n_params + 1, sizeof *L->param_len);
    if (!L->param_off || !L->param_len)
        return false;
    size_t off = 8; /* point: int64 */
    for (size_t p = 0; p < t->n_params; p++) {
        L->param_off[p] = off;
        if (t->param_numeric[p]) {
            off += 8;
            continue;
        }
        size_t len = 2;
        for (size_t i = 0; i < t->n_rows; i++)
            if (strlen(t->values[i * t->n_params + p]) + 1 > len)
                len = strlen(t->values[i * t->n_params + p]) + 1;
        L->param_len[p] = len;
        off += len;
    }
    for (size_t k = 0; k < N_FIG; k++, off += 8)
        L->fig_off[k] = off;
    L->report_off = off;
    L->report_len = 2;
    for (size_t i = 0; i < t->n_rows; i++)
        if (strlen(t->reports[i]) + 1 > L->report_len)
            L->report_len = strlen(t->reports[i]) + 1;
    off += L->report_len;
    L->size = off;
    L->type = H5Tcreate(H5T_COMPOUND, L->size);
    H5Tinsert(L->type, "point", 0, H5T_STD_I64LE);
    for (size_t p = 0; p < t->n_params; p++) {
        if (L->param_len[p] == 0) {
            H5Tinsert(L->type, t->param_keys[p], L->param_off[p], H5T_IEEE_F64LE);
        } else {
            hid_t s = str_type(L->param_len[p]);
            H5Tinsert(L->type, t->param_keys[p], L->param_off[p], s);
            H5Tclose(s);
        }
    }
    for (size_t k = 0; k < N_FIG; k++)
        H5Tinsert(L->type, figure_cols[k].name, L->fig_off[k], H5T_IEEE_F64LE);
    hid_t s = str_type(L->report_len);
    H5Tinsert(L->type, "report", L->report_off, s);
    H5Tclose(s);
    return L->type >= 0;
}

static void free_layout(layout *L)
{
    if (L->type > 0)
        H5Tclose(L->type);
    free(L->param_off);
    free(L->param_len);
}

static void put_i64(char *dst, long long v)
{
    int64_t x = v; /* little-endian hosts only, as the report writer */
    memcpy(dst, &x, 8);
}
static void put_f64(char *dst, double v)
{
    memcpy(dst, &v, 8);
}

static int write_h5(const sw_sweep_table *t, const char *path, sw_error *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    layout L;
    char *buf = NULL;
    int rc = SW_ERUNTIME;
    if (!make_layout(t, &L)) {
        free_layout(&L);
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot build the table type", path);
    }
    if (!(buf = calloc(t->n_rows ? t->n_rows : 1, L.size))) {
        free_layout(&L);
        return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", path);
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        char *row = buf + i * L.size;
        put_i64(row, t->point[i]);
        for (size_t p = 0; p < t->n_params; p++) {
            const char *v = t->values[i * t->n_params + p];
            if (L.param_len[p] == 0)
                put_f64(row + L.param_off[p], strtod(v, NULL));
            else
                memcpy(row + L.param_off[p], v, strlen(v));
        }
        for (size_t k = 0; k < N_FIG; k++)
            put_f64(row + L.fig_off[k], fig_get(&t->figures[i], k));
        memcpy(row + L.report_off, t->reports[i], strlen(t->reports[i]));
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        free(buf);
        free_layout(&L);
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot create", path);
    }
    /* parameters: one key per line */
    size_t plen = 1;
    for (size_t p = 0; p < t->n_params; p++)
        plen += strlen(t->param_keys[p]) + 1;
    char *plist = calloc(plen, 1);
    for (size_t p = 0; plist && p < t->n_params; p++) {
        strcat(plist, t->param_keys[p]);
        if (p + 1 < t->n_params)
            strcat(plist, "\n");
    }
    int32_t ver = SW_SWEEP_TABLE_FORMAT_VERSION;
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "sweep_format_version", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT32, &ver) >= 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    ok = ok && plist && attr_str(f, "sweep", t->sweep) == 0 && attr_str(f, "base", t->base) == 0 &&
         attr_str(f, "parameters", plist) == 0;
    free(plist);
    if (ok) {
        hsize_t dims[1] = {t->n_rows};
        hid_t ds_sp = H5Screate_simple(1, dims, NULL);
        hid_t ds = H5Dcreate2(f, "sweep", L.type, ds_sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ok = ds >= 0 &&
             (t->n_rows == 0 || H5Dwrite(ds, L.type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        /* units of the figure columns, as reports write them */
        char units[512] = "point=1";
        for (size_t k = 0; k < N_FIG; k++) {
            size_t n = strlen(units);
            snprintf(units + n, sizeof units - n, ", %s=%s", figure_cols[k].name,
                     figure_cols[k].unit);
        }
        ok = ok && attr_str(ds, "units", units) == 0;
        if (ds >= 0)
            H5Dclose(ds);
        H5Sclose(ds_sp);
    }
    if (H5Fclose(f) < 0)
        ok = false;
    free(buf);
    free_layout(&L);
    if (ok)
        rc = SW_OK;
    else
        sw_errorf(err, SW_ERUNTIME, "%s: cannot write the sweep table", path);
    return rc;
}

/* Calls write(tmp) and renames tmp to path; removes tmp on failure. */
static int atomically(const char *path, const sw_sweep_table *t, sw_error *err,
                      int (*write)(const sw_sweep_table *, const char *, sw_error *))
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    int rc = write(t, tmp, err);
    if (rc == SW_OK && rename(tmp, path) != 0)
        rc = sw_errorf(err, SW_ERUNTIME, "%s: cannot rename %s: %s", path, tmp, strerror(errno));
    if (rc != SW_OK)
        unlink(tmp);
    return rc;
}

static int write_csv(const sw_sweep_table *t, const char *path, sw_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot create: %s", path, strerror(errno));
    int rc = sw_sweep_table_csv(t, f);
    if (fclose(f) != 0 || rc != SW_OK)
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot write", path);
    return SW_OK;
}

int sw_sweep_table_write(const sw_sweep_table *t, const char *h5_path, const char *csv_path,
                         sw_error *err)
{
    int rc = atomically(h5_path, t, err, write_h5);
    if (rc == SW_OK && csv_path)
        rc = atomically(csv_path, t, err, write_csv);
    return rc;
}

/* ---------------------------------------------------------------- reading */

bool sw_sweep_table_is(const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) <= 0)
        return false;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return false;
    bool is = H5Aexists(f, "sweep_format_version") > 0;
    H5Fclose(f);
    return is;
}

int sw_sweep_table_read(const char *path, sw_sweep_table *t, sw_error *err)
{
    memset(t, 0, sizeof *t);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    if (f < 0)
        return sw_errorf(err, SW_EINPUT, "%s: not an HDF5 file (or unreadable)", path);
    int rc = SW_EINPUT;
    hid_t ds = -1, ft = -1, mt = -1;
    char *plist = NULL, *buf = NULL;
    int32_t ver = 0;
    if (H5Aexists(f, "sweep_format_version") <= 0) {
        sw_errorf(err, SW_EINPUT,
                  "%s: attribute 'sweep_format_version' missing: not a sweep "
                  "table",
                  path);
        goto done;
    }
    hid_t a = H5Aopen(f, "sweep_format_version", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT32, &ver);
    H5Aclose(a);
    if (ver != SW_SWEEP_TABLE_FORMAT_VERSION) {
        sw_errorf(err, SW_EINPUT, "%s: sweep_format_version %d, this build reads %d", path,
                  (int)ver, SW_SWEEP_TABLE_FORMAT_VERSION);
        goto done;
    }
    plist = attr_read_str(f, "parameters");
    t->sweep = attr_read_str(f, "sweep");
    t->base = attr_read_str(f, "base");
    if (!plist || !t->sweep || !t->base) {
        sw_errorf(err, SW_EINPUT, "%s: attribute 'parameters', 'sweep' or 'base' missing", path);
        goto done;
    }
    if ((ds = H5Dopen2(f, "sweep", H5P_DEFAULT)) < 0) {
        sw_errorf(err, SW_EINPUT, "%s: dataset /sweep missing", path);
        goto done;
    }
    ft = H5Dget_type(ds);
    mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
    hid_t sp = H5Dget_space(ds);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    if (H5Tget_class(ft) != H5T_COMPOUND || n < 0) {
        sw_errorf(err, SW_EINPUT, "%s: /sweep: expected a one-dimensional table", path);
        goto done;
    }
    size_t n_params = 0;
    for (char *p = plist; *plist && p; p = strchr(p + 1, '\n'))
        n_params++;
    if (!alloc_table(t, (size_t)n, n_params))
        goto oom;
    for (size_t p = 0; p < n_params; p++) {
        char *start = p == 0 ? plist : NULL;
        char *tok = strtok(start, "\n");
        if (!tok || !(t->param_keys[p] = xstrdup(tok)))
            goto oom;
    }
    size_t rsize = H5Tget_size(mt);
    if (!(buf = calloc((size_t)n ? (size_t)n : 1, rsize)))
        goto oom;
    if (n > 0 && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        sw_errorf(err, SW_EINPUT, "%s: /sweep: cannot read", path);
        goto done;
    }
    /* Locate every column by name. */
    int i_point = H5Tget_member_index(mt, "point"), i_report = H5Tget_member_index(mt, "report");
    if (i_point < 0 || i_report < 0 || H5Tget_member_class(mt, (unsigned)i_report) != H5T_STRING) {
        sw_errorf(err, SW_EINPUT, "%s: /sweep: column 'point' or 'report' missing", path);
        goto done;
    }
    size_t off_point = H5Tget_member_offset(mt, (unsigned)i_point);
    size_t off_report = H5Tget_member_offset(mt, (unsigned)i_report);
    hid_t rt = H5Tget_member_type(mt, (unsigned)i_report);
    size_t len_report = H5Tget_size(rt);
    H5Tclose(rt);
    size_t off_fig[N_FIG];
    for (size_t k = 0; k < N_FIG; k++) {
        int idx = H5Tget_member_index(mt, figure_cols[k].name);
        if (idx < 0 || H5Tget_member_class(mt, (unsigned)idx) != H5T_FLOAT) {
            sw_errorf(err, SW_EINPUT, "%s: /sweep: column '%s' missing", path, figure_cols[k].name);
            goto done;
        }
        off_fig[k] = H5Tget_member_offset(mt, (unsigned)idx);
    }
    size_t *off_par = calloc(n_params + 1, sizeof *off_par);
    size_t *len_par = calloc(n_params + 1, sizeof *len_par);
    if (!off_par || !len_par) {
        free(off_par);
        free(len_par);
        goto oom;
    }
    for (size_t p = 0; p < n_params; p++) {
        int idx = H5Tget_member_index(mt, t->param_keys[p]);
        H5T_class_t cl = idx < 0 ? H5T_NO_CLASS : H5Tget_member_class(mt, (unsigned)idx);
        if (cl != H5T_FLOAT && cl != H5T_STRING) {
            sw_errorf(err, SW_EINPUT, "%s: /sweep: parameter column '%s' missing", path,
                      t->param_keys[p]);
            free(off_par);
            free(len_par);
            goto done;
        }
        off_par[p] = H5Tget_member_offset(mt, (unsigned)idx);
        t->param_numeric[p] = cl == H5T_FLOAT;
        if (cl == H5T_STRING) {
            hid_t st = H5Tget_member_type(mt, (unsigned)idx);
            len_par[p] = H5Tget_size(st);
            H5Tclose(st);
        }
    }
    bool failed = false;
    for (size_t i = 0; i < (size_t)n && !failed; i++) {
        const char *row = buf + i * rsize;
        int64_t pt;
        memcpy(&pt, row + off_point, 8);
        t->point[i] = pt;
        for (size_t k = 0; k < N_FIG; k++)
            memcpy(fig_at(&t->figures[i], k), row + off_fig[k], 8);
        if (!(t->reports[i] = strndup(row + off_report, len_report)))
            failed = true;
        for (size_t p = 0; p < n_params && !failed; p++) {
            char *v;
            if (t->param_numeric[p]) {
                double x;
                char b[40];
                memcpy(&x, row + off_par[p], 8);
                snprintf(b, sizeof b, "%.15g", x);
                v = xstrdup(b);
            } else {
                v = strndup(row + off_par[p], len_par[p]);
            }
            if (!(t->values[i * n_params + p] = v))
                failed = true;
        }
    }
    free(off_par);
    free(len_par);
    if (failed)
        goto oom;
    rc = SW_OK;
    goto done;
oom:
    rc = sw_errorf(err, SW_ERUNTIME, "%s: out of memory", path);
done:
    free(plist);
    free(buf);
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    if (ds >= 0)
        H5Dclose(ds);
    H5Fclose(f);
    if (rc != SW_OK)
        sw_sweep_table_free(t);
    return rc;
}
