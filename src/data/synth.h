/* Synthetic data sets: the public part (ftn_synth_write and its kinds) is in ftunet_protocol.h,
 * section "synthetic data"; one sample rendered in memory is internal (tests). */
#ifndef FTN_DATA_SYNTH_H
#define FTN_DATA_SYNTH_H
#include <stdint.h>

#include "ftunet_protocol.h"

/* One sample of ftn_synth_write in memory: image (height×width×C bytes, C = 1 or 3 by kind)
 * and mask (height×width bytes, 0/255), caller-allocated. */
void ftn_synth_render(ftn_synth_kind kind, uint64_t seed, int index, int width, int height, uint8_t *image,
                      uint8_t *mask);

#endif
