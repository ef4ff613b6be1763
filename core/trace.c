/* trace.c - MCI trace loading (CSV, wide or long layout), validation and exact step-function
 * queries (see trace.h for the contract).
 *
 * Each region keeps its points (t_i, v_i) plus two precomputed arrays so that every query is a
 * binary search and O(1) arithmetic:
 *   cum[i]       = ∫ from t_0 to t_i of the intensity ((gCO2/kWh)·s), i = 0..n (cum[n] at end)
 *   next_diff[i] = smallest j > i with v_j != v_i, or n if the value never changes again.
 */
#include "core/trace.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LBS_PER_MWH_TO_G_PER_KWH 0.453592

typedef struct region {
    char *name;
    size_t n, cap;
    double *t;         /* Unix s, strictly increasing */
    double *v;         /* gCO2/kWh */
    double *cum;       /* n + 1 prefix integrals */
    size_t *next_diff; /* n entries, minus nd_base, at most n */
    size_t nd_base;    /* 0, or the offset of a shifted view into its base (see shifted views) */
    bool view;         /* v, cum, next_diff point into a base of sw_trace (not owned) */
    double step_s;     /* nominal step: the most common spacing */
    size_t last_line;  /* CSV line of the last point (parsing only) */
    size_t name_len;   /* strlen(name) (parsing only) */
} region;

struct sw_trace {
    size_t n_regions;
    region *r;
    double *shared_t; /* one time array for all regions (from_columns), or NULL */
    region *bases;    /* doubled source regions that shifted views point into, or NULL */
    size_t n_bases;
};

/* ---------------------------------------------------------------- time stamps */

static bool is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Leap years in [1, y). */
static long leaps_before(long y)
{
    long p = y - 1;
    return p / 4 - p / 100 + p / 400;
}

/* Days from 1970-01-01 to the first of January of year y (1 <= y <= 9999). */
static long days_before_year(long y)
{
    return 365 * (y - 1970) + leaps_before(y) - leaps_before(1970);
}

static long days_from_civil(long y, int m, int d)
{
    long days = days_before_year(y);
    for (int k = 1; k < m; k++)
        days += days_in_month(y, k);
    return days + d - 1;
}

/* Reads exactly n digits at *p (advancing it); -1 if they are not all digits. */
static long digits(const char **p, const char *end, int n)
{
    long v = 0;
    for (int k = 0; k < n; k++) {
        if (*p >= end || !isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    return v;
}

static int parse_iso(const char *s, size_t len, double *out)
{
    const char *p = s, *end = s + len;
    long y = digits(&p, end, 4);
    if (y < 1 || p >= end || *p++ != '-')
        return SW_EINPUT;
    long mo = digits(&p, end, 2);
    if (mo < 1 || mo > 12 || p >= end || *p++ != '-')
        return SW_EINPUT;
    long d = digits(&p, end, 2);
    if (d < 1 || d > days_in_month(y, (int)mo))
        return SW_EINPUT;
    long h = 0, mi = 0, sec = 0;
    double frac = 0;
    if (p < end) { /* a date alone means midnight UTC */
        if (*p != 'T' && *p != 't' && *p != ' ')
            return SW_EINPUT;
        p++;
        h = digits(&p, end, 2);
        if (h < 0 || h > 23 || p >= end || *p++ != ':')
            return SW_EINPUT;
        mi = digits(&p, end, 2);
        if (mi < 0 || mi > 59)
            return SW_EINPUT;
        if (p < end && *p == ':') {
            p++;
            sec = digits(&p, end, 2);
            if (sec < 0 || sec > 59)
                return SW_EINPUT;
            if (p < end && *p == '.') {
                p++;
                double scale = 0.1;
                if (p >= end || !isdigit((unsigned char)*p))
                    return SW_EINPUT;
                while (p < end && isdigit((unsigned char)*p)) {
                    frac += (*p++ - '0') * scale;
                    scale *= 0.1;
                }
            }
        }
    }
    long offset_s = 0;
    if (p < end) {
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1;
            long oh = digits(&p, end, 2), om = 0;
            if (oh < 0 || oh > 23)
                return SW_EINPUT;
            if (p < end && *p == ':')
                p++;
            if (p < end) {
                om = digits(&p, end, 2);
                if (om < 0 || om > 59)
                    return SW_EINPUT;
            }
            offset_s = sign * (oh * 3600 + om * 60);
        } else {
            return SW_EINPUT;
        }
    }
    if (p != end)
        return SW_EINPUT;
    long days = days_from_civil(y, (int)mo, (int)d);
    *out = (double)days * 86400.0 + (double)(h * 3600 + mi * 60 + sec - offset_s) + frac;
    return SW_OK;
}

int sw_parse_iso8601(const char *s, double *out_unix_s)
{
    if (!s || !out_unix_s)
        return SW_EINPUT;
    return parse_iso(s, strlen(s), out_unix_s);
}

void sw_format_iso8601(double t_unix_s, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    if (!isfinite(t_unix_s)) {
        snprintf(buf, size, "%s", isnan(t_unix_s) ? "nan" : t_unix_s > 0 ? "inf" : "-inf");
        return;
    }
    double whole = floor(t_unix_s);
    long days = (long)floor(whole / 86400.0);
    long sod = (long)(whole - (double)days * 86400.0);
    long y = 1970 + (long)floor((double)days / 365.2425);
    while (y > 1 && days_before_year(y) > days)
        y--;
    while (days_before_year(y + 1) <= days)
        y++;
    long doy = days - days_before_year(y);
    int m = 1;
    while (m < 12 && doy >= days_in_month(y, m))
        doy -= days_in_month(y, m++);
    snprintf(buf, size, "%04ld-%02d-%02ldT%02ld:%02ld:%02ldZ", y, m, doy + 1, sod / 3600,
             sod / 60 % 60, sod % 60);
}

/* ---------------------------------------------------------------- regions */

static void region_free(region *r)
{
    free(r->name);
    free(r->t);
    free(r->v);
    free(r->cum);
    free(r->next_diff);
}

void sw_trace_destroy(sw_trace *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->r && i < t->n_regions; i++) {
        if (t->r[i].t == t->shared_t)
            t->r[i].t = NULL; /* borrowed from shared_t, freed below */
        if (t->r[i].view)
            t->r[i].v = t->r[i].cum = NULL, t->r[i].next_diff = NULL; /* in bases */
        region_free(&t->r[i]);
    }
    for (size_t i = 0; t->bases && i < t->n_bases; i++) {
        t->bases[i].t = NULL; /* shared_t */
        region_free(&t->bases[i]);
    }
    free(t->bases);
    free(t->r);
    free(t->shared_t);
    free(t);
}

