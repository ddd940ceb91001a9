/* Data parallelism is the single-process batch (issue 22's targets): R processes, each with its
 * slice of every batch of B, train attn-unet-mi-ds from one initial model for STEPS steps; every
 * step's loss is within 1e-5 (relative) of one process training on the whole batch, the final
 * parameters within 1e-4 (max abs) and BN running statistics within 1e-4 of each tensor's largest
 * value; the processes' models stay bit-identical.
 *   test_mpi_exact ref DIR B STEPS SIZE    one process: DIR/ref.bin (losses, final parameters)
 *   mpiexec -n R test_mpi_exact dist DIR B STEPS SIZE    compares against it
 * (tests/mpi_exact.sh runs both). The engine is FTUNET_ENGINE's. Each process starts from its own
 * initial model (seed + rank): process 0's must reach the others (ftn_dist_broadcast_model). */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "ftunet_protocol.h"
#include "model/model.h"
#include "testlib.h"

#define SEED 7

/* n SIZE×SIZE images of a bright disc on noise and their masks, image i from (seed, i) alone */
static void discs(float *x, float *m, int n, int size)
{
    for (int i = 0; i < n; i++) {
        uint64_t st = 1000 + (uint64_t)i;
        float cy = tl_uniform(&st, 0.3f, 0.7f) * size, cx = tl_uniform(&st, 0.3f, 0.7f) * size;
        float r = tl_uniform(&st, 0.12f, 0.25f) * size;
        for (int y = 0; y < size; y++)
            for (int xx = 0; xx < size; xx++) {
                int in = (y - cy) * (y - cy) + (xx - cx) * (xx - cx) < r * r;
                size_t k = ((size_t)i * size + y) * size + xx;
                m[k] = (float)in;
                x[k] = 0.35f * tl_uniform(&st, 0, 1) + (in ? 0.5f : 0.1f);
            }
    }
}

/* STEPS training steps of batch B (this process's slice of each) from the initial model: the
 * losses and the model. */
