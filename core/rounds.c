/* rounds.c - membership, deadline and work-weighted aggregation weights of one round. */
#include "core/rounds.h"

#include <math.h>
#include <stdlib.h>

int sw_round_init(sw_round *r, int64_t id, double start_s, const sw_rounds_config *cfg,
                  const int *sites, size_t n, sw_error *err)
{
    *r = (sw_round){.id = id, .start_s = start_s, .deadline_s = INFINITY};
    if (!cfg || !isfinite(cfg->min_duration_s) || cfg->min_duration_s <= 0)
        return sw_errorf(err, SW_EINPUT, "rounds.min_duration_s: must be finite and > 0, got %g",
                         cfg ? cfg->min_duration_s : NAN);
    if (n == 0)
        return sw_errorf(err, SW_EINPUT, "round %lld: a round needs at least one member",
                         (long long)id);
    r->sites = malloc(n * sizeof *r->sites);
    r->status = calloc(n, sizeof *r->status);
    r->tokens = calloc(n, sizeof *r->tokens);
    if (!r->sites || !r->status || !r->tokens) {
        sw_round_free(r);
        return sw_errorf(err, SW_ERUNTIME, "round %lld: out of memory", (long long)id);
    }
    for (size_t i = 0; i < n; i++) {
        /* insertion sort: member order is part of the deterministic output */
        size_t j = i;
        for (; j > 0 && r->sites[j - 1] > sites[i]; j--)
            r->sites[j] = r->sites[j - 1];
        if (j > 0 && r->sites[j - 1] == sites[i]) {
            sw_round_free(r);
            return sw_errorf(err, SW_EINPUT, "round %lld: site %d listed twice", (long long)id,
                             sites[i]);
        }
        r->sites[j] = sites[i];
    }
    r->n = n;
    if (n >= 2)
        r->deadline_s = start_s + cfg->min_duration_s;
    return SW_OK;
}

void sw_round_free(sw_round *r)
{
    free(r->sites);
    free(r->status);
    free(r->tokens);
    r->sites = NULL;
    r->status = NULL;
    r->tokens = NULL;
    r->n = 0;
}

int sw_round_member(const sw_round *r, int site)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->sites[i] == site)
            return (int)i;
    return -1;
}

int sw_round_report(sw_round *r, int site, uint64_t tokens, sw_error *err)
{
    int m = sw_round_member(r, site);
    if (m < 0)
        return sw_errorf(err, SW_EINPUT, "round %lld: site %d is not a member", (long long)r->id,
                         site);
    if (r->status[m] != SW_MEMBER_TRAINING)
        return sw_errorf(err, SW_EINPUT, "round %lld: site %d has already %s", (long long)r->id,
                         site, r->status[m] == SW_MEMBER_REPORTED ? "reported" : "failed");
    r->status[m] = SW_MEMBER_REPORTED;
    r->tokens[m] = tokens;
    return SW_OK;
}

int sw_round_fail(sw_round *r, int site, sw_error *err)
{
    int m = sw_round_member(r, site);
    if (m < 0)
        return sw_errorf(err, SW_EINPUT, "round %lld: site %d is not a member", (long long)r->id,
                         site);
    if (r->status[m] == SW_MEMBER_TRAINING)
        r->status[m] = SW_MEMBER_FAILED;
    return SW_OK;
}

bool sw_round_second_site_ready(sw_round *r, double now_s, const sw_rounds_config *cfg)
{
    if (r->ended || isfinite(r->deadline_s))
        return false;
    double earliest = r->start_s + cfg->min_duration_s;
    r->deadline_s = now_s > earliest ? now_s : earliest;
    return true;
}

size_t sw_round_training_count(const sw_round *r)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        k += r->status[i] == SW_MEMBER_TRAINING;
    return k;
}

bool sw_round_complete(const sw_round *r)
{
    return sw_round_training_count(r) == 0;
}

uint64_t sw_round_weights(const sw_round *r, int *sites, uint64_t *tokens, double *weights,
                          size_t *n_out)
{
    size_t k = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->status[i] != SW_MEMBER_REPORTED)
            continue;
        sites[k] = r->sites[i];
        tokens[k] = r->tokens[i];
        total += r->tokens[i];
        k++;
    }
    for (size_t i = 0; i < k; i++)
        weights[i] = total > 0 ? (double)tokens[i] / (double)total : 1.0 / (double)k;
    *n_out = k;
    return total;
}
