/* Dice, Tversky and focal Tversky losses (paper §2.1) with their gradients, the configuration's
 * names and checks, and deep supervision's per-output kinds and weights. Dice+BCE is dice_bce.c's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "losses/losses.h"

/* d(x^e)/dx = e·x^(e−1) is unbounded at x = 0 for e < 1 (γ = 4/3 gives e = 0.75); evaluating it at
 * no less than this keeps the gradient finite (≤ 0.75 · 1e-6^−0.25 ≈ 24) as TI → 1. */
#define FOCAL_FLOOR 1e-6

ftn_loss_config ftn_loss_default(ftn_loss_kind kind)
{
    ftn_loss_config c = { kind, 0.7f, 0.3f, 4.0f / 3.0f, 1.0f, FTN_REDUCE_BATCH, 1.0f, 1.0f, 0, { 1, 1, 1, 1 } };
    return c;
}

const char *ftn_loss_name(ftn_loss_kind kind)
{
    switch (kind) {
    case FTN_LOSS_DICE: return "dl";
    case FTN_LOSS_TVERSKY: return "tl";
    case FTN_LOSS_FOCAL_TVERSKY: return "ftl";
    case FTN_LOSS_DICE_BCE: return "dice-bce";
    }
    return "?";
}

ftn_status ftn_loss_parse(const char *name, ftn_loss_kind *kind)
{
    if (!strcmp(name, "dl") || !strcmp(name, "dice")) *kind = FTN_LOSS_DICE;
    else if (!strcmp(name, "tl") || !strcmp(name, "tversky")) *kind = FTN_LOSS_TVERSKY;
    else if (!strcmp(name, "ftl") || !strcmp(name, "focal-tversky")) *kind = FTN_LOSS_FOCAL_TVERSKY;
    else if (!strcmp(name, "dice-bce")) *kind = FTN_LOSS_DICE_BCE;
    else return ftn_fail(FTN_EINVAL, "loss '%s': expected dl, tl, ftl or dice-bce", name);
    return FTN_OK;
}

ftn_status ftn_loss_parse_ds_weights(const char *list, ftn_loss_config *cfg)
{
    float w[FTN_LOSS_MAX_OUTPUTS];
    int n = 0, any = 0;
    const char *p = list;
    if (!list || !*list) return ftn_fail(FTN_EINVAL, "deep-supervision weights: empty list");
    for (;;) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v >= 0) || !isfinite(v) || v > 1e6 || (*end && *end != ','))
            return ftn_fail(FTN_EINVAL, "deep-supervision weights '%s': expected numbers >= 0 separated by commas", list);
        if (n == FTN_LOSS_MAX_OUTPUTS)
            return ftn_fail(FTN_EINVAL, "deep-supervision weights '%s': at most %d (out1..out%d)", list,
                            FTN_LOSS_MAX_OUTPUTS, FTN_LOSS_MAX_OUTPUTS);
        w[n++] = (float)v;
        any |= v > 0;
        if (!*end) break;
        p = end + 1;
    }
    if (!any) return ftn_fail(FTN_EINVAL, "deep-supervision weights '%s': all 0 (nothing would be trained)", list);
    cfg->n_ds_weights = n;
    for (int i = 0; i < FTN_LOSS_MAX_OUTPUTS; i++) cfg->ds_weights[i] = i < n ? w[i] : 0;
    return FTN_OK;
}

float ftn_loss_output_weight(const ftn_loss_config *cfg, int k, int n_outputs)
{
    if (n_outputs <= 1 || cfg->n_ds_weights <= 0 || k < 0 || k >= cfg->n_ds_weights || k >= FTN_LOSS_MAX_OUTPUTS) return 1.0f;
    return cfg->ds_weights[k];
}

