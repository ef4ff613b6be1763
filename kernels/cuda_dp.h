/* cuda_dp.h - data parallelism within a site: one model replica per GPU, each step's batch
 * split across them, gradients averaged with NCCL (cuda_backend.h), identical AdamW updates on
 * every replica so they stay equal; rank 0's replica is the site's model (what a FedAvg round
 * uploads and what checkpoints hold). Built without CUDA, sw_dp_create and sw_dp_train fail
 * with "built without CUDA".
 *
 * Threads: one host thread per GPU for each step (each bound to its device), joined before
 * sw_dp_step returns. The calling thread is bound to rank 0's device, so it may use rank 0's
 * model directly (evaluate, checkpoint) between steps.
 */
#ifndef SW_CUDA_DP_H
#define SW_CUDA_DP_H

#include <stdint.h>

#include "kernels/kerror.h"
#include "kernels/model.h"
#include "kernels/optim.h"
#include "kernels/train.h"

typedef struct sw_dp sw_dp;

/* Creates n replicas of cfg on GPUs gpus[0..n-1] (distinct CUDA device indices), backend
 * "cuda" (bf16 = 0) or "cuda-bf16", initialised from seed (the same on every rank), each with
 * its AdamW state. NULL with err filled on failure. The caller owns it (sw_dp_destroy). */
sw_dp *sw_dp_create(const sw_model_config *cfg, const int *gpus, int n, int bf16, uint64_t seed,
                    const sw_adamw_config *adamw, sw_kerror *err);

void sw_dp_destroy(sw_dp *dp);

/* Number of replicas. */
int sw_dp_size(const sw_dp *dp);

/* Rank r's model and optimizer (rank 0: the site's copy). Owned by dp. */
sw_model *sw_dp_model(sw_dp *dp, int rank);
sw_adamw *sw_dp_optimizer(sw_dp *dp, int rank);

/* One optimizer step over n·B sequences: inputs and targets hold n·B·T ids, rank r taking rows
 * r·B .. r·B+B-1. Each rank: forward, backward; then the gradient average (buckets of
 * NCCL all-reduce), clipping to grad_clip (0: off), AdamW at lr. *loss: the mean over ranks
 * (nats); *grad_norm: the norm before clipping. */
int sw_dp_step(sw_dp *dp, const int32_t *inputs, const int32_t *targets, int B, int T, float lr,
               float grad_clip, float *loss, float *grad_norm, sw_kerror *err);

/* Copies rank 0's parameters and optimizer state to every other rank (after loading a
 * checkpoint or a new global model into rank 0). */
int sw_dp_broadcast(sw_dp *dp, sw_kerror *err);

/* `spillway train --gpus ...`: the loop of sw_train_run (schedule, clipping, progress lines,
 * validation on rank 0 at the end only, DIR/latest.ckpt resumed and saved at the end) over n
 * GPUs, o->batch sequences per GPU. --log and --stop-at are refused with SW_K_EINPUT. */
int sw_dp_train(const sw_train_options *o, const int *gpus, int n, int bf16, sw_train_result *res,
                sw_kerror *err);

#endif
