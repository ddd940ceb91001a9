#include "protocol/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/error.h"
#include "core/fs.h"
#include "data/dataset.h"
#include "data/resize.h"
#include "io/atomic_file.h"
#include "metrics/metrics.h"
#include "metrics/surface_distance.h"
#include "protocol/run_folder.h"

ftn_status ftn_preprocess_image(const ftn_image *img, int channels, int height, int width, ftn_resize_mode mode,
                                float *chw)
{
    if (!img || !img->data || !chw || img->width <= 0 || img->height <= 0 || (img->channels != 1 && img->channels != 3) ||
        (channels != 1 && channels != 3) || height <= 0 || width <= 0)
        return ftn_fail(FTN_EINVAL, "preprocess: bad image or size");
    size_t np = (size_t)img->width * img->height, hw = (size_t)height * width;
    float *conv = malloc(sizeof(float) * np * (size_t)channels);
    float *rs = malloc(sizeof(float) * hw * (size_t)channels);
    ftn_status st = FTN_OK;
    if (!conv || !rs) {
        st = ftn_fail(FTN_ENOMEM, "preprocess: out of memory for a %dx%d image", img->width, img->height);
        goto done;
    }
    ftn_convert_channels(img->data, img->height, img->width, img->channels, conv, channels);
    if ((st = ftn_resize(conv, img->height, img->width, channels, rs, height, width, mode)) != FTN_OK) goto done;
    for (size_t p = 0; p < hw; p++)
        for (int c = 0; c < channels; c++) chw[(size_t)c * hw + p] = rs[p * channels + c];
done:
    free(conv);
    free(rs);
    return st;
}

ftn_status ftn_predict_image(ftn_session *s, const ftn_image *img, ftn_resize_mode mode, float **prob)
{
    if (!s || !img || !prob) return ftn_fail(FTN_EINVAL, "predict: missing argument");
    *prob = NULL;
    ftn_shape in = ftn_model_input_shape(ftn_session_model(s));
    size_t per = (size_t)in.c * in.h * in.w;
    float *x = calloc((size_t)ftn_session_batch(s) * per, sizeof(float));
    float *p = malloc(sizeof(float) * (size_t)(img->width > 0 ? img->width : 1) * (size_t)(img->height > 0 ? img->height : 1));
    ftn_status st = FTN_OK;
    if (!x || !p) {
        st = ftn_fail(FTN_ENOMEM, "predict: out of memory");
        goto fail;
    }
    if ((st = ftn_preprocess_image(img, in.c, in.h, in.w, mode, x)) != FTN_OK) goto fail;
    if ((st = ftn_session_forward(s, x, 0)) != FTN_OK) goto fail;
    ftn_shape os;
    const float *out = ftn_session_output(s, ftn_model_output_count(ftn_session_model(s)) - 1, &os);
    if (!out || os.c != 1) {
        st = ftn_fail(FTN_EINTERNAL, "predict: the network's last output is not a 1-channel map");
        goto fail;
    }
    if ((st = ftn_upsample_nearest_prob(out, os.h, os.w, p, img->height, img->width)) != FTN_OK) goto fail;
    free(x);
    *prob = p;
    return FTN_OK;
fail:
    free(x);
    free(p);
    return st;
}

