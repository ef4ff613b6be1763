/* scenario.c - scenario YAML: parse (core/yamltree), apply overrides, validate into sw_scenario,
 * emit the resolved YAML (see scenario.h and docs/formats/scenario.md).
 *
 * One table per section describes every key: its type, where it lives in the struct, its
 * default and its range. Defaults, reading, validation messages, emission and freeing all walk
 * the same tables, so adding a field is one line here (plus the struct and the docs).
 */
#include "core/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "core/fsutil.h"
#include "core/trace_derive.h"
#include "core/yamltree.h"

/* Enums are read and written through int (their compatible type is int or unsigned int). */
_Static_assert(sizeof(sw_policy_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(sw_outer_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(sw_provisioner_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(sw_trace_unit) == sizeof(int), "enum size");
_Static_assert(sizeof(sw_forecast_kind) == sizeof(int), "enum size");

/* ---------------------------------------------------------------- lookup tables */

/* Peak dense (no sparsity) BF16 tensor-core throughput per GPU from the vendors' data sheets
 * (SXM/OAM parts). v100 has no BF16: its FP16 tensor peak is the closest equivalent. */
static const struct {
    const char *name;
    double flops;
} gpu_table[] = {
    {"a100", 312e12},    /* NVIDIA A100 data sheet: BF16 tensor 312 TFLOPS */
    {"h100", 989e12},    /* NVIDIA H100 SXM: BF16 tensor 989 TFLOPS (1979 with sparsity) */
    {"h200", 989e12},    /* NVIDIA H200: same compute as H100 SXM */
    {"b200", 2250e12},   /* NVIDIA HGX B200: BF16 2.25 PFLOPS dense */
    {"l40s", 362e12},    /* NVIDIA L40S: BF16 362 TFLOPS dense */
    {"l4", 121e12},      /* NVIDIA L4: BF16 121 TFLOPS dense */
    {"v100", 125e12},    /* NVIDIA V100 SXM2: FP16 tensor 125 TFLOPS */
    {"mi300x", 1307e12}, /* AMD Instinct MI300X: BF16 1307 TFLOPS dense */
};

double sw_gpu_peak_flops(const char *gpu)
{
    for (size_t i = 0; gpu && i < sizeof gpu_table / sizeof gpu_table[0]; i++)
        if (strcmp(gpu, gpu_table[i].name) == 0)
            return gpu_table[i].flops;
    return 0;
}

double sw_model_preset_params(const char *preset)
{
    /* nanochat d20: 20 layers, width 1280, vocab 65536 (DESIGN §2) */
    if (preset && strcmp(preset, "nanochat-d20") == 0)
        return 561e6;
    return 0;
}

/* ---------------------------------------------------------------- field tables */

typedef enum ftype {
    F_NUM,     /* double */
    F_INT,     /* int */
    F_U64,     /* uint64_t */
    F_BOOL,    /* bool */
    F_STR,     /* char * (owned), non-empty */
    F_PATH,    /* char * (owned), a file path resolved against the scenario's folder */
    F_ENUM,    /* int index into names */
    F_TIME,    /* double Unix s, ISO-8601 in YAML, NAN = default */
    F_STRLIST, /* char ** (owned) and size_t count at off_n */
    F_MAP,     /* a sub-struct described by sub */
    F_LIST,    /* array of item_size structs described by sub, count at off_n */
} ftype;

enum { GE = 1, GT = 2, LT = 4 };                                 /* bounds: lo <= / lo < / < hi */
enum { REQUIRED = 1, FLOW = 2, GPU_NAME = 4, UNIQUE_NAMES = 8 }; /* flags */

typedef struct field {
    const char *key;
    ftype type;
    size_t off;
    double def;          /* default of numbers, bools and enums (index) */
    const char *def_str; /* default of strings (NULL = none) */
    unsigned bounds;
    double lo, hi;
    const char *const *names; /* F_ENUM */
    const struct field *sub;  /* F_MAP, F_LIST */
    size_t off_n;             /* F_STRLIST, F_LIST */
    size_t item_size;         /* F_LIST */
    unsigned flags;
} field;

#define NUM(st, m, k, d, b, l, h)                                                                  \
    {                                                                                              \
        k, F_NUM, offsetof(st, m), d, NULL, b, l, h, NULL, NULL, 0, 0, 0                           \
    }
#define INT(st, m, k, d, l)                                                                        \
    {                                                                                              \
        k, F_INT, offsetof(st, m), d, NULL, GE, l, 0, NULL, NULL, 0, 0, 0                          \
    }
#define U64(st, m, k, d, b, l)                                                                     \
    {                                                                                              \
        k, F_U64, offsetof(st, m), d, NULL, b, l, 0, NULL, NULL, 0, 0, 0                           \
    }
#define BOOL(st, m, k, d)                                                                          \
    {                                                                                              \
        k, F_BOOL, offsetof(st, m), d, NULL, 0, 0, 0, NULL, NULL, 0, 0, 0                          \
    }
#define STR(st, m, k, d, fl)                                                                       \
    {                                                                                              \
        k, F_STR, offsetof(st, m), 0, d, 0, 0, 0, NULL, NULL, 0, 0, fl                             \
    }
#define ENUM(st, m, k, d, nm)                                                                      \
    {                                                                                              \
        k, F_ENUM, offsetof(st, m), d, NULL, 0, 0, 0, nm, NULL, 0, 0, 0                            \
    }
#define MAP(st, m, k, sb, fl)                                                                      \
    {                                                                                              \
        k, F_MAP, offsetof(st, m), 0, NULL, 0, 0, 0, NULL, sb, 0, 0, fl                            \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, F_NUM, 0, 0, NULL, 0, 0, 0, NULL, NULL, 0, 0, 0                                      \
    }

static const char *const unit_names[] = {"g_per_kwh", "lbs_per_mwh", NULL};
static const char *const policy_names[] = {"threshold", "always_on", "forecast_threshold",
                                           "deadline",  "elastic",   NULL};
static const char *const forecast_names[] = {"perfect", "persistence", "noisy", "file", NULL};
static const char *const outer_names[] = {"none", "nesterov", NULL};
static const char *const provisioner_names[] = {"local", "command", "static", NULL};
static const char *const backend_names[] = {"cpu", "cuda", NULL};

const char *sw_scenario_policy_kind_name(sw_policy_kind k)
{
    return k >= SW_POLICY_THRESHOLD && k <= SW_POLICY_ELASTIC ? policy_names[k] : "?";
}

const char *sw_exec_backend_name(sw_exec_backend b)
{
    return b >= SW_EXEC_BACKEND_CPU && b <= SW_EXEC_BACKEND_CUDA ? backend_names[b] : "?";
}

/* trace.derive.regions: at most 1000 (D000 .. D999); a year of 5-min points is ~2.5 MB each */
#define MAX_DERIVED_REGIONS 1000

static const field derive_fields[] = {
    {"regions", F_INT, offsetof(sw_scenario_trace_derive, regions), 0, NULL, GE | LT, 0,
     MAX_DERIVED_REGIONS + 1, NULL, NULL, 0, 0, 0},
    NUM(sw_scenario_trace_derive, shift_s, "shift_s", 7 * 86400 + 5 * 3600, GE, 0, 0),
    END,
};

static const field trace_fields[] = {
    {"file", F_PATH, offsetof(sw_scenario_trace, file), 0, NULL, 0, 0, 0, NULL, NULL, 0, 0,
     REQUIRED},
    ENUM(sw_scenario_trace, unit, "unit", SW_UNIT_G_PER_KWH, unit_names),
    NUM(sw_scenario_trace, max_gap_s, "max_gap_s", 0, GE, 0, 0),
    BOOL(sw_scenario_trace, fill_gaps, "fill_gaps", 0),
    {"start", F_TIME, offsetof(sw_scenario_trace, start_unix_s), 0, NULL, 0, 0, 0, NULL, NULL, 0, 0,
     0},
    {"end", F_TIME, offsetof(sw_scenario_trace, end_unix_s), 0, NULL, 0, 0, 0, NULL, NULL, 0, 0, 0},
    {"baseline_regions", F_STRLIST, offsetof(sw_scenario_trace, baseline_regions), 0, NULL, 0, 0, 0,
     NULL, NULL, offsetof(sw_scenario_trace, n_baseline_regions), 0, 0},
    MAP(sw_scenario_trace, derive, "derive", derive_fields, FLOW),
    END,
};

static const field forecast_fields[] = {
    ENUM(sw_scenario_forecast, kind, "kind", SW_FORECAST_PERFECT, forecast_names),
    NUM(sw_scenario_forecast, sigma0_g_per_kwh, "sigma0_g_per_kwh", 20, GE, 0, 0),
    NUM(sw_scenario_forecast, sigma1_g_per_kwh_per_sqrt_h, "sigma1_g_per_kwh_per_sqrt_h", 40, GE, 0,
        0),
    NUM(sw_scenario_forecast, rho, "rho", 0.8, GE | LT, 0, 1),
    {"file", F_PATH, offsetof(sw_scenario_forecast, file), 0, NULL, 0, 0, 0, NULL, NULL, 0, 0, 0},
    END,
};

static const field policy_fields[] = {
    ENUM(sw_scenario_policy, kind, "kind", SW_POLICY_THRESHOLD, policy_names),
    NUM(sw_scenario_policy, threshold_g_per_kwh, "threshold_g_per_kwh", 100, GE, 0, 0),
    NUM(sw_scenario_policy, deprovision_after_s, "deprovision_after_s", 600, GE, 0, 0),
    NUM(sw_scenario_policy, poll_s, "poll_s", 10, GE, 0, 0),
    NUM(sw_scenario_policy, min_window_s, "min_window_s", 0, GE, 0, 0),
    NUM(sw_scenario_policy, horizon_s, "horizon_s", 86400, GT, 0, 0),
    NUM(sw_scenario_policy, deadline_s, "deadline_s", 0, GE, 0, 0),
    NUM(sw_scenario_policy, margin, "margin", 0.05, GE, 0, 0),
    NUM(sw_scenario_policy, max_g_per_mtoken, "max_g_per_mtoken", 0, GE, 0, 0),
    MAP(sw_scenario_policy, forecast, "forecast", forecast_fields, FLOW),
    END,
};

static const field outer_fields[] = {
    ENUM(sw_scenario_outer, kind, "kind", SW_OUTER_NONE, outer_names),
    NUM(sw_scenario_outer, lr, "lr", 0.7, GT, 0, 0),
    NUM(sw_scenario_outer, momentum, "momentum", 0.9, GE | LT, 0, 1),
    NUM(sw_scenario_outer, eff_h0_steps, "eff_h0_steps", 0, GE, 0, 0),
    END,
};

static const field rounds_fields[] = {
    NUM(sw_scenario_rounds, min_duration_s, "min_duration_s", 600, GT, 0, 0),
    NUM(sw_scenario_rounds, startup_s, "startup_s", 85, GE, 0, 0),
    NUM(sw_scenario_rounds, return_s, "return_s", 45, GE, 0, 0),
    NUM(sw_scenario_rounds, aggregate_s, "aggregate_s", 2, GE, 0, 0),
    MAP(sw_scenario_rounds, outer, "outer", outer_fields, 0),
    END,
};

static const field convergence_fields[] = {
    NUM(sw_scenario_convergence, e_nats, "e_nats", 0, GE, 0, 0),
    NUM(sw_scenario_convergence, b, "b", 0, GE, 0, 0),
    NUM(sw_scenario_convergence, beta, "beta", 0, GE, 0, 0),
    NUM(sw_scenario_convergence, loss_max_nats, "loss_max_nats", 0, GE, 0, 0),
    NUM(sw_scenario_convergence, schedule_tokens, "schedule_tokens", 0, GE, 0, 0),
    NUM(sw_scenario_convergence, warmdown_frac, "warmdown_frac", 0, GE | LT, 0, 1),
    NUM(sw_scenario_convergence, anneal_nats, "anneal_nats", 0, GE, 0, 0),
    NUM(sw_scenario_convergence, eff_h0_steps, "eff_h0_steps", 0, GE, 0, 0),
    END,
};

static const field model_fields[] = {
    STR(sw_scenario_model, preset, "preset", "nanochat-d20", 0),
    NUM(sw_scenario_model, params, "params", 0, GE, 0, 0),
    NUM(sw_scenario_model, tokens, "tokens", 12.3e9, GT, 0, 0),
    U64(sw_scenario_model, batch_tokens, "batch_tokens", 524288, GE, 1),
    NUM(sw_scenario_model, step_s, "step_s", 2.75, GT, 0, 0),
    NUM(sw_scenario_model, log_interval_s, "log_interval_s", 60, GT, 0, 0),
    MAP(sw_scenario_model, convergence, "convergence", convergence_fields, 0),
    END,
};

#define POWER_OFF(m) (offsetof(sw_scenario_site, power_w.m) - offsetof(sw_scenario_site, power_w))
static const field power_fields[] = {
    {"train", F_NUM, POWER_OFF(train), 2024, NULL, GE, 0, 0, NULL, NULL, 0, 0, 0},
    {"idle", F_NUM, POWER_OFF(idle), 468, NULL, GE, 0, 0, NULL, NULL, 0, 0, 0},
    {"off", F_NUM, POWER_OFF(off), 0, NULL, GE, 0, 0, NULL, NULL, 0, 0, 0},
    END,
};

static const field site_fields[] = {
    STR(sw_scenario_site, name, "name", NULL, REQUIRED),
    STR(sw_scenario_site, region, "region", NULL, REQUIRED),
    INT(sw_scenario_site, gpus, "gpus", 4, 1),
    STR(sw_scenario_site, gpu, "gpu", "a100", GPU_NAME),
    NUM(sw_scenario_site, provision_s, "provision_s", 240, GE, 0, 0),
    NUM(sw_scenario_site, drain_s, "drain_s", 45, GE, 0, 0),
    NUM(sw_scenario_site, pue, "pue", 1.0, GE, 1, 0),
    MAP(sw_scenario_site, power_w, "power_w", power_fields, FLOW),
    END,
};

static const field network_fields[] = {
    NUM(sw_scenario_network, wan_gbps, "wan_gbps", 10, GT, 0, 0),
    NUM(sw_scenario_network, wan_latency_ms, "wan_latency_ms", 80, GE, 0, 0),
    NUM(sw_scenario_network, lan_gbps, "lan_gbps", 100, GT, 0, 0),
    NUM(sw_scenario_network, lan_latency_us, "lan_latency_us", 5, GE, 0, 0),
    END,
};

static const field exec_fields[] = {
    NUM(sw_scenario_exec, time_compression, "time_compression", 60, GT, 0, 0),
    INT(sw_scenario_exec, threads, "threads", 1, 1),
    STR(sw_scenario_exec, preset, "preset", "small", 0),
    ENUM(sw_scenario_exec, provisioner, "provisioner", SW_PROVISIONER_LOCAL, provisioner_names),
    INT(sw_scenario_exec, batch, "batch", 4, 1),
    INT(sw_scenario_exec, seq, "seq", 64, 1),
    ENUM(sw_scenario_exec, backend, "backend", SW_EXEC_BACKEND_CPU, backend_names),
    {"data", F_PATH, offsetof(sw_scenario_exec, data), 0, NULL, 0, 0, 0, NULL, NULL, 0, 0, 0},
    {"tokenizer", F_PATH, offsetof(sw_scenario_exec, tokenizer), 0, NULL, 0, 0, 0, NULL, NULL, 0, 0,
     0},
    INT(sw_scenario_exec, vocab, "vocab", 0, 0),
    END,
};

static const field failure_fields[] = {
    STR(sw_scenario_failure, site, "site", NULL, REQUIRED),
    NUM(sw_scenario_failure, t_s, "t_s", 0, GE, 0, 0),
    END,
};

static const field failures_fields[] = {
    {"at", F_LIST, offsetof(sw_scenario_failures, at), 0, NULL, GE, 0, 0, NULL, failure_fields,
     offsetof(sw_scenario_failures, n_at), sizeof(sw_scenario_failure), 0},
    NUM(sw_scenario_failures, mtbf_s, "mtbf_s", 0, GE, 0, 0),
    END,
};

static const field top_fields[] = {
    STR(sw_scenario, name, "name", NULL, 0),
    U64(sw_scenario, seed, "seed", 1, 0, 0),
    MAP(sw_scenario, trace, "trace", trace_fields, 0),
    MAP(sw_scenario, policy, "policy", policy_fields, 0),
    MAP(sw_scenario, rounds, "rounds", rounds_fields, 0),
    MAP(sw_scenario, model, "model", model_fields, 0),
    {"sites", F_LIST, offsetof(sw_scenario, sites), 0, NULL, GE, 1, 0, NULL, site_fields,
     offsetof(sw_scenario, n_sites), sizeof(sw_scenario_site), REQUIRED | UNIQUE_NAMES},
    MAP(sw_scenario, network, "network", network_fields, 0),
    MAP(sw_scenario, exec, "exec", exec_fields, 0),
    MAP(sw_scenario, failures, "failures", failures_fields, 0),
    END,
};

#define AT(base, off, type) ((type *)((char *)(base) + (off)))

/* ---------------------------------------------------------------- defaults and freeing */

static char *dup_str(const char *s)
{
    if (!s)
        return NULL;
    char *d = malloc(strlen(s) + 1);
    if (d)
        strcpy(d, s);
    return d;
}

static void free_fields(const field *fs, void *base)
{
    for (const field *f = fs; f->key; f++) {
        switch (f->type) {
        case F_STR:
        case F_PATH:
            free(*AT(base, f->off, char *));
            *AT(base, f->off, char *) = NULL;
            break;
        case F_STRLIST: {
            char **list = *AT(base, f->off, char **);
            size_t n = *AT(base, f->off_n, size_t);
            for (size_t i = 0; i < n; i++)
                free(list[i]);
            free(list);
            *AT(base, f->off, char **) = NULL;
            *AT(base, f->off_n, size_t) = 0;
            break;
        }
        case F_MAP:
            free_fields(f->sub, AT(base, f->off, char));
            break;
        case F_LIST: {
            char *items = *AT(base, f->off, char *);
            size_t n = *AT(base, f->off_n, size_t);
            for (size_t i = 0; i < n; i++)
                free_fields(f->sub, items + i * f->item_size);
            free(items);
            *AT(base, f->off, char *) = NULL;
            *AT(base, f->off_n, size_t) = 0;
            break;
        }
        default:
            break;
        }
    }
}

void sw_scenario_free(sw_scenario *s)
{
    if (!s)
        return;
    free_fields(top_fields, s);
    free(s->resolved_yaml);
    memset(s, 0, sizeof *s);
}

/* Writes every default; false when out of memory. */
static bool set_defaults(const field *fs, void *base)
{
    bool ok = true;
    for (const field *f = fs; f->key; f++) {
        switch (f->type) {
        case F_NUM:
            *AT(base, f->off, double) = f->def;
            break;
        case F_INT:
        case F_ENUM:
            *AT(base, f->off, int) = (int)f->def;
            break;
        case F_U64:
            *AT(base, f->off, uint64_t) = (uint64_t)f->def;
            break;
        case F_BOOL:
            *AT(base, f->off, bool) = f->def != 0;
            break;
        case F_TIME:
            *AT(base, f->off, double) = NAN;
            break;
        case F_STR:
        case F_PATH:
            *AT(base, f->off, char *) = dup_str(f->def_str);
            ok = ok && (!f->def_str || *AT(base, f->off, char *));
            break;
        case F_STRLIST:
        case F_LIST:
            *AT(base, f->off, void *) = NULL;
            *AT(base, f->off_n, size_t) = 0;
            break;
        case F_MAP:
            ok = set_defaults(f->sub, AT(base, f->off, char)) && ok;
            break;
        }
    }
    return ok;
}

/* ---------------------------------------------------------------- reading and validation */

typedef struct ctx {
    const char *file; /* scenario name used in messages */
    const char *dir;  /* its folder ("" = none) for relative trace paths */
    sw_error *err;
} ctx;

/* "FILE:LINE:COL" or "override 'k=v'" for a node. */
static const char *where(const ctx *c, const sw_yt_node *n, char *buf, size_t size)
{
    if (n && n->origin)
        snprintf(buf, size, "override '%s'", n->origin);
    else
        snprintf(buf, size, "%s:%zu:%zu", c->file, n ? n->line : 1, n ? n->col : 1);
    return buf;
}

static int fail(const ctx *c, const sw_yt_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(const ctx *c, const sw_yt_node *n, const char *fmt, ...)
{
    char loc[600], msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sw_errorf(c->err, SW_EINPUT, "%s: %s", where(c, n, loc, sizeof loc), msg);
}

static int oom(const ctx *c)
{
    return sw_errorf(c->err, SW_ERUNTIME, "%s: out of memory", c->file);
}

/* What a node is, for "got ...": the scalar quoted, or its kind. */
static const char *got(const sw_yt_node *n, char *buf, size_t size)
{
    if (!n)
        snprintf(buf, size, "nothing");
    else if (n->kind == SW_YT_MAP)
        snprintf(buf, size, "a mapping");
    else if (n->kind == SW_YT_SEQ)
        snprintf(buf, size, "a list");
    else
        snprintf(buf, size, "\"%.60s%s\"", n->text, strlen(n->text) > 60 ? "..." : "");
    return buf;
}

static void join_names(const char *const *names, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
}

/* What a field accepts, for "expected ...". */
static const char *expected(const field *f, char *buf, size_t size)
{
    char names[300];
    switch (f->type) {
    case F_NUM:
    case F_INT:
    case F_U64: {
        const char *what = f->type == F_NUM ? "a number" : "an integer";
        if ((f->bounds & LT) && (f->bounds & GE))
            snprintf(buf, size, "%s in [%g, %g)", what, f->lo, f->hi);
        else if (f->bounds & GE)
            snprintf(buf, size, "%s >= %g", what, f->lo);
        else if (f->bounds & GT)
            snprintf(buf, size, "%s > %g", what, f->lo);
        else
            snprintf(buf, size, "%s", f->type == F_U64 ? "an integer >= 0" : what);
        break;
    }
    case F_BOOL:
        snprintf(buf, size, "true or false");
        break;
    case F_STR:
        if (f->flags & GPU_NAME) {
            size_t used = 0;
            for (size_t i = 0; i < sizeof gpu_table / sizeof gpu_table[0]; i++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                         gpu_table[i].name);
            snprintf(buf, size, "one of %s", names);
        } else {
            snprintf(buf, size, "a non-empty string");
        }
        break;
    case F_PATH:
        snprintf(buf, size, "the path of a trace CSV file");
        break;
    case F_ENUM:
        join_names(f->names, names, sizeof names);
        snprintf(buf, size, "one of %s", names);
        break;
    case F_TIME:
        snprintf(buf, size, "an ISO-8601 time like 2026-01-11T17:00:00Z");
        break;
    case F_STRLIST:
        snprintf(buf, size, "a list of region names like [CAISO_NORTH, DE]");
        break;
    case F_MAP:
        snprintf(buf, size, "a mapping of keys");
        break;
    case F_LIST:
        snprintf(buf, size, "a list of at least %g mapping%s", f->lo, f->lo == 1 ? "" : "s");
        break;
    }
    return buf;
}

static int bad_value(const ctx *c, const field *f, const sw_yt_node *n, const char *path)
{
    char e[400], g[100];
    return fail(c, n, "key '%s': expected %s, got %s", path, expected(f, e, sizeof e),
                got(n, g, sizeof g));
}

static bool in_bounds(const field *f, double v)
{
    if ((f->bounds & GE) && !(v >= f->lo))
        return false;
    if ((f->bounds & GT) && !(v > f->lo))
        return false;
    if ((f->bounds & LT) && !(v < f->hi))
        return false;
    return true;
}

/* A plain scalar made only of number characters that strtod reads whole and finite. */
static bool parse_number(const sw_yt_node *n, double *out)
{
    if (n->kind != SW_YT_SCALAR || n->quoted)
        return false;
    const char *s = n->text;
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s) || !strpbrk(s, "0123456789"))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* A plain scalar of an optional sign and digits, in [INT_MIN-ish, UINT64_MAX]. */
static bool parse_integer(const sw_yt_node *n, bool *negative, uint64_t *magnitude)
{
    if (n->kind != SW_YT_SCALAR || n->quoted)
        return false;
    const char *s = n->text;
    *negative = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (!*s || strspn(s, "0123456789") != strlen(s))
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE)
        return false;
    *magnitude = v;
    return true;
}

static bool parse_bool(const sw_yt_node *n, bool *out)
{
    if (n->kind != SW_YT_SCALAR || n->quoted)
        return false;
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                     "NO",    "off",   "Off",   "OFF"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(n->text, yes[i]) == 0)
            return *out = true;
        if (strcmp(n->text, no[i]) == 0)
            return !(*out = false);
    }
    return false;
}

