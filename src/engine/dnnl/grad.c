/*
 * Gradients, and an op's inputs and weights in the formats its primitive wants.
 *
 * - Gradients: every tensor that needs one has a diff buffer in its own format. Backward runs
 *   the ops in reverse; the first contributor to a tensor's gradient writes it, later ones
 *   (fan-out) write into a shared temporary and are added in place (binary add). Which
 *   contribution comes first is planned before compiling (plan.c); grad_begin turns that into
 *   the memory an op's backward writes, grad_end into the steps after it (grad_mode).
 * - An input a primitive wants in another format than its producer wrote is a converted copy
 *   (input_as), and the gradient it writes in that format is reordered back (GRAD_REORDER,
 *   GRAD_REORDER_ADD); weights likewise (weights_as; see convolution.c).
 */
#include "engine/dnnl/internal.h"

/* A memory over tensor t's gradient buffer (md: its own or a sub-memory of it), pooled. */
ftn_status ftn_dnnl_diff_view(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, int t, dnnl_memory_t *out)
{
    if (C->t[t].dvb < 0) {
        C->t[t].dvb = ftn_dnnl_new_vbuf(C, dnnl_memory_desc_get_size(&C->t[t].md));
        if (C->t[t].dvb < 0) return oom(C);
    }
    return ftn_dnnl_bound_mem(ex, C, md, C->t[t].dvb, out);
}

/* Tensor t's gradient memory (dmem), created on first need. */
ftn_status ftn_dnnl_ensure_diff(ftn_exec *ex, impl *C, int t)
{
    if (C->t[t].dmem) return FTN_OK;
    return ftn_dnnl_diff_view(ex, C, &C->t[t].md, t, &C->t[t].dmem);
}

/* Plans where op `o`'s backward writes the gradient of its input slot i (in the format `in_md`
 * the primitive uses for that input). grad_end appends the steps that bring it into the
 * tensor's gradient. */
ftn_status ftn_dnnl_grad_begin(ftn_exec *ex, impl *C, int o, int i, const dnnl_memory_desc_t *in_md, gslot *gs)
{
    int x = ex->g->ops[o].in[i];
    tens *T = &C->t[x];
    gs->t = x;
    if (!T->needs_grad) {
        gs->mode = GRAD_DISCARD;
        return ftn_dnnl_shared_mem(ex, C, in_md, SH_GTMP2, &gs->target);
    }
    TRY(ftn_dnnl_ensure_diff(ex, C, x));
    bool same = md_eq(in_md, &T->md);
    if (C->first[o * FTN_MAX_OP_INPUTS + i]) {
        if (same) { gs->mode = GRAD_DIRECT; gs->target = T->dmem; return FTN_OK; }
        gs->mode = GRAD_REORDER;
        return ftn_dnnl_shared_mem(ex, C, in_md, SH_GTMP2, &gs->target);
    }
    if (!T->tmem) TRY(ftn_dnnl_shared_mem(ex, C, &T->md, SH_GTMP, &T->tmem));
    if (!T->acc) {
        dnnl_binary_desc_t bd;
        DNNL_TRY(ex, C, dnnl_binary_desc_init(&bd, dnnl_binary_add, &T->md, &T->md, &T->md));
        dnnl_primitive_desc_t pd;
        dnnl_memory_t scratch;
        TRY(ftn_dnnl_make_prim(ex, C, &bd, NULL, &pd, &T->acc, &scratch));
        if (scratch) return ftn_fail(FTN_EINTERNAL, "oneDNN: binary add wants a scratchpad at op %d", o);
    }
    if (same) { gs->mode = GRAD_ADD; gs->target = T->tmem; return FTN_OK; }
    gs->mode = GRAD_REORDER_ADD;
    return ftn_dnnl_shared_mem(ex, C, in_md, SH_GTMP2, &gs->target);
}

ftn_status ftn_dnnl_grad_end(ftn_exec *ex, impl *C, steplist *l, const gslot *gs)
{
    tens *T = &C->t[gs->t];
    switch (gs->mode) {
    case GRAD_DISCARD:
    case GRAD_DIRECT: return FTN_OK;
    case GRAD_REORDER: return ftn_dnnl_reorder(ex, C, gs->target, T->dmem, l, NULL);
    case GRAD_REORDER_ADD: TRY(ftn_dnnl_reorder(ex, C, gs->target, T->tmem, l, NULL)); break;
    case GRAD_ADD: break;
    }
    argv a = { 0 };
    arg(&a, DNNL_ARG_SRC_0, T->dmem);
    arg(&a, DNNL_ARG_SRC_1, T->tmem);
    arg(&a, DNNL_ARG_DST, T->dmem);
    return ftn_dnnl_push_prim(C, l, T->acc, NULL, &a);
}

/* The input of op o, slot i, in the format `want`: the tensor's own memory, or a converted copy
 * refreshed in both forward lists. */
ftn_status ftn_dnnl_input_as(ftn_exec *ex, impl *C, int o, int i, const dnnl_memory_desc_t *want, dnnl_memory_t *out)
{
    tens *T = &C->t[ex->g->ops[o].in[i]];
    if (md_eq(want, &T->md)) { *out = T->mem; return FTN_OK; }
    TRY(ftn_dnnl_new_mem(ex, C, want, NULL, out));
    return ftn_dnnl_reorder(ex, C, T->mem, *out, &C->fwd_train, &C->fwd_infer);
}

/* Weights wu (user layout) in the format `want`: wu itself, or a copy reordered in both forward
 * lists (every forward, as the model's weights change between steps). */
ftn_status ftn_dnnl_weights_as(ftn_exec *ex, impl *C, dnnl_memory_t wu, const dnnl_memory_desc_t *want,
                               dnnl_memory_t *out)
{
    const dnnl_memory_desc_t *umd;
    DNNL_TRY(ex, C, dnnl_memory_get_memory_desc(wu, &umd));
    if (md_eq(want, umd)) { *out = wu; return FTN_OK; }
    TRY(ftn_dnnl_new_mem(ex, C, want, NULL, out));
    return ftn_dnnl_reorder(ex, C, wu, *out, &C->fwd_train, &C->fwd_infer);
}
