/* sgutil.c - SimGrid start-up for spillway (see sgutil.h for the why of each setting).
 *
 * The context factory is chosen inside simgrid_init, so it cannot be set afterwards with
 * sg_cfg_set_string (SimGrid then rejects it as an invalid factory); that is why all defaults
 * travel as --cfg options in a rebuilt argv instead.
 */
#include "sim/sgutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <simgrid/engine.h>
#include <simgrid/plugins/energy.h>
#include <xbt/log.h>

static const char *const sw_sim_defaults[] = {
    /* LV08 (SimGrid's default) multiplies latency by 13.01, scales bandwidth by 0.97 and caps a
     * flow at TCP-gamma / (2 x latency): 2.2 GB over a 12.5 GB/s, 10 ms link took 10.95 s
     * instead of 0.186 s. CM02 without a TCP window or cross-traffic gives exactly
     * latency + size / bandwidth. */
    "--cfg=network/model:CM02",
    "--cfg=network/TCP-gamma:0",
    "--cfg=network/crosstraffic:0",
#ifdef SW_SANITIZE
    /* ASan does not understand the raw context switches (false positives); threads are
     * 35-70x slower but sanitizer-clean. */
    "--cfg=contexts/factory:thread",
#endif
};
#define SW_SIM_N_DEFAULTS (sizeof sw_sim_defaults / sizeof sw_sim_defaults[0])

static bool sw_sim_inited;
static bool sw_sim_loaded;

int sw_sim_init(int *argc, char **argv, bool quiet, sw_error *err)
{
    if (sw_sim_inited)
        return sw_errorf(err, SW_ERUNTIME,
                         "sim: SimGrid is already initialised (once per process)");
    int n_user = (argc && argv && *argc > 0) ? *argc : 0;
    int n = 1 + (int)SW_SIM_N_DEFAULTS + (n_user > 0 ? n_user - 1 : 0);
    char **av = calloc((size_t)n + 1, sizeof *av);
    if (!av)
        return sw_errorf(err, SW_ERUNTIME, "sim: out of memory");
    /* SimGrid only reorders the pointers and copies the strings it keeps (binary name, command
     * line) into its own std::strings, so av can be freed once simgrid_init returns. */
    static char default_name[] = "spillway";
    av[0] = n_user > 0 ? argv[0] : default_name;
    for (size_t i = 0; i < SW_SIM_N_DEFAULTS; i++)
        av[1 + i] = (char *)sw_sim_defaults[i];
    for (int i = 1; i < n_user; i++)
        av[SW_SIM_N_DEFAULTS + (size_t)i] = argv[i];

    /* Before simgrid_init, so that its own "Configuration change" lines are silenced too. */
    if (quiet)
        xbt_log_control_set("root.thres:critical");
    simgrid_init(&n, av);
    sg_host_energy_plugin_init(); /* before any platform, or energy queries crash */
    sw_sim_inited = true;

    /* Hand back what SimGrid left: argv[0] and the caller's non-SimGrid arguments. */
    if (n_user > 0 && n <= n_user) {
        for (int i = 0; i < n; i++)
            argv[i] = av[i];
        argv[n] = NULL;
        *argc = n;
    }
    free(av);
    return SW_OK;
}

int sw_sim_load_platform(const char *path, sw_error *err)
{
    if (!sw_sim_inited)
        return sw_errorf(err, SW_ERUNTIME, "sim: sw_sim_init must be called before loading %s",
                         path ? path : "a platform");
    if (sw_sim_loaded)
        return sw_errorf(err, SW_ERUNTIME, "sim: a platform is already loaded (one per process)");
    if (!path || !path[0])
        return sw_errorf(err, SW_EINPUT, "sim: no platform path given");
    /* SimGrid aborts on a missing file; check first so the caller gets an error instead. */
    FILE *f = fopen(path, "r");
    if (!f)
        return sw_errorf(err, SW_EINPUT, "%s: cannot read the platform: %s", path, strerror(errno));
    fclose(f);
    simgrid_load_platform(path);
    sw_sim_loaded = true;
    return SW_OK;
}

int sw_sim_load_spec(const sw_platform_spec *spec, const char *xml_path, sw_error *err)
{
    int rc = sw_platform_validate(spec, err);
    if (rc)
        return rc;
    if (!sw_sim_inited)
        return sw_errorf(err, SW_ERUNTIME, "sim: sw_sim_init must be called before loading");
    if (xml_path) {
        if ((rc = sw_platform_write_xml(spec, xml_path, err)))
            return rc;
        return sw_sim_load_platform(xml_path, err);
    }
    /* A private folder (mkdtemp, mode 0700) so no one else can swap the file under us. */
    const char *tmpdir = getenv("TMPDIR");
    char dir[4096], file[4200];
    if (snprintf(dir, sizeof dir, "%s/spillway-platform-XXXXXX",
                 tmpdir && tmpdir[0] ? tmpdir : "/tmp") >= (int)sizeof dir)
        return sw_errorf(err, SW_ERUNTIME, "sim: TMPDIR is too long");
    if (!mkdtemp(dir))
        return sw_errorf(err, SW_ERUNTIME, "%s: cannot create a temporary folder: %s", dir,
                         strerror(errno));
    snprintf(file, sizeof file, "%s/platform.xml", dir);
    rc = sw_platform_write_xml(spec, file, err);
    if (rc == SW_OK)
        rc = sw_sim_load_platform(file, err);
    unlink(file); /* SimGrid has parsed the whole file by now */
    rmdir(dir);
    return rc;
}
