/*
 * The MPI process group (built with FTUNET_MPI only): ftn_comm over MPI_COMM_WORLD. Sums are
 * MPI_Allreduce / MPI_Iallreduce with MPI_SUM in place; broadcasts MPI_Bcast in chunks that fit
 * an int count. MPI is started only when a launcher (mpirun, mpiexec, srun) started this process,
 * so the program run by hand never touches it.
 */
#include <limits.h>
#include <stdio.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ftunet_protocol.h"

typedef struct mpi_ctx {
    MPI_Request req[FTN_COMM_MAX_PENDING];
    int used[FTN_COMM_MAX_PENDING];
} mpi_ctx;

static mpi_ctx g_ctx;
static ftn_comm g_comm;
static int g_started; /* MPI_Init was ours */

static ftn_status mpi_error(int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    return ftn_fail(FTN_EIO, "MPI %s: %s", what, msg);
}

#define CHUNK ((size_t)INT_MAX / 8)

static ftn_status sum_f64(void *ctx, double *v, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i += CHUNK) {
        int k = (int)(n - i < CHUNK ? n - i : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, v + i, k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_error(rc, "all-reduce");
    }
    return FTN_OK;
}

static ftn_status sum_f32(void *ctx, float *v, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i += CHUNK) {
        int k = (int)(n - i < CHUNK ? n - i : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, v + i, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_error(rc, "all-reduce");
    }
    return FTN_OK;
}

static ftn_status broadcast(void *ctx, void *buf, size_t bytes, int root)
{
    (void)ctx;
    for (size_t i = 0; i < bytes; i += CHUNK) {
        int k = (int)(bytes - i < CHUNK ? bytes - i : CHUNK);
        int rc = MPI_Bcast((char *)buf + i, k, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_error(rc, "broadcast");
    }
    return FTN_OK;
}

static ftn_status isum_f32(void *ctx, float *v, size_t n, int *request)
{
    mpi_ctx *c = ctx;
    if (n > CHUNK) { *request = -1; return sum_f32(ctx, v, n); } /* -1: already done */
    int slot = 0;
    while (slot < FTN_COMM_MAX_PENDING && c->used[slot]) slot++;
    if (slot == FTN_COMM_MAX_PENDING) { *request = -1; return sum_f32(ctx, v, n); }
    int rc = MPI_Iallreduce(MPI_IN_PLACE, v, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &c->req[slot]);
    if (rc != MPI_SUCCESS) return mpi_error(rc, "non-blocking all-reduce");
    c->used[slot] = 1;
    *request = slot;
    return FTN_OK;
}

static ftn_status test(void *ctx, int request, int *done)
{
    mpi_ctx *c = ctx;
    *done = 1;
    if (request < 0 || !c->used[request]) return FTN_OK;
    int rc = MPI_Test(&c->req[request], done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_error(rc, "test");
    if (*done) c->used[request] = 0;
    return FTN_OK;
}

static ftn_status wait_one(void *ctx, int request)
{
    mpi_ctx *c = ctx;
    if (request < 0 || !c->used[request]) return FTN_OK;
    c->used[request] = 0;
    int rc = MPI_Wait(&c->req[request], MPI_STATUS_IGNORE);
    return rc == MPI_SUCCESS ? FTN_OK : mpi_error(rc, "wait");
}

/* Set by the launchers of Open MPI, MPICH (Hydra), PMIx and Slurm. */
static int launched(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

ftn_status ftn_mpi_start(int *argc, char ***argv, const ftn_comm **out)
{
    *out = NULL;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        if (!launched()) return FTN_OK;
        int rc = MPI_Init(argc, argv);
        if (rc != MPI_SUCCESS) return mpi_error(rc, "init");
        g_started = 1;
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    memset(&g_ctx, 0, sizeof g_ctx);
    g_comm = (ftn_comm){ .rank = rank, .size = size, .ctx = &g_ctx, .sum_f64 = sum_f64, .sum_f32 = sum_f32,
                         .broadcast = broadcast, .isum_f32 = isum_f32, .test = test, .wait = wait_one };
    *out = &g_comm;
    return FTN_OK;
}

void ftn_mpi_stop(void)
{
    if (g_started) MPI_Finalize();
    g_started = 0;
}

void ftn_mpi_abort(int code)
{
    if (g_started) MPI_Abort(MPI_COMM_WORLD, code);
}
