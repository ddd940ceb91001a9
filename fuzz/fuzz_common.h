/* Shared by the libFuzzer targets (fuzz/fuzz_*.c): a private scratch folder and whole-file
 * writes. The library reads files by path, so each input is written to a file first; the
 * folder lives under $TMPDIR (scripts/fuzz.sh points it into build-fuzz/) and is removed at exit. */
#ifndef FTN_FUZZ_COMMON_H
#define FTN_FUZZ_COMMON_H
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fuzz_dir[4096];

/* Removes everything under path (the scratch folder is flat or one level deep). */
static void fuzz_rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[8192];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) fuzz_rm_tree(p);
            else unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

static void fuzz_cleanup(void)
{
    if (fuzz_dir[0]) fuzz_rm_tree(fuzz_dir);
}

/* Creates the scratch folder once; returns its path. Aborts if it cannot (nothing to fuzz). */
static const char *fuzz_tmpdir(void)
{
    if (fuzz_dir[0]) return fuzz_dir;
    const char *t = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/ftunet-fuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(fuzz_dir)) {
        perror(fuzz_dir);
        abort();
    }
    atexit(fuzz_cleanup);
    return fuzz_dir;
}

/* dir/name in a static ring of buffers. */
static const char *fuzz_path(const char *name)
{
    static char ring[8][4096 + 256];
    static int k;
    char *p = ring[k++ % 8];
    snprintf(p, sizeof ring[0], "%s/%s", fuzz_tmpdir(), name);
    return p;
}

/* Writes data[0..n) followed by pad zero bytes; aborts on failure (a full disk is not a finding
 * about the library). */
static void fuzz_write(const char *path, const uint8_t *data, size_t n, size_t pad)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    if (n && fwrite(data, 1, n, f) != n) abort();
    static const uint8_t zeros[65536];
    while (pad) {
        size_t k = pad < sizeof zeros ? pad : sizeof zeros;
        if (fwrite(zeros, 1, k, f) != k) abort();
        pad -= k;
    }
    if (fclose(f) != 0) abort();
}

#endif
