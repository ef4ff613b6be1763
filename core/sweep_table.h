/* sweep_table.h - the sweep table: one row per sweep point, its parameters and the figures of
 * its report, written as HDF5 and CSV (docs/formats/sweep.md#table) and read back by
 * `spillway summary`.
 *
 *   sweep.h5   attrs sweep_format_version (1), sweep (name), base (scenario path),
 *              parameters (the parameter keys, one per line)
 *              /sweep  table (point, <parameter>..., runtime_h, gpu_hours, energy_kwh,
 *                      curtailed_energy_fraction, carbon_kg, final_ppl, tokens, report)
 *   sweep.csv  the same columns, a header line, one line per point
 *
 * A numeric parameter is a double column, any other a string column holding its YAML text.
 * A point without a report has NAN figures (empty CSV fields) and an empty `report`. Both files
 * are written under a temporary name and renamed when complete. Same rows, same files: nothing
 * time-dependent is stored.
 */
#ifndef SW_SWEEP_TABLE_H
#define SW_SWEEP_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/error.h"
#include "core/sweep.h"

#define SW_SWEEP_TABLE_FORMAT_VERSION 1

/* The figures of one point's report (NAN when the point has none). */
typedef struct sw_sweep_figures {
    double runtime_h;                 /* h */
    double gpu_hours;                 /* GPU-h */
    double energy_kwh;                /* kWh */
    double curtailed_energy_fraction; /* 0..1 */
    double carbon_kg;                 /* kgCO2, marginal signal */
    double final_ppl;                 /* perplexity of the final global model */
    double tokens;                    /* tokens in the final global model */
} sw_sweep_figures;

typedef struct sw_sweep_table {
    char *sweep;       /* sweep name */
    char *base;        /* base scenario path */
    char **param_keys; /* n_params column names */
    bool *param_numeric;
    size_t n_params;
    size_t n_rows;
    long long *point;          /* n_rows point ids */
    char **values;             /* n_rows x n_params texts, row-major */
    sw_sweep_figures *figures; /* n_rows */
    char **reports;            /* n_rows report paths relative to the table's folder, "" = none */
} sw_sweep_table;

/* A table for sweep s: every point with its parameter values and report path
 * (sw_sweep_point_report), figures NAN. Fill `figures` (and clear `reports[i]` of points
 * without a report) before writing. Free with sw_sweep_table_free. */
int sw_sweep_table_init(sw_sweep_table *t, const sw_sweep *s, sw_error *err);

/* Writes t as HDF5 (h5_path) and CSV (csv_path; NULL = none), each atomically. */
int sw_sweep_table_write(const sw_sweep_table *t, const char *h5_path, const char *csv_path,
                         sw_error *err);

/* True when path is an HDF5 file carrying the sweep_format_version attribute. */
bool sw_sweep_table_is(const char *path);

/* Reads a sweep table written by sw_sweep_table_write. SW_EINPUT names the file and object. */
int sw_sweep_table_read(const char *path, sw_sweep_table *t, sw_error *err);

/* Frees what t owns and zeroes it. */
void sw_sweep_table_free(sw_sweep_table *t);

/* Writes the CSV form of t to an open stream (what sweep.csv holds). */
int sw_sweep_table_csv(const sw_sweep_table *t, FILE *f);

#endif
