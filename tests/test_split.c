/* Seeded splits: disjoint, covering, sized as documented, deterministic per seed. */
#include <stdlib.h>
#include <string.h>

#include "data/split.h"
#include "testlib.h"

#pragma GCC diagnostic ignored "-Wformat-zero-length"

/* 1 when train ∪ val ∪ test is exactly 0..n−1 with no repeats and each list ascending. */
static int partition_ok(const ftn_split *s, int n)
{
    int *seen = calloc((size_t)n, sizeof *seen), ok = s->n_train + s->n_val + s->n_test == n;
    const int *lists[3] = {s->train, s->val, s->test};
    const int counts[3] = {s->n_train, s->n_val, s->n_test};
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < counts[l]; i++) {
            int v = lists[l][i];
            if (v < 0 || v >= n || seen[v]++) ok = 0;
            if (i && lists[l][i - 1] >= v) ok = 0;
        }
    free(seen);
    return ok;
}

static int same(const ftn_split *a, const ftn_split *b)
{
    return a->n_test == b->n_test && a->n_val == b->n_val && a->n_train == b->n_train &&
           !memcmp(a->test, b->test, sizeof(int) * a->n_test) && !memcmp(a->val, b->val, sizeof(int) * a->n_val) &&
           !memcmp(a->train, b->train, sizeof(int) * a->n_train);
}

int main(void)
{
    /* the paper's protocol on BUS B: 163 images, 25 % test, 15 % of the rest validation */
    ftn_split a, b, c;
    CHECK_OK(ftn_split_make(163, 0.25, 0.15, 1, &a));
    CHECK(a.n_test == 41 && a.n_val == 18 && a.n_train == 104, "%d %d %d", a.n_test, a.n_val, a.n_train);
    CHECK(partition_ok(&a, 163));
    CHECK_OK(ftn_split_make(163, 0.25, 0.15, 1, &b));
    CHECK(same(&a, &b), "same seed, same split");
    CHECK_OK(ftn_split_make(163, 0.25, 0.15, 2, &c));
    CHECK(!same(&a, &c), "other seed, other split");
    ftn_split_free(&a);
    ftn_split_free(&b);
    ftn_split_free(&c);
    CHECK(a.train == NULL && a.n_train == 0);

    CHECK_OK(ftn_split_make(160, 0.25, 0.0, 9, &a));
    CHECK(a.n_test == 40 && a.n_val == 0 && a.n_train == 120);
    CHECK(partition_ok(&a, 160));
    ftn_split_free(&a);

    /* repeated random splits: each a partition, all different, reproducible */
    ftn_split r[5];
    for (int i = 0; i < 5; i++) {
        CHECK_OK(ftn_split_repeat(100, 0.25, 0.15, 42, i, &r[i]));
        CHECK(partition_ok(&r[i], 100) && r[i].n_test == 25 && r[i].n_val == 11 && r[i].n_train == 64);
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++) CHECK(!same(&r[i], &r[j]), "repeats %d and %d equal", i, j);
    CHECK_OK(ftn_split_repeat(100, 0.25, 0.15, 42, 3, &a));
    CHECK(same(&a, &r[3]));
    ftn_split_free(&a);
    /* repetition r of seed S is the split of a single run with seed S + r */
    CHECK_OK(ftn_split_make(100, 0.25, 0.15, 45, &a));
    CHECK(same(&a, &r[3]), "repeat 3 of seed 42 is not the split of seed 45");
    ftn_split_free(&a);
    for (int i = 0; i < 5; i++) ftn_split_free(&r[i]);

    /* k folds: test parts partition everything; sizes differ by at most one */
    int n = 23, k = 5, *hits = calloc((size_t)n, sizeof(int));
    for (int f = 0; f < k; f++) {
        CHECK_OK(ftn_split_kfold(n, k, f, 0.1, 7, &a));
        CHECK(partition_ok(&a, n));
        CHECK(a.n_test == 4 || a.n_test == 5, "fold %d has %d", f, a.n_test);
        for (int i = 0; i < a.n_test; i++) hits[a.test[i]]++;
        CHECK_OK(ftn_split_kfold(n, k, f, 0.1, 7, &b));
        CHECK(same(&a, &b));
        ftn_split_free(&a);
        ftn_split_free(&b);
    }
    int all_once = 1;
    for (int i = 0; i < n; i++) all_once &= hits[i] == 1;
    CHECK(all_once, "every sample is tested exactly once across folds");
    free(hits);

    /* shuffles */
    int p1[50], p2[50], p3[50];
    ftn_shuffle_indices(p1, 50, 3);
    ftn_shuffle_indices(p2, 50, 3);
    ftn_shuffle_indices(p3, 50, 4);
    CHECK(!memcmp(p1, p2, sizeof p1) && memcmp(p1, p3, sizeof p1));
    int seen[50] = {0}, perm = 1;
    for (int i = 0; i < 50; i++) perm &= !seen[p1[i]]++;
    CHECK(perm);
    ftn_rng g;
    ftn_rng_seed(&g, 5);
    int counts[3] = {0};
    for (int i = 0; i < 3000; i++) counts[ftn_rng_below(&g, 3)]++;
    CHECK(counts[0] > 900 && counts[1] > 900 && counts[2] > 900);

    /* invalid */
    CHECK(ftn_split_make(0, 0.25, 0.1, 1, &a) == FTN_EINVAL);
    CHECK(ftn_split_make(10, 1.0, 0.1, 1, &a) == FTN_EINVAL);
    CHECK(ftn_split_make(1, 0.5, 0.0, 1, &a) == FTN_EINVAL); /* round(0.5) = 1 test, 0 train */
    CHECK(ftn_split_kfold(10, 1, 0, 0, 1, &a) == FTN_EINVAL);
    CHECK(ftn_split_kfold(10, 5, 5, 0, 1, &a) == FTN_EINVAL);
    return tl_finish();
}