ftn_status ftn_loss_check(const ftn_loss_config *cfg, int n_outputs)
{
    if (!(cfg->smooth >= 0) || !(cfg->alpha >= 0) || !(cfg->beta >= 0) || !(cfg->gamma > 0))
        return ftn_fail(FTN_EINVAL, "loss: alpha %g, beta %g, gamma %g, smooth %g out of range", cfg->alpha, cfg->beta,
                        cfg->gamma, cfg->smooth);
    if (cfg->kind < FTN_LOSS_DICE || cfg->kind > FTN_LOSS_DICE_BCE)
        return ftn_fail(FTN_EINVAL, "loss: kind %d unknown", (int)cfg->kind);
    if (cfg->kind == FTN_LOSS_DICE_BCE &&
        (!(cfg->dice_weight >= 0) || !(cfg->bce_weight >= 0) || !isfinite(cfg->dice_weight) ||
         !isfinite(cfg->bce_weight) || cfg->dice_weight + cfg->bce_weight <= 0))
        return ftn_fail(FTN_EINVAL, "loss: dice weight %g and bce weight %g must be >= 0, not both 0", cfg->dice_weight,
                        cfg->bce_weight);
    if (cfg->n_ds_weights < 0 || cfg->n_ds_weights > FTN_LOSS_MAX_OUTPUTS)
        return ftn_fail(FTN_EINVAL, "loss: %d deep-supervision weights (at most %d)", cfg->n_ds_weights, FTN_LOSS_MAX_OUTPUTS);
    if (cfg->n_ds_weights > 0 && n_outputs > 1) {
        if (cfg->n_ds_weights != n_outputs)
            return ftn_fail(FTN_EINVAL, "loss: %d deep-supervision weights for a network of %d outputs", cfg->n_ds_weights,
                            n_outputs);
        int any = 0;
        for (int k = 0; k < n_outputs; k++) {
            if (!(cfg->ds_weights[k] >= 0) || !isfinite(cfg->ds_weights[k]))
                return ftn_fail(FTN_EINVAL, "loss: deep-supervision weight %d is %g (expected >= 0)", k + 1, cfg->ds_weights[k]);
            any |= cfg->ds_weights[k] > 0;
        }
        if (!any) return ftn_fail(FTN_EINVAL, "loss: every deep-supervision weight is 0");
    }
    return FTN_OK;
}

ftn_loss_kind ftn_loss_for_output(const ftn_loss_config *cfg, int k, int n_outputs)
{
    if (cfg->kind == FTN_LOSS_FOCAL_TVERSKY && n_outputs > 1 && k == n_outputs - 1) return FTN_LOSS_TVERSKY;
    return cfg->kind;
}

/* The sums of `v` over comm's processes (nothing without one). */
static ftn_status group_sum(const ftn_comm *comm, double *v, size_t n)
{
    if (!comm || comm->size <= 1) return FTN_OK;
    ftn_status s = comm->sum_f64(comm->ctx, v, n);
    return s ? ftn_fail_context(s, "loss: summing over %d processes", comm->size) : FTN_OK;
}

/* One index over `count` pixels, its pixel sums summed over comm's processes first (the index of
 * the whole batch); the gradient (scaled by `scale`) goes to dp. */
static ftn_status loss_one(ftn_loss_kind kind, const ftn_loss_config *c, const float *p, const float *m,
                           size_t count, double scale, float *dp, const ftn_comm *comm, double *out)
{
    double s = c->smooth;
    if (kind == FTN_LOSS_DICE) {
        /* DL = 1 − (2·Σpm + s)/(Σp + Σm + s) */
        double sums[3] = { 0, 0, 0 }; /* Σpm, Σp, Σm */
        for (size_t i = 0; i < count; i++) { sums[0] += (double)p[i] * m[i]; sums[1] += p[i]; sums[2] += m[i]; }
        FTN_TRY(group_sum(comm, sums, 3));
        double num = 2 * sums[0] + s, den = sums[1] + sums[2] + s;
        for (size_t i = 0; i < count; i++)
            dp[i] = (float)(-scale * (2.0 * m[i] * den - num) / (den * den));
        *out = 1.0 - num / den;
        return FTN_OK;
    }
    /* TI = (TP + s)/(TP + α·FN + β·FP + s), TP = Σpm, FN = Σ(1−p)m, FP = Σp(1−m) */
    double sums[3] = { 0, 0, 0 }; /* TP, FN, FP */
    for (size_t i = 0; i < count; i++) {
        sums[0] += (double)p[i] * m[i];
        sums[1] += (1.0 - p[i]) * m[i];
        sums[2] += (double)p[i] * (1.0 - m[i]);
    }
    FTN_TRY(group_sum(comm, sums, 3));
    double tp = sums[0], fn = sums[1], fp = sums[2];
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
    *out = loss;
    return FTN_OK;
}

