/* sim.h - simulation mode: runs a scenario's sites, rounds and WAN transfers inside SimGrid,
 * driven by the core engine, and writes the HDF5 report (core/report.h) with energy from
 * SimGrid's host-energy plugin, carbon from the ledger and loss from the convergence model.
 *
 * SimGrid can be initialised once per process, so sw_sim_run runs one scenario per process
 * (the CLI runs baselines as child processes). The run is deterministic: the same scenario
 * and seed give identical report datasets.
 */
#ifndef SW_SIM_H
#define SW_SIM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/report.h"
#include "core/scenario.h"

typedef struct sw_sim_options {
    const char *out_path;     /* report path (written to a temp name, renamed at the end) */
    const char *platform_xml; /* keep the generated SimGrid platform here; NULL = temporary */
    const char *created_utc;  /* fixed report creation time (tests); NULL = now */
    bool quiet;               /* silence SimGrid's own logs */
    /* Called with the simulated time and the horizon (s) every few simulated minutes. */
    void (*progress)(double now_s, double end_s, void *ud);
    void *progress_ud;
    /* Extra summary figures to store (e.g. baseline carbon computed by the caller). */
    const sw_report_extra *extras;
    size_t n_extras;
    /* Tokens of the whole run; 0 = the scenario's model.tokens. With exec.data the CLI sets
     * sw_run_dataset_tokens of the dataset's manifest (sim itself reads no data files). */
    uint64_t tokens_target;
} sw_sim_options;

/* Headline figures of a finished run (also in the report's /summary). */
typedef struct sw_sim_result {
    double runtime_h, energy_kwh, carbon_kg, curtailed_energy_fraction, gpu_hours;
    double final_ppl, best_ppl;
    double tokens;
    long rounds;
    double wall_s; /* host seconds the simulation took */
} sw_sim_result;

/* Runs the scenario and writes the report. result may be NULL. Returns SW_OK, SW_EINPUT (bad
 * trace, region, or values the platform rejects; message names them) or SW_ERUNTIME. */
int sw_sim_run(const sw_scenario *sc, const sw_sim_options *opt, sw_sim_result *result,
               sw_error *err);

#endif
