/* checkpoint.h - save and load a training run: parameters, AdamW moments, step and data
 * position, in the format of docs/formats/checkpoint.md (magic, version, model shape,
 * payload, CRC-32 of everything before it).
 *
 * Saving writes PATH.tmp and renames it over PATH, so a crash leaves the previous checkpoint
 * intact. Loading checks the size, magic, version, checksum and the model's shape before it
 * touches the model, so a bad file leaves the model and optimizer unchanged and returns
 * SW_K_EINPUT with a message naming the file and what is wrong.
 */
#ifndef SW_CHECKPOINT_H
#define SW_CHECKPOINT_H

#include <stdint.h>

#include "kernels/kerror.h"
#include "kernels/model.h"
#include "kernels/optim.h"

#define SW_CHECKPOINT_VERSION 1u

/* Where a run is, besides its tensors. */
typedef struct sw_train_state {
    int64_t step;         /* optimizer steps completed */
    uint64_t data_pos;    /* next position of the training loader */
    uint64_t tokens_seen; /* training tokens consumed so far */
} sw_train_state;

/* Writes the model's parameters, the optimizer's moments (opt may be NULL: weights only) and
 * st to path (atomically, via path.tmp). SW_K_ERUNTIME when writing fails. */
int sw_checkpoint_save(const char *path, sw_model *m, const sw_adamw *opt, const sw_train_state *st,
                       sw_kerror *err);

/* Reads path into m (whose configuration must match the file's), opt (may be NULL; if given,
 * the file must hold optimizer state) and st (may be NULL). SW_K_EINPUT for a missing,
 * truncated, corrupt, foreign-version or mismatched file. */
int sw_checkpoint_load(const char *path, sw_model *m, sw_adamw *opt, sw_train_state *st,
                       sw_kerror *err);

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) of n bytes, continuing from crc
 * (start with 0). */
uint32_t sw_crc32(uint32_t crc, const void *data, size_t n);

#endif
