/* The CSV layout: a file of "image,mask[,mask...]" lines, paths relative to the CSV's folder.
 * Every mask column of a line is one of the sample's masks (merged by union). An image on
 * several lines (a user writing one "image,mask" line per mask, as BUSI's x_mask.png,
 * x_mask_1.png suggest) is ONE sample at its first line with the masks of all its lines: two
 * samples of one image would let it fall in both the training and the test split. Images are
 * one when their resolved paths (realpath, or "./" and "//" removed for a missing file) agree.
 * Ids are the image stems, except that images sharing a stem get their path as written without
 * extension ("benign/x", "malignant/x"). Both are reported as notes. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
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

/* path with "." components and repeated slashes removed ("./a//b/./c.png" → "a/b/c.png"),
 * malloc'ed; NULL when out of memory. ".." is kept (without the files, a link may sit before it). */
static char *tidy_path(const char *p)
{
    size_t n = strlen(p);
    char *o = malloc(n + 2);
    if (!o) return NULL;
    size_t k = 0;
    if (p[0] == '/') o[k++] = '/';
    const char *q = p;
    while (*q) {
        while (*q == '/') q++;
        const char *e = q;
        while (*e && *e != '/') e++;
        size_t len = (size_t)(e - q);
        if (len && !(len == 1 && q[0] == '.')) {
            if (k && o[k - 1] != '/') o[k++] = '/';
            memcpy(o + k, q, len);
            k += len;
        }
        q = e;
    }
    if (!k) o[k++] = '.';
    o[k] = 0;
    return o;
}

/* The key two spellings of one file share: its real path when it exists, else tidy_path's. */
static char *file_key(const char *p)
{
    char *r = realpath(p, NULL);
    return r ? r : tidy_path(p);
}

/* written path without its extension: the id of an image whose stem another image shares. */
static char *path_id(const char *written)
{
    char *t = tidy_path(written);
    if (!t) return NULL;
    char *slash = strrchr(t, '/'), *dot = strrchr(t, '.');
    if (dot && dot > (slash ? slash + 1 : t)) *dot = 0;
    return t;
}

typedef struct key_ref { char *key; int i; } key_ref;

