/* yamltree.c - YAML document tree from libyaml events, and dotted-path assignment (see
 * yamltree.h). */
#include "core/yamltree.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Nesting limit: a scenario needs 4; deeper input is refused rather than recursed into. */
#define MAX_DEPTH 64

void sw_yt_free(sw_yt_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            sw_yt_free(n->keys[i]);
        sw_yt_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->text);
    free(n);
}

static sw_yt_node *new_node(sw_yt_kind kind, size_t line, size_t col, const char *origin)
{
    sw_yt_node *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = kind;
        n->line = line;
        n->col = col;
        n->origin = origin;
    }
    return n;
}

sw_yt_node *sw_yt_scalar(const char *text, bool quoted, size_t line, size_t col, const char *origin)
{
    sw_yt_node *n = new_node(SW_YT_SCALAR, line, col, origin);
    if (n && !(n->text = malloc(strlen(text) + 1))) {
        free(n);
        return NULL;
    }
    if (n) {
        strcpy(n->text, text);
        n->quoted = quoted;
    }
    return n;
}

/* Appends (key, value) to a mapping or value to a sequence (key NULL). */
static int push(sw_yt_node *c, sw_yt_node *key, sw_yt_node *value)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        sw_yt_node **items = realloc(c->items, cap * sizeof *items);
        if (!items)
            return SW_ERUNTIME;
        c->items = items;
        if (c->kind == SW_YT_MAP) {
            sw_yt_node **keys = realloc(c->keys, cap * sizeof *keys);
            if (!keys)
                return SW_ERUNTIME;
            c->keys = keys;
        }
        c->cap = cap;
    }
    if (c->kind == SW_YT_MAP)
        c->keys[c->n] = key;
    c->items[c->n++] = value;
    return SW_OK;
}

bool sw_yt_is_null(const sw_yt_node *n)
{
    if (!n)
        return true;
    if (n->kind != SW_YT_SCALAR || n->quoted)
        return false;
    const char *s = n->text;
    return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

sw_yt_node *sw_yt_get(const sw_yt_node *map, const char *key)
{
    if (!map || map->kind != SW_YT_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->text, key) == 0)
            return map->items[i];
    return NULL;
}

/* ---------------------------------------------------------------- parsing */

typedef struct reader {
    yaml_parser_t parser;
    const char *name;
    const char *origin;
    sw_error *err;
} reader;

static int syntax_error(reader *r)
{
    const yaml_parser_t *p = &r->parser;
    if (p->error == YAML_MEMORY_ERROR)
        return sw_errorf(r->err, SW_ERUNTIME, "%s: out of memory while parsing YAML", r->name);
    return sw_errorf(r->err, SW_EINPUT, "%s:%zu:%zu: YAML syntax error: %s%s%s", r->name,
                     p->problem_mark.line + 1, p->problem_mark.column + 1,
                     p->problem ? p->problem : "unknown problem", p->context ? " " : "",
                     p->context ? p->context : "");
}

static int next(reader *r, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&r->parser, ev))
        return syntax_error(r);
    return SW_OK;
}

static int oom(reader *r)
{
    return sw_errorf(r->err, SW_ERUNTIME, "%s: out of memory while parsing YAML", r->name);
}

