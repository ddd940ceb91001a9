/* Data sets: opening one (which layout a path holds, then checking every sample's files), freeing
 * it, loading one sample or many as tensors, and statistics. The layouts themselves are in
 * dataset_folder.c, dataset_csv.c, dataset_npy.c, dataset_nnunet.c and dataset_side_by_side.c;
 * what they share is dataset_internal.h's. */
#include "data/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/error.h"
#include "data/dataset_internal.h"
#include "data/resize.h"
#include "io/image.h"

/* ---- small helpers (shared with the layout files) ------------------------------------------- */

int ftn_strvec_push(ftn_strvec *s, char *str)
{
    if (!str) return -1;
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 16;
        char **nv = realloc(s->v, sizeof(char *) * (size_t)nc);
        if (!nv) {
            free(str);
            return -1;
        }
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = str;
    return 0;
}

void ftn_strvec_free(ftn_strvec *s)
{
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

char *ftn_ds_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int ftn_ds_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

ftn_status ftn_ds_add_skipped(ftn_strvec *skipped, const char *msg)
{
    if (ftn_strvec_push(skipped, strdup(msg))) return ftn_fail(FTN_ENOMEM, "dataset: out of memory");
    return FTN_OK;
}

void ftn_ds_sample_free(ftn_sample *s)
{
    free(s->id);
    free(s->label);
    free(s->image_path);
    for (int i = 0; i < s->n_masks; i++) free(s->mask_paths[i]);
    free(s->mask_paths);
    memset(s, 0, sizeof *s);
}

int ftn_ds_sample_add_mask(ftn_sample *s, char *path)
{
    if (!path) return -1;
    char **nm = realloc(s->mask_paths, sizeof(char *) * (size_t)(s->n_masks + 1));
    if (!nm) {
        free(path);
        return -1;
    }
    s->mask_paths = nm;
    s->mask_paths[s->n_masks++] = path;
    return 0;
}

const char *ftn_dataset_layout_name(ftn_dataset_layout layout)
{
    switch (layout) {
    case FTN_LAYOUT_IMAGES_MASKS: return "images/masks";
    case FTN_LAYOUT_BUS: return "original/gt";
    case FTN_LAYOUT_ISIC: return "isic (*_Input/*_GroundTruth)";
    case FTN_LAYOUT_CSV: return "csv";
    case FTN_LAYOUT_NPY: return "npy";
    case FTN_LAYOUT_SIDE_BY_SIDE: return "side-by-side";
    case FTN_LAYOUT_NNUNET: return "nnunet";
    }
    return "unknown";
}

void ftn_dataset_free(ftn_dataset *ds)
{
    if (!ds) return;
    for (int i = 0; i < ds->count; i++) ftn_ds_sample_free(&ds->samples[i]);
    free(ds->samples);
    for (int i = 0; i < ds->n_skipped; i++) free(ds->skipped[i]);
    free(ds->skipped);
    for (int i = 0; i < ds->n_notes; i++) free(ds->notes[i]);
    free(ds->notes);
    free(ds->path);
    free(ds->npy_images);
    free(ds->npy_masks);
    memset(ds, 0, sizeof *ds);
}

/* ---- checking samples ------------------------------------------------------------------------- */

static int cmp_sample_id(const void *a, const void *b)
{
    const ftn_sample *x = *(const ftn_sample *const *)a, *y = *(const ftn_sample *const *)b;
    return strcmp(x->id, y->id);
}

/* Every layout's ids are unique (splits and config.json name samples by id). */
static ftn_status check_unique_ids(const ftn_dataset *ds)
{
    if (ds->count < 2) return FTN_OK;
    const ftn_sample **v = malloc(sizeof *v * (size_t)ds->count);
    if (!v) return ftn_fail(FTN_ENOMEM, "%s: out of memory", ds->path);
    for (int i = 0; i < ds->count; i++) v[i] = &ds->samples[i];
    qsort(v, (size_t)ds->count, sizeof *v, cmp_sample_id);
    ftn_status st = FTN_OK;
    for (int i = 1; i < ds->count && st == FTN_OK; i++)
        if (!strcmp(v[i]->id, v[i - 1]->id)) {
            const ftn_sample *a = v[i - 1] < v[i] ? v[i - 1] : v[i], *b = a == v[i] ? v[i - 1] : v[i];
            st = ftn_fail(FTN_EFORMAT, "%s and %s: both have the sample id '%s' (ids must be unique: splits name samples by id)",
                          a->image_path ? a->image_path : ds->path, b->image_path ? b->image_path : ds->path, a->id);
        }
    free(v);
    return st;
}

static ftn_status check_sample(const ftn_dataset *ds, ftn_sample *s, int verify)
{
    int w, h, c;
    FTN_TRY(ftn_image_probe(s->image_path, ds->max_pixels, &w, &h, &c));
    for (int k = 0; k < s->n_masks; k++) {
        int mw, mh, mc;
        FTN_TRY(ftn_image_probe(s->mask_paths[k], ds->max_pixels, &mw, &mh, &mc));
        if (mw != w || mh != h)
            return ftn_fail(FTN_EFORMAT, "%s: mask is %dx%d but its image %s is %dx%d", s->mask_paths[k], mw, mh,
                            s->image_path, w, h);
    }
    s->width = w;
    s->height = h;
    s->channels = c;
    if (verify) {
        ftn_image im, m;
        FTN_TRY(ftn_dataset_load(ds, (int)(s - ds->samples), &im, &m));
        ftn_image_free(&im);
        ftn_image_free(&m);
    }
    return FTN_OK;
}

ftn_status ftn_dataset_open(const char *path, const ftn_dataset_options *options, ftn_dataset *out)
{
    ftn_dataset_options opt = {0};
    if (options) opt = *options;
    if (!out) return ftn_fail(FTN_EINVAL, "dataset open: no output");
    memset(out, 0, sizeof *out);
    if (!path || !*path) return ftn_fail(FTN_EINVAL, "dataset open: no path given");
    struct stat st0;
    if (stat(path, &st0) != 0) return ftn_fail(FTN_EIO, "%s: cannot open dataset: %s", path, strerror(errno));
    out->path = strdup(path);
    out->max_pixels = opt.max_pixels;
    if (!out->path) return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    ftn_strvec skipped = {0}, notes = {0};
    ftn_status st;
    if (S_ISDIR(st0.st_mode)) {
        char *a = ftn_ds_join(path, "images"), *b = ftn_ds_join(path, "masks");
        char *c = ftn_ds_join(path, "original"), *d = ftn_ds_join(path, "gt");
        char *e = ftn_ds_join(path, "images.npy"), *f = ftn_ds_join(path, "masks.npy");
        struct stat sn;
        int npy = e && f && stat(e, &sn) == 0 && stat(f, &sn) == 0;
        if (!a || !b || !c || !d || !e || !f) st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        else if (ftn_ds_is_dir(a) && ftn_ds_is_dir(b)) {
            out->layout = FTN_LAYOUT_IMAGES_MASKS;
            st = ftn_dataset_open_folders(path, "images", "masks", &opt, &out->samples, &out->count, &skipped);
        } else if (ftn_ds_is_dir(c) && ftn_ds_is_dir(d)) {
            out->layout = FTN_LAYOUT_BUS;
            st = ftn_dataset_open_folders(path, "original", "gt", &opt, &out->samples, &out->count, &skipped);
        } else if (npy) {
            out->layout = FTN_LAYOUT_NPY;
            st = ftn_dataset_open_npy(e, f, out);
        } else {
            char in_dir[256] = "", gt_dir[256] = "";
            int fi = ftn_dataset_find_suffixed_dir(path, "_Input", in_dir, sizeof in_dir);
            int fg = fi == 2 ? 0 : ftn_dataset_find_suffixed_dir(path, "_GroundTruth", gt_dir, sizeof gt_dir);
            if (fi == 2 || fg == 2) {
                st = FTN_EFORMAT;
            } else if (fi && fg) {
                out->layout = FTN_LAYOUT_ISIC;
                st = ftn_dataset_open_folders(path, in_dir, gt_dir, &opt, &out->samples, &out->count, &skipped);
            } else if (ftn_dataset_is_nnunet(path)) {
                out->layout = FTN_LAYOUT_NNUNET;
                out->mask_nonzero = 1;
                st = ftn_dataset_open_nnunet(path, &opt, &out->samples, &out->count, &skipped, &notes);
            } else if (ftn_dataset_is_side_by_side(path, opt.mask_suffix)) {
                out->layout = FTN_LAYOUT_SIDE_BY_SIDE;
                st = ftn_dataset_open_side_by_side(path, &opt, &out->samples, &out->count, &skipped);
            } else {
                st = ftn_fail(FTN_EFORMAT,
                              "%s: not a dataset folder: expected images/ + masks/, original/ + gt/, images.npy + "
                              "masks.npy, ISIC's *_Input/ + *_GroundTruth/, nnU-Net's dataset.json + imagesTr/ + "
                              "labelsTr/, or images beside their masks (x.png + x_mask.png, in class subfolders or "
                              "not) (or pass a CSV of image,mask lines)",
                              path);
            }
        }
        free(a), free(b), free(c), free(d), free(e), free(f);
    } else if (!S_ISREG(st0.st_mode)) {
        st = ftn_fail(FTN_EIO, "%s: not a folder or a regular (CSV) file%s", path,
                      S_ISFIFO(st0.st_mode) ? " (a FIFO)" : "");
    } else {
        out->layout = FTN_LAYOUT_CSV;
        st = ftn_dataset_open_csv(path, &out->samples, &out->count, &notes);
    }
    if (st == FTN_OK) st = check_unique_ids(out);
    /* headers (or full decode): sizes, readability, mask/image agreement */
    if (st == FTN_OK && out->layout != FTN_LAYOUT_NPY) {
        int kept = 0;
        for (int i = 0; i < out->count; i++) {
            ftn_status cs = check_sample(out, &out->samples[i], opt.verify);
            if (cs == FTN_ENOMEM) {
                st = cs;
                break;
            }
            if (cs != FTN_OK) {
                if (!opt.skip_bad) {
                    st = cs;
                    break;
                }
                if ((st = ftn_ds_add_skipped(&skipped, ftn_last_error())) != FTN_OK) break;
                ftn_ds_sample_free(&out->samples[i]);
                continue;
            }
            if (kept != i) {
                out->samples[kept] = out->samples[i];
                memset(&out->samples[i], 0, sizeof out->samples[i]);
            }
            kept++;
        }
        if (st == FTN_OK) out->count = kept;
    }
    out->skipped = skipped.v;
    out->n_skipped = skipped.n;
    out->notes = notes.v;
    out->n_notes = notes.n;
    if (st == FTN_OK && out->count == 0)
        st = ftn_fail(FTN_EFORMAT, "%s: no usable image/mask pairs (%d skipped)", path, out->n_skipped);
    if (st != FTN_OK) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", ftn_last_error());
        ftn_dataset_free(out);
        ftn_fail(st, "%s", keep);
    }
    return st;
}

