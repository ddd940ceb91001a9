/*
 * Concatenation along channels.
 *
 * A ReLU whose output only a concat reads writes it straight into its channel slice of the
 * concat's output, and its backward reads its slice of the concat's gradient (relu_into_cat, a
 * plain loop, rows.c: oneDNN 2.6 runs any primitive whose source or destination is a slice of
 * a larger tensor on its reference kernel). The concat then copies only its other inputs. In
 * attn-unet-mi-ds that is the ReLUs after up1..up4 and pyramid2..4 (the pyramid convolutions
 * lose their fused ReLU for it); the attention gates' BN outputs, enc1 and the max poolings are
 * still copied. ex->opts.cat_in_place off (or ex->opts.fuse off) turns it off.
 */
#include "engine/dnnl/internal.h"

/* A ReLU output that only one concat reads, once, at a channel offset that is a multiple of 8
 * (relu_into_cat checks the layout's block size against every input) is written by the ReLU
 * straight into the concat's output: the concat copies only its other inputs. The ReLU is then
 * never fused into its producer (a oneDNN primitive given a slice of a larger tensor runs its
 * reference kernel), even where relu_into_cat ends up declining: it runs as a separate pass. */
void ftn_dnnl_plan_cat_in_place(const ftn_exec *ex, impl *C)
{
    const ftn_graph *g = ex->g;
    if (!(ex->opts.fuse && ex->opts.cat_in_place)) return; /* cat_in_place needs fusion on */
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

/* The ReLU writes relu(x) into its slice of the concat's output, whose memory it creates if it
 * is the concat's first such input (in x's layout); its backward reads the slice and the
 * slice of the concat's gradient. Not done (*done false) when x's layout is not one row_view
 * walks, or is not the concat's, or its block does not divide every input of the concat. */
ftn_status ftn_dnnl_relu_into_cat(ftn_exec *ex, impl *C, int o, bool *done)
{
    const ftn_graph *g = ex->g;
    int x = g->ops[o].in[0], y = g->ops[o].out, cat = C->t[y].cat_op, z = g->ops[cat].out;
    ftn_shape sy = g->tensors[y].shape;
    rowview xv, zv, yv;
    *done = false;
    if (!ftn_dnnl_row_view(&C->t[x].md, &xv)) return FTN_OK;
    for (int i = 0; i < g->ops[cat].n_in; i++) /* every slice whole blocks: no padding, no partial block */
        if (g->tensors[g->ops[cat].in[i]].shape.c % xv.block) return FTN_OK;
    if (C->t[z].has_md && (!ftn_dnnl_row_view(&C->t[z].md, &zv) || zv.tag != xv.tag)) return FTN_OK;
    if (!C->t[z].has_md) {
        dnnl_memory_desc_t zmd;
        TRY(ftn_dnnl_md_nchw(ex, C, &zmd, g->tensors[z].shape, xv.tag));
        TRY(ftn_dnnl_set_tensor(ex, C, z, &zmd, NULL));
    }
    dnnl_dims_t dims = { sy.n, sy.c, sy.h, sy.w }, offs = { 0, C->t[y].cat_c0, 0, 0 };
    dnnl_memory_desc_t sub;
    DNNL_TRY(ex, C, dnnl_memory_desc_init_submemory(&sub, &C->t[z].md, dims, offs));
    if (!ftn_dnnl_row_view(&sub, &yv) || yv.tag != xv.tag || yv.n_rows != xv.n_rows || yv.len != xv.len)
        return ftn_fail(FTN_EINTERNAL, "oneDNN engine: op %d: the concat's slice is not laid out as its input", o);
    C->t[y].md = sub;
    C->t[y].has_md = true;
    TRY(ftn_dnnl_bound_mem(ex, C, &sub, C->t[z].vb, &C->t[y].mem));

    for (int l = 0; l < 2; l++)
        TRY(ftn_dnnl_push_rows(C, l ? &C->fwd_infer : &C->fwd_train, STEP_ROWS_RELU, sy.n, (rowview[]){ xv, yv },
                               (dnnl_memory_t[]){ C->t[x].mem, C->t[y].mem }, 2));
    ex->n_cat_in_place++;
    *done = true;
    if (!C->t[y].needs_grad) return FTN_OK;

    TRY(ftn_dnnl_ensure_diff(ex, C, z));
    TRY(ftn_dnnl_diff_view(ex, C, &sub, z, &C->t[y].dmem));
    C->t[y].dvb = C->t[z].dvb;
    steplist *bl = &C->bwd_op[o];
    gslot gs;
    TRY(ftn_dnnl_grad_begin(ex, C, o, 0, &C->t[x].md, &gs)); /* the target has x's layout */
    TRY(ftn_dnnl_push_rows(C, bl, STEP_ROWS_RELU_BWD, sy.n, (rowview[]){ yv, yv, xv },
                           (dnnl_memory_t[]){ C->t[y].mem, C->t[y].dmem, gs.target }, 3));
    return ftn_dnnl_grad_end(ex, C, bl, &gs);
}

ftn_status ftn_dnnl_compile_concat(ftn_exec *ex, impl *C, int o)
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
                DNNL_TRY(ex, C, dnnl_memory_desc_init_submemory(&sub, ymd, dims, offs));
                TRY(ftn_dnnl_bound_mem(ex, C, &sub, C->t[y].vb, &ysub));
                TRY(ftn_dnnl_copy_rows(ex, C, C->t[xi].mem, ysub, &C->fwd_train, &C->fwd_infer));
            }
            off += s.c;
        }
    } else {
        dnnl_memory_desc_t srcs[FTN_MAX_OP_INPUTS], dst_any;
        for (int i = 0; i < op->n_in; i++) srcs[i] = C->t[op->in[i]].md;
        TRY(ftn_dnnl_md_nchw(ex, C, &dst_any, g->tensors[y].shape, dnnl_format_tag_any));
        dnnl_primitive_desc_t pd;
        dnnl_primitive_t prim;
        dnnl_memory_t sc;
        DNNL_TRY(ex, C, dnnl_concat_primitive_desc_create(&pd, &dst_any, op->n_in, 1, srcs, C->attr, C->eng));
        TRY(ftn_dnnl_make_prim(ex, C, NULL, NULL, &pd, &prim, &sc));
        ymd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        TRY(ftn_dnnl_set_tensor(ex, C, y, ymd, NULL));
        argv a = { 0 };
        for (int i = 0; i < op->n_in; i++) arg(&a, DNNL_ARG_MULTIPLE_SRC + i, C->t[op->in[i]].mem);
        arg(&a, DNNL_ARG_DST, C->t[y].mem);
        TRY(ftn_dnnl_push_both(C, prim, sc, &a));
    }
    if (!C->t[y].needs_grad) return FTN_OK;

    TRY(ftn_dnnl_ensure_diff(ex, C, y));
    steplist *bl = &C->bwd_op[o];
    int off = 0;
    for (int i = 0; i < op->n_in; i++) {
        int xi = op->in[i];
        ftn_shape s = g->tensors[xi].shape;
        if (C->t[xi].cat_op == o) { off += s.c; continue; } /* its ReLU reads our gradient's slice */
        dnnl_dims_t dims = { s.n, s.c, s.h, s.w }, offs = { 0, off, 0, 0 };
        dnnl_memory_desc_t sub;
        DNNL_TRY(ex, C, dnnl_memory_desc_init_submemory(&sub, ymd, dims, offs));
        if (C->t[xi].bwcopy) {
            dnnl_memory_t ysub;
            TRY(ftn_dnnl_bound_mem(ex, C, &sub, C->t[y].vb, &ysub));
            TRY(ftn_dnnl_copy_rows(ex, C, ysub, C->t[xi].bwcopy, bl, NULL));
        }
        if (C->t[xi].needs_grad) {
            dnnl_memory_t subm;
            TRY(ftn_dnnl_diff_view(ex, C, &sub, y, &subm));
            gslot gs;
            TRY(ftn_dnnl_grad_begin(ex, C, o, i, &C->t[xi].md, &gs));
            TRY(ftn_dnnl_copy_rows(ex, C, subm, gs.target, bl, NULL));
            TRY(ftn_dnnl_grad_end(ex, C, bl, &gs));
        }
        off += s.c;
    }
    return FTN_OK;
}

