/* Optimisers and learning-rate schedules against hand computations: ftn_optimizer_lr's values
 * (inverse-time, poly, cosine, warm-up, min lr); one or two updates of each optimiser on a tiny
 * parameter vector against the formulas of Keras' SGD (the paper's, bit for bit), PyTorch's
 * SGD(nesterov=True, weight_decay), Keras' Adam with L2, and torch.optim.AdamW; the state's kind
 * rules; and a saved and reloaded optimiser state continuing bit-identically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"
#include "model/model.h"
#include "testlib.h"

enum { N = 4 };

/* A model of one trainable parameter tensor of N floats, on the caller's arrays: just what
 * ftn_model_step reads. */
typedef struct tiny {
    ftn_model m;
    ftn_param p;
    float w[N], g[N], m1[N], m2[N];
} tiny;

static void tiny_init(tiny *t)
{
    memset(t, 0, sizeof *t);
    static const float w0[N] = { 1.0f, -2.0f, 0.5f, 3.0f };
    memcpy(t->w, w0, sizeof w0);
    t->p.count = N;
    t->p.trainable = true;
    t->m.graph.params = &t->p;
    t->m.graph.n_params = 1;
    t->m.graph.n_param_floats = N;
    t->m.params = t->w, t->m.grads = t->g, t->m.opt_m = t->m1, t->m.opt_v = t->m2;
}

static const float G1[N] = { 0.1f, 0.2f, -0.3f, 0.4f }, G2[N] = { -0.05f, 0.3f, 0.1f, -0.2f };

/* max |a − b| / (|b| + 1e-12) */
static double rel(const float *a, const double *b)
{
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double e = fabs(a[i] - b[i]) / (fabs(b[i]) + 1e-12);
        if (e > worst) worst = e;
    }
    return worst;
}

