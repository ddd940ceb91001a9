/* Evaluation at the original resolution, the metrics files, overlays, and the report's encoders. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "data/dataset.h"
#include "core/fs.h"
#include "data/synth.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "metrics/metrics.h"
#include "metrics/surface_distance.h"
#include "protocol/evaluate.h"
#include "protocol/run_folder.h"
#include "report/report.h"
#include "testlib.h"

#pragma GCC diagnostic ignored "-Wformat-zero-length"

#define W 40
#define H 24 /* not multiples of the 16×16 input: real up- and downsampling */

typedef struct capture { float *prob[8]; int n; } capture;

static ftn_status grab(void *user, int k, int sample, const ftn_image *image, const ftn_image *mask, const float *prob)
{
    (void)sample, (void)mask;
    capture *c = user;
    size_t np = (size_t)image->width * image->height;
    c->prob[k] = malloc(np * sizeof(float));
    memcpy(c->prob[k], prob, np * sizeof(float));
    c->n++;
    return FTN_OK;
}

static void test_overlay(void)
{
    /* 6×5 grey image; prediction a 3×3 square at (1..3, 1..3); ground truth the bottom row */
    enum { OW = 6, OH = 5 };
    float px[OW * OH], pred[OW * OH] = { 0 }, gt[OW * OH] = { 0 };
    for (int i = 0; i < OW * OH; i++) px[i] = 0.5f;
    for (int y = 1; y <= 3; y++)
        for (int x = 1; x <= 3; x++) pred[y * OW + x] = 0.9f;
    for (int x = 0; x < OW; x++) gt[4 * OW + x] = 1;
    ftn_image img = { OW, OH, 1, px };
    uint8_t rgb[OW * OH * 3];
    ftn_overlay_rgb(&img, pred, 0.5f, gt, rgb);
    int bad = 0;
    for (int y = 0; y < OH; y++)
        for (int x = 0; x < OW; x++) {
            const uint8_t *p = rgb + 3 * (y * OW + x);
            int in_pred = x >= 1 && x <= 3 && y >= 1 && y <= 3, centre = x == 2 && y == 2;
            uint8_t want[3] = { 128, 128, 128 };
            /* the ground truth's outline just outside it (row 3), over the prediction's */
            if (y == 3) want[0] = FTN_OVERLAY_GT_R, want[1] = FTN_OVERLAY_GT_G, want[2] = FTN_OVERLAY_GT_B;
            else if (in_pred && !centre) want[0] = FTN_OVERLAY_PRED_R, want[1] = FTN_OVERLAY_PRED_G, want[2] = FTN_OVERLAY_PRED_B;
            else if (centre) {
                const float pc[3] = { FTN_OVERLAY_PRED_R, FTN_OVERLAY_PRED_G, FTN_OVERLAY_PRED_B };
                for (int k = 0; k < 3; k++) want[k] = (uint8_t)lrintf((1 - FTN_OVERLAY_TINT) * 128 + FTN_OVERLAY_TINT * pc[k]);
            }
            for (int k = 0; k < 3; k++) bad += abs(p[k] - want[k]) > 1;
            if (memcmp(p, want, 3) && abs(p[0] - want[0]) > 1) fprintf(stderr, "overlay (%d,%d): %d %d %d\n", x, y, p[0], p[1], p[2]);
        }
    CHECK(bad == 0, "%d overlay channels wrong", bad);
    /* a prediction equal to the ground truth: both outlines, magenta inside, green outside; an
     * image of 600 pixels draws them 3 pixels wide (600 / 200) */
    enum { BW = 600, BH = 40 };
    float *bpx = calloc(BW * BH, sizeof(float)), *sq = calloc(BW * BH, sizeof(float));
    uint8_t *brgb = malloc(BW * BH * 3);
    CHECK(bpx && sq && brgb);
    for (int y = 10; y < 30; y++)
        for (int x = 100; x < 200; x++) sq[y * BW + x] = 1;
    ftn_overlay_rgb(&(ftn_image){ BW, BH, 1, bpx }, sq, 0.5f, sq, brgb);
    const uint8_t *row = brgb + 3 * (20 * BW);
    int ring_ok = 1;
    for (int x = 94; x < 106; x++) { /* across the left edge at x = 100 */
        int gtc = x >= 97 && x < 100, predc = x >= 100 && x < 103;
        const uint8_t *q = row + 3 * x;
        if (gtc) ring_ok &= q[0] == FTN_OVERLAY_GT_R && q[1] == FTN_OVERLAY_GT_G && q[2] == FTN_OVERLAY_GT_B;
        else if (predc) ring_ok &= q[0] == FTN_OVERLAY_PRED_R && q[1] == FTN_OVERLAY_PRED_G && q[2] == FTN_OVERLAY_PRED_B;
        else if (x < 97) ring_ok &= q[0] == 0 && q[1] == 0 && q[2] == 0;
        else ring_ok &= q[1] == 0 && q[0] == (uint8_t)lrintf(FTN_OVERLAY_TINT * FTN_OVERLAY_PRED_R); /* tint */
    }
    CHECK(ring_ok, "3-pixel outlines side by side");
    free(bpx), free(sq), free(brgb);
    /* colour images keep their colour where nothing is drawn */
    float col[3 * 4] = { 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1 };
    ftn_image cimg = { 2, 2, 3, col };
    uint8_t crgb[12];
    ftn_overlay_rgb(&cimg, NULL, 0.5f, NULL, crgb);
    const uint8_t cwant[12] = { 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255 };
    CHECK(!memcmp(crgb, cwant, 12));
}

