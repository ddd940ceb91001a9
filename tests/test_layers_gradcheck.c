/* Finite-difference gradient checks and hand-computed forward cases for src/layers.
 *
 * Gradient check: with a fixed random r, L(θ) = Σ r ⊙ y(θ) (accumulated in double). The analytic
 * gradient is what backward accumulates into zeroed buffers for dy = r; the numerical one is the
 * central difference (L(θ+ε) − L(θ−ε)) / (θ+ε − (θ−ε)), taken over every element of every input,
 * weight and bias (the denominator is the float-rounded step actually taken). The error of one
 * element is |num − ana| / (1 + |ana|); a case passes when the worst element is below GRAD_TOL.
 *
 * Why the tolerance is tight enough. With every layer correct the worst error over all cases is
 * 1.8e-5 (BN; the linear layers use ε = 0.25, exact up to rounding, and sit at ≤ 3e-6; BN and
 * sigmoid use ε = 1e-2, truncation O(ε²)). Bugs planted one at a time in the layer code gave
 * (error reported by this check, versus GRAD_TOL = 1e-3):
 *   - ftn_conv2d_backward dx, kh/kw swapped (wp[kx·k + ky]):             conv 3x3 s1 p1   3.15
 *   - ftn_conv2d_backward dw, pad offset dropped (iy = oy·s + ky):       conv 3x3 s1 p1   4.05
 *   - ftn_conv2d_backward dx, pad offset dropped:                        conv 3x3 s1 p1   3.01
 *   - ftn_conv2d_forward kh/kw swapped (backward left right):            conv 3x3 s1 p1   3.97
 *                                           (and every hand-computed conv value, e.g. 95.5 vs 145.5)
 *   - ftn_deconv2d_backward dx, taps flipped (wp[(k−1−ky)·k + kx]):     deconv 2x2 s2    2.17
 *   - ftn_batchnorm_backward dx, sign of the x̂·dγ/m term flipped:       batchnorm train  0.20
 *   - ftn_sigmoid_backward dy·y·(1+y) instead of dy·y·(1−y):             sigmoid          0.62
 *   - ftn_maxpool2_backward '>=' (last maximum): not visible to the gradient check (inputs are
 *     distinct by construction), caught by the hand-made tie case in hand_small().
 * The smallest planted error (0.20) is 200× the tolerance, which is itself ~50× the noise.
 */
#include "layers/layers.h"
#include "testlib.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define GRAD_TOL 1e-3

static uint64_t rng = 0x5EEDF00Dull;

static float *alloc(size_t count) { return calloc(count ? count : 1, sizeof(float)); }
static float *rand_buf(size_t count, float lo, float hi)
{
    float *p = alloc(count);
    tl_fill_uniform(p, count, &rng, lo, hi);
    return p;
}
/* Values at least `gap` apart in a random order: keeps max-pool and ReLU away from their kinks. */
static float *distinct_buf(size_t count, float gap)
{
    float *p = alloc(count);
    for (size_t i = 0; i < count; i++) p[i] = ((float)i - (float)count / 2 + 0.5f) * gap;
    for (size_t i = count - 1; i > 0; i--) {
        size_t j = tl_next(&rng) % (i + 1);
        float t = p[i]; p[i] = p[j]; p[j] = t;
    }
    return p;
}

/* ---- the generic check ------------------------------------------------------------------- */

typedef struct {
    const char *name;
    float *v;  /* the values, perturbed in place */
    float *g;  /* the gradient buffer that backward accumulates into */
    size_t count;
} param;

typedef struct {
    const char *name;
    void *ctx;
    void (*fwd)(void *ctx, float *y);
    void (*bwd)(void *ctx, const float *dy); /* accumulates into the params' g */
    size_t ny;
    param ps[4];
    int np;
    float eps;
} gcase;

static double loss(const gcase *c, float *y, const float *r)
{
    c->fwd(c->ctx, y);
    double s = 0.0;
    for (size_t i = 0; i < c->ny; i++) s += (double)r[i] * y[i];
    return s;
}

static void zero_grads(gcase *c)
{
    for (int p = 0; p < c->np; p++) memset(c->ps[p].g, 0, c->ps[p].count * sizeof(float));
}

