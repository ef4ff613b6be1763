/* test_model.c - presets, parameter counts, FLOP estimates, the parameter layout, input
 * validation and determinism of the model. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/model.h"

Test(model, presets_have_the_documented_sizes)
{
    sw_model_config c;
    cr_assert_eq(sw_model_preset("tiny", &c), SW_K_OK);
    cr_assert_eq(sw_model_param_count(&c), 40960);
    cr_assert_eq(sw_model_preset("small", &c), SW_K_OK);
    cr_assert_eq(sw_model_param_count(&c), 3276800);
    cr_assert_eq(c.vocab_size, 256);
    cr_assert_eq(sw_model_preset("gpt2-124m", &c), SW_K_OK);
    cr_assert_eq(sw_model_param_count(&c), 123532032); /* 124.4M with GPT-2's wpe, LN, bias */
    cr_assert_eq(sw_model_preset("nanochat-d20", &c), SW_K_OK);
    cr_assert_eq(c.n_layer, 20);
    cr_assert_eq(c.n_embd, 1280);
    cr_assert_eq(c.n_head, 10);
    cr_assert_eq(c.vocab_size, 65536);
    cr_assert_eq(c.max_seq_len, 2048);
    cr_assert_eq(c.tie_embeddings, 0);
}

Test(model, d20_matches_the_reference_study)
{
    /* The study's 561M: 2 x 65536 x 1280 (untied wte and lm_head) + 20 x 12 x 1280^2. */
    sw_model_config c;
    sw_model_preset("nanochat-d20", &c);
    size_t n = sw_model_param_count(&c);
    cr_assert_eq(n, (size_t)560988160);
    cr_assert(fabs(n / 1e6 - 561.0) < 0.05);
    /* nanochat's estimate_flops: 6 (N - wte) + 12 L C T. */
    double expect = 6.0 * (560988160.0 - 65536.0 * 1280) + 12.0 * 20 * 1280 * 2048;
    cr_assert_float_eq(sw_model_flops_per_token(&c), expect, 1.0);
    cr_assert_float_eq(sw_model_flops_per_token(&c), 3491758080.0, 1.0);
}

Test(model, tied_flops_count_the_embedding_as_the_head)
{
    sw_model_config c;
    sw_model_preset("gpt2-124m", &c);
    cr_assert_float_eq(sw_model_flops_per_token_at(&c, 64),
                       6.0 * 123532032.0 + 12.0 * 12 * 768 * 64, 1.0);
}

Test(model, unknown_preset_is_rejected)
{
    sw_model_config c = {.n_layer = 7};
    cr_assert_eq(sw_model_preset("gpt5", &c), SW_K_EINPUT);
    cr_assert_eq(c.n_layer, 7);
    cr_assert_eq(sw_model_preset(NULL, &c), SW_K_EINPUT);
    const char *const *names = sw_model_preset_names();
    int count = 0;
    for (; names[count]; count++)
        cr_assert_eq(sw_model_preset(names[count], &c), SW_K_OK, "%s", names[count]);
    cr_assert_eq(count, 4);
}

Test(model, layout_tiles_the_buffer_without_gaps)
{
    const char *presets[] = {"tiny", "gpt2-124m", "nanochat-d20"};
    for (int p = 0; p < 3; p++) {
        sw_model_config c;
        sw_model_preset(presets[p], &c);
        size_t next = 0, count = sw_model_tensor_count(&c);
        cr_assert_eq(count, 1 + 4 * (size_t)c.n_layer + (c.tie_embeddings ? 0 : 1));
        for (size_t i = 0; i < count; i++) {
            sw_tensor_info t;
            cr_assert_eq(sw_model_tensor(&c, i, &t), SW_K_OK);
            cr_assert_eq(t.offset, next, "%s %s", presets[p], t.name);
            next += t.rows * t.cols;
        }
        cr_assert_eq(next, sw_model_param_count(&c));
        sw_tensor_info t;
        cr_assert_eq(sw_model_tensor(&c, count, &t), SW_K_EINPUT);
    }
    sw_model_config c;
    sw_model_preset("tiny", &c);
    sw_tensor_info t;
    sw_model_tensor(&c, 7, &t);
    cr_assert_str_eq(t.name, "h.1.mlp.wfc");
    cr_assert_eq(t.rows, 128);
    cr_assert_eq(t.cols, 32);
}

