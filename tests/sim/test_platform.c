/* test_platform.c - the generated SimGrid platform behaves as computed by hand.
 *
 * Each Criterion test runs in its own process, so each may initialise SimGrid once. Actors only
 * record what they see; the assertions run after simgrid_run() returns (a failing assertion
 * must not unwind through SimGrid's context switching).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simgrid/actor.h>
#include <simgrid/comm.h>
#include <simgrid/engine.h>
#include <simgrid/exec.h>
#include <simgrid/host.h>
#include <simgrid/mailbox.h>
#include <simgrid/plugins/energy.h>

#include "sim/platform.h"
#include "sim/sgutil.h"

/* Two sites. alpha: one host, the recommended shape (site = one host running one exec at the
 * site's aggregate speed, site power). beta: two 4-core hosts, to check the LAN paths. */
static const sw_platform_site two_sites[] = {
    {.name = "alpha",
     .n_hosts = 1,
     .cores_per_host = 1,
     .speed_flops = 1e12,
     .off_w = 20,
     .idle_w = 468,
     .train_w = 2024,
     .wan_bw_Bps = 1.25e9,
     .wan_latency_s = 0.04,
     .lan_bw_Bps = 1e11,
     .lan_latency_s = 1e-5},
    {.name = "beta-2",
     .n_hosts = 2,
     .cores_per_host = 4,
     .speed_flops = 5e11,
     .off_w = 5,
     .idle_w = 117,
     .train_w = 506,
     .wan_bw_Bps = 2.5e9,
     .wan_latency_s = 0.03,
     .lan_bw_Bps = 2e9,
     .lan_latency_s = 0.002},
};

static const sw_platform_spec two_site_spec = {
    .sites = two_sites,
    .n_sites = 2,
    .coord_speed_flops = 1e11,
    .mesh_bw_Bps = 5e8,
    .mesh_latency_s = 0.08,
};

static char payload[] = "model"; /* SimGrid refuses to send NULL; only the size is simulated */

