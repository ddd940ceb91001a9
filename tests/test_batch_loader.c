/* The streaming batch loader (src/data/batch_loader.c) and its decode cache:
 *   - its batches are bit for bit ftn_dataset_load_subset + ftn_augment_batch of the same ids
 *     (the in-memory path), for 0–3 worker threads, no / a partial / a whole cache, 1 or 3
 *     batch buffers, one or three channels, from the first batch or a later one, augmented or
 *     not, and after a sequence dropped in the middle;
 *   - the cache never holds more than its budget, and what does not fit is read from disk again
 *     on the next pass (and what fits is not);
 *   - a file truncated after the data set was opened fails the batch that holds it with a
 *     message naming the file, with or without workers, every time it is asked for, and the
 *     loader still shuts down (and the ASan build sees no leak);
 *   - training (streamed batches, validation and --bn-recalibrate) ends with the same weights
 *     and log whatever the cache and worker count, and a resume may change both. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/batch_loader.h"
#include "data/dataset.h"
#include "protocol/train.h"
#include "testlib.h"

/* The in-memory path: ids loaded at network size, then (epoch > 0) augmented. */
static void reference(const ftn_dataset *ds, const int *ids, int n, int c, int h, int w, const ftn_augment_config *aug,
                      int epoch, float **x, float **y)
{
    CHECK_OK(ftn_dataset_load_subset(ds, ids, n, c, h, w, FTN_RESIZE_BILINEAR, x, y, NULL));
    if (epoch > 0 && *x) CHECK_OK(ftn_augment_batch(aug, 3, epoch, ids, n, *x, c, h, w, *y));
}

/* Every batch of the loader's sequence (begun already at first_batch) against the reference. */
static int same_batches(ftn_loader *l, const float *x, const float *y, int n, int batch, int first_batch, int img, int px)
{
    int ok = 1, k = first_batch;
    for (;; k++) {
        const float *bx, *by;
        int b;
        ftn_status s = ftn_loader_next(l, &bx, &by, &b);
        if (s) { CHECK(0, "batch %d: %s", k, ftn_last_error()); return 0; }
        if (!b) break;
        int want = n - k * batch < batch ? n - k * batch : batch;
        ok &= b == want && !memcmp(bx, x + (size_t)k * batch * img, sizeof(float) * (size_t)b * img) &&
              !memcmp(by, y + (size_t)k * batch * px, sizeof(float) * (size_t)b * px);
    }
    return ok && k == (n + batch - 1) / batch;
}

static void check_identity(const ftn_dataset *ds)
{
    int ids[11] = { 7, 2, 9, 0, 11, 4, 5, 1, 10, 3, 8 }, n = 11, h = 24, w = 32, batch = 4;
    ftn_augment_config aug;
    CHECK_OK(ftn_augment_preset("strong", &aug));
    for (int c = 1; c <= 3; c += 2) {
        int img = c * h * w, px = h * w;
        size_t sample = sizeof(float) * (size_t)(img + px);
        float *x0, *y0, *x2, *y2;
        reference(ds, ids, n, c, h, w, &aug, 0, &x0, &y0);
        reference(ds, ids, n, c, h, w, &aug, 2, &x2, &y2);
        if (!x0 || !x2) return;
        CHECK(memcmp(x0, x2, sizeof(float) * (size_t)n * img) != 0, "strong augmentation changes the images");
        size_t caches[3] = { 0, 3 * sample + 7, 64 * sample };
        int runs = 0, ok = 0;
        for (int threads = 0; threads <= 3; threads++)
            for (int ci = 0; ci < 3; ci++)
                for (int depth = 1; depth <= 3; depth += 2) {
                    ftn_loader_config lc = { c, h, w, FTN_RESIZE_BILINEAR, batch, threads, depth, caches[ci], &aug, 3 };
                    ftn_loader *l;
                    CHECK_OK(ftn_loader_create(ds, &lc, &l));
                    if (!l) continue;
                    int good = 1;
                    for (int pass = 0; pass < 2; pass++) { /* the second pass meets the cache */
                        CHECK_OK(ftn_loader_begin(l, ids, n, 0, 2));
                        good &= same_batches(l, x2, y2, n, batch, 0, img, px);
                    }
                    CHECK_OK(ftn_loader_begin(l, ids, n, 0, 0)); /* epoch 0: not augmented */
                    good &= same_batches(l, x0, y0, n, batch, 0, img, px);
                    CHECK_OK(ftn_loader_begin(l, ids, n, 2, 2)); /* from batch 2 (a resumed epoch) */
                    good &= same_batches(l, x2, y2, n, batch, 2, img, px);
                    const float *bx, *by; /* one batch, then another sequence: the first one's work dropped */
                    int b;
                    CHECK_OK(ftn_loader_begin(l, ids, n, 0, 2));
                    CHECK_OK(ftn_loader_next(l, &bx, &by, &b));
                    CHECK_OK(ftn_loader_begin(l, ids, n, 1, 0));
                    good &= same_batches(l, x0, y0, n, batch, 1, img, px);
                    CHECK(good, "%d channels, %d threads, cache %zu bytes, depth %d: batches differ from the in-memory "
                          "path", c, threads, caches[ci], depth);
                    runs++, ok += good;
                    ftn_loader_free(l);
                }
        CHECK(runs == 24 && ok == runs, "%d of %d loaders", ok, runs);
        free(x0), free(y0), free(x2), free(y2);
    }
}

