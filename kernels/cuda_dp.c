/* cuda_dp.c - data parallelism over the GPUs of one site (see cuda_dp.h). Plain C over the
 * backend table and the NCCL helpers of cuda_backend.h; the arithmetic is the backend's. */
#include "kernels/cuda_dp.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kernels/checkpoint.h"
#include "kernels/data.h"

#ifdef SW_HAVE_CUDA
#include "kernels/cuda_backend.h"

enum { MAX_RANKS = 64 };

struct sw_dp {
    int n, bf16;
    int gpus[MAX_RANKS];
    const sw_backend *be;
    sw_nccl *nccl;
    sw_model *models[MAX_RANKS];
    sw_adamw opts[MAX_RANKS];
    int opt_ready[MAX_RANKS];
};

/* Work of one rank in one parallel phase; the phase function reads what it needs. */
typedef struct rank_job {
    sw_dp *dp;
    int rank;
    int (*fn)(struct rank_job *);
    /* step inputs */
    const int32_t *inputs, *targets;
    int B, T;
    float lr, clip;
    uint64_t seed;
    const sw_model_config *cfg;
    const sw_adamw_config *adamw;
    /* outputs */
    float loss, gnorm;
    int rc;
    sw_kerror err;
} rank_job;

static void *rank_main(void *arg)
{
    rank_job *j = arg;
    char why[256];
    if (sw_cuda_bind(j->dp->gpus[j->rank], why, sizeof why) != 0) {
        j->rc = sw_kerrorf(&j->err, SW_K_ERUNTIME, "rank %d: %s", j->rank, why);
        return NULL;
    }
    j->rc = j->fn(j);
    return NULL;
}

/* Runs fn on every rank, one thread each; the first failure is copied into err. */
static int run_ranks(sw_dp *dp, rank_job *jobs, int (*fn)(rank_job *), sw_kerror *err)
{
    pthread_t th[MAX_RANKS];
    int started[MAX_RANKS] = {0};
    for (int r = 0; r < dp->n; r++) {
        jobs[r].dp = dp;
        jobs[r].rank = r;
        jobs[r].fn = fn;
        jobs[r].rc = SW_K_OK;
        sw_kerror_clear(&jobs[r].err);
        started[r] = pthread_create(&th[r], NULL, rank_main, &jobs[r]) == 0;
        if (!started[r])
            jobs[r].rc = sw_kerrorf(&jobs[r].err, SW_K_ERUNTIME, "rank %d: no thread", r);
    }
    int rc = SW_K_OK;
    for (int r = 0; r < dp->n; r++) {
        if (started[r])
            pthread_join(th[r], NULL);
        if (jobs[r].rc != SW_K_OK && rc == SW_K_OK) {
            rc = jobs[r].rc;
            if (err)
                *err = jobs[r].err;
        }
    }
    return rc;
}

static int job_create(rank_job *j)
{
    sw_dp *dp = j->dp;
    int r = j->rank;
    dp->models[r] = sw_model_create(j->cfg, dp->be, &j->err);
    if (!dp->models[r])
        return j->err.code ? j->err.code : SW_K_ERUNTIME;
    sw_model_init_params(dp->models[r], j->seed);
    int rc =
        sw_adamw_init(&dp->opts[r], sw_model_num_params(dp->models[r]), j->adamw, dp->be, &j->err);
    dp->opt_ready[r] = rc == SW_K_OK;
    return rc;
}