static int region_reserve(region *r, size_t cap)
{
    if (cap <= r->cap)
        return SW_OK;
    double *nt = realloc(r->t, cap * sizeof *nt);
    if (!nt)
        return SW_ERUNTIME;
    r->t = nt;
    double *nv = realloc(r->v, cap * sizeof *nv);
    if (!nv)
        return SW_ERUNTIME;
    r->v = nv;
    r->cap = cap;
    return SW_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The most common spacing, compared at millisecond resolution (ties: the smaller one). */
static int infer_step(const region *r, double *step_s)
{
    if (r->n < 2)
        return SW_EINPUT;
    size_t m = r->n - 1;
    int64_t *d = malloc(m * sizeof *d);
    if (!d)
        return SW_ERUNTIME;
    for (size_t i = 0; i < m; i++)
        d[i] = llround((r->t[i + 1] - r->t[i]) * 1000.0);
    qsort(d, m, sizeof *d, cmp_i64);
    int64_t best = d[0];
    size_t best_run = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && d[j] == d[i])
            j++;
        if (j - i > best_run) {
            best_run = j - i;
            best = d[i];
        }
        i = j;
    }
    free(d);
    *step_s = (double)best / 1000.0;
    return SW_OK;
}

/* Builds cum[] and next_diff[] (the step must already be set). */
static int region_finish(region *r)
{
    size_t n = r->n;
    r->cum = malloc((n + 1) * sizeof *r->cum);
    r->next_diff = malloc(n * sizeof *r->next_diff);
    if (!r->cum || !r->next_diff)
        return SW_ERUNTIME;
    r->cum[0] = 0;
    for (size_t i = 0; i < n; i++) {
        double next_t = i + 1 < n ? r->t[i + 1] : r->t[i] + r->step_s;
        r->cum[i + 1] = r->cum[i] + r->v[i] * (next_t - r->t[i]);
    }
    r->next_diff[n - 1] = n;
    for (size_t i = n - 1; i-- > 0;)
        r->next_diff[i] = r->v[i + 1] != r->v[i] ? i + 1 : r->next_diff[i + 1];
    return SW_OK;
}

static int oom(sw_error *err)
{
    return sw_errorf(err, SW_ERUNTIME, "out of memory while loading a trace");
}

/* ---------------------------------------------------------------- CSV parsing */

typedef struct cell {
    const char *s; /* trimmed, without surrounding quotes */
    size_t len;
    size_t col; /* 1-based byte column of the cell's first character */
} cell;

typedef enum layout { WIDE, LONG_ONE, LONG_MANY } layout;

typedef struct parser {
    const char *name;
    const sw_trace_options *opt;
    sw_error *err;
    region *r; /* regions in file order */
    size_t n_regions, cap_regions;
    cell *cells;
    size_t cap_cells;
    size_t expect_rows; /* capacity hint for regions that get a point on most lines */
    int *index;         /* open-addressing hash of region names -> region, -1 = empty */
    size_t cap_index;   /* a power of two, at least twice n_regions */
} parser;

static int perr(parser *ps, size_t line, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int perr(parser *ps, size_t line, size_t col, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sw_errorf(ps->err, SW_EINPUT, "%s:%zu:%zu: %s", ps->name, line, col, msg);
}

/* Splits one line (without its newline) into cells. Returns the count, or (size_t)-1 when out
 * of memory. Double quotes around a cell are removed and protect commas inside it. */
static size_t split_cells(parser *ps, const char *line, size_t len)
{
    size_t n = 0, i = 0;
    for (;;) {
        if (n == ps->cap_cells) {
            size_t cap = ps->cap_cells ? 2 * ps->cap_cells : 16;
            cell *c = realloc(ps->cells, cap * sizeof *c);
            if (!c)
                return (size_t)-1;
            ps->cells = c;
            ps->cap_cells = cap;
        }
        size_t start = i;
        bool quoted = false;
        while (i < len && (line[i] != ',' || quoted)) {
            if (line[i] == '"')
                quoted = !quoted;
            i++;
        }
        size_t a = start, b = i;
        while (a < b && isspace((unsigned char)line[a]))
            a++;
        while (b > a && isspace((unsigned char)line[b - 1]))
            b--;
        if (b - a >= 2 && line[a] == '"' && line[b - 1] == '"') {
            a++;
            b--;
        }
        ps->cells[n++] = (cell){line + a, b - a, a + 1};
        if (i >= len)
            return n;
        i++; /* the comma */
    }
}

static bool cell_is(const cell *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)c->s[i]) != word[i])
            return false;
    return true;
}

