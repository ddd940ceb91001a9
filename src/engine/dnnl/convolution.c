/*
 * Convolutions and transposed convolutions: forward, backward data, backward weights.
 *
 * - Formats: source, weights and destination are dnnl_format_tag_any, oneDNN's choice (nChw16c
 *   on AVX-512), which the ops after them keep (see engine.c); the input is converted when the
 *   chosen source format is not its producer's (input_as, grad.c).
 * - Weights: the model keeps conv weights oihw and deconv weights [ci,co,k,k] (described to
 *   oneDNN as {OC,IC,KH,KW} with tag iohw, read in place). When a primitive prefers another
 *   layout they are reordered once per forward (and once per backward for backward-data,
 *   which may want a third layout); weight gradients are reordered back into ex->grads.
 *   Biases are read and written in place.
 * - A ReLU or sigmoid fused into the convolution (plan.c) is its eltwise post-op.
 * - Stride-2 3×3 and 4×4 transposed convolutions run forward as four convolutions
 *   (deconv_phases.c); their backward is here.
 * - FTN_PRECISION_FP32_WINOGRAD: 3×3 stride-1 convolutions whose channel counts are multiples
 *   of 16 run as Winograd F(4×4, 3×3) (oneDNN's jit_wino_4x3), forward and both backward passes,
 *   each pass on its own: a pass whose Winograd scratchpad would exceed WINO_SCRATCH_MAX runs
 *   direct (center.conv2's weight gradient at batch 16: 125 MiB). Training ×1.6 on
 *   attn-unet-mi-ds; its rounding is its own (transforms of 6×6 tiles), hence a precision of
 *   its own rather than the default.
 */
#include "engine/dnnl/internal.h"

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
    return st == dnnl_success ? FTN_OK : ftn_dnnl_fail(ex, C->cur_op, what, st);
}

