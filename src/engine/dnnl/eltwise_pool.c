/*
 * ReLU and sigmoid; max and average pooling 2×2; nearest-neighbour 2× upsampling.
 *
 * Each is created on its producer's memory descriptor, so activations stay in the producer's
 * (blocked) format. A ReLU or sigmoid fused into its producer (plan.c) has no forward of its
 * own: its output shares the producer's buffer; its backward still runs here on that output,
 * except after a BN, whose backward absorbs it. A ReLU planned into its concat's output is
 * relu_into_cat's (concatenation.c).
 */
#include "engine/dnnl/internal.h"

ftn_status ftn_dnnl_compile_eltwise(ftn_exec *ex, impl *C, int o)
{
    const ftn_op *op = &ex->g->ops[o];
    int x = op->in[0], y = op->out;
    if (C->t[y].cat_op >= 0) {
        bool done;
        TRY(ftn_dnnl_relu_into_cat(ex, C, o, &done));
        if (done) return FTN_OK;
        C->t[y].cat_op = -1; /* a layout it cannot walk: the ReLU and the concat as usual */
    }
    dnnl_alg_kind_t alg = op->kind == FTN_OP_RELU ? dnnl_eltwise_relu_use_dst_for_bwd : dnnl_eltwise_logistic_use_dst_for_bwd;
    const dnnl_memory_desc_t *md = &C->t[x].md;
    if (C->fused_away[o]) {
        /* the producer wrote ReLU(x) or σ(x) into x's buffer: y shares it */
        if (!C->t[y].has_md) TRY(ftn_dnnl_set_tensor(ex, C, y, md, C->t[x].mem));
        C->t[y].vb = C->t[x].vb;
        if (C->fuse[o - 1] == FUSE_BN_RELU) return FTN_OK; /* BN's backward does ours */
    } else {
        dnnl_eltwise_desc_t ed;
        dnnl_primitive_desc_t fpd;
        dnnl_primitive_t fprim;
        dnnl_memory_t fs;
        DNNL_TRY(ex, C, dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training, alg, md, 0.f, 0.f));
        TRY(ftn_dnnl_make_prim(ex, C, &ed, NULL, &fpd, &fprim, &fs));
        TRY(ftn_dnnl_set_tensor(ex, C, y, dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0), NULL));
        argv a = { 0 };
        arg(&a, DNNL_ARG_SRC, C->t[x].mem);
        arg(&a, DNNL_ARG_DST, C->t[y].mem);
        TRY(ftn_dnnl_push_both(C, fprim, fs, &a));
    }
    if (!C->t[y].needs_grad) return FTN_OK;
    /* backward (needs a forward pd as hint: create one on the same md) */
    dnnl_eltwise_desc_t ed;
    dnnl_primitive_desc_t hpd, bpd;
    DNNL_TRY(ex, C, dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training, alg, md, 0.f, 0.f));
    DNNL_TRY(ex, C, dnnl_primitive_desc_create(&hpd, &ed, C->attr, C->eng, NULL));
    TRY(ftn_dnnl_keep_pd(C, hpd));
    DNNL_TRY(ex, C, dnnl_eltwise_backward_desc_init(&ed, alg, &C->t[y].md, &C->t[y].md, 0.f, 0.f));
    dnnl_primitive_t bprim;
    dnnl_memory_t bs;
    TRY(ftn_dnnl_make_prim(ex, C, &ed, hpd, &bpd, &bprim, &bs));
    TRY(ftn_dnnl_ensure_diff(ex, C, y));
    steplist *bl = &C->bwd_op[o];
    gslot gs;
    TRY(ftn_dnnl_grad_begin(ex, C, o, 0, dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0), &gs));
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
            TRY(ftn_dnnl_new_mem(ex, C, &C->t[y].md, NULL, &C->t[y].bwcopy));
            ydst = C->t[y].bwcopy;
        }
    }
    argv b = { 0 };
    arg(&b, DNNL_ARG_DST, ydst);
    arg(&b, DNNL_ARG_DIFF_DST, C->t[y].dmem);
    arg(&b, DNNL_ARG_DIFF_SRC, gs.target);
    TRY(ftn_dnnl_push_prim(C, bl, bprim, bs, &b));
    return ftn_dnnl_grad_end(ex, C, bl, &gs);
}

ftn_status ftn_dnnl_compile_pool_up(ftn_exec *ex, impl *C, int o)
{
    const ftn_graph *g = ex->g;
    const ftn_op *op = &g->ops[o];
    int x = op->in[0], y = op->out;
    const dnnl_memory_desc_t *md = &C->t[x].md;
    dnnl_memory_desc_t dst_any;
    TRY(ftn_dnnl_md_nchw(ex, C, &dst_any, g->tensors[y].shape, dnnl_format_tag_any));
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
        DNNL_TRY(ex, C, dnnl_resampling_forward_desc_init(&rdsc, dnnl_forward_training, alg, factors, md, &dst_any));
        TRY(ftn_dnnl_make_prim(ex, C, &rdsc, NULL, &fpd, &fprim, &fs));
    } else {
        DNNL_TRY(ex, C, dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_training, alg, md, &dst_any, two, two, zero,
                                                          zero, zero));
        TRY(ftn_dnnl_make_prim(ex, C, &pdsc, NULL, &fpd, &fprim, &fs));
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
        if (wmd && dnnl_memory_desc_get_size(wmd) > 0) TRY(ftn_dnnl_new_mem(ex, C, wmd, NULL, &ws));
    }
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    TRY(ftn_dnnl_set_tensor(ex, C, y, dst_md, NULL));
    argv a = { 0 };
    arg(&a, DNNL_ARG_SRC, C->t[x].mem);
    arg(&a, DNNL_ARG_DST, C->t[y].mem);
    arg(&a, DNNL_ARG_WORKSPACE, ws);
    TRY(ftn_dnnl_push_both(C, fprim, fs, &a));
    if (!C->t[y].needs_grad) return FTN_OK;

    if (up) {
        DNNL_TRY(ex, C, dnnl_resampling_backward_desc_init(&rdsc, alg, factors, md, dst_md));
        TRY(ftn_dnnl_make_prim(ex, C, &rdsc, fpd, &bpd, &bprim, &bs));
    } else {
        DNNL_TRY(ex, C, dnnl_pooling_v2_backward_desc_init(&pdsc, alg, md, dst_md, two, two, zero, zero, zero));
        TRY(ftn_dnnl_make_prim(ex, C, &pdsc, fpd, &bpd, &bprim, &bs));
    }
    TRY(ftn_dnnl_ensure_diff(ex, C, y));
    steplist *bl = &C->bwd_op[o];
    gslot gs;
    TRY(ftn_dnnl_grad_begin(ex, C, o, 0, dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0), &gs));
    argv b = { 0 };
    arg(&b, DNNL_ARG_DIFF_DST, C->t[y].dmem);
    arg(&b, DNNL_ARG_WORKSPACE, ws);
    arg(&b, DNNL_ARG_DIFF_SRC, gs.target);
    TRY(ftn_dnnl_push_prim(C, bl, bprim, bs, &b));
    return ftn_dnnl_grad_end(ex, C, bl, &gs);
}
