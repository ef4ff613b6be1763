/* summary_optimum.c - the offline optimum of a report's scenario (summary_optimum.h). */
#include "cli/summary_optimum.h"

#include <stdlib.h>

#include "core/scenario.h"
#include "core/trace.h"

int sw_summary_optimum(const sw_report_data *d, double time_limit_s, sw_opt_result *out,
                       sw_error *err)
{
    sw_scenario sc = {0};
    sw_trace *tr = NULL;
    sw_opt_site *sites = NULL;
    int rc = sw_scenario_parse_text(d->scenario_yaml ? d->scenario_yaml : "", d->scenario_name,
                                    NULL, 0, &sc, err);
    if (rc == SW_OK) {
        sw_trace_options topt = sw_scenario_trace_options(&sc);
        rc = sw_trace_load(sc.trace.file, &topt, &tr, err);
    }
    if (rc == SW_OK)
        rc = sw_scenario_apply_derive(&sc, &tr, err);
    double start_unix_s = 0, end_unix_s = 0;
    if (rc == SW_OK)
        rc = sw_scenario_run_span(&sc, tr, &start_unix_s, &end_unix_s, err);
    sw_opt_problem p = {0};
    if (rc == SW_OK) {
        sites = calloc(sc.n_sites, sizeof *sites);
        rc = sites ? sw_optimum_from_scenario(&sc, tr, start_unix_s, end_unix_s, &p, sites, err)
                   : sw_errorf(err, SW_ERUNTIME, "out of memory");
    }
    if (rc == SW_OK)
        rc = sw_optimum_solve(&p, time_limit_s, NULL, out, err);
    free(sites);
    sw_trace_destroy(tr);
    sw_scenario_free(&sc);
    return rc;
}
