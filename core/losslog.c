/* losslog.c - parsing and validation of loss-log CSV files (see losslog.h).
 *
 * The whole file is read into memory (the reference logs are ~0.5 MB) and parsed line by line.
 * Columns are found by header name so that a log with its columns in another order, or with
 * the optional perplexity column, reads the same.
 */
#include "core/losslog.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COL_TIME, COL_STEP, COL_TOKENS, COL_LOSS, COL_PPL, COL_KINDS };
static const char *const col_names[COL_KINDS] = {"time", "step", "tokens", "loss", "perplexity"};
enum { MAX_COLS = 8 };

typedef struct parser {
    const char *name;
    sw_error *err;
    int kind[MAX_COLS]; /* column kind of each header cell */
    size_t ncols;
    size_t cap;
    sw_losslog log;
} parser;

typedef struct cell {
    const char *s;
    size_t len;
    size_t col; /* 1-based column (character) of the cell's first byte in its line */
} cell;

static int perr(parser *ps, size_t line, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int perr(parser *ps, size_t line, size_t col, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (col)
        return sw_errorf(ps->err, SW_EINPUT, "%s:%zu:%zu: %s", ps->name, line, col, msg);
    return sw_errorf(ps->err, SW_EINPUT, "%s:%zu: %s", ps->name, line, msg);
}

/* Splits a line into trimmed cells; returns the cell count (may exceed max, then cells are
 * only counted). */
static size_t split_cells(const char *line, size_t len, cell *cells, size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && line[i] != ',')
            continue;
        size_t a = start, b = i;
        while (a < b && (line[a] == ' ' || line[a] == '\t'))
            a++;
        while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t'))
            b--;
        if (n < max)
            cells[n] = (cell){line + a, b - a, a + 1};
        n++;
        start = i + 1;
    }
    return n;
}

/* Shows a cell in a message, shortened and with a terminating NUL. */
static const char *show(const cell *c, char *buf, size_t size)
{
    size_t n = c->len < size - 1 ? c->len : size - 1;
    memcpy(buf, c->s, n);
    buf[n] = '\0';
    return buf;
}

static int parse_header(parser *ps, size_t line, const char *s, size_t len)
{
    cell cells[MAX_COLS];
    size_t n = split_cells(s, len, cells, MAX_COLS);
    if (n > MAX_COLS)
        return perr(ps, line, 0,
                    "header has %zu columns, expected time,step,loss[,perplexity] "
                    "or time,tokens,loss[,perplexity]",
                    n);
    bool seen[COL_KINDS] = {false};
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        int kind = -1;
        for (int k = 0; k < COL_KINDS; k++)
            if (strlen(col_names[k]) == cells[i].len &&
                strncmp(col_names[k], cells[i].s, cells[i].len) == 0)
                kind = k;
        if (kind < 0)
            return perr(ps, line, cells[i].col,
                        "unknown column '%s', expected time, step or tokens, loss, perplexity",
                        show(&cells[i], buf, sizeof buf));
        if (seen[kind])
            return perr(ps, line, cells[i].col, "column '%s' appears twice", col_names[kind]);
        seen[kind] = true;
        ps->kind[i] = kind;
    }
    ps->ncols = n;
    if (!seen[COL_TIME])
        return perr(ps, line, 0, "header lacks the 'time' column (seconds since start)");
    if (!seen[COL_LOSS])
        return perr(ps, line, 0, "header lacks the 'loss' column (nats per token)");
    if (seen[COL_STEP] == seen[COL_TOKENS])
        return perr(ps, line, 0, "header needs exactly one of 'step' and 'tokens'");
    ps->log.has_tokens = seen[COL_TOKENS];
    return SW_OK;
}

static int grow(parser *ps)
{
    size_t cap = ps->cap ? 2 * ps->cap : 1024;
    double **arrays[] = {&ps->log.time_s, ps->log.has_tokens ? &ps->log.tokens : &ps->log.counter,
                         &ps->log.loss};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        double *p = realloc(*arrays[i], cap * sizeof(double));
        if (!p)
            return sw_errorf(ps->err, SW_ERUNTIME, "%s: out of memory reading a loss log",
                             ps->name);
        *arrays[i] = p;
    }
    ps->cap = cap;
    return SW_OK;
}

