/* aggregate.c - FedAvg and the Nesterov outer step (see aggregate.h).
 *
 * Every routine walks its range in blocks of BLOCK elements. Within a block the weighted sum
 * is accumulated in a small double array on the stack (4 KiB, stays in L1): the first input
 * initializes it, each further input adds to it, then the block is consumed (rounded to the
 * output, or fed to the outer step). Thus each input stream is read exactly once and the
 * output written once, whatever k is.
 *
 * The block bodies are written as loops of a compile-time trip count (BLOCK) so that GCC's
 * default -O2 vectorizer (cost model "very-cheap", which refuses loops that would need a scalar
 * epilogue or runtime alias checks) vectorizes them; the last partial block runs the same code
 * with a variable length.
 */
#include "core/aggregate.h"

#include <math.h>
#include <stdint.h>

enum { BLOCK = 512, GROUP = 4 };

/* The build targets baseline x86-64 (SSE2), where the double-precision loops are
 * arithmetic-bound at about 0.65-0.75 of memcpy bandwidth (bench/RESULTS.md). On x86-64 the
 * public routines are therefore also compiled for x86-64-v3 (AVX2 + FMA), picked at load time
 * by the dynamic loader (GCC target_clones, an ifunc), which reaches memory bandwidth. Other
 * targets get the plain build. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SW_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SW_HOT
#endif

/* Where a pass over a block puts the weighted sum s of element j. */
enum { SINK_ACC, SINK_FLOAT, SINK_NESTEROV };

/* One pass over a block of len elements starting at j0, adding g <= GROUP inputs:
 *     s = (acc_in ? acc_in[j] : 0) + Σ_{i<g} ws[i] · xs[i][j0 + j]
 * and sending s to the sink: acc[j] (more inputs follow), out[j] (FedAvg) or the Nesterov
 * update of global[j] and momentum[j] (fused path; out is global then). Always inlined with
 * constant g, sink and acc_in-ness, so each call site becomes one branch-free loop; with
 * len == BLOCK the loop has a constant trip count, which -O2 vectorizes. */
static inline __attribute__((always_inline)) void
group_pass(const double *acc_in, double *acc, float *restrict out, float *restrict momentum,
           double lr, double mu, const float *const *xs, const double *ws, int g, int sink,
           size_t j0, size_t len)
{
    const float *restrict x0 = xs[0] + j0;
    const float *restrict x1 = g > 1 ? xs[1] + j0 : x0;
    const float *restrict x2 = g > 2 ? xs[2] + j0 : x0;
    const float *restrict x3 = g > 3 ? xs[3] + j0 : x0;
    const double w0 = ws[0], w1 = g > 1 ? ws[1] : 0, w2 = g > 2 ? ws[2] : 0, w3 = g > 3 ? ws[3] : 0;
    for (size_t j = 0; j < len; j++) {
        double s = w0 * (double)x0[j];
        if (g > 1)
            s += w1 * (double)x1[j];
        if (g > 2)
            s += w2 * (double)x2[j];
        if (g > 3)
            s += w3 * (double)x3[j];
        if (acc_in)
            s += acc_in[j];
        if (sink == SINK_ACC) {
            acc[j] = s;
        } else if (sink == SINK_FLOAT) {
            out[j0 + j] = (float)s;
        } else {
            /* Nesterov on the unrounded average s. The buffer is stored as float and the
             * stored value is used in the update, as PyTorch does with its fp32 buffer. */
            const double gl = out[j0 + j];
            const double delta = gl - s;
            const float m = (float)(mu * (double)momentum[j0 + j] + delta);
            momentum[j0 + j] = m;
            out[j0 + j] = (float)(gl - lr * (delta + mu * (double)m));
        }
    }
}

/* The last pass of a block: g = 1..GROUP remaining inputs, first says whether it is also the
 * first pass (no accumulator to read). The switch turns g and first into constants. */