ftn_status ftn_evaluate_each(ftn_model *m, const ftn_dataset *ds, const int *idx, int n, ftn_resize_mode mode,
                             ftn_engine engine, ftn_precision precision, int batch, ftn_eval_fn fn, void *user)
{
    if (!m || !ds || !fn) return ftn_fail(FTN_EINVAL, "evaluate: missing argument");
    if (!idx) n = ds->count;
    if (n <= 0) return ftn_fail(FTN_EINVAL, "evaluate: %s: no samples to evaluate", ds->path);
    if (batch <= 0) return ftn_fail(FTN_EINVAL, "evaluate: batch %d must be positive", batch);
    for (int k = 0; k < n; k++) {
        int si = idx ? idx[k] : k;
        if (si < 0 || si >= ds->count)
            return ftn_fail(FTN_EINVAL, "evaluate: %s: sample index %d out of range (%d samples)", ds->path, si, ds->count);
    }
    if (batch > n) batch = n;
    ftn_shape in = ftn_model_input_shape(m);
    size_t per = (size_t)in.c * in.h * in.w;
    ftn_session *s = NULL;
    FTN_TRY(ftn_session_create_ex(m, batch, engine, precision, &s));
    float *x = calloc((size_t)batch * per, sizeof(float));
    ftn_image *ims = calloc((size_t)batch, sizeof *ims), *msk = calloc((size_t)batch, sizeof *msk);
    ftn_status *sts = calloc((size_t)batch, sizeof *sts);
    char(*msgs)[512] = calloc((size_t)batch, sizeof *msgs);
    float *prob = NULL;
    size_t prob_cap = 0;
    ftn_status st = FTN_OK;
    if (!x || !ims || !msk || !sts || !msgs) {
        st = ftn_fail(FTN_ENOMEM, "evaluate: out of memory");
        goto done;
    }
    for (int k0 = 0; k0 < n && st == FTN_OK; k0 += batch) {
        int cnt = n - k0 < batch ? n - k0 : batch;
#pragma omp parallel for schedule(dynamic)
        for (int j = 0; j < cnt; j++) {
            int si = idx ? idx[k0 + j] : k0 + j;
            sts[j] = ftn_dataset_load(ds, si, &ims[j], &msk[j]);
            if (sts[j] == FTN_OK) sts[j] = ftn_preprocess_image(&ims[j], in.c, in.h, in.w, mode, x + (size_t)j * per);
            if (sts[j] != FTN_OK) snprintf(msgs[j], sizeof msgs[j], "%s", ftn_last_error());
        }
        for (int j = 0; j < cnt && st == FTN_OK; j++)
            if (sts[j] != FTN_OK) st = ftn_fail(sts[j], "%s", msgs[j]);
        /* a short last batch: the unused slots keep earlier images, which is harmless in inference */
        if (st == FTN_OK) st = ftn_session_forward(s, x, 0);
        ftn_shape os = { 0, 0, 0, 0 };
        const float *out = st == FTN_OK ? ftn_session_output(s, ftn_model_output_count(m) - 1, &os) : NULL;
        if (st == FTN_OK && (!out || os.c != 1))
            st = ftn_fail(FTN_EINTERNAL, "evaluate: the network's last output is not a 1-channel map");
        for (int j = 0; j < cnt && st == FTN_OK; j++) {
            size_t np = (size_t)ims[j].width * ims[j].height;
            if (np > prob_cap) {
                float *np_buf = realloc(prob, np * sizeof(float));
                if (!np_buf) {
                    st = ftn_fail(FTN_ENOMEM, "evaluate: out of memory");
                    break;
                }
                prob = np_buf;
                prob_cap = np;
            }
            st = ftn_upsample_nearest_prob(out + (size_t)j * os.h * os.w, os.h, os.w, prob, ims[j].height, ims[j].width);
            if (st == FTN_OK) st = fn(user, k0 + j, idx ? idx[k0 + j] : k0 + j, &ims[j], &msk[j], prob);
        }
        for (int j = 0; j < cnt; j++) {
            ftn_image_free(&ims[j]);
            ftn_image_free(&msk[j]);
        }
    }
done:
    free(prob);
    free(x);
    free(ims);
    free(msk);
    free(sts);
    free(msgs);
    ftn_session_free(s);
    return st;
}

typedef struct eval_ctx {
    ftn_eval_result *r;
    const ftn_dataset *ds;
    float threshold; /* what a probability is scored at: r->threshold, or 0.5 on a post-processed 0/1 map */
} eval_ctx;

