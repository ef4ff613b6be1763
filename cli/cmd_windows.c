/* cmd_windows.c - `spillway windows TRACE`: the curtailment windows of each region, as the
 * raw signal shows them (mci < threshold) and as the threshold policy would provision them
 * (with hysteresis and, optionally, the polling grid). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/trace.h"
#include "core/windows.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spillway windows TRACE [--region R] [--threshold G] [--hysteresis S]\n"
            "                        [--poll S] [--lbs-per-mwh] [--csv]\n\n"
            "Prints the curtailment windows of each region of a carbon-intensity trace (CSV,\n"
            "see docs/formats/trace.md): the raw windows (signal < threshold) and the windows\n"
            "the threshold policy keeps a site provisioned (release only after the signal has\n"
            "been above the threshold for the hysteresis time). Times are UTC.\n\n"
            "  --region R       only this region (default: every region)\n"
            "  --threshold G    curtailment threshold, gCO2/kWh (default 100)\n"
            "  --hysteresis S   deprovisioning hysteresis, seconds (default 600)\n"
            "  --poll S         decide only every S seconds, like the reference (default 0:\n"
            "                   exact, event-driven)\n"
            "  --lbs-per-mwh    the trace is in lbs/MWh (converted to gCO2/kWh)\n"
            "  --csv            machine-readable output:\n"
            "                   region,kind,start_utc,end_utc,duration_s\n");
}

static void print_windows(const char *region, const char *kind, const sw_window *w, size_t n,
                          bool csv)
{
    double total_s = 0;
    if (!csv)
        printf("  %s (%zu window%s)\n", kind, n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        char a[32], b[32];
        sw_format_iso8601(w[i].start_unix_s, a, sizeof a);
        sw_format_iso8601(w[i].end_unix_s, b, sizeof b);
        double d = sw_window_duration_s(&w[i]);
        total_s += d;
        if (csv)
            printf("%s,%s,%s,%s,%.0f\n", region, kind, a, b, d);
        else
            printf("    %s  ->  %s   %7.1f min\n", a, b, d / 60.0);
    }
    if (!csv)
        printf("    total %.2f h\n", total_s / 3600.0);
}

int sw_cmd_windows(int argc, char **argv)
{
    const char *path = NULL, *region = NULL;
    double threshold = 100, hysteresis = 600, poll = 0;
    bool csv = false;
    sw_trace_options opt = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return SW_EXIT_OK;
        } else if (!strcmp(a, "--region"))
            ok = sw_arg_string("windows", argc, argv, &i, &region);
        else if (!strcmp(a, "--threshold"))
            ok = sw_arg_double("windows", argc, argv, &i, 0, &threshold);
        else if (!strcmp(a, "--hysteresis"))
            ok = sw_arg_double("windows", argc, argv, &i, 0, &hysteresis);
        else if (!strcmp(a, "--poll"))
            ok = sw_arg_double("windows", argc, argv, &i, 0, &poll);
        else if (!strcmp(a, "--csv"))
            csv = true;
        else if (!strcmp(a, "--lbs-per-mwh"))
            opt.unit = SW_UNIT_LBS_PER_MWH;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "spillway windows: unknown option '%s' (try --help)\n", a);
            return SW_EXIT_USAGE;
        } else if (!path)
            path = a;
        else {
            fprintf(stderr, "spillway windows: unexpected argument '%s'\n", a);
            return SW_EXIT_USAGE;
        }
        if (!ok)
            return SW_EXIT_USAGE;
    }
    if (!path) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    if (threshold <= 0) {
        fprintf(stderr, "spillway windows: --threshold: expected a number > 0\n");
        return SW_EXIT_USAGE;
    }

    sw_error err;
    sw_trace *t;
    if (sw_trace_load(path, &opt, &t, &err) != SW_OK) {
        fprintf(stderr, "spillway windows: %s\n", err.msg);
        return err.code == SW_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
    }
    size_t first = 0, last = sw_trace_region_count(t);
    if (region) {
        int r = sw_trace_region_index(t, region);
        if (r < 0) {
            fprintf(stderr,
                    "spillway windows: --region: '%s' is not a region of %s (it has:", region,
                    path);
            for (size_t i = 0; i < sw_trace_region_count(t); i++)
                fprintf(stderr, " %s", sw_trace_region_name(t, i));
            fprintf(stderr, ")\n");
            sw_trace_destroy(t);
            return SW_EXIT_USAGE;
        }
        first = (size_t)r;
        last = first + 1;
    }
    sw_policy_config pol = {.kind = SW_POLICY_THRESHOLD,
                            .threshold_g_per_kwh = threshold,
                            .hysteresis_s = hysteresis,
                            .poll_s = poll};
    int rc = SW_EXIT_OK;
    if (csv)
        printf("region,kind,start_utc,end_utc,duration_s\n");
    for (size_t r = first; r < last && rc == SW_EXIT_OK; r++) {
        const char *name = sw_trace_region_name(t, r);
        sw_window *raw = NULL, *pw = NULL;
        size_t n_raw = 0, n_pw = 0;
        if (sw_windows_raw(t, r, threshold, &raw, &n_raw, &err) != SW_OK ||
            sw_windows_policy(t, r, &pol, &pw, &n_pw, &err) != SW_OK) {
            fprintf(stderr, "spillway windows: %s: %s\n", name, err.msg);
            rc = err.code == SW_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
        } else {
            if (!csv) {
                char a[32], b[32];
                sw_format_iso8601(sw_trace_start(t, r), a, sizeof a);
                sw_format_iso8601(sw_trace_end(t, r), b, sizeof b);
                printf("%s  (%s -> %s, threshold %g gCO2/kWh)\n", name, a, b, threshold);
            }
            print_windows(name, "raw", raw, n_raw, csv);
            char kind[96];
            snprintf(kind, sizeof kind, csv ? "hysteresis" : "with hysteresis %g s%s", hysteresis,
                     poll > 0 ? ", polled" : "");
            print_windows(name, kind, pw, n_pw, csv);
        }
        free(raw);
        free(pw);
    }
    sw_trace_destroy(t);
    return rc;
}
