/* Training stops at a non-finite loss with one error naming the epoch and the step, before the
 * epoch is saved: the run keeps its last committed epoch, bit for bit, and resumes from it. The
 * NaNs come from the data set (an .npy set handed to ftn_train_run already opened, with NaN mask
 * pixels, which make the loss NaN, or NaN image pixels, which the forward's ReLUs drop but the
 * weight gradients do not, put in after a good first epoch). Reference engine, tiny sizes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "protocol/run_folder.h"
#include "protocol/train.h"
#include "testlib.h"

enum { N = 6, S = 32 };

/* N images of a bright disc on noise, in [0, 1], and their masks, as images.npy + masks.npy. */
static void write_npy_set(const char *dir)
{
    float *x = malloc(sizeof(float) * N * S * S), *m = malloc(sizeof(float) * N * S * S);
    tl_disc_batch(x, m, N, 5);
    int64_t dims[3] = { N, S, S };
    CHECK_OK(ftn_npy_write_f32(tl_path(dir, "images.npy"), 3, dims, x));
    CHECK_OK(ftn_npy_write_f32(tl_path(dir, "masks.npy"), 3, dims, m));
    free(x);
    free(m);
}

static int same_file(const char *a, const uint8_t *data, size_t size)
{
    uint8_t *d;
    size_t n;
    if (ftn_read_file(a, 1u << 30, &d, &n) != FTN_OK) return 0;
    int same = n == size && !memcmp(d, data, n);
    free(d);
    return same;
}

int main(void)
{
    const char *dir = tl_tmpdir("train_nonfinite");
    char data[4096], run[4096], fresh[4096];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(fresh, sizeof fresh, "%s/fresh", dir);
    CHECK_OK(ftn_mkdirs(data));
    write_npy_set(data);

    ftn_train_config cfg = ftn_train_default();
    cfg.data = data;
    cfg.model = "attn-unet";
    /* Tversky: a NaN mask pixel makes its loss NaN (the focal form's (1 − TI)^(1/γ) clamps 1 − TI
     * at 0, so there a NaN shows in the gradients only, which the update check catches) */
    cfg.loss = ftn_loss_default(FTN_LOSS_TVERSKY);
    cfg.height = cfg.width = S;
    cfg.epochs = 1;
    cfg.batch = 2; /* 6 images: 2 test, 1 validation (rounded), 3 training: steps of 2 and 1 */
    cfg.engine = FTN_ENGINE_REF;
    cfg.threads = 2;
    cfg.overwrite = 1;
    cfg.run_dir = run;

    /* a good first epoch */
    ftn_train_summary sum;
    CHECK_OK(ftn_train_run(&cfg, NULL, NULL, &sum));
    CHECK(sum.epochs_done == 1);
    uint8_t *last1 = NULL, *log1 = NULL;
    size_t n_last1 = 0, n_log1 = 0;
    CHECK_OK(ftn_read_file(tl_path(run, "last.safetensors"), 1u << 30, &last1, &n_last1));
    CHECK_OK(ftn_read_file(tl_path(run, "log.csv"), 1u << 20, &log1, &n_log1));

    /* the same data set with NaN mask pixels: epoch 2's first step has a NaN loss */
    ftn_dataset ds, dsx;
    CHECK_OK(ftn_dataset_open(data, NULL, &ds));
    CHECK_OK(ftn_dataset_open(data, NULL, &dsx));
    CHECK(ds.npy_masks != NULL && dsx.npy_images != NULL && ds.count == N);
    for (int i = 0; ds.npy_masks && dsx.npy_images && i < N; i++) {
        ds.npy_masks[(size_t)i * S * S + 40] = NAN;
        dsx.npy_images[(size_t)i * S * S + 40] = NAN; /* the forward's ReLUs drop it; the weight gradients do not */
    }
    const ftn_dataset *bad_sets[2] = { &ds, &dsx };
    const char *want[2] = { "epoch 2, step 1: loss is nan", "epoch 2, step 1: the gradient is not finite" };
    for (int b = 0; b < 2; b++) {
        cfg.dataset = bad_sets[b];
        cfg.epochs = 3;
        cfg.overwrite = 0;
        cfg.resume = 1;
        ftn_status s = ftn_train_run(&cfg, NULL, NULL, &sum);
        CHECK(s == FTN_EINVAL, "status %d", (int)s);
        CHECK(strstr(ftn_last_error(), want[b]) != NULL, "%s", ftn_last_error());
        CHECK(strstr(ftn_last_error(), "keeps epoch 1's checkpoint") != NULL, "%s", ftn_last_error());
        /* nothing of epoch 2 was saved: the committed epoch 1, bit for bit */
        CHECK(same_file(tl_path(run, "last.safetensors"), last1, n_last1), "last.safetensors changed");
        CHECK(same_file(tl_path(run, "log.csv"), log1, n_log1), "log.csv changed");
        ftn_run_state st;
        CHECK_OK(ftn_run_state_read(run, &st));
        CHECK(st.epochs_done == 1 && st.iteration == 2, "state: %d epochs, iteration %lld", st.epochs_done,
              (long long)st.iteration);
        CHECK(!ftn_path_exists(tl_path(run, "epochs/0002")) && !ftn_path_exists(tl_path(run, "epochs/0002.tmp")));
    }

    /* the good data again: the run resumes from epoch 1 */
    cfg.dataset = NULL;
    CHECK_OK(ftn_train_run(&cfg, NULL, NULL, &sum));
    CHECK(sum.epochs_done == 3 && sum.n_trained_now == 2, "%d epochs, %d now", sum.epochs_done, sum.n_trained_now);

    /* a run that diverges in its first epoch has no checkpoint and says so */
    cfg.dataset = &ds;
    cfg.run_dir = fresh;
    cfg.resume = 0;
    cfg.overwrite = 1;
    ftn_status s = ftn_train_run(&cfg, NULL, NULL, &sum);
    CHECK(s == FTN_EINVAL && strstr(ftn_last_error(), "epoch 1, step 1: loss is nan") &&
              strstr(ftn_last_error(), "no checkpoint yet"),
          "%s", ftn_last_error());
    CHECK(!ftn_path_exists(tl_path(fresh, "last.safetensors")) && !ftn_path_exists(tl_path(fresh, "state.json")));

    ftn_dataset_free(&ds);
    ftn_dataset_free(&dsx);
    free(last1);
    free(log1);
    return tl_finish();
}
