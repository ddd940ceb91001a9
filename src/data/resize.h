/* Resampling of interleaved H×W×C float images.
 *
 *   nearest   source index = floor(dst_index · src_size / dst_size) on each axis (the reference's
 *             resampling; masks are always resized this way so they stay binary);
 *   area      box average: each output pixel is the mean of the source area it covers, with
 *             fractional coverage weighted exactly (any ratio, up or down);
 *   bilinear  align_corners = false, half-pixel centres: src = (dst + 0.5)·src/dst − 0.5,
 *             clamped to the edge; no antialiasing.
 * All three are separable and exact for identity sizes. */
#ifndef FTN_DATA_RESIZE_H
#define FTN_DATA_RESIZE_H
#include "ftunet.h"

typedef enum ftn_resize_mode { FTN_RESIZE_NEAREST, FTN_RESIZE_AREA, FTN_RESIZE_BILINEAR } ftn_resize_mode;

const char *ftn_resize_name(ftn_resize_mode mode); /* "nearest", "area", "bilinear" */
ftn_status ftn_resize_parse(const char *name, ftn_resize_mode *mode);

/* src: sh×sw×c, dst: dh×dw×c (caller-allocated, must not overlap src). */
ftn_status ftn_resize(const float *src, int sh, int sw, int c, float *dst, int dh, int dw, ftn_resize_mode mode);

#endif
