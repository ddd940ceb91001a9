/*
 * Row walks: a ReLU, its backward, or a copy between a tensor and a channel slice of a larger
 * one (a concat's input and output), as plain loops (rowview, STEP_ROWS_*). oneDNN 2.6 runs any
 * primitive whose source or destination is a slice of a larger tensor on its reference kernel;
 * these are the concat-in-place path's (concatenation.c) and the concat's copies.
 */
#include <stdint.h>
#include <string.h>

#include "engine/dnnl/internal.h"

/* md as a rowview (see internal.h), or false when it is not one of the layouts walked. */
bool ftn_dnnl_row_view(const dnnl_memory_desc_t *md, rowview *v)
{
    if (md->ndims != 4 || md->format_kind != dnnl_blocked) return false;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    const dnnl_dim_t *s = b->strides, C = md->dims[1], H = md->dims[2], W = md->dims[3];
    if (b->inner_nblks == 0 && s[1] == 1 && s[3] >= C && s[2] == W * s[3] && s[0] >= H * W * s[3]) {
        *v = (rowview){ dnnl_nhwc, 1, md->offset0, s[0], H * W, s[3], C };
        return true;
    }
    if (b->inner_nblks > 1 || (b->inner_nblks == 1 && b->inner_idxs[0] != 1)) return false;
    dnnl_dim_t B = b->inner_nblks ? b->inner_blks[0] : 1;
    dnnl_format_tag_t tag = B == 16 ? dnnl_nChw16c : B == 8 ? dnnl_nChw8c : B == 1 ? dnnl_nchw : dnnl_format_tag_undef;
    if (tag == dnnl_format_tag_undef || C % B || s[3] != B || s[2] != W * B || s[1] != H * W * B) return false;
    *v = (rowview){ tag, B, md->offset0, s[0], 1, 0, C * H * W };
    return true;
}

/* Appends a STEP_ROWS_* step over memories m[0..nargs) laid out as v[0..nargs) (same rows). */
ftn_status ftn_dnnl_push_rows(impl *C, steplist *l, step_kind kind, dnnl_dim_t n_img, const rowview *v,
                              const dnnl_memory_t *m, int nargs)
{
    step *s = ftn_dnnl_push(C, l);
    if (!s) return oom(C);
    *s = (step){ .kind = kind, .op = C->cur_op, .nargs = nargs,
                 .rows = { .n_img = n_img, .n_rows = v[0].n_rows, .len = v[0].len, .bf = C->dt == dnnl_bf16 } };
    for (int j = 0; j < nargs; j++) {
        s->args[j] = (dnnl_exec_arg_t){ DNNL_ARG_MULTIPLE_SRC + j, m[j] };
        s->rows.first[j] = v[j].first;
        s->rows.img[j] = v[j].img;
        s->rows.row[j] = v[j].row;
    }
    return FTN_OK;
}

/* dst = src, the same tensor with a slice on one side (into or out of a concat): a row copy where
 * row_view walks both alike, else a oneDNN reorder (simple:any into a slice: slower). Into l
 * and, if given, l2. */
ftn_status ftn_dnnl_copy_rows(ftn_exec *ex, impl *C, dnnl_memory_t src, dnnl_memory_t dst, steplist *l, steplist *l2)
{
    const dnnl_memory_desc_t *sm, *dm;
    rowview v[2];
    if (dnnl_memory_get_memory_desc(src, &sm) == dnnl_success && dnnl_memory_get_memory_desc(dst, &dm) == dnnl_success &&
        sm->data_type == C->dt && dm->data_type == C->dt && ftn_dnnl_row_view(sm, &v[0]) && ftn_dnnl_row_view(dm, &v[1]) &&
        v[0].tag == v[1].tag && v[0].n_rows == v[1].n_rows && v[0].len == v[1].len) {
        dnnl_memory_t m[2] = { src, dst };
        TRY(ftn_dnnl_push_rows(C, l, STEP_ROWS_COPY, sm->dims[0], v, m, 2));
        return l2 ? ftn_dnnl_push_rows(C, l2, STEP_ROWS_COPY, sm->dims[0], v, m, 2) : FTN_OK;
    }
    return ftn_dnnl_reorder(ex, C, src, dst, l, l2);
}

/* bf16 ReLU on the bit pattern: negative numbers (−0 and −∞ included) become +0, NaN stays */
static inline uint16_t relu_bf16(uint16_t h) { return (h & 0x8000) && (h & 0x7fff) <= 0x7f80 ? 0 : h; }
static inline bool positive_bf16(uint16_t h) { return !(h & 0x8000) && h != 0 && h <= 0x7f80; }

