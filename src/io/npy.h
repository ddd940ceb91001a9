/* NumPy .npy files: ftn_npy_read_f32 and ftn_npy_write_f32 are public (ftunet_protocol.h,
 * section ".npy files"); nothing internal is left here. */
#ifndef FTN_IO_NPY_H
#define FTN_IO_NPY_H

#include "ftunet_protocol.h"

#endif
