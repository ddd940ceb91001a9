/* A bounded cache of decoded samples at network size (the image C×H×W planar and its mask H×W,
 * as ftn_dataset_load_subset lays one out), shared by the batch loader's workers.
 *
 * Policy: fill once. A sample is kept when it is first offered and the budget has room; nothing
 * is ever evicted. Training visits every sample once per epoch in a fresh random order (and
 * validation in one fixed order): under such cyclic scans LRU keeps evicting what the next pass
 * needs (a fixed-order scan larger than the cache gets no hit at all), while a cache that keeps
 * what it first admitted hits budget / data-set of the visits every epoch, with no eviction work,
 * and its entries never move, so a worker copies one out without holding the lock. */
#ifndef FTN_DATA_SAMPLE_CACHE_H
#define FTN_DATA_SAMPLE_CACHE_H
#include <stddef.h>

#include "ftunet_protocol.h"

typedef struct ftn_sample_cache ftn_sample_cache;

typedef struct ftn_sample_cache_stats {
    size_t budget_bytes;  /* the bound */
    size_t bytes_held;    /* the samples' bytes held now (never above the budget) */
    size_t peak_bytes;    /* the most held at any time */
    long hits, misses;    /* ftn_sample_cache_get calls that found / did not find the sample */
    long stored, refused; /* ftn_sample_cache_put calls that kept / did not keep it (no room) */
} ftn_sample_cache_stats;

/* A cache for the samples 0..n_samples−1 of a data set, each image_floats + mask_floats floats,
 * holding at most budget_bytes of them (0: none; every get misses). */
ftn_status ftn_sample_cache_create(int n_samples, size_t image_floats, size_t mask_floats, size_t budget_bytes,
                                   ftn_sample_cache **out);
void ftn_sample_cache_free(ftn_sample_cache *c);

/* Sample i copied into image and mask: 1 when held, 0 when not. Thread-safe. */
int ftn_sample_cache_get(ftn_sample_cache *c, int i, float *image, float *mask);
/* Offers sample i: kept (a copy) when not held yet and the budget has room: 1, else 0 (also when
 * out of memory: caching is an optimisation, never an error). Thread-safe. */
int ftn_sample_cache_put(ftn_sample_cache *c, int i, const float *image, const float *mask);

void ftn_sample_cache_get_stats(ftn_sample_cache *c, ftn_sample_cache_stats *out);

#endif
