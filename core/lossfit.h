/* lossfit.h - calibration of the convergence model (convergence.h) against loss logs.
 *
 * Three steps, each usable alone (docs/convergence.md explains the choices):
 *  1. sw_lossfit_series_from_log: turn a log's clock into tokens. Rows further apart than
 *     sync_gap_s are a pause (synchronization: no training); within a stretch of training,
 *     tokens grow by batch_tokens every step_s seconds per site. step_s is estimated so that
 *     the whole run trained total_tokens (both reference runs end after one pass over the
 *     data) unless given. A log with a tokens column uses it instead of the clock.
 *  2. sw_lossfit_scaling: least-squares fit of E, B, beta (and the warm-down drop) to the
 *     loss of a single-site log, by GSL's trust-region Levenberg-Marquardt with an analytic
 *     Jacobian.
 *  3. sw_lossfit_federated: given those, fit h0 of the federated efficiency so that the
 *     convergence state, replayed over the rounds of a multi-site log, predicts its loss.
 * sw_lossfit_calibrate chains them for `spillway calibrate`.
 */
#ifndef SW_LOSSFIT_H
#define SW_LOSSFIT_H

#include <stddef.h>

#include "core/convergence.h"
#include "core/error.h"
#include "core/losslog.h"

/* How a log's clock maps to tokens. */
typedef struct sw_lossfit_clock {
    unsigned n_sites;    /* sites training in parallel, the logged one among them (1: single) */
    double batch_tokens; /* tokens per optimizer step per site (524,288 for d20) */
    double total_tokens; /* tokens trained by all sites by the log's last row (0: unknown) */
    double step_s;       /* seconds per optimizer step per site; 0: from total_tokens */
    double sync_gap_s;   /* a gap between rows longer than this is a pause, not training */
} sw_lossfit_clock;

/* A log turned into tokens and rounds. Rounds are the stretches between pauses; every site is
 * assumed to train as many tokens per round as the logged one (symmetric sites). */
typedef struct sw_lossfit_series {
    size_t n;             /* rows */
    unsigned n_sites;     /* from the clock */
    double *tokens;       /* all sites' tokens at each row: n_sites x the site's tokens */
    double *local_tokens; /* tokens of the logged site since its round began */
    size_t *round;        /* round index of each row */
    double *loss;         /* nats/token (copied from the log) */
    size_t n_rounds;      /* stretches of training */
    double *round_tokens; /* tokens per site trained in each round */
    double step_s;        /* seconds per optimizer step per site (given or estimated) */
    double startup_s;     /* time of the first row: start-up before training, s */
    double train_s;       /* training time: the log's span minus its pauses, s */
} sw_lossfit_series;

/* Builds the series of a log. Owns its arrays (sw_lossfit_series_free). SW_EINPUT when the
 * clock is inconsistent (no step_s and no total_tokens, a log without training time...). */
int sw_lossfit_series_from_log(const sw_losslog *log, const sw_lossfit_clock *clock,
                               sw_lossfit_series *out, sw_error *err);
void sw_lossfit_series_free(sw_lossfit_series *s);

/* Fits E, B, beta and anneal_nats of *params to loss[i] at tokens[i] (single-site training,
 * tokens = effective = schedule tokens), using the rows with tokens >= skip_tokens.
 * In: params->schedule_tokens and warmdown_frac fix the LR schedule (warmdown_frac 0: no
 * anneal term, anneal_nats set to 0); loss_max_nats is kept. Out: the four fitted values.
 * diag (may be NULL) receives the diagnostics (source left empty; zeroed on failure).
 * Arrays are borrowed. SW_EINPUT if fewer than 8 rows remain, the loss does not fall from the
 * first to the last fifth of the rows, or the fit is non-physical (beta, B, E or anneal <= 0);
 * SW_ERUNTIME if the solver does not converge. */
int sw_lossfit_scaling(const double *tokens, const double *loss, size_t n, double skip_tokens,
                       sw_convergence_params *params, sw_convergence_fit *diag, sw_error *err);

/* Fits params->eff_h0_steps to a multi-site series (series->n_sites >= 2) with the scaling law
 * of *params held fixed, on rows with series tokens >= skip_tokens. Each row is predicted as
 * sw_convergence_local_loss of the state replayed over the preceding rounds (n_sites sites,
 * round_tokens each, round_tokens / batch_tokens local steps). diag as above; its
 * rmse_reference_nats is the RMSE of the same rows with eff = 1. */
int sw_lossfit_federated(const sw_lossfit_series *series, double batch_tokens, double skip_tokens,
                         sw_convergence_params *params, sw_convergence_fit *diag, sw_error *err);

/* Mean modelled and logged loss over the rows in the last 2% of a series' tokens, with
 * params (the figures of sw_convergence_fit.final_*). */
void sw_lossfit_final(const sw_lossfit_series *series, double batch_tokens,
                      const sw_convergence_params *params, double *log_nats, double *model_nats);

/* Everything `spillway calibrate` needs to know besides the logs. */
typedef struct sw_lossfit_options {
    sw_lossfit_clock single;      /* clock of the single-site log */
    sw_lossfit_clock federated;   /* clock of the multi-site log */
    double scaling_skip_tokens;   /* rows before this are left out of the scaling fit */
    double federated_skip_tokens; /* rows before this are left out of the efficiency fit */
    double schedule_tokens;       /* LR schedule length in tokens; 0 = no warm-down */
    double warmdown_frac;         /* fraction of the schedule in warm-down */
    double loss_max_nats;         /* ln(vocab) */
} sw_lossfit_options;

/* The options that reproduce scenarios/d20_convergence.yaml from reference/: 524,288
 * tokens/step, 12.3e9 tokens per run, 100 s sync gaps, skips of 2.5e8 and 1e9 tokens,
 * 23,400-step schedule with 40% warm-down, 65,536-token vocabulary. */
void sw_lossfit_d20_options(sw_lossfit_options *o);

/* Calibrates: scaling law from `single` (a single-site log), then, if `federated` is not NULL,
 * the efficiency from it. Without a federated log eff_h0_steps keeps the d20 default.
 * *out receives the parameters; scaling/federated_fit (may be NULL) the diagnostics, with
 * `source` set from the *_name arguments (may be NULL). */
int sw_lossfit_calibrate(const sw_losslog *single, const char *single_name,
                         const sw_losslog *federated, const char *federated_name,
                         const sw_lossfit_options *opt, sw_convergence_params *out,
                         sw_convergence_fit *scaling_fit, sw_convergence_fit *federated_fit,
                         sw_error *err);

#endif
