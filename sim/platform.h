/* platform.h - the SimGrid platform of a spillway simulation, described as a plain struct and
 * written as a SimGrid platform XML file (version 4.1).
 *
 * The driver (sim/) fills an sw_platform_spec from the scenario, writes it with
 * sw_platform_write_xml (an inspectable artefact) and loads it with sw_sim_load_platform
 * (sim/sgutil.h). Names in the generated platform (see docs/sim-platform.md):
 *   zone "world" (Full) > zone "hq" with host "coord", and one zone per site, named as the site;
 *   site hosts "<site>.h<k>" (k = 0..n_hosts-1), gateway router "<site>.gw" when n_hosts > 1
 *   (with one host, the host is its site's gateway); links "<site>.wan" (site <-> coordinator),
 *   "<site>.lan<k>" (host k's LAN port), "mesh.<a>.<b>" (site a <-> site b).
 * Site names use only letters, digits, '_' and '-', so they can never collide with these
 * generated names (which contain '.') and are safe in XML without escaping.
 *
 * Power: each site host gets wattage_per_state "idle_w:train_w:train_w" and wattage_off
 * "off_w": the energy plugin charges idle_w while the host runs no exec, train_w while it runs
 * at least one (any load), off_w while it is turned off. Communications do not change a host's
 * power. The coordinator draws 0 W (the ledger accounts for sites only).
 */
#ifndef SW_SIM_PLATFORM_H
#define SW_SIM_PLATFORM_H

#include <stddef.h>

#include "core/error.h"

#define SW_PLATFORM_HQ_ZONE    "hq"
#define SW_PLATFORM_COORD_HOST "coord"
#define SW_PLATFORM_TOP_ZONE   "world"
#define SW_PLATFORM_NAME_MAX   63 /* longest site name, in bytes */

/* One site: a cluster of identical hosts. Recommended (fastest, see docs/sim-platform.md):
 * n_hosts = 1, cores_per_host = 1 and speed_flops = GPUs x effective FLOP/s per GPU, so a
 * site's training step is one exec; power values are then the site's (e.g. 2024 W / 468 W).
 * With n_hosts = GPUs, divide the site's power by the number of hosts. */
typedef struct sw_platform_site {
    const char *name;     /* [A-Za-z0-9][A-Za-z0-9_-]*, at most SW_PLATFORM_NAME_MAX bytes;
                             not "hq", "coord" or "world"; borrowed, not copied */
    int n_hosts;          /* hosts in the site, >= 1 */
    int cores_per_host;   /* cores of each host, >= 1; an exec uses ONE core (no C API in
                             SimGrid 3.32 to run one exec on several cores) */
    double speed_flops;   /* effective FLOP/s of one core (peak x utilisation), > 0 */
    double off_w;         /* power of a host that is turned off (W), >= 0 */
    double idle_w;        /* power of a host that is on with no exec running (W), >= 0 */
    double train_w;       /* power of a host running at least one exec (W), >= idle_w */
    double wan_bw_Bps;    /* site <-> coordinator link bandwidth (bytes/s), > 0 */
    double wan_latency_s; /* site <-> coordinator link latency (s), >= 0 */
    double lan_bw_Bps;    /* bandwidth of each host's LAN port, per direction (bytes/s), > 0 */
    double lan_latency_s; /* host <-> host latency inside the site (s), >= 0 */
} sw_platform_site;

typedef struct sw_platform_spec {
    const sw_platform_site *sites; /* n_sites entries, borrowed */
    size_t n_sites;                /* >= 1 */
    double coord_speed_flops;      /* FLOP/s of the coordinator host (aggregation), > 0 */
    double mesh_bw_Bps;            /* bandwidth of the link between any two sites (bytes/s), > 0 */
    double mesh_latency_s;         /* latency of the link between any two sites (s), >= 0 */
} sw_platform_spec;

/* Checks every field of spec. Returns SW_OK, or SW_EINPUT with a message naming the field
 * (e.g. "platform: sites[1].name \"texas\": duplicate of sites[0].name"). */
int sw_platform_validate(const sw_platform_spec *spec, sw_error *err);

/* Validates spec, then writes its SimGrid platform XML to path: written to a temporary file
 * in the same folder, then renamed, so path is either the complete new file or untouched.
 * Returns SW_OK, SW_EINPUT (invalid spec) or SW_ERUNTIME (I/O error, message names path). */
int sw_platform_write_xml(const sw_platform_spec *spec, const char *path, sw_error *err);

/* Writes the name of host host_index of site site_name ("<site>.h<k>") into buf (size bytes,
 * always NUL-terminated when size > 0). Returns the length the full name needs, like
 * snprintf; a result >= size means buf was too small. */
int sw_platform_host_name(const char *site_name, int host_index, char *buf, size_t size);

#endif
