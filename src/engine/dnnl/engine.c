/*
 * The oneDNN engine (C API, oneDNN 2.6): the vtable ftn_dnnl_engine.
 *
 * - compile() turns the graph into three flat lists of steps (training forward, inference
 *   forward, backward per op); forward()/backward() only walk a list and execute. Every
 *   primitive descriptor, primitive, memory object and buffer is created in compile, once per
 *   graph (see internal.h for which file compiles what).
 * - Formats: convolutions and deconvolutions choose their source/destination formats
 *   (dnnl_format_tag_any; nChw16c on AVX-512). Every other primitive is created on its
 *   producer's memory descriptor, so activations stay in the producer's (blocked) format from
 *   layer to layer. Where a primitive wants its input in another format than the producer
 *   wrote (e.g. a convolution reading a concat that chose another layout) a per-input
 *   converted copy is kept, and its gradient is reordered back (grad.c). Reorders to/from NCHW
 *   happen only at the boundary: ex->input is read in place (plain NCHW), outputs and output
 *   gradients are reordered.
 * - What the engine may optimise is ex->opts (fusions, concat in place, deconvolution phases);
 *   it reads nothing from the environment.
 */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dnnl/internal.h"

static void free_impl(impl *C)
{
    if (!C) return;
    for (int i = 0; i < C->n_prims; i++) dnnl_primitive_destroy(C->prims[i]);
    for (int i = 0; i < C->n_pds; i++) dnnl_primitive_desc_destroy(C->pds[i]);
    for (int i = 0; i < C->n_mems; i++) dnnl_memory_destroy(C->mems[i]);
    for (int i = 0; i < C->n_bufs; i++) free(C->bufs[i]);
    ftn_dnnl_arena_release(C->arena);
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

/* The boundary's input, every op in order, the boundary's outputs, then the pool. */
static ftn_status compile_all(ftn_exec *ex, impl *C)
{
    const ftn_graph *g = ex->g;
    C->cur_op = -1;
    C->dt = ex->precision == FTN_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
    if (C->dt == dnnl_bf16) TRY(ftn_dnnl_bf16_check());
    DNNL_TRY(ex, C, dnnl_engine_create(&C->eng, dnnl_cpu, 0));
    DNNL_TRY(ex, C, dnnl_stream_create(&C->stream, C->eng, dnnl_stream_default_flags));
    DNNL_TRY(ex, C, dnnl_primitive_attr_create(&C->attr));
    DNNL_TRY(ex, C, dnnl_primitive_attr_set_scratchpad_mode(C->attr, dnnl_scratchpad_mode_user));
    TRY(ftn_dnnl_plan(ex, C));

    /* the network input, read in place */
    dnnl_memory_desc_t md;
    TRY(ftn_dnnl_md_nchw_f32(ex, C, &md, g->tensors[g->input].shape, dnnl_nchw));
    if (C->dt == dnnl_f32) {
        C->t[g->input].md = md;
        C->t[g->input].has_md = true;
        TRY(ftn_dnnl_new_mem(ex, C, &md, ex->input, &C->t[g->input].mem));
    } else { /* converted at the boundary */
        dnnl_memory_t user;
        dnnl_memory_desc_t lmd;
        TRY(ftn_dnnl_new_mem(ex, C, &md, ex->input, &user));
        TRY(ftn_dnnl_md_nchw(ex, C, &lmd, g->tensors[g->input].shape, dnnl_nchw));
        TRY(ftn_dnnl_set_tensor(ex, C, g->input, &lmd, NULL));
        TRY(ftn_dnnl_reorder(ex, C, user, C->t[g->input].mem, &C->fwd_train, &C->fwd_infer));
    }

    for (int o = 0; o < g->n_ops; o++) {
        C->cur_op = o;
        const ftn_op *op = &g->ops[o];
        for (int i = 0; i < op->n_in; i++)
            if (!C->t[op->in[i]].has_md)
                return ftn_fail(FTN_EINTERNAL, "oneDNN engine: op %d reads a tensor not yet produced", o);
        switch (op->kind) {
        case FTN_OP_CONV:
        case FTN_OP_DECONV: TRY(ftn_dnnl_compile_conv(ex, C, o)); break;
        case FTN_OP_BN: TRY(ftn_dnnl_compile_bn(ex, C, o)); break;
        case FTN_OP_RELU:
        case FTN_OP_SIGMOID: TRY(ftn_dnnl_compile_eltwise(ex, C, o)); break;
        case FTN_OP_MAXPOOL2:
        case FTN_OP_AVGPOOL2:
        case FTN_OP_UP2X: TRY(ftn_dnnl_compile_pool_up(ex, C, o)); break;
        case FTN_OP_ADD:
        case FTN_OP_MUL: TRY(ftn_dnnl_compile_binary(ex, C, o)); break;
        case FTN_OP_CONCAT: TRY(ftn_dnnl_compile_concat(ex, C, o)); break;
        default: return ftn_fail(FTN_EUNSUPPORTED, "oneDNN engine: op %d has unknown kind %d", o, (int)op->kind);
        }
    }

    /* boundary: outputs to NCHW after forward; output gradients in before backward */
    C->cur_op = -1;
    for (int k = 0; k < g->n_outputs; k++) {
        int t = g->outputs[k];
        dnnl_memory_t user, duser;
        TRY(ftn_dnnl_md_nchw_f32(ex, C, &md, g->tensors[t].shape, dnnl_nchw));
        TRY(ftn_dnnl_new_mem(ex, C, &md, ex->outputs[k], &user));
        TRY(ftn_dnnl_reorder(ex, C, C->t[t].mem, user, &C->fwd_train, &C->fwd_infer));
        if (C->t[t].needs_grad) {
            TRY(ftn_dnnl_ensure_diff(ex, C, t));
            TRY(ftn_dnnl_new_mem(ex, C, &md, ex->d_outputs[k], &duser));
            TRY(ftn_dnnl_reorder(ex, C, duser, C->t[t].dmem, &C->bwd_head, NULL));
        }
    }
    /* gradients that nothing writes (a dead-end tensor) are zero */
    for (int t = 0; t < g->n_tensors; t++) {
        tens *T = &C->t[t];
        if (T->needs_grad && !T->seen && T->dmem) {
            step *s = ftn_dnnl_push(C, &C->bwd_head);
            if (!s) return oom(C);
            s->kind = STEP_ZERO;
            s->nargs = 1;
            s->args[0] = (dnnl_exec_arg_t){ 0, T->dmem };
            s->zero.bytes = dnnl_memory_desc_get_size(&T->md);
        }
    }
    return ftn_dnnl_assign_pool(C);
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

/* ---- running ---------------------------------------------------------------------------------- */

static ftn_status run_step(ftn_exec *ex, impl *C, const step *s)
{
    if (s->when != RUN_ALWAYS && (s->when == RUN_IN_GROUP) != (ex->comm != NULL)) return FTN_OK;
    switch (s->kind) {
    case STEP_PRIM: {
        dnnl_status_t st = dnnl_primitive_execute(s->prim.prim, C->stream, s->nargs, s->args);
        return st == dnnl_success ? FTN_OK : ftn_dnnl_fail(ex, s->op, "execute", st);
    }
    case STEP_BN_RUNNING: ftn_dnnl_bn_update_running(ex, s); return FTN_OK;
    case STEP_BN_GROUP_STATS: return ftn_dnnl_bn_group_stats(ex, s);
    case STEP_BN_GROUP_DX: return ftn_dnnl_bn_group_dx(ex, s);
    case STEP_PHASE_WEIGHTS: ftn_dnnl_phase_weights(s); return FTN_OK;
    case STEP_ROWS_RELU:
    case STEP_ROWS_RELU_BWD:
    case STEP_ROWS_COPY: return ftn_dnnl_run_rows(ex, s);
    case STEP_CHANDOT: return ftn_dnnl_run_chandot(ex, s);
    case STEP_ZERO: {
        void *h;
        dnnl_status_t st = dnnl_memory_get_data_handle(s->args[0].memory, &h);
        if (st != dnnl_success) return ftn_dnnl_fail(ex, s->op, "zero", st);
        memset(h, 0, s->zero.bytes);
        return FTN_OK;
    }
    }
    return ftn_fail(FTN_EINTERNAL, "oneDNN engine: op %d: unknown step kind %d", s->op, (int)s->kind);
}

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
        if (st != dnnl_success) return ftn_dnnl_fail(ex, s->op, "stream wait", st);
        ftn_exec_profile_add(ex, pass, s->op, omp_get_wtime() - t0);
    }
    return FTN_OK;
}

