/* nvml.h - GPU energy counters through NVML, loaded at run time (dlopen of libnvidia-ml.so.1,
 * which ships with the NVIDIA driver, not the toolkit), so spillway builds and runs where there
 * is no driver. Absence of the library, of a GPU or of the counter means "not measured", never
 * an error: callers fall back to modelled power.
 */
#ifndef SW_NVML_H
#define SW_NVML_H

#include <stddef.h>
#include <stdint.h>

typedef struct sw_nvml sw_nvml;

/* Loads NVML and initialises it. Returns NULL when it is not available, with the reason in why
 * (at most whylen bytes, e.g. "libnvidia-ml.so.1 not found: ..."). The caller owns the result. */
sw_nvml *sw_nvml_open(char *why, size_t whylen);

/* Shuts NVML down and unloads it. NULL is fine. */
void sw_nvml_close(sw_nvml *n);

/* Total energy of GPU index (NVML's numbering) since the driver loaded, in joules (NVML counts
 * millijoules), into *energy_j. Returns 0, or -1 when this GPU has no readable counter (why
 * says so); the value is then "not measured". */
int sw_nvml_energy_j(sw_nvml *n, unsigned index, double *energy_j, char *why, size_t whylen);

#endif
