#include "report/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/error.h"
#include "core/fs.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "metrics/metrics.h"
#include "protocol/evaluate.h"
#include "protocol/provenance.h"
#include "protocol/run_folder.h"

/* ---- base64 and HTML text ------------------------------------------------------------------- */

char *ftn_base64_encode(const uint8_t *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *o++ = tab[v >> 18], *o++ = tab[(v >> 12) & 63], *o++ = tab[(v >> 6) & 63], *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        *o++ = tab[v >> 18], *o++ = tab[(v >> 12) & 63], *o++ = '=', *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        *o++ = tab[v >> 18], *o++ = tab[(v >> 12) & 63], *o++ = tab[(v >> 6) & 63], *o++ = '=';
    }
    *o = 0;
    return out;
}

static void sb_printf(ftn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(ftn_buf *b, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        ftn_buf_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ftn_buf_add(b, big, (size_t)n);
    free(big);
}

static void sb_esc(ftn_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': ftn_buf_puts(b, "&amp;"); break;
        case '<': ftn_buf_puts(b, "&lt;"); break;
        case '>': ftn_buf_puts(b, "&gt;"); break;
        case '"': ftn_buf_puts(b, "&quot;"); break;
        default: ftn_buf_add(b, s, 1);
        }
    }
}

static void note(ftn_buf *b, const char *fmt, const char *arg)
{
    ftn_buf_puts(b, "<p class=\"note\">");
    char tmp[1200];
    snprintf(tmp, sizeof tmp, fmt, arg ? arg : "");
    sb_esc(b, tmp);
    ftn_buf_puts(b, "</p>\n");
}

/* ---- SVG charts ------------------------------------------------------------------------------ */

typedef struct series {
    const char *name, *color;
    const double *x, *y;
    int n;
    int dashed;
    const char *const *tips; /* optional tooltip per point */
} series;

static double nice_step(double range)
{
    if (!(range > 0)) return 1;
    double raw = range / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

#define CW 515
#define CH 320
#define ML 62
#define MR 18
#define MT 34
#define MB 52

static void svg_chart(ftn_buf *b, const char *title, const char *xlabel, const char *ylabel, const series *s, int ns,
                      double x0, double x1, double y0, double y1, int integer_x)
{
    /* NaN limits: from the data */
    double dx0 = INFINITY, dx1 = -INFINITY, dy0 = INFINITY, dy1 = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) continue;
            dx0 = fmin(dx0, s[k].x[i]), dx1 = fmax(dx1, s[k].x[i]);
            dy0 = fmin(dy0, s[k].y[i]), dy1 = fmax(dy1, s[k].y[i]);
        }
    if (!isfinite(dx0)) dx0 = 0, dx1 = 1, dy0 = 0, dy1 = 1;
    if (isnan(x0)) x0 = dx0;
    if (isnan(x1)) x1 = dx1;
    if (isnan(y0) || isnan(y1)) {
        double pad = (dy1 - dy0) * 0.08;
        if (pad <= 0) pad = fabs(dy1) * 0.1 + 0.05;
        /* data that never goes below zero (losses, DSC) keeps its axis at zero */
        if (isnan(y0)) y0 = dy0 >= 0 && dy0 - pad < 0 ? 0 : dy0 - pad;
        if (isnan(y1)) y1 = dy1 + pad;
    }
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) y1 = y0 + 1;
    double xs = nice_step(x1 - x0), ys = nice_step(y1 - y0);
    if (integer_x && xs < 1) xs = 1;
    /* extend the y range to whole ticks */
    y0 = floor(y0 / ys + 1e-9) * ys;
    y1 = ceil(y1 / ys - 1e-9) * ys;
    const double pw = CW - ML - MR, ph = CH - MT - MB;
#define PX(v) (ML + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (MT + (1 - ((v) - y0) / (y1 - y0)) * ph)
    sb_printf(b, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"", CW, CH,
              CW, CH);
    sb_esc(b, title);
    ftn_buf_puts(b, "\">\n<text x=\"12\" y=\"20\" class=\"ct\">");
    sb_esc(b, title);
    ftn_buf_puts(b, "</text>\n");
    sb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%g\" height=\"%g\" class=\"plot\"/>\n", ML, MT, pw, ph);
    for (double v = ceil(x0 / xs - 1e-9) * xs; v <= x1 + 1e-9 * xs; v += xs) {
        double px = PX(v);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", px, MT, px, MT + ph);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%g</text>\n", px, MT + ph + 16,
                  fabs(v) < 1e-12 ? 0.0 : v);
    }
    /* as many decimals as the step needs (a learning rate from 0.01 down by 1e-6 a step) */
    int yd = ys >= 1 ? 0 : (int)ceil(-log10(ys) - 1e-9);
    for (double v = y0; v <= y1 + 1e-9 * ys; v += ys) {
        double py = PY(v);
        sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", ML, py, ML + pw, py);
        sb_printf(b, "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.*f</text>\n", ML - 6, py + 4, yd,
                  fabs(v) < 1e-12 * ys ? 0.0 : v);
    }
    sb_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"axis\" text-anchor=\"middle\">", ML + pw / 2, CH - 12);
    sb_esc(b, xlabel);
    sb_printf(b, "</text>\n<text transform=\"translate(16 %.1f) rotate(-90)\" class=\"axis\" text-anchor=\"middle\">",
              MT + ph / 2);
    sb_esc(b, ylabel);
    ftn_buf_puts(b, "</text>\n");
    for (int k = 0; k < ns; k++) {
        /* the line, broken at missing values */
        int open = 0;
        for (int i = 0; i < s[k].n; i++) {
            int ok = isfinite(s[k].x[i]) && isfinite(s[k].y[i]);
            if (ok && !open) {
                sb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", s[k].color,
                          s[k].dashed ? " stroke-dasharray=\"6 4\"" : "");
                open = 1;
            }
            if (ok) sb_printf(b, "%.1f,%.1f ", PX(s[k].x[i]), PY(s[k].y[i]));
            if (open && (!ok || i == s[k].n - 1)) {
                ftn_buf_puts(b, "\"/>\n");
                open = 0;
            }
        }
        if (s[k].n <= 40 || s[k].tips)
            for (int i = 0; i < s[k].n; i++) {
                if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) continue;
                sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\">", PX(s[k].x[i]), PY(s[k].y[i]), s[k].color);
                ftn_buf_puts(b, "<title>");
                if (s[k].tips) sb_esc(b, s[k].tips[i]);
                else sb_printf(b, "%s: %g, %.4g", s[k].name, s[k].x[i], s[k].y[i]);
                ftn_buf_puts(b, "</title></circle>\n");
            }
        /* legend, top right */
        double ly = MT + 14 + 18 * k, lx = ML + pw - 165;
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>", lx, ly - 4,
                  lx + 22, ly - 4, s[k].color, s[k].dashed ? " stroke-dasharray=\"6 4\"" : "");
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">", lx + 28, ly);
        sb_esc(b, s[k].name);
        ftn_buf_puts(b, "</text>\n");
    }
    ftn_buf_puts(b, "</svg>\n");
