/* rapl.c - host package energy from /sys/class/powercap (see rapl.h). */
#include "exec/rapl.h"

#include <math.h>
#include <stdio.h>

#define RAPL_DIR "/sys/class/powercap/intel-rapl:0"

/* Reads a number from a sysfs file; false if it cannot. */
static bool read_sysfs(const char *path, double *v)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fscanf(f, "%lf", v) == 1;
    fclose(f);
    return ok;
}

bool sw_rapl_open(sw_rapl *r)
{
    r->ok = read_sysfs(RAPL_DIR "/energy_uj", &r->e0_uj) &&
            read_sysfs(RAPL_DIR "/max_energy_range_uj", &r->range_uj);
    return r->ok;
}

double sw_rapl_energy_j(const sw_rapl *r)
{
    double uj;
    if (!r->ok || !read_sysfs(RAPL_DIR "/energy_uj", &uj))
        return NAN;
    double d = uj - r->e0_uj;
    if (d < 0)
        d += r->range_uj;
    return d * 1e-6;
}
