/*
 * The oneDNN engine (C API, oneDNN 2.6).
 *
 * Design
 * - compile() turns the graph into three flat lists of steps (training forward, inference
 *   forward, backward); forward()/backward() only walk a list and execute. Every primitive
 *   descriptor, primitive, memory object and buffer is created in compile, once per graph.
 * - Formats: convolutions and deconvolutions choose their source/destination formats
 *   (dnnl_format_tag_any; nChw16c on AVX-512). Every other primitive is created on its
 *   producer's memory descriptor, so activations stay in the producer's (blocked) format from
 *   layer to layer. Where a primitive wants its input in another format than the producer
 *   wrote (e.g. a convolution reading a concat that chose another layout) a per-input
 *   converted copy is kept, and its gradient is reordered back. Reorders to/from NCHW happen
 *   only at the boundary: ex->input is read in place (plain NCHW), outputs and output
 *   gradients are reordered.
 * - Weights: the model keeps conv weights oihw and deconv weights [ci,co,k,k] (described to
 *   oneDNN as {OC,IC,KH,KW} with tag iohw, read in place). When a primitive prefers another
 *   layout they are reordered once per forward (and once per backward for backward-data,
 *   which may want a third layout); weight gradients are reordered back into ex->grads.
 *   Biases and BN scale/shift/statistics are read and written in place.
 * - Gradients: every tensor that needs one has a diff buffer in its own format. Backward runs
 *   the ops in reverse; the first contributor to a tensor's gradient writes it, later ones
 *   (fan-out) write into a shared temporary and are added in place (binary add).
 * - Fusions: conv → ReLU and conv → sigmoid (eltwise post-op; the activation's backward still
 *   runs on the shared output), BN → ReLU (dnnl_fuse_norm_relu, whose backward absorbs the
 *   ReLU's). Only when the pre-activation tensor has no other reader and is not a network
 *   output. The sigmoids are the 1-channel heads and attention maps: padded to a channel block,
 *   oneDNN 2.6 runs a standalone sigmoid on them on its reference kernel. FTUNET_DNNL_FUSE=0
 *   turns them off (for testing).
 * - Concatenation: a ReLU whose output only a concat reads writes it straight into its channel
 *   slice of the concat's output, and its backward reads its slice of the concat's gradient
 *   (relu_into_cat, a plain loop: oneDNN 2.6 runs any primitive whose source or destination is
 *   a slice of a larger tensor on its reference kernel). The concat then copies only its other
 *   inputs. In attn-unet-mi-ds that is the ReLUs after up1..up4 and pyramid2..4 (the pyramid
 *   convolutions lose their fused ReLU for it); the attention gates' BN outputs, enc1 and the
 *   max poolings are still copied. FTUNET_DNNL_CAT_IN_PLACE=0 (or FUSE=0) turns it off.
 * - Stride-2 transposed convolutions with overlapping taps (3×3, 4×4) run forward as four
 *   ordinary convolutions, one per output parity, each reordered into every other pixel of the
 *   output (compile_phases: oneDNN's own deconvolution forward is slow for them); backward
 *   uses the deconvolution primitives.
 *   FTUNET_DNNL_DECONV_PHASES=0 turns this off (for testing and before/after timing).
 * - FTN_PRECISION_FP32_WINOGRAD: 3×3 stride-1 convolutions whose channel counts are multiples
 *   of 16 run as Winograd F(4×4, 3×3) (oneDNN's jit_wino_4x3), forward and both backward passes,
 *   each pass on its own: a pass whose Winograd scratchpad would exceed WINO_SCRATCH_MAX runs
 *   direct (center.conv2's weight gradient at batch 16: 125 MiB). Training ×1.6 on
 *   attn-unet-mi-ds; its rounding is its own (transforms of 6×6 tiles), hence a precision of
 *   its own rather than the default.
 * - Memory: every buffer the engine owns (activations, converted copies, workspaces, reordered
 *   weights, gradients, the scratchpad and two gradient temporaries, each sized to its largest
 *   user) is pooled: after compile, buffers never live at the same time (in the training
 *   sequence forward + backward, and in the inference forward) share memory (assign_pool).
 *   So an activation that backward does not read dies after its last forward reader, and a
 *   ReLU output that only a concat reads (and that is not written into it) is re-copied from
 *   the concat for its backward.
 *   The pool is one arena, which sessions that run one after the other can share (eng_share):
 *   then they cost the largest one's memory, not the sum.
 */
#include <oneapi/dnnl/dnnl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "core/error.h"
#include "engine/graph.h"

#define MAX_ARGS 12

enum step_kind { STEP_PRIM, STEP_BN_RUNNING, STEP_ZERO, STEP_CHANDOT, STEP_PHASE_WEIGHTS,
                 STEP_ROWS_RELU, STEP_ROWS_RELU_BWD, STEP_ROWS_COPY };

/* One axis of a stride-2 transposed convolution split by output parity (see compile_phases):
 * output index 2m + p takes input m + t − pad_l through kernel tap tap[t], t < n. */
typedef struct phase_axis { int n, pad_l, pad_r, tap[2]; } phase_axis;

typedef struct step {
    int kind, op;
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[MAX_ARGS];
    /* STEP_BN_RUNNING */
    const float *mean, *var;
    /* STEP_ZERO */
    dnnl_memory_t zero_mem;
    size_t zero_bytes;
    /* STEP_PHASE_WEIGHTS: the deconvolution's [ci][co][k][k] weights into its four phase kernels */
    const float *wsrc;
    float *wdst;
    int ci, co, k;
    phase_axis ax[2];    /* by parity; rows and columns alike (square kernel, symmetric padding) */
    /* STEP_ROWS_*, a ReLU into (out of) a concat's slice, a copy into (out of) one: per image n and
     * row r < n_rows, `len` elements of args[j] from first[j] + n·img[j] + r·row[j] (row_view) */
    dnnl_dim_t n_img, n_rows, len, first[3], img[3], row[3];
    bool bf;
} step;

typedef struct steplist { step *v; int n, cap; } steplist;

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

enum { FUSE_NONE, FUSE_CONV_RELU, FUSE_CONV_SIGMOID, FUSE_BN_RELU };
enum { SH_SCRATCH, SH_GTMP, SH_GTMP2, SH_COUNT };

/* Pooled buffers: every buffer the engine owns (activations, converted copies, workspaces,
 * reordered weights, gradients, gradient temporaries, scratchpad) is a virtual buffer whose
 * memory objects get their data handle at the first run (bind_pool): virtual buffers that are
 * never live at the same time share one real buffer, and the real buffers lie side by side in
 * one arena. */
typedef struct vbuf { size_t size; int ft, lt, fi, li; int blk, next; } vbuf;

/* The memory behind the real buffers. Sessions of several batch sizes that never run at the same
 * time (a training loop's full and last batches, its validation) can share one (eng_share): it
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
    dnnl_primitive_desc_t *pds; int n_pds, cap_pds;
    dnnl_primitive_t *prims; int n_prims, cap_prims;
    dnnl_memory_t *mems; int n_mems, cap_mems;
    void **bufs; int n_bufs, cap_bufs;
    vbuf *vb; int n_vb, cap_vb;
    bind *binds; int n_binds, cap_binds;
    int sh_vb[SH_COUNT];                      /* the shared temporaries' vbufs, -1 if none */
    size_t *pool_off; int n_pool;             /* the real buffers, as offsets into the arena */
    size_t pool_bytes, pool_bytes_unshared;   /* after / before sharing */
    struct arena *arena; /* the real buffers' memory: this session's own, or shared (eng_share) */
    void *bound;         /* the arena address the pooled memories point into; NULL: not yet */
    int cur_op; /* for error messages during compile */
} impl;

/* ---- errors ------------------------------------------------------------------------------- */

static const char *dnnl_status_str(dnnl_status_t s)
{
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}

static ftn_status dfail(const ftn_exec *ex, int op, const char *what, dnnl_status_t s)
{
    const char *label = op >= 0 && op < ex->g->n_ops ? ex->g->ops[op].label : "network boundary";
    return ftn_fail(FTN_EINTERNAL, "oneDNN: %s at op %d (%s): %s", what, op, label ? label : "?",
                    dnnl_status_str(s));
}

#define D(call) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) return dfail(ex, C->cur_op, #call, st_); } while (0)
#define TRY(expr) do { ftn_status s_ = (expr); if (s_ != FTN_OK) return s_; } while (0)
#define OOM() ftn_fail(FTN_ENOMEM, "oneDNN engine: out of memory at op %d", C->cur_op)

/* ---- owned-object registry ---------------------------------------------------------------- */

static bool grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap) return true;
    int c = *cap ? *cap * 2 : 32;
    while (c < need) c *= 2;
    void *p = realloc(*arr, (size_t)c * elem);
    if (!p) return false;
    *arr = p;
    *cap = c;
    return true;
}

static void *new_buf(impl *C, size_t bytes)
{
    if (!grow((void **)&C->bufs, &C->cap_bufs, C->n_bufs + 1, sizeof(void *))) return NULL;
    size_t sz = (bytes + 63) / 64 * 64;
    if (sz == 0) sz = 64;
    void *p = aligned_alloc(64, sz);
    if (!p) return NULL;
    memset(p, 0, sz);
    C->bufs[C->n_bufs++] = p;
    return p;
}

static ftn_status keep_pd(ftn_exec *ex, impl *C, dnnl_primitive_desc_t pd)
{
    if (!grow((void **)&C->pds, &C->cap_pds, C->n_pds + 1, sizeof *C->pds)) {
        dnnl_primitive_desc_destroy(pd);
        return OOM();
    }
    (void)ex;
    C->pds[C->n_pds++] = pd;
    return FTN_OK;
}

static int new_vbuf(impl *C, size_t size)
{
    if (!grow((void **)&C->vb, &C->cap_vb, C->n_vb + 1, sizeof *C->vb)) return -1;
    C->vb[C->n_vb] = (vbuf){ size, -1, -1, -1, -1, -1, -1 };
    return C->n_vb++;
}

/* A memory object over md whose buffer is vbuf vb (which grows to fit md). */
static ftn_status bound_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, int vb, dnnl_memory_t *out)
{
    if (vb < 0) return OOM();
    if (!grow((void **)&C->mems, &C->cap_mems, C->n_mems + 1, sizeof *C->mems)) return OOM();
    if (!grow((void **)&C->binds, &C->cap_binds, C->n_binds + 1, sizeof *C->binds)) return OOM();
    D(dnnl_memory_create(out, md, C->eng, DNNL_MEMORY_NONE));
    C->mems[C->n_mems++] = *out;
    C->binds[C->n_binds++] = (bind){ *out, vb };
    size_t sz = dnnl_memory_desc_get_size(md);
    if (sz > C->vb[vb].size) C->vb[vb].size = sz;
    return FTN_OK;
}

/* A memory object over `handle` (NULL: a pooled buffer of the md's size). */
static ftn_status new_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, void *handle, dnnl_memory_t *out)
{
    if (!handle) return bound_mem(ex, C, md, new_vbuf(C, dnnl_memory_desc_get_size(md)), out);
    if (!grow((void **)&C->mems, &C->cap_mems, C->n_mems + 1, sizeof *C->mems)) return OOM();
    D(dnnl_memory_create(out, md, C->eng, handle));
    C->mems[C->n_mems++] = *out;
    return FTN_OK;
}

/* A memory object over a private (never shared), zeroed buffer. */
static ftn_status private_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, dnnl_memory_t *out)
{
    void *h = new_buf(C, dnnl_memory_desc_get_size(md));
    if (!h) return OOM();
    return new_mem(ex, C, md, h, out);
}

/* A memory object over one of the shared temporaries (sized to the largest user). */
static ftn_status shared_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, int which, dnnl_memory_t *out)
{
    if (C->sh_vb[which] < 0) C->sh_vb[which] = new_vbuf(C, 0);
    return bound_mem(ex, C, md, C->sh_vb[which], out);
}

/* Creates the primitive descriptor (registered) and its primitive (registered); `scratch` gets
 * a memory over the shared scratchpad, or NULL when the primitive needs none. */
static ftn_status make_prim(ftn_exec *ex, impl *C, const void *desc, const_dnnl_primitive_desc_t hint,
                            dnnl_primitive_desc_t *pd_out, dnnl_primitive_t *prim_out, dnnl_memory_t *scratch)
{
    dnnl_primitive_desc_t pd = NULL;
    if (desc) D(dnnl_primitive_desc_create(&pd, desc, C->attr, C->eng, hint));
    else pd = *pd_out; /* already created (reorder, concat) */
    TRY(keep_pd(ex, C, pd));
    if (!grow((void **)&C->prims, &C->cap_prims, C->n_prims + 1, sizeof *C->prims)) return OOM();
    D(dnnl_primitive_create(prim_out, pd));
    C->prims[C->n_prims++] = *prim_out;
    *pd_out = pd;
    *scratch = NULL;
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (smd && dnnl_memory_desc_get_size(smd) > 0) TRY(shared_mem(ex, C, smd, SH_SCRATCH, scratch));
    return FTN_OK;
}

