/* test_trace.c - the trace loader and step-function queries (core/trace.h): both CSV layouts,
 * time stamps and units, every validation error with its file:line:col, lookups, exact
 * integrals and carbon, and the two shipped trace files. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/trace.h"

#define T0 1577836800.0 /* 2020-01-01T00:00:00Z */

static sw_trace *parse_ok(const char *text, const char *name, const sw_trace_options *opt)
{
    sw_trace *t = NULL;
    sw_error err = {0};
    int rc = sw_trace_parse(text, strlen(text), name, opt, &t, &err);
    cr_assert_eq(rc, SW_OK, "parse failed: %s", err.msg);
    cr_assert_not_null(t);
    return t;
}

/* Parses text expecting SW_EINPUT with a message that starts with `where` and contains `what`. */
static void parse_bad(const char *text, const sw_trace_options *opt, const char *where,
                      const char *what)
{
    sw_trace *t = (sw_trace *)1;
    sw_error err = {0};
    int rc = sw_trace_parse(text, strlen(text), "bad.csv", opt, &t, &err);
    cr_assert_eq(rc, SW_EINPUT, "expected SW_EINPUT for:\n%s", text);
    cr_assert_null(t);
    cr_assert_eq(err.code, SW_EINPUT);
    cr_assert(strncmp(err.msg, where, strlen(where)) == 0, "message '%s' should start with '%s'",
              err.msg, where);
    cr_assert(strstr(err.msg, what) != NULL, "message '%s' should contain '%s'", err.msg, what);
}

/* ---------------------------------------------------------------- time stamps */

Test(trace_time, iso8601_zones_are_converted_to_utc)
{
    static const char *same[] = {
        "2020-01-01T00:00:00Z",      "2020-01-01 00:00:00+00:00",
        "2020-01-01T02:00:00+02:00", "2019-12-31T19:00:00-05:00",
        "2020-01-01T05:30+0530",     "2020-01-01t00:00z",
        "2020-01-01T00:00:00",       "2020-01-01",
        "2020-01-01T01:00:00+01",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        double t = -1;
        cr_assert_eq(sw_parse_iso8601(same[i], &t), SW_OK, "%s", same[i]);
        cr_assert_eq(t, T0, "%s -> %.3f", same[i], t);
    }
    double t;
    cr_assert_eq(sw_parse_iso8601("2026-01-11 17:00:00+00:00", &t), SW_OK);
    cr_assert_eq(t, 1768150800.0);
    cr_assert_eq(sw_parse_iso8601("2020-02-29T12:00:00.250Z", &t), SW_OK);
    cr_assert_float_eq(t, T0 + 59 * 86400 + 12 * 3600 + 0.25, 1e-6);
    cr_assert_eq(sw_parse_iso8601("1969-12-31T23:59:59Z", &t), SW_OK);
    cr_assert_eq(t, -1.0);
}

Test(trace_time, iso8601_rejects_malformed)
{
    static const char *bad[] = {"",
                                "2020-13-01T00:00Z",
                                "2019-02-29T00:00Z",
                                "2020-01-32",
                                "2020-01-01T24:00Z",
                                "2020-01-01T00:60Z",
                                "2020-01-01T00:00:61Z",
                                "2020-1-01T00:00Z",
                                "2020-01-01T00:00:00+25:00",
                                "2020-01-01T00:00:00 UTC",
                                "2020-01-01T00:00:00.Z",
                                "yesterday"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double t;
        cr_assert_eq(sw_parse_iso8601(bad[i], &t), SW_EINPUT, "'%s' should be rejected", bad[i]);
    }
}

Test(trace_time, format_round_trips)
{
    char buf[32];
    sw_format_iso8601(1768150800.0, buf, sizeof buf);
    cr_assert_str_eq(buf, "2026-01-11T17:00:00Z");
    sw_format_iso8601(T0 + 59 * 86400 + 86399, buf, sizeof buf);
    cr_assert_str_eq(buf, "2020-02-29T23:59:59Z");
    sw_format_iso8601(-1, buf, sizeof buf);
    cr_assert_str_eq(buf, "1969-12-31T23:59:59Z");
    srand(7);
    for (int i = 0; i < 2000; i++) {
        double t = floor((double)rand() / RAND_MAX * 4e9 - 1e9), back;
        sw_format_iso8601(t, buf, sizeof buf);
        cr_assert_eq(sw_parse_iso8601(buf, &back), SW_OK, "%s", buf);
        cr_assert_eq(back, t, "%s: %.0f != %.0f", buf, back, t);
    }
}

