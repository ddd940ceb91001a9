/*
 * ftunet protocol — data sets, the paper's training and evaluation protocol, run folders,
 * reports and benchmarks, on top of the engine of ftunet.h (library ftunet_protocol, which links
 * ftunet).
 *
 *   ftn_dataset   image/mask pairs found on disk (folder layouts, CSV, .npy), loaded as tensors
 *   ftn_split     a seeded train/validation/test partition (random, repeated or k-fold)
 *   ftn_train_run one resumable training run in a run folder (config.json, log.csv, checkpoints,
 *                 test results); ftn_evaluate scores a model at each image's original resolution
 *   ftn_report_write  the run's self-contained report.html
 *
 * Every function that can fail returns an ftn_status; on failure ftn_last_error() says what went
 * wrong and where. The library never prints and never exits.
 */
#ifndef FTUNET_PROTOCOL_H
#define FTUNET_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftunet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- resampling ----------------------------------------------------------------------------- */
/* Resampling of interleaved H×W×C float images:
 *   nearest   source index = floor(dst_index · src_size / dst_size) on each axis (the reference's
 *             resampling; masks are always resized this way so they stay binary);
 *   area      box average: each output pixel is the mean of the source area it covers, with
 *             fractional coverage weighted exactly (any ratio, up or down);
 *   bilinear  align_corners = false, half-pixel centres: src = (dst + 0.5)·src/dst − 0.5,
 *             clamped to the edge; no antialiasing.
 * All three are separable and exact for identity sizes. */
typedef enum ftn_resize_mode { FTN_RESIZE_NEAREST, FTN_RESIZE_AREA, FTN_RESIZE_BILINEAR } ftn_resize_mode;

const char *ftn_resize_name(ftn_resize_mode mode); /* "nearest", "area", "bilinear" */
ftn_status ftn_resize_parse(const char *name, ftn_resize_mode *mode);

/* ---- images --------------------------------------------------------------------------------- */
/* PNG, JPEG and BMP read into float pixels in [0, 1]; PNG written.
 *
 * Reading dispatches on the file's magic bytes, not its name. Pixels come back interleaved
 * H×W×C with C = 1 (greyscale) or 3 (colour):
 *   - greyscale stays 1 channel; grey+alpha drops the alpha (1 channel);
 *   - RGB and RGBA give 3 channels (alpha dropped);
 *   - PNG palettes are expanded to RGB; BMP palettes whose entries are all grey give 1 channel,
 *     others 3;
 *   - 16-bit samples are scaled by 1/65535, 1/2/4-bit samples expanded to the full range.
 * BMP: 1/4/8-bit palette, 16/24/32-bit, bottom-up and top-down, BI_RGB and BI_BITFIELDS
 * (and BI_ALPHABITFIELDS); RLE compression is refused as unsupported.
 *
 * Dimensions are checked against a pixel limit BEFORE any pixel buffer is allocated. */
typedef struct ftn_image {
    int width, height, channels;
    float *data; /* height × width × channels, interleaved, in [0, 1] */
} ftn_image;

/* Reads an image, refusing more than max_pixels = width × height (0: the global limit, default
 * 100 000 000). On failure *out is left zeroed and the message names the file and the cause. */
ftn_status ftn_image_read_limit(const char *path, size_t max_pixels, ftn_image *out);
void ftn_image_free(ftn_image *img);

/* Writes an 8-bit PNG (channels 1, 2, 3 or 4; data interleaved H×W×C) to "<path>.tmp.<pid>" and
 * renames it over path, so a reader never sees a half-written file. */
ftn_status ftn_image_write_png(const char *path, int width, int height, int channels, const uint8_t *data);

/* ---- .npy files ----------------------------------------------------------------------------- */
/* NumPy .npy files (format versions 1.0, 2.0, 3.0), little-endian float32 only. */
#define FTN_NPY_MAX_DIMS 4