static ftn_status eng_forward(ftn_exec *ex, bool training)
{
    impl *C = ex->impl;
    if (!C) return ftn_fail(FTN_EINVAL, "oneDNN engine: not compiled");
    TRY(ftn_dnnl_bind_pool(ex, C));
    C->arena->last = ex;
    TRY(run(ex, C, training ? &C->fwd_train : &C->fwd_infer, 0));
    dnnl_status_t st = dnnl_stream_wait(C->stream);
    return st == dnnl_success ? FTN_OK : ftn_dnnl_fail(ex, -1, "stream wait", st);
}

static ftn_status eng_backward(ftn_exec *ex)
{
    impl *C = ex->impl;
    if (!C) return ftn_fail(FTN_EINVAL, "oneDNN engine: not compiled");
    if (C->arena->last != ex || C->bound != C->arena->p)
        return ftn_fail(FTN_EINVAL, "oneDNN engine: a session sharing this one's working memory ran between its "
                        "forward and backward");
    TRY(run(ex, C, &C->bwd_head, 1));
    ftn_grad_sync_begin(ex);
    for (int o = C->n_ops - 1; o >= 0; o--) {
        TRY(run(ex, C, &C->bwd_op[o], 1));
        if (ex->comm) { /* op o's parameter gradients are final: they may be sent */
            dnnl_status_t st = dnnl_stream_wait(C->stream);
            if (st != dnnl_success) return ftn_dnnl_fail(ex, o, "stream wait", st);
            TRY(ftn_grad_sync_op_done(ex, o));
        }
    }
    dnnl_status_t st = dnnl_stream_wait(C->stream);
    if (st != dnnl_success) return ftn_dnnl_fail(ex, -1, "stream wait", st);
    return ftn_grad_sync_end(ex);
}

const ftn_engine_vtable ftn_dnnl_engine = { eng_compile, eng_forward, eng_backward, eng_destroy, ftn_dnnl_share };