static void test_encoders(const char *dir)
{
    static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (int i = 0; i < 7; i++) {
        char *b = ftn_base64_encode((const uint8_t *)in[i], strlen(in[i]));
        CHECK(b && !strcmp(b, out[i]), "base64(%s) = %s", in[i], b ? b : "NULL");
        free(b);
    }
    uint8_t px[5 * 3 * 3];
    for (int i = 0; i < 45; i++) px[i] = (uint8_t)(i * 5);
    uint8_t *png = NULL;
    size_t size = 0;
    CHECK_OK(ftn_png_encode(5, 3, 3, px, &png, &size));
    CHECK(size > 8 && png && !memcmp(png, "\x89PNG\r\n\x1a\n", 8));
    const void *chunks[1] = { png };
    CHECK_OK(ftn_write_file_atomic(tl_path(dir, "enc.png"), chunks, &size, 1));
    ftn_image back;
    CHECK_OK(ftn_image_read(tl_path(dir, "enc.png"), &back));
    int bad = back.width != 5 || back.height != 3 || back.channels != 3;
    for (int i = 0; !bad && i < 45; i++) bad += lrintf(back.data[i] * 255) != px[i];
    CHECK(!bad, "PNG round trip");
    ftn_image_free(&back);
    free(png);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* ---- empty ground truths (BUSI's "normal" images) --------------------------------------------- */

/* n synthetic W×H images in dir, the masks of those with empty[i] replaced by all-zero PNGs */
static void empty_set(const char *dir, int n, const int *empty)
{
    CHECK_OK(ftn_synth_write(dir, FTN_SYNTH_ULTRASOUND, n, 7, W, H));
    static const uint8_t zeros[W * H];
    for (int i = 0; i < n; i++)
        if (empty[i]) {
            char name[32];
            snprintf(name, sizeof name, "masks/%04d.png", i);
            CHECK_OK(ftn_image_write_png(tl_path(dir, name), W, H, 1, zeros));
        }
}

static int64_t lesion_pixels(const ftn_dataset *ds, int i)
{
    ftn_image im, gt;
    int64_t on = 0;
    CHECK_OK(ftn_dataset_load(ds, i, &im, &gt));
    for (int p = 0; p < gt.width * gt.height; p++) on += gt.data[p] > 0.5f;
    ftn_image_free(&im);
    ftn_image_free(&gt);
    return on;
}

static cJSON *read_json(const char *path)
{
    uint8_t *text = NULL;
    size_t size = 0;
    CHECK_OK(ftn_read_file(path, 1 << 22, &text, &size));
    cJSON *j = text ? cJSON_ParseWithLength((const char *)text, size) : NULL;
    free(text);
    CHECK(j != NULL, "%s does not parse", path);
    return j;
}

static double jnum(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* 2 lesion images (0000, 0003) and 2 empty ones (0001, 0002): every figure known exactly at
 * threshold 1 (nothing predicted: an empty mask scores 1, a lesion of g pixels DSC 1/(g+1)) and
 * at threshold 0 (everything predicted: every empty mask a false positive) */
static void test_empty_masks(const char *dir, ftn_model *m)
{
    char data[1100];
    snprintf(data, sizeof data, "%s/edata", dir);
    const int empty_of[4] = { 0, 1, 1, 0 };
    empty_set(data, 4, empty_of);
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(data, NULL, &ds));
    unsigned char e[4] = { 9, 9, 9, 9 };
    CHECK_OK(ftn_dataset_empty(&ds, NULL, 0, e));
    CHECK(e[0] == 0 && e[1] == 1 && e[2] == 1 && e[3] == 0, "%d %d %d %d", e[0], e[1], e[2], e[3]);
    const int sub[2] = { 2, 0 };
    CHECK_OK(ftn_dataset_empty(&ds, sub, 2, e));
    CHECK(e[0] == 1 && e[1] == 0);
    const int bad[1] = { 4 };
    CHECK(ftn_dataset_empty(&ds, bad, 1, e) == FTN_EINVAL);
    double g0 = (double)lesion_pixels(&ds, 0), g3 = (double)lesion_pixels(&ds, 3);
    CHECK(g0 > 0 && g3 > 0);
    /* labels, as a class-folder layout gives them: 0002 has none */
    ds.samples[0].label = strdup("benign");
    ds.samples[1].label = strdup("normal");
    ds.samples[3].label = strdup("a,b");

    ftn_eval_result r;
    CHECK_OK(ftn_evaluate(m, &ds, NULL, 0, 1.0f, FTN_RESIZE_NEAREST, FTN_ENGINE_REF, FTN_PRECISION_FP32, 4, &r));
    const double d0 = 1 / (g0 + 1), d3 = 1 / (g3 + 1);
    CHECK(r.n == 4 && r.per_image[1].gt_empty && r.per_image[2].gt_empty && !r.per_image[0].gt_empty && !r.per_image[3].gt_empty);
    CHECK(fabs(r.per_image[1].dsc - 1) < 1e-12 && fabs(r.per_image[0].dsc - d0) < 1e-12 && fabs(r.per_image[3].dsc - d3) < 1e-12);
    CHECK(fabs(r.mean.dsc - (d0 + 1 + 1 + d3) / 4) < 1e-12 && r.mean.gt_empty == 2, "mean DSC %g", r.mean.dsc); /* the paper's */
    const ftn_metrics_groups *g = &r.groups;
    CHECK(g->n_lesion == 2 && g->n_empty == 2 && g->n_empty_fp == 0 && g->empty_fp_rate == 0);
    CHECK(fabs(g->lesion_mean.dsc - (d0 + d3) / 2) < 1e-12 && fabs(g->lesion_std.dsc - fabs(d0 - d3) / 2) < 1e-12 &&
              fabs(g->lesion_mean.recall - (d0 + d3) / 2) < 1e-12 && fabs(g->lesion_mean.precision - 1) < 1e-12,
          "lesion DSC %g", g->lesion_mean.dsc);
    CHECK(r.labels && !strcmp(r.labels[0], "benign") && r.labels[2] == NULL);

    /* metrics.csv: the old columns first, gt_empty, hd95 and asd ("nan" where a mask is empty),
     * the label (quoted with its comma) */
    CHECK_OK(ftn_eval_write(&r, tl_path(dir, "e/metrics.csv"), tl_path(dir, "e/summary.json")));
    uint8_t *text;
    size_t size;
    CHECK_OK(ftn_read_file(tl_path(dir, "e/metrics.csv"), 1 << 20, &text, &size));
    const char *t = (const char *)text;
    CHECK(!strncmp(t, "id,dsc,precision,recall,iou,gt_empty,hd95,asd,label\n0000,", 57) && count_lines(t) == 5, "%s", t);
    CHECK(strstr(t, "\n0001,1.000000,1.000000,1.000000,1.000000,1,nan,nan,normal\n") &&
              strstr(t, "\n0002,1.000000,1.000000,1.000000,1.000000,1,nan,nan,\n") && strstr(t, ",\"a,b\"\n") &&
              strstr(t, ",benign\n"),
          "%s", t);
    /* summary.json: the groups after the overall figures, whose "dsc" comes first */
    CHECK_OK(ftn_read_file(tl_path(dir, "e/summary.json"), 1 << 20, &text, &size));
    const char *first = strstr((const char *)text, "\"dsc\""), *lm = strstr((const char *)text, "\"lesion_mean\"");
    CHECK(first && lm && first < lm);
    free(text);
    free((void *)t);
    cJSON *j = read_json(tl_path(dir, "e/summary.json"));
    CHECK(jnum(j, "n") == 4 && jnum(j, "n_lesion") == 2 && jnum(j, "n_empty") == 2 && jnum(j, "n_empty_fp") == 0 &&
          jnum(j, "empty_fp_rate") == 0);
    CHECK(fabs(jnum(cJSON_GetObjectItem(j, "mean"), "dsc") - r.mean.dsc) < 1e-12 &&
          fabs(jnum(cJSON_GetObjectItem(j, "lesion_mean"), "dsc") - g->lesion_mean.dsc) < 1e-12 &&
          fabs(jnum(cJSON_GetObjectItem(j, "lesion_std"), "dsc") - g->lesion_std.dsc) < 1e-12);
    /* nothing predicted: no image has both masks, so HD95 and ASD are null (NaN read back), the
     * two missed lesions counted as one-empty, the two empty ground truths as both-empty */
    CHECK(g->n_surface == 0 && g->n_surface_one_empty == 2 && isnan(r.mean.hd95) && isnan(r.std.asd) &&
          isnan(r.per_image[0].hd95) && isnan(r.per_image[1].asd));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "mean"), "hd95")) &&
          cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "lesion_std"), "asd")) && jnum(j, "n_surface") == 0 &&
          jnum(j, "n_surface_one_empty") == 2);
    cJSON_Delete(j);
    ftn_eval_summary es;
    CHECK_OK(ftn_eval_summary_read(tl_path(dir, "e/summary.json"), &es));
    CHECK(es.n == 4 && es.has_groups && es.groups.n_empty == 2 && fabs(es.groups.lesion_mean.dsc - g->lesion_mean.dsc) < 1e-12 &&
          fabs(es.mean.dsc - r.mean.dsc) < 1e-12);
    CHECK(es.has_surface && isnan(es.mean.hd95) && es.groups.n_surface == 0 && es.groups.n_surface_one_empty == 2);
    ftn_eval_result_free(&r);

    /* everything predicted: both empty masks are false positives (one-empty for HD95); the lesion
     * images' HD95 and ASD are those of the whole image against their ground truth, in pixels at
     * the original W×H */
    CHECK_OK(ftn_evaluate(m, &ds, NULL, 0, 0.0f, FTN_RESIZE_NEAREST, FTN_ENGINE_REF, FTN_PRECISION_FP32, 4, &r));
    CHECK(r.groups.n_empty == 2 && r.groups.n_empty_fp == 2 && r.groups.empty_fp_rate == 1 && r.per_image[1].fp == W * H);
    double want_hd[2], want_asd[2];
    for (int k = 0; k < 2; k++) {
        ftn_image im, gt;
        CHECK_OK(ftn_dataset_load(&ds, k ? 3 : 0, &im, &gt));
        uint8_t full[W * H], mask[W * H];
        for (int p = 0; p < W * H; p++) full[p] = 1, mask[p] = gt.data[p] > 0.5f;
        CHECK_OK(ftn_surface_distances(full, mask, W, H, &want_hd[k], &want_asd[k]));
        ftn_image_free(&im);
        ftn_image_free(&gt);
    }
    CHECK(want_hd[0] > 0 && fabs(r.per_image[0].hd95 - want_hd[0]) < 1e-12 && fabs(r.per_image[3].asd - want_asd[1]) < 1e-12 &&
              isnan(r.per_image[1].hd95) && isnan(r.per_image[2].asd),
          "hd95 %g, want %g", r.per_image[0].hd95, want_hd[0]);
    CHECK(r.groups.n_surface == 2 && r.groups.n_surface_one_empty == 2 &&
              fabs(r.mean.hd95 - (want_hd[0] + want_hd[1]) / 2) < 1e-12 &&
              fabs(r.std.asd - fabs(want_asd[0] - want_asd[1]) / 2) < 1e-12 && fabs(r.groups.lesion_mean.asd - r.mean.asd) < 1e-12,
          "mean hd95 %g", r.mean.hd95);
    CHECK_OK(ftn_eval_write(&r, tl_path(dir, "e3/metrics.csv"), tl_path(dir, "e3/summary.json")));
    j = read_json(tl_path(dir, "e3/summary.json"));
    CHECK(fabs(jnum(cJSON_GetObjectItem(j, "mean"), "hd95") - r.mean.hd95) < 1e-9 &&
          fabs(jnum(cJSON_GetObjectItem(j, "lesion_mean"), "asd") - r.mean.asd) < 1e-9 && jnum(j, "n_surface") == 2 &&
          jnum(j, "n_surface_one_empty") == 2);
    cJSON_Delete(j);
    CHECK_OK(ftn_read_file(tl_path(dir, "e3/metrics.csv"), 1 << 20, &text, &size));
    char want_line[96];
    snprintf(want_line, sizeof want_line, ",0,%.4f,%.4f,benign\n", want_hd[0], want_asd[0]);
    CHECK(strstr((const char *)text, want_line), "%s lacks %s", (const char *)text, want_line);
    free(text);
    ftn_eval_result_free(&r);
    /* no empty mask among the scored: zero counts, lesion figures = overall ones */
    const int les[2] = { 0, 3 };
    CHECK_OK(ftn_evaluate(m, &ds, les, 2, 1.0f, FTN_RESIZE_NEAREST, FTN_ENGINE_REF, FTN_PRECISION_FP32, 4, &r));
    CHECK(r.groups.n_empty == 0 && r.groups.n_lesion == 2 && r.groups.lesion_mean.dsc == r.mean.dsc);
    CHECK_OK(ftn_eval_write(&r, NULL, tl_path(dir, "e2/summary.json")));
    j = read_json(tl_path(dir, "e2/summary.json"));
    CHECK(jnum(j, "n_empty") == 0 && jnum(j, "n_empty_fp") == 0 && jnum(j, "empty_fp_rate") == 0 && jnum(j, "n_lesion") == 2);
    cJSON_Delete(j);
    ftn_eval_result_free(&r);
    /* a summary of before the groups reads back without them */
    const char *old = "{\"n\": 3, \"threshold\": 0.5, \"mean\": {\"dsc\": 0.5}, \"std\": {\"dsc\": 0.1}}\n";
    const void *chunks[1] = { old };
    size_t sizes[1] = { strlen(old) };
    CHECK_OK(ftn_write_file_atomic(tl_path(dir, "old-summary.json"), chunks, sizes, 1));
    CHECK_OK(ftn_eval_summary_read(tl_path(dir, "old-summary.json"), &es));
    CHECK(es.n == 3 && !es.has_groups && es.mean.dsc == 0.5 && isnan(es.mean.iou));
    CHECK(!es.has_surface && isnan(es.mean.hd95) && isnan(es.std.asd)); /* from before the boundary metrics */

    /* dropping them: order kept, the ids returned, labels stay with their samples */
    int dropped = -1;
    char **ids = NULL;
    CHECK_OK(ftn_dataset_drop_empty(&ds, &dropped, &ids));
    CHECK(dropped == 2 && ids && !strcmp(ids[0], "0001") && !strcmp(ids[1], "0002"));
    CHECK(ds.count == 2 && !strcmp(ds.samples[0].id, "0000") && !strcmp(ds.samples[1].id, "0003") &&
          !strcmp(ds.samples[1].label, "a,b") && lesion_pixels(&ds, 1) == (int64_t)g3);
    ftn_dataset_ids_free(ids, dropped);
    CHECK_OK(ftn_dataset_drop_empty(&ds, &dropped, NULL)); /* nothing left to drop */
    CHECK(dropped == 0 && ds.count == 2);
    ftn_dataset_free(&ds);
    /* every mask empty: refused, the data set as it was */
    char all[1100];
    snprintf(all, sizeof all, "%s/alldata", dir);
    const int all_empty[2] = { 1, 1 };
    empty_set(all, 2, all_empty);
    CHECK_OK(ftn_dataset_open(all, NULL, &ds));
    CHECK(ftn_dataset_drop_empty(&ds, &dropped, &ids) == FTN_EINVAL && ds.count == 2 && ids == NULL && dropped == 0);
    CHECK(strstr(ftn_last_error(), "every mask") != NULL, "%s", ftn_last_error());
    ftn_dataset_free(&ds);
}

