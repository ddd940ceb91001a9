/* Image files in and out: the formats, ftn_image, ftn_image_read_limit and ftn_image_write_png
 * are public (ftunet_protocol.h, section "images"); the global pixel limit, the other readers and
 * in-memory PNG encoding are here. */
#ifndef FTN_IO_IMAGE_H
#define FTN_IO_IMAGE_H
#include <stddef.h>
#include <stdint.h>

#include "ftunet_protocol.h"

/* Largest width × height accepted by the readers (default 100 000 000). 0 restores the default. */
void ftn_image_set_max_pixels(size_t max_pixels);
size_t ftn_image_max_pixels(void);

/* Reads an image. On failure *out is left zeroed and the message names the file and the cause. */
ftn_status ftn_image_read(const char *path, ftn_image *out);

/* Reads only the header: dimensions and the channel count ftn_image_read would return. Cheap;
 * does not check that the pixel data is complete. Applies the pixel limit (0 = global). */
ftn_status ftn_image_probe(const char *path, size_t max_pixels, int *width, int *height, int *channels);

/* The PNG of ftn_image_write_png encoded in memory: *png malloc'ed (free()), *size its bytes. */
ftn_status ftn_png_encode(int width, int height, int channels, const uint8_t *data, uint8_t **png, size_t *size);

#endif