/* Resolves a trace path: absolute as is; relative against the scenario's folder, else the
 * current directory. NULL (and an error) when neither is readable. */
static char *resolve_path(const ctx *c, const sw_yt_node *n, const char *path, const char *key)
{
    char *joined = NULL;
    if (path[0] != '/' && c->dir[0]) {
        size_t len = strlen(c->dir) + 1 + strlen(path) + 1;
        if (!(joined = malloc(len))) {
            oom(c);
            return NULL;
        }
        snprintf(joined, len, "%s/%s", c->dir, path);
        if (access(joined, R_OK) == 0)
            return joined;
    }
    if (access(path, R_OK) == 0) {
        free(joined);
        char *d = dup_str(path);
        if (!d)
            oom(c);
        return d;
    }
    const char *what = strncmp(key, "exec.", 5) ? "trace file" : "path";
    if (joined)
        fail(c, n,
             "key '%s': %s '%s' not found, expected a readable file (looked for '%s' and '%s')",
             key, what, path, joined, path);
    else
        fail(c, n, "key '%s': %s '%s' not found, expected a readable file", key, what, path);
    free(joined);
    return NULL;
}

static int read_map(const ctx *c, const field *fs, void *base, const sw_yt_node *map,
                    const sw_yt_node *parent, const char *path);

