/* The batch loader's decode cache (see sample_cache.h): fill once, bounded by bytes. */
#include "data/sample_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct ftn_sample_cache {
    pthread_mutex_t mu;
    float **entry;        /* per sample: image then mask floats, or NULL */
    int n;
    size_t image_floats, mask_floats, entry_bytes;
    ftn_sample_cache_stats st;
};

ftn_status ftn_sample_cache_create(int n_samples, size_t image_floats, size_t mask_floats, size_t budget_bytes,
                                   ftn_sample_cache **out)
{
    if (!out || n_samples < 0) return ftn_fail(FTN_EINVAL, "sample cache: bad arguments");
    *out = NULL;
    ftn_sample_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->entry = calloc((size_t)(n_samples ? n_samples : 1), sizeof *c->entry))) {
        free(c);
        return ftn_fail(FTN_ENOMEM, "sample cache: out of memory for %d samples", n_samples);
    }
    if (pthread_mutex_init(&c->mu, NULL)) {
        free(c->entry);
        free(c);
        return ftn_fail(FTN_ENOMEM, "sample cache: cannot create a mutex");
    }
    c->n = n_samples;
    c->image_floats = image_floats;
    c->mask_floats = mask_floats;
    c->entry_bytes = (image_floats + mask_floats) * sizeof(float);
    c->st.budget_bytes = budget_bytes;
    *out = c;
    return FTN_OK;
}

void ftn_sample_cache_free(ftn_sample_cache *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) free(c->entry[i]);
    free(c->entry);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int ftn_sample_cache_get(ftn_sample_cache *c, int i, float *image, float *mask)
{
    if (!c || i < 0 || i >= c->n) return 0;
    pthread_mutex_lock(&c->mu);
    const float *e = c->entry[i];
    if (e) c->st.hits++;
    else c->st.misses++;
    pthread_mutex_unlock(&c->mu);
    if (!e) return 0;
    /* an entry, once published, is never changed or freed before the cache: no lock needed */
    memcpy(image, e, c->image_floats * sizeof(float));
    memcpy(mask, e + c->image_floats, c->mask_floats * sizeof(float));
    return 1;
}

int ftn_sample_cache_put(ftn_sample_cache *c, int i, const float *image, const float *mask)
{
    if (!c || i < 0 || i >= c->n) return 0;
    int kept = 0;
    pthread_mutex_lock(&c->mu);
    if (!c->entry[i] && c->st.bytes_held + c->entry_bytes <= c->st.budget_bytes) {
        float *e = malloc(c->entry_bytes);
        if (e) {
            memcpy(e, image, c->image_floats * sizeof(float));
            memcpy(e + c->image_floats, mask, c->mask_floats * sizeof(float));
            c->entry[i] = e;
            c->st.bytes_held += c->entry_bytes;
            if (c->st.bytes_held > c->st.peak_bytes) c->st.peak_bytes = c->st.bytes_held;
            kept = 1;
        }
    }
    if (kept) c->st.stored++;
    else c->st.refused++;
    pthread_mutex_unlock(&c->mu);
    return kept;
}

void ftn_sample_cache_get_stats(ftn_sample_cache *c, ftn_sample_cache_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}
