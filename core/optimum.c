/* optimum.c - the step-grid cost model (evaluation of an up-pattern, brute force, policy plans)
 * and the GLPK MILP of the offline optimum; contract in optimum.h, formulation in
 * docs/policies.md. */
#include "core/optimum.h"

#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MTOK 1e-6 /* the MILP counts tokens in millions, to keep its coefficients near 1 */

int sw_optimum_check(const sw_opt_problem *p, sw_error *err)
{
    if (!p || !p->trace)
        return sw_errorf(err, SW_EINPUT, "optimum: no problem or no trace");
    if (!(p->step_s > 0) || !isfinite(p->step_s))
        return sw_errorf(err, SW_EINPUT, "optimum.step_s: expected > 0, got %g", p->step_s);
    if (p->n_steps == 0)
        return sw_errorf(err, SW_EINPUT,
                         "optimum.n_steps: expected >= 1 (a deadline after the "
                         "start)");
    if (!p->sites || p->n_sites == 0)
        return sw_errorf(err, SW_EINPUT, "optimum.sites: expected at least one site");
    if (!(p->tokens > 0) || !isfinite(p->tokens))
        return sw_errorf(err, SW_EINPUT, "optimum.tokens: expected > 0, got %g", p->tokens);
    if (!(p->sync_fraction > 0 && p->sync_fraction <= 1))
        return sw_errorf(err, SW_EINPUT, "optimum.sync_fraction: expected in (0, 1], got %g",
                         p->sync_fraction);
    for (size_t s = 0; s < p->n_sites; s++) {
        const sw_opt_site *x = &p->sites[s];
        if (x->region >= sw_trace_region_count(p->trace))
            return sw_errorf(err, SW_EINPUT, "optimum.sites[%zu].region: %zu out of range", s,
                             x->region);
        if (!(x->overhead_s >= 0) || !isfinite(x->overhead_s))
            return sw_errorf(err, SW_EINPUT, "optimum.sites[%zu].overhead_s: expected >= 0", s);
        if (!(x->idle_w >= 0) || !(x->train_w >= 0) || !isfinite(x->idle_w + x->train_w))
            return sw_errorf(err, SW_EINPUT, "optimum.sites[%zu].power_w: expected >= 0", s);
        if (!(x->tokens_per_s > 0) || !isfinite(x->tokens_per_s))
            return sw_errorf(err, SW_EINPUT, "optimum.sites[%zu].tokens_per_s: expected > 0", s);
    }
    return SW_OK;
}

int sw_opt_schedule_init(sw_opt_schedule *s, const sw_opt_problem *p, sw_error *err)
{
    memset(s, 0, sizeof *s);
    size_t n = p->n_sites * p->n_steps;
    s->up = calloc(n, 1);
    s->train_s = calloc(n, sizeof *s->train_s);
    if (!s->up || !s->train_s) {
        sw_opt_schedule_free(s);
        return sw_errorf(err, SW_ERUNTIME, "optimum: out of memory");
    }
    s->n_sites = p->n_sites;
    s->n_steps = p->n_steps;
    s->finish_s = INFINITY;
    return SW_OK;
}

void sw_opt_schedule_free(sw_opt_schedule *s)
{
    free(s->up);
    free(s->train_s);
    s->up = NULL;
    s->train_s = NULL;
}

double sw_optimum_step_mci(const sw_opt_problem *p, size_t site, size_t step)
{
    double a = p->start_unix_s + (double)step * p->step_s, b = a + p->step_s, integral;
    if (sw_trace_integral(p->trace, p->sites[site].region, a, b, &integral, NULL) != SW_OK)
        return NAN;
    return integral / p->step_s;
}

/* Overhead of a block falling into its j-th step: clamp(overhead - j * step, 0, step). */
static double overhead_in(double overhead_s, double step_s, size_t j)
{
    double o = overhead_s - (double)j * step_s;
    return o <= 0 ? 0 : (o > step_s ? step_s : o);
}

/* Training capacity (s) of every up step given the blocks of up, and the token factor of
 * every step (sync_fraction with 2+ sites up, else 1). */
