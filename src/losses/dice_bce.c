/* Dice + binary cross-entropy (nnU-Net's loss; not the paper's): the soft Dice loss of tversky.c
 * plus BCE on the sigmoid probabilities the networks output. */
#include <math.h>

#include "core/error.h"
#include "losses/losses.h"

ftn_status ftn_loss_dice_bce_comm(const ftn_loss_config *cfg, const float *p, const float *m, int n, size_t hw, float *dp,
                                  const ftn_comm *comm, double *loss)
{
    double dice;
    FTN_TRY(ftn_loss_eval_comm(FTN_LOSS_DICE, cfg, p, m, n, hw, dp, comm, &dice));
    size_t count = (size_t)n * hw;
    double all[2] = { 0, (double)count }; /* the BCE sum, the pixels: over the whole batch */
    if (comm && comm->size > 1) FTN_TRY(comm->sum_f64(comm->ctx, all + 1, 1));
    double wd = cfg->dice_weight, wb = cfg->bce_weight, sum = 0, inv = 1.0 / all[1];
    const double lo = FTN_BCE_EPS, hi = 1.0 - FTN_BCE_EPS;
    for (size_t i = 0; i < count; i++) {
        double pi = p[i], g = m[i];
        /* BCE_i = −(g·ln q + (1−g)·ln(1−q)), q = clamp(p, ε, 1−ε); dBCE_i/dp = (q − g)/(q·(1−q))
         * inside the clamp, 0 where it bites (a NaN p stays NaN: the comparisons are false) */
        int clamped = pi < lo || pi > hi;
        double q = pi < lo ? lo : pi > hi ? hi : pi;
        sum -= g * log(q) + (1.0 - g) * log(1.0 - q);
        double d = clamped ? 0.0 : (q - g) / (q * (1.0 - q)) * inv;
        dp[i] = (float)(wd * dp[i] + wb * d);
    }
    all[0] = sum;
    if (comm && comm->size > 1) FTN_TRY(comm->sum_f64(comm->ctx, all, 1));
    *loss = wd * dice + wb * all[0] * inv;
    return FTN_OK;
}

double ftn_loss_dice_bce(const ftn_loss_config *cfg, const float *p, const float *m, int n, size_t hw, float *dp)
{
    double loss = 0;
    ftn_loss_dice_bce_comm(cfg, p, m, n, hw, dp, NULL, &loss);
    return loss;
}