/* ---- loading ---------------------------------------------------------------------------------- */

/* The largest mask value read as a 0/1 label file: 1 of 255 (a hair over, for rounding). */
#define FTN_MASK_BINARY_MAX (1.5f / 255.0f)

/* What ftn_dataset_stats learns of a sample's mask files beyond the union: how many have a value
 * set other than {0, top} or {0, 1 of the range}, and the first such file's values. */
typedef struct mask_report {
    int nonbinary;
    char example[400];
} mask_report;

/* Lists the distinct values of m into r when they are not a binary set (see mask_report). */
static void report_values(const ftn_image *m, const char *path, mask_report *r)
{
    static const int words = 65536 / 64;
    uint64_t seen[65536 / 64];
    memset(seen, 0, sizeof seen);
    size_t ns = (size_t)m->width * m->height * (size_t)m->channels;
    for (size_t q = 0; q < ns; q++) {
        float v = !(m->data[q] > 0) ? 0 : m->data[q] > 1 ? 1 : m->data[q]; /* NaN too */
        int k = (int)lrintf(v * 65535.0f);
        seen[k >> 6] |= 1ull << (k & 63);
    }
    int nz = 0, first = -1, eight = 1;
    for (int w = 0; w < words; w++)
        for (uint64_t b = seen[w]; b; b &= b - 1) {
            int k = w * 64 + __builtin_ctzll(b);
            if (k) {
                nz++;
                if (first < 0) first = k;
            }
            eight &= k % 257 == 0;
        }
    if (nz == 0 || (nz == 1 && (first == 65535 || first <= (int)(FTN_MASK_BINARY_MAX * 65535.0f)))) return;
    if (r->nonbinary++) return;
    int len = snprintf(r->example, sizeof r->example, "%s: values", path), listed = 0, total = nz + ((seen[0] & 1) != 0);
    for (int w = 0; w < words && len < (int)sizeof r->example; w++)
        for (uint64_t b = seen[w]; b && len < (int)sizeof r->example; b &= b - 1) {
            int k = w * 64 + __builtin_ctzll(b);
            if (listed == 8) {
                len += snprintf(r->example + len, sizeof r->example - (size_t)len, ", ... (%d values)", total);
                w = words;
                break;
            }
            len += snprintf(r->example + len, sizeof r->example - (size_t)len, "%s %d", listed ? "," : "",
                            eight ? k / 257 : k);
            listed++;
        }
    if (!eight && len < (int)sizeof r->example) snprintf(r->example + len, sizeof r->example - (size_t)len, " (of 65535)");
}