static void capacities(const sw_opt_problem *p, const unsigned char *up, double *cap,
                       double *factor)
{
    size_t K = p->n_steps;
    for (size_t k = 0; k < K; k++) {
        size_t n_up = 0;
        for (size_t s = 0; s < p->n_sites; s++)
            n_up += up[s * K + k] != 0;
        factor[k] = n_up >= 2 ? p->sync_fraction : 1;
    }
    for (size_t s = 0; s < p->n_sites; s++) {
        size_t j = 0; /* position in the current block */
        for (size_t k = 0; k < K; k++) {
            if (!up[s * K + k]) {
                cap[s * K + k] = 0;
                j = 0;
                continue;
            }
            cap[s * K + k] = p->step_s - overhead_in(p->sites[s].overhead_s, p->step_s, j);
            j++;
        }
    }
}

/* Carbon and energy of schedule sch (up and train_s set). */
static void score(const sw_opt_problem *p, sw_opt_schedule *sch)
{
    size_t K = p->n_steps;
    sch->carbon_g = 0;
    sch->energy_j = 0;
    for (size_t s = 0; s < p->n_sites; s++)
        for (size_t k = 0; k < K; k++) {
            if (!sch->up[s * K + k])
                continue;
            const sw_opt_site *x = &p->sites[s];
            double e = x->idle_w * p->step_s + (x->train_w - x->idle_w) * sch->train_s[s * K + k];
            sch->energy_j += e;
            sch->carbon_g += sw_optimum_step_mci(p, s, k) * e / 3.6e6;
        }
}

int sw_optimum_evaluate(const sw_opt_problem *p, const unsigned char *up, sw_opt_schedule *out,
                        sw_error *err)
{
    int rc = sw_optimum_check(p, err);
    if (rc != SW_OK)
        return rc;
    size_t K = p->n_steps, N = p->n_sites * K;
    double *cap = malloc(N * sizeof *cap), *factor = malloc(K * sizeof *factor);
    if (!cap || !factor) {
        free(cap);
        free(factor);
        return sw_errorf(err, SW_ERUNTIME, "optimum: out of memory");
    }
    for (size_t i = 0; i < N; i++) /* a step outside the trace cannot be up */
        out->up[i] = up[i] && !isnan(sw_optimum_step_mci(p, i / K, i % K));
    capacities(p, out->up, cap, factor);
    double done = 0;
    out->feasible = false;
    out->finish_s = INFINITY;
    for (size_t k = 0; k < K; k++) {
        double step_tokens = 0;
        for (size_t s = 0; s < p->n_sites; s++)
            step_tokens += cap[s * K + k] * p->sites[s].tokens_per_s * factor[k];
        double frac = 1;
        if (!out->feasible && step_tokens > 0 && done + step_tokens >= p->tokens) {
            frac = (p->tokens - done) / step_tokens;
            out->feasible = true;
            out->finish_s = (double)(k + 1) * p->step_s;
            done = p->tokens;
            for (size_t s = 0; s < p->n_sites; s++)
                out->train_s[s * K + k] = cap[s * K + k] * frac;
            for (size_t s = 0; s < p->n_sites; s++) /* everything is released after this step */
                for (size_t j = k + 1; j < K; j++) {
                    out->up[s * K + j] = 0;
                    out->train_s[s * K + j] = 0;
                }
            break;
        }
        done += step_tokens;
        for (size_t s = 0; s < p->n_sites; s++)
            out->train_s[s * K + k] = cap[s * K + k];
    }
    out->tokens = done;
    score(p, out);
    free(cap);
    free(factor);
    return SW_OK;
}

/* ---- brute force ------------------------------------------------------------------------ */

typedef struct slot {
    double cost_per_token; /* extra carbon of training instead of idling, per token */
    double tokens_per_s, cost_per_s, cap_s;
    size_t i;
} slot;

