#include "data/dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/error.h"
#include "data/resize.h"
#include "io/image.h"

/* ---- small helpers ---------------------------------------------------------------------------- */

typedef struct strvec { char **v; int n, cap; } strvec;

static int sv_push(strvec *s, char *str) /* takes ownership; frees str on failure */
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

static void sv_free(strvec *s)
{
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static char *join(const char *dir, const char *name)
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

static const char *basename_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
           !strcasecmp(dot, ".bmp");
}

/* The file name without folder and extension. */
static char *stem_of(const char *path)
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

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Image files (by extension) in dir, sorted by name. */
static ftn_status list_images(const char *dir, strvec *out)
{
    DIR *d = opendir(dir);
    if (!d) return ftn_fail(FTN_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
        char *p = join(dir, e->d_name);
        if (!p) break;
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        if (sv_push(out, p)) {
            closedir(d);
            return ftn_fail(FTN_ENOMEM, "%s: out of memory listing the folder", dir);
        }
    }
    closedir(d);
    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof(char *), cmp_str); /* v is NULL when empty */
    return FTN_OK;
}

static ftn_status add_skipped(ftn_dataset *ds, strvec *skipped, const char *msg)
{
    (void)ds;
    if (sv_push(skipped, strdup(msg))) return ftn_fail(FTN_ENOMEM, "dataset: out of memory");
    return FTN_OK;
}

static void sample_free(ftn_sample *s)
{
    free(s->id);
    free(s->image_path);
    for (int i = 0; i < s->n_masks; i++) free(s->mask_paths[i]);
    free(s->mask_paths);
    memset(s, 0, sizeof *s);
}

static int sample_add_mask(ftn_sample *s, char *path)
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

/* ISIC 2018 as downloaded: ISIC2018_Task1-2_Training_Input/ beside
 * ISIC2018_Task1_Training_GroundTruth/. Finds the one subfolder of `dir` whose name ends in
 * `suffix` (*found: 1, name in out); 0 when there is none; 2 (error set) when there are several. */
static int find_suffixed_dir(const char *dir, const char *suffix, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    size_t ls = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t ln = strlen(e->d_name);
        if (ln <= ls || strcmp(e->d_name + ln - ls, suffix)) continue;
        char *full = join(dir, e->d_name);
        int isd = full && is_dir(full);
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

const char *ftn_dataset_layout_name(ftn_dataset_layout layout)
{
    switch (layout) {
    case FTN_LAYOUT_IMAGES_MASKS: return "images/masks";
    case FTN_LAYOUT_BUS: return "original/gt";
    case FTN_LAYOUT_ISIC: return "isic (*_Input/*_GroundTruth)";
    case FTN_LAYOUT_CSV: return "csv";
    case FTN_LAYOUT_NPY: return "npy";
    }
    return "unknown";
}

void ftn_dataset_free(ftn_dataset *ds)
{
    if (!ds) return;
    for (int i = 0; i < ds->count; i++) sample_free(&ds->samples[i]);
    free(ds->samples);
    for (int i = 0; i < ds->n_skipped; i++) free(ds->skipped[i]);
    free(ds->skipped);
    free(ds->path);
    free(ds->npy_images);
    free(ds->npy_masks);
    memset(ds, 0, sizeof *ds);
}

/* ---- pairing by stem (folder layouts) --------------------------------------------------------- */

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

/* The sample index a mask stem belongs to, or −1. */
static int match_mask(const stem_ref *refs, int n, const char *m, const char *user_suffix)
{
    static const char *builtin[] = {"_segmentation", "_Segmentation", "_mask", "_lesion", ""};
    const char *sfx[6];
    int ns = 0;
    if (user_suffix && *user_suffix) sfx[ns++] = user_suffix;
    for (int i = 0; i < 5; i++) sfx[ns++] = builtin[i];
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
        if (ends_with(m, len, sfx[i])) {
            int r = find_stem(refs, n, m, len - k);
            if (r >= 0) return r;
        }
        if (numbered && ends_with(m, numbered, sfx[i])) {
            int r = find_stem(refs, n, m, numbered - k);
            if (r >= 0) return r;
        }
    }
    return -1;
}

