/*
 * Memory: every buffer the engine owns (activations, converted copies, workspaces, reordered
 * weights, gradients, the scratchpad and two gradient temporaries, each sized to its largest
 * user) is pooled: after compile, buffers never live at the same time (in the training
 * sequence forward + backward, and in the inference forward) share memory (assign_pool).
 * So an activation that backward does not read dies after its last forward reader, and a
 * ReLU output that only a concat reads (and that is not written into it) is re-copied from
 * the concat for its backward (eltwise_pool.c, concatenation.c).
 * The pool is one arena, which sessions that run one after the other can share (share):
 * then they cost the largest one's memory, not the sum.
 */
#include <stdint.h>
#include <stdlib.h>

#include "engine/dnnl/internal.h"

/* Drops one session's hold on A; the last one frees it. */
void ftn_dnnl_arena_release(arena *A)
{
    if (A && --A->refs == 0) {
        free(A->p);
        free(A);
    }
}

/* Liveness of the pooled buffers. Training runs fwd_train, bwd_head, then bwd_op[n-1] …
 * bwd_op[0]; inference runs fwd_infer. A virtual buffer is live in each sequence from the first
 * to the last step that names any memory bound to it (nothing is carried from one pass to the
 * next: every buffer is written in a pass before it is read). Two virtual buffers may share a
 * real buffer when they are live at the same time in neither sequence. Virtual buffers go to
 * real buffers in order of first use: the smallest compatible one big enough, else the largest
 * compatible one (grown), else a new one. Pooled buffers are not zeroed: primitives write
 * their outputs, padding included, and gradients nothing writes are zeroed by STEP_ZERO. */
static int cmp_bind(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const bind *)a)->mem, y = (uintptr_t)((const bind *)b)->mem;
    return x < y ? -1 : x > y;
}