/* Two passes over n ids: how many samples each read from disk, with the cache's figures. */
static void passes(const ftn_dataset *ds, size_t budget, int threads, long decoded[2], ftn_loader_stats *st)
{
    int ids[12];
    for (int i = 0; i < 12; i++) ids[i] = (i * 5) % 12;
    ftn_loader_config lc = { 1, 16, 16, FTN_RESIZE_NEAREST, 5, threads, 2, budget, NULL, 1 };
    ftn_loader *l;
    decoded[0] = decoded[1] = -1;
    CHECK_OK(ftn_loader_create(ds, &lc, &l));
    if (!l) return;
    long before = 0;
    for (int pass = 0; pass < 2; pass++) {
        CHECK_OK(ftn_loader_begin(l, ids, 12, 0, 1));
        const float *x, *y;
        int b, seen = 0;
        do {
            CHECK_OK(ftn_loader_next(l, &x, &y, &b));
            seen += b;
            ftn_loader_get_stats(l, st);
            CHECK(st->cache.bytes_held <= budget && st->cache.peak_bytes <= budget, "held %zu of %zu", st->cache.bytes_held,
                  budget);
        } while (b);
        CHECK(seen == 12);
        ftn_loader_get_stats(l, st);
        decoded[pass] = st->decoded - before;
        before = st->decoded;
    }
    ftn_loader_free(l);
}

static void check_cache_bound(const ftn_dataset *ds)
{
    size_t sample = sizeof(float) * 2 * 16 * 16; /* image and mask, one channel, 16×16 */
    long d[2];
    ftn_loader_stats st;
    for (int threads = 0; threads <= 2; threads += 2) {
        passes(ds, 0, threads, d, &st);
        CHECK(d[0] == 12 && d[1] == 12 && st.cache.bytes_held == 0, "no cache: every pass reads all: %ld %ld", d[0], d[1]);
        passes(ds, 4 * sample + sample / 2, threads, d, &st); /* room for 4 and a half samples */
        CHECK(d[0] == 12 && d[1] == 8 && st.cached == 4 && st.cache.bytes_held == 4 * sample && st.cache.refused == 16,
              "4 of 12 fit: the other 8 are read again: %ld %ld, %ld cached, %zu bytes held", d[0], d[1], st.cached,
              st.cache.bytes_held);
        passes(ds, 100 * sample, threads, d, &st);
        CHECK(d[0] == 12 && d[1] == 0 && st.cached == 12, "all fit: one read each: %ld %ld", d[0], d[1]);
    }
}

static void check_decode_error(const char *dir)
{
    char data[1200];
    snprintf(data, sizeof data, "%s/broken", dir);
    CHECK_OK(ftn_synth_write(data, FTN_SYNTH_ULTRASOUND, 9, 4, 40, 32));
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(data, NULL, &ds));
    const char *bad = ds.samples[6].image_path;
    CHECK(truncate(bad, 60) == 0, "truncating %s", bad); /* after the data set was opened */
    int ids[9] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
    for (int threads = 0; threads <= 2; threads++) {
        ftn_loader_config lc = { 1, 16, 16, FTN_RESIZE_NEAREST, 4, threads, 2, 1 << 20, NULL, 1 };
        ftn_loader *l;
        CHECK_OK(ftn_loader_create(&ds, &lc, &l));
        if (!l) continue;
        for (int pass = 0; pass < 2; pass++) {
            CHECK_OK(ftn_loader_begin(l, ids, 9, 0, 0));
            const float *x, *y;
            int b, good = 0;
            ftn_status s;
            while ((s = ftn_loader_next(l, &x, &y, &b)) == FTN_OK && b) good++;
            CHECK(s != FTN_OK && good == 1 && strstr(ftn_last_error(), bad), "%d threads, pass %d: %d good batches, then "
                  "%d: %s", threads, pass, good, (int)s, ftn_last_error());
        }
        /* the last batch is still there after the failed one; then shut down with work in flight */
        CHECK_OK(ftn_loader_begin(l, ids, 9, 2, 0));
        const float *x, *y;
        int b;
        CHECK_OK(ftn_loader_next(l, &x, &y, &b));
        CHECK(b == 1);
        CHECK_OK(ftn_loader_begin(l, ids, 9, 0, 0));
        ftn_loader_free(l);
    }
    ftn_dataset_free(&ds);
}