static void child_path(char *buf, size_t size, const char *path, const char *key)
{
    snprintf(buf, size, "%.220s%s%.60s", path, path[0] ? "." : "", key);
}

/* Reads one value node into the field (n is not null). */
static int read_field(const ctx *c, const field *f, void *base, const sw_yt_node *n,
                      const char *path)
{
    switch (f->type) {
    case F_NUM: {
        double v;
        if (!parse_number(n, &v) || !in_bounds(f, v))
            return bad_value(c, f, n, path);
        *AT(base, f->off, double) = v;
        return SW_OK;
    }
    case F_INT:
    case F_U64: {
        bool neg;
        uint64_t mag;
        if (!parse_integer(n, &neg, &mag))
            return bad_value(c, f, n, path);
        if (f->type == F_INT) {
            if (mag > 1000000000u || !in_bounds(f, neg ? -(double)mag : (double)mag))
                return bad_value(c, f, n, path);
            *AT(base, f->off, int) = neg ? -(int)mag : (int)mag;
        } else {
            if ((neg && mag) || !in_bounds(f, (double)mag))
                return bad_value(c, f, n, path);
            *AT(base, f->off, uint64_t) = mag;
        }
        return SW_OK;
    }
    case F_BOOL:
        if (!parse_bool(n, AT(base, f->off, bool)))
            return bad_value(c, f, n, path);
        return SW_OK;
    case F_ENUM:
        if (n->kind == SW_YT_SCALAR)
            for (int i = 0; f->names[i]; i++)
                if (strcmp(n->text, f->names[i]) == 0) {
                    *AT(base, f->off, int) = i;
                    return SW_OK;
                }
        return bad_value(c, f, n, path);
    case F_STR:
    case F_PATH: {
        if (n->kind != SW_YT_SCALAR || !n->text[0])
            return bad_value(c, f, n, path);
        if ((f->flags & GPU_NAME) && sw_gpu_peak_flops(n->text) <= 0)
            return bad_value(c, f, n, path);
        char *s = f->type == F_PATH ? resolve_path(c, n, n->text, path) : dup_str(n->text);
        if (!s)
            return f->type == F_PATH ? SW_EINPUT : oom(c);
        free(*AT(base, f->off, char *));
        *AT(base, f->off, char *) = s;
        return SW_OK;
    }
    case F_TIME: {
        double t;
        if (n->kind != SW_YT_SCALAR || sw_parse_iso8601(n->text, &t) != SW_OK)
            return bad_value(c, f, n, path);
        *AT(base, f->off, double) = t;
        return SW_OK;
    }
    case F_STRLIST: {
        if (n->kind != SW_YT_SEQ)
            return bad_value(c, f, n, path);
        char **list = calloc(n->n ? n->n : 1, sizeof *list);
        if (!list)
            return oom(c);
        char **old = *AT(base, f->off, char **);
        size_t old_n = *AT(base, f->off_n, size_t);
        for (size_t i = 0; i < old_n; i++)
            free(old[i]);
        free(old);
        *AT(base, f->off, char **) = list;
        *AT(base, f->off_n, size_t) = 0;
        for (size_t i = 0; i < n->n; i++) {
            const sw_yt_node *it = n->items[i];
            char ip[300];
            snprintf(ip, sizeof ip, "%.250s[%zu]", path, i);
            if (it->kind != SW_YT_SCALAR || sw_yt_is_null(it) || !it->text[0]) {
                char g[100];
                return fail(c, it, "key '%s': expected a region name, got %s", ip,
                            got(it, g, sizeof g));
            }
            for (size_t j = 0; j < i; j++)
                if (strcmp(list[j], it->text) == 0)
                    return fail(c, it, "key '%s': region '%s' listed twice, expected unique names",
                                ip, it->text);
            if (!(list[i] = dup_str(it->text)))
                return oom(c);
            *AT(base, f->off_n, size_t) = i + 1;
        }
        return SW_OK;
    }
    case F_MAP:
        return read_map(c, f->sub, AT(base, f->off, char), n, n, path);
    case F_LIST: {
        if (n->kind != SW_YT_SEQ || (double)n->n < f->lo) {
            char e[100], g[100];
            return fail(c, n, "key '%s': expected %s, got %s", path, expected(f, e, sizeof e),
                        n->kind == SW_YT_SEQ ? "an empty list" : got(n, g, sizeof g));
        }
        if (n->n == 0)
            return SW_OK; /* an empty list where empty is allowed */
        char *items = calloc(n->n, f->item_size);
        if (!items)
            return oom(c);
        *AT(base, f->off, char *) = items;
        for (size_t i = 0; i < n->n; i++) {
            char ip[300];
            snprintf(ip, sizeof ip, "%.250s[%zu]", path, i);
            void *item = items + i * f->item_size;
            *AT(base, f->off_n, size_t) = i + 1; /* freed with the scenario from here on */
            if (!set_defaults(f->sub, item))
                return oom(c);
            const sw_yt_node *it = n->items[i];
            if (it->kind != SW_YT_MAP) {
                char g[100];
                return fail(c, it, "key '%s': expected a mapping like {name: x, region: R}, got %s",
                            ip, got(it, g, sizeof g));
            }
            int rc = read_map(c, f->sub, item, it, it, ip);
            if (rc != SW_OK)
                return rc;
            /* unique names: the first field of an item is its name */
            const char *name = *AT(item, f->sub[0].off, char *);
            for (size_t j = 0; (f->flags & UNIQUE_NAMES) && j < i; j++)
                if (strcmp(*AT(items + j * f->item_size, f->sub[0].off, char *), name) == 0)
                    return fail(c, sw_yt_get(it, f->sub[0].key),
                                "key '%s.%s': '%s' is also the name of %s[%zu], expected unique "
                                "names",
                                ip, f->sub[0].key, name, path, j);
        }
        return SW_OK;
    }
    }
    return SW_OK;
}

