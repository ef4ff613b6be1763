/* scenario.h - the experiment description: a YAML file (docs/formats/scenario.md) loaded into
 * a plain struct with every field validated and defaulted, plus `--set key=value` overrides.
 *
 * Every field below has a default (in brackets) that applies when the key is absent or null
 * (`key:`, `key: ~`). Units are in the names. Errors are SW_EINPUT with messages like
 *   scenarios/x.yaml:12:14: key 'sites[1].power_w.train': expected a number >= 0, got "abc"
 *   override 'policy.poll_s=-1': key 'policy.poll_s': expected a number >= 0, got "-1"
 * for unknown keys, wrong types, out-of-range values, YAML syntax errors and unreadable files.
 */
#ifndef SW_SCENARIO_H
#define SW_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/convergence.h"
#include "core/error.h"
#include "core/forecast.h"
#include "core/policy.h"
#include "core/trace.h"

/* sw_policy_kind (threshold | always_on) is the engine's, from core/policy.h. */

typedef enum sw_outer_kind {
    SW_OUTER_NONE = 0,     /* "none": plain work-weighted FedAvg (the published run) */
    SW_OUTER_NESTEROV = 1, /* "nesterov": DiLoCo-style outer step on the pseudo-gradient */
} sw_outer_kind;

typedef enum sw_provisioner_kind {
    SW_PROVISIONER_LOCAL = 0,   /* "local": site agents as local processes */
    SW_PROVISIONER_COMMAND = 1, /* "command": user commands provision and release sites */
    SW_PROVISIONER_STATIC = 2,  /* "static": agents already running, they join by themselves */
} sw_provisioner_kind;

/* Synthetic regions derived from the trace's own (core/trace_derive.h): region k, named D000,
 * D001, ..., is trace region (k mod m) circularly shifted later by (k div m) x shift_s on the
 * trace's grid (m = regions in the file). With regions > 0 the derived regions replace the
 * file's: site and baseline regions must be D000 .. D<regions-1>. */
typedef struct sw_scenario_trace_derive {
    int regions;    /* derived regions, in [0, 1000]; 0 = use the file's regions as they are [0] */
    double shift_s; /* shift between successive copies of a region, s, >= 0 [622800 = 7 d 5 h:
                     * a week moves to other weather, the 5 h moves the daily solar cycle to
                     * other hours (a whole-day shift would keep every copy's solar noon at the
                     * same hour); 50 copies x 173 h = 360.4 days stay inside one year] */
} sw_scenario_trace_derive;

/* Most trace.baseline_regions a scenario may list (each is one baseline run of `sim
 * --baselines`, plus the federated one). */
#define SW_SCENARIO_MAX_BASELINE_REGIONS 15

typedef struct sw_scenario_trace {
    char *file;          /* trace CSV [required]; a relative path is resolved against the scenario
                          * file's folder, else the current directory; stored as resolved */
    sw_trace_unit unit;  /* unit of the file's values: g_per_kwh | lbs_per_mwh [g_per_kwh] */
    double max_gap_s;    /* largest allowed spacing of the trace, s; 0 = no limit [0] */
    bool fill_gaps;      /* accept longer gaps, carrying the last value forward [false] */
    double start_unix_s; /* start of the run, Unix s (YAML: ISO-8601); NAN = trace start */
    double end_unix_s;   /* end of the run, Unix s (YAML: ISO-8601); NAN = trace end */
    char **baseline_regions; /* regions for centralized baselines, at most
                              * SW_SCENARIO_MAX_BASELINE_REGIONS [empty] */
    size_t n_baseline_regions;
    sw_scenario_trace_derive derive;
} sw_scenario_trace;

/* policy.forecast: what the look-ahead policies know ahead (core/forecast.h). The noisy
 * forecast's seed is the scenario's seed. */
