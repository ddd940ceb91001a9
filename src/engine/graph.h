/*
 * The network as data: a list of operations over tensors, in execution order, and a table of
 * named parameters. Network definitions (src/networks) build it; engines (src/engine) compile
 * and run it. Shapes are logical NCHW; how an engine stores a tensor is its own business.
 */
#ifndef FTN_ENGINE_GRAPH_H
#define FTN_ENGINE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "ftunet.h"

#define FTN_MAX_OUTPUTS 4
#define FTN_MAX_OP_INPUTS 4
#define FTN_PARAM_NAME_MAX 64

typedef enum ftn_op_kind {
    FTN_OP_CONV,      /* in0 → conv k×k, stride, pad (symmetric), with bias                */
    FTN_OP_DECONV,    /* in0 → transposed conv k×k, stride, pad, outpad (PyTorch semantics) */
    FTN_OP_BN,        /* batch normalisation, eps 1e-3, momentum 0.99                     */
    FTN_OP_RELU,
    FTN_OP_SIGMOID,
    FTN_OP_MAXPOOL2,  /* 2×2 stride 2 */
    FTN_OP_AVGPOOL2,  /* 2×2 stride 2 */
    FTN_OP_UP2X,      /* nearest-neighbour 2× upsampling */
    FTN_OP_ADD,       /* in0 + in1, same shape */
    FTN_OP_MUL,       /* in0 (N×C×H×W) ⊙ in1 (N×1×H×W), broadcast over channels */
    FTN_OP_CONCAT,    /* in0..in{n-1} along channels, in0's first */
    FTN_OP_KIND_COUNT
} ftn_op_kind;

typedef enum ftn_param_init { FTN_INIT_GLOROT, FTN_INIT_ZERO, FTN_INIT_ONE } ftn_param_init;

typedef struct ftn_param {
    char name[FTN_PARAM_NAME_MAX]; /* the checkpoint name, e.g. "enc1.conv1.weight" */
    int ndim, dims[4];             /* spec layout: conv [co,ci,k,k], deconv [ci,co,k,k], others [c] */
    size_t offset, count;          /* into the model's one parameter allocation */
    bool trainable;                /* false for BN running statistics */
    ftn_param_init init;
    int fan_in, fan_out;           /* for Glorot */
} ftn_param;

typedef struct ftn_tensor {
    ftn_shape shape;
    int producer;    /* index of the op that writes it; -1 for the network input */
    int consumers;   /* how many op inputs read it (fan-out sums gradients) */
} ftn_tensor;

typedef struct ftn_op {
    ftn_op_kind kind;
    int in[FTN_MAX_OP_INPUTS], n_in;
    int out;
    int k, stride, pad, outpad;     /* CONV, DECONV */
    int weight, bias;               /* param indices, -1 if none; BN: gamma, beta */
    int running_mean, running_var;  /* BN only */
    const char *label;              /* the parameter prefix or op name, for profiles and errors */
} ftn_op;

typedef struct ftn_graph {
    ftn_tensor *tensors; int n_tensors; size_t cap_tensors;
    ftn_op *ops;         int n_ops; size_t cap_ops;
    ftn_param *params;   int n_params; size_t cap_params;
    size_t n_param_floats;
    int input;                        /* tensor index */
    int outputs[FTN_MAX_OUTPUTS];     /* tensor indices; the last is the prediction */
    int n_outputs;
    char *labels;                     /* storage for op labels */
    size_t labels_len, labels_cap;
    ftn_status error;                 /* first build error, with ftn_last_error() set then */
} ftn_graph;

/* ---- building (used by src/networks) ---------------------------------------------------------
 * Each builder returns the new tensor's index, or -1 once the graph is in error (shape mismatch,
 * out of memory); errors propagate, so a definition checks g->error once at the end. */
void ftn_graph_init(ftn_graph *g);
void ftn_graph_free(ftn_graph *g);
int ftn_g_input(ftn_graph *g, ftn_shape shape);
int ftn_g_conv(ftn_graph *g, const char *name, int x, int co, int k, int stride, int pad);
int ftn_g_deconv(ftn_graph *g, const char *name, int x, int co, int k, int stride, int pad, int outpad);
int ftn_g_bn(ftn_graph *g, const char *name, int x);
int ftn_g_relu(ftn_graph *g, int x);
int ftn_g_sigmoid(ftn_graph *g, int x);
int ftn_g_maxpool2(ftn_graph *g, int x);
int ftn_g_avgpool2(ftn_graph *g, int x);
int ftn_g_up2x(ftn_graph *g, int x);
int ftn_g_add(ftn_graph *g, int a, int b);
int ftn_g_mul(ftn_graph *g, int x, int a);
int ftn_g_concat2(ftn_graph *g, int a, int b);
void ftn_g_output(ftn_graph *g, int x);

