/* cmd_sim.c - `spillway sim SCENARIO`: simulate a scenario (and, with --baselines, its
 * centralized and always-federated baselines) and write HDF5 reports. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/fsutil.h"
#include "core/report.h"
#include "core/run.h"
#include "core/scenario.h"
#include "kernels/manifest.h"
#include "sim/sim.h"

#define MAX_SETS      64
#define MAX_BASELINES (SW_SCENARIO_MAX_BASELINE_REGIONS + 1) /* + the federated one */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: spillway sim SCENARIO [-o REPORT.h5] [--set KEY=VALUE]... [--seed N]\n"
        "                    [--baselines] [--platform-xml FILE] [--quiet]\n\n"
        "Simulates a scenario (YAML, docs/formats/scenario.md) on SimGrid: sites are\n"
        "provisioned inside their curtailment windows, train in federated rounds, and\n"
        "every joule and gram of CO2 is accounted. Writes an HDF5 report\n"
        "(docs/formats/report.md); print it with `spillway summary`.\n\n"
        "  -o FILE            report path (default results/<scenario name>.h5)\n"
        "  --set KEY=VALUE    override a scenario field, e.g. --set policy.threshold_g_per_kwh=80\n"
        "                     or --set sites.0.region=SPP_TX (repeatable)\n"
        "  --seed N           same as --set seed=N\n"
        "  --baselines        also simulate the baselines: one site running continuously in\n"
        "                     each of trace.baseline_regions (centralized), and the first two\n"
        "                     sites always federated; written beside the report as\n"
        "                     <report>-central-<REGION>.h5 and <report>-federated2.h5, and\n"
        "                     their carbon stored in the report's summary\n"
        "  --platform-xml F   keep the generated SimGrid platform in F\n"
        "  --quiet            no progress bar\n");
}

typedef struct progress_state {
    struct timespec t0;
    bool tty;      /* stderr is a terminal: one line redrawn in place */
    bool shown;    /* something was printed (a final newline is owed on a terminal) */
    double last_s; /* host seconds since t0 at the last line drawn */
} progress_state;

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* Progress in simulated hours, the rate (simulated hours per host second) and the host time
 * left. On a terminal a bar redrawn at most 4 times a second, once the run has taken more than
 * a second; without one a line every 30 s and none for a shorter run. Reads the host clock only
 * here, so the datasets do not depend on it. */
static void progress(double now_s, double end_s, void *ud)
{
    progress_state *p = ud;
    double el = elapsed_s(&p->t0), f = end_s > 0 ? fmin(1.0, now_s / end_s) : 1.0;
    bool final = f >= 1.0;
    double gap_s = p->tty ? 0.25 : 30.0;
    if (final ? !p->shown && el < 1.0 : el < 1.0 || el - p->last_s < gap_s)
        return;
    p->shown = true;
    p->last_s = el;
    double rate = el > 0 ? now_s / 3600 / el : 0;
    char left[32] = "";
    if (!final && rate > 0)
        snprintf(left, sizeof left, ", %.0f s left", (end_s - now_s) / 3600 / rate);
    char line[160];
    int w = 30, k = (int)(f * w);
    snprintf(line, sizeof line, "[sim] [%.*s%*s] %3.0f%%  %.1f of %.1f simulated hours, %.0f h/s%s",
             k, "##############################", w - k, "", 100 * f, now_s / 3600, end_s / 3600,
             rate, left);
    if (p->tty)
        fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

/* printf into a malloc'd string (NULL only when out of memory). */
static char *xsprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xsprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

/* A site of the scenario as a YAML flow mapping, renamed and moved to another region. */
static char *site_flow(const sw_scenario_site *s, const char *name, const char *region)
{
    return xsprintf("{name: %s, region: %s, gpus: %d, gpu: %s, provision_s: %.17g, drain_s: %.17g, "
                    "pue: %.17g, power_w: {train: %.17g, idle: %.17g, off: %.17g}}",
                    name, region, s->gpus, s->gpu, s->provision_s, s->drain_s, s->pue,
                    s->power_w.train, s->power_w.idle, s->power_w.off);
}

typedef struct baseline {
    char *label; /* central-CAISO_NORTH, federated2 */
    char *sites; /* the `sites=` override */
    char *path;  /* its report */
    char *name;  /* the `name=` override: <scenario>-<label> */
    pid_t pid;
} baseline;

/* Runs one baseline as a child `spillway sim` (SimGrid runs once per process). */
static pid_t spawn_baseline(const char *self, const char *scenario, char **sets, int n_sets,
                            const baseline *b)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    char *argv[2 * MAX_SETS + 16];
    int k = 0;
    argv[k++] = (char *)self;
    argv[k++] = "sim";
    argv[k++] = (char *)scenario;
    for (int i = 0; i < n_sets; i++) {
        argv[k++] = "--set";
        argv[k++] = sets[i];
    }
    argv[k++] = "--set";
    argv[k++] = "policy.kind=always_on";
    argv[k++] = "--set";
    argv[k++] = (char *)b->sites;
    argv[k++] = "--set";
    argv[k++] = (char *)b->name;
    argv[k++] = "--quiet";
    argv[k++] = "-o";
    argv[k++] = (char *)b->path;
    argv[k] = NULL;
    execv(self, argv);
    _exit(127);
}