#undef PX
#undef PY
}

/* ---- sections -------------------------------------------------------------------------------- */

static void section_config(ftn_buf *b, const char *run_dir, const cJSON *config, const char *err)
{
    ftn_buf_puts(b, "<section><h2>Configuration</h2>\n");
    if (!config) {
        note(b, "No configuration: %s", err);
        ftn_buf_puts(b, "</section>\n");
        return;
    }
    (void)run_dir;
    ftn_buf_puts(b, "<table class=\"kv\"><tbody>\n");
    const cJSON *e;
    cJSON_ArrayForEach(e, config)
    {
        ftn_buf_puts(b, "<tr><th>");
        sb_esc(b, e->string);
        ftn_buf_puts(b, "</th><td>");
        if (cJSON_IsString(e)) {
            sb_esc(b, e->valuestring);
        } else if (cJSON_IsArray(e)) {
            int n = cJSON_GetArraySize(e);
            if (!strcmp(e->string, "train") || !strcmp(e->string, "val") || !strcmp(e->string, "test")) {
                sb_printf(b, "%d sample%s", n, n == 1 ? "" : "s");
            } else {
                char *t = cJSON_PrintUnformatted(e);
                sb_esc(b, t ? t : "");
                cJSON_free(t);
            }
        } else {
            char *t = cJSON_PrintUnformatted(e);
            sb_esc(b, t ? t : "");
            cJSON_free(t);
        }
        ftn_buf_puts(b, "</td></tr>\n");
    }
    ftn_buf_puts(b, "</tbody></table>\n</section>\n");
}

/* A section's heading and the bytes of the run's file f (path: its FTN_PATH_MAX bytes), or NULL
 * after closing the section with the note `missing` (a %s for the reason). */
static uint8_t *open_section(ftn_buf *b, const char *title, const char *run_dir, ftn_run_file f, size_t max_size,
                             const char *missing, char *path, size_t *size)
{
    uint8_t *data = NULL;
    ftn_buf_puts(b, "<section><h2>");
    ftn_buf_puts(b, title);
    ftn_buf_puts(b, "</h2>\n");
    if (ftn_run_path(run_dir, f, path, FTN_PATH_MAX) != FTN_OK || ftn_read_file(path, max_size, &data, size) != FTN_OK) {
        note(b, missing, ftn_last_error());
        ftn_buf_puts(b, "</section>\n");
        return NULL;
    }
    return data;
}

static void section_metrics(ftn_buf *b, const char *run_dir)
{
    char path[FTN_PATH_MAX];
    size_t size;
    uint8_t *data = open_section(b, "Test metrics", run_dir, FTN_RUN_TEST_SUMMARY, 16u << 20, "No test metrics yet (%s).",
                                 path, &size);
    if (!data) return;
    free(data);
    ftn_eval_summary es;
    if (ftn_eval_summary_read(path, &es) != FTN_OK) {
        note(b, "%s", ftn_last_error());
        ftn_buf_puts(b, "</section>\n");
        return;
    }
    const ftn_metrics_groups *g = &es.groups;
    sb_printf(b, "<p>%d test images at their original resolution, threshold %g, smooth 1; mean ± population std "
                 "over images.</p>\n",
              es.n, isnan(es.threshold) ? 0.5 : es.threshold);
    /* all images are the paper's protocol (the headline); lesion images alone beside them, as an
     * empty prediction of an empty mask scores 1 on every metric */
    ftn_buf_puts(b, "<table class=\"metrics\"><thead><tr><th>metric</th>");
    if (es.has_groups)
        sb_printf(b, "<th>mean, all %d images (the paper's protocol)</th><th>std</th><th>mean, %d lesion images only</th>"
                     "<th>std</th>",
                  es.n, g->n_lesion);
    else ftn_buf_puts(b, "<th>mean</th><th>std</th>");
    ftn_buf_puts(b, "</tr></thead><tbody>\n");
    static const char *const names[4] = { "DSC", "precision", "recall", "IoU" };
    const double mu[4] = { es.mean.dsc, es.mean.precision, es.mean.recall, es.mean.iou };
    const double sd[4] = { es.std.dsc, es.std.precision, es.std.recall, es.std.iou };
    const double lmu[4] = { g->lesion_mean.dsc, g->lesion_mean.precision, g->lesion_mean.recall, g->lesion_mean.iou };
    const double lsd[4] = { g->lesion_std.dsc, g->lesion_std.precision, g->lesion_std.recall, g->lesion_std.iou };
    for (int k = 0; k < 4; k++) {
        sb_printf(b, "<tr><th>%s</th><td>%.4f</td><td>± %.4f</td>", names[k], mu[k], sd[k]);
        if (es.has_groups) sb_printf(b, "<td>%.4f</td><td>± %.4f</td>", lmu[k], lsd[k]);
        ftn_buf_puts(b, "</tr>\n");
    }
    /* boundary metrics: defined only where both masks have a pixel, so the same images in both
     * columns (an empty ground truth never has one) */
    if (es.has_surface) {
        const double smu[2][2] = { { es.mean.hd95, es.mean.asd }, { g->lesion_mean.hd95, g->lesion_mean.asd } };
        const double ssd[2][2] = { { es.std.hd95, es.std.asd }, { g->lesion_std.hd95, g->lesion_std.asd } };
        static const char *const snames[2] = { "HD95 (pixels)", "ASD (pixels)" };
        for (int k = 0; k < 2; k++) {
            sb_printf(b, "<tr><th>%s</th>", snames[k]);
            for (int col = 0; col < (es.has_groups ? 2 : 1); col++) {
                if (isnan(smu[col][k])) ftn_buf_puts(b, "<td>—</td><td></td>"); /* no image has both masks */
                else sb_printf(b, "<td>%.2f</td><td>± %.2f</td>", smu[col][k], ssd[col][k]);
            }
            ftn_buf_puts(b, "</tr>\n");
        }
    }
    ftn_buf_puts(b, "</tbody></table>\n");
    if (es.has_surface)
        sb_printf(b, "<p>HD95 (95th percentile of the boundary distances, both directions pooled) and ASD (their "
                     "mean) in pixels at the original resolution, 4-connected boundaries, Euclidean distances; over the "
                     "%d image%s where prediction and ground truth both have a pixel. Undefined for the other %d: "
                     "%d with exactly one of them empty (a missed lesion or a false positive on an empty mask), %d with "
                     "both empty.</p>\n",
                  g->n_surface, g->n_surface == 1 ? "" : "s", es.n - g->n_surface, g->n_surface_one_empty,
                  es.n - g->n_surface - g->n_surface_one_empty);
    if (es.has_groups && g->n_empty)
        sb_printf(b, "<p>Empty ground truth: %d test image%s, false-positive rate %.4f (%d with any pixel "
                     "predicted). An empty prediction of an empty mask scores 1 on every metric (smooth 1), which lifts "
                     "the all-images mean.</p>\n",
                  g->n_empty, g->n_empty == 1 ? "" : "s", g->empty_fp_rate, g->n_empty_fp);
    else if (es.has_groups)
        ftn_buf_puts(b, "<p>Empty ground truth: no test image (false-positive rate not applicable).</p>\n");
    ftn_buf_puts(b, "</section>\n");
}

