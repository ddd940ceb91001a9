/*
 * The oneDNN engine (C API, oneDNN 2.6): what its files share. Not a public header.
 *
 * compile() turns the graph into three flat lists of steps (training forward, inference forward,
 * backward per op); forward()/backward() only walk a list and execute. Every primitive
 * descriptor, primitive, memory object and buffer is created in compile, once per graph.
 *
 * How the files fit together:
 *   engine.c         the vtable: compile (the boundary, then each op in order), running the step
 *                    lists, forward, backward, destroy
 *   plan.c           before compiling: which ops fuse, which gradient contribution comes first
 *   objects.c        the owned objects (primitive descriptors, primitives, memories, buffers),
 *                    steps, reorders, memory descriptors, error reporting
 *   grad.c           gradients: where an op's backward writes its input's gradient (gslot), inputs
 *                    and weights in the format a primitive wants
 *   convolution.c    convolutions and transposed convolutions (formats, weights, Winograd)
 *   deconv_phases.c  stride-2 transposed convolutions' forward as four convolutions
 *   bn.c             batch normalisation
 *   bn_group.c       ... synchronized over a process group (ex->comm)
 *   eltwise_pool.c   ReLU, sigmoid, poolings, nearest upsampling
 *   binary.c         add, and the attention gates' channel-broadcast multiply (chandot)
 *   concatenation.c  concat, and ReLUs written straight into their concat's slice
 *   rows.c           the row-walk kernels behind those (ReLU and copy into or out of a slice)
 *   memory.c         pooled buffers: liveness, packing into one arena, binding, sharing
 *   isa.c            whether this CPU can run bf16 and Winograd
 * Every function shared between them is ftn_dnnl_-prefixed (every global of the library is
 * ftn_-prefixed, tests/symbols.sh).
 */
#ifndef FTN_ENGINE_DNNL_INTERNAL_H
#define FTN_ENGINE_DNNL_INTERNAL_H

#include <oneapi/dnnl/dnnl.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "engine/graph.h"

#define MAX_ARGS 12

/* ---- steps ------------------------------------------------------------------------------------ */

typedef enum step_kind {
    STEP_PRIM,          /* a oneDNN primitive over args */
    STEP_BN_RUNNING,    /* the BN running statistics from the batch's (bn.c) */
    STEP_ZERO,          /* args[0]'s memory zeroed: a gradient nothing writes */
    STEP_CHANDOT,       /* args dy, x, da: da = Σ_c dy ⊙ x (binary.c) */
    STEP_PHASE_WEIGHTS, /* a deconvolution's weights into its four phase kernels (deconv_phases.c) */
    STEP_ROWS_RELU,     /* args x, y: y = max(x, 0), y a concat's slice (rows.c) */
    STEP_ROWS_RELU_BWD, /* args y, dy, dx: dx = y > 0 ? dy : 0 */
    STEP_ROWS_COPY,     /* args x, y: y = x */
    STEP_BN_GROUP_STATS, /* args x: the group's BN statistics (bn_group.c) */
    STEP_BN_GROUP_DX,    /* args x, dx: the group's correction of a BN's diff_src (bn_group.c) */
} step_kind;

/* When a step runs: always, only in an exec without a comm, or only with one (synchronized BN). */
enum { RUN_ALWAYS, RUN_ALONE, RUN_IN_GROUP };

/* One axis of a stride-2 transposed convolution split by output parity (see deconv_phases.c):
 * output index 2m + p takes input m + t − pad_l through kernel tap tap[t], t < n. */
typedef struct phase_axis { int n, pad_l, pad_r, tap[2]; } phase_axis;

