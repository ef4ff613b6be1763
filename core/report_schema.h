/* report_schema.h - internal to report*.c: the table schemas of the HDF5 report (columns, file
 * and memory types, units) and small HDF5 helpers shared by the writer and the reader.
 * Not part of the public API; see report.h and docs/formats/report.md.
 */
#ifndef SW_REPORT_SCHEMA_H
#define SW_REPORT_SCHEMA_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/report.h"

typedef enum sw_col_kind {
    SW_COL_F64,    /* double <-> IEEE f64 LE */
    SW_COL_I64,    /* int64_t <-> i64 LE */
    SW_COL_I32,    /* int32_t <-> i32 LE */
    SW_COL_MASK,   /* uint64_t[SW_REPORT_MASK_WORDS] <-> array of u64 LE */
    SW_COL_STATE,  /* sw_report_state <-> enum `state` on i32 */
    SW_COL_EVKIND, /* sw_report_event_kind <-> enum `event_kind` on i32 */
    SW_COL_DETAIL, /* char[SW_REPORT_DETAIL_MAX] <-> fixed NUL-terminated string */
    SW_COL_NAME,   /* char[SW_REPORT_NAME_MAX] <-> fixed NUL-terminated string */
} sw_col_kind;

typedef struct sw_col {
    const char *name;
    size_t offset; /* in the in-memory row */
    sw_col_kind kind;
    const char *unit; /* as written in the `units` attribute */
} sw_col;

typedef struct sw_table_schema {
    const sw_col *cols;
    size_t n_cols;
    size_t row_size; /* sizeof the in-memory row */
    bool loss_kind;  /* carries the `loss_kind` attribute */
} sw_table_schema;

/* Rows of /summary/sites: the public per-site figures plus the site's index and name. */
typedef struct sw_site_summary_row {
    int32_t site;
    char name[SW_REPORT_NAME_MAX];
    sw_report_site_summary s;
} sw_site_summary_row;

extern const sw_table_schema sw_schema_signal, sw_schema_state, sw_schema_power, sw_schema_train,
    sw_schema_round, sw_schema_event, sw_schema_global, sw_schema_site_summary;

/* Names of the /summary attributes, in the order of sw_report_summary's fields. */
typedef struct sw_summary_field {
    const char *name;
    size_t offset;
    bool is_int; /* int64_t, else double */
    const char *unit;
} sw_summary_field;
extern const sw_summary_field sw_summary_fields[];
extern const size_t sw_summary_field_count;

/* The `value` unit of each event kind, as written in /events' `value_units` attribute. */
extern const char *const sw_event_value_units;

/* Compound types for a schema: packed little-endian for the file, native for memory.
 * Return a type id the caller closes, or H5I_INVALID_HID. */
hid_t sw_schema_file_type(const sw_table_schema *s);
hid_t sw_schema_mem_type(const sw_table_schema *s);

/* "t_s=s, power_w=W" into buf (truncated to cap). */
void sw_schema_units(const sw_table_schema *s, char *buf, size_t cap);

/* Checks a file compound type against a schema: each column present with the right class.
 * Returns true, or false with the reason ("column 'x' missing") in why. */
bool sw_schema_check(hid_t ftype, const sw_table_schema *s, char *why, size_t cap);

/* Turns off HDF5's automatic error stack printing (process-wide). */
void sw_h5_quiet(void);

/* A valid site/region/extra name: 1..SW_REPORT_NAME_MAX-1 chars of [A-Za-z0-9_.-], not "."
 * or "..". */
bool sw_report_name_ok(const char *name);

/* Scalar attribute writers (replace an existing attribute); return 0 or -1. Strings are
 * variable-length UTF-8 (h5py reads them as str). */
int sw_attr_put_str(hid_t obj, const char *name, const char *value);
int sw_attr_put_f64(hid_t obj, const char *name, double value);
int sw_attr_put_i64(hid_t obj, const char *name, int64_t value);
int sw_attr_put_i32(hid_t obj, const char *name, int32_t value);
int sw_attr_put_u64(hid_t obj, const char *name, uint64_t value);

#endif
