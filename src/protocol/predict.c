/* Prediction beyond the paper's protocol (ftunet_protocol.h, "prediction"): test-time flips,
 * ensembles, bilinear upsampling of the probability map, the largest lesion, and the checkpoints
 * a run or cross-validation folder holds. */
#include "protocol/predict.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/fs.h"
#include "data/resize.h"
#include "protocol/evaluate.h"

/* ---- names and defaults ---------------------------------------------------------------------- */

const char *ftn_tta_name(ftn_tta t) { return t == FTN_TTA_FLIPS ? "flips" : t == FTN_TTA_NONE ? "none" : "unknown"; }

ftn_status ftn_tta_parse(const char *name, ftn_tta *t)
{
    if (name && !strcmp(name, "none")) *t = FTN_TTA_NONE;
    else if (name && !strcmp(name, "flips")) *t = FTN_TTA_FLIPS;
    else return ftn_fail(FTN_EINVAL, "test-time augmentation '%s': unknown (use none or flips)", name ? name : "(null)");
    return FTN_OK;
}

const char *ftn_upsample_name(ftn_upsample u)
{
    return u == FTN_UPSAMPLE_BILINEAR ? "bilinear" : u == FTN_UPSAMPLE_NEAREST ? "nearest" : "unknown";
}

ftn_status ftn_upsample_parse(const char *name, ftn_upsample *u)
{
    if (name && !strcmp(name, "nearest")) *u = FTN_UPSAMPLE_NEAREST;
    else if (name && !strcmp(name, "bilinear")) *u = FTN_UPSAMPLE_BILINEAR;
    else return ftn_fail(FTN_EINVAL, "upsampling '%s': unknown (use nearest or bilinear)", name ? name : "(null)");
    return FTN_OK;
}

ftn_predict_config ftn_predict_default(void)
{
    ftn_predict_config c;
    memset(&c, 0, sizeof c);
    c.resize = FTN_RESIZE_NEAREST;
    c.tta = FTN_TTA_NONE;
    c.upsample = FTN_UPSAMPLE_NEAREST;
    c.threshold = FTN_METRIC_THRESHOLD;
    return c;
}

/* ---- the arithmetic -------------------------------------------------------------------------- */

void ftn_flip_planar(const float *src, int c, int h, int w, int flip_x, int flip_y, float *dst)
{
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++) {
            const float *s = src + ((size_t)k * h + (size_t)(flip_y ? h - 1 - y : y)) * w;
            float *d = dst + ((size_t)k * h + y) * w;
            if (flip_x)
                for (int x = 0; x < w; x++) d[x] = s[w - 1 - x];
            else
                memcpy(d, s, sizeof(float) * (size_t)w);
        }
}

ftn_status ftn_upsample_prob(const float *src, int h, int w, float *dst, int dh, int dw, ftn_upsample mode)
{
    if (!src || !dst || h <= 0 || w <= 0 || dh <= 0 || dw <= 0)
        return ftn_fail(FTN_EINVAL, "upsample: bad map (%dx%d to %dx%d)", h, w, dh, dw);
    /* nearest: source index floor(d·h/dh), the reference's (and ftn_predict_image's) upsampling.
     * bilinear: ftn_resize's, with align_corners = false: pixel centres sit at half-integers, so
     * output pixel d samples the source at (d + 0.5)·h/dh − 0.5 and interpolates its two
     * neighbours, clamped to the first and last pixel at the edges. The map's corners are not
     * pinned to the image's corners (align_corners = true would stretch it by (dh−1)/(h−1)
     * instead of dh/h and shift the lesion's border by up to half a source pixel); this is
     * PyTorch's F.interpolate(mode="bilinear", align_corners=False) and OpenCV's INTER_LINEAR. */
    if (mode == FTN_UPSAMPLE_NEAREST) return ftn_resize(src, h, w, 1, dst, dh, dw, FTN_RESIZE_NEAREST);
    if (mode == FTN_UPSAMPLE_BILINEAR) return ftn_resize(src, h, w, 1, dst, dh, dw, FTN_RESIZE_BILINEAR);
    return ftn_fail(FTN_EINVAL, "upsample: unknown mode %d", (int)mode);
}

