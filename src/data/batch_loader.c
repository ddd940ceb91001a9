/* The batch loader (see batch_loader.h). One mutex guards the sequence: the ids, the next
 * position to hand out, the batch the caller holds, and per ring slot its batch, how many of its
 * samples are done and its first error. A worker takes the next position while its batch is
 * within `depth` of the caller's, loads the sample outside the lock into its slot, and counts it
 * done; the caller waits for its batch to be complete, loading samples of that batch itself when
 * one is still to be taken (with no worker, it loads them all). */
#include "data/batch_loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/dataset.h"

typedef struct slot {
    float *x, *y;
    long batch;        /* the batch it holds or is filling; −1 none */
    int count, done;   /* samples of that batch, and how many are loaded (or failed) */
    ftn_status err;    /* the first failure by position */
    long err_pos;
    char msg[512];
} slot;

/* One thread's buffers: the augmentation's scratch. */
typedef struct worker {
    struct ftn_loader *l;
    pthread_t thread;
    float *scratch;
} worker;

struct ftn_loader {
    const ftn_dataset *ds;
    ftn_loader_config cfg;
    size_t img, px;            /* floats of one image and one mask */
    ftn_sample_cache *cache;
    pthread_mutex_t mu;
    pthread_cond_t work, done; /* workers wait on work; the caller and begin on done */
    int stop;
    /* the sequence */
    int *ids, n, ids_cap, epoch;
    int batch;                 /* the sequence's batch size (<= cfg.batch, the buffers') */
    long next_pos, end_pos;    /* positions handed out, and the end (n) */
    long released;             /* batches before this one are given back: their slots are free */
    int holding;               /* the caller holds batch `released` */
    int busy;                  /* samples being loaded outside the lock */
    long sequence;
    slot *slots;
    worker *workers, self;     /* self: the caller's buffers */
    int n_threads;
    long decoded, cached;
};

/* Sample `index` into image and mask: from the cache, else from disk (and offered to the cache),
 * then augmented. Outside the lock. */
static ftn_status load(ftn_loader *l, worker *w, int index, int epoch, float *image, float *mask, int *from_disk)
{
    const ftn_loader_config *c = &l->cfg;
    *from_disk = !ftn_sample_cache_get(l->cache, index, image, mask);
    if (*from_disk) {
        FTN_TRY(ftn_dataset_load_sample(l->ds, index, c->channels, c->height, c->width, c->resize, image, mask, NULL));
        ftn_sample_cache_put(l->cache, index, image, mask);
    }
    if (epoch > 0 && c->augment)
        FTN_TRY(ftn_augment_sample(c->augment, c->seed, epoch, index, image, c->channels, c->height, c->width, mask,
                                   w->scratch));
    return FTN_OK;
}

/* 1 when a worker may take position next_pos: in the sequence and within depth of the caller. */
static int can_take(const ftn_loader *l)
{
    return l->next_pos < l->end_pos && l->next_pos / l->batch < l->released + l->cfg.depth;
}

/* Takes position next_pos and loads it (called and returning with the lock held). */
static void take_one(ftn_loader *l, worker *w)
{
    long p = l->next_pos++, k = p / l->batch;
    slot *s = &l->slots[k % l->cfg.depth];
    if (p == k * l->batch || s->batch != k) { /* the batch's first sample: the slot is free */
        long left = l->end_pos - k * l->batch;
        s->batch = k;
        s->count = left < l->batch ? (int)left : l->batch;
        s->done = 0;
        s->err = FTN_OK;
        s->err_pos = -1;
    }
    int j = (int)(p - k * l->batch), index = l->ids[p], epoch = l->epoch, from_disk = 0;
    l->busy++;
    pthread_mutex_unlock(&l->mu);
    ftn_status st = load(l, w, index, epoch, s->x + (size_t)j * l->img, s->y + (size_t)j * l->px, &from_disk);
    char msg[sizeof s->msg];
    if (st) snprintf(msg, sizeof msg, "%s", ftn_last_error()); /* the message is this thread's */
    pthread_mutex_lock(&l->mu);
    l->busy--;
    if (from_disk) l->decoded++;
    else l->cached++;
    if (st && (s->err == FTN_OK || p < s->err_pos)) {
        s->err = st;
        s->err_pos = p;
        memcpy(s->msg, msg, sizeof msg);
    }
    if (++s->done == s->count || l->busy == 0) pthread_cond_broadcast(&l->done);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    ftn_loader *l = w->l;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && !can_take(l)) pthread_cond_wait(&l->work, &l->mu);
        if (l->stop) break;
        take_one(l, w);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static ftn_status worker_buffers(ftn_loader *l, worker *w)
{
    w->l = l;
    if (l->cfg.augment && !ftn_augment_is_identity(l->cfg.augment) &&
        !(w->scratch = malloc(sizeof(float) * ftn_augment_scratch_floats(l->cfg.channels, l->cfg.height, l->cfg.width))))
        return ftn_fail(FTN_ENOMEM, "loader: out of memory for the augmentation's scratch");
    return FTN_OK;
}