static void check_schedules(void)
{
    ftn_optimizer_config o = ftn_optimizer_default(FTN_OPT_SGD);
    /* inverse-time: Keras' lr / (1 + decay · iterations) */
    CHECK(ftn_optimizer_lr(&o, 0) == (double)0.01f);
    /* (the config's floats: 0.01f and 1e-6f, each within 1e-7 relative of the decimal) */
    CHECK(fabs(ftn_optimizer_lr(&o, 1000) - (double)0.01f / (1 + (double)1e-6f * 1000)) < 1e-15);
    CHECK(fabs(ftn_optimizer_lr(&o, 1000) / (0.01 / 1.001) - 1) < 1e-6, "%.12g", ftn_optimizer_lr(&o, 1000));
    CHECK(fabs(ftn_optimizer_lr(&o, 250000) / (0.01 / 1.25) - 1) < 1e-6);

    /* poly 0.9 over T = 100: 0.5^0.9 = 0.53588673126814657, 0.01^0.9 = 0.015848931924611134 */
    o.schedule = FTN_LR_POLY, o.total_iterations = 100, o.lr = 0.01f;
    double base = (double)0.01f;
    CHECK(ftn_optimizer_lr(&o, 0) == base);
    CHECK(fabs(ftn_optimizer_lr(&o, 50) - base * 0.53588673126814657) < 1e-12, "%.12g", ftn_optimizer_lr(&o, 50));
    CHECK(fabs(ftn_optimizer_lr(&o, 99) - base * 0.015848931924611134) < 1e-12);
    CHECK(ftn_optimizer_lr(&o, 100) == 0 && ftn_optimizer_lr(&o, 500) == 0, "the end and past it: 0");
    o.min_lr = 0.001f;
    double lo = (double)0.001f;
    CHECK(fabs(ftn_optimizer_lr(&o, 50) - (lo + (base - lo) * 0.53588673126814657)) < 1e-12);
    CHECK(fabs(ftn_optimizer_lr(&o, 100) - lo) < 1e-15, "poly ends at min lr");

    /* cosine: (1 + cos(π/4))/2 = 0.85355339059327373 */
    o.schedule = FTN_LR_COSINE, o.min_lr = 0;
    CHECK(ftn_optimizer_lr(&o, 0) == base);
    CHECK(fabs(ftn_optimizer_lr(&o, 25) - base * 0.85355339059327373) < 1e-12);
    CHECK(fabs(ftn_optimizer_lr(&o, 50) - base * 0.5) < 1e-12);
    CHECK(fabs(ftn_optimizer_lr(&o, 75) - base * 0.14644660940672627) < 1e-12);
    CHECK(fabs(ftn_optimizer_lr(&o, 100)) < 1e-18);
    o.min_lr = 0.002f;
    CHECK(fabs(ftn_optimizer_lr(&o, 50) - ((double)0.002f + (base - (double)0.002f) * 0.5)) < 1e-12);

    /* warm-up of 10 updates: lr·(t+1)/10, then the schedule over the remaining 100 */
    o.schedule = FTN_LR_POLY, o.min_lr = 0, o.warmup = 10, o.total_iterations = 110;
    CHECK(fabs(ftn_optimizer_lr(&o, 0) - base * 0.1) < 1e-15);
    CHECK(fabs(ftn_optimizer_lr(&o, 4) - base * 0.5) < 1e-15);
    CHECK(ftn_optimizer_lr(&o, 9) == base && ftn_optimizer_lr(&o, 10) == base);
    CHECK(fabs(ftn_optimizer_lr(&o, 60) - base * 0.53588673126814657) < 1e-12);
    o.schedule = FTN_LR_INVERSE_TIME, o.decay = 0.5f;
    CHECK(fabs(ftn_optimizer_lr(&o, 4) - base * 0.5) < 1e-15);
    CHECK(fabs(ftn_optimizer_lr(&o, 12) - base / 2.0) < 1e-15, "decay counts from the warm-up's end");

    /* names and checks */
    ftn_lr_schedule s;
    CHECK(ftn_lr_schedule_parse("cosine", &s) == FTN_OK && s == FTN_LR_COSINE);
    CHECK(!strcmp(ftn_lr_schedule_name(FTN_LR_INVERSE_TIME), "inverse-time"));
    CHECK(ftn_lr_schedule_parse("step", &s) == FTN_EINVAL);
    ftn_optimizer_kind k;
    CHECK(ftn_optimizer_parse("adamw", &k) == FTN_OK && k == FTN_OPT_ADAMW && !strcmp(ftn_optimizer_name(k), "adamw"));
    CHECK(ftn_optimizer_parse("rmsprop", &k) == FTN_EINVAL);
    ftn_optimizer_config c = ftn_optimizer_default(FTN_OPT_SGD);
    c.schedule = FTN_LR_POLY;
    CHECK(ftn_optimizer_check(&c) == FTN_EINVAL && strstr(ftn_last_error(), "total"), "%s", ftn_last_error());
    c.total_iterations = 10, c.min_lr = 1;
    CHECK(ftn_optimizer_check(&c) == FTN_EINVAL && strstr(ftn_last_error(), "min lr"), "%s", ftn_last_error());
    c = ftn_optimizer_default(FTN_OPT_ADAM);
    c.nesterov = 1;
    CHECK(ftn_optimizer_check(&c) == FTN_EINVAL && strstr(ftn_last_error(), "nesterov"), "%s", ftn_last_error());
    c = ftn_optimizer_default(FTN_OPT_SGD);
    c.weight_decay = -1;
    CHECK(ftn_optimizer_check(&c) == FTN_EINVAL && strstr(ftn_last_error(), "weight decay"), "%s", ftn_last_error());
    c = ftn_optimizer_default(FTN_OPT_ADAMW);
    CHECK(c.lr == 1e-3f && c.beta1 == 0.9f && c.beta2 == 0.999f && c.eps == 1e-8f && c.weight_decay == 1e-2f &&
          ftn_optimizer_check(&c) == FTN_OK, "AdamW's defaults are PyTorch's");
}

/* The paper's SGD: today's loop, float for float (v = μv − lr·g; w += v with lr cast to float). */
static void check_sgd(void)
{
    tiny t;
    tiny_init(&t);
    ftn_optimizer_config o = ftn_optimizer_default(FTN_OPT_SGD);
    o.decay = 0.25f; /* a decay that shows: the second update's lr is 0.01 / 1.25 */
    float w[N], v[N] = { 0 };
    memcpy(w, t.w, sizeof w);
    for (int step = 0; step < 2; step++) {
        const float *g = step ? G2 : G1;
        memcpy(t.g, g, sizeof t.g);
        CHECK_OK(ftn_model_step(&t.m, &o));
        float lr = (float)(o.lr / (1.0 + (double)o.decay * step));
        for (int i = 0; i < N; i++) {
            v[i] = o.momentum * v[i] - lr * g[i];
            w[i] += v[i];
        }
    }
    CHECK(!memcmp(w, t.w, sizeof w) && !memcmp(v, t.m1, sizeof v), "the paper's SGD, bit for bit");
    CHECK(t.m.iteration == 2);

    /* with L2 weight decay: g' = g + wd·w (in double by hand) */
    tiny_init(&t);
    o = ftn_optimizer_default(FTN_OPT_SGD);
    o.weight_decay = 0.1f;
    double wd[N], vd[N] = { 0 }, lr = (double)0.01f, mu = (double)0.9f, wdc = (double)0.1f;
    for (int i = 0; i < N; i++) wd[i] = t.w[i];
    for (int step = 0; step < 2; step++) {
        const float *g = step ? G2 : G1;
        memcpy(t.g, g, sizeof t.g);
        CHECK_OK(ftn_model_step(&t.m, &o));
        double lrs = lr / (1.0 + (double)o.decay * step);
        for (int i = 0; i < N; i++) {
            double gp = g[i] + wdc * wd[i];
            vd[i] = mu * vd[i] - lrs * gp;
            wd[i] += vd[i];
        }
    }
    CHECK(rel(t.w, wd) < 1e-6, "SGD + L2: %g", rel(t.w, wd));
}

