/* test_scenario.c - scenario YAML loading (core/scenario.h): defaults, every validation error
 * with its file:line:col and key, --set overrides, the resolved YAML round trip and the
 * reference scenario scenarios/paper.yaml. Runs from the source tree (traces/ is there). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/scenario.h"

#define TRACE   "traces/mci_2026-01-11.csv"
#define MINIMAL "trace: {file: " TRACE "}\nsites: [{name: a, region: CAISO_NORTH}]\n"

static void parse_ok(const char *text, const char *const *ov, size_t n, sw_scenario *s)
{
    sw_error err = {0};
    int rc = sw_scenario_parse_text(text, "t.yaml", ov, n, s, &err);
    cr_assert_eq(rc, SW_OK, "parse failed: %s\n--- text:\n%s", err.msg, text);
    cr_assert_not_null(s->resolved_yaml);
}

/* Expects SW_EINPUT whose message starts with `where` and contains `what`. */
static void parse_bad(const char *text, const char *const *ov, size_t n, const char *where,
                      const char *what)
{
    sw_scenario s;
    sw_error err = {0};
    int rc = sw_scenario_parse_text(text, "t.yaml", ov, n, &s, &err);
    cr_assert_eq(rc, SW_EINPUT, "expected SW_EINPUT (got %d) for:\n%s", rc, text);
    cr_assert_eq(err.code, SW_EINPUT);
    cr_assert(strncmp(err.msg, where, strlen(where)) == 0, "message '%s' should start with '%s'",
              err.msg, where);
    cr_assert(strstr(err.msg, what) != NULL, "message '%s' should contain '%s'", err.msg, what);
    cr_assert_null(s.sites);
    cr_assert_null(s.resolved_yaml);
    sw_scenario_free(&s);
}

Test(scenario, defaults_of_a_minimal_file)
{
    sw_scenario s;
    parse_ok(MINIMAL, NULL, 0, &s);
    cr_assert_str_eq(s.name, "t");
    cr_assert_eq(s.seed, 1);
    cr_assert_str_eq(s.trace.file, TRACE);
    cr_assert_eq(s.trace.unit, SW_UNIT_G_PER_KWH);
    cr_assert_eq(s.trace.max_gap_s, 0);
    cr_assert_eq(s.trace.fill_gaps, false);
    cr_assert(isnan(s.trace.start_unix_s) && isnan(s.trace.end_unix_s));
    cr_assert_eq(s.trace.n_baseline_regions, 0);
    cr_assert_eq(s.policy.kind, SW_POLICY_THRESHOLD);
    cr_assert_eq(s.policy.threshold_g_per_kwh, 100);
    cr_assert_eq(s.policy.deprovision_after_s, 600);
    cr_assert_eq(s.policy.poll_s, 10);
    cr_assert_eq(s.rounds.min_duration_s, 600);
    cr_assert_eq(s.rounds.startup_s, 85);
    cr_assert_eq(s.rounds.return_s, 45);
    cr_assert_eq(s.rounds.aggregate_s, 2);
    cr_assert_eq(s.rounds.outer.kind, SW_OUTER_NONE);
    cr_assert_eq(s.rounds.outer.lr, 0.7);
    cr_assert_eq(s.rounds.outer.momentum, 0.9);
    cr_assert_str_eq(s.model.preset, "nanochat-d20");
    cr_assert_eq(s.model.params, 561e6); /* resolved from the preset */
    cr_assert_eq(s.model.tokens, 12.3e9);
    cr_assert_eq(s.model.batch_tokens, 524288);
    cr_assert_eq(s.model.step_s, 2.75);
    cr_assert_eq(s.model.log_interval_s, 60);
    static const sw_scenario_convergence zero = {0};
    cr_assert_eq(memcmp(&s.model.convergence, &zero, sizeof zero), 0, "0 = the shipped fit");
    cr_assert_eq(s.trace.derive.regions, 0);
    cr_assert_eq(s.trace.derive.shift_s, 7 * 86400 + 5 * 3600);
    cr_assert_eq(s.n_sites, 1);
    sw_scenario_site *a = &s.sites[0];
    cr_assert_str_eq(a->name, "a");
    cr_assert_str_eq(a->region, "CAISO_NORTH");
    cr_assert_eq(a->gpus, 4);
    cr_assert_str_eq(a->gpu, "a100");
    cr_assert_eq(a->provision_s, 240);
    cr_assert_eq(a->drain_s, 45);
    cr_assert_eq(a->pue, 1.0);
    cr_assert_eq(a->power_w.train, 2024);
    cr_assert_eq(a->power_w.idle, 468);
    cr_assert_eq(a->power_w.off, 0);
    cr_assert_eq(s.network.wan_gbps, 10);
    cr_assert_eq(s.network.wan_latency_ms, 80);
    cr_assert_eq(s.network.lan_gbps, 100);
    cr_assert_eq(s.network.lan_latency_us, 5);
    cr_assert_eq(s.exec.time_compression, 60);
    cr_assert_eq(s.exec.threads, 1);
    cr_assert_str_eq(s.exec.preset, "small");
    cr_assert_eq(s.exec.backend, SW_EXEC_BACKEND_CPU);
    cr_assert_str_eq(sw_exec_backend_name(s.exec.backend), "cpu");
    cr_assert_eq(s.exec.provisioner, SW_PROVISIONER_LOCAL);
    cr_assert_eq(s.exec.batch, 4);
    cr_assert_eq(s.exec.seq, 64);
    sw_scenario_free(&s);
    sw_scenario_free(&s); /* freeing twice is harmless */
}