/* Short runs: attn-unet (the smallest network), 32×32, reference engine, 14 images (a last training batch smaller than 4,
 * validation in a batch of its own), strong augmentation and BN re-estimation, so that the training batches, the
 * validation pass and the re-estimation all stream. */
static void check_training(const char *dir)
{
    char data[1200], runs[3][1200];
    snprintf(data, sizeof data, "%s/train-data", dir);
    CHECK_OK(ftn_synth_write(data, FTN_SYNTH_ULTRASOUND, 14, 6, 48, 40));
    ftn_train_config base = ftn_train_default();
    base.data = data;
    base.model = "attn-unet";
    base.height = base.width = 32;
    base.batch = 4;
    base.epochs = 2;
    base.engine = FTN_ENGINE_REF;
    base.threads = 2;
    base.overwrite = 1;
    base.bn_recalibrate = 1;
    CHECK_OK(ftn_augment_preset("strong", &base.augment));
    int cache[3] = { 0, 2048, 0 }, threads[3] = { 1, 2, 0 };
    ftn_train_summary s[3];
    for (int r = 0; r < 3; r++) {
        snprintf(runs[r], sizeof runs[r], "%s/run-%d", dir, r);
        ftn_train_config c = base;
        c.run_dir = runs[r];
        c.cache_mb = cache[r];
        c.loader_threads = threads[r];
        if (r == 2) c.epochs = 1; /* then resumed with other loader options */
        CHECK_OK(ftn_train_run(&c, NULL, NULL, &s[r]));
        if (r == 2) {
            c.epochs = 2, c.resume = 1, c.overwrite = 0, c.cache_mb = 1, c.loader_threads = 3;
            CHECK_OK(ftn_train_run(&c, NULL, NULL, &s[r]));
            CHECK(s[r].n_trained_now == 1, "the resume trained %d epochs", s[r].n_trained_now);
        }
    }
    CHECK(s[0].n_train > 4 && s[0].n_val >= 1, "%d training, %d validation", s[0].n_train, s[0].n_val);
    for (int r = 1; r < 3; r++) {
        CHECK(tl_same_weights(tl_path(runs[0], "last.safetensors"), tl_path(runs[r], "last.safetensors"), 0) &&
              tl_same_weights(tl_path(runs[0], "best.safetensors"), tl_path(runs[r], "best.safetensors"), 0),
              "run %d (cache %d MiB, %d loader threads) trained otherwise", r, cache[r], threads[r]);
        CHECK(s[r].best_val_dsc == s[0].best_val_dsc && s[r].test_mean.dsc == s[0].test_mean.dsc, "run %d: %g %g", r,
              s[r].test_mean.dsc, s[0].test_mean.dsc);
    }
    ftn_run_config *rc;
    CHECK_OK(ftn_run_config_load(runs[1], &rc));
    CHECK(ftn_run_config_number(rc, "cache_mb", -1) == 2048 && ftn_run_config_number(rc, "loader_threads", -1) == 2,
          "config.json records the loader's options");
    ftn_run_config_free(rc);
    ftn_train_config bad = base;
    bad.run_dir = runs[0], bad.cache_mb = -1;
    CHECK(ftn_train_run(&bad, NULL, NULL, &s[0]) == FTN_EINVAL && strstr(ftn_last_error(), "cache"), "%s", ftn_last_error());
}

int main(void)
{
    char dir[1024], data[1100];
    snprintf(dir, sizeof dir, "%s", tl_tmpdir("batch_loader"));
    snprintf(data, sizeof data, "%s/data", dir);
    CHECK_OK(ftn_synth_write(data, FTN_SYNTH_ULTRASOUND, 12, 5, 48, 40));
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(data, NULL, &ds));
    check_identity(&ds);
    check_cache_bound(&ds);
    ftn_dataset_free(&ds);
    check_decode_error(dir);
    check_training(dir);
    return tl_finish();
}
