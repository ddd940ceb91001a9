/* Whole-file reads and crash-safe whole-file writes: ftn_write_file_atomic and ftn_read_file are
 * public (ftunet.h, section "files"); nothing internal is left here. */
#ifndef FTN_IO_ATOMIC_FILE_H
#define FTN_IO_ATOMIC_FILE_H

#include "ftunet.h"

#endif
