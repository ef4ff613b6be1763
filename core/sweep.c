/* sweep.c - sweep files: parse (core/yamltree), expand into points, validate every point
 * against the base scenario (see sweep.h and docs/formats/sweep.md). */
#include "core/sweep.h"
#include "core/fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/scenario.h"
#include "core/yamltree.h"

#define MAX_RANGE_VALUES 100000

/* ---------------------------------------------------------------- small helpers */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t k)
{
    if (b->oom)
        return;
    if (b->n + k + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + k + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, k);
    b->n += k;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static char *xstrdup(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    if (d)
        strcpy(d, s);
    return d;
}

/* Parsing state: the sweep file's name for messages and the error. */
typedef struct ctx {
    const char *file;
    sw_error *err;
} ctx;

static int fail(const ctx *c, const sw_yt_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const ctx *c, const sw_yt_node *n, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sw_errorf(c->err, SW_EINPUT, "%s:%zu:%zu: %s", c->file, n ? n->line : 1, n ? n->col : 1,
                     msg);
}

static int oom(const ctx *c)
{
    return sw_errorf(c->err, SW_ERUNTIME, "%s: out of memory", c->file);
}

static const char *kind_name(const sw_yt_node *n)
{
    if (!n || sw_yt_is_null(n))
        return "nothing";
    return n->kind == SW_YT_MAP ? "a mapping" : n->kind == SW_YT_SEQ ? "a list" : "a single value";
}

/* A plain scalar that is a finite number. */
static bool plain_number(const sw_yt_node *n, double *out)
{
    if (!n || n->kind != SW_YT_SCALAR || n->quoted || !n->text[0])
        return false;
    char *end;
    errno = 0;
    double v = strtod(n->text, &end);
    if (errno || *end || !isfinite(v))
        return false;
    if (out)
        *out = v;
    return true;
}

/* ---------------------------------------------------------------- YAML flow text of a node */

/* Characters a plain scalar may keep in flow context without being misread. */
static bool plain_safe(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.+-/", *p))
            return false;
    return true;
}

static void emit_scalar(sbuf *b, const sw_yt_node *n)
{
    if (!n->quoted && !n->text[0]) {
        sb_puts(b, "null");
        return;
    }
    if (!n->quoted && plain_safe(n->text)) {
        sb_puts(b, n->text);
        return;
    }
    sb_puts(b, "\"");
    for (const char *p = n->text; *p; p++) {
        char e[8];
        if (*p == '"' || *p == '\\') {
            e[0] = '\\';
            e[1] = *p;
            sb_putn(b, e, 2);
        } else if ((unsigned char)*p < 0x20) {
            snprintf(e, sizeof e, "\\x%02x", (unsigned char)*p);
            sb_puts(b, e);
        } else {
            sb_putn(b, p, 1);
        }
    }
    sb_puts(b, "\"");
}

/* Writes n as one line of YAML flow text ("[a, {b: 1}]") that parses back to the same tree. */
static void emit_flow(sbuf *b, const sw_yt_node *n)
{
    if (!n) {
        sb_puts(b, "null");
        return;
    }
    if (n->kind == SW_YT_SCALAR) {
        emit_scalar(b, n);
        return;
    }
    sb_puts(b, n->kind == SW_YT_MAP ? "{" : "[");
    for (size_t i = 0; i < n->n; i++) {
        if (i)
            sb_puts(b, ", ");
        if (n->kind == SW_YT_MAP) {
            emit_scalar(b, n->keys[i]);
            sb_puts(b, ": ");
        }
        emit_flow(b, n->items[i]);
    }
    sb_puts(b, n->kind == SW_YT_MAP ? "}" : "]");
}

static char *flow_text(const sw_yt_node *n)
{
    sbuf b = {0};
    emit_flow(&b, n);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---------------------------------------------------------------- parameters */

/* A dotted scenario key as `--set` takes it: names and indices, nothing else. */
static bool key_ok(const char *k)
{
    if (!*k || *k == '.' || *k == '[')
        return false;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-.[]", *p))
            return false;
    return true;
}

static int push_value(const ctx *c, sw_sweep_param *p, char *text)
{
    if (!text)
        return oom(c);
    char **v = realloc(p->values, (p->n_values + 1) * sizeof *v);
    if (!v) {
        free(text);
        return oom(c);
    }
    p->values = v;
    p->values[p->n_values++] = text;
    return SW_OK;
}

/* {from: A, to: B, step: S}: the numbers A, A+S, ... up to B (inclusive, within a rounding
 * tolerance); step defaults to 1 and may be negative when B < A. */
static int read_range(const ctx *c, const char *key, const sw_yt_node *m, sw_sweep_param *p)
{
    const sw_yt_node *from = NULL, *to = NULL, *step = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->text;
        if (!strcmp(k, "from"))
            from = m->items[i];
        else if (!strcmp(k, "to"))
            to = m->items[i];
        else if (!strcmp(k, "step"))
            step = m->items[i];
        else
            return fail(c, m->keys[i],
                        "key '%s': unknown range key '%s', expected from, to and step", key, k);
    }
    double a, b, s = 1;
    if (!plain_number(from, &a))
        return fail(c, from ? from : m, "key '%s.from': expected a number, got %s", key,
                    from && from->kind == SW_YT_SCALAR && from->text[0] ? from->text
                                                                        : kind_name(from));
    if (!plain_number(to, &b))
        return fail(c, to ? to : m, "key '%s.to': expected a number, got %s", key,
                    to && to->kind == SW_YT_SCALAR && to->text[0] ? to->text : kind_name(to));
    if (step && !plain_number(step, &s))
        return fail(c, step, "key '%s.step': expected a number, got %s", key,
                    step->kind == SW_YT_SCALAR && step->text[0] ? step->text : kind_name(step));
    if (s == 0 || (b > a && s < 0) || (b < a && s > 0))
        return fail(c, step ? step : m,
                    "key '%s.step': expected a non-zero step going from %g towards %g, got %g", key,
                    a, b, s);
    double span = (b - a) / s;
    if (span + 1 > MAX_RANGE_VALUES)
        return fail(c, m, "key '%s': the range has %.0f values, at most %d", key, floor(span) + 1,
                    MAX_RANGE_VALUES);
    size_t n = (size_t)floor(span + 1e-9) + 1;
    for (size_t i = 0; i < n; i++) {
        char t[40];
        double v = a + (double)i * s;
        if (fabs(v) < 1e-12 * fmax(fabs(a), fabs(s)))
            v = 0; /* 0.1 - 0.1 style cancellation */
        snprintf(t, sizeof t, "%.15g", v);
        int rc = push_value(c, p, xstrdup(t));
        if (rc != SW_OK)
            return rc;
    }
    p->numeric = true;
    return SW_OK;
}

/* The values of one parameter: a non-empty list, or a range mapping. */
static int read_values(const ctx *c, const char *key, const sw_yt_node *v, sw_sweep_param *p)
{
    if (v && v->kind == SW_YT_MAP)
        return read_range(c, key, v, p);
    if (!v || v->kind != SW_YT_SEQ || v->n == 0)
        return fail(c, v,
                    "key '%s': expected a non-empty list of values or a range {from, to, "
                    "step}, got %s",
                    key, v && v->kind == SW_YT_SCALAR && v->text[0] ? v->text : kind_name(v));
    p->numeric = true;
    for (size_t i = 0; i < v->n; i++) {
        p->numeric = p->numeric && plain_number(v->items[i], NULL);
        int rc = push_value(c, p, flow_text(v->items[i]));
        if (rc != SW_OK)
            return rc;
    }
    return SW_OK;
}

static sw_sweep_param *new_param(const ctx *c, sw_sweep *s, const sw_yt_node *key_node,
                                 const char *key, size_t axis, int *rc)
{
    for (size_t i = 0; i < s->n_params; i++)
        if (!strcmp(s->params[i].key, key)) {
            *rc = fail(c, key_node, "key '%s': swept twice (first at line %zu)", key,
                       s->params[i].line);
            return NULL;
        }
    sw_sweep_param *ps = realloc(s->params, (s->n_params + 1) * sizeof *ps);
    if (!ps) {
        *rc = oom(c);
        return NULL;
    }
    s->params = ps;
    sw_sweep_param *p = &s->params[s->n_params];
    memset(p, 0, sizeof *p);
    if (!(p->key = xstrdup(key))) {
        *rc = oom(c);
        return NULL;
    }
    p->axis = axis;
    p->line = key_node->line;
    p->col = key_node->col;
    s->n_params++;
    *rc = SW_OK;
    return p;
}

static int check_key(const ctx *c, const sw_yt_node *k, const char *section)
{
    if (!key_ok(k->text))
        return fail(c, k,
                    "%s: bad key '%s', expected a scenario key like policy.threshold_g_per_kwh "
                    "or sites.0.gpus",
                    section, k->text);
    return SW_OK;
}

/* grid: one axis per key. */
static int read_grid(const ctx *c, const sw_yt_node *g, sw_sweep *s)
{
    if (sw_yt_is_null(g))
        return SW_OK;
    if (g->kind != SW_YT_MAP)
        return fail(c, g, "key 'grid': expected a mapping of scenario keys to lists, got %s",
                    kind_name(g));
    for (size_t i = 0; i < g->n; i++) {
        int rc = check_key(c, g->keys[i], "grid");
        if (rc != SW_OK)
            return rc;
        sw_sweep_param *p = new_param(c, s, g->keys[i], g->keys[i]->text, s->n_axes, &rc);
        if (!p)
            return rc;
        if ((rc = read_values(c, p->key, g->items[i], p)) != SW_OK)
            return rc;
        s->n_axes++;
    }
    return SW_OK;
}

/* zip: every key one axis together; the lists must have the same length. */
static int read_zip(const ctx *c, const sw_yt_node *z, sw_sweep *s)
{
    if (sw_yt_is_null(z))
        return SW_OK;
    if (z->kind != SW_YT_MAP || z->n == 0)
        return fail(c, z, "key 'zip': expected a mapping of scenario keys to lists, got %s",
                    kind_name(z));
    size_t first = s->n_params;
    for (size_t i = 0; i < z->n; i++) {
        int rc = check_key(c, z->keys[i], "zip");
        if (rc != SW_OK)
            return rc;
        sw_sweep_param *p = new_param(c, s, z->keys[i], z->keys[i]->text, s->n_axes, &rc);
        if (!p)
            return rc;
        if ((rc = read_values(c, p->key, z->items[i], p)) != SW_OK)
            return rc;
        if (p->n_values != s->params[first].n_values)
            return fail(c, z->keys[i],
                        "zip: key '%s' has %zu values, expected %zu like '%s' (zipped lists "
                        "have the same length)",
                        p->key, p->n_values, s->params[first].n_values, s->params[first].key);
    }
    s->n_axes++;
    return SW_OK;
}

/* seeds: integers >= 0, a list or a range. */
static int read_seeds(const ctx *c, const sw_yt_node *key, const sw_yt_node *v, sw_sweep *s)
{
    if (sw_yt_is_null(v))
        return SW_OK;
    int rc;
    sw_sweep_param *p = new_param(c, s, key, "seed", s->n_axes, &rc);
    if (!p)
        return rc;
    if ((rc = read_values(c, "seeds", v, p)) != SW_OK)
        return rc;
    for (size_t i = 0; i < p->n_values; i++) {
        const char *t = p->values[i];
        bool ok = *t && strlen(t) < 20;
        for (const char *q = t; ok && *q; q++)
            ok = isdigit((unsigned char)*q);
        if (!ok) {
            const sw_yt_node *at = v->kind == SW_YT_SEQ ? v->items[i] : v;
            return fail(c, at, "key 'seeds': expected integers >= 0, got %s", t);
        }
    }
    s->n_axes++;
    return SW_OK;
}

/* set: fixed overrides, kept with their positions for messages. */
typedef struct fixed_pos {
    size_t line, col;
} fixed_pos;

static int read_set(const ctx *c, const sw_yt_node *m, sw_sweep *s, fixed_pos **pos)
{
    if (sw_yt_is_null(m))
        return SW_OK;
    if (m->kind != SW_YT_MAP)
        return fail(c, m, "key 'set': expected a mapping of scenario keys to values, got %s",
                    kind_name(m));
    s->fixed = calloc(m->n, sizeof *s->fixed);
    *pos = calloc(m->n, sizeof **pos);
    if (!s->fixed || !*pos)
        return oom(c);
    for (size_t i = 0; i < m->n; i++) {
        int rc = check_key(c, m->keys[i], "set");
        if (rc != SW_OK)
            return rc;
        if (!strcmp(m->keys[i]->text, SW_SWEEP_SITES_COUNT))
            return fail(c, m->keys[i], "set: key 'sites.count' can only be swept (grid or zip)");
        char *v = flow_text(m->items[i]);
        sbuf b = {0};
        sb_puts(&b, m->keys[i]->text);
        sb_puts(&b, "=");
        sb_puts(&b, v ? v : "");
        free(v);
        if (!v || b.oom) {
            free(b.p);
            return oom(c);
        }
        (*pos)[i] = (fixed_pos){m->keys[i]->line, m->keys[i]->col};
        s->fixed[s->n_fixed++] = b.p;
    }
    return SW_OK;
}

/* ---------------------------------------------------------------- files */

/* ---------------------------------------------------------------- expansion */

static unsigned long long fnv1a(unsigned long long h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The `sites=[...]` override keeping the first n items of the base scenario's site list. */
static char *sites_override(const sw_yt_node *sites, size_t n)
{
    sbuf b = {0};
    sb_puts(&b, "sites=[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_puts(&b, ", ");
        emit_flow(&b, sites->items[i]);
    }
    sb_puts(&b, "]");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* Builds point i's value indices and overrides. */
static int make_point(const ctx *c, sw_sweep *s, size_t i, const sw_yt_node *base_sites,
                      sw_sweep_point *pt)
{
    pt->value_index = calloc(s->n_params ? s->n_params : 1, sizeof *pt->value_index);
    pt->overrides = calloc(s->n_fixed + s->n_params + 1, sizeof *pt->overrides);
    if (!pt->value_index || !pt->overrides)
        return oom(c);
    /* Row-major over the axes, the last axis fastest. */
    size_t rest = i;
    for (size_t a = s->n_axes; a-- > 0;) {
        size_t size = 0;
        for (size_t p = 0; p < s->n_params; p++)
            if (s->params[p].axis == a)
                size = s->params[p].n_values;
        for (size_t p = 0; p < s->n_params; p++)
            if (s->params[p].axis == a)
                pt->value_index[p] = rest % size;
        rest /= size;
    }
    /* sites.count first (the other overrides may address the sites it keeps), then set:, then
     * the parameters in file order. */
    for (size_t p = 0; p < s->n_params; p++)
        if (!strcmp(s->params[p].key, SW_SWEEP_SITES_COUNT)) {
            const char *t = s->params[p].values[pt->value_index[p]];
            char *end;
            unsigned long n = strtoul(t, &end, 10);
            if (!base_sites || base_sites->kind != SW_YT_SEQ || *end ||
                !isdigit((unsigned char)*t) || n < 1 || n > base_sites->n) {
                sw_yt_node at = {.line = s->params[p].line, .col = s->params[p].col};
                return fail(c, &at,
                            "key 'sites.count': expected integers from 1 to the %zu sites of "
                            "%s, got %s",
                            base_sites && base_sites->kind == SW_YT_SEQ ? base_sites->n : 0,
                            s->base_path, t);
            }
            if (!(pt->overrides[pt->n_overrides++] = sites_override(base_sites, n)))
                return oom(c);
        }
    for (size_t f = 0; f < s->n_fixed; f++)
        if (!(pt->overrides[pt->n_overrides++] = xstrdup(s->fixed[f])))
            return oom(c);
    for (size_t p = 0; p < s->n_params; p++) {
        if (!strcmp(s->params[p].key, SW_SWEEP_SITES_COUNT))
            continue;
        sbuf b = {0};
        sb_puts(&b, s->params[p].key);
        sb_puts(&b, "=");
        sb_puts(&b, s->params[p].values[pt->value_index[p]]);
        if (b.oom) {
            free(b.p);
            return oom(c);
        }
        pt->overrides[pt->n_overrides++] = b.p;
    }
    unsigned long long h = 1469598103934665603ULL;
    h = fnv1a(h, s->base_text, strlen(s->base_text) + 1);
    for (size_t k = 0; k < pt->n_overrides; k++)
        h = fnv1a(h, pt->overrides[k], strlen(pt->overrides[k]) + 1);
    pt->hash = h;
    return SW_OK;
}

/* Parses the base scenario with point i's overrides; a failure is reported at the sweep file's
 * line of the key responsible (found by the override the scenario's message names). */
static int validate_point(const ctx *c, const sw_sweep *s, size_t i, const fixed_pos *fpos)
{
    const sw_sweep_point *pt = &s->points[i];
    sw_scenario sc;
    sw_error e;
    int rc = sw_scenario_parse_text(s->base_text, s->base_path, (const char *const *)pt->overrides,
                                    pt->n_overrides, &sc, &e);
    sw_scenario_free(&sc);
    if (rc == SW_OK)
        return SW_OK;
    if (rc != SW_EINPUT)
        return sw_errorf(c->err, rc, "%s: point %zu: %s", c->file, i, e.msg);
    char label[512];
    sw_sweep_point_label(s, i, label, sizeof label);
    /* Which override does the message name? */
    for (size_t k = 0; k < pt->n_overrides; k++) {
        char needle[600];
        snprintf(needle, sizeof needle, "override '%.500s", pt->overrides[k]);
        if (!strstr(e.msg, needle))
            continue;
        const char *ov = pt->overrides[k];
        bool sites = !strncmp(ov, "sites=", 6);
        for (size_t p = 0; p < s->n_params; p++) {
            const sw_sweep_param *q = &s->params[p];
            bool match = sites ? !strcmp(q->key, SW_SWEEP_SITES_COUNT)
                               : !strncmp(ov, q->key, strlen(q->key)) && ov[strlen(q->key)] == '=';
            if (match) {
                sw_yt_node at = {.line = q->line, .col = q->col};
                return fail(c, &at, "key '%s', value %s (point %zu: %s): %s", q->key,
                            q->values[pt->value_index[p]], i, label, e.msg);
            }
        }
        for (size_t f = 0; f < s->n_fixed; f++)
            if (!strcmp(ov, s->fixed[f])) {
                sw_yt_node at = {.line = fpos[f].line, .col = fpos[f].col};
                return fail(c, &at, "set: %s", e.msg);
            }
    }
    return sw_errorf(c->err, SW_EINPUT, "%s: point %zu (%s): %s", c->file, i,
                     label[0] ? label : "no parameters", e.msg);
}

static int expand(const ctx *c, sw_sweep *s, const fixed_pos *fpos)
{
    sw_yt_node *base = NULL;
    int rc = sw_yt_parse(s->base_text, strlen(s->base_text), s->base_path, NULL, &base, c->err);
    if (rc != SW_OK)
        return rc;
    const sw_yt_node *sites = sw_yt_get(base, "sites");
    double total = 1;
    for (size_t a = 0; a < s->n_axes; a++)
        for (size_t p = 0; p < s->n_params; p++)
            if (s->params[p].axis == a) {
                total *= (double)s->params[p].n_values;
                break;
            }
    if (total > SW_SWEEP_MAX_POINTS) {
        sw_yt_free(base);
        return sw_errorf(c->err, SW_EINPUT, "%s: %.0f points, at most %d", c->file, total,
                         SW_SWEEP_MAX_POINTS);
    }
    s->n_points = (size_t)total;
    if (!(s->points = calloc(s->n_points, sizeof *s->points))) {
        sw_yt_free(base);
        return oom(c);
    }
    for (size_t i = 0; i < s->n_points && rc == SW_OK; i++)
        if ((rc = make_point(c, s, i, sites, &s->points[i])) == SW_OK)
            rc = validate_point(c, s, i, fpos);
    sw_yt_free(base);
    return rc;
}

/* ---------------------------------------------------------------- entry points */

static bool name_ok(const char *n)
{
    if (!*n)
        return false;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && !strchr("_.-", *n))
            return false;
    return true;
}

int sw_sweep_parse_text(const char *text, const char *name, sw_sweep *out, sw_error *err)
{
    if (!out)
        return sw_errorf(err, SW_EINPUT, "sw_sweep_parse_text: out is NULL");
    memset(out, 0, sizeof *out);
    if (!name)
        name = "<sweep>";
    ctx c = {.file = name, .err = err};
    sw_yt_node *root = NULL;
    fixed_pos *fpos = NULL;
    int rc = sw_yt_parse(text ? text : "", text ? strlen(text) : 0, name, NULL, &root, err);
    if (rc != SW_OK)
        return rc;
    if (!(out->path = xstrdup(name))) {
        rc = oom(&c);
        goto done;
    }
    if (!root || root->kind != SW_YT_MAP) {
        rc = fail(&c, root, "expected a mapping with base and grid, zip, set or seeds, got %s",
                  kind_name(root));
        goto done;
    }
    const sw_yt_node *base = NULL, *grid = NULL, *zip = NULL, *set = NULL, *seeds = NULL,
                     *seeds_key = NULL, *nm = NULL;
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->text;
        const sw_yt_node *v = root->items[i];
        if (!strcmp(k, "base"))
            base = v;
        else if (!strcmp(k, "name"))
            nm = v;
        else if (!strcmp(k, "grid"))
            grid = v;
        else if (!strcmp(k, "zip"))
            zip = v;
        else if (!strcmp(k, "set"))
            set = v;
        else if (!strcmp(k, "seeds")) {
            seeds = v;
            seeds_key = root->keys[i];
        } else if (strcmp(k, "description") != 0) {
            rc = fail(&c, root->keys[i],
                      "unknown key '%s', expected name, description, base, set, grid, zip or "
                      "seeds",
                      k);
            goto done;
        }
    }
    /* name */
    if (nm && !sw_yt_is_null(nm)) {
        if (nm->kind != SW_YT_SCALAR || !name_ok(nm->text)) {
            rc = fail(&c, nm, "key 'name': expected letters, digits, '_', '.' or '-', got %s",
                      nm->kind == SW_YT_SCALAR ? nm->text : kind_name(nm));
            goto done;
        }
        out->name = xstrdup(nm->text);
    } else {
        const char *b = strrchr(name, '/');
        b = b ? b + 1 : name;
        const char *dot = strrchr(b, '.');
        size_t len = dot && dot != b ? (size_t)(dot - b) : strlen(b);
        if ((out->name = malloc(len + 1))) {
            memcpy(out->name, b, len);
            out->name[len] = '\0';
        }
    }
    if (!out->name) {
        rc = oom(&c);
        goto done;
    }
    /* base, resolved against the sweep file's folder */
    if (!base || base->kind != SW_YT_SCALAR || !base->text[0]) {
        rc = fail(&c, base ? base : root,
                  "key 'base': expected the path of a scenario file, got %s", kind_name(base));
        goto done;
    }
    const char *slash = strrchr(name, '/');
    sbuf bp = {0};
    if (base->text[0] != '/' && slash) {
        sb_putn(&bp, name, (size_t)(slash - name) + 1);
    }
    sb_puts(&bp, base->text);
    if (bp.oom) {
        free(bp.p);
        rc = oom(&c);
        goto done;
    }
    out->base_path = bp.p;
    sw_error e;
    if ((rc = sw_read_text_file(out->base_path, "base scenario", &out->base_text, &e)) != SW_OK) {
        rc = fail(&c, base, "key 'base': %s", e.msg);
        goto done;
    }
    if ((rc = read_set(&c, set, out, &fpos)) != SW_OK || (rc = read_grid(&c, grid, out)) != SW_OK ||
        (rc = read_zip(&c, zip, out)) != SW_OK ||
        (rc = read_seeds(&c, seeds_key, seeds, out)) != SW_OK)
        goto done;
    for (size_t f = 0; f < out->n_fixed; f++)
        for (size_t p = 0; p < out->n_params; p++) {
            size_t L = strlen(out->params[p].key);
            if (!strncmp(out->fixed[f], out->params[p].key, L) && out->fixed[f][L] == '=') {
                sw_yt_node at = {.line = out->params[p].line, .col = out->params[p].col};
                rc = fail(&c, &at, "key '%s': both swept and fixed under set:", out->params[p].key);
                goto done;
            }
        }
    rc = expand(&c, out, fpos);
done:
    sw_yt_free(root);
    free(fpos);
    if (rc == SW_OK)
        sw_error_clear(err);
    else
        sw_sweep_free(out);
    return rc;
}

int sw_sweep_load(const char *path, sw_sweep *out, sw_error *err)
{
    if (!out)
        return sw_errorf(err, SW_EINPUT, "sw_sweep_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path)
        return sw_errorf(err, SW_EINPUT, "sw_sweep_load: path is NULL");
    char *text;
    int rc = sw_read_text_file(path, "sweep file", &text, err);
    if (rc != SW_OK)
        return rc;
    rc = sw_sweep_parse_text(text, path, out, err);
    free(text);
    return rc;
}

void sw_sweep_free(sw_sweep *s)
{
    if (!s)
        return;
    for (size_t p = 0; p < s->n_params; p++) {
        for (size_t v = 0; v < s->params[p].n_values; v++)
            free(s->params[p].values[v]);
        free(s->params[p].values);
        free(s->params[p].key);
    }
    free(s->params);
    for (size_t i = 0; i < s->n_points; i++) {
        for (size_t k = 0; k < s->points[i].n_overrides; k++)
            free(s->points[i].overrides[k]);
        free(s->points[i].overrides);
        free(s->points[i].value_index);
    }
    free(s->points);
    for (size_t f = 0; f < s->n_fixed; f++)
        free(s->fixed[f]);
    free(s->fixed);
    free(s->path);
    free(s->name);
    free(s->base_path);
    free(s->base_text);
    memset(s, 0, sizeof *s);
}

int sw_sweep_point_report(const sw_sweep *s, size_t i, char *buf, size_t size)
{
    int w = 1;
    for (size_t m = s->n_points > 0 ? s->n_points - 1 : 0; m >= 10; m /= 10)
        w++;
    if (w < 4)
        w = 4;
    return snprintf(buf, size, "points/p%0*zu-%08llx.h5", w, i,
                    (s->points[i].hash ^ (s->points[i].hash >> 32)) & 0xffffffffULL);
}

int sw_sweep_point_label(const sw_sweep *s, size_t i, char *buf, size_t size)
{
    size_t n = 0;
    if (size)
        buf[0] = '\0';
    for (size_t p = 0; p < s->n_params; p++) {
        int k =
            snprintf(n < size ? buf + n : NULL, n < size ? size - n : 0, "%s%s=%s", p ? ", " : "",
                     s->params[p].key, s->params[p].values[s->points[i].value_index[p]]);
        if (k > 0)
            n += (size_t)k;
    }
    return (int)n;
}

size_t sw_sweep_n_chunks(const sw_sweep *s, size_t chunk)
{
    return chunk ? (s->n_points + chunk - 1) / chunk : 0;
}

void sw_sweep_chunk_range(const sw_sweep *s, size_t chunk, size_t k, size_t *first, size_t *n)
{
    size_t a = k * chunk;
    *first = a < s->n_points ? a : s->n_points;
    *n = a < s->n_points ? (s->n_points - a < chunk ? s->n_points - a : chunk) : 0;
}