static bool is_time_header(const cell *c)
{
    static const char *const names[] = {"point_time", "time", "time_utc", "timestamp", "datetime"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (cell_is(c, names[i]))
            return true;
    return false;
}

/* Quoted copy of a cell for messages, shortened if long. */
static const char *show(const cell *c, char *buf, size_t size)
{
    int n = c->len > 40 ? 40 : (int)c->len;
    snprintf(buf, size, "\"%.*s%s\"", n, c->s, c->len > 40 ? "..." : "");
    return buf;
}

/* FNV-1a over the name's bytes. */
static uint64_t name_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

/* Slot of the region named s in the open-addressing index, or of the empty slot where it
 * would go (the index is never more than half full). */
static size_t index_slot(const parser *ps, const char *s, size_t len)
{
    size_t mask = ps->cap_index - 1;
    for (size_t k = name_hash(s, len) & mask;; k = (k + 1) & mask) {
        int ri = ps->index[k];
        if (ri < 0)
            return k;
        const char *name = ps->r[ri].name;
        if (ps->r[ri].name_len == len && memcmp(name, s, len) == 0)
            return k;
    }
}

/* Index of the region named s[0..len), or -1: one hash probe, so that a file of many regions
 * parses in time linear in its size. */
static int find_region(const parser *ps, const char *s, size_t len)
{
    return ps->cap_index ? ps->index[index_slot(ps, s, len)] : -1;
}

/* Puts region ri in the index, doubling it when half full. */
static int index_add(parser *ps, int ri)
{
    if (2 * ((size_t)ri + 1) > ps->cap_index) {
        size_t cap = ps->cap_index ? 2 * ps->cap_index : 64;
        int *idx = malloc(cap * sizeof *idx);
        if (!idx)
            return -1;
        for (size_t k = 0; k < cap; k++)
            idx[k] = -1;
        free(ps->index);
        ps->index = idx;
        ps->cap_index = cap;
        for (int j = 0; j < ri; j++)
            ps->index[index_slot(ps, ps->r[j].name, ps->r[j].name_len)] = j;
    }
    ps->index[index_slot(ps, ps->r[ri].name, ps->r[ri].name_len)] = ri;
    return 0;
}

static int add_region(parser *ps, const char *s, size_t len)
{
    if (ps->n_regions == ps->cap_regions) {
        size_t cap = ps->cap_regions ? 2 * ps->cap_regions : 8;
        region *r = realloc(ps->r, cap * sizeof *r);
        if (!r)
            return -1;
        ps->r = r;
        ps->cap_regions = cap;
    }
    region *r = &ps->r[ps->n_regions];
    memset(r, 0, sizeof *r);
    r->name = malloc(len + 1);
    if (!r->name)
        return -1;
    memcpy(r->name, s, len);
    r->name[len] = '\0';
    r->name_len = len;
    if (region_reserve(r, ps->expect_rows ? ps->expect_rows : 16) != SW_OK ||
        index_add(ps, (int)ps->n_regions) != 0) {
        region_free(r);
        return -1;
    }
    return (int)ps->n_regions++;
}

static int parse_value(parser *ps, size_t line, const cell *c, const char *region_name, double *out)
{
    char buf[64], shown[64];
    if (c->len == 0 || c->len >= sizeof buf)
        return perr(ps, line, c->col, "region %s: %s is not a number, expected a value in %s",
                    region_name, show(c, shown, sizeof shown),
                    ps->opt->unit == SW_UNIT_LBS_PER_MWH ? "lbs/MWh" : "gCO2/kWh");
    memcpy(buf, c->s, c->len);
    buf[c->len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end != '\0' || strpbrk(buf, "xX"))
        return perr(ps, line, c->col, "region %s: %s is not a number, expected a value in %s",
                    region_name, show(c, shown, sizeof shown),
                    ps->opt->unit == SW_UNIT_LBS_PER_MWH ? "lbs/MWh" : "gCO2/kWh");
    if (isnan(v))
        return perr(ps, line, c->col, "region %s: NaN value, expected a finite number >= 0",
                    region_name);
    if (isinf(v))
        return perr(ps, line, c->col, "region %s: %s is infinite, expected a finite number >= 0",
                    region_name, show(c, shown, sizeof shown));
    if (v < 0)
        return perr(ps, line, c->col, "region %s: negative value %s, expected a number >= 0",
                    region_name, show(c, shown, sizeof shown));
    *out = ps->opt->unit == SW_UNIT_LBS_PER_MWH ? v * LBS_PER_MWH_TO_G_PER_KWH : v;
    return SW_OK;
}

/* Appends (t, v) to region ri after the ordering and gap checks. */
static int append_point(parser *ps, int ri, size_t line, size_t col, double t, double v)
{
    region *r = &ps->r[ri];
    if (r->n > 0) {
        double prev = r->t[r->n - 1];
        char a[32], b[32];
        if (t <= prev) {
            sw_format_iso8601(t, a, sizeof a);
            sw_format_iso8601(prev, b, sizeof b);
            if (t == prev)
                return perr(ps, line, col,
                            "region %s: duplicate timestamp %s (also on line %zu), expected "
                            "strictly increasing timestamps",
                            r->name, a, r->last_line);
            return perr(ps, line, col,
                        "region %s: timestamp %s is before %s (line %zu), expected strictly "
                        "increasing timestamps",
                        r->name, a, b, r->last_line);
        }
        if (llround((t - prev) * 1000.0) < 1) {
            sw_format_iso8601(prev, b, sizeof b);
            return perr(ps, line, col,
                        "region %s: timestamp %.6f s after %s (line %zu), expected rows at "
                        "least 1 ms apart (times are compared in whole milliseconds)",
                        r->name, t - prev, b, r->last_line);
        }
        double max_gap = ps->opt->max_gap_s;
        if (max_gap > 0 && t - prev > max_gap && !ps->opt->fill_gaps) {
            sw_format_iso8601(prev, b, sizeof b);
            return perr(ps, line, col,
                        "region %s: gap of %g s after %s (line %zu), expected at most "
                        "max_gap_s = %g s (or set fill_gaps to carry the last value forward)",
                        r->name, t - prev, b, r->last_line, max_gap);
        }
    }
    if (r->n == r->cap && region_reserve(r, 2 * r->cap) != SW_OK)
        return oom(ps->err);
    r->t[r->n] = t;
    r->v[r->n] = v;
    r->n++;
    r->last_line = line;
    return SW_OK;
}

static const char *file_stem(const char *name, size_t *len)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    *len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return base;
}

