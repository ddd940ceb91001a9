/* Dice, Tversky, focal Tversky and Dice+BCE: values by hand, gradients by finite differences, the
 * focal gradient's bound near TI = 1, BCE's clamp, and deep supervision's wiring and weights
 * (through a session: the weighted sum by hand and its gradient by central differences). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph.h"
#include "ftunet.h"
#include "losses/losses.h"
#include "model/model.h"
#include "testlib.h"

/* Central differences in double around each p_i. Planting a bug shows the tolerance bites: with
 * the β term's (1−m) written as m, the check reported 0.31 here against the 1e-3 bound. */
static double gradcheck_h(ftn_loss_kind kind, const ftn_loss_config *c, int n, size_t hw, uint64_t seed, float h)
{
    size_t N = (size_t)n * hw;
    float *p = malloc(N * 4), *m = malloc(N * 4), *dp = malloc(N * 4), *tmp = malloc(N * 4);
    uint64_t s = seed;
    tl_fill_uniform(p, N, &s, 0.05f, 0.95f);
    for (size_t i = 0; i < N; i++) m[i] = tl_uniform(&s, 0, 1) < 0.3f;
    ftn_loss_eval(kind, c, p, m, n, hw, dp);
    double worst = 0;
    for (size_t i = 0; i < N; i++) {
        float keep = p[i];
        p[i] = keep + h;
        double lp = ftn_loss_eval(kind, c, p, m, n, hw, tmp);
        p[i] = keep - h;
        double lm = ftn_loss_eval(kind, c, p, m, n, hw, tmp);
        p[i] = keep;
        double num = (lp - lm) / (2.0 * ((double)(keep + h) - (double)keep));
        double err = fabs(num - dp[i]) / (fabs(num) + 1e-3);
        if (err > worst) worst = err;
    }
    free(p); free(m); free(dp); free(tmp);
    return worst;
}

static double gradcheck(ftn_loss_kind kind, const ftn_loss_config *c, int n, size_t hw, uint64_t seed)
{
    return gradcheck_h(kind, c, n, hw, seed, 1e-2f);
}

/* BCE's −ln p has a third derivative of 2/p³: at p = 0.05 the central difference's truncation
 * error with h = 1e-2 is h²/(3p²) ≈ 1.3 % of the gradient, so Dice+BCE is checked with h = 1e-3
 * (the losses are evaluated in double, so the smaller step costs no precision). */
static double gradcheck_bce(const ftn_loss_config *c, int n, size_t hw, uint64_t seed)
{
    return gradcheck_h(FTN_LOSS_DICE_BCE, c, n, hw, seed, 1e-3f);
}


/* Dice+BCE by hand: p = [0.9, 0.5, 0.2, 0.1], m = [1, 1, 0, 1]: Σpm = 1.5, Σp = 1.7, Σm = 3, so
 * DL = 1 − (2·1.5 + 1)/(1.7 + 3 + 1) = 1 − 4/5.7; BCE = −(ln 0.9 + ln 0.5 + ln 0.8 + ln 0.1)/4. */