static int bind_of(const impl *C, dnnl_memory_t m)
{
    int lo = 0, hi = C->n_binds - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        uintptr_t x = (uintptr_t)C->binds[mid].mem, y = (uintptr_t)m;
        if (x == y) return C->binds[mid].vb;
        if (x < y) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

static void mark_list(impl *C, const steplist *l, int *pos, bool infer)
{
    for (int i = 0; i < l->n; i++, (*pos)++) {
        const step *sp = &l->v[i];
        for (int j = 0; j < sp->nargs; j++) {
            int v = bind_of(C, sp->args[j].memory);
            if (v < 0) continue;
            vbuf *B = &C->vb[v];
            if (infer) { if (B->fi < 0) B->fi = *pos; B->li = *pos; }
            else { if (B->ft < 0) B->ft = *pos; B->lt = *pos; }
        }
    }
}

static bool overlap(int a0, int a1, int b0, int b1) { return a0 >= 0 && b0 >= 0 && a0 <= b1 && b0 <= a1; }

static bool vb_conflict(const vbuf *a, const vbuf *b)
{
    return overlap(a->ft, a->lt, b->ft, b->lt) || overlap(a->fi, a->li, b->fi, b->li);
}

ftn_status ftn_dnnl_assign_pool(impl *C)
{
    int nv = C->n_vb;
    qsort(C->binds, (size_t)C->n_binds, sizeof *C->binds, cmp_bind);
    int pos = 0;
    mark_list(C, &C->fwd_train, &pos, false);
    mark_list(C, &C->bwd_head, &pos, false);
    for (int o = C->n_ops - 1; o >= 0; o--) mark_list(C, &C->bwd_op[o], &pos, false);
    int tend = pos;
    pos = 0;
    mark_list(C, &C->fwd_infer, &pos, true);

    int *order = malloc((size_t)nv * sizeof *order + 1);
    long *key = malloc((size_t)nv * sizeof *key + 1);
    size_t *bsize = calloc((size_t)nv + 1, sizeof *bsize);
    int *bhead = malloc((size_t)nv * sizeof *bhead + 1);
    ftn_status st = FTN_OK;
    if (!order || !key || !bsize || !bhead) { st = oom(C); goto done; }
    for (int v = 0; v < nv; v++) {
        order[v] = v;
        const vbuf *B = &C->vb[v];
        key[v] = B->ft >= 0 ? B->ft : B->fi >= 0 ? (long)tend + B->fi : -1; /* unused first */
        C->pool_bytes_unshared += B->size;
    }
    /* two packings: by first use (growing buffers), and by decreasing size (never growing);
     * the smaller wins */
    size_t total[2] = { 0, 0 };
    int nb = 0;
    for (int pass = 0; pass < 3; pass++) {
        int strategy = pass < 2 ? pass : total[1] < total[0];
        if (strategy == 1) /* stable sort by decreasing size */
            for (int a = 1; a < nv; a++)
                for (int b = a; b > 0 && C->vb[order[b - 1]].size < C->vb[order[b]].size; b--) {
                    int tmp = order[b]; order[b] = order[b - 1]; order[b - 1] = tmp;
                }
        else
            for (int a = 1; a < nv; a++)
                for (int b = a; b > 0 && key[order[b - 1]] > key[order[b]]; b--) {
                    int tmp = order[b]; order[b] = order[b - 1]; order[b - 1] = tmp;
                }
        nb = 0;
        for (int a = 0; a < nv; a++) {
            int v = order[a];
            vbuf *V = &C->vb[v];
            int best = -1, largest = -1;
            for (int b = 0; b < nb; b++) {
                bool ok = true;
                for (int u = bhead[b]; u >= 0 && ok; u = C->vb[u].next) ok = !vb_conflict(V, &C->vb[u]);
                if (!ok) continue;
                if (bsize[b] >= V->size && (best < 0 || bsize[b] < bsize[best])) best = b;
                if (largest < 0 || bsize[b] > bsize[largest]) largest = b;
            }
            if (best < 0 && strategy == 0) best = largest;
            if (best < 0) { best = nb++; bsize[best] = 0; bhead[best] = -1; }
            if (bsize[best] < V->size) bsize[best] = V->size;
            V->blk = best;
            V->next = bhead[best];
            bhead[best] = v;
        }
        if (pass < 2)
            for (int b = 0; b < nb; b++) total[pass] += bsize[b];
    }
    /* the real buffers side by side in one arena, allocated (and bound) at the first run */
    C->pool_off = calloc((size_t)nb + 1, sizeof *C->pool_off);
    C->arena = calloc(1, sizeof *C->arena);
    if (!C->pool_off || !C->arena) { st = oom(C); goto done; }
    C->arena->refs = 1;
    for (int b = 0; b < nb; b++) {
        C->pool_off[b] = C->pool_bytes;
        C->pool_bytes += (bsize[b] + 63) / 64 * 64;
    }
    C->n_pool = nb;
done:
    free(order); free(key); free(bsize); free(bhead);
    return st;
}

/* Points the pooled memories into the arena, growing it first if a sharer left it too small. */
ftn_status ftn_dnnl_bind_pool(ftn_exec *ex, impl *C)
{
    arena *A = C->arena;
    if (A->size < C->pool_bytes || !A->p) {
        free(A->p);
        A->size = 0;
        A->p = aligned_alloc(64, C->pool_bytes ? C->pool_bytes : 64);
        if (!A->p) return ftn_fail(FTN_ENOMEM, "oneDNN engine: out of memory for %zu bytes of working memory", C->pool_bytes);
        A->size = C->pool_bytes;
    }
    if (C->bound == A->p) return FTN_OK;
    for (int i = 0; i < C->n_binds; i++) {
        dnnl_status_t ds = dnnl_memory_set_data_handle(C->binds[i].mem, (char *)A->p + C->pool_off[C->vb[C->binds[i].vb].blk]);
        if (ds != dnnl_success) return ftn_dnnl_fail(ex, -1, "set pooled buffer", ds);
    }
    C->bound = A->p;
    return FTN_OK;
}

/* The vtable's share: ex's pooled memories live in with's arena from now on. */
ftn_status ftn_dnnl_share(ftn_exec *ex, ftn_exec *with)
{
    impl *C = ex->impl, *W = with->impl;
    if (!C || !W) return ftn_fail(FTN_EINVAL, "oneDNN engine: not compiled");
    if (C->arena == W->arena) return FTN_OK;
    ftn_dnnl_arena_release(C->arena);
    C->arena = W->arena;
    C->arena->refs++;
    C->bound = NULL;
    return FTN_OK;
}
