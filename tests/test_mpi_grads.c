/* One step of data parallelism is the single-process batch, at float rounding: R processes, each
 * with its slice of a batch of B, compute the loss and the parameter gradients of attn-unet-mi-ds
 * (summed over the group) and the BN running statistics of one training forward; each process
 * also computes them itself on the whole batch, alone, and compares tensor by tensor: the loss
 * within 1e-6 (relative), every tensor's gradient within TOL (the largest absolute difference
 * over the tensor's scale, grad_scale; default 1e-5), the running statistics within 1e-6 of each
 * tensor's largest value. The floor beside it: the same single-process batch with its images in
 * reverse order, whose gradients differ from the first only by the rounding of the sums.
 *   mpiexec -n R test_mpi_grads B SIZE [TOL]
 * One step is where a bug shows (a sum missing, doubled or normalised by the wrong count moves a
 * gradient by far more than rounding); over many steps any float rounding difference is
 * amplified by training's chaos, which `test_mpi_grads chaos B STEPS SIZE` (one process, no MPI)
 * measures: the same training twice, the second from initial weights moved by 1 ulp, or with
 * each batch's images in reverse order.
 * MPI_EXACT_VERBOSE=1 prints every tensor's difference; MPI_GRADS_FLOOR=ulp makes the floor's run
 * the weights 1 ulp off instead. The engine is FTUNET_ENGINE's: the tolerance is for the reference
 * engine, whose forward is the same bit for bit in the group (its sums are double); oneDNN's
 * forward rounds differently with the batch's split or order, and ReLU and max-pool turn that
 * into gradient differences of up to 0.2 of a tensor's largest (alone, the batch reversed). */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "ftunet_protocol.h"
#include "model/model.h"
#include "testlib.h"

#define SEED 7
#define NET "attn-unet-mi-ds"

/* images [lo, lo + n) of x, y (or in reverse order) to xs, ys */
static void take(const float *x, const float *y, size_t px, int lo, int n, int reverse, float *xs, float *ys)
{
    for (int i = 0; i < n; i++) {
        int j = reverse ? lo + n - 1 - i : lo + i;
        memcpy(xs + (size_t)i * px, x + (size_t)j * px, px * sizeof(float));
        memcpy(ys + (size_t)i * px, y + (size_t)j * px, px * sizeof(float));
    }
}

/* One training forward, loss and backward of m on n images in comm (NULL: alone): the loss; the
 * gradients are in m->grads, the running statistics moved in m->params. */
static int grads(ftn_model *m, const ftn_comm *comm, const float *x, const float *y, int n, double *loss)
{
    ftn_engine engine;
    ftn_session *s = NULL;
    CHECK_OK(ftn_engine_from_env(&engine));
    CHECK_OK(ftn_session_create(m, n, engine, &s));
    if (!s) return 1;
    ftn_session_set_comm(s, comm);
    ftn_loss_config cfg = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    float l = 0;
    CHECK_OK(ftn_session_forward(s, x, 1));
    CHECK_OK(ftn_session_loss(s, y, &cfg, &l));
    CHECK_OK(ftn_session_backward(s));
    ftn_session_free(s);
    *loss = l;
    return 0;
}

typedef struct { double grad, stat; const char *grad_at, *stat_at; } diffs;

static double largest(const float *v, const ftn_param *p)
{
    double big = 0;
    for (size_t i = 0; i < p->count; i++) big = fmax(big, fabs((double)v[p->offset + i]));
    return big;
}

/* The scale of parameter t's gradient g: its largest value, except for the bias of a conv whose
 * output only a BN reads: BN takes the mean out, so that gradient is 0 in exact arithmetic and
 * its float value rounding noise (1e-11 to 1e-8 here), measured against the conv weight's. */
static double grad_scale(const ftn_graph *gr, int t, const float *g)
{
    double big = largest(g, &gr->params[t]);
    for (int o = 0; o < gr->n_ops; o++) {
        const ftn_op *op = &gr->ops[o];
        if (op->bias != t || op->kind != FTN_OP_CONV || op->weight < 0) continue;
        int readers = 0, bn = 0;
        for (int u = 0; u < gr->n_ops; u++)
            for (int j = 0; j < gr->ops[u].n_in; j++)
                if (gr->ops[u].in[j] == op->out) { readers++; bn += gr->ops[u].kind == FTN_OP_BN; }
        for (int k = 0; k < gr->n_outputs; k++) readers += gr->outputs[k] == op->out;
        if (readers > 0 && readers == bn) big = fmax(big, largest(g, &gr->params[op->weight]));
    }
    return big;
}

