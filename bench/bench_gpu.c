/* bench_gpu.c - training throughput of the CUDA backend on one GPU: tokens/s of whole
 * optimizer steps (forward, backward, clipping, AdamW) and MFU against the bf16 matrix rate
 * measured in the same process (bench_gpu_gemm.cu). Built by bench/gpu_check.sh.
 *
 *   bench_gpu [--preset nanochat-d20] [--batch 8] [--seq 2048] [--steps 6] [--warmup 2]
 *             [--backend cuda-bf16]
 *
 * Prints one line `gpu tokens_per_s=X ms_per_step=Y tflops=Z mfu=W gemm_tflops=G ...`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/model.h"
#include "kernels/optim.h"
#include "kernels/rng.h"

double sw_bench_bf16_gemm_tflops(int n, int reps);
double sw_bench_gpu_mem_used_gb(void);

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

int main(int argc, char **argv)
{
    const char *preset = "nanochat-d20", *backend = "cuda-bf16";
    int B = 8, T = 2048, steps = 6, warmup = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--preset"))
            preset = argv[i + 1];
        else if (!strcmp(argv[i], "--backend"))
            backend = argv[i + 1];
        else if (!strcmp(argv[i], "--batch"))
            B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seq"))
            T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup"))
            warmup = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_gpu: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (steps < 1 || steps > 1000 || B < 1 || T < 1) {
        fprintf(stderr, "bench_gpu: bad sizes\n");
        return 2;
    }
    char why[256];
    const sw_backend *be = sw_backend_by_name(backend, why, sizeof why);
    if (!be) {
        printf("SKIP: %s\n", why);
        return 77;
    }
    double peak = sw_bench_bf16_gemm_tflops(8192, 10);
    printf("bf16 GEMM 8192^3 (cuBLAS, this run): %.1f TFLOP/s\n", peak);
    sw_model_config cfg;
    if (sw_model_preset(preset, &cfg) != SW_K_OK || T > cfg.max_seq_len) {
        fprintf(stderr, "bench_gpu: unknown preset %s or --seq above its context\n", preset);
        return 2;
    }
    sw_kerror err;
    sw_model *m = sw_model_create(&cfg, be, &err);
    if (!m) {
        fprintf(stderr, "bench_gpu: %s\n", err.msg);
        return 1;
    }
    sw_model_init_params(m, 1);
    sw_adamw opt;
    sw_adamw_config acfg = {3e-4f, 0.9f, 0.95f, 1e-8f, 0.0f};
    if (sw_adamw_init(&opt, sw_model_num_params(m), &acfg, be, &err) != SW_K_OK) {
        fprintf(stderr, "bench_gpu: %s\n", err.msg);
        return 1;
    }
    size_t N = (size_t)B * T;
    int32_t *in = malloc(N * sizeof(int32_t)), *tg = malloc(N * sizeof(int32_t));
    double *dt = malloc((size_t)steps * sizeof(double));
    sw_rng rng;
    sw_rng_seed(&rng, 3);
    for (size_t i = 0; i < N; i++) {
        in[i] = (int32_t)(sw_rng_u64(&rng) % (uint64_t)cfg.vocab_size);
        tg[i] = (int32_t)(sw_rng_u64(&rng) % (uint64_t)cfg.vocab_size);
    }
    float loss = 0.0f;
    for (int s = 0; s < warmup + steps; s++) {
        double t0 = now_s();
        if (sw_model_forward(m, in, tg, B, T, &loss, &err) != SW_K_OK) {
            fprintf(stderr, "bench_gpu: %s\n", err.msg);
            return 1;
        }
        sw_model_zero_grad(m);
        if (sw_model_backward(m, &err) != SW_K_OK) {
            fprintf(stderr, "bench_gpu: %s\n", err.msg);
            return 1;
        }
        sw_clip_grad_norm(be, sw_model_grads(m), sw_model_num_params(m), 1.0f);
        sw_adamw_step(&opt, sw_model_params(m), sw_model_grads(m), 3e-4f);
        be->synchronize();
        double d = now_s() - t0;
        printf("step %d: %.1f ms, loss %.4f%s\n", s, d * 1e3, (double)loss,
               s < warmup ? " (warm-up)" : "");
        fflush(stdout);
        if (s >= warmup)
            dt[s - warmup] = d;
    }
    qsort(dt, (size_t)steps, sizeof(double), cmp_double);
    double med = dt[steps / 2], tps = (double)N / med;
    double fpt = sw_model_flops_per_token_at(&cfg, T), tflops = tps * fpt / 1e12;
    printf("gpu preset=%s backend=%s B=%d T=%d tokens_per_s=%.0f ms_per_step=%.1f "
           "flops_per_token=%.4g tflops=%.1f gemm_tflops=%.1f mfu=%.3f mem_gb=%.1f\n",
           preset, backend, B, T, tps, med * 1e3, fpt, tflops, peak, peak > 0 ? tflops / peak : 0.0,
           sw_bench_gpu_mem_used_gb());
    free(in), free(tg), free(dt);
    sw_adamw_free(&opt);
    sw_model_destroy(m);
    return 0;
}
