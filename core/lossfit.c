/* lossfit.c - fitting the convergence model to loss logs (see lossfit.h, docs/convergence.md).
 *
 * Both fits are nonlinear least squares solved by gsl_multifit_nlinear (trust region,
 * Levenberg-Marquardt) with analytic Jacobians. GSL's default error handler aborts; it is
 * switched off for the duration of each fit and the caller's handler restored afterwards.
 */
#include "core/lossfit.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tokens are fitted in units of 1e9 so that B stays of order one and the Jacobian columns are
 * of comparable size; B is converted back to tokens (B_tokens = B_scaled * 1e9^beta). */
#define TOKEN_SCALE 1e9
#define MIN_ROWS    8
#define MAX_ITER    200
#define FINAL_FRAC  0.02

static int oom(sw_error *err)
{
    return sw_errorf(err, SW_ERUNTIME, "out of memory while fitting the convergence model");
}

/* --- series ---------------------------------------------------------------------------- */

void sw_lossfit_series_free(sw_lossfit_series *s)
{
    if (!s)
        return;
    free(s->tokens);
    free(s->local_tokens);
    free(s->round);
    free(s->loss);
    free(s->round_tokens);
    memset(s, 0, sizeof *s);
}

int sw_lossfit_series_from_log(const sw_losslog *log, const sw_lossfit_clock *clock,
                               sw_lossfit_series *out, sw_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = log->n;
    if (n < 2)
        return sw_errorf(err, SW_EINPUT, "loss log: %zu row(s), need at least 2 to fit", n);
    if (clock->n_sites < 1 || !(clock->batch_tokens > 0))
        return sw_errorf(err, SW_EINPUT,
                         "loss-log clock: n_sites %u and batch_tokens %g must be positive",
                         clock->n_sites, clock->batch_tokens);
    sw_lossfit_series s = {.n = n, .n_sites = clock->n_sites, .startup_s = log->time_s[0]};
    s.tokens = malloc(n * sizeof *s.tokens);
    s.local_tokens = malloc(n * sizeof *s.local_tokens);
    s.round = malloc(n * sizeof *s.round);
    s.loss = malloc(n * sizeof *s.loss);
    s.round_tokens = malloc(n * sizeof *s.round_tokens); /* at most one round per row */
    if (!s.tokens || !s.local_tokens || !s.round || !s.loss || !s.round_tokens) {
        sw_lossfit_series_free(&s);
        return oom(err);
    }
    memcpy(s.loss, log->loss, n * sizeof *s.loss);

    /* Training time up to each row (kept in s.tokens for now): a gap longer than sync_gap_s
     * starts a new round and does not count as training. */
    size_t k = 0;
    double train_s = 0;
    s.round[0] = 0;
    s.tokens[0] = 0;
    for (size_t i = 1; i < n; i++) {
        double dt = log->time_s[i] - log->time_s[i - 1];
        if (clock->sync_gap_s > 0 && dt > clock->sync_gap_s)
            k++;
        else
            train_s += dt;
        s.round[i] = k;
        s.tokens[i] = train_s;
    }
    s.n_rounds = k + 1;
    s.train_s = train_s;

    /* Per-site cumulative tokens of each row, from the tokens column or the clock. */
    if (log->has_tokens) {
        for (size_t i = 0; i < n; i++)
            s.tokens[i] = log->tokens[i];
        double trained = log->tokens[n - 1] - log->tokens[0];
        s.step_s = trained > 0 ? train_s * clock->batch_tokens / trained : NAN;
    } else {
        if (train_s <= 0) {
            sw_lossfit_series_free(&s);
            return sw_errorf(err, SW_EINPUT, "loss log: no training time between its rows");
        }
        s.step_s = clock->step_s;
        if (!(s.step_s > 0)) {
            if (!(clock->total_tokens > 0)) {
                sw_lossfit_series_free(&s);
                return sw_errorf(err, SW_EINPUT,
                                 "loss-log clock: need step_s or total_tokens "
                                 "to turn time into tokens");
            }
            /* All sites together trained total_tokens in train_s seconds each. */
            s.step_s = train_s * clock->n_sites * clock->batch_tokens / clock->total_tokens;
        }
        for (size_t i = 0; i < n; i++)
            s.tokens[i] = s.tokens[i] / s.step_s * clock->batch_tokens;
    }

    /* Rounds: a round's tokens run from its first row to the next round's first row (the
     * pause in between trains nothing); local tokens count from the round's first row. */
    size_t first = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s.round[i] == s.round[first])
            continue;
        double end = i < n ? s.tokens[i] : s.tokens[n - 1];
        s.round_tokens[s.round[first]] = end - s.tokens[first];
        for (size_t j = first; j < i; j++)
            s.local_tokens[j] = s.tokens[j] - s.tokens[first];
        first = i;
    }
    for (size_t i = 0; i < n; i++)
        s.tokens[i] *= clock->n_sites;
    *out = s;
    return SW_OK;
}