/* Reads a C-order '<f4' array of at most 4 dimensions. On success *ndim is 0..4, dims[0..ndim)
 * the shape (the rest set to 0; a 0-d array holds one value) and *data a malloc'ed array of
 * prod(dims) floats (never NULL; free() it). Any other dtype, Fortran order, a malformed header,
 * or data that does not match the shape is refused with FTN_EFORMAT and a message saying why. */
ftn_status ftn_npy_read_f32(const char *path, int *ndim, int64_t dims[FTN_NPY_MAX_DIMS], float **data);

/* Writes a version 1.0 '<f4' C-order file atomically, header padded to 64 bytes as NumPy does. */
ftn_status ftn_npy_write_f32(const char *path, int ndim, const int64_t *dims, const float *data);

/* ---- data sets ------------------------------------------------------------------------------ */
/* Segmentation datasets: image/mask pairs found on disk, loaded as float tensors.
 *
 * ftn_dataset_open(path) accepts
 *   - a folder with images/ and masks/ (generic layout, also what ftn_synth_write produces);
 *   - a folder with original/ and gt/ (the BUS 2017 layout);
 *   - a CSV file of "image,mask[,mask...]" lines: paths relative to the CSV's folder unless
 *     absolute; an optional header line (recognised because its first field has no image
 *     extension); blank lines and lines starting with '#' ignored; fields may be "quoted".
 *   - a folder with images.npy + masks.npy (float32, as ftn_npy_read_f32 reads): images N×H×W,
 *     N×H×W×C or N×C×H×W (C = 1 or 3; channels-last preferred when ambiguous), masks N×H×W,
 *     N×H×W×1 or N×1×H×W. Values above 1 anywhere mean the 0–255 range (images are divided by
 *     255, masks thresholded at 127.5); otherwise images are taken as [0, 1] and masks
 *     thresholded at 0.5. Sample ids are the indices ("00000", ...).
 *
 * Folder layouts pair files by stem. Image files have extension .png .jpg .jpeg or .bmp (any
 * case; hidden files ignored). A mask belongs to image stem S when its stem is S + suffix, or
 * S + suffix + "_<digits>", where suffix is tried in the order: options.mask_suffix,
 * "_segmentation", "_Segmentation", "_mask", "_lesion", "" (exact forms before numbered ones).
 * Several masks for one image (x_mask.png, x_mask_1.png, ...) are merged by union.
 * Samples are sorted by image stem (strcmp), so the order is deterministic; CSV keeps its line
 * order.
 *
 * Problems (an image without a mask, a mask without an image, two images with one stem, an
 * unreadable file, a mask whose size differs from its image's) are errors naming the file, or,
 * with options.skip_bad, the sample is dropped and "path: why" is appended to skipped[].
 * At open only the headers are read (cheap) unless options.verify asks for a full decode.
 *
 * Masks: a pixel is lesion when any channel is > 0.5 after scaling to [0, 1] (more than half
 * the range); a mask file whose largest value is 1 (0/1 label files, 8- or 16-bit) is binary: any
 * non-zero pixel is lesion. Masks come back as 0/1 floats. */
typedef struct ftn_dataset_options {
    const char *mask_suffix; /* an extra mask-name suffix tried first (e.g. "_gt"); NULL: none */
    int skip_bad;            /* drop bad samples and list them instead of failing */
    size_t max_pixels;       /* per-image pixel limit; 0: the global one (see ftn_image_read_limit) */
    int verify;              /* decode every file at open, not only its header */
} ftn_dataset_options;

typedef enum ftn_dataset_layout {
    FTN_LAYOUT_IMAGES_MASKS, /* images/ + masks/ */
    FTN_LAYOUT_BUS,          /* original/ + gt/ */
    FTN_LAYOUT_ISIC,         /* ISIC's own names: one <name>_Input/ + one <name>_GroundTruth/ */
    FTN_LAYOUT_CSV,
    FTN_LAYOUT_NPY
} ftn_dataset_layout;

