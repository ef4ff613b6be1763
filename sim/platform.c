/* platform.c - validation of sw_platform_spec and generation of the SimGrid platform XML.
 *
 * The XML is built from Full zones with explicit links and routes (not <cluster>) so that every
 * path is exactly what the spec says: coordinator -> single-host site is the site's WAN link
 * only, host -> host inside a site is the two LAN ports (half the LAN latency each), and site
 * -> site is one mesh link. With the network config of sgutil.c (CM02, no TCP window, no
 * cross-traffic) a transfer of S bytes then takes sum(latencies) + S / min(bandwidths).
 */
#include "sim/platform.h"
#include "core/fsutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Upper bound on hosts per site: the intra-site routes grow as n^2. */
#define SW_PLATFORM_HOSTS_MAX 1024

static int is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_name_char(char c)
{
    return is_name_start(c) || c == '_' || c == '-';
}

static int validate_name(const sw_platform_spec *spec, size_t i, sw_error *err)
{
    const char *name = spec->sites[i].name;
    if (!name || !name[0])
        return sw_errorf(err, SW_EINPUT, "platform: sites[%zu].name: missing or empty", i);
    size_t len = strlen(name);
    if (len > SW_PLATFORM_NAME_MAX)
        return sw_errorf(err, SW_EINPUT,
                         "platform: sites[%zu].name \"%.20s...\": %zu bytes, at most %d allowed", i,
                         name, len, SW_PLATFORM_NAME_MAX);
    for (size_t k = 0; k < len; k++) {
        char c = name[k];
        if (k == 0 ? is_name_start(c) : is_name_char(c))
            continue;
        /* The name itself may hold the bad byte; show it as hex so the message stays clean. */
        return sw_errorf(err, SW_EINPUT,
                         "platform: sites[%zu].name: invalid character 0x%02x at offset %zu "
                         "(allowed: letters, digits, '_' and '-', starting with a letter or "
                         "digit)",
                         i, (unsigned)(unsigned char)c, k);
    }
    static const char *const reserved[] = {SW_PLATFORM_HQ_ZONE, SW_PLATFORM_COORD_HOST,
                                           SW_PLATFORM_TOP_ZONE};
    for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++)
        if (strcmp(name, reserved[r]) == 0)
            return sw_errorf(err, SW_EINPUT, "platform: sites[%zu].name \"%s\": reserved name", i,
                             name);
    for (size_t j = 0; j < i; j++)
        if (strcmp(name, spec->sites[j].name) == 0)
            return sw_errorf(err, SW_EINPUT,
                             "platform: sites[%zu].name \"%s\": duplicate of sites[%zu].name", i,
                             name, j);
    return SW_OK;
}

/* A value that must be finite and > 0 (positive) or >= 0 (!positive). */
static int check_value(double v, int positive, const char *field, size_t i, const char *site,
                       sw_error *err)
{
    if (isfinite(v) && (positive ? v > 0 : v >= 0))
        return SW_OK;
    if (site)
        return sw_errorf(err, SW_EINPUT, "platform: sites[%zu].%s (site \"%s\"): %g, expected %s",
                         i, field, site, v,
                         positive ? "a finite value > 0" : "a finite value >= 0");
    return sw_errorf(err, SW_EINPUT, "platform: %s: %g, expected %s", field, v,
                     positive ? "a finite value > 0" : "a finite value >= 0");
}

int sw_platform_validate(const sw_platform_spec *spec, sw_error *err)
{
    if (!spec)
        return sw_errorf(err, SW_EINPUT, "platform: no spec given");
    if (spec->n_sites == 0 || !spec->sites)
        return sw_errorf(err, SW_EINPUT, "platform: sites: at least one site is required");
    int rc;
    if ((rc = check_value(spec->coord_speed_flops, 1, "coord_speed_flops", 0, NULL, err)) ||
        (rc = check_value(spec->mesh_bw_Bps, 1, "mesh_bw_Bps", 0, NULL, err)) ||
        (rc = check_value(spec->mesh_latency_s, 0, "mesh_latency_s", 0, NULL, err)))
        return rc;
    for (size_t i = 0; i < spec->n_sites; i++) {
        if ((rc = validate_name(spec, i, err)))
            return rc;
        const sw_platform_site *s = &spec->sites[i];
        if (s->n_hosts < 1 || s->n_hosts > SW_PLATFORM_HOSTS_MAX)
            return sw_errorf(err, SW_EINPUT,
                             "platform: sites[%zu].n_hosts (site \"%s\"): %d, expected 1..%d", i,
                             s->name, s->n_hosts, SW_PLATFORM_HOSTS_MAX);
        if (s->cores_per_host < 1)
            return sw_errorf(err, SW_EINPUT,
                             "platform: sites[%zu].cores_per_host (site \"%s\"): %d, expected >= 1",
                             i, s->name, s->cores_per_host);
        if ((rc = check_value(s->speed_flops, 1, "speed_flops", i, s->name, err)) ||
            (rc = check_value(s->off_w, 0, "off_w", i, s->name, err)) ||
            (rc = check_value(s->idle_w, 0, "idle_w", i, s->name, err)) ||
            (rc = check_value(s->train_w, 0, "train_w", i, s->name, err)) ||
            (rc = check_value(s->wan_bw_Bps, 1, "wan_bw_Bps", i, s->name, err)) ||
            (rc = check_value(s->wan_latency_s, 0, "wan_latency_s", i, s->name, err)) ||
            (rc = check_value(s->lan_bw_Bps, 1, "lan_bw_Bps", i, s->name, err)) ||
            (rc = check_value(s->lan_latency_s, 0, "lan_latency_s", i, s->name, err)))
            return rc;
        if (s->train_w < s->idle_w)
            return sw_errorf(err, SW_EINPUT,
                             "platform: sites[%zu].train_w (site \"%s\"): %g W, expected >= "
                             "idle_w (%g W)",
                             i, s->name, s->train_w, s->idle_w);
    }
    return SW_OK;
}

