/* The paper's training protocol as a resumable run folder (see train.h). The folder's format
 * (file names, config.json, state.json, log.csv) is protocol/run_folder.c's; this file is the
 * loop: open the run folder, start or resume, train epoch by epoch (steps, validation, the epoch's
 * files), then evaluate the best checkpoint on the test ids. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "protocol/train.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/rng.h"
#include "engine/graph.h" /* FTN_BN_MOMENTUM */
#include "data/batch_loader.h"
#include "data/dataset.h"
#include "data/split.h"
#include "dist/dist.h"
#include "metrics/metrics.h"
#include "protocol/evaluate.h"
#include "protocol/provenance.h"
#include "protocol/run_folder.h"

ftn_train_config ftn_train_default(void)
{
    ftn_train_config c;
    memset(&c, 0, sizeof c);
    c.model = "attn-unet-mi-ds";
    c.channels = 1;
    c.height = c.width = 128;
    c.loss = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    c.epochs = 100;
    c.batch = 16;
    c.opt = ftn_optimizer_default(FTN_OPT_SGD);
    c.seed = 1;
    c.resize = FTN_RESIZE_NEAREST;
    c.threshold = FTN_METRIC_THRESHOLD;
    c.test_split = 0.25;
    c.val_split = 0.15;
    c.engine = FTN_ENGINE_DNNL;
    c.augment = ftn_augment_default(); /* none: the paper's */
    c.cache_mb = FTN_TRAIN_DEFAULT_CACHE_MB;
    c.loader_threads = FTN_TRAIN_DEFAULT_LOADER_THREADS;
    return c;
}

const char *ftn_select_name(ftn_select sel)
{
    return sel == FTN_SELECT_SOFT_DSC ? "soft-dsc" : "dsc";
}

ftn_status ftn_select_parse(const char *name, ftn_select *sel)
{
    if (name && !strcmp(name, "dsc")) *sel = FTN_SELECT_DSC;
    else if (name && !strcmp(name, "soft-dsc")) *sel = FTN_SELECT_SOFT_DSC;
    else return ftn_fail(FTN_EINVAL, "checkpoint criterion '%s': unknown (use dsc or soft-dsc)", name ? name : "(null)");
    return FTN_OK;
}

/* ---- small helpers --------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The shuffle seed of an epoch depends only on (seed, epoch): a resumed run reproduces it. */
static uint64_t epoch_seed(uint64_t seed, int epoch)
{
    ftn_rng r;
    ftn_rng_seed(&r, seed ^ 0x5452414953485546ull); /* "FUSHIART": a tag of its own */
    uint64_t a = ftn_rng_next(&r);
    ftn_rng_seed(&r, a + 0x9E3779B97F4A7C15ull * (uint64_t)(epoch + 1));
    return ftn_rng_next(&r);
}

/* The test images with a lesion and with an empty ground truth apart, from RUN/test/summary.json
 * (state.json keeps the means only), into out->test_groups and the count of empty ones into
 * out->test_mean.gt_empty; zero when the file is missing or predates them. */
static void read_test_groups(const char *run_dir, int n_test, ftn_train_summary *out)
{
    char p[FTN_PATH_MAX];
    ftn_eval_summary es;
    memset(&out->test_groups, 0, sizeof out->test_groups);
    if (ftn_run_path(run_dir, FTN_RUN_TEST_SUMMARY, p, sizeof p) == FTN_OK && ftn_path_exists(p) &&
        ftn_eval_summary_read(p, &es) == FTN_OK && es.has_groups && es.groups.n_lesion + es.groups.n_empty == n_test)
        out->test_groups = es.groups;
    out->test_mean.gt_empty = out->test_groups.n_empty;
}

ftn_status ftn_train_read_progress(const char *run_dir, int *epochs_done, int *partial_steps)
{
    char p[FTN_PATH_MAX];
    ftn_run_state st;
    *epochs_done = *partial_steps = 0;
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_STATE, p, sizeof p));
    if (!ftn_path_exists(p)) return FTN_OK;
    FTN_TRY(ftn_run_state_read(run_dir, &st));
    *epochs_done = st.epochs_done;
    *partial_steps = st.has_partial ? st.partial.step : 0;
    return FTN_OK;
}

ftn_status ftn_train_read_summary(const char *run_dir, ftn_train_summary *out)
{
    ftn_run_state st;
    memset(out, 0, sizeof *out);
    FTN_TRY(ftn_run_state_read(run_dir, &st));
    if (!st.has_test) return ftn_fail(FTN_EIO, "%s: the run has no test results yet", run_dir);
    out->epochs_done = st.epochs_done;
    out->best_epoch = st.best_epoch;
    out->best_val_dsc = st.best_val_dsc;
    out->n_test = st.n_test;
    out->test_mean = st.test_mean;
    out->test_std = st.test_std;
    read_test_groups(run_dir, st.n_test, out);
    return FTN_OK;
}

/* Sessions by batch size (the full batch, the training remainder, the validation sizes) and
 * process group (a data-parallel run's training parts; NULL: alone), sharing one working memory. */
#define N_SESSIONS 8
typedef struct session_cache {
    ftn_session *s[N_SESSIONS];
    const ftn_comm *comm[N_SESSIONS];
} session_cache;

