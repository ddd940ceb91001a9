/*
 * The reference engine: runs a graph op by op with the plain-C layers of src/layers, every
 * tensor NCHW in one arena. Slow and obvious on purpose: it is the oracle the oneDNN engine is
 * tested against, and the FTUNET_ENGINE=ref fallback.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "engine/graph.h"
#include "layers/layers.h"

typedef struct ref_state {
    float *arena;
    float **act;   /* per tensor: its values */
    float **diff;  /* per tensor: d loss / d tensor (NULL for the input) */
    float **bn_mean, **bn_var; /* per op: batch statistics saved by a training forward */
    size_t diff_floats;
    float *diff_base;
    double *group_sums, *group_m; /* with a comm: BN sums (2·C + 1), and per op the group's count */
} ref_state;

static void ref_destroy(ftn_exec *ex)
{
    ref_state *st = ex->impl;
    if (!st) return;
    free(st->arena);
    free(st->act);
    free(st->diff);
    free(st->bn_mean);
    free(st->bn_var);
    free(st->group_sums);
    free(st->group_m);
    free(st);
    ex->impl = NULL;
}

static ftn_status ref_compile(ftn_exec *ex)
{
    const ftn_graph *g = ex->g;
    ref_state *st = calloc(1, sizeof *st);
    if (!st) return ftn_fail(FTN_ENOMEM, "reference engine: out of memory");
    ex->impl = st;
    st->act = calloc((size_t)g->n_tensors, sizeof(float *));
    st->diff = calloc((size_t)g->n_tensors, sizeof(float *));
    st->bn_mean = calloc((size_t)g->n_ops, sizeof(float *));
    st->bn_var = calloc((size_t)g->n_ops, sizeof(float *));
    int max_c = 0;
    for (int i = 0; i < g->n_ops; i++)
        if (g->ops[i].kind == FTN_OP_BN && g->tensors[g->ops[i].out].shape.c > max_c) max_c = g->tensors[g->ops[i].out].shape.c;
    st->group_sums = calloc(2 * (size_t)max_c + 1, sizeof(double));
    st->group_m = calloc((size_t)g->n_ops + 1, sizeof(double));
    if (!st->act || !st->diff || !st->bn_mean || !st->bn_var || !st->group_sums || !st->group_m)
        return ftn_fail(FTN_ENOMEM, "reference engine: out of memory");

    /* Plan the arena: activations, then gradients (zeroed as one block each backward), then
     * BN statistics. */
    size_t act = 0, diff = 0, stats = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        size_t n = ftn_shape_count(g->tensors[t].shape);
        if (t != g->input) { act += n; diff += n; }
    }
    for (int i = 0; i < g->n_ops; i++)
        if (g->ops[i].kind == FTN_OP_BN) stats += 2 * (size_t)g->tensors[g->ops[i].out].shape.c;
    st->arena = calloc(act + diff + stats, sizeof(float));
    if (!st->arena) return ftn_fail(FTN_ENOMEM, "reference engine: out of memory for %zu activations", act + diff);
    float *a = st->arena, *d = st->arena + act, *s = st->arena + act + diff;
    st->diff_base = d;
    st->diff_floats = diff;
    for (int t = 0; t < g->n_tensors; t++) {
        size_t n = ftn_shape_count(g->tensors[t].shape);
        if (t == g->input) { st->act[t] = ex->input; continue; }
        st->act[t] = a; a += n;
        st->diff[t] = d; d += n;
    }
    for (int i = 0; i < g->n_ops; i++) {
        if (g->ops[i].kind != FTN_OP_BN) continue;
        int c = g->tensors[g->ops[i].out].shape.c;
        st->bn_mean[i] = s; s += c;
        st->bn_var[i] = s; s += c;
    }
    return FTN_OK;
}

static float *P(const ftn_exec *ex, int param) { return ex->params + ex->g->params[param].offset; }
static float *G(const ftn_exec *ex, int param) { return ex->grads + ex->g->params[param].offset; }