/* Returns the worst gradient error; also checks that a second backward doubles the gradient. */
static double run_case(gcase *c)
{
    float *y = alloc(c->ny), *r = rand_buf(c->ny, -1.0f, 1.0f);

    /* Accumulation: backward twice == 2 × backward once. */
    zero_grads(c);
    c->bwd(c->ctx, r);
    float *once[4];
    for (int p = 0; p < c->np; p++) {
        once[p] = alloc(c->ps[p].count);
        memcpy(once[p], c->ps[p].g, c->ps[p].count * sizeof(float));
    }
    c->bwd(c->ctx, r);
    for (int p = 0; p < c->np; p++) {
        double worst = 0.0;
        for (size_t i = 0; i < c->ps[p].count; i++) {
            double e = fabs(c->ps[p].g[i] - 2.0 * once[p][i]) / (1.0 + fabs(2.0 * once[p][i]));
            if (e > worst) worst = e;
        }
        CHECK(worst < 1e-5, "%s: d%s after two backward calls is not 2x (err %.3g)", c->name,
              c->ps[p].name, worst);
    }

    /* Gradient check against the first (single) backward. */
    double worst = 0.0;
    const char *where = "-";
    size_t where_i = 0;
    for (int p = 0; p < c->np; p++) {
        param *pp = &c->ps[p];
        for (size_t i = 0; i < pp->count; i++) {
            const float keep = pp->v[i];
            pp->v[i] = keep + c->eps;
            const float up = pp->v[i];
            const double lp = loss(c, y, r);
            pp->v[i] = keep - c->eps;
            const float dn = pp->v[i];
            const double lm = loss(c, y, r);
            pp->v[i] = keep;
            const double num = (lp - lm) / ((double)up - (double)dn);
            const double e = fabs(num - once[p][i]) / (1.0 + fabs(once[p][i]));
            if (e > worst) { worst = e; where = pp->name; where_i = i; }
        }
    }
    printf("  %-28s grad err %.2e (worst at d%s[%zu])\n", c->name, worst, where, where_i);
    CHECK(worst < GRAD_TOL, "%s: gradient error %.3g at d%s[%zu] (tolerance %.0e)", c->name, worst,
          where, where_i, GRAD_TOL);

    for (int p = 0; p < c->np; p++) free(once[p]);
    free(y);
    free(r);
    return worst;
}

/* ---- convolution and transposed convolution ---------------------------------------------- */

typedef struct {
    int n, ci, h, w, co, k, s, p, ho, wo;
    float *x, *wt, *b, *dx, *dw, *db;
} conv_ctx;

static void conv_fwd(void *v, float *y)
{
    conv_ctx *c = v;
    ftn_conv2d_forward(c->x, c->n, c->ci, c->h, c->w, c->wt, c->b, c->co, c->k, c->s, c->p, y, c->ho, c->wo);
}
static void conv_bwd(void *v, const float *dy)
{
    conv_ctx *c = v;
    ftn_conv2d_backward(c->x, c->wt, dy, c->n, c->ci, c->h, c->w, c->co, c->k, c->s, c->p, c->ho, c->wo,
                    c->dx, c->dw, c->db);
}
static void deconv_fwd(void *v, float *y)
{
    conv_ctx *c = v;
    ftn_deconv2d_forward(c->x, c->n, c->ci, c->h, c->w, c->wt, c->b, c->co, c->k, c->s, c->p, y, c->ho, c->wo);
}
static void deconv_bwd(void *v, const float *dy)
{
    conv_ctx *c = v;
    ftn_deconv2d_backward(c->x, c->wt, dy, c->n, c->ci, c->h, c->w, c->co, c->k, c->s, c->p, c->ho, c->wo,
                      c->dx, c->dw, c->db);
}