static int parse_number(parser *ps, size_t line, const cell *c, int kind, double *out)
{
    char buf[64];
    if (c->len == 0)
        return perr(ps, line, c->col, "empty %s cell, expected a number", col_names[kind]);
    if (c->len >= sizeof buf)
        return perr(ps, line, c->col, "%s cell too long to be a number", col_names[kind]);
    show(c, buf, sizeof buf);
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + c->len)
        return perr(ps, line, c->col, "%s '%s' is not a number", col_names[kind], buf);
    if (!isfinite(v) || errno == ERANGE)
        return perr(ps, line, c->col, "%s '%s' is not a finite number", col_names[kind], buf);
    *out = v;
    return SW_OK;
}

static int parse_row(parser *ps, size_t line, const char *s, size_t len)
{
    cell cells[MAX_COLS];
    size_t n = split_cells(s, len, cells, MAX_COLS);
    if (n != ps->ncols)
        return perr(ps, line, 0, "expected %zu cells as in the header, found %zu", ps->ncols, n);
    if (ps->log.n == ps->cap && grow(ps) != SW_OK)
        return ps->err ? ps->err->code : SW_ERUNTIME;
    size_t i = ps->log.n;
    for (size_t k = 0; k < n; k++) {
        int kind = ps->kind[k];
        if (kind == COL_PPL) /* exp(loss), for human readers; may overflow to inf: not read */
            continue;
        double v = 0;
        int rc = parse_number(ps, line, &cells[k], kind, &v);
        if (rc != SW_OK)
            return rc;
        switch (kind) {
        case COL_TIME:
            if (v < 0)
                return perr(ps, line, cells[k].col, "time %g s is negative", v);
            if (i > 0 && v < ps->log.time_s[i - 1])
                return perr(ps, line, cells[k].col,
                            "time %g s is earlier than the previous row's %g s (rows must be "
                            "sorted by time)",
                            v, ps->log.time_s[i - 1]);
            ps->log.time_s[i] = v;
            break;
        case COL_STEP:
            ps->log.counter[i] = v;
            break;
        case COL_TOKENS:
            if (v < 0)
                return perr(ps, line, cells[k].col, "tokens %g is negative", v);
            if (i > 0 && v < ps->log.tokens[i - 1])
                return perr(ps, line, cells[k].col,
                            "tokens %g is fewer than the previous row's %g (tokens trained "
                            "never decrease)",
                            v, ps->log.tokens[i - 1]);
            ps->log.tokens[i] = v;
            break;
        case COL_LOSS:
            if (v < 0)
                return perr(ps, line, cells[k].col, "loss %g is negative (nats per token)", v);
            ps->log.loss[i] = v;
            break;
        default:
            break;
        }
    }
    ps->log.n++;
    return SW_OK;
}

int sw_losslog_parse(const char *text, size_t len, const char *name, sw_losslog *out, sw_error *err)
{
    parser ps = {.name = name ? name : "<loss log>", .err = err};
    bool have_header = false;
    size_t line = 0, header_line = 0;
    int rc = SW_OK;
    memset(out, 0, sizeof *out);
    for (size_t pos = 0; pos < len && rc == SW_OK;) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - s) : len - pos;
        pos += l + (nl ? 1 : 0);
        line++;
        if (l > 0 && s[l - 1] == '\r')
            l--;
        size_t a = 0;
        while (a < l && (s[a] == ' ' || s[a] == '\t'))
            a++;
        if (a == l || s[a] == '#')
            continue;
        if (!have_header) {
            rc = parse_header(&ps, line, s, l);
            have_header = true;
            header_line = line;
        } else {
            rc = parse_row(&ps, line, s, l);
        }
    }
    if (rc == SW_OK && !have_header)
        rc = perr(&ps, 1, 0,
                  "empty loss log, expected a header time,step,loss[,perplexity] "
                  "or time,tokens,loss and data rows");
    else if (rc == SW_OK && ps.log.n == 0)
        rc = perr(&ps, header_line, 0, "loss log has a header but no data rows");
    if (rc != SW_OK) {
        sw_losslog_free(&ps.log);
        return rc;
    }
    *out = ps.log;
    return SW_OK;
}

int sw_losslog_read(const char *path, sw_losslog *out, sw_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sw_errorf(err, SW_EINPUT, "%s: cannot open loss log: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = SW_OK;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : 1 << 16;
            char *p = realloc(buf, ncap);
            if (!p) {
                rc = sw_errorf(err, SW_ERUNTIME, "%s: out of memory reading a loss log", path);
                break;
            }
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                rc = sw_errorf(err, SW_ERUNTIME, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (rc == SW_OK)
        rc = sw_losslog_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

void sw_losslog_free(sw_losslog *log)
{
    if (!log)
        return;
    free(log->time_s);
    free(log->counter);
    free(log->tokens);
    free(log->loss);
    memset(log, 0, sizeof *log);
}
