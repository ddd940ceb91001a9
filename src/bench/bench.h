/* Throughput and memory measurements behind `ftunet bench`: the public part (configuration,
 * results, ftn_bench_model, ftn_bench_interleaved, ftn_bench_peak_gflops) is in ftunet_protocol.h,
 * section "benchmarks"; the peak probe and the resident-memory readings are here. */
#ifndef FTN_BENCH_H
#define FTN_BENCH_H

#include <stdbool.h>

#include "ftunet_protocol.h"

/* The peak probe: an n×n×n fp32 matmul (oneDNN, plain layouts, the current threads), created once
 * and run on demand. On a shared machine the rate the CPU gives moves within seconds, so
 * the bench runs the probe between its timed steps and compares each phase with the probe's rate
 * over that same stretch of time, not with a best-of-N taken earlier. */
typedef struct ftn_bench_probe ftn_bench_probe;
ftn_status ftn_bench_probe_create(int n, ftn_bench_probe **p);
/* One matmul; *seconds its wall time. */
ftn_status ftn_bench_probe_run(ftn_bench_probe *p, double *seconds);
double ftn_bench_probe_flops(const ftn_bench_probe *p); /* 2n³ */
void ftn_bench_probe_free(ftn_bench_probe *p);

/* Resets the process's peak-RSS mark (Linux: writes 5 to /proc/self/clear_refs). false when the
 * kernel does not allow it; the peak then covers the whole process so far. */
bool ftn_bench_reset_peak_rss(void);
/* VmHWM from /proc/self/status in MiB (peak resident set since start or the last reset); < 0
 * when unavailable. */
double ftn_bench_peak_rss_mib(void);

#endif
