/* Whole-file reads and crash-safe whole-file writes. */
#ifndef FTN_IO_ATOMIC_FILE_H
#define FTN_IO_ATOMIC_FILE_H
#include <stddef.h>
#include <stdint.h>

#include "ftunet.h"

/* Writes the concatenation of chunks[0..n_chunks) to `path` atomically: the bytes go to
 * "<path>.tmp.<pid>" in the same folder, are flushed and fsync'ed, then renamed over `path`.
 * On any failure the temporary file is removed, `path` is left as it was, and FTN_EIO is
 * returned with a message naming the path and the system's reason. A chunk with size 0 may have a
 * NULL pointer. */
ftn_status ftn_write_file_atomic(const char *path, const void *const *chunks, const size_t *sizes,
                                 int n_chunks);

/* Reads all of `path` into a fresh malloc'ed buffer (*data, to be free()d; one extra NUL byte is
 * appended but not counted in *size). Files larger than max_size are refused (FTN_EFORMAT). */
ftn_status ftn_read_file(const char *path, size_t max_size, uint8_t **data, size_t *size);

#endif
