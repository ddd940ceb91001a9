/* Data parallelism against the single-process batch over many steps (issue 22's targets): R
 * processes, each with its slice of every batch of B, train attn-unet-mi-ds from one initial
 * model for STEPS steps; every step's loss is within 1e-5 (relative) of one process training on
 * the whole batch, the final parameters within 1e-4 (max abs) and BN running statistics within
 * 1e-4 of each tensor's largest value, or within FLOOR_TIMES (default 10, 0: off) times the
 * floor where that is larger; the processes' models stay bit-identical.
 * The floor is rounding chaos: the one-process run against itself with every initial weight
 * 1 ulp off, and with each batch's images in reverse order (the same training in exact
 * arithmetic), per step the largest difference so far. ReLU and max-pool make the gradient a
 * discontinuous function of the weights, so float rounding grows by orders of magnitude a step:
 * at 64x64, batch 16, oneDNN, after 20 steps the floor is 8.5e-3 (loss) and 1.3e-2 (params), far
 * above the bounds, which hold for the first step or two only. The exact check is one
 * step's gradients, tests/test_mpi_grads.c.
 *   test_mpi_exact ref DIR B STEPS SIZE [FLOOR_TIMES]    one process: DIR/ref.bin (losses, final
 *       parameters, the floor unless FLOOR_TIMES is 0)
 *   mpiexec -n R test_mpi_exact dist DIR B STEPS SIZE [FLOOR_TIMES]    compares against it
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

/* The bounds: the (1e-5, 1e-4) or floor_times times the floor, whichever is larger;
 * floor_times: the 6th argument, default 10 (0: the bounds alone) */
static double floor_times = 10;

/* How a single-process run differs from the plain one, by rounding alone (the floor) */
enum { PLAIN, ULP, REVERSED };

/* STEPS training steps of batch B (this process's slice of each) from the initial model: the
 * losses and the model. ULP: every initial weight 1 ulp off (up and down by turns); REVERSED:
 * each batch's images in reverse order. */
