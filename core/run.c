/* run.c - the run session (see run.h): what both drivers used to derive each on its own. */
#include "core/run.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine_report.h"
#include "core/ledger.h"
#include "core/policy_scenario.h"

typedef struct run_site {
    size_t region; /* in the trace */
    sw_phase ph;
    double ph_t0_s;
    double state_t_s;      /* last /states row (kept non-decreasing) */
    sw_report_state state; /* ... and its state */
    int64_t steps_total, tokens_total;
    double training_s;
    bool overrun_noted;
} run_site;

struct sw_run {
    const sw_scenario *sc;
    sw_run_config cfg;
    sw_trace *trace;
    sw_engine *engine;
    sw_forecast *forecast; /* read by the look-ahead policies: destroyed after the engine */
    sw_ledger *ledger;
    sw_report *rep;
    sw_journal jr;
    run_site *sites;
    size_t n;
    double *lead_s;
    double start_unix_s, end_s, wind_down_s, transfer_s;
    uint64_t tokens_target;
    size_t records_seen;
    double event_t_s; /* last /events row (kept non-decreasing) */
    /* start times of the last two rounds handed out: a step can hand out a round's AGGREGATE
     * and the next START_ROUND together */
    int64_t round_id[2];
    double round_start_s[2];
    uint64_t round_budget; /* tokens the running round's members may still claim */
    sw_convergence_state conv;
    int64_t rounds_done, sync_bytes;
    double best_ppl, last_loss;
    double unbooked_s;        /* site-seconds after end_s: no signal to book them against */
    sw_run_failure *failures; /* the injected failures, in time order */
    size_t n_failures;
    int status;
    sw_error err;
};

