/* Optimisers: the default configurations, the learning-rate schedules (ftn_optimizer_lr) and
 * ftn_model_step (Keras-style SGD with momentum, PyTorch's Nesterov SGD, Keras' Adam and
 * PyTorch's AdamW) over the model's parameter, gradient and moment buffers. The formulas are
 * ftunet.h's, section "optimisers". */
#include "model/model.h"

#include <math.h>
#include <string.h>

#include "core/error.h"

ftn_optimizer_config ftn_optimizer_default(ftn_optimizer_kind kind)
{
    ftn_optimizer_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.beta1 = 0.9f, c.beta2 = 0.999f, c.eps = 1e-7f;
    c.schedule = FTN_LR_INVERSE_TIME;
    if (kind == FTN_OPT_ADAM) {
        c.lr = 1e-3f;
    } else if (kind == FTN_OPT_ADAMW) {
        c.lr = 1e-3f, c.eps = 1e-8f, c.weight_decay = 1e-2f;
    } else { /* the paper's */
        c.kind = FTN_OPT_SGD;
        c.lr = 0.01f, c.momentum = 0.9f, c.decay = 1e-6f;
    }
    return c;
}

const char *ftn_optimizer_name(ftn_optimizer_kind kind)
{
    switch (kind) {
    case FTN_OPT_SGD: return "sgd";
    case FTN_OPT_ADAM: return "adam";
    case FTN_OPT_ADAMW: return "adamw";
    }
    return "?";
}

ftn_status ftn_optimizer_parse(const char *name, ftn_optimizer_kind *kind)
{
    if (name && !strcmp(name, "sgd")) *kind = FTN_OPT_SGD;
    else if (name && !strcmp(name, "adam")) *kind = FTN_OPT_ADAM;
    else if (name && !strcmp(name, "adamw")) *kind = FTN_OPT_ADAMW;
    else return ftn_fail(FTN_EINVAL, "optimiser '%s': expected sgd, adam or adamw", name ? name : "(null)");
    return FTN_OK;
}

const char *ftn_lr_schedule_name(ftn_lr_schedule s)
{
    switch (s) {
    case FTN_LR_INVERSE_TIME: return "inverse-time";
    case FTN_LR_POLY: return "poly";
    case FTN_LR_COSINE: return "cosine";
    }
    return "?";
}

ftn_status ftn_lr_schedule_parse(const char *name, ftn_lr_schedule *s)
{
    if (name && !strcmp(name, "inverse-time")) *s = FTN_LR_INVERSE_TIME;
    else if (name && !strcmp(name, "poly")) *s = FTN_LR_POLY;
    else if (name && !strcmp(name, "cosine")) *s = FTN_LR_COSINE;
    else
        return ftn_fail(FTN_EINVAL, "learning-rate schedule '%s': expected inverse-time, poly or cosine",
                        name ? name : "(null)");
    return FTN_OK;
}

ftn_status ftn_optimizer_check(const ftn_optimizer_config *o)
{
    if (!o) return ftn_fail(FTN_EINVAL, "optimiser: missing configuration");
    if (!(o->lr > 0) || !(o->momentum >= 0 && o->momentum < 1) || !(o->decay >= 0) || !isfinite(o->lr) ||
        !isfinite(o->decay))
        return ftn_fail(FTN_EINVAL, "optimiser: lr %g, momentum %g, decay %g out of range", o->lr, o->momentum, o->decay);
    if (o->kind != FTN_OPT_SGD && o->kind != FTN_OPT_ADAM && o->kind != FTN_OPT_ADAMW)
        return ftn_fail(FTN_EINVAL, "optimiser: kind %d unknown (FTN_OPT_SGD, FTN_OPT_ADAM or FTN_OPT_ADAMW)", (int)o->kind);
    if (o->nesterov && o->kind != FTN_OPT_SGD) return ftn_fail(FTN_EINVAL, "optimiser: nesterov applies to sgd only");
    if (!(o->weight_decay >= 0 && o->weight_decay < 1))
        return ftn_fail(FTN_EINVAL, "optimiser: weight decay %g out of range [0, 1)", o->weight_decay);
    if (o->kind != FTN_OPT_SGD &&
        (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps > 0) || !isfinite(o->eps)))
        return ftn_fail(FTN_EINVAL, "optimiser: beta1 %g, beta2 %g (each in [0, 1)) or eps %g (> 0) out of range", o->beta1,
                        o->beta2, o->eps);
    if (o->schedule != FTN_LR_INVERSE_TIME && o->schedule != FTN_LR_POLY && o->schedule != FTN_LR_COSINE)
        return ftn_fail(FTN_EINVAL, "optimiser: learning-rate schedule %d unknown", (int)o->schedule);
    if (o->warmup < 0) return ftn_fail(FTN_EINVAL, "optimiser: warm-up of %lld updates", (long long)o->warmup);
    if (o->schedule != FTN_LR_INVERSE_TIME) {
        if (o->total_iterations < 1)
            return ftn_fail(FTN_EINVAL, "optimiser: the %s schedule needs its total number of updates (total_iterations %lld)",
                            ftn_lr_schedule_name(o->schedule), (long long)o->total_iterations);
        if (!(o->min_lr >= 0 && o->min_lr <= o->lr))
            return ftn_fail(FTN_EINVAL, "optimiser: min lr %g out of range [0, lr %g]", o->min_lr, o->lr);
    }
    return FTN_OK;
}