/* Builds the node that starts with event ev (consumed here) and everything under it. */
static int build(reader *r, yaml_event_t *ev, int depth, sw_yt_node **out)
{
    size_t line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;
    *out = NULL;
    if (depth > MAX_DEPTH) {
        yaml_event_delete(ev);
        return sw_errorf(r->err, SW_EINPUT, "%s:%zu:%zu: nesting deeper than %d levels", r->name,
                         line, col, MAX_DEPTH);
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        bool quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        *out = sw_yt_scalar((const char *)ev->data.scalar.value, quoted, line, col, r->origin);
        yaml_event_delete(ev);
        return *out ? SW_OK : oom(r);
    }
    case YAML_ALIAS_EVENT:
        yaml_event_delete(ev);
        return sw_errorf(r->err, SW_EINPUT,
                         "%s:%zu:%zu: aliases (*name) are not supported, expected a value", r->name,
                         line, col);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        break;
    default:
        yaml_event_delete(ev);
        return sw_errorf(r->err, SW_EINPUT, "%s:%zu:%zu: unexpected YAML event", r->name, line,
                         col);
    }
    bool is_map = ev->type == YAML_MAPPING_START_EVENT;
    yaml_event_delete(ev);
    sw_yt_node *c = new_node(is_map ? SW_YT_MAP : SW_YT_SEQ, line, col, r->origin);
    if (!c)
        return oom(r);
    int rc;
    for (;;) {
        yaml_event_t e;
        if ((rc = next(r, &e)) != SW_OK)
            goto fail;
        if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&e);
            break;
        }
        sw_yt_node *key = NULL, *value = NULL;
        if (is_map) {
            size_t kl = e.start_mark.line + 1, kc = e.start_mark.column + 1;
            if (e.type != YAML_SCALAR_EVENT) {
                yaml_event_delete(&e);
                rc = sw_errorf(r->err, SW_EINPUT,
                               "%s:%zu:%zu: a mapping key must be a plain name, expected "
                               "'key: value'",
                               r->name, kl, kc);
                goto fail;
            }
            if ((rc = build(r, &e, depth + 1, &key)) != SW_OK)
                goto fail;
            for (size_t i = 0; i < c->n; i++)
                if (strcmp(c->keys[i]->text, key->text) == 0) {
                    rc = sw_errorf(r->err, SW_EINPUT,
                                   "%s:%zu:%zu: duplicate key '%s' (first on line %zu), expected "
                                   "each key once",
                                   r->name, kl, kc, key->text, c->keys[i]->line);
                    sw_yt_free(key);
                    goto fail;
                }
            if ((rc = next(r, &e)) != SW_OK) {
                sw_yt_free(key);
                goto fail;
            }
        }
        if ((rc = build(r, &e, depth + 1, &value)) != SW_OK) {
            sw_yt_free(key);
            goto fail;
        }
        if (push(c, key, value) != SW_OK) {
            sw_yt_free(key);
            sw_yt_free(value);
            rc = oom(r);
            goto fail;
        }
    }
    *out = c;
    return SW_OK;
fail:
    sw_yt_free(c);
    return rc;
}

int sw_yt_parse(const char *text, size_t len, const char *name, const char *origin,
                sw_yt_node **out, sw_error *err)
{
    *out = NULL;
    reader r = {.name = name ? name : "<yaml>", .origin = origin, .err = err};
    if (!yaml_parser_initialize(&r.parser))
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot initialize the YAML parser", r.name);
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)(text ? text : ""),
                                 text ? len : 0);
    sw_yt_node *root = NULL;
    int rc = SW_OK;
    bool have_doc = false;
    for (;;) {
        yaml_event_t e;
        if ((rc = next(&r, &e)) != SW_OK)
            break;
        yaml_event_type_t type = e.type;
        size_t line = e.start_mark.line + 1, col = e.start_mark.column + 1;
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&e);
            break;
        }
        if (type == YAML_DOCUMENT_START_EVENT && have_doc) {
            yaml_event_delete(&e);
            rc = sw_errorf(err, SW_EINPUT,
                           "%s:%zu:%zu: a second YAML document, expected exactly one", r.name, line,
                           col);
            break;
        }
        if (type == YAML_DOCUMENT_START_EVENT) {
            have_doc = true;
            yaml_event_delete(&e);
            continue;
        }
        if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&e);
            continue;
        }
        if ((rc = build(&r, &e, 0, &root)) != SW_OK)
            break;
    }
    yaml_parser_delete(&r.parser);
    if (rc != SW_OK) {
        sw_yt_free(root);
        return rc;
    }
    if (sw_yt_is_null(root)) { /* an empty document */
        sw_yt_free(root);
        root = NULL;
    }
    *out = root;
    return SW_OK;
}

/* ---------------------------------------------------------------- assignment */

