/* Deterministic, seeded shuffles and train/validation/test splits.
 *
 * The generator is core/rng.h's splitmix64 (no rand()), so a seed gives the same split on every platform.
 * Every split is a partition of 0..n−1: train, val and test are disjoint and cover everything;
 * each list is sorted ascending. */
#ifndef FTN_DATA_SPLIT_H
#define FTN_DATA_SPLIT_H
#include <stdint.h>

#include "core/rng.h"
#include "ftunet.h"

/* Uniform in [0, n), unbiased (rejection sampling); n > 0. Uses the generator of core/rng.h. */
uint64_t ftn_rng_below(ftn_rng *r, uint64_t n);

/* idx[i] = i, then a Fisher–Yates shuffle from the seed. */
void ftn_shuffle_indices(int *idx, int n, uint64_t seed);
/* Shuffles an existing index array in place. */
void ftn_shuffle(int *idx, int n, ftn_rng *r);

typedef struct ftn_split {
    int *train, *val, *test;
    int n_train, n_val, n_test;
} ftn_split;

/* Shuffle, then round(test_frac·n) samples are test and, of the rest (m), round(val_frac·m)
 * are validation; the remainder trains. Fractions in [0, 1); at least one training sample must
 * remain. The paper: test_frac 0.25, val_frac 0.15. */
ftn_status ftn_split_make(int n, double test_frac, double val_frac, uint64_t seed, ftn_split *out);

/* Repetition r (0-based) of repeated random splits: ftn_split_make with seed + r, so that
 * repetition r of `cv`/`ablation --seed S` is the split of `train --seed S+r` and a single run
 * can be repeated, or reused, outside the cross-validation. */
ftn_status ftn_split_repeat(int n, double test_frac, double val_frac, uint64_t seed, int r, ftn_split *out);

/* Fold `fold` of k: one shuffle per seed; the test part is positions [fold·n/k, (fold+1)·n/k) of
 * the shuffled order (so the k test parts partition 0..n−1); then round(val_frac·m) of the
 * rest are validation. */
ftn_status ftn_split_kfold(int n, int k, int fold, double val_frac, uint64_t seed, ftn_split *out);

void ftn_split_free(ftn_split *s);

#endif