static ftn_status eval_one(void *user, int k, int sample, const ftn_image *image, const ftn_image *mask, const float *prob)
{
    eval_ctx *c = user;
    if (mask->width != image->width || mask->height != image->height)
        return ftn_fail(FTN_EFORMAT, "%s: mask size %dx%d differs from the image's %dx%d",
                        c->ds->samples[sample].image_path, mask->width, mask->height, image->width, image->height);
    c->r->per_image[k] = ftn_metrics_compute(prob, mask->data, (size_t)image->width * image->height, c->threshold);
    FTN_TRY(ftn_metrics_surface(&c->r->per_image[k], prob, mask->data, image->width, image->height, c->threshold));
    c->r->ids[k] = strdup(c->ds->samples[sample].id);
    if (!c->r->ids[k]) return ftn_fail(FTN_ENOMEM, "evaluate: out of memory");
    const char *label = c->ds->samples[sample].label;
    if (c->r->labels && label && !(c->r->labels[k] = strdup(label))) return ftn_fail(FTN_ENOMEM, "evaluate: out of memory");
    return FTN_OK;
}

/* r ready for n results of samples idx[0..n) of ds (idx NULL: all) scored at threshold */
static ftn_status result_init(const ftn_dataset *ds, const int *idx, int n, float threshold, ftn_eval_result *r)
{
    memset(r, 0, sizeof *r);
    if (n <= 0) return ftn_fail(FTN_EINVAL, "evaluate: %s: no samples to evaluate", ds->path);
    if (!(threshold >= 0 && threshold <= 1)) return ftn_fail(FTN_EINVAL, "evaluate: threshold %g is not in [0, 1]", threshold);
    r->n = n;
    r->threshold = threshold;
    r->ids = calloc((size_t)n, sizeof *r->ids);
    r->per_image = calloc((size_t)n, sizeof *r->per_image);
    int any_label = 0; /* the labels column only for data sets with classes */
    for (int k = 0; k < n && !any_label; k++) {
        int si = idx ? idx[k] : k;
        any_label = si >= 0 && si < ds->count && ds->samples[si].label;
    }
    if (any_label) r->labels = calloc((size_t)n, sizeof *r->labels);
    if (!r->ids || !r->per_image || (any_label && !r->labels)) {
        ftn_eval_result_free(r);
        return ftn_fail(FTN_ENOMEM, "evaluate: out of memory for %d results", n);
    }
    return FTN_OK;
}

ftn_status ftn_evaluate(ftn_model *m, const ftn_dataset *ds, const int *idx, int n, float threshold,
                        ftn_resize_mode mode, ftn_engine engine, ftn_precision precision, int batch,
                        ftn_eval_result *out)
{
    if (!out) return ftn_fail(FTN_EINVAL, "evaluate: missing result");
    memset(out, 0, sizeof *out);
    if (!m || !ds) return ftn_fail(FTN_EINVAL, "evaluate: missing model or dataset");
    if (!idx) n = ds->count;
    ftn_eval_result r;
    FTN_TRY(result_init(ds, idx, n, threshold, &r));
    eval_ctx c = { &r, ds, threshold };
    ftn_status st = ftn_evaluate_each(m, ds, idx, n, mode, engine, precision, batch, eval_one, &c);
    if (st != FTN_OK) {
        ftn_eval_result_free(&r);
        return st;
    }
    ftn_metrics_mean_std(r.per_image, n, &r.mean, &r.std);
    ftn_metrics_groups_compute(r.per_image, n, &r.groups);
    *out = r;
    return FTN_OK;
}

/* One sample through ftn_predict_ensemble and eval_one: the probabilities, or with
 * largest_component the post-processed mask as a 0/1 map scored at 0.5 (c->threshold). */