ftn_status ftn_largest_component(uint8_t *mask, int h, int w, size_t *kept)
{
    if (kept) *kept = 0;
    if (!mask || h <= 0 || w <= 0) return ftn_fail(FTN_EINVAL, "largest component: bad mask (%dx%d)", h, w);
    size_t np = (size_t)h * w;
    int32_t *label = calloc(np, sizeof *label);
    int32_t *stack = malloc(np * sizeof *stack);
    if (!label || !stack) {
        free(label);
        free(stack);
        return ftn_fail(FTN_ENOMEM, "largest component: out of memory for a %dx%d mask", w, h);
    }
    int32_t n_labels = 0, best = 0;
    size_t best_size = 0;
    for (size_t p0 = 0; p0 < np; p0++) {
        if (!mask[p0] || label[p0]) continue;
        int32_t l = ++n_labels;
        size_t size = 0, top = 0;
        label[p0] = l;
        stack[top++] = (int32_t)p0;
        while (top) { /* flood fill over the 8 neighbours */
            int32_t p = stack[--top];
            size++;
            int y = p / w, x = p % w;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy, xx = x + dx;
                    if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                    size_t q = (size_t)yy * w + xx;
                    if (mask[q] && !label[q]) {
                        label[q] = l;
                        stack[top++] = (int32_t)q;
                    }
                }
        }
        if (size > best_size) { /* strictly larger: the first of equal ones stays */
            best_size = size;
            best = l;
        }
    }
    for (size_t p = 0; p < np; p++)
        if (label[p] != best) mask[p] = 0;
    free(label);
    free(stack);
    if (kept) *kept = best_size;
    return FTN_OK;
}

ftn_status ftn_predict_mask(const float *prob, int h, int w, const ftn_predict_config *cfg, uint8_t *mask, size_t *area)
{
    if (!prob || !cfg || !mask || h <= 0 || w <= 0) return ftn_fail(FTN_EINVAL, "predict mask: missing argument");
    size_t np = (size_t)h * w, n = 0;
    for (size_t p = 0; p < np; p++) n += (mask[p] = prob[p] > cfg->threshold) != 0;
    if (cfg->largest_component) FTN_TRY(ftn_largest_component(mask, h, w, &n));
    if (area) *area = n;
    return FTN_OK;
}

/* ---- test-time flips ------------------------------------------------------------------------- */

/* The views: identity, left–right, top–bottom, both. */
static const int flip_x_of[4] = { 0, 1, 0, 1 }, flip_y_of[4] = { 0, 0, 1, 1 };

ftn_status ftn_predict_map(ftn_predict_fn fn, void *user, int batch, const float *x, int c, int h, int w, ftn_tta tta,
                           float *out)
{
    if (!fn || !x || !out || batch < 1 || c < 1 || h < 1 || w < 1) return ftn_fail(FTN_EINVAL, "predict: bad argument");
    if (tta == FTN_TTA_NONE) return fn(user, x, 1, out);
    if (tta != FTN_TTA_FLIPS) return ftn_fail(FTN_EINVAL, "predict: unknown test-time augmentation %d", (int)tta);
    int per_call = batch < 4 ? batch : 4;
    size_t in_n = (size_t)c * h * w, px = (size_t)h * w;
    float *xs = malloc(sizeof(float) * in_n * (size_t)per_call), *ys = malloc(sizeof(float) * px * (size_t)per_call);
    float *back = malloc(sizeof(float) * px);
    ftn_status st = FTN_OK;
    if (!xs || !ys || !back) st = ftn_fail(FTN_ENOMEM, "predict: out of memory");
    for (int v0 = 0; st == FTN_OK && v0 < 4; v0 += per_call) {
        int cnt = 4 - v0 < per_call ? 4 - v0 : per_call;
        for (int j = 0; j < cnt; j++) ftn_flip_planar(x, c, h, w, flip_x_of[v0 + j], flip_y_of[v0 + j], xs + j * in_n);
        st = fn(user, xs, cnt, ys);
        for (int j = 0; st == FTN_OK && j < cnt; j++) {
            int v = v0 + j;
            /* the mirror is its own inverse: mirroring the view's map back aligns it with x */
            ftn_flip_planar(ys + j * px, 1, h, w, flip_x_of[v], flip_y_of[v], back);
            if (v == 0) memcpy(out, back, sizeof(float) * px);
            else
                for (size_t p = 0; p < px; p++) out[p] += back[p];
        }
    }
    if (st == FTN_OK)
        for (size_t p = 0; p < px; p++) out[p] *= 0.25f;
    free(xs);
    free(ys);
    free(back);
    return st;
}

