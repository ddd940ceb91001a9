/* RUN/config.json (see run_folder.h): written at a run's start, checked on resume, read by
 * evaluation and the report; and the public, cJSON-free view of it (ftunet_protocol.h, "run
 * folders"), a thin wrapper over those functions. */
#include "protocol/run_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/augment.h"

/* ---- config.json ----------------------------------------------------------------------------- */

double ftn_run_short_float(float f)
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

/* {"id": "class", ...} when any sample has a class label; NULL otherwise. */
static cJSON *labels_json(const ftn_dataset *ds)
{
    int any = 0;
    for (int i = 0; i < ds->count && !any; i++) any = ds->samples[i].label != NULL;
    cJSON *o = any ? cJSON_CreateObject() : NULL;
    for (int i = 0; o && i < ds->count; i++)
        if (ds->samples[i].label) cJSON_AddStringToObject(o, ds->samples[i].id, ds->samples[i].label);
    return o;
}

/* The options beyond the paper's protocol: the recipe, the schedule, Nesterov momentum, weight
 * decay, the loss's term and deep-supervision weights, the augmentation ("ds_weights" []: the
 * spec's, every output 1). A schedule's length ("schedule_epochs", poly and cosine) is recorded
 * apart from "epochs", which a resume may change. */
static void add_recipe_json(cJSON *j, const ftn_train_config *c)
{
    cJSON_AddStringToObject(j, "recipe", c->recipe ? c->recipe : "paper");
    cJSON_AddStringToObject(j, "schedule", ftn_lr_schedule_name(c->opt.schedule));
    cJSON_AddNumberToObject(j, "warmup", c->warmup_epochs);
    if (c->opt.schedule != FTN_LR_INVERSE_TIME) {
        cJSON_AddNumberToObject(j, "schedule_epochs", c->schedule_epochs > 0 ? c->schedule_epochs : c->epochs);
        cJSON_AddNumberToObject(j, "min_lr", ftn_run_short_float(c->opt.min_lr));
    }
    cJSON_AddBoolToObject(j, "nesterov", c->opt.nesterov != 0);
    cJSON_AddNumberToObject(j, "weight_decay", ftn_run_short_float(c->opt.weight_decay));
    if (c->loss.kind == FTN_LOSS_DICE_BCE) {
        cJSON_AddNumberToObject(j, "dice_weight", ftn_run_short_float(c->loss.dice_weight));
        cJSON_AddNumberToObject(j, "bce_weight", ftn_run_short_float(c->loss.bce_weight));
    }
    cJSON *w = cJSON_AddArrayToObject(j, "ds_weights");
    for (int k = 0; w && k < c->loss.n_ds_weights && k < FTN_LOSS_MAX_OUTPUTS; k++)
        cJSON_AddItemToArray(w, cJSON_CreateNumber(ftn_run_short_float(c->loss.ds_weights[k])));
    ftn_augment_config none = ftn_augment_default();
    cJSON *a = ftn_augment_json(ftn_augment_is_identity(&c->augment) ? &none : &c->augment);
    if (a) cJSON_AddItemToObject(j, "augment", a);
}

/* The same keys absent from a run of before they existed, which ran as their defaults do. */
static int recipe_absent_as_default(const cJSON *w)
{
    const char *k = w->string;
    if (!strcmp(k, "recipe")) return cJSON_IsString(w) && !strcmp(w->valuestring, "paper");
    if (!strcmp(k, "schedule")) return cJSON_IsString(w) && !strcmp(w->valuestring, "inverse-time");
    if (!strcmp(k, "warmup") || !strcmp(k, "weight_decay")) return cJSON_IsNumber(w) && w->valuedouble == 0;
    if (!strcmp(k, "nesterov")) return cJSON_IsFalse(w);
    if (!strcmp(k, "ds_weights")) return cJSON_IsArray(w) && cJSON_GetArraySize(w) == 0;
    if (!strcmp(k, "augment")) {
        ftn_augment_config none = ftn_augment_default();
        cJSON *d = ftn_augment_json(&none);
        int same = d && cJSON_Compare(d, w, 1);
        cJSON_Delete(d);
        return same;
    }
    return 0;
}

