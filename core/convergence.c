/* convergence.c - modelled loss and federated efficiency (see convergence.h and
 * docs/convergence.md for the model, its derivation from the reference logs and its limits).
 */
#include "core/convergence.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sw_convergence_d20_defaults(sw_convergence_params *p)
{
    /* Fitted to reference/centralized_loss.csv and reference/two_site_fl_loss.csv by
     *   spillway calibrate reference/centralized_loss.csv \
     *       --two-site reference/two_site_fl_loss.csv -o scenarios/d20_convergence.yaml
     * (sw_lossfit_calibrate with sw_lossfit_d20_options, then sw_convergence_to_yaml).
     * tests/core/test_lossfit.c re-runs that fit and checks that it still gives these. */
    *p = (sw_convergence_params){
        .e_nats = 2.646035076,
        .b = 332.4327012,
        .beta = 0.3072735941,
        .loss_max_nats = 11.09035489,   /* ln 65536: uniform prediction over the vocabulary */
        .schedule_tokens = 12268339200, /* 23,400 steps x 524,288 tokens */
        .warmdown_frac = 0.4,
        .anneal_nats = 0.234865587,
        .eff_h0_steps = 65.37702821,
    };
}

static int bad(sw_error *err, const char *field, double v, const char *expected)
{
    return sw_errorf(err, SW_EINPUT, "convergence.%s: %g is out of range, expected %s", field, v,
                     expected);
}

int sw_convergence_params_check(const sw_convergence_params *p, sw_error *err)
{
    if (!isfinite(p->e_nats) || p->e_nats < 0)
        return bad(err, "e_nats", p->e_nats, "a finite loss >= 0 nats/token");
    if (!isfinite(p->b) || p->b <= 0)
        return bad(err, "b", p->b, "a finite value > 0");
    if (!isfinite(p->beta) || p->beta <= 0)
        return bad(err, "beta", p->beta, "a finite exponent > 0");
    if (!isfinite(p->loss_max_nats) || p->loss_max_nats <= p->e_nats)
        return bad(err, "loss_max_nats", p->loss_max_nats, "a finite loss above e_nats");
    if (!isfinite(p->schedule_tokens) || p->schedule_tokens < 0)
        return bad(err, "schedule_tokens", p->schedule_tokens, "tokens >= 0 (0: no schedule)");
    if (!isfinite(p->warmdown_frac) || p->warmdown_frac < 0 || p->warmdown_frac >= 1)
        return bad(err, "warmdown_frac", p->warmdown_frac, "a fraction in [0, 1)");
    if (!isfinite(p->anneal_nats) || p->anneal_nats < 0)
        return bad(err, "anneal_nats", p->anneal_nats, "a finite loss drop >= 0");
    if (isnan(p->eff_h0_steps) || p->eff_h0_steps <= 0)
        return bad(err, "eff_h0_steps", p->eff_h0_steps, "local steps > 0 (.inf: no penalty)");
    return SW_OK;
}

double sw_convergence_warmdown(const sw_convergence_params *p, double schedule_tokens)
{
    if (p->schedule_tokens <= 0 || p->warmdown_frac <= 0)
        return 0;
    double span = p->warmdown_frac * p->schedule_tokens;
    double start = p->schedule_tokens - span;
    if (schedule_tokens <= start)
        return 0;
    if (schedule_tokens >= p->schedule_tokens)
        return 1;
    return (schedule_tokens - start) / span;
}

double sw_convergence_loss_at(const sw_convergence_params *p, double effective_tokens,
                              double schedule_tokens)
{
    /* The power law diverges at D -> 0 whereas a real model starts at ln(vocab): capping keeps
     * the loss finite and non-increasing (the early transient is not modelled; see docs). */
    double law = p->loss_max_nats;
    if (effective_tokens > 0) {
        double v = p->e_nats + p->b * pow(effective_tokens, -p->beta);
        if (v < law)
            law = v;
    }
    return law - p->anneal_nats * sw_convergence_warmdown(p, schedule_tokens);
}

double sw_convergence_loss(const sw_convergence_params *p, double effective_tokens)
{
    return sw_convergence_loss_at(p, effective_tokens, effective_tokens);
}

double sw_convergence_efficiency(const sw_convergence_params *p, double n_sites, double local_steps)
{
    if (n_sites <= 1 || local_steps <= 0 || isinf(p->eff_h0_steps))
        return 1;
    double keep = p->eff_h0_steps / (p->eff_h0_steps + local_steps);
    return 1 / n_sites + (1 - 1 / n_sites) * keep;
}

void sw_convergence_init(sw_convergence_state *s, const sw_convergence_params *p)
{
    memset(s, 0, sizeof *s);
    s->params = *p;
}

int sw_convergence_round(sw_convergence_state *s, const double *tokens_per_site, size_t n_sites,
                         double local_steps, sw_convergence_point *out, sw_error *err)
{
    if (!isfinite(local_steps) || local_steps < 0)
        return sw_errorf(err, SW_EINPUT, "convergence round: local_steps %g is not a count >= 0",
                         local_steps);
    double sum = 0, sum_sq = 0;
    for (size_t i = 0; i < n_sites; i++) {
        double t = tokens_per_site[i];
        if (!isfinite(t) || t < 0)
            return sw_errorf(err, SW_EINPUT,
                             "convergence round: tokens_per_site[%zu] = %g is not a count >= 0", i,
                             t);
        sum += t;
        sum_sq += t * t;
    }
    sw_convergence_point pt = {.n_sites = 0, .efficiency = 1};
    if (sum > 0) {
        /* Participation ratio: n for equal work, -> 1 when one site did almost everything
         * (work-weighted FedAvg then barely moves that site's model). Exactly 1 for n == 1. */
        pt.n_sites = n_sites == 1 ? 1 : sum * sum / sum_sq;
        pt.efficiency = sw_convergence_efficiency(&s->params, pt.n_sites, local_steps);
        s->effective_tokens += pt.efficiency * sum;
        s->schedule_tokens += sum;
        s->rounds++;
    }
    pt.effective_tokens = s->effective_tokens;
    pt.schedule_tokens = s->schedule_tokens;
    pt.loss_nats = sw_convergence_global_loss(s);
    pt.ppl = exp(pt.loss_nats);
    if (out)
        *out = pt;
    return SW_OK;
}

