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

/* Which part sample i is in: 0 train, 1 val, 2 test. */
static void parts_of(const ftn_split *s, int *part)
{
    for (int i = 0; i < s->n_train; i++) part[s->train[i]] = 0;
    for (int i = 0; i < s->n_val; i++) part[s->val[i]] = 1;
    for (int i = 0; i < s->n_test; i++) part[s->test[i]] = 2;
}

/* 1 when every group's samples are in one part. */
static int groups_intact(const ftn_split *s, const int *group, int n)
{
    int part[256], ok = 1;
    parts_of(s, part);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) ok &= group[i] != group[j] || part[i] == part[j];
    return ok;
}

/* 60 samples of 14 patients, 1 to 8 images each, numbered out of order */
static void test_groups(void)
{
    int n = 60, group[60];
    for (int i = 0; i < n; i++) group[i] = (i * 7 + i / 5) % 14 * 3 + 100;
    ftn_split_groups g = {group, NULL};
    ftn_split a, b, c;
    int differs = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        CHECK_OK(ftn_split_make_grouped(n, &g, 0.25, 0.15, seed, &a));
        CHECK(partition_ok(&a, n), "seed %d", (int)seed);
        CHECK(groups_intact(&a, group, n), "seed %d: a patient straddles the split", (int)seed);
        CHECK(a.n_test >= 15 && a.n_test < 15 + 8, "seed %d: %d test", (int)seed, a.n_test);
        CHECK_OK(ftn_split_make_grouped(n, &g, 0.25, 0.15, seed, &b));
        CHECK(same(&a, &b), "deterministic");
        CHECK_OK(ftn_split_repeat_grouped(n, &g, 0.25, 0.15, seed - 1, 1, &c));
        CHECK(same(&a, &c), "repetition r of seed S is seed S + r");
        ftn_split_free(&c);
        CHECK_OK(ftn_split_make(n, 0.25, 0.15, seed, &c));
        differs += !same(&a, &c);
        ftn_split_free(&a), ftn_split_free(&b), ftn_split_free(&c);
    }
    CHECK(differs > 0, "groups never changed the split");
    /* folds: each sample tested once, groups intact */
    int hits[60] = {0};
    for (int f = 0; f < 4; f++) {
        CHECK_OK(ftn_split_kfold_grouped(n, &g, 4, f, 0.1, 3, &a));
        CHECK(partition_ok(&a, n) && groups_intact(&a, group, n), "fold %d", f);
        CHECK(a.n_test >= 15 - 8 && a.n_test <= 15 + 8, "fold %d: %d test", f, a.n_test);
        for (int i = 0; i < a.n_test; i++) hits[a.test[i]]++;
        ftn_split_free(&a);
    }
    int once = 1;
    for (int i = 0; i < n; i++) once &= hits[i] == 1;
    CHECK(once, "every sample tested once across grouped folds");
    CHECK(ftn_split_kfold_grouped(n, &g, 15, 0, 0.1, 3, &a) == FTN_EINVAL, "more folds than groups");
    /* one group holding everything leaves no training data */
    int one[10] = {0};
    ftn_split_groups g1 = {one, NULL};
    CHECK(ftn_split_make_grouped(10, &g1, 0.25, 0.0, 1, &a) == FTN_EINVAL);
    int neg[3] = {0, -1, 2};
    ftn_split_groups gn = {neg, NULL};
    CHECK(ftn_split_make_grouped(3, &gn, 0.25, 0.0, 1, &a) == FTN_EINVAL);
}

/* classes of 60, 30 and 10 images: each part holds each class in proportion */
static void test_strata(void)
{
    int n = 100, stratum[100], part[100];
    for (int i = 0; i < n; i++) stratum[i] = i % 10 == 0 ? 9 : i % 3 == 0 ? 4 : 1; /* numbers need not be dense */
    int size[10] = {0};
    for (int i = 0; i < n; i++) size[stratum[i]]++;
    ftn_split_groups g = {NULL, stratum};
    ftn_split a;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        CHECK_OK(ftn_split_make_grouped(n, &g, 0.25, 0.15, seed, &a));
        CHECK(partition_ok(&a, n));
        parts_of(&a, part);
        for (int s = 0; s < 10; s++) {
            if (!size[s]) continue;
            int test = 0, val = 0;
            for (int i = 0; i < n; i++) test += stratum[i] == s && part[i] == 2, val += stratum[i] == s && part[i] == 1;
            int want_t = (int)(0.25 * size[s] + 0.5), want_v = (int)(0.15 * (size[s] - want_t) + 0.5);
            CHECK(test == want_t && val == want_v, "seed %d stratum %d (%d images): %d test %d val, want %d %d", (int)seed,
                  s, size[s], test, val, want_t, want_v);
        }
        ftn_split_free(&a);
    }
    /* stratified folds: per class, fold sizes differ by at most one */
    int per[5][10] = {{0}};
    for (int f = 0; f < 5; f++) {
        CHECK_OK(ftn_split_kfold_grouped(n, &g, 5, f, 0.0, 2, &a));
        CHECK(partition_ok(&a, n));
        for (int i = 0; i < a.n_test; i++) per[f][stratum[a.test[i]]]++;
        ftn_split_free(&a);
    }
    for (int s = 0; s < 10; s++) {
        int lo = 1 << 30, hi = 0;
        for (int f = 0; f < 5; f++) lo = per[f][s] < lo ? per[f][s] : lo, hi = per[f][s] > hi ? per[f][s] : hi;
        CHECK(!size[s] || hi - lo <= 1, "stratum %d: fold sizes %d..%d", s, lo, hi);
    }
    /* groups and strata together */
    int group[100];
    for (int i = 0; i < n; i++) group[i] = i / 4;
    for (int i = 0; i < n; i++) stratum[i] = group[i] % 3;
    ftn_split_groups gs = {group, stratum};
    CHECK_OK(ftn_split_make_grouped(n, &gs, 0.25, 0.15, 5, &a));
    CHECK(partition_ok(&a, n) && groups_intact(&a, group, n));
    ftn_split_free(&a);
}

