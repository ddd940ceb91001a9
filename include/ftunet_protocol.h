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

#include <signal.h> /* sig_atomic_t */
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
/* PNG, JPEG, BMP, TIFF and WebP read into float pixels in [0, 1]; PNG written.
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
 * TIFF (libtiff, first page only): 8/16-bit unsigned grey, grey+alpha, RGB, RGBA, striped or
 * tiled, contiguous or separate planes, any compression libtiff decodes, at full precision;
 * MINISWHITE is inverted; other layouts (palette, 1/2/4-bit, YCbCr, CMYK) through libtiff's
 * 8-bit RGBA conversion (1 channel for grey, else 3); the Orientation tag's flips are applied;
 * floating-point and signed samples are refused. libtiff never prints: its messages become
 * the error's (the reader clears libtiff's process-wide error and warning handlers).
 * WebP (libwebp, still images, lossy or lossless): always 3 channels (alpha dropped).
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
 *     Every mask column of a line is merged by union ("image,mask,mask_1"). An image listed on
 *     several lines (one "image,mask" line per mask) is ONE sample, at its first line, whose
 *     masks are the union of all its lines' (images compared after resolving the path:
 *     "./a.png", "a//a.png" and a link to it are one image); a note says which were merged.
 *     Sample ids are the image stems; images of one stem in different folders get the path as
 *     written (relative to the CSV's folder, without extension: "benign/x", "malignant/x").
 *   - a folder with images.npy + masks.npy (float32, as ftn_npy_read_f32 reads): images N×H×W,
 *     N×H×W×C or N×C×H×W (C = 1 or 3; channels-last preferred when ambiguous), masks N×H×W,
 *     N×H×W×1 or N×1×H×W. Values above 1 anywhere mean the 0–255 range (images are divided by
 *     255, masks thresholded at 127.5); otherwise images are taken as [0, 1] and masks
 *     thresholded at 0.5. Sample ids are the indices ("00000", ...).
 *   - ISIC 2018 as downloaded: one <name>_Input/ and one <name>_GroundTruth/ folder;
 *   - nnU-Net's raw layout, 2D PNG variant: dataset.json + imagesTr/CASE_0000.png +
 *     labelsTr/CASE.png. dataset.json's "file_ending" must be ".png" and its "labels" must name
 *     background 0 and at least one label > 0 (v2: {"background": 0, "lesion": 1}; v1's
 *     {"0": "background", "1": "lesion"} too); a lesion pixel is any label > 0 (several
 *     foreground labels are merged by union, and a note says so). One image file per case: a
 *     case with CASE_0001.png (multi-channel) is refused naming it; an RGB CASE_0000.png is
 *     read as colour, as nnU-Net reads natural 2D images. Ids are the case names; imagesTs/ is
 *     ignored. A "numTraining" other than the number of cases found gives a note.
 *   - images beside their masks in one folder tree ("side-by-side", BUSI:
 *     Dataset_BUSI_with_GT/benign/benign (1).png + benign (1)_mask.png [+ _mask_1.png ...]):
 *     tried last, when the tree holds at least one image and one mask by suffix. Subfolders at
 *     any depth are classes: a sample's label is its folder relative to path ("benign",
 *     "a/b"; NULL at the top), its id that folder + "/" + the stem ("benign/benign (1)"; the
 *     stem alone at the top), so ids are unique across classes. Masks are named by a non-empty
 *     suffix only (the "" suffix does not apply: an image is not its own mask); a file whose
 *     stem another file names as its image is an image. Hidden files and folders are skipped,
 *     links are followed, each folder is visited once (link loops end) and at most 16 levels
 *     deep.
 *
 * Folder layouts pair files by stem. Image files have extension .png .jpg .jpeg .bmp .tif
 * .tiff or .webp (any case; hidden files ignored). A mask belongs to image stem S when its stem is S + suffix, or
 * S + suffix + "_<digits>", where suffix is tried in the order: options.mask_suffix,
 * "_segmentation", "_Segmentation", "_mask", "_lesion", "" (exact forms before numbered ones).
 * Several masks for one image (x_mask.png, x_mask_1.png, ...) are merged by union.
 * Samples are sorted by id (strcmp), so the order is deterministic; CSV keeps its line order.
 * Ids are unique in every layout: two samples with one id are an error naming both images.
 *
 * Problems (an image without a mask, a mask without an image, two images with one stem, an
 * unreadable file, a mask whose size differs from its image's) are errors naming the file, or,
 * with options.skip_bad, the sample is dropped and "path: why" is appended to skipped[].
 * notes[] says what was read in a way the user may not expect (merged CSV lines, merged
 * nnU-Net labels); a program should show them. At open only the headers are read (cheap)
 * unless options.verify asks for a full decode.
 *
 * Masks: a pixel is lesion when any channel is > 0.5 after scaling to [0, 1] (more than half
 * the range); a mask file whose largest value is 1 (0/1 label files, 8- or 16-bit) is binary: any
 * non-zero pixel is lesion. With mask_nonzero (nnU-Net) every non-zero pixel is lesion. Masks
 * come back as 0/1 floats. */
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
    FTN_LAYOUT_NPY,
    FTN_LAYOUT_SIDE_BY_SIDE, /* images and masks in one folder tree (BUSI), class = subfolder */
    FTN_LAYOUT_NNUNET        /* nnU-Net's dataset.json + imagesTr/ + labelsTr/ (2D PNG) */
} ftn_dataset_layout;

