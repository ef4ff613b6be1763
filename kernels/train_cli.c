/* train_cli.c - argument parsing and printing for `spillway train` (see train_cli.h). */
#include "kernels/train_cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas_info.h"
#include "kernels/cuda_dp.h"
#include "kernels/train.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spillway train --data FILE --steps N [options]\n"
            "\n"
            "Train a decoder-only transformer on a text file (byte tokens, first 90%% train,\n"
            "last 10%% validation) on this machine's CPU, printing step, loss, bits per byte,\n"
            "perplexity and tokens/s.\n"
            "\n"
            "options:\n"
            "  --preset NAME          tiny | small | gpt2-124m | nanochat-d20 (default small)\n"
            "  --data FILE            training text (required)\n"
            "  --steps N              optimizer steps (required)\n"
            "  --batch B              sequences per step (default 16)\n"
            "  --seq T                tokens per sequence (default 128, at most the context)\n"
            "  --threads K            CPU threads (default 1)\n"
            "  --backend NAME         cpu (default), or cuda where built with CUDA and a GPU\n"
            "                         is visible\n"
            "  --optimizer NAME       adamw (default: AdamW on every tensor) or muon (nanochat:\n"
            "                         Muon for the block matrices, AdamW for embedding and\n"
            "                         lm_head, momentum 0.85 -> 0.95 over 300 steps, weight decay\n"
            "                         linear to 0; docs/kernels.md)\n"
            "  --lr X                 AdamW peak learning rate (default 3e-3)\n"
            "  --weight-decay X       adamw: decoupled weight decay (default 0); muon: Muon's\n"
            "                         cautious decay at step 0 (default 0.2 * (12/layers)^2)\n"
            "  --matrix-lr X          muon: Muon peak rate (default 0.02)\n"
            "  --embedding-lr X       muon: AdamW peak rate of wte (default 0.3, times\n"
            "                         (width/768)^-1/2)\n"
            "  --unembedding-lr X     muon: AdamW peak rate of lm_head and of a tied wte\n"
            "                         (default 0.004, times (width/768)^-1/2)\n"
            "  --clip X               max gradient norm, 0 = off (default 1)\n"
            "  --warmup N             warm-up steps (default 0)\n"
            "  --warmdown F           final fraction of steps with linear LR decay (default 0.4)\n"
            "  --seed N               initialisation seed (default 1337)\n"
            "  --eval-every N         validate every N steps, 0 = only at the end (default 100)\n"
            "  --eval-batches N       validation batches (default 20)\n"
            "  --print-every N        progress line every N steps (default 10)\n"
            "  --checkpoint DIR       save DIR/latest.ckpt at the end (resumed if present)\n"
            "  --checkpoint-every N   also save every N steps\n"
            "  --stop-at N            stop after step N (the schedule still spans --steps);\n"
            "                         rerun with the same --checkpoint to resume\n"
            "  --log FILE             CSV loss log: step,tokens,loss,bpb,ppl,lr,grad_norm,\n"
            "                         val_loss,val_bpb,tokens_per_s,elapsed_s\n"
            "  --info                 print the compute set-up (the BLAS cblas_sgemm binds to,\n"
            "                         OpenBLAS's configuration and core, CPU extensions), exit\n"
            "  --gpus LIST            data-parallel on these CUDA GPUs (e.g. 0,1,2,3), --batch\n"
            "                         sequences each, gradients averaged with NCCL\n"
            "  -h, --help             this text\n"
            "\n"
            "Exit status: 0 success, 1 runtime failure, 2 usage or input error.\n");
}

