/* coord.h - the coordinator: the exec driver of the core engine.
 *
 * It owns the wall clock (run time = wall time x exec.time_compression, in trace seconds, so
 * the signal, carbon and report line up with sim), a ZeroMQ ROUTER that site agents join, the
 * provisioners (exec/provision.h), the data-shard manager, the global model and the report.
 * Every decision comes from the engine: the coordinator turns its actions into processes and
 * messages, and agents' messages (ready, work, silence) into engine events.
 *
 * Faults: a site silent for heartbeat_timeout_s (wall) is SW_EV_SITE_FAILED and its open
 * data leases return to the pool; after each aggregation a checkpoint (global model, outer
 * momentum, shards, round number, report and ledger journal) lets a restarted coordinator
 * (resume) lose at most the round in progress. Malformed, oversized and unauthenticated
 * messages are rejected and logged (docs/formats/protocol.md).
 */
#ifndef SW_EXEC_COORD_H
#define SW_EXEC_COORD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/scenario.h"

typedef struct sw_coord_options {
    const sw_scenario *sc;      /* borrowed */
    const char *out_path;       /* report (temp name until complete) */
    const char *listen;         /* endpoint to bind; NULL: tcp://127.0.0.1:* (a free port) */
    const char *advertise;      /* address agents connect to; NULL: the bound endpoint */
    int provisioner;            /* sw_provisioner_kind, or -1: the scenario's exec.provisioner */
    const char *provision_cmd;  /* command provisioner */
    const char *release_cmd;    /* command provisioner, may be NULL */
    double cmd_timeout_s;       /* command provisioner time limit, wall s [120] */
    const char *agent_exe;      /* local: binary run as `EXE agent ...`; NULL: /proc/self/exe */
    const char *keys_dir;       /* DIR/coordinator.key + DIR/authorized/NAME.pub; NULL: local
                                   generates keys in RUN_DIR/keys, others run without CURVE */
    bool insecure;              /* no CURVE at all */
    const char *run_dir;        /* checkpoint, agent logs, keys; NULL: <out_path>.run */
    bool resume;                /* continue from RUN_DIR/coordinator.ckpt when it exists */
    double heartbeat_timeout_s; /* wall s of silence before a site is failed [5] */
    double join_timeout_s;      /* wall s after the provisioning delay for an agent to join [30] */
    const char *data_path;      /* corpus [corpus/tinyshakespeare.txt] */
    int eval_batches;           /* validation batches of the global model [4] */
    float lr;                   /* agents' inner AdamW learning rate [3e-3] */
    uint32_t chunk_bytes;       /* model transfer chunk [1 MiB] */
    uint32_t window_chunks;     /* chunks in flight [8] */
    const char *created_utc;    /* fixed report time (tests); NULL: now */
    FILE *log;                  /* what happens, and every rejected message (NULL: silent) */
} sw_coord_options;

typedef struct sw_coord_result {
    double runtime_h, energy_kwh, carbon_kg, final_ppl;
    int64_t rounds, tokens;
    unsigned rejected_messages; /* malformed, oversized, out-of-place */
    unsigned rejected_clients;  /* refused by the CURVE allow list */
    unsigned failures;          /* sites failed */
    bool resumed;
    double wall_s;
    double train_wall_s, sync_wall_s, idle_wall_s; /* summed over sites, wall s */
} sw_coord_result;

/* Fills o with the defaults above (sc, out_path left NULL). */
void sw_coord_options_default(sw_coord_options *o);

/* Runs the scenario to its end and writes the report. result may be NULL. SW_EINPUT for a bad
 * scenario, keys, corpus or checkpoint (message names it); SW_ERUNTIME otherwise. SIGINT or
 * SIGTERM end the run early: sites are released and the report is written. */
int sw_coord_run(const sw_coord_options *o, sw_coord_result *result, sw_error *err);

#endif
