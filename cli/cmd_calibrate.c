/* cmd_calibrate.c - `spillway calibrate LOG.csv [--two-site LOG2.csv] [-o params.yaml]`: fits
 * the simulator's convergence model (docs/convergence.md) to loss logs with GSL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/lossfit.h"
#include "core/losslog.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spillway calibrate LOG.csv [--two-site LOG2.csv] [-o PARAMS.yaml]\n\n"
            "Fits the convergence model of the simulator: the data-scaling law\n"
            "L = E + B*D^-beta with the LR warm-down term, from a single-site loss log, and the\n"
            "federated efficiency from a log of two sites averaging each round. Logs are CSV\n"
            "with columns time,step,loss[,perplexity] or time,tokens,loss (see\n"
            "docs/convergence.md). The clock-to-token mapping uses the nanochat d20 settings\n"
            "of the reference study (524,288 tokens per step). Writes the parameters as YAML\n"
            "(to stdout without -o), with fit diagnostics in a `fit:` block.\n\n"
            "  --two-site LOG2.csv   also fit the federated efficiency\n"
            "  -o FILE               write the YAML here (temporary name, then renamed)\n");
}

int sw_cmd_calibrate(int argc, char **argv)
{
    const char *single = NULL, *two = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return SW_EXIT_OK;
        } else if (!strcmp(a, "--two-site"))
            ok = sw_arg_string("calibrate", argc, argv, &i, &two);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            ok = sw_arg_string("calibrate", argc, argv, &i, &out);
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "spillway calibrate: unknown option '%s' (try --help)\n", a);
            return SW_EXIT_USAGE;
        } else if (!single)
            single = a;
        else {
            fprintf(stderr, "spillway calibrate: unexpected argument '%s'\n", a);
            return SW_EXIT_USAGE;
        }
        if (!ok)
            return SW_EXIT_USAGE;
    }
    if (!single) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    sw_error err;
    sw_losslog l1 = {0}, l2 = {0};
    int rc = sw_losslog_read(single, &l1, &err);
    if (rc == SW_OK && two)
        rc = sw_losslog_read(two, &l2, &err);
    sw_convergence_params p;
    sw_convergence_fit fs, ff;
    if (rc == SW_OK) {
        sw_lossfit_options opt;
        sw_lossfit_d20_options(&opt);
        rc = sw_lossfit_calibrate(&l1, single, two ? &l2 : NULL, two, &opt, &p, &fs,
                                  two ? &ff : NULL, &err);
    }
    sw_losslog_free(&l1);
    sw_losslog_free(&l2);
    if (rc != SW_OK) {
        fprintf(stderr, "spillway calibrate: %s\n", err.msg);
        return rc == SW_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
    }
    size_t need = 0;
    char small[1];
    sw_convergence_to_yaml(&p, &fs, two ? &ff : NULL, small, sizeof small, &need, NULL);
    char *yaml = malloc(need + 1);
    if (!yaml ||
        sw_convergence_to_yaml(&p, &fs, two ? &ff : NULL, yaml, need + 1, NULL, &err) != SW_OK) {
        fprintf(stderr, "spillway calibrate: %s\n", yaml ? err.msg : "out of memory");
        free(yaml);
        return SW_EXIT_RUNTIME;
    }
    if (!out) {
        fputs(yaml, stdout);
        free(yaml);
        return SW_EXIT_OK;
    }
    size_t L = strlen(out);
    char *tmp = malloc(L + 16);
    snprintf(tmp, L + 16, "%s.tmp-%d", out, (int)getpid());
    FILE *f = fopen(tmp, "w");
    bool ok = f && fputs(yaml, f) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, out) != 0) {
        fprintf(stderr, "spillway calibrate: -o %s: %s\n", out, strerror(errno));
        unlink(tmp);
        rc = SW_EXIT_RUNTIME;
    } else {
        fprintf(stderr, "[calibrate] RMSE %.4f nats over %zu rows -> %s\n", fs.rmse_nats,
                fs.n_points, out);
    }
    free(tmp);
    free(yaml);
    return rc;
}