static inline size_t ftn_shape_count(ftn_shape s) { return (size_t)s.n * s.c * s.h * s.w; }

/* FLOPs of one forward pass for the whole batch: 2 per multiply-add of (de)convolutions. */
double ftn_graph_conv_flops(const ftn_graph *g);
const char *ftn_op_kind_name(ftn_op_kind kind);

/* ---- running (implemented by each engine) ----------------------------------------------------
 * An executable instance of a graph on one engine. Parameters and gradients live in the model,
 * in the spec's layouts; input and outputs cross the boundary as NCHW float32. */
typedef struct ftn_exec ftn_exec;

/* The oneDNN engine's optimisations, each on unless turned off: off is the plain path, for tests
 * that check the optimised one against it and for before/after timing. Engines only see these
 * values; the environment is read in one place, ftn_engine_options_from_env (src/engine/select.c),
 * which the session layer calls when it creates a session. */
typedef struct ftn_engine_options {
    bool fuse;          /* conv → ReLU/sigmoid and BN → ReLU fusions (FTUNET_DNNL_FUSE=0 turns off
                           this and cat_in_place) */
    bool cat_in_place;  /* ReLUs written straight into their concat's channel slice
                           (FTUNET_DNNL_CAT_IN_PLACE=0) */
    bool deconv_phases; /* stride-2 3×3/4×4 transposed convolutions forward as four phase
                           convolutions (FTUNET_DNNL_DECONV_PHASES=0) */
} ftn_engine_options;
/* Everything on. */
ftn_engine_options ftn_engine_options_default(void);
/* The defaults, less what FTUNET_DNNL_FUSE, FTUNET_DNNL_CAT_IN_PLACE and FTUNET_DNNL_DECONV_PHASES
 * set to 0 turn off; any other value than 0 or 1 is an error naming the variable. */
ftn_status ftn_engine_options_from_env(ftn_engine_options *o);

typedef struct ftn_engine_vtable {
    ftn_status (*compile)(ftn_exec *ex);
    /* Reads ex->input and ex->params; writes ex->outputs. training: batch statistics, and the
     * BN running statistics in ex->params are updated (r = m·r + (1 − m)·batch with m =
     * ex->bn_momentum, unbiased var). */
    ftn_status (*forward)(ftn_exec *ex, bool training);
    /* After a training forward: reads ex->d_outputs, overwrites ex->grads (every trainable
     * parameter; running statistics' slots are left untouched). */
    ftn_status (*backward)(ftn_exec *ex);
    void (*destroy)(ftn_exec *ex);
    /* Optional: ex uses with's working memory from now on (see ftn_exec_share). */
    ftn_status (*share)(ftn_exec *ex, ftn_exec *with);
} ftn_engine_vtable;

struct ftn_exec {
    const ftn_graph *g;
    float *params;                       /* borrowed from the model */
    float *grads;                        /* borrowed from the model */
    float *input;                        /* owned, N×C×H×W */
    float *outputs[FTN_MAX_OUTPUTS];     /* owned, NCHW, shapes of g->outputs */
    float *d_outputs[FTN_MAX_OUTPUTS];   /* owned, gradients of the loss w.r.t. the outputs */
    const ftn_engine_vtable *vt;
    void *impl;                          /* the engine's own state */
    ftn_precision precision;             /* of activations inside the engine (boundary: f32) */
    ftn_engine_options opts;             /* what the engine may optimise (see ftn_engine_options) */
    /* a training forward updates BN running statistics as r = m·r + (1 − m)·batch with this m
     * (FTN_BN_MOMENTUM; ftn_bn_recalibrate varies it to average over batches) */
    float bn_momentum;
    /* NULL, or the process group whose batch this one is part of: a training forward normalises
     * with the group's BN statistics, backward forms the input gradients from the group's sums
     * (src/dist/ has the MPI one) */
    const ftn_comm *comm;
    struct ftn_grad_sync_state {   /* group.c's, during a backward with a comm */
        size_t frontier, sent;     /* gradients [frontier, end) are final, [sent, end) sent */
        bool in_order;             /* ops have finished in the layout's order so far */
        int n_pending, pending[FTN_COMM_MAX_PENDING];
    } gsync;
    /* Optional per-op timing (see ftn_exec_set_profile). Engines that do not time leave it zero. */
    bool profile;
    /* the oneDNN engine, after compile: how many convolution passes (forward, backward data,
     * backward weights) run as Winograd (FTN_PRECISION_FP32_WINOGRAD) */
    int n_winograd;
    /* ... and how many ReLU outputs it writes straight into their concat's output (FUSE_CAT) */
    int n_cat_in_place;
    /* ... and how many sigmoids it runs as their convolution's post-op */
    int n_conv_sigmoid;
    /* seconds and executions per op and pass: [pass * (g->n_ops + 1) + op], op = g->n_ops for the
     * boundary (input/output reorders); per-kind totals are sums of these */
    double *prof_op_s;
    long *prof_op_n;
};

