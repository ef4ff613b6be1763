/* test_cuda_train.c - training on the GPU: the loss falls on the corpus (the bound of
 * test_learning.c, which the CPU meets), and a checkpoint written from the GPU resumes on the
 * CPU and back, bit for bit in the tensors and to fp32 parity after a further step on each.
 * Skips without a GPU.
 */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/checkpoint.h"
#include "kernels/data.h"
#include "kernels/optim.h"
#include "kernels/train.h"
#include "test_cuda_util.h"

#ifndef SW_TEST_EMU /* 150 steps of emulated kernels take minutes of CPU: parity covers them */
static sw_model_config reduced_small(void)
{
    sw_model_config cfg;
    sw_model_preset("small", &cfg);
    snprintf(cfg.name, sizeof cfg.name, "small-reduced");
    cfg.n_layer = 2;
    cfg.n_embd = 64;
    cfg.n_head = 4;
    return cfg;
}
#endif

/* One training step of m (backend be) on the loader's next batch. */
static float step(sw_model *m, const sw_backend *be, sw_adamw *opt, sw_loader *ld, int32_t *in,
                  int32_t *tg, float lr)
{
    sw_kerror err;
    float loss = NAN;
    sw_loader_next(ld, in, tg);
    if (sw_model_forward(m, in, tg, ld->B, ld->T, &loss, &err) != SW_K_OK) {
        CHECK(0, "forward: %s", err.msg);
        return NAN;
    }
    sw_model_zero_grad(m);
    CHECK(sw_model_backward(m, &err) == SW_K_OK, "backward: %s", err.msg);
    sw_clip_grad_norm(be, sw_model_grads(m), sw_model_num_params(m), 1.0f);
    sw_adamw_step(opt, sw_model_params(m), sw_model_grads(m), lr);
    return loss;
}

#ifndef SW_TEST_EMU
/* The reduced small model learns on tiny Shakespeare on the GPU as on the CPU. */
static void loss_falls(const sw_backend *gpu, const sw_text *text)
{
    sw_model_config cfg = reduced_small();
    sw_kerror err;
    sw_span train, val;
    sw_split_train_val(text->n, &train, &val);
    sw_loader ld;
    CHECK(sw_loader_init(&ld, text->bytes, train, 16, 64, &err) == SW_K_OK, "%s", err.msg);
    sw_model *m = sw_model_create(&cfg, gpu, &err);
    CHECK(m != NULL, "%s", err.msg);
    if (!m)
        return;
    sw_model_init_params(m, 1337);
    sw_adamw opt;
    sw_adamw_config acfg = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.0f};
    CHECK(sw_adamw_init(&opt, sw_model_num_params(m), &acfg, gpu, &err) == SW_K_OK, "%s", err.msg);
    int32_t in[16 * 64], tg[16 * 64];
    sw_lr_schedule sched = {150, 0, 0.4f, 0.0f};
    float first = NAN, last = NAN;
    for (int s = 0; s < 150; s++) {
        last = step(m, gpu, &opt, &ld, in, tg, 1e-2f * sw_lr_multiplier(&sched, s));
        if (s == 0)
            first = last;
    }
    float val_loss = NAN;
    CHECK(sw_evaluate(m, text->bytes, val, 16, 64, 16, &val_loss, &err) == SW_K_OK, "%s", err.msg);
    printf("loss_falls: first %.4f, last %.4f, validation bpb %.4f (CPU bound: < 3.8)\n",
           (double)first, (double)last, (double)sw_bits_per_byte(val_loss));
    CHECK(fabsf(first - logf(256.0f)) < 1e-3f, "first loss %.4f, expected ln 256", (double)first);
    CHECK(sw_bits_per_byte(val_loss) < 3.8f, "validation bpb %.4f, expected < 3.8",
          (double)sw_bits_per_byte(val_loss));
    sw_adamw_free(&opt);
    sw_model_destroy(m);
}

#endif