static cJSON *config_json(const ftn_train_config *c, const char *data_abs, const ftn_dataset *ds, const ftn_split *sp)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", c->model);
    cJSON_AddNumberToObject(j, "channels", c->channels);
    cJSON_AddNumberToObject(j, "height", c->height);
    cJSON_AddNumberToObject(j, "width", c->width);
    cJSON_AddStringToObject(j, "loss", ftn_loss_name(c->loss.kind));
    cJSON_AddNumberToObject(j, "alpha", ftn_run_short_float(c->loss.alpha));
    cJSON_AddNumberToObject(j, "beta", ftn_run_short_float(c->loss.beta));
    cJSON_AddNumberToObject(j, "gamma", ftn_run_short_float(c->loss.gamma));
    cJSON_AddNumberToObject(j, "epochs", c->epochs);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "lr", ftn_run_short_float(c->opt.lr));
    cJSON_AddNumberToObject(j, "momentum", ftn_run_short_float(c->opt.momentum));
    cJSON_AddNumberToObject(j, "decay", ftn_run_short_float(c->opt.decay));
    cJSON_AddStringToObject(j, "optimizer", ftn_optimizer_name(c->opt.kind));
    add_recipe_json(j, c);
    cJSON_AddStringToObject(j, "precision", ftn_precision_name(c->precision));
    cJSON_AddBoolToObject(j, "bn_recalibrate", c->bn_recalibrate != 0);
    cJSON_AddBoolToObject(j, "bn_debias", c->bn_debias != 0);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    cJSON_AddStringToObject(j, "resize", ftn_resize_name(c->resize));
    cJSON_AddNumberToObject(j, "threshold", ftn_run_short_float(c->threshold));
    cJSON_AddStringToObject(j, "select", ftn_select_name(c->select));
    cJSON_AddNumberToObject(j, "test_split", c->test_split);
    cJSON_AddNumberToObject(j, "val_split", c->val_split);
    cJSON_AddBoolToObject(j, "exclude_empty", c->exclude_empty != 0);
    if (c->exclude_empty) { /* the ids dropped before the split, in data set order */
        cJSON *ex = cJSON_AddArrayToObject(j, "excluded");
        for (int i = 0; ex && i < c->n_excluded; i++) cJSON_AddItemToArray(ex, cJSON_CreateString(c->excluded[i]));
    }
    cJSON_AddStringToObject(j, "data", data_abs);
    cJSON_AddStringToObject(j, "mask_suffix", c->mask_suffix ? c->mask_suffix : ""); /* "": none */
    cJSON_AddBoolToObject(j, "skip_bad", c->skip_bad != 0);
    cJSON_AddStringToObject(j, "group_regex", c->group_regex ? c->group_regex : ""); /* "": none */
    cJSON_AddBoolToObject(j, "stratify", c->stratify != 0);
    cJSON_AddNumberToObject(j, "cache_mb", c->cache_mb);             /* the streaming loader's: */
    cJSON_AddNumberToObject(j, "loader_threads", c->loader_threads); /* speed only, not compared */
    /* the engine and its threads: a resume with others is valid but no longer bit-identical to
     * the run uninterrupted (sums in another order), so `--resume RUN` alone takes these */
    cJSON_AddStringToObject(j, "engine", ftn_engine_name(c->engine));
    cJSON_AddNumberToObject(j, "threads", c->threads > 0 ? c->threads : ftn_threads());
    if (c->init && *c->init) { /* the checkpoint the weights started from, and its bytes' CRC-32 */
        uint32_t crc = 0;
        char hex[16] = "unreadable"; /* then it no longer matches what the run recorded */
        if (ftn_checkpoint_crc32(c->init, &crc) == FTN_OK) snprintf(hex, sizeof hex, "%08x", (unsigned)crc);
        cJSON *o = cJSON_AddObjectToObject(j, "init");
        cJSON_AddStringToObject(o, "path", c->init);
        cJSON_AddStringToObject(o, "crc32", hex);
    } else {
        cJSON_AddStringToObject(j, "init", ""); /* "": the seed's initialisation */
    }
    cJSON *labels = labels_json(ds);
    if (labels) cJSON_AddItemToObject(j, "labels", labels);
    cJSON_AddItemToObject(j, "train", ids_json(ds, sp->train, sp->n_train));
    cJSON_AddItemToObject(j, "val", ids_json(ds, sp->val, sp->n_val));
    cJSON_AddItemToObject(j, "test", ids_json(ds, sp->test, sp->n_test));
    return j;
}

ftn_status ftn_run_config_write(const char *run_dir, const ftn_train_config *c, const char *data_abs,
                                const ftn_dataset *ds, const ftn_split *sp)
{
    char p[FTN_PATH_MAX];
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_CONFIG, p, sizeof p));
    cJSON *j = config_json(c, data_abs, ds, sp);
    if (!j) return ftn_fail(FTN_ENOMEM, "train: out of memory");
    ftn_status s = ftn_json_write(p, j);
    cJSON_Delete(j);
    return s;
}

