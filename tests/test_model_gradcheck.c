/*
 * Finite-difference checks through whole blocks on the reference engine: the attention gate as a
 * whole (both gating strides), and the paper's network with its deep-supervision FTL loss.
 * The per-layer checks are in test_layers_gradcheck.c; these catch wiring errors between layers
 * (a gradient not summed over fan-out, a concat order swapped, the wrong mask stride).
 * The whole network's gradients are compared with the oneDNN engine (test_engine_dnnl.c) and,
 * where PyTorch is installed, with an independent PyTorch implementation (tools/).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph.h"
#include "ftunet.h"
#include "losses/losses.h"
#include "model/model.h"
#include "networks/networks.h"
#include "testlib.h"

/* Σ r ⊙ outputs after a training forward. */
static double weighted_out(ftn_exec *ex, float *const *r)
{
    ex->vt->forward(ex, true);
    double s = 0;
    for (int k = 0; k < ex->g->n_outputs; k++) {
        size_t n = ftn_shape_count(ex->g->tensors[ex->g->outputs[k]].shape);
        for (size_t i = 0; i < n; i++) s += (double)r[k][i] * ex->outputs[k][i];
    }
    return s;
}

static int gate_graph(ftn_graph *g, int stride)
{
    int x = ftn_g_input(g, (ftn_shape){ 2, 3, 8, 8 });
    /* a gating signal at x's size/2 (stride 1) or /4 (stride 2), from x itself */
    int down = ftn_g_conv(g, "pre", x, 4, 2, 2, 0);
    if (stride == 2) down = ftn_g_maxpool2(g, down);
    int gate = ftn_gating_signal(g, "gating1", down);
    int y = ftn_attention_gate(g, "attn1", x, gate, 5);
    ftn_g_output(g, ftn_sigmoid_head(g, "head1", y));
    return g->error;
}

static void check_gate(int stride)
{
    ftn_graph g;
    ftn_graph_init(&g);
    CHECK(gate_graph(&g, stride) == FTN_OK, "%s", ftn_last_error());
    float *params = malloc(g.n_param_floats * 4), *grads = calloc(g.n_param_floats, 4);
    uint64_t s = 7 + stride;
    tl_fill_uniform(params, g.n_param_floats, &s, -0.5f, 0.5f);
    for (int i = 0; i < g.n_params; i++) /* sane BN statistics */
        if (!g.params[i].trainable) for (size_t j = 0; j < g.params[i].count; j++) params[g.params[i].offset + j] = 1;
    ftn_exec *ex;
    CHECK_OK(ftn_exec_create(&g, params, grads, FTN_ENGINE_REF, &ex));
    size_t nin = ftn_shape_count(g.tensors[g.input].shape);
    tl_fill_uniform(ex->input, nin, &s, -1, 1);
    size_t nout = ftn_shape_count(g.tensors[g.outputs[0]].shape);
    tl_fill_uniform(ex->d_outputs[0], nout, &s, -1, 1);
    float *r[1] = { ex->d_outputs[0] };
    weighted_out(ex, r);
    ex->vt->backward(ex);
    double worst = 0;
    for (int p = 0; p < g.n_params; p++) {
        if (!g.params[p].trainable) continue;
        for (size_t j = 0; j < g.params[p].count; j += 1 + g.params[p].count / 6) {
            float *w = params + g.params[p].offset + j, keep = *w;
            const float h = 1e-3f;
            *w = keep + h; double lp = weighted_out(ex, r);
            *w = keep - h; double lm = weighted_out(ex, r);
            *w = keep;
            double num = (lp - lm) / (2 * h), ana = grads[g.params[p].offset + j];
            double err = fabs(num - ana) / (fabs(ana) + 2e-2);
            if (err > worst) worst = err;
            if (err > 0.05) fprintf(stderr, "gate s%d %s[%zu]: numeric %g analytic %g\n", stride, g.params[p].name, j, num, ana);
        }
    }
    CHECK(worst < 0.05, "attention gate (stride %d): worst relative error %g", stride, worst);
    ftn_exec_free(ex);
    free(params);
    free(grads);
    ftn_graph_free(&g);
}