static int train(const ftn_comm *comm, int B, int steps, int size, int how, float *losses, ftn_model **out)
{
    ftn_engine engine;
    ftn_model *m = NULL;
    ftn_session *s = NULL;
    CHECK_OK(ftn_engine_from_env(&engine));
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, size, size, &m));
    CHECK_OK(ftn_model_init(m, SEED + (comm ? (uint64_t)comm->rank : 0)));
    CHECK_OK(ftn_dist_broadcast_model(comm, m));
    for (int t = 0; how == ULP && t < m->graph.n_params; t++) {
        const ftn_param *p = &m->graph.params[t];
        for (size_t i = 0; p->trainable && i < p->count; i++)
            m->params[p->offset + i] = nextafterf(m->params[p->offset + i], (i & 1) ? INFINITY : -INFINITY);
    }
    int lo, n;
    ftn_dist_slice(comm, B, &lo, &n);
    CHECK(n > 0, "a batch of %d over %d processes", B, comm ? comm->size : 1);
    CHECK_OK(ftn_session_create(m, n, engine, &s));
    if (!s) return 1;
    ftn_session_set_comm(s, comm);
    size_t px = (size_t)size * size;
    float *x = malloc(sizeof(float) * px * (size_t)B * steps), *y = malloc(sizeof(float) * px * (size_t)B * steps);
    tl_disc_images(x, y, B * steps, size);
    for (int k = 0; how == REVERSED && k < steps; k++) /* images k·B .. k·B + B − 1 reversed */
        for (int i = 0, j = B - 1; i < j; i++, j--)
            for (size_t q = 0; q < px; q++) {
                size_t a = ((size_t)k * B + i) * px + q, b = ((size_t)k * B + j) * px + q;
                float t = x[a]; x[a] = x[b]; x[b] = t;
                t = y[a]; y[a] = y[b]; y[b] = t;
            }
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
    if (argc != 6 && argc != 7) { fprintf(stderr, "usage: test_mpi_exact ref|dist DIR B STEPS SIZE [FLOOR_TIMES]\n"); return 2; }
    if (argc == 7) floor_times = atof(argv[6]);
    int B = atoi(argv[3]), steps = atoi(argv[4]), size = atoi(argv[5]);
    const char *ref_path = tl_path(argv[2], "ref.bin");
    float *losses = calloc((size_t)steps, sizeof(float));
    ftn_model *m = NULL;
    if (!strcmp(argv[1], "ref")) {
        /* the plain run, then the floor: the largest difference from it of the ULP and REVERSED
         * runs, per step the largest so far (chaos grows, but not step by step) */
        float *floor_loss = calloc((size_t)steps + 2, sizeof(float)), *l2 = calloc((size_t)steps, sizeof(float));
        train(NULL, B, steps, size, PLAIN, losses, &m);
        for (int how = ULP; how <= REVERSED && m && floor_times > 0; how++) { /* 0: no floor (zeros) */
            ftn_model *m2 = NULL;
            train(NULL, B, steps, size, how, l2, &m2);
            if (!m2) break;
            for (int k = 0; k < steps; k++) {
                float d = (float)(fabs((double)l2[k] - losses[k]) / fabs((double)losses[k]));
                floor_loss[k] = fmaxf(floor_loss[k], fmaxf(d, k ? floor_loss[k - 1] : 0));
            }
            for (int t = 0; t < m->graph.n_params; t++) {
                const ftn_param *p = &m->graph.params[t];
                double d = 0, big = 0;
                for (size_t i = 0; i < p->count; i++) {
                    d = fmax(d, fabs((double)m->params[p->offset + i] - m2->params[p->offset + i]));
                    big = fmax(big, fabs((double)m->params[p->offset + i]));
                }
                float *fl = &floor_loss[steps + !p->trainable];
                *fl = fmaxf(*fl, (float)(p->trainable ? d : d / (big > 0 ? big : 1)));
            }
            ftn_model_free(m2);
        }
        printf("floor (one process, initial weights 1 ulp off or batches reversed): loss max rel diff %.3g, params max "
               "abs diff %.3g, BN running statistics max rel diff %.3g\n", floor_loss[steps - 1], floor_loss[steps],
               floor_loss[steps + 1]);
        FILE *f = fopen(ref_path, "wb");
        CHECK(f, "%s", ref_path);
        if (f && m) {
            fwrite(losses, sizeof(float), (size_t)steps, f);
            fwrite(m->params, sizeof(float), m->graph.n_param_floats, f);
            fwrite(floor_loss, sizeof(float), (size_t)steps + 2, f);
            fclose(f);
        }
        ftn_model_free(m);
        free(losses);
        free(floor_loss);
        free(l2);
        return tl_finish();
    }
    const ftn_comm *comm;
    CHECK_OK(ftn_mpi_start(&argc, &argv, &comm));
    if (!comm) { fprintf(stderr, "test_mpi_exact dist: run under mpiexec\n"); return 2; }
    train(comm, B, steps, size, PLAIN, losses, &m);
    if (m) {
        size_t np = m->graph.n_param_floats, nr = np + 2 * (size_t)steps + 2;
        float *ref = malloc(sizeof(float) * nr), *p0 = malloc(sizeof(float) * np);
        FILE *f = fopen(ref_path, "rb");
        CHECK(f && fread(ref, sizeof(float), nr, f) == nr, "%s", ref_path);
        if (f) fclose(f);
        const float *floor_loss = ref + steps + np;
        const double tol_param = fmax(1e-4, floor_times * floor_loss[steps]),
                     tol_stat = fmax(1e-4, floor_times * floor_loss[steps + 1]);
        double worst_loss = 0, worst_param = 0;
        for (int k = 0; k < steps; k++) {
            double d = fabs((double)losses[k] - ref[k]) / fabs((double)ref[k]), tol = fmax(1e-5, floor_times * floor_loss[k]);
            if (!(d <= worst_loss)) worst_loss = d;
            CHECK(d <= tol, "step %d: loss %.9g, one process %.9g (relative %.3g; floor %.3g)", k + 1, losses[k], ref[k], d,
                  floor_loss[k]);
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
                CHECK(d <= tol_param, "%s: max abs difference %.3g (floor %.3g)", p->name, d, floor_loss[steps]);
            } else {
                d /= big > 0 ? big : 1;
                if (!(d <= worst_stat)) worst_stat = d;
                CHECK(d <= tol_stat, "%s: max relative difference %.3g (floor %.3g)", p->name, d, floor_loss[steps + 1]);
            }
        }
        /* every process holds process 0's model, bit for bit */
        memcpy(p0, m->params, sizeof(float) * np);
        MPI_Bcast(p0, (int)np, MPI_FLOAT, 0, MPI_COMM_WORLD);
        CHECK(!memcmp(p0, m->params, sizeof(float) * np), "process %d's parameters differ from process 0's", comm->rank);
        if (comm->rank == 0)
            printf("%d processes x batch %d vs 1 x %d, %d steps at %dx%d: loss max rel diff %.3g, params max abs diff "
                   "%.3g, BN running statistics max rel diff %.3g; floor %.3g, %.3g, %.3g\n", comm->size, B / comm->size,
                   B, steps, size, size, worst_loss, worst_param, worst_stat, floor_loss[steps - 1], floor_loss[steps],
                   floor_loss[steps + 1]);
        free(ref);
        free(p0);
    }
    ftn_model_free(m);
    free(losses);
    int rc = tl_finish();
    ftn_mpi_stop();
    return rc;
}