/* ---- steps -------------------------------------------------------------------------------- */

typedef struct argv { int n; dnnl_exec_arg_t a[MAX_ARGS]; } argv;
static void arg(argv *v, int k, dnnl_memory_t m) { if (m) v->a[v->n++] = (dnnl_exec_arg_t){ k, m }; }

static step *push(ftn_exec *ex, impl *C, steplist *l)
{
    (void)ex;
    if (!grow((void **)&l->v, &l->cap, l->n + 1, sizeof(step))) return NULL;
    step *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    s->op = C->cur_op;
    return s;
}

static ftn_status push_prim(ftn_exec *ex, impl *C, steplist *l, dnnl_primitive_t prim, dnnl_memory_t scratch, const argv *a)
{
    step *s = push(ex, C, l);
    if (!s) return OOM();
    s->kind = STEP_PRIM;
    s->prim = prim;
    s->nargs = a->n;
    memcpy(s->args, a->a, sizeof(dnnl_exec_arg_t) * (size_t)a->n);
    if (scratch) s->args[s->nargs++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, scratch };
    return FTN_OK;
}

static ftn_status push_both(ftn_exec *ex, impl *C, dnnl_primitive_t prim, dnnl_memory_t scratch, const argv *a)
{
    TRY(push_prim(ex, C, &C->fwd_train, prim, scratch, a));
    return push_prim(ex, C, &C->fwd_infer, prim, scratch, a);
}

/* A reorder from src to dst (appended to l, and to l2 if given). */
static ftn_status reorder(ftn_exec *ex, impl *C, dnnl_memory_t src, dnnl_memory_t dst, steplist *l, steplist *l2)
{
    const dnnl_memory_desc_t *smd, *dmd;
    D(dnnl_memory_get_memory_desc(src, &smd));
    D(dnnl_memory_get_memory_desc(dst, &dmd));
    dnnl_primitive_desc_t pd;
    D(dnnl_reorder_primitive_desc_create(&pd, smd, C->eng, dmd, C->eng, C->attr));
    dnnl_primitive_t prim;
    dnnl_memory_t scratch;
    TRY(make_prim(ex, C, NULL, NULL, &pd, &prim, &scratch));
    argv a = { 0 };
    arg(&a, DNNL_ARG_FROM, src);
    arg(&a, DNNL_ARG_TO, dst);
    TRY(push_prim(ex, C, l, prim, scratch, &a));
    if (l2) TRY(push_prim(ex, C, l2, prim, scratch, &a));
    return FTN_OK;
}

/* ---- descriptors -------------------------------------------------------------------------- */

static ftn_status md_tag_dt(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims,
                            dnnl_data_type_t dt, dnnl_format_tag_t tag)
{
    D(dnnl_memory_desc_init_by_tag(md, nd, dims, dt, tag));
    return FTN_OK;
}

static ftn_status md_tag(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims, dnnl_format_tag_t tag)
{
    return md_tag_dt(ex, C, md, nd, dims, dnnl_f32, tag);
}

/* An activation (or activation gradient): in the session's precision. */
static ftn_status md_nchw(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, ftn_shape s, dnnl_format_tag_t tag)
{
    dnnl_dims_t d = { s.n, s.c, s.h, s.w };
    return md_tag_dt(ex, C, md, 4, d, C->dt, tag);
}

/* A tensor at the network's boundary: always float32. */
static ftn_status md_nchw_f32(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, ftn_shape s, dnnl_format_tag_t tag)
{
    dnnl_dims_t d = { s.n, s.c, s.h, s.w };
    return md_tag(ex, C, md, 4, d, tag);
}

static ftn_status md_vec(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, int c)
{
    dnnl_dims_t d = { c };
    return md_tag(ex, C, md, 1, d, dnnl_a);
}

static bool md_eq(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) { return dnnl_memory_desc_equal(a, b) != 0; }

static ftn_status set_tensor(ftn_exec *ex, impl *C, int t, const dnnl_memory_desc_t *md, dnnl_memory_t alias)
{
    C->t[t].md = *md;
    C->t[t].has_md = true;
    if (alias) { C->t[t].mem = alias; return FTN_OK; }
    C->t[t].vb = new_vbuf(C, dnnl_memory_desc_get_size(md));
    return bound_mem(ex, C, md, C->t[t].vb, &C->t[t].mem);
}

/* A memory over tensor t's gradient buffer (md: its own or a sub-memory of it), pooled. */
static ftn_status diff_view(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, int t, dnnl_memory_t *out)
{
    if (C->t[t].dvb < 0) {
        C->t[t].dvb = new_vbuf(C, dnnl_memory_desc_get_size(&C->t[t].md));
        if (C->t[t].dvb < 0) return OOM();
    }
    return bound_mem(ex, C, md, C->t[t].dvb, out);
}

static ftn_status ensure_diff(ftn_exec *ex, impl *C, int t)
{
    if (C->t[t].dmem) return FTN_OK;
    return diff_view(ex, C, &C->t[t].md, t, &C->t[t].dmem);
}

/* ---- gradient contributions --------------------------------------------------------------- */

typedef struct gslot {
    int mode;              /* 0 discard, 1 direct, 2 reorder into diff, 3 temp + add, 4 reorder to temp + add */
    int t;
    dnnl_memory_t target;  /* where the op's backward writes the input's gradient */
} gslot;

/* Plans where op `o`'s backward writes the gradient of its input slot i (in the format `in_md`
 * the primitive uses for that input). grad_end appends the steps that bring it into the
 * tensor's gradient. */
static ftn_status grad_begin(ftn_exec *ex, impl *C, int o, int i, const dnnl_memory_desc_t *in_md, gslot *gs)
{
    int x = ex->g->ops[o].in[i];
    tens *T = &C->t[x];
    gs->t = x;
    if (!T->needs_grad) {
        gs->mode = 0;
        return shared_mem(ex, C, in_md, SH_GTMP2, &gs->target);
    }
    TRY(ensure_diff(ex, C, x));
    bool same = md_eq(in_md, &T->md);
    if (C->first[o * FTN_MAX_OP_INPUTS + i]) {
        if (same) { gs->mode = 1; gs->target = T->dmem; return FTN_OK; }
        gs->mode = 2;
        return shared_mem(ex, C, in_md, SH_GTMP2, &gs->target);
    }
    if (!T->tmem) TRY(shared_mem(ex, C, &T->md, SH_GTMP, &T->tmem));
    if (!T->acc) {
        dnnl_binary_desc_t bd;
        D(dnnl_binary_desc_init(&bd, dnnl_binary_add, &T->md, &T->md, &T->md));
        dnnl_primitive_desc_t pd;
        dnnl_memory_t scratch;
        TRY(make_prim(ex, C, &bd, NULL, &pd, &T->acc, &scratch));
        if (scratch) return ftn_fail(FTN_EINTERNAL, "oneDNN: binary add wants a scratchpad at op %d", o);
    }
    if (same) { gs->mode = 3; gs->target = T->tmem; return FTN_OK; }
    gs->mode = 4;
    return shared_mem(ex, C, in_md, SH_GTMP2, &gs->target);
}

static ftn_status grad_end(ftn_exec *ex, impl *C, steplist *l, gslot *gs)
{
    tens *T = &C->t[gs->t];
    if (gs->mode == 2) return reorder(ex, C, gs->target, T->dmem, l, NULL);
    if (gs->mode == 4) TRY(reorder(ex, C, gs->target, T->tmem, l, NULL));
    if (gs->mode == 3 || gs->mode == 4) {
        argv a = { 0 };
        arg(&a, DNNL_ARG_SRC_0, T->dmem);
        arg(&a, DNNL_ARG_SRC_1, T->tmem);
        arg(&a, DNNL_ARG_DST, T->dmem);
        return push_prim(ex, C, l, T->acc, NULL, &a);
    }
    return FTN_OK;
}

/* The input of op o, slot i, in the format `want`: the tensor's own memory, or a converted copy
 * refreshed in both forward lists. */
static ftn_status input_as(ftn_exec *ex, impl *C, int o, int i, const dnnl_memory_desc_t *want, dnnl_memory_t *out)
{
    tens *T = &C->t[ex->g->ops[o].in[i]];
    if (md_eq(want, &T->md)) { *out = T->mem; return FTN_OK; }
    TRY(new_mem(ex, C, want, NULL, out));
    return reorder(ex, C, T->mem, *out, &C->fwd_train, &C->fwd_infer);
}

static bool is_output(const ftn_graph *g, int t)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == t) return true;
    return false;
}

/* ---- per-op compilation ------------------------------------------------------------------- */

static float *P(ftn_exec *ex, int param) { return ex->params + ex->g->params[param].offset; }
static float *G(ftn_exec *ex, int param) { return ex->grads + ex->g->params[param].offset; }

/* The tensor whose gradient is op o's diff_dst: its output, or the fused ReLU's output. */
static int grad_out(const ftn_exec *ex, const impl *C, int o)
{
    return C->fuse[o] == FUSE_BN_RELU ? ex->g->ops[o + 1].out : ex->g->ops[o].out;
}

/* Weights wu (user layout) in the format `want`: wu itself, or a copy reordered in both forward
 * lists (every forward, as the model's weights change between steps). */
static ftn_status weights_as(ftn_exec *ex, impl *C, dnnl_memory_t wu, const dnnl_memory_desc_t *want, dnnl_memory_t *out)
{
    const dnnl_memory_desc_t *umd;
    D(dnnl_memory_get_memory_desc(wu, &umd));
    if (md_eq(want, umd)) { *out = wu; return FTN_OK; }
    TRY(new_mem(ex, C, want, NULL, out));
    return reorder(ex, C, wu, *out, &C->fwd_train, &C->fwd_infer);
}

/* ---- stride-2 transposed convolutions as four convolutions ---------------------------------
 * oneDNN 2.6 runs a stride-2 deconvolution forward at a fraction of the speed of an ordinary
 * convolution of the same arithmetic (up4 of attn-unet-mi-ds: 47 against 26 ms per batch of 16
 * on AVX-512, see README, Performance). With output index o = 2i − pad + k (PyTorch), the
 * outputs of one parity p (rows, and likewise columns) read only the taps k ≡ p + pad (mod 2),
 * at input offsets d = (p + pad − k)/2: an ordinary small convolution over the input. So the
 * forward runs four such convolutions (one per row and column parity) and reorders each into
 * every other pixel of the output. Backward keeps the deconvolution primitives. */
static bool phase_axis_make(int k, int pad, int p, phase_axis *a)
{
    int dmin = 1 << 20, dmax = -(1 << 20), n = 0;
    for (int t = 0; t < k; t++)
        if (((p + pad - t) & 1) == 0) {
            int d = (p + pad - t) / 2;
            dmin = d < dmin ? d : dmin;
            dmax = d > dmax ? d : dmax;
            n++;
        }
    if (n == 0 || n > 2 || dmax - dmin + 1 != n || dmin > 0) return false;
    a->n = n;
    a->pad_l = -dmin;
    a->pad_r = dmax;
    for (int t = 0; t < k; t++)
        if (((p + pad - t) & 1) == 0) a->tap[(p + pad - t) / 2 - dmin] = t;
    return true;
}

/* Winograd's scratchpad (the transformed tiles and weights) grows with batch × channels; a pass
 * above this runs direct, which keeps training at batch 16 under 1 GB. */
#define WINO_SCRATCH_MAX ((size_t)64 << 20)

/* A convolution pass's primitive descriptor: from `wino` (a Winograd descriptor, or NULL) when
 * oneDNN has an implementation and its scratchpad stays within WINO_SCRATCH_MAX, else from
 * `direct`. */
static ftn_status conv_pd(ftn_exec *ex, impl *C, const void *wino, const void *direct, const_dnnl_primitive_attr_t attr,
                          const_dnnl_primitive_desc_t hint, const char *what, dnnl_primitive_desc_t *pd)
{
    *pd = NULL;
    if (wino && dnnl_primitive_desc_create(pd, wino, attr, C->eng, hint) == dnnl_success) {
        const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(*pd, dnnl_query_scratchpad_md, 0);
        if (!smd || dnnl_memory_desc_get_size(smd) <= WINO_SCRATCH_MAX) {
            ex->n_winograd++;
            return FTN_OK;
        }
        dnnl_primitive_desc_destroy(*pd);
        *pd = NULL;
    }
    dnnl_status_t st = dnnl_primitive_desc_create(pd, direct, attr, C->eng, hint);
    return st == dnnl_success ? FTN_OK : dfail(ex, C->cur_op, what, st);
}

static bool phases_enabled(void)
{
    const char *e = getenv("FTUNET_DNNL_DECONV_PHASES");
    return !(e && e[0] == '0');
}

/* Whether op o (a deconvolution) runs as phases: stride 2 with overlapping taps (3×3, 4×4; a
 * 2×2 stride-2 one is a matrix product per pixel, which oneDNN's deconvolution runs well: unet's
 * upK, 17 % slower in inference as phases), output exactly twice the input. */