Test(model, bad_configs_name_the_field)
{
    sw_model_config c;
    sw_kerror err;
    sw_model_preset("tiny", &c);
    c.n_head = 3; /* 32 is not a multiple of 3 */
    cr_assert_null(sw_model_create(&c, NULL, &err));
    cr_assert_eq(err.code, SW_K_EINPUT);
    cr_assert(strstr(err.msg, "n_head"), "%s", err.msg);
    sw_model_preset("tiny", &c);
    c.n_head = 32; /* head size 1 is odd: no rotary pairs */
    cr_assert_null(sw_model_create(&c, NULL, &err));
    cr_assert(strstr(err.msg, "even"), "%s", err.msg);
    sw_model_preset("tiny", &c);
    c.n_layer = 0;
    cr_assert_null(sw_model_create(&c, NULL, &err));
    cr_assert(strstr(err.msg, "n_layer"), "%s", err.msg);
}

Test(model, forward_rejects_bad_tokens_and_lengths)
{
    sw_model_config c;
    sw_model_preset("tiny", &c);
    sw_kerror err;
    sw_model *m = sw_model_create(&c, NULL, &err);
    int32_t in[40] = {0}, tg[40] = {0};
    in[3] = 256;
    float loss;
    cr_assert_eq(sw_model_forward(m, in, tg, 1, 8, &loss, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "input token 3"), "%s", err.msg);
    in[3] = 0;
    tg[5] = -1;
    cr_assert_eq(sw_model_forward(m, in, tg, 1, 8, &loss, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "target token 5"), "%s", err.msg);
    cr_assert_eq(sw_model_forward(m, in, NULL, 1, 40, &loss, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "32"), "%s", err.msg);
    sw_model_destroy(m);
}

Test(model, fresh_init_gives_uniform_logits)
{
    /* lm_head starts at zero: every logit 0, loss exactly ln V. */
    sw_model_config c;
    sw_model_preset("tiny", &c);
    sw_kerror err;
    sw_model *m = sw_model_create(&c, NULL, &err);
    sw_model_init_params(m, 5);
    int32_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, tg[8] = {2, 3, 4, 5, 6, 7, 8, 9};
    float loss;
    cr_assert_eq(sw_model_forward(m, in, tg, 2, 4, &loss, &err), SW_K_OK);
    cr_assert_float_eq(loss, logf(256.0f), 1e-5);
    sw_model_destroy(m);
}

/* Loss and gradients after a forward/backward with `threads` threads. */
static float run_once(int threads, float *grads_out)
{
    sw_backend_cpu_set_threads(threads);
    sw_model_config c;
    sw_model_preset("tiny", &c);
    c.n_embd = 64;
    sw_kerror err;
    sw_model *m = sw_model_create(&c, NULL, &err);
    sw_model_init_params(m, 42);
    /* Non-zero heads so every gradient is non-trivial. */
    float *p = sw_model_params(m);
    for (size_t i = 0; i < sw_model_num_params(m); i++)
        if (p[i] == 0.0f)
            p[i] = 0.01f * (float)((i * 2654435761u) % 1000) / 1000.0f - 0.005f;
    int32_t in[4 * 32], tg[4 * 32];
    for (int i = 0; i < 4 * 32; i++) {
        in[i] = (i * 31) % 256;
        tg[i] = (i * 17 + 3) % 256;
    }
    float loss;
    cr_assert_eq(sw_model_forward(m, in, tg, 4, 32, &loss, &err), SW_K_OK);
    sw_model_zero_grad(m);
    sw_model_backward(m, &err);
    memcpy(grads_out, sw_model_grads(m), sw_model_num_params(m) * sizeof(float));
    sw_model_destroy(m);
    return loss;
}

Test(model, deterministic_at_a_fixed_thread_count)
{
    size_t n = 256 * 64 * 2 + 2 * 12 * 64 * 64;
    float *a = malloc(n * 4), *b = malloc(n * 4), *c = malloc(n * 4), *d = malloc(n * 4);
    for (int threads = 1; threads <= 2; threads++) {
        float l1 = run_once(threads, a), l2 = run_once(threads, b);
        cr_assert_eq(l1, l2, "%d threads: loss %.9g then %.9g", threads, l1, l2);
        cr_assert(!memcmp(a, b, n * 4), "%d threads: gradients differ between runs", threads);
    }
    /* Across thread counts results may differ in the last bits (BLAS blocking), not more. */
    float l1 = run_once(1, c), l2 = run_once(2, d);
    cr_assert_float_eq(l1, l2, 1e-5);
    for (size_t i = 0; i < n; i++)
        cr_assert(fabsf(c[i] - d[i]) <= 1e-5f * (1.0f + fabsf(c[i])), "grad %zu", i);
    free(a), free(b), free(c), free(d);
}