/* log.csv → columns by header name (val_soft_dsc is absent from logs of older runs) */
static void section_curves(ftn_buf *b, const char *run_dir)
{
    char path[FTN_PATH_MAX];
    size_t size;
    uint8_t *data = open_section(b, "Training curves", run_dir, FTN_RUN_LOG, 64u << 20, "No training log (%s).", path, &size);
    if (!data) return;
    enum { EPOCH, TRAIN, VAL, DSC, SOFT, LR, SECONDS, NCOL };
    static const char *const want[NCOL] = { "epoch", "train_loss", "val_loss", "val_dsc", "val_soft_dsc", "lr", "seconds" };
    int col[NCOL] = { -1, -1, -1, -1, -1, -1, -1 };
    int cap = 0, n = 0;
    for (size_t i = 0; i < size; i++) cap += data[i] == '\n';
    cap += 1;
    double *v[NCOL];
    for (int k = 0; k < NCOL; k++) v[k] = malloc(sizeof(double) * (size_t)cap);
    char *save = NULL, *line = strtok_r((char *)data, "\r\n", &save);
    if (line) { /* header */
        int c = 0;
        for (char *f = line, *end; f; f = end ? end + 1 : NULL, c++) {
            end = strchr(f, ',');
            size_t len = end ? (size_t)(end - f) : strlen(f);
            for (int k = 0; k < NCOL; k++)
                if (strlen(want[k]) == len && !strncmp(f, want[k], len)) col[k] = c;
        }
        line = strtok_r(NULL, "\r\n", &save);
    }
    int ok = col[EPOCH] >= 0 && col[TRAIN] >= 0;
    for (int k = 0; k < NCOL; k++) ok = ok && v[k];
    for (; ok && line; line = strtok_r(NULL, "\r\n", &save)) {
        if (!*line) continue;
        for (int k = 0; k < NCOL; k++) v[k][n] = NAN;
        int c = 0;
        for (char *f = line, *end; f; f = end ? end + 1 : NULL, c++) {
            end = strchr(f, ',');
            for (int k = 0; k < NCOL; k++)
                if (col[k] == c) {
                    char *e;
                    double x = strtod(f, &e);
                    if (e != f) v[k][n] = x;
                }
        }
        n++;
    }
    if (!ok) {
        note(b, "%s has no epoch and train_loss columns.", path);
    } else if (n == 0) {
        note(b, "%s has no epochs yet.", path);
    } else {
        int best = -1, best_soft = -1;
        for (int i = 0; i < n; i++) {
            if (isfinite(v[DSC][i]) && (best < 0 || v[DSC][i] > v[DSC][best])) best = i;
            if (isfinite(v[SOFT][i]) && (best_soft < 0 || v[SOFT][i] > v[SOFT][best_soft])) best_soft = i;
        }
        sb_printf(b, "<p>%d epoch%s", n, n == 1 ? "" : "s");
        if (best >= 0) sb_printf(b, "; best validation DSC %.4f at epoch %g", v[DSC][best], v[EPOCH][best]);
        if (best_soft >= 0) sb_printf(b, "; best validation soft DSC %.4f at epoch %g", v[SOFT][best_soft], v[EPOCH][best_soft]);
        ftn_buf_puts(b, ".</p>\n<div class=\"charts\">\n");
        series loss[2] = { { "train loss", "#2563eb", v[EPOCH], v[TRAIN], n, 0, NULL },
                           { "validation loss", "#dc2626", v[EPOCH], v[VAL], n, 1, NULL } };
        svg_chart(b, "Loss", "epoch", "loss", loss, col[VAL] >= 0 ? 2 : 1, NAN, NAN, NAN, NAN, 1);
        if (col[DSC] >= 0) {
            series dsc[2] = { { "validation DSC", "#059669", v[EPOCH], v[DSC], n, 0, NULL },
                              { "validation soft DSC", "#7c3aed", v[EPOCH], v[SOFT], n, 1, NULL } };
            svg_chart(b, "Validation DSC", "epoch", "DSC", dsc, col[SOFT] >= 0 ? 2 : 1, NAN, NAN, NAN, NAN, 1);
        } else {
            note(b, "%s has no val_dsc column.", path);
        }
        /* the schedule (the rate of each epoch's first update) and the time per epoch */
        if (col[LR] >= 0) {
            /* from zero: the paper's inverse-time decay moves it by a fraction of a percent */
            char name[96];
            snprintf(name, sizeof name, "%.6g to %.6g", v[LR][0], v[LR][n - 1]);
            series lr[1] = { { name, "#d97706", v[EPOCH], v[LR], n, 0, NULL } };
            svg_chart(b, "Learning rate", "epoch", "learning rate", lr, 1, NAN, NAN, 0, NAN, 1);
        }
        if (col[SECONDS] >= 0) {
            double total = 0;
            for (int i = 0; i < n; i++)
                if (isfinite(v[SECONDS][i])) total += v[SECONDS][i];
            char name[64];
            snprintf(name, sizeof name, "%.0f s in all", total);
            series sec[1] = { { name, "#0891b2", v[EPOCH], v[SECONDS], n, 0, NULL } };
            svg_chart(b, "Seconds per epoch", "epoch", "seconds", sec, 1, NAN, NAN, 0, NAN, 1);
        }
        ftn_buf_puts(b, "</div>\n");
    }
    for (int k = 0; k < NCOL; k++) free(v[k]);
    free(data);
    ftn_buf_puts(b, "</section>\n");
}

/* ---- test-set predictions: PR curve and best / worst overlays ---------------------------------- */

#define N_THR 19
#define N_SHOW 3

typedef struct pr_ctx {
    float threshold;
    double p[N_THR], r[N_THR], d[N_THR];
    double *dsc; /* per image, at the run's threshold */
    ftn_metrics *m;
} pr_ctx;