extern const ftn_engine_vtable ftn_ref_engine;
extern const ftn_engine_vtable ftn_dnnl_engine;

/* Allocates the boundary buffers, then calls the engine's compile. */
ftn_status ftn_exec_create(const ftn_graph *g, float *params, float *grads, ftn_engine engine, ftn_exec **out);
/* The same, in a given precision (bf16: oneDNN engine on a CPU with AVX512-BF16 only). */
ftn_status ftn_exec_create_ex(const ftn_graph *g, float *params, float *grads, ftn_engine engine,
                              ftn_precision precision, ftn_exec **out);
/* The same with given engine options (NULL: ftn_engine_options_default()). */
ftn_status ftn_exec_create_opts(const ftn_graph *g, float *params, float *grads, ftn_engine engine,
                                ftn_precision precision, const ftn_engine_options *opts, ftn_exec **out);
/* FTN_OK when the oneDNN engine can run bf16 here, else FTN_EUNSUPPORTED with the reason. */
ftn_status ftn_dnnl_bf16_check(void);
/* The same for FTN_PRECISION_FP32_WINOGRAD (oneDNN's Winograd convolutions need AVX-512). */
ftn_status ftn_dnnl_winograd_check(void);
void ftn_exec_free(ftn_exec *ex);
/* ex and `with` (same engine) share their working memory from now on, which then costs the larger
 * of the two instead of the sum. They must not interleave: a training forward and its backward
 * with no run of the other between (the oneDNN engine refuses that backward). The reference
 * engine keeps its own memory per exec (it is for checking, not for memory). */
ftn_status ftn_exec_share(ftn_exec *ex, ftn_exec *with);
/* Turns per-op timing on (and clears the accumulated times) or off. Off costs nothing. */
void ftn_exec_set_profile(ftn_exec *ex, bool on);
/* Charges `seconds` of one execution in `pass` (0 forward, 1 backward) to op `op` (-1 or
 * g->n_ops: the boundary). For engines, with ex->profile on. */
void ftn_exec_profile_add(ftn_exec *ex, int pass, int op, double seconds);

/* Gradient summation over ex->comm during backward (group.c): engines call begin before it,
 * op_done after each op's backward (that op's parameter gradients final), end after the last. No
 * comm: nothing happens. */
void ftn_grad_sync_begin(ftn_exec *ex);
ftn_status ftn_grad_sync_op_done(ftn_exec *ex, int op);
ftn_status ftn_grad_sync_end(ftn_exec *ex);

/* Synchronized BatchNorm (group.c), in a single process's two passes. Forward: sums[0..c) this
 * process's Σx per channel over m_local elements (sums has c + 1 slots) become the group's means
 * (in place), m_all its element count; then sq[0..c), this process's Σ(x − mean)², become the
 * group's biased variances. Backward: sums[0..c) Σdy, [c..2c) Σdy·x̂, summed over the group in
 * place. */
ftn_status ftn_bn_group_mean(const ftn_exec *ex, double *sums, int c, double m_local, double *m_all);
ftn_status ftn_bn_group_var(const ftn_exec *ex, double *sq, int c, double m_all);
ftn_status ftn_bn_group_grad_sums(const ftn_exec *ex, double *sums, int c);

#define FTN_BN_EPS 1e-3f
#define FTN_BN_MOMENTUM 0.99f

#endif
