/* cmd_sweep.c - `spillway sweep SWEEP.yaml`: runs every point of a sweep (core/sweep.h) as a
 * `spillway sim` of this same executable, on local worker processes or as a Slurm job array,
 * skips points whose report already exists (resume), and writes the sweep table
 * (core/sweep_table.h). docs/sweep.md describes the command, docs/formats/sweep.md the file.
 *
 * Output folder (-o DIR, default results/sweeps/<name>):
 *   DIR/points/pNNNN-HASH.h5   one report per point (written atomically by `spillway sim`)
 *   DIR/logs/pNNNN.log         that sim's stdout and stderr
 *   DIR/sweep.h5, sweep.csv    the table
 *   DIR/slurm/                 the sbatch script and the array tasks' logs (--slurm)
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/report.h"
#include "core/scenario.h"
#include "core/sweep.h"
#include "core/sweep_table.h"

#define PATH_MAX_LEN 4096
#define MAX_JOBS     256

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spillway sweep SWEEP.yaml [-j N] [-o DIR] [--quiet]\n"
            "       spillway sweep SWEEP.yaml --slurm [--partition P] [--chunk K] [-j N] [--wait]\n"
            "       spillway sweep SWEEP.yaml --collect [-o DIR]\n"
            "       spillway sweep SWEEP.yaml --run-chunk I --chunk K [-j N] [-o DIR]\n\n"
            "Runs every point of a parameter sweep (docs/formats/sweep.md): the base scenario\n"
            "with the point's overrides, simulated by `spillway sim`, one report per point,\n"
            "then one table of parameters and figures (DIR/sweep.h5 and DIR/sweep.csv; print it\n"
            "with `spillway summary DIR/sweep.h5`). Points whose report exists are skipped, so\n"
            "running it again resumes an interrupted sweep. Every point is validated first.\n\n"
            "  -o DIR          output folder (default results/sweeps/<sweep name>)\n"
            "  -j N            worker processes (default: the number of CPUs); with --slurm,\n"
            "                  CPUs and workers per array task (default 1)\n"
            "  --quiet         no progress output\n"
            "  --slurm         submit the points as a Slurm job array (sbatch), one task per\n"
            "                  chunk of points; the script is DIR/slurm/sweep.sbatch\n"
            "  --partition P   Slurm partition (default: the cluster's default)\n"
            "  --chunk K       points per array task (default 4)\n"
            "  --wait          with --slurm: wait for the array (polling squeue), then collect\n"
            "  --collect       only build the table from the reports there are\n"
            "  --run-chunk I   run the points of chunk I (what each array task does)\n\n"
            "Exit status: 0 every point has its report, 1 some point failed or is missing, 2 a\n"
            "usage or sweep-file error (nothing is run), 130 interrupted.\n");
}

/* ---------------------------------------------------------------- paths and files */

