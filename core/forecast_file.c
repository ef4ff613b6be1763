/* forecast_file.c - the `file` forecast provider: forecasts issued in the past, read from a CSV
 * (docs/formats/forecast.md). Per region the rows are kept in file order, which the parser
 * checks is (issue_time ascending, then target_time strictly ascending), so a query is two
 * binary searches. */
#include "core/forecast.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct frow {
    double issue_unix_s, target_unix_s, mci_g_per_kwh;
} frow;

typedef struct fregion {
    frow *rows;
    size_t n, cap;
    size_t last_line;
} fregion;

typedef struct file_state {
    const sw_trace *trace;
    size_t n_regions;
    fregion *r;
} file_state;

static void file_destroy(void *self)
{
    file_state *s = self;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_regions; i++)
        free(s->r[i].rows);
    free(s->r);
    free(s);
}

/* Index of the last row in [lo, hi) whose key <= x, or (size_t)-1. */
static size_t last_at_or_before(const frow *rows, size_t lo, size_t hi, double x, int by_target)
{
    size_t a = lo, b = hi; /* answer in [a - 1, b) */
    while (a < b) {
        size_t m = a + (b - a) / 2;
        double k = by_target ? rows[m].target_unix_s : rows[m].issue_unix_s;
        if (k <= x)
            a = m + 1;
        else
            b = m;
    }
    return a == lo ? (size_t)-1 : a - 1;
}

static double file_value(const void *self, size_t region, double issue_unix_s, double target_unix_s)
{
    const file_state *s = self;
    if (region >= s->n_regions)
        return NAN;
    const fregion *r = &s->r[region];
    size_t j = last_at_or_before(r->rows, 0, r->n, issue_unix_s, 0);
    if (j == (size_t)-1)
        return NAN;
    double issue = r->rows[j].issue_unix_s;
    size_t a = j; /* first row of this issue */
    while (a > 0 && r->rows[a - 1].issue_unix_s == issue)
        a--;
    size_t k = last_at_or_before(r->rows, a, j + 1, target_unix_s, 1);
    if (k == (size_t)-1)
        return NAN;
    if (k == j && target_unix_s >= r->rows[j].target_unix_s + sw_trace_step(s->trace, region))
        return NAN;
    return r->rows[k].mci_g_per_kwh;
}

static const sw_forecast_ops file_ops = {"file", file_value, file_destroy};

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Splits line at commas into at most cap cells; returns the count (cap + 1 if more). */
static size_t split(char *line, char **cells, size_t cap)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *c = strchr(p, ',');
        if (c)
            *c = '\0';
        if (n < cap)
            cells[n] = trim(p);
        n++;
        if (!c)
            break;
        p = c + 1;
    }
    return n > cap ? cap + 1 : n;
}

static const char *const columns[4] = {"issue_time", "target_time", "region", "mci_g_per_kwh"};

