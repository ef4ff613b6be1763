/* test_checkpoint.c - checkpoint round trip, atomic writing, every corrupt-file case
 * (missing, truncated, bad magic, bad version, bad checksum, wrong preset or shape, no
 * optimizer state), and bit-exact resumption of a training run. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/checkpoint.h"
#include "kernels/rng.h"
#include "kernels/train.h"

static char dir[64];
static char path[128];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/sw_kernels_ckpt_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(checkpoint, .init = make_dir, .fini = remove_dir);

/* A tiny model and optimizer with non-trivial state (two training steps). */
static sw_model *trained_tiny(sw_adamw *opt, const char *preset)
{
    sw_model_config cfg;
    cr_assert_eq(sw_model_preset(preset, &cfg), SW_K_OK);
    sw_kerror err;
    sw_model *m = sw_model_create(&cfg, NULL, &err);
    cr_assert_not_null(m, "%s", err.msg);
    sw_model_init_params(m, 3);
    sw_adamw_config acfg = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f};
    cr_assert_eq(sw_adamw_init(opt, sw_model_num_params(m), &acfg, NULL, &err), SW_K_OK);
    int32_t in[32], tg[32];
    for (int step = 0; step < 2; step++) {
        for (int i = 0; i < 32; i++) {
            in[i] = (i * 7 + step) % 256;
            tg[i] = (i * 13 + 1) % 256;
        }
        float loss;
        cr_assert_eq(sw_model_forward(m, in, tg, 2, 16, &loss, &err), SW_K_OK, "%s", err.msg);
        sw_model_zero_grad(m);
        cr_assert_eq(sw_model_backward(m, &err), SW_K_OK);
        sw_adamw_step(opt, sw_model_params(m), sw_model_grads(m), 1e-3f);
    }
    return m;
}

static void save_good(void)
{
    sw_adamw opt;
    sw_model *m = trained_tiny(&opt, "tiny");
    sw_train_state st = {2, 1234, 64};
    sw_kerror err;
    cr_assert_eq(sw_checkpoint_save(path, m, &opt, &st, &err), SW_K_OK, "%s", err.msg);
    sw_adamw_free(&opt);
    sw_model_destroy(m);
}

/* Loading path into a fresh tiny model must fail with SW_K_EINPUT, name the file and
 * contain `what`, and leave the model's parameters untouched. */
static void expect_rejected(const char *what)
{
    sw_model_config cfg;
    sw_model_preset("tiny", &cfg);
    sw_kerror err;
    sw_model *m = sw_model_create(&cfg, NULL, &err);
    sw_model_init_params(m, 99);
    size_t n = sw_model_num_params(m);
    float *before = malloc(n * sizeof(float));
    memcpy(before, sw_model_params(m), n * sizeof(float));
    sw_adamw opt;
    sw_adamw_config acfg = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f};
    sw_adamw_init(&opt, n, &acfg, NULL, &err);
    sw_train_state st = {-1, 0, 0};
    sw_kerror_clear(&err);
    cr_assert_eq(sw_checkpoint_load(path, m, &opt, &st, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, path), "message does not name the file: %s", err.msg);
    cr_assert(strstr(err.msg, what), "message lacks '%s': %s", what, err.msg);
    cr_assert(!memcmp(before, sw_model_params(m), n * sizeof(float)),
              "a rejected checkpoint modified the model");
    cr_assert_eq(st.step, -1, "a rejected checkpoint modified the train state");
    free(before);
    sw_adamw_free(&opt);
    sw_model_destroy(m);
}

static long file_size(void)
{
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    return (long)sb.st_size;
}

static void poke(long offset, unsigned char xor_mask)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, offset, SEEK_SET);
    int c = fgetc(f);
    fseek(f, offset, SEEK_SET);
    fputc(c ^ xor_mask, f);
    fclose(f);
}

Test(checkpoint, round_trip_restores_everything_exactly)
{
    sw_adamw opt;
    sw_model *m = trained_tiny(&opt, "tiny");
    sw_train_state st = {2, 1234, 64};
    sw_kerror err;
    cr_assert_eq(sw_checkpoint_save(path, m, &opt, &st, &err), SW_K_OK, "%s", err.msg);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "temporary file left behind");
    size_t n = sw_model_num_params(m);
    cr_assert_eq(file_size(), (long)(128 + 3 * n * 4 + 4));

    sw_model *m2 = sw_model_create(sw_model_config_of(m), NULL, &err);
    sw_adamw opt2;
    sw_adamw_init(&opt2, n, &opt.cfg, NULL, &err);
    sw_train_state st2;
    cr_assert_eq(sw_checkpoint_load(path, m2, &opt2, &st2, &err), SW_K_OK, "%s", err.msg);
    cr_assert(!memcmp(sw_model_params(m), sw_model_params(m2), n * 4));
    cr_assert(!memcmp(opt.m, opt2.m, n * 4));
    cr_assert(!memcmp(opt.v, opt2.v, n * 4));
    cr_assert_eq(opt2.t, 2);
    cr_assert_eq(st2.step, 2);
    cr_assert_eq(st2.data_pos, 1234);
    cr_assert_eq(st2.tokens_seen, 64);
    sw_adamw_free(&opt);
    sw_adamw_free(&opt2);
    sw_model_destroy(m);
    sw_model_destroy(m2);
}

Test(checkpoint, weights_only_file_loads_without_optimizer_but_cannot_resume)
{
    sw_adamw opt;
    sw_model *m = trained_tiny(&opt, "tiny");
    sw_kerror err;
    cr_assert_eq(sw_checkpoint_save(path, m, NULL, NULL, &err), SW_K_OK, "%s", err.msg);
    sw_model *m2 = sw_model_create(sw_model_config_of(m), NULL, &err);
    cr_assert_eq(sw_checkpoint_load(path, m2, NULL, NULL, &err), SW_K_OK, "%s", err.msg);
    cr_assert(!memcmp(sw_model_params(m), sw_model_params(m2), sw_model_num_params(m) * 4));
    sw_adamw_free(&opt);
    sw_model_destroy(m);
    sw_model_destroy(m2);
    expect_rejected("optimizer");
}