/* ---- ensembles of sessions ------------------------------------------------------------------- */

/* One session as an ftn_predict_fn: the inputs in its first slots, zeros in the rest. */
typedef struct session_fn {
    ftn_session *s;
    float *batch_x; /* batch × C×H×W */
} session_fn;

static ftn_status run_session(void *user, const float *x, int n, float *out)
{
    session_fn *sf = user;
    ftn_model *m = ftn_session_model(sf->s);
    ftn_shape in = ftn_model_input_shape(m);
    size_t per = (size_t)in.c * in.h * in.w;
    int batch = ftn_session_batch(sf->s);
    if (n > batch) return ftn_fail(FTN_EINTERNAL, "predict: %d views for a session of batch %d", n, batch);
    memcpy(sf->batch_x, x, sizeof(float) * per * (size_t)n);
    memset(sf->batch_x + per * (size_t)n, 0, sizeof(float) * per * (size_t)(batch - n));
    FTN_TRY(ftn_session_forward(sf->s, sf->batch_x, 0));
    ftn_shape os;
    const float *o = ftn_session_output(sf->s, ftn_model_output_count(m) - 1, &os);
    if (!o || os.c != 1 || os.h != in.h || os.w != in.w)
        return ftn_fail(FTN_EINTERNAL, "predict: the network's last output is not a 1-channel map of its input's size");
    memcpy(out, o, sizeof(float) * (size_t)in.h * in.w * (size_t)n);
    return FTN_OK;
}

ftn_status ftn_predict_ensemble(ftn_session *const *sessions, int n, const ftn_image *img, const ftn_predict_config *cfg,
                                float **prob)
{
    if (prob) *prob = NULL;
    if (!sessions || n < 1 || !img || !cfg || !prob) return ftn_fail(FTN_EINVAL, "predict: missing argument");
    if (!img->data || img->width <= 0 || img->height <= 0) return ftn_fail(FTN_EINVAL, "predict: empty image");
    for (int i = 0; i < n; i++)
        if (!sessions[i]) return ftn_fail(FTN_EINVAL, "predict: session %d of %d is missing", i + 1, n);
    size_t np = (size_t)img->width * img->height;
    float *acc = malloc(sizeof(float) * np), *up = n > 1 ? malloc(sizeof(float) * np) : NULL;
    ftn_status st = FTN_OK;
    if (!acc || (n > 1 && !up)) st = ftn_fail(FTN_ENOMEM, "predict: out of memory for a %dx%d image", img->width, img->height);
    for (int i = 0; st == FTN_OK && i < n; i++) {
        ftn_shape in = ftn_model_input_shape(ftn_session_model(sessions[i]));
        size_t per = (size_t)in.c * in.h * in.w;
        session_fn sf = { sessions[i], malloc(sizeof(float) * per * (size_t)ftn_session_batch(sessions[i])) };
        float *x = malloc(sizeof(float) * per), *map = malloc(sizeof(float) * (size_t)in.h * in.w);
        if (!sf.batch_x || !x || !map) st = ftn_fail(FTN_ENOMEM, "predict: out of memory");
        if (st == FTN_OK) st = ftn_preprocess_image(img, in.c, in.h, in.w, cfg->resize, x);
        if (st == FTN_OK)
            st = ftn_predict_map(run_session, &sf, ftn_session_batch(sessions[i]), x, in.c, in.h, in.w, cfg->tta, map);
        /* the first network's map straight into the sum; the others beside it, then added */
        if (st == FTN_OK)
            st = ftn_upsample_prob(map, in.h, in.w, i == 0 ? acc : up, img->height, img->width, cfg->upsample);
        if (st == FTN_OK && i > 0)
            for (size_t p = 0; p < np; p++) acc[p] += up[p];
        if (st != FTN_OK && n > 1) st = ftn_fail_context(st, "network %d of %d", i + 1, n);
        free(sf.batch_x);
        free(x);
        free(map);
    }
    if (st == FTN_OK && n > 1)
        for (size_t p = 0; p < np; p++) acc[p] /= (float)n;
    free(up);
    if (st != FTN_OK) {
        free(acc);
        return st;
    }
    *prob = acc;
    return FTN_OK;
}

