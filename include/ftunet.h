/*
 * ftunet — focal Tversky loss and attention U-Nets for lesion segmentation, in C.
 *
 * The shape of the API:
 *   ftn_model    the network definition (one of four, see ftn_model_names) with its parameters,
 *                gradients and optimiser state, each in one allocation; saved and loaded as
 *                safetensors. Built for one input size (C×H×W).
 *   ftn_session  a model compiled for one batch size on one engine (oneDNN or the plain-C
 *                reference): all primitives and activation memory are planned at creation, so
 *                forward/backward/step never allocate.
 *
 *   ftn_model *m;  ftn_model_create("attn-unet-mi-ds", 1, 128, 128, &m);  ftn_model_init(m, 42);
 *   ftn_session *s; ftn_session_create(m, 16, FTN_ENGINE_DNNL, &s);
 *   ftn_train_step(s, images, masks, &loss_cfg, &opt_cfg, &loss);   // N×C×H×W in, N×1×H×W masks
 *   ftn_session_forward(s, images, 0);  ftn_session_output(s, k, &shape);
 *
 * Every function that can fail returns an ftn_status; on failure ftn_last_error() (thread-local)
 * says what went wrong and where. The library never prints and never exits.
 *
 * This is the engine (library ftunet). Data sets, the training and evaluation protocol, run
 * folders, reports and benchmarks are ftunet_protocol.h's (library ftunet_protocol).
 */
#ifndef FTUNET_H
#define FTUNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ftn_status {
    FTN_OK = 0,
    FTN_EINVAL,       /* an argument or option is out of range */
    FTN_EIO,          /* a file could not be read or written */
    FTN_ENOMEM,       /* an allocation failed */
    FTN_EFORMAT,      /* a file is malformed */
    FTN_EUNSUPPORTED, /* valid, but not something this build can do */
    FTN_EINTERNAL,    /* a bug or a library (oneDNN) failure */
    FTN_EINTERRUPTED  /* stopped on request (ftn_train_config.stop), its state saved to resume */
} ftn_status;

/* The message of the last failure on this thread: "<where>: <why>". */
const char *ftn_last_error(void);
const char *ftn_status_name(ftn_status s);

typedef struct ftn_shape { int n, c, h, w; } ftn_shape;

/* ---- engines -------------------------------------------------------------------------------- */
typedef enum ftn_engine { FTN_ENGINE_DNNL = 0, FTN_ENGINE_REF = 1 } ftn_engine;
/* FTUNET_ENGINE=ref|dnnl (default dnnl). Unknown values are an error. */
ftn_status ftn_engine_from_env(ftn_engine *engine);
const char *ftn_engine_name(ftn_engine engine);
/* Threads used by both engines (OpenMP). 0 leaves the current setting. */
void ftn_set_threads(int threads);
/* The threads both engines use now (what ftn_set_threads set, else OpenMP's default). */
int ftn_threads(void);

/* ---- precision ------------------------------------------------------------------------------ */
/* FTN_PRECISION_BF16 is mixed precision on the oneDNN engine: activations and their gradients
 * are bfloat16 between layers, convolutions run in bf16 (weights converted from the float32
 * master copy every forward), batch-norm statistics, scale and shift, weight gradients, the
 * loss, the network's outputs, the optimiser and the parameters stay float32. It needs a CPU
 * with AVX512-BF16; elsewhere, and on the reference engine, sessions refuse it with
 * FTN_EUNSUPPORTED. */
/* FTN_PRECISION_FP32_WINOGRAD is float32 throughout, with the 3×3 stride-1 convolutions whose
 * channel counts are multiples of 16 computed by Winograd's F(4×4, 3×3) algorithm (oneDNN's
 * jit_wino_4x3): fewer multiplications, a rounding of its own (the tolerances it is held to are
 * in tests/test_engine_dnnl.c, its speed in docs/PERFORMANCE.md). It needs the oneDNN engine on
 * an AVX-512 CPU. */
typedef enum ftn_precision { FTN_PRECISION_FP32 = 0, FTN_PRECISION_BF16 = 1, FTN_PRECISION_FP32_WINOGRAD = 2 } ftn_precision;
const char *ftn_precision_name(ftn_precision p);                 /* "fp32", "bf16", "fp32-winograd" */
ftn_status ftn_precision_parse(const char *name, ftn_precision *p); /* "fp32"/"f32", "bf16", "fp32-winograd"/"winograd" */
/* FTN_OK when sessions on `engine` can run in precision p here; else FTN_EUNSUPPORTED and
 * ftn_last_error() says why. */
