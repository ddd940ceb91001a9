/* The training protocol's run folder: a run interrupted after 2 epochs and resumed to 4 ends
 * with exactly the weights of an uninterrupted 4-epoch run; existing runs are not overwritten
 * by accident; a resume with other options is refused. Reference engine, tiny sizes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth.h"
#include "protocol/train.h"
#include "testlib.h"

#pragma GCC diagnostic ignored "-Wformat-zero-length"

static int steps_seen, epochs_seen;
static void progress(const ftn_train_progress *p, void *user)
{
    (void)user;
    if (p->phase == FTN_PHASE_STEP) steps_seen++;
    if (p->phase == FTN_PHASE_EPOCH) epochs_seen++;
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* 1 when both checkpoints hold the same tensors, bit for bit. */
int main(void)
{
    const char *dir = tl_tmpdir("resume");
    char data[4096], ra[4096], rb[4096];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(ra, sizeof ra, "%s/a", dir);
    snprintf(rb, sizeof rb, "%s/b", dir);
    CHECK_OK(ftn_synth_write(data, FTN_SYNTH_ULTRASOUND, 8, 5, 48, 40));

    ftn_train_config cfg = ftn_train_default();
    cfg.data = data;
    cfg.model = "attn-unet-mi-ds";
    cfg.height = cfg.width = 32;
    cfg.epochs = 4;
    cfg.batch = 4; /* 8 images: 2 test, 1 validation, 5 training: batches of 4 and 1 */
    cfg.engine = FTN_ENGINE_REF;
    cfg.threads = 2;
    cfg.overwrite = 1;

    /* uninterrupted */
    ftn_train_summary sa, sb;
    cfg.run_dir = ra;
    CHECK_OK(ftn_train_run(&cfg, progress, NULL, &sa));
    CHECK(sa.epochs_done == 4 && sa.n_trained_now == 4 && sa.n_train == 5 && sa.n_val == 1 && sa.n_test == 2,
          "%d %d %d %d %d", sa.epochs_done, sa.n_trained_now, sa.n_train, sa.n_val, sa.n_test);
    CHECK(steps_seen == 8 && epochs_seen == 4, "%d steps, %d epochs reported", steps_seen, epochs_seen);
    CHECK(sa.best_epoch >= 1 && sa.best_epoch <= 4 && sa.best_val_dsc >= 0 && sa.best_val_dsc <= 1);
    CHECK(count_lines(tl_path(ra, "log.csv")) == 5);
    CHECK(sa.test_mean.dsc > 0 && sa.test_mean.dsc <= 1);

    /* 2 epochs, then resumed to 4 */
    cfg.run_dir = rb;
    cfg.epochs = 2;
    CHECK_OK(ftn_train_run(&cfg, NULL, NULL, &sb));
    CHECK(count_lines(tl_path(rb, "log.csv")) == 3);
    CHECK(!tl_same_weights(tl_path(ra, "last.safetensors"), tl_path(rb, "last.safetensors"), 1), "2 epochs differ from 4");
    cfg.epochs = 4;
    cfg.overwrite = 0;
    cfg.resume = 1;
    CHECK_OK(ftn_train_run(&cfg, NULL, NULL, &sb));
    CHECK(sb.epochs_done == 4 && sb.n_trained_now == 2, "%d %d", sb.epochs_done, sb.n_trained_now);
    CHECK(tl_same_weights(tl_path(ra, "last.safetensors"), tl_path(rb, "last.safetensors"), 0), "resumed = uninterrupted");
    CHECK(tl_same_weights(tl_path(ra, "best.safetensors"), tl_path(rb, "best.safetensors"), 0));
    CHECK(sb.best_epoch == sa.best_epoch && sb.best_val_dsc == sa.best_val_dsc);
    CHECK(sb.test_mean.dsc == sa.test_mean.dsc);
    CHECK(count_lines(tl_path(rb, "log.csv")) == 5);

    /* resuming a finished run trains nothing and gives the same summary */
    CHECK_OK(ftn_train_run(&cfg, NULL, NULL, &sb));
    /* (state.json keeps the test means to cJSON's printing precision, ~1e-15) */
    CHECK(sb.n_trained_now == 0 && sb.epochs_done == 4 && fabs(sb.test_mean.dsc - sa.test_mean.dsc) < 1e-12);
    ftn_train_summary rs;
    CHECK_OK(ftn_train_read_summary(rb, &rs));
    CHECK(fabs(rs.test_mean.dsc - sa.test_mean.dsc) < 1e-12 && rs.best_epoch == sa.best_epoch);

    /* resuming with other options is refused, naming the option */
    cfg.opt.lr = 0.02f;
    CHECK(ftn_train_run(&cfg, NULL, NULL, &sb) == FTN_EINVAL);
    CHECK(strstr(ftn_last_error(), "lr") != NULL, "%s", ftn_last_error());
    cfg.opt.lr = 0.01f;

    /* an existing run is never overwritten without asking */
    cfg.resume = 0;
    cfg.run_dir = ra;
    CHECK(ftn_train_run(&cfg, NULL, NULL, &sb) == FTN_EINVAL);
    CHECK(strstr(ftn_last_error(), "--overwrite") && strstr(ftn_last_error(), "--resume"), "%s", ftn_last_error());
    CHECK(tl_same_weights(tl_path(ra, "last.safetensors"), tl_path(rb, "last.safetensors"), 0), "left untouched");

    /* debiased statistics with re-estimated ones is refused before anything is touched */
    cfg.overwrite = 1, cfg.bn_debias = 1, cfg.bn_recalibrate = 1;
    CHECK(ftn_train_run(&cfg, NULL, NULL, &sb) == FTN_EINVAL);
    CHECK(strstr(ftn_last_error(), "bn_debias and bn_recalibrate"), "%s", ftn_last_error());
    CHECK(tl_same_weights(tl_path(ra, "last.safetensors"), tl_path(rb, "last.safetensors"), 0), "left untouched");

    /* so is a checkpoint criterion that does not exist (a library caller's bad value) */
    cfg.bn_debias = 0, cfg.bn_recalibrate = 0, cfg.select = (ftn_select)7;
    CHECK(ftn_train_run(&cfg, NULL, NULL, &sb) == FTN_EINVAL);
    CHECK(strstr(ftn_last_error(), "checkpoint criterion 7"), "%s", ftn_last_error());
    CHECK(tl_same_weights(tl_path(ra, "last.safetensors"), tl_path(rb, "last.safetensors"), 0), "left untouched");
    return tl_finish();
}