static void check_conv(const char *name, int deconv, int n, int ci, int h, int co, int k, int s,
                       int p, int outpad)
{
    conv_ctx c = {.n = n, .ci = ci, .h = h, .w = h + 1, .co = co, .k = k, .s = s, .p = p};
    if (deconv) {
        c.ho = (c.h - 1) * s - 2 * p + k + outpad;
        c.wo = (c.w - 1) * s - 2 * p + k + outpad;
    } else {
        c.ho = (c.h + 2 * p - k) / s + 1;
        c.wo = (c.w + 2 * p - k) / s + 1;
    }
    size_t nx = (size_t)n * ci * c.h * c.w, nw = (size_t)ci * co * k * k;
    c.x = rand_buf(nx, -1, 1);
    c.wt = rand_buf(nw, -1, 1);
    c.b = rand_buf(co, -1, 1);
    c.dx = alloc(nx);
    c.dw = alloc(nw);
    c.db = alloc(co);
    gcase g = {.name = name, .ctx = &c, .fwd = deconv ? deconv_fwd : conv_fwd,
               .bwd = deconv ? deconv_bwd : conv_bwd, .ny = (size_t)n * co * c.ho * c.wo,
               .ps = {{"x", c.x, c.dx, nx}, {"w", c.wt, c.dw, nw}, {"b", c.b, c.db, (size_t)co}},
               .np = 3, .eps = 0.25f};
    run_case(&g);

    /* Results do not depend on the number of threads (bitwise). */
    float *y1 = alloc(g.ny), *y2 = alloc(g.ny), *dy = rand_buf(g.ny, -1, 1);
    float *g1 = alloc(nx + nw + co);
    int threads = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t == 0 ? 1 : 3);
        g.fwd(&c, t == 0 ? y1 : y2);
        zero_grads(&g);
        g.bwd(&c, dy);
        if (t == 0) {
            memcpy(g1, c.dx, nx * sizeof(float));
            memcpy(g1 + nx, c.dw, nw * sizeof(float));
            memcpy(g1 + nx + nw, c.db, co * sizeof(float));
        }
    }
    omp_set_num_threads(threads);
    CHECK(memcmp(y1, y2, g.ny * sizeof(float)) == 0, "%s: forward differs with 1 vs 3 threads", name);
    CHECK(memcmp(g1, c.dx, nx * sizeof(float)) == 0 && memcmp(g1 + nx, c.dw, nw * sizeof(float)) == 0 &&
              memcmp(g1 + nx + nw, c.db, co * sizeof(float)) == 0,
          "%s: backward differs with 1 vs 3 threads", name);

    /* NULL gradients are skipped. */
    g.fwd(&c, y1);
    if (deconv)
        ftn_deconv2d_backward(c.x, c.wt, dy, n, ci, c.h, c.w, co, k, s, p, c.ho, c.wo, NULL, NULL, NULL);
    else
        ftn_conv2d_backward(c.x, c.wt, dy, n, ci, c.h, c.w, co, k, s, p, c.ho, c.wo, NULL, NULL, NULL);

    free(y1); free(y2); free(dy); free(g1);
    free(c.x); free(c.wt); free(c.b); free(c.dx); free(c.dw); free(c.db);
}

/* ---- batch normalisation ----------------------------------------------------------------- */

typedef struct {
    int n, c, hw;
    float eps;
    float *x, *gamma, *beta, *dx, *dgamma, *dbeta, *mean, *var, *y;
} bn_ctx;

static void bn_fwd(void *v, float *y)
{
    bn_ctx *b = v;
    ftn_batchnorm_forward_train(b->x, b->n, b->c, b->hw, b->gamma, b->beta, b->eps, y, b->mean, b->var);
}
static void bn_bwd(void *v, const float *dy)
{
    bn_ctx *b = v;
    bn_fwd(b, b->y);
    ftn_batchnorm_backward(b->x, dy, b->n, b->c, b->hw, b->gamma, b->mean, b->var, b->eps, b->dx,
                       b->dgamma, b->dbeta);
}

static void check_bn(void)
{
    bn_ctx b = {.n = 2, .c = 3, .hw = 25, .eps = 1e-3f};
    size_t nx = (size_t)b.n * b.c * b.hw;
    b.x = rand_buf(nx, -1, 1);
    b.gamma = rand_buf(b.c, 0.5f, 1.5f);
    b.beta = rand_buf(b.c, -1, 1);
    b.dx = alloc(nx); b.dgamma = alloc(b.c); b.dbeta = alloc(b.c);
    b.mean = alloc(b.c); b.var = alloc(b.c); b.y = alloc(nx);
    gcase g = {.name = "batchnorm train", .ctx = &b, .fwd = bn_fwd, .bwd = bn_bwd, .ny = nx,
               .ps = {{"x", b.x, b.dx, nx}, {"gamma", b.gamma, b.dgamma, (size_t)b.c},
                      {"beta", b.beta, b.dbeta, (size_t)b.c}},
               .np = 3, .eps = 1e-2f};
    run_case(&g);
    ftn_batchnorm_backward(b.x, b.y, b.n, b.c, b.hw, b.gamma, b.mean, b.var, b.eps, NULL, NULL, NULL);
    free(b.x); free(b.gamma); free(b.beta); free(b.dx); free(b.dgamma); free(b.dbeta);
    free(b.mean); free(b.var); free(b.y);
}