static ftn_status get_group_session(session_cache *c, ftn_model *m, int batch, ftn_engine engine,
                                    ftn_precision precision, const ftn_comm *comm, ftn_session **out)
{
    for (int i = 0; i < N_SESSIONS; i++) {
        if (c->s[i] && ftn_session_batch(c->s[i]) == batch && c->comm[i] == comm) { *out = c->s[i]; return FTN_OK; }
        if (!c->s[i]) {
            FTN_TRY(ftn_session_create_ex(m, batch, engine, precision, &c->s[i]));
            if (i > 0) FTN_TRY(ftn_session_share_memory(c->s[i], c->s[0])); /* they run one at a time */
            if (comm) ftn_session_set_comm(c->s[i], comm);
            c->comm[i] = comm;
            *out = c->s[i];
            return FTN_OK;
        }
    }
    return ftn_fail(FTN_EINTERNAL, "train: too many session sizes");
}

static ftn_status get_session(session_cache *c, ftn_model *m, int batch, ftn_engine engine, ftn_precision precision,
                              ftn_session **out)
{
    return get_group_session(c, m, batch, engine, precision, NULL, out);
}

static void free_sessions(session_cache *c)
{
    for (int i = 0; i < N_SESSIONS; i++) ftn_session_free(c->s[i]);
    memset(c, 0, sizeof *c);
}

/* Validation at model resolution, in batches of the training batch size: the loss and the soft
 * DSC of the last output (ftn_soft_dsc over each batch, the reference's Keras metric), both means
 * over images weighting each batch by its size as Keras' evaluate does, and the mean per-image DSC
 * of the prediction at threshold 0.5 — the spec's checkpoint criterion. Test metrics at the
 * images' original resolution are ftn_evaluate's job. */
static ftn_status validate(session_cache *sc, ftn_model *m, const ftn_train_config *cfg, ftn_loader *loader,
                           const int *ids, int n, float *val_loss, float *val_dsc, float *val_soft_dsc)
{
    ftn_shape in = ftn_model_input_shape(m);
    size_t px = (size_t)in.h * in.w;
    int k = ftn_model_output_count(m) - 1;
    double loss_sum = 0, dsc_sum = 0, soft_sum = 0;
    FTN_TRY(ftn_loader_begin(loader, ids, n, 0, 0)); /* streamed, never augmented */
    for (;;) {
        const float *x, *y;
        int b;
        FTN_TRY(ftn_loader_next(loader, &x, &y, &b));
        if (!b) break;
        ftn_session *s;
        float l;
        FTN_TRY(get_session(sc, m, b, cfg->engine, cfg->precision, &s));
        FTN_TRY(ftn_session_forward(s, x, 0));
        FTN_TRY(ftn_session_loss(s, y, &cfg->loss, &l));
        loss_sum += (double)l * b;
        const float *p = ftn_session_output(s, k, NULL);
        soft_sum += ftn_soft_dsc(p, y, px * (size_t)b) * b;
        for (int j = 0; j < b; j++) dsc_sum += ftn_metrics_compute(p + j * px, y + (size_t)j * px, px, 0.5f).dsc;
    }
    *val_loss = (float)(loss_sum / n);
    *val_dsc = (float)(dsc_sum / n);
    *val_soft_dsc = (float)(soft_sum / n);
    return FTN_OK;
}

static void notify(ftn_progress_fn cb, void *user, ftn_train_progress *p, ftn_train_phase phase)
{
    p->phase = phase;
    if (cb) cb(p, user);
}

/* ---- the run ----------------------------------------------------------------------------------- */

/* The options beyond the paper's (ftn_train_recipe's fields); the optimiser's warm-up and length
 * in updates are the run's to set. */
static ftn_status check_recipe(const ftn_train_config *c)
{
    if (c->warmup_epochs < 0 || c->schedule_epochs < 0)
        return ftn_fail(FTN_EINVAL, "train: warm-up %d and schedule epochs %d must be >= 0", c->warmup_epochs,
                        c->schedule_epochs);
    ftn_optimizer_config o = c->opt;
    o.warmup = 0, o.total_iterations = 1;
    FTN_TRY(ftn_optimizer_check(&o));
    FTN_TRY(ftn_loss_check(&c->loss, 1));
    if (!ftn_augment_is_identity(&c->augment)) FTN_TRY(ftn_augment_check(&c->augment));
    return FTN_OK;
}

static ftn_status check_config(const ftn_train_config *c)
{
    if (!c->data || !c->run_dir || !c->model) return ftn_fail(FTN_EINVAL, "train: data, run folder and model are required");
    if (c->epochs < 1 || c->batch < 1) return ftn_fail(FTN_EINVAL, "train: epochs %d and batch %d must be positive", c->epochs, c->batch);
    if (c->channels != 1 && c->channels != 3) return ftn_fail(FTN_EINVAL, "train: channels %d: expected 1 or 3", c->channels);
    if (!(c->test_split >= 0 && c->test_split < 1) || !(c->val_split >= 0 && c->val_split < 1))
        return ftn_fail(FTN_EINVAL, "train: test split %g and validation split %g must be in [0, 1)", c->test_split, c->val_split);
    if (!(c->opt.lr > 0) || !(c->threshold > 0 && c->threshold < 1))
        return ftn_fail(FTN_EINVAL, "train: learning rate %g must be positive and threshold %g in (0, 1)", c->opt.lr, c->threshold);
    if (c->resume && c->overwrite) return ftn_fail(FTN_EINVAL, "train: resume and overwrite exclude each other");
    if (c->cache_mb < 0 || c->loader_threads < 0 || c->loader_threads > 256)
        return ftn_fail(FTN_EINVAL, "train: cache %d MiB and loader threads %d must be >= 0 (threads at most 256)",
                        c->cache_mb, c->loader_threads);
    if (c->bn_debias && c->bn_recalibrate) /* re-estimation replaces the statistics before every use */
        return ftn_fail(FTN_EINVAL, "train: bn_debias and bn_recalibrate exclude each other");
    if (c->select != FTN_SELECT_DSC && c->select != FTN_SELECT_SOFT_DSC)
        return ftn_fail(FTN_EINVAL, "train: checkpoint criterion %d unknown (FTN_SELECT_DSC or FTN_SELECT_SOFT_DSC)", (int)c->select);
    return check_recipe(c);
}

