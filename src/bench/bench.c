/* Measurements behind `ftunet bench` (see bench.h). */
#include "bench/bench.h"

#include <oneapi/dnnl/dnnl.h>
#include <malloc.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int ftn_bench_threads(void) { return omp_get_max_threads(); }

/* ---- peak ----------------------------------------------------------------------------------- */

#define DN(call) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { \
        s = ftn_fail(FTN_EINTERNAL, "bench: oneDNN matmul: %s failed (status %d)", #call, (int)st_); goto done; } } while (0)

struct ftn_bench_probe {
    int n;
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t mem[3];
};

void ftn_bench_probe_free(ftn_bench_probe *p)
{
    if (!p) return;
    for (int i = 0; i < 3; i++) if (p->mem[i]) dnnl_memory_destroy(p->mem[i]);
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->pd) dnnl_primitive_desc_destroy(p->pd);
    if (p->stream) dnnl_stream_destroy(p->stream);
    if (p->eng) dnnl_engine_destroy(p->eng);
    free(p);
}

ftn_status ftn_bench_probe_create(int n, ftn_bench_probe **out)
{
    *out = NULL;
    if (n < 16 || n > 16384) return ftn_fail(FTN_EINVAL, "bench: matmul size %d out of range (16..16384)", n);
    ftn_bench_probe *p = calloc(1, sizeof *p);
    if (!p) return ftn_fail(FTN_ENOMEM, "bench: out of memory for the peak probe");
    p->n = n;
    ftn_status s = FTN_OK;
    DN(dnnl_engine_create(&p->eng, dnnl_cpu, 0));
    DN(dnnl_stream_create(&p->stream, p->eng, dnnl_stream_default_flags));
    dnnl_dims_t dims = { n, n };
    dnnl_memory_desc_t md;
    DN(dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t mmd;
    DN(dnnl_matmul_desc_init(&mmd, &md, &md, NULL, &md));
    DN(dnnl_primitive_desc_create(&p->pd, &mmd, NULL, p->eng, NULL));
    DN(dnnl_primitive_create(&p->prim, p->pd));
    for (int i = 0; i < 3; i++) {
        DN(dnnl_memory_create(&p->mem[i], &md, p->eng, DNNL_MEMORY_ALLOCATE));
        void *h;
        DN(dnnl_memory_get_data_handle(p->mem[i], &h));
        float *f = h;
        for (size_t j = 0; j < (size_t)n * n; j++) f[j] = (float)((j * 2654435761u) % 1000) * 1e-3f - 0.5f;
    }
done:
    if (s) ftn_bench_probe_free(p);
    else *out = p;
    return s;
}

ftn_status ftn_bench_probe_run(ftn_bench_probe *p, double *seconds)
{
    ftn_status s = FTN_OK;
    dnnl_exec_arg_t args[3] = { { DNNL_ARG_SRC, p->mem[0] }, { DNNL_ARG_WEIGHTS, p->mem[1] }, { DNNL_ARG_DST, p->mem[2] } };
    double t0 = omp_get_wtime();
    DN(dnnl_primitive_execute(p->prim, p->stream, 3, args));
    DN(dnnl_stream_wait(p->stream));
    *seconds = omp_get_wtime() - t0;
done:
    return s;
}

double ftn_bench_probe_flops(const ftn_bench_probe *p) { return 2.0 * p->n * p->n * (double)p->n; }

ftn_status ftn_bench_peak_gflops(int n, int reps, double *gflops)
{
    *gflops = 0;
    if (reps < 1) return ftn_fail(FTN_EINVAL, "bench: matmul repetitions %d out of range", reps);
    ftn_bench_probe *p;
    ftn_status s = ftn_bench_probe_create(n, &p);
    if (s) return s;
    double best = 1e30;
    for (int r = 0; r <= reps && !s; r++) { /* r == 0: warm-up */
        double t;
        if ((s = ftn_bench_probe_run(p, &t))) break;
        if (r > 0 && t < best) best = t;
    }
    if (!s) *gflops = ftn_bench_probe_flops(p) / best * 1e-9;
    ftn_bench_probe_free(p);
    return s;
}

/* ---- memory --------------------------------------------------------------------------------- */

bool ftn_bench_reset_peak_rss(void)
{
    /* freed memory that the allocator still holds (an earlier model's sessions) would count in the
     * next model's peak: hand it back first */
    malloc_trim(0);
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    bool ok = fputs("5", f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok;
}

double ftn_bench_peak_rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double mib = -1;
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) { mib = kb / 1024.0; break; }
    }
    fclose(f);
    return mib;
}