static void start(void)
{
    sw_error err;
    cr_assert_eq(sw_sim_init(NULL, NULL, true, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_sim_load_spec(&two_site_spec, NULL, &err), SW_OK, "%s", err.msg);
}

/* --- compute and power ------------------------------------------------------------------ */

static double exec_end_s[2], exec_energy_j[2];

/* Idles 1 s, then executes argv[1] flops; records end time and the host's energy so far. */
static void exec_actor(int argc, char **argv)
{
    (void)argc;
    int slot = argv[0][0] == 'a' ? 0 : 1;
    double flops = strtod(argv[1], NULL);
    sg_actor_sleep_for(1.0);
    sg_exec_t e = sg_actor_exec_init(flops);
    sg_exec_start(e);
    exec_end_s[slot] = sg_exec_wait(e) == SG_OK ? simgrid_get_clock() : -1;
    exec_energy_j[slot] = sg_host_get_consumed_energy(sg_host_self());
}

Test(platform, exec_takes_flops_over_speed_and_draws_train_power)
{
    start();
    const char *a[] = {"a", "3e12"};
    const char *b[] = {"b", "1e12"};
    sg_actor_create("a", sg_host_by_name("alpha.h0"), exec_actor, 2, (char **)a);
    sg_actor_create("b", sg_host_by_name("beta-2.h1"), exec_actor, 2, (char **)b);
    simgrid_run();
    /* alpha: 1 s idle, then 3e12 / 1e12 = 3 s at full load. */
    cr_assert_float_eq(exec_end_s[0], 4.0, 1e-9);
    cr_assert_float_eq(exec_energy_j[0], 468.0 * 1 + 2024.0 * 3, 1e-6);
    /* beta: one exec uses one core of four (5e11 FLOP/s): 2 s, and the host draws train_w
     * although only a quarter of it is busy ("idle:train:train"). */
    cr_assert_float_eq(exec_end_s[1], 3.0, 1e-9);
    cr_assert_float_eq(exec_energy_j[1], 117.0 * 1 + 506.0 * 2, 1e-6);
    /* The run ends at 4 s: beta-2.h1 idled for the last second, beta-2.h0 all along. */
    cr_assert_float_eq(simgrid_get_clock(), 4.0, 1e-9);
    double e_b1 = sg_host_get_consumed_energy(sg_host_by_name("beta-2.h1"));
    double e_b0 = sg_host_get_consumed_energy(sg_host_by_name("beta-2.h0"));
    cr_assert_float_eq(e_b1, 117.0 * 2 + 506.0 * 2, 1e-6);
    cr_assert_float_eq(e_b0, 117.0 * 4, 1e-6);
    double e_coord = sg_host_get_consumed_energy(sg_host_by_name(SW_PLATFORM_COORD_HOST));
    cr_assert_float_eq(e_coord, 0.0, 1e-12);
}

static double off_energy_j;
static int was_off;

/* Turns alpha.h0 off for 10 s, back on for 5 s. */
static void power_cycler(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sg_host_t h = sg_host_by_name("alpha.h0");
    sg_host_turn_off(h);
    sg_actor_sleep_for(10.0);
    was_off = !sg_host_is_on(h);
    sg_host_turn_on(h);
    sg_actor_sleep_for(5.0);
    off_energy_j = sg_host_get_consumed_energy(h);
}

Test(platform, turned_off_host_draws_off_power)
{
    start();
    sg_actor_create("cycler", sg_host_by_name(SW_PLATFORM_COORD_HOST), power_cycler, 0, NULL);
    simgrid_run();
    cr_assert(was_off);
    cr_assert_float_eq(off_energy_j, 20.0 * 10 + 468.0 * 5, 1e-6);
}

/* --- network -------------------------------------------------------------------------------- */

#define S_BYTES 2200000000L /* the 561M-parameter model in fp32, about 2.2 GB */

enum { T_COORD_ALPHA, T_ALPHA_BETA, T_COORD_BETA1, T_BETA0_BETA1, T_SELF, N_TRANSFERS };
static const char *const tr_src[N_TRANSFERS] = {"coord", "alpha.h0", "coord", "beta-2.h0",
                                                "alpha.h0"};
static const char *const tr_dst[N_TRANSFERS] = {"alpha.h0", "beta-2.h0", "beta-2.h1", "beta-2.h1",
                                                "alpha.h0"};
static double transfer_s[N_TRANSFERS];

/* argv[1] = transfer index. Transfers run one after another (each at t = 10 s x index) so that
 * they never share a link. */
static void sender(int argc, char **argv)
{
    (void)argc;
    int i = atoi(argv[1]);
    sg_actor_sleep_until(10.0 * i);
    char name[16];
    snprintf(name, sizeof name, "mb%d", i);
    sg_comm_t c = sg_mailbox_put_async(sg_mailbox_by_name(name), payload, S_BYTES);
    sg_comm_wait(c); /* the receiver records failures */
}

static void receiver(int argc, char **argv)
{
    (void)argc;
    int i = atoi(argv[1]);
    char name[16];
    snprintf(name, sizeof name, "mb%d", i);
    void *data = NULL;
    sg_comm_t c = sg_mailbox_get_async(sg_mailbox_by_name(name), &data);
    transfer_s[i] = sg_comm_wait(c) == SG_OK ? simgrid_get_clock() - 10.0 * i : -1;
}

Test(platform, transfers_take_latency_plus_size_over_bandwidth)
{
    start();
    static char idx[N_TRANSFERS][12];
    for (int i = 0; i < N_TRANSFERS; i++) {
        snprintf(idx[i], sizeof idx[i], "%d", i);
        const char *args[] = {"x", idx[i]};
        sg_actor_create("snd", sg_host_by_name(tr_src[i]), sender, 2, (char **)args);
        sg_actor_create("rcv", sg_host_by_name(tr_dst[i]), receiver, 2, (char **)args);
    }
    simgrid_run();
    const double s = (double)S_BYTES;
    /* coordinator -> one-host site: the site's WAN link only. */
    cr_assert_float_eq(transfer_s[T_COORD_ALPHA], s / 1.25e9 + 0.04, 1e-9);
    /* site -> site: the mesh link between their gateways. */
    cr_assert_float_eq(transfer_s[T_ALPHA_BETA], s / 5e8 + 0.08 + 0.002 / 2, 1e-9);
    /* coordinator -> host of a multi-host site: WAN, then the host's LAN port (half the LAN
     * latency); the slower of the two sets the rate. */
    cr_assert_float_eq(transfer_s[T_COORD_BETA1], s / 2e9 + 0.03 + 0.002 / 2, 1e-9);
    /* host -> host inside a site: two LAN ports, LAN bandwidth and the full LAN latency. */
    cr_assert_float_eq(transfer_s[T_BETA0_BETA1], s / 2e9 + 0.002, 1e-9);
    /* a host to itself goes out of and back into its LAN port. */
    cr_assert_float_eq(transfer_s[T_SELF], s / 1e11 + 1e-5, 1e-9);
}

/* --- generated XML and host properties ------------------------------------------------------ */

Test(platform, host_properties_name_the_site)
{
    start();
    sg_host_t h = sg_host_by_name("beta-2.h1");
    cr_assert_not_null(h);
    cr_assert_str_eq(sg_host_get_property_value(h, "sw_site"), "beta-2");
    cr_assert_str_eq(sg_host_get_property_value(h, "sw_site_index"), "1");
    cr_assert_str_eq(sg_host_get_property_value(h, "sw_host_index"), "1");
    cr_assert_eq(sg_host_core_count(h), 4);
    cr_assert_float_eq(sg_host_get_speed(h), 5e11, 1e-3);
    cr_assert_eq(sg_host_count(), 4); /* coord, alpha.h0, beta-2.h0, beta-2.h1 */
    char name[32];
    cr_assert_eq(sw_platform_host_name("beta-2", 1, name, sizeof name), 9);
    cr_assert_str_eq(name, "beta-2.h1");
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

Test(platform, xml_is_written_atomically_and_kept)
{
    char dir[] = "/tmp/sw-test-platform-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/platform.xml", dir);
    sw_error err;
    cr_assert_eq(sw_platform_write_xml(&two_site_spec, path, &err), SW_OK, "%s", err.msg);
    const char *xml = slurp(path);
    cr_assert(strstr(xml, "<platform version=\"4.1\">"));
    cr_assert(strstr(xml, "<prop id=\"wattage_per_state\" value=\"468:2024:2024\"/>"));
    cr_assert(strstr(xml, "<prop id=\"wattage_off\" value=\"20\"/>"));
    cr_assert(strstr(xml, "gw_src=\"coord\" gw_dst=\"alpha.h0\""));
    cr_assert(strstr(xml, "gw_dst=\"beta-2.gw\""));
    /* An invalid spec leaves the existing file untouched, and no temporary file behind. */
    sw_platform_spec bad = two_site_spec;
    bad.n_sites = 0;
    cr_assert_eq(sw_platform_write_xml(&bad, path, &err), SW_EINPUT);
    cr_assert(strstr(slurp(path), "<platform version=\"4.1\">"));
    /* A second write replaces it; the folder then holds only platform.xml. */
    cr_assert_eq(sw_platform_write_xml(&two_site_spec, path, &err), SW_OK, "%s", err.msg);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A %s)\" = platform.xml", dir);
    cr_assert_eq(system(cmd), 0, "temporary files left in %s", dir);
    /* The written file loads. */
    cr_assert_eq(sw_sim_init(NULL, NULL, true, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_sim_load_platform(path, &err), SW_OK, "%s", err.msg);
    cr_assert_not_null(sg_host_by_name("alpha.h0"));
    unlink(path);
    rmdir(dir);
}

