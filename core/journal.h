/* journal.h - a run's record of what it wrote to the report and the ledger (core/run.h writes
 * every row through it; with keep = false, as in sim, rows pass straight through).
 *
 * The report is an HDF5 file written under a temporary name until the run ends, and the
 * ledger has no serialized form; so the coordinator writes both through this journal, which
 * keeps every row in a flat byte buffer. The buffer goes into the coordinator's checkpoint;
 * a restarted coordinator replays it into a fresh report and ledger and carries on, losing at
 * most what happened after the checkpoint. Same binary only (rows are stored as structs).
 */
#ifndef SW_JOURNAL_H
#define SW_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/ledger.h"
#include "core/report.h"

typedef struct sw_journal {
    sw_report *rep;    /* borrowed */
    sw_ledger *ledger; /* borrowed */
    bool keep;         /* keep the rows (for checkpoints); false: only write them */
    uint8_t *buf;      /* owned */
    size_t len, cap;
    int status; /* first failure (SW_OK if none) */
    sw_error err;
} sw_journal;

/* Each call appends the row to the journal and writes it to the report or ledger. */
void sw_journal_state(sw_journal *j, int site, double t_s, sw_report_state st);
void sw_journal_power(sw_journal *j, int site, double t_s, double power_w);
void sw_journal_train(sw_journal *j, int site, const sw_report_train_row *row);
void sw_journal_round(sw_journal *j, const sw_report_round_row *row);
void sw_journal_event(sw_journal *j, const sw_report_event_row *row);
void sw_journal_global(sw_journal *j, const sw_report_global_row *row);
void sw_journal_energy(sw_journal *j, size_t site, sw_ledger_state st, double t0_s, double t1_s,
                       double power_w);

/* Replays a journal buffer (from a checkpoint) into j's report and ledger, appending it to
 * j's own buffer. SW_EINPUT if the buffer is truncated or holds an unknown record. */
int sw_journal_replay(sw_journal *j, const void *buf, size_t len, sw_error *err);

void sw_journal_free(sw_journal *j);

#endif