/* --- scaling-law fit ------------------------------------------------------------------- */

typedef struct scaling_data {
    size_t n;
    const double *u; /* tokens / TOKEN_SCALE */
    const double *w; /* warm-down fraction done */
    const double *y; /* logged loss */
    int with_anneal;
} scaling_data;

/* r_i = E + Bs * u_i^-beta - C * w_i - y_i */
static int scaling_f(const gsl_vector *x, void *vd, gsl_vector *f)
{
    const scaling_data *d = vd;
    double e = gsl_vector_get(x, 0), bs = gsl_vector_get(x, 1), beta = gsl_vector_get(x, 2);
    double c = d->with_anneal ? gsl_vector_get(x, 3) : 0;
    for (size_t i = 0; i < d->n; i++)
        gsl_vector_set(f, i, e + bs * pow(d->u[i], -beta) - c * d->w[i] - d->y[i]);
    return GSL_SUCCESS;
}

/* dr/dE = 1, dr/dBs = u^-beta, dr/dbeta = -Bs u^-beta ln u, dr/dC = -w */
static int scaling_df(const gsl_vector *x, void *vd, gsl_matrix *J)
{
    const scaling_data *d = vd;
    double bs = gsl_vector_get(x, 1), beta = gsl_vector_get(x, 2);
    for (size_t i = 0; i < d->n; i++) {
        double p = pow(d->u[i], -beta);
        gsl_matrix_set(J, i, 0, 1.0);
        gsl_matrix_set(J, i, 1, p);
        gsl_matrix_set(J, i, 2, -bs * p * log(d->u[i]));
        if (d->with_anneal)
            gsl_matrix_set(J, i, 3, -d->w[i]);
    }
    return GSL_SUCCESS;
}

/* Starting point: for fixed beta the model is linear in (E, Bs, C); solve that for a few
 * betas and keep the best, so LM starts near the basin whatever the log's scale. */
static int scaling_start(const scaling_data *d, size_t p, gsl_vector *x0)
{
    static const double betas[] = {0.1, 0.2, 0.3, 0.5, 0.7};
    gsl_matrix *X = gsl_matrix_alloc(d->n, p - 1);
    gsl_vector *y = gsl_vector_alloc(d->n), *c = gsl_vector_alloc(p - 1);
    gsl_matrix *cov = gsl_matrix_alloc(p - 1, p - 1);
    gsl_multifit_linear_workspace *ws = gsl_multifit_linear_alloc(d->n, p - 1);
    int ok = X && y && c && cov && ws;
    double best = INFINITY;
    for (size_t b = 0; ok && b < sizeof betas / sizeof betas[0]; b++) {
        for (size_t i = 0; i < d->n; i++) {
            gsl_matrix_set(X, i, 0, 1.0);
            gsl_matrix_set(X, i, 1, pow(d->u[i], -betas[b]));
            if (d->with_anneal)
                gsl_matrix_set(X, i, 2, -d->w[i]);
            gsl_vector_set(y, i, d->y[i]);
        }
        double chisq;
        if (gsl_multifit_linear(X, y, c, cov, &chisq, ws) != GSL_SUCCESS || !(chisq < best))
            continue;
        best = chisq;
        gsl_vector_set(x0, 0, gsl_vector_get(c, 0));
        gsl_vector_set(x0, 1, fabs(gsl_vector_get(c, 1)) + 1e-6);
        gsl_vector_set(x0, 2, betas[b]);
        if (d->with_anneal)
            gsl_vector_set(x0, 3, gsl_vector_get(c, 2));
    }
    gsl_matrix_free(X);
    gsl_vector_free(y);
    gsl_vector_free(c);
    gsl_matrix_free(cov);
    gsl_multifit_linear_free(ws);
    return ok && isfinite(best) ? SW_OK : SW_ERUNTIME;
}

