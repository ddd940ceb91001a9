/* The paper's training protocol as a resumable run folder (see train.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "protocol/train.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "io/atomic_file.h"
#include "protocol/evaluate.h"
#include "report/report.h"

#define PATH_LEN 4096
#define MAX_JSON (64u << 20)

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

static const char *join(char *buf, const char *dir, const char *file)
{
    snprintf(buf, PATH_LEN, "%s/%s", dir, file);
    return buf;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static ftn_status mkdir_p(const char *dir)
{
    char p[PATH_LEN];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return ftn_fail(FTN_EINVAL, "%s: path too long", dir);
    for (char *c = p + 1; ; c++) {
        if (*c == '/' || !*c) {
            char saved = *c;
            *c = 0;
            if (mkdir(p, 0777) && errno != EEXIST) return ftn_fail(FTN_EIO, "%s: %s", p, strerror(errno));
            *c = saved;
            if (!saved) break;
        }
    }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return ftn_fail(FTN_EIO, "%s: not a folder", dir);
    return FTN_OK;
}

static ftn_status write_json(const char *path, const cJSON *j)
{
    char *text = cJSON_Print(j);
    if (!text) return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    const void *chunks[2] = { text, "\n" };
    size_t sizes[2] = { strlen(text), 1 };
    ftn_status s = ftn_write_file_atomic(path, chunks, sizes, 2);
    free(text);
    return s;
}

static ftn_status read_json(const char *path, cJSON **out)
{
    uint8_t *data;
    size_t size;
    FTN_TRY(ftn_read_file(path, MAX_JSON, &data, &size));
    *out = cJSON_ParseWithLength((const char *)data, size);
    free(data);
    if (!*out || !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        return ftn_fail(FTN_EFORMAT, "%s: not a JSON object", path);
    }
    return FTN_OK;
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

/* The shortest decimal that reads back as the same float, so config.json shows 0.01, not
 * 0.00999999977648258. */
static double short_float(float f)
{
    char buf[32];
    for (int prec = 6; prec < 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if ((float)strtod(buf, NULL) == f) return strtod(buf, NULL);
    }
    snprintf(buf, sizeof buf, "%.9g", (double)f);
    return strtod(buf, NULL);
}

static cJSON *ids_json(const ftn_dataset *ds, const int *idx, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(ds->samples[idx[i]].id));
    return a;
}

static cJSON *config_json(const ftn_train_config *c, const char *data_abs, const ftn_dataset *ds, const ftn_split *sp)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", c->model);
    cJSON_AddNumberToObject(j, "channels", c->channels);
    cJSON_AddNumberToObject(j, "height", c->height);
    cJSON_AddNumberToObject(j, "width", c->width);
    cJSON_AddStringToObject(j, "loss", ftn_loss_name(c->loss.kind));
    cJSON_AddNumberToObject(j, "alpha", short_float(c->loss.alpha));
    cJSON_AddNumberToObject(j, "beta", short_float(c->loss.beta));
    cJSON_AddNumberToObject(j, "gamma", short_float(c->loss.gamma));
    cJSON_AddNumberToObject(j, "epochs", c->epochs);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "lr", short_float(c->opt.lr));
    cJSON_AddNumberToObject(j, "momentum", short_float(c->opt.momentum));
    cJSON_AddNumberToObject(j, "decay", short_float(c->opt.decay));
    cJSON_AddStringToObject(j, "optimizer", c->opt.kind == FTN_OPT_ADAM ? "adam" : "sgd");
    cJSON_AddStringToObject(j, "precision", ftn_precision_name(c->precision));
    cJSON_AddBoolToObject(j, "bn_recalibrate", c->bn_recalibrate != 0);
    cJSON_AddBoolToObject(j, "bn_debias", c->bn_debias != 0);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    cJSON_AddStringToObject(j, "resize", ftn_resize_name(c->resize));
    cJSON_AddNumberToObject(j, "threshold", short_float(c->threshold));
    cJSON_AddStringToObject(j, "select", ftn_select_name(c->select));
    cJSON_AddNumberToObject(j, "test_split", c->test_split);
    cJSON_AddNumberToObject(j, "val_split", c->val_split);
    cJSON_AddStringToObject(j, "data", data_abs);
    cJSON_AddStringToObject(j, "mask_suffix", c->mask_suffix ? c->mask_suffix : ""); /* "": none */
    cJSON_AddItemToObject(j, "train", ids_json(ds, sp->train, sp->n_train));
    cJSON_AddItemToObject(j, "val", ids_json(ds, sp->val, sp->n_val));
    cJSON_AddItemToObject(j, "test", ids_json(ds, sp->test, sp->n_test));
    return j;
}

