#define _XOPEN_SOURCE 700 /* nftw */
#include "testlib.h"

#include "ftunet.h"

#include <ftw.h>
#include <stdio.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tl_passed, tl_failed;

int tl_finish(void)
{
    printf("%d passed, %d failed\n", tl_passed, tl_failed);
    return tl_failed ? 1 : 0;
}

uint64_t tl_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float tl_uniform(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((tl_next(s) >> 40) * (1.0 / 16777216.0));
}

void tl_disc_images(float *x, float *m, int n, int size)
{
    for (int i = 0; i < n; i++) {
        uint64_t st = 1000 + (uint64_t)i;
        float cy = tl_uniform(&st, 0.3f, 0.7f) * size, cx = tl_uniform(&st, 0.3f, 0.7f) * size;
        float r = tl_uniform(&st, 0.12f, 0.25f) * size;
        for (int y = 0; y < size; y++)
            for (int xx = 0; xx < size; xx++) {
                int in = (y - cy) * (y - cy) + (xx - cx) * (xx - cx) < r * r;
                size_t k = ((size_t)i * size + y) * size + xx;
                m[k] = (float)in;
                x[k] = 0.35f * tl_uniform(&st, 0, 1) + (in ? 0.5f : 0.1f);
            }
    }
}

void tl_fill_uniform(float *x, size_t count, uint64_t *s, float lo, float hi)
{
    for (size_t i = 0; i < count; i++) x[i] = tl_uniform(s, lo, hi);
}

static void mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(buf, 0755); *p = '/'; }
    mkdir(buf, 0755);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) != 0 && errno != ENOENT;
}

const char *tl_tmpdir(const char *name)
{
    static char buf[1024];
    const char *root = getenv("FTUNET_TEST_TMP");
    snprintf(buf, sizeof buf, "%s/%s", root && *root ? root : "/tmp/ftunet-test", name);
    /* empty: a test must not see what an earlier run (or another build's run) left there */
    nftw(buf, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    mkdirs(buf);
    return buf;
}

const char *tl_path(const char *dir, const char *file)
{
    static char ring[8][1024];
    static int next;
    char *b = ring[next++ % 8];
    snprintf(b, 1024, "%s/%s", dir, file);
    return b;
}

double tl_rel_max_diff(const float *a, const float *b, size_t count)
{
    double maxd = 0, maxb = 0;
    for (size_t i = 0; i < count; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > maxd || isnan(d)) maxd = isnan(d) ? INFINITY : d;
        if (fabs(b[i]) > maxb) maxb = fabs(b[i]);
    }
    return maxd / (maxb + 1e-12);
}

void tl_disc_batch(float *x, float *m, int n, uint64_t seed)
{
    enum { S = 32 };
    uint64_t st = seed;
    for (int i = 0; i < n; i++) {
        float cy = tl_uniform(&st, 10, 22), cx = tl_uniform(&st, 10, 22), r = tl_uniform(&st, 4, 8);
        for (int y = 0; y < S; y++)
            for (int xx = 0; xx < S; xx++) {
                int in = (y - cy) * (y - cy) + (xx - cx) * (xx - cx) < r * r;
                m[(i * S + y) * S + xx] = (float)in;
                x[(i * S + y) * S + xx] = 0.35f * tl_uniform(&st, 0, 1) + (in ? 0.5f : 0.1f);
            }
    }
}

int tl_same_weights(const char *a, const char *b, int quiet)
{
    ftn_model *ma = NULL, *mb = NULL;
    int same = 0;
    if (ftn_model_load(a, &ma) == FTN_OK && ftn_model_load(b, &mb) == FTN_OK &&
        ftn_model_tensor_count(ma) == ftn_model_tensor_count(mb)) {
        same = 1;
        for (int i = 0; i < ftn_model_tensor_count(ma) && same; i++) {
            int da[4], db[4], na, nb;
            float *ta = ftn_model_tensor(ma, i, da, &na), *tb = ftn_model_tensor(mb, i, db, &nb);
            size_t cnt = 1;
            for (int d = 0; d < na; d++) cnt *= (size_t)da[d];
            if (na != nb || memcmp(da, db, sizeof(int) * (size_t)na) || memcmp(ta, tb, cnt * sizeof(float))) {
                if (!quiet) fprintf(stderr, "tensor %s differs\n", ftn_model_tensor_name(ma, i));
                same = 0;
            }
        }
    }
    ftn_model_free(ma);
    ftn_model_free(mb);
    return same;
}