static ftn_status load_sample(const ftn_dataset *ds, int i, ftn_image *image, ftn_image *mask, mask_report *rep)
{
    if (!ds || !image || !mask || i < 0 || i >= ds->count)
        return ftn_fail(FTN_EINVAL, "dataset load: sample %d out of range (%d samples)", i, ds ? ds->count : 0);
    memset(image, 0, sizeof *image);
    memset(mask, 0, sizeof *mask);
    if (ds->layout == FTN_LAYOUT_NPY) return ftn_dataset_load_npy(ds, i, image, mask);
    const ftn_sample *s = &ds->samples[i];
    FTN_TRY(ftn_image_read_limit(s->image_path, ds->max_pixels, image));
    size_t np = (size_t)image->width * (size_t)image->height;
    mask->data = calloc(np ? np : 1, sizeof(float));
    if (!mask->data) {
        ftn_image_free(image);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory for its mask", s->image_path);
    }
    mask->width = image->width;
    mask->height = image->height;
    mask->channels = 1;
    for (int k = 0; k < s->n_masks; k++) {
        ftn_image m;
        ftn_status st = ftn_image_read_limit(s->mask_paths[k], ds->max_pixels, &m);
        if (st == FTN_OK && (m.width != image->width || m.height != image->height)) {
            st = ftn_fail(FTN_EFORMAT, "%s: mask is %dx%d but its image %s is %dx%d", s->mask_paths[k], m.width,
                          m.height, s->image_path, image->width, image->height);
            ftn_image_free(&m);
        }
        if (st != FTN_OK) {
            ftn_image_free(image);
            ftn_image_free(mask);
            return st;
        }
        if (rep) report_values(&m, s->mask_paths[k], rep);
        /* 0/1 label files (the largest value is 1 of 255, or of 65535, or less) are binary: any
         * non-zero pixel is lesion; otherwise a pixel is lesion above half the range. Integer
         * label files (nnU-Net: 0 background, 1, 2, ... lesion) are lesion wherever non-zero. */
        size_t ns = np * (size_t)m.channels;
        float top = 0;
        for (size_t q = 0; q < ns; q++) top = m.data[q] > top ? m.data[q] : top;
        float thr = ds->mask_nonzero || top <= FTN_MASK_BINARY_MAX ? 0.0f : 0.5f;
        for (size_t p = 0; p < np; p++) {
            int on = 0;
            for (int c = 0; c < m.channels; c++) on |= m.data[p * m.channels + c] > thr;
            if (on) mask->data[p] = 1.0f;
        }
        ftn_image_free(&m);
    }
    return FTN_OK;
}

