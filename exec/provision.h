/* provision.h - how a site comes up and goes away: the provisioners of the coordinator.
 *
 *   local    the site is a local process: `<agent_exe> agent --coordinator ADDR --site NAME
 *            [--keys DIR]`, started on provision; released by a RELEASE message (it exits),
 *            then SIGTERM and SIGKILL if it lingers.
 *   command  user shell commands (Slurm, Kubernetes, a cloud CLI) provision and release the
 *            site; they run under `sh -c` with SW_SITE, SW_COORDINATOR and SW_KEYS in the
 *            environment, a time limit, and their output appended to RUN_DIR/<site>.cmd.log.
 *            The command must arrange for an agent to join (e.g. `sbatch` a job running
 *            `spillway agent`); a provision command that fails or times out fails the site.
 *   static   agents run all the time and join by themselves; provisioning and releasing only
 *            gate their membership (a released agent stays connected, idle).
 *
 * The provisioner never decides when: the engine does (PROVISION_SITE, RELEASE_SITE).
 */
#ifndef SW_EXEC_PROVISION_H
#define SW_EXEC_PROVISION_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/scenario.h"

typedef struct sw_prov_ops sw_prov_ops;

typedef struct sw_provisioner {
    sw_provisioner_kind kind;
    const sw_prov_ops *ops;    /* the kind's operations: sw_prov_ops_of(kind) */
    const char *agent_exe;     /* local: the spillway binary (NULL: /proc/self/exe) */
    const char *coordinator;   /* address agents connect to */
    const char *keys_root;     /* local: per-site key folders RUN/keys/site-<name>; NULL: none */
    const char *backend;       /* local: the agents' --backend (NULL: their default, cpu) */
    const char *provision_cmd; /* command: shell command to provision a site */
    const char *release_cmd;   /* command: shell command to release a site (may be NULL) */
    double cmd_timeout_s;      /* command: time limit of each command, wall s */
    const char *run_dir;       /* logs of agents and commands */
    FILE *log;
} sw_provisioner;

/* What a provisioner holds for one site. */
typedef struct sw_prov_site {
    pid_t agent_pid; /* local: the agent process, 0 if none */
    pid_t cmd_pid;   /* command: the running command, 0 if none */
    bool cmd_is_release;
    double cmd_deadline; /* monotonic s */
    double term_at;      /* local: when to SIGTERM a released agent that has not exited */
    bool down;           /* released (or failed) since the last provisioning */
    bool up_pending;     /* command: provisioned while the release command still ran; the
                          * provision command starts (sw_prov_poll) once that one ends */
} sw_prov_site;

/* A provisioner is one file with one table of operations (provision_local.c,
 * provision_command.c, provision_static.c); a new kind (Slurm, Kubernetes) is a new file with
 * its table, registered in sw_prov_ops_of. */
struct sw_prov_ops {
    const char *name;   /* "local", "command", "static" */
    bool agents_stay;   /* a released agent stays connected and idle (RELEASE with stay = 1) */
    bool joins_unasked; /* an agent may join a site that is not being provisioned */
    /* Start provisioning the site; SW_ERUNTIME if that cannot be started. */
    int (*up)(const sw_provisioner *p, const char *site, sw_prov_site *ps, double now_mono,
              sw_error *err);
    /* Release it (`failed`: it is lost, kill at once); called once per provisioning. */
    int (*down)(const sw_provisioner *p, const char *site, sw_prov_site *ps, bool failed,
                double now_mono, sw_error *err);
};

extern const sw_prov_ops sw_prov_local_ops, sw_prov_command_ops, sw_prov_static_ops;

/* The operations of a kind (NULL for an unknown one). */
const sw_prov_ops *sw_prov_ops_of(sw_provisioner_kind kind);

/* For provisioner files: in a forked child, send its output to RUN_DIR/<site><suffix>
 * (appended), stdin from /dev/null, and close every other descriptor. */
void sw_prov_redirect_output(const sw_provisioner *p, const char *site, const char *suffix);

/* Starts provisioning `site`. SW_ERUNTIME if the process or command cannot be started. A
 * release command of the site that is still running always finishes (or times out) first:
 * the provision command then starts from sw_prov_poll. */
int sw_prov_up(const sw_provisioner *p, const char *site, sw_prov_site *ps, double now_mono,
               sw_error *err);

/* Releases `site` (after the RELEASE message went out). `failed`: the site is lost, so a
 * local agent is killed at once. A second call before the next sw_prov_up does nothing (a
 * failed site is released by the engine too). */
int sw_prov_down(const sw_provisioner *p, const char *site, sw_prov_site *ps, bool failed,
                 double now_mono, sw_error *err);

/* Reaps finished processes and enforces time limits. Returns true in *failed when a provision
 * command failed or timed out (*why explains). A local agent that dies is noticed by its
 * silence (heartbeat timeout), as a remote one would be. */
void sw_prov_poll(const sw_provisioner *p, const char *site, sw_prov_site *ps, double now_mono,
                  bool *failed, char *why, size_t why_cap);

/* End of the run: waits for a release command (up to its time limit), kills and reaps
 * whatever else the site still runs. */
void sw_prov_cleanup(sw_prov_site *ps);

#endif