typedef struct ftn_sample {
    char *id;          /* the image file's stem */
    char *image_path;
    char **mask_paths; /* n_masks ≥ 1 paths, merged by union */
    int n_masks;
    int width, height, channels; /* the image's, from its header */
} ftn_sample;

typedef struct ftn_dataset {
    char *path;
    ftn_dataset_layout layout;
    size_t max_pixels;
    int count;
    ftn_sample *samples;
    int n_skipped;
    char **skipped; /* "path: why", one per dropped file or sample */
    /* the .npy layout keeps its arrays in memory: images N×H×W×C in [0, 1], masks N×H×W 0/1 */
    float *npy_images, *npy_masks;
} ftn_dataset;

/* options may be NULL (defaults: no extra suffix, strict, global pixel limit, headers only). */
ftn_status ftn_dataset_open(const char *path, const ftn_dataset_options *options, ftn_dataset *out);
void ftn_dataset_free(ftn_dataset *ds);
const char *ftn_dataset_layout_name(ftn_dataset_layout layout);

/* Loads samples idx[0..n) (idx NULL: 0..n−1) preprocessed for a network: images N×C×H×W and
 * masks N×1×H×W, float NCHW, malloc'ed. Channels are converted (1→3 replicates the grey,
 * 3→1 is the luminance 0.299 R + 0.587 G + 0.114 B); images are resized with `mode`, masks
 * always nearest (they stay 0/1). orig_hw (optional) receives 2 ints per sample: the original
 * height and width. Samples load in parallel (OpenMP); the first failure is reported. */
ftn_status ftn_dataset_load_subset(const ftn_dataset *ds, const int *idx, int n, int channels, int h, int w,
                                   ftn_resize_mode mode, float **images, float **masks, int **orig_hw);

typedef struct ftn_dataset_summary {
    int count;
    int min_width, max_width, min_height, max_height;
    int grey_images, colour_images; /* by the images' channel counts */
    int empty_masks;                /* masks with no lesion pixel */
    int full_masks;                 /* masks with no background pixel */
    double lesion_mean, lesion_std; /* lesion-area fraction per image: mean and POPULATION std
                                       (divide by N, as numpy.std) */
    double lesion_min, lesion_max;
} ftn_dataset_summary;

/* Reads every mask (in parallel) to compute the summary. */
ftn_status ftn_dataset_stats(const ftn_dataset *ds, ftn_dataset_summary *out);

/* ---- splits --------------------------------------------------------------------------------- */
/* Deterministic, seeded train/validation/test splits: a seed gives the same split on every
 * platform. Every split is a partition of 0..n−1: train, val and test are disjoint and cover
 * everything; each list is sorted ascending. */
typedef struct ftn_split {
    int *train, *val, *test;
    int n_train, n_val, n_test;
} ftn_split;

/* Shuffle, then round(test_frac·n) samples are test and, of the rest (m), round(val_frac·m)
 * are validation; the remainder trains. Fractions in [0, 1); at least one training sample must
 * remain. The paper: test_frac 0.25, val_frac 0.15. */
ftn_status ftn_split_make(int n, double test_frac, double val_frac, uint64_t seed, ftn_split *out);

/* Repetition r (0-based) of repeated random splits: ftn_split_make with seed + r, so that
 * repetition r of `cv`/`ablation --seed S` is the split of `train --seed S+r` and a single run
 * can be repeated, or reused, outside the cross-validation. */
ftn_status ftn_split_repeat(int n, double test_frac, double val_frac, uint64_t seed, int r, ftn_split *out);

/* Fold `fold` of k: one shuffle per seed; the test part is positions [fold·n/k, (fold+1)·n/k) of
 * the shuffled order (so the k test parts partition 0..n−1); then round(val_frac·m) of the
 * rest are validation. */
ftn_status ftn_split_kfold(int n, int k, int fold, double val_frac, uint64_t seed, ftn_split *out);