/* A key of the wanted configuration absent from a run of before its option existed, which ran
 * as the option's default does: fp32, picked by DSC, no BN re-estimation or debiasing, no
 * groups or strata in the split, empty masks kept, the seed's initialisation (no "init"). */
static int absent_as_default(const cJSON *w)
{
    if (recipe_absent_as_default(w)) return 1;
    if (!strcmp(w->string, "precision")) return cJSON_IsString(w) && !strcmp(w->valuestring, "fp32");
    if (!strcmp(w->string, "select")) return cJSON_IsString(w) && !strcmp(w->valuestring, "dsc");
    if (!strcmp(w->string, "bn_recalibrate") || !strcmp(w->string, "bn_debias") || !strcmp(w->string, "stratify") ||
        !strcmp(w->string, "exclude_empty"))
        return cJSON_IsFalse(w);
    if (!strcmp(w->string, "group_regex") || !strcmp(w->string, "init")) return cJSON_IsString(w) && !*w->valuestring;
    return 0;
}

/* Every key of `want` except "epochs" (a resume may change it), "skip_bad" (how the data set
 * is read; the split's ids are compared), "cache_mb" and "loader_threads" (how fast batches
 * come, never which), "engine" and "threads" (the same sums in another order) must be in `have` with the same value. */
static ftn_status config_matches(const char *path, const cJSON *have, const cJSON *want)
{
    for (const cJSON *w = want->child; w; w = w->next) {
        if (!strcmp(w->string, "epochs") || !strcmp(w->string, "skip_bad") || !strcmp(w->string, "cache_mb") ||
            !strcmp(w->string, "loader_threads") || !strcmp(w->string, "engine") || !strcmp(w->string, "threads"))
            continue;
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(have, w->string);
        if (!h && absent_as_default(w)) continue;
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

ftn_status ftn_run_config_check(const char *run_dir, const ftn_train_config *c, const char *data_abs,
                                const ftn_dataset *ds, const ftn_split *sp)
{
    char p[FTN_PATH_MAX];
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_CONFIG, p, sizeof p));
    cJSON *want = config_json(c, data_abs, ds, sp), *have;
    if (!want) return ftn_fail(FTN_ENOMEM, "train: out of memory");
    ftn_status s = ftn_json_read(p, FTN_RUN_MAX_JSON, &have);
    if (s == FTN_OK) s = config_matches(p, have, want);
    cJSON_Delete(have);
    cJSON_Delete(want);
    return s;
}

ftn_status ftn_run_config_read(const char *run_dir, cJSON **config)
{
    if (!run_dir || !config) return ftn_fail(FTN_EINVAL, "run config: missing argument");
    *config = NULL;
    char path[FTN_PATH_MAX];
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_CONFIG, path, sizeof path));
    return ftn_json_read(path, FTN_RUN_MAX_JSON, config);
}

const char *ftn_run_config_str(const cJSON *config, const char *key, const char *fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : fallback;
}

double ftn_run_config_num(const cJSON *config, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

ftn_status ftn_run_dataset_open(const char *run_dir, const cJSON *config, ftn_dataset *ds)
{
    const char *data = ftn_run_config_str(config, "data", NULL);
    if (!data || !*data) return ftn_fail(FTN_EFORMAT, "%s/config.json: no \"data\" path", run_dir);
    ftn_dataset_options o = { ftn_run_config_str(config, "mask_suffix", NULL), 0, 0, 0 };
    if (o.mask_suffix && !*o.mask_suffix) o.mask_suffix = NULL;
    char path[FTN_PATH_MAX];
    if (data[0] != '/' && !ftn_path_exists(data)) {
        snprintf(path, sizeof path, "%s/%s", run_dir, data);
        if (ftn_path_exists(path)) data = path;
    }
    return ftn_dataset_open(data, &o, ds);
}

ftn_status ftn_run_split_indices(const cJSON *config, const char *split, const ftn_dataset *ds, int **idx, int *n)
{
    if (!config || !split || !ds || !idx || !n) return ftn_fail(FTN_EINVAL, "run split: missing argument");
    *idx = NULL;
    *n = 0;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(config, split);
    if (!cJSON_IsArray(a)) return ftn_fail(FTN_EFORMAT, "config.json: no \"%s\" array of sample ids", split);
    int cnt = cJSON_GetArraySize(a);
    if (cnt == 0) return ftn_fail(FTN_EFORMAT, "config.json: the \"%s\" split is empty", split);
    int *out = malloc(sizeof(int) * (size_t)cnt);
    if (!out) return ftn_fail(FTN_ENOMEM, "run split: out of memory");
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        char num[32];
        const char *id = cJSON_IsString(e) ? e->valuestring : NULL;
        if (!id && cJSON_IsNumber(e)) { /* numeric ids (the .npy layout's indices) */
            snprintf(num, sizeof num, "%05d", e->valueint);
            id = num;
        }
        int found = -1;
        for (int i = 0; id && i < ds->count && found < 0; i++)
            if (!strcmp(ds->samples[i].id, id)) found = i;
        if (found < 0) {
            free(out);
            return ftn_fail(FTN_EFORMAT, "config.json: %s id '%s' is not a sample of %s", split, id ? id : "(not a string)",
                            ds->path);
        }
        out[k++] = found;
    }
    *idx = out;
    *n = k;
    return FTN_OK;
}

