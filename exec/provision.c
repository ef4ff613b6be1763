/* provision.c - local, command and static provisioners (see provision.h). */
#include "exec/provision.h"
#include "exec/fmt.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Child side: output to RUN_DIR/<site><suffix>, appended. */
static void redirect_output(const sw_provisioner *p, const char *site, const char *suffix)
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

static pid_t spawn_agent(const sw_provisioner *p, const char *site, sw_error *err)
{
    const char *exe = p->agent_exe ? p->agent_exe : "/proc/self/exe";
    char keys[4096];
    if (p->keys_root)
        sw_pathf(keys, sizeof keys, "%s/site-%s", p->keys_root, site);
    pid_t pid = fork();
    if (pid < 0)
        return sw_errorf(err, SW_ERUNTIME, "provision %s: fork: %s", site, strerror(errno)), -1;
    if (pid == 0) {
        /* A local site dies with its coordinator instead of training for nobody. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        redirect_output(p, site, ".agent.log");
        const char *argv[12];
        int k = 0;
        argv[k++] = exe;
        argv[k++] = "agent";
        argv[k++] = "--coordinator";
        argv[k++] = p->coordinator;
        argv[k++] = "--site";
        argv[k++] = site;
        if (p->keys_root) {
            argv[k++] = "--keys";
            argv[k++] = keys;
        }
        argv[k++] = "--coordinator-timeout";
        argv[k++] = "15";
        argv[k] = NULL;
        execv(exe, (char *const *)argv);
        fprintf(stderr, "spillway: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    return pid;
}

static pid_t spawn_cmd(const sw_provisioner *p, const char *site, const char *cmd, sw_error *err)
{
    pid_t pid = fork();
    if (pid < 0)
        return sw_errorf(err, SW_ERUNTIME, "command for %s: fork: %s", site, strerror(errno)), -1;
    if (pid == 0) {
        setpgid(0, 0); /* its own group, so a timeout can kill the whole pipeline */
        redirect_output(p, site, ".cmd.log");
        setenv("SW_SITE", site, 1);
        setenv("SW_COORDINATOR", p->coordinator ? p->coordinator : "", 1);
        setenv("SW_KEYS", p->keys_root ? p->keys_root : "", 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

int sw_prov_up(const sw_provisioner *p, const char *site, sw_prov_site *ps, double now_mono,
               sw_error *err)
{
    ps->down = false;
    switch (p->kind) {
    case SW_PROVISIONER_LOCAL: {
        if (ps->agent_pid > 0) { /* a previous agent still exiting: make sure it is gone */
            kill(ps->agent_pid, SIGKILL);
            waitpid(ps->agent_pid, NULL, 0);
        }
        pid_t pid = spawn_agent(p, site, err);
        if (pid < 0)
            return SW_ERUNTIME;
        *ps = (sw_prov_site){.agent_pid = pid};
        if (p->log)
            fprintf(p->log, "spillway coordinator: provision %s: started agent pid %d\n", site,
                    (int)pid);
        return SW_OK;
    }
    case SW_PROVISIONER_COMMAND: {
        if (ps->cmd_pid > 0 && ps->cmd_is_release) { /* never cut a release short */
            ps->up_pending = true;
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
    default:
        return SW_OK;
    }
}

int sw_prov_down(const sw_provisioner *p, const char *site, sw_prov_site *ps, bool failed,
                 double now_mono, sw_error *err)
{
    if (ps->down) {
        if (failed && p->kind == SW_PROVISIONER_LOCAL && ps->agent_pid > 0)
            kill(ps->agent_pid, SIGKILL);
        return SW_OK;
    }
    ps->down = true;
    switch (p->kind) {
    case SW_PROVISIONER_LOCAL:
        if (ps->agent_pid > 0) {
            if (failed)
                kill(ps->agent_pid, SIGKILL);
            ps->term_at = now_mono + 3.0;
        }
        return SW_OK;
    case SW_PROVISIONER_COMMAND: {
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
    default:
        return SW_OK;
    }
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