static ftn_status copy_split(const ftn_split *src, int n, ftn_split *dst)
{
    const int *lists[3] = { src->train, src->val, src->test };
    int counts[3] = { src->n_train, src->n_val, src->n_test };
    int *outs[3];
    for (int l = 0; l < 3; l++) {
        outs[l] = malloc(sizeof(int) * (size_t)(counts[l] ? counts[l] : 1));
        if (!outs[l]) { for (int k = 0; k < l; k++) free(outs[k]); return ftn_fail(FTN_ENOMEM, "train: out of memory"); }
        for (int i = 0; i < counts[l]; i++) {
            if (lists[l][i] < 0 || lists[l][i] >= n) {
                for (int k = 0; k <= l; k++) free(outs[k]);
                return ftn_fail(FTN_EINVAL, "train: split index %d outside the data set's %d samples", lists[l][i], n);
            }
            outs[l][i] = lists[l][i];
        }
    }
    dst->train = outs[0]; dst->val = outs[1]; dst->test = outs[2];
    dst->n_train = counts[0]; dst->n_val = counts[1]; dst->n_test = counts[2];
    return FTN_OK;
}

/* Time spent by this call, for the throughput and the ETA of the progress reports. */
typedef struct run_clock {
    double start, train, other; /* seconds: the call's start, in training steps, in the rest of epochs */
    long images;                /* images trained on */
    int epochs;                 /* epochs finished */
} run_clock;

/* What one ftn_train_run works with (run_free releases it). */
typedef struct run_ctx {
    const ftn_train_config *cfg;
    const char *dir;
    ftn_progress_fn cb;
    void *user;
    ftn_dataset own_ds;       /* the data set when opened here */
    const ftn_dataset *ds;    /* &own_ds or the caller's */
    ftn_split split;
    ftn_model *m;
    session_cache sc;
    ftn_loader *loader;       /* the training, validation and BN batches, streamed */
    int *train_ids;           /* the epoch's data-set indices in visiting order (the loader's) */
    long train_seq;           /* the loader's sequence training began last, */
    int train_epoch, train_next; /* its epoch (0-based) and the step it gives next */
    int b_max;                /* the largest batch */
    int *order;               /* the epoch's visiting order of the training ids */
    ftn_optimizer_config opt; /* cfg->opt with the warm-up and schedule length in updates */
    ftn_run_log log;
    ftn_run_state st;
    ftn_train_progress pr;
    run_clock clock;
    ftn_train_config rec;     /* *cfg as config.json records it (c->cfg points here): with the ids */
    char **excluded;          /* exclude_empty dropped from own_ds */
    int n_excluded;
} run_ctx;

static void run_free(run_ctx *c)
{
    free_sessions(&c->sc);
    ftn_model_free(c->m);
    ftn_loader_free(c->loader);
    free(c->train_ids);
    free(c->order);
    free(c->split.train); free(c->split.val); free(c->split.test);
    ftn_run_log_free(&c->log);
    ftn_dataset_free(&c->own_ds);
    ftn_dataset_ids_free(c->excluded, c->n_excluded);
}

/* The data set (by its absolute path, as config.json records it) and the split. */
static ftn_status open_data(run_ctx *c, char data_abs[PATH_MAX])
{
    const ftn_train_config *cfg = c->cfg;
    if (!realpath(cfg->data, data_abs)) return ftn_fail(FTN_EIO, "%s: %s", cfg->data, strerror(errno));
    if (cfg->dataset) {
        c->ds = cfg->dataset;
    } else { /* skipping bad files decodes every one now, not only its header, before training */
        ftn_dataset_options dopt = { .mask_suffix = cfg->mask_suffix, .skip_bad = cfg->skip_bad, .verify = cfg->skip_bad };
        FTN_TRY(ftn_dataset_open(data_abs, &dopt, &c->own_ds));
        c->ds = &c->own_ds;
        if (cfg->exclude_empty) { /* before the split; config.json lists them */
            FTN_TRY(ftn_dataset_drop_empty(&c->own_ds, &c->n_excluded, &c->excluded));
            c->rec.excluded = (const char *const *)c->excluded;
            c->rec.n_excluded = c->n_excluded;
        }
    }
    if (cfg->split) FTN_TRY(copy_split(cfg->split, c->ds->count, &c->split));
    else {
        int *group, *stratum;
        FTN_TRY(ftn_dataset_split_groups(c->ds, cfg->group_regex, cfg->stratify, &group, &stratum));
        ftn_split_groups g = {group, stratum};
        ftn_status s = ftn_split_make_grouped(c->ds->count, &g, cfg->test_split, cfg->val_split, cfg->seed, &c->split);
        free(group);
        free(stratum);
        FTN_TRY(s);
    }
    if (c->split.n_train < 1) return ftn_fail(FTN_EINVAL, "%s: no training samples", cfg->data);
    return FTN_OK;
}

