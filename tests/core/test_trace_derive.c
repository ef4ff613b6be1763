/* test_trace_derive.c - derived regions (core/trace_derive.h): names, shifts rounded to whole
 * steps, wrap-around at the end of the span, values equal to the source at shifted times,
 * queries on the result, sw_trace_from_columns, and the errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/trace.h"
#include "core/trace_derive.h"

#define T0   1577836800.0 /* 2020-01-01T00:00:00Z */
#define STEP 300.0
#define N    12

/* Two regions on a 5-min grid of N points: A = 0, 1, 2, ...; B = 100, 101, ... */
static sw_trace *source(void)
{
    double t[N], a[N], b[N];
    for (int i = 0; i < N; i++) {
        t[i] = T0 + i * STEP;
        a[i] = i;
        b[i] = 100 + i;
    }
    const char *names[] = {"A", "B"};
    const double *cols[] = {a, b};
    sw_trace *tr = NULL;
    sw_error err = {0};
    cr_assert_eq(sw_trace_from_columns(names, t, cols, 2, N, STEP, &tr, &err), SW_OK, "%s",
                 err.msg);
    return tr;
}

static sw_trace *derive_ok(const sw_trace *src, size_t n, double shift_s)
{
    sw_trace *d = NULL;
    sw_error err = {0};
    cr_assert_eq(sw_trace_derive(src, n, shift_s, &d, &err), SW_OK, "%s", err.msg);
    cr_assert_not_null(d);
    return d;
}

Test(trace_derive, names_are_D_and_three_digits)
{
    sw_trace *src = source();
    sw_trace *d = derive_ok(src, 5, 600);
    cr_assert_eq(sw_trace_region_count(d), 5);
    cr_assert_str_eq(sw_trace_region_name(d, 0), "D000");
    cr_assert_str_eq(sw_trace_region_name(d, 4), "D004");
    cr_assert_eq(sw_trace_region_index(d, "D003"), 3);
    cr_assert_eq(sw_trace_region_index(d, "A"), -1, "source names are not kept");
    char buf[16];
    sw_trace_derived_name(99, buf, sizeof buf);
    cr_assert_str_eq(buf, "D099");
    sw_trace_derived_name(1234, buf, sizeof buf);
    cr_assert_str_eq(buf, "D1234");
    sw_trace_destroy(d);
    sw_trace_destroy(src);
}

Test(trace_derive, first_copies_are_the_source_unshifted_and_the_span_is_kept)
{
    sw_trace *src = source();
    sw_trace *d = derive_ok(src, 4, 900);
    for (size_t k = 0; k < 4; k++) {
        cr_assert_eq(sw_trace_length(d, k), N);
        cr_assert_eq(sw_trace_start(d, k), T0);
        cr_assert_eq(sw_trace_end(d, k), T0 + N * STEP);
        cr_assert_eq(sw_trace_step(d, k), STEP);
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(sw_trace_values(d, 0)[i], i, "D000 = A");
        cr_assert_eq(sw_trace_values(d, 1)[i], 100 + i, "D001 = B");
    }
    sw_trace_destroy(d);
    sw_trace_destroy(src);
}

Test(trace_derive, copy_q_is_shifted_later_by_q_times_shift_with_wrap_around)
{
    sw_trace *src = source();
    /* 900 s = 3 steps: D002/D003 by 3 steps, D004/D005 by 6 steps */
    sw_trace *d = derive_ok(src, 6, 900);
    const double *v2 = sw_trace_values(d, 2), *v5 = sw_trace_values(d, 5);
    /* the value at t is the source's at t - shift: D002 at step 3 is A at step 0 */
    cr_assert_eq(v2[3], 0);
    cr_assert_eq(v2[11], 8);
    /* the first 3 steps wrap to the end of the source span */
    cr_assert_eq(v2[0], 9);
    cr_assert_eq(v2[2], 11);
    cr_assert_eq(v5[6], 100);
    cr_assert_eq(v5[0], 106);
    /* every value equals the source at the shifted time, through the query API */
    for (size_t k = 0; k < 6; k++) {
        double shift = (double)(k / 2) * 900;
        for (int i = 0; i < N; i++) {
            double t = T0 + i * STEP + 10; /* inside the interval */
            double ts = t - shift;
            if (ts < T0)
                ts += N * STEP;
            cr_assert_eq(sw_trace_value(d, k, t), sw_trace_value(src, k % 2, ts), "k %zu i %d", k,
                         i);
        }
    }
    sw_trace_destroy(d);
    sw_trace_destroy(src);
}

