/* agent.h - a site agent: joins the coordinator, trains the model it is sent on the data
 * leases it is given, returns its work when told to stop, and leaves when released.
 *
 * The agent decides nothing about scheduling: it follows PLAN, STOP and RELEASE messages
 * (docs/formats/protocol.md). It trains with kernels/ (forward, backward, clip, AdamW; its
 * inner optimizer state stays local for as long as the process lives, as in DiLoCo) and
 * heartbeats between steps so the coordinator can tell a dead site from a slow one.
 */
#ifndef SW_EXEC_AGENT_H
#define SW_EXEC_AGENT_H

#include <stdio.h>

#include "core/error.h"

typedef struct sw_agent_options {
    const char *coordinator;      /* ZeroMQ endpoint, e.g. tcp://127.0.0.1:5555 or ipc:///tmp/x */
    const char *site;             /* scenario site name */
    const char *keys_dir;         /* NULL: no CURVE; else DIR/agent.key and DIR/coordinator.pub */
    const char *data_path;        /* NULL: the path the coordinator sends */
    const char *backend;          /* kernels backend name (sw_backend_by_name); NULL: "cpu" */
    double coordinator_timeout_s; /* give up when the coordinator is silent this long [10] */
    FILE *log;                    /* progress and errors (NULL: silent) */
} sw_agent_options;

/* Parses agent flags (argv[0] is the command name): --coordinator ADDR --site NAME
 * [--keys DIR] [--data FILE] [--backend NAME] [--coordinator-timeout S]. SW_EINPUT naming
 * the flag on a bad or missing one (an unknown or unavailable backend included); *help set
 * for --help/-h. Strings point into argv. */
int sw_agent_parse_args(int argc, char **argv, sw_agent_options *o, int *help, sw_error *err);

/* Usage text of `spillway agent`. */
void sw_agent_usage(FILE *out);

/* Runs the agent until released (SW_OK), rejected (SW_EINPUT), or the coordinator is lost or
 * something fails (SW_ERUNTIME). SIGTERM/SIGINT make it leave gracefully (SW_OK). */
int sw_agent_run(const sw_agent_options *o, sw_error *err);

#endif
