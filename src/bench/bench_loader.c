/* `ftunet bench --augment`: training steps fed by the streaming loader (data/batch_loader.h),
 * with a warm and a cold cache, against the same batches fed from memory (ftunet_protocol.h,
 * ftn_bench_loader). */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/batch_loader.h"
#include "protocol/run_internal.h"

/* What the phases share. */
typedef struct bench_run {
    const ftn_bench_config *cfg;
    ftn_dataset ds;
    ftn_session *s;
    ftn_loss_config loss;
    ftn_optimizer_config opt;
    int *ids, n, steps;
    size_t img, px;
} bench_run;

/* A loader of the run's batches, begun; cache_bytes SIZE_MAX: every sample cached first. */
static ftn_status start_loader(bench_run *b, int threads, size_t cache_bytes, ftn_loader **l)
{
    const ftn_bench_config *c = b->cfg;
    ftn_loader_config lc = { c->channels, c->height, c->width, FTN_RESIZE_NEAREST, c->batch, threads, 0, cache_bytes,
                             c->augment, 1 };
    FTN_TRY(ftn_loader_create(&b->ds, &lc, l));
    ftn_status st = FTN_OK;
    if (cache_bytes == SIZE_MAX) { /* warm: one untimed pass fills the cache */
        const float *x, *y;
        int got = 1;
        st = ftn_loader_begin(*l, b->ids, b->n, 0, 1);
        while (!st && got) st = ftn_loader_next(*l, &x, &y, &got);
    }
    if (!st) st = ftn_loader_begin(*l, b->ids, b->n, 0, 1);
    return st;
}

/* One untimed step, then b->steps timed ones: batches from mem (steps + 1 of them) or from l;
 * *step_s their mean wall time, waiting for the batch included. */
static ftn_status phase(bench_run *b, const float *mem_x, const float *mem_y, ftn_loader *l, double *step_s)
{
    double total = 0;
    float loss;
    for (int i = 0; i <= b->steps; i++) {
        double t0 = omp_get_wtime();
        const float *x, *y;
        int got = b->cfg->batch;
        if (l) FTN_TRY(ftn_loader_next(l, &x, &y, &got));
        else x = mem_x + (size_t)i * got * b->img, y = mem_y + (size_t)i * got * b->px;
        if (got != b->cfg->batch) return ftn_fail(FTN_EINTERNAL, "bench: the loader gave %d images, not %d", got, b->cfg->batch);
        FTN_TRY(ftn_train_step(b->s, x, y, &b->loss, &b->opt, &loss));
        if (i) total += omp_get_wtime() - t0;
    }
    *step_s = total / b->steps;
    return FTN_OK;
}

/* The batches in memory, as the loader gives them (no worker, so that this too is timed: one
 * sample's decode + resize + augmentation on one thread). */
static ftn_status memory_batches(bench_run *b, float **x, float **y, double *sample_s)
{
    size_t n = (size_t)b->n;
    *x = malloc(sizeof(float) * n * b->img);
    *y = malloc(sizeof(float) * n * b->px);
    if (!*x || !*y) return ftn_fail(FTN_ENOMEM, "bench: out of memory for %d batches", b->steps + 1);
    ftn_loader *l;
    FTN_TRY(start_loader(b, 0, 0, &l));
    double t0 = omp_get_wtime();
    ftn_status st = FTN_OK;
    for (size_t k = 0; !st; k += (size_t)b->cfg->batch) {
        const float *bx, *by;
        int got;
        if ((st = ftn_loader_next(l, &bx, &by, &got)) || !got) break;
        memcpy(*x + k * b->img, bx, sizeof(float) * (size_t)got * b->img);
        memcpy(*y + k * b->px, by, sizeof(float) * (size_t)got * b->px);
    }
    *sample_s = (omp_get_wtime() - t0) / (double)n;
    ftn_loader_free(l);
    return st;
}

