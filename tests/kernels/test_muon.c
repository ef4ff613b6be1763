/* test_muon.c - the Muon + AdamW optimizer (kernels/muon.h) against its PyTorch reference
 * (tests/kernels/make_muon_fixture.py, float64, committed fixture), its schedules, the
 * orthogonalisation on its own, and its configuration checks.
 *
 * Tolerances. The reference runs in float64; the C optimizer in float32. Per step, AdamW's
 * update at eps 1e-10 is lr·m_hat/sqrt(v_hat), exact up to float rounding (~1e-6 relative
 * of lr). Muon's update goes through five Polar Express iterations, whose first coefficient
 * (8.16) amplifies rounding. Measured: max |p - p_ref| 6e-8 on the Muon matrices (3e-6 of
 * their lr 0.02) and 5e-7 on the AdamW tensors (rates up to 1.47). We require, per step and
 * entry, |p - p_ref| <= 1e-4 · lr_matrix (2e-6) + 1e-6 · |p_ref|; a wrong momentum blend,
 * coefficient, transpose, shape factor, variance scale or decay mask moves entries by a
 * sizeable fraction of lr (1e-3 and more). The cautious-decay mask can flip for an entry
 * whose update times weight is within rounding of zero; such an entry moves by at most
 * lr·wd·|p| and the test allows 8 of them (none measured).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/muon.h"

typedef struct fixture {
    int32_t L, C, V, tie, n, n_steps, total_steps, ramp, ns_steps;
    float matrix_lr, embedding_lr, unembedding_lr, beta1, beta2, eps, wd, mom0, mom1, vbeta2;
    float *p0;
    float lr_mult[8];
    float *grads[8], *after[8];
} fixture;

static void read_exact(FILE *f, void *dst, size_t bytes)
{
    cr_assert_eq(fread(dst, 1, bytes, f), bytes, "fixture file is truncated");
}

static void load_fixture(fixture *fx)
{
    const char *path = SW_SOURCE_DIR "/tests/kernels/fixtures/tiny_muon.bin";
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s (regenerate with make_muon_fixture.py)", path);
    char magic[8];
    read_exact(f, magic, 8);
    cr_assert(!memcmp(magic, "SWMUON1\n", 8), "bad fixture magic");
    read_exact(f, &fx->L, 9 * sizeof(int32_t));
    read_exact(f, &fx->matrix_lr, 10 * sizeof(float));
    cr_assert(fx->n_steps >= 1 && fx->n_steps <= 8);
    size_t n = (size_t)fx->n;
    fx->p0 = malloc(n * 4);
    read_exact(f, fx->p0, n * 4);
    for (int s = 0; s < fx->n_steps; s++) {
        fx->grads[s] = malloc(n * 4);
        fx->after[s] = malloc(n * 4);
        read_exact(f, &fx->lr_mult[s], 4);
        read_exact(f, fx->grads[s], n * 4);
        read_exact(f, fx->after[s], n * 4);
    }
    char extra;
    cr_assert_eq(fread(&extra, 1, 1, f), 0, "fixture file has trailing bytes");
    fclose(f);
}

static void fixture_config(const fixture *fx, sw_model_config *mc, sw_muon_config *c)
{
    cr_assert_eq(sw_model_preset("tiny", mc), SW_K_OK);
    cr_assert(mc->n_layer == fx->L && mc->n_embd == fx->C && mc->vocab_size == fx->V &&
              mc->tie_embeddings == fx->tie && sw_model_param_count(mc) == (size_t)fx->n);
    sw_muon_config_default(c, mc);
    /* The fixture uses nanochat's values except a short momentum ramp; check that the
     * defaults are the ones it was made with. */
    cr_expect_float_eq(c->matrix_lr, fx->matrix_lr, 1e-9);
    cr_expect_float_eq(c->embedding_lr, fx->embedding_lr, 1e-9);
    cr_expect_float_eq(c->unembedding_lr, fx->unembedding_lr, 1e-9);
    cr_expect_float_eq(c->adam_beta1, fx->beta1, 1e-9);
    cr_expect_float_eq(c->adam_beta2, fx->beta2, 1e-9);
    cr_expect_float_eq(c->adam_eps, fx->eps, 1e-20);
    cr_expect_float_eq(c->weight_decay, fx->wd, 1e-6);
    cr_expect_float_eq(c->momentum_start, fx->mom0, 1e-9);
    cr_expect_float_eq(c->momentum_end, fx->mom1, 1e-9);
    cr_expect_float_eq(c->beta2, fx->vbeta2, 1e-9);
    cr_expect_eq(c->ns_steps, fx->ns_steps);
    c->momentum_ramp_steps = fx->ramp;
}