static bool phase_plan(const ftn_exec *ex, int o, phase_axis ax[2])
{
    const ftn_op *op = &ex->g->ops[o];
    ftn_shape si = ex->g->tensors[op->in[0]].shape, so = ex->g->tensors[op->out].shape;
    return phases_enabled() && op->kind == FTN_OP_DECONV && op->stride == 2 && op->k > 2 && op->k <= 4 &&
           so.h == 2 * si.h && so.w == 2 * si.w && phase_axis_make(op->k, op->pad, 0, &ax[0]) &&
           phase_axis_make(op->k, op->pad, 1, &ax[1]);
}

/* Phase (py, px) of deconvolution weights w [ci][co][k][k] as a convolution kernel [co][ci][kh][kw],
 * the four phases one after another in dst. */
static void phase_weights(const step *s)
{
    float *dst = s->wdst;
    for (int ph = 0; ph < 4; ph++) {
        const phase_axis *ay = &s->ax[ph >> 1], *ax = &s->ax[ph & 1];
        for (int co = 0; co < s->co; co++)
            for (int ci = 0; ci < s->ci; ci++) {
                const float *w = s->wsrc + ((size_t)ci * s->co + co) * s->k * s->k;
                for (int t = 0; t < ay->n; t++)
                    for (int u = 0; u < ax->n; u++) *dst++ = w[ay->tap[t] * s->k + ax->tap[u]];
            }
    }
}

/* A view of every other pixel of md (parity py, px), or false when md's spatial dimensions are
 * blocked or it has padding (then the reorder would not cover it exactly). */
static bool phase_view(const dnnl_memory_desc_t *md, int py, int px, dnnl_memory_desc_t *v)
{
    if (md->ndims != 4 || md->format_kind != dnnl_blocked) return false;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    for (int i = 0; i < b->inner_nblks; i++)
        if (b->inner_idxs[i] >= 2) return false;
    for (int d = 0; d < 4; d++)
        if (md->padded_dims[d] != md->dims[d] || md->padded_offsets[d] != 0) return false;
    *v = *md;
    for (int d = 2; d < 4; d++) {
        v->dims[d] = v->padded_dims[d] = md->dims[d] / 2;
        v->format_desc.blocking.strides[d] = 2 * b->strides[d];
    }
    v->offset0 = md->offset0 + py * b->strides[2] + px * b->strides[3];
    return true;
}

/* The forward of deconvolution o (no fused post-op) as four convolutions writing into its
 * output's memory (already set); src_md: the input's format, bmem: the bias. */
static ftn_status compile_phases(ftn_exec *ex, impl *C, int o, const phase_axis ax[2], const dnnl_memory_desc_t *src_md,
                                 dnnl_memory_t xin, const dnnl_memory_desc_t *b_md, dnnl_memory_t bmem)
{
    const ftn_op *op = &ex->g->ops[o];
    int y = op->out;
    ftn_shape si = ex->g->tensors[op->in[0]].shape, so = ex->g->tensors[y].shape;
    int taps = (ax[0].n + ax[1].n) * (ax[0].n + ax[1].n); /* Σ over the four phases of kh·kw */
    float *wk = new_buf(C, sizeof(float) * (size_t)so.c * si.c * taps);
    if (!wk) return OOM();
    step *s = push(ex, C, &C->fwd_train);
    if (!s) return OOM();
    *s = (step){ .kind = STEP_PHASE_WEIGHTS, .op = o, .wsrc = P(ex, op->weight), .wdst = wk,
                 .ci = si.c, .co = so.c, .k = op->k, .ax = { ax[0], ax[1] } };
    step copy = *s;
    if (!(s = push(ex, C, &C->fwd_infer))) return OOM();
    *s = copy;

    for (int ph = 0; ph < 4; ph++) {
        const phase_axis *ay = &ax[ph >> 1], *axx = &ax[ph & 1];
        dnnl_dims_t wd = { so.c, si.c, ay->n, axx->n }, one = { 1, 1 };
        dnnl_dims_t pl = { ay->pad_l, axx->pad_l }, pr = { ay->pad_r, axx->pad_r };
        dnnl_memory_desc_t w_user, w_any, dst_any, view;
        TRY(md_tag(ex, C, &w_user, 4, wd, dnnl_oihw));
        TRY(md_tag_dt(ex, C, &w_any, 4, wd, C->dt, dnnl_format_tag_any));
        TRY(md_nchw(ex, C, &dst_any, (ftn_shape){ so.n, so.c, si.h, si.w }, dnnl_format_tag_any));
        dnnl_convolution_desc_t cd;
        D(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, src_md, &w_any,
                                             b_md, &dst_any, one, pl, pr));
        dnnl_primitive_desc_t pd;
        D(dnnl_primitive_desc_create(&pd, &cd, C->attr, C->eng, NULL));
        dnnl_primitive_t prim;
        dnnl_memory_t scratch, wu, wf, part, dst_view;
        TRY(make_prim(ex, C, NULL, NULL, &pd, &prim, &scratch));
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *pmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        if (!phase_view(&C->t[y].md, ph >> 1, ph & 1, &view)) /* checked by the caller */
            return ftn_fail(FTN_EINTERNAL, "oneDNN engine: op %d (%s): no phase view of its output", o, op->label);
        TRY(new_mem(ex, C, &w_user, wk, &wu));
        wk += (size_t)so.c * si.c * ay->n * axx->n;
        TRY(weights_as(ex, C, wu, wmd, &wf));
        TRY(new_mem(ex, C, pmd, NULL, &part));
        TRY(bound_mem(ex, C, &view, C->t[y].vb, &dst_view));
        argv a = { 0 };
        arg(&a, DNNL_ARG_SRC, xin);
        arg(&a, DNNL_ARG_WEIGHTS, wf);
        arg(&a, DNNL_ARG_BIAS, bmem);
        arg(&a, DNNL_ARG_DST, part);
        TRY(push_both(ex, C, prim, scratch, &a));
        TRY(reorder(ex, C, part, dst_view, &C->fwd_train, &C->fwd_infer));
    }
    return FTN_OK;
}

static ftn_status compile_conv(ftn_exec *ex, impl *C, int o)
{
    const ftn_graph *g = ex->g;
    const ftn_op *op = &g->ops[o];
    bool de = op->kind == FTN_OP_DECONV;
    int x = op->in[0], y = op->out;
    ftn_shape si = g->tensors[x].shape, so = g->tensors[y].shape;
    int k = op->k;
    dnnl_dims_t strides = { op->stride, op->stride }, pl = { op->pad, op->pad }, pr;
    if (de) {
        pr[0] = (dnnl_dim_t)(si.h - 1) * op->stride - op->pad + k - so.h;
        pr[1] = (dnnl_dim_t)(si.w - 1) * op->stride - op->pad + k - so.w;
    } else {
        pr[0] = (dnnl_dim_t)(so.h - 1) * op->stride + k - si.h - op->pad;
        pr[1] = (dnnl_dim_t)(so.w - 1) * op->stride + k - si.w - op->pad;
    }
    dnnl_memory_desc_t src_any, dst_any, w_any, dw_any, w_user, b_md;
    TRY(md_nchw(ex, C, &src_any, si, dnnl_format_tag_any));
    TRY(md_nchw(ex, C, &dst_any, so, dnnl_format_tag_any));
    dnnl_dims_t wd = { so.c, si.c, k, k };
    /* bf16: weights reordered from the f32 master copy each forward; weight gradients f32 */
    TRY(md_tag_dt(ex, C, &w_any, 4, wd, C->dt, dnnl_format_tag_any));
    TRY(md_tag(ex, C, &dw_any, 4, wd, dnnl_format_tag_any));
    TRY(md_tag(ex, C, &w_user, 4, wd, de ? dnnl_iohw : dnnl_oihw));
    TRY(md_vec(ex, C, &b_md, so.c));

    /* forward */
    dnnl_primitive_attr_t fattr = C->attr, pattr = NULL;
    if (C->fuse[o] == FUSE_CONV_RELU || C->fuse[o] == FUSE_CONV_SIGMOID) {
        dnnl_post_ops_t po;
        D(dnnl_post_ops_create(&po));
        dnnl_alg_kind_t alg = C->fuse[o] == FUSE_CONV_RELU ? dnnl_eltwise_relu : dnnl_eltwise_logistic;
        dnnl_status_t s1 = dnnl_post_ops_append_eltwise(po, 1.f, alg, 0.f, 0.f);
        dnnl_status_t s2 = dnnl_primitive_attr_clone(&pattr, C->attr);
        dnnl_status_t s3 = s2 == dnnl_success ? dnnl_primitive_attr_set_post_ops(pattr, po) : s2;
        dnnl_post_ops_destroy(po);
        if (s1 != dnnl_success || s3 != dnnl_success) {
            if (pattr) dnnl_primitive_attr_destroy(pattr);
            return dfail(ex, o, "post-op activation", s1 != dnnl_success ? s1 : s3);
        }
        fattr = pattr;
    }
    /* Winograd candidates (see the design notes); cd_w is only used when `wino` */
    bool wino = !de && k == 3 && op->stride == 1 && si.c % 16 == 0 && so.c % 16 == 0 &&
                ex->precision == FTN_PRECISION_FP32_WINOGRAD;
    dnnl_convolution_desc_t cd, cd_w;
    dnnl_status_t st = de
        ? dnnl_deconvolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_deconvolution_direct,
                                               &src_any, &w_any, &b_md, &dst_any, strides, pl, pr)
        : dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
                                             &src_any, &w_any, &b_md, &dst_any, strides, pl, pr);
    if (st == dnnl_success && wino)
        wino = dnnl_convolution_forward_desc_init(&cd_w, dnnl_forward_training, dnnl_convolution_winograd, &src_any,
                                                  &w_any, &b_md, &dst_any, strides, pl, pr) == dnnl_success;
    dnnl_primitive_desc_t fpd = NULL;
    ftn_status fs = st == dnnl_success
        ? conv_pd(ex, C, wino ? &cd_w : NULL, &cd, fattr, NULL, de ? "deconvolution forward" : "convolution forward", &fpd)
        : dfail(ex, o, de ? "deconvolution forward" : "convolution forward", st);
    if (pattr) dnnl_primitive_attr_destroy(pattr);
    if (fs != FTN_OK) return fs;
    /* a stride-2 deconvolution runs as four convolutions; its own forward pd then only serves
     * as the formats' source and the backward's hint */
    phase_axis ax[2];
    dnnl_memory_desc_t probe;
    bool phases = de && C->fuse[o] == FUSE_NONE && phase_plan(ex, o, ax) &&
                  phase_view(dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0), 0, 0, &probe);
    dnnl_primitive_t fprim = NULL;
    dnnl_memory_t fscratch = NULL;
    if (phases) TRY(keep_pd(ex, C, fpd));
    else TRY(make_prim(ex, C, NULL, NULL, &fpd, &fprim, &fscratch));
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    dnnl_memory_desc_t src_keep = *src_md;

    dnnl_memory_t xin, wu, wf = NULL, bmem;
    TRY(input_as(ex, C, o, 0, &src_keep, &xin));
    TRY(new_mem(ex, C, &w_user, P(ex, op->weight), &wu));
    TRY(new_mem(ex, C, &b_md, P(ex, op->bias), &bmem));
    TRY(set_tensor(ex, C, y, dst_md, NULL));
    if (phases) TRY(compile_phases(ex, C, o, ax, &src_keep, xin, &b_md, bmem));
    else {
        TRY(weights_as(ex, C, wu, w_md, &wf));
        argv a = { 0 };
        arg(&a, DNNL_ARG_SRC, xin);
        arg(&a, DNNL_ARG_WEIGHTS, wf);
        arg(&a, DNNL_ARG_BIAS, bmem);
        arg(&a, DNNL_ARG_DST, C->t[y].mem);
        TRY(push_both(ex, C, fprim, fscratch, &a));
    }

    /* backward */
    steplist *bl = &C->bwd_op[o];
    int gy = grad_out(ex, C, o);
    TRY(ensure_diff(ex, C, gy));
    if (C->t[x].needs_grad) {
        dnnl_convolution_desc_t bd, bd_w;
        if (de) D(dnnl_deconvolution_backward_data_desc_init(&bd, dnnl_deconvolution_direct, &src_keep, &w_any, dst_md, strides, pl, pr));
        else D(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &src_keep, &w_any, dst_md, strides, pl, pr));
        bool bw = wino && dnnl_convolution_backward_data_desc_init(&bd_w, dnnl_convolution_winograd, &src_keep, &w_any,
                                                                   dst_md, strides, pl, pr) == dnnl_success;
        dnnl_primitive_desc_t bpd;
        dnnl_primitive_t bprim;
        dnnl_memory_t bscratch, wb;
        TRY(conv_pd(ex, C, bw ? &bd_w : NULL, &bd, C->attr, fpd, "convolution backward data", &bpd));
        TRY(make_prim(ex, C, NULL, NULL, &bpd, &bprim, &bscratch));
        const dnnl_memory_desc_t *wb_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0);
        if (wf && md_eq(wb_md, w_md)) wb = wf;
        else if (md_eq(wb_md, &w_user)) wb = wu;
        else {
            TRY(new_mem(ex, C, wb_md, NULL, &wb));
            TRY(reorder(ex, C, wu, wb, bl, NULL));
        }
        const dnnl_memory_desc_t *dsrc_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0);
        gslot gs;
        TRY(grad_begin(ex, C, o, 0, dsrc_md, &gs));
        argv b = { 0 };
        arg(&b, DNNL_ARG_DIFF_DST, C->t[gy].dmem);
        arg(&b, DNNL_ARG_WEIGHTS, wb);
        arg(&b, DNNL_ARG_DIFF_SRC, gs.target);
        TRY(push_prim(ex, C, bl, bprim, bscratch, &b));
        TRY(grad_end(ex, C, bl, &gs));
    }
    {
        dnnl_convolution_desc_t wd2, wd2_w;
        if (de) D(dnnl_deconvolution_backward_weights_desc_init(&wd2, dnnl_deconvolution_direct, &src_keep, &dw_any, &b_md, dst_md, strides, pl, pr));
        else D(dnnl_convolution_backward_weights_desc_init(&wd2, dnnl_convolution_direct, &src_keep, &dw_any, &b_md, dst_md, strides, pl, pr));
        bool ww = wino && dnnl_convolution_backward_weights_desc_init(&wd2_w, dnnl_convolution_winograd, &src_keep, &dw_any,
                                                                      &b_md, dst_md, strides, pl, pr) == dnnl_success;
        dnnl_primitive_desc_t wpd;
        dnnl_primitive_t wprim;
        dnnl_memory_t wscratch, dwu, dw, dbmem;
        TRY(conv_pd(ex, C, ww ? &wd2_w : NULL, &wd2, C->attr, fpd, "convolution backward weights", &wpd));
        TRY(make_prim(ex, C, NULL, NULL, &wpd, &wprim, &wscratch));
        const dnnl_memory_desc_t *dw_md = dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0);
        TRY(new_mem(ex, C, &w_user, G(ex, op->weight), &dwu));
        TRY(new_mem(ex, C, &b_md, G(ex, op->bias), &dbmem));
        dw = dwu;
        if (!md_eq(dw_md, &w_user)) TRY(new_mem(ex, C, dw_md, NULL, &dw));
        argv b = { 0 };
        arg(&b, DNNL_ARG_SRC, xin);
        arg(&b, DNNL_ARG_DIFF_DST, C->t[gy].dmem);
        arg(&b, DNNL_ARG_DIFF_WEIGHTS, dw);
        arg(&b, DNNL_ARG_DIFF_BIAS, dbmem);
        TRY(push_prim(ex, C, bl, wprim, wscratch, &b));
        if (dw != dwu) TRY(reorder(ex, C, dw, dwu, bl, NULL));
    }
    return FTN_OK;
}