ftn_status ftn_dataset_load(const ftn_dataset *ds, int i, ftn_image *image, ftn_image *mask)
{
    return load_sample(ds, i, image, mask, NULL);
}

void ftn_convert_channels(const float *src, int h, int w, int src_c, float *dst, int dst_c)
{
    size_t n = (size_t)h * w;
    if (src_c == dst_c) {
        memcpy(dst, src, sizeof(float) * n * (size_t)src_c);
    } else if (src_c == 1) {
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < dst_c; k++) dst[i * dst_c + k] = src[i];
    } else {
        for (size_t i = 0; i < n; i++) {
            const float *p = src + i * src_c;
            float y = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
            for (int k = 0; k < dst_c; k++) dst[i * dst_c + k] = y;
        }
    }
}

ftn_status ftn_dataset_load_sample(const ftn_dataset *ds, int si, int channels, int h, int w, ftn_resize_mode mode,
                                   float *img_out, float *mask_out, int *hw)
{
    ftn_image im, m;
    FTN_TRY(ftn_dataset_load(ds, si, &im, &m));
    size_t np = (size_t)im.width * im.height, hw_n = (size_t)h * w;
    float *conv = malloc(sizeof(float) * np * (size_t)channels);
    float *rs = malloc(sizeof(float) * hw_n * (size_t)channels);
    ftn_status st = FTN_OK;
    if (!conv || !rs) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory preprocessing", ds->samples[si].image_path);
        goto done;
    }
    ftn_convert_channels(im.data, im.height, im.width, im.channels, conv, channels);
    if ((st = ftn_resize(conv, im.height, im.width, channels, rs, h, w, mode)) != FTN_OK) goto done;
    for (size_t p = 0; p < hw_n; p++)
        for (int c = 0; c < channels; c++) img_out[(size_t)c * hw_n + p] = rs[p * channels + c];
    if ((st = ftn_resize(m.data, m.height, m.width, 1, mask_out, h, w, FTN_RESIZE_NEAREST)) != FTN_OK) goto done;
    if (hw) {
        hw[0] = im.height;
        hw[1] = im.width;
    }