/* ---- networks ------------------------------------------------------------------------------- */

void ftn_bench_result_free(ftn_bench_result *r)
{
    free(r->layers);
    free(r->layer_names);
    r->layers = NULL;
    r->layer_names = NULL;
    r->n_layers = 0;
}

/* Runs the probe once, adding its time to *seconds. */
static ftn_status probe_add(ftn_bench_probe *p, double *seconds)
{
    double t;
    ftn_status s = ftn_bench_probe_run(p, &t);
    *seconds += t;
    return s;
}

/* Training's batch assembly (bench --augment), as train.c does it: batch sample j of step i is
 * pool sample (i + j) mod n, copied, then augmented with (seed 1, epoch i + 1, that index). */
typedef struct assembly {
    const ftn_augment_config *aug;
    const float *pool_x, *pool_y; /* n samples */
    float *x, *y;                 /* the batch the step trains on */
    int *index;
    int n, c, h, w;
    double seconds;               /* summed over the timed steps */
} assembly;

static ftn_status assemble(assembly *a, int step)
{
    size_t px = (size_t)a->h * a->w, img = px * (size_t)a->c;
    for (int j = 0; j < a->n; j++) {
        int k = (step + j) % a->n;
        a->index[j] = k;
        memcpy(a->x + (size_t)j * img, a->pool_x + (size_t)k * img, img * sizeof(float));
        memcpy(a->y + (size_t)j * px, a->pool_y + (size_t)k * px, px * sizeof(float));
    }
    return ftn_augment_batch(a->aug, 1, step + 1, a->index, a->n, a->x, a->c, a->h, a->w, a->y);
}

/* What a timed phase runs: a training step when `masks` is set, else an inference forward; with
 * `assembly`, each training step's batch is assembled first (timed apart). */
typedef struct phase {
    ftn_session *s;
    const float *x, *masks;
    const ftn_loss_config *loss;
    const ftn_optimizer_config *opt;
    float *last_loss;
    assembly *assembly;
} phase;

/* n timed steps of `ph`, with the probe (if any) run before each and after the last: *step_s the
 * mean seconds of a step, *peak the probe's GFLOP/s over those runs (their FLOPs over their time). */
static ftn_status timed_phase(const phase *ph, ftn_bench_probe *probe, int n, double *step_s, double *peak)
{
    ftn_status st = FTN_OK;
    double busy = 0, probe_s = 0;
    for (int i = 0; i < n && !st; i++) {
        if (probe && (st = probe_add(probe, &probe_s))) break;
        if (ph->assembly) {
            double a0 = omp_get_wtime();
            if ((st = assemble(ph->assembly, i))) break;
            ph->assembly->seconds += omp_get_wtime() - a0;
        }
        double t0 = omp_get_wtime();
        st = ph->masks ? ftn_train_step(ph->s, ph->x, ph->masks, ph->loss, ph->opt, ph->last_loss)
                       : ftn_session_forward(ph->s, ph->x, 0);
        busy += omp_get_wtime() - t0;
    }
    if (probe && !st) st = probe_add(probe, &probe_s);
    *step_s = busy / n;
    *peak = probe && !st ? (n + 1) * ftn_bench_probe_flops(probe) / probe_s * 1e-9 : 0;
    return st;
}

/* Creates the probe and runs it once untimed (first-touch page faults). */
static ftn_status probe_start(int n, ftn_bench_probe **p)
{
    double t;
    ftn_status s = ftn_bench_probe_create(n, p);
    if (!s && (s = ftn_bench_probe_run(*p, &t))) {
        ftn_bench_probe_free(*p);
        *p = NULL;
    }
    return s;
}

/* The synthetic batch: uniform images, and a disc per image moving with its index as the mask. */
static ftn_status synthetic_batch(const ftn_bench_config *cfg, float **x, float **y)
{
    size_t px = (size_t)cfg->height * cfg->width;
    *x = malloc((size_t)cfg->batch * cfg->channels * px * sizeof(float));
    *y = malloc((size_t)cfg->batch * px * sizeof(float));
    if (!*x || !*y) return ftn_fail(FTN_ENOMEM, "bench: out of memory for the inputs");
    uint64_t seed = 7;
    for (size_t i = 0; i < (size_t)cfg->batch * cfg->channels * px; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        (*x)[i] = (float)(seed >> 40) / (float)(1u << 24);
    }
    for (int n = 0; n < cfg->batch; n++) {
        double cy = cfg->height * (0.3 + 0.4 * (n % 5) / 4.0), cx = cfg->width * 0.5, rad = cfg->height * 0.15;
        for (int i = 0; i < cfg->height; i++)
            for (int j = 0; j < cfg->width; j++)
                (*y)[n * px + (size_t)i * cfg->width + j] = (i - cy) * (i - cy) + (j - cx) * (j - cx) <= rad * rad ? 1.f : 0.f;
    }
    return FTN_OK;
}