ftn_status ftn_precision_check(ftn_engine engine, ftn_precision p);

/* ---- losses (paper §2.1) ---------------------------------------------------------------------- */
/* FTN_LOSS_DICE_BCE is not the paper's: nnU-Net's loss, dice_weight · DL + bce_weight · BCE, with DL
 * the soft Dice loss above (over the batch, or per image with FTN_REDUCE_IMAGE) and BCE the binary
 * cross-entropy −mean(g·ln p + (1−g)·ln(1−p)) over every pixel of the batch, p clamped to
 * [1e-7, 1 − 1e-7] (Keras' epsilon; the gradient is 0 where the clamp bites). */
typedef enum ftn_loss_kind { FTN_LOSS_DICE, FTN_LOSS_TVERSKY, FTN_LOSS_FOCAL_TVERSKY, FTN_LOSS_DICE_BCE } ftn_loss_kind;
typedef enum ftn_loss_reduction {
    FTN_REDUCE_BATCH, /* sums over every pixel of the batch (the paper's reference) */
    FTN_REDUCE_IMAGE  /* one index per image, losses averaged over the batch */
} ftn_loss_reduction;
/* Outputs a deep-supervision weight list can name (out1..out4). */
#define FTN_LOSS_MAX_OUTPUTS 4
typedef struct ftn_loss_config {
    ftn_loss_kind kind;
    float alpha, beta, gamma, smooth; /* TI = (TP+s)/(TP + α·FN + β·FP + s); FTL = (1−TI)^(1/γ) */
    ftn_loss_reduction reduction;
    float dice_weight, bce_weight;    /* FTN_LOSS_DICE_BCE's terms (default 1, 1), each >= 0 */
    /* Deep supervision: output k's loss (and its gradient) times ds_weights[k], out1 first.
     * n_ds_weights 0: every output weighs 1 (the spec's); otherwise it must be the network's
     * output count, except on a network of one output (no deep supervision), which ignores the
     * list. Weights >= 0, not all 0. */
    int n_ds_weights;
    float ds_weights[FTN_LOSS_MAX_OUTPUTS];
} ftn_loss_config;
/* α=0.7 β=0.3 γ=4/3 smooth=1, batch reduction, Dice and BCE weights 1, the spec's deep
 * supervision weights (n_ds_weights 0); Dice and Dice+BCE ignore α, β, γ. */
ftn_loss_config ftn_loss_default(ftn_loss_kind kind);
const char *ftn_loss_name(ftn_loss_kind kind);            /* "dl", "tl", "ftl", "dice-bce" */
ftn_status ftn_loss_parse(const char *name, ftn_loss_kind *kind);
/* "W1,W2,…" (up to FTN_LOSS_MAX_OUTPUTS numbers >= 0, not all 0) into cfg's deep-supervision
 * weights; cfg is unchanged on failure. */
ftn_status ftn_loss_parse_ds_weights(const char *list, ftn_loss_config *cfg);
/* The weight of output k of n_outputs under cfg (1 unless ds_weights says otherwise). */
float ftn_loss_output_weight(const ftn_loss_config *cfg, int k, int n_outputs);
/* cfg's fields in range for a network of n_outputs outputs; FTN_EINVAL naming the field. */
ftn_status ftn_loss_check(const ftn_loss_config *cfg, int n_outputs);

