/* phase.h - what a provisioned site is doing at a finer grain than its lifecycle state, as
 * both drivers track it: it picks the site's power from the scenario's power model and the
 * ledger state its energy is booked under. */
#ifndef SW_PHASE_H
#define SW_PHASE_H

#include "core/ledger.h"
#include "core/scenario.h"

typedef enum sw_phase {
    SW_PHASE_OFF = 0,      /* released: power_w.off, not in the ledger */
    SW_PHASE_PROVISIONING, /* booting: power_w.idle */
    SW_PHASE_IDLE,         /* up, no round: power_w.idle */
    SW_PHASE_SYNCING,      /* round start-up, model transfers, returning work: power_w.idle */
    SW_PHASE_TRAINING,     /* optimizer steps: power_w.train */
    SW_PHASE_DRAINING,     /* told to stop, returning its work: power_w.idle */
    SW_PHASE_COUNT
} sw_phase;

/* The site's power in phase p, W, from its scenario power model (before PUE). */
double sw_phase_power_w(const sw_scenario_site *site, sw_phase p);

/* The ledger state energy drawn in phase p is booked under (p must not be SW_PHASE_OFF). */
sw_ledger_state sw_phase_ledger_state(sw_phase p);

#endif
