/* round_limits.h - when an agent must stop training in a round by itself: at the plan's
 * deadline (wall ms after the PLAN arrived; -1 = open-ended) or when the next step would
 * exceed the plan's tokens_left. The coordinator's STOP ends the round too; these limits hold
 * even if it is late or lost. */
#ifndef SW_EXEC_ROUND_LIMITS_H
#define SW_EXEC_ROUND_LIMITS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "exec/proto.h"

typedef struct sw_round_limits {
    double deadline_mono_s; /* monotonic s; INFINITY = none */
    uint64_t tokens_max;    /* tokens this round may train */
} sw_round_limits;

/* The limits of a PLAN received at now_mono_s. */
static inline sw_round_limits sw_round_limits_of(const sw_msg_plan *p, double now_mono_s)
{
    sw_round_limits l = {INFINITY, p->tokens_left};
    if (p->deadline_ms >= 0)
        l.deadline_mono_s = now_mono_s + 1e-3 * (double)p->deadline_ms;
    return l;
}

/* Whether a step of step_tokens may start at now_mono_s after round_tokens this round. */
static inline bool sw_round_may_step(const sw_round_limits *l, double now_mono_s,
                                     uint64_t round_tokens, uint64_t step_tokens)
{
    return now_mono_s < l->deadline_mono_s && round_tokens <= l->tokens_max &&
           step_tokens <= l->tokens_max - round_tokens;
}

#endif
