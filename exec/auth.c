/* auth.c - CURVE key files and the ZAP allow-list handler (see auth.h). */
#include "exec/auth.h"
#include "core/fsutil.h"
#include "exec/fmt.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* Writes text to path with mode; without `overwrite` an existing file is an error (O_EXCL). */
static int write_file(const char *path, const char *text, mode_t mode, bool overwrite,
                      sw_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | (overwrite ? O_TRUNC : O_EXCL), mode);
    if (fd < 0 && errno == EEXIST)
        return sw_errorf(err, SW_EINPUT,
                         "%s: exists (created meanwhile); refusing to overwrite a key", path);
    if (fd < 0)
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot create: %s", path, strerror(errno));
    size_t n = strlen(text);
    /* An existing file keeps its old mode through O_CREAT: set it explicitly. */
    bool ok = fchmod(fd, mode) == 0 && write(fd, text, n) == (ssize_t)n;
    ok = (close(fd) == 0) && ok;
    return ok ? SW_OK : sw_errorf(err, SW_ERUNTIME, "%s: cannot write: %s", path, strerror(errno));
}

int sw_keys_write(const char *dir, const char *name, bool overwrite, sw_keypair *out, sw_error *err)
{
    sw_keypair kp;
    if (zmq_curve_keypair(kp.pub, kp.sec) != 0)
        return sw_errorf(err, SW_ERUNTIME, "keygen: zmq_curve_keypair: %s", zmq_strerror(errno));
    int rc = sw_mkdir_p(dir, 0700, err);
    if (rc != SW_OK)
        return rc;
    char path[4096], pub_path[4096], text[256];
    sw_pathf(path, sizeof path, "%s/%s.key", dir, name);
    sw_pathf(pub_path, sizeof pub_path, "%s/%s.pub", dir, name);
    struct stat st;
    const char *existing = stat(path, &st) == 0 ? path : stat(pub_path, &st) == 0 ? pub_path : NULL;
    if (!overwrite && existing)
        return sw_errorf(err, SW_EINPUT,
                         "%s: exists; refusing to overwrite a key (agents on an allow list would "
                         "lose access), expected a new -o DIR or --name, or --force",
                         existing);
    sw_pathf(text, sizeof text, "public = %s\nsecret = %s\n", kp.pub, kp.sec);
    rc = write_file(path, text, 0600, overwrite, err);
    if (rc == SW_OK) {
        sw_pathf(text, sizeof text, "%s\n", kp.pub);
        rc = write_file(pub_path, text, 0644, overwrite, err);
    }
    if (rc == SW_OK && out)
        *out = kp;
    return rc;
}

int sw_keys_generate(const char *dir, const char *name, sw_keypair *out, sw_error *err)
{
    return sw_keys_write(dir, name, true, out, err);
}

/* A Z85 key: 40 characters of the Z85 alphabet. */
static bool z85_key(const char *s)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";
    if (strlen(s) != 40)
        return false;
    for (int i = 0; i < 40; i++)
        if (!strchr(alphabet, s[i]))
            return false;
    return true;
}

#define KEY_FILE_MAX 65536 /* bytes; a longer key file is an error */

/* The next line of [*p, end): its start and length without the line end; false at the end. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len)
{
    if (*p >= end)
        return false;
    const char *eol = memchr(*p, '\n', (size_t)(end - *p));
    *line = *p;
    *len = (size_t)((eol ? eol : end) - *p);
    *p = eol ? eol + 1 : end;
    while (*len && ((*line)[*len - 1] == '\r' || (*line)[*len - 1] == ' '))
        (*len)--;
    return true;
}

/* A Z85 key of exactly 40 characters at s (len bytes). */
static bool z85_key_n(const char *s, size_t len)
{
    char k[SW_KEY_Z85];
    if (len != 40 || memchr(s, '\0', len))
        return false;
    memcpy(k, s, 40);
    k[40] = '\0';
    return z85_key(k);
}

