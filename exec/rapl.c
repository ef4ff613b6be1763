/* rapl.c - wrap-safe RAPL energy (see rapl.h). */
#include "exec/rapl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static bool read_number(const char *dir, const char *file, double *v)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fscanf(f, "%lf", v) == 1 && isfinite(*v) && *v >= 0;
    fclose(f);
    return ok;
}

double sw_rapl_delta_uj(double prev_uj, double now_uj, double range_uj)
{
    double d = now_uj - prev_uj;
    return d < 0 ? d + range_uj : d;
}

void sw_rapl_open(sw_rapl *r, const char *dir, double energy_j, double now_mono_s)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir ? dir : "/sys/class/powercap/intel-rapl:0");
    r->energy_j = isfinite(energy_j) && energy_j > 0 ? energy_j : 0;
    r->on = read_number(r->dir, "energy_uj", &r->last_uj) &&
            read_number(r->dir, "max_energy_range_uj", &r->range_uj) && r->range_uj > 0;
    r->last_s = now_mono_s;
}

void sw_rapl_sample(sw_rapl *r, double now_mono_s, bool force)
{
    if (!r->on || (!force && now_mono_s - r->last_s < SW_RAPL_SAMPLE_S))
        return;
    double uj;
    if (!read_number(r->dir, "energy_uj", &uj))
        return; /* a transient read failure: the next sample covers the interval */
    r->energy_j += 1e-6 * sw_rapl_delta_uj(r->last_uj, uj, r->range_uj);
    r->last_uj = uj;
    r->last_s = now_mono_s;
}

double sw_rapl_energy_j(const sw_rapl *r)
{
    return r->on ? r->energy_j : NAN;
}
