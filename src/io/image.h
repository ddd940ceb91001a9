/* Image files in and out: PNG, JPEG and BMP read into float pixels in [0, 1]; PNG written.
 *
 * Reading dispatches on the file's magic bytes, not its name. Pixels come back interleaved
 * H×W×C with C = 1 (greyscale) or 3 (colour):
 *   - greyscale stays 1 channel; grey+alpha drops the alpha (1 channel);
 *   - RGB and RGBA give 3 channels (alpha dropped);
 *   - PNG palettes are expanded to RGB; BMP palettes whose entries are all grey give 1 channel,
 *     others 3;
 *   - 16-bit samples are scaled by 1/65535, 1/2/4-bit samples expanded to the full range.
 * BMP: 1/4/8-bit palette, 16/24/32-bit, bottom-up and top-down, BI_RGB and BI_BITFIELDS
 * (and BI_ALPHABITFIELDS); RLE compression is refused as unsupported.
 *
 * Dimensions are checked against a global pixel limit BEFORE any pixel buffer is allocated. */
#ifndef FTN_IO_IMAGE_H
#define FTN_IO_IMAGE_H
#include <stddef.h>
#include <stdint.h>

#include "ftunet.h"

typedef struct ftn_image {
    int width, height, channels;
    float *data; /* height × width × channels, interleaved, in [0, 1] */
} ftn_image;

/* Largest width × height accepted by the readers (default 100 000 000). 0 restores the default. */
void ftn_image_set_max_pixels(size_t max_pixels);
size_t ftn_image_max_pixels(void);

/* Reads an image. On failure *out is left zeroed and the message names the file and the cause. */
ftn_status ftn_image_read(const char *path, ftn_image *out);
/* The same with an explicit pixel limit (0 = the global one). */
ftn_status ftn_image_read_limit(const char *path, size_t max_pixels, ftn_image *out);

/* Reads only the header: dimensions and the channel count ftn_image_read would return. Cheap;
 * does not check that the pixel data is complete. Applies the pixel limit (0 = global). */
ftn_status ftn_image_probe(const char *path, size_t max_pixels, int *width, int *height, int *channels);

void ftn_image_free(ftn_image *img);

/* Writes an 8-bit PNG (channels 1, 2, 3 or 4; data interleaved H×W×C) to "<path>.tmp.<pid>" and
 * renames it over path, so a reader never sees a half-written file. */
ftn_status ftn_image_write_png(const char *path, int width, int height, int channels, const uint8_t *data);

#endif
