/* NumPy .npy files (format versions 1.0, 2.0, 3.0), little-endian float32 only. */
#ifndef FTN_IO_NPY_H
#define FTN_IO_NPY_H
#include <stdint.h>

#include "ftunet.h"

#define FTN_NPY_MAX_DIMS 4

/* Reads a C-order '<f4' array of at most 4 dimensions. On success *ndim is 0..4, dims[0..ndim)
 * the shape (the rest set to 0; a 0-d array holds one value) and *data a malloc'ed array of
 * prod(dims) floats (never NULL; free() it). Any other dtype, Fortran order, a malformed header,
 * or data that does not match the shape is refused with FTN_EFORMAT and a message saying why. */
ftn_status ftn_npy_read_f32(const char *path, int *ndim, int64_t dims[FTN_NPY_MAX_DIMS], float **data);

/* Writes a version 1.0 '<f4' C-order file atomically, header padded to 64 bytes as NumPy does. */
ftn_status ftn_npy_write_f32(const char *path, int ndim, const int64_t *dims, const float *data);

#endif