static float thr_k(int k) { return 0.05f * (float)(k + 1); }

static ftn_status pr_one(void *user, int k, int sample, const ftn_image *image, const ftn_image *mask, const float *prob)
{
    (void)sample;
    pr_ctx *c = user;
    size_t np = (size_t)image->width * image->height;
    if (mask->width != image->width || mask->height != image->height)
        return ftn_fail(FTN_EFORMAT, "report: mask and image sizes differ for test image %d", k);
    for (int t = 0; t < N_THR; t++) {
        ftn_metrics m = ftn_metrics_compute(prob, mask->data, np, thr_k(t));
        c->p[t] += m.precision, c->r[t] += m.recall, c->d[t] += m.dsc;
    }
    c->m[k] = ftn_metrics_compute(prob, mask->data, np, c->threshold);
    c->dsc[k] = c->m[k].dsc;
    return FTN_OK;
}

typedef struct ov_ctx {
    float threshold;
    ftn_buf *b;
    const ftn_dataset *ds;
    const ftn_metrics *m; /* per selected case */
    const char *const *label;
} ov_ctx;

static ftn_status ov_one(void *user, int k, int sample, const ftn_image *image, const ftn_image *mask, const float *prob)
{
    ov_ctx *c = user;
    size_t np = (size_t)image->width * image->height;
    uint8_t *rgb = malloc(np * 3), *png = NULL;
    size_t size = 0;
    if (!rgb) return ftn_fail(FTN_ENOMEM, "report: out of memory");
    ftn_overlay_rgb(image, prob, c->threshold, mask->data, rgb);
    ftn_status st = ftn_png_encode(image->width, image->height, 3, rgb, &png, &size);
    free(rgb);
    if (st != FTN_OK) return st;
    char *b64 = ftn_base64_encode(png, size);
    free(png);
    if (!b64) return ftn_fail(FTN_ENOMEM, "report: out of memory");
    if (k == 0 || strcmp(c->label[k], c->label[k - 1])) {
        if (k) ftn_buf_puts(c->b, "</div>\n");
        ftn_buf_puts(c->b, "<h3>");
        sb_esc(c->b, c->label[k]);
        ftn_buf_puts(c->b, "</h3>\n<div class=\"cases\">\n");
    }
    sb_printf(c->b, "<figure><img alt=\"overlay\" width=\"%d\" height=\"%d\" src=\"data:image/png;base64,", image->width,
              image->height);
    ftn_buf_puts(c->b, b64);
    free(b64);
    ftn_buf_puts(c->b, "\"><figcaption><b>");
    sb_esc(c->b, c->ds->samples[sample].id);
    if (c->m[k].gt_empty) /* DSC, precision and recall say little of an empty ground truth */
        sb_printf(c->b, "</b> %dx%d<br>empty ground truth · %lld pixel%s predicted</figcaption></figure>\n", image->width,
                  image->height, (long long)c->m[k].fp, c->m[k].fp == 1 ? "" : "s");
    else
        sb_printf(c->b, "</b> %dx%d<br>DSC %.3f · precision %.3f · recall %.3f</figcaption></figure>\n", image->width,
                  image->height, c->m[k].dsc, c->m[k].precision, c->m[k].recall);
    return FTN_OK;
}

/* The precision–recall section into b, the best and worst cases' into *cases (the caller places
 * them: the overlays come first in the page). */
