/* Throughput and memory measurements behind `ftunet bench`: the machine's fp32 peak through a
 * oneDNN matmul, and training / inference speed, effective GFLOP/s and peak resident memory of
 * one network at one size and batch. */
#ifndef FTN_BENCH_H
#define FTN_BENCH_H

#include <stdbool.h>

#include "ftunet.h"

#define FTN_BENCH_MAX_PROFILE 32
/* A forward costs about a third of a training step: timing three per step gives both phases
 * about the same wall time, and so the same exposure to the machine's noise. */
#define FTN_BENCH_INFER_PER_STEP 3

/* The peak probe: an n×n×n fp32 matmul (oneDNN, plain layouts, the current threads), created once
 * and run on demand. On a shared machine the rate the CPU gives moves by ±20 % within seconds, so
 * the bench runs the probe between its timed steps and compares each phase with the probe's rate
 * over that same stretch of time, not with a best-of-N taken earlier. */
typedef struct ftn_bench_probe ftn_bench_probe;
ftn_status ftn_bench_probe_create(int n, ftn_bench_probe **p);
/* One matmul; *seconds its wall time. */
ftn_status ftn_bench_probe_run(ftn_bench_probe *p, double *seconds);
double ftn_bench_probe_flops(const ftn_bench_probe *p); /* 2n³ */
void ftn_bench_probe_free(ftn_bench_probe *p);

/* Best-of-`reps` GFLOP/s of the probe, after one warm-up. */
ftn_status ftn_bench_peak_gflops(int n, int reps, double *gflops);

/* OpenMP threads in use by both engines. */
int ftn_bench_threads(void);

/* Resets the process's peak-RSS mark (Linux: writes 5 to /proc/self/clear_refs). false when the
 * kernel does not allow it; the peak then covers the whole process so far. */
bool ftn_bench_reset_peak_rss(void);
/* VmHWM from /proc/self/status in MiB (peak resident set since start or the last reset); < 0
 * when unavailable. */
double ftn_bench_peak_rss_mib(void);

typedef struct ftn_bench_config {
    const char *model;
    int channels, height, width, batch;
    int steps;          /* timed training steps (after one warm-up); inference times
                           FTN_BENCH_INFER_PER_STEP × as many forwards */
    ftn_engine engine;
    bool profile;       /* time the training steps per op kind (separate, extra steps) */
    ftn_precision precision; /* of the session (FTN_PRECISION_BF16: mixed precision) */
    int probe_n;        /* > 0: the peak probe's size, run before every timed step and after the last */
} ftn_bench_config;

typedef struct ftn_bench_result {
    double forward_flops;        /* per image, ftn_model_forward_flops */
    size_t params;
    double train_ips, infer_ips; /* images per second over the timed steps */
    double train_step_s;         /* mean seconds per training step */
    double infer_batch_s;        /* mean seconds per inference forward */
    double train_gflops, infer_gflops; /* effective: ips × forward FLOPs (× 3 for training) / 1e9 */
    /* with cfg.probe_n: the probe's GFLOP/s over the probes run between that phase's timed steps
     * (their total FLOPs over their total time), the peak that phase is compared with */
    double train_peak_gflops, infer_peak_gflops;
    /* mean seconds per training step in each part (separately timed steps) */
    double t_forward, t_loss, t_backward, t_update;
    double rss_session_mib;      /* VmHWM after creating the model and session */
    double rss_infer_mib;        /* VmHWM after the inference warm-up (the engine allocates nothing later) */
    double rss_train_mib;        /* VmHWM after the training warm-up step, which follows it (the same) */
    bool rss_reset;              /* the peak was reset before this model (per-model peaks) */
    float last_loss;
    /* with cfg.profile: per op kind and pass, mean seconds per training step */
    ftn_profile_entry profile[FTN_BENCH_MAX_PROFILE];
    int n_profile;
    /* with cfg.profile: the same per layer (ftn_session_profile_layers), owned; see
     * ftn_bench_result_free */
    ftn_profile_layer *layers;
    int n_layers;
    char *layer_names;           /* the layers' label and after strings (the model is gone) */
} ftn_bench_result;

/* Frees what ftn_bench_model allocated in *r (the per-layer profile). */
void ftn_bench_result_free(ftn_bench_result *r);

/* Creates the model (Glorot init, seed 1) and a session, runs inference then training on
 * synthetic data (uniform images, disc masks), and fills *r. Inference is measured first, on the
 * same session, then training (focal Tversky loss, the paper's SGD). One warm-up of each first
 * (the memory figures are read off them), then the timed steps (cfg.steps, and 3× as many
 * forwards), with the peak probe (cfg.probe_n) run before each and after each phase's last. */
ftn_status ftn_bench_model(const ftn_bench_config *cfg, ftn_bench_result *r);

/* Precision b against cfg->precision, step by step: one model, a session of each, their timed
 * steps alternating (a b, b a, a b, …) so that both meet the same stretches of the machine's
 * rate, which on a shared machine moves more between two back-to-back phases than between two
 * neighbouring steps. cfg->steps pairs of training steps, then 3× as many pairs of inference
 * forwards, after one warm-up of each; no probe, no memory figures (the two sessions coexist). */
typedef struct ftn_bench_pair {
    int n_train, n_infer;      /* pairs timed */
    double train[3], infer[3]; /* t_a / t_b per pair (b's speed-up): median, lowest, highest */
} ftn_bench_pair;
ftn_status ftn_bench_interleaved(const ftn_bench_config *cfg, ftn_precision b, ftn_bench_pair *r);

#endif
