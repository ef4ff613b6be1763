/* test_aggregate.c - FedAvg and the Nesterov outer step against references (core/aggregate.h).
 *
 * Tolerance of FedAvg against the double-precision naive reference ref = Σ w_i x_i: the routine
 * accumulates in double and rounds once, so |out - ref| <= 2^-24 |ref| (half a float ulp) plus
 * 1e-13 Σ |w_i x_i| (double accumulation, with margin). A float accumulator would miss this
 * bound by orders of magnitude on cancelling inputs, so the test would catch that regression.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/aggregate.h"

/* Deterministic uniform numbers in [-1, 1) (xorshift64*). */
static double rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ull) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

typedef struct inputs {
    size_t k, n;
    float **x;
    double *w;
} inputs;

static inputs make_inputs(size_t k, size_t n, uint64_t seed)
{
    inputs in = {k, n, calloc(k, sizeof(float *)), calloc(k, sizeof(double))};
    double tokens[16];
    cr_assert(k <= 16);
    for (size_t i = 0; i < k; i++) {
        in.x[i] = malloc((n ? n : 1) * sizeof(float));
        /* Inputs of different scales so the sums cancel and exercise the accumulator. */
        double scale = i % 2 ? 1e3 : 1.0;
        for (size_t j = 0; j < n; j++)
            in.x[i][j] = (float)(scale * rnd(&seed));
        tokens[i] = 1.0 + 1000.0 * (rnd(&seed) + 1.0);
    }
    cr_assert_eq(sw_weights_from_work(tokens, k, in.w, NULL), SW_OK);
    return in;
}

static void free_inputs(inputs *in)
{
    for (size_t i = 0; i < in->k; i++)
        free(in->x[i]);
    free(in->x);
    free(in->w);
}

static void check_against_reference(const inputs *in, const float *out)
{
    for (size_t j = 0; j < in->n; j++) {
        double ref = 0, mag = 0;
        for (size_t i = 0; i < in->k; i++) {
            ref += in->w[i] * (double)in->x[i][j];
            mag += fabs(in->w[i] * (double)in->x[i][j]);
        }
        double tol = ldexp(fabs(ref), -24) + 1e-13 * mag;
        cr_assert_leq(fabs((double)out[j] - ref), tol,
                      "k=%zu n=%zu j=%zu: out %.9g ref %.17g tol %.3g", in->k, in->n, j,
                      (double)out[j], ref, tol);
    }
}

Test(weights, proportional_to_work)
{
    double tokens[] = {1000, 3000};
    double w[2];
    cr_assert_eq(sw_weights_from_work(tokens, 2, w, NULL), SW_OK);
    cr_assert_float_eq(w[0], 0.25, 1e-15);
    cr_assert_float_eq(w[1], 0.75, 1e-15);
}

Test(weights, sum_to_one_and_zero_work_gets_zero_weight)
{
    uint64_t seed = 42;
    for (size_t k = 1; k <= 9; k++) {
        double tokens[9], w[9];
        for (size_t i = 0; i < k; i++)
            tokens[i] = i == 1 ? 0.0 : floor(1e9 * (rnd(&seed) + 1.0));
        if (k == 2)
            tokens[0] = 5; /* k=2 would otherwise be {x, 0} with x possibly 0 */
        cr_assert_eq(sw_weights_from_work(tokens, k, w, NULL), SW_OK);
        double sum = 0;
        for (size_t i = 0; i < k; i++) {
            cr_assert_geq(w[i], 0.0);
            sum += w[i];
        }
        cr_assert_float_eq(sum, 1.0, 1e-15 * (double)k, "k=%zu sum=%.17g", k, sum);
        if (k > 1)
            cr_assert_eq(w[1], 0.0);
    }
}

Test(weights, all_zero_is_an_error_and_leaves_w_untouched)
{
    double tokens[] = {0, 0, 0};
    double w[] = {7, 7, 7};
    sw_error err;
    cr_assert_eq(sw_weights_from_work(tokens, 3, w, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "0 tokens"), "%s", err.msg);
    cr_assert(w[0] == 7 && w[1] == 7 && w[2] == 7);
}

