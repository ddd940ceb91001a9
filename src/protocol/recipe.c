/* Named training recipes (ftunet_protocol.h, ftn_train_recipe): the one place where each is
 * defined. "paper" is the paper's protocol; "strong" is a proposal after nnU-Net's defaults,
 * to be settled by validation-set measurements: change it here. */
#include <string.h>

#include "core/error.h"
#include "ftunet_protocol.h"

/* The paper's: ftn_train_default's loss, optimiser and schedule, no augmentation. */
static ftn_status recipe_paper(ftn_train_config *c)
{
    ftn_train_config d = ftn_train_default();
    c->loss = d.loss;
    c->opt = d.opt;
    c->augment = d.augment;
    c->warmup_epochs = d.warmup_epochs;
    c->schedule_epochs = d.schedule_epochs;
    return FTN_OK;
}

/* nnU-Net's (Isensee et al., Nature Methods 2021; nnUNetTrainer): SGD, Nesterov momentum 0.99,
 * lr 0.01 with the poly 0.9 schedule, weight decay 3e-5 (L2, torch.optim.SGD's); Dice + BCE;
 * deep-supervision weights halving per resolution with the lowest at 0, normalised to sum 1;
 * strong spatial and intensity augmentation. */
static ftn_status recipe_strong(ftn_train_config *c)
{
    c->opt = ftn_optimizer_default(FTN_OPT_SGD);
    c->opt.lr = 0.01f;
    c->opt.momentum = 0.99f;
    c->opt.nesterov = 1;
    c->opt.decay = 0;
    c->opt.weight_decay = 3e-5f;
    c->opt.schedule = FTN_LR_POLY;
    c->opt.min_lr = 0;
    c->warmup_epochs = 0;
    c->schedule_epochs = 0;
    c->loss = ftn_loss_default(FTN_LOSS_DICE_BCE);
    c->loss.alpha = c->loss.beta = 0.5f, c->loss.gamma = 1; /* unused by Dice; recorded as dl's */
    FTN_TRY(ftn_loss_parse_ds_weights("0,0.142857143,0.285714286,0.571428571", &c->loss));
    return ftn_augment_preset("strong", &c->augment);
}

ftn_status ftn_train_recipe(const char *name, ftn_train_config *cfg)
{
    if (!cfg) return ftn_fail(FTN_EINVAL, "recipe: missing configuration");
    ftn_train_config c = *cfg;
    ftn_status s;
    if (name && !strcmp(name, "paper")) {
        s = recipe_paper(&c);
        c.recipe = "paper";
    } else if (name && !strcmp(name, "strong")) {
        s = recipe_strong(&c);
        c.recipe = "strong";
    } else {
        return ftn_fail(FTN_EINVAL, "recipe '%s': expected paper or strong", name ? name : "(null)");
    }
    if (s == FTN_OK) *cfg = c;
    return s;
}
