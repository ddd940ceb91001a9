/* The CSV layout: a file of "image,mask[,mask...]" lines, paths relative to the CSV's folder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "core/error.h"
#include "data/dataset_internal.h"

/* Splits line (modified in place) at commas, trimming blanks and one level of double quotes. */
static int split_csv(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        while (*p == ' ' || *p == '\t') p++;
        char *start = p, *end;
        if (*p == '"') {
            start = ++p;
            while (*p && *p != '"') p++;
            end = p;
            if (*p == '"') p++;
            while (*p && *p != ',') p++;
        } else {
            while (*p && *p != ',') p++;
            end = p;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        }
        int last = *p != ',';
        *end = 0;
        fields[n++] = start;
        if (last) break;
        p++;
    }
    return n;
}

ftn_status ftn_dataset_open_csv(const char *path, ftn_sample **samples, int *count)
{
    FILE *f = fopen(path, "r");
    if (!f) return ftn_fail(FTN_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *dir;
    const char *slash = strrchr(path, '/');
    if (slash) {
        dir = malloc((size_t)(slash - path) + 2);
        if (dir) {
            memcpy(dir, path, (size_t)(slash - path) + 1);
            dir[slash - path + 1] = 0;
        }
    } else {
        dir = strdup("");
    }
    ftn_sample *s = NULL;
    int n = 0, cap = 0, lineno = 0, first_seen = 0;
    ftn_status st = FTN_OK;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    if (!dir) {
        fclose(f);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    }
    while ((got = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        char *p = line;
        if (lineno == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
            p += 3; /* UTF-8 byte-order mark */
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        char *fields[64];
        int nf = split_csv(p, fields, 64);
        if (!first_seen) {
            first_seen = 1;
            if (!ftn_ds_has_image_ext(fields[0])) continue; /* a header line */
        }
        if (nf < 2 || !*fields[1]) {
            st = ftn_fail(FTN_EFORMAT, "%s:%d: expected \"image,mask\", got '%s'", path, lineno, fields[0]);
            break;
        }
        if (n == cap) {
            int nc = cap ? cap * 2 : 64;
            ftn_sample *ns = realloc(s, sizeof *s * (size_t)nc);
            if (!ns) {
                st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
                break;
            }
            s = ns;
            cap = nc;
        }
        ftn_sample *x = &s[n++];
        memset(x, 0, sizeof *x);
        x->image_path = fields[0][0] == '/' ? strdup(fields[0]) : ftn_ds_join(dir, fields[0]);
        x->id = x->image_path ? ftn_ds_stem_of(x->image_path) : NULL;
        int bad = !x->image_path || !x->id;
        for (int k = 1; !bad && k < nf; k++)
            if (*fields[k]) bad = ftn_ds_sample_add_mask(x, fields[k][0] == '/' ? strdup(fields[k]) : ftn_ds_join(dir, fields[k]));
        if (bad) {
            st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
            break;
        }
    }
    free(line);
    if (st == FTN_OK && ferror(f)) st = ftn_fail(FTN_EIO, "%s: read error", path);
    fclose(f);
    free(dir);
    if (st != FTN_OK) {
        for (int i = 0; i < n; i++) ftn_ds_sample_free(&s[i]);
        free(s);
        return st;
    }
    *samples = s;
    *count = n;
    return FTN_OK;
}