double sw_convergence_global_loss(const sw_convergence_state *s)
{
    return sw_convergence_loss_at(&s->params, s->effective_tokens, s->schedule_tokens);
}

double sw_convergence_local_loss(const sw_convergence_state *s, double local_tokens)
{
    if (!(local_tokens > 0))
        local_tokens = 0;
    return sw_convergence_loss_at(&s->params, s->effective_tokens + local_tokens,
                                  s->schedule_tokens + local_tokens);
}

/* --- YAML text ------------------------------------------------------------------------- */

typedef struct text {
    char *buf;
    size_t cap, len; /* len counts what would have been written, even beyond cap */
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = t->len < t->cap ? t->cap - t->len : 0;
    int n = vsnprintf(room ? t->buf + t->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
}

/* A YAML 1.1 float: 10 significant digits round-trip the fitted values well beyond their
 * standard errors; infinities and NaN in YAML spelling. */
static void put_num(text *t, const char *indent, const char *key, double v)
{
    if (isnan(v))
        put(t, "%s%s: .nan\n", indent, key);
    else if (isinf(v))
        put(t, "%s%s: %s.inf\n", indent, key, v < 0 ? "-" : "");
    else
        put(t, "%s%s: %.10g\n", indent, key, v);
}

static void put_source(text *t, const char *source)
{
    put(t, "      source: \"");
    for (const char *c = source; *c; c++) {
        if (*c == '"' || *c == '\\')
            put(t, "\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            put(t, "\\x%02x", (unsigned)(unsigned char)*c);
        else
            put(t, "%c", *c);
    }
    put(t, "\"\n");
}

static void put_fit(text *t, const char *name, const sw_convergence_fit *f, int federated)
{
    put(t, "    %s:\n", name);
    put_source(t, f->source);
    put(t, "      rows: %zu\n", f->n_points);
    put(t, "      iterations: %zu\n", f->iterations);
    put_num(t, "      ", "skip_tokens", f->skip_tokens);
    put_num(t, "      ", "rmse_nats", f->rmse_nats);
    if (federated) {
        put_num(t, "      ", "rmse_eff1_nats", f->rmse_reference_nats);
        put_num(t, "      ", "stderr_eff_h0_steps", f->stderr_[0]);
    } else {
        put_num(t, "      ", "stderr_e_nats", f->stderr_[0]);
        put_num(t, "      ", "stderr_b", f->stderr_[1]);
        put_num(t, "      ", "stderr_beta", f->stderr_[2]);
        put_num(t, "      ", "stderr_anneal_nats", f->stderr_[3]);
    }
    put_num(t, "      ", "final_log_nats", f->final_log_nats);
    put_num(t, "      ", "final_model_nats", f->final_model_nats);
}

int sw_convergence_to_yaml(const sw_convergence_params *p, const sw_convergence_fit *scaling,
                           const sw_convergence_fit *federated, char *buf, size_t cap,
                           size_t *len_out, sw_error *err)
{
    text t = {buf, cap, 0};
    const char *in = "  ";
    put(&t, "# spillway convergence model (docs/convergence.md, DESIGN section 4):\n"
            "#   loss(D, P) = min(e_nats + b * D^-beta, loss_max_nats) - anneal_nats * w(P)\n"
            "#   w(P): fraction of the LR warm-down (last warmdown_frac of schedule_tokens) done\n"
            "#   D += eff * tokens per round, eff(n, h) = 1/n + (1 - 1/n) * h0 / (h0 + h),\n"
            "#   n sites averaged, h local optimizer steps, h0 = eff_h0_steps.\n"
            "# Units: tokens, nats per token, optimizer steps.\n"
            "convergence:\n");
    put_num(&t, in, "e_nats", p->e_nats);
    put_num(&t, in, "b", p->b);
    put_num(&t, in, "beta", p->beta);
    put_num(&t, in, "loss_max_nats", p->loss_max_nats);
    put_num(&t, in, "schedule_tokens", p->schedule_tokens);
    put_num(&t, in, "warmdown_frac", p->warmdown_frac);
    put_num(&t, in, "anneal_nats", p->anneal_nats);
    put_num(&t, in, "eff_h0_steps", p->eff_h0_steps);
    int have_s = scaling && scaling->fitted, have_f = federated && federated->fitted;
    if (have_s || have_f) {
        put(&t, "  # diagnostics of the fit that produced the values above (not read back)\n"
                "  fit:\n");
        if (have_s)
            put_fit(&t, "scaling", scaling, 0);
        if (have_f)
            put_fit(&t, "federated", federated, 1);
    }
    if (len_out)
        *len_out = t.len;
    if (t.len >= cap)
        return sw_errorf(err, SW_ERUNTIME, "convergence YAML needs %zu bytes, the buffer has %zu",
                         t.len + 1, cap);
    return SW_OK;
}