/* ---------------------------------------------------------------- layouts and units */

Test(trace_layout, wide_with_comments_crlf_and_offsets)
{
    sw_trace *t = parse_ok("# a comment\n"
                           "point_time,A,B\r\n"
                           "2020-01-01 00:00:00+00:00,10,20\r\n"
                           "2020-01-01 01:05:00+01:00,11,21\r\n"
                           "\n"
                           "\"2020-01-01T00:10:00Z\", 12.5 ,22\r\n",
                           "w.csv", NULL);
    cr_assert_eq(sw_trace_region_count(t), 2);
    cr_assert_str_eq(sw_trace_region_name(t, 0), "A");
    cr_assert_str_eq(sw_trace_region_name(t, 1), "B");
    cr_assert_eq(sw_trace_region_index(t, "B"), 1);
    cr_assert_eq(sw_trace_region_index(t, "C"), -1);
    cr_assert_eq(sw_trace_length(t, 0), 3);
    cr_assert_eq(sw_trace_times(t, 1)[0], T0);
    cr_assert_eq(sw_trace_times(t, 1)[1], T0 + 300);
    cr_assert_eq(sw_trace_times(t, 1)[2], T0 + 600);
    cr_assert_eq(sw_trace_values(t, 0)[2], 12.5);
    cr_assert_eq(sw_trace_values(t, 1)[1], 21);
    cr_assert_eq(sw_trace_step(t, 0), 300);
    cr_assert_eq(sw_trace_start(t, 0), T0);
    cr_assert_eq(sw_trace_end(t, 0), T0 + 900);
    sw_trace_destroy(t);
}

Test(trace_layout, long_single_region_named_after_file_or_option)
{
    const char *csv = "time,value\n2020-01-01T00:00Z,5\n2020-01-01T00:05Z,6\n";
    sw_trace *t = parse_ok(csv, "some/dir/my_region.csv", NULL);
    cr_assert_eq(sw_trace_region_count(t), 1);
    cr_assert_str_eq(sw_trace_region_name(t, 0), "my_region");
    cr_assert_eq(sw_trace_values(t, 0)[1], 6);
    sw_trace_destroy(t);

    sw_trace_options opt = {.region = "CAISO_NORTH"};
    t = parse_ok(csv, "x.csv", &opt);
    cr_assert_str_eq(sw_trace_region_name(t, 0), "CAISO_NORTH");
    sw_trace_destroy(t);
}

Test(trace_layout, long_many_regions_interleaved)
{
    sw_trace *t = parse_ok("timestamp,region,value\n"
                           "2020-01-01T00:00Z,A,1\n"
                           "2020-01-01T00:00Z,B,10\n"
                           "2020-01-01T00:05Z,A,2\n"
                           "2020-01-01T00:10Z,A,3\n"
                           "2020-01-01T00:10Z,B,30\n",
                           "l.csv", NULL);
    cr_assert_eq(sw_trace_region_count(t), 2);
    int a = sw_trace_region_index(t, "A"), b = sw_trace_region_index(t, "B");
    cr_assert(a >= 0 && b >= 0);
    cr_assert_eq(sw_trace_length(t, (size_t)a), 3);
    cr_assert_eq(sw_trace_length(t, (size_t)b), 2);
    cr_assert_eq(sw_trace_step(t, (size_t)a), 300);
    cr_assert_eq(sw_trace_step(t, (size_t)b), 600);
    cr_assert_eq(sw_trace_value(t, (size_t)b, T0 + 599), 10);
    cr_assert_eq(sw_trace_end(t, (size_t)b), T0 + 1200);
    sw_trace_destroy(t);
}