/* the .npy layout keeps sample i at row i of its arrays: they are compacted with the samples */
static void test_drop_npy(const char *dir)
{
    enum { N = 4, S = 3 };
    float img[N * S * S], msk[N * S * S] = { 0 };
    for (int i = 0; i < N * S * S; i++) img[i] = (float)(i / (S * S)) / 10; /* image i is i/10 */
    msk[0 * S * S + 4] = 1;                                                  /* 0 and 2 have lesions */
    msk[2 * S * S + 1] = msk[2 * S * S + 2] = 1;
    const int64_t dims[3] = { N, S, S };
    char npy[1100];
    snprintf(npy, sizeof npy, "%s/npy", dir);
    CHECK_OK(ftn_mkdirs(npy));
    CHECK_OK(ftn_npy_write_f32(tl_path(npy, "images.npy"), 3, dims, img));
    CHECK_OK(ftn_npy_write_f32(tl_path(npy, "masks.npy"), 3, dims, msk));
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(npy, NULL, &ds));
    int dropped = 0;
    char **ids = NULL;
    CHECK_OK(ftn_dataset_drop_empty(&ds, &dropped, &ids));
    CHECK(dropped == 2 && ds.count == 2 && !strcmp(ids[0], "00001") && !strcmp(ids[1], "00003") &&
          !strcmp(ds.samples[1].id, "00002"));
    ftn_image im, gt;
    CHECK_OK(ftn_dataset_load(&ds, 1, &im, &gt));
    CHECK(fabsf(im.data[0] - 0.2f) < 1e-6f && gt.data[1] == 1 && gt.data[2] == 1 && gt.data[4] == 0, "%g", im.data[0]);
    ftn_image_free(&im);
    ftn_image_free(&gt);
    ftn_dataset_ids_free(ids, dropped);
    ftn_dataset_free(&ds);
}