sw_dp *sw_dp_create(const sw_model_config *cfg, const int *gpus, int n, int bf16, uint64_t seed,
                    const sw_adamw_config *adamw, sw_kerror *err)
{
    char why[256];
    if (n < 1 || n > MAX_RANKS) {
        sw_kerrorf(err, SW_K_EINPUT, "--gpus: between 1 and %d GPUs, got %d", MAX_RANKS, n);
        return NULL;
    }
    int count = sw_cuda_device_count(why, sizeof why);
    if (count == 0) {
        sw_kerrorf(err, SW_K_ERUNTIME, "--gpus: %s", why);
        return NULL;
    }
    for (int r = 0; r < n; r++) {
        if (gpus[r] < 0 || gpus[r] >= count) {
            sw_kerrorf(err, SW_K_EINPUT, "--gpus: GPU %d does not exist (%d visible)", gpus[r],
                       count);
            return NULL;
        }
        for (int s = 0; s < r; s++)
            if (gpus[s] == gpus[r]) {
                sw_kerrorf(err, SW_K_EINPUT, "--gpus: GPU %d named twice", gpus[r]);
                return NULL;
            }
    }
    sw_dp *dp = calloc(1, sizeof *dp);
    if (!dp) {
        sw_kerrorf(err, SW_K_ERUNTIME, "out of memory");
        return NULL;
    }
    dp->n = n;
    dp->bf16 = bf16;
    memcpy(dp->gpus, gpus, (size_t)n * sizeof(int));
    if (sw_cuda_bind(gpus[0], why, sizeof why) != 0 ||
        !(dp->be = sw_backend_cuda(bf16, why, sizeof why))) {
        sw_kerrorf(err, SW_K_ERUNTIME, "%s", why);
        free(dp);
        return NULL;
    }
    if (n > 1 && !(dp->nccl = sw_nccl_create(gpus, n, why, sizeof why))) {
        sw_kerrorf(err, SW_K_ERUNTIME, "%s", why);
        free(dp);
        return NULL;
    }
    rank_job jobs[MAX_RANKS];
    memset(jobs, 0, sizeof jobs);
    for (int r = 0; r < n; r++) {
        jobs[r].cfg = cfg;
        jobs[r].seed = seed;
        jobs[r].adamw = adamw;
    }
    if (run_ranks(dp, jobs, job_create, err) != SW_K_OK) {
        sw_dp_destroy(dp);
        return NULL;
    }
    return dp;
}

static int job_destroy(rank_job *j)
{
    sw_dp *dp = j->dp;
    if (dp->opt_ready[j->rank])
        sw_adamw_free(&dp->opts[j->rank]);
    sw_model_destroy(dp->models[j->rank]);
    return SW_K_OK;
}

void sw_dp_destroy(sw_dp *dp)
{
    if (!dp)
        return;
    rank_job jobs[MAX_RANKS];
    memset(jobs, 0, sizeof jobs);
    run_ranks(dp, jobs, job_destroy, NULL);
    sw_nccl_destroy(dp->nccl);
    free(dp);
}

int sw_dp_size(const sw_dp *dp)
{
    return dp->n;
}

sw_model *sw_dp_model(sw_dp *dp, int rank)
{
    return dp->models[rank];
}

sw_adamw *sw_dp_optimizer(sw_dp *dp, int rank)
{
    return &dp->opts[rank];
}

static int job_step(rank_job *j)
{
    sw_dp *dp = j->dp;
    int r = j->rank, rc;
    sw_model *m = dp->models[r];
    size_t off = (size_t)r * j->B * j->T, n = sw_model_num_params(m);
    if ((rc = sw_model_forward(m, j->inputs + off, j->targets + off, j->B, j->T, &j->loss,
                               &j->err)) != SW_K_OK)
        return rc;
    sw_model_zero_grad(m);
    if ((rc = sw_model_backward(m, &j->err)) != SW_K_OK)
        return rc;
    if (dp->nccl) {
        char why[256];
        if (sw_nccl_allreduce_mean(dp->nccl, r, sw_model_grads(m), n, 0, why, sizeof why) != 0)
            return sw_kerrorf(&j->err, SW_K_ERUNTIME, "%s", why);
    }
    /* Equal averaged gradients on every rank: the same norm, the same update. */
    j->gnorm = sw_clip_grad_norm(dp->be, sw_model_grads(m), n, j->clip);
    sw_adamw_step(&dp->opts[r], sw_model_params(m), sw_model_grads(m), j->lr);
    return SW_K_OK;
}

