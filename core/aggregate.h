/* aggregate.h - model aggregation on contiguous float arrays: work-weighted FedAvg and the
 * DiLoCo-style Nesterov outer step, separately or fused into one pass over memory.
 *
 * A model is one contiguous array of n floats (all parameters in one allocation). Every routine
 * has a range form that touches only elements [offset, offset + count) of every array it is
 * given, so a caller can split one aggregation across threads (disjoint ranges) or pipeline it
 * with transfers; the routines themselves are single-threaded and link no OpenMP.
 *
 * Memory traffic is the cost: FedAvg reads each of the k inputs exactly once and writes the
 * output once (blocked over n: a block of the accumulator stays in L1 while the k input streams
 * go by). Accumulation is in double: the CPU has far more arithmetic than memory bandwidth here,
 * so the wider accumulator is free, and the result is the exactly-rounded float of the weighted
 * sum up to a relative error of about k * 2^-53 (float accumulation would add up to k * 2^-24
 * relative error and make the result depend on the order of the inputs at float precision).
 *
 * Results are deterministic: the same inputs give bit-identical outputs whatever the range
 * split, block position or CPU (the build is ISO C, so no FMA contraction, and the sums are
 * formed in a fixed order; on x86-64 an AVX2 clone is picked at load time, see aggregate.c).
 *
 * Aliasing: outputs (out, or global and momentum) must not overlap each other or any input.
 */
#ifndef SW_AGGREGATE_H
#define SW_AGGREGATE_H

#include <stddef.h>

#include "core/error.h"

/* Work weights: w[i] = tokens[i] / Σ tokens (tokens or batches processed in the round by input
 * i), so Σ w = 1 up to rounding. k >= 1; each tokens[i] must be finite and >= 0. If every input
 * did no work (Σ tokens == 0) there is nothing to average: SW_EINPUT and w is left untouched
 * (the caller keeps the previous global model). Errors name the offending index. */
int sw_weights_from_work(const double *tokens, size_t k, double *w, sw_error *err);

/* Work-weighted FedAvg: out[j] = Σ_i w[i] · x[i][j] for j in [offset, offset + count).
 * x is an array of k >= 1 input pointers, each to an array of at least offset + count floats;
 * w holds k finite weights (normally from sw_weights_from_work; they are used as given, not
 * renormalized). Borrows everything; writes only out[offset .. offset + count). */
int sw_fedavg_range(float *out, const float *const *x, const double *w, size_t k, size_t offset,
                    size_t count, sw_error *err);

/* sw_fedavg_range over the whole array [0, n). */
int sw_fedavg(float *out, const float *const *x, const double *w, size_t k, size_t n,
              sw_error *err);

/* Nesterov outer step (DiLoCo), in place on [offset, offset + count), matching PyTorch
 * torch.optim.SGD(lr, momentum=mu, nesterov=True, dampening=0, weight_decay=0) applied to the
 * pseudo-gradient:
 *     delta  = global - avg               (pseudo-gradient: previous global minus the average)
 *     m      = mu · m + delta             (momentum buffer; start from m = 0, which equals
 *                                          PyTorch's first-step buf = grad)
 *     global = global - lr · (delta + mu · m)
 * global (previous global model in, new global out), momentum (n floats, caller-owned, zero
 * before the first step) and avg (the round's average) are borrowed. lr and mu finite, mu >= 0.
 * With lr = 1 and mu = 0 the step is plain FedAvg (global becomes avg). */
int sw_outer_nesterov_range(float *global, float *momentum, const float *avg, double lr, double mu,
                            size_t offset, size_t count, sw_error *err);

/* Fused FedAvg + Nesterov outer step in one pass: for each element the weighted average of the
 * k inputs is formed in a register (double) and fed straight into the outer step, so the
 * average is never written to memory (reads k inputs + global + momentum, writes global and
 * momentum). Same formulas as above; the only difference from sw_fedavg_range followed by
 * sw_outer_nesterov_range is that the average is not rounded to float in between (a difference
 * of at most about one float ulp of the average). */
int sw_fedavg_nesterov_range(float *global, float *momentum, const float *const *x, const double *w,
                             size_t k, double lr, double mu, size_t offset, size_t count,
                             sw_error *err);

#endif