static int cmp_key_ref(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Appends text to a note under construction, keeping the note short. */
static void note_add(char *note, size_t cap, const char *text)
{
    size_t len = strlen(note);
    if (len + 1 < cap) snprintf(note + len, cap - len, "%s", text);
}

/* Merges the samples of one image (see the top of the file), then makes ids unique; written[i]
 * is sample i's image field as the CSV spells it. Compacts s[0..*n) in line order. */
static ftn_status merge_and_name(const char *path, ftn_sample *s, int *n, char **written, ftn_strvec *notes)
{
    int m = *n, keys_owned = 1;
    ftn_status st = FTN_OK;
    key_ref *refs = calloc((size_t)m + 1, sizeof *refs);
    int *lines = calloc((size_t)m + 1, sizeof *lines), *rep = calloc((size_t)m + 1, sizeof *rep);
    char note[1024];
    if (!refs || !lines || !rep) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < m; i++) {
        refs[i] = (key_ref){file_key(s[i].image_path), i};
        if (!refs[i].key) {
            st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
            goto done;
        }
    }
    if (m > 1) qsort(refs, (size_t)m, sizeof *refs, cmp_key_ref);
    /* rep[i]: the first line of sample i's image; that sample takes the others' masks */
    int merged = 0;
    for (int a = 0; a < m;) {
        int b = a + 1;
        while (b < m && !strcmp(refs[b].key, refs[a].key)) b++;
        int r = refs[a].i;
        lines[r] = b - a;
        merged += b > a + 1;
        for (int j = a; j < b; j++) rep[refs[j].i] = r;
        for (int j = a + 1; j < b && st == FTN_OK; j++) {
            ftn_sample *x = &s[refs[j].i];
            for (int k = 0; k < x->n_masks; k++) {
                int dup = 0;
                char *mk = file_key(x->mask_paths[k]);
                for (int q = 0; mk && !dup && q < s[r].n_masks; q++) {
                    char *qk = file_key(s[r].mask_paths[q]);
                    dup = qk && !strcmp(qk, mk);
                    free(qk);
                }
                free(mk);
                if (dup) continue;
                if (ftn_ds_sample_add_mask(&s[r], x->mask_paths[k])) {
                    x->mask_paths[k] = NULL;
                    st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
                    break;
                }
                x->mask_paths[k] = NULL;
            }
        }
        a = b;
    }
    if (st != FTN_OK) goto done;
    for (int i = 0; i < m; i++) free(refs[i].key);
    keys_owned = 0;
    if (merged) {
        snprintf(note, sizeof note, "%s: %d image%s listed on several lines; %s masks merged by union (one sample per image):",
                 path, merged, merged == 1 ? "" : "s", merged == 1 ? "its" : "their");
        int shown = 0;
        for (int i = 0; i < m; i++) {
            if (rep[i] != i || lines[i] < 2) continue;
            char part[600];
            if (shown == 5) {
                note_add(note, sizeof note, " ...");
                break;
            }
            snprintf(part, sizeof part, "%s %s (%d lines)", shown ? "," : "", written[i], lines[i]);
            note_add(note, sizeof note, part);
            shown++;
        }
        if (ftn_ds_add_skipped(notes, note) != FTN_OK) {
            st = FTN_ENOMEM;
            goto done;
        }
    }
    /* compact, in line order */
    int kept = 0;
    for (int i = 0; i < m; i++) {
        if (rep[i] != i) {
            ftn_ds_sample_free(&s[i]);
            free(written[i]);
            written[i] = NULL;
            continue;
        }
        if (kept != i) {
            s[kept] = s[i];
            memset(&s[i], 0, sizeof s[i]);
            written[kept] = written[i];
            written[i] = NULL;
        }
        kept++;
    }
    *n = m = kept;
    /* ids: the stem, unless another image has the same one */
    for (int i = 0; i < m; i++) refs[i] = (key_ref){s[i].id, i};
    if (m > 1) qsort(refs, (size_t)m, sizeof *refs, cmp_key_ref);
    int renamed = 0;
    note[0] = 0;
    for (int a = 0; a < m;) {
        int b = a + 1;
        while (b < m && !strcmp(refs[b].key, refs[a].key)) b++;
        for (int j = a; b > a + 1 && j < b; j++) {
            ftn_sample *x = &s[refs[j].i];
            char *id = path_id(written[refs[j].i]);
            if (!id) {
                st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
                goto done;
            }
            free(x->id);
            x->id = id;
            renamed++;
        }
        a = b;
    }
    if (renamed) {
        snprintf(note, sizeof note, "%s: %d images share a stem with another; their ids are their paths without extension:",
                 path, renamed);
        int shown = 0;
        for (int i = 0; i < m && shown <= 5; i++) {
            char *stem = ftn_ds_stem_of(s[i].image_path);
            int differs = stem && strcmp(stem, s[i].id);
            free(stem);
            if (!differs) continue;
            char part[600];
            if (shown == 5) snprintf(part, sizeof part, " ...");
            else snprintf(part, sizeof part, "%s %s", shown ? "," : "", s[i].id);
            note_add(note, sizeof note, part);
            shown++;
        }
        if (ftn_ds_add_skipped(notes, note) != FTN_OK) st = FTN_ENOMEM;
    }
done:
    /* the keys of the merging are malloc'ed; the ids of the naming are borrowed */
    for (int i = 0; keys_owned && refs && i < m; i++) free(refs[i].key);
    free(refs);
    free(lines);
    free(rep);
    return st;
}

ftn_status ftn_dataset_open_csv(const char *path, ftn_sample **samples, int *count, ftn_strvec *notes)
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
    ftn_strvec written = {0}; /* each sample's image field, as the CSV spells it */
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
        if (ftn_strvec_push(&written, strdup(fields[0]))) {
            st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
            break;
        }
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
    if (st == FTN_OK && written.n == n) st = merge_and_name(path, s, &n, written.v, notes);
    ftn_strvec_free(&written);
    if (st != FTN_OK) {
        for (int i = 0; i < n; i++) ftn_ds_sample_free(&s[i]);
        free(s);
        return st;
    }
    *samples = s;
    *count = n;
    return FTN_OK;
}