typedef struct ftn_sample {
    char *id;          /* the image file's stem */
    char *image_path;
    char **mask_paths; /* n_masks ≥ 1 paths, merged by union */
    int n_masks;
    int width, height, channels; /* the image's, from its header */
    char *label;       /* the sample's class (BUSI: the subfolder, "benign"); NULL: none */
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
    int n_notes;
    char **notes;     /* "path: what was done", what was read in a way the user may not expect */
    int mask_nonzero; /* every non-zero mask pixel is lesion (nnU-Net's integer labels) */
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

#define FTN_DATASET_MAX_CLASSES 64

typedef struct ftn_dataset_summary {
    int count;
    int min_width, max_width, min_height, max_height;
    int grey_images, colour_images; /* by the images' channel counts */
    int empty_masks;                /* masks with no lesion pixel */
    int full_masks;                 /* masks with no background pixel */
    double lesion_mean, lesion_std; /* lesion-area fraction per image: mean and POPULATION std
                                       (divide by N, as numpy.std) */
    double lesion_min, lesion_max;
    /* mask files whose set of values is not {0, the format's top} nor {0, 1} (0/128 masks,
     * 0/1/2 labels, grey anti-aliased edges, JPEG masks): read by the usual rule all the same */
    int nonbinary_masks;
    char nonbinary_examples[512];   /* "x.png: values 0, 128, 255; ..." (the first few, in order) */
    /* per class (the samples' labels, sorted by strcmp), when any sample has one; samples
     * without a label are not counted here. label points into ds (valid while ds is open). */
    int n_classes;
    int more_classes;               /* classes beyond FTN_DATASET_MAX_CLASSES, not listed */
    struct {
        const char *label;
        int count, empty_masks;
        double lesion_mean, lesion_std; /* population std */
    } classes[FTN_DATASET_MAX_CLASSES];
} ftn_dataset_summary;

/* Reads every mask (in parallel) to compute the summary. */
ftn_status ftn_dataset_stats(const ftn_dataset *ds, ftn_dataset_summary *out);

/* Empty masks (no lesion pixel by the mask rule above; BUSI's "normal" images). ftn_dataset_empty
 * decodes the masks of samples idx[0..n) (idx NULL: every sample, n ignored) in parallel and sets
 * empty[k] to 1 for those without a lesion pixel, else 0. ftn_dataset_drop_empty removes those
 * samples from ds, keeping the others' order (the .npy arrays compacted with them): *dropped
 * (optional) gets their count and *ids (optional) their ids in order, malloc'ed (NULL when none;
 * free with ftn_dataset_ids_free); on failure ds is unchanged. A data set whose every mask is
 * empty is refused (nothing would remain). */
ftn_status ftn_dataset_empty(const ftn_dataset *ds, const int *idx, int n, unsigned char *empty);
ftn_status ftn_dataset_drop_empty(ftn_dataset *ds, int *dropped, char ***ids);
void ftn_dataset_ids_free(char **ids, int n);

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

/* Splits under constraints: the samples of one group always fall in one part (several images of
 * one patient: none of them may be tested while another trains), and strata (classes) are spread
 * over the parts in proportion. With g NULL, or both lists NULL, these are exactly the functions
 * above (the same split for the same seed).
 *
 * Otherwise the units are the groups (each sample its own without `group`); a unit's stratum is
 * its lowest-indexed sample's. One generator seeded from `seed` shuffles the units of each
 * stratum in turn (strata in ascending order). Random split: per stratum, units are taken in
 * shuffled order into test while its count is below round(test_frac·n_s), then likewise into
 * validation up to round(val_frac·m_s) of the stratum's remaining m_s samples; the rest trains.
 * k-fold: per stratum, each unit in shuffled order goes to the fold with the fewest samples of
 * its stratum so far (ties: the fewest samples overall, then the lowest fold); fold `fold` is the
 * test part (k ≤ the number of units), then the
 * validation is taken from the remaining units per stratum as above. Sizes therefore hit the
 * fractions up to one unit per stratum; at least one training sample must remain. */
typedef struct ftn_split_groups {
    const int *group;   /* n group numbers ≥ 0 (equal numbers: one group); NULL: every sample alone */
    const int *stratum; /* n stratum numbers ≥ 0; NULL: one stratum */
} ftn_split_groups;

ftn_status ftn_split_make_grouped(int n, const ftn_split_groups *g, double test_frac, double val_frac, uint64_t seed,
                                  ftn_split *out);
ftn_status ftn_split_repeat_grouped(int n, const ftn_split_groups *g, double test_frac, double val_frac, uint64_t seed,
                                    int r, ftn_split *out);
ftn_status ftn_split_kfold_grouped(int n, const ftn_split_groups *g, int k, int fold, double val_frac, uint64_t seed,
                                   ftn_split *out);

/* The constraints of a data set: group numbers from the samples' ids by a POSIX extended regular
 * expression (the first parenthesised subexpression that matched, else the whole match, is the
 * group key: "^(case[0-9]+)_" puts case12_a and case12_b together; an id it does not match is an
 * error naming the id), and, with `stratify`, stratum numbers from the samples' labels (a data
 * set without labels is an error; samples without one form their own stratum). group_regex NULL
 * or "": *group = NULL; stratify 0: *stratum = NULL. Arrays malloc'ed (free()). */
ftn_status ftn_dataset_split_groups(const ftn_dataset *ds, const char *group_regex, int stratify, int **group,
                                    int **stratum);

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

/* ---- augmentation --------------------------------------------------------------------------- */
/* Random 2D data augmentation of one network-size sample, as ftn_dataset_load_subset lays it out:
 * the image C×H×W planar in [0, 1], the mask H×W 0/1 (one sample of the N×C×H×W / N×1×H×W
 * tensors). Not part of the paper's protocol (the paper trains without augmentation).
 *
 * Each transform has a probability p_<name> (drawn per sample) and a range. Geometric transforms
 * (flips, quarter turns, rotation, scaling, translation, elastic deformation) are composed into
 * ONE sampling pass: one affine map about the image centre plus an optional displacement field, so
 * the image is interpolated once (bilinear); the mask is interpolated bilinearly from its 0/1
 * values and thresholded (> 0.5), so it stays binary and its boundary lies where the image's
 * does. With the centre at ((W−1)/2, (H−1)/2), content is mirrored, scaled, turned by k·90°,
 * rotated, then shifted: an output pixel p samples the input at
 *     c + F · S⁻¹ · R90⁻ᵏ · R(θ)⁻¹ · (p + d(p) − c − t)
 * (F: flips, S: scale, d: the elastic field, t: the shift). Flips and quarter turns alone (on a
 * square image) are exact permutations of the pixels; quarter turns are clockwise on screen.
 * Samples outside the image follow `border`, for image and mask alike: EDGE (default) the nearest
 * edge pixel (streaks of the edge's values in the corners a rotation uncovers; no new edge), or
 * ZERO: 0 (a black frame: a dark area with a straight edge labelled background, where lesions,
 * in ultrasound, are the dark areas).
 * Intensity transforms touch the image only, in this order: blur, brightness, contrast, gamma,
 * noise, each result clamped to [0, 1]; the same random values apply to every channel (noise
 * excepted: drawn per pixel and channel).
 *
 * The draws of a sample are a pure function of (seed, epoch, sample_index): each transform reads
 * its own splitmix64 stream seeded from the three and the transform, so the output does not
 * depend on thread count, call order or the other transforms' settings. Pass the data-set index
 * of the sample (not its position in a batch). Every function is thread-safe (no global state). */

typedef enum ftn_augment_border { FTN_AUGMENT_BORDER_EDGE, FTN_AUGMENT_BORDER_ZERO } ftn_augment_border;
typedef enum ftn_augment_brightness { FTN_AUGMENT_BRIGHTNESS_ADD, FTN_AUGMENT_BRIGHTNESS_MUL } ftn_augment_brightness;

/* Largest Gaussian sigma (pixels) of blur and the elastic field. */
#define FTN_AUGMENT_MAX_SIGMA 64.0

/* The fields' names are the keys of ftn_augment_set and of the JSON form. A transform whose
 * probability is 0, or whose range is at the identity, is off; "uniform" is over the closed range.
 * Legal values in brackets. */
typedef struct ftn_augment_config {
    /* geometric */
    double p_flip_x;                 /* mirror left–right */
    double p_flip_y;                 /* mirror top–bottom */
    double p_rot90;                  /* turn by k·90°, k uniform in {1, 2, 3} */
    double p_rotate, rotate;         /* angle uniform in [−rotate, rotate] degrees [0, 180] */
    double p_scale, scale_min, scale_max; /* zoom s uniform in [scale_min, scale_max] (0, 10];
                                        s > 1 enlarges the content */
    double p_aniso, aniso;           /* anisotropic: x and y factors each uniform in
                                        [1 − aniso, 1 + aniso], times s [0, 0.9] */
    double p_translate, translate;   /* shift per axis uniform in [−translate, translate] × that
                                        axis' size [0, 1] */
    double p_elastic, elastic_alpha, elastic_sigma; /* elastic deformation: per axis, uniform noise
                                        Gaussian-smoothed with sigma elastic_sigma pixels
                                        (0, FTN_AUGMENT_MAX_SIGMA], scaled so the displacement's
                                        standard deviation is elastic_alpha pixels [0, 100] */
    ftn_augment_border border;       /* "edge" | "zero" */
    /* intensity (image only) */
    double p_brightness, brightness; /* b uniform in [−brightness, brightness] [0, 1]: x + b */
    ftn_augment_brightness brightness_mode; /* "add": x + b; "mul": x·(1 + b) */
    double p_contrast, contrast;     /* f uniform in [1 − contrast, 1 + contrast] [0, 1]: per
                                        channel (x − mean)·f + mean */
    double p_gamma, gamma_min, gamma_max; /* x^g, 0 < gamma_min ≤ gamma_max ≤ 10: g uniform in
                                        [gamma_min, 1] or [1, gamma_max] with even odds (nnU-Net's
                                        draw) when the range holds 1, else in the range */
    double p_noise, noise;           /* additive Gaussian noise, std uniform in [0, noise] [0, 1] */
    double p_blur, blur_min, blur_max; /* Gaussian blur, sigma uniform in [blur_min, blur_max]
                                        pixels [0, FTN_AUGMENT_MAX_SIGMA]; 0: none */
} ftn_augment_config;

/* Presets (probability, range):
 *   none    every probability 0 and every range at the identity: ftn_augment_sample returns
 *           without touching the data. The default (ftn_augment_default).
 *   light   flip_x 0.5, flip_y 0.5; rotate 0.5, ±15°; scale 0.5, 0.9–1.1;
 *           brightness 0.5, ±0.1 add; contrast 0.5, ±0.1; edge border; the rest off.
 *   strong  (nnU-Net-like) flip_x 0.5, flip_y 0.5; rotate 0.2, ±30°; scale 0.2, 0.7–1.4;
 *           aniso 0.1, 0.1; translate 0.2, 0.1; elastic 0.2, alpha 2 px, sigma 10 px;
 *           brightness 0.15, ±0.25 mul; contrast 0.15, ±0.25; gamma 0.3, 0.7–1.5;
 *           noise 0.1, std ≤ 0.05; blur 0.2, sigma 0.5–1; rot90 off; edge border. */
ftn_augment_config ftn_augment_default(void);
ftn_status ftn_augment_preset(const char *name, ftn_augment_config *out); /* "none", "light", "strong" */

/* Sets one field by its key from text ("rotate", "30"; "border", "zero"); the value is checked
 * against the key's range, and the message names the key ("rotate=300: expected a number from 0
 * to 180"). Keys are the field names above; an unknown key's message lists them all. Checks
 * between keys (scale_min ≤ scale_max, …) are ftn_augment_check's. */
ftn_status ftn_augment_set(ftn_augment_config *c, const char *key, const char *value);
/* "KEY=VALUE[,KEY=VALUE…]": ftn_augment_set for each, in order, then ftn_augment_check. */
ftn_status ftn_augment_set_list(ftn_augment_config *c, const char *assignments);
/* Every field in its range and each min ≤ its max; the message names the key. */
ftn_status ftn_augment_check(const ftn_augment_config *c);
/* 1 when every transform is off (preset none): ftn_augment_sample leaves the data alone. */
int ftn_augment_is_identity(const ftn_augment_config *c);

/* Floats of scratch ftn_augment_sample needs for one C×H×W sample: (C + 4)·H·W. */
size_t ftn_augment_scratch_floats(int channels, int h, int w);

/* Augments one sample in place: image C×H×W planar in [0, 1], mask H×W 0/1 (NULL: image only).
 * scratch: ftn_augment_scratch_floats(channels, h, w) floats, or NULL (allocated here). The
 * config is checked (ftn_augment_check) first; an identity config returns at once. */
ftn_status ftn_augment_sample(const ftn_augment_config *c, uint64_t seed, int epoch, int sample_index, float *image,
                              int channels, int h, int w, float *mask, float *scratch);
/* ftn_augment_sample on n samples of images N×C×H×W and masks N×1×H×W (NULL: none), sample i with
 * sample_index index[i] (index NULL: i), in parallel (OpenMP): the same bytes as one call per
 * sample in any order. */
ftn_status ftn_augment_batch(const ftn_augment_config *c, uint64_t seed, int epoch, const int *index, int n,
                             float *images, int channels, int h, int w, float *masks);

/* The JSON form: one object with every key (numbers, and strings for border and brightness_mode),
 * as run folders record it. *json is malloc'ed (free()). Reading refuses unknown keys and values
 * out of range naming the key; absent keys take preset none's values. */
ftn_status ftn_augment_to_json(const ftn_augment_config *c, char **json);
ftn_status ftn_augment_from_json(const char *json, ftn_augment_config *out);

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
    int gt_empty; /* of one image: 1 when its ground truth has no lesion pixel (tp + fn = 0) */
    double hd95, asd; /* boundary distances in pixels (ftn_metrics_surface); NaN: undefined or not computed */
} ftn_metrics;