static void section_predictions(ftn_buf *b, ftn_buf *cases_out, const char *run_dir, const cJSON *config, ftn_engine engine)
{
    ftn_buf_puts(b, "<section><h2>Precision–recall on the test set</h2>\n");
    ftn_buf cases = { 0 };
    ftn_buf_puts(&cases, "<section><h2>Best and worst test cases</h2>\n");
    char ckpt[FTN_PATH_MAX] = "";
    struct stat st;
    ftn_model *m = NULL;
    ftn_dataset ds;
    int have_ds = 0, *idx = NULL, n = 0;
    pr_ctx pc;
    memset(&pc, 0, sizeof pc);
    ftn_precision prec = FTN_PRECISION_FP32;
    char why[1200] = "";
    if (ftn_run_path(run_dir, FTN_RUN_BEST, ckpt, sizeof ckpt) == FTN_OK && stat(ckpt, &st) != 0)
        (void)ftn_run_path(run_dir, FTN_RUN_LAST, ckpt, sizeof ckpt); /* too long: "no checkpoint" below */
    if (!config) {
        snprintf(why, sizeof why, "no config.json, so no data set or test split");
    } else if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(config, "test")) ||
               cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(config, "test")) == 0) {
        snprintf(why, sizeof why, "config.json lists no test samples");
    } else if (stat(ckpt, &st) != 0) {
        snprintf(why, sizeof why, "no checkpoint (best.safetensors or last.safetensors) in %s", run_dir);
    } else if (ftn_model_load(ckpt, &m) != FTN_OK) {
        snprintf(why, sizeof why, "%s", ftn_last_error());
    } else if (ftn_run_dataset_open(run_dir, config, &ds) != FTN_OK) {
        snprintf(why, sizeof why, "%s", ftn_last_error());
    } else if ((have_ds = 1, ftn_run_split_indices(config, "test", &ds, &idx, &n)) != FTN_OK) {
        snprintf(why, sizeof why, "%s", ftn_last_error());
    }
    if (!why[0]) {
        ftn_resize_mode mode = FTN_RESIZE_NEAREST;
        const char *rs = ftn_run_config_str(config, "resize", "nearest");
        if (ftn_resize_parse(rs, &mode) != FTN_OK) mode = FTN_RESIZE_NEAREST;
        int batch = (int)ftn_run_config_num(config, "batch", 8);
        /* the run's precision where this machine has it (the report of a bf16 run stays
         * readable on a machine without AVX512-BF16) */
        if (ftn_precision_parse(ftn_run_config_str(config, "precision", "fp32"), &prec) != FTN_OK ||
            ftn_precision_check(engine, prec) != FTN_OK)
            prec = FTN_PRECISION_FP32;
        if (batch < 1 || batch > 64) batch = 8;
        pc.threshold = (float)ftn_run_config_num(config, "threshold", FTN_METRIC_THRESHOLD);
        pc.dsc = malloc(sizeof(double) * (size_t)n);
        pc.m = malloc(sizeof(ftn_metrics) * (size_t)n);
        if (!pc.dsc || !pc.m) snprintf(why, sizeof why, "out of memory");
        else if (ftn_evaluate_each(m, &ds, idx, n, mode, engine, prec, batch, pr_one, &pc) != FTN_OK)
            snprintf(why, sizeof why, "%s", ftn_last_error());
        if (!why[0]) {
            double x[N_THR], y[N_THR], t[N_THR], d[N_THR];
            char tipbuf[N_THR][96];
            const char *tips[N_THR];
            for (int k = 0; k < N_THR; k++) {
                x[k] = pc.r[k] / n, y[k] = pc.p[k] / n, d[k] = pc.d[k] / n, t[k] = thr_k(k);
                snprintf(tipbuf[k], sizeof tipbuf[k], "threshold %.2f: precision %.3f, recall %.3f, DSC %.3f", t[k], y[k],
                         x[k], d[k]);
                tips[k] = tipbuf[k];
            }
            sb_printf(b, "<p>Predictions of <code>");
            sb_esc(b, strrchr(ckpt, '/') + 1);
            sb_printf(b, "</code> on the %d test images at their original resolution; per-image precision and recall "
                         "(smooth 1) averaged over images, at thresholds 0.05, 0.10, …, 0.95.</p>\n<div class=\"charts\">\n",
                      n);
            series pr[1] = { { "thresholds 0.05…0.95", "#7c3aed", x, y, N_THR, 0, tips } };
            svg_chart(b, "Precision–recall", "recall", "precision", pr, 1, 0, 1, 0, 1, 0);
            series ds_[1] = { { "mean DSC", "#059669", t, d, N_THR, 0, tips } };
            svg_chart(b, "DSC against threshold", "threshold", "DSC", ds_, 1, 0, 1, 0, 1, 0);
            ftn_buf_puts(b, "</div>\n");

            /* best and worst by DSC at the run's threshold, among the images with a lesion (an
             * empty prediction of an empty mask scores 1 and would crowd out the best); the
             * empty ground truths apart, their largest false positives: a second pass over at
             * most 9 images */
            int *order = malloc(sizeof(int) * (size_t)n);
            int sel[3 * N_SHOW];
            ftn_metrics selm[3 * N_SHOW];
            const char *lab[3 * N_SHOW];
            int ns = 0, nl = 0, ne = 0, ne_fp = 0;
            if (order) {
                for (int i = 0; i < n; i++)
                    if (!pc.m[i].gt_empty) order[nl++] = i;
                for (int i = 1; i < nl; i++) /* insertion sort, DSC descending, stable */
                    for (int j = i; j > 0 && pc.dsc[order[j]] > pc.dsc[order[j - 1]]; j--) {
                        int tmp = order[j];
                        order[j] = order[j - 1], order[j - 1] = tmp;
                    }
                /* fewer than 2·N_SHOW cases: split them, best half first */
                int nb = (nl + 1) / 2 < N_SHOW ? (nl + 1) / 2 : N_SHOW, nw = nl - nb < N_SHOW ? nl - nb : N_SHOW;
                for (int i = 0; i < nb; i++)
                    sel[ns] = idx[order[i]], selm[ns] = pc.m[order[i]], lab[ns++] = "Best (highest DSC) of the lesion images";
                for (int i = 0; i < nw; i++)
                    sel[ns] = idx[order[nl - 1 - i]], selm[ns] = pc.m[order[nl - 1 - i]],
                    lab[ns++] = "Worst (lowest DSC) of the lesion images";
                /* the empty ground truths with a false positive, most false-positive pixels first */
                for (int i = 0; i < n; i++) {
                    if (!pc.m[i].gt_empty) continue;
                    ne++;
                    if (pc.m[i].fp > 0) order[ne_fp++] = i;
                }
                for (int i = 1; i < ne_fp; i++)
                    for (int j = i; j > 0 && pc.m[order[j]].fp > pc.m[order[j - 1]].fp; j--) {
                        int tmp = order[j];
                        order[j] = order[j - 1], order[j - 1] = tmp;
                    }
                for (int i = 0; i < ne_fp && i < N_SHOW; i++)
                    sel[ns] = idx[order[i]], selm[ns] = pc.m[order[i]],
                    lab[ns++] = "Empty ground truth: the largest false positives";
                free(order);
            }
            sb_printf(&cases,
                      "<p class=\"legend\" id=\"overlay-legend\">Threshold %g. "
                      "<span class=\"sw\" style=\"background:rgb(%d,%d,%d);border:3px solid rgb(%d,%d,%d)\"></span>"
                      "prediction: a light tint, outlined just inside its edge "
                      "<span class=\"sw\" style=\"border:3px solid rgb(%d,%d,%d)\"></span>ground truth: outlined just "
                      "outside its edge (where they agree, the two outlines run side by side).</p>\n",
                      (double)pc.threshold, (int)lrintf(255 * (1 - FTN_OVERLAY_TINT) + FTN_OVERLAY_TINT * FTN_OVERLAY_PRED_R),
                      (int)lrintf(255 * (1 - FTN_OVERLAY_TINT) + FTN_OVERLAY_TINT * FTN_OVERLAY_PRED_G),
                      (int)lrintf(255 * (1 - FTN_OVERLAY_TINT) + FTN_OVERLAY_TINT * FTN_OVERLAY_PRED_B), FTN_OVERLAY_PRED_R,
                      FTN_OVERLAY_PRED_G, FTN_OVERLAY_PRED_B, FTN_OVERLAY_GT_R, FTN_OVERLAY_GT_G, FTN_OVERLAY_GT_B);
            if (ne)
                sb_printf(&cases,
                          "<p>Empty ground truth: %d of the %d test images; they are not "
                          "among the best and worst below (an empty prediction of an empty mask scores DSC 1). "
                          "False-positive rate %.4f: %d of them with any pixel predicted%s.</p>\n",
                          ne, n, (double)ne_fp / ne, ne_fp, ne_fp ? ", the largest shown below" : "");
            ov_ctx oc = { pc.threshold, &cases, &ds, selm, lab };
            if (ns == 0) note(&cases, "No cases to show%s.", "");
            else if (ftn_evaluate_each(m, &ds, sel, ns, mode, engine, prec, ns, ov_one, &oc) != FTN_OK)
                note(&cases, "Overlays failed: %s", ftn_last_error());
            else ftn_buf_puts(&cases, "</div>\n");
        }
    }
    if (why[0]) {
        note(b, "No precision–recall curve: %s.", why);
        note(&cases, "No overlays: %s.", why);
    }
    ftn_buf_puts(b, "</section>\n");
    ftn_buf_puts(&cases, "</section>\n");
    *cases_out = cases;
    free(pc.dsc);
    free(pc.m);
    free(idx);
    if (have_ds) ftn_dataset_free(&ds);
    ftn_model_free(m);
}

/* ---- per-image table and DSC histogram (RUN/test/metrics.csv) ---------------------------------- */

/* Splits one CSV line in place into at most max fields (quotes: "" inside is a quote); returns
 * the count. */