int sw_platform_host_name(const char *site_name, int host_index, char *buf, size_t size)
{
    return snprintf(buf, size, "%s.h%d", site_name, host_index);
}

/* Numbers are written with 17 significant digits so that SimGrid reads back the exact doubles
 * of the spec (the hand-checked tests depend on it). */
static void write_site(FILE *f, const sw_platform_site *s, size_t index)
{
    fprintf(f, "    <zone id=\"%s\" routing=\"Full\">\n", s->name);
    for (int k = 0; k < s->n_hosts; k++) {
        fprintf(f, "      <host id=\"%s.h%d\" speed=\"%.17gf\" core=\"%d\">\n", s->name, k,
                s->speed_flops, s->cores_per_host);
        fprintf(f, "        <prop id=\"wattage_per_state\" value=\"%.17g:%.17g:%.17g\"/>\n",
                s->idle_w, s->train_w, s->train_w);
        fprintf(f, "        <prop id=\"wattage_off\" value=\"%.17g\"/>\n", s->off_w);
        fprintf(f, "        <prop id=\"sw_site\" value=\"%s\"/>\n", s->name);
        fprintf(f, "        <prop id=\"sw_site_index\" value=\"%zu\"/>\n", index);
        fprintf(f, "        <prop id=\"sw_host_index\" value=\"%d\"/>\n", k);
        fprintf(f, "        <prop id=\"sw_lan_bw_Bps\" value=\"%.17g\"/>\n", s->lan_bw_Bps);
        fprintf(f, "        <prop id=\"sw_lan_latency_s\" value=\"%.17g\"/>\n", s->lan_latency_s);
        fprintf(f, "      </host>\n");
    }
    if (s->n_hosts > 1)
        fprintf(f, "      <router id=\"%s.gw\"/>\n", s->name);
    /* One full-duplex LAN port per host; host -> host crosses two ports, so each carries half
     * the site's LAN latency. */
    for (int k = 0; k < s->n_hosts; k++)
        fprintf(f,
                "      <link id=\"%s.lan%d\" bandwidth=\"%.17gBps\" latency=\"%.17gs\" "
                "sharing_policy=\"SPLITDUPLEX\"/>\n",
                s->name, k, s->lan_bw_Bps, s->lan_latency_s / 2);
    /* Routes are written in both directions (symmetrical="NO") so that each direction uses its
     * own half of a SPLITDUPLEX port; a host to itself also crosses its port (out and back). */
    for (int a = 0; a < s->n_hosts; a++) {
        for (int b = 0; b < s->n_hosts; b++)
            fprintf(f,
                    "      <route src=\"%s.h%d\" dst=\"%s.h%d\" symmetrical=\"NO\">"
                    "<link_ctn id=\"%s.lan%d\" direction=\"UP\"/>"
                    "<link_ctn id=\"%s.lan%d\" direction=\"DOWN\"/></route>\n",
                    s->name, a, s->name, b, s->name, a, s->name, b);
        if (s->n_hosts > 1) {
            fprintf(f,
                    "      <route src=\"%s.h%d\" dst=\"%s.gw\" symmetrical=\"NO\">"
                    "<link_ctn id=\"%s.lan%d\" direction=\"UP\"/></route>\n",
                    s->name, a, s->name, s->name, a);
            fprintf(f,
                    "      <route src=\"%s.gw\" dst=\"%s.h%d\" symmetrical=\"NO\">"
                    "<link_ctn id=\"%s.lan%d\" direction=\"DOWN\"/></route>\n",
                    s->name, s->name, a, s->name, a);
        }
    }
    fprintf(f, "    </zone>\n");
}