static int parse_rows(file_state *s, char *text, const char *name, sw_error *err)
{
    size_t line_no = 0;
    int header_seen = 0;
    for (char *next = text; next;) {
        char *line = next;
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        line_no++;
        char *t = trim(line);
        if (t[0] == '\0' || t[0] == '#')
            continue;
        char *cells[4];
        size_t n = split(t, cells, 4);
        if (!header_seen) {
            if (n != 4)
                return sw_errorf(err, SW_EINPUT, "%s:%zu: header: expected %s,%s,%s,%s", name,
                                 line_no, columns[0], columns[1], columns[2], columns[3]);
            for (int c = 0; c < 4; c++)
                if (strcmp(cells[c], columns[c]) != 0 && !(c == 3 && !strcmp(cells[c], "value")))
                    return sw_errorf(err, SW_EINPUT, "%s:%zu:%s: header: expected column %d '%s'",
                                     name, line_no, cells[c], c + 1, columns[c]);
            header_seen = 1;
        } else {
            if (n != 4)
                return sw_errorf(err, SW_EINPUT, "%s:%zu: expected 4 cells (%s,%s,%s,%s), got %zu",
                                 name, line_no, columns[0], columns[1], columns[2], columns[3], n);
            double issue, target;
            if (sw_parse_iso8601(cells[0], &issue) != SW_OK)
                return sw_errorf(err, SW_EINPUT,
                                 "%s:%zu:issue_time: expected an ISO-8601 time, "
                                 "got \"%s\"",
                                 name, line_no, cells[0]);
            if (sw_parse_iso8601(cells[1], &target) != SW_OK)
                return sw_errorf(err, SW_EINPUT,
                                 "%s:%zu:target_time: expected an ISO-8601 time, "
                                 "got \"%s\"",
                                 name, line_no, cells[1]);
            if (target < issue)
                return sw_errorf(err, SW_EINPUT, "%s:%zu:target_time: %s is before issue_time %s",
                                 name, line_no, cells[1], cells[0]);
            int ri = sw_trace_region_index(s->trace, cells[2]);
            if (ri < 0)
                return sw_errorf(err, SW_EINPUT,
                                 "%s:%zu:region: \"%s\" is not a region of the trace", name,
                                 line_no, cells[2]);
            char *end = NULL;
            errno = 0;
            double v = strtod(cells[3], &end);
            if (cells[3][0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v) || v < 0)
                return sw_errorf(err, SW_EINPUT,
                                 "%s:%zu:mci_g_per_kwh: expected a finite number "
                                 ">= 0, got \"%s\"",
                                 name, line_no, cells[3]);
            fregion *r = &s->r[ri];
            if (r->n > 0) {
                const frow *p = &r->rows[r->n - 1];
                if (issue < p->issue_unix_s)
                    return sw_errorf(err, SW_EINPUT,
                                     "%s:%zu:issue_time: not in ascending order "
                                     "for region %s (line %zu is later)",
                                     name, line_no, cells[2], r->last_line);
                if (issue == p->issue_unix_s && !(target > p->target_unix_s))
                    return sw_errorf(err, SW_EINPUT,
                                     "%s:%zu:target_time: not strictly ascending "
                                     "within issue %s of region %s (see line %zu)",
                                     name, line_no, cells[0], cells[2], r->last_line);
            }
            if (r->n == r->cap) {
                size_t cap = r->cap ? 2 * r->cap : 64;
                frow *rows = realloc(r->rows, cap * sizeof *rows);
                if (!rows)
                    return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", name);
                r->rows = rows;
                r->cap = cap;
            }
            r->rows[r->n++] = (frow){issue, target, v};
            r->last_line = line_no;
        }
    }
    if (!header_seen)
        return sw_errorf(err, SW_EINPUT, "%s:%zu: empty file: expected the header %s,%s,%s,%s",
                         name, line_no, columns[0], columns[1], columns[2], columns[3]);
    return SW_OK;
}

int sw_forecast_file_parse(const char *text, size_t len, const char *name, const sw_trace *tr,
                           sw_forecast **out, sw_error *err)
{
    *out = NULL;
    file_state *s = calloc(1, sizeof *s);
    char *copy = malloc(len + 1);
    if (s)
        s->r = calloc(sw_trace_region_count(tr) ? sw_trace_region_count(tr) : 1, sizeof *s->r);
    if (!s || !copy || !s->r) {
        free(copy);
        file_destroy(s);
        return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", name);
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (memchr(text, '\0', len)) {
        free(copy);
        file_destroy(s);
        return sw_errorf(err, SW_EINPUT, "%s: NUL byte in a text file", name);
    }
    s->trace = tr;
    s->n_regions = sw_trace_region_count(tr);
    int rc = parse_rows(s, copy, name, err);
    free(copy);
    if (rc != SW_OK) {
        file_destroy(s);
        return rc;
    }
    return sw_forecast_create_custom(&file_ops, s, tr, out, err);
}

int sw_forecast_file_load(const char *path, const sw_trace *tr, sw_forecast **out, sw_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sw_errorf(err, SW_EINPUT, "forecast.file: cannot open %s: %s", path,
                         strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap)
            break;
        char *b = realloc(buf, cap * 2);
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", path);
    if (bad) {
        free(buf);
        return sw_errorf(err, SW_EINPUT, "forecast.file: cannot read %s", path);
    }
    int rc = sw_forecast_file_parse(buf, len, path, tr, out, err);
    free(buf);
    return rc;
}
