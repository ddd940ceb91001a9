#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* Best effort: make the rename itself durable. Failures here are not reported (some file
 * systems refuse fsync on directories). */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else {
        size_t len = (size_t)(slash - path);
        if (len >= sizeof dir) return;
        memcpy(dir, path, len);
        dir[len] = 0;
    }
    int fd = open(dir, O_RDONLY);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

ftn_status ftn_write_file_atomic(const char *path, const void *const *chunks, const size_t *sizes,
                                 int n_chunks)
{
    if (!path || !*path) return ftn_fail(FTN_EINVAL, "write_file_atomic: empty path");
    if (n_chunks < 0 || (n_chunks > 0 && (!chunks || !sizes)))
        return ftn_fail(FTN_EINVAL, "%s: invalid chunk list", path);
    for (int i = 0; i < n_chunks; i++)
        if (sizes[i] && !chunks[i]) return ftn_fail(FTN_EINVAL, "%s: chunk %d is NULL", path, i);

    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());

    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        ftn_status st = ftn_fail(FTN_EIO, "%s: cannot create temporary file %s: %s", path, tmp, strerror(e));
        free(tmp);
        return st;
    }
    const char *what = NULL;
    int err = 0;
    for (int i = 0; i < n_chunks && !what; i++) {
        if (sizes[i] && fwrite(chunks[i], 1, sizes[i], f) != sizes[i]) { what = "write"; err = errno; }
    }
    if (!what && fflush(f) != 0) { what = "flush"; err = errno; }
    if (!what && fsync(fileno(f)) != 0) { what = "fsync"; err = errno; }
    if (fclose(f) != 0 && !what) { what = "close"; err = errno; }
    if (!what && rename(tmp, path) != 0) { what = "rename"; err = errno; }
    if (what) {
        unlink(tmp);
        ftn_status st = ftn_fail(FTN_EIO, "%s: %s failed: %s", path, what, err ? strerror(err) : "unknown error");
        free(tmp);
        return st;
    }
    free(tmp);
    sync_parent_dir(path);
    return FTN_OK;
}

ftn_status ftn_read_file(const char *path, size_t max_size, uint8_t **data, size_t *size)
{
    if (!path || !data || !size) return ftn_fail(FTN_EINVAL, "read_file: NULL argument");
    *data = NULL;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer; the mode is checked on
     * the open descriptor, then blocking reads are restored for a regular file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return ftn_fail(FTN_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return ftn_fail(FTN_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ftn_fail(FTN_EIO, "%s: not a regular file%s", path,
                        S_ISFIFO(sb.st_mode) ? " (a FIFO)" : S_ISDIR(sb.st_mode) ? " (a folder)" : "");
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return ftn_fail(FTN_EIO, "%s: cannot open: %s", path, strerror(e));
    }
    if (sb.st_size < 0 || (unsigned long long)sb.st_size > (unsigned long long)max_size) {
        fclose(f);
        return ftn_fail(FTN_EFORMAT, "%s: file is %lld bytes, more than the limit of %zu bytes", path,
                        (long long)sb.st_size, max_size);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return ftn_fail(FTN_ENOMEM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int rerr = ferror(f) ? errno : 0;
    /* The file must not have grown or shrunk under us. */
    int extra = (got == n) ? fgetc(f) : EOF;
    fclose(f);
    if (got != n || extra != EOF) {
        free(buf);
        if (rerr) return ftn_fail(FTN_EIO, "%s: read failed: %s", path, strerror(rerr));
        return ftn_fail(FTN_EIO, "%s: file changed size while being read (expected %zu bytes)", path, n);
    }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return FTN_OK;
}
