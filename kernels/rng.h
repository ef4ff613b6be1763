/* rng.h - a small deterministic random number generator (splitmix64) for initialisation and
 * data sampling: the same seed gives the same numbers on every machine and thread count. */
#ifndef SW_RNG_H
#define SW_RNG_H

#include <stdint.h>

typedef struct sw_rng {
    uint64_t state;
} sw_rng;

/* Starts the generator at seed. */
void sw_rng_seed(sw_rng *r, uint64_t seed);

/* Next 64 random bits. */
uint64_t sw_rng_u64(sw_rng *r);

/* Uniform double in [0, 1) with 53 random bits. */
double sw_rng_uniform(sw_rng *r);

/* Standard normal double (Box-Muller, one draw per call). */
double sw_rng_normal(sw_rng *r);

#endif
