/* report.c - the schema of the HDF5 report shared by the writer (report_write.c) and the
 * reader (report_read.c): the columns and units of every table, how they map to HDF5 file and
 * memory types, enum and mode names, and attribute helpers. docs/formats/report.md is the
 * prose form of the tables below; change both together (and SW_REPORT_FORMAT_VERSION when an
 * old reader could no longer read the new files).
 */
#include "core/report_schema.h"

#include <stdio.h>
#include <string.h>

/* The HDF5 enum types are built on a native int of the C enum's size. */
_Static_assert(sizeof(sw_report_state) == sizeof(int), "enum size");
_Static_assert(sizeof(sw_report_event_kind) == sizeof(int), "enum size");

#define COL(row, field, kind, unit)                                                                \
    {                                                                                              \
#field, offsetof(row, field), kind, unit                                                   \
    }
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const sw_col signal_cols[] = {
    COL(sw_report_signal_row, t_s, SW_COL_F64, "s"),
    COL(sw_report_signal_row, mci_g_per_kwh, SW_COL_F64, "gCO2/kWh"),
};
static const sw_col state_cols[] = {
    COL(sw_report_state_row, t_s, SW_COL_F64, "s"),
    COL(sw_report_state_row, state, SW_COL_STATE, "enum"),
};
static const sw_col power_cols[] = {
    COL(sw_report_power_row, t_s, SW_COL_F64, "s"),
    COL(sw_report_power_row, power_w, SW_COL_F64, "W"),
};
static const sw_col train_cols[] = {
    COL(sw_report_train_row, t_s, SW_COL_F64, "s"),
    COL(sw_report_train_row, step, SW_COL_I64, "1"),
    COL(sw_report_train_row, tokens, SW_COL_I64, "tokens"),
    COL(sw_report_train_row, loss, SW_COL_F64, "nat/token"),
    COL(sw_report_train_row, ppl, SW_COL_F64, "1"),
};
static const sw_col round_cols[] = {
    COL(sw_report_round_row, round, SW_COL_I64, "index"),
    COL(sw_report_round_row, t_start_s, SW_COL_F64, "s"),
    COL(sw_report_round_row, t_end_s, SW_COL_F64, "s"),
    COL(sw_report_round_row, n_sites, SW_COL_I32, "1"),
    COL(sw_report_round_row, sites, SW_COL_MASK, "bitmask"),
    COL(sw_report_round_row, tokens, SW_COL_I64, "tokens"),
    COL(sw_report_round_row, sync_bytes, SW_COL_I64, "B"),
    COL(sw_report_round_row, sync_s, SW_COL_F64, "s"),
    COL(sw_report_round_row, loss, SW_COL_F64, "nat/token"),
    COL(sw_report_round_row, ppl, SW_COL_F64, "1"),
};
static const sw_col event_cols[] = {
    COL(sw_report_event_row, t_s, SW_COL_F64, "s"),
    COL(sw_report_event_row, kind, SW_COL_EVKIND, "enum"),
    COL(sw_report_event_row, site, SW_COL_I32, "index"),
    COL(sw_report_event_row, round, SW_COL_I64, "index"),
    COL(sw_report_event_row, value, SW_COL_F64, "see value_units"),
    COL(sw_report_event_row, detail, SW_COL_DETAIL, "text"),
};
static const sw_col global_cols[] = {
    COL(sw_report_global_row, t_s, SW_COL_F64, "s"),
    COL(sw_report_global_row, tokens, SW_COL_I64, "tokens"),
    COL(sw_report_global_row, loss, SW_COL_F64, "nat/token"),
    COL(sw_report_global_row, ppl, SW_COL_F64, "1"),
};
/* The per-site summary columns are named after the fields of the nested struct. */
#define SCOL(field, kind, unit)                                                                    \
    {                                                                                              \
#field, offsetof(sw_site_summary_row, s) + offsetof(sw_report_site_summary, field), kind,  \
            unit                                                                                   \
    }
static const sw_col site_summary_cols[] = {
    COL(sw_site_summary_row, site, SW_COL_I32, "index"),
    COL(sw_site_summary_row, name, SW_COL_NAME, "text"),
    SCOL(up_h, SW_COL_F64, "h"),
    SCOL(training_h, SW_COL_F64, "h"),
    SCOL(gpu_hours, SW_COL_F64, "h"),
    SCOL(energy_kwh, SW_COL_F64, "kWh"),
    SCOL(curtailed_energy_fraction, SW_COL_F64, "1"),
    SCOL(carbon_kg, SW_COL_F64, "kg"),
    SCOL(tokens, SW_COL_I64, "tokens"),
};

#define SCHEMA(cols, row, lk)                                                                      \
    {                                                                                              \
        cols, N(cols), sizeof(row), lk                                                             \
    }
