/* test_calibrate.c - `spillway calibrate` on the shipped reference logs reproduces the shipped
 * fit (scenarios/d20_convergence.yaml), writes atomically, and rejects bad logs with exit 2. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_run.c.inc"
#include "core/convergence.h"

static double yaml_number(const char *text, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\n  %s: ", key);
    const char *p = strstr(text, k);
    cr_assert_not_null(p, "key %s missing in:\n%s", key, text);
    return strtod(p + strlen(k), NULL);
}

Test(calibrate, reproduces_the_shipped_d20_fit, .timeout = 60)
{
    cli_result r;
    cr_assert_eq(
        cli_run((const char *const[]){"calibrate", "reference/centralized_loss.csv", "--two-site",
                                      "reference/two_site_fl_loss.csv", NULL},
                &r),
        0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    sw_convergence_params d;
    sw_convergence_d20_defaults(&d);
    cr_assert_float_eq(yaml_number(r.out, "e_nats"), d.e_nats, 1e-6 * d.e_nats);
    cr_assert_float_eq(yaml_number(r.out, "b"), d.b, 1e-6 * d.b);
    cr_assert_float_eq(yaml_number(r.out, "beta"), d.beta, 1e-6 * d.beta);
    cr_assert_float_eq(yaml_number(r.out, "eff_h0_steps"), d.eff_h0_steps, 1e-6 * d.eff_h0_steps);
    cli_result_free(&r);
}

Test(calibrate, bad_logs_exit_2)
{
    char dir[] = "/tmp/sw-test-cal-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char bad[300], out[300];
    snprintf(bad, sizeof bad, "%s/bad.csv", dir);
    snprintf(out, sizeof out, "%s/out.yaml", dir);
    FILE *f = fopen(bad, "w");
    fprintf(f, "time,step,loss,perplexity\n10,0,11.0,59874\n5,1,abc,1\n");
    fclose(f);
    cli_result r;
    cr_assert_eq(cli_run((const char *const[]){"calibrate", bad, "-o", out, NULL}, &r), 0);
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "bad.csv:3"), "names file and line: %s", r.err);
    cr_assert_neq(access(out, F_OK), 0, "no output on error");
    cli_result_free(&r);
    cr_assert_eq(cli_run((const char *const[]){"calibrate", NULL}, &r), 0);
    cr_assert_eq(r.status, 2);
    cli_result_free(&r);
    unlink(bad);
    rmdir(dir);
}
