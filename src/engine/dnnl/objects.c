/*
 * The oneDNN engine's owned objects, steps and memory descriptors.
 *
 * Every primitive descriptor, primitive, memory object and buffer the engine creates is
 * registered in its impl and destroyed with it (free_impl, engine.c). Memory objects over the
 * engine's own buffers are pooled: they are bound to a virtual buffer (vbuf) and get their data
 * handle at the first run (memory.c); those over the model's parameters, the boundary's NCHW
 * buffers and private buffers point at their memory from the start.
 */
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "engine/dnnl/internal.h"

/* ---- errors ----------------------------------------------------------------------------------- */

static const char *dnnl_status_str(dnnl_status_t s)
{
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}

ftn_status ftn_dnnl_fail(const ftn_exec *ex, int op, const char *what, dnnl_status_t s)
{
    const char *label = op >= 0 && op < ex->g->n_ops ? ex->g->ops[op].label : "network boundary";
    return ftn_fail(FTN_EINTERNAL, "oneDNN: %s at op %d (%s): %s", what, op, label ? label : "?",
                    dnnl_status_str(s));
}

/* ---- owned-object registry -------------------------------------------------------------------- */

/* A private (never pooled), zeroed, 64-byte aligned buffer; NULL when out of memory. */
void *ftn_dnnl_new_buf(impl *C, size_t bytes)
{
    if (ftn_grow(&C->bufs, &C->cap_bufs, (size_t)C->n_bufs + 1, sizeof(void *)) != FTN_OK) return NULL;
    size_t sz = (bytes + 63) / 64 * 64;
    if (sz == 0) sz = 64;
    void *p = aligned_alloc(64, sz);
    if (!p) return NULL;
    memset(p, 0, sz);
    C->bufs[C->n_bufs++] = p;
    return p;
}

/* Registers pd (destroyed with the engine); destroys it at once when that fails. */
ftn_status ftn_dnnl_keep_pd(impl *C, dnnl_primitive_desc_t pd)
{
    if (ftn_grow(&C->pds, &C->cap_pds, (size_t)C->n_pds + 1, sizeof *C->pds) != FTN_OK) {
        dnnl_primitive_desc_destroy(pd);
        return oom(C);
    }
    C->pds[C->n_pds++] = pd;
    return FTN_OK;
}

/* A new virtual buffer of `size` bytes (grown by its users), or -1 when out of memory. */
int ftn_dnnl_new_vbuf(impl *C, size_t size)
{
    if (ftn_grow(&C->vb, &C->cap_vb, (size_t)C->n_vb + 1, sizeof *C->vb) != FTN_OK) return -1;
    C->vb[C->n_vb] = (vbuf){ size, -1, -1, -1, -1, -1, -1 };
    return C->n_vb++;
}

/* A memory object over md whose buffer is vbuf vb (which grows to fit md). */
ftn_status ftn_dnnl_bound_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, int vb, dnnl_memory_t *out)
{
    if (vb < 0) return oom(C);
    if (ftn_grow(&C->mems, &C->cap_mems, (size_t)C->n_mems + 1, sizeof *C->mems) != FTN_OK) return oom(C);
    if (ftn_grow(&C->binds, &C->cap_binds, (size_t)C->n_binds + 1, sizeof *C->binds) != FTN_OK) return oom(C);
    DNNL_TRY(ex, C, dnnl_memory_create(out, md, C->eng, DNNL_MEMORY_NONE));
    C->mems[C->n_mems++] = *out;
    C->binds[C->n_binds++] = (bind){ *out, vb };
    size_t sz = dnnl_memory_desc_get_size(md);
    if (sz > C->vb[vb].size) C->vb[vb].size = sz;
    return FTN_OK;
}

/* A memory object over `handle` (NULL: a pooled buffer of the md's size). */
ftn_status ftn_dnnl_new_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, void *handle, dnnl_memory_t *out)
{
    if (!handle) return ftn_dnnl_bound_mem(ex, C, md, ftn_dnnl_new_vbuf(C, dnnl_memory_desc_get_size(md)), out);
    if (ftn_grow(&C->mems, &C->cap_mems, (size_t)C->n_mems + 1, sizeof *C->mems) != FTN_OK) return oom(C);
    DNNL_TRY(ex, C, dnnl_memory_create(out, md, C->eng, handle));
    C->mems[C->n_mems++] = *out;
    return FTN_OK;
}

/* A memory object over a private (never shared), zeroed buffer. */
ftn_status ftn_dnnl_private_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, dnnl_memory_t *out)
{
    void *h = ftn_dnnl_new_buf(C, dnnl_memory_desc_get_size(md));
    if (!h) return oom(C);
    return ftn_dnnl_new_mem(ex, C, md, h, out);
}

/* A memory object over one of the shared temporaries (SH_*, sized to the largest user). */
ftn_status ftn_dnnl_shared_mem(ftn_exec *ex, impl *C, const dnnl_memory_desc_t *md, int which, dnnl_memory_t *out)
{
    if (C->sh_vb[which] < 0) C->sh_vb[which] = ftn_dnnl_new_vbuf(C, 0);
    return ftn_dnnl_bound_mem(ex, C, md, C->sh_vb[which], out);
}

/* Creates the primitive descriptor (registered) and its primitive (registered); `scratch` gets
 * a memory over the shared scratchpad, or NULL when the primitive needs none. desc NULL: *pd_out
 * is already created (reorder, concat, a pass chosen by conv_pd). */