/* ids to groups by a regular expression, labels to strata */
static void test_dataset_groups(void)
{
    ftn_sample s[6] = {{0}};
    const char *ids[6] = {"P01_a", "P02_a", "P01_b", "P10_x", "P02_c", "P03"};
    const char *labels[6] = {"benign", "malignant", "benign", NULL, "malignant", "normal"};
    for (int i = 0; i < 6; i++) s[i].id = (char *)ids[i], s[i].label = (char *)labels[i];
    ftn_dataset ds = {0};
    ds.path = "look-alike";
    ds.samples = s;
    ds.count = 6;
    int *group, *stratum;
    CHECK_OK(ftn_dataset_split_groups(&ds, "^(P[0-9]+)(_|$)", 1, &group, &stratum));
    CHECK(group[0] == group[2] && group[1] == group[4] && group[0] != group[1] && group[3] != group[0] &&
          group[5] != group[0] && group[5] != group[3], "%d %d %d %d %d %d", group[0], group[1], group[2], group[3],
          group[4], group[5]);
    CHECK(stratum[0] == stratum[2] && stratum[1] == stratum[4] && stratum[0] != stratum[1] && stratum[3] != stratum[0] &&
          stratum[5] != stratum[1] && stratum[3] != stratum[5]);
    free(group);
    free(stratum);
    /* no subexpression: the whole match is the key */
    CHECK_OK(ftn_dataset_split_groups(&ds, "^P[0-9]+", 0, &group, &stratum));
    CHECK(stratum == NULL && group[0] == group[2] && group[0] != group[3]);
    free(group);
    CHECK_OK(ftn_dataset_split_groups(&ds, "", 0, &group, &stratum));
    CHECK(group == NULL && stratum == NULL);
    CHECK(ftn_dataset_split_groups(&ds, "^Q", 0, &group, &stratum) == FTN_EINVAL);
    CHECK(strstr(ftn_last_error(), "'P01_a'") != NULL, "%s", ftn_last_error());
    CHECK(ftn_dataset_split_groups(&ds, "([", 0, &group, &stratum) == FTN_EINVAL);
    for (int i = 0; i < 6; i++) s[i].label = NULL;
    CHECK(ftn_dataset_split_groups(&ds, NULL, 1, &group, &stratum) == FTN_EINVAL);
    CHECK(strstr(ftn_last_error(), "no classes") != NULL, "%s", ftn_last_error());
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

    /* constraints absent: exactly the plain splits */
    ftn_split_groups none = {NULL, NULL};
    CHECK_OK(ftn_split_make(163, 0.25, 0.15, 1, &a));
    CHECK_OK(ftn_split_make_grouped(163, &none, 0.25, 0.15, 1, &b));
    CHECK(same(&a, &b), "no constraints must give the plain split");
    ftn_split_free(&a);
    ftn_split_free(&b);
    CHECK_OK(ftn_split_kfold(23, 5, 2, 0.1, 7, &a));
    CHECK_OK(ftn_split_kfold_grouped(23, NULL, 5, 2, 0.1, 7, &b));
    CHECK(same(&a, &b));
    ftn_split_free(&a);
    ftn_split_free(&b);

    test_groups();
    test_strata();
    test_dataset_groups();

    /* invalid */
    CHECK(ftn_split_make(0, 0.25, 0.1, 1, &a) == FTN_EINVAL);
    CHECK(ftn_split_make(10, 1.0, 0.1, 1, &a) == FTN_EINVAL);
    CHECK(ftn_split_make(1, 0.5, 0.0, 1, &a) == FTN_EINVAL); /* round(0.5) = 1 test, 0 train */
    CHECK(ftn_split_kfold(10, 1, 0, 0, 1, &a) == FTN_EINVAL);
    CHECK(ftn_split_kfold(10, 5, 5, 0, 1, &a) == FTN_EINVAL);
    return tl_finish();
}