int sw_dp_step(sw_dp *dp, const int32_t *inputs, const int32_t *targets, int B, int T, float lr,
               float grad_clip, float *loss, float *grad_norm, sw_kerror *err)
{
    rank_job jobs[MAX_RANKS];
    memset(jobs, 0, sizeof jobs);
    for (int r = 0; r < dp->n; r++) {
        jobs[r].inputs = inputs;
        jobs[r].targets = targets;
        jobs[r].B = B;
        jobs[r].T = T;
        jobs[r].lr = lr;
        jobs[r].clip = grad_clip;
    }
    int rc = run_ranks(dp, jobs, job_step, err);
    if (rc != SW_K_OK)
        return rc;
    double sum = 0.0;
    for (int r = 0; r < dp->n; r++)
        sum += jobs[r].loss;
    if (loss)
        *loss = (float)(sum / dp->n);
    if (grad_norm)
        *grad_norm = jobs[0].gnorm;
    return SW_K_OK;
}

static int job_broadcast(rank_job *j)
{
    sw_dp *dp = j->dp;
    int r = j->rank;
    if (r == 0)
        return SW_K_OK;
    size_t bytes = sw_model_num_params(dp->models[0]) * sizeof(float);
    /* cudaMemcpyDefault under the table's copy: peer or staged, whichever the GPUs allow. */
    dp->be->copy(sw_model_params(dp->models[r]), sw_model_params(dp->models[0]), bytes);
    dp->be->copy(dp->opts[r].m, dp->opts[0].m, bytes);
    dp->be->copy(dp->opts[r].v, dp->opts[0].v, bytes);
    dp->opts[r].t = dp->opts[0].t;
    return SW_K_OK;
}

int sw_dp_broadcast(sw_dp *dp, sw_kerror *err)
{
    rank_job jobs[MAX_RANKS];
    memset(jobs, 0, sizeof jobs);
    return run_ranks(dp, jobs, job_broadcast, err);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int sw_dp_train(const sw_train_options *o, const int *gpus, int n, int bf16, sw_train_result *res,
                sw_kerror *err)
{
    if (o->log_path || o->stop_at_step > 0)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "--gpus: --log and --stop-at are not implemented with --gpus yet");
    memset(res, 0, sizeof *res);
    int B = o->batch, T = o->seq_len, rc;
    size_t bt = (size_t)n * B * T;
    sw_text text = {0};
    sw_span train, val;
    sw_loader ld;
    sw_dp *dp = NULL;
    int32_t *in = NULL, *tg = NULL;
    sw_train_state st = {0, 0, 0};
    char ckpt[4096] = "";
    if ((rc = sw_text_load(o->data_path, &text, err)) != SW_K_OK)
        goto out;
    sw_split_train_val(text.n, &train, &val);
    if ((rc = sw_loader_init(&ld, text.bytes, train, n * B, T, err)) != SW_K_OK)
        goto out;
    sw_adamw_config acfg = {o->lr, o->beta1, o->beta2, o->eps, o->weight_decay};
    if (!(dp = sw_dp_create(&o->model, gpus, n, bf16, o->seed, &acfg, err))) {
        rc = err && err->code ? err->code : SW_K_ERUNTIME;
        goto out;
    }
    in = malloc(bt * sizeof(int32_t));
    tg = malloc(bt * sizeof(int32_t));
    if (!in || !tg) {
        rc = sw_kerrorf(err, SW_K_ERUNTIME, "out of memory for a batch of %zu tokens", bt);
        goto out;
    }
    if (o->checkpoint_dir) {
        mkdir(o->checkpoint_dir, 0755);
        snprintf(ckpt, sizeof ckpt, "%s/latest.ckpt", o->checkpoint_dir);
        struct stat sb;
        if (stat(ckpt, &sb) == 0) {
            if ((rc = sw_checkpoint_load(ckpt, sw_dp_model(dp, 0), sw_dp_optimizer(dp, 0), &st,
                                         err)) != SW_K_OK ||
                (rc = sw_loader_seek(&ld, (size_t)st.data_pos, err)) != SW_K_OK ||
                (rc = sw_dp_broadcast(dp, err)) != SW_K_OK)
                goto out;
            if (o->progress)
                fprintf(o->progress, "resuming from %s at step %lld\n", ckpt, (long long)st.step);
        }
    }
    res->start_step = st.step;
    sw_lr_schedule sched = {o->steps, o->warmup_steps, o->warmdown_frac, o->final_lr_frac};
    float loss = 0.0f, gnorm = 0.0f;
    double t_train = 0.0;
    for (int64_t step = st.step; step < o->steps; step++) {
        double t0 = now_s();
        sw_loader_next(&ld, in, tg);
        float lr = o->lr * sw_lr_multiplier(&sched, step);
        if ((rc = sw_dp_step(dp, in, tg, B, T, lr, o->grad_clip, &loss, &gnorm, err)) != SW_K_OK)
            goto out;
        double dt = now_s() - t0;
        t_train += dt;
        st.step = step + 1;
        st.tokens_seen += bt;
        st.data_pos = ld.pos;
        if (!isfinite(loss)) {
            rc = sw_kerrorf(err, SW_K_ERUNTIME, "step %lld: loss is %g (diverged; lower --lr)",
                            (long long)step, (double)loss);
            goto out;
        }
        if (o->progress && (st.step == o->steps || st.step % o->print_every == 0))
            fprintf(o->progress,
                    "step %6lld/%lld | loss %.4f | bpb %.4f | lr %.2e | grad norm %.3f | %d GPUs "
                    "| %.0f tok/s\n",
                    (long long)st.step, (long long)o->steps, (double)loss,
                    (double)sw_bits_per_byte(loss), (double)lr, (double)gnorm, n, (double)bt / dt);
    }
    float val_loss = NAN;
    if ((rc = sw_evaluate(sw_dp_model(dp, 0), text.bytes, val, B, T, o->eval_batches, &val_loss,
                          err)) != SW_K_OK)
        goto out;
    if (ckpt[0] && (rc = sw_checkpoint_save(ckpt, sw_dp_model(dp, 0), sw_dp_optimizer(dp, 0), &st,
                                            err)) != SW_K_OK)
        goto out;
    res->steps_done = st.step;
    res->last_loss = loss;
    res->val_loss = val_loss;
    res->val_bpb = sw_bits_per_byte(val_loss);
    res->train_s = t_train;
    res->tokens_per_s =
        t_train > 0 ? (double)(st.step - res->start_step) * (double)bt / t_train : 0.0;
out:
    free(in);
    free(tg);
    sw_dp_destroy(dp);
    sw_text_free(&text);
    return rc;
}