ftn_status ftn_dnnl_compile_conv(ftn_exec *ex, impl *C, int o)
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
    TRY(ftn_dnnl_md_nchw(ex, C, &src_any, si, dnnl_format_tag_any));
    TRY(ftn_dnnl_md_nchw(ex, C, &dst_any, so, dnnl_format_tag_any));
    dnnl_dims_t wd = { so.c, si.c, k, k };
    /* bf16: weights reordered from the f32 master copy each forward; weight gradients f32 */
    TRY(ftn_dnnl_md_tag_dt(ex, C, &w_any, 4, wd, C->dt, dnnl_format_tag_any));
    TRY(ftn_dnnl_md_tag(ex, C, &dw_any, 4, wd, dnnl_format_tag_any));
    TRY(ftn_dnnl_md_tag(ex, C, &w_user, 4, wd, de ? dnnl_iohw : dnnl_oihw));
    TRY(ftn_dnnl_md_vec(ex, C, &b_md, so.c));

    /* forward */
    dnnl_primitive_attr_t fattr = C->attr, pattr = NULL;
    if (C->fuse[o] == FUSE_CONV_RELU || C->fuse[o] == FUSE_CONV_SIGMOID) {
        dnnl_post_ops_t po;
        DNNL_TRY(ex, C, dnnl_post_ops_create(&po));
        dnnl_alg_kind_t alg = C->fuse[o] == FUSE_CONV_RELU ? dnnl_eltwise_relu : dnnl_eltwise_logistic;
        dnnl_status_t s1 = dnnl_post_ops_append_eltwise(po, 1.f, alg, 0.f, 0.f);
        dnnl_status_t s2 = dnnl_primitive_attr_clone(&pattr, C->attr);
        dnnl_status_t s3 = s2 == dnnl_success ? dnnl_primitive_attr_set_post_ops(pattr, po) : s2;
        dnnl_post_ops_destroy(po);
        if (s1 != dnnl_success || s3 != dnnl_success) {
            if (pattr) dnnl_primitive_attr_destroy(pattr);
            return ftn_dnnl_fail(ex, o, "post-op activation", s1 != dnnl_success ? s1 : s3);
        }
        fattr = pattr;
    }
    /* Winograd candidates (see the top of this file); cd_w is only used when `wino` */
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
        : ftn_dnnl_fail(ex, o, de ? "deconvolution forward" : "convolution forward", st);
    if (pattr) dnnl_primitive_attr_destroy(pattr);
    if (fs != FTN_OK) return fs;
    /* a stride-2 deconvolution runs as four convolutions; its own forward pd then only serves
     * as the formats' source and the backward's hint */
    phase_axis ax[2];
    dnnl_memory_desc_t probe;
    bool phases = de && C->fuse[o] == FUSE_NONE && ftn_dnnl_phase_plan(ex, o, ax) &&
                  ftn_dnnl_phase_view(dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0), 0, 0, &probe);
    dnnl_primitive_t fprim = NULL;
    dnnl_memory_t fscratch = NULL;
    if (phases) TRY(ftn_dnnl_keep_pd(C, fpd));
    else TRY(ftn_dnnl_make_prim(ex, C, NULL, NULL, &fpd, &fprim, &fscratch));
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    dnnl_memory_desc_t src_keep = *src_md;

    dnnl_memory_t xin, wu, wf = NULL, bmem;
    TRY(ftn_dnnl_input_as(ex, C, o, 0, &src_keep, &xin));
    TRY(ftn_dnnl_new_mem(ex, C, &w_user, param_ptr(ex, op->weight), &wu));
    TRY(ftn_dnnl_new_mem(ex, C, &b_md, param_ptr(ex, op->bias), &bmem));
    TRY(ftn_dnnl_set_tensor(ex, C, y, dst_md, NULL));
    if (phases) TRY(ftn_dnnl_compile_phases(ex, C, o, ax, &src_keep, xin, &b_md, bmem));
    else {
        TRY(ftn_dnnl_weights_as(ex, C, wu, w_md, &wf));
        argv a = { 0 };
        arg(&a, DNNL_ARG_SRC, xin);
        arg(&a, DNNL_ARG_WEIGHTS, wf);
        arg(&a, DNNL_ARG_BIAS, bmem);
        arg(&a, DNNL_ARG_DST, C->t[y].mem);
        TRY(ftn_dnnl_push_both(C, fprim, fscratch, &a));
    }

    /* backward */
    steplist *bl = &C->bwd_op[o];
    int gy = grad_out(ex, C, o);
    TRY(ftn_dnnl_ensure_diff(ex, C, gy));
    if (C->t[x].needs_grad) {
        dnnl_convolution_desc_t bd, bd_w;
        if (de)
            DNNL_TRY(ex, C, dnnl_deconvolution_backward_data_desc_init(&bd, dnnl_deconvolution_direct, &src_keep, &w_any,
                                                                       dst_md, strides, pl, pr));
        else
            DNNL_TRY(ex, C, dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &src_keep, &w_any,
                                                                     dst_md, strides, pl, pr));
        bool bw = wino && dnnl_convolution_backward_data_desc_init(&bd_w, dnnl_convolution_winograd, &src_keep, &w_any,
                                                                   dst_md, strides, pl, pr) == dnnl_success;
        dnnl_primitive_desc_t bpd;
        dnnl_primitive_t bprim;
        dnnl_memory_t bscratch, wb;
        TRY(conv_pd(ex, C, bw ? &bd_w : NULL, &bd, C->attr, fpd, "convolution backward data", &bpd));
        TRY(ftn_dnnl_make_prim(ex, C, NULL, NULL, &bpd, &bprim, &bscratch));
        const dnnl_memory_desc_t *wb_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0);
        if (wf && md_eq(wb_md, w_md)) wb = wf;
        else if (md_eq(wb_md, &w_user)) wb = wu;
        else {
            TRY(ftn_dnnl_new_mem(ex, C, wb_md, NULL, &wb));
            TRY(ftn_dnnl_reorder(ex, C, wu, wb, bl, NULL));
        }
        const dnnl_memory_desc_t *dsrc_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0);
        gslot gs;
        TRY(ftn_dnnl_grad_begin(ex, C, o, 0, dsrc_md, &gs));
        argv b = { 0 };
        arg(&b, DNNL_ARG_DIFF_DST, C->t[gy].dmem);
        arg(&b, DNNL_ARG_WEIGHTS, wb);
        arg(&b, DNNL_ARG_DIFF_SRC, gs.target);
        TRY(ftn_dnnl_push_prim(C, bl, bprim, bscratch, &b));
        TRY(ftn_dnnl_grad_end(ex, C, bl, &gs));
    }
    {
        dnnl_convolution_desc_t wd2, wd2_w;
        if (de)
            DNNL_TRY(ex, C, dnnl_deconvolution_backward_weights_desc_init(&wd2, dnnl_deconvolution_direct, &src_keep,
                                                                          &dw_any, &b_md, dst_md, strides, pl, pr));
        else
            DNNL_TRY(ex, C, dnnl_convolution_backward_weights_desc_init(&wd2, dnnl_convolution_direct, &src_keep, &dw_any,
                                                                        &b_md, dst_md, strides, pl, pr));
        bool ww = wino && dnnl_convolution_backward_weights_desc_init(&wd2_w, dnnl_convolution_winograd, &src_keep, &dw_any,
                                                                      &b_md, dst_md, strides, pl, pr) == dnnl_success;
        dnnl_primitive_desc_t wpd;
        dnnl_primitive_t wprim;
        dnnl_memory_t wscratch, dwu, dw, dbmem;
        TRY(conv_pd(ex, C, ww ? &wd2_w : NULL, &wd2, C->attr, fpd, "convolution backward weights", &wpd));
        TRY(ftn_dnnl_make_prim(ex, C, NULL, NULL, &wpd, &wprim, &wscratch));
        const dnnl_memory_desc_t *dw_md = dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0);
        TRY(ftn_dnnl_new_mem(ex, C, &w_user, grad_ptr(ex, op->weight), &dwu));
        TRY(ftn_dnnl_new_mem(ex, C, &b_md, grad_ptr(ex, op->bias), &dbmem));
        dw = dwu;
        if (!md_eq(dw_md, &w_user)) TRY(ftn_dnnl_new_mem(ex, C, dw_md, NULL, &dw));
        argv b = { 0 };
        arg(&b, DNNL_ARG_SRC, xin);
        arg(&b, DNNL_ARG_DIFF_DST, C->t[gy].dmem);
        arg(&b, DNNL_ARG_DIFF_WEIGHTS, dw);
        arg(&b, DNNL_ARG_DIFF_BIAS, dbmem);
        TRY(ftn_dnnl_push_prim(C, bl, wprim, wscratch, &b));
        if (dw != dwu) TRY(ftn_dnnl_reorder(ex, C, dw, dwu, bl, NULL));
    }
    return FTN_OK;
}
