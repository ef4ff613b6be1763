/* trace.h - marginal-carbon-intensity (MCI) traces: loading, validation and step-function queries.
 *
 * A trace holds one step series per region. Times are Unix epoch seconds (UTC) as double;
 * values are gCO2/kWh. Step semantics: value i holds on [t_i, t_{i+1}); the last value holds
 * for one nominal step (the most common spacing of that region's series), so a region's
 * series covers [start, end) with end = t_{n-1} + step. Outside that interval there is no
 * value (queries return NAN or an error).
 *
 * CSV layouts accepted (header row required, comma separated, '#' comment lines ignored):
 *   wide:  time,REGION_A,REGION_B,...        one column per region
 *   long:  time,value                         one region, named after the file (or the
 *                                             `region` option)
 *   long:  time,region,value                  rows of several regions, interleaved or not
 * The time column may be named point_time, time, time_utc, timestamp or datetime. Timestamps
 * are ISO-8601: `YYYY-MM-DD[T ]hh:mm[:ss[.fff]]` followed by `Z`, `+hh:mm`, `-hh:mm`, `+hhmm`
 * or nothing (taken as UTC); all are converted to UTC.
 *
 * Errors name file, line and column: empty file, bad header, unparsable timestamp, unsorted or
 * duplicate timestamp, non-numeric, NaN, infinite or negative value, wrong number of cells,
 * empty cell, unknown region (when options restrict regions), fewer than 2 rows in a region
 * (the step is inferred), gap longer than max_gap_s. With fill_gaps set, longer gaps and empty
 * cells are accepted and the last value is carried forward, which is what the step semantics
 * do anyway. Full list and format: docs/formats/trace.md.
 */
#ifndef SW_TRACE_H
#define SW_TRACE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef enum sw_trace_unit {
    SW_UNIT_G_PER_KWH = 0,   /* values are already gCO2/kWh */
    SW_UNIT_LBS_PER_MWH = 1, /* values are lbs/MWh; multiplied by 0.453592 on load */
} sw_trace_unit;

typedef struct sw_trace_options {
    sw_trace_unit unit;
    double max_gap_s;   /* largest allowed spacing between consecutive timestamps; 0 = no limit */
    bool fill_gaps;     /* true: a longer gap is accepted (last value carried forward) */
    const char *region; /* name for a single-region `time,value` file; NULL = file stem */
    /* Optional restriction: keep only these regions, in this order (region index i of the
     * trace is regions[i]); a listed region absent from the file is an "unknown region"
     * error. The whole file is still validated. NULL/0 = all regions in file order. Borrowed
     * during the call only. */
    const char *const *regions;
    size_t n_regions;
} sw_trace_options;

typedef struct sw_trace sw_trace;

/* Loads and validates a CSV trace file. opt may be NULL (defaults: g/kWh, no gap limit).
 * On success *out owns the trace (free with sw_trace_destroy). */
int sw_trace_load(const char *path, const sw_trace_options *opt, sw_trace **out, sw_error *err);

/* Same as sw_trace_load on an in-memory CSV text; `name` is used in error messages. */
int sw_trace_parse(const char *text, size_t len, const char *name, const sw_trace_options *opt,
                   sw_trace **out, sw_error *err);

/* Builds a one-region trace from arrays (copied). step_s <= 0: inferred from the spacing. */
int sw_trace_from_arrays(const char *region, const double *t_unix_s, const double *mci_g_per_kwh,
                         size_t n, double step_s, sw_trace **out, sw_error *err);

/* Builds a trace of n_regions regions over one shared time grid: region k is names[k] with
 * values mci_g_per_kwh[k][0..n-1] at t_unix_s[0..n-1] (all copied; the trace keeps a single
 * copy of the times for all its regions). step_s <= 0: inferred from the spacing. Same checks
 * as sw_trace_from_arrays, plus unique non-empty names. */
int sw_trace_from_columns(const char *const *names, const double *t_unix_s,
                          const double *const *mci_g_per_kwh, size_t n_regions, size_t n,
                          double step_s, sw_trace **out, sw_error *err);

/* Builds a trace of n_regions regions, each a circular shift of a region of src on src's time
 * grid (n points): region k is names[k] (copied) with value_k[i] = v[(i - shift_steps[k]) mod n],
 * v the values of src region src_region[k], shift_steps[k] < n. All regions of src must have n
 * points on one grid (sw_trace_derive checks it). Memory: each source region once, doubled
 * (about 48·n bytes), plus O(1) per region: the shifted values are views, not copies. */
int sw_trace_from_shifts(const sw_trace *src, const char *const *names, const size_t *src_region,
                         const size_t *shift_steps, size_t n_regions, sw_trace **out,
                         sw_error *err);

void sw_trace_destroy(sw_trace *t);

size_t sw_trace_region_count(const sw_trace *t);
const char *sw_trace_region_name(const sw_trace *t, size_t region);
/* Index of a region by name, or -1. */
int sw_trace_region_index(const sw_trace *t, const char *name);

/* The raw series of a region: n points, times and values (owned by the trace). */
size_t sw_trace_length(const sw_trace *t, size_t region);
const double *sw_trace_times(const sw_trace *t, size_t region);
const double *sw_trace_values(const sw_trace *t, size_t region);
double sw_trace_start(const sw_trace *t, size_t region); /* first timestamp, Unix s */
double sw_trace_end(const sw_trace *t, size_t region);   /* last timestamp + step, Unix s */
double sw_trace_step(const sw_trace *t, size_t region);  /* nominal step, s */

/* Value at t (gCO2/kWh), NAN outside [start, end). */
double sw_trace_value(const sw_trace *t, size_t region, double t_unix_s);

/* The first time > t_unix_s at which the value differs from the value at t_unix_s, or the end
 * of the series if it does not change again; INFINITY if t_unix_s >= end. Before start: start. */
double sw_trace_next_change(const sw_trace *t, size_t region, double t_unix_s);

/* Exact integral of the intensity over [t0, t1] in (gCO2/kWh)·s. Error if the interval is not
 * inside [start, end] or t1 < t0. */
int sw_trace_integral(const sw_trace *t, size_t region, double t0_unix_s, double t1_unix_s,
                      double *out_g_per_kwh_s, sw_error *err);

/* Exact carbon of a power step series over [t0, t1]: power p_w[i] holds on
 * [pt_unix_s[i], pt_unix_s[i+1]) (the last one until t1), zero before pt_unix_s[0].
 * Result in grams CO2 = ∫ P(t)[W] · MCI(t)[g/kWh] dt / 3.6e6. */
int sw_trace_carbon(const sw_trace *t, size_t region, const double *pt_unix_s, const double *p_w,
                    size_t n_power, double t0_unix_s, double t1_unix_s, double *out_g,
                    sw_error *err);

/* Parses one ISO-8601 timestamp (layouts above) into Unix seconds. Returns SW_OK or SW_EINPUT. */
int sw_parse_iso8601(const char *s, double *out_unix_s);

/* Formats Unix seconds as "YYYY-MM-DDThh:mm:ssZ" into buf (at least 21 bytes). */
void sw_format_iso8601(double t_unix_s, char *buf, size_t size);

#endif
