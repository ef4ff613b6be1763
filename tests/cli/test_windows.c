/* test_windows.c - `spillway windows` end to end: output on the reference trace, CSV mode,
 * and the usage/input errors with exit status 2. */
#include <criterion/criterion.h>
#include <string.h>

#include "cli_run.c.inc"

#define REF "traces/mci_2026-01-11.csv"

static cli_result run(const char *const *args)
{
    cli_result r;
    cr_assert_eq(cli_run(args, &r), 0, "could not start spillway");
    return r;
}

Test(windows, reference_caiso_north_windows)
{
    /* From the trace: CAISO_NORTH is 463.6 at 17:00, under 100 from 17:05 to 19:05 (the
     * 19:05 value is above), above from 19:05 to 19:20, under again until 23:25. With a
     * 600 s hysteresis the first window ends at 19:15 (above since 19:05, 10 min); the
     * second ends at 23:35. */
    cli_result r = run((const char *const[]){"windows", REF, "--region", "CAISO_NORTH", NULL});
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "2026-01-11T17:05:00Z  ->  2026-01-11T19:05:00Z"), "%s", r.out);
    cr_assert(strstr(r.out, "2026-01-11T17:05:00Z  ->  2026-01-11T19:15:00Z"), "%s", r.out);
    cr_assert(strstr(r.out, "2026-01-11T19:20:00Z  ->  2026-01-11T23:35:00Z"), "%s", r.out);
    cr_assert_null(strstr(r.out, "SPP_TX"), "only the requested region is printed");
    cli_result_free(&r);
}

Test(windows, csv_lists_every_region)
{
    cli_result r = run((const char *const[]){"windows", REF, "--csv", NULL});
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    const char *hdr = "region,kind,start_utc,end_utc,duration_s\n";
    cr_assert(!strncmp(r.out, hdr, strlen(hdr)), "%s", r.out);
    cr_assert(strstr(r.out, "CAISO_NORTH,raw,2026-01-11T17:05:00Z,2026-01-11T19:05:00Z,7200\n"));
    cr_assert(strstr(r.out, "SPP_TX,"));
    cr_assert(strstr(r.out, "NEM_SA,"));
    cr_assert_null(strstr(r.out, "DE,"), "DE never goes under 100 g/kWh");
    cli_result_free(&r);
}

Test(windows, higher_threshold_more_windows_time)
{
    cli_result a = run((const char *const[]){"windows", REF, "--region", "DE", NULL});
    cli_result b =
        run((const char *const[]){"windows", REF, "--region", "DE", "--threshold", "1000", NULL});
    cr_assert_eq(a.status, 0);
    cr_assert_eq(b.status, 0);
    cr_assert(strstr(a.out, "raw (0 windows)"), "%s", a.out);
    cr_assert(strstr(b.out, "raw (1 window)"), "%s", b.out);
    cli_result_free(&a);
    cli_result_free(&b);
}

Test(windows, errors_exit_2_and_name_the_problem)
{
    cli_result r = run((const char *const[]){"windows", REF, "--region", "MARS", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "MARS"), "%s", r.err);
    cli_result_free(&r);

    r = run((const char *const[]){"windows", REF, "--threshold", "abc", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--threshold"), "%s", r.err);
    cli_result_free(&r);

    r = run((const char *const[]){"windows", "no/such/trace.csv", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "no/such/trace.csv"), "%s", r.err);
    cli_result_free(&r);

    r = run((const char *const[]){"windows", NULL});
    cr_assert_eq(r.status, 2);
    cli_result_free(&r);

    r = run((const char *const[]){"windows", REF, "--bogus", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--bogus"), "%s", r.err);
    cli_result_free(&r);
}

Test(cli, help_and_version)
{
    cli_result r = run((const char *const[]){"--help", NULL});
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "windows"));
    cli_result_free(&r);
    r = run((const char *const[]){"--version", NULL});
    cr_assert_eq(r.status, 0);
    cr_assert(!strncmp(r.out, "spillway ", 9));
    cli_result_free(&r);
    r = run((const char *const[]){"frobnicate", NULL});
    cr_assert_eq(r.status, 2);
    cli_result_free(&r);
}
