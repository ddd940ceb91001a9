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
 * height 0 pick the default 256×192. */
#ifndef FTN_DATA_SYNTH_H
#define FTN_DATA_SYNTH_H
#include <stdint.h>

#include "ftunet.h"

typedef enum ftn_synth_kind { FTN_SYNTH_ULTRASOUND, FTN_SYNTH_DERMOSCOPY } ftn_synth_kind;

#define FTN_SYNTH_DEFAULT_WIDTH 256
#define FTN_SYNTH_DEFAULT_HEIGHT 192

const char *ftn_synth_kind_name(ftn_synth_kind kind); /* "ultrasound", "dermoscopy" */
ftn_status ftn_synth_kind_parse(const char *name, ftn_synth_kind *kind);

ftn_status ftn_synth_write(const char *dir, ftn_synth_kind kind, int n, uint64_t seed, int width, int height);

/* One sample in memory: image (height×width×C bytes, C = 1 or 3 by kind) and mask
 * (height×width bytes, 0/255), caller-allocated. */
void ftn_synth_render(ftn_synth_kind kind, uint64_t seed, int index, int width, int height, uint8_t *image,
                      uint8_t *mask);

#endif