/* a (gradients ga, parameters pa) against b: per tensor, the largest difference over the
 * tensor's scale (grad_scale; for running statistics their largest value); the worst of the
 * trainable ones' gradients and of the statistics. */
static diffs compare(const ftn_model *m, const float *ga, const float *pa, const float *gb, const float *pb,
                     const char *what, int verbose)
{
    diffs w = { 0, 0, "", "" };
    for (int t = 0; t < m->graph.n_params; t++) {
        const ftn_param *p = &m->graph.params[t];
        const float *a = (p->trainable ? ga : pa) + p->offset, *b = (p->trainable ? gb : pb) + p->offset;
        double d = 0, big = p->trainable ? grad_scale(&m->graph, t, gb) : largest(pb, p);
        for (size_t i = 0; i < p->count; i++) {
            double e = fabs((double)a[i] - b[i]);
            if (!(e <= d)) d = e;
        }
        d /= big > 0 ? big : 1;
        if (verbose) fprintf(stderr, "%s %s %s: %.3g of %.3g\n", what, p->name, p->trainable ? "gradient" : "value", d, big);
        double *worst = p->trainable ? &w.grad : &w.stat;
        if (!(d <= *worst)) { *worst = d; *(p->trainable ? &w.grad_at : &w.stat_at) = p->name; }
    }
    return w;
}

/* every trainable parameter 1 ulp off (up and down by turns) */
static void perturb(ftn_model *m)
{
    for (int t = 0; t < m->graph.n_params; t++) {
        const ftn_param *p = &m->graph.params[t];
        if (!p->trainable) continue;
        for (size_t i = 0; i < p->count; i++) {
            float *v = m->params + p->offset + i;
            *v = nextafterf(*v, (i & 1) ? INFINITY : -INFINITY);
        }
    }
}