static void check_dice_bce_values(void)
{
    float p[4] = { 0.9f, 0.5f, 0.2f, 0.1f }, m[4] = { 1, 1, 0, 1 }, dp[4];
    double dl = 1 - 4.0 / 5.7, bce = -(log(0.9) + log(0.5) + log(0.8) + log(0.1)) / 4;
    ftn_loss_config c = ftn_loss_default(FTN_LOSS_DICE_BCE);
    CHECK(c.dice_weight == 1 && c.bce_weight == 1, "equal weights by default");
    double v = ftn_loss_eval(FTN_LOSS_DICE_BCE, &c, p, m, 1, 4, dp);
    CHECK(fabs(v - (dl + bce)) < 1e-6, "dice-bce %.9g, by hand %.9g", v, dl + bce);
    /* dBCE/dp_i = (p − g)/(p(1 − p))/4 on top of Dice's: pixel 3 (p 0.2, g 0) gets 1/(0.8·4) */
    float dd[4];
    ftn_loss_eval(FTN_LOSS_DICE, &c, p, m, 1, 4, dd);
    CHECK(fabs(dp[2] - (dd[2] + 0.2 / (0.2 * 0.8) / 4)) < 1e-6, "%g", dp[2]);
    c.bce_weight = 0.5f, c.dice_weight = 2;
    v = ftn_loss_eval(FTN_LOSS_DICE_BCE, &c, p, m, 1, 4, dp);
    CHECK(fabs(v - (2 * dl + 0.5 * bce)) < 1e-6, "weighted %.9g", v);
    /* per-image reduction: Dice per image averaged, BCE over every pixel (the same mean) */
    float p2[8] = { 0.9f, 0.5f, 0.2f, 0.1f, 0.3f, 0.6f, 0.7f, 0.4f }, m2[8] = { 1, 1, 0, 1, 0, 1, 1, 0 }, dp2[8];
    ftn_loss_config ci = ftn_loss_default(FTN_LOSS_DICE_BCE);
    ci.reduction = FTN_REDUCE_IMAGE;
    double dl2 = 1 - (2 * 1.3 + 1) / (2.0 + 2 + 1);
    double bce2 = -(log(0.9) + log(0.5) + log(0.8) + log(0.1) + log(0.7) + log(0.6) + log(0.7) + log(0.6)) / 8;
    v = ftn_loss_eval(FTN_LOSS_DICE_BCE, &ci, p2, m2, 2, 4, dp2);
    CHECK(fabs(v - ((dl + dl2) / 2 + bce2)) < 1e-6, "per image %.9g, by hand %.9g", v, (dl + dl2) / 2 + bce2);
    /* a saturated prediction: ln is taken of p clamped to [1e-7, 1 − 1e-7], gradient 0 there */
    float ps[4] = { 0, 1, 0.5f, 0.5f }, ms[4] = { 1, 0, 1, 0 };
    ftn_loss_config cb = ftn_loss_default(FTN_LOSS_DICE_BCE);
    cb.dice_weight = 0;
    v = ftn_loss_eval(FTN_LOSS_DICE_BCE, &cb, ps, ms, 1, 4, dp);
    double want = (-2 * log(1e-7) - 2 * log(0.5)) / 4;
    CHECK(isfinite(v) && fabs(v - want) < 1e-5, "clamped %.9g, by hand %.9g", v, want);
    CHECK(dp[0] == 0 && dp[1] == 0 && fabs(dp[2] + 0.5) < 1e-6 && fabs(dp[3] - 0.5) < 1e-6, "%g %g %g %g", dp[0], dp[1],
          dp[2], dp[3]);
}

static void check_ds_weight_parsing(void)
{
    ftn_loss_config c = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    CHECK(c.n_ds_weights == 0 && ftn_loss_output_weight(&c, 0, 4) == 1 && ftn_loss_output_weight(&c, 3, 4) == 1,
          "the spec's: every output 1");
    CHECK_OK(ftn_loss_parse_ds_weights("0,0.25,0.5,1", &c));
    CHECK(c.n_ds_weights == 4 && c.ds_weights[0] == 0 && c.ds_weights[1] == 0.25f && c.ds_weights[3] == 1);
    CHECK(ftn_loss_output_weight(&c, 1, 4) == 0.25f && ftn_loss_output_weight(&c, 0, 1) == 1, "one output: no DS");
    ftn_loss_config keep = c;
    const char *bad[] = { "", "1,-1,1,1", "a", "0,0,0,0", "1,1,1,1,1", "1,,1", "1,1,", "nan", NULL };
    for (int i = 0; bad[i]; i++) {
        CHECK(ftn_loss_parse_ds_weights(bad[i], &c) == FTN_EINVAL, "'%s' accepted", bad[i]);
        CHECK(!memcmp(&c, &keep, sizeof c), "'%s' changed the config", bad[i]);
    }
    CHECK_OK(ftn_loss_check(&c, 4));
    CHECK(ftn_loss_check(&c, 3) == FTN_EINVAL && strstr(ftn_last_error(), "4 deep-supervision weights"), "%s",
          ftn_last_error());
    CHECK_OK(ftn_loss_check(&c, 1)); /* a network without deep supervision ignores them */
    ftn_loss_config b = ftn_loss_default(FTN_LOSS_DICE_BCE);
    b.dice_weight = b.bce_weight = 0;
    CHECK(ftn_loss_check(&b, 1) == FTN_EINVAL && strstr(ftn_last_error(), "bce weight"), "%s", ftn_last_error());

    /* ftn_loss_output: weight 1 is ftn_loss_eval's bytes; another weight scales loss and gradient */
    float p[6] = { 0.2f, 0.7f, 0.4f, 0.9f, 0.3f, 0.6f }, m[6] = { 0, 1, 1, 1, 0, 0 }, d1[6], d2[6];
    ftn_loss_config f = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    double a = ftn_loss_eval(FTN_LOSS_TVERSKY, &f, p, m, 1, 6, d1);
    double o = ftn_loss_output(&f, 3, 4, p, m, 1, 6, d2);
    CHECK(a == o && !memcmp(d1, d2, sizeof d1), "weight 1: TL on the last output, unchanged");
    f.n_ds_weights = 4, f.ds_weights[3] = 0.5f;
    o = ftn_loss_output(&f, 3, 4, p, m, 1, 6, d2);
    CHECK(fabs(o - 0.5 * a) < 1e-12, "%g %g", o, a);
    for (int i = 0; i < 6; i++) CHECK(d2[i] == 0.5f * d1[i]);
}

