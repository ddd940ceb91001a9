/* The paper's training protocol (docs/ARCHITECTURE.md, "Training and evaluation protocol"), as one
 * resumable run in a run folder:
 *
 *   RUN/config.json              every option below and the split ("train", "val", "test" ids)
 *   RUN/log.csv                  epoch,lr,train_loss,val_loss,val_dsc,val_soft_dsc,seconds (one line
 *                                per epoch; runs begun before val_soft_dsc existed keep their format)
 *   RUN/best.safetensors         the weights with the best validation score (`select`; no
 *                                validation: the last)
 *   RUN/last.safetensors         the weights after the last finished epoch,
 *   RUN/last.optim.safetensors   its optimiser state,
 *   RUN/state.json               epochs done, best epoch, its validation score, iteration, shuffle
 *                                scheme; written last, so it is the commit point of an epoch
 *   RUN/test/metrics.csv, RUN/test/summary.json   ftn_evaluate(best, test ids) at the images'
 *                                original resolution, then ftn_report_write(RUN).
 *
 * Every file is written atomically. One epoch: the training ids in an order that depends only on
 * (seed, epoch) (Fisher–Yates of the sorted training list with a generator seeded from both), so a
 * resumed run reproduces an uninterrupted one bit for bit (same seed, same threads, same engine);
 * consecutive batches of `batch`, the last one smaller (as Keras' fit: a second session is
 * created for the remainder size, nothing is dropped or padded); then validation at model
 * resolution. */
#ifndef FTN_PROTOCOL_TRAIN_H
#define FTN_PROTOCOL_TRAIN_H
#include <stdint.h>

#include "data/resize.h"
#include "data/split.h"
#include "ftunet.h"
#include "metrics/metrics.h"

/* What picks the best checkpoint. */
typedef enum ftn_select {
    FTN_SELECT_DSC,      /* the spec's protocol: mean per-image DSC of the prediction at threshold 0.5 */
    FTN_SELECT_SOFT_DSC  /* the reference's ModelCheckpoint(monitor='val_dsc'): its Keras metric, the
                            soft DSC of each validation batch's probabilities (ftn_soft_dsc), averaged
                            over batches weighted by their size, as Keras' evaluate does */
} ftn_select;
const char *ftn_select_name(ftn_select s); /* "dsc", "soft-dsc" */
ftn_status ftn_select_parse(const char *name, ftn_select *s);

typedef struct ftn_train_config {
    const char *data;        /* dataset path (see data/dataset.h); stored absolute in config.json */
    const char *mask_suffix; /* NULL: none */
    int skip_bad;
    const char *run_dir;
    const char *model;       /* "attn-unet-mi-ds", ... */
    int channels, height, width;
    ftn_loss_config loss;    /* kind, alpha, beta, gamma (Dice: α = β = 0.5 semantics) */
    int epochs, batch;
    ftn_optimizer_config opt;
    uint64_t seed;           /* model initialisation, split (unless `split`) and shuffles */
    ftn_resize_mode resize;  /* images; masks are always nearest */
    float threshold;         /* for the test metrics; validation DSC always uses 0.5 */
    ftn_select select;       /* the checkpoint criterion (default FTN_SELECT_DSC) */
    double test_split, val_split;
    const ftn_split *split;  /* explicit split (cross-validation); NULL: ftn_split_make */
    ftn_engine engine;
    ftn_precision precision; /* training, validation and test sessions (bf16: mixed precision) */
    int bn_recalibrate;      /* a deviation from the paper: before every validation, the BN running
                                statistics are re-estimated on the training images
                                (ftn_bn_recalibrate). Training itself is unchanged (it uses batch
                                statistics); validation, the checkpoints and the test see the
                                re-estimated statistics. */
    int bn_debias;           /* a deviation from the spec, towards the reference's environment: BN
                                running statistics as zero-debiased moving averages
                                (ftn_bn_debiased_momentum), as Keras 2.1.3–2.2 on TensorFlow 1
                                keeps them; the spec's r = 0.99·r + 0.01·batch from r = (0, 1)
                                otherwise. Training itself is unchanged. */
    int threads;             /* 0: leave as is */
    int resume;              /* continue RUN (a missing or empty RUN starts fresh) */
    int overwrite;           /* replace an existing RUN's files */
} ftn_train_config;

/* The paper's BUS protocol: attn-unet-mi-ds, FTL (0.7, 0.3, 4/3), 100 epochs, batch 16, SGD
 * 0.01 / 0.9 / 1e-6, 128×128×1, nearest, test 0.25, val 0.15, seed 1, threshold 0.5. */
ftn_train_config ftn_train_default(void);

typedef enum ftn_train_phase {
    FTN_PHASE_LOAD,  /* loading the training and validation images */
    FTN_PHASE_STEP,  /* after a training step */
    FTN_PHASE_EPOCH, /* an epoch finished (validation done, checkpoints written) */
    FTN_PHASE_TEST   /* evaluating the best checkpoint on the test ids */
} ftn_train_phase;

typedef struct ftn_train_progress {
    ftn_train_phase phase;
    int epoch, epochs;       /* 1-based epoch */
    int step, steps;         /* 1-based step in the epoch */
    float loss;              /* the step's loss, or the epoch's mean training loss */
    float val_loss, val_dsc; /* FTN_PHASE_EPOCH; NaN without validation */
    float val_soft_dsc;      /* FTN_PHASE_EPOCH; NaN without validation */
    ftn_select select;       /* which of the two picks the best */
    int best;                /* FTN_PHASE_EPOCH: this epoch is the new best */
    double images_per_s;     /* training throughput of this process so far */
    double eta_s;            /* estimated seconds to the end of training */
} ftn_train_progress;
typedef void (*ftn_progress_fn)(const ftn_train_progress *p, void *user);

typedef struct ftn_train_summary {
    int epochs_done, best_epoch; /* best_epoch 1-based */
    float best_val_dsc;          /* the best epoch's score by the run's `select`; NaN without validation */
    int n_train, n_val, n_test;
    int n_trained_now;           /* epochs trained by this call (0 when the run was finished) */
    ftn_metrics test_mean, test_std; /* zero when n_test = 0 */
    double seconds;              /* training time of this call */
} ftn_train_summary;

ftn_status ftn_train_run(const ftn_train_config *cfg, ftn_progress_fn cb, void *user, ftn_train_summary *out);

/* Reads RUN/state.json of a finished run (test metrics present) into *out; FTN_EIO if absent. */
ftn_status ftn_train_read_summary(const char *run_dir, ftn_train_summary *out);

#endif