Test(trace_layout, region_filter_selects_and_orders)
{
    const char *regions[] = {"C", "A"};
    sw_trace_options opt = {.regions = regions, .n_regions = 2};
    sw_trace *t =
        parse_ok("time,A,B,C\n2020-01-01T00:00Z,1,2,3\n2020-01-01T00:05Z,4,5,6\n", "f.csv", &opt);
    cr_assert_eq(sw_trace_region_count(t), 2);
    cr_assert_str_eq(sw_trace_region_name(t, 0), "C");
    cr_assert_str_eq(sw_trace_region_name(t, 1), "A");
    cr_assert_eq(sw_trace_values(t, 0)[1], 6);
    cr_assert_eq(sw_trace_values(t, 1)[1], 4);
    sw_trace_destroy(t);
}

Test(trace_layout, lbs_per_mwh_converted)
{
    sw_trace_options opt = {.unit = SW_UNIT_LBS_PER_MWH};
    sw_trace *t =
        parse_ok("time,value\n2020-01-01T00:00Z,1022\n2020-01-01T00:05Z,0\n", "u.csv", &opt);
    cr_assert_float_eq(sw_trace_values(t, 0)[0], 463.571024, 1e-9);
    cr_assert_eq(sw_trace_values(t, 0)[1], 0);
    sw_trace_destroy(t);
}

/* ---------------------------------------------------------------- validation errors */

static const char *HDR2 = "time,A,B\n";

Test(trace_errors, empty_file_and_only_comments)
{
    parse_bad("", NULL, "bad.csv:1:1:", "empty file");
    parse_bad("# nothing\n\n", NULL, "bad.csv:2:1:", "empty file");
}

Test(trace_errors, header_only)
{
    parse_bad("time,A,B\n", NULL, "bad.csv:2:1:", "no data rows");
}

Test(trace_errors, bad_header)
{
    parse_bad("when,A\n2020-01-01T00:00Z,1\n", NULL, "bad.csv:1:1:", "bad header");
    parse_bad("time\n2020-01-01T00:00Z\n", NULL, "bad.csv:1:5:", "only a time column");
    parse_bad("time,A,A\n2020-01-01T00:00Z,1,2\n", NULL, "bad.csv:1:8:", "appears twice");
    parse_bad("time,A,,B\n2020-01-01T00:00Z,1,2,3\n", NULL, "bad.csv:1:8:", "no name");
}

Test(trace_errors, unsorted_and_duplicate_timestamps)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s2020-01-01T00:10Z,1,2\n2020-01-01T00:05Z,1,2\n", HDR2);
    parse_bad(buf, NULL, "bad.csv:3:1:", "is before");
    snprintf(buf, sizeof buf, "%s2020-01-01T00:10Z,1,2\n2020-01-01T00:10Z,1,2\n", HDR2);
    parse_bad(buf, NULL, "bad.csv:3:1:", "duplicate timestamp");
    parse_bad("time,region,value\n2020-01-01T00:10Z,A,1\n2020-01-01T00:00Z,B,1\n"
              "2020-01-01T00:05Z,A,1\n",
              NULL, "bad.csv:4:1:", "region A: timestamp");
}

Test(trace_errors, bad_timestamp)
{
    parse_bad("time,A\n2020-01-01T00:00Z,1\n2020-01-01 25:00,1\n", NULL,
              "bad.csv:3:1:", "bad timestamp");
}

Test(trace_errors, bad_values_name_line_and_column)
{
    /* "2020-01-01T00:00Z" is 17 characters: column 19 is A's cell, column 21 is B's */
    char buf[256];
    snprintf(buf, sizeof buf, "%s2020-01-01T00:00Z,1,abc\n", HDR2);
    parse_bad(buf, NULL, "bad.csv:2:21:", "not a number");
    snprintf(buf, sizeof buf, "%s2020-01-01T00:00Z,nan,1\n", HDR2);
    parse_bad(buf, NULL, "bad.csv:2:19:", "NaN");
    snprintf(buf, sizeof buf, "%s2020-01-01T00:00Z,1,-1\n", HDR2);
    parse_bad(buf, NULL, "bad.csv:2:21:", "negative value");
    snprintf(buf, sizeof buf, "%s2020-01-01T00:00Z,inf,1\n", HDR2);
    parse_bad(buf, NULL, "bad.csv:2:19:", "infinite");
    snprintf(buf, sizeof buf, "%s2020-01-01T00:00Z,1,0x10\n", HDR2);
    parse_bad(buf, NULL, "bad.csv:2:21:", "not a number");
}