static void gateway(const sw_platform_site *s, char *buf, size_t size)
{
    if (s->n_hosts == 1)
        snprintf(buf, size, "%s.h0", s->name);
    else
        snprintf(buf, size, "%s.gw", s->name);
}

static void write_platform(FILE *f, const sw_platform_spec *spec)
{
    fprintf(f,
            "<?xml version='1.0'?>\n"
            "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
            "<!-- spillway platform: %zu sites; see docs/sim-platform.md -->\n"
            "<platform version=\"4.1\">\n"
            "  <zone id=\"" SW_PLATFORM_TOP_ZONE "\" routing=\"Full\">\n"
            "    <zone id=\"" SW_PLATFORM_HQ_ZONE "\" routing=\"Full\">\n"
            "      <host id=\"" SW_PLATFORM_COORD_HOST "\" speed=\"%.17gf\">\n"
            "        <prop id=\"wattage_per_state\" value=\"0:0:0\"/>\n"
            "        <prop id=\"wattage_off\" value=\"0\"/>\n"
            "      </host>\n"
            "    </zone>\n",
            spec->n_sites, spec->coord_speed_flops);
    for (size_t i = 0; i < spec->n_sites; i++)
        write_site(f, &spec->sites[i], i);
    for (size_t i = 0; i < spec->n_sites; i++) {
        const sw_platform_site *s = &spec->sites[i];
        fprintf(f, "    <link id=\"%s.wan\" bandwidth=\"%.17gBps\" latency=\"%.17gs\"/>\n", s->name,
                s->wan_bw_Bps, s->wan_latency_s);
    }
    for (size_t i = 0; i < spec->n_sites; i++)
        for (size_t j = i + 1; j < spec->n_sites; j++)
            fprintf(f, "    <link id=\"mesh.%s.%s\" bandwidth=\"%.17gBps\" latency=\"%.17gs\"/>\n",
                    spec->sites[i].name, spec->sites[j].name, spec->mesh_bw_Bps,
                    spec->mesh_latency_s);
    char gw_a[SW_PLATFORM_NAME_MAX + 8], gw_b[SW_PLATFORM_NAME_MAX + 8];
    for (size_t i = 0; i < spec->n_sites; i++) {
        const sw_platform_site *s = &spec->sites[i];
        gateway(s, gw_a, sizeof gw_a);
        fprintf(f,
                "    <zoneRoute src=\"" SW_PLATFORM_HQ_ZONE "\" dst=\"%s\" "
                "gw_src=\"" SW_PLATFORM_COORD_HOST "\" gw_dst=\"%s\">"
                "<link_ctn id=\"%s.wan\"/></zoneRoute>\n",
                s->name, gw_a, s->name);
    }
    for (size_t i = 0; i < spec->n_sites; i++)
        for (size_t j = i + 1; j < spec->n_sites; j++) {
            const sw_platform_site *a = &spec->sites[i], *b = &spec->sites[j];
            gateway(a, gw_a, sizeof gw_a);
            gateway(b, gw_b, sizeof gw_b);
            fprintf(f,
                    "    <zoneRoute src=\"%s\" dst=\"%s\" gw_src=\"%s\" gw_dst=\"%s\">"
                    "<link_ctn id=\"mesh.%s.%s\"/></zoneRoute>\n",
                    a->name, b->name, gw_a, gw_b, a->name, b->name);
        }
    fprintf(f, "  </zone>\n</platform>\n");
}

int sw_platform_write_xml(const sw_platform_spec *spec, const char *path, sw_error *err)
{
    int rc = sw_platform_validate(spec, err);
    if (rc)
        return rc;
    if (!path || !path[0])
        return sw_errorf(err, SW_EINPUT, "platform: no output path given");
    size_t len = strlen(path);
    char *tmp = malloc(len + 8);
    if (!tmp)
        return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", path);
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".XXXXXX", 8);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = sw_errorf(err, SW_ERUNTIME, "%s: cannot create a temporary file next to it: %s", path,
                       strerror(errno));
        free(tmp);
        return rc;
    }
    /* mkstemp makes the file private (0600); the platform is an artefact meant to be read,
     * as the umask allows. */
    FILE *f = fchmod(fd, sw_umask_file_mode()) == 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        rc = sw_errorf(err, SW_ERUNTIME, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return rc;
    }
    write_platform(f, spec);
    int failed = ferror(f);
    int saved = errno;
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        unlink(tmp);
        rc =
            sw_errorf(err, SW_ERUNTIME, "%s: cannot write the platform: %s", path, strerror(saved));
    }
    free(tmp);
    return rc;
}