/* a run folder whose test ids hold 2 empty masks among 6: the report's best and worst cases are
 * lesion images only; the empty ones are summarised apart */
static void test_report_empty(const char *dir, ftn_model *m)
{
    char data[1100], run[1100];
    snprintf(data, sizeof data, "%s/rdata", dir);
    const int empty_of[6] = { 0, 1, 0, 0, 1, 0 };
    empty_set(data, 6, empty_of);
    for (int thr = 1; thr >= 0; thr--) {
        snprintf(run, sizeof run, "%s/rrun%d", dir, thr);
        CHECK_OK(ftn_mkdirs(run));
        CHECK_OK(ftn_model_save(m, tl_path(run, "best.safetensors")));
        char cfg[2600];
        /* threshold 1: nothing predicted, so the empty masks score DSC 1 (the best of all);
         * threshold 0: everything, so they are all false positives (and the worst) */
        snprintf(cfg, sizeof cfg,
                 "{\"model\": \"attn-unet-mi-ds\", \"resize\": \"nearest\", \"batch\": 6, \"threshold\": %d, \"data\": \"%s\", "
                 "\"mask_suffix\": \"\", \"train\": [], \"val\": [], "
                 "\"test\": [\"0000\", \"0001\", \"0002\", \"0003\", \"0004\", \"0005\"]}\n",
                 thr, data);
        const void *chunks[1] = { cfg };
        size_t sizes[1] = { strlen(cfg) };
        CHECK_OK(ftn_write_file_atomic(tl_path(run, "config.json"), chunks, sizes, 1));
        CHECK_OK(ftn_report_write(run, FTN_ENGINE_REF));
        uint8_t *text;
        size_t size;
        CHECK_OK(ftn_read_file(tl_path(run, "report.html"), 1 << 24, &text, &size));
        const char *h = (const char *)text;
        const char *best = strstr(h, "<h3>Best (highest DSC) of the lesion images</h3>"),
                   *worst = strstr(h, "<h3>Worst (lowest DSC) of the lesion images</h3>"),
                   *emp = strstr(h, "<h3>Empty ground truth: the largest false positives</h3>");
        CHECK(best && worst && worst > best, "threshold %d: no best and worst sections", thr);
        CHECK(strstr(h, "Empty ground truth: 2 of the 6 test images") != NULL, "threshold %d", thr);
        /* lesion images 0000 0002 0003 0005: 2 best, 2 worst, none of them 0001 or 0004 */
        const char *end = emp ? emp : strstr(h, "</section>\n<section><h2>Configuration");
        int n_cases = 0, bad = 0;
        for (const char *q = best; q && end && (q = strstr(q, "</b> ")) && q < end; q++) n_cases++;
        for (const char *q = best; q && end && (q = strstr(q, "<figcaption><b>")) && q < end; q++)
            bad += !strncmp(q + 15, "0001<", 5) || !strncmp(q + 15, "0004<", 5);
        CHECK(n_cases == 4 && bad == 0, "threshold %d: %d best/worst cases, %d of them empty", thr, n_cases, bad);
        if (thr) {
            CHECK(emp == NULL && strstr(h, "False-positive rate 0.0000: 0 of them") != NULL, "no false positive at 1");
        } else {
            CHECK(emp && strstr(emp, "<figcaption><b>0001</b>") && strstr(emp, "<figcaption><b>0004</b>") &&
                      strstr(h, "False-positive rate 1.0000: 2 of them"),
                  "threshold 0: the empty masks' false positives");
        }
        free(text);
    }
    /* the test-metrics table of a summary with the groups: all images beside the lesion images */
    ftn_eval_result r;
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(data, NULL, &ds));
    CHECK_OK(ftn_evaluate(m, &ds, NULL, 0, 1.0f, FTN_RESIZE_NEAREST, FTN_ENGINE_REF, FTN_PRECISION_FP32, 6, &r));
    CHECK_OK(ftn_run_test_write(run, &r));
    CHECK_OK(ftn_report_write(run, FTN_ENGINE_REF));
    uint8_t *text;
    size_t size;
    CHECK_OK(ftn_read_file(tl_path(run, "report.html"), 1 << 24, &text, &size));
    char want[200];
    snprintf(want, sizeof want, "<tr><th>DSC</th><td>%.4f</td><td>± %.4f</td><td>%.4f</td>", r.mean.dsc, r.std.dsc,
             r.groups.lesion_mean.dsc);
    CHECK(strstr((char *)text, "mean, all 6 images (the paper's protocol)") && strstr((char *)text, "mean, 4 lesion images only") &&
              strstr((char *)text, want) && strstr((char *)text, "Empty ground truth: 2 test images, false-positive rate 0.0000"),
          "report metrics table");
    free(text);
    ftn_eval_result_free(&r);
    ftn_dataset_free(&ds);
}