Test(trace_errors, wrong_number_of_cells)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s2020-01-01T00:00Z,1\n", HDR2);
    parse_bad(buf, NULL, "bad.csv:2:20:", "2 cells, expected 3");
    snprintf(buf, sizeof buf, "%s2020-01-01T00:00Z,1,2,3\n", HDR2);
    parse_bad(buf, NULL, "bad.csv:2:23:", "4 cells, expected 3");
}

Test(trace_errors, empty_cell_is_an_error_unless_fill_gaps)
{
    const char *csv = "time,A,B\n2020-01-01T00:00Z,1,2\n2020-01-01T00:05Z,,3\n"
                      "2020-01-01T00:10Z,4,5\n";
    parse_bad(csv, NULL, "bad.csv:3:19:", "empty cell");
    sw_trace_options opt = {.fill_gaps = true};
    sw_trace *t = parse_ok(csv, "ok.csv", &opt);
    cr_assert_eq(sw_trace_length(t, 0), 2);
    cr_assert_eq(sw_trace_value(t, 0, T0 + 300), 1); /* carried forward */
    cr_assert_eq(sw_trace_length(t, 1), 3);
    sw_trace_destroy(t);
}

Test(trace_errors, unknown_region)
{
    const char *regions[] = {"A", "C"};
    sw_trace_options opt = {.regions = regions, .n_regions = 2};
    char buf[256];
    snprintf(buf, sizeof buf, "%s2020-01-01T00:00Z,1,2\n2020-01-01T00:05Z,1,2\n", HDR2);
    parse_bad(buf, &opt, "bad.csv:1:1:", "unknown region 'C', expected one of: A, B");
}

Test(trace_errors, gap_longer_than_limit_or_filled)
{
    const char *csv = "time,A\n2020-01-01T00:00Z,1\n2020-01-01T00:05Z,2\n"
                      "2020-01-01T00:20Z,3\n2020-01-01T00:25Z,4\n";
    sw_trace_options opt = {.max_gap_s = 300};
    parse_bad(csv, &opt, "bad.csv:4:1:", "gap of 900 s");
    opt.fill_gaps = true;
    sw_trace *t = parse_ok(csv, "ok.csv", &opt);
    cr_assert_eq(sw_trace_step(t, 0), 300);
    cr_assert_eq(sw_trace_value(t, 0, T0 + 900), 2); /* last value carried across the gap */
    cr_assert_eq(sw_trace_value(t, 0, T0 + 1200), 3);
    sw_trace_destroy(t);
    opt = (sw_trace_options){.max_gap_s = 900};
    t = parse_ok(csv, "ok.csv", &opt); /* exactly the limit is allowed */
    sw_trace_destroy(t);
}

Test(trace_errors, single_row_cannot_infer_step)
{
    parse_bad("time,A\n2020-01-01T00:00Z,1\n", NULL, "bad.csv:2:1:", "region A has 1 data row");
}

/* Regression (issue 13): rows less than a millisecond apart gave step_s = 0, which
 * sw_trace_derive divided by and used, cast from NaN, as an index. */
