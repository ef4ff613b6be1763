/* policy_group.h - glue for policies that decide all sites together (deadline, elastic).
 *
 * A group owns one decision over n sites; each site gets an ordinary sw_policy whose observe
 * asks the group. The group decides at most once per distinct run time, when the first of its
 * members is observed at that time, and every member evaluates on the union of its sites'
 * trace grids, so all members see each decision at the same instant (the engine evaluates
 * sites in index order at one instant). Private to the core's look-ahead policies.
 */
#ifndef SW_POLICY_GROUP_H
#define SW_POLICY_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/forecast.h"
#include "core/policy.h"
#include "core/policy_lookahead.h"

typedef struct sw_policy_group_ops {
    const char *kind;
    /* Fills want[i] (and reason[i], may stay "") for every site at run time t_s, knowing the
     * previous wishes want_before[i]. Called in increasing t_s. */
    void (*decide)(void *self, double t_s, const bool *want_before, bool *want,
                   char (*reason)[128]);
    void (*destroy)(void *self);
} sw_policy_group_ops;

/* Creates out[0..n_sites-1] sharing self (taken over: ops->destroy frees it with the last
 * member). sites and fc are borrowed. */
int sw_policy_group_create(const sw_policy_group_ops *ops, void *self, const sw_forecast *fc,
                           const sw_lookahead_site *sites, size_t n_sites, double origin_unix_s,
                           sw_policy **out, sw_error *err);

/* Checks the fields of a lookahead site (errors name policy.sites[i].field). */
int sw_lookahead_sites_check(const sw_lookahead_site *sites, size_t n_sites, const sw_forecast *fc,
                             sw_error *err);

#endif