/* Runs LM on (f, df) from x (updated in place); fills chisq, iterations and covariance. */
static int run_lm(gsl_multifit_nlinear_fdf *fdf, gsl_vector *x, double *chisq, size_t *iters,
                  gsl_matrix *covar, const char *what, sw_error *err)
{
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    fp.trs = gsl_multifit_nlinear_trs_lm;
    gsl_multifit_nlinear_workspace *w =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, fdf->n, fdf->p);
    if (!w)
        return oom(err);
    int rc = SW_OK, info = 0;
    int st = gsl_multifit_nlinear_init(x, fdf, w);
    if (st == GSL_SUCCESS)
        st = gsl_multifit_nlinear_driver(MAX_ITER, 1e-10, 1e-10, 0.0, NULL, NULL, &info, w);
    if (st != GSL_SUCCESS) {
        rc = sw_errorf(err, SW_ERUNTIME, "%s fit did not converge: %s after %zu iterations", what,
                       gsl_strerror(st), gsl_multifit_nlinear_niter(w));
    } else {
        gsl_vector *f = gsl_multifit_nlinear_residual(w);
        gsl_blas_ddot(f, f, chisq);
        *iters = gsl_multifit_nlinear_niter(w);
        gsl_vector_memcpy(x, gsl_multifit_nlinear_position(w));
        gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w), 0.0, covar);
        /* Unweighted residuals: scale the covariance by the residual variance chi^2/dof. */
        double dof = (double)fdf->n - (double)fdf->p;
        gsl_matrix_scale(covar, dof > 0 ? *chisq / dof : NAN);
    }
    gsl_multifit_nlinear_free(w);
    return rc;
}

int sw_lossfit_scaling(const double *tokens, const double *loss, size_t n, double skip_tokens,
                       sw_convergence_params *params, sw_convergence_fit *diag, sw_error *err)
{
    int with_anneal = params->schedule_tokens > 0 && params->warmdown_frac > 0;
    size_t p = with_anneal ? 4 : 3;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] > 0 && tokens[i] >= skip_tokens)
            m++;
    if (m < MIN_ROWS)
        return sw_errorf(err, SW_EINPUT,
                         "scaling fit: %zu rows at or beyond %g tokens, need at least %d", m,
                         skip_tokens, MIN_ROWS);
    if (diag)
        memset(diag, 0, sizeof *diag);
    /* The law only describes a falling loss; say so rather than let the solver wander. */
    double head = 0, tail = 0;
    size_t fifth = m / 5, seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(tokens[i] > 0 && tokens[i] >= skip_tokens))
            continue;
        if (seen < fifth)
            head += loss[i];
        else if (seen >= m - fifth)
            tail += loss[i];
        seen++;
    }
    if (!(tail < head))
        return sw_errorf(err, SW_EINPUT,
                         "scaling fit: the loss does not fall with tokens (mean %g nats over "
                         "the first fifth of the rows, %g over the last)",
                         head / (double)fifth, tail / (double)fifth);
    double *buf = malloc(3 * m * sizeof *buf);
    gsl_vector *x = gsl_vector_alloc(p);
    gsl_matrix *covar = gsl_matrix_alloc(p, p);
    if (!buf || !x || !covar) {
        free(buf);
        gsl_vector_free(x);
        gsl_matrix_free(covar);
        return oom(err);
    }
    scaling_data d = {m, buf, buf + m, buf + 2 * m, with_anneal};
    for (size_t i = 0, j = 0; i < n; i++) {
        if (!(tokens[i] > 0 && tokens[i] >= skip_tokens))
            continue;
        buf[j] = tokens[i] / TOKEN_SCALE;
        buf[m + j] = sw_convergence_warmdown(params, tokens[i]);
        buf[2 * m + j] = loss[i];
        j++;
    }
    gsl_error_handler_t *prev = gsl_set_error_handler_off();
    double chisq = NAN;
    size_t iters = 0;
    int rc = scaling_start(&d, p, x);
    if (rc != SW_OK) {
        rc = sw_errorf(err, SW_ERUNTIME, "scaling fit: no starting point (singular data)");
    } else {
        gsl_multifit_nlinear_fdf fdf = {
            .f = scaling_f, .df = scaling_df, .n = m, .p = p, .params = &d};
        rc = run_lm(&fdf, x, &chisq, &iters, covar, "scaling", err);
    }
    gsl_set_error_handler(prev);

    if (rc == SW_OK) {
        double e = gsl_vector_get(x, 0), bs = gsl_vector_get(x, 1), beta = gsl_vector_get(x, 2);
        double c = with_anneal ? gsl_vector_get(x, 3) : 0;
        if (!(beta > 0) || !(bs > 0) || !(e >= 0) || !(c >= 0) || !isfinite(e + bs + beta + c)) {
            rc = sw_errorf(err, SW_EINPUT,
                           "scaling fit: the loss does not fall like E + B*D^-beta (fitted E=%g, "
                           "B=%g, beta=%g, anneal=%g)",
                           e, bs, beta, c);
        } else {
            double s = pow(TOKEN_SCALE, beta), ls = log(TOKEN_SCALE);
            params->e_nats = e;
            params->b = bs * s;
            params->beta = beta;
            params->anneal_nats = c;
            if (diag) {
                /* Delta method for B = Bs * scale^beta. */
                double vb = gsl_matrix_get(covar, 1, 1), vbeta = gsl_matrix_get(covar, 2, 2);
                double cbb = gsl_matrix_get(covar, 1, 2);
                double var_b = s * s * (vb + 2 * bs * ls * cbb + bs * bs * ls * ls * vbeta);
                diag->fitted = 1;
                diag->n_points = m;
                diag->iterations = iters;
                diag->skip_tokens = skip_tokens;
                diag->rmse_nats = sqrt(chisq / (double)m);
                diag->rmse_reference_nats = NAN;
                diag->stderr_[0] = sqrt(gsl_matrix_get(covar, 0, 0));
                diag->stderr_[1] = sqrt(var_b);
                diag->stderr_[2] = sqrt(vbeta);
                diag->stderr_[3] = with_anneal ? sqrt(gsl_matrix_get(covar, 3, 3)) : NAN;
                diag->final_log_nats = diag->final_model_nats = NAN;
            }
        }
    }
    free(buf);
    gsl_vector_free(x);
    gsl_matrix_free(covar);
    return rc;
}