/* Reads a mapping (NULL or null: all defaults) into the struct at base. parent locates
 * "missing key" errors when map is absent. */
static int read_map(const ctx *c, const field *fs, void *base, const sw_yt_node *map,
                    const sw_yt_node *parent, const char *path)
{
    char kp[300];
    if (!sw_yt_is_null(map) && map->kind != SW_YT_MAP) {
        char g[100];
        return fail(c, map, "key '%s': expected a mapping of keys, got %s", path,
                    got(map, g, sizeof g));
    }
    for (size_t i = 0; map && !sw_yt_is_null(map) && i < map->n; i++) {
        const char *key = map->keys[i]->text;
        const field *f = fs;
        while (f->key && strcmp(f->key, key) != 0)
            f++;
        child_path(kp, sizeof kp, path, key);
        if (!f->key) {
            char names[400];
            size_t used = 0;
            for (const field *g = fs; g->key && used < sizeof names; g++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                         g == fs ? "" : ", ", g->key);
            return fail(c, map->keys[i], "unknown key '%s', expected one of %s", kp, names);
        }
        if (sw_yt_is_null(map->items[i]))
            continue; /* explicit null: keep the default */
        int rc = read_field(c, f, base, map->items[i], kp);
        if (rc != SW_OK)
            return rc;
    }
    for (const field *f = fs; f->key; f++) {
        if (!(f->flags & REQUIRED) || !sw_yt_is_null(sw_yt_get(map, f->key)))
            continue;
        char e[400];
        child_path(kp, sizeof kp, path, f->key);
        return fail(c, sw_yt_is_null(map) ? parent : map, "missing key '%s', expected %s", kp,
                    expected(f, e, sizeof e));
    }
    /* absent sub-mappings may hold required keys too (trace.file) */
    for (const field *f = fs; f->key; f++) {
        if (f->type != F_MAP || !sw_yt_is_null(sw_yt_get(map, f->key)))
            continue;
        child_path(kp, sizeof kp, path, f->key);
        int rc = read_map(c, f->sub, AT(base, f->off, char), NULL,
                          sw_yt_is_null(map) ? parent : map, kp);
        if (rc != SW_OK)
            return rc;
    }
    return SW_OK;
}