/* A run with state.json: the same options (but epochs), its last checkpoint and its log. */
static ftn_status resume_run(run_ctx *c, const char *data_abs)
{
    const ftn_train_config *cfg = c->cfg;
    FTN_TRY(ftn_run_state_read(c->dir, &c->st));
    FTN_TRY(ftn_run_config_check(c->dir, cfg, data_abs, c->ds, &c->split));
    /* the committed epoch, whatever point the last process stopped at: its files verified, the
     * user-visible copies made its own, anything uncommitted removed */
    FTN_TRY(ftn_run_tidy(c->dir, &c->st));
    if (c->st.epochs_done > cfg->epochs)
        return ftn_fail(FTN_EINVAL, "%s: the run has %d epochs done, more than the %d asked for", c->dir, c->st.epochs_done,
                        cfg->epochs);
    /* an epoch an interruption saved goes on from its weights; otherwise the last finished one's */
    FTN_TRY(c->st.has_partial ? ftn_run_load_partial(c->dir, &c->st, &c->m) : ftn_run_load_last(c->dir, &c->st, &c->m));
    FTN_TRY(ftn_run_log_resume(c->dir, &c->st, &c->log));
    if (c->st.epochs_done < cfg->epochs) c->st.has_test = 0; /* a longer run is tested again */
    return FTN_OK;
}

/* A new run: a freshly initialised model (or, with `init`, one holding that checkpoint's weights
 * and BN statistics, its optimiser state fresh) and an empty log. */
static ftn_status start_run(run_ctx *c)
{
    const ftn_train_config *cfg = c->cfg;
    FTN_TRY(ftn_model_create(cfg->model, cfg->channels, cfg->height, cfg->width, &c->m));
    ftn_model_set_loss(c->m, &cfg->loss);
    FTN_TRY(ftn_model_init(c->m, cfg->seed));
    if (cfg->init && *cfg->init) {
        ftn_status s = ftn_model_load_weights(c->m, cfg->init);
        if (s != FTN_OK) return ftn_fail_context(s, "the run's initial weights");
    }
    return ftn_run_log_start(c->dir, &c->log);
}

/* The loader of the training and validation batches (streamed: nothing of the data set is held
 * but its decode cache), and the visiting order's buffers. */
static ftn_status load_training_data(run_ctx *c)
{
    const ftn_train_config *cfg = c->cfg;
    const ftn_split *sp = &c->split;
    ftn_shape in = ftn_model_input_shape(c->m);
    size_t px = (size_t)in.h * in.w;
    notify(c->cb, c->user, &c->pr, FTN_PHASE_LOAD);
    int longest = sp->n_train > sp->n_val ? sp->n_train : sp->n_val;
    ftn_loader_config lc = { .channels = in.c, .height = in.h, .width = in.w, .resize = cfg->resize,
                             .batch = cfg->batch < longest ? cfg->batch : longest, .threads = cfg->loader_threads,
                             .cache_bytes = (size_t)cfg->cache_mb << 20, .augment = &cfg->augment, .seed = cfg->seed };
    FTN_TRY(ftn_loader_create(c->ds, &lc, &c->loader));
    c->train_seq = -1;
    /* a training split without one lesion pixel (masks in a value convention not recognised, say)
     * would train an all-background network and report it as a result: the masks are read at
     * network size until one has a lesion pixel (the first, as a rule) */
    size_t lesion = 0;
    FTN_TRY(ftn_loader_begin(c->loader, sp->train, sp->n_train, 0, 0));
    for (;;) {
        const float *x, *y;
        int b;
        FTN_TRY(ftn_loader_next(c->loader, &x, &y, &b));
        if (!b) break;
        for (size_t i = 0, n = px * (size_t)b; i < n && !lesion; i++) lesion += y[i] > 0.5f;
        if (lesion) break;
    }
    if (!lesion)
        return ftn_fail(FTN_EINVAL, "%s: every mask of the training split (%d images) is empty at %dx%d: nothing to "
                        "learn (a mask pixel is lesion above half its format's range, or at 1 in a 0/1 mask)",
                        c->ds->path, sp->n_train, in.h, in.w);
    c->b_max = cfg->batch < sp->n_train ? cfg->batch : sp->n_train;
    c->order = malloc(sizeof(int) * (size_t)sp->n_train);
    c->train_ids = malloc(sizeof(int) * (size_t)sp->n_train);
    if (!c->order || !c->train_ids) return ftn_fail(FTN_ENOMEM, "train: out of memory");
    return FTN_OK;
}

/* The name of the first model tensor with a NaN or infinite value (its value in *v), or NULL. */
static const char *nonfinite_tensor(ftn_model *m, float *v)
{
    for (int i = 0; i < ftn_model_tensor_count(m); i++) {
        int dims[4], nd;
        const float *t = ftn_model_tensor(m, i, dims, &nd);
        size_t n = 1;
        for (int d = 0; d < nd; d++) n *= (size_t)dims[d];
        int bad = 0;
        for (size_t j = 0; j < n; j++) bad |= !isfinite(t[j]);
        if (bad)
            for (size_t j = 0; j < n; j++)
                if (!isfinite(t[j])) { *v = t[j]; return ftn_model_tensor_name(m, i); }
    }
    return NULL;
}

/* Training stops at a non-finite loss or update, before the epoch is saved: RUN keeps the last
 * committed epoch. */
