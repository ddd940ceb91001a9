#include "metrics/metrics.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "data/resize.h"

ftn_metrics ftn_metrics_compute(const float *prob, const float *gt, size_t n, float threshold)
{
    ftn_metrics m;
    memset(&m, 0, sizeof m);
    for (size_t i = 0; i < n; i++) {
        int p = prob[i] > threshold, g = gt[i] > 0.5f;
        m.tp += p && g;
        m.fp += p && !g;
        m.fn += !p && g;
        m.tn += !p && !g;
    }
    double tp = (double)m.tp, fp = (double)m.fp, fn = (double)m.fn;
    m.dsc = (2 * tp + 1) / ((tp + fp) + (tp + fn) + 1);
    m.precision = (tp + 1) / (tp + fp + 1);
    m.recall = (tp + 1) / (tp + fn + 1);
    m.iou = (tp + 1) / (tp + fp + fn + 1);
    m.gt_empty = m.tp + m.fn == 0;
    m.hd95 = m.asd = NAN; /* ftn_metrics_surface's */
    return m;
}

double ftn_soft_dsc(const float *prob, const float *gt, size_t n)
{
    double pg = 0, sp = 0, sg = 0;
    for (size_t i = 0; i < n; i++) {
        pg += (double)prob[i] * gt[i];
        sp += prob[i];
        sg += gt[i];
    }
    return (2 * pg + 1) / (sp + sg + 1);
}

void ftn_mean_std(const double *x, int n, double *mean, double *std)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += x[i];
    double mu = n > 0 ? s / n : 0;
    for (int i = 0; i < n; i++) q += (x[i] - mu) * (x[i] - mu);
    if (mean) *mean = mu;
    if (std) *std = n > 0 ? sqrt(q / n) : 0;
}

/* Mean and population std over all n images (lesion_only 0) or over those whose ground truth has
 * a lesion pixel (lesion_only 1); *count (optional) gets how many were averaged. HD95 and ASD are
 * averaged over the images where they are defined (not NaN): NaN when none is. */
static void mean_std_of(const ftn_metrics *m, int n, int lesion_only, ftn_metrics *mean, ftn_metrics *std, int *count)
{
    enum { NM = 6 };
    ftn_metrics a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    double s[NM] = {0}, q[NM] = {0};
    int c = 0, cs[NM] = {0};
    for (int i = 0; i < n; i++) {
        if (lesion_only && m[i].gt_empty) continue;
        const double v[NM] = {m[i].dsc, m[i].precision, m[i].recall, m[i].iou, m[i].hd95, m[i].asd};
        for (int k = 0; k < NM; k++)
            if (!isnan(v[k])) s[k] += v[k], cs[k]++;
        a.tp += m[i].tp;
        a.fp += m[i].fp;
        a.fn += m[i].fn;
        a.tn += m[i].tn;
        a.gt_empty += m[i].gt_empty != 0;
        c++;
    }
    for (int k = 0; k < NM; k++) s[k] = cs[k] > 0 ? s[k] / cs[k] : k >= 4 ? NAN : 0;
    for (int i = 0; i < n; i++) {
        if (lesion_only && m[i].gt_empty) continue;
        const double v[NM] = {m[i].dsc, m[i].precision, m[i].recall, m[i].iou, m[i].hd95, m[i].asd};
        for (int k = 0; k < NM; k++)
            if (!isnan(v[k])) q[k] += (v[k] - s[k]) * (v[k] - s[k]);
    }
    for (int k = 0; k < NM; k++) q[k] = cs[k] > 0 ? sqrt(q[k] / cs[k]) : k >= 4 ? NAN : 0;
    a.dsc = s[0], a.precision = s[1], a.recall = s[2], a.iou = s[3], a.hd95 = s[4], a.asd = s[5];
    b.dsc = q[0], b.precision = q[1], b.recall = q[2], b.iou = q[3], b.hd95 = q[4], b.asd = q[5];
    if (mean) *mean = a;
    if (std) *std = b;
    if (count) *count = c;
}

void ftn_metrics_mean_std(const ftn_metrics *m, int n, ftn_metrics *mean, ftn_metrics *std)
{
    mean_std_of(m, n, 0, mean, std, NULL);
}

void ftn_metrics_groups_compute(const ftn_metrics *m, int n, ftn_metrics_groups *out)
{
    if (!out) return;
    memset(out, 0, sizeof *out);
    mean_std_of(m, n, 1, &out->lesion_mean, &out->lesion_std, &out->n_lesion);
    for (int i = 0; i < n; i++)
        if (m[i].gt_empty) {
            out->n_empty++;
            out->n_empty_fp += m[i].fp > 0;
        }
    for (int i = 0; i < n; i++) {
        int pred_empty = m[i].tp + m[i].fp == 0, gt_empty = m[i].tp + m[i].fn == 0;
        out->n_surface += !isnan(m[i].hd95);
        out->n_surface_one_empty += pred_empty != gt_empty;
    }
    out->empty_fp_rate = out->n_empty > 0 ? (double)out->n_empty_fp / out->n_empty : 0;
}

ftn_status ftn_upsample_nearest_prob(const float *src, int h, int w, float *dst, int dh, int dw)
{
    return ftn_resize(src, h, w, 1, dst, dh, dw, FTN_RESIZE_NEAREST);
}
