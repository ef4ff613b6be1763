/* site.h - the lifecycle of one compute site, as a checked state machine.
 *
 * Allowed transitions (and what causes them in the engine):
 *   off          -> provisioning   policy wants the site (action PROVISION_SITE)
 *   provisioning -> ready          driver event SITE_READY
 *   provisioning -> off            policy no longer wants it before it was ready (RELEASE_SITE)
 *   ready        -> training       a round starts with it as a member (START_ROUND)
 *   ready        -> off            policy release while idle (RELEASE_SITE)
 *   training     -> ready          it reported its work for the round (WORK_REPORTED)
 *   training     -> draining       policy release mid-round (STOP_SITE)
 *   draining     -> off            its work is reported (RELEASE_SITE)
 *   any but off  -> failed         driver event SITE_FAILED (RELEASE_SITE to clean up)
 *   failed       -> off            the policy no longer wants it, or the run finishes
 *
 * Power (DESIGN §2): PROVISIONING and READY draw idle power, TRAINING and DRAINING training
 * power, OFF and FAILED nothing. Any other transition is a bug in the caller and is rejected.
 */
#ifndef SW_SITE_H
#define SW_SITE_H

#include <stdbool.h>

#include "core/error.h"

typedef enum sw_site_state {
    SW_SITE_OFF = 0,      /* not provisioned, no cost */
    SW_SITE_PROVISIONING, /* asked for, not usable yet (idle power) */
    SW_SITE_READY,        /* provisioned and idle, waits for the next round (idle power) */
    SW_SITE_TRAINING,     /* member of the running round */
    SW_SITE_DRAINING,     /* told to stop; returns its work, then is released */
    SW_SITE_FAILED,       /* lost; sits out the rest of its window */
} sw_site_state;

#define SW_SITE_STATE_COUNT 6

typedef struct sw_site {
    sw_site_state state;
    double since_s; /* run time of the last transition */
} sw_site;

/* Lower-case name of a state ("off", "provisioning", ...); "?" for an unknown value. */
const char *sw_site_state_name(sw_site_state s);

/* Whether the lifecycle allows from -> to (a state to itself is not a transition). */
bool sw_site_transition_valid(sw_site_state from, sw_site_state to);

/* Moves s to `to` at run time t_s. SW_EINPUT (state unchanged) when the transition is not
 * allowed or t_s is earlier than the last transition; the message names both states. */
int sw_site_transition(sw_site *s, sw_site_state to, double t_s, sw_error *err);

#endif
