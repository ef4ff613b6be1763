/* provision.c - the provisioners' common part (see provision.h): dispatch to a kind's
 * operations, reaping and time limits of the processes a site holds, and the end-of-run
 * cleanup. The kinds are provision_local.c, provision_command.c and provision_static.c. */
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

const sw_prov_ops *sw_prov_ops_of(sw_provisioner_kind kind)
{
    switch (kind) {
    case SW_PROVISIONER_LOCAL:
        return &sw_prov_local_ops;
    case SW_PROVISIONER_COMMAND:
        return &sw_prov_command_ops;
    case SW_PROVISIONER_STATIC:
        return &sw_prov_static_ops;
    }
    return NULL;
}

static const sw_prov_ops *ops(const sw_provisioner *p)
{
    return p->ops ? p->ops : sw_prov_ops_of(p->kind);
}

/* Child side: output to RUN_DIR/<site><suffix>, appended. */
void sw_prov_redirect_output(const sw_provisioner *p, const char *site, const char *suffix)
{
    char path[4096];
    sw_pathf(path, sizeof path, "%s/%s%s", p->run_dir ? p->run_dir : ".", site, suffix);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0) {
        dup2(nul, STDIN_FILENO);
        close(nul);
    }
    /* Nothing else of the coordinator's goes along: an inherited descriptor of the report
     * would keep HDF5's lock on it alive in a long-lived agent, and ZeroMQ's sockets and
     * event fds belong to the coordinator alone. */
    long max = sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
        close(fd);
}

int sw_prov_up(const sw_provisioner *p, const char *site, sw_prov_site *ps, double now_mono,
               sw_error *err)
{
    ps->down = false;
    return ops(p)->up(p, site, ps, now_mono, err);
}

int sw_prov_down(const sw_provisioner *p, const char *site, sw_prov_site *ps, bool failed,
                 double now_mono, sw_error *err)
{
    if (ps->down) { /* released already; a failure still kills a lingering agent */
        if (failed && ps->agent_pid > 0)
            kill(ps->agent_pid, SIGKILL);
        return SW_OK;
    }
    ps->down = true;
    return ops(p)->down(p, site, ps, failed, now_mono, err);
}

void sw_prov_poll(const sw_provisioner *p, const char *site, sw_prov_site *ps, double now_mono,
                  bool *failed, char *why, size_t why_cap)
{
    *failed = false;
    int status;
    if (ps->agent_pid > 0) {
        pid_t r = waitpid(ps->agent_pid, &status, WNOHANG);
        if (r == ps->agent_pid) {
            ps->agent_pid = 0;
            ps->term_at = 0;
        } else if (ps->term_at > 0 && now_mono > ps->term_at) {
            kill(ps->agent_pid, now_mono > ps->term_at + 3.0 ? SIGKILL : SIGTERM);
        }
    }
    if (ps->cmd_pid > 0) {
        pid_t r = waitpid(ps->cmd_pid, &status, WNOHANG);
        const char *what = ps->cmd_is_release ? "release" : "provision";
        if (r == ps->cmd_pid) {
            ps->cmd_pid = 0;
            bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (p->log)
                fprintf(p->log,
                        "spillway coordinator: %s %s: command %s (status %d); output in "
                        "%s/%s.cmd.log\n",
                        what, site, ok ? "finished" : "FAILED",
                        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                        p->run_dir ? p->run_dir : ".", site);
            if (!ok && !ps->cmd_is_release) {
                *failed = true;
                sw_pathf(why, why_cap, "provision command failed");
            }
        } else if (now_mono > ps->cmd_deadline) {
            kill(-ps->cmd_pid, SIGKILL);
            waitpid(ps->cmd_pid, NULL, 0);
            ps->cmd_pid = 0;
            if (p->log)
                fprintf(p->log, "spillway coordinator: %s %s: command timed out after %.0f s\n",
                        what, site, p->cmd_timeout_s);
            if (!ps->cmd_is_release) {
                *failed = true;
                sw_pathf(why, why_cap, "provision command timed out");
            }
        }
    }
    if (ps->up_pending && ps->cmd_pid == 0) { /* the release is over: provision now */
        sw_error e;
        if (sw_prov_up(p, site, ps, now_mono, &e) != SW_OK) {
            *failed = true;
            sw_pathf(why, why_cap, "%s", e.msg);
        }
    }
    if (p->log)
        fflush(p->log);
}

void sw_prov_cleanup(sw_prov_site *ps)
{
    if (ps->agent_pid > 0) {
        kill(ps->agent_pid, SIGTERM);
        for (int i = 0; i < 200; i++) { /* up to 2 s to leave gracefully */
            if (waitpid(ps->agent_pid, NULL, WNOHANG) == ps->agent_pid) {
                ps->agent_pid = 0;
                break;
            }
            nanosleep(&(struct timespec){0, 10000000}, NULL);
        }
        if (ps->agent_pid > 0) {
            kill(ps->agent_pid, SIGKILL);
            waitpid(ps->agent_pid, NULL, 0);
        }
        ps->agent_pid = 0;
    }
    if (ps->cmd_pid > 0 && ps->cmd_is_release) {
        /* a release command must finish (the site is paid for until it does): wait for it
         * up to its time limit */
        struct timespec t;
        do {
            if (waitpid(ps->cmd_pid, NULL, WNOHANG) == ps->cmd_pid) {
                ps->cmd_pid = 0;
                break;
            }
            nanosleep(&(struct timespec){0, 10000000}, NULL);
            clock_gettime(CLOCK_MONOTONIC, &t);
        } while ((double)t.tv_sec + 1e-9 * (double)t.tv_nsec < ps->cmd_deadline);
    }
    if (ps->cmd_pid > 0) {
        kill(-ps->cmd_pid, SIGKILL);
        waitpid(ps->cmd_pid, NULL, 0);
        ps->cmd_pid = 0;
    }
}
