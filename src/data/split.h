/* Deterministic, seeded shuffles behind the splits of ftunet_protocol.h (section "splits").
 *
 * The generator is core/rng.h's splitmix64 (no rand()), so a seed gives the same shuffle on every
 * platform. */
#ifndef FTN_DATA_SPLIT_H
#define FTN_DATA_SPLIT_H
#include <stdint.h>

#include "core/rng.h"
#include "ftunet_protocol.h"

/* Uniform in [0, n), unbiased (rejection sampling); n > 0. Uses the generator of core/rng.h. */
uint64_t ftn_rng_below(ftn_rng *r, uint64_t n);

/* idx[i] = i, then a Fisher–Yates shuffle from the seed. */
void ftn_shuffle_indices(int *idx, int n, uint64_t seed);
/* Shuffles an existing index array in place. */
void ftn_shuffle(int *idx, int n, ftn_rng *r);

#endif