static int parse_csv(parser *ps, const char *text, size_t len, sw_trace **out)
{
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* UTF-8 byte-order mark */
    size_t lines = 1;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))); q++)
        lines++;
    ps->expect_rows = lines;

    layout lay = WIDE;
    size_t n_cols = 0, header_line = 0, line_no = 0, data_rows = 0;
    int *col_region = NULL; /* wide: region index of each column, -1 = skipped */
    double prev_row_t = -INFINITY;
    size_t prev_row_line = 0;
    int rc = SW_OK;
    int one_region = -1; /* LONG_ONE: the region, or -1 when filtered out */

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line = p;
        size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);
        p = eol ? eol + 1 : end;
        line_no++;
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        size_t k = 0;
        while (k < ll && isspace((unsigned char)line[k]))
            k++;
        if (k == ll || line[k] == '#')
            continue;
        size_t nc = split_cells(ps, line, ll);
        if (nc == (size_t)-1) {
            rc = oom(ps->err);
            goto done;
        }
        cell *c = ps->cells;
        char shown[64];

        if (header_line == 0) { /* the header row decides the layout */
            header_line = line_no;
            n_cols = nc;
            if (!is_time_header(&c[0])) {
                rc = perr(ps, line_no, c[0].col,
                          "bad header: first column %s, expected one of point_time, time, "
                          "time_utc, timestamp, datetime",
                          show(&c[0], shown, sizeof shown));
                goto done;
            }
            if (nc < 2) {
                rc = perr(ps, line_no, c[0].col + c[0].len,
                          "bad header: only a time column, expected region columns or "
                          "'value'");
                goto done;
            }
            if (nc == 2 && cell_is(&c[1], "value")) {
                lay = LONG_ONE;
                size_t sl;
                const char *stem = ps->opt->region ? ps->opt->region : file_stem(ps->name, &sl);
                if (ps->opt->region)
                    sl = strlen(stem);
                if ((one_region = add_region(ps, stem, sl)) < 0) {
                    rc = oom(ps->err);
                    goto done;
                }
            } else if (nc == 3 && cell_is(&c[1], "region") && cell_is(&c[2], "value")) {
                lay = LONG_MANY;
                /* regions share the rows: each grows by doubling from a small start, so
                 * that many regions do not each reserve the whole file */
                ps->expect_rows = 0;
            } else {
                lay = WIDE;
                col_region = malloc(nc * sizeof *col_region);
                if (!col_region) {
                    rc = oom(ps->err);
                    goto done;
                }
                for (size_t j = 1; j < nc; j++) {
                    col_region[j] = -1;
                    if (c[j].len == 0) {
                        rc = perr(ps, line_no, c[j].col,
                                  "bad header: column %zu has no name, expected a region name",
                                  j + 1);
                        goto done;
                    }
                    if (find_region(ps, c[j].s, c[j].len) >= 0) {
                        rc = perr(ps, line_no, c[j].col,
                                  "bad header: region %s appears twice, expected unique names",
                                  show(&c[j], shown, sizeof shown));
                        goto done;
                    }
                    if ((col_region[j] = add_region(ps, c[j].s, c[j].len)) < 0) {
                        rc = oom(ps->err);
                        goto done;
                    }
                }
            }
            continue;
        }

        /* a data row */
        data_rows++;
        if (nc != n_cols) {
            size_t col = nc > n_cols ? c[n_cols].col : ll + 1;
            rc = perr(ps, line_no, col, "%zu cells, expected %zu as in the header (line %zu)", nc,
                      n_cols, header_line);
            goto done;
        }
        double t;
        if (parse_iso(c[0].s, c[0].len, &t) != SW_OK) {
            rc = perr(ps, line_no, c[0].col,
                      "bad timestamp %s, expected ISO-8601 like 2026-01-11T17:00:00Z or "
                      "2026-01-11 17:00:00+00:00",
                      show(&c[0], shown, sizeof shown));
            goto done;
        }
        if (lay == WIDE) {
            /* the row's time is shared by every column: check its order once, for all */
            if (t <= prev_row_t) {
                char a[32], b[32];
                sw_format_iso8601(t, a, sizeof a);
                sw_format_iso8601(prev_row_t, b, sizeof b);
                if (t == prev_row_t)
                    rc = perr(ps, line_no, c[0].col,
                              "duplicate timestamp %s (also on line %zu), expected strictly "
                              "increasing timestamps",
                              a, prev_row_line);
                else
                    rc = perr(ps, line_no, c[0].col,
                              "timestamp %s is before %s (line %zu), expected strictly "
                              "increasing timestamps",
                              a, b, prev_row_line);
                goto done;
            }
            prev_row_t = t;
            prev_row_line = line_no;
            for (size_t j = 1; j < nc; j++) {
                int ri = col_region[j];
                if (ri < 0)
                    continue;
                if (c[j].len == 0 && ps->opt->fill_gaps)
                    continue; /* missing cell: the previous value carries forward */
                double v;
                if (c[j].len == 0) {
                    rc = perr(ps, line_no, c[j].col,
                              "region %s: empty cell, expected a number (or set fill_gaps to "
                              "carry the last value forward)",
                              ps->r[ri].name);
                    goto done;
                }
                if ((rc = parse_value(ps, line_no, &c[j], ps->r[ri].name, &v)) != SW_OK ||
                    (rc = append_point(ps, ri, line_no, c[0].col, t, v)) != SW_OK)
                    goto done;
            }
        } else {
            int ri = one_region;
            size_t vc = 1;
            if (lay == LONG_MANY) {
                vc = 2;
                if (c[1].len == 0) {
                    rc = perr(ps, line_no, c[1].col, "empty region name, expected a region");
                    goto done;
                }
                ri = find_region(ps, c[1].s, c[1].len);
                if (ri < 0 && (ri = add_region(ps, c[1].s, c[1].len)) < 0) {
                    rc = oom(ps->err);
                    goto done;
                }
            }
            if (ri < 0)
                continue;
            double v;
            if ((rc = parse_value(ps, line_no, &c[vc], ps->r[ri].name, &v)) != SW_OK ||
                (rc = append_point(ps, ri, line_no, c[0].col, t, v)) != SW_OK)
                goto done;
        }
    }

    if (header_line == 0) {
        rc = perr(ps, line_no ? line_no : 1, 1,
                  "empty file, expected a header row such as 'point_time,REGION' and data rows");
        goto done;
    }
    if (data_rows == 0) {
        rc = perr(ps, header_line + 1, 1,
                  "header but no data rows, expected at least 2 rows of data");
        goto done;
    }

    /* the trace, in the requested region order */
    const sw_trace_options *opt = ps->opt;
    bool filter = opt->regions && opt->n_regions;
    size_t n_out = filter ? opt->n_regions : ps->n_regions;
    /* src[i]: the parsed region that becomes region i; picked[r]: region r is kept */
    int *src = malloc((n_out ? n_out : 1) * sizeof *src);
    bool *picked = calloc(ps->n_regions ? ps->n_regions : 1, sizeof *picked);
    if (!src || !picked) {
        free(src);
        free(picked);
        rc = oom(ps->err);
        goto done;
    }
    for (size_t i = 0; i < n_out; i++) {
        if (!filter) {
            src[i] = (int)i;
            picked[i] = true;
            continue;
        }
        const char *want = opt->regions[i] ? opt->regions[i] : "";
        src[i] = find_region(ps, want, strlen(want));
        if (src[i] >= 0 && picked[src[i]]) {
            rc = perr(ps, header_line, 1, "region '%s' requested twice, expected unique names",
                      want);
            break;
        }
        if (src[i] < 0) {
            char list[512] = "";
            size_t used = 0;
            for (size_t j = 0; j < ps->n_regions && used < sizeof list; j++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "",
                                         ps->r[j].name);
            rc = perr(ps, header_line, 1, "unknown region '%s', expected one of: %s", want, list);
            break;
        }
        picked[src[i]] = true;
    }
    for (size_t i = 0; rc == SW_OK && i < ps->n_regions; i++)
        if (ps->r[i].n < 2 && picked[i]) {
            region *r = &ps->r[i];
            rc = perr(ps, r->n ? r->last_line : header_line + 1, 1,
                      "region %s has %zu data row%s, expected at least 2 (the step is inferred "
                      "from the spacing)",
                      r->name, r->n, r->n == 1 ? "" : "s");
        }
    free(picked);
    sw_trace *tr = NULL;
    if (rc == SW_OK && (!(tr = calloc(1, sizeof *tr)) || !(tr->r = calloc(n_out, sizeof *tr->r)))) {
        free(tr);
        tr = NULL;
        rc = oom(ps->err);
    }
    for (size_t i = 0; rc == SW_OK && i < n_out; i++) {
        tr->r[i] = ps->r[src[i]];
        memset(&ps->r[src[i]], 0, sizeof ps->r[src[i]]); /* moved into the trace */
        tr->n_regions++;
        if (infer_step(&tr->r[i], &tr->r[i].step_s) != SW_OK || region_finish(&tr->r[i]) != SW_OK) {
            sw_trace_destroy(tr);
            rc = oom(ps->err);
        }
    }
    free(src);
    if (rc != SW_OK)
        goto done;
    *out = tr;