/* The paper's loss and SGD, with a learning rate that keeps the weights tame over the steps. */
static void bench_training(ftn_loss_config *loss, ftn_optimizer_config *opt)
{
    *loss = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    *opt = ftn_optimizer_default(FTN_OPT_SGD);
    opt->lr = 1e-4f;
}

ftn_status ftn_bench_model(const ftn_bench_config *cfg, ftn_bench_result *r)
{
    memset(r, 0, sizeof *r);
    if (cfg->batch < 1 || cfg->steps < 1) return ftn_fail(FTN_EINVAL, "bench: batch %d and steps %d must be positive", cfg->batch, cfg->steps);
    r->rss_reset = ftn_bench_reset_peak_rss();
    ftn_model *m = NULL;
    ftn_session *s = NULL;
    ftn_bench_probe *probe = NULL;
    float *x = NULL, *y = NULL;
    ftn_status st = ftn_model_create(cfg->model, cfg->channels, cfg->height, cfg->width, &m);
    if (st) return st;

    if ((st = ftn_model_init(m, 1))) goto done;
    if ((st = ftn_session_create_ex(m, cfg->batch, cfg->engine, cfg->precision, &s))) goto done;
    r->rss_session_mib = ftn_bench_peak_rss_mib();
    r->forward_flops = ftn_model_forward_flops(m);
    r->params = ftn_model_param_count(m);

    if ((st = synthetic_batch(cfg, &x, &y))) goto done;

    /* Both warm-ups first, and the memory read off them (the engine allocates nothing later);
     * then the timed phases, inference (3 × `steps` forwards) and training (`steps` steps), with
     * the peak probe run before each timed step and after each phase's last. The probe exists
     * only then, so its matrices are not in the memory figures. */
    ftn_loss_config loss;
    ftn_optimizer_config opt;
    bench_training(&loss, &opt);
    if ((st = ftn_session_forward(s, x, 0))) goto done;
    r->rss_infer_mib = ftn_bench_peak_rss_mib();
    if ((st = ftn_train_step(s, x, y, &loss, &opt, &r->last_loss))) goto done;
    r->rss_train_mib = ftn_bench_peak_rss_mib();
    if (cfg->probe_n > 0 && (st = probe_start(cfg->probe_n, &probe))) goto done;

    phase infer = { s, x, NULL, NULL, NULL, NULL, NULL }, train = { s, x, y, &loss, &opt, &r->last_loss, NULL };
    assembly as = { cfg->augment, x, y, NULL, NULL, NULL, cfg->batch, cfg->channels, cfg->height, cfg->width, 0 };
    if (cfg->augment) { /* the training steps train on assembled batches; one untimed assembly first */
        size_t px = (size_t)cfg->height * cfg->width;
        as.x = malloc((size_t)cfg->batch * cfg->channels * px * sizeof(float));
        as.y = malloc((size_t)cfg->batch * px * sizeof(float));
        as.index = malloc((size_t)cfg->batch * sizeof(int));
        if (!as.x || !as.y || !as.index) st = ftn_fail(FTN_ENOMEM, "bench: out of memory for the batch");
        if (!st) st = assemble(&as, 0);
        train.x = as.x, train.masks = as.y, train.assembly = &as;
    }
    if (st) goto done;
    if ((st = timed_phase(&infer, probe, FTN_BENCH_INFER_PER_STEP * cfg->steps, &r->infer_batch_s, &r->infer_peak_gflops)) ||
        (st = timed_phase(&train, probe, cfg->steps, &r->train_step_s, &r->train_peak_gflops)))
        goto done;
    ftn_bench_probe_free(probe);
    probe = NULL;
    r->infer_ips = cfg->batch / r->infer_batch_s;
    r->infer_gflops = r->infer_ips * r->forward_flops * 1e-9;
    r->train_ips = cfg->batch / r->train_step_s;
    r->augment_batch_s = cfg->augment ? as.seconds / cfg->steps : 0;
    r->train_gflops = r->train_ips * 3 * r->forward_flops * 1e-9;

    if (cfg->profile) { /* separately timed steps: the parts, and per op kind */
        ftn_session_set_profile(s, 1);
        for (int i = 0; i < cfg->steps; i++) {
            double a = omp_get_wtime();
            if ((st = ftn_session_forward(s, x, 1))) goto done;
            double b = omp_get_wtime();
            if ((st = ftn_session_loss(s, y, &loss, &r->last_loss))) goto done;
            double c = omp_get_wtime();
            if ((st = ftn_session_backward(s))) goto done;
            double d = omp_get_wtime();
            if ((st = ftn_model_step(m, &opt))) goto done;
            double e = omp_get_wtime();
            r->t_forward += (b - a) / cfg->steps;
            r->t_loss += (c - b) / cfg->steps;
            r->t_backward += (d - c) / cfg->steps;
            r->t_update += (e - d) / cfg->steps;
        }
        int n = ftn_session_profile(s, r->profile, FTN_BENCH_MAX_PROFILE);
        r->n_profile = n < FTN_BENCH_MAX_PROFILE ? n : FTN_BENCH_MAX_PROFILE;
        for (int i = 0; i < r->n_profile; i++) { r->profile[i].seconds /= cfg->steps; r->profile[i].calls /= cfg->steps; }
        int nl = ftn_session_profile_layers(s, NULL, 0);
        if (!(r->layers = calloc((size_t)nl, sizeof *r->layers))) { st = ftn_fail(FTN_ENOMEM, "bench: out of memory for the profile"); goto done; }
        r->n_layers = ftn_session_profile_layers(s, r->layers, nl);
        size_t len = 0;
        for (int i = 0; i < r->n_layers; i++) len += strlen(r->layers[i].label) + strlen(r->layers[i].after) + 2;
        if (!(r->layer_names = malloc(len))) { st = ftn_fail(FTN_ENOMEM, "bench: out of memory for the profile"); goto done; }
        char *q = r->layer_names;
        for (int i = 0; i < r->n_layers; i++) { /* the labels live in the model's graph: copy them */
            const char **str[2] = { &r->layers[i].label, &r->layers[i].after };
            for (int j = 0; j < 2; j++) {
                size_t n = strlen(*str[j]) + 1;
                memcpy(q, *str[j], n);
                *str[j] = q;
                q += n;
            }
        }
        for (int i = 0; i < r->n_layers; i++)
            for (int p = 0; p < 2; p++) { r->layers[i].seconds[p] /= cfg->steps; r->layers[i].calls[p] /= cfg->steps; }
        ftn_session_set_profile(s, 0);
    }
done:
    if (st) ftn_bench_result_free(r);
    free(as.x);
    free(as.y);
    free(as.index);
    ftn_bench_probe_free(probe);
    free(x);
    free(y);
    ftn_session_free(s);
    ftn_model_free(m);
    return st;
}

