/* test_report.c - the HDF5 report: write, read back, crash safety, reader errors,
 * determinism and self-description (units on every dataset). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/report.h"

/* ---- helpers ---- */

static char dir[256];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/sw_test_report_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

TestSuite(report, .init = make_dir, .fini = remove_dir);

static const char *in_dir(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static int dir_entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static const sw_report_meta test_meta = {
    .mode = SW_REPORT_SIM,
    .scenario_name = "paper",
    .scenario_yaml = "name: paper\nsites: []\n",
    .seed = 42,
    .created_utc = "2026-01-11T17:00:00Z",
    .spillway_version = "0.1.0-test",
    .t0_unix_s = 1768150800.0,
};

static const sw_report_extra test_extras[] = {
    {"carbon_kg_baseline_DE", 12.5, "kg"},
    {"carbon_kg_baseline_SPP_TX", 3.25, "kg"},
};

static sw_report_summary test_summary(void)
{
    sw_report_summary s = {
        .runtime_h = 18,
        .gpu_hours = 40.5,
        .energy_kwh = 21.25,
        .energy_provisioning_kwh = 0.5,
        .energy_idle_kwh = 1.5,
        .energy_training_kwh = 18,
        .energy_syncing_kwh = 1.25,
        .curtailed_energy_fraction = 0.97,
        .carbon_kg = 0.75,
        .carbon_attributional_kg = NAN,
        .final_loss = 3.1,
        .final_ppl = exp(3.1),
        .best_ppl = exp(3.05),
        .tokens = 12300000000LL,
        .rounds = 3,
        .sync_bytes = 6600000000LL,
        .extras = test_extras,
        .n_extras = 2,
    };
    return s;
}

/* Writes the small reference report used by most tests: 2 sites, 2 signals, and n_events
 * events (more than one block when large). Returns the writer still open. */
static sw_report *write_sample(const char *path, int n_events)
{
    sw_report *r;
    sw_error err;
    cr_assert_eq(sw_report_create(path, &test_meta, &r, &err), SW_OK, "%s", err.msg);
    double ts[] = {0, 300, 600}, ca[] = {120, 80, 95}, tx[] = {50, 60, 150};
    cr_assert_eq(sw_report_add_signal(r, "CAISO_NORTH", ts, ca, 3), SW_OK);
    cr_assert_eq(sw_report_add_signal(r, "SPP_TX", ts, tx, 3), SW_OK);
    cr_assert_eq(sw_report_add_site(r, "california", "CAISO_NORTH", 4), 0);
    cr_assert_eq(sw_report_add_site(r, "texas", "SPP_TX", 8), 1);

    sw_report_site_state(r, 0, 0, SW_REPORT_STATE_OFF);
    sw_report_site_state(r, 0, 300, SW_REPORT_STATE_PROVISIONING);
    sw_report_site_state(r, 0, 540, SW_REPORT_STATE_TRAINING);
    sw_report_site_state(r, 1, 0, SW_REPORT_STATE_PROVISIONING);
    sw_report_site_state(r, 1, 240, SW_REPORT_STATE_READY);
    sw_report_site_state(r, 1, 240, SW_REPORT_STATE_TRAINING);
    sw_report_site_state(r, 1, 700, SW_REPORT_STATE_DRAINING);
    sw_report_site_state(r, 1, 750, SW_REPORT_STATE_FAILED);
    sw_report_site_power(r, 0, 300, 468);
    sw_report_site_power(r, 0, 540, 2024);
    sw_report_site_power(r, 1, 0, 936);
    sw_report_site_power(r, 1, 240, 4048);
    sw_report_site_power(r, 1, 750, 0);
    for (int i = 0; i < 3; i++) {
        sw_report_train_row tr = {600 + 10.0 * i, 10 * i, 5242880LL * i, 4 - 0.1 * i,
                                  exp(4 - 0.1 * i)};
        sw_report_site_train(r, 0, &tr);
    }
    sw_report_train_row tr1 = {500, 7, 3670016, NAN, NAN};
    sw_report_site_train(r, 1, &tr1);

    sw_report_round_row r0 = {.round = 0, .t_start_s = 240, .t_end_s = 540, .n_sites = 1};
    sw_report_mask_set(r0.sites, 1);
    r0.tokens = 1000;
    r0.loss = 5;
    r0.ppl = exp(5.0);
    sw_report_round_row r1 = {.round = 1, .t_start_s = 540, .t_end_s = 1140, .n_sites = 2};
    sw_report_mask_set(r1.sites, 0);
    sw_report_mask_set(r1.sites, 1);
    r1.tokens = 9000;
    r1.sync_bytes = 4400000000LL;
    r1.sync_s = 47;
    r1.loss = 4.5;
    r1.ppl = exp(4.5);
    cr_assert_eq(sw_report_round(r, &r0), SW_OK, "%s", sw_report_error(r));
    cr_assert_eq(sw_report_round(r, &r1), SW_OK, "%s", sw_report_error(r));

    for (int i = 0; i < n_events; i++) {
        sw_report_event_row e = {.t_s = i * 0.5,
                                 .kind = (sw_report_event_kind)(i % SW_REPORT_EV_COUNT),
                                 .site = i % 3 - 1,
                                 .round = i % 4 - 1,
                                 .value = i % 5 ? i * 1.5 : NAN};
        snprintf(e.detail, sizeof e.detail, "event %d", i);
        cr_assert_eq(sw_report_event(r, &e), SW_OK, "%s", sw_report_error(r));
    }
    for (int i = 0; i < 4; i++) {
        sw_report_global_row g = {i * 600.0, i * 1000000LL, 6 - i * 0.5, exp(6 - i * 0.5)};
        sw_report_global(r, &g);
    }
    sw_report_summary s = test_summary();
    cr_assert_eq(sw_report_set_summary(r, &s), SW_OK);
    sw_report_site_summary ss = {5, 4.5, 20, 10.5, 0.99, 0.25, 7000000000LL};
    cr_assert_eq(sw_report_set_site_summary(r, 0, &ss), SW_OK);
    cr_assert_null(sw_report_error(r));
    return r;
}

static void write_and_close(const char *path, int n_events)
{
    sw_error err;
    sw_report *r = write_sample(path, n_events);
    cr_assert_eq(sw_report_close(r, &err), SW_OK, "%s", err.msg);
}

static void same_double(double a, double b, const char *what)
{
    cr_assert(a == b || (isnan(a) && isnan(b)), "%s: %g != %g", what, a, b);
}

/* ---- write, read back ---- */

Test(report, roundtrip_every_field)
{
    const char *path = in_dir("run.h5");
    write_and_close(path, 40);
    sw_report_data *d;
    sw_error err;
    cr_assert_eq(sw_report_open(path, &d, &err), SW_OK, "%s", err.msg);

    cr_assert_eq(d->format_version, SW_REPORT_FORMAT_VERSION);
    cr_assert_eq(d->mode, SW_REPORT_SIM);
    cr_assert_str_eq(d->scenario_name, "paper");
    cr_assert_str_eq(d->scenario_yaml, "name: paper\nsites: []\n");
    cr_assert_eq(d->seed, 42);
    cr_assert_str_eq(d->created_utc, "2026-01-11T17:00:00Z");
    cr_assert_str_eq(d->spillway_version, "0.1.0-test");
    cr_assert_eq(d->t0_unix_s, 1768150800.0);
    cr_assert_eq(d->loss_kind, SW_REPORT_LOSS_MODELLED, "sim defaults to modelled loss");

    cr_assert_eq(d->n_signals, 2);
    cr_assert_str_eq(d->signals[0].region, "CAISO_NORTH");
    cr_assert_str_eq(d->signals[1].region, "SPP_TX");
    cr_assert_eq(d->signals[1].n, 3);
    cr_assert_eq(d->signals[1].rows[2].t_s, 600);
    cr_assert_eq(d->signals[1].rows[2].mci_g_per_kwh, 150);
    cr_assert_eq(d->signals[0].rows[1].mci_g_per_kwh, 80);

    cr_assert_eq(d->n_sites, 2);
    sw_report_site_data *ca = &d->sites[0], *tx = &d->sites[1];
    cr_assert_str_eq(ca->name, "california");
    cr_assert_str_eq(ca->region, "CAISO_NORTH");
    cr_assert_eq(ca->gpus, 4);
    cr_assert_str_eq(tx->name, "texas");
    cr_assert_str_eq(tx->region, "SPP_TX");
    cr_assert_eq(tx->gpus, 8);
    cr_assert_eq(ca->n_states, 3);
    cr_assert_eq(ca->states[1].t_s, 300);
    cr_assert_eq(ca->states[1].state, SW_REPORT_STATE_PROVISIONING);
    cr_assert_eq(tx->n_states, 5);
    sw_report_state want[] = {SW_REPORT_STATE_PROVISIONING, SW_REPORT_STATE_READY,
                              SW_REPORT_STATE_TRAINING, SW_REPORT_STATE_DRAINING,
                              SW_REPORT_STATE_FAILED};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(tx->states[i].state, want[i], "texas state %d", i);
    cr_assert_eq(ca->n_power, 2);
    cr_assert_eq(ca->power[1].t_s, 540);
    cr_assert_eq(ca->power[1].power_w, 2024);
    cr_assert_eq(tx->n_power, 3);
    cr_assert_eq(tx->power[2].power_w, 0);
    cr_assert_eq(ca->n_train, 3);
    cr_assert_eq(ca->train[2].t_s, 620);
    cr_assert_eq(ca->train[2].step, 20);
    cr_assert_eq(ca->train[2].tokens, 10485760);
    cr_assert_eq(ca->train[2].loss, 4 - 0.2);
    cr_assert_eq(ca->train[2].ppl, exp(4 - 0.2));
    cr_assert_eq(tx->n_train, 1);
    cr_assert(isnan(tx->train[0].loss));
    cr_assert_eq(tx->train[0].tokens, 3670016);

    cr_assert_eq(d->n_rounds, 2);
    cr_assert_eq(d->rounds[0].round, 0);
    cr_assert_eq(d->rounds[0].n_sites, 1);
    cr_assert(!sw_report_mask_test(d->rounds[0].sites, 0));
    cr_assert(sw_report_mask_test(d->rounds[0].sites, 1));
    cr_assert_eq(d->rounds[1].t_start_s, 540);
    cr_assert_eq(d->rounds[1].t_end_s, 1140);
    cr_assert_eq(d->rounds[1].n_sites, 2);
    cr_assert_eq(d->rounds[1].sites[0], 3);
    cr_assert_eq(d->rounds[1].tokens, 9000);
    cr_assert_eq(d->rounds[1].sync_bytes, 4400000000LL);
    cr_assert_eq(d->rounds[1].sync_s, 47);
    cr_assert_eq(d->rounds[1].loss, 4.5);
    cr_assert_eq(d->rounds[1].ppl, exp(4.5));

    cr_assert_eq(d->n_events, 40);
    for (int i = 0; i < 40; i++) {
        const sw_report_event_row *e = &d->events[i];
        char detail[32];
        snprintf(detail, sizeof detail, "event %d", i);
        cr_assert_eq(e->t_s, i * 0.5);
        cr_assert_eq(e->kind, (sw_report_event_kind)(i % SW_REPORT_EV_COUNT));
        cr_assert_eq(e->site, i % 3 - 1);
        cr_assert_eq(e->round, i % 4 - 1);
        same_double(e->value, i % 5 ? i * 1.5 : NAN, "event value");
        cr_assert_str_eq(e->detail, detail);
    }

    cr_assert_eq(d->n_global, 4);
    cr_assert_eq(d->global[3].t_s, 1800);
    cr_assert_eq(d->global[3].tokens, 3000000);
    cr_assert_eq(d->global[3].loss, 4.5);
    cr_assert_eq(d->global[3].ppl, exp(4.5));

    sw_report_summary s = test_summary();
    const sw_report_summary *g = &d->summary;
    same_double(g->runtime_h, s.runtime_h, "runtime_h");
    same_double(g->gpu_hours, s.gpu_hours, "gpu_hours");
    same_double(g->energy_kwh, s.energy_kwh, "energy_kwh");
    same_double(g->energy_provisioning_kwh, s.energy_provisioning_kwh, "prov");
    same_double(g->energy_idle_kwh, s.energy_idle_kwh, "idle");
    same_double(g->energy_training_kwh, s.energy_training_kwh, "training");
    same_double(g->energy_syncing_kwh, s.energy_syncing_kwh, "syncing");
    same_double(g->curtailed_energy_fraction, s.curtailed_energy_fraction, "curtailed");
    same_double(g->carbon_kg, s.carbon_kg, "carbon_kg");
    same_double(g->carbon_attributional_kg, NAN, "carbon_attributional_kg");
    same_double(g->final_loss, s.final_loss, "final_loss");
    same_double(g->final_ppl, s.final_ppl, "final_ppl");
    same_double(g->best_ppl, s.best_ppl, "best_ppl");
    cr_assert_eq(g->tokens, s.tokens);
    cr_assert_eq(g->rounds, s.rounds);
    cr_assert_eq(g->sync_bytes, s.sync_bytes);
    cr_assert_eq(g->n_extras, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_assert_str_eq(g->extras[i].name, test_extras[i].name);
        cr_assert_eq(g->extras[i].value, test_extras[i].value);
        cr_assert_str_eq(g->extras[i].unit, test_extras[i].unit);
    }
    cr_assert_eq(ca->summary.up_h, 5);
    cr_assert_eq(ca->summary.training_h, 4.5);
    cr_assert_eq(ca->summary.gpu_hours, 20);
    cr_assert_eq(ca->summary.energy_kwh, 10.5);
    cr_assert_eq(ca->summary.curtailed_energy_fraction, 0.99);
    cr_assert_eq(ca->summary.carbon_kg, 0.25);
    cr_assert_eq(ca->summary.tokens, 7000000000LL);
    cr_assert(isnan(tx->summary.energy_kwh), "unset site summary reads as NAN");
    cr_assert_eq(tx->summary.tokens, -1);
    sw_report_data_free(d);
}

Test(report, exec_mode_defaults_to_measured_loss_and_empty_tables)
{
    const char *path = in_dir("exec.h5");
    sw_report_meta m = test_meta;
    m.mode = SW_REPORT_EXEC;
    m.created_utc = NULL; /* now */
    m.scenario_yaml = NULL;
    sw_report *r;
    sw_error err;
    cr_assert_eq(sw_report_create(path, &m, &r, &err), SW_OK, "%s", err.msg);
    sw_report_summary s = {0};
    sw_report_set_summary(r, &s);
    cr_assert_eq(sw_report_close(r, &err), SW_OK, "%s", err.msg);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(path, &d, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(d->mode, SW_REPORT_EXEC);
    cr_assert_eq(d->loss_kind, SW_REPORT_LOSS_MEASURED);
    cr_assert_eq(strlen(d->created_utc), 20, "ISO 8601 UTC: %s", d->created_utc);
    cr_assert_eq(d->created_utc[19], 'Z');
    cr_assert_str_eq(d->scenario_yaml, "");
    cr_assert_eq(d->n_sites + d->n_signals + d->n_rounds + d->n_events + d->n_global, 0);
    cr_assert_eq(d->summary.n_extras, 0);
    sw_report_data_free(d);
}

Test(report, many_rows_cross_block_boundaries_and_flushes)
{
    const char *path = in_dir("big.h5");
    sw_report *r;
    sw_error err;
    cr_assert_eq(sw_report_create(path, &test_meta, &r, &err), SW_OK);
    int s = sw_report_add_site(r, "a", "R", 1);
    for (int i = 0; i < 5000; i++) {
        sw_report_site_power(r, s, i, i % 7);
        if (i % 1500 == 0)
            cr_assert_eq(sw_report_flush(r, &err), SW_OK, "%s", err.msg);
    }
    sw_report_summary sum = {0};
    sw_report_set_summary(r, &sum);
    cr_assert_eq(sw_report_close(r, &err), SW_OK, "%s", err.msg);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(path, &d, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(d->sites[0].n_power, 5000);
    for (int i = 0; i < 5000; i++) {
        cr_assert_eq(d->sites[0].power[i].t_s, i);
        cr_assert_eq(d->sites[0].power[i].power_w, i % 7);
    }
    sw_report_data_free(d);
}

Test(report, scenario_text_over_64k_is_kept)
{
    const char *path = in_dir("bigyaml.h5");
    size_t n = 200000;
    char *yaml = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        yaml[i] = i % 61 == 60 ? '\n' : (char)('a' + i % 26);
    yaml[n] = '\0';
    sw_report_meta m = test_meta;
    m.scenario_yaml = yaml;
    sw_report *r;
    sw_error err;
    cr_assert_eq(sw_report_create(path, &m, &r, &err), SW_OK, "%s", err.msg);
    sw_report_summary s = {0};
    sw_report_set_summary(r, &s);
    cr_assert_eq(sw_report_close(r, &err), SW_OK, "%s", err.msg);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(path, &d, &err), SW_OK, "%s", err.msg);
    cr_assert_str_eq(d->scenario_yaml, yaml);
    sw_report_data_free(d);
    free(yaml);
}

/* ---- temporary name, rename, abort, crash ---- */

Test(report, final_path_appears_only_at_close)
{
    const char *path = in_dir("run.h5");
    sw_report *r = write_sample(path, 5);
    const char *tmp = sw_report_temp_path(r);
    cr_assert(strncmp(tmp, path, strlen(path)) == 0, "temp %s is next to %s", tmp, path);
    cr_assert(exists(tmp));
    cr_assert(!exists(path));
    sw_error err;
    cr_assert_eq(sw_report_flush(r, &err), SW_OK, "%s", err.msg);
    cr_assert(!exists(path), "a flush does not publish the report");
    char tmp_copy[512];
    snprintf(tmp_copy, sizeof tmp_copy, "%s", tmp);
    cr_assert_eq(sw_report_close(r, &err), SW_OK, "%s", err.msg);
    cr_assert(exists(path));
    cr_assert(!exists(tmp_copy));
    cr_assert_eq(dir_entries(), 1);
}

/* Issue 13: the report honours the umask (mkstemp alone made it 0600). */
Test(report, mode_follows_the_umask)
{
    mode_t old = umask(022);
    const char *path = in_dir("run.h5");
    write_and_close(path, 2);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644, "mode %03o under umask 022", st.st_mode & 0777);
    umask(027);
    const char *other = in_dir("group.h5");
    write_and_close(other, 2);
    cr_assert_eq(stat(other, &st), 0);
    umask(old);
    cr_assert_eq(st.st_mode & 0777, 0640, "mode %03o under umask 027", st.st_mode & 0777);
}

Test(report, close_replaces_an_existing_report)
{
    const char *path = in_dir("run.h5");
    FILE *f = fopen(path, "w");
    fputs("old", f);
    fclose(f);
    sw_report *r = write_sample(path, 3);
    sw_report_data *d;
    sw_error err;
    cr_assert_eq(sw_report_open(path, &d, &err), SW_EINPUT, "old file still there until close");
    cr_assert_eq(sw_report_close(r, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_report_open(path, &d, &err), SW_OK, "%s", err.msg);
    sw_report_data_free(d);
}

Test(report, abort_leaves_nothing)
{
    const char *path = in_dir("run.h5");
    sw_report *r = write_sample(path, 5);
    sw_error err;
    sw_report_flush(r, &err);
    sw_report_abort(r);
    cr_assert_eq(dir_entries(), 0);
}

Test(report, crash_before_close_leaves_no_final_file)
{
    const char *path = in_dir("run.h5");
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        sw_report *r;
        sw_error err;
        if (sw_report_create(path, &test_meta, &r, &err) != SW_OK)
            _exit(3);
        sw_report_add_site(r, "a", "R", 1);
        sw_report_site_power(r, 0, 0, 100);
        sw_report_flush(r, &err);
        _exit(0); /* dies without close */
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert(!exists(path));
    cr_assert_eq(dir_entries(), 1, "only the temporary file remains");
}

Test(report, close_without_summary_fails_and_leaves_nothing)
{
    const char *path = in_dir("run.h5");
    sw_report *r;
    sw_error err;
    cr_assert_eq(sw_report_create(path, &test_meta, &r, &err), SW_OK);
    cr_assert_eq(sw_report_close(r, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, "/summary"), "%s", err.msg);
    cr_assert_eq(dir_entries(), 0);
}

Test(report, create_in_missing_directory_is_input_error)
{
    sw_report *r;
    sw_error err;
    const char *path = in_dir("no/such/dir/run.h5");
    cr_assert_eq(sw_report_create(path, &test_meta, &r, &err), SW_EINPUT);
    cr_assert_null(r);
    cr_assert(strstr(err.msg, path), "%s", err.msg);
}

/* ---- writer input checks (sticky errors) ---- */

static void expect_sticky(sw_report *r, const char *object, const char *words)
{
    const char *msg = sw_report_error(r);
    cr_assert_not_null(msg);
    cr_assert(strstr(msg, object) && strstr(msg, words), "message: %s", msg);
    sw_error err;
    cr_assert_neq(sw_report_close(r, &err), SW_OK);
    cr_assert(strstr(err.msg, object), "%s", err.msg);
    cr_assert_eq(dir_entries(), 0, "a failed report leaves no file");
}

Test(report, time_going_back_is_rejected)
{
    sw_report *r = write_sample(in_dir("run.h5"), 3);
    cr_assert_eq(sw_report_site_power(r, 1, 10, 5), SW_EINPUT);
    cr_assert_eq(sw_report_site_power(r, 1, 1000, 5), SW_EINPUT, "errors are sticky");
    expect_sticky(r, "/sites/texas/power", "back in time");
}

Test(report, round_mask_must_match_n_sites)
{
    sw_report *r = write_sample(in_dir("run.h5"), 3);
    sw_report_round_row row = {.round = 2, .t_start_s = 1200, .t_end_s = 1800, .n_sites = 2};
    sw_report_mask_set(row.sites, 0);
    cr_assert_eq(sw_report_round(r, &row), SW_EINPUT);
    expect_sticky(r, "/rounds", "n_sites 2 but 1");
}

Test(report, bad_names_and_indices_are_rejected)
{
    sw_report *r = write_sample(in_dir("run.h5"), 0);
    cr_assert_eq(sw_report_add_site(r, "bad/name", "R", 1), -1);
    expect_sticky(r, "/sites", "bad/name");

    r = write_sample(in_dir("run.h5"), 0);
    sw_report_event_row e = {.t_s = 5000, .kind = SW_REPORT_EV_NOTE, .site = 7, .round = -1};
    cr_assert_eq(sw_report_event(r, &e), SW_EINPUT);
    expect_sticky(r, "/events", "site index 7");

    r = write_sample(in_dir("run.h5"), 0);
    cr_assert_eq(sw_report_site_state(r, 0, 5000, (sw_report_state)9), SW_EINPUT);
    expect_sticky(r, "/sites/california/states", "state 9");

    r = write_sample(in_dir("run.h5"), 0);
    sw_report_extra x[] = {{"energy_kwh", 1, "kWh"}};
    sw_report_summary s = {.extras = x, .n_extras = 1};
    cr_assert_eq(sw_report_set_summary(r, &s), SW_EINPUT);
    expect_sticky(r, "/summary", "energy_kwh");
}

Test(report, long_detail_is_truncated)
{
    const char *path = in_dir("run.h5");
    sw_report *r = write_sample(path, 0);
    sw_report_event_row e = {.t_s = 1, .kind = SW_REPORT_EV_FAIL, .site = 0, .round = -1};
    memset(e.detail, 'x', sizeof e.detail); /* no terminator at all */
    cr_assert_eq(sw_report_event(r, &e), SW_OK);
    sw_error err;
    cr_assert_eq(sw_report_close(r, &err), SW_OK, "%s", err.msg);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(path, &d, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(strlen(d->events[0].detail), SW_REPORT_DETAIL_MAX - 1);
    sw_report_data_free(d);
}

/* ---- reader errors ---- */

static void expect_open_error(const char *path, const char *w1, const char *w2)
{
    sw_report_data *d = (sw_report_data *)1;
    sw_error err;
    cr_assert_eq(sw_report_open(path, &d, &err), SW_EINPUT);
    cr_assert_null(d);
    cr_assert(strstr(err.msg, path), "names the file: %s", err.msg);
    cr_assert(strstr(err.msg, w1), "mentions '%s': %s", w1, err.msg);
    if (w2)
        cr_assert(strstr(err.msg, w2), "mentions '%s': %s", w2, err.msg);
}

/* Opens a written report with HDF5 for editing. */
static hid_t edit(const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    return f;
}

Test(report, open_missing_file)
{
    expect_open_error(in_dir("nope.h5"), "No such file", NULL);
}

Test(report, open_not_hdf5)
{
    const char *path = in_dir("text.h5");
    FILE *f = fopen(path, "w");
    fputs("time,value\n0,1\n", f);
    fclose(f);
    expect_open_error(path, "not an HDF5 file", NULL);
}

Test(report, open_truncated_file)
{
    const char *path = in_dir("run.h5");
    write_and_close(path, 200);
    struct stat st;
    stat(path, &st);
    cr_assert_eq(truncate(path, st.st_size / 2), 0);
    expect_open_error(path, "truncated", NULL);
}

Test(report, open_missing_dataset)
{
    const char *path = in_dir("run.h5");
    write_and_close(path, 3);
    hid_t f = edit(path);
    cr_assert_geq(H5Ldelete(f, "/sites/texas/power", H5P_DEFAULT), 0);
    H5Fclose(f);
    expect_open_error(path, "/sites/texas/power: dataset missing", NULL);
}

Test(report, open_missing_summary_attribute)
{
    const char *path = in_dir("run.h5");
    write_and_close(path, 3);
    hid_t f = edit(path);
    cr_assert_geq(H5Adelete_by_name(f, "/summary", "carbon_kg", H5P_DEFAULT), 0);
    H5Fclose(f);
    expect_open_error(path, "/summary: attribute 'carbon_kg' missing", NULL);
}

Test(report, open_wrong_format_version)
{
    const char *path = in_dir("run.h5");
    write_and_close(path, 3);
    hid_t f = edit(path);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int v = 99;
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Fclose(f);
    expect_open_error(path, "format_version 99", NULL);
}

Test(report, open_bad_mode)
{
    const char *path = in_dir("run.h5");
    write_and_close(path, 3);
    hid_t f = edit(path);
    H5Adelete(f, "mode");
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, 5);
    hid_t a = H5Acreate2(f, "mode", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, "smol");
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
    expect_open_error(path, "mode 'smol'", NULL);
}

Test(report, open_missing_column)
{
    const char *path = in_dir("run.h5");
    write_and_close(path, 3);
    hid_t f = edit(path);
    H5Ldelete(f, "/global", H5P_DEFAULT);
    hid_t t = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(t, "t_s", 0, H5T_IEEE_F64LE);
    H5Tinsert(t, "tokens", 8, H5T_STD_I64LE);
    hsize_t dims[1] = {0};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(f, "/global", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
    expect_open_error(path, "/global: column 'loss' missing", NULL);
}

/* ---- determinism ---- */

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    cr_assert_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

#define SAME_ARRAY(a, b, n) cr_assert(((n) == 0 || !memcmp((a), (b), (n) * sizeof *(a))), #a)

Test(report, identical_calls_give_identical_reports)
{
    const char *p1 = in_dir("a.h5"), *p2 = in_dir("b.h5");
    write_and_close(p1, 2500);
    write_and_close(p2, 2500);
    sw_report_data *a, *b;
    sw_error err;
    cr_assert_eq(sw_report_open(p1, &a, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_report_open(p2, &b, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(a->n_events, 2500);
    cr_assert_eq(a->n_events, b->n_events);
    cr_assert_eq(a->n_rounds, b->n_rounds);
    cr_assert_eq(a->n_global, b->n_global);
    SAME_ARRAY(a->events, b->events, a->n_events);
    SAME_ARRAY(a->rounds, b->rounds, a->n_rounds);
    SAME_ARRAY(a->global, b->global, a->n_global);
    for (size_t i = 0; i < a->n_sites; i++) {
        cr_assert_eq(a->sites[i].n_states, b->sites[i].n_states);
        cr_assert_eq(a->sites[i].n_power, b->sites[i].n_power);
        cr_assert_eq(a->sites[i].n_train, b->sites[i].n_train);
        SAME_ARRAY(a->sites[i].states, b->sites[i].states, a->sites[i].n_states);
        SAME_ARRAY(a->sites[i].power, b->sites[i].power, a->sites[i].n_power);
        SAME_ARRAY(a->sites[i].train, b->sites[i].train, a->sites[i].n_train);
    }
    sw_report_data_free(a);
    sw_report_data_free(b);

    /* With created_utc fixed, not just the data but the whole file is the same. */
    size_t n1, n2;
    unsigned char *b1 = slurp(p1, &n1), *b2 = slurp(p2, &n2);
    cr_assert_eq(n1, n2);
    cr_assert(!memcmp(b1, b2, n1), "files differ byte for byte");
    free(b1);
    free(b2);
}

/* ---- self-description ---- */

typedef struct visit {
    int datasets;
    char problem[512];
} visit;

static herr_t check_units(hid_t root, const char *name, const H5O_info_t *info, void *op)
{
    visit *v = op;
    if (info->type != H5O_TYPE_DATASET)
        return 0;
    v->datasets++;
    hid_t d = H5Dopen2(root, name, H5P_DEFAULT);
    char *units = NULL;
    if (H5Aexists(d, "units") > 0) {
        hid_t a = H5Aopen(d, "units", H5P_DEFAULT), t = H5Aget_type(a);
        H5Aread(a, t, &units);
        H5Tclose(t);
        H5Aclose(a);
    }
    if (!units) {
        snprintf(v->problem, sizeof v->problem, "%s: no units", name);
    } else {
        /* Every column is listed as "col=unit". */
        hid_t t = H5Dget_type(d);
        for (int i = 0; i < H5Tget_nmembers(t); i++) {
            char *m = H5Tget_member_name(t, (unsigned)i), key[128];
            snprintf(key, sizeof key, "%s=", m);
            if (!strstr(units, key))
                snprintf(v->problem, sizeof v->problem, "%s: units lack %s (%s)", name, m, units);
            H5free_memory(m);
        }
        H5Tclose(t);
        H5free_memory(units);
    }
    H5Dclose(d);
    return 0;
}

Test(report, every_dataset_has_units_and_loss_kind_where_due)
{
    const char *path = in_dir("run.h5");
    write_and_close(path, 3);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    visit v = {0};
    H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, check_units, &v);
    cr_assert_str_eq(v.problem, "");
    /* 2 signals + 2 sites x 3 + rounds, events, global + summary/sites */
    cr_assert_eq(v.datasets, 12);
    const char *with_loss[] = {"/rounds", "/global", "/sites/texas/train"};
    for (int i = 0; i < 3; i++)
        cr_assert_gt(H5Aexists_by_name(f, with_loss[i], "loss_kind", H5P_DEFAULT), 0, "%s",
                     with_loss[i]);
    cr_assert_gt(H5Aexists_by_name(f, "/events", "value_units", H5P_DEFAULT), 0);
    cr_assert_gt(H5Aexists_by_name(f, "/summary", "units", H5P_DEFAULT), 0);
    H5Fclose(f);
}

Test(report, names_of_enums)
{
    cr_assert_str_eq(sw_report_state_name(SW_REPORT_STATE_DRAINING), "draining");
    cr_assert_str_eq(sw_report_event_kind_name(SW_REPORT_EV_SIGNAL_BELOW), "signal_below");
    cr_assert_null(sw_report_event_kind_name(SW_REPORT_EV_COUNT));
    cr_assert_str_eq(sw_report_mode_name(SW_REPORT_EXEC), "exec");
    cr_assert_null(sw_report_mode_name((sw_report_mode)0));
}