static int cmp_slot(const void *a, const void *b)
{
    const slot *x = a, *y = b;
    if (x->cost_per_token != y->cost_per_token)
        return x->cost_per_token < y->cost_per_token ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int sw_optimum_brute_force(const sw_opt_problem *p, sw_opt_schedule *out, sw_error *err)
{
    int rc = sw_optimum_check(p, err);
    if (rc != SW_OK)
        return rc;
    size_t K = p->n_steps, N = p->n_sites * K;
    if (N > 22)
        return sw_errorf(err, SW_EINPUT,
                         "optimum: brute force is for n_sites * n_steps <= 22, "
                         "got %zu",
                         N);
    unsigned char up[22];
    double cap[22], factor[22], mci[22], train[22];
    slot slots[22];
    for (size_t i = 0; i < N; i++)
        mci[i] = sw_optimum_step_mci(p, i / K, i % K);
    double best = INFINITY;
    unsigned long best_mask = 0;
    for (unsigned long mask = 0; mask < (1UL << N); mask++) {
        bool ok = true;
        for (size_t i = 0; i < N; i++) {
            up[i] = (mask >> i) & 1;
            if (up[i] && isnan(mci[i]))
                ok = false;
        }
        if (!ok)
            continue;
        capacities(p, up, cap, factor);
        double fixed = 0, total = 0;
        size_t ns = 0;
        for (size_t i = 0; i < N; i++) {
            if (!up[i])
                continue;
            const sw_opt_site *x = &p->sites[i / K];
            fixed += mci[i] * x->idle_w * p->step_s / 3.6e6;
            if (cap[i] <= 0)
                continue;
            slot *sl = &slots[ns++];
            sl->i = i;
            sl->cap_s = cap[i];
            sl->tokens_per_s = x->tokens_per_s * factor[i % K];
            sl->cost_per_s = mci[i] * (x->train_w - x->idle_w) / 3.6e6;
            sl->cost_per_token = sl->cost_per_s / sl->tokens_per_s;
            total += sl->cap_s * sl->tokens_per_s;
        }
        if (total < p->tokens * (1 - 1e-12))
            continue;
        qsort(slots, ns, sizeof *slots, cmp_slot);
        double need = p->tokens, carbon = fixed;
        for (size_t j = 0; j < ns; j++) {
            const slot *sl = &slots[j];
            double x = sl->cap_s;
            if (sl->cost_per_s >= 0) { /* negative-cost training is taken in full anyway */
                if (need <= 0)
                    break;
                if (x * sl->tokens_per_s > need)
                    x = need / sl->tokens_per_s;
            }
            need -= x * sl->tokens_per_s;
            carbon += x * sl->cost_per_s;
        }
        if (carbon < best) {
            best = carbon;
            best_mask = mask;
        }
    }
    out->feasible = isfinite(best);
    out->finish_s = INFINITY;
    out->tokens = 0;
    memset(out->up, 0, N);
    for (size_t i = 0; i < N; i++)
        out->train_s[i] = 0;
    if (!out->feasible) {
        out->carbon_g = NAN;
        return SW_OK;
    }
    /* rebuild the winner's allocation */
    for (size_t i = 0; i < N; i++)
        up[i] = (best_mask >> i) & 1;
    capacities(p, up, cap, factor);
    size_t ns = 0;
    for (size_t i = 0; i < N; i++) {
        train[i] = 0;
        if (!up[i] || cap[i] <= 0)
            continue;
        const sw_opt_site *x = &p->sites[i / K];
        slots[ns] = (slot){
            mci[i] * (x->train_w - x->idle_w) / 3.6e6 / (x->tokens_per_s * factor[i % K]),
            x->tokens_per_s * factor[i % K], mci[i] * (x->train_w - x->idle_w) / 3.6e6, cap[i], i};
        ns++;
    }
    qsort(slots, ns, sizeof *slots, cmp_slot);
    double need = p->tokens;
    for (size_t j = 0; j < ns; j++) {
        const slot *sl = &slots[j];
        double x = sl->cap_s;
        if (sl->cost_per_s >= 0) {
            if (need <= 0)
                break;
            if (x * sl->tokens_per_s > need)
                x = need / sl->tokens_per_s;
        }
        need -= x * sl->tokens_per_s;
        train[sl->i] = x;
        out->tokens += x * sl->tokens_per_s;
    }
    memcpy(out->up, up, N);
    memcpy(out->train_s, train, N * sizeof *train);
    for (size_t k = 0; k < K; k++)
        for (size_t s = 0; s < p->n_sites; s++)
            if (up[s * K + k])
                out->finish_s = (double)(k + 1) * p->step_s;
    score(p, out);
    return SW_OK;
}

/* ---- policies' plans -------------------------------------------------------------------- */

static void mark(const sw_opt_problem *p, unsigned char *up, size_t s, double from_s, double to_s)
{
    size_t K = p->n_steps;
    if (!(to_s > from_s))
        return;
    double a = floor(from_s / p->step_s), b = ceil(to_s / p->step_s);
    for (double k = a < 0 ? 0 : a; k < b && k < (double)K; k++)
        up[s * K + (size_t)k] = 1;
}

int sw_optimum_policy_plan(const sw_opt_problem *p, sw_policy *const *policies, unsigned char *up,
                           sw_error *err)
{
    int rc = sw_optimum_check(p, err);
    if (rc != SW_OK)
        return rc;
    size_t n = p->n_sites, K = p->n_steps;
    double end_s = (double)K * p->step_s;
    double *next = calloc(n, sizeof *next), *since = calloc(n, sizeof *since);
    bool *want = calloc(n, sizeof *want);
    if (!next || !since || !want) {
        free(next);
        free(since);
        free(want);
        return sw_errorf(err, SW_ERUNTIME, "optimum: out of memory");
    }
    memset(up, 0, n * K);
    for (;;) {
        double t = INFINITY;
        for (size_t s = 0; s < n; s++)
            if (next[s] < t)
                t = next[s];
        if (!(t < end_s))
            break;
        for (size_t s = 0; s < n; s++) {
            if (next[s] > t)
                continue;
            sw_policy_decision d;
            next[s] = sw_policy_observe_trace(policies[s], p->trace, p->sites[s].region,
                                              p->start_unix_s, t, &d, NULL);
            if (d.want && !want[s])
                since[s] = t;
            else if (!d.want && want[s])
                mark(p, up, s, since[s], t);
            want[s] = d.want;
        }
    }
    for (size_t s = 0; s < n; s++)
        if (want[s])
            mark(p, up, s, since[s], end_s);
    free(next);
    free(since);
    free(want);
    return SW_OK;
}

/* ---- the MILP --------------------------------------------------------------------------- */

typedef struct milp {
    const sw_opt_problem *p;
    size_t K, n;
    int *ia, *ja;
    double *ar;
    size_t nz, cap;
    double *hint_x; /* 1-based column values of the hint, or NULL */
    int hint_given;
    double best_bound;
} milp;

static int col_up(const milp *m, size_t s, size_t k)
{
    return (int)(1 + s * m->K + k);
}
static int col_start(const milp *m, size_t s, size_t k)
{
    return (int)(1 + m->n * m->K + s * m->K + k);
}
static int col_train(const milp *m, size_t s, size_t k)
{
    return (int)(1 + 2 * m->n * m->K + s * m->K + k);
}
static int col_multi(const milp *m, size_t k)
{
    return (int)(1 + 3 * m->n * m->K + k);
}
static int col_tokens(const milp *m, size_t k)
{
    return (int)(1 + 3 * m->n * m->K + m->K + k);
}

static int nz_add(milp *m, int row, int col, double v)
{
    if (m->nz + 1 >= m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 4096;
        int *ia = realloc(m->ia, cap * sizeof *ia);
        if (ia)
            m->ia = ia;
        int *ja = realloc(m->ja, cap * sizeof *ja);
        if (ja)
            m->ja = ja;
        double *ar = realloc(m->ar, cap * sizeof *ar);
        if (ar)
            m->ar = ar;
        if (!ia || !ja || !ar)
            return -1;
        m->cap = cap;
    }
    m->nz++;
    m->ia[m->nz] = row;
    m->ja[m->nz] = col;
    m->ar[m->nz] = v;
    return 0;
}

static void callback(glp_tree *T, void *info)
{
    milp *m = info;
    int reason = glp_ios_reason(T);
    if (reason == GLP_IHEUR && m->hint_x && !m->hint_given) {
        glp_ios_heur_sol(T, m->hint_x);
        m->hint_given = 1;
    }
    int best = glp_ios_best_node(T);
    if (best > 0) {
        double b = glp_ios_node_bound(T, best);
        if (isfinite(b))
            m->best_bound = b;
    }
}

/* Removes blocks too short to pay their overhead that end before the horizon (the MILP cannot
 * represent them; they only cost carbon and cannot train), in place. */
static void drop_short_blocks(const sw_opt_problem *p, unsigned char *up)
{
    size_t K = p->n_steps;
    for (size_t s = 0; s < p->n_sites; s++) {
        size_t need = (size_t)ceil(p->sites[s].overhead_s / p->step_s);
        for (size_t k = 0; k < K;) {
            if (!up[s * K + k]) {
                k++;
                continue;
            }
            size_t a = k;
            while (k < K && up[s * K + k])
                k++;
            if (k - a < need && k < K)
                memset(up + s * K + a, 0, k - a);
        }
    }
}

void sw_opt_result_free(sw_opt_result *r)
{
    sw_opt_schedule_free(&r->schedule);
}

int sw_optimum_solve(const sw_opt_problem *p, double time_limit_s, const unsigned char *hint,
                     sw_opt_result *out, sw_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = sw_optimum_check(p, err);
    if (rc != SW_OK)
        return rc;
    if (!(time_limit_s > 0))
        return sw_errorf(err, SW_EINPUT, "optimum: time limit must be > 0 s, got %g", time_limit_s);
    rc = sw_opt_schedule_init(&out->schedule, p, err);
    if (rc != SW_OK)
        return rc;
    milp m = {.p = p, .K = p->n_steps, .n = p->n_sites, .best_bound = -INFINITY};
    size_t K = m.K, n = m.n;
    double step = p->step_s;
    glp_prob *lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    int ncols = (int)(3 * n * K + 2 * K);
    glp_add_cols(lp, ncols);
    double rate_sum = 0;
    for (size_t s = 0; s < n; s++)
        rate_sum += p->sites[s].tokens_per_s;
    for (size_t s = 0; s < n; s++) {
        const sw_opt_site *x = &p->sites[s];
        for (size_t k = 0; k < K; k++) {
            double mci = sw_optimum_step_mci(p, s, k);
            bool allowed = !isnan(mci);
            int c = col_up(&m, s, k);
            glp_set_col_kind(lp, c, GLP_BV);
            if (!allowed)
                glp_set_col_bnds(lp, c, GLP_FX, 0, 0);
            glp_set_obj_coef(lp, c, allowed ? mci * x->idle_w * step / 3.6e6 : 0);
            glp_set_col_bnds(lp, col_start(&m, s, k), GLP_DB, 0, 1);
            glp_set_col_bnds(lp, col_train(&m, s, k), allowed ? GLP_DB : GLP_FX, 0,
                             allowed ? step : 0);
            glp_set_obj_coef(lp, col_train(&m, s, k),
                             allowed ? mci * (x->train_w - x->idle_w) / 3.6e6 : 0);
        }
    }
    for (size_t k = 0; k < K; k++) {
        glp_set_col_kind(lp, col_multi(&m, k), GLP_BV);
        if (n < 2 || p->sync_fraction >= 1)
            glp_set_col_bnds(lp, col_multi(&m, k), GLP_FX, 0, 0);
        glp_set_col_bnds(lp, col_tokens(&m, k), GLP_LO, 0, 0);
    }
    int row = 0, bad = 0;
#define ROW(type, lo, hi)                                                                          \
    do {                                                                                           \
        row = glp_add_rows(lp, 1);                                                                 \
        glp_set_row_bnds(lp, row, type, lo, hi);                                                   \
    } while (0)
    for (size_t s = 0; s < n; s++) {
        double oh = p->sites[s].overhead_s;
        size_t min_up = (size_t)ceil(oh / step);
        for (size_t k = 0; k < K; k++) {
            /* start_sk >= up_sk - up_s(k-1) */
            ROW(GLP_LO, 0, 0);
            bad |= nz_add(&m, row, col_start(&m, s, k), 1);
            bad |= nz_add(&m, row, col_up(&m, s, k), -1);
            if (k > 0)
                bad |= nz_add(&m, row, col_up(&m, s, k - 1), 1);
            /* a block lasts until its overhead is paid (unless the horizon ends it) */
            for (size_t j = 1; j < min_up && k + j < K; j++) {
                ROW(GLP_LO, 0, 0);
                bad |= nz_add(&m, row, col_up(&m, s, k + j), 1);
                bad |= nz_add(&m, row, col_start(&m, s, k), -1);
            }
            /* train_sk <= step * up_sk - sum_j overhead_in(j) * start_s(k-j) */
            ROW(GLP_UP, 0, 0);
            bad |= nz_add(&m, row, col_train(&m, s, k), 1);
            bad |= nz_add(&m, row, col_up(&m, s, k), -step);
            for (size_t j = 0; j <= k; j++) {
                double o = overhead_in(oh, step, j);
                if (o <= 0)
                    break;
                bad |= nz_add(&m, row, col_start(&m, s, k - j), o);
            }
        }
    }
    double big_m = (1 - p->sync_fraction) * rate_sum * step * MTOK;
    for (size_t k = 0; k < K; k++) {
        if (n >= 2 && p->sync_fraction < 1) {
            /* sum_s up_sk <= 1 + (n - 1) multi_k */
            ROW(GLP_UP, 0, 1);
            for (size_t s = 0; s < n; s++)
                bad |= nz_add(&m, row, col_up(&m, s, k), 1);
            bad |= nz_add(&m, row, col_multi(&m, k), -(double)(n - 1));
            /* tokens_k <= phi * sum r x + M (1 - multi_k) */
            ROW(GLP_UP, 0, big_m);
            bad |= nz_add(&m, row, col_tokens(&m, k), 1);
            for (size_t s = 0; s < n; s++)
                bad |= nz_add(&m, row, col_train(&m, s, k),
                              -p->sync_fraction * p->sites[s].tokens_per_s * MTOK);
            bad |= nz_add(&m, row, col_multi(&m, k), big_m);
        }
        /* tokens_k <= sum r x */
        ROW(GLP_UP, 0, 0);
        bad |= nz_add(&m, row, col_tokens(&m, k), 1);
        for (size_t s = 0; s < n; s++)
            bad |= nz_add(&m, row, col_train(&m, s, k), -p->sites[s].tokens_per_s * MTOK);
    }
    /* the budget */
    ROW(GLP_LO, p->tokens * MTOK, 0);
    for (size_t k = 0; k < K; k++)
        bad |= nz_add(&m, row, col_tokens(&m, k), 1);
#undef ROW
    if (bad) {
        glp_delete_prob(lp);
        free(m.ia);
        free(m.ja);
        free(m.ar);
        sw_opt_result_free(out);
        return sw_errorf(err, SW_ERUNTIME, "optimum: out of memory");
    }
    glp_load_matrix(lp, (int)m.nz, m.ia, m.ja, m.ar);
    free(m.ia);
    free(m.ja);
    free(m.ar);

    /* the hint as a full column vector, from its evaluation with short blocks dropped */
    sw_opt_schedule hs = {0};
    if (hint && sw_opt_schedule_init(&hs, p, NULL) == SW_OK) {
        unsigned char *h = malloc(n * K);
        m.hint_x = calloc((size_t)ncols + 1, sizeof *m.hint_x);
        if (h && m.hint_x) {
            memcpy(h, hint, n * K);
            drop_short_blocks(p, h);
            sw_optimum_evaluate(p, h, &hs, NULL);
            drop_short_blocks(p, hs.up); /* the cut after the finishing step may leave some */
            sw_optimum_evaluate(p, hs.up, &hs, NULL);
            if (hs.feasible) {
                for (size_t k = 0; k < K; k++) {
                    size_t n_up = 0;
                    double tok = 0;
                    for (size_t s = 0; s < n; s++) {
                        size_t i = s * K + k;
                        n_up += hs.up[i];
                        m.hint_x[col_up(&m, s, k)] = hs.up[i];
                        m.hint_x[col_start(&m, s, k)] = hs.up[i] && (k == 0 || !hs.up[i - 1]);
                        m.hint_x[col_train(&m, s, k)] = hs.train_s[i];
                        tok += hs.train_s[i] * p->sites[s].tokens_per_s * MTOK;
                    }
                    bool multi = n_up >= 2 && n >= 2 && p->sync_fraction < 1;
                    m.hint_x[col_multi(&m, k)] = multi;
                    m.hint_x[col_tokens(&m, k)] = multi ? tok * p->sync_fraction : tok;
                }
            } else {
                free(m.hint_x);
                m.hint_x = NULL;
            }
        } else {
            free(m.hint_x);
            m.hint_x = NULL;
        }
        free(h);
        sw_opt_schedule_free(&hs);
    }

    clock_t c0 = clock();
    int term = glp_term_out(GLP_OFF); /* GLPK's cut generators print despite msg_lev */
    glp_smcp sp;
    glp_init_smcp(&sp);
    sp.msg_lev = GLP_MSG_OFF;
    sp.presolve = GLP_ON;
    sp.tm_lim = time_limit_s * 1000 > 2e9 ? 2000000000 : (int)(time_limit_s * 1000);
    int lp_rc = glp_simplex(lp, &sp);
    int lp_status = lp_rc == 0 ? glp_get_status(lp) : GLP_UNDEF;
    if ((lp_rc == 0 && lp_status == GLP_NOFEAS) || lp_rc == GLP_ENOPFS) {
        glp_term_out(term);
        out->status = SW_OPT_INFEASIBLE;
        out->bound_g = out->lp_bound_g = INFINITY;
        out->schedule.carbon_g = NAN;
        glp_delete_prob(lp);
        free(m.hint_x);
        return SW_OK;
    }
    if (lp_rc != 0 || lp_status != GLP_OPT) {
        glp_term_out(term);
        glp_delete_prob(lp);
        free(m.hint_x);
        sw_opt_result_free(out);
        if (lp_rc == GLP_ETMLIM)
            return sw_errorf(err, SW_ERUNTIME,
                             "optimum: the LP relaxation alone (%zu sites x %zu steps) took more "
                             "than the %g s limit; shorten the horizon (trace.end, "
                             "policy.deadline_s) or raise --time-limit",
                             n, K, time_limit_s);
        return sw_errorf(err, SW_ERUNTIME, "optimum: the LP relaxation failed (GLPK %d/%d)", lp_rc,
                         lp_status);
    }
    out->lp_bound_g = glp_get_obj_val(lp);
    glp_iocp ip;
    glp_init_iocp(&ip);
    ip.msg_lev = GLP_MSG_OFF;
    ip.tm_lim = time_limit_s * 1000 > 2e9 ? 2000000000 : (int)(time_limit_s * 1000);
    ip.mip_gap = 1e-6;
    ip.gmi_cuts = GLP_ON;
    ip.mir_cuts = GLP_ON;
    ip.cov_cuts = GLP_ON;
    ip.clq_cuts = GLP_ON;
    ip.fp_heur = GLP_ON;
    ip.cb_func = callback;
    ip.cb_info = &m;
    int ip_rc = glp_intopt(lp, &ip);
    int ip_status = glp_mip_status(lp);
    glp_term_out(term);
    out->solve_s = (double)(clock() - c0) / CLOCKS_PER_SEC;
    if (ip_status == GLP_NOFEAS) {
        out->status = SW_OPT_INFEASIBLE;
        out->bound_g = INFINITY;
        out->schedule.carbon_g = NAN;
        glp_delete_prob(lp);
        free(m.hint_x);
        return SW_OK;
    }
    if (ip_status != GLP_OPT && ip_status != GLP_FEAS) {
        glp_delete_prob(lp);
        free(m.hint_x);
        sw_opt_result_free(out);
        return sw_errorf(err, SW_ERUNTIME,
                         "optimum: GLPK found no schedule within %g s (rc %d); raise the limit",
                         time_limit_s, ip_rc);
    }
    sw_opt_schedule *sch = &out->schedule;
    sch->tokens = 0;
    sch->finish_s = 0;
    for (size_t s = 0; s < n; s++)
        for (size_t k = 0; k < K; k++) {
            size_t i = s * K + k;
            sch->up[i] = glp_mip_col_val(lp, col_up(&m, s, k)) > 0.5;
            sch->train_s[i] = sch->up[i] ? glp_mip_col_val(lp, col_train(&m, s, k)) : 0;
            if (sch->up[i] && (double)(k + 1) * step > sch->finish_s)
                sch->finish_s = (double)(k + 1) * step;
        }
    for (size_t k = 0; k < K; k++)
        sch->tokens += glp_mip_col_val(lp, col_tokens(&m, k)) / MTOK;
    sch->feasible = true;
    score(p, sch);
    bool optimal = ip_rc == 0 && ip_status == GLP_OPT;
    out->status = optimal ? SW_OPT_OPTIMAL : SW_OPT_TIME_LIMIT;
    double mip_obj = glp_mip_obj_val(lp);
    out->bound_g = optimal ? mip_obj * (1 - ip.mip_gap) : fmax(out->lp_bound_g, m.best_bound);
    if (out->bound_g > sch->carbon_g)
        out->bound_g = sch->carbon_g;
    glp_delete_prob(lp);
    free(m.hint_x);
    return SW_OK;
}
