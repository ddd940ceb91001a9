/* Evaluation and prediction: the public part (ftn_evaluate, ftn_eval_write, ftn_predict_image,
 * ftn_overlay_rgb) is in ftunet_protocol.h, section "evaluation and prediction"; the per-sample
 * loop and the preprocessing behind it are here. */
#ifndef FTN_PROTOCOL_EVALUATE_H
#define FTN_PROTOCOL_EVALUATE_H
#include <stdint.h>

#include "ftunet_protocol.h"

/* The loop behind ftn_evaluate, for callers that need the probability maps (the report's
 * precision–recall curve and overlays): fn is called once per sample, in order, with its
 * position k in idx, the sample index, the original image and mask, and the H×W probability map
 * at the original size (all valid only during the call). A non-OK return from fn stops the loop
 * and is returned. */
typedef ftn_status (*ftn_eval_fn)(void *user, int k, int sample, const ftn_image *image, const ftn_image *mask,
                                  const float *prob);
ftn_status ftn_evaluate_each(ftn_model *m, const ftn_dataset *ds, const int *idx, int n, ftn_resize_mode mode,
                             ftn_engine engine, ftn_precision precision, int batch, ftn_eval_fn fn, void *user);

/* summary.json as ftn_eval_write writes it, read back (the report, a finished run's summary):
 * FTN_EFORMAT without a "mean" object; metrics absent from the file are NaN; has_groups 0 (groups zero) for a file written before the
 * lesion / empty-ground-truth groups existed. */
typedef struct ftn_eval_summary {
    int n;
    double threshold;
    ftn_metrics mean, std;
    int has_groups;
    ftn_metrics_groups groups;
    int has_surface; /* the summary has hd95 and asd (n_surface); older ones do not */
} ftn_eval_summary;
ftn_status ftn_eval_summary_read(const char *path, ftn_eval_summary *out);

/* One image (any size, 1 or 3 channels) preprocessed for the model: channels converted, resized
 * with `mode`, written planar C×H×W into chw (the model's C·H·W floats). */
ftn_status ftn_preprocess_image(const ftn_image *img, int channels, int height, int width, ftn_resize_mode mode,
                                float *chw);

#endif
