/* bpe_train.h - learning a byte-level BPE vocabulary from text.
 *
 * The corpus is split into chunks by the pre-tokenisation pattern and the distinct chunks are
 * counted. Starting from the 256 single bytes (token id = byte value), each step merges the
 * adjacent pair of tokens that occurs most often over the corpus (chunk counts as weights) into
 * a new token with the next id, until the vocabulary has the requested size or no pair is left.
 * Ties between equally frequent pairs are broken by a hash of the pair and the seed, so a seed
 * fixes the result: same corpus (texts added in any order), size, pattern and seed, same
 * vocabulary, byte for byte. A pair
 * whose concatenation is already a token is merged into that token without taking a new id; a
 * pair whose concatenation would exceed SW_BPE_MAX_TOKEN_BYTES is never merged.
 *
 * Cost: pair counts are kept up to date incrementally (each merge revisits only the chunks that
 * contain the pair) with a lazy max-heap, so a step costs about the size of the chunks it
 * touches, not of the corpus.
 */
#ifndef SW_BPE_TRAIN_H
#define SW_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/bpe.h"

typedef struct sw_bpe_trainer sw_bpe_trainer;

/* A trainer counting chunks with pattern (NULL: GPT-4's). Free with sw_bpe_trainer_destroy. */
int sw_bpe_trainer_create(const char *pattern, sw_bpe_trainer **out, sw_kerror *err);
void sw_bpe_trainer_destroy(sw_bpe_trainer *tr);

/* Adds text[0..n) to the corpus (its chunks are counted; the text is not kept). */
int sw_bpe_trainer_add(sw_bpe_trainer *tr, const uint8_t *text, size_t n, sw_kerror *err);

/* Learns a vocabulary of up to vocab_size tokens (>= 256) from what was added; *out owned by
 * the caller. Fewer tokens when the corpus runs out of pairs (sw_bpe_vocab_size tells). */
int sw_bpe_trainer_train(sw_bpe_trainer *tr, uint32_t vocab_size, uint64_t seed, sw_bpe **out,
                         sw_kerror *err);

/* Distinct chunks and total chunks added so far. */
size_t sw_bpe_trainer_distinct_chunks(const sw_bpe_trainer *tr);
uint64_t sw_bpe_trainer_chunks(const sw_bpe_trainer *tr);

#endif
