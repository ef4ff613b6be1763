/* sweep.h - a parameter sweep (docs/formats/sweep.md): a base scenario and parameters over its
 * keys, expanded into points, each point a list of `--set` overrides for `spillway sim`.
 *
 *   base: ../paper.yaml                       # the scenario every point starts from
 *   set:  { trace.baseline_regions: [] }      # overrides of every point
 *   grid:                                     # cartesian product, first key slowest
 *     policy.threshold_g_per_kwh: [50, 100, 150, 200]
 *     policy.deprovision_after_s: {from: 0, to: 1200, step: 600}
 *     sites.count: [1, 2, 3]                  # the first N sites of the base scenario
 *   zip:                                      # equal-length lists varied together
 *     rounds.min_duration_s: [300, 600]
 *     rounds.startup_s: [40, 85]
 *   seeds: {from: 1, to: 3}                   # fastest axis
 *
 * Axes in point order: the grid keys in file order (the first varies slowest), then the zip
 * lists as one axis, then the seeds. Point ids are 0, 1, ... in that row-major order.
 *
 * Loading reads the sweep file and the base scenario file, nothing else, and validates every
 * point by parsing the base scenario with the point's overrides (core/scenario.h): a bad key or
 * value is an SW_EINPUT error naming the sweep file, line and key, before anything runs:
 *   sweeps/x.yaml:9:3: key 'policy.threshold_g_per_kwh', value -5 (point 0): key
 *   'policy.threshold_g_per_kwh': expected a number >= 0, got "-5"
 */
#ifndef SW_SWEEP_H
#define SW_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define SW_SWEEP_MAX_POINTS  1000000 /* more is refused as an error */
#define SW_SWEEP_SITES_COUNT "sites.count"

/* One swept key with its values. */
typedef struct sw_sweep_param {
    char *key;        /* scenario key (dotted path), "sites.count" or "seed" */
    char **values;    /* n_values texts as given to `--set key=VALUE` (YAML, flow style) */
    size_t n_values;  /* >= 1 */
    bool numeric;     /* every value is a plain number (the table stores it as a number) */
    size_t axis;      /* the axis it belongs to (zipped keys share one) */
    size_t line, col; /* where the key is written in the sweep file */
} sw_sweep_param;

/* One point: a value of every parameter and the overrides that make it. */
typedef struct sw_sweep_point {
    size_t *value_index; /* per parameter: index into params[p].values */
    char **overrides;    /* n_overrides "key=value" strings, in the order they are applied */
    size_t n_overrides;
    unsigned long long hash; /* FNV-1a 64 of the base scenario's text and the overrides */
} sw_sweep_point;

typedef struct sw_sweep {
    char *path;      /* the sweep file as given */
    char *name;      /* `name:` or the file name without folder and extension */
    char *base_path; /* the base scenario, resolved against the sweep file's folder */
    char *base_text; /* its text */
    char **fixed;    /* the `set:` overrides as "key=value", applied before the parameters */
    size_t n_fixed;
    sw_sweep_param *params; /* grid keys, zip keys, then "seed" */
    size_t n_params;
    size_t n_axes;
    sw_sweep_point *points;
    size_t n_points;
} sw_sweep;

/* Loads, expands and validates a sweep file. On success *out owns everything (free with
 * sw_sweep_free); on error *out is left empty (safe to free). */
int sw_sweep_load(const char *path, sw_sweep *out, sw_error *err);

/* Same on the sweep file's text; `name` stands for the file in messages and is the base for a
 * relative `base:` path. Reads the base scenario file. */
int sw_sweep_parse_text(const char *text, const char *name, sw_sweep *out, sw_error *err);

/* Frees what the sweep owns and zeroes it (NULL or already freed is fine). */
void sw_sweep_free(sw_sweep *s);

/* The report of point i relative to the sweep's output folder, "points/p0007-1a2b3c4d.h5": the
 * id zero-padded to the width of the largest id, then 8 hex digits of the point's hash, so that
 * a changed base scenario or point never reuses an old report. Returns the length written (as
 * snprintf). */
int sw_sweep_point_report(const sw_sweep *s, size_t i, char *buf, size_t size);

/* Writes "key=value, key=value" of point i's parameters into buf (as snprintf). */
int sw_sweep_point_label(const sw_sweep *s, size_t i, char *buf, size_t size);

/* Points in chunks of `chunk` consecutive ids (chunk >= 1): the number of chunks, and the first
 * id and the count of chunk k. */
size_t sw_sweep_n_chunks(const sw_sweep *s, size_t chunk);
void sw_sweep_chunk_range(const sw_sweep *s, size_t chunk, size_t k, size_t *first, size_t *n);

#endif
