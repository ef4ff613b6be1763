/* ledger.h - per-site energy and carbon accounting (DESIGN §3).
 *
 * The driver reports what each site drew: intervals [t0_s, t1_s) in seconds since the run
 * started, in one lifecycle state, at a constant IT power (sim: the host-energy plugin; exec:
 * measured power). For each interval the ledger adds, per site and per state:
 *   - IT energy P·(t1 - t0) and facility energy PUE·P·(t1 - t0) in joules;
 *   - curtailed energy: the facility energy drawn while the site's marginal signal is strictly
 *     below the curtailment threshold, split exactly at the trace's change points (a signal
 *     measure, independent of the policy's hysteresis);
 *   - marginal carbon PUE·P·∫MCI dt / 3.6e6 in grams, exact over the trace's step function;
 *   - attributional carbon likewise with an average-intensity trace, when the site has one;
 *   - GPU-hours: gpus·(t1 - t0)/3600 (every ledger state holds the site's GPUs; a released
 *     site is not reported at all).
 * "Energy" in queries is facility energy (PUE applied); IT energy is reported beside it.
 *
 * A site's intervals must come in time order without overlap (a small tolerance absorbs
 * rounding of driver clocks), so a driver cannot count a stretch of time twice; report the
 * site's total power for each stretch. Pure: no I/O, no clock; the traces are borrowed.
 */
#ifndef SW_LEDGER_H
#define SW_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/trace.h"

/* What a site was doing during an interval. (Drivers map their lifecycle states onto these:
 * e.g. a provisioned site waiting for a round is IDLE.) */
typedef enum sw_ledger_state {
    SW_LEDGER_PROVISIONING = 0, /* asked for, booting: draws power, GPUs allocated */
    SW_LEDGER_IDLE,             /* provisioned, waiting */
    SW_LEDGER_TRAINING,         /* local training steps */
    SW_LEDGER_SYNCING,          /* round start-up, weight exchange, aggregation */
    SW_LEDGER_DRAINING,         /* told to stop, returning its work before release */
    SW_LEDGER_STATE_COUNT
} sw_ledger_state;

/* Query wildcards. */
#define SW_LEDGER_ALL_SITES  SIZE_MAX
#define SW_LEDGER_ALL_STATES (-1)

/* Tolerance on the order of a site's intervals: t0 may precede the previous t1 by this much. */
#define SW_LEDGER_OVERLAP_TOLERANCE_S 1e-6

/* Lower-case name of a state ("provisioning", "idle", ...), or NULL if out of range. */
const char *sw_ledger_state_name(int state);

typedef struct sw_ledger_site_config {
    const char *name;         /* copied; used in error messages and queries */
    const sw_trace *marginal; /* marginal-intensity trace (required), borrowed: must outlive
                                 the ledger */
    size_t marginal_region;   /* region index in `marginal` */
    const sw_trace *average;  /* average-intensity trace for attributional carbon, or NULL */
    size_t average_region;
    double pue;    /* power usage effectiveness, >= 1; 0 means the default 1.0 */
    unsigned gpus; /* GPUs the site holds while in any ledger state (0 for a CPU site) */
} sw_ledger_site_config;

typedef struct sw_ledger sw_ledger;

/* Creates an empty ledger. start_unix_s: the Unix time of run time 0 (to look up the traces);
 * curtail_threshold_g_per_kwh: energy counts as curtailed while MCI < this. Owned by the
 * caller: free with sw_ledger_destroy. */
int sw_ledger_create(double start_unix_s, double curtail_threshold_g_per_kwh, sw_ledger **out,
                     sw_error *err);
void sw_ledger_destroy(sw_ledger *l);

/* Adds a site; *site (may be NULL) receives its index (0, 1, ... in order of addition).
 * Errors: missing name or marginal trace, region index out of range, PUE < 1, duplicate name. */
int sw_ledger_add_site(sw_ledger *l, const sw_ledger_site_config *cfg, size_t *site, sw_error *err);

size_t sw_ledger_site_count(const sw_ledger *l);
const char *sw_ledger_site_name(const sw_ledger *l, size_t site); /* NULL if out of range */
int sw_ledger_site_index(const sw_ledger *l, const char *name);   /* -1 if unknown */

/* Accounts site `site` drawing power_w watts (IT power, >= 0) in `state` over [t0_s, t1_s)
 * (seconds since the run start; 0 <= t0_s <= t1_s). The interval must lie inside the coverage
 * of the site's traces and start no earlier than the end of the site's previous interval.
 * On error nothing is added and the message names the site and the offending field. */
int sw_ledger_add(sw_ledger *l, size_t site, sw_ledger_state state, double t0_s, double t1_s,
                  double power_w, sw_error *err);

/* Sums over a selection of sites and states. */
typedef struct sw_ledger_totals {
    double duration_s;         /* Σ interval lengths (per site; sites add up) */
    double it_energy_j;        /* Σ P·Δt, before PUE */
    double energy_j;           /* facility energy, PUE applied */
    double energy_kwh;         /* energy_j / 3.6e6 */
    double curtailed_energy_j; /* part of energy_j drawn while MCI < threshold */
    double curtailed_fraction; /* curtailed_energy_j / energy_j; 0 when energy_j is 0 */
    double carbon_g;           /* marginal carbon, gCO2 */
    double carbon_kg;
    double attributional_carbon_g; /* NAN if any selected site has no average trace */
    double attributional_carbon_kg;
    double gpu_hours;
} sw_ledger_totals;

/* Totals of one site (or SW_LEDGER_ALL_SITES) in one state (or SW_LEDGER_ALL_STATES). */
int sw_ledger_query(const sw_ledger *l, size_t site, int state, sw_ledger_totals *out,
                    sw_error *err);

#endif
