/* Dice, Tversky and focal Tversky losses (paper §2.1), Dice+BCE (nnU-Net's), their gradients, and
 * deep supervision. */
#ifndef FTN_LOSSES_H
#define FTN_LOSSES_H

#include <stddef.h>

#include "ftunet.h"

/* Loss of probabilities p against a binary mask m, both n×hw; writes d loss / d p into dp
 * (overwritten) and returns the loss. `kind` overrides cfg->kind (deep supervision mixes them). */
double ftn_loss_eval(ftn_loss_kind kind, const ftn_loss_config *cfg, const float *p, const float *m,
                     int n, size_t hw, float *dp);

/* The mask for a deep-supervision output: every stride-th pixel, as mask[::s, ::s]. */
void ftn_mask_subsample(const float *mask, int n, int h, int w, int stride, float *out);

/* Which loss output k of n_outputs is trained with: with FTL and several outputs, the side
 * outputs use FTL and the last uses TL (paper §2.1); otherwise every output uses cfg->kind. */
ftn_loss_kind ftn_loss_for_output(const ftn_loss_config *cfg, int k, int n_outputs);

/* Output k of n_outputs as deep supervision trains it: ftn_loss_eval with that output's kind,
 * loss and gradient times its weight (ftn_loss_output_weight; at weight 1 exactly
 * ftn_loss_eval's). */
double ftn_loss_output(const ftn_loss_config *cfg, int k, int n_outputs, const float *p, const float *m, int n, size_t hw,
                       float *dp);

/* FTN_LOSS_DICE_BCE (dice_bce.c): dice_weight · Dice (cfg's reduction and smooth) + bce_weight ·
 * the binary cross-entropy averaged over all n·hw pixels; gradient into dp (overwritten). */
double ftn_loss_dice_bce(const ftn_loss_config *cfg, const float *p, const float *m, int n, size_t hw, float *dp);
/* The same as one process of comm's group (NULL: alone): the pixel sums behind the index (TP, FN,
 * FP; Σpm, Σp, Σm), the BCE's sum and pixel count, and per-image reduction's image count are
 * summed over the group before the loss and its gradient are formed, so every process gets the
 * whole batch's loss and the gradient of its own pixels. */
ftn_status ftn_loss_eval_comm(ftn_loss_kind kind, const ftn_loss_config *cfg, const float *p, const float *m, int n,
                              size_t hw, float *dp, const ftn_comm *comm, double *loss);
ftn_status ftn_loss_output_comm(const ftn_loss_config *cfg, int k, int n_outputs, const float *p, const float *m, int n,
                                size_t hw, float *dp, const ftn_comm *comm, double *loss);
ftn_status ftn_loss_dice_bce_comm(const ftn_loss_config *cfg, const float *p, const float *m, int n, size_t hw, float *dp,
                                  const ftn_comm *comm, double *loss);
/* The clamp of p inside the BCE's logarithms (Keras' epsilon). */
#define FTN_BCE_EPS 1e-7

#endif
