/* sockopt.c - checked ZeroMQ socket options (see sockopt.h). */
#include "exec/sockopt.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

int sw_sockopts_set(void *sock, const sw_sockopt *opts, size_t n, const char *who, sw_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const sw_sockopt *o = &opts[i];
        if (zmq_setsockopt(sock, o->option, o->value, o->len) != 0)
            return sw_errorf(err, SW_ERUNTIME, "%s: zmq_setsockopt(%s): %s", who, o->name,
                             zmq_strerror(errno));
        if (!o->verify)
            continue;
        unsigned char back[64];
        size_t blen = o->len; /* libzmq wants the option's exact size */
        if (o->len > sizeof back || zmq_getsockopt(sock, o->option, back, &blen) != 0 ||
            blen != o->len || memcmp(back, o->value, o->len) != 0)
            return sw_errorf(err, SW_ERUNTIME, "%s: %s did not take the value set", who, o->name);
    }
    return SW_OK;
}