/* ---- two precisions, step by step ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* out: the median, lowest and highest of v[0..n) (sorted in place). */
static void spread(double *v, int n, double out[3])
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    out[0] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    out[1] = v[0];
    out[2] = v[n - 1];
}

/* One training step or inference forward of session s; *t its seconds. */
static ftn_status timed_step(const phase *ph, double *t)
{
    double t0 = omp_get_wtime();
    ftn_status st = ph->masks ? ftn_train_step(ph->s, ph->x, ph->masks, ph->loss, ph->opt, ph->last_loss)
                              : ftn_session_forward(ph->s, ph->x, 0);
    *t = omp_get_wtime() - t0;
    return st;
}

/* n pairs of steps of a and b, in the order a b, b a, a b, …; ratio[i] = t_a / t_b of pair i. */
static ftn_status alternate(const phase *a, const phase *b, int n, double *ratio)
{
    ftn_status st = FTN_OK;
    for (int i = 0; i < n && !st; i++) {
        double ta = 0, tb = 0;
        if (i % 2 == 0) {
            if (!(st = timed_step(a, &ta))) st = timed_step(b, &tb);
        } else {
            if (!(st = timed_step(b, &tb))) st = timed_step(a, &ta);
        }
        ratio[i] = tb > 0 ? ta / tb : 0;
    }
    return st;
}