/* ---------------------------------------------------------------- emitting resolved YAML */

typedef struct outbuf {
    char *p;
    size_t n, cap;
} outbuf;

static int write_out(void *data, unsigned char *bytes, size_t size)
{
    outbuf *b = data;
    if (b->n + size + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + size + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, bytes, size);
    b->n += size;
    b->p[b->n] = '\0';
    return 1;
}

static bool emit_event(yaml_emitter_t *e, yaml_event_t *ev, bool ok)
{
    return ok && yaml_emitter_emit(e, ev);
}

static bool emit_scalar(yaml_emitter_t *e, const char *s, bool quoted)
{
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                      quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                             : YAML_PLAIN_SCALAR_STYLE))
        return false;
    return yaml_emitter_emit(e, &ev);
}

/* Strings that would read back as something else (null, a bool, a number) or need escaping
 * are double-quoted; plain names stay plain. */
static bool needs_quotes(const char *s)
{
    if (!*s || !(isalnum((unsigned char)s[0]) || strchr("_./", s[0])))
        return true;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-./+", *p))
            return true;
    sw_yt_node probe = {.kind = SW_YT_SCALAR, .text = (char *)s};
    double d;
    bool b;
    return sw_yt_is_null(&probe) || parse_number(&probe, &d) || parse_bool(&probe, &b);
}

/* Whole numbers in full (600, not 6e+02), others in the shortest %g form that reads back as
 * exactly v. */
static void format_number(double v, char *buf, size_t size)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, size, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* ISO-8601 UTC with the fewest fraction digits that read back as exactly t. */
static void format_time(double t, char *buf, size_t size)
{
    double whole = floor(t);
    sw_format_iso8601(whole, buf, size);
    if (t == whole)
        return;
    char base[32], frac[24];
    snprintf(base, sizeof base, "%.*s", 19, buf); /* without the Z */
    for (int p = 1; p <= 9; p++) {
        snprintf(frac, sizeof frac, "%.*f", p, t - whole);
        if (frac[0] == '1') /* rounded up to a whole second: keep more digits */
            continue;
        snprintf(buf, size, "%s%sZ", base, frac + 1);
        double back;
        if (sw_parse_iso8601(buf, &back) == SW_OK && back == t)
            return;
    }
}

static bool emit_map(yaml_emitter_t *e, const field *fs, const void *base, bool flow);