#else /* built without CUDA */

struct sw_dp {
    int n;
};

sw_dp *sw_dp_create(const sw_model_config *cfg, const int *gpus, int n, int bf16, uint64_t seed,
                    const sw_adamw_config *adamw, sw_kerror *err)
{
    (void)cfg, (void)gpus, (void)n, (void)bf16, (void)seed, (void)adamw;
    sw_kerrorf(err, SW_K_EINPUT, "--gpus: built without CUDA");
    return NULL;
}

void sw_dp_destroy(sw_dp *dp)
{
    (void)dp;
}

int sw_dp_size(const sw_dp *dp)
{
    return dp ? dp->n : 0;
}

sw_model *sw_dp_model(sw_dp *dp, int rank)
{
    (void)dp, (void)rank;
    return NULL;
}

sw_adamw *sw_dp_optimizer(sw_dp *dp, int rank)
{
    (void)dp, (void)rank;
    return NULL;
}

int sw_dp_step(sw_dp *dp, const int32_t *inputs, const int32_t *targets, int B, int T, float lr,
               float grad_clip, float *loss, float *grad_norm, sw_kerror *err)
{
    (void)dp, (void)inputs, (void)targets, (void)B, (void)T, (void)lr, (void)grad_clip;
    (void)loss, (void)grad_norm;
    return sw_kerrorf(err, SW_K_EINPUT, "--gpus: built without CUDA");
}

int sw_dp_broadcast(sw_dp *dp, sw_kerror *err)
{
    (void)dp;
    return sw_kerrorf(err, SW_K_EINPUT, "--gpus: built without CUDA");
}

int sw_dp_train(const sw_train_options *o, const int *gpus, int n, int bf16, sw_train_result *res,
                sw_kerror *err)
{
    (void)o, (void)gpus, (void)n, (void)bf16, (void)res;
    return sw_kerrorf(err, SW_K_EINPUT, "--gpus: built without CUDA");
}

#endif
