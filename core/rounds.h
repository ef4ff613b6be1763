/* rounds.h - one training round: its members, its deadline, the work they return, weights.
 *
 * Rules (DESIGN §2), enforced by the engine with the helpers below:
 *   - a round starts with every READY site; its membership is fixed at the start, so a site
 *     that becomes ready later joins at the next round start;
 *   - with 2+ members the deadline is start + min_duration_s;
 *   - with exactly one member it is open-ended (single-site mode, no sync): it gets a deadline
 *     only when a second site is ready, at max(start + min_duration_s, that time), or ends
 *     when its member leaves;
 *   - a member may report its work at any time (at the deadline, when drained, or early when
 *     out of data); a failed member is dropped but work it reported before failing counts;
 *   - the round is complete when every member has reported or failed; aggregation weights
 *     are work-weighted: weight_i = tokens_i / sum(tokens) over the reporting members (equal
 *     weights when all of them report zero tokens; none at all when nobody reported).
 */
#ifndef SW_ROUNDS_H
#define SW_ROUNDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sw_rounds_config {
    double min_duration_s; /* wall-clock minimum length of a round; > 0 */
} sw_rounds_config;

typedef enum sw_member_status {
    SW_MEMBER_TRAINING = 0, /* has not returned work yet */
    SW_MEMBER_REPORTED,     /* returned its work (tokens known) */
    SW_MEMBER_FAILED,       /* failed before reporting; contributes nothing */
} sw_member_status;

typedef struct sw_round {
    int64_t id;
    double start_s;           /* run time of START_ROUND */
    double deadline_s;        /* run time END_ROUND is due; INFINITY while open-ended */
    bool ended;               /* END_ROUND has been emitted */
    size_t n;                 /* members */
    int *sites;               /* [n] site indices, ascending */
    sw_member_status *status; /* [n] */
    uint64_t *tokens;         /* [n] tokens reported (0 until then) */
} sw_round;

/* Starts round `id` at start_s with the n given sites (copied; must be distinct). The deadline
 * is start_s + cfg->min_duration_s when n >= 2, INFINITY when n == 1. Errors: n == 0, bad
 * config, out of memory. Free with sw_round_free. */
int sw_round_init(sw_round *r, int64_t id, double start_s, const sw_rounds_config *cfg,
                  const int *sites, size_t n, sw_error *err);

void sw_round_free(sw_round *r);

/* Index of site among the members, or -1. */
int sw_round_member(const sw_round *r, int site);

/* Records that `site` returned `tokens` tokens. SW_EINPUT if it is not a member or has already
 * reported or failed. */
int sw_round_report(sw_round *r, int site, uint64_t tokens, sw_error *err);

/* Drops a member that failed before reporting (a member that has reported keeps its work).
 * SW_EINPUT if it is not a member. */
int sw_round_fail(sw_round *r, int site, sw_error *err);

/* Gives an open-ended single-site round its deadline because a second site is ready at now_s:
 * max(start + min_duration_s, now_s). Returns true if the deadline was set by this call. */
bool sw_round_second_site_ready(sw_round *r, double now_s, const sw_rounds_config *cfg);

/* True when no member is still training. */
bool sw_round_complete(const sw_round *r);

/* Number of members still training. */
size_t sw_round_training_count(const sw_round *r);

/* The aggregation of a complete round: the reporting members (sites, tokens and weights, each
 * array with room for r->n entries, caller-owned) and their count; returns the total tokens. */
uint64_t sw_round_weights(const sw_round *r, int *sites, uint64_t *tokens, double *weights,
                          size_t *n_out);

#endif