/* ---- element-wise, pooling, upsampling, concat ------------------------------------------- */

typedef struct {
    int n, c, h, w, hw;
    size_t count;
    float *x, *a, *dx, *da, *y;
    float *xs[3], *dxs[3];
    int cs[3];
} ew_ctx;

static void relu_f(void *v, float *y) { ew_ctx *e = v; ftn_relu_forward(e->x, e->count, y); }
static void relu_b(void *v, const float *dy)
{
    ew_ctx *e = v;
    ftn_relu_forward(e->x, e->count, e->y);
    ftn_relu_backward(e->y, dy, e->count, e->dx);
}
static void sig_f(void *v, float *y) { ew_ctx *e = v; ftn_sigmoid_forward(e->x, e->count, y); }
static void sig_b(void *v, const float *dy)
{
    ew_ctx *e = v;
    ftn_sigmoid_forward(e->x, e->count, e->y);
    ftn_sigmoid_backward(e->y, dy, e->count, e->dx);
}
static void maxp_f(void *v, float *y) { ew_ctx *e = v; ftn_maxpool2_forward(e->x, e->n, e->c, e->h, e->w, y); }
static void maxp_b(void *v, const float *dy)
{
    ew_ctx *e = v;
    ftn_maxpool2_backward(e->x, dy, e->n, e->c, e->h, e->w, e->dx);
}
static void avgp_f(void *v, float *y) { ew_ctx *e = v; ftn_avgpool2_forward(e->x, e->n, e->c, e->h, e->w, y); }
static void avgp_b(void *v, const float *dy) { ew_ctx *e = v; ftn_avgpool2_backward(dy, e->n, e->c, e->h, e->w, e->dx); }
static void up_f(void *v, float *y) { ew_ctx *e = v; ftn_up2x_forward(e->x, e->n, e->c, e->h, e->w, y); }
static void up_b(void *v, const float *dy) { ew_ctx *e = v; ftn_up2x_backward(dy, e->n, e->c, e->h, e->w, e->dx); }
static void add_f(void *v, float *y) { ew_ctx *e = v; ftn_add_forward(e->x, e->a, e->count, y); }
static void add_b(void *v, const float *dy) { ew_ctx *e = v; ftn_add_backward(dy, e->count, e->dx, e->da); }
static void mul_f(void *v, float *y) { ew_ctx *e = v; ftn_mul_bcast_forward(e->x, e->a, e->n, e->c, e->hw, y); }
static void mul_b(void *v, const float *dy)
{
    ew_ctx *e = v;
    ftn_mul_bcast_backward(e->x, e->a, dy, e->n, e->c, e->hw, e->dx, e->da);
}
static void cat_f(void *v, float *y)
{
    ew_ctx *e = v;
    ftn_concat_forward((const float *const *)e->xs, e->cs, 3, e->n, e->hw, y);
}
static void cat_b(void *v, const float *dy) { ew_ctx *e = v; ftn_concat_backward(dy, e->cs, 3, e->n, e->hw, e->dxs); }

