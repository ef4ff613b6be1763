/* losslog.h - loss logs: the CSV series of training loss that calibrate the convergence model.
 *
 * A loss log is what a training run printed: one row per logged optimizer step of one site.
 * Accepted layouts (comma separated, a header row naming the columns, any column order,
 * '#' comment lines and blank lines ignored, CRLF accepted):
 *   time,step,loss[,perplexity]     the reference study's logs (reference/ folder): `step` is a
 *                                   logging counter, not necessarily the optimizer step
 *   time,tokens,loss[,perplexity]   tokens trained so far by the logging site
 * Units: time in seconds since the run started, loss in nats per token. The perplexity column
 * is accepted and ignored (it is exp(loss)).
 *
 * Errors (SW_EINPUT) name file, line and column: empty file or no data rows, unknown or
 * missing column, wrong number of cells, non-numeric or non-finite cell, negative time or
 * loss, time (or tokens) decreasing from one row to the next.
 */
#ifndef SW_LOSSLOG_H
#define SW_LOSSLOG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct sw_losslog {
    size_t n;        /* number of rows */
    double *time_s;  /* seconds since the run started, non-decreasing */
    double *counter; /* the `step` column, or NULL when the file has no such column */
    double *tokens;  /* the `tokens` column (non-decreasing), or NULL when absent */
    double *loss;    /* nats per token */
    bool has_tokens; /* true: tokens != NULL */
} sw_losslog;

/* Reads and validates a loss-log CSV file. On success *out owns its arrays (release with
 * sw_losslog_free). On failure *out is left empty. */
int sw_losslog_read(const char *path, sw_losslog *out, sw_error *err);

/* Same as sw_losslog_read on in-memory text of len bytes; `name` is used in error messages. */
int sw_losslog_parse(const char *text, size_t len, const char *name, sw_losslog *out,
                     sw_error *err);

/* Releases the arrays of a log filled by sw_losslog_read/parse and empties it (NULL is fine). */
void sw_losslog_free(sw_losslog *log);

#endif
