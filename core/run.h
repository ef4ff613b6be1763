/* run.h - one run session: everything a run derives from its scenario, owned once for both
 * drivers (sim/, exec/).
 *
 * A session is built from a scenario and owns the trace, the engine, the ledger, the report
 * (written through core/journal.h), the record cursor, each site's phase and totals, the
 * round rows, the modelled convergence (sim), the token budget of the running round, the end
 * of the run and its margins, and the summary. A driver only turns the engine's actions into
 * SimGrid activities or messages, and feeds back events (sw_run_step), phase changes
 * (sw_run_phase), training progress (sw_run_train) and round results (sw_run_round_done).
 *
 * The end of the run (docs/engine.md "Finishing"): the run ends at end_s, when the signal of a
 * site's region ends (or trace.end). The engine winds down wind_down_s earlier (a chunk of
 * training, the drain or return, the upload, the aggregation), provisions a site only if its
 * provisioning plus lead_s (download, start-up, one step) fits before that, and lets a ready
 * site join a new round only if lead_s fits. The ledger books every interval at or before
 * end_s: a site still up after it (exec's real costs can overrun the scenario's) is booked up
 * to end_s, and the rest is counted in the summary's unbooked_after_end_site_s.
 *
 * Errors after creation are runtime failures: the session keeps the first one
 * (sw_run_failed), and sw_run_close still writes the report, marked incomplete.
 */
#ifndef SW_RUN_H
#define SW_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/convergence.h"
#include "core/engine.h"
#include "core/error.h"
#include "core/journal.h"
#include "core/phase.h"
#include "core/report.h"
#include "core/scenario.h"

typedef struct sw_run_config {
    sw_report_mode mode;     /* sim: loss modelled here; exec: loss measured by the driver */
    const char *out_path;    /* the report (temporary name until sw_run_close) */
    const char *created_utc; /* fixed report time (tests); NULL = now */
    bool keep_journal;       /* keep every row for checkpoints (exec) */
    double model_bytes;      /* bytes of one model transfer (a download or an upload) */
    uint64_t tokens_target;  /* tokens of the whole run; 0 = the scenario's model.tokens */
} sw_run_config;

/* Where a resumed run picks up (exec --resume); NULL in sw_run_start for a new run. The
 * engine is restored from the old one's snapshot (sw_engine_snapshot): round numbers, tokens
 * and pending policy decisions carry on, and its sites are lost (sw_engine_sites_lost). */
typedef struct sw_run_resume {
    double t_s;                     /* run time of the restart: new rows are at or after it */
    const bool *site_up;            /* [n_sites]: up when the old coordinator died (or NULL) */
    const uint8_t *engine_snapshot; /* required */
    size_t engine_snapshot_len;
} sw_run_resume;

typedef struct sw_run sw_run;

/* The run's token target over a tokenized dataset of dataset_tokens training tokens (exec.data's
 * manifest): all of them, or model.tokens cut to whole steps of step_tokens when that is fewer
 * (at least one step). Both drivers pass it as tokens_target, so sim and exec agree. */
uint64_t sw_run_dataset_tokens(const sw_scenario *sc, uint64_t dataset_tokens,
                               uint64_t step_tokens);

/* Loads the scenario's trace (trace.derive applied), checks the run's span, creates the
 * ledger and the report (sites declared). SW_EINPUT names the scenario key. The engine is
 * created by sw_run_start, after a resumed driver has replayed its journal. */
int sw_run_create(const sw_scenario *sc, const sw_run_config *cfg, sw_run **out, sw_error *err);

/* Creates the engine (restored from resume's snapshot when resuming) and writes the run's
 * first rows. */
int sw_run_start(sw_run *r, const sw_run_resume *resume, sw_error *err);

/* Frees everything; an unclosed report is discarded. NULL is fine. */
void sw_run_destroy(sw_run *r);

/* ---- what the session derived (read-only) ---- */
const sw_scenario *sw_run_scenario(const sw_run *r);
sw_engine *sw_run_engine(sw_run *r);
const sw_trace *sw_run_trace(const sw_run *r);
sw_journal *sw_run_journal(sw_run *r); /* exec: its buffer goes into the checkpoint */
double sw_run_start_unix_s(const sw_run *r);
double sw_run_end_s(const sw_run *r);       /* end of the run, run s (the signal ends there) */
double sw_run_wind_down_s(const sw_run *r); /* the engine winds down this long before end_s */
double sw_run_lead_s(const sw_run *r, size_t site); /* download + start-up + one step, s */
double sw_run_transfer_s(const sw_run *r);          /* one model transfer over the WAN, s */
/* Seconds per optimizer step at a site: model.step_s scaled by its GPUs x peak FLOP/s
 * relative to the reference site of 4 A100s. */
double sw_run_site_step_s(const sw_run *r, size_t site);

/* The margins of the end of the run for scenario sc (what sw_run_create uses): the wind-down
 * before end_s and each site's lead (lead_s[n_sites], may be NULL); transfer_s is one model
 * transfer of model_bytes. */
void sw_run_margins(const sw_scenario *sc, double model_bytes, double *wind_down_s, double *lead_s);

/* ---- injected failures (scenario `failures`) ---- */

/* One injected failure: the site fails at t_s if it is up then (both drivers apply it as
 * SW_EV_SITE_FAILED, as exec's heartbeat failures). */
