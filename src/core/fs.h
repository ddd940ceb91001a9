/* Files and folders (path joining, mkdir -p, existence) and growing arrays, for every layer.
 * Whole-file reads and atomic writes are io/atomic_file.h's; JSON files are read and written
 * through protocol/run_folder.h. Functions that can fail return an ftn_status whose message
 * names the path. */
#ifndef FTN_CORE_FS_H
#define FTN_CORE_FS_H
#include <stddef.h>

#include "ftunet.h"

/* The longest path the library builds (the buffers of ftn_path_join's callers). */
#define FTN_PATH_MAX 4096

/* "dir/name" into buf[0..cap); FTN_EINVAL ("dir/name: path too long") when it does not fit. */
ftn_status ftn_path_join(char *buf, size_t cap, const char *dir, const char *name);

/* 1 when something (file or folder) exists at path. */
int ftn_path_exists(const char *path);

/* ftn_mkdirs (mkdir -p) is public: ftunet.h, section "files". */

/* unlink(path); a missing file is no error. */
ftn_status ftn_remove_file(const char *path);

/* Makes room for `need` elements of `elem_size` bytes in the array *array (array: the address of
 * any T *; *cap counts elements), at least doubling so that appends stay amortised O(1). On
 * FTN_ENOMEM the array and *cap are unchanged. */
ftn_status ftn_grow(void *array, size_t *cap, size_t need, size_t elem_size);

/* A growing byte string, NUL-terminated after len. Appends after a failed allocation are
 * dropped and `oom` stays set, so a writer checks once, at the end (ftn_buf_status). */
typedef struct ftn_buf {
    char *s;
    size_t len, cap;
    int oom;
} ftn_buf;
void ftn_buf_add(ftn_buf *b, const void *data, size_t n);
void ftn_buf_puts(ftn_buf *b, const char *s);
/* FTN_OK, or FTN_ENOMEM "<what>: out of memory" when an append failed. */
ftn_status ftn_buf_status(const ftn_buf *b, const char *what);
void ftn_buf_free(ftn_buf *b);

#endif