/* `test_mpi_grads chaos B STEPS SIZE`: STEPS steps of batch B, alone, twice */
static int chaos(int B, int steps, int size, const char *how)
{
    ftn_engine engine;
    CHECK_OK(ftn_engine_from_env(&engine));
    size_t px = (size_t)size * size;
    float *x = malloc(sizeof(float) * px * (size_t)B * steps), *y = malloc(sizeof(float) * px * (size_t)B * steps);
    float *xs = malloc(sizeof(float) * px * (size_t)B), *ys = malloc(sizeof(float) * px * (size_t)B);
    float *loss[2] = { calloc((size_t)steps, sizeof(float)), calloc((size_t)steps, sizeof(float)) };
    tl_disc_images(x, y, B * steps, size);
    ftn_model *m[2] = { NULL, NULL };
    for (int r = 0; r < 2; r++) {
        ftn_session *s = NULL;
        CHECK_OK(ftn_model_create(NET, 1, size, size, &m[r]));
        CHECK_OK(ftn_model_init(m[r], SEED));
        if (r == 1 && !strcmp(how, "ulp")) perturb(m[r]);
        CHECK_OK(ftn_session_create(m[r], B, engine, &s));
        if (!s) return 1;
        ftn_loss_config lc = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
        ftn_optimizer_config opt = ftn_optimizer_default(FTN_OPT_SGD);
        for (int k = 0; k < steps; k++) {
            take(x, y, px, k * B, B, r == 1 && !strcmp(how, "order"), xs, ys);
            CHECK_OK(ftn_train_step(s, xs, ys, &lc, &opt, &loss[r][k]));
        }
        ftn_session_free(s);
    }
    double wl = 0;
    for (int k = 0; k < steps; k++) {
        double d = fabs((double)loss[0][k] - loss[1][k]) / fabs((double)loss[0][k]);
        if (d > wl) wl = d;
        printf("step %d: loss %.9g vs %.9g, relative %.3g\n", k + 1, loss[0][k], loss[1][k], d);
    }
    double wp = 0, ws = 0;
    for (int t = 0; t < m[0]->graph.n_params; t++) {
        const ftn_param *p = &m[0]->graph.params[t];
        double d = 0, big = 0;
        for (size_t i = 0; i < p->count; i++) {
            double e = fabs((double)m[0]->params[p->offset + i] - m[1]->params[p->offset + i]);
            if (e > d) d = e;
            big = fmax(big, fabs((double)m[0]->params[p->offset + i]));
        }
        if (p->trainable) wp = fmax(wp, d);
        else ws = fmax(ws, d / (big > 0 ? big : 1));
    }
    printf("chaos (%s), 1 process x batch %d, %d steps at %dx%d: loss max rel diff %.3g, params max abs diff %.3g, "
           "BN running statistics max rel diff %.3g\n", how, B, steps, size, size, wl, wp, ws);
    for (int r = 0; r < 2; r++) { ftn_model_free(m[r]); free(loss[r]); }
    free(x); free(y); free(xs); free(ys);
    return tl_finish();
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "chaos"))
        return chaos(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), argc > 5 ? argv[5] : "ulp");
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: mpiexec -n R test_mpi_grads B SIZE [TOL] | test_mpi_grads chaos B STEPS SIZE [ulp|order]\n");
        return 2;
    }
    int B = atoi(argv[1]), size = atoi(argv[2]);
    double tol = argc == 4 ? atof(argv[3]) : 1e-5;
    const ftn_comm *comm;
    CHECK_OK(ftn_mpi_start(&argc, &argv, &comm));
    if (!comm) { fprintf(stderr, "test_mpi_grads: run under mpiexec\n"); return 2; }
    int verbose = getenv("MPI_EXACT_VERBOSE") && comm->rank == 0;
    const char *fl_env = getenv("MPI_GRADS_FLOOR");
    int ulp = fl_env && !strcmp(fl_env, "ulp"); /* the floor's run: weights 1 ulp off, not the batch reversed */
    size_t px = (size_t)size * size;
    float *x = malloc(sizeof(float) * px * B), *y = malloc(sizeof(float) * px * B);
    float *xs = malloc(sizeof(float) * px * B), *ys = malloc(sizeof(float) * px * B);
    tl_disc_images(x, y, B, size);
    ftn_model *m = NULL;
    CHECK_OK(ftn_model_create(NET, 1, size, size, &m));
    if (!m) return tl_finish();
    CHECK_OK(ftn_model_init(m, SEED + (uint64_t)comm->rank));
    CHECK_OK(ftn_dist_broadcast_model(comm, m)); /* process 0's on every process */
    size_t np = m->graph.n_param_floats;
    float *p0 = malloc(sizeof(float) * np), *g[3], *p[3];
    memcpy(p0, m->params, sizeof(float) * np);
    double loss[3];
    /* 0: alone on the whole batch; 1: alone, the batch reversed; 2: this process's slice in the group */
    for (int r = 0; r < 3; r++) {
        memcpy(m->params, p0, sizeof(float) * np);
        int lo = 0, n = B;
        if (r == 2) ftn_dist_slice(comm, B, &lo, &n);
        CHECK(n > 0, "a batch of %d over %d processes", B, comm->size);
        if (r == 1 && ulp) perturb(m);
        take(x, y, px, lo, n, r == 1 && !ulp, xs, ys);
        grads(m, r == 2 ? comm : NULL, xs, ys, n, &loss[r]);
        g[r] = malloc(sizeof(float) * np);
        p[r] = malloc(sizeof(float) * np);
        memcpy(g[r], m->grads, sizeof(float) * np);
        memcpy(p[r], m->params, sizeof(float) * np);
    }
    diffs floor = compare(m, g[1], p[1], g[0], p[0], "reversed", verbose);
    diffs dist = compare(m, g[2], p[2], g[0], p[0], "group", verbose);
    double dl = fabs(loss[2] - loss[0]) / fabs(loss[0]), fl = fabs(loss[1] - loss[0]) / fabs(loss[0]);
    CHECK(dl <= 1e-6, "loss %.9g, one process %.9g (relative %.3g)", loss[2], loss[0], dl);
    CHECK(dist.grad <= tol, "gradient of %s: %.3g of its scale (the floor's: %.3g)", dist.grad_at, dist.grad,
          floor.grad);
    CHECK(dist.stat <= 1e-6, "BN running statistics %s: %.3g of its largest (the floor's: %.3g)", dist.stat_at,
          dist.stat, floor.stat);
    /* every process holds the same sums, bit for bit */
    float *g0 = malloc(sizeof(float) * np);
    memcpy(g0, g[2], sizeof(float) * np);
    MPI_Bcast(g0, (int)np, MPI_FLOAT, 0, MPI_COMM_WORLD);
    CHECK(!memcmp(g0, g[2], sizeof(float) * np), "process %d's gradients differ from process 0's", comm->rank);
    if (comm->rank == 0)
        printf("%d processes on a batch of %d at %dx%d, 1 step: loss rel diff %.3g, gradients max rel diff %.3g (%s), "
               "BN running statistics %.3g; alone with %s: %.3g, %.3g (%s), %.3g\n",
               comm->size, B, size, size, dl, dist.grad, dist.grad_at, dist.stat,
               ulp ? "the weights 1 ulp off" : "the batch reversed", fl, floor.grad, floor.grad_at, floor.stat);
    for (int r = 0; r < 3; r++) { free(g[r]); free(p[r]); }
    free(g0); free(p0); free(x); free(y); free(xs); free(ys);
    ftn_model_free(m);
    int rc = tl_finish();
    ftn_mpi_stop();
    return rc;
}