typedef struct sw_run_failure {
    size_t site;
    double t_s;
} sw_run_failure;

/* The run's failure schedule in time order (ties by site): failures.at, then for each site,
 * with failures.mtbf_s > 0, a Poisson process of rate 1/mtbf_s over [0, end_s) drawn from the
 * scenario's seed and the site's index (so the same in both modes and from run to run). A
 * failure that finds its site off is skipped, so the rate while up is 1/mtbf_s. */
size_t sw_run_failure_count(const sw_run *r);
const sw_run_failure *sw_run_failure_at(const sw_run *r, size_t i);

/* ---- the engine loop ---- */

/* sw_engine_step_n at run time now_s, then writes the engine's new records to /events and
 * /sites/<s>/states, a `ready` row per SITE_READY event, and the rows of the actions
 * (provision, release, stop). Whether a rejected event is fatal is the driver's call
 * (sw_engine_error). */
size_t sw_run_step(sw_run *r, double now_s, const sw_event *evs, size_t n_events, sw_action *out,
                   size_t cap, double *wake_s);

/* ---- what the sites do ---- */

/* Site `site` enters phase p at run time t_s: its current phase is booked in the ledger over
 * [since, t_s) at power_w (NAN: the scenario's power for that phase, i.e. modelled), clamped
 * to the end of the run; a /power row is written when the phase's power changes. t_s earlier
 * than the phase's start is taken as its start. */
void sw_run_phase(sw_run *r, size_t site, sw_phase p, double t_s, double power_w);
sw_phase sw_run_site_phase(const sw_run *r, size_t site);
double sw_run_site_phase_since(const sw_run *r, size_t site);

/* A /sites/<s>/train row: the site's cumulative steps and tokens, its training loss (NAN:
 * modelled from tokens trained in this round, sim). */
void sw_run_train(sw_run *r, size_t site, double t_s, int64_t steps_total, int64_t tokens_total,
                  double loss_nats, uint64_t round_tokens);

/* Claims up to `steps` optimizer steps of the running round's token budget for a site (the
 * START_ROUND's tokens_left, shared by the members); returns the tokens granted (0: the data
 * is used up) and sets *steps_granted. */
uint64_t sw_run_claim_steps(sw_run *r, double steps, double *steps_granted);

/* A driver event row (fail, note, ...) at t_s (kept in time order with the engine's). */
void sw_run_event(sw_run *r, double t_s, sw_report_event_kind kind, int site, int64_t round,
                  double value, const char *detail);

/* ---- rounds ---- */

/* A completed round, until its loss is known (exec validates in the background). */
typedef struct sw_run_round {
    sw_report_round_row row; /* loss and ppl filled by sw_run_round_done */
    int64_t global_tokens;   /* tokens in the global model once this round is in */
} sw_run_round;

/* The /rounds row of an AGGREGATE action (members, tokens, sync bytes, start time), ended at
 * t_end_s with sync_s of synchronization. */
sw_run_round sw_run_round_of(const sw_run *r, const sw_action *agg, double t_end_s, double sync_s);

/* The modelled loss after aggregating `agg` (sim): the convergence model's next point. */
int sw_run_modelled_round(sw_run *r, const sw_action *agg, double *loss_nats, sw_error *err);

/* The global model's loss after the round is known: writes /rounds and /global, updates the
 * figures (rounds, sync bytes, last and best perplexity). */
void sw_run_round_done(sw_run *r, sw_run_round *round, double loss_nats);

/* The global model's loss at t_s outside a round (exec: the initial model). */
void sw_run_global(sw_run *r, double t_s, double loss_nats);

/* Writes the report's buffered rows to disk (a crash then loses at most what came after). */
void sw_run_flush(sw_run *r);

/* ---- failure and the end ---- */

/* Records a runtime failure (the first is kept); the run should then stop. */
void sw_run_fail(sw_run *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool sw_run_failed(const sw_run *r);
const sw_error *sw_run_error(const sw_run *r);

/* Restores a site's totals (exec --resume). */
void sw_run_site_totals_set(sw_run *r, size_t site, int64_t steps, int64_t tokens,
                            double training_s);
void sw_run_site_totals(const sw_run *r, size_t site, int64_t *steps, int64_t *tokens,
                        double *training_s);
int64_t sw_run_rounds_done(const sw_run *r);
int64_t sw_run_round_next(const sw_run *r); /* report number of the next round */
double sw_run_best_ppl(const sw_run *r);
double sw_run_last_loss(const sw_run *r);
void sw_run_figures_set(sw_run *r, int64_t rounds_done, int64_t sync_bytes, double best_ppl,
                        double last_loss);
int64_t sw_run_sync_bytes(const sw_run *r);

/* Ends the run at t_end_s: closes every site's phase (at or before end_s), writes the signals
 * over [0, t_end_s), the summary (with the driver's extras) and the per-site summaries, and
 * closes the report. When the run failed (sw_run_fail) the report is still written, marked
 * incomplete with that error as the reason, and the failure is returned (SW_ERUNTIME).
 * *sum (may be NULL) receives the summary. The session must not be used after, but destroyed. */
int sw_run_close(sw_run *r, double t_end_s, const sw_report_extra *extras, size_t n_extras,
                 sw_report_summary *sum, sw_error *err);

#endif