done:
    free(conv);
    free(rs);
    ftn_image_free(&im);
    ftn_image_free(&m);
    return st;
}

ftn_status ftn_dataset_load_subset(const ftn_dataset *ds, const int *idx, int n, int channels, int h, int w,
                                   ftn_resize_mode mode, float **images, float **masks, int **orig_hw)
{
    if (!ds || !images || !masks) return ftn_fail(FTN_EINVAL, "dataset load: missing argument");
    *images = NULL;
    *masks = NULL;
    if (orig_hw) *orig_hw = NULL;
    if (n <= 0 || (channels != 1 && channels != 3) || h <= 0 || w <= 0)
        return ftn_fail(FTN_EINVAL, "%s: cannot load %d samples as %dx%dx%d", ds->path, n, channels, h, w);
    for (int i = 0; i < n; i++) {
        int si = idx ? idx[i] : i;
        if (si < 0 || si >= ds->count)
            return ftn_fail(FTN_EINVAL, "%s: sample index %d out of range (%d samples)", ds->path, si, ds->count);
    }
    size_t per = (size_t)h * w;
    float *img = malloc(sizeof(float) * per * (size_t)channels * (size_t)n);
    float *msk = malloc(sizeof(float) * per * (size_t)n);
    int *hw = malloc(sizeof(int) * 2 * (size_t)n);
    ftn_status *sts = calloc((size_t)n, sizeof *sts);
    char(*msgs)[512] = calloc((size_t)n, sizeof *msgs);
    if (!img || !msk || !hw || !sts || !msgs) {
        free(img), free(msk), free(hw), free(sts), free(msgs);
        return ftn_fail(FTN_ENOMEM, "%s: cannot allocate tensors for %d samples of %dx%dx%d", ds->path, n, channels, h, w);
    }
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < n; i++) {
        int si = idx ? idx[i] : i;
        sts[i] = ftn_dataset_load_sample(ds, si, channels, h, w, mode, img + (size_t)i * per * channels, msk + (size_t)i * per,
                          hw + 2 * (size_t)i);
        if (sts[i] != FTN_OK) snprintf(msgs[i], sizeof msgs[i], "%s", ftn_last_error());
    }
    ftn_status st = FTN_OK;
    for (int i = 0; i < n; i++)
        if (sts[i] != FTN_OK) {
            st = ftn_fail(sts[i], "%s", msgs[i]);
            break;
        }
    free(sts);
    free(msgs);
    if (st != FTN_OK) {
        free(img), free(msk), free(hw);
        return st;
    }
    *images = img;
    *masks = msk;
    if (orig_hw) *orig_hw = hw;
    else free(hw);
    return FTN_OK;
}

ftn_status ftn_dataset_load_tensors(const ftn_dataset *ds, int channels, int h, int w, ftn_resize_mode mode,
                                    float **images, float **masks, int **orig_hw)
{
    if (!ds) return ftn_fail(FTN_EINVAL, "dataset load: no dataset");
    return ftn_dataset_load_subset(ds, NULL, ds->count, channels, h, w, mode, images, masks, orig_hw);
}

/* ---- statistics ------------------------------------------------------------------------------- */

/* qsort has no context argument: the data set whose sample indices cmp_by_label orders (set just
 * before the call; stats runs the sort outside its parallel loop). */
static _Thread_local const ftn_dataset *class_ds;

static int cmp_by_label(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    int c = strcmp(class_ds->samples[i].label, class_ds->samples[j].label);
    return c ? c : (i > j) - (i < j);
}

