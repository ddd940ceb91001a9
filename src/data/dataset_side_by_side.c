/* The side-by-side layout (BUSI: Dataset_BUSI_with_GT/benign/benign (1).png beside
 * benign (1)_mask.png and benign (1)_mask_1.png): images and their masks in the same folder, in a
 * tree of class subfolders at any depth (or one flat folder). The walk visits each folder once
 * (by device and inode, so link loops end), at most MAX_DEPTH levels down, hidden entries skipped,
 * entries in strcmp order. Within a folder a file is a mask when its stem is an image stem plus a
 * non-empty mask suffix (ftn_ds_mask_bases without ""), unless another file names it as its
 * image; every other file is an image. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/error.h"
#include "data/dataset_internal.h"

#define MAX_DEPTH 16

typedef struct dev_ino { dev_t dev; ino_t ino; } dev_ino;

typedef struct walk_ctx {
    const char *root;
    const ftn_dataset_options *opt;
    int detect;           /* only count: stop once an image and a mask were seen */
    int n_images, n_masks; /* detect: what was seen */
    dev_ino *seen;        /* folders visited */
    int n_seen, cap_seen;
    ftn_sample *s;        /* the samples so far */
    int n, cap;
    ftn_strvec *skipped;
} walk_ctx;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A problem with one file: an error, or with skip_bad an entry of skipped (message already set). */
static ftn_status bad_file(walk_ctx *w)
{
    if (!w->opt->skip_bad) return FTN_EFORMAT;
    return ftn_ds_add_skipped(w->skipped, ftn_last_error());
}

typedef struct file_ref { char *stem; int i; } file_ref;

static int cmp_file_ref(const void *a, const void *b)
{
    const file_ref *x = a, *y = b;
    int c = strcmp(x->stem, y->stem);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* The first index in refs[0..n) whose stem is stem[0..len), or −1. */
static int find_first(const file_ref *refs, int n, const char *stem, size_t len)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = strncmp(refs[mid].stem, stem, len);
        if (c == 0 && refs[mid].stem[len] != 0) c = 1;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && strncmp(refs[lo].stem, stem, len) == 0 && refs[lo].stem[len] == 0 ? lo : -1;
}

static ftn_status add_sample(walk_ctx *w, const char *rel, const char *stem, char *image_path)
{
    if (w->n == w->cap) {
        int nc = w->cap ? w->cap * 2 : 64;
        ftn_sample *ns = realloc(w->s, sizeof *ns * (size_t)nc);
        if (!ns) {
            free(image_path);
            return ftn_fail(FTN_ENOMEM, "%s: out of memory", w->root);
        }
        w->s = ns;
        w->cap = nc;
    }
    ftn_sample *x = &w->s[w->n++];
    memset(x, 0, sizeof *x);
    x->image_path = image_path;
    if (*rel) {
        x->label = strdup(rel);
        x->id = malloc(strlen(rel) + strlen(stem) + 2);
        if (x->id) sprintf(x->id, "%s/%s", rel, stem);
    } else {
        x->id = strdup(stem);
    }
    if (!x->id || (*rel && !x->label)) return ftn_fail(FTN_ENOMEM, "%s: out of memory", w->root);
    return FTN_OK;
}

