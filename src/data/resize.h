/* Resampling of interleaved H×W×C float images; the modes (ftn_resize_mode, their definitions,
 * names) are public: ftunet_protocol.h, section "resampling". */
#ifndef FTN_DATA_RESIZE_H
#define FTN_DATA_RESIZE_H
#include "ftunet_protocol.h"

/* src: sh×sw×c, dst: dh×dw×c (caller-allocated, must not overlap src). */
ftn_status ftn_resize(const float *src, int sh, int sw, int c, float *dst, int dh, int dw, ftn_resize_mode mode);

#endif