typedef struct sw_scenario_forecast {
    sw_forecast_kind kind;              /* perfect | persistence | noisy | file [perfect] */
    double sigma0_g_per_kwh;            /* noisy: error std at short leads, gCO2/kWh, >= 0 [20] */
    double sigma1_g_per_kwh_per_sqrt_h; /* noisy: std growth per sqrt(lead hours), >= 0 [40] */
    double rho;                         /* noisy: AR(1) correlation of successive leads [0.8] */
    char *file; /* file: forecast CSV (docs/formats/forecast.md), resolved like trace.file [~] */
} sw_scenario_forecast;

typedef struct sw_scenario_policy {
    sw_policy_kind kind;        /* threshold | always_on | forecast_threshold | deadline | elastic
                                 * [threshold] */
    double threshold_g_per_kwh; /* curtailment: MCI below this, gCO2/kWh, >= 0 [100] */
    double deprovision_after_s; /* hysteresis: MCI above threshold this long, s, >= 0 [600] */
    double poll_s;              /* signal polling period, s, >= 0; 0 = exact, event-driven [10] */
    /* look-ahead policies (core/policy_lookahead.h; scenarios/README.md) */
    double min_window_s;     /* forecast_threshold, deadline: shortest curtailed run worth a
                              * provisioning, s, >= 0; 0 = the largest site provision_s +
                              * rounds.startup_s + rounds.min_duration_s [0] */
    double horizon_s;        /* forecast_threshold, deadline: how far ahead the forecast is read, s,
                              * > 0 [86400] */
    double deadline_s;       /* deadline: run time by which model.tokens are trained, s, >= 0;
                              * 0 = the end of the run [0] */
    double margin;           /* deadline: plan for tokens x (1 + margin), >= 0 [0.05] */
    double max_g_per_mtoken; /* elastic: cap on the carbon of a site's extra tokens, gCO2 per
                              * 1e6 tokens, >= 0; 0 = threshold_g_per_kwh at the first site's
                              * training power and throughput [0] */
    sw_scenario_forecast forecast;
} sw_scenario_policy;

typedef struct sw_scenario_outer {
    sw_outer_kind kind;  /* none | nesterov [none] */
    double lr;           /* outer learning rate, > 0 [0.7] */
    double momentum;     /* Nesterov momentum, in [0, 1) [0.9] */
    double eff_h0_steps; /* sim: h0 of the federated efficiency with the Nesterov outer step,
                          * local steps, >= 0; 0 = SW_CONVERGENCE_NESTEROV_H0_STEPS, the
                          * DiLoCo-based assumption for lr 0.7, momentum 0.9, which sim
                          * refuses for other lr or momentum values (docs/convergence.md) [0] */
} sw_scenario_outer;

typedef struct sw_scenario_rounds {
    double min_duration_s; /* wall-clock length of a federated round, s, > 0 [600] */
    double startup_s;      /* per-site start-up cost of each round (load, compile), s [85] */
    double return_s;       /* time to return weights at the end of a round, s [45] */
    double aggregate_s;    /* time to aggregate on the coordinator, s [2] */
    sw_scenario_outer outer;
} sw_scenario_rounds;

/* Convergence-model parameters of the simulator (core/convergence.h; YAML keys = these field
 * names = the fields of sw_convergence_params). 0 or absent = the shipped fit of nanochat d20
 * (sw_convergence_d20_defaults), except schedule_tokens whose default is model.tokens (the LR
 * schedule spans the run). All >= 0, warmdown_frac < 1. Read the effective values with
 * sw_scenario_convergence_params; resolved_yaml shows the effective values. */
typedef struct sw_scenario_convergence {
    double e_nats;          /* irreducible loss E, nats/token [0 = fit] */
    double b;               /* scale B of the power law, D in tokens [0 = fit] */
    double beta;            /* data-scaling exponent [0 = fit] */
    double loss_max_nats;   /* cap of the law at small D, nats/token [0 = fit: ln 65536] */
    double schedule_tokens; /* tokens of the LR schedule [0 = model.tokens] */
    double warmdown_frac;   /* fraction of the schedule in LR warm-down, [0, 1) [0 = fit: 0.4] */
    double anneal_nats;     /* loss drop when the warm-down completes, nats/token [0 = fit] */
    double eff_h0_steps;    /* h0 of the federated efficiency, local steps [0 = fit] */
} sw_scenario_convergence;