static ftn_status ref_forward(ftn_exec *ex, bool training)
{
    const ftn_graph *g = ex->g;
    ref_state *st = ex->impl;
    for (int i = 0; i < g->n_ops; i++) {
        const ftn_op *op = &g->ops[i];
        ftn_shape is = g->tensors[op->in[0]].shape, os = g->tensors[op->out].shape;
        const float *x = st->act[op->in[0]];
        float *y = st->act[op->out];
        switch (op->kind) {
        case FTN_OP_CONV:
            ftn_conv2d_forward(x, is.n, is.c, is.h, is.w, P(ex, op->weight), P(ex, op->bias), os.c, op->k,
                           op->stride, op->pad, y, os.h, os.w);
            break;
        case FTN_OP_DECONV:
            ftn_deconv2d_forward(x, is.n, is.c, is.h, is.w, P(ex, op->weight), P(ex, op->bias), os.c, op->k,
                             op->stride, op->pad, y, os.h, os.w);
            break;
        case FTN_OP_BN:
            if (training && ex->comm) { /* the group's statistics */
                int hw = is.h * is.w;
                double *mu = st->group_sums, *sq = st->group_sums + is.c + 1;
                ftn_batchnorm_sums(x, is.n, is.c, hw, mu);
                FTN_TRY(ftn_bn_group_mean(ex, mu, is.c, (double)is.n * hw, &st->group_m[i]));
                ftn_batchnorm_sq_dev(x, is.n, is.c, hw, mu, sq);
                FTN_TRY(ftn_bn_group_var(ex, sq, is.c, st->group_m[i]));
                for (int ch = 0; ch < is.c; ch++) { st->bn_mean[i][ch] = (float)mu[ch]; st->bn_var[i][ch] = (float)sq[ch]; }
                ftn_batchnorm_forward_given(x, is.n, is.c, hw, P(ex, op->weight), P(ex, op->bias), mu, sq, FTN_BN_EPS, y);
                ftn_batchnorm_update_running(st->bn_mean[i], st->bn_var[i], is.c, (size_t)st->group_m[i], ex->bn_momentum,
                                             P(ex, op->running_mean), P(ex, op->running_var));
            } else if (training) {
                ftn_batchnorm_forward_train(x, is.n, is.c, is.h * is.w, P(ex, op->weight), P(ex, op->bias),
                                        FTN_BN_EPS, y, st->bn_mean[i], st->bn_var[i]);
                ftn_batchnorm_update_running(st->bn_mean[i], st->bn_var[i], is.c, (size_t)is.n * is.h * is.w,
                                         ex->bn_momentum, P(ex, op->running_mean), P(ex, op->running_var));
            } else {
                ftn_batchnorm_forward_infer(x, is.n, is.c, is.h * is.w, P(ex, op->weight), P(ex, op->bias),
                                        P(ex, op->running_mean), P(ex, op->running_var), FTN_BN_EPS, y);
            }
            break;
        case FTN_OP_RELU: ftn_relu_forward(x, ftn_shape_count(os), y); break;
        case FTN_OP_SIGMOID: ftn_sigmoid_forward(x, ftn_shape_count(os), y); break;
        case FTN_OP_MAXPOOL2: ftn_maxpool2_forward(x, is.n, is.c, is.h, is.w, y); break;
        case FTN_OP_AVGPOOL2: ftn_avgpool2_forward(x, is.n, is.c, is.h, is.w, y); break;
        case FTN_OP_UP2X: ftn_up2x_forward(x, is.n, is.c, is.h, is.w, y); break;
        case FTN_OP_ADD: ftn_add_forward(x, st->act[op->in[1]], ftn_shape_count(os), y); break;
        case FTN_OP_MUL: ftn_mul_bcast_forward(x, st->act[op->in[1]], is.n, is.c, is.h * is.w, y); break;
        case FTN_OP_CONCAT: {
            const float *xs[FTN_MAX_OP_INPUTS];
            int cs[FTN_MAX_OP_INPUTS];
            for (int j = 0; j < op->n_in; j++) { xs[j] = st->act[op->in[j]]; cs[j] = g->tensors[op->in[j]].shape.c; }
            ftn_concat_forward(xs, cs, op->n_in, os.n, os.h * os.w, y);
            break;
        }
        default: return ftn_fail(FTN_EINTERNAL, "reference engine: op %d (%s) has unknown kind", i, op->label);
        }
    }
    for (int k = 0; k < g->n_outputs; k++)
        memcpy(ex->outputs[k], st->act[g->outputs[k]], ftn_shape_count(g->tensors[g->outputs[k]].shape) * sizeof(float));
    return FTN_OK;
}