ftn_status ftn_loss_eval_comm(ftn_loss_kind kind, const ftn_loss_config *cfg, const float *p, const float *m, int n,
                              size_t hw, float *dp, const ftn_comm *comm, double *loss)
{
    if (kind == FTN_LOSS_DICE_BCE) return ftn_loss_dice_bce_comm(cfg, p, m, n, hw, dp, comm, loss);
    if (cfg->reduction == FTN_REDUCE_BATCH) return loss_one(kind, cfg, p, m, (size_t)n * hw, 1.0, dp, comm, loss);
    /* per image: the mean over the whole batch's images, n_all of them */
    double total = 0, v, n_all = n;
    if (comm && comm->size > 1) {
        FTN_TRY(group_sum(comm, &n_all, 1));
        for (int i = 0; i < n; i++) {
            FTN_TRY(loss_one(kind, cfg, p + (size_t)i * hw, m + (size_t)i * hw, hw, 1.0 / n_all, dp + (size_t)i * hw,
                             NULL, &v));
            total += v;
        }
        FTN_TRY(group_sum(comm, &total, 1));
        *loss = total / n_all;
        return FTN_OK;
    }
    for (int i = 0; i < n; i++) {
        FTN_TRY(loss_one(kind, cfg, p + (size_t)i * hw, m + (size_t)i * hw, hw, 1.0 / n, dp + (size_t)i * hw, NULL, &v));
        total += v;
    }
    *loss = total / n;
    return FTN_OK;
}

double ftn_loss_eval(ftn_loss_kind kind, const ftn_loss_config *cfg, const float *p, const float *m,
                     int n, size_t hw, float *dp)
{
    double loss = 0;
    ftn_loss_eval_comm(kind, cfg, p, m, n, hw, dp, NULL, &loss); /* alone it cannot fail */
    return loss;
}

void ftn_mask_subsample(const float *mask, int n, int h, int w, int stride, float *out)
{
    int ho = h / stride, wo = w / stride;
    for (int i = 0; i < n; i++)
        for (int y = 0; y < ho; y++)
            for (int x = 0; x < wo; x++)
                out[((size_t)i * ho + y) * wo + x] = mask[((size_t)i * h + (size_t)y * stride) * w + (size_t)x * stride];
}

ftn_status ftn_loss_output_comm(const ftn_loss_config *cfg, int k, int n_outputs, const float *p, const float *m, int n,
                                size_t hw, float *dp, const ftn_comm *comm, double *loss)
{
    double v;
    FTN_TRY(ftn_loss_eval_comm(ftn_loss_for_output(cfg, k, n_outputs), cfg, p, m, n, hw, dp, comm, &v));
    float w = ftn_loss_output_weight(cfg, k, n_outputs);
    if (w == 1.0f) { *loss = v; return FTN_OK; } /* the spec's: the loss and gradient exactly as evaluated */
    for (size_t i = 0, count = (size_t)n * hw; i < count; i++) dp[i] *= w;
    *loss = v * w;
    return FTN_OK;
}

double ftn_loss_output(const ftn_loss_config *cfg, int k, int n_outputs, const float *p, const float *m, int n, size_t hw,
                       float *dp)
{
    double loss = 0;
    ftn_loss_output_comm(cfg, k, n_outputs, p, m, n, hw, dp, NULL, &loss);
    return loss;
}
