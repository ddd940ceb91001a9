/* Options and progress display shared by ftunet train, cv and ablation. */
#ifndef FTN_TRAIN_OPTS_H
#define FTN_TRAIN_OPTS_H
#include "cli.h"
#include "ftunet_protocol.h"

/* The model and loss options (train, cv; ablation picks these per row). */
#define TRAIN_MODEL_OPTIONS                                                                                          \
    { "model", 'm', "NAME", "unet | attn-unet | attn-unet-ds | attn-unet-mi-ds (default attn-unet-mi-ds)", NULL },   \
    { "loss", 0, "dl|tl|ftl|dice-bce", "Dice, Tversky or focal Tversky loss (default ftl); dice-bce: not the paper's, nnU-Net's Dice + binary cross-entropy", NULL }, \
    { "bce-weight", 0, "W", "dice-bce: the cross-entropy's weight beside Dice's 1 (default 1)", NULL },          \
    { "alpha", 0, "A", "Tversky alpha, weighs false negatives (default 0.7; dl: 0.5)", NULL },                     \
    { "beta", 0, "B", "Tversky beta, weighs false positives (default 0.3; dl: 0.5)", NULL },                       \
    { "gamma", 0, "G", "focal Tversky gamma, ftl only (default 4/3)", NULL }

/* The protocol options (all three commands). */
#define TRAIN_PROTOCOL_OPTIONS                                                                                       \
    { "epochs", 'e', "N", "epochs (default 100)", NULL },                                                           \
    { "batch", 'b', "N", "batch size; the last batch of an epoch is smaller (default 16)", NULL },                  \
    { "lr", 0, "LR", "learning rate (default 0.01 for sgd, 0.001 for adam)", NULL },                               \
    { "momentum", 0, "M", "SGD momentum (default 0.9)", NULL },                                                     \
    { "decay", 0, "D", "learning-rate decay: lr / (1 + D * iteration) (default 1e-6)", NULL },                      \
    { "optimizer", 0, "sgd|adam|adamw", "optimiser (default sgd); another than the recipe's starts from its own defaults (adamw: PyTorch's, lr 0.001, weight decay 0.01)", NULL }, \
    { "recipe", 0, "paper|strong", "preset that the other options override: paper (default, the paper's protocol) or strong (nnU-Net's choices: SGD Nesterov 0.99, poly, weight decay 3e-5, dice-bce, nnU-Net's deep-supervision weights, --augment strong)", NULL }, \
    { "schedule", 0, "NAME", "learning rate per update: inverse-time (default: lr / (1 + decay * iteration), Keras'), poly (lr * (1 - t/T)^0.9, nnU-Net's) or cosine (to --min-lr)", NULL }, \
    { "warmup", 0, "N", "linear warm-up over the first N epochs' updates, from lr / updates to lr (default 0)", NULL }, \
    { "schedule-epochs", 0, "N", "poly, cosine: the epochs the schedule spans (default --epochs; a resume must keep it)", NULL }, \
    { "min-lr", 0, "LR", "poly, cosine: the rate they end at (default 0)", NULL },                                \
    { "nesterov", 0, NULL, "SGD with Nesterov momentum (torch.optim.SGD's form)", NULL },                           \
    { "no-nesterov", 0, NULL, "plain momentum (turns off a recipe's Nesterov)", NULL },                             \
    { "weight-decay", 0, "W", "sgd, adam: L2 added to the gradient (PyTorch's weight_decay); adamw: decoupled (default 0; adamw 0.01)", NULL }, \
    { "ds-weights", 0, "W1,W2,W3,W4", "deep supervision: each output's loss weight, out1 (1/8 size) to out4 (default 1,1,1,1, the spec's)", NULL }, \
    { "augment", 0, "none|light|strong", "augment the training batches (default none, the paper's; see ftunet augment --help)", NULL }, \
    { "augment-set", 0, "K=V,...", "augmentation fields over the preset (ftn_augment_config's: p_flip_x, rotate, ...)", NULL }, \
    { "seed", 0, "S", "seed of the initialisation, split and shuffles (default 1)", NULL },                       \
    { "size", 's', "HxW", "network input size, multiples of 16 (default 128x128)", NULL },                         \
    { "channels", 'c', "C", "1 (greyscale) or 3 (RGB) (default 1)", NULL },                                         \
    { "resize", 0, "MODE", "image resampling: nearest | area | bilinear (default nearest, as the reference)", NULL }, \
    { "threshold", 0, "T", "probability threshold of the test metrics (default 0.5)", NULL },                       \
    { "test-split", 0, "F", "test fraction (default 0.25)", NULL },                                                 \
    { "val-split", 0, "F", "validation fraction of the training part; 0: keep the last epoch (default 0.15)", NULL }, \
    { "group-regex", 0, "RE", "keep images of one patient together in the split: the ids' first (...) match of RE (POSIX extended) is the group, e.g. '^(P[0-9]+)_'", NULL }, \
    { "stratify", 0, NULL, "spread each class (the class subfolder of a side-by-side layout) over the parts in proportion", NULL }, \
    { "select", 0, "dsc|soft-dsc", "checkpoint criterion: mean per-image DSC at 0.5 (default), or the reference's soft batch DSC", NULL }, \
    { "mask-suffix", 0, "S", "extra mask-name suffix tried first (e.g. _gt)", NULL },                              \
    { "skip-bad", 0, NULL, "drop unreadable or unpaired samples instead of failing", NULL },                        \
    { "exclude-empty", 0, NULL, "not the paper's protocol: drop images whose mask is empty (BUSI's normal images) before the split", NULL }, \
    { "engine", 0, "dnnl|ref", "compute engine (default: $FTUNET_ENGINE or dnnl)", NULL },                           \
    { "precision", 0, "fp32|fp32-winograd|bf16", "training precision (default fp32; bf16: mixed, needs AVX512-BF16)", NULL },     \
    { "threads", 't', "N", "threads (default: all cores)", NULL },                                                  \
    { "cache-mb", 0, "MB", "decoded images kept in memory, at network size (default 2048, which holds ISIC 2018 whole); beyond it they are read from disk again; results are the same whatever it is", NULL }, \
    { "loader-threads", 0, "N", "threads decoding, resizing and augmenting the next batches during a step (default 2; 0: none, the step waits for its batch); results are the same whatever it is", NULL }, \
    { "bn-recalibrate", 0, NULL, "deviation: re-estimate BN statistics on the training images before each validation", NULL }, \
    { "bn-debias", 0, NULL, "deviation: BN running statistics as zero-debiased moving averages (Keras 2.1.3-2.2 on TensorFlow 1, the reference's setup)", NULL }, \
    { "init", 0, "FILE", "fine-tune: start from this checkpoint's weights and BN statistics (same model and channels, any size)", NULL }, \
    { "resume", 0, NULL, "continue an interrupted run with its options (config.json; those given must match, but --epochs, which extends it), bit-identical to an uninterrupted one", NULL },              \
    { "overwrite", 0, NULL, "replace an existing run", NULL }

