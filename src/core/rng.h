/* A small deterministic generator (splitmix64): the same seed gives the same numbers everywhere. */
#ifndef FTN_CORE_RNG_H
#define FTN_CORE_RNG_H
#include <stdint.h>

typedef struct ftn_rng { uint64_t state; double spare; int has_spare; } ftn_rng;

void ftn_rng_seed(ftn_rng *r, uint64_t seed);
uint64_t ftn_rng_next(ftn_rng *r);
double ftn_rng_uniform(ftn_rng *r);          /* [0, 1) */
double ftn_rng_normal(ftn_rng *r);           /* standard normal (Box–Muller) */
/* Normal with the given std, redrawn outside ±2 std (TensorFlow's truncated_normal). */
double ftn_rng_truncated_normal(ftn_rng *r, double std);
#endif
