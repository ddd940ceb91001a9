/* Segmentation datasets: the layouts, mask rules, ftn_dataset and the functions the commands use
 * are public (ftunet_protocol.h, section "data sets"); per-sample loading, channel conversion and
 * the .npy layout are here. */
#ifndef FTN_DATA_DATASET_H
#define FTN_DATA_DATASET_H
#include <stddef.h>

#include "ftunet_protocol.h"

/* Sample i: the image at its original size and channels, and its mask (1 channel, 0/1 floats,
 * the union of the sample's mask files) at the same size. */
ftn_status ftn_dataset_load(const ftn_dataset *ds, int i, ftn_image *image, ftn_image *mask);

/* ftn_dataset_load_subset of all samples. */
ftn_status ftn_dataset_load_tensors(const ftn_dataset *ds, int channels, int h, int w, ftn_resize_mode mode,
                                    float **images, float **masks, int **orig_hw);

/* Converts an interleaved H×W×src_c image to dst_c channels (1 or 3) as ftn_dataset_load_subset
 * does, into dst. */
void ftn_convert_channels(const float *src, int h, int w, int src_c, float *dst, int dst_c);

/* Internal (dataset_npy.c): the .npy layout. open fills samples and the arrays of out (whose
 * path and max_pixels are set); load copies sample i out of them. */
ftn_status ftn_dataset_open_npy(const char *images_npy, const char *masks_npy, ftn_dataset *out);
ftn_status ftn_dataset_load_npy(const ftn_dataset *ds, int i, ftn_image *image, ftn_image *mask);

#endif