/* Fills cfg (starting from ftn_train_default) from the options present in cmd; data and
 * run_dir are left to the caller. Returns 0, or 1 after printing an error. */
int train_opts_parse(cli_command *cmd, ftn_train_config *cfg);
/* The same over `base` instead (a resumed run's options, ftn_run_config_train): the options
 * present in cmd replace its fields, the others keep them. */
int train_opts_parse_over(cli_command *cmd, const ftn_train_config *base, ftn_train_config *cfg);
/* Sets the loss fields for kind: dl α = β = 0.5, γ = 1; tl γ = 1; alpha/beta/gamma as given. */
void train_opts_loss(ftn_train_config *cfg, ftn_loss_kind kind, float alpha, float beta, float gamma);

/* Opens cfg's data set as training will use it; with --skip-bad every file is decoded now (the
 * check of `stats --skip-bad`) and the dropped ones are listed on stderr as stats lists them.
 * Returns 0, or 1 after printing an error. */
int train_opts_open_data(const char *what, const ftn_train_config *cfg, ftn_dataset *ds);
/* --exclude-empty on a data set a command opened itself: drops its samples with an empty mask
 * (ftn_dataset_drop_empty), says how many on stderr, and gives their ids (*ids, *n: for the runs'
 * ftn_train_config excluded / n_excluded; free with ftn_dataset_ids_free after the runs).
 * Returns 0, or 1 after printing an error. */
int train_opts_exclude_empty(const char *what, ftn_dataset *ds, char ***ids, int *n);

/* Progress to stderr: on a terminal one updating line, otherwise a line per epoch. user: a
 * const char * prefix ("fold 2/5  ") or NULL. */
void train_progress(const ftn_train_progress *p, void *user);

/* Cross-validation of cfg (data set, options) in dir/fold-1 … dir/fold-N: folds > 0 gives
 * K-fold splits, otherwise `repeats` repeated random splits. Finished folds (test/summary.json)
 * are read back, interrupted ones resumed (or replaced with cfg->overwrite). Writes
 * dir/summary.json and fills mean/std over folds of the per-fold mean test metrics.
 * Returns 0, or 1 after printing an error. */
int cv_run(const char *what, const ftn_train_config *cfg, const char *dir, int folds, int repeats, ftn_metrics *mean,
           ftn_metrics *std);

/* Reads back dir/summary.json written by cv_run: the number of runs and mean/std over them.
 * Returns 0, or -1 (nothing written) when there is none, or 1 after printing an error (a malformed file). */
int cv_read(const char *what, const char *dir, int *runs, ftn_metrics *mean, ftn_metrics *std);

#endif