Test(weights, bad_input_names_the_index)
{
    double w[3];
    sw_error err;
    double neg[] = {1, -2, 3};
    cr_assert_eq(sw_weights_from_work(neg, 3, w, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "tokens[1]"), "%s", err.msg);
    double nan_in[] = {1, 2, NAN};
    cr_assert_eq(sw_weights_from_work(nan_in, 3, w, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "tokens[2]"), "%s", err.msg);
    cr_assert_eq(sw_weights_from_work(neg, 0, w, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "k = 0"), "%s", err.msg);
}

Test(fedavg, matches_double_reference_on_odd_sizes)
{
    /* n = 1, sizes around the vector width and the 512-element block, k = 1 .. 9 (one, two and
     * three passes through the accumulator). */
    const size_t ns[] = {1, 2, 3, 5, 7, 511, 512, 513, 1025, 4099};
    const size_t ks[] = {1, 2, 3, 4, 5, 7, 8, 9};
    uint64_t seed = 1;
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof ks / sizeof ks[0]; b++) {
            inputs in = make_inputs(ks[b], ns[a], seed++);
            float *out = malloc(ns[a] * sizeof *out);
            cr_assert_eq(sw_fedavg(out, (const float *const *)in.x, in.w, in.k, in.n, NULL), SW_OK);
            check_against_reference(&in, out);
            free(out);
            free_inputs(&in);
        }
}

Test(fedavg, single_input_with_weight_one_is_a_copy)
{
    inputs in = make_inputs(1, 1000, 7);
    cr_assert_eq(in.w[0], 1.0);
    float out[1000];
    cr_assert_eq(sw_fedavg(out, (const float *const *)in.x, in.w, 1, 1000, NULL), SW_OK);
    cr_assert_arr_eq(out, in.x[0], sizeof out);
    free_inputs(&in);
}

Test(fedavg, ranges_compose_bit_exactly_and_touch_nothing_else)
{
    const size_t n = 3000;
    inputs in = make_inputs(5, n, 99);
    float *whole = malloc(n * sizeof(float)), *parts = malloc(n * sizeof(float));
    cr_assert_eq(sw_fedavg(whole, (const float *const *)in.x, in.w, in.k, n, NULL), SW_OK);
    for (size_t j = 0; j < n; j++)
        parts[j] = -12345.0f;
    /* A range of 0 touches nothing; then three uneven pieces, out of order. */
    cr_assert_eq(sw_fedavg_range(parts, (const float *const *)in.x, in.w, in.k, 10, 0, NULL),
                 SW_OK);
    cr_assert_eq(sw_fedavg_range(parts, (const float *const *)in.x, in.w, in.k, 1700, 1000, NULL),
                 SW_OK);
    for (size_t j = 0; j < 1700; j++)
        cr_assert_eq(parts[j], -12345.0f, "j=%zu written outside the range", j);
    cr_assert_eq(parts[2700], -12345.0f);
    cr_assert_eq(sw_fedavg_range(parts, (const float *const *)in.x, in.w, in.k, 0, 3, NULL), SW_OK);
    cr_assert_eq(sw_fedavg_range(parts, (const float *const *)in.x, in.w, in.k, 3, 1697, NULL),
                 SW_OK);
    cr_assert_eq(sw_fedavg_range(parts, (const float *const *)in.x, in.w, in.k, 2700, 300, NULL),
                 SW_OK);
    cr_assert_arr_eq(parts, whole, n * sizeof(float));
    free(whole);
    free(parts);
    free_inputs(&in);
}

Test(fedavg, bad_input_names_the_field)
{
    float a[4] = {1, 2, 3, 4}, out[4];
    const float *x[] = {a, NULL, a};
    double w[] = {0.5, 0.5, NAN};
    sw_error err;
    cr_assert_eq(sw_fedavg(out, x, w, 0, 4, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "k = 0"), "%s", err.msg);
    cr_assert_eq(sw_fedavg(out, x, w, 2, 4, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "x[1]"), "%s", err.msg);
    x[1] = a;
    cr_assert_eq(sw_fedavg(out, x, w, 3, 4, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "w[2]"), "%s", err.msg);
    cr_assert_eq(sw_fedavg(NULL, x, w, 2, 4, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "out"), "%s", err.msg);
    cr_assert_eq(sw_fedavg_range(out, x, w, 2, SIZE_MAX, 2, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "overflows"), "%s", err.msg);
}

