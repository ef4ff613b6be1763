/* model.h - the decoder-only transformer that spillway trains: configuration, presets,
 * parameter layout, size and cost, and the model object (forward, backward).
 *
 * Architecture (the nanochat "GPT" of the reference study, docs/kernels.md has the math):
 *   x = rmsnorm(wte[token])
 *   per layer: x += Wo · attn(qknorm(rope(Wq·n)), qknorm(rope(Wk·n)), Wv·n), n = rmsnorm(x)
 *              x += Wproj · relu(Wfc · rmsnorm(x))^2
 *   logits = softcap · tanh((lm_head · rmsnorm(x)) / softcap)
 * No biases, no learned norm gains, no position embedding (rotary instead), causal attention
 * with 1/sqrt(head_dim) scaling. The lm_head is either its own matrix (nanochat) or the
 * embedding itself (tied, GPT-2 style).
 *
 * Parameters live in one contiguous float buffer, gradients in another of the same layout,
 * so checkpointing, averaging and synchronisation move a single array. Layout, in order:
 *   wte [V, C]; then for each layer l: wqkv [3C, C], wo [C, C], wfc [4C, C], wproj [C, 4C];
 *   then lm_head [V, C] unless tied.
 * Every matrix is stored row-major as [out, in] (PyTorch's nn.Linear convention).
 */
#ifndef SW_MODEL_H
#define SW_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/kerror.h"

typedef struct sw_model_config {
    char name[32];      /* preset name, or a free label for a custom config */
    int n_layer;        /* number of transformer blocks L */
    int n_embd;         /* model width C (residual stream), divisible by n_head */
    int n_head;         /* attention heads; head_dim = n_embd / n_head, must be even (rope) */
    int vocab_size;     /* V; 256 for the byte-level presets */
    int max_seq_len;    /* context length T_max (rope table size, FLOP estimate) */
    int tie_embeddings; /* 1: logits use wte (no lm_head tensor); 0: separate lm_head */
    float softcap;      /* logit soft cap (nanochat: 15); 0 disables it */
    float rope_base;    /* rotary base frequency (10000) */
} sw_model_config;

/* Fills cfg with the named preset: "tiny" (tests), "small" (a few M params, CPU minutes),
 * "gpt2-124m" (GPT-2 small shape, tied) or "nanochat-d20" (the study's 561M model).
 * Returns SW_K_OK, or SW_K_EINPUT for an unknown name (cfg untouched). */
int sw_model_preset(const char *name, sw_model_config *cfg);

/* Returns the list of preset names, NULL-terminated (static storage). */
const char *const *sw_model_preset_names(void);

/* Checks a configuration (positive sizes, divisibility, even head_dim). SW_K_EINPUT names
 * the offending field. */
int sw_model_config_check(const sw_model_config *cfg, sw_kerror *err);

/* Number of float parameters of the model (the length of the parameter buffer). */
size_t sw_model_param_count(const sw_model_config *cfg);

/* Training FLOPs per token (forward + backward) at the config's context length:
 *   6 · N_matmul + 12 · L · C · T_max
 * N_matmul counts the parameters used in matrix products, i.e. all of them except an untied
 * embedding table (a lookup, not a product); the second term is attention's QK^T and AV
 * products (forward 2·2·T·C per layer and token, backward twice that, counted over the full
 * T×T square as nanochat's estimate_flops does). */
double sw_model_flops_per_token(const sw_model_config *cfg);

/* Same estimate at an explicit sequence length seq_len (benchmarks at short T). */
double sw_model_flops_per_token_at(const sw_model_config *cfg, int seq_len);

/* One tensor of the parameter layout. */
typedef struct sw_tensor_info {
    char name[32]; /* "wte", "h.3.attn.wqkv", "h.3.attn.wo", "h.3.mlp.wfc", "h.3.mlp.wproj",
                      "lm_head" */
    size_t offset; /* first element in the parameter buffer */
    size_t rows;   /* out features (or vocabulary rows) */
    size_t cols;   /* in features */
} sw_tensor_info;

/* Number of tensors in the layout: 1 + 4·L (+1 when untied). */
size_t sw_model_tensor_count(const sw_model_config *cfg);

/* Describes tensor i (0-based, in layout order). Returns SW_K_EINPUT when i is out of range. */
int sw_model_tensor(const sw_model_config *cfg, size_t i, sw_tensor_info *out);

/* The model object: parameters, gradients and the activations of the last forward pass. */
typedef struct sw_model sw_model;

/* Allocates a model for cfg on backend be (NULL = the CPU backend). Parameters and gradients
 * start at zero; call sw_model_init_params. Returns NULL and fills err on failure. The caller
 * owns the model (sw_model_destroy). */
sw_model *sw_model_create(const sw_model_config *cfg, const sw_backend *be, sw_kerror *err);

/* Frees the model and everything it owns. NULL is fine. */
void sw_model_destroy(sw_model *m);

/* The model's configuration (owned by the model). */
const sw_model_config *sw_model_config_of(const sw_model *m);

/* The backend the model's buffers live on (the one given to sw_model_create, or the CPU's). */
const sw_backend *sw_model_backend(const sw_model *m);

/* The parameter and gradient buffers, each sw_model_num_params floats, in the layout above.
 * Owned by the model; valid until sw_model_destroy. */
float *sw_model_params(sw_model *m);
float *sw_model_grads(sw_model *m);
size_t sw_model_num_params(const sw_model *m);

/* Deterministic initialisation from seed (nanochat's scheme): wte ~ N(0,1) (N(0,1/C) when
 * tied), wqkv and wfc ~ U(±sqrt(3/C)), wo, wproj and lm_head zero. */
void sw_model_init_params(sw_model *m, uint64_t seed);

/* Runs the model on B sequences of T tokens (inputs[B*T], ids < V, T <= max_seq_len).
 * With targets (B*T ids) it also computes the mean cross-entropy in nats into *loss and
 * keeps what backward needs; with targets NULL it only computes logits. Returns SW_K_EINPUT
 * for bad sizes or out-of-range ids, SW_K_ERUNTIME when memory runs out. */
int sw_model_forward(sw_model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                     float *loss, sw_kerror *err);

/* The (soft-capped) logits of the last forward pass, [B*T, V] row-major, owned by the model.
 * Valid until the next forward or backward (backward overwrites them with their gradient). */
const float *sw_model_logits(const sw_model *m);

/* Sets every gradient to zero. */
void sw_model_zero_grad(sw_model *m);

/* Back-propagates the loss of the last forward pass (which must have had targets) and ADDS
 * d(loss)/d(params) into the gradient buffer (so micro-batches accumulate; zero it first).
 * Returns SW_K_EINPUT when there is no forward pass with targets to differentiate. */
int sw_model_backward(sw_model *m, sw_kerror *err);

#endif
