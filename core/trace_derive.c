/* trace_derive.c - derived regions: circular shifts of a trace's regions on its own grid (see
 * trace_derive.h for the definition). The result is built with sw_trace_from_columns, so it
 * shares one time array and answers every query like a loaded trace.
 */
#include "core/trace_derive.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void sw_trace_derived_name(size_t k, char *buf, size_t size)
{
    snprintf(buf, size, "D%03zu", k);
}

/* Times compared at millisecond resolution, like the trace's step inference. */
static int64_t ms(double t_s)
{
    return llround(t_s * 1000.0);
}

/* SW_OK when every region of src has the times of region 0 on a regular grid of its step. */
static int check_grid(const sw_trace *src, sw_error *err)
{
    static const char *who = "sw_trace_derive";
    size_t n = sw_trace_length(src, 0);
    const double *t0 = sw_trace_times(src, 0);
    double step_s = sw_trace_step(src, 0);
    for (size_t i = 1; i < n; i++)
        if (ms(t0[i] - t0[i - 1]) != ms(step_s)) {
            char a[32];
            sw_format_iso8601(t0[i - 1], a, sizeof a);
            return sw_errorf(err, SW_EINPUT,
                             "%s: region %s: spacing %.3f s after %s differs from the step "
                             "%.3f s, expected a regular grid without gaps",
                             who, sw_trace_region_name(src, 0), t0[i] - t0[i - 1], a, step_s);
        }
    for (size_t r = 1; r < sw_trace_region_count(src); r++) {
        const double *tr = sw_trace_times(src, r);
        bool same = sw_trace_length(src, r) == n && ms(sw_trace_step(src, r)) == ms(step_s);
        for (size_t i = 0; same && i < n; i++)
            same = ms(tr[i]) == ms(t0[i]);
        if (!same)
            return sw_errorf(err, SW_EINPUT,
                             "%s: region %s has other times than region %s, expected all "
                             "regions on one time grid",
                             who, sw_trace_region_name(src, r), sw_trace_region_name(src, 0));
    }
    return SW_OK;
}

int sw_trace_derive(const sw_trace *src, size_t n_regions, double shift_s, sw_trace **out,
                    sw_error *err)
{
    static const char *who = "sw_trace_derive";
    if (!out)
        return sw_errorf(err, SW_EINPUT, "%s: out is NULL", who);
    *out = NULL;
    size_t m = sw_trace_region_count(src);
    if (m == 0)
        return sw_errorf(err, SW_EINPUT, "%s: the source trace has no regions", who);
    if (n_regions == 0)
        return sw_errorf(err, SW_EINPUT, "%s: n_regions = 0, expected at least 1", who);
    if (!isfinite(shift_s) || shift_s < 0)
        return sw_errorf(err, SW_EINPUT, "%s: shift_s = %g, expected a finite number >= 0", who,
                         shift_s);
    int rc = check_grid(src, err);
    if (rc != SW_OK)
        return rc;

    size_t n = sw_trace_length(src, 0);
    double step_s = sw_trace_step(src, 0);
    /* Loaded traces have rows at least 1 ms apart; this keeps the shift arithmetic below
     * (a division by the step, a cast to an index) defined whatever the source. */
    if (!(step_s >= 0.001) || !isfinite(step_s) || n == 0)
        return sw_errorf(err, SW_EINPUT,
                         "%s: region %s: step %g s over %zu points, expected a step of at least "
                         "1 ms",
                         who, sw_trace_region_name(src, 0), step_s, n);
    char **names = calloc(n_regions, sizeof *names);
    size_t *source = calloc(n_regions, sizeof *source), *shift = calloc(n_regions, sizeof *shift);
    rc = names && source && shift ? SW_OK : SW_ERUNTIME;
    for (size_t k = 0; rc == SW_OK && k < n_regions; k++) {
        if (!(names[k] = malloc(24))) {
            rc = SW_ERUNTIME;
            break;
        }
        sw_trace_derived_name(k, names[k], 24);
        source[k] = k % m;
        /* whole steps, reduced mod n so that a shift longer than the span wraps again */
        double steps = fmod(round((double)(k / m) * shift_s / step_s), (double)n);
        shift[k] = isfinite(steps) && steps >= 0 && steps < (double)n ? (size_t)steps : 0;
    }
    if (rc == SW_OK)
        rc = sw_trace_from_shifts(src, (const char *const *)names, source, shift, n_regions, out,
                                  err);
    else
        rc = sw_errorf(err, SW_ERUNTIME, "%s: out of memory for %zu regions of %zu points", who,
                       n_regions, n);
    for (size_t k = 0; names && k < n_regions; k++)
        free(names[k]);
    free(names);
    free(source);
    free(shift);
    return rc;
}