Test(trace_errors, rows_closer_than_a_millisecond)
{
    parse_bad("time,A\n2020-01-01T00:00Z,1\n2020-01-01T00:00:00.0001Z,2\n", NULL,
              "bad.csv:3:1:", "expected rows at least 1 ms apart");
    parse_bad("time,region,value\n2020-01-01T00:00Z,X,1\n2020-01-01T00:00:00.0004Z,X,2\n", NULL,
              "bad.csv:3:1:", "region X: timestamp 0.000400 s after");
    /* exactly 1 ms apart is a valid grid */
    sw_trace *t = parse_ok("time,A\n2020-01-01T00:00:00.000Z,1\n2020-01-01T00:00:00.001Z,2\n",
                           "ms.csv", NULL);
    cr_assert_float_eq(sw_trace_step(t, 0), 0.001, 1e-12);
    sw_trace_destroy(t);
    double tt[] = {T0, T0 + 0.0001}, v[] = {1, 2};
    sw_error err;
    cr_assert_eq(sw_trace_from_arrays("A", tt, v, 2, 0, &t, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "at least 1 ms after") != NULL, "%s", err.msg);
    double t2[] = {T0, T0 + 1};
    cr_assert_eq(sw_trace_from_arrays("A", t2, v, 2, 1e-4, &t, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "step_s") != NULL, "%s", err.msg);
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Regression (issue 13): every region reserved the file's line count and region lookup was a
 * linear scan, so parsing was quadratic in the number of regions (3 s and 327 MB for a 1 MB
 * file of 40,000 regions). Lookup is now hashed and long-layout regions grow from a small
 * start: 40,000 regions in both layouts parse in well under a second. */
Test(trace_layout, many_regions_parse_in_linear_time, .timeout = 60)
{
    enum { N = 40000 };
    size_t cap = (size_t)N * 100, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv + len, cap - len, "time,region,value\n");
    for (int row = 0; row < 2; row++)
        for (int k = 0; k < N; k++)
            len += (size_t)snprintf(csv + len, cap - len, "2020-01-01T00:%02d:00Z,R%d,%d\n",
                                    5 * row, k, k + row);
    sw_trace *t = NULL;
    sw_error err;
    double t0 = seconds_now();
    cr_assert_eq(sw_trace_parse(csv, len, "many.csv", NULL, &t, &err), SW_OK, "%s", err.msg);
    double long_s = seconds_now() - t0;
    cr_assert_eq(sw_trace_region_count(t), N);
    cr_assert_str_eq(sw_trace_region_name(t, N - 1), "R39999");
    cr_assert_eq(sw_trace_value(t, 12345, T0 + 301), 12346);
    sw_trace_destroy(t);

    /* the same regions as columns of a wide file, and a duplicate column found by the index */
    len = (size_t)snprintf(csv, cap, "time");
    for (int k = 0; k < N; k++)
        len += (size_t)snprintf(csv + len, cap - len, ",R%d", k);
    size_t header_len = len;
    for (int row = 0; row < 2; row++) {
        len += (size_t)snprintf(csv + len, cap - len, "\n2020-01-01T00:%02d:00Z", 5 * row);
        for (int k = 0; k < N; k++)
            len += (size_t)snprintf(csv + len, cap - len, ",%d", row);
    }
    t0 = seconds_now();
    cr_assert_eq(sw_trace_parse(csv, len, "wide.csv", NULL, &t, &err), SW_OK, "%s", err.msg);
    double wide_s = seconds_now() - t0;
    cr_assert_eq(sw_trace_region_count(t), N);
    cr_assert_eq(sw_trace_region_index(t, "R777"), 777);
    sw_trace_destroy(t);
    snprintf(csv + header_len - 7, 8, ",R39998"); /* the last column repeats the one before */
    csv[header_len] = '\n';
    cr_assert_eq(sw_trace_parse(csv, len, "dup.csv", NULL, &t, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "dup.csv:1:") && strstr(err.msg, "appears twice"), "%s", err.msg);
    free(csv);
    /* Quadratic parsing took seconds here; linear takes tens of milliseconds (a generous bound
     * for sanitizer builds on a shared machine). */
    cr_assert_lt(long_s, 2.0, "long layout, %d regions: %.3f s", N, long_s);
    cr_assert_lt(wide_s, 2.0, "wide layout, %d regions: %.3f s", N, wide_s);
}

Test(trace_errors, through_a_temp_file)
{
    char path[] = "/tmp/sw_trace_test_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("point_time,A\n2020-01-01T00:00:00Z,1\n2020-01-01T00:05:00Z,-2\n", f);
    fclose(f);
    sw_trace *t = NULL;
    sw_error err = {0};
    cr_assert_eq(sw_trace_load(path, NULL, &t, &err), SW_EINPUT);
    cr_assert_null(t);
    char where[64];
    snprintf(where, sizeof where, "%s:3:22:", path);
    cr_assert(strncmp(err.msg, where, strlen(where)) == 0, "%s", err.msg);
    cr_assert(strstr(err.msg, "negative value") != NULL, "%s", err.msg);
    unlink(path);

    cr_assert_eq(sw_trace_load(path, NULL, &t, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, "cannot open"), "%s", err.msg);
}

/* ---------------------------------------------------------------- queries */