static int mkdirs(const char *path)
{
    char dir[PATH_MAX_LEN];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(dir, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(dir, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The absolute form of an existing path (or the path itself when it cannot be resolved). */
static void absolute(const char *path, char *out, size_t size)
{
    char *r = realpath(path, NULL);
    snprintf(out, size, "%s", r ? r : path);
    free(r);
}

typedef struct sweep_run {
    const sw_sweep *sw;
    const char *dir; /* output folder */
    char self[PATH_MAX_LEN];
    bool quiet;
} sweep_run;

static void point_report(const sweep_run *r, size_t i, char *buf, size_t size)
{
    char rel[512];
    sw_sweep_point_report(r->sw, i, rel, sizeof rel);
    snprintf(buf, size, "%s/%s", r->dir, rel);
}

static bool point_done(const sweep_run *r, size_t i)
{
    char p[PATH_MAX_LEN];
    point_report(r, i, p, sizeof p);
    return exists(p);
}

/* Removes what an interrupted or failed sim left beside point i's report. */
static void remove_temp_files(const sweep_run *r, size_t i)
{
    char pattern[PATH_MAX_LEN + 16];
    point_report(r, i, pattern, sizeof pattern - 16);
    strcat(pattern, ".tmp-*");
    glob_t g;
    if (glob(pattern, 0, NULL, &g) == 0)
        for (size_t k = 0; k < g.gl_pathc; k++)
            unlink(g.gl_pathv[k]);
    globfree(&g);
}

/* ---------------------------------------------------------------- progress */

typedef struct progress {
    bool tty, quiet;
    size_t total, todo, done, failed;
    double t0_s, last_s;
    size_t last_done; /* done at the last line printed without a terminal */
} progress;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fmt_duration(double s, char *buf, size_t size)
{
    if (!isfinite(s))
        snprintf(buf, size, "?");
    else if (s < 90)
        snprintf(buf, size, "%.0f s", s);
    else if (s < 5400)
        snprintf(buf, size, "%.0f min", s / 60);
    else
        snprintf(buf, size, "%.1f h", s / 3600);
}

/* Points done / total, rate and time left: redrawn at most 4 times a second on a terminal;
 * without one, a line per tenth of the work (at most one per 10 s) and the last. */
static void progress_draw(progress *p, bool final)
{
    if (p->quiet)
        return;
    double t = now_s(), el = t - p->t0_s;
    if (!final && p->tty && t - p->last_s < 0.25)
        return;
    if (!final && !p->tty &&
        (t - p->last_s < 10 || (p->done + p->failed - p->last_done) * 10 < p->todo))
        return;
    p->last_s = t;
    p->last_done = p->done + p->failed;
    size_t finished = p->total - p->todo + p->done;
    double rate = el > 0 ? (double)(p->done + p->failed) / el : 0;
    size_t left = p->todo - p->done - p->failed;
    char eta[32];
    fmt_duration(rate > 0 ? (double)left / rate : NAN, eta, sizeof eta);
    char line[256];
    int n = snprintf(line, sizeof line, "[sweep] %zu/%zu points", finished, p->total);
    if (p->total != p->todo)
        n += snprintf(line + n, sizeof line - (size_t)n, " (%zu already done)", p->total - p->todo);
    n += snprintf(line + n, sizeof line - (size_t)n, ", %.2f points/s", rate);
    if (left > 0)
        n += snprintf(line + n, sizeof line - (size_t)n, ", %s left", eta);
    if (p->failed)
        snprintf(line + n, sizeof line - (size_t)n, ", %zu failed", p->failed);
    if (p->tty)
        fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

/* ---------------------------------------------------------------- local workers */

typedef struct worker {
    pid_t pid;
    size_t point;
} worker;

/* Starts `spillway sim BASE --set ... --quiet -o REPORT` for point i, in its own process group
 * (a Ctrl-C at the terminal reaches the sweep only, which stops the workers itself). */
static pid_t spawn_point(const sweep_run *r, size_t i, const sigset_t *child_mask)
{
    const sw_sweep_point *pt = &r->sw->points[i];
    char report[PATH_MAX_LEN], logp[PATH_MAX_LEN];
    point_report(r, i, report, sizeof report);
    snprintf(logp, sizeof logp, "%s/logs/p%04zu.log", r->dir, i);
    char **argv = calloc(2 * pt->n_overrides + 10, sizeof *argv);
    if (!argv)
        return -1;
    pid_t pid = fork();
    if (pid != 0) {
        free(argv);
        return pid;
    }
    setpgid(0, 0);
    sigprocmask(SIG_SETMASK, child_mask, NULL);
    int in = open("/dev/null", O_RDONLY), lg = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in >= 0)
        dup2(in, 0);
    if (lg >= 0) {
        dup2(lg, 1);
        dup2(lg, 2);
    }
    size_t k = 0;
    argv[k++] = (char *)r->self;
    argv[k++] = "sim";
    argv[k++] = r->sw->base_path;
    for (size_t o = 0; o < pt->n_overrides; o++) {
        argv[k++] = "--set";
        argv[k++] = pt->overrides[o];
    }
    argv[k++] = "--quiet";
    argv[k++] = "-o";
    argv[k++] = report;
    argv[k] = NULL;
    execv(r->self, argv);
    fprintf(stderr, "spillway sweep: cannot run %s: %s\n", r->self, strerror(errno));
    _exit(127);
}

/* Runs points ids[0..n) with at most `jobs` workers. Returns SW_EXIT_OK, SW_EXIT_RUNTIME when
 * a point failed, or 130 when interrupted (SIGINT/SIGTERM: the workers are terminated, waited
 * for and their temporary files removed). */
static int run_points(const sweep_run *r, const size_t *ids, size_t n, size_t total, long jobs)
{
    progress pg = {.tty = isatty(2), .quiet = r->quiet, .total = total, .todo = n};
    pg.t0_s = pg.last_s = now_s();
    if (n == 0) {
        if (!r->quiet)
            fprintf(stderr, "[sweep] %zu/%zu points (%zu already done), nothing to run\n", total,
                    total, total);
        return SW_EXIT_OK;
    }
    sigset_t wait_set, old;
    sigemptyset(&wait_set);
    sigaddset(&wait_set, SIGCHLD);
    sigaddset(&wait_set, SIGINT);
    sigaddset(&wait_set, SIGTERM);
    sigprocmask(SIG_BLOCK, &wait_set, &old);
    worker w[MAX_JOBS];
    size_t running = 0, next = 0;
    bool stop = false;
    int rc = SW_EXIT_OK;
    while (next < n || running > 0) {
        while (!stop && running < (size_t)jobs && next < n) {
            pid_t pid = spawn_point(r, ids[next], &old);
            if (pid < 0) {
                fprintf(stderr, "\nspillway sweep: cannot start a worker: %s\n", strerror(errno));
                stop = true;
                rc = SW_EXIT_RUNTIME;
                break;
            }
            setpgid(pid, pid); /* also here: no race with the child's own call */
            w[running++] = (worker){pid, ids[next++]};
        }
        if (running == 0)
            break;
        struct timespec tick = {0, 250000000};
        siginfo_t info;
        int sig = sigtimedwait(&wait_set, &info, &tick);
        if ((sig == SIGINT || sig == SIGTERM) && !stop) {
            stop = true;
            rc = 130;
            if (!r->quiet)
                fprintf(stderr, "%sspillway sweep: interrupted, stopping %zu worker%s\n",
                        pg.tty ? "\n" : "", running, running == 1 ? "" : "s");
            for (size_t k = 0; k < running; k++)
                kill(-w[k].pid, SIGTERM);
        }
        int st;
        pid_t pid;
        while (running > 0 && (pid = waitpid(-1, &st, WNOHANG)) > 0) {
            size_t k = 0;
            while (k < running && w[k].pid != pid)
                k++;
            if (k == running)
                continue;
            size_t id = w[k].point;
            w[k] = w[--running];
            bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && point_done(r, id);
            if (!ok)
                remove_temp_files(r, id);
            if (ok) {
                pg.done++;
            } else if (!stop || rc != 130) {
                pg.failed++;
                if (rc == SW_EXIT_OK)
                    rc = SW_EXIT_RUNTIME;
                char label[512];
                sw_sweep_point_label(r->sw, id, label, sizeof label);
                fprintf(stderr,
                        "%sspillway sweep: point %zu (%s) failed (%s %d), see %s/logs/"
                        "p%04zu.log\n",
                        pg.tty && !r->quiet ? "\n" : "", id, label,
                        WIFEXITED(st) ? "exit status" : "signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), r->dir, id);
            }
        }
        if (!stop || rc != 130)
            progress_draw(&pg, false);
    }
    if (rc != 130)
        progress_draw(&pg, true);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ---------------------------------------------------------------- the table */

/* Builds and writes DIR/sweep.h5 and DIR/sweep.csv from the reports there are; *missing gets
 * the number of points without a (readable) report. */
static int write_table(const sweep_run *r, size_t *missing)
{
    sw_sweep_table t;
    sw_error err;
    *missing = 0;
    if (sw_sweep_table_init(&t, r->sw, &err) != SW_OK) {
        fprintf(stderr, "spillway sweep: %s\n", err.msg);
        return SW_EXIT_RUNTIME;
    }
    for (size_t i = 0; i < t.n_rows; i++) {
        char p[PATH_MAX_LEN];
        point_report(r, i, p, sizeof p);
        sw_report_data *d;
        if (!exists(p)) {
            t.reports[i][0] = '\0';
            ++*missing;
            continue;
        }
        if (sw_report_open(p, &d, &err) != SW_OK) {
            fprintf(stderr, "spillway sweep: point %zu: %s\n", i, err.msg);
            t.reports[i][0] = '\0';
            ++*missing;
            continue;
        }
        t.figures[i] =
            (sw_sweep_figures){.runtime_h = d->summary.runtime_h,
                               .gpu_hours = d->summary.gpu_hours,
                               .energy_kwh = d->summary.energy_kwh,
                               .curtailed_energy_fraction = d->summary.curtailed_energy_fraction,
                               .carbon_kg = d->summary.carbon_kg,
                               .final_ppl = d->summary.final_ppl,
                               .tokens = (double)d->summary.tokens};
        sw_report_data_free(d);
    }
    char h5[PATH_MAX_LEN], csv[PATH_MAX_LEN];
    snprintf(h5, sizeof h5, "%s/sweep.h5", r->dir);
    snprintf(csv, sizeof csv, "%s/sweep.csv", r->dir);
    int rc = sw_sweep_table_write(&t, h5, csv, &err);
    sw_sweep_table_free(&t);
    if (rc != SW_OK) {
        fprintf(stderr, "spillway sweep: %s\n", err.msg);
        return SW_EXIT_RUNTIME;
    }
    if (!r->quiet)
        fprintf(stderr, "[sweep] table %s (and .csv): %zu of %zu points%s\n", h5,
                r->sw->n_points - *missing, r->sw->n_points, *missing ? " (some missing)" : "");
    return SW_EXIT_OK;
}

/* ---------------------------------------------------------------- Slurm */

/* Runs argv (PATH lookup), its stdout into out (NUL-terminated, truncated); returns the exit
 * status, 127 when it could not start. */
static int run_capture(char *const *argv, char *out, size_t size)
{
    int fd[2];
    if (pipe(fd) != 0)
        return 127;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 1);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0)
            dup2(in, 0);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t k;
    while (pid > 0 && (k = read(fd[0], out + n, size - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = '\0';
    close(fd[0]);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return 127;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The chunks that still have a point without a report, as an --array list "0-3,5". */
static size_t pending_chunks(const sweep_run *r, size_t chunk, char *list, size_t size)
{
    size_t nc = sw_sweep_n_chunks(r->sw, chunk), count = 0, len = 0;
    long run_start = -1;
    list[0] = '\0';
    for (size_t k = 0; k <= nc; k++) {
        bool pend = false;
        if (k < nc) {
            size_t first, n;
            sw_sweep_chunk_range(r->sw, chunk, k, &first, &n);
            for (size_t i = first; i < first + n && !pend; i++)
                pend = !point_done(r, i);
        }
        if (pend) {
            count++;
            if (run_start < 0)
                run_start = (long)k;
        } else if (run_start >= 0) {
            int w = (long)k - 1 == run_start
                        ? snprintf(list + len, size - len, "%s%ld", len ? "," : "", run_start)
                        : snprintf(list + len, size - len, "%s%ld-%zu", len ? "," : "", run_start,
                                   k - 1);
            if (w > 0 && (size_t)w < size - len)
                len += (size_t)w;
            run_start = -1;
        }
    }
    return count;
}

static bool shell_safe(const char *s)
{
    return !strchr(s, '\'') && !strchr(s, '\n');
}

/* Writes DIR/slurm/sweep.sbatch for the pending chunks and submits it; with `wait`, polls
 * squeue until the array is gone, then writes the table. */
static int run_slurm(const sweep_run *r, const char *sweep_path, const char *partition, long chunk,
                     long jobs, bool wait)
{
    char sdir[PATH_MAX_LEN], script[PATH_MAX_LEN + 32], list[8192], abs_sweep[PATH_MAX_LEN],
        abs_dir[PATH_MAX_LEN], cwd[PATH_MAX_LEN];
    snprintf(sdir, sizeof sdir, "%s/slurm", r->dir);
    snprintf(script, sizeof script, "%s/sweep.sbatch", sdir);
    if (mkdirs(sdir) != 0) {
        fprintf(stderr, "spillway sweep: cannot create %s: %s\n", sdir, strerror(errno));
        return SW_EXIT_RUNTIME;
    }
    size_t n_pending = pending_chunks(r, (size_t)chunk, list, sizeof list);
    if (n_pending == 0) {
        if (!r->quiet)
            fprintf(stderr, "[sweep] every point has its report; nothing to submit\n");
        size_t missing;
        int rc = write_table(r, &missing);
        return rc != SW_EXIT_OK ? rc : missing ? SW_EXIT_RUNTIME : SW_EXIT_OK;
    }
    absolute(sweep_path, abs_sweep, sizeof abs_sweep);
    absolute(r->dir, abs_dir, sizeof abs_dir);
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, "/");
    if (!shell_safe(abs_sweep) || !shell_safe(abs_dir) || !shell_safe(r->self) ||
        !shell_safe(cwd) || (partition && !shell_safe(partition))) {
        fprintf(stderr, "spillway sweep: --slurm: paths with a quote or line break are not "
                        "supported\n");
        return SW_EXIT_USAGE;
    }
    char tmp[PATH_MAX_LEN + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", script, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "spillway sweep: cannot write %s: %s\n", tmp, strerror(errno));
        return SW_EXIT_RUNTIME;
    }
    fprintf(f,
            "#!/bin/sh\n"
            "# written by `spillway sweep --slurm`: one array task per chunk of %ld points of\n"
            "# %s (%zu points; chunks still to run: %s)\n"
            "#SBATCH --job-name=sweep-%s\n"
            "#SBATCH --array=%s\n"
            "#SBATCH --ntasks=1\n"
            "#SBATCH --cpus-per-task=%ld\n"
            "#SBATCH --chdir=%s\n"
            "#SBATCH --output=%s/slurm/chunk-%%a.log\n",
            chunk, abs_sweep, r->sw->n_points, list, r->sw->name, list, jobs, cwd, abs_dir);
    if (partition)
        fprintf(f, "#SBATCH --partition=%s\n", partition);
    fprintf(f,
            "exec '%s' sweep '%s' -o '%s' --chunk %ld --run-chunk \"$SLURM_ARRAY_TASK_ID\" -j "
            "%ld --quiet\n",
            r->self, abs_sweep, abs_dir, chunk, jobs);
    if (fclose(f) != 0 || chmod(tmp, 0755) != 0 || rename(tmp, script) != 0) {
        fprintf(stderr, "spillway sweep: cannot write %s: %s\n", script, strerror(errno));
        unlink(tmp);
        return SW_EXIT_RUNTIME;
    }
    char out[4096];
    char *sb[] = {"sbatch", "--parsable", script, NULL};
    int st = run_capture(sb, out, sizeof out);
    if (st != 0) {
        fprintf(stderr, "spillway sweep: sbatch %s failed (%s %d)%s\n", script,
                st == 127 ? "not found or could not start:" : "exit status", st,
                st == 127 ? " is Slurm installed?" : "");
        return SW_EXIT_RUNTIME;
    }
    char job[64];
    snprintf(job, sizeof job, "%.*s", (int)strcspn(out, ";\n "), out);
    if (!r->quiet)
        fprintf(stderr, "[sweep] submitted job array %s: %zu task%s of up to %ld points (%s)\n",
                job, n_pending, n_pending == 1 ? "" : "s", chunk, script);
    if (!wait) {
        printf("%s\n", job);
        if (!r->quiet)
            fprintf(stderr, "[sweep] when it is done: spillway sweep %s -o %s --collect\n",
                    sweep_path, r->dir);
        return SW_EXIT_OK;
    }
    /* Wait: squeue lists the array until its last task has finished. */
    progress pg = {.tty = isatty(2), .quiet = r->quiet, .total = r->sw->n_points};
    for (size_t i = 0; i < r->sw->n_points; i++)
        pg.todo += !point_done(r, i);
    size_t todo0 = pg.todo;
    pg.t0_s = pg.last_s = now_s();
    int bad = 0;
    for (;;) {
        char *sq[] = {"squeue", "-h", "-j", job, "-o", "%i %T", NULL};
        st = run_capture(sq, out, sizeof out);
        if (st == 0 && !out[0])
            break;
        if (st != 0 && ++bad >= 10)
            break; /* squeue keeps refusing the id: the controller no longer knows the array */
        if (st == 0)
            bad = 0;
        size_t left = 0;
        for (size_t i = 0; i < r->sw->n_points; i++)
            left += !point_done(r, i);
        pg.done = todo0 - left;
        progress_draw(&pg, false);
        sleep(1);
    }
    size_t left = 0;
    for (size_t i = 0; i < r->sw->n_points; i++)
        left += !point_done(r, i);
    pg.done = todo0 - left;
    progress_draw(&pg, true);
    size_t missing;
    int rc = write_table(r, &missing);
    if (rc == SW_EXIT_OK && missing) {
        fprintf(stderr,
                "spillway sweep: %zu point%s without a report after job %s; see "
                "%s/slurm/chunk-*.log\n",
                missing, missing == 1 ? "" : "s", job, r->dir);
        rc = SW_EXIT_RUNTIME;
    }
    return rc;
}

/* ---------------------------------------------------------------- traces */

#define MAX_TRACES 8

/* k with every "[N]" written ".N" (sites[0].region -> sites.0.region). */
static void dotted(const char *k, char *out, size_t size)
{
    size_t n = 0;
    for (; *k && n + 2 < size; k++) {
        if (*k == '[') {
            if (n > 0)
                out[n++] = '.';
        } else if (*k != ']') {
            out[n++] = *k;
        }
    }
    out[n] = '\0';
}

/* The parameter of point i that a scenario message "... key 'K': ..." is about, or -1. */
static long param_of_message(const sw_sweep *s, const char *msg)
{
    const char *k = strstr(msg, "key '");
    if (!k)
        return -1;
    k += 5;
    char key[256], want[256], have[256];
    snprintf(key, sizeof key, "%.*s", (int)strcspn(k, "'"), k);
    dotted(key, want, sizeof want);
    for (size_t p = 0; p < s->n_params; p++) {
        dotted(s->params[p].key, have, sizeof have);
        if (!strcmp(have, want))
            return (long)p;
    }
    for (size_t p = 0; p < s->n_params; p++)
        if (!strcmp(s->params[p].key, SW_SWEEP_SITES_COUNT) && !strncmp(want, "sites.", 6))
            return (long)p;
    return -1;
}

/* Checks every point's regions and span against its trace, each trace file read once, so that
 * a region missing from the trace stops the sweep before it runs. Points with derived regions
 * (trace.derive) and traces beyond the first MAX_TRACES files are checked when they run. */
static int check_traces(const sw_sweep *s)
{
    struct {
        char *file;
        sw_trace_options opt;
        sw_trace *t;
    } cache[MAX_TRACES];
    size_t n_cache = 0;
    int rc = SW_EXIT_OK;
    for (size_t i = 0; i < s->n_points && rc == SW_EXIT_OK; i++) {
        const sw_sweep_point *pt = &s->points[i];
        sw_scenario sc;
        sw_error err;
        if (sw_scenario_parse_text(s->base_text, s->base_path, (const char *const *)pt->overrides,
                                   pt->n_overrides, &sc, &err) != SW_OK) {
            fprintf(stderr, "spillway sweep: %s: point %zu: %s\n", s->path, i, err.msg);
            sw_scenario_free(&sc);
            return SW_EXIT_USAGE;
        }
        sw_trace_options opt = sw_scenario_trace_options(&sc);
        sw_trace *t = NULL;
        for (size_t k = 0; k < n_cache && !t; k++)
            if (!strcmp(cache[k].file, sc.trace.file) && cache[k].opt.unit == opt.unit &&
                cache[k].opt.max_gap_s == opt.max_gap_s && cache[k].opt.fill_gaps == opt.fill_gaps)
                t = cache[k].t;
        if (!t && n_cache < MAX_TRACES && sc.trace.derive.regions == 0) {
            if (sw_trace_load(sc.trace.file, &opt, &t, &err) != SW_OK) {
                fprintf(stderr, "spillway sweep: %s: point %zu: %s\n", s->path, i, err.msg);
                rc = err.code == SW_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
            } else if (!(cache[n_cache].file = strdup(sc.trace.file))) {
                sw_trace_destroy(t);
                t = NULL;
                rc = SW_EXIT_RUNTIME;
            } else {
                cache[n_cache].opt = opt;
                cache[n_cache++].t = t;
            }
        }
        if (t && sc.trace.derive.regions == 0 && sw_scenario_resolve_trace(&sc, t, &err) != SW_OK) {
            char label[512];
            sw_sweep_point_label(s, i, label, sizeof label);
            long p = param_of_message(s, err.msg);
            if (p >= 0)
                fprintf(stderr,
                        "spillway sweep: %s:%zu:%zu: key '%s', value %s (point %zu: %s): %s\n",
                        s->path, s->params[p].line, s->params[p].col, s->params[p].key,
                        s->params[p].values[pt->value_index[p]], i, label, err.msg);
            else
                fprintf(stderr, "spillway sweep: %s: point %zu (%s): %s\n", s->path, i,
                        label[0] ? label : "no parameters", err.msg);
            rc = SW_EXIT_USAGE;
        }
        sw_scenario_free(&sc);
    }
    for (size_t k = 0; k < n_cache; k++) {
        free(cache[k].file);
        sw_trace_destroy(cache[k].t);
    }
    return rc;
}

/* ---------------------------------------------------------------- the command */

int sw_cmd_sweep(int argc, char **argv)
{
    const char *path = NULL, *dir = NULL, *partition = NULL;
    long jobs = 0, chunk = 0, run_chunk = -1;
    bool quiet = false, slurm = false, wait = false, collect = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return SW_EXIT_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!sw_arg_string("sweep", argc, argv, &i, &dir))
                return SW_EXIT_USAGE;
        } else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
            if (!sw_arg_long("sweep", argc, argv, &i, 1, &jobs))
                return SW_EXIT_USAGE;
            if (jobs > MAX_JOBS) {
                fprintf(stderr, "spillway sweep: -j: at most %d, got %ld\n", MAX_JOBS, jobs);
                return SW_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--chunk")) {
            if (!sw_arg_long("sweep", argc, argv, &i, 1, &chunk))
                return SW_EXIT_USAGE;
        } else if (!strcmp(a, "--run-chunk")) {
            if (!sw_arg_long("sweep", argc, argv, &i, 0, &run_chunk))
                return SW_EXIT_USAGE;
        } else if (!strcmp(a, "--partition")) {
            if (!sw_arg_string("sweep", argc, argv, &i, &partition))
                return SW_EXIT_USAGE;
        } else if (!strcmp(a, "--slurm")) {
            slurm = true;
        } else if (!strcmp(a, "--wait")) {
            wait = true;
        } else if (!strcmp(a, "--collect")) {
            collect = true;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "spillway sweep: unknown option '%s' (try --help)\n", a);
            return SW_EXIT_USAGE;
        } else if (!path) {
            path = a;
        } else {
            fprintf(stderr, "spillway sweep: unexpected argument '%s'\n", a);
            return SW_EXIT_USAGE;
        }
    }
    if (!path) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    if ((slurm + collect + (run_chunk >= 0)) > 1) {
        fprintf(stderr, "spillway sweep: --slurm, --collect and --run-chunk exclude each other\n");
        return SW_EXIT_USAGE;
    }
    if ((wait || partition) && !slurm) {
        fprintf(stderr, "spillway sweep: --wait and --partition need --slurm\n");
        return SW_EXIT_USAGE;
    }
    if (run_chunk >= 0 && chunk == 0) {
        fprintf(stderr, "spillway sweep: --run-chunk needs --chunk K\n");
        return SW_EXIT_USAGE;
    }

    sw_sweep sw;
    sw_error err;
    if (sw_sweep_load(path, &sw, &err) != SW_OK) {
        fprintf(stderr, "spillway sweep: %s\n", err.msg);
        return err.code == SW_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
    }
    int rc = collect ? SW_EXIT_OK : check_traces(&sw);
    if (rc != SW_EXIT_OK) {
        sw_sweep_free(&sw);
        return rc;
    }
    char defdir[PATH_MAX_LEN];
    if (!dir) {
        snprintf(defdir, sizeof defdir, "results/sweeps/%s", sw.name);
        dir = defdir;
    }
    sweep_run r = {.sw = &sw, .dir = dir, .quiet = quiet};
    ssize_t k = readlink("/proc/self/exe", r.self, sizeof r.self - 1);
    char sub[PATH_MAX_LEN];
    if (k <= 0) {
        fprintf(stderr, "spillway sweep: cannot find its own executable\n");
        rc = SW_EXIT_RUNTIME;
        goto done;
    }
    r.self[k] = '\0';
    snprintf(sub, sizeof sub, "%s/points", dir);
    bool ok = mkdirs(sub) == 0;
    snprintf(sub, sizeof sub, "%s/logs", dir);
    if (!ok || mkdirs(sub) != 0) {
        fprintf(stderr, "spillway sweep: -o %s: cannot create %s: %s\n", dir, sub, strerror(errno));
        rc = SW_EXIT_RUNTIME;
        goto done;
    }
    if (!quiet && !collect && run_chunk < 0)
        fprintf(stderr, "[sweep] %s: %zu point%s over %zu parameter%s -> %s\n", sw.name,
                sw.n_points, sw.n_points == 1 ? "" : "s", sw.n_params, sw.n_params == 1 ? "" : "s",
                dir);

    size_t missing = 0;
    if (collect) {
        rc = write_table(&r, &missing);
        if (rc == SW_EXIT_OK && missing) {
            fprintf(stderr, "spillway sweep: %zu of %zu points have no report yet\n", missing,
                    sw.n_points);
            rc = SW_EXIT_RUNTIME;
        }
    } else if (slurm) {
        rc = run_slurm(&r, path, partition, chunk ? chunk : 4, jobs ? jobs : 1, wait);
    } else {
        size_t first = 0, n = sw.n_points;
        if (run_chunk >= 0)
            sw_sweep_chunk_range(&sw, (size_t)chunk, (size_t)run_chunk, &first, &n);
        size_t *ids = calloc(n + 1, sizeof *ids), todo = 0;
        if (!ids) {
            rc = SW_EXIT_RUNTIME;
            goto done;
        }
        for (size_t i = first; i < first + n; i++)
            if (!point_done(&r, i))
                ids[todo++] = i;
        if (jobs == 0) {
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            jobs = cpus < 1 ? 1 : cpus > MAX_JOBS ? MAX_JOBS : cpus;
        }
        rc = run_points(&r, ids, todo, n, jobs);
        free(ids);
        if (rc != 130 && run_chunk < 0) {
            int trc = write_table(&r, &missing);
            if (trc != SW_EXIT_OK)
                rc = trc;
        }
    }
done:
    sw_sweep_free(&sw);
    return rc;
}