static ftn_status diverged(const run_ctx *c, int e, int step, float v, const char *tensor)
{
    char kept[64], what[160];
    const char *val = isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
    if (c->st.epochs_done) snprintf(kept, sizeof kept, "epoch %d's checkpoint", c->st.epochs_done);
    else snprintf(kept, sizeof kept, "no checkpoint yet");
    if (tensor) snprintf(what, sizeof what, "the gradient is not finite (the update made %s %s)", tensor, val);
    else snprintf(what, sizeof what, "loss is %s", val);
    return ftn_fail(FTN_EINVAL, "epoch %d, step %d: %s; training stopped (%s keeps %s; a smaller learning rate may help)",
                    e + 1, step + 1, what, c->dir, kept);
}

/* The optimiser as this run's updates see it (the warm-up and the schedule's length from epochs
 * to updates). */
static ftn_status setup_recipe(run_ctx *c)
{
    const ftn_train_config *cfg = c->cfg;
    int64_t steps = (c->split.n_train + cfg->batch - 1) / cfg->batch;
    c->opt = cfg->opt;
    c->opt.warmup = (int64_t)cfg->warmup_epochs * steps;
    c->opt.total_iterations = (int64_t)(cfg->schedule_epochs > 0 ? cfg->schedule_epochs : cfg->epochs) * steps;
    return ftn_optimizer_check(&c->opt);
}

/* The batch of step `step` of epoch e's order, from the loader: the epoch's sequence is begun at
 * this step when the loader is elsewhere (the epoch's first step, a run resumed mid-epoch, after
 * validation). Sample j is augmented with its data-set index, so its draws depend on (seed,
 * epoch, sample) only, never on the batch it falls in (a resumed run sees the same). */
static ftn_status fetch_batch(run_ctx *c, int e, int step, int b, const float **x, const float **y)
{
    int n_train = c->split.n_train, got;
    if (ftn_loader_sequence(c->loader) != c->train_seq || c->train_epoch != e || c->train_next != step) {
        for (int i = 0; i < n_train; i++) c->train_ids[i] = c->split.train[c->order[i]];
        FTN_TRY(ftn_loader_begin(c->loader, c->train_ids, n_train, step, e + 1));
        c->train_seq = ftn_loader_sequence(c->loader);
        c->train_epoch = e;
    }
    FTN_TRY(ftn_loader_next(c->loader, x, y, &got));
    c->train_next = step + 1;
    if (got != b) return ftn_fail(FTN_EINTERNAL, "train: epoch %d step %d: the loader gave %d images, not %d", e + 1, step + 1, got, b);
    return FTN_OK;
}

/* A data-parallel run's fetch_batch: this process's part [lo, lo + *n) of the batch of step
 * `step` (b images), *grouped 1 when the group computes it (ftn_dist_batch_part). The parts of
 * the epoch's full batches are one sequence of the loader in batches of *n; a smaller last
 * batch's part is a sequence of its own. */
static ftn_status fetch_part(run_ctx *c, int e, int step, int b, const float **x, const float **y, int *n, int *grouped)
{
    int B = c->cfg->batch, n_full = c->split.n_train / B, lo, got, k = 0;
    *grouped = ftn_dist_batch_part(c->cfg->comm, b, &lo, n);
    if (b < B) {
        for (int i = 0; i < *n; i++) c->train_ids[k++] = c->split.train[c->order[step * B + lo + i]];
        FTN_TRY(ftn_loader_begin_batch(c->loader, c->train_ids, k, 0, e + 1, *n));
        c->train_seq = -1; /* the full batches' sequence is begun again */
    } else if (ftn_loader_sequence(c->loader) != c->train_seq || c->train_epoch != e || c->train_next != step) {
        for (int j = 0; j < n_full; j++)
            for (int i = 0; i < *n; i++) c->train_ids[k++] = c->split.train[c->order[j * B + lo + i]];
        FTN_TRY(ftn_loader_begin_batch(c->loader, c->train_ids, k, step, e + 1, *n));
        c->train_seq = ftn_loader_sequence(c->loader);
        c->train_epoch = e;
    }
    FTN_TRY(ftn_loader_next(c->loader, x, y, &got));
    c->train_next = step + 1;
    if (got != *n)
        return ftn_fail(FTN_EINTERNAL, "train: epoch %d step %d: the loader gave %d images, not %d", e + 1, step + 1, got, *n);
    return FTN_OK;
}

/* One training step on the batch at position i0 of epoch e's order; adds its loss × size to
 * *loss_sum and reports the step. */