/* --- federated-efficiency fit ---------------------------------------------------------- */

/* Replays the convergence state over the series' rounds and predicts each row's loss as the
 * logged site's local loss. dpred (may be NULL) receives d prediction / d ln h0. */
static int replay(const sw_lossfit_series *s, double batch_tokens,
                  const sw_convergence_params *params, double *pred, double *dpred)
{
    size_t nr = s->n_rounds;
    double *d_start = malloc(nr * sizeof *d_start), *p_start = malloc(nr * sizeof *p_start);
    double *dd_du = malloc(nr * sizeof *dd_du);
    double *site = malloc(s->n_sites * sizeof *site);
    if (!d_start || !p_start || !dd_du || !site) {
        free(d_start);
        free(p_start);
        free(dd_du);
        free(site);
        return SW_ERUNTIME;
    }
    sw_convergence_state st;
    sw_convergence_init(&st, params);
    double n = s->n_sites, h0 = params->eff_h0_steps, deriv = 0;
    for (size_t k = 0; k < nr; k++) {
        d_start[k] = st.effective_tokens;
        p_start[k] = st.schedule_tokens;
        dd_du[k] = deriv;
        double h = s->round_tokens[k] / batch_tokens;
        for (unsigned j = 0; j < s->n_sites; j++)
            site[j] = s->round_tokens[k];
        sw_convergence_round(&st, site, s->n_sites, h, NULL, NULL);
        /* d eff / d ln h0 = h0 (1 - 1/n) h / (h0 + h)^2 for n > 1 sites, finite h0. */
        if (n > 1 && h > 0 && isfinite(h0))
            deriv += n * s->round_tokens[k] * h0 * (1 - 1 / n) * h / ((h0 + h) * (h0 + h));
    }
    for (size_t i = 0; i < s->n; i++) {
        size_t k = s->round[i];
        double x = s->local_tokens[i];
        st.effective_tokens = d_start[k];
        st.schedule_tokens = p_start[k];
        pred[i] = sw_convergence_local_loss(&st, x);
        if (dpred) {
            /* d law / dD = -beta B D^(-beta-1), zero where the cap ln(vocab) applies. */
            double dd = d_start[k] + x, slope = 0;
            if (dd > 0 &&
                params->e_nats + params->b * pow(dd, -params->beta) < params->loss_max_nats)
                slope = -params->beta * params->b * pow(dd, -params->beta - 1);
            dpred[i] = slope * dd_du[k];
        }
    }
    free(d_start);
    free(p_start);
    free(dd_du);
    free(site);
    return SW_OK;
}

typedef struct fed_data {
    const sw_lossfit_series *s;
    double batch_tokens, skip_tokens;
    sw_convergence_params params; /* eff_h0_steps replaced by exp(x[0]) at each evaluation */
    double *pred, *dpred;         /* scratch, one per row of the series */
} fed_data;