Test(trace_derive, shifts_round_to_whole_steps_and_wrap_past_the_span)
{
    sw_trace *src = source();
    /* 440 s rounds to 1 step (1.47); copy 2 of A: 880 s -> 3 steps (2.93), not 2 x 1 */
    sw_trace *d = derive_ok(src, 5, 440);
    cr_assert_eq(sw_trace_values(d, 2)[1], 0, "1 step");
    cr_assert_eq(sw_trace_values(d, 4)[3], 0, "round(2 x 440 / 300) = 3 steps");
    sw_trace_destroy(d);
    /* a shift of the whole span (12 steps) plus 2 steps is a shift of 2 steps */
    d = derive_ok(src, 3, (N + 2) * STEP);
    cr_assert_eq(sw_trace_values(d, 2)[2], 0);
    cr_assert_eq(sw_trace_values(d, 2)[0], 10);
    sw_trace_destroy(d);
    /* shift 0: every copy equals its source */
    d = derive_ok(src, 4, 0);
    cr_assert_eq(memcmp(sw_trace_values(d, 2), sw_trace_values(src, 0), N * sizeof(double)), 0);
    sw_trace_destroy(d);
    sw_trace_destroy(src);
}

Test(trace_derive, queries_on_the_derived_trace_are_exact)
{
    sw_trace *src = source();
    sw_trace *d = derive_ok(src, 3, 900);
    /* D002 = A shifted by 3 steps: 9, 10, 11, 0, 1, ...; its integral over the first 4 steps */
    double g = 0;
    sw_error err = {0};
    cr_assert_eq(sw_trace_integral(d, 2, T0, T0 + 4 * STEP, &g, &err), SW_OK, "%s", err.msg);
    cr_assert_float_eq(g, (9 + 10 + 11 + 0) * STEP, 1e-9);
    cr_assert_eq(sw_trace_next_change(d, 2, T0), T0 + STEP);
    cr_assert(isnan(sw_trace_value(d, 2, T0 + N * STEP)), "no value past the span");
    sw_trace_destroy(d);
    sw_trace_destroy(src);
}

Test(trace_derive, the_shipped_2020_trace_gives_100_regions)
{
    sw_trace *src = NULL;
    sw_error err = {0};
    cr_assert_eq(sw_trace_load("traces/sgip_caiso_moer_2020_5min.csv", NULL, &src, &err), SW_OK,
                 "%s", err.msg);
    double shift = 7 * 86400 + 5 * 3600;
    sw_trace *d = derive_ok(src, 100, shift);
    cr_assert_eq(sw_trace_region_count(d), 100);
    cr_assert_str_eq(sw_trace_region_name(d, 99), "D099");
    size_t n = sw_trace_length(src, 0);
    cr_assert_eq(sw_trace_length(d, 99), n);
    /* D099 = SGIP_CAISO_SCE shifted by 49 x 173 h */
    double t = sw_trace_start(src, 0) + 200 * 86400 + 60;
    double ts = t - 49 * shift; /* 353 days back: before the start, so it wraps to the end */
    cr_assert(ts < sw_trace_start(src, 1));
    ts += sw_trace_end(src, 1) - sw_trace_start(src, 1);
    cr_assert_eq(sw_trace_value(d, 99, t), sw_trace_value(src, 1, ts));
    cr_assert_eq(sw_trace_value(d, 98, t), sw_trace_value(src, 0, ts), "D098: the PGE copy");
    sw_trace_destroy(d);
    sw_trace_destroy(src);
}