/* Boundary metrics of one image, at its original resolution, in pixels, into m->hd95 and m->asd
 * (the rest of *m untouched): prediction = prob > threshold, ground truth = gt > 0.5, w×h each.
 *   boundary   the pixels of a mask with a 4-neighbour outside it (outside the image counts as
 *              outside), as MONAI's get_mask_edges (erosion by a cross);
 *   distances  from every boundary pixel of one mask to the nearest boundary pixel of the other,
 *              Euclidean between pixel centres (an exact distance transform), both directions
 *              pooled;
 *   HD95       the 95th percentile of the pooled distances, linear between order statistics
 *              (numpy's default; medpy's hd95; MONAI takes the larger of the two directed 95th
 *              percentiles instead, which is never smaller);
 *   ASD        their mean (the average symmetric surface distance of Heimann et al. 2009).
 * Either mask empty: both NaN (undefined, as MONAI's), left out of means and counted apart
 * (ftn_metrics_groups.n_surface, n_surface_one_empty). ftn_metrics_compute sets them NaN. */
ftn_status ftn_metrics_surface(ftn_metrics *m, const float *prob, const float *gt, int w, int h, float threshold);

/* Mean and std of each metric over n images (tp/fp/fn/tn and gt_empty of *mean are the sums:
 * gt_empty counts the images with an empty ground truth); hd95 and asd over the images where
 * they are defined (NaN when none is). */
