/* RUN/report.html: ftn_report_write is public (ftunet_protocol.h, section "reports"). The report
 * sits above the protocol (it reads the run folder through protocol/run_folder.h and predicts
 * through protocol/evaluate.h); the training loop never calls it. The overlays are PNGs of
 * io/image.h's ftn_png_encode. */
#ifndef FTN_REPORT_REPORT_H
#define FTN_REPORT_REPORT_H
#include <stddef.h>
#include <stdint.h>

#include "ftunet_protocol.h"

/* Standard base64 (RFC 4648, with padding) of data[0..n): a malloc'ed NUL-terminated string, or
 * NULL when out of memory. */
char *ftn_base64_encode(const uint8_t *data, size_t n);

#endif
