/*
 * Add and the attention gates' multiply: y = x ⊙ a with a N×1×H×W map broadcast over channels.
 *
 * The map's gradient da = Σ_c dy ⊙ x is one pass over the channels (chandot, STEP_CHANDOT: oneDNN
 * 2.6 only has a reference reduction here) where the layouts allow, else a product and a
 * oneDNN reduction.
 */
#include <stdint.h>
#include <string.h>

#include "engine/dnnl/internal.h"

/* Plain or channel-blocked (aBcd8b/16b, with padding) layouts, which chandot can address. */
static bool chandot_ok(const dnnl_memory_desc_t *md)
{
    if (md->ndims != 4 || md->format_kind != dnnl_blocked || (md->data_type != dnnl_f32 && md->data_type != dnnl_bf16))
        return false;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    return b->inner_nblks == 0 || (b->inner_nblks == 1 && b->inner_idxs[0] == 1);
}

static inline size_t chan_off(const dnnl_memory_desc_t *md, dnnl_dim_t n, dnnl_dim_t c, dnnl_dim_t h, dnnl_dim_t w)
{
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    dnnl_dim_t B = b->inner_nblks ? b->inner_blks[0] : 1;
    return (size_t)(md->offset0 + n * b->strides[0] + (c / B) * b->strides[1] + h * b->strides[2] + w * b->strides[3] + c % B);
}