/* With exec.data, the run's token target is the dataset's (as exec trains it): the manifest's
 * training tokens, capped by model.tokens (sw_run_dataset_tokens). Only the manifest is read. */
static int dataset_tokens_target(const char *path, const sw_scenario *sc, uint64_t *tokens)
{
    *tokens = 0;
    if (!sc->exec.data)
        return SW_EXIT_OK;
    sw_manifest m;
    sw_kerror ke;
    if (sw_manifest_load(sc->exec.data, &m, &ke) != SW_K_OK) {
        fprintf(stderr, "spillway sim: %s: exec.data: %s\n", path, ke.msg);
        return SW_EXIT_USAGE;
    }
    *tokens = sw_run_dataset_tokens(sc, m.train_tokens,
                                    (uint64_t)sc->exec.batch * (uint64_t)sc->exec.seq);
    sw_manifest_free(&m);
    return SW_EXIT_OK;
}

int sw_cmd_sim(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *xml = NULL;
    char *sets[MAX_SETS + 1];
    int n_sets = 0;
    bool quiet = false, baselines = false;
    char seedbuf[64];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return SW_EXIT_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!sw_arg_string("sim", argc, argv, &i, &out))
                return SW_EXIT_USAGE;
        } else if (!strcmp(a, "--set") || !strcmp(a, "--seed")) {
            if (!sw_arg_string("sim", argc, argv, &i, &v))
                return SW_EXIT_USAGE;
            if (n_sets == MAX_SETS) {
                fprintf(stderr, "spillway sim: %s: at most %d overrides\n", a, MAX_SETS);
                return SW_EXIT_USAGE;
            }
            if (!strcmp(a, "--seed")) {
                char *end;
                errno = 0;
                unsigned long long s = strtoull(v, &end, 10);
                if (errno || end == v || *end || v[0] == '-') {
                    fprintf(stderr, "spillway sim: --seed: expected an integer >= 0, got '%s'\n",
                            v);
                    return SW_EXIT_USAGE;
                }
                snprintf(seedbuf, sizeof seedbuf, "seed=%llu", s);
                sets[n_sets++] = seedbuf;
            } else {
                if (!strchr(v, '=')) {
                    fprintf(stderr, "spillway sim: --set: expected KEY=VALUE, got '%s'\n", v);
                    return SW_EXIT_USAGE;
                }
                sets[n_sets++] = (char *)v;
            }
        } else if (!strcmp(a, "--platform-xml")) {
            if (!sw_arg_string("sim", argc, argv, &i, &xml))
                return SW_EXIT_USAGE;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = true;
        } else if (!strcmp(a, "--baselines")) {
            baselines = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "spillway sim: unknown option '%s' (try --help)\n", a);
            return SW_EXIT_USAGE;
        } else if (!path) {
            path = a;
        } else {
            fprintf(stderr, "spillway sim: unexpected argument '%s'\n", a);
            return SW_EXIT_USAGE;
        }
    }
    if (!path) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }

    sw_scenario sc;
    sw_error err;
    if (sw_scenario_load(path, (const char *const *)sets, (size_t)n_sets, &sc, &err) != SW_OK) {
        fprintf(stderr, "spillway sim: %s\n", err.msg);
        sw_scenario_free(&sc);
        return err.code == SW_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
    }
    char defout[4096];
    if (!out) {
        snprintf(defout, sizeof defout, "results/%s.h5", sc.name);
        out = defout;
    }
    if (sw_mkdir_parent(out, &err) != SW_OK) {
        fprintf(stderr, "spillway sim: -o %s: cannot create its folder: %s\n", out, err.msg);
        sw_scenario_free(&sc);
        return SW_EXIT_RUNTIME;
    }

    /* Baselines first, as child processes, two at a time; their carbon goes into our summary. */
    baseline bl[MAX_BASELINES];
    size_t n_bl = 0;
    sw_report_extra extras[2 * MAX_BASELINES];
    size_t n_extras = 0;
    int rc = SW_EXIT_OK;
    if (baselines) {
        char stem[4096];
        snprintf(stem, sizeof stem, "%s", out);
        size_t L = strlen(stem);
        if (L > 3 && !strcmp(stem + L - 3, ".h5"))
            stem[L - 3] = '\0';
        for (size_t i = 0; i < sc.trace.n_baseline_regions; i++) { /* <= MAX_BASELINES - 1 */
            baseline *b = &bl[n_bl++];
            const char *reg = sc.trace.baseline_regions[i];
            b->label = xsprintf("central-%s", reg);
            char *flow = site_flow(&sc.sites[0], b->label, reg);
            b->sites = xsprintf("sites=[%s]", flow);
            b->path = xsprintf("%s-%s.h5", stem, b->label);
            b->name = xsprintf("name=%s-%s", sc.name, b->label);
            free(flow);
        }
        if (sc.n_sites >= 2) {
            baseline *b = &bl[n_bl++];
            b->label = xsprintf("federated2");
            char *f0 = site_flow(&sc.sites[0], sc.sites[0].name, sc.sites[0].region);
            char *f1 = site_flow(&sc.sites[1], sc.sites[1].name, sc.sites[1].region);
            b->sites = xsprintf("sites=[%s, %s]", f0, f1);
            b->path = xsprintf("%s-%s.h5", stem, b->label);
            b->name = xsprintf("name=%s-%s", sc.name, b->label);
            free(f0);
            free(f1);
        }
        char self[4096];
        ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
        if (k <= 0) {
            fprintf(stderr, "spillway sim: cannot find its own executable\n");
            sw_scenario_free(&sc);
            return SW_EXIT_RUNTIME;
        }
        self[k] = '\0';
        long par = sysconf(_SC_NPROCESSORS_ONLN);
        if (par < 1)
            par = 1;
        size_t started = 0, done = 0;
        while (done < n_bl) {
            while (started < n_bl && started - done < (size_t)par) {
                if (!quiet)
                    fprintf(stderr, "[sim] baseline %s -> %s\n", bl[started].label,
                            bl[started].path);
                bl[started].pid = spawn_baseline(self, path, sets, n_sets, &bl[started]);
                started++;
            }
            int st;
            pid_t p = wait(&st);
            if (p < 0)
                break;
            done++;
            for (size_t i = 0; i < n_bl; i++)
                if (bl[i].pid == p && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                    fprintf(stderr, "spillway sim: baseline %s failed (status %d)\n", bl[i].label,
                            WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
                    rc = SW_EXIT_RUNTIME;
                }
        }
        for (size_t i = 0; rc == SW_EXIT_OK && i < n_bl; i++) {
            sw_report_data *d;
            if (sw_report_open(bl[i].path, &d, &err) != SW_OK) {
                fprintf(stderr, "spillway sim: %s\n", err.msg);
                rc = SW_EXIT_RUNTIME;
                break;
            }
            sw_report_extra *x = &extras[n_extras++];
            if (snprintf(x->name, sizeof x->name, "carbon_kg_baseline_%s", bl[i].label) >=
                (int)sizeof x->name)
                fprintf(stderr, "spillway sim: baseline name %s shortened\n", bl[i].label);
            x->value = d->summary.carbon_kg;
            snprintf(x->unit, sizeof x->unit, "kg");
            x = &extras[n_extras++];
            if (snprintf(x->name, sizeof x->name, "energy_kwh_baseline_%s", bl[i].label) >=
                (int)sizeof x->name)
                fprintf(stderr, "spillway sim: baseline name %s shortened\n", bl[i].label);
            x->value = d->summary.energy_kwh;
            snprintf(x->unit, sizeof x->unit, "kWh");
            sw_report_data_free(d);
        }
    }

    if (rc == SW_EXIT_OK) {
        progress_state ps;
        clock_gettime(CLOCK_MONOTONIC, &ps.t0);
        ps.tty = isatty(2);
        ps.shown = false;
        ps.last_s = 0;
        sw_sim_options opt = {.out_path = out,
                              .platform_xml = xml,
                              .quiet = true,
                              .progress = !quiet ? progress : NULL,
                              .progress_ud = &ps,
                              .extras = extras,
                              .n_extras = n_extras};
        sw_sim_result res;
        int drc = dataset_tokens_target(path, &sc, &opt.tokens_target);
        if (drc != SW_EXIT_OK) {
            rc = drc;
        } else if (sw_sim_run(&sc, &opt, &res, &err) != SW_OK) {
            if (ps.shown && ps.tty)
                fputc('\n', stderr);
            fprintf(stderr, "spillway sim: %s\n", err.msg);
            rc = err.code == SW_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
        } else if (!quiet) {
            fprintf(stderr,
                    "[sim] %s: %.2f h, %ld rounds, %.3g tokens, %.1f kWh, %.2f kgCO2, final ppl "
                    "%.2f (modelled) -> %s (%.2f s)\n",
                    sc.name, res.runtime_h, res.rounds, res.tokens, res.energy_kwh, res.carbon_kg,
                    res.final_ppl, out, res.wall_s);
        }
    }
    for (size_t i = 0; i < n_bl; i++) {
        free(bl[i].label);
        free(bl[i].sites);
        free(bl[i].path);
        free(bl[i].name);
    }
    sw_scenario_free(&sc);
    return rc;
}