void ftn_split_free(ftn_split *s);

/* ---- synthetic data ------------------------------------------------------------------------- */
/* Synthetic lesion-segmentation data sets, for tests and demos without the real data.
 *
 * ftn_synth_write(dir, kind, n, seed, width, height) writes dir/images/NNNN.png and
 * dir/masks/NNNN.png (the images/ + masks/ layout; folders created as needed) for
 * NNNN = 0000..n−1. Masks are exact binary (0/255) and agree with the drawn lesions.
 *   ULTRASOUND  greyscale: smooth depth gradient times multiplicative Rayleigh speckle, with one
 *               or two dark (hypoechoic) ellipses with slightly irregular borders covering about
 *               5 % of the image on average;
 *   DERMOSCOPY  RGB: skin-toned background with vignetting and texture, one brown pigmented
 *               lesion with an irregular border covering about 20 %.
 * The same (kind, seed, size) gives the same files; image i does not depend on n. width and
 * height 0 pick the default FTN_SYNTH_DEFAULT_WIDTH × FTN_SYNTH_DEFAULT_HEIGHT. */
typedef enum ftn_synth_kind { FTN_SYNTH_ULTRASOUND, FTN_SYNTH_DERMOSCOPY } ftn_synth_kind;

#define FTN_SYNTH_DEFAULT_WIDTH 256
#define FTN_SYNTH_DEFAULT_HEIGHT 192

const char *ftn_synth_kind_name(ftn_synth_kind kind); /* "ultrasound", "dermoscopy" */
ftn_status ftn_synth_kind_parse(const char *name, ftn_synth_kind *kind);

ftn_status ftn_synth_write(const char *dir, ftn_synth_kind kind, int n, uint64_t seed, int width, int height);

/* ---- metrics -------------------------------------------------------------------------------- */
/* Per-image segmentation metrics as the paper evaluates them (smooth 1):
 *   DSC = (2TP + 1) / (|pred| + |gt| + 1)      precision = (TP + 1) / (TP + FP + 1)
 *   recall = (TP + 1) / (TP + FN + 1)          IoU = (TP + 1) / (TP + FP + FN + 1)
 * where pred = probability > threshold (default FTN_METRIC_THRESHOLD) and gt = mask > 0.5. With
 * both empty every metric is 1. Means and standard deviations over images use the POPULATION
 * std (÷N, numpy's default). */
#define FTN_METRIC_THRESHOLD 0.5f

typedef struct ftn_metrics {
    double dsc, precision, recall, iou;
    int64_t tp, fp, fn, tn;
} ftn_metrics;

/* Mean and std of each metric over n images (tp/fp/fn/tn of *mean are the sums). */
void ftn_metrics_mean_std(const ftn_metrics *m, int n, ftn_metrics *mean, ftn_metrics *std);

/* ---- evaluation and prediction -------------------------------------------------------------- */
/* Evaluation at each image's original resolution (paper §3; spec "Training and evaluation
 * protocol"). An image is scored as the reference does: converted to the model's channels,
 * resized to the model's input with `mode`, run through the network in inference mode; the LAST
 * output's probability map is upsampled nearest back to the original size, thresholded
 * (> threshold) and compared with the original-size mask (the metrics above). Means and standard
 * deviations over images are population ones (÷N). */
typedef struct ftn_eval_result {
    int n;
    char **ids;             /* n sample ids, in evaluation order */
    ftn_metrics *per_image; /* n */
    ftn_metrics mean, std;  /* tp/fp/fn/tn of mean are sums over images */
    float threshold;
} ftn_eval_result;

/* Scores samples idx[0..n) of ds (idx NULL: every sample, n ignored) in batches of `batch` on
 * `engine` at `precision` (FTN_PRECISION_BF16: bf16 inside the network, as in a bf16 training
 * run's validation; see ftn_precision_check). *out is zeroed first and filled only on success
 * (free with ftn_eval_result_free). */
