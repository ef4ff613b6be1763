/* provision_static.c - the static provisioner (see provision.h): agents run all the time and
 * join by themselves; provisioning and releasing only gate their membership, and a released
 * agent stays connected and idle. */
#include "exec/provision.h"

static int static_up(const sw_provisioner *p, const char *site, sw_prov_site *ps, double now_mono,
                     sw_error *err)
{
    (void)p, (void)site, (void)ps, (void)now_mono, (void)err;
    return SW_OK;
}

static int static_down(const sw_provisioner *p, const char *site, sw_prov_site *ps, bool failed,
                       double now_mono, sw_error *err)
{
    (void)p, (void)site, (void)ps, (void)failed, (void)now_mono, (void)err;
    return SW_OK;
}

const sw_prov_ops sw_prov_static_ops = {.name = "static",
                                        .agents_stay = true,
                                        .joins_unasked = true,
                                        .up = static_up,
                                        .down = static_down};
