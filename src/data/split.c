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

/* ---- splits under constraints (groups, strata) ---------------------------------------------- */

enum { PART_TRAIN, PART_VAL, PART_TEST };

typedef struct units {
    int n;          /* units */
    int *of_sample; /* n samples: the sample's unit */
    int *size;      /* per unit: its samples */
    int *stratum;   /* per unit: its lowest-indexed sample's stratum */
    int n_strata;   /* strata are renumbered 0..n_strata−1 in ascending order of their numbers */
} units;

static void units_free(units *u)
{
    free(u->of_sample);
    free(u->size);
    free(u->stratum);
    memset(u, 0, sizeof *u);
}

typedef struct keyed { int key, index; } keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key) return (x->key > y->key) - (x->key < y->key);
    return (x->index > y->index) - (x->index < y->index);
}

/* Samples → units (groups numbered in order of their lowest-indexed sample) and their strata. */
static ftn_status make_units(int n, const ftn_split_groups *g, units *u)
{
    memset(u, 0, sizeof *u);
    keyed *k = malloc(sizeof *k * (size_t)n);
    int *first = malloc(sizeof(int) * (size_t)n);
    u->of_sample = malloc(sizeof(int) * (size_t)n);
    u->size = calloc((size_t)n, sizeof(int));
    u->stratum = malloc(sizeof(int) * (size_t)n);
    ftn_status st = FTN_OK;
    if (!k || !first || !u->of_sample || !u->size || !u->stratum) {
        st = ftn_fail(FTN_ENOMEM, "split: out of memory for %d samples", n);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if ((g->group && g->group[i] < 0) || (g->stratum && g->stratum[i] < 0)) {
            st = ftn_fail(FTN_EINVAL, "split: sample %d has a negative group or stratum number", i);
            goto done;
        }
        k[i] = (keyed){g->group ? g->group[i] : i, i};
    }
    /* group by number; a group's units number is the rank of its lowest-indexed sample */
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    int ng = 0;
    for (int i = 0; i < n; i++) {
        if (i == 0 || k[i].key != k[i - 1].key) first[ng++] = k[i].index;
        u->of_sample[k[i].index] = ng - 1; /* provisional: numbered by group key */
    }
    keyed *order = malloc(sizeof *order * (size_t)(ng ? ng : 1));
    int *renum = malloc(sizeof(int) * (size_t)(ng ? ng : 1));
    if (!order || !renum) {
        free(order), free(renum);
        st = ftn_fail(FTN_ENOMEM, "split: out of memory for %d samples", n);
        goto done;
    }
    for (int j = 0; j < ng; j++) order[j] = (keyed){first[j], j};
    qsort(order, (size_t)ng, sizeof *order, cmp_keyed);
    for (int j = 0; j < ng; j++) renum[order[j].index] = j;
    for (int i = 0; i < n; i++) u->of_sample[i] = renum[u->of_sample[i]];
    for (int j = 0; j < ng; j++) first[renum[j]] = order[renum[j]].key;
    free(order);
    free(renum);
    u->n = ng;
    for (int i = 0; i < n; i++) u->size[u->of_sample[i]]++;
    /* strata renumbered densely in ascending order */
    for (int j = 0; j < ng; j++) k[j] = (keyed){g->stratum ? g->stratum[first[j]] : 0, j};
    qsort(k, (size_t)ng, sizeof *k, cmp_keyed);
    for (int j = 0; j < ng; j++) {
        if (j && k[j].key != k[j - 1].key) u->n_strata++;
        u->stratum[k[j].index] = u->n_strata;
    }
    u->n_strata++;
done:
    free(k);
    free(first);
    if (st != FTN_OK) units_free(u);
    return st;
}

/* The units of stratum s in ascending order, shuffled by r; returns their count. */
static int stratum_units(const units *u, int s, ftn_rng *r, int *out)
{
    int m = 0;
    for (int j = 0; j < u->n; j++)
        if (u->stratum[j] == s) out[m++] = j;
    ftn_shuffle(out, m, r);
    return m;
}

/* Of the stratum's units list[0..m) not yet in test, validation up to round(val_frac·rest). */
static void take_val(const units *u, const int *list, int m, double val_frac, int *part)
{
    int rest = 0, val = 0;
    for (int i = 0; i < m; i++) rest += part[list[i]] != PART_TEST ? u->size[list[i]] : 0;
    int want = round_count(val_frac, rest);
    for (int i = 0; i < m; i++) {
        int j = list[i];
        if (part[j] == PART_TEST) continue;
        if (val < want) {
            part[j] = PART_VAL;
            val += u->size[j];
        } else {
            part[j] = PART_TRAIN;
        }
    }
}