static inline __attribute__((always_inline)) void last_pass(double *acc, float *restrict out,
                                                            float *restrict momentum, double lr,
                                                            double mu, const float *const *xs,
                                                            const double *ws, size_t g, int first,
                                                            int sink, size_t j0, size_t len)
{
#define SW_LAST_PASS(G)                                                                            \
    do {                                                                                           \
        if (first)                                                                                 \
            group_pass(NULL, acc, out, momentum, lr, mu, xs, ws, G, sink, j0, len);                \
        else                                                                                       \
            group_pass(acc, acc, out, momentum, lr, mu, xs, ws, G, sink, j0, len);                 \
    } while (0)
    switch (g) {
    case 1:
        SW_LAST_PASS(1);
        break;
    case 2:
        SW_LAST_PASS(2);
        break;
    case 3:
        SW_LAST_PASS(3);
        break;
    default:
        SW_LAST_PASS(4);
        break;
    }
#undef SW_LAST_PASS
}

/* The weighted sum of k inputs over one block, delivered to `sink`: full groups of GROUP
 * inputs go through the L1-resident accumulator, the last group (1..GROUP inputs) goes straight
 * to the sink, so k <= GROUP takes a single pass with no accumulator at all. */
static inline __attribute__((always_inline)) void
block_sum(double *acc, float *restrict out, float *restrict momentum, double lr, double mu,
          const float *const *x, const double *w, size_t k, int sink, size_t j0, size_t len)
{
    size_t i = 0;
    for (; k - i > GROUP; i += GROUP) {
        if (i == 0)
            group_pass(NULL, acc, NULL, NULL, 0, 0, x, w, GROUP, SINK_ACC, j0, len);
        else
            group_pass(acc, acc, NULL, NULL, 0, 0, x + i, w + i, GROUP, SINK_ACC, j0, len);
    }
    last_pass(acc, out, momentum, lr, mu, x + i, w + i, k - i, i == 0, sink, j0, len);
}

/* The unfused outer step on one block, avg given as floats. */
static inline __attribute__((always_inline)) void nesterov_block(float *restrict global,
                                                                 float *restrict momentum,
                                                                 const float *restrict avg,
                                                                 double lr, double mu, size_t len)
{
    for (size_t j = 0; j < len; j++) {
        const double g = global[j];
        const double delta = g - (double)avg[j];
        const float m = (float)(mu * (double)momentum[j] + delta);
        momentum[j] = m;
        global[j] = (float)(g - lr * (delta + mu * (double)m));
    }
}

static int check_range(const char *fn, size_t offset, size_t count, sw_error *err)
{
    if (offset > SIZE_MAX - count)
        return sw_errorf(err, SW_EINPUT, "%s: offset %zu + count %zu overflows size_t", fn, offset,
                         count);
    return SW_OK;
}

static int check_inputs(const char *fn, const float *const *x, const double *w, size_t k,
                        sw_error *err)
{
    if (k == 0)
        return sw_errorf(err, SW_EINPUT, "%s: k = 0 inputs, expected at least 1", fn);
    if (!x || !w)
        return sw_errorf(err, SW_EINPUT, "%s: %s is NULL", fn, !x ? "x" : "w");
    for (size_t i = 0; i < k; i++) {
        if (!x[i])
            return sw_errorf(err, SW_EINPUT, "%s: input x[%zu] is NULL", fn, i);
        if (!isfinite(w[i]))
            return sw_errorf(err, SW_EINPUT, "%s: weight w[%zu] = %g is not finite", fn, i, w[i]);
    }
    return SW_OK;
}

static int check_outer(const char *fn, const float *global, const float *momentum, double lr,
                       double mu, sw_error *err)
{
    if (!global || !momentum)
        return sw_errorf(err, SW_EINPUT, "%s: %s is NULL", fn, !global ? "global" : "momentum");
    if (!isfinite(lr))
        return sw_errorf(err, SW_EINPUT, "%s: lr = %g is not finite", fn, lr);
    if (!isfinite(mu) || mu < 0)
        return sw_errorf(err, SW_EINPUT, "%s: momentum mu = %g, expected finite and >= 0", fn, mu);
    return SW_OK;
}

