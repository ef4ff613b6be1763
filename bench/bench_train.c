/* bench_train.c - training throughput of the kernels/ CPU backend, against the machine's
 * sgemm peak and, in the same run and on the same configuration, PyTorch on CPU.
 *
 * For each (preset, B, T, threads) it times full training steps (forward, backward, clip,
 * AdamW) on random tokens and reports tokens/s and achieved GFLOP/s, counting
 * sw_model_flops_per_token_at(cfg, T) per token (6 x matmul parameters + 12 L C T). The sgemm
 * peak is the best of several large OpenBLAS products at the same thread count. With --torch
 * it runs bench/bench_torch.py (/usr/bin/python3, 1 thread) on the same configuration and
 * prints the ratio of tokens/s.
 *
 * Not built by CMake (bench/ has no target); build it against a kernels build:
 *   cmake -S . -B build-kernels && cmake --build build-kernels -j2 --target sw_kernels
 *   cc -O2 -fopenmp -I. bench/bench_train.c build-kernels/kernels/libsw_kernels.a \
 *      -lopenblas -lm -o build-kernels/bench_train
 *   build-kernels/bench_train [--preset P] [--batch B] [--seq T] [--threads K] [--steps N]
 *                             [--torch]
 * It runs with OMP_WAIT_POLICY=passive unless that is set (see main).
 * With no --preset it runs the standard matrix: small and gpt2-124m at B=4 T=64 on 1 and 2
 * threads, small at B=16 T=128 too.
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/cpu_gemm.h"
#include "kernels/model.h"
#include "kernels/optim.h"
#include "kernels/rng.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best GFLOP/s over a few shapes (M x N x K) at the current thread count, of OpenBLAS sgemm
 * (own = 0) or the built-in kernel (own = 1), both as C = A · B^T like a forward layer. */
static double sgemm_peak(int own)
{
    static const int shapes[][3] = {
        {1024, 1024, 1024}, {256, 2304, 768}, {256, 3072, 768}, {768, 768, 256}};
    int was_own = sw_gemm_uses_own();
    sw_gemm_select(own); /* OpenBLAS as training calls it: split across OpenMP threads */
    double best = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = calloc((size_t)M * K, 4), *B = calloc((size_t)N * K, 4),
              *C = calloc((size_t)M * N, 4);
        for (size_t i = 0; i < (size_t)M * K; i++)
            A[i] = (float)(i % 7) * 1e-3f;
        for (size_t i = 0; i < (size_t)N * K; i++)
            B[i] = (float)(i % 5) * 1e-3f;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now_s();
            int iters = 0;
            do {
                sw_gemm(0, 1, M, N, K, A, K, B, K, C, N, 0);
                iters++;
            } while (now_s() - t0 < 0.2);
            double g = 2.0 * M * N * K * iters / (now_s() - t0) / 1e9;
            best = g > best ? g : best;
        }
        free(A), free(B), free(C);
    }
    sw_gemm_select(was_own);
    return best;
}

typedef struct result {
    double tokens_per_s, ms_per_step, gflops;
} result;

static int bench_config(const char *preset, int B, int T, int threads, int steps, result *out)
{
    sw_model_config cfg;
    if (sw_model_preset(preset, &cfg) != SW_K_OK) {
        fprintf(stderr, "bench_train: --preset: unknown '%s'\n", preset);
        return 2;
    }
    sw_backend_cpu_set_threads(threads);
    sw_kerror err;
    sw_model *m = sw_model_create(&cfg, NULL, &err);
    if (!m) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    sw_model_init_params(m, 1);
    sw_adamw opt;
    sw_adamw_config acfg = {1e-4f, 0.9f, 0.95f, 1e-8f, 0.0f};
    if (sw_adamw_init(&opt, sw_model_num_params(m), &acfg, NULL, &err) != SW_K_OK) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    size_t bt = (size_t)B * T;
    int32_t *in = malloc(bt * 4), *tg = malloc(bt * 4);
    sw_rng r;
    sw_rng_seed(&r, 7);
    for (size_t i = 0; i < bt; i++) {
        in[i] = (int32_t)(sw_rng_u64(&r) % (uint64_t)cfg.vocab_size);
        tg[i] = (int32_t)(sw_rng_u64(&r) % (uint64_t)cfg.vocab_size);
    }
    int warm = 2;
    double *times = malloc((size_t)steps * sizeof(double));
    for (int s = 0; s < warm + steps; s++) {
        double t0 = now_s();
        float loss;
        if (sw_model_forward(m, in, tg, B, T, &loss, &err) != SW_K_OK) {
            fprintf(stderr, "bench_train: %s\n", err.msg);
            return 1;
        }
        sw_model_zero_grad(m);
        sw_model_backward(m, &err);
        sw_clip_grad_norm(NULL, sw_model_grads(m), opt.n, 1.0f);
        sw_adamw_step(&opt, sw_model_params(m), sw_model_grads(m), 1e-4f);
        if (s >= warm)
            times[s - warm] = now_s() - t0;
    }
    qsort(times, (size_t)steps, sizeof(double), cmp_double);
    double dt = times[steps / 2]; /* median: robust to other users of the machine */
    out->ms_per_step = dt * 1e3;
    out->tokens_per_s = (double)bt / dt;
    out->gflops = sw_model_flops_per_token_at(&cfg, T) * out->tokens_per_s / 1e9;
    free(times), free(in), free(tg);
    sw_adamw_free(&opt);
    sw_model_destroy(m);
    return 0;
}

