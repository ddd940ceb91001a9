/* Evaluation at the original resolution, the metrics files, overlays, and the report's encoders. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "data/dataset.h"
#include "data/synth.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "metrics/metrics.h"
#include "protocol/evaluate.h"
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
            if (y == 4) want[0] = FTN_OVERLAY_GT_R, want[1] = FTN_OVERLAY_GT_G, want[2] = FTN_OVERLAY_GT_B;
            else if (in_pred && !centre) want[0] = FTN_OVERLAY_PRED_R, want[1] = FTN_OVERLAY_PRED_G, want[2] = FTN_OVERLAY_PRED_B;
            else if (centre) {
                const float pc[3] = { FTN_OVERLAY_PRED_R, FTN_OVERLAY_PRED_G, FTN_OVERLAY_PRED_B };
                for (int k = 0; k < 3; k++) want[k] = (uint8_t)lrintf((1 - FTN_OVERLAY_TINT) * 128 + FTN_OVERLAY_TINT * pc[k]);
            }
            for (int k = 0; k < 3; k++) bad += abs(p[k] - want[k]) > 1;
            if (memcmp(p, want, 3) && abs(p[0] - want[0]) > 1) fprintf(stderr, "overlay (%d,%d): %d %d %d\n", x, y, p[0], p[1], p[2]);
        }
    CHECK(bad == 0, "%d overlay channels wrong", bad);
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
    CHECK(!strncmp((char *)text, "id,dsc,precision,recall,iou\n0003,", 33) && count_lines((char *)text) == 3);
    {
        char *line2 = strchr((char *)text, '\n') + 1;
        double d, p, rc, iou;
        CHECK(sscanf(line2, "0003,%lf,%lf,%lf,%lf", &d, &p, &rc, &iou) == 4);
        CHECK(fabs(d - r.per_image[0].dsc) < 1e-6 && fabs(p - r.per_image[0].precision) < 1e-6 &&
              fabs(rc - r.per_image[0].recall) < 1e-6 && fabs(iou - r.per_image[0].iou) < 1e-6);
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
        ftn_eval_result q = { 1, ids, pm, pm[0], pm[0], 0.5f };
        CHECK_OK(ftn_eval_write(&q, tl_path(dir, "run/test/metrics.csv"), tl_path(dir, "run/test/summary.json")));
        CHECK_OK(ftn_read_file(tl_path(dir, "run/test/metrics.csv"), 1 << 20, &text, &size));
        CHECK(strstr((char *)text, "\n\"a,\"\"b\"\"\",1.000000,") != NULL, "%s", (char *)text);
        free(text);
    }

    test_overlay();
    test_encoders(dir);

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
