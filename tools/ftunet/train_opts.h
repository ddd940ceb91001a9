/* Options and progress display shared by ftunet train, cv and ablation. */
#ifndef FTN_TRAIN_OPTS_H
#define FTN_TRAIN_OPTS_H
#include "cli.h"
#include "ftunet_protocol.h"

/* The model and loss options (train, cv; ablation picks these per row). */
#define TRAIN_MODEL_OPTIONS                                                                                          \
    { "model", 'm', "NAME", "unet | attn-unet | attn-unet-ds | attn-unet-mi-ds (default attn-unet-mi-ds)", NULL },   \
    { "loss", 0, "dl|tl|ftl", "Dice, Tversky or focal Tversky loss (default ftl)", NULL },                           \
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
    { "optimizer", 0, "sgd|adam", "optimiser (default sgd)", NULL },                                               \
    { "seed", 0, "S", "seed of the initialisation, split and shuffles (default 1)", NULL },                       \
    { "size", 's', "HxW", "network input size, multiples of 16 (default 128x128)", NULL },                         \
    { "channels", 'c', "C", "1 (greyscale) or 3 (RGB) (default 1)", NULL },                                         \
    { "resize", 0, "MODE", "image resampling: nearest | area | bilinear (default nearest, as the reference)", NULL }, \
    { "threshold", 0, "T", "probability threshold of the test metrics (default 0.5)", NULL },                       \
    { "test-split", 0, "F", "test fraction (default 0.25)", NULL },                                                 \
    { "val-split", 0, "F", "validation fraction of the training part; 0: keep the last epoch (default 0.15)", NULL }, \
    { "select", 0, "dsc|soft-dsc", "checkpoint criterion: mean per-image DSC at 0.5 (default), or the reference's soft batch DSC", NULL }, \
    { "mask-suffix", 0, "S", "extra mask-name suffix tried first (e.g. _gt)", NULL },                              \
    { "skip-bad", 0, NULL, "drop unreadable or unpaired samples instead of failing", NULL },                        \
    { "engine", 0, "dnnl|ref", "compute engine (default: $FTUNET_ENGINE or dnnl)", NULL },                           \
    { "precision", 0, "fp32|fp32-winograd|bf16", "training precision (default fp32; bf16: mixed, needs AVX512-BF16)", NULL },     \
    { "threads", 't', "N", "threads (default: all cores)", NULL },                                                  \
    { "bn-recalibrate", 0, NULL, "deviation: re-estimate BN statistics on the training images before each validation", NULL }, \
    { "bn-debias", 0, NULL, "deviation: BN running statistics as zero-debiased moving averages (Keras 2.1.3-2.2 on TensorFlow 1, the reference's setup)", NULL }, \
    { "resume", 0, NULL, "continue an interrupted run (bit-identical to an uninterrupted one)", NULL },              \
    { "overwrite", 0, NULL, "replace an existing run", NULL }

/* Fills cfg (starting from ftn_train_default) from the options present in cmd; data and
 * run_dir are left to the caller. Returns 0, or 1 after printing an error. */
int train_opts_parse(cli_command *cmd, ftn_train_config *cfg);
/* Sets the loss fields for kind: dl α = β = 0.5, γ = 1; tl γ = 1; alpha/beta/gamma as given. */
void train_opts_loss(ftn_train_config *cfg, ftn_loss_kind kind, float alpha, float beta, float gamma);

/* Opens cfg's data set as training will use it; with --skip-bad every file is decoded now (the
 * check of `stats --skip-bad`) and the dropped ones are listed on stderr as stats lists them.
 * Returns 0, or 1 after printing an error. */
int train_opts_open_data(const char *what, const ftn_train_config *cfg, ftn_dataset *ds);

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
