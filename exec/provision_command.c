/* provision_command.c - the command provisioner (see provision.h): user shell commands
 * (Slurm, Kubernetes, a cloud CLI) provision and release a site, under `sh -c` in their own
 * process group with SW_SITE, SW_COORDINATOR and SW_KEYS set, a time limit (sw_prov_poll),
 * and their output appended to RUN_DIR/<site>.cmd.log. */
#include "exec/provision.h"
#include "exec/fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t spawn_cmd(const sw_provisioner *p, const char *site, const char *cmd, sw_error *err)
{
    pid_t pid = fork();
    if (pid < 0)
        return sw_errorf(err, SW_ERUNTIME, "command for %s: fork: %s", site, strerror(errno)), -1;
    if (pid == 0) {
        setpgid(0, 0); /* its own group, so a timeout can kill the whole pipeline */
        sw_prov_redirect_output(p, site, ".cmd.log");
        setenv("SW_SITE", site, 1);
        setenv("SW_COORDINATOR", p->coordinator ? p->coordinator : "", 1);
        setenv("SW_KEYS", p->keys_root ? p->keys_root : "", 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

static int command_up(const sw_provisioner *p, const char *site, sw_prov_site *ps, double now_mono,
                      sw_error *err)
{
    if (ps->cmd_pid > 0 && ps->cmd_is_release) { /* never cut a release short */
        ps->up_pending = true; /* sw_prov_poll provisions once the release has ended */
        if (p->log)
            fprintf(p->log,
                    "spillway coordinator: provision %s: waiting for the release command "
                    "(pid %d) to finish first\n",
                    site, (int)ps->cmd_pid);
        return SW_OK;
    }
    if (ps->cmd_pid > 0) {
        kill(-ps->cmd_pid, SIGKILL);
        waitpid(ps->cmd_pid, NULL, 0);
    }
    ps->up_pending = false;
    pid_t pid = spawn_cmd(p, site, p->provision_cmd, err);
    if (pid < 0)
        return SW_ERUNTIME;
    ps->cmd_pid = pid;
    ps->cmd_is_release = false;
    ps->cmd_deadline = now_mono + p->cmd_timeout_s;
    if (p->log)
        fprintf(p->log, "spillway coordinator: provision %s: running `%s` (pid %d)\n", site,
                p->provision_cmd, (int)pid);
    return SW_OK;
}

static int command_down(const sw_provisioner *p, const char *site, sw_prov_site *ps, bool failed,
                        double now_mono, sw_error *err)
{
    (void)failed;
    if (ps->up_pending) { /* provisioned and released while the last release still ran */
        ps->up_pending = false;
        return SW_OK;
    }
    if (ps->cmd_pid > 0) { /* a provision command still running is moot now */
        kill(-ps->cmd_pid, SIGKILL);
        waitpid(ps->cmd_pid, NULL, 0);
        ps->cmd_pid = 0;
    }
    if (!p->release_cmd)
        return SW_OK;
    pid_t pid = spawn_cmd(p, site, p->release_cmd, err);
    if (pid < 0)
        return SW_ERUNTIME;
    ps->cmd_pid = pid;
    ps->cmd_is_release = true;
    ps->cmd_deadline = now_mono + p->cmd_timeout_s;
    if (p->log)
        fprintf(p->log, "spillway coordinator: release %s: running `%s` (pid %d)\n", site,
                p->release_cmd, (int)pid);
    return SW_OK;
}

const sw_prov_ops sw_prov_command_ops = {.name = "command",
                                         .agents_stay = false,
                                         .joins_unasked = false,
                                         .up = command_up,
                                         .down = command_down};