void sw_run_fail(sw_run *r, int code, const char *fmt, ...)
{
    if (r->status != SW_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    r->err.code = code;
    vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
    va_end(ap);
    r->status = code;
}

bool sw_run_failed(const sw_run *r)
{
    return r->status != SW_OK || r->jr.status != SW_OK;
}

const sw_error *sw_run_error(const sw_run *r)
{
    return r->status != SW_OK ? &r->err : &r->jr.err;
}

/* ---- margins of the end of the run ---- */

static double site_speedup(const sw_scenario_site *s)
{
    return (double)s->gpus * sw_gpu_peak_flops(s->gpu) / (4.0 * sw_gpu_peak_flops("a100"));
}

static double transfer_s(const sw_scenario *sc, double model_bytes)
{
    return model_bytes / (sc->network.wan_gbps * 1e9 / 8) + sc->network.wan_latency_ms * 1e-3;
}

/* After END_ROUND a member finishes its chunk of training (at most a log interval, or one
 * step when a step is longer), drains or returns its work, uploads the model, and the
 * coordinator aggregates; one second more absorbs the clock's rounding. A site joining a
 * round needs the download, its start-up and one step before it has trained anything. */
void sw_run_margins(const sw_scenario *sc, double model_bytes, double *wind_down_s, double *lead_s)
{
    double xfer = transfer_s(sc, model_bytes);
    double finish_s = fmax(sc->rounds.return_s, 0), chunk_s = sc->model.log_interval_s;
    for (size_t i = 0; i < sc->n_sites; i++) {
        double step_s = sc->model.step_s / site_speedup(&sc->sites[i]);
        finish_s = fmax(finish_s, sc->sites[i].drain_s);
        chunk_s = fmax(chunk_s, step_s);
        if (lead_s)
            lead_s[i] = xfer + sc->rounds.startup_s + step_s;
    }
    *wind_down_s = chunk_s + finish_s + xfer + sc->rounds.aggregate_s + 1.0;
}

/* ---- injected failures ---- */

/* splitmix64: a small, well-mixed generator for the failure times (deterministic per seed). */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int by_time(const void *a, const void *b)
{
    const sw_run_failure *x = a, *y = b;
    if (x->t_s != y->t_s)
        return x->t_s < y->t_s ? -1 : 1;
    return x->site < y->site ? -1 : x->site > y->site;
}

static int push_failure(sw_run *r, size_t *cap, size_t site, double t_s)
{
    if (r->n_failures == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        sw_run_failure *f = realloc(r->failures, c * sizeof *f);
        if (!f)
            return SW_ERUNTIME;
        r->failures = f;
        *cap = c;
    }
    r->failures[r->n_failures++] = (sw_run_failure){site, t_s};
    return SW_OK;
}

#define MAX_DRAWN_FAILURES 1000000

static int make_failures(sw_run *r, sw_error *err)
{
    const sw_scenario_failures *f = &r->sc->failures;
    size_t cap = 0;
    for (size_t i = 0; i < f->n_at; i++)
        if (f->at[i].t_s < r->end_s &&
            push_failure(r, &cap, (size_t)sw_scenario_site_index(r->sc, f->at[i].site),
                         f->at[i].t_s) != SW_OK)
            return sw_errorf(err, SW_ERUNTIME, "run: out of memory");
    for (size_t i = 0; f->mtbf_s > 0 && i < r->n; i++) {
        uint64_t x = r->sc->seed ^ (0xD1B54A32D192ED03ull * (i + 1));
        for (double t = 0;;) {
            double u = (double)(splitmix64(&x) >> 11) * 0x1.0p-53; /* [0, 1) */
            t += -f->mtbf_s * log1p(-u);
            if (t >= r->end_s)
                break;
            if (r->n_failures >= MAX_DRAWN_FAILURES)
                return sw_errorf(err, SW_EINPUT,
                                 "%s: failures.mtbf_s: %g s gives more than %d failures",
                                 r->sc->name, f->mtbf_s, MAX_DRAWN_FAILURES);
            if (push_failure(r, &cap, i, t) != SW_OK)
                return sw_errorf(err, SW_ERUNTIME, "run: out of memory");
        }
    }
    if (r->n_failures > 1)
        qsort(r->failures, r->n_failures, sizeof *r->failures, by_time);
    return SW_OK;
}

size_t sw_run_failure_count(const sw_run *r)
{
    return r->n_failures;
}

const sw_run_failure *sw_run_failure_at(const sw_run *r, size_t i)
{
    return i < r->n_failures ? &r->failures[i] : NULL;
}

/* ---- rows ---- */

static void event_at(sw_run *r, sw_report_event_row *row)
{
    if (row->t_s < r->event_t_s)
        row->t_s = r->event_t_s;
    r->event_t_s = row->t_s;
    sw_journal_event(&r->jr, row);
}

void sw_run_event(sw_run *r, double t_s, sw_report_event_kind kind, int site, int64_t round,
                  double value, const char *detail)
{
    sw_report_event_row row = {
        .t_s = t_s, .kind = kind, .site = site, .round = round, .value = value};
    if (detail)
        snprintf(row.detail, sizeof row.detail, "%s", detail);
    event_at(r, &row);
}

static void state_at(sw_run *r, size_t site, double t_s, sw_report_state st)
{
    run_site *s = &r->sites[site];
    if (t_s < s->state_t_s)
        t_s = s->state_t_s;
    s->state_t_s = t_s;
    s->state = st;
    sw_journal_state(&r->jr, (int)site, t_s, st);
}

/* Books [t0_s, t1_s) of a site in the ledger, at or before the end of the run. */
static void book(sw_run *r, size_t site, sw_phase ph, double t0_s, double t1_s, double power_w)
{
    run_site *s = &r->sites[site];
    if (t1_s > r->end_s) {
        double over_s = t1_s - fmax(t0_s, r->end_s);
        r->unbooked_s += over_s;
        if (!s->overrun_noted && over_s > 1e-6) {
            s->overrun_noted = true;
            char msg[SW_REPORT_DETAIL_MAX];
            snprintf(msg, sizeof msg, "%s: up after the end of the run t=%.0f s, not booked",
                     r->sc->sites[site].name, r->end_s);
            sw_run_event(r, t1_s, SW_REPORT_EV_NOTE, (int)site, -1, over_s, msg);
        }
        t1_s = r->end_s;
    }
    if (t1_s > t0_s)
        sw_journal_energy(&r->jr, site, sw_phase_ledger_state(ph), t0_s, t1_s, power_w);
}

void sw_run_phase(sw_run *r, size_t site, sw_phase p, double t_s, double power_w)
{
    run_site *s = &r->sites[site];
    const sw_scenario_site *ss = &r->sc->sites[site];
    if (t_s < s->ph_t0_s)
        t_s = s->ph_t0_s;
    if (s->ph != SW_PHASE_OFF && t_s > s->ph_t0_s)
        book(r, site, s->ph, s->ph_t0_s, t_s,
             isnan(power_w) ? sw_phase_power_w(ss, s->ph) : power_w);
    if (s->ph == SW_PHASE_TRAINING)
        s->training_s += t_s - s->ph_t0_s;
    if (p != s->ph)
        sw_journal_power(&r->jr, (int)site, t_s, sw_phase_power_w(ss, p));
    s->ph = p;
    s->ph_t0_s = t_s;
}

sw_phase sw_run_site_phase(const sw_run *r, size_t site)
{
    return r->sites[site].ph;
}

double sw_run_site_phase_since(const sw_run *r, size_t site)
{
    return r->sites[site].ph_t0_s;
}

void sw_run_train(sw_run *r, size_t site, double t_s, int64_t steps_total, int64_t tokens_total,
                  double loss_nats, uint64_t round_tokens)
{
    run_site *s = &r->sites[site];
    s->steps_total = steps_total;
    s->tokens_total = tokens_total;
    if (isnan(loss_nats) && r->cfg.mode == SW_REPORT_SIM)
        loss_nats = sw_convergence_local_loss(&r->conv, (double)round_tokens);
    sw_report_train_row row = {.t_s = t_s,
                               .step = steps_total,
                               .tokens = tokens_total,
                               .loss = loss_nats,
                               .ppl = exp(loss_nats)};
    sw_journal_train(&r->jr, (int)site, &row);
}

uint64_t sw_run_dataset_tokens(const sw_scenario *sc, uint64_t dataset_tokens, uint64_t step_tokens)
{
    if (!(sc->model.tokens < (double)dataset_tokens))
        return dataset_tokens;
    uint64_t t = (uint64_t)sc->model.tokens / step_tokens * step_tokens;
    return t ? t : step_tokens;
}

uint64_t sw_run_claim_steps(sw_run *r, double steps, double *steps_granted)
{
    uint64_t batch = r->sc->model.batch_tokens;
    uint64_t claimable = r->round_budget / batch + (r->round_budget % batch ? 1 : 0);
    *steps_granted = 0;
    if (claimable == 0)
        return 0; /* the data is used up */
    if (steps > (double)claimable)
        steps = (double)claimable;
    uint64_t tokens = (uint64_t)steps * batch;
    if (tokens > r->round_budget)
        tokens = r->round_budget;
    r->round_budget -= tokens;
    *steps_granted = steps;
    return tokens;
}

/* ---- the engine loop ---- */

/* Engine records -> /events and /sites/<s>/states, at the times the engine decided them. */
static void write_records(sw_run *r)
{
    size_t n = sw_engine_record_count(r->engine);
    for (; r->records_seen < n; r->records_seen++) {
        const sw_engine_record *rec = sw_engine_record_at(r->engine, r->records_seen);
        if (rec->kind == SW_REC_STATE) {
            state_at(r, (size_t)rec->site, rec->t_s,
                     sw_engine_report_state((sw_site_state)rec->to_state));
            continue;
        }
        sw_report_event_row row =
            sw_engine_record_event_row(rec, r->sc->policy.threshold_g_per_kwh);
        event_at(r, &row);
    }
}

/* Writes the rows an action implies. */
static void handed_out(sw_run *r, sw_action *a)
{
    switch (a->kind) {
    case SW_ACT_PROVISION_SITE:
        sw_run_event(r, a->t_s, SW_REPORT_EV_PROVISION, a->site, -1, a->expected_ready_s, NULL);
        break;
    case SW_ACT_RELEASE_SITE:
        sw_run_event(r, a->t_s, SW_REPORT_EV_RELEASE, a->site, -1, NAN, "released");
        break;
    case SW_ACT_STOP_SITE:
        sw_run_event(r, a->t_s, SW_REPORT_EV_STOP, a->site, a->round, NAN, "graceful stop");
        break;
    case SW_ACT_START_ROUND:
        r->round_id[1] = r->round_id[0];
        r->round_start_s[1] = r->round_start_s[0];
        r->round_id[0] = a->round;
        r->round_start_s[0] = a->t_s;
        r->round_budget = a->tokens_left;
        break;
    default:
        break;
    }
}

size_t sw_run_step(sw_run *r, double now_s, const sw_event *evs, size_t n_events, sw_action *out,
                   size_t cap, double *wake_s)
{
    for (size_t i = 0; i < n_events; i++)
        if (evs[i].kind == SW_EV_SITE_READY)
            sw_run_event(r, now_s, SW_REPORT_EV_READY, evs[i].site, -1, NAN, NULL);
    double et = fmax(now_s, sw_engine_now(r->engine));
    double w = INFINITY;
    size_t n = sw_engine_step_n(r->engine, et, evs, n_events, out, cap, &w);
    const sw_error *e = sw_engine_error(r->engine);
    if (e->code == SW_ERUNTIME)
        sw_run_fail(r, SW_ERUNTIME, "%s", e->msg);
    write_records(r);
    for (size_t i = 0; i < n; i++)
        handed_out(r, &out[i]);
    if (wake_s)
        *wake_s = w;
    return n;
}

/* ---- rounds ---- */

sw_run_round sw_run_round_of(const sw_run *r, const sw_action *agg, double t_end_s, double sync_s)
{
    double t0 = r->round_id[1] == agg->round ? r->round_start_s[1] : r->round_start_s[0];
    sw_run_round rr = {
        .row = {.round = agg->round,
                .t_start_s = t0,
                .t_end_s = fmax(t_end_s, t0),
                .n_sites = (int32_t)agg->n_sites,
                .tokens = (int64_t)agg->tokens_total,
                .sync_bytes = (int64_t)(2 * r->cfg.model_bytes * (double)agg->n_sites),
                .sync_s = sync_s,
                .loss = NAN,
                .ppl = NAN},
        .global_tokens = (int64_t)sw_engine_tokens(r->engine)};
    for (size_t i = 0; i < agg->n_sites; i++)
        sw_report_mask_set(rr.row.sites, agg->sites[i]);
    return rr;
}

int sw_run_modelled_round(sw_run *r, const sw_action *agg, double *loss_nats, sw_error *err)
{
    double tokens[SW_REPORT_MAX_SITES], max_steps = 0;
    for (size_t i = 0; i < agg->n_sites; i++) {
        tokens[i] = (double)agg->tokens[i];
        max_steps = fmax(max_steps, tokens[i] / (double)r->sc->model.batch_tokens);
    }
    sw_convergence_point pt;
    int rc = sw_convergence_round(&r->conv, tokens, agg->n_sites, max_steps, &pt, err);
    *loss_nats = rc == SW_OK ? pt.loss_nats : NAN;
    return rc;
}

void sw_run_global(sw_run *r, double t_s, double loss_nats)
{
    sw_report_global_row g = {.t_s = t_s,
                              .tokens = (int64_t)sw_engine_tokens(r->engine),
                              .loss = loss_nats,
                              .ppl = exp(loss_nats)};
    if (!r->engine)
        g.tokens = 0;
    sw_journal_global(&r->jr, &g);
    r->last_loss = loss_nats;
}

void sw_run_round_done(sw_run *r, sw_run_round *round, double loss_nats)
{
    round->row.loss = loss_nats;
    round->row.ppl = exp(loss_nats);
    sw_journal_round(&r->jr, &round->row);
    sw_report_global_row g = {.t_s = round->row.t_end_s,
                              .tokens = round->global_tokens,
                              .loss = loss_nats,
                              .ppl = exp(loss_nats)};
    sw_journal_global(&r->jr, &g);
    r->rounds_done++;
    r->sync_bytes += round->row.sync_bytes;
    r->last_loss = loss_nats;
    if (exp(loss_nats) < r->best_ppl)
        r->best_ppl = exp(loss_nats);
}

void sw_run_flush(sw_run *r)
{
    if (r->rep)
        sw_report_flush(r->rep, NULL);
}

/* ---- set-up ---- */

static int load_trace(sw_run *r, sw_error *err)
{
    const sw_scenario *sc = r->sc;
    sw_trace_options topt = sw_scenario_trace_options(sc);
    int rc = sw_trace_load(sc->trace.file, &topt, &r->trace, err);
    if (rc == SW_OK) /* trace.derive: the derived regions replace the file's */
        rc = sw_scenario_apply_derive(sc, &r->trace, err);
    double end_unix_s = NAN;
    if (rc == SW_OK) /* by default: when every region used has a signal */
        rc = sw_scenario_run_span(sc, r->trace, &r->start_unix_s, &end_unix_s, err);
    if (rc != SW_OK)
        return rc;
    r->end_s = end_unix_s - r->start_unix_s;
    for (size_t i = 0; i < r->n; i++)
        r->sites[i].region = (size_t)sw_trace_region_index(r->trace, sc->sites[i].region);
    sw_run_margins(sc, r->cfg.model_bytes, &r->wind_down_s, r->lead_s);
    r->transfer_s = transfer_s(sc, r->cfg.model_bytes);
    if (!(r->end_s - r->wind_down_s > 0))
        return sw_errorf(err, SW_EINPUT,
                         "%s: trace.end: the run of %.0f s is shorter than its wind-down of %.0f s "
                         "(model.log_interval_s, drain_s/rounds.return_s, the model transfer, "
                         "rounds.aggregate_s)",
                         sc->name, r->end_s, r->wind_down_s);
    return SW_OK;
}

static int setup_ledger_report(sw_run *r, sw_error *err)
{
    const sw_scenario *sc = r->sc;
    int rc = sw_ledger_create(r->start_unix_s, sc->policy.threshold_g_per_kwh, &r->ledger, err);
    for (size_t i = 0; rc == SW_OK && i < r->n; i++) {
        sw_ledger_site_config lc = {.name = sc->sites[i].name,
                                    .marginal = r->trace,
                                    .marginal_region = r->sites[i].region,
                                    .pue = sc->sites[i].pue,
                                    .gpus = (unsigned)sc->sites[i].gpus};
        rc = sw_ledger_add_site(r->ledger, &lc, NULL, err);
    }
    if (rc != SW_OK)
        return rc;
    sw_report_meta meta = {.mode = r->cfg.mode,
                           .scenario_name = sc->name,
                           .scenario_yaml = sc->resolved_yaml,
                           .seed = sc->seed,
                           .created_utc = r->cfg.created_utc,
                           .loss_kind = r->cfg.mode == SW_REPORT_SIM ? SW_REPORT_LOSS_MODELLED
                                                                     : SW_REPORT_LOSS_MEASURED,
                           .t0_unix_s = r->start_unix_s};
    if ((rc = sw_report_create(r->cfg.out_path, &meta, &r->rep, err)) != SW_OK)
        return rc;
    r->jr = (sw_journal){.rep = r->rep, .ledger = r->ledger, .keep = r->cfg.keep_journal};
    for (size_t i = 0; i < r->n; i++)
        sw_report_add_site(r->rep, sc->sites[i].name, sc->sites[i].region, sc->sites[i].gpus);
    return sw_report_error(r->rep) ? sw_errorf(err, SW_ERUNTIME, "%s", sw_report_error(r->rep))
                                   : SW_OK;
}

/* The modelled Nesterov outer step is an assumption for DiLoCo's lr 0.7 and momentum 0.9
 * (docs/convergence.md): other values need the user's own h0, else sim would pretend. */
static int check_outer_modelled(const sw_scenario *sc, sw_error *err)
{
    const sw_scenario_outer *o = &sc->rounds.outer;
    if (o->kind != SW_OUTER_NESTEROV || o->eff_h0_steps > 0)
        return SW_OK;
    if (o->lr != 0.7)
        return sw_errorf(err, SW_EINPUT,
                         "%s: rounds.outer.lr: the simulator models the Nesterov outer step at "
                         "lr 0.7, momentum 0.9 only, got lr %g; set rounds.outer.eff_h0_steps "
                         "for other values (docs/convergence.md)",
                         sc->name, o->lr);
    if (o->momentum != 0.9)
        return sw_errorf(err, SW_EINPUT,
                         "%s: rounds.outer.momentum: the simulator models the Nesterov outer step "
                         "at lr 0.7, momentum 0.9 only, got momentum %g; set "
                         "rounds.outer.eff_h0_steps for other values (docs/convergence.md)",
                         sc->name, o->momentum);
    return SW_OK;
}

int sw_run_create(const sw_scenario *sc, const sw_run_config *cfg, sw_run **out, sw_error *err)
{
    *out = NULL;
    if (sc->n_sites > SW_REPORT_MAX_SITES)
        return sw_errorf(err, SW_EINPUT, "%s: sites: at most %d sites, got %zu", sc->name,
                         SW_REPORT_MAX_SITES, sc->n_sites);
    sw_run *r = calloc(1, sizeof *r);
    if (!r)
        return sw_errorf(err, SW_ERUNTIME, "run: out of memory");
    r->sc = sc;
    r->cfg = *cfg;
    r->n = sc->n_sites;
    r->sites = calloc(r->n, sizeof *r->sites);
    r->lead_s = calloc(r->n, sizeof *r->lead_s);
    r->best_ppl = INFINITY;
    r->round_id[0] = r->round_id[1] = -1;
    r->tokens_target = cfg->tokens_target ? cfg->tokens_target : (uint64_t)sc->model.tokens;
    if (!r->sites || !r->lead_s) {
        sw_run_destroy(r);
        return sw_errorf(err, SW_ERUNTIME, "run: out of memory");
    }
    sw_convergence_params cp;
    sw_scenario_convergence_params(sc, &cp);
    int rc = cfg->mode == SW_REPORT_SIM ? check_outer_modelled(sc, err) : SW_OK;
    if (rc == SW_OK)
        rc = load_trace(r, err);
    if (rc == SW_OK && cfg->mode == SW_REPORT_SIM &&
        (rc = sw_convergence_params_check(&cp, err)) == SW_OK) {
        sw_convergence_init(&r->conv, &cp);
        r->last_loss = sw_convergence_global_loss(&r->conv);
    }
    if (rc == SW_OK)
        rc = make_failures(r, err);
    if (rc == SW_OK)
        rc = setup_ledger_report(r, err);
    if (rc != SW_OK) {
        sw_run_destroy(r);
        return rc;
    }
    *out = r;
    return SW_OK;
}

/* The engine of the run from the scenario: a new one, or the one a snapshot saved. */
static int make_engine(sw_run *r, const sw_run_resume *res, sw_error *err)
{
    const sw_scenario *sc = r->sc;
    sw_engine_site *es = calloc(r->n, sizeof *es);
    if (!es)
        return sw_errorf(err, SW_ERUNTIME, "run: out of memory");
    for (size_t i = 0; i < r->n; i++)
        es[i] = (sw_engine_site){.name = sc->sites[i].name,
                                 .region = r->sites[i].region,
                                 .provision_s = sc->sites[i].provision_s};
    sw_engine_config ec = {
        .start_unix_s = r->start_unix_s,
        .end_s = r->end_s,
        .wind_down_s = r->wind_down_s, /* < end_s: checked by load_trace */
        .trace = r->trace,
        .sites = es,
        .n_sites = r->n,
        .lead_s = r->lead_s,
        .policy = {.kind = sc->policy.kind,
                   .threshold_g_per_kwh = sc->policy.threshold_g_per_kwh,
                   .hysteresis_s = sc->policy.deprovision_after_s,
                   .poll_s = sc->policy.poll_s},
        .rounds = {.min_duration_s = sc->rounds.min_duration_s},
        .tokens_target = r->tokens_target,
    };
    int rc = SW_OK;
    sw_policy_set pset = {0};
    if (sc->policy.kind >= SW_POLICY_FORECAST_THRESHOLD) {
        rc = sw_policies_create(sc, r->trace, r->start_unix_s, r->start_unix_s + r->end_s, &pset,
                                err);
        if (rc != SW_OK) {
            free(es);
            return rc;
        }
        ec.policies = pset.policies; /* the engine's from here on, also if it fails */
        r->forecast = pset.forecast;
    }
    if (res) {
        rc =
            sw_engine_restore(&ec, res->engine_snapshot, res->engine_snapshot_len, &r->engine, err);
        if (rc == SW_OK) { /* the running round's start, for its /rounds row */
            const sw_round *open = sw_engine_round(r->engine);
            r->round_id[0] = open ? open->id : -1;
            r->round_start_s[0] = open ? open->start_s : 0;
            sw_engine_sites_lost(r->engine, "lost with the coordinator (restart)");
        }
    } else {
        rc = sw_engine_create(&ec, &r->engine, err);
    }
    free(pset.policies); /* the array only: its policies are the engine's */
    free(es);
    return rc;
}

int sw_run_start(sw_run *r, const sw_run_resume *res, sw_error *err)
{
    const sw_scenario *sc = r->sc;
    if (res && !res->engine_snapshot)
        return sw_errorf(err, SW_EINPUT, "run: a resumed run needs the engine's snapshot");
    double at_s = res ? res->t_s : 0; /* rows from now on are at or after this */
    r->event_t_s = fmax(r->event_t_s, at_s);
    int rc = make_engine(r, res, err);
    if (rc != SW_OK)
        return rc;
    for (size_t i = 0; i < r->n; i++) {
        run_site *s = &r->sites[i];
        s->ph_t0_s = s->state_t_s = at_s;
        /* a new run starts with every site off; a resumed one finds its sites down (the
         * restored engine records their states itself) */
        if (!res)
            state_at(r, i, 0, SW_REPORT_STATE_OFF);
        if (!res || (res->site_up && res->site_up[i]))
            sw_journal_power(&r->jr, (int)i, at_s, sc->sites[i].power_w.off);
    }
    if (r->jr.status != SW_OK)
        return sw_errorf(err, SW_ERUNTIME, "%s", r->jr.err.msg);
    return SW_OK;
}

void sw_run_destroy(sw_run *r)
{
    if (!r)
        return;
    if (r->rep)
        sw_report_abort(r->rep);
    sw_engine_destroy(r->engine);
    sw_forecast_destroy(r->forecast);
    sw_ledger_destroy(r->ledger);
    sw_trace_destroy(r->trace);
    sw_journal_free(&r->jr);
    free(r->sites);
    free(r->lead_s);
    free(r->failures);
    free(r);
}

/* ---- the end ---- */

/* The signal of each region in use, as run-time step series over [0, end_s). */
static void write_signals(sw_run *r, double end_s)
{
    for (size_t reg = 0; reg < sw_trace_region_count(r->trace); reg++) {
        bool used = false;
        for (size_t i = 0; i < r->n; i++)
            used |= r->sites[i].region == reg;
        if (used)
            sw_report_add_trace_signal(r->rep, r->trace, reg, r->start_unix_s, end_s);
    }
}

static int write_summary(sw_run *r, double t_end_s, const sw_report_extra *extras, size_t n_extras,
                         sw_report_summary *sum, sw_error *err)
{
    sw_report_extra *all = calloc(n_extras + 1, sizeof *all);
    if (!all)
        return sw_errorf(err, SW_ERUNTIME, "run: out of memory");
    if (n_extras)
        memcpy(all, extras, n_extras * sizeof *all);
    all[n_extras] = (sw_report_extra){"unbooked_after_end_site_s", r->unbooked_s, "s"};
    *sum = (sw_report_summary){
        .runtime_h = t_end_s / 3600.0,
        .final_loss = r->last_loss,
        .final_ppl = exp(r->last_loss),
        .best_ppl = isfinite(r->best_ppl) ? r->best_ppl : exp(r->last_loss),
        .tokens = (int64_t)(r->engine ? sw_engine_tokens(r->engine) : 0),
        .rounds = r->rounds_done,
        .sync_bytes = r->sync_bytes,
        .extras = all,
        .n_extras = n_extras + 1,
    };
    int rc = sw_ledger_report_summary(r->ledger, sum, err);
    if (rc == SW_OK)
        sw_report_set_summary(r->rep, sum);
    free(all);
    sum->extras = NULL;
    sum->n_extras = 0;
    for (size_t i = 0; rc == SW_OK && i < r->n; i++) {
        sw_report_site_summary ss = {.training_h = r->sites[i].training_s / 3600.0,
                                     .tokens = r->sites[i].tokens_total};
        if ((rc = sw_ledger_report_site_summary(r->ledger, i, &ss, err)) == SW_OK)
            sw_report_set_site_summary(r->rep, (int)i, &ss);
    }
    return rc;
}

int sw_run_close(sw_run *r, double t_end_s, const sw_report_extra *extras, size_t n_extras,
                 sw_report_summary *sum, sw_error *err)
{
    sw_report_summary local;
    if (!sum)
        sum = &local;
    memset(sum, 0, sizeof *sum);
    if (!r->rep)
        return sw_errorf(err, SW_ERUNTIME, "run: the report is already closed");
    for (size_t i = 0; i < r->n; i++) { /* whatever is still up ends now */
        run_site *s = &r->sites[i];
        double t = fmax(t_end_s, s->ph_t0_s);
        if (s->ph != SW_PHASE_OFF)
            sw_run_phase(r, i, SW_PHASE_OFF, t, NAN);
        if (s->state != SW_REPORT_STATE_OFF)
            state_at(r, i, t, SW_REPORT_STATE_OFF);
    }
    write_signals(r, t_end_s > 0 ? fmin(t_end_s, r->end_s) : r->end_s);
    sw_error serr;
    int rc = write_summary(r, t_end_s, extras, n_extras, sum, &serr);
    if (rc != SW_OK)
        sw_run_fail(r, SW_ERUNTIME, "%s", serr.msg);
    bool failed = sw_run_failed(r);
    sw_error failure = *sw_run_error(r);
    if (failed)
        sw_report_set_incomplete(r->rep, failure.msg);
    rc = sw_report_close(r->rep, err);
    r->rep = NULL;
    if (rc != SW_OK)
        return SW_ERUNTIME;
    if (failed)
        return sw_errorf(err, SW_ERUNTIME, "%s (report %s written, marked incomplete)", failure.msg,
                         r->cfg.out_path);
    return SW_OK;
}

/* ---- accessors ---- */

const sw_scenario *sw_run_scenario(const sw_run *r)
{
    return r->sc;
}
sw_engine *sw_run_engine(sw_run *r)
{
    return r->engine;
}
const sw_trace *sw_run_trace(const sw_run *r)
{
    return r->trace;
}
sw_journal *sw_run_journal(sw_run *r)
{
    return &r->jr;
}
double sw_run_start_unix_s(const sw_run *r)
{
    return r->start_unix_s;
}
double sw_run_end_s(const sw_run *r)
{
    return r->end_s;
}
double sw_run_wind_down_s(const sw_run *r)
{
    return r->wind_down_s;
}
double sw_run_lead_s(const sw_run *r, size_t site)
{
    return r->lead_s[site];
}
double sw_run_transfer_s(const sw_run *r)
{
    return r->transfer_s;
}
double sw_run_site_step_s(const sw_run *r, size_t site)
{
    return r->sc->model.step_s / site_speedup(&r->sc->sites[site]);
}
void sw_run_site_totals_set(sw_run *r, size_t site, int64_t steps, int64_t tokens,
                            double training_s)
{
    r->sites[site].steps_total = steps;
    r->sites[site].tokens_total = tokens;
    r->sites[site].training_s = training_s;
}
void sw_run_site_totals(const sw_run *r, size_t site, int64_t *steps, int64_t *tokens,
                        double *training_s)
{
    *steps = r->sites[site].steps_total;
    *tokens = r->sites[site].tokens_total;
    *training_s = r->sites[site].training_s;
}
int64_t sw_run_rounds_done(const sw_run *r)
{
    return r->rounds_done;
}
int64_t sw_run_round_next(const sw_run *r)
{
    return r->engine ? sw_engine_rounds_completed(r->engine) : 0;
}
double sw_run_best_ppl(const sw_run *r)
{
    return r->best_ppl;
}
double sw_run_last_loss(const sw_run *r)
{
    return r->last_loss;
}
int64_t sw_run_sync_bytes(const sw_run *r)
{
    return r->sync_bytes;
}
void sw_run_figures_set(sw_run *r, int64_t rounds_done, int64_t sync_bytes, double best_ppl,
                        double last_loss)
{
    r->rounds_done = rounds_done;
    r->sync_bytes = sync_bytes;
    r->best_ppl = best_ppl;
    r->last_loss = last_loss;
}
