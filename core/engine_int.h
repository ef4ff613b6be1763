/* engine_int.h - the engine's private state, shared by engine.c (the rules) and
 * engine_snapshot.c (saving and restoring it). Nothing else includes this. */
#ifndef SW_ENGINE_INT_H
#define SW_ENGINE_INT_H

#include "core/engine.h"

typedef struct site_rt {
    char *name;
    size_t region;
    double provision_s;
    double lead_s;
    bool late_noted[2]; /* SW_REC_LATE written: [0] provisioning, [1] joining a round */
    sw_site life;
    sw_policy *policy;
    double next_eval_s; /* next policy evaluation, run s */
    double mci;         /* signal at the last evaluation, g/kWh (NaN: none) */
    char why[128];      /* the policy's reason for its current wish */
} site_rt;

typedef struct queued {
    sw_action a;
    void *payload; /* owns a.sites / a.weights / a.tokens */
} queued;

struct sw_engine {
    double start_unix_s;
    double end_s;
    double horizon_s; /* end_s - wind_down_s */
    const sw_trace *trace;
    sw_rounds_config rounds;
    uint64_t tokens_target;
    size_t max_active;

    size_t n;
    site_rt *sites;

    double now_s;
    bool round_active;
    sw_round round;
    const char *round_end_why; /* set when a single-site round got its deadline */
    int64_t next_round_id;
    int64_t rounds_completed;
    uint64_t tokens;
    bool finishing;     /* horizon or target reached: no new provisioning, no new rounds */
    double finishing_s; /* when finishing began (policies are not evaluated from then on) */
    bool done;
    char finish_why[96];

    queued *q; /* actions not yet handed to the driver */
    size_t qn, qcap;
    void **spent; /* payloads handed out by the previous step, freed by the next */
    size_t spent_n, spent_cap;

    sw_engine_record *recs;
    size_t rn, rcap;

    sw_error err;
    bool broken; /* out of memory or a broken invariant: the engine stops deciding */
};

#endif
