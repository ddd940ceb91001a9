/* The folder layouts (images/ + masks/, original/ + gt/, ISIC's *_Input/ + *_GroundTruth/):
 * listing a folder's image files and pairing masks to images by stem and mask suffix. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/error.h"
#include "data/dataset_internal.h"

/* ---- image files ------------------------------------------------------------------------------ */

static const char *basename_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int ftn_ds_has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
           !strcasecmp(dot, ".bmp") || !strcasecmp(dot, ".tif") || !strcasecmp(dot, ".tiff") ||
           !strcasecmp(dot, ".webp");
}

/* The file name without folder and extension. */
char *ftn_ds_stem_of(const char *path)
{
    const char *b = basename_of(path);
    const char *dot = strrchr(b, '.');
    size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, b, n);
    s[n] = 0;
    return s;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Image files (by extension) in dir, sorted by name. */
ftn_status ftn_ds_list_images(const char *dir, ftn_strvec *out)
{
    DIR *d = opendir(dir);
    if (!d) return ftn_fail(FTN_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !ftn_ds_has_image_ext(e->d_name)) continue;
        char *p = ftn_ds_join(dir, e->d_name);
        if (!p) break;
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        if (ftn_strvec_push(out, p)) {
            closedir(d);
            return ftn_fail(FTN_ENOMEM, "%s: out of memory listing the folder", dir);
        }
    }
    closedir(d);
    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof(char *), cmp_str); /* v is NULL when empty */
    return FTN_OK;
}

/* ISIC 2018 as downloaded (see dataset_internal.h). */
int ftn_dataset_find_suffixed_dir(const char *dir, const char *suffix, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    size_t ls = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t ln = strlen(e->d_name);
        if (ln <= ls || strcmp(e->d_name + ln - ls, suffix)) continue;
        char *full = ftn_ds_join(dir, e->d_name);
        int isd = full && ftn_ds_is_dir(full);
        free(full);
        if (!isd) continue;
        if (found) {
            ftn_fail(FTN_EFORMAT, "%s: both %s/ and %s/ end in %s: pass a CSV of image,mask lines to choose", dir,
                     out, e->d_name, suffix);
            found = 2;
            break;
        }
        snprintf(out, cap, "%s", e->d_name);
        found = 1;
    }
    closedir(d);
    return found;
}

/* ---- pairing by stem ------------------------------------------------------------------------ */

typedef struct stem_ref { const char *stem; int sample; } stem_ref;

static int cmp_stem_ref(const void *a, const void *b)
{
    return strcmp(((const stem_ref *)a)->stem, ((const stem_ref *)b)->stem);
}

static int find_stem(const stem_ref *refs, int n, const char *stem, size_t len)
{
    char buf[1024];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, stem, len);
    buf[len] = 0;
    stem_ref key = {buf, 0};
    const stem_ref *r = bsearch(&key, refs, (size_t)n, sizeof *refs, cmp_stem_ref);
    return r ? r->sample : -1;
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t k = strlen(suffix);
    return k <= len && memcmp(s + len - k, suffix, k) == 0;
}

int ftn_ds_mask_suffixes(const char *user_suffix, int with_empty, const char *sfx[6])
{
    static const char *builtin[] = {"_segmentation", "_Segmentation", "_mask", "_lesion", ""};
    int ns = 0;
    if (user_suffix && *user_suffix) sfx[ns++] = user_suffix;
    for (int i = 0; i < (with_empty ? 5 : 4); i++) sfx[ns++] = builtin[i];
    return ns;
}

int ftn_ds_mask_bases(const char *m, const char *user_suffix, int with_empty, size_t len_out[12])
{
    const char *sfx[6];
    int ns = ftn_ds_mask_suffixes(user_suffix, with_empty, sfx), nb = 0;
    size_t len = strlen(m);
    /* numbered form: <base><suffix>_<digits> */
    size_t numbered = 0;
    const char *us = strrchr(m, '_');
    if (us && us[1]) {
        int digits = 1;
        for (const char *p = us + 1; *p; p++) digits &= isdigit((unsigned char)*p) != 0;
        if (digits) numbered = (size_t)(us - m);
    }
    for (int i = 0; i < ns; i++) {
        size_t k = strlen(sfx[i]);
        if (ends_with(m, len, sfx[i]) && len > k) len_out[nb++] = len - k;
        if (numbered && ends_with(m, numbered, sfx[i]) && numbered > k) len_out[nb++] = numbered - k;
    }
    return nb;
}