int sw_keys_parse_pair(const char *text, size_t len, const char *path, sw_keypair *out,
                       sw_error *err)
{
    path = path ? path : "<key>";
    if (len > KEY_FILE_MAX)
        return sw_errorf(err, SW_EINPUT, "%s: %zu bytes, expected a key file of at most %d", path,
                         len, KEY_FILE_MAX);
    sw_keypair kp = {{0}, {0}};
    const char *p = text, *end = text + len, *line;
    size_t ll;
    for (int lineno = 1; next_line(&p, end, &line, &ll); lineno++) {
        char *dst;
        if (ll >= 9 && !memcmp(line, "public = ", 9))
            dst = kp.pub;
        else if (ll >= 9 && !memcmp(line, "secret = ", 9))
            dst = kp.sec;
        else
            continue;
        if (!z85_key_n(line + 9, ll - 9))
            return sw_errorf(err, SW_EINPUT, "%s:%d: expected a 40-character Z85 key", path,
                             lineno);
        if (dst[0])
            return sw_errorf(err, SW_EINPUT, "%s:%d: a second '%.6s' line, expected one", path,
                             lineno, line);
        memcpy(dst, line + 9, 40);
        dst[40] = '\0';
    }
    if (!kp.pub[0] || !kp.sec[0])
        return sw_errorf(err, SW_EINPUT, "%s: expected lines 'public = KEY' and 'secret = KEY'",
                         path);
    *out = kp;
    return SW_OK;
}

int sw_keys_parse_pub(const char *text, size_t len, const char *path, char pub[SW_KEY_Z85],
                      sw_error *err)
{
    path = path ? path : "<key>";
    const char *p = text, *line = NULL;
    size_t ll = 0;
    if (len > KEY_FILE_MAX || !next_line(&p, text + len, &line, &ll) || !z85_key_n(line, ll))
        return sw_errorf(err, SW_EINPUT, "%s:1: expected a 40-character Z85 public key", path);
    memcpy(pub, line, 40);
    pub[40] = '\0';
    return SW_OK;
}

/* Reads a whole key file of at most KEY_FILE_MAX bytes; `secret`: the file must be private to
 * its owner, who must be this user (or root). */
static int read_key_file(const char *path, bool secret, char **text, size_t *len, sw_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return sw_errorf(err, SW_EINPUT, "%s: cannot read key: %s", path, strerror(errno));
    struct stat st;
    int rc = SW_OK;
    if (fstat(fd, &st) != 0)
        rc = sw_errorf(err, SW_EINPUT, "%s: cannot read key: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = sw_errorf(err, SW_EINPUT, "%s: not a regular file, expected a key file", path);
    else if (secret && (st.st_mode & 077))
        rc = sw_errorf(err, SW_EINPUT,
                       "%s: secret key is readable by others (mode %03o); "
                       "chmod 600 it",
                       path, (unsigned)(st.st_mode & 0777));
    else if (secret && st.st_uid != geteuid() && st.st_uid != 0)
        rc = sw_errorf(err, SW_EINPUT,
                       "%s: secret key is owned by uid %u, expected this user (uid %u) or root",
                       path, (unsigned)st.st_uid, (unsigned)geteuid());
    else if (st.st_size > KEY_FILE_MAX)
        rc = sw_errorf(err, SW_EINPUT, "%s: %lld bytes, expected a key file of at most %d", path,
                       (long long)st.st_size, KEY_FILE_MAX);
    char *buf = rc == SW_OK ? malloc((size_t)st.st_size + 1) : NULL;
    if (rc == SW_OK && !buf)
        rc = sw_errorf(err, SW_ERUNTIME, "%s: out of memory", path);
    size_t n = 0;
    while (rc == SW_OK && n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = sw_errorf(err, SW_EINPUT, "%s: cannot read key: %s", path, strerror(errno));
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (rc != SW_OK) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return SW_OK;
}

int sw_keys_load_pair(const char *path, sw_keypair *out, sw_error *err)
{
    char *text;
    size_t len;
    int rc = read_key_file(path, true, &text, &len, err);
    if (rc != SW_OK)
        return rc;
    rc = sw_keys_parse_pair(text, len, path, out, err);
    free(text);
    return rc;
}

int sw_keys_load_pub(const char *path, char pub[SW_KEY_Z85], sw_error *err)
{
    char *text;
    size_t len;
    int rc = read_key_file(path, false, &text, &len, err);
    if (rc != SW_OK)
        return rc;
    rc = sw_keys_parse_pub(text, len, path, pub, err);
    free(text);
    return rc;
}

int sw_curve_server(void *sock, const sw_keypair *kp, sw_error *err)
{
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->sec, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "spillway", 8) != 0)
        return sw_errorf(err, SW_ERUNTIME, "CURVE server: %s", zmq_strerror(errno));
    return SW_OK;
}