/* Pairs the image files files[0..n) (full paths, sorted) of one folder, dir (rel below the root). */
static ftn_status do_folder(walk_ctx *w, const char *dir, const char *rel, char **files, int n)
{
    if (n == 0) return FTN_OK;
    ftn_status st = FTN_OK;
    int first = w->n; /* this folder's samples: w->s[first..w->n) */
    file_ref *refs = calloc((size_t)n, sizeof *refs);
    int *is_mask = calloc((size_t)n, sizeof *is_mask), *claimed = calloc((size_t)n, sizeof *claimed);
    int *image_of = calloc((size_t)n, sizeof *image_of), *sample_of = calloc((size_t)n, sizeof *sample_of);
    if (!refs || !is_mask || !claimed || !image_of || !sample_of) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", dir);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        refs[i] = (file_ref){ftn_ds_stem_of(files[i]), i};
        if (!refs[i].stem) {
            st = ftn_fail(FTN_ENOMEM, "%s: out of memory", dir);
            goto done;
        }
    }
    qsort(refs, (size_t)n, sizeof *refs, cmp_file_ref);
    /* a file is an image when another file names it (its stem plus a suffix); image_of[i]: the
     * first ref whose stem file i names, or −1 */
    for (int r = 0; r < n; r++) {
        size_t len[12];
        int nb = ftn_ds_mask_bases(refs[r].stem, w->opt->mask_suffix, 0, len), i = refs[r].i;
        image_of[i] = -1;
        for (int b = 0; b < nb && image_of[i] < 0; b++) image_of[i] = find_first(refs, n, refs[r].stem, len[b]);
        is_mask[i] = nb > 0;
        for (int q = image_of[i]; q >= 0 && q < n && !strcmp(refs[q].stem, refs[image_of[i]].stem); q++)
            claimed[refs[q].i] = 1;
    }
    for (int i = 0; i < n; i++) is_mask[i] &= !claimed[i];
    if (w->detect) {
        for (int i = 0; i < n; i++) {
            w->n_masks += is_mask[i];
            w->n_images += !is_mask[i];
        }
        goto done;
    }
    /* images: one sample each, unless two share a stem */
    for (int r = 0; r < n && st == FTN_OK; r++) {
        int i = refs[r].i;
        sample_of[i] = -1;
        if (is_mask[i]) continue;
        int dup = (r > 0 && !is_mask[refs[r - 1].i] && !strcmp(refs[r - 1].stem, refs[r].stem)) ||
                  (r + 1 < n && !is_mask[refs[r + 1].i] && !strcmp(refs[r + 1].stem, refs[r].stem));
        if (dup) {
            ftn_fail(FTN_EFORMAT, "%s: another image in %s has the same stem '%s'", files[i], dir, refs[r].stem);
            st = bad_file(w);
            continue;
        }
        sample_of[i] = w->n;
        st = add_sample(w, rel, refs[r].stem, files[i]);
        files[i] = NULL;
    }
    /* masks to their images; images still without a mask */
    for (int r = 0; r < n && st == FTN_OK; r++) {
        int i = refs[r].i;
        if (!is_mask[i]) continue;
        int img = image_of[i] >= 0 ? refs[image_of[i]].i : -1;
        if (img < 0 || sample_of[img] < 0) {
            if (img < 0) {
                ftn_fail(FTN_EFORMAT, "%s: mask has no matching image beside it in %s", files[i], dir);
                st = bad_file(w);
            }
            continue; /* its image was a duplicate: already reported */
        }
        if (ftn_ds_sample_add_mask(&w->s[sample_of[img]], files[i])) {
            files[i] = NULL;
            st = ftn_fail(FTN_ENOMEM, "%s: out of memory", dir);
            break;
        }
        files[i] = NULL;
    }
    for (int r = 0; r < n && st == FTN_OK; r++) {
        int i = refs[r].i;
        if (is_mask[i] || sample_of[i] < 0 || w->s[sample_of[i]].n_masks) continue;
        ftn_fail(FTN_EFORMAT, "%s: no mask found beside it (looked in %s for %s_mask[_N], _segmentation, _lesion%s%s "
                 "with an image extension)",
                 w->s[sample_of[i]].image_path, dir, refs[r].stem, w->opt->mask_suffix ? " or " : "",
                 w->opt->mask_suffix ? w->opt->mask_suffix : "");
        st = bad_file(w);
    }
    /* drop the samples left without a mask (skip_bad: reported above) */
    if (st == FTN_OK) {
        int kept = first;
        for (int k = first; k < w->n; k++) {
            if (w->s[k].n_masks == 0) {
                ftn_ds_sample_free(&w->s[k]);
                continue;
            }
            if (kept != k) {
                w->s[kept] = w->s[k];
                memset(&w->s[k], 0, sizeof w->s[k]);
            }
            kept++;
        }
        w->n = kept;
    }
done:
    for (int i = 0; refs && i < n; i++) free(refs[i].stem);
    free(refs);
    free(is_mask);
    free(claimed);
    free(image_of);
    free(sample_of);
    return st;
}

