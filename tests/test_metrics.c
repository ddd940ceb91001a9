/* Per-image metrics with smooth 1, mean ± std, boundary metrics (HD95, ASD) and nearest
 * upsampling of predictions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "metrics/surface_distance.h"
#include "testlib.h"

#pragma GCC diagnostic ignored "-Wformat-zero-length"

static int near(double a, double b) { return fabs(a - b) < 1e-12; }
static const float *zero16(void) { static const float z[16]; return z; }

/* HD95 and ASD by brute force: every boundary pixel of one mask against every boundary pixel of
 * the other (O(n²)), the pooled distances sorted by insertion, the percentile as numpy's. */
static void surface_brute(const uint8_t *a, const uint8_t *b, int w, int h, double *hd95, double *asd)
{
    uint8_t *ba = malloc((size_t)w * h), *bb = malloc((size_t)w * h);
    ftn_mask_boundary(a, w, h, ba);
    ftn_mask_boundary(b, w, h, bb);
    double *d = malloc(sizeof(double) * 2 * (size_t)w * h), sum = 0;
    int n = 0;
    for (int dir = 0; dir < 2; dir++) {
        const uint8_t *from = dir ? bb : ba, *to = dir ? ba : bb;
        for (int p = 0; p < w * h; p++) {
            if (!from[p]) continue;
            double best = INFINITY;
            for (int q = 0; q < w * h; q++)
                if (to[q]) {
                    double dx = p % w - q % w, dy = p / w - q / w;
                    best = fmin(best, sqrt(dx * dx + dy * dy));
                }
            int i = n++;
            for (; i > 0 && d[i - 1] > best; i--) d[i] = d[i - 1];
            d[i] = best;
            sum += best;
        }
    }
    double pos = 0.95 * (n - 1);
    int lo = (int)pos;
    *hd95 = lo + 1 < n ? d[lo] + (pos - lo) * (d[lo + 1] - d[lo]) : d[lo];
    *asd = sum / n;
    free(ba), free(bb), free(d);
}

static void rect(uint8_t *m, int w, int x0, int y0, int x1, int y1)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) m[y * w + x] = 1;
}