static int train(const ftn_comm *comm, int B, int steps, int size, float *losses, ftn_model **out)
{
    ftn_engine engine;
    ftn_model *m = NULL;
    ftn_session *s = NULL;
    CHECK_OK(ftn_engine_from_env(&engine));
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, size, size, &m));
    CHECK_OK(ftn_model_init(m, SEED + (comm ? (uint64_t)comm->rank : 0)));
    CHECK_OK(ftn_dist_broadcast_model(comm, m));
    int lo, n;
    ftn_dist_slice(comm, B, &lo, &n);
    CHECK(n > 0, "a batch of %d over %d processes", B, comm ? comm->size : 1);
    CHECK_OK(ftn_session_create(m, n, engine, &s));
    if (!s) return 1;
    ftn_session_set_comm(s, comm);
    size_t px = (size_t)size * size;
    float *x = malloc(sizeof(float) * px * (size_t)B * steps), *y = malloc(sizeof(float) * px * (size_t)B * steps);
    discs(x, y, B * steps, size);
    ftn_loss_config loss = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    ftn_optimizer_config opt = ftn_optimizer_default(FTN_OPT_SGD);
    for (int k = 0; k < steps; k++) {
        size_t first = (size_t)k * B + lo;
        CHECK_OK(ftn_train_step(s, x + first * px, y + first * px, &loss, &opt, &losses[k]));
    }
    free(x);
    free(y);
    ftn_session_free(s);
    *out = m;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) { fprintf(stderr, "usage: test_mpi_exact ref|dist DIR B STEPS SIZE\n"); return 2; }
    int B = atoi(argv[3]), steps = atoi(argv[4]), size = atoi(argv[5]);
    const char *ref_path = tl_path(argv[2], "ref.bin");
    float *losses = calloc((size_t)steps, sizeof(float));
    ftn_model *m = NULL;
    if (!strcmp(argv[1], "ref")) {
        train(NULL, B, steps, size, losses, &m);
        FILE *f = fopen(ref_path, "wb");
        CHECK(f, "%s", ref_path);
        if (f && m) {
            fwrite(losses, sizeof(float), (size_t)steps, f);
            fwrite(m->params, sizeof(float), m->graph.n_param_floats, f);
            fclose(f);
        }
        ftn_model_free(m);
        free(losses);
        return tl_finish();
    }
    const ftn_comm *comm;
    CHECK_OK(ftn_mpi_start(&argc, &argv, &comm));
    if (!comm) { fprintf(stderr, "test_mpi_exact dist: run under mpiexec\n"); return 2; }
    train(comm, B, steps, size, losses, &m);
    if (m) {
        size_t np = m->graph.n_param_floats;
        float *ref = malloc(sizeof(float) * (np + (size_t)steps)), *p0 = malloc(sizeof(float) * np);
        FILE *f = fopen(ref_path, "rb");
        CHECK(f && fread(ref, sizeof(float), np + (size_t)steps, f) == np + (size_t)steps, "%s", ref_path);
        if (f) fclose(f);
        double worst_loss = 0, worst_param = 0;
        for (int k = 0; k < steps; k++) {
            double d = fabs((double)losses[k] - ref[k]) / fabs((double)ref[k]);
            if (!(d <= worst_loss)) worst_loss = d;
            CHECK(d <= 1e-5, "step %d: loss %.9g, one process %.9g (relative %.3g)", k + 1, losses[k], ref[k], d);
        }
        /* trainable parameters: absolute; BN running statistics (variances of hundreds in the
         * deep layers): relative to each tensor's largest value */
        double worst_stat = 0;
        for (int t = 0; t < m->graph.n_params; t++) {
            const ftn_param *p = &m->graph.params[t];
            const float *a = m->params + p->offset, *b = ref + steps + p->offset;
            double d = 0, big = 0;
            for (size_t i = 0; i < p->count; i++) {
                double e = fabs((double)a[i] - b[i]);
                if (!(e <= d)) d = e;
                if (fabs(b[i]) > big) big = fabs(b[i]);
            }
            if (p->trainable) {
                if (getenv("MPI_EXACT_VERBOSE") && comm->rank == 0 && d > 1e-6) {
                    ftn_model *m0;
                    ftn_model_create("attn-unet-mi-ds", 1, size, size, &m0);
                    ftn_model_init(m0, SEED);
                    double upd = 0;
                    for (size_t i = 0; i < p->count; i++) upd = fmax(upd, fabs((double)b[i] - m0->params[p->offset + i]));
                    fprintf(stderr, "%s: abs diff %.3g, largest update %.3g\n", p->name, d, upd);
                    ftn_model_free(m0);
                }
                if (!(d <= worst_param)) worst_param = d;
                CHECK(d <= 1e-4, "%s: max abs difference %.3g", p->name, d);
            } else {
                d /= big > 0 ? big : 1;
                if (!(d <= worst_stat)) worst_stat = d;
                CHECK(d <= 1e-4, "%s: max relative difference %.3g", p->name, d);
            }
        }
        /* every process holds process 0's model, bit for bit */
        memcpy(p0, m->params, sizeof(float) * np);
        MPI_Bcast(p0, (int)np, MPI_FLOAT, 0, MPI_COMM_WORLD);
        CHECK(!memcmp(p0, m->params, sizeof(float) * np), "process %d's parameters differ from process 0's", comm->rank);
        if (comm->rank == 0)
            printf("%d processes x batch %d vs 1 x %d, %d steps at %dx%d: loss max rel diff %.3g, params max abs diff "
                   "%.3g, BN running statistics max rel diff %.3g\n", comm->size, B / comm->size, B, steps, size, size,
                   worst_loss, worst_param, worst_stat);
        free(ref);
        free(p0);
    }
    ftn_model_free(m);
    free(losses);
    int rc = tl_finish();
    ftn_mpi_stop();
    return rc;
}