ftn_status ftn_evaluate(ftn_model *m, const ftn_dataset *ds, const int *idx, int n, float threshold,
                        ftn_resize_mode mode, ftn_engine engine, ftn_precision precision, int batch,
                        ftn_eval_result *out);

/* metrics.csv: header "id,dsc,precision,recall,iou", one line per image (ids quoted when they
 * hold a comma or a quote); summary.json: {"n", "threshold", "mean": {dsc, precision, recall,
 * iou}, "std": {...}}. Either path may be NULL. Missing parent folders are created; both files are
 * written atomically. */
ftn_status ftn_eval_write(const ftn_eval_result *r, const char *csv_path, const char *json_path);
void ftn_eval_result_free(ftn_eval_result *r);

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

/* ---- training ------------------------------------------------------------------------------- */
/* The paper's training protocol (docs/ARCHITECTURE.md, "Training and evaluation protocol"), as one
 * resumable run in a run folder:
 *
 *   RUN/config.json              every option below and the split ("train", "val", "test" ids)
 *   RUN/epochs/NNNN/             the committed epoch (model, optimiser state, log) and the best
 *                                one; the files below are links to them
 *   RUN/log.csv                  epoch,lr,train_loss,val_loss,val_dsc,val_soft_dsc,seconds (one line
 *                                per epoch; runs begun before val_soft_dsc existed keep their format)
 *   RUN/best.safetensors         the weights with the best validation score (`select`; no
 *                                validation: the last)
 *   RUN/last.safetensors         the weights after the last finished epoch,
 *   RUN/last.optim.safetensors   its optimiser state,
 *   RUN/state.json               epochs done, best epoch, its validation score, iteration, shuffle
 *                                scheme and the manifest of the epoch's files (sizes, CRC-32);
 *                                written last, so it is the commit point of an epoch
 *   RUN/test/metrics.csv, RUN/test/summary.json   ftn_evaluate(best, test ids) at the images'
 *                                original resolution.
 *
 * The folder's format is docs/RUN_FOLDER.md's. RUN/report.html is not written here: the
 * report sits above the protocol, so the caller writes it (ftn_report_write) when
 * ftn_train_summary.tested_now says the test results are new.
 *
 * Every file is written atomically, and an epoch's files are committed together: a process killed
 * at any point resumes from the last committed epoch. Training stops, before the epoch is saved,
 * at a step whose loss or update is not finite ("epoch E, step S: loss is nan"). One epoch: the
 * training ids in an order that depends only on (seed, epoch) (Fisher–Yates of the sorted
 * training list with a generator seeded from both), so a resumed run reproduces an uninterrupted
 * one bit for bit (same seed, same threads, same engine); consecutive batches of `batch`, the
 * last one smaller (as Keras' fit: a second session is created for the remainder size, nothing
 * is dropped or padded); then validation at model resolution. */

/* What picks the best checkpoint. */
typedef enum ftn_select {
    FTN_SELECT_DSC,      /* the spec's protocol: mean per-image DSC of the prediction at threshold 0.5 */
    FTN_SELECT_SOFT_DSC  /* the reference's ModelCheckpoint(monitor='val_dsc'): its Keras metric, the
                            soft DSC (2·Σ p·g + 1) / (Σ p + Σ g + 1) of each validation batch's
                            probabilities (no threshold), averaged over batches weighted by their
                            size, as Keras' evaluate does */
} ftn_select;
const char *ftn_select_name(ftn_select s); /* "dsc", "soft-dsc" */
ftn_status ftn_select_parse(const char *name, ftn_select *s);

