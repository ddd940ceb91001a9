/*
 * Batch normalisation: training forward on the batch's statistics, then the running statistics'
 * update (STEP_BN_RUNNING); inference forward on the running statistics; backward. Scale, shift
 * and running statistics are the model's, read and written in place; the batch statistics live
 * in private buffers the update step reads.
 *
 * A ReLU fused into the BN (FUSE_BN_RELU, plan.c) is dnnl_fuse_norm_relu, whose backward absorbs
 * the ReLU's: the ReLU's output is the BN's, and its gradient is the BN's diff_dst.
 */
#include "engine/dnnl/internal.h"

ftn_status ftn_dnnl_compile_bn(ftn_exec *ex, impl *C, int o)
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
    DNNL_TRY(ex, C, dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, md, FTN_BN_EPS, flags));
    TRY(ftn_dnnl_make_prim(ex, C, &bd, NULL, &fpd, &fprim, &fs));
    /* in a process group (bn_group.c): the same with the group's statistics given */
    dnnl_primitive_desc_t gpd;
    dnnl_primitive_t gprim;
    dnnl_memory_t gs_scratch;
    DNNL_TRY(ex, C, dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, md, FTN_BN_EPS,
                                                               flags | dnnl_use_global_stats));
    TRY(ftn_dnnl_make_prim(ex, C, &bd, NULL, &gpd, &gprim, &gs_scratch));
    DNNL_TRY(ex, C, dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_inference, md, FTN_BN_EPS,
                                                               flags | dnnl_use_global_stats));
    TRY(ftn_dnnl_make_prim(ex, C, &bd, NULL, &ipd, &iprim, &is));

    dnnl_memory_desc_t vmd;
    TRY(ftn_dnnl_md_vec(ex, C, &vmd, c));
    dnnl_memory_t gamma, beta, rmean, rvar, bmean, bvar, ws = NULL;
    TRY(ftn_dnnl_new_mem(ex, C, &vmd, param_ptr(ex, op->weight), &gamma));
    TRY(ftn_dnnl_new_mem(ex, C, &vmd, param_ptr(ex, op->bias), &beta));
    TRY(ftn_dnnl_new_mem(ex, C, &vmd, param_ptr(ex, op->running_mean), &rmean));
    TRY(ftn_dnnl_new_mem(ex, C, &vmd, param_ptr(ex, op->running_var), &rvar));
    TRY(ftn_dnnl_private_mem(ex, C, &vmd, &bmean)); /* read through raw pointers by STEP_BN_RUNNING */
    TRY(ftn_dnnl_private_mem(ex, C, &vmd, &bvar));
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
    if (wmd && dnnl_memory_desc_get_size(wmd) > 0) TRY(ftn_dnnl_new_mem(ex, C, wmd, NULL, &ws));
    const dnnl_memory_desc_t *gwmd = dnnl_primitive_desc_query_md(gpd, dnnl_query_workspace_md, 0);
    if ((wmd && dnnl_memory_desc_get_size(wmd) > 0) != (gwmd && dnnl_memory_desc_get_size(gwmd) > 0) ||
        (ws && !md_eq(wmd, gwmd)))
        return ftn_fail(FTN_EINTERNAL, "oneDNN engine: op %d: BN with given statistics wants another workspace", o);
    double *group = ftn_dnnl_new_buf(C, (5 * (size_t)c + 2) * sizeof(double)); /* bn_group.c's sums, then M */
    if (!group) return oom(C);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    TRY(ftn_dnnl_set_tensor(ex, C, y, dst_md, NULL));
    if (fuse) { /* the fused ReLU's output */
        TRY(ftn_dnnl_set_tensor(ex, C, g->ops[o + 1].out, dst_md, C->t[y].mem));
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
    void *h;
    float *bm, *bv;
    DNNL_TRY(ex, C, dnnl_memory_get_data_handle(bmean, &h));
    bm = h;
    DNNL_TRY(ex, C, dnnl_memory_get_data_handle(bvar, &h));
    bv = h;
    step *s = ftn_dnnl_push(C, &C->fwd_train);
    if (!s) return oom(C);
    *s = (step){ .kind = STEP_BN_GROUP_STATS, .op = o, .when = RUN_IN_GROUP, .nargs = 1,
                 .bng = { .sums = group, .mean = bm, .var = bv, .m_all = group + 5 * (size_t)c + 1 } };
    s->args[0] = (dnnl_exec_arg_t){ DNNL_ARG_MULTIPLE_SRC, xin };
    TRY(ftn_dnnl_push_prim(C, &C->fwd_train, fprim, fs, &a));
    C->fwd_train.v[C->fwd_train.n - 1].when = RUN_ALONE;
    TRY(ftn_dnnl_push_prim(C, &C->fwd_train, gprim, gs_scratch, &a));
    C->fwd_train.v[C->fwd_train.n - 1].when = RUN_IN_GROUP;
    s = ftn_dnnl_push(C, &C->fwd_train);
    if (!s) return oom(C);
    s->kind = STEP_BN_RUNNING;
    s->bn.mean = bm;
    s->bn.var = bv;
    s->bn.m_all = group + 5 * (size_t)c + 1;

    argv ia = { 0 };
    arg(&ia, DNNL_ARG_SRC, xin);
    arg(&ia, DNNL_ARG_SCALE, gamma);
    arg(&ia, DNNL_ARG_SHIFT, beta);
    arg(&ia, DNNL_ARG_MEAN, rmean);
    arg(&ia, DNNL_ARG_VARIANCE, rvar);
    arg(&ia, DNNL_ARG_DST, C->t[y].mem);
    TRY(ftn_dnnl_push_prim(C, &C->fwd_infer, iprim, is, &ia));

    /* backward */
    steplist *bl = &C->bwd_op[o];
    int gy = grad_out(ex, C, o);
    TRY(ftn_dnnl_ensure_diff(ex, C, gy));
    DNNL_TRY(ex, C, dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, dst_md, md, FTN_BN_EPS, flags));
    TRY(ftn_dnnl_make_prim(ex, C, &bd, fpd, &bpd, &bprim, &bs));
    dnnl_memory_t dgamma, dbeta;
    TRY(ftn_dnnl_new_mem(ex, C, &vmd, grad_ptr(ex, op->weight), &dgamma));
    TRY(ftn_dnnl_new_mem(ex, C, &vmd, grad_ptr(ex, op->bias), &dbeta));
    gslot gs;
    TRY(ftn_dnnl_grad_begin(ex, C, o, 0, dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0), &gs));
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
    TRY(ftn_dnnl_push_prim(C, bl, bprim, bs, &b));
    s = ftn_dnnl_push(C, bl);
    if (!s) return oom(C);
    *s = (step){ .kind = STEP_BN_GROUP_DX, .op = o, .when = RUN_IN_GROUP, .nargs = 2,
                 .bng = { .sums = group, .mean = bm, .var = bv, .m_all = group + 5 * (size_t)c + 1,
                          .gamma = param_ptr(ex, op->weight), .dgamma = grad_ptr(ex, op->weight),
                          .dbeta = grad_ptr(ex, op->bias) } };
    s->args[0] = (dnnl_exec_arg_t){ DNNL_ARG_MULTIPLE_SRC, xin };
    s->args[1] = (dnnl_exec_arg_t){ DNNL_ARG_MULTIPLE_SRC + 1, gs.target };
    return ftn_dnnl_grad_end(ex, C, bl, &gs);
}


/* STEP_BN_RUNNING: r = m·r + (1 − m)·batch with m = ex->bn_momentum, the variance unbiased. */
void ftn_dnnl_bn_update_running(ftn_exec *ex, const step *s)
{
    const ftn_op *op = &ex->g->ops[s->op];
    ftn_shape sh = ex->g->tensors[op->in[0]].shape;
    double m = ex->comm ? *s->bn.m_all : (double)sh.n * sh.h * sh.w;
    float unbias = m > 1 ? (float)(m / (m - 1)) : 1.f;
    float *rm = param_ptr(ex, op->running_mean), *rv = param_ptr(ex, op->running_var);
    float mo = ex->bn_momentum;
    for (int c = 0; c < sh.c; c++) {
        rm[c] = mo * rm[c] + (1 - mo) * s->bn.mean[c];
        rv[c] = mo * rv[c] + (1 - mo) * s->bn.var[c] * unbias;
    }
}
