/* convergence.h - the modelled loss of the simulator (DESIGN §4).
 *
 * The simulator cannot train, so the loss of the global model is a function of the tokens it
 * has effectively learned from:
 *
 *   L(D, P) = min(E + B * D^-beta, loss_max) - anneal * w(P)
 *
 *   D  effective tokens: tokens trained into the global model, each round's tokens discounted
 *      by the federated efficiency eff(n, h) (1 for a single site);
 *   P  schedule tokens: tokens processed by all sites (the position in the LR schedule);
 *   w  fraction of the LR warm-down completed at P (0 before the warm-down, 1 at its end): the
 *      learning-rate decay of the last warmdown_frac of the schedule lowers the loss by up to
 *      `anneal` nats on top of the data-scaling law.
 *
 * Federated efficiency of a round where n sites trained h local optimizer steps each since
 * the last synchronization, then were averaged:
 *
 *   eff(n, h) = 1/n + (1 - 1/n) * h0 / (h0 + h)
 *
 * eff = 1 for one site or when syncing every step (h -> 0: data-parallel training), and tends
 * to 1/n (only one site's worth of tokens survives the average) when the sites drift apart for
 * h >> h0 steps. h0 (local steps) is the one fitted parameter. With unequal work per site the
 * participation ratio n = (sum tokens)^2 / sum tokens^2 is used, so a round where one site did
 * nearly all the work counts as nearly single-site. See docs/convergence.md for the fit.
 *
 * Units: tokens, nats per token, optimizer steps. Pure functions, no I/O except the YAML text
 * written into a caller buffer.
 */
#ifndef SW_CONVERGENCE_H
#define SW_CONVERGENCE_H

#include <stddef.h>

#include "core/error.h"

typedef struct sw_convergence_params {
    double e_nats;          /* E: irreducible loss of the scaling law, nats/token */
    double b;               /* B: scale of the power law, with D in tokens */
    double beta;            /* beta: data-scaling exponent (> 0) */
    double loss_max_nats;   /* cap of the law at small D: the untrained loss ln(vocab) */
    double schedule_tokens; /* tokens of the whole LR schedule (steps x batch); 0 = no warm-down */
    double warmdown_frac;   /* fraction of the schedule in linear LR warm-down, in [0, 1) */
    double anneal_nats;     /* loss drop when the warm-down completes, nats/token (>= 0) */
    double eff_h0_steps;    /* h0 of eff(n, h), local optimizer steps; INFINITY = no penalty */
} sw_convergence_params;

/* h0 of the federated efficiency under a DiLoCo-style Nesterov outer step (outer lr 0.7,
 * momentum 0.9), local steps: an assumption, not a fit. Douillard et al., "DiLoCo:
 * Distributed Low-Communication Training of Language Models" (arXiv:2311.08105), report that
 * 8 workers with 500 inner steps between outer Nesterov steps perform as well as fully
 * synchronous training on C4; read as eff(8, 500) = 0.95 in the form of eff(n, h)
 * (docs/convergence.md), 1/8 + 7/8 * h0/(h0 + 500) = 0.95 gives h0 = 8250 steps. */
#define SW_CONVERGENCE_NESTEROV_H0_STEPS 8250.0

/* Diagnostics of one fit, for the YAML comment block and `spillway calibrate`'s report. */
typedef struct sw_convergence_fit {
    int fitted;                 /* 0: this fit was not done (the rest is meaningless) */
    size_t n_points;            /* log rows used (those at or beyond skip_tokens) */
    size_t iterations;          /* trust-region iterations */
    double skip_tokens;         /* rows before this many tokens were left out */
    double rmse_nats;           /* root-mean-square residual of the fitted model over the rows */
    double rmse_reference_nats; /* federated fit: same rows with eff = 1; scaling fit: NAN */
    double stderr_[4];          /* standard errors: scaling (E, B, beta, anneal); federated (h0) */
    double final_log_nats;      /* mean logged loss over the last 2% of the run's tokens */
    double final_model_nats;    /* mean modelled loss over the same rows */
    char source[256];           /* the log the fit read (a path), "" if unknown */
} sw_convergence_fit;

