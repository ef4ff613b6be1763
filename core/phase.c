/* phase.c - power and ledger state of a site's phase (see phase.h). */
#include "core/phase.h"

double sw_phase_power_w(const sw_scenario_site *site, sw_phase p)
{
    switch (p) {
    case SW_PHASE_OFF:
        return site->power_w.off;
    case SW_PHASE_TRAINING:
        return site->power_w.train;
    default:
        return site->power_w.idle;
    }
}

sw_ledger_state sw_phase_ledger_state(sw_phase p)
{
    switch (p) {
    case SW_PHASE_TRAINING:
        return SW_LEDGER_TRAINING;
    case SW_PHASE_SYNCING:
        return SW_LEDGER_SYNCING;
    case SW_PHASE_DRAINING:
        return SW_LEDGER_DRAINING;
    case SW_PHASE_IDLE:
        return SW_LEDGER_IDLE;
    default:
        return SW_LEDGER_PROVISIONING;
    }
}