/* a cross-validation's summary.json carries each run's groups and the exclude_empty option */
static void test_cv_summary_groups(const char *dir)
{
    ftn_train_config base = ftn_train_default();
    base.exclude_empty = 1;
    ftn_train_summary sums[2];
    memset(sums, 0, sizeof sums);
    sums[0].n_test = 3, sums[0].test_mean.dsc = 0.5, sums[0].test_groups.n_lesion = 2, sums[0].test_groups.n_empty = 1;
    sums[0].test_groups.lesion_mean.dsc = 0.25, sums[0].test_groups.empty_fp_rate = 1;
    sums[1].n_test = 2, sums[1].test_mean.dsc = 0.7, sums[1].test_groups.n_lesion = 2;
    ftn_metrics mean, std;
    char cv[1100];
    snprintf(cv, sizeof cv, "%s/cv", dir);
    CHECK_OK(ftn_mkdirs(cv));
    CHECK_OK(ftn_cv_summary_write(cv, &base, 0, 2, sums, &mean, &std));
    CHECK(fabs(mean.dsc - 0.6) < 1e-12);
    cJSON *j = read_json(tl_path(cv, "summary.json"));
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "runs"), 0);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "exclude_empty")) && jnum(r0, "n_lesion") == 2 && jnum(r0, "n_empty") == 1 &&
          jnum(r0, "empty_fp_rate") == 1 && jnum(cJSON_GetObjectItem(r0, "lesion_mean"), "dsc") == 0.25 && jnum(r0, "dsc") == 0.5);
    cJSON_Delete(j);
}

/* ftn_train_run with exclude_empty: dropped before the split, listed in config.json, checked on
 * resume */
static void test_train_exclude_empty(const char *dir)
{
    char data[1100], run[1100];
    snprintf(data, sizeof data, "%s/tdata", dir);
    snprintf(run, sizeof run, "%s/trun", dir);
    const int empty_of[6] = { 0, 0, 1, 0, 1, 0 };
    empty_set(data, 6, empty_of);
    ftn_train_config c = ftn_train_default();
    c.data = data;
    c.run_dir = run;
    c.model = "attn-unet";
    c.height = c.width = 16;
    c.epochs = 1;
    c.batch = 2;
    c.engine = FTN_ENGINE_REF;
    c.exclude_empty = 1;
    ftn_train_summary sum;
    CHECK_OK(ftn_train_run(&c, NULL, NULL, &sum));
    CHECK(sum.n_excluded == 2 && sum.n_train + sum.n_val + sum.n_test == 4, "%d excluded, %d+%d+%d", sum.n_excluded,
          sum.n_train, sum.n_val, sum.n_test);
    CHECK(sum.test_groups.n_lesion == sum.n_test && sum.test_groups.n_empty == 0);
    cJSON *j = read_json(tl_path(run, "config.json"));
    const cJSON *ex = cJSON_GetObjectItem(j, "excluded");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "exclude_empty")) && cJSON_GetArraySize(ex) == 2 &&
          !strcmp(cJSON_GetArrayItem(ex, 0)->valuestring, "0002") && !strcmp(cJSON_GetArrayItem(ex, 1)->valuestring, "0004"));
    static const char *parts[3] = { "train", "val", "test" };
    int listed = 0, empties = 0;
    for (int k = 0; k < 3; k++) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, parts[k]))
        {
            listed++;
            empties += !strcmp(e->valuestring, "0002") || !strcmp(e->valuestring, "0004");
        }
    }
    CHECK(listed == 4 && empties == 0);
    cJSON_Delete(j);
    /* resuming with empty masks kept is another run */
    c.exclude_empty = 0;
    c.resume = 1;
    c.epochs = 2;
    CHECK(ftn_train_run(&c, NULL, NULL, &sum) == FTN_EINVAL);
    CHECK(strstr(ftn_last_error(), "exclude_empty differs") != NULL, "%s", ftn_last_error());
    /* the same options resume */
    c.exclude_empty = 1;
    CHECK_OK(ftn_train_run(&c, NULL, NULL, &sum));
    CHECK(sum.epochs_done == 2 && sum.n_trained_now == 1);
    /* a finished run: its groups read back from test/summary.json */
    CHECK_OK(ftn_train_run(&c, NULL, NULL, &sum));
    CHECK(sum.n_trained_now == 0 && !sum.tested_now && sum.n_test > 0 && sum.test_groups.n_lesion == sum.n_test &&
          sum.test_groups.lesion_mean.dsc == sum.test_mean.dsc && sum.n_excluded == 2);
}