const sw_table_schema sw_schema_signal = SCHEMA(signal_cols, sw_report_signal_row, false);
const sw_table_schema sw_schema_state = SCHEMA(state_cols, sw_report_state_row, false);
const sw_table_schema sw_schema_power = SCHEMA(power_cols, sw_report_power_row, false);
const sw_table_schema sw_schema_train = SCHEMA(train_cols, sw_report_train_row, true);
const sw_table_schema sw_schema_round = SCHEMA(round_cols, sw_report_round_row, true);
const sw_table_schema sw_schema_event = SCHEMA(event_cols, sw_report_event_row, false);
const sw_table_schema sw_schema_global = SCHEMA(global_cols, sw_report_global_row, true);
const sw_table_schema sw_schema_site_summary =
    SCHEMA(site_summary_cols, sw_site_summary_row, false);

#define SUM(field, is_int, unit)                                                                   \
    {                                                                                              \
#field, offsetof(sw_report_summary, field), is_int, unit                                   \
    }
const sw_summary_field sw_summary_fields[] = {
    SUM(runtime_h, false, "h"),
    SUM(gpu_hours, false, "h"),
    SUM(energy_kwh, false, "kWh"),
    SUM(energy_provisioning_kwh, false, "kWh"),
    SUM(energy_idle_kwh, false, "kWh"),
    SUM(energy_training_kwh, false, "kWh"),
    SUM(energy_syncing_kwh, false, "kWh"),
    SUM(curtailed_energy_fraction, false, "1"),
    SUM(carbon_kg, false, "kg"),
    SUM(carbon_attributional_kg, false, "kg"),
    SUM(final_loss, false, "nat/token"),
    SUM(final_ppl, false, "1"),
    SUM(best_ppl, false, "1"),
    SUM(tokens, true, "tokens"),
    SUM(rounds, true, "1"),
    SUM(sync_bytes, true, "B"),
};
const size_t sw_summary_field_count = N(sw_summary_fields);

const char *const sw_event_value_units =
    "provision=-, ready=-, round_start=sites, round_end=tokens, join=-, work_reported=tokens, "
    "stop=-, release=-, fail=-, aggregate=sites, signal_below=gCO2/kWh, "
    "signal_above=gCO2/kWh, stop_pending=s, stop_cancelled=-, done=tokens, note=-";

static const char *const state_names[SW_REPORT_STATE_COUNT] = {
    "off", "provisioning", "ready", "training", "draining", "failed",
};
static const char *const event_names[SW_REPORT_EV_COUNT] = {
    "provision",    "ready",          "round_start", "round_end", "join",         "work_reported",
    "stop",         "release",        "fail",        "aggregate", "signal_below", "signal_above",
    "stop_pending", "stop_cancelled", "done",        "note",
};

const char *sw_report_state_name(sw_report_state s)
{
    return (int)s >= 0 && s < SW_REPORT_STATE_COUNT ? state_names[s] : NULL;
}

const char *sw_report_event_kind_name(sw_report_event_kind k)
{
    return (int)k >= 0 && k < SW_REPORT_EV_COUNT ? event_names[k] : NULL;
}

const char *sw_report_mode_name(sw_report_mode m)
{
    return m == SW_REPORT_SIM ? "sim" : m == SW_REPORT_EXEC ? "exec" : NULL;
}

const char *sw_report_loss_kind_name(sw_report_loss_kind k)
{
    return k == SW_REPORT_LOSS_MEASURED   ? "measured"
           : k == SW_REPORT_LOSS_MODELLED ? "modelled"
                                          : NULL;
}

/* An enum type on `base` with the given names as values 0..n-1. */
static hid_t enum_type(hid_t base, const char *const *names, int n)
{
    hid_t t = H5Tenum_create(base);
    if (t < 0)
        return H5I_INVALID_HID;
    for (int v = 0; v < n; v++) {
        /* The value buffer must have the base type's size and byte order; both bases used
         * here are 32-bit and native (little-endian) on the platforms we build for. */
        int32_t val = v;
        if (H5Tenum_insert(t, names[v], &val) < 0) {
            H5Tclose(t);
            return H5I_INVALID_HID;
        }
    }
    return t;
}

static hid_t string_type(size_t size)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return H5I_INVALID_HID;
    H5Tset_size(t, size);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    return t;
}