/* ---- the public view: ftn_run_config ------------------------------------------------------- */

struct ftn_run_config {
    cJSON *json;
};

ftn_status ftn_run_config_load(const char *run_dir, ftn_run_config **out)
{
    if (!out) return ftn_fail(FTN_EINVAL, "run config: missing argument");
    *out = NULL;
    ftn_run_config *c = malloc(sizeof *c);
    if (!c) return ftn_fail(FTN_ENOMEM, "run config: out of memory");
    ftn_status s = ftn_run_config_read(run_dir, &c->json);
    if (s != FTN_OK) {
        free(c);
        return s;
    }
    *out = c;
    return FTN_OK;
}

void ftn_run_config_free(ftn_run_config *c)
{
    if (!c) return;
    cJSON_Delete(c->json);
    free(c);
}

const char *ftn_run_config_string(const ftn_run_config *c, const char *key, const char *fallback)
{
    return c ? ftn_run_config_str(c->json, key, fallback) : fallback;
}

double ftn_run_config_number(const ftn_run_config *c, const char *key, double fallback)
{
    return c ? ftn_run_config_num(c->json, key, fallback) : fallback;
}

ftn_status ftn_run_config_dataset(const char *run_dir, const ftn_run_config *c, ftn_dataset *ds)
{
    if (!c) return ftn_fail(FTN_EINVAL, "run config: missing argument");
    return ftn_run_dataset_open(run_dir, c->json, ds);
}

/* A string key's value parsed by parse(), or left as it is when absent. */
#define CONFIG_ENUM(key, parse, field)                                                                               \
    do {                                                                                                             \
        const char *v_ = ftn_run_config_str(j, key, NULL);                                                          \
        if (v_ && parse(v_, field)) return ftn_fail(FTN_EFORMAT, "%s: \"" key "\": '%s' unknown", what, v_);        \
    } while (0)

