#include "data/split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

uint64_t ftn_rng_below(ftn_rng *r, uint64_t n)
{
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the incomplete last block */
    uint64_t x;
    do x = ftn_rng_next(r);
    while (x >= limit);
    return x % n;
}

void ftn_shuffle(int *idx, int n, ftn_rng *r)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ftn_rng_below(r, (uint64_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void ftn_shuffle_indices(int *idx, int n, uint64_t seed)
{
    for (int i = 0; i < n; i++) idx[i] = i;
    ftn_rng r;
    ftn_rng_seed(&r, seed);
    ftn_shuffle(idx, n, &r);
}

void ftn_split_free(ftn_split *s)
{
    if (!s) return;
    free(s->train);
    free(s->val);
    free(s->test);
    memset(s, 0, sizeof *s);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int round_count(double frac, int n) { return (int)floor(frac * n + 0.5); }

/* perm holds a shuffled 0..n−1; positions [t0, t1) are test, the rest splits into val/train. */
static ftn_status finish(const int *perm, int n, int t0, int t1, double val_frac, ftn_split *out)
{
    int n_test = t1 - t0, m = n - n_test;
    int n_val = round_count(val_frac, m);
    if (m - n_val < 1)
        return ftn_fail(FTN_EINVAL, "split: %d samples leave no training data (%d test, %d validation)", n, n_test, n_val);
    out->n_test = n_test;
    out->n_val = n_val;
    out->n_train = m - n_val;
    out->test = malloc(sizeof(int) * (size_t)(n_test ? n_test : 1));
    out->val = malloc(sizeof(int) * (size_t)(n_val ? n_val : 1));
    out->train = malloc(sizeof(int) * (size_t)out->n_train);
    if (!out->test || !out->val || !out->train) {
        ftn_split_free(out);
        return ftn_fail(FTN_ENOMEM, "split: out of memory for %d samples", n);
    }
    int a = 0, b = 0;
    for (int i = 0; i < n; i++) {
        if (i >= t0 && i < t1) out->test[i - t0] = perm[i];
        else if (a < n_val) out->val[a++] = perm[i];
        else out->train[b++] = perm[i];
    }
    qsort(out->test, (size_t)n_test, sizeof(int), cmp_int);
    qsort(out->val, (size_t)n_val, sizeof(int), cmp_int);
    qsort(out->train, (size_t)out->n_train, sizeof(int), cmp_int);
    return FTN_OK;
}

static ftn_status check(int n, double test_frac, double val_frac, ftn_split *out)
{
    if (!out) return ftn_fail(FTN_EINVAL, "split: no output");
    memset(out, 0, sizeof *out);
    if (n < 1) return ftn_fail(FTN_EINVAL, "split: need at least one sample, got %d", n);
    if (!(test_frac >= 0 && test_frac < 1) || !(val_frac >= 0 && val_frac < 1))
        return ftn_fail(FTN_EINVAL, "split: fractions must be in [0, 1) (test %g, validation %g)", test_frac, val_frac);
    return FTN_OK;
}

ftn_status ftn_split_make(int n, double test_frac, double val_frac, uint64_t seed, ftn_split *out)
{
    FTN_TRY(check(n, test_frac, val_frac, out));
    int *perm = malloc(sizeof(int) * (size_t)n);
    if (!perm) return ftn_fail(FTN_ENOMEM, "split: out of memory for %d samples", n);
    ftn_shuffle_indices(perm, n, seed);
    ftn_status st = finish(perm, n, 0, round_count(test_frac, n), val_frac, out);
    free(perm);
    return st;
}

ftn_status ftn_split_repeat(int n, double test_frac, double val_frac, uint64_t seed, int r, ftn_split *out)
{
    if (r < 0) return ftn_fail(FTN_EINVAL, "split: repetition %d is negative", r);
    return ftn_split_make(n, test_frac, val_frac, seed + (uint64_t)r, out);
}

ftn_status ftn_split_kfold(int n, int k, int fold, double val_frac, uint64_t seed, ftn_split *out)
{
    FTN_TRY(check(n, 0, val_frac, out));
    if (k < 2 || k > n) return ftn_fail(FTN_EINVAL, "split: %d folds of %d samples (need 2 ≤ k ≤ n)", k, n);
    if (fold < 0 || fold >= k) return ftn_fail(FTN_EINVAL, "split: fold %d out of range (k = %d)", fold, k);
    int *perm = malloc(sizeof(int) * (size_t)n);
    if (!perm) return ftn_fail(FTN_ENOMEM, "split: out of memory for %d samples", n);
    ftn_shuffle_indices(perm, n, seed);
    int t0 = (int)((int64_t)fold * n / k), t1 = (int)((int64_t)(fold + 1) * n / k);
    ftn_status st = finish(perm, n, t0, t1, val_frac, out);
    free(perm);
    return st;
}
