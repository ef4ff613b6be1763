/* coord_int.h - the coordinator's private state and the functions its files share:
 *   coord.c       set-up, the loop, engine actions, the end of the run
 *   coord_msg.c   membership and messages: joins, the agents' messages, heartbeats, failures
 *   coord_data.c  the data: the byte corpus or a dataset's manifest (exec.data), validation
 *   coord_eval.c  validation of the global model (in a thread)
 *   coord_ckpt.c  the checkpoint: writing it, reading it, resuming from it
 *   coord_net.c   the ROUTER socket, CURVE keys of a local run
 * Everything the report says is the run session's (core/run.h); this state is the driver's.
 */
#ifndef SW_EXEC_COORD_INT_H
#define SW_EXEC_COORD_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/run.h"
#include "core/shards.h"
#include "exec/auth.h"
#include "exec/coord.h"
#include "exec/link.h"
#include "exec/proto.h"
#include "exec/provision.h"
#include "exec/rapl.h"
#include "kernels/data.h"
#include "kernels/manifest.h"
#include "kernels/model.h"

typedef struct csite {
    int idx;
    const sw_scenario_site *sc;
    /* provisioning */
    bool provisioning;
    double prov_t_s, prov_mono;
    sw_prov_site prov;
    /* the agent */
    bool joined;
    sw_peer peer;
    sw_peer departing; /* a released agent, until its LEAVE (id_len 0: none) */
    double last_seen;
    double join_t_s;                 /* run time the agent joined */
    int64_t steps_base, tokens_base; /* the site's totals when this agent joined */
    /* the round */
    bool member;
    int64_t round; /* engine round */
    sw_xfer_tx tx;
    sw_xfer_rx rx;
    float *upload;
    bool have_work, have_upload;
    sw_msg_work work;
    double dl_mono0, dl_mono1, ul_mono0, ul_mono1;
    /* wall time by phase (the phase itself is the session's) */
    double ph_mono0;
    double wall_by_phase[SW_PHASE_COUNT];
    /* totals */
    int64_t steps_total, tokens_total;
} csite;

#define EVQ_MAX 256

typedef struct coord {
    const sw_coord_options *o;
    const sw_scenario *sc;
    sw_provisioner prov;
    char run_dir[2048];
    char endpoint[512];
    char keys_root[2200];
    double compression;
    /* clocks */
    double mono0, t_base; /* run time = t_base + (mono - mono0) * compression */
    double start_realtime;
    sw_rapl rapl; /* the host's package energy, when readable (reported beside the model) */
    /* core: the run session (engine, ledger, report, figures) and the data shards */
    sw_run *run;
    sw_engine *engine; /* the session's, for reading its state */
    sw_shards *shards;
    csite *sites;
    size_t n_sites;
    /* events for the engine */
    sw_event evq[EVQ_MAX];
    double evq_t[EVQ_MAX];
    char evq_detail[EVQ_MAX][96];
    size_t n_evq;
    /* model */
    sw_model *eval_model;
    size_t n_params;
    int vocab_size; /* the model's vocabulary rows */
    float *global, *momentum;
    uint32_t global_crc;
    sw_text text;         /* the byte corpus (no exec.data) */
    sw_span train, val;   /* ... and its split */
    sw_manifest manifest; /* exec.data's manifest */
    bool have_manifest;
    size_t bt;             /* tokens per step, B x T */
    uint64_t data_tokens;  /* the shard manager's dataset (the run's token target) */
    uint64_t shard_tokens; /* its shards */
    /* validation of the global model, in a thread so that it never holds up the rounds */
    pthread_t eval_th;
    bool eval_running;
    atomic_bool eval_done;
    float eval_loss;
    int eval_rc;
    char eval_msg[512];
    sw_run_round eval_round; /* the round being validated (loss filled in at the end) */
    /* messaging */
    void *ctx, *router;
    sw_zap *zap;
    double last_hb;
    /* driver counts */
    unsigned rejected, failures;
    size_t next_failure; /* the next of the run's injected failures (sw_run_failure_at) */
    /* the next checkpoint's shards and engine, captured at the last aggregation */
    uint8_t *ck_shards, *ck_engine;
    size_t ck_shards_len, ck_engine_len;
    int64_t ck_round_next; /* the next round as the captured engine sees it */
    size_t jr_written;     /* journal bytes in RUN_DIR/coordinator.journal */
    uint32_t jr_crc;       /* ... and their CRC-32 */
    bool resumed;
    int status;
    sw_error err;
} coord;

/* ---- coord.c: clock, log, failure, phases, engine events ---- */
double coord_mono_s(void);
double coord_real_s(void);
double coord_run_t(const coord *c); /* run (trace) time now, s */
void coord_log(coord *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the coordinator's first runtime failure (the run then stops); returns code. */
int coord_fail(coord *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void coord_set_phase_at(coord *c, csite *s, sw_phase p, double now);
void coord_set_phase(coord *c, csite *s, sw_phase p);
sw_phase coord_phase_of(const coord *c, const csite *s);
void coord_push_event(coord *c, double t_s, sw_event_kind kind, int site, int64_t round,
                      uint64_t tokens, const char *detail);

/* ---- coord_msg.c ---- */
void coord_send_to(coord *c, csite *s, sw_msg_type t, int64_t round, const void *pl, size_t n);
void coord_reject(coord *c, const char *who, const char *why);
/* The site is lost: tell the engine, take its leases back, stop its process. */
void coord_site_failed(coord *c, csite *s, const char *why);
void coord_site_failed_at(coord *c, csite *s, const char *why, double t_s); /* at run time t_s */
void coord_drain_socket(coord *c); /* receives everything waiting on the ROUTER */
void coord_check_sites(coord *c);  /* readiness, heartbeats, provisioners, transfers */

/* ---- coord_data.c ---- */
/* The model's shape: exec.preset with exec.vocab rows when given. */
int coord_model_config(const sw_scenario *sc, sw_model_config *mc, sw_error *err);
/* Loads the byte corpus or exec.data's manifest (checked against mc's vocabulary and
 * exec.tokenizer); sets bt, data_tokens and shard_tokens. SW_EINPUT naming the key. */
int coord_data_setup(coord *c, const sw_model_config *mc, sw_error *err);
/* The WELCOME's data fields: kind, path, the manifest's tokenizer CRC and training tokens. */
void coord_data_welcome(const coord *c, sw_msg_welcome *w);
/* Mean validation loss per token of model (nats) over up to eval_batches batches. */
int coord_data_evaluate(coord *c, sw_model *model, float *loss, sw_kerror *ke);
/* Bits per byte of a validation loss: / ln 2 / (the validation text's bytes per token). */
double coord_data_bits_per_byte(const coord *c, double loss_nats);
void coord_data_free(coord *c);

/* ---- coord_eval.c ---- */
void coord_evaluate_global(coord *c, double *loss_out);
void coord_eval_start(coord *c);
void coord_eval_collect(coord *c, bool wait);

/* ---- coord_ckpt.c ---- */
void coord_checkpoint_path(const coord *c, char *buf, size_t cap);
void coord_checkpoint_capture(coord *c); /* at an aggregation: shards and engine */
int coord_checkpoint_write(coord *c, sw_error *err);
int coord_resume(coord *c, const char *cpath, sw_error *err);
void coord_journal_reset(coord *c); /* a new run: removes an earlier run's journal file */

/* ---- coord_net.c ---- */
int coord_local_keys(coord *c, char *keys_dir, size_t cap, sw_error *err);
int coord_setup_socket(coord *c, const char *keys_dir, sw_error *err);

#endif