static ftn_status predict_one(ftn_session *const *sessions, int n_sessions, const ftn_predict_config *cfg, eval_ctx *c,
                              int k, int si)
{
    ftn_image img, msk;
    FTN_TRY(ftn_dataset_load(c->ds, si, &img, &msk));
    float *prob = NULL;
    uint8_t *bin = NULL;
    ftn_status st = ftn_predict_ensemble(sessions, n_sessions, &img, cfg, &prob);
    if (st != FTN_OK) st = ftn_fail_context(st, "%s", c->ds->samples[si].image_path);
    if (st == FTN_OK && cfg->largest_component) {
        size_t np = (size_t)img.width * img.height;
        if (!(bin = malloc(np))) st = ftn_fail(FTN_ENOMEM, "evaluate: out of memory");
        if (st == FTN_OK) st = ftn_predict_mask(prob, img.height, img.width, cfg, bin, NULL);
        for (size_t p = 0; st == FTN_OK && p < np; p++) prob[p] = bin[p] ? 1.0f : 0.0f;
    }
    if (st == FTN_OK) st = eval_one(c, k, si, &img, &msk, prob);
    free(bin);
    free(prob);
    ftn_image_free(&img);
    ftn_image_free(&msk);
    return st;
}

ftn_status ftn_evaluate_predict(ftn_session *const *sessions, int n_sessions, const ftn_predict_config *cfg,
                                const ftn_dataset *ds, const int *idx, int n, ftn_eval_progress_fn progress, void *user,
                                ftn_eval_result *out)
{
    if (!out) return ftn_fail(FTN_EINVAL, "evaluate: missing result");
    memset(out, 0, sizeof *out);
    if (!sessions || n_sessions < 1 || !cfg || !ds) return ftn_fail(FTN_EINVAL, "evaluate: missing sessions, options or dataset");
    if (!idx) n = ds->count;
    for (int k = 0; idx && k < n; k++)
        if (idx[k] < 0 || idx[k] >= ds->count)
            return ftn_fail(FTN_EINVAL, "evaluate: %s: sample index %d out of range (%d samples)", ds->path, idx[k], ds->count);
    ftn_eval_result r;
    FTN_TRY(result_init(ds, idx, n, cfg->threshold, &r));
    eval_ctx c = { &r, ds, cfg->largest_component ? 0.5f : cfg->threshold };
    ftn_status st = FTN_OK;
    for (int k = 0; k < n && st == FTN_OK; k++) {
        st = predict_one(sessions, n_sessions, cfg, &c, k, idx ? idx[k] : k);
        if (st == FTN_OK && progress) progress(user, k + 1, n);
    }
    if (st != FTN_OK) {
        ftn_eval_result_free(&r);
        return st;
    }
    ftn_metrics_mean_std(r.per_image, n, &r.mean, &r.std);
    ftn_metrics_groups_compute(r.per_image, n, &r.groups);
    r.has_predict = 1;
    r.predict = *cfg;
    r.n_models = n_sessions;
    *out = r;
    return FTN_OK;
}

void ftn_eval_result_free(ftn_eval_result *r)
{
    if (!r) return;
    if (r->ids)
        for (int i = 0; i < r->n; i++) free(r->ids[i]);
    free(r->ids);
    if (r->labels)
        for (int i = 0; i < r->n; i++) free(r->labels[i]);
    free(r->labels);
    free(r->per_image);
    memset(r, 0, sizeof *r);
}

/* ---- files -------------------------------------------------------------------------------- */

/* a CSV field, quoted when it holds a comma, a quote or a line break ("" inside quotes) */
static void csv_field(ftn_buf *b, const char *v)
{
    if (!v) v = "";
    if (!strpbrk(v, ",\"\n\r")) {
        ftn_buf_puts(b, v);
        return;
    }
    ftn_buf_add(b, "\"", 1);
    for (const char *q = v; *q; q++) {
        ftn_buf_add(b, q, 1);
        if (*q == '"') ftn_buf_add(b, "\"", 1);
    }
    ftn_buf_add(b, "\"", 1);
}