/* Through a session (attn-unet-mi-ds, 16×16, batch 2, reference engine): the loss with
 * deep-supervision weights is Σ w_k · loss_k of the outputs against the strided masks, computed
 * here with ftn_loss_eval; and its gradient w.r.t. every output element against central
 * differences of ftn_session_loss. */
static void check_session_ds_weights(ftn_loss_kind kind, const char *weights)
{
    ftn_model *m;
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, 16, 16, &m));
    ftn_model_init(m, 5);
    ftn_session *s;
    CHECK_OK(ftn_session_create(m, 2, FTN_ENGINE_REF, &s));
    float x[2 * 256], mask[2 * 256];
    uint64_t st = 17;
    tl_fill_uniform(x, 512, &st, 0, 1);
    for (int i = 0; i < 512; i++) mask[i] = tl_uniform(&st, 0, 1) < 0.4f;
    ftn_loss_config c = ftn_loss_default(kind);
    CHECK_OK(ftn_loss_parse_ds_weights(weights, &c));
    CHECK_OK(ftn_session_forward(s, x, 1));
    float l0;
    CHECK_OK(ftn_session_loss(s, mask, &c, &l0));
    ftn_exec *ex = s->exec;
    double want = 0;
    for (int k = 0; k < 4; k++) {
        int stride = 8 >> k, side = 16 / stride;
        float sub[2 * 256], scratch[2 * 256];
        for (int i = 0; i < 2; i++)
            for (int y = 0; y < side; y++)
                for (int xx = 0; xx < side; xx++)
                    sub[(i * side + y) * side + xx] = mask[(i * 16 + y * stride) * 16 + xx * stride];
        ftn_loss_kind lk = kind == FTN_LOSS_FOCAL_TVERSKY && k == 3 ? FTN_LOSS_TVERSKY : kind;
        want += c.ds_weights[k] * ftn_loss_eval(lk, &c, ex->outputs[k], sub, 2, (size_t)side * side, scratch);
    }
    CHECK(fabs(want - l0) < 1e-5 * fabs(want), "%s weights %s: loss %g, by hand %g", ftn_loss_name(kind), weights, l0, want);
    double worst = 0;
    for (int k = 0; k < 4; k++) {
        size_t n = ftn_shape_count(s->graph.tensors[s->graph.outputs[k]].shape);
        float *ana = malloc(n * 4);
        memcpy(ana, ex->d_outputs[k], n * 4);
        for (size_t i = 0; i < n; i++) {
            float keep = ex->outputs[k][i], lp, lm;
            const float h = 1e-3f;
            ex->outputs[k][i] = keep + h; ftn_session_loss(s, mask, &c, &lp);
            ex->outputs[k][i] = keep - h; ftn_session_loss(s, mask, &c, &lm);
            ex->outputs[k][i] = keep;
            double num = ((double)lp - lm) / (2 * h);
            double err = fabs(num - ana[i]) / (fabs(ana[i]) + 1e-3);
            if (err > worst) worst = err;
        }
        free(ana);
    }
    /* float32 loss values: differences of ~1e-6 are resolved to ~1 % (test_model_gradcheck's bound) */
    CHECK(worst < 0.05, "%s weights %s: worst relative error %g", ftn_loss_name(kind), weights, worst);
    ftn_session_free(s);
    ftn_model_free(m);
}

