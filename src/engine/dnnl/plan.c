/*
 * Planning, before any primitive is created: which tensors need a gradient, which ops fuse,
 * which ReLUs write into their concat (concatenation.c), and which gradient contribution to each
 * tensor comes first (grad.c).
 *
 * Fusions: conv → ReLU and conv → sigmoid (eltwise post-op, convolution.c; the activation's
 * backward still runs on the shared output), BN → ReLU (dnnl_fuse_norm_relu, bn.c, whose
 * backward absorbs the ReLU's). Only when the pre-activation tensor has no other reader and is
 * not a network output. The sigmoids are the 1-channel heads and attention maps: padded to a
 * channel block, oneDNN 2.6 runs a standalone sigmoid on them on its reference kernel.
 * ex->opts.fuse off turns them off (for testing).
 */
#include "engine/dnnl/internal.h"

ftn_status ftn_dnnl_plan(ftn_exec *ex, impl *C)
{
    const ftn_graph *g = ex->g;
    bool fuse_ok = ex->opts.fuse;
    ftn_dnnl_plan_cat_in_place(ex, C);
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