static ftn_status open_folders(const char *path, const char *img_sub, const char *mask_sub,
                               const ftn_dataset_options *opt, ftn_sample **samples, int *count, strvec *skipped)
{
    ftn_status st = FTN_OK;
    char *idir = join(path, img_sub), *mdir = join(path, mask_sub);
    strvec imgs = {0}, masks = {0};
    stem_ref *refs = NULL;
    ftn_sample *s = NULL;
    int ns = 0;
    if (!idir || !mdir) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((st = list_images(idir, &imgs)) != FTN_OK || (st = list_images(mdir, &masks)) != FTN_OK) goto done;
    if (imgs.n == 0) {
        st = ftn_fail(FTN_EFORMAT, "%s: no image files (.png, .jpg, .jpeg or .bmp) in %s", path, idir);
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
        s[ns].id = stem_of(s[ns].image_path);
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
        char *ms = stem_of(masks.v[i]);
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
            if ((st = add_skipped(NULL, skipped, ftn_last_error())) != FTN_OK) break;
            continue;
        }
        if (sample_add_mask(&s[k], masks.v[i])) {
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
            if ((st = add_skipped(NULL, skipped, ftn_last_error())) != FTN_OK) break;
            sample_free(&s[i]);
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
    for (int i = 0; s && i < ns; i++) sample_free(&s[i]);
    free(s);
    free(refs);
    sv_free(&imgs);
    sv_free(&masks);
    free(idir);
    free(mdir);
    return st;
}

/* ---- CSV -------------------------------------------------------------------------------------- */

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

static ftn_status open_csv(const char *path, const ftn_dataset_options *opt, ftn_sample **samples, int *count,
                           strvec *skipped)
{
    (void)skipped;
    (void)opt;
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
            if (!has_image_ext(fields[0])) continue; /* a header line */
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
        x->image_path = fields[0][0] == '/' ? strdup(fields[0]) : join(dir, fields[0]);
        x->id = x->image_path ? stem_of(x->image_path) : NULL;
        int bad = !x->image_path || !x->id;
        for (int k = 1; !bad && k < nf; k++)
            if (*fields[k]) bad = sample_add_mask(x, fields[k][0] == '/' ? strdup(fields[k]) : join(dir, fields[k]));
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
        for (int i = 0; i < n; i++) sample_free(&s[i]);
        free(s);
        return st;
    }
    *samples = s;
    *count = n;
    return FTN_OK;
}