static ftn_status train_step(run_ctx *c, int e, int step, int steps, double *loss_sum)
{
    const ftn_train_config *cfg = c->cfg;
    int n_train = c->split.n_train, i0 = step * cfg->batch, b = n_train - i0 < cfg->batch ? n_train - i0 : cfg->batch;
    const float *xb, *yb; /* decoded, resized and augmented by the loader's workers */
    ftn_session *s;
    float l;
    double t0 = now_s();
    int grouped = 0, part;
    if (cfg->comm) { /* this process's part of the batch, in the group's session (or alone) */
        FTN_TRY(fetch_part(c, e, step, b, &xb, &yb, &part, &grouped));
        FTN_TRY(get_group_session(&c->sc, c->m, part, cfg->engine, cfg->precision, grouped ? cfg->comm : NULL, &s));
    } else {
        FTN_TRY(fetch_batch(c, e, step, b, &xb, &yb));
        FTN_TRY(get_session(&c->sc, c->m, b, cfg->engine, cfg->precision, &s));
    }
    if (cfg->bn_debias) /* this step is BN update number iteration + 1 */
        FTN_TRY(ftn_session_set_bn_momentum(s, ftn_bn_debiased_momentum(ftn_model_iteration(c->m) + 1)));
    /* ftn_train_step, with the loss checked before the update and the parameters after it */
    ftn_status ss = ftn_session_forward(s, xb, 1);
    if (!ss) ss = ftn_session_loss(s, yb, &cfg->loss, &l);
    if (!ss && !isfinite(l)) return diverged(c, e, step, l, NULL);
    if (!ss) ss = ftn_session_backward(s);
    if (!ss) ss = ftn_model_step(c->m, &c->opt);
    if (!ss && cfg->comm && !grouped) ss = ftn_dist_broadcast_model(cfg->comm, c->m); /* computed alike by all */
    if (ss) return ftn_fail_context(ss, "epoch %d step %d", e + 1, step + 1);
    float bad_value; /* a NaN gradient shows as a NaN parameter after the update */
    const char *bad = nonfinite_tensor(c->m, &bad_value);
    if (bad) return diverged(c, e, step, bad_value, bad);
    run_clock *t = &c->clock;
    t->train += now_s() - t0;
    t->images += b;
    *loss_sum += (double)l * b;
    double spi = t->train / (double)t->images;
    double other = t->epochs ? t->other / t->epochs : 0;
    c->pr.step = step + 1;
    c->pr.steps = steps;
    c->pr.loss = l;
    c->pr.images_per_s = 1.0 / spi;
    c->pr.eta_s = spi * (double)(n_train - i0 - b) + other + (double)(cfg->epochs - e - 1) * (spi * n_train + other);
    notify(c->cb, c->user, &c->pr, FTN_PHASE_STEP);
    return FTN_OK;
}

/* The training steps of epoch e (0-based) over its shuffled order: the mean training loss. */
/* A stop request (cfg->stop, a caller's signal handler's flag) is read after every step. */
static int stop_requested(const run_ctx *c)
{
    int own = c->cfg->stop && *c->cfg->stop, any = own;
    if (c->cfg->comm && ftn_dist_any(c->cfg->comm, own, &any)) return own; /* processes stop together */
    return any;
}

/* Epoch e stopped after `step` of its `steps` steps: the epoch in progress committed as a unit
 * (ftn_run_commit_partial: the weights, the optimiser state and what the rest of the epoch needs
 * to be bit-identical), then FTN_EINTERRUPTED. */
static ftn_status save_interrupted(run_ctx *c, int e, int step, int steps, double loss_sum, float lr, double t_epoch)
{
    ftn_run_partial *pa = &c->st.partial;
    pa->epoch = e + 1;
    pa->step = step;
    pa->loss_sum = loss_sum;
    pa->lr = lr;
    pa->seconds = now_s() - t_epoch;
    if (ftn_dist_lead(c->cfg->comm)) FTN_TRY(ftn_run_commit_partial(c->dir, c->m, &c->st, c->cfg->seed));
    return ftn_fail(FTN_EINTERRUPTED, "%s: interrupted at epoch %d, step %d of %d (saved)", c->dir, e + 1, step, steps);
}

/* A stop request seen between epochs (e done) or before the test: what was committed stays. */
static ftn_status stopped_between(const run_ctx *c, int e)
{
    if (c->st.has_partial)
        return ftn_fail(FTN_EINTERRUPTED, "%s: interrupted at epoch %d, step %d (saved)", c->dir, c->st.partial.epoch,
                        c->st.partial.step);
    if (e == 0) return ftn_fail(FTN_EINTERRUPTED, "%s: interrupted before epoch 1 (nothing to save)", c->dir);
    return ftn_fail(FTN_EINTERRUPTED, "%s: interrupted after epoch %d of %d (saved)", c->dir, e, c->cfg->epochs);
}

/* The training steps of epoch e (0-based) over its shuffled order: the mean training loss. An
 * epoch an interruption saved (c->st.partial) goes on from its next step with its loss sum; a
 * stop request saves the epoch in progress after the step it comes in. lr and t_epoch: the
 * epoch's first update's rate and its start, for that save. */
static ftn_status train_epoch(run_ctx *c, int e, float lr, double t_epoch, double *train_loss)
{
    int n_train = c->split.n_train, steps = (n_train + c->cfg->batch - 1) / c->cfg->batch;
    for (int i = 0; i < n_train; i++) c->order[i] = i;
    ftn_rng rng;
    ftn_rng_seed(&rng, epoch_seed(c->cfg->seed, e));
    ftn_shuffle(c->order, n_train, &rng);
    double loss_sum = 0;
    int first = 0;
    if (c->st.has_partial) {
        first = c->st.partial.step;
        loss_sum = c->st.partial.loss_sum;
        if (first >= steps)
            return ftn_fail(FTN_EFORMAT, "%s: the interrupted epoch %d has %d steps done of its %d", c->dir, e + 1, first, steps);
    }
    c->pr.epoch = e + 1;
    c->pr.steps = steps;
    for (int step = first; step < steps; step++) {
        FTN_TRY(train_step(c, e, step, steps, &loss_sum));
        if (step + 1 < steps && stop_requested(c)) return save_interrupted(c, e, step + 1, steps, loss_sum, lr, t_epoch);
    }
    *train_loss = loss_sum / n_train;
    return FTN_OK;
}

