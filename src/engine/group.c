/*
 * What an exec does as one part of a process group's batch (ex->comm), engine-neutral: the
 * group's BatchNorm statistics, and the gradients summed over the group.
 *
 * Gradients are summed while backward runs: backward visits the ops in
 * reverse, and each op's parameters lie in one contiguous range of the gradient buffer, laid out
 * in op order, so the finished gradients grow down from the buffer's end. Once FTN_GRAD_BUCKET
 * floats below the last sent one are final they are sent as one non-blocking sum, and every op
 * after that lets the sums in flight progress (Open MPI progresses only inside its calls). The
 * rest, and whatever was not finished in that order, is sent at the end, and backward returns
 * after every sum is done. Running-statistics slots ride along: nothing writes them, so they are
 * zero on every process and stay zero.
 */
#include "core/error.h"
#include "engine/graph.h"

/* floats per bucket: large enough that a message's latency is small beside its transfer, small
 * enough that the first ones go out while most of backward is still to run */
#define FTN_GRAD_BUCKET ((size_t)1 << 20)

static ftn_status sent_fail(const ftn_exec *ex, ftn_status s, size_t lo, size_t hi)
{
    return ftn_fail_context(s, "gradients: summing floats %zu..%zu over %d processes", lo, hi, ex->comm->size);
}

static ftn_status launch(ftn_exec *ex, size_t lo, size_t hi)
{
    const ftn_comm *c = ex->comm;
    if (hi <= lo) return FTN_OK;
    ftn_status s;
    if (!c->isum_f32 || ex->gsync.n_pending == FTN_COMM_MAX_PENDING) {
        s = c->sum_f32(c->ctx, ex->grads + lo, hi - lo);
    } else {
        s = c->isum_f32(c->ctx, ex->grads + lo, hi - lo, &ex->gsync.pending[ex->gsync.n_pending]);
        if (s == FTN_OK) ex->gsync.n_pending++;
    }
    ex->gsync.sent = lo;
    return s ? sent_fail(ex, s, lo, hi) : FTN_OK;
}

void ftn_grad_sync_begin(ftn_exec *ex)
{
    ex->gsync.frontier = ex->gsync.sent = ex->g->n_param_floats;
    ex->gsync.in_order = true;
    ex->gsync.n_pending = 0;
}

ftn_status ftn_grad_sync_op_done(ftn_exec *ex, int o)
{
    if (!ex->comm) return FTN_OK;
    const ftn_op *op = &ex->g->ops[o];
    const int ps[4] = { op->weight, op->bias, op->running_mean, op->running_var };
    size_t lo = (size_t)-1, hi = 0;
    for (int i = 0; i < 4; i++) {
        if (ps[i] < 0) continue;
        const ftn_param *p = &ex->g->params[ps[i]];
        if (p->offset < lo) lo = p->offset;
        if (p->offset + p->count > hi) hi = p->offset + p->count;
    }
    struct ftn_grad_sync_state *gs = &ex->gsync;
    if (hi > 0 && gs->in_order) {
        if (hi == gs->frontier) gs->frontier = lo;
        else gs->in_order = false; /* not the layout this relies on: the rest goes at the end */
    }
    if (gs->in_order && gs->sent - gs->frontier >= FTN_GRAD_BUCKET) FTN_TRY(launch(ex, gs->frontier, gs->sent));
    const ftn_comm *c = ex->comm;
    for (int i = 0; i < gs->n_pending && c->test; i++) {
        int done;
        ftn_status s = c->test(c->ctx, gs->pending[i], &done);
        if (s) return ftn_fail_context(s, "gradients: a sum in flight");
    }
    return FTN_OK;
}

ftn_status ftn_grad_sync_end(ftn_exec *ex)
{
    if (!ex->comm) return FTN_OK;
    struct ftn_grad_sync_state *gs = &ex->gsync;
    ftn_status s = launch(ex, 0, gs->sent);
    for (int i = 0; i < gs->n_pending; i++) {
        ftn_status w = ex->comm->wait(ex->comm->ctx, gs->pending[i]);
        if (!s && w) s = ftn_fail_context(w, "gradients: waiting for a sum");
    }
    gs->n_pending = 0;
    return s;
}

ftn_status ftn_bn_group_mean(const ftn_exec *ex, double *sums, int c, double m_local, double *m_all)
{
    const ftn_comm *cm = ex->comm;
    sums[c] = m_local;
    ftn_status s = cm->sum_f64(cm->ctx, sums, (size_t)c + 1);
    if (s) return ftn_fail_context(s, "batch norm: summing means over %d processes", cm->size);
    *m_all = sums[c];
    for (int ch = 0; ch < c; ch++) sums[ch] /= *m_all;
    return FTN_OK;
}

ftn_status ftn_bn_group_var(const ftn_exec *ex, double *sq, int c, double m_all)
{
    const ftn_comm *cm = ex->comm;
    ftn_status s = cm->sum_f64(cm->ctx, sq, (size_t)c);
    if (s) return ftn_fail_context(s, "batch norm: summing variances over %d processes", cm->size);
    for (int ch = 0; ch < c; ch++) sq[ch] /= m_all; /* biased, as a single process normalises with */
    return FTN_OK;
}

ftn_status ftn_bn_group_grad_sums(const ftn_exec *ex, double *sums, int c)
{
    const ftn_comm *cm = ex->comm;
    ftn_status s = cm->sum_f64(cm->ctx, sums, 2 * (size_t)c);
    return s ? ftn_fail_context(s, "batch norm backward: summing over %d processes", cm->size) : FTN_OK;
}