Test(muon, matches_pytorch_reference_over_three_steps)
{
    fixture fx;
    load_fixture(&fx);
    sw_model_config mc;
    sw_muon_config c;
    fixture_config(&fx, &mc, &c);
    size_t n = (size_t)fx.n;
    sw_kerror err;
    sw_adamw state;
    sw_adamw_config unused = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f};
    cr_assert_eq(sw_adamw_init(&state, n, &unused, NULL, &err), SW_K_OK);
    sw_muon mu;
    cr_assert_eq(sw_muon_init(&mu, &mc, &c, &state, NULL, &err), SW_K_OK, "%s", err.msg);
    cr_expect_eq(state.muon, 1);
    float *p = malloc(n * 4);
    memcpy(p, fx.p0, n * 4);
    size_t C = (size_t)mc.n_embd, V = (size_t)mc.vocab_size, matrices = V * C;
    size_t matrices_end = matrices + (size_t)mc.n_layer * 12 * C * C;
    float tol_abs = 1e-4f * c.matrix_lr;
    for (int s = 0; s < fx.n_steps; s++) {
        sw_muon_step(&mu, &state, p, fx.grads[s], fx.lr_mult[s], s, fx.total_steps);
        cr_expect_eq(state.t, s + 1);
        double worst_muon = 0, worst_adam = 0;
        int flips = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)p[i] - fx.after[s][i]);
            int is_muon = i >= matrices && i < matrices_end;
            if (d > tol_abs + 1e-6 * fabs(fx.after[s][i])) {
                flips++;
                if (flips <= 3)
                    cr_log_warn("step %d entry %zu (%s): %.9g vs reference %.9g", s, i,
                                is_muon ? "muon" : "adamw", (double)p[i], (double)fx.after[s][i]);
            }
            if (is_muon)
                worst_muon = d > worst_muon ? d : worst_muon;
            else
                worst_adam = d > worst_adam ? d : worst_adam;
        }
        cr_log_info("step %d: max |p - p_ref| muon %.3g, adamw %.3g", s, worst_muon, worst_adam);
        cr_expect_leq(flips, 8, "step %d: %d entries outside tolerance", s, flips);
        /* Continue from the reference so that one step's rounding does not feed the next. */
        memcpy(p, fx.after[s], n * 4);
    }
    sw_muon_free(&mu);
    sw_adamw_free(&state);
    free(p);
}

Test(muon, momentum_ramp_and_weight_decay_schedule)
{
    sw_model_config mc;
    sw_muon_config c;
    cr_assert_eq(sw_model_preset("nanochat-d20", &mc), SW_K_OK);
    sw_muon_config_default(&c, &mc);
    cr_expect_float_eq(c.weight_decay, 0.2f * 0.36f, 1e-7, "0.2 * (12/20)^2");
    cr_expect_float_eq(sw_muon_momentum(&c, 0), 0.85f, 1e-7);
    cr_expect_float_eq(sw_muon_momentum(&c, 150), 0.90f, 1e-6);
    cr_expect_float_eq(sw_muon_momentum(&c, 300), 0.95f, 1e-7);
    cr_expect_float_eq(sw_muon_momentum(&c, 100000), 0.95f, 1e-7);
    cr_expect_float_eq(sw_muon_weight_decay(&c, 0, 1000), c.weight_decay, 1e-9);
    cr_expect_float_eq(sw_muon_weight_decay(&c, 500, 1000), c.weight_decay / 2, 1e-7);
    cr_expect_float_eq(sw_muon_weight_decay(&c, 1000, 1000), 0.0f, 1e-9);
}

/* Spread of the singular values of x (rows×cols): with M = X X^T in the wide orientation
 * (m = min(rows, cols)), m·tr(M²)/tr(M)² is 1 when all singular values are equal and grows
 * with their spread (up to m for rank one). */
