/* engine_report.c - engine records and states as report rows (see engine_report.h). */
#include "core/engine_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sw_report_event_kind sw_engine_record_event_kind(const sw_engine_record *rec,
                                                 double threshold_g_per_kwh)
{
    switch (rec->kind) {
    case SW_REC_POLICY:
        return rec->value < threshold_g_per_kwh ? SW_REPORT_EV_SIGNAL_BELOW
                                                : SW_REPORT_EV_SIGNAL_ABOVE;
    case SW_REC_ROUND_START:
        return SW_REPORT_EV_ROUND_START;
    case SW_REC_ROUND_END:
        return SW_REPORT_EV_ROUND_END;
    case SW_REC_WORK:
        return SW_REPORT_EV_WORK_REPORTED;
    case SW_REC_AGGREGATE:
        return SW_REPORT_EV_AGGREGATE;
    case SW_REC_FINISH:
        return SW_REPORT_EV_DONE;
    default:
        return SW_REPORT_EV_NOTE;
    }
}

sw_report_event_row sw_engine_record_event_row(const sw_engine_record *rec,
                                               double threshold_g_per_kwh)
{
    sw_report_event_row row = {.t_s = rec->t_s,
                               .kind = sw_engine_record_event_kind(rec, threshold_g_per_kwh),
                               .site = rec->site,
                               .round = rec->round,
                               .value = rec->value};
    /* Both are NUL-terminated; the column keeps its first SW_REPORT_DETAIL_MAX - 1 bytes. */
    size_t n = strnlen(rec->detail, sizeof rec->detail);
    if (n > sizeof row.detail - 1)
        n = sizeof row.detail - 1;
    memcpy(row.detail, rec->detail, n);
    return row;
}

sw_report_state sw_engine_report_state(sw_site_state s)
{
    switch (s) {
    case SW_SITE_PROVISIONING:
        return SW_REPORT_STATE_PROVISIONING;
    case SW_SITE_READY:
        return SW_REPORT_STATE_READY;
    case SW_SITE_TRAINING:
        return SW_REPORT_STATE_TRAINING;
    case SW_SITE_DRAINING:
        return SW_REPORT_STATE_DRAINING;
    case SW_SITE_FAILED:
        return SW_REPORT_STATE_FAILED;
    default:
        return SW_REPORT_STATE_OFF;
    }
}

int sw_report_add_trace_signal(sw_report *rep, const sw_trace *t, size_t region,
                               double start_unix_s, double end_s)
{
    size_t n = sw_trace_length(t, region);
    const double *tt = sw_trace_times(t, region), *vv = sw_trace_values(t, region);
    double *ts = malloc((n + 1) * sizeof *ts), *vs = malloc((n + 1) * sizeof *vs);
    if (!ts || !vs) {
        free(ts);
        free(vs);
        return SW_ERUNTIME;
    }
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        double t_s = tt[k] - start_unix_s;
        bool superseded = k + 1 < n && tt[k + 1] - start_unix_s <= 0; /* before the start */
        if (t_s >= end_s || superseded)
            continue;
        ts[m] = fmax(t_s, 0);
        vs[m++] = vv[k];
    }
    int rc = sw_report_add_signal(rep, sw_trace_region_name(t, region), ts, vs, m);
    free(ts);
    free(vs);
    return rc;
}

int sw_ledger_report_summary(const sw_ledger *l, sw_report_summary *sum, sw_error *err)
{
    sw_ledger_totals tot, by[SW_LEDGER_STATE_COUNT];
    int rc = sw_ledger_query(l, SW_LEDGER_ALL_SITES, SW_LEDGER_ALL_STATES, &tot, err);
    for (int st = 0; rc == SW_OK && st < SW_LEDGER_STATE_COUNT; st++)
        rc = sw_ledger_query(l, SW_LEDGER_ALL_SITES, st, &by[st], err);
    if (rc != SW_OK)
        return rc;
    sum->gpu_hours = tot.gpu_hours;
    sum->energy_kwh = tot.energy_kwh;
    sum->energy_provisioning_kwh = by[SW_LEDGER_PROVISIONING].energy_kwh;
    sum->energy_idle_kwh = by[SW_LEDGER_IDLE].energy_kwh;
    sum->energy_training_kwh = by[SW_LEDGER_TRAINING].energy_kwh;
    sum->energy_syncing_kwh = by[SW_LEDGER_SYNCING].energy_kwh + by[SW_LEDGER_DRAINING].energy_kwh;
    sum->curtailed_energy_fraction = tot.curtailed_fraction;
    sum->carbon_kg = tot.carbon_kg;
    sum->carbon_attributional_kg = tot.attributional_carbon_kg;
    return SW_OK;
}

int sw_ledger_report_site_summary(const sw_ledger *l, size_t site, sw_report_site_summary *ss,
                                  sw_error *err)
{
    sw_ledger_totals t;
    int rc = sw_ledger_query(l, site, SW_LEDGER_ALL_STATES, &t, err);
    if (rc != SW_OK)
        return rc;
    ss->up_h = t.duration_s / 3600.0;
    ss->gpu_hours = t.gpu_hours;
    ss->energy_kwh = t.energy_kwh;
    ss->curtailed_energy_fraction = t.curtailed_fraction;
    ss->carbon_kg = t.carbon_kg;
    return SW_OK;
}