int sw_weights_from_work(const double *tokens, size_t k, double *w, sw_error *err)
{
    if (k == 0)
        return sw_errorf(err, SW_EINPUT, "sw_weights_from_work: k = 0 inputs, expected >= 1");
    if (!tokens || !w)
        return sw_errorf(err, SW_EINPUT, "sw_weights_from_work: %s is NULL",
                         !tokens ? "tokens" : "w");
    double total = 0;
    for (size_t i = 0; i < k; i++) {
        if (!isfinite(tokens[i]) || tokens[i] < 0)
            return sw_errorf(err, SW_EINPUT,
                             "sw_weights_from_work: tokens[%zu] = %g, expected finite and >= 0", i,
                             tokens[i]);
        total += tokens[i];
    }
    if (!isfinite(total))
        return sw_errorf(err, SW_EINPUT, "sw_weights_from_work: sum of tokens overflows");
    if (total == 0)
        return sw_errorf(err, SW_EINPUT,
                         "sw_weights_from_work: all %zu inputs report 0 tokens, nothing to "
                         "average",
                         k);
    for (size_t i = 0; i < k; i++)
        w[i] = tokens[i] / total;
    return SW_OK;
}

SW_HOT int sw_fedavg_range(float *out, const float *const *x, const double *w, size_t k,
                           size_t offset, size_t count, sw_error *err)
{
    int rc = check_inputs("sw_fedavg_range", x, w, k, err);
    if (rc == SW_OK)
        rc = check_range("sw_fedavg_range", offset, count, err);
    if (rc != SW_OK)
        return rc;
    if (!out)
        return sw_errorf(err, SW_EINPUT, "sw_fedavg_range: out is NULL");

    double acc[BLOCK];
    const size_t end = offset + count;
    size_t j0 = offset;
    for (; end - j0 >= BLOCK; j0 += BLOCK)
        block_sum(acc, out, NULL, 0, 0, x, w, k, SINK_FLOAT, j0, BLOCK);
    if (j0 < end)
        block_sum(acc, out, NULL, 0, 0, x, w, k, SINK_FLOAT, j0, end - j0);
    return SW_OK;
}

int sw_fedavg(float *out, const float *const *x, const double *w, size_t k, size_t n, sw_error *err)
{
    return sw_fedavg_range(out, x, w, k, 0, n, err);
}

SW_HOT int sw_outer_nesterov_range(float *global, float *momentum, const float *avg, double lr,
                                   double mu, size_t offset, size_t count, sw_error *err)
{
    int rc = check_outer("sw_outer_nesterov_range", global, momentum, lr, mu, err);
    if (rc == SW_OK)
        rc = check_range("sw_outer_nesterov_range", offset, count, err);
    if (rc != SW_OK)
        return rc;
    if (!avg)
        return sw_errorf(err, SW_EINPUT, "sw_outer_nesterov_range: avg is NULL");

    const size_t end = offset + count;
    size_t j0 = offset;
    for (; end - j0 >= BLOCK; j0 += BLOCK)
        nesterov_block(global + j0, momentum + j0, avg + j0, lr, mu, BLOCK);
    if (j0 < end)
        nesterov_block(global + j0, momentum + j0, avg + j0, lr, mu, end - j0);
    return SW_OK;
}

SW_HOT int sw_fedavg_nesterov_range(float *global, float *momentum, const float *const *x,
                                    const double *w, size_t k, double lr, double mu, size_t offset,
                                    size_t count, sw_error *err)
{
    const char *fn = "sw_fedavg_nesterov_range";
    int rc = check_inputs(fn, x, w, k, err);
    if (rc == SW_OK)
        rc = check_outer(fn, global, momentum, lr, mu, err);
    if (rc == SW_OK)
        rc = check_range(fn, offset, count, err);
    if (rc != SW_OK)
        return rc;

    double acc[BLOCK];
    const size_t end = offset + count;
    size_t j0 = offset;
    for (; end - j0 >= BLOCK; j0 += BLOCK)
        block_sum(acc, global, momentum, lr, mu, x, w, k, SINK_NESTEROV, j0, BLOCK);
    if (j0 < end)
        block_sum(acc, global, momentum, lr, mu, x, w, k, SINK_NESTEROV, j0, end - j0);
    return SW_OK;
}