/* Every key of `want` except "epochs" must be in `have` with the same value. */
static ftn_status config_matches(const char *path, const cJSON *have, const cJSON *want)
{
    for (const cJSON *w = want->child; w; w = w->next) {
        if (!strcmp(w->string, "epochs")) continue;
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(have, w->string);
        /* runs from before the precision, select, bn_recalibrate and bn_debias options were fp32,
           picked by DSC, without the others */
        if (!h && !strcmp(w->string, "precision") && cJSON_IsString(w) && !strcmp(w->valuestring, "fp32")) continue;
        if (!h && !strcmp(w->string, "select") && cJSON_IsString(w) && !strcmp(w->valuestring, "dsc")) continue;
        if (!h && (!strcmp(w->string, "bn_recalibrate") || !strcmp(w->string, "bn_debias")) && cJSON_IsFalse(w)) continue;
        if (!h || !cJSON_Compare(h, w, 1)) {
            char *hv = h ? cJSON_PrintUnformatted(h) : NULL;
            int is_split = cJSON_IsArray(w);
            ftn_status s = ftn_fail(FTN_EINVAL, "%s: cannot resume: %s differs from the run's (%s%s); resume with the run's options",
                                    path, w->string, is_split ? "the split of " : "",
                                    is_split ? "the data set" : (hv ? hv : "missing"));
            free(hv);
            return s;
        }
    }
    return FTN_OK;
}

static const char *const run_files[] = {
    "state.json", "config.json", "log.csv", "best.safetensors", "last.safetensors", "last.optim.safetensors",
    "test/metrics.csv", "test/summary.json",
};
#define N_RUN_FILES (int)(sizeof run_files / sizeof run_files[0])

static ftn_status remove_run_files(const char *dir)
{
    char p[PATH_LEN];
    for (int i = 0; i < N_RUN_FILES; i++)
        if (unlink(join(p, dir, run_files[i])) && errno != ENOENT)
            return ftn_fail(FTN_EIO, "%s: cannot remove: %s", p, strerror(errno));
    return FTN_OK;
}

static cJSON *metrics_json(const ftn_metrics *m)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "dsc", m->dsc);
    cJSON_AddNumberToObject(j, "precision", m->precision);
    cJSON_AddNumberToObject(j, "recall", m->recall);
    cJSON_AddNumberToObject(j, "iou", m->iou);
    return j;
}

static void metrics_from_json(const cJSON *j, ftn_metrics *m)
{
    memset(m, 0, sizeof *m);
    const cJSON *x;
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "dsc")) && cJSON_IsNumber(x)) m->dsc = x->valuedouble;
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "precision")) && cJSON_IsNumber(x)) m->precision = x->valuedouble;
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "recall")) && cJSON_IsNumber(x)) m->recall = x->valuedouble;
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "iou")) && cJSON_IsNumber(x)) m->iou = x->valuedouble;
}

typedef struct run_state {
    int epochs_done, best_epoch;
    float best_val_dsc;
    int64_t iteration;
    int has_test;
    int n_test;
    ftn_metrics test_mean, test_std;
} run_state;

static ftn_status write_state(const char *dir, const run_state *st, uint64_t seed)
{
    char p[PATH_LEN];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "epochs_done", st->epochs_done);
    cJSON_AddNumberToObject(j, "best_epoch", st->best_epoch);
    if (isnan(st->best_val_dsc)) cJSON_AddNullToObject(j, "best_val_dsc");
    else cJSON_AddNumberToObject(j, "best_val_dsc", st->best_val_dsc);
    cJSON_AddNumberToObject(j, "iteration", (double)st->iteration);
    cJSON *sh = cJSON_AddObjectToObject(j, "shuffle");
    cJSON_AddNumberToObject(sh, "seed", (double)seed);
    cJSON_AddStringToObject(sh, "scheme",
                            "epoch e (0-based) visits the training ids (config.json order) in the order of a "
                            "Fisher-Yates shuffle seeded from (seed, e); no running generator state");
    if (st->has_test) {
        cJSON *t = cJSON_AddObjectToObject(j, "test");
        cJSON_AddNumberToObject(t, "n", st->n_test);
        cJSON_AddItemToObject(t, "mean", metrics_json(&st->test_mean));
        cJSON_AddItemToObject(t, "std", metrics_json(&st->test_std));
    }
    ftn_status s = j ? write_json(join(p, dir, "state.json"), j) : ftn_fail(FTN_ENOMEM, "%s: out of memory", dir);
    cJSON_Delete(j);
    return s;
}