/* ---- optimisers ----------------------------------------------------------------------------- */
/* One update, with g the gradient, lr_t the scheduled rate (ftn_optimizer_lr), wd weight_decay,
 * μ momentum, t the update's 1-based number, applied to every trainable parameter (weights,
 * biases, BN scale and shift):
 *   SGD (the reference's Keras SGD):  g' = g + wd·w;  v = μ·v − lr_t·g';  w = w + v
 *   SGD, nesterov (torch.optim.SGD(nesterov=True, weight_decay=wd)):
 *                                     g' = g + wd·w;  b = μ·b + g';  w = w − lr_t·(g' + μ·b)
 *     (the buffer holds b, PyTorch's: with a changing lr_t the two forms differ, and this is the
 *     one nnU-Net's SGD runs)
 *   Adam (Keras'):                    g' = g + wd·w;  m = β1·m + (1−β1)·g';  v = β2·v + (1−β2)·g'²;
 *                                     w = w − lr_t·√(1−β2ᵗ)/(1−β1ᵗ) · m / (√v + eps)
 *   AdamW (torch.optim.AdamW):        w = w·(1 − lr_t·wd);  m, v as Adam's from g;
 *                                     w = w − lr_t/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps)
 * SGD's and Adam's weight decay is L2 added to the gradient, as torch.optim.SGD's and Adam's
 * weight_decay (nnU-Net's 3e-5 with SGD means that); AdamW's is decoupled (Loshchilov & Hutter),
 * which is what it is for: with Adam's per-parameter scaling an L2 term would be rescaled too.
 * With wd = 0 and no Nesterov, SGD is the paper's update bit for bit. AdamW's state is Adam's
 * (m and v): the optimiser file names it "adam", and a model's state made by one of the two
 * continues under the other. */
typedef enum ftn_optimizer_kind { FTN_OPT_SGD, FTN_OPT_ADAM, FTN_OPT_ADAMW } ftn_optimizer_kind;
/* Learning rate lr_t of update t + 1 (t: updates before it), base lr, T total_iterations, W warmup:
 *   warm-up, t < W:  lr·(t + 1)/W (linear, from lr/W at the first update to lr at the W-th);
 *   then, with s = t − W and S = T − W (s/S capped at 1):
 *   FTN_LR_INVERSE_TIME  lr / (1 + decay·s)  (the reference's Keras decay; T unused)
 *   FTN_LR_POLY          min_lr + (lr − min_lr)·(1 − s/S)^0.9  (nnU-Net's, per iteration)
 *   FTN_LR_COSINE        min_lr + (lr − min_lr)·(1 + cos(π·s/S))/2 */
typedef enum ftn_lr_schedule { FTN_LR_INVERSE_TIME, FTN_LR_POLY, FTN_LR_COSINE } ftn_lr_schedule;
#define FTN_LR_POLY_POWER 0.9
typedef struct ftn_optimizer_config {
    ftn_optimizer_kind kind;
    float lr;        /* the base learning rate */
    float momentum;  /* SGD */
    float decay;     /* FTN_LR_INVERSE_TIME: lr / (1 + decay · iteration), as the reference's Keras SGD */
    float beta1, beta2, eps; /* Adam, AdamW */
    int nesterov;    /* SGD: Nesterov momentum (PyTorch's form, above) */
    float weight_decay;
    ftn_lr_schedule schedule;
    float min_lr;    /* poly and cosine: the rate they end at (default 0) */
    int64_t warmup;  /* updates of linear warm-up (default 0: none) */
    int64_t total_iterations; /* poly and cosine: the updates the schedule spans (required) */
} ftn_optimizer_config;
/* SGD lr 0.01, momentum 0.9, decay 1e-6 (the paper's); Adam lr 1e-3, 0.9, 0.999, 1e-7; AdamW
 * lr 1e-3, 0.9, 0.999, eps 1e-8, weight decay 1e-2 (PyTorch's). Inverse-time schedule, no
 * warm-up, no weight decay (AdamW's aside), no Nesterov. */
ftn_optimizer_config ftn_optimizer_default(ftn_optimizer_kind kind);
const char *ftn_optimizer_name(ftn_optimizer_kind kind);  /* "sgd", "adam", "adamw" */
ftn_status ftn_optimizer_parse(const char *name, ftn_optimizer_kind *kind);
const char *ftn_lr_schedule_name(ftn_lr_schedule s);      /* "inverse-time", "poly", "cosine" */
ftn_status ftn_lr_schedule_parse(const char *name, ftn_lr_schedule *s);
/* The fields in range (lr > 0, momentum in [0, 1), decay, weight decay, min_lr >= 0, min_lr <= lr,
 * warmup >= 0, total_iterations > 0 for poly and cosine, β in [0, 1), eps > 0); FTN_EINVAL naming
 * the field otherwise. */
ftn_status ftn_optimizer_check(const ftn_optimizer_config *o);
/* The learning rate of the update that follows `iteration` updates (the formulas above): a pure
 * function of o's schedule fields, in double; ftn_model_step uses exactly this value. */
