/* test_data.c - exec on a tokenized dataset (scenario exec.data, docs/data.md): agents stream
 * their leases from the shipped shards of data/shakespeare-bpe2048, one agent is killed
 * mid-run, and the committed leases are checked against the manifest: disjoint, summing to the
 * report's data_consumed_tokens and tokens, so no token is trained twice or lost. Then the bad
 * inputs: no manifest, a model vocabulary smaller than the data's, a tokenizer that did not
 * make the shards, a folder path longer than the WELCOME carries. */
#include <pthread.h>

#include "exec_main.c.inc"
#include "kernels/manifest.h"

#define BPE_DIR SW_SOURCE_DIR "/data/shakespeare-bpe2048"

/* Two always-on sites over 2 trace hours at 600x (12 s wall), the tiny model with the
 * dataset's 2,048-token vocabulary, 8 x 32 tokens per step (shards of 32,768 are 128 steps).
 * `exec_extra` is added inside the exec map (", key: value" pairs). */
static int bpe_scenario(sw_scenario *sc, const char *exec_extra, sw_error *err)
{
    char text[4096];
    snprintf(text, sizeof text,
             "name: data\n"
             "trace: {file: %s/traces/mci_2026-01-11.csv, start: 2026-01-11T17:00:00Z, "
             "end: 2026-01-11T19:00:00Z}\n"
             "policy: {kind: always_on}\n"
             "rounds: {min_duration_s: 600, startup_s: 0, return_s: 0, aggregate_s: 0}\n"
             "model: {tokens: 1.0e6, log_interval_s: 60}\n"
             "exec: {time_compression: 600, preset: tiny, batch: 8, seq: 32, threads: 1%s}\n"
             "sites:\n"
             "  - {name: a, region: CAISO_NORTH, provision_s: 60, drain_s: 0}\n"
             "  - {name: b, region: SPP_TX, provision_s: 60, drain_s: 0}\n",
             SW_SOURCE_DIR, exec_extra);
    return sw_scenario_parse_text(text, "data.yaml", NULL, 0, sc, err);
}

typedef struct killer {
    pid_t parent;
    double after_s;
    pid_t killed;
} killer;

static void *kill_agent_a(void *arg)
{
    killer *k = arg;
    double t0 = now_mono();
    while (now_mono() - t0 < 30) {
        pid_t pid = find_agent(k->parent, "a");
        if (pid > 0 && now_mono() - t0 >= k->after_s) {
            kill(pid, SIGKILL);
            k->killed = pid;
            return NULL;
        }
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    return NULL;
}

typedef struct commit {
    uint64_t begin, end, tokens;
} commit;

static int by_begin(const void *x, const void *y)
{
    const commit *a = x, *b = y;
    return a->begin < b->begin ? -1 : a->begin > b->begin;
}

/* The coordinator's "lease ID [B, E) commits N tokens" lines. */
static size_t read_commits(const char *log_path, commit *out, size_t cap)
{
    FILE *f = fopen(log_path, "r");
    cr_assert(f);
    char line[1024];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, ": lease ");
        unsigned long long id, b, e, t;
        if (p && sscanf(p, ": lease %llu [%llu, %llu) commits %llu", &id, &b, &e, &t) == 4 &&
            n < cap)
            out[n++] = (commit){b, e, t};
    }
    fclose(f);
    return n;
}