/* GPU -> checkpoint -> CPU -> checkpoint -> GPU. */
static void checkpoint_round_trip(const sw_backend *gpu, const sw_text *text)
{
    sw_model_config cfg;
    sw_model_preset("tiny", &cfg);
    sw_kerror err;
    sw_span train, val;
    sw_split_train_val(text->n, &train, &val);
    sw_loader lg, lc;
    sw_loader_init(&lg, text->bytes, train, 4, 32, &err);
    sw_adamw_config acfg = {3e-3f, 0.9f, 0.95f, 1e-8f, 0.01f};
    sw_model *mg = sw_model_create(&cfg, gpu, &err), *mc = sw_model_create(&cfg, NULL, &err);
    CHECK(mg && mc, "%s", err.msg);
    if (!mg || !mc)
        return;
    sw_adamw og, oc;
    sw_adamw_init(&og, sw_model_num_params(mg), &acfg, gpu, &err);
    sw_adamw_init(&oc, sw_model_num_params(mc), &acfg, NULL, &err);
    sw_model_init_params(mg, 5);
    int32_t in[4 * 32], tg[4 * 32];
    for (int s = 0; s < 5; s++)
        step(mg, gpu, &og, &lg, in, tg, 3e-3f);
    char dir[] = "/tmp/sw_cuda_ckpt_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/latest.ckpt", dir);
    sw_train_state st = {5, lg.pos, 5 * 4 * 32}, st2;
    CHECK(sw_checkpoint_save(path, mg, &og, &st, &err) == SW_K_OK, "save on GPU: %s", err.msg);
    CHECK(sw_checkpoint_load(path, mc, &oc, &st2, &err) == SW_K_OK, "load on CPU: %s", err.msg);
    size_t n = sw_model_num_params(mc);
    float *host = malloc(n * sizeof(float));
    gpu->copy_to_host(host, sw_model_params(mg), n * sizeof(float));
    CHECK(memcmp(host, sw_model_params(mc), n * sizeof(float)) == 0,
          "parameters changed between the GPU and the CPU");
    CHECK(oc.t == og.t && st2.step == 5, "optimizer step %lld vs %lld", (long long)oc.t,
          (long long)og.t);
    /* One more step on each, from the same state and batch: fp32 parity. 1e-4, not 1e-6:
     * AdamW's update m/(sqrt(v)+eps) is steep for gradients near eps (1e-8), where last-bit
     * differences of the two backends' gradients can move a few parameters by a fraction of
     * lr (3e-3) against a parameter norm of about 100. */
    lc = lg;
    step(mg, gpu, &og, &lg, in, tg, 3e-3f);
    step(mc, NULL, &oc, &lc, in, tg, 3e-3f);
    gpu->copy_to_host(host, sw_model_params(mg), n * sizeof(float));
    double d = rel_diff(host, sw_model_params(mc), n);
    printf("checkpoint_round_trip: parameters after a step on each differ by %.2e\n", d);
    CHECK(d < 1e-4, "after one step, GPU and CPU parameters differ by %.3e", d);
    /* Back: the CPU's state resumes on the GPU exactly. */
    st.step = 6;
    CHECK(sw_checkpoint_save(path, mc, &oc, &st, &err) == SW_K_OK, "save on CPU: %s", err.msg);
    CHECK(sw_checkpoint_load(path, mg, &og, &st2, &err) == SW_K_OK, "load on GPU: %s", err.msg);
    gpu->copy_to_host(host, sw_model_params(mg), n * sizeof(float));
    CHECK(memcmp(host, sw_model_params(mc), n * sizeof(float)) == 0,
          "parameters changed between the CPU and the GPU");
    remove(path);
    rmdir(dir);
    free(host);
    sw_adamw_free(&og);
    sw_adamw_free(&oc);
    sw_model_destroy(mg);
    sw_model_destroy(mc);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const sw_backend *gpu = cuda_backend_or_skip("cuda");
    sw_text text;
    sw_kerror err;
    if (sw_text_load(SW_SOURCE_DIR "/corpus/tinyshakespeare.txt", &text, &err) != SW_K_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
#ifdef SW_TEST_EMU
    printf("loss_falls: not run in the CPU emulation\n");
#else
    loss_falls(gpu, &text);
#endif
    checkpoint_round_trip(gpu, &text);
    sw_text_free(&text);
    return test_result("test_cuda_train");
}