static ftn_status compile_bn(ftn_exec *ex, impl *C, int o)
{
    const ftn_graph *g = ex->g;
    const ftn_op *op = &g->ops[o];
    int x = op->in[0], y = op->out;
    int c = g->tensors[x].shape.c;
    const dnnl_memory_desc_t *md = &C->t[x].md;
    unsigned fuse = C->fuse[o] == FUSE_BN_RELU ? dnnl_fuse_norm_relu : 0;
    unsigned flags = dnnl_use_scale | dnnl_use_shift | fuse;

    dnnl_batch_normalization_desc_t bd;
    dnnl_primitive_desc_t fpd, ipd, bpd;
    dnnl_primitive_t fprim, iprim, bprim;
    dnnl_memory_t fs, is, bs;
    D(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, md, FTN_BN_EPS, flags));
    TRY(make_prim(ex, C, &bd, NULL, &fpd, &fprim, &fs));
    D(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_inference, md, FTN_BN_EPS, flags | dnnl_use_global_stats));
    TRY(make_prim(ex, C, &bd, NULL, &ipd, &iprim, &is));

    dnnl_memory_desc_t vmd;
    TRY(md_vec(ex, C, &vmd, c));
    dnnl_memory_t gamma, beta, rmean, rvar, bmean, bvar, ws = NULL;
    TRY(new_mem(ex, C, &vmd, P(ex, op->weight), &gamma));
    TRY(new_mem(ex, C, &vmd, P(ex, op->bias), &beta));
    TRY(new_mem(ex, C, &vmd, P(ex, op->running_mean), &rmean));
    TRY(new_mem(ex, C, &vmd, P(ex, op->running_var), &rvar));
    TRY(private_mem(ex, C, &vmd, &bmean)); /* read through raw pointers by STEP_BN_RUNNING */
    TRY(private_mem(ex, C, &vmd, &bvar));
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
    if (wmd && dnnl_memory_desc_get_size(wmd) > 0) TRY(new_mem(ex, C, wmd, NULL, &ws));
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    TRY(set_tensor(ex, C, y, dst_md, NULL));
    if (fuse) { /* the fused ReLU's output */
        TRY(set_tensor(ex, C, g->ops[o + 1].out, dst_md, C->t[y].mem));
        C->t[g->ops[o + 1].out].vb = C->t[y].vb;
    }
    dnnl_memory_t xin = C->t[x].mem;

    argv a = { 0 };
    arg(&a, DNNL_ARG_SRC, xin);
    arg(&a, DNNL_ARG_SCALE, gamma);
    arg(&a, DNNL_ARG_SHIFT, beta);
    arg(&a, DNNL_ARG_MEAN, bmean);
    arg(&a, DNNL_ARG_VARIANCE, bvar);
    arg(&a, DNNL_ARG_DST, C->t[y].mem);
    arg(&a, DNNL_ARG_WORKSPACE, ws);
    TRY(push_prim(ex, C, &C->fwd_train, fprim, fs, &a));
    step *s = push(ex, C, &C->fwd_train);
    if (!s) return OOM();
    s->kind = STEP_BN_RUNNING;
    void *h;
    D(dnnl_memory_get_data_handle(bmean, &h)); s->mean = h;
    D(dnnl_memory_get_data_handle(bvar, &h)); s->var = h;

    argv ia = { 0 };
    arg(&ia, DNNL_ARG_SRC, xin);
    arg(&ia, DNNL_ARG_SCALE, gamma);
    arg(&ia, DNNL_ARG_SHIFT, beta);
    arg(&ia, DNNL_ARG_MEAN, rmean);
    arg(&ia, DNNL_ARG_VARIANCE, rvar);
    arg(&ia, DNNL_ARG_DST, C->t[y].mem);
    TRY(push_prim(ex, C, &C->fwd_infer, iprim, is, &ia));

    /* backward */
    steplist *bl = &C->bwd_op[o];
    int gy = grad_out(ex, C, o);
    TRY(ensure_diff(ex, C, gy));
    D(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, dst_md, md, FTN_BN_EPS, flags));
    TRY(make_prim(ex, C, &bd, fpd, &bpd, &bprim, &bs));
    dnnl_memory_t dgamma, dbeta;
    TRY(new_mem(ex, C, &vmd, G(ex, op->weight), &dgamma));
    TRY(new_mem(ex, C, &vmd, G(ex, op->bias), &dbeta));
    gslot gs;
    TRY(grad_begin(ex, C, o, 0, dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0), &gs));
    argv b = { 0 };
    arg(&b, DNNL_ARG_SRC, xin);
    arg(&b, DNNL_ARG_MEAN, bmean);
    arg(&b, DNNL_ARG_VARIANCE, bvar);
    arg(&b, DNNL_ARG_SCALE, gamma);
    arg(&b, DNNL_ARG_SHIFT, beta);
    arg(&b, DNNL_ARG_DIFF_DST, C->t[gy].dmem);
    arg(&b, DNNL_ARG_WORKSPACE, ws);
    arg(&b, DNNL_ARG_DIFF_SRC, gs.target);
    arg(&b, DNNL_ARG_DIFF_SCALE, dgamma);
    arg(&b, DNNL_ARG_DIFF_SHIFT, dbeta);
    TRY(push_prim(ex, C, bl, bprim, bs, &b));
    return grad_end(ex, C, bl, &gs);
}

/* ---- ReLU into a concat's slice (plan_cat_in_place) --------------------------------------- */

/* A 4-d tensor, or a channel slice of one, walked as n_rows rows of len contiguous elements per
 * image: one row of C·H·W for nchw and for channel-blocked layouts with whole blocks of B
 * (nChw8c, nChw16c), H·W rows of C for nhwc (block 1; the rows of a slice lie `row` apart).
 * first: the first element; img: the distance between images. */
typedef struct rowview { dnnl_format_tag_t tag; dnnl_dim_t block, first, img, n_rows, row, len; } rowview;

static bool row_view(const dnnl_memory_desc_t *md, rowview *v)
{
    if (md->ndims != 4 || md->format_kind != dnnl_blocked) return false;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    const dnnl_dim_t *s = b->strides, C = md->dims[1], H = md->dims[2], W = md->dims[3];
    if (b->inner_nblks == 0 && s[1] == 1 && s[3] >= C && s[2] == W * s[3] && s[0] >= H * W * s[3]) {
        *v = (rowview){ dnnl_nhwc, 1, md->offset0, s[0], H * W, s[3], C };
        return true;
    }
    if (b->inner_nblks > 1 || (b->inner_nblks == 1 && b->inner_idxs[0] != 1)) return false;
    dnnl_dim_t B = b->inner_nblks ? b->inner_blks[0] : 1;
    dnnl_format_tag_t tag = B == 16 ? dnnl_nChw16c : B == 8 ? dnnl_nChw8c : B == 1 ? dnnl_nchw : dnnl_format_tag_undef;
    if (tag == dnnl_format_tag_undef || C % B || s[3] != B || s[2] != W * B || s[1] != H * W * B) return false;
    *v = (rowview){ tag, B, md->offset0, s[0], 1, 0, C * H * W };
    return true;
}

/* Appends a STEP_ROWS_* step over memories m[0..nargs) laid out as v[0..nargs) (same rows). */
static ftn_status push_rows(ftn_exec *ex, impl *C, steplist *l, int kind, dnnl_dim_t n_img, const rowview *v,
                            const dnnl_memory_t *m, int nargs)
{
    step *s = push(ex, C, l);
    if (!s) return OOM();
    *s = (step){ .kind = kind, .op = C->cur_op, .nargs = nargs, .n_img = n_img, .n_rows = v[0].n_rows, .len = v[0].len,
                 .bf = C->dt == dnnl_bf16 };
    for (int j = 0; j < nargs; j++) {
        s->args[j] = (dnnl_exec_arg_t){ DNNL_ARG_MULTIPLE_SRC + j, m[j] };
        s->first[j] = v[j].first;
        s->img[j] = v[j].img;
        s->row[j] = v[j].row;
    }
    return FTN_OK;
}

/* dst = src, the same tensor with a slice on one side (into or out of a concat): a row copy where
 * row_view walks both alike, else a oneDNN reorder (simple:any into a slice: slower). Into l
 * and, if given, l2. */
static ftn_status copy_rows(ftn_exec *ex, impl *C, dnnl_memory_t src, dnnl_memory_t dst, steplist *l, steplist *l2)
{
    const dnnl_memory_desc_t *sm, *dm;
    rowview v[2];
    if (dnnl_memory_get_memory_desc(src, &sm) == dnnl_success && dnnl_memory_get_memory_desc(dst, &dm) == dnnl_success &&
        sm->data_type == C->dt && dm->data_type == C->dt && row_view(sm, &v[0]) && row_view(dm, &v[1]) &&
        v[0].tag == v[1].tag && v[0].n_rows == v[1].n_rows && v[0].len == v[1].len) {
        dnnl_memory_t m[2] = { src, dst };
        TRY(push_rows(ex, C, l, STEP_ROWS_COPY, sm->dims[0], v, m, 2));
        return l2 ? push_rows(ex, C, l2, STEP_ROWS_COPY, sm->dims[0], v, m, 2) : FTN_OK;
    }
    return reorder(ex, C, src, dst, l, l2);
}

/* The ReLU writes relu(x) into its slice of the concat's output, whose memory it creates if it
 * is the concat's first such input (in x's layout); its backward reads the slice and the
 * slice of the concat's gradient. Not done (*done false) when x's layout is not one row_view
 * walks, or is not the concat's, or its block does not divide every input of the concat. */