static void check_elementwise(void)
{
    const int n = 2, c = 3, h = 6, w = 8;
    const size_t count = (size_t)n * c * h * w;
    ew_ctx e = {.n = n, .c = c, .h = h, .w = w, .hw = h * w, .count = count};
    e.dx = alloc(count); e.da = alloc(count); e.y = alloc(count);

    /* ReLU: |x| ≥ 0.1 by construction (gap 0.2, centred), ε = 0.05 never crosses the kink. */
    e.x = distinct_buf(count, 0.02f);
    for (size_t i = 0; i < count; i++) e.x[i] += e.x[i] >= 0 ? 0.1f : -0.1f;
    gcase relu = {"relu", &e, relu_f, relu_b, count, {{"x", e.x, e.dx, count}}, 1, 0.05f};
    run_case(&relu);
    ftn_relu_backward(e.y, e.x, count, NULL);
    free(e.x);

    e.x = rand_buf(count, -4, 4);
    gcase sig = {"sigmoid", &e, sig_f, sig_b, count, {{"x", e.x, e.dx, count}}, 1, 1e-2f};
    run_case(&sig);
    ftn_sigmoid_backward(e.y, e.x, count, NULL);
    free(e.x);

    /* Max-pool: distinct values 0.02 apart, ε = 0.005 never changes a window's argmax. */
    e.x = distinct_buf(count, 0.02f);
    gcase maxp = {"maxpool2", &e, maxp_f, maxp_b, count / 4, {{"x", e.x, e.dx, count}}, 1, 0.005f};
    run_case(&maxp);
    ftn_maxpool2_backward(e.x, e.y, n, c, h, w, NULL);
    free(e.x);

    e.x = rand_buf(count, -1, 1);
    gcase avgp = {"avgpool2", &e, avgp_f, avgp_b, count / 4, {{"x", e.x, e.dx, count}}, 1, 0.25f};
    run_case(&avgp);
    ftn_avgpool2_backward(e.y, n, c, h, w, NULL);

    /* up2x on a h/2 × w/2 input reusing the same buffers (output = count elements). */
    e.h = h / 2; e.w = w / 2;
    gcase up = {"up2x", &e, up_f, up_b, count, {{"x", e.x, e.dx, count / 4}}, 1, 0.25f};
    run_case(&up);
    ftn_up2x_backward(e.y, n, c, e.h, e.w, NULL);
    e.h = h; e.w = w;

    e.a = rand_buf(count, -1, 1);
    gcase add = {"add", &e, add_f, add_b, count,
                 {{"a", e.x, e.dx, count}, {"b", e.a, e.da, count}}, 2, 0.25f};
    run_case(&add);
    ftn_add_backward(e.y, count, NULL, NULL);

    gcase mul = {"mul_bcast", &e, mul_f, mul_b, count,
                 {{"x", e.x, e.dx, count}, {"a", e.a, e.da, (size_t)n * e.hw}}, 2, 0.25f};
    run_case(&mul);
    ftn_mul_bcast_backward(e.x, e.a, e.y, n, c, e.hw, NULL, NULL);

    /* concat of three inputs with 2, 3 and 1 channels (the middle one's gradient checked via
     * the others being independent parameters too). */
    e.cs[0] = 2; e.cs[1] = 3; e.cs[2] = 1;
    gcase cat = {"concat (2,3,1)", &e, cat_f, cat_b, (size_t)n * 6 * e.hw, {{0}}, 3, 0.25f};
    for (int i = 0; i < 3; i++) {
        size_t ci = (size_t)n * e.cs[i] * e.hw;
        e.xs[i] = rand_buf(ci, -1, 1);
        e.dxs[i] = alloc(ci);
        cat.ps[i] = (param){i == 0 ? "x0" : i == 1 ? "x1" : "x2", e.xs[i], e.dxs[i], ci};
    }
    float *ycat = alloc(cat.ny);
    run_case(&cat);
    float *skip[3] = {NULL, e.dxs[1], NULL};
    memset(e.dxs[1], 0, (size_t)n * 3 * e.hw * sizeof(float));
    tl_fill_uniform(ycat, cat.ny, &rng, -1, 1);
    ftn_concat_backward(ycat, e.cs, 3, n, e.hw, skip);
    CHECK(e.dxs[1][0] == ycat[2 * e.hw], "concat backward with NULL siblings routes x1's gradient");
    free(ycat);
    for (int i = 0; i < 3; i++) { free(e.xs[i]); free(e.dxs[i]); }

    free(e.x); free(e.a); free(e.dx); free(e.da); free(e.y);
}

/* ---- hand-computed forward cases --------------------------------------------------------- */

static int near(float a, float b, float tol) { return fabsf(a - b) <= tol * (1.0f + fabsf(b)); }

