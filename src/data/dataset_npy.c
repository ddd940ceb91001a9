/* The .npy dataset layout: images.npy + masks.npy in one folder, read with io/npy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/dataset_internal.h"
#include "io/image.h"
#include "io/npy.h"

/* Works out N, H, W, C and whether the array is channels-first. */
static ftn_status shape_of(const char *path, int ndim, const int64_t *d, int is_mask, int64_t *n, int64_t *h,
                           int64_t *w, int *c, int *chw)
{
    *chw = 0;
    if (ndim == 3) {
        *n = d[0], *h = d[1], *w = d[2], *c = 1;
    } else if (ndim == 4 && (is_mask ? d[3] == 1 : (d[3] == 1 || d[3] == 3))) {
        *n = d[0], *h = d[1], *w = d[2], *c = (int)d[3];
    } else if (ndim == 4 && (is_mask ? d[1] == 1 : (d[1] == 1 || d[1] == 3))) {
        *n = d[0], *c = (int)d[1], *h = d[2], *w = d[3], *chw = 1;
    } else {
        return ftn_fail(FTN_EFORMAT, "%s: expected %s, got a %d-d array", path,
                        is_mask ? "masks N×H×W, N×H×W×1 or N×1×H×W" : "images N×H×W, N×H×W×C or N×C×H×W (C = 1 or 3)",
                        ndim);
    }
    if (*n < 1 || *h < 1 || *w < 1 || *n > 0x7fffffff || *h > 0x7fffffff || *w > 0x7fffffff)
        return ftn_fail(FTN_EFORMAT, "%s: empty or oversized array (%lld×%lld×%lld)", path, (long long)*n,
                        (long long)*h, (long long)*w);
    return FTN_OK;
}

ftn_status ftn_dataset_open_npy(const char *images_npy, const char *masks_npy, ftn_dataset *out)
{
    int ni = 0, nm = 0;
    int64_t di[FTN_NPY_MAX_DIMS], dm[FTN_NPY_MAX_DIMS];
    float *xi = NULL, *xm = NULL;
    ftn_status st = ftn_npy_read_f32(images_npy, &ni, di, &xi);
    if (st == FTN_OK) st = ftn_npy_read_f32(masks_npy, &nm, dm, &xm);
    int64_t n = 0, h = 0, w = 0, mn = 0, mh = 0, mw = 0;
    int c = 1, mc = 1, chw = 0, mchw = 0;
    if (st == FTN_OK) st = shape_of(images_npy, ni, di, 0, &n, &h, &w, &c, &chw);
    if (st == FTN_OK) st = shape_of(masks_npy, nm, dm, 1, &mn, &mh, &mw, &mc, &mchw);
    if (st == FTN_OK && (mn != n || mh != h || mw != w))
        st = ftn_fail(FTN_EFORMAT, "%s: %lld masks of %lldx%lld do not match %s's %lld images of %lldx%lld", masks_npy,
                      (long long)mn, (long long)mw, (long long)mh, images_npy, (long long)n, (long long)w, (long long)h);
    size_t limit = out->max_pixels ? out->max_pixels : ftn_image_max_pixels();
    if (st == FTN_OK && (uint64_t)h * (uint64_t)w > limit)
        st = ftn_fail(FTN_EFORMAT, "%s: images of %lldx%lld pixels exceed the limit of %zu (raise it with --max-pixels)",
                      images_npy, (long long)w, (long long)h, limit);
    if (st != FTN_OK) {
        free(xi);
        free(xm);
        return st;
    }
    size_t hw = (size_t)h * (size_t)w, total = (size_t)n * hw * (size_t)c;
    float *img = malloc(sizeof(float) * total), *msk = malloc(sizeof(float) * (size_t)n * hw);
    out->samples = calloc((size_t)n, sizeof *out->samples);
    if (!img || !msk || !out->samples) {
        free(xi), free(xm), free(img), free(msk);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory for %lld samples", images_npy, (long long)n);
    }
    /* the 0–255 convention is detected from the data */
    float imax = 0, mmax = 0;
    for (size_t i = 0; i < total; i++) imax = xi[i] > imax ? xi[i] : imax;
    for (size_t i = 0; i < (size_t)n * hw; i++) mmax = xm[i] > mmax ? xm[i] : mmax;
    /* a NaN would pass the clamp below and poison training; an infinity says the array is not
     * image data. Refused, naming the sample. */
    const char *bad_file = NULL;
    size_t bad = 0;
    for (size_t i = 0; i < total && !bad_file; i++) if (!isfinite(xi[i])) bad_file = images_npy, bad = i / ((size_t)c * hw);
    for (size_t i = 0; i < (size_t)n * hw && !bad_file; i++) if (!isfinite(xm[i])) bad_file = masks_npy, bad = i / hw;
    if (bad_file) {
        free(xi), free(xm), free(img), free(msk);
        return ftn_fail(FTN_EFORMAT, "%s: sample %zu holds a non-finite value (NaN or infinity)", bad_file, bad);
    }
    float iscale = imax > 1.0f ? 1.0f / 255.0f : 1.0f, mthr = mmax > 1.0f ? 127.5f : 0.5f;
    for (size_t s = 0; s < (size_t)n; s++)
        for (size_t p = 0; p < hw; p++) {
            for (int k = 0; k < c; k++) {
                float v = chw ? xi[(s * c + k) * hw + p] : xi[(s * hw + p) * c + k];
                v *= iscale;
                img[(s * hw + p) * c + k] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
            msk[s * hw + p] = xm[s * hw + p] > mthr ? 1.0f : 0.0f; /* one channel: same in both orders */
        }
    free(xi);
    free(xm);
    out->npy_images = img;
    out->npy_masks = msk;
    for (int64_t s = 0; s < n; s++) {
        ftn_sample *x = &out->samples[out->count++];
        char id[32];
        snprintf(id, sizeof id, "%05lld", (long long)s);
        x->id = strdup(id);
        x->image_path = strdup(images_npy);
        x->mask_paths = malloc(sizeof(char *));
        if (x->mask_paths) x->mask_paths[x->n_masks++] = strdup(masks_npy);
        x->width = (int)w;
        x->height = (int)h;
        x->channels = c;
        if (!x->id || !x->image_path || !x->mask_paths || !x->mask_paths[0])
            return ftn_fail(FTN_ENOMEM, "%s: out of memory", images_npy); /* the caller frees out */
    }
    return FTN_OK;
}

ftn_status ftn_dataset_load_npy(const ftn_dataset *ds, int i, ftn_image *image, ftn_image *mask)
{
    const ftn_sample *s = &ds->samples[i];
    size_t hw = (size_t)s->width * (size_t)s->height;
    image->data = malloc(sizeof(float) * hw * (size_t)s->channels);
    mask->data = malloc(sizeof(float) * hw);
    if (!image->data || !mask->data) {
        ftn_image_free(image);
        ftn_image_free(mask);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory for sample %d", s->image_path, i);
    }
    memcpy(image->data, ds->npy_images + (size_t)i * hw * s->channels, sizeof(float) * hw * s->channels);
    memcpy(mask->data, ds->npy_masks + (size_t)i * hw, sizeof(float) * hw);
    image->width = mask->width = s->width;
    image->height = mask->height = s->height;
    image->channels = s->channels;
    mask->channels = 1;
    return FTN_OK;
}