Test(data, shards_streamed_once_each_across_a_killed_agent, .timeout = 150)
{
    char dir[512], out[600], logp[600];
    test_dir(dir, sizeof dir, "data-kill");
    snprintf(logp, sizeof logp, "%s/coord.log", dir);
    sw_scenario sc;
    sw_error err;
    cr_assert_eq(
        bpe_scenario(&sc, ", vocab: 2048, data: " BPE_DIR ", tokenizer: " BPE_DIR "/tokenizer.bin",
                     &err),
        SW_OK, "%s", err.msg);
    FILE *log = fopen(logp, "w");
    sw_coord_options o;
    coord_opts(&o, &sc, dir, out, sizeof out, log);
    o.data_path = NULL; /* the byte corpus is not used */
    killer k = {.parent = getpid(), .after_s = 3.0};
    pthread_t th;
    pthread_create(&th, NULL, kill_agent_a, &k);
    sw_coord_result res;
    int rc = sw_coord_run(&o, &res, &err);
    pthread_join(th, NULL);
    fclose(log);
    cr_assert_eq(rc, SW_OK, "%s", err.msg);
    cr_assert_gt(k.killed, 0, "the agent of site a was never seen");
    cr_assert_geq(res.failures, 1);

    sw_manifest m;
    sw_kerror ke;
    cr_assert_eq(sw_manifest_load(BPE_DIR, &m, &ke), SW_K_OK, "%s", ke.msg);
    sw_report_data *d;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    double consumed = NAN;
    for (size_t i = 0; i < d->summary.n_extras; i++)
        if (!strcmp(d->summary.extras[i].name, "data_consumed_tokens"))
            consumed = d->summary.extras[i].value;
    cr_assert_eq((int64_t)consumed, d->summary.tokens);
    cr_assert_gt(d->summary.tokens, 0);

    /* every committed prefix [begin, begin + tokens) lies in its lease and in one shard file,
     * no two overlap, and together they are the report's tokens */
    static commit cs[4096];
    size_t n = read_commits(logp, cs, 4096);
    cr_assert_gt(n, 0, "no lease commits in %s", logp);
    qsort(cs, n, sizeof *cs, by_begin);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_leq(cs[i].begin + cs[i].tokens, cs[i].end);
        cr_assert_leq(cs[i].end, m.train_tokens);
        cr_assert_eq(cs[i].begin / m.shard_tokens, (cs[i].end - 1) / m.shard_tokens,
                     "lease [%llu, %llu) spans two shard files", (unsigned long long)cs[i].begin,
                     (unsigned long long)cs[i].end);
        if (i > 0 && cs[i - 1].tokens && cs[i].tokens)
            cr_assert_geq(cs[i].begin, cs[i - 1].begin + cs[i - 1].tokens,
                          "leases at %llu and %llu overlap", (unsigned long long)cs[i - 1].begin,
                          (unsigned long long)cs[i].begin);
        sum += cs[i].tokens;
    }
    cr_assert_eq((int64_t)sum, d->summary.tokens);
    /* when the run got through the dataset, the commits tile it: nothing lost */
    if (d->summary.tokens == (int64_t)m.train_tokens) {
        uint64_t at = 0;
        for (size_t i = 0; i < n; i++)
            if (cs[i].tokens) {
                cr_assert_eq(cs[i].begin, at, "tokens [%llu, %llu) never trained",
                             (unsigned long long)at, (unsigned long long)cs[i].begin);
                at += cs[i].tokens;
            }
        cr_assert_eq(at, m.train_tokens);
    }
    /* validation ran on the held-out shard: a finite loss, better than uniform over 2,048 */
    cr_assert(d->n_rounds > 0);
    cr_assert(isfinite(d->summary.final_ppl) && d->summary.final_ppl < 2048.0, "ppl %g",
              d->summary.final_ppl);
    sw_report_data_free(d);
    sw_manifest_free(&m);
    sw_scenario_free(&sc);
    test_dir_done(dir);
}

/* Runs the coordinator on a scenario that must be refused before anything runs. */
static void expect_refused(const char *exec_extra, const char *want)
{
    char dir[512], out[600];
    test_dir(dir, sizeof dir, "data-bad");
    sw_scenario sc;
    sw_error err;
    cr_assert_eq(bpe_scenario(&sc, exec_extra, &err), SW_OK, "%s", err.msg);
    sw_coord_options o;
    coord_opts(&o, &sc, dir, out, sizeof out, NULL);
    int rc = sw_coord_run(&o, NULL, &err);
    cr_assert_eq(rc, SW_EINPUT, "rc %d: %s", rc, err.msg);
    cr_assert(strstr(err.msg, want), "message '%s' lacks '%s'", err.msg, want);
    struct stat st;
    cr_assert_neq(stat(out, &st), 0, "a report was written");
    sw_scenario_free(&sc);
    test_dir_done(dir);
}

Test(data, a_folder_without_a_manifest_is_refused)
{
    /* traces/ exists but holds no manifest.txt */
    expect_refused(", vocab: 2048, data: " SW_SOURCE_DIR "/traces", "manifest.txt");
}

Test(data, a_model_vocabulary_smaller_than_the_data_is_refused)
{
    expect_refused(", data: " BPE_DIR, "exec.vocab: the model has 256 vocabulary rows");
}

Test(data, a_tokenizer_that_did_not_make_the_shards_is_refused)
{
    expect_refused(", vocab: 2048, data: " BPE_DIR ", tokenizer: " SW_SOURCE_DIR
                   "/tests/kernels/fixtures/bpe/mixed.tiktoken",
                   "exec.tokenizer");
}

Test(data, a_missing_data_folder_names_the_key)
{
    sw_scenario sc;
    sw_error err;
    cr_assert_eq(bpe_scenario(&sc, ", data: no/such/folder", &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "exec.data") && strstr(err.msg, "no/such/folder"), "%s", err.msg);
    cr_assert(strstr(err.msg, "data.yaml"), "%s", err.msg);
}

Test(data, a_data_path_longer_than_the_welcome_holds_is_refused)
{
    /* the dataset's folder followed by "/." until it is over 255 bytes */
    char path[600] = ", vocab: 2048, data: " BPE_DIR;
    size_t n = strlen(path);
    while (n < 340) {
        memcpy(path + n, "/.", 2);
        n += 2;
    }
    path[n] = 0;
    expect_refused(path, "expected at most 255");
}
