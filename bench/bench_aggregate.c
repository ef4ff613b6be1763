/* bench_aggregate.c - memory bandwidth of FedAvg and of the fused FedAvg + Nesterov outer step
 * (core/aggregate.h), against memcpy measured by the same harness as the ceiling.
 *
 * Usage: bench_aggregate [n_floats] [repeats]      (defaults: 33554432 = 32M floats, 5)
 *
 * Bandwidth counts the bytes the routine must move logically: FedAvg over k inputs reads k
 * arrays and writes one, (k + 1) · 4n bytes; the fused step also reads and writes global and
 * momentum, (k + 4) · 4n; memcpy reads one and writes one, 2 · 4n. Each figure is the best of
 * `repeats` timed runs after one untimed warm-up run (which also faults the pages in). Build and
 * run instructions: bench/README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/aggregate.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_filled(size_t n, unsigned seed)
{
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "bench_aggregate: out of memory allocating %zu floats\n", n);
        exit(1);
    }
    for (size_t j = 0; j < n; j++)
        p[j] = (float)((j * 2654435761u + seed) % 1000u) * 1e-3f - 0.5f;
    return p;
}

typedef enum { RUN_MEMCPY, RUN_FEDAVG, RUN_FUSED } run_kind;

typedef struct bench_state {
    size_t n, k;
    float *out, *global, *momentum;
    const float *const *x;
    const double *w;
} bench_state;

static void run_once(run_kind kind, const bench_state *b)
{
    sw_error err;
    int rc = SW_OK;
    switch (kind) {
    case RUN_MEMCPY:
        memcpy(b->out, b->x[0], b->n * sizeof(float));
        break;
    case RUN_FEDAVG:
        rc = sw_fedavg(b->out, b->x, b->w, b->k, b->n, &err);
        break;
    case RUN_FUSED:
        rc = sw_fedavg_nesterov_range(b->global, b->momentum, b->x, b->w, b->k, 0.7, 0.9, 0, b->n,
                                      &err);
        break;
    }
    if (rc != SW_OK) {
        fprintf(stderr, "bench_aggregate: %s\n", err.msg);
        exit(1);
    }
}

/* Best-of-`repeats` bandwidths in GB/s (1e9 bytes per second) of a routine and of memcpy, timed
 * alternately so that both see the same load from other processes on a shared machine. */
static void measure(run_kind kind, const bench_state *b, size_t bytes, int repeats, double *gbs,
                    double *memcpy_gbs)
{
    run_once(kind, b);
    run_once(RUN_MEMCPY, b);
    double best = 1e300, best_copy = 1e300;
    for (int r = 0; r < repeats; r++) {
        double t0 = now_s();
        run_once(kind, b);
        double t1 = now_s();
        run_once(RUN_MEMCPY, b);
        double t2 = now_s();
        if (t1 - t0 < best)
            best = t1 - t0;
        if (t2 - t1 < best_copy)
            best_copy = t2 - t1;
    }
    *gbs = (double)bytes / best / 1e9;
    *memcpy_gbs = (double)(2 * b->n * sizeof(float)) / best_copy / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : (size_t)32 << 20;
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    if (n == 0 || repeats <= 0) {
        fprintf(stderr, "usage: bench_aggregate [n_floats > 0] [repeats > 0]\n");
        return 2;
    }
    enum { K_MAX = 8 };
    const size_t ks[] = {2, 3, 8};

    float *inputs[K_MAX];
    for (size_t i = 0; i < K_MAX; i++)
        inputs[i] = alloc_filled(n, (unsigned)i);
    float *out = alloc_filled(n, 100);
    float *global = alloc_filled(n, 101);
    float *momentum = calloc(n, sizeof *momentum);
    if (!momentum)
        return 1;

    double w[K_MAX];
    bench_state b = {.n = n,
                     .k = 1,
                     .out = out,
                     .global = global,
                     .momentum = momentum,
                     .x = (const float *const *)inputs,
                     .w = w};
    printf("n = %zu floats (%.0f MiB per array), best of %d, memcpy timed alternately\n", n,
           (double)(n * sizeof(float)) / (1 << 20), repeats);
    printf("%-24s %8s %12s %10s\n", "routine", "GB/s", "memcpy GB/s", "vs memcpy");
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        size_t k = ks[t];
        for (size_t i = 0; i < k; i++)
            w[i] = 1.0 / (double)k;
        b.k = k;
        for (int fused = 0; fused <= 1; fused++) {
            double g, copy;
            measure(fused ? RUN_FUSED : RUN_FEDAVG, &b, (k + 1 + 3 * (size_t)fused) * n * 4,
                    repeats, &g, &copy);
            char name[64];
            snprintf(name, sizeof name, "%s k=%zu", fused ? "fedavg+nesterov" : "fedavg", k);
            printf("%-24s %8.2f %12.2f %10.2f\n", name, g, copy, g / copy);
        }
    }
    for (size_t i = 0; i < K_MAX; i++)
        free(inputs[i]);
    free(out);
    free(global);
    free(momentum);
    return 0;
}
