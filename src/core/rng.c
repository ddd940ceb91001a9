#include "core/rng.h"

#include <math.h>

void ftn_rng_seed(ftn_rng *r, uint64_t seed)
{
    r->state = seed;
    r->has_spare = 0;
}

uint64_t ftn_rng_next(ftn_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double ftn_rng_uniform(ftn_rng *r) { return (ftn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

double ftn_rng_normal(ftn_rng *r)
{
    if (r->has_spare) { r->has_spare = 0; return r->spare; }
    double u1, u2 = ftn_rng_uniform(r);
    do u1 = ftn_rng_uniform(r); while (u1 <= 0);
    double mag = sqrt(-2.0 * log(u1));
    r->spare = mag * sin(2 * 3.14159265358979323846 * u2);
    r->has_spare = 1;
    return mag * cos(2 * 3.14159265358979323846 * u2);
}

double ftn_rng_truncated_normal(ftn_rng *r, double std)
{
    double z;
    do z = ftn_rng_normal(r); while (fabs(z) > 2.0);
    return z * std;
}