done:
    free(col_region);
    return rc;
}

static const sw_trace_options default_options = {SW_UNIT_G_PER_KWH, 0, false, NULL, NULL, 0};

int sw_trace_parse(const char *text, size_t len, const char *name, const sw_trace_options *opt,
                   sw_trace **out, sw_error *err)
{
    if (!out)
        return sw_errorf(err, SW_EINPUT, "sw_trace_parse: out is NULL");
    *out = NULL;
    if (!text && len)
        return sw_errorf(err, SW_EINPUT, "sw_trace_parse: text is NULL");
    if (!name)
        name = "<trace>";
    if (!opt)
        opt = &default_options;
    if (!(opt->max_gap_s >= 0))
        return sw_errorf(err, SW_EINPUT, "%s: max_gap_s = %g, expected a number >= 0", name,
                         opt->max_gap_s);
    if (opt->unit != SW_UNIT_G_PER_KWH && opt->unit != SW_UNIT_LBS_PER_MWH)
        return sw_errorf(err, SW_EINPUT, "%s: unknown unit %d, expected g_per_kwh or lbs_per_mwh",
                         name, (int)opt->unit);
    parser ps = {.name = name, .opt = opt, .err = err};
    static const char no_text[4] = "";
    int rc = parse_csv(&ps, text ? text : no_text, text ? len : 0, out);
    for (size_t i = 0; i < ps.n_regions; i++)
        region_free(&ps.r[i]);
    free(ps.r);
    free(ps.cells);
    free(ps.index);
    if (rc == SW_OK)
        sw_error_clear(err);
    return rc;
}

