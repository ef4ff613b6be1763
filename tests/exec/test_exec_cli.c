/* test_exec_cli.c - `spillway exec` end to end through the real binary (its local sites are
 * `spillway agent` processes), and the usage errors of the exec commands (exit 2, naming the
 * flag). */
/* every test here runs the binary: without it the executable is skipped (test_require.h) */
#define SW_TEST_NEEDS_SPILLWAY 1
#include "exec_main.c.inc"

/* Runs `spillway ARGS` through the shell; returns the exit status, stderr in err. */
static int spillway(const char *args, char *err, size_t cap)
{
    const char *bin = getenv("SW_SPILLWAY");
    char cmd[4096], errf[128];
    snprintf(errf, sizeof errf, "/tmp/sw-exec-cli-%d.err", (int)getpid());
    snprintf(cmd, sizeof cmd, "'%s' %s > /dev/null 2> '%s'", bin, args, errf);
    int st = system(cmd);
    FILE *f = fopen(errf, "r");
    size_t n = f ? fread(err, 1, cap - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    unlink(errf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Runs `timeout ARGS` through the shell; 0 if the command ran until the timeout stopped it
 * (status 124) or exited 0, its status otherwise; stderr in err. */
static int timeout_run(const char *args, char *err, size_t cap)
{
    char cmd[4096], errf[128];
    snprintf(errf, sizeof errf, "/tmp/sw-exec-cli-%d.err", (int)getpid());
    snprintf(cmd, sizeof cmd, "timeout %s > /dev/null 2> '%s'", args, errf);
    int st = system(cmd);
    FILE *f = fopen(errf, "r");
    size_t n = f ? fread(err, 1, cap - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    unlink(errf);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return code == 124 ? 0 : code;
}

Test(exec_cli, exec_runs_a_scenario_with_agent_processes, .timeout = 120)
{
    unsetenv("BXFI_MAP"); /* see coord_opts */
    char dir[512], path[600], args[2000], err[8192];
    test_dir(dir, sizeof dir, "cli");
    snprintf(path, sizeof path, "%s/s.yaml", dir);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "name: cli\n"
            "trace: {file: %s/traces/mci_2026-01-11.csv, start: 2026-01-11T17:00:00Z, "
            "end: 2026-01-11T18:30:00Z}\n"
            "policy: {kind: always_on}\n"
            "rounds: {min_duration_s: 600}\n"
            "model: {tokens: 1.0e6}\n"
            "exec: {time_compression: 600, preset: tiny, batch: 2, seq: 32}\n"
            "sites:\n"
            "  - {name: a, region: CAISO_NORTH, provision_s: 60}\n"
            "  - {name: b, region: NEM_SA, provision_s: 60}\n",
            SW_SOURCE_DIR);
    fclose(f);
    snprintf(args, sizeof args,
             "exec '%s' -o '%s/r.h5' --quiet --data '%s/corpus/tinyshakespeare.txt'", path, dir,
             SW_SOURCE_DIR);
    cr_assert_eq(spillway(args, err, sizeof err), 0, "%s", err);
    sw_report_data *d;
    sw_error e;
    char out[700];
    snprintf(out, sizeof out, "%s/r.h5", dir);
    cr_assert_eq(sw_report_open(out, &d, &e), SW_OK, "%s", e.msg);
    cr_assert_eq(d->mode, SW_REPORT_EXEC);
    cr_assert_eq(d->loss_kind, SW_REPORT_LOSS_MEASURED);
    cr_assert_geq(d->n_rounds, 2);
    cr_assert_gt(d->summary.tokens, 0);
    cr_assert_gt(d->sites[0].n_train, 0, "no training rows from site a's agent");
    cr_assert_lt(d->global[d->n_global - 1].loss, d->global[0].loss, "the model did not learn");
    sw_report_data_free(d);
    test_dir_done(dir);
}

Test(exec_cli, usage_errors_exit_2_naming_the_flag)
{
    struct {
        const char *args, *expect;
    } cases[] = {
        {"exec", "SCENARIO"},
        {"exec scenarios/local.yaml --bogus", "--bogus"},
        {"exec scenarios/local.yaml --heartbeat-timeout 0", "--heartbeat-timeout"},
        {"coordinator scenarios/local.yaml", "--listen"},
        {"coordinator scenarios/local.yaml --listen tcp://127.0.0.1:0 --provisioner cloud",
         "--provisioner"},
        {"coordinator scenarios/local.yaml --listen tcp://127.0.0.1:0 --provisioner command",
         "--provision-cmd"},
        {"agent --site a", "--coordinator"},
        {"agent --coordinator tcp://127.0.0.1:1", "--site"},
        {"agent --coordinator tcp://127.0.0.1:1 --site a --backend tpu", "--backend"},
        {"exec scenarios/local.yaml --set exec.backend=tpu -o /tmp/sw-never.h5", "exec.backend"},
        {"keygen", "-o"},
        /* fields of the WELCOME and JOIN messages: too long is an error, not cut */
        {"exec scenarios/local.yaml --data "
         "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "expected at most 255"},
        {"agent --coordinator tcp://127.0.0.1:1 --site "
         "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss",
         "--site: 68 bytes, expected at most 63"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[4096];
        cr_assert_eq(spillway(cases[i].args, err, sizeof err), 2, "`%s`: %s", cases[i].args, err);
        cr_assert(strstr(err, cases[i].expect), "`%s`: '%s' lacks %s", cases[i].args, err,
                  cases[i].expect);
    }
    char err[4096];
    cr_assert_eq(spillway("exec --help", err, sizeof err), 0);
    cr_assert_eq(spillway("agent --help", err, sizeof err), 0);
    cr_assert_eq(spillway("coordinator --help", err, sizeof err), 0);
    cr_assert_eq(spillway("keygen --help", err, sizeof err), 0);
}

/* A run stopped by SIGTERM before its end releases its sites, writes its report marked
 * incomplete (complete = 0, the reason) and exits 1: a runtime end, not an input error. */
Test(exec_cli, a_run_stopped_by_a_signal_writes_an_incomplete_report_and_exits_1, .timeout = 120)
{
    unsetenv("BXFI_MAP"); /* see coord_opts */
    char dir[512], path[600], out[700], logp[700];
    test_dir(dir, sizeof dir, "cli-sigterm");
    snprintf(path, sizeof path, "%s/s.yaml", dir);
    snprintf(out, sizeof out, "%s/r.h5", dir);
    snprintf(logp, sizeof logp, "%s/exec.log", dir);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "name: sigterm\n"
            "trace: {file: %s/traces/mci_2026-01-11.csv, start: 2026-01-11T17:00:00Z}\n"
            "policy: {kind: always_on}\n"
            "exec: {time_compression: 60, preset: tiny, batch: 2, seq: 32}\n"
            "sites:\n"
            "  - {name: a, region: CAISO_NORTH, provision_s: 60}\n",
            SW_SOURCE_DIR);
    fclose(f);
    char data[600];
    snprintf(data, sizeof data, "%s/corpus/tinyshakespeare.txt", SW_SOURCE_DIR);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(getenv("SW_SPILLWAY"), "spillway", "exec", path, "-o", out, "--data", data,
              (char *)NULL);
        _exit(127);
    }
    sleep(6); /* into the first round (18 h of trace at 60x: the run is far from its end) */
    kill(pid, SIGTERM);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "killed instead of ending (see %s)", logp);
    cr_assert_eq(WEXITSTATUS(st), 1, "exit status (see %s)", logp);
    sw_report_data *d;
    sw_error e;
    cr_assert_eq(sw_report_open(out, &d, &e), SW_OK, "%s", e.msg);
    cr_assert_not(d->complete);
    cr_assert(strstr(d->incomplete_reason, "signal"), "%s", d->incomplete_reason);
    cr_assert_eq(d->sites[0].states[d->sites[0].n_states - 1].state, SW_REPORT_STATE_OFF);
    sw_report_data_free(d);
    test_dir_done(dir);
}

/* Issue 13: without keys, a coordinator on a non-loopback address refuses to start (exit 2,
 * naming --listen, nothing written) unless --insecure, which then warns on every start. */
Test(exec_cli, plaintext_coordinator_on_a_public_address_needs_insecure, .timeout = 60)
{
    char dir[512], args[1600], err[8192], path[700];
    test_dir(dir, sizeof dir, "plain");
    snprintf(args, sizeof args,
             "coordinator scenarios/local.yaml --listen tcp://0.0.0.0:0 --provisioner static "
             "-o %s/r.h5",
             dir);
    cr_assert_eq(spillway(args, err, sizeof err), 2, "%s", err);
    cr_assert(strstr(err, "--listen tcp://0.0.0.0:0") && strstr(err, "--insecure"), "%s", err);
    snprintf(path, sizeof path, "%s/r.h5.run", dir);
    cr_assert_neq(access(path, F_OK), 0, "a refused start left %s", path);
    /* with --insecure it starts and warns, even when --quiet (stopped after 2 s by timeout) */
    snprintf(args, sizeof args,
             "coordinator scenarios/local.yaml --listen tcp://0.0.0.0:0 --provisioner static "
             "-o %s/r.h5 --insecure --quiet",
             dir);
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "-s INT 2 '%s' %s", getenv("SW_SPILLWAY"), args);
    cr_assert_eq(timeout_run(cmd, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(err, "WARNING: --insecure") && strstr(err, "tcp://0.0.0.0:0"), "%s", err);
    test_dir_done(dir);
}

Test(exec_cli, keygen_refuses_to_overwrite_unless_force)
{
    char dir[512], args[1200], err[8192], path[700];
    test_dir(dir, sizeof dir, "keygen");
    snprintf(args, sizeof args, "keygen -o %s/k --name agent", dir);
    cr_assert_eq(spillway(args, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/k/agent.key", dir);
    char before[200] = "", after[200] = "";
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert(fread(before, 1, sizeof before - 1, f) > 0);
    fclose(f);
    cr_assert_eq(spillway(args, err, sizeof err), 2, "%s", err);
    cr_assert(strstr(err, "agent.key") && strstr(err, "--force"), "%s", err);
    f = fopen(path, "r");
    cr_assert(fread(after, 1, sizeof after - 1, f) > 0);
    fclose(f);
    cr_assert_str_eq(before, after, "the key was kept");
    snprintf(args, sizeof args, "keygen -o %s/k --name agent --force", dir);
    cr_assert_eq(spillway(args, err, sizeof err), 0, "%s", err);
    test_dir_done(dir);
}
