/* Training recipes in the protocol (reference engine, 32×32, 8 images: 5 training in batches of 4
 * and 1, 1 validation, 2 test):
 *   - ftn_train_recipe: "paper" is ftn_train_default's, "strong" is what ftunet_protocol.h says;
 *   - the strong recipe (Nesterov SGD, poly, weight decay, Dice+BCE, deep-supervision weights,
 *     strong augmentation) stopped after 2 of 4 epochs and resumed ends bit-identical to an
 *     uninterrupted run, and its log's lr column is the poly schedule's rate of each epoch's first
 *     update by hand; augmentation changes training;
 *   - validation and test never see augmentation: with updates too small to move a weight and BN
 *     statistics re-estimated on the (unaugmented) training images, a strongly augmented run
 *     validates and tests exactly as an unaugmented one, while its training losses differ;
 *   - warm-up and cosine in the log; the paper recipe and augment none are the default's bytes;
 *   - config.json records the recipe's options, a resume with others is refused naming them, and
 *     a run written before they existed (keys absent) resumes as the defaults. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth.h"
#include "protocol/run_folder.h"
#include "protocol/train.h"
#include "testlib.h"

/* 1 when both checkpoints hold the same tensors, bit for bit. */
static int same_file(const char *a, const char *b)
{
    uint8_t *da = NULL, *db = NULL;
    size_t na = 0, nb = 0;
    int same = ftn_read_file(a, 1u << 30, &da, &na) == FTN_OK && ftn_read_file(b, 1u << 30, &db, &nb) == FTN_OK &&
               na == nb && !memcmp(da, db, na);
    free(da);
    free(db);
    return same;
}

