/* Data parallelism over a process group: the slices of a batch, and one model on every process. */
#include "dist/dist.h"

#include <string.h>
#include <stdio.h>

#include "core/error.h"
#include "model/model.h"

void ftn_dist_slice(const ftn_comm *comm, int b, int *lo, int *n)
{
    if (!comm || comm->size <= 1) { *lo = 0; *n = b; return; }
    int R = comm->size, r = comm->rank, q = b / R, extra = b % R;
    *n = q + (r < extra);
    *lo = r * q + (r < extra ? r : extra);
}

ftn_status ftn_dist_broadcast_model(const ftn_comm *comm, ftn_model *m)
{
    if (!comm || comm->size <= 1) return FTN_OK;
    size_t n = m->graph.n_param_floats * sizeof(float);
    int64_t it[2] = { m->iteration, (int64_t)m->opt_kind }; /* the state's optimiser: a resume's */
    ftn_status s = comm->broadcast(comm->ctx, m->params, n, 0);
    if (!s) s = comm->broadcast(comm->ctx, m->opt_m, n, 0);
    if (!s) s = comm->broadcast(comm->ctx, m->opt_v, n, 0);
    if (!s) s = comm->broadcast(comm->ctx, it, sizeof it, 0);
    if (s) return ftn_fail_context(s, "model %s: sending process 0's parameters to the others", m->name);
    m->iteration = it[0];
    m->opt_kind = (ftn_optimizer_kind)it[1];
    return FTN_OK;
}

int ftn_dist_lead(const ftn_comm *comm)
{
    return !comm || comm->rank == 0;
}

int ftn_dist_batch_part(const ftn_comm *comm, int b, int *lo, int *n)
{
    if (!comm || comm->size <= 1 || b < comm->size) { *lo = 0; *n = b; return comm && comm->size > 1 && b >= comm->size; }
    ftn_dist_slice(comm, b, lo, n);
    return 1;
}

static int g_peer_failed, g_failed_together;

int ftn_dist_peer_failed(void)
{
    return g_peer_failed;
}

int ftn_dist_failed_together(void)
{
    return g_failed_together;
}

ftn_status ftn_dist_agree(const ftn_comm *comm, ftn_status own)
{
    if (!comm || comm->size <= 1) return own;
    char msg[1024]; /* the sum below may overwrite the thread's last error */
    snprintf(msg, sizeof msg, "%s", own ? ftn_last_error() : "");
    double failed = own != FTN_OK;
    ftn_status s = comm->sum_f64(comm->ctx, &failed, 1);
    if (s) return s;
    g_failed_together = failed > 0;
    if (own) return ftn_fail(own, "%s", msg);
    if (failed > 0) {
        g_peer_failed = 1;
        return ftn_fail(FTN_EIO, "process %d of %d: another process failed", comm->rank, comm->size);
    }
    return FTN_OK;
}

ftn_status ftn_dist_any(const ftn_comm *comm, int flag, int *any)
{
    *any = flag != 0;
    if (!comm || comm->size <= 1) return FTN_OK;
    double v = flag != 0;
    FTN_TRY(comm->sum_f64(comm->ctx, &v, 1));
    *any = v > 0;
    return FTN_OK;
}

ftn_status ftn_dist_broadcast(const ftn_comm *comm, void *buf, size_t bytes)
{
    if (!comm || comm->size <= 1) return FTN_OK;
    return comm->broadcast(comm->ctx, buf, bytes, 0);
}