int sw_trace_load(const char *path, const sw_trace_options *opt, sw_trace **out, sw_error *err)
{
    if (!out)
        return sw_errorf(err, SW_EINPUT, "sw_trace_load: out is NULL");
    *out = NULL;
    if (!path)
        return sw_errorf(err, SW_EINPUT, "sw_trace_load: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f)
        return sw_errorf(err, SW_EINPUT, "%s: cannot open trace: %s", path, strerror(errno));
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!buf) {
        fclose(f);
        return oom(err);
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(buf);
        return sw_errorf(err, SW_EINPUT, "%s: cannot read trace: %s", path, strerror(e));
    }
    fclose(f);
    int rc = sw_trace_parse(buf, len, path, opt, out, err);
    free(buf);
    return rc;
}

/* Validates and copies n_regions columns over one shared time array (see sw_trace_from_columns);
 * `who` prefixes the messages. */
static int from_columns(const char *who, const char *const *names, const double *t_unix_s,
                        const double *const *values, size_t n_regions, size_t n, double step_s,
                        sw_trace **out, sw_error *err)
{
    if (!out)
        return sw_errorf(err, SW_EINPUT, "%s: out is NULL", who);
    *out = NULL;
    if (n_regions == 0 || !names || !values)
        return sw_errorf(err, SW_EINPUT, "%s: no regions, expected at least 1", who);
    for (size_t k = 0; k < n_regions; k++) {
        if (!names[k] || !names[k][0])
            return sw_errorf(err, SW_EINPUT, "%s: empty region name, expected a name", who);
        if (n == 0 || !t_unix_s || !values[k])
            return sw_errorf(err, SW_EINPUT, "%s: region %s: no points, expected at least 1", who,
                             names[k]);
    }
    /* unique names: sorted, so that many regions cost n log n, not n^2 */
    const char **sorted = malloc(n_regions * sizeof *sorted);
    if (!sorted)
        return oom(err);
    memcpy(sorted, names, n_regions * sizeof *sorted);
    qsort(sorted, n_regions, sizeof *sorted, cmp_str);
    for (size_t k = 1; k < n_regions; k++)
        if (strcmp(sorted[k - 1], sorted[k]) == 0) {
            int rc =
                sw_errorf(err, SW_EINPUT, "%s: region %s given twice, expected unique region names",
                          who, sorted[k]);
            free(sorted);
            return rc;
        }
    free(sorted);
    if (step_s <= 0 && n < 2)
        return sw_errorf(err, SW_EINPUT,
                         "%s: region %s: 1 point and step_s <= 0, expected a step or 2+ points",
                         who, names[0]);
    if (isnan(step_s) || isinf(step_s))
        return sw_errorf(err, SW_EINPUT, "%s: step_s = %g, expected a finite number", who, step_s);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(t_unix_s[i]))
            return sw_errorf(err, SW_EINPUT, "%s: region %s: time[%zu] = %g, expected finite", who,
                             names[0], i, t_unix_s[i]);
        if (i > 0 && !(llround((t_unix_s[i] - t_unix_s[i - 1]) * 1000.0) >= 1))
            return sw_errorf(err, SW_EINPUT,
                             "%s: region %s: time[%zu] = %.6f is not at least 1 ms after "
                             "time[%zu] = %.6f, expected strictly increasing times on a "
                             "millisecond grid",
                             who, names[0], i, t_unix_s[i], i - 1, t_unix_s[i - 1]);
    }
    if (step_s > 0 && step_s < 0.001)
        return sw_errorf(err, SW_EINPUT, "%s: step_s = %g, expected at least 0.001 s", who, step_s);
    for (size_t k = 0; k < n_regions; k++)
        for (size_t i = 0; i < n; i++)
            if (!isfinite(values[k][i]) || values[k][i] < 0)
                return sw_errorf(err, SW_EINPUT,
                                 "%s: region %s: value[%zu] = %g, expected a finite number >= 0",
                                 who, names[k], i, values[k][i]);
    sw_trace *tr = calloc(1, sizeof *tr);
    if (!tr || !(tr->r = calloc(n_regions, sizeof *tr->r)) ||
        !(tr->shared_t = malloc(n * sizeof *tr->shared_t))) {
        sw_trace_destroy(tr);
        return oom(err);
    }
    tr->n_regions = n_regions;
    memcpy(tr->shared_t, t_unix_s, n * sizeof *tr->shared_t);
    if (step_s <= 0) {
        region probe = {.n = n, .t = tr->shared_t};
        if (infer_step(&probe, &step_s) != SW_OK) {
            sw_trace_destroy(tr);
            return oom(err);
        }
    }
    for (size_t k = 0; k < n_regions; k++) {
        region *r = &tr->r[k];
        r->t = tr->shared_t; /* not owned: sw_trace_destroy frees shared_t once */
        r->n = r->cap = n;
        r->step_s = step_s;
        r->name = malloc(strlen(names[k]) + 1);
        r->v = malloc(n * sizeof *r->v);
        if (!r->name || !r->v) {
            sw_trace_destroy(tr);
            return oom(err);
        }
        strcpy(r->name, names[k]);
        memcpy(r->v, values[k], n * sizeof *r->v);
        if (region_finish(r) != SW_OK) {
            sw_trace_destroy(tr);
            return oom(err);
        }
    }
    *out = tr;
    sw_error_clear(err);
    return SW_OK;
}

int sw_trace_from_arrays(const char *region_name, const double *t_unix_s,
                         const double *mci_g_per_kwh, size_t n, double step_s, sw_trace **out,
                         sw_error *err)
{
    const char *const names[1] = {region_name};
    const double *const values[1] = {mci_g_per_kwh};
    return from_columns("sw_trace_from_arrays", names, t_unix_s, values, 1, n, step_s, out, err);
}