static ftn_status read_state(const char *dir, run_state *st)
{
    char p[PATH_LEN];
    cJSON *j;
    FTN_TRY(read_json(join(p, dir, "state.json"), &j));
    memset(st, 0, sizeof *st);
    const cJSON *ed = cJSON_GetObjectItemCaseSensitive(j, "epochs_done"),
                *be = cJSON_GetObjectItemCaseSensitive(j, "best_epoch"),
                *bd = cJSON_GetObjectItemCaseSensitive(j, "best_val_dsc"),
                *it = cJSON_GetObjectItemCaseSensitive(j, "iteration"),
                *t = cJSON_GetObjectItemCaseSensitive(j, "test");
    ftn_status s = FTN_OK;
    if (!cJSON_IsNumber(ed) || !cJSON_IsNumber(be) || !cJSON_IsNumber(it) || ed->valuedouble < 0)
        s = ftn_fail(FTN_EFORMAT, "%s: epochs_done, best_epoch or iteration missing", p);
    else {
        st->epochs_done = ed->valueint;
        st->best_epoch = be->valueint;
        st->best_val_dsc = cJSON_IsNumber(bd) ? (float)bd->valuedouble : NAN;
        st->iteration = (int64_t)it->valuedouble;
        if (cJSON_IsObject(t)) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "n");
            st->has_test = 1;
            st->n_test = cJSON_IsNumber(n) ? n->valueint : 0;
            metrics_from_json(cJSON_GetObjectItemCaseSensitive(t, "mean"), &st->test_mean);
            metrics_from_json(cJSON_GetObjectItemCaseSensitive(t, "std"), &st->test_std);
        }
    }
    cJSON_Delete(j);
    return s;
}

ftn_status ftn_train_read_summary(const char *run_dir, ftn_train_summary *out)
{
    run_state st;
    memset(out, 0, sizeof *out);
    FTN_TRY(read_state(run_dir, &st));
    if (!st.has_test) return ftn_fail(FTN_EIO, "%s: the run has no test results yet", run_dir);
    out->epochs_done = st.epochs_done;
    out->best_epoch = st.best_epoch;
    out->best_val_dsc = st.best_val_dsc;
    out->n_test = st.n_test;
    out->test_mean = st.test_mean;
    out->test_std = st.test_std;
    return FTN_OK;
}

/* log.csv kept in memory and rewritten atomically after every epoch. */
typedef struct text { char *s; size_t len, cap; } text;

static int text_add(text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *p = realloc(t->s, cap);
        if (!p) return -1;
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = 0;
    return 0;
}

#define LOG_HEADER "epoch,lr,train_loss,val_loss,val_dsc,val_soft_dsc,seconds\n"
#define LOG_HEADER_V1 "epoch,lr,train_loss,val_loss,val_dsc,seconds\n" /* before val_soft_dsc */

/* The header and the first `lines` epoch lines of an existing log. */
static ftn_status read_log(const char *path, int lines, text *t)
{
    uint8_t *data;
    size_t size;
    FTN_TRY(ftn_read_file(path, MAX_JSON, &data, &size));
    const char *p = (const char *)data, *end = p + size;
    int n = -1; /* the header is line -1 */
    ftn_status s = FTN_OK;
    while (p < end && n < lines) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;
        if (text_add(t, p, (size_t)(nl - p + 1))) { s = ftn_fail(FTN_ENOMEM, "%s: out of memory", path); break; }
        p = nl + 1;
        n++;
    }
    if (s == FTN_OK && n < lines) s = ftn_fail(FTN_EFORMAT, "%s: %d epoch lines, state.json says %d", path, n < 0 ? 0 : n, lines);
    free(data);
    return s;
}

static ftn_status write_text(const char *path, const text *t)
{
    const void *chunks[1] = { t->s };
    size_t sizes[1] = { t->len };
    return ftn_write_file_atomic(path, chunks, sizes, 1);
}