typedef struct step {
    step_kind kind;
    int op;                         /* charged in profiles and named in errors */
    int when;                       /* RUN_ALWAYS, RUN_ALONE, RUN_IN_GROUP */
    /* the memories the step reads or writes, which the pool's liveness reads (the private
     * buffers that BN_RUNNING and PHASE_WEIGHTS reach through pointers are not listed); for
     * STEP_PRIM, the primitive's arguments */
    int nargs;
    dnnl_exec_arg_t args[MAX_ARGS];
    union {
        struct { dnnl_primitive_t prim; } prim;              /* STEP_PRIM */
        struct { const float *mean, *var; const double *m_all; } bn; /* STEP_BN_RUNNING: the batch's;
                                                                with a comm, the group's count */
        struct {                                             /* STEP_BN_GROUP_* */
            double *sums;      /* 5·C doubles + 1 */
            float *mean, *var; /* the batch statistics the primitives take */
            double *m_all;     /* the group's elements per channel */
            const float *gamma, *dgamma, *dbeta;
        } bng;
        struct { size_t bytes; } zero;                       /* STEP_ZERO */
        struct {                                             /* STEP_PHASE_WEIGHTS */
            const float *src;  /* [ci][co][k][k] */
            float *dst;        /* the four phase kernels [co][ci][kh][kw], one after another */
            int ci, co, k;
            phase_axis ax[2];  /* by parity; rows and columns alike (square kernel, symmetric padding) */
        } phase;
        struct {                                             /* STEP_ROWS_* */
            /* per image n and row r < n_rows, `len` elements of args[j] from
             * first[j] + n·img[j] + r·row[j] (see rowview) */
            dnnl_dim_t n_img, n_rows, len, first[3], img[3], row[3];
            bool bf;           /* bf16 data, else f32 */
        } rows;
    };
} step;

typedef struct steplist { step *v; int n; size_t cap; } steplist;

/* A primitive's arguments, collected before the step is pushed. */
typedef struct argv { int n; dnnl_exec_arg_t a[MAX_ARGS]; } argv;
static inline void arg(argv *v, int k, dnnl_memory_t m) { if (m) v->a[v->n++] = (dnnl_exec_arg_t){ k, m }; }

/* ---- tensors and the compiled state ---------------------------------------------------------- */

typedef struct tens {
    dnnl_memory_desc_t md;
    bool has_md;
    dnnl_memory_t mem;   /* data */
    dnnl_memory_t dmem;  /* gradient (same md), created on first need */
    int dvb;             /* the gradient's pooled buffer (vbuf index), -1 until needed */
    int vb;              /* the data's pooled buffer, -1 if not pooled */
    dnnl_memory_t bwcopy; /* a ReLU output read only by a concat: its backward reads this copy,
                             refreshed from the concat's output in the concat's backward */
    dnnl_memory_t tmem;  /* view of the shared gradient temporary with this md */
    dnnl_primitive_t acc; /* dmem += tmem */
    int cat_op, cat_c0;  /* >= 0: a ReLU output written in place into concat cat_op's output at
                            channel cat_c0 (its memories are views of the concat's); -1: not */
    bool needs_grad;     /* some parameter upstream of it: backward propagates into it */
    bool seen;           /* compile-time: a gradient contribution has been planned */
} tens;

/* An op's fusion with the next op (plan.c). */
enum { FUSE_NONE, FUSE_CONV_RELU, FUSE_CONV_SIGMOID, FUSE_BN_RELU };
/* The shared temporaries, each sized to its largest user: the primitives' scratchpad, the
 * gradient contributions added to a tensor's gradient, and those reordered or discarded. */
enum { SH_SCRATCH, SH_GTMP, SH_GTMP2, SH_COUNT };

/* Pooled buffers: every buffer the engine owns (activations, converted copies, workspaces,
 * reordered weights, gradients, gradient temporaries, scratchpad) is a virtual buffer whose
 * memory objects get their data handle at the first run (bind_pool): virtual buffers that are
 * never live at the same time share one real buffer, and the real buffers lie side by side in
 * one arena. ft..lt, fi..li: first and last step using it in training and inference (-1: none);
 * blk: its real buffer; next: the next virtual buffer in the same real buffer. */
typedef struct vbuf { size_t size; int ft, lt, fi, li; int blk, next; } vbuf;

