/* libFuzzer target: the image readers (PNG, JPEG, BMP, TIFF through libtiff, WebP through libwebp;
 * src/io/image.c; make_seeds.c gives striped, tiled, 8- and 16-bit TIFFs), through the library's own
 * entry points ftn_image_probe and ftn_image_read_limit, with the library's pixel limit set to
 * 2048 × 2048 so a header claiming a huge image is refused before any pixel buffer exists
 * (the fuzzer would otherwise run out of memory on valid but enormous images). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "io/image.h"

#define FUZZ_MAX_PIXELS ((size_t)2048 * 2048)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path("input.img");
    fuzz_write(path, data, size, 0);
    int w = 0, h = 0, c = 0;
    ftn_status probed = ftn_image_probe(path, FUZZ_MAX_PIXELS, &w, &h, &c);
    if (probed == FTN_OK && (w <= 0 || h <= 0 || (size_t)w * (size_t)h > FUZZ_MAX_PIXELS || (c != 1 && c != 3)))
        abort(); /* the probe accepted what it promises to refuse */
    ftn_image img;
    ftn_status st = ftn_image_read_limit(path, FUZZ_MAX_PIXELS, &img);
    if (st == FTN_OK) {
        /* what the reader promises: the probed header, values in [0, 1] */
        if (probed != FTN_OK || img.width != w || img.height != h || img.channels != c || !img.data) abort();
        size_t n = (size_t)w * (size_t)h * (size_t)c;
        for (size_t i = 0; i < n; i++)
            if (!(img.data[i] >= 0.0f && img.data[i] <= 1.0f)) abort();
        ftn_image_free(&img);
    } else if (img.data || img.width || img.height) {
        abort(); /* a failed read leaves the image zeroed */
    }
    return 0;
}