/* Sessions by batch size (the full batch, the training remainder, the validation sizes), sharing
 * one working memory. */
typedef struct session_cache { ftn_session *s[4]; } session_cache;

static ftn_status get_session(session_cache *c, ftn_model *m, int batch, ftn_engine engine, ftn_precision precision,
                              ftn_session **out)
{
    for (int i = 0; i < 4; i++) {
        if (c->s[i] && ftn_session_batch(c->s[i]) == batch) { *out = c->s[i]; return FTN_OK; }
        if (!c->s[i]) {
            FTN_TRY(ftn_session_create_ex(m, batch, engine, precision, &c->s[i]));
            if (i > 0) FTN_TRY(ftn_session_share_memory(c->s[i], c->s[0])); /* they run one at a time */
            *out = c->s[i];
            return FTN_OK;
        }
    }
    return ftn_fail(FTN_EINTERNAL, "train: too many session sizes");
}

static void free_sessions(session_cache *c)
{
    for (int i = 0; i < 4; i++) ftn_session_free(c->s[i]);
    memset(c, 0, sizeof *c);
}

/* Validation at model resolution, in batches of the training batch size: the loss and the soft
 * DSC of the last output (ftn_soft_dsc over each batch, the reference's Keras metric), both means
 * over images weighting each batch by its size as Keras' evaluate does, and the mean per-image DSC
 * of the prediction at threshold 0.5 — the spec's checkpoint criterion. Test metrics at the
 * images' original resolution are ftn_evaluate's job. */
static ftn_status validate(session_cache *sc, ftn_model *m, const ftn_train_config *cfg, const float *x, const float *y,
                           int n, float *val_loss, float *val_dsc, float *val_soft_dsc)
{
    ftn_shape in = ftn_model_input_shape(m);
    size_t img = (size_t)in.c * in.h * in.w, px = (size_t)in.h * in.w;
    int k = ftn_model_output_count(m) - 1;
    double loss_sum = 0, dsc_sum = 0, soft_sum = 0;
    for (int i0 = 0; i0 < n; i0 += cfg->batch) {
        int b = n - i0 < cfg->batch ? n - i0 : cfg->batch;
        ftn_session *s;
        float l;
        FTN_TRY(get_session(sc, m, b, cfg->engine, cfg->precision, &s));
        FTN_TRY(ftn_session_forward(s, x + (size_t)i0 * img, 0));
        FTN_TRY(ftn_session_loss(s, y + (size_t)i0 * px, &cfg->loss, &l));
        loss_sum += (double)l * b;
        const float *p = ftn_session_output(s, k, NULL);
        soft_sum += ftn_soft_dsc(p, y + (size_t)i0 * px, px * (size_t)b) * b;
        for (int j = 0; j < b; j++) dsc_sum += ftn_metrics_compute(p + j * px, y + (size_t)(i0 + j) * px, px, 0.5f).dsc;
    }
    *val_loss = (float)(loss_sum / n);
    *val_dsc = (float)(dsc_sum / n);
    *val_soft_dsc = (float)(soft_sum / n);
    return FTN_OK;
}

static void report(ftn_progress_fn cb, void *user, ftn_train_progress *p, ftn_train_phase phase)
{
    p->phase = phase;
    if (cb) cb(p, user);
}

/* ---- the run ----------------------------------------------------------------------------------- */

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
    if (c->bn_debias && c->bn_recalibrate) /* re-estimation replaces the statistics before every use */
        return ftn_fail(FTN_EINVAL, "train: bn_debias and bn_recalibrate exclude each other");
    if (c->select != FTN_SELECT_DSC && c->select != FTN_SELECT_SOFT_DSC)
        return ftn_fail(FTN_EINVAL, "train: checkpoint criterion %d unknown (FTN_SELECT_DSC or FTN_SELECT_SOFT_DSC)", (int)c->select);
    return FTN_OK;
}

typedef struct run_ctx {
    ftn_dataset ds;
    ftn_split split;
    ftn_model *m;
    session_cache sc;
    float *xt, *yt, *xv, *yv, *xb, *yb;
    int *order;
    cJSON *config;
    text log;
    int log_v1; /* the resumed run's log.csv has no val_soft_dsc column: keep it so */
} run_ctx;