ftn_status ftn_run_config_train(const ftn_run_config *c, ftn_train_config *out)
{
    if (!c || !out) return ftn_fail(FTN_EINVAL, "run config: missing argument");
    const cJSON *j = c->json;
    const char *what = "config.json";
    ftn_train_config t = ftn_train_default();
    t.data = ftn_run_config_str(j, "data", NULL);
    if (!t.data || !*t.data) return ftn_fail(FTN_EFORMAT, "%s: no \"data\" path", what);
    t.model = ftn_run_config_str(j, "model", t.model);
    t.channels = (int)ftn_run_config_num(j, "channels", t.channels);
    t.height = (int)ftn_run_config_num(j, "height", t.height);
    t.width = (int)ftn_run_config_num(j, "width", t.width);
    ftn_loss_kind kind = t.loss.kind;
    CONFIG_ENUM("loss", ftn_loss_parse, &kind);
    t.loss = ftn_loss_default(kind);
    t.loss.alpha = (float)ftn_run_config_num(j, "alpha", t.loss.alpha);
    t.loss.beta = (float)ftn_run_config_num(j, "beta", t.loss.beta);
    t.loss.gamma = (float)ftn_run_config_num(j, "gamma", t.loss.gamma);
    t.loss.dice_weight = (float)ftn_run_config_num(j, "dice_weight", t.loss.dice_weight);
    t.loss.bce_weight = (float)ftn_run_config_num(j, "bce_weight", t.loss.bce_weight);
    const cJSON *dw = cJSON_GetObjectItemCaseSensitive(j, "ds_weights"), *w;
    if (dw && (!cJSON_IsArray(dw) || cJSON_GetArraySize(dw) > FTN_LOSS_MAX_OUTPUTS))
        return ftn_fail(FTN_EFORMAT, "%s: \"ds_weights\": expected at most %d numbers", what, FTN_LOSS_MAX_OUTPUTS);
    cJSON_ArrayForEach(w, dw)
    {
        if (!cJSON_IsNumber(w)) return ftn_fail(FTN_EFORMAT, "%s: \"ds_weights\": expected numbers", what);
        t.loss.ds_weights[t.loss.n_ds_weights++] = (float)w->valuedouble;
    }
    t.epochs = (int)ftn_run_config_num(j, "epochs", t.epochs);
    t.batch = (int)ftn_run_config_num(j, "batch", t.batch);
    ftn_optimizer_kind okind = t.opt.kind;
    CONFIG_ENUM("optimizer", ftn_optimizer_parse, &okind);
    t.opt = ftn_optimizer_default(okind); /* Adam's β and ε are not options: the optimiser's own */
    t.opt.lr = (float)ftn_run_config_num(j, "lr", t.opt.lr);
    t.opt.momentum = (float)ftn_run_config_num(j, "momentum", t.opt.momentum);
    t.opt.decay = (float)ftn_run_config_num(j, "decay", t.opt.decay);
    t.recipe = ftn_run_config_str(j, "recipe", NULL);
    CONFIG_ENUM("schedule", ftn_lr_schedule_parse, &t.opt.schedule);
    t.warmup_epochs = (int)ftn_run_config_num(j, "warmup", 0);
    t.schedule_epochs = (int)ftn_run_config_num(j, "schedule_epochs", 0); /* kept: a longer run does not stretch it */
    t.opt.min_lr = (float)ftn_run_config_num(j, "min_lr", t.opt.min_lr);
    t.opt.nesterov = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "nesterov"));
    t.opt.weight_decay = (float)ftn_run_config_num(j, "weight_decay", t.opt.weight_decay);
    const cJSON *aug = cJSON_GetObjectItemCaseSensitive(j, "augment");
    if (aug && ftn_augment_from_cjson(aug, &t.augment)) return ftn_fail_context(FTN_EFORMAT, "%s: \"augment\"", what);
    CONFIG_ENUM("precision", ftn_precision_parse, &t.precision);
    t.bn_recalibrate = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "bn_recalibrate"));
    t.bn_debias = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "bn_debias"));
    t.seed = (uint64_t)ftn_run_config_num(j, "seed", (double)t.seed);
    CONFIG_ENUM("resize", ftn_resize_parse, &t.resize);
    t.threshold = (float)ftn_run_config_num(j, "threshold", t.threshold);
    CONFIG_ENUM("select", ftn_select_parse, &t.select);
    t.test_split = ftn_run_config_num(j, "test_split", t.test_split);
    t.val_split = ftn_run_config_num(j, "val_split", t.val_split);
    t.exclude_empty = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "exclude_empty"));
    t.mask_suffix = ftn_run_config_str(j, "mask_suffix", NULL);
    if (t.mask_suffix && !*t.mask_suffix) t.mask_suffix = NULL;
    t.skip_bad = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "skip_bad"));
    t.group_regex = ftn_run_config_str(j, "group_regex", NULL);
    if (t.group_regex && !*t.group_regex) t.group_regex = NULL;
    t.stratify = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stratify"));
    t.init = ftn_run_config_str(cJSON_GetObjectItemCaseSensitive(j, "init"), "path", NULL);
    t.cache_mb = (int)ftn_run_config_num(j, "cache_mb", t.cache_mb);
    t.loader_threads = (int)ftn_run_config_num(j, "loader_threads", t.loader_threads);
    const char *engine = ftn_run_config_str(j, "engine", NULL); /* absent before 2026-12: as now */
    if (engine && strcmp(engine, ftn_engine_name(FTN_ENGINE_DNNL)) && strcmp(engine, ftn_engine_name(FTN_ENGINE_REF)))
        return ftn_fail(FTN_EFORMAT, "%s: \"engine\": '%s' unknown", what, engine);
    if (engine) t.engine = strcmp(engine, ftn_engine_name(FTN_ENGINE_REF)) ? FTN_ENGINE_DNNL : FTN_ENGINE_REF;
    t.threads = (int)ftn_run_config_num(j, "threads", 0);
    *out = t;
    return FTN_OK;
}

ftn_status ftn_run_config_split(const ftn_run_config *c, const char *split, const ftn_dataset *ds, int **idx, int *n)
{
    if (!c) return ftn_fail(FTN_EINVAL, "run split: missing argument");
    return ftn_run_split_indices(c->json, split, ds, idx, n);
}
