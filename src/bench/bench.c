/* Measurements behind `ftunet bench` (see bench.h). */
#include "bench/bench.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int ftn_bench_threads(void) { return omp_get_max_threads(); }

/* ---- peak ----------------------------------------------------------------------------------- */

#define DN(call) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { \
        s = ftn_fail(FTN_EINTERNAL, "bench: oneDNN matmul: %s failed (status %d)", #call, (int)st_); goto done; } } while (0)

ftn_status ftn_bench_peak_gflops(int n, int reps, double *gflops)
{
    *gflops = 0;
    if (n < 16 || n > 16384 || reps < 1) return ftn_fail(FTN_EINVAL, "bench: matmul size %d or repetitions %d out of range", n, reps);
    ftn_status s = FTN_OK;
    dnnl_engine_t eng = NULL;
    dnnl_stream_t stream = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t mem[3] = { 0 };
    DN(dnnl_engine_create(&eng, dnnl_cpu, 0));
    DN(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));
    dnnl_dims_t dims = { n, n };
    dnnl_memory_desc_t md;
    DN(dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t mmd;
    DN(dnnl_matmul_desc_init(&mmd, &md, &md, NULL, &md));
    DN(dnnl_primitive_desc_create(&pd, &mmd, NULL, eng, NULL));
    DN(dnnl_primitive_create(&prim, pd));
    for (int i = 0; i < 3; i++) {
        DN(dnnl_memory_create(&mem[i], &md, eng, DNNL_MEMORY_ALLOCATE));
        void *h;
        DN(dnnl_memory_get_data_handle(mem[i], &h));
        float *f = h;
        for (size_t j = 0; j < (size_t)n * n; j++) f[j] = (float)((j * 2654435761u) % 1000) * 1e-3f - 0.5f;
    }
    dnnl_exec_arg_t args[3] = { { DNNL_ARG_SRC, mem[0] }, { DNNL_ARG_WEIGHTS, mem[1] }, { DNNL_ARG_DST, mem[2] } };
    double best = 1e30;
    for (int r = 0; r <= reps; r++) { /* r == 0: warm-up */
        double t0 = omp_get_wtime();
        DN(dnnl_primitive_execute(prim, stream, 3, args));
        DN(dnnl_stream_wait(stream));
        double t = omp_get_wtime() - t0;
        if (r > 0 && t < best) best = t;
    }
    *gflops = 2.0 * n * n * (double)n / best * 1e-9;
done:
    for (int i = 0; i < 3; i++) if (mem[i]) dnnl_memory_destroy(mem[i]);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (stream) dnnl_stream_destroy(stream);
    if (eng) dnnl_engine_destroy(eng);
    return s;
}

/* ---- memory --------------------------------------------------------------------------------- */

bool ftn_bench_reset_peak_rss(void)
{
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

ftn_status ftn_bench_model(const ftn_bench_config *cfg, ftn_bench_result *r)
{
    memset(r, 0, sizeof *r);
    if (cfg->batch < 1 || cfg->steps < 1) return ftn_fail(FTN_EINVAL, "bench: batch %d and steps %d must be positive", cfg->batch, cfg->steps);
    r->rss_reset = ftn_bench_reset_peak_rss();
    ftn_model *m = NULL;
    ftn_session *s = NULL;
    float *x = NULL, *y = NULL;
    ftn_status st = ftn_model_create(cfg->model, cfg->channels, cfg->height, cfg->width, &m);
    if (st) return st;
    if ((st = ftn_model_init(m, 1))) goto done;
    if ((st = ftn_session_create_ex(m, cfg->batch, cfg->engine, cfg->precision, &s))) goto done;
    r->rss_session_mib = ftn_bench_peak_rss_mib();
    r->forward_flops = ftn_model_forward_flops(m);
    r->params = ftn_model_param_count(m);

    size_t px = (size_t)cfg->height * cfg->width;
    x = malloc((size_t)cfg->batch * cfg->channels * px * sizeof(float));
    y = malloc((size_t)cfg->batch * px * sizeof(float));
    if (!x || !y) { st = ftn_fail(FTN_ENOMEM, "bench: out of memory for the inputs"); goto done; }
    uint64_t seed = 7;
    for (size_t i = 0; i < (size_t)cfg->batch * cfg->channels * px; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)(seed >> 40) / (float)(1u << 24);
    }
    for (int n = 0; n < cfg->batch; n++) { /* a disc per image, moving with n */
        double cy = cfg->height * (0.3 + 0.4 * (n % 5) / 4.0), cx = cfg->width * 0.5, rad = cfg->height * 0.15;
        for (int i = 0; i < cfg->height; i++)
            for (int j = 0; j < cfg->width; j++)
                y[n * px + (size_t)i * cfg->width + j] = (i - cy) * (i - cy) + (j - cx) * (j - cx) <= rad * rad ? 1.f : 0.f;
    }

    /* inference: one warm-up, then `steps` timed forwards */
    if ((st = ftn_session_forward(s, x, 0))) goto done;
    double t0 = omp_get_wtime();
    for (int i = 0; i < cfg->steps; i++)
        if ((st = ftn_session_forward(s, x, 0))) goto done;
    r->infer_batch_s = (omp_get_wtime() - t0) / cfg->steps;
    r->infer_ips = cfg->batch / r->infer_batch_s;
    r->infer_gflops = r->infer_ips * r->forward_flops * 1e-9;
    r->rss_infer_mib = ftn_bench_peak_rss_mib();

    /* training: one warm-up, then `steps` timed ftn_train_step */
    ftn_loss_config loss = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    ftn_optimizer_config opt = ftn_optimizer_default(FTN_OPT_SGD);
    opt.lr = 1e-4f; /* keep the weights tame over the steps */
    if ((st = ftn_train_step(s, x, y, &loss, &opt, &r->last_loss))) goto done;
    t0 = omp_get_wtime();
    for (int i = 0; i < cfg->steps; i++)
        if ((st = ftn_train_step(s, x, y, &loss, &opt, &r->last_loss))) goto done;
    r->train_step_s = (omp_get_wtime() - t0) / cfg->steps;
    r->train_ips = cfg->batch / r->train_step_s;
    r->train_gflops = r->train_ips * 3 * r->forward_flops * 1e-9;
    r->rss_train_mib = ftn_bench_peak_rss_mib();

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
        ftn_session_set_profile(s, 0);
    }
done:
    free(x);
    free(y);
    ftn_session_free(s);
    ftn_model_free(m);
    return st;
}