/* ftn_evaluate_predict: with the protocol's options it gives ftn_evaluate's figures (batch 1);
 * with flips, bilinear upsampling, another threshold, an ensemble or the largest component it
 * scores exactly what ftn_predict_ensemble and ftn_predict_mask make of each image */
static int same_counts(const ftn_metrics *a, const ftn_metrics *b)
{
    return a->tp == b->tp && a->fp == b->fp && a->fn == b->fn && a->tn == b->tn && a->dsc == b->dsc &&
           (a->hd95 == b->hd95 || (isnan(a->hd95) && isnan(b->hd95)));
}

static int float_cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void count_progress(void *user, int done, int n)
{
    int *calls = user;
    CHECK(done == *calls + 1 && n == 3, "progress %d/%d after %d calls", done, n, *calls);
    ++*calls;
}

/* the metrics of image sample of ds predicted by sessions with cfg, scored as eval does */
static ftn_metrics by_hand(ftn_session *const *sessions, int n, const ftn_predict_config *cfg, const ftn_dataset *ds,
                           int sample)
{
    ftn_image im, gt;
    float *p = NULL;
    CHECK_OK(ftn_dataset_load(ds, sample, &im, &gt));
    CHECK_OK(ftn_predict_ensemble(sessions, n, &im, cfg, &p));
    float thr = cfg->threshold;
    if (cfg->largest_component) {
        uint8_t *bin = malloc((size_t)im.width * im.height);
        CHECK(bin != NULL);
        CHECK_OK(ftn_predict_mask(p, im.height, im.width, cfg, bin, NULL));
        for (int i = 0; i < im.width * im.height; i++) p[i] = bin[i];
        free(bin);
        thr = 0.5f;
    }
    ftn_metrics r = ftn_metrics_compute(p, gt.data, (size_t)im.width * im.height, thr);
    CHECK_OK(ftn_metrics_surface(&r, p, gt.data, im.width, im.height, thr));
    free(p);
    ftn_image_free(&im);
    ftn_image_free(&gt);
    return r;
}

static void test_evaluate_predict(const char *dir, ftn_model *m, const ftn_dataset *ds)
{
    const int idx[3] = { 2, 0, 3 };
    ftn_session *s1 = NULL, *s4[2] = { NULL, NULL };
    CHECK_OK(ftn_session_create(m, 1, FTN_ENGINE_REF, &s1));
    CHECK_OK(ftn_session_create(m, 4, FTN_ENGINE_REF, &s4[0]));
    CHECK_OK(ftn_session_create(m, 4, FTN_ENGINE_REF, &s4[1]));
    ftn_eval_result a, b;
    ftn_predict_config cfg = ftn_predict_default();
    cfg.resize = FTN_RESIZE_BILINEAR;
    CHECK_OK(ftn_evaluate(m, ds, idx, 3, 0.5f, FTN_RESIZE_BILINEAR, FTN_ENGINE_REF, FTN_PRECISION_FP32, 1, &a));
    int calls = 0;
    CHECK_OK(ftn_evaluate_predict(&s1, 1, &cfg, ds, idx, 3, count_progress, &calls, &b));
    CHECK(calls == 3 && b.n == 3 && b.has_predict && b.n_models == 1 && !a.has_predict);
    for (int k = 0; k < 3; k++)
        CHECK(same_counts(&a.per_image[k], &b.per_image[k]) && !strcmp(a.ids[k], b.ids[k]), "defaults, image %d", k);
    CHECK(a.mean.dsc == b.mean.dsc && a.std.dsc == b.std.dsc);
    ftn_eval_result_free(&b);

    /* flips, bilinear, another threshold: each image as ftn_predict_ensemble gives it, and not the
     * protocol's figures (the options reach the prediction) */
    cfg.tta = FTN_TTA_FLIPS;
    cfg.upsample = FTN_UPSAMPLE_BILINEAR;
    { /* the threshold at the median of the first image's plain map: an untrained network's
       * probabilities lie close together, and the flips must be able to move pixels across it */
        ftn_image im, gt;
        float *pm = NULL;
        ftn_predict_config plain = cfg;
        plain.tta = FTN_TTA_NONE;
        CHECK_OK(ftn_dataset_load(ds, idx[0], &im, &gt));
        CHECK_OK(ftn_predict_ensemble(&s1, 1, &im, &plain, &pm));
        qsort(pm, (size_t)im.width * im.height, sizeof(float), float_cmp);
        cfg.threshold = pm[im.width * im.height / 2];
        free(pm);
        ftn_image_free(&im);
        ftn_image_free(&gt);
    }
    CHECK_OK(ftn_evaluate_predict(s4, 1, &cfg, ds, idx, 3, NULL, NULL, &b));
    CHECK(b.threshold == cfg.threshold);
    int moved = 0;
    for (int k = 0; k < 3; k++) {
        ftn_metrics want = by_hand(s4, 1, &cfg, ds, idx[k]);
        CHECK(same_counts(&want, &b.per_image[k]), "flips, image %d: tp %lld/%lld", k, (long long)want.tp,
              (long long)b.per_image[k].tp);
        ftn_predict_config plain = cfg;
        plain.tta = FTN_TTA_NONE;
        ftn_metrics no_tta = by_hand(&s1, 1, &plain, ds, idx[k]);
        moved += !same_counts(&no_tta, &b.per_image[k]);
    }
    CHECK(moved > 0, "the flips changed no image's counts");
    /* an ensemble of the same network twice is that network alone */
    ftn_eval_result e;
    CHECK_OK(ftn_evaluate_predict(s4, 2, &cfg, ds, idx, 3, NULL, NULL, &e));
    CHECK(e.n_models == 2);
    for (int k = 0; k < 3; k++) CHECK(same_counts(&e.per_image[k], &b.per_image[k]), "ensemble, image %d", k);
    ftn_eval_result_free(&b);
    /* the largest component: the mask ftn_predict_mask keeps is scored; recorded in summary.json */
    cfg.largest_component = 1;
    cfg.threshold = 0.5f;
    ftn_eval_result_free(&e);
    CHECK_OK(ftn_evaluate_predict(s4, 2, &cfg, ds, idx, 3, NULL, NULL, &e));
    for (int k = 0; k < 3; k++) {
        ftn_metrics want = by_hand(s4, 2, &cfg, ds, idx[k]);
        CHECK(same_counts(&want, &e.per_image[k]), "largest component, image %d", k);
    }
    char json[1100];
    snprintf(json, sizeof json, "%s/predict/summary.json", dir);
    CHECK_OK(ftn_eval_write(&e, NULL, json));
    cJSON *j = read_json(json);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "predict");
    CHECK(p && jnum(p, "models") == 2 && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "tta")), "flips") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "upsample")), "bilinear") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "resize")), "bilinear") &&
              cJSON_IsTrue(cJSON_GetObjectItem(p, "largest_component")),
          "summary.json's predict object");
    cJSON_Delete(j);
    ftn_eval_result_free(&e);
    /* ftn_evaluate's summary has no "predict" */
    CHECK_OK(ftn_eval_write(&a, NULL, json));
    j = read_json(json);
    CHECK(j && !cJSON_GetObjectItem(j, "predict"));
    cJSON_Delete(j);
    ftn_eval_result_free(&a);

    const int bad_idx[1] = { 7 };
    CHECK(ftn_evaluate_predict(s4, 0, &cfg, ds, idx, 3, NULL, NULL, &e) == FTN_EINVAL && e.n == 0);
    CHECK(ftn_evaluate_predict(s4, 1, &cfg, ds, bad_idx, 1, NULL, NULL, &e) == FTN_EINVAL);
    CHECK(strstr(ftn_last_error(), "out of range") != NULL, "%s", ftn_last_error());
    ftn_session_free(s4[1]);
    ftn_session_free(s4[0]);
    ftn_session_free(s1);
}

