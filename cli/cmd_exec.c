/* cmd_exec.c - `spillway exec SCENARIO`: run a scenario for real on this machine (coordinator
 * plus one agent process per site), and the option parsing it shares with
 * `spillway coordinator` (cmd_coordinator.c). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "core/scenario.h"
#include "exec/coord.h"

#define MAX_SETS 64

/* Shared by cmd_coordinator.c (declared there). */
int sw_exec_cli(int argc, char **argv, bool coordinator);

static void usage(FILE *out, bool coordinator)
{
    if (coordinator)
        fprintf(out,
                "usage: spillway coordinator SCENARIO --listen ADDR [--advertise ADDR]\n"
                "         [--provisioner local|command|static] [--provision-cmd CMD]\n"
                "         [--release-cmd CMD] [--cmd-timeout S] [--keys DIR | --insecure]\n"
                "         [-o REPORT.h5] [--run-dir DIR] [--resume] [--set KEY=VALUE]...\n"
                "         [--data FILE] [--heartbeat-timeout S] [--quiet]\n\n"
                "Runs the coordinator of a real deployment: replays the scenario's trace in wall\n"
                "time (compressed by exec.time_compression), provisions and releases sites as\n"
                "the engine decides, and lets site agents (`spillway agent`) join at ADDR.\n\n"
                "  --listen ADDR        ZeroMQ endpoint to bind, e.g. tcp://0.0.0.0:5555\n"
                "  --advertise ADDR     address agents connect to (default: the bound one)\n"
                "  --provisioner KIND   local (agent processes here), command (your shell\n"
                "                       commands), static (agents already running); default:\n"
                "                       the scenario's exec.provisioner\n"
                "  --provision-cmd CMD  command provisioner: run with SW_SITE, SW_COORDINATOR\n"
                "                       and SW_KEYS set; must get an agent to join\n"
                "  --release-cmd CMD    command provisioner: run when a site is released\n"
                "  --cmd-timeout S      time limit of each command, s (120)\n"
                "  --keys DIR           CURVE: DIR/coordinator.key, DIR/authorized/SITE.pub\n"
                "                       (agents allowed, and as which sites); default: no\n"
                "                       CURVE unless local; a non-loopback ADDR needs keys\n"
                "  --insecure           no CURVE, even on a non-loopback ADDR (warns)\n");
    else
        fprintf(
            out,
            "usage: spillway exec SCENARIO [-o REPORT.h5] [--set KEY=VALUE]... [--run-dir DIR]\n"
            "         [--resume] [--insecure] [--data FILE] [--heartbeat-timeout S] [--quiet]\n\n"
            "Runs a scenario for real on this machine: a coordinator replays the trace in\n"
            "wall time compressed by exec.time_compression (trace s per wall s), starts one\n"
            "`spillway agent` process per site when the engine provisions it and stops it\n"
            "when released; the agents train exec.preset on their data shards in federated\n"
            "rounds. Writes the HDF5 report (mode exec, measured loss).\n\n");
    fprintf(out, "  -o FILE              report path (default results/<scenario name>.h5)\n"
                 "  --set KEY=VALUE      override a scenario field (repeatable)\n"
                 "  --run-dir DIR        checkpoint, agent logs and keys (default REPORT.run)\n"
                 "  --resume             continue from RUN_DIR/coordinator.ckpt if present\n"
                 "  --data FILE          corpus (default corpus/tinyshakespeare.txt)\n"
                 "  --heartbeat-timeout S  wall s of silence before a site is failed (5)\n"
                 "  --quiet              no log lines\n");
}

static int bad(const char *cmd, const char *flag, const char *what, const char *got)
{
    fprintf(stderr, "spillway %s: %s: %s%s%s%s\n", cmd, flag, what, got ? ", got '" : "",
            got ? got : "", got ? "'" : "");
    return SW_EXIT_USAGE;
}

