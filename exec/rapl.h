/* rapl.h - host package energy from the RAPL counter (/sys/class/powercap/intel-rapl:0),
 * sampled often enough to count every wrap-around. The counter (energy_uj) wraps at
 * max_energy_range_uj, about once an hour at package power, so reading it only at the start
 * and end of a run loses whole wraps; sw_rapl_sample adds each interval's increase (modulo
 * the range) to a running total, which a checkpoint keeps across a resume. */
#ifndef SW_EXEC_RAPL_H
#define SW_EXEC_RAPL_H

#include <stdbool.h>

typedef struct sw_rapl {
    bool on;         /* the counter is readable */
    double range_uj; /* max_energy_range_uj */
    double last_uj;  /* counter at the last sample */
    double last_s;   /* monotonic s of the last sample */
    double energy_j; /* total since the run started (including before a resume) */
    char dir[256];   /* the powercap zone */
} sw_rapl;

/* Seconds between samples: far below the shortest wrap period (range / package power:
 * 262 kJ at 500 W is over 8 minutes). */
#define SW_RAPL_SAMPLE_S 10.0

/* The increase of a counter from prev to now (µJ) that wraps at range_uj: at most one wrap
 * between two samples. */
double sw_rapl_delta_uj(double prev_uj, double now_uj, double range_uj);

/* Opens the zone at dir (NULL: intel-rapl:0) with energy_j already counted (a resumed run's
 * figure, else 0). r->on is false when the counter cannot be read. */
void sw_rapl_open(sw_rapl *r, const char *dir, double energy_j, double now_mono_s);
/* Reads the counter if SW_RAPL_SAMPLE_S have passed (or `force`), adding its increase. */
void sw_rapl_sample(sw_rapl *r, double now_mono_s, bool force);
/* Energy counted so far, J (NAN when off). */
double sw_rapl_energy_j(const sw_rapl *r);

#endif