Test(trace_derive, rejects_bad_arguments_and_irregular_sources)
{
    sw_trace *src = source();
    sw_trace *d = (sw_trace *)1;
    sw_error err = {0};
    cr_assert_eq(sw_trace_derive(src, 0, 600, &d, &err), SW_EINPUT);
    cr_assert_null(d);
    cr_assert(strstr(err.msg, "n_regions") != NULL, "%s", err.msg);
    cr_assert_eq(sw_trace_derive(src, 3, -1, &d, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "shift_s") != NULL, "%s", err.msg);
    cr_assert_eq(sw_trace_derive(src, 3, INFINITY, &d, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "shift_s") != NULL, "%s", err.msg);
    cr_assert_eq(sw_trace_derive(NULL, 3, 600, &d, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "no regions") != NULL, "%s", err.msg);
    sw_trace_destroy(src);

    /* a gap: 0, 300, 900 */
    double t[] = {T0, T0 + 300, T0 + 900, T0 + 1200}, v[] = {1, 2, 3, 4};
    sw_trace *gap = NULL;
    cr_assert_eq(sw_trace_from_arrays("G", t, v, 4, 300, &gap, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_trace_derive(gap, 3, 600, &d, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "region G") && strstr(err.msg, "regular grid"), "%s", err.msg);
    sw_trace_destroy(gap);

    /* two regions on different grids (long layout) */
    const char *csv = "time,region,value\n"
                      "2020-01-01T00:00Z,X,1\n2020-01-01T00:05Z,X,2\n"
                      "2020-01-01T00:10Z,Y,1\n2020-01-01T00:15Z,Y,2\n";
    sw_trace *two = NULL;
    cr_assert_eq(sw_trace_parse(csv, strlen(csv), "two.csv", NULL, &two, &err), SW_OK, "%s",
                 err.msg);
    cr_assert_eq(sw_trace_derive(two, 3, 600, &d, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "region Y") && strstr(err.msg, "one time grid"), "%s", err.msg);
    sw_trace_destroy(two);
}

Test(trace_columns, validates_names_times_and_values)
{
    double t[] = {T0, T0 + 300}, ok[] = {1, 2}, neg[] = {1, -2};
    const double *cols[] = {ok, ok};
    const char *dup[] = {"R", "R"}, *empty[] = {"R", ""}, *names[] = {"R", "S"};
    sw_trace *tr = (sw_trace *)1;
    sw_error err = {0};
    cr_assert_eq(sw_trace_from_columns(dup, t, cols, 2, 2, 300, &tr, &err), SW_EINPUT);
    cr_assert_null(tr);
    cr_assert(strstr(err.msg, "region R given twice") != NULL, "%s", err.msg);
    cr_assert_eq(sw_trace_from_columns(empty, t, cols, 2, 2, 300, &tr, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "empty region name") != NULL, "%s", err.msg);
    const double *bad[] = {ok, neg};
    cr_assert_eq(sw_trace_from_columns(names, t, bad, 2, 2, 300, &tr, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "region S: value[1]") != NULL, "%s", err.msg);
    double back[] = {T0, T0 - 1};
    cr_assert_eq(sw_trace_from_columns(names, back, cols, 2, 2, 300, &tr, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "strictly increasing") != NULL, "%s", err.msg);
    cr_assert_eq(sw_trace_from_columns(names, t, cols, 0, 2, 300, &tr, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "no regions") != NULL, "%s", err.msg);
    /* step inferred from the shared times */
    cr_assert_eq(sw_trace_from_columns(names, t, cols, 2, 2, 0, &tr, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_trace_step(tr, 1), 300);
    cr_assert_eq(sw_trace_times(tr, 0), sw_trace_times(tr, 1), "one shared time array");
    cr_assert_eq(sw_trace_end(tr, 1), T0 + 600);
    sw_trace_destroy(tr);
}
