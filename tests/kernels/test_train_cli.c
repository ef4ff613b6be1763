/* test_train_cli.c - `spillway train` as the CLI will call it (sw_train_main): help, usage
 * and input errors with exit status 2 and a message naming the flag or file, and a short
 * successful run with its loss log and checkpoint. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kernels/train_cli.h"

static char dir[64], out_path[128], err_path[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/sw_kernels_cli_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(out_path, sizeof out_path, "%s/stdout.txt", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(train_cli, .init = setup, .fini = teardown);

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Runs sw_train_main with the given arguments (argv[0] "train" added), stdout and stderr
 * captured into files. Returns the exit status. */
static int run(int argc, const char **args)
{
    char *argv[32];
    argv[0] = "train";
    for (int i = 0; i < argc; i++)
        argv[i + 1] = (char *)args[i];
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    cr_assert(freopen(out_path, "w", stdout));
    cr_assert(freopen(err_path, "w", stderr));
    int rc = sw_train_main(argc + 1, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    return rc;
}

#define DATA SW_SOURCE_DIR "/corpus/tinyshakespeare.txt"

static void expect_usage_error(int argc, const char **args, const char *needle)
{
    cr_assert_eq(run(argc, args), 2);
    const char *msg = slurp(err_path);
    cr_assert(strstr(msg, needle), "stderr lacks '%s': %s", needle, msg);
}

Test(train_cli, help_lists_the_flags)
{
    const char *args[] = {"--help"};
    cr_assert_eq(run(1, args), 0);
    const char *out = slurp(out_path);
    cr_assert(strstr(out, "--preset") && strstr(out, "--checkpoint") && strstr(out, "--log"));
}

Test(train_cli, usage_and_input_errors_exit_2_naming_the_culprit)
{
    const char *no_data[] = {"--steps", "3"};
    expect_usage_error(2, no_data, "--data");
    const char *no_steps[] = {"--data", DATA};
    expect_usage_error(2, no_steps, "--steps");
    const char *bad_preset[] = {"--preset", "gpt9", "--data", DATA, "--steps", "1"};
    expect_usage_error(6, bad_preset, "--preset");
    const char *bad_steps[] = {"--data", DATA, "--steps", "ten"};
    expect_usage_error(4, bad_steps, "--steps");
    const char *unknown[] = {"--data", DATA, "--steps", "1", "--bogus", "1"};
    expect_usage_error(6, unknown, "--bogus");
    const char *long_seq[] = {"--preset", "tiny", "--data", DATA, "--steps", "1", "--seq=64"};
    expect_usage_error(7, long_seq, "--seq");
    const char *missing[] = {"--data", "/nonexistent/corpus.txt", "--steps", "1"};
    expect_usage_error(4, missing, "/nonexistent/corpus.txt");
    const char *dangling[] = {"--data", DATA, "--steps"};
    expect_usage_error(3, dangling, "--steps");
}

Test(train_cli, short_run_writes_log_and_checkpoint_and_rejects_a_corrupt_one)
{
    char log[160], ckdir[128], ckpt[160];
    snprintf(log, sizeof log, "%s/loss.csv", dir);
    snprintf(ckdir, sizeof ckdir, "%s/ck", dir);
    snprintf(ckpt, sizeof ckpt, "%s/latest.ckpt", ckdir);
    const char *args[] = {"--preset",     "tiny", "--data",        DATA, "--steps",        "4",
                          "--batch",      "2",    "--seq",         "16", "--log",          log,
                          "--checkpoint", ckdir,  "--print-every", "1",  "--eval-batches", "2"};
    int argc = (int)(sizeof args / sizeof args[0]);
    cr_assert_eq(run(argc, args), 0, "stderr: %s", slurp(err_path));
    const char *out = slurp(out_path);
    cr_assert(strstr(out, "step      4/4") && strstr(out, "bpb") && strstr(out, "tok/s"),
              "progress: %s", out);
    const char *csv = slurp(log);
    cr_assert(!strncmp(csv, "step,tokens,loss,bpb,ppl,lr,grad_norm,val_loss,val_bpb", 54), "%s",
              csv);
    int lines = 0;
    for (const char *c = csv; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 5, "header + 4 steps expected:\n%s", csv);
    cr_assert_eq(access(ckpt, F_OK), 0);

    /* Rerunning resumes (already at step 4: nothing to do, still succeeds). */
    cr_assert_eq(run(argc, args), 0, "stderr: %s", slurp(err_path));
    cr_assert(strstr(slurp(out_path), "resuming"), "%s", slurp(out_path));

    /* A corrupt checkpoint is an input error naming the file. */
    FILE *f = fopen(ckpt, "r+b");
    fseek(f, 1000, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 1000, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
    cr_assert_eq(run(argc, args), 2);
    cr_assert(strstr(slurp(err_path), ckpt), "%s", slurp(err_path));
}

Test(train_cli, optimizer_and_backend_flags_are_checked)
{
    const char *bad_opt[] = {"--data", DATA, "--steps", "1", "--optimizer", "sgd"};
    expect_usage_error(6, bad_opt, "--optimizer");
    const char *bad_backend[] = {"--preset", "tiny", "--data", DATA, "--steps",   "1",
                                 "--batch",  "2",    "--seq",  "16", "--backend", "tpu"};
    expect_usage_error(12, bad_backend, "--backend");
    const char *bad_lr[] = {"--data", DATA, "--steps", "1", "--matrix-lr", "-1"};
    expect_usage_error(6, bad_lr, "--matrix-lr");
    const char *bad_wd[] = {"--data", DATA, "--steps", "1", "--weight-decay", "-0.5"};
    expect_usage_error(6, bad_wd, "--weight-decay");
}

Test(train_cli, muon_run_learns_and_resumes_only_with_muon)
{
    char log[160], ckdir[128];
    snprintf(log, sizeof log, "%s/loss.csv", dir);
    snprintf(ckdir, sizeof ckdir, "%s/ck", dir);
    const char *args[] = {"--preset",      "tiny", "--data",         DATA,  "--steps",     "30",
                          "--batch",       "4",    "--seq",          "32",  "--optimizer", "muon",
                          "--log",         log,    "--checkpoint",   ckdir, "--stop-at",   "20",
                          "--print-every", "10",   "--eval-batches", "2"};
    int argc = (int)(sizeof args / sizeof args[0]);
    cr_assert_eq(run(argc, args), 0, "stderr: %s", slurp(err_path));
    cr_assert(strstr(slurp(out_path), "optimizer muon"), "%s", slurp(out_path));
    /* Loss at step 20 well below the uniform ln 256 = 5.545 of the untrained model. */
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    char line[512];
    double first = 0, last = 0;
    int rows = 0;
    while (fgets(line, sizeof line, f))
        if (rows++ > 0) {
            double loss;
            cr_assert_eq(sscanf(line, "%*d,%*d,%lf", &loss), 1, "%s", line);
            if (rows == 2)
                first = loss;
            last = loss;
        }
    fclose(f);
    cr_expect_gt(first, 5.4, "first loss %g", first);
    cr_expect_lt(last, first - 1.0, "loss %g -> %g in 20 Muon steps", first, last);

    /* Resuming the Muon checkpoint with AdamW is refused, naming the flag. */
    const char *adamw[] = {"--preset", "tiny", "--data", DATA, "--steps",      "30",
                           "--batch",  "4",    "--seq",  "32", "--checkpoint", ckdir};
    expect_usage_error(12, adamw, "--optimizer");
    /* With Muon it continues to the end. */
    args[17] = "30";
    cr_assert_eq(run(argc, args), 0, "stderr: %s", slurp(err_path));
    cr_assert(strstr(slurp(out_path), "resuming"), "%s", slurp(out_path));
}