/* The folder dir (rel below the root, "" for the root itself), then its subfolders. */
static ftn_status walk(walk_ctx *w, const char *dir, const char *rel, int depth)
{
    struct stat sd;
    if (stat(dir, &sd) != 0) return FTN_OK; /* vanished since it was listed */
    for (int i = 0; i < w->n_seen; i++)
        if (w->seen[i].dev == sd.st_dev && w->seen[i].ino == sd.st_ino) return FTN_OK; /* a link back */
    if (w->n_seen == w->cap_seen) {
        int nc = w->cap_seen ? w->cap_seen * 2 : 32;
        dev_ino *ns = realloc(w->seen, sizeof *ns * (size_t)nc);
        if (!ns) return ftn_fail(FTN_ENOMEM, "%s: out of memory", dir);
        w->seen = ns;
        w->cap_seen = nc;
    }
    w->seen[w->n_seen++] = (dev_ino){sd.st_dev, sd.st_ino};
    DIR *d = opendir(dir);
    if (!d) {
        ftn_status fs = ftn_fail(FTN_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
        if (w->detect) return FTN_OK;
        return w->opt->skip_bad ? ftn_ds_add_skipped(w->skipped, ftn_last_error()) : fs;
    }
    ftn_strvec names = {0}, files = {0}, subs = {0};
    ftn_status st = FTN_OK;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && ftn_strvec_push(&names, strdup(e->d_name))) {
            st = ftn_fail(FTN_ENOMEM, "%s: out of memory", dir);
            break;
        }
    closedir(d);
    if (names.n > 1) qsort(names.v, (size_t)names.n, sizeof *names.v, cmp_str);
    for (int i = 0; i < names.n && st == FTN_OK; i++) {
        char *full = ftn_ds_join(dir, names.v[i]);
        struct stat se;
        if (!full) {
            st = ftn_fail(FTN_ENOMEM, "%s: out of memory", dir);
            break;
        }
        if (stat(full, &se) != 0) {
            free(full);
        } else if (S_ISDIR(se.st_mode)) {
            if (ftn_strvec_push(&subs, strdup(names.v[i]))) st = ftn_fail(FTN_ENOMEM, "%s: out of memory", dir);
            free(full);
        } else if (S_ISREG(se.st_mode) && ftn_ds_has_image_ext(names.v[i])) {
            if (ftn_strvec_push(&files, full)) st = ftn_fail(FTN_ENOMEM, "%s: out of memory", dir);
        } else {
            free(full);
        }
    }
    if (st == FTN_OK) st = do_folder(w, dir, rel, files.v, files.n);
    for (int i = 0; i < subs.n && st == FTN_OK && depth < MAX_DEPTH; i++) {
        if (w->detect && w->n_images && w->n_masks) break;
        char *sub = ftn_ds_join(dir, subs.v[i]);
        char *sub_rel = *rel ? ftn_ds_join(rel, subs.v[i]) : strdup(subs.v[i]);
        if (!sub || !sub_rel) st = ftn_fail(FTN_ENOMEM, "%s: out of memory", dir);
        else st = walk(w, sub, sub_rel, depth + 1);
        free(sub);
        free(sub_rel);
    }
    ftn_strvec_free(&names);
    ftn_strvec_free(&files);
    ftn_strvec_free(&subs);
    return st;
}

int ftn_dataset_is_side_by_side(const char *dir, const char *user_suffix)
{
    ftn_dataset_options opt = {0};
    opt.mask_suffix = user_suffix;
    walk_ctx w = {.root = dir, .opt = &opt, .detect = 1};
    ftn_status st = walk(&w, dir, "", 0);
    free(w.seen);
    return st == FTN_OK && w.n_images > 0 && w.n_masks > 0;
}

static int cmp_sample(const void *a, const void *b)
{
    return strcmp(((const ftn_sample *)a)->id, ((const ftn_sample *)b)->id);
}

ftn_status ftn_dataset_open_side_by_side(const char *path, const ftn_dataset_options *opt, ftn_sample **samples,
                                         int *count, ftn_strvec *skipped)
{
    walk_ctx w = {.root = path, .opt = opt, .skipped = skipped};
    ftn_status st = walk(&w, path, "", 0);
    free(w.seen);
    if (st != FTN_OK) {
        for (int i = 0; i < w.n; i++) ftn_ds_sample_free(&w.s[i]);
        free(w.s);
        return st;
    }
    if (w.n > 1) qsort(w.s, (size_t)w.n, sizeof *w.s, cmp_sample);
    for (int i = 0; i < w.n; i++)
        if (w.s[i].n_masks > 1) qsort(w.s[i].mask_paths, (size_t)w.s[i].n_masks, sizeof(char *), cmp_str);
    *samples = w.s;
    *count = w.n;
    return FTN_OK;
}
