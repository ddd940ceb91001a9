/*
 * Stride-2 transposed convolutions with overlapping taps (3×3, 4×4) run forward as four
 * ordinary convolutions, one per output parity, each reordered into every other pixel of the
 * output (compile_phases: oneDNN's own deconvolution forward is slow for them); backward uses
 * the deconvolution primitives (convolution.c). ex->opts.deconv_phases off turns this off (for
 * testing and before/after timing).
 *
 * oneDNN 2.6 runs a stride-2 deconvolution forward at a fraction of the speed of an ordinary
 * convolution of the same arithmetic (up4 of attn-unet-mi-ds: 47 against 26 ms per batch of 16
 * on AVX-512, see README, Performance). With output index o = 2i − pad + k (PyTorch), the
 * outputs of one parity p (rows, and likewise columns) read only the taps k ≡ p + pad (mod 2),
 * at input offsets d = (p + pad − k)/2: an ordinary small convolution over the input. So the
 * forward runs four such convolutions (one per row and column parity) and reorders each into
 * every other pixel of the output.
 */
#include "engine/dnnl/internal.h"

/* The taps and padding of output parity p along one axis; false when they are not an ordinary
 * convolution's (no tap, more than two, or not contiguous). */
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

/* Whether op o (a deconvolution) runs as phases: stride 2 with overlapping taps (3×3, 4×4; a
 * 2×2 stride-2 one is a matrix product per pixel, which oneDNN's deconvolution runs well: unet's
 * upK, 17 % slower in inference as phases), output exactly twice the input. */
bool ftn_dnnl_phase_plan(const ftn_exec *ex, int o, phase_axis ax[2])
{
    const ftn_op *op = &ex->g->ops[o];
    ftn_shape si = ex->g->tensors[op->in[0]].shape, so = ex->g->tensors[op->out].shape;
    return ex->opts.deconv_phases && op->kind == FTN_OP_DECONV && op->stride == 2 && op->k > 2 && op->k <= 4 &&
           so.h == 2 * si.h && so.w == 2 * si.w && phase_axis_make(op->k, op->pad, 0, &ax[0]) &&
           phase_axis_make(op->k, op->pad, 1, &ax[1]);
}

/* Phase (py, px) of deconvolution weights w [ci][co][k][k] as a convolution kernel [co][ci][kh][kw],
 * the four phases one after another in dst. */
void ftn_dnnl_phase_weights(const step *s)
{
    int ci_n = s->phase.ci, co_n = s->phase.co, k = s->phase.k;
    float *dst = s->phase.dst;
    for (int ph = 0; ph < 4; ph++) {
        const phase_axis *ay = &s->phase.ax[ph >> 1], *ax = &s->phase.ax[ph & 1];
        for (int co = 0; co < co_n; co++)
            for (int ci = 0; ci < ci_n; ci++) {
                const float *w = s->phase.src + ((size_t)ci * co_n + co) * k * k;
                for (int t = 0; t < ay->n; t++)
                    for (int u = 0; u < ax->n; u++) *dst++ = w[ay->tap[t] * k + ax->tap[u]];
            }
    }
}

/* A view of every other pixel of md (parity py, px), or false when md's spatial dimensions are
 * blocked or it has padding (then the reorder would not cover it exactly). */
bool ftn_dnnl_phase_view(const dnnl_memory_desc_t *md, int py, int px, dnnl_memory_desc_t *v)
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
ftn_status ftn_dnnl_compile_phases(ftn_exec *ex, impl *C, int o, const phase_axis ax[2], const dnnl_memory_desc_t *src_md,
                                   dnnl_memory_t xin, const dnnl_memory_desc_t *b_md, dnnl_memory_t bmem)
{
    const ftn_op *op = &ex->g->ops[o];
    int y = op->out;
    ftn_shape si = ex->g->tensors[op->in[0]].shape, so = ex->g->tensors[y].shape;
    int taps = (ax[0].n + ax[1].n) * (ax[0].n + ax[1].n); /* Σ over the four phases of kh·kw */
    float *wk = ftn_dnnl_new_buf(C, sizeof(float) * (size_t)so.c * si.c * taps);
    if (!wk) return oom(C);
    step *s = ftn_dnnl_push(C, &C->fwd_train);
    if (!s) return oom(C);
    *s = (step){ .kind = STEP_PHASE_WEIGHTS, .op = o,
                 .phase = { .src = param_ptr(ex, op->weight), .dst = wk, .ci = si.c, .co = so.c, .k = op->k,
                            .ax = { ax[0], ax[1] } } };
    step copy = *s;
    if (!(s = ftn_dnnl_push(C, &C->fwd_infer))) return oom(C);
    *s = copy;

    for (int ph = 0; ph < 4; ph++) {
        const phase_axis *ay = &ax[ph >> 1], *axx = &ax[ph & 1];
        dnnl_dims_t wd = { so.c, si.c, ay->n, axx->n }, one = { 1, 1 };
        dnnl_dims_t pl = { ay->pad_l, axx->pad_l }, pr = { ay->pad_r, axx->pad_r };
        dnnl_memory_desc_t w_user, w_any, dst_any, view;
        TRY(ftn_dnnl_md_tag(ex, C, &w_user, 4, wd, dnnl_oihw));
        TRY(ftn_dnnl_md_tag_dt(ex, C, &w_any, 4, wd, C->dt, dnnl_format_tag_any));
        TRY(ftn_dnnl_md_nchw(ex, C, &dst_any, (ftn_shape){ so.n, so.c, si.h, si.w }, dnnl_format_tag_any));
        dnnl_convolution_desc_t cd;
        DNNL_TRY(ex, C, dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, src_md,
                                                           &w_any, b_md, &dst_any, one, pl, pr));
        dnnl_primitive_desc_t pd;
        DNNL_TRY(ex, C, dnnl_primitive_desc_create(&pd, &cd, C->attr, C->eng, NULL));
        dnnl_primitive_t prim;
        dnnl_memory_t scratch, wu, wf, part, dst_view;
        TRY(ftn_dnnl_make_prim(ex, C, NULL, NULL, &pd, &prim, &scratch));
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *pmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        if (!ftn_dnnl_phase_view(&C->t[y].md, ph >> 1, ph & 1, &view)) /* checked by the caller */
            return ftn_fail(FTN_EINTERNAL, "oneDNN engine: op %d (%s): no phase view of its output", o, op->label);
        TRY(ftn_dnnl_new_mem(ex, C, &w_user, wk, &wu));
        wk += (size_t)so.c * si.c * ay->n * axx->n;
        TRY(ftn_dnnl_weights_as(ex, C, wu, wmd, &wf));
        TRY(ftn_dnnl_new_mem(ex, C, pmd, NULL, &part));
        TRY(ftn_dnnl_bound_mem(ex, C, &view, C->t[y].vb, &dst_view));
        argv a = { 0 };
        arg(&a, DNNL_ARG_SRC, xin);
        arg(&a, DNNL_ARG_WEIGHTS, wf);
        arg(&a, DNNL_ARG_BIAS, bmem);
        arg(&a, DNNL_ARG_DST, part);
        TRY(ftn_dnnl_push_both(C, prim, scratch, &a));
        TRY(ftn_dnnl_reorder(ex, C, part, dst_view, &C->fwd_train, &C->fwd_infer));
    }
    return FTN_OK;
}