typedef struct sw_scenario_model {
    char *preset;          /* model architecture name [nanochat-d20] */
    double params;         /* parameter count; 0 in the file = from the preset (resolved on
                            * load, so the struct always holds > 0) [0] */
    double tokens;         /* tokens of the whole run (one pass over the data), > 0 [12.3e9] */
    uint64_t batch_tokens; /* tokens per optimizer step, >= 1 [524288] */
    double step_s;         /* s per optimizer step on the reference site (4 A100s), > 0 [2.75] */
    double log_interval_s; /* training log period, s, > 0 [60] */
    sw_scenario_convergence convergence;
} sw_scenario_model;

typedef struct sw_scenario_site {
    char *name;         /* unique site name [required] */
    char *region;       /* trace region of the site's grid [required] */
    int gpus;           /* GPUs at the site, >= 1 [4] */
    char *gpu;          /* GPU type, a name known to sw_gpu_peak_flops [a100] */
    double provision_s; /* provisioning delay (site draws idle power), s, >= 0 [240] */
    double drain_s;     /* graceful stop: time to return work before release, s, >= 0 [45] */
    double pue;         /* power usage effectiveness, >= 1 [1.0] */
    struct {
        double train; /* W while training, >= 0 [2024] */
        double idle;  /* W while provisioned but idle, >= 0 [468] */
        double off;   /* W when released, >= 0 [0] */
    } power_w;
} sw_scenario_site;

typedef struct sw_scenario_network {
    double wan_gbps;       /* WAN bandwidth between sites and coordinator, Gbit/s, > 0 [10] */
    double wan_latency_ms; /* WAN one-way latency, ms, >= 0 [80] */
    double lan_gbps;       /* LAN bandwidth inside a site, Gbit/s, > 0 [100] */
    double lan_latency_us; /* LAN latency, µs, >= 0 [5] */
} sw_scenario_network;

/* Where exec's site agents run the model's arithmetic: the kernels backend of that name. */
typedef enum sw_exec_backend {
    SW_EXEC_BACKEND_CPU = 0,  /* "cpu" */
    SW_EXEC_BACKEND_CUDA = 1, /* "cuda": needs a build with CUDA and a visible GPU */
} sw_exec_backend;

/* The backend's name as `spillway agent --backend` takes it ("cpu", "cuda"). */
const char *sw_exec_backend_name(sw_exec_backend b);
/* The scenario spelling of a policy kind ("threshold", ..., "elastic"), "?" if unknown. */
const char *sw_scenario_policy_kind_name(sw_policy_kind k);

typedef struct sw_scenario_exec {
    double time_compression;         /* trace seconds per wall second, > 0 [60] */
    int threads;                     /* CPU threads per site agent, >= 1 [1] */
    char *preset;                    /* model preset trained by exec [small] */
    sw_provisioner_kind provisioner; /* local | command | static [local] */
    int batch;                       /* sequences per micro-batch, >= 1 [4] */
    int seq;                         /* tokens per sequence, >= 1 [64] */
    sw_exec_backend backend;         /* cpu | cuda [cpu] */
    char *data;      /* tokenized dataset folder (docs/data.md), resolved like trace.file:
                        against the scenario's folder first, then the working directory;
                        NULL: the byte corpus */
    char *tokenizer; /* tokenizer file checked against exec.data's manifest; NULL: none */
    int vocab;       /* model vocabulary rows, >= 0; 0: the preset's [0] */
} sw_scenario_exec;

/* Failures injected into a run (both modes, through the engine's SITE_FAILED as exec's
 * heartbeat failures): at given run times, and/or drawn from a seeded exponential law. A
 * failure only takes effect if its site is up then (provisioning, ready, training, draining). */
typedef struct sw_scenario_failure {
    char *site; /* the name of a site of the scenario [required] */
    double t_s; /* run time of the failure, s, >= 0 [0] */
} sw_scenario_failure;