typedef struct ftn_train_config {
    const char *data;        /* dataset path (see "data sets"); stored absolute in config.json */
    const char *mask_suffix; /* NULL: none */
    int skip_bad;            /* drop unreadable samples: every file is decoded once before training */
    const ftn_dataset *dataset; /* NULL: `data` is opened here; else that data set opened already
                                (not owned; the same options, e.g. by a caller that lists what
                                skip_bad dropped, or one data set for many runs) */
    const char *run_dir;
    const char *model;       /* "attn-unet-mi-ds", ... */
    int channels, height, width;
    ftn_loss_config loss;    /* kind, alpha, beta, gamma (Dice: α = β = 0.5 semantics) */
    int epochs, batch;
    ftn_optimizer_config opt;
    uint64_t seed;           /* model initialisation, split (unless `split`) and shuffles */
    ftn_resize_mode resize;  /* images; masks are always nearest */
    float threshold;         /* for the test metrics; validation DSC always uses 0.5 */
    ftn_select select;       /* the checkpoint criterion (default FTN_SELECT_DSC) */
    double test_split, val_split;
    const ftn_split *split;  /* explicit split (cross-validation); NULL: ftn_split_make */
    ftn_engine engine;
    ftn_precision precision; /* training, validation and test sessions (bf16: mixed precision) */
    int bn_recalibrate;      /* a deviation from the paper: before every validation, the BN running
                                statistics are re-estimated on the training images
                                (ftn_bn_recalibrate). Training itself is unchanged (it uses batch
                                statistics); validation, the checkpoints and the test see the
                                re-estimated statistics. */
    int bn_debias;           /* a deviation from the spec, towards the reference's environment: BN
                                running statistics as zero-debiased moving averages
                                (ftn_bn_debiased_momentum), as Keras 2.1.3–2.2 on TensorFlow 1
                                keeps them; the spec's r = 0.99·r + 0.01·batch from r = (0, 1)
                                otherwise. Training itself is unchanged. */
    int threads;             /* 0: leave as is */
    int resume;              /* continue RUN (a missing or empty RUN starts fresh) */
    int overwrite;           /* replace an existing RUN's files */
} ftn_train_config;

/* The paper's BUS protocol: attn-unet-mi-ds, FTL (0.7, 0.3, 4/3), 100 epochs, batch 16, SGD
 * 0.01 / 0.9 / 1e-6, 128×128×1, nearest, test 0.25, val 0.15, seed 1, threshold 0.5. */
ftn_train_config ftn_train_default(void);

typedef enum ftn_train_phase {
    FTN_PHASE_LOAD,  /* loading the training and validation images */
    FTN_PHASE_STEP,  /* after a training step */
    FTN_PHASE_EPOCH, /* an epoch finished (validation done, checkpoints written) */
    FTN_PHASE_TEST   /* evaluating the best checkpoint on the test ids */
} ftn_train_phase;

typedef struct ftn_train_progress {
    ftn_train_phase phase;
    int epoch, epochs;       /* 1-based epoch */
    int step, steps;         /* 1-based step in the epoch */
    float loss;              /* the step's loss, or the epoch's mean training loss */
    float val_loss, val_dsc; /* FTN_PHASE_EPOCH; NaN without validation */
    float val_soft_dsc;      /* FTN_PHASE_EPOCH; NaN without validation */
    ftn_select select;       /* which of the two picks the best */
    int best;                /* FTN_PHASE_EPOCH: this epoch is the new best */
    double images_per_s;     /* training throughput of this process so far */
    double eta_s;            /* estimated seconds to the end of training */
} ftn_train_progress;
typedef void (*ftn_progress_fn)(const ftn_train_progress *p, void *user);

typedef struct ftn_train_summary {
    int epochs_done, best_epoch; /* best_epoch 1-based */
    float best_val_dsc;          /* the best epoch's score by the run's `select`; NaN without validation */
    int n_train, n_val, n_test;
    int n_trained_now;           /* epochs trained by this call (0 when the run was finished) */
    int tested_now;              /* this call evaluated the test ids (the run's report is due) */
    ftn_metrics test_mean, test_std; /* zero when n_test = 0 */
    double seconds;              /* training time of this call */
} ftn_train_summary;