/* torch.optim.SGD(lr, momentum=μ, nesterov=True, weight_decay=wd), two updates with different
 * rates (a poly schedule), from a zero buffer:
 *   g' = g + wd·w;  b = μ·b + g';  w = w − lr_t·(g' + μ·b) */
static void check_nesterov(void)
{
    tiny t;
    tiny_init(&t);
    ftn_optimizer_config o = ftn_optimizer_default(FTN_OPT_SGD);
    o.nesterov = 1, o.momentum = 0.99f, o.weight_decay = 3e-5f, o.schedule = FTN_LR_POLY, o.total_iterations = 2;
    double w[N], b[N] = { 0 }, mu = (double)0.99f, wdc = (double)3e-5f;
    double lrs[2] = { (double)0.01f, (double)0.01f * 0.53588673126814657 }; /* (1 − 1/2)^0.9 */
    for (int i = 0; i < N; i++) w[i] = t.w[i];
    for (int step = 0; step < 2; step++) {
        const float *g = step ? G2 : G1;
        memcpy(t.g, g, sizeof t.g);
        CHECK_OK(ftn_model_step(&t.m, &o));
        for (int i = 0; i < N; i++) {
            double gp = g[i] + wdc * w[i];
            b[i] = mu * b[i] + gp;
            w[i] -= lrs[step] * (gp + mu * b[i]);
        }
    }
    CHECK(rel(t.w, w) < 1e-6, "Nesterov: %g", rel(t.w, w));
    double bb[N];
    for (int i = 0; i < N; i++) bb[i] = b[i];
    CHECK(rel(t.m1, bb) < 1e-6, "the buffer holds PyTorch's b");
    /* Keras' Nesterov form (v = μv − lr·g; w += μv − lr·g) gives other weights when lr changes:
     * the test tells the two apart */
    double kw[N], kv[N] = { 0 };
    static const double W0[N] = { 1.0, -2.0, 0.5, 3.0 };
    for (int i = 0; i < N; i++) kw[i] = W0[i];
    for (int step = 0; step < 2; step++) {
        const float *g = step ? G2 : G1;
        for (int i = 0; i < N; i++) {
            double gp = g[i] + wdc * kw[i];
            kv[i] = mu * kv[i] - lrs[step] * gp;
            kw[i] += mu * kv[i] - lrs[step] * gp;
        }
    }
    CHECK(rel(t.w, kw) > 1e-5, "PyTorch's form, not Keras': %g", rel(t.w, kw));
}

/* Keras' Adam with L2 added to the gradient. */
static void check_adam(void)
{
    tiny t;
    tiny_init(&t);
    ftn_optimizer_config o = ftn_optimizer_default(FTN_OPT_ADAM);
    o.weight_decay = 0.01f;
    double w[N], m[N] = { 0 }, v[N] = { 0 }, b1 = (double)0.9f, b2 = (double)0.999f, eps = (double)1e-7f,
                 lr = (double)1e-3f, wdc = (double)0.01f;
    for (int i = 0; i < N; i++) w[i] = t.w[i];
    for (int step = 0; step < 2; step++) {
        const float *g = step ? G2 : G1;
        memcpy(t.g, g, sizeof t.g);
        CHECK_OK(ftn_model_step(&t.m, &o));
        int tt = step + 1;
        double lrt = lr * sqrt(1 - pow(b2, tt)) / (1 - pow(b1, tt));
        for (int i = 0; i < N; i++) {
            double gp = g[i] + wdc * w[i];
            m[i] = b1 * m[i] + (1 - b1) * gp;
            v[i] = b2 * v[i] + (1 - b2) * gp * gp;
            w[i] -= lrt * m[i] / (sqrt(v[i]) + eps);
        }
    }
    CHECK(rel(t.w, w) < 1e-6, "Adam + L2: %g", rel(t.w, w));
}

/* torch.optim.AdamW(lr, betas, eps, weight_decay), two updates:
 *   w = w·(1 − lr·wd); m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
 *   w = w − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps) */
