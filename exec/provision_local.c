/* provision_local.c - the local provisioner (see provision.h): a site is a `spillway agent`
 * process on this machine, started on provision; released by the RELEASE message (it exits),
 * then SIGTERM and SIGKILL if it lingers (sw_prov_poll). */
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
        sw_prov_redirect_output(p, site, ".agent.log");
        const char *argv[14];
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
        if (p->backend) {
            argv[k++] = "--backend";
            argv[k++] = p->backend;
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

static int local_up(const sw_provisioner *p, const char *site, sw_prov_site *ps, double now_mono,
                    sw_error *err)
{
    (void)now_mono;
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

static int local_down(const sw_provisioner *p, const char *site, sw_prov_site *ps, bool failed,
                      double now_mono, sw_error *err)
{
    (void)p;
    (void)site;
    (void)err;
    if (ps->agent_pid > 0) {
        if (failed)
            kill(ps->agent_pid, SIGKILL);
        ps->term_at = now_mono + 3.0;
    }
    return SW_OK;
}

const sw_prov_ops sw_prov_local_ops = {.name = "local",
                                       .agents_stay = false,
                                       .joins_unasked = false,
                                       .up = local_up,
                                       .down = local_down};