static ftn_status ref_backward(ftn_exec *ex)
{
    const ftn_graph *g = ex->g;
    ref_state *st = ex->impl;
    memset(st->diff_base, 0, st->diff_floats * sizeof(float));
    for (int p = 0; p < g->n_params; p++)
        if (g->params[p].trainable) memset(G(ex, p), 0, g->params[p].count * sizeof(float));
    for (int k = 0; k < g->n_outputs; k++)
        memcpy(st->diff[g->outputs[k]], ex->d_outputs[k], ftn_shape_count(g->tensors[g->outputs[k]].shape) * sizeof(float));

    ftn_grad_sync_begin(ex);
    for (int i = g->n_ops - 1; i >= 0; i--) {
        const ftn_op *op = &g->ops[i];
        ftn_shape is = g->tensors[op->in[0]].shape, os = g->tensors[op->out].shape;
        const float *x = st->act[op->in[0]], *y = st->act[op->out], *dy = st->diff[op->out];
        float *dx = st->diff[op->in[0]]; /* NULL for the network input */
        switch (op->kind) {
        case FTN_OP_CONV:
            ftn_conv2d_backward(x, P(ex, op->weight), dy, is.n, is.c, is.h, is.w, os.c, op->k, op->stride, op->pad,
                            os.h, os.w, dx, G(ex, op->weight), G(ex, op->bias));
            break;
        case FTN_OP_DECONV:
            ftn_deconv2d_backward(x, P(ex, op->weight), dy, is.n, is.c, is.h, is.w, os.c, op->k, op->stride, op->pad,
                              os.h, os.w, dx, G(ex, op->weight), G(ex, op->bias));
            break;
        case FTN_OP_BN:
            if (ex->comm) { /* this part's dγ, dβ; dx from the group's */
                int hw = is.h * is.w;
                double *sums = st->group_sums;
                ftn_batchnorm_backward_sums(x, dy, is.n, is.c, hw, st->bn_mean[i], st->bn_var[i], FTN_BN_EPS, sums);
                float *dg = G(ex, op->weight), *db = G(ex, op->bias);
                for (int ch = 0; ch < is.c; ch++) { db[ch] += (float)sums[ch]; dg[ch] += (float)sums[is.c + ch]; }
                FTN_TRY(ftn_bn_group_grad_sums(ex, sums, is.c));
                if (dx)
                    ftn_batchnorm_backward_given(x, dy, is.n, is.c, hw, P(ex, op->weight), st->bn_mean[i], st->bn_var[i],
                                                 FTN_BN_EPS, sums, st->group_m[i], dx);
                break;
            }
            ftn_batchnorm_backward(x, dy, is.n, is.c, is.h * is.w, P(ex, op->weight), st->bn_mean[i], st->bn_var[i],
                               FTN_BN_EPS, dx, G(ex, op->weight), G(ex, op->bias));
            break;
        case FTN_OP_RELU: ftn_relu_backward(y, dy, ftn_shape_count(os), dx); break;
        case FTN_OP_SIGMOID: ftn_sigmoid_backward(y, dy, ftn_shape_count(os), dx); break;
        case FTN_OP_MAXPOOL2: ftn_maxpool2_backward(x, dy, is.n, is.c, is.h, is.w, dx); break;
        case FTN_OP_AVGPOOL2: ftn_avgpool2_backward(dy, is.n, is.c, is.h, is.w, dx); break;
        case FTN_OP_UP2X: ftn_up2x_backward(dy, is.n, is.c, is.h, is.w, dx); break;
        case FTN_OP_ADD: ftn_add_backward(dy, ftn_shape_count(os), dx, st->diff[op->in[1]]); break;
        case FTN_OP_MUL:
            ftn_mul_bcast_backward(x, st->act[op->in[1]], dy, is.n, is.c, is.h * is.w, dx, st->diff[op->in[1]]);
            break;
        case FTN_OP_CONCAT: {
            float *dxs[FTN_MAX_OP_INPUTS];
            int cs[FTN_MAX_OP_INPUTS];
            for (int j = 0; j < op->n_in; j++) { dxs[j] = st->diff[op->in[j]]; cs[j] = g->tensors[op->in[j]].shape.c; }
            ftn_concat_backward(dy, cs, op->n_in, os.n, os.h * os.w, dxs);
            break;
        }
        default: return ftn_fail(FTN_EINTERNAL, "reference engine: op %d (%s) has unknown kind", i, op->label);
        }
        FTN_TRY(ftn_grad_sync_op_done(ex, i));
    }
    return ftn_grad_sync_end(ex);
}

const ftn_engine_vtable ftn_ref_engine = { ref_compile, ref_forward, ref_backward, ref_destroy, NULL };