static void hand_conv(void)
{
    /* x = 1..16 (4×4), w = 1..9 (3×3), bias 0.5, pad 1: y[0][0] = 5·1 + 6·2 + 8·5 + 9·6 = 111,
     * y[1][1] = Σ w·x over rows/cols 0..2 = 348, y[3][3] = 1·11 + 2·12 + 4·15 + 5·16 = 175,
     * y[0][3] = 4·3 + 5·4 + 7·7 + 8·8 = 145 (a kh/kw swap would give 95). */
    float x[16], w[9], b = 0.5f, y[16];
    for (int i = 0; i < 16; i++) x[i] = (float)(i + 1);
    for (int i = 0; i < 9; i++) w[i] = (float)(i + 1);
    ftn_conv2d_forward(x, 1, 1, 4, 4, w, &b, 1, 3, 1, 1, y, 4, 4);
    CHECK(y[0] == 111.5f, "conv y[0][0] = %g", y[0]);
    CHECK(y[5] == 348.5f, "conv y[1][1] = %g", y[5]);
    CHECK(y[15] == 175.5f, "conv y[3][3] = %g", y[15]);
    CHECK(y[3] == 145.5f, "conv y[0][3] = %g", y[3]);

    /* 2×2 stride 2, no pad: y[0][0] = 1·1 + 2·2 + 3·5 + 4·6 = 44; y[1][1] = 11 + 24 + 45 + 64 = 144. */
    float w2[4] = {1, 2, 3, 4}, y2[4];
    ftn_conv2d_forward(x, 1, 1, 4, 4, w2, NULL, 1, 2, 2, 0, y2, 2, 2);
    CHECK(y2[0] == 44.0f && y2[3] == 144.0f, "conv 2x2 s2: %g %g", y2[0], y2[3]);
}

static void hand_deconv(void)
{
    /* upT: 3×3, stride 2, pad 1, outpad 1 on 2×2 → exactly 4×4. x = [1 2; 3 4], w = 1..9,
     * bias 0.25. Output row 0 ← (iy 0, ky 1); row 1 ← (0, 2), (1, 0); row 2 ← (1, 1); row 3 ← (1, 2),
     * columns alike: y00 = 1·5, y01 = 1·6 + 2·4, y11 = 1·9 + 2·7 + 3·3 + 4·1, y33 = 4·9,
     * y23 = 4·6, y30 = 3·8. */
    const int h = 2, k = 3, s = 2, p = 1, op = 1, ho = (h - 1) * s - 2 * p + k + op;
    CHECK(ho == 2 * h, "upT output is 2H (%d)", ho);
    float x[4] = {1, 2, 3, 4}, w[9], b = 0.25f, y[16];
    for (int i = 0; i < 9; i++) w[i] = (float)(i + 1);
    for (int i = 0; i < 16; i++) y[i] = NAN; /* forward must overwrite every element */
    ftn_deconv2d_forward(x, 1, 1, 2, 2, w, &b, 1, k, s, p, y, ho, ho);
    CHECK(y[0] == 5.25f, "deconv y00 = %g", y[0]);
    CHECK(y[1] == 14.25f, "deconv y01 = %g", y[1]);
    CHECK(y[5] == 36.25f, "deconv y11 = %g", y[5]);
    CHECK(y[15] == 36.25f, "deconv y33 = %g", y[15]);
    CHECK(y[11] == 24.25f, "deconv y23 = %g", y[11]);
    CHECK(y[12] == 24.25f, "deconv y30 = %g", y[12]);
    int finite = 1;
    for (int i = 0; i < 16; i++) finite &= isfinite(y[i]) != 0;
    CHECK(finite, "deconv writes all of 2H x 2W");

    /* Weight layout [ci,co,k,k]: ci = 1, co = 2 with 1×1 kernels scales x per output channel. */
    float w2[2] = {2, -3}, b2[2] = {0, 1}, y2[8];
    ftn_deconv2d_forward(x, 1, 1, 2, 2, w2, b2, 2, 1, 1, 0, y2, 2, 2);
    CHECK(y2[3] == 8.0f && y2[7] == -11.0f, "deconv 1x1 co=2: %g %g", y2[3], y2[7]);
}

