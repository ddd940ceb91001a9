/* Prediction with test-time flips, ensembles, bilinear upsampling and the largest component: the
 * public part is ftunet_protocol.h's section "prediction"; the test-time flips behind it, with
 * the network as a plain function so that they can be checked against any function. */
#ifndef FTN_PROTOCOL_PREDICT_H
#define FTN_PROTOCOL_PREDICT_H
#include "ftunet_protocol.h"

/* A network as a function: n inputs (x: n consecutive c×h×w planar arrays) to n maps of the
 * same h×w (out: n consecutive h×w arrays). */
typedef ftn_status (*ftn_predict_fn)(void *user, const float *x, int n, float *out);

/* The map of one network input x (c×h×w) into out (h×w): fn(x) with FTN_TTA_NONE; with
 * FTN_TTA_FLIPS the mean of unflip_v(fn(flip_v(x))) over v = identity, left–right, top–bottom,
 * both (summed in that order, then × 1/4), the views passed to fn up to `batch` at a time. */
ftn_status ftn_predict_map(ftn_predict_fn fn, void *user, int batch, const float *x, int c, int h, int w, ftn_tta tta,
                           float *out);

#endif