/* Column col (0-based) of log.csv's epoch lines into v[0..n); returns how many were read. */
static int log_column(const char *run, int col, double *v, int n)
{
    FILE *f = fopen(tl_path(run, "log.csv"), "r");
    if (!f) return 0;
    char line[512];
    int k = 0;
    if (!fgets(line, sizeof line, f)) k = -1;
    while (k >= 0 && k < n && fgets(line, sizeof line, f)) {
        char *p = line;
        for (int c = 0; c < col && p; c++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        if (!p) break;
        v[k++] = strtod(p, NULL);
    }
    fclose(f);
    return k < 0 ? 0 : k;
}

static void check_presets(void)
{
    ftn_train_config d = ftn_train_default(), c = d;
    c.epochs = 7, c.model = "unet";
    CHECK_OK(ftn_train_recipe("strong", &c));
    CHECK(c.epochs == 7 && !strcmp(c.model, "unet") && !strcmp(c.recipe, "strong"), "the rest is left");
    CHECK(c.opt.kind == FTN_OPT_SGD && c.opt.nesterov && c.opt.momentum == 0.99f && c.opt.lr == 0.01f &&
          c.opt.weight_decay == 3e-5f && c.opt.schedule == FTN_LR_POLY && c.opt.decay == 0);
    CHECK(c.loss.kind == FTN_LOSS_DICE_BCE && c.loss.dice_weight == 1 && c.loss.bce_weight == 1 && c.loss.n_ds_weights == 4 &&
          c.loss.ds_weights[0] == 0 && fabsf(c.loss.ds_weights[3] - 4.0f / 7) < 1e-6f &&
          fabsf(c.loss.ds_weights[1] + c.loss.ds_weights[2] + c.loss.ds_weights[3] - 1) < 1e-6f);
    ftn_augment_config strong;
    CHECK_OK(ftn_augment_preset("strong", &strong));
    CHECK(!memcmp(&c.augment, &strong, sizeof strong), "augmentation: preset strong");
    CHECK_OK(ftn_train_recipe("paper", &c));
    CHECK(!memcmp(&c.loss, &d.loss, sizeof d.loss) && !memcmp(&c.opt, &d.opt, sizeof d.opt) &&
          !memcmp(&c.augment, &d.augment, sizeof d.augment) && c.warmup_epochs == 0 && c.schedule_epochs == 0,
          "paper is the default");
    CHECK(ftn_augment_is_identity(&d.augment), "the default does not augment");
    ftn_train_config keep = c;
    CHECK(ftn_train_recipe("nnunet", &c) == FTN_EINVAL && strstr(ftn_last_error(), "paper or strong"), "%s", ftn_last_error());
    CHECK(!memcmp(&keep, &c, sizeof c), "unchanged on failure");
}

int main(void)
{
    char dir[1024], data[1100];
    snprintf(dir, sizeof dir, "%s", tl_tmpdir("recipe"));
    snprintf(data, sizeof data, "%s/data", dir);
    check_presets();
    CHECK_OK(ftn_synth_write(data, FTN_SYNTH_ULTRASOUND, 8, 5, 48, 40));

    ftn_train_config base = ftn_train_default();
    base.data = data;
    base.height = base.width = 32;
    base.batch = 4;
    base.engine = FTN_ENGINE_REF;
    base.threads = 2;
    base.overwrite = 1;
    char ra[1200], rb[1200], rn[1200];
    snprintf(ra, sizeof ra, "%s/strong-a", dir);
    snprintf(rb, sizeof rb, "%s/strong-b", dir);
    snprintf(rn, sizeof rn, "%s/strong-noaug", dir);

    /* strong: uninterrupted 4 epochs; 2 epochs of the same 4-epoch schedule, then resumed */
    ftn_train_config s = base;
    CHECK_OK(ftn_train_recipe("strong", &s));
    s.epochs = 4;
    s.run_dir = ra;
    ftn_train_summary sa, sb;
    CHECK_OK(ftn_train_run(&s, NULL, NULL, &sa));
    s.run_dir = rb;
    s.epochs = 2, s.schedule_epochs = 4;
    CHECK_OK(ftn_train_run(&s, NULL, NULL, &sb));
    s.epochs = 4, s.schedule_epochs = 0, s.resume = 1, s.overwrite = 0; /* 0: --epochs, 4 again */
    CHECK_OK(ftn_train_run(&s, NULL, NULL, &sb));
    CHECK(sb.n_trained_now == 2 && sb.epochs_done == 4, "%d %d", sb.n_trained_now, sb.epochs_done);
    CHECK(tl_same_weights(tl_path(ra, "last.safetensors"), tl_path(rb, "last.safetensors"), 0), "strong: resumed = uninterrupted");
    CHECK(same_file(tl_path(ra, "last.optim.safetensors"), tl_path(rb, "last.optim.safetensors")), "and its optimiser state");
    CHECK(tl_same_weights(tl_path(ra, "best.safetensors"), tl_path(rb, "best.safetensors"), 0));
    CHECK(sa.test_mean.dsc == sb.test_mean.dsc);
    /* lr column: 2 updates per epoch, T = 8: epoch e starts at update 2(e−1): 0.01·(1 − t/8)^0.9 */
    double lr[4] = { 0 }, want[4] = { 0.01, 0.01 * 0.7718895067, 0.01 * 0.5358867313, 0.01 * 0.2871745887 };
    CHECK(log_column(ra, 1, lr, 4) == 4);
    for (int e = 0; e < 4; e++) CHECK(fabs(lr[e] / want[e] - 1) < 1e-6, "epoch %d lr %.9g, by hand %.9g", e + 1, lr[e], want[e]);
    double lb[4] = { 0 };
    CHECK(log_column(rb, 1, lb, 4) == 4 && !memcmp(lr, lb, sizeof lr), "the resumed run's log says the same");

    /* the same recipe without augmentation trains otherwise */
    s = base;
    CHECK_OK(ftn_train_recipe("strong", &s));
    s.epochs = 2, s.schedule_epochs = 4, s.run_dir = rn;
    s.augment = ftn_augment_default();
    CHECK_OK(ftn_train_run(&s, NULL, NULL, &sb));
    double ta[2] = { 0 }, tn[2] = { 0 };
    log_column(ra, 2, ta, 2);
    log_column(rn, 2, tn, 2);
    CHECK(ta[0] != tn[0] && ta[1] != tn[1], "augmentation changes the training losses: %g %g, %g %g", ta[0], tn[0], ta[1], tn[1]);

    /* config.json: the recipe's options; a resume with other ones is refused, naming them */
    s = base;
    CHECK_OK(ftn_train_recipe("strong", &s));
    s.epochs = 4, s.run_dir = ra, s.resume = 1, s.overwrite = 0;
    ftn_run_config *rc;
    CHECK_OK(ftn_run_config_load(ra, &rc));
    CHECK(!strcmp(ftn_run_config_string(rc, "recipe", ""), "strong") &&
          !strcmp(ftn_run_config_string(rc, "schedule", ""), "poly") &&
          !strcmp(ftn_run_config_string(rc, "loss", ""), "dice-bce") &&
          ftn_run_config_number(rc, "schedule_epochs", 0) == 4 && ftn_run_config_number(rc, "weight_decay", 0) == 3e-5 &&
          ftn_run_config_number(rc, "bce_weight", 0) == 1);
    ftn_run_config_free(rc);
    ftn_train_config o = s;
    o.augment.p_flip_x = 0.25;
    CHECK(ftn_train_run(&o, NULL, NULL, &sb) == FTN_EINVAL && strstr(ftn_last_error(), "augment differs"), "%s", ftn_last_error());
    o = s, o.opt.nesterov = 0;
    CHECK(ftn_train_run(&o, NULL, NULL, &sb) == FTN_EINVAL && strstr(ftn_last_error(), "nesterov"), "%s", ftn_last_error());
    o = s, o.loss.ds_weights[0] = 0.5f;
    CHECK(ftn_train_run(&o, NULL, NULL, &sb) == FTN_EINVAL && strstr(ftn_last_error(), "ds_weights"), "%s", ftn_last_error());
    o = s, o.epochs = 6; /* poly over 4 epochs: more epochs would stretch the schedule */
    CHECK(ftn_train_run(&o, NULL, NULL, &sb) == FTN_EINVAL && strstr(ftn_last_error(), "schedule_epochs"), "%s", ftn_last_error());
    o = s, o.recipe = "paper";
    CHECK(ftn_train_run(&o, NULL, NULL, &sb) == FTN_EINVAL && strstr(ftn_last_error(), "recipe"), "%s", ftn_last_error());
    CHECK(tl_same_weights(tl_path(ra, "last.safetensors"), tl_path(rb, "last.safetensors"), 0), "refusals touch nothing");
    /* deep-supervision weights for another output count: refused before training */
    o = base, o.run_dir = rn, o.loss.n_ds_weights = 3;
    CHECK(ftn_train_run(&o, NULL, NULL, &sb) == FTN_EINVAL && strstr(ftn_last_error(), "3 deep-supervision weights"), "%s",
          ftn_last_error());

    /* validation and test never augmented: lr 1e-30 moves no weight (w + 1e-30·g rounds to w), BN
     * statistics are re-estimated on the training images before every validation, so a run with
     * strong augmentation validates and tests exactly as one without, though it trained on other
     * batches */
    char va[1200], vn[1200];
    snprintf(va, sizeof va, "%s/val-aug", dir);
    snprintf(vn, sizeof vn, "%s/val-none", dir);
    ftn_train_config v = base;
    v.epochs = 2, v.opt.lr = 1e-30f, v.bn_recalibrate = 1, v.run_dir = vn;
    CHECK_OK(ftn_train_run(&v, NULL, NULL, &sa));
    CHECK_OK(ftn_augment_preset("strong", &v.augment));
    v.run_dir = va;
    CHECK_OK(ftn_train_run(&v, NULL, NULL, &sb));
    double la[2], ln[2];
    for (int col = 3; col <= 5; col++) { /* val_loss, val_dsc, val_soft_dsc */
        CHECK(log_column(va, col, la, 2) == 2 && log_column(vn, col, ln, 2) == 2 && la[0] == ln[0] && la[1] == ln[1],
              "column %d: %g %g, %g %g", col, la[0], ln[0], la[1], ln[1]);
    }
    CHECK(sa.test_mean.dsc == sb.test_mean.dsc && sa.test_mean.precision == sb.test_mean.precision, "test: %g %g",
          sa.test_mean.dsc, sb.test_mean.dsc);
    log_column(va, 2, la, 2);
    log_column(vn, 2, ln, 2);
    CHECK(la[0] != ln[0], "the training losses differ: %g %g", la[0], ln[0]);

    /* warm-up 1 epoch (2 updates) then cosine over the other epoch: epoch 1 starts at lr/2,
     * epoch 2 at lr (s = 0) */
    char rw[1200];
    snprintf(rw, sizeof rw, "%s/warmup", dir);
    ftn_train_config w = base;
    w.model = "attn-unet";
    w.epochs = 2, w.warmup_epochs = 1, w.opt.schedule = FTN_LR_COSINE, w.run_dir = rw;
    CHECK_OK(ftn_train_run(&w, NULL, NULL, &sb));
    CHECK(log_column(rw, 1, lr, 2) == 2 && lr[0] == 0.005 && lr[1] == 0.01, "warm-up: %.9g %.9g", lr[0], lr[1]);

    /* the paper recipe and augment none, asked for by name, are the default's bytes; then that run's
     * config.json without this change's keys (a run of before) resumes to 3 epochs */
    char p1[1200], p2[1200];
    snprintf(p1, sizeof p1, "%s/paper-default", dir);
    snprintf(p2, sizeof p2, "%s/paper-named", dir);
    ftn_train_config p = base;
    p.model = "attn-unet", p.epochs = 2, p.run_dir = p1;
    CHECK_OK(ftn_train_run(&p, NULL, NULL, &sa));
    CHECK_OK(ftn_train_recipe("paper", &p));
    CHECK_OK(ftn_augment_preset("none", &p.augment));
    p.run_dir = p2;
    CHECK_OK(ftn_train_run(&p, NULL, NULL, &sb));
    CHECK(same_file(tl_path(p1, "last.safetensors"), tl_path(p2, "last.safetensors")) &&
          same_file(tl_path(p1, "last.optim.safetensors"), tl_path(p2, "last.optim.safetensors")), "paper = default");
    cJSON *j;
    CHECK_OK(ftn_json_read(tl_path(p1, "config.json"), 1u << 26, &j));
    const char *keys[] = { "recipe", "schedule", "warmup", "nesterov", "weight_decay", "ds_weights", "augment", NULL };
    for (int i = 0; keys[i]; i++) {
        CHECK(cJSON_GetObjectItemCaseSensitive(j, keys[i]) != NULL, "config.json has %s", keys[i]);
        cJSON_DeleteItemFromObjectCaseSensitive(j, keys[i]);
    }
    cJSON_ReplaceItemInObjectCaseSensitive(j, "optimizer", cJSON_CreateString("sgd"));
    CHECK_OK(ftn_json_write(tl_path(p1, "config.json"), j));
    cJSON_Delete(j);
    ftn_train_config q = base;
    q.model = "attn-unet", q.epochs = 3, q.run_dir = p1, q.resume = 1, q.overwrite = 0;
    CHECK_OK(ftn_train_run(&q, NULL, NULL, &sa));
    CHECK(sa.n_trained_now == 1, "an older run resumes");
    return tl_finish();
}
