/* test_keys.c - every scenario key is honoured by sim or refused (issue 9): the Nesterov outer
 * step changes the modelled convergence (docs/convergence.md) and nothing else; values the
 * model has no parameterisation for are refused naming the key; a site's power while
 * training below its idle power is refused naming the field. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/convergence.h"
#include "core/scenario.h"
#include "sim/sim.h"

static sw_sim_result run_paper(const char *const *overrides, size_t n, int expect_rc, sw_error *err)
{
    sw_scenario sc;
    cr_assert_eq(sw_scenario_load("scenarios/paper.yaml", overrides, n, &sc, err), SW_OK, "%s",
                 err->msg);
    char out[64];
    snprintf(out, sizeof out, "/tmp/sw-test-keys-%d.h5", (int)getpid());
    sw_sim_options opt = {.out_path = out, .quiet = true, .created_utc = "2026-01-01T00:00:00Z"};
    sw_sim_result res = {0};
    cr_assert_eq(sw_sim_run(&sc, &opt, &res, err), expect_rc, "%s", err->msg);
    unlink(out);
    sw_scenario_free(&sc);
    return res;
}

/* sw_sim_run is once per process: each test runs one simulation (Criterion forks per test). */
Test(keys, plain_fedavg_reference) /* the figures the Nesterov test compares with */
{
    sw_error err;
    sw_sim_result r = run_paper(NULL, 0, SW_OK, &err);
    cr_assert_float_eq(r.runtime_h, 14.71, 0.005);
    cr_assert_float_eq(r.final_ppl, 14.80, 0.005);
}

Test(keys, nesterov_changes_the_modelled_convergence_only)
{
    const char *ov[] = {"rounds.outer.kind=nesterov"};
    sw_error err;
    sw_sim_result r = run_paper(ov, 1, SW_OK, &err);
    /* same schedule, energy and carbon as plain FedAvg (plain_fedavg_reference) ... */
    cr_assert_float_eq(r.runtime_h, 14.71, 0.005);
    cr_assert_float_eq(r.energy_kwh, 37.8, 0.05);
    cr_assert_float_eq(r.carbon_kg, 1.37, 0.005);
    /* ... a better model: tokens trained apart keep more of their worth (h0 8250, not 65) */
    cr_assert_lt(r.final_ppl, 14.80 - 0.1, "final ppl %.3f", r.final_ppl);
}

Test(keys, nesterov_parameters_without_a_model_are_refused)
{
    const char *ov_lr[] = {"rounds.outer.kind=nesterov", "rounds.outer.lr=0.5"};
    sw_error err;
    run_paper(ov_lr, 2, SW_EINPUT, &err);
    cr_assert(strstr(err.msg, "rounds.outer.lr"), "%s", err.msg);
}

Test(keys, nesterov_momentum_without_a_model_is_refused)
{
    const char *ov[] = {"rounds.outer.kind=nesterov", "rounds.outer.momentum=0.5"};
    sw_error err;
    run_paper(ov, 2, SW_EINPUT, &err);
    cr_assert(strstr(err.msg, "rounds.outer.momentum"), "%s", err.msg);
}

Test(keys, nesterov_with_the_users_own_h0)
{
    /* eff_h0_steps given: any lr and momentum are accepted, and h0 is what decides */
    const char *ov[] = {"rounds.outer.kind=nesterov", "rounds.outer.lr=0.5",
                        "rounds.outer.eff_h0_steps=65.37702821"};
    sw_error err;
    sw_sim_result r = run_paper(ov, 3, SW_OK, &err);
    cr_assert_float_eq(r.final_ppl, 14.80, 0.005, "the FedAvg h0 gives FedAvg's loss");
}

Test(keys, nesterov_h0_is_the_documented_assumption)
{
    sw_scenario sc;
    sw_error err;
    const char *ov[] = {"rounds.outer.kind=nesterov"};
    cr_assert_eq(sw_scenario_load("scenarios/paper.yaml", ov, 1, &sc, &err), SW_OK, "%s", err.msg);
    sw_convergence_params cp;
    sw_scenario_convergence_params(&sc, &cp);
    cr_assert_eq(cp.eff_h0_steps, SW_CONVERGENCE_NESTEROV_H0_STEPS);
    /* eff(8, 500) = 0.95: DiLoCo's 8 workers x 500 inner steps "as well as synchronous" */
    double h0 = cp.eff_h0_steps;
    cr_assert_float_eq(1.0 / 8 + 7.0 / 8 * h0 / (h0 + 500), 0.95, 1e-9);
    sw_scenario_free(&sc);
}

Test(keys, training_power_below_idle_power_is_refused_naming_the_field)
{
    const char *text = "name: p\n"
                       "trace: {file: traces/mci_2026-01-11.csv}\n"
                       "sites:\n"
                       "  - {name: a, region: CAISO_NORTH}\n"
                       "  - {name: b, region: SPP_TX, power_w: {train: 300, idle: 468}}\n";
    sw_scenario sc;
    sw_error err;
    cr_assert_eq(sw_scenario_parse_text(text, "p.yaml", NULL, 0, &sc, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "p.yaml:5:"), "file and line: %s", err.msg);
    cr_assert(strstr(err.msg, "sites[1].power_w.train"), "%s", err.msg);
    cr_assert(strstr(err.msg, "idle"), "what was expected: %s", err.msg);
    sw_scenario_free(&sc);
    /* equal is fine: a site whose training draws no more than idling */
    const char *ok = "name: p\n"
                     "trace: {file: traces/mci_2026-01-11.csv}\n"
                     "sites:\n"
                     "  - {name: a, region: CAISO_NORTH, power_w: {train: 468, idle: 468}}\n";
    cr_assert_eq(sw_scenario_parse_text(ok, "p.yaml", NULL, 0, &sc, &err), SW_OK, "%s", err.msg);
    sw_scenario_free(&sc);
}
