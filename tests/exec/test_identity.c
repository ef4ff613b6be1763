/* test_identity.c - a CURVE key allowed for one site cannot act as another (issue 13): with a
 * static deployment whose allow list maps key A to site a and key B to site b, an agent with
 * key A joining as b is refused (REJECT naming the key's sites, exit 2, a line in the
 * coordinator's log), while the honest agents of a and b complete the run. */
#include "exec_main.c.inc"

#include "core/fsutil.h"
#include "exec/auth.h"

static void self_exe(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
}

/* DIR/<name>/agent.key with its own keypair and the coordinator's public key beside it. */
static void agent_keys(const char *dir, const char *name, const char *coord_pub, sw_keypair *kp)
{
    char sub[800], path[900];
    sw_error err;
    snprintf(sub, sizeof sub, "%s/%s", dir, name);
    cr_assert_eq(sw_keys_write(sub, "agent", false, kp, &err), SW_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/coordinator.pub", sub);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n", coord_pub);
    fclose(f);
}

static pid_t start_agent(const char *exe, const char *dir, const char *ep, const char *site,
                         const char *keys, const char *log_name)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char lp[900], kd[900];
        snprintf(lp, sizeof lp, "%s/%s.log", dir, log_name);
        snprintf(kd, sizeof kd, "%s/%s", dir, keys);
        int fd = open(lp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(exe, exe, "agent", "--coordinator", ep, "--site", site, "--keys", kd,
              "--coordinator-timeout", "30", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

Test(identity, a_key_allowed_for_site_a_cannot_join_as_site_b, .timeout = 120)
{
    char dir[512], out[600], logp[600], ep[700], exe[1024], keys[700], path[900];
    test_dir(dir, sizeof dir, "identity");
    snprintf(logp, sizeof logp, "%s/coord.log", dir);
    snprintf(ep, sizeof ep, "ipc://%s/coord.sock", dir);
    snprintf(keys, sizeof keys, "%s/coord-keys", dir);
    self_exe(exe, sizeof exe);
    sw_keypair ck, ka, kb;
    sw_error err;
    cr_assert_eq(sw_keys_write(keys, "coordinator", false, &ck, &err), SW_OK, "%s", err.msg);
    agent_keys(dir, "keys-a", ck.pub, &ka);
    agent_keys(dir, "keys-b", ck.pub, &kb);
    /* the allow list: authorized/a.pub holds key A (site a by its name), b.pub key B */
    snprintf(path, sizeof path, "%s/authorized", keys);
    cr_assert_eq(sw_mkdir_p(path, 0700, &err), SW_OK, "%s", err.msg);
    const char *names[2] = {"a", "b"};
    const sw_keypair *kps[2] = {&ka, &kb};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/authorized/%s.pub", keys, names[i]);
        FILE *f = fopen(path, "w");
        fprintf(f, "%s\n", kps[i]->pub);
        fclose(f);
    }

    FILE *log = fopen(logp, "w");
    sw_scenario sc;
    fault_scenario(&sc, "");
    sw_coord_options o;
    coord_opts(&o, &sc, dir, out, sizeof out, log);
    o.provisioner = SW_PROVISIONER_STATIC;
    o.listen = ep;
    o.keys_dir = keys;
    /* the impostor first: key A as site b, then the honest agents */
    pid_t impostor = start_agent(exe, dir, ep, "b", "keys-a", "impostor");
    pid_t agents[2];
    agents[0] = start_agent(exe, dir, ep, "a", "keys-a", "agent-a");
    agents[1] = start_agent(exe, dir, ep, "b", "keys-b", "agent-b");
    sw_coord_result res;
    int rc = sw_coord_run(&o, &res, &err);
    fclose(log);
    int st = 0;
    double t0 = now_mono();
    pid_t done = 0;
    while ((done = waitpid(impostor, &st, WNOHANG)) == 0 && now_mono() - t0 < 10)
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    if (done == 0) {
        kill(impostor, SIGKILL);
        waitpid(impostor, &st, 0);
    }
    for (int i = 0; i < 2; i++) {
        kill(agents[i], SIGTERM);
        waitpid(agents[i], NULL, 0);
    }
    cr_assert_eq(rc, SW_OK, "%s", err.msg);
    cr_assert_eq(res.failures, 0);
    cr_assert_geq(res.rounds, 3);
    cr_assert(done == impostor && WIFEXITED(st) && WEXITSTATUS(st) == 2,
              "the impostor should exit 2 on its REJECT (status %d)", st);
    char *ilog = slurp((snprintf(path, sizeof path, "%s/impostor.log", dir), path));
    cr_assert(strstr(ilog, "refused site b") && strstr(ilog, "may act as a, not as 'b'"), "%s",
              ilog);
    char *clog = slurp(logp);
    cr_assert(strstr(clog, "join of 'b' refused") && strstr(clog, ka.pub), "%s", clog);
    /* site b's rounds were trained by key B's agent: every round had both sites */
    sw_report_data *d;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    size_t both = 0;
    for (size_t i = 0; i < d->n_rounds; i++)
        both += d->rounds[i].n_sites == 2;
    cr_assert_geq(both, 1, "no federated round with both sites");
    sw_report_data_free(d);
    sw_scenario_free(&sc);
    test_dir_done(dir);
}
