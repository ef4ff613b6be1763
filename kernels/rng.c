/* rng.c - splitmix64 (Steele, Lea, Flood 2014): a 64-bit counter passed through a mixing
 * function; tiny state, passes BigCrush, and trivially reproducible. */
#include "kernels/rng.h"

#include <math.h>

void sw_rng_seed(sw_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t sw_rng_u64(sw_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double sw_rng_uniform(sw_rng *r)
{
    return (double)(sw_rng_u64(r) >> 11) * 0x1.0p-53;
}

double sw_rng_normal(sw_rng *r)
{
    /* 1 - u keeps the logarithm's argument in (0, 1]. */
    double u1 = 1.0 - sw_rng_uniform(r), u2 = sw_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
