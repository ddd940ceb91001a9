/* Segmentation datasets: the layouts, mask rules, ftn_dataset and the functions the commands use
 * are public (ftunet_protocol.h, section "data sets"); per-sample loading and channel conversion
 * are here. What the layout files share among themselves is data/dataset_internal.h's. */
#ifndef FTN_DATA_DATASET_H
#define FTN_DATA_DATASET_H
#include <stddef.h>

#include "ftunet_protocol.h"

/* Sample i: the image at its original size and channels, and its mask (1 channel, 0/1 floats,
 * the union of the sample's mask files) at the same size. */
ftn_status ftn_dataset_load(const ftn_dataset *ds, int i, ftn_image *image, ftn_image *mask);

/* Sample i at network size, as ftn_dataset_load_subset lays out each of its samples: the image
 * converted to `channels`, resized with `mode`, planar C×H×W into image; the mask resized nearest
 * (H×W) into mask; orig_hw (optional): the original height and width. Thread-safe. */
ftn_status ftn_dataset_load_sample(const ftn_dataset *ds, int i, int channels, int h, int w, ftn_resize_mode mode,
                                   float *image, float *mask, int *orig_hw);

/* ftn_dataset_load_subset of all samples. */
ftn_status ftn_dataset_load_tensors(const ftn_dataset *ds, int channels, int h, int w, ftn_resize_mode mode,
                                    float **images, float **masks, int **orig_hw);

/* Converts an interleaved H×W×src_c image to dst_c channels (1 or 3) as ftn_dataset_load_subset
 * does, into dst. */
void ftn_convert_channels(const float *src, int h, int w, int src_c, float *dst, int dst_c);

#endif