/* Three outer steps (lr 0.7, mu 0.9) on two parameters, worked by hand:
 *   p0: global 1.0, avg 0.5   -> delta 0.5, m 0.5,              global 1 - 0.7(0.5 + 0.45)
 *                                                                      = 0.335
 *       avg 0.135             -> delta 0.2, m 0.45 + 0.2 = 0.65, global 0.335 - 0.7(0.2 + 0.585)
 *                                                                      = -0.2145
 *       avg -0.3145           -> delta 0.1, m 0.585 + 0.1 = 0.685,
 *                                global -0.2145 - 0.7(0.1 + 0.6165) = -0.71605
 *   p1: global -2.0, avg -1.0 -> delta -1, m -1,  global -2 - 0.7(-1 - 0.9) = -0.67
 *       avg -0.67             -> delta 0,  m -0.9, global -0.67 - 0.7(0 - 0.81) = -0.103
 *       avg 0.897             -> delta -1, m -0.81 - 1 = -1.81,
 *                                global -0.103 - 0.7(-1 - 1.629) = 1.7373
 */
static const float hand_avg[3][2] = {{0.5f, -1.0f}, {0.135f, -0.67f}, {-0.3145f, 0.897f}};
static const double hand_global[3][2] = {{0.335, -0.67}, {-0.2145, -0.103}, {-0.71605, 1.7373}};
static const double hand_momentum[3][2] = {{0.5, -1.0}, {0.65, -0.9}, {0.685, -1.81}};

Test(nesterov, three_steps_match_hand_computation)
{
    float global[2] = {1.0f, -2.0f}, momentum[2] = {0, 0};
    for (int step = 0; step < 3; step++) {
        cr_assert_eq(
            sw_outer_nesterov_range(global, momentum, hand_avg[step], 0.7, 0.9, 0, 2, NULL), SW_OK);
        for (int p = 0; p < 2; p++) {
            cr_assert_float_eq(global[p], hand_global[step][p], 1e-6, "step %d p%d: %.9g", step + 1,
                               p, (double)global[p]);
            cr_assert_float_eq(momentum[p], hand_momentum[step][p], 1e-6, "step %d p%d: %.9g",
                               step + 1, p, (double)momentum[p]);
        }
    }
}

Test(nesterov, fused_three_steps_match_hand_computation)
{
    float global[2] = {1.0f, -2.0f}, momentum[2] = {0, 0};
    for (int step = 0; step < 3; step++) {
        /* Two inputs with work 1:3 whose weighted average is the hand average. */
        float lo[2], hi[2];
        for (int p = 0; p < 2; p++) {
            lo[p] = hand_avg[step][p] - 0.75f;
            hi[p] = hand_avg[step][p] + 0.25f;
        }
        const float *x[] = {lo, hi};
        const double w[] = {0.25, 0.75};
        cr_assert_eq(sw_fedavg_nesterov_range(global, momentum, x, w, 2, 0.7, 0.9, 0, 2, NULL),
                     SW_OK);
        for (int p = 0; p < 2; p++) {
            cr_assert_float_eq(global[p], hand_global[step][p], 1e-6, "step %d p%d", step + 1, p);
            cr_assert_float_eq(momentum[p], hand_momentum[step][p], 1e-6, "step %d p%d", step + 1,
                               p);
        }
    }
}

Test(nesterov, lr_one_momentum_zero_is_plain_fedavg)
{
    uint64_t seed = 5;
    float global[700], momentum[700] = {0}, avg[700];
    for (size_t j = 0; j < 700; j++) {
        global[j] = (float)rnd(&seed);
        avg[j] = (float)rnd(&seed);
    }
    cr_assert_eq(sw_outer_nesterov_range(global, momentum, avg, 1.0, 0.0, 0, 700, NULL), SW_OK);
    cr_assert_arr_eq(global, avg, sizeof avg);
}