/* times T0 + {0, 10, 20, 30}, values {1, 3, 3, 2}, inferred step 10: covers [T0, T0 + 40) */
static sw_trace *small_series(void)
{
    const double t[] = {T0, T0 + 10, T0 + 20, T0 + 30};
    const double v[] = {1, 3, 3, 2};
    sw_trace *tr = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_from_arrays("S", t, v, 4, 0, &tr, &err), SW_OK, "%s", err.msg);
    return tr;
}

Test(trace_query, value_at_between_and_outside_points)
{
    sw_trace *t = small_series();
    cr_assert_eq(sw_trace_step(t, 0), 10);
    cr_assert_eq(sw_trace_end(t, 0), T0 + 40);
    cr_assert_eq(sw_trace_value(t, 0, T0), 1);
    cr_assert_eq(sw_trace_value(t, 0, T0 + 9.999), 1);
    cr_assert_eq(sw_trace_value(t, 0, T0 + 10), 3);
    cr_assert_eq(sw_trace_value(t, 0, T0 + 35), 2);
    cr_assert(isnan(sw_trace_value(t, 0, T0 - 0.001)));
    cr_assert(isnan(sw_trace_value(t, 0, T0 + 40)));
    cr_assert(isnan(sw_trace_value(t, 1, T0))); /* no such region */
    sw_trace_destroy(t);
}

Test(trace_query, next_change_skips_equal_values)
{
    sw_trace *t = small_series();
    cr_assert_eq(sw_trace_next_change(t, 0, T0 - 100), T0);
    cr_assert_eq(sw_trace_next_change(t, 0, T0), T0 + 10);
    cr_assert_eq(sw_trace_next_change(t, 0, T0 + 10), T0 + 30); /* 3 then 3 again */
    cr_assert_eq(sw_trace_next_change(t, 0, T0 + 25), T0 + 30);
    cr_assert_eq(sw_trace_next_change(t, 0, T0 + 30), T0 + 40); /* end of the series */
    cr_assert(isinf(sw_trace_next_change(t, 0, T0 + 40)));
    sw_trace_destroy(t);
}

Test(trace_query, integral_hand_checked)
{
    sw_trace *t = small_series();
    double x = -1;
    sw_error err;
    cr_assert_eq(sw_trace_integral(t, 0, T0 + 5, T0 + 35, &x, &err), SW_OK);
    cr_assert_float_eq(x, 1 * 5 + 3 * 20 + 2 * 5, 1e-9);
    cr_assert_eq(sw_trace_integral(t, 0, T0, T0 + 40, &x, &err), SW_OK);
    cr_assert_float_eq(x, 10 + 30 + 30 + 20, 1e-9);
    cr_assert_eq(sw_trace_integral(t, 0, T0 + 12, T0 + 14, &x, &err), SW_OK);
    cr_assert_float_eq(x, 6, 1e-12);
    cr_assert_eq(sw_trace_integral(t, 0, T0 + 7, T0 + 7, &x, &err), SW_OK);
    cr_assert_eq(x, 0);

    cr_assert_eq(sw_trace_integral(t, 0, T0 + 20, T0 + 10, &x, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "region S") && strstr(err.msg, "t0 <= t1"), "%s", err.msg);
    cr_assert_eq(sw_trace_integral(t, 0, T0 - 1, T0 + 10, &x, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "not inside the trace [2020-01-01T00:00:00Z, "
                              "2020-01-01T00:00:40Z]"),
              "%s", err.msg);
    cr_assert_eq(sw_trace_integral(t, 0, T0, T0 + 41, &x, &err), SW_EINPUT);
    cr_assert_eq(sw_trace_integral(t, 3, T0, T0 + 1, &x, &err), SW_EINPUT);
    sw_trace_destroy(t);
}