void ftn_metrics_mean_std(const ftn_metrics *m, int n, ftn_metrics *mean, ftn_metrics *std);

/* Images with a lesion and images with an empty ground truth, apart. Smooth 1 scores an empty
 * prediction of an empty mask 1 on every metric, so a set with many empty masks (BUSI's 133
 * "normal" images) lifts the mean over all images; that mean stays the paper's protocol and the
 * headline figure, these say what it is made of. */
typedef struct ftn_metrics_groups {
    int n_lesion;                        /* images whose ground truth has a lesion pixel */
    ftn_metrics lesion_mean, lesion_std; /* over those only (population std); zero when n_lesion = 0 */
    int n_empty;                         /* images with an empty ground truth */
    int n_empty_fp;                      /* of those, the ones with any pixel predicted (fp > 0) */
    double empty_fp_rate;                /* n_empty_fp / n_empty, the false-positive rate; 0 when n_empty = 0 */
    int n_surface;                       /* images with hd95 and asd defined (both masks non-empty) */
    int n_surface_one_empty;             /* images with exactly one of prediction and ground truth empty:
                                            a missed lesion or a false positive, hd95 and asd NaN */
} ftn_metrics_groups;

/* The groups of n per-image metrics (by their gt_empty). */
void ftn_metrics_groups_compute(const ftn_metrics *m, int n, ftn_metrics_groups *out);