Test(nesterov, fused_matches_double_reference_over_steps)
{
    /* k = 6 inputs (one accumulator pass plus a last group), n across block boundaries, three
     * rounds; reference in double with the buffer rounded to float like the routine. */
    const size_t n = 1300, k = 6;
    uint64_t seed = 11;
    float *global = malloc(n * sizeof(float)), *momentum = calloc(n, sizeof(float));
    double *gref = malloc(n * sizeof(double)), *mref = calloc(n, sizeof(double));
    for (size_t j = 0; j < n; j++)
        gref[j] = global[j] = (float)rnd(&seed);
    for (int round = 0; round < 3; round++) {
        inputs in = make_inputs(k, n, seed + (uint64_t)round);
        /* Inputs close to the global model, as after a round of training. */
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < n; j++)
                in.x[i][j] = global[j] + 1e-3f * in.x[i][j];
        for (size_t j = 0; j < n; j++) {
            double avg = 0;
            for (size_t i = 0; i < k; i++)
                avg += in.w[i] * (double)in.x[i][j];
            double delta = (double)global[j] - avg;
            mref[j] = 0.9 * mref[j] + delta;
            gref[j] = (double)global[j] - 0.7 * (delta + 0.9 * mref[j]);
        }
        cr_assert_eq(sw_fedavg_nesterov_range(global, momentum, (const float *const *)in.x, in.w, k,
                                              0.7, 0.9, 0, n, NULL),
                     SW_OK);
        for (size_t j = 0; j < n; j++) {
            /* Rounding of global itself plus the float-stored buffer it is computed from. */
            cr_assert_leq(fabs((double)global[j] - gref[j]),
                          2e-7 * (fabs(gref[j]) + fabs(mref[j]) + 1e-6), "round %d j=%zu", round,
                          j);
            cr_assert_leq(fabs((double)momentum[j] - mref[j]), 2e-7 * (fabs(mref[j]) + 1e-6),
                          "round %d j=%zu", round, j);
            mref[j] = momentum[j]; /* continue from the routine's state */
            gref[j] = global[j];
        }
        free_inputs(&in);
    }
    free(global);
    free(momentum);
    free(gref);
    free(mref);
}

Test(nesterov, fused_equals_unfused_up_to_the_rounded_average)
{
    const size_t n = 2049;
    inputs in = make_inputs(3, n, 21);
    float *g1 = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float));
    float *m1 = calloc(n, sizeof(float)), *m2 = calloc(n, sizeof(float));
    float *avg = malloc(n * sizeof(float));
    uint64_t seed = 3;
    for (size_t j = 0; j < n; j++)
        g1[j] = g2[j] = (float)rnd(&seed);
    cr_assert_eq(sw_fedavg(avg, (const float *const *)in.x, in.w, 3, n, NULL), SW_OK);
    cr_assert_eq(sw_outer_nesterov_range(g1, m1, avg, 0.7, 0.9, 0, n, NULL), SW_OK);
    /* The fused call split in two ranges. */
    cr_assert_eq(sw_fedavg_nesterov_range(g2, m2, (const float *const *)in.x, in.w, 3, 0.7, 0.9, 0,
                                          1000, NULL),
                 SW_OK);
    cr_assert_eq(sw_fedavg_nesterov_range(g2, m2, (const float *const *)in.x, in.w, 3, 0.7, 0.9,
                                          1000, n - 1000, NULL),
                 SW_OK);
    for (size_t j = 0; j < n; j++) {
        /* One float ulp of the average, amplified by lr (1 + mu) in global. */
        double ulp = ldexp(fabs((double)avg[j]) + 1e-30, -23);
        cr_assert_leq(fabs((double)m1[j] - m2[j]), 2 * ulp + ldexp(fabs(m1[j]), -23));
        cr_assert_leq(fabs((double)g1[j] - g2[j]), 4 * ulp + ldexp(fabs(g1[j]), -23));
    }
    free(g1);
    free(g2);
    free(m1);
    free(m2);
    free(avg);
    free_inputs(&in);
}

Test(nesterov, bad_input_names_the_field)
{
    float g[2] = {0}, m[2] = {0}, a[2] = {0};
    sw_error err;
    cr_assert_eq(sw_outer_nesterov_range(g, m, a, NAN, 0.9, 0, 2, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "lr"), "%s", err.msg);
    cr_assert_eq(sw_outer_nesterov_range(g, m, a, 0.7, -0.1, 0, 2, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "momentum mu"), "%s", err.msg);
    cr_assert_eq(sw_outer_nesterov_range(g, NULL, a, 0.7, 0.9, 0, 2, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "momentum is NULL"), "%s", err.msg);
    const float *x[] = {a};
    double w[] = {INFINITY};
    cr_assert_eq(sw_fedavg_nesterov_range(g, m, x, w, 1, 0.7, 0.9, 0, 2, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "w[0]"), "%s", err.msg);
}
