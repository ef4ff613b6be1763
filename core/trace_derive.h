/* trace_derive.h - many synthetic regions derived from a few real ones, for what-if studies at
 * scale (100 sites on a two-region trace) without writing a huge CSV.
 *
 * Derivation: the source has m regions sharing one regular time grid (n points, step h, span
 * [start, start + n·h)). Derived region k (k = 0 .. n_regions-1) is source region (k mod m)
 * circularly shifted later in time by (k div m) × shift_s, rounded to whole steps:
 *
 *   s_k        = round((k div m) · shift_s / h) mod n          (steps)
 *   value_k[i] = source_(k mod m)[(i - s_k) mod n]             i = 0 .. n-1
 *
 * i.e. at time t the derived region has the value the source had at t - shift, wrapped into the
 * source span; the derived trace covers exactly the source's span and grid. The first m derived
 * regions are therefore copies of the source regions, unshifted. Each region keeps its source's
 * day-to-day weather and seasons but sees them at another time; with a shift that is not a
 * multiple of a day (the scenario default is 7 d + 5 h) the daily solar pattern lands at other
 * hours too, as for sites spread over longitudes.
 *
 * Names: "D" and k with at least 3 digits, zero padded: D000, D001, ..., D099 (D1000 past 999).
 * Memory: derived regions are views into each source region stored once, doubled
 * (sw_trace_from_shifts): about 48·n bytes per source region, O(1) per derived region.
 */
#ifndef SW_TRACE_DERIVE_H
#define SW_TRACE_DERIVE_H

#include <stddef.h>

#include "core/error.h"
#include "core/trace.h"

/* Builds *out (owned by the caller, free with sw_trace_destroy) with n_regions (>= 1) regions
 * derived from src as above; shift_s >= 0 and finite. SW_EINPUT naming the problem when src
 * has no regions, when its regions do not share one regular grid (same length, same times,
 * spacing equal to the step everywhere: gaps would make "shift by whole steps" ambiguous), or
 * for a bad argument. src is only read. */
int sw_trace_derive(const sw_trace *src, size_t n_regions, double shift_s, sw_trace **out,
                    sw_error *err);

/* Writes the name of derived region k ("D000"...) into buf (size bytes). */
void sw_trace_derived_name(size_t k, char *buf, size_t size);

#endif