static void ctx_free(run_ctx *c)
{
    free_sessions(&c->sc);
    ftn_model_free(c->m);
    free(c->xt); free(c->yt); free(c->xv); free(c->yv); free(c->xb); free(c->yb);
    free(c->order);
    free(c->split.train); free(c->split.val); free(c->split.test);
    cJSON_Delete(c->config);
    free(c->log.s);
    ftn_dataset_free(&c->ds);
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

static ftn_status run(const ftn_train_config *cfg, ftn_progress_fn cb, void *user, ftn_train_summary *out, run_ctx *c)
{
    const char *dir = cfg->run_dir;
    char p[PATH_LEN], p2[PATH_LEN];
    FTN_TRY(check_config(cfg));
    if (cfg->threads > 0) ftn_set_threads(cfg->threads);

    /* the run folder: new, resumed or replaced — never silently overwritten */
    FTN_TRY(mkdir_p(dir));
    int has_state = exists(join(p, dir, "state.json")), has_any = 0;
    for (int i = 0; i < N_RUN_FILES; i++) has_any |= exists(join(p, dir, run_files[i]));
    if (has_any && !cfg->resume && !cfg->overwrite)
        return ftn_fail(FTN_EINVAL, "%s: a run already exists there (use --overwrite to replace it or --resume to continue it)", dir);
    int resuming = cfg->resume && has_state;
    if (!resuming) FTN_TRY(remove_run_files(dir));

    /* data and split */
    char data_abs[PATH_MAX];
    if (!realpath(cfg->data, data_abs)) return ftn_fail(FTN_EIO, "%s: %s", cfg->data, strerror(errno));
    ftn_dataset_options dopt = { .mask_suffix = cfg->mask_suffix, .skip_bad = cfg->skip_bad };
    FTN_TRY(ftn_dataset_open(data_abs, &dopt, &c->ds));
    if (cfg->split) FTN_TRY(copy_split(cfg->split, c->ds.count, &c->split));
    else FTN_TRY(ftn_split_make(c->ds.count, cfg->test_split, cfg->val_split, cfg->seed, &c->split));
    const ftn_split *sp = &c->split;
    if (sp->n_train < 1) return ftn_fail(FTN_EINVAL, "%s: no training samples", cfg->data);
    c->config = config_json(cfg, data_abs, &c->ds, sp);
    if (!c->config) return ftn_fail(FTN_ENOMEM, "train: out of memory");

    run_state st = { .best_val_dsc = NAN };
    if (resuming) {
        cJSON *have;
        FTN_TRY(read_state(dir, &st));
        FTN_TRY(read_json(join(p, dir, "config.json"), &have));
        ftn_status s = config_matches(p, have, c->config);
        cJSON_Delete(have);
        FTN_TRY(s);
        if (st.epochs_done > cfg->epochs)
            return ftn_fail(FTN_EINVAL, "%s: the run has %d epochs done, more than the %d asked for", dir, st.epochs_done, cfg->epochs);
        FTN_TRY(ftn_model_load(join(p, dir, "last.safetensors"), &c->m));
        FTN_TRY(ftn_optimizer_load(c->m, join(p, dir, "last.optim.safetensors")));
        if (ftn_model_iteration(c->m) != st.iteration)
            return ftn_fail(FTN_EFORMAT, "%s: last.optim.safetensors is at iteration %lld, state.json at %lld "
                            "(interrupted while saving an epoch?); cannot resume exactly",
                            dir, (long long)ftn_model_iteration(c->m), (long long)st.iteration);
        FTN_TRY(read_log(join(p, dir, "log.csv"), st.epochs_done, &c->log));
        c->log_v1 = c->log.len >= strlen(LOG_HEADER_V1) && !memcmp(c->log.s, LOG_HEADER_V1, strlen(LOG_HEADER_V1));
        if (st.epochs_done < cfg->epochs) st.has_test = 0;
    } else {
        FTN_TRY(ftn_model_create(cfg->model, cfg->channels, cfg->height, cfg->width, &c->m));
        ftn_model_set_loss(c->m, &cfg->loss);
        FTN_TRY(ftn_model_init(c->m, cfg->seed));
        if (text_add(&c->log, LOG_HEADER, strlen(LOG_HEADER))) return ftn_fail(FTN_ENOMEM, "train: out of memory");
        FTN_TRY(write_text(join(p, dir, "log.csv"), &c->log));
    }
    FTN_TRY(write_json(join(p, dir, "config.json"), c->config));

    out->n_train = sp->n_train;
    out->n_val = sp->n_val;
    out->n_test = sp->n_test;
    ftn_train_progress pr = { .epochs = cfg->epochs, .val_loss = NAN, .val_dsc = NAN, .val_soft_dsc = NAN,
                              .select = cfg->select };

    if (st.epochs_done < cfg->epochs) {
        ftn_shape in = ftn_model_input_shape(c->m);
        size_t img = (size_t)in.c * in.h * in.w, px = (size_t)in.h * in.w;
        report(cb, user, &pr, FTN_PHASE_LOAD);
        FTN_TRY(ftn_dataset_load_subset(&c->ds, sp->train, sp->n_train, in.c, in.h, in.w, cfg->resize, &c->xt, &c->yt, NULL));
        if (sp->n_val)
            FTN_TRY(ftn_dataset_load_subset(&c->ds, sp->val, sp->n_val, in.c, in.h, in.w, cfg->resize, &c->xv, &c->yv, NULL));
        int b_max = cfg->batch < sp->n_train ? cfg->batch : sp->n_train;
        c->xb = malloc(sizeof(float) * img * (size_t)b_max);
        c->yb = malloc(sizeof(float) * px * (size_t)b_max);
        c->order = malloc(sizeof(int) * (size_t)sp->n_train);
        if (!c->xb || !c->yb || !c->order) return ftn_fail(FTN_ENOMEM, "train: out of memory");

        int steps = (sp->n_train + cfg->batch - 1) / cfg->batch;
        double t_train = 0, t_other = 0, t_start = now_s();
        long imgs_done = 0;
        int epochs_now = 0;
        for (int e = st.epochs_done; e < cfg->epochs; e++) {
            double t_epoch = now_s();
            float lr = cfg->opt.lr / (1.0f + cfg->opt.decay * (float)ftn_model_iteration(c->m));
            for (int i = 0; i < sp->n_train; i++) c->order[i] = i;
            ftn_rng rng;
            ftn_rng_seed(&rng, epoch_seed(cfg->seed, e));
            ftn_shuffle(c->order, sp->n_train, &rng);
            double loss_sum = 0;
            pr.epoch = e + 1;
            pr.steps = steps;
            for (int step = 0; step < steps; step++) {
                int i0 = step * cfg->batch, b = sp->n_train - i0 < cfg->batch ? sp->n_train - i0 : cfg->batch;
                for (int j = 0; j < b; j++) {
                    memcpy(c->xb + j * img, c->xt + (size_t)c->order[i0 + j] * img, img * sizeof(float));
                    memcpy(c->yb + j * px, c->yt + (size_t)c->order[i0 + j] * px, px * sizeof(float));
                }
                ftn_session *s;
                float l;
                double t0 = now_s();
                FTN_TRY(get_session(&c->sc, c->m, b, cfg->engine, cfg->precision, &s));
                if (cfg->bn_debias) /* this step is BN update number iteration + 1 */
                    FTN_TRY(ftn_session_set_bn_momentum(s, ftn_bn_debiased_momentum(ftn_model_iteration(c->m) + 1)));
                ftn_status ss = ftn_train_step(s, c->xb, c->yb, &cfg->loss, &cfg->opt, &l);
                if (ss) return ftn_fail_context(ss, "epoch %d step %d", e + 1, step + 1);
                t_train += now_s() - t0;
                imgs_done += b;
                loss_sum += (double)l * b;
                double spi = t_train / (double)imgs_done;
                double other = epochs_now ? t_other / epochs_now : 0;
                pr.step = step + 1;
                pr.loss = l;
                pr.images_per_s = 1.0 / spi;
                pr.eta_s = spi * (double)(sp->n_train - i0 - b) + other +
                           (double)(cfg->epochs - e - 1) * (spi * sp->n_train + other);
                report(cb, user, &pr, FTN_PHASE_STEP);
            }
            double t_val = now_s();
            if (cfg->bn_recalibrate) { /* over the training images, in the training step's own sessions */
                ftn_session *full = NULL, *rest = NULL;
                int tail = sp->n_train % b_max;
                FTN_TRY(get_session(&c->sc, c->m, b_max, cfg->engine, cfg->precision, &full));
                if (tail) FTN_TRY(get_session(&c->sc, c->m, tail, cfg->engine, cfg->precision, &rest));
                FTN_TRY(ftn_bn_recalibrate_sessions(full, rest, c->xt, sp->n_train));
            }
            float vloss = NAN, vdsc = NAN, vsoft = NAN;
            if (sp->n_val) FTN_TRY(validate(&c->sc, c->m, cfg, c->xv, c->yv, sp->n_val, &vloss, &vdsc, &vsoft));
            /* best by the criterion (the first epoch, then strictly better); no validation: the last */
            float score = cfg->select == FTN_SELECT_SOFT_DSC ? vsoft : vdsc;
            int best = !sp->n_val || st.best_epoch == 0 || score > st.best_val_dsc;
            if (best) {
                st.best_epoch = e + 1;
                st.best_val_dsc = score;
                FTN_TRY(ftn_model_save(c->m, join(p, dir, "best.safetensors")));
            }
            FTN_TRY(ftn_model_save(c->m, join(p, dir, "last.safetensors")));
            FTN_TRY(ftn_optimizer_save(c->m, join(p, dir, "last.optim.safetensors")));
            char line[256];
            double secs = now_s() - t_epoch;
            int len = c->log_v1 ? snprintf(line, sizeof line, "%d,%.9g,%.6f,%.6f,%.6f,%.3f\n", e + 1, short_float(lr),
                                           loss_sum / sp->n_train, vloss, vdsc, secs)
                                : snprintf(line, sizeof line, "%d,%.9g,%.6f,%.6f,%.6f,%.6f,%.3f\n", e + 1, short_float(lr),
                                           loss_sum / sp->n_train, vloss, vdsc, vsoft, secs);
            if (text_add(&c->log, line, (size_t)len)) return ftn_fail(FTN_ENOMEM, "train: out of memory");
            FTN_TRY(write_text(join(p, dir, "log.csv"), &c->log));
            st.epochs_done = e + 1;
            st.iteration = ftn_model_iteration(c->m);
            st.has_test = 0;
            FTN_TRY(write_state(dir, &st, cfg->seed)); /* the epoch's commit point */
            t_other += now_s() - t_val;
            epochs_now++;
            pr.loss = (float)(loss_sum / sp->n_train);
            pr.val_loss = vloss;
            pr.val_dsc = vdsc;
            pr.val_soft_dsc = vsoft;
            pr.best = best;
            pr.eta_s = (double)(cfg->epochs - e - 1) * (t_train / imgs_done * sp->n_train + t_other / epochs_now);
            report(cb, user, &pr, FTN_PHASE_EPOCH);
        }
        out->seconds = now_s() - t_start;
        out->n_trained_now = epochs_now;
        free_sessions(&c->sc);
    }

    /* test: the best checkpoint at the images' original resolution */
    join(p2, dir, "test/summary.json");
    if (sp->n_test && (!st.has_test || !exists(p2))) {
        report(cb, user, &pr, FTN_PHASE_TEST);
        ftn_model *best;
        ftn_eval_result r;
        FTN_TRY(ftn_model_load(join(p, dir, "best.safetensors"), &best));
        /* at the run's precision, as its validation was */
        ftn_status s = ftn_evaluate(best, &c->ds, sp->test, sp->n_test, cfg->threshold, cfg->resize, cfg->engine,
                                    cfg->precision, cfg->batch, &r);
        ftn_model_free(best);
        FTN_TRY(s);
        s = mkdir_p(join(p, dir, "test"));
        if (s == FTN_OK) s = ftn_eval_write(&r, join(p, dir, "test/metrics.csv"), p2);
        st.has_test = 1;
        st.n_test = r.n;
        st.test_mean = r.mean;
        st.test_std = r.std;
        ftn_eval_result_free(&r);
        FTN_TRY(s);
        FTN_TRY(write_state(dir, &st, cfg->seed));
        FTN_TRY(ftn_report_write(dir, cfg->engine));
    }
    out->epochs_done = st.epochs_done;
    out->best_epoch = st.best_epoch;
    out->best_val_dsc = st.best_val_dsc;
    if (st.has_test) {
        out->test_mean = st.test_mean;
        out->test_std = st.test_std;
    }
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
    ftn_status s = run(cfg, cb, user, out, &c);
    ctx_free(&c);
    return s;
}