static bool emit_field(yaml_emitter_t *e, const field *f, const void *base)
{
    char b[64];
    void *vb = (void *)base;
    yaml_event_t ev;
    switch (f->type) {
    case F_NUM:
        format_number(*AT(vb, f->off, double), b, sizeof b);
        return emit_scalar(e, b, false);
    case F_INT:
        snprintf(b, sizeof b, "%d", *AT(vb, f->off, int));
        return emit_scalar(e, b, false);
    case F_U64:
        snprintf(b, sizeof b, "%" PRIu64, *AT(vb, f->off, uint64_t));
        return emit_scalar(e, b, false);
    case F_BOOL:
        return emit_scalar(e, *AT(vb, f->off, bool) ? "true" : "false", false);
    case F_ENUM:
        return emit_scalar(e, f->names[*AT(vb, f->off, int)], false);
    case F_STR:
    case F_PATH: {
        const char *s = *AT(vb, f->off, char *);
        return s ? emit_scalar(e, s, needs_quotes(s)) : emit_scalar(e, "~", false);
    }
    case F_TIME: {
        double t = *AT(vb, f->off, double);
        if (isnan(t))
            return emit_scalar(e, "~", false);
        format_time(t, b, sizeof b);
        return emit_scalar(e, b, false);
    }
    case F_STRLIST: {
        char **list = *AT(vb, f->off, char **);
        size_t n = *AT(vb, f->off_n, size_t);
        bool ok =
            yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_FLOW_SEQUENCE_STYLE);
        ok = emit_event(e, &ev, ok);
        for (size_t i = 0; ok && i < n; i++)
            ok = emit_scalar(e, list[i], needs_quotes(list[i]));
        return ok && yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    }
    case F_MAP:
        return emit_map(e, f->sub, AT(vb, f->off, char), f->flags & FLOW);
    case F_LIST: {
        char *items = *AT(vb, f->off, char *);
        size_t n = *AT(vb, f->off_n, size_t);
        bool ok =
            yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        ok = emit_event(e, &ev, ok);
        for (size_t i = 0; ok && i < n; i++)
            ok = emit_map(e, f->sub, items + i * f->item_size, false);
        return ok && yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    }
    }
    return false;
}

static bool emit_map(yaml_emitter_t *e, const field *fs, const void *base, bool flow)
{
    yaml_event_t ev;
    bool ok = yaml_mapping_start_event_initialize(
        &ev, NULL, NULL, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
    ok = emit_event(e, &ev, ok);
    for (const field *f = fs; ok && f->key; f++)
        ok = emit_scalar(e, f->key, false) && emit_field(e, f, base);
    return ok && yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
}

static int emit_resolved(sw_scenario *s, sw_error *err)
{
    /* The convergence parameters are written with their effective values (the shipped fit
     * where the file says 0), so a report records the model it was simulated with. */
    sw_convergence_params cp;
    sw_scenario_convergence_params(s, &cp);
    sw_scenario view = *s;
    view.model.convergence = (sw_scenario_convergence){
        .e_nats = cp.e_nats,
        .b = cp.b,
        .beta = cp.beta,
        .loss_max_nats = cp.loss_max_nats,
        .schedule_tokens = cp.schedule_tokens,
        .warmdown_frac = cp.warmdown_frac,
        .anneal_nats = cp.anneal_nats,
        .eff_h0_steps = cp.eff_h0_steps,
    };
    yaml_emitter_t e;
    outbuf b = {0};
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e))
        return sw_errorf(err, SW_ERUNTIME, "cannot initialize the YAML emitter");
    yaml_emitter_set_output(&e, write_out, &b);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, 100);
    bool ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    ok = emit_event(&e, &ev, ok);
    ok = ok && yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = emit_event(&e, &ev, ok);
    ok = ok && emit_map(&e, top_fields, &view, false);
    ok = ok && yaml_document_end_event_initialize(&ev, 1);
    ok = emit_event(&e, &ev, ok);
    ok = ok && yaml_stream_end_event_initialize(&ev);
    ok = emit_event(&e, &ev, ok);
    ok = ok && yaml_emitter_flush(&e);
    yaml_emitter_delete(&e);
    if (!ok || !b.p) {
        free(b.p);
        return sw_errorf(err, SW_ERUNTIME, "cannot emit the resolved scenario YAML");
    }
    free(s->resolved_yaml);
    s->resolved_yaml = b.p;
    return SW_OK;
}

/* ---------------------------------------------------------------- loading */

/* Index k of a derived region name as written by sw_trace_derived_name, or -1. */
static long derived_index(const char *name)
{
    if (name[0] != 'D' || !name[1] || strspn(name + 1, "0123456789") != strlen(name + 1) ||
        strlen(name) > 12)
        return -1;
    long k = strtol(name + 1, NULL, 10);
    char canon[24];
    sw_trace_derived_name((size_t)k, canon, sizeof canon);
    return strcmp(canon, name) == 0 ? k : -1;
}

/* With trace.derive, site and baseline regions must be derived names below trace.derive.regions
 * (checked here, before the trace is read, so that the message names the line). */
static int check_derived_regions(const ctx *c, const sw_scenario *s, const sw_yt_node *root)
{
    int n = s->trace.derive.regions;
    if (n <= 0)
        return SW_OK;
    char last[24];
    sw_trace_derived_name((size_t)(n - 1), last, sizeof last);
    const sw_yt_node *sites = sw_yt_get(root, "sites");
    const sw_yt_node *trace = sw_yt_get(root, "trace");
    const sw_yt_node *bl = sw_yt_get(trace, "baseline_regions");
    for (size_t k = 0; k < s->n_sites + s->trace.n_baseline_regions; k++) {
        bool site = k < s->n_sites;
        size_t i = site ? k : k - s->n_sites;
        const char *region = site ? s->sites[i].region : s->trace.baseline_regions[i];
        long d = derived_index(region);
        if (d >= 0 && d < n)
            continue;
        const sw_yt_node *at = NULL;
        if (site && sites && sites->kind == SW_YT_SEQ && i < sites->n)
            at = sw_yt_get(sites->items[i], "region");
        else if (!site && bl && bl->kind == SW_YT_SEQ && i < bl->n)
            at = bl->items[i];
        char key[64];
        snprintf(key, sizeof key, site ? "sites[%zu].region" : "trace.baseline_regions[%zu]", i);
        return fail(c, at ? at : root,
                    "key '%s': region '%s' is not one of the %d derived regions of trace.derive, "
                    "expected D000 .. %s",
                    key, region, n, last);
    }
    return SW_OK;
}

/* The effective convergence parameters must make a usable model (e.g. loss_max_nats above
 * e_nats, which the per-key ranges cannot say). */
static int check_convergence(const ctx *c, const sw_scenario *s, const sw_yt_node *root)
{
    sw_convergence_params cp;
    sw_scenario_convergence_params(s, &cp);
    sw_error e = {0};
    if (sw_convergence_params_check(&cp, &e) == SW_OK)
        return SW_OK;
    /* e.msg is "convergence.FIELD: ...": point at that key when the file has it */
    char field[64] = "";
    sscanf(e.msg, "convergence.%63[a-z0-9_]", field);
    const char *what = strstr(e.msg, ": ");
    const sw_yt_node *model = sw_yt_get(root, "model");
    const sw_yt_node *conv = sw_yt_get(model, "convergence");
    const sw_yt_node *at = sw_yt_get(conv, field);
    return fail(c,
                at      ? at
                : conv  ? conv
                : model ? model
                        : root,
                "key 'model.convergence.%s': %s (with the defaults of the keys left 0)", field,
                what ? what + 2 : e.msg);
}

/* A site draws at least its idle power while it trains: the report's /power rows and the
 * ledger's energy both use power_w.train, so a lower value would be a contradiction. */