Test(scenario, null_values_keep_defaults)
{
    sw_scenario s;
    parse_ok(MINIMAL "policy:\n  poll_s: ~\n  threshold_g_per_kwh:\nrounds: null\n", NULL, 0, &s);
    cr_assert_eq(s.policy.poll_s, 10);
    cr_assert_eq(s.policy.threshold_g_per_kwh, 100);
    cr_assert_eq(s.rounds.min_duration_s, 600);
    sw_scenario_free(&s);
}

Test(scenario, reference_paper_yaml)
{
    sw_scenario s;
    sw_error err;
    cr_assert_eq(sw_scenario_load("scenarios/paper.yaml", NULL, 0, &s, &err), SW_OK, "%s", err.msg);
    cr_assert_str_eq(s.name, "paper");
    cr_assert_str_eq(s.trace.file, "scenarios/../traces/mci_2026-01-11.csv");
    cr_assert_eq(s.trace.n_baseline_regions, 4);
    static const char *baselines[] = {"CAISO_NORTH", "SPP_TX", "NEM_SA", "DE"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_str_eq(s.trace.baseline_regions[i], baselines[i]);
    cr_assert_eq(s.policy.threshold_g_per_kwh, 100);
    cr_assert_eq(s.policy.deprovision_after_s, 600);
    cr_assert_eq(s.policy.poll_s, 10);
    cr_assert_eq(s.rounds.outer.kind, SW_OUTER_NONE);
    cr_assert_eq(s.model.params, 561e6);
    cr_assert_eq(s.model.tokens, 12.3e9);
    cr_assert_eq(s.model.step_s, 2.75);
    cr_assert_eq(s.n_sites, 3);
    static const char *names[] = {"california", "texas", "south-australia"};
    static const char *regions[] = {"CAISO_NORTH", "SPP_TX", "NEM_SA"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(s.sites[i].name, names[i]);
        cr_assert_str_eq(s.sites[i].region, regions[i]);
        cr_assert_eq(s.sites[i].gpus, 4);
        cr_assert_eq(s.sites[i].provision_s, 240);
        cr_assert_eq(s.sites[i].power_w.train, 2024);
        cr_assert_eq(s.sites[i].power_w.idle, 468);
        cr_assert_eq(sw_scenario_site_index(&s, names[i]), (int)i);
    }
    cr_assert_eq(sw_scenario_site_index(&s, "mars"), -1);

    /* with its trace: start and end become the trace span */
    sw_trace *t = NULL;
    sw_trace_options opt = sw_scenario_trace_options(&s);
    cr_assert_eq(sw_trace_load(s.trace.file, &opt, &t, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_scenario_resolve_trace(&s, t, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(s.trace.start_unix_s, 1768150800.0);
    cr_assert_eq(s.trace.end_unix_s, 1768150800.0 + 217 * 300);
    cr_assert(strstr(s.resolved_yaml, "start: 2026-01-11T17:00:00Z"), "%s", s.resolved_yaml);
    sw_trace_destroy(t);
    sw_scenario_free(&s);
}

Test(scenario, resolve_trace_rejects_unknown_regions_and_outside_span)
{
    sw_scenario s;
    sw_error err;
    sw_trace *t = NULL;
    cr_assert_eq(sw_trace_load(TRACE, NULL, &t, &err), SW_OK);
    parse_ok("trace: {file: " TRACE ", baseline_regions: [DE, XX]}\n"
             "sites: [{name: a, region: CAISO_NORTH}]\n",
             NULL, 0, &s);
    cr_assert_eq(sw_scenario_resolve_trace(&s, t, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "key 'trace.baseline_regions[1]': region 'XX'"), "%s", err.msg);
    sw_scenario_free(&s);
    parse_ok("trace: {file: " TRACE ", start: 2026-01-11T16:00:00Z}\n"
             "sites: [{name: a, region: CAISO_NORTH}]\n",
             NULL, 0, &s);
    cr_assert_eq(sw_scenario_resolve_trace(&s, t, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "trace.start"), "%s", err.msg);
    sw_scenario_free(&s);
    sw_trace_destroy(t);
}

/* ---------------------------------------------------------------- errors */

Test(scenario_errors, unknown_keys)
{
    parse_bad(MINIMAL "polcy: {}\n", NULL, 0,
              "t.yaml:3:1:", "unknown key 'polcy', expected one of name, seed, trace");
    parse_bad(MINIMAL "policy: {treshold_g_per_kwh: 5}\n", NULL, 0,
              "t.yaml:3:10:", "unknown key 'policy.treshold_g_per_kwh'");
    parse_bad("trace: {file: " TRACE "}\nsites:\n  - name: a\n    region: R\n"
              "    power_w: {train: 1, standby: 2}\n",
              NULL, 0, "t.yaml:5:25:", "unknown key 'sites[0].power_w.standby'");
}

Test(scenario_errors, wrong_types)
{
    parse_bad("trace: {file: " TRACE "}\nsites:\n  - {name: a, region: R}\n"
              "  - name: b\n    region: R\n    power_w: {train: abc}\n",
              NULL, 0,
              "t.yaml:6:22:", "key 'sites[1].power_w.train': expected a number >= 0, got \"abc\"");
    parse_bad(MINIMAL "trace2: 1\n", NULL, 0, "t.yaml:3:1:", "unknown key 'trace2'");
    parse_bad(MINIMAL "policy: {poll_s: \"10\"}\n", NULL, 0,
              "t.yaml:3:18:", "key 'policy.poll_s': expected a number >= 0, got \"10\"");
    parse_bad(MINIMAL "policy: {kind: sometimes}\n", NULL, 0,
              "t.yaml:3:16:", "key 'policy.kind': expected one of threshold, always_on");
    parse_bad(MINIMAL "trace2: 1\n", NULL, 0, "t.yaml:3:1:", "unknown key");
    parse_bad("trace: {file: " TRACE ", fill_gaps: maybe}\nsites: [{name: a, region: R}]\n", NULL,
              0, "t.yaml:1:", "key 'trace.fill_gaps': expected true or false");
    parse_bad(MINIMAL "policy: [1, 2]\n", NULL, 0,
              "t.yaml:3:9:", "key 'policy': expected a mapping of keys, got a list");
    parse_bad(MINIMAL "name: {a: 1}\n", NULL, 0,
              "t.yaml:3:7:", "key 'name': expected a non-empty string, got a mapping");
    parse_bad(MINIMAL "exec: {threads: 2.5}\n", NULL, 0,
              "t.yaml:3:17:", "key 'exec.threads': expected an integer >= 1, got \"2.5\"");
    parse_bad(MINIMAL "exec: {backend: tpu}\n", NULL, 0,
              "t.yaml:3:17:", "key 'exec.backend': expected one of cpu, cuda");
    parse_bad(MINIMAL "seed: -3\n", NULL, 0, "t.yaml:3:7:", "key 'seed': expected an integer");
    parse_bad(MINIMAL "seed: 99999999999999999999999\n", NULL, 0, "t.yaml:3:7:", "key 'seed'");
    parse_bad(MINIMAL "trace2: 1\n", NULL, 0, "t.yaml:3:1:", "unknown key");
    parse_bad("trace: {file: " TRACE ", start: yesterday}\nsites: [{name: a, region: R}]\n", NULL,
              0, "t.yaml:1:", "key 'trace.start': expected an ISO-8601 time");
    parse_bad("trace: {file: " TRACE ", baseline_regions: DE}\nsites: [{name: a, region: R}]\n",
              NULL, 0, "t.yaml:1:", "key 'trace.baseline_regions': expected a list");
    parse_bad("trace: {file: " TRACE "}\nsites: [a, b]\n", NULL, 0,
              "t.yaml:2:9:", "key 'sites[0]': expected a mapping");
    parse_bad("- 1\n- 2\n", NULL, 0, "t.yaml:1:1:", "expected a mapping of scenario keys");
}

Test(scenario_errors, out_of_range_values)
{
    parse_bad(MINIMAL "rounds: {startup_s: -1}\n", NULL, 0,
              "t.yaml:3:21:", "key 'rounds.startup_s': expected a number >= 0, got \"-1\"");
    parse_bad(MINIMAL "rounds: {min_duration_s: 0}\n", NULL, 0,
              "t.yaml:3:", "key 'rounds.min_duration_s': expected a number > 0");
    parse_bad(MINIMAL "policy: {threshold_g_per_kwh: -5}\n", NULL, 0,
              "t.yaml:3:", "key 'policy.threshold_g_per_kwh': expected a number >= 0");
    parse_bad(MINIMAL "rounds: {outer: {lr: 0}}\n", NULL, 0,
              "t.yaml:3:", "key 'rounds.outer.lr': expected a number > 0");
    parse_bad(MINIMAL "rounds: {outer: {momentum: 1}}\n", NULL, 0,
              "t.yaml:3:", "key 'rounds.outer.momentum': expected a number in [0, 1), got \"1\"");
    parse_bad(MINIMAL "rounds: {outer: {momentum: -0.1}}\n", NULL, 0,
              "t.yaml:3:", "key 'rounds.outer.momentum': expected a number in [0, 1)");
    parse_bad("trace: {file: " TRACE "}\nsites: [{name: a, region: R, gpus: 0}]\n", NULL, 0,
              "t.yaml:2:36:", "key 'sites[0].gpus': expected an integer >= 1, got \"0\"");
    parse_bad("trace: {file: " TRACE "}\nsites: [{name: a, region: R, pue: 0.9}]\n", NULL, 0,
              "t.yaml:2:", "key 'sites[0].pue': expected a number >= 1");
    parse_bad("trace: {file: " TRACE "}\nsites: [{name: a, region: R, gpu: tpu9}]\n", NULL, 0,
              "t.yaml:2:", "key 'sites[0].gpu': expected one of a100, h100");
    parse_bad(MINIMAL "network: {wan_gbps: 0}\n", NULL, 0,
              "t.yaml:3:", "key 'network.wan_gbps': expected a number > 0");
    parse_bad(MINIMAL "model: {tokens: .inf}\n", NULL, 0,
              "t.yaml:3:", "key 'model.tokens': expected a number > 0, got \".inf\"");
    parse_bad(MINIMAL "exec: {provisioner: cloud}\n", NULL, 0,
              "t.yaml:3:", "key 'exec.provisioner': expected one of local, command, static");
    parse_bad("trace: {file: " TRACE ", start: 2026-01-12T00:00:00Z, end: 2026-01-11T00:00:00Z}\n"
              "sites: [{name: a, region: R}]\n",
              NULL, 0, "t.yaml:1:", "key 'trace.end': expected a time after trace.start");
    parse_bad(MINIMAL "model: {preset: gpt-9}\n", NULL, 0,
              "t.yaml:3:17:", "key 'model.preset': unknown preset 'gpt-9'");
}

Test(scenario_errors, sites_missing_empty_or_duplicate)
{
    parse_bad("trace: {file: " TRACE "}\n", NULL, 0, "t.yaml:1:1:", "missing key 'sites'");
    parse_bad("trace: {file: " TRACE "}\nsites: []\n", NULL, 0, "t.yaml:2:8:",
              "key 'sites': expected a list of at least 1 mapping, got an empty list");
    parse_bad("trace: {file: " TRACE "}\nsites:\n  - {name: a, region: R}\n"
              "  - {name: a, region: S}\n",
              NULL, 0, "t.yaml:4:12:", "key 'sites[1].name': 'a' is also the name of sites[0]");
    parse_bad("trace: {file: " TRACE "}\nsites:\n  - {name: a}\n", NULL, 0,
              "t.yaml:3:5:", "missing key 'sites[0].region'");
    parse_bad("trace: {file: " TRACE "}\nsites:\n  - {name: \"\", region: R}\n", NULL, 0,
              "t.yaml:3:12:", "key 'sites[0].name': expected a non-empty string");
}

Test(scenario_errors, trace_file_missing_or_not_found)
{
    parse_bad("sites: [{name: a, region: R}]\n", NULL, 0,
              "t.yaml:1:1:", "missing key 'trace.file'");
    parse_bad("trace: {unit: g_per_kwh}\nsites: [{name: a, region: R}]\n", NULL, 0,
              "t.yaml:1:8:", "missing key 'trace.file'");
    parse_bad("trace: {file: no/such.csv}\nsites: [{name: a, region: R}]\n", NULL, 0,
              "t.yaml:1:15:", "key 'trace.file': trace file 'no/such.csv' not found");
    parse_bad("trace: {file: " TRACE
              ", baseline_regions: [DE, DE]}\nsites: [{name: a, region: R}]\n",
              NULL, 0, "t.yaml:1:", "key 'trace.baseline_regions[1]': region 'DE' listed twice");
}

Test(scenario_errors, yaml_syntax_duplicate_keys_and_files)
{
    parse_bad(MINIMAL "policy: {poll_s: 1\n", NULL, 0, "t.yaml:", "YAML syntax error");
    parse_bad(MINIMAL "seed: 1\nseed: 2\n", NULL, 0,
              "t.yaml:4:1:", "duplicate key 'seed' (first on line 3)");
    parse_bad(MINIMAL "defaults: &d {gpus: 4}\nx: *d\n", NULL, 0, "t.yaml:", "aliases");
    parse_bad("", NULL, 0, "t.yaml:1:1:", "missing key 'sites'");
    parse_bad(MINIMAL "---\nseed: 2\n", NULL, 0, "t.yaml:3:1:", "a second YAML document");

    sw_scenario s;
    sw_error err;
    cr_assert_eq(sw_scenario_load("no/such/scenario.yaml", NULL, 0, &s, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "no/such/scenario.yaml: cannot open scenario"), "%s", err.msg);

    /* an error in a file names the file */
    char path[] = "/tmp/sw_scenario_test_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(MINIMAL "exec:\n  seq: 0\n", f);
    fclose(f);
    cr_assert_eq(sw_scenario_load(path, NULL, 0, &s, &err), SW_EINPUT);
    char where[64];
    snprintf(where, sizeof where, "%s:4:8: key 'exec.seq'", path);
    cr_assert(strncmp(err.msg, where, strlen(where)) == 0, "%s", err.msg);
    unlink(path);
}

/* ---------------------------------------------------------------- overrides */

Test(scenario_overrides, valid)
{
    const char *ov[] = {
        "policy.poll_s=0",
        "sites.0.region=SPP_TX",
        "sites[1].gpus=8",
        "trace.baseline_regions=[DE, NEM_SA]",
        "model.convergence.e_nats=1.8", /* creates model and model.convergence */
        "seed=18446744073709551615",
        "policy.threshold_g_per_kwh=", /* empty: back to the default */
        "network={wan_gbps: 1}",
    };
    sw_scenario s;
    parse_ok("trace: {file: " TRACE "}\npolicy: {threshold_g_per_kwh: 50}\n"
             "sites: [{name: a, region: CAISO_NORTH}, {name: b, region: DE}]\n",
             ov, sizeof ov / sizeof ov[0], &s);
    cr_assert_eq(s.policy.poll_s, 0);
    cr_assert_str_eq(s.sites[0].region, "SPP_TX");
    cr_assert_eq(s.sites[1].gpus, 8);
    cr_assert_eq(s.trace.n_baseline_regions, 2);
    cr_assert_str_eq(s.trace.baseline_regions[1], "NEM_SA");
    cr_assert_eq(s.model.convergence.e_nats, 1.8);
    cr_assert_eq(s.seed, UINT64_MAX);
    cr_assert_eq(s.policy.threshold_g_per_kwh, 100);
    cr_assert_eq(s.network.wan_gbps, 1);
    cr_assert_eq(s.network.wan_latency_ms, 80);
    sw_scenario_free(&s);
}

Test(scenario_overrides, invalid_name_the_override)
{
    const char *a[] = {"policy.treshold=5"};
    parse_bad(MINIMAL, a, 1, "override 'policy.treshold=5':", "unknown key 'policy.treshold'");
    const char *b[] = {"sites.5.region=X"};
    parse_bad(MINIMAL, b, 1, "override 'sites.5.region=X':", "index 5 out of range");
    const char *c[] = {"policy.poll_s"};
    parse_bad(MINIMAL, c, 1, "override 'policy.poll_s':", "expected key=value");
    const char *d[] = {"sites.0.power_w.train=abc"};
    parse_bad(MINIMAL, d, 1, "override 'sites.0.power_w.train=abc':",
              "key 'sites[0].power_w.train': expected a number >= 0, got \"abc\"");
    const char *e[] = {"sites.x.region=R"};
    parse_bad(MINIMAL, e, 1, "override 'sites.x.region=R':", "expected an index");
    const char *f[] = {"name.x=1"};
    parse_bad("name: n\n" MINIMAL, f, 1, "override 'name.x=1':", "single value");
    const char *g[] = {"policy..poll_s=1"};
    parse_bad(MINIMAL, g, 1, "override 'policy..poll_s=1':", "bad key");
    const char *h[] = {"policy.poll_s=[1"};
    parse_bad(MINIMAL, h, 1, "override 'policy.poll_s=[1'", "YAML syntax error");
    const char *i[] = {"=1"};
    parse_bad(MINIMAL, i, 1, "override '=1':", "empty key");
}

/* ---------------------------------------------------------------- resolved YAML */

static void assert_same(const sw_scenario *a, const sw_scenario *b)
{
    cr_assert_str_eq(a->name, b->name);
    cr_assert_eq(a->seed, b->seed);
    cr_assert_str_eq(a->trace.file, b->trace.file);
    cr_assert_eq(a->trace.unit, b->trace.unit);
    cr_assert_eq(a->trace.max_gap_s, b->trace.max_gap_s);
    cr_assert_eq(a->trace.fill_gaps, b->trace.fill_gaps);
    cr_assert(a->trace.start_unix_s == b->trace.start_unix_s ||
              (isnan(a->trace.start_unix_s) && isnan(b->trace.start_unix_s)));
    cr_assert(a->trace.end_unix_s == b->trace.end_unix_s ||
              (isnan(a->trace.end_unix_s) && isnan(b->trace.end_unix_s)));
    cr_assert_eq(a->trace.n_baseline_regions, b->trace.n_baseline_regions);
    for (size_t i = 0; i < a->trace.n_baseline_regions; i++)
        cr_assert_str_eq(a->trace.baseline_regions[i], b->trace.baseline_regions[i]);
    cr_assert_eq(memcmp(&a->policy, &b->policy, sizeof a->policy), 0);
    cr_assert_eq(memcmp(&a->rounds, &b->rounds, sizeof a->rounds), 0);
    cr_assert_str_eq(a->model.preset, b->model.preset);
    cr_assert_eq(a->model.params, b->model.params);
    cr_assert_eq(a->model.tokens, b->model.tokens);
    cr_assert_eq(a->model.batch_tokens, b->model.batch_tokens);
    cr_assert_eq(a->model.step_s, b->model.step_s);
    cr_assert_eq(a->model.log_interval_s, b->model.log_interval_s);
    /* the resolved text holds the effective values where the file had 0 */
    sw_convergence_params pa, pb;
    sw_scenario_convergence_params(a, &pa);
    sw_scenario_convergence_params(b, &pb);
    cr_assert_eq(memcmp(&pa, &pb, sizeof pa), 0);
    cr_assert_eq(a->trace.derive.regions, b->trace.derive.regions);
    cr_assert_eq(a->trace.derive.shift_s, b->trace.derive.shift_s);
    cr_assert_eq(a->n_sites, b->n_sites);
    for (size_t i = 0; i < a->n_sites; i++) {
        const sw_scenario_site *x = &a->sites[i], *y = &b->sites[i];
        cr_assert_str_eq(x->name, y->name);
        cr_assert_str_eq(x->region, y->region);
        cr_assert_str_eq(x->gpu, y->gpu);
        cr_assert_eq(x->gpus, y->gpus);
        cr_assert_eq(x->provision_s, y->provision_s);
        cr_assert_eq(x->drain_s, y->drain_s);
        cr_assert_eq(x->pue, y->pue);
        cr_assert_eq(memcmp(&x->power_w, &y->power_w, sizeof x->power_w), 0);
    }
    cr_assert_eq(memcmp(&a->network, &b->network, sizeof a->network), 0);
    cr_assert_eq(a->exec.time_compression, b->exec.time_compression);
    cr_assert_eq(a->exec.threads, b->exec.threads);
    cr_assert_str_eq(a->exec.preset, b->exec.preset);
    cr_assert_eq(a->exec.provisioner, b->exec.provisioner);
    cr_assert_eq(a->exec.batch, b->exec.batch);
    cr_assert_eq(a->exec.seq, b->exec.seq);
    cr_assert_str_eq(a->resolved_yaml, b->resolved_yaml);
}

static void round_trip(const sw_scenario *a)
{
    sw_scenario b;
    sw_error err;
    int rc = sw_scenario_parse_text(a->resolved_yaml, "resolved.yaml", NULL, 0, &b, &err);
    cr_assert_eq(rc, SW_OK, "%s\n--- resolved:\n%s", err.msg, a->resolved_yaml);
    assert_same(a, &b);
    sw_scenario_free(&b);
}

Test(scenario_resolved, paper_round_trips)
{
    sw_scenario s;
    sw_error err;
    cr_assert_eq(sw_scenario_load("scenarios/paper.yaml", NULL, 0, &s, &err), SW_OK, "%s", err.msg);
    round_trip(&s);
    /* every key is written out */
    static const char *keys[] = {"name:",
                                 "seed:",
                                 "baseline_regions:",
                                 "deprovision_after_s:",
                                 "momentum:",
                                 "eff_h0_steps:",
                                 "derive: {regions: 0, shift_s: 622800}",
                                 "lan_latency_us:",
                                 "provisioner:",
                                 "power_w: {train: 2024, idle: 468, off: 0}"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert(strstr(s.resolved_yaml, keys[i]), "'%s' missing from:\n%s", keys[i],
                  s.resolved_yaml);
    sw_scenario_free(&s);
}

Test(scenario_resolved, awkward_values_round_trip)
{
    const char *ov[] = {"seed=18446744073709551615",
                        "sites.0.name='null'",
                        "sites.1.name='12.5'",
                        "sites.1.gpu=h100",
                        "trace.start=2026-01-11T17:00:00.25+01:00",
                        "model.tokens=0.1",
                        "rounds.outer.momentum=0.30000000000000004",
                        "model.convergence.beta=1e-300",
                        "trace.unit=lbs_per_mwh",
                        "policy.kind=always_on",
                        "trace.fill_gaps=yes"};
    sw_scenario s;
    parse_ok("name: \"1e3\"\ntrace: {file: " TRACE "}\n"
             "sites: [{name: a, region: \"x y\"}, {name: b, region: \"odd: name # not a "
             "comment\"}]\n",
             ov, sizeof ov / sizeof ov[0], &s);
    cr_assert_str_eq(s.name, "1e3"); /* quoted: a string, not a number */
    cr_assert_str_eq(s.sites[1].region, "odd: name # not a comment");
    cr_assert_str_eq(s.sites[0].name, "null"); /* quoted: a string, not null */
    round_trip(&s);
    sw_scenario_free(&s);
}

/* Issue 13: the name makes the default report path results/<name>.h5, so it must be one safe
 * file name; more baseline regions than sim --baselines runs are an error, not dropped. */
Test(scenario_errors, unsafe_names_and_too_many_baselines)
{
    const char *bad[] = {"../../x", "a/b", ".hidden", "-rf", "a b", "x\\\\y"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[400];
        snprintf(text, sizeof text,
                 "name: \"%s\"\ntrace: {file: " TRACE "}\nsites: [{name: a, region: R}]\n", bad[i]);
        sw_scenario s;
        sw_error err;
        cr_assert_eq(sw_scenario_parse_text(text, "names.yaml", NULL, 0, &s, &err), SW_EINPUT,
                     "name '%s' accepted", bad[i]);
        cr_assert(strstr(err.msg, "names.yaml:1") && strstr(err.msg, "key 'name'") &&
                      strstr(err.msg, "safe file name"),
                  "%s", err.msg);
        sw_scenario_free(&s);
    }
    /* a file name that is not safe needs an explicit name */
    sw_scenario s;
    sw_error err;
    const char *text = "trace: {file: " TRACE "}\nsites: [{name: a, region: R}]\n";
    cr_assert_eq(sw_scenario_parse_text(text, "dir/my scenario.yaml", NULL, 0, &s, &err),
                 SW_EINPUT);
    cr_assert(strstr(err.msg, "'my scenario'") && strstr(err.msg, "key 'name'"), "%s", err.msg);
    sw_scenario_free(&s);
    const char *ov[] = {"name=../up"};
    cr_assert_eq(sw_scenario_parse_text(text, "ok.yaml", ov, 1, &s, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "key 'name': '../up'"), "%s", err.msg);
    sw_scenario_free(&s);
    char many[1200];
    int n = snprintf(many, sizeof many, "name: m\ntrace: {file: " TRACE ", baseline_regions: [");
    for (int k = 0; k < SW_SCENARIO_MAX_BASELINE_REGIONS + 1; k++)
        n += snprintf(many + n, sizeof many - (size_t)n, "%sR%d", k ? ", " : "", k);
    snprintf(many + n, sizeof many - (size_t)n, "]}\nsites: [{name: a, region: R}]\n");
    cr_assert_eq(sw_scenario_parse_text(many, "many.yaml", NULL, 0, &s, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "many.yaml:2") && strstr(err.msg, "trace.baseline_regions") &&
                  strstr(err.msg, "16 regions, expected at most 15"),
              "%s", err.msg);
    sw_scenario_free(&s);
}

Test(scenario_tables, gpu_and_preset_lookup)
{
    cr_assert_eq(sw_gpu_peak_flops("a100"), 312e12);
    cr_assert_eq(sw_gpu_peak_flops("h100"), 989e12);
    cr_assert_eq(sw_gpu_peak_flops("A100"), 0);
    cr_assert_eq(sw_gpu_peak_flops("tpu"), 0);
    cr_assert_eq(sw_gpu_peak_flops(NULL), 0);
    cr_assert_eq(sw_model_preset_params("nanochat-d20"), 561e6);
    cr_assert_eq(sw_model_preset_params("x"), 0);
}

/* ---------------------------------------------------------------- convergence keys */

Test(scenario_convergence, zero_keys_give_the_shipped_fit_and_schedule_of_the_run)
{
    sw_scenario s;
    parse_ok(MINIMAL "model: {tokens: 40e9}\n", NULL, 0, &s);
    sw_convergence_params got, fit;
    sw_scenario_convergence_params(&s, &got);
    sw_convergence_d20_defaults(&fit);
    fit.schedule_tokens = 40e9; /* the LR schedule spans model.tokens */
    cr_assert_eq(memcmp(&got, &fit, sizeof got), 0);
    /* the resolved YAML records the effective values */
    cr_assert(strstr(s.resolved_yaml, "schedule_tokens: 40000000000"), "%s", s.resolved_yaml);
    cr_assert(strstr(s.resolved_yaml, "e_nats: 2.646035076"), "%s", s.resolved_yaml);
    cr_assert(strstr(s.resolved_yaml, "eff_h0_steps: 65.37702821"), "%s", s.resolved_yaml);
    round_trip(&s);
    sw_scenario_free(&s);
}

Test(scenario_convergence, non_zero_keys_override_each_field)
{
    sw_scenario s;
    parse_ok(MINIMAL "model:\n  convergence:\n    e_nats: 2.5\n    b: 100\n    beta: 0.25\n"
                     "    loss_max_nats: 10\n    schedule_tokens: 1e9\n    warmdown_frac: 0.2\n"
                     "    anneal_nats: 0.1\n    eff_h0_steps: 1e12\n",
             NULL, 0, &s);
    sw_convergence_params p;
    sw_scenario_convergence_params(&s, &p);
    cr_assert_eq(p.e_nats, 2.5);
    cr_assert_eq(p.b, 100);
    cr_assert_eq(p.beta, 0.25);
    cr_assert_eq(p.loss_max_nats, 10);
    cr_assert_eq(p.schedule_tokens, 1e9);
    cr_assert_eq(p.warmdown_frac, 0.2);
    cr_assert_eq(p.anneal_nats, 0.1);
    cr_assert_eq(p.eff_h0_steps, 1e12);
    round_trip(&s);
    sw_scenario_free(&s);
    /* one key: the others keep the fit */
    const char *ov[] = {"model.convergence.beta=0.5"};
    parse_ok(MINIMAL, ov, 1, &s);
    sw_convergence_params fit;
    sw_convergence_d20_defaults(&fit);
    sw_scenario_convergence_params(&s, &p);
    cr_assert_eq(p.beta, 0.5);
    cr_assert_eq(p.e_nats, fit.e_nats);
    cr_assert_eq(p.anneal_nats, fit.anneal_nats);
    sw_scenario_free(&s);
}

Test(scenario_convergence, bad_keys_and_values)
{
    parse_bad(MINIMAL "model: {convergence: {E: 1.8}}\n", NULL, 0,
              "t.yaml:3:23:", "unknown key 'model.convergence.E', expected one of e_nats, b, beta");
    parse_bad(MINIMAL "model: {convergence: {warmdown_frac: 1}}\n", NULL, 0, "t.yaml:3:38:",
              "key 'model.convergence.warmdown_frac': expected a number in [0, 1), got \"1\"");
    parse_bad(MINIMAL "model: {convergence: {anneal_nats: -0.1}}\n", NULL, 0,
              "t.yaml:3:36:", "key 'model.convergence.anneal_nats': expected a number >= 0");
    /* each key in range, together unusable: the cap under the irreducible loss */
    parse_bad(MINIMAL "model:\n  convergence: {e_nats: 3, loss_max_nats: 2}\n", NULL, 0,
              "t.yaml:4:43:", "key 'model.convergence.loss_max_nats': 2 is out of range");
    const char *ov[] = {"model.convergence.e_nats=20"}; /* above the default cap ln 65536 */
    parse_bad(MINIMAL, ov, 1, "override 'model.convergence.e_nats=20':",
              "key 'model.convergence.loss_max_nats': 11.0904 is out of range");
}

/* ---------------------------------------------------------------- derived regions */

#define YEAR "traces/sgip_caiso_moer_2020_5min.csv"

Test(scenario_derive, keys_and_region_names)
{
    sw_scenario s;
    parse_ok("trace: {file: " YEAR ", derive: {regions: 100, shift_s: 3600},"
             " baseline_regions: [D001]}\n"
             "sites: [{name: a, region: D000}, {name: b, region: D099}]\n",
             NULL, 0, &s);
    cr_assert_eq(s.trace.derive.regions, 100);
    cr_assert_eq(s.trace.derive.shift_s, 3600);
    cr_assert(strstr(s.resolved_yaml, "derive: {regions: 100, shift_s: 3600}"), "%s",
              s.resolved_yaml);
    round_trip(&s);
    sw_scenario_free(&s);
    const char *ov[] = {"trace.derive.regions=3"};
    parse_ok("trace: {file: " YEAR "}\nsites: [{name: a, region: D002}]\n", ov, 1, &s);
    cr_assert_eq(s.trace.derive.shift_s, 622800, "default 7 d 5 h");
    sw_scenario_free(&s);
}

Test(scenario_derive, bad_values_and_regions_name_the_line)
{
    parse_bad("trace: {file: " YEAR ", derive: {regions: -1}}\nsites: [{name: a, region: D0}]\n",
              NULL, 0, "t.yaml:1:", "key 'trace.derive.regions': expected an integer in [0, 1001)");
    parse_bad("trace: {file: " YEAR ", derive: {regions: 1001}}\nsites: [{name: a, region: D0}]\n",
              NULL, 0, "t.yaml:1:", "key 'trace.derive.regions'");
    parse_bad("trace: {file: " YEAR ", derive: {regions: 2, shift_s: -5}}\n"
              "sites: [{name: a, region: D000}]\n",
              NULL, 0, "t.yaml:1:", "key 'trace.derive.shift_s': expected a number >= 0");
    parse_bad("trace: {file: " YEAR ", derive: {regions: 2, shifts: 5}}\n"
              "sites: [{name: a, region: D000}]\n",
              NULL, 0, "t.yaml:1:", "unknown key 'trace.derive.shifts'");
    /* a region of the file, or a derived one past the count, or not canonical */
    parse_bad("trace: {file: " YEAR ", derive: {regions: 10}}\n"
              "sites:\n  - {name: a, region: D000}\n  - {name: b, region: SGIP_CAISO_PGE}\n",
              NULL, 0, "t.yaml:4:23:",
              "key 'sites[1].region': region 'SGIP_CAISO_PGE' is not one of the 10 derived "
              "regions of trace.derive, expected D000 .. D009");
    parse_bad("trace: {file: " YEAR ", derive: {regions: 10}}\nsites: [{name: a, region: D010}]\n",
              NULL, 0, "t.yaml:2:27:", "region 'D010' is not one of the 10 derived");
    parse_bad("trace: {file: " YEAR ", derive: {regions: 10}}\nsites: [{name: a, region: D1}]\n",
              NULL, 0, "t.yaml:2:27:", "region 'D1' is not one");
    parse_bad("trace: {file: " YEAR ", derive: {regions: 10}, baseline_regions: [D003, DE]}\n"
              "sites: [{name: a, region: D000}]\n",
              NULL, 0, "t.yaml:1:", "key 'trace.baseline_regions[1]': region 'DE'");
}

Test(scenario_derive, resolve_trace_accepts_the_file_or_the_derived_trace)
{
    sw_scenario s;
    sw_error err = {0};
    parse_ok("trace: {file: " YEAR ", derive: {regions: 6}}\n"
             "sites: [{name: a, region: D005}]\n",
             NULL, 0, &s);
    sw_trace *t = NULL;
    sw_trace_options opt = sw_scenario_trace_options(&s);
    cr_assert_eq(sw_trace_load(s.trace.file, &opt, &t, &err), SW_OK, "%s", err.msg);
    /* the file's trace: derived for the check */
    cr_assert_eq(sw_scenario_resolve_trace(&s, t, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(s.trace.start_unix_s, 1577836800.0); /* 2020-01-01 */
    cr_assert_eq(s.trace.end_unix_s, 1577836800.0 + 366 * 86400.0);
    /* apply_derive replaces the file's trace by the derived one, which resolves as well */
    const sw_trace *before = t;
    cr_assert_eq(sw_scenario_apply_derive(&s, &t, &err), SW_OK, "%s", err.msg);
    cr_assert_neq(t, before);
    cr_assert_eq(sw_trace_region_count(t), 6);
    cr_assert_str_eq(sw_trace_region_name(t, 5), "D005");
    cr_assert_eq(sw_scenario_resolve_trace(&s, t, &err), SW_OK, "%s", err.msg);
    sw_trace_destroy(t);
    sw_scenario_free(&s);

    /* without derive, apply_derive leaves the trace */
    parse_ok(MINIMAL, NULL, 0, &s);
    cr_assert_eq(sw_trace_load(TRACE, NULL, &t, &err), SW_OK, "%s", err.msg);
    before = t;
    cr_assert_eq(sw_scenario_apply_derive(&s, &t, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(t, before);
    sw_trace_destroy(t);
    sw_scenario_free(&s);
}

Test(scenario_derive, a_trace_that_cannot_be_derived_names_the_key)
{
    sw_scenario s;
    sw_error err = {0};
    parse_ok("trace: {file: " TRACE ", derive: {regions: 4}}\nsites: [{name: a, region: D003}]\n",
             NULL, 0, &s);
    /* the study's trace has regions of unequal lengths: not one grid */
    double t[] = {0, 300, 900}, v[] = {1, 2, 3};
    sw_trace *gap = NULL;
    cr_assert_eq(sw_trace_from_arrays("G", t, v, 3, 300, &gap, &err), SW_OK, "%s", err.msg);
    sw_trace *keep = gap;
    cr_assert_eq(sw_scenario_apply_derive(&s, &gap, &err), SW_EINPUT);
    cr_assert_eq(gap, keep, "unchanged on error");
    cr_assert(strstr(err.msg, "key 'trace.derive'") && strstr(err.msg, "regular grid"), "%s",
              err.msg);
    cr_assert_eq(sw_scenario_resolve_trace(&s, gap, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "key 'trace.derive'"), "%s", err.msg);
    sw_trace_destroy(gap);
    sw_scenario_free(&s);
}