static ftn_status write_csv(const ftn_eval_result *r, const char *path)
{
    ftn_buf b = { 0 };
    /* the first five columns are those of every earlier version: readers rely on them */
    ftn_buf_puts(&b, r->labels ? "id,dsc,precision,recall,iou,gt_empty,hd95,asd,label\n"
                               : "id,dsc,precision,recall,iou,gt_empty,hd95,asd\n");
    for (int i = 0; i < r->n; i++) {
        csv_field(&b, r->ids[i]);
        char line[160];
        const ftn_metrics *m = &r->per_image[i];
        int len = snprintf(line, sizeof line, ",%.6f,%.6f,%.6f,%.6f,%d", m->dsc, m->precision, m->recall, m->iou,
                           m->gt_empty != 0);
        ftn_buf_add(&b, line, (size_t)len);
        for (int k = 0; k < 2; k++) { /* "nan": undefined (a mask empty) */
            double v = k ? m->asd : m->hd95;
            len = isnan(v) ? snprintf(line, sizeof line, ",nan") : snprintf(line, sizeof line, ",%.4f", v);
            ftn_buf_add(&b, line, (size_t)len);
        }
        if (r->labels) {
            ftn_buf_add(&b, ",", 1);
            csv_field(&b, r->labels[i]);
        }
        ftn_buf_add(&b, "\n", 1);
    }
    ftn_status st = ftn_buf_status(&b, path);
    if (st == FTN_OK) {
        const void *chunks[1] = { b.s };
        size_t sizes[1] = { b.len };
        st = ftn_write_file_atomic(path, chunks, sizes, 1);
    }
    ftn_buf_free(&b);
    return st;
}

static ftn_status write_json(const ftn_eval_result *r, const char *path)
{
    const ftn_metrics_groups *g = &r->groups;
    cJSON *root = cJSON_CreateObject();
    cJSON *mean = ftn_metrics_json(&r->mean), *std = ftn_metrics_json(&r->std);
    cJSON *lmean = ftn_metrics_json(&g->lesion_mean), *lstd = ftn_metrics_json(&g->lesion_std);
    if (!root || !mean || !std || !lmean || !lstd) {
        cJSON_Delete(root), cJSON_Delete(mean), cJSON_Delete(std), cJSON_Delete(lmean), cJSON_Delete(lstd);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    }
    /* the paper's figures (all images) first: the first "dsc" of the file is theirs */
    cJSON_AddNumberToObject(root, "n", r->n);
    cJSON_AddNumberToObject(root, "threshold", (double)r->threshold);
    cJSON_AddItemToObject(root, "mean", mean);
    cJSON_AddItemToObject(root, "std", std);
    cJSON_AddNumberToObject(root, "n_lesion", g->n_lesion);
    cJSON_AddItemToObject(root, "lesion_mean", lmean);
    cJSON_AddItemToObject(root, "lesion_std", lstd);
    cJSON_AddNumberToObject(root, "n_empty", g->n_empty);
    cJSON_AddNumberToObject(root, "n_empty_fp", g->n_empty_fp);
    cJSON_AddNumberToObject(root, "empty_fp_rate", g->empty_fp_rate);
    /* boundary metrics over the images where both masks have a pixel (null: none has) */
    const ftn_metrics *of[4] = { &r->mean, &r->std, &g->lesion_mean, &g->lesion_std };
    cJSON *obj[4] = { mean, std, lmean, lstd };
    for (int k = 0; k < 4; k++) {
        cJSON_AddNumberToObject(obj[k], "hd95", of[k]->hd95);
        cJSON_AddNumberToObject(obj[k], "asd", of[k]->asd);
    }
    cJSON_AddNumberToObject(root, "n_surface", g->n_surface);
    cJSON_AddNumberToObject(root, "n_surface_one_empty", g->n_surface_one_empty);
    if (r->has_predict) { /* how the probabilities were made, when not the protocol's single network */
        cJSON *p = cJSON_AddObjectToObject(root, "predict");
        if (!p) {
            cJSON_Delete(root);
            return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        }
        cJSON_AddNumberToObject(p, "models", r->n_models);
        cJSON_AddStringToObject(p, "tta", ftn_tta_name(r->predict.tta));
        cJSON_AddStringToObject(p, "resize", ftn_resize_name(r->predict.resize));
        cJSON_AddStringToObject(p, "upsample", ftn_upsample_name(r->predict.upsample));
        cJSON_AddBoolToObject(p, "largest_component", r->predict.largest_component != 0);
    }
    ftn_status st = ftn_json_write(path, root);
    cJSON_Delete(root);
    return st;
}

