/* test_engine_report.c - engine records and states map to the report's event kinds and
 * states the same way for every driver. */
#include <criterion/criterion.h>
#include <string.h>

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
