/*
 * Synchronized batch normalisation on the oneDNN engine (an exec with a comm, see group.c): the
 * steps around bn.c's primitives that make one process's part of a batch normalise as the whole
 * batch does.
 *
 * Forward (STEP_BN_GROUP_STATS, before the primitive that takes given statistics): this part's
 * Σx per channel summed over the group gives the batch mean, then its Σ(x − mean)² summed gives
 * the variance (a single process's two passes: no cancellation), which the primitive and the
 * running statistics use.
 * Backward (STEP_BN_GROUP_DX, after oneDNN's backward, which took those statistics but formed
 * diff_src from this part's Σdy and Σdy·x̂ over this part's m elements): with the group's sums S
 * over M elements the gradient is γ/σ·(dy − S_dy/M − x̂·S_dyx/M), so each element gets
 *   dx += a_c + b_c·(x − μ),  a_c = γ/σ·(s_dy/m − S_dy/M),  b_c = γ/σ²·(s_dyx/m − S_dyx/M).
 * This part's sums are the primitive's diff_shift and diff_scale, which stay this part's: the
 * gradient sum over the group adds them up.
 */
#include <math.h>
#include <string.h>

#include "engine/dnnl/internal.h"

/* Where element (n, c, h, w) of a 4-d plain or channel-blocked memory lies, in elements. */
typedef struct layout { dnnl_dim_t N, C, H, W, B, off0, s[4]; bool bf; } layout;

static bool layout_of(const dnnl_memory_desc_t *md, layout *L)
{
    if (md->ndims != 4 || md->format_kind != dnnl_blocked) return false;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    if (b->inner_nblks > 1 || (b->inner_nblks == 1 && (b->inner_idxs[0] != 1 || b->inner_blks[0] > 16))) return false;
    if (md->data_type != dnnl_f32 && md->data_type != dnnl_bf16) return false;
    *L = (layout){ md->dims[0], md->dims[1], md->dims[2], md->dims[3], b->inner_nblks ? b->inner_blks[0] : 1,
                   md->offset0, { b->strides[0], b->strides[1], b->strides[2], b->strides[3] },
                   md->data_type == dnnl_bf16 };
    return true;
}