/* The memory behind the real buffers. Sessions of several batch sizes that never run at the same
 * time (a training loop's full and last batches, its validation) can share one (share): it
 * grows to the largest of them, and each rebinds its memories when the address changed. What
 * must not happen in between is another sharer running between a training forward and its
 * backward: `last` catches that. */
typedef struct arena { void *p; size_t size; int refs; const ftn_exec *last; } arena;
typedef struct bind { dnnl_memory_t mem; int vb; } bind;

typedef struct impl {
    dnnl_data_type_t dt; /* activations and their gradients: f32, or bf16 (FTN_PRECISION_BF16) */
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr;
    tens *t;
    int n_t;
    steplist fwd_train, fwd_infer, bwd_head;
    steplist *bwd_op; /* per op, run in reverse */
    int n_ops;
    int *fuse;        /* per op: fusion with the next op (a ReLU or sigmoid) */
    bool *fused_away; /* per op: a ReLU or sigmoid whose forward is done by its producer */
    bool *first;      /* [op*FTN_MAX_OP_INPUTS+i]: first gradient contribution to that input */
    /* owned objects */
    dnnl_primitive_desc_t *pds; int n_pds; size_t cap_pds;
    dnnl_primitive_t *prims; int n_prims; size_t cap_prims;
    dnnl_memory_t *mems; int n_mems; size_t cap_mems;
    void **bufs; int n_bufs; size_t cap_bufs;
    vbuf *vb; int n_vb; size_t cap_vb;
    bind *binds; int n_binds; size_t cap_binds;
    int sh_vb[SH_COUNT];                      /* the shared temporaries' vbufs, -1 if none */
    size_t *pool_off; int n_pool;             /* the real buffers, as offsets into the arena */
    size_t pool_bytes, pool_bytes_unshared;   /* after / before sharing */
    struct arena *arena; /* the real buffers' memory: this session's own, or shared (share) */
    void *bound;         /* the arena address the pooled memories point into; NULL: not yet */
    int cur_op; /* the op being compiled, for error messages; -1: the network boundary */
} impl;

/* ---- errors ----------------------------------------------------------------------------------- */

#define TRY(expr) FTN_TRY(expr)

/* A oneDNN failure at op `op` (-1: the network boundary), naming the call that failed. */
ftn_status ftn_dnnl_fail(const ftn_exec *ex, int op, const char *what, dnnl_status_t s);

/* Runs a oneDNN call; when it fails, returns from the calling function with an error naming the
 * call (its source text) and the op C is compiling. */
#define DNNL_TRY(ex, C, call)                                                                       \
    do {                                                                                            \
        dnnl_status_t st_ = (call);                                                                 \
        if (st_ != dnnl_success) return ftn_dnnl_fail((ex), (C)->cur_op, #call, st_);               \
    } while (0)

static inline ftn_status oom(const impl *C)
{
    return ftn_fail(FTN_ENOMEM, "oneDNN engine: out of memory at op %d", C->cur_op);
}

/* ---- small helpers ---------------------------------------------------------------------------- */

static inline float *param_ptr(ftn_exec *ex, int param) { return ex->params + ex->g->params[param].offset; }
static inline float *grad_ptr(ftn_exec *ex, int param) { return ex->grads + ex->g->params[param].offset; }

static inline bool md_eq(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b)
{
    return dnnl_memory_desc_equal(a, b) != 0;
}

static inline bool is_output(const ftn_graph *g, int t)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == t) return true;
    return false;
}

/* The tensor whose gradient is op o's diff_dst: its output, or the fused ReLU's output. */
static inline int grad_out(const ftn_exec *ex, const impl *C, int o)
{
    return C->fuse[o] == FUSE_BN_RELU ? ex->g->ops[o + 1].out : ex->g->ops[o].out;
}

/* ---- objects.c: owned objects, steps, descriptors -------------------------------------------- */

