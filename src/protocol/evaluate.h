/* Evaluation at each image's original resolution (paper §3; spec "Training and evaluation
 * protocol"), predictions for single images, and colour overlays.
 *
 * An image is scored as the reference does: converted to the model's channels, resized to the
 * model's input with `mode`, run through the network in inference mode; the LAST output's
 * probability map is upsampled nearest back to the original size (ftn_upsample_nearest_prob),
 * thresholded (> threshold) and compared with the original-size mask (ftn_metrics_compute,
 * smooth 1). Means and standard deviations over images are population ones (÷N). */
#ifndef FTN_PROTOCOL_EVALUATE_H
#define FTN_PROTOCOL_EVALUATE_H
#include <stdint.h>

#include "data/dataset.h"
#include "data/resize.h"
#include "ftunet.h"
#include "io/image.h"
#include "metrics/metrics.h"

typedef struct ftn_eval_result {
    int n;
    char **ids;             /* n sample ids, in evaluation order */
    ftn_metrics *per_image; /* n */
    ftn_metrics mean, std;  /* tp/fp/fn/tn of mean are sums over images */
    float threshold;
} ftn_eval_result;

/* Scores samples idx[0..n) of ds (idx NULL: every sample, n ignored) in batches of `batch` on
 * `engine` at `precision` (FTN_PRECISION_BF16: bf16 inside the network, as in a bf16 training
 * run's validation; see ftn_precision_check). *out is zeroed first and filled only on success (free with ftn_eval_result_free). */
ftn_status ftn_evaluate(ftn_model *m, const ftn_dataset *ds, const int *idx, int n, float threshold,
                        ftn_resize_mode mode, ftn_engine engine, ftn_precision precision, int batch,
                        ftn_eval_result *out);

/* The loop behind ftn_evaluate, for callers that need the probability maps (the report's
 * precision–recall curve and overlays): fn is called once per sample, in order, with its
 * position k in idx, the sample index, the original image and mask, and the H×W probability map
 * at the original size (all valid only during the call). A non-OK return from fn stops the loop
 * and is returned. */
typedef ftn_status (*ftn_eval_fn)(void *user, int k, int sample, const ftn_image *image, const ftn_image *mask,
                                  const float *prob);
ftn_status ftn_evaluate_each(ftn_model *m, const ftn_dataset *ds, const int *idx, int n, ftn_resize_mode mode,
                             ftn_engine engine, ftn_precision precision, int batch, ftn_eval_fn fn, void *user);

/* metrics.csv: header "id,dsc,precision,recall,iou", one line per image (ids quoted when they
 * hold a comma or a quote); summary.json: {"n", "threshold", "mean": {dsc, precision, recall,
 * iou}, "std": {...}}. Either path may be NULL. Missing parent folders are created; both files are
 * written atomically. */
ftn_status ftn_eval_write(const ftn_eval_result *r, const char *csv_path, const char *json_path);
void ftn_eval_result_free(ftn_eval_result *r);

/* One image (any size, 1 or 3 channels) preprocessed for the model: channels converted, resized
 * with `mode`, written planar C×H×W into chw (the model's C·H·W floats). */
ftn_status ftn_preprocess_image(const ftn_image *img, int channels, int height, int width, ftn_resize_mode mode,
                                float *chw);

/* Prediction for one image: probabilities at the image's original size, H×W, malloc'ed into
 * *prob (free()). The image goes into slot 0 of the session's batch (other slots zero). */
ftn_status ftn_predict_image(ftn_session *s, const ftn_image *img, ftn_resize_mode mode, float **prob);

/* Overlay colours (RGB). */
#define FTN_OVERLAY_PRED_R 255
#define FTN_OVERLAY_PRED_G 48
#define FTN_OVERLAY_PRED_B 32
#define FTN_OVERLAY_GT_R 0
#define FTN_OVERLAY_GT_G 230
#define FTN_OVERLAY_GT_B 64
#define FTN_OVERLAY_TINT 0.35f /* weight of the prediction colour inside the predicted lesion */

/* Colour overlay into rgb (H×W×3 bytes) of an image (1 or 3 channels, values in [0, 1]):
 * greyscale/colour base; pixels with pred > threshold tinted with the prediction colour
 * (FTN_OVERLAY_TINT); the predicted region's contour in the prediction colour; the ground-truth
 * region's (gt > 0.5) contour in the ground-truth colour, drawn last. A contour pixel is inside
 * its region with a 4-neighbour outside it (outside the image counts as outside). pred or gt may
 * be NULL (not drawn). */
void ftn_overlay_rgb(const ftn_image *img, const float *pred, float threshold, const float *gt, uint8_t *rgb);

#endif