typedef struct sw_scenario_failures {
    sw_scenario_failure *at; /* failures at given times [empty] */
    size_t n_at;
    double mtbf_s; /* mean time between failures of each site while up, s, >= 0; 0 = none; the
                    * times are drawn from `seed` (core/run.h, sw_run_failure_schedule) [0] */
} sw_scenario_failures;

typedef struct sw_scenario {
    char *name;    /* scenario name [the file name without folder and extension] */
    uint64_t seed; /* random seed [1] */
    sw_scenario_trace trace;
    sw_scenario_policy policy;
    sw_scenario_rounds rounds;
    sw_scenario_model model;
    sw_scenario_site *sites; /* at least one, names unique */
    size_t n_sites;
    sw_scenario_network network;
    sw_scenario_exec exec;
    sw_scenario_failures failures;
    char *resolved_yaml; /* every field with its final value, as YAML text (for the report) */
} sw_scenario;

/* Loads, overrides and validates a scenario file. overrides: n_overrides strings
 * "dotted.path=value" (value is YAML: `sites.0.region=SPP_TX`, `sites[1].gpus=8`,
 * `trace.baseline_regions=[DE]`; an empty value restores the default), applied to the parsed
 * document before validation. On success *out owns its strings (free with sw_scenario_free);
 * on error *out is left empty (safe to free). */
int sw_scenario_load(const char *path, const char *const *overrides, size_t n_overrides,
                     sw_scenario *out, sw_error *err);

/* Same on YAML text; `name` stands for the file in messages, in the default scenario name and
 * as the base for a relative trace path. */
int sw_scenario_parse_text(const char *text, const char *name, const char *const *overrides,
                           size_t n_overrides, sw_scenario *out, sw_error *err);

/* Frees what the scenario owns and zeroes it (NULL or already freed is fine). */
void sw_scenario_free(sw_scenario *s);

/* Checks the scenario against its loaded trace and fills what depends on it: every site
 * region and baseline region must be a region of t (with trace.derive, t may be the file's
 * trace or the derived one: the file's is derived for the check), start/end default to the trace's
 * common span (latest start, earliest end over the regions used) and must lie inside it with start
 * < end. Regenerates resolved_yaml. SW_EINPUT with a message naming the key. */
int sw_scenario_resolve_trace(sw_scenario *s, const sw_trace *t, sw_error *err);

/* The checks of sw_scenario_resolve_trace without changing s: the run's span [*start_unix_s,
 * *end_unix_s) on trace t (the trace the run uses, derived regions included). For drivers. */
int sw_scenario_run_span(const sw_scenario *s, const sw_trace *t, double *start_unix_s,
                         double *end_unix_s, sw_error *err);

/* The convergence parameters of the scenario: sw_convergence_d20_defaults overridden by the
 * non-zero values of s->model.convergence, schedule_tokens defaulting to s->model.tokens. */
void sw_scenario_convergence_params(const sw_scenario *s, sw_convergence_params *out);

/* Applies trace.derive to a loaded trace: with s->trace.derive.regions > 0, replaces *t by the
 * derived trace (the loaded one is destroyed); otherwise leaves it. On error *t is unchanged
 * and still owned by the caller; SW_EINPUT names the key trace.derive. */
int sw_scenario_apply_derive(const sw_scenario *s, sw_trace **t, sw_error *err);

/* The trace options the scenario asks for (unit, gaps); region selection is left to the
 * caller. Borrows nothing. */
sw_trace_options sw_scenario_trace_options(const sw_scenario *s);

/* Index of a site by name, or -1. */
int sw_scenario_site_index(const sw_scenario *s, const char *name);

/* Peak dense BF16 tensor throughput of one GPU, FLOP/s (a100 312e12, h100 989e12, ...; see
 * scenario.c for the table and sources), or 0 for an unknown name. */
double sw_gpu_peak_flops(const char *gpu);

/* Parameter count of a known model preset (nanochat-d20: 561e6), or 0 if unknown. */
double sw_model_preset_params(const char *preset);

#endif