double ftn_optimizer_lr(const ftn_optimizer_config *o, int64_t iteration);

/* ---- models --------------------------------------------------------------------------------- */
typedef struct ftn_model ftn_model;

/* NULL-terminated: "unet", "attn-unet", "attn-unet-ds", "attn-unet-mi-ds". */
const char *const *ftn_model_names(void);
/* channels 1 or 3; height and width positive multiples of 16. Parameters are zero until init. */
ftn_status ftn_model_create(const char *name, int channels, int height, int width, ftn_model **out);
void ftn_model_free(ftn_model *m);
/* Glorot-normal (truncated) weights, zero biases, BN 1/0/0/1, from a seed; resets the optimiser. */
ftn_status ftn_model_init(ftn_model *m, uint64_t seed);

const char *ftn_model_name(const ftn_model *m);
ftn_shape ftn_model_input_shape(const ftn_model *m); /* n = 1 */
int ftn_model_output_count(const ftn_model *m);
/* Trainable parameters (weights, biases, BN scale and shift), as the spec counts them. */
size_t ftn_model_param_count(const ftn_model *m);
/* Forward FLOPs per image: 2 per multiply-add of every convolution and transposed convolution. */
double ftn_model_forward_flops(const ftn_model *m);
/* Number of optimiser steps taken (drives the learning-rate decay). */
int64_t ftn_model_iteration(const ftn_model *m);

/* Named parameter tensors, in checkpoint order. */
int ftn_model_tensor_count(const ftn_model *m);
const char *ftn_model_tensor_name(const ftn_model *m, int i);
/* Returns the data and fills dims (up to 4) and ndim. */
float *ftn_model_tensor(ftn_model *m, int i, int dims[4], int *ndim);
int ftn_model_tensor_find(const ftn_model *m, const char *name);

/* The loss the model is (to be) trained with; stored in the checkpoint's metadata. */
void ftn_model_set_loss(ftn_model *m, const ftn_loss_config *loss);
ftn_loss_config ftn_model_loss(const ftn_model *m);

/* Checkpoints: safetensors with the spec's parameter names and BN running statistics; metadata
 * holds everything needed to rebuild the model. Written to a temporary name, then renamed. */
ftn_status ftn_model_save(const ftn_model *m, const char *path);
ftn_status ftn_model_load(const char *path, ftn_model **out);
/* Metadata also states the conventions another framework needs (PyTorch: README, "Fine-tuning
 * and PyTorch"): "layout" NCHW, "conv_weight" out,in,kh,kw, "deconv_weight" in,out,kh,kw,
 * "bn_eps" 0.001, "bn_running_update" and "bn_momentum_pytorch" 0.01 (r = 0.99·r + 0.01·batch),
 * "activation" relu, "output" sigmoid; loading refuses a file whose layout or bn_eps differ.
 * A tensor "P.num_batches_tracked" (PyTorch's BN counter) of a BN layer P is ignored; any
 * other name the model does not have is refused. */
/* Fine-tuning: the parameters and BN running statistics of checkpoint `path` into m, whose model
 * and channels must be the checkpoint's (FTN_EINVAL naming both otherwise); the input size may
 * differ (the networks are fully convolutional). m's loss, optimiser state and iteration are
 * unchanged, and on failure so is everything else. */
ftn_status ftn_model_load_weights(ftn_model *m, const char *path);
/* CRC-32 of a checkpoint file's bytes (zlib's crc32), how a run records the checkpoint it
 * started from. */
ftn_status ftn_checkpoint_crc32(const char *path, uint32_t *crc);
/* The gradients of the last backward under the parameters' names (BN running statistics as they
 * are now), for checking against another implementation. */
ftn_status ftn_model_save_gradients(const ftn_model *m, const char *path);
/* Optimiser state (momentum / Adam moments and the iteration), also safetensors. */
ftn_status ftn_optimizer_save(const ftn_model *m, const char *path);
ftn_status ftn_optimizer_load(ftn_model *m, const char *path);

/* ---- processes (data parallelism) ---------------------------------------------------------- */
/* A group of processes that train one model on one batch split between them (MPI: src/dist/).
 * A session given one (ftn_session_set_comm) forms the loss from the group's summed TP/FP/FN,
 * normalises every BatchNorm with the group's batch statistics and sums the gradients over the
 * group, so that each process's training step is the step of the whole batch. No communicator
 * (NULL) is a single process: the code path of a session that was never given one.
 * Every process calls the same operations in the same order, with its own sizes of the batch. */