void *ftn_dnnl_new_buf(impl *C, size_t bytes);
ftn_status ftn_dnnl_keep_pd(impl *C, dnnl_primitive_desc_t pd);
int ftn_dnnl_new_vbuf(impl *C, size_t size);
ftn_status ftn_dnnl_bound_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, int vb, dnnl_memory_t *out);
ftn_status ftn_dnnl_new_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, void *handle, dnnl_memory_t *out);
ftn_status ftn_dnnl_private_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, dnnl_memory_t *out);
ftn_status ftn_dnnl_shared_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, int which, dnnl_memory_t *out);
ftn_status ftn_dnnl_make_prim(ftn_exec *ex, impl *C, const void *desc, const_dnnl_primitive_desc_t hint,
                              dnnl_primitive_desc_t *pd_out, dnnl_primitive_t *prim_out, dnnl_memory_t *scratch);
step *ftn_dnnl_push(impl *C, steplist *l);
ftn_status ftn_dnnl_push_prim(impl *C, steplist *l, dnnl_primitive_t prim, dnnl_memory_t scratch, const argv *a);
ftn_status ftn_dnnl_push_both(impl *C, dnnl_primitive_t prim, dnnl_memory_t scratch, const argv *a);
ftn_status ftn_dnnl_reorder(ftn_exec *ex, impl *C, dnnl_memory_t src, dnnl_memory_t dst, steplist *l, steplist *l2);
ftn_status ftn_dnnl_md_tag_dt(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims,
                              dnnl_data_type_t dt, dnnl_format_tag_t tag);
ftn_status ftn_dnnl_md_tag(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims,
                           dnnl_format_tag_t tag);
ftn_status ftn_dnnl_md_nchw(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, ftn_shape s, dnnl_format_tag_t tag);
ftn_status ftn_dnnl_md_nchw_f32(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, ftn_shape s, dnnl_format_tag_t tag);
ftn_status ftn_dnnl_md_vec(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, int c);
ftn_status ftn_dnnl_set_tensor(ftn_exec *ex, impl *C, int t, const dnnl_memory_desc_t *md, dnnl_memory_t alias);

/* ---- grad.c: gradient contributions, converted inputs and weights ---------------------------- */

/* How an op's backward delivers the gradient of one of its inputs (grad_begin, grad_end). */
typedef enum grad_mode {
    GRAD_DISCARD,     /* the input needs no gradient: written to a shared temporary, never read */
    GRAD_DIRECT,      /* first contribution, the tensor's format: straight into its gradient */
    GRAD_REORDER,     /* first contribution, another format: a temporary reordered into the gradient */
    GRAD_ADD,         /* a later one (fan-out), the tensor's format: its temporary, added in place */
    GRAD_REORDER_ADD, /* a later one, another format: reordered into the tensor's temporary, added */
} grad_mode;

typedef struct gslot {
    grad_mode mode;
    int t;                 /* the input tensor */
    dnnl_memory_t target;  /* where the op's backward writes the input's gradient */
} gslot;

ftn_status ftn_dnnl_diff_view(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, int t, dnnl_memory_t *out);
ftn_status ftn_dnnl_ensure_diff(ftn_exec *ex, impl *C, int t);
ftn_status ftn_dnnl_grad_begin(ftn_exec *ex, impl *C, int o, int i, const dnnl_memory_desc_t *in_md, gslot *gs);
ftn_status ftn_dnnl_grad_end(ftn_exec *ex, impl *C, steplist *l, const gslot *gs);
ftn_status ftn_dnnl_input_as(ftn_exec *ex, impl *C, int o, int i, const dnnl_memory_desc_t *want, dnnl_memory_t *out);
ftn_status ftn_dnnl_weights_as(ftn_exec *ex, impl *C, dnnl_memory_t wu, const dnnl_memory_desc_t *want,
                               dnnl_memory_t *out);

/* ---- rows.c: ReLU and copies into or out of a concat's slice --------------------------------- */