/* --bn-recalibrate: BN statistics re-estimated over the training images (in the split's order,
 * unaugmented, streamed), in the training step's own sessions: ftn_bn_recalibrate_sessions'
 * arithmetic batch by batch, r = seen/(seen + b)·r + b/(seen + b)·batch, so that after each
 * batch r is the average over all seen. */
static ftn_status recalibrate_bn(run_ctx *c)
{
    const ftn_train_config *cfg = c->cfg;
    ftn_session *full = NULL, *rest = NULL;
    int tail = c->split.n_train % c->b_max;
    FTN_TRY(get_session(&c->sc, c->m, c->b_max, cfg->engine, cfg->precision, &full));
    if (tail) FTN_TRY(get_session(&c->sc, c->m, tail, cfg->engine, cfg->precision, &rest));
    FTN_TRY(ftn_loader_begin(c->loader, c->split.train, c->split.n_train, 0, 0));
    long seen = 0;
    ftn_status st = FTN_OK;
    for (int k = 0; st == FTN_OK; k++) {
        const float *x, *y;
        int b;
        if ((st = ftn_loader_next(c->loader, &x, &y, &b)) || !b) break;
        ftn_session *cur = b == c->b_max ? full : rest;
        st = ftn_session_set_bn_momentum(cur, (float)((double)seen / (double)(seen + b)));
        if (!st) st = ftn_session_forward(cur, x, 1);
        if (st) st = ftn_fail_context(st, "bn recalibrate: batch %d", k + 1);
        seen += b;
    }
    /* training's momentum again (bn_debias, which sets its own every step, excludes this) */
    ftn_session_set_bn_momentum(full, FTN_BN_MOMENTUM);
    if (rest) ftn_session_set_bn_momentum(rest, FTN_BN_MOMENTUM);
    return st;
}

/* The end of epoch e: validation, then the epoch committed as a unit (its checkpoints, the log and
 * state.json, the commit point: ftn_run_commit_epoch), then the epoch's progress report. */
static ftn_status finish_epoch(run_ctx *c, int e, float lr, double train_loss, double t_epoch)
{
    const ftn_train_config *cfg = c->cfg;
    ftn_run_state *st = &c->st;
    double t_val = now_s();
    if (!ftn_dist_lead(cfg->comm)) { /* process 0 validates and writes; the others go on */
        st->epochs_done = e + 1;
        st->has_partial = 0;
        return FTN_OK;
    }
    if (cfg->bn_recalibrate) FTN_TRY(recalibrate_bn(c));
    float vloss = NAN, vdsc = NAN, vsoft = NAN;
    if (c->split.n_val)
        FTN_TRY(validate(&c->sc, c->m, cfg, c->loader, c->split.val, c->split.n_val, &vloss, &vdsc, &vsoft));
    /* best by the criterion (the first epoch, then strictly better); no validation: the last */
    float score = cfg->select == FTN_SELECT_SOFT_DSC ? vsoft : vdsc;
    int best = !c->split.n_val || st->best_epoch == 0 || score > st->best_val_dsc;
    if (best) {
        st->best_epoch = e + 1;
        st->best_val_dsc = score;
    }
    FTN_TRY(ftn_run_log_append(&c->log, e + 1, lr, train_loss, vloss, vdsc, vsoft, now_s() - t_epoch));
    st->epochs_done = e + 1;
    st->iteration = ftn_model_iteration(c->m);
    st->has_test = 0;
    FTN_TRY(ftn_run_commit_epoch(c->dir, c->m, &c->log, st, cfg->seed));
    run_clock *t = &c->clock;
    t->other += now_s() - t_val;
    t->epochs++;
    c->pr.loss = (float)train_loss;
    c->pr.val_loss = vloss;
    c->pr.val_dsc = vdsc;
    c->pr.val_soft_dsc = vsoft;
    c->pr.best = best;
    c->pr.eta_s = (double)(cfg->epochs - e - 1) * (t->train / t->images * c->split.n_train + t->other / t->epochs);
    notify(c->cb, c->user, &c->pr, FTN_PHASE_EPOCH);
    return FTN_OK;
}

/* The epochs left to do. */
static ftn_status train_epochs(run_ctx *c, ftn_train_summary *out)
{
    const ftn_train_config *cfg = c->cfg;
    FTN_TRY(load_training_data(c));
    FTN_TRY(setup_recipe(c));
    c->clock.start = now_s();
    for (int e = c->st.epochs_done; e < cfg->epochs; e++) {
        if (stop_requested(c)) return stopped_between(c, e);
        double t_epoch = now_s(), train_loss = 0;
        float lr = (float)ftn_optimizer_lr(&c->opt, ftn_model_iteration(c->m)); /* the epoch's first update's */
        if (c->st.has_partial) { /* an interrupted epoch: its rate, and its time so far */
            lr = c->st.partial.lr;
            t_epoch -= c->st.partial.seconds;
        }
        FTN_TRY(train_epoch(c, e, lr, t_epoch, &train_loss));
        FTN_TRY(finish_epoch(c, e, lr, train_loss, t_epoch));
    }
    if (stop_requested(c)) return stopped_between(c, cfg->epochs); /* the test left to a resume */
    out->seconds = now_s() - c->clock.start;
    out->n_trained_now = c->clock.epochs;
    free_sessions(&c->sc);
    return FTN_OK;
}

/* The best checkpoint on the test ids at the images' original resolution (at the run's
 * precision, as its validation was), into RUN/test/ and state.json. */