static void check_adamw(void)
{
    tiny t;
    tiny_init(&t);
    ftn_optimizer_config o = ftn_optimizer_default(FTN_OPT_ADAMW);
    o.weight_decay = 0.1f, o.lr = 0.01f; /* large enough for the decoupled term to show */
    double w[N], m[N] = { 0 }, v[N] = { 0 }, b1 = (double)0.9f, b2 = (double)0.999f, eps = (double)1e-8f,
                 lr = (double)0.01f, wdc = (double)0.1f;
    for (int i = 0; i < N; i++) w[i] = t.w[i];
    for (int step = 0; step < 2; step++) {
        const float *g = step ? G2 : G1;
        memcpy(t.g, g, sizeof t.g);
        CHECK_OK(ftn_model_step(&t.m, &o));
        int tt = step + 1;
        double bc1 = 1 - pow(b1, tt), bc2 = 1 - pow(b2, tt);
        for (int i = 0; i < N; i++) {
            w[i] *= 1 - lr * wdc;
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * (double)g[i] * g[i];
            w[i] -= lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + eps);
        }
    }
    CHECK(rel(t.w, w) < 1e-6, "AdamW: %g", rel(t.w, w));
    /* first step by the numbers for w[0] = 1, g = 0.1: m̂ = 0.1, v̂ = 0.01, so the step is
     * lr · 0.1 / (0.1 + 1e-8) ≈ lr: w = 1·(1 − 0.001) − 0.01·0.1/(0.1 + 1e-8) = 0.98900000099… */
    tiny_init(&t);
    memcpy(t.g, G1, sizeof t.g);
    CHECK_OK(ftn_model_step(&t.m, &o));
    CHECK(fabs(t.w[0] - (0.999 - 0.01 * 0.1 / (0.1 + 1e-8))) < 1e-7, "%.9g", t.w[0]);
    CHECK(t.m.opt_kind == FTN_OPT_ADAM, "AdamW's state is Adam's two moments");

    /* the state's kind: AdamW continues Adam's moments, SGD does not */
    ftn_optimizer_config a = ftn_optimizer_default(FTN_OPT_ADAM), s = ftn_optimizer_default(FTN_OPT_SGD);
    CHECK_OK(ftn_model_step(&t.m, &a));
    CHECK(ftn_model_step(&t.m, &s) == FTN_EINVAL && strstr(ftn_last_error(), "another optimiser"), "%s", ftn_last_error());
}

/* A run's optimiser state saved after 2 updates and loaded into a fresh copy of the model
 * continues exactly as the uninterrupted model does (for each optimiser). */
static void check_save_load(ftn_optimizer_config o, const char *dir, const char *what)
{
    ftn_model *a, *b;
    CHECK_OK(ftn_model_create("attn-unet", 1, 16, 16, &a));
    CHECK_OK(ftn_model_init(a, 3));
    size_t n = a->graph.n_param_floats;
    uint64_t st = 11;
    for (int step = 0; step < 2; step++) {
        tl_fill_uniform(a->grads, n, &st, -1, 1);
        CHECK_OK(ftn_model_step(a, &o));
    }
    const char *mp = tl_path(dir, "m.safetensors"), *op = tl_path(dir, "m.optim.safetensors");
    CHECK_OK(ftn_model_save(a, mp));
    CHECK_OK(ftn_optimizer_save(a, op));
    CHECK_OK(ftn_model_load(mp, &b));
    CHECK_OK(ftn_optimizer_load(b, op));
    CHECK(ftn_model_iteration(b) == 2);
    for (int step = 0; step < 3; step++) {
        tl_fill_uniform(a->grads, n, &st, -1, 1);
        memcpy(b->grads, a->grads, n * sizeof(float));
        CHECK_OK(ftn_model_step(a, &o));
        CHECK_OK(ftn_model_step(b, &o));
    }
    CHECK(!memcmp(a->params, b->params, n * sizeof(float)), "%s: resumed = uninterrupted", what);
    ftn_model_free(a);
    ftn_model_free(b);
}

int main(void)
{
    ftn_set_threads(2);
    const char *dir = tl_tmpdir("optimizer");
    check_schedules();
    check_sgd();
    check_nesterov();
    check_adam();
    check_adamw();
    ftn_optimizer_config o = ftn_optimizer_default(FTN_OPT_SGD);
    o.nesterov = 1, o.momentum = 0.99f, o.weight_decay = 3e-5f, o.schedule = FTN_LR_POLY, o.total_iterations = 5;
    check_save_load(o, dir, "nesterov sgd, poly");
    o = ftn_optimizer_default(FTN_OPT_ADAMW);
    o.schedule = FTN_LR_COSINE, o.total_iterations = 5, o.warmup = 1;
    check_save_load(o, dir, "adamw, cosine, warm-up");
    return tl_finish();
}