ftn_status ftn_bench_interleaved(const ftn_bench_config *cfg, ftn_precision b, ftn_bench_pair *r)
{
    memset(r, 0, sizeof *r);
    if (cfg->batch < 1 || cfg->steps < 1) return ftn_fail(FTN_EINVAL, "bench: batch %d and steps %d must be positive", cfg->batch, cfg->steps);
    ftn_model *m = NULL;
    ftn_session *sa = NULL, *sb = NULL;
    float *x = NULL, *y = NULL;
    double *ratio = NULL;
    int n_train = cfg->steps, n_infer = FTN_BENCH_INFER_PER_STEP * cfg->steps;
    ftn_status st = ftn_model_create(cfg->model, cfg->channels, cfg->height, cfg->width, &m);
    if (st) return st;
    if ((st = ftn_model_init(m, 1)) ||
        (st = ftn_session_create_ex(m, cfg->batch, cfg->engine, cfg->precision, &sa)) ||
        (st = ftn_session_create_ex(m, cfg->batch, cfg->engine, b, &sb)) ||
        (st = synthetic_batch(cfg, &x, &y)))
        goto done;
    if (!(ratio = malloc(sizeof *ratio * (size_t)n_infer))) { st = ftn_fail(FTN_ENOMEM, "bench: out of memory"); goto done; }
    ftn_loss_config loss;
    ftn_optimizer_config opt;
    bench_training(&loss, &opt);
    float last;
    phase ta = { sa, x, y, &loss, &opt, &last, NULL }, tb = { sb, x, y, &loss, &opt, &last, NULL };
    phase ia = { sa, x, NULL, NULL, NULL, NULL, NULL }, ib = { sb, x, NULL, NULL, NULL, NULL, NULL };
    double t;
    /* one untimed warm-up of each */
    if ((st = timed_step(&ia, &t)) || (st = timed_step(&ib, &t)) || (st = timed_step(&ta, &t)) || (st = timed_step(&tb, &t)))
        goto done;
    if ((st = alternate(&ta, &tb, n_train, ratio))) goto done;
    spread(ratio, n_train, r->train);
    if ((st = alternate(&ia, &ib, n_infer, ratio))) goto done;
    spread(ratio, n_infer, r->infer);
    r->n_train = n_train;
    r->n_infer = n_infer;
done:
    free(ratio);
    free(x);
    free(y);
    ftn_session_free(sa);
    ftn_session_free(sb);
    ftn_model_free(m);
    return st;
}

/* ---- steps on a caller's schedule (bench --step-server) -------------------------------------- */

struct ftn_bench_stepper {
    ftn_model *m;
    ftn_session *s;
    float *x, *y;
    ftn_loss_config loss;
    ftn_optimizer_config opt;
    float last_loss;
};

void ftn_bench_stepper_free(ftn_bench_stepper *p)
{
    if (!p) return;
    ftn_session_free(p->s);
    ftn_model_free(p->m);
    free(p->x);
    free(p->y);
    free(p);
}

ftn_status ftn_bench_stepper_create(const ftn_bench_config *cfg, ftn_bench_stepper **out)
{
    *out = NULL;
    if (cfg->batch < 1) return ftn_fail(FTN_EINVAL, "bench: batch %d must be positive", cfg->batch);
    ftn_bench_stepper *p = calloc(1, sizeof *p);
    if (!p) return ftn_fail(FTN_ENOMEM, "bench: out of memory for a stepper");
    bench_training(&p->loss, &p->opt);
    ftn_status st = ftn_model_create(cfg->model, cfg->channels, cfg->height, cfg->width, &p->m);
    if (!st) st = ftn_model_init(p->m, 1);
    if (!st) st = ftn_session_create_ex(p->m, cfg->batch, cfg->engine, cfg->precision, &p->s);
    if (!st) st = synthetic_batch(cfg, &p->x, &p->y);
    /* one untimed step of each kind: the engine's first-run costs stay out of the timed ones */
    if (!st) st = ftn_session_forward(p->s, p->x, 0);
    if (!st) st = ftn_train_step(p->s, p->x, p->y, &p->loss, &p->opt, &p->last_loss);
    if (st) ftn_bench_stepper_free(p);
    else *out = p;
    return st;
}

ftn_status ftn_bench_stepper_run(ftn_bench_stepper *p, bool train, double *seconds)
{
    phase ph = { p->s, p->x, train ? p->y : NULL, &p->loss, &p->opt, &p->last_loss, NULL };
    return timed_step(&ph, seconds);
}