int sw_trace_from_columns(const char *const *names, const double *t_unix_s,
                          const double *const *mci_g_per_kwh, size_t n_regions, size_t n,
                          double step_s, sw_trace **out, sw_error *err)
{
    return from_columns("sw_trace_from_columns", names, t_unix_s, mci_g_per_kwh, n_regions, n,
                        step_s, out, err);
}

/* Shifted views. A region shifted by s whole steps has value_k[i] = v[(i - s) mod n], which is
 * the window [n - s, 2n - s) of the doubled series D = v ++ v. So each source region is stored
 * once as D (values, prefix integrals and change indexes over 2n points) and every shifted
 * region is three pointers into it: v_k = D.v + off, cum_k = D.cum + off (integrals only use
 * differences of cum), next_diff_k[i] = D.next_diff[i + off] - off capped at n, off = n - s. */
static int build_base(const region *src, region *b)
{
    size_t n = src->n, n2 = 2 * n;
    b->n = b->cap = n2;
    b->step_s = src->step_s;
    b->v = malloc(n2 * sizeof *b->v);
    b->cum = malloc((n2 + 1) * sizeof *b->cum);
    b->next_diff = malloc(n2 * sizeof *b->next_diff);
    if (!b->v || !b->cum || !b->next_diff)
        return SW_ERUNTIME;
    memcpy(b->v, src->v, n * sizeof *b->v);
    memcpy(b->v + n, src->v, n * sizeof *b->v);
    b->cum[0] = 0;
    for (size_t i = 0; i < n2; i++) {
        size_t p = i % n;
        double dt = (p + 1 < n ? src->t[p + 1] : src->t[p] + src->step_s) - src->t[p];
        b->cum[i + 1] = b->cum[i] + b->v[i] * dt;
    }
    b->next_diff[n2 - 1] = n2;
    for (size_t i = n2 - 1; i-- > 0;)
        b->next_diff[i] = b->v[i + 1] != b->v[i] ? i + 1 : b->next_diff[i + 1];
    return SW_OK;
}

int sw_trace_from_shifts(const sw_trace *src, const char *const *names, const size_t *src_region,
                         const size_t *shift_steps, size_t n_regions, sw_trace **out,
                         sw_error *err)
{
    static const char *who = "sw_trace_from_shifts";
    if (!out)
        return sw_errorf(err, SW_EINPUT, "%s: out is NULL", who);
    *out = NULL;
    size_t m = sw_trace_region_count(src);
    if (m == 0 || n_regions == 0 || !names || !src_region || !shift_steps)
        return sw_errorf(err, SW_EINPUT, "%s: no regions, expected at least 1", who);
    size_t n = src->r[0].n;
    for (size_t q = 1; q < m; q++)
        if (src->r[q].n != n)
            return sw_errorf(err, SW_EINPUT, "%s: region %s has %zu points, region %s %zu: "
                             "expected one grid", who, src->r[q].name, src->r[q].n,
                             src->r[0].name, n);
    for (size_t k = 0; k < n_regions; k++)
        if (!names[k] || !names[k][0] || src_region[k] >= m || shift_steps[k] >= n)
            return sw_errorf(err, SW_EINPUT,
                             "%s: region %zu: empty name, source %zu of %zu or shift %zu of %zu "
                             "steps, expected a name, a source region and a shift below n",
                             who, k, src_region[k], m, shift_steps[k], n);
    sw_trace *tr = calloc(1, sizeof *tr);
    if (!tr || !(tr->r = calloc(n_regions, sizeof *tr->r)) ||
        !(tr->bases = calloc(m, sizeof *tr->bases)) ||
        !(tr->shared_t = malloc(n * sizeof *tr->shared_t))) {
        sw_trace_destroy(tr);
        return oom(err);
    }
    tr->n_regions = n_regions;
    tr->n_bases = m;
    memcpy(tr->shared_t, src->r[0].t, n * sizeof *tr->shared_t);
    for (size_t q = 0; q < m; q++)
        if (build_base(&src->r[q], &tr->bases[q]) != SW_OK) {
            sw_trace_destroy(tr);
            return oom(err);
        }
    for (size_t k = 0; k < n_regions; k++) {
        const region *b = &tr->bases[src_region[k]];
        region *r = &tr->r[k];
        size_t off = n - shift_steps[k];
        r->t = tr->shared_t;
        r->n = r->cap = n;
        r->step_s = b->step_s;
        r->view = true;
        r->v = b->v + off;
        r->cum = b->cum + off;
        r->next_diff = b->next_diff + off;
        r->nd_base = off;
        if (!(r->name = malloc(strlen(names[k]) + 1))) {
            sw_trace_destroy(tr);
            return oom(err);
        }
        strcpy(r->name, names[k]);
    }
    *out = tr;
    sw_error_clear(err);
    return SW_OK;
}

/* ---------------------------------------------------------------- queries */

static const region *get(const sw_trace *t, size_t ri)
{
    return t && ri < t->n_regions ? &t->r[ri] : NULL;
}

size_t sw_trace_region_count(const sw_trace *t)
{
    return t ? t->n_regions : 0;
}

const char *sw_trace_region_name(const sw_trace *t, size_t ri)
{
    const region *r = get(t, ri);
    return r ? r->name : NULL;
}

int sw_trace_region_index(const sw_trace *t, const char *name)
{
    if (!t || !name)
        return -1;
    for (size_t i = 0; i < t->n_regions; i++)
        if (strcmp(t->r[i].name, name) == 0)
            return (int)i;
    return -1;
}

size_t sw_trace_length(const sw_trace *t, size_t ri)
{
    const region *r = get(t, ri);
    return r ? r->n : 0;
}

