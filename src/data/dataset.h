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
#ifndef FTN_DATA_DATASET_H
#define FTN_DATA_DATASET_H
#include <stddef.h>

#include "data/resize.h"
#include "ftunet.h"
#include "io/image.h"

typedef struct ftn_dataset_options {
    const char *mask_suffix; /* an extra mask-name suffix tried first (e.g. "_gt"); NULL: none */
    int skip_bad;            /* drop bad samples and list them instead of failing */
    size_t max_pixels;       /* per-image pixel limit; 0: the global ftn_image_max_pixels() */
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

/* Sample i: the image at its original size and channels, and its mask (1 channel, 0/1 floats,
 * the union of the sample's mask files) at the same size. */
ftn_status ftn_dataset_load(const ftn_dataset *ds, int i, ftn_image *image, ftn_image *mask);

/* Loads samples idx[0..n) (idx NULL: 0..n−1) preprocessed for a network: images N×C×H×W and
 * masks N×1×H×W, float NCHW, malloc'ed. Channels are converted (1→3 replicates the grey,
 * 3→1 is the luminance 0.299 R + 0.587 G + 0.114 B); images are resized with `mode`, masks
 * always nearest (they stay 0/1). orig_hw (optional) receives 2 ints per sample: the original
 * height and width. Samples load in parallel (OpenMP); the first failure is reported. */
ftn_status ftn_dataset_load_subset(const ftn_dataset *ds, const int *idx, int n, int channels, int h, int w,
                                   ftn_resize_mode mode, float **images, float **masks, int **orig_hw);
/* All samples. */
ftn_status ftn_dataset_load_tensors(const ftn_dataset *ds, int channels, int h, int w, ftn_resize_mode mode,
                                    float **images, float **masks, int **orig_hw);

/* Converts an interleaved H×W×src_c image to dst_c channels (1 or 3) as above, into dst. */
void ftn_convert_channels(const float *src, int h, int w, int src_c, float *dst, int dst_c);

typedef struct ftn_dataset_summary {
    int count;
    int min_width, max_width, min_height, max_height;
    int grey_images, colour_images; /* by the images' channel counts */
    int empty_masks;                /* masks with no lesion pixel */
    double lesion_mean, lesion_std; /* lesion-area fraction per image: mean and POPULATION std
                                       (divide by N, as numpy.std) */
    double lesion_min, lesion_max;
} ftn_dataset_summary;

/* Reads every mask (in parallel) to compute the summary. */
ftn_status ftn_dataset_stats(const ftn_dataset *ds, ftn_dataset_summary *out);

/* Internal (dataset_npy.c): the .npy layout. open fills samples and the arrays of out (whose
 * path and max_pixels are set); load copies sample i out of them. */
ftn_status ftn_dataset_open_npy(const char *images_npy, const char *masks_npy, ftn_dataset *out);
ftn_status ftn_dataset_load_npy(const ftn_dataset *ds, int i, ftn_image *image, ftn_image *mask);

#endif
