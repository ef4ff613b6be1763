/* test_rapl.c - host RAPL energy counted across wrap-arounds and resumes (exec/rapl.h), on a
 * fake powercap zone: reading only at the start and the end, as before issue 13, loses every
 * whole wrap. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "exec/rapl.h"

static char zone[128];

static void put(const char *file, double v)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", zone, file);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "%.0f\n", v);
    fclose(f);
}

static void make_zone(void)
{
    snprintf(zone, sizeof zone, "/tmp/sw-rapl-test-%d", (int)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", zone, zone);
    cr_assert_eq(system(cmd), 0);
    put("max_energy_range_uj", 1000000); /* wraps every 1 J */
}

static void remove_zone(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", zone);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(rapl, .init = make_zone, .fini = remove_zone);

Test(rapl, delta_is_taken_modulo_the_range)
{
    cr_assert_eq(sw_rapl_delta_uj(100, 350, 1000), 250);
    cr_assert_eq(sw_rapl_delta_uj(900, 100, 1000), 200);
    cr_assert_eq(sw_rapl_delta_uj(5, 5, 1000), 0);
}

Test(rapl, every_wrap_between_samples_is_counted)
{
    put("energy_uj", 900000);
    sw_rapl r;
    sw_rapl_open(&r, zone, 0, 0.0);
    cr_assert(r.on);
    /* 0.6 J per sample period for 5 periods: the counter wraps three times */
    double uj = 900000, t = 0;
    for (int k = 0; k < 5; k++) {
        uj = fmod(uj + 600000, 1000000);
        put("energy_uj", uj);
        t += SW_RAPL_SAMPLE_S;
        sw_rapl_sample(&r, t, false);
    }
    cr_assert_float_eq(sw_rapl_energy_j(&r), 3.0, 1e-9);
    /* not yet time for a sample: nothing read */
    put("energy_uj", fmod(uj + 100000, 1000000));
    sw_rapl_sample(&r, t + 1, false);
    cr_assert_float_eq(sw_rapl_energy_j(&r), 3.0, 1e-9);
    sw_rapl_sample(&r, t + 1, true); /* the end of the run forces one */
    cr_assert_float_eq(sw_rapl_energy_j(&r), 3.1, 1e-9);
}

Test(rapl, a_resumed_run_keeps_the_energy_before_it)
{
    put("energy_uj", 10);
    sw_rapl r;
    sw_rapl_open(&r, zone, 42.5, 0.0); /* from the checkpoint */
    put("energy_uj", 500010);
    sw_rapl_sample(&r, 100, false);
    cr_assert_float_eq(sw_rapl_energy_j(&r), 43.0, 1e-9);
}

Test(rapl, no_counter_is_not_measured)
{
    sw_rapl r;
    sw_rapl_open(&r, "/nonexistent/powercap", 0, 0.0);
    cr_assert_not(r.on);
    sw_rapl_sample(&r, 100, true);
    cr_assert(isnan(sw_rapl_energy_j(&r)));
}
