/* summary_optimum.h - the offline optimum of a report's scenario, for `spillway summary`: the
 * scenario text stored in the report (its trace read from the path written there, relative to
 * the directory spillway runs in) turned into the step-grid problem of core/optimum.h and
 * solved with GLPK. The carbon is the cost model's, not a simulation's (docs/policies.md). */
#ifndef SW_CLI_SUMMARY_OPTIMUM_H
#define SW_CLI_SUMMARY_OPTIMUM_H

#include "core/error.h"
#include "core/optimum.h"
#include "core/report.h"

/* Solves the optimum of d's scenario within time_limit_s (> 0). On SW_OK *out is filled (free
 * with sw_opt_result_free); on error nothing is to be freed and err says why (a missing trace
 * file, a scenario this build does not read). */
int sw_summary_optimum(const sw_report_data *d, double time_limit_s, sw_opt_result *out,
                       sw_error *err);

#endif