static void test_surface(void)
{
    enum { W = 12, H = 10 };
    uint8_t a[W * H], b[W * H];
    double hd, asd;
    /* identical masks: 0 */
    memset(a, 0, sizeof a), rect(a, W, 2, 2, 7, 6);
    CHECK_OK(ftn_surface_distances(a, a, W, H, &hd, &asd));
    CHECK(hd == 0 && asd == 0, "identical: %g %g", hd, asd);
    /* two single pixels (3, 4) apart: every distance is 5 (Euclidean, not city-block 7) */
    memset(a, 0, sizeof a), memset(b, 0, sizeof b);
    a[1 * W + 1] = 1, b[5 * W + 4] = 1;
    CHECK_OK(ftn_surface_distances(a, b, W, H, &hd, &asd));
    CHECK(near(hd, 5) && near(asd, 5), "pixels: %g %g", hd, asd);
    /* two vertical lines k = 3 apart along x: every boundary pixel is 3 from the other line */
    memset(a, 0, sizeof a), memset(b, 0, sizeof b);
    rect(a, W, 2, 1, 3, 8), rect(b, W, 5, 1, 6, 8);
    CHECK_OK(ftn_surface_distances(a, b, W, H, &hd, &asd));
    CHECK(near(hd, 3) && near(asd, 3), "lines: %g %g", hd, asd);
    /* 4×4 squares offset by k = 2 along x. Boundary of each: 12 pixels. From the left square's:
     * rows 0 and 3 give 2, 1, 0, 0 (the right half lies on the other's top and bottom rows),
     * rows 1 and 2 give 2 (left column) and 1 (right column, inside the other square, 1 from its
     * top or bottom row and from its left column); the mirror image the other way. So the 24
     * distances are eight each of 0, 1 and 2: ASD = 1, HD95 = 2 = k (the largest, as the 95th
     * percentile of 24 falls between the 22nd and 23rd, both 2). */
    memset(a, 0, sizeof a), memset(b, 0, sizeof b);
    rect(a, W, 1, 3, 5, 7), rect(b, W, 3, 3, 7, 7);
    CHECK_OK(ftn_surface_distances(a, b, W, H, &hd, &asd));
    CHECK(near(hd, 2) && near(asd, 1), "squares: %g %g", hd, asd);
    /* one pixel more: a 3×3 square against itself plus the pixel right of its middle row. That
     * pixel makes the middle row's right end (5, 4) interior in the second mask: the first's 8
     * boundary pixels are at 0 except (5, 4), 1 from (5, 3); the second's 8 at 0 except the new
     * (6, 4), 1 from (5, 4). Pooled: 14 zeros and two 1s → ASD 2/16; HD95 at position
     * 0.95·15 = 14.25, between the 15th and 16th, both 1. */
    memset(a, 0, sizeof a), memset(b, 0, sizeof b);
    rect(a, W, 3, 3, 6, 6), rect(b, W, 3, 3, 6, 6);
    b[4 * W + 6] = 1;
    CHECK_OK(ftn_surface_distances(a, b, W, H, &hd, &asd));
    CHECK(near(asd, 2.0 / 16) && near(hd, 1), "one pixel: %g %g", hd, asd);
    /* empty masks: undefined (NaN) when either is empty */
    memset(b, 0, sizeof b);
    CHECK_OK(ftn_surface_distances(a, b, W, H, &hd, &asd));
    CHECK(isnan(hd) && isnan(asd));
    CHECK_OK(ftn_surface_distances(b, b, W, H, &hd, &asd));
    CHECK(isnan(hd) && isnan(asd));
    /* masks touching the edge: the image border is boundary */
    memset(a, 0, sizeof a), memset(b, 0, sizeof b);
    rect(a, W, 0, 0, W, H), rect(b, W, 0, 0, W, H);
    CHECK_OK(ftn_surface_distances(a, b, W, H, &hd, &asd));
    CHECK(hd == 0 && asd == 0);

    /* the distance transform against brute force, and HD95 / ASD on random masks (blobs and
     * noise, some sizes odd, one a single row) */
    uint64_t rng = 42;
    const int sizes[5][2] = { { 1, 17 }, { 23, 9 }, { 31, 31 }, { 40, 13 }, { 7, 1 } };
    int bad_dt = 0, bad_sd = 0;
    for (int trial = 0; trial < 40; trial++) {
        int w = sizes[trial % 5][0], h = sizes[trial % 5][1];
        uint8_t *ma = calloc((size_t)w * h, 1), *mb = calloc((size_t)w * h, 1);
        double *dt = malloc(sizeof(double) * (size_t)w * h);
        float density = tl_uniform(&rng, 0.02f, 0.6f);
        for (int p = 0; p < w * h; p++) {
            ma[p] = tl_uniform(&rng, 0, 1) < density;
            mb[p] = tl_uniform(&rng, 0, 1) < density * 0.7f;
        }
        if (trial % 3 == 0) rect(mb, w, w / 4, h / 4, w / 4 + w / 2 + 1, h / 4 + h / 2 + 1); /* a blob */
        CHECK_OK(ftn_edt_sq(ma, w, h, dt));
        for (int p = 0; p < w * h; p++) {
            double best = INFINITY;
            for (int q = 0; q < w * h; q++)
                if (ma[q]) {
                    double dx = p % w - q % w, dy = p / w - q / w;
                    best = fmin(best, dx * dx + dy * dy);
                }
            bad_dt += !(dt[p] == best);
        }
        double h1, a1, h2, a2;
        CHECK_OK(ftn_surface_distances(ma, mb, w, h, &h1, &a1));
        int any_a = 0, any_b = 0;
        for (int p = 0; p < w * h; p++) any_a |= ma[p], any_b |= mb[p];
        if (any_a && any_b) {
            surface_brute(ma, mb, w, h, &h2, &a2);
            bad_sd += !(fabs(h1 - h2) < 1e-9 && fabs(a1 - a2) < 1e-9);
        } else {
            bad_sd += !(isnan(h1) && isnan(a1));
        }
        free(ma), free(mb), free(dt);
    }
    CHECK(bad_dt == 0, "%d distance-transform values differ from brute force", bad_dt);
    CHECK(bad_sd == 0, "%d random cases differ from brute force", bad_sd);
    /* no seed: infinite everywhere */
    uint8_t none[6] = { 0 };
    double dn[6];
    CHECK_OK(ftn_edt_sq(none, 3, 2, dn));
    CHECK(isinf(dn[0]) && isinf(dn[5]));

    /* ftn_metrics_surface thresholds the prediction as the other metrics do; ftn_metrics_compute
     * leaves them NaN; means and groups skip the NaN ones and count the one-empty images */
    float prob[W * H] = { 0 }, gtf[W * H] = { 0 }, zf[W * H] = { 0 };
    for (int y = 3; y < 7; y++)
        for (int x = 1; x < 5; x++) prob[y * W + x] = 0.9f, gtf[y * W + x + 2] = 1;
    prob[0] = 0.5f; /* not > 0.5 */
    ftn_metrics m[4] = { ftn_metrics_compute(prob, gtf, W * H, 0.5f), ftn_metrics_compute(gtf, gtf, W * H, 0.5f),
                         ftn_metrics_compute(zf, gtf, W * H, 0.5f), ftn_metrics_compute(zf, zf, W * H, 0.5f) };
    CHECK(isnan(m[0].hd95) && isnan(m[0].asd));
    CHECK_OK(ftn_metrics_surface(&m[0], prob, gtf, W, H, 0.5f));
    CHECK_OK(ftn_metrics_surface(&m[1], gtf, gtf, W, H, 0.5f));
    CHECK_OK(ftn_metrics_surface(&m[2], zf, gtf, W, H, 0.5f));
    CHECK_OK(ftn_metrics_surface(&m[3], zf, zf, W, H, 0.5f));
    CHECK(near(m[0].hd95, 2) && near(m[0].asd, 1) && m[1].hd95 == 0 && isnan(m[2].hd95) && isnan(m[3].asd),
          "%g %g", m[0].hd95, m[0].asd);
    ftn_metrics mean, std;
    ftn_metrics_mean_std(m, 4, &mean, &std);
    CHECK(near(mean.hd95, 1) && near(std.hd95, 1) && near(mean.asd, 0.5) && near(std.asd, 0.5), "%g %g", mean.hd95, std.hd95);
    ftn_metrics_groups g;
    ftn_metrics_groups_compute(m, 4, &g);
    CHECK(g.n_surface == 2 && g.n_surface_one_empty == 1 && near(g.lesion_mean.hd95, 1), "%d %d", g.n_surface,
          g.n_surface_one_empty);
    ftn_metrics_mean_std(m + 2, 2, &mean, &std);
    CHECK(isnan(mean.hd95) && isnan(std.asd) && mean.dsc > 0);
}