/* ---- checking samples ------------------------------------------------------------------------- */

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
    strvec skipped = {0};
    ftn_status st;
    if (S_ISDIR(st0.st_mode)) {
        char *a = join(path, "images"), *b = join(path, "masks"), *c = join(path, "original"), *d = join(path, "gt");
        char *e = join(path, "images.npy"), *f = join(path, "masks.npy");
        struct stat sn;
        int npy = e && f && stat(e, &sn) == 0 && stat(f, &sn) == 0;
        if (!a || !b || !c || !d || !e || !f) st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        else if (is_dir(a) && is_dir(b)) {
            out->layout = FTN_LAYOUT_IMAGES_MASKS;
            st = open_folders(path, "images", "masks", &opt, &out->samples, &out->count, &skipped);
        } else if (is_dir(c) && is_dir(d)) {
            out->layout = FTN_LAYOUT_BUS;
            st = open_folders(path, "original", "gt", &opt, &out->samples, &out->count, &skipped);
        } else if (npy) {
            out->layout = FTN_LAYOUT_NPY;
            st = ftn_dataset_open_npy(e, f, out);
        } else {
            char in_dir[256] = "", gt_dir[256] = "";
            int fi = find_suffixed_dir(path, "_Input", in_dir, sizeof in_dir);
            int fg = fi == 2 ? 0 : find_suffixed_dir(path, "_GroundTruth", gt_dir, sizeof gt_dir);
            if (fi == 2 || fg == 2) {
                st = FTN_EFORMAT;
            } else if (fi && fg) {
                out->layout = FTN_LAYOUT_ISIC;
                st = open_folders(path, in_dir, gt_dir, &opt, &out->samples, &out->count, &skipped);
            } else {
                st = ftn_fail(FTN_EFORMAT,
                              "%s: not a dataset folder: expected images/ + masks/, original/ + gt/ or ISIC's "
                              "*_Input/ + *_GroundTruth/ (or pass a CSV of image,mask lines)",
                              path);
            }
        }
        free(a), free(b), free(c), free(d), free(e), free(f);
    } else if (!S_ISREG(st0.st_mode)) {
        st = ftn_fail(FTN_EIO, "%s: not a folder or a regular (CSV) file%s", path,
                      S_ISFIFO(st0.st_mode) ? " (a FIFO)" : "");
    } else {
        out->layout = FTN_LAYOUT_CSV;
        st = open_csv(path, &opt, &out->samples, &out->count, &skipped);
    }
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
                if ((st = add_skipped(out, &skipped, ftn_last_error())) != FTN_OK) break;
                sample_free(&out->samples[i]);
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

ftn_status ftn_dataset_load(const ftn_dataset *ds, int i, ftn_image *image, ftn_image *mask)
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
        /* 0/1 label files (the largest value is 1 of 255, or of 65535, or less) are binary: any
         * non-zero pixel is lesion; otherwise a pixel is lesion above half the range. */
        size_t ns = np * (size_t)m.channels;
        float top = 0;
        for (size_t q = 0; q < ns; q++) top = m.data[q] > top ? m.data[q] : top;
        float thr = top <= FTN_MASK_BINARY_MAX ? 0.0f : 0.5f;
        for (size_t p = 0; p < np; p++) {
            int on = 0;
            for (int c = 0; c < m.channels; c++) on |= m.data[p * m.channels + c] > thr;
            if (on) mask->data[p] = 1.0f;
        }
        ftn_image_free(&m);
    }
    return FTN_OK;
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

/* Loads one sample into its NCHW slots. */
static ftn_status load_one(const ftn_dataset *ds, int si, int channels, int h, int w, ftn_resize_mode mode,
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
        sts[i] = load_one(ds, si, channels, h, w, mode, img + (size_t)i * per * channels, msk + (size_t)i * per,
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

ftn_status ftn_dataset_stats(const ftn_dataset *ds, ftn_dataset_summary *out)
{
    if (!ds || !out || ds->count <= 0) return ftn_fail(FTN_EINVAL, "dataset stats: empty dataset");
    memset(out, 0, sizeof *out);
    int n = ds->count;
    double *frac = calloc((size_t)n, sizeof *frac);
    ftn_status *sts = calloc((size_t)n, sizeof *sts);
    char(*msgs)[512] = calloc((size_t)n, sizeof *msgs);
    if (!frac || !sts || !msgs) {
        free(frac), free(sts), free(msgs);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory", ds->path);
    }
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < n; i++) {
        ftn_image im, m;
        sts[i] = ftn_dataset_load(ds, i, &im, &m);
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
            if (frac[i] < out->lesion_min) out->lesion_min = frac[i];
            if (frac[i] > out->lesion_max) out->lesion_max = frac[i];
            sum += frac[i];
        }
        out->lesion_mean = sum / n;
        for (int i = 0; i < n; i++) sq += (frac[i] - out->lesion_mean) * (frac[i] - out->lesion_mean);
        out->lesion_std = sqrt(sq / n);
    }
    free(frac);
    free(sts);
    free(msgs);
    return st;
}