int sw_curve_client(void *sock, const sw_keypair *kp, const char *server_pub, sw_error *err)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_pub, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, kp->pub, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->sec, 40) != 0)
        return sw_errorf(err, SW_ERUNTIME, "CURVE client: %s", zmq_strerror(errno));
    return SW_OK;
}

/* ---- ZAP (RFC 27) ---- */

struct sw_zap {
    void *ctx;
    void *rep;
    sw_allow *allow; /* owned */
    FILE *log;
    pthread_t thread;
    atomic_bool stop;
    atomic_uint rejected;
};

static void *zap_main(void *arg)
{
    sw_zap *z = arg;
    zmq_pollitem_t item = {.socket = z->rep, .events = ZMQ_POLLIN};
    while (!atomic_load(&z->stop)) {
        if (zmq_poll(&item, 1, 100) <= 0)
            continue;
        /* Request frames: version, request id, domain, address, identity, mechanism, then
         * the mechanism's credentials (CURVE: the 32-byte client public key). */
        zmq_msg_t f[8];
        int nf = 0, more = 1;
        while (more && nf < 8) {
            zmq_msg_init(&f[nf]);
            if (zmq_msg_recv(&f[nf], z->rep, 0) < 0)
                break;
            more = zmq_msg_more(&f[nf]);
            nf++;
        }
        while (more) { /* drain anything beyond what we understand */
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, z->rep, 0);
            more = zmq_msg_more(&extra);
            zmq_msg_close(&extra);
        }
        bool ok = false;
        char key[SW_KEY_Z85] = "", addr[64] = "";
        if (nf >= 7 && zmq_msg_size(&f[5]) == 5 && !memcmp(zmq_msg_data(&f[5]), "CURVE", 5) &&
            zmq_msg_size(&f[6]) == 32) {
            zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
            ok = sw_allow_has_key(z->allow, key);
        }
        if (nf >= 4) {
            size_t an =
                zmq_msg_size(&f[3]) < sizeof addr - 1 ? zmq_msg_size(&f[3]) : sizeof addr - 1;
            memcpy(addr, zmq_msg_data(&f[3]), an);
        }
        if (!ok) {
            atomic_fetch_add(&z->rejected, 1);
            if (z->log) {
                fprintf(z->log,
                        "spillway coordinator: auth: refused client key %s from %s "
                        "(not in the allow list)\n",
                        key[0] ? key : "(none)", addr[0] ? addr : "?");
                fflush(z->log);
            }
        }
        if (nf >= 2) {
            zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
            zmq_send(z->rep, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
            zmq_send(z->rep, ok ? "200" : "400", 3, ZMQ_SNDMORE);
            const char *text = ok ? "OK" : "key not allowed";
            zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE);
            zmq_send(z->rep, ok ? key : "", ok ? strlen(key) : 0, ZMQ_SNDMORE);
            zmq_send(z->rep, "", 0, 0);
        }
        for (int i = 0; i < nf; i++)
            zmq_msg_close(&f[i]);
    }
    zmq_close(z->rep);
    return NULL;
}