/* ---- prediction ----------------------------------------------------------------------------- */
/* Prediction with options beyond the paper's protocol (ftn_predict_image is the protocol's, and
 * ftn_predict_default() gives exactly its probabilities): test-time flips, ensembles of
 * checkpoints, bilinear upsampling of the probability map, and keeping the largest lesion.
 *
 * Per network: the image is converted and resized to that network's own input (`resize`), and,
 * with FTN_TTA_FLIPS, run as itself and mirrored left–right, top–bottom and both; each mirrored
 * output is mirrored back and the four are averaged, at the network's output resolution. That map
 * is upsampled to the image's size (`upsample`). An ensemble's probability is the mean of its
 * networks' upsampled maps, so networks of different input sizes (or channels) combine at the
 * original resolution. Both upsamplings are linear, so averaging before or after them is the same. */
typedef enum ftn_tta { FTN_TTA_NONE, FTN_TTA_FLIPS } ftn_tta;
typedef enum ftn_upsample {
    FTN_UPSAMPLE_NEAREST, /* source index floor(d·src/dst): the paper's protocol */
    FTN_UPSAMPLE_BILINEAR /* align_corners = false (half-pixel centres), clamped at the edges */
} ftn_upsample;
const char *ftn_tta_name(ftn_tta t);                         /* "none", "flips" */
ftn_status ftn_tta_parse(const char *name, ftn_tta *t);
const char *ftn_upsample_name(ftn_upsample u);               /* "nearest", "bilinear" */
ftn_status ftn_upsample_parse(const char *name, ftn_upsample *u);

typedef struct ftn_predict_config {
    ftn_resize_mode resize;  /* the image to each network's input (default nearest) */
    ftn_tta tta;             /* default none */
    ftn_upsample upsample;   /* default nearest */
    float threshold;         /* ftn_predict_mask: lesion where probability > threshold (0.5) */
    int largest_component;   /* ftn_predict_mask keeps only the largest 8-connected lesion (0) */
} ftn_predict_config;
ftn_predict_config ftn_predict_default(void);

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
    ftn_metrics mean, std;  /* over all n images, the paper's protocol; tp/fp/fn/tn of mean are sums */
    float threshold;
    ftn_metrics_groups groups; /* lesion images and empty ground truths apart */
    char **labels;          /* n sample labels (NULL entries: none), or NULL when no sample has one */
    int has_predict;        /* from ftn_evaluate_predict: predict and n_models say how (summary.json "predict") */
    ftn_predict_config predict;
    int n_models;
} ftn_eval_result;

/* Scores samples idx[0..n) of ds (idx NULL: every sample, n ignored) in batches of `batch` on
 * `engine` at `precision` (FTN_PRECISION_BF16: bf16 inside the network, as in a bf16 training
 * run's validation; see ftn_precision_check). *out is zeroed first and filled only on success
 * (free with ftn_eval_result_free). */
ftn_status ftn_evaluate(ftn_model *m, const ftn_dataset *ds, const int *idx, int n, float threshold,
                        ftn_resize_mode mode, ftn_engine engine, ftn_precision precision, int batch,
                        ftn_eval_result *out);

/* ftn_evaluate with prediction beyond the protocol: each sample's probability map comes from
 * ftn_predict_ensemble(sessions, n_sessions, cfg) (test-time flips, an ensemble, bilinear
 * upsampling; see "prediction" above), one image at a time, and is scored at cfg->threshold;
 * with cfg->largest_component the mask kept by ftn_predict_mask is what is scored. With one
 * session of batch 1 and ftn_predict_default() (resize as ftn_evaluate's mode) the metrics are
 * ftn_evaluate's at batch 1. progress (optional) is called after each image with the count done
 * and n. The result records cfg and n_sessions (summary.json's "predict" object). */
typedef void (*ftn_eval_progress_fn)(void *user, int done, int n);
ftn_status ftn_evaluate_predict(ftn_session *const *sessions, int n_sessions, const ftn_predict_config *cfg,
                                const ftn_dataset *ds, const int *idx, int n, ftn_eval_progress_fn progress, void *user,
                                ftn_eval_result *out);

/* metrics.csv: header "id,dsc,precision,recall,iou,gt_empty,hd95,asd" (",label" added when
 * r->labels), one line per image (ids and labels quoted when they hold a comma or a quote;
 * gt_empty 0 or 1; hd95 and asd "nan" where undefined); summary.json: {"n", "threshold", "mean":
 * {dsc, precision, recall, iou, hd95, asd}, "std": {...}, then the groups: "n_lesion",
 * "lesion_mean", "lesion_std", "n_empty", "n_empty_fp", "empty_fp_rate", "n_surface",
 * "n_surface_one_empty", and from ftn_evaluate_predict "predict": {models, tta, resize, upsample,
 * largest_component}} (hd95 and asd null where no image has them). Either path may be NULL. Missing parent folders are created; both files are
 * written atomically. */
ftn_status ftn_eval_write(const ftn_eval_result *r, const char *csv_path, const char *json_path);
void ftn_eval_result_free(ftn_eval_result *r);

/* Prediction for one image: probabilities at the image's original size, H×W, malloc'ed into
 * *prob (free()). The image goes into slot 0 of the session's batch (other slots zero). */
ftn_status ftn_predict_image(ftn_session *s, const ftn_image *img, ftn_resize_mode mode, float **prob);

/* Overlay colours (RGB): magenta prediction, green ground truth (apart for colour-blind eyes
 * too: they differ in lightness and in the red–green and blue–yellow axes). */
#define FTN_OVERLAY_PRED_R 255
#define FTN_OVERLAY_PRED_G 0
#define FTN_OVERLAY_PRED_B 255
#define FTN_OVERLAY_GT_R 0
#define FTN_OVERLAY_GT_G 230
#define FTN_OVERLAY_GT_B 64
#define FTN_OVERLAY_TINT 0.25f /* weight of the prediction colour inside the predicted lesion */

