/* rng.c - xoshiro256** seeded by splitmix64 (Blackman and Vigna's public-domain designs,
 * written here from their published description). */
#include "rng.h"

#include <math.h>

uint64_t vane_rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void vane_rng_seed(vane_rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = vane_rng_splitmix(&x);
    /* splitmix64 never yields four zeros in a row, but keep the invariant explicit. */
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t vane_rng_next(vane_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double vane_rng_unit(vane_rng_t *r)
{
    return (double)(vane_rng_next(r) >> 11) * 0x1.0p-53;
}

int64_t vane_rng_range(vane_rng_t *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
    if (span == 0) /* the full 64-bit range */
        return (int64_t)vane_rng_next(r);
    /* Reject the top partial bucket so every value is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t x;
    do {
        x = vane_rng_next(r);
    } while (x >= limit);
    return (int64_t)((uint64_t)lo + x % span);
}

int vane_rng_chance(vane_rng_t *r, double p)
{
    return vane_rng_unit(r) < p;
}

double vane_rng_exp(vane_rng_t *r, double mean)
{
    /* 1 - u is in (0, 1], so log never sees 0. */
    return -log(1.0 - vane_rng_unit(r)) * mean;
}

double vane_rng_normal(vane_rng_t *r)
{
    double sum = 0.0;
    for (int i = 0; i < 12; i++)
        sum += vane_rng_unit(r);
    return sum - 6.0;
}