static int csv_split(char *line, char **fields, int max)
{
    int n = 0;
    char *r = line, *w;
    while (n < max) {
        fields[n++] = w = r;
        if (*r == '"') {
            for (r++; *r; r++) {
                if (*r == '"' && r[1] == '"') *w++ = '"', r++;
                else if (*r == '"') { r++; break; }
                else *w++ = *r;
            }
        }
        while (*r && *r != ',') *w++ = *r++;
        int more = *r == ',';
        *w = 0;
        if (!more) break;
        r++;
    }
    return n;
}

#define N_BINS 20

static void svg_histogram(ftn_buf *b, const int *lesion, const int *empty, int any_empty)
{
    int top = 1;
    for (int k = 0; k < N_BINS; k++)
        if (lesion[k] + empty[k] > top) top = lesion[k] + empty[k];
    double ys = nice_step(top);
    if (ys < 1) ys = 1;
    double y1 = ceil(top / ys) * ys;
    const double pw = CW - ML - MR, ph = CH - MT - MB, bw = pw / N_BINS;
    sb_printf(b, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                 "aria-label=\"DSC histogram\" id=\"dsc-histogram\">\n<text x=\"12\" y=\"20\" class=\"ct\">DSC histogram"
                 "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%g\" height=\"%g\" class=\"plot\"/>\n",
              CW, CH, CW, CH, ML, MT, pw, ph);
    for (double v = 0; v <= y1 + 1e-9; v += ys) {
        double py = MT + (1 - v / y1) * ph;
        sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", ML, py, ML + pw, py);
        sb_printf(b, "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%g</text>\n", ML - 6, py + 4, v);
    }
    for (int k = 0; k <= 10; k += 2) {
        double px = ML + k / 10.0 * pw;
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%g</text>\n", px, MT + ph + 16,
                  k / 10.0);
    }
    for (int k = 0; k < N_BINS; k++) {
        double x = ML + k * bw + 1, hl = lesion[k] / y1 * ph, he = empty[k] / y1 * ph;
        if (lesion[k])
            sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#2563eb\"><title>DSC %.2f–%.2f: "
                         "%d lesion image%s</title></rect>\n",
                      x, MT + ph - hl, bw - 2, hl, k * 0.05, (k + 1) * 0.05, lesion[k], lesion[k] == 1 ? "" : "s");
        if (empty[k])
            sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#9ca3af\"><title>DSC %.2f–%.2f: "
                         "%d empty ground truth%s</title></rect>\n",
                      x, MT + ph - hl - he, bw - 2, he, k * 0.05, (k + 1) * 0.05, empty[k], empty[k] == 1 ? "" : "s");
    }
    sb_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"axis\" text-anchor=\"middle\">DSC (bins of 0.05)</text>\n"
                 "<text transform=\"translate(16 %.1f) rotate(-90)\" class=\"axis\" text-anchor=\"middle\">images</text>\n",
              ML + pw / 2, CH - 12, MT + ph / 2);
    double lx = ML + 12;
    sb_printf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#2563eb\"/><text x=\"%.1f\" y=\"%d\" "
                 "class=\"legend\">lesion images</text>\n",
              lx, MT + 8, lx + 18, MT + 18);
    if (any_empty)
        sb_printf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#9ca3af\"/><text x=\"%.1f\" y=\"%d\" "
                     "class=\"legend\">empty ground truth</text>\n",
                  lx, MT + 26, lx + 18, MT + 36);
    ftn_buf_puts(b, "</svg>\n");
}

