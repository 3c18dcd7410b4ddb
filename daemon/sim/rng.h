/* rng.h - vane_rng_t: the synthetic bank's own deterministic PRNG (xoshiro256**).
 *
 * Seeded through splitmix64, so any 64-bit seed (0 included) gives a good state. The same
 * seed always gives the same sequence on every platform: only integer arithmetic is used for
 * the raw stream; the double helpers use exact conversions (53-bit mantissa), and the
 * exponential draw uses log(), which is deterministic for one libm. Not for cryptography.
 * A vane_rng_t is a plain value (32 bytes): copy it, embed it, no allocation.
 */
#ifndef VANE_RNG_H
#define VANE_RNG_H

#include <stdint.h>

typedef struct vane_rng {
    uint64_t s[4]; /* xoshiro256** state; never all zero after vane_rng_seed */
} vane_rng_t;

/* One splitmix64 step: advances *x and returns a well-mixed 64-bit value. Also used to
 * derive independent per-customer seeds from (seed, index). */
uint64_t vane_rng_splitmix(uint64_t *x);
/* Seed the generator from any 64-bit value. */
void vane_rng_seed(vane_rng_t *r, uint64_t seed);
/* Next raw 64-bit value. */
uint64_t vane_rng_next(vane_rng_t *r);
/* Uniform double in [0, 1). */
double vane_rng_unit(vane_rng_t *r);
/* Uniform integer in [lo, hi] (inclusive; hi >= lo). Unbiased (rejection sampling). */
int64_t vane_rng_range(vane_rng_t *r, int64_t lo, int64_t hi);
/* true with probability p (p <= 0: never, p >= 1: always). */
int vane_rng_chance(vane_rng_t *r, double p);
/* Exponential variate with the given mean (> 0): gaps of a Poisson process. */
double vane_rng_exp(vane_rng_t *r, double mean);
/* Approximately normal(0, 1): Irwin-Hall sum of 12 uniforms minus 6 (bounded to +-6, which is
 * what a simulator wants: no absurd tails). */
double vane_rng_normal(vane_rng_t *r);

#endif