/* STEP_ROWS_RELU: y = max(x, 0) (NaN stays NaN, as oneDNN's); STEP_ROWS_RELU_BWD: dx = y > 0 ? dy : 0
 * (oneDNN's relu_use_dst_for_bwd); STEP_ROWS_COPY: y = x. nr rows of m elements of each
 * argument's data p[j], from element o[j], rows s->rows.row[j] apart. */
static void rows_piece(const step *s, void *const *p, const size_t *o, dnnl_dim_t m, dnnl_dim_t nr)
{
    size_t es = s->rows.bf ? 2 : 4;
    for (dnnl_dim_t r = 0; r < nr; r++) {
        char *a = (char *)p[0] + (o[0] + (size_t)(r * s->rows.row[0])) * es;
        char *b = (char *)p[1] + (o[1] + (size_t)(r * s->rows.row[1])) * es;
        if (s->kind == STEP_ROWS_COPY) {
            memcpy(b, a, (size_t)m * es);
        } else if (s->kind == STEP_ROWS_RELU && s->rows.bf) {
            const uint16_t *x = (const uint16_t *)a;
            uint16_t *y = (uint16_t *)b;
#pragma omp simd
            for (dnnl_dim_t i = 0; i < m; i++) y[i] = relu_bf16(x[i]);
        } else if (s->kind == STEP_ROWS_RELU) {
            const float *x = (const float *)a;
            float *y = (float *)b;
#pragma omp simd
            for (dnnl_dim_t i = 0; i < m; i++) y[i] = x[i] < 0.f ? 0.f : x[i];
        } else if (s->rows.bf) {
            const uint16_t *y = (const uint16_t *)a, *dy = (const uint16_t *)b;
            uint16_t *dx = (uint16_t *)p[2] + o[2] + r * s->rows.row[2];
#pragma omp simd
            for (dnnl_dim_t i = 0; i < m; i++) {
                uint16_t d = dy[i]; /* read either way: a select, not a branch (×8 in bf16) */
                dx[i] = positive_bf16(y[i]) ? d : 0;
            }
        } else {
            const float *y = (const float *)a, *dy = (const float *)b;
            float *dx = (float *)p[2] + o[2] + r * s->rows.row[2];
#pragma omp simd
            for (dnnl_dim_t i = 0; i < m; i++) {
                float d = dy[i];
                dx[i] = y[i] > 0.f ? d : 0.f;
            }
        }
    }
}

/* Every image's rows over the threads in pieces of about ROWS_CHUNK elements: a long row in
 * several pieces, short rows (nhwc: one pixel's channels) several to a piece. */
#define ROWS_CHUNK 8192
static void rows_run(const step *s, void *const *p)
{
    dnnl_dim_t per_row = (s->rows.len + ROWS_CHUNK - 1) / ROWS_CHUNK;           /* pieces of one row */
    dnnl_dim_t per_piece = s->rows.len >= ROWS_CHUNK ? 1 : ROWS_CHUNK / s->rows.len; /* rows in one piece */
    dnnl_dim_t groups = (s->rows.n_rows + per_piece - 1) / per_piece;
#pragma omp parallel for collapse(3) schedule(static)
    for (dnnl_dim_t n = 0; n < s->rows.n_img; n++)
        for (dnnl_dim_t gr = 0; gr < groups; gr++)
            for (dnnl_dim_t k = 0; k < per_row; k++) {
                dnnl_dim_t i0 = k * ROWS_CHUNK, m = s->rows.len - i0 < ROWS_CHUNK ? s->rows.len - i0 : ROWS_CHUNK;
                dnnl_dim_t r0 = gr * per_piece, nr = s->rows.n_rows - r0 < per_piece ? s->rows.n_rows - r0 : per_piece;
                size_t o[3];
                for (int j = 0; j < s->nargs; j++)
                    o[j] = (size_t)(s->rows.first[j] + n * s->rows.img[j] + r0 * s->rows.row[j] + i0);
                rows_piece(s, p, o, m, nr);
            }
}

/* STEP_ROWS_*: the arguments' data, then the walk. */
ftn_status ftn_dnnl_run_rows(const ftn_exec *ex, const step *s)
{
    void *p[3];
    for (int j = 0; j < s->nargs; j++) {
        dnnl_status_t st = dnnl_memory_get_data_handle(s->args[j].memory, &p[j]);
        if (st != dnnl_success) return ftn_dnnl_fail(ex, s->op, "concat slice", st);
    }
    rows_run(s, p);
    return FTN_OK;
}
