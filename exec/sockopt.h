/* sockopt.h - ZeroMQ socket options set from a table, every result checked: a refused option
 * (ZMQ_MAXMSGSIZE above all: the size limit that keeps a peer from exhausting memory) is an
 * error naming it, never ignored. */
#ifndef SW_EXEC_SOCKOPT_H
#define SW_EXEC_SOCKOPT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct sw_sockopt {
    int option;        /* ZMQ_... */
    const char *name;  /* "ZMQ_MAXMSGSIZE", for messages */
    const void *value; /* borrowed */
    size_t len;
    bool verify; /* read back and compare (options libzmq lets one read) */
} sw_sockopt;

/* Sets each option on sock in order. SW_ERUNTIME naming `who`, the option and libzmq's reason
 * at the first one refused (or read back different). */
int sw_sockopts_set(void *sock, const sw_sockopt *opts, size_t n, const char *who, sw_error *err);

#endif