int main(void)
{
    ftn_loss_config c = ftn_loss_default(FTN_LOSS_TVERSKY);
    /* Hand values: p = [1, 0.5, 0, 0], m = [1, 1, 0, 1] → TP = 1.5, FN = 1.5, FP = 0 */
    float p[4] = { 1, 0.5f, 0, 0 }, m[4] = { 1, 1, 0, 1 }, dp[4];
    double ti = (1.5 + 1) / (1.5 + 0.7 * 1.5 + 0.3 * 0 + 1);
    CHECK(fabs(ftn_loss_eval(FTN_LOSS_TVERSKY, &c, p, m, 1, 4, dp) - (1 - ti)) < 1e-6);
    CHECK(fabs(ftn_loss_eval(FTN_LOSS_FOCAL_TVERSKY, &c, p, m, 1, 4, dp) - pow(1 - ti, 0.75)) < 1e-6);
    /* Dice: 1 − (2·1.5 + 1)/(1.5 + 3 + 1) */
    CHECK(fabs(ftn_loss_eval(FTN_LOSS_DICE, &c, p, m, 1, 4, dp) - (1 - 4.0 / 5.5)) < 1e-6);
    /* α = β = 0.5 Tversky equals Dice's index with smooth on both sides as defined */
    ftn_loss_config half = c;
    half.alpha = half.beta = 0.5f;
    double t = ftn_loss_eval(FTN_LOSS_TVERSKY, &half, p, m, 1, 4, dp);
    CHECK(fabs(t - (1 - (1.5 + 1) / (1.5 + 0.75 + 1))) < 1e-6);

    /* gradients, both reductions, all three losses */
    for (int red = 0; red < 2; red++) {
        ftn_loss_config cc = c;
        cc.reduction = red ? FTN_REDUCE_IMAGE : FTN_REDUCE_BATCH;
        CHECK(gradcheck(FTN_LOSS_DICE, &cc, 3, 20, 1) < 1e-3, "dice red %d: %g", red, gradcheck(FTN_LOSS_DICE, &cc, 3, 20, 1));
        CHECK(gradcheck(FTN_LOSS_TVERSKY, &cc, 3, 20, 2) < 1e-3, "tl red %d", red);
        CHECK(gradcheck(FTN_LOSS_FOCAL_TVERSKY, &cc, 3, 20, 3) < 1e-3, "ftl red %d: %g", red,
              gradcheck(FTN_LOSS_FOCAL_TVERSKY, &cc, 3, 20, 3));
        ftn_loss_config db = ftn_loss_default(FTN_LOSS_DICE_BCE);
        db.reduction = cc.reduction;
        CHECK(gradcheck_bce(&db, 3, 20, 4) < 1e-3, "dice-bce red %d: %g", red, gradcheck_bce(&db, 3, 20, 4));
        db.dice_weight = 0.3f, db.bce_weight = 2;
        CHECK(gradcheck_bce(&db, 3, 20, 5) < 1e-3, "weighted dice-bce red %d: %g", red, gradcheck_bce(&db, 3, 20, 5));
    }
    check_dice_bce_values();
    check_ds_weight_parsing();

    /* A perfect prediction: TI = 1, FTL = 0 and its gradient finite (x^0.75 has an unbounded
     * derivative at 0). Near-perfect too. */
    float pp[4] = { 1, 1, 0, 1 };
    double l = ftn_loss_eval(FTN_LOSS_FOCAL_TVERSKY, &c, pp, m, 1, 4, dp);
    CHECK(l == 0, "%g", l);
    for (int i = 0; i < 4; i++) CHECK(isfinite(dp[i]) && fabs(dp[i]) < 100, "dp[%d] = %g", i, dp[i]);
    float near[4] = { 1 - 1e-7f, 1, 1e-7f, 1 };
    l = ftn_loss_eval(FTN_LOSS_FOCAL_TVERSKY, &c, near, m, 1, 4, dp);
    CHECK(isfinite(l));
    for (int i = 0; i < 4; i++) CHECK(isfinite(dp[i]) && fabs(dp[i]) < 100, "dp[%d] = %g", i, dp[i]);

    /* Deep supervision: FTL on side outputs, TL on the last; DL and TL everywhere. */
    CHECK(ftn_loss_for_output(&c, 3, 4) == FTN_LOSS_TVERSKY);
    ftn_loss_config f = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    CHECK(ftn_loss_for_output(&f, 0, 4) == FTN_LOSS_FOCAL_TVERSKY);
    CHECK(ftn_loss_for_output(&f, 2, 4) == FTN_LOSS_FOCAL_TVERSKY);
    CHECK(ftn_loss_for_output(&f, 3, 4) == FTN_LOSS_TVERSKY);
    CHECK(ftn_loss_for_output(&f, 0, 1) == FTN_LOSS_FOCAL_TVERSKY, "a single output keeps FTL");
    ftn_loss_config d = ftn_loss_default(FTN_LOSS_DICE);
    CHECK(ftn_loss_for_output(&d, 3, 4) == FTN_LOSS_DICE);
    ftn_loss_config dbce = ftn_loss_default(FTN_LOSS_DICE_BCE);
    CHECK(ftn_loss_for_output(&dbce, 0, 4) == FTN_LOSS_DICE_BCE && ftn_loss_for_output(&dbce, 3, 4) == FTN_LOSS_DICE_BCE);

    /* mask[::2, ::2] */
    float mask[2 * 4 * 4], sub[2 * 2 * 2];
    for (int i = 0; i < 32; i++) mask[i] = (float)i;
    ftn_mask_subsample(mask, 2, 4, 4, 2, sub);
    float want[8] = { 0, 2, 8, 10, 16, 18, 24, 26 };
    for (int i = 0; i < 8; i++) CHECK(sub[i] == want[i], "sub[%d] = %g", i, sub[i]);

    /* a NaN prediction gives a NaN loss in every kind, for training to stop on (the focal
     * loss's clamp of 1 − TI at 0 used to turn it into 0) */
    for (int kind = FTN_LOSS_DICE; kind <= FTN_LOSS_DICE_BCE; kind++) {
        ftn_loss_config lc = ftn_loss_default((ftn_loss_kind)kind);
        float pn[4] = { 0.2f, NAN, 0.4f, 0.9f }, mn[4] = { 1, 1, 0, 0 }, dn[4];
        double v = ftn_loss_eval((ftn_loss_kind)kind, &lc, pn, mn, 1, 4, dn);
        CHECK(isnan(v), "%s loss of a NaN prediction: %g", ftn_loss_name((ftn_loss_kind)kind), v);
    }

    ftn_loss_kind k;
    CHECK(ftn_loss_parse("ftl", &k) == FTN_OK && k == FTN_LOSS_FOCAL_TVERSKY);
    CHECK(ftn_loss_parse("bce", &k) == FTN_EINVAL);
    CHECK(ftn_loss_parse("dice-bce", &k) == FTN_OK && k == FTN_LOSS_DICE_BCE && !strcmp(ftn_loss_name(k), "dice-bce"));

    ftn_set_threads(2);
    check_session_ds_weights(FTN_LOSS_FOCAL_TVERSKY, "0.125,0.25,0.5,2");
    check_session_ds_weights(FTN_LOSS_DICE_BCE, "1,1,1,1");
    check_session_ds_weights(FTN_LOSS_DICE_BCE, "0,0.142857,0.285714,0.571429");
    return tl_finish();
}