static void metrics_of(const cJSON *j, ftn_metrics *m)
{
    static const char *const keys[4] = { "dsc", "precision", "recall", "iou" };
    double *dst[4] = { &m->dsc, &m->precision, &m->recall, &m->iou };
    memset(m, 0, sizeof *m);
    for (int k = 0; k < 4; k++) *dst[k] = ftn_run_config_num(j, keys[k], NAN);
    m->hd95 = ftn_run_config_num(j, "hd95", NAN); /* absent (older summaries) or null: NaN */
    m->asd = ftn_run_config_num(j, "asd", NAN);
}

ftn_status ftn_eval_summary_read(const char *path, ftn_eval_summary *out)
{
    if (!path || !out) return ftn_fail(FTN_EINVAL, "evaluation summary: missing argument");
    memset(out, 0, sizeof *out);
    cJSON *j;
    FTN_TRY(ftn_json_read(path, 16u << 20, &j));
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(j, "mean"), *std = cJSON_GetObjectItemCaseSensitive(j, "std");
    if (!cJSON_IsObject(mean)) {
        cJSON_Delete(j);
        return ftn_fail(FTN_EFORMAT, "%s is not a summary (no \"mean\" object)", path);
    }
    out->n = (int)ftn_run_config_num(j, "n", 0);
    out->has_surface = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "n_surface"));
    out->threshold = ftn_run_config_num(j, "threshold", NAN);
    metrics_of(mean, &out->mean);
    metrics_of(std, &out->std);
    ftn_metrics_groups *g = &out->groups;
    const cJSON *lm = cJSON_GetObjectItemCaseSensitive(j, "lesion_mean"), *ls = cJSON_GetObjectItemCaseSensitive(j, "lesion_std");
    out->has_groups = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "n_lesion")) &&
                      cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "n_empty")) && cJSON_IsObject(lm) && cJSON_IsObject(ls);
    if (out->has_groups) {
        g->n_lesion = (int)ftn_run_config_num(j, "n_lesion", 0);
        g->n_empty = (int)ftn_run_config_num(j, "n_empty", 0);
        g->n_empty_fp = (int)ftn_run_config_num(j, "n_empty_fp", 0);
        g->empty_fp_rate = ftn_run_config_num(j, "empty_fp_rate", 0);
        metrics_of(lm, &g->lesion_mean);
        metrics_of(ls, &g->lesion_std);
        g->n_surface = (int)ftn_run_config_num(j, "n_surface", 0);
        g->n_surface_one_empty = (int)ftn_run_config_num(j, "n_surface_one_empty", 0);
    }
    cJSON_Delete(j);
    return FTN_OK;
}

/* the folder of path, created if missing (RUN/test at the end of training) */
static ftn_status make_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return FTN_OK;
    char dir[4096];
    if ((size_t)(slash - path) >= sizeof dir) return ftn_fail(FTN_EINVAL, "%s: path too long", path);
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    return ftn_mkdirs(dir);
}

ftn_status ftn_eval_write(const ftn_eval_result *r, const char *csv_path, const char *json_path)
{
    if (!r || (r->n > 0 && (!r->ids || !r->per_image))) return ftn_fail(FTN_EINVAL, "evaluation write: no result");
    if (csv_path) {
        FTN_TRY(make_parent(csv_path));
        FTN_TRY(write_csv(r, csv_path));
    }
    if (json_path) {
        FTN_TRY(make_parent(json_path));
        FTN_TRY(write_json(r, json_path));
    }
    return FTN_OK;
}

/* ---- overlays ------------------------------------------------------------------------------- */

