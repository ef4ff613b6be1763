/* test_cuda_nccl.c - NCCL over every visible GPU: the bucketed all-reduce averages exactly
 * (values chosen so the mean is exact in fp32), and one data-parallel step over all GPUs
 * equals one single-GPU step over the same sequences. Skips without a GPU or without NCCL.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "kernels/cuda_backend.h"
#include "kernels/cuda_dp.h"
#include "kernels/rng.h"
#include "test_cuda_util.h"

enum { MAX_GPUS = 16, LEN = 3 * 1000 * 1000 + 17, BUCKET = 1 << 20 };

typedef struct rank_arg {
    sw_nccl *comm;
    int rank, n;
    int ok;
} rank_arg;

static void *allreduce_rank(void *p)
{
    rank_arg *a = p;
    char why[256];
    a->ok = 0;
    if (sw_cuda_bind(a->rank, why, sizeof why) != 0) {
        fprintf(stderr, "rank %d: %s\n", a->rank, why);
        return NULL;
    }
    const sw_backend *be = sw_backend_cuda(0, why, sizeof why);
    float *buf = be->alloc(LEN * sizeof(float));
    float *host = malloc(LEN * sizeof(float));
    if (!buf || !host)
        return NULL;
    for (size_t i = 0; i < LEN; i++) /* small integers: sums and the mean are exact */
        host[i] = (float)((a->rank + 1) * (int)(i % 7));
    be->copy_to_device(buf, host, LEN * sizeof(float));
    if (sw_nccl_allreduce_mean(a->comm, a->rank, buf, LEN, BUCKET, why, sizeof why) != 0) {
        fprintf(stderr, "rank %d: %s\n", a->rank, why);
        return NULL;
    }
    be->copy_to_host(host, buf, LEN * sizeof(float));
    float mean_factor = (float)(a->n + 1) / 2.0f; /* mean of 1..n */
    a->ok = 1;
    for (size_t i = 0; i < LEN; i++)
        if (host[i] != mean_factor * (float)(int)(i % 7)) {
            fprintf(stderr, "rank %d: element %zu is %g, expected %g\n", a->rank, i,
                    (double)host[i], (double)(mean_factor * (float)(int)(i % 7)));
            a->ok = 0;
            break;
        }
    be->free(buf);
    free(host);
    return NULL;
}

static void allreduce_all_gpus(int n)
{
    char why[256];
    int devs[MAX_GPUS];
    for (int r = 0; r < n; r++)
        devs[r] = r;
    sw_nccl *comm = sw_nccl_create(devs, n, why, sizeof why);
    if (!comm) {
        printf("SKIP: %s\n", why);
        exit(SW_TEST_SKIP);
    }
    pthread_t th[MAX_GPUS];
    rank_arg args[MAX_GPUS];
    for (int r = 0; r < n; r++) {
        args[r] = (rank_arg){comm, r, n, 0};
        pthread_create(&th[r], NULL, allreduce_rank, &args[r]);
    }
    for (int r = 0; r < n; r++) {
        pthread_join(th[r], NULL);
        CHECK(args[r].ok, "all-reduce on rank %d", r);
    }
    sw_nccl_destroy(comm);
    printf("allreduce: %d GPUs, %d floats in buckets of %d: mean exact\n", n, (int)LEN, BUCKET);
}

/* Data-parallel step over n GPUs (B sequences each) against one GPU over n·B sequences. */
static void dp_matches_single(int n)
{
    sw_model_config cfg;
    sw_model_preset("tiny", &cfg);
    int B = 2, T = 16, gpus[MAX_GPUS];
    for (int r = 0; r < n; r++)
        gpus[r] = r;
    sw_adamw_config acfg = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f};
    sw_kerror err;
    sw_dp *dp = sw_dp_create(&cfg, gpus, n, 0, 3, &acfg, &err);
    sw_dp *one = sw_dp_create(&cfg, gpus, 1, 0, 3, &acfg, &err);
    CHECK(dp && one, "sw_dp_create: %s", err.msg);
    if (!dp || !one)
        return;
    size_t N = (size_t)n * B * T;
    int32_t *in = malloc(N * sizeof(int32_t)), *tg = malloc(N * sizeof(int32_t));
    sw_rng rng;
    sw_rng_seed(&rng, 11);
    for (size_t i = 0; i < N; i++) {
        in[i] = (int32_t)(sw_rng_u64(&rng) % 256);
        tg[i] = (int32_t)(sw_rng_u64(&rng) % 256);
    }
    float l1, l2, g1, g2;
    CHECK(sw_dp_step(dp, in, tg, B, T, 1e-3f, 1.0f, &l1, &g1, &err) == SW_K_OK, "%s", err.msg);
    CHECK(sw_dp_step(one, in, tg, n * B, T, 1e-3f, 1.0f, &l2, &g2, &err) == SW_K_OK, "%s", err.msg);
    size_t np = sw_model_num_params(sw_dp_model(dp, 0));
    float *a = malloc(np * sizeof(float)), *b = malloc(np * sizeof(float));
    const sw_backend *be = cuda_backend_or_skip("cuda");
    /* The averaged (and clipped) gradients: fp32 parity. */
    be->copy_to_host(a, sw_model_grads(sw_dp_model(dp, 0)), np * sizeof(float));
    be->copy_to_host(b, sw_model_grads(sw_dp_model(one, 0)), np * sizeof(float));
    double dg = rel_diff(a, b, np);
    /* The parameters: AdamW's first step moves each by lr * g / (|g| + eps), a step function
     * of g near 0, so a gradient differing in its last bits can move a parameter by up to lr
     * the other way; bound each difference by 2 lr instead of a relative tolerance. */
    be->copy_to_host(a, sw_model_params(sw_dp_model(dp, 0)), np * sizeof(float));
    be->copy_to_host(b, sw_model_params(sw_dp_model(one, 0)), np * sizeof(float));
    double worst = 0.0;
    for (size_t i = 0; i < np; i++)
        worst = fmax(worst, fabs((double)a[i] - b[i]));
    printf("dp: %d GPUs loss %.6f grad norm %.6f; 1 GPU loss %.6f grad norm %.6f; gradients "
           "%.2e, largest parameter difference %.2e\n",
           n, (double)l1, (double)g1, (double)l2, (double)g2, dg, worst);
    CHECK(fabs((double)l1 - l2) < 1e-5 * fabs((double)l2), "loss %.7f vs %.7f", (double)l1,
          (double)l2);
    CHECK(dg < 1e-5, "averaged gradients differ by %.3e", dg);
    CHECK(worst <= 2e-3, "a parameter differs by %.3e after one step (bound 2 lr)", worst);
    for (int r = 1; r < n; r++) { /* replicas stay identical */
        be->copy_to_host(b, sw_model_params(sw_dp_model(dp, r)), np * sizeof(float));
        CHECK(memcmp(a, b, np * sizeof(float)) == 0, "rank %d differs from rank 0", r);
    }
    free(a), free(b), free(in), free(tg);
    sw_dp_destroy(dp);
    sw_dp_destroy(one);
}

int main(void)
{
    cuda_backend_or_skip("cuda");
    char why[256];
    int n = sw_cuda_device_count(why, sizeof why);
    if (n > MAX_GPUS)
        n = MAX_GPUS;
    allreduce_all_gpus(n);
    dp_matches_single(n);
    return test_result("test_cuda_nccl");
}
