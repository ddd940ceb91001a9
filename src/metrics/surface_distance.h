/* Boundary metrics: HD95 and the average symmetric surface distance (ASD) of two binary masks, on
 * an exact Euclidean distance transform. The conventions are ftunet_protocol.h's (section
 * "metrics", ftn_metrics_surface); the public entry is ftn_metrics_surface, these are the parts
 * (the overlays use the distance transform to draw outlines of a given width). */
#ifndef FTN_METRICS_SURFACE_DISTANCE_H
#define FTN_METRICS_SURFACE_DISTANCE_H
#include <stddef.h>
#include <stdint.h>

#include "ftunet_protocol.h"

/* out[y·w + x] = squared Euclidean distance from (x, y) to the nearest pixel whose seed is
 * non-zero (0 on the seeds), or INFINITY when there is no seed. Felzenszwalb & Huttenlocher's
 * separable lower-envelope transform (2012), exact, O(w·h). FTN_ENOMEM when scratch memory fails. */
ftn_status ftn_edt_sq(const uint8_t *seed, int w, int h, double *out);

/* boundary[p] = 1 for the pixels of mask (non-zero) with a 4-neighbour outside it; pixels outside
 * the image count as outside, so a mask touching the edge has its boundary there. */
void ftn_mask_boundary(const uint8_t *mask, int w, int h, uint8_t *boundary);

/* HD95 and ASD of masks a and b (w×h, non-zero = inside), in pixels; both NaN when either mask
 * is empty. */
ftn_status ftn_surface_distances(const uint8_t *a, const uint8_t *b, int w, int h, double *hd95, double *asd);

#endif
