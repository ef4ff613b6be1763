/* engine_report.h - how engine records and site states are written to the report: the one
 * mapping both drivers (sim/, exec/) use, so their /events and /sites/<s>/states agree. */
#ifndef SW_ENGINE_REPORT_H
#define SW_ENGINE_REPORT_H

#include "core/engine.h"
#include "core/ledger.h"
#include "core/report.h"

/* The /events kind of an engine record. Policy records become signal_below or signal_above
 * by comparing their value (the signal, gCO2/kWh) with threshold_g_per_kwh; records with no
 * report counterpart become `note`. */
sw_report_event_kind sw_engine_record_event_kind(const sw_engine_record *rec,
                                                 double threshold_g_per_kwh);

/* The /events row of an engine record (detail truncated to the column). */
sw_report_event_row sw_engine_record_event_row(const sw_engine_record *rec,
                                               double threshold_g_per_kwh);

/* Stores region `region` of trace t as the report's /signals/<region>: the step series as the
 * run saw it, in run seconds (trace time start_unix_s is t_s = 0) over [0, end_s): the value
 * in force at the start comes first at t_s = 0. */
int sw_report_add_trace_signal(sw_report *rep, const sw_trace *t, size_t region,
                               double start_unix_s, double end_s);

/* Fills the ledger's figures of a whole-run summary: gpu_hours, energy_kwh and its split by
 * state (syncing includes draining), curtailed_energy_fraction, carbon_kg; sets
 * carbon_attributional_kg when every site has an average trace, else NAN. The other fields
 * are left as they are. */
int sw_ledger_report_summary(const sw_ledger *l, sw_report_summary *sum, sw_error *err);

/* Fills the ledger's figures of one site's summary: up_h, gpu_hours, energy_kwh,
 * curtailed_energy_fraction, carbon_kg (training_h and tokens are the driver's). */
int sw_ledger_report_site_summary(const sw_ledger *l, size_t site, sw_report_site_summary *ss,
                                  sw_error *err);

/* The /sites/<s>/states value of an engine site state. */
sw_report_state sw_engine_report_state(sw_site_state s);

#endif