static void hand_bn(void)
{
    const int n = 2, c = 2, hw = 9;
    float x[36], y[36], mean[2], var[2];
    for (int i = 0; i < 36; i++) x[i] = tl_uniform(&rng, -3, 5) + (i % 18 < 9 ? 0.0f : 10.0f);
    float gamma[2] = {1, 1}, beta[2] = {0, 0}, eps = 1e-3f;
    ftn_batchnorm_forward_train(x, n, c, hw, gamma, beta, eps, y, mean, var);
    for (int ch = 0; ch < c; ch++) {
        double sx = 0, sy = 0, syy = 0;
        for (int in = 0; in < n; in++)
            for (int i = 0; i < hw; i++) {
                sx += x[(in * c + ch) * hw + i];
                sy += y[(in * c + ch) * hw + i];
            }
        double mx = sx / 18, sxx = 0;
        for (int in = 0; in < n; in++)
            for (int i = 0; i < hw; i++) {
                double d = x[(in * c + ch) * hw + i] - mx;
                sxx += d * d;
                syy += (double)y[(in * c + ch) * hw + i] * y[(in * c + ch) * hw + i];
            }
        double vx = sxx / 18; /* biased */
        CHECK(fabs(mean[ch] - mx) < 1e-5, "bn mean[%d] %g vs %g", ch, mean[ch], mx);
        CHECK(fabs(var[ch] - vx) < 1e-5 * vx, "bn var[%d] %g vs biased %g", ch, var[ch], vx);
        CHECK(fabs(sy / 18) < 1e-6, "bn output mean[%d] = %g", ch, sy / 18);
        /* unit variance up to eps: var(y) = v / (v + eps) */
        CHECK(fabs(syy / 18 - vx / (vx + eps)) < 1e-5, "bn output var[%d] = %g", ch, syy / 18);
        CHECK(fabs(syy / 18 - 1.0) < 1e-3, "bn output var[%d] = %g", ch, syy / 18);
    }

    /* Inference: y = γ(x − rm)/√(rv + eps) + β with rm = 1, rv = 3, eps = 1, γ = 2, β = 0.5:
     * x = 5 → 2·4/2 + 0.5 = 4.5. */
    float xi[2] = {5, 1}, yi[2], g1 = 2, b1 = 0.5f, rm = 1, rv = 3;
    ftn_batchnorm_forward_infer(xi, 2, 1, 1, &g1, &b1, &rm, &rv, 1.0f, yi);
    CHECK(near(yi[0], 4.5f, 1e-6f) && near(yi[1], 0.5f, 1e-6f), "bn infer %g %g", yi[0], yi[1]);

    /* Running statistics, momentum 0.99, m = 4: rv = 0.99·1 + 0.01·var·4/3. */
    float bm[2] = {1, 2}, bv[2] = {2, 4}, rms[2] = {0, 0}, rvs[2] = {1, 1};
    ftn_batchnorm_update_running(bm, bv, 2, 4, 0.99f, rms, rvs);
    CHECK(near(rms[0], 0.01f, 1e-5f) && near(rms[1], 0.02f, 1e-5f), "running mean %g %g", rms[0], rms[1]);
    CHECK(near(rvs[0], 0.99f + 0.02f * 4 / 3, 1e-6f) && near(rvs[1], 0.99f + 0.04f * 4 / 3, 1e-6f),
          "running var (unbiased) %.7f %.7f", rvs[0], rvs[1]);
}

