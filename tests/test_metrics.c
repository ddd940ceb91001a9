/* Per-image metrics with smooth 1, mean ± std, and nearest upsampling of predictions. */
#include <math.h>

#include "metrics/metrics.h"
#include "testlib.h"

#pragma GCC diagnostic ignored "-Wformat-zero-length"

static int near(double a, double b) { return fabs(a - b) < 1e-12; }
static const float *zero16(void) { static const float z[16]; return z; }

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
    return tl_finish();
}
