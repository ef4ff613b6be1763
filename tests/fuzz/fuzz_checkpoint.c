/* fuzz_checkpoint.c - libFuzzer harness for the checkpoint reader (kernels/checkpoint.c): the
 * input is written to a file in /dev/shm and loaded into a one-layer model with an optimizer.
 * With SW_FUZZ_WRITE_SEED=PATH set, the harness writes a valid checkpoint of that model to
 * PATH and exits (how the seed corpus was made). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/checkpoint.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sw_model *model;
static sw_adamw opt;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* small, so that a whole valid file is a few kilobytes */
    sw_model_config cfg = {"fuzz", 1, 8, 2, 16, 8, 0, 15.0f, 10000.0f};
    sw_kerror err;
    model = sw_model_create(&cfg, NULL, &err);
    sw_adamw_config oc = {0};
    if (!model || sw_adamw_init(&opt, sw_model_num_params(model), &oc, NULL, &err) != SW_K_OK) {
        fprintf(stderr, "fuzz_checkpoint: %s\n", err.msg);
        exit(1);
    }
    sw_model_init_params(model, 1);
    const char *seed = getenv("SW_FUZZ_WRITE_SEED");
    if (seed) {
        sw_train_state st = {3, 100, 200};
        int rc = sw_checkpoint_save(seed, model, &opt, &st, &err);
        if (rc != SW_K_OK)
            fprintf(stderr, "fuzz_checkpoint: %s\n", err.msg);
        exit(rc == SW_K_OK ? 0 : 1);
    }
    snprintf(path, sizeof path, "/dev/shm/sw-fuzz-ckpt-%d", (int)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    sw_train_state st;
    sw_kerror err;
    (void)sw_checkpoint_load(path, model, &opt, &st, &err);
    (void)sw_checkpoint_load(path, model, NULL, NULL, &err);
    unlink(path);
    return 0;
}