static void section_images(ftn_buf *b, const char *run_dir)
{
    char path[FTN_PATH_MAX];
    size_t size;
    uint8_t *data = open_section(b, "Test images", run_dir, FTN_RUN_TEST_METRICS, 64u << 20,
                                 "No per-image test metrics yet (%s).", path, &size);
    if (!data) return;
    enum { MAXF = 16 };
    char *save = NULL, *line = strtok_r((char *)data, "\r\n", &save), *f[MAXF];
    int nh = line ? csv_split(line, f, MAXF) : 0, dsc_col = -1, empty_col = -1, numeric[MAXF];
    char *head[MAXF];
    for (int c = 0; c < nh; c++) {
        head[c] = f[c];
        numeric[c] = strcmp(f[c], "id") && strcmp(f[c], "label");
        if (!strcmp(f[c], "dsc")) dsc_col = c;
        if (!strcmp(f[c], "gt_empty")) empty_col = c;
    }
    if (dsc_col < 0) {
        note(b, "%s has no dsc column.", path);
        ftn_buf_puts(b, "</section>\n");
        free(data);
        return;
    }
    int lesion[N_BINS] = { 0 }, empty[N_BINS] = { 0 }, n = 0, any_empty = 0;
    ftn_buf rows = { 0 };
    for (line = strtok_r(NULL, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        if (!*line) continue;
        int nf = csv_split(line, f, MAXF);
        ftn_buf_puts(&rows, "<tr>");
        for (int c = 0; c < nh; c++) {
            const char *v = c < nf ? f[c] : "";
            char *end;
            double x = strtod(v, &end);
            int is_num = numeric[c] && end != v && !*end;
            if (!numeric[c]) {
                ftn_buf_puts(&rows, "<td>");
                sb_esc(&rows, v);
            } else if (!is_num || isnan(x)) { /* undefined (a mask empty): sorted last */
                ftn_buf_puts(&rows, "<td class=\"num\" data-v=\"\">—");
            } else {
                sb_printf(&rows, "<td class=\"num\" data-v=\"%.9g\">", x);
                if (c == empty_col) ftn_buf_puts(&rows, x != 0 ? "yes" : "no");
                else sb_printf(&rows, c == dsc_col || x < 10 ? "%.4f" : "%.2f", x);
            }
            ftn_buf_puts(&rows, "</td>");
        }
        ftn_buf_puts(&rows, "</tr>\n");
        double d = dsc_col < nf ? strtod(f[dsc_col], NULL) : NAN;
        int e = empty_col >= 0 && empty_col < nf && atoi(f[empty_col]) != 0;
        any_empty |= e;
        if (isfinite(d)) {
            int k = (int)(d / 0.05);
            k = k < 0 ? 0 : k >= N_BINS ? N_BINS - 1 : k;
            (e ? empty : lesion)[k]++;
        }
        n++;
    }
    sb_printf(b, "<p>%d test image%s at the run's threshold (<code>test/metrics.csv</code>). With JavaScript, click "
                 "a column heading to sort by it (again: the other way); undefined values (—) stay last.</p>\n",
              n, n == 1 ? "" : "s");
    ftn_buf_puts(b, "<div class=\"charts\">\n");
    svg_histogram(b, lesion, empty, any_empty);
    ftn_buf_puts(b, "</div>\n<div class=\"scroll\"><table class=\"metrics sortable\" id=\"per-image\"><thead><tr>");
    for (int c = 0; c < nh; c++) {
        ftn_buf_puts(b, "<th data-col=\"");
        sb_esc(b, head[c]);
        ftn_buf_puts(b, "\">");
        sb_esc(b, !strcmp(head[c], "hd95") ? "HD95 (px)" : !strcmp(head[c], "asd") ? "ASD (px)" : head[c]);
        ftn_buf_puts(b, "</th>");
    }
    ftn_buf_puts(b, "</tr></thead><tbody>\n");
    if (rows.oom) b->oom = 1;
    else ftn_buf_add(b, rows.s, rows.len);
    ftn_buf_free(&rows);
    ftn_buf_puts(b, "</tbody></table></div>\n</section>\n");
    free(data);
}

/* Click a heading: rows by that column, numbers as numbers, empty data-v (undefined) last. A link
 * to report.html#sort=COLUMN (or #sort=-COLUMN, descending) opens it sorted. */
static const char *sort_script =
    "<script>\n"
    "document.querySelectorAll('table.sortable').forEach(function (t) {\n"
    "  Array.prototype.forEach.call(t.tHead.rows[0].cells, function (th, i) {\n"
    "    th.tabIndex = 0; th.title = 'sort';\n"
    "    var go = function () {\n"
    "      var asc = th.getAttribute('aria-sort') !== 'ascending';\n"
    "      Array.prototype.forEach.call(t.tHead.rows[0].cells, function (c) { c.removeAttribute('aria-sort'); });\n"
    "      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');\n"
    "      var body = t.tBodies[0], rows = Array.prototype.slice.call(body.rows);\n"
    "      var key = function (r) { var c = r.cells[i]; return c.hasAttribute('data-v') ? c.getAttribute('data-v') : c.textContent; };\n"
    "      rows.sort(function (x, y) {\n"
    "        var a = key(x), b = key(y), na = parseFloat(a), nb = parseFloat(b), d;\n"
    "        if (a === '' || b === '') return (a === '') - (b === '');\n"
    "        d = !isNaN(na) && !isNaN(nb) ? na - nb : a.localeCompare(b);\n"
    "        return asc ? d : -d;\n"
    "      });\n"
    "      rows.forEach(function (r) { body.appendChild(r); });\n"
    "    };\n"
    "    th.addEventListener('click', go);\n"
    "    th.addEventListener('keydown', function (e) { if (e.key === 'Enter') go(); });\n"
    "    var m = /^#sort=(-?)(.+)$/.exec(location.hash);\n"
    "    if (m && th.getAttribute('data-col') === m[2]) { go(); if (m[1]) go(); }\n"
    "  });\n"
    "});\n"
    "</script>\n";

/* ---- the split and the provenance -------------------------------------------------------------- */

static void section_split(ftn_buf *b, const cJSON *config)
{
    ftn_buf_puts(b, "<section><h2>Split</h2>\n");
    static const char *const parts[4] = { "train", "val", "test", "excluded" };
    int any = 0;
    for (int k = 0; config && k < 4; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(config, parts[k]);
        if (!cJSON_IsArray(a)) continue;
        int n = cJSON_GetArraySize(a);
        any = 1;
        sb_printf(b, "<details id=\"split-%s\"><summary><b>%s</b>: %d id%s</summary>\n<p class=\"ids\">", parts[k],
                  k == 3 ? "excluded (empty masks)" : parts[k], n, n == 1 ? "" : "s");
        const cJSON *e;
        int i = 0;
        cJSON_ArrayForEach(e, a)
        {
            if (i++) ftn_buf_puts(b, " ");
            sb_esc(b, cJSON_IsString(e) ? e->valuestring : "?");
        }
        ftn_buf_puts(b, "</p></details>\n");
    }
    if (!any) note(b, "No split: %s", config ? "config.json lists no ids." : "no config.json.");
    ftn_buf_puts(b, "</section>\n");
}

static const char *const prov_keys[][2] = {
    { "started", "started (UTC)" }, { "from_epoch", "from epoch" },  { "commit", "commit" },
    { "ftunet", "ftunet" },         { "cpu", "CPU" },               { "cpus_online", "CPUs online" },
    { "threads", "threads used" },  { "engine", "engine" },         { "onednn", "oneDNN" },
    { "onednn_isa", "oneDNN ISA" }, { "precision", "precision" },   { "os", "OS" },
};
#define N_PROV (int)(sizeof prov_keys / sizeof prov_keys[0])

static void prov_value(ftn_buf *b, const cJSON *s, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, key);
    if (cJSON_IsString(v)) sb_esc(b, v->valuestring);
    else if (cJSON_IsNumber(v)) sb_printf(b, "%g", v->valuedouble);
    else ftn_buf_puts(b, "—");
}

/* The header line's commit and machine: those the run started with. */
static void provenance_line(ftn_buf *b, const cJSON *sessions)
{
    const cJSON *s0 = cJSON_GetArrayItem(sessions, 0);
    if (!s0) return;
    /* each value of the first session, then the text that follows it */
    static const struct { const char *key, *after; } parts[] = {
        { "commit", "</code> · " }, { "cpu", ", " },         { "threads", " threads of " }, { "cpus_online", " · " },
        { "engine", " (oneDNN ISA " }, { "onednn_isa", ") · " }, { "precision", "" },
    };
    ftn_buf_puts(b, "<p class=\"sub\" id=\"provenance-line\">commit <code>");
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        prov_value(b, s0, parts[k].key);
        ftn_buf_puts(b, parts[k].after);
    }
    int n = cJSON_GetArraySize(sessions);
    if (n > 1) sb_printf(b, " · resumed %d time%s", n - 1, n == 2 ? "" : "s");
    ftn_buf_puts(b, "</p>\n");
}

static void section_provenance(ftn_buf *b, const cJSON *sessions, const char *err)
{
    ftn_buf_puts(b, "<section><h2>Provenance</h2>\n");
    if (!sessions) {
        note(b, "No provenance.json (%s): a run from before ftunet recorded it.", err);
    } else {
        ftn_buf_puts(b, "<p>Each session of the run (the start, then every resume) as it began "
                        "(<code>provenance.json</code>).</p>\n<div class=\"scroll\"><table class=\"kv\" id=\"provenance\">"
                        "<tbody>\n");
        for (int k = 0; k < N_PROV; k++) {
            sb_printf(b, "<tr><th>%s</th>", prov_keys[k][1]);
            const cJSON *s;
            cJSON_ArrayForEach(s, sessions)
            {
                ftn_buf_puts(b, "<td>");
                prov_value(b, s, prov_keys[k][0]);
                ftn_buf_puts(b, "</td>");
            }
            ftn_buf_puts(b, "</tr>\n");
        }
        ftn_buf_puts(b, "</tbody></table></div>\n");
    }
    ftn_buf_puts(b, "</section>\n");
}

