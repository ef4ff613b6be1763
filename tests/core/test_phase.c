/* test_phase.c - a site's phase picks its power from the scenario and its ledger state. */
#include <criterion/criterion.h>

#include "core/phase.h"

Test(phase, power_from_the_scenario)
{
    sw_scenario_site s = {.power_w = {.train = 2024, .idle = 468, .off = 12}};
    cr_assert_eq(sw_phase_power_w(&s, SW_PHASE_OFF), 12);
    cr_assert_eq(sw_phase_power_w(&s, SW_PHASE_TRAINING), 2024);
    sw_phase idle_like[] = {SW_PHASE_PROVISIONING, SW_PHASE_IDLE, SW_PHASE_SYNCING,
                            SW_PHASE_DRAINING};
    for (size_t i = 0; i < sizeof idle_like / sizeof idle_like[0]; i++)
        cr_assert_eq(sw_phase_power_w(&s, idle_like[i]), 468, "phase %d", idle_like[i]);
}

Test(phase, ledger_states)
{
    cr_assert_eq(sw_phase_ledger_state(SW_PHASE_PROVISIONING), SW_LEDGER_PROVISIONING);
    cr_assert_eq(sw_phase_ledger_state(SW_PHASE_IDLE), SW_LEDGER_IDLE);
    cr_assert_eq(sw_phase_ledger_state(SW_PHASE_SYNCING), SW_LEDGER_SYNCING);
    cr_assert_eq(sw_phase_ledger_state(SW_PHASE_TRAINING), SW_LEDGER_TRAINING);
    cr_assert_eq(sw_phase_ledger_state(SW_PHASE_DRAINING), SW_LEDGER_DRAINING);
}
