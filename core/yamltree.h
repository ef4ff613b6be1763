/* yamltree.h - a small generic YAML document tree (scalars, mappings, sequences) built with
 * libyaml, with the source position of every node, and dotted-path assignment for
 * `--set key=value` overrides.
 *
 * Schema-free on purpose: the scenario loader reads typed values out of the tree and reports
 * errors at a node's position; overrides are grafted onto the tree first so that they pass
 * through exactly the same validation as the file.
 *
 * Not supported (rejected with a message): aliases (*name), non-scalar mapping keys, more than
 * one document. Anchors and tags are ignored.
 */
#ifndef SW_YAMLTREE_H
#define SW_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef enum sw_yt_kind { SW_YT_SCALAR, SW_YT_MAP, SW_YT_SEQ } sw_yt_kind;

typedef struct sw_yt_node sw_yt_node;
struct sw_yt_node {
    sw_yt_kind kind;
    char *text;         /* SW_YT_SCALAR: the value, NUL-terminated (owned); else NULL */
    bool quoted;        /* scalar written quoted or as a block scalar (never null or a number) */
    sw_yt_node **keys;  /* SW_YT_MAP: the n key scalars, in document order */
    sw_yt_node **items; /* SW_YT_MAP: the n values; SW_YT_SEQ: the n items */
    size_t n, cap;
    size_t line, col;   /* 1-based position of the node in its source text */
    const char *origin; /* NULL: the document; else the override it came from (borrowed) */
};

/* Parses one YAML document (text of len bytes; `name` is used in messages). *out receives the
 * root (owned, free with sw_yt_free), or NULL for an empty document. Nodes get `origin`.
 * Errors (SW_EINPUT): "name:line:col: YAML syntax error: ...", duplicate keys, aliases,
 * several documents. */
int sw_yt_parse(const char *text, size_t len, const char *name, const char *origin,
                sw_yt_node **out, sw_error *err);

/* Frees a node and everything below it (NULL is fine). */
void sw_yt_free(sw_yt_node *n);

/* A new scalar node with a copy of text (NULL when out of memory). */
sw_yt_node *sw_yt_scalar(const char *text, bool quoted, size_t line, size_t col,
                         const char *origin);

/* True for a missing node (NULL) and for the plain scalars '', '~', 'null', 'Null', 'NULL'. */
bool sw_yt_is_null(const sw_yt_node *n);

/* The value of `key` in a mapping, or NULL (also when map is not a mapping). */
sw_yt_node *sw_yt_get(const sw_yt_node *map, const char *key);

/* Sets the node at a dotted path ("a.b.c", list items as "a.0.b" or "a[0].b") to value, taking
 * ownership of value (freed on error too). Missing mapping keys are created (new key nodes
 * take value's origin), a null intermediate becomes a mapping; *root may be NULL. List indices
 * must exist. Errors (SW_EINPUT) start with `what` (e.g. "override 'a.b=1'"). */
int sw_yt_set(sw_yt_node **root, const char *path, sw_yt_node *value, const char *what,
              sw_error *err);

#endif