double ftn_optimizer_lr(const ftn_optimizer_config *o, int64_t iteration)
{
    int64_t t = iteration < 0 ? 0 : iteration, w = o->warmup > 0 ? o->warmup : 0;
    if (t < w) return (double)o->lr * (double)(t + 1) / (double)w;
    int64_t s = t - w;
    if (o->schedule == FTN_LR_INVERSE_TIME) /* Keras: lr / (1 + decay · iterations), counted before the update */
        return o->lr / (1.0 + (double)o->decay * (double)s);
    int64_t span = o->total_iterations - w;
    double q = span > 0 ? (double)s / (double)span : 1.0;
    if (q > 1) q = 1;
    double lo = o->min_lr, f = o->schedule == FTN_LR_POLY ? pow(1.0 - q, FTN_LR_POLY_POWER) : 0.5 * (1.0 + cos(3.14159265358979323846 * q));
    return lo + ((double)o->lr - lo) * f;
}

/* The optimiser whose state layout kind uses: AdamW keeps Adam's two moments. */
static ftn_optimizer_kind state_kind(ftn_optimizer_kind kind) { return kind == FTN_OPT_ADAMW ? FTN_OPT_ADAM : kind; }

/* w += v with v = μ·v − lr·(g + wd·w): the paper's SGD when wd = 0 (that loop is today's, so the
 * paper's protocol is unchanged bit for bit). */
static void sgd_keras(float *w, const float *g, float *v, size_t n, float mo, float lrf, float wd)
{
    if (wd == 0) {
        #pragma omp parallel for if (n > 65536) schedule(static)
        for (size_t j = 0; j < n; j++) {
            v[j] = mo * v[j] - lrf * g[j];
            w[j] += v[j];
        }
    } else {
        #pragma omp parallel for if (n > 65536) schedule(static)
        for (size_t j = 0; j < n; j++) {
            float gj = g[j] + wd * w[j];
            v[j] = mo * v[j] - lrf * gj;
            w[j] += v[j];
        }
    }
}

/* torch.optim.SGD(nesterov=True, dampening=0): b = μ·b + g'; w −= lr·(g' + μ·b). */
static void sgd_nesterov(float *w, const float *g, float *b, size_t n, float mo, float lrf, float wd)
{
    #pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t j = 0; j < n; j++) {
        float gj = g[j] + wd * w[j];
        b[j] = mo * b[j] + gj;
        w[j] -= lrf * (gj + mo * b[j]);
    }
}

/* Keras' Adam, with L2 weight decay added to the gradient. */
static void adam_keras(float *w, const float *g, float *m1, float *m2, size_t n, const ftn_optimizer_config *o, double lr,
                       int64_t t)
{
    double bc = sqrt(1.0 - pow(o->beta2, (double)t)) / (1.0 - pow(o->beta1, (double)t));
    float b1 = o->beta1, b2 = o->beta2, eps = o->eps, lrt = (float)(lr * bc), wd = o->weight_decay;
    #pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t j = 0; j < n; j++) {
        float gj = wd == 0 ? g[j] : g[j] + wd * w[j];
        m1[j] = b1 * m1[j] + (1 - b1) * gj;
        m2[j] = b2 * m2[j] + (1 - b2) * gj * gj;
        w[j] -= lrt * m1[j] / (sqrtf(m2[j]) + eps);
    }
}

/* torch.optim.AdamW: w ·= 1 − lr·wd; the moments; w −= lr/bc1 · m / (√v/√bc2 + eps). */
static void adamw(float *w, const float *g, float *m1, float *m2, size_t n, const ftn_optimizer_config *o, double lr,
                  int64_t t)
{
    double bc1 = 1.0 - pow(o->beta1, (double)t), bc2 = 1.0 - pow(o->beta2, (double)t);
    float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    float shrink = (float)(1.0 - lr * (double)o->weight_decay), step = (float)(lr / bc1), sbc2 = (float)sqrt(bc2);
    #pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t j = 0; j < n; j++) {
        w[j] *= shrink;
        m1[j] = b1 * m1[j] + (1 - b1) * g[j];
        m2[j] = b2 * m2[j] + (1 - b2) * g[j] * g[j];
        w[j] -= step * m1[j] / (sqrtf(m2[j]) / sbc2 + eps);
    }
}

ftn_status ftn_model_step(ftn_model *m, const ftn_optimizer_config *o)
{
    FTN_TRY(ftn_optimizer_check(o));
    if (m->iteration > 0 && state_kind(o->kind) != m->opt_kind)
        return ftn_fail(FTN_EINVAL, "optimiser: the model's state was made by another optimiser");
    m->opt_kind = state_kind(o->kind);
    double lr = ftn_optimizer_lr(o, m->iteration);
    m->iteration++;
    for (int i = 0; i < m->graph.n_params; i++) {
        const ftn_param *p = &m->graph.params[i];
        if (!p->trainable) continue;
        float *w = m->params + p->offset, *g = m->grads + p->offset;
        float *v1 = m->opt_m + p->offset, *v2 = m->opt_v + p->offset;
        size_t n = p->count;
        if (o->kind == FTN_OPT_SGD && o->nesterov) sgd_nesterov(w, g, v1, n, o->momentum, (float)lr, o->weight_decay);
        else if (o->kind == FTN_OPT_SGD) sgd_keras(w, g, v1, n, o->momentum, (float)lr, o->weight_decay);
        else if (o->kind == FTN_OPT_ADAM) adam_keras(w, g, v1, v2, n, o, lr, m->iteration);
        else adamw(w, g, v1, v2, n, o, lr, m->iteration);
    }
    return FTN_OK;
}
