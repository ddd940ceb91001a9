/* Per-image segmentation metrics as the paper evaluates them (smooth 1):
 *   DSC = (2TP + 1) / (|pred| + |gt| + 1)      precision = (TP + 1) / (TP + FP + 1)
 *   recall = (TP + 1) / (TP + FN + 1)          IoU = (TP + 1) / (TP + FP + FN + 1)
 * where pred = probability > threshold (default 0.5) and gt = mask > 0.5. With both empty every
 * metric is 1. Means and standard deviations over images use the POPULATION std (÷N, numpy's
 * default). */
#ifndef FTN_METRICS_METRICS_H
#define FTN_METRICS_METRICS_H
#include <stddef.h>
#include <stdint.h>

#include "ftunet.h"

#define FTN_METRIC_THRESHOLD 0.5f

typedef struct ftn_metrics {
    double dsc, precision, recall, iou;
    int64_t tp, fp, fn, tn;
} ftn_metrics;

/* prob and gt hold n values each. */
ftn_metrics ftn_metrics_compute(const float *prob, const float *gt, size_t n, float threshold);

/* The soft DSC of the reference's Keras metric `dsc` (losses.py): (2·Σ p·g + 1) / (Σ p + Σ g + 1)
 * over the probabilities themselves (no threshold), summed over all n values — one batch when the
 * reference reports it, so it is not a mean of per-image scores. Equals 1 − the Dice loss. */
double ftn_soft_dsc(const float *prob, const float *gt, size_t n);

/* Mean and population std of x[0..n). n = 0 gives 0, 0. */
void ftn_mean_std(const double *x, int n, double *mean, double *std);

/* Mean and std of each metric over n images (tp/fp/fn/tn of *mean are the sums). */
void ftn_metrics_mean_std(const ftn_metrics *m, int n, ftn_metrics *mean, ftn_metrics *std);

/* Nearest-neighbour resize of a single-channel H×W map to dh×dw (source index =
 * floor(dst·src/dst)), to score a prediction at the image's original resolution. */
ftn_status ftn_upsample_nearest_prob(const float *src, int h, int w, float *dst, int dh, int dw);

#endif
