/* test_failures.c - injected failures in sim (issue 9): a site that fails mid-round is down at
 * once (its unreturned work lost), sits out the rest of its window, and the run goes on and
 * ends complete. The same schedule in exec is compared in tests/exec/test_sim_vs_exec.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/report.h"
#include "core/scenario.h"
#include "sim/sim.h"

Test(sim_failures, a_site_failing_mid_round_sits_out_its_window)
{
    /* paper.yaml: California trains alone from 540 s to 8100 s, when its window closes */
    const char *ov[] = {"failures.at=[{site: california, t_s: 4000}]"};
    sw_scenario sc;
    sw_error err;
    cr_assert_eq(sw_scenario_load("scenarios/paper.yaml", ov, 1, &sc, &err), SW_OK, "%s", err.msg);
    char out[64];
    snprintf(out, sizeof out, "/tmp/sw-test-failures-%d.h5", (int)getpid());
    sw_sim_options opt = {.out_path = out, .quiet = true, .created_utc = "2026-01-01T00:00:00Z"};
    cr_assert_eq(sw_sim_run(&sc, &opt, NULL, &err), SW_OK, "%s", err.msg);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    unlink(out);
    cr_assert(d->complete);
    size_t n_fail = 0;
    for (size_t i = 0; i < d->n_events; i++)
        if (d->events[i].kind == SW_REPORT_EV_FAIL) {
            n_fail++;
            cr_assert_eq(d->events[i].site, 0);
            cr_assert_float_eq(d->events[i].t_s, 4000, 1e-9);
            cr_assert(strstr(d->events[i].detail, "injected"), "%s", d->events[i].detail);
        }
    cr_assert_eq(n_fail, 1);
    /* failed at 4000 s, off when its window closes (8100 s), provisioned again after */
    const sw_report_site_data *ca = &d->sites[0];
    bool failed = false, back = false;
    for (size_t i = 0; i < ca->n_states; i++) {
        if (ca->states[i].state == SW_REPORT_STATE_FAILED)
            failed = ca->states[i].t_s == 4000;
        if (failed && ca->states[i].state == SW_REPORT_STATE_PROVISIONING)
            back = ca->states[i].t_s > 8000;
    }
    cr_assert(failed, "no failed state at 4000 s");
    cr_assert(back, "not provisioned again in its next window");
    /* its power is off from the failure: no energy between 4000 s and its next window */
    for (size_t i = 0; i < ca->n_power; i++)
        if (ca->power[i].t_s >= 4000 && ca->power[i].t_s < 8000)
            cr_assert_eq(ca->power[i].power_w, sc.sites[0].power_w.off);
    /* the round it was in is aggregated without its work: a round of 0 sites at 4000 s */
    bool empty = false;
    for (size_t i = 0; i < d->n_rounds; i++)
        empty |= d->rounds[i].n_sites == 0 && d->rounds[i].t_end_s == 4000;
    cr_assert(empty, "the failed single-site round is not closed empty");
    sw_report_data_free(d);
    sw_scenario_free(&sc);
}