/* Colour overlay into rgb (H×W×3 bytes) of an image (1 or 3 channels, values in [0, 1]):
 * greyscale/colour base; pixels with pred > threshold lightly tinted with the prediction colour
 * (FTN_OVERLAY_TINT); two outlines of width t = max(1, round(max(W, H) / 200)) pixels, so that
 * they stay visible in a scaled-down view: the prediction's just INSIDE its region (pixels within
 * t of a pixel outside it; outside the image counts as outside), the ground truth's (gt > 0.5)
 * just OUTSIDE its region (pixels within t of a ground-truth pixel), drawn last. A prediction that
 * matches the ground truth thus shows both outlines side by side, magenta within green. pred or
 * gt may be NULL (not drawn). */
void ftn_overlay_rgb(const ftn_image *img, const float *pred, float threshold, const float *gt, uint8_t *rgb);


/* The probability map of img at its own size (H×W, malloc'ed into *prob, free()) from n ≥ 1
 * sessions (any models, sizes, channels; one engine or several) as described above. A session
 * of batch ≥ 4 runs the four flips in one forward; other slots hold zeros. */
ftn_status ftn_predict_ensemble(ftn_session *const *sessions, int n, const ftn_image *img, const ftn_predict_config *cfg,
                                float **prob);
/* The binary mask (0/1 bytes, h×w) of a probability map: prob > cfg->threshold, then with
 * cfg->largest_component only the largest 8-connected lesion. *area (optional): lesion pixels. */
ftn_status ftn_predict_mask(const float *prob, int h, int w, const ftn_predict_config *cfg, uint8_t *mask, size_t *area);

/* The helpers behind them. Mirror of a planar c×h×w array (flip_x: left–right, flip_y:
 * top–bottom; both 0: a copy); its own inverse. src and dst must not overlap. */
void ftn_flip_planar(const float *src, int c, int h, int w, int flip_x, int flip_y, float *dst);
/* A single-channel h×w map to dh×dw (dst caller-allocated). */
ftn_status ftn_upsample_prob(const float *src, int h, int w, float *dst, int dh, int dw, ftn_upsample mode);
/* Keeps the largest 8-connected component of non-zero pixels of mask (h×w), zeroing the others
 * (of components of equal size, the one reached first in row-major order is kept); *kept
 * (optional): its size, 0 for an empty mask. */
ftn_status ftn_largest_component(uint8_t *mask, int h, int w, size_t *kept);

/* The checkpoints a path names for prediction: a file is itself; a folder with
 * fold-N/best.safetensors files (a cross-validation, `ftunet cv`) is those, by fold number N; a
 * folder with best.safetensors (a run) is that.
 * *paths malloc'ed (free with ftn_paths_free); FTN_EINVAL naming the path when it is none of these. */
ftn_status ftn_checkpoint_paths(const char *path, char ***paths, int *n);
void ftn_paths_free(char **paths, int n);

/* ---- training ------------------------------------------------------------------------------- */
/* The paper's training protocol (docs/ARCHITECTURE.md, "Training and evaluation protocol"), as one
 * resumable run in a run folder:
 *
 *   RUN/config.json              every option below and the split ("train", "val", "test" ids)
 *   RUN/epochs/NNNN/             the committed epoch (model, optimiser state, log) and the best
 *                                one; the files below are links to them
 *   RUN/log.csv                  epoch,lr,train_loss,val_loss,val_dsc,val_soft_dsc,seconds (one line
 *                                per epoch, lr the rate the epoch's first update used; runs begun
 *                                before val_soft_dsc existed keep their format)
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
    const ftn_split *split;  /* explicit split (cross-validation); NULL: ftn_split_make_grouped */
    const char *group_regex; /* samples whose ids give one group key never straddle the split
                                (ftn_dataset_split_groups); NULL or "": none */
    int stratify;            /* classes (sample labels) spread over the parts in proportion */
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
    int exclude_empty;       /* not the paper's protocol: samples whose mask has no lesion pixel are
                                dropped before the split (ftn_dataset_drop_empty); config.json
                                records it ("exclude_empty") and their ids ("excluded") */
    const char *const *excluded; /* with `dataset` and exclude_empty: the caller dropped them from
                                that data set already (ftn_dataset_drop_empty) and these are their */
    int n_excluded;              /* ids, for config.json; unused otherwise */
    /* Beyond the paper's protocol (every default here is the paper's): */
    const char *recipe;      /* the named preset these options started from (ftn_train_recipe),
                                recorded in config.json; NULL: "paper" */
    ftn_augment_config augment; /* of every training batch, never of validation or test: each
                                batch is copied from the training images and sample i augmented
                                with (seed, epoch 1-based, the sample's data-set index), so the
                                draws do not depend on the batch it falls in (`ftunet augment
                                --seed S --epoch E` at the run's size shows them, exclude_empty
                                aside, which renumbers the samples). Default preset none: the
                                batch as loaded, the paper's protocol. */
    int warmup_epochs;       /* linear warm-up over this many epochs' updates (opt.warmup) */
    int schedule_epochs;     /* poly and cosine: the epochs the schedule spans (0: `epochs`); the
                                run sets opt.warmup and opt.total_iterations from these two and its
                                updates per epoch. Recorded in config.json, so a resume with more
                                epochs does not silently stretch the schedule. */
    const char *init;        /* fine-tuning: a new run starts from this checkpoint's weights and BN
                                running statistics (ftn_model_load_weights: same model and channels,
                                any input size) instead of the seed's initialisation; config.json
                                records its absolute path and CRC-32 ("init"), which a resume must
                                match. NULL or "": the seed's initialisation */
    volatile sig_atomic_t *stop; /* a stop request, e.g. set by the caller's SIGINT handler (the
                                library installs none); NULL: none. Read after every training step:
                                when non-zero, training finishes that step, saves the epoch in
                                progress (RUN/partial/, see docs/RUN_FOLDER.md) and returns
                                FTN_EINTERRUPTED ("RUN: interrupted at epoch E, step S of N"); a
                                resume continues at the next step, bit-identical to a run never
                                interrupted. Set between epochs (validation) or before the test, it
                                stops there with nothing more to save. */
    const ftn_comm *comm;     /* the processes this run is spread over (mpirun: ftn_mpi_start), NULL:
                                one. Every process calls ftn_train_run with the same config; each
                                trains on its slice of every batch (src/dist/), process 0 alone
                                writes the run folder, validates and tests. Not in config.json: a
                                resume may use any number of processes. */
    /* The streaming data pipeline (they change how fast, never what is trained: config.json
     * records them, a resume may change them): the training, validation and BN re-estimation
     * batches are decoded, resized and augmented by worker threads while the previous step
     * computes, through a decode cache of samples at network size, bounded by cache_mb (fill
     * once: what does not fit is read from disk again each time), so a run's memory does not
     * grow with the data set. The batches are bit for bit those of loading the data set into
     * memory, whatever these two are. */
    int cache_mb;            /* MiB of decoded samples (default FTN_TRAIN_DEFAULT_CACHE_MB; 0: none) */
    int loader_threads;      /* worker threads (default FTN_TRAIN_DEFAULT_LOADER_THREADS; 0: the
                                training thread loads each batch when it needs it) */
} ftn_train_config;

