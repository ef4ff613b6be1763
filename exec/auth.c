/* auth.c - CURVE key files and the ZAP allow-list handler (see auth.h). */
#include "exec/auth.h"
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

static int write_file(const char *path, const char *text, mode_t mode, sw_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot create: %s", path, strerror(errno));
    size_t n = strlen(text);
    /* An existing file keeps its old mode through O_CREAT: set it explicitly. */
    bool ok = fchmod(fd, mode) == 0 && write(fd, text, n) == (ssize_t)n;
    ok = (close(fd) == 0) && ok;
    return ok ? SW_OK : sw_errorf(err, SW_ERUNTIME, "%s: cannot write: %s", path, strerror(errno));
}

int sw_keys_generate(const char *dir, const char *name, sw_keypair *out, sw_error *err)
{
    sw_keypair kp;
    if (zmq_curve_keypair(kp.pub, kp.sec) != 0)
        return sw_errorf(err, SW_ERUNTIME, "keygen: zmq_curve_keypair: %s", zmq_strerror(errno));
    char parent[4096];
    sw_pathf(parent, sizeof parent, "%s", dir);
    for (char *p = parent + 1; *p; p++) /* parents as needed, like mkdir -p */
        if (*p == '/') {
            *p = '\0';
            mkdir(parent, 0755);
            *p = '/';
        }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot create folder: %s", dir, strerror(errno));
    char path[4096], text[256];
    sw_pathf(path, sizeof path, "%s/%s.key", dir, name);
    sw_pathf(text, sizeof text, "public = %s\nsecret = %s\n", kp.pub, kp.sec);
    int rc = write_file(path, text, 0600, err);
    if (rc == SW_OK) {
        sw_pathf(path, sizeof path, "%s/%s.pub", dir, name);
        sw_pathf(text, sizeof text, "%s\n", kp.pub);
        rc = write_file(path, text, 0644, err);
    }
    if (rc == SW_OK && out)
        *out = kp;
    return rc;
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

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

int sw_keys_load_pair(const char *path, sw_keypair *out, sw_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return sw_errorf(err, SW_EINPUT, "%s: cannot read key: %s", path, strerror(errno));
    if (st.st_mode & 077)
        return sw_errorf(err, SW_EINPUT,
                         "%s: secret key is readable by others (mode %03o); "
                         "chmod 600 it",
                         path, (unsigned)(st.st_mode & 0777));
    FILE *f = fopen(path, "r");
    if (!f)
        return sw_errorf(err, SW_EINPUT, "%s: cannot read key: %s", path, strerror(errno));
    char line[256];
    sw_keypair kp = {{0}, {0}};
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        chomp(line);
        char *v;
        char *dst;
        if (!strncmp(line, "public = ", 9)) {
            v = line + 9;
            dst = kp.pub;
        } else if (!strncmp(line, "secret = ", 9)) {
            v = line + 9;
            dst = kp.sec;
        } else {
            continue;
        }
        if (!z85_key(v)) {
            fclose(f);
            return sw_errorf(err, SW_EINPUT, "%s:%d: expected a 40-character Z85 key", path,
                             lineno);
        }
        memcpy(dst, v, SW_KEY_Z85);
    }
    fclose(f);
    if (!kp.pub[0] || !kp.sec[0])
        return sw_errorf(err, SW_EINPUT, "%s: expected lines 'public = KEY' and 'secret = KEY'",
                         path);
    *out = kp;
    return SW_OK;
}

int sw_keys_load_pub(const char *path, char pub[SW_KEY_Z85], sw_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sw_errorf(err, SW_EINPUT, "%s: cannot read key: %s", path, strerror(errno));
    char line[256] = "";
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    chomp(line);
    if (!got || !z85_key(line))
        return sw_errorf(err, SW_EINPUT, "%s:1: expected a 40-character Z85 public key", path);
    memcpy(pub, line, SW_KEY_Z85);
    return SW_OK;
}

int sw_keys_load_authorized(const char *dir, char (**keys)[SW_KEY_Z85], size_t *n, sw_error *err)
{
    char path[4096];
    sw_pathf(path, sizeof path, "%s/authorized", dir);
    DIR *d = opendir(path);
    if (!d)
        return sw_errorf(err, SW_EINPUT, "%s: cannot open the allow list folder: %s", path,
                         strerror(errno));
    *keys = NULL;
    *n = 0;
    size_t cap = 0;
    struct dirent *e;
    int rc = SW_OK;
    while (rc == SW_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".pub"))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            void *p = realloc(*keys, cap * sizeof **keys);
            if (!p) {
                rc = sw_errorf(err, SW_ERUNTIME, "keys: out of memory");
                break;
            }
            *keys = p;
        }
        char file[4400];
        sw_pathf(file, sizeof file, "%s/%s", path, e->d_name);
        rc = sw_keys_load_pub(file, (*keys)[*n], err);
        if (rc == SW_OK)
            (*n)++;
    }
    closedir(d);
    if (rc != SW_OK) {
        free(*keys);
        *keys = NULL;
        *n = 0;
    }
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
    char (*keys)[SW_KEY_Z85];
    size_t n;
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
            for (size_t i = 0; i < z->n && !ok; i++)
                ok = !strcmp(key, z->keys[i]);
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

int sw_zap_start(void *ctx, const char (*keys)[SW_KEY_Z85], size_t n, FILE *log, sw_zap **out,
                 sw_error *err)
{
    sw_zap *z = calloc(1, sizeof *z);
    if (!z)
        return sw_errorf(err, SW_ERUNTIME, "zap: out of memory");
    z->ctx = ctx;
    z->log = log;
    z->n = n;
    z->keys = n ? malloc(n * sizeof *z->keys) : NULL;
    if (n && !z->keys) {
        free(z);
        return sw_errorf(err, SW_ERUNTIME, "zap: out of memory");
    }
    if (n)
        memcpy(z->keys, keys, n * sizeof *z->keys);
    z->rep = zmq_socket(ctx, ZMQ_REP);
    int linger = 0;
    if (!z->rep || zmq_setsockopt(z->rep, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->rep, "inproc://zeromq.zap.01") != 0) {
        int e = errno;
        if (z->rep)
            zmq_close(z->rep);
        free(z->keys);
        free(z);
        return sw_errorf(err, SW_ERUNTIME, "zap: cannot bind inproc://zeromq.zap.01: %s",
                         zmq_strerror(e));
    }
    if (pthread_create(&z->thread, NULL, zap_main, z) != 0) {
        zmq_close(z->rep);
        free(z->keys);
        free(z);
        return sw_errorf(err, SW_ERUNTIME, "zap: cannot start the thread");
    }
    *out = z;
    return SW_OK;
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
    free(z->keys);
    free(z);
}
