/* rapl.h - the host's package energy from Linux powercap (Intel RAPL), when readable.
 *
 * RAPL measures a whole CPU package, which local sites share, so it cannot be split into
 * per-site power: the coordinator reports it beside the modelled per-site power, as the host's
 * measured energy over the run (docs/exec.md, Power). */
#ifndef SW_EXEC_RAPL_H
#define SW_EXEC_RAPL_H

#include <stdbool.h>

typedef struct sw_rapl {
    bool ok;         /* counters readable */
    double e0_uj;    /* counter at sw_rapl_open, µJ */
    double range_uj; /* the counter wraps at this value, µJ */
} sw_rapl;

/* Reads the counters now; false (r->ok false) when there are none or they are unreadable. */
bool sw_rapl_open(sw_rapl *r);

/* Package energy since sw_rapl_open, J (one wrap-around handled); NAN when not readable. */
double sw_rapl_energy_j(const sw_rapl *r);

#endif