Test(trace_query, carbon_of_power_steps_hand_checked)
{
    sw_trace *t = small_series();
    sw_error err;
    double g = -1;
    /* 1000 W on [T0, T0+15): 10·1 + 5·3 = 25 (g/kWh)·s; 2000 W on [T0+15, T0+25): 30; 0 W after */
    const double pt[] = {T0 - 100, T0 + 15, T0 + 25};
    const double pw[] = {1000, 2000, 0};
    cr_assert_eq(sw_trace_carbon(t, 0, pt, pw, 3, T0, T0 + 40, &g, &err), SW_OK, "%s", err.msg);
    cr_assert_float_eq(g, (1000 * 25 + 2000 * 30) / 3.6e6, 1e-15);
    /* zero before the first power point: 3600 W from T0+20: 3·10 + 2·10 = 50 */
    const double pt2[] = {T0 + 20};
    const double pw2[] = {3600};
    cr_assert_eq(sw_trace_carbon(t, 0, pt2, pw2, 1, T0, T0 + 40, &g, &err), SW_OK);
    cr_assert_float_eq(g, 0.05, 1e-15);
    cr_assert_eq(sw_trace_carbon(t, 0, pt2, pw2, 0, T0, T0 + 40, &g, &err), SW_OK);
    cr_assert_eq(g, 0);

    const double bad_w[] = {1000, -5, 0};
    cr_assert_eq(sw_trace_carbon(t, 0, pt, bad_w, 3, T0, T0 + 40, &g, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "power[1]"), "%s", err.msg);
    const double bad_t[] = {T0, T0 + 20, T0 + 10};
    cr_assert_eq(sw_trace_carbon(t, 0, bad_t, pw, 3, T0, T0 + 40, &g, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "power time[2]"), "%s", err.msg);
    cr_assert_eq(sw_trace_carbon(t, 0, pt, pw, 3, T0, T0 + 50, &g, &err), SW_EINPUT);
    sw_trace_destroy(t);
}

Test(trace_query, from_arrays_validates)
{
    sw_trace *t = NULL;
    sw_error err;
    const double tt[] = {T0, T0 + 10, T0 + 10};
    const double vv[] = {1, 2, 3};
    cr_assert_eq(sw_trace_from_arrays("R", tt, vv, 3, 0, &t, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "time[2]"), "%s", err.msg);
    const double vn[] = {1, NAN, 3};
    cr_assert_eq(sw_trace_from_arrays("R", tt, vn, 2, 0, &t, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "value[1]"), "%s", err.msg);
    cr_assert_eq(sw_trace_from_arrays("R", tt, vv, 1, 0, &t, &err), SW_EINPUT);
    cr_assert_eq(sw_trace_from_arrays("R", tt, vv, 1, 60, &t, &err), SW_OK);
    cr_assert_eq(sw_trace_end(t, 0), T0 + 60);
    sw_trace_destroy(t);
}

/* Seeded random step series with irregular spacing: additivity of the integral and carbon of a
 * constant power equal to power · integral / 3.6e6. */
Test(trace_query, property_integral_additive_and_constant_power)
{
    srand(12345);
    for (int trial = 0; trial < 50; trial++) {
        size_t n = 2 + (size_t)(rand() % 300);
        double *t = malloc(n * sizeof *t), *v = malloc(n * sizeof *v);
        double now = T0 + rand() % 100000;
        for (size_t i = 0; i < n; i++) {
            t[i] = now;
            now += 1 + rand() % 900 + (rand() % 4 == 0 ? 0.5 : 0);
            v[i] = rand() % 5 == 0 ? v[i > 0 ? i - 1 : 0] : (double)rand() / RAND_MAX * 800;
        }
        v[0] = 123;
        sw_trace *tr = NULL;
        sw_error err;
        cr_assert_eq(sw_trace_from_arrays("P", t, v, n, 0, &tr, &err), SW_OK, "%s", err.msg);
        double s = sw_trace_start(tr, 0), e = sw_trace_end(tr, 0);
        for (int k = 0; k < 20; k++) {
            double x[3];
            for (int j = 0; j < 3; j++)
                x[j] = s + (e - s) * rand() / RAND_MAX;
            if (x[0] > x[1]) {
                double tmp = x[0];
                x[0] = x[1];
                x[1] = tmp;
            }
            if (x[1] > x[2]) {
                double tmp = x[1];
                x[1] = x[2];
                x[2] = tmp;
            }
            if (x[0] > x[1]) {
                double tmp = x[0];
                x[0] = x[1];
                x[1] = tmp;
            }
            double ac, ab, bc, g;
            cr_assert_eq(sw_trace_integral(tr, 0, x[0], x[2], &ac, &err), SW_OK, "%s", err.msg);
            cr_assert_eq(sw_trace_integral(tr, 0, x[0], x[1], &ab, &err), SW_OK);
            cr_assert_eq(sw_trace_integral(tr, 0, x[1], x[2], &bc, &err), SW_OK);
            cr_assert(fabs(ac - (ab + bc)) <= 1e-9 * (1 + fabs(ac)), "%g vs %g + %g", ac, ab, bc);
            const double p_w = 1500;
            cr_assert_eq(sw_trace_carbon(tr, 0, &s, &p_w, 1, x[0], x[2], &g, &err), SW_OK);
            cr_assert(fabs(g - p_w * ac / 3.6e6) <= 1e-12 * (1 + g), "%g vs %g", g,
                      p_w * ac / 3.6e6);
            /* the value at x is the derivative of the integral: next_change bounds a constant run
             */
            double nc = sw_trace_next_change(tr, 0, x[0]);
            cr_assert(nc > x[0] && nc <= e);
            if (nc < e)
                cr_assert_neq(sw_trace_value(tr, 0, nc), sw_trace_value(tr, 0, x[0]));
            cr_assert_eq(sw_trace_value(tr, 0, (x[0] + nc) / 2), sw_trace_value(tr, 0, x[0]));
        }
        sw_trace_destroy(tr);
        free(t);
        free(v);
    }
}