static double spectral_spread(const float *x, int rows, int cols)
{
    int m = rows < cols ? rows : cols, n = rows < cols ? cols : rows;
    double *M = calloc((size_t)m * m, sizeof(double));
    for (int a = 0; a < m; a++)
        for (int b = 0; b < m; b++)
            for (int k = 0; k < n; k++) {
                float u = rows < cols ? x[(size_t)a * cols + k] : x[(size_t)k * cols + a];
                float v = rows < cols ? x[(size_t)b * cols + k] : x[(size_t)k * cols + b];
                M[(size_t)a * m + b] += (double)u * v;
            }
    double tr = 0, tr2 = 0;
    for (int a = 0; a < m; a++) {
        tr += M[(size_t)a * m + a];
        for (int b = 0; b < m; b++)
            tr2 += M[(size_t)a * m + b] * M[(size_t)b * m + a];
    }
    free(M);
    return m * tr2 / (tr * tr);
}

/* With momentum 0 and no decay, p = -lr · O for the orthogonalised (and variance-scaled)
 * gradient O. An ill-conditioned gradient (its columns or rows scaled over two decades)
 * must come out with nearly equal singular values: Polar Express maps them into about
 * [0.7, 1.2] (tuned for speed, not exactness). Checked tall and wide, which take the two
 * orientations of the iteration and the two directions of the variance scale. */
static void check_orthogonal(int rows, int cols)
{
    const sw_backend *be = sw_backend_cpu();
    size_t rc = (size_t)rows * cols;
    float *p = calloc(rc, 4), *g = malloc(rc * 4), *mom = calloc(rc, 4);
    float *var = calloc((size_t)(rows > cols ? rows : cols), 4);
    float *work = be->alloc(be->muon_work_floats(rows, cols) * 4);
    unsigned s = 12345;
    int m = rows < cols ? rows : cols;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            s = s * 1103515245u + 12345u;
            int along = rows < cols ? i : j; /* the short side's index */
            g[(size_t)i * cols + j] = ((float)((s >> 8) & 0xffff) / 65536.0f - 0.5f) *
                                      powf(10.0f, -2.0f * (float)along / (float)(m - 1));
        }
    double before = spectral_spread(g, rows, cols);
    be->muon_update(p, g, mom, var, work, rows, cols, 0.0f, -1.0f, 0.0f, 0.95f, 5);
    double after = spectral_spread(p, rows, cols);
    cr_log_info("%dx%d: spectral spread %.3f before, %.3f after", rows, cols, before, after);
    cr_expect_gt(before, 3.0, "%dx%d: the test gradient should be ill-conditioned", rows, cols);
    cr_expect_lt(after, 1.15, "%dx%d: spread %.3f after Muon", rows, cols, after);
    be->free(work);
    free(p), free(g), free(mom), free(var);
}

Test(muon, update_is_near_orthogonal_tall_and_wide)
{
    check_orthogonal(64, 16);
    check_orthogonal(16, 64);
}

Test(muon, rejects_bad_configuration_naming_the_field)
{
    sw_model_config mc;
    sw_muon_config c;
    cr_assert_eq(sw_model_preset("tiny", &mc), SW_K_OK);
    sw_muon_config_default(&c, &mc);
    c.matrix_lr = 0;
    sw_adamw state;
    sw_adamw_config unused = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f};
    sw_kerror err;
    cr_assert_eq(sw_adamw_init(&state, sw_model_param_count(&mc), &unused, NULL, &err), SW_K_OK);
    sw_muon mu;
    cr_expect_eq(sw_muon_init(&mu, &mc, &c, &state, NULL, &err), SW_K_EINPUT);
    cr_expect(strstr(err.msg, "--matrix-lr") != NULL, "%s", err.msg);
    sw_muon_config_default(&c, &mc);
    c.momentum_end = 1.0f;
    cr_expect_eq(sw_muon_init(&mu, &mc, &c, &state, NULL, &err), SW_K_EINPUT);
    cr_expect(strstr(err.msg, "momenta") != NULL, "%s", err.msg);
    cr_expect_eq(state.muon, 0, "a refused configuration leaves the state AdamW's");
    sw_adamw_free(&state);
}