int main(void)
{
    const char *dir = tl_tmpdir("evaluate");
    char data[1024];
    snprintf(data, sizeof data, "%s/data", dir);
    CHECK_OK(ftn_synth_write(data, FTN_SYNTH_ULTRASOUND, 4, 7, W, H));
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(data, NULL, &ds));
    CHECK(ds.count == 4);
    ftn_model *m = NULL;
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, 16, 16, &m));
    CHECK_OK(ftn_model_init(m, 3));

    /* two samples, out of order: ids and counts follow idx */
    const int idx[2] = { 3, 1 };
    ftn_eval_result r;
    CHECK_OK(ftn_evaluate(m, &ds, idx, 2, 0.5f, FTN_RESIZE_NEAREST, FTN_ENGINE_REF, FTN_PRECISION_FP32, 2, &r));
    CHECK(r.n == 2 && r.ids && !strcmp(r.ids[0], "0003") && !strcmp(r.ids[1], "0001"));
    CHECK(r.threshold == 0.5f);

    /* by hand: the same preprocessing through ftn_dataset_load_subset, a forward at batch 2, the
     * last output upsampled with floor(d·s/D) loops, metrics against the original-size mask */
    float *x = NULL, *mk = NULL;
    int *hw = NULL;
    CHECK_OK(ftn_dataset_load_subset(&ds, idx, 2, 1, 16, 16, FTN_RESIZE_NEAREST, &x, &mk, &hw));
    ftn_session *s = NULL;
    CHECK_OK(ftn_session_create(m, 2, FTN_ENGINE_REF, &s));
    CHECK_OK(ftn_session_forward(s, x, 0));
    ftn_shape os;
    const float *out = ftn_session_output(s, ftn_model_output_count(m) - 1, &os);
    CHECK(os.n == 2 && os.c == 1 && os.h == 16 && os.w == 16);
    ftn_metrics hand[2];
    for (int j = 0; j < 2; j++) {
        ftn_image im, gt;
        CHECK_OK(ftn_dataset_load(&ds, idx[j], &im, &gt));
        CHECK(hw[2 * j] == H && hw[2 * j + 1] == W && gt.width == W && gt.height == H);
        float up[W * H];
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) up[y * W + xx] = out[j * 256 + (y * 16 / H) * 16 + xx * 16 / W];
        hand[j] = ftn_metrics_compute(up, gt.data, W * H, 0.5f);
        CHECK(hand[j].tp == r.per_image[j].tp && hand[j].fp == r.per_image[j].fp && hand[j].fn == r.per_image[j].fn &&
                  hand[j].tn == r.per_image[j].tn,
              "image %d: tp %lld/%lld fp %lld/%lld", j, (long long)hand[j].tp, (long long)r.per_image[j].tp,
              (long long)hand[j].fp, (long long)r.per_image[j].fp);
        CHECK(hand[j].dsc == r.per_image[j].dsc && hand[j].recall == r.per_image[j].recall);
        CHECK(hand[j].tp + hand[j].fp + hand[j].fn + hand[j].tn == W * H); /* counted at the original size */
        ftn_image_free(&im);
        ftn_image_free(&gt);
    }
    ftn_metrics mean, std;
    ftn_metrics_mean_std(hand, 2, &mean, &std);
    CHECK(fabs(mean.dsc - r.mean.dsc) < 1e-12 && fabs(std.dsc - r.std.dsc) < 1e-12 && fabs(std.iou - r.std.iou) < 1e-12);
    ftn_session_free(s);
    free(x), free(mk), free(hw);

    /* the metrics files parse back */
    char csv[1100], json[1100];
    snprintf(csv, sizeof csv, "%s/metrics.csv", dir);
    snprintf(json, sizeof json, "%s/summary.json", dir);
    CHECK_OK(ftn_eval_write(&r, csv, json));
    uint8_t *text;
    size_t size;
    CHECK_OK(ftn_read_file(csv, 1 << 20, &text, &size));
    /* the first five columns as ever, then gt_empty; no label column without labels */
    CHECK(!strncmp((char *)text, "id,dsc,precision,recall,iou,gt_empty,hd95,asd\n0003,", 51) && count_lines((char *)text) == 3,
          "%s", (char *)text);
    {
        char *line2 = strchr((char *)text, '\n') + 1;
        double d, p, rc, iou;
        int ge = -1;
        CHECK(sscanf(line2, "0003,%lf,%lf,%lf,%lf,%d", &d, &p, &rc, &iou, &ge) == 5);
        CHECK(fabs(d - r.per_image[0].dsc) < 1e-6 && fabs(p - r.per_image[0].precision) < 1e-6 &&
              fabs(rc - r.per_image[0].recall) < 1e-6 && fabs(iou - r.per_image[0].iou) < 1e-6 && ge == 0);
    }
    free(text);
    CHECK_OK(ftn_read_file(json, 1 << 20, &text, &size));
    cJSON *j = cJSON_Parse((char *)text);
    CHECK(j != NULL);
    CHECK(cJSON_GetObjectItem(j, "n") && cJSON_GetObjectItem(j, "n")->valueint == 2);
    CHECK(cJSON_GetObjectItem(j, "threshold") && cJSON_GetObjectItem(j, "threshold")->valuedouble == 0.5);
    static const char *keys[4] = { "dsc", "precision", "recall", "iou" };
    const double mv[4] = { r.mean.dsc, r.mean.precision, r.mean.recall, r.mean.iou };
    const double sv[4] = { r.std.dsc, r.std.precision, r.std.recall, r.std.iou };
    for (int k = 0; k < 4; k++) {
        cJSON *a = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "mean"), keys[k]);
        cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "std"), keys[k]);
        CHECK(a && b && fabs(a->valuedouble - mv[k]) < 1e-12 && fabs(b->valuedouble - sv[k]) < 1e-12, "%s", keys[k]);
    }
    cJSON_Delete(j);
    free(text);
    ftn_eval_result_free(&r);
    CHECK(r.n == 0 && r.ids == NULL);

    /* idx NULL: every sample, in dataset order; batch larger than n is fine; threshold moves counts */
    CHECK_OK(ftn_evaluate(m, &ds, NULL, 0, 0.0f, FTN_RESIZE_AREA, FTN_ENGINE_REF, FTN_PRECISION_FP32, 16, &r));
    CHECK(r.n == 4 && !strcmp(r.ids[0], "0000") && !strcmp(r.ids[3], "0003"));
    CHECK(r.per_image[0].fn + r.per_image[0].tn == 0, "threshold 0 predicts everything"); /* sigmoid > 0 */
    ftn_eval_result_free(&r);

    /* predict_image matches the evaluation's probability maps */
    capture cap = { { 0 }, 0 };
    CHECK_OK(ftn_evaluate_each(m, &ds, NULL, 0, FTN_RESIZE_BILINEAR, FTN_ENGINE_REF, FTN_PRECISION_FP32, 3, grab, &cap));
    CHECK(cap.n == 4);
    CHECK_OK(ftn_session_create(m, 1, FTN_ENGINE_REF, &s));
    for (int i = 0; i < 4; i++) {
        ftn_image im, gt;
        float *p = NULL;
        CHECK_OK(ftn_dataset_load(&ds, i, &im, &gt));
        CHECK_OK(ftn_predict_image(s, &im, FTN_RESIZE_BILINEAR, &p));
        CHECK(p && tl_rel_max_diff(p, cap.prob[i], W * H) < 1e-5, "image %d", i);
        free(p);
        free(cap.prob[i]);
        ftn_image_free(&im);
        ftn_image_free(&gt);
    }
    ftn_session_free(s);

    /* errors */
    const int bad_idx[1] = { 9 };
    CHECK(ftn_evaluate(m, &ds, bad_idx, 1, 0.5f, FTN_RESIZE_NEAREST, FTN_ENGINE_REF, FTN_PRECISION_FP32, 1, &r) == FTN_EINVAL);
    CHECK(strstr(ftn_last_error(), "out of range") != NULL, "%s", ftn_last_error());
    CHECK(ftn_evaluate(m, &ds, NULL, 0, 1.5f, FTN_RESIZE_NEAREST, FTN_ENGINE_REF, FTN_PRECISION_FP32, 1, &r) == FTN_EINVAL);
    CHECK(ftn_eval_write(&r, csv, NULL) == FTN_OK); /* an empty result writes just the header */
    /* the test folder of a run is created; ids with commas and quotes are quoted */
    {
        char *ids[1] = { "a,\"b\"" };
        ftn_metrics pm[1] = { ftn_metrics_compute(NULL, NULL, 0, 0.5f) };
        ftn_eval_result q = { .n = 1, .ids = ids, .per_image = pm, .mean = pm[0], .std = pm[0], .threshold = 0.5f };
        CHECK_OK(ftn_eval_write(&q, tl_path(dir, "run/test/metrics.csv"), tl_path(dir, "run/test/summary.json")));
        CHECK_OK(ftn_read_file(tl_path(dir, "run/test/metrics.csv"), 1 << 20, &text, &size));
        CHECK(strstr((char *)text, "\n\"a,\"\"b\"\"\",1.000000,") != NULL, "%s", (char *)text);
        free(text);
    }

    test_evaluate_predict(dir, m, &ds);
    test_overlay();
    test_encoders(dir);
    test_empty_masks(dir, m);
    test_drop_npy(dir);
    test_report_empty(dir, m);
    test_train_exclude_empty(dir);
    test_cv_summary_groups(dir);

    /* the report of a folder with nothing in it: written, every section saying what is missing */
    char run[1100];
    snprintf(run, sizeof run, "%s/emptyrun", dir);
    CHECK(tl_tmpdir("evaluate/emptyrun") != NULL);
    CHECK_OK(ftn_report_write(run, FTN_ENGINE_REF));
    CHECK_OK(ftn_read_file(tl_path(run, "report.html"), 1 << 20, &text, &size));
    CHECK(strstr((char *)text, "No test metrics yet") && strstr((char *)text, "No training log") &&
          strstr((char *)text, "No precision") && strstr((char *)text, "No overlays") && strstr((char *)text, "No configuration"));
    free(text);
    CHECK(ftn_report_write(tl_path(dir, "no-such-run"), FTN_ENGINE_REF) == FTN_EIO);

    ftn_model_free(m);
    ftn_dataset_free(&ds);
    return tl_finish();
}
