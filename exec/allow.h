/* allow.h - the coordinator's allow list: which agent public keys may connect, and as which
 * site(s) each may act (format: docs/formats/allowlist.md).
 *
 * One file per key in DIR/authorized/, named STEM.pub:
 *   <40-character Z85 public key>     the first line that is not blank or a '#' comment
 *   sites = texas, ohio               optional: the sites this key may act as; without it, the
 *                                     key may act as the one site named STEM
 * A key given in two files may act as the sites of both. A JOIN for a site that its key may
 * not act as is refused (exec/coord.c, with sw_zap_may_act in exec/auth.h).
 */
#ifndef SW_EXEC_ALLOW_H
#define SW_EXEC_ALLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define SW_ALLOW_FILE_MAX 65536 /* bytes; a longer .pub file is an error */
#define SW_ALLOW_SITE_MAX 63    /* bytes of a site name (the protocol's name field less NUL) */

typedef struct sw_allow sw_allow;

/* An empty allow list (refuses everything). NULL when out of memory. */
sw_allow *sw_allow_create(void);
void sw_allow_destroy(sw_allow *a);

/* Allows `key` (40-character Z85) to act as `site`. SW_EINPUT naming the bad argument. */
int sw_allow_add(sw_allow *a, const char *key, const char *site, sw_error *err);

/* Parses one STEM.pub text (len bytes; `path` and `stem` for messages and the default site)
 * into a. SW_EINPUT naming path:line and what was expected; a is unchanged then. */
int sw_allow_parse(sw_allow *a, const char *text, size_t len, const char *path, const char *stem,
                   sw_error *err);

/* Every DIR/authorized/<STEM>.pub into *out (caller destroys). A missing folder, an unreadable
 * or bad file, or an empty folder is SW_EINPUT naming it. */
int sw_allow_load_dir(const char *dir, sw_allow **out, sw_error *err);

/* Number of distinct keys. */
size_t sw_allow_count(const sw_allow *a);
/* Whether key is in the list at all (the ZAP handler's question). */
bool sw_allow_has_key(const sw_allow *a, const char *key);
/* Whether key may act as site. */
bool sw_allow_permits(const sw_allow *a, const char *key, const char *site);
/* The sites of key, comma separated, into buf (empty if none; truncated with "..." to fit). */
void sw_allow_sites_of(const sw_allow *a, const char *key, char *buf, size_t cap);

/* A site name as the allow list accepts it: 1..SW_ALLOW_SITE_MAX printable ASCII bytes other
 * than space and ','. */
bool sw_allow_site_name_ok(const char *s, size_t len);

#endif