int sw_zap_start(void *ctx, sw_allow *allow, FILE *log, sw_zap **out, sw_error *err)
{
    sw_zap *z = calloc(1, sizeof *z);
    if (!z) {
        sw_allow_destroy(allow);
        return sw_errorf(err, SW_ERUNTIME, "zap: out of memory");
    }
    z->ctx = ctx;
    z->log = log;
    z->allow = allow;
    z->rep = zmq_socket(ctx, ZMQ_REP);
    int linger = 0;
    if (!z->rep || zmq_setsockopt(z->rep, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->rep, "inproc://zeromq.zap.01") != 0) {
        int e = errno;
        if (z->rep)
            zmq_close(z->rep);
        sw_allow_destroy(z->allow);
        free(z);
        return sw_errorf(err, SW_ERUNTIME, "zap: cannot bind inproc://zeromq.zap.01: %s",
                         zmq_strerror(e));
    }
    if (pthread_create(&z->thread, NULL, zap_main, z) != 0) {
        zmq_close(z->rep);
        sw_allow_destroy(z->allow);
        free(z);
        return sw_errorf(err, SW_ERUNTIME, "zap: cannot start the thread");
    }
    *out = z;
    return SW_OK;
}

bool sw_zap_may_act(const sw_zap *z, const char *user_id, const char *site, char *why, size_t cap)
{
    if (!z)
        return true; /* no CURVE: nothing to check against (the coordinator warned) */
    if (!user_id || !user_id[0]) {
        sw_pathf(why, cap, "no authenticated key on the connection");
        return false;
    }
    if (sw_allow_permits(z->allow, user_id, site))
        return true;
    char sites[160];
    sw_allow_sites_of(z->allow, user_id, sites, sizeof sites);
    sw_pathf(why, cap, "key %s may act as %s%s, not as '%s'", user_id, sites[0] ? "" : "no site",
             sites, site ? site : "");
    return false;
}

unsigned sw_zap_rejected(const sw_zap *z)
{
    return z ? atomic_load(&((sw_zap *)z)->rejected) : 0;
}

void sw_zap_stop(sw_zap *z)
{
    if (!z)
        return;
    atomic_store(&z->stop, true);
    pthread_join(z->thread, NULL);
    sw_allow_destroy(z->allow);
    free(z);
}

/* ---- transport ---- */

bool sw_endpoint_is_local(const char *ep)
{
    if (!ep)
        return true; /* the default, tcp://127.0.0.1:* */
    if (!strncmp(ep, "ipc://", 6) || !strncmp(ep, "inproc://", 9))
        return true;
    if (strncmp(ep, "tcp://", 6))
        return false;
    const char *h = ep + 6;
    const char *semi = strchr(h, ';'); /* tcp://SOURCE;HOST:PORT: the bound part is HOST */
    if (semi)
        return false;
    size_t hl;
    if (h[0] == '[') {
        const char *close = strchr(h, ']');
        if (!close)
            return false;
        h++;
        hl = (size_t)(close - h);
        return hl == 3 && !memcmp(h, "::1", 3);
    }
    const char *colon = strrchr(h, ':');
    hl = colon ? (size_t)(colon - h) : strlen(h);
    if (hl == 9 && !memcmp(h, "localhost", 9))
        return true;
    /* 127.0.0.0/8, written as four decimal numbers */
    if (hl < 4 || memcmp(h, "127.", 4))
        return false;
    int dots = 0, digits = 0;
    for (size_t i = 0; i < hl; i++) {
        if (h[i] == '.') {
            if (!digits)
                return false;
            dots++;
            digits = 0;
        } else if (h[i] >= '0' && h[i] <= '9' && digits < 3) {
            digits++;
        } else {
            return false;
        }
    }
    return dots == 3 && digits > 0;
}

int sw_transport_check(const char *listen, bool curve, bool insecure, FILE *log, sw_error *err)
{
    if (curve || sw_endpoint_is_local(listen))
        return SW_OK;
    if (!insecure)
        return sw_errorf(err, SW_EINPUT,
                         "--listen %s: not a loopback address, and without --keys agents would "
                         "connect unencrypted and unauthenticated (anyone who reaches it could "
                         "join as any site); expected --keys DIR (docs/exec.md) or --insecure",
                         listen);
    FILE *out = log ? log : stderr;
    fprintf(out,
            "spillway coordinator: WARNING: --insecure: listening on %s without CURVE; anyone "
            "who can reach it can join as any site and read the model\n",
            listen);
    fflush(out);
    return SW_OK;
}
