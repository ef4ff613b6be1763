/* test_provisioners.c - the command provisioner (user shell commands start and release sites,
 * with their failures failing the site) and the static one (agents run by themselves and are
 * only gated by membership). */
#include "exec_main.c.inc"

static void self_exe(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
}

Test(provisioners, command_provisions_and_releases_sites, .timeout = 120)
{
    char dir[512], out[600], logp[600], exe[1024], up[2600], down[1200];
    test_dir(dir, sizeof dir, "command");
    snprintf(logp, sizeof logp, "%s/coord.log", dir);
    self_exe(exe, sizeof exe);
    /* site a comes up through the command; site b's command fails */
    snprintf(up, sizeof up,
             "if [ \"$SW_SITE\" = b ]; then echo 'no capacity' >&2; exit 3; fi; "
             "echo \"starting $SW_SITE for $SW_COORDINATOR\"; "
             "nohup '%s' agent --coordinator \"$SW_COORDINATOR\" --site \"$SW_SITE\" "
             "> '%s'/agent-$SW_SITE.log 2>&1 &",
             exe, dir);
    snprintf(down, sizeof down, "echo \"released $SW_SITE\" >> '%s'/released.txt", dir);
    FILE *log = fopen(logp, "w");
    sw_scenario sc;
    fault_scenario(&sc, "");
    sw_coord_options o;
    coord_opts(&o, &sc, dir, out, sizeof out, log);
    o.provisioner = SW_PROVISIONER_COMMAND;
    o.provision_cmd = up;
    o.release_cmd = down;
    o.cmd_timeout_s = 20;
    sw_coord_result res;
    sw_error err;
    int rc = sw_coord_run(&o, &res, &err);
    fclose(log);
    cr_assert_eq(rc, SW_OK, "%s", err.msg);
    cr_assert_geq(res.rounds, 1); /* a alone: one open-ended single-site round */
    cr_assert_gt(res.tokens, 0, "the commanded agent did not train");
    sw_report_data *d;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    bool b_failed = false;
    for (size_t i = 0; i < d->n_events; i++)
        if (d->events[i].kind == SW_REPORT_EV_FAIL && d->events[i].site == 1)
            b_failed = strstr(d->events[i].detail, "provision command failed") != NULL;
    cr_assert(b_failed, "site b's failing command did not fail the site");
    for (size_t i = 0; i < d->n_rounds; i++)
        cr_assert(!sw_report_mask_test(d->rounds[i].sites, 1));
    sw_report_data_free(d);
    /* outputs are logged where the docs say */
    char path[1300];
    snprintf(path, sizeof path, "%s/report.h5.run/a.cmd.log", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no command log for site a");
    char line[512] = "";
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_assert(strstr(line, "starting a for tcp://127.0.0.1:"), "%s", line);
    snprintf(path, sizeof path, "%s/report.h5.run/b.cmd.log", dir);
    f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_assert(strstr(line, "no capacity"));
    snprintf(path, sizeof path, "%s/released.txt", dir);
    f = fopen(path, "r");
    cr_assert_not_null(f, "the release command never ran");
    int released_b = 0, released_a = 0;
    while (fgets(line, sizeof line, f)) {
        released_a += !strcmp(line, "released a\n");
        released_b += !strcmp(line, "released b\n");
    }
    fclose(f);
    cr_assert_eq(released_a, 1);
    cr_assert_eq(released_b, 1, "the failed site must be released once");
    sw_scenario_free(&sc);
    test_dir_done(dir);
}

Test(provisioners, static_agents_join_by_themselves, .timeout = 120)
{
    char dir[512], out[600], logp[600], ep[700], exe[1024];
    test_dir(dir, sizeof dir, "static");
    snprintf(logp, sizeof logp, "%s/coord.log", dir);
    snprintf(ep, sizeof ep, "ipc://%s/coord.sock", dir);
    self_exe(exe, sizeof exe);
    FILE *log = fopen(logp, "w");
    sw_scenario sc;
    fault_scenario(&sc, "");
    sw_coord_options o;
    coord_opts(&o, &sc, dir, out, sizeof out, log);
    o.provisioner = SW_PROVISIONER_STATIC;
    o.listen = ep;
    pid_t agents[2];
    const char *names[2] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        agents[i] = fork();
        cr_assert_geq(agents[i], 0);
        if (agents[i] == 0) {
            char lp[700];
            snprintf(lp, sizeof lp, "%s/static-%s.log", dir, names[i]);
            int fd = open(lp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(fd, 1);
            dup2(fd, 2);
            execl(exe, exe, "agent", "--coordinator", ep, "--site", names[i], (char *)NULL);
            _exit(127);
        }
    }
    sw_coord_result res;
    sw_error err;
    int rc = sw_coord_run(&o, &res, &err);
    fclose(log);
    /* static agents stay connected through their releases; at the end of the run the
     * coordinator tells them it is over and they exit 0 (issue 13: they waited for the
     * silent coordinator and exited 1) */
    int status[2];
    for (int i = 0; i < 2; i++) {
        double t0 = now_mono();
        pid_t r;
        while ((r = waitpid(agents[i], &status[i], WNOHANG)) == 0 && now_mono() - t0 < 8)
            nanosleep(&(struct timespec){0, 20000000}, NULL);
        if (r == 0) {
            kill(agents[i], SIGKILL);
            waitpid(agents[i], &status[i], 0);
        }
    }
    cr_assert_eq(rc, SW_OK, "%s", err.msg);
    for (int i = 0; i < 2; i++)
        cr_assert(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0,
                  "static agent %s: status %d at the end of the run, expected exit 0", names[i],
                  status[i]);
    cr_assert_geq(res.rounds, 3);
    cr_assert_eq(res.failures, 0);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    size_t both = 0;
    for (size_t i = 0; i < d->n_rounds; i++)
        both += d->rounds[i].n_sites == 2;
    cr_assert_geq(both, 1, "no federated round with both static sites");
    sw_report_data_free(d);
    sw_scenario_free(&sc);
    test_dir_done(dir);
}
