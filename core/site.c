/* site.c - the site lifecycle table (site.h lists the transitions and their causes). */
#include "core/site.h"

static const char *const state_names[SW_SITE_STATE_COUNT] = {
    "off", "provisioning", "ready", "training", "draining", "failed",
};

/* allowed[from][to]; every state but OFF may fail. */
static const bool allowed[SW_SITE_STATE_COUNT][SW_SITE_STATE_COUNT] = {
    /*                  off    prov   ready  train  drain  failed */
    [SW_SITE_OFF] = {false, true, false, false, false, false},
    [SW_SITE_PROVISIONING] = {true, false, true, false, false, true},
    [SW_SITE_READY] = {true, false, false, true, false, true},
    [SW_SITE_TRAINING] = {false, false, true, false, true, true},
    [SW_SITE_DRAINING] = {true, false, false, false, false, true},
    [SW_SITE_FAILED] = {true, false, false, false, false, false},
};

static bool known(sw_site_state s)
{
    return (unsigned)s < SW_SITE_STATE_COUNT;
}

const char *sw_site_state_name(sw_site_state s)
{
    return known(s) ? state_names[s] : "?";
}

bool sw_site_transition_valid(sw_site_state from, sw_site_state to)
{
    return known(from) && known(to) && allowed[from][to];
}

int sw_site_transition(sw_site *s, sw_site_state to, double t_s, sw_error *err)
{
    if (!sw_site_transition_valid(s->state, to))
        return sw_errorf(err, SW_EINPUT, "site state: transition %s -> %s is not allowed",
                         sw_site_state_name(s->state), sw_site_state_name(to));
    if (t_s < s->since_s)
        return sw_errorf(err, SW_EINPUT,
                         "site state: transition %s -> %s at t=%g s is before the last one "
                         "(t=%g s)",
                         sw_site_state_name(s->state), sw_site_state_name(to), t_s, s->since_s);
    s->state = to;
    s->since_s = t_s;
    return SW_OK;
}
