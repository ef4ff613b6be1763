/* auth.h - CURVE keys and the ZAP handler that allow-lists agents.
 *
 * Key files (text, Z85 as produced by zmq_curve_keypair):
 *   NAME.pub   one line: the public key
 *   NAME.key   two lines "public = <key>" and "secret = <key>"; mode 0600
 * A CURVE server without a ZAP handler accepts any client that knows the server's public key,
 * so the coordinator always runs sw_zap: it accepts a client only if its public key is in the
 * allow list, and logs every refusal.
 *
 * Layout of a keys folder (docs/exec.md):
 *   coordinator:  DIR/coordinator.key, DIR/authorized/<SITE>.pub (allowed agents and the
 *                 sites each may act as: exec/allow.h, docs/formats/allowlist.md)
 *   agent:        DIR/agent.key, DIR/coordinator.pub
 */
#ifndef SW_EXEC_AUTH_H
#define SW_EXEC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/error.h"
#include "exec/allow.h"

#define SW_KEY_Z85 41 /* 40 Z85 characters and the NUL */

typedef struct sw_keypair {
    char pub[SW_KEY_Z85];
    char sec[SW_KEY_Z85];
} sw_keypair;

/* Generates a keypair and writes DIR/NAME.key (0600) and DIR/NAME.pub, creating DIR (0700)
 * and its parents if needed. Without `overwrite`, an existing NAME.key or NAME.pub is SW_EINPUT
 * naming it (keys on an allow list would otherwise be lost). *out (may be NULL) receives the
 * keys. SW_ERUNTIME naming the file on other failures. */
int sw_keys_write(const char *dir, const char *name, bool overwrite, sw_keypair *out,
                  sw_error *err);
/* sw_keys_write with overwrite: for keys a run makes for itself (RUN_DIR/keys). */
int sw_keys_generate(const char *dir, const char *name, sw_keypair *out, sw_error *err);

/* Reads a .key file (both keys) or a .pub file (public only; sec left empty). SW_EINPUT names
 * the file and line; a .key readable by group or others is refused. */
int sw_keys_load_pair(const char *path, sw_keypair *out, sw_error *err);
int sw_keys_load_pub(const char *path, char pub[SW_KEY_Z85], sw_error *err);
/* The same on a file's text (len bytes, at most 64 KiB); path names it in messages. The .key
 * must also be owned by this user (or root) when loaded from a file. */
int sw_keys_parse_pair(const char *text, size_t len, const char *path, sw_keypair *out,
                       sw_error *err);
int sw_keys_parse_pub(const char *text, size_t len, const char *path, char pub[SW_KEY_Z85],
                      sw_error *err);

/* Makes sock a CURVE server with the coordinator's secret key, authenticated by ZAP. */
int sw_curve_server(void *sock, const sw_keypair *kp, sw_error *err);
/* Makes sock a CURVE client: its own keypair and the server's public key. */
int sw_curve_client(void *sock, const sw_keypair *kp, const char *server_pub, sw_error *err);

/* The ZAP handler: a thread answering libzmq's authentication requests on ctx, accepting a
 * client whose key is in `allow` (exec/allow.h) and giving the key as the connection's
 * User-Id. Takes ownership of allow (also on failure). Rejections are logged to log (may be
 * NULL) and counted. */
typedef struct sw_zap sw_zap;
int sw_zap_start(void *ctx, sw_allow *allow, FILE *log, sw_zap **out, sw_error *err);
/* Whether the client authenticated as user_id (the "User-Id" property of its messages,
 * zmq_msg_gets) may act as site. z NULL (no CURVE): always true. When false, why (cap bytes)
 * says which sites the key may act as. */
bool sw_zap_may_act(const sw_zap *z, const char *user_id, const char *site, char *why, size_t cap);
/* Number of clients refused so far. */
unsigned sw_zap_rejected(const sw_zap *z);
/* Stops the thread and frees z (NULL is fine). Call before zmq_ctx_term. */
void sw_zap_stop(sw_zap *z);

/* Whether a listen endpoint is reachable from this machine only: ipc://, inproc://, and tcp://
 * on 127.0.0.0/8, [::1] or localhost. NULL (the default 127.0.0.1) is local. */
bool sw_endpoint_is_local(const char *ep);
/* The coordinator's transport rule: a listen address that is not local needs CURVE; with
 * `insecure` it is allowed and a warning goes to log (stderr if NULL) on every start. SW_EINPUT
 * naming --listen otherwise. */
int sw_transport_check(const char *listen, bool curve, bool insecure, FILE *log, sw_error *err);

#endif
