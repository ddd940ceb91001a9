/* The streaming data pipeline of training: worker threads (pthreads) decode, resize and augment
 * the samples of the next batches while the caller computes on the current one, into a bounded
 * ring of batch buffers, through a decode cache bounded in bytes (data/sample_cache.h) beyond
 * which samples are read from disk again. Memory: `depth` batches, the cache's budget and one
 * sample's decoding scratch per worker, whatever the data set's size.
 *
 * Every sample is exactly what ftn_dataset_load_subset gives for it (the same per-sample load,
 * channel conversion and resampling), then, for an augmented sequence, ftn_augment_sample with
 * (seed, epoch, its data-set index), as ftn_augment_batch does: the batches are bit for bit those
 * of loading the ids into memory and augmenting them, whatever the worker count, the cache's size
 * or the timing. */
#ifndef FTN_DATA_BATCH_LOADER_H
#define FTN_DATA_BATCH_LOADER_H
#include <stddef.h>
#include <stdint.h>

#include "data/sample_cache.h"
#include "ftunet_protocol.h"

typedef struct ftn_loader_config {
    int channels, height, width;   /* network size */
    ftn_resize_mode resize;        /* images; masks are always nearest */
    int batch;                     /* samples per batch (the last of a sequence may be smaller) */
    int threads;                   /* worker threads; 0: the caller loads each batch when it asks */
    int depth;                     /* batch buffers: the one the caller holds and depth − 1 ahead */
    size_t cache_bytes;            /* the decode cache's budget (0: none) */
    const ftn_augment_config *augment; /* for sequences begun with an epoch; NULL: none */
    uint64_t seed;                 /* the augmentation's */
} ftn_loader_config;

/* Batch buffers when the config gives none. */
#define FTN_LOADER_DEFAULT_DEPTH 3

typedef struct ftn_loader ftn_loader;

typedef struct ftn_loader_stats {
    long decoded;                  /* samples read from disk (cache misses) */
    long cached;                   /* samples copied out of the cache */
    ftn_sample_cache_stats cache;
} ftn_loader_stats;

/* A loader of ds's samples (ds must outlive it and stay unchanged); starts the workers. */
ftn_status ftn_loader_create(const ftn_dataset *ds, const ftn_loader_config *cfg, ftn_loader **out);
/* Stops the workers (waiting for the sample each is on) and frees everything. NULL is fine. */
void ftn_loader_free(ftn_loader *l);

/* Starts a sequence: the data-set indices ids[0..n) (copied) in batches of cfg.batch, from batch
 * first_batch on (a run resumed in the middle of an epoch); epoch > 0 augments every sample with
 * (cfg.seed, epoch, its index) when cfg.augment is set, 0 never. Work on the previous sequence
 * is dropped. */
ftn_status ftn_loader_begin(ftn_loader *l, const int *ids, int n, int first_batch, int epoch);
/* The same in batches of `batch` (1..cfg.batch) instead of cfg.batch: a process's slices of a
 * data-parallel run's batches (src/dist/). */
ftn_status ftn_loader_begin_batch(ftn_loader *l, const int *ids, int n, int first_batch, int epoch, int batch);
/* The sequence's next batch: *x (b×C×H×W) and *y (b×1×H×W) stay valid until the next call of
 * next or begin; *b = 0 after the last. A sample that cannot be read fails with its message (the
 * file and why), the first of the batch in order. */
ftn_status ftn_loader_next(ftn_loader *l, const float **x, const float **y, int *b);
/* Counts a begin call: a caller that shares the loader between sequences can tell whether the
 * sequence it began is still the current one. */
long ftn_loader_sequence(const ftn_loader *l);

void ftn_loader_get_stats(ftn_loader *l, ftn_loader_stats *out);

#endif