static inline double load(const void *p, bool bf, dnnl_dim_t i)
{
    if (!bf) return ((const float *)p)[i];
    uint32_t u = (uint32_t)((const uint16_t *)p)[i] << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline void store(void *p, bool bf, dnnl_dim_t i, double v)
{
    if (!bf) { ((float *)p)[i] = (float)v; return; }
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    ((uint16_t *)p)[i] = (uint16_t)(u >> 16);
}

static inline dnnl_dim_t at(const layout *L, dnnl_dim_t n, dnnl_dim_t c, dnnl_dim_t h, dnnl_dim_t w)
{
    return L->off0 + n * L->s[0] + (c / L->B) * L->s[1] + (c % L->B) + h * L->s[2] + w * L->s[3];
}

static ftn_status handles(const ftn_exec *ex, const step *s, layout *L, void **h)
{
    const dnnl_memory_desc_t *md;
    for (int j = 0; j < s->nargs; j++)
        if (dnnl_memory_get_data_handle(s->args[j].memory, &h[j]) != dnnl_success)
            return ftn_fail(FTN_EINTERNAL, "oneDNN engine: op %d: synchronized BN: no data handle", s->op);
    if (dnnl_memory_get_memory_desc(s->args[0].memory, &md) != dnnl_success || !layout_of(md, L))
        return ftn_fail(FTN_EUNSUPPORTED, "oneDNN engine: op %d (%s): synchronized BN over a layout it does not walk",
                        s->op, ex->g->ops[s->op].label);
    return FTN_OK;
}

/* Per channel of x: Σx (mean NULL) or Σ(x − mean)², into out; each thread its channel blocks, so
 * the sums do not depend on the thread count. */
static void channel_sums(const layout *L, const void *x, const double *mean, double *out)
{
    const dnnl_dim_t nb = (L->C + L->B - 1) / L->B;
#pragma omp parallel for schedule(static)
    for (dnnl_dim_t cb = 0; cb < nb; cb++) {
        double acc[16] = { 0 }, mu[16] = { 0 };
        dnnl_dim_t c0 = cb * L->B, nc = L->C - c0 < L->B ? L->C - c0 : L->B;
        if (mean)
            for (dnnl_dim_t k = 0; k < nc; k++) mu[k] = mean[c0 + k];
        for (dnnl_dim_t n = 0; n < L->N; n++)
            for (dnnl_dim_t y = 0; y < L->H; y++)
                for (dnnl_dim_t w = 0; w < L->W; w++) {
                    dnnl_dim_t base = at(L, n, c0, y, w);
                    for (dnnl_dim_t k = 0; k < nc; k++) {
                        double v = load(x, L->bf, base + k) - mu[k];
                        acc[k] += mean ? v * v : v;
                    }
                }
        for (dnnl_dim_t k = 0; k < nc; k++) out[c0 + k] = acc[k];
    }
}

ftn_status ftn_dnnl_bn_group_stats(ftn_exec *ex, const step *s)
{
    layout L;
    void *h[2];
    TRY(handles(ex, s, &L, h));
    const int C = (int)L.C;
    double *mu = s->bng.sums, *sq = s->bng.sums + C + 1;
    channel_sums(&L, h[0], NULL, mu);
    TRY(ftn_bn_group_mean(ex, mu, C, (double)(L.N * L.H * L.W), s->bng.m_all));
    channel_sums(&L, h[0], mu, sq);
    TRY(ftn_bn_group_var(ex, sq, C, *s->bng.m_all));
    for (int c = 0; c < C; c++) { s->bng.mean[c] = (float)mu[c]; s->bng.var[c] = (float)sq[c]; }
    return FTN_OK;
}

ftn_status ftn_dnnl_bn_group_dx(ftn_exec *ex, const step *s)
{
    layout L, D;
    void *h[2];
    TRY(handles(ex, s, &L, h));
    const dnnl_memory_desc_t *dmd;
    if (dnnl_memory_get_memory_desc(s->args[1].memory, &dmd) != dnnl_success || !layout_of(dmd, &D) || D.B != L.B)
        return ftn_fail(FTN_EUNSUPPORTED, "oneDNN engine: op %d: synchronized BN: diff_src in another layout than src",
                        s->op);
    const int C = (int)L.C;
    double *sums = s->bng.sums;
    const float *dg = s->bng.dgamma, *db = s->bng.dbeta;
    for (int c = 0; c < C; c++) { sums[c] = db[c]; sums[C + c] = dg[c]; }
    TRY(ftn_bn_group_grad_sums(ex, sums, C));
    const double m = (double)(L.N * L.H * L.W), M = *s->bng.m_all;
    double *a = sums + 2 * C, *b = sums + 3 * C, *mu = sums + 4 * C; /* room: 5·C */
    for (int c = 0; c < C; c++) {
        double istd = 1.0 / sqrt((double)s->bng.var[c] + FTN_BN_EPS), g = s->bng.gamma[c] * istd;
        a[c] = g * (db[c] / m - sums[c] / M);
        b[c] = g * istd * (dg[c] / m - sums[C + c] / M);
        mu[c] = s->bng.mean[c];
    }
    const void *x = h[0];
    void *dx = h[1];
    const dnnl_dim_t nb = (L.C + L.B - 1) / L.B;
#pragma omp parallel for schedule(static)
    for (dnnl_dim_t cb = 0; cb < nb; cb++) {
        dnnl_dim_t c0 = cb * L.B, nc = L.C - c0 < L.B ? L.C - c0 : L.B;
        for (dnnl_dim_t n = 0; n < L.N; n++)
            for (dnnl_dim_t y = 0; y < L.H; y++)
                for (dnnl_dim_t w = 0; w < L.W; w++) {
                    dnnl_dim_t xi = at(&L, n, c0, y, w), di = at(&D, n, c0, y, w);
                    for (dnnl_dim_t k = 0; k < nc; k++) {
                        dnnl_dim_t c = c0 + k;
                        double v = load(dx, D.bf, di + k) + a[c] + b[c] * (load(x, L.bf, xi + k) - mu[c]);
                        store(dx, D.bf, di + k, v);
                    }
                }
    }
    return FTN_OK;
}
