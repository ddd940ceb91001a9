/* Per-image segmentation metrics: the definitions, ftn_metrics and ftn_metrics_mean_std are
 * public (ftunet_protocol.h, section "metrics"); the computations behind them are here. */
#ifndef FTN_METRICS_METRICS_H
#define FTN_METRICS_METRICS_H
#include <stddef.h>
#include <stdint.h>

#include "ftunet_protocol.h"

/* prob and gt hold n values each. */
ftn_metrics ftn_metrics_compute(const float *prob, const float *gt, size_t n, float threshold);

/* The soft DSC of the reference's Keras metric `dsc` (losses.py): (2·Σ p·g + 1) / (Σ p + Σ g + 1)
 * over the probabilities themselves (no threshold), summed over all n values — one batch when the
 * reference reports it, so it is not a mean of per-image scores. Equals 1 − the Dice loss. */
double ftn_soft_dsc(const float *prob, const float *gt, size_t n);

/* Mean and population std of x[0..n). n = 0 gives 0, 0. */
void ftn_mean_std(const double *x, int n, double *mean, double *std);

/* Nearest-neighbour resize of a single-channel H×W map to dh×dw (source index =
 * floor(dst·src/dst)), to score a prediction at the image's original resolution. */
ftn_status ftn_upsample_nearest_prob(const float *src, int h, int w, float *dst, int dh, int dw);

#endif