Test(platform, unwritable_path_is_a_runtime_error_naming_it)
{
    sw_error err;
    const char *path = "/nonexistent-dir/platform.xml";
    cr_assert_eq(sw_platform_write_xml(&two_site_spec, path, &err), SW_ERUNTIME);
    cr_assert(strstr(err.msg, path), "%s", err.msg);
}

/* --- start-up ------------------------------------------------------------------------------- */

Test(platform, init_strips_simgrid_options_and_keeps_the_callers)
{
    char a0[] = "prog", a1[] = "--verbose", a2[] = "--log=root.thres:critical", a3[] = "scen.yaml";
    char *argv[] = {a0, a1, a2, a3, NULL};
    int argc = 4;
    sw_error err;
    cr_assert_eq(sw_sim_init(&argc, argv, true, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(argc, 3);
    cr_assert_str_eq(argv[0], "prog");
    cr_assert_str_eq(argv[1], "--verbose");
    cr_assert_str_eq(argv[2], "scen.yaml");
    cr_assert_null(argv[3]);
    /* Once per process. */
    cr_assert_eq(sw_sim_init(NULL, NULL, true, &err), SW_ERUNTIME);
    cr_assert(strstr(err.msg, "already initialised"), "%s", err.msg);
}

Test(platform, load_before_init_or_missing_file_is_an_error)
{
    sw_error err;
    cr_assert_eq(sw_sim_load_platform("whatever.xml", &err), SW_ERUNTIME);
    cr_assert(strstr(err.msg, "sw_sim_init"), "%s", err.msg);
    cr_assert_eq(sw_sim_init(NULL, NULL, true, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_sim_load_platform("/nonexistent/p.xml", &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "/nonexistent/p.xml"), "%s", err.msg);
}

/* --- bad specs: SW_EINPUT and a message naming the field ------------------------------------- */

static void expect_einput(const sw_platform_spec *spec, const char *field, const char *detail)
{
    sw_error err;
    cr_assert_eq(sw_platform_validate(spec, &err), SW_EINPUT, "expected SW_EINPUT for %s", field);
    cr_assert(strstr(err.msg, field), "message \"%s\" does not name %s", err.msg, field);
    if (detail)
        cr_assert(strstr(err.msg, detail), "message \"%s\" does not say %s", err.msg, detail);
    /* The writer refuses the same spec. */
    cr_assert_eq(sw_platform_write_xml(spec, "/tmp/sw-never-written.xml", &err), SW_EINPUT);
    cr_assert_eq(access("/tmp/sw-never-written.xml", F_OK), -1);
}

Test(platform, bad_specs_name_the_field)
{
    sw_platform_site sites[2];
    sw_platform_spec spec = two_site_spec;
    spec.sites = sites;

    spec.n_sites = 0;
    expect_einput(&spec, "sites", "at least one site");
    spec.n_sites = 2;

    memcpy(sites, two_sites, sizeof sites);
    sites[1].name = "alpha";
    expect_einput(&spec, "sites[1].name", "duplicate of sites[0].name");

    memcpy(sites, two_sites, sizeof sites);
    sites[1].name = "be<ta";
    expect_einput(&spec, "sites[1].name", "invalid character 0x3c at offset 2");
    sites[1].name = "beta.gw";
    expect_einput(&spec, "sites[1].name", "invalid character 0x2e");
    sites[1].name = "-beta";
    expect_einput(&spec, "sites[1].name", "offset 0");
    sites[1].name = "";
    expect_einput(&spec, "sites[1].name", "empty");
    sites[1].name = "hq";
    expect_einput(&spec, "sites[1].name", "reserved");

    memcpy(sites, two_sites, sizeof sites);
    sites[0].speed_flops = 0;
    expect_einput(&spec, "sites[0].speed_flops", "site \"alpha\"");
    sites[0].speed_flops = -1e12;
    expect_einput(&spec, "sites[0].speed_flops", NULL);

    memcpy(sites, two_sites, sizeof sites);
    sites[1].n_hosts = 0;
    expect_einput(&spec, "sites[1].n_hosts", NULL);

    memcpy(sites, two_sites, sizeof sites);
    sites[1].train_w = 100; /* below idle_w = 117 */
    expect_einput(&spec, "sites[1].train_w", "idle_w");

    memcpy(sites, two_sites, sizeof sites);
    sites[0].wan_latency_s = -0.01;
    expect_einput(&spec, "sites[0].wan_latency_s", NULL);

    memcpy(sites, two_sites, sizeof sites);
    spec.mesh_bw_Bps = 0;
    expect_einput(&spec, "mesh_bw_Bps", NULL);
}