static int check_power(const ctx *c, const sw_scenario *s, const sw_yt_node *root)
{
    const sw_yt_node *sites = sw_yt_get(root, "sites");
    for (size_t i = 0; i < s->n_sites; i++) {
        const sw_scenario_site *site = &s->sites[i];
        if (site->power_w.train >= site->power_w.idle)
            continue;
        const sw_yt_node *at = NULL;
        if (sites && sites->kind == SW_YT_SEQ && i < sites->n) {
            const sw_yt_node *pw = sw_yt_get(sites->items[i], "power_w");
            at = sw_yt_get(pw, "train");
            if (!at)
                at = pw ? pw : sites->items[i];
        }
        return fail(c, at ? at : root,
                    "key 'sites[%zu].power_w.train': expected a number >= power_w.idle (%g W), "
                    "got %g W (a site draws at least its idle power while it trains)",
                    i, site->power_w.idle, site->power_w.train);
    }
    return SW_OK;
}

/* Checks that need several fields: start < end, params from the preset, derived regions,
 * power, convergence parameters together. */
static int cross_checks(const ctx *c, sw_scenario *s, const sw_yt_node *root)
{
    const sw_yt_node *trace = sw_yt_get(root, "trace");
    if (!isnan(s->trace.start_unix_s) && !isnan(s->trace.end_unix_s) &&
        !(s->trace.start_unix_s < s->trace.end_unix_s)) {
        char a[40], b[40];
        format_time(s->trace.start_unix_s, a, sizeof a);
        format_time(s->trace.end_unix_s, b, sizeof b);
        return fail(c, sw_yt_get(trace, "end"),
                    "key 'trace.end': expected a time after trace.start (%s), got \"%s\"", a, b);
    }
    if (s->model.params == 0) {
        double p = sw_model_preset_params(s->model.preset);
        if (p <= 0) {
            const sw_yt_node *model = sw_yt_get(root, "model");
            const sw_yt_node *at = sw_yt_get(model, "preset");
            return fail(c,
                        at      ? at
                        : model ? model
                                : root,
                        "key 'model.preset': unknown preset '%s' with model.params 0, expected "
                        "nanochat-d20 or a model.params > 0",
                        s->model.preset);
        }
        s->model.params = p;
    }
    if (!s->name) {
        const char *base = strrchr(c->file, '/');
        base = base ? base + 1 : c->file;
        size_t len = strcspn(base, ".");
        if (len == 0)
            len = strlen(base);
        if (!(s->name = malloc(len + 1)))
            return oom(c);
        memcpy(s->name, base, len);
        s->name[len] = '\0';
        if (!sw_safe_file_name(s->name))
            return fail(c, root,
                        "no key 'name', and the file name gives '%s', which is not a safe file "
                        "name (it names results/<name>.h5); expected a key 'name' of 1 to 200 "
                        "letters, digits, '_', '-', '.' or '+', not starting with '.' or '-'",
                        s->name);
    } else if (!sw_safe_file_name(s->name)) {
        const sw_yt_node *at = sw_yt_get(root, "name");
        return fail(c, at ? at : root,
                    "key 'name': '%.80s' is not a safe file name (it names results/<name>.h5), "
                    "expected 1 to 200 letters, digits, '_', '-', '.' or '+', not starting with "
                    "'.' or '-'",
                    s->name);
    }
    if (s->trace.n_baseline_regions > SW_SCENARIO_MAX_BASELINE_REGIONS) {
        const sw_yt_node *tr = sw_yt_get(root, "trace");
        const sw_yt_node *at = sw_yt_get(tr, "baseline_regions");
        return fail(c,
                    at   ? at
                    : tr ? tr
                         : root,
                    "key 'trace.baseline_regions': %zu regions, expected at most %d",
                    s->trace.n_baseline_regions, SW_SCENARIO_MAX_BASELINE_REGIONS);
    }
    if (s->policy.forecast.kind == SW_FORECAST_FILE && !s->policy.forecast.file) {
        const sw_yt_node *fc = sw_yt_get(sw_yt_get(root, "policy"), "forecast");
        const sw_yt_node *at = sw_yt_get(fc, "kind");
        return fail(c, at ? at : root,
                    "key 'policy.forecast.file': required by forecast kind file, expected the "
                    "path of a forecast CSV (docs/formats/forecast.md)");
    }
    int rc = check_derived_regions(c, s, root);
    if (rc == SW_OK)
        rc = check_power(c, s, root);
    for (size_t i = 0; rc == SW_OK && i < s->failures.n_at; i++) {
        if (sw_scenario_site_index(s, s->failures.at[i].site) >= 0)
            continue;
        const sw_yt_node *at = sw_yt_get(sw_yt_get(root, "failures"), "at");
        const sw_yt_node *it = at && at->kind == SW_YT_SEQ && i < at->n ? at->items[i] : NULL;
        rc = fail(c, it ? sw_yt_get(it, "site") : root,
                  "key 'failures.at[%zu].site': '%s' is not a site of the scenario", i,
                  s->failures.at[i].site);
    }
    return rc == SW_OK ? check_convergence(c, s, root) : rc;
}

/* Grafts one "path=value" override onto the tree. */
static int apply_override(const ctx *c, sw_yt_node **root, const char *ov)
{
    char what[600];
    snprintf(what, sizeof what, "override '%s'", ov);
    const char *eq = strchr(ov, '=');
    if (!eq)
        return sw_errorf(c->err, SW_EINPUT, "%s: expected key=value, like policy.poll_s=0", what);
    size_t klen = (size_t)(eq - ov);
    char *key = malloc(klen + 1);
    if (!key)
        return oom(c);
    memcpy(key, ov, klen);
    key[klen] = '\0';
    sw_yt_node *value = NULL;
    int rc = sw_yt_parse(eq + 1, strlen(eq + 1), what, ov, &value, c->err);
    if (rc == SW_OK && !value && !(value = sw_yt_scalar("", false, 1, 1, ov)))
        rc = oom(c);
    if (rc == SW_OK)
        rc = sw_yt_set(root, key, value, what, c->err);
    else
        sw_yt_free(value);
    free(key);
    return rc;
}

