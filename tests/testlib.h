/* A tiny test harness: CHECK records a failure with its place and goes on; tl_finish() prints
 * "N passed, N failed" and returns the exit status. */
#ifndef FTN_TESTLIB_H
#define FTN_TESTLIB_H
#include <stdint.h>
#include <stdio.h>

extern int tl_passed, tl_failed;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (cond) { tl_passed++; }                                                         \
        else {                                                                             \
            tl_failed++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, " " __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

/* Checks that a library call succeeded, printing ftn_last_error() if not. */
#define CHECK_OK(expr)                                                                     \
    do {                                                                                   \
        ftn_status s_ = (expr);                                                            \
        CHECK(s_ == FTN_OK, "%s -> %s", #expr, s_ == FTN_OK ? "" : ftn_last_error());      \
    } while (0)

int tl_finish(void);
/* The exit status of a test with nothing to run on this machine (CTest's SKIP_RETURN_CODE). */
#define TL_SKIPPED 77

/* Deterministic random numbers for tests (splitmix64). */
uint64_t tl_next(uint64_t *state);
float tl_uniform(uint64_t *state, float lo, float hi);
/* n size×size images of a bright disc on noise (x) and their 0/1 masks (m), image i from i alone
 * (the MPI tests' data: any slice of them is the same images) */
void tl_disc_images(float *x, float *m, int n, int size);
void tl_fill_uniform(float *x, size_t count, uint64_t *state, float lo, float hi);

/* n 32×32 images of a bright disc (centre 10–22, radius 4–8) on noise, in [0, 1], and their 0/1
 * masks, NCHW with one channel, from a seed: the batch the training tests learn. */
void tl_disc_batch(float *x, float *m, int n, uint64_t seed);

/* A scratch folder for this test: $FTUNET_TEST_TMP/<name>, emptied or created. Returns a
 * path into a static buffer. */
const char *tl_tmpdir(const char *name);
/* path joined into a static ring of buffers (safe for a few calls in one expression). */
const char *tl_path(const char *dir, const char *file);

/* 1 when two checkpoints hold the same tensors, bit for bit (names, shapes, values); unless
 * quiet, the first tensor that differs is named on stderr. */
int tl_same_weights(const char *a, const char *b, int quiet);

/* max |a−b| / (max|b| + tiny) over count elements. */
double tl_rel_max_diff(const float *a, const float *b, size_t count);
#endif