int sw_exec_cli(int argc, char **argv, bool coordinator)
{
    const char *cmd = coordinator ? "coordinator" : "exec";
    sw_coord_options o;
    sw_coord_options_default(&o);
    o.log = stderr;
    const char *scenario = NULL, *out = NULL, *sets[MAX_SETS];
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, coordinator);
            return SW_EXIT_OK;
        }
        bool takes =
            !strcmp(a, "-o") || !strcmp(a, "--set") || !strcmp(a, "--run-dir") ||
            !strcmp(a, "--data") || !strcmp(a, "--heartbeat-timeout") ||
            (coordinator &&
             (!strcmp(a, "--listen") || !strcmp(a, "--advertise") || !strcmp(a, "--provisioner") ||
              !strcmp(a, "--provision-cmd") || !strcmp(a, "--release-cmd") ||
              !strcmp(a, "--cmd-timeout") || !strcmp(a, "--keys")));
        if (takes) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return bad(cmd, a, "expected a value", NULL);
            const char *v = argv[++i];
            if (!strcmp(a, "-o"))
                out = v;
            else if (!strcmp(a, "--set")) {
                if (n_sets == MAX_SETS)
                    return bad(cmd, a, "too many overrides", v);
                sets[n_sets++] = v;
            } else if (!strcmp(a, "--run-dir"))
                o.run_dir = v;
            else if (!strcmp(a, "--data"))
                o.data_path = v;
            else if (!strcmp(a, "--listen"))
                o.listen = v;
            else if (!strcmp(a, "--advertise"))
                o.advertise = v;
            else if (!strcmp(a, "--provision-cmd"))
                o.provision_cmd = v;
            else if (!strcmp(a, "--release-cmd"))
                o.release_cmd = v;
            else if (!strcmp(a, "--keys"))
                o.keys_dir = v;
            else if (!strcmp(a, "--provisioner")) {
                if (!strcmp(v, "local"))
                    o.provisioner = SW_PROVISIONER_LOCAL;
                else if (!strcmp(v, "command"))
                    o.provisioner = SW_PROVISIONER_COMMAND;
                else if (!strcmp(v, "static"))
                    o.provisioner = SW_PROVISIONER_STATIC;
                else
                    return bad(cmd, a, "expected local, command or static", v);
            } else { /* seconds */
                char *end;
                double s = strtod(v, &end);
                if (*end || !(s > 0) || !isfinite(s))
                    return bad(cmd, a, "expected a number of seconds > 0", v);
                if (!strcmp(a, "--cmd-timeout"))
                    o.cmd_timeout_s = s;
                else
                    o.heartbeat_timeout_s = s;
            }
        } else if (!strcmp(a, "--resume")) {
            o.resume = true;
        } else if (!strcmp(a, "--insecure")) {
            o.insecure = true;
        } else if (!strcmp(a, "--quiet")) {
            o.log = NULL;
        } else if (a[0] == '-' && a[1]) {
            return bad(cmd, a, "unknown flag (try --help)", NULL);
        } else if (!scenario) {
            scenario = a;
        } else {
            return bad(cmd, a, "unexpected argument (one SCENARIO)", NULL);
        }
    }
    if (!scenario)
        return bad(cmd, "SCENARIO", "missing (try --help)", NULL);
    if (coordinator && !o.listen)
        return bad(cmd, "--listen", "required", NULL);
    if (coordinator && o.keys_dir && o.insecure)
        return bad(cmd, "--insecure", "conflicts with --keys", NULL);
    sw_scenario sc;
    sw_error err;
    if (sw_scenario_load(scenario, sets, (size_t)n_sets, &sc, &err) != SW_OK) {
        fprintf(stderr, "spillway %s: %s\n", cmd, err.msg);
        return SW_EXIT_USAGE;
    }
    if (coordinator && o.provisioner == SW_PROVISIONER_COMMAND && !o.provision_cmd &&
        sc.exec.provisioner != SW_PROVISIONER_COMMAND) {
        sw_scenario_free(&sc);
        return bad(cmd, "--provision-cmd", "required with --provisioner command", NULL);
    }
    char path[4096];
    if (!out) {
        snprintf(path, sizeof path, "results/%s.h5", sc.name);
        out = path;
    }
    /* the report's folder */
    if (sw_mkdir_parent(out, &err) != SW_OK) {
        sw_scenario_free(&sc);
        return bad(cmd, "-o", err.msg, out);
    }
    o.sc = &sc;
    o.out_path = out;
    sw_coord_result res;
    int rc = sw_coord_run(&o, &res, &err);
    sw_scenario_free(&sc);
    if (rc != SW_OK) {
        fprintf(stderr, "spillway %s: %s\n", cmd, err.msg);
        return rc == SW_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
    }
    printf("%s: %lld rounds, %lld tokens, final ppl %.3f, %.4f kWh, %.4f kg CO2 (modelled power), "
           "%.0f s wall%s\n",
           out, (long long)res.rounds, (long long)res.tokens, res.final_ppl, res.energy_kwh,
           res.carbon_kg, res.wall_s, res.resumed ? ", resumed" : "");
    return SW_EXIT_OK;
}

int sw_cmd_exec(int argc, char **argv)
{
    return sw_exec_cli(argc, argv, false);
}