static const char *style =
    "<style>\n"
    ":root{color-scheme:light}\n"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:#1f2937;"
    "background:#f8fafc;margin:0;line-height:1.45}\n"
    "main{max-width:1160px;margin:0 auto;padding:24px 28px 48px}\n"
    "h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.2rem;margin:0 0 12px;border-bottom:1px solid #e5e7eb;"
    "padding-bottom:6px}h3{font-size:1rem;margin:16px 0 8px;color:#374151}\n"
    ".sub{color:#6b7280;margin:0 0 20px}\n"
    "section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px 20px;margin:0 0 18px}\n"
    "table{border-collapse:collapse;font-size:.92rem}th,td{padding:5px 12px;border-bottom:1px solid #eef0f3;"
    "text-align:left;vertical-align:top}\n"
    "table.kv th{color:#4b5563;font-weight:600;white-space:nowrap}"
    "table.kv td{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}\n"
    "table.metrics td{font-variant-numeric:tabular-nums;text-align:right}"
    "table.metrics thead th{background:#f3f4f6}\n"
    ".note{color:#92400e;background:#fffbeb;border:1px solid #fde68a;border-radius:6px;padding:8px 12px}\n"
    ".charts{display:flex;flex-wrap:wrap;gap:16px}\n"
    "svg.chart{background:#fff;max-width:100%;height:auto}"
    "svg .plot{fill:#fcfcfd;stroke:#d1d5db}svg .grid{stroke:#eceef1}"
    "svg text{font-family:inherit;fill:#4b5563}svg .tick{font-size:11px}svg .axis{font-size:12px}"
    "svg .legend{font-size:12px}svg .ct{font-size:14px;font-weight:600;fill:#1f2937}\n"
    ".cases{display:flex;flex-wrap:wrap;gap:14px}figure{margin:0;width:320px}"
    "figure img{width:320px;height:auto;image-rendering:pixelated;border:1px solid #d1d5db;border-radius:4px;"
    "display:block}\n"
    "table.sortable thead th{cursor:pointer;user-select:none;white-space:nowrap}"
    "th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".scroll{max-height:640px;overflow:auto;border:1px solid #eef0f3;margin-top:12px}"
    ".scroll thead th{position:sticky;top:0}\n"
    "details{margin:6px 0}summary{cursor:pointer}.ids{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;"
    "font-size:.85rem;word-break:break-word;margin:6px 0 0 16px}\n"
    "figcaption{font-size:.82rem;color:#4b5563;margin-top:4px}\n"
    ".sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin:0 4px 0 10px}"
    ".legend .sw{width:10px;height:10px}\n"
    "code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}\n"
    "</style>\n";

ftn_status ftn_report_write(const char *run_dir, ftn_engine engine)
{
    if (!run_dir || !*run_dir) return ftn_fail(FTN_EINVAL, "report: no run folder");
    struct stat st;
    if (stat(run_dir, &st) != 0 || !S_ISDIR(st.st_mode)) return ftn_fail(FTN_EIO, "%s: not a run folder", run_dir);
    cJSON *config = NULL;
    char cerr[1100] = "";
    if (ftn_run_config_read(run_dir, &config) != FTN_OK) snprintf(cerr, sizeof cerr, "%s", ftn_last_error());
    ftn_buf b = { 0 };
    ftn_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>ftunet report: ");
    sb_esc(&b, run_dir);
    ftn_buf_puts(&b, "</title>\n");
    ftn_buf_puts(&b, style);
    ftn_buf_puts(&b, "</head><body><main>\n<h1>Training run report</h1>\n<p class=\"sub\"><code>");
    sb_esc(&b, run_dir);
    ftn_buf_puts(&b, "</code>");
    if (config) {
        ftn_buf_puts(&b, " · ");
        sb_esc(&b, ftn_run_config_str(config, "model", "?"));
        ftn_buf_puts(&b, " · loss ");
        sb_esc(&b, ftn_run_config_str(config, "loss", "?"));
        ftn_buf_puts(&b, " · data <code>");
        sb_esc(&b, ftn_run_config_str(config, "data", "?"));
        ftn_buf_puts(&b, "</code>");
    }
    ftn_buf_puts(&b, "</p>\n");
    /* RUN/provenance.json: the commit and machine of each session */
    char ppath[FTN_PATH_MAX + 32], perr[FTN_PATH_MAX + 64] = "";
    cJSON *prov = NULL;
    const cJSON *sessions = NULL;
    snprintf(ppath, sizeof ppath, "%s/%s", run_dir, FTN_RUN_PROVENANCE);
    if (ftn_json_read(ppath, 4u << 20, &prov) != FTN_OK) snprintf(perr, sizeof perr, "%s", ftn_last_error());
    else if (!cJSON_IsArray(sessions = cJSON_GetObjectItemCaseSensitive(prov, "sessions")))
        snprintf(perr, sizeof perr, "%s has no \"sessions\" list", ppath), sessions = NULL;
    if (sessions) provenance_line(&b, sessions);
    ftn_buf pr = { 0 }, cases = { 0 };
    section_predictions(&pr, &cases, run_dir, config, engine);
    section_metrics(&b, run_dir);
    if (cases.s) ftn_buf_add(&b, cases.s, cases.len);
    section_images(&b, run_dir);
    section_curves(&b, run_dir);
    if (pr.s) ftn_buf_add(&b, pr.s, pr.len);
    if (pr.oom || cases.oom) b.oom = 1;
    ftn_buf_free(&pr);
    ftn_buf_free(&cases);
    section_split(&b, config);
    section_provenance(&b, sessions, perr);
    section_config(&b, run_dir, config, cerr);
    ftn_buf_puts(&b, "<p class=\"sub\">Written by ftunet " FTUNET_VERSION_STRING " (commit ");
    sb_esc(&b, ftn_build_commit());
    ftn_buf_puts(&b, ", engine ");
    sb_esc(&b, ftn_engine_name(engine));
    ftn_buf_puts(&b, ").</p>\n");
    ftn_buf_puts(&b, sort_script);
    ftn_buf_puts(&b, "</main></body></html>\n");
    cJSON_Delete(prov);
    cJSON_Delete(config);
    if (b.oom) {
        free(b.s);
        return ftn_fail(FTN_ENOMEM, "%s/report.html: out of memory", run_dir);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/report.html", run_dir);
    const void *chunks[1] = { b.s };
    size_t sizes[1] = { b.len };
    ftn_status s = ftn_write_file_atomic(path, chunks, sizes, 1);
    free(b.s);
    return s;
}