Test(checkpoint, missing_file)
{
    expect_rejected("cannot open");
}

Test(checkpoint, truncated_anywhere)
{
    save_good();
    long full = file_size();
    const long cuts[] = {full - 1, full - 4, 200, 131, 100, 8, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        cr_assert_eq(truncate(path, cuts[i]), 0);
        expect_rejected("truncated");
    }
}

Test(checkpoint, trailing_garbage)
{
    save_good();
    FILE *f = fopen(path, "ab");
    fputs("xx", f);
    fclose(f);
    expect_rejected("oversized");
}

Test(checkpoint, bad_magic)
{
    save_good();
    poke(0, 0x20);
    expect_rejected("magic");
}

Test(checkpoint, bad_version)
{
    save_good();
    poke(8, 0x03); /* version 1 -> 2 */
    expect_rejected("version 2");
}

Test(checkpoint, bad_checksum_in_payload_header_and_trailer)
{
    const long offsets[] = {5000, 90 /* step field */, -2 /* in the CRC itself */};
    for (size_t i = 0; i < 3; i++) {
        save_good();
        poke(offsets[i] >= 0 ? offsets[i] : file_size() + offsets[i], 0x01);
        expect_rejected("checksum");
    }
}

Test(checkpoint, wrong_preset_or_shape)
{
    /* A checkpoint of `small` offered to a `tiny` model. */
    sw_adamw opt;
    sw_model_config cfg;
    sw_model_preset("small", &cfg);
    sw_kerror err;
    sw_model *m = sw_model_create(&cfg, NULL, &err);
    sw_adamw_config acfg = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f};
    sw_adamw_init(&opt, sw_model_num_params(m), &acfg, NULL, &err);
    cr_assert_eq(sw_checkpoint_save(path, m, &opt, NULL, &err), SW_K_OK, "%s", err.msg);
    sw_adamw_free(&opt);
    sw_model_destroy(m);
    expect_rejected("n_layer");

    /* Same layer count, different width. */
    sw_model_preset("tiny", &cfg);
    cfg.n_embd = 64;
    m = sw_model_create(&cfg, NULL, &err);
    cr_assert_eq(sw_checkpoint_save(path, m, NULL, NULL, &err), SW_K_OK, "%s", err.msg);
    sw_model_destroy(m);
    expect_rejected("n_embd");

    /* Tied versus untied embeddings. */
    sw_model_preset("tiny", &cfg);
    cfg.tie_embeddings = 1;
    m = sw_model_create(&cfg, NULL, &err);
    cr_assert_eq(sw_checkpoint_save(path, m, NULL, NULL, &err), SW_K_OK, "%s", err.msg);
    sw_model_destroy(m);
    expect_rejected("tie_embeddings");
}

Test(checkpoint, crc32_matches_the_standard_check_value)
{
    /* The CRC-32/IEEE check value of "123456789". */
    cr_assert_eq(sw_crc32(0, "123456789", 9), 0xCBF43926u);
    cr_assert_eq(sw_crc32(sw_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static unsigned char *slurp(const char *file, long *size)
{
    FILE *f = fopen(file, "rb");
    cr_assert_not_null(f, "cannot open %s", file);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)*size);
    cr_assert_eq(fread(buf, 1, (size_t)*size, f), (size_t)*size);
    fclose(f);
    return buf;
}

/* Training 12 steps in one go, or 7 steps, a stop, and 5 more resumed from the checkpoint,
 * gives byte-identical checkpoints: weights, moments, step, data position. */
Test(checkpoint, resumed_training_is_bit_exact)
{
    sw_train_options o;
    sw_train_options_default(&o);
    sw_model_preset("tiny", &o.model);
    o.data_path = SW_SOURCE_DIR "/corpus/tinyshakespeare.txt";
    o.batch = 4;
    o.seq_len = 16;
    o.steps = 12;
    o.eval_every = 0;
    o.eval_batches = 1;
    o.warmup_steps = 2;
    o.weight_decay = 0.1f;
    sw_train_result res;
    sw_kerror err;
    char d1[96], d2[96], p1[128], p2[128];
    snprintf(d1, sizeof d1, "%s/one", dir);
    snprintf(d2, sizeof d2, "%s/two", dir);
    snprintf(p1, sizeof p1, "%s/latest.ckpt", d1);
    snprintf(p2, sizeof p2, "%s/latest.ckpt", d2);

    o.checkpoint_dir = d1;
    cr_assert_eq(sw_train_run(&o, &res, &err), SW_K_OK, "%s", err.msg);
    cr_assert_eq(res.steps_done, 12);

    o.checkpoint_dir = d2;
    o.stop_at_step = 7;
    cr_assert_eq(sw_train_run(&o, &res, &err), SW_K_OK, "%s", err.msg);
    cr_assert_eq(res.steps_done, 7);
    o.stop_at_step = 0;
    cr_assert_eq(sw_train_run(&o, &res, &err), SW_K_OK, "%s", err.msg);
    cr_assert_eq(res.start_step, 7);
    cr_assert_eq(res.steps_done, 12);

    long n1, n2;
    unsigned char *a = slurp(p1, &n1), *b = slurp(p2, &n2);
    cr_assert_eq(n1, n2);
    cr_assert(!memcmp(a, b, (size_t)n1), "resumed run differs from the uninterrupted one");
    free(a);
    free(b);
}