ftn_status ftn_loader_create(const ftn_dataset *ds, const ftn_loader_config *cfg, ftn_loader **out)
{
    if (!ds || !cfg || !out) return ftn_fail(FTN_EINVAL, "loader: missing argument");
    *out = NULL;
    if ((cfg->channels != 1 && cfg->channels != 3) || cfg->height < 1 || cfg->width < 1 || cfg->batch < 1 ||
        cfg->threads < 0 || cfg->threads > 256 || cfg->depth < 0)
        return ftn_fail(FTN_EINVAL, "loader: %d channels at %dx%d, batch %d, %d threads, depth %d: not a loader",
                        cfg->channels, cfg->height, cfg->width, cfg->batch, cfg->threads, cfg->depth);
    if (cfg->augment && !ftn_augment_is_identity(cfg->augment)) FTN_TRY(ftn_augment_check(cfg->augment));
    ftn_loader *l = calloc(1, sizeof *l);
    if (!l) return ftn_fail(FTN_ENOMEM, "loader: out of memory");
    l->ds = ds;
    l->cfg = *cfg;
    l->batch = cfg->batch;
    if (!l->cfg.depth) l->cfg.depth = FTN_LOADER_DEFAULT_DEPTH;
    if (l->cfg.augment && ftn_augment_is_identity(l->cfg.augment)) l->cfg.augment = NULL;
    l->img = (size_t)cfg->channels * cfg->height * cfg->width;
    l->px = (size_t)cfg->height * cfg->width;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->done, NULL);
    ftn_status st = ftn_sample_cache_create(ds->count, l->img, l->px, cfg->cache_bytes, &l->cache);
    if (!st && !(l->slots = calloc((size_t)l->cfg.depth, sizeof *l->slots)))
        st = ftn_fail(FTN_ENOMEM, "loader: out of memory");
    for (int i = 0; !st && i < l->cfg.depth; i++) {
        l->slots[i].batch = -1;
        l->slots[i].x = malloc(sizeof(float) * l->img * (size_t)cfg->batch);
        l->slots[i].y = malloc(sizeof(float) * l->px * (size_t)cfg->batch);
        if (!l->slots[i].x || !l->slots[i].y)
            st = ftn_fail(FTN_ENOMEM, "loader: out of memory for %d batches of %d at %dx%dx%d", l->cfg.depth, cfg->batch,
                          cfg->channels, cfg->height, cfg->width);
    }
    if (!st) st = worker_buffers(l, &l->self);
    if (!st && cfg->threads && !(l->workers = calloc((size_t)cfg->threads, sizeof *l->workers)))
        st = ftn_fail(FTN_ENOMEM, "loader: out of memory");
    for (int i = 0; !st && i < cfg->threads; i++) {
        if ((st = worker_buffers(l, &l->workers[i]))) break;
        if (pthread_create(&l->workers[i].thread, NULL, worker_main, &l->workers[i])) {
            free(l->workers[i].scratch);
            l->workers[i].scratch = NULL;
            st = ftn_fail(FTN_ENOMEM, "loader: cannot start worker thread %d of %d", i + 1, cfg->threads);
            break;
        }
        l->n_threads++;
    }
    if (st) {
        ftn_loader_free(l);
        return st;
    }
    *out = l;
    return FTN_OK;
}