static inline float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t f32_to_bf16(float f) /* round to nearest even; NaN stays NaN */
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float ld(const void *p, size_t i, bool bf)
{
    return bf ? bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

/* The common case of chandot: f32, a and b in the same 16-channel-blocked layout with whole blocks
 * and each row's pixels side by side (nChw16c), a row of at most CHANDOT_MAX_W pixels. */
#define CHANDOT_MAX_W 512
static bool chandot_blocked16(const dnnl_memory_desc_t *am, const dnnl_memory_desc_t *bm, const dnnl_memory_desc_t *dm)
{
    const dnnl_blocking_desc_t *ab = &am->format_desc.blocking, *bb = &bm->format_desc.blocking;
    if (am->data_type != dnnl_f32 || bm->data_type != dnnl_f32 || dm->data_type != dnnl_f32) return false;
    if (ab->inner_nblks != 1 || ab->inner_blks[0] != 16 || am->dims[1] % 16 || am->dims[3] > CHANDOT_MAX_W) return false;
    if (ab->strides[3] != 16 || memcmp(ab, bb, sizeof *ab) || memcmp(am->dims, bm->dims, sizeof am->dims)) return false;
    return true;
}

/* dst[n,0,h,w] = Σ_c a[n,c,h,w]·b[n,c,h,w], any layouts chandot_ok accepts, f32 or bf16 data
 * (accumulated in f32). */
static void chandot(const void *a, const dnnl_memory_desc_t *am, const void *b, const dnnl_memory_desc_t *bm,
                    void *dst, const dnnl_memory_desc_t *dm)
{
    dnnl_dim_t N = am->dims[0], Cc = am->dims[1], H = am->dims[2], W = am->dims[3];
    bool abf = am->data_type == dnnl_bf16, bbf = bm->data_type == dnnl_bf16, dbf = dm->data_type == dnnl_bf16;
    if (chandot_blocked16(am, bm, dm)) {
        /* a row at a time, 16 lanes per pixel kept apart (so the compiler can vectorise without
         * reassociating) and summed at the end */
#pragma omp parallel for collapse(2) schedule(static)
        for (dnnl_dim_t n = 0; n < N; n++)
            for (dnnl_dim_t h = 0; h < H; h++) {
                float lanes[CHANDOT_MAX_W * 16];
                memset(lanes, 0, (size_t)W * 16 * sizeof(float));
                for (dnnl_dim_t c = 0; c < Cc; c += 16) {
                    const float *pa = (const float *)a + chan_off(am, n, c, h, 0);
                    const float *pb = (const float *)b + chan_off(bm, n, c, h, 0);
                    for (dnnl_dim_t i = 0; i < W * 16; i++) lanes[i] += pa[i] * pb[i];
                }
                for (dnnl_dim_t w = 0; w < W; w++) {
                    float acc = 0.f;
                    for (int l = 0; l < 16; l++) acc += lanes[w * 16 + l];
                    ((float *)dst)[chan_off(dm, n, 0, h, w)] = acc;
                }
            }
        return;
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (dnnl_dim_t n = 0; n < N; n++)
        for (dnnl_dim_t h = 0; h < H; h++)
            for (dnnl_dim_t w = 0; w < W; w++) {
                float acc = 0.f;
                for (dnnl_dim_t c = 0; c < Cc; c++)
                    acc += ld(a, chan_off(am, n, c, h, w), abf) * ld(b, chan_off(bm, n, c, h, w), bbf);
                size_t o = chan_off(dm, n, 0, h, w);
                if (dbf) ((uint16_t *)dst)[o] = f32_to_bf16(acc);
                else ((float *)dst)[o] = acc;
            }
}

/* STEP_CHANDOT: the three arguments' data and layouts, then chandot. */
ftn_status ftn_dnnl_run_chandot(const ftn_exec *ex, const step *s)
{
    void *p[3];
    const dnnl_memory_desc_t *m[3];
    for (int j = 0; j < 3; j++) {
        dnnl_status_t st = dnnl_memory_get_data_handle(s->args[j].memory, &p[j]);
        if (st == dnnl_success) st = dnnl_memory_get_memory_desc(s->args[j].memory, &m[j]);
        if (st != dnnl_success) return ftn_dnnl_fail(ex, s->op, "channel sum", st);
    }
    chandot(p[0], m[0], p[1], m[1], p[2], m[2]);
    return FTN_OK;
}

/* The gradient of input `i` of a two-input op as dy ⊙ (its other input), broadcast as oneDNN's
 * binary primitive does: both sides of y = x ⊙ a when a has the same channels as x. */
static ftn_status grad_as_product(ftn_exec *ex, impl *C, int o, int i, dnnl_memory_t dy,
                                  const dnnl_memory_desc_t *ymd, steplist *bl)
{
    const ftn_op *op = &ex->g->ops[o];
    int self = op->in[i], other = op->in[1 - i];
    gslot gs;
    dnnl_binary_desc_t bd;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t sc;
    TRY(ftn_dnnl_grad_begin(ex, C, o, i, &C->t[self].md, &gs));
    DNNL_TRY(ex, C, dnnl_binary_desc_init(&bd, dnnl_binary_mul, ymd, &C->t[other].md, &C->t[self].md));
    TRY(ftn_dnnl_make_prim(ex, C, &bd, NULL, &pd, &prim, &sc));
    argv b = { 0 };
    arg(&b, DNNL_ARG_SRC_0, dy);
    arg(&b, DNNL_ARG_SRC_1, C->t[other].mem);
    arg(&b, DNNL_ARG_DST, gs.target);
    TRY(ftn_dnnl_push_prim(C, bl, prim, sc, &b));
    return ftn_dnnl_grad_end(ex, C, bl, &gs);
}

ftn_status ftn_dnnl_compile_binary(ftn_exec *ex, impl *C, int o)
{
    const ftn_graph *g = ex->g;
    const ftn_op *op = &g->ops[o];
    int x0 = op->in[0], x1 = op->in[1], y = op->out;
    bool mul = op->kind == FTN_OP_MUL;
    dnnl_memory_desc_t dst_any;
    TRY(ftn_dnnl_md_nchw(ex, C, &dst_any, g->tensors[y].shape, dnnl_format_tag_any));
    dnnl_binary_desc_t bd;
    dnnl_primitive_desc_t fpd;
    dnnl_primitive_t fprim;
    dnnl_memory_t fs;
    DNNL_TRY(ex, C, dnnl_binary_desc_init(&bd, mul ? dnnl_binary_mul : dnnl_binary_add, &C->t[x0].md, &C->t[x1].md, &dst_any));
    TRY(ftn_dnnl_make_prim(ex, C, &bd, NULL, &fpd, &fprim, &fs));
    const dnnl_memory_desc_t *ymd = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    TRY(ftn_dnnl_set_tensor(ex, C, y, ymd, NULL));
    argv a = { 0 };
    arg(&a, DNNL_ARG_SRC_0, C->t[x0].mem);
    arg(&a, DNNL_ARG_SRC_1, C->t[x1].mem);
    arg(&a, DNNL_ARG_DST, C->t[y].mem);
    TRY(ftn_dnnl_push_both(C, fprim, fs, &a));
    if (!C->t[y].needs_grad) return FTN_OK;

    TRY(ftn_dnnl_ensure_diff(ex, C, y));
    steplist *bl = &C->bwd_op[o];
    dnnl_memory_t dy = C->t[y].dmem;
    if (!mul) {
        for (int i = 0; i < 2; i++) {
            int xi = op->in[i];
            if (!C->t[xi].needs_grad) continue;
            gslot gs;
            TRY(ftn_dnnl_grad_begin(ex, C, o, i, &C->t[xi].md, &gs));
            TRY(ftn_dnnl_reorder(ex, C, dy, gs.target, bl, NULL));
            TRY(ftn_dnnl_grad_end(ex, C, bl, &gs));
        }
        return FTN_OK;
    }
    /* y = x ⊙ a: dx = dy ⊙ a; da = Σ_c dy ⊙ x */
    if (C->t[x0].needs_grad) TRY(grad_as_product(ex, C, o, 0, dy, ymd, bl));
    if (C->t[x1].needs_grad && g->tensors[x0].shape.c == 1) {
        TRY(grad_as_product(ex, C, o, 1, dy, ymd, bl)); /* nothing to reduce: da = dy ⊙ x */
    } else if (C->t[x1].needs_grad && chandot_ok(ymd) && chandot_ok(&C->t[x0].md) && chandot_ok(&C->t[x1].md)) {
        /* da = Σ_c dy ⊙ x in one pass (oneDNN 2.6 only has a reference reduction here) */
        gslot gs;
        TRY(ftn_dnnl_grad_begin(ex, C, o, 1, &C->t[x1].md, &gs));
        step *st = ftn_dnnl_push(C, bl);
        if (!st) return oom(C);
        st->kind = STEP_CHANDOT;
        st->nargs = 3;
        st->args[0] = (dnnl_exec_arg_t){ 0, dy };
        st->args[1] = (dnnl_exec_arg_t){ 0, C->t[x0].mem };
        st->args[2] = (dnnl_exec_arg_t){ 0, gs.target };
        TRY(ftn_dnnl_grad_end(ex, C, bl, &gs));
    } else if (C->t[x1].needs_grad) {
        dnnl_memory_t prod;
        TRY(ftn_dnnl_new_mem(ex, C, ymd, NULL, &prod));
        dnnl_primitive_desc_t pd, rpd;
        dnnl_primitive_t prim, rprim;
        dnnl_memory_t sc, rsc;
        DNNL_TRY(ex, C, dnnl_binary_desc_init(&bd, dnnl_binary_mul, ymd, &C->t[x0].md, ymd));
        TRY(ftn_dnnl_make_prim(ex, C, &bd, NULL, &pd, &prim, &sc));
        argv b = { 0 };
        arg(&b, DNNL_ARG_SRC_0, dy);
        arg(&b, DNNL_ARG_SRC_1, C->t[x0].mem);
        arg(&b, DNNL_ARG_DST, prod);
        TRY(ftn_dnnl_push_prim(C, bl, prim, sc, &b));
        gslot gs;
        TRY(ftn_dnnl_grad_begin(ex, C, o, 1, &C->t[x1].md, &gs));
        dnnl_reduction_desc_t rd;
        DNNL_TRY(ex, C, dnnl_reduction_desc_init(&rd, dnnl_reduction_sum, ymd, &C->t[x1].md, 0.f, 0.f));
        TRY(ftn_dnnl_make_prim(ex, C, &rd, NULL, &rpd, &rprim, &rsc));
        argv r = { 0 };
        arg(&r, DNNL_ARG_SRC, prod);
        arg(&r, DNNL_ARG_DST, gs.target);
        TRY(ftn_dnnl_push_prim(C, bl, rprim, rsc, &r));
        TRY(ftn_dnnl_grad_end(ex, C, bl, &gs));
    }
    return FTN_OK;
}
