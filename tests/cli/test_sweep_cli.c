/* test_sweep_cli.c - `spillway sweep` as a user runs it: a small sweep on two local workers gives
 * one report per point and a table holding exactly their figures; running it again skips the
 * finished points; a lost report is rerun alone; --collect without every report exits 1; a bad
 * sweep file exits 2 before anything runs; Ctrl-C stops the workers and leaves no temporary
 * files; `spillway summary` prints the table. */
#include <criterion/criterion.h>
#include <glob.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.c.inc"
#include "core/report.h"
#include "core/sweep_table.h"

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/sw-test-sweepcli-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static char *path_in(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

/* Writes a sweep file over scenarios/paper.yaml with the given body; returns its path. */
static char *write_sweep(const char *name, const char *body)
{
    char *p = path_in(name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fprintf(f, "base: %s/scenarios/paper.yaml\n%s", SW_SOURCE_DIR, body);
    fclose(f);
    return p;
}

static size_t count_files(const char *pattern)
{
    glob_t g;
    size_t n = glob(pattern, 0, NULL, &g) == 0 ? g.gl_pathc : 0;
    globfree(&g);
    return n;
}

static const char *small = "grid:\n  policy.threshold_g_per_kwh: [80, 120]\n"
                           "  sites.count: [1, 2]\n";

Test(sweep_cli, points_reports_and_table, .init = setup, .fini = teardown, .timeout = 120)
{
    char *sweep = write_sweep("s.yaml", small), *out = path_in("out");
    cli_result r;
    cr_assert_eq(cli_run((const char *const[]){"sweep", sweep, "-j", "2", "-o", out, NULL}, &r), 0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "4 points over 2 parameters"), "%s", r.err);
    cli_result_free(&r);
    char pat[600];
    snprintf(pat, sizeof pat, "%s/points/p000?-*.h5", out);
    cr_assert_eq(count_files(pat), 4);

    sw_sweep_table t;
    sw_error err;
    cr_assert_eq(sw_sweep_table_read(path_in("out/sweep.h5"), &t, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(t.n_rows, 4);
    cr_assert_str_eq(t.param_keys[0], "policy.threshold_g_per_kwh");
    cr_assert_str_eq(t.param_keys[1], "sites.count");
    for (size_t i = 0; i < 4; i++) {
        cr_assert_str_eq(t.values[i * 2], i < 2 ? "80" : "120");
        cr_assert_str_eq(t.values[i * 2 + 1], i % 2 ? "2" : "1");
        char rp[700];
        snprintf(rp, sizeof rp, "%s/%s", out, t.reports[i]);
        sw_report_data *d;
        cr_assert_eq(sw_report_open(rp, &d, &err), SW_OK, "%s", err.msg);
        cr_assert_eq(d->n_sites, i % 2 ? 2u : 1u);
        cr_assert_eq(t.figures[i].carbon_kg, d->summary.carbon_kg);
        cr_assert_eq(t.figures[i].runtime_h, d->summary.runtime_h);
        cr_assert_eq(t.figures[i].gpu_hours, d->summary.gpu_hours);
        cr_assert_eq(t.figures[i].energy_kwh, d->summary.energy_kwh);
        cr_assert_eq(t.figures[i].curtailed_energy_fraction, d->summary.curtailed_energy_fraction);
        cr_assert_eq(t.figures[i].final_ppl, d->summary.final_ppl);
        sw_report_data_free(d);
    }
    /* A higher threshold trains more with the same site: more energy. */
    cr_assert_gt(t.figures[2].energy_kwh, t.figures[0].energy_kwh);

    /* Again: every point is skipped, the reports stay as they are. */
    char rp0[700];
    snprintf(rp0, sizeof rp0, "%s/%s", out, t.reports[0]);
    struct stat before, after;
    cr_assert_eq(stat(rp0, &before), 0);
    cr_assert_eq(cli_run((const char *const[]){"sweep", sweep, "-o", out, NULL}, &r), 0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "(4 already done)"), "%s", r.err);
    cli_result_free(&r);
    cr_assert_eq(stat(rp0, &after), 0);
    cr_assert_eq(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    cr_assert_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);

    /* A lost report: --collect says so (exit 1, the row empty), a run redoes that point only. */
    char rp3[700];
    snprintf(rp3, sizeof rp3, "%s/%s", out, t.reports[3]);
    cr_assert_eq(unlink(rp3), 0);
    cr_assert_eq(cli_run((const char *const[]){"sweep", sweep, "-o", out, "--collect", NULL}, &r),
                 0);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "1 of 4 points have no report"), "%s", r.err);
    cli_result_free(&r);
    sw_sweep_table c;
    cr_assert_eq(sw_sweep_table_read(path_in("out/sweep.h5"), &c, &err), SW_OK, "%s", err.msg);
    cr_assert_str_eq(c.reports[3], "");
    cr_assert(isnan(c.figures[3].carbon_kg));
    sw_sweep_table_free(&c);
    cr_assert_eq(cli_run((const char *const[]){"sweep", sweep, "-o", out, NULL}, &r), 0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "4/4 points (3 already done)"), "%s", r.err);
    cli_result_free(&r);
    cr_assert_eq(sw_sweep_table_read(path_in("out/sweep.h5"), &c, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(c.figures[3].carbon_kg, t.figures[3].carbon_kg);
    sw_sweep_table_free(&c);

    /* summary prints the table, and its CSV is the file's. */
    cr_assert_eq(cli_run((const char *const[]){"summary", path_in("out/sweep.h5"), NULL}, &r), 0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "sweep s over"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "sites.count"), "%s", r.out);
    cli_result_free(&r);
    cr_assert_eq(
        cli_run((const char *const[]){"summary", path_in("out/sweep.h5"), "--csv", NULL}, &r), 0);
    FILE *f = fopen(path_in("out/sweep.csv"), "r");
    char file[8192] = "";
    size_t n = fread(file, 1, sizeof file - 1, f);
    file[n] = '\0';
    fclose(f);
    cr_assert_str_eq(r.out, file);
    cli_result_free(&r);
    sw_sweep_table_free(&t);
}