/* ---------------------------------------------------------------- the shipped traces */

Test(trace_files, reference_study_mci)
{
    sw_trace *t = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_load("traces/mci_2026-01-11.csv", NULL, &t, &err), SW_OK, "%s", err.msg);
    static const char *names[] = {"CAISO_NORTH", "SPP_TX", "NEM_SA", "DE"};
    cr_assert_eq(sw_trace_region_count(t), 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_str_eq(sw_trace_region_name(t, i), names[i]);
        cr_assert_eq(sw_trace_length(t, i), 217);
        cr_assert_eq(sw_trace_step(t, i), 300);
        cr_assert_eq(sw_trace_start(t, i), 1768150800.0); /* 2026-01-11T17:00Z */
        cr_assert_eq(sw_trace_end(t, i), 1768150800.0 + 217 * 300);
    }
    cr_assert_float_eq(sw_trace_value(t, 0, 1768150800.0), 463.571024, 1e-9);
    cr_assert_float_eq(sw_trace_value(t, 0, 1768150800.0 + 301), 68.945984, 1e-9);
    cr_assert_float_eq(sw_trace_values(t, 3)[0], 721.1659208, 1e-9);
    /* last row 2026-01-12 11:00:00+00:00 */
    cr_assert_eq(sw_trace_times(t, 1)[216], 1768150800.0 + 18 * 3600);
    cr_assert_float_eq(sw_trace_values(t, 0)[216], 432.726768, 1e-9);
    cr_assert_float_eq(sw_trace_values(t, 2)[216], 814.878028, 1e-9);
    sw_trace_destroy(t);
}

Test(trace_files, sgip_caiso_2020_full_year)
{
    sw_trace *t = NULL;
    sw_error err;
    cr_assert_eq(sw_trace_load("traces/sgip_caiso_moer_2020_5min.csv", NULL, &t, &err), SW_OK, "%s",
                 err.msg);
    cr_assert_eq(sw_trace_region_count(t), 2);
    cr_assert_str_eq(sw_trace_region_name(t, 0), "SGIP_CAISO_PGE");
    cr_assert_str_eq(sw_trace_region_name(t, 1), "SGIP_CAISO_SCE");
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(sw_trace_length(t, i), 105408);
        cr_assert_eq(sw_trace_start(t, i), T0);
        cr_assert_eq(sw_trace_end(t, i), T0 + 366 * 86400.0); /* 2020 is a leap year */
    }
    cr_assert_float_eq(sw_trace_values(t, 0)[0], 220.926, 1e-9);
    cr_assert_float_eq(sw_trace_values(t, 1)[0], 149.133, 1e-9);
    cr_assert_float_eq(sw_trace_values(t, 0)[105407], 663.75, 1e-9);
    cr_assert_eq(sw_trace_times(t, 1)[105407], T0 + 366 * 86400.0 - 300);
    cr_assert_float_eq(sw_trace_value(t, 1, T0 + 301), 133.492, 1e-9);
    sw_trace_destroy(t);
}