static int parse_i64(const char *flag, const char *s, long long lo, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo) {
        fprintf(stderr, "spillway train: %s: expected an integer >= %lld, got '%s'\n", flag, lo, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_f(const char *flag, const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end) {
        fprintf(stderr, "spillway train: %s: expected a number, got '%s'\n", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* "0,1,3" -> gpus[] (at most max); returns the count, or -1 for a malformed list. */
static int parse_gpus(const char *s, int *gpus, int max)
{
    int n = 0;
    while (*s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || v < 0 || v > 1023 || n == max || (*end && *end != ','))
            return -1;
        gpus[n++] = (int)v;
        s = *end ? end + 1 : end;
        if (*end && !*s)
            return -1; /* trailing comma */
    }
    return n > 0 ? n : -1;
}

int sw_train_main(int argc, char **argv)
{
    sw_train_options o;
    sw_train_options_default(&o);
    int have_steps = 0;
    /* Muon's settings, applied after the loop so that they do not depend on where --preset
     * stands (the defaults depend on the model's depth). NAN: not given. */
    float muon_wd = NAN, matrix_lr = NAN, embedding_lr = NAN, unembedding_lr = NAN;
    int gpus[64], n_gpus = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--info")) {
            char line[1024];
            printf("%s\n", sw_compute_describe(line, sizeof line));
            return 0;
        }
        /* Every other option takes a value: "--flag VALUE" or "--flag=VALUE". */
        char flag[64];
        const char *val;
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "spillway train: unexpected argument '%s' (try --help)\n", a);
            return 2;
        }
        if (eq) {
            snprintf(flag, sizeof flag, "%.*s", (int)(eq - a), a);
            val = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", a);
            if (i + 1 >= argc) {
                fprintf(stderr, "spillway train: %s needs a value (try --help)\n", flag);
                return 2;
            }
            val = argv[++i];
        }
        long long n = 0;
        int bad = 0;
        if (!strcmp(flag, "--preset")) {
            if (sw_model_preset(val, &o.model) != SW_K_OK) {
                fprintf(stderr,
                        "spillway train: --preset: unknown preset '%s' (tiny, small, gpt2-124m, "
                        "nanochat-d20)\n",
                        val);
                return 2;
            }
        } else if (!strcmp(flag, "--data")) {
            o.data_path = val;
        } else if (!strcmp(flag, "--steps")) {
            bad = parse_i64(flag, val, 1, &n);
            o.steps = n;
            have_steps = 1;
        } else if (!strcmp(flag, "--batch")) {
            bad = parse_i64(flag, val, 1, &n) || n > 1 << 20;
            o.batch = (int)n;
        } else if (!strcmp(flag, "--seq")) {
            bad = parse_i64(flag, val, 1, &n) || n > 1 << 20;
            o.seq_len = (int)n;
        } else if (!strcmp(flag, "--threads")) {
            bad = parse_i64(flag, val, 1, &n) || n > 1024;
            o.threads = (int)n;
        } else if (!strcmp(flag, "--lr")) {
            bad = parse_f(flag, val, &o.lr);
        } else if (!strcmp(flag, "--weight-decay")) {
            bad = parse_f(flag, val, &muon_wd) || !(muon_wd >= 0.0f);
            o.weight_decay = muon_wd;
        } else if (!strcmp(flag, "--backend")) {
            o.backend = val;
        } else if (!strcmp(flag, "--optimizer")) {
            if (strcmp(val, "adamw") && strcmp(val, "muon")) {
                fprintf(stderr, "spillway train: --optimizer: unknown '%s' (adamw, muon)\n", val);
                return 2;
            }
            o.muon = !strcmp(val, "muon");
        } else if (!strcmp(flag, "--matrix-lr")) {
            bad = parse_f(flag, val, &matrix_lr) || !(matrix_lr > 0.0f && matrix_lr < 10.0f);
        } else if (!strcmp(flag, "--embedding-lr")) {
            bad =
                parse_f(flag, val, &embedding_lr) || !(embedding_lr > 0.0f && embedding_lr < 10.0f);
        } else if (!strcmp(flag, "--unembedding-lr")) {
            bad = parse_f(flag, val, &unembedding_lr) ||
                  !(unembedding_lr > 0.0f && unembedding_lr < 10.0f);
        } else if (!strcmp(flag, "--clip")) {
            bad = parse_f(flag, val, &o.grad_clip);
        } else if (!strcmp(flag, "--warmup")) {
            bad = parse_i64(flag, val, 0, &n);
            o.warmup_steps = n;
        } else if (!strcmp(flag, "--warmdown")) {
            bad = parse_f(flag, val, &o.warmdown_frac);
        } else if (!strcmp(flag, "--seed")) {
            bad = parse_i64(flag, val, 0, &n);
            o.seed = (uint64_t)n;
        } else if (!strcmp(flag, "--eval-every")) {
            bad = parse_i64(flag, val, 0, &n);
            o.eval_every = n;
        } else if (!strcmp(flag, "--eval-batches")) {
            bad = parse_i64(flag, val, 1, &n) || n > 1 << 20;
            o.eval_batches = (int)n;
        } else if (!strcmp(flag, "--print-every")) {
            bad = parse_i64(flag, val, 1, &n);
            o.print_every = n;
        } else if (!strcmp(flag, "--checkpoint")) {
            o.checkpoint_dir = val;
        } else if (!strcmp(flag, "--checkpoint-every")) {
            bad = parse_i64(flag, val, 0, &n);
            o.checkpoint_every = n;
        } else if (!strcmp(flag, "--stop-at")) {
            bad = parse_i64(flag, val, 0, &n);
            o.stop_at_step = n;
        } else if (!strcmp(flag, "--log")) {
            o.log_path = val;
        } else if (!strcmp(flag, "--gpus")) {
            n_gpus = parse_gpus(val, gpus, 64);
            bad = n_gpus < 0;
        } else {
            fprintf(stderr, "spillway train: unknown option '%s' (try --help)\n", flag);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "spillway train: %s: value '%s' out of range\n", flag, val);
            return 2;
        }
    }
    if (!o.data_path || !have_steps) {
        fprintf(stderr, "spillway train: %s is required (try --help)\n",
                !o.data_path ? "--data FILE" : "--steps N");
        return 2;
    }
    sw_muon_config_default(&o.muon_cfg, &o.model);
    if (!isnan(muon_wd))
        o.muon_cfg.weight_decay = muon_wd;
    if (!isnan(matrix_lr))
        o.muon_cfg.matrix_lr = matrix_lr;
    if (!isnan(embedding_lr))
        o.muon_cfg.embedding_lr = embedding_lr;
    if (!isnan(unembedding_lr))
        o.muon_cfg.unembedding_lr = unembedding_lr;
    if (o.seq_len > o.model.max_seq_len) {
        fprintf(stderr, "spillway train: --seq: %d exceeds the context %d of preset %s\n",
                o.seq_len, o.model.max_seq_len, o.model.name);
        return 2;
    }
    printf("spillway train: preset %s (%zu parameters, %.3g FLOP/token at T=%d), data %s, "
           "%lld steps of %d x %d tokens, %d thread%s, backend %s, optimizer %s\n",
           o.model.name, sw_model_param_count(&o.model),
           sw_model_flops_per_token_at(&o.model, o.seq_len), o.seq_len, o.data_path,
           (long long)o.steps, o.batch, o.seq_len, o.threads, o.threads == 1 ? "" : "s",
           o.backend ? o.backend : "cpu", o.muon ? "muon" : "adamw");
    char compute[1024];
    printf("%s\n", sw_compute_describe(compute, sizeof compute));
    if (sw_blas_is_reference())
        fprintf(stderr, "spillway train: warning: cblas_sgemm binds to a reference CBLAS; "
                        "training runs about ten times slower than with OpenBLAS (link "
                        "OpenBLAS ahead of GSL)\n");
    o.progress = stdout;
    sw_train_result res;
    sw_kerror err;
    sw_kerror_clear(&err);
    int rc =
        n_gpus > 0 ? sw_dp_train(&o, gpus, n_gpus, o.backend && !strcmp(o.backend, "cuda-bf16"), &res, &err)
                   : sw_train_run(&o, &res, &err);
    if (rc != SW_K_OK) {
        fprintf(stderr, "spillway train: %s\n", err.msg);
        return rc == SW_K_EINPUT ? 2 : 1;
    }
    printf("done: %lld steps, val loss %.4f, val bpb %.4f, %.0f tokens/s\n",
           (long long)res.steps_done, (double)res.val_loss, (double)res.val_bpb, res.tokens_per_s);
    return 0;
}