/* The deep-supervision loss as wired by ftn_session_loss: d loss / d out_k for every element of
 * every output, against central differences on the outputs themselves. This is what checks
 * the mask strides (out1 against mask[::8, ::8], …) and FTL-on-the-sides / TL-on-the-last. */
static void check_deep_supervision_loss(ftn_loss_kind kind)
{
    ftn_model *m;
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, 16, 16, &m));
    ftn_model_init(m, 5);
    ftn_session *s;
    CHECK_OK(ftn_session_create(m, 2, FTN_ENGINE_REF, &s));
    float x[2 * 256], mask[2 * 256];
    uint64_t st = 13;
    tl_fill_uniform(x, 512, &st, 0, 1);
    for (int i = 0; i < 512; i++) mask[i] = tl_uniform(&st, 0, 1) < 0.4f;
    ftn_loss_config c = ftn_loss_default(kind);
    CHECK_OK(ftn_session_forward(s, x, 1));
    float l0;
    CHECK_OK(ftn_session_loss(s, mask, &c, &l0));
    ftn_exec *ex = s->exec;
    /* The wiring, by value: out1..out3 against mask[::8,::8], [::4,::4], [::2,::2], out4 against
     * the mask; FTL on the side outputs and TL on the last when the loss is FTL. */
    double want = 0;
    for (int k = 0; k < 4; k++) {
        int stride = 8 >> k, side = 16 / stride;
        float sub[2 * 256];
        for (int i = 0; i < 2; i++)
            for (int y = 0; y < side; y++)
                for (int xx = 0; xx < side; xx++)
                    sub[(i * side + y) * side + xx] = mask[(i * 16 + y * stride) * 16 + xx * stride];
        ftn_loss_kind lk = kind == FTN_LOSS_FOCAL_TVERSKY && k < 3 ? FTN_LOSS_FOCAL_TVERSKY
                         : kind == FTN_LOSS_FOCAL_TVERSKY ? FTN_LOSS_TVERSKY : kind;
        float scratch[2 * 256];
        want += ftn_loss_eval(lk, &c, ex->outputs[k], sub, 2, (size_t)side * side, scratch);
    }
    CHECK(fabs(want - l0) < 1e-5 * fabs(want), "deep supervision (%s): loss %g, by hand %g", ftn_loss_name(kind), l0, want);
    double worst = 0;
    for (int k = 0; k < 4; k++) {
        size_t n = ftn_shape_count(s->graph.tensors[s->graph.outputs[k]].shape);
        float *ana = malloc(n * 4);
        memcpy(ana, ex->d_outputs[k], n * 4);
        for (size_t i = 0; i < n; i++) {
            float keep = ex->outputs[k][i], lp, lm;
            const float h = 1e-3f;
            ex->outputs[k][i] = keep + h; ftn_session_loss(s, mask, &c, &lp);
            ex->outputs[k][i] = keep - h; ftn_session_loss(s, mask, &c, &lm);
            ex->outputs[k][i] = keep;
            double num = ((double)lp - lm) / (2 * h);
            double err = fabs(num - ana[i]) / (fabs(ana[i]) + 1e-3);
            if (err > worst) worst = err;
        }
        free(ana);
    }
    /* float32 loss values: differences of ~1e-6 are resolved to ~1 %. */
    CHECK(worst < 0.05, "deep supervision (%s): worst relative error %g", ftn_loss_name(kind), worst);
    ftn_session_free(s);
    ftn_model_free(m);
}

int main(void)
{
    check_gate(1);
    check_gate(2);
    check_deep_supervision_loss(FTN_LOSS_FOCAL_TVERSKY);
    check_deep_supervision_loss(FTN_LOSS_DICE);
    return tl_finish();
}
