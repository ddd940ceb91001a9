/* libFuzzer target: the .npy reader (src/io/npy.c, ftn_npy_read_f32), and on success a round
 * trip through the writer: what was read must write and read back identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path("input.npy");
    fuzz_write(path, data, size, 0);
    int nd = -1;
    int64_t dims[FTN_NPY_MAX_DIMS];
    float *x = NULL;
    if (ftn_npy_read_f32(path, &nd, dims, &x) != FTN_OK) {
        if (x || nd != 0) abort(); /* a refusal leaves no array behind */
        return 0;
    }
    if (!x || nd < 0 || nd > FTN_NPY_MAX_DIMS) abort();
    uint64_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (dims[i] < 0) abort();
        n *= (uint64_t)dims[i];
    }
    if (4 * n > size) abort(); /* the data must have come from the file */
    const char *back = fuzz_path("back.npy");
    if (ftn_npy_write_f32(back, nd, dims, x) == FTN_OK) {
        int nd2;
        int64_t d2[FTN_NPY_MAX_DIMS];
        float *y = NULL;
        if (ftn_npy_read_f32(back, &nd2, d2, &y) != FTN_OK || nd2 != nd ||
            memcmp(d2, dims, sizeof(int64_t) * (size_t)nd) != 0 || memcmp(x, y, 4 * (size_t)n) != 0)
            abort();
        free(y);
    }
    free(x);
    return 0;
}
