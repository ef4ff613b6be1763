/* train.c - the single-site training loop (see train.h). */
#include "kernels/train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kernels/checkpoint.h"
#include "kernels/optim.h"

void sw_train_options_default(sw_train_options *o)
{
    memset(o, 0, sizeof *o);
    sw_model_preset("small", &o->model);
    o->steps = 100;
    o->batch = 16;
    o->seq_len = 128;
    o->threads = 1;
    o->lr = 3e-3f;
    o->beta1 = 0.9f;
    o->beta2 = 0.95f;
    o->eps = 1e-8f;
    o->weight_decay = 0.0f;
    o->grad_clip = 1.0f;
    o->warmup_steps = 0;
    o->warmdown_frac = 0.4f;
    o->final_lr_frac = 0.0f;
    o->seed = 1337;
    o->eval_every = 100;
    o->eval_batches = 20;
    o->print_every = 10;
    o->checkpoint_every = 0;
    sw_muon_config_default(&o->muon_cfg, &o->model);
}

float sw_bits_per_byte(float loss_nats)
{
    return (float)(loss_nats / 0.69314718055994530942); /* ln 2 (M_LN2 is not C11) */
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int sw_evaluate(sw_model *m, const uint8_t *tokens, sw_span span, int B, int T, int max_batches,
                float *loss, sw_kerror *err)
{
    sw_loader ld;
    int rc = sw_loader_init(&ld, tokens, span, B, T, err);
    if (rc != SW_K_OK)
        return rc;
    size_t bt = (size_t)B * T;
    int available = (int)((span.end - span.begin - 1) / bt);
    int nb = max_batches < available ? max_batches : available;
    if (nb < 1)
        nb = 1;
    int32_t *in = malloc(bt * sizeof(int32_t)), *tg = malloc(bt * sizeof(int32_t));
    if (!in || !tg) {
        free(in);
        free(tg);
        return sw_kerrorf(err, SW_K_ERUNTIME, "evaluate: out of memory");
    }
    double total = 0.0;
    for (int i = 0; i < nb && rc == SW_K_OK; i++) {
        float l = 0.0f;
        sw_loader_next(&ld, in, tg);
        rc = sw_model_forward(m, in, tg, B, T, &l, err);
        total += l;
    }
    free(in);
    free(tg);
    if (rc == SW_K_OK)
        *loss = (float)(total / nb);
    return rc;
}

static int check_options(const sw_train_options *o, sw_kerror *err)
{
    if (!o->data_path)
        return sw_kerrorf(err, SW_K_EINPUT, "--data: a text file is required");
    if (o->steps < 1)
        return sw_kerrorf(err, SW_K_EINPUT, "--steps: must be >= 1, got %lld", (long long)o->steps);
    if (o->batch < 1)
        return sw_kerrorf(err, SW_K_EINPUT, "--batch: must be >= 1, got %d", o->batch);
    if (o->seq_len < 1 || o->seq_len > o->model.max_seq_len)
        return sw_kerrorf(err, SW_K_EINPUT, "--seq: must be in [1, %d] for preset %s, got %d",
                          o->model.max_seq_len, o->model.name, o->seq_len);
    if (o->model.vocab_size < 256)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "--preset: %s has a vocabulary of %d, the byte tokenizer needs 256",
                          o->model.name, o->model.vocab_size);
    if (o->threads < 1)
        return sw_kerrorf(err, SW_K_EINPUT, "--threads: must be >= 1, got %d", o->threads);
    if (!(o->lr > 0.0f) || !(o->lr < 10.0f))
        return sw_kerrorf(err, SW_K_EINPUT, "--lr: must be in (0, 10), got %g", (double)o->lr);
    if (!(o->warmdown_frac >= 0.0f && o->warmdown_frac <= 1.0f))
        return sw_kerrorf(err, SW_K_EINPUT, "--warmdown: must be in [0, 1], got %g",
                          (double)o->warmdown_frac);
    if (o->warmup_steps < 0 || o->eval_every < 0 || o->checkpoint_every < 0 ||
        o->stop_at_step < 0 || o->eval_batches < 1 || o->print_every < 1)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "--warmup/--eval-every/--checkpoint-every/--stop-at must be >= 0 and "
                          "--eval-batches/--print-every >= 1");
    return sw_model_config_check(&o->model, err);
}

/* Everything a run allocates, released in one place. */
typedef struct run {
    sw_text text;
    sw_model *model;
    sw_adamw opt;
    sw_muon muon;
    int32_t *in, *tg;
    FILE *log;
    char *ckpt_path;
} run;