const double *sw_trace_times(const sw_trace *t, size_t ri)
{
    const region *r = get(t, ri);
    return r ? r->t : NULL;
}

const double *sw_trace_values(const sw_trace *t, size_t ri)
{
    const region *r = get(t, ri);
    return r ? r->v : NULL;
}

double sw_trace_start(const sw_trace *t, size_t ri)
{
    const region *r = get(t, ri);
    return r ? r->t[0] : NAN;
}

double sw_trace_end(const sw_trace *t, size_t ri)
{
    const region *r = get(t, ri);
    return r ? r->t[r->n - 1] + r->step_s : NAN;
}

double sw_trace_step(const sw_trace *t, size_t ri)
{
    const region *r = get(t, ri);
    return r ? r->step_s : NAN;
}

/* Index of the point whose interval holds x: the largest i with t[i] <= x (x >= t[0]). */
static size_t locate(const region *r, double x)
{
    size_t lo = 0, hi = r->n; /* t[lo] <= x < t[hi] (t[n] = +inf) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->t[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static double end_of(const region *r)
{
    return r->t[r->n - 1] + r->step_s;
}

double sw_trace_value(const sw_trace *t, size_t ri, double t_unix_s)
{
    const region *r = get(t, ri);
    if (!r || !(t_unix_s >= r->t[0] && t_unix_s < end_of(r)))
        return NAN;
    return r->v[locate(r, t_unix_s)];
}

double sw_trace_next_change(const sw_trace *t, size_t ri, double t_unix_s)
{
    const region *r = get(t, ri);
    if (!r || isnan(t_unix_s) || t_unix_s >= end_of(r))
        return INFINITY;
    if (t_unix_s < r->t[0])
        return r->t[0];
    size_t j = r->next_diff[locate(r, t_unix_s)] - r->nd_base;
    return j < r->n ? r->t[j] : end_of(r);
}

/* ∫ over [a, b] for start <= a <= b <= end (checked by the callers). */
static double integral(const region *r, double a, double b)
{
    if (b <= a)
        return 0;
    size_t i = locate(r, a), j = locate(r, b);
    if (i == j) /* one interval: avoids the cancellation of prefix-sum differences */
        return r->v[i] * (b - a);
    return r->v[i] * (r->t[i + 1] - a) + (r->cum[j] - r->cum[i + 1]) + r->v[j] * (b - r->t[j]);
}

static int check_interval(const sw_trace *t, size_t ri, double t0, double t1, const char *who,
                          sw_error *err)
{
    const region *r = get(t, ri);
    if (!r)
        return sw_errorf(err, SW_EINPUT, "%s: region index %zu, expected < %zu", who, ri,
                         sw_trace_region_count(t));
    if (!(t1 >= t0))
        return sw_errorf(err, SW_EINPUT,
                         "%s: region %s: t1 = %.3f before t0 = %.3f, expected "
                         "t0 <= t1",
                         who, r->name, t1, t0);
    if (!(t0 >= r->t[0] && t1 <= end_of(r))) {
        char a[32], b[32], s[32], e[32];
        sw_format_iso8601(t0, a, sizeof a);
        sw_format_iso8601(t1, b, sizeof b);
        sw_format_iso8601(r->t[0], s, sizeof s);
        sw_format_iso8601(end_of(r), e, sizeof e);
        return sw_errorf(err, SW_EINPUT,
                         "%s: region %s: interval [%s, %s] is not inside the trace [%s, %s]", who,
                         r->name, a, b, s, e);
    }
    return SW_OK;
}

int sw_trace_integral(const sw_trace *t, size_t ri, double t0_unix_s, double t1_unix_s,
                      double *out_g_per_kwh_s, sw_error *err)
{
    int rc = check_interval(t, ri, t0_unix_s, t1_unix_s, "sw_trace_integral", err);
    if (rc != SW_OK)
        return rc;
    *out_g_per_kwh_s = integral(&t->r[ri], t0_unix_s, t1_unix_s);
    return SW_OK;
}

int sw_trace_carbon(const sw_trace *t, size_t ri, const double *pt_unix_s, const double *p_w,
                    size_t n_power, double t0_unix_s, double t1_unix_s, double *out_g,
                    sw_error *err)
{
    static const char *who = "sw_trace_carbon";
    int rc = check_interval(t, ri, t0_unix_s, t1_unix_s, who, err);
    if (rc != SW_OK)
        return rc;
    if (n_power && (!pt_unix_s || !p_w))
        return sw_errorf(err, SW_EINPUT, "%s: power arrays are NULL", who);
    for (size_t i = 0; i < n_power; i++) {
        if (!isfinite(pt_unix_s[i]) || (i > 0 && pt_unix_s[i] < pt_unix_s[i - 1]))
            return sw_errorf(err, SW_EINPUT,
                             "%s: power time[%zu] = %.3f, expected finite and non-decreasing", who,
                             i, pt_unix_s[i]);
        if (!isfinite(p_w[i]) || p_w[i] < 0)
            return sw_errorf(err, SW_EINPUT, "%s: power[%zu] = %g W, expected finite and >= 0", who,
                             i, p_w[i]);
    }
    const region *r = &t->r[ri];
    double g_w_s = 0; /* Σ W · (g/kWh) · s */
    for (size_t i = 0; i < n_power; i++) {
        double a = fmax(pt_unix_s[i], t0_unix_s);
        double b = i + 1 < n_power ? fmin(pt_unix_s[i + 1], t1_unix_s) : t1_unix_s;
        if (b > a && p_w[i] > 0)
            g_w_s += p_w[i] * integral(r, a, b);
    }
    *out_g = g_w_s / 3.6e6; /* J per kWh */
    return SW_OK;
}