typedef struct ftn_comm {
    int rank, size;  /* this process, and how many there are */
    void *ctx;       /* the implementation's */
    /* v[0..n) := the sum over the processes of their v, in place, on every process */
    ftn_status (*sum_f64)(void *ctx, double *v, size_t n);
    ftn_status (*sum_f32)(void *ctx, float *v, size_t n);
    /* buf[0..bytes) := root's, on every process */
    ftn_status (*broadcast)(void *ctx, void *buf, size_t bytes, int root);
    /* The non-blocking sum of v[0..n) (floats), completed by wait; test lets it progress (some
     * implementations progress only inside calls) and says whether it is done. At most
     * FTN_COMM_MAX_PENDING in flight. NULL: sum_f32 is used instead. */
    ftn_status (*isum_f32)(void *ctx, float *v, size_t n, int *request);
    ftn_status (*test)(void *ctx, int request, int *done);
    ftn_status (*wait)(void *ctx, int request);
} ftn_comm;
#define FTN_COMM_MAX_PENDING 64

/* ---- sessions ------------------------------------------------------------------------------- */
typedef struct ftn_session ftn_session;

ftn_status ftn_session_create(ftn_model *m, int batch, ftn_engine engine, ftn_session **out);
/* The same in a given precision (ftn_session_create is FTN_PRECISION_FP32). */
ftn_status ftn_session_create_ex(ftn_model *m, int batch, ftn_engine engine, ftn_precision precision,
                                 ftn_session **out);
/* s uses the working memory of `with` (a session of the same engine, any model or batch) from now
 * on: sessions of several batch sizes that run one after the other — a training loop's full and
 * last batches, its validation — then cost the largest one's memory instead of the sum. A
 * training step's forward and backward must not be split by a run of the other (that backward
 * is refused). The reference engine keeps its own memory (a no-op there). */
ftn_status ftn_session_share_memory(ftn_session *s, ftn_session *with);
ftn_precision ftn_session_precision(const ftn_session *s);
void ftn_session_free(ftn_session *s);
int ftn_session_batch(const ftn_session *s);
/* The model s was created with (not owned by s: the caller frees it, after s). */
ftn_model *ftn_session_model(const ftn_session *s);

/* x: batch×C×H×W float32, NCHW. training != 0 uses batch statistics in BN and updates the
 * running statistics; 0 is inference. */
ftn_status ftn_session_forward(ftn_session *s, const float *x, int training);
/* Output k (0-based; the last is the prediction), NCHW, valid until the next forward. */
const float *ftn_session_output(const ftn_session *s, int k, ftn_shape *shape);
/* After a forward: the loss against masks (batch×1×H×W, values 0/1) with deep supervision as the
 * spec wires it, and the gradients of the outputs ready for backward. */
ftn_status ftn_session_loss(ftn_session *s, const float *masks, const ftn_loss_config *cfg, float *loss);
/* Gradients of every parameter into the model's gradient buffer (overwritten). */
ftn_status ftn_session_backward(ftn_session *s);
/* One optimiser update from the current gradients; increments the iteration. */
ftn_status ftn_model_step(ftn_model *m, const ftn_optimizer_config *opt);
/* forward(training) + loss + backward + step. */
ftn_status ftn_train_step(ftn_session *s, const float *x, const float *masks,
                          const ftn_loss_config *loss_cfg, const ftn_optimizer_config *opt, float *loss);

/* BN running statistics follow r = momentum·r + (1 − momentum)·batch at every training-mode
 * forward of this session (the spec's 0.99 unless set). momentum in [0, 1]. */
ftn_status ftn_session_set_bn_momentum(ftn_session *s, float momentum);
/* From now on s trains as one part of comm's group (NULL: alone). comm is borrowed: it outlives s. */
void ftn_session_set_comm(ftn_session *s, const ftn_comm *comm);
/* The momentum that makes the spec's update a zero-debiased moving average, as Keras 2.1.3–2.2
 * on TensorFlow 1 (the reference implementation's environment) computes BN statistics: after
 * update k (1, 2, …) r = Σᵢ (1−m)·mᵏ⁻ⁱ·batchᵢ / (1 − mᵏ), so the start values never count and
 * update 1 sets r to the first batch's statistics. m: the spec's 0.99. */