static void hand_small(void)
{
    /* Max-pool ties: windows [3 5; 5 1], [2 2; 2 2], [0 1; 2 7] → gradient to the first maximum. */
    float x[12] = {3, 5, 2, 2, 0, 1,
                   5, 1, 2, 2, 2, 7};
    float y[3], dy[3] = {10, 20, 30}, dx[12] = {0};
    ftn_maxpool2_forward(x, 1, 1, 2, 6, y);
    CHECK(y[0] == 5 && y[1] == 2 && y[2] == 7, "maxpool %g %g %g", y[0], y[1], y[2]);
    ftn_maxpool2_backward(x, dy, 1, 1, 2, 6, dx);
    float want[12] = {0, 10, 20, 0, 0, 0,
                      0, 0, 0, 0, 0, 30};
    CHECK(memcmp(dx, want, sizeof dx) == 0, "maxpool tie goes to the first maximum");

    float ya[3];
    ftn_avgpool2_forward(x, 1, 1, 2, 6, ya);
    CHECK(ya[0] == 3.5f && ya[1] == 2 && ya[2] == 2.5f, "avgpool %g %g %g", ya[0], ya[1], ya[2]);

    float xu[2] = {1, 2}, yu[8];
    ftn_up2x_forward(xu, 1, 1, 1, 2, yu);
    float wu[8] = {1, 1, 2, 2, 1, 1, 2, 2};
    CHECK(memcmp(yu, wu, sizeof yu) == 0, "up2x nearest");

    /* Concat: a (1 channel), b (2 channels), n = 2, hw = 2 → per image [a, b0, b1]. */
    float a[4] = {1, 2, 3, 4}, b[8] = {10, 11, 12, 13, 20, 21, 22, 23}, yc[12];
    const float *xs[2] = {a, b};
    int cs[2] = {1, 2};
    ftn_concat_forward(xs, cs, 2, 2, 2, yc);
    float wc[12] = {1, 2, 10, 11, 12, 13, 3, 4, 20, 21, 22, 23};
    CHECK(memcmp(yc, wc, sizeof yc) == 0, "concat order a-then-b per image");

    /* mul_bcast: x 1×2×3, a 1×1×3 → each channel times a. */
    float xm[6] = {1, 2, 3, 4, 5, 6}, am[3] = {2, 0, -1}, ym[6];
    ftn_mul_bcast_forward(xm, am, 1, 2, 3, ym);
    float wm[6] = {2, 0, -3, 8, 0, -6};
    CHECK(memcmp(ym, wm, sizeof ym) == 0, "mul broadcast over channels");
    float dym[6] = {1, 1, 1, 1, 1, 1}, dam[3] = {0};
    ftn_mul_bcast_backward(xm, am, dym, 1, 2, 3, NULL, dam);
    CHECK(dam[0] == 5 && dam[1] == 7 && dam[2] == 9, "mul da sums channels %g %g %g", dam[0], dam[1], dam[2]);

    /* add with both gradients aliased (y = a + a) gets 2·dy. */
    float d2[2] = {0, 0}, dy2[2] = {1, -2};
    ftn_add_backward(dy2, 2, d2, d2);
    CHECK(d2[0] == 2 && d2[1] == -4, "add aliased gradients");

    /* Sigmoid is finite and saturates cleanly for large |x|. */
    float xs_[5] = {-1000, -100, 0, 100, 1000}, ys[5];
    ftn_sigmoid_forward(xs_, 5, ys);
    CHECK(ys[0] == 0 && ys[1] >= 0 && ys[1] < 1e-40f && ys[2] == 0.5f && ys[3] == 1 && ys[4] == 1,
          "sigmoid extremes %g %g %g %g %g", ys[0], ys[1], ys[2], ys[3], ys[4]);
    float dys[5] = {1, 1, 1, 1, 1}, dxs[5] = {0};
    ftn_sigmoid_backward(ys, dys, 5, dxs);
    int fin = 1;
    for (int i = 0; i < 5; i++) fin &= isfinite(dxs[i]) != 0;
    CHECK(fin && dxs[2] == 0.25f, "sigmoid backward finite, 0.25 at 0");

    float xr[3] = {-1, 0, 2}, yr[3], dr[3] = {0};
    ftn_relu_forward(xr, 3, yr);
    ftn_relu_backward(yr, dys, 3, dr);
    CHECK(yr[0] == 0 && yr[1] == 0 && yr[2] == 2 && dr[0] == 0 && dr[1] == 0 && dr[2] == 1, "relu");
}

int main(void)
{
    hand_conv();
    hand_deconv();
    hand_bn();
    hand_small();

    printf("gradient checks (tolerance %.0e):\n", GRAD_TOL);
    /*               name                  deconv n ci h co k s p outpad */
    check_conv("conv 3x3 s1 p1",             0, 2, 3, 6, 4, 3, 1, 1, 0);
    check_conv("conv 2x2 s2 p0",             0, 2, 4, 8, 3, 2, 2, 0, 0);
    check_conv("conv 1x1",                   0, 2, 5, 5, 3, 1, 1, 0, 0);
    check_conv("conv 3x3 s2 p1 (odd size)",  0, 2, 3, 7, 2, 3, 2, 1, 0);
    check_conv("deconv 3x3 s2 p1 op1",       1, 2, 3, 4, 4, 3, 2, 1, 1);
    check_conv("deconv 3x3 s1 p1",           1, 2, 4, 5, 3, 3, 1, 1, 0);
    check_conv("deconv 2x2 s2 p0",           1, 2, 3, 4, 5, 2, 2, 0, 0);
    check_bn();
    check_elementwise();
    return tl_finish();
}