static ftn_status test_best(run_ctx *c)
{
    const ftn_train_config *cfg = c->cfg;
    ftn_model *best;
    ftn_eval_result r;
    notify(c->cb, c->user, &c->pr, FTN_PHASE_TEST);
    FTN_TRY(ftn_run_load_best(c->dir, &c->st, &best));
    ftn_status s = ftn_evaluate(best, c->ds, c->split.test, c->split.n_test, cfg->threshold, cfg->resize, cfg->engine,
                                cfg->precision, cfg->batch, &r);
    ftn_model_free(best);
    FTN_TRY(s);
    s = ftn_run_test_write(c->dir, &r);
    c->st.has_test = 1;
    c->st.n_test = r.n;
    c->st.test_mean = r.mean;
    c->st.test_std = r.std;
    ftn_eval_result_free(&r);
    FTN_TRY(s);
    return ftn_run_state_write(c->dir, &c->st, cfg->seed);
}

/* The run folder opened or made, the data set, the split and the model ready, the run's files
 * written. */
static ftn_status open_run(run_ctx *c)
{
    const ftn_train_config *cfg = c->cfg;
    int resuming;
    FTN_TRY(ftn_run_open(c->dir, cfg->resume, cfg->overwrite, &resuming));
    char data_abs[PATH_MAX];
    FTN_TRY(open_data(c, data_abs));
    FTN_TRY(resuming ? resume_run(c, data_abs) : start_run(c));
    FTN_TRY(ftn_loss_check(&cfg->loss, ftn_model_output_count(c->m))); /* deep-supervision weights: the count */
    FTN_TRY(ftn_run_config_write(c->dir, cfg, data_abs, c->ds, &c->split));
    return ftn_run_provenance_write(c->dir, cfg, resuming, c->st.epochs_done); /* commit and machine */
}

/* A data-parallel run's open_run: process 0 opens the run as one process does; the others open
 * the data set and the split only, then take process 0's state and model. Every process learns
 * whether any failed. */
static ftn_status open_run_group(run_ctx *c)
{
    const ftn_train_config *cfg = c->cfg;
    const ftn_comm *comm = cfg->comm;
    if (comm->size > cfg->batch)
        return ftn_fail(FTN_EINVAL, "train: batch %d over %d processes: every process needs an image of each batch",
                        cfg->batch, comm->size);
    ftn_status s;
    if (ftn_dist_lead(comm)) {
        s = open_run(c);
    } else {
        char data_abs[PATH_MAX];
        c->cb = NULL; /* progress is process 0's to report */
        s = open_data(c, data_abs);
        if (!s) s = ftn_model_create(cfg->model, cfg->channels, cfg->height, cfg->width, &c->m);
        if (!s) ftn_model_set_loss(c->m, &cfg->loss);
        if (!s) s = ftn_loss_check(&cfg->loss, ftn_model_output_count(c->m));
    }
    FTN_TRY(ftn_dist_agree(comm, s));
    FTN_TRY(ftn_dist_broadcast(comm, &c->st, sizeof c->st));
    return ftn_dist_broadcast_model(comm, c->m);
}

static ftn_status run(run_ctx *c, ftn_train_summary *out)
{
    const ftn_train_config *cfg = c->cfg;
    FTN_TRY(check_config(cfg));
    if (cfg->threads > 0) ftn_set_threads(cfg->threads);
    char init_abs[PATH_MAX]; /* config.json records the init checkpoint absolute, as the data set */
    if (cfg->init && *cfg->init) {
        if (!realpath(cfg->init, init_abs)) return ftn_fail(FTN_EIO, "%s: %s", cfg->init, strerror(errno));
        c->rec.init = init_abs;
    }
    c->st.best_val_dsc = NAN;
    if (!cfg->comm) FTN_TRY(open_run(c));
    else FTN_TRY(open_run_group(c));

    out->n_train = c->split.n_train;
    out->n_val = c->split.n_val;
    out->n_test = c->split.n_test;
    c->pr = (ftn_train_progress){ .epochs = cfg->epochs, .val_loss = NAN, .val_dsc = NAN, .val_soft_dsc = NAN,
                                  .select = cfg->select };
    if (c->st.epochs_done < cfg->epochs) FTN_TRY(train_epochs(c, out));
    if (ftn_dist_lead(cfg->comm) && c->split.n_test && (!c->st.has_test || !ftn_run_has_test(c->dir))) {
        FTN_TRY(test_best(c));
        out->tested_now = 1;
    }
    out->epochs_done = c->st.epochs_done;
    out->best_epoch = c->st.best_epoch;
    out->best_val_dsc = c->st.best_val_dsc;
    if (c->st.has_test) {
        out->test_mean = c->st.test_mean;
        out->test_std = c->st.test_std;
        read_test_groups(c->dir, c->st.n_test, out);
    }
    out->n_excluded = cfg->exclude_empty ? cfg->n_excluded : 0;
    return FTN_OK;
}

ftn_status ftn_train_run(const ftn_train_config *cfg, ftn_progress_fn cb, void *user, ftn_train_summary *out)
{
    ftn_train_summary dummy;
    if (!out) out = &dummy;
    memset(out, 0, sizeof *out);
    out->best_val_dsc = NAN;
    run_ctx c;
    memset(&c, 0, sizeof c);
    if (cfg) c.rec = *cfg;
    c.cfg = cfg ? &c.rec : NULL;
    c.dir = cfg ? cfg->run_dir : NULL;
    c.cb = cb;
    c.user = user;
    ftn_status s = run(&c, out);
    run_free(&c);
    return s;
}