ftn_status ftn_train_run(const ftn_train_config *cfg, ftn_progress_fn cb, void *user, ftn_train_summary *out);

/* ---- run folders: a run's configuration ----------------------------------------------------- */
/* RUN/config.json as ftn_train_run wrote it (every option of the run and its split), read-only. */
typedef struct ftn_run_config ftn_run_config;

/* Reads RUN/config.json; FTN_EFORMAT unless it holds a JSON object. Free with ftn_run_config_free. */
ftn_status ftn_run_config_load(const char *run_dir, ftn_run_config **out);
void ftn_run_config_free(ftn_run_config *c);

/* String / number options of the run ("model", "resize", "threshold", "batch", …), or
 * `fallback` when absent, of another type, or c is NULL. The string is valid until
 * ftn_run_config_free. */
const char *ftn_run_config_string(const ftn_run_config *c, const char *key, const char *fallback);
double ftn_run_config_number(const ftn_run_config *c, const char *key, double fallback);

/* Opens the run's data set ("data"; a relative path that does not exist as given is tried
 * relative to the run folder) with its "mask_suffix". */
ftn_status ftn_run_config_dataset(const char *run_dir, const ftn_run_config *c, ftn_dataset *ds);

/* The dataset indices of the ids the run lists for `split` ("train", "val" or "test"), in the
 * run's order: malloc'ed into *idx (free()), count in *n. An id not in ds is an error. */
ftn_status ftn_run_config_split(const ftn_run_config *c, const char *split, const ftn_dataset *ds, int **idx,
                                int *n);

/* ---- cross-validation ----------------------------------------------------------------------- */
/* DIR/summary.json of a cross-validation whose `runs` runs (run r in DIR/fold-<r+1>) trained
 * `base` (its model and loss are recorded) and returned sums[0..runs): scheme "kfold" with
 * "folds" when kfold, else "repeat" with "repeats"; per run its test_mean, n_test and
 * best_epoch; and the mean and population std of the runs' test_mean, also returned in *mean and
 * *std. Written atomically. */
ftn_status ftn_cv_summary_write(const char *dir, const ftn_train_config *base, int kfold, int runs,
                                const ftn_train_summary *sums, ftn_metrics *mean, ftn_metrics *std);

/* ---- reports -------------------------------------------------------------------------------- */
/* RUN/report.html: one self-contained page (no external resources) describing a training run.
 *
 * Sections, each omitted with a note saying why when its inputs are missing:
 *   - configuration: every option of RUN/config.json (split arrays as counts);
 *   - test metrics: RUN/test/summary.json (DSC, precision, recall, IoU, mean ± std);
 *   - training curves: train and validation loss, and validation DSC, per epoch (RUN/log.csv),
 *     as inline SVG;
 *   - precision–recall on the test set over thresholds 0.05, 0.10, …, 0.95 (per-image metrics,
 *     smooth 1, averaged over the test images) and mean DSC against the threshold, inline SVG:
 *     predictions of RUN/best.safetensors (else last.safetensors) on the test ids of the data set
 *     named in config.json, at each image's original resolution;
 *   - overlays of the 3 best and 3 worst test cases by DSC (at the run's threshold) as inline
 *     base64 PNG.
 * Written atomically. ftn_train_run never writes it: the caller does, after training. */
ftn_status ftn_report_write(const char *run_dir, ftn_engine engine);

/* ---- benchmarks ----------------------------------------------------------------------------- */
/* Throughput and memory of one network at one size and batch: training / inference speed,
 * effective GFLOP/s against the machine's fp32 peak (an n×n×n oneDNN matmul, the "probe"), and
 * peak resident memory. */
#define FTN_BENCH_MAX_PROFILE 32
/* Inference forwards timed per timed training step. */
#define FTN_BENCH_INFER_PER_STEP 3

/* Best-of-`reps` GFLOP/s of an n×n×n fp32 matmul (oneDNN, plain layouts, the current threads),
 * after one warm-up. */
