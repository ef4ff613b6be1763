/* test_provision_order.c - the command provisioner never cuts a release command short: a
 * provision of the same site that comes while the release still runs starts only once it has
 * finished (or timed out), from sw_prov_poll (issue 13: it used to SIGKILL the release). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec/provision.h"

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void read_all(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Polls until the site runs no command and has no provision waiting, or `limit_s` passes. */
static void settle(const sw_provisioner *p, sw_prov_site *ps, double limit_s)
{
    double t0 = mono();
    while ((ps->cmd_pid > 0 || ps->up_pending) && mono() - t0 < limit_s) {
        bool failed;
        char why[256];
        sw_prov_poll(p, "s", ps, mono(), &failed, why, sizeof why);
        cr_assert_not(failed, "%s", why);
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
}

Test(provision_order, a_new_provision_waits_for_the_release_command, .timeout = 60)
{
    char dir[128], out[256], prov[512], rel[512], cmd[300];
    snprintf(dir, sizeof dir, "/tmp/sw-prov-order-%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(out, sizeof out, "%s/order.txt", dir);
    snprintf(prov, sizeof prov, "echo provision >> '%s'", out);
    snprintf(rel, sizeof rel, "sleep 1; echo release >> '%s'", out);
    sw_provisioner p = {.kind = SW_PROVISIONER_COMMAND,
                        .coordinator = "tcp://127.0.0.1:1",
                        .provision_cmd = prov,
                        .release_cmd = rel,
                        .cmd_timeout_s = 20,
                        .run_dir = dir};
    sw_prov_site ps = {0};
    sw_error err;
    cr_assert_eq(sw_prov_up(&p, "s", &ps, mono(), &err), SW_OK, "%s", err.msg);
    settle(&p, &ps, 10);
    cr_assert_eq(sw_prov_down(&p, "s", &ps, false, mono(), &err), SW_OK, "%s", err.msg);
    cr_assert_gt(ps.cmd_pid, 0, "the release command runs");
    /* provisioned again at once: the release (1 s) must not be killed */
    cr_assert_eq(sw_prov_up(&p, "s", &ps, mono(), &err), SW_OK, "%s", err.msg);
    cr_assert(ps.up_pending && ps.cmd_is_release, "the provision waits");
    settle(&p, &ps, 10);
    char text[256];
    read_all(out, text, sizeof text);
    cr_assert_str_eq(text, "provision\nrelease\nprovision\n");

    /* provisioned and released again while a release runs: nothing waits, the running
     * release is left to finish */
    cr_assert_eq(sw_prov_down(&p, "s", &ps, false, mono(), &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_prov_up(&p, "s", &ps, mono(), &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_prov_down(&p, "s", &ps, false, mono(), &err), SW_OK, "%s", err.msg);
    cr_assert_not(ps.up_pending);
    settle(&p, &ps, 10);
    read_all(out, text, sizeof text);
    cr_assert_str_eq(text, "provision\nrelease\nprovision\nrelease\n");
    sw_prov_cleanup(&ps);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
