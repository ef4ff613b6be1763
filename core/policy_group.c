/* policy_group.c - one decision shared by the member policies of a group (policy_group.h). */
#include "core/policy_group.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct group {
    const sw_policy_group_ops *ops;
    void *self;
    const sw_forecast *fc;
    double origin_unix_s;
    size_t n, members_alive;
    size_t *regions;
    bool decided;
    double decided_t_s;
    bool *want, *want_before;
    char (*reason)[128];
} group;

typedef struct member {
    group *g;
    size_t site;
    bool want;
} member;

static void group_free(group *g)
{
    if (!g)
        return;
    if (g->ops && g->ops->destroy)
        g->ops->destroy(g->self);
    free(g->regions);
    free(g->want);
    free(g->want_before);
    free(g->reason);
    free(g);
}

static void member_observe(void *self, double t_s, double mci_ignored, sw_policy_decision *out)
{
    member *m = self;
    group *g = m->g;
    (void)mci_ignored;
    if (!g->decided || t_s != g->decided_t_s) {
        memcpy(g->want_before, g->want, g->n * sizeof *g->want);
        for (size_t i = 0; i < g->n; i++)
            g->reason[i][0] = '\0';
        g->ops->decide(g->self, t_s, g->want_before, g->want, g->reason);
        g->decided = true;
        g->decided_t_s = t_s;
    }
    bool w = g->want[m->site];
    out->note =
        w == m->want ? SW_POLICY_NOTE_NONE : (w ? SW_POLICY_NOTE_WANT_ON : SW_POLICY_NOTE_WANT_OFF);
    snprintf(out->reason, sizeof out->reason, "%s", out->note ? g->reason[m->site] : "");
    m->want = w;
    out->want = w;
}

static double member_next_eval(const void *self, double t_s, double change_s)
{
    const member *m = self;
    const group *g = m->g;
    const sw_trace *tr = sw_forecast_trace(g->fc);
    double next = change_s, u = g->origin_unix_s + t_s;
    for (size_t i = 0; i < g->n; i++) {
        double start = sw_trace_start(tr, g->regions[i]), step = sw_trace_step(tr, g->regions[i]);
        double end = sw_trace_end(tr, g->regions[i]);
        double gp = start + (floor((u - start) / step) + 1) * step;
        if (gp <= u)
            gp += step;
        if (gp <= end && gp - g->origin_unix_s < next)
            next = gp - g->origin_unix_s;
    }
    if (isinf(next))
        return INFINITY;
    return next > t_s ? next : nextafter(t_s, INFINITY);
}

static void member_destroy(void *self)
{
    member *m = self;
    if (--m->g->members_alive == 0)
        group_free(m->g);
    free(m);
}

int sw_lookahead_sites_check(const sw_lookahead_site *sites, size_t n_sites, const sw_forecast *fc,
                             sw_error *err)
{
    if (!sites || n_sites == 0)
        return sw_errorf(err, SW_EINPUT, "policy: at least one site is needed");
    size_t nr = sw_trace_region_count(sw_forecast_trace(fc));
    for (size_t i = 0; i < n_sites; i++) {
        const sw_lookahead_site *s = &sites[i];
        if (s->region >= nr)
            return sw_errorf(err, SW_EINPUT, "policy.sites[%zu].region: %zu out of range", i,
                             s->region);
        if (!isfinite(s->overhead_s) || s->overhead_s < 0)
            return sw_errorf(err, SW_EINPUT, "policy.sites[%zu].overhead_s: expected >= 0, got %g",
                             i, s->overhead_s);
        if (!isfinite(s->tokens_per_s) || s->tokens_per_s <= 0)
            return sw_errorf(err, SW_EINPUT, "policy.sites[%zu].tokens_per_s: expected > 0, got %g",
                             i, s->tokens_per_s);
        if (!isfinite(s->train_w) || s->train_w < 0 || !isfinite(s->idle_w) || s->idle_w < 0)
            return sw_errorf(err, SW_EINPUT,
                             "policy.sites[%zu].power_w: expected train and idle >= 0", i);
    }
    return SW_OK;
}

/* One member table per group kind, so sw_policy_kind_name names the policy. */
static const sw_policy_ops member_ops[] = {
    {"deadline", member_observe, member_next_eval, member_destroy},
    {"elastic", member_observe, member_next_eval, member_destroy},
    {"group", member_observe, member_next_eval, member_destroy},
};

static const sw_policy_ops *member_ops_for(const char *kind)
{
    size_t n = sizeof member_ops / sizeof member_ops[0];
    for (size_t i = 0; i + 1 < n; i++)
        if (kind && strcmp(kind, member_ops[i].kind) == 0)
            return &member_ops[i];
    return &member_ops[n - 1];
}

int sw_policy_group_create(const sw_policy_group_ops *ops, void *self, const sw_forecast *fc,
                           const sw_lookahead_site *sites, size_t n_sites, double origin_unix_s,
                           sw_policy **out, sw_error *err)
{
    for (size_t i = 0; i < n_sites; i++)
        out[i] = NULL;
    group *g = calloc(1, sizeof *g);
    if (!g) {
        ops->destroy(self);
        return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
    }
    g->ops = ops;
    g->self = self;
    g->fc = fc;
    g->origin_unix_s = origin_unix_s;
    g->n = n_sites;
    g->regions = calloc(n_sites, sizeof *g->regions);
    g->want = calloc(n_sites, sizeof *g->want);
    g->want_before = calloc(n_sites, sizeof *g->want_before);
    g->reason = calloc(n_sites, sizeof *g->reason);
    if (!g->regions || !g->want || !g->want_before || !g->reason) {
        group_free(g);
        return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
    }
    for (size_t i = 0; i < n_sites; i++)
        g->regions[i] = sites[i].region;
    for (size_t i = 0; i < n_sites; i++) {
        member *m = calloc(1, sizeof *m);
        if (!m) {
            if (g->members_alive == 0)
                group_free(g);
            for (size_t j = 0; j < i; j++) {
                sw_policy_destroy(out[j]);
                out[j] = NULL;
            }
            return sw_errorf(err, SW_ERUNTIME, "policy: out of memory");
        }
        m->g = g;
        m->site = i;
        g->members_alive++;
        int rc = sw_policy_create_custom(member_ops_for(ops->kind), m, &out[i], err);
        if (rc != SW_OK) {
            for (size_t j = 0; j < i; j++) {
                sw_policy_destroy(out[j]);
                out[j] = NULL;
            }
            return rc;
        }
    }
    return SW_OK;
}