ftn_status ftn_dataset_stats(const ftn_dataset *ds, ftn_dataset_summary *out)
{
    if (!ds || !out || ds->count <= 0) return ftn_fail(FTN_EINVAL, "dataset stats: empty dataset");
    memset(out, 0, sizeof *out);
    int n = ds->count;
    double *frac = calloc((size_t)n, sizeof *frac);
    ftn_status *sts = calloc((size_t)n, sizeof *sts);
    char(*msgs)[512] = calloc((size_t)n, sizeof *msgs);
    mask_report *reps = calloc((size_t)n, sizeof *reps);
    int *order = calloc((size_t)n, sizeof *order);
    if (!frac || !sts || !msgs || !reps || !order) {
        free(frac), free(sts), free(msgs), free(reps), free(order);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory", ds->path);
    }
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < n; i++) {
        ftn_image im, m;
        sts[i] = load_sample(ds, i, &im, &m, &reps[i]);
        if (sts[i] != FTN_OK) {
            snprintf(msgs[i], sizeof msgs[i], "%s", ftn_last_error());
            continue;
        }
        size_t np = (size_t)m.width * m.height, on = 0;
        for (size_t p = 0; p < np; p++) on += m.data[p] > 0.5f;
        frac[i] = (double)on / (double)np;
        ftn_image_free(&im);
        ftn_image_free(&m);
    }
    ftn_status st = FTN_OK;
    for (int i = 0; i < n; i++)
        if (sts[i] != FTN_OK) {
            st = ftn_fail(sts[i], "%s", msgs[i]);
            break;
        }
    if (st == FTN_OK) {
        out->count = n;
        out->min_width = out->min_height = 0x7fffffff;
        out->lesion_min = 1.0;
        double sum = 0, sq = 0;
        for (int i = 0; i < n; i++) {
            const ftn_sample *s = &ds->samples[i];
            if (s->width < out->min_width) out->min_width = s->width;
            if (s->width > out->max_width) out->max_width = s->width;
            if (s->height < out->min_height) out->min_height = s->height;
            if (s->height > out->max_height) out->max_height = s->height;
            if (s->channels == 1) out->grey_images++;
            else out->colour_images++;
            if (frac[i] == 0) out->empty_masks++;
            if (frac[i] == 1) out->full_masks++;
            if (frac[i] < out->lesion_min) out->lesion_min = frac[i];
            if (frac[i] > out->lesion_max) out->lesion_max = frac[i];
            sum += frac[i];
        }
        out->lesion_mean = sum / n;
        for (int i = 0; i < n; i++) sq += (frac[i] - out->lesion_mean) * (frac[i] - out->lesion_mean);
        out->lesion_std = sqrt(sq / n);
        /* mask files that are not binary: a count and the first few, in sample order */
        size_t len = 0, cap = sizeof out->nonbinary_examples;
        int shown = 0;
        for (int i = 0; i < n; i++) {
            out->nonbinary_masks += reps[i].nonbinary;
            if (!reps[i].nonbinary || shown == 3) continue;
            size_t need = strlen(reps[i].example) + (shown ? 2 : 0);
            if (len + need + 1 > cap) {
                shown = 3;
                continue;
            }
            len += (size_t)snprintf(out->nonbinary_examples + len, cap - len, "%s%s", shown ? "; " : "", reps[i].example);
            shown++;
        }
        /* per class: the labelled samples grouped by label */
        int nl = 0;
        for (int i = 0; i < n; i++)
            if (ds->samples[i].label) order[nl++] = i;
        class_ds = ds;
        if (nl > 1) qsort(order, (size_t)nl, sizeof *order, cmp_by_label);
        for (int a = 0; a < nl;) {
            const char *label = ds->samples[order[a]].label;
            int b = a;
            double csum = 0, csq = 0;
            int empty = 0;
            while (b < nl && !strcmp(ds->samples[order[b]].label, label)) {
                csum += frac[order[b]];
                empty += frac[order[b]] == 0;
                b++;
            }
            if (out->n_classes == FTN_DATASET_MAX_CLASSES) {
                out->more_classes++;
            } else {
                int c = out->n_classes++;
                out->classes[c].label = label;
                out->classes[c].count = b - a;
                out->classes[c].empty_masks = empty;
                out->classes[c].lesion_mean = csum / (b - a);
                for (int j = a; j < b; j++)
                    csq += (frac[order[j]] - out->classes[c].lesion_mean) * (frac[order[j]] - out->classes[c].lesion_mean);
                out->classes[c].lesion_std = sqrt(csq / (b - a));
            }
            a = b;
        }
    }
    free(frac);
    free(sts);
    free(msgs);
    free(reps);
    free(order);
    return st;
}