Test(sweep_cli, bad_sweep_files_exit_2_before_anything_runs, .init = setup, .fini = teardown)
{
    char *out = path_in("out");
    struct {
        const char *body, *want;
    } cases[] = {
        {"grid:\n  policy.threshold_g_per_kwh: [100, -1]\n",
         "s.yaml:3:3: key 'policy.threshold_g_per_kwh', value -1 (point 1"},
        {"grid:\n  policy.nope: [1]\n", "s.yaml:3:3: key 'policy.nope'"},
        {"grid:\n  sites.count: [1, 5]\n", "key 'sites.count': expected integers from 1 to the 3"},
        {"zip:\n  policy.poll_s: [1, 2]\n  rounds.startup_s: [1]\n", "s.yaml:4:3: zip:"},
        {"grid:\n  sites.1.region: [SPP_TX, NOWHERE]\n",
         "s.yaml:3:3: key 'sites.1.region', value NOWHERE (point 1"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *sweep = write_sweep("s.yaml", cases[k].body);
        cli_result r;
        cr_assert_eq(cli_run((const char *const[]){"sweep", sweep, "-o", out, NULL}, &r), 0);
        cr_assert_eq(r.status, 2, "%s: %s", cases[k].body, r.err);
        cr_assert_not_null(strstr(r.err, cases[k].want), "'%s' not in %s", cases[k].want, r.err);
        cli_result_free(&r);
        cr_assert_eq(access(out, F_OK), -1, "%s created for a bad sweep", out);
    }
    cli_result r;
    cr_assert_eq(cli_run((const char *const[]){"sweep", "--wait", path_in("x.yaml"), NULL}, &r), 0);
    cr_assert_eq(r.status, 2);
    cli_result_free(&r);
    cr_assert_eq(cli_run((const char *const[]){"sweep", path_in("none.yaml"), NULL}, &r), 0);
    cr_assert_eq(r.status, 2);
    cr_assert_not_null(strstr(r.err, "cannot open sweep file"), "%s", r.err);
    cli_result_free(&r);
}

Test(sweep_cli, interrupt_stops_the_workers_cleanly, .init = setup, .fini = teardown,
     .timeout = 120)
{
    char *sweep = write_sweep("s.yaml", "grid:\n  policy.threshold_g_per_kwh: {from: 60, to: "
                                        "200, step: 10}\n  sites.count: [3]\n");
    char *out = path_in("out");
    const char *bin = getenv("SW_SPILLWAY");
    if (!bin)
        bin = SW_BINARY_DIR "/spillway";
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 2);
        execl(bin, bin, "sweep", sweep, "-j", "2", "-o", out, (char *)NULL);
        _exit(127);
    }
    char pat[600];
    snprintf(pat, sizeof pat, "%s/points/p*.h5", out);
    for (int k = 0; k < 600 && count_files(pat) == 0; k++)
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    cr_assert_gt(count_files(pat), 0, "no point finished in 30 s");
    kill(pid, SIGINT);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "status %d", st);
    snprintf(pat, sizeof pat, "%s/points/*.tmp-*", out);
    cr_assert_eq(count_files(pat), 0, "temporary files left");
    /* The workers are gone: their process groups no longer exist. */
    snprintf(pat, sizeof pat, "%s/points/p*.h5", out);
    size_t done = count_files(pat);
    cr_assert_lt(done, 15, "the sweep was not interrupted");
    /* Resuming finishes the rest. */
    cli_result r;
    cr_assert_eq(cli_run((const char *const[]){"sweep", sweep, "-j", "2", "-o", out, NULL}, &r), 0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
    cr_assert_eq(count_files(pat), 15);
}