void ftn_loader_free(ftn_loader *l)
{
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->n_threads; i++) pthread_join(l->workers[i].thread, NULL);
    if (l->workers)
        for (int i = 0; i < l->cfg.threads; i++) free(l->workers[i].scratch);
    free(l->workers);
    free(l->self.scratch);
    for (int i = 0; l->slots && i < l->cfg.depth; i++) {
        free(l->slots[i].x);
        free(l->slots[i].y);
    }
    free(l->slots);
    free(l->ids);
    ftn_sample_cache_free(l->cache);
    pthread_cond_destroy(&l->work);
    pthread_cond_destroy(&l->done);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

ftn_status ftn_loader_begin(ftn_loader *l, const int *ids, int n, int first_batch, int epoch)
{
    return ftn_loader_begin_batch(l, ids, n, first_batch, epoch, l ? l->cfg.batch : 0);
}

ftn_status ftn_loader_begin_batch(ftn_loader *l, const int *ids, int n, int first_batch, int epoch, int batch)
{
    if (!l || n < 0 || (n && !ids) || first_batch < 0 || batch < 1 || batch > l->cfg.batch)
        return ftn_fail(FTN_EINVAL, "loader: bad sequence");
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= l->ds->count)
            return ftn_fail(FTN_EINVAL, "%s: sample index %d out of range (%d samples)", l->ds->path, ids[i], l->ds->count);
    pthread_mutex_lock(&l->mu);
    l->end_pos = 0; /* nothing more is taken; the samples in hand finish into the old slots */
    while (l->busy) pthread_cond_wait(&l->done, &l->mu);
    ftn_status st = FTN_OK;
    if (n > l->ids_cap) {
        int *v = realloc(l->ids, sizeof(int) * (size_t)n);
        if (!v) st = ftn_fail(FTN_ENOMEM, "loader: out of memory for %d ids", n);
        else l->ids = v, l->ids_cap = n;
    }
    if (!st) {
        if (n) memcpy(l->ids, ids, sizeof(int) * (size_t)n);
        l->n = n;
        l->epoch = epoch;
        l->batch = batch;
        l->released = first_batch;
        l->holding = 0;
        l->next_pos = (long)first_batch * batch;
        l->end_pos = n;
        if (l->next_pos > l->end_pos) l->next_pos = l->end_pos;
        for (int i = 0; i < l->cfg.depth; i++) l->slots[i].batch = -1;
        l->sequence++;
        pthread_cond_broadcast(&l->work);
    }
    pthread_mutex_unlock(&l->mu);
    return st;
}

ftn_status ftn_loader_next(ftn_loader *l, const float **x, const float **y, int *b)
{
    if (!l || !x || !y || !b) return ftn_fail(FTN_EINVAL, "loader: missing argument");
    *x = *y = NULL;
    *b = 0;
    pthread_mutex_lock(&l->mu);
    if (l->holding) { /* the caller is done with the batch it held: its slot is free */
        l->released++;
        l->holding = 0;
        pthread_cond_broadcast(&l->work);
    }
    long k = l->released;
    if (k * l->batch >= l->end_pos) {
        pthread_mutex_unlock(&l->mu);
        return FTN_OK;
    }
    slot *s = &l->slots[k % l->cfg.depth];
    while (!(s->batch == k && s->done == s->count)) {
        if (can_take(l) && l->next_pos / l->batch == k) take_one(l, &l->self);
        else pthread_cond_wait(&l->done, &l->mu);
    }
    l->holding = 1;
    ftn_status st = s->err;
    char msg[sizeof s->msg];
    memcpy(msg, s->msg, sizeof msg);
    pthread_mutex_unlock(&l->mu);
    if (st) return ftn_fail(st, "%s", msg);
    *x = s->x;
    *y = s->y;
    *b = s->count;
    return FTN_OK;
}

long ftn_loader_sequence(const ftn_loader *l)
{
    return l ? l->sequence : 0;
}

void ftn_loader_get_stats(ftn_loader *l, ftn_loader_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    out->decoded = l->decoded;
    out->cached = l->cached;
    pthread_mutex_unlock(&l->mu);
    ftn_sample_cache_get_stats(l->cache, &out->cache);
}