float ftn_bn_debiased_momentum(int64_t k);

/* Re-estimates every BN layer's running statistics from images x (n×C×H×W at the model's input
 * size): training-mode forwards over batches of `batch` (the last one smaller), the running
 * mean and (unbiased) variance set to the sample-weighted average of the batches' statistics.
 * Weights are unchanged. The spec's running statistics (momentum 0.99 from a variance of 1) lag
 * the weights by hundreds of steps; this is "precise BN" (Wu & Johnson 2021), a deviation from
 * the paper's protocol that the program offers as an option only. */
ftn_status ftn_bn_recalibrate(ftn_model *m, const float *x, int n, int batch, ftn_engine engine,
                              ftn_precision precision);
/* The same with sessions the caller already has (a training loop's, so that no second set of
 * buffers is made): `full`'s batch size sets the batches, `rest` (NULL when that size divides n)
 * takes the smaller last one. Both sessions' BN momentum is restored afterwards. */
ftn_status ftn_bn_recalibrate_sessions(ftn_session *full, ftn_session *rest, const float *x, int n);

/* ---- profiling ------------------------------------------------------------------------------ */
/* Where a session's time goes: seconds and executions per op kind ("conv", "bn", …; "boundary"
 * for the reorders at the network's input and outputs) and pass. Only the oneDNN engine times;
 * with timing on it waits for every primitive, so totals are slightly above untimed runs. */
typedef struct ftn_profile_entry {
    const char *kind;   /* static string */
    int backward;       /* 0 forward (training or inference), 1 backward */
    double seconds;
    long calls;
} ftn_profile_entry;
/* on != 0 turns timing on and clears what was accumulated; 0 turns it off (no cost when off). */
void ftn_session_set_profile(ftn_session *s, int on);
/* Writes up to cap entries with calls > 0 (forward first, then backward, in op-kind order) and
 * returns how many there are in all. */
int ftn_session_profile(const ftn_session *s, ftn_profile_entry *out, int cap);

/* The same per layer: one entry per op of the network, in execution order, then one for the
 * boundary. An op's time includes its converted copies, weight reorders and gradient
 * accumulations; a fused ReLU's forward is its producer's. */
typedef struct ftn_profile_layer {
    const char *label;   /* the op's name ("enc1.conv1"); unnamed ops (relu, concat, …) carry
                            their kind, and `after` says where they are */
    const char *kind;    /* "conv", "bn", …, "boundary" */
    const char *after;   /* unnamed ops: the nearest named op up their first inputs ("input"
                            for the network's input); named ops and the boundary: "" */
    ftn_shape out;       /* the op's output (the boundary: the network's input) */
    double seconds[2];   /* forward, backward */
    long calls[2];
} ftn_profile_layer;
/* Writes up to cap entries and returns how many there are (the network's op count + 1). */
int ftn_session_profile_layers(const ftn_session *s, ftn_profile_layer *out, int cap);

/* ---- files ---------------------------------------------------------------------------------- */
/* The file primitives checkpoints are written with, for callers' own files. */

/* Writes the concatenation of chunks[0..n_chunks) to `path` atomically: the bytes go to
 * "<path>.tmp.<pid>" in the same folder, are flushed and fsync'ed, then renamed over `path`.
 * On any failure the temporary file is removed, `path` is left as it was, and FTN_EIO is
 * returned with a message naming the path and the system's reason. A chunk with size 0 may have a
 * NULL pointer. */
ftn_status ftn_write_file_atomic(const char *path, const void *const *chunks, const size_t *sizes,
                                 int n_chunks);

/* Reads all of `path` into a fresh malloc'ed buffer (*data, to be free()d; one extra NUL byte is
 * appended but not counted in *size). Files larger than max_size are refused (FTN_EFORMAT). */
ftn_status ftn_read_file(const char *path, size_t max_size, uint8_t **data, size_t *size);

/* mkdir -p: path and its missing parents; FTN_EIO when one cannot be made or path is not a
 * folder afterwards. */
ftn_status ftn_mkdirs(const char *path);

#ifdef __cplusplus
}
#endif
#endif