int sw_scenario_parse_text(const char *text, const char *name, const char *const *overrides,
                           size_t n_overrides, sw_scenario *out, sw_error *err)
{
    if (!out)
        return sw_errorf(err, SW_EINPUT, "sw_scenario_parse_text: out is NULL");
    memset(out, 0, sizeof *out);
    if (!name)
        name = "<scenario>";
    char dir[1024] = "";
    const char *slash = strrchr(name, '/');
    if (slash && (size_t)(slash - name) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", slash == name ? 1 : (int)(slash - name), name);
    ctx c = {.file = name, .dir = dir, .err = err};

    sw_yt_node *root = NULL;
    int rc = sw_yt_parse(text ? text : "", text ? strlen(text) : 0, name, NULL, &root, err);
    if (rc != SW_OK)
        return rc;
    if (root && root->kind != SW_YT_MAP) {
        char g[100];
        rc = fail(&c, root, "expected a mapping of scenario keys (name, trace, sites, ...), got %s",
                  got(root, g, sizeof g));
        goto done;
    }
    for (size_t i = 0; i < n_overrides; i++)
        if ((rc = apply_override(&c, &root, overrides[i])) != SW_OK)
            goto done;
    if (!set_defaults(top_fields, out)) {
        rc = oom(&c);
        goto done;
    }
    if ((rc = read_map(&c, top_fields, out, root, root, "")) != SW_OK ||
        (rc = cross_checks(&c, out, root)) != SW_OK || (rc = emit_resolved(out, err)) != SW_OK)
        goto done;
    sw_error_clear(err);
done:
    sw_yt_free(root);
    if (rc != SW_OK)
        sw_scenario_free(out);
    return rc;
}

int sw_scenario_load(const char *path, const char *const *overrides, size_t n_overrides,
                     sw_scenario *out, sw_error *err)
{
    if (!out)
        return sw_errorf(err, SW_EINPUT, "sw_scenario_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path)
        return sw_errorf(err, SW_EINPUT, "sw_scenario_load: path is NULL");
    char *text;
    int rc = sw_read_text_file(path, "scenario", &text, err);
    if (rc != SW_OK)
        return rc;
    rc = sw_scenario_parse_text(text, path, overrides, n_overrides, out, err);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- with the trace */

/* True when t already is the derived trace that s asks for. */
static bool is_derived(const sw_scenario *s, const sw_trace *t)
{
    char last[24];
    int n = s->trace.derive.regions;
    sw_trace_derived_name((size_t)(n > 0 ? n - 1 : 0), last, sizeof last);
    return n > 0 && sw_trace_region_count(t) == (size_t)n &&
           sw_trace_region_index(t, "D000") == 0 && sw_trace_region_index(t, last) == n - 1;
}

/* sw_trace_derive with the scenario's settings; errors name the key. */
static int derive(const sw_scenario *s, const sw_trace *t, sw_trace **out, sw_error *err)
{
    sw_error e = {0};
    int rc = sw_trace_derive(t, (size_t)s->trace.derive.regions, s->trace.derive.shift_s, out, &e);
    if (rc != SW_OK)
        return sw_errorf(err, rc, "%s: key 'trace.derive' on trace %s: %s", s->name, s->trace.file,
                         e.msg);
    return SW_OK;
}

int sw_scenario_apply_derive(const sw_scenario *s, sw_trace **t, sw_error *err)
{
    if (!s || !t || !*t)
        return sw_errorf(err, SW_EINPUT, "sw_scenario_apply_derive: NULL argument");
    if (s->trace.derive.regions <= 0)
        return SW_OK;
    sw_trace *d = NULL;
    int rc = derive(s, *t, &d, err);
    if (rc != SW_OK)
        return rc;
    sw_trace_destroy(*t);
    *t = d;
    return SW_OK;
}

static int resolve_with(sw_scenario *s, const sw_trace *t, sw_error *err);

int sw_scenario_resolve_trace(sw_scenario *s, const sw_trace *t, sw_error *err)
{
    if (!s || !t)
        return sw_errorf(err, SW_EINPUT, "sw_scenario_resolve_trace: NULL argument");
    if (s->trace.derive.regions <= 0 || is_derived(s, t))
        return resolve_with(s, t, err);
    /* the file's trace: check against the regions the run will really have */
    sw_trace *d = NULL;
    int rc = derive(s, t, &d, err);
    if (rc != SW_OK)
        return rc;
    rc = resolve_with(s, d, err);
    sw_trace_destroy(d);
    return rc;
}

int sw_scenario_run_span(const sw_scenario *s, const sw_trace *t, double *start_unix_s,
                         double *end_unix_s, sw_error *err)
{
    char list[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < sw_trace_region_count(t) && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                 sw_trace_region_name(t, i));
    double start = -INFINITY, end = INFINITY;
    size_t n_used = s->n_sites + s->trace.n_baseline_regions;
    for (size_t k = 0; k < n_used; k++) {
        bool site = k < s->n_sites;
        const char *region = site ? s->sites[k].region : s->trace.baseline_regions[k - s->n_sites];
        int ri = sw_trace_region_index(t, region);
        if (ri < 0) {
            char key[64];
            if (site)
                snprintf(key, sizeof key, "sites[%zu].region", k);
            else
                snprintf(key, sizeof key, "trace.baseline_regions[%zu]", k - s->n_sites);
            return sw_errorf(err, SW_EINPUT,
                             "%s: key '%s': region '%s' is not in trace %s, expected one of: %s",
                             s->name, key, region, s->trace.file, list);
        }
        start = fmax(start, sw_trace_start(t, (size_t)ri));
        end = fmin(end, sw_trace_end(t, (size_t)ri));
    }
    double run_start = isnan(s->trace.start_unix_s) ? start : s->trace.start_unix_s;
    double run_end = isnan(s->trace.end_unix_s) ? end : s->trace.end_unix_s;
    if (!(run_start >= start && run_end <= end && run_start < run_end)) {
        char a[40], b[40], c[40], d[40];
        format_time(run_start, a, sizeof a);
        format_time(run_end, b, sizeof b);
        format_time(start, c, sizeof c);
        format_time(end, d, sizeof d);
        return sw_errorf(err, SW_EINPUT,
                         "%s: keys 'trace.start'/'trace.end': run [%s, %s] is not inside the "
                         "span [%s, %s] common to the regions used in trace %s",
                         s->name, a, b, c, d, s->trace.file);
    }
    *start_unix_s = run_start;
    *end_unix_s = run_end;
    return SW_OK;
}

static int resolve_with(sw_scenario *s, const sw_trace *t, sw_error *err)
{
    double start, end;
    int rc = sw_scenario_run_span(s, t, &start, &end, err);
    if (rc != SW_OK)
        return rc;
    s->trace.start_unix_s = start;
    s->trace.end_unix_s = end;
    rc = emit_resolved(s, err);
    if (rc == SW_OK)
        sw_error_clear(err);
    return rc;
}

void sw_scenario_convergence_params(const sw_scenario *s, sw_convergence_params *out)
{
    sw_convergence_d20_defaults(out);
    if (!s)
        return;
    const sw_scenario_convergence *c = &s->model.convergence;
    out->schedule_tokens = s->model.tokens;
    /* 0 = keep the default: each non-zero key replaces its field */
    const struct {
        double v;
        double *dst;
    } keys[] = {
        {c->e_nats, &out->e_nats},
        {c->b, &out->b},
        {c->beta, &out->beta},
        {c->loss_max_nats, &out->loss_max_nats},
        {c->schedule_tokens, &out->schedule_tokens},
        {c->warmdown_frac, &out->warmdown_frac},
        {c->anneal_nats, &out->anneal_nats},
        {c->eff_h0_steps, &out->eff_h0_steps},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i].v != 0)
            *keys[i].dst = keys[i].v;
    /* The Nesterov outer step keeps more of what the sites trained apart (docs/convergence.md) */
    if (s->rounds.outer.kind == SW_OUTER_NESTEROV)
        out->eff_h0_steps = s->rounds.outer.eff_h0_steps > 0 ? s->rounds.outer.eff_h0_steps
                                                             : SW_CONVERGENCE_NESTEROV_H0_STEPS;
}

sw_trace_options sw_scenario_trace_options(const sw_scenario *s)
{
    sw_trace_options o = {0};
    if (s) {
        o.unit = s->trace.unit;
        o.max_gap_s = s->trace.max_gap_s;
        o.fill_gaps = s->trace.fill_gaps;
    }
    return o;
}

int sw_scenario_site_index(const sw_scenario *s, const char *name)
{
    for (size_t i = 0; s && name && i < s->n_sites; i++)
        if (strcmp(s->sites[i].name, name) == 0)
            return (int)i;
    return -1;
}