/* The sample index a mask stem belongs to, or −1. */
static int match_mask(const stem_ref *refs, int n, const char *m, const char *user_suffix)
{
    size_t len[12];
    int nb = ftn_ds_mask_bases(m, user_suffix, 1, len);
    for (int i = 0; i < nb; i++) {
        int r = find_stem(refs, n, m, len[i]);
        if (r >= 0) return r;
    }
    return -1;
}

ftn_status ftn_dataset_open_folders(const char *path, const char *img_sub, const char *mask_sub,
                                    const ftn_dataset_options *opt, ftn_sample **samples, int *count,
                                    ftn_strvec *skipped)
{
    ftn_status st = FTN_OK;
    char *idir = ftn_ds_join(path, img_sub), *mdir = ftn_ds_join(path, mask_sub);
    ftn_strvec imgs = {0}, masks = {0};
    stem_ref *refs = NULL;
    ftn_sample *s = NULL;
    int ns = 0;
    if (!idir || !mdir) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((st = ftn_ds_list_images(idir, &imgs)) != FTN_OK || (st = ftn_ds_list_images(mdir, &masks)) != FTN_OK) goto done;
    if (imgs.n == 0) {
        st = ftn_fail(FTN_EFORMAT, "%s: no image files (.png, .jpg, .jpeg, .bmp, .tif, .tiff or .webp) in %s", path, idir);
        goto done;
    }
    s = calloc((size_t)imgs.n + 1, sizeof *s);
    refs = calloc((size_t)imgs.n + 1, sizeof *refs);
    if (!s || !refs) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < imgs.n; i++) {
        s[ns].image_path = imgs.v[i];
        imgs.v[i] = NULL;
        s[ns].id = ftn_ds_stem_of(s[ns].image_path);
        if (!s[ns].id) {
            st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
            ns++;
            goto done;
        }
        ns++;
    }
    for (int i = 0; i < ns; i++) refs[i] = (stem_ref){s[i].id, i};
    qsort(refs, (size_t)ns, sizeof *refs, cmp_stem_ref);
    /* two images with one stem: both are bad (which one is meant is unclear) */
    int *dup = calloc((size_t)ns + 1, sizeof *dup);
    if (!dup) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 1; i < ns; i++)
        if (strcmp(refs[i].stem, refs[i - 1].stem) == 0) dup[refs[i].sample] = dup[refs[i - 1].sample] = 1;
    for (int i = 0; i < masks.n; i++) {
        char *ms = ftn_ds_stem_of(masks.v[i]);
        if (!ms) {
            st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
            break;
        }
        int k = match_mask(refs, ns, ms, opt->mask_suffix);
        free(ms);
        if (k < 0) {
            ftn_fail(FTN_EFORMAT, "%s: mask has no matching image in %s", masks.v[i], idir);
            if (!opt->skip_bad) {
                st = FTN_EFORMAT;
                break;
            }
            if ((st = ftn_ds_add_skipped(skipped, ftn_last_error())) != FTN_OK) break;
            continue;
        }
        if (ftn_ds_sample_add_mask(&s[k], masks.v[i])) {
            masks.v[i] = NULL;
            st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
            break;
        }
        masks.v[i] = NULL;
    }
    /* drop images that are duplicated or have no mask */
    int kept = 0;
    for (int i = 0; st == FTN_OK && i < ns; i++) {
        if (dup[i] || s[i].n_masks == 0) {
            if (dup[i])
                ftn_fail(FTN_EFORMAT, "%s: another image in %s has the same stem '%s'", s[i].image_path, idir, s[i].id);
            else
                ftn_fail(FTN_EFORMAT, "%s: no mask found (looked in %s for %s[suffix][_N] with an image extension)",
                         s[i].image_path, mdir, s[i].id);
            if (!opt->skip_bad) {
                st = FTN_EFORMAT;
                break;
            }
            if ((st = ftn_ds_add_skipped(skipped, ftn_last_error())) != FTN_OK) break;
            ftn_ds_sample_free(&s[i]);
            continue;
        }
        s[kept++] = s[i];
        if (kept - 1 != i) memset(&s[i], 0, sizeof s[i]);
    }
    free(dup);
    if (st == FTN_OK) {
        for (int i = 0; i < kept; i++) qsort(s[i].mask_paths, (size_t)s[i].n_masks, sizeof(char *), cmp_str);
        *samples = s;
        *count = kept;
        s = NULL;
        ns = 0;
    }
done:
    for (int i = 0; s && i < ns; i++) ftn_ds_sample_free(&s[i]);
    free(s);
    free(refs);
    ftn_strvec_free(&imgs);
    ftn_strvec_free(&masks);
    free(idir);
    free(mdir);
    return st;
}
