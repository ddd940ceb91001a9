#include "core/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

ftn_status ftn_path_join(char *buf, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return ftn_fail(FTN_EINVAL, "%s/%s: path too long", dir, name);
    return FTN_OK;
}

int ftn_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

ftn_status ftn_mkdirs(const char *path)
{
    if (!path || !*path) return ftn_fail(FTN_EINVAL, "mkdir: empty path");
    char buf[FTN_PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return ftn_fail(FTN_EINVAL, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) return ftn_fail(FTN_EIO, "%s: cannot create: %s", buf, strerror(errno));
            *p = '/';
        }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return ftn_fail(FTN_EIO, "%s: cannot create: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return ftn_fail(FTN_EIO, "%s: not a folder", buf);
    return FTN_OK;
}

ftn_status ftn_remove_file(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT) return ftn_fail(FTN_EIO, "%s: cannot remove: %s", path, strerror(errno));
    return FTN_OK;
}

ftn_status ftn_grow(void *array, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap) return FTN_OK;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > ((size_t)-1 / 2) / elem_size) return ftn_fail(FTN_ENOMEM, "out of memory (%zu elements of %zu bytes)", need, elem_size);
        n *= 2;
    }
    /* *array is some T *; it is read and written as the void * it converts to */
    void *old;
    memcpy(&old, array, sizeof old);
    void *p = realloc(old, n * elem_size);
    if (!p) return ftn_fail(FTN_ENOMEM, "out of memory (%zu elements of %zu bytes)", need, elem_size);
    memcpy(array, &p, sizeof p);
    *cap = n;
    return FTN_OK;
}

void ftn_buf_add(ftn_buf *b, const void *data, size_t n)
{
    if (b->oom) return;
    if (ftn_grow(&b->s, &b->cap, b->len + n + 1, 1) != FTN_OK) {
        b->oom = 1;
        return;
    }
    memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = 0;
}

void ftn_buf_puts(ftn_buf *b, const char *s) { ftn_buf_add(b, s, strlen(s)); }

ftn_status ftn_buf_status(const ftn_buf *b, const char *what)
{
    return b->oom ? ftn_fail(FTN_ENOMEM, "%s: out of memory", what) : FTN_OK;
}

void ftn_buf_free(ftn_buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}