/* 2048 MiB holds both of the paper's data sets whole at network size: a sample takes (C + 1)·H·W
 * floats, ISIC 2018's 2,594 at 192×256×3 take 2,594 × 786,432 B = 1,946 MiB, BUS dataset B's 163
 * at 128×128×1 20 MiB. */
#define FTN_TRAIN_DEFAULT_CACHE_MB 2048
#define FTN_TRAIN_DEFAULT_LOADER_THREADS 2

/* The paper's BUS protocol: attn-unet-mi-ds, FTL (0.7, 0.3, 4/3), 100 epochs, batch 16, SGD
 * 0.01 / 0.9 / 1e-6, 128×128×1, nearest, test 0.25, val 0.15, seed 1, threshold 0.5. */
ftn_train_config ftn_train_default(void);

/* Named recipes: sets the fields a recipe covers (loss, opt, augment, warmup_epochs,
 * schedule_epochs, recipe) and leaves the rest (data, model, size, epochs, batch, …); options
 * applied afterwards override it. "paper": ftn_train_default's (FTL, SGD 0.01 / 0.9 / 1e-6
 * inverse-time, no augmentation). "strong", a proposal after nnU-Net (Isensee et al. 2021), to
 * be settled by validation runs (src/protocol/recipe.c is the one place it is defined): SGD with
 * Nesterov momentum 0.99, lr 0.01, poly 0.9 schedule per update, L2 weight decay 3e-5; Dice+BCE
 * (weights 1, 1) with nnU-Net's deep-supervision weights (halving per resolution, the lowest 0,
 * normalised: out1..out4 0, 1/7, 2/7, 4/7); augmentation preset strong. FTN_EINVAL for another
 * name. */
ftn_status ftn_train_recipe(const char *name, ftn_train_config *cfg);

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
    ftn_metrics_groups test_groups; /* the test images with a lesion and with an empty ground truth
                                apart (RUN/test/summary.json's); zero when n_test = 0 or that file
                                predates them (n_lesion + n_empty ≠ n_test) */
    int n_excluded;              /* samples exclude_empty dropped */
} ftn_train_summary;

ftn_status ftn_train_run(const ftn_train_config *cfg, ftn_progress_fn cb, void *user, ftn_train_summary *out);

/* Where a run stands (RUN/state.json): the epochs it has committed and, when an interruption
 * saved the next epoch in progress, the steps of it done (*partial_steps, 0: none). A run
 * without state.json has done nothing: 0 and 0. */
ftn_status ftn_train_read_progress(const char *run_dir, int *epochs_done, int *partial_steps);

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

/* The options the run was made with, as an ftn_train_config a resume passes again (`ftunet train
 * --resume RUN`): data, model, size, loss, optimiser and schedule (its recorded length kept as
 * schedule_epochs, so more epochs do not stretch it), augmentation, seed, splits' fractions,
 * precision, BN options, init, mask suffix, skip_bad, group regex, stratify, exclude_empty; keys
 * of a run made before they existed take ftn_train_default's values. Not set: run_dir, resume,
 * engine, threads, dataset, split (the ids: ftn_run_config_split), excluded. The strings point
 * into c (valid until ftn_run_config_free). FTN_EFORMAT naming a key of an unknown value. */
ftn_status ftn_run_config_train(const ftn_run_config *c, ftn_train_config *cfg);

/* ---- cross-validation ----------------------------------------------------------------------- */
/* DIR/summary.json of a cross-validation whose `runs` runs (run r in DIR/fold-<r+1>) trained
 * `base` (its model and loss are recorded) and returned sums[0..runs): scheme "kfold" with
 * "folds" when kfold, else "repeat" with "repeats", and "exclude_empty"; per run its test_mean,
 * n_test, best_epoch and test_groups (n_lesion, lesion_mean, n_empty, empty_fp_rate); and the
 * mean and population std of the runs' test_mean, also returned in *mean and *std. Written
 * atomically. */