static ftn_status relu_into_cat(ftn_exec *ex, impl *C, int o, bool *done)
{
    const ftn_graph *g = ex->g;
    int x = g->ops[o].in[0], y = g->ops[o].out, cat = C->t[y].cat_op, z = g->ops[cat].out;
    ftn_shape sy = g->tensors[y].shape;
    rowview xv, zv, yv;
    *done = false;
    if (!row_view(&C->t[x].md, &xv)) return FTN_OK;
    for (int i = 0; i < g->ops[cat].n_in; i++) /* every slice whole blocks: no padding, no partial block */
        if (g->tensors[g->ops[cat].in[i]].shape.c % xv.block) return FTN_OK;
    if (C->t[z].has_md && (!row_view(&C->t[z].md, &zv) || zv.tag != xv.tag)) return FTN_OK;
    if (!C->t[z].has_md) {
        dnnl_memory_desc_t zmd;
        TRY(md_nchw(ex, C, &zmd, g->tensors[z].shape, xv.tag));
        TRY(set_tensor(ex, C, z, &zmd, NULL));
    }
    dnnl_dims_t dims = { sy.n, sy.c, sy.h, sy.w }, offs = { 0, C->t[y].cat_c0, 0, 0 };
    dnnl_memory_desc_t sub;
    D(dnnl_memory_desc_init_submemory(&sub, &C->t[z].md, dims, offs));
    if (!row_view(&sub, &yv) || yv.tag != xv.tag || yv.n_rows != xv.n_rows || yv.len != xv.len)
        return ftn_fail(FTN_EINTERNAL, "oneDNN engine: op %d: the concat's slice is not laid out as its input", o);
    C->t[y].md = sub;
    C->t[y].has_md = true;
    TRY(bound_mem(ex, C, &sub, C->t[z].vb, &C->t[y].mem));

    for (int l = 0; l < 2; l++)
        TRY(push_rows(ex, C, l ? &C->fwd_infer : &C->fwd_train, STEP_ROWS_RELU, sy.n, (rowview[]){ xv, yv },
                      (dnnl_memory_t[]){ C->t[x].mem, C->t[y].mem }, 2));
    ex->n_cat_in_place++;
    *done = true;
    if (!C->t[y].needs_grad) return FTN_OK;

    TRY(ensure_diff(ex, C, z));
    TRY(diff_view(ex, C, &sub, z, &C->t[y].dmem));
    C->t[y].dvb = C->t[z].dvb;
    steplist *bl = &C->bwd_op[o];
    gslot gs;
    TRY(grad_begin(ex, C, o, 0, &C->t[x].md, &gs)); /* the target has x's layout */
    TRY(push_rows(ex, C, bl, STEP_ROWS_RELU_BWD, sy.n, (rowview[]){ yv, yv, xv },
                  (dnnl_memory_t[]){ C->t[y].mem, C->t[y].dmem, gs.target }, 3));
    return grad_end(ex, C, bl, &gs);
}

/* bf16 ReLU on the bit pattern: negative numbers (−0 and −∞ included) become +0, NaN stays */
static inline uint16_t relu_bf16(uint16_t h) { return (h & 0x8000) && (h & 0x7fff) <= 0x7f80 ? 0 : h; }
static inline bool positive_bf16(uint16_t h) { return !(h & 0x8000) && h != 0 && h <= 0x7f80; }

/* STEP_ROWS_RELU: y = max(x, 0) (NaN stays NaN, as oneDNN's); STEP_ROWS_RELU_BWD: dx = y > 0 ? dy : 0
 * (oneDNN's relu_use_dst_for_bwd); STEP_ROWS_COPY: y = x. nr rows of m elements of each
 * argument's data p[j], from element o[j], rows s->row[j] apart. */
static void rows_piece(const step *s, void *const *p, const size_t *o, dnnl_dim_t m, dnnl_dim_t nr)
{
    size_t es = s->bf ? 2 : 4;
    for (dnnl_dim_t r = 0; r < nr; r++) {
        char *a = (char *)p[0] + (o[0] + (size_t)(r * s->row[0])) * es, *b = (char *)p[1] + (o[1] + (size_t)(r * s->row[1])) * es;
        if (s->kind == STEP_ROWS_COPY) {
            memcpy(b, a, (size_t)m * es);
        } else if (s->kind == STEP_ROWS_RELU && s->bf) {
            const uint16_t *x = (const uint16_t *)a;
            uint16_t *y = (uint16_t *)b;
#pragma omp simd
            for (dnnl_dim_t i = 0; i < m; i++) y[i] = relu_bf16(x[i]);
        } else if (s->kind == STEP_ROWS_RELU) {
            const float *x = (const float *)a;
            float *y = (float *)b;
#pragma omp simd
            for (dnnl_dim_t i = 0; i < m; i++) y[i] = x[i] < 0.f ? 0.f : x[i];
        } else if (s->bf) {
            const uint16_t *y = (const uint16_t *)a, *dy = (const uint16_t *)b;
            uint16_t *dx = (uint16_t *)p[2] + o[2] + r * s->row[2];
#pragma omp simd
            for (dnnl_dim_t i = 0; i < m; i++) {
                uint16_t d = dy[i]; /* read either way: a select, not a branch (×8 in bf16) */
                dx[i] = positive_bf16(y[i]) ? d : 0;
            }
        } else {
            const float *y = (const float *)a, *dy = (const float *)b;
            float *dx = (float *)p[2] + o[2] + r * s->row[2];
#pragma omp simd
            for (dnnl_dim_t i = 0; i < m; i++) {
                float d = dy[i];
                dx[i] = y[i] > 0.f ? d : 0.f;
            }
        }
    }
}

/* Every image's rows over the threads in pieces of about ROWS_CHUNK elements: a long row in
 * several pieces, short rows (nhwc: one pixel's channels) several to a piece. */
#define ROWS_CHUNK 8192
static void rows_run(const step *s, void *const *p)
{
    dnnl_dim_t per_row = (s->len + ROWS_CHUNK - 1) / ROWS_CHUNK;          /* pieces of one row */
    dnnl_dim_t rows = s->len >= ROWS_CHUNK ? 1 : ROWS_CHUNK / s->len;     /* rows in one piece */
    dnnl_dim_t groups = (s->n_rows + rows - 1) / rows;
#pragma omp parallel for collapse(3) schedule(static)
    for (dnnl_dim_t n = 0; n < s->n_img; n++)
        for (dnnl_dim_t gr = 0; gr < groups; gr++)
            for (dnnl_dim_t k = 0; k < per_row; k++) {
                dnnl_dim_t i0 = k * ROWS_CHUNK, m = s->len - i0 < ROWS_CHUNK ? s->len - i0 : ROWS_CHUNK;
                dnnl_dim_t r0 = gr * rows, nr = s->n_rows - r0 < rows ? s->n_rows - r0 : rows;
                size_t o[3];
                for (int j = 0; j < s->nargs; j++) o[j] = (size_t)(s->first[j] + n * s->img[j] + r0 * s->row[j] + i0);
                rows_piece(s, p, o, m, nr);
            }
}

static ftn_status compile_eltwise(ftn_exec *ex, impl *C, int o)
{
    const ftn_op *op = &ex->g->ops[o];
    int x = op->in[0], y = op->out;
    if (C->t[y].cat_op >= 0) {
        bool done;
        TRY(relu_into_cat(ex, C, o, &done));
        if (done) return FTN_OK;
        C->t[y].cat_op = -1; /* a layout it cannot walk: the ReLU and the concat as usual */
    }
    dnnl_alg_kind_t alg = op->kind == FTN_OP_RELU ? dnnl_eltwise_relu_use_dst_for_bwd : dnnl_eltwise_logistic_use_dst_for_bwd;
    const dnnl_memory_desc_t *md = &C->t[x].md;
    if (C->fused_away[o]) {
        /* the producer wrote ReLU(x) or σ(x) into x's buffer: y shares it */
        if (!C->t[y].has_md) TRY(set_tensor(ex, C, y, md, C->t[x].mem));
        C->t[y].vb = C->t[x].vb;
        if (C->fuse[o - 1] == FUSE_BN_RELU) return FTN_OK; /* BN's backward does ours */
    } else {
        dnnl_eltwise_desc_t ed;
        dnnl_primitive_desc_t fpd;
        dnnl_primitive_t fprim;
        dnnl_memory_t fs;
        D(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training, alg, md, 0.f, 0.f));
        TRY(make_prim(ex, C, &ed, NULL, &fpd, &fprim, &fs));
        TRY(set_tensor(ex, C, y, dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0), NULL));
        argv a = { 0 };
        arg(&a, DNNL_ARG_SRC, C->t[x].mem);
        arg(&a, DNNL_ARG_DST, C->t[y].mem);
        TRY(push_both(ex, C, fprim, fs, &a));
    }
    if (!C->t[y].needs_grad) return FTN_OK;
    /* backward (needs a forward pd as hint: create one on the same md) */
    dnnl_eltwise_desc_t ed;
    dnnl_primitive_desc_t hpd, bpd;
    D(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training, alg, md, 0.f, 0.f));
    D(dnnl_primitive_desc_create(&hpd, &ed, C->attr, C->eng, NULL));
    TRY(keep_pd(ex, C, hpd));
    D(dnnl_eltwise_backward_desc_init(&ed, alg, &C->t[y].md, &C->t[y].md, 0.f, 0.f));
    dnnl_primitive_t bprim;
    dnnl_memory_t bs;
    TRY(make_prim(ex, C, &ed, hpd, &bpd, &bprim, &bs));
    TRY(ensure_diff(ex, C, y));
    steplist *bl = &C->bwd_op[o];
    gslot gs;
    TRY(grad_begin(ex, C, o, 0, dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0), &gs));
    /* A ReLU whose output only a concat reads: rather than keeping the output alive from
     * forward to backward next to the concat's copy of it, backward reads a copy taken from
     * the concat's output (compile_concat adds that reorder to the concat's backward). */
    dnnl_memory_t ydst = C->t[y].mem;
    if (op->kind == FTN_OP_RELU && C->t[y].vb >= 0 && ex->g->tensors[y].consumers == 1 && !is_output(ex->g, y)) {
        int cons = -1;
        for (int q = o + 1; q < ex->g->n_ops && cons < 0; q++)
            for (int i = 0; i < ex->g->ops[q].n_in; i++)
                if (ex->g->ops[q].in[i] == y) cons = q;
        if (cons >= 0 && ex->g->ops[cons].kind == FTN_OP_CONCAT) {
            TRY(new_mem(ex, C, &C->t[y].md, NULL, &C->t[y].bwcopy));
            ydst = C->t[y].bwcopy;
        }
    }
    argv b = { 0 };
    arg(&b, DNNL_ARG_DST, ydst);
    arg(&b, DNNL_ARG_DIFF_DST, C->t[y].dmem);
    arg(&b, DNNL_ARG_DIFF_SRC, gs.target);
    TRY(push_prim(ex, C, bl, bprim, bs, &b));
    return grad_end(ex, C, bl, &gs);
}

static ftn_status compile_pool_up(ftn_exec *ex, impl *C, int o)
{
    const ftn_graph *g = ex->g;
    const ftn_op *op = &g->ops[o];
    int x = op->in[0], y = op->out;
    const dnnl_memory_desc_t *md = &C->t[x].md;
    dnnl_memory_desc_t dst_any;
    TRY(md_nchw(ex, C, &dst_any, g->tensors[y].shape, dnnl_format_tag_any));
    dnnl_dims_t two = { 2, 2 }, zero = { 0, 0 };
    float factors[2] = { 2.f, 2.f };
    bool up = op->kind == FTN_OP_UP2X;
    dnnl_alg_kind_t alg = up ? dnnl_resampling_nearest : op->kind == FTN_OP_MAXPOOL2 ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;

    dnnl_pooling_v2_desc_t pdsc;
    dnnl_resampling_desc_t rdsc;
    dnnl_primitive_desc_t fpd, bpd;
    dnnl_primitive_t fprim, bprim;
    dnnl_memory_t fs, bs, ws = NULL;
    if (up) {
        D(dnnl_resampling_forward_desc_init(&rdsc, dnnl_forward_training, alg, factors, md, &dst_any));
        TRY(make_prim(ex, C, &rdsc, NULL, &fpd, &fprim, &fs));
    } else {
        D(dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_training, alg, md, &dst_any, two, two, zero, zero, zero));
        TRY(make_prim(ex, C, &pdsc, NULL, &fpd, &fprim, &fs));
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
        if (wmd && dnnl_memory_desc_get_size(wmd) > 0) TRY(new_mem(ex, C, wmd, NULL, &ws));
    }
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    TRY(set_tensor(ex, C, y, dst_md, NULL));
    argv a = { 0 };
    arg(&a, DNNL_ARG_SRC, C->t[x].mem);
    arg(&a, DNNL_ARG_DST, C->t[y].mem);
    arg(&a, DNNL_ARG_WORKSPACE, ws);
    TRY(push_both(ex, C, fprim, fs, &a));
    if (!C->t[y].needs_grad) return FTN_OK;

    if (up) {
        D(dnnl_resampling_backward_desc_init(&rdsc, alg, factors, md, dst_md));
        TRY(make_prim(ex, C, &rdsc, fpd, &bpd, &bprim, &bs));
    } else {
        D(dnnl_pooling_v2_backward_desc_init(&pdsc, alg, md, dst_md, two, two, zero, zero, zero));
        TRY(make_prim(ex, C, &pdsc, fpd, &bpd, &bprim, &bs));
    }
    TRY(ensure_diff(ex, C, y));
    steplist *bl = &C->bwd_op[o];
    gslot gs;
    TRY(grad_begin(ex, C, o, 0, dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0), &gs));
    argv b = { 0 };
    arg(&b, DNNL_ARG_DIFF_DST, C->t[y].dmem);
    arg(&b, DNNL_ARG_WORKSPACE, ws);
    arg(&b, DNNL_ARG_DIFF_SRC, gs.target);
    TRY(push_prim(ex, C, bl, bprim, bs, &b));
    return grad_end(ex, C, bl, &gs);
}

