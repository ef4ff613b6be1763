/* train.h - single-site training: the loop that ties the model, AdamW, the schedule, the
 * data loader, evaluation, the loss log and checkpoints together. Used by `spillway train`
 * (train_cli.c) and by the exec site agents.
 */
#ifndef SW_TRAIN_H
#define SW_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "kernels/data.h"
#include "kernels/kerror.h"
#include "kernels/model.h"
#include "kernels/muon.h"

typedef struct sw_train_options {
    sw_model_config model;      /* shape (from sw_model_preset, possibly adjusted) */
    const char *data_path;      /* text file, byte-tokenized; 90/10 train/val split */
    int64_t steps;              /* total optimizer steps of the run (the schedule spans them) */
    int64_t stop_at_step;       /* > 0: stop (and checkpoint) after this step, to resume later;
                                   0: run to `steps` */
    int batch, seq_len;         /* B sequences of T tokens per step */
    int threads;                /* CPU threads (OpenMP and BLAS) */
    const char *backend;        /* backend name for sw_backend_by_name; NULL: "cpu" */
    int muon;                   /* 0: AdamW on every tensor (lr, beta1, beta2, eps,
                                   weight_decay below); 1: Muon + AdamW as in nanochat, with
                                   the rates and schedules of muon_cfg (kernels/muon.h) */
    sw_muon_config muon_cfg;    /* used when muon = 1 */
    float lr;                   /* AdamW peak learning rate */
    float beta1, beta2, eps;    /* AdamW */
    float weight_decay;         /* AdamW decoupled decay */
    float grad_clip;            /* max global gradient norm; 0 disables */
    int64_t warmup_steps;       /* linear warm-up */
    float warmdown_frac;        /* fraction of steps in the final linear decay */
    float final_lr_frac;        /* LR multiplier at the last step */
    uint64_t seed;              /* parameter initialisation */
    int64_t eval_every;         /* validate every this many steps (and at the end); 0: end only */
    int eval_batches;           /* validation batches of B×T (capped by the split's size) */
    int64_t print_every;        /* progress line every this many steps (and the last) */
    const char *checkpoint_dir; /* NULL: none; else DIR/latest.ckpt, resumed when present */
    int64_t checkpoint_every;   /* also save every this many steps; 0: only at the end */
    const char *log_path;       /* NULL: none; else CSV loss log (appended when resuming) */
    FILE *progress;             /* progress lines go here; NULL: silent */
} sw_train_options;

typedef struct sw_train_result {
    int64_t steps_done;  /* optimizer steps completed, including resumed ones */
    int64_t start_step;  /* 0, or the step a checkpoint resumed from */
    float last_loss;     /* training loss of the last step (nats) */
    float val_loss;      /* validation loss at the end (nats) */
    float val_bpb;       /* validation bits per byte at the end */
    double tokens_per_s; /* training throughput of this run (evaluation excluded) */
    double train_s;      /* seconds spent in training steps */
} sw_train_result;

/* Defaults for the "small" preset on a text file: B=16, T=128, AdamW lr 3e-3 peak
 * (0.9, 0.95, 1e-8), wd 0.0, clip 1.0, no warm-up, 40 % warm-down to 0, eval every 100
 * steps over 20 batches, 1 thread, seed 1337, CPU backend; muon_cfg holds nanochat's values
 * for "small" (call sw_muon_config_default again after changing the model). data_path, steps
 * are left for the caller. */
void sw_train_options_default(sw_train_options *o);

/* Trains as described by o. Returns SW_K_EINPUT for bad options, data or checkpoint (message
 * names the flag, file or field), SW_K_ERUNTIME for failures while running. */
int sw_train_run(const sw_train_options *o, sw_train_result *res, sw_kerror *err);

/* Mean validation loss (nats per token) of m over up to max_batches consecutive B×T shards
 * of span, starting at its beginning. SW_K_EINPUT when the span is too short. */
int sw_evaluate(sw_model *m, const uint8_t *tokens, sw_span span, int B, int T, int max_batches,
                float *loss, sw_kerror *err);

/* Bits per byte of a loss in nats per token for the byte tokenizer (one byte per token). */
float sw_bits_per_byte(float loss_nats);

#endif