static int fed_eval(const gsl_vector *x, fed_data *d, gsl_vector *f, gsl_matrix *J)
{
    d->params.eff_h0_steps = exp(gsl_vector_get(x, 0));
    if (replay(d->s, d->batch_tokens, &d->params, d->pred, J ? d->dpred : NULL) != SW_OK)
        return GSL_ENOMEM;
    for (size_t i = 0, j = 0; i < d->s->n; i++) {
        if (d->s->tokens[i] < d->skip_tokens)
            continue;
        if (f)
            gsl_vector_set(f, j, d->pred[i] - d->s->loss[i]);
        if (J)
            gsl_matrix_set(J, j, 0, d->dpred[i]);
        j++;
    }
    return GSL_SUCCESS;
}

static int fed_f(const gsl_vector *x, void *vd, gsl_vector *f)
{
    return fed_eval(x, vd, f, NULL);
}

static int fed_df(const gsl_vector *x, void *vd, gsl_matrix *J)
{
    return fed_eval(x, vd, NULL, J);
}

static double rmse_of(const sw_lossfit_series *s, double skip, const double *pred)
{
    double sum = 0;
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->tokens[i] >= skip) {
            double r = pred[i] - s->loss[i];
            sum += r * r;
            m++;
        }
    return m ? sqrt(sum / (double)m) : NAN;
}

int sw_lossfit_federated(const sw_lossfit_series *series, double batch_tokens, double skip_tokens,
                         sw_convergence_params *params, sw_convergence_fit *diag, sw_error *err)
{
    if (series->n_sites < 2)
        return sw_errorf(err, SW_EINPUT,
                         "efficiency fit: the log must come from 2 or more sites, not %u",
                         series->n_sites);
    if (!(batch_tokens > 0))
        return sw_errorf(err, SW_EINPUT, "efficiency fit: batch_tokens %g must be > 0",
                         batch_tokens);
    size_t m = 0;
    double mean_h = 0;
    for (size_t i = 0; i < series->n; i++)
        m += series->tokens[i] >= skip_tokens;
    for (size_t k = 0; k < series->n_rounds; k++)
        mean_h += series->round_tokens[k] / batch_tokens / (double)series->n_rounds;
    if (m < MIN_ROWS || series->n_rounds < 2 || !(mean_h > 0))
        return sw_errorf(err, SW_EINPUT,
                         "efficiency fit: %zu rows beyond %g tokens in %zu rounds, need %d rows "
                         "and 2 rounds (pauses longer than the sync gap separate rounds)",
                         m, skip_tokens, series->n_rounds, MIN_ROWS);
    fed_data d = {series, batch_tokens, skip_tokens, *params, NULL, NULL};
    d.pred = malloc(series->n * sizeof *d.pred);
    d.dpred = malloc(series->n * sizeof *d.dpred);
    gsl_vector *x = gsl_vector_alloc(1);
    gsl_matrix *covar = gsl_matrix_alloc(1, 1);
    int rc = SW_OK;
    if (!d.pred || !d.dpred || !x || !covar) {
        rc = oom(err);
        goto done;
    }
    gsl_vector_set(x, 0, log(mean_h)); /* start at eff = (1 + 1/n) / 2 */
    gsl_error_handler_t *prev = gsl_set_error_handler_off();
    double chisq = NAN;
    size_t iters = 0;
    gsl_multifit_nlinear_fdf fdf = {.f = fed_f, .df = fed_df, .n = m, .p = 1, .params = &d};
    rc = run_lm(&fdf, x, &chisq, &iters, covar, "efficiency", err);
    gsl_set_error_handler(prev);
    if (rc != SW_OK)
        goto done;
    double h0 = exp(gsl_vector_get(x, 0));
    if (!(h0 > 0)) {
        rc = sw_errorf(err, SW_EINPUT, "efficiency fit: fitted h0 = %g local steps", h0);
        goto done;
    }
    params->eff_h0_steps = h0;
    if (diag) {
        memset(diag, 0, sizeof *diag);
        diag->fitted = 1;
        diag->n_points = m;
        diag->iterations = iters;
        diag->skip_tokens = skip_tokens;
        diag->rmse_nats = sqrt(chisq / (double)m);
        diag->stderr_[0] = h0 * sqrt(gsl_matrix_get(covar, 0, 0));
        diag->stderr_[1] = diag->stderr_[2] = diag->stderr_[3] = NAN;
        sw_convergence_params perfect = *params;
        perfect.eff_h0_steps = INFINITY;
        if (replay(series, batch_tokens, &perfect, d.pred, NULL) != SW_OK) {
            rc = oom(err);
            goto done;
        }
        diag->rmse_reference_nats = rmse_of(series, skip_tokens, d.pred);
        sw_lossfit_final(series, batch_tokens, params, &diag->final_log_nats,
                         &diag->final_model_nats);
    }
done:
    free(d.pred);
    free(d.dpred);
    gsl_vector_free(x);
    gsl_matrix_free(covar);
    return rc;
}