/* Plain or channel-blocked (aBcd8b/16b, with padding) layouts, which chandot can address. */
static bool chandot_ok(const dnnl_memory_desc_t *md)
{
    if (md->ndims != 4 || md->format_kind != dnnl_blocked || (md->data_type != dnnl_f32 && md->data_type != dnnl_bf16))
        return false;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    return b->inner_nblks == 0 || (b->inner_nblks == 1 && b->inner_idxs[0] == 1);
}

static inline size_t chan_off(const dnnl_memory_desc_t *md, dnnl_dim_t n, dnnl_dim_t c, dnnl_dim_t h, dnnl_dim_t w)
{
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    dnnl_dim_t B = b->inner_nblks ? b->inner_blks[0] : 1;
    return (size_t)(md->offset0 + n * b->strides[0] + (c / B) * b->strides[1] + h * b->strides[2] + w * b->strides[3] + c % B);
}

static inline float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t f32_to_bf16(float f) /* round to nearest even; NaN stays NaN */
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float ld(const void *p, size_t i, bool bf)
{
    return bf ? bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

/* The common case of chandot: f32, a and b in the same 16-channel-blocked layout with whole blocks
 * and each row's pixels side by side (nChw16c), a row of at most CHANDOT_MAX_W pixels. */
#define CHANDOT_MAX_W 512
static bool chandot_blocked16(const dnnl_memory_desc_t *am, const dnnl_memory_desc_t *bm, const dnnl_memory_desc_t *dm)
{
    const dnnl_blocking_desc_t *ab = &am->format_desc.blocking, *bb = &bm->format_desc.blocking;
    if (am->data_type != dnnl_f32 || bm->data_type != dnnl_f32 || dm->data_type != dnnl_f32) return false;
    if (ab->inner_nblks != 1 || ab->inner_blks[0] != 16 || am->dims[1] % 16 || am->dims[3] > CHANDOT_MAX_W) return false;
    if (ab->strides[3] != 16 || memcmp(ab, bb, sizeof *ab) || memcmp(am->dims, bm->dims, sizeof am->dims)) return false;
    return true;
}

/* dst[n,0,h,w] = Σ_c a[n,c,h,w]·b[n,c,h,w], any layouts chandot_ok accepts, f32 or bf16 data
 * (accumulated in f32). */
static void chandot(const void *a, const dnnl_memory_desc_t *am, const void *b, const dnnl_memory_desc_t *bm,
                    void *dst, const dnnl_memory_desc_t *dm)
{
    dnnl_dim_t N = am->dims[0], Cc = am->dims[1], H = am->dims[2], W = am->dims[3];
    bool abf = am->data_type == dnnl_bf16, bbf = bm->data_type == dnnl_bf16, dbf = dm->data_type == dnnl_bf16;
    if (chandot_blocked16(am, bm, dm)) {
        /* a row at a time, 16 lanes per pixel kept apart (so the compiler can vectorise without
         * reassociating) and summed at the end */
#pragma omp parallel for collapse(2) schedule(static)
        for (dnnl_dim_t n = 0; n < N; n++)
            for (dnnl_dim_t h = 0; h < H; h++) {
                float lanes[CHANDOT_MAX_W * 16];
                memset(lanes, 0, (size_t)W * 16 * sizeof(float));
                for (dnnl_dim_t c = 0; c < Cc; c += 16) {
                    const float *pa = (const float *)a + chan_off(am, n, c, h, 0);
                    const float *pb = (const float *)b + chan_off(bm, n, c, h, 0);
                    for (dnnl_dim_t i = 0; i < W * 16; i++) lanes[i] += pa[i] * pb[i];
                }
                for (dnnl_dim_t w = 0; w < W; w++) {
                    float acc = 0.f;
                    for (int l = 0; l < 16; l++) acc += lanes[w * 16 + l];
                    ((float *)dst)[chan_off(dm, n, 0, h, w)] = acc;
                }
            }
        return;
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (dnnl_dim_t n = 0; n < N; n++)
        for (dnnl_dim_t h = 0; h < H; h++)
            for (dnnl_dim_t w = 0; w < W; w++) {
                float acc = 0.f;
                for (dnnl_dim_t c = 0; c < Cc; c++)
                    acc += ld(a, chan_off(am, n, c, h, w), abf) * ld(b, chan_off(bm, n, c, h, w), bbf);
                size_t o = chan_off(dm, n, 0, h, w);
                if (dbf) ((uint16_t *)dst)[o] = f32_to_bf16(acc);
                else ((float *)dst)[o] = acc;
            }
}

/* The gradient of input `i` of a two-input op as dy ⊙ (its other input), broadcast as oneDNN's
 * binary primitive does: both sides of y = x ⊙ a when a has the same channels as x. */
static ftn_status grad_as_product(ftn_exec *ex, impl *C, int o, int i, dnnl_memory_t dy,
                                  const dnnl_memory_desc_t *ymd, steplist *bl)
{
    const ftn_op *op = &ex->g->ops[o];
    int self = op->in[i], other = op->in[1 - i];
    gslot gs;
    dnnl_binary_desc_t bd;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t sc;
    TRY(grad_begin(ex, C, o, i, &C->t[self].md, &gs));
    D(dnnl_binary_desc_init(&bd, dnnl_binary_mul, ymd, &C->t[other].md, &C->t[self].md));
    TRY(make_prim(ex, C, &bd, NULL, &pd, &prim, &sc));
    argv b = { 0 };
    arg(&b, DNNL_ARG_SRC_0, dy);
    arg(&b, DNNL_ARG_SRC_1, C->t[other].mem);
    arg(&b, DNNL_ARG_DST, gs.target);
    TRY(push_prim(ex, C, bl, prim, sc, &b));
    return grad_end(ex, C, bl, &gs);
}

static ftn_status compile_binary(ftn_exec *ex, impl *C, int o)
{
    const ftn_graph *g = ex->g;
    const ftn_op *op = &g->ops[o];
    int x0 = op->in[0], x1 = op->in[1], y = op->out;
    bool mul = op->kind == FTN_OP_MUL;
    dnnl_memory_desc_t dst_any;
    TRY(md_nchw(ex, C, &dst_any, g->tensors[y].shape, dnnl_format_tag_any));
    dnnl_binary_desc_t bd;
    dnnl_primitive_desc_t fpd;
    dnnl_primitive_t fprim;
    dnnl_memory_t fs;
    D(dnnl_binary_desc_init(&bd, mul ? dnnl_binary_mul : dnnl_binary_add, &C->t[x0].md, &C->t[x1].md, &dst_any));
    TRY(make_prim(ex, C, &bd, NULL, &fpd, &fprim, &fs));
    const dnnl_memory_desc_t *ymd = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    TRY(set_tensor(ex, C, y, ymd, NULL));
    argv a = { 0 };
    arg(&a, DNNL_ARG_SRC_0, C->t[x0].mem);
    arg(&a, DNNL_ARG_SRC_1, C->t[x1].mem);
    arg(&a, DNNL_ARG_DST, C->t[y].mem);
    TRY(push_both(ex, C, fprim, fs, &a));
    if (!C->t[y].needs_grad) return FTN_OK;

    TRY(ensure_diff(ex, C, y));
    steplist *bl = &C->bwd_op[o];
    dnnl_memory_t dy = C->t[y].dmem;
    if (!mul) {
        for (int i = 0; i < 2; i++) {
            int xi = op->in[i];
            if (!C->t[xi].needs_grad) continue;
            gslot gs;
            TRY(grad_begin(ex, C, o, i, &C->t[xi].md, &gs));
            TRY(reorder(ex, C, dy, gs.target, bl, NULL));
            TRY(grad_end(ex, C, bl, &gs));
        }
        return FTN_OK;
    }
    /* y = x ⊙ a: dx = dy ⊙ a; da = Σ_c dy ⊙ x */
    if (C->t[x0].needs_grad) TRY(grad_as_product(ex, C, o, 0, dy, ymd, bl));
    if (C->t[x1].needs_grad && g->tensors[x0].shape.c == 1) {
        TRY(grad_as_product(ex, C, o, 1, dy, ymd, bl)); /* nothing to reduce: da = dy ⊙ x */
    } else if (C->t[x1].needs_grad && chandot_ok(ymd) && chandot_ok(&C->t[x0].md) && chandot_ok(&C->t[x1].md)) {
        /* da = Σ_c dy ⊙ x in one pass (oneDNN 2.6 only has a reference reduction here) */
        gslot gs;
        TRY(grad_begin(ex, C, o, 1, &C->t[x1].md, &gs));
        step *st = push(ex, C, bl);
        if (!st) return OOM();
        st->kind = STEP_CHANDOT;
        st->nargs = 3;
        st->args[0] = (dnnl_exec_arg_t){ 0, dy };
        st->args[1] = (dnnl_exec_arg_t){ 0, C->t[x0].mem };
        st->args[2] = (dnnl_exec_arg_t){ 0, gs.target };
        TRY(grad_end(ex, C, bl, &gs));
    } else if (C->t[x1].needs_grad) {
        dnnl_memory_t prod;
        TRY(new_mem(ex, C, ymd, NULL, &prod));
        dnnl_primitive_desc_t pd, rpd;
        dnnl_primitive_t prim, rprim;
        dnnl_memory_t sc, rsc;
        D(dnnl_binary_desc_init(&bd, dnnl_binary_mul, ymd, &C->t[x0].md, ymd));
        TRY(make_prim(ex, C, &bd, NULL, &pd, &prim, &sc));
        argv b = { 0 };
        arg(&b, DNNL_ARG_SRC_0, dy);
        arg(&b, DNNL_ARG_SRC_1, C->t[x0].mem);
        arg(&b, DNNL_ARG_DST, prod);
        TRY(push_prim(ex, C, bl, prim, sc, &b));
        gslot gs;
        TRY(grad_begin(ex, C, o, 1, &C->t[x1].md, &gs));
        dnnl_reduction_desc_t rd;
        D(dnnl_reduction_desc_init(&rd, dnnl_reduction_sum, ymd, &C->t[x1].md, 0.f, 0.f));
        TRY(make_prim(ex, C, &rd, NULL, &rpd, &rprim, &rsc));
        argv r = { 0 };
        arg(&r, DNNL_ARG_SRC, prod);
        arg(&r, DNNL_ARG_DST, gs.target);
        TRY(push_prim(ex, C, bl, rprim, rsc, &r));
        TRY(grad_end(ex, C, bl, &gs));
    }
    return FTN_OK;
}

static ftn_status compile_concat(ftn_exec *ex, impl *C, int o)
{
    const ftn_graph *g = ex->g;
    const ftn_op *op = &g->ops[o];
    int y = op->out;
    const dnnl_memory_desc_t *ymd;
    if (C->t[y].has_md) {
        /* a ReLU already wrote its input into our output (relu_into_cat): copy only the others,
         * each into its slice */
        ymd = &C->t[y].md;
        int off = 0;
        for (int i = 0; i < op->n_in; i++) {
            int xi = op->in[i];
            ftn_shape s = g->tensors[xi].shape;
            if (C->t[xi].cat_op != o) {
                dnnl_dims_t dims = { s.n, s.c, s.h, s.w }, offs = { 0, off, 0, 0 };
                dnnl_memory_desc_t sub;
                dnnl_memory_t ysub;
                D(dnnl_memory_desc_init_submemory(&sub, ymd, dims, offs));
                TRY(bound_mem(ex, C, &sub, C->t[y].vb, &ysub));
                TRY(copy_rows(ex, C, C->t[xi].mem, ysub, &C->fwd_train, &C->fwd_infer));
            }
            off += s.c;
        }
    } else {
        dnnl_memory_desc_t srcs[FTN_MAX_OP_INPUTS], dst_any;
        for (int i = 0; i < op->n_in; i++) srcs[i] = C->t[op->in[i]].md;
        TRY(md_nchw(ex, C, &dst_any, g->tensors[y].shape, dnnl_format_tag_any));
        dnnl_primitive_desc_t pd;
        dnnl_primitive_t prim;
        dnnl_memory_t sc;
        D(dnnl_concat_primitive_desc_create(&pd, &dst_any, op->n_in, 1, srcs, C->attr, C->eng));
        TRY(make_prim(ex, C, NULL, NULL, &pd, &prim, &sc));
        ymd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        TRY(set_tensor(ex, C, y, ymd, NULL));
        argv a = { 0 };
        for (int i = 0; i < op->n_in; i++) arg(&a, DNNL_ARG_MULTIPLE_SRC + i, C->t[op->in[i]].mem);
        arg(&a, DNNL_ARG_DST, C->t[y].mem);
        TRY(push_both(ex, C, prim, sc, &a));
    }
    if (!C->t[y].needs_grad) return FTN_OK;

    TRY(ensure_diff(ex, C, y));
    steplist *bl = &C->bwd_op[o];
    int off = 0;
    for (int i = 0; i < op->n_in; i++) {
        int xi = op->in[i];
        ftn_shape s = g->tensors[xi].shape;
        if (C->t[xi].cat_op == o) { off += s.c; continue; } /* its ReLU reads our gradient's slice */
        dnnl_dims_t dims = { s.n, s.c, s.h, s.w }, offs = { 0, off, 0, 0 };
        dnnl_memory_desc_t sub;
        D(dnnl_memory_desc_init_submemory(&sub, ymd, dims, offs));
        if (C->t[xi].bwcopy) {
            dnnl_memory_t ysub;
            TRY(bound_mem(ex, C, &sub, C->t[y].vb, &ysub));
            TRY(copy_rows(ex, C, ysub, C->t[xi].bwcopy, bl, NULL));
        }
        if (C->t[xi].needs_grad) {
            dnnl_memory_t subm;
            TRY(diff_view(ex, C, &sub, y, &subm));
            gslot gs;
            TRY(grad_begin(ex, C, o, i, &C->t[xi].md, &gs));
            TRY(copy_rows(ex, C, subm, gs.target, bl, NULL));
            TRY(grad_end(ex, C, bl, &gs));
        }
        off += s.c;
    }
    return FTN_OK;
}

/* ---- plan --------------------------------------------------------------------------------- */

static bool fusion_enabled(void)
{
    const char *e = getenv("FTUNET_DNNL_FUSE");
    return !(e && e[0] == '0');
}


static bool cat_in_place_enabled(void)
{
    const char *e = getenv("FTUNET_DNNL_CAT_IN_PLACE");
    return fusion_enabled() && !(e && e[0] == '0');
}

/* A ReLU output that only one concat reads, once, at a channel offset that is a multiple of 8
 * (relu_into_cat checks the layout's block size against every input) is written by the ReLU
 * straight into the concat's output: the concat copies only its other inputs. The ReLU is then
 * never fused into its producer (a oneDNN primitive given a slice of a larger tensor runs its
 * reference kernel), even where relu_into_cat ends up declining: it runs as a separate pass. */
static void plan_cat_in_place(const ftn_graph *g, impl *C)
{
    if (!cat_in_place_enabled()) return;
    for (int o = 0; o < g->n_ops; o++) {
        const ftn_op *op = &g->ops[o];
        if (op->kind != FTN_OP_CONCAT) continue;
        int c0 = 0;
        for (int i = 0; i < op->n_in; i++) {
            int x = op->in[i], p = g->tensors[x].producer, c = g->tensors[x].shape.c;
            if (p >= 0 && g->ops[p].kind == FTN_OP_RELU && g->tensors[x].consumers == 1 && !is_output(g, x) &&
                c0 % 8 == 0 && c % 8 == 0) {
                C->t[x].cat_op = o;
                C->t[x].cat_c0 = c0;
            }
            c0 += c;
        }
    }
}

static ftn_status plan(ftn_exec *ex, impl *C)
{
    const ftn_graph *g = ex->g;
    bool fuse_ok = fusion_enabled();
    plan_cat_in_place(g, C);
    for (int o = 0; o < g->n_ops; o++) {
        const ftn_op *op = &g->ops[o];
        bool ng = op->weight >= 0;
        for (int i = 0; i < op->n_in; i++) ng = ng || C->t[op->in[i]].needs_grad;
        C->t[op->out].needs_grad = ng;
        if (fuse_ok && (op->kind == FTN_OP_CONV || op->kind == FTN_OP_BN) && o + 1 < g->n_ops &&
            C->t[g->ops[o + 1].out].cat_op < 0) {
            const ftn_op *nx = &g->ops[o + 1];
            bool act = nx->kind == FTN_OP_RELU || (nx->kind == FTN_OP_SIGMOID && op->kind == FTN_OP_CONV);
            if (act && nx->in[0] == op->out && g->tensors[op->out].consumers == 1 && !is_output(g, op->out)) {
                C->fuse[o] = op->kind == FTN_OP_BN ? FUSE_BN_RELU
                             : nx->kind == FTN_OP_RELU ? FUSE_CONV_RELU : FUSE_CONV_SIGMOID;
                C->fused_away[o + 1] = true;
                if (C->fuse[o] == FUSE_CONV_SIGMOID) ex->n_conv_sigmoid++;
            }
        }
    }
    /* which backward contribution to each tensor comes first (backward runs ops in reverse) */
    for (int k = 0; k < g->n_outputs; k++) C->t[g->outputs[k]].seen = true;
    for (int o = g->n_ops - 1; o >= 0; o--) {
        const ftn_op *op = &g->ops[o];
        if (C->fused_away[o] && C->fuse[o - 1] == FUSE_BN_RELU) continue;
        if (!C->t[op->out].needs_grad) continue;
        for (int i = 0; i < op->n_in; i++) {
            tens *T = &C->t[op->in[i]];
            if (!T->needs_grad) continue;
            C->first[o * FTN_MAX_OP_INPUTS + i] = !T->seen;
            T->seen = true;
        }
    }
    return FTN_OK;
}

static void arena_release(arena *A)
{
    if (A && --A->refs == 0) {
        free(A->p);
        free(A);
    }
}

static void free_impl(impl *C)
{
    if (!C) return;
    for (int i = 0; i < C->n_prims; i++) dnnl_primitive_destroy(C->prims[i]);
    for (int i = 0; i < C->n_pds; i++) dnnl_primitive_desc_destroy(C->pds[i]);
    for (int i = 0; i < C->n_mems; i++) dnnl_memory_destroy(C->mems[i]);
    for (int i = 0; i < C->n_bufs; i++) free(C->bufs[i]);
    arena_release(C->arena);
    free(C->prims); free(C->pds); free(C->mems); free(C->bufs); free(C->vb); free(C->binds); free(C->pool_off);
    free(C->fwd_train.v); free(C->fwd_infer.v); free(C->bwd_head.v);
    if (C->bwd_op)
        for (int o = 0; o < C->n_ops; o++) free(C->bwd_op[o].v);
    free(C->bwd_op);
    free(C->t); free(C->fuse); free(C->fused_away); free(C->first);
    if (C->attr) dnnl_primitive_attr_destroy(C->attr);
    if (C->stream) dnnl_stream_destroy(C->stream);
    if (C->eng) dnnl_engine_destroy(C->eng);
    free(C);
}

static void eng_destroy(ftn_exec *ex)
{
    free_impl(ex->impl);
    ex->impl = NULL;
}

/* Liveness of the pooled buffers. Training runs fwd_train, bwd_head, then bwd_op[n-1] …
 * bwd_op[0]; inference runs fwd_infer. A virtual buffer is live in each sequence from the first
 * to the last step that names any memory bound to it (nothing is carried from one pass to the
 * next: every buffer is written in a pass before it is read). Two virtual buffers may share a
 * real buffer when they are live at the same time in neither sequence. Virtual buffers go to
 * real buffers in order of first use: the smallest compatible one big enough, else the largest
 * compatible one (grown), else a new one. Pooled buffers are not zeroed: primitives write
 * their outputs, padding included, and gradients nothing writes are zeroed by STEP_ZERO. */
static int cmp_bind(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const bind *)a)->mem, y = (uintptr_t)((const bind *)b)->mem;
    return x < y ? -1 : x > y;
}

