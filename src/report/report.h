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
 * Written atomically. */
#ifndef FTN_REPORT_REPORT_H
#define FTN_REPORT_REPORT_H
#include <stddef.h>
#include <stdint.h>

#include "ftunet.h"

ftn_status ftn_report_write(const char *run_dir, ftn_engine engine);

/* Standard base64 (RFC 4648, with padding) of data[0..n): a malloc'ed NUL-terminated string, or
 * NULL when out of memory. */
char *ftn_base64_encode(const uint8_t *data, size_t n);

/* An 8-bit PNG (channels 1..4, interleaved rows) encoded in memory: *png malloc'ed (free()). */
ftn_status ftn_png_encode(int width, int height, int channels, const uint8_t *data, uint8_t **png, size_t *size);

#endif