/* Fills *p with the parameters fitted to the reference logs of nanochat d20 (561M params,
 * 524,288 tokens/step, 23,400-step schedule with a 40% warm-down). */
void sw_convergence_d20_defaults(sw_convergence_params *p);

/* Checks that the parameters are usable (finite, beta > 0, B > 0, fractions in range...).
 * SW_EINPUT with a message naming the field otherwise. */
int sw_convergence_params_check(const sw_convergence_params *p, sw_error *err);

/* Fraction of the LR warm-down completed after schedule_tokens tokens, in [0, 1]. */
double sw_convergence_warmdown(const sw_convergence_params *p, double schedule_tokens);

/* Modelled loss (nats/token) of a model that learned effective_tokens, at LR-schedule position
 * schedule_tokens (both >= 0). */
double sw_convergence_loss_at(const sw_convergence_params *p, double effective_tokens,
                              double schedule_tokens);

/* Loss of one site training alone (no averaging): loss_at(p, tokens, tokens). */
double sw_convergence_loss(const sw_convergence_params *p, double effective_tokens);

/* eff(n, h) above for n_sites (>= 1, may be fractional: a participation ratio) and h local
 * optimizer steps per site since the last synchronization. In (1/n, 1]. */
double sw_convergence_efficiency(const sw_convergence_params *p, double n_sites,
                                 double local_steps);

/* The state of the global model that the simulator advances once per round. Plain struct so
 * a driver can embed it; treat the fields as read-only outside this module. */
typedef struct sw_convergence_state {
    sw_convergence_params params;
    double effective_tokens; /* D: tokens learned by the global model (discounted) */
    double schedule_tokens;  /* P: tokens processed by all sites (LR-schedule position) */
    size_t rounds;           /* rounds applied that trained at least one token */
} sw_convergence_state;

/* What a round did to the global model. */
typedef struct sw_convergence_point {
    double n_sites;          /* participation ratio of the round (1 for one site) */
    double efficiency;       /* eff applied to the round's tokens (1 if no tokens) */
    double effective_tokens; /* D after the round */
    double schedule_tokens;  /* P after the round */
    double loss_nats;        /* modelled loss of the global model after the round */
    double ppl;              /* exp(loss_nats) */
} sw_convergence_point;

/* Starts a model with no training (D = P = 0) under params p (copied; not checked: call
 * sw_convergence_params_check first on untrusted values). */
void sw_convergence_init(sw_convergence_state *s, const sw_convergence_params *p);

/* Applies one round: tokens_per_site[i] (>= 0) tokens trained by each of the n_sites sites
 * averaged at the end of the round, local_steps optimizer steps per site between the two
 * synchronizations (the largest site's, >= 0). D grows by eff * sum(tokens), P by sum(tokens).
 * n_sites == 1 is single-site training (eff = 1). out (may be NULL) receives the result.
 * SW_EINPUT naming the argument for negative or non-finite values. */
int sw_convergence_round(sw_convergence_state *s, const double *tokens_per_site, size_t n_sites,
                         double local_steps, sw_convergence_point *out, sw_error *err);

/* Loss (nats/token) of the global model now. */
double sw_convergence_global_loss(const sw_convergence_state *s);

/* Loss of a site's local model that has trained local_tokens since it received the global
 * model (for /sites/<s>/train rows during a round): loss_at(D + local, P + local), i.e. the
 * site continues the global model as a single site would. */
double sw_convergence_local_loss(const sw_convergence_state *s, double local_tokens);

/* Writes the parameters as a YAML document (a `convergence:` mapping, keys as the struct
 * fields) into buf (cap bytes, NUL-terminated). scaling and federated (may be NULL or have
 * fitted == 0) add their diagnostics under `fit:`. *len_out (may be NULL) receives the text
 * length without the NUL. SW_ERUNTIME if cap is too small (*len_out then says what is needed,
 * and buf holds a truncated text). */
int sw_convergence_to_yaml(const sw_convergence_params *p, const sw_convergence_fit *scaling,
                           const sw_convergence_fit *federated, char *buf, size_t cap,
                           size_t *len_out, sw_error *err);

#endif