static int bind_of(const impl *C, dnnl_memory_t m)
{
    int lo = 0, hi = C->n_binds - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        uintptr_t x = (uintptr_t)C->binds[mid].mem, y = (uintptr_t)m;
        if (x == y) return C->binds[mid].vb;
        if (x < y) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

static void mark_list(impl *C, const steplist *l, int *pos, bool infer)
{
    for (int i = 0; i < l->n; i++, (*pos)++) {
        const step *sp = &l->v[i];
        for (int j = 0; j <= sp->nargs; j++) {
            dnnl_memory_t m = j < sp->nargs ? sp->args[j].memory : sp->kind == STEP_ZERO ? sp->zero_mem : NULL;
            int v = m ? bind_of(C, m) : -1;
            if (v < 0) continue;
            vbuf *B = &C->vb[v];
            if (infer) { if (B->fi < 0) B->fi = *pos; B->li = *pos; }
            else { if (B->ft < 0) B->ft = *pos; B->lt = *pos; }
        }
    }
}

static bool overlap(int a0, int a1, int b0, int b1) { return a0 >= 0 && b0 >= 0 && a0 <= b1 && b0 <= a1; }

static bool vb_conflict(const vbuf *a, const vbuf *b)
{
    return overlap(a->ft, a->lt, b->ft, b->lt) || overlap(a->fi, a->li, b->fi, b->li);
}

static ftn_status assign_pool(impl *C)
{
    int nv = C->n_vb;
    qsort(C->binds, (size_t)C->n_binds, sizeof *C->binds, cmp_bind);
    int pos = 0;
    mark_list(C, &C->fwd_train, &pos, false);
    mark_list(C, &C->bwd_head, &pos, false);
    for (int o = C->n_ops - 1; o >= 0; o--) mark_list(C, &C->bwd_op[o], &pos, false);
    int tend = pos;
    pos = 0;
    mark_list(C, &C->fwd_infer, &pos, true);

    int *order = malloc((size_t)nv * sizeof *order + 1);
    long *key = malloc((size_t)nv * sizeof *key + 1);
    size_t *bsize = calloc((size_t)nv + 1, sizeof *bsize);
    int *bhead = malloc((size_t)nv * sizeof *bhead + 1);
    ftn_status st = FTN_OK;
    if (!order || !key || !bsize || !bhead) { st = OOM(); goto done; }
    for (int v = 0; v < nv; v++) {
        order[v] = v;
        const vbuf *B = &C->vb[v];
        key[v] = B->ft >= 0 ? B->ft : B->fi >= 0 ? (long)tend + B->fi : -1; /* unused first */
        C->pool_bytes_unshared += B->size;
    }
    /* two packings: by first use (growing buffers), and by decreasing size (never growing);
     * the smaller wins */
    size_t total[2] = { 0, 0 };
    int nb = 0;
    for (int pass = 0; pass < 3; pass++) {
        int strategy = pass < 2 ? pass : total[1] < total[0];
        if (strategy == 1) /* stable sort by decreasing size */
            for (int a = 1; a < nv; a++)
                for (int b = a; b > 0 && C->vb[order[b - 1]].size < C->vb[order[b]].size; b--) {
                    int tmp = order[b]; order[b] = order[b - 1]; order[b - 1] = tmp;
                }
        else
            for (int a = 1; a < nv; a++)
                for (int b = a; b > 0 && key[order[b - 1]] > key[order[b]]; b--) {
                    int tmp = order[b]; order[b] = order[b - 1]; order[b - 1] = tmp;
                }
        nb = 0;
        for (int a = 0; a < nv; a++) {
            int v = order[a];
            vbuf *V = &C->vb[v];
            int best = -1, largest = -1;
            for (int b = 0; b < nb; b++) {
                bool ok = true;
                for (int u = bhead[b]; u >= 0 && ok; u = C->vb[u].next) ok = !vb_conflict(V, &C->vb[u]);
                if (!ok) continue;
                if (bsize[b] >= V->size && (best < 0 || bsize[b] < bsize[best])) best = b;
                if (largest < 0 || bsize[b] > bsize[largest]) largest = b;
            }
            if (best < 0 && strategy == 0) best = largest;
            if (best < 0) { best = nb++; bsize[best] = 0; bhead[best] = -1; }
            if (bsize[best] < V->size) bsize[best] = V->size;
            V->blk = best;
            V->next = bhead[best];
            bhead[best] = v;
        }
        if (pass < 2)
            for (int b = 0; b < nb; b++) total[pass] += bsize[b];
    }
    /* the real buffers side by side in one arena, allocated (and bound) at the first run */
    C->pool_off = calloc((size_t)nb + 1, sizeof *C->pool_off);
    C->arena = calloc(1, sizeof *C->arena);
    if (!C->pool_off || !C->arena) { st = OOM(); goto done; }
    C->arena->refs = 1;
    for (int b = 0; b < nb; b++) {
        C->pool_off[b] = C->pool_bytes;
        C->pool_bytes += (bsize[b] + 63) / 64 * 64;
    }
    C->n_pool = nb;
done:
    free(order); free(key); free(bsize); free(bhead);
    return st;
}

static ftn_status compile_all(ftn_exec *ex, impl *C)
{
    const ftn_graph *g = ex->g;
    C->cur_op = -1;
    C->dt = ex->precision == FTN_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
    if (C->dt == dnnl_bf16) TRY(ftn_dnnl_bf16_check());
    D(dnnl_engine_create(&C->eng, dnnl_cpu, 0));
    D(dnnl_stream_create(&C->stream, C->eng, dnnl_stream_default_flags));
    D(dnnl_primitive_attr_create(&C->attr));
    D(dnnl_primitive_attr_set_scratchpad_mode(C->attr, dnnl_scratchpad_mode_user));
    TRY(plan(ex, C));

    /* the network input, read in place */
    dnnl_memory_desc_t md;
    TRY(md_nchw_f32(ex, C, &md, g->tensors[g->input].shape, dnnl_nchw));
    if (C->dt == dnnl_f32) {
        C->t[g->input].md = md;
        C->t[g->input].has_md = true;
        TRY(new_mem(ex, C, &md, ex->input, &C->t[g->input].mem));
    } else { /* converted at the boundary */
        dnnl_memory_t user;
        dnnl_memory_desc_t lmd;
        TRY(new_mem(ex, C, &md, ex->input, &user));
        TRY(md_nchw(ex, C, &lmd, g->tensors[g->input].shape, dnnl_nchw));
        TRY(set_tensor(ex, C, g->input, &lmd, NULL));
        TRY(reorder(ex, C, user, C->t[g->input].mem, &C->fwd_train, &C->fwd_infer));
    }

    for (int o = 0; o < g->n_ops; o++) {
        C->cur_op = o;
        const ftn_op *op = &g->ops[o];
        for (int i = 0; i < op->n_in; i++)
            if (!C->t[op->in[i]].has_md) return ftn_fail(FTN_EINTERNAL, "oneDNN engine: op %d reads a tensor not yet produced", o);
        switch (op->kind) {
        case FTN_OP_CONV:
        case FTN_OP_DECONV: TRY(compile_conv(ex, C, o)); break;
        case FTN_OP_BN: TRY(compile_bn(ex, C, o)); break;
        case FTN_OP_RELU:
        case FTN_OP_SIGMOID: TRY(compile_eltwise(ex, C, o)); break;
        case FTN_OP_MAXPOOL2:
        case FTN_OP_AVGPOOL2:
        case FTN_OP_UP2X: TRY(compile_pool_up(ex, C, o)); break;
        case FTN_OP_ADD:
        case FTN_OP_MUL: TRY(compile_binary(ex, C, o)); break;
        case FTN_OP_CONCAT: TRY(compile_concat(ex, C, o)); break;
        default: return ftn_fail(FTN_EUNSUPPORTED, "oneDNN engine: op %d has unknown kind %d", o, (int)op->kind);
        }
    }

    /* boundary: outputs to NCHW after forward; output gradients in before backward */
    C->cur_op = -1;
    for (int k = 0; k < g->n_outputs; k++) {
        int t = g->outputs[k];
        dnnl_memory_t user, duser;
        TRY(md_nchw_f32(ex, C, &md, g->tensors[t].shape, dnnl_nchw));
        TRY(new_mem(ex, C, &md, ex->outputs[k], &user));
        TRY(reorder(ex, C, C->t[t].mem, user, &C->fwd_train, &C->fwd_infer));
        if (C->t[t].needs_grad) {
            TRY(ensure_diff(ex, C, t));
            TRY(new_mem(ex, C, &md, ex->d_outputs[k], &duser));
            TRY(reorder(ex, C, duser, C->t[t].dmem, &C->bwd_head, NULL));
        }
    }
    /* gradients that nothing writes (a dead-end tensor) are zero */
    for (int t = 0; t < g->n_tensors; t++) {
        tens *T = &C->t[t];
        if (T->needs_grad && !T->seen && T->dmem) {
            step *s = push(ex, C, &C->bwd_head);
            if (!s) return OOM();
            s->kind = STEP_ZERO;
            s->zero_mem = T->dmem;
            s->zero_bytes = dnnl_memory_desc_get_size(&T->md);
        }
    }
    return assign_pool(C);
}

static ftn_status eng_compile(ftn_exec *ex)
{
    const ftn_graph *g = ex->g;
    impl *C = calloc(1, sizeof *C);
    if (!C) return ftn_fail(FTN_ENOMEM, "oneDNN engine: out of memory");
    ex->impl = C;
    C->n_ops = g->n_ops;
    C->n_t = g->n_tensors;
    C->t = calloc((size_t)g->n_tensors, sizeof *C->t);
    C->bwd_op = calloc((size_t)g->n_ops + 1, sizeof *C->bwd_op);
    C->fuse = calloc((size_t)g->n_ops + 1, sizeof *C->fuse);
    C->fused_away = calloc((size_t)g->n_ops + 1, sizeof *C->fused_away);
    C->first = calloc((size_t)(g->n_ops + 1) * FTN_MAX_OP_INPUTS, sizeof *C->first);
    if (!C->t || !C->bwd_op || !C->fuse || !C->fused_away || !C->first)
        return ftn_fail(FTN_ENOMEM, "oneDNN engine: out of memory");
    for (int t = 0; t < g->n_tensors; t++) C->t[t].dvb = C->t[t].vb = C->t[t].cat_op = -1;
    for (int i = 0; i < SH_COUNT; i++) C->sh_vb[i] = -1;
    return compile_all(ex, C); /* on failure the caller's destroy frees the partial state */
}

/* ---- precision ---------------------------------------------------------------------------- */

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "SSE4.1";
    case dnnl_cpu_isa_avx: return "AVX";
    case dnnl_cpu_isa_avx2: return "AVX2";
    case dnnl_cpu_isa_avx2_vnni: return "AVX2-VNNI";
    case dnnl_cpu_isa_avx512_mic: return "AVX-512 (Xeon Phi)";
    case dnnl_cpu_isa_avx512_mic_4ops: return "AVX-512 (Xeon Phi, 4ops)";
    case dnnl_cpu_isa_avx512_core: return "AVX-512";
    case dnnl_cpu_isa_avx512_core_vnni: return "AVX-512 with VNNI, no BF16";
    case dnnl_cpu_isa_avx512_core_bf16: return "AVX512-BF16";
    case dnnl_cpu_isa_avx512_core_amx: return "AMX";
    default: return "no vector extensions oneDNN uses";
    }
}