static void run_free(run *r)
{
    sw_text_free(&r->text);
    sw_model_destroy(r->model);
    sw_muon_free(&r->muon);
    sw_adamw_free(&r->opt);
    free(r->in);
    free(r->tg);
    if (r->log)
        fclose(r->log);
    free(r->ckpt_path);
}

static int open_checkpoint_dir(const sw_train_options *o, run *r, sw_kerror *err)
{
    if (mkdir(o->checkpoint_dir, 0777) != 0 && errno != EEXIST)
        return sw_kerrorf(err, SW_K_EINPUT, "--checkpoint %s: cannot create directory: %s",
                          o->checkpoint_dir, strerror(errno));
    struct stat sb;
    if (stat(o->checkpoint_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return sw_kerrorf(err, SW_K_EINPUT, "--checkpoint %s: not a directory", o->checkpoint_dir);
    size_t len = strlen(o->checkpoint_dir) + sizeof "/latest.ckpt";
    r->ckpt_path = malloc(len);
    if (!r->ckpt_path)
        return sw_kerrorf(err, SW_K_ERUNTIME, "out of memory");
    snprintf(r->ckpt_path, len, "%s/latest.ckpt", o->checkpoint_dir);
    return SW_K_OK;
}

int sw_train_run(const sw_train_options *o, sw_train_result *res, sw_kerror *err)
{
    int rc = check_options(o, err);
    if (rc != SW_K_OK)
        return rc;
    sw_backend_cpu_set_threads(o->threads);
    run r;
    memset(&r, 0, sizeof r);
    memset(res, 0, sizeof *res);
    sw_span train, val;
    sw_loader ld;
    int B = o->batch, T = o->seq_len;
    size_t bt = (size_t)B * T;
    sw_train_state st = {0, 0, 0};

    if ((rc = sw_text_load(o->data_path, &r.text, err)) != SW_K_OK)
        goto out;
    sw_split_train_val(r.text.n, &train, &val);
    if ((rc = sw_loader_init(&ld, r.text.bytes, train, B, T, err)) != SW_K_OK ||
        val.end - val.begin < bt + 1) {
        rc = sw_kerrorf(err, SW_K_EINPUT,
                        "%s: %zu bytes is too short for batches of %d x %d (the 10 %% "
                        "validation split needs %zu bytes)",
                        o->data_path, r.text.n, B, T, bt + 1);
        goto out;
    }
    char why[256];
    const sw_backend *be = sw_backend_by_name(o->backend ? o->backend : "cpu", why, sizeof why);
    if (!be) {
        rc = sw_kerrorf(err, SW_K_EINPUT, "--backend: %s", why);
        goto out;
    }
    if (!(r.model = sw_model_create(&o->model, be, err))) {
        rc = err ? err->code : SW_K_ERUNTIME;
        goto out;
    }
    sw_model_init_params(r.model, o->seed);
    sw_adamw_config acfg = {o->lr, o->beta1, o->beta2, o->eps, o->weight_decay};
    if ((rc = sw_adamw_init(&r.opt, sw_model_num_params(r.model), &acfg, be, err)) != SW_K_OK)
        goto out;
    if (o->muon &&
        (rc = sw_muon_init(&r.muon, &o->model, &o->muon_cfg, &r.opt, be, err)) != SW_K_OK)
        goto out;
    r.in = malloc(bt * sizeof(int32_t));
    r.tg = malloc(bt * sizeof(int32_t));
    if (!r.in || !r.tg) {
        rc = sw_kerrorf(err, SW_K_ERUNTIME, "out of memory for a batch of %d x %d", B, T);
        goto out;
    }
    if (o->checkpoint_dir) {
        if ((rc = open_checkpoint_dir(o, &r, err)) != SW_K_OK)
            goto out;
        struct stat sb;
        if (stat(r.ckpt_path, &sb) == 0) {
            if ((rc = sw_checkpoint_load(r.ckpt_path, r.model, &r.opt, &st, err)) != SW_K_OK ||
                (rc = sw_loader_seek(&ld, (size_t)st.data_pos, err)) != SW_K_OK)
                goto out;
            if (o->progress)
                fprintf(o->progress, "resuming from %s at step %lld\n", r.ckpt_path,
                        (long long)st.step);
        }
    }
    res->start_step = st.step;
    if (o->log_path) {
        struct stat sb;
        int fresh = st.step == 0 || stat(o->log_path, &sb) != 0;
        r.log = fopen(o->log_path, fresh ? "w" : "a");
        if (!r.log) {
            rc = sw_kerrorf(err, SW_K_EINPUT, "--log %s: cannot open: %s", o->log_path,
                            strerror(errno));
            goto out;
        }
        if (fresh)
            fprintf(r.log, "step,tokens,loss,bpb,ppl,lr,grad_norm,val_loss,val_bpb,tokens_per_s,"
                           "elapsed_s\n");
    }

    sw_lr_schedule sched = {o->steps, o->warmup_steps, o->warmdown_frac, o->final_lr_frac};
    double t_train = 0.0, t_start = now_s();
    float loss = 0.0f, val_loss = NAN;
    int64_t end = o->stop_at_step > 0 && o->stop_at_step < o->steps ? o->stop_at_step : o->steps;
    for (int64_t step = st.step; step < end; step++) {
        double t0 = now_s();
        sw_loader_next(&ld, r.in, r.tg);
        if ((rc = sw_model_forward(r.model, r.in, r.tg, B, T, &loss, err)) != SW_K_OK)
            goto out;
        sw_model_zero_grad(r.model);
        if ((rc = sw_model_backward(r.model, err)) != SW_K_OK)
            goto out;
        float gnorm = sw_clip_grad_norm(be, sw_model_grads(r.model), r.opt.n, o->grad_clip);
        float lr_mult = sw_lr_multiplier(&sched, step);
        float lr = (o->muon ? o->muon_cfg.matrix_lr : o->lr) * lr_mult;
        if (o->muon)
            sw_muon_step(&r.muon, &r.opt, sw_model_params(r.model), sw_model_grads(r.model),
                         lr_mult, step, o->steps);
        else
            sw_adamw_step(&r.opt, sw_model_params(r.model), sw_model_grads(r.model), lr);
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
        int last = st.step == end;
        int do_eval = last || (o->eval_every > 0 && st.step % o->eval_every == 0);
        val_loss = NAN;
        if (do_eval && (rc = sw_evaluate(r.model, r.text.bytes, val, B, T, o->eval_batches,
                                         &val_loss, err)) != SW_K_OK)
            goto out;
        double tps = (double)bt / dt;
        if (o->progress && (last || st.step % o->print_every == 0 || do_eval)) {
            fprintf(o->progress,
                    "step %6lld/%lld | loss %.4f | bpb %.4f | ppl %8.3f | lr %.2e | %.0f tok/s",
                    (long long)st.step, (long long)o->steps, (double)loss,
                    (double)sw_bits_per_byte(loss), exp((double)loss), (double)lr, tps);
            if (do_eval)
                fprintf(o->progress, " | val loss %.4f bpb %.4f", (double)val_loss,
                        (double)sw_bits_per_byte(val_loss));
            fputc('\n', o->progress);
            fflush(o->progress);
        }
        if (r.log) {
            fprintf(r.log, "%lld,%llu,%.6f,%.6f,%.6f,%.6e,%.6f,", (long long)st.step,
                    (unsigned long long)st.tokens_seen, (double)loss,
                    (double)sw_bits_per_byte(loss), exp((double)loss), (double)lr, (double)gnorm);
            if (do_eval)
                fprintf(r.log, "%.6f,%.6f", (double)val_loss, (double)sw_bits_per_byte(val_loss));
            else
                fputc(',', r.log);
            fprintf(r.log, ",%.1f,%.3f\n", tps, now_s() - t_start);
        }
        int do_ckpt = r.ckpt_path &&
                      (last || (o->checkpoint_every > 0 && st.step % o->checkpoint_every == 0));
        if (do_ckpt && (rc = sw_checkpoint_save(r.ckpt_path, r.model, &r.opt, &st, err)) != SW_K_OK)
            goto out;
    }
    if (isnan(val_loss)) /* resumed at or past the last step: still report validation */
        if ((rc = sw_evaluate(r.model, r.text.bytes, val, B, T, o->eval_batches, &val_loss, err)) !=
            SW_K_OK)
            goto out;
    res->steps_done = st.step;
    res->last_loss = loss;
    res->val_loss = val_loss;
    res->val_bpb = sw_bits_per_byte(val_loss);
    res->train_s = t_train;
    res->tokens_per_s =
        t_train > 0 ? (double)(st.step - res->start_step) * (double)bt / t_train : 0.0;
    if (r.log && fflush(r.log) != 0)
        rc = sw_kerrorf(err, SW_K_ERUNTIME, "--log %s: write failed", o->log_path);
out:
    run_free(&r);
    return rc;
}