int main(void)
{
    /* 4×4: gt has 4 pixels, prediction 3 of them plus 2 false positives */
    float gt[16] = {0}, p[16] = {0};
    gt[0] = gt[1] = gt[4] = gt[5] = 1;
    p[0] = 0.9f, p[1] = 0.6f, p[4] = 0.51f, p[5] = 0.5f /* not > 0.5 */, p[10] = 0.7f, p[15] = 1.0f, p[3] = 0.2f;
    ftn_metrics m = ftn_metrics_compute(p, gt, 16, FTN_METRIC_THRESHOLD);
    CHECK(m.tp == 3 && m.fp == 2 && m.fn == 1 && m.tn == 10, "%lld %lld %lld", (long long)m.tp, (long long)m.fp, (long long)m.fn);
    CHECK(near(m.dsc, 7.0 / 10.0), "%g", m.dsc);       /* (2·3+1)/(5+4+1) */
    CHECK(near(m.precision, 4.0 / 6.0), "%g", m.precision); /* (3+1)/(3+2+1) */
    CHECK(near(m.recall, 4.0 / 5.0), "%g", m.recall);  /* (3+1)/(3+1+1) */
    CHECK(near(m.iou, 4.0 / 7.0), "%g", m.iou);        /* (3+1)/(3+2+1+1) */

    /* the soft DSC uses the probabilities themselves: Σp·g = 0.9+0.6+0.51+0.5 = 2.51,
       Σp = 2.51 + 0.7 + 1.0 + 0.2 = 4.41, Σg = 4 → (2·2.51 + 1) / (4.41 + 4 + 1) */
    double soft = ftn_soft_dsc(p, gt, 16);
    CHECK(fabs(soft - 6.02 / 9.41) < 1e-7, "soft DSC %.9f", soft);
    CHECK(ftn_soft_dsc(zero16(), zero16(), 16) == 1.0, "soft DSC of nothing against nothing");

    /* threshold moves p[5] in */
    m = ftn_metrics_compute(p, gt, 16, 0.45f);
    CHECK(m.tp == 4 && m.fp == 2 && m.fn == 0);

    /* empty prediction, non-empty gt */
    float zero[16] = {0};
    m = ftn_metrics_compute(zero, gt, 16, 0.5f);
    CHECK(near(m.dsc, 1.0 / 5.0) && near(m.precision, 1.0) && near(m.recall, 1.0 / 5.0) && near(m.iou, 1.0 / 5.0));
    /* empty gt, non-empty prediction */
    m = ftn_metrics_compute(p, zero, 16, 0.5f);
    CHECK(m.fp == 5 && near(m.dsc, 1.0 / 6.0) && near(m.precision, 1.0 / 6.0) && near(m.recall, 1.0));
    /* both empty: everything 1 */
    m = ftn_metrics_compute(zero, zero, 16, 0.5f);
    CHECK(near(m.dsc, 1) && near(m.precision, 1) && near(m.recall, 1) && near(m.iou, 1));
    /* perfect */
    m = ftn_metrics_compute(gt, gt, 16, 0.5f);
    CHECK(near(m.dsc, 1) && near(m.iou, 1));

    /* mean ± population std */
    double x[4] = {1, 2, 3, 4}, mu, sd;
    ftn_mean_std(x, 4, &mu, &sd);
    CHECK(near(mu, 2.5) && near(sd, sqrt(1.25)), "%g %g", mu, sd);
    ftn_mean_std(x, 0, &mu, &sd);
    CHECK(mu == 0 && sd == 0);
    ftn_metrics ms[2] = {ftn_metrics_compute(p, gt, 16, 0.5f), ftn_metrics_compute(gt, gt, 16, 0.5f)}, mean, std;
    ftn_metrics_mean_std(ms, 2, &mean, &std);
    CHECK(near(mean.dsc, 0.85) && near(std.dsc, 0.15) && mean.tp == 7, "%g %g", mean.dsc, std.dsc);

    /* empty ground truths apart: 2 lesion images (A: DSC 0.7, B: perfect) and 2 empty ones
     * (C: nothing predicted, every metric 1; D: 5 false-positive pixels, DSC 1/6) */
    {
        ftn_metrics g4[4] = {ftn_metrics_compute(p, gt, 16, 0.5f), ftn_metrics_compute(gt, gt, 16, 0.5f),
                             ftn_metrics_compute(zero, zero, 16, 0.5f), ftn_metrics_compute(p, zero, 16, 0.5f)};
        CHECK(!g4[0].gt_empty && !g4[1].gt_empty && g4[2].gt_empty == 1 && g4[3].gt_empty == 1);
        ftn_metrics_mean_std(g4, 4, &mean, &std);
        /* all images, the paper's protocol: (0.7 + 1 + 1 + 1/6) / 4 = 43/60 */
        CHECK(near(mean.dsc, 43.0 / 60.0) && near(mean.recall, (0.8 + 3) / 4) && mean.gt_empty == 2, "%g", mean.dsc);
        ftn_metrics_groups g;
        ftn_metrics_groups_compute(g4, 4, &g);
        CHECK(g.n_lesion == 2 && g.n_empty == 2 && g.n_empty_fp == 1 && near(g.empty_fp_rate, 0.5), "%d %d %d %g",
              g.n_lesion, g.n_empty, g.n_empty_fp, g.empty_fp_rate);
        CHECK(near(g.lesion_mean.dsc, 0.85) && near(g.lesion_std.dsc, 0.15), "%g %g", g.lesion_mean.dsc, g.lesion_std.dsc);
        CHECK(near(g.lesion_mean.precision, (4.0 / 6.0 + 1) / 2) && near(g.lesion_mean.iou, (4.0 / 7.0 + 1) / 2) &&
              near(g.lesion_std.recall, 0.1) && g.lesion_mean.tp == 7 && g.lesion_mean.gt_empty == 0);
        /* no empty image: the lesion figures are the overall ones, rate 0; no image at all: zero */
        ftn_metrics_groups_compute(g4, 2, &g);
        CHECK(g.n_lesion == 2 && g.n_empty == 0 && g.empty_fp_rate == 0 && near(g.lesion_mean.dsc, 0.85));
        ftn_metrics_groups_compute(g4 + 2, 2, &g);
        CHECK(g.n_lesion == 0 && g.n_empty == 2 && g.lesion_mean.dsc == 0 && near(g.empty_fp_rate, 0.5));
    }

    /* nearest upsampling: 2×3 → 4×5, source index floor(d·s/D) */
    float src[6] = {1, 2, 3, 4, 5, 6}, dst[20];
    CHECK_OK(ftn_upsample_nearest_prob(src, 2, 3, dst, 4, 5));
    const float want[20] = {1, 1, 2, 2, 3, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 4, 4, 5, 5, 6};
    int bad = 0;
    for (int i = 0; i < 20; i++) bad += dst[i] != want[i];
    CHECK(bad == 0);
    CHECK(ftn_upsample_nearest_prob(src, 0, 3, dst, 4, 5) == FTN_EINVAL);
    test_surface();
    return tl_finish();
}