/* The split from each unit's part. */
static ftn_status split_from_parts(int n, const units *u, const int *part, ftn_split *out)
{
    int cnt[3] = {0};
    for (int i = 0; i < n; i++) cnt[part[u->of_sample[i]]]++;
    if (cnt[PART_TRAIN] < 1)
        return ftn_fail(FTN_EINVAL, "split: %d samples in %d groups leave no training data (%d test, %d validation)", n,
                        u->n, cnt[PART_TEST], cnt[PART_VAL]);
    out->n_train = cnt[PART_TRAIN];
    out->n_val = cnt[PART_VAL];
    out->n_test = cnt[PART_TEST];
    out->train = malloc(sizeof(int) * (size_t)cnt[PART_TRAIN]);
    out->val = malloc(sizeof(int) * (size_t)(cnt[PART_VAL] ? cnt[PART_VAL] : 1));
    out->test = malloc(sizeof(int) * (size_t)(cnt[PART_TEST] ? cnt[PART_TEST] : 1));
    if (!out->train || !out->val || !out->test) {
        ftn_split_free(out);
        return ftn_fail(FTN_ENOMEM, "split: out of memory for %d samples", n);
    }
    int a = 0, b = 0, c = 0;
    for (int i = 0; i < n; i++) { /* ascending by construction */
        int p = part[u->of_sample[i]];
        if (p == PART_TRAIN) out->train[a++] = i;
        else if (p == PART_VAL) out->val[b++] = i;
        else out->test[c++] = i;
    }
    return FTN_OK;
}

static int unconstrained(const ftn_split_groups *g) { return !g || (!g->group && !g->stratum); }

/* kfold < 0: a random split with test_frac; otherwise fold `fold` of `kfold`. */
static ftn_status grouped(int n, const ftn_split_groups *g, double test_frac, int kfold, int fold, double val_frac,
                          uint64_t seed, ftn_split *out)
{
    units u;
    FTN_TRY(make_units(n, g, &u));
    ftn_status st = FTN_OK;
    int *part = calloc((size_t)u.n, sizeof(int)), *list = malloc(sizeof(int) * (size_t)u.n);
    int *in_fold = calloc((size_t)(kfold > 0 ? kfold : 1), sizeof(int));
    int *in_fold_s = calloc((size_t)(kfold > 0 ? kfold : 1), sizeof(int));
    if (!part || !list || !in_fold || !in_fold_s) {
        st = ftn_fail(FTN_ENOMEM, "split: out of memory for %d samples", n);
        goto done;
    }
    if (kfold > 0 && kfold > u.n) {
        st = ftn_fail(FTN_EINVAL, "split: %d folds of %d groups (need 2 ≤ k ≤ groups)", kfold, u.n);
        goto done;
    }
    ftn_rng r;
    ftn_rng_seed(&r, seed);
    for (int s = 0; s < u.n_strata; s++) {
        int m = stratum_units(&u, s, &r, list);
        if (kfold > 0) {
            /* each unit to the fold with the fewest of this stratum's samples, then the fewest
             * samples overall, then the lowest */
            memset(in_fold_s, 0, sizeof(int) * (size_t)kfold);
            for (int i = 0; i < m; i++) {
                int best = 0;
                for (int f = 1; f < kfold; f++)
                    if (in_fold_s[f] < in_fold_s[best] || (in_fold_s[f] == in_fold_s[best] && in_fold[f] < in_fold[best]))
                        best = f;
                in_fold_s[best] += u.size[list[i]];
                in_fold[best] += u.size[list[i]];
                part[list[i]] = best == fold ? PART_TEST : PART_TRAIN;
            }
        } else {
            int n_s = 0, test = 0;
            for (int i = 0; i < m; i++) n_s += u.size[list[i]];
            int want = round_count(test_frac, n_s);
            for (int i = 0; i < m; i++)
                if (test < want) {
                    part[list[i]] = PART_TEST;
                    test += u.size[list[i]];
                }
        }
        take_val(&u, list, m, val_frac, part);
    }
    st = split_from_parts(n, &u, part, out);
done:
    free(part), free(list), free(in_fold), free(in_fold_s);
    units_free(&u);
    return st;
}

ftn_status ftn_split_make_grouped(int n, const ftn_split_groups *g, double test_frac, double val_frac, uint64_t seed,
                                  ftn_split *out)
{
    if (unconstrained(g)) return ftn_split_make(n, test_frac, val_frac, seed, out);
    FTN_TRY(check(n, test_frac, val_frac, out));
    return grouped(n, g, test_frac, -1, 0, val_frac, seed, out);
}

ftn_status ftn_split_repeat_grouped(int n, const ftn_split_groups *g, double test_frac, double val_frac, uint64_t seed,
                                    int r, ftn_split *out)
{
    if (r < 0) return ftn_fail(FTN_EINVAL, "split: repetition %d is negative", r);
    return ftn_split_make_grouped(n, g, test_frac, val_frac, seed + (uint64_t)r, out);
}

ftn_status ftn_split_kfold_grouped(int n, const ftn_split_groups *g, int k, int fold, double val_frac, uint64_t seed,
                                   ftn_split *out)
{
    if (unconstrained(g)) return ftn_split_kfold(n, k, fold, val_frac, seed, out);
    FTN_TRY(check(n, 0, val_frac, out));
    if (k < 2) return ftn_fail(FTN_EINVAL, "split: %d folds (need at least 2)", k);
    if (fold < 0 || fold >= k) return ftn_fail(FTN_EINVAL, "split: fold %d out of range (k = %d)", fold, k);
    return grouped(n, g, 0, k, fold, val_frac, seed, out);
}
