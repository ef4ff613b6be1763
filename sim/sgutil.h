/* sgutil.h - starting SimGrid 3.32 the way spillway needs it (see docs/sim-platform.md).
 *
 * Order matters and is easy to get wrong: simgrid_init, then the host-energy plugin, then the
 * platform. sw_sim_init does the first two with the network configuration that keeps WAN
 * transfers at exactly latency + size / bandwidth; sw_sim_load_platform or sw_sim_load_spec
 * does the third. SimGrid can be initialised once per process: call these once, from main (or
 * from each Criterion test, which runs in its own process).
 */
#ifndef SW_SIM_SGUTIL_H
#define SW_SIM_SGUTIL_H

#include <stdbool.h>

#include "core/error.h"
#include "sim/platform.h"

/* Initialises SimGrid and the host-energy plugin with spillway's defaults:
 *   --cfg=network/model:CM02 --cfg=network/TCP-gamma:0 --cfg=network/crosstraffic:0
 *   and, in sanitizer builds (SW_SANITIZE), --cfg=contexts/factory:thread.
 * They are passed to simgrid_init as command-line options placed before the caller's, so a
 * --cfg=... in argv overrides them. argc/argv may be NULL (a fresh "spillway" argv is used);
 * otherwise SimGrid's own options (--cfg=, --log=) are removed from argv and *argc updated,
 * as simgrid_init does. quiet silences every SimGrid log below CRITICAL (including the energy
 * summary printed at exit). Returns SW_OK, or SW_ERUNTIME if SimGrid was already initialised
 * in this process. */
int sw_sim_init(int *argc, char **argv, bool quiet, sw_error *err);

/* Loads a platform XML file. Requires sw_sim_init first; one platform per process.
 * Returns SW_OK, SW_EINPUT if path cannot be read, or SW_ERUNTIME if called out of order.
 * SimGrid aborts the process on a malformed file; files from sw_platform_write_xml are not. */
int sw_sim_load_platform(const char *path, sw_error *err);

/* Writes spec as XML (to xml_path, kept as an artefact; or, when xml_path is NULL, to a
 * private temporary folder removed after loading) and loads it. Returns SW_OK, SW_EINPUT
 * (invalid spec, message names the field) or SW_ERUNTIME. */
int sw_sim_load_spec(const sw_platform_spec *spec, const char *xml_path, sw_error *err);

#endif
