#include <math.h>
#include <string.h>

#include "core/error.h"
#include "losses/losses.h"

/* d(x^e)/dx = e·x^(e−1) is unbounded at x = 0 for e < 1 (γ = 4/3 gives e = 0.75); evaluating it at
 * no less than this keeps the gradient finite (≤ 0.75 · 1e-6^−0.25 ≈ 24) as TI → 1. */
#define FOCAL_FLOOR 1e-6

ftn_loss_config ftn_loss_default(ftn_loss_kind kind)
{
    ftn_loss_config c = { kind, 0.7f, 0.3f, 4.0f / 3.0f, 1.0f, FTN_REDUCE_BATCH };
    return c;
}

const char *ftn_loss_name(ftn_loss_kind kind)
{
    switch (kind) {
    case FTN_LOSS_DICE: return "dl";
    case FTN_LOSS_TVERSKY: return "tl";
    case FTN_LOSS_FOCAL_TVERSKY: return "ftl";
    }
    return "?";
}

ftn_status ftn_loss_parse(const char *name, ftn_loss_kind *kind)
{
    if (!strcmp(name, "dl") || !strcmp(name, "dice")) *kind = FTN_LOSS_DICE;
    else if (!strcmp(name, "tl") || !strcmp(name, "tversky")) *kind = FTN_LOSS_TVERSKY;
    else if (!strcmp(name, "ftl") || !strcmp(name, "focal-tversky")) *kind = FTN_LOSS_FOCAL_TVERSKY;
    else return ftn_fail(FTN_EINVAL, "loss '%s': expected dl, tl or ftl", name);
    return FTN_OK;
}

ftn_loss_kind ftn_loss_for_output(const ftn_loss_config *cfg, int k, int n_outputs)
{
    if (cfg->kind == FTN_LOSS_FOCAL_TVERSKY && n_outputs > 1 && k == n_outputs - 1) return FTN_LOSS_TVERSKY;
    return cfg->kind;
}

/* One index over `count` pixels; the gradient (scaled by `scale`) goes to dp. */
static double loss_one(ftn_loss_kind kind, const ftn_loss_config *c, const float *p, const float *m,
                       size_t count, double scale, float *dp)
{
    double s = c->smooth;
    if (kind == FTN_LOSS_DICE) {
        /* DL = 1 − (2·Σpm + s)/(Σp + Σm + s) */
        double inter = 0, sp = 0, sm = 0;
        for (size_t i = 0; i < count; i++) { inter += (double)p[i] * m[i]; sp += p[i]; sm += m[i]; }
        double num = 2 * inter + s, den = sp + sm + s;
        for (size_t i = 0; i < count; i++)
            dp[i] = (float)(-scale * (2.0 * m[i] * den - num) / (den * den));
        return 1.0 - num / den;
    }
    /* TI = (TP + s)/(TP + α·FN + β·FP + s), TP = Σpm, FN = Σ(1−p)m, FP = Σp(1−m) */
    double tp = 0, fn = 0, fp = 0;
    for (size_t i = 0; i < count; i++) {
        tp += (double)p[i] * m[i];
        fn += (1.0 - p[i]) * m[i];
        fp += (double)p[i] * (1.0 - m[i]);
    }
    double a = c->alpha, b = c->beta;
    double num = tp + s, den = tp + a * fn + b * fp + s, ti = num / den;
    double one_minus = 1.0 - ti;
    double loss = one_minus, dloss_dti = -1.0;
    if (kind == FTN_LOSS_FOCAL_TVERSKY) {
        double e = 1.0 / c->gamma;
        double x = one_minus > 0 || isnan(one_minus) ? one_minus : 0; /* a NaN stays NaN, for training to see */
        loss = pow(x, e);
        dloss_dti = -e * pow(x > FOCAL_FLOOR ? x : FOCAL_FLOOR, e - 1.0);
    }
    /* dTI/dp_i = (m_i·den − num·(m_i − α·m_i + β·(1−m_i))) / den² */
    for (size_t i = 0; i < count; i++) {
        double dden = m[i] - a * m[i] + b * (1.0 - m[i]);
        double dti = (m[i] * den - num * dden) / (den * den);
        dp[i] = (float)(scale * dloss_dti * dti);
    }
    return loss;
}

double ftn_loss_eval(ftn_loss_kind kind, const ftn_loss_config *cfg, const float *p, const float *m,
                     int n, size_t hw, float *dp)
{
    if (cfg->reduction == FTN_REDUCE_BATCH) return loss_one(kind, cfg, p, m, (size_t)n * hw, 1.0, dp);
    double total = 0;
    for (int i = 0; i < n; i++)
        total += loss_one(kind, cfg, p + (size_t)i * hw, m + (size_t)i * hw, hw, 1.0 / n, dp + (size_t)i * hw);
    return total / n;
}

void ftn_mask_subsample(const float *mask, int n, int h, int w, int stride, float *out)
{
    int ho = h / stride, wo = w / stride;
    for (int i = 0; i < n; i++)
        for (int y = 0; y < ho; y++)
            for (int x = 0; x < wo; x++)
                out[((size_t)i * ho + y) * wo + x] = mask[((size_t)i * h + (size_t)y * stride) * w + (size_t)x * stride];
}