/* Runs bench_torch.py on the same configuration; returns its tokens/s or 0 on failure. */
static double torch_tokens_per_s(const char *preset, int B, int T, int steps)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 bench/bench_torch.py --preset %s --batch %d --seq %d --steps %d "
             "--threads 1",
             preset, B, T, steps);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    char line[512];
    double tps = 0;
    while (fgets(line, sizeof line, p)) {
        const char *k = strstr(line, "tokens_per_s=");
        if (k)
            tps = atof(k + strlen("tokens_per_s="));
    }
    pclose(p);
    return tps;
}

int main(int argc, char **argv)
{
    /* libgomp reads its wait policy when the program loads; on a shared 2-core machine the
     * default (spin) made 2 threads several times slower than 1, so re-run ourselves with
     * passive waiting unless the caller chose a policy. */
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    const char *preset = NULL;
    int B = 4, T = 64, threads = 0, steps = 5, torch = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--torch"))
            torch = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--preset"))
            preset = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--batch"))
            B = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--seq"))
            T = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--threads"))
            threads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--steps"))
            steps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_train [--preset P --batch B --seq T --threads K "
                            "--steps N] [--torch]\n");
            return 2;
        }
    }
    if (B < 1 || T < 1 || steps < 1 || threads < 0) {
        fprintf(stderr, "bench_train: --batch, --seq and --steps must be >= 1\n");
        return 2;
    }
    struct {
        const char *preset;
        int B, T, threads;
    } runs[8];
    int nruns = 0;
    if (preset) {
        for (int k = threads ? threads : 1; k <= (threads ? threads : 2); k++)
            runs[nruns++] = (typeof(runs[0])){preset, B, T, k};
    } else {
        const char *ps[2] = {"small", "gpt2-124m"};
        for (int p = 0; p < 2; p++)
            for (int k = 1; k <= 2; k++)
                runs[nruns++] = (typeof(runs[0])){ps[p], 4, 64, k};
        runs[nruns++] = (typeof(runs[0])){"small", 16, 128, 1};
        runs[nruns++] = (typeof(runs[0])){"small", 16, 128, 2};
    }
    double peak[3] = {0, 0, 0};
    int own = sw_gemm_uses_own();
    printf("%-10s %4s %5s %3s %10s %10s %9s %7s %12s %7s\n", "preset", "B", "T", "thr", "tokens/s",
           "ms/step", "GFLOP/s", "%peak", "torch tok/s", "ratio");
    for (int i = 0; i < nruns; i++) {
        int k = runs[i].threads;
        if (k <= 2 && peak[k] == 0) {
            sw_backend_cpu_set_threads(k);
            double blas = sgemm_peak(0), mine = sw_gemm_own_available() ? sgemm_peak(1) : 0;
            peak[k] = blas > mine ? blas : mine;
            printf("# sgemm peak, %d thread%s: OpenBLAS (%s) %.1f GFLOP/s, built-in AVX2 kernel "
                   "%.1f GFLOP/s; training uses %s\n",
                   k, k > 1 ? "s" : "", openblas_get_corename(), blas, mine,
                   own ? "built-in" : "OpenBLAS");
        }
        result r;
        int rc = bench_config(runs[i].preset, runs[i].B, runs[i].T, k, steps, &r);
        if (rc)
            return rc;
        double tt =
            torch && k == 1 ? torch_tokens_per_s(runs[i].preset, runs[i].B, runs[i].T, steps) : 0;
        printf("%-10s %4d %5d %3d %10.1f %10.1f %9.1f %6.0f%% ", runs[i].preset, runs[i].B,
               runs[i].T, k, r.tokens_per_s, r.ms_per_step, r.gflops,
               k <= 2 ? 100.0 * r.gflops / peak[k] : 0.0);
        if (tt > 0)
            printf("%12.1f %7.2f\n", tt, r.tokens_per_s / tt);
        else
            printf("%12s %7s\n", "-", "-");
        fflush(stdout);
    }
    return 0;
}