ftn_status ftn_dnnl_make_prim(ftn_exec *ex, impl *C, const void *desc, const_dnnl_primitive_desc_t hint,
                              dnnl_primitive_desc_t *pd_out, dnnl_primitive_t *prim_out, dnnl_memory_t *scratch)
{
    dnnl_primitive_desc_t pd = NULL;
    if (desc) DNNL_TRY(ex, C, dnnl_primitive_desc_create(&pd, desc, C->attr, C->eng, hint));
    else pd = *pd_out;
    TRY(ftn_dnnl_keep_pd(C, pd));
    if (ftn_grow(&C->prims, &C->cap_prims, (size_t)C->n_prims + 1, sizeof *C->prims) != FTN_OK) return oom(C);
    DNNL_TRY(ex, C, dnnl_primitive_create(prim_out, pd));
    C->prims[C->n_prims++] = *prim_out;
    *pd_out = pd;
    *scratch = NULL;
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (smd && dnnl_memory_desc_get_size(smd) > 0) TRY(ftn_dnnl_shared_mem(ex, C, smd, SH_SCRATCH, scratch));
    return FTN_OK;
}

/* ---- steps ------------------------------------------------------------------------------------ */

/* A zeroed step of the op being compiled, appended to l; NULL when out of memory. */
step *ftn_dnnl_push(impl *C, steplist *l)
{
    if (ftn_grow(&l->v, &l->cap, (size_t)l->n + 1, sizeof(step)) != FTN_OK) return NULL;
    step *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    s->op = C->cur_op;
    return s;
}

ftn_status ftn_dnnl_push_prim(impl *C, steplist *l, dnnl_primitive_t prim, dnnl_memory_t scratch, const argv *a)
{
    step *s = ftn_dnnl_push(C, l);
    if (!s) return oom(C);
    s->kind = STEP_PRIM;
    s->prim.prim = prim;
    s->nargs = a->n;
    memcpy(s->args, a->a, sizeof(dnnl_exec_arg_t) * (size_t)a->n);
    if (scratch) s->args[s->nargs++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, scratch };
    return FTN_OK;
}

/* The same primitive in both forward lists. */
ftn_status ftn_dnnl_push_both(impl *C, dnnl_primitive_t prim, dnnl_memory_t scratch, const argv *a)
{
    TRY(ftn_dnnl_push_prim(C, &C->fwd_train, prim, scratch, a));
    return ftn_dnnl_push_prim(C, &C->fwd_infer, prim, scratch, a);
}

/* A reorder from src to dst (appended to l, and to l2 if given). */
ftn_status ftn_dnnl_reorder(ftn_exec *ex, impl *C, dnnl_memory_t src, dnnl_memory_t dst, steplist *l, steplist *l2)
{
    const dnnl_memory_desc_t *smd, *dmd;
    DNNL_TRY(ex, C, dnnl_memory_get_memory_desc(src, &smd));
    DNNL_TRY(ex, C, dnnl_memory_get_memory_desc(dst, &dmd));
    dnnl_primitive_desc_t pd;
    DNNL_TRY(ex, C, dnnl_reorder_primitive_desc_create(&pd, smd, C->eng, dmd, C->eng, C->attr));
    dnnl_primitive_t prim;
    dnnl_memory_t scratch;
    TRY(ftn_dnnl_make_prim(ex, C, NULL, NULL, &pd, &prim, &scratch));
    argv a = { 0 };
    arg(&a, DNNL_ARG_FROM, src);
    arg(&a, DNNL_ARG_TO, dst);
    TRY(ftn_dnnl_push_prim(C, l, prim, scratch, &a));
    if (l2) TRY(ftn_dnnl_push_prim(C, l2, prim, scratch, &a));
    return FTN_OK;
}

/* ---- descriptors ------------------------------------------------------------------------------ */

ftn_status ftn_dnnl_md_tag_dt(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims,
                              dnnl_data_type_t dt, dnnl_format_tag_t tag)
{
    DNNL_TRY(ex, C, dnnl_memory_desc_init_by_tag(md, nd, dims, dt, tag));
    return FTN_OK;
}

/* float32 (parameters, their gradients, the boundary) */
ftn_status ftn_dnnl_md_tag(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims,
                           dnnl_format_tag_t tag)
{
    return ftn_dnnl_md_tag_dt(ex, C, md, nd, dims, dnnl_f32, tag);
}

/* An activation (or activation gradient): in the session's precision. */
ftn_status ftn_dnnl_md_nchw(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, ftn_shape s, dnnl_format_tag_t tag)
{
    dnnl_dims_t d = { s.n, s.c, s.h, s.w };
    return ftn_dnnl_md_tag_dt(ex, C, md, 4, d, C->dt, tag);
}

/* A tensor at the network's boundary: always float32. */
ftn_status ftn_dnnl_md_nchw_f32(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, ftn_shape s, dnnl_format_tag_t tag)
{
    dnnl_dims_t d = { s.n, s.c, s.h, s.w };
    return ftn_dnnl_md_tag(ex, C, md, 4, d, tag);
}

/* A per-channel vector (bias, BN scale, shift and statistics): float32. */
ftn_status ftn_dnnl_md_vec(ftn_exec *ex, impl *C, dnnl_memory_desc_t *md, int c)
{
    dnnl_dims_t d = { c };
    return ftn_dnnl_md_tag(ex, C, md, 1, d, dnnl_a);
}

/* Tensor t's format is md; its data lives in `alias` (another tensor's memory), or in a new
 * pooled buffer when alias is NULL. */
ftn_status ftn_dnnl_set_tensor(ftn_exec *ex, impl *C, int t, const dnnl_memory_desc_t *md, dnnl_memory_t alias)
{
    C->t[t].md = *md;
    C->t[t].has_md = true;
    if (alias) { C->t[t].mem = alias; return FTN_OK; }
    C->t[t].vb = ftn_dnnl_new_vbuf(C, dnnl_memory_desc_get_size(md));
    return ftn_dnnl_bound_mem(ex, C, md, C->t[t].vb, &C->t[t].mem);
}