void sw_lossfit_final(const sw_lossfit_series *series, double batch_tokens,
                      const sw_convergence_params *params, double *log_nats, double *model_nats)
{
    *log_nats = *model_nats = NAN;
    double *pred = malloc(series->n * sizeof *pred);
    if (!pred || series->n == 0 || replay(series, batch_tokens, params, pred, NULL) != SW_OK) {
        free(pred);
        return;
    }
    double from = (1 - FINAL_FRAC) * series->tokens[series->n - 1], sl = 0, sm = 0;
    size_t m = 0;
    for (size_t i = 0; i < series->n; i++)
        if (series->tokens[i] >= from) {
            sl += series->loss[i];
            sm += pred[i];
            m++;
        }
    *log_nats = sl / (double)m;
    *model_nats = sm / (double)m;
    free(pred);
}

/* --- calibration ----------------------------------------------------------------------- */

void sw_lossfit_d20_options(sw_lossfit_options *o)
{
    /* Both reference runs stop after one pass over the same data, ~12.3e9 tokens; the longest
     * pause of the single-site log is 58 s (logging), the shortest sync of the two-site log
     * 127 s, so 100 s separates them. Skips: docs/convergence.md. */
    sw_lossfit_clock single = {.n_sites = 1,
                               .batch_tokens = 524288,
                               .total_tokens = 12.3e9,
                               .step_s = 0,
                               .sync_gap_s = 100};
    sw_lossfit_clock fed = single;
    fed.n_sites = 2;
    *o = (sw_lossfit_options){
        .single = single,
        .federated = fed,
        .scaling_skip_tokens = 2.5e8,
        .federated_skip_tokens = 1e9,
        .schedule_tokens = 23400.0 * 524288.0,
        .warmdown_frac = 0.4,
        .loss_max_nats = log(65536.0),
    };
}

static void set_source(sw_convergence_fit *f, const char *name)
{
    if (f && name)
        snprintf(f->source, sizeof f->source, "%s", name);
}

int sw_lossfit_calibrate(const sw_losslog *single, const char *single_name,
                         const sw_losslog *federated, const char *federated_name,
                         const sw_lossfit_options *opt, sw_convergence_params *out,
                         sw_convergence_fit *scaling_fit, sw_convergence_fit *federated_fit,
                         sw_error *err)
{
    sw_convergence_params p;
    sw_convergence_d20_defaults(&p);
    p.schedule_tokens = opt->schedule_tokens;
    p.warmdown_frac = opt->warmdown_frac;
    p.loss_max_nats = opt->loss_max_nats;
    if (scaling_fit)
        memset(scaling_fit, 0, sizeof *scaling_fit);
    if (federated_fit)
        memset(federated_fit, 0, sizeof *federated_fit);

    sw_lossfit_series s;
    int rc = sw_lossfit_series_from_log(single, &opt->single, &s, err);
    if (rc != SW_OK)
        return rc;
    rc = sw_lossfit_scaling(s.tokens, s.loss, s.n, opt->scaling_skip_tokens, &p, scaling_fit, err);
    if (rc == SW_OK && scaling_fit) {
        sw_lossfit_final(&s, opt->single.batch_tokens, &p, &scaling_fit->final_log_nats,
                         &scaling_fit->final_model_nats);
        set_source(scaling_fit, single_name);
    }
    sw_lossfit_series_free(&s);
    if (rc == SW_OK)
        rc = sw_convergence_params_check(&p, err);
    if (rc != SW_OK || !federated) {
        if (rc == SW_OK)
            *out = p;
        return rc;
    }

    rc = sw_lossfit_series_from_log(federated, &opt->federated, &s, err);
    if (rc != SW_OK)
        return rc;
    rc = sw_lossfit_federated(&s, opt->federated.batch_tokens, opt->federated_skip_tokens, &p,
                              federated_fit, err);
    sw_lossfit_series_free(&s);
    if (rc == SW_OK) {
        set_source(federated_fit, federated_name);
        *out = p;
    }
    return rc;
}