/* ---- checkpoints of a run or a cross-validation ----------------------------------------------- */

void ftn_paths_free(char **paths, int n)
{
    for (int i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
}

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* "fold-<digits>": the number, else -1. */
static long fold_number(const char *name)
{
    if (strncmp(name, "fold-", 5) || !name[5]) return -1;
    long v = 0;
    for (const char *p = name + 5; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000000) return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

typedef struct fold_entry { long number; char *path; } fold_entry;

static int fold_cmp(const void *a, const void *b)
{
    const fold_entry *x = a, *y = b;
    return x->number < y->number ? -1 : x->number > y->number;
}

ftn_status ftn_checkpoint_paths(const char *path, char ***paths, int *n)
{
    if (!path || !paths || !n) return ftn_fail(FTN_EINVAL, "checkpoints: missing argument");
    *paths = NULL;
    *n = 0;
    struct stat sb;
    if (stat(path, &sb) != 0) return ftn_fail(FTN_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) { /* a file: itself (the loader says what is wrong with it) */
        char **one = malloc(sizeof *one);
        char *copy = strdup(path);
        if (!one || !copy) {
            free(one);
            free(copy);
            return ftn_fail(FTN_ENOMEM, "checkpoints: out of memory");
        }
        one[0] = copy;
        *paths = one;
        *n = 1;
        return FTN_OK;
    }
    DIR *d = opendir(path);
    if (!d) return ftn_fail(FTN_EIO, "%s: %s", path, strerror(errno));
    fold_entry *folds = NULL;
    size_t cap = 0;
    int count = 0;
    ftn_status st = FTN_OK;
    char p[FTN_PATH_MAX], ck[FTN_PATH_MAX];
    for (struct dirent *e; st == FTN_OK && (e = readdir(d));) {
        long k = fold_number(e->d_name);
        if (k < 0) continue;
        if ((st = ftn_path_join(p, sizeof p, path, e->d_name)) != FTN_OK) break;
        if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) continue;
        if ((st = ftn_path_join(ck, sizeof ck, p, "best.safetensors")) != FTN_OK) break;
        if (!is_file(ck)) { /* an ensemble silently short of a fold would be a different model */
            st = ftn_fail(FTN_EINVAL, "%s: no best.safetensors (is the cross-validation finished?)", p);
            break;
        }
        if ((st = ftn_grow(&folds, &cap, (size_t)count + 1, sizeof *folds)) != FTN_OK) break;
        folds[count].number = k;
        if (!(folds[count].path = strdup(ck))) {
            st = ftn_fail(FTN_ENOMEM, "checkpoints: out of memory");
            break;
        }
        count++;
    }
    closedir(d);
    if (st == FTN_OK && count == 0) { /* a run folder */
        if ((st = ftn_path_join(ck, sizeof ck, path, "best.safetensors")) == FTN_OK) {
            if (!is_file(ck))
                st = ftn_fail(FTN_EINVAL, "%s: a folder without best.safetensors or fold-N/best.safetensors (neither a "
                                          "run nor a cross-validation)", path);
            else if (!(folds = malloc(sizeof *folds)) || !(folds[0].path = strdup(ck)))
                st = ftn_fail(FTN_ENOMEM, "checkpoints: out of memory");
            else {
                folds[0].number = 0;
                count = 1;
            }
        }
    }
    char **out = st == FTN_OK ? malloc(sizeof *out * (size_t)count) : NULL;
    if (st == FTN_OK && !out) st = ftn_fail(FTN_ENOMEM, "checkpoints: out of memory");
    if (st == FTN_OK) {
        qsort(folds, (size_t)count, sizeof *folds, fold_cmp);
        for (int i = 0; i < count; i++) out[i] = folds[i].path;
        *paths = out;
        *n = count;
    } else {
        for (int i = 0; i < count; i++) free(folds[i].path);
    }
    free(folds);
    return st;
}
