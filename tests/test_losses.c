/* Dice, Tversky and focal Tversky: values by hand, gradients by finite differences, the focal
 * gradient's bound near TI = 1, and deep supervision's wiring. */
#include <math.h>
#include <stdlib.h>

#include "ftunet.h"
#include "losses/losses.h"
#include "testlib.h"

/* Central differences in double around each p_i. Planting a bug shows the tolerance bites: with
 * the β term's (1−m) written as m, the check reported 0.31 here against the 1e-3 bound. */
static double gradcheck(ftn_loss_kind kind, const ftn_loss_config *c, int n, size_t hw, uint64_t seed)
{
    size_t N = (size_t)n * hw;
    float *p = malloc(N * 4), *m = malloc(N * 4), *dp = malloc(N * 4), *tmp = malloc(N * 4);
    uint64_t s = seed;
    tl_fill_uniform(p, N, &s, 0.05f, 0.95f);
    for (size_t i = 0; i < N; i++) m[i] = tl_uniform(&s, 0, 1) < 0.3f;
    ftn_loss_eval(kind, c, p, m, n, hw, dp);
    double worst = 0;
    for (size_t i = 0; i < N; i++) {
        const float h = 1e-2f;
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
    }

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

    /* mask[::2, ::2] */
    float mask[2 * 4 * 4], sub[2 * 2 * 2];
    for (int i = 0; i < 32; i++) mask[i] = (float)i;
    ftn_mask_subsample(mask, 2, 4, 4, 2, sub);
    float want[8] = { 0, 2, 8, 10, 16, 18, 24, 26 };
    for (int i = 0; i < 8; i++) CHECK(sub[i] == want[i], "sub[%d] = %g", i, sub[i]);

    /* a NaN prediction gives a NaN loss in every kind, for training to stop on (the focal
     * loss's clamp of 1 − TI at 0 used to turn it into 0) */
    for (int kind = FTN_LOSS_DICE; kind <= FTN_LOSS_FOCAL_TVERSKY; kind++) {
        ftn_loss_config lc = ftn_loss_default((ftn_loss_kind)kind);
        float pn[4] = { 0.2f, NAN, 0.4f, 0.9f }, mn[4] = { 1, 1, 0, 0 }, dn[4];
        double v = ftn_loss_eval((ftn_loss_kind)kind, &lc, pn, mn, 1, 4, dn);
        CHECK(isnan(v), "%s loss of a NaN prediction: %g", ftn_loss_name((ftn_loss_kind)kind), v);
    }

    ftn_loss_kind k;
    CHECK(ftn_loss_parse("ftl", &k) == FTN_OK && k == FTN_LOSS_FOCAL_TVERSKY);
    CHECK(ftn_loss_parse("bce", &k) == FTN_EINVAL);
    return tl_finish();
}