static int inside(const float *map, float thr, int w, int h, int x, int y)
{
    return x >= 0 && y >= 0 && x < w && y < h && map[(size_t)y * w + x] > thr;
}

static int contour(const float *map, float thr, int w, int h, int x, int y)
{
    return inside(map, thr, w, h, x, y) && (!inside(map, thr, w, h, x - 1, y) || !inside(map, thr, w, h, x + 1, y) ||
                                            !inside(map, thr, w, h, x, y - 1) || !inside(map, thr, w, h, x, y + 1));
}

static uint8_t to_u8(float v)
{
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    return (uint8_t)lrintf(v * 255.0f);
}

/* ring[p] = 1 on the outline of width t (pixels) of mask: inside it (outside 0) within t of a
 * pixel not in it, or outside it (outside 1) within t of a pixel in it; d is w×h scratch.
 * FTN_ENOMEM leaves ring unset. */
static ftn_status outline(const uint8_t *mask, int outside, int w, int h, int t, uint8_t *ring, double *d)
{
    size_t np = (size_t)w * h;
    uint8_t *seed = malloc(np);
    if (!seed) return ftn_fail(FTN_ENOMEM, "overlay: out of memory");
    for (size_t p = 0; p < np; p++) seed[p] = outside ? mask[p] : !mask[p];
    ftn_status st = ftn_edt_sq(seed, w, h, d);
    for (int y = 0; st == FTN_OK && y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            int edge = x < t || y < t || x >= w - t || y >= h - t; /* outside the image is outside the mask */
            ring[p] = outside ? !mask[p] && d[p] <= (double)t * t : mask[p] && (edge || d[p] <= (double)t * t);
        }
    free(seed);
    return st;
}

void ftn_overlay_rgb(const ftn_image *img, const float *pred, float threshold, const float *gt, uint8_t *rgb)
{
    if (!img || !img->data || !rgb) return;
    int w = img->width, h = img->height, c = img->channels;
    size_t np = (size_t)w * h;
    int t = ((w > h ? w : h) + 100) / 200; /* about 1/200 of the image: still visible scaled down */
    if (t < 1) t = 1;
    static const float pc[3] = { FTN_OVERLAY_PRED_R, FTN_OVERLAY_PRED_G, FTN_OVERLAY_PRED_B };
    uint8_t *in_p = calloc(np, 1), *in_g = calloc(np, 1), *ring_p = calloc(np, 1), *ring_g = calloc(np, 1);
    double *d = malloc(sizeof(double) * np);
    int rings = in_p && in_g && ring_p && ring_g && d;
    if (rings) {
        for (size_t p = 0; p < np; p++) in_p[p] = pred && pred[p] > threshold, in_g[p] = gt && gt[p] > 0.5f;
        rings = (!pred || outline(in_p, 0, w, h, t, ring_p, d) == FTN_OK) && (!gt || outline(in_g, 1, w, h, t, ring_g, d) == FTN_OK);
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            uint8_t *o = rgb + 3 * p;
            for (int k = 0; k < 3; k++) o[k] = to_u8(img->data[p * c + (c == 3 ? k : 0)]);
            if (pred && pred[p] > threshold)
                for (int k = 0; k < 3; k++) o[k] = (uint8_t)lrintf((1 - FTN_OVERLAY_TINT) * o[k] + FTN_OVERLAY_TINT * pc[k]);
            /* out of memory: 1-pixel outlines, the ground truth's inside its region */
            if (rings ? ring_p[p] : pred && contour(pred, threshold, w, h, x, y))
                o[0] = FTN_OVERLAY_PRED_R, o[1] = FTN_OVERLAY_PRED_G, o[2] = FTN_OVERLAY_PRED_B;
            if (rings ? ring_g[p] : gt && contour(gt, 0.5f, w, h, x, y))
                o[0] = FTN_OVERLAY_GT_R, o[1] = FTN_OVERLAY_GT_G, o[2] = FTN_OVERLAY_GT_B;
        }
    free(in_p), free(in_g), free(ring_p), free(ring_g), free(d);
}