ftn_status ftn_dnnl_bf16_check(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) != (unsigned)dnnl_cpu_isa_avx512_core_bf16)
        return ftn_fail(FTN_EUNSUPPORTED, "bf16 needs a CPU with AVX512-BF16 (this one has %s)", isa_name(isa));
    return FTN_OK;
}

ftn_status ftn_dnnl_winograd_check(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core) != (unsigned)dnnl_cpu_isa_avx512_core)
        return ftn_fail(FTN_EUNSUPPORTED, "fp32-winograd needs a CPU with AVX-512 (this one has %s)", isa_name(isa));
    return FTN_OK;
}

/* ---- running ------------------------------------------------------------------------------ */

static ftn_status run_step(ftn_exec *ex, impl *C, const step *s);

/* Runs a step list; with profiling on, times each step (waiting for the stream) and charges it
 * to its op in `pass` (0 forward, 1 backward). A fused ReLU is charged to its producer. */
static ftn_status run(ftn_exec *ex, impl *C, const steplist *l, int pass)
{
    if (!ex->profile) {
        for (int i = 0; i < l->n; i++) TRY(run_step(ex, C, &l->v[i]));
        return FTN_OK;
    }
    for (int i = 0; i < l->n; i++) {
        const step *s = &l->v[i];
        double t0 = omp_get_wtime();
        TRY(run_step(ex, C, s));
        dnnl_status_t st = dnnl_stream_wait(C->stream);
        if (st != dnnl_success) return dfail(ex, s->op, "stream wait", st);
        ftn_exec_profile_add(ex, pass, s->op, omp_get_wtime() - t0);
    }
    return FTN_OK;
}

static ftn_status run_step(ftn_exec *ex, impl *C, const step *s)
{
    {
        if (s->kind == STEP_PRIM) {
            dnnl_status_t st = dnnl_primitive_execute(s->prim, C->stream, s->nargs, s->args);
            if (st != dnnl_success) return dfail(ex, s->op, "execute", st);
        } else if (s->kind == STEP_BN_RUNNING) {
            const ftn_op *op = &ex->g->ops[s->op];
            ftn_shape sh = ex->g->tensors[op->in[0]].shape;
            double m = (double)sh.n * sh.h * sh.w;
            float unbias = m > 1 ? (float)(m / (m - 1)) : 1.f;
            float *rm = P(ex, op->running_mean), *rv = P(ex, op->running_var);
            float mo = ex->bn_momentum;
            for (int c = 0; c < sh.c; c++) {
                rm[c] = mo * rm[c] + (1 - mo) * s->mean[c];
                rv[c] = mo * rv[c] + (1 - mo) * s->var[c] * unbias;
            }
        } else if (s->kind == STEP_PHASE_WEIGHTS) {
            phase_weights(s);
        } else if (s->kind == STEP_ROWS_RELU || s->kind == STEP_ROWS_RELU_BWD || s->kind == STEP_ROWS_COPY) {
            void *p[3];
            for (int j = 0; j < s->nargs; j++) {
                dnnl_status_t st = dnnl_memory_get_data_handle(s->args[j].memory, &p[j]);
                if (st != dnnl_success) return dfail(ex, s->op, "concat slice", st);
            }
            rows_run(s, p);
        } else if (s->kind == STEP_CHANDOT) {
            void *p[3];
            const dnnl_memory_desc_t *m[3];
            for (int j = 0; j < 3; j++) {
                dnnl_status_t st = dnnl_memory_get_data_handle(s->args[j].memory, &p[j]);
                if (st == dnnl_success) st = dnnl_memory_get_memory_desc(s->args[j].memory, &m[j]);
                if (st != dnnl_success) return dfail(ex, s->op, "channel sum", st);
            }
            chandot(p[0], m[0], p[1], m[1], p[2], m[2]);
        } else {
            void *h;
            dnnl_status_t st = dnnl_memory_get_data_handle(s->zero_mem, &h);
            if (st != dnnl_success) return dfail(ex, s->op, "zero", st);
            memset(h, 0, s->zero_bytes);
        }
    }
    return FTN_OK;
}

/* Points the pooled memories into the arena, growing it first if a sharer left it too small. */
static ftn_status bind_pool(ftn_exec *ex, impl *C)
{
    arena *A = C->arena;
    if (A->size < C->pool_bytes || !A->p) {
        free(A->p);
        A->size = 0;
        A->p = aligned_alloc(64, C->pool_bytes ? C->pool_bytes : 64);
        if (!A->p) return ftn_fail(FTN_ENOMEM, "oneDNN engine: out of memory for %zu bytes of working memory", C->pool_bytes);
        A->size = C->pool_bytes;
    }
    if (C->bound == A->p) return FTN_OK;
    for (int i = 0; i < C->n_binds; i++) {
        dnnl_status_t ds = dnnl_memory_set_data_handle(C->binds[i].mem, (char *)A->p + C->pool_off[C->vb[C->binds[i].vb].blk]);
        if (ds != dnnl_success) return dfail(ex, -1, "set pooled buffer", ds);
    }
    C->bound = A->p;
    return FTN_OK;
}

static ftn_status eng_forward(ftn_exec *ex, bool training)
{
    impl *C = ex->impl;
    if (!C) return ftn_fail(FTN_EINVAL, "oneDNN engine: not compiled");
    TRY(bind_pool(ex, C));
    C->arena->last = ex;
    TRY(run(ex, C, training ? &C->fwd_train : &C->fwd_infer, 0));
    dnnl_status_t st = dnnl_stream_wait(C->stream);
    return st == dnnl_success ? FTN_OK : dfail(ex, -1, "stream wait", st);
}

static ftn_status eng_backward(ftn_exec *ex)
{
    impl *C = ex->impl;
    if (!C) return ftn_fail(FTN_EINVAL, "oneDNN engine: not compiled");
    if (C->arena->last != ex || C->bound != C->arena->p)
        return ftn_fail(FTN_EINVAL, "oneDNN engine: a session sharing this one's working memory ran between its "
                        "forward and backward");
    TRY(run(ex, C, &C->bwd_head, 1));
    for (int o = C->n_ops - 1; o >= 0; o--) TRY(run(ex, C, &C->bwd_op[o], 1));
    dnnl_status_t st = dnnl_stream_wait(C->stream);
    return st == dnnl_success ? FTN_OK : dfail(ex, -1, "stream wait", st);
}

static ftn_status eng_share(ftn_exec *ex, ftn_exec *with)
{
    impl *C = ex->impl, *W = with->impl;
    if (!C || !W) return ftn_fail(FTN_EINVAL, "oneDNN engine: not compiled");
    if (C->arena == W->arena) return FTN_OK;
    arena_release(C->arena);
    C->arena = W->arena;
    C->arena->refs++;
    C->bound = NULL;
    return FTN_OK;
}

const ftn_engine_vtable ftn_dnnl_engine = { eng_compile, eng_forward, eng_backward, eng_destroy, eng_share };
