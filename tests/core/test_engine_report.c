/* test_engine_report.c - engine records and states map to the report's event kinds and
 * states the same way for every driver. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/engine_report.h"

Test(engine_report, policy_records_split_by_threshold)
{
    sw_engine_record rec = {
        .t_s = 10, .kind = SW_REC_POLICY, .site = 1, .round = -1, .value = 68.9};
    cr_assert_eq(sw_engine_record_event_kind(&rec, 100), SW_REPORT_EV_SIGNAL_BELOW);
    rec.value = 100;
    cr_assert_eq(sw_engine_record_event_kind(&rec, 100), SW_REPORT_EV_SIGNAL_ABOVE,
                 "equal to the threshold is not curtailed");
}

Test(engine_report, kinds)
{
    struct {
        sw_record_kind in;
        sw_report_event_kind out;
    } m[] = {{SW_REC_ROUND_START, SW_REPORT_EV_ROUND_START},
             {SW_REC_ROUND_END, SW_REPORT_EV_ROUND_END},
             {SW_REC_WORK, SW_REPORT_EV_WORK_REPORTED},
             {SW_REC_AGGREGATE, SW_REPORT_EV_AGGREGATE},
             {SW_REC_FINISH, SW_REPORT_EV_DONE},
             {SW_REC_REJECTED, SW_REPORT_EV_NOTE}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        sw_engine_record rec = {.kind = m[i].in};
        cr_assert_eq(sw_engine_record_event_kind(&rec, 100), m[i].out, "record kind %d", m[i].in);
    }
}

Test(engine_report, row_copies_fields_and_truncates_detail)
{
    sw_engine_record rec = {.t_s = 42.5, .kind = SW_REC_WORK, .site = 2, .round = 7, .value = 1e6};
    memset(rec.detail, 'x', sizeof rec.detail - 1);
    sw_report_event_row row = sw_engine_record_event_row(&rec, 100);
    cr_assert_eq(row.t_s, 42.5);
    cr_assert_eq(row.site, 2);
    cr_assert_eq(row.round, 7);
    cr_assert_eq(row.value, 1e6);
    cr_assert_eq(strlen(row.detail), SW_REPORT_DETAIL_MAX - 1);
}

Test(engine_report, states)
{
    cr_assert_eq(sw_engine_report_state(SW_SITE_OFF), SW_REPORT_STATE_OFF);
    cr_assert_eq(sw_engine_report_state(SW_SITE_PROVISIONING), SW_REPORT_STATE_PROVISIONING);
    cr_assert_eq(sw_engine_report_state(SW_SITE_READY), SW_REPORT_STATE_READY);
    cr_assert_eq(sw_engine_report_state(SW_SITE_TRAINING), SW_REPORT_STATE_TRAINING);
    cr_assert_eq(sw_engine_report_state(SW_SITE_DRAINING), SW_REPORT_STATE_DRAINING);
    cr_assert_eq(sw_engine_report_state(SW_SITE_FAILED), SW_REPORT_STATE_FAILED);
}

Test(engine_report, trace_signal_clipped_to_the_run)
{
    /* 10-minute steps from t0: 50, 150, 20, 80. A run starting 5 min after t0 and lasting
     * 20 min sees 50 (from 0), 150 (from 5 min), 20 (from 15 min). */
    double t[] = {0, 600, 1200, 1800}, v[] = {50, 150, 20, 80};
    double t0 = 1.7e9;
    for (int i = 0; i < 4; i++)
        t[i] += t0;
    sw_trace *tr;
    sw_error err;
    cr_assert_eq(sw_trace_from_arrays("R", t, v, 4, 600, &tr, &err), SW_OK, "%s", err.msg);
    char dir[] = "/tmp/sw-test-er-XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/r.h5", dir);
    sw_report_meta meta = {.mode = SW_REPORT_SIM, .scenario_name = "x"};
    sw_report *rep;
    cr_assert_eq(sw_report_create(path, &meta, &rep, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_report_add_trace_signal(rep, tr, 0, t0 + 300, 1200), SW_OK);
    sw_report_summary sum = {.final_ppl = 1};
    sw_report_set_summary(rep, &sum);
    cr_assert_eq(sw_report_close(rep, &err), SW_OK, "%s", err.msg);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(path, &d, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(d->n_signals, 1);
    cr_assert_eq(d->signals[0].n, 3);
    double et[] = {0, 300, 900}, ev[] = {50, 150, 20};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(d->signals[0].rows[i].t_s, et[i], "row %d", i);
        cr_assert_eq(d->signals[0].rows[i].mci_g_per_kwh, ev[i], "row %d", i);
    }
    sw_report_data_free(d);
    sw_trace_destroy(tr);
    unlink(path);
    rmdir(dir);
}

Test(engine_report, ledger_figures_of_the_summary)
{
    /* One site, 4 GPUs, constant 50 g/kWh: 1 h provisioning at 500 W, 2 h training at 2000 W,
     * 0.5 h draining at 500 W -> 0.5 + 4 + 0.25 kWh, 4.75 kWh x 50 g = 237.5 g. */
    double t[] = {0, 36000}, v[] = {50, 50};
    sw_trace *tr;
    sw_error err;
    cr_assert_eq(sw_trace_from_arrays("R", t, v, 2, 36000, &tr, &err), SW_OK, "%s", err.msg);
    sw_ledger *l;
    cr_assert_eq(sw_ledger_create(0, 100, &l, &err), SW_OK, "%s", err.msg);
    sw_ledger_site_config sc = {.name = "a", .marginal = tr, .marginal_region = 0, .gpus = 4};
    size_t site;
    cr_assert_eq(sw_ledger_add_site(l, &sc, &site, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_ledger_add(l, site, SW_LEDGER_PROVISIONING, 0, 3600, 500, &err), SW_OK);
    cr_assert_eq(sw_ledger_add(l, site, SW_LEDGER_TRAINING, 3600, 10800, 2000, &err), SW_OK);
    cr_assert_eq(sw_ledger_add(l, site, SW_LEDGER_DRAINING, 10800, 12600, 500, &err), SW_OK);
    sw_report_summary sum = {.final_ppl = 7};
    cr_assert_eq(sw_ledger_report_summary(l, &sum, &err), SW_OK, "%s", err.msg);
    cr_assert_float_eq(sum.energy_kwh, 4.75, 1e-12);
    cr_assert_float_eq(sum.energy_provisioning_kwh, 0.5, 1e-12);
    cr_assert_float_eq(sum.energy_training_kwh, 4.0, 1e-12);
    cr_assert_float_eq(sum.energy_syncing_kwh, 0.25, 1e-12, "draining counts as syncing");
    cr_assert_float_eq(sum.carbon_kg, 0.2375, 1e-12);
    cr_assert_float_eq(sum.curtailed_energy_fraction, 1.0, 1e-12);
    cr_assert_float_eq(sum.gpu_hours, 4 * 3.5, 1e-12);
    cr_assert(isnan(sum.carbon_attributional_kg), "no average trace");
    cr_assert_eq(sum.final_ppl, 7, "other fields untouched");
    sw_report_site_summary ss = {.tokens = 5};
    cr_assert_eq(sw_ledger_report_site_summary(l, site, &ss, &err), SW_OK, "%s", err.msg);
    cr_assert_float_eq(ss.up_h, 3.5, 1e-12);
    cr_assert_float_eq(ss.energy_kwh, 4.75, 1e-12);
    cr_assert_eq(ss.tokens, 5);
    sw_ledger_destroy(l);
    sw_trace_destroy(tr);
}