/* A 4-d tensor, or a channel slice of one, walked as n_rows rows of len contiguous elements per
 * image: one row of C·H·W for nchw and for channel-blocked layouts with whole blocks of B
 * (nChw8c, nChw16c), H·W rows of C for nhwc (block 1; the rows of a slice lie `row` apart).
 * first: the first element; img: the distance between images. */
typedef struct rowview { dnnl_format_tag_t tag; dnnl_dim_t block, first, img, n_rows, row, len; } rowview;

bool ftn_dnnl_row_view(const dnnl_memory_desc_t *md, rowview *v);
ftn_status ftn_dnnl_push_rows(impl *C, steplist *l, step_kind kind, dnnl_dim_t n_img, const rowview *v,
                              const dnnl_memory_t *m, int nargs);
ftn_status ftn_dnnl_copy_rows(ftn_exec *ex, impl *C, dnnl_memory_t src, dnnl_memory_t dst, steplist *l, steplist *l2);

/* ---- the ops (each compiles op o's forward steps into both forward lists, its backward into
 * C->bwd_op[o]) --------------------------------------------------------------------------------- */

ftn_status ftn_dnnl_compile_conv(ftn_exec *ex, impl *C, int o);      /* convolution.c */
ftn_status ftn_dnnl_compile_bn(ftn_exec *ex, impl *C, int o);        /* bn.c */
ftn_status ftn_dnnl_compile_eltwise(ftn_exec *ex, impl *C, int o);   /* eltwise_pool.c */
ftn_status ftn_dnnl_compile_pool_up(ftn_exec *ex, impl *C, int o);   /* eltwise_pool.c */
ftn_status ftn_dnnl_compile_binary(ftn_exec *ex, impl *C, int o);    /* binary.c */
ftn_status ftn_dnnl_compile_concat(ftn_exec *ex, impl *C, int o);    /* concatenation.c */

/* concatenation.c: op o (a ReLU planned into its concat) writes its output into the concat's;
 * *done false when the layouts do not allow it. */
ftn_status ftn_dnnl_relu_into_cat(ftn_exec *ex, impl *C, int o, bool *done);
void ftn_dnnl_plan_cat_in_place(const ftn_exec *ex, impl *C);

/* deconv_phases.c */
bool ftn_dnnl_phase_plan(const ftn_exec *ex, int o, phase_axis ax[2]);
bool ftn_dnnl_phase_view(const dnnl_memory_desc_t *md, int py, int px, dnnl_memory_desc_t *v);
ftn_status ftn_dnnl_compile_phases(ftn_exec *ex, impl *C, int o, const phase_axis ax[2], const dnnl_memory_desc_t *src_md,
                                   dnnl_memory_t xin, const dnnl_memory_desc_t *b_md, dnnl_memory_t bmem);

/* ---- the steps that are not primitives ------------------------------------------------------- */

void ftn_dnnl_phase_weights(const step *s);                          /* deconv_phases.c */
void ftn_dnnl_bn_update_running(ftn_exec *ex, const step *s);        /* bn.c */
ftn_status ftn_dnnl_bn_group_stats(ftn_exec *ex, const step *s);     /* bn_group.c */
ftn_status ftn_dnnl_bn_group_dx(ftn_exec *ex, const step *s);        /* bn_group.c */
ftn_status ftn_dnnl_run_chandot(const ftn_exec *ex, const step *s);  /* binary.c */
ftn_status ftn_dnnl_run_rows(const ftn_exec *ex, const step *s);     /* rows.c */

/* ---- plan.c, memory.c ------------------------------------------------------------------------- */

ftn_status ftn_dnnl_plan(ftn_exec *ex, impl *C);
ftn_status ftn_dnnl_assign_pool(impl *C);
ftn_status ftn_dnnl_bind_pool(ftn_exec *ex, impl *C);
void ftn_dnnl_arena_release(arena *A);
ftn_status ftn_dnnl_share(ftn_exec *ex, ftn_exec *with);

#endif