/* The synthetic data set's folder and its two subfolders, removed. */
static void remove_data(const char *dir)
{
    char p[FTN_PATH_MAX];
    if (snprintf(p, sizeof p, "%s/images", dir) < (int)sizeof p) ftn_run_remove_folder(p);
    if (snprintf(p, sizeof p, "%s/masks", dir) < (int)sizeof p) ftn_run_remove_folder(p);
    ftn_run_remove_folder(dir);
}

static ftn_status measure(bench_run *b, int threads, ftn_bench_loader_result *r)
{
    const ftn_bench_config *cfg = b->cfg;
    float *mx = NULL, *my = NULL;
    ftn_loader *warm = NULL, *cold = NULL;
    double mem[2];
    ftn_status st = memory_batches(b, &mx, &my, &r->decode_sample_s);
    if (!st) st = phase(b, mx, my, NULL, &mem[0]);
    if (!st) st = start_loader(b, threads, SIZE_MAX, &warm);
    if (!st) st = phase(b, NULL, NULL, warm, &r->warm_step_s);
    ftn_loader_free(warm);
    if (!st) st = start_loader(b, threads, 0, &cold);
    if (!st) st = phase(b, NULL, NULL, cold, &r->cold_step_s);
    ftn_loader_free(cold);
    if (!st) st = phase(b, mx, my, NULL, &mem[1]);
    free(mx);
    free(my);
    r->memory_step_s = (mem[0] + mem[1]) / 2;
    r->memory_ips = cfg->batch / r->memory_step_s;
    r->warm_ips = cfg->batch / r->warm_step_s;
    r->cold_ips = cfg->batch / r->cold_step_s;
    return st;
}

ftn_status ftn_bench_loader(const ftn_bench_config *cfg, int loader_threads, ftn_bench_loader_result *r)
{
    memset(r, 0, sizeof *r);
    if (!cfg || cfg->batch < 1 || cfg->steps < 1 || loader_threads < 0)
        return ftn_fail(FTN_EINVAL, "bench loader: batch, steps must be positive and threads >= 0");
    bench_run b = { .cfg = cfg, .steps = cfg->steps };
    b.n = (cfg->steps + 1) * cfg->batch;
    b.px = (size_t)cfg->height * cfg->width;
    b.img = b.px * (size_t)cfg->channels;
    r->images = b.n;
    r->threads = loader_threads;
    const char *tmp = getenv("TMPDIR");
    char dir[FTN_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/ftunet-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return ftn_fail(FTN_EIO, "%s: cannot create a temporary folder", dir);
    ftn_model *m = NULL;
    ftn_status st = ftn_synth_write(dir, cfg->channels == 3 ? FTN_SYNTH_DERMOSCOPY : FTN_SYNTH_ULTRASOUND, b.n, 1,
                                    FTN_SYNTH_DEFAULT_WIDTH, FTN_SYNTH_DEFAULT_HEIGHT);
    if (!st) st = ftn_dataset_open(dir, NULL, &b.ds);
    if (!st && !(b.ids = malloc(sizeof(int) * (size_t)b.n))) st = ftn_fail(FTN_ENOMEM, "bench: out of memory");
    for (int i = 0; !st && i < b.n; i++) b.ids[i] = i;
    if (!st) st = ftn_model_create(cfg->model, cfg->channels, cfg->height, cfg->width, &m);
    if (!st) st = ftn_model_init(m, 1);
    if (!st) st = ftn_session_create_ex(m, cfg->batch, cfg->engine, cfg->precision, &b.s);
    b.loss = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY); /* ftn_bench_model's loss and SGD */
    b.opt = ftn_optimizer_default(FTN_OPT_SGD);
    b.opt.lr = 1e-4f;
    if (!st) st = measure(&b, loader_threads, r);
    ftn_session_free(b.s);
    ftn_model_free(m);
    free(b.ids);
    ftn_dataset_free(&b.ds);
    remove_data(dir);
    return st;
}