ftn_status ftn_bench_peak_gflops(int n, int reps, double *gflops);

/* OpenMP threads in use by both engines. */
int ftn_bench_threads(void);

typedef struct ftn_bench_config {
    const char *model;
    int channels, height, width, batch;
    int steps;          /* timed training steps (after one warm-up); inference times
                           FTN_BENCH_INFER_PER_STEP × as many forwards */
    ftn_engine engine;
    bool profile;       /* time the training steps per op kind (separate, extra steps) */
    ftn_precision precision; /* of the session (FTN_PRECISION_BF16: mixed precision) */
    int probe_n;        /* > 0: the peak probe's size, run before every timed step and after the last */
} ftn_bench_config;

typedef struct ftn_bench_result {
    double forward_flops;        /* per image, ftn_model_forward_flops */
    size_t params;
    double train_ips, infer_ips; /* images per second over the timed steps */
    double train_step_s;         /* mean seconds per training step */
    double infer_batch_s;        /* mean seconds per inference forward */
    double train_gflops, infer_gflops; /* effective: ips × forward FLOPs (× 3 for training) / 1e9 */
    /* with cfg.probe_n: the probe's GFLOP/s over the probes run between that phase's timed steps
     * (their total FLOPs over their total time), the peak that phase is compared with */
    double train_peak_gflops, infer_peak_gflops;
    /* mean seconds per training step in each part (separately timed steps) */
    double t_forward, t_loss, t_backward, t_update;
    double rss_session_mib;      /* peak RSS (VmHWM) after creating the model and session */
    double rss_infer_mib;        /* peak RSS after the inference warm-up */
    double rss_train_mib;        /* peak RSS after the training warm-up step, which follows it */
    bool rss_reset;              /* the peak was reset before this model (per-model peaks) */
    float last_loss;
    /* with cfg.profile: per op kind and pass, mean seconds per training step */
    ftn_profile_entry profile[FTN_BENCH_MAX_PROFILE];
    int n_profile;
    /* with cfg.profile: the same per layer (ftn_session_profile_layers), owned; see
     * ftn_bench_result_free */
    ftn_profile_layer *layers;
    int n_layers;
    char *layer_names;           /* the layers' label and after strings (the model is gone) */
} ftn_bench_result;

/* Frees what ftn_bench_model allocated in *r (the per-layer profile). */
void ftn_bench_result_free(ftn_bench_result *r);

/* Creates the model (Glorot init, seed 1) and a session, runs inference then training on
 * synthetic data (uniform images, disc masks), and fills *r. Inference is measured first, on the
 * same session, then training (focal Tversky loss, the paper's SGD). One warm-up of each first
 * (the memory figures are read off them), then the timed steps (cfg.steps, and
 * FTN_BENCH_INFER_PER_STEP × as many forwards), with the peak probe (cfg.probe_n) run before each
 * and after each phase's last; each phase is compared with the probe's rate over that same
 * stretch of time. */
ftn_status ftn_bench_model(const ftn_bench_config *cfg, ftn_bench_result *r);

/* Precision b against cfg->precision, step by step: one model, a session of each, their timed
 * steps alternating (a b, b a, a b, …) so that both meet the same stretches of the machine's
 * rate. cfg->steps pairs of training steps, then FTN_BENCH_INFER_PER_STEP × as many pairs of
 * inference forwards, after one warm-up of each; no probe, no memory figures (the two sessions
 * coexist). */
typedef struct ftn_bench_pair {
    int n_train, n_infer;      /* pairs timed */
    double train[3], infer[3]; /* t_a / t_b per pair (b's speed-up): median, lowest, highest */
} ftn_bench_pair;
ftn_status ftn_bench_interleaved(const ftn_bench_config *cfg, ftn_precision b, ftn_bench_pair *r);

#ifdef __cplusplus
}
#endif
#endif