/* The HDF5 type of one column; `file` picks the portable little-endian types. */
static hid_t col_type(sw_col_kind kind, bool file)
{
    switch (kind) {
    case SW_COL_F64:
        return H5Tcopy(file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE);
    case SW_COL_I64:
        return H5Tcopy(file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
    case SW_COL_I32:
        return H5Tcopy(file ? H5T_STD_I32LE : H5T_NATIVE_INT32);
    case SW_COL_MASK: {
        hsize_t dims[1] = {SW_REPORT_MASK_WORDS};
        return H5Tarray_create2(file ? H5T_STD_U64LE : H5T_NATIVE_UINT64, 1, dims);
    }
    case SW_COL_STATE:
        return enum_type(file ? H5T_STD_I32LE : H5T_NATIVE_INT, state_names, SW_REPORT_STATE_COUNT);
    case SW_COL_EVKIND:
        return enum_type(file ? H5T_STD_I32LE : H5T_NATIVE_INT, event_names, SW_REPORT_EV_COUNT);
    case SW_COL_DETAIL:
        return string_type(SW_REPORT_DETAIL_MAX);
    case SW_COL_NAME:
        return string_type(SW_REPORT_NAME_MAX);
    }
    return H5I_INVALID_HID;
}

static hid_t compound_type(const sw_table_schema *s, bool file)
{
    hid_t types[16];
    size_t size = 0;
    hid_t t = H5I_INVALID_HID;
    size_t made = 0;
    for (; made < s->n_cols && made < 16; made++) {
        types[made] = col_type(s->cols[made].kind, file);
        if (types[made] < 0)
            goto done;
        size += H5Tget_size(types[made]);
    }
    t = H5Tcreate(H5T_COMPOUND, file ? size : s->row_size);
    if (t < 0)
        goto done;
    size_t off = 0;
    for (size_t i = 0; i < s->n_cols; i++) {
        /* File rows are packed (no padding bytes to leak or vary); memory rows follow the C
         * struct layout. */
        size_t at = file ? off : s->cols[i].offset;
        if (H5Tinsert(t, s->cols[i].name, at, types[i]) < 0) {
            H5Tclose(t);
            t = H5I_INVALID_HID;
            goto done;
        }
        off += H5Tget_size(types[i]);
    }
done:
    for (size_t i = 0; i < made; i++)
        if (types[i] >= 0)
            H5Tclose(types[i]);
    return t;
}

hid_t sw_schema_file_type(const sw_table_schema *s)
{
    return compound_type(s, true);
}

hid_t sw_schema_mem_type(const sw_table_schema *s)
{
    return compound_type(s, false);
}

void sw_schema_units(const sw_table_schema *s, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n_cols && len < cap; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s=%s", i ? ", " : "", s->cols[i].name,
                         s->cols[i].unit);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static H5T_class_t col_class(sw_col_kind kind)
{
    switch (kind) {
    case SW_COL_F64:
        return H5T_FLOAT;
    case SW_COL_I64:
    case SW_COL_I32:
        return H5T_INTEGER;
    case SW_COL_MASK:
        return H5T_ARRAY;
    case SW_COL_STATE:
    case SW_COL_EVKIND:
        return H5T_ENUM;
    case SW_COL_DETAIL:
    case SW_COL_NAME:
        return H5T_STRING;
    }
    return H5T_NO_CLASS;
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_FLOAT:
        return "float";
    case H5T_INTEGER:
        return "integer";
    case H5T_ARRAY:
        return "array";
    case H5T_ENUM:
        return "enum";
    case H5T_STRING:
        return "string";
    case H5T_COMPOUND:
        return "compound";
    default:
        return "other";
    }
}

bool sw_schema_check(hid_t ftype, const sw_table_schema *s, char *why, size_t cap)
{
    if (H5Tget_class(ftype) != H5T_COMPOUND) {
        snprintf(why, cap, "not a table (compound dataset expected)");
        return false;
    }
    for (size_t i = 0; i < s->n_cols; i++) {
        int idx = H5Tget_member_index(ftype, s->cols[i].name);
        if (idx < 0) {
            snprintf(why, cap, "column '%s' missing", s->cols[i].name);
            return false;
        }
        H5T_class_t want = col_class(s->cols[i].kind), got = H5Tget_member_class(ftype, idx);
        if (got != want) {
            snprintf(why, cap, "column '%s' is %s, expected %s", s->cols[i].name, class_name(got),
                     class_name(want));
            return false;
        }
    }
    return true;
}

void sw_h5_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

bool sw_report_name_ok(const char *name)
{
    if (!name)
        return false;
    size_t n = strlen(name);
    if (n == 0 || n >= SW_REPORT_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

/* Writes a scalar attribute of file type ftype from a buffer of memory type mtype. */
static int attr_put(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *buf)
{
    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0)
        return -1;
    hid_t sp = H5Screate(H5S_SCALAR);
    if (sp < 0)
        return -1;
    hid_t a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, mtype, buf) < 0 ? -1 : 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

int sw_attr_put_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    const char *v = value ? value : "";
    int rc = attr_put(obj, name, t, t, &v);
    H5Tclose(t);
    return rc;
}

int sw_attr_put_f64(hid_t obj, const char *name, double value)
{
    return attr_put(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

int sw_attr_put_i64(hid_t obj, const char *name, int64_t value)
{
    return attr_put(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

int sw_attr_put_i32(hid_t obj, const char *name, int32_t value)
{
    return attr_put(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT32, &value);
}

int sw_attr_put_u64(hid_t obj, const char *name, uint64_t value)
{
    return attr_put(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &value);
}