/* Next path segment of p into seg; returns the rest of the path, NULL on a syntax error. */
static const char *segment(const char *p, char *seg, size_t size, bool *is_index)
{
    size_t n = 0;
    *is_index = false;
    if (*p == '[') {
        p++;
        while (*p && *p != ']' && n + 1 < size)
            seg[n++] = *p++;
        if (*p != ']' || n == 0)
            return NULL;
        p++;
        *is_index = true;
    } else {
        while (*p && *p != '.' && *p != '[' && n + 1 < size)
            seg[n++] = *p++;
        if (n == 0)
            return NULL;
    }
    seg[n] = '\0';
    for (size_t i = 0; i < n && *is_index; i++)
        if (!isdigit((unsigned char)seg[i]))
            return NULL;
    if (*p == '.')
        p++;
    else if (*p && *p != '[')
        return NULL;
    return p;
}

static bool all_digits(const char *s)
{
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

int sw_yt_set(sw_yt_node **root, const char *path, sw_yt_node *value, const char *what,
              sw_error *err)
{
    sw_yt_node **slot = root; /* where the node at the current path is stored */
    const char *p = path;
    char seg[128], done[512] = "";
    int rc = SW_OK;
    if (!*p) {
        rc = sw_errorf(err, SW_EINPUT, "%s: empty key, expected a dotted path like policy.poll_s",
                       what);
        goto fail;
    }
    while (*p) {
        bool bracket;
        const char *rest = segment(p, seg, sizeof seg, &bracket);
        if (!rest) {
            rc = sw_errorf(err, SW_EINPUT,
                           "%s: bad key '%s', expected names and indices like sites.0.region or "
                           "sites[0].region",
                           what, path);
            goto fail;
        }
        sw_yt_node *cur = *slot;
        if (cur && cur->kind == SW_YT_SEQ) {
            if (!all_digits(seg)) {
                rc = sw_errorf(err, SW_EINPUT, "%s: '%s' is a list, expected an index after it",
                               what, done);
                goto fail;
            }
            unsigned long idx = strtoul(seg, NULL, 10);
            if (idx >= cur->n) {
                rc = sw_errorf(err, SW_EINPUT, "%s: index %lu out of range, '%s' has %zu item%s",
                               what, idx, done, cur->n, cur->n == 1 ? "" : "s");
                goto fail;
            }
            slot = &cur->items[idx];
        } else {
            if (bracket) {
                rc = sw_errorf(err, SW_EINPUT, "%s: '%s' is not a list, expected a name", what,
                               done[0] ? done : "the document");
                goto fail;
            }
            if (!cur || sw_yt_is_null(cur)) { /* create the mapping on the way */
                sw_yt_node *m = new_node(SW_YT_MAP, value->line, value->col, value->origin);
                if (!m) {
                    rc = sw_errorf(err, SW_ERUNTIME, "%s: out of memory", what);
                    goto fail;
                }
                sw_yt_free(cur);
                *slot = cur = m;
            }
            if (cur->kind != SW_YT_MAP) {
                rc = sw_errorf(err, SW_EINPUT, "%s: '%s' is a single value, expected a mapping",
                               what, done);
                goto fail;
            }
            size_t i = 0;
            while (i < cur->n && strcmp(cur->keys[i]->text, seg) != 0)
                i++;
            if (i == cur->n) {
                sw_yt_node *k = sw_yt_scalar(seg, false, value->line, value->col, value->origin);
                if (!k || push(cur, k, NULL) != SW_OK) {
                    sw_yt_free(k);
                    rc = sw_errorf(err, SW_ERUNTIME, "%s: out of memory", what);
                    goto fail;
                }
            }
            slot = &cur->items[i];
        }
        size_t used = strlen(done);
        if (cur->kind == SW_YT_SEQ)
            snprintf(done + used, sizeof done - used, "[%s]", seg);
        else
            snprintf(done + used, sizeof done - used, "%s%s", used ? "." : "", seg);
        p = rest;
    }
    sw_yt_free(*slot);
    *slot = value;
    return SW_OK;
fail:
    sw_yt_free(value);
    return rc;
}
