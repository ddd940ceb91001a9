#include "metrics/surface_distance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* One line of the transform: d[i] = min over j of (i − j)² + f[j], over the finite f[j] only
 * (no finite value: INFINITY). v and z are scratch of n and n + 1 entries. */
static void edt_1d(const double *f, int n, double *d, int *v, double *z)
{
    int k = -1;
    for (int q = 0; q < n; q++) {
        if (!isfinite(f[q])) continue;
        if (k < 0) {
            k = 0, v[0] = q, z[0] = -INFINITY, z[1] = INFINITY;
            continue;
        }
        /* drop the parabolas of the envelope that the one rooted at q hides (z[0] = −∞ stops it) */
        double s;
        for (;;) {
            s = ((f[q] + (double)q * q) - (f[v[k]] + (double)v[k] * v[k])) / (2.0 * q - 2.0 * v[k]);
            if (s > z[k]) break;
            k--;
        }
        k++;
        v[k] = q, z[k] = s, z[k + 1] = INFINITY;
    }
    if (k < 0) {
        for (int q = 0; q < n; q++) d[q] = INFINITY;
        return;
    }
    for (int q = 0, j = 0; q < n; q++) {
        while (z[j + 1] < q) j++;
        double dq = (double)q - v[j];
        d[q] = dq * dq + f[v[j]];
    }
}

ftn_status ftn_edt_sq(const uint8_t *seed, int w, int h, double *out)
{
    if (!seed || !out || w <= 0 || h <= 0) return ftn_fail(FTN_EINVAL, "distance transform: bad arguments");
    int n = w > h ? w : h;
    double *f = calloc((size_t)n, sizeof(double)), *d = malloc(sizeof(double) * (size_t)n); /* calloc: gcc sees f read */
    double *z = malloc(sizeof(double) * (size_t)(n + 1));
    int *v = malloc(sizeof(int) * (size_t)n);
    if (!f || !d || !z || !v) {
        free(f), free(d), free(z), free(v);
        return ftn_fail(FTN_ENOMEM, "distance transform: out of memory for a %dx%d mask", w, h);
    }
    /* columns first (seeds 0, the rest infinite), then rows of the column result */
    for (int x = 0; x < w; x++) {
        for (int y = 0; y < h; y++) f[y] = seed[(size_t)y * w + x] ? 0 : INFINITY;
        edt_1d(f, h, d, v, z);
        for (int y = 0; y < h; y++) out[(size_t)y * w + x] = d[y];
    }
    for (int y = 0; y < h; y++) {
        double *row = out + (size_t)y * w;
        memcpy(f, row, sizeof(double) * (size_t)w);
        edt_1d(f, w, row, v, z);
    }
    free(f), free(d), free(z), free(v);
    return FTN_OK;
}

void ftn_mask_boundary(const uint8_t *mask, int w, int h, uint8_t *boundary)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            boundary[p] = mask[p] && (x == 0 || y == 0 || x == w - 1 || y == h - 1 || !mask[p - 1] || !mask[p + 1] ||
                                      !mask[p - (size_t)w] || !mask[p + (size_t)w]);
        }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

ftn_status ftn_surface_distances(const uint8_t *a, const uint8_t *b, int w, int h, double *hd95, double *asd)
{
    if (!a || !b || w <= 0 || h <= 0) return ftn_fail(FTN_EINVAL, "surface distance: bad arguments");
    *hd95 = *asd = NAN;
    size_t np = (size_t)w * h, na = 0, nb = 0;
    for (size_t p = 0; p < np; p++) na += a[p] != 0, nb += b[p] != 0;
    if (na == 0 || nb == 0) return FTN_OK; /* undefined: NaN */
    uint8_t *ba = malloc(np), *bb = malloc(np);
    double *dt = malloc(sizeof(double) * np), *dist = NULL;
    ftn_status st = FTN_OK;
    if (!ba || !bb || !dt) {
        st = ftn_fail(FTN_ENOMEM, "surface distance: out of memory for a %dx%d mask", w, h);
        goto done;
    }
    ftn_mask_boundary(a, w, h, ba);
    ftn_mask_boundary(b, w, h, bb);
    size_t nba = 0, nbb = 0;
    for (size_t p = 0; p < np; p++) nba += ba[p], nbb += bb[p];
    if (!(dist = malloc(sizeof(double) * (nba + nbb)))) {
        st = ftn_fail(FTN_ENOMEM, "surface distance: out of memory for %zu boundary pixels", nba + nbb);
        goto done;
    }
    /* a's boundary pixels to b's boundary, then b's to a's: one pool of distances */
    size_t k = 0;
    if ((st = ftn_edt_sq(bb, w, h, dt)) != FTN_OK) goto done;
    for (size_t p = 0; p < np; p++)
        if (ba[p]) dist[k++] = sqrt(dt[p]);
    if ((st = ftn_edt_sq(ba, w, h, dt)) != FTN_OK) goto done;
    for (size_t p = 0; p < np; p++)
        if (bb[p]) dist[k++] = sqrt(dt[p]);
    double sum = 0;
    for (size_t i = 0; i < k; i++) sum += dist[i];
    *asd = sum / (double)k;
    /* the 95th percentile, linear between order statistics (numpy's default) */
    qsort(dist, k, sizeof *dist, cmp_double);
    double pos = 0.95 * (double)(k - 1);
    size_t lo = (size_t)pos;
    double frac = pos - (double)lo;
    *hd95 = lo + 1 < k ? dist[lo] + frac * (dist[lo + 1] - dist[lo]) : dist[lo];
done:
    free(ba), free(bb), free(dt), free(dist);
    return st;
}

ftn_status ftn_metrics_surface(ftn_metrics *m, const float *prob, const float *gt, int w, int h, float threshold)
{
    if (!m || !prob || !gt || w <= 0 || h <= 0) return ftn_fail(FTN_EINVAL, "surface distance: bad arguments");
    size_t np = (size_t)w * h;
    uint8_t *a = malloc(np), *b = malloc(np);
    if (!a || !b) {
        free(a), free(b);
        return ftn_fail(FTN_ENOMEM, "surface distance: out of memory for a %dx%d mask", w, h);
    }
    for (size_t p = 0; p < np; p++) a[p] = prob[p] > threshold, b[p] = gt[p] > 0.5f;
    ftn_status st = ftn_surface_distances(a, b, w, h, &m->hd95, &m->asd);
    free(a), free(b);
    return st;
}