ftn_status ftn_cv_summary_write(const char *dir, const ftn_train_config *base, int kfold, int runs,
                                const ftn_train_summary *sums, ftn_metrics *mean, ftn_metrics *std);

/* ---- reports -------------------------------------------------------------------------------- */
/* RUN/report.html: one self-contained page (no external resources) describing a training run.
 *
 * Sections, each omitted with a note saying why when its inputs are missing:
 *   - provenance: the commit and machine of the run's first session under the title, every
 *     session in a table (RUN/provenance.json, written by ftn_train_run);
 *   - the test images: every column of RUN/test/metrics.csv in a table sortable by its headings
 *     (inline script; readable without it; report.html#sort=COLUMN or #sort=-COLUMN opens it
 *     sorted) and a histogram of their DSC (inline SVG);
 *   - the split: the train, val and test ids of config.json, collapsible;
 *   - configuration: every option of RUN/config.json (split arrays as counts);
 *   - test metrics: RUN/test/summary.json (DSC, precision, recall, IoU, HD95, ASD, mean ± std over all
 *     images, the paper's protocol, beside the lesion images only; the empty ground truths'
 *     count and false-positive rate);
 *   - training curves: train and validation loss, validation DSC, learning rate and seconds per
 *     epoch (RUN/log.csv), as inline SVG;
 *   - precision–recall on the test set over thresholds 0.05, 0.10, …, 0.95 (per-image metrics,
 *     smooth 1, averaged over the test images) and mean DSC against the threshold, inline SVG:
 *     predictions of RUN/best.safetensors (else last.safetensors) on the test ids of the data set
 *     named in config.json, at each image's original resolution;
 *   - overlays of the 3 best and 3 worst test cases by DSC (at the run's threshold) among the
 *     images with a lesion, and of the (up to 3) empty ground truths with the most false-positive
 *     pixels, as inline base64 PNG (ftn_overlay_rgb).
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
    const ftn_augment_config *augment; /* non-NULL: before every timed training step, a batch is
                           assembled as training does (copied from a pool of images and masks,
                           then ftn_augment_batch) and the step trains on it; that time is
                           measured apart (augment_batch_s), interleaved with the steps */
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
    /* with cfg.augment: mean seconds to assemble and augment one batch, over the same stretch as
     * train_step_s (so augment_batch_s / train_step_s is its cost per step) */
    double augment_batch_s;
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

/* The streaming loader against batches from memory (`ftunet bench --augment`): a synthetic data
 * set of (steps + 1)·batch images at 192×256 on disk (ultrasound for 1 channel, dermoscopy for 3)
 * is written to a temporary folder ($TMPDIR or /tmp; removed afterwards), and cfg's model trains
 * on the same batches (the ids in order, augmented with cfg.augment at epoch 1, seed 1) fed four
 * ways, one after the other, each after one untimed batch: from memory (decoded and augmented
 * beforehand), by the loader with loader_threads workers and a warm cache (every sample cached
 * by an untimed pass), with no cache (every sample decoded from disk, a cold cache's cost), and
 * from memory again. A step's time includes waiting for its batch. */
typedef struct ftn_bench_loader_result {
    int images, threads;         /* the data set's size, the loader's workers */
    double memory_step_s;        /* mean seconds per step fed from memory (both memory phases) */
    double warm_step_s, cold_step_s; /* fed by the loader, warm and cold cache */
    double memory_ips, warm_ips, cold_ips; /* images per second of those steps */
    double decode_sample_s;      /* one sample decoded, resized and augmented, on one thread */
} ftn_bench_loader_result;
ftn_status ftn_bench_loader(const ftn_bench_config *cfg, int loader_threads, ftn_bench_loader_result *r);

/* One session (cfg's model, size, batch, engine, precision; seed-1 weights, synthetic data, the
 * loss and SGD of ftn_bench_model) whose training steps and inference forwards run one at a
 * time when the caller asks: `ftunet bench --step-server`, which scripts/bench_vs_pytorch.py
 * interleaves with PyTorch's steps. Create runs one untimed forward and training step. */
typedef struct ftn_bench_stepper ftn_bench_stepper;
ftn_status ftn_bench_stepper_create(const ftn_bench_config *cfg, ftn_bench_stepper **out);
/* One training step (train) or inference forward; *seconds its wall time. */
ftn_status ftn_bench_stepper_run(ftn_bench_stepper *p, bool train, double *seconds);
void ftn_bench_stepper_free(ftn_bench_stepper *p);

/* ---- processes (MPI) ------------------------------------------------------------------------ */
/* Process 0's parameters, optimiser state and iteration on every process of comm (the start of a
 * data-parallel run: every process then trains the same model). NULL or one process: nothing. */
ftn_status ftn_dist_broadcast_model(const ftn_comm *comm, ftn_model *m);
/* After a data-parallel ftn_train_run failed: 1 when another process's failure stopped this one
 * (its message is the other's to print), and 1 when every process stopped at the same point
 * (none waits for another: they may end normally). */
int ftn_dist_peer_failed(void);
int ftn_dist_failed_together(void);
/* Builds with FTUNET_MPI (src/dist/mpi_comm.c, defined there only): *out is MPI_COMM_WORLD as an
 * ftn_comm when a launcher (mpirun, mpiexec, srun) started this process, else NULL (MPI is not
 * started). ftn_mpi_stop ends MPI; ftn_mpi_abort ends every process of the group (after one
 * failed, the others would wait for it forever). */
ftn_status ftn_mpi_start(int *argc, char ***argv, const ftn_comm **out);
void ftn_mpi_stop(void);
void ftn_mpi_abort(int code);

#ifdef __cplusplus
}
#endif
#endif
